/*
 * test_log.c: the fields each entry carries, levels, the per-connection
 * budget and payload escaping, through log.c's sink seam.
 */
#include <sys/stat.h>
#include <sys/uio.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

#define MAXF	16

/* The last entry the sink saw, and how many there were. */
static struct {
	int	count;
	int	prio;
	char	fields[MAXF][512];
	size_t	n;
} seen;

static void
capture(int prio, const struct iovec *iov, size_t n, void *arg)
{
	size_t	i;

	seen.count++;
	seen.prio = prio;
	seen.n = n < MAXF ? n : MAXF;
	for (i = 0; i < seen.n; i++)
		snprintf(seen.fields[i], sizeof(seen.fields[i]), "%.*s",
		    (int)iov[i].iov_len, (const char *)iov[i].iov_base);
}

/* The value of NAME= in the last entry, or NULL. */
static const char *
field(const char *name)
{
	size_t	i, len = strlen(name);

	for (i = 0; i < seen.n; i++)
		if (strncmp(seen.fields[i], name, len) == 0 &&
		    seen.fields[i][len] == '=')
			return seen.fields[i] + len + 1;
	return NULL;
}

static int
setup(void **state)
{
	memset(&seen, 0, sizeof(seen));
	log_init(LOG_TARGET_STDERR, LOG_INFO);
	log_set_sink(capture, NULL);
	log_conn_setrate(100);
	return 0;
}

static int
teardown(void **state)
{
	log_set_sink(NULL, NULL);
	return 0;
}

static void
test_entry_fields(void **state)
{
	struct log_field f[] = {
		{ "ECHOD_SESSION", "7" }, { "ECHOD_LISTENER", "echo" },
		{ "ECHOD_REMOTE_ADDR", "127.0.0.1" },
		{ "ECHOD_REMOTE_PORT", "53422" }
	};

	log_entry(LOG_INFO, LOG_MSGID_OPEN, f, 4, "connection from %s on %s",
	    "127.0.0.1:53422", "echo");
	assert_int_equal(seen.count, 1);
	assert_int_equal(seen.prio, LOG_INFO);
	assert_string_equal(field("MESSAGE"),
	    "connection from 127.0.0.1:53422 on echo");
	assert_string_equal(field("PRIORITY"), "6");
	assert_string_equal(field("SYSLOG_IDENTIFIER"), "echod");
	assert_string_equal(field("MESSAGE_ID"), LOG_MSGID_OPEN);
	assert_string_equal(field("ECHOD_SESSION"), "7");
	assert_string_equal(field("ECHOD_LISTENER"), "echo");
	assert_string_equal(field("ECHOD_REMOTE_ADDR"), "127.0.0.1");
	assert_string_equal(field("ECHOD_REMOTE_PORT"), "53422");
}

static void
test_plain_has_no_message_id(void **state)
{
	log_info("hello %d", 42);
	assert_int_equal(seen.count, 1);
	assert_string_equal(field("MESSAGE"), "hello 42");
	assert_null(field("MESSAGE_ID"));
}

static void
test_levels_filter(void **state)
{
	log_debug("hidden");
	assert_int_equal(seen.count, 0);
	log_setlevel(LOG_DEBUG);
	log_debug("shown");
	assert_int_equal(seen.count, 1);
	assert_int_equal(seen.prio, LOG_DEBUG);
	log_setlevel(LOG_ERR);
	log_warnx("hidden too");
	assert_int_equal(seen.count, 1);
}

static void
test_warn_appends_errno_and_keeps_it(void **state)
{
	errno = ECONNRESET;
	log_warn("write to %s", "peer");
	assert_int_equal(errno, ECONNRESET);
	assert_int_equal(seen.prio, LOG_WARNING);
	assert_string_equal(field("MESSAGE"), "write to peer: "
	    "Connection reset by peer");
	errno = EPIPE;
	log_warnx("plain");
	assert_string_equal(field("MESSAGE"), "plain");
	assert_int_equal(errno, EPIPE);
}

