/*
 * metrics.c: the Prometheus endpoint, a small HTTP/1.x server of one
 * resource on the main loop.
 *
 * Why the main loop: what it serves is summed there already (STATUS=
 * does so once a second), a scrape reads each listener's cells with
 * relaxed loads and never takes a lock a worker could wait on, so a
 * scrape costs the workers nothing and never runs on a thread that
 * serves echo sessions (with workers > 1).  Its cost to the main loop is
 * bounded: METRICS_CONNS connections, METRICS_REQUEST bytes and
 * METRICS_DEADLINE seconds each.
 *
 * Why not evhttp: libevent 2.1.12's evhttp has no hook when a connection
 * arrives (evhttp_set_newreqcb and evhttp_set_max_connections are 2.2),
 * so nothing bounds the connections it holds, and its timeouts are the
 * bufferevent's idle ones, which a client sending a byte a second resets
 * forever.  Reading one request line and its headers is short; doing it
 * here gives each connection a deadline from accept and a hard bound.
 */
#include <sys/socket.h>
#include <sys/queue.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "addr.h"
#include "budget.h"
#include "compat.h"
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "metrics_http.h"
#include "slot.h"
#include "systemd.h"
#include "worker.h"

#define METRICS_CONNS		16	/* scrapes at once; more are refused */
#define METRICS_DEADLINE	10	/* seconds from accept to the end */
#define METRICS_LINGER		4096	/* bytes read after the reply */
#define METRICS_TYPE		"text/plain; version=0.0.4; charset=utf-8"

/* One client connection. */
struct metrics_conn {
	TAILQ_ENTRY(metrics_conn)	 entry;
	struct bufferevent		*bev;
	struct event			*deadline;
	bool				 answered;	/* lingering now */
	size_t				 linger;	/* bytes read since */
};

static struct {
	struct event_base		*base;
	struct evconnlistener		*evl;
	TAILQ_HEAD(, metrics_conn)	 conns;
	unsigned int			 nconns;
	uint64_t			 refused;	/* over METRICS_CONNS */
	double				 start;		/* wall clock, s */
	double				 last_ok;	/* last good load */
	uint64_t			 reloads[2];	/* rejected, ok */
} metrics_state = {
	.conns = TAILQ_HEAD_INITIALIZER(metrics_state.conns)
};

static void	metrics_accept(struct evconnlistener *, evutil_socket_t,
		    struct sockaddr *, int, void *);
static void	metrics_read(struct bufferevent *, void *);
static void	metrics_written(struct bufferevent *, void *);
static void	metrics_event(struct bufferevent *, short, void *);
static void	metrics_timeout(evutil_socket_t, short, void *);

/* The wall clock in seconds. */
static double
metrics_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

/* Our own socket on m's address; -1 with errno. */
static int
metrics_bind(const struct metrics_conf *m)
{
	int	 fd, on = 1, saved;

	fd = socket(m->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1)
		return (-1);
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    bind(fd, (const struct sockaddr *)&m->ss, m->sslen) == -1 ||
	    listen(fd, METRICS_CONNS) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return (-1);
	}
	return (fd);
}

/* Serve the passed "metrics" socket, or conf's own one. */
int
metrics_start(struct event_base *base, const struct conf *conf, char **cause)
{
	struct systemd_socket	*socks;
	size_t			 i, n;
	unsigned int		 flags = LEV_OPT_CLOSE_ON_EXEC;
	int			 fd = -1;
	char			 endpoint[ADDR_ENDPOINT_MAX];

	*cause = NULL;
	metrics_state.base = base;
	metrics_state.start = metrics_state.last_ok = metrics_now();
	n = systemd_sockets(&socks);
	for (i = 0; i < n; i++)
		if (socks[i].type == SOCK_STREAM &&
		    config_metrics_socket(conf, socks[i].name))
			break;
	if (i < n) {
		/* systemd's: it stays open for the next start. */
		fd = socks[i].fd;
		addr_endpoint(&socks[i].ss, endpoint, sizeof(endpoint));
	} else if (conf->metrics.enabled) {
		addr_endpoint(&conf->metrics.ss, endpoint, sizeof(endpoint));
		if ((fd = metrics_bind(&conf->metrics)) == -1) {
			if (asprintf(cause, "cannot serve metrics on %s: %s",
			    endpoint, strerror(errno)) == -1)
				*cause = NULL;
			return (-1);
		}
		flags |= LEV_OPT_CLOSE_ON_FREE;
	} else
		return (0);
	/* backlog 0: the socket listens already. */
	metrics_state.evl = evconnlistener_new(base, metrics_accept, NULL,
	    flags, 0, fd);
	if (metrics_state.evl == NULL) {
		if (flags & LEV_OPT_CLOSE_ON_FREE)
			close(fd);
		if (asprintf(cause, "cannot serve metrics on %s", endpoint) ==
		    -1)
			*cause = NULL;
		return (-1);
	}
	log_info("serving metrics on http://%s/metrics", endpoint);
	return (0);
}

