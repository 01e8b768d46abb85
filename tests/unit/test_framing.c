/*
 * test_framing.c: line and raw framing, on evbuffers and direct from a
 * read buffer, fed in any pieces.
 */

#include <sys/uio.h>

#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>

#include "framing.h"
#include "strip.h"

/* Fixed, so that a failure can be replayed. */
#define TEST_SEED	0xec40d00du

/* What a test needs: the framing, its buffers and its rules. */
struct fixture {
	struct framing		 f;
	struct evbuffer		*in;
	struct evbuffer		*out;
	struct strip_set	*set;
};

/* A small deterministic generator, the same on every libc. */
static uint32_t
test_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return (*s);
}

/* Make the buffers and an empty rule set. */
static int
setup(void **state)
{
	struct fixture	*fx;

	if ((fx = calloc(1, sizeof(*fx))) == NULL)
		return (-1);
	fx->in = evbuffer_new();
	fx->out = evbuffer_new();
	fx->set = strip_set_new();
	if (fx->in == NULL || fx->out == NULL || fx->set == NULL)
		return (-1);
	*state = fx;
	return (0);
}

/* Free what setup() made. */
static int
teardown(void **state)
{
	struct fixture	*fx = *state;

	evbuffer_free(fx->in);
	evbuffer_free(fx->out);
	strip_set_free(fx->set);
	free(fx);
	return (0);
}

/* Add a bytes rule that must be accepted. */
static void
add_bytes(struct strip_set *set, size_t n)
{
	const char	*cause;

	assert_int_equal(strip_add_bytes(set, n, &cause), 0);
}

/* Add a prefix rule of a C string that must be accepted. */
static void
add_prefix(struct strip_set *set, const char *text)
{
	const char	*cause;

	assert_int_equal(strip_add_prefix(set, text, strlen(text), &cause), 0);
}

/* Append len bytes to buf as a chain of their own, as one read would. */
static void
append_chain(struct evbuffer *buf, const void *data, size_t len)
{
	struct evbuffer	*tmp;

	tmp = evbuffer_new();
	assert_non_null(tmp);
	assert_int_equal(evbuffer_add(tmp, data, len), 0);
	assert_int_equal(evbuffer_add_buffer(buf, tmp), 0);
	evbuffer_free(tmp);
}

/* One read of a C string, then framing_process(). */
static enum framing_status
feed(struct fixture *fx, const char *data, bool eof)
{
	append_chain(fx->in, data, strlen(data));
	return (framing_process(&fx->f, fx->in, fx->out, eof));
}

/* Assert that buf holds exactly len bytes equal to want. */
static void
assert_buf(struct evbuffer *buf, const void *want, size_t len)
{
	unsigned char	*p;

	assert_int_equal(evbuffer_get_length(buf), len);
	if (len == 0)
		return;
	p = evbuffer_pullup(buf, (ev_ssize_t)len);
	assert_non_null(p);
	assert_memory_equal(p, want, len);
}

/* Assert that buf holds exactly the C string want. */
static void
assert_str(struct evbuffer *buf, const char *want)
{
	assert_buf(buf, want, strlen(want));
}

/* The tutorial: 1234567 comes back as 34567; terminators unchanged. */
static void
test_line_tutorial(void **state)
{
	struct fixture	*fx = *state;

	add_bytes(fx->set, 2);
	framing_init(&fx->f, FRAMING_LINE, fx->set, 64);
	assert_int_equal(feed(fx, "1234567\n", false), FRAMING_OK);
	assert_str(fx->out, "34567\n");
	evbuffer_drain(fx->out, evbuffer_get_length(fx->out));
	assert_int_equal(feed(fx, "a\n", false), FRAMING_OK);
	assert_str(fx->out, "\n");
	evbuffer_drain(fx->out, evbuffer_get_length(fx->out));
	assert_int_equal(feed(fx, "12\r\n", false), FRAMING_OK);
	assert_str(fx->out, "\r\n");
	assert_int_equal(evbuffer_get_length(fx->in), 0);
}

