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
#include "banner.h"
#include "confbuild.h"
#include "conferr.h"
#include "conffile.h"
#include "conf.h"
#include "confkeys.h"
#include "framing.h"
#include "log.h"
#include "stamp.h"
#include "strip.h"
#include "tls.h"

/* What is known of each listener checked so far (confbuild_listener()). */
#define LF_NAME_OK	0x01
#define LF_ADDR_OK	0x02
#define LF_PORT_OK	0x04
#define LF_PROTO_OK	0x08
#define LF_ENDPOINT	(LF_ADDR_OK | LF_PORT_OK | LF_PROTO_OK)

/* State of one build. */
struct confbuild {
	struct conferr		*e;
	const struct conffile	*cf;
	/* Listeners checked so far, for duplicates and overlaps. */
	const char		**lfile;	/* the file each is in */
	int			*lflags;	/* LF_* */
};

/* Seconds to a timeval; a positive duration never rounds to 0 (never). */
static struct timeval
confbuild_tv(double sec)
{
	struct timeval	 tv;

	tv.tv_sec = (time_t)sec;
	tv.tv_usec = (suseconds_t)((sec - tv.tv_sec) * 1e6 + 0.5);
	if (tv.tv_usec >= 1000000) {
		tv.tv_sec++;
		tv.tv_usec -= 1000000;
	}
	if (sec > 0 && tv.tv_sec == 0 && tv.tv_usec == 0)
		tv.tv_usec = 1;
	return (tv);
}

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

/* Build the strip set of listener l from its "strip" list. */
static void
confbuild_strip(struct confbuild *b, config_setting_t *list,
    struct listener_conf *l, bool framing_ok, size_t longest, const char *unit)
{
	struct confkeys_val	 vals[K_COUNT];
	config_setting_t	*g;
	const char		*cause;
	char			 why[256], q[CONFERR_QUOTED];
	int			 i, n, k, found, which = 0;

	n = config_setting_length(list);
	if (n == 0)
		return;
	if ((l->strip = strip_set_new()) == NULL) {
		b->e->nomem = true;
		return;
	}
	for (i = 0; i < n; i++) {
		g = config_setting_get_elem(list, i);
		if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
			conferr_setting(b->e, g, "each strip rule must be a "
			    "group ({ ... })");
			continue;
		}
		confkeys_walk(b->e, b->cf, g, CTX_STRIP, vals);
		found = 0;
		for (k = K_S_BYTES; k <= K_S_REGEX; k++) {
			if (vals[k].s != NULL) {
				found++;
				which = k;
			}
		}
		if (found != 1) {
			conferr_setting(b->e, g, "a strip rule needs exactly "
			    "one of \"bytes\", \"prefix\" or \"regex\"");
			continue;
		}
		if (!vals[which].ok)
			continue;
		cause = NULL;
		switch (which) {
		case K_S_BYTES:
			if (strip_add_bytes(l->strip, vals[which].i,
			    &cause) == -1)
				conferr_setting(b->e, vals[which].s,
				    "\"bytes\": %s", cause != NULL ? cause :
				    "rejected");
			else if ((unsigned long long)vals[which].i > longest)
				conferr_setting(b->e, vals[which].s,
				    "\"bytes\" is more than %s: every message "
				    "would be removed whole", unit);
			break;
		case K_S_PREFIX:
			if (strip_add_prefix(l->strip, vals[which].str,
			    strlen(vals[which].str), &cause) == -1)
				conferr_setting(b->e, vals[which].s,
				    "\"prefix\": %s", cause != NULL ? cause :
				    "rejected");
			else if (strlen(vals[which].str) > longest)
				conferr_setting(b->e, vals[which].s,
				    "\"prefix\" is longer than %s: it can "
				    "never match", unit);
			break;
		case K_S_REGEX:
			/* Raw framing has no message end to anchor a match. */
			if (framing_ok && l->protocol == CONF_TCP &&
			    l->framing == FRAMING_RAW)
				conferr_setting(b->e, vals[which].s,
				    "\"regex\" is not allowed with raw framing "
				    "(use framing = \"line\")");
			why[0] = '\0';
			if (strip_add_regex(l->strip, vals[which].str, why,
			    sizeof(why)) == -1) {
				conferr_quote(q, sizeof(q), vals[which].str);
				conferr_setting(b->e, vals[which].s, "invalid "
				    "regex \"%s\": %s", q, why[0] != '\0' ? why
				    : "rejected");
			}
			break;
		}
	}
}