/* A reload's outcome. */
void
metrics_reloaded(bool ok)
{
	metrics_state.reloads[ok]++;
	if (ok)
		metrics_state.last_ok = metrics_now();
}

/* End a connection. */
static void
metrics_close(struct metrics_conn *mc)
{
	TAILQ_REMOVE(&metrics_state.conns, mc, entry);
	metrics_state.nconns--;
	if (mc->deadline != NULL)
		event_free(mc->deadline);
	if (mc->bev != NULL)
		bufferevent_free(mc->bev);
	free(mc);
}

/* Close everything. */
void
metrics_free(void)
{
	struct metrics_conn	*mc;

	while ((mc = TAILQ_FIRST(&metrics_state.conns)) != NULL)
		metrics_close(mc);
	if (metrics_state.evl != NULL)
		evconnlistener_free(metrics_state.evl);
	metrics_state.evl = NULL;
}

/*
 * A scraper connected.  Past the bound it is closed at once: refusing
 * costs nothing, waiting in the backlog would cost the next scrape.
 */
static void
metrics_accept(struct evconnlistener *evl, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct timeval		 tv = { METRICS_DEADLINE, 0 };
	struct metrics_conn	*mc;

	if (metrics_state.nconns >= METRICS_CONNS ||
	    (mc = calloc(1, sizeof(*mc))) == NULL) {
		metrics_state.refused++;
		close(fd);
		return;
	}
	TAILQ_INSERT_TAIL(&metrics_state.conns, mc, entry);
	metrics_state.nconns++;
	mc->bev = bufferevent_socket_new(metrics_state.base, fd,
	    BEV_OPT_CLOSE_ON_FREE);
	mc->deadline = evtimer_new(metrics_state.base, metrics_timeout, mc);
	if (mc->bev == NULL || mc->deadline == NULL ||
	    evtimer_add(mc->deadline, &tv) == -1) {
		if (mc->bev == NULL)
			close(fd);
		metrics_close(mc);
		return;
	}
	/* Reading stops at the bound: the kernel holds the rest. */
	bufferevent_setwatermark(mc->bev, EV_READ, 0, METRICS_REQUEST);
	bufferevent_setcb(mc->bev, metrics_read, metrics_written,
	    metrics_event, mc);
	bufferevent_enable(mc->bev, EV_READ);
}

/* The whole time of a connection is up: slow or silent, it goes. */
static void
metrics_timeout(evutil_socket_t fd, short what, void *arg)
{
	metrics_close(arg);
}

/* The end of the connection, or an error on it. */
static void
metrics_event(struct bufferevent *bev, short what, void *arg)
{
	metrics_close(arg);
}

/* "name{labels} value" with a label value escaped (format 0.0.4). */
static void
metrics_label(struct evbuffer *b, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			evbuffer_add_printf(b, "\\%c", *v);
		else if (*v == '\n')
			evbuffer_add(b, "\\n", 2);
		else
			evbuffer_add(b, v, 1);
	}
}

