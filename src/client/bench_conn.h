/*
 * bench_conn.h: the connections of "echocli bench" (bench_conn.c), as
 * bench.c sets up and stops the loops that drive them.
 */
#ifndef ECHOCLI_BENCH_CONN_H
#define ECHOCLI_BENCH_CONN_H

#include <stdbool.h>

struct bench_conn;
struct bench_loop;

/* Open connection c (again, in churn mode). */
void		 bench_conn_start(struct bench_conn *);
/* Start handshakes of w until enough are in flight. */
void		 bench_conn_start_more(struct bench_loop *);
/* Whether no connection of w is left to run, now or later. */
bool		 bench_conn_all_done(struct bench_loop *);
/* Leave w's event loop once bench_conn_all_done(). */
void		 bench_conn_check_done(struct bench_loop *);
/* Close c, if open, and take it off the -r queue. */
void		 bench_conn_close(struct bench_conn *);
/* Hold c back until the -r rate allows it to go on. */
void		 bench_conn_park(struct bench_conn *);
/* Queue messages until -p are in flight, then send them. */
void		 bench_conn_fill(struct bench_conn *);

#endif