/* Several lines in one read, each stripped on its own. */
static void
test_line_many(void **state)
{
	struct fixture	*fx = *state;

	add_bytes(fx->set, 2);
	framing_init(&fx->f, FRAMING_LINE, fx->set, 64);
	assert_int_equal(feed(fx, "12a\n12b\r\n\n1\nxyz", false), FRAMING_OK);
	assert_str(fx->out, "a\nb\r\n\n\n");
	assert_str(fx->in, "xyz");
}

/* A line split across reads waits for its LF, searched once. */
static void
test_line_split(void **state)
{
	struct fixture	*fx = *state;

	add_prefix(fx->set, "12");
	framing_init(&fx->f, FRAMING_LINE, fx->set, 64);
	assert_int_equal(feed(fx, "123", false), FRAMING_OK);
	assert_int_equal(evbuffer_get_length(fx->out), 0);
	assert_int_equal(fx->f.scanned, 3);
	assert_int_equal(feed(fx, "45", false), FRAMING_OK);
	assert_int_equal(evbuffer_get_length(fx->out), 0);
	assert_int_equal(fx->f.scanned, 5);
	assert_int_equal(feed(fx, "6\n7", false), FRAMING_OK);
	assert_str(fx->out, "3456\n");
	assert_str(fx->in, "7");
	assert_int_equal(fx->f.scanned, 1);
}

/* \r\n is a terminator and comes back whole after the stripped text. */
static void
test_line_crlf(void **state)
{
	struct fixture	*fx = *state;

	add_prefix(fx->set, "ab");
	framing_init(&fx->f, FRAMING_LINE, fx->set, 64);
	assert_int_equal(feed(fx, "abc\r\nab\r\nxab\r\n\r\n", false),
	    FRAMING_OK);
	assert_str(fx->out, "c\r\n\r\nxab\r\n\r\n");
}

/* A CR in one read and its LF in the next still make one terminator. */
static void
test_line_cr_split(void **state)
{
	struct fixture	*fx = *state;

	add_bytes(fx->set, 4);
	framing_init(&fx->f, FRAMING_LINE, fx->set, 64);
	assert_int_equal(feed(fx, "ab\r", false), FRAMING_OK);
	assert_int_equal(evbuffer_get_length(fx->out), 0);
	assert_int_equal(feed(fx, "\n", false), FRAMING_OK);
	assert_str(fx->out, "\r\n");
}

/* At eof a last line without LF is stripped and sent; a lone CR is text. */
static void
test_line_eof(void **state)
{
	struct fixture	*fx = *state;

	add_bytes(fx->set, 2);
	framing_init(&fx->f, FRAMING_LINE, fx->set, 64);
	assert_int_equal(feed(fx, "12a\n12b", false), FRAMING_OK);
	assert_str(fx->out, "a\n");
	assert_int_equal(framing_process(&fx->f, fx->in, fx->out, true),
	    FRAMING_OK);
	assert_str(fx->out, "a\nb");
	assert_int_equal(evbuffer_get_length(fx->in), 0);
	/* Nothing more to do at a repeated eof. */
	assert_int_equal(framing_process(&fx->f, fx->in, fx->out, true),
	    FRAMING_OK);
	assert_str(fx->out, "a\nb");

	evbuffer_drain(fx->out, evbuffer_get_length(fx->out));
	assert_int_equal(feed(fx, "1\r", true), FRAMING_OK);
	assert_str(fx->out, "");
	assert_int_equal(feed(fx, "12c\r", true), FRAMING_OK);
	assert_str(fx->out, "c\r");
}

