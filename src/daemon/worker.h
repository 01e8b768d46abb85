/*
 * worker.h: the event loops sessions live on.
 *
 * With one worker, sessions run on the main loop, which also accepts.
 * With more, each worker is a thread with its own event_base; the main
 * loop accepts and hands each connection to one worker through a queue
 * and a wake-up, and the session lives and dies on that worker.  A worker
 * holds the sessions of its loop (session.h), whose counters are summed
 * here for STATUS=.
 */
#ifndef ECHOD_WORKER_H
#define ECHOD_WORKER_H

#include <sys/socket.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <event2/util.h>

struct conf;
struct event_base;
struct slots;
struct listener_conf;
struct timers;

/* A base configured as conf says (event_method); NULL on failure. */
struct event_base	*worker_base_new(const struct conf *);
/*
 * Start n workers (n >= 1); with n == 1 the main base, and its timers,
 * are the worker's.  Returns -1 with *cause allocated on failure.
 */
int			 workers_start(struct event_base *main,
			    struct timers *main_timers, unsigned int n,
			    const struct conf *, char **cause);
unsigned int		 workers_count(void);
/* Serve an accepted connection on the next worker (round robin). */
void			 workers_dispatch(evutil_socket_t,
			    const struct sockaddr *, socklen_t, struct conf *,
			    const struct listener_conf *, struct slots *);
/* Sums over all workers (open sessions: slots_open()). */
uint64_t		 workers_accepted(void);
uint64_t		 workers_bytes(void);
uint64_t		 workers_released(void);
uint64_t		 workers_closed(void);
/* Ask every worker to close its sessions with reason (graceful stop). */
void			 workers_close_all(const char *reason);
/* Stop the worker threads and free them; sessions must be gone. */
void			 workers_stop(void);

#endif
