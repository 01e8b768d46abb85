/*
 * test_udpstat.c: the figures of "echocli bench -u" against values
 * worked out by hand from their definitions: loss and its seconds,
 * duplicates, reordering (RFC 4737 section 3), interarrival jitter
 * (RFC 3550 section 6.4.1) and IPDV (RFC 3393, RFC 5481).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "hist.h"
#include "udpstat.h"

#define MS	1000000ull

/* n datagrams sent, one every step ns from 0. */
static struct udpstat *
sent(uint64_t n, uint64_t step)
{
	struct udpstat	*u;
	uint64_t	 i;

	u = udpstat_new();
	assert_non_null(u);
	for (i = 0; i < n; i++)
		assert_int_equal(udpstat_sent(u, i * step), 0);
	return (u);
}

/* The reply of seq, sent at seq * step, after rtt ns. */
static enum udpstat_reply
reply(struct udpstat *u, uint64_t seq, uint64_t step, uint64_t rtt)
{
	return (udpstat_received(u, seq, seq * step, seq * step + rtt));
}

/* Nothing sent: nothing to say, and no garbage. */
static void
test_empty(void **state)
{
	struct udpstat		*u;
	struct udpstat_sum	 s;

	u = sent(0, 0);
	udpstat_sum(u, &s);
	assert_int_equal(s.sent, 0);
	assert_int_equal(s.lost, 0);
	assert_int_equal(s.seconds, 0);
	assert_int_equal(s.ipdv_pairs, 0);
	assert_true(s.jitter_ns == 0.0);
	assert_int_equal(hist_count(udpstat_rtt(u)), 0);
	assert_int_equal(udpstat_received(u, 0, 0, 0), UDPSTAT_UNSENT);
	udpstat_free(u);
	udpstat_free(NULL);
}

/* A perfect path: all back, in order, every round trip the same. */
static void
test_perfect(void **state)
{
	struct udpstat		*u;
	struct udpstat_sum	 s;
	uint64_t		 i;

	u = sent(10, 100 * MS);
	for (i = 0; i < 10; i++)
		assert_int_equal(reply(u, i, 100 * MS, MS), UDPSTAT_NEW);
	udpstat_sum(u, &s);
	assert_int_equal(s.sent, 10);
	assert_int_equal(s.received, 10);
	assert_int_equal(s.lost, 0);
	assert_int_equal(s.duplicated, 0);
	assert_int_equal(s.reordered, 0);
	assert_true(s.jitter_ns == 0.0);
	assert_int_equal(s.ipdv_pairs, 9);
	assert_int_equal(s.ipdv_min_ns, 0);
	assert_int_equal(s.ipdv_max_ns, 0);
	assert_int_equal(hist_min(udpstat_rtt(u)), MS);
	assert_int_equal(hist_max(udpstat_rtt(u)), MS);
	assert_int_equal(s.seconds, 1);
	assert_int_equal(udpstat_second_sent(u, 0), 10);
	assert_int_equal(udpstat_second_lost(u, 0), 0);
	udpstat_free(u);
}

/* Loss is counted in the second its datagram was sent in. */
static void
test_loss_seconds(void **state)
{
	struct udpstat		*u;
	struct udpstat_sum	 s;
	uint64_t		 i;

	/* 0-9 in second 0, 10-19 in second 1, 20-29 in second 2. */
	u = sent(30, 100 * MS);
	for (i = 0; i < 30; i++)
		if (i != 3 && i != 12 && i != 15)
			reply(u, i, 100 * MS, MS);
	udpstat_sum(u, &s);
	assert_int_equal(s.received, 27);
	assert_int_equal(s.lost, 3);
	assert_int_equal(s.seconds, 3);
	assert_int_equal(udpstat_second_lost(u, 0), 1);
	assert_int_equal(udpstat_second_lost(u, 1), 2);
	assert_int_equal(udpstat_second_lost(u, 2), 0);
	assert_int_equal(udpstat_second_sent(u, 1), 10);
	assert_int_equal(s.worst, 1);
	assert_int_equal(s.worst_lost, 2);
	assert_int_equal(s.worst_sent, 10);
	/* Out of range: nothing, not a crash. */
	assert_int_equal(udpstat_second_sent(u, 3), 0);
	udpstat_free(u);
}

