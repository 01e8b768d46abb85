/*
 * proxy.c: the PROXY protocol header, v1 and v2: a pure parser.
 *
 * Each call parses from the first byte again: a header is at most
 * PROXY_HEADER_MAX bytes, arrives once per connection and nearly always
 * in one segment, so remembering where the last call stopped would save
 * little and cost a state for the caller to keep right.  Every check is
 * made as soon as the bytes it needs have arrived, and each asks whether
 * what arrived can still begin a valid header: MORE is only ever said of
 * a true prefix, and whatever is BAD stays BAD however it goes on.
 */

#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdint.h>
#include <string.h>

#include "proxy.h"

#define PROXY_V2_SIGLEN		12
#define PROXY_V2_HDRLEN		16	/* signature, ver_cmd, fam, len */
#define PROXY_V2_CMD_LOCAL	0x0
#define PROXY_V2_CMD_PROXY	0x1
#define PROXY_V2_AF_UNSPEC	0x0
#define PROXY_V2_AF_INET	0x1
#define PROXY_V2_AF_INET6	0x2
#define PROXY_V2_AF_UNIX	0x3
#define PROXY_V2_T_UNSPEC	0x0
#define PROXY_V2_T_STREAM	0x1
#define PROXY_V2_T_DGRAM	0x2
#define PROXY_V2_TLV_HDRLEN	3	/* type, length (2 bytes) */
#define PROXY_V2_TLV_CRC32C	0x03

/* The longest IPv6 literal inet_pton(3) takes, with a dotted quad. */
#define PROXY_V6_TEXT_MAX	(INET6_ADDRSTRLEN - 1)

static const uint8_t proxy_v2_sig[PROXY_V2_SIGLEN] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

/* The address block of each v2 family (UNSPEC: none): 2 addresses, 2 ports. */
static const size_t proxy_v2_addrlen[] = {
	[PROXY_V2_AF_UNSPEC] = 0,
	[PROXY_V2_AF_INET] = 2 * 4 + 2 * 2,
	[PROXY_V2_AF_INET6] = 2 * 16 + 2 * 2,
	[PROXY_V2_AF_UNIX] = 2 * 108
};

/* The four fields of a v1 TCP4/TCP6 line, in order, and what a bad one is. */
enum proxy_field {
	PROXY_SRC,
	PROXY_DST,
	PROXY_SPORT,
	PROXY_DPORT
};
static const char *const proxy_field_error[] = {
	[PROXY_SRC] = "v1: bad source address",
	[PROXY_DST] = "v1: bad destination address",
	[PROXY_SPORT] = "v1: bad source port",
	[PROXY_DPORT] = "v1: bad destination port"
};

/*
 * CRC32C (Castagnoli, reflected polynomial 0x82f63b78) of each nibble: a
 * table of 16 rather than 256 entries, as a header is checked once per
 * connection and is a few hundred bytes at most.
 */
static const uint32_t proxy_crc32c_nibble[16] = {
	0x00000000, 0x105ec76f, 0x20bd8ede, 0x30e349b1,
	0x417b1dbc, 0x5125dad3, 0x61c69362, 0x7198540d,
	0x82f63b78, 0x92a8fc17, 0xa24bb5a6, 0xb21572c9,
	0xc38d26c4, 0xd3d3e1ab, 0xe330a81a, 0xf36e6f75
};

/* Say why it is BAD. */
static enum proxy_status
proxy_bad(struct proxy_header *h, const char *error)
{
	h->error = error;
	return (PROXY_BAD);
}

/*
 * Whether p[0..n) is a dotted quad as the protocol writes it (whole), or
 * can begin one: 4 decimal numbers 0 to 255 between single dots, with no
 * leading zero (the spec forbids them lest they be read as octal; glibc's
 * inet_pton(3) refuses them too, but this does not depend on it).
 */
static bool
proxy_v4_text(const uint8_t *p, size_t n, bool whole)
{
	size_t		 i, dots = 0, digits = 0;
	unsigned int	 octet = 0;

	for (i = 0; i < n; i++) {
		if (p[i] == '.') {
			if (digits == 0 || ++dots > 3)
				return (false);
			digits = 0;
			octet = 0;
			continue;
		}
		if (p[i] < '0' || p[i] > '9')
			return (false);
		if (digits == 1 && octet == 0)
			return (false);
		octet = octet * 10 + (p[i] - '0');
		digits++;
		/* No leading zero: 4 digits would be 1000 or more. */
		if (octet > 255)
			return (false);
	}
	return (!whole || (dots == 3 && digits > 0));
}

