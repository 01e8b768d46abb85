/*
 * systemd.h: everything echod says to and takes from systemd.
 *
 * The only module that calls sd_notify(), sd_listen_fds_with_names() and
 * reads the watchdog settings.  Outside systemd every call is a no-op, so
 * the rest of the daemon never asks whether it runs under systemd.
 */
#ifndef ECHOD_SYSTEMD_H
#define ECHOD_SYSTEMD_H

#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct timers;

/* A socket systemd passed in (socket activation). */
struct systemd_socket {
	int			 fd;
	char			*name;		/* FileDescriptorName= or unit */
	int			 type;		/* SOCK_STREAM or SOCK_DGRAM */
	struct sockaddr_storage	 ss;		/* what it is bound to */
	socklen_t		 sslen;
};

/*
 * Take the sockets systemd passed, once, at start: non-blocking from now
 * on, close-on-exec.  Sockets of other kinds are closed with a warning.
 * Returns their number; *out stays valid until systemd_free().
 */
size_t	systemd_sockets(struct systemd_socket **out);
void	systemd_ready(const char *status);
void	systemd_reloading(void);
void	systemd_stopping(const char *status);
/* STATUS=, unless it repeats the previous line. */
void	systemd_status(const char *status);
/* Ping the watchdog from the loop of timers at half of WATCHDOG_USEC,
 * if set. */
int	systemd_watchdog(struct timers *);
/* Close the passed sockets and stop the watchdog timer. */
void	systemd_free(void);

#endif
