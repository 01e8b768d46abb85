/*
 * worker.c: one event_base per worker thread, and the hand-off of new
 * connections from the main loop to them (queue + wake-up, as memcached's
 * dispatch_conn_new).
 */
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <stddef.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "budget.h"
#include "config.h"
#include "log.h"
#include "session.h"
#include "slot.h"
#include "timer.h"
#include "worker.h"

/* A connection accepted on the main loop, on its way to a worker. */
struct handoff {
	STAILQ_ENTRY(handoff)	 entry;
	evutil_socket_t		 fd;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	struct conf		*conf;		/* a reference, passed on */
	const struct listener_conf *lc;
	struct slots		*slots;		/* its slot's, passed on */
};

struct worker {
	unsigned int		 id;
	struct event_base	*base;
	struct timers		*timers;	/* base's */
	bool			 thread;	/* false: the main loop */
	pthread_t		 tid;
	struct event		*wake;		/* drains the queue */
	struct event		*closer;	/* closes every session */
	struct event		*stop;		/* ends the loop */
	struct event		*memwake;	/* wakes sessions (memory) */
	pthread_mutex_t		 lock;		/* protects queue */
	STAILQ_HEAD(, handoff)	 queue;
	const char		*close_reason;
	struct budget_share	*share;		/* of max_memory */
	struct sessions		*sessions;
};

static struct {
	struct worker	*v;
	unsigned int	 n;
	unsigned int	 next;		/* round robin */
} workers;

/*
 * How long a loop runs callbacks before it polls again.  A session whose
 * read filled the buffer makes its event active again (edge-triggered,
 * see session_read.c); without a limit libevent would run it again and again
 * in the same pass, and one client streaming faster than echod reads
 * would keep the loop from ever polling: no accepts, no signals, no
 * timers.  A limit in time, not in callbacks: checking the clock after
 * each callback costs less than polling after every 16 (3-4 % more CPU
 * per message at 1000 connections, bench/compare).
 */
static const struct timeval worker_max_dispatch = { 0, 1000 };

/*
 * An event loop with the configured backend; never the epoll changelist,
 * which breaks with descriptors systemd also holds (dup'ed).
 */
struct event_base *
worker_base_new(const struct conf *conf)
{
	static const char *const methods[] = { "epoll", "poll", "select" };
	struct event_config	*cfg;
	struct event_base	*base;
	size_t			 i;

	if ((cfg = event_config_new()) == NULL)
		return (NULL);
	event_config_set_flag(cfg, EVENT_BASE_FLAG_IGNORE_ENV);
	event_config_set_max_dispatch_interval(cfg, &worker_max_dispatch, -1,
	    0);
	if (strcmp(conf->event_method, "auto") != 0)
		for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
			if (strcmp(conf->event_method, methods[i]) != 0)
				event_config_avoid_method(cfg, methods[i]);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return (base);
}

/* Take the queued connections and serve them, on the worker's thread. */
static void
worker_wake(evutil_socket_t fd, short what, void *arg)
{
	struct worker	*w = arg;
	struct handoff	*h;

	for (;;) {
		pthread_mutex_lock(&w->lock);
		if ((h = STAILQ_FIRST(&w->queue)) != NULL)
			STAILQ_REMOVE_HEAD(&w->queue, entry);
		pthread_mutex_unlock(&w->lock);
		if (h == NULL)
			break;
		sessions_serve(w->sessions, h->fd, (struct sockaddr *)&h->ss,
		    h->sslen, h->conf, h->lc, h->slots);
		config_unref(h->conf);
		free(h);
	}
}

/* Close every session of this worker, on its own thread. */
static void
worker_closer(evutil_socket_t fd, short what, void *arg)
{
	struct worker	*w = arg;

	sessions_close_all(w->sessions, w->close_reason);
}

/*
 * End the worker's loop, from inside it: a loopbreak sent from another
 * thread before the loop started would be lost (event_base_loop() clears
 * it on entry), an active event is not.
 */
