/*
 * confkeys.c: every key of echod.conf(5), described once, and the check
 * of a group's settings against them.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <libconfig.h>

#include "banner.h"
#include "conferr.h"
#include "conffile.h"
#include "conf.h"
#include "confkeys.h"
#include "framing.h"
#include "log.h"
#include "strip.h"

/* Limits of echod.conf(5) that are not in config.h. */
#define CONF_COUNT_MAX		1000000
#define CONF_IDLE_MAX		31536000	/* one year */
#define CONF_SHUTDOWN_MAX	3600
#define CONF_DATAGRAM_MAX	65507		/* largest UDP payload */
#define CONF_STRING_ANY		LLONG_MAX

static const char *const ctx_where[] = {
	"at the top level",
	"in the global \"timeouts\"",
	"in a listener",
	"in a listener's \"timeouts\"",
	"in a strip rule",
	"in \"metrics\"",
	"in a listener's \"tls\"",
	"in a listener's \"rate\" or \"listener_rate\"",
	"in a listener's \"close_after\""
};

enum key_type {
	KT_INT,			/* INT or INT64 in [min, max] */
	KT_DURATION,		/* INT, INT64 or FLOAT in [0, max] */
	KT_BOOL,
	KT_CHOICE,		/* one of choices[]; the value is its index */
	KT_LEVEL,		/* a log level (log.h); the value: priority */
	KT_STRING,		/* length in [min, max] */
	KT_GROUP,
	KT_LIST,		/* a list of groups */
	KT_STRINGS,		/* a non-empty list or array of strings */
	KT_PAIR,		/* [ a, b ]: a in [min, max], b in [min2, max2] */
	KT_SIZE			/* bytes in [min, max]: an integer, or a
				   string of digits and k, M or G */
};

struct key {
	const char		*name;
	enum confkeys_ctx	 ctx;
	enum key_type		 type;
	long long		 min;	/* integers; string length */
	long long		 max;	/* and durations */
	double			 def;	/* numbers, bools, choices */
	const char		*sdef;	/* strings */
	const char *const	*choices;
	int			 flags;
	long long		 max2;	/* a pair's second (its min is min) */
	double			 def2;
};

static const char *const event_methods[] = {
	"auto", "epoll", "poll", "select", NULL
};
/* In the order of enum conf_proto, then CONF_PROTO_STAMP. */
static const char *const protocols[] = { "tcp", "udp", "stamp", NULL };
static const char *const stamp_modes[] = { "stateless", "stateful", NULL };
static const char *const framings[] = { "raw", "line", NULL };
/* In the order of enum proxy_accept's bits: the index is the mask. */
static const char *const proxy_protocols[] = {
	"off", "v1", "v2", "any", NULL
};
/* In the order of tls.h's enums: the index is the value. */
static const char *const tls_versions[] = { "1.2", "1.3", NULL };
static const char *const tls_clients[] = { "optional", "required", NULL };
/* In the order of enum conf_hangup: the index is the value. */
static const char *const refusals[] = { "off", "fin", "reset", NULL };
/* close_after's: the index is the value less one (never "off"). */
static const char *const hangups[] = { "fin", "reset", NULL };
static const char *const close_whens[] = {
	"after-reply", "before-reply", NULL
};

/*
 * Every key of echod.conf(5).  A name may appear in several contexts with
 * different defaults (a listener's max_connections has none: no own
 * limit; a listener's idle has none: it inherits the global one), so each
 * row is one (name, context) pair.  echod.conf.5 documents this table.
 */
