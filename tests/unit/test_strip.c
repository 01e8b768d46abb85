/*
 * test_strip.c: the strip rules, on whole messages and on streams.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "strip.h"

/* Fixed, so that a failure can be replayed. */
#define TEST_SEED	0x5eed1234u

/* A small deterministic generator, the same on every libc. */
static uint32_t
test_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return (*s);
}

/* A new set, failing the test if it cannot be made. */
static struct strip_set *
test_set(void)
{
	struct strip_set	*set;

	set = strip_set_new();
	assert_non_null(set);
	return (set);
}

/* Add a bytes rule that must be accepted. */
static void
test_bytes(struct strip_set *set, size_t n)
{
	const char	*cause = NULL;

	assert_int_equal(strip_add_bytes(set, n, &cause), 0);
}

/* Add a prefix rule of len bytes that must be accepted. */
static void
test_prefix(struct strip_set *set, const void *text, size_t len)
{
	const char	*cause = NULL;

	assert_int_equal(strip_add_prefix(set, text, len, &cause), 0);
}

/* Add a regex rule that must compile. */
static void
test_regex(struct strip_set *set, const char *ere)
{
	char	 buf[256];

	assert_int_equal(strip_add_regex(set, ere, buf, sizeof(buf)), 0);
}

/* Try to add a regex to a set of its own; its result, the reason in buf. */
static int
test_regex_error(const char *ere, char *buf, size_t len)
{
	struct strip_set	*set = test_set();
	int			 rc;

	buf[0] = '\0';
	rc = strip_add_regex(set, ere, buf, len);
	strip_set_free(set);
	return (rc);
}

/* strip_message() on a C string. */
static size_t
test_strip_str(const struct strip_set *set, const char *msg)
{
	return (strip_message(set, msg, strlen(msg)));
}

/* A set with one regex, applied to a C string. */
static size_t
test_regex_str(const char *ere, const char *msg)
{
	struct strip_set	*set = test_set();
	size_t			 n;

	test_regex(set, ere);
	n = test_strip_str(set, msg);
	strip_set_free(set);
	return (n);
}

/* bytes = N removes N bytes: the tutorial's 1234567 -> 34567. */
static void
test_rule_bytes(void **state)
{
	struct strip_set	*set = test_set();

	test_bytes(set, 2);
	assert_int_equal(test_strip_str(set, "1234567"), 2);
	assert_int_equal(test_strip_str(set, "a"), 1);
	assert_int_equal(test_strip_str(set, ""), 0);
	strip_set_free(set);

	/* Shorter than N: all of it. */
	set = test_set();
	test_bytes(set, 5);
	assert_int_equal(test_strip_str(set, "abc"), 3);
	strip_set_free(set);
}

/* prefix removes its text only when the message starts with it. */
static void
test_rule_prefix(void **state)
{
	struct strip_set	*set = test_set();

	test_prefix(set, "GET ", 4);
	assert_int_equal(test_strip_str(set, "GET /index"), 4);
	assert_int_equal(test_strip_str(set, "GET "), 4);
	assert_int_equal(test_strip_str(set, "PUT /index"), 0);
	assert_int_equal(test_strip_str(set, " GET /index"), 0);
	/* Longer than the message. */
	assert_int_equal(test_strip_str(set, "GET"), 0);
	assert_int_equal(test_strip_str(set, ""), 0);
	strip_set_free(set);
}

/* A regex applies when its leftmost match starts at offset 0. */
static void
test_rule_regex(void **state)
{
	assert_int_equal(test_regex_str("[0-9]+:", "123:abc"), 4);
	assert_int_equal(test_regex_str("[0-9]+", "ab12"), 0);
	assert_int_equal(test_regex_str("b", "abc"), 0);
	/* Leftmost-longest at 0. */
	assert_int_equal(test_regex_str("a|ab|abc", "abcd"), 3);
	assert_int_equal(test_regex_str("x|ab", "ab"), 2);
	/* The empty match removes nothing. */
	assert_int_equal(test_regex_str("x*", "abc"), 0);
	assert_int_equal(test_regex_str("a*", "aab"), 2);
	assert_int_equal(test_regex_str("a*", ""), 0);
	assert_int_equal(test_regex_str("$", ""), 0);
	/* An anchor written by the user, with an unanchored alternative. */
	assert_int_equal(test_regex_str("^a|b", "b"), 1);
	assert_int_equal(test_regex_str("^a|b", "cb"), 0);
	/* glibc's ordinary unmatched ')' keeps its meaning. */
	assert_int_equal(test_regex_str("a)|b", "b"), 1);
	assert_int_equal(test_regex_str("a)|b", "a)c"), 2);
	assert_int_equal(test_regex_str("[)]x", ")xy"), 2);
	assert_int_equal(test_regex_str("[[:digit:]]+", "42a"), 2);
}

