/*
 * fault.c: an LD_PRELOAD library that makes libevent's event_new() and
 * event_assign() fail on demand, so that tests can walk the paths a
 * session takes when it cannot be set up (paths no client can provoke).
 *
 * While the file $ECHOD_FAULT_DIR/event_new exists, a call for a
 * descriptor (a session's read event; timers and signals have none)
 * creates $ECHOD_FAULT_DIR/hit, waits ECHOD_FAULT_USEC microseconds (so
 * that the test can act while the failure is under way), and fails.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>

/* Whether this call for fd is to fail (after its wait). */
static int
fault_now(evutil_socket_t fd)
{
	const char	*dir = getenv("ECHOD_FAULT_DIR");
	const char	*usec = getenv("ECHOD_FAULT_USEC");
	char		 path[PATH_MAX];
	int		 hit;

	if (fd < 0 || dir == NULL)
		return (0);
	snprintf(path, sizeof(path), "%s/event_new", dir);
	if (access(path, F_OK) != 0)
		return (0);
	snprintf(path, sizeof(path), "%s/hit", dir);
	if ((hit = open(path, O_WRONLY | O_CREAT, 0600)) != -1)
		close(hit);
	if (usec != NULL)
		usleep((useconds_t)strtoul(usec, NULL, 10));
	return (1);
}

struct event *
event_new(struct event_base *base, evutil_socket_t fd, short what,
    event_callback_fn cb, void *arg)
{
	static struct event	*(*real)(struct event_base *, evutil_socket_t,
				    short, event_callback_fn, void *);

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "event_new");
	return (fault_now(fd) ? NULL : real(base, fd, what, cb, arg));
}

int
event_assign(struct event *ev, struct event_base *base, evutil_socket_t fd,
    short what, event_callback_fn cb, void *arg)
{
	static int	(*real)(struct event *, struct event_base *,
			    evutil_socket_t, short, event_callback_fn, void *);

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "event_assign");
	return (fault_now(fd) ? -1 : real(ev, base, fd, what, cb, arg));
}