/* max_line counts the terminator: exactly at the limit is fine. */
static void
test_line_max(void **state)
{
	struct fixture	*fx = *state;

	add_bytes(fx->set, 1);
	framing_init(&fx->f, FRAMING_LINE, fx->set, 8);
	assert_int_equal(feed(fx, "1234567\n123456\r\n", false), FRAMING_OK);
	assert_str(fx->out, "234567\n23456\r\n");
	evbuffer_drain(fx->out, evbuffer_get_length(fx->out));

	/* One over, after two good lines: those are moved, the rest kept. */
	assert_int_equal(feed(fx, "ab\ncd\n12345678\nef\n", false),
	    FRAMING_LINE_TOO_LONG);
	assert_str(fx->out, "b\nd\n");
	assert_str(fx->in, "12345678\nef\n");

	evbuffer_drain(fx->in, evbuffer_get_length(fx->in));
	evbuffer_drain(fx->out, evbuffer_get_length(fx->out));
	framing_init(&fx->f, FRAMING_LINE, fx->set, 8);
	assert_int_equal(feed(fx, "1234567\r\n", false),
	    FRAMING_LINE_TOO_LONG);
	assert_str(fx->out, "");
}

/* The same limits on the no-rule fast path. */
static void
test_line_max_norules(void **state)
{
	struct fixture	*fx = *state;

	framing_init(&fx->f, FRAMING_LINE, NULL, 8);
	assert_int_equal(feed(fx, "1234567\nab\n12345678\nef\n", false),
	    FRAMING_LINE_TOO_LONG);
	assert_str(fx->out, "1234567\nab\n");
	assert_str(fx->in, "12345678\nef\n");
}

/* A partial line of max_line bytes cannot end within the limit. */
static void
test_line_partial_too_long(void **state)
{
	struct fixture	*fx = *state;

	add_bytes(fx->set, 1);
	framing_init(&fx->f, FRAMING_LINE, fx->set, 8);
	assert_int_equal(feed(fx, "ok\n1234", false), FRAMING_OK);
	assert_int_equal(feed(fx, "567", false), FRAMING_OK);
	assert_str(fx->out, "k\n");
	assert_int_equal(feed(fx, "8", false), FRAMING_LINE_TOO_LONG);
	assert_str(fx->out, "k\n");
	assert_int_equal(evbuffer_get_length(fx->in), 8);
}

/* bytes = 3 drops three bytes that arrive one by one. */
static void
test_raw_bytes(void **state)
{
	struct fixture	*fx = *state;

	add_bytes(fx->set, 3);
	framing_init(&fx->f, FRAMING_RAW, fx->set, 0);
	assert_true(fx->f.stripping);
	assert_int_equal(feed(fx, "1", false), FRAMING_OK);
	assert_int_equal(feed(fx, "2", false), FRAMING_OK);
	assert_int_equal(feed(fx, "3", false), FRAMING_OK);
	assert_int_equal(evbuffer_get_length(fx->out), 0);
	assert_int_equal(evbuffer_get_length(fx->in), 0);
	assert_int_equal(feed(fx, "4", false), FRAMING_OK);
	assert_int_equal(feed(fx, "5\n", false), FRAMING_OK);
	assert_str(fx->out, "45\n");
	assert_false(fx->f.stripping);
}

/* A prefix holds the bytes while they match, and lets go on a difference. */
static void
test_raw_prefix(void **state)
{
	struct fixture	*fx = *state;

	add_prefix(fx->set, "HELLO");
	framing_init(&fx->f, FRAMING_RAW, fx->set, 0);
	assert_int_equal(feed(fx, "HE", false), FRAMING_OK);
	assert_int_equal(evbuffer_get_length(fx->out), 0);
	assert_str(fx->in, "HE");
	assert_int_equal(feed(fx, "Lx", false), FRAMING_OK);
	assert_str(fx->out, "HELx");
	assert_int_equal(feed(fx, "HELLO", false), FRAMING_OK);
	assert_str(fx->out, "HELxHELLO");

	evbuffer_drain(fx->out, evbuffer_get_length(fx->out));
	framing_init(&fx->f, FRAMING_RAW, fx->set, 0);
	assert_int_equal(feed(fx, "HEL", false), FRAMING_OK);
	assert_int_equal(feed(fx, "LO world", false), FRAMING_OK);
	assert_str(fx->out, " world");
}

