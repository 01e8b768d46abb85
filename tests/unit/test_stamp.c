/*
 * test_stamp.c: the STAMP codec against packets laid out byte by byte
 * from RFC 8762's figures (section 4.2.1, the sender's; section 4.3.1,
 * the reflector's), TWAMP-Light's short packets (section 4.6), NTP
 * timestamps (RFC 5905 section 6) and error estimates (RFC 4656 section
 * 4.1.2).  Every input is read from a copy of exactly its length.  Then
 * the reflector's sessions (reflector.c): what a source can hold, how
 * full the table gets, and the stateless answer when it has no room.
 */

#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "conf.h"
#include "reflector.h"
#include "stamp.h"

/*
 * A sender's packet (RFC 8762 figure 2): sequence number 0x01020304,
 * timestamp 0xe8fe6f80.80000000 (2023-11-14 22:13:20.5 UTC), error
 * estimate S=1 Z=0 scale 15 multiplier 132 (about 1 ms), SSID 0xbeef
 * (RFC 8972), MBZ.
 */
static const uint8_t test_sender[STAMP_LEN] = {
	0x01, 0x02, 0x03, 0x04,
	0xe8, 0xfe, 0x6f, 0x80, 0x80, 0x00, 0x00, 0x00,
	0x8f, 0x84,
	0xbe, 0xef,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
};

/*
 * Its reflection (RFC 8762 figure 4): reflector sequence number 7,
 * transmit timestamp 0xe8fe6f81.00000010, error estimate S=0 scale 63
 * multiplier 255 (unknown), SSID reflected, receive timestamp
 * 0xe8fe6f81.00000001, the sender's sequence number, timestamp and
 * error estimate, MBZ, TTL 64, MBZ.
 */
static const uint8_t test_reflected[STAMP_LEN] = {
	0x00, 0x00, 0x00, 0x07,
	0xe8, 0xfe, 0x6f, 0x81, 0x00, 0x00, 0x00, 0x10,
	0x3f, 0xff,
	0xbe, 0xef,
	0xe8, 0xfe, 0x6f, 0x81, 0x00, 0x00, 0x00, 0x01,
	0x01, 0x02, 0x03, 0x04,
	0xe8, 0xfe, 0x6f, 0x80, 0x80, 0x00, 0x00, 0x00,
	0x8f, 0x84,
	0x00, 0x00,
	0x40,
	0x00, 0x00, 0x00
};

static uint8_t *
test_copy(const uint8_t *p, size_t len)
{
	uint8_t	*c = malloc(len > 0 ? len : 1);

	assert_non_null(c);
	memcpy(c, p, len);
	return (c);
}

static void
test_sender_golden(void **state)
{
	struct stamp_test	 t;
	uint8_t			 buf[STAMP_LEN], *c;

	(void)state;
	c = test_copy(test_sender, sizeof(test_sender));
	assert_int_equal(stamp_test_parse(c, sizeof(test_sender), &t), 0);
	free(c);
	assert_int_equal(t.seq, 0x01020304);
	assert_true(t.ts == 0xe8fe6f8080000000ull);
	assert_int_equal(t.ee, 0x8f84);
	assert_int_equal(t.ssid, 0xbeef);
	memset(buf, 0xaa, sizeof(buf));
	assert_int_equal(stamp_test_write(buf, &t), STAMP_LEN);
	assert_memory_equal(buf, test_sender, STAMP_LEN);
}

