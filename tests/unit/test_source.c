/*
 * test_source.c: per-source connection limits: netblocks, scopes, rates,
 * reloads, the cap, the table's growth, and threads.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "source.h"

#define MSEC		1000ull		/* microseconds */
#define SEC		1000000ull

static const struct source_limits test_off;

/* An address from a literal, IPv4 or IPv6. */
static const struct sockaddr *
test_sa(struct sockaddr_storage *ss, const char *literal)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, literal, &sin->sin_addr) == 1)
		sin->sin_family = AF_INET;
	else {
		assert_int_equal(inet_pton(AF_INET6, literal,
		    &sin6->sin6_addr), 1);
		sin6->sin6_family = AF_INET6;
	}
	return ((const struct sockaddr *)ss);
}

/* IPv4 address 10.0.0.0 + n. */
static const struct sockaddr *
test_v4(struct sockaddr_storage *ss, uint32_t n)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(0x0a000000u + n);
	return ((const struct sockaddr *)ss);
}

/* Admit literal on listener "l" with one conns limit over all. */
static enum source_verdict
test_admit(const char *literal, unsigned int p4, unsigned int p6,
    struct source_hold *h)
{
	struct sockaddr_storage	ss;
	struct source_limits	g = { .conns = 1 };

	return (source_admit(test_sa(&ss, literal), p4, p6, "l", &g,
	    &test_off, 0, h));
}

/* Whether a and b are one source at these prefixes: with a limit of one
 * connection, b is refused while a holds it. */
static bool
test_same(const char *a, const char *b, unsigned int p4, unsigned int p6)
{
	struct source_hold	ha, hb;
	enum source_verdict	v;

	assert_int_equal(test_admit(a, p4, p6, &ha), SOURCE_OK);
	v = test_admit(b, p4, p6, &hb);
	assert_true(v == SOURCE_OK || v == SOURCE_TOO_MANY);
	source_leave(&hb);
	source_leave(&ha);
	assert_int_equal(sources_count(), 0);
	return (v == SOURCE_TOO_MANY);
}

static int
test_setup(void **state)
{
	return (sources_init());
}

static int
test_teardown(void **state)
{
	sources_free();
	return (0);
}

/* IPv4 netblocks, and an IPv4-mapped address is its IPv4 address. */
static void
test_mask_v4(void **state)
{
	assert_true(test_same("192.0.2.1", "192.0.2.1", 32, 128));
	assert_false(test_same("192.0.2.1", "192.0.2.2", 32, 128));
	assert_true(test_same("192.0.2.1", "192.0.2.254", 24, 128));
	assert_false(test_same("192.0.2.1", "192.0.3.1", 24, 128));
	/* A prefix not on a byte boundary. */
	assert_true(test_same("192.0.2.1", "192.0.2.7", 29, 128));
	assert_false(test_same("192.0.2.1", "192.0.2.8", 29, 128));
	assert_true(test_same("192.0.2.1", "203.0.113.9", 0, 128));
	/* Too long a prefix is the whole address. */
	assert_false(test_same("192.0.2.1", "192.0.2.2", 99, 128));
	assert_true(test_same("192.0.2.1", "::ffff:192.0.2.1", 32, 128));
	assert_true(test_same("::ffff:192.0.2.1", "192.0.2.99", 24, 0));
	assert_false(test_same("::ffff:192.0.2.1", "::ffff:192.0.2.2", 32, 0));
	/* IPv4 /0 is every IPv4 address, not every address. */
	assert_false(test_same("192.0.2.1", "2001:db8::1", 0, 0));
	assert_false(test_same("192.0.2.1", "::", 0, 0));
}