/* The networks of "proxy_from" into l. */
static void
confbuild_proxy_from(struct confbuild *b, config_setting_t *list,
    struct listener_conf *l)
{
	config_setting_t	*e;
	const char		*text, *why;
	char			 q[CONFERR_QUOTED];
	unsigned int		 i, n = config_setting_length(list);

	if ((l->proxy_from = calloc(n, sizeof(*l->proxy_from))) == NULL) {
		b->e->nomem = true;
		return;
	}
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(list, i);
		text = config_setting_get_string(e);
		if (addr_net_parse(text, &l->proxy_from[l->nproxy_from],
		    &why) == 0) {
			l->nproxy_from++;
			continue;
		}
		conferr_quote(q, sizeof(q), text);
		conferr_setting(b->e, e, "invalid network \"%s\" in "
		    "\"proxy_from\": %s", q, why);
	}
}

/*
 * The per-source limits of group vals, whose keys from rate on are
 * conns, rate, burst; what is wrong is reported at g.
 */
static struct source_limits
confbuild_per_source(struct confbuild *b, const struct confkeys_val *vals,
    enum confkeys_id conns, enum confkeys_id rate, enum confkeys_id burst)
{
	struct source_limits	 ps;

	ps.conns = confkeys_int(vals, conns);
	ps.rate = confkeys_int(vals, rate);
	ps.burst = confkeys_int(vals, burst);
	if (ps.burst != 0 && ps.rate == 0)
		conferr_setting(b->e, vals[burst].s, "\"%s\" needs \"%s\"",
		    confkeys_name(burst), confkeys_name(rate));
	if (ps.burst == 0)
		ps.burst = ps.rate;
	return (ps);
}

/* The PROXY protocol keys of listener l (a TCP one). */
static void
confbuild_proxy(struct confbuild *b, config_setting_t *g,
    const struct confkeys_val *vals, struct listener_conf *l)
{
	l->proxy_protocol = confkeys_int(vals, K_L_PROXY_PROTOCOL);
	l->proxy_timeout = confbuild_tv(confkeys_sec(vals,
	    K_L_PROXY_TIMEOUT));
	if (vals[K_L_PROXY_TIMEOUT].ok && vals[K_L_PROXY_TIMEOUT].d == 0)
		conferr_setting(b->e, vals[K_L_PROXY_TIMEOUT].s,
		    "\"proxy_timeout\" must be more than 0");
	if (vals[K_L_PROXY_FROM].ok)
		confbuild_proxy_from(b, vals[K_L_PROXY_FROM].s, l);
	/*
	 * Trusting every peer would let any client claim any address, and
	 * trusting only loopback would refuse every balancer on another
	 * host without a word: who may send the header is said, always.
	 */
	if (l->proxy_protocol != 0 && vals[K_L_PROXY_FROM].s == NULL)
		conferr_setting(b->e, vals[K_L_PROXY_PROTOCOL].s != NULL ?
		    vals[K_L_PROXY_PROTOCOL].s : g, "\"proxy_protocol\" needs "
		    "\"proxy_from\", the networks of the balancers allowed to "
		    "send the header");
}

/*
 * Report at key v what went wrong with the file or value it names: what,
 * the value quoted, and the cause (allocated, NULL: out of memory).
 */
static void
confbuild_tls_error(struct confbuild *b, const struct confkeys_val *v,
    const char *what, char *cause)
{
	char	 q[CONFERR_QUOTED];

	if (cause == NULL) {
		b->e->nomem = true;
		return;
	}
	conferr_quote(q, sizeof(q), v->str);
	conferr_setting(b->e, v->s, "%s \"%s\": %s", what, q, cause);
	free(cause);
}

