/*
 * fuzz_stamp.c: libFuzzer target for the STAMP codec (stamp.h).
 *
 * Each input is a datagram that reached a reflector, read from a copy of
 * exactly its length, so that a read past it is a sanitizer report.  What
 * must hold:
 *
 *  - stamp_test_parse() refuses exactly the inputs shorter than STAMP_MIN;
 *  - the reflection of an accepted input is max(len, STAMP_LEN) bytes:
 *    read back, every field is what was put in, the sender's sequence
 *    number, timestamp and error estimate are the input's, MBZ is zero,
 *    and every byte past STAMP_LEN is the input's but for the Flags of
 *    each RFC 8972 TLV there, walked here anew: U set, and M too in one
 *    that runs past the end (which ends the walk);
 *  - a reply shorter than STAMP_LEN is refused, a sender's packet written
 *    and read back is the same;
 *  - the first 8 bytes as an error in ns: the estimate is never below it;
 *    as a timespec: NTP time and back is the same to the nanosecond.
 *
 * `tools/dev fuzz [SECONDS]` runs it under libFuzzer with stamp.dict;
 * `make check` replays tests/fuzz/corpus/ through it (replay.c).
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stamp.h"
#include "fuzz.h"

#define FZ_CHECK(c)	do {						\
	if (!(c))							\
		fz_fail(#c, __LINE__);					\
} while (0)

/* Report which invariant broke, then crash so the fuzzer keeps the input. */
static void
fz_fail(const char *what, int line)
{
	fprintf(stderr, "fuzz_stamp.c:%d: invariant broken: %s\n", line, what);
	abort();
}

/* The numbers: error estimates and timestamps from the first bytes. */
static void
fz_numbers(const uint8_t *data, size_t len)
{
	struct timespec	 ts, back;
	uint64_t	 v = 0, ntp, t0;
	uint16_t	 ee;
	double		 s;

	if (len < 8)
		return;
	memcpy(&v, data, sizeof(v));
	ee = stamp_ee_encode(data[0] & 1, v);
	FZ_CHECK(STAMP_EE_MULT(ee) != 0);
	FZ_CHECK((ee & STAMP_EE_Z) == 0);
	FZ_CHECK(((ee & STAMP_EE_S) != 0) == (data[0] & 1));
	s = stamp_ee_seconds(ee);
	FZ_CHECK(ee == 0x3fff || ee == 0xbfff ||
	    s * 1e9 >= (double)v * (1 - 1e-12));

	/* Within one NTP era of 1970, the round trip is exact. */
	ts.tv_sec = (time_t)(v % 0x80000000u);
	ts.tv_nsec = (long)((v >> 32) % 1000000000u);
	ntp = stamp_ts_from_timespec(&ts);
	back.tv_sec = 0;
	back.tv_nsec = 0;
	t0 = stamp_ts_from_timespec(&back);
	FZ_CHECK(stamp_ts_diff_ns(ntp, t0) ==
	    (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct stamp_test	 t, t2;
	struct stamp_reply	 r, back;
	uint8_t			*copy, *buf, out[STAMP_LEN];
	size_t			 n, cap = len > STAMP_LEN ? len : STAMP_LEN;
	size_t			 i, next, vlen;
	uint8_t			 want;
	bool			 over;

	fz_numbers(data, len);
	if ((copy = malloc(len > 0 ? len : 1)) == NULL ||
	    (buf = malloc(cap)) == NULL)
		abort();
	memcpy(copy, data, len);
	FZ_CHECK((stamp_test_parse(copy, len, &t) == 0) == (len >= STAMP_MIN));
	FZ_CHECK((stamp_reply_parse(copy, len, &back) == 0) ==
	    (len >= STAMP_LEN));
	if (len < STAMP_MIN)
		goto done;

	/* A reply as the reflector makes it, fields from the input. */
	memset(&r, 0, sizeof(r));
	r.seq = t.seq ^ 0x5a5a5a5a;
	r.ts = ~t.ts;
	r.ee = t.ee ^ 0x8000;
	r.ssid = t.ssid;
	r.rx = t.ts + 1;
	r.sender_seq = t.seq;
	r.sender_ts = t.ts;
	r.sender_ee = t.ee;
	r.sender_ttl = data[len - 1];
	memset(buf, 0xa5, cap);
	memcpy(buf, data, len);
	n = stamp_reflect(buf, len, cap, &r);
	FZ_CHECK(n == cap);
	for (i = next = STAMP_LEN; i < len; i++) {
		want = data[i];
		if (i == next && len - i >= STAMP_TLV_HDR) {
			vlen = (size_t)data[i + 2] << 8 | data[i + 3];
			over = vlen > len - i - STAMP_TLV_HDR;
			want |= STAMP_TLV_U | (over ? STAMP_TLV_M : 0);
			next = over ? len : i + STAMP_TLV_HDR + vlen;
		}
		FZ_CHECK(buf[i] == want);
	}
	FZ_CHECK(buf[38] == 0 && buf[39] == 0);
	FZ_CHECK(buf[41] == 0 && buf[42] == 0 && buf[43] == 0);
	FZ_CHECK(stamp_reply_parse(buf, n, &back) == 0);
	FZ_CHECK(memcmp(&back, &r, sizeof(r)) == 0 ||
	    (back.seq == r.seq && back.ts == r.ts && back.ee == r.ee &&
	    back.ssid == r.ssid && back.rx == r.rx &&
	    back.sender_seq == r.sender_seq &&
	    back.sender_ts == r.sender_ts && back.sender_ee == r.sender_ee &&
	    back.sender_ttl == r.sender_ttl));
	FZ_CHECK(stamp_reflect(buf, len, STAMP_LEN - 1, &r) == 0);

	/* The sender's side: written, read back, the same. */
	FZ_CHECK(stamp_test_write(out, &t) == STAMP_LEN);
	FZ_CHECK(stamp_test_parse(out, STAMP_LEN, &t2) == 0);
	FZ_CHECK(t2.seq == t.seq && t2.ts == t.ts && t2.ee == t.ee &&
	    t2.ssid == t.ssid);
	for (i = 16; i < STAMP_LEN; i++)
		FZ_CHECK(out[i] == 0);
done:
	free(buf);
	free(copy);
	return (0);
}
