/*
 * confbuild.c: a parsed configuration's checked values turned into
 * struct conf, with the checks across keys and listeners.
 */
#include <sys/socket.h>
#include <sys/time.h>

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "addr.h"
#include "confbuild.h"
#include "confbuild_int.h"
#include "conferr.h"
#include "conffile.h"
#include "conf.h"
#include "confkeys.h"
#include "framing.h"
#include "log.h"
#include "stamp.h"

/* A "handshake" timeout: a TLS handshake cannot be allowed forever. */
static struct timeval
confbuild_handshake(struct confbuild *b, const struct confkeys_val *v)
{
	if (v->d == 0)
		conferr_setting(b->e, v->s, "\"handshake\" must be more than "
		    "0");
	return (confbuild_tv(v->d));
}

/* Whether name is 1-64 of A-Z a-z 0-9 _ . - (logs and FileDescriptorName). */
static bool
confbuild_name_valid(const char *name)
{
	size_t	 i;

	for (i = 0; name[i] != '\0'; i++) {
		if (!isalnum((unsigned char)name[i]) && name[i] != '_' &&
		    name[i] != '.' && name[i] != '-')
			return (false);
	}
	return (i >= 1 && i <= CONF_NAME_MAX);
}

/* Fill l->ss from its address and port; 0, or -1 if not a literal. */
static int
confbuild_sockaddr(struct listener_conf *l, const char *addr)
{
	if (addr_parse(addr, l->port, &l->ss, &l->sslen) == -1)
		return (-1);
	l->wildcard = addr_is_wildcard(&l->ss);
	/* Every literal inet_pton() accepts is shorter than this. */
	snprintf(l->address, sizeof(l->address), "%s", addr);
	return (0);
}

/*
 * Where listener i was, for an error of listener n: its line, and its
 * file when that is not n's.  Returns buf.
 */
static const char *
confbuild_where(const struct confbuild *b, const struct conf *c, size_t i,
    size_t n, char *buf, size_t size)
{
	if (b->lfile[i] == b->lfile[n])
		snprintf(buf, size, "line %d", c->listeners[i].line);
	else
		snprintf(buf, size, "%s:%d", b->lfile[i],
		    c->listeners[i].line);
	return (buf);
}

