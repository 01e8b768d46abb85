/*
 * fault.c: an LD_PRELOAD library that makes calls fail or wait on demand,
 * so that tests can walk the paths no client can provoke: a session that
 * cannot be set up, a connection that cannot be handed to a worker, a
 * worker busy while connections queue for it.
 *
 * Files in $ECHOD_FAULT_DIR arm it:
 *
 *	event_new	libevent's event_new() and event_assign() for a
 *			descriptor (a session's events; timers and signals
 *			have none) fail
 *	stall		the same calls wait (see below), then succeed
 *	handoff		the first calloc() after an accept on the same thread
 *			(the hand-off of that connection to a worker,
 *			worker.c) fails
 *
 * A call so armed creates $ECHOD_FAULT_DIR/hit, waits ECHOD_FAULT_USEC
 * microseconds, then for as long as $ECHOD_FAULT_DIR/hold exists, so that
 * the test can act while the call is under way and say when it ends.  A
 * signal that reaches the thread while it waits creates
 * $ECHOD_FAULT_DIR/signalled.
 */
#include <sys/socket.h>

#include <dlfcn.h>
#include <poll.h>
#include <signal.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

/* The thread whose next calloc() fails (handoff), while armed. */
static atomic_bool	 handoff_armed;
static pthread_t	 handoff_thread;

/* Whether $ECHOD_FAULT_DIR/name exists. */
static bool
fault_file(const char *name)
{
	const char	*dir = getenv("ECHOD_FAULT_DIR");
	char		 path[PATH_MAX];

	if (dir == NULL)
		return (false);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return (access(path, F_OK) == 0);
}

/* Create $ECHOD_FAULT_DIR/name. */
static void
fault_touch(const char *name)
{
	const char	*dir = getenv("ECHOD_FAULT_DIR");
	char		 path[PATH_MAX];
	int		 fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fd = open(path, O_WRONLY | O_CREAT, 0600)) != -1)
		close(fd);
}

/*
 * An armed call: say so, then wait as the test asks; errno is kept.  The
 * thread's signals are blocked but inside ppoll(), so that one sent at
 * any time of the wait is taken there (EINTR) and seen.
 */
static void
fault_wait(void)
{
	const struct timespec	 tick = { 0, 1000000 };
	const char		*usec = getenv("ECHOD_FAULT_USEC");
	sigset_t		 all, old;
	int			 saved = errno;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	fault_touch("hit");
	if (usec != NULL)
		usleep((useconds_t)strtoul(usec, NULL, 10));
	while (fault_file("hold"))
		if (ppoll(NULL, 0, &tick, &old) == -1 && errno == EINTR)
			fault_touch("signalled");
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = saved;
}

/* Whether this event call for fd is to fail (after any wait). */
static bool
fault_event(evutil_socket_t fd)
{
	bool	fail, stall;

	if (fd < 0)
		return (false);
	fail = fault_file("event_new");
	stall = fault_file("stall");
	if (fail || stall)
		fault_wait();
	return (fail);
}

struct event *
event_new(struct event_base *base, evutil_socket_t fd, short what,
    event_callback_fn cb, void *arg)
{
	static struct event	*(*real)(struct event_base *, evutil_socket_t,
				    short, event_callback_fn, void *);

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "event_new");
	return (fault_event(fd) ? NULL : real(base, fd, what, cb, arg));
}

int
event_assign(struct event *ev, struct event_base *base, evutil_socket_t fd,
    short what, event_callback_fn cb, void *arg)
{
	static int	(*real)(struct event *, struct event_base *,
			    evutil_socket_t, short, event_callback_fn, void *);

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "event_assign");
	return (fault_event(fd) ? -1 : real(ev, base, fd, what, cb, arg));
}

/* A connection accepted: with handoff, this thread's next calloc() fails. */
static int
fault_accepted(int fd)
{
	if (fd != -1 && fault_file("handoff")) {
		handoff_thread = pthread_self();
		atomic_store(&handoff_armed, true);
	}
	return (fd);
}

int
accept4(int s, struct sockaddr *sa, socklen_t *len, int flags)
{
	static int	(*real)(int, struct sockaddr *, socklen_t *, int);

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "accept4");
	return (fault_accepted(real(s, sa, len, flags)));
}

int
accept(int s, struct sockaddr *sa, socklen_t *len)
{
	static int	(*real)(int, struct sockaddr *, socklen_t *);

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "accept");
	return (fault_accepted(real(s, sa, len)));
}

/*
 * dlsym() may allocate while it looks calloc() up: those few bytes come
 * from here (zeroed, never freed), before the real calloc() is known.
 */
static _Alignas(max_align_t) char	early[4096];
static size_t				early_used;

void *
calloc(size_t n, size_t size)
{
	static void	*(*real)(size_t, size_t);
	static bool	 resolving;
	size_t		 need;
	void		*p;

	if (real == NULL) {
		if (resolving) {
			if (size != 0 && n > sizeof(early) / size)
				return (NULL);
			need = (n * size + _Alignof(max_align_t) - 1) &
			    ~(_Alignof(max_align_t) - 1);
			if (need > sizeof(early) - early_used)
				return (NULL);
			p = early + early_used;
			early_used += need;
			return (p);
		}
		resolving = true;
		*(void **)&real = dlsym(RTLD_NEXT, "calloc");
		resolving = false;
	}
	if (atomic_load(&handoff_armed) &&
	    pthread_equal(handoff_thread, pthread_self()) &&
	    atomic_exchange(&handoff_armed, false)) {
		fault_wait();
		errno = ENOMEM;
		return (NULL);
	}
	return (real(n, size));
}
