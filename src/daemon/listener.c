/*
 * listener.c: the running listeners, own and activated: accept (and a
 * refusing listener's hang-up), limits, the EMFILE pause, and the diff
 * a reload applies (their sockets are
 * bound and matched in listener_sock.c).  A UDP listener's socket is
 * served by a struct udp (udp.c) instead of an evconnlistener.
 */
#include <sys/queue.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "addr.h"
#include "compat.h"
#include "config.h"
#include "listener.h"
#include "listener_sock.h"
#include "log.h"
#include "slot.h"
#include "systemd.h"
#include "udp.h"
#include "worker.h"

#define LISTENER_PAUSE_MSEC	100	/* accept back-off when out of fds */
/*
 * Connections accepted in one pass of the loop.  libevent accepts until
 * the backlog is empty; under a flood of thousands that would starve the
 * sessions served by the same loop (workers = 1).
 */
#define LISTENER_BURST		64

/*
 * Echo is interactive: no reply may wait for Nagle, so every accepted
 * socket needs TCP_NODELAY.  Linux copies it from the listening socket,
 * which saves a setsockopt() per connection; whether this kernel does is
 * looked at once, on a listener's first connection.
 */
enum listener_nodelay {
	NODELAY_UNKNOWN,	/* the listener has it: look at the first */
	NODELAY_INHERITED,	/* accepted sockets have it already */
	NODELAY_EACH		/* set on every accepted socket */
};

struct listener {
	TAILQ_ENTRY(listener)	 entry;
	atomic_uint		 refcnt;	/* the lists it is on */
	struct slots		*slots;		/* of its connections */
	bool			 serving;	/* in the list, accepting */
	struct evconnlistener	*evl;		/* TCP */
	struct udp		*udp;		/* UDP: datagram echo */
	int			 fd;
	const struct systemd_socket	*activated;	/* NULL: our own socket */
	struct conf		*conf;		/* settings for new sessions */
	const struct listener_conf *lc;		/* inside conf */
	const struct listener_conf *next;	/* lc once a reload commits */
	unsigned int		 refused;	/* since the last warning */
	unsigned int		 refused_limit;
	unsigned int		 untrusted;	/* not from proxy_from, since */
	char			 untrusted_last[ADDR_ENDPOINT_MAX];
	struct event		*resume;	/* ends the EMFILE pause */
	long			 warned;	/* second of the last EMFILE warning */
	unsigned int		 burst;		/* accepts since the last pause */
	enum listener_nodelay	 nodelay;
	char			 endpoint[96];	/* "tcp [::]:7" */
};

TAILQ_HEAD(listener_list, listener);
static struct listener_list listeners = TAILQ_HEAD_INITIALIZER(listeners);
/*
 * Connections accepted and not yet closed, over all listeners: counted at
 * accept, so the global limit also sees connections still on their way
 * to a worker.
 */

static void	listener_refuse(struct listener *, int);
static void	listener_accept(struct evconnlistener *, evutil_socket_t,
		    struct sockaddr *, int, void *);
static void	listener_error(struct evconnlistener *, void *);
static void	listener_nodelay(struct listener *, int);
static bool	listener_trusted(const struct listener_conf *,
		    const struct sockaddr *);
static void	listener_name_peer(const struct sockaddr *, char *, size_t);
static void	listener_pause(struct listener *, const struct timeval *);
static void	listener_resume(evutil_socket_t, short, void *);

/*
 * Drop a reference; the last one frees.  The socket and its events are
 * closed by listener_shut(); the slots live on while connections hold
 * them (slot.h).
 */
static void
listener_unref(struct listener *l)
{
	if (l == NULL || atomic_fetch_sub(&l->refcnt, 1) != 1)
		return;
	slots_unref(l->slots);
	config_unref(l->conf);
	free(l);
}

/* Stop accepting and close the socket, on the main loop. */
static void
listener_shut(struct listener *l)
{
	l->serving = false;
	if (l->evl != NULL)
		evconnlistener_free(l->evl);
	l->evl = NULL;
	udp_free(l->udp);
	l->udp = NULL;
	/* A passed socket stays open: a reload may match it again. */
	if (l->activated == NULL && l->fd != -1)
		close(l->fd);
	l->fd = -1;
	if (l->resume != NULL)
		event_free(l->resume);
	l->resume = NULL;
}

