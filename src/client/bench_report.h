/*
 * bench_report.h: what "echocli bench" tells of a run (bench_report.c),
 * as bench.c asks for it.
 */
#ifndef ECHOCLI_BENCH_REPORT_H
#define ECHOCLI_BENCH_REPORT_H

#include <event2/util.h>

struct bench;

/* The progress line, a timer callback; arg is the bench. */
void		 bench_report_progress(evutil_socket_t, short, void *);
/* Sum the loops, print the result; the exit status. */
int		 bench_report_summary(struct bench *);

#endif
