/*
 * uring-echo.c: an io_uring echo server, as liburing's examples write
 * one, for bench/matrix.
 *
 *	uring-echo port
 *
 * One ring, one thread, on 127.0.0.1.  A multishot accept (one request,
 * a completion per connection; re-armed when the kernel ends it, and
 * replaced by one accept per connection where the kernel has none).
 * Each connection owns a fixed 32 KiB buffer, allocated when it is
 * accepted, and has exactly one request in flight: a recv into the
 * buffer, then a send of what came, the rest of a partial send again,
 * then the next recv.  TCP_NODELAY as every other server measured.  The
 * ring has the default set-up flags and a completion queue large enough
 * for one completion per connection.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <err.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <liburing.h>

#define URE_BUFSZ	(32 * 1024)
#define URE_SQ		4096
#define URE_CQ		65536
#define URE_ACCEPT	((uint64_t)1)	/* user_data of the accept */

/* One connection, its buffer and where its reply stands. */
struct ure_conn {
	int		 fd;
	int		 sending;	/* 0: a recv is in flight, 1: a send */
	unsigned	 off;		/* bytes of buf sent so far */
	unsigned	 len;		/* bytes of buf received */
	char		 buf[URE_BUFSZ];
};

static struct io_uring	ure_ring;
static int		ure_lfd;
static int		ure_multishot = 1;

/* A submission entry, submitting what is queued when the ring is full. */
static struct io_uring_sqe *
ure_sqe(void)
{
	struct io_uring_sqe	*sqe;

	while ((sqe = io_uring_get_sqe(&ure_ring)) == NULL)
		io_uring_submit(&ure_ring);
	return (sqe);
}

/* Ask for the next connection(s). */
static void
ure_arm_accept(void)
{
	struct io_uring_sqe	*sqe = ure_sqe();

	if (ure_multishot)
		io_uring_prep_multishot_accept(sqe, ure_lfd, NULL, NULL, 0);
	else
		io_uring_prep_accept(sqe, ure_lfd, NULL, NULL, 0);
	io_uring_sqe_set_data64(sqe, URE_ACCEPT);
}

/* Read into the connection's buffer. */
static void
ure_recv(struct ure_conn *c)
{
	struct io_uring_sqe	*sqe = ure_sqe();

	c->sending = 0;
	io_uring_prep_recv(sqe, c->fd, c->buf, URE_BUFSZ, 0);
	io_uring_sqe_set_data(sqe, c);
}

/* Send what of the buffer is still owed. */
static void
ure_send(struct ure_conn *c)
{
	struct io_uring_sqe	*sqe = ure_sqe();

	c->sending = 1;
	io_uring_prep_send(sqe, c->fd, c->buf + c->off, c->len - c->off,
	    MSG_NOSIGNAL);
	io_uring_sqe_set_data(sqe, c);
}

/* Done with a connection: nothing of it is in flight. */
static void
ure_close(struct ure_conn *c)
{
	close(c->fd);
	free(c);
}

/* A connection came (res is its fd) or accepting failed. */
static void
ure_accepted(int res, unsigned flags)
{
	struct ure_conn	*c;
	int		 one = 1;

	if (res == -EINVAL && ure_multishot) {
		/* No multishot accept in this kernel. */
		ure_multishot = 0;
		ure_arm_accept();
		return;
	}
	if (!(flags & IORING_CQE_F_MORE))
		ure_arm_accept();
	if (res < 0)
		return;		/* EMFILE and the like: the next one */
	if ((c = malloc(sizeof(*c))) == NULL) {
		close(res);
		return;
	}
	c->fd = res;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	ure_recv(c);
}

/* A recv or a send of connection c completed with res. */
static void
ure_done(struct ure_conn *c, int res)
{
	if (res <= 0) {
		if (res == -EINTR || res == -EAGAIN) {
			if (c->sending)
				ure_send(c);
			else
				ure_recv(c);
			return;
		}
		ure_close(c);		/* end of file or an error */
		return;
	}
	if (!c->sending) {
		c->off = 0;
		c->len = (unsigned)res;
		ure_send(c);
		return;
	}
	c->off += (unsigned)res;
	if (c->off < c->len)
		ure_send(c);
	else
		ure_recv(c);
}

int
main(int argc, char *argv[])
{
	struct io_uring_params	 p;
	struct io_uring_cqe	*cqe;
	struct sockaddr_in	 sin;
	unsigned		 head, n;
	char			*end;
	long			 port;
	int			 one = 1, r;

	if (argc != 2)
		errx(1, "usage: uring-echo port");
	port = strtol(argv[1], &end, 10);
	if (*argv[1] == '\0' || *end != '\0' || port < 1 || port > 65535)
		errx(1, "bad port: %s", argv[1]);
	signal(SIGPIPE, SIG_IGN);
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_CQSIZE;
	p.cq_entries = URE_CQ;
	if ((r = io_uring_queue_init_params(URE_SQ, &ure_ring, &p)) < 0)
		errx(1, "io_uring_queue_init: %s", strerror(-r));
	if ((ure_lfd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		err(1, "socket");
	setsockopt(ure_lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(ure_lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		err(1, "bind");
	if (listen(ure_lfd, 4096) == -1)
		err(1, "listen");
	ure_arm_accept();
	for (;;) {
		r = io_uring_submit_and_wait(&ure_ring, 1);
		if (r < 0 && r != -EINTR && r != -EBUSY)
			errx(1, "io_uring_submit_and_wait: %s", strerror(-r));
		n = 0;
		io_uring_for_each_cqe(&ure_ring, head, cqe) {
			if (cqe->user_data == URE_ACCEPT)
				ure_accepted(cqe->res, cqe->flags);
			else
				ure_done(io_uring_cqe_get_data(cqe),
				    cqe->res);
			n++;
		}
		io_uring_cq_advance(&ure_ring, n);
	}
}