static void
test_reflector_golden(void **state)
{
	struct stamp_test	 t;
	struct stamp_reply	 r, back;
	uint8_t			 buf[STAMP_LEN + 8];

	(void)state;
	memcpy(buf, test_sender, STAMP_LEN);
	assert_int_equal(stamp_test_parse(buf, STAMP_LEN, &t), 0);
	memset(&r, 0, sizeof(r));
	r.seq = 7;
	r.ts = 0;
	r.ee = STAMP_EE_MAX;
	r.ssid = t.ssid;
	r.rx = 0xe8fe6f8100000001ull;
	r.sender_seq = t.seq;
	r.sender_ts = t.ts;
	r.sender_ee = t.ee;
	r.sender_ttl = 64;
	assert_int_equal(stamp_reflect(buf, STAMP_LEN, sizeof(buf), &r),
	    STAMP_LEN);
	stamp_reply_set_ts(buf, 0xe8fe6f8100000010ull);
	assert_memory_equal(buf, test_reflected, STAMP_LEN);

	assert_int_equal(stamp_reply_parse(test_reflected, STAMP_LEN, &back),
	    0);
	r.ts = 0xe8fe6f8100000010ull;
	assert_int_equal(back.seq, r.seq);
	assert_true(back.ts == r.ts);
	assert_int_equal(back.ee, 0x3fff);
	assert_int_equal(back.ssid, 0xbeef);
	assert_true(back.rx == r.rx);
	assert_int_equal(back.sender_seq, 0x01020304);
	assert_true(back.sender_ts == 0xe8fe6f8080000000ull);
	assert_int_equal(back.sender_ee, 0x8f84);
	assert_int_equal(back.sender_ttl, 64);
	assert_int_equal(stamp_reply_parse(test_reflected, STAMP_LEN - 1,
	    &back), -1);
}

/* RFC 8762 section 4.6: a 14-octet TWAMP-Light packet gets 44 octets
 * back, the missing ones zero; stale bytes of the buffer do not leak. */
static void
test_short(void **state)
{
	struct stamp_test	 t;
	struct stamp_reply	 r;
	uint8_t			 buf[64], *c;
	size_t			 len;

	(void)state;
	for (len = 0; len < STAMP_MIN; len++) {
		c = test_copy(test_sender, len);
		assert_int_equal(stamp_test_parse(c, len, &t), -1);
		free(c);
	}
	c = test_copy(test_sender, STAMP_MIN);
	assert_int_equal(stamp_test_parse(c, STAMP_MIN, &t), 0);
	free(c);
	assert_int_equal(t.seq, 0x01020304);
	assert_int_equal(t.ssid, 0);

	memset(buf, 0x5a, sizeof(buf));
	memcpy(buf, test_sender, STAMP_MIN);
	memset(&r, 0, sizeof(r));
	r.sender_seq = t.seq;
	r.sender_ts = t.ts;
	r.sender_ee = t.ee;
	r.sender_ttl = 1;
	assert_int_equal(stamp_reflect(buf, STAMP_MIN, sizeof(buf), &r),
	    STAMP_LEN);
	assert_memory_equal(buf + 24, test_reflected + 24, 14);
	assert_int_equal(buf[38] | buf[39] | buf[41] | buf[42] | buf[43], 0);
	assert_int_equal(buf[40], 1);
	/* Past the reply: not the codec's. */
	assert_int_equal(buf[STAMP_LEN], 0x5a);
	assert_int_equal(stamp_reflect(buf, STAMP_MIN - 1, sizeof(buf), &r),
	    0);
	assert_int_equal(stamp_reflect(buf, STAMP_MIN, STAMP_LEN - 1, &r), 0);
}

/*
 * RFC 8972 TLVs past 44 octets come back the same length (RFC 6038's
 * symmetrical size), their contents as they came, each with U set (no
 * type is processed); one longer than the rest of the packet gets M too
 * and ends the walk; fewer octets than a TLV header stay as they came.
 */
