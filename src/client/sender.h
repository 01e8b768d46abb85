/*
 * sender.h: "echocli stamp", a STAMP session-sender (RFC 8762) in
 * unauthenticated mode, as the interactive client (echocli.c) hands it
 * its arguments.
 */
#ifndef ECHOCLI_SENDER_H
#define ECHOCLI_SENDER_H

/* Run "echocli stamp"; argv[0] is "stamp".  Returns the exit status:
 * 0 when a reply came, 1 when none did, 2 on a usage error. */
int		 sender_main(int, char **);

#endif
