/*
 * session_rate.c: a session's rate limits (echod.conf(5), rate and
 * listener_rate): libevent's own token buckets on its bufferevent, and
 * for a listener_rate the listener's rate-limit group, shared by its
 * sessions on every loop.
 *
 * libevent meters only what a bufferevent reads and writes itself, so a
 * rated session takes the bufferevent path from its start
 * (session_script_bev()), never the direct one.
 *
 * A bucket is refilled every SESSION_RATE_TICK_USEC (a second for a rate
 * under 100 bytes per second) by one tick's worth, and holds up to
 * 1/SESSION_RATE_BURST of a second's: a session stops reading while 64
 * KiB of replies wait (SESSION_TLS_HIGH) and reads again once they are
 * all written, and with a burst of one tick the tokens of that gap were
 * lost (a write rate came out 17 % low).  Over 5 s the burst adds at
 * most 1.25 %.
 *
 * The group of a listener (by its name and listener_rate, so a reload
 * that changes neither keeps it, and one that changes the rate gives new
 * sessions a new group and leaves the old ones theirs) is made on its
 * first member's arrival and
 * let go with its last, from a table under a lock: its members are on
 * every worker's loop, and libevent's group refills and suspends them
 * from the loop it is on.  That loop is the main one
 * (session_rate_base()), which outlives the workers, and a group is
 * freed there, from an event of that loop: its refill event is
 * EV_FINALIZE, so an event_del() from another thread would not wait for
 * a refill under way, which would then lock a freed group.  So those bufferevents are BEV_OPT_THREADSAFE
 * (evthread is on with more than one worker; with one, all are on one
 * loop and the option costs nothing), and libevent takes a member's lock
 * only with a try-lock where it holds the group's.  Per-loop groups with
 * a share each would need no locks, but would undershoot whenever the
 * sessions are spread unevenly over the loops.
 *
 * Below session.c: it calls only libevent.
 */
#include <sys/queue.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "session_int.h"

#define SESSION_RATE_TICK_USEC	(10 * 1000)
#define SESSION_RATE_BURST	16

/* A listener's group, while it has members. */
struct session_rate_group {
	LIST_ENTRY(session_rate_group)	 entry;
	/* Whose: a listener's name and rates, whatever configuration. */
	char				 name[CONF_NAME_MAX + 1];
	struct conf_rate		 rate;
	struct ev_token_bucket_cfg	*cfg;
	struct bufferevent_rate_limit_group *group;
	unsigned int			 members;
};

static LIST_HEAD(, session_rate_group) session_rate_groups =
    LIST_HEAD_INITIALIZER(session_rate_groups);
/* Groups without members, whose free the main loop has been asked for. */
static LIST_HEAD(, session_rate_group) session_rate_dying =
    LIST_HEAD_INITIALIZER(session_rate_dying);
static pthread_mutex_t session_rate_lock = PTHREAD_MUTEX_INITIALIZER;
/* The loop groups live on; NULL: each its first member's (tests). */
static struct event_base *session_rate_loop;

/* See session_int.h. */
void
session_rate_base(struct event_base *base)
{
	session_rate_loop = base;
}

/* Free a group without members. */
static void
session_rate_free(struct session_rate_group *rg)
{
	bufferevent_rate_limit_group_free(rg->group);
	ev_token_bucket_cfg_free(rg->cfg);
	free(rg);
}

/* On the groups' loop: free the dying group arg, unless torn down. */
static void
session_rate_reap(evutil_socket_t fd, short what, void *arg)
{
	struct session_rate_group	*rg = arg, *d;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&session_rate_lock);
	LIST_FOREACH(d, &session_rate_dying, entry)
		if (d == rg)
			break;
	if (d != NULL)
		LIST_REMOVE(rg, entry);
	pthread_mutex_unlock(&session_rate_lock);
	if (d != NULL)
		session_rate_free(rg);
}

/* See session_int.h. */
void
session_rate_free_all(void)
{
	struct session_rate_group	*rg;

	pthread_mutex_lock(&session_rate_lock);
	while ((rg = LIST_FIRST(&session_rate_dying)) != NULL ||
	    (rg = LIST_FIRST(&session_rate_groups)) != NULL) {
		LIST_REMOVE(rg, entry);
		session_rate_free(rg);
	}
	pthread_mutex_unlock(&session_rate_lock);
}

/* usec's worth of rate bytes per second, at least 1; unlimited: 0. */
static size_t
session_rate_tick(uint64_t rate, uint64_t usec)
{
	uint64_t	 n;

	if (rate == 0)
		return (EV_RATE_LIMIT_MAX);
	n = rate * usec / 1000000;
	if (n > EV_RATE_LIMIT_MAX)
		n = EV_RATE_LIMIT_MAX;
	return (n == 0 ? 1 : (size_t)n);
}

