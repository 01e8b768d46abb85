/*
 * metrics.h: the Prometheus endpoint (echod.conf(5), METRICS).
 *
 * GET /metrics answers in the text exposition format 0.0.4 with the
 * counters of every listener (slot.h), the memory budget and the life of
 * the process.  It runs on the main loop, on its own socket (the
 * "metrics" group) or on a passed one named "metrics", and bounds what a
 * client can make it spend: connections, bytes of a request, time.
 */
#ifndef ECHOD_METRICS_H
#define ECHOD_METRICS_H

#include <stdbool.h>

struct conf;
struct event_base;

/*
 * Serve the endpoint conf asks for, or the passed socket, on base; 0 if
 * neither (off), -1 with *cause allocated when it cannot be opened.
 */
int	 metrics_start(struct event_base *, const struct conf *,
	    char **cause);
/* A reload was applied (ok) or rejected, now. */
void	 metrics_reloaded(bool ok);
/* Close the endpoint and every scrape in progress.  Safe if never
 * started. */
void	 metrics_free(void);

#endif