static const struct key keys[K_COUNT] = {
	[K_LOG_LEVEL] = { "log_level", CTX_TOP, KT_LEVEL,
	    .def = LOG_INFO },
	[K_LOG_CONNECTIONS] = { "log_connections", CTX_TOP, KT_BOOL,
	    .def = 1 },
	[K_LOG_RATE] = { "log_rate", CTX_TOP, KT_INT,
	    1, CONF_COUNT_MAX, .def = 100 },
	[K_WORKERS] = { "workers", CTX_TOP, KT_INT,
	    0, CONF_WORKERS_MAX, .def = 0 },
	[K_EVENT_METHOD] = { "event_method", CTX_TOP, KT_CHOICE,
	    .def = 0, .choices = event_methods },
	[K_MAX_CONNECTIONS] = { "max_connections", CTX_TOP, KT_INT,
	    1, CONF_COUNT_MAX, .def = 10000 },
	[K_MAX_LINE] = { "max_line", CTX_TOP, KT_INT,
	    CONF_MAX_LINE_MIN, CONF_MAX_LINE_MAX, .def = 65536 },
	[K_MAX_MEMORY] = { "max_memory", CTX_TOP, KT_INT,
	    CONF_MAX_MEMORY_MIN, CONF_MAX_MEMORY_MAX,
	    .def = CONF_MAX_MEMORY_DEFAULT },
	[K_MAX_CONNECTIONS_PER_SOURCE] = { "max_connections_per_source",
	    CTX_TOP, KT_INT, 0, CONF_COUNT_MAX, .def = 0 },
	[K_MAX_NEW_CONNECTIONS_PER_SOURCE] = {
	    "max_new_connections_per_source", CTX_TOP, KT_INT,
	    0, CONF_COUNT_MAX, .def = 0 },
	[K_NEW_CONNECTIONS_BURST] = { "new_connections_burst", CTX_TOP,
	    KT_INT, 0, CONF_COUNT_MAX, .def = 0 },
	[K_SOURCE_PREFIX] = { "source_prefix", CTX_TOP, KT_PAIR,
	    0, 32, .def = 32, .max2 = 128, .def2 = 64 },
	[K_TIMEOUTS] = { "timeouts", CTX_TOP, KT_GROUP },
	[K_LISTENERS] = { "listeners", CTX_TOP, KT_LIST,
	    .flags = KF_REQUIRED },
	[K_METRICS] = { "metrics", CTX_TOP, KT_GROUP },

	[K_IDLE] = { "idle", CTX_TIMEOUTS, KT_DURATION,
	    0, CONF_IDLE_MAX, .def = 300 },
	[K_WRITE] = { "write", CTX_TIMEOUTS, KT_DURATION,
	    0, CONF_IDLE_MAX, .def = 30 },
	[K_SHUTDOWN] = { "shutdown", CTX_TIMEOUTS, KT_DURATION,
	    0, CONF_SHUTDOWN_MAX, .def = 5 },
	[K_HANDSHAKE] = { "handshake", CTX_TIMEOUTS, KT_DURATION,
	    0, CONF_SHUTDOWN_MAX, .def = 10 },

	[K_L_NAME] = { "name", CTX_LISTENER, KT_STRING,
	    0, CONF_STRING_ANY, .flags = KF_REQUIRED },
	[K_L_PORT] = { "port", CTX_LISTENER, KT_INT,
	    1, 65535, .flags = KF_REQUIRED },
	[K_L_ADDRESS] = { "address", CTX_LISTENER, KT_STRING,
	    0, CONF_STRING_ANY, .sdef = "::" },
	[K_L_PROTOCOL] = { "protocol", CTX_LISTENER, KT_CHOICE,
	    .def = CONF_TCP, .choices = protocols },
	[K_L_REUSE_PORT] = { "reuse_port", CTX_LISTENER, KT_BOOL,
	    .def = 0 },
	[K_L_FRAMING] = { "framing", CTX_LISTENER, KT_CHOICE,
	    .def = FRAMING_RAW, .choices = framings, .flags = KF_TCP },
	[K_L_STRIP] = { "strip", CTX_LISTENER, KT_LIST },
	[K_L_TIMEOUTS] = { "timeouts", CTX_LISTENER, KT_GROUP,
	    .flags = KF_TCP },
	[K_L_MAX_CONNECTIONS] = { "max_connections", CTX_LISTENER, KT_INT,
	    1, CONF_COUNT_MAX, .def = 0, .flags = KF_TCP },
	[K_L_UDP_RATE] = { "udp_rate", CTX_LISTENER, KT_INT,
	    1, CONF_COUNT_MAX, .def = CONF_UDP_RATE_DEFAULT,
	    .flags = KF_UDP },
	[K_L_UDP_BURST] = { "udp_burst", CTX_LISTENER, KT_INT,
	    1, CONF_COUNT_MAX, .def = CONF_UDP_BURST_DEFAULT,
	    .flags = KF_UDP },
	[K_L_MAX_DATAGRAM] = { "max_datagram", CTX_LISTENER, KT_INT,
	    1, CONF_DATAGRAM_MAX, .def = CONF_UDP_DATAGRAM_DEFAULT,
	    .flags = KF_UDP },

	[K_L_PROXY_PROTOCOL] = { "proxy_protocol", CTX_LISTENER, KT_CHOICE,
	    .def = 0, .choices = proxy_protocols, .flags = KF_TCP },
	[K_L_PROXY_FROM] = { "proxy_from", CTX_LISTENER, KT_STRINGS,
	    .flags = KF_TCP },
	[K_L_PROXY_TIMEOUT] = { "proxy_timeout", CTX_LISTENER, KT_DURATION,
	    0, CONF_SHUTDOWN_MAX, .def = 3, .flags = KF_TCP },
	[K_L_MAX_CONNECTIONS_PER_SOURCE] = { "max_connections_per_source",
	    CTX_LISTENER, KT_INT, 0, CONF_COUNT_MAX, .def = 0,
	    .flags = KF_TCP },
	[K_L_MAX_NEW_CONNECTIONS_PER_SOURCE] = {
	    "max_new_connections_per_source", CTX_LISTENER, KT_INT,
	    0, CONF_COUNT_MAX, .def = 0, .flags = KF_TCP },
	[K_L_NEW_CONNECTIONS_BURST] = { "new_connections_burst",
	    CTX_LISTENER, KT_INT, 0, CONF_COUNT_MAX, .def = 0,
	    .flags = KF_TCP },
	[K_L_STAMP_MODE] = { "stamp_mode", CTX_LISTENER, KT_CHOICE,
	    .def = 0, .choices = stamp_modes, .flags = KF_UDP | KF_STAMP },
	[K_L_TLS] = { "tls", CTX_LISTENER, KT_GROUP, .flags = KF_TCP },

	/*
	 * A test instrument's misbehaviour, on purpose (issue 18): each
	 * off unless said, and per listener only, so that one echod can
	 * serve a fast echo beside a slow one.  delay is also UDP's, per
	 * datagram; the others need a connection.
	 */
	[K_L_DELAY] = { "delay", CTX_LISTENER, KT_DURATION,
	    0, CONF_DELAY_MAX, .def = 0 },
	[K_L_JITTER] = { "jitter", CTX_LISTENER, KT_DURATION,
	    0, CONF_DELAY_MAX, .def = 0 },
	[K_L_RATE] = { "rate", CTX_LISTENER, KT_GROUP, .flags = KF_TCP },
	[K_L_LISTENER_RATE] = { "listener_rate", CTX_LISTENER, KT_GROUP,
	    .flags = KF_TCP },
	[K_L_BANNER] = { "banner", CTX_LISTENER, KT_STRING,
	    1, BANNER_TEMPLATE_MAX, .flags = KF_TCP },
	[K_L_CLOSE_AFTER] = { "close_after", CTX_LISTENER, KT_GROUP,
	    .flags = KF_TCP },
	[K_L_REFUSE] = { "refuse", CTX_LISTENER, KT_CHOICE,
	    .def = CONF_HANGUP_OFF, .choices = refusals, .flags = KF_TCP },

	[K_LT_IDLE] = { "idle", CTX_LTIMEOUTS, KT_DURATION,
	    0, CONF_IDLE_MAX },
	[K_LT_WRITE] = { "write", CTX_LTIMEOUTS, KT_DURATION,
	    0, CONF_IDLE_MAX },
	[K_LT_HANDSHAKE] = { "handshake", CTX_LTIMEOUTS, KT_DURATION,
	    0, CONF_SHUTDOWN_MAX },

	[K_S_BYTES] = { "bytes", CTX_STRIP, KT_INT,
	    1, STRIP_BYTES_MAX },
	[K_S_PREFIX] = { "prefix", CTX_STRIP, KT_STRING,
	    1, STRIP_PREFIX_MAX },
	[K_S_REGEX] = { "regex", CTX_STRIP, KT_STRING,
	    1, CONF_STRING_ANY },

	/* The Prometheus endpoint: loopback unless said otherwise. */
	[K_M_ADDRESS] = { "address", CTX_METRICS, KT_STRING,
	    0, CONF_STRING_ANY, .sdef = CONF_METRICS_ADDRESS },
	[K_M_PORT] = { "port", CTX_METRICS, KT_INT,
	    1, 65535, .def = CONF_METRICS_PORT },
	[K_T_CERTIFICATE] = { "certificate", CTX_TLS, KT_STRING,
	    1, CONF_STRING_ANY, .flags = KF_REQUIRED },
	[K_T_KEY] = { "key", CTX_TLS, KT_STRING,
	    1, CONF_STRING_ANY, .flags = KF_REQUIRED },
	[K_T_CLIENT_CA] = { "client_ca", CTX_TLS, KT_STRING,
	    1, CONF_STRING_ANY },
	[K_T_CLIENT_CERTIFICATE] = { "client_certificate", CTX_TLS,
	    KT_CHOICE, .def = 1, .choices = tls_clients },
	[K_T_MIN_VERSION] = { "min_version", CTX_TLS, KT_CHOICE,
	    .def = 0, .choices = tls_versions },
	[K_T_CIPHERS] = { "ciphers", CTX_TLS, KT_STRING,
	    1, CONF_STRING_ANY },
	[K_T_CIPHERSUITES] = { "ciphersuites", CTX_TLS, KT_STRING,
	    1, CONF_STRING_ANY },
	[K_T_ALPN] = { "alpn", CTX_TLS, KT_STRINGS },

	/* Bytes per second; absent: that direction is not limited. */
	[K_R_READ] = { "read", CTX_RATE, KT_SIZE, 1, CONF_RATE_MAX },
	[K_R_WRITE] = { "write", CTX_RATE, KT_SIZE, 1, CONF_RATE_MAX },
	/* Exactly one of bytes, messages, seconds (confbuild.c). */
	[K_C_BYTES] = { "bytes", CTX_CLOSE_AFTER, KT_INT,
	    1, CONF_CLOSE_BYTES_MAX },
	[K_C_MESSAGES] = { "messages", CTX_CLOSE_AFTER, KT_INT,
	    1, CONF_CLOSE_MESSAGES_MAX },
	[K_C_SECONDS] = { "seconds", CTX_CLOSE_AFTER, KT_DURATION,
	    0, CONF_IDLE_MAX },
	[K_C_HOW] = { "how", CTX_CLOSE_AFTER, KT_CHOICE,
	    .def = 0, .choices = hangups },
	[K_C_WHEN] = { "when", CTX_CLOSE_AFTER, KT_CHOICE,
	    .def = 0, .choices = close_whens },
};

