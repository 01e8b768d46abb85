/*
 * slot.c: connection slots, counted per listener and over all, and the
 * per-loop counter cells of each listener.
 */
#include <sys/queue.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "compat.h"
#include "conf.h"
#include "slot.h"

struct slots {
	atomic_uint		 n;	/* slots held */
	atomic_uint		 refs;	/* the listener's, and one per slot */
	/* The main loop's alone: */
	TAILQ_ENTRY(slots)	 entry;
	char			 name[CONF_NAME_MAX + 1];
	bool			 udp;
	uint64_t		 carried[SC_COUNT];	/* of reaped ones */
	struct slot_cell	*cells;
};

const char *const slot_reasons[] = {
	"eof", "timeout", "write-timeout", "error", "line-too-long",
	"shutdown", "proxy-error", "tls-error", "handshake-timeout",
	"scripted"
};
const char *const slot_limits[] = {
	"global", "listener", "per_source", "rate", "proxy_from", "refuse"
};
const char *const slot_udp_results[] = {
	"echoed", "dropped_rate", "dropped_guard", "dropped_size",
	"dropped_send", "dropped_stamp"
};

TAILQ_HEAD(slots_list, slots);
static struct slots_list slots_all = TAILQ_HEAD_INITIALIZER(slots_all);
static unsigned int slots_ncells = 1;

/* Slots held over all listeners. */
static atomic_uint slots_total;
/* The event to activate when slots_total reaches 0 while stopping. */
static struct event *_Atomic slots_drained;

/* Cells for ncells loops in every slots made from now on. */
void
slots_init(unsigned int ncells)
{
	slots_ncells = ncells;
}

/* The slots of a new listener, with its reference (main loop). */
struct slots *
slots_new(void)
{
	struct slots	*sl;

	if ((sl = calloc(1, sizeof(*sl))) == NULL)
		return (NULL);
	if ((sl->cells = aligned_alloc(_Alignof(struct slot_cell),
	    slots_ncells * sizeof(*sl->cells))) == NULL) {
		free(sl);
		return (NULL);
	}
	memset(sl->cells, 0, slots_ncells * sizeof(*sl->cells));
	atomic_init(&sl->refs, 1);
	TAILQ_INSERT_TAIL(&slots_all, sl, entry);
	return (sl);
}

/*
 * Drop a reference.  The last one (on any thread) leaves sl on the main
 * loop's list, for slots_reap() to count and free.
 */
void
slots_unref(struct slots *sl)
{
	if (sl != NULL)
		atomic_fetch_sub(&sl->refs, 1);
}

/* The name and protocol of sl's series. */
void
slots_label(struct slots *sl, const char *name, bool udp)
{
	snprintf(sl->name, sizeof(sl->name), "%s", name);
	sl->udp = udp;
}

/* Take a slot. */
void
slot_take(struct slots *sl)
{
	atomic_fetch_add(&slots_total, 1);
	atomic_fetch_add(&sl->n, 1);
	atomic_fetch_add(&sl->refs, 1);
}

/* Give a slot back; the last one of a graceful stop wakes the main loop. */
void
slot_release(struct slots *sl)
{
	struct event	*drained;

	atomic_fetch_sub(&sl->n, 1);
	slots_unref(sl);
	/* event_active() is thread-safe with evthread enabled. */
	if (atomic_fetch_sub(&slots_total, 1) == 1 &&
	    (drained = atomic_load(&slots_drained)) != NULL)
		event_active(drained, 0, 0);
}

/* Slots held of sl. */
unsigned int
slots_count(const struct slots *sl)
{
	return (atomic_load(&sl->n));
}

/* Slots held of every listener, connections on their way to a worker
 * included. */
unsigned int
slots_open(void)
{
	return (atomic_load(&slots_total));
}

/*
 * A release that reaches 0 after the store sees the event; one before it
 * left 0 for the load below.  Both may activate it, which event_active()
 * takes as once.
 */
void
slots_drain(struct event *drained)
{
	atomic_store(&slots_drained, drained);
	if (drained != NULL && atomic_load(&slots_total) == 0)
		event_active(drained, 0, 0);
}

/* Cell i of sl. */
struct slot_cell *
slots_cell(struct slots *sl, unsigned int i)
{
	return (&sl->cells[i < slots_ncells ? i : 0]);
}

/* The counter of close reason r; SC_COUNT for "refused" and the like. */
enum slot_counter
slot_reason(const char *r)
{
	int	 k;

	for (k = SC_CLOSED_FIRST; k <= SC_CLOSED_LAST; k++)
		if (strcmp(slot_reasons[k - SC_CLOSED_FIRST], r) == 0)
			return (k);
	return (SC_COUNT);
}

/* Add what sl counted, over every loop and carried, to v. */
static void
slots_sum(const struct slots *sl, uint64_t v[SC_COUNT])
{
	unsigned int	 i;
	int		 k;

	for (k = 0; k < SC_COUNT; k++) {
		v[k] += sl->carried[k];
		for (i = 0; i < slots_ncells; i++)
			v[k] += atomic_load_explicit(&sl->cells[i].v[k],
			    memory_order_relaxed);
	}
}

/* Whether a and b are series of the same name and protocol. */
static bool
slots_same(const struct slots *a, const struct slots *b)
{
	return (a->udp == b->udp && strcmp(a->name, b->name) == 0);
}

/* Free sl: no loop counts into it any more. */
static void
slots_free(struct slots *sl)
{
	TAILQ_REMOVE(&slots_all, sl, entry);
	free(sl->cells);
	free(sl);
}

/* Free what nobody holds, its counts kept by a live twin if any. */
void
slots_reap(void)
{
	struct slots	*sl, *tmp, *o;

	TAILQ_FOREACH_SAFE(sl, &slots_all, entry, tmp) {
		/* Acquire: every count its last holder made is seen. */
		if (atomic_load(&sl->refs) != 0)
			continue;
		TAILQ_FOREACH(o, &slots_all, entry)
			if (o != sl && atomic_load(&o->refs) != 0 &&
			    slots_same(o, sl))
				break;
		if (o != NULL)
			slots_sum(sl, o->carried);
		slots_free(sl);
	}
}

/* The series of every listener, one per name and protocol. */
int
slots_collect(struct slots_series **out)
{
	struct slots_series	*v;
	struct slots		*sl, *o;
	int			 n = 0, i;

	slots_reap();
	*out = NULL;
	TAILQ_FOREACH(sl, &slots_all, entry)
		n++;
	if (n == 0)
		return (0);
	if ((v = calloc(n, sizeof(*v))) == NULL)
		return (-1);
	n = 0;
	TAILQ_FOREACH(sl, &slots_all, entry) {
		/* The first of its name and protocol gathers them all. */
		for (o = TAILQ_FIRST(&slots_all); o != sl;
		    o = TAILQ_NEXT(o, entry))
			if (slots_same(o, sl))
				break;
		/* Unnamed: a listener of a reload that never committed. */
		if (o != sl || sl->name[0] == '\0')
			continue;
		i = n++;
		snprintf(v[i].name, sizeof(v[i].name), "%s", sl->name);
		v[i].udp = sl->udp;
		for (o = sl; o != NULL; o = TAILQ_NEXT(o, entry)) {
			if (!slots_same(o, sl))
				continue;
			v[i].sessions += atomic_load(&o->n);
			slots_sum(o, v[i].v);
		}
	}
	*out = v;
	return (n);
}

/* Free every slots: at exit, once no loop runs. */
void
slots_free_all(void)
{
	struct slots	*sl;

	while ((sl = TAILQ_FIRST(&slots_all)) != NULL)
		slots_free(sl);
}
