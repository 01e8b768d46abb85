/*
 * echod.h: the process-wide runtime: the main loop, the current
 * configuration and the counters STATUS= reports.
 */
#ifndef ECHOD_ECHOD_H
#define ECHOD_ECHOD_H

#include <stdbool.h>
#include <stdint.h>

struct event_base;
struct conf;

struct echod {
	struct event_base	*base;
	struct conf		*conf;		/* current; new sessions ref it */
	bool			 stopping;	/* SIGTERM seen: draining */
	uint64_t		 accepted;	/* sessions accepted */
	uint64_t		 bytes;		/* bytes echoed back */
};

extern struct echod	 echod;

/* A session ended; while stopping, the last one ends the loop. */
void	echod_session_gone(void);

#endif
