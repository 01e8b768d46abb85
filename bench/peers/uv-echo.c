/*
 * uv-echo.c: the libuv echo server, as libuv's own guide writes it
 * (docs/code/tcp-echo-server), for bench/matrix.
 *
 *	uv-echo port
 *
 * One loop on 127.0.0.1: uv_listen(), and for each connection
 * uv_accept(), uv_tcp_nodelay() and uv_read_start().  Each read gets a
 * buffer of the size libuv suggests (64 KiB) from the allocation
 * callback; the read callback hands that buffer to uv_write() as it is,
 * and the write's callback frees it.  End of file or an error closes the
 * handle.  An idle connection holds no buffer.
 */
#include <err.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <uv.h>

/* A write in flight and the buffer it owns. */
struct uve_write {
	uv_write_t	 req;
	uv_buf_t	 buf;
};

static uv_loop_t	*uve_loop;

/* The handle is closed: free it. */
static void
uve_closed(uv_handle_t *h)
{
	free(h);
}

/* A buffer for the next read, of the size libuv suggests. */
static void
uve_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)h;
	buf->base = malloc(suggested);
	buf->len = buf->base == NULL ? 0 : suggested;
}

/* A reply was written (or failed): its buffer goes. */
static void
uve_written(uv_write_t *req, int status)
{
	struct uve_write	*w = (struct uve_write *)req;

	(void)status;
	free(w->buf.base);
	free(w);
}

/* Bytes arrived: write them back; end of file or error: close. */
static void
uve_read(uv_stream_t *client, ssize_t n, const uv_buf_t *buf)
{
	struct uve_write	*w;

	if (n > 0) {
		if ((w = malloc(sizeof(*w))) == NULL) {
			free(buf->base);
			uv_close((uv_handle_t *)client, uve_closed);
			return;
		}
		w->buf = uv_buf_init(buf->base, (unsigned int)n);
		if (uv_write(&w->req, client, &w->buf, 1, uve_written) != 0) {
			free(w->buf.base);
			free(w);
			uv_close((uv_handle_t *)client, uve_closed);
		}
		return;
	}
	free(buf->base);
	if (n < 0)
		uv_close((uv_handle_t *)client, uve_closed);
}

/* A connection is waiting: accept it and start reading. */
static void
uve_accept(uv_stream_t *server, int status)
{
	uv_tcp_t	*client;

	if (status < 0)
		return;
	if ((client = malloc(sizeof(*client))) == NULL)
		return;
	uv_tcp_init(uve_loop, client);
	if (uv_accept(server, (uv_stream_t *)client) != 0) {
		uv_close((uv_handle_t *)client, uve_closed);
		return;
	}
	uv_tcp_nodelay(client, 1);
	uv_read_start((uv_stream_t *)client, uve_alloc, uve_read);
}

int
main(int argc, char *argv[])
{
	struct sockaddr_in	 sin;
	uv_tcp_t		 server;
	char			*end;
	long			 port;
	int			 r;

	if (argc != 2)
		errx(1, "usage: uv-echo port");
	port = strtol(argv[1], &end, 10);
	if (*argv[1] == '\0' || *end != '\0' || port < 1 || port > 65535)
		errx(1, "bad port: %s", argv[1]);
	signal(SIGPIPE, SIG_IGN);
	uve_loop = uv_default_loop();
	uv_tcp_init(uve_loop, &server);
	uv_ip4_addr("127.0.0.1", (int)port, &sin);
	if ((r = uv_tcp_bind(&server, (struct sockaddr *)&sin, 0)) != 0)
		errx(1, "bind: %s", uv_strerror(r));
	if ((r = uv_listen((uv_stream_t *)&server, 4096, uve_accept)) != 0)
		errx(1, "listen: %s", uv_strerror(r));
	return (uv_run(uve_loop, UV_RUN_DEFAULT));
}
