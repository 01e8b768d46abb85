/*
 * test_proxy.c: the PROXY protocol header parser, v1 and v2: every field
 * of every kind of header, every malformed shape refused, the accept
 * mask, and every split point of valid headers.
 *
 * Each input is parsed from a copy of exactly its length, so that a read
 * past the end is caught under the sanitizers.
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

#include <cmocka.h>

#include "proxy.h"

#define TEST_BUF	(PROXY_HEADER_MAX + 256)

static const uint8_t test_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

/* Bytes a client may send after its header, or a sender may append. */
static const char *const test_payloads[] = {
	"hello\r\n",
	"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
	"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c",
	"\r",
	"\n",
	" ",
	"\xff"
};

/* proxy_parse() on a copy of exactly len bytes. */
static enum proxy_status
test_parse(const void *buf, size_t len, unsigned int accept,
    struct proxy_header *h)
{
	enum proxy_status	 st;
	void			*copy = NULL;

	if (len > 0) {
		copy = malloc(len);
		assert_non_null(copy);
		memcpy(copy, buf, len);
	}
	st = proxy_parse(copy, len, accept, h);
	free(copy);
	return (st);
}

/* buf followed by the n bytes of more, into out (TEST_BUF bytes). */
static size_t
test_cat(uint8_t *out, const void *buf, size_t len, const void *more,
    size_t n)
{
	assert_true(len + n <= TEST_BUF);
	memcpy(out, buf, len);
	memcpy(out + len, more, n);
	return (len + n);
}

/*
 * len bytes are BAD for accept, with error if not NULL, and stay so, with
 * the same error, whatever follows.
 */
static void
test_bad_bytes(const void *buf, size_t len, unsigned int accept,
    const char *error)
{
	struct proxy_header	 h, h2;
	uint8_t			 more[TEST_BUF];
	size_t			 i, n;

	assert_int_equal(test_parse(buf, len, accept, &h), PROXY_BAD);
	assert_non_null(h.error);
	if (error != NULL)
		assert_string_equal(h.error, error);
	assert_int_equal(h.len, 0);
	for (i = 0; i < sizeof(test_payloads) / sizeof(test_payloads[0]);
	    i++) {
		n = test_cat(more, buf, len, test_payloads[i],
		    strlen(test_payloads[i]) + 1);
		assert_int_equal(test_parse(more, n, accept, &h2), PROXY_BAD);
		assert_string_equal(h2.error, h.error);
	}
}

/* A string that is BAD, in full and with anything after it. */
static void
test_bad(const char *s, unsigned int accept, const char *error)
{
	test_bad_bytes(s, strlen(s), accept, error);
}

/* A string that is still a beginning of a header. */
static void
test_more(const char *s, unsigned int accept)
{
	struct proxy_header	 h;

	assert_int_equal(test_parse(s, strlen(s), accept, &h), PROXY_MORE);
	assert_null(h.error);
	assert_int_equal(h.len, 0);
}

/*
 * A valid header of len bytes: every shorter prefix is MORE, the whole is
 * DONE with h->len == len, and so it is with any bytes after it, with the
 * same answer to the last byte.  *h is the answer.
 */
static void
test_done_bytes(const void *buf, size_t len, unsigned int accept,
    struct proxy_header *h)
{
	struct proxy_header	 h2;
	uint8_t			 more[TEST_BUF];
	size_t			 i, k, n;

	for (k = 0; k < len; k++) {
		assert_int_equal(test_parse(buf, k, accept, &h2), PROXY_MORE);
		assert_null(h2.error);
	}
	assert_int_equal(test_parse(buf, len, accept, h), PROXY_DONE);
	assert_null(h->error);
	assert_int_equal(h->len, len);
	for (i = 0; i < sizeof(test_payloads) / sizeof(test_payloads[0]);
	    i++) {
		n = test_cat(more, buf, len, test_payloads[i],
		    strlen(test_payloads[i]) + 1);
		assert_int_equal(test_parse(more, n, accept, &h2),
		    PROXY_DONE);
		assert_memory_equal(&h2, h, sizeof(*h));
	}
	/* As much as a session's buffer may hold. */
	memset(more, 0xff, sizeof(more));
	memcpy(more, buf, len);
	assert_int_equal(test_parse(more, sizeof(more), accept, &h2),
	    PROXY_DONE);
	assert_memory_equal(&h2, h, sizeof(*h));
}

/* A string that is a valid header, as test_done_bytes(). */
static void
test_done(const char *s, unsigned int accept, struct proxy_header *h)
{
	test_done_bytes(s, strlen(s), accept, h);
}

/* An address is AF_INET text:port. */
static void
test_in(const struct sockaddr_storage *ss, socklen_t len, const char *text,
    uint16_t port)
{
	const struct sockaddr_in	*sin = (const void *)ss;
	char				 buf[INET_ADDRSTRLEN];

	assert_int_equal(ss->ss_family, AF_INET);
	assert_int_equal(len, sizeof(struct sockaddr_in));
	assert_non_null(inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf)));
	assert_string_equal(buf, text);
	assert_int_equal(ntohs(sin->sin_port), port);
}

/* An address is AF_INET6 text:port. */
static void
test_in6(const struct sockaddr_storage *ss, socklen_t len, const char *text,
    uint16_t port)
{
	const struct sockaddr_in6	*sin6 = (const void *)ss;
	char				 buf[INET6_ADDRSTRLEN];

	assert_int_equal(ss->ss_family, AF_INET6);
	assert_int_equal(len, sizeof(struct sockaddr_in6));
	assert_non_null(inet_ntop(AF_INET6, &sin6->sin6_addr, buf,
	    sizeof(buf)));
	assert_string_equal(buf, text);
	assert_int_equal(ntohs(sin6->sin6_port), port);
}

/* No carried address: the connection's own count. */
static void
test_local(const struct proxy_header *h, int version)
{
	assert_int_equal(h->version, version);
	assert_true(h->local);
	assert_int_equal(h->src.ss_family, AF_UNSPEC);
	assert_int_equal(h->dst.ss_family, AF_UNSPEC);
	assert_int_equal(h->srclen, 0);
	assert_int_equal(h->dstlen, 0);
}

/*
 * A v2 header into buf: ver_cmd, fam, then alen address bytes and tlen
 * TLV bytes, which the length field counts.  Its length.
 */
static size_t
test_v2(uint8_t *buf, uint8_t ver_cmd, uint8_t fam, const void *addr,
    size_t alen, const void *tlvs, size_t tlen)
{
	size_t	 n = alen + tlen;

	assert_true(16 + n <= TEST_BUF);
	memcpy(buf, test_sig, 12);
	buf[12] = ver_cmd;
	buf[13] = fam;
	buf[14] = (uint8_t)(n >> 8);
	buf[15] = (uint8_t)n;
	if (alen > 0)
		memcpy(buf + 16, addr, alen);
	if (tlen > 0)
		memcpy(buf + 16 + alen, tlvs, tlen);
	return (16 + n);
}