/* What the last byte of an IPv6 literal so far was. */
enum proxy_v6_last {
	PROXY_V6_START,		/* none yet */
	PROXY_V6_LEAD,		/* a first ':', which must be "::" */
	PROXY_V6_HEX,		/* a hex digit of a group */
	PROXY_V6_COLON,		/* the ':' after a group */
	PROXY_V6_DCOLON		/* the second ':' of "::" */
};

/*
 * Whether p[0..n) can begin an IPv6 literal as inet_pton(3) takes it:
 * groups of 1 to 4 hex digits between single colons, 8 in all, or fewer
 * and one "::" standing for one zero group or more, the last two groups
 * possibly written as a dotted quad.  The whole literal is then left to
 * inet_pton(3); this only lets a wrong one be refused before its end.
 */
static bool
proxy_v6_prefix(const uint8_t *p, size_t n)
{
	enum proxy_v6_last	 last = PROXY_V6_START;
	size_t			 i, groups = 0, xdigits = 0, tok = 0;
	bool			 dcolon = false, ok = true;

	if (n > PROXY_V6_TEXT_MAX)
		return (false);
	for (i = 0; i < n; i++) {
		if (p[i] == ':') {
			switch (last) {
			case PROXY_V6_START:
				last = PROXY_V6_LEAD;
				break;
			case PROXY_V6_HEX:
				groups++;
				xdigits = 0;
				last = PROXY_V6_COLON;
				break;
			case PROXY_V6_LEAD:
			case PROXY_V6_COLON:
				if (dcolon)
					return (false);
				dcolon = true;
				last = PROXY_V6_DCOLON;
				break;
			case PROXY_V6_DCOLON:
				return (false);
			}
		} else if (p[i] == '.') {
			/*
			 * A dotted quad takes the place of the last 2 groups:
			 * the token it starts with must be its first number.
			 */
			if (last != PROXY_V6_HEX)
				return (false);
			if (dcolon ? groups > 5 : groups != 6)
				return (false);
			return (proxy_v4_text(p + tok, n - tok, false));
		} else if ((p[i] >= '0' && p[i] <= '9') ||
		    (p[i] >= 'a' && p[i] <= 'f') ||
		    (p[i] >= 'A' && p[i] <= 'F')) {
			if (last == PROXY_V6_LEAD)
				return (false);
			if (last != PROXY_V6_HEX)
				tok = i;
			if (++xdigits > 4)
				return (false);
			last = PROXY_V6_HEX;
		} else
			return (false);

		/* Room must be left for what the literal still needs. */
		switch (last) {
		case PROXY_V6_START:
		case PROXY_V6_LEAD:
			ok = true;
			break;
		case PROXY_V6_HEX:
			/* This token is a group of its own. */
			ok = groups + 1 <= (dcolon ? 7u : 8u);
			break;
		case PROXY_V6_COLON:
			/* One more group, or (without one yet) a "::". */
			ok = groups <= (dcolon ? 6u : 7u);
			break;
		case PROXY_V6_DCOLON:
			/* It stands for at least one group. */
			ok = groups <= 7;
			break;
		}
		if (!ok)
			return (false);
	}
	return (true);
}

/*
 * Whether p[0..n) is (whole) or can begin a v1 port: 0 to 65535 in
 * decimal, no sign, no leading zero ("0" alone is port 0, in the spec's
 * range); *port when whole.
 */
static bool
proxy_port_text(const uint8_t *p, size_t n, bool whole, uint16_t *port)
{
	size_t		 i;
	unsigned int	 v = 0;

	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return (false);
		if (i == 1 && p[0] == '0')
			return (false);
		v = v * 10 + (p[i] - '0');
		if (v > 65535)
			return (false);
	}
	if (whole && n == 0)
		return (false);
	*port = (uint16_t)v;
	return (true);
}

/* Set the port (host order) of an AF_INET or AF_INET6 address. */
static void
proxy_set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

/*
 * Whether p[0..n), field f of a TCP4 (!v6) or TCP6 line, is (whole) or
 * can begin a valid one; when whole it is stored in *h.  The addresses
 * come before the ports, so a port knows its address's family.
 */
