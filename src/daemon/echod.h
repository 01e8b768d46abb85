/*
 * echod.h: the process-wide runtime: the main loop and the current
 * configuration.
 */
#ifndef ECHOD_ECHOD_H
#define ECHOD_ECHOD_H

#include <stdatomic.h>
#include <stdbool.h>

struct event_base;
struct conf;
struct timers;

struct echod {
	struct event_base	*base;		/* the main loop: signals, accept */
	struct timers		*timers;	/* base's (timer.h) */
	struct conf		*conf;		/* current; new sessions ref it */
	atomic_bool		 stopping;	/* SIGTERM seen: draining */
};

extern struct echod	 echod;

#endif