/* A TLV at p; its length. */
static size_t
test_tlv(uint8_t *p, uint8_t type, const void *value, size_t len)
{
	p[0] = type;
	p[1] = (uint8_t)(len >> 8);
	p[2] = (uint8_t)len;
	if (len > 0)
		memcpy(p + 3, value, len);
	return (3 + len);
}

/* The address block of TCP over IPv4: 10.0.0.1:12345 -> 10.0.0.2:443. */
static const uint8_t test_inet[12] = {
	10, 0, 0, 1, 10, 0, 0, 2, 0x30, 0x39, 0x01, 0xbb
};

/* TCP over IPv6: [2001:db8::1]:65535 -> [2001:db8::2]:7. */
static const uint8_t test_inet6[36] = {
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
	0xff, 0xff, 0x00, 0x07
};

/* Some TLVs of the kinds senders send: ALPN, AUTHORITY, NOOP, UNIQUE_ID. */
static size_t
test_some_tlvs(uint8_t *p)
{
	size_t	 n = 0;

	n += test_tlv(p + n, 0x01, "h2", 2);
	n += test_tlv(p + n, 0x02, "example.com", 11);
	n += test_tlv(p + n, 0x04, NULL, 0);
	n += test_tlv(p + n, 0x05, "0123456789abcdef", 16);
	n += test_tlv(p + n, 0x20, "\x01\0\0\0\0\x21\0\x07TLSv1.3", 15);
	return (n);
}

/* A v1 TCP4 line, every field. */
static void
test_v1_tcp4(void **state)
{
	struct proxy_header	 h;

	test_done("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n",
	    PROXY_V1, &h);
	assert_int_equal(h.len, 47);
	assert_int_equal(h.version, 1);
	assert_false(h.local);
	test_in(&h.src, h.srclen, "192.168.0.1", 56324);
	test_in(&h.dst, h.dstlen, "192.168.0.11", 443);
	assert_null(h.error);

	/* The longest one, and the smallest numbers. */
	test_done("PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n",
	    PROXY_ANY, &h);
	assert_int_equal(h.len, 56);
	test_in(&h.src, h.srclen, "255.255.255.255", 65535);
	test_in(&h.dst, h.dstlen, "255.255.255.255", 65535);
	test_done("PROXY TCP4 0.0.0.0 10.0.0.0 0 0\r\n", PROXY_ANY, &h);
	test_in(&h.src, h.srclen, "0.0.0.0", 0);
	test_in(&h.dst, h.dstlen, "10.0.0.0", 0);
}

/* A v1 TCP6 line, every field; an IPv4-mapped source stays IPv6. */
static void
test_v1_tcp6(void **state)
{
	struct proxy_header	 h;
	const struct sockaddr_in6 *sin6 = (const void *)&h.src;

	test_done("PROXY TCP6 2001:db8::1 2001:DB8:0:0:0:0:0:2 1 65535\r\n",
	    PROXY_V1, &h);
	assert_int_equal(h.version, 1);
	assert_false(h.local);
	test_in6(&h.src, h.srclen, "2001:db8::1", 1);
	test_in6(&h.dst, h.dstlen, "2001:db8::2", 65535);

	test_done("PROXY TCP6 ::ffff:1.2.3.4 ::1 40000 7\r\n", PROXY_ANY, &h);
	test_in6(&h.src, h.srclen, "::ffff:1.2.3.4", 40000);
	assert_true(IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr));
	test_in6(&h.dst, h.dstlen, "::1", 7);

	/* The longest the spec names: 104 bytes. */
	test_done("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
	    PROXY_ANY, &h);
	assert_int_equal(h.len, 104);
	test_done("PROXY TCP6 :: 1:2:3:4:5:6:1.2.3.4 0 0\r\n", PROXY_ANY, &h);
	test_in6(&h.src, h.srclen, "::", 0);
	test_in6(&h.dst, h.dstlen, "1:2:3:4:5:6:102:304", 0);
}

/* v1 UNKNOWN: the rest of the line is ignored, and no address counts. */
static void
test_v1_unknown(void **state)
{
	static const char	 odd[] = "PROXY UNKNOWN \0\x01\xff\t\r\n";
	struct proxy_header	 h;

	test_done("PROXY UNKNOWN\r\n", PROXY_V1, &h);
	assert_int_equal(h.len, 15);
	test_local(&h, 1);
	test_done("PROXY UNKNOWN 1.2.3.4 5.6.7.8 1 2\r\n", PROXY_ANY, &h);
	test_local(&h, 1);
	test_done("PROXY UNKNOWN not an address at all\r\n", PROXY_ANY, &h);
	test_local(&h, 1);
	test_done_bytes(odd, sizeof(odd) - 1, PROXY_ANY, &h);
	test_local(&h, 1);
	/* The spec's worst case is 107 bytes, the most there may be. */
	test_done("PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
	    PROXY_ANY, &h);
	assert_int_equal(h.len, PROXY_V1_MAX);
	test_local(&h, 1);
}

/* A line of n bytes, "PROXY UNKNOWN " then 'x', then CRLF at its end. */
static void
test_unknown_line(char *buf, size_t n)
{
	memset(buf, 'x', n);
	memcpy(buf, "PROXY UNKNOWN ", 14);
	buf[n - 2] = '\r';
	buf[n - 1] = '\n';
	buf[n] = '\0';
}

/* The CRLF must end the line within 107 bytes, and it is known at once. */
static void
test_v1_length(void **state)
{
	struct proxy_header	 h;
	char			 buf[256];

	test_unknown_line(buf, PROXY_V1_MAX);
	test_done(buf, PROXY_V1, &h);
	test_unknown_line(buf, PROXY_V1_MAX + 1);
	test_bad(buf, PROXY_V1, "v1: no CRLF within 107 bytes");
	/* The CR at the 107th byte leaves no room for the LF. */
	buf[PROXY_V1_MAX] = '\0';
	test_bad(buf, PROXY_V1, "v1: no CRLF within 107 bytes");
	/* 105 bytes and no CR: the CRLF may still come. */
	buf[PROXY_V1_MAX - 2] = '\0';
	test_more(buf, PROXY_V1);
	/* 106 without a CR: it cannot. */
	buf[PROXY_V1_MAX - 2] = 'x';
	buf[PROXY_V1_MAX - 1] = '\0';
	test_bad(buf, PROXY_V1, "v1: no CRLF within 107 bytes");
	/* 106 ending in CR: its LF may come. */
	buf[PROXY_V1_MAX - 2] = '\r';
	test_more(buf, PROXY_V1);
	memset(buf, 'x', sizeof(buf) - 1);
	memcpy(buf, "PROXY UNKNOWN ", 14);
	buf[sizeof(buf) - 1] = '\0';
	test_bad(buf, PROXY_V1, "v1: no CRLF within 107 bytes");

	/* A valid TCP6 line longer than 107 bytes, as inet_pton(3) would. */
	test_bad("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255 "
	    "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255 65535 65535\r\n",
	    PROXY_V1, "v1: no CRLF within 107 bytes");
}

