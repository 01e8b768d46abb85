/*
 * conferr.c: the errors of one configuration load, collected with their
 * place and handed over sorted as "FILE:LINE: message".
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conferr.h"
#include "conffile.h"
#include "conf.h"

/* One error, kept with its place so the list can be sorted. */
struct conferr_entry {
	char		*text;
	const char	*file;	/* the conffile's name: lives as long */
	size_t		 order;	/* the file's index, in reading order */
	int		 line;	/* 0: none */
};

/* Start collecting the errors of the text cf holds. */
void
conferr_init(struct conferr *e, const struct conffile *cf)
{
	memset(e, 0, sizeof(*e));
	e->cf = cf;
}

/* text with every control byte as \xNN (text is freed), or NULL. */
static char *
conferr_oneline(char *text)
{
	char	*out;
	size_t	 i, n = 0;

	if (strcspn(text, "\x01\x02\x03\x04\x05\x06\x07\x08\t\n\x0b\x0c"
	    "\r\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b"
	    "\x1c\x1d\x1e\x1f\x7f") == strlen(text))
		return (text);
	if ((out = malloc(strlen(text) * 4 + 1)) != NULL) {
		for (i = 0; text[i] != '\0'; i++) {
			unsigned char	 c = text[i];

			if (c < 0x20 || c == 0x7f)
				n += (size_t)sprintf(out + n, "\\x%02x", c);
			else
				out[n++] = (char)c;
		}
		out[n] = '\0';
	}
	free(text);
	return (out);
}

/* Record one error at line of the expanded text, mapped to its file. */
void
conferr_add(struct conferr *e, int line, const char *fmt, ...)
{
	struct conferr_entry	*n;
	va_list			 ap;
	char			*text;
	const char		*file;
	size_t			 order = 0;

	if (line > 0) {
		order = conffile_index(e->cf, line);
		file = conffile_where(e->cf, line, &line);
	} else
		file = conffile_where(e->cf, 0, &line);
	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) == -1) {
		va_end(ap);
		e->nomem = true;
		return;
	}
	va_end(ap);
	/*
	 * One error, one line: a control byte a message took from the file
	 * (a regex's own text, in a rule's error) shows as \xNN.
	 */
	if ((text = conferr_oneline(text)) == NULL) {
		e->nomem = true;
		return;
	}
	n = reallocarray(e->errs, e->nerrs + 1, sizeof(*e->errs));
	if (n == NULL) {
		free(text);
		e->nomem = true;
		return;
	}
	e->errs = n;
	n[e->nerrs].text = text;
	n[e->nerrs].file = file;
	n[e->nerrs].order = order;
	n[e->nerrs].line = line;
	e->nerrs++;
}

/* Whether anything went wrong. */
bool
conferr_any(const struct conferr *e)
{
	return (e->nerrs > 0 || e->nomem);
}

/* Copy src into dst quoted: \xNN for anything not printable. */
void
conferr_quote(char *dst, size_t dstlen, const char *src)
{
	size_t	 n = 0, i;

	for (i = 0; src[i] != '\0' && n + 8 < dstlen; i++) {
		unsigned char	 c = src[i];

		if (i == CONFERR_QUOTE_MAX) {
			n += snprintf(dst + n, dstlen - n, "...");
			break;
		}
		if (c == '"' || c == '\\')
			n += snprintf(dst + n, dstlen - n, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			n += snprintf(dst + n, dstlen - n, "\\x%02x", c);
		else
			dst[n++] = c;
	}
	dst[n] = '\0';
}

/* Sort key of an error: its file in reading order, then its line. */
static int
conferr_cmp(const struct conferr_entry *a, const struct conferr_entry *b)
{
	int	 la, lb;

	if (a->order != b->order)
		return (a->order < b->order ? -1 : 1);
	/* An error without a line goes after those with one. */
	la = a->line == 0 ? INT_MAX : a->line;
	lb = b->line == 0 ? INT_MAX : b->line;
	return (la < lb ? -1 : la > lb);
}

/* Hand the collected errors over, sorted, as "FILE:LINE: message". */
void
conferr_finish(struct conferr *e, struct conf_errors *errs)
{
	struct conferr_entry	 t;
	size_t			 i, j;
	char			*m;

	/* Stable insertion sort: later checks may report earlier lines. */
	for (i = 1; i < e->nerrs; i++) {
		t = e->errs[i];
		for (j = i; j > 0 && conferr_cmp(&e->errs[j - 1], &t) > 0; j--)
			e->errs[j] = e->errs[j - 1];
		e->errs[j] = t;
	}
	if (errs != NULL && (errs->msgs = calloc(e->nerrs + 1,
	    sizeof(*errs->msgs))) == NULL)
		errs = NULL;
	for (i = 0; i < e->nerrs; i++) {
		if (errs == NULL)
			m = NULL;
		else if (e->errs[i].line > 0) {
			if (asprintf(&m, "%s:%d: %s", e->errs[i].file,
			    e->errs[i].line, e->errs[i].text) == -1)
				m = NULL;
		} else if (asprintf(&m, "%s: %s", e->errs[i].file,
		    e->errs[i].text) == -1)
			m = NULL;
		if (m != NULL)
			errs->msgs[errs->n++] = m;
		free(e->errs[i].text);
	}
	free(e->errs);
	e->errs = NULL;
	e->nerrs = 0;
	if (e->nomem && errs != NULL && (m = strdup("out of memory")) != NULL)
		errs->msgs[errs->n++] = m;
}

/* Report the one error of a text that could not be read. */
void
conferr_one(struct conf_errors *errs, char *cause)
{
	if (errs == NULL || (errs->msgs = calloc(2, sizeof(*errs->msgs))) ==
	    NULL) {
		free(cause);
		return;
	}
	if (cause == NULL)
		cause = strdup("out of memory");
	if (cause != NULL)
		errs->msgs[errs->n++] = cause;
}
