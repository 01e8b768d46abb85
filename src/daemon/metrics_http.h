/*
 * metrics_http.h: the request of a scrape, read from its bytes (pure).
 *
 * The endpoint (metrics.c) serves one resource: GET or HEAD of
 * "/metrics", a query string allowed.  metrics_http_parse() says what to
 * answer a connection's first bytes, or that it needs more of them.  It
 * takes no libevent and no socket, so a fuzz target links it alone.
 */
#ifndef ECHOD_METRICS_HTTP_H
#define ECHOD_METRICS_HTTP_H

#include <stdbool.h>
#include <stddef.h>

/* The request line and headers, empty line included, fit in this. */
#define METRICS_REQUEST		8192

/* What the bytes read so far decided. */
struct metrics_http {
	size_t	 len;	/* bytes that decided it: the head, or up to the fault */
	bool	 head;	/* HEAD: the reply has no body */
};

/*
 * Read the first len bytes of a connection.  Returns 0 when they decide
 * nothing yet (then len < METRICS_REQUEST), or the status to answer:
 * 200 (GET or HEAD of /metrics), 404 (another target), 405 (another
 * method), 400 (not an HTTP/1.x request: a NUL, a bare CR, obs-fold, a
 * byte a request line or field may not hold), 431 (longer than
 * METRICS_REQUEST).  The answer depends on the first r->len bytes alone:
 * more bytes never change it.  A line may end in a bare LF (RFC 9112,
 * 2.2).  Reads no byte past len.
 */
int		 metrics_http_parse(const char *, size_t, struct metrics_http *);
/* The reason phrase of a status metrics_http_parse() returns. */
const char	*metrics_http_reason(int);

#endif