/* POSIX leftmost-longest, not Perl's leftmost-first. */
static void
test_regex_longest(void **state)
{
	assert_int_equal(test_regex_str("a|ab", "abc"), 2);
	assert_int_equal(test_regex_str("(a|ab)(c|bcd)", "abcd"), 4);
	assert_int_equal(test_regex_str("(a*)(ab)*b", "aabb"), 4);
	assert_int_equal(test_regex_str("x*|y", "y"), 1);
}

/* Anchored at the start: a match later in the line removes nothing. */
static void
test_regex_anchored(void **state)
{
	struct strip_set	*set = test_set();
	size_t			 len = 64u * 1024;
	char			*msg;

	assert_int_equal(test_regex_str("b+", "abbb"), 0);
	assert_int_equal(test_regex_str("b|a", "cab"), 0);
	/* ^ and $ only at the ends of the message, not around a newline. */
	assert_int_equal(test_regex_str("a$", "a\nb"), 0);
	assert_int_equal(test_regex_str("a\n^b", "a\nb"), 0);
	assert_int_equal(test_regex_str("a*$", "aa"), 2);
	msg = malloc(len);
	assert_non_null(msg);
	memset(msg, 'a', len);
	msg[len - 1] = 'x';
	test_regex(set, "x");
	assert_int_equal(strip_message(set, msg, len), 0);
	strip_set_free(set);
	free(msg);
}

/*
 * The bytes of a message as they are: NUL and bytes past ASCII are
 * characters; `.` matches a newline (no REG_NEWLINE) but not NUL, as
 * glibc's did.
 */
static void
test_regex_bytes(void **state)
{
	struct strip_set	*set = test_set();

	test_regex(set, "a[^b]c.*");
	assert_int_equal(strip_message(set, "a\0cde\0f", 7), 5);
	strip_set_free(set);
	set = test_set();
	test_regex(set, "\xe9+[^a]");
	assert_int_equal(strip_message(set, "\xe9\xe9\xff", 3), 3);
	strip_set_free(set);
	assert_int_equal(test_regex_str("a.b", "a\nb"), 3);
	assert_int_equal(test_regex_str(".*", "a\nb\r"), 4);
	assert_int_equal(test_regex_str("[^x]*", "a\nb"), 3);
}

/* Bracket expressions and escapes mean what they meant to glibc. */
static void
test_regex_brackets(void **state)
{
	char	 buf[256];

	assert_int_equal(test_regex_str("[[:alpha:]]+[[:digit:]]*", "ab12-"),
	    4);
	assert_int_equal(test_regex_str("[[:space:]]+", " \t\v\f\r\n!"), 6);
	assert_int_equal(test_regex_str("[[:upper:][:punct:]]+", "A!b"), 2);
	assert_int_equal(test_regex_str("[[:xdigit:]]+", "0fAg"), 3);
	assert_int_equal(test_regex_str("[[:alpha:]]", "\xe9"), 0);
	/* ']' first is a member, '-' last is a member. */
	assert_int_equal(test_regex_str("[]a]+", "]a]ab"), 4);
	assert_int_equal(test_regex_str("[^]a]+", "bc]"), 2);
	assert_int_equal(test_regex_str("[a-]+", "-a-b"), 3);
	/* A backslash in brackets is itself (RE2 would read an escape). */
	assert_int_equal(test_regex_str("[\\]+", "\\\\x"), 2);
	assert_int_equal(test_regex_str("[\\n]+", "n\\n\n"), 3);
	/* One-character collating elements and equivalence classes. */
	assert_int_equal(test_regex_str("[[.-.]a]+", "-a-b"), 3);
	assert_int_equal(test_regex_str("[[=a=]]+", "aab"), 2);
	assert_int_equal(test_regex_str("[[.].]x]+", "]x]y"), 3);
	assert_int_equal(test_regex_error("[[.ab.]]", buf, sizeof(buf)), -1);
	assert_non_null(strstr(buf, "collating element"));
	/* An escaped letter is the letter, as in glibc: \n is n. */
	assert_int_equal(test_regex_str("\\n\\t", "nt"), 2);
	assert_int_equal(test_regex_str("\\x41", "x41"), 3);
	assert_int_equal(test_regex_str("\\.\\*\\[", ".*[a"), 3);
	/* {,n} is {0,n}, as in glibc. */
	assert_int_equal(test_regex_str("a{,2}", "aaa"), 2);
	assert_int_equal(test_regex_str("a{2,3}", "aaaa"), 3);
}