/* Check listener group g into l, against the n listeners before it. */
static void
confbuild_listener(struct confbuild *b, config_setting_t *g, struct conf *c,
    size_t n)
{
	struct listener_conf	*l = &c->listeners[n], *o;
	struct confkeys_val	 vals[K_COUNT], tvals[K_COUNT];
	char			 q[CONFERR_QUOTED], where[512];
	char			 unit[96] = "";
	int			 k, *flags = &b->lflags[n];
	long long		 proto;
	bool			 framing_ok;
	size_t			 i, longest = SIZE_MAX;

	b->lfile[n] = conffile_where(b->cf, config_setting_source_line(g),
	    &l->line);
	confkeys_walk(b->e, b->cf, g, CTX_LISTENER, vals);

	for (k = K_L_NAME; k <= K_L_LAST; k++) {
		if ((confkeys_flags(k) & KF_REQUIRED) && vals[k].s == NULL)
			conferr_setting(b->e, g, "\"%s\" is required",
			    confkeys_name(k));
	}
	if (vals[K_L_NAME].ok) {
		if (confbuild_name_valid(vals[K_L_NAME].str)) {
			snprintf(l->name, sizeof(l->name), "%s",
			    vals[K_L_NAME].str);
			*flags |= LF_NAME_OK;
		} else {
			conferr_quote(q, sizeof(q), vals[K_L_NAME].str);
			conferr_setting(b->e, vals[K_L_NAME].s, "invalid "
			    "listener name \"%s\": use 1 to %d of A-Z a-z 0-9 "
			    "_ . -", q, CONF_NAME_MAX);
		}
	}
	if (vals[K_L_PORT].ok)
		*flags |= LF_PORT_OK;
	if (vals[K_L_PROTOCOL].ok || vals[K_L_PROTOCOL].s == NULL)
		*flags |= LF_PROTO_OK;
	/* A STAMP reflector is a UDP listener that answers otherwise. */
	proto = confkeys_int(vals, K_L_PROTOCOL);
	l->stamp = proto == CONF_PROTO_STAMP;
	l->protocol = l->stamp ? CONF_UDP : (enum conf_proto)proto;
	l->stamp_stateful = confkeys_int(vals, K_L_STAMP_MODE) == 1;
	l->reuse_port = confkeys_int(vals, K_L_REUSE_PORT);
	l->port = confkeys_int(vals, K_L_PORT);
	l->framing = confkeys_int(vals, K_L_FRAMING);
	l->max_connections = confkeys_int(vals, K_L_MAX_CONNECTIONS);
	l->udp_rate = confkeys_int(vals, K_L_UDP_RATE);
	l->udp_burst = confkeys_int(vals, K_L_UDP_BURST);
	l->max_datagram = confkeys_int(vals, K_L_MAX_DATAGRAM);
	l->per_source = confgroup_per_source(b, vals,
	    K_L_MAX_CONNECTIONS_PER_SOURCE, K_L_MAX_NEW_CONNECTIONS_PER_SOURCE,
	    K_L_NEW_CONNECTIONS_BURST);
	if ((*flags & LF_PROTO_OK) && l->protocol == CONF_TCP)
		confgroup_proxy(b, g, vals, l);
	if ((*flags & LF_PROTO_OK) && l->protocol == CONF_TCP &&
	    vals[K_L_TLS].ok)
		confgroup_tls(b, vals[K_L_TLS].s, l);

	/* Keys of the other protocol, known only once "protocol" is. */
	if (*flags & LF_PROTO_OK) {
		for (k = K_L_NAME; k <= K_L_LAST; k++) {
			if (vals[k].s == NULL)
				continue;
			if (((confkeys_flags(k) & KF_TCP) &&
			    l->protocol != CONF_TCP) ||
			    ((confkeys_flags(k) & KF_UDP) &&
			    l->protocol != CONF_UDP) ||
			    ((confkeys_flags(k) & KF_STAMP) && !l->stamp))
				conferr_setting(b->e, vals[k].s, "\"%s\" is "
				    "not allowed on a %s listener",
				    confkeys_name(k),
				    confkeys_choice(K_L_PROTOCOL, proto));
		}
	}

	if (vals[K_L_ADDRESS].s == NULL || vals[K_L_ADDRESS].ok) {
		const char	*addr = confkeys_str(vals, K_L_ADDRESS);

		if (confbuild_sockaddr(l, addr) == 0)
			*flags |= LF_ADDR_OK;
		else {
			conferr_quote(q, sizeof(q), addr);
			conferr_setting(b->e, vals[K_L_ADDRESS].s, "invalid "
			    "address \"%s\": not an IPv4 or IPv6 literal", q);
		}
	}

	l->idle = c->idle;
	l->write = c->write;
	l->handshake = c->handshake;
	if (vals[K_L_TIMEOUTS].ok) {
		confkeys_walk(b->e, b->cf, vals[K_L_TIMEOUTS].s, CTX_LTIMEOUTS,
		    tvals);
		if (tvals[K_LT_IDLE].ok)
			l->idle = confbuild_tv(tvals[K_LT_IDLE].d);
		if (tvals[K_LT_WRITE].ok)
			l->write = confbuild_tv(tvals[K_LT_WRITE].d);
		if (tvals[K_LT_HANDSHAKE].ok)
			l->handshake = confbuild_handshake(b,
			    &tvals[K_LT_HANDSHAKE]);
	}
	/* The most a message can hold, when its framing says. */
	framing_ok = vals[K_L_FRAMING].s == NULL || vals[K_L_FRAMING].ok;
	if (*flags & LF_PROTO_OK)
		confgroup_instrument(b, vals, framing_ok, l);
	if ((*flags & LF_PROTO_OK) && l->protocol == CONF_UDP) {
		longest = l->max_datagram;
		snprintf(unit, sizeof(unit), "a datagram can hold "
		    "(max_datagram = %u)", l->max_datagram);
	} else if ((*flags & LF_PROTO_OK) && framing_ok &&
	    l->framing == FRAMING_LINE) {
		longest = c->max_line - 1;
		snprintf(unit, sizeof(unit), "a line can hold (max_line = "
		    "%zu, the newline included)", c->max_line);
	}
	/* A test packet is 44 octets: below that, every one would be
	 * dropped as too large, and a short one answered larger than the
	 * limit. */
	if ((*flags & LF_PROTO_OK) && l->stamp && vals[K_L_MAX_DATAGRAM].ok &&
	    l->max_datagram < STAMP_LEN)
		conferr_setting(b->e, vals[K_L_MAX_DATAGRAM].s, "\"max_datagram"
		    "\" must be at least %d on a stamp listener (a STAMP test "
		    "packet's length)", STAMP_LEN);
	/* The reply is the reflector's fields, not the packet less some. */
	if ((*flags & LF_PROTO_OK) && l->stamp && vals[K_L_STRIP].s != NULL)
		conferr_setting(b->e, vals[K_L_STRIP].s, "\"strip\" is not "
		    "allowed on a stamp listener");
	else if (vals[K_L_STRIP].ok)
		confgroup_strip(b, vals[K_L_STRIP].s, l, framing_ok, longest,
		    unit);

	/* Every earlier listener: "where" is written only for an error,
	 * so that a thousand listeners do not cost a million of them. */
	for (i = 0; i < n; i++) {
		o = &c->listeners[i];
		if ((*flags & LF_NAME_OK) && (b->lflags[i] & LF_NAME_OK) &&
		    strcmp(l->name, o->name) == 0)
			conferr_setting(b->e, vals[K_L_NAME].s, "duplicate "
			    "listener name \"%s\" (first on %s)", l->name,
			    confbuild_where(b, c, i, n, where, sizeof(where)));
		if ((*flags & LF_ENDPOINT) != LF_ENDPOINT ||
		    (b->lflags[i] & LF_ENDPOINT) != LF_ENDPOINT)
			continue;
		/* Same protocol and port is ours to check, not the helper's. */
		if (l->protocol == o->protocol && l->port == o->port &&
		    addr_overlap(&l->ss, &o->ss))
			conferr_setting(b->e, g, "listener \"%s\" overlaps "
			    "listener \"%s\" (%s): both %s port %u on \"%s\" "
			    "and \"%s\"", l->name, o->name,
			    confbuild_where(b, c, i, n, where, sizeof(where)),
			    confkeys_choice(K_L_PROTOCOL, l->protocol), l->port,
			    l->address, o->address);
	}
}

