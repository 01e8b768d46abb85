/*
 * bench.h: "echocli bench", the load generator, as the interactive client
 * (echocli.c) hands it its arguments.
 */
#ifndef ECHOCLI_BENCH_H
#define ECHOCLI_BENCH_H

/* Run "echocli bench"; argv[0] is "bench".  Returns the exit status. */
int		 bench_main(int, char **);

#endif