/* The listener already serving a passed socket, or one for our own
 * listener with the same endpoint and reuse_port, so a reload keeps its
 * socket.  (SO_REUSEPORT is set before bind(): a change needs a new one.) */
static struct listener *
listener_find(const struct systemd_socket *s, const struct listener_conf *lc)
{
	struct listener	*l;

	TAILQ_FOREACH(l, &listeners, entry) {
		if (s != NULL) {
			if (l->activated == s)
				return (l);
			continue;
		}
		if (l->activated == NULL && l->lc->protocol == lc->protocol &&
		    l->lc->reuse_port == lc->reuse_port &&
		    l->lc->sslen == lc->sslen &&
		    memcmp(&l->lc->ss, &lc->ss, lc->sslen) == 0)
			return (l);
	}
	return (NULL);
}

/* A new, not yet accepting listener on fd (ours or passed), a
 * datagram one if dgram. */
static struct listener *
listener_new(struct event_base *base, int fd, const struct systemd_socket *s,
    bool dgram, char **cause)
{
	struct listener	*l;
	int		 on = 1;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		goto fail;
	if ((l->slots = slots_new()) == NULL) {
		free(l);
		l = NULL;
		goto fail;
	}
	l->fd = fd;
	l->activated = s;
	l->refcnt = 1;
	if (dgram) {
		if ((l->udp = udp_new(base, fd, l->slots, cause)) == NULL) {
			slots_unref(l->slots);
			free(l);
			return (NULL);
		}
		return (l);
	}
	l->nodelay = setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on,
	    sizeof(on)) == 0 ? NODELAY_UNKNOWN : NODELAY_EACH;
	/* backlog 0: the socket already listens (systemd's backlog kept). */
	l->evl = evconnlistener_new(base, listener_accept, l,
	    LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_DISABLED, 0, fd);
	if (l->evl == NULL)
		goto fail;
	evconnlistener_set_error_cb(l->evl, listener_error);
	return (l);
fail:
	if (asprintf(cause, "cannot serve socket %d: %s", fd,
	    strerror(errno)) == -1)
		*cause = NULL;
	if (l != NULL)
		slots_unref(l->slots);
	free(l);
	return (NULL);
}

/*
 * Point l at a configuration: new sessions get these settings.  A passed
 * socket nobody asked for (lc NULL) is served as plain RFC 862 echo, with
 * a configuration of its own that sessions hold like any other, so a
 * reload never changes what an open session sees.
 */
static void
listener_configure(struct listener *l, struct conf *conf,
    const struct listener_conf *lc)
{
	struct conf		*next;

	if (lc != NULL)
		next = config_ref(conf);
	else {
		next = config_fallback(conf, l->activated->name,
		    l->activated->type == SOCK_DGRAM ? CONF_UDP : CONF_TCP,
		    &l->activated->ss, l->activated->sslen);
		if (next == NULL) {
			/* At start (no settings yet) this is fatal. */
			if (l->lc == NULL)
				fatal("passed socket \"%s\"",
				    l->activated->name);
			log_warn("keeping the settings of passed socket \"%s\"",
			    l->activated->name);
			return;
		}
		lc = &next->listeners[0];
	}
	config_unref(l->conf);
	l->conf = next;
	l->lc = lc;
	slots_label(l->slots, lc->name, lc->protocol == CONF_UDP);
	config_listener_endpoint(lc, l->endpoint, sizeof(l->endpoint));
	/* New datagrams use the new settings from now on. */
	if (l->udp != NULL)
		udp_configure(l->udp, next, lc);
}