/* IPv6 netblocks. */
static void
test_mask_v6(void **state)
{
	assert_true(test_same("2001:db8::1", "2001:db8::1", 32, 128));
	assert_false(test_same("2001:db8::1", "2001:db8::2", 32, 128));
	assert_true(test_same("2001:db8:0:1::1", "2001:db8:0:1:ffff::9",
	    32, 64));
	assert_false(test_same("2001:db8:0:1::1", "2001:db8:0:2::1", 32, 64));
	assert_true(test_same("2001:db8:7::1", "2001:db8:7:ffff::1", 32, 48));
	assert_false(test_same("2001:db8:7::1", "2001:db8:8::1", 32, 48));
	assert_true(test_same("2001:db8::1", "fe80::1", 32, 0));
	assert_false(test_same("2001:db8::1", "2001:db8::2", 32, 200));
	/* An IPv6 prefix does not apply to IPv4, mapped or not. */
	assert_false(test_same("::ffff:192.0.2.1", "::ffff:192.0.2.2",
	    32, 64));
}

/* Counts over all listeners and on each; entries are (source, scope). */
static void
test_scopes(void **state)
{
	struct sockaddr_storage	ss;
	const struct sockaddr	*sa = test_sa(&ss, "198.51.100.7");
	struct source_limits	g = { .conns = 3 }, o = { .conns = 2 };
	struct source_hold	h[5];

	assert_int_equal(source_admit(sa, 32, 128, "a", &g, &o, 0, &h[0]),
	    SOURCE_OK);
	assert_int_equal(sources_count(), 2);
	assert_int_equal(source_admit(sa, 32, 128, "a", &g, &o, 0, &h[1]),
	    SOURCE_OK);
	assert_int_equal(sources_count(), 2);
	/* Listener a is at its own limit; b is another scope. */
	assert_int_equal(source_admit(sa, 32, 128, "a", &g, &o, 0, &h[2]),
	    SOURCE_TOO_MANY);
	assert_int_equal(source_admit(sa, 32, 128, "b", &g, &o, 0, &h[2]),
	    SOURCE_OK);
	assert_int_equal(sources_count(), 3);
	/* Three over all: c is refused though it has none. */
	assert_int_equal(source_admit(sa, 32, 128, "c", &g, &o, 0, &h[3]),
	    SOURCE_TOO_MANY);
	source_leave(&h[2]);
	/* "a" and "ab" are two listeners, not one. */
	assert_int_equal(source_admit(sa, 32, 128, "ab", &g, &o, 0, &h[2]),
	    SOURCE_OK);
	assert_int_equal(sources_count(), 3);
	source_leave(&h[2]);
	/* The own limit alone: the global count is not kept. */
	assert_int_equal(source_admit(sa, 32, 128, "b", &test_off, &o, 0,
	    &h[2]), SOURCE_OK);
	assert_int_equal(source_admit(sa, 32, 128, "b", &test_off, &o, 0,
	    &h[3]), SOURCE_OK);
	assert_int_equal(source_admit(sa, 32, 128, "b", &test_off, &o, 0,
	    &h[4]), SOURCE_TOO_MANY);
	assert_int_equal(sources_count(), 3);
	source_leave(&h[3]);
	source_leave(&h[2]);
	source_leave(&h[1]);
	source_leave(&h[0]);
	assert_int_equal(sources_count(), 0);
}