/*
 * Refused at load, each with its reason: what no automaton can match in
 * linear time (back-references), GNU escapes RE2 would read otherwise,
 * and what compiles to more than RE2's or echod's bounds.
 */
static void
test_regex_refused(void **state)
{
	static const struct {
		const char	*ere;
		const char	*why;
	} t[] = {
		{ "(a)\\1", "back-reference \\1" },
		{ "(.*)(.*)\\2\\1", "back-reference \\2" },
		{ "\\w+", "GNU escape \\w" },
		{ "\\<a", "GNU escape \\<" },
		{ "a\\b", "GNU escape \\b" },
		{ "\\`a", "GNU escape \\`" },
		{ "a{1001}", "invalid repetition size" },
		{ "(a{1,255}){1,255}", "invalid repetition size" },
		{ "[ab]{0,1000}[ab]{0,1000}[ab]{0,1000}", "too large" },
		{ "[[=ab=]]", "equivalence class" },
		{ "(ab", "missing )" },
	};
	struct strip_set	*set = test_set();
	char			 buf[256];
	size_t			 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		buf[0] = '\0';
		assert_int_equal(strip_add_regex(set, t[i].ere, buf,
		    sizeof(buf)), -1);
		if (strstr(buf, t[i].why) == NULL)
			fail_msg("%s: \"%s\", not \"%s\"", t[i].ere, buf,
			    t[i].why);
	}
	/* Brackets hold no back-reference: [\1] is a backslash or a 1. */
	assert_int_equal(test_regex_str("[\\1]+", "1\\2"), 2);
	assert_int_equal(strip_count(set), 0);
	strip_set_free(set);
}

/*
 * A long message that does not match costs one pass, not one per offset:
 * a client must not buy seconds of CPU with one max_line of input.
 * Retried at every offset, this takes about ten seconds of CPU; in one
 * pass, well under a millisecond.  CPU time, so a busy machine cannot
 * fail it.
 */
static void
test_regex_long_line(void **state)
{
	struct strip_set	*set = test_set();
	size_t			 len = 64u * 1024;
	char			*msg;
	clock_t			 start;

	msg = malloc(len);
	assert_non_null(msg);
	memset(msg, 'a', len);
	test_regex(set, "[a-z]+:");
	start = clock();
	assert_int_equal(strip_message(set, msg, len), 0);
	assert_true(clock() - start < CLOCKS_PER_SEC / 2);
	/* A regex looks at the first STRIP_REGEX_WINDOW bytes only. */
	msg[len - 1] = ':';
	assert_int_equal(strip_message(set, msg, len), 0);
	msg[STRIP_REGEX_WINDOW - 1] = ':';
	assert_int_equal(strip_message(set, msg, len), STRIP_REGEX_WINDOW);
	strip_set_free(set);
	free(msg);
}

/*
 * The window cuts what a regex may match, not the message: a `$` past it
 * is not at the window's end, and a match ends within the window.
 */
static void
test_regex_window(void **state)
{
	struct strip_set	*set = test_set();
	size_t			 len = 64u * 1024;
	char			*msg;

	msg = malloc(len);
	assert_non_null(msg);
	memset(msg, 'a', len);
	test_regex(set, "a*$");
	assert_int_equal(strip_message(set, msg, len), 0);
	assert_int_equal(strip_message(set, msg, STRIP_REGEX_WINDOW),
	    STRIP_REGEX_WINDOW);
	assert_int_equal(strip_message(set, msg, STRIP_REGEX_WINDOW + 1), 0);
	strip_set_free(set);
	set = test_set();
	test_regex(set, "a*");
	assert_int_equal(strip_message(set, msg, len), STRIP_REGEX_WINDOW);
	strip_set_free(set);
	/* After a bytes rule, the window starts where the regex does. */
	set = test_set();
	assert_int_equal(strip_add_bytes(set, 10, &(const char *){ NULL }), 0);
	test_regex(set, "a*");
	assert_int_equal(strip_message(set, msg, len), 10 + STRIP_REGEX_WINDOW);
	strip_set_free(set);
	free(msg);
}

