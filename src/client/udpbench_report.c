/*
 * udpbench_report.c: what "echocli bench -u" tells of a run: once a
 * second on a terminal a progress line, and at the end the result, as a
 * table or as the --json object of echocli(1), and the exit status.
 * Loss, reordering and the rest are measurements, not failures: the
 * status is 1 only when nothing came back or something that is not a
 * reply of this run did.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "hist.h"
#include "udpbench_report.h"
#include "udpstat.h"

static void	udpbench_report_json_str(const char *);
static void	udpbench_report_fmt_ns(double, char *, size_t);
static double	udpbench_report_ratio(uint64_t, uint64_t);
static void	udpbench_report_delays(const struct udpbench_result *,
		    const struct udpstat_sum *);

/* A string as a JSON string literal. */
static void
udpbench_report_json_str(const char *s)
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

/* A time in ns, human-readable, signed. */
static void
udpbench_report_fmt_ns(double ns, char *buf, size_t len)
{
	double	a = ns < 0 ? -ns : ns;

	if (a < 1000)
		snprintf(buf, len, "%.0f ns", ns);
	else if (a < 1e6)
		snprintf(buf, len, "%.1f us", ns / 1e3);
	else if (a < 1e9)
		snprintf(buf, len, "%.2f ms", ns / 1e6);
	else
		snprintf(buf, len, "%.2f s", ns / 1e9);
}

/* n / of, 0 when of is 0. */
static double
udpbench_report_ratio(uint64_t n, uint64_t of)
{
	return (of == 0 ? 0.0 : (double)n / (double)of);
}

/* The table's lines of round trips, jitter and IPDV. */
static void
udpbench_report_delays(const struct udpbench_result *r,
    const struct udpstat_sum *s)
{
	static const double	 pcts[5] = { 50.0, 90.0, 99.0, 99.9, 100.0 };
	static const char	*names[5] = { "p50", "p90", "p99", "p99.9",
	    "max" };
	const struct hist	*rtt = udpstat_rtt(r->st);
	const struct hist	*ipdv = udpstat_ipdv(r->st);
	char			 f[6][32];
	unsigned		 i;

	if (s->received == 0) {
		printf("  round trip  no reply\n");
		return;
	}
	udpbench_report_fmt_ns((double)hist_min(rtt), f[0],
	    sizeof(f[0]));
	printf("  round trip  min %s", f[0]);
	for (i = 0; i < 5; i++) {
		udpbench_report_fmt_ns((double)hist_percentile(rtt,
		    pcts[i]), f[i], sizeof(f[i]));
		printf(", %s %s", names[i], f[i]);
	}
	udpbench_report_fmt_ns(s->jitter_ns, f[0], sizeof(f[0]));
	printf("\n  jitter      %s (RFC 3550)\n", f[0]);
	udpbench_report_fmt_ns(hist_mean(ipdv), f[0], sizeof(f[0]));
	udpbench_report_fmt_ns((double)hist_percentile(ipdv, 50.0),
	    f[1], sizeof(f[1]));
	udpbench_report_fmt_ns((double)hist_percentile(ipdv, 99.0),
	    f[2], sizeof(f[2]));
	udpbench_report_fmt_ns((double)hist_max(ipdv), f[3],
	    sizeof(f[3]));
	udpbench_report_fmt_ns((double)s->ipdv_min_ns, f[4],
	    sizeof(f[4]));
	udpbench_report_fmt_ns((double)s->ipdv_max_ns, f[5],
	    sizeof(f[5]));
	printf("  ipdv        |ipdv| mean %s, p50 %s, p99 %s, max %s; "
	    "from %s to %s, %" PRIu64 " pairs\n", f[0], f[1], f[2],
	    f[3], f[4], f[5], s->ipdv_pairs);
}

/* Once a second on a terminal: sent, received, round trip, jitter. */
void
udpbench_report_progress(const struct udpbench_result *r, double t)
{
	struct udpstat_sum	 s;
	char			 p50[32], p99[32], j[32];

	udpstat_sum(r->st, &s);
	udpbench_report_fmt_ns((double)hist_percentile(udpstat_rtt(r->st),
	    50.0), p50, sizeof(p50));
	udpbench_report_fmt_ns((double)hist_percentile(udpstat_rtt(r->st),
	    99.0), p99, sizeof(p99));
	udpbench_report_fmt_ns(s.jitter_ns, j, sizeof(j));
	printf("\r%6.1f s  sent %" PRIu64 "  received %" PRIu64
	    "  rtt p50 %s p99 %s  jitter %s\033[K", t, s.sent, s.received,
	    p50, p99, j);
	fflush(stdout);
}