/*
 * A size as "1048576", "1024k", "1M" or "1G": k, M and G are powers of
 * 1024 as nginx's and max_memory's sizes; either case.  -1 if not one.
 */
static long long
confkeys_size(const char *text)
{
	unsigned long long	 v = 0, mul = 1;
	const char		*p;

	if (*text < '0' || *text > '9')
		return (-1);
	for (p = text; *p >= '0' && *p <= '9'; p++) {
		if (v > (unsigned long long)LLONG_MAX / 10)
			return (-1);
		v = v * 10 + (unsigned long long)(*p - '0');
	}
	switch (*p) {
	case '\0':
		break;
	case 'k': case 'K':
		mul = 1ull << 10;
		p++;
		break;
	case 'm': case 'M':
		mul = 1ull << 20;
		p++;
		break;
	case 'g': case 'G':
		mul = 1ull << 30;
		p++;
		break;
	default:
		return (-1);
	}
	if (*p != '\0' || v > (unsigned long long)LLONG_MAX / mul)
		return (-1);
	return ((long long)(v * mul));
}

/* Whether libconfig's INT setting s was wrapped from a bigger literal. */
static bool
confkeys_wrapped(const struct conffile *cf, config_setting_t *s)
{
	const char	*name = config_setting_name(s);

	return (name != NULL && conffile_wrapped(cf,
	    config_setting_source_line(s), name, config_setting_get_int(s)));
}