/* A second in which nothing was sent is in the series, empty. */
static void
test_silent_second(void **state)
{
	struct udpstat		*u;
	struct udpstat_sum	 s;

	u = udpstat_new();
	assert_int_equal(udpstat_sent(u, 0), 0);
	assert_int_equal(udpstat_sent(u, 2500 * MS), 0);
	udpstat_received(u, 1, 2500 * MS, 2501 * MS);
	udpstat_sum(u, &s);
	assert_int_equal(s.seconds, 3);
	assert_int_equal(udpstat_second_sent(u, 0), 1);
	assert_int_equal(udpstat_second_sent(u, 1), 0);
	assert_int_equal(udpstat_second_sent(u, 2), 1);
	assert_int_equal(udpstat_second_lost(u, 0), 1);
	assert_int_equal(udpstat_second_lost(u, 2), 0);
	assert_int_equal(s.worst, 0);
	udpstat_free(u);
}

/*
 * Duplicates are counted and then set aside: RFC 4737 section 3 takes
 * only the first copy, or a late copy of 0 would be "reordered".
 */
static void
test_duplicates(void **state)
{
	struct udpstat		*u;
	struct udpstat_sum	 s;

	u = sent(3, MS);
	assert_int_equal(reply(u, 0, MS, MS), UDPSTAT_NEW);
	assert_int_equal(reply(u, 1, MS, MS), UDPSTAT_NEW);
	assert_int_equal(reply(u, 1, MS, 2 * MS), UDPSTAT_DUP);
	assert_int_equal(reply(u, 2, MS, MS), UDPSTAT_NEW);
	assert_int_equal(reply(u, 0, MS, 5 * MS), UDPSTAT_DUP);
	assert_int_equal(reply(u, 7, MS, MS), UDPSTAT_UNSENT);
	udpstat_sum(u, &s);
	assert_int_equal(s.received, 3);
	assert_int_equal(s.duplicated, 2);
	assert_int_equal(s.reordered, 0);
	assert_int_equal(s.lost, 0);
	/* Only the first copies' round trips. */
	assert_int_equal(hist_count(udpstat_rtt(u)), 3);
	assert_int_equal(hist_max(udpstat_rtt(u)), MS);
	udpstat_free(u);
}

/* RFC 4737: one late packet is one reordered packet. */
static void
test_reorder_late(void **state)
{
	static const uint64_t	 order[] = { 0, 1, 2, 4, 5, 6, 7, 3, 8, 9 };
	struct udpstat		*u;
	struct udpstat_sum	 s;
	size_t			 i;

	u = sent(10, MS);
	for (i = 0; i < 10; i++)
		reply(u, order[i], MS, MS);
	udpstat_sum(u, &s);
	assert_int_equal(s.received, 10);
	assert_int_equal(s.reordered, 1);
	assert_int_equal(s.lost, 0);
	udpstat_free(u);
}

/*
 * RFC 4737: one early packet makes every one it overtook reordered, as
 * NextExp jumps past them (6 arrives first: 3, 4 and 5 are below 7).
 */
static void
test_reorder_early(void **state)
{
	static const uint64_t	 order[] = { 0, 1, 2, 6, 3, 4, 5, 7 };
	struct udpstat		*u;
	struct udpstat_sum	 s;
	size_t			 i;

	u = sent(8, MS);
	for (i = 0; i < 8; i++)
		reply(u, order[i], MS, MS);
	udpstat_sum(u, &s);
	assert_int_equal(s.reordered, 3);
	udpstat_free(u);
}

/* A gap from loss is not reordering; what fills it late is. */
static void
test_reorder_loss(void **state)
{
	struct udpstat		*u;
	struct udpstat_sum	 s;

	u = sent(6, MS);
	reply(u, 0, MS, MS);
	reply(u, 2, MS, MS);	/* 1 lost: NextExp 3 */
	reply(u, 3, MS, MS);
	reply(u, 5, MS, MS);	/* 4 late */
	reply(u, 4, MS, MS);
	udpstat_sum(u, &s);
	assert_int_equal(s.lost, 1);
	assert_int_equal(s.reordered, 1);
	udpstat_free(u);
}

/*
 * RFC 3550 section 6.4.1 over round-trip times 1000, 1016, 1000, 1032:
 * |D| = 16, 16, 32; J = 0 + 16/16 = 1, then 1 + 15/16 = 1.9375, then
 * 1.9375 + (32 - 1.9375)/16 = 3.81640625 (exact in binary).
 */