/* At eof what a rule held is the whole message. */
static void
test_raw_eof(void **state)
{
	struct fixture	*fx = *state;

	add_prefix(fx->set, "HELLO");
	framing_init(&fx->f, FRAMING_RAW, fx->set, 0);
	assert_int_equal(feed(fx, "HEL", false), FRAMING_OK);
	assert_int_equal(evbuffer_get_length(fx->out), 0);
	assert_int_equal(framing_process(&fx->f, fx->in, fx->out, true),
	    FRAMING_OK);
	assert_str(fx->out, "HEL");
	assert_false(fx->f.stripping);

	/* bytes = 5 on a stream of two bytes: nothing is owed. */
	strip_set_free(fx->set);
	fx->set = strip_set_new();
	add_bytes(fx->set, 5);
	evbuffer_drain(fx->out, evbuffer_get_length(fx->out));
	framing_init(&fx->f, FRAMING_RAW, fx->set, 0);
	assert_int_equal(feed(fx, "ab", true), FRAMING_OK);
	assert_int_equal(evbuffer_get_length(fx->out), 0);
	assert_int_equal(evbuffer_get_length(fx->in), 0);
}

/* Record where buf's chains are. */
static int
peek_chains(struct evbuffer *buf, struct evbuffer_iovec *v, int n)
{
	int	 got;

	got = evbuffer_peek(buf, -1, NULL, v, n);
	assert_true(got > 0 && got <= n);
	return (got);
}

/* Raw framing without rules, and lines on the fast path, copy nothing. */
static void
test_zero_copy(void **state)
{
	struct fixture		*fx = *state;
	static const char	 a[] = "first chunk\n", b[] = "second\n",
				 c[] = "third line\n";
	struct evbuffer_iovec	 before[8], after[8];
	int			 i, n;
	enum framing_kind	 kinds[] = { FRAMING_RAW, FRAMING_LINE };
	size_t			 k;

	for (k = 0; k < 2; k++) {
		framing_init(&fx->f, kinds[k], NULL, 64);
		/* The chains point into a, b and c themselves. */
		evbuffer_add_reference(fx->in, a, sizeof(a) - 1, NULL, NULL);
		evbuffer_add_reference(fx->in, b, sizeof(b) - 1, NULL, NULL);
		evbuffer_add_reference(fx->in, c, sizeof(c) - 1, NULL, NULL);
		n = peek_chains(fx->in, before, 8);
		assert_int_equal(n, 3);
		assert_ptr_equal(before[0].iov_base, a);
		assert_int_equal(framing_process(&fx->f, fx->in, fx->out,
		    false), FRAMING_OK);
		assert_int_equal(evbuffer_get_length(fx->in), 0);
		assert_int_equal(peek_chains(fx->out, after, 8), n);
		for (i = 0; i < n; i++) {
			assert_ptr_equal(after[i].iov_base, before[i].iov_base);
			assert_int_equal(after[i].iov_len, before[i].iov_len);
		}
		evbuffer_drain(fx->out, evbuffer_get_length(fx->out));
	}
}

/* Once the rules are decided, raw framing relinks the rest too. */
static void
test_zero_copy_after_strip(void **state)
{
	struct fixture		*fx = *state;
	static const char	 a[] = "ABpayload one", b[] = "payload two";
	struct evbuffer_iovec	 v[4];

	add_prefix(fx->set, "AB");
	framing_init(&fx->f, FRAMING_RAW, fx->set, 0);
	evbuffer_add_reference(fx->in, a, sizeof(a) - 1, NULL, NULL);
	assert_int_equal(framing_process(&fx->f, fx->in, fx->out, false),
	    FRAMING_OK);
	assert_false(fx->f.stripping);
	evbuffer_add_reference(fx->in, b, sizeof(b) - 1, NULL, NULL);
	assert_int_equal(framing_process(&fx->f, fx->in, fx->out, false),
	    FRAMING_OK);
	assert_int_equal(peek_chains(fx->out, v, 4), 2);
	assert_ptr_equal(v[0].iov_base, a + 2);
	assert_ptr_equal(v[1].iov_base, b);
}

/* --- the direct path: replies as iovecs into the read buffer ---------- */