/* Check one setting against its key and store it in v. */
static void
confkeys_value(struct conferr *e, const struct conffile *cf,
    const struct key *k, config_setting_t *s, struct confkeys_val *v)
{
	int		 type = config_setting_type(s);
	const char	*name;
	char		*list = NULL, *n;
	size_t		 i, len;

	v->s = s;
	switch (k->type) {
	case KT_INT:
		if ((type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64) ||
		    (type == CONFIG_TYPE_INT && confkeys_wrapped(cf, s)))
			break;
		v->i = config_setting_get_int64(s);
		if (v->i < k->min || v->i > k->max)
			break;
		v->ok = true;
		return;
	case KT_DURATION:
		if (type == CONFIG_TYPE_INT && confkeys_wrapped(cf, s))
			break;
		if (type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64) {
			long long	 ll = config_setting_get_int64(s);

			if (ll < 0 || ll > k->max)
				break;
			v->d = ll;
		} else if (type == CONFIG_TYPE_FLOAT) {
			v->d = config_setting_get_float(s);
			if (!isfinite(v->d) || v->d < 0 || v->d > k->max)
				break;
		} else
			break;
		v->ok = true;
		return;
	case KT_BOOL:
		if (type != CONFIG_TYPE_BOOL)
			break;
		v->i = config_setting_get_bool(s);
		v->ok = true;
		return;
	case KT_CHOICE:
		if (type != CONFIG_TYPE_STRING)
			break;
		v->str = config_setting_get_string(s);
		for (i = 0; k->choices[i] != NULL; i++) {
			if (strcmp(v->str, k->choices[i]) == 0) {
				v->i = i;
				v->ok = true;
				return;
			}
		}
		break;
	case KT_LEVEL:
		if (type != CONFIG_TYPE_STRING)
			break;
		v->str = config_setting_get_string(s);
		if ((v->i = log_level_parse(v->str)) == -1)
			break;
		v->ok = true;
		return;
	case KT_STRING:
		if (type != CONFIG_TYPE_STRING) {
			conferr_setting(e, s, "\"%s\" must be a string",
			    k->name);
			return;
		}
		v->str = config_setting_get_string(s);
		len = strlen(v->str);
		if ((long long)len >= k->min && (long long)len <= k->max) {
			v->ok = true;
			return;
		}
		if (k->max == CONF_STRING_ANY)
			conferr_setting(e, s, "\"%s\" must not be empty",
			    k->name);
		else
			conferr_setting(e, s, "\"%s\" must be a string of %lld "
			    "to %lld bytes", k->name, k->min, k->max);
		return;
	case KT_GROUP:
		if (type != CONFIG_TYPE_GROUP)
			break;
		v->ok = true;
		return;
	case KT_LIST:
		/* "()" and "[]" are both an empty list to the reader. */
		if (type != CONFIG_TYPE_LIST && !(type == CONFIG_TYPE_ARRAY &&
		    config_setting_length(s) == 0))
			break;
		v->ok = true;
		return;
	case KT_STRINGS:
		/* ( "a", "b" ) or [ "a", "b" ]: each element a string. */
		if ((type != CONFIG_TYPE_LIST && type != CONFIG_TYPE_ARRAY) ||
		    config_setting_length(s) == 0)
			break;
		for (i = 0; i < (size_t)config_setting_length(s); i++) {
			if (config_setting_type(config_setting_get_elem(s,
			    (unsigned int)i)) != CONFIG_TYPE_STRING)
				break;
		}
		if (i < (size_t)config_setting_length(s))
			break;
		v->ok = true;
		return;
	case KT_SIZE:
		if (type == CONFIG_TYPE_INT && confkeys_wrapped(cf, s))
			break;
		if (type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64)
			v->i = config_setting_get_int64(s);
		else if (type == CONFIG_TYPE_STRING)
			v->i = confkeys_size(config_setting_get_string(s));
		else
			break;
		if (v->i < k->min || v->i > k->max)
			break;
		v->ok = true;
		return;
	case KT_PAIR:
		/* [ 24, 64 ], or the list ( 24, 64 ). */
		if ((type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST) ||
		    config_setting_length(s) != 2 ||
		    config_setting_type(config_setting_get_elem(s, 0)) !=
		    CONFIG_TYPE_INT ||
		    config_setting_type(config_setting_get_elem(s, 1)) !=
		    CONFIG_TYPE_INT)
			break;
		v->i = config_setting_get_int_elem(s, 0);
		v->i2 = config_setting_get_int_elem(s, 1);
		if (v->i < k->min || v->i > k->max || v->i2 < k->min ||
		    v->i2 > k->max2)
			break;
		v->ok = true;
		return;
	}

	/* Wrong type or out of range: say what is expected. */
	switch (k->type) {
	case KT_INT:
		conferr_setting(e, s, "\"%s\" must be an integer from %lld to "
		    "%lld", k->name, k->min, k->max);
		break;
	case KT_DURATION:
		conferr_setting(e, s, "\"%s\" must be a number of seconds from "
		    "0 to %lld", k->name, k->max);
		break;
	case KT_BOOL:
		conferr_setting(e, s, "\"%s\" must be true or false", k->name);
		break;
	case KT_CHOICE:
	case KT_LEVEL:
		/* Log levels by log.c's names, the most verbose first. */
		for (i = 0; ; i++) {
			name = k->type == KT_CHOICE ? k->choices[i] :
			    i <= LOG_DEBUG - LOG_ERR ?
			    log_level_name(LOG_DEBUG - (int)i) : NULL;
			if (name == NULL)
				break;
			if (asprintf(&n, "%s%s\"%s\"", list == NULL ? "" : list,
			    i == 0 ? "" : ", ", name) == -1) {
				free(list);
				e->nomem = true;
				return;
			}
			free(list);
			list = n;
		}
		conferr_setting(e, s, "\"%s\" must be one of %s", k->name,
		    list);
		free(list);
		break;
	case KT_GROUP:
		conferr_setting(e, s, "\"%s\" must be a group ({ ... })",
		    k->name);
		break;
	case KT_LIST:
		conferr_setting(e, s, "\"%s\" must be a list of groups (( ... "
		    "))", k->name);
		break;
	case KT_STRINGS:
		conferr_setting(e, s, "\"%s\" must be a list of strings "
		    "(( \"...\", ... ))", k->name);
		break;
	case KT_PAIR:
		conferr_setting(e, s, "\"%s\" must be an array of two integers, "
		    "[ %lld to %lld, %lld to %lld ]", k->name, k->min, k->max,
		    k->min, k->max2);
		break;
	case KT_SIZE:
		conferr_setting(e, s, "\"%s\" must be a number of bytes from "
		    "%lld to %lld, or a string of digits and k, M or G "
		    "(powers of 1024) such as \"256k\"", k->name, k->min,
		    k->max);
		break;
	case KT_STRING:
		break;
	}
}