/* The shape of a v1 line: words, single spaces, the CRLF. */
static void
test_v1_shape(void **state)
{
	test_bad("PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n", PROXY_V1,
	    "v1: protocol not TCP4, TCP6 or UNKNOWN");
	test_bad("PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", PROXY_V1,
	    "v1: bad source address");
	test_bad("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", PROXY_V1,
	    "v1: bad destination address");
	test_bad("PROXY TCP4 1.2.3.4 5.6.7.8  1 2\r\n", PROXY_V1,
	    "v1: bad source port");
	test_bad("PROXY TCP4 1.2.3.4 5.6.7.8 1  2\r\n", PROXY_V1,
	    "v1: bad destination port");
	test_bad("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", PROXY_V1,
	    "v1: bytes after the destination port");
	test_bad("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", PROXY_V1,
	    "v1: bytes after the destination port");
	test_bad("PROXY TCP4 1.2.3.4 5.6.7.8 1 2x\r\n", PROXY_V1,
	    "v1: bad destination port");
	test_bad("PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n", PROXY_V1,
	    "v1: bad source address");
	test_bad(" PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", PROXY_V1,
	    "not a PROXY header");
	test_bad("PROXY\tTCP4 1.2.3.4 5.6.7.8 1 2\r\n", PROXY_V1,
	    "v1: not \"PROXY \"");
	test_bad("PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n", PROXY_V1,
	    "v1: not \"PROXY \"");
	test_bad("PROXX TCP4 1.2.3.4 5.6.7.8 1 2\r\n", PROXY_V1,
	    "v1: not \"PROXY \"");
	test_bad("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", PROXY_V1,
	    "not a PROXY header");
	/* The protocol. */
	test_bad("PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", PROXY_V1,
	    "v1: protocol not TCP4, TCP6 or UNKNOWN");
	test_bad("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", PROXY_V1,
	    "v1: protocol not TCP4, TCP6 or UNKNOWN");
	test_bad("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", PROXY_V1,
	    "v1: protocol not TCP4, TCP6 or UNKNOWN");
	test_bad("PROXY TCP46 1.2.3.4 5.6.7.8 1 2\r\n", PROXY_V1,
	    "v1: protocol not TCP4, TCP6 or UNKNOWN");
	test_bad("PROXY UNKNOWNX\r\n", PROXY_V1,
	    "v1: UNKNOWN followed by neither space nor CRLF");
	test_bad("PROXY UNKNOWN\t1\r\n", PROXY_V1,
	    "v1: UNKNOWN followed by neither space nor CRLF");
	test_bad("PROXY UNKNOW\r\n", PROXY_V1, "v1: line ends early");
	/* Lines that end too soon. */
	test_bad("PROXY\r\n", PROXY_V1, "v1: line ends early");
	test_bad("PROXY \r\n", PROXY_V1, "v1: line ends early");
	test_bad("PROXY TCP4\r\n", PROXY_V1, "v1: line ends early");
	test_bad("PROXY TCP4 \r\n", PROXY_V1, "v1: bad source address");
	test_bad("PROXY TCP4 1.2.3.4\r\n", PROXY_V1, "v1: line ends early");
	test_bad("PROXY TCP4 1.2.3.4 5.6.7.8\r\n", PROXY_V1,
	    "v1: line ends early");
	test_bad("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", PROXY_V1,
	    "v1: line ends early");
	test_bad("PROXY TCP4 1.2.3.4 5.6.7.8 1 \r\n", PROXY_V1,
	    "v1: bad destination port");
	/* CR and LF come only as CRLF, and only at the end. */
	test_bad("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", PROXY_V1,
	    "v1: LF without CR");
	test_bad("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX", PROXY_V1,
	    "v1: CR without LF");
	test_bad("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n", PROXY_V1,
	    "v1: CR without LF");
	test_bad("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n\r\n", PROXY_V1,
	    "v1: LF without CR");
	test_bad("PROXY UNKNOWN\n", PROXY_V1, "v1: LF without CR");
	test_bad("PROXY UNKNOWN x\ry\r\n", PROXY_V1, "v1: CR without LF");
	test_bad("PROXY UNKNOWN x\ny\r\n", PROXY_V1, "v1: LF without CR");
	test_bad("PROXY TCP4 1.2.3.4\r\n5.6.7.8 1 2\r\n", PROXY_V1,
	    "v1: line ends early");
	test_bad("PROXY\n", PROXY_V1, "v1: LF without CR");
	test_bad("P\r\n", PROXY_V1, "v1: line ends early");
}

/* A TCP4 line with src as its source address. */
static void
test_v1_src4(const char *src, bool ok)
{
	struct proxy_header	 h;
	char			 line[256];

	snprintf(line, sizeof(line), "PROXY TCP4 %s 5.6.7.8 1 2\r\n", src);
	if (ok) {
		test_done(line, PROXY_V1, &h);
		test_in(&h.src, h.srclen, src, 1);
	} else
		test_bad(line, PROXY_V1, "v1: bad source address");
	snprintf(line, sizeof(line), "PROXY TCP4 1.2.3.4 %s 1 2\r\n", src);
	if (ok)
		test_done(line, PROXY_V1, &h);
	else
		test_bad(line, PROXY_V1, "v1: bad destination address");
}

/* A TCP6 line with src as its source address. */
static void
test_v1_src6(const char *src, bool ok)
{
	struct proxy_header	 h;
	char			 line[256];

	snprintf(line, sizeof(line), "PROXY TCP6 %s ::1 1 2\r\n", src);
	if (ok)
		test_done(line, PROXY_V1, &h);
	else
		test_bad(line, PROXY_V1, "v1: bad source address");
	snprintf(line, sizeof(line), "PROXY TCP6 ::1 %s 1 2\r\n", src);
	if (ok)
		test_done(line, PROXY_V1, &h);
	else
		test_bad(line, PROXY_V1, "v1: bad destination address");
}

/*
 * Addresses: of the protocol's family only, IPv4 without leading zeros
 * (glibc's inet_pton(3) refuses them too, which is checked here so that
 * a libc that does not is noticed).
 */
