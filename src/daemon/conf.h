/*
 * conf.h: the configuration as an object, struct conf and its struct
 * listener_conf: what every module reads, and what confbuild.c fills.
 * Its life (loading, references) is config.h's.
 */
#ifndef ECHOD_CONF_H
#define ECHOD_CONF_H

#include <sys/socket.h>
#include <sys/time.h>

#include <netinet/in.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "framing.h"
#include "source.h"
#include "strip.h"

#define CONF_NAME_MAX		64
#define CONF_MAX_LINE_MIN	64
#define CONF_MAX_LINE_MAX	(16u * 1024 * 1024)
#define CONF_WORKERS_MAX	256
/* max_memory: the bytes all sessions may hold together (session_read.c). */
#define CONF_MAX_MEMORY_MIN	(1ull << 20)		/* 1 MiB */
#define CONF_MAX_MEMORY_MAX	(1ull << 40)		/* 1 TiB */
#define CONF_MAX_MEMORY_DEFAULT	(256ull << 20)		/* 256 MiB */
/* UDP listeners' safety defaults, also those of a passed datagram socket
 * that no listener claims. */
#define CONF_UDP_RATE_DEFAULT		50
#define CONF_UDP_BURST_DEFAULT		100
#define CONF_UDP_DATAGRAM_DEFAULT	8192
/* The metrics endpoint's defaults (echod.conf(5), METRICS). */
#define CONF_METRICS_ADDRESS		"127.0.0.1"
#define CONF_METRICS_PORT		9862
/* A test instrument's limits (echod.conf(5), TESTING). */
#define CONF_DELAY_MAX		60		/* delay + jitter, seconds */
#define CONF_RATE_MAX		(1ll << 40)	/* bytes per second */
#define CONF_CLOSE_BYTES_MAX	(1ll << 40)
#define CONF_CLOSE_MESSAGES_MAX	1000000000

struct addr_net;
struct banner;
struct tls_conf;

enum conf_proto {
	CONF_TCP,
	CONF_UDP
};

/* How echod hangs up on purpose: refuse's and close_after's how. */
enum conf_hangup {
	CONF_HANGUP_OFF,	/* refuse = "off": serve */
	CONF_HANGUP_FIN,	/* close(2): the client reads EOF */
	CONF_HANGUP_RESET	/* SO_LINGER of 0, then close: a RST */
};

/* What close_after counts to. */
enum conf_close_kind {
	CONF_CLOSE_NONE,
	CONF_CLOSE_BYTES,	/* bytes received */
	CONF_CLOSE_MESSAGES,	/* lines received (line framing only) */
	CONF_CLOSE_SECONDS	/* since the session opened */
};

/* close_after: the session ends as asked, close reason "scripted". */
struct conf_close {
	enum conf_close_kind	 kind;
	uint64_t		 count;		/* BYTES, MESSAGES */
	struct timeval		 after;		/* SECONDS */
	enum conf_hangup	 how;		/* FIN or RESET */
	bool			 before_reply;	/* when = "before-reply" */
};

/* rate, listener_rate: bytes per second; 0: that way is not limited. */
struct conf_rate {
	uint64_t		 read;
	uint64_t		 write;
};

/* One entry of `listeners`, with every inherited value resolved. */
struct listener_conf {
	char			 name[CONF_NAME_MAX + 1];
	enum conf_proto		 protocol;
	char			 address[64];	/* as written, e.g. "::" */
	uint16_t		 port;
	struct sockaddr_storage	 ss;		/* address and port */
	socklen_t		 sslen;
	bool			 wildcard;	/* "::" or "0.0.0.0" */
	bool			 reuse_port;	/* SO_REUSEPORT on our own socket */
	enum framing_kind	 framing;
	struct strip_set	*strip;		/* NULL: no rules */
	struct timeval		 idle;		/* zero: never */
	struct timeval		 write;		/* zero: never */
	unsigned int		 max_connections; /* 0: no own limit */
	struct source_limits	 per_source;	/* this listener's own */
	/* PROXY protocol: proxy.h's PROXY_V1 | PROXY_V2, 0 when off */
	unsigned int		 proxy_protocol;
	struct addr_net		*proxy_from;	/* who may send the header */
	size_t			 nproxy_from;
	struct timeval		 proxy_timeout;	/* for the whole header */
	struct tls_conf		*tls;		/* NULL: no TLS (tls.h) */
	struct timeval		 handshake;	/* for the TLS handshake */
	/* UDP only */
	unsigned int		 udp_rate;	/* replies/s per source */
	unsigned int		 udp_burst;	/* bucket depth */
	unsigned int		 max_datagram;	/* larger ones are dropped */
	/* protocol = "stamp": RFC 8762 reflector, stateful or not */
	bool			 stamp;
	bool			 stamp_stateful;
	/*
	 * A test instrument (echod.conf(5), TESTING): each reply waits
	 * delay_usec plus a uniform [0, jitter_usec] (TCP and UDP); the
	 * rest is TCP's.  All zero or NULL when off.
	 */
	uint32_t		 delay_usec;
	uint32_t		 jitter_usec;
	struct conf_rate	 rate;		/* per session */
	struct conf_rate	 listener_rate;	/* its sessions together */
	struct banner		*banner;	/* sent first; NULL: none */
	struct conf_close	 close_after;
	enum conf_hangup	 refuse;	/* OFF: connections are served */
	int			 line;		/* where it was defined */
};

/* The "metrics" group: the Prometheus endpoint (metrics.c). */
struct metrics_conf {
	bool			 enabled;	/* the group is there */
	char			 address[64];	/* as written */
	uint16_t		 port;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
};

struct conf {
	atomic_uint		 refcnt;
	char			*path;
	int			 log_level;	/* syslog priority */
	bool			 log_connections;
	unsigned int		 log_rate;	/* entries per second */
	unsigned int		 workers;	/* 0: one per CPU */
	char			 event_method[8];	/* "auto", "epoll", ... */
	unsigned int		 max_connections;
	size_t			 max_line;
	size_t			 max_memory;	/* bytes all sessions hold */
	struct source_limits	 per_source;	/* over all listeners */
	unsigned int		 source_prefix4; /* a source's netblock */
	unsigned int		 source_prefix6;
	struct timeval		 idle;
	struct timeval		 write;
	struct timeval		 shutdown;
	struct timeval		 handshake;
	size_t			 nlisteners;
	struct listener_conf	*listeners;
	struct metrics_conf	 metrics;
	/*
	 * Who answers, for a banner's %h and %i: stamped by echod.c on the
	 * configuration it loads, the instance id the same for the
	 * process's life; empty from config_parse() alone.
	 */
	char			 hostname[65];
	char			 instance[9];
};

/* Every error of one load, each "FILE:LINE: message" or "FILE: message". */
struct conf_errors {
	char			**msgs;
	size_t			  n;
};

#endif