/* Rules apply in order, each to what the one before left. */
static void
test_rule_order(void **state)
{
	struct strip_set	*set;

	set = test_set();
	test_bytes(set, 1);
	test_prefix(set, "b", 1);
	assert_int_equal(test_strip_str(set, "abc"), 2);
	strip_set_free(set);

	set = test_set();
	test_prefix(set, "b", 1);
	test_bytes(set, 1);
	assert_int_equal(test_strip_str(set, "abc"), 1);
	assert_int_equal(test_strip_str(set, "bbc"), 2);
	strip_set_free(set);

	set = test_set();
	test_prefix(set, "ab", 2);
	test_regex(set, "[0-9]+");
	test_bytes(set, 1);
	assert_int_equal(test_strip_str(set, "ab12x"), 5);
	assert_int_equal(test_strip_str(set, "ab12"), 4);
	assert_int_equal(test_strip_str(set, "12x"), 3);
	strip_set_free(set);
}

/* Every rule on an empty message, and no rules at all. */
static void
test_empty(void **state)
{
	struct strip_set	*set = test_set();

	assert_int_equal(strip_message(NULL, "abc", 3), 0);
	assert_int_equal(strip_message(set, "abc", 3), 0);
	test_bytes(set, 3);
	test_prefix(set, "x", 1);
	test_regex(set, "x*");
	assert_int_equal(strip_message(set, "", 0), 0);
	assert_int_equal(strip_message(set, NULL, 0), 0);
	strip_set_free(set);
}

/* Bytes are bytes: NUL in messages and in a prefix. */
static void
test_binary(void **state)
{
	struct strip_set	*set = test_set();
	const char		 msg[] = { '\0', '\1', '\377', 'a', 'b' };

	test_prefix(set, "\0\1", 2);
	assert_int_equal(strip_message(set, msg, sizeof(msg)), 2);
	assert_int_equal(strip_message(set, "\0\2", 2), 0);
	assert_int_equal(strip_message(set, "\0", 1), 0);
	test_bytes(set, 1);
	assert_int_equal(strip_message(set, msg, sizeof(msg)), 3);
	/* The regex sees the bytes after the NUL, and a NUL of its own. */
	test_regex(set, "ab");
	assert_int_equal(strip_message(set, msg, sizeof(msg)), 5);
	strip_set_free(set);

	set = test_set();
	test_regex(set, "[^z]*z");
	assert_int_equal(strip_message(set, "a\0bz!", 5), 4);
	assert_int_equal(strip_message(set, "a\0b", 3), 0);
	strip_set_free(set);

	/* REG_STARTEND: the match ends at len even without a NUL there. */
	set = test_set();
	test_regex(set, "a*");
	assert_int_equal(strip_message(set, "aaaa", 2), 2);
	strip_set_free(set);
}

/* A CR at the end is content to strip: framing owns terminators. */
static void
test_trailing_cr(void **state)
{
	struct strip_set	*set = test_set();

	test_prefix(set, "ab", 2);
	assert_int_equal(test_strip_str(set, "ab\r"), 2);
	strip_set_free(set);
	assert_int_equal(test_regex_str("[a-z]*", "ab\r"), 2);
	assert_int_equal(test_regex_str("[a-z]*", "\r"), 0);
}

/* What strip_window(), strip_count() and strip_has_regex() report. */
static void
test_window(void **state)
{
	struct strip_set	*set = test_set();

	assert_int_equal(strip_window(NULL), 0);
	assert_int_equal(strip_count(NULL), 0);
	assert_false(strip_has_regex(NULL));
	assert_int_equal(strip_window(set), 0);
	test_bytes(set, 3);
	assert_int_equal(strip_window(set), 3);
	test_prefix(set, "hello", 5);
	assert_int_equal(strip_window(set), 8);
	test_bytes(set, STRIP_BYTES_MAX);
	assert_int_equal(strip_window(set), 8 + STRIP_BYTES_MAX);
	assert_false(strip_has_regex(set));
	assert_int_equal(strip_count(set), 3);
	test_regex(set, "a");
	assert_true(strip_has_regex(set));
	assert_true(strip_window(set) == SIZE_MAX);
	assert_int_equal(strip_count(set), 4);
	strip_set_free(set);
}