static void
test_v1_addresses(void **state)
{
	uint8_t	 a[16];

	assert_int_equal(inet_pton(AF_INET, "01.2.3.4", a), 0);
	assert_int_equal(inet_pton(AF_INET, "1.2.3.04", a), 0);
	assert_int_equal(inet_pton(AF_INET, "1.2.3.4", a), 1);

	test_v1_src4("1.2.3.4", true);
	test_v1_src4("0.0.0.0", true);
	test_v1_src4("100.200.250.255", true);
	test_v1_src4("01.2.3.4", false);
	test_v1_src4("1.2.3.04", false);
	test_v1_src4("1.02.3.4", false);
	test_v1_src4("1.2.00.4", false);
	test_v1_src4("00.1.2.3", false);
	test_v1_src4("1.2.3.0255", false);
	test_v1_src4("256.1.1.1", false);
	test_v1_src4("1.2.3.1000", false);
	test_v1_src4("1.2.3", false);
	test_v1_src4("1.2.3.4.5", false);
	test_v1_src4("1..2.3", false);
	test_v1_src4(".1.2.3", false);
	test_v1_src4("1.2.3.", false);
	test_v1_src4("1.2.3.4/24", false);
	test_v1_src4("+1.2.3.4", false);
	test_v1_src4("0x1.2.3.4", false);
	test_v1_src4("1", false);
	test_v1_src4("::1", false);
	test_v1_src4("::ffff:1.2.3.4", false);

	test_v1_src6("::1", true);
	test_v1_src6("::", true);
	test_v1_src6("0001::", true);
	test_v1_src6("1:2:3:4:5:6:7:8", true);
	test_v1_src6("1:2:3:4:5:6:7::", true);
	test_v1_src6("::2:3:4:5:6:7:8", true);
	test_v1_src6("1::1.2.3.4", true);
	test_v1_src6("1:2:3:4:5::1.2.3.4", true);
	test_v1_src6("::ffff:1.2.3.4", true);
	test_v1_src6("FE80::ABCD", true);
	test_v1_src6("1.2.3.4", false);
	test_v1_src6("::ffff:01.2.3.4", false);
	test_v1_src6("::ffff:1.2.3", false);
	test_v1_src6("1:2:3:4:5:6:7:8:9", false);
	test_v1_src6("1:2:3:4:5:6:7:8::", false);
	test_v1_src6("::1:2:3:4:5:6:7:8", false);
	test_v1_src6("1:2:3:4:5:6:7", false);
	test_v1_src6("1:2:3:4:5:6::1.2.3.4", false);
	test_v1_src6("1:2:3:4:5:1.2.3.4", false);
	test_v1_src6("1:::2", false);
	test_v1_src6(":1::", false);
	test_v1_src6("1::2::3", false);
	test_v1_src6("1::2:", false);
	test_v1_src6("12345::", false);
	test_v1_src6("::g", false);
	test_v1_src6("::f.1.2.3", false);
	test_v1_src6("[::1]", false);
	test_v1_src6("fe80::1%eth0", false);
	test_v1_src6("", false);
}

/* A TCP4 line with sport and dport. */
static void
test_v1_ports1(const char *sport, const char *dport, const char *error)
{
	struct proxy_header	 h;
	char			 line[256];

	snprintf(line, sizeof(line), "PROXY TCP4 1.2.3.4 5.6.7.8 %s %s\r\n",
	    sport, dport);
	if (error == NULL)
		test_done(line, PROXY_V1, &h);
	else
		test_bad(line, PROXY_V1, error);
}

/* Ports: 0 to 65535, decimal, no leading zero ("0" is port 0), no sign. */
static void
test_v1_ports(void **state)
{
	static const char *const bad[] = {
		"65536", "99999", "123456", "00", "01", "080", "+80", "-1",
		"0x50", "8a", "1e3", "\xd9\xa1"
	};
	struct proxy_header	 h;
	size_t			 i;

	test_v1_ports1("0", "65535", NULL);
	test_v1_ports1("10", "1000", NULL);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		test_v1_ports1(bad[i], "1", "v1: bad source port");
		test_v1_ports1("1", bad[i], "v1: bad destination port");
	}
	test_done("PROXY TCP4 1.2.3.4 5.6.7.8 0 65535\r\n", PROXY_V1, &h);
	test_in(&h.src, h.srclen, "1.2.3.4", 0);
	test_in(&h.dst, h.dstlen, "5.6.7.8", 65535);
}

/* Decided early: refused before the CRLF, once no line can start so. */
static void
test_v1_early(void **state)
{
	test_bad("PX", PROXY_V1, "v1: not \"PROXY \"");
	test_bad("PROXYX", PROXY_V1, "v1: not \"PROXY \"");
	test_bad("PROXY X", PROXY_V1, "v1: protocol not TCP4, TCP6 or UNKNOWN");
	test_bad("PROXY TCP7", PROXY_V1,
	    "v1: protocol not TCP4, TCP6 or UNKNOWN");
	test_bad("PROXY UNKNOWNx", PROXY_V1,
	    "v1: UNKNOWN followed by neither space nor CRLF");
	test_bad("PROXY TCP4 1.2.3.4.", PROXY_V1, "v1: bad source address");
	test_bad("PROXY TCP4 01", PROXY_V1, "v1: bad source address");
	test_bad("PROXY TCP4 256", PROXY_V1, "v1: bad source address");
	test_bad("PROXY TCP4 1.2.3 ", PROXY_V1, "v1: bad source address");
	test_bad("PROXY TCP4 :", PROXY_V1, "v1: bad source address");
	test_bad("PROXY TCP6 1.", PROXY_V1, "v1: bad source address");
	test_bad("PROXY TCP6 1:::", PROXY_V1, "v1: bad source address");
	test_bad("PROXY TCP6 1::2::", PROXY_V1, "v1: bad source address");
	test_bad("PROXY TCP6 1:2:3:4:5:6:7:8:", PROXY_V1,
	    "v1: bad source address");
	test_bad("PROXY TCP6 ::1:2:3:4:5:6:7:", PROXY_V1,
	    "v1: bad source address");
	test_bad("PROXY TCP6 ::ffff:1.2.3.4.", PROXY_V1,
	    "v1: bad source address");
	test_bad("PROXY TCP4 1.2.3.4 5.6.7.8 65536", PROXY_V1,
	    "v1: bad source port");
	test_bad("PROXY TCP4 1.2.3.4 5.6.7.8 00", PROXY_V1,
	    "v1: bad source port");
	test_bad("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 ", PROXY_V1,
	    "v1: bytes after the destination port");
}

/* ... and nothing is decided while a line can still start so. */
static void
test_v1_more(void **state)
{
	static const char *const more[] = {
		"P", "PROX", "PROXY", "PROXY ", "PROXY T", "PROXY TCP",
		"PROXY TCP4", "PROXY TCP4 ", "PROXY TCP4 1.2.",
		"PROXY TCP4 1.2.3.4 ", "PROXY TCP4 1.2.3.4 5.6.7.8 6553",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r",
		"PROXY TCP6 ", "PROXY TCP6 :", "PROXY TCP6 ::",
		"PROXY TCP6 ::ffff:1.2.",
		"PROXY TCP6 1:2:3:4:5:6:7:", "PROXY TCP6 1:2:3:4:5:6:7::",
		"PROXY TCP6 1:2:3:4:5:6:255.", "PROXY U", "PROXY UNKNOWN",
		"PROXY UNKNOWN\r", "PROXY UNKNOWN ", "PROXY UNKNOWN x\r"
	};
	size_t	 i;

	for (i = 0; i < sizeof(more) / sizeof(more[0]); i++) {
		test_more(more[i], PROXY_V1);
		test_more(more[i], PROXY_ANY);
	}
}

