/*
 * config.c: echod.conf(5) text -> an immutable, reference-counted struct
 * conf, with every error reported as "FILE:LINE: message".
 *
 * The work is done in four rooms, in this order: conffile.c reads the
 * file and its includes into one text; libconfig parses it; confkeys.c
 * checks every group against the one table of keys; confbuild.c turns the
 * values into struct conf; conferr.c collects the errors of all of them.
 * This file holds the object's life: load, references, free, and the
 * queries listener.c asks of it.  Nothing of libconfig survives: the
 * result owns copies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "addr.h"
#include "banner.h"
#include "confbuild.h"
#include "conferr.h"
#include "conffile.h"
#include "config.h"
#include "strip.h"
#include "tls.h"

/* Free what a struct conf owns, and it. */
static void
config_free(struct conf *c)
{
	size_t	 i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nlisteners; i++) {
		strip_set_free(c->listeners[i].strip);
		free(c->listeners[i].proxy_from);
		tls_conf_free(c->listeners[i].tls);
		banner_free(c->listeners[i].banner);
	}
	free(c->listeners);
	free(c->path);
	free(c);
}

/*
 * Parse the expanded text of cf and check all of it.  A fresh config_t
 * each time: libconfig 1.5 wipes the object it reads into even when
 * parsing fails.  It is given no include directory and finds no @include
 * (conffile.c expanded them): it opens no file.
 */
static struct conf *
config_make(const struct conffile *cf, struct conf_errors *errs)
{
	struct conferr	 e;
	struct conf	*c = NULL;
	config_t	 cfg;
	size_t		 i;

	conferr_init(&e, cf);
	config_init(&cfg);
	if (!config_read_string(&cfg, cf->text)) {
		conferr_add(&e, config_error_line(&cfg), "%s",
		    config_error_text(&cfg));
		goto done;
	}
	/* libconfig would silently end such a string at the NUL. */
	for (i = 0; i < cf->nnuls; i++)
		conferr_add(&e, cf->nuls[i], "a string must not hold a NUL "
		    "byte (\\x00)");
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->path = strdup(cf->names[0])) == NULL) {
		e.nomem = true;
		goto done;
	}
	atomic_init(&c->refcnt, 1);
	confbuild_top(&e, cf, &cfg, c);

done:
	if (c != NULL && conferr_any(&e)) {
		config_free(c);
		c = NULL;
	}
	conferr_finish(&e, c == NULL ? errs : NULL);
	config_destroy(&cfg);
	return (c);
}

/* Read, parse and validate the file at path. */
struct conf *
config_load(const char *path, struct conf_errors *errs)
{
	struct conffile	 cf;
	struct conf	*c = NULL;
	char		*dir, *slash, *cause;

	if (errs != NULL)
		memset(errs, 0, sizeof(*errs));
	/* @include is relative to the file, not to the cwd ("/" in a unit). */
	if ((dir = strdup(path)) == NULL) {
		conferr_one(errs, NULL);
		return (NULL);
	}
	if ((slash = strrchr(dir, '/')) == NULL)
		snprintf(dir, strlen(dir) + 1, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if (conffile_read(&cf, path, dir, &cause) == -1)
		conferr_one(errs, cause);
	else
		c = config_make(&cf, errs);
	conffile_free(&cf);
	free(dir);
	return (c);
}

/* The same from a string, for the unit tests and the fuzzer. */
struct conf *
config_parse(const char *text, const char *name, struct conf_errors *errs)
{
	struct conffile	 cf;
	struct conf	*c = NULL;
	char		*cause;

	if (errs != NULL)
		memset(errs, 0, sizeof(*errs));
	if (conffile_string(&cf, text, name == NULL ? "<string>" : name, NULL,
	    &cause) == -1)
		conferr_one(errs, cause);
	else
		c = config_make(&cf, errs);
	conffile_free(&cf);
	return (c);
}

/*
 * A configuration of one listener with every default of echod.conf(5),
 * called name, of protocol proto, on the address ss, and the global
 * settings of base: what serves a passed socket that no listener claims.
 * Sessions hold it like any other.  NULL without memory.
 */
struct conf *
config_fallback(const struct conf *base, const char *name,
    enum conf_proto proto, const struct sockaddr_storage *ss,
    socklen_t sslen)
{
	struct conf	*c;

	if ((c = malloc(sizeof(*c))) == NULL)
		return (NULL);
	*c = *base;
	atomic_init(&c->refcnt, 1);
	c->nlisteners = 1;
	c->path = strdup(base->path);
	c->listeners = malloc(sizeof(*c->listeners));
	if (c->path == NULL || c->listeners == NULL) {
		free(c->path);
		free(c->listeners);
		free(c);
		return (NULL);
	}
	confbuild_defaults(base, &c->listeners[0], name, proto, ss, sslen);
	return (c);
}

/* Take a reference for a session or a reload in progress. */
struct conf *
config_ref(struct conf *c)
{
	atomic_fetch_add_explicit(&c->refcnt, 1, memory_order_relaxed);
	return (c);
}

/* Drop a reference; the last one frees everything. */
void
config_unref(struct conf *c)
{
	if (c == NULL)
		return;
	/* Sessions on other threads drop theirs: the last one frees. */
	if (atomic_fetch_sub_explicit(&c->refcnt, 1, memory_order_acq_rel) ==
	    1)
		config_free(c);
}

/* Free the messages of a failed load; errs is left empty. */
void
config_errors_free(struct conf_errors *errs)
{
	size_t	 i;

	if (errs == NULL)
		return;
	for (i = 0; i < errs->n; i++)
		free(errs->msgs[i]);
	free(errs->msgs);
	errs->msgs = NULL;
	errs->n = 0;
}

/* The listener called name, or NULL. */
const struct listener_conf *
config_listener(const struct conf *c, const char *name)
{
	size_t	 i;

	for (i = 0; i < c->nlisteners; i++) {
		if (strcmp(c->listeners[i].name, name) == 0)
			return (&c->listeners[i]);
	}
	return (NULL);
}

/* "tcp [::]:7" or "udp 127.0.0.1:7007", as logs name an endpoint. */
void
config_listener_endpoint(const struct listener_conf *l, char *buf,
    size_t len)
{
	char		 ep[ADDR_ENDPOINT_MAX];
	const char	*proto;

	proto = l->protocol == CONF_UDP ? "udp" : "tcp";
	addr_endpoint(&l->ss, ep, sizeof(ep));
	if (ep[0] != '\0')
		snprintf(buf, len, "%s %s", proto, ep);
	else
		snprintf(buf, len, "%s %s:%u", proto, l->address, l->port);
}

/*
 * Only the addresses: whether both have the same protocol and port is the
 * caller's business.
 */
bool
config_addr_overlap(const struct listener_conf *a,
    const struct listener_conf *b)
{
	return (addr_overlap(&a->ss, &b->ss));
}

/*
 * Whether a passed socket called name is the metrics endpoint's: named
 * "metrics", unless a listener has that name (as before 1.1).
 */
bool
config_metrics_socket(const struct conf *c, const char *name)
{
	return (strcmp(name, "metrics") == 0 &&
	    config_listener(c, name) == NULL);
}