/* framing_direct() with room for room iovecs; the replies join in out. */
static enum framing_status
direct(struct fixture *fx, const char *data, size_t len, size_t room,
    size_t *niov, size_t *used)
{
	struct iovec		 iov[8];
	enum framing_status	 st;
	size_t			 i;

	assert_true(room <= 8);
	*niov = room;
	st = framing_direct(&fx->f, data, len, iov, niov, used);
	assert_true(*niov <= room);
	for (i = 0; i < *niov; i++) {
		/* Into data itself: nothing was copied. */
		assert_true((const char *)iov[i].iov_base >= data);
		assert_true((const char *)iov[i].iov_base + iov[i].iov_len <=
		    data + *used);
		evbuffer_add(fx->out, iov[i].iov_base, iov[i].iov_len);
	}
	return (st);
}

/* The tutorial on the direct path: each line stripped, a partial kept. */
static void
test_direct_lines(void **state)
{
	struct fixture	*fx = *state;
	const char	 in[] = "12a\n12b\r\n\n1\nxyz";
	size_t		 niov, used;

	add_bytes(fx->set, 2);
	framing_init(&fx->f, FRAMING_LINE, fx->set, 64);
	assert_true(framing_direct_ok(&fx->f));
	assert_int_equal(direct(fx, in, sizeof(in) - 1, 8, &niov, &used),
	    FRAMING_OK);
	assert_str(fx->out, "a\nb\r\n\n\n");
	/* "\n" after "b\r\n" and "\n" after that touch: 3 iovecs, not 4. */
	assert_int_equal(niov, 3);
	assert_int_equal(used, sizeof(in) - 1 - 3);
	/* What is left holds no LF, and framing_process() knows it. */
	assert_int_equal(fx->f.scanned, 3);
}

/* Without rules every complete line goes out in one iovec. */
static void
test_direct_norules(void **state)
{
	struct fixture	*fx = *state;
	const char	 in[] = "one\ntwo\nthree\nfo";
	size_t		 niov, used;

	framing_init(&fx->f, FRAMING_LINE, NULL, 64);
	assert_int_equal(direct(fx, in, sizeof(in) - 1, 1, &niov, &used),
	    FRAMING_OK);
	assert_int_equal(niov, 1);
	assert_str(fx->out, "one\ntwo\nthree\n");
	assert_int_equal(used, 14);
}

/* Out of iovecs: it stops after whole lines, and goes on when called. */
static void
test_direct_room(void **state)
{
	struct fixture	*fx = *state;
	const char	 in[] = "1a\n1b\n1c\n1d\n";
	size_t		 niov, used, pos = 0;

	add_bytes(fx->set, 1);
	framing_init(&fx->f, FRAMING_LINE, fx->set, 64);
	assert_int_equal(direct(fx, in, sizeof(in) - 1, 2, &niov, &used),
	    FRAMING_OK);
	assert_int_equal(niov, 2);
	assert_int_equal(used, 6);
	assert_str(fx->out, "a\nb\n");
	pos += used;
	assert_int_equal(direct(fx, in + pos, sizeof(in) - 1 - pos, 2, &niov,
	    &used), FRAMING_OK);
	assert_int_equal(used, 6);
	assert_str(fx->out, "a\nb\nc\nd\n");
	assert_int_equal(fx->f.scanned, 0);
}

/* The limits of framing_line(): a long line, a long partial line. */
static void
test_direct_too_long(void **state)
{
	struct fixture	*fx = *state;
	const char	 a[] = "ok\n12345678\nef\n", b[] = "ok\n12345678";
	size_t		 niov, used;

	add_bytes(fx->set, 1);
	framing_init(&fx->f, FRAMING_LINE, fx->set, 8);
	assert_int_equal(direct(fx, a, sizeof(a) - 1, 8, &niov, &used),
	    FRAMING_LINE_TOO_LONG);
	assert_str(fx->out, "k\n");
	assert_int_equal(used, 3);
	evbuffer_drain(fx->out, evbuffer_get_length(fx->out));
	assert_int_equal(direct(fx, b, sizeof(b) - 1, 8, &niov, &used),
	    FRAMING_LINE_TOO_LONG);
	assert_str(fx->out, "k\n");
	/* One byte short of the limit is only a partial line. */
	evbuffer_drain(fx->out, evbuffer_get_length(fx->out));
	assert_int_equal(direct(fx, b, sizeof(b) - 2, 8, &niov, &used),
	    FRAMING_OK);
	assert_int_equal(fx->f.scanned, 7);
}