static void
worker_stop(evutil_socket_t fd, short what, void *arg)
{
	struct worker	*w = arg;

	event_base_loopbreak(w->base);
}

/*
 * Memory drained below the budget: wake the sessions waiting for it, a
 * few at a time (sessions_wake()), and come back after the reads of those
 * woken, which are active now, to see whether there is room for more.
 */
static void
worker_memwake(evutil_socket_t fd, short what, void *arg)
{
	struct worker	*w = arg;

	if (!budget_over() && sessions_wake(w->sessions))
		event_active(w->memwake, 0, 0);
}

/* A worker thread: its loop runs until workers_stop() ends it. */
static void *
worker_main(void *arg)
{
	struct worker	*w = arg;

	event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return (NULL);
}

/* Set up worker i on base (its own, or the main one). */
static int
worker_init(struct worker *w, unsigned int id, struct event_base *base,
    struct timers *timers, bool thread)
{
	w->id = id;
	w->base = base;
	w->timers = timers;
	w->thread = thread;
	STAILQ_INIT(&w->queue);
	pthread_mutex_init(&w->lock, NULL);
	w->wake = event_new(base, -1, 0, worker_wake, w);
	w->closer = event_new(base, -1, 0, worker_closer, w);
	w->stop = event_new(base, -1, 0, worker_stop, w);
	w->memwake = event_new(base, -1, 0, worker_memwake, w);
	if (w->timers == NULL || w->wake == NULL || w->closer == NULL ||
	    w->stop == NULL || w->memwake == NULL ||
	    (w->share = budget_join(w->memwake)) == NULL)
		return (-1);
	/* Cell 0 is the main loop's: it accepts, and serves UDP. */
	w->sessions = sessions_new(base, w->timers, w->share,
	    thread ? id + 1 : 0);
	return (w->sessions == NULL ? -1 : 0);
}

/*
 * Free what worker_init() set up, whatever part of it did; a thread's
 * own base and timers too.  Its sessions and queue must be gone.
 */
static void
worker_fini(struct worker *w)
{
	if (w->wake != NULL)
		event_free(w->wake);
	if (w->closer != NULL)
		event_free(w->closer);
	if (w->stop != NULL)
		event_free(w->stop);
	budget_leave(w->share);
	sessions_free(w->sessions);
	if (w->memwake != NULL)
		event_free(w->memwake);
	pthread_mutex_destroy(&w->lock);
	if (w->thread) {
		timers_free(w->timers);
		event_base_free(w->base);
	}
	memset(w, 0, sizeof(*w));
}

