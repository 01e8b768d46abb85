/*
 * bench_report.c: what "echocli bench" tells of a run: once a second on
 * a terminal a progress line, and at the end the result, as a table or
 * as the --json object of echocli(1), with a line on stderr for each kind
 * of error and the exit status.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "bench_report.h"
#include "bench_types.h"
#include "hist.h"

static void	bench_report_json_str(const char *);
static void	bench_report_fmt_ns(uint64_t, char *, size_t);

/* Once a second on a terminal: elapsed, messages/s, p99 so far. */
void
bench_report_progress(evutil_socket_t fd, short what, void *arg)
{
	struct bench		*b = arg;
	struct bench_loop	*w;
	uint64_t		 now, msgs = 0;
	unsigned		 t;
	char			 p99[32];

	now = bench_now();
	hist_reset(b->progress_hist);
	for (t = 0; t < b->o.threads; t++) {
		w = &b->loops[t];
		msgs += __atomic_load_n(&w->st.msgs, __ATOMIC_RELAXED);
		/*
		 * This runs in loop 0, whose histogram is ours to read; the
		 * other loops copy theirs under a lock once a second.
		 */
		if (t == 0) {
			hist_merge(b->progress_hist, w->hist);
			continue;
		}
		pthread_mutex_lock(&w->lock);
		hist_merge(b->progress_hist, w->snap);
		pthread_mutex_unlock(&w->lock);
	}
	if (b->progress_t == 0)
		b->progress_t = b->t_start;
	bench_report_fmt_ns(hist_percentile(b->progress_hist, 99.0), p99,
	    sizeof(p99));
	printf("\r%6.1f s %12.0f %s/s   p99 %s\033[K",
	    (double)(now - b->t_start) / 1e9,
	    (double)(msgs - b->progress_msgs) * 1e9 /
	    (double)(now - b->progress_t), b->o.churn ? "conn" : "msg", p99);
	fflush(stdout);
	b->progress_msgs = msgs;
	b->progress_t = now;
}

/* A string as a JSON string literal. */
static void
bench_report_json_str(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", (unsigned char)*s);
		else
			putchar(*s);
	}
	putchar('"');
}

/* A latency, human-readable. */
static void
bench_report_fmt_ns(uint64_t ns, char *buf, size_t len)
{
	if (ns < 1000)
		snprintf(buf, len, "%" PRIu64 " ns", ns);
	else if (ns < 1000000)
		snprintf(buf, len, "%.1f us", (double)ns / 1e3);
	else if (ns < 1000000000)
		snprintf(buf, len, "%.2f ms", (double)ns / 1e6);
	else
		snprintf(buf, len, "%.2f s", (double)ns / 1e9);
}