/* Read the file key v (named what) names; 0, or -1 once reported. */
static int
confbuild_tls_read(struct confbuild *b, const struct confkeys_val *v,
    const char *what, char **pem, size_t *len)
{
	char	*cause;

	if (tls_file(v->str, pem, len, &cause) == 0)
		return (0);
	confbuild_tls_error(b, v, what, cause);
	return (-1);
}

/*
 * The "tls" group g of listener l: its context, with every file read and
 * checked now, so that -t, a start and a reload all see what is wrong,
 * each at the line of its key.  A certificate out of its dates is only a
 * warning: a test bed may want one, and a renewal is a reload away.
 */
static void
confbuild_tls(struct confbuild *b, config_setting_t *g,
    struct listener_conf *l)
{
	struct confkeys_val	 v[K_COUNT];
	config_setting_t	*alpn;
	struct tls_conf		*t;
	const char		*file;
	char			*cause, *pem, warn[128], q[CONFERR_QUOTED];
	size_t			 len;
	int			 k, line;
	unsigned int		 i;

	confkeys_walk(b->e, b->cf, g, CTX_TLS, v);
	for (k = K_T_CERTIFICATE; k <= K_T_ALPN; k++) {
		if ((confkeys_flags(k) & KF_REQUIRED) && v[k].s == NULL)
			conferr_setting(b->e, g, "\"%s\" is required in "
			    "\"tls\"", confkeys_name(k));
	}
	if (v[K_T_CLIENT_CERTIFICATE].s != NULL && v[K_T_CLIENT_CA].s == NULL)
		conferr_setting(b->e, v[K_T_CLIENT_CERTIFICATE].s,
		    "\"client_certificate\" needs \"client_ca\", the CAs that "
		    "client certificates are checked against");
	if ((t = tls_conf_new(l->name, confkeys_int(v, K_T_MIN_VERSION),
	    &cause)) == NULL) {
		if (cause == NULL)
			b->e->nomem = true;
		else
			conferr_setting(b->e, g, "%s", cause);
		free(cause);
		return;
	}
	l->tls = t;
	if (v[K_T_CERTIFICATE].ok &&
	    confbuild_tls_read(b, &v[K_T_CERTIFICATE], "certificate",
	    &pem, &len) == 0) {
		if (tls_chain(t, pem, len, warn, sizeof(warn), &cause) == -1)
			confbuild_tls_error(b, &v[K_T_CERTIFICATE],
			    "certificate", cause);
		else if (warn[0] != '\0') {
			file = conffile_where(b->cf,
			    config_setting_source_line(v[K_T_CERTIFICATE].s),
			    &line);
			conferr_quote(q, sizeof(q), v[K_T_CERTIFICATE].str);
			log_warnx("%s:%d: warning: certificate \"%s\": %s",
			    file, line, q, warn);
		}
		tls_file_free(pem, len);
	}
	if (v[K_T_KEY].ok && confbuild_tls_read(b, &v[K_T_KEY], "key",
	    &pem, &len) == 0) {
		if (tls_key(t, pem, len, &cause) == -1)
			confbuild_tls_error(b, &v[K_T_KEY], "key", cause);
		tls_file_free(pem, len);
	}
	if (v[K_T_CLIENT_CA].ok && confbuild_tls_read(b, &v[K_T_CLIENT_CA],
	    "client_ca", &pem, &len) == 0) {
		if (tls_client_ca(t, pem, len,
		    confkeys_int(v, K_T_CLIENT_CERTIFICATE), &cause) == -1)
			confbuild_tls_error(b, &v[K_T_CLIENT_CA], "client_ca",
			    cause);
		tls_file_free(pem, len);
	}
	if (v[K_T_CIPHERS].ok && tls_ciphers(t, v[K_T_CIPHERS].str,
	    &cause) == -1)
		confbuild_tls_error(b, &v[K_T_CIPHERS], "ciphers", cause);
	if (v[K_T_CIPHERSUITES].ok && tls_ciphersuites(t,
	    v[K_T_CIPHERSUITES].str, &cause) == -1)
		confbuild_tls_error(b, &v[K_T_CIPHERSUITES], "ciphersuites",
		    cause);
	if (!v[K_T_ALPN].ok)
		return;
	alpn = v[K_T_ALPN].s;
	for (i = 0; i < (unsigned int)config_setting_length(alpn); i++) {
		struct confkeys_val	 e = { 0 };

		e.s = config_setting_get_elem(alpn, i);
		e.str = config_setting_get_string(e.s);
		if (tls_alpn(t, e.str, &cause) == -1)
			confbuild_tls_error(b, &e, "alpn", cause);
	}
}

