/*
 * config.h: echod.conf(5) as an immutable, reference-counted object.
 *
 * config_load() parses a file with libconfig into a fresh object, checks
 * every key against one table of names, types, ranges and defaults, and
 * either returns the object or reports every problem as "FILE:LINE:
 * message" and returns NULL.  Nothing is ever changed after loading; a
 * session keeps a reference to the configuration it was accepted with, and
 * a reload simply loads a new object.
 */
#ifndef ECHOD_CONFIG_H
#define ECHOD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"

/* Load and validate a file; NULL with errs filled on any problem. */
struct conf	*config_load(const char *path, struct conf_errors *errs);
/* The same from a string; name stands for the file in messages. */
struct conf	*config_parse(const char *text, const char *name,
		    struct conf_errors *errs);
/* base's globals with one listener of every default (a passed socket). */
struct conf	*config_fallback(const struct conf *base, const char *name,
		    enum conf_proto, const struct sockaddr_storage *,
		    socklen_t);
struct conf	*config_ref(struct conf *);
/* Drop a reference; the last one frees.  Accepts NULL. */
void		 config_unref(struct conf *);
void		 config_errors_free(struct conf_errors *);
/* The listener called name, or NULL. */
const struct listener_conf *
		 config_listener(const struct conf *, const char *name);
/* "tcp [::]:7": how logs name a listener's endpoint. */
void		 config_listener_endpoint(const struct listener_conf *, char *,
		    size_t);
/* Whether two addresses overlap: equal, or one is a wildcard covering
 * the other (echod.conf(5), LISTENERS). */
bool		 config_addr_overlap(const struct listener_conf *,
		    const struct listener_conf *);
/* Whether a passed socket of that name is the metrics endpoint's
 * (FileDescriptorName=metrics, and no listener of that name). */
bool		 config_metrics_socket(const struct conf *, const char *name);

#endif