/* A refused admission takes no count and no token. */
static void
test_refusal_takes_nothing(void **state)
{
	struct sockaddr_storage	ss;
	const struct sockaddr	*sa = test_sa(&ss, "198.51.100.8");
	struct source_limits	g = { .rate = 1, .burst = 2 };
	struct source_limits	o = { .conns = 1 };
	struct source_hold	h[4];

	assert_int_equal(source_admit(sa, 32, 128, "a", &g, &o, 0, &h[0]),
	    SOURCE_OK);
	/* Refused by a's count: the global token stays. */
	assert_int_equal(source_admit(sa, 32, 128, "a", &g, &o, 0, &h[1]),
	    SOURCE_TOO_MANY);
	source_leave(&h[1]);
	assert_int_equal(sources_count(), 1);
	assert_int_equal(source_admit(sa, 32, 128, "b", &g, &o, 0, &h[1]),
	    SOURCE_OK);
	assert_int_equal(source_admit(sa, 32, 128, "c", &g, &o, 0, &h[2]),
	    SOURCE_TOO_FAST);
	assert_int_equal(sources_count(), 2);
	source_leave(&h[0]);
	source_leave(&h[1]);
	assert_int_equal(sources_count(), 0);

	/* Refused by the own rate: the global token is given back. */
	g = (struct source_limits){ .rate = 1, .burst = 2 };
	o = (struct source_limits){ .rate = 1, .burst = 1 };
	sa = test_sa(&ss, "198.51.100.9");
	assert_int_equal(source_admit(sa, 32, 128, "a", &g, &o, 0, &h[0]),
	    SOURCE_OK);
	assert_int_equal(source_admit(sa, 32, 128, "a", &g, &o, 0, &h[1]),
	    SOURCE_TOO_FAST);
	assert_int_equal(source_admit(sa, 32, 128, "b", &g, &o, 0, &h[2]),
	    SOURCE_OK);
	assert_int_equal(source_admit(sa, 32, 128, "c", &g, &o, 0, &h[3]),
	    SOURCE_TOO_FAST);
	/* Rates alone count no connections. */
	assert_int_equal(sources_count(), 0);
	source_leave(&h[0]);
	source_leave(&h[2]);
}

/* The last connection of a source forgets it; empty holds do nothing. */
static void
test_leave_forgets(void **state)
{
	struct sockaddr_storage	ss;
	struct sockaddr_un	*sun = (struct sockaddr_un *)&ss;
	struct source_limits	g = { .conns = 5 }, o = { .conns = 5 };
	struct source_hold	h[2], zero;

	memset(&zero, 0, sizeof(zero));
	source_leave(&zero);
	assert_int_equal(source_admit(test_sa(&ss, "2001:db8::5"), 32, 128,
	    "a", &g, &o, 0, &h[0]), SOURCE_OK);
	assert_int_equal(source_admit(test_sa(&ss, "2001:db8::5"), 32, 128,
	    "a", &g, &o, 0, &h[1]), SOURCE_OK);
	assert_int_equal(sources_count(), 2);
	source_leave(&h[0]);
	assert_int_equal(sources_count(), 2);
	/* A second leave of one hold gives nothing back twice. */
	source_leave(&h[0]);
	assert_int_equal(sources_count(), 2);
	source_leave(&h[1]);
	assert_int_equal(sources_count(), 0);
	source_leave(&h[1]);
	assert_int_equal(sources_count(), 0);
	/* Not an IP address: admitted, uncounted. */
	memset(&ss, 0, sizeof(ss));
	sun->sun_family = AF_UNIX;
	assert_int_equal(source_admit((struct sockaddr *)&ss, 32, 128, "a",
	    &g, &o, 0, &h[0]), SOURCE_OK);
	assert_int_equal(sources_count(), 0);
	source_leave(&h[0]);
	assert_int_equal(sources_count(), 0);
}

/* How many of n new connections at now are admitted (and left at once). */
static unsigned int
test_opens(const struct sockaddr *sa, const char *listener,
    const struct source_limits *g, const struct source_limits *o,
    uint64_t now, unsigned int n)
{
	struct source_hold	h;
	enum source_verdict	v;
	unsigned int		ok = 0;

	while (n-- > 0) {
		v = source_admit(sa, 32, 128, listener, g, o, now, &h);
		assert_true(v == SOURCE_OK || v == SOURCE_TOO_FAST);
		if (v == SOURCE_OK)
			ok++;
		source_leave(&h);
	}
	return (ok);
}

