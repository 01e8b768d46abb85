/*
 * slot.c: connection slots, counted per listener and over all.
 */
#include <stdatomic.h>
#include <stdlib.h>

#include <event2/event.h>

#include "slot.h"

struct slots {
	atomic_uint	 n;		/* slots held */
	atomic_uint	 refs;		/* the listener's, and one per slot */
};

/* Slots held over all listeners. */
static atomic_uint slots_total;
/* The event to activate when slots_total reaches 0 while stopping. */
static struct event *_Atomic slots_drained;

/* The slots of a new listener, with its reference. */
struct slots *
slots_new(void)
{
	struct slots	*sl;

	if ((sl = calloc(1, sizeof(*sl))) == NULL)
		return (NULL);
	atomic_init(&sl->refs, 1);
	return (sl);
}

/* Drop a reference; the last one frees. */
void
slots_unref(struct slots *sl)
{
	if (sl != NULL && atomic_fetch_sub(&sl->refs, 1) == 1)
		free(sl);
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