/* Sum the loops, print the result; returns the exit status. */
int
bench_report_summary(struct bench *b)
{
	struct bench_opts	*o = &b->o;
	struct bench_stats	 s;
	struct hist		*h;
	struct bench_loop	*w;
	uint64_t		 t_end = b->t_start, t_conn = b->t_start;
	uint64_t		 lat[5];
	double			 secs, conn_secs, mps, mbps;
	unsigned		 t, i;
	char			 f[5][32];
	bool			 failed;
	static const char	*names[5] = { "p50", "p90", "p99", "p99.9",
	    "max" };
	static const char	*keys[5] = { "p50", "p90", "p99", "p99_9",
	    "max" };

	if ((h = hist_new()) == NULL)
		return (1);
	memset(&s, 0, sizeof(s));
	for (t = 0; t < o->threads; t++) {
		w = &b->loops[t];
		hist_merge(h, w->hist);
		s.msgs += w->st.msgs;
		s.sent += w->st.sent;
		s.bytes_out += w->st.bytes_out;
		s.bytes_in += w->st.bytes_in;
		s.connected += w->st.connected;
		s.connect_errors += w->st.connect_errors;
		s.wrong += w->st.wrong;
		s.closed_early += w->st.closed_early;
		s.unanswered += w->st.unanswered;
		s.scripted += w->st.scripted;
		s.cut += w->st.cut;
		if (s.connect_errno == 0)
			s.connect_errno = w->st.connect_errno;
		if (s.close_errno == 0)
			s.close_errno = w->st.close_errno;
		if (s.connect_why[0] == '\0')
			memcpy(s.connect_why, w->st.connect_why,
			    sizeof(s.connect_why));
		if (s.close_why[0] == '\0')
			memcpy(s.close_why, w->st.close_why,
			    sizeof(s.close_why));
		/*
		 * The run ends with its last reply, not after the
		 * thousands of close() calls that follow it.
		 */
		if (w->t_last > t_end)
			t_end = w->t_last;
		if (w->t_connected > t_conn)
			t_conn = w->t_connected;
	}
	if (t_end == b->t_start)
		for (t = 0; t < o->threads; t++)
			if (b->loops[t].t_end > t_end)
				t_end = b->loops[t].t_end;
	secs = (double)(t_end - b->t_start) / 1e9;
	conn_secs = (double)(t_conn - b->t_start) / 1e9;
	if (secs <= 0)
		secs = 1e-9;
	mps = (double)s.msgs / secs;
	mbps = (double)s.bytes_in / secs / 1e6;
	lat[0] = hist_percentile(h, 50.0);
	lat[1] = hist_percentile(h, 90.0);
	lat[2] = hist_percentile(h, 99.0);
	lat[3] = hist_percentile(h, 99.9);
	lat[4] = hist_max(h);
	failed = s.wrong > 0 || s.connect_errors > 0 || s.closed_early > 0 ||
	    s.unanswered > 0;

	if (o->json) {
		printf("{\"host\": ");
		bench_report_json_str(o->host);
		printf(", \"address\": \"%s\", \"port\": ", b->addr);
		bench_report_json_str(o->port);
		printf(", \"mode\": \"%s\", \"connections\": %u, "
		    "\"threads\": %u, \"size\": %zu, \"pipeline\": %u, "
		    "\"strip\": %zu, \"rate\": %.0f, \"elapsed_s\": %.6f, "
		    "\"connect_s\": %.6f, \"messages\": %" PRIu64 ", "
		    "\"messages_sent\": %" PRIu64 ", "
		    "\"messages_per_s\": %.1f, \"bytes_sent\": %" PRIu64 ", "
		    "\"bytes_received\": %" PRIu64 ", \"mb_per_s\": %.3f, "
		    "\"connections_opened\": %" PRIu64 ", "
		    "\"connections_per_s\": %.1f, \"tls\": %s, "
		    "\"handshakes\": %" PRIu64 ", \"handshakes_per_s\": %.1f, "
		    "\"latency_us\": {",
		    o->churn ? "churn" : "echo",
		    o->conns, o->threads, o->size, o->pipeline, o->strip,
		    o->rate, secs, conn_secs, s.msgs, s.sent, mps,
		    s.bytes_out, s.bytes_in, mbps, s.connected,
		    (double)s.connected / secs, o->tls.on ? "true" : "false",
		    o->tls.on ? s.connected : 0,
		    o->tls.on ? (double)s.connected / secs : 0.0);
		for (i = 0; i < 5; i++)
			printf("\"%s\": %.3f, ", keys[i], (double)lat[i] / 1e3);
		printf("\"mean\": %.3f}, \"connect_errors\": %" PRIu64 ", "
		    "\"wrong_replies\": %" PRIu64 ", \"closed_early\": %"
		    PRIu64 ", \"unanswered\": %" PRIu64 ", "
		    "\"expect_close\": %s, \"scripted_closes\": %" PRIu64 ", "
		    "\"cut_by_close\": %" PRIu64 ", \"ok\": %s}\n",
		    hist_mean(h) / 1e3, s.connect_errors, s.wrong,
		    s.closed_early, s.unanswered, o->expect_close ? "true" :
		    "false", s.scripted, s.cut, failed ? "false" : "true");
	} else {
		for (i = 0; i < 5; i++)
			bench_report_fmt_ns(lat[i], f[i], sizeof(f[i]));
		printf("echocli bench: %s port %s%s%s, %u connections%s, "
		    "%zu-byte messages, %u in flight, %.2f s\n", b->addr,
		    o->port, o->tls.on ? " over " : "",
		    o->tls.on ? (b->tls_version != NULL ? b->tls_version :
		    "TLS") : "", o->conns, o->churn ? " (churn)" : "",
		    o->size, o->pipeline, secs);
		/* A churn cycle over TLS is one full handshake (no resumption). */
		if (o->churn)
			printf("  %s %12" PRIu64 "  %12.1f/s\n", o->tls.on ?
			    "handshakes " : "connections", s.connected,
			    (double)s.connected / secs);
		printf("  messages    %12" PRIu64 "  %12.1f/s  %.2f MB/s\n",
		    s.msgs, mps, mbps);
		printf("  latency     ");
		for (i = 0; i < 5; i++)
			printf("%s %s%s", names[i], f[i], i < 4 ? ", " : "\n");
		printf("  errors      %" PRIu64 " connect, %" PRIu64
		    " wrong replies, %" PRIu64 " closed early, %" PRIu64
		    " unanswered\n", s.connect_errors, s.wrong,
		    s.closed_early, s.unanswered);
		/* Not errors: the server was told to hang up. */
		if (o->expect_close)
			printf("  closes      %" PRIu64 " by the server as "
			    "expected, %" PRIu64 " messages cut\n",
			    s.scripted, s.cut);
	}
	if (s.connect_errors > 0)
		fprintf(stderr, "echocli bench: %" PRIu64 " connections to %s "
		    "port %s failed: %s\n", s.connect_errors, b->addr,
		    o->port, s.connect_why[0] != '\0' ? s.connect_why :
		    strerror(s.connect_errno));
	if (s.closed_early > 0)
		fprintf(stderr, "echocli bench: %" PRIu64 " connections closed "
		    "early%s%s\n", s.closed_early, s.close_errno ? ": " : "",
		    s.close_why[0] != '\0' ? s.close_why : s.close_errno ?
		    strerror(s.close_errno) : " by the server");
	if (s.wrong > 0)
		fprintf(stderr, "echocli bench: %" PRIu64 " wrong replies\n",
		    s.wrong);
	hist_free(h);
	return (failed ? 1 : 0);
}