/* Raw: everything at once, but only once the rules are decided. */
static void
test_direct_raw(void **state)
{
	struct fixture	*fx = *state;
	const char	 in[] = "ABpayload";
	size_t		 niov, used;

	add_prefix(fx->set, "AB");
	framing_init(&fx->f, FRAMING_RAW, fx->set, 0);
	assert_false(framing_direct_ok(&fx->f));
	assert_int_equal(feed(fx, "A", false), FRAMING_OK);
	assert_false(framing_direct_ok(&fx->f));
	assert_int_equal(feed(fx, "B", false), FRAMING_OK);
	assert_true(framing_direct_ok(&fx->f));
	assert_int_equal(direct(fx, in, sizeof(in) - 1, 1, &niov, &used),
	    FRAMING_OK);
	assert_int_equal(niov, 1);
	assert_int_equal(used, sizeof(in) - 1);
	/* Stripped once, at the start of the stream; not here again. */
	assert_str(fx->out, "ABpayload");
}

/* --- property: any chunking equals one chunk equals the model --------- */

/* A rule as the model sees it. */
struct model_rule {
	int		 kind;	/* 0 bytes, 1 prefix, 2 regex */
	size_t		 n;
	char		 text[4];
	regex_t		*re;
};

struct model {
	struct model_rule	 rules[4];
	size_t			 count;
};

/* The regex rules the property draws from, and the model's anchored forms. */
static const char *const model_ere[] = { "[ab]+", "a*", "x|ab", "b?a\r" };
static regex_t model_re[4];

/*
 * Leading bytes the model's rules remove from the len bytes of msg.  A
 * regex rule runs on a C string: the property gives it no NUL bytes.
 */
static size_t
model_strip(const struct model *m, const char *msg, size_t len)
{
	const struct model_rule	*r;
	regmatch_t		 match;
	char			 str[512];
	size_t			 i, off = 0, plen;

	for (i = 0; i < m->count; i++) {
		r = &m->rules[i];
		switch (r->kind) {
		case 0:
			off += len - off < r->n ? len - off : r->n;
			break;
		case 1:
			plen = strlen(r->text);
			if (len - off >= plen &&
			    memcmp(msg + off, r->text, plen) == 0)
				off += plen;
			break;
		case 2:
			memcpy(str, msg + off, len - off);
			str[len - off] = '\0';
			if (regexec(r->re, str, 1, &match, 0) == 0)
				off += (size_t)match.rm_eo;
			break;
		}
	}
	return (off);
}

/*
 * Expected output and status of line framing: split on LF, strip the text
 * before the terminator, stop at the first line over max_line.
 */
static size_t
model_line(const struct model *m, const char *in, size_t len,
    size_t max_line, char *out, enum framing_status *status)
{
	const char	*lf;
	size_t		 pos = 0, o = 0, total, text, drop;

	*status = FRAMING_OK;
	while (pos < len) {
		lf = memchr(in + pos, '\n', len - pos);
		total = lf != NULL ? (size_t)(lf - in) + 1 - pos : len - pos;
		if (total > max_line || (lf == NULL && total == max_line)) {
			*status = FRAMING_LINE_TOO_LONG;
			break;
		}
		text = lf != NULL ? total - 1 : total;
		if (lf != NULL && text > 0 && in[pos + text - 1] == '\r')
			text--;
		drop = model_strip(m, in + pos, text);
		memcpy(out + o, in + pos + drop, total - drop);
		o += total - drop;
		pos += total;
	}
	return (o);
}

