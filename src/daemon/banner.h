/*
 * banner.h: a listener's "banner", the line it sends first (echod.conf(5)):
 * a template checked once, at load, and rendered for each session into the
 * caller's buffer.  Pure: no sockets, no libevent, no allocation but the
 * compiled template's.
 *
 * The escapes are %h (the host's name), %n (the listener's name), %i (the
 * process's instance id), %a and %p (the client's address and port, the
 * real client's after a PROXY header) and %% (a percent sign).  Each value
 * is cut to a bound of its own, so banner_max() is the longest a rendering
 * can ever be, whatever the values.
 */
#ifndef ECHOD_BANNER_H
#define ECHOD_BANNER_H

#include <stddef.h>
#include <stdint.h>

/* The longest template, as written in the file (after libconfig's \n). */
#define BANNER_TEMPLATE_MAX	1024
/* The most of each value a rendering holds: HOST_NAME_MAX on Linux, */
#define BANNER_HOST_MAX		64
/* a listener name (CONF_NAME_MAX), */
#define BANNER_NAME_MAX		64
/* the instance id: 8 hex digits of 32 random bits (banner_instance()), */
#define BANNER_INSTANCE_LEN	8
/* the longest IPv6 literal (INET6_ADDRSTRLEN less its NUL). */
#define BANNER_ADDR_MAX		45

struct banner;

/* What a session's rendering says; a NULL string renders as nothing. */
struct banner_vars {
	const char	*host;		/* %h */
	const char	*listener;	/* %n */
	const char	*instance;	/* %i */
	const char	*addr;		/* %a: IPv4-mapped shown as IPv4 */
	uint16_t	 port;		/* %p */
};

/*
 * Check template text and compile it; NULL if it is wrong, with why (of
 * whylen bytes) saying what, or why empty when out of memory.
 */
struct banner	*banner_compile(const char *text, char *why, size_t whylen);
void		 banner_free(struct banner *);
/* The template as written. */
const char	*banner_text(const struct banner *);
/* The longest rendering of b, for any values: the buffer that always fits. */
size_t		 banner_max(const struct banner *);
/*
 * Render b with v into buf (len bytes, no NUL written): the length of the
 * whole rendering, of which only the first len bytes are stored if it is
 * longer (as snprintf(3)).  Never more than banner_max().
 */
size_t		 banner_render(const struct banner *,
		    const struct banner_vars *, char *buf, size_t len);
/* The instance id of 32 random bits, as %i shows it: 8 hex digits. */
void		 banner_instance(uint32_t, char [BANNER_INSTANCE_LEN + 1]);

#endif
