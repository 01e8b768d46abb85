/*
 * worker.h: the event loops sessions live on.
 *
 * With one worker, sessions run on the main loop, which also accepts.
 * With more, each worker is a thread with its own event_base; the main
 * loop accepts and hands each connection to one worker through a queue
 * and a wake-up, and the session lives and dies on that worker.  Counters
 * are kept per worker and summed for STATUS=.
 */
#ifndef ECHOD_WORKER_H
#define ECHOD_WORKER_H

#include <sys/queue.h>
#include <sys/socket.h>

#include <stdatomic.h>
#include <stdint.h>

#include <event2/util.h>

struct conf;
struct evbuffer;
struct event_base;
struct listener;
struct listener_conf;
struct session;
struct timers;
struct worker;

TAILQ_HEAD(session_list, session);

/* What a worker counts; written by its thread, summed by the main one. */
struct worker_stats {
	atomic_uint_fast64_t	accepted;
	atomic_uint_fast64_t	bytes;		/* echoed back */
	atomic_uint_fast64_t	released;	/* buffers of quiet sessions */
};

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
			    const struct listener_conf *, struct listener *);
/* Sums over all workers (open sessions: listeners_open()). */
uint64_t		 workers_accepted(void);
uint64_t		 workers_bytes(void);
uint64_t		 workers_released(void);
/* Ask every worker to close its sessions with reason (graceful stop). */
void			 workers_close_all(const char *reason);
/* Stop the worker threads and free them; sessions must be gone. */
void			 workers_stop(void);

/* For session.c: the loop, its timers, the sessions and counters of w. */
struct event_base	*worker_base(struct worker *);
struct timers		*worker_timers(struct worker *);
struct session_list	*worker_sessions(struct worker *);
struct worker_stats	*worker_stats(struct worker *);
/* A buffer the session code of w's thread may use and must leave empty. */
struct evbuffer		*worker_scratch(struct worker *);
/*
 * WORKER_BUFFER bytes the session code of w's thread reads into; nothing
 * may stay in them past the callback.  Twice the reference's 32 KiB, so a
 * stream of 16 KiB writes takes few reads.
 */
#define WORKER_BUFFER	(64 * 1024)
char			*worker_buffer(struct worker *);

#endif