/* A "rate" or "listener_rate" group g (key k) into r. */
static void
confbuild_rate(struct confbuild *b, config_setting_t *g, enum confkeys_id k,
    struct conf_rate *r)
{
	struct confkeys_val	 v[K_COUNT];

	confkeys_walk(b->e, b->cf, g, CTX_RATE, v);
	/* Unknown keys alone were reported as such. */
	if (config_setting_length(g) == 0)
		conferr_setting(b->e, g, "\"%s\" needs \"read\" or \"write\"",
		    confkeys_name(k));
	r->read = v[K_R_READ].ok ? (uint64_t)v[K_R_READ].i : 0;
	r->write = v[K_R_WRITE].ok ? (uint64_t)v[K_R_WRITE].i : 0;
}

/* The "close_after" group g of listener l into l->close_after. */
static void
confbuild_close_after(struct confbuild *b, config_setting_t *g,
    bool framing_ok, struct listener_conf *l)
{
	struct confkeys_val	 v[K_COUNT];
	struct conf_close	*ca = &l->close_after;
	int			 k, found = 0, which = 0;

	confkeys_walk(b->e, b->cf, g, CTX_CLOSE_AFTER, v);
	for (k = K_C_BYTES; k <= K_C_SECONDS; k++) {
		if (v[k].s != NULL) {
			found++;
			which = k;
		}
	}
	if (found != 1) {
		conferr_setting(b->e, g, "\"close_after\" needs exactly one of "
		    "\"bytes\", \"messages\" or \"seconds\"");
		return;
	}
	ca->how = confkeys_int(v, K_C_HOW) + CONF_HANGUP_FIN;
	ca->before_reply = confkeys_int(v, K_C_WHEN) == 1;
	if (!v[which].ok)
		return;
	switch (which) {
	case K_C_BYTES:
		ca->kind = CONF_CLOSE_BYTES;
		ca->count = v[which].i;
		break;
	case K_C_MESSAGES:
		/* A raw read's length is the network's, not the client's. */
		if (framing_ok && l->framing != FRAMING_LINE) {
			conferr_setting(b->e, v[which].s, "\"messages\" needs "
			    "framing = \"line\" (a raw read is not a message: "
			    "use \"bytes\")");
			return;
		}
		ca->kind = CONF_CLOSE_MESSAGES;
		ca->count = v[which].i;
		break;
	case K_C_SECONDS:
		if (v[which].d == 0) {
			conferr_setting(b->e, v[which].s, "\"seconds\" must be "
			    "more than 0");
			return;
		}
		ca->kind = CONF_CLOSE_SECONDS;
		ca->after = confbuild_tv(v[which].d);
		break;
	}
}

/*
 * The keys of a test instrument (issue 18) into l: delay and jitter, the
 * rates, the banner, close_after and refuse.  Those of TCP alone were
 * refused on a UDP listener by the caller; a STAMP reflector's replies
 * carry their own timestamps, which a delay would make a lie.
 */