/* Rules config.c must be told about. */
static void
test_add_errors(void **state)
{
	struct strip_set	*set = test_set();
	const char		*cause = NULL;
	char			 buf[256], big[STRIP_PREFIX_MAX + 1];

	assert_int_equal(strip_add_bytes(set, STRIP_BYTES_MAX + 1, &cause),
	    -1);
	assert_non_null(cause);
	cause = NULL;
	memset(big, 'x', sizeof(big));
	assert_int_equal(strip_add_prefix(set, big, sizeof(big), &cause), -1);
	assert_non_null(cause);
	assert_int_equal(strip_add_prefix(set, big, STRIP_PREFIX_MAX, &cause),
	    0);
	buf[0] = '\0';
	assert_int_equal(strip_add_regex(set, "(ab", buf, sizeof(buf)), -1);
	assert_true(strlen(buf) > 0);
	assert_int_equal(strip_add_regex(set, "a{2,1}", buf, sizeof(buf)),
	    -1);
	assert_int_equal(strip_count(set), 1);
	assert_false(strip_has_regex(set));
	strip_set_free(set);
	strip_set_free(NULL);
}

/*
 * A 64 KiB line of 'a' with one regex: how many bytes it removes.
 * The answer, not the time, is asserted (bench/regex measures that).
 */
static size_t
test_regex_64k(const char *ere, char last)
{
	struct strip_set	*set = test_set();
	size_t			 len = 64u * 1024, n;
	char			*msg;

	msg = malloc(len);
	assert_non_null(msg);
	memset(msg, 'a', len);
	msg[len - 1] = last;
	test_regex(set, ere);
	n = strip_message(set, msg, len);
	strip_set_free(set);
	free(msg);
	return (n);
}

/*
 * Shapes that glibc could not be trusted with, and that echod refused by
 * a cost heuristic (tests/fuzz/corpus/config/regex-repeat-oom and
 * regex-empty-repeat-hang) or took seconds on: RE2 takes them in time
 * linear in the line, so they are accepted and must match correctly.
 */
