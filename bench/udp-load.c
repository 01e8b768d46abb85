/*
 * udp-load.c: the load generator of bench/udp-run.  Keeps WINDOW
 * datagrams of SIZE bytes in flight to an echo server on 127.0.0.1:PORT
 * (one new datagram for each reply, batched with recvmmsg/sendmmsg) for
 * SECONDS, and prints the replies a second.  A datagram lost on the way
 * is noticed when nothing comes back for 20 ms: the window is refilled.
 *
 * usage: udp-load PORT SECONDS WINDOW SIZE [length]
 * "length": a reply is right if it has the request's length (a STAMP
 * reflector's, bench/stamp), not its bytes.
 * output: "replies/s lost-windows bad-replies"
 */
#define _GNU_SOURCE		/* recvmmsg, sendmmsg */

#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <err.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOAD_BATCH	64
#define LOAD_STALL_MS	20

static char	 payload[65536];
static char	 replies[LOAD_BATCH][65536];

/* Seconds of CLOCK_MONOTONIC. */
static double
load_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Send n datagrams of size bytes; returns how many left. */
static int
load_send(int fd, int n, size_t size)
{
	struct mmsghdr	 m[LOAD_BATCH];
	struct iovec	 iov = { payload, size };
	int		 i, sent = 0, r;

	memset(m, 0, sizeof(m));
	for (i = 0; i < LOAD_BATCH; i++) {
		m[i].msg_hdr.msg_iov = &iov;
		m[i].msg_hdr.msg_iovlen = 1;
	}
	while (sent < n) {
		r = sendmmsg(fd, m, (unsigned int)(n - sent < LOAD_BATCH ?
		    n - sent : LOAD_BATCH), 0);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			if (errno == ECONNREFUSED)
				return sent;
			err(1, "sendmmsg");
		}
		sent += r;
	}
	return sent;
}

int
main(int argc, char *argv[])
{
	struct sockaddr_in	 sin;
	struct mmsghdr		 m[LOAD_BATCH];
	struct iovec		 iov[LOAD_BATCH];
	struct pollfd		 pfd;
	unsigned long long	 got = 0, bad = 0, stalls = 0;
	double			 start, end, secs;
	size_t			 size;
	int			 fd, window, i, n, bufsz = 4 << 20;
	int			 length_only;

	if (argc != 5 && argc != 6)
		errx(1, "usage: udp-load PORT SECONDS WINDOW SIZE [length]");
	length_only = argc > 5 && strcmp(argv[5], "length") == 0;
	secs = atof(argv[2]);
	window = atoi(argv[3]);
	size = (size_t)atoi(argv[4]);
	if (size > sizeof(payload) || window < 1)
		errx(1, "bad window or size");
	for (i = 0; i < (int)size; i++)
		payload[i] = (char)('a' + i % 26);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)atoi(argv[1]));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) == -1)
		err(1, "socket");
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
	/* Connected: only the server's replies are received. */
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		err(1, "connect");

	memset(m, 0, sizeof(m));
	for (i = 0; i < LOAD_BATCH; i++) {
		iov[i].iov_base = replies[i];
		iov[i].iov_len = sizeof(replies[i]);
		m[i].msg_hdr.msg_iov = &iov[i];
		m[i].msg_hdr.msg_iovlen = 1;
	}
	pfd.fd = fd;
	pfd.events = POLLIN;
	start = load_now();
	end = start + secs;
	load_send(fd, window, size);
	while (load_now() < end) {
		if (poll(&pfd, 1, LOAD_STALL_MS) == 0) {
			/* Lost on the way: start the window again. */
			stalls++;
			load_send(fd, window, size);
			continue;
		}
		n = recvmmsg(fd, m, LOAD_BATCH, MSG_DONTWAIT, NULL);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR ||
			    errno == ECONNREFUSED)
				continue;
			err(1, "recvmmsg");
		}
		for (i = 0; i < n; i++)
			if (m[i].msg_len != size || (!length_only &&
			    memcmp(replies[i], payload, size) != 0))
				bad++;
		got += (unsigned long long)n;
		load_send(fd, n, size);
	}
	printf("%.0f %llu %llu\n", (double)got / (load_now() - start),
	    stalls, bad);
	return bad != 0;
}
