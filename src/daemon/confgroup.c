/*
 * confgroup.c: the lists and groups inside a listener's settings, each
 * built into its struct listener_conf with the checks across its keys:
 * strip rules, the PROXY protocol and its networks, the per-source
 * limits, the tls group, and a test instrument's keys (rate, close_after,
 * delay, banner, refuse).  confbuild.c calls these for each listener.
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
#include "confbuild_int.h"
#include "conferr.h"
#include "conffile.h"
#include "conf.h"
#include "confkeys.h"
#include "framing.h"
#include "log.h"
#include "strip.h"
#include "tls.h"

/* The one key of first..last that v has, or -1 if none or several. */
static int
confgroup_one_of(const struct confkeys_val *v, int first, int last)
{
	int	k, which = -1;

	for (k = first; k <= last; k++) {
		if (v[k].s == NULL)
			continue;
		if (which != -1)
			return (-1);
		which = k;
	}
	return (which);
}

/* Build the strip set of listener l from its "strip" list. */
void
confgroup_strip(struct confbuild *b, config_setting_t *list,
    struct listener_conf *l, bool framing_ok, size_t longest, const char *unit)
{
	struct confkeys_val	 vals[K_COUNT];
	config_setting_t	*g;
	const char		*cause;
	char			 why[256], q[CONFERR_QUOTED];
	int			 i, n, which;

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
		if ((which = confgroup_one_of(vals, K_S_BYTES,
		    K_S_REGEX)) == -1) {
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
confgroup_proxy_from(struct confbuild *b, config_setting_t *list,
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
struct source_limits
confgroup_per_source(struct confbuild *b, const struct confkeys_val *vals,
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
void
confgroup_proxy(struct confbuild *b, config_setting_t *g,
    const struct confkeys_val *vals, struct listener_conf *l)
{
	l->proxy_protocol = confkeys_int(vals, K_L_PROXY_PROTOCOL);
	l->proxy_timeout = confbuild_tv(confkeys_sec(vals,
	    K_L_PROXY_TIMEOUT));
	if (vals[K_L_PROXY_TIMEOUT].ok && vals[K_L_PROXY_TIMEOUT].d == 0)
		conferr_setting(b->e, vals[K_L_PROXY_TIMEOUT].s,
		    "\"proxy_timeout\" must be more than 0");
	if (vals[K_L_PROXY_FROM].ok)
		confgroup_proxy_from(b, vals[K_L_PROXY_FROM].s, l);
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
confgroup_tls_error(struct confbuild *b, const struct confkeys_val *v,
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
confgroup_tls_read(struct confbuild *b, const struct confkeys_val *v,
    const char *what, char **pem, size_t *len)
{
	char	*cause;

	if (tls_file(v->str, pem, len, &cause) == 0)
		return (0);
	confgroup_tls_error(b, v, what, cause);
	return (-1);
}

/*
 * The "tls" group g of listener l: its context, with every file read and
 * checked now, so that -t, a start and a reload all see what is wrong,
 * each at the line of its key.  A certificate out of its dates is only a
 * warning: a test bed may want one, and a renewal is a reload away.
 */
void
confgroup_tls(struct confbuild *b, config_setting_t *g,
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
	    confgroup_tls_read(b, &v[K_T_CERTIFICATE], "certificate",
	    &pem, &len) == 0) {
		if (tls_chain(t, pem, len, warn, sizeof(warn), &cause) == -1)
			confgroup_tls_error(b, &v[K_T_CERTIFICATE],
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
	if (v[K_T_KEY].ok && confgroup_tls_read(b, &v[K_T_KEY], "key",
	    &pem, &len) == 0) {
		if (tls_key(t, pem, len, &cause) == -1)
			confgroup_tls_error(b, &v[K_T_KEY], "key", cause);
		tls_file_free(pem, len);
	}
	if (v[K_T_CLIENT_CA].ok && confgroup_tls_read(b, &v[K_T_CLIENT_CA],
	    "client_ca", &pem, &len) == 0) {
		if (tls_client_ca(t, pem, len,
		    confkeys_int(v, K_T_CLIENT_CERTIFICATE), &cause) == -1)
			confgroup_tls_error(b, &v[K_T_CLIENT_CA], "client_ca",
			    cause);
		tls_file_free(pem, len);
	}
	if (v[K_T_CIPHERS].ok && tls_ciphers(t, v[K_T_CIPHERS].str,
	    &cause) == -1)
		confgroup_tls_error(b, &v[K_T_CIPHERS], "ciphers", cause);
	if (v[K_T_CIPHERSUITES].ok && tls_ciphersuites(t,
	    v[K_T_CIPHERSUITES].str, &cause) == -1)
		confgroup_tls_error(b, &v[K_T_CIPHERSUITES], "ciphersuites",
		    cause);
	if (!v[K_T_ALPN].ok)
		return;
	alpn = v[K_T_ALPN].s;
	for (i = 0; i < (unsigned int)config_setting_length(alpn); i++) {
		struct confkeys_val	 e = { 0 };

		e.s = config_setting_get_elem(alpn, i);
		e.str = config_setting_get_string(e.s);
		if (tls_alpn(t, e.str, &cause) == -1)
			confgroup_tls_error(b, &e, "alpn", cause);
	}
}

/* A "rate" or "listener_rate" group g (key k) into r. */
static void
confgroup_rate(struct confbuild *b, config_setting_t *g, enum confkeys_id k,
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
confgroup_close_after(struct confbuild *b, config_setting_t *g,
    bool framing_ok, struct listener_conf *l)
{
	struct confkeys_val	 v[K_COUNT];
	struct conf_close	*ca = &l->close_after;
	int			 which;

	confkeys_walk(b->e, b->cf, g, CTX_CLOSE_AFTER, v);
	if ((which = confgroup_one_of(v, K_C_BYTES, K_C_SECONDS)) == -1) {
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
void
confgroup_instrument(struct confbuild *b, const struct confkeys_val *vals,
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
		confgroup_rate(b, vals[K_L_RATE].s, K_L_RATE, &l->rate);
	if (vals[K_L_LISTENER_RATE].ok)
		confgroup_rate(b, vals[K_L_LISTENER_RATE].s, K_L_LISTENER_RATE,
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
		confgroup_close_after(b, vals[K_L_CLOSE_AFTER].s, framing_ok, l);
	l->refuse = confkeys_int(vals, K_L_REFUSE);
}
