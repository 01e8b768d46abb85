/*
 * fuzz_metrics.c: libFuzzer target for the request parser of the metrics
 * endpoint (metrics_http.c).
 *
 * Each input is what a scraper sent; metrics_http_parse() reads it always
 * from a copy of exactly the length it is given, so that a read past it
 * is a sanitizer report.  What must hold (metrics_http.h):
 *
 *  - the answer is 0 (undecided), 200, 400, 404, 405 or 431; undecided,
 *    len is 0, no HEAD, and fewer than METRICS_REQUEST bytes came;
 *    decided, 0 < len <= the input and <= METRICS_REQUEST;
 *  - HEAD only for 200 and 404, of an input that begins "HEAD ";
 *  - 200, 404, 405: the head (len bytes) is a request line of the shape
 *    METHOD SP TARGET SP HTTP/1.DIGIT and fields, ends in an empty line,
 *    holds no NUL, no bare CR, no control byte but CR, LF and HTAB, and
 *    no line but the first begins with SP or HTAB; 200 is GET or HEAD of
 *    "/metrics" with or without a query; 404 another target;
 *  - 431: len is METRICS_REQUEST, and those bytes hold no NUL;
 *  - the prefixes: undecided below len, the same answer from len on and
 *    with any bytes after, the same answer twice.
 *
 * `tools/dev fuzz [SECONDS]` runs it under libFuzzer with metrics.dict;
 * `make check` replays tests/fuzz/corpus/ through it (replay.c).  A
 * reproducer becomes a corpus file named after its bug.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_http.h"
#include "fuzz.h"

/* Every prefix up to this length is checked, and a sample of longer ones. */
#define FZ_ALL_PREFIXES		128
#define FZ_SAMPLES		64

#define FZ_CHECK(c)	do {						\
	if (!(c))							\
		fz_fail(#c, __LINE__);					\
} while (0)

/* Bytes appended after an input: each can end or break a request. */
static const char *const fz_tails[] = {
	"\r\n", "\n", "\r", " ", "\0", ":", "?", "\t", "\xff", "\r\n\r\n",
	"\n\n", " HTTP/1.1\r\n\r\n", "\r\n x\r\n\r\n"
};

/* Report which invariant broke, then crash so the fuzzer keeps the input. */
static void
fz_fail(const char *what, int line)
{
	fprintf(stderr, "fuzz_metrics.c:%d: invariant broken: %s\n", line,
	    what);
	abort();
}

/* metrics_http_parse() of a copy of exactly len bytes. */
static int
fz_parse(const uint8_t *data, size_t len, struct metrics_http *r)
{
	char	*copy = NULL;
	int	 code;

	if (len > 0) {
		if ((copy = malloc(len)) == NULL)
			abort();
		memcpy(copy, data, len);
	}
	code = metrics_http_parse(copy, len, r);
	free(copy);
	FZ_CHECK(code == 0 || code == 200 || code == 400 || code == 404 ||
	    code == 405 || code == 431);
	return (code);
}

/* Whether the n bytes at p begin with the string s. */
static bool
fz_begins(const uint8_t *p, size_t n, const char *s)
{
	return (n >= strlen(s) && memcmp(p, s, strlen(s)) == 0);
}

/* The request line of a served head, p[0..n) without its end. */
static void
fz_check_line(const uint8_t *p, size_t n, int code, bool head)
{
	const uint8_t	*sp1, *sp2;
	size_t		 tlen;

	FZ_CHECK((sp1 = memchr(p, ' ', n)) != NULL && sp1 > p);
	sp2 = memchr(sp1 + 1, ' ', n - (sp1 + 1 - p));
	FZ_CHECK(sp2 != NULL && sp2 > sp1 + 1);
	FZ_CHECK(p + n - (sp2 + 1) == 8);
	FZ_CHECK(memcmp(sp2 + 1, "HTTP/1.", 7) == 0);
	FZ_CHECK(sp2[8] >= '0' && sp2[8] <= '9');
	FZ_CHECK(head == (sp1 - p == 4 && memcmp(p, "HEAD", 4) == 0));
	tlen = sp2 - (sp1 + 1);
	if (code == 200) {
		FZ_CHECK(head || (sp1 - p == 3 && memcmp(p, "GET", 3) == 0));
		FZ_CHECK(fz_begins(sp1 + 1, tlen, "/metrics"));
		FZ_CHECK(tlen == 8 || sp1[9] == '?');
	} else if (code == 404)
		FZ_CHECK(!fz_begins(sp1 + 1, tlen, "/metrics") ||
		    (tlen > 8 && sp1[9] != '?'));
	else
		FZ_CHECK(!head && !(sp1 - p == 3 && memcmp(p, "GET", 3) == 0));
}

