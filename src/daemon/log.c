/*
 * log.c: echod's log, to the journal or to stderr.
 *
 * Every entry is assembled once as journal fields (MESSAGE=, PRIORITY=,
 * SYSLOG_IDENTIFIER=, MESSAGE_ID=, ECHOD_*=) and handed to one sink: the
 * journal (sd_journal_sendv), stderr ("LEVEL: message"), or a test's
 * capture function.  So the fields the journal gets are exactly the ones
 * the unit tests see.
 */
#include <sys/stat.h>
#include <sys/uio.h>

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
/* removed */
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <systemd/sd-journal.h>

#include "log.h"

#define LOG_MSG_MAX	2048
#define LOG_FIELDS_MAX	16

static const char *const log_levels[] = {
	[LOG_EMERG] = "emergency", [LOG_ALERT] = "alert",
	[LOG_CRIT] = "critical", [LOG_ERR] = "error",
	[LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
	[LOG_INFO] = "info", [LOG_DEBUG] = "debug"
};

static struct {
	atomic_int	 level;		/* set on reload, read by workers */
	bool		 journal;
	log_sink_fn	 sink;		/* a test's, or NULL */
	void		*sink_arg;
	/* The per-connection budget; sessions on any worker ask. */
	atomic_uint	 rate;
	atomic_long	 second;	/* the second the counts below are for */
	atomic_uint	 spent;		/* entries written in that second */
	atomic_uint	 opened;	/* suppressed open entries */
	atomic_uint	 closed;	/* suppressed close entries */
} log_state = { .level = LOG_INFO, .rate = 100 };

static void	log_vwrite(int, const char *, const struct log_field *, size_t,
		    const char *, va_list)
		    __attribute__((__format__(printf, 5, 0)));

/* Parse --log-target. */
int
log_target_parse(const char *s, enum log_target *target)
{
	if (strcmp(s, "auto") == 0)
		*target = LOG_TARGET_AUTO;
	else if (strcmp(s, "journal") == 0)
		*target = LOG_TARGET_JOURNAL;
	else if (strcmp(s, "stderr") == 0)
		*target = LOG_TARGET_STDERR;
	else
		return (-1);
	return (0);
}

/* Whether stderr is the journal's stream: systemd.exec(5) $JOURNAL_STREAM. */
static bool
log_stderr_is_journal(void)
{
	const char		*env;
	struct stat		 st;
	unsigned long long	 dev, ino;

	if ((env = getenv("JOURNAL_STREAM")) == NULL)
		return (false);
	if (sscanf(env, "%llu:%llu", &dev, &ino) != 2)
		return (false);
	if (fstat(STDERR_FILENO, &st) == -1)
		return (false);
	return (st.st_dev == dev && st.st_ino == ino);
}

/* Choose the backend and the level. */
void
log_init(enum log_target target, int level)
{
	switch (target) {
	case LOG_TARGET_AUTO:
		log_state.journal = log_stderr_is_journal();
		break;
	case LOG_TARGET_JOURNAL:
		log_state.journal = true;
		break;
	case LOG_TARGET_STDERR:
		log_state.journal = false;
		break;
	}
	atomic_store_explicit(&log_state.level, level, memory_order_relaxed);
}

/* Whether entries go to the journal. */
bool
log_is_journal(void)
{
	return (log_state.journal);
}

/* Change the level (log_level on reload, -v). */
void
log_setlevel(int level)
{
	atomic_store_explicit(&log_state.level, level, memory_order_relaxed);
}

/* The current level. */
int
log_getlevel(void)
{
	return (atomic_load_explicit(&log_state.level, memory_order_relaxed));
}

/* "info" to LOG_INFO; -1 for a name echod.conf does not accept. */
int
log_level_parse(const char *s)
{
	int	i;

	for (i = LOG_ERR; i <= LOG_DEBUG; i++)
		if (strcmp(s, log_levels[i]) == 0)
			return (i);
	return (-1);
}

/* LOG_INFO to "info". */
const char *
log_level_name(int level)
{
	if (level < LOG_EMERG || level > LOG_DEBUG)
		return ("unknown");
	return (log_levels[level]);
}

/* Replace the backend; NULL restores the chosen one. */
void
log_set_sink(log_sink_fn fn, void *arg)
{
	log_state.sink = fn;
	log_state.sink_arg = arg;
}

/* Add "NAME=value" to iov; the strings live in buf. */
static void
log_field_add(struct iovec *iov, size_t *n, char *buf, size_t *used,
    size_t len, const char *name, const char *value)
{
	int	r;

	if (*n >= LOG_FIELDS_MAX || *used >= len)
		return;
	r = snprintf(buf + *used, len - *used, "%s=%s", name, value);
	if (r < 0)
		return;
	if ((size_t)r >= len - *used)
		r = (int)(len - *used - 1);
	iov[*n].iov_base = buf + *used;
	iov[*n].iov_len = (size_t)r;
	(*n)++;
	*used += (size_t)r + 1;
}

/* The stderr backend: "LEVEL: message", one line. */
static void
log_stderr(int prio, const struct iovec *iov, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (iov[i].iov_len < 8 ||
		    memcmp(iov[i].iov_base, "MESSAGE=", 8) != 0)
			continue;
		fprintf(stderr, "%s: %.*s\n", log_level_name(prio),
		    (int)iov[i].iov_len - 8, (char *)iov[i].iov_base + 8);
		break;
	}
}