/* Our own socket for lc, not yet accepting; NULL with *err and *cause. */
static struct listener *
listener_open(struct event_base *base, const struct listener_conf *lc,
    int *err, char **cause)
{
	struct listener	*l;
	int		 fd;

	if ((fd = listener_bind(lc)) == -1) {
		*err = errno;
		*cause = listener_cause(lc, *err);
		return (NULL);
	}
	if ((l = listener_new(base, fd, NULL, lc->protocol == CONF_UDP,
	    cause)) == NULL) {
		*err = errno;
		close(fd);
	}
	return (l);
}

/*
 * One of our own listeners of the running set on lc's protocol and port
 * whose address overlaps lc's: a reload moving a listener to another
 * address on the same port, or changing its reuse_port, must close it
 * before binding.  (The new configuration cannot keep it: two
 * overlapping listeners are an error.)  With reuse_port on both sides the
 * bind succeeds beside it and nothing needs closing first.
 */
static struct listener *
listener_conflict(const struct listener_conf *lc)
{
	struct listener	*l;

	TAILQ_FOREACH(l, &listeners, entry)
		if (l->activated == NULL && l->lc->protocol == lc->protocol &&
		    l->lc->port == lc->port && config_addr_overlap(l->lc, lc))
			return (l);
	return (NULL);
}

/* Open l's endpoint again after a failed reload closed it for another. */
static void
listener_restore(struct event_base *base, struct listener *l)
{
	struct listener	*fresh;
	char		*cause = NULL;
	int		 err;

	if ((fresh = listener_open(base, l->lc, &err, &cause)) == NULL) {
		log_warnx("%s; listener %s is closed",
		    cause != NULL ? cause : "out of memory", l->lc->name);
		free(cause);
		return;
	}
	listener_configure(fresh, l->conf, l->lc);
	fresh->serving = true;
	if (fresh->evl != NULL)
		evconnlistener_enable(fresh->evl);
	else
		udp_enable(fresh->udp);
	TAILQ_INSERT_TAIL(&listeners, fresh, entry);
}

/*
 * Serve conf, all or nothing.  Sockets are opened first, into a list of
 * their own; only when every one is open is the old set replaced, so a
 * port in use leaves the running service exactly as it was.
 */
int
listeners_apply(struct event_base *base, struct conf *conf,
    struct listener_diff *diff, char **cause)
{
	struct listener_list	 next = TAILQ_HEAD_INITIALIZER(next);
	struct listener_list	 moved = TAILQ_HEAD_INITIALIZER(moved);
	struct listener		*l, *tmp;
	struct systemd_socket	*socks;
	const struct listener_conf *lc, **match, **deferred;
	size_t			 nsocks, i, j, ndeferred = 0;
	bool			*activated;
	int			 err;

	memset(diff, 0, sizeof(*diff));
	*cause = NULL;
	nsocks = systemd_sockets(&socks);
	match = calloc(nsocks + 1, sizeof(*match));
	activated = calloc(conf->nlisteners + 1, sizeof(*activated));
	deferred = calloc(conf->nlisteners + 1, sizeof(*deferred));
	if (match == NULL || activated == NULL || deferred == NULL) {
		free(match);
		free(activated);
		free(deferred);
		*cause = strdup("out of memory");
		return (-1);
	}

	/* Sockets from systemd: always served, matched anew each time. */
	for (i = 0; i < nsocks; i++) {
		/* The metrics endpoint's: metrics.c serves it. */
		if (config_metrics_socket(conf, socks[i].name))
			continue;
		match[i] = listener_match(conf, &socks[i]);
		for (j = 0; match[i] != NULL && j < conf->nlisteners; j++)
			if (&conf->listeners[j] == match[i])
				activated[j] = true;
		/* Not ours to bind: the socket unit's ReusePort= says. */
		if (match[i] != NULL && match[i]->reuse_port)
			log_debug("listener %s: reuse_port does not apply to "
			    "passed socket \"%s\" (ReusePort= of its socket "
			    "unit does)", match[i]->name, socks[i].name);
	}
	for (i = 0; i < nsocks; i++) {
		if (config_metrics_socket(conf, socks[i].name))
			continue;
		if ((l = listener_find(&socks[i], NULL)) != NULL)
			TAILQ_REMOVE(&listeners, l, entry);
		else if ((l = listener_new(base, socks[i].fd, &socks[i],
		    socks[i].type == SOCK_DGRAM, cause)) == NULL)
			goto fail;
		else
			diff->added++;
		l->next = match[i];	/* NULL: plain echo */
		TAILQ_INSERT_TAIL(&next, l, entry);
	}

