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
#include <stdbool.h>
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
	atomic_uint_fast64_t	closed;		/* sessions ended */
	atomic_uint_fast64_t	held;		/* bytes its sessions hold now */
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
uint64_t		 workers_closed(void);
/*
 * The memory budget (max_memory, session.c): the bytes all sessions hold
 * together, summed over the workers' held counters.  Past the budget the
 * workers are "over" until the total drains to 7/8 of it; then each
 * worker wakes the sessions that wait for memory.  workers_budget() sets
 * it (at start and at each reload) and looks again, as does
 * workers_memory_tick() once a second, which also wakes what a race
 * between two workers may have left waiting.
 */
uint64_t		 workers_held(void);
void			 workers_budget(uint64_t);
void			 workers_memory_tick(void);
/* Whether past the budget; one relaxed load, the read path's only cost. */
bool			 workers_over(void);
/* Ask every worker to close its sessions with reason (graceful stop). */
void			 workers_close_all(const char *reason);
/* Stop the worker threads and free them; sessions must be gone. */
void			 workers_stop(void);

/* For session.c: the loop, its timers, the sessions and counters of w. */
struct event_base	*worker_base(struct worker *);
struct timers		*worker_timers(struct worker *);
struct session_list	*worker_sessions(struct worker *);
struct worker_stats	*worker_stats(struct worker *);
/* The sessions of w that wait for memory, oldest first. */
struct session_list	*worker_waiting(struct worker *);
/* A session of w now holds delta more bytes (or fewer): count, compare. */
void			 worker_hold(struct worker *, int64_t delta);
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