/* Check the "listeners" list into c->listeners. */
static void
confbuild_listeners(struct confbuild *b, config_setting_t *list, struct conf *c)
{
	config_setting_t	*g;
	size_t			 i, n;

	n = config_setting_length(list);
	if (n == 0) {
		conferr_setting(b->e, list, "\"listeners\" must not be empty");
		return;
	}
	c->listeners = calloc(n, sizeof(*c->listeners));
	b->lfile = calloc(n, sizeof(*b->lfile));
	b->lflags = calloc(n, sizeof(*b->lflags));
	if (c->listeners == NULL || b->lfile == NULL || b->lflags == NULL) {
		b->e->nomem = true;
		return;
	}
	for (i = 0; i < n; i++) {
		g = config_setting_get_elem(list, i);
		c->nlisteners++;
		if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
			conferr_setting(b->e, g, "each listener must be a "
			    "group ({ ... })");
			continue;
		}
		confbuild_listener(b, g, c, i);
	}
}

/* The "metrics" group g into c->metrics. */
static void
confbuild_metrics(struct confbuild *b, config_setting_t *g, struct conf *c)
{
	struct metrics_conf	*m = &c->metrics;
	struct confkeys_val	 vals[K_COUNT];
	const char		*addr;
	char			 q[CONFERR_QUOTED];

	confkeys_walk(b->e, b->cf, g, CTX_METRICS, vals);
	m->enabled = true;
	m->port = confkeys_int(vals, K_M_PORT);
	if (vals[K_M_ADDRESS].s != NULL && !vals[K_M_ADDRESS].ok)
		return;
	addr = confkeys_str(vals, K_M_ADDRESS);
	if (addr_parse(addr, m->port, &m->ss, &m->sslen) == -1) {
		conferr_quote(q, sizeof(q), addr);
		conferr_setting(b->e, vals[K_M_ADDRESS].s, "invalid metrics "
		    "address \"%s\": not an IPv4 or IPv6 literal", q);
		return;
	}
	snprintf(m->address, sizeof(m->address), "%s", addr);
}