static void
test_tlvs(void **state)
{
	static const uint8_t	 tlvs[] = {
		0x00, 0x01, 0x00, 0x03, 0xaa, 0xbb, 0xcc,	/* padding */
		0x20, 0x08, 0x00, 0x00,				/* empty */
		0x80, 0x03, 0x00, 0x02, 0x11, 0x22,		/* U already */
		0x01, 0x05, 0x00, 0x09, 0x33, 0x44, 0x55	/* too long */
	};
	static const uint8_t	 want[] = {
		0x80, 0x01, 0x00, 0x03, 0xaa, 0xbb, 0xcc,
		0xa0, 0x08, 0x00, 0x00,
		0x80, 0x03, 0x00, 0x02, 0x11, 0x22,
		0xc1, 0x05, 0x00, 0x09, 0x33, 0x44, 0x55
	};
	static const uint8_t	 tail[] = { 0x00, 0x01, 0x00, 0x00, 0x7f,
		0x7f, 0x7f };
	struct stamp_reply	 r;
	uint8_t			 buf[STAMP_LEN + sizeof(tlvs)];

	(void)state;
	memset(&r, 0, sizeof(r));
	memcpy(buf, test_sender, STAMP_LEN);
	memcpy(buf + STAMP_LEN, tlvs, sizeof(tlvs));
	assert_int_equal(stamp_reflect(buf, sizeof(buf), sizeof(buf), &r),
	    sizeof(buf));
	assert_memory_equal(buf + STAMP_LEN, want, sizeof(want));
	/* One empty TLV, then 3 octets that cannot be one. */
	memcpy(buf, test_sender, STAMP_LEN);
	memcpy(buf + STAMP_LEN, tail, sizeof(tail));
	assert_int_equal(stamp_reflect(buf, STAMP_LEN + sizeof(tail),
	    sizeof(buf), &r), STAMP_LEN + sizeof(tail));
	assert_int_equal(buf[STAMP_LEN], 0x80);
	assert_memory_equal(buf + STAMP_LEN + 1, tail + 1, sizeof(tail) - 1);
}

static void
test_timestamps(void **state)
{
	struct timespec	 ts;
	uint64_t	 a, b;

	(void)state;
	ts.tv_sec = 0;
	ts.tv_nsec = 0;
	assert_true(stamp_ts_from_timespec(&ts) ==
	    (uint64_t)STAMP_NTP_UNIX << 32);
	ts.tv_sec = 1700000000;
	ts.tv_nsec = 500000000;
	assert_true(stamp_ts_from_timespec(&ts) == 0xe8fe6f8080000000ull);
	ts.tv_nsec = 999999999;
	a = stamp_ts_from_timespec(&ts);
	assert_true((a >> 32) == 0xe8fe6f80);
	assert_true((a & 0xffffffff) == 0xfffffffbull);
	/* Differences to the nanosecond, both ways. */
	ts.tv_nsec = 250;
	b = stamp_ts_from_timespec(&ts);
	ts.tv_sec += 3;
	ts.tv_nsec = 1250;
	a = stamp_ts_from_timespec(&ts);
	assert_true(stamp_ts_diff_ns(a, b) == 3000001000ll);
	assert_true(stamp_ts_diff_ns(b, a) == -3000001000ll);
	/* Era 1 (2036-02-07 06:28:16 UTC) wraps to second 0. */
	ts.tv_sec = 0x100000000ll - STAMP_NTP_UNIX - 1;
	ts.tv_nsec = 0;
	b = stamp_ts_from_timespec(&ts);
	assert_true((b >> 32) == 0xffffffffull);
	ts.tv_sec += 2;
	a = stamp_ts_from_timespec(&ts);
	assert_true((a >> 32) == 1);
	assert_true(stamp_ts_diff_ns(a, b) == 2000000000ll);
}