/* A random rule set, built both as a strip_set and as the model's list. */
static struct strip_set *
random_rules(struct model *m, uint32_t *seed, bool regex)
{
	struct strip_set	*set;
	struct model_rule	*r;
	const char		*cause;
	char			 err[128];
	size_t			 i, j, len;

	set = strip_set_new();
	assert_non_null(set);
	m->count = test_rand(seed) % 4;
	for (i = 0; i < m->count; i++) {
		r = &m->rules[i];
		r->kind = test_rand(seed) % (regex ? 3 : 2);
		switch (r->kind) {
		case 0:
			r->n = test_rand(seed) % 4;
			assert_int_equal(strip_add_bytes(set, r->n, &cause),
			    0);
			break;
		case 1:
			len = 1 + test_rand(seed) % (sizeof(r->text) - 1);
			for (j = 0; j < len; j++)
				r->text[j] = "ab\r"[test_rand(seed) % 3];
			r->text[len] = '\0';
			assert_int_equal(strip_add_prefix(set, r->text, len,
			    &cause), 0);
			break;
		case 2:
			j = test_rand(seed) % 4;
			r->re = &model_re[j];
			assert_int_equal(strip_add_regex(set, model_ere[j],
			    err, sizeof(err)), 0);
			break;
		}
	}
	return (set);
}

/*
 * Run framing over in, split into random chunks (one chunk when whole), and
 * return its status; the output is left in out.
 */
static enum framing_status
run_chunked(struct framing *f, const struct strip_set *set,
    enum framing_kind kind, size_t max_line, const char *in, size_t len,
    struct evbuffer *out, uint32_t *seed, bool whole)
{
	struct evbuffer		*buf;
	enum framing_status	 st = FRAMING_OK;
	size_t			 pos = 0, n;
	bool			 eof;

	buf = evbuffer_new();
	assert_non_null(buf);
	framing_init(f, kind, set, max_line);
	do {
		n = whole ? len : test_rand(seed) % 12;
		if (n > len - pos)
			n = len - pos;
		append_chain(buf, in + pos, n);
		pos += n;
		/* The last piece comes with eof, or eof comes alone. */
		eof = pos == len && test_rand(seed) % 2 == 0;
		st = framing_process(f, buf, out, eof);
	} while (pos < len && st == FRAMING_OK);
	if (st == FRAMING_OK && !eof)
		st = framing_process(f, buf, out, true);
	evbuffer_free(buf);
	return (st);
}

/*
 * Framing as session_read.c drives it: a chunk goes through the direct path
 * (with few iovecs, so that they run out) after a held partial line of at
 * most carry bytes, copied in front of it; through the input and
 * framing_process() when more is held; eof comes alone at the end.
 */
static enum framing_status
run_direct(struct framing *f, const struct strip_set *set,
    enum framing_kind kind, size_t max_line, const char *in, size_t len,
    struct evbuffer *out, uint32_t *seed, size_t carry)
{
	struct evbuffer		*buf;
	struct iovec		 iov[3];
	enum framing_status	 st = FRAMING_OK;
	char			 data[256];
	size_t			 pos = 0, n, i, at, held, niov, used;

	buf = evbuffer_new();
	assert_non_null(buf);
	framing_init(f, kind, set, max_line);
	while (pos < len && st == FRAMING_OK) {
		n = 1 + test_rand(seed) % 12;
		if (n > len - pos)
			n = len - pos;
		held = evbuffer_get_length(buf);
		if (held > carry || !framing_direct_ok(f)) {
			append_chain(buf, in + pos, n);
			st = framing_process(f, buf, out, false);
			pos += n;
			continue;
		}
		assert_true(held + n <= sizeof(data));
		assert_int_equal(evbuffer_remove(buf, data, held), held);
		memcpy(data + held, in + pos, n);
		pos += n;
		n += held;
		for (at = 0; at < n; at += used) {
			niov = 1 + test_rand(seed) % 3;
			st = framing_direct(f, data + at, n - at, iov, &niov,
			    &used);
			for (i = 0; i < niov; i++)
				evbuffer_add(out, iov[i].iov_base,
				    iov[i].iov_len);
			if (used == 0 || st != FRAMING_OK)
				break;
		}
		if (st == FRAMING_OK && at < n)
			append_chain(buf, data + at, n - at);
	}
	if (st == FRAMING_OK)
		st = framing_process(f, buf, out, true);
	evbuffer_free(buf);
	return (st);
}

