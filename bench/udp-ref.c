/*
 * udp-ref.c: the reference UDP echo for bench/udp-run: the plainest
 * server there is, one recvfrom() and one sendto() per datagram, no
 * checks.  What echod's batched, guarded echo is measured against.
 *
 * usage: udp-ref PORT   (binds 127.0.0.1:PORT, runs until killed)
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
main(int argc, char *argv[])
{
	struct sockaddr_in	 sin;
	struct sockaddr_storage	 peer;
	socklen_t		 plen;
	static char		 buf[65536];
	ssize_t			 n;
	int			 fd;

	if (argc != 2)
		errx(1, "usage: udp-ref PORT");
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)atoi(argv[1]));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) == -1)
		err(1, "socket");
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		err(1, "bind");
	for (;;) {
		plen = sizeof(peer);
		n = recvfrom(fd, buf, sizeof(buf), 0,
		    (struct sockaddr *)&peer, &plen);
		if (n == -1)
			continue;
		/* Like any server: a full buffer loses the reply. */
		(void)sendto(fd, buf, (size_t)n, MSG_DONTWAIT,
		    (struct sockaddr *)&peer, plen);
	}
}
