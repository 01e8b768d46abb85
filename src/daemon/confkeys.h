/*
 * confkeys.h: every key of echod.conf(5), described once, and the generic
 * check of a group against them.
 *
 * confkeys.c holds the table (name, where the key may appear, type,
 * range, default) that echod.conf.5 documents; confkeys_walk() checks
 * each setting of a group against it, reports what is wrong through
 * conferr.h, and fills one struct confkeys_val per key, which
 * confbuild.c turns into struct conf.
 */
#ifndef ECHOD_CONFKEYS_H
#define ECHOD_CONFKEYS_H

#include <stdbool.h>

#include <libconfig.h>

struct conferr;
struct conffile;

/* Where a key may appear. */
enum confkeys_ctx {
	CTX_TOP,
	CTX_TIMEOUTS,		/* the global "timeouts" group */
	CTX_LISTENER,
	CTX_LTIMEOUTS,		/* a listener's "timeouts" group */
	CTX_STRIP,
	CTX_METRICS,		/* the "metrics" group */
	CTX_TLS,		/* a listener's "tls" group */
	CTX_RATE,		/* a listener's "rate" or "listener_rate" */
	CTX_CLOSE_AFTER		/* a listener's "close_after" group */
};

/* confkeys_flags(): a key a group must have, or one of one protocol. */
#define KF_REQUIRED	0x01
#define KF_TCP		0x02	/* an error on a UDP listener */
#define KF_UDP		0x04	/* an error on a TCP listener */
#define KF_STAMP	0x08	/* an error but on a STAMP listener */

/* The value of "protocol" for a STAMP reflector: a UDP listener. */
#define CONF_PROTO_STAMP	2

/* Every key; a name in several contexts is a key in each. */
enum confkeys_id {
	K_LOG_LEVEL,
	K_LOG_CONNECTIONS,
	K_LOG_RATE,
	K_WORKERS,
	K_EVENT_METHOD,
	K_MAX_CONNECTIONS,
	K_MAX_LINE,
	K_MAX_MEMORY,
	K_MAX_CONNECTIONS_PER_SOURCE,
	K_MAX_NEW_CONNECTIONS_PER_SOURCE,
	K_NEW_CONNECTIONS_BURST,
	K_SOURCE_PREFIX,
	K_TIMEOUTS,
	K_LISTENERS,
	K_METRICS,
	K_IDLE,
	K_WRITE,
	K_SHUTDOWN,
	K_HANDSHAKE,
	K_L_NAME,
	K_L_PORT,
	K_L_ADDRESS,
	K_L_PROTOCOL,
	K_L_REUSE_PORT,
	K_L_FRAMING,
	K_L_STRIP,
	K_L_TIMEOUTS,
	K_L_MAX_CONNECTIONS,
	K_L_UDP_RATE,
	K_L_UDP_BURST,
	K_L_MAX_DATAGRAM,
	K_L_PROXY_PROTOCOL,
	K_L_PROXY_FROM,
	K_L_PROXY_TIMEOUT,
	K_L_MAX_CONNECTIONS_PER_SOURCE,
	K_L_MAX_NEW_CONNECTIONS_PER_SOURCE,
	K_L_NEW_CONNECTIONS_BURST,
	K_L_STAMP_MODE,
	K_L_TLS,
	K_L_DELAY,
	K_L_JITTER,
	K_L_RATE,
	K_L_LISTENER_RATE,
	K_L_BANNER,
	K_L_CLOSE_AFTER,
	K_L_REFUSE,
	K_L_LAST = K_L_REFUSE,		/* the last listener key */
	K_LT_IDLE,
	K_LT_WRITE,
	K_LT_HANDSHAKE,
	K_S_BYTES,
	K_S_PREFIX,
	K_S_REGEX,
	K_M_ADDRESS,
	K_M_PORT,
	K_T_CERTIFICATE,
	K_T_KEY,
	K_T_CLIENT_CA,
	K_T_CLIENT_CERTIFICATE,
	K_T_MIN_VERSION,
	K_T_CIPHERS,
	K_T_CIPHERSUITES,
	K_T_ALPN,
	K_R_READ,
	K_R_WRITE,
	K_C_BYTES,
	K_C_MESSAGES,
	K_C_SECONDS,
	K_C_HOW,
	K_C_WHEN,
	K_COUNT
};

/* One key of one group as found in the text. */
struct confkeys_val {
	config_setting_t	*s;	/* NULL: absent */
	bool			 ok;	/* present and valid */
	long long		 i;	/* integers, sizes, bools, a choice's
					   index */
	long long		 i2;	/* a pair's second integer */
	double			 d;	/* durations */
	const char		*str;	/* libconfig's: dies with it */
};

/*
 * Check every setting of group g against the keys of ctx, reporting the
 * unknown, misplaced, mistyped and out-of-range ones, and fill vals
 * (K_COUNT of them) with what was found.
 */
void		 confkeys_walk(struct conferr *, const struct conffile *,
		    config_setting_t *g, enum confkeys_ctx,
		    struct confkeys_val *vals);
/* An integer, bool or choice key's value, or its default. */
long long	 confkeys_int(const struct confkeys_val *, enum confkeys_id);
/* A pair key's second value, or its default. */
long long	 confkeys_int2(const struct confkeys_val *, enum confkeys_id);
/* A duration key's value, or its default. */
double		 confkeys_sec(const struct confkeys_val *, enum confkeys_id);
/* A string key's value, or its default (NULL if it has none). */
const char	*confkeys_str(const struct confkeys_val *, enum confkeys_id);
/* The name, flags, and the name of choice i of key k. */
const char	*confkeys_name(enum confkeys_id);
int		 confkeys_flags(enum confkeys_id);
const char	*confkeys_choice(enum confkeys_id, long long i);

#endif