/* New connections a second: a burst, then the rate; per scope. */
static void
test_rate(void **state)
{
	struct sockaddr_storage	ss, ss2;
	const struct sockaddr	*sa = test_sa(&ss, "203.0.113.1");
	const struct sockaddr	*sb = test_sa(&ss2, "203.0.113.2");
	struct source_limits	g = { .rate = 2, .burst = 3 };
	struct source_limits	o = { .rate = 1, .burst = 1 };
	uint64_t		t = 10 * SEC;

	assert_int_equal(test_opens(sa, "a", &g, &test_off, t, 10), 3);
	assert_int_equal(test_opens(sa, "b", &g, &test_off, t, 10), 0);
	/* Another source has its own bucket. */
	assert_int_equal(test_opens(sb, "a", &g, &test_off, t, 10), 3);
	/* Two a second: one in half a second, none in a quarter more. */
	assert_int_equal(test_opens(sa, "a", &g, &test_off, t + 500 * MSEC,
	    10), 1);
	assert_int_equal(test_opens(sa, "a", &g, &test_off, t + 750 * MSEC,
	    10), 0);
	/* A long silence fills the bucket to its burst, no further. */
	t += 100 * SEC;
	assert_int_equal(test_opens(sa, "a", &g, &test_off, t, 10), 3);
	/* The own rate is per listener. */
	t += 100 * SEC;
	assert_int_equal(test_opens(sa, "a", &test_off, &o, t, 10), 1);
	assert_int_equal(test_opens(sa, "b", &test_off, &o, t, 10), 1);
	assert_int_equal(test_opens(sa, "a", &test_off, &o, t + SEC, 10), 1);
	/* Both: a, b and c take one token each of the global three (a's
	 * second, refused by its own rate, gives its global one back);
	 * then d is refused though its own bucket is full. */
	t += 100 * SEC;
	assert_int_equal(test_opens(sa, "a", &g, &o, t, 10), 1);
	assert_int_equal(test_opens(sa, "b", &g, &o, t, 10), 1);
	assert_int_equal(test_opens(sa, "c", &g, &o, t, 10), 1);
	assert_int_equal(test_opens(sa, "d", &g, &o, t, 10), 0);
	/* A burst of 0 with a rate lets one in, not none. */
	o = (struct source_limits){ .rate = 1 };
	assert_int_equal(test_opens(sb, "z", &test_off, &o, t, 10), 1);
	assert_int_equal(sources_count(), 0);
}

/* A reload changes the limits between admits and leaves: every leave
 * gives back what its admit took, no more. */
static void
test_reload(void **state)
{
	struct sockaddr_storage	ss;
	const struct sockaddr	*sa = test_sa(&ss, "192.0.2.50");
	struct source_limits	own1 = { .conns = 1 };
	struct source_limits	all1 = { .conns = 1 };
	struct source_hold	a, b, c;

	/* Before: the own limit only. */
	assert_int_equal(source_admit(sa, 32, 128, "l", &test_off, &own1, 0,
	    &a), SOURCE_OK);
	assert_int_equal(sources_count(), 1);
	/* After: the global limit only; a was not counted in it. */
	assert_int_equal(source_admit(sa, 32, 128, "l", &all1, &test_off, 0,
	    &b), SOURCE_OK);
	assert_int_equal(sources_count(), 2);
	assert_int_equal(source_admit(sa, 32, 128, "l", &all1, &test_off, 0,
	    &c), SOURCE_TOO_MANY);
	/* a's leave gives back its own count, not b's global one. */
	source_leave(&a);
	assert_int_equal(sources_count(), 1);
	assert_int_equal(source_admit(sa, 32, 128, "l", &all1, &test_off, 0,
	    &c), SOURCE_TOO_MANY);
	/* Limits off altogether: b still gives back what it took. */
	source_leave(&b);
	assert_int_equal(sources_count(), 0);
	assert_int_equal(source_admit(sa, 32, 128, "l", &all1, &test_off, 0,
	    &c), SOURCE_OK);
	/* A lowered limit refuses until enough have left. */
	all1.conns = 3;
	assert_int_equal(source_admit(sa, 32, 128, "l", &all1, &test_off, 0,
	    &a), SOURCE_OK);
	all1.conns = 1;
	assert_int_equal(source_admit(sa, 32, 128, "l", &all1, &test_off, 0,
	    &b), SOURCE_TOO_MANY);
	source_leave(&a);
	assert_int_equal(source_admit(sa, 32, 128, "l", &all1, &test_off, 0,
	    &b), SOURCE_TOO_MANY);
	source_leave(&c);
	assert_int_equal(source_admit(sa, 32, 128, "l", &all1, &test_off, 0,
	    &b), SOURCE_OK);
	source_leave(&b);
	assert_int_equal(sources_count(), 0);
}

