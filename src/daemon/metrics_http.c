/*
 * metrics_http.c: the request of a scrape, read from its bytes (pure).
 *
 * Strict on purpose: a scraper (Prometheus, curl) sends one plain
 * HTTP/1.x request line and a few fields, so anything else is refused
 * rather than guessed at (RFC 9112): a NUL or a bare CR anywhere, a
 * field folded over lines (obs-fold), white space before a field's
 * colon, an empty line before the request line, a request line that is
 * not exactly METHOD SP TARGET SP HTTP/1.DIGIT.  The bytes are read once,
 * in order, and the first fault decides, so that more bytes never change
 * an answer.  Nothing past the head is read: a body is not ours.
 */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "metrics_http.h"

#define METRICS_PATH	"/metrics"

/* A byte of a token (RFC 9110, 5.6.2): a method or a field name. */
static bool
metrics_http_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return (true);
	return (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Whether the n bytes at p are the token s. */
static bool
metrics_http_is(const char *p, size_t n, const char *s)
{
	return (n == strlen(s) && memcmp(p, s, n) == 0);
}

/*
 * The request line, p[0..n) without its end: 200, 404 or 405, or 400;
 * *head for HEAD.
 */
static int
metrics_http_line(const char *p, size_t n, bool *head)
{
	const unsigned char	*u = (const unsigned char *)p;
	size_t			 i = 0, m, t, tlen;

	while (i < n && metrics_http_tchar(u[i]))
		i++;
	if ((m = i) == 0 || i == n || u[i] != ' ')
		return (400);
	t = ++i;
	/* The target: visible ASCII alone (RFC 3986 and 9112, 3.2). */
	while (i < n && u[i] > ' ' && u[i] < 0x7f)
		i++;
	if ((tlen = i - t) == 0 || i == n || u[i] != ' ')
		return (400);
	i++;
	if (n - i != 8 || memcmp(p + i, "HTTP/1.", 7) != 0 ||
	    u[i + 7] < '0' || u[i + 7] > '9')
		return (400);

	*head = metrics_http_is(p, m, "HEAD");
	if (tlen < strlen(METRICS_PATH) ||
	    memcmp(p + t, METRICS_PATH, strlen(METRICS_PATH)) != 0 ||
	    (tlen > strlen(METRICS_PATH) &&
	    p[t + strlen(METRICS_PATH)] != '?'))
		return (404);
	if (!*head && !metrics_http_is(p, m, "GET"))
		return (405);
	return (200);
}

/* A field line, p[0..n) without its end, n > 0: 0 if good, or 400. */
static int
metrics_http_field(const char *p, size_t n)
{
	const unsigned char	*u = (const unsigned char *)p;
	size_t			 i = 0;

	/* A leading SP or HTAB is obs-fold, and a name needs a byte. */
	while (i < n && metrics_http_tchar(u[i]))
		i++;
	if (i == 0 || i == n || u[i] != ':')
		return (400);
	/* The value: VCHAR, SP, HTAB and obs-text; no other control. */
	for (i++; i < n; i++)
		if ((u[i] < ' ' && u[i] != '\t') || u[i] == 0x7f)
			return (400);
	return (0);
}

int
metrics_http_parse(const char *buf, size_t len, struct metrics_http *r)
{
	size_t	 i, start = 0, end;
	int	 code = 0;

	memset(r, 0, sizeof(*r));
	for (i = 0; i < len && i < METRICS_REQUEST; i++) {
		r->len = i + 1;
		if (buf[i] == '\0' ||
		    (i > 0 && buf[i - 1] == '\r' && buf[i] != '\n'))
			goto bad;
		if (buf[i] != '\n')
			continue;
		end = i;
		if (end > start && buf[end - 1] == '\r')
			end--;
		if (start == 0) {
			/* The request line: what to answer, unless a fault. */
			if ((code = metrics_http_line(buf, end, &r->head)) ==
			    400)
				goto bad;
		} else if (end == start)
			return (code);	/* the empty line: the head is whole */
		else if (metrics_http_field(buf + start, end - start) != 0)
			goto bad;
		start = i + 1;
	}
	r->head = false;
	if (i == METRICS_REQUEST) {
		r->len = METRICS_REQUEST;
		return (431);
	}
	r->len = 0;
	return (0);

bad:
	/* A HEAD that turns out malformed gets a body with its 400. */
	r->head = false;
	return (400);
}

const char *
metrics_http_reason(int code)
{
	switch (code) {
	case 200:
		return ("OK");
	case 404:
		return ("Not Found");
	case 405:
		return ("Method Not Allowed");
	case 431:
		return ("Request Header Fields Too Large");
	default:
		return ("Bad Request");
	}
}