static void
test_jitter(void **state)
{
	static const uint64_t	 rtt[] = { 1000, 1016, 1000, 1032 };
	struct udpstat		*u;
	struct udpstat_sum	 s;
	size_t			 i;

	u = sent(4, MS);
	for (i = 0; i < 4; i++) {
		reply(u, i, MS, rtt[i]);
		udpstat_sum(u, &s);
		if (i == 1)
			assert_true(s.jitter_ns == 1.0);
		if (i == 2)
			assert_true(s.jitter_ns == 1.9375);
	}
	assert_true(s.jitter_ns == 3.81640625);
	udpstat_free(u);
}

/*
 * IPDV pairs consecutive sequence numbers, jitter consecutive arrivals.
 * Round trips: 0: 100, 1: 150, 2: 120, 3 lost, 4: 200.  Pairs (0,1) =
 * +50 and (1,2) = -30; (2,3) and (3,4) have no IPDV.  The replies come
 * as 2, 0, 1, 4: jitter sees 120, 100, 150, 200, so |D| = 20, 50, 50:
 * J = 1.25, 1.25 + 48.75/16 = 4.296875, 4.296875 + 45.703125/16 =
 * 7.1533203125.
 */
static void
test_ipdv(void **state)
{
	struct udpstat		*u;
	struct udpstat_sum	 s;
	const struct hist	*h;

	u = sent(5, MS);
	reply(u, 2, MS, 120);
	reply(u, 0, MS, 100);
	udpstat_sum(u, &s);
	assert_int_equal(s.ipdv_pairs, 0);
	reply(u, 1, MS, 150);	/* completes both of its pairs */
	reply(u, 4, MS, 200);
	udpstat_sum(u, &s);
	assert_int_equal(s.ipdv_pairs, 2);
	assert_int_equal(s.ipdv_min_ns, -30);
	assert_int_equal(s.ipdv_max_ns, 50);
	h = udpstat_ipdv(u);
	assert_int_equal(hist_count(h), 2);
	assert_int_equal(hist_min(h), 30);
	assert_int_equal(hist_max(h), 50);
	assert_true(hist_mean(h) == 40.0);
	assert_true(s.jitter_ns == 7.1533203125);
	assert_int_equal(s.reordered, 2);	/* 0 and 1, after 2 */
	udpstat_free(u);
}

/* Neighbours whose replies are further apart than the ring: no pair. */
static void
test_ipdv_ring(void **state)
{
	struct udpstat		*u;
	struct udpstat_sum	 s;

	u = sent(2000, MS);
	reply(u, 0, MS, 100);
	reply(u, 1024, MS, 100);	/* takes 0's place in the ring */
	reply(u, 1, MS, 100);
	udpstat_sum(u, &s);
	assert_int_equal(s.ipdv_pairs, 0);
	reply(u, 1025, MS, 130);	/* beside 1024, still there */
	udpstat_sum(u, &s);
	assert_int_equal(s.ipdv_pairs, 1);
	assert_int_equal(s.ipdv_max_ns, 30);
	udpstat_free(u);
}

/* Many datagrams: the bitmap and the series grow; nothing is lost. */
static void
test_growth(void **state)
{
	struct udpstat		*u;
	struct udpstat_sum	 s;
	uint64_t		 i, n = 300000;

	u = sent(n, MS);	/* 300 seconds */
	for (i = 0; i < n; i++)
		if (i % 1000 != 999)
			reply(u, i, MS, 50);
	udpstat_sum(u, &s);
	assert_int_equal(s.received, n - n / 1000);
	assert_int_equal(s.seconds, 300);
	assert_int_equal(udpstat_second_lost(u, 299), 1);
	assert_int_equal(udpstat_second_sent(u, 299), 1000);
	assert_int_equal(s.worst, 0);
	assert_int_equal(s.worst_lost, 1);
	udpstat_free(u);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_perfect),
		cmocka_unit_test(test_loss_seconds),
		cmocka_unit_test(test_silent_second),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_reorder_late),
		cmocka_unit_test(test_reorder_early),
		cmocka_unit_test(test_reorder_loss),
		cmocka_unit_test(test_jitter),
		cmocka_unit_test(test_ipdv),
		cmocka_unit_test(test_ipdv_ring),
		cmocka_unit_test(test_growth),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