/*
 * The checks made before an address ends, against inet_pton(3), over
 * every string of a few characters up to depth: a string once refused
 * (BAD before its end) stays refused and has no valid extension; one
 * that is still MORE has one, among the shortest that can end each kind
 * of beginning (the rest of a group count, of a dotted quad).
 */
static void
test_addr_tree(int af, char *s, size_t n, size_t depth, const char *alpha,
    bool refused)
{
	static const char *const ends[] = {
		"", "0", ":", "::", ".0", "0.0", ".0.0", "0.0.0", ".0.0.0",
		"0.0.0.0"
	};
	struct proxy_header	 h;
	char			 line[128], whole[64];
	uint8_t			 a[16];
	enum proxy_status	 st;
	const char		*c;
	bool			 valid, ends_well = false;
	size_t			 i;
	int			 len;

	s[n] = '\0';
	len = snprintf(line, sizeof(line), "PROXY %s %s",
	    af == AF_INET ? "TCP4" : "TCP6", s);
	st = test_parse(line, (size_t)len, PROXY_V1, &h);
	assert_int_not_equal(st, PROXY_DONE);
	if (refused)
		assert_int_equal(st, PROXY_BAD);
	refused = st == PROXY_BAD;
	if (!refused) {
		for (i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
			snprintf(whole, sizeof(whole), "%s%s", s, ends[i]);
			ends_well |= inet_pton(af, whole, a) == 1;
		}
		assert_true(ends_well);
	}

	/* The whole line is DONE exactly when inet_pton(3) takes it. */
	valid = n > 0 && inet_pton(af, s, a) == 1;
	len = snprintf(line, sizeof(line), "PROXY %s %s %s 1 2\r\n",
	    af == AF_INET ? "TCP4" : "TCP6", s,
	    af == AF_INET ? "1.2.3.4" : "::1");
	st = test_parse(line, (size_t)len, PROXY_V1, &h);
	assert_int_equal(st, valid ? PROXY_DONE : PROXY_BAD);
	if (valid)
		assert_false(refused);
	if (n == depth)
		return;
	for (c = alpha; *c != '\0'; c++) {
		s[n] = *c;
		test_addr_tree(af, s, n + 1, depth, alpha, refused);
	}
}

static void
test_v1_addr_exhaustive(void **state)
{
	char	 s[16];

	test_addr_tree(AF_INET, s, 0, 7, "01256.", false);
	test_addr_tree(AF_INET6, s, 0, 8, "01f:.", false);
}

/* v2 LOCAL: the block is skipped, whatever it holds, family included. */
static void
test_v2_local(void **state)
{
	struct proxy_header	 h;
	uint8_t			 buf[TEST_BUF], tlvs[256];
	size_t			 n, t;

	n = test_v2(buf, 0x20, 0x00, NULL, 0, NULL, 0);
	test_done_bytes(buf, n, PROXY_V2, &h);
	assert_int_equal(h.len, 16);
	test_local(&h, 2);

	/* A health check may carry its addresses and TLVs. */
	t = test_some_tlvs(tlvs);
	n = test_v2(buf, 0x20, 0x11, test_inet, sizeof(test_inet), tlvs, t);
	test_done_bytes(buf, n, PROXY_ANY, &h);
	assert_int_equal(h.len, 16 + 12 + t);
	test_local(&h, 2);

	/* The family is ignored, as the spec says. */
	n = test_v2(buf, 0x20, 0xff, "\x01\x02\x03", 3, NULL, 0);
	test_done_bytes(buf, n, PROXY_ANY, &h);
	test_local(&h, 2);
	n = test_v2(buf, 0x20, 0x12, test_inet, sizeof(test_inet), NULL, 0);
	test_done_bytes(buf, n, PROXY_ANY, &h);
	test_local(&h, 2);
}

/* v2 PROXY over IPv4, every field, with and without TLVs. */
static void
test_v2_inet(void **state)
{
	struct proxy_header	 h;
	uint8_t			 buf[TEST_BUF], tlvs[256];
	size_t			 n, t;

	n = test_v2(buf, 0x21, 0x11, test_inet, sizeof(test_inet), NULL, 0);
	test_done_bytes(buf, n, PROXY_V2, &h);
	assert_int_equal(h.len, 28);
	assert_int_equal(h.version, 2);
	assert_false(h.local);
	test_in(&h.src, h.srclen, "10.0.0.1", 12345);
	test_in(&h.dst, h.dstlen, "10.0.0.2", 443);
	assert_null(h.error);

	t = test_some_tlvs(tlvs);
	n = test_v2(buf, 0x21, 0x11, test_inet, sizeof(test_inet), tlvs, t);
	test_done_bytes(buf, n, PROXY_ANY, &h);
	assert_int_equal(h.len, 28 + t);
	assert_false(h.local);
	test_in(&h.src, h.srclen, "10.0.0.1", 12345);
	test_in(&h.dst, h.dstlen, "10.0.0.2", 443);
}

