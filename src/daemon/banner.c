/*
 * banner.c: a listener's banner, checked at load and rendered per session
 * (banner.h).  The compiled form is the checked template itself: rendering
 * walks it once, which for a line sent once per session costs less than
 * any structure built to skip the walk.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banner.h"

struct banner {
	char	*text;
	size_t	 max;		/* the longest rendering */
};

/* The most escape c adds to a rendering; 0 for an unknown escape. */
static size_t
banner_escape_max(char c)
{
	switch (c) {
	case 'h':
		return (BANNER_HOST_MAX);
	case 'n':
		return (BANNER_NAME_MAX);
	case 'i':
		return (BANNER_INSTANCE_LEN);
	case 'a':
		return (BANNER_ADDR_MAX);
	case 'p':
		return (5);		/* 65535 */
	case '%':
		return (1);
	}
	return (0);
}

/* Check and compile text (banner.h). */
struct banner *
banner_compile(const char *text, char *why, size_t whylen)
{
	struct banner	*b;
	size_t		 i, len, max = 0, m;

	len = strlen(text);
	if (len == 0 || len > BANNER_TEMPLATE_MAX) {
		snprintf(why, whylen, "must be 1 to %d bytes",
		    BANNER_TEMPLATE_MAX);
		return (NULL);
	}
	for (i = 0; i < len; i++) {
		if (text[i] != '%') {
			max++;
			continue;
		}
		if (++i == len) {
			snprintf(why, whylen, "a lone \"%%\" at the end (write "
			    "\"%%%%\" for a percent sign)");
			return (NULL);
		}
		if ((m = banner_escape_max(text[i])) == 0) {
			/* Printable as itself, or as its code. */
			if (text[i] > ' ' && text[i] < 0x7f)
				snprintf(why, whylen, "unknown escape \"%%%c\" "
				    "(use %%h %%n %%i %%a %%p or %%%%)",
				    text[i]);
			else
				snprintf(why, whylen, "unknown escape \"%%\" "
				    "followed by byte 0x%02x (use %%h %%n %%i "
				    "%%a %%p or %%%%)", (unsigned char)text[i]);
			return (NULL);
		}
		max += m;
	}
	if ((b = calloc(1, sizeof(*b))) == NULL ||
	    (b->text = strdup(text)) == NULL) {
		free(b);
		if (whylen > 0)
			why[0] = '\0';
		return (NULL);
	}
	b->max = max;
	return (b);
}

/* Free b; NULL is fine. */
void
banner_free(struct banner *b)
{
	if (b == NULL)
		return;
	free(b->text);
	free(b);
}

/* The template as written. */
const char *
banner_text(const struct banner *b)
{
	return (b->text);
}

/* The longest rendering of b. */
size_t
banner_max(const struct banner *b)
{
	return (b->max);
}

/* Append at most max bytes of s to buf at *n (of len), counting all. */
static void
banner_put(char *buf, size_t len, size_t *n, const char *s, size_t max)
{
	size_t	 i;

	if (s == NULL)
		return;
	for (i = 0; i < max && s[i] != '\0'; i++, (*n)++) {
		if (*n < len)
			buf[*n] = s[i];
	}
}

/* Render b with v into buf (banner.h). */
size_t
banner_render(const struct banner *b, const struct banner_vars *v, char *buf,
    size_t len)
{
	const char	*p;
	char		 port[8];
	size_t		 n = 0;

	for (p = b->text; *p != '\0'; p++) {
		if (*p != '%') {
			if (n < len)
				buf[n] = *p;
			n++;
			continue;
		}
		/* banner_compile() saw a known escape after every '%'. */
		switch (*++p) {
		case 'h':
			banner_put(buf, len, &n, v->host, BANNER_HOST_MAX);
			break;
		case 'n':
			banner_put(buf, len, &n, v->listener, BANNER_NAME_MAX);
			break;
		case 'i':
			banner_put(buf, len, &n, v->instance,
			    BANNER_INSTANCE_LEN);
			break;
		case 'a':
			banner_put(buf, len, &n, v->addr, BANNER_ADDR_MAX);
			break;
		case 'p':
			snprintf(port, sizeof(port), "%u", v->port);
			banner_put(buf, len, &n, port, sizeof(port));
			break;
		case '%':
			banner_put(buf, len, &n, "%", 1);
			break;
		}
	}
	return (n);
}

/* The instance id of r: 8 lower-case hex digits. */
void
banner_instance(uint32_t r, char id[BANNER_INSTANCE_LEN + 1])
{
	snprintf(id, BANNER_INSTANCE_LEN + 1, "%08x", r);
}
