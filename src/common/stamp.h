/*
 * stamp.h: STAMP test packets in unauthenticated mode (RFC 8762), as
 * bytes: a pure codec, no sockets, no clock.  The reflector (echod) and
 * the session-sender (echocli stamp) both use it.
 *
 * Session-Sender packet (RFC 8762 section 4.2.1), 44 octets:
 *
 *	 0  Sequence Number (4)
 *	 4  Timestamp (8, NTP 64-bit format, RFC 5905 section 6)
 *	12  Error Estimate (2, RFC 4656 section 4.1.2)
 *	14  SSID (2, RFC 8972 section 3; MBZ in RFC 8762)
 *	16  MBZ (28)
 *
 * Session-Reflector packet (RFC 8762 section 4.3.1), 44 octets:
 *
 *	 0  Sequence Number (4)		the reflector's
 *	 4  Timestamp (8)		when the reply left
 *	12  Error Estimate (2)		the reflector's clock
 *	14  SSID (2)			the sender's, reflected (RFC 8972)
 *	16  Receive Timestamp (8)	when the test packet arrived
 *	24  Session-Sender Sequence Number (4)
 *	28  Session-Sender Timestamp (8)
 *	36  Session-Sender Error Estimate (2)
 *	38  MBZ (2)
 *	40  Ses-Sender TTL (1)		the test packet's TTL or hop limit
 *	41  MBZ (3)
 *
 * What follows the 44 octets is RFC 8972 TLVs (section 4): Flags (1),
 * Type (1), Length (2, of the Value), Value.  No type is processed, so
 * each TLV comes back with its U (Unrecognized) flag set and the rest as
 * it came; a TLV longer than what is left of the packet also gets its M
 * (Malformed) flag and ends the walk, and 1 to 3 octets left after the
 * last TLV are no TLV and stay as they came.  A TWAMP-Light sender (RFC 5357 appendix I) may send
 * as little as the 14 octets up to the error estimate: RFC 8762 section
 * 4.6 has the reflector read what is missing as zero, and the reply is
 * the full 44.
 */
#ifndef ECHOD_STAMP_H
#define ECHOD_STAMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define STAMP_PORT		862	/* RFC 8762 section 4.1 */
#define STAMP_LEN		44	/* the unauthenticated base packet */
#define STAMP_MIN		14	/* a sender's fields, TWAMP-Light's least */
#define STAMP_NTP_UNIX		2208988800u	/* 1900-01-01 to 1970-01-01 */
#define STAMP_TLV_HDR		4	/* Flags, Type, Length */
#define STAMP_TLV_U		0x80	/* RFC 8972 section 4: Unrecognized */
#define STAMP_TLV_M		0x40	/* Malformed */

/* Error Estimate bits (RFC 4656 section 4.1.2, RFC 8186 section 2.3). */
#define STAMP_EE_S		0x8000	/* synchronised to UTC externally */
#define STAMP_EE_Z		0x4000	/* the timestamp is PTPv2's, not NTP's */
#define STAMP_EE_SCALE(e)	(((e) >> 8) & 0x3f)
#define STAMP_EE_MULT(e)	((e) & 0xff)
#define STAMP_EE_MAX		0x3fff	/* 255 * 2^31 s: nothing is known */

/* What a session-sender's packet says. */
struct stamp_test {
	uint32_t	seq;
	uint64_t	ts;		/* NTP 64-bit */
	uint16_t	ee;
	uint16_t	ssid;
};

/* What a session-reflector's packet says. */
struct stamp_reply {
	uint32_t	seq;
	uint64_t	ts;		/* transmit */
	uint16_t	ee;
	uint16_t	ssid;
	uint64_t	rx;		/* receive */
	uint32_t	sender_seq;
	uint64_t	sender_ts;
	uint16_t	sender_ee;
	uint8_t		sender_ttl;
};

/* A realtime timespec in NTP 64-bit format (seconds since 1900 modulo
 * 2^32, and 2^-32 fractions, rounded down). */
uint64_t	 stamp_ts_from_timespec(const struct timespec *);
/* Nanoseconds from NTP time b to a, with the era wrap; negative if a is
 * before b. */
int64_t		 stamp_ts_diff_ns(uint64_t a, uint64_t b);
/*
 * An Error Estimate for an error of at most err_ns: S if sync, Z clear
 * (NTP format), the smallest scale whose multiplier (never 0) holds it,
 * rounded up, so the estimate is never smaller than the error; the
 * largest estimate when it does not fit.
 */
uint16_t	 stamp_ee_encode(bool sync, uint64_t err_ns);
/* The error an Error Estimate stands for, in seconds:
 * multiplier * 2^(scale - 32). */
double		 stamp_ee_seconds(uint16_t);

/* Read a sender's packet of len bytes, the missing ones as zero; -1 if
 * shorter than STAMP_MIN. */
int		 stamp_test_parse(const uint8_t *, size_t len, struct stamp_test *);
/* Write a sender's packet into the first STAMP_LEN bytes of buf (MBZ
 * zeroed); returns STAMP_LEN. */
size_t		 stamp_test_write(uint8_t *buf, const struct stamp_test *);
/* Read a reflector's packet; -1 if shorter than STAMP_LEN. */
int		 stamp_reply_parse(const uint8_t *, size_t len, struct stamp_reply *);
/*
 * Turn the sender's packet of len bytes in buf (room for cap) into the
 * reflector's, in place: r's fields, MBZ zeroed, the TLVs past STAMP_LEN
 * flagged as not processed (above), their contents untouched.  Returns the reply's length, len or STAMP_LEN if more; 0 if
 * len < STAMP_MIN or cap < STAMP_LEN.
 */
size_t		 stamp_reflect(uint8_t *buf, size_t len, size_t cap,
		    const struct stamp_reply *r);
/* Set the transmit timestamp of a reflector's packet, the last thing
 * written before it is sent. */
void		 stamp_reply_set_ts(uint8_t *buf, uint64_t ts);

#endif
