/*
 * test_metrics_http.c: the request of a scrape: request lines good and
 * bad, line ends, fields, lengths, bytes no request may hold, and every
 * split point of a good request.
 *
 * Each input is parsed from a copy of exactly its length, so that a read
 * past the end is caught under the sanitizers.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics_http.h"

/* metrics_http_parse() on a copy of exactly len bytes. */
static int
test_parse_len(const char *buf, size_t len, struct metrics_http *r)
{
	char	*copy = NULL;
	int	 code;

	if (len > 0) {
		copy = malloc(len);
		assert_non_null(copy);
		memcpy(copy, buf, len);
	}
	code = metrics_http_parse(copy, len, r);
	free(copy);
	return (code);
}

/* The same, of a string. */
static int
test_parse(const char *s)
{
	struct metrics_http	 r;

	return (test_parse_len(s, strlen(s), &r));
}

/* Whether s is HEAD by the parser's answer. */
static bool
test_head(const char *s)
{
	struct metrics_http	 r;

	test_parse_len(s, strlen(s), &r);
	return (r.head);
}

/* GET and HEAD of /metrics, HTTP/1.0 and 1.1, with and without fields. */
static void
test_good(void **state)
{
	struct metrics_http	 r;
	const char		*s = "GET /metrics HTTP/1.1\r\nHost: x\r\n"
	    "Accept: text/plain;version=0.0.4;q=1,*/*;q=0.1\r\n\r\n";

	assert_int_equal(test_parse_len(s, strlen(s), &r), 200);
	assert_int_equal(r.len, strlen(s));
	assert_false(r.head);
	assert_int_equal(test_parse("GET /metrics HTTP/1.0\r\n\r\n"), 200);
	assert_int_equal(test_parse("HEAD /metrics HTTP/1.1\r\n\r\n"), 200);
	assert_true(test_head("HEAD /metrics HTTP/1.1\r\n\r\n"));
	assert_false(test_head("GET /metrics HTTP/1.1\r\n\r\n"));
	/* A later minor version is 1.1's (RFC 9112, 2.3). */
	assert_int_equal(test_parse("GET /metrics HTTP/1.9\r\n\r\n"), 200);
	/* Field values: empty, white space, obs-text. */
	assert_int_equal(test_parse("GET /metrics HTTP/1.1\r\nX:\r\n"
	    "Y: \t a b \t\r\nZ: \xc3\xa9\xff\r\n\r\n"), 200);
	/* Bytes after the head are not read. */
	s = "GET /metrics HTTP/1.1\r\n\r\n\0\r\x01garbage";
	assert_int_equal(test_parse_len(s, 34, &r), 200);
	assert_int_equal(r.len, 25);
}

/* A query string is the same resource; any other target is not. */
static void
test_target(void **state)
{
	assert_int_equal(test_parse("GET /metrics? HTTP/1.1\r\n\r\n"), 200);
	assert_int_equal(test_parse("GET /metrics?x=1&y=%20 HTTP/1.1\r\n\r\n"),
	    200);
	assert_int_equal(test_parse("GET /metrics?a?b/c HTTP/1.1\r\n\r\n"),
	    200);
	assert_int_equal(test_parse("GET /metricsx HTTP/1.1\r\n\r\n"), 404);
	assert_int_equal(test_parse("GET /metrics/ HTTP/1.1\r\n\r\n"), 404);
	assert_int_equal(test_parse("GET /metrics#f HTTP/1.1\r\n\r\n"), 404);
	assert_int_equal(test_parse("GET /Metrics HTTP/1.1\r\n\r\n"), 404);
	assert_int_equal(test_parse("GET /metric HTTP/1.1\r\n\r\n"), 404);
	assert_int_equal(test_parse("GET / HTTP/1.1\r\n\r\n"), 404);
	assert_int_equal(test_parse("GET * HTTP/1.1\r\n\r\n"), 404);
	assert_int_equal(test_parse("GET http://x/metrics HTTP/1.1\r\n\r\n"),
	    404);
	assert_int_equal(test_parse("GET //metrics HTTP/1.1\r\n\r\n"), 404);
	/* HEAD of another target: no body either. */
	assert_int_equal(test_parse("HEAD / HTTP/1.1\r\n\r\n"), 404);
	assert_true(test_head("HEAD / HTTP/1.1\r\n\r\n"));
}

/* GET and HEAD only, by their exact names (methods are case-sensitive). */
static void
test_method(void **state)
{
	const char *const	 m[] = { "POST", "PUT", "DELETE", "OPTIONS",
	    "TRACE", "CONNECT", "PATCH", "get", "Head", "GETX", "HEADX",
	    "GE", "X-Y!~" };
	char			 buf[64];
	size_t			 i;

	for (i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		snprintf(buf, sizeof(buf), "%s /metrics HTTP/1.1\r\n\r\n",
		    m[i]);
		assert_int_equal(test_parse(buf), 405);
		assert_false(test_head(buf));
	}
	/* Not a token: refused as malformed. */
	assert_int_equal(test_parse("G(T /metrics HTTP/1.1\r\n\r\n"), 400);
	assert_int_equal(test_parse("G\x7fT /metrics HTTP/1.1\r\n\r\n"), 400);
}