	/* Our own sockets: keep those whose endpoint is unchanged. */
	for (j = 0; j < conf->nlisteners; j++) {
		lc = &conf->listeners[j];
		if (activated[j])
			continue;
		if ((l = listener_find(NULL, lc)) != NULL)
			TAILQ_REMOVE(&listeners, l, entry);
		else if ((l = listener_open(base, lc, &err, cause)) != NULL)
			diff->added++;
		else if (err == EADDRINUSE && listener_conflict(lc) != NULL) {
			/* Our own port, on an address going away: below. */
			free(*cause);
			*cause = NULL;
			deferred[ndeferred++] = lc;
			continue;
		} else
			goto fail;
		l->next = lc;
		TAILQ_INSERT_TAIL(&next, l, entry);
	}

	/*
	 * A listener moved to another address on the same port, or whose
	 * reuse_port changed: only now, with everything else open, close
	 * the old socket and bind the new one; a failure opens the old one
	 * again.
	 */
	for (i = 0; i < ndeferred; i++) {
		lc = deferred[i];
		while ((l = listener_conflict(lc)) != NULL) {
			TAILQ_REMOVE(&listeners, l, entry);
			listener_shut(l);
			TAILQ_INSERT_TAIL(&moved, l, entry);
		}
		if ((l = listener_open(base, lc, &err, cause)) == NULL)
			goto fail;
		diff->added++;
		l->next = lc;
		TAILQ_INSERT_TAIL(&next, l, entry);
	}

	/* Commit: nothing below can fail. */
	TAILQ_CONCAT(&listeners, &moved, entry);
	TAILQ_FOREACH_SAFE(l, &listeners, entry, tmp) {
		TAILQ_REMOVE(&listeners, l, entry);
		diff->removed++;
		log_info("closed listener %s (%s)", l->lc->name, l->endpoint);
		listener_shut(l);
		listener_unref(l);
	}
	TAILQ_CONCAT(&listeners, &next, entry);
	TAILQ_FOREACH(l, &listeners, entry) {
		listener_configure(l, conf, l->next);
		if (l->next == NULL)
			log_warnx("passed socket \"%s\" (%s) matches no "
			    "listener; serving it as plain echo",
			    l->activated->name, l->endpoint);
		if (!l->serving) {
			l->serving = true;
			if (l->evl != NULL)
				evconnlistener_enable(l->evl);
			else if (udp_enable(l->udp) == -1)
				log_warnx("cannot read from %s (%s)",
				    l->lc->name, l->endpoint);
		}
		diff->total++;
	}
	free(match);
	free(activated);
	free(deferred);
	return (0);

fail:
	/* Close only what this attempt opened; kept ones go back. */
	TAILQ_FOREACH_SAFE(l, &next, entry, tmp) {
		TAILQ_REMOVE(&next, l, entry);
		if (l->serving)
			TAILQ_INSERT_TAIL(&listeners, l, entry);
		else {
			listener_shut(l);
			listener_unref(l);
		}
	}
	TAILQ_FOREACH_SAFE(l, &moved, entry, tmp) {
		TAILQ_REMOVE(&moved, l, entry);
		listener_restore(base, l);
		listener_unref(l);
	}
	free(match);
	free(activated);
	free(deferred);
	if (*cause == NULL)
		*cause = strdup("cannot open listeners");
	return (-1);
}

/* Stop accepting and close every listener: the start of a graceful stop. */
void
listeners_close(struct event *drained)
{
	struct listener	*l, *tmp;

	/* What they refused since the last tick, before they are gone. */
	listeners_tick();
	TAILQ_FOREACH_SAFE(l, &listeners, entry, tmp) {
		TAILQ_REMOVE(&listeners, l, entry);
		listener_shut(l);
		listener_unref(l);
	}
	slots_drain(drained);
}