/* Check the whole parsed tree into c. */
static void
confbuild_tree(struct confbuild *b, config_t *cfg, struct conf *c)
{
	struct confkeys_val	 vals[K_COUNT], tvals[K_COUNT];

	confkeys_walk(b->e, b->cf, config_root_setting(cfg), CTX_TOP, vals);

	c->log_level = confkeys_int(vals, K_LOG_LEVEL);
	c->log_connections = confkeys_int(vals, K_LOG_CONNECTIONS);
	c->log_rate = confkeys_int(vals, K_LOG_RATE);
	c->workers = confkeys_int(vals, K_WORKERS);
	snprintf(c->event_method, sizeof(c->event_method), "%s",
	    confkeys_choice(K_EVENT_METHOD,
	    confkeys_int(vals, K_EVENT_METHOD)));
	c->max_connections = confkeys_int(vals, K_MAX_CONNECTIONS);
	c->max_line = confkeys_int(vals, K_MAX_LINE);
	c->max_memory = confkeys_int(vals, K_MAX_MEMORY);
	c->per_source = confgroup_per_source(b, vals,
	    K_MAX_CONNECTIONS_PER_SOURCE, K_MAX_NEW_CONNECTIONS_PER_SOURCE,
	    K_NEW_CONNECTIONS_BURST);
	c->source_prefix4 = confkeys_int(vals, K_SOURCE_PREFIX);
	c->source_prefix6 = confkeys_int2(vals, K_SOURCE_PREFIX);

	/* Defaults first, so an absent or broken group still has them. */
	memset(tvals, 0, sizeof(tvals));
	if (vals[K_TIMEOUTS].ok)
		confkeys_walk(b->e, b->cf, vals[K_TIMEOUTS].s, CTX_TIMEOUTS,
		    tvals);
	c->idle = confbuild_tv(confkeys_sec(tvals, K_IDLE));
	c->write = confbuild_tv(confkeys_sec(tvals, K_WRITE));
	c->shutdown = confbuild_tv(confkeys_sec(tvals, K_SHUTDOWN));
	c->handshake = tvals[K_HANDSHAKE].ok ? confbuild_handshake(b,
	    &tvals[K_HANDSHAKE]) : confbuild_tv(confkeys_sec(tvals,
	    K_HANDSHAKE));

	if (vals[K_LISTENERS].s == NULL)
		conferr_add(b->e, 0, "\"listeners\" is required");
	else if (vals[K_LISTENERS].ok)
		confbuild_listeners(b, vals[K_LISTENERS].s, c);
	if (vals[K_METRICS].ok)
		confbuild_metrics(b, vals[K_METRICS].s, c);
}

/* Check the whole tree into c. */
void
confbuild_top(struct conferr *e, const struct conffile *cf, config_t *cfg,
    struct conf *c)
{
	struct confbuild	 b = { e, cf, NULL, NULL };

	confbuild_tree(&b, cfg, c);
	free(b.lfile);
	free(b.lflags);
}

/* A listener of every default (see confbuild.h). */
void
confbuild_defaults(const struct conf *c, struct listener_conf *l,
    const char *name, enum conf_proto proto,
    const struct sockaddr_storage *ss, socklen_t sslen)
{
	struct confkeys_val	 none[K_COUNT];

	memset(none, 0, sizeof(none));
	memset(l, 0, sizeof(*l));
	snprintf(l->name, sizeof(l->name), "%s", name);
	l->protocol = proto;
	l->ss = *ss;
	l->sslen = sslen;
	l->port = addr_port(ss);
	l->wildcard = addr_is_wildcard(ss);
	l->framing = confkeys_int(none, K_L_FRAMING);
	l->max_connections = confkeys_int(none, K_L_MAX_CONNECTIONS);
	/* UDP: with the safety settings of echod.conf(5). */
	l->udp_rate = confkeys_int(none, K_L_UDP_RATE);
	l->udp_burst = confkeys_int(none, K_L_UDP_BURST);
	l->max_datagram = confkeys_int(none, K_L_MAX_DATAGRAM);
	l->proxy_timeout = confbuild_tv(confkeys_sec(none, K_L_PROXY_TIMEOUT));
	l->idle = c->idle;
	l->write = c->write;
	l->handshake = c->handshake;
}