/* The shape of the request line: METHOD SP TARGET SP HTTP/1.DIGIT. */
static void
test_request_line(void **state)
{
	const char *const	 bad[] = {
		"GET /metrics\r\n\r\n",			/* HTTP/0.9 */
		"GET /metrics \r\n\r\n",
		"GET\r\n\r\n",
		"GET \r\n\r\n",
		"/metrics HTTP/1.1\r\n\r\n",
		" GET /metrics HTTP/1.1\r\n\r\n",
		"GET  /metrics HTTP/1.1\r\n\r\n",
		"GET /metrics  HTTP/1.1\r\n\r\n",
		"GET /metrics HTTP/1.1 \r\n\r\n",
		"GET\t/metrics HTTP/1.1\r\n\r\n",
		"GET /metrics\tHTTP/1.1\r\n\r\n",
		"GET /metrics HTTP/1.\r\n\r\n",
		"GET /metrics HTTP/1.10\r\n\r\n",
		"GET /metrics HTTP/1.x\r\n\r\n",
		"GET /metrics HTTP/2.0\r\n\r\n",
		"GET /metrics HTTP/1\r\n\r\n",
		"GET /metrics http/1.1\r\n\r\n",
		"GET /metrics HTTPS/1.1\r\n\r\n",
		"GET /metrics HTTP/1.1 x\r\n\r\n",
		"\r\nGET /metrics HTTP/1.1\r\n\r\n",	/* empty line first */
		"\r\n",
		"\n",
	};
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(test_parse(bad[i]), 400);
}

/* A bare LF ends a line (RFC 9112, 2.2); a bare CR is refused. */
static void
test_line_ends(void **state)
{
	assert_int_equal(test_parse("GET /metrics HTTP/1.1\n\n"), 200);
	assert_int_equal(test_parse("GET /metrics HTTP/1.1\nHost: x\n\n"), 200);
	assert_int_equal(test_parse("GET /metrics HTTP/1.1\r\nHost: x\n\r\n"),
	    200);
	assert_int_equal(test_parse("GET /metrics HTTP/1.1\r\r\n\r\n"), 400);
	assert_int_equal(test_parse("GET /metrics HTTP/1.1\r\n\r\r\n"), 400);
	assert_int_equal(test_parse("GET /metrics HTTP/1.1\rHost: x\r\n\r\n"),
	    400);
	assert_int_equal(test_parse("GET /met\rrics HTTP/1.1\r\n\r\n"), 400);
	assert_int_equal(test_parse("GET /metrics HTTP/1.1\r\nX: a\rb\r\n"
	    "\r\n"), 400);
	/* A CR last: the next byte decides. */
	assert_int_equal(test_parse("GET /metrics HTTP/1.1\r"), 0);
	assert_int_equal(test_parse("GET /metrics HTTP/1.1\r\n\r"), 0);
}

/* Fields: a token, a colon at once, a value with no control byte. */
static void
test_fields(void **state)
{
	const char *const	 bad[] = {
		"Host : x",			/* white space before ':' */
		"Host\t: x",
		" Host: x",			/* obs-fold, or a lead SP */
		"\tHost: x",
		"Host",				/* no colon */
		": x",				/* no name */
		"Ho(st: x",
		"H\xc3\xa9: x",			/* non-ASCII name */
		"X: a\x01",
		"X: a\x1b[0m",
		"X: \x7f",
		"X: a\vb",
	};
	char	 buf[128];
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(buf, sizeof(buf), "GET /metrics HTTP/1.1\r\n%s\r\n"
		    "\r\n", bad[i]);
		assert_int_equal(test_parse(buf), 400);
	}
	/* obs-fold after a good field. */
	assert_int_equal(test_parse("GET /metrics HTTP/1.1\r\nX: a\r\n b\r\n"
	    "\r\n"), 400);
	/* A HEAD found malformed later is no HEAD: its 400 has a body. */
	assert_false(test_head("HEAD /metrics HTTP/1.1\r\nX: a\rb"));
	assert_int_equal(test_parse_len("HEAD / HTTP/1.1\r\nX\0", 19,
	    &(struct metrics_http){ 0 }), 400);
	assert_false(test_head("HEAD /metrics HTTP/1.1\r\nX y\r\n"));
	/* A fault in a field beats the 404 or 405 its request line says. */
	assert_int_equal(test_parse("GET / HTTP/1.1\r\n x\r\n\r\n"), 400);
	assert_int_equal(test_parse("PUT /metrics HTTP/1.1\r\n x\r\n\r\n"),
	    400);
}