/* Connections accepted and not yet closed, queued ones included. */
unsigned int
listeners_open(void)
{
	return (slots_open());
}

/* Listeners serving now. */
unsigned int
listeners_count(void)
{
	struct listener	*l;
	unsigned int	 n = 0;

	TAILQ_FOREACH(l, &listeners, entry)
		n++;
	return (n);
}

/* "echo tcp [::]:7, strip tcp [::]:9999". */
void
listeners_describe(char *buf, size_t len)
{
	struct listener	*l;
	size_t		 used = 0;
	int		 r;

	buf[0] = '\0';
	TAILQ_FOREACH(l, &listeners, entry) {
		r = snprintf(buf + used, len - used, "%s%s %s",
		    used == 0 ? "" : ", ", l->lc->name, l->endpoint);
		if (r < 0 || (size_t)r >= len - used)
			break;
		used += (size_t)r;
	}
}

/* Once a second: one warning per listener that refused connections,
 * and UDP's drop entry when one is due. */
void
listeners_tick(void)
{
	struct listener		*l;
	char			 limit[16];
	struct log_field	 fields[] = {
		{ "ECHOD_LISTENER", NULL }, { "ECHOD_LIMIT", limit }
	};

	TAILQ_FOREACH(l, &listeners, entry) {
		if (l->refused == 0)
			continue;
		fields[0].value = l->lc->name;
		snprintf(limit, sizeof(limit), "%u", l->refused_limit);
		log_entry(LOG_WARNING, LOG_MSGID_LIMIT, fields, 2,
		    "refused %u connections on %s: limit %u reached",
		    l->refused, l->lc->name, l->refused_limit);
		l->refused = 0;
	}
	TAILQ_FOREACH(l, &listeners, entry) {
		if (l->untrusted == 0)
			continue;
		fields[0].value = l->lc->name;
		log_entry(LOG_WARNING, LOG_MSGID_PROXY, fields, 1,
		    "refused %u connection%s on %s: not from proxy_from (the "
		    "last from %s)", l->untrusted, l->untrusted == 1 ? "" : "s",
		    l->lc->name, l->untrusted_last);
		l->untrusted = 0;
	}
	udp_tick();
}

/*
 * A connection arrived.  Over a limit it is closed at once: the client
 * learns immediately instead of waiting in the backlog, and the refusal
 * is counted for listeners_tick() instead of logged each time.
 */
static void
listener_accept(struct evconnlistener *evl, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct listener	*l = arg;
	struct timeval	 next_pass = { 0, 0 };
	unsigned int	 limit = 0;
	enum slot_counter which = SC_REFUSED_GLOBAL;

	/* Every LISTENER_BURST accepts, let one loop pass go by. */
	if (++l->burst >= LISTENER_BURST)
		listener_pause(l, &next_pass);
	/* A dead backend on purpose: before any limit, it holds nothing. */
	if (l->lc->refuse != CONF_HANGUP_OFF) {
		listener_refuse(l, fd);
		return;
	}
	if (slots_open() >= l->conf->max_connections)
		limit = l->conf->max_connections;
	else if (l->lc->max_connections != 0 &&
	    slots_count(l->slots) >= l->lc->max_connections) {
		limit = l->lc->max_connections;
		which = SC_REFUSED_LISTENER;
	}
	if (limit != 0) {
		close(fd);
		slot_count(slots_cell(l->slots, 0), which, 1);
		l->refused++;
		l->refused_limit = limit;
		return;
	}
	if (l->lc->proxy_protocol != 0 && !listener_trusted(l->lc, sa)) {
		close(fd);
		slot_count(slots_cell(l->slots, 0), SC_REFUSED_PROXY_FROM, 1);
		l->untrusted++;
		listener_name_peer(sa, l->untrusted_last,
		    sizeof(l->untrusted_last));
		return;
	}
	if (l->nodelay != NODELAY_INHERITED)
		listener_nodelay(l, fd);
	slot_take(l->slots);
	workers_dispatch(fd, sa, (socklen_t)salen, l->conf, l->lc, l->slots);
}