/* HELP and TYPE of a family. */
static void
metrics_family(struct evbuffer *b, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

/* One sample of a listener's family: {listener,protocol[,extra]}. */
static void
metrics_sample(struct evbuffer *b, const char *name,
    const struct slots_series *s, const char *key, const char *value,
    uint64_t v)
{
	evbuffer_add_printf(b, "%s{listener=\"", name);
	metrics_label(b, s->name);
	evbuffer_add_printf(b, "\",protocol=\"%s\"", s->udp ? "udp" : "tcp");
	if (key != NULL)
		evbuffer_add_printf(b, ",%s=\"%s\"", key, value);
	evbuffer_add_printf(b, "} %llu\n", (unsigned long long)v);
}

/* A family of every listener (of protocol udp, or tcp, or both). */
static void
metrics_per_listener(struct evbuffer *b, const struct slots_series *v, int n,
    const char *name, const char *type, const char *help, int only_udp,
    enum slot_counter first, enum slot_counter last,
    const char *key, const char *const *values)
{
	enum slot_counter	 k;
	int			 i;

	metrics_family(b, name, type, help);
	for (i = 0; i < n; i++) {
		if (only_udp != -1 && v[i].udp != only_udp)
			continue;
		for (k = first; k <= last; k++)
			metrics_sample(b, name, &v[i], key, key == NULL ?
			    NULL : values[k - first], v[i].v[k]);
	}
}

/* The body of GET /metrics. */
static void
metrics_render(struct evbuffer *b)
{
	struct slots_series	*v;
	int			 n, i;

	metrics_family(b, "echod_build_info", "gauge",
	    "The version of echod and of libevent, as labels.");
	evbuffer_add_printf(b, "echod_build_info{version=\"%s\","
	    "libevent=\"%s\"} 1\n", PACKAGE_VERSION, event_get_version());
	metrics_family(b, "echod_start_time_seconds", "gauge",
	    "When echod started, in seconds since the epoch.");
	evbuffer_add_printf(b, "echod_start_time_seconds %.3f\n",
	    metrics_state.start);
	metrics_family(b, "echod_config_reloads_total", "counter",
	    "Reloads (SIGHUP) by outcome.");
	evbuffer_add_printf(b, "echod_config_reloads_total{result=\"ok\"} "
	    "%llu\n", (unsigned long long)metrics_state.reloads[1]);
	evbuffer_add_printf(b, "echod_config_reloads_total{result="
	    "\"rejected\"} %llu\n",
	    (unsigned long long)metrics_state.reloads[0]);
	metrics_family(b, "echod_config_last_reload_success_timestamp_seconds",
	    "gauge", "When the configuration in use was loaded, in seconds "
	    "since the epoch.");
	evbuffer_add_printf(b, "echod_config_last_reload_success_timestamp_"
	    "seconds %.3f\n", metrics_state.last_ok);
	metrics_family(b, "echod_workers", "gauge",
	    "Event loops serving sessions.");
	evbuffer_add_printf(b, "echod_workers %u\n", workers_count());
	metrics_family(b, "echod_memory_held_bytes", "gauge",
	    "Bytes all sessions hold (max_memory counts them).");
	evbuffer_add_printf(b, "echod_memory_held_bytes %llu\n",
	    (unsigned long long)budget_held());
	metrics_family(b, "echod_memory_limit_bytes", "gauge",
	    "max_memory.");
	evbuffer_add_printf(b, "echod_memory_limit_bytes %llu\n",
	    (unsigned long long)budget_limit());
	metrics_family(b, "echod_metrics_refused_total", "counter",
	    "Scrape connections refused over the bound of the endpoint.");
	evbuffer_add_printf(b, "echod_metrics_refused_total %llu\n",
	    (unsigned long long)metrics_state.refused);

	if ((n = slots_collect(&v)) <= 0)
		return;
	metrics_family(b, "echod_sessions", "gauge",
	    "TCP sessions open now, those on their way to a worker included.");
	for (i = 0; i < n; i++)
		if (!v[i].udp)
			metrics_sample(b, "echod_sessions", &v[i], NULL, NULL,
			    v[i].sessions);
	metrics_per_listener(b, v, n, "echod_sessions_accepted_total",
	    "counter", "TCP connections accepted past the listener's limits.",
	    0, SC_ACCEPTED, SC_ACCEPTED, NULL, NULL);
	metrics_per_listener(b, v, n, "echod_sessions_closed_total",
	    "counter", "TCP sessions closed, by reason.", 0,
	    SC_CLOSED_FIRST, SC_CLOSED_LAST, "reason", slot_reasons);
	metrics_per_listener(b, v, n, "echod_connections_refused_total",
	    "counter", "TCP connections refused, by the limit that refused "
	    "them.", 0, SC_REFUSED_FIRST, SC_REFUSED_LAST, "limit",
	    slot_limits);
	metrics_per_listener(b, v, n, "echod_received_bytes_total",
	    "counter", "Bytes received from clients.", -1,
	    SC_RECEIVED, SC_RECEIVED, NULL, NULL);
	metrics_per_listener(b, v, n, "echod_sent_bytes_total",
	    "counter", "Bytes of replies sent or queued to be sent.", -1,
	    SC_SENT, SC_SENT, NULL, NULL);
	metrics_per_listener(b, v, n, "echod_udp_datagrams_total",
	    "counter", "Datagrams received, by what became of them.", 1,
	    SC_UDP_FIRST, SC_UDP_LAST, "result", slot_udp_results);
	metrics_per_listener(b, v, n, "echod_stamp_stateless_total",
	    "counter", "STAMP test packets a stateful listener answered "
	    "statelessly: no room for their session.", 1,
	    SC_STAMP_STATELESS, SC_STAMP_STATELESS, NULL, NULL);
	free(v);
}

/* Send the reply and linger: the client reads it, then closes. */
static void
metrics_reply(struct metrics_conn *mc, int code, const char *reason,
    bool head)
{
	struct evbuffer	*out = bufferevent_get_output(mc->bev);
	struct evbuffer	*body;

	if ((body = evbuffer_new()) == NULL) {
		metrics_close(mc);
		return;
	}
	if (code == 200)
		metrics_render(body);
	else
		evbuffer_add_printf(body, "%d %s\n", code, reason);
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n%s"
	    "Connection: close\r\n\r\n", code, reason,
	    code == 200 ? METRICS_TYPE : "text/plain; charset=utf-8",
	    evbuffer_get_length(body), code == 405 ?
	    "Allow: GET, HEAD\r\n" : "");
	if (!head)
		evbuffer_add_buffer(out, body);
	evbuffer_free(body);
	mc->answered = true;
	/* Whatever else it sends is read and dropped, up to a point. */
	evbuffer_drain(bufferevent_get_input(mc->bev),
	    evbuffer_get_length(bufferevent_get_input(mc->bev)));
	bufferevent_setwatermark(mc->bev, EV_READ, 0, 0);
	bufferevent_enable(mc->bev, EV_WRITE);
}

