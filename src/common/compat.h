/*
 * compat.h: what glibc's headers lack of the BSD ones echod is written
 * against.
 */
#ifndef ECHOD_COMPAT_H
#define ECHOD_COMPAT_H

#include <sys/queue.h>

/* glibc's sys/queue.h lacks the BSD safe-removal iterator. */
#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST(head);					\
	    (var) != NULL && ((tvar) = TAILQ_NEXT(var, field), 1);	\
	    (var) = (tvar))
#endif

#endif
