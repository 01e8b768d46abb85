/*
 * bench_types.h: the types of "echocli bench" (a run, its loops, their
 * connections, the options and counters) and the two inline helpers of
 * its hot path.  bench.c (options, set-up, the loops), bench_conn.c (the
 * connections) and bench_report.c (the progress line and the result) all
 * work on these types, so they are in a header of their own that no .c
 * owns: the lowest room of the client's bench, which includes nothing of
 * it.  What each .c offers the others is in its own header.
 */
#ifndef ECHOCLI_BENCH_TYPES_H
#define ECHOCLI_BENCH_TYPES_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/types.h>

#include "tlscli.h"

#define BENCH_READSZ		65536	/* one recv per wakeup, usually */

/* What messages are made of, from an offset that depends on the connection. */
#define BENCH_ALPHABET \
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define BENCH_ALPHABET_LEN	(sizeof(BENCH_ALPHABET) - 1)

/* The longest PROXY header sent (v1, TCP6, as HAProxy's spec bounds it). */
#define BENCH_PROXY_MAX		108

/* The options of a run, as parsed; read-only once it starts. */
struct bench_opts {
	const char	*host;
	const char	*port;
	unsigned	 conns;
	unsigned	 threads;
	unsigned	 pipeline;
	size_t		 size;
	size_t		 strip;
	double		 duration;	/* 0: until -n messages */
	uint64_t	 messages;	/* 0: until -d seconds */
	double		 rate;		/* 0: as fast as possible */
	double		 timeout;
	bool		 json;
	bool		 source_range;
	bool		 churn;
	bool		 expect_close;	/* a server's hang-up is no error */
	int		 proxy;		/* PROXY header first: 0, 1 or 2 */
	struct tlscli_opts tls;
};

/* Counters of one loop, summed at the end. */
struct bench_stats {
	uint64_t	 msgs;		/* verified replies (churn: cycles) */
	uint64_t	 sent;
	uint64_t	 bytes_out;
	uint64_t	 bytes_in;
	uint64_t	 connected;
	uint64_t	 connect_errors;
	uint64_t	 wrong;
	uint64_t	 closed_early;
	uint64_t	 unanswered;
	uint64_t	 scripted;	/* --expect-close: the server hung up */
	uint64_t	 cut;		/* messages in flight at those */
	int		 connect_errno;	/* the first connect error */
	int		 close_errno;	/* the first reset or error */
	char		 connect_why[128];	/* the first TLS failure */
	char		 close_why[128];	/* the first TLS error after */
};

/*
 * Where a connection is: no socket, TCP handshake in flight, TLS
 * handshake in flight (--tls), or open.
 */
enum bench_conn_state {
	BENCH_CONN_IDLE,
	BENCH_CONN_CONNECTING,
	BENCH_CONN_HANDSHAKING,
	BENCH_CONN_OPEN
};

struct bench_loop;

/* One connection, driven by one loop; its buffers are in the loop's arena. */
struct bench_conn {
	struct bench_loop	*w;
	struct event		*rev;		/* persistent EV_READ */
	struct event		*wev;		/* connect, partial writes */
	int			 fd;
	SSL			*ssl;		/* --tls, while open */
	unsigned		 id;		/* across all loops */
	enum bench_conn_state	 state;
	bool			 parked;	/* waiting for the rate */
	unsigned		 inflight;
	unsigned		 ring_head;	/* oldest entry of sent_ns */
	uint64_t		 send_seq;
	uint64_t		 recv_seq;
	size_t			 recv_off;	/* into the current reply */
	size_t			 out_off;
	size_t			 out_len;
	uint64_t		 cycle_start;	/* churn: connect began */
	uint64_t		*sent_ns;	/* pipeline send times */
	char			*out;		/* the PROXY header (if any),
						   then pipeline * size bytes */
	char			*expect;	/* message recv_seq */
	TAILQ_ENTRY(bench_conn)	 wait_entry;
};

struct bench;

/* One thread's event loop and its share of the connections. */
struct bench_loop {
	struct bench		*b;
	unsigned		 idx;
	struct event_base	*base;
	struct bench_conn	*conns;
	unsigned		 nconns;
	unsigned		 next_start;	/* first never-started conn */
	unsigned		 connecting;
	unsigned		 open;		/* fds held */
	uint64_t		 quota;		/* messages (churn: cycles) */
	double			 rate;		/* per second, this loop */
	uint64_t		 rate_sent;
	bool			 stopping;
	bool			 rate_armed;
	bool			 starting;	/* in bench_conn_start_more */
	uint64_t		 t_connected;	/* all initial conns done */
	uint64_t		 t_last;	/* the last verified reply */
	uint64_t		 t_end;		/* the loop ended */
	struct event		*end_ev;
	struct event		*tick_ev;
	struct event		*rate_ev;
	struct event		*drain_ev;
	TAILQ_HEAD(, bench_conn) waitq;
	struct hist		*hist;
	struct bench_stats	 st;
	char			*pattern;	/* size + alphabet bytes */
	char			*rbuf;
	char			*arena;
	pthread_t		 thread;
	/* What the progress line sees of another thread's histogram. */
	pthread_mutex_t		 lock;
	struct hist		*snap;
};

/* A run: its options, the address that answered, the loops. */
struct bench {
	struct bench_opts	 o;
	struct sockaddr_storage	 dst;
	socklen_t		 dstlen;
	char			 addr[64];
	SSL_CTX			*tls;		/* --tls: every connection's */
	const char		*tls_version;	/* as the probe found it */
	unsigned		 per_source;	/* 0: let the kernel choose */
	uint64_t		 t_start;
	bool			 stop;		/* Ctrl-C, for every loop */
	bool			 progress;
	bool			 reported_wrong;
	struct bench_loop	*loops;
	struct event		*sigint_ev;
	struct event		*progress_ev;
	uint64_t		 progress_msgs;
	uint64_t		 progress_t;
	struct hist		*progress_hist;
};

/*
 * bench_conn.c's callbacks read the clock for every batch of messages and
 * under -r ask the rate for every message: the two below are inline, so
 * that the hot path pays no call for them.
 */

/* Nanoseconds of CLOCK_MONOTONIC. */
static inline uint64_t
bench_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec);
}

/* Whether the -r rate allows one more message (churn: connection). */
static inline bool
bench_loop_rate_ok(struct bench_loop *w)
{
	double	elapsed;

	if (w->rate <= 0)
		return (true);
	elapsed = (double)(bench_now() - w->b->t_start) / 1e9;
	/* One message ahead of the schedule, so the first goes at once. */
	return ((double)w->rate_sent < w->rate * elapsed + 1.0);
}

#endif