/* The result; the exit status. */
int
udpbench_report(const struct udpbench_result *r, bool json)
{
	static const double	 pcts[5] = { 50.0, 90.0, 99.0, 99.9, 100.0 };
	static const char	*keys[5] = { "p50", "p90", "p99", "p99_9",
	    "max" };
	const struct hist	*rtt = udpstat_rtt(r->st);
	const struct hist	*ipdv = udpstat_ipdv(r->st);
	struct udpstat_sum	 s;
	char			 f[3][32];
	size_t			 k;
	unsigned		 i;
	bool			 ok;

	udpstat_sum(r->st, &s);
	ok = s.received > 0 && r->wrong == 0;
	if (json) {
		printf("{\"host\": ");
		udpbench_report_json_str(r->host);
		printf(", \"address\": \"%s\", \"port\": ", r->addr);
		udpbench_report_json_str(r->port);
		printf(", \"mode\": \"udp\", \"size\": %zu, \"rate\": %.3f, "
		    "\"duration_s\": %.3f, \"count\": %" PRIu64 ", "
		    "\"elapsed_s\": %.6f, \"rate_achieved\": %.3f, "
		    "\"pacing_late_us\": {\"p50\": %.3f, \"p99\": %.3f, "
		    "\"max\": %.3f}, \"pacer_slips\": %" PRIu64 ", "
		    "\"wait_s\": %.3f, ", r->size, r->rate, r->duration,
		    r->count, r->elapsed, r->rate_achieved,
		    (double)hist_percentile(r->late, 50.0) / 1e3,
		    (double)hist_percentile(r->late, 99.0) / 1e3,
		    (double)hist_max(r->late) / 1e3, r->slips, r->wait);
		printf("\"sent\": %" PRIu64 ", \"received\": %" PRIu64 ", "
		    "\"lost\": %" PRIu64 ", \"loss_ratio\": %.6f, "
		    "\"duplicated\": %" PRIu64 ", \"reordered\": %" PRIu64
		    ", \"reordered_ratio\": %.6f, \"rtt_us\": {\"min\": %.3f, ",
		    s.sent, s.received, s.lost,
		    udpbench_report_ratio(s.lost, s.sent), s.duplicated,
		    s.reordered, udpbench_report_ratio(s.reordered,
		    s.received), (double)hist_min(rtt) / 1e3);
		for (i = 0; i < 5; i++)
			printf("\"%s\": %.3f, ", keys[i],
			    (double)hist_percentile(rtt, pcts[i]) / 1e3);
		printf("\"mean\": %.3f}, \"jitter_us\": %.3f, \"ipdv_us\": "
		    "{\"pairs\": %" PRIu64 ", \"mean_abs\": %.3f, ",
		    hist_mean(rtt) / 1e3, s.jitter_ns / 1e3, s.ipdv_pairs,
		    hist_mean(ipdv) / 1e3);
		for (i = 0; i < 5; i++)
			printf("\"%s_abs\": %.3f, ", keys[i],
			    (double)hist_percentile(ipdv, pcts[i]) / 1e3);
		printf("\"min\": %.3f, \"max\": %.3f}, \"sent_per_second\": [",
		    (double)s.ipdv_min_ns / 1e3, (double)s.ipdv_max_ns / 1e3);
		for (k = 0; k < s.seconds; k++)
			printf("%s%" PRIu64, k > 0 ? ", " : "",
			    udpstat_second_sent(r->st, k));
		printf("], \"lost_per_second\": [");
		for (k = 0; k < s.seconds; k++)
			printf("%s%" PRIu64, k > 0 ? ", " : "",
			    udpstat_second_lost(r->st, k));
		printf("], \"worst_second\": {\"second\": %zu, \"lost\": %"
		    PRIu64 ", \"sent\": %" PRIu64 "}, \"not_sent\": %" PRIu64
		    ", \"refused\": %" PRIu64 ", \"wrong_replies\": %" PRIu64
		    ", \"rcvbuf_dropped\": %" PRIu64 ", \"interrupted\": %s, "
		    "\"ok\": %s}\n", s.worst, s.worst_lost, s.worst_sent,
		    r->not_sent, r->refused, r->wrong, r->rcvbuf_dropped,
		    r->interrupted ? "true" : "false", ok ? "true" : "false");
	} else {
		printf("echocli bench -u: %s port %s, %zu-byte datagrams, "
		    "%.0f/s, %.2f s\n", r->addr, r->port, r->size, r->rate,
		    r->elapsed);
		udpbench_report_fmt_ns((double)hist_percentile(r->late, 50.0),
		    f[0], sizeof(f[0]));
		udpbench_report_fmt_ns((double)hist_percentile(r->late, 99.0),
		    f[1], sizeof(f[1]));
		udpbench_report_fmt_ns((double)hist_max(r->late), f[2],
		    sizeof(f[2]));
		printf("  sent        %12" PRIu64 "  %.1f/s; sent late by "
		    "p50 %s, p99 %s, max %s", s.sent, r->rate_achieved,
		    f[0], f[1], f[2]);
		if (r->slips > 0)
			printf("; %" PRIu64 " stalls", r->slips);
		printf("\n  received    %12" PRIu64 "\n", s.received);
		printf("  lost        %12" PRIu64 "  %.2f %%", s.lost,
		    100.0 * udpbench_report_ratio(s.lost, s.sent));
		if (s.worst_lost > 0)
			printf("; worst second %zu: %" PRIu64 " of %" PRIu64,
			    s.worst, s.worst_lost, s.worst_sent);
		printf("\n  duplicated  %12" PRIu64 "\n", s.duplicated);
		printf("  reordered   %12" PRIu64 "  %.2f %%\n", s.reordered,
		    100.0 * udpbench_report_ratio(s.reordered, s.received));
		udpbench_report_delays(r, &s);
		printf("  errors      %" PRIu64 " wrong replies, %" PRIu64
		    " refused, %" PRIu64 " not sent, %" PRIu64 " dropped by "
		    "this host\n", r->wrong, r->refused, r->not_sent,
		    r->rcvbuf_dropped);
	}
	if (r->not_sent > 0)
		fprintf(stderr, "echocli bench: %" PRIu64 " datagrams not "
		    "sent: %s\n", r->not_sent, strerror(r->send_errno));
	if (r->wrong > 0)
		fprintf(stderr, "echocli bench: %" PRIu64 " datagrams that are "
		    "no reply of this run\n", r->wrong);
	if (s.received == 0)
		fprintf(stderr, "echocli bench: no reply from %s port %s%s\n",
		    r->addr, r->port, r->refused > 0 ? ": connection refused" :
		    "");
	return (ok ? 0 : 1);
}
