/*
 * confbuild.h: the checked values of a parsed configuration turned into
 * struct conf and its struct listener_conf, with the checks that involve
 * several keys (duplicate names, overlapping addresses, strip rules that
 * cannot apply to the listener's framing).
 */
#ifndef ECHOD_CONFBUILD_H
#define ECHOD_CONFBUILD_H

#include <sys/socket.h>

#include <libconfig.h>

#include "conf.h"

struct conf;
struct listener_conf;
struct sockaddr_storage;
struct conferr;
struct conffile;

/*
 * Fill l with every listener default of echod.conf(5) (the key table's)
 * and the timeouts of c, for a socket of protocol proto at ss named name.
 */
void	confbuild_defaults(const struct conf *c, struct listener_conf *l,
	    const char *name, enum conf_proto proto,
	    const struct sockaddr_storage *ss, socklen_t sslen);
/* Check the whole tree cfg read from cf into c; errors go to e. */
void	confbuild_top(struct conferr *e, const struct conffile *cf,
	    config_t *cfg, struct conf *c);

#endif
