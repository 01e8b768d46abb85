/*
 * fuzz_proxy.c: libFuzzer target for the PROXY protocol header parser.
 *
 * Each input is what a connection sent; proxy_parse() reads it with each
 * accept mask, always from a copy of exactly the length it is given, so
 * that a read past it is a sanitizer report.  What must hold (proxy.h):
 *
 *  - the masks: a first 'P' is v1's (ANY answers as V1 does, V2 refuses),
 *    a first CR v2's, anything else is refused by all; no mask, refused;
 *  - BAD has a reason, DONE and MORE none; only DONE fills the rest;
 *  - DONE: 0 < len <= the input and <= PROXY_HEADER_MAX, a version the
 *    mask takes; a v1 header is one line of at most 107 bytes ending in
 *    its only CRLF, and its carried addresses, written back as inet_ntop(3)
 *    writes them, parse to the same; a v2 header is 16 bytes and what its
 *    length field says, its addresses those its bytes carry; local, none;
 *  - MORE: fewer bytes than a header may have;
 *  - the prefixes: MORE up to some length, then either DONE with one
 *    answer (a prefix of a DONE input shorter than len is MORE), or BAD
 *    with one reason, for every longer prefix and with any bytes after.
 *
 * `tools/dev fuzz [SECONDS]` runs it under libFuzzer with proxy.dict;
 * `make check` replays tests/fuzz/corpus/ through it (replay.c).  A
 * reproducer becomes a corpus file named after its bug.
 */

#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy.h"
#include "fuzz.h"

/* Every prefix up to this length is checked, and a sample of longer ones. */
#define FZ_ALL_PREFIXES		128
#define FZ_SAMPLES		64

#define FZ_CHECK(c)	do {						\
	if (!(c))							\
		fz_fail(#c, __LINE__);					\
} while (0)

/* Bytes appended after an input: each can end or break a header. */
static const char *const fz_tails[] = {
	"\r\n", "\n", "\r", " ", "0", ":", ".", "\xff",
	"\r\n\r\n\0\r\nQUIT\n!\x11\0\x0c"
};

/* Report which invariant broke, then crash so the fuzzer keeps the input. */
static void
fz_fail(const char *what, int line)
{
	fprintf(stderr, "fuzz_proxy.c:%d: invariant broken: %s\n", line, what);
	abort();
}

/* proxy_parse() of a copy of exactly len bytes. */
static enum proxy_status
fz_parse(const uint8_t *data, size_t len, unsigned int accept,
    struct proxy_header *h)
{
	enum proxy_status	 st;
	uint8_t			*copy = NULL;

	if (len > 0) {
		if ((copy = malloc(len)) == NULL)
			abort();
		memcpy(copy, data, len);
	}
	st = proxy_parse(copy, len, accept, h);
	free(copy);
	FZ_CHECK(st == PROXY_DONE || st == PROXY_MORE || st == PROXY_BAD);
	return (st);
}

/* Whether two answers are the same answer. */
static bool
fz_same(enum proxy_status a, const struct proxy_header *ha,
    enum proxy_status b, const struct proxy_header *hb)
{
	if (a != b)
		return (false);
	if (a == PROXY_BAD)
		return (strcmp(ha->error, hb->error) == 0);
	return (memcmp(ha, hb, sizeof(*ha)) == 0);
}

/* An address a header carried: its family and length agree. */
static void
fz_check_addr(const struct sockaddr_storage *ss, socklen_t len)
{
	FZ_CHECK(ss->ss_family == AF_INET || ss->ss_family == AF_INET6);
	FZ_CHECK(len == (ss->ss_family == AF_INET ?
	    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)));
}

/* An address and port as text, the way inet_ntop(3) writes them. */
static void
fz_ntop(const struct sockaddr_storage *ss, char *buf, size_t size,
    unsigned int *port)
{
	const struct sockaddr_in	*sin = (const void *)ss;
	const struct sockaddr_in6	*sin6 = (const void *)ss;

	if (ss->ss_family == AF_INET) {
		FZ_CHECK(inet_ntop(AF_INET, &sin->sin_addr, buf, size) !=
		    NULL);
		*port = ntohs(sin->sin_port);
	} else {
		FZ_CHECK(inet_ntop(AF_INET6, &sin6->sin6_addr, buf, size) !=
		    NULL);
		*port = ntohs(sin6->sin6_port);
	}
}

