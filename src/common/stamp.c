/*
 * stamp.c: STAMP unauthenticated test packets (RFC 8762), NTP timestamps
 * and error estimates: a pure codec.
 */
#include <math.h>
#include <string.h>

#include "stamp.h"

/* Offsets of the fields (stamp.h has the figures). */
#define STAMP_O_SEQ		0
#define STAMP_O_TS		4
#define STAMP_O_EE		12
#define STAMP_O_SSID		14
#define STAMP_O_RX		16
#define STAMP_O_SSEQ		24
#define STAMP_O_STS		28
#define STAMP_O_SEE		36
#define STAMP_O_MBZ1		38
#define STAMP_O_TTL		40
#define STAMP_O_MBZ2		41

#define STAMP_NS		1000000000ull

/* Big-endian reads and writes: the wire order of every field. */
static uint16_t
stamp_get16(const uint8_t *p)
{
	return ((uint16_t)(p[0] << 8 | p[1]));
}

static uint32_t
stamp_get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3]);
}

static uint64_t
stamp_get64(const uint8_t *p)
{
	return ((uint64_t)stamp_get32(p) << 32 | stamp_get32(p + 4));
}

static void
stamp_put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void
stamp_put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = (v >> 16) & 0xff;
	p[2] = (v >> 8) & 0xff;
	p[3] = v & 0xff;
}

static void
stamp_put64(uint8_t *p, uint64_t v)
{
	stamp_put32(p, (uint32_t)(v >> 32));
	stamp_put32(p + 4, (uint32_t)v);
}

/* A timespec as NTP 64-bit time; see stamp.h. */
uint64_t
stamp_ts_from_timespec(const struct timespec *ts)
{
	uint32_t	sec;
	uint64_t	frac;

	/* Modulo 2^32: era 1 begins in 2036 (RFC 5905 section 6). */
	sec = (uint32_t)((uint64_t)ts->tv_sec + STAMP_NTP_UNIX);
	/* tv_nsec < 2^30: the product fits in 62 bits. */
	frac = ((uint64_t)ts->tv_nsec << 32) / STAMP_NS;
	return ((uint64_t)sec << 32 | frac);
}

/* a - b in nanoseconds; see stamp.h. */
int64_t
stamp_ts_diff_ns(uint64_t a, uint64_t b)
{
	/* Two's complement: within 68 years either way, the era wrap
	 * cancels out. */
	int64_t		d = (int64_t)(a - b);
	int64_t		sec = d >> 32;		/* floor: frac stays >= 0 */
	uint64_t	frac = (uint64_t)d & 0xffffffffu;

	return (sec * (int64_t)STAMP_NS +
	    (int64_t)((frac * STAMP_NS + (1ull << 31)) >> 32));
}

/* The Error Estimate for err_ns; see stamp.h. */
uint16_t
stamp_ee_encode(bool sync, uint64_t err_ns)
{
	unsigned __int128	 units;
	uint64_t		 mult;
	unsigned int		 scale;
	uint16_t		 ee = sync ? STAMP_EE_S : 0;

	/* In 2^-32 s, rounded up. */
	units = ((unsigned __int128)err_ns << 32);
	units = (units + STAMP_NS - 1) / STAMP_NS;
	for (scale = 0; scale <= 0x3f; scale++) {
		mult = (uint64_t)((units + ((unsigned __int128)1 << scale) -
		    1) >> scale);
		if (mult <= 0xff)
			break;
	}
	if (scale > 0x3f) {
		scale = 0x3f;
		mult = 0xff;
	}
	/* RFC 4656: the multiplier is never zero. */
	if (mult == 0)
		mult = 1;
	return (ee | (uint16_t)(scale << 8) | (uint16_t)mult);
}

/* The error an Error Estimate stands for, in seconds. */
double
stamp_ee_seconds(uint16_t ee)
{
	return (ldexp(STAMP_EE_MULT(ee), (int)STAMP_EE_SCALE(ee) - 32));
}

