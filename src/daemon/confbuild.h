/*
 * confbuild.h: the checked values of a parsed configuration turned into
 * struct conf and its struct listener_conf, with the checks that involve
 * several keys (duplicate names, overlapping addresses, strip rules that
 * cannot apply to the listener's framing).
 */
#ifndef ECHOD_CONFBUILD_H
#define ECHOD_CONFBUILD_H

#include <libconfig.h>

struct conf;
struct conferr;
struct conffile;

/* Check the whole tree cfg read from cf into c; errors go to e. */
void	confbuild_top(struct conferr *e, const struct conffile *cf,
	    config_t *cfg, struct conf *c);

#endif