/* v2 PROXY over IPv6; an IPv4-mapped address stays AF_INET6. */
static void
test_v2_inet6(void **state)
{
	struct proxy_header	 h;
	uint8_t			 buf[TEST_BUF], tlvs[256], a[36];
	size_t			 n, t;

	n = test_v2(buf, 0x21, 0x21, test_inet6, sizeof(test_inet6), NULL, 0);
	test_done_bytes(buf, n, PROXY_V2, &h);
	assert_int_equal(h.len, 52);
	assert_int_equal(h.version, 2);
	assert_false(h.local);
	test_in6(&h.src, h.srclen, "2001:db8::1", 65535);
	test_in6(&h.dst, h.dstlen, "2001:db8::2", 7);

	t = test_some_tlvs(tlvs);
	memcpy(a, test_inet6, sizeof(a));
	memcpy(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff\x01\x02\x03\x04", 16);
	n = test_v2(buf, 0x21, 0x21, a, sizeof(a), tlvs, t);
	test_done_bytes(buf, n, PROXY_ANY, &h);
	assert_int_equal(h.len, 52 + t);
	test_in6(&h.src, h.srclen, "::ffff:1.2.3.4", 65535);
	test_in6(&h.dst, h.dstlen, "2001:db8::2", 7);
}

/* v2 PROXY of a UNIX socket: its paths mean nothing here. */
static void
test_v2_unix(void **state)
{
	struct proxy_header	 h;
	uint8_t			 buf[TEST_BUF], tlvs[256], a[216];
	size_t			 n, t;

	memset(a, 0, sizeof(a));
	memcpy(a, "/run/lb.sock", 12);
	memcpy(a + 108, "/run/echo.sock", 14);
	n = test_v2(buf, 0x21, 0x31, a, sizeof(a), NULL, 0);
	test_done_bytes(buf, n, PROXY_V2, &h);
	assert_int_equal(h.len, 16 + 216);
	test_local(&h, 2);

	t = test_some_tlvs(tlvs);
	n = test_v2(buf, 0x21, 0x31, a, sizeof(a), tlvs, t);
	test_done_bytes(buf, n, PROXY_ANY, &h);
	assert_int_equal(h.len, 16 + 216 + t);
	test_local(&h, 2);
	/* Its TLVs are read: one that overruns is refused. */
	n = test_v2(buf, 0x21, 0x31, a, sizeof(a), "\x04\x00\x01", 3);
	test_bad_bytes(buf, n, PROXY_V2, "v2: TLV overruns the header");
}

/*
 * v2 PROXY of an unspecified family or transport: the block may hold
 * addresses of a kind unknown here, so it is skipped unread.
 */
static void
test_v2_unspec(void **state)
{
	struct proxy_header	 h;
	uint8_t			 buf[TEST_BUF], tlvs[256];
	size_t			 n, t;

	n = test_v2(buf, 0x21, 0x00, NULL, 0, NULL, 0);
	test_done_bytes(buf, n, PROXY_V2, &h);
	assert_int_equal(h.len, 16);
	test_local(&h, 2);

	t = test_some_tlvs(tlvs);
	n = test_v2(buf, 0x21, 0x00, NULL, 0, tlvs, t);
	test_done_bytes(buf, n, PROXY_ANY, &h);
	assert_int_equal(h.len, 16 + t);
	test_local(&h, 2);
	/* Not even read as TLVs. */
	n = test_v2(buf, 0x21, 0x00, "\x04\xff\xff", 3, NULL, 0);
	test_done_bytes(buf, n, PROXY_ANY, &h);
	test_local(&h, 2);
	/* UNSPEC family over STREAM, INET over UNSPEC transport. */
	n = test_v2(buf, 0x21, 0x01, NULL, 0, NULL, 0);
	test_done_bytes(buf, n, PROXY_ANY, &h);
	test_local(&h, 2);
	n = test_v2(buf, 0x21, 0x10, test_inet, sizeof(test_inet), NULL, 0);
	test_done_bytes(buf, n, PROXY_ANY, &h);
	test_local(&h, 2);
}

/* The 16 bytes of a v2 header: signature, version, command, family. */
static void
test_v2_fixed(void **state)
{
	uint8_t			 buf[TEST_BUF], bad[TEST_BUF];
	size_t			 i, n, k;

	n = test_v2(buf, 0x21, 0x11, test_inet, sizeof(test_inet), NULL, 0);
	/* A wrong byte anywhere in the signature, known at that byte. */
	for (i = 1; i < 12; i++) {
		memcpy(bad, buf, n);
		bad[i] ^= 0x20;
		for (k = i + 1; k <= n; k++)
			test_bad_bytes(bad, k, PROXY_V2, "v2: bad signature");
	}
	test_bad_bytes("\r\r", 2, PROXY_V2, "v2: bad signature");
	test_bad_bytes("\r\n\r\n\0\r\nquit\n\x21", 13, PROXY_V2,
	    "v2: bad signature");

	/* The version is 2, the command LOCAL or PROXY. */
	memcpy(bad, buf, n);
	bad[12] = 0x11;
	test_bad_bytes(bad, 13, PROXY_V2, "v2: version not 2");
	bad[12] = 0x31;
	test_bad_bytes(bad, n, PROXY_V2, "v2: version not 2");
	bad[12] = 0x01;
	test_bad_bytes(bad, n, PROXY_V2, "v2: version not 2");
	bad[12] = 0x22;
	test_bad_bytes(bad, 13, PROXY_V2, "v2: command not LOCAL or PROXY");
	bad[12] = 0x2f;
	test_bad_bytes(bad, n, PROXY_V2, "v2: command not LOCAL or PROXY");

	/* Family and transport: known ones, and no datagrams on TCP. */
	memcpy(bad, buf, n);
	bad[13] = 0x41;
	test_bad_bytes(bad, 14, PROXY_V2, "v2: unknown address family");
	bad[13] = 0xf1;
	test_bad_bytes(bad, n, PROXY_V2, "v2: unknown address family");
	bad[13] = 0x13;
	test_bad_bytes(bad, 14, PROXY_V2, "v2: unknown transport");
	bad[13] = 0x1f;
	test_bad_bytes(bad, n, PROXY_V2, "v2: unknown transport");
	bad[13] = 0x12;
	test_bad_bytes(bad, 14, PROXY_V2,
	    "v2: datagram header on a stream connection");
	bad[13] = 0x22;
	test_bad_bytes(bad, n, PROXY_V2,
	    "v2: datagram header on a stream connection");
	bad[13] = 0x32;
	test_bad_bytes(bad, n, PROXY_V2,
	    "v2: datagram header on a stream connection");
	bad[13] = 0x02;
	test_bad_bytes(bad, n, PROXY_V2,
	    "v2: datagram header on a stream connection");
}

/* The length field: at most PROXY_HEADER_MAX in all, room for the addresses. */
static void
test_v2_length(void **state)
{
	struct proxy_header	 h;
	uint8_t			 buf[TEST_BUF], tlv[TEST_BUF], fill[TEST_BUF];
	size_t			 n, t;

	/* The largest: 4096 bytes, a NOOP TLV after the addresses. */
	memset(fill, 0xaa, sizeof(fill));
	t = test_tlv(tlv, 0x04, fill, PROXY_HEADER_MAX - 16 - 12 - 3);
	n = test_v2(buf, 0x21, 0x11, test_inet, sizeof(test_inet), tlv, t);
	assert_int_equal(n, PROXY_HEADER_MAX);
	test_done_bytes(buf, n, PROXY_V2, &h);
	test_in(&h.src, h.srclen, "10.0.0.1", 12345);

	/* One more byte is refused as soon as the length says so. */
	t = test_tlv(tlv, 0x04, fill, PROXY_HEADER_MAX - 16 - 12 - 3 + 1);
	n = test_v2(buf, 0x21, 0x11, test_inet, sizeof(test_inet), tlv, t);
	test_bad_bytes(buf, 16, PROXY_V2, "v2: header longer than 4096 bytes");
	test_bad_bytes(buf, n, PROXY_V2, "v2: header longer than 4096 bytes");
	/* The high byte alone can tell: 0x10 is 4096 and more. */
	buf[14] = 0x10;
	buf[15] = 0x00;
	test_bad_bytes(buf, 15, PROXY_V2, "v2: header longer than 4096 bytes");
	buf[14] = 0xff;
	test_bad_bytes(buf, 15, PROXY_V2, "v2: header longer than 4096 bytes");
	buf[14] = 0x0f;
	assert_int_equal(test_parse(buf, 15, PROXY_V2, &h), PROXY_MORE);
	buf[15] = 0xf0;
	assert_int_equal(test_parse(buf, 16, PROXY_V2, &h), PROXY_MORE);
	buf[15] = 0xf1;
	test_bad_bytes(buf, 16, PROXY_V2, "v2: header longer than 4096 bytes");
	/* Even for LOCAL. */
	buf[12] = 0x20;
	test_bad_bytes(buf, 16, PROXY_V2, "v2: header longer than 4096 bytes");

	/* The address block must fit what the length announces. */
	n = test_v2(buf, 0x21, 0x11, test_inet, 11, NULL, 0);
	test_bad_bytes(buf, 16, PROXY_V2,
	    "v2: addresses longer than the header");
	test_bad_bytes(buf, n, PROXY_V2,
	    "v2: addresses longer than the header");
	n = test_v2(buf, 0x21, 0x11, NULL, 0, NULL, 0);
	test_bad_bytes(buf, n, PROXY_V2,
	    "v2: addresses longer than the header");
	n = test_v2(buf, 0x21, 0x21, test_inet6, 35, NULL, 0);
	test_bad_bytes(buf, n, PROXY_V2,
	    "v2: addresses longer than the header");
	n = test_v2(buf, 0x21, 0x21, test_inet6, 12, NULL, 0);
	test_bad_bytes(buf, n, PROXY_V2,
	    "v2: addresses longer than the header");
	memset(tlv, 0, 216);
	n = test_v2(buf, 0x21, 0x31, tlv, 215, NULL, 0);
	test_bad_bytes(buf, n, PROXY_V2,
	    "v2: addresses longer than the header");
}

/* TLVs: each fits the header, the last ends it. */
static void
test_v2_tlvs(void **state)
{
	struct proxy_header	 h;
	uint8_t			 buf[TEST_BUF], tlvs[256];
	size_t			 n, t;

	/* A length that goes past the header's end, known from its TLV. */
	t = test_some_tlvs(tlvs);
	tlvs[t] = 0x04;
	tlvs[t + 1] = 0x00;
	tlvs[t + 2] = 0x05;
	memcpy(tlvs + t + 3, "abcd", 4);
	n = test_v2(buf, 0x21, 0x11, test_inet, sizeof(test_inet), tlvs,
	    t + 7);
	test_bad_bytes(buf, 16 + 12 + t + 3, PROXY_V2,
	    "v2: TLV overruns the header");
	test_bad_bytes(buf, n, PROXY_V2, "v2: TLV overruns the header");
	/* One or two bytes left: no room for a TLV, known from the length. */
	n = test_v2(buf, 0x21, 0x11, test_inet, sizeof(test_inet), tlvs,
	    t + 1);
	test_bad_bytes(buf, 16 + 12 + t, PROXY_V2,
	    "v2: TLV overruns the header");
	test_bad_bytes(buf, n, PROXY_V2, "v2: TLV overruns the header");
	n = test_v2(buf, 0x21, 0x11, test_inet, sizeof(test_inet), tlvs, 2);
	test_bad_bytes(buf, 16, PROXY_V2, "v2: TLV overruns the header");
	test_bad_bytes(buf, n, PROXY_V2, "v2: TLV overruns the header");
	/* The biggest length, in a small header. */
	n = test_v2(buf, 0x21, 0x21, test_inet6, sizeof(test_inet6),
	    "\x05\xff\xff", 3);
	test_bad_bytes(buf, n, PROXY_V2, "v2: TLV overruns the header");
	/* Exactly to the end: fine; empty values too. */
	n = test_v2(buf, 0x21, 0x11, test_inet, sizeof(test_inet),
	    "\x04\x00\x00\xe0\x00\x01x\xf0\x00\x00", 10);
	test_done_bytes(buf, n, PROXY_V2, &h);
	assert_int_equal(h.len, 16 + 12 + 10);
}

/* CRC32C, bit by bit: a model apart from the parser's tables. */
static uint32_t
test_crc32c(const uint8_t *p, size_t n)
{
	uint32_t	 crc = 0xffffffff;
	size_t		 i;
	int		 b;

	for (i = 0; i < n; i++) {
		crc ^= p[i];
		for (b = 0; b < 8; b++)
			crc = crc & 1 ? (crc >> 1) ^ 0x82f63b78 : crc >> 1;
	}
	return (~crc);
}

/* A v2 INET header with a CRC32C TLV, its value filled in; its length. */
static size_t
test_v2_crc(uint8_t *buf, const uint8_t *tlvs, size_t t)
{
	uint8_t		 all[256];
	size_t		 n, m;
	uint32_t	 crc;

	m = test_tlv(all, 0x03, "\0\0\0\0", 4);
	if (t > 0)
		memcpy(all + m, tlvs, t);
	n = test_v2(buf, 0x21, 0x11, test_inet, sizeof(test_inet), all, m + t);
	crc = test_crc32c(buf, n);
	buf[28 + 3] = (uint8_t)(crc >> 24);
	buf[28 + 4] = (uint8_t)(crc >> 16);
	buf[28 + 5] = (uint8_t)(crc >> 8);
	buf[28 + 6] = (uint8_t)crc;
	return (n);
}

/* A CRC32C TLV is checked against the whole header. */
static void
test_v2_crc32c(void **state)
{
	struct proxy_header	 h;
	uint8_t			 buf[TEST_BUF], tlvs[256];
	size_t			 n, t;

	/* RFC 3720's check value: the model is right. */
	assert_int_equal(test_crc32c((const uint8_t *)"123456789", 9),
	    0xe3069283);

	n = test_v2_crc(buf, NULL, 0);
	test_done_bytes(buf, n, PROXY_V2, &h);
	test_in(&h.src, h.srclen, "10.0.0.1", 12345);
	t = test_some_tlvs(tlvs);
	n = test_v2_crc(buf, tlvs, t);
	test_done_bytes(buf, n, PROXY_V2, &h);
	assert_int_equal(h.len, 16 + 12 + 7 + t);

	/* Any byte changed, the checksum's own included. */
	buf[16] ^= 1;
	test_bad_bytes(buf, n, PROXY_V2, "v2: CRC32C mismatch");
	buf[16] ^= 1;
	buf[n - 1] ^= 0x80;
	test_bad_bytes(buf, n, PROXY_V2, "v2: CRC32C mismatch");
	buf[n - 1] ^= 0x80;
	buf[28 + 6] ^= 1;
	test_bad_bytes(buf, n, PROXY_V2, "v2: CRC32C mismatch");
	buf[28 + 6] ^= 1;
	test_done_bytes(buf, n, PROXY_V2, &h);

	/* 4 bytes long, and only one. */
	n = test_v2(buf, 0x21, 0x11, test_inet, sizeof(test_inet),
	    "\x03\x00\x03\x01\x02\x03", 6);
	test_bad_bytes(buf, 16 + 12 + 3, PROXY_V2,
	    "v2: CRC32C TLV not 4 bytes long");
	n = test_v2_crc(buf, (const uint8_t *)"\x03\x00\x04\0\0\0\0", 7);
	test_bad_bytes(buf, n, PROXY_V2, "v2: two CRC32C TLVs");
}

/* The accept mask: the first byte says which version; is it taken? */
static void
test_accept(void **state)
{
	static const char	*v1 = "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n";
	struct proxy_header	 h;
	uint8_t			 v2[64];
	size_t			 n;

	n = test_v2(v2, 0x21, 0x11, test_inet, sizeof(test_inet), NULL, 0);

	test_done(v1, PROXY_V1, &h);
	test_done(v1, PROXY_ANY, &h);
	test_bad(v1, PROXY_V2, "v1 header where only v2 is accepted");
	test_bad("P", PROXY_V2, "v1 header where only v2 is accepted");
	test_bad("PROXY", PROXY_V2, "v1 header where only v2 is accepted");

	test_done_bytes(v2, n, PROXY_V2, &h);
	test_done_bytes(v2, n, PROXY_ANY, &h);
	test_bad_bytes(v2, n, PROXY_V1, "v2 header where only v1 is accepted");
	test_bad("\r", PROXY_V1, "v2 header where only v1 is accepted");
	test_bad("\r\n", PROXY_V1, "v2 header where only v1 is accepted");

	/* Anything else is no header, whatever the mask. */
	test_bad("GET / HTTP/1.1\r\n", PROXY_ANY, "not a PROXY header");
	test_bad("GET / HTTP/1.1\r\n", PROXY_V1, "not a PROXY header");
	test_bad("GET / HTTP/1.1\r\n", PROXY_V2, "not a PROXY header");
	test_bad("SSH-2.0-OpenSSH_9.2\r\n", PROXY_ANY, "not a PROXY header");
	test_bad_bytes("\x16\x03\x01\x02\x00\x01", 6, PROXY_ANY,
	    "not a PROXY header");
	test_bad_bytes("\0", 1, PROXY_ANY, "not a PROXY header");
	test_bad("\n", PROXY_ANY, "not a PROXY header");
	test_bad("hello", PROXY_ANY, "not a PROXY header");

	/* Nothing yet: nothing decided; no version taken: never. */
	assert_int_equal(test_parse(NULL, 0, PROXY_V1, &h), PROXY_MORE);
	assert_int_equal(test_parse(NULL, 0, PROXY_V2, &h), PROXY_MORE);
	assert_int_equal(test_parse(NULL, 0, PROXY_ANY, &h), PROXY_MORE);
	assert_null(h.error);
	assert_int_equal(test_parse(v1, strlen(v1), 0, &h), PROXY_BAD);
	assert_string_equal(h.error, "no PROXY version accepted");
	assert_int_equal(test_parse(NULL, 0, 0, &h), PROXY_BAD);
	/* Bits past the mask are not versions. */
	test_done(v1, PROXY_V1 | 4, &h);
	test_bad(v1, PROXY_V2 | 8, "v1 header where only v2 is accepted");
	test_more("\r\n\r\n", PROXY_ANY);
	test_more("\r\n\r\n\0\r\nQUIT\n", PROXY_V2);
}

/*
 * Every split point of a set of valid headers, with each mask that takes
 * them; the payloads after them are test_payloads and a full buffer.
 */
static void
test_splits(void **state)
{
	static const char *const v1[] = {
		"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n",
		"PROXY TCP6 2001:db8::1 ::ffff:10.0.0.1 1 2\r\n",
		"PROXY TCP6 1:2:3:4:5:6:7:8 :: 65535 0\r\n",
		"PROXY UNKNOWN\r\n",
		"PROXY UNKNOWN ::1 ::2 3 4\r\n"
	};
	struct proxy_header	 h;
	uint8_t			 buf[TEST_BUF], tlvs[256], a[216];
	size_t			 i, n, t;

	for (i = 0; i < sizeof(v1) / sizeof(v1[0]); i++) {
		test_done(v1[i], PROXY_V1, &h);
		test_done(v1[i], PROXY_ANY, &h);
	}
	t = test_some_tlvs(tlvs);
	memset(a, 0x41, sizeof(a));
	n = test_v2(buf, 0x20, 0x00, NULL, 0, NULL, 0);
	test_done_bytes(buf, n, PROXY_V2, &h);
	test_done_bytes(buf, n, PROXY_ANY, &h);
	n = test_v2(buf, 0x20, 0x11, test_inet, sizeof(test_inet), tlvs, t);
	test_done_bytes(buf, n, PROXY_ANY, &h);
	n = test_v2(buf, 0x21, 0x11, test_inet, sizeof(test_inet), NULL, 0);
	test_done_bytes(buf, n, PROXY_V2, &h);
	n = test_v2(buf, 0x21, 0x11, test_inet, sizeof(test_inet), tlvs, t);
	test_done_bytes(buf, n, PROXY_ANY, &h);
	n = test_v2(buf, 0x21, 0x21, test_inet6, sizeof(test_inet6), tlvs, t);
	test_done_bytes(buf, n, PROXY_V2, &h);
	n = test_v2(buf, 0x21, 0x31, a, sizeof(a), tlvs, t);
	test_done_bytes(buf, n, PROXY_ANY, &h);
	n = test_v2(buf, 0x21, 0x00, NULL, 0, tlvs, t);
	test_done_bytes(buf, n, PROXY_V2, &h);
	n = test_v2_crc(buf, tlvs, t);
	test_done_bytes(buf, n, PROXY_ANY, &h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v1_tcp4),
		cmocka_unit_test(test_v1_tcp6),
		cmocka_unit_test(test_v1_unknown),
		cmocka_unit_test(test_v1_length),
		cmocka_unit_test(test_v1_shape),
		cmocka_unit_test(test_v1_addresses),
		cmocka_unit_test(test_v1_ports),
		cmocka_unit_test(test_v1_early),
		cmocka_unit_test(test_v1_more),
		cmocka_unit_test(test_v1_addr_exhaustive),
		cmocka_unit_test(test_v2_local),
		cmocka_unit_test(test_v2_inet),
		cmocka_unit_test(test_v2_inet6),
		cmocka_unit_test(test_v2_unix),
		cmocka_unit_test(test_v2_unspec),
		cmocka_unit_test(test_v2_fixed),
		cmocka_unit_test(test_v2_length),
		cmocka_unit_test(test_v2_tlvs),
		cmocka_unit_test(test_v2_crc32c),
		cmocka_unit_test(test_accept),
		cmocka_unit_test(test_splits),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