/* A NUL anywhere in the head, and non-ASCII outside a field value. */
static void
test_bytes(void **state)
{
	const char	 r1[] = "GET /metrics HTTP/1.1\r\n\r\n";
	const char	 r2[] = "GET /metrics HTTP/1.1\r\nX: \0\r\n\r\n";
	char		 buf[sizeof(r1)];
	size_t		 i, n = sizeof(r1) - 1;

	for (i = 0; i < n; i++) {
		memcpy(buf, r1, n);
		buf[i] = '\0';
		assert_int_equal(test_parse_len(buf, n, &(struct metrics_http){
		    0 }), 400);
	}
	assert_int_equal(test_parse_len(r2, sizeof(r2) - 1,
	    &(struct metrics_http){ 0 }), 400);
	assert_int_equal(test_parse("GET /m\xc3\xa9trics HTTP/1.1\r\n\r\n"),
	    400);
	assert_int_equal(test_parse("GET /metrics?\xff HTTP/1.1\r\n\r\n"), 400);
	assert_int_equal(test_parse("G\xc3\x89T /metrics HTTP/1.1\r\n\r\n"),
	    400);
	/* A TLS ClientHello: its NUL decides. */
	assert_int_equal(test_parse("\x16\x03\x01\x02"), 0);
	assert_int_equal(test_parse_len("\x16\x03\x01\x02\x00\x01", 6,
	    &(struct metrics_http){ 0 }), 400);
}

/* The head fits in METRICS_REQUEST bytes, or 431; no line is longer. */
static void
test_lengths(void **state)
{
	struct metrics_http	 r;
	const char		*pre = "GET /metrics HTTP/1.1\r\nX: ";
	char			*buf;
	size_t			 n, fill;

	buf = malloc(METRICS_REQUEST * 2);
	assert_non_null(buf);

	/* Exactly METRICS_REQUEST bytes of head: served. */
	n = strlen(pre);
	fill = METRICS_REQUEST - n - 4;
	memcpy(buf, pre, n);
	memset(buf + n, 'a', fill);
	memcpy(buf + n + fill, "\r\n\r\n", 4);
	assert_int_equal(test_parse_len(buf, METRICS_REQUEST, &r), 200);
	assert_int_equal(r.len, METRICS_REQUEST);
	/* One more: refused once METRICS_REQUEST bytes came. */
	memset(buf + n, 'a', fill + 1);
	memcpy(buf + n + fill + 1, "\r\n\r\n", 4);
	assert_int_equal(test_parse_len(buf, METRICS_REQUEST - 1, &r), 0);
	assert_int_equal(test_parse_len(buf, METRICS_REQUEST, &r), 431);
	assert_int_equal(r.len, METRICS_REQUEST);
	assert_false(r.head);
	assert_int_equal(test_parse_len(buf, METRICS_REQUEST + 5, &r), 431);

	/* A request line that long, and a target: the same. */
	memcpy(buf, "HEAD /metrics?", 14);
	memset(buf + 14, 'q', METRICS_REQUEST * 2 - 14);
	assert_int_equal(test_parse_len(buf, METRICS_REQUEST * 2, &r), 431);
	assert_false(r.head);
	/* Many short fields add up. */
	memcpy(buf, "GET /metrics HTTP/1.1\r\n", 23);
	for (n = 23; n + 5 <= METRICS_REQUEST * 2; n += 5)
		memcpy(buf + n, "X:a\r\n", 5);
	assert_int_equal(test_parse_len(buf, n, &r), 431);
	/* A fault within the bound is said as such, not as its length. */
	buf[100] = '\0';
	assert_int_equal(test_parse_len(buf, n, &r), 400);
	assert_int_equal(r.len, 101);
	free(buf);
}

/* Every prefix of a request: nothing decided, then the one answer. */
static void
test_splits(void **state)
{
	const char *const	 reqs[] = {
		"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
		"HEAD /metrics?x HTTP/1.0\n\n",
		"PUT /metrics HTTP/1.1\r\n\r\n",
		"GET /x HTTP/1.1\r\nA: b\r\n\r\n",
		"GET /metrics HTTP/1.1\r\nA : b\r\nC: d\r\n\r\n",
	};
	struct metrics_http	 r, rk;
	size_t			 i, k, n;
	int			 code;

	for (i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		n = strlen(reqs[i]);
		code = test_parse_len(reqs[i], n, &r);
		assert_int_not_equal(code, 0);
		for (k = 0; k <= n; k++) {
			if (k < r.len) {
				assert_int_equal(test_parse_len(reqs[i], k,
				    &rk), 0);
				assert_int_equal(rk.len, 0);
				assert_false(rk.head);
				continue;
			}
			assert_int_equal(test_parse_len(reqs[i], k, &rk), code);
			assert_int_equal(rk.len, r.len);
			assert_int_equal(rk.head, r.head);
		}
	}
}

/* Every status has its reason phrase. */
static void
test_reason(void **state)
{
	assert_string_equal(metrics_http_reason(200), "OK");
	assert_string_equal(metrics_http_reason(400), "Bad Request");
	assert_string_equal(metrics_http_reason(404), "Not Found");
	assert_string_equal(metrics_http_reason(405), "Method Not Allowed");
	assert_string_equal(metrics_http_reason(431),
	    "Request Header Fields Too Large");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_target),
		cmocka_unit_test(test_method),
		cmocka_unit_test(test_request_line),
		cmocka_unit_test(test_line_ends),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_bytes),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_splits),
		cmocka_unit_test(test_reason),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
