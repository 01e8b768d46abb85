/*
 * udp-mmsg.c: the UDP reference of bench/matrix: a plain recvmmsg loop.
 * One blocking recvmmsg() takes up to 64 datagrams, one sendmmsg()
 * returns them all to their senders; no checks, no limits.  The batch is
 * what a fast datagram server does (echod batches too); bench/udp-ref.c,
 * one recvfrom and one sendto per datagram, is the naive one.
 *
 *	udp-mmsg port		(binds 127.0.0.1:port, runs until killed)
 */
#define _GNU_SOURCE		/* recvmmsg, sendmmsg */

#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UM_BATCH	64
#define UM_DGRAM	65536

static char			um_buf[UM_BATCH][UM_DGRAM];
static struct sockaddr_storage	um_peer[UM_BATCH];
static struct iovec		um_iov[UM_BATCH];
static struct mmsghdr		um_msg[UM_BATCH];

int
main(int argc, char *argv[])
{
	struct sockaddr_in	 sin;
	char			*end;
	long			 port;
	int			 fd, n, i;

	if (argc != 2)
		errx(1, "usage: udp-mmsg port");
	port = strtol(argv[1], &end, 10);
	if (*argv[1] == '\0' || *end != '\0' || port < 1 || port > 65535)
		errx(1, "bad port: %s", argv[1]);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) == -1)
		err(1, "socket");
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		err(1, "bind");
	for (;;) {
		for (i = 0; i < UM_BATCH; i++) {
			um_iov[i].iov_base = um_buf[i];
			um_iov[i].iov_len = UM_DGRAM;
			memset(&um_msg[i].msg_hdr, 0, sizeof(struct msghdr));
			um_msg[i].msg_hdr.msg_name = &um_peer[i];
			um_msg[i].msg_hdr.msg_namelen = sizeof(um_peer[i]);
			um_msg[i].msg_hdr.msg_iov = &um_iov[i];
			um_msg[i].msg_hdr.msg_iovlen = 1;
		}
		/* Block for the first, take what else is queued. */
		n = recvmmsg(fd, um_msg, UM_BATCH, MSG_WAITFORONE, NULL);
		if (n <= 0)
			continue;
		for (i = 0; i < n; i++)
			um_iov[i].iov_len = um_msg[i].msg_len;
		/* Like any server: a full buffer loses the replies. */
		(void)sendmmsg(fd, um_msg, (unsigned int)n, MSG_DONTWAIT);
	}
}
