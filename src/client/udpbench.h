/*
 * udpbench.h: "echocli bench -u", the UDP echo measurement (udpbench.c),
 * as bench.c hands it its arguments.
 */
#ifndef ECHOCLI_UDPBENCH_H
#define ECHOCLI_UDPBENCH_H

/* Run "echocli bench -u"; argv[0] is "bench".  Returns the exit status. */
int		 udpbench_main(int, char **);

#endif