/* A whole v1 header: one line, and the addresses it carried. */
static void
fz_check_v1(const uint8_t *data, const struct proxy_header *h)
{
	struct proxy_header	 h2;
	char			 src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
	char			 line[PROXY_V1_MAX + 64];
	unsigned int		 sport, dport;
	size_t			 i;
	int			 n;

	FZ_CHECK(h->len >= 15 && h->len <= PROXY_V1_MAX);
	FZ_CHECK(memcmp(data, "PROXY ", 6) == 0);
	FZ_CHECK(data[h->len - 2] == '\r' && data[h->len - 1] == '\n');
	for (i = 0; i < h->len - 2; i++)
		FZ_CHECK(data[i] != '\r' && data[i] != '\n');
	if (h->local) {
		FZ_CHECK(memcmp(data + 6, "UNKNOWN", 7) == 0);
		FZ_CHECK(data[13] == ' ' || data[13] == '\r');
		return;
	}
	FZ_CHECK(memcmp(data + 6, h->src.ss_family == AF_INET ?
	    "TCP4 " : "TCP6 ", 5) == 0);

	/* Written back canonically, the line says the same. */
	fz_ntop(&h->src, src, sizeof(src), &sport);
	fz_ntop(&h->dst, dst, sizeof(dst), &dport);
	n = snprintf(line, sizeof(line), "PROXY %s %s %s %u %u\r\n",
	    h->src.ss_family == AF_INET ? "TCP4" : "TCP6", src, dst, sport,
	    dport);
	FZ_CHECK(n > 0 && (size_t)n < sizeof(line));
	FZ_CHECK(fz_parse((const uint8_t *)line, (size_t)n, PROXY_V1, &h2) ==
	    PROXY_DONE);
	FZ_CHECK(h2.len == (size_t)n);
	FZ_CHECK(memcmp(&h2.src, &h->src, sizeof(h->src)) == 0);
	FZ_CHECK(memcmp(&h2.dst, &h->dst, sizeof(h->dst)) == 0);
	FZ_CHECK(h2.srclen == h->srclen && h2.dstlen == h->dstlen);
}

/* A whole v2 header: its length field, and the addresses it carried. */
static void
fz_check_v2(const uint8_t *data, const struct proxy_header *h)
{
	const struct sockaddr_in	*s4 = (const void *)&h->src;
	const struct sockaddr_in	*d4 = (const void *)&h->dst;
	const struct sockaddr_in6	*s6 = (const void *)&h->src;
	const struct sockaddr_in6	*d6 = (const void *)&h->dst;
	const uint8_t			*a = data + 16;

	FZ_CHECK(h->len == 16 + ((size_t)data[14] << 8 | data[15]));
	FZ_CHECK(data[12] == 0x20 || data[12] == 0x21);
	if (h->local)
		return;
	FZ_CHECK(data[12] == 0x21);
	if (h->src.ss_family == AF_INET) {
		FZ_CHECK(data[13] == 0x11 && h->len >= 16 + 12);
		FZ_CHECK(memcmp(&s4->sin_addr, a, 4) == 0);
		FZ_CHECK(memcmp(&d4->sin_addr, a + 4, 4) == 0);
		FZ_CHECK(memcmp(&s4->sin_port, a + 8, 2) == 0);
		FZ_CHECK(memcmp(&d4->sin_port, a + 10, 2) == 0);
	} else {
		FZ_CHECK(data[13] == 0x21 && h->len >= 16 + 36);
		FZ_CHECK(memcmp(&s6->sin6_addr, a, 16) == 0);
		FZ_CHECK(memcmp(&d6->sin6_addr, a + 16, 16) == 0);
		FZ_CHECK(memcmp(&s6->sin6_port, a + 32, 2) == 0);
		FZ_CHECK(memcmp(&d6->sin6_port, a + 34, 2) == 0);
	}
}

/* One answer, on its own. */
static void
fz_check(const uint8_t *data, size_t size, unsigned int accept,
    enum proxy_status st, const struct proxy_header *h)
{
	static const struct proxy_header	 zero;
	struct proxy_header			 rest;

	if (st == PROXY_BAD) {
		FZ_CHECK(h->error != NULL && h->error[0] != '\0');
		FZ_CHECK(strlen(h->error) < 80);
	} else
		FZ_CHECK(h->error == NULL);
	if (st != PROXY_DONE) {
		rest = *h;
		rest.error = NULL;
		FZ_CHECK(memcmp(&rest, &zero, sizeof(rest)) == 0);
		if (st == PROXY_MORE)
			FZ_CHECK(size < PROXY_HEADER_MAX &&
			    (size == 0 || data[0] != 'P' ||
			    size < PROXY_V1_MAX));
		return;
	}