static bool
proxy_v1_field(enum proxy_field f, bool v6, const uint8_t *p, size_t n,
    bool whole, struct proxy_header *h)
{
	struct sockaddr_storage	*ss = f == PROXY_SRC || f == PROXY_SPORT ?
				    &h->src : &h->dst;
	socklen_t		*sslen = ss == &h->src ? &h->srclen :
				    &h->dstlen;
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;
	char			 text[PROXY_V6_TEXT_MAX + 1];
	uint16_t		 port;

	if (f == PROXY_SPORT || f == PROXY_DPORT) {
		if (!proxy_port_text(p, n, whole, &port))
			return (false);
		if (whole)
			proxy_set_port(ss, port);
		return (true);
	}
	if (v6 ? !proxy_v6_prefix(p, n) : !proxy_v4_text(p, n, whole))
		return (false);
	if (!whole)
		return (true);
	/* Both checks above bound n: the literal fits, NUL included. */
	memcpy(text, p, n);
	text[n] = '\0';
	if (v6) {
		if (inet_pton(AF_INET6, text, &sin6->sin6_addr) != 1)
			return (false);
		sin6->sin6_family = AF_INET6;
		*sslen = sizeof(*sin6);
	} else {
		if (inet_pton(AF_INET, text, &sin->sin_addr) != 1)
			return (false);
		sin->sin_family = AF_INET;
		*sslen = sizeof(*sin);
	}
	return (true);
}

/* What ends a v1 line before its end: BAD when it is whole, else MORE. */
static enum proxy_status
proxy_v1_short(struct proxy_header *h, bool whole)
{
	if (whole)
		return (proxy_bad(h, "v1: line ends early"));
	return (PROXY_MORE);
}

/*
 * A v1 line without its CRLF, p[0..n), which holds neither CR nor LF:
 * whole, DONE when it is a valid line (*h filled but for len); else MORE
 * when it can begin one.
 */
static enum proxy_status
proxy_v1_line(const uint8_t *p, size_t n, bool whole, struct proxy_header *h)
{
	static const char *const protos[] = { "TCP4 ", "TCP6 ", "UNKNOWN" };
	const char		*proto = NULL;
	size_t			 i, k, m, plen;
	enum proxy_field	 f;

	m = n < 6 ? n : 6;
	if (memcmp(p, "PROXY ", m) != 0)
		return (proxy_bad(h, "v1: not \"PROXY \""));
	if (n < 6)
		return (proxy_v1_short(h, whole));

	/* The protocol: at most one of them matches what arrived in full. */
	for (i = 0; i < sizeof(protos) / sizeof(protos[0]); i++) {
		plen = strlen(protos[i]);
		m = n - 6 < plen ? n - 6 : plen;
		if (memcmp(p + 6, protos[i], m) != 0)
			continue;
		if (m < plen)
			return (proxy_v1_short(h, whole));
		proto = protos[i];
		break;
	}
	if (proto == NULL)
		return (proxy_bad(h, "v1: protocol not TCP4, TCP6 or UNKNOWN"));

	/*
	 * UNKNOWN: the rest of the line is ignored, but it is a field of
	 * its own: "PROXY UNKNOWNX" names no protocol.
	 */
	if (proto == protos[2]) {
		if (n > 13 && p[13] != ' ')
			return (proxy_bad(h,
			    "v1: UNKNOWN followed by neither space nor CRLF"));
		h->local = true;
		return (whole ? PROXY_DONE : PROXY_MORE);
	}

	/* Each field runs to its single space, the last to the CRLF. */
	i = 11;
	for (f = PROXY_SRC;; f++) {
		for (k = i; k < n && p[k] != ' '; k++)
			;
		if (!proxy_v1_field(f, proto == protos[1], p + i, k - i,
		    k < n || whole, h))
			return (proxy_bad(h, proxy_field_error[f]));
		if (k == n) {
			if (f != PROXY_DPORT)
				return (proxy_v1_short(h, whole));
			return (whole ? PROXY_DONE : PROXY_MORE);
		}
		if (f == PROXY_DPORT)
			return (proxy_bad(h,
			    "v1: bytes after the destination port"));
		i = k + 1;
	}
}

/* A v1 header: p[0] == 'P'. */
static enum proxy_status
proxy_v1(const uint8_t *p, size_t len, struct proxy_header *h)
{
	enum proxy_status	 st;
	size_t			 n, k;

	/*
	 * The CR can only be one of the first PROXY_V1_MAX - 1 bytes, to
	 * leave room for its LF: a line without one there is refused for
	 * that, whatever comes after.
	 */
	n = len < PROXY_V1_MAX - 1 ? len : PROXY_V1_MAX - 1;
	for (k = 0; k < n && p[k] != '\r' && p[k] != '\n'; k++)
		;
	/*
	 * What comes before the first CR or LF is checked first, so that a
	 * line says what is wrong with it and not only that it is short.
	 */
	st = proxy_v1_line(p, k, k < n && p[k] == '\r', h);
	if (st == PROXY_BAD)
		return (st);
	if (k == n) {
		if (n == PROXY_V1_MAX - 1)
			return (proxy_bad(h, "v1: no CRLF within 107 bytes"));
		return (PROXY_MORE);
	}
	if (p[k] == '\n')
		return (proxy_bad(h, "v1: LF without CR"));
	if (k + 1 == len)
		return (PROXY_MORE);
	if (p[k + 1] != '\n')
		return (proxy_bad(h, "v1: CR without LF"));
	h->len = k + 2;
	h->version = 1;
	return (PROXY_DONE);
}