/* Up to SOURCE_ENTRIES_MAX entries; then new sources are refused, known
 * ones served, until some leave. */
static void
test_full(void **state)
{
	struct sockaddr_storage	ss;
	struct source_limits	g = { .conns = 2 }, o = { .conns = 2 };
	struct source_hold	*h, extra, more;
	uint32_t		i;

	h = calloc(SOURCE_ENTRIES_MAX, sizeof(*h));
	assert_non_null(h);
	for (i = 0; i < SOURCE_ENTRIES_MAX; i++)
		assert_int_equal(source_admit(test_v4(&ss, i), 32, 128, "l",
		    &g, &test_off, 0, &h[i]), SOURCE_OK);
	assert_int_equal(sources_count(), SOURCE_ENTRIES_MAX);
	assert_int_equal(source_admit(test_v4(&ss, i), 32, 128, "l", &g,
	    &test_off, 0, &extra), SOURCE_FULL);
	assert_int_equal(sources_count(), SOURCE_ENTRIES_MAX);
	/* A known source is no new entry. */
	assert_int_equal(source_admit(test_v4(&ss, 7), 32, 128, "l", &g,
	    &test_off, 0, &more), SOURCE_OK);
	assert_int_equal(source_admit(test_v4(&ss, 7), 32, 128, "l", &g,
	    &test_off, 0, &extra), SOURCE_TOO_MANY);
	source_leave(&more);
	/* One entry free, two wanted: refused, and nothing taken. */
	source_leave(&h[0]);
	assert_int_equal(source_admit(test_v4(&ss, i), 32, 128, "l", &g, &o,
	    0, &extra), SOURCE_FULL);
	assert_int_equal(sources_count(), SOURCE_ENTRIES_MAX - 1);
	assert_int_equal(source_admit(test_v4(&ss, i), 32, 128, "l", &g,
	    &test_off, 0, &extra), SOURCE_OK);
	assert_int_equal(sources_count(), SOURCE_ENTRIES_MAX);
	source_leave(&extra);
	for (i = 1; i < SOURCE_ENTRIES_MAX; i++)
		source_leave(&h[i]);
	assert_int_equal(sources_count(), 0);
	free(h);
}

/* A deterministic generator for the shuffles (xorshift64*). */
static uint64_t
test_random(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (*s * 0x2545f4914f6cdd1dull);
}

#define TEST_GROW_N	20000
#define TEST_GROW_MAX	3		/* connections a source may hold */

/* Whether source i holds exactly want connections: admitted while under
 * the limit, refused at it. */
static void
test_holds(uint32_t i, unsigned int want)
{
	struct sockaddr_storage	ss;
	struct source_limits	g = { .conns = TEST_GROW_MAX };
	struct source_hold	h;
	enum source_verdict	v;

	v = source_admit(test_v4(&ss, i * 977), 32, 128, "l", &g, &test_off,
	    0, &h);
	assert_int_equal(v, want < TEST_GROW_MAX ? SOURCE_OK :
	    SOURCE_TOO_MANY);
	source_leave(&h);
}

/*
 * Thousands of sources through a growing table, left in random order:
 * the backward shifts of the deletions keep every entry findable, and
 * each counts what it should.
 */