	FZ_CHECK(h->len > 0 && h->len <= size);
	FZ_CHECK(h->len <= PROXY_HEADER_MAX);
	FZ_CHECK(h->version == 1 || h->version == 2);
	FZ_CHECK((accept & (unsigned int)h->version) != 0);
	if (h->local) {
		FZ_CHECK(h->src.ss_family == AF_UNSPEC);
		FZ_CHECK(h->dst.ss_family == AF_UNSPEC);
		FZ_CHECK(h->srclen == 0 && h->dstlen == 0);
	} else {
		fz_check_addr(&h->src, h->srclen);
		fz_check_addr(&h->dst, h->dstlen);
		FZ_CHECK(h->src.ss_family == h->dst.ss_family);
	}
	if (h->version == 1)
		fz_check_v1(data, h);
	else
		fz_check_v2(data, h);
}

/* Which mask answers an input as ANY does, by its first byte: 0, none. */
static unsigned int
fz_owner(const uint8_t *data, size_t size)
{
	if (size == 0)
		return (PROXY_ANY);
	if (data[0] == 'P')
		return (PROXY_V1);
	if (data[0] == '\r')
		return (PROXY_V2);
	return (0);
}

/*
 * The prefixes of the input and what follows it, with accept: MORE up to
 * a point, then one DONE or one BAD for good.
 */
static void
fz_check_prefixes(const uint8_t *data, size_t size, unsigned int accept,
    enum proxy_status st, const struct proxy_header *h)
{
	struct proxy_header	 hk, first;
	enum proxy_status	 sk, decided = PROXY_MORE;
	uint8_t			*more;
	size_t			 k, i, n, step;

	memset(&first, 0, sizeof(first));
	step = size / FZ_SAMPLES + 1;
	for (k = 0; k <= size; k++) {
		/* All the short ones; then a sample, and around len. */
		if (k > FZ_ALL_PREFIXES && k % step != 0 && k != size &&
		    !(st == PROXY_DONE && k + 1 >= h->len && k <= h->len + 1))
			continue;
		sk = fz_parse(data, k, accept, &hk);
		fz_check(data, k, accept, sk, &hk);
		if (decided == PROXY_MORE) {
			if (sk == PROXY_MORE)
				continue;
			decided = sk;
			first = hk;
			continue;
		}
		/* Once decided, decided: no MORE, no other answer. */
		FZ_CHECK(fz_same(sk, &hk, decided, &first));
	}
	FZ_CHECK(fz_same(st, h, decided, &first) || (st == PROXY_MORE &&
	    decided == PROXY_MORE));
	if (st == PROXY_DONE)
		FZ_CHECK(fz_parse(data, h->len - 1, accept, &hk) ==
		    PROXY_MORE);

	/* Bytes after it change no decision. */
	if ((more = malloc(size + 32)) == NULL)
		abort();
	for (i = 0; i < sizeof(fz_tails) / sizeof(fz_tails[0]); i++) {
		n = strlen(fz_tails[i]) + 1;
		memcpy(more, data, size);
		memcpy(more + size, fz_tails[i], n);
		sk = fz_parse(more, size + n, accept, &hk);
		fz_check(more, size + n, accept, sk, &hk);
		if (st != PROXY_MORE)
			FZ_CHECK(fz_same(sk, &hk, st, h));
		else if (sk == PROXY_DONE)
			FZ_CHECK(hk.len > size);
	}
	free(more);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned int	 masks[] = {
		PROXY_V1, PROXY_V2, PROXY_ANY
	};
	struct proxy_header		 h[3], h2;
	enum proxy_status		 st[3];
	unsigned int			 owner;
	size_t				 i;

	for (i = 0; i < 3; i++) {
		st[i] = fz_parse(data, size, masks[i], &h[i]);
		fz_check(data, size, masks[i], st[i], &h[i]);
		/* The same answer twice: nothing is kept between calls. */
		FZ_CHECK(fz_same(fz_parse(data, size, masks[i], &h2), &h2,
		    st[i], &h[i]));
	}
	FZ_CHECK(fz_parse(data, size, 0, &h2) == PROXY_BAD);

	/* The first byte says whose it is; the other mask refuses it. */
	owner = fz_owner(data, size);
	if (size == 0)
		for (i = 0; i < 3; i++)
			FZ_CHECK(st[i] == PROXY_MORE);
	else if (owner == 0)
		for (i = 0; i < 3; i++)
			FZ_CHECK(st[i] == PROXY_BAD &&
			    strcmp(h[i].error, "not a PROXY header") == 0);
	else {
		FZ_CHECK(fz_same(st[2], &h[2], st[owner - 1], &h[owner - 1]));
		FZ_CHECK(st[2 - owner] == PROXY_BAD);
	}

	for (i = 0; i < 3; i++)
		if (owner == 0 || owner == PROXY_ANY ||
		    (masks[i] & owner) != 0)
			fz_check_prefixes(data, size, masks[i], st[i], &h[i]);
	return (0);
}