/* Random input in random chunks gives what one chunk and the model give. */
static void
test_property(void **state)
{
	struct framing		 f;
	struct strip_set	*set;
	struct model		 m;
	struct evbuffer		*one, *many;
	enum framing_status	 want_st, st;
	enum framing_kind	 kind;
	uint32_t		 seed = TEST_SEED;
	char			 in[200], want[256], pat[32];
	size_t			 i, j, len, wlen, drop, max_line;
	size_t			 toolong = 0, stripped = 0;
	bool			 regex;

	/* The model anchors its own way: "^(ERE)" on a C string. */
	for (i = 0; i < 4; i++) {
		snprintf(pat, sizeof(pat), "^(%s)", model_ere[i]);
		assert_int_equal(regcomp(&model_re[i], pat, REG_EXTENDED), 0);
	}
	for (i = 0; i < 6000; i++) {
		kind = test_rand(&seed) % 2 ? FRAMING_LINE : FRAMING_RAW;
		regex = kind == FRAMING_LINE && test_rand(&seed) % 2;
		set = random_rules(&m, &seed, regex);
		len = test_rand(&seed) % sizeof(in);
		for (j = 0; j < len; j++)
			in[j] = "ab\r\n\nxyz\0"[test_rand(&seed) %
			    (regex ? 8 : 9)];
		max_line = test_rand(&seed) % 2 ? 1 + test_rand(&seed) % 40 :
		    1024;

		if (kind == FRAMING_LINE) {
			/* The model works on C strings: no NUL with regex. */
			if (regex)
				assert_null(memchr(in, '\0', len));
			wlen = model_line(&m, in, len, max_line, want,
			    &want_st);
		} else {
			/* Raw: the rules eat the start of the whole stream. */
			drop = model_strip(&m, in, len);
			memcpy(want, in + drop, len - drop);
			wlen = len - drop;
			want_st = FRAMING_OK;
		}
		if (want_st == FRAMING_LINE_TOO_LONG)
			toolong++;
		if (wlen < len)
			stripped++;

		one = evbuffer_new();
		many = evbuffer_new();
		assert_non_null(one);
		assert_non_null(many);
		st = run_chunked(&f, set, kind, max_line, in, len, one, &seed,
		    true);
		assert_int_equal(st, want_st);
		assert_buf(one, want, wlen);
		st = run_chunked(&f, set, kind, max_line, in, len, many, &seed,
		    false);
		assert_int_equal(st, want_st);
		assert_buf(many, want, wlen);
		evbuffer_drain(many, evbuffer_get_length(many));
		/* Partial lines carried, and kept in the input past 5. */
		st = run_direct(&f, set, kind, max_line, in, len, many, &seed,
		    i % 2 == 0 ? SIZE_MAX : 5);
		assert_int_equal(st, want_st);
		assert_buf(many, want, wlen);
		evbuffer_free(one);
		evbuffer_free(many);
		strip_set_free(set);
	}
	for (i = 0; i < 4; i++)
		regfree(&model_re[i]);
	/* The draw must reach both verdicts and real stripping. */
	assert_true(toolong > 100);
	assert_true(stripped > 1000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_line_tutorial, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_line_many, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_line_split, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_line_crlf, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_line_cr_split, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_line_eof, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_line_max, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_line_max_norules, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_line_partial_too_long,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_raw_bytes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_raw_prefix, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_raw_eof, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_zero_copy, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_zero_copy_after_strip,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_direct_lines, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_direct_norules, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_direct_room, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_direct_too_long, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_direct_raw, setup,
		    teardown),
		cmocka_unit_test(test_property),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