static void
test_error_estimate(void **state)
{
	static const uint64_t	 errs[] = {
		0, 1, 232, 233, 1000, 999999, 1000000, 16000000000ull,
		1ull << 40, UINT64_MAX / 4, UINT64_MAX
	};
	uint16_t		 ee;
	double			 s;
	size_t			 i;

	(void)state;
	/* 1 ms: 4294968 units, scale 15 multiplier 132. */
	assert_int_equal(stamp_ee_encode(true, 1000000), 0x8f84);
	assert_int_equal(stamp_ee_encode(false, 1000000), 0x0f84);
	/* Nothing is never zero: the least estimate, 2^-32 s. */
	assert_int_equal(stamp_ee_encode(false, 0), 0x0001);
	/* 2^64 ns is 584 years: scale 59, below the largest. */
	assert_int_equal(stamp_ee_encode(false, UINT64_MAX), 0x3b8a);
	assert_true(stamp_ee_seconds(STAMP_EE_MAX) == 255.0 * 2147483648.0);
	for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		ee = stamp_ee_encode(false, errs[i]);
		assert_int_equal(ee & STAMP_EE_Z, 0);
		assert_int_not_equal(STAMP_EE_MULT(ee), 0);
		s = stamp_ee_seconds(ee);
		/* Never less than the error, within 1/128 above it. */
		assert_true(s * 1e9 >= (double)errs[i] * (1 - 1e-12));
		if (errs[i] >= 1000)
			assert_true(s * 1e9 <= (double)errs[i] * (1 + 1.0 / 127));
	}
	assert_true(stamp_ee_seconds(0x0f84) == 132.0 / 131072.0);
}

/* A stateful listener, as confbuild.c makes it. */
static struct listener_conf test_lc = { .stamp = true,
    .stamp_stateful = true };

/* An IPv4 peer. */
static struct sockaddr_storage
test_peer(const char *addr, uint16_t port)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	assert_int_equal(inet_pton(AF_INET, addr, &sin->sin_addr), 1);
	return (ss);
}

/*
 * Test packet seq of session ssid from peer at now (usec), answered by
 * rf: the reflector's sequence number, and in *stateless whether it was
 * answered statelessly.
 */
static uint32_t
test_ask(struct reflector *rf, const struct sockaddr_storage *peer,
    uint16_t ssid, uint32_t seq, uint64_t now, bool *stateless)
{
	struct stamp_test	 t;
	struct stamp_reply	 r;
	struct msghdr		 m;
	uint8_t			 buf[STAMP_LEN];

	memset(&t, 0, sizeof(t));
	t.seq = seq;
	t.ssid = ssid;
	stamp_test_write(buf, &t);
	memset(&m, 0, sizeof(m));
	assert_int_equal(reflector_answer(rf, &test_lc, buf, sizeof(buf),
	    sizeof(buf), &m, peer, now, stateless), STAMP_LEN);
	assert_int_equal(stamp_reply_parse(buf, sizeof(buf), &r), 0);
	assert_int_equal(r.sender_seq, seq);
	assert_int_equal(r.ssid, ssid);
	return (r.seq);
}

/*
 * One source with 20000 SSIDs holds REFLECTOR_PER_SOURCE sessions, its
 * newest: 50 other sources then get sessions of their own.
 */
static void
test_sessions_flood(void **state)
{
	struct reflector	*rf;
	struct sockaddr_storage	 flood, ss;
	char			 addr[32];
	uint32_t		 i;
	bool			 sl;

	(void)state;
	assert_non_null(rf = reflector_new());
	flood = test_peer("192.0.2.1", 5000);
	for (i = 0; i < 20000; i++) {
		assert_int_equal(test_ask(rf, &flood, (uint16_t)i, 7, 1 + i,
		    &sl), 0);
		assert_false(sl);
	}
	for (i = 0; i < 50; i++) {
		snprintf(addr, sizeof(addr), "198.51.100.%u", i + 1);
		ss = test_peer(addr, 6000);
		assert_int_equal(test_ask(rf, &ss, 0, 1000, 30000, &sl), 0);
		assert_false(sl);
		assert_int_equal(test_ask(rf, &ss, 0, 1001, 30001, &sl), 1);
	}
	/* The flood's newest sessions are live, its oldest gone. */
	assert_int_equal(test_ask(rf, &flood, 19999, 8, 30002, &sl), 1);
	assert_int_equal(test_ask(rf, &flood, 0, 8, 30003, &sl), 0);
	reflector_free(rf);
}