/*
 * refuse (echod.conf(5)): hang up on fd at once, no slot, no session.
 * "reset": a linger of 0 makes close(2) send a RST, so the client's
 * first recv fails with ECONNRESET.  "fin": a plain close; what the
 * client already sent is read away first, since closing with unread
 * bytes makes the kernel send a RST instead (RFC 2525, 2.17).
 */
static void
listener_refuse(struct listener *l, int fd)
{
	struct linger	 lg = { 1, 0 };
	char		 sink[4096];
	int		 i;

	if (l->lc->refuse == CONF_HANGUP_RESET) {
		if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg,
		    sizeof(lg)) == -1)
			log_debug("SO_LINGER on %s: %s", l->lc->name,
			    strerror(errno));
	} else {
		for (i = 0; i < 16; i++) {
			if (recv(fd, sink, sizeof(sink), MSG_DONTWAIT) <= 0)
				break;
		}
	}
	close(fd);
	slot_count(slots_cell(l->slots, 0), SC_REFUSED_REFUSE, 1);
}

/* "192.0.2.1:5000" or "[2001:db8::1]:5000" of a peer, IPv4 unmapped. */
static void
listener_name_peer(const struct sockaddr *sa, char *buf, size_t len)
{
	char		 addr[INET6_ADDRSTRLEN];
	uint16_t	 port;

	addr_format(sa, addr, sizeof(addr), &port);
	snprintf(buf, len, strchr(addr, ':') != NULL ? "[%s]:%u" : "%s:%u",
	    addr, port);
}

/*
 * Whether sa may send a PROXY header to lc: one of its proxy_from
 * networks.  Anyone else could claim any address, so is not served.
 */
static bool
listener_trusted(const struct listener_conf *lc, const struct sockaddr *sa)
{
	size_t	 i;

	for (i = 0; i < lc->nproxy_from; i++) {
		if (addr_net_match(&lc->proxy_from[i], sa))
			return (true);
	}
	return (false);
}

/* TCP_NODELAY on fd, accepted by l, unless it came with it. */
static void
listener_nodelay(struct listener *l, int fd)
{
	int		 on = 1, v = 0;
	socklen_t	 len = sizeof(v);

	if (l->nodelay == NODELAY_UNKNOWN) {
		l->nodelay = getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v,
		    &len) == 0 && v != 0 ? NODELAY_INHERITED : NODELAY_EACH;
		if (l->nodelay == NODELAY_INHERITED)
			return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

/* Stop accepting on l for tv; the loop goes on with everything else. */
static void
listener_pause(struct listener *l, const struct timeval *tv)
{
	if (l->resume == NULL)
		l->resume = evtimer_new(evconnlistener_get_base(l->evl),
		    listener_resume, l);
	evconnlistener_disable(l->evl);
	if (l->resume == NULL || evtimer_add(l->resume, tv) == -1)
		evconnlistener_enable(l->evl);
}

/* The EMFILE pause is over: accept again. */
static void
listener_resume(evutil_socket_t fd, short what, void *arg)
{
	struct listener	*l = arg;

	l->burst = 0;
	if (l->serving)
		evconnlistener_enable(l->evl);
}

/*
 * accept() failed with something libevent does not retry.  Out of
 * descriptors the pending connection keeps the socket readable, so
 * accepting again at once would spin: pause briefly instead, and warn at
 * most once a second.
 */
static void
listener_error(struct evconnlistener *evl, void *arg)
{
	struct listener	*l = arg;
	struct timeval	 tv = { 0, LISTENER_PAUSE_MSEC * 1000 };
	struct timespec	 ts;
	int		 err = EVUTIL_SOCKET_ERROR();

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	if (ts.tv_sec != l->warned) {
		l->warned = ts.tv_sec;
		errno = err;
		log_warn("accept on %s (%s)%s", l->lc->name, l->endpoint,
		    err == EMFILE || err == ENFILE || err == ENOBUFS ||
		    err == ENOMEM ? ", pausing" : "");
	}
	if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM)
		return;
	listener_pause(l, &tv);
}