/*
 * CRC32C (RFC 4960, appendix B) of the n bytes at p, with the 4 bytes at
 * offset zero (the checksum's own field) taken as 0, as the sender
 * computed it.
 */
static uint32_t
proxy_crc32c(const uint8_t *p, size_t n, size_t zero)
{
	uint32_t	 crc = 0xffffffff;
	size_t		 i;

	for (i = 0; i < n; i++) {
		crc ^= i >= zero && i < zero + 4 ? 0 : p[i];
		crc = (crc >> 4) ^ proxy_crc32c_nibble[crc & 0xf];
		crc = (crc >> 4) ^ proxy_crc32c_nibble[crc & 0xf];
	}
	return (crc ^ 0xffffffff);
}

/* The carried addresses of a whole v2 INET or INET6 header. */
static void
proxy_v2_addrs(const uint8_t *p, unsigned int fam, struct proxy_header *h)
{
	struct sockaddr_in	*s4 = (struct sockaddr_in *)&h->src;
	struct sockaddr_in	*d4 = (struct sockaddr_in *)&h->dst;
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)&h->src;
	struct sockaddr_in6	*d6 = (struct sockaddr_in6 *)&h->dst;
	const uint8_t		*a = p + PROXY_V2_HDRLEN;

	/* Both addresses and ports are in network order, as sockaddrs. */
	if (fam == PROXY_V2_AF_INET) {
		s4->sin_family = d4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, a, 4);
		memcpy(&d4->sin_addr, a + 4, 4);
		memcpy(&s4->sin_port, a + 8, 2);
		memcpy(&d4->sin_port, a + 10, 2);
		h->srclen = h->dstlen = sizeof(struct sockaddr_in);
	} else {
		s6->sin6_family = d6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, a, 16);
		memcpy(&d6->sin6_addr, a + 16, 16);
		memcpy(&s6->sin6_port, a + 32, 2);
		memcpy(&d6->sin6_port, a + 34, 2);
		h->srclen = h->dstlen = sizeof(struct sockaddr_in6);
	}
}

/*
 * The TLVs of a v2 header that ends at end, from o to end, as far as len
 * bytes have arrived: each must fit the header, a CRC32C one must be the
 * only one and 4 bytes long; *crc is the offset of its value (0: none).
 */
static enum proxy_status
proxy_v2_tlvs(const uint8_t *p, size_t len, size_t o, size_t end,
    size_t *crc, struct proxy_header *h)
{
	size_t	 vlen;

	for (; o < end; o += PROXY_V2_TLV_HDRLEN + vlen) {
		if (end - o < PROXY_V2_TLV_HDRLEN)
			return (proxy_bad(h, "v2: TLV overruns the header"));
		if (len < o + PROXY_V2_TLV_HDRLEN)
			return (PROXY_MORE);
		vlen = (size_t)p[o + 1] << 8 | p[o + 2];
		if (vlen > end - o - PROXY_V2_TLV_HDRLEN)
			return (proxy_bad(h, "v2: TLV overruns the header"));
		if (p[o] == PROXY_V2_TLV_CRC32C) {
			if (vlen != 4)
				return (proxy_bad(h,
				    "v2: CRC32C TLV not 4 bytes long"));
			if (*crc != 0)
				return (proxy_bad(h, "v2: two CRC32C TLVs"));
			*crc = o + PROXY_V2_TLV_HDRLEN;
		}
	}
	return (len < end ? PROXY_MORE : PROXY_DONE);
}

