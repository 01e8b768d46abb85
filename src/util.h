/*
 * util.h: small helpers shared by the daemon's modules.
 */
#ifndef ECHOD_UTIL_H
#define ECHOD_UTIL_H

#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <stddef.h>
#include <stdint.h>

/* glibc's sys/queue.h lacks the BSD safe-removal iterator. */
#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST(head);					\
	    (var) != NULL && ((tvar) = TAILQ_NEXT(var, field), 1);	\
	    (var) = (tvar))
#endif

/* Microseconds of CLOCK_MONOTONIC. */
uint64_t	 now_usec(void);
uint64_t	 coarse_usec(void);
/* Whether a timeout is set; zero means "never". */
int		 tv_isset(const struct timeval *);

#endif