static void
test_growth(void **state)
{
	struct sockaddr_storage	 ss;
	struct source_limits	 g = { .conns = TEST_GROW_MAX };
	struct source_hold	*h;
	uint32_t		*order, *src, i, j, k, n = 0, live;
	unsigned int		*held;
	uint64_t		 rnd = 0x9e3779b97f4a7c15ull;

	h = calloc(TEST_GROW_N * TEST_GROW_MAX, sizeof(*h));
	order = calloc(TEST_GROW_N * TEST_GROW_MAX, sizeof(*order));
	src = calloc(TEST_GROW_N * TEST_GROW_MAX, sizeof(*src));
	held = calloc(TEST_GROW_N, sizeof(*held));
	assert_true(h && order && src && held);
	/* Source i holds 1 + i % 3 connections. */
	for (i = 0; i < TEST_GROW_N; i++)
		for (k = 0; k <= i % TEST_GROW_MAX; k++) {
			assert_int_equal(source_admit(test_v4(&ss, i * 977),
			    32, 128, "l", &g, &test_off, 0, &h[n]), SOURCE_OK);
			src[n] = i;
			order[n] = n;
			held[i]++;
			n++;
		}
	assert_int_equal(sources_count(), TEST_GROW_N);
	for (i = 0; i < TEST_GROW_N; i += 97)
		test_holds(i, held[i]);
	for (i = n - 1; i > 0; i--) {
		j = (uint32_t)(test_random(&rnd) % (i + 1));
		k = order[i];
		order[i] = order[j];
		order[j] = k;
	}
	live = TEST_GROW_N;
	for (i = 0; i < n; i++) {
		k = order[i];
		source_leave(&h[k]);
		if (--held[src[k]] == 0)
			live--;
		if (i % 4000 == 0) {
			assert_int_equal(sources_count(), live);
			for (j = 0; j < TEST_GROW_N; j++)
				test_holds(j, held[j]);
		}
	}
	assert_int_equal(sources_count(), 0);
	free(held);
	free(src);
	free(order);
	free(h);
}

#define TEST_THREADS	4
#define TEST_LOOPS	20000
#define TEST_SOURCES	16
#define TEST_RING	8		/* holds a thread keeps open */

static atomic_uint	test_held[TEST_SOURCES];
static atomic_bool	test_over;

/* One worker: admit and leave, keeping a few open; never more than the
 * limit of a source held at once, over all threads. */
static void *
test_worker(void *arg)
{
	struct sockaddr_storage	ss;
	struct source_limits	g = { .conns = 4 }, o = { .conns = 2 };
	struct source_hold	ring[TEST_RING];
	unsigned int		who[TEST_RING];	/* source + 1; 0: none */
	char			name[8];
	uint64_t		rnd = 0x1234567ull + (uintptr_t)arg;
	unsigned int		i, r, s;

	memset(ring, 0, sizeof(ring));
	memset(who, 0, sizeof(who));
	name[0] = 't';
	name[1] = (char)('0' + (uintptr_t)arg);
	name[2] = '\0';
	for (i = 0; i < TEST_LOOPS; i++) {
		r = i % TEST_RING;
		/* Uncounted here before the table, counted after it:
		 * test_held never exceeds what the table counts. */
		if (who[r] != 0)
			atomic_fetch_sub(&test_held[who[r] - 1], 1);
		source_leave(&ring[r]);
		who[r] = 0;
		s = (unsigned int)(test_random(&rnd) % TEST_SOURCES);
		if (source_admit(test_v4(&ss, s), 32, 128, name, &g, &o,
		    i, &ring[r]) == SOURCE_OK) {
			who[r] = s + 1;
			if (atomic_fetch_add(&test_held[s], 1) + 1 > g.conns)
				atomic_store(&test_over, true);
		}
	}
	for (r = 0; r < TEST_RING; r++) {
		if (who[r] != 0)
			atomic_fetch_sub(&test_held[who[r] - 1], 1);
		source_leave(&ring[r]);
	}
	return (NULL);
}

/* Several threads at once: limits hold, and all is given back. */
static void
test_threads(void **state)
{
	pthread_t	t[TEST_THREADS];
	uintptr_t	i;

	for (i = 0; i < TEST_THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, test_worker,
		    (void *)i), 0);
	for (i = 0; i < TEST_THREADS; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	assert_false(atomic_load(&test_over));
	assert_int_equal(sources_count(), 0);
	for (i = 0; i < TEST_SOURCES; i++)
		assert_int_equal(atomic_load(&test_held[i]), 0);
}