static void
test_level_names(void **state)
{
	assert_int_equal(log_level_parse("debug"), LOG_DEBUG);
	assert_int_equal(log_level_parse("info"), LOG_INFO);
	assert_int_equal(log_level_parse("notice"), LOG_NOTICE);
	assert_int_equal(log_level_parse("warning"), LOG_WARNING);
	assert_int_equal(log_level_parse("error"), LOG_ERR);
	assert_int_equal(log_level_parse("emergency"), -1);
	assert_int_equal(log_level_parse("INFO"), -1);
	assert_string_equal(log_level_name(LOG_WARNING), "warning");
}

static void
test_target_parse(void **state)
{
	enum log_target	t;

	assert_int_equal(log_target_parse("journal", &t), 0);
	assert_int_equal(t, LOG_TARGET_JOURNAL);
	assert_int_equal(log_target_parse("stderr", &t), 0);
	assert_int_equal(t, LOG_TARGET_STDERR);
	assert_int_equal(log_target_parse("auto", &t), 0);
	assert_int_equal(t, LOG_TARGET_AUTO);
	assert_int_equal(log_target_parse("syslog", &t), -1);
}

static void
test_budget_then_summary(void **state)
{
	int	i, allowed = 0;

	log_conn_setrate(10);
	/* Within one second: 10 allowed, the rest counted. */
	for (i = 0; i < 30; i++)
		allowed += log_conn_permit(i % 2 == 0);
	/* A second boundary may fall inside the loop; never more than 2x. */
	assert_true(allowed >= 10 && allowed <= 20);
	seen.count = 0;
	log_conn_tick();
	assert_int_equal(seen.count, 1);
	assert_string_equal(field("MESSAGE_ID"), LOG_MSGID_SUPPRESSED);
	assert_non_null(strstr(field("MESSAGE"),
	    "per-connection entries suppressed"));
	/* Nothing suppressed since: no summary. */
	log_conn_tick();
	assert_int_equal(seen.count, 1);
}

static void
test_escape(void **state)
{
	char		out[LOG_PAYLOAD_MAX * 4 + 1];
	unsigned char	big[200];

	assert_string_equal(log_escape(out, sizeof(out), "ab\r\n\0c", 6),
	    "ab\\x0d\\x0a\\x00c");
	assert_string_equal(log_escape(out, sizeof(out), "a\\b", 3),
	    "a\\x5cb");
	memset(big, 'x', sizeof(big));
	log_escape(out, sizeof(out), big, sizeof(big));
	assert_int_equal(strlen(out), LOG_PAYLOAD_MAX);
	/* Too small a buffer is cut, never overrun. */
	assert_string_equal(log_escape(out, 8, "\x01\x02\x03", 3), "\\x01");
}

static void
test_journal_stream_detection(void **state)
{
	char		buf[64];
	struct stat	st;

	/* stderr is the journal's stream only if device and inode match. */
	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	snprintf(buf, sizeof(buf), "%llu:%llu", (unsigned long long)st.st_dev,
	    (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", buf, 1);
	log_init(LOG_TARGET_AUTO, LOG_INFO);
	assert_true(log_is_journal());
	snprintf(buf, sizeof(buf), "%llu:%llu", (unsigned long long)st.st_dev,
	    (unsigned long long)st.st_ino + 1);
	setenv("JOURNAL_STREAM", buf, 1);
	log_init(LOG_TARGET_AUTO, LOG_INFO);
	assert_false(log_is_journal());
	unsetenv("JOURNAL_STREAM");
	log_init(LOG_TARGET_AUTO, LOG_INFO);
	assert_false(log_is_journal());
	log_init(LOG_TARGET_JOURNAL, LOG_INFO);
	assert_true(log_is_journal());
	log_init(LOG_TARGET_STDERR, LOG_INFO);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_entry_fields, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_plain_has_no_message_id,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_levels_filter, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_warn_appends_errno_and_keeps_it, setup, teardown),
		cmocka_unit_test_setup_teardown(test_level_names, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_target_parse, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_budget_then_summary,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_escape, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_stream_detection,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
