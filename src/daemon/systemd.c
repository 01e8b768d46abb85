/*
 * systemd.c: readiness, status, watchdog and socket activation (sd_notify(3),
 * sd_listen_fds(3)).
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/util.h>
#include <systemd/sd-daemon.h>

#include "log.h"
#include "systemd.h"
#include "timer.h"

static struct {
	bool			 taken;
	struct systemd_socket	*sockets;
	size_t			 nsockets;
	struct timers		*timers;	/* the watchdog's, if armed */
	struct timer		 watchdog;
	uint64_t		 interval;	/* half of WATCHDOG_USEC */
	char			 status[256];
	int			 nfd;		/* systemd_nowait()'s, + 1 */
	bool			 dropping;	/* the last one was dropped */
} systemd_state;

/*
 * One datagram to NOTIFY_SOCKET that never waits, for what the main loop
 * sends again and again (STATUS=, WATCHDOG=1).  sd_notify() blocks while
 * the receiver's queue is full, and the loop with it: every session and
 * accept on it stood still behind a manager that did not read (PID 1
 * busy, or a harness's socket nobody drains).  What does not fit now is
 * dropped: the next status carries the news, the next ping the proof,
 * and only a manager that reads can act on either.  The protocol is
 * sd_notify(3)'s: the datagram to the socket's path ("@" for the
 * abstract namespace); the kernel attaches our credentials.  Any other
 * address form goes to sd_notify().
 */
static void
systemd_nowait(const char *msg)
{
	struct sockaddr_un	 sun;
	const char		*path = getenv("NOTIFY_SOCKET");
	size_t			 len;
	socklen_t		 slen;
	int			 fd;

	if (path == NULL)
		return;
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len < 2 ||
	    len >= sizeof(sun.sun_path)) {
		sd_notify(0, msg);
		return;
	}
	if (systemd_state.nfd == 0) {
		fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    0);
		if (fd == -1) {
			log_warn("notify socket");
			return;
		}
		systemd_state.nfd = fd + 1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, len);
	slen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';	/* abstract: no terminator */
	else
		slen++;
	if (sendto(systemd_state.nfd - 1, msg, strlen(msg),
	    MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&sun,
	    slen) == -1) {
		if (!systemd_state.dropping)
			log_warnx("the service manager does not take "
			    "notifications (%s): dropping status and "
			    "watchdog pings until it does", strerror(errno));
		systemd_state.dropping = true;
		return;
	}
	if (systemd_state.dropping)
		log_notice("the service manager takes notifications again");
	systemd_state.dropping = false;
}

/*
 * Take the passed sockets.  Called once: LISTEN_FDS stays in the
 * environment (unset_environment 0 keeps sd_notify working) but a second
 * look would find the same descriptors, already ours.
 */
size_t
systemd_sockets(struct systemd_socket **out)
{
	struct systemd_socket *s;
	char		**names = NULL;
	int		  n, i, fd, type;
	socklen_t	  len;
	size_t		  k = 0;

	if (systemd_state.taken) {
		*out = systemd_state.sockets;
		return (systemd_state.nsockets);
	}
	systemd_state.taken = true;
	if ((n = sd_listen_fds_with_names(0, &names)) < 0) {
		log_warnx("cannot take sockets from systemd: %s",
		    strerror(-n));
		n = 0;
	}
	if (n > 0 && (systemd_state.sockets = calloc((size_t)n,
	    sizeof(*systemd_state.sockets))) == NULL)
		fatal("calloc");
	for (i = 0; i < n; i++) {
		fd = SD_LISTEN_FDS_START + i;
		if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) > 0)
			type = SOCK_STREAM;
		else if (sd_is_socket(fd, AF_UNSPEC, SOCK_DGRAM, -1) > 0)
			type = SOCK_DGRAM;
		else {
			log_warnx("passed descriptor %d (%s) is not a "
			    "listening stream or datagram socket; closing it", fd,
			    names != NULL ? names[i] : "unnamed");
			close(fd);
			continue;
		}
		s = &systemd_state.sockets[k];
		s->fd = fd;
		s->type = type;
		s->name = strdup(names != NULL ? names[i] : "unknown");
		if (s->name == NULL)
			fatal("strdup");
		len = sizeof(s->ss);
		if (getsockname(fd, (struct sockaddr *)&s->ss, &len) == -1)
			fatal("getsockname on passed descriptor %d", fd);
		s->sslen = len;
		/*
		 * systemd passes sockets blocking unless the unit says
		 * NonBlocking=yes; libevent's accept loop would then block
		 * the whole event loop in accept().
		 */
		evutil_make_socket_nonblocking(fd);
		evutil_make_socket_closeonexec(fd);
		k++;
	}
	if (names != NULL) {
		for (i = 0; i < n; i++)
			free(names[i]);
		free(names);
	}
	systemd_state.nsockets = k;
	*out = systemd_state.sockets;
	return (k);
}