/* Start n workers; one means the main loop serves its sessions itself. */
int
workers_start(struct event_base *main, struct timers *main_timers,
    unsigned int n, const struct conf *conf, char **cause)
{
	struct event_base	*base;
	sigset_t		 all, old;
	unsigned int		 i;
	int			 r;

	if ((workers.v = calloc(n, sizeof(*workers.v))) == NULL ||
	    budget_init(n) == -1)
		goto fail;
	/* Counters: one cell per thread that counts (slot.h). */
	slots_init(n == 1 ? 1 : n + 1);
	/* listener_rate's groups: on the loop that outlives the workers. */
	sessions_rate_base(main);
	budget_set(conf->max_memory);
	if (n == 1) {
		if (worker_init(&workers.v[0], 0, main, main_timers,
		    false) == -1) {
			worker_fini(&workers.v[0]);
			goto fail;
		}
		workers.n = 1;
		return (0);
	}
	/* Signals are the main loop's: threads never take them. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (i = 0; i < n; i++) {
		if ((base = worker_base_new(conf)) == NULL)
			break;
		if (worker_init(&workers.v[i], i, base, timers_new(base),
		    true) == -1) {
			worker_fini(&workers.v[i]);
			break;
		}
		if ((r = pthread_create(&workers.v[i].tid, NULL, worker_main,
		    &workers.v[i])) != 0) {
			worker_fini(&workers.v[i]);
			errno = r;
			break;
		}
		workers.n++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (workers.n == n)
		return (0);
fail:
	if (asprintf(cause, "cannot start %u workers: %s", n,
	    strerror(errno)) == -1)
		*cause = NULL;
	return (-1);
}

/* Workers serving. */
unsigned int
workers_count(void)
{
	return (workers.n);
}

/* Hand an accepted connection to the next worker. */
void
workers_dispatch(evutil_socket_t fd, const struct sockaddr *sa,
    socklen_t salen, struct conf *conf, const struct listener_conf *lc,
    struct slots *sl)
{
	struct worker	*w = &workers.v[workers.next++ % workers.n];
	struct handoff	*h;

	if (!w->thread) {
		sessions_serve(w->sessions, fd, sa, salen, conf, lc, sl);
		return;
	}
	if ((h = calloc(1, sizeof(*h))) == NULL) {
		log_warn("cannot hand a connection on %s to a worker",
		    lc->name);
		close(fd);
		slot_release(sl);
		return;
	}
	h->fd = fd;
	memcpy(&h->ss, sa, salen);
	h->sslen = salen;
	h->conf = config_ref(conf);
	h->lc = lc;
	h->slots = sl;
	pthread_mutex_lock(&w->lock);
	STAILQ_INSERT_TAIL(&w->queue, h, entry);
	pthread_mutex_unlock(&w->lock);
	/* Thread-safe with evthread_use_pthreads(); wakes the loop. */
	event_active(w->wake, 0, 0);
}

/* One counter of struct sessions_stats, at offset off, summed. */
static uint64_t
workers_sum(size_t off)
{
	uint64_t	n = 0;
	unsigned int	i;

	for (i = 0; i < workers.n; i++)
		n += atomic_load_explicit((const atomic_uint_fast64_t *)
		    ((const char *)sessions_stats(workers.v[i].sessions) +
		    off), memory_order_relaxed);
	return (n);
}

/* Sessions accepted over all workers. */
uint64_t
workers_accepted(void)
{
	return (workers_sum(offsetof(struct sessions_stats, accepted)));
}

/* Bytes echoed over all workers. */
uint64_t
workers_bytes(void)
{
	return (workers_sum(offsetof(struct sessions_stats, bytes)));
}

/* Buffers given back by quiet sessions over all workers. */
uint64_t
workers_released(void)
{
	return (workers_sum(offsetof(struct sessions_stats, released)));
}

/* Sessions ended over all workers. */
uint64_t
workers_closed(void)
{
	return (workers_sum(offsetof(struct sessions_stats, closed)));
}

/* Close every session, each on its own worker's thread. */
void
workers_close_all(const char *reason)
{
	unsigned int	i;

	for (i = 0; i < workers.n; i++) {
		workers.v[i].close_reason = reason;
		if (workers.v[i].thread)
			event_active(workers.v[i].closer, 0, 0);
		else
			sessions_close_all(workers.v[i].sessions, reason);
	}
}

/* Stop the threads and free the workers. */
void
workers_stop(void)
{
	struct handoff	*h;
	unsigned int	 i;
	struct worker	*w;

	/*
	 * Every thread first: a session that closes on one may wake
	 * another's waiting sessions (budget.c).
	 */
	for (i = 0; i < workers.n; i++) {
		w = &workers.v[i];
		if (w->thread) {
			event_active(w->stop, 0, 0);
			pthread_join(w->tid, NULL);
		}
	}
	for (i = 0; i < workers.n; i++) {
		w = &workers.v[i];
		/* Connections still queued were never served. */
		while ((h = STAILQ_FIRST(&w->queue)) != NULL) {
			STAILQ_REMOVE_HEAD(&w->queue, entry);
			close(h->fd);
			slot_release(h->slots);
			config_unref(h->conf);
			free(h);
		}
		sessions_close_all(w->sessions, "shutdown");
		worker_fini(w);
	}
	/* Every session gone: the rate groups left (on the main loop). */
	sessions_rate_free();
	free(workers.v);
	budget_free();
	workers.v = NULL;
	workers.n = 0;
}