/*
 * Bytes came: the answer once they decide one (metrics_http.c).  Each
 * read parses the head again from its start: at most METRICS_REQUEST
 * bytes, and a connection is read for METRICS_DEADLINE seconds at most.
 */
static void
metrics_read(struct bufferevent *bev, void *arg)
{
	struct metrics_conn	*mc = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct metrics_http	 req;
	const char		*p;
	size_t			 len;
	int			 code;

	if (mc->answered) {
		mc->linger += evbuffer_get_length(in);
		evbuffer_drain(in, evbuffer_get_length(in));
		if (mc->linger > METRICS_LINGER)
			metrics_close(mc);
		return;
	}
	if ((len = evbuffer_get_length(in)) > METRICS_REQUEST)
		len = METRICS_REQUEST;
	if ((p = (const char *)evbuffer_pullup(in, len)) == NULL) {
		metrics_close(mc);
		return;
	}
	if ((code = metrics_http_parse(p, len, &req)) != 0)
		metrics_reply(mc, code, metrics_http_reason(code), req.head);
}

/*
 * The reply is out: say so (FIN) and wait for the client to close, so
 * that closing with its bytes unread does not reset the reply away.
 */
static void
metrics_written(struct bufferevent *bev, void *arg)
{
	struct metrics_conn	*mc = arg;

	if (!mc->answered)
		return;
	bufferevent_disable(bev, EV_WRITE);
	if (shutdown(bufferevent_getfd(bev), SHUT_WR) == -1)
		metrics_close(mc);
}