/* Check every key of group g against the keys of ctx; fill vals. */
void
confkeys_walk(struct conferr *e, const struct conffile *cf,
    config_setting_t *g, enum confkeys_ctx ctx, struct confkeys_val *vals)
{
	config_setting_t	*s;
	const char		*name;
	int			 i, n, k, other;

	memset(vals, 0, K_COUNT * sizeof(*vals));
	n = config_setting_length(g);
	for (i = 0; i < n; i++) {
		s = config_setting_get_elem(g, i);
		name = config_setting_name(s);
		other = -1;
		for (k = 0; k < K_COUNT; k++) {
			if (strcmp(keys[k].name, name) != 0)
				continue;
			if (keys[k].ctx == ctx)
				break;
			other = k;
		}
		if (k < K_COUNT)
			confkeys_value(e, cf, &keys[k], s, &vals[k]);
		else if (other != -1)
			conferr_setting(e, s, "\"%s\" is not allowed %s", name,
			    ctx_where[ctx]);
		else
			conferr_setting(e, s, "unknown key \"%s\"", name);
	}
}

/* An integer key's value, or its default when absent or invalid. */
long long
confkeys_int(const struct confkeys_val *vals, enum confkeys_id k)
{
	return (vals[k].ok ? vals[k].i : (long long)keys[k].def);
}

/* A pair key's second value, or its default. */
long long
confkeys_int2(const struct confkeys_val *vals, enum confkeys_id k)
{
	return (vals[k].ok ? vals[k].i2 : (long long)keys[k].def2);
}

/* A duration key's value, or its default when absent or invalid. */
double
confkeys_sec(const struct confkeys_val *vals, enum confkeys_id k)
{
	return (vals[k].ok ? vals[k].d : keys[k].def);
}


/* A string key's value, or its default. */
const char *
confkeys_str(const struct confkeys_val *vals, enum confkeys_id k)
{
	return (vals[k].ok ? vals[k].str : keys[k].sdef);
}

/* The name of key k, as the file writes it. */
const char *
confkeys_name(enum confkeys_id k)
{
	return (keys[k].name);
}

/* KF_REQUIRED, KF_TCP, KF_UDP, KF_STAMP. */
int
confkeys_flags(enum confkeys_id k)
{
	return (keys[k].flags);
}

/* The name of choice i of key k ("epoll", "udp"). */
const char *
confkeys_choice(enum confkeys_id k, long long i)
{
	return (keys[k].choices[i]);
}