/* READY=1: every listener is open (start, and after each reload). */
void
systemd_ready(const char *status)
{
	snprintf(systemd_state.status, sizeof(systemd_state.status), "%s",
	    status);
	sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

/*
 * RELOADING=1.  MONOTONIC_USEC is ignored by systemd 252 but required by
 * Type=notify-reload (253+), so the unit can move there unchanged.
 */
void
systemd_reloading(void)
{
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64
	    "\nSTATUS=Reloading configuration", timer_now());
}

/*
 * STOPPING=1, first thing on SIGTERM; without waiting, so that a manager
 * that does not read cannot hold the drain (systemd knows anyway: it
 * sent the signal, or will see the exit).
 */
void
systemd_stopping(const char *status)
{
	char	msg[sizeof(systemd_state.status) + 32];

	snprintf(msg, sizeof(msg), "STOPPING=1\nSTATUS=%s", status);
	systemd_nowait(msg);
}

/* STATUS=, sent only when it changed: each one is a datagram to PID 1. */
void
systemd_status(const char *status)
{
	char	msg[sizeof(systemd_state.status) + sizeof("STATUS=")];

	if (strcmp(status, systemd_state.status) == 0)
		return;
	snprintf(systemd_state.status, sizeof(systemd_state.status), "%s",
	    status);
	snprintf(msg, sizeof(msg), "STATUS=%s", systemd_state.status);
	systemd_nowait(msg);
}

/* The watchdog ping; from the loop, so it proves the loop is alive. */
static void
systemd_watchdog_cb(void *arg)
{
	(void)arg;
	systemd_nowait("WATCHDOG=1");
	if (timer_in(systemd_state.timers, &systemd_state.watchdog,
	    systemd_state.interval) == -1)
		log_warnx("cannot arm the watchdog");
}

/* Arm the watchdog ping at half of WATCHDOG_USEC (sd_watchdog_enabled(3)). */
int
systemd_watchdog(struct timers *timers)
{
	uint64_t	usec;
	int		r;

	if ((r = sd_watchdog_enabled(0, &usec)) <= 0) {
		if (r < 0)
			log_warnx("ignoring the watchdog settings: %s",
			    strerror(-r));
		return (0);
	}
	usec /= 2;
	systemd_state.interval = usec;
	systemd_state.timers = timers;
	timer_init(&systemd_state.watchdog, systemd_watchdog_cb, NULL);
	if (timer_in(timers, &systemd_state.watchdog, usec) == -1)
		return (-1);
	sd_notify(0, "WATCHDOG=1");
	log_debug("watchdog ping every %.3f s", (double)usec / 1e6);
	return (0);
}

/* Close the passed sockets and the watchdog. */
void
systemd_free(void)
{
	size_t	i;

	if (systemd_state.timers != NULL)
		timer_del(systemd_state.timers, &systemd_state.watchdog);
	systemd_state.timers = NULL;
	for (i = 0; i < systemd_state.nsockets; i++) {
		close(systemd_state.sockets[i].fd);
		free(systemd_state.sockets[i].name);
	}
	free(systemd_state.sockets);
	systemd_state.sockets = NULL;
	systemd_state.nsockets = 0;
	if (systemd_state.nfd != 0)
		close(systemd_state.nfd - 1);
	systemd_state.nfd = 0;
}