static void
test_regex_adversarial(void **state)
{
	char	 buf[256], pat[STRIP_REGEX_MAX + 2];
	int	 i;

	/* Once refused as "too costly" or "may match nothing". */
	assert_int_equal(test_regex_str("a+++++++++", "aaab"), 3);
	assert_int_equal(test_regex_str("a**", "aab"), 2);
	assert_int_equal(test_regex_str("(a*)+", "aab"), 2);
	assert_int_equal(test_regex_str("x(b|c?)*", "xbcbcd"), 5);
	assert_int_equal(test_regex_str("(|a)+", "aab"), 2);
	assert_int_equal(test_regex_str("a{0,5}*", "aaaaaaab"), 7);
	assert_int_equal(test_regex_str("a+*+++++framin++*shutdown+",
	    "aaaframinnshutdownn!"), 19);
	assert_int_equal(test_regex_str("(((((((((a)+)+)+)+)+)+)+)+)+",
	    "aaab"), 3);
	assert_int_equal(test_regex_str("(a{2}){3}x?(b|c+)*y{1,2}+",
	    "aaaaaabccyyy"), 12);
	assert_int_equal(test_regex_str("[*+?{]+\\*\\+\\?\\{+[[:alpha:]*]*",
	    "{*+?{{ab*"), 9);
	/* The shapes of issue 12, within RE2's repetition bound of 1000. */
	assert_int_equal(test_regex_64k("(a{1,20}){1,20}", 'a'), 400);
	assert_int_equal(test_regex_64k("(a{1,20}){1,20}b", 'a'), 0);
	assert_int_equal(test_regex_error("(a{1,30}){1,30}", buf, sizeof(buf)),
	    -1);
	assert_int_equal(test_regex_64k("(.*)(.*)x", 'a'), 0);
	assert_int_equal(test_regex_64k("(.*)(.*)x", 'x'), 0);
	assert_int_equal(test_regex_64k("(a|aa)*b", 'a'), 0);
	assert_int_equal(test_regex_64k("(a|aa)*b", 'b'), 0);
	assert_int_equal(test_regex_64k("(a*)*b", 'a'), 0);
	assert_int_equal(test_regex_64k("((a+)+)+b", 'a'), 0);
	assert_int_equal(test_regex_64k("(((((((((a)+)+)+)+)+)+)+)+)+", 'a'),
	    STRIP_REGEX_WINDOW);
	assert_int_equal(test_regex_64k("((((((a?)+)+)+)+)+)", 'b'),
	    STRIP_REGEX_WINDOW);
	assert_int_equal(test_regex_64k("(a|b)*a(a|b){20}", 'a'),
	    STRIP_REGEX_WINDOW);
	assert_int_equal(test_regex_64k("[ab]*a[ab]{1000}", 'b'),
	    STRIP_REGEX_WINDOW);
	assert_int_equal(test_regex_64k("(.?){300}x", 'x'), 0);
	/* Past STRIP_RE_PROG_MAX instructions: the bound on a match's cost. */
	assert_int_equal(test_regex_error("(.?){1000}x", buf, sizeof(buf)), -1);
	assert_non_null(strstr(buf, "too large"));
	assert_int_equal(test_regex_64k("[[:alpha:]]*x", 'x'), 0);
	/* Side by side, repetitions do not multiply. */
	for (i = 0; i < 50; i++)
		memcpy(pat + 2 * i, "a+", 2);
	pat[100] = '\0';
	assert_int_equal(test_regex_64k(pat, 'a'), STRIP_REGEX_WINDOW);
	memset(pat, 'a', sizeof(pat) - 1);
	pat[sizeof(pat) - 1] = '\0';
	assert_int_equal(test_regex_error(pat, buf, sizeof(buf)), -1);
	assert_non_null(strstr(buf, "longer"));
}

/* bytes = 3 fed one byte at a time drops each as it comes. */
static void
test_stream_bytes(void **state)
{
	struct strip_set	*set = test_set();
	struct strip_state	 st;
	size_t			 drop;

	test_bytes(set, 3);
	strip_state_init(&st);
	assert_int_equal(strip_stream(set, &st, NULL, 0, false, &drop),
	    STRIP_MORE);
	assert_int_equal(drop, 0);
	assert_int_equal(strip_stream(set, &st, "1", 1, false, &drop),
	    STRIP_MORE);
	assert_int_equal(drop, 1);
	assert_int_equal(strip_stream(set, &st, "2", 1, false, &drop),
	    STRIP_MORE);
	assert_int_equal(drop, 1);
	assert_int_equal(strip_stream(set, &st, "34", 2, false, &drop),
	    STRIP_DONE);
	assert_int_equal(drop, 1);
	strip_set_free(set);
}

/* A prefix waits while it matches, and gives up on the first difference. */
static void
test_stream_prefix(void **state)
{
	struct strip_set	*set = test_set();
	struct strip_state	 st;
	size_t			 drop;

	test_prefix(set, "abc", 3);
	strip_state_init(&st);
	assert_int_equal(strip_stream(set, &st, "a", 1, false, &drop),
	    STRIP_MORE);
	assert_int_equal(drop, 0);
	assert_int_equal(strip_stream(set, &st, "ab", 2, false, &drop),
	    STRIP_MORE);
	assert_int_equal(drop, 0);
	assert_int_equal(strip_stream(set, &st, "abx", 3, false, &drop),
	    STRIP_DONE);
	assert_int_equal(drop, 0);

	strip_state_init(&st);
	assert_int_equal(strip_stream(set, &st, "abc", 3, false, &drop),
	    STRIP_DONE);
	assert_int_equal(drop, 3);
	strip_set_free(set);
}