/* Build the fields of one entry and hand them to the sink. */
static void
log_vwrite(int prio, const char *msgid, const struct log_field *fields,
    size_t nfields, const char *fmt, va_list ap)
{
	char		 msg[LOG_MSG_MAX], buf[LOG_MSG_MAX * 2], num[16];
	struct iovec	 iov[LOG_FIELDS_MAX];
	size_t		 n = 0, used = 0, i;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	snprintf(num, sizeof(num), "%d", prio);
	log_field_add(iov, &n, buf, &used, sizeof(buf), "MESSAGE", msg);
	log_field_add(iov, &n, buf, &used, sizeof(buf), "PRIORITY", num);
	log_field_add(iov, &n, buf, &used, sizeof(buf), "SYSLOG_IDENTIFIER",
	    "echod");
	if (msgid != NULL)
		log_field_add(iov, &n, buf, &used, sizeof(buf), "MESSAGE_ID",
		    msgid);
	for (i = 0; i < nfields; i++)
		log_field_add(iov, &n, buf, &used, sizeof(buf),
		    fields[i].name, fields[i].value);

	if (log_state.sink != NULL)
		log_state.sink(prio, iov, n, log_state.sink_arg);
	else if (log_state.journal)
		sd_journal_sendv(iov, (int)n);
	else
		log_stderr(prio, iov, n);
}

/* One entry with a MESSAGE_ID and fields (echod(8), JOURNAL ENTRIES). */
void
log_entry(int prio, const char *msgid, const struct log_field *fields,
    size_t nfields, const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	if (prio > log_getlevel())
		return;
	va_start(ap, fmt);
	log_vwrite(prio, msgid, fields, nfields, fmt, ap);
	va_end(ap);
	errno = saved;
}

/* A plain entry at prio. */
static void
log_vplain(int prio, const char *fmt, va_list ap)
{
	int	saved = errno;

	if (prio <= log_getlevel())
		log_vwrite(prio, NULL, NULL, 0, fmt, ap);
	errno = saved;
}

/* A warning with strerror(errno) appended. */
void
log_warn(const char *fmt, ...)
{
	char	buf[LOG_MSG_MAX];
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_warnx("%s: %s", buf, strerror(saved));
	errno = saved;
}

/* A warning. */
void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vplain(LOG_WARNING, fmt, ap);
	va_end(ap);
}

/* A notice: normal but significant. */
void
log_notice(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vplain(LOG_NOTICE, fmt, ap);
	va_end(ap);
}

