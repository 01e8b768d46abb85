/*
 * confbuild_int.h: what confbuild.c and confgroup.c share while they
 * build one configuration; private to the two.
 */
#ifndef ECHOD_CONFBUILD_INT_H
#define ECHOD_CONFBUILD_INT_H

#include <sys/time.h>

#include <stdbool.h>
#include <stddef.h>

#include <libconfig.h>

#include "conf.h"
#include "confkeys.h"
#include "source.h"

struct conferr;
struct conffile;

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
static inline struct timeval
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

/* Build the strip set of listener l from its "strip" list. */
void	confgroup_strip(struct confbuild *, config_setting_t *,
	    struct listener_conf *, bool, size_t, const char *);
/* The per-source limits of group vals (keys conns, rate, burst). */
struct source_limits confgroup_per_source(struct confbuild *,
	    const struct confkeys_val *, enum confkeys_id, enum confkeys_id,
	    enum confkeys_id);
/* The PROXY protocol keys of listener l (a TCP one). */
void	confgroup_proxy(struct confbuild *, config_setting_t *,
	    const struct confkeys_val *, struct listener_conf *);
/* The "tls" group of listener l, every file read and checked now. */
void	confgroup_tls(struct confbuild *, config_setting_t *,
	    struct listener_conf *);
/* The keys of a test instrument into l (delay, rates, banner, ...). */
void	confgroup_instrument(struct confbuild *, const struct confkeys_val *,
	    bool, struct listener_conf *);

#endif