/* At its cap, a source's new session replaces its own oldest. */
static void
test_sessions_cap(void **state)
{
	struct reflector	*rf;
	struct sockaddr_storage	 a;
	uint32_t		 i;
	bool			 sl;

	(void)state;
	assert_non_null(rf = reflector_new());
	a = test_peer("192.0.2.7", 5000);
	for (i = 0; i <= REFLECTOR_PER_SOURCE; i++)
		assert_int_equal(test_ask(rf, &a, (uint16_t)i, 0, 1 + i, &sl),
		    0);
	assert_int_equal(test_ask(rf, &a, REFLECTOR_PER_SOURCE, 1, 100, &sl),
	    1);
	assert_int_equal(test_ask(rf, &a, 1, 1, 101, &sl), 1);
	/* SSID 0 was the oldest: it starts again. */
	assert_int_equal(test_ask(rf, &a, 0, 1, 102, &sl), 0);
	assert_false(sl);
	reflector_free(rf);
}

/*
 * 2000 live sessions of 2000 sources all fit (one set of 8 per session
 * would overflow some); past what the table holds, a new session is
 * answered statelessly, its number the sender's, until a slot has been
 * idle REFLECTOR_IDLE_USEC.
 */
static void
test_sessions_full(void **state)
{
	struct reflector	*rf;
	struct sockaddr_storage	 ss;
	char			 addr[32];
	uint32_t		 i, full = 0;
	bool			 sl;

	(void)state;
	assert_non_null(rf = reflector_new());
	for (i = 0; i < 2000; i++) {
		snprintf(addr, sizeof(addr), "10.%u.%u.1", i >> 8, i & 0xff);
		ss = test_peer(addr, 5000);
		assert_int_equal(test_ask(rf, &ss, 0, 42, 1, &sl), 0);
		assert_false(sl);
	}
	for (; i < 3 * REFLECTOR_SESSIONS && full == 0; i++) {
		snprintf(addr, sizeof(addr), "10.%u.%u.1", i >> 8, i & 0xff);
		ss = test_peer(addr, 5000);
		if (test_ask(rf, &ss, 0, 42, 1, &sl) == 42 && sl)
			full = i;
		else
			assert_false(sl);
	}
	assert_true(full > 2000 && full <= REFLECTOR_SESSIONS);
	/* Once the others have idled long enough, it has a session. */
	assert_int_equal(test_ask(rf, &ss, 0, 43, 1 + REFLECTOR_IDLE_USEC,
	    &sl), 0);
	assert_false(sl);
	reflector_free(rf);
}

/* No TTL control message: 255, RFC 5357 section 4.2.1's "cannot be
 * determined", not 0. */
static void
test_ttl_unknown(void **state)
{
	struct reflector	*rf;
	struct sockaddr_storage	 ss;
	struct stamp_reply	 r;
	struct stamp_test	 t;
	struct msghdr		 m;
	uint8_t			 buf[STAMP_LEN];
	bool			 sl;

	(void)state;
	assert_non_null(rf = reflector_new());
	ss = test_peer("192.0.2.9", 5000);
	memset(&t, 0, sizeof(t));
	stamp_test_write(buf, &t);
	memset(&m, 0, sizeof(m));
	assert_int_equal(reflector_answer(rf, &test_lc, buf, sizeof(buf),
	    sizeof(buf), &m, &ss, 1, &sl), STAMP_LEN);
	assert_int_equal(stamp_reply_parse(buf, sizeof(buf), &r), 0);
	assert_int_equal(r.sender_ttl, 255);
	reflector_free(rf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sender_golden),
		cmocka_unit_test(test_reflector_golden),
		cmocka_unit_test(test_short),
		cmocka_unit_test(test_tlvs),
		cmocka_unit_test(test_timestamps),
		cmocka_unit_test(test_error_estimate),
		cmocka_unit_test(test_sessions_flood),
		cmocka_unit_test(test_sessions_cap),
		cmocka_unit_test(test_sessions_full),
		cmocka_unit_test(test_ttl_unknown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