/* At eof whatever is held is the whole message: a partial prefix stays. */
static void
test_stream_eof(void **state)
{
	struct strip_set	*set = test_set();
	struct strip_state	 st;
	size_t			 drop;

	test_bytes(set, 1);
	test_prefix(set, "abc", 3);
	test_bytes(set, 2);
	strip_state_init(&st);
	assert_int_equal(strip_stream(set, &st, "xab", 3, false, &drop),
	    STRIP_MORE);
	assert_int_equal(drop, 1);
	assert_int_equal(strip_stream(set, &st, "ab", 2, true, &drop),
	    STRIP_DONE);
	/* The prefix is not there; bytes = 2 takes "ab". */
	assert_int_equal(drop, 2);

	/* eof in the middle of a bytes rule. */
	strip_state_init(&st);
	assert_int_equal(strip_stream(set, &st, NULL, 0, true, &drop),
	    STRIP_DONE);
	assert_int_equal(drop, 0);
	strip_set_free(set);
}

/* Build a random set of bytes and prefix rules over the alphabet "ab\0". */
static struct strip_set *
test_random_set(uint32_t *seed)
{
	struct strip_set	*set = test_set();
	unsigned char		 text[6];
	size_t			 i, j, n, len;

	n = test_rand(seed) % 4;
	for (i = 0; i < n; i++) {
		if (test_rand(seed) % 2 == 0) {
			test_bytes(set, test_rand(seed) % 4);
			continue;
		}
		len = test_rand(seed) % sizeof(text);
		for (j = 0; j < len; j++)
			text[j] = "ab\0"[test_rand(seed) % 3];
		test_prefix(set, text, len);
	}
	return (set);
}

/*
 * Feed msg to strip_stream() in random pieces (one byte at a time when
 * onebyone), as raw framing does, and return how much it removed.
 */
static size_t
test_feed(const struct strip_set *set, const unsigned char *msg, size_t len,
    uint32_t *seed, bool onebyone)
{
	struct strip_state	 st;
	size_t			 held = 0, arrived = 0, dropped = 0;
	size_t			 drop, n;
	unsigned char		 hold[64];
	enum strip_result	 res = STRIP_MORE;

	strip_state_init(&st);
	while (arrived < len) {
		n = onebyone ? 1 : 1 + test_rand(seed) % 4;
		if (n > len - arrived)
			n = len - arrived;
		memcpy(hold + held, msg + arrived, n);
		held += n;
		arrived += n;
		res = strip_stream(set, &st, hold, held, false, &drop);
		assert_true(drop <= held);
		memmove(hold, hold + drop, held - drop);
		held -= drop;
		dropped += drop;
		if (res == STRIP_DONE)
			return (dropped);
	}
	res = strip_stream(set, &st, hold, held, true, &drop);
	assert_int_equal(res, STRIP_DONE);
	assert_true(drop <= held);
	return (dropped + drop);
}

/* Streaming in any pieces decides exactly what the whole message would. */
static void
test_stream_property(void **state)
{
	struct strip_set	*set;
	unsigned char		 msg[24];
	uint32_t		 seed = TEST_SEED;
	size_t			 i, j, len, want, nonzero = 0;

	for (i = 0; i < 20000; i++) {
		set = test_random_set(&seed);
		len = test_rand(&seed) % sizeof(msg);
		for (j = 0; j < len; j++)
			msg[j] = "ab\0c"[test_rand(&seed) % 4];
		want = strip_message(set, msg, len);
		if (want > 0)
			nonzero++;
		assert_int_equal(test_feed(set, msg, len, &seed, true), want);
		assert_int_equal(test_feed(set, msg, len, &seed, false), want);
		strip_set_free(set);
	}
	/* The generator must exercise the rules, not just empty sets. */
	assert_true(nonzero > 1000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rule_bytes),
		cmocka_unit_test(test_rule_prefix),
		cmocka_unit_test(test_rule_regex),
		cmocka_unit_test(test_regex_long_line),
		cmocka_unit_test(test_regex_window),
		cmocka_unit_test(test_rule_order),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_binary),
		cmocka_unit_test(test_trailing_cr),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_add_errors),
		cmocka_unit_test(test_regex_longest),
		cmocka_unit_test(test_regex_anchored),
		cmocka_unit_test(test_regex_bytes),
		cmocka_unit_test(test_regex_brackets),
		cmocka_unit_test(test_regex_refused),
		cmocka_unit_test(test_regex_adversarial),
		cmocka_unit_test(test_stream_bytes),
		cmocka_unit_test(test_stream_prefix),
		cmocka_unit_test(test_stream_eof),
		cmocka_unit_test(test_stream_property),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