/* Information. */
void
log_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vplain(LOG_INFO, fmt, ap);
	va_end(ap);
}

/* Debugging detail. */
void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vplain(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

/*
 * An error with strerror(errno) before serving; exits with EXIT_NOSERVE,
 * so that systemd may try again (only EXIT_CONFIG stops it).
 */
void
fatal(const char *fmt, ...)
{
	char	buf[LOG_MSG_MAX];
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_entry(LOG_ERR, NULL, NULL, 0, "%s: %s", buf, strerror(saved));
	exit(EXIT_NOSERVE);
}

/* An error before serving; exits with EXIT_NOSERVE. */
void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vplain(LOG_ERR, fmt, ap);
	va_end(ap);
	exit(EXIT_NOSERVE);
}

/* Set log_rate: per-connection entries allowed each second. */
void
log_conn_setrate(unsigned int rate)
{
	atomic_store(&log_state.rate, rate);
}

/* The second the budget is counted in. */
static long
log_conn_second(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return ((long)ts.tv_sec);
}

/*
 * May a per-connection entry be written now?  A flood of connections would
 * otherwise hit journald's own rate limit, which drops entries silently and
 * for every service alike; past our budget the entry is only counted.
 */
bool
log_conn_permit(bool opened)
{
	long	sec = log_conn_second();
	long	cur = atomic_load(&log_state.second);

	if (sec != cur &&
	    atomic_compare_exchange_strong(&log_state.second, &cur, sec))
		atomic_store(&log_state.spent, 0);
	if (atomic_fetch_add(&log_state.spent, 1) < atomic_load(&log_state.rate))
		return (true);
	atomic_fetch_add(opened ? &log_state.opened : &log_state.closed, 1);
	return (false);
}

/* Once a second: one summary for the entries the budget suppressed. */
void
log_conn_tick(void)
{
	unsigned int	opened, closed;

	opened = atomic_exchange(&log_state.opened, 0);
	closed = atomic_exchange(&log_state.closed, 0);
	if (opened == 0 && closed == 0)
		return;
	log_entry(LOG_NOTICE, LOG_MSGID_SUPPRESSED, NULL, 0,
	    "%u sessions opened and %u closed in the last second; "
	    "per-connection entries suppressed", opened, closed);
}

/* Client bytes made safe for a log line: \xNN, cut to LOG_PAYLOAD_MAX. */
char *
log_escape(char *dst, size_t dstlen, const void *src, size_t len)
{
	const unsigned char	*p = src;
	size_t			 i, o = 0;

	if (dstlen == 0)
		return (dst);
	if (len > LOG_PAYLOAD_MAX)
		len = LOG_PAYLOAD_MAX;
	for (i = 0; i < len && o + 5 < dstlen; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
			dst[o++] = (char)p[i];
		else
			o += (size_t)snprintf(dst + o, dstlen - o, "\\x%02x",
			    p[i]);
	}
	dst[o] = '\0';
	return (dst);
}

/* libevent's own warnings, at the matching priority. */
static void
log_libevent_cb(int severity, const char *msg)
{
	switch (severity) {
	case EVENT_LOG_DEBUG:
		log_debug("libevent: %s", msg);
		break;
	case EVENT_LOG_MSG:
		log_info("libevent: %s", msg);
		break;
	case EVENT_LOG_WARN:
		log_warnx("libevent: %s", msg);
		break;
	default:
		log_entry(LOG_ERR, NULL, NULL, 0, "libevent: %s", msg);
		break;
	}
}

/* libevent's fatal errors end the process; say so first. */
static void
log_libevent_fatal(int err)
{
	log_entry(LOG_CRIT, NULL, NULL, 0, "libevent fatal error %d", err);
	abort();
}

/* Route libevent's messages into this log. */
void
log_libevent(void)
{
	event_set_log_callback(log_libevent_cb);
	event_set_fatal_callback(log_libevent_fatal);
}