/* A sender's packet, short ones zero-filled (RFC 8762 section 4.6). */
int
stamp_test_parse(const uint8_t *p, size_t len, struct stamp_test *t)
{
	if (len < STAMP_MIN)
		return (-1);
	t->seq = stamp_get32(p + STAMP_O_SEQ);
	t->ts = stamp_get64(p + STAMP_O_TS);
	t->ee = stamp_get16(p + STAMP_O_EE);
	t->ssid = len >= STAMP_O_SSID + 2 ? stamp_get16(p + STAMP_O_SSID) :
	    len == STAMP_O_SSID + 1 ? (uint16_t)(p[STAMP_O_SSID] << 8) : 0;
	return (0);
}

/* A sender's packet, RFC 8762 section 4.2.1. */
size_t
stamp_test_write(uint8_t *buf, const struct stamp_test *t)
{
	memset(buf, 0, STAMP_LEN);
	stamp_put32(buf + STAMP_O_SEQ, t->seq);
	stamp_put64(buf + STAMP_O_TS, t->ts);
	stamp_put16(buf + STAMP_O_EE, t->ee);
	stamp_put16(buf + STAMP_O_SSID, t->ssid);
	return (STAMP_LEN);
}

/* A reflector's packet, RFC 8762 section 4.3.1. */
int
stamp_reply_parse(const uint8_t *p, size_t len, struct stamp_reply *r)
{
	if (len < STAMP_LEN)
		return (-1);
	r->seq = stamp_get32(p + STAMP_O_SEQ);
	r->ts = stamp_get64(p + STAMP_O_TS);
	r->ee = stamp_get16(p + STAMP_O_EE);
	r->ssid = stamp_get16(p + STAMP_O_SSID);
	r->rx = stamp_get64(p + STAMP_O_RX);
	r->sender_seq = stamp_get32(p + STAMP_O_SSEQ);
	r->sender_ts = stamp_get64(p + STAMP_O_STS);
	r->sender_ee = stamp_get16(p + STAMP_O_SEE);
	r->sender_ttl = p[STAMP_O_TTL];
	return (0);
}

/*
 * The TLVs of the len octets at p, none of whose types the reflector
 * processes: U in each (RFC 8972 section 4: set when the TLV was not
 * understood), and M in one that runs past the end, which is the last.
 */
static void
stamp_tlvs_mark(uint8_t *p, size_t len)
{
	size_t	vlen;

	while (len >= STAMP_TLV_HDR) {
		vlen = stamp_get16(p + 2);
		if (vlen > len - STAMP_TLV_HDR) {
			p[0] |= STAMP_TLV_U | STAMP_TLV_M;
			return;
		}
		p[0] |= STAMP_TLV_U;
		p += STAMP_TLV_HDR + vlen;
		len -= STAMP_TLV_HDR + vlen;
	}
}

/* The reply, in place of the test packet; see stamp.h. */
size_t
stamp_reflect(uint8_t *buf, size_t len, size_t cap,
    const struct stamp_reply *r)
{
	if (len < STAMP_MIN || cap < STAMP_LEN)
		return (0);
	/* Every byte of the base packet is written: nothing of the
	 * sender's, nor what the buffer held before, is left in it. */
	stamp_put32(buf + STAMP_O_SEQ, r->seq);
	stamp_put64(buf + STAMP_O_TS, r->ts);
	stamp_put16(buf + STAMP_O_EE, r->ee);
	stamp_put16(buf + STAMP_O_SSID, r->ssid);
	stamp_put64(buf + STAMP_O_RX, r->rx);
	stamp_put32(buf + STAMP_O_SSEQ, r->sender_seq);
	stamp_put64(buf + STAMP_O_STS, r->sender_ts);
	stamp_put16(buf + STAMP_O_SEE, r->sender_ee);
	memset(buf + STAMP_O_MBZ1, 0, 2);
	buf[STAMP_O_TTL] = r->sender_ttl;
	memset(buf + STAMP_O_MBZ2, 0, 3);
	if (len <= STAMP_LEN)
		return (STAMP_LEN);
	stamp_tlvs_mark(buf + STAMP_LEN, len - STAMP_LEN);
	return (len);
}

/* The transmit timestamp of a reply. */
void
stamp_reply_set_ts(uint8_t *buf, uint64_t ts)
{
	stamp_put64(buf + STAMP_O_TS, ts);
}
