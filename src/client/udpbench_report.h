/*
 * udpbench_report.h: what "echocli bench -u" tells of a run
 * (udpbench_report.c): the progress line and the result, as a table or
 * as the --json object of echocli(1).  udpbench.c fills the result.
 */
#ifndef ECHOCLI_UDPBENCH_REPORT_H
#define ECHOCLI_UDPBENCH_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hist;
struct udpstat;

/* A run as it stands: its options, its figures, the pacer's precision. */
struct udpbench_result {
	const char		*host;
	const char		*port;
	const char		*addr;		/* the address that answered */
	size_t			 size;
	double			 rate;		/* asked for, per second */
	double			 duration;	/* asked for; 0: -n */
	uint64_t		 count;		/* asked for; 0: -d */
	double			 elapsed;	/* seconds of sending */
	double			 rate_achieved;	/* first to last datagram */
	double			 wait;		/* seconds for late replies */
	const struct udpstat	*st;
	const struct hist	*late;		/* sent after schedule, ns */
	uint64_t		 slips;		/* schedule moved on a stall */
	uint64_t		 not_sent;	/* send() refused */
	int			 send_errno;	/* its first reason */
	uint64_t		 refused;	/* ICMP port unreachable */
	uint64_t		 wrong;		/* not a reply of this run */
	uint64_t		 rcvbuf_dropped;	/* SO_RXQ_OVFL */
	bool			 interrupted;
};

/* The progress line, at t seconds into the run. */
void		 udpbench_report_progress(const struct udpbench_result *,
		    double t);
/* The result, as --json if json; the exit status. */
int		 udpbench_report(const struct udpbench_result *, bool json);

#endif
