/*
 * sd.h: everything echod says to and takes from systemd.
 *
 * The only module that calls sd_notify(), sd_listen_fds_with_names() and
 * reads the watchdog settings.  Outside systemd every call is a no-op, so
 * the rest of the daemon never asks whether it runs under systemd.
 */
#ifndef ECHOD_SD_H
#define ECHOD_SD_H

#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct timers;

/* A socket systemd passed in (socket activation). */
struct sd_socket {
	int			 fd;
	char			*name;		/* FileDescriptorName= or unit */
	int			 type;		/* SOCK_STREAM or SOCK_DGRAM */
	struct sockaddr_storage	 ss;		/* what it is bound to */
	socklen_t		 sslen;
};

/*
 * Take the sockets systemd passed, once, at start: non-blocking from now
 * on, close-on-exec.  Sockets of other kinds are closed with a warning.
 * Returns their number; *out stays valid until sd_free().
 */
size_t	sd_sockets(struct sd_socket **out);
void	sd_ready(const char *status);
void	sd_reloading(void);
void	sd_stopping(const char *status);
/* STATUS=; sd.c drops a repeat of the previous line. */
void	sd_status(const char *status);
/* Ping the watchdog from the loop of timers at half of WATCHDOG_USEC,
 * if set. */
int	sd_watchdog(struct timers *);
/* Close the passed sockets and stop the watchdog timer. */
void	sd_free(void);

#endif