/* Limits off: nothing wanted. */
static void
test_wanted(void **state)
{
	struct source_limits	on = { .rate = 1 }, conns = { .conns = 1 };

	assert_false(sources_wanted(&test_off, &test_off));
	assert_true(sources_wanted(&on, &test_off));
	assert_true(sources_wanted(&test_off, &on));
	assert_true(sources_wanted(&test_off, &conns));
	/* A burst without a rate limits nothing. */
	on = (struct source_limits){ .burst = 5 };
	assert_false(sources_wanted(&on, &on));
}

/* IPv6 address 2001:db8:N::, one /64 each. */
static const struct sockaddr *
test_v6(struct sockaddr_storage *ss, uint32_t n)
{
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;
	uint32_t		 v = htonl(n);

	test_sa(ss, "2001:db8::");
	memcpy(&sin6->sin6_addr.s6_addr[4], &v, sizeof(v));
	return ((const struct sockaddr *)ss);
}

/*
 * Rate buckets of different limits share one table: a flood of sources
 * under a fast global rate must not make a source held by a slow
 * listener rate look refilled (it would get a fresh burst), ...
 */
static void
test_rate_scopes_no_bypass(void **state)
{
	const struct source_limits	 g = { 0, 1000, 10 }, o = { 0, 1, 1 };
	struct sockaddr_storage		 x, y;
	struct source_hold		 h;
	uint64_t			 now = 10 * SEC;
	uint32_t			 i;

	(void)state;
	test_sa(&x, "192.0.2.1");
	assert_int_equal(source_admit((struct sockaddr *)&x, 32, 64, "echo",
	    &g, &o, now, &h), SOURCE_OK);
	assert_int_equal(source_admit((struct sockaddr *)&x, 32, 64, "echo",
	    &g, &o, now, &h), SOURCE_TOO_FAST);
	for (i = 0; i < 200000; i++)
		(void)source_admit(test_v6(&y, i), 32, 64, "other", &g,
		    &test_off, now + 20 * MSEC + i / 100, &h);
	/* Its own bucket refills at one a second: not yet. */
	assert_int_equal(source_admit((struct sockaddr *)&x, 32, 64, "echo",
	    &g, &o, now + 500 * MSEC, &h), SOURCE_TOO_FAST);
}

/*
 * ... and buckets of a fast rate that have refilled by their own rate
 * make room for a new source of a slow one.
 */
static void
test_rate_scopes_room(void **state)
{
	const struct source_limits	 g = { 0, 1000, 1 }, o = { 0, 1, 1 };
	struct sockaddr_storage		 x, y;
	struct source_hold		 h;
	uint64_t			 now = 10 * SEC;
	uint32_t			 i;

	(void)state;
	for (i = 0; i < 50000; i++)
		(void)source_admit(test_v6(&y, i), 32, 64, "other", &g,
		    &test_off, now + i, &h);
	test_sa(&x, "192.0.2.1");
	assert_int_equal(source_admit((struct sockaddr *)&x, 32, 64, "echo",
	    &g, &o, now + 150 * MSEC, &h), SOURCE_OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wanted),
		cmocka_unit_test_setup_teardown(test_mask_v4, test_setup,
		    test_teardown),
		cmocka_unit_test_setup_teardown(test_mask_v6, test_setup,
		    test_teardown),
		cmocka_unit_test_setup_teardown(test_scopes, test_setup,
		    test_teardown),
		cmocka_unit_test_setup_teardown(test_refusal_takes_nothing,
		    test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_leave_forgets, test_setup,
		    test_teardown),
		cmocka_unit_test_setup_teardown(test_rate, test_setup,
		    test_teardown),
		cmocka_unit_test_setup_teardown(test_reload, test_setup,
		    test_teardown),
		cmocka_unit_test_setup_teardown(test_full, test_setup,
		    test_teardown),
		cmocka_unit_test_setup_teardown(test_growth, test_setup,
		    test_teardown),
		cmocka_unit_test_setup_teardown(test_threads, test_setup,
		    test_teardown),
		cmocka_unit_test_setup_teardown(test_rate_scopes_no_bypass,
		    test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_rate_scopes_room,
		    test_setup, test_teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