/* The buckets of r: NULL when out of memory. */
static struct ev_token_bucket_cfg *
session_rate_cfg(const struct conf_rate *r)
{
	struct timeval	 tv = { 0, SESSION_RATE_TICK_USEC };
	uint64_t	 tick = SESSION_RATE_TICK_USEC;
	size_t		 rd, wr, rb, wb;

	/* Under 100 bytes per second, a 10 ms tick would round to 0. */
	if ((r->read != 0 && r->read < 100) ||
	    (r->write != 0 && r->write < 100)) {
		tv.tv_sec = 1;
		tv.tv_usec = 0;
		tick = 1000000;
	}
	rd = session_rate_tick(r->read, tick);
	wr = session_rate_tick(r->write, tick);
	rb = session_rate_tick(r->read, 1000000 / SESSION_RATE_BURST);
	wb = session_rate_tick(r->write, 1000000 / SESSION_RATE_BURST);
	return (ev_token_bucket_cfg_new(rd, rb > rd ? rb : rd, wr,
	    wb > wr ? wb : wr, &tv));
}

/* The group of s's listener, made on s's loop if it has none. */
static struct session_rate_group *
session_rate_join(struct session *s)
{
	struct session_rate_group	*rg;

	pthread_mutex_lock(&session_rate_lock);
	LIST_FOREACH(rg, &session_rate_groups, entry) {
		if (strcmp(rg->name, s->lc->name) == 0 &&
		    rg->rate.read == s->lc->listener_rate.read &&
		    rg->rate.write == s->lc->listener_rate.write)
			break;
	}
	if (rg == NULL && (rg = calloc(1, sizeof(*rg))) != NULL) {
		snprintf(rg->name, sizeof(rg->name), "%s", s->lc->name);
		rg->rate = s->lc->listener_rate;
		if ((rg->cfg = session_rate_cfg(&s->lc->listener_rate)) ==
		    NULL || (rg->group = bufferevent_rate_limit_group_new(
		    session_rate_loop != NULL ? session_rate_loop :
		    s->set->base, rg->cfg)) == NULL) {
			if (rg->cfg != NULL)
				ev_token_bucket_cfg_free(rg->cfg);
			free(rg);
			rg = NULL;
		} else
			LIST_INSERT_HEAD(&session_rate_groups, rg, entry);
	}
	if (rg != NULL)
		rg->members++;
	pthread_mutex_unlock(&session_rate_lock);
	return (rg);
}

/* s's bufferevent is no longer a member: the last one frees the group. */
static void
session_rate_leave(struct session *s)
{
	struct session_rate_group	*rg = s->rgroup;

	bufferevent_remove_from_rate_limit_group(s->bev);
	s->rgroup = NULL;
	pthread_mutex_lock(&session_rate_lock);
	if (--rg->members > 0) {
		pthread_mutex_unlock(&session_rate_lock);
		return;
	}
	LIST_REMOVE(rg, entry);
	if (session_rate_loop == NULL) {
		/* All on one loop, this one: nothing can be under way. */
		pthread_mutex_unlock(&session_rate_lock);
		session_rate_free(rg);
		return;
	}
	/* Freed on its loop; if that has stopped, by session_rate_free_all(). */
	LIST_INSERT_HEAD(&session_rate_dying, rg, entry);
	pthread_mutex_unlock(&session_rate_lock);
	(void)event_base_once(session_rate_loop, -1, EV_TIMEOUT,
	    session_rate_reap, rg, NULL);
}

/*
 * Meter s's new bufferevent as its listener says.  Returns -1 when out
 * of memory (s is not freed).
 */
int
session_rate_start(struct session *s)
{
	const struct listener_conf	*lc = s->lc;

	if (lc->rate.read != 0 || lc->rate.write != 0) {
		if ((s->rcfg = session_rate_cfg(&lc->rate)) == NULL ||
		    bufferevent_set_rate_limit(s->bev, s->rcfg) == -1)
			return (-1);
	}
	if (lc->listener_rate.read != 0 || lc->listener_rate.write != 0) {
		if ((s->rgroup = session_rate_join(s)) == NULL)
			return (-1);
		if (bufferevent_add_to_rate_limit_group(s->bev,
		    s->rgroup->group) == -1) {
			session_rate_leave(s);
			return (-1);
		}
	}
	return (0);
}

/*
 * Before s's bufferevent is freed: out of its group, and its buckets
 * freed, so that nothing of either is left to its deferred finalizing.
 */
void
session_rate_stop(struct session *s)
{
	if (s->rgroup != NULL)
		session_rate_leave(s);
	if (s->rcfg != NULL) {
		bufferevent_set_rate_limit(s->bev, NULL);
		ev_token_bucket_cfg_free(s->rcfg);
		s->rcfg = NULL;
	}
}