static void
confbuild_instrument(struct confbuild *b, const struct confkeys_val *vals,
    bool framing_ok, struct listener_conf *l)
{
	const struct confkeys_val *bv = &vals[K_L_BANNER];
	char			 why[160], q[CONFERR_QUOTED];
	double			 delay, jitter;
	int			 k;

	delay = confkeys_sec(vals, K_L_DELAY);
	jitter = confkeys_sec(vals, K_L_JITTER);
	if (delay + jitter > CONF_DELAY_MAX)
		conferr_setting(b->e, vals[K_L_JITTER].s, "\"delay\" plus "
		    "\"jitter\" must be at most %d seconds", CONF_DELAY_MAX);
	/* Whole microseconds; a positive value never rounds to none. */
	l->delay_usec = (uint32_t)(delay * 1e6 + 0.5);
	l->jitter_usec = (uint32_t)(jitter * 1e6 + 0.5);
	if (delay > 0 && l->delay_usec == 0)
		l->delay_usec = 1;
	if (jitter > 0 && l->jitter_usec == 0)
		l->jitter_usec = 1;
	if (l->stamp) {
		for (k = K_L_DELAY; k <= K_L_JITTER; k++) {
			if (vals[k].s != NULL)
				conferr_setting(b->e, vals[k].s, "\"%s\" is not "
				    "allowed on a stamp listener (its "
				    "timestamps would count the delay as the "
				    "reflector's own time)", confkeys_name(k));
		}
	}
	if (l->protocol != CONF_TCP)
		return;
	if (vals[K_L_RATE].ok)
		confbuild_rate(b, vals[K_L_RATE].s, K_L_RATE, &l->rate);
	if (vals[K_L_LISTENER_RATE].ok)
		confbuild_rate(b, vals[K_L_LISTENER_RATE].s, K_L_LISTENER_RATE,
		    &l->listener_rate);
	if (bv->ok && (l->banner = banner_compile(bv->str, why,
	    sizeof(why))) == NULL) {
		if (why[0] == '\0')
			b->e->nomem = true;
		else {
			conferr_quote(q, sizeof(q), bv->str);
			conferr_setting(b->e, bv->s, "invalid banner \"%s\": "
			    "%s", q, why);
		}
	}
	if (vals[K_L_CLOSE_AFTER].ok)
		confbuild_close_after(b, vals[K_L_CLOSE_AFTER].s, framing_ok, l);
	l->refuse = confkeys_int(vals, K_L_REFUSE);
}

/* Check listener group g into l, against the n listeners before it. */
static void
confbuild_listener(struct confbuild *b, config_setting_t *g, struct conf *c,
    size_t n)
{
	struct listener_conf	*l = &c->listeners[n], *o;
	struct confkeys_val	 vals[K_COUNT], tvals[K_COUNT];
	const char		*ofile;
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
	l->per_source = confbuild_per_source(b, vals,
	    K_L_MAX_CONNECTIONS_PER_SOURCE, K_L_MAX_NEW_CONNECTIONS_PER_SOURCE,
	    K_L_NEW_CONNECTIONS_BURST);
	if ((*flags & LF_PROTO_OK) && l->protocol == CONF_TCP)
		confbuild_proxy(b, g, vals, l);
	if ((*flags & LF_PROTO_OK) && l->protocol == CONF_TCP &&
	    vals[K_L_TLS].ok)
		confbuild_tls(b, vals[K_L_TLS].s, l);

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
		confbuild_instrument(b, vals, framing_ok, l);
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
		confbuild_strip(b, vals[K_L_STRIP].s, l, framing_ok, longest,
		    unit);

	for (i = 0; i < n; i++) {
		o = &c->listeners[i];
		ofile = b->lfile[i];
		if (ofile == b->lfile[n])
			snprintf(where, sizeof(where), "line %d", o->line);
		else
			snprintf(where, sizeof(where), "%s:%d", ofile,
			    o->line);
		if ((*flags & LF_NAME_OK) && (b->lflags[i] & LF_NAME_OK) &&
		    strcmp(l->name, o->name) == 0)
			conferr_setting(b->e, vals[K_L_NAME].s, "duplicate "
			    "listener name \"%s\" (first on %s)", l->name,
			    where);
		if ((*flags & LF_ENDPOINT) != LF_ENDPOINT ||
		    (b->lflags[i] & LF_ENDPOINT) != LF_ENDPOINT)
			continue;
		/* Same protocol and port is ours to check, not the helper's. */
		if (l->protocol == o->protocol && l->port == o->port &&
		    addr_overlap(&l->ss, &o->ss))
			conferr_setting(b->e, g, "listener \"%s\" overlaps "
			    "listener \"%s\" (%s): both %s port %u on \"%s\" "
			    "and \"%s\"", l->name, o->name, where,
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
	c->per_source = confbuild_per_source(b, vals,
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