/* A served head: data[0..len), the bytes it holds and its lines. */
static void
fz_check_head(const uint8_t *data, size_t len, int code, bool head)
{
	size_t	 i, first = 0;

	FZ_CHECK(len >= 2 && data[len - 1] == '\n');
	FZ_CHECK(data[len - 2] == '\n' || (len >= 3 &&
	    data[len - 2] == '\r' && data[len - 3] == '\n'));
	for (i = 0; i < len; i++) {
		FZ_CHECK(data[i] != '\0' && data[i] != 0x7f);
		FZ_CHECK(data[i] >= ' ' || data[i] == '\t' ||
		    data[i] == '\r' || data[i] == '\n');
		if (data[i] == '\r')
			FZ_CHECK(i + 1 < len && data[i + 1] == '\n');
		if (data[i] == '\n' && first == 0)
			first = i;
		if (i > 0 && data[i - 1] == '\n')
			FZ_CHECK(data[i] != ' ' && data[i] != '\t');
	}
	if (first > 0 && data[first - 1] == '\r')
		first--;
	fz_check_line(data, first, code, head);
}

/* One answer, on its own. */
static void
fz_check(const uint8_t *data, size_t size, int code,
    const struct metrics_http *r)
{
	if (code == 0) {
		FZ_CHECK(r->len == 0 && !r->head);
		FZ_CHECK(size < METRICS_REQUEST);
		return;
	}
	FZ_CHECK(r->len > 0 && r->len <= size && r->len <= METRICS_REQUEST);
	if (r->head)
		FZ_CHECK((code == 200 || code == 404) &&
		    fz_begins(data, size, "HEAD "));
	switch (code) {
	case 431:
		FZ_CHECK(r->len == METRICS_REQUEST);
		FZ_CHECK(memchr(data, '\0', METRICS_REQUEST) == NULL);
		break;
	case 400:
		break;
	default:
		fz_check_head(data, r->len, code, r->head);
		break;
	}
}

/* Two answers are the same answer. */
static bool
fz_same(int a, const struct metrics_http *ra, int b,
    const struct metrics_http *rb)
{
	return (a == b && ra->len == rb->len && ra->head == rb->head);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct metrics_http	 r, rk;
	uint8_t			*more;
	size_t			 i, k, n, step;
	int			 code, ck;

	code = fz_parse(data, size, &r);
	fz_check(data, size, code, &r);
	/* The same answer twice: nothing is kept between calls. */
	ck = fz_parse(data, size, &rk);
	FZ_CHECK(fz_same(code, &r, ck, &rk));

	/* Undecided below len, the same answer from len on. */
	step = size / FZ_SAMPLES + 1;
	for (k = 0; k <= size; k++) {
		if (k > FZ_ALL_PREFIXES && k % step != 0 && k != size &&
		    !(code != 0 && k + 1 >= r.len && k <= r.len + 1))
			continue;
		ck = fz_parse(data, k, &rk);
		fz_check(data, k, ck, &rk);
		if (code == 0 || k < r.len)
			FZ_CHECK(ck == 0);
		else
			FZ_CHECK(fz_same(code, &r, ck, &rk));
	}

	/* Bytes after it change no decision. */
	if ((more = malloc(size + 32)) == NULL)
		abort();
	for (i = 0; i < sizeof(fz_tails) / sizeof(fz_tails[0]); i++) {
		n = strlen(fz_tails[i]);
		if (n == 0)
			n = 1;	/* the NUL */
		memcpy(more, data, size);
		memcpy(more + size, fz_tails[i], n);
		ck = fz_parse(more, size + n, &rk);
		fz_check(more, size + n, ck, &rk);
		if (code != 0)
			FZ_CHECK(fz_same(code, &r, ck, &rk));
		else if (ck != 0)
			FZ_CHECK(rk.len > size);
	}
	free(more);
	return (0);
}