/* A v2 header: p[0] == '\r'. */
static enum proxy_status
proxy_v2(const uint8_t *p, size_t len, struct proxy_header *h)
{
	enum proxy_status	 st;
	unsigned int		 cmd, fam = 0, trans = 0;
	size_t			 m, end, crc = 0;
	uint32_t		 want;

	m = len < PROXY_V2_SIGLEN ? len : PROXY_V2_SIGLEN;
	if (memcmp(p, proxy_v2_sig, m) != 0)
		return (proxy_bad(h, "v2: bad signature"));
	if (len <= PROXY_V2_SIGLEN)
		return (PROXY_MORE);
	if (p[12] >> 4 != 2)
		return (proxy_bad(h, "v2: version not 2"));
	cmd = p[12] & 0xf;
	if (cmd != PROXY_V2_CMD_LOCAL && cmd != PROXY_V2_CMD_PROXY)
		return (proxy_bad(h, "v2: command not LOCAL or PROXY"));
	if (len <= 13)
		return (PROXY_MORE);
	/* LOCAL: the spec says to ignore the family; its byte is unread. */
	if (cmd == PROXY_V2_CMD_PROXY) {
		fam = p[13] >> 4;
		trans = p[13] & 0xf;
		if (fam > PROXY_V2_AF_UNIX)
			return (proxy_bad(h, "v2: unknown address family"));
		if (trans > PROXY_V2_T_DGRAM)
			return (proxy_bad(h, "v2: unknown transport"));
		if (trans == PROXY_V2_T_DGRAM)
			return (proxy_bad(h,
			    "v2: datagram header on a stream connection"));
	}
	if (len <= 14)
		return (PROXY_MORE);
	/* The high byte alone may already say it is too long. */
	if (PROXY_V2_HDRLEN + ((size_t)p[14] << 8) > PROXY_HEADER_MAX)
		return (proxy_bad(h, "v2: header longer than 4096 bytes"));
	if (len <= 15)
		return (PROXY_MORE);
	end = PROXY_V2_HDRLEN + ((size_t)p[14] << 8 | p[15]);
	if (end > PROXY_HEADER_MAX)
		return (proxy_bad(h, "v2: header longer than 4096 bytes"));

	/*
	 * LOCAL, or PROXY of an unspecified family or transport: the
	 * connection's own addresses count, and the block may hold
	 * addresses of a kind not known here, so where TLVs would start is
	 * not known either: all of it is skipped unread, a CRC32C TLV
	 * unchecked.
	 */
	if (cmd == PROXY_V2_CMD_LOCAL || fam == PROXY_V2_AF_UNSPEC ||
	    trans != PROXY_V2_T_STREAM) {
		if (len < end)
			return (PROXY_MORE);
		h->local = true;
		goto done;
	}
	if (end - PROXY_V2_HDRLEN < proxy_v2_addrlen[fam])
		return (proxy_bad(h, "v2: addresses longer than the header"));
	st = proxy_v2_tlvs(p, len, PROXY_V2_HDRLEN + proxy_v2_addrlen[fam],
	    end, &crc, h);
	if (st != PROXY_DONE)
		return (st);
	/* The checksum is the big-endian value, as haproxy sends it. */
	if (crc != 0) {
		want = (uint32_t)p[crc] << 24 | (uint32_t)p[crc + 1] << 16 |
		    (uint32_t)p[crc + 2] << 8 | p[crc + 3];
		if (proxy_crc32c(p, end, crc) != want)
			return (proxy_bad(h, "v2: CRC32C mismatch"));
	}
	/* A UNIX socket's path means nothing to an echo service. */
	if (fam == PROXY_V2_AF_UNIX)
		h->local = true;
	else
		proxy_v2_addrs(p, fam, h);
done:
	h->len = end;
	h->version = 2;
	return (PROXY_DONE);
}

/* Which version the first byte is, and whether the listener takes it. */
static enum proxy_status
proxy_start(const uint8_t *p, size_t len, unsigned int accept,
    struct proxy_header *h)
{
	if ((accept & PROXY_ANY) == 0)
		return (proxy_bad(h, "no PROXY version accepted"));
	if (len == 0)
		return (PROXY_MORE);
	/* No other header starts like either. */
	switch (p[0]) {
	case 'P':
		if ((accept & PROXY_V1) == 0)
			return (proxy_bad(h,
			    "v1 header where only v2 is accepted"));
		return (proxy_v1(p, len, h));
	case '\r':
		if ((accept & PROXY_V2) == 0)
			return (proxy_bad(h,
			    "v2 header where only v1 is accepted"));
		return (proxy_v2(p, len, h));
	default:
		return (proxy_bad(h, "not a PROXY header"));
	}
}

enum proxy_status
proxy_parse(const void *buf, size_t len, unsigned int accept,
    struct proxy_header *h)
{
	enum proxy_status	 st;
	const char		*error;

	memset(h, 0, sizeof(*h));
	st = proxy_start(buf, len, accept, h);
	/* Fields a v1 line filled before it failed are not an answer. */
	if (st != PROXY_DONE) {
		error = h->error;
		memset(h, 0, sizeof(*h));
		h->error = error;
	}
	return (st);
}
