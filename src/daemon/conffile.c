/*
 * conffile.c: a configuration's text read safely, @include expanded.
 *
 * The scan below follows libconfig 1.5's scanner (lib/scanner.l) in the
 * one respect that matters here: where an @include is.  It is the text
 * `^[ \t]*@include[ \t]+"` in the initial state, so not inside a string
 * or a block comment, and only at the start of a line; the path runs to
 * the next unescaped '"'.  A file's text replaces that directive, and
 * the scanner's state goes on through it, as flex's does.  What follows
 * the closing quote stays on the line.  After the expansion the result is
 * scanned once more, and a directive that only the expansion put at the
 * start of a line (`@include "empty"@include "x"`) is refused: libconfig
 * must find none.
 *
 * One more scan of the result finds the integer literals that libconfig
 * 1.5 would silently wrap (conffile_wrapped()).  Both scans follow the
 * same scanner's rules of strings and comments, which is why they share
 * this file, of a little more than 700 lines: one job, the text that
 * libconfig is given.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conffile.h"

enum conffile_state {
	CF_INITIAL,
	CF_COMMENT,		/* inside a block comment */
	CF_STRING
};

/* One file being expanded, and the ones that include it. */
struct conffile_frame {
	const struct conffile_frame	*up;
	dev_t				 dev;
	ino_t				 ino;
};

/* State of one read. */
struct conffile_read {
	struct conffile		*cf;
	const char		*incdir;
	size_t			 cap, linecap;
	enum conffile_state	 state;
	bool			 checking;	/* the second scan: no copy */
	char			*cause;
	bool			 nomem;
};

/* Record the first error; later ones are consequences. */
static void __attribute__((format(printf, 2, 3)))
conffile_fail(struct conffile_read *r, const char *fmt, ...)
{
	va_list	 ap;

	if (r->cause != NULL || r->nomem)
		return;
	va_start(ap, fmt);
	if (vasprintf(&r->cause, fmt, ap) == -1) {
		r->cause = NULL;
		r->nomem = true;
	}
	va_end(ap);
}

static bool
conffile_failed(const struct conffile_read *r)
{
	return (r->cause != NULL || r->nomem);
}

/* Add a file's name; its index, or -1 when out of memory. */
static ssize_t
conffile_name(struct conffile_read *r, const char *name)
{
	struct conffile	*cf = r->cf;
	char		**n;

	n = reallocarray(cf->names, cf->nnames + 1, sizeof(*cf->names));
	if (n == NULL || (n[cf->nnames] = strdup(name)) == NULL) {
		if (n != NULL)
			cf->names = n;
		r->nomem = true;
		return (-1);
	}
	cf->names = n;
	return ((ssize_t)cf->nnames++);
}

/* Start a new line of the text, which came from file:line. */
static void
conffile_newline(struct conffile_read *r, size_t file, int line)
{
	struct conffile		*cf = r->cf;
	struct conffile_line	*n;

	if (cf->nlines == r->linecap) {
		r->linecap = r->linecap == 0 ? 64 : r->linecap * 2;
		n = reallocarray(cf->lines, r->linecap, sizeof(*n));
		if (n == NULL) {
			r->nomem = true;
			return;
		}
		cf->lines = n;
	}
	cf->lines[cf->nlines].file = file;
	cf->lines[cf->nlines++].line = line;
}

/* Append n bytes to the text, within CONFFILE_MAX in all. */
static void
conffile_emit(struct conffile_read *r, const char *p, size_t n)
{
	struct conffile	*cf = r->cf;
	char		*t;

	if (conffile_failed(r) || r->checking)
		return;
	if (cf->len + n > CONFFILE_MAX) {
		conffile_fail(r, "%s: more than 4 MiB with its includes",
		    cf->names[0]);
		return;
	}
	if (cf->len + n + 1 > r->cap) {
		while (cf->len + n + 1 > r->cap)
			r->cap = r->cap == 0 ? 8192 : r->cap * 2;
		if ((t = realloc(cf->text, r->cap)) == NULL) {
			r->nomem = true;
			return;
		}
		cf->text = t;
	}
	memcpy(cf->text + cf->len, p, n);
	cf->len += n;
	cf->text[cf->len] = '\0';
}

/* What st is, for a message about a file that is not a regular one. */
static const char *
conffile_kind(const struct stat *st)
{
	if (S_ISDIR(st->st_mode))
		return (strerror(EISDIR));
	if (S_ISFIFO(st->st_mode))
		return ("Is a FIFO");
	if (S_ISSOCK(st->st_mode))
		return ("Is a socket");
	if (S_ISCHR(st->st_mode))
		return ("Is a character device");
	if (S_ISBLK(st->st_mode))
		return ("Is a block device");
	return ("Not a regular file");
}

/*
 * Read the regular file at path into an allocated, NUL-terminated buffer.
 * It is looked at before it is opened, so that a FIFO or a device is
 * never opened at all, and opened without blocking, so that one put in
 * its place in between cannot hang the caller either (fstat() then sees
 * it).  NULL with *why set (static text) on failure.
 */
static char *
conffile_slurp(const char *path, size_t *lenp, struct stat *st,
    const char **why)
{
	struct stat	 before;
	char		*buf;
	size_t		 len = 0;
	ssize_t		 n;
	int		 fd;

	if (stat(path, &before) == -1) {
		*why = strerror(errno);
		return (NULL);
	}
	if (!S_ISREG(before.st_mode)) {
		*why = conffile_kind(&before);
		return (NULL);
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd == -1) {
		*why = strerror(errno);
		return (NULL);
	}
	if (fstat(fd, st) == -1) {
		*why = strerror(errno);
		close(fd);
		return (NULL);
	}
	if (!S_ISREG(st->st_mode)) {
		*why = conffile_kind(st);
		close(fd);
		return (NULL);
	}
	if (st->st_size > CONFFILE_MAX) {
		*why = "Larger than 4 MiB";
		close(fd);
		return (NULL);
	}
	/* One byte more than allowed, to see a file that grew meanwhile. */
	if ((buf = malloc((size_t)st->st_size + 2)) == NULL) {
		*why = strerror(ENOMEM);
		close(fd);
		return (NULL);
	}
	for (;;) {
		n = read(fd, buf + len, (size_t)st->st_size + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			*why = strerror(errno);
			free(buf);
			close(fd);
			return (NULL);
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > (size_t)st->st_size) {
			*why = "Changed while it was read";
			free(buf);
			close(fd);
			return (NULL);
		}
	}
	close(fd);
	buf[len] = '\0';
	*lenp = len;
	return (buf);
}

/* See conffile.h. */
char *
conffile_load(const char *path, size_t *len, const char **why)
{
	struct stat	 st;

	return (conffile_slurp(path, len, &st, why));
}

/* The line of the first NUL byte in t, or 0 if there is none. */
static int
conffile_nul_line(const char *t, size_t len)
{
	const char	*nul, *p;
	int		 line = 1;

	if ((nul = memchr(t, '\0', len)) == NULL)
		return (0);
	for (p = t; (p = memchr(p, '\n', (size_t)(nul - p))) != NULL; p++)
		line++;
	return (line);
}

/*
 * Whether an @include directive starts at t[0] (at the start of a line
 * in the initial state); if so, *path is where its path begins.
 */
static bool
conffile_directive(const char *t, const char *end, const char **path)
{
	const char	*p = t;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if ((size_t)(end - p) < 8 || memcmp(p, "@include", 8) != 0)
		return (false);
	p += 8;
	if (p == end || (*p != ' ' && *p != '\t'))
		return (false);
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p == end || *p != '"')
		return (false);
	*path = p + 1;
	return (true);
}

static void	conffile_scan(struct conffile_read *, const char *, size_t,
		    size_t, const struct conffile_frame *, int);

/* Expand the file name names from file:line, nested depth deep. */
static void
conffile_include(struct conffile_read *r, const char *name, size_t file,
    int line, const struct conffile_frame *up, int depth)
{
	const struct conffile_frame	*f;
	struct conffile_frame		 me;
	struct stat			 st;
	const char			*from = r->cf->names[file], *why;
	char				*path, *shown, *text;
	size_t				 len;
	ssize_t				 idx;
	int				 nul;

	if (name[0] == '/') {
		conffile_fail(r, "%s:%d: cannot open include file \"%s\": "
		    "libconfig 1.5 reads @include paths relative to the "
		    "including file's directory, write it relative", from,
		    line, name);
		return;
	}
	if (depth >= CONFFILE_DEPTH) {
		conffile_fail(r, "%s:%d: include file nesting too deep (more "
		    "than %d levels)", from, line, CONFFILE_DEPTH);
		return;
	}
	/* As libconfig 1.5 finds it: relative to the include directory. */
	if (asprintf(&path, "%s/%s", r->incdir != NULL ? r->incdir : ".",
	    name) == -1) {
		r->nomem = true;
		return;
	}
	if ((text = conffile_slurp(path, &len, &st, &why)) == NULL) {
		conffile_fail(r, "%s:%d: cannot open include file %s: %s",
		    from, line, path, why);
		free(path);
		return;
	}
	for (f = up; f != NULL; f = f->up) {
		if (f->dev == st.st_dev && f->ino == st.st_ino) {
			conffile_fail(r, "%s:%d: cannot include %s: it "
			    "includes itself", from, line, path);
			goto done;
		}
	}
	/* Messages name it so that it can be opened from anywhere. */
	shown = r->incdir == NULL || strcmp(r->incdir, ".") == 0 ?
	    (char *)name : path;
	if ((idx = conffile_name(r, shown)) == -1)
		goto done;
	if ((nul = conffile_nul_line(text, len)) != 0) {
		conffile_fail(r, "%s:%d: NUL byte in the text", shown, nul);
		goto done;
	}
	me.up = up;
	me.dev = st.st_dev;
	me.ino = st.st_ino;
	/* The directive began a line of the text: the file's line 1. */
	r->cf->lines[r->cf->nlines - 1].file = (size_t)idx;
	r->cf->lines[r->cf->nlines - 1].line = 1;
	conffile_scan(r, text, len, (size_t)idx, &me, depth + 1);
	/* What follows the directive is the including file's again. */
	if (!conffile_failed(r) && (r->cf->len == 0 ||
	    r->cf->text[r->cf->len - 1] == '\n')) {
		r->cf->lines[r->cf->nlines - 1].file = file;
		r->cf->lines[r->cf->nlines - 1].line = line;
	}
done:
	free(text);
	free(path);
}

/*
 * Copy the text t of file (index into names) to the result, expanding
 * its @include lines; up and depth describe the files around it.  When
 * r->checking, only look for directives and refuse any (the check of
 * the result).
 */
static void
conffile_scan(struct conffile_read *r, const char *t, size_t len,
    size_t file, const struct conffile_frame *up, int depth)
{
	const char	*p = t, *end = t + len, *path, *q, *from;
	char		*name, *o;
	bool		 bol = true;
	int		 line = 1, fline;

	while (p < end && !conffile_failed(r)) {
		if (r->state == CF_INITIAL && bol &&
		    conffile_directive(p, end, &path)) {
			if (r->checking) {
				from = conffile_where(r->cf, line, &fline);
				conffile_fail(r, "%s:%d: @include must start "
				    "a line of its own", from, fline);
				return;
			}
			/* The path, with libconfig's two escapes. */
			if ((name = malloc((size_t)(end - path) + 1)) == NULL) {
				r->nomem = true;
				return;
			}
			for (q = path, o = name; q < end && *q != '"' &&
			    *q != '\n'; q++) {
				if (*q == '\\' && q + 1 < end &&
				    (q[1] == '\\' || q[1] == '"'))
					q++;
				else if (*q == '\\')
					break;
				*o++ = *q;
			}
			*o = '\0';
			if (q == end || *q != '"') {
				conffile_fail(r, "%s:%d: unterminated @include "
				    "line", r->cf->names[file], line);
				free(name);
				return;
			}
			conffile_include(r, name, file, line, up, depth);
			free(name);
			p = q + 1;
			bol = false;
			continue;
		}
		switch (r->state) {
		case CF_INITIAL:
			if (*p == '"')
				r->state = CF_STRING;
			else if (*p == '/' && p + 1 < end && p[1] == '*') {
				r->state = CF_COMMENT;
				conffile_emit(r, p++, 1);
			} else if (*p == '#' || (*p == '/' && p + 1 < end &&
			    p[1] == '/')) {
				/* A line comment: up to its newline. */
				q = memchr(p, '\n', (size_t)(end - p));
				if (q == NULL)
					q = end;
				conffile_emit(r, p, (size_t)(q - p));
				p = q;
				bol = false;
				continue;
			}
			break;
		case CF_COMMENT:
			if (*p == '*' && p + 1 < end && p[1] == '/') {
				r->state = CF_INITIAL;
				conffile_emit(r, p++, 1);
			}
			break;
		case CF_STRING:
			if (*p == '\\' && p + 1 < end && p[1] != '\n')
				conffile_emit(r, p++, 1);
			else if (*p == '"')
				r->state = CF_INITIAL;
			break;
		}
		conffile_emit(r, p, 1);
		bol = *p == '\n';
		if (bol) {
			line++;
			if (!r->checking)
				conffile_newline(r, file, line);
		}
		p++;
	}
}

/* Remember an integer literal that libconfig 1.5 wraps to an int. */
static void
conffile_wrap_add(struct conffile_read *r, int line, const char *name,
    int value)
{
	struct conffile		*cf = r->cf;
	struct conffile_wrap	*n;

	n = reallocarray(cf->wraps, cf->nwraps + 1, sizeof(*cf->wraps));
	if (n == NULL) {
		r->nomem = true;
		return;
	}
	cf->wraps = n;
	n[cf->nwraps].line = line;
	n[cf->nwraps].value = value;
	if ((n[cf->nwraps].name = strdup(name)) == NULL) {
		r->nomem = true;
		return;
	}
	cf->nwraps++;
}

/* Remember a line whose string holds a \x00 escape. */
static void
conffile_nul_escape(struct conffile_read *r, int line)
{
	struct conffile	*cf = r->cf;
	int		*n;

	n = reallocarray(cf->nuls, cf->nnuls + 1, sizeof(*cf->nuls));
	if (n == NULL) {
		r->nomem = true;
		return;
	}
	cf->nuls = n;
	n[cf->nnuls++] = line;
}

/*
 * Whether the number token tok would not survive libconfig 1.5's int; if
 * so, *value is what libconfig keeps of it (the low 32 bits).
 */
static bool
conffile_literal_wraps(const char *tok, size_t len, int *value)
{
	char			 buf[32];
	const char		*d = tok;
	unsigned long long	 u;
	long long		 v;
	char			*end;

	if (*d == '+' || *d == '-')
		d++;
	/* An L suffix makes an INT64, which libconfig keeps whole. */
	if (tok[len - 1] == 'L' || tok[len - 1] == 'l')
		return (false);
	if (d[0] == '0' && (d[1] == 'x' || d[1] == 'X')) {
		if (len >= sizeof(buf))
			u = ULLONG_MAX;	/* strtoull() saturates */
		else {
			memcpy(buf, d + 2, len - (d + 2 - tok));
			buf[len - (d + 2 - tok)] = '\0';
			u = strtoull(buf, &end, 16);
		}
		*value = (int)(unsigned int)u;
		return (u > INT_MAX);
	}
	if (memchr(tok, '.', len) != NULL || memchr(tok, 'e', len) != NULL ||
	    memchr(tok, 'E', len) != NULL)
		return (false);	/* a float */
	if (len >= sizeof(buf))
		v = *tok == '-' ? LLONG_MIN : LLONG_MAX;	/* saturated */
	else {
		memcpy(buf, tok, len);
		buf[len] = '\0';
		v = strtoll(buf, &end, 10);
	}
	*value = (int)(unsigned int)(unsigned long long)v;
	return (v > INT_MAX || v < INT_MIN);
}

/* Whether c may continue a setting name (libconfig's [-A-Za-z0-9_*]). */
static bool
conffile_namechar(int c)
{
	return (isalnum(c) || c == '-' || c == '_' || c == '*');
}

/*
 * libconfig 1.5 reads a decimal literal with atoi() and a hex one into an
 * int, so "max_connections = 4294967297;" silently becomes 1 (only an L
 * suffix makes an INT64).  Find such literals in the text before libconfig
 * does, skipping strings and comments, and remember the setting each one
 * belongs to (line, name) so that the validator can reject it; and note
 * the strings that hold a \x00, which libconfig silently cuts there.
 */
static void
conffile_literals(struct conffile_read *r)
{
	const char	*c = r->cf->text, *t;
	char		 last[128] = "";
	int		 line = 1, value;
	size_t		 n;

	while (*c != '\0') {
		if (*c == '\n') {
			line++;
			c++;
		} else if (isspace((unsigned char)*c))
			c++;
		else if (*c == '#' || (c[0] == '/' && c[1] == '/')) {
			c += strcspn(c, "\n");
		} else if (c[0] == '/' && c[1] == '*') {
			for (c += 2; *c != '\0' &&
			    !(c[0] == '*' && c[1] == '/'); c++)
				if (*c == '\n')
					line++;
			if (*c != '\0')
				c += 2;
		} else if (*c == '"') {
			for (c++; *c != '\0' && *c != '"'; c++) {
				/* libconfig ends the string there. */
				if (c[0] == '\\' && (c[1] == 'x' ||
				    c[1] == 'X') && c[2] == '0' && c[3] == '0')
					conffile_nul_escape(r, line);
				if (*c == '\\' && c[1] != '\0')
					c++;
				if (*c == '\n')
					line++;
			}
			if (*c != '\0')
				c++;
		} else if (isalpha((unsigned char)*c) || *c == '*') {
			for (t = c; conffile_namechar((unsigned char)*c); c++)
				;
			n = c - t < (ptrdiff_t)sizeof(last) ? (size_t)(c - t) :
			    sizeof(last) - 1;
			memcpy(last, t, n);
			last[n] = '\0';
		} else if (isdigit((unsigned char)*c) ||
		    ((*c == '+' || *c == '-' || *c == '.') &&
		    (isdigit((unsigned char)c[1]) || c[1] == '.'))) {
			for (t = c; isalnum((unsigned char)*c) || *c == '.' ||
			    *c == '+' || *c == '-'; c++)
				;
			if (last[0] != '\0' &&
			    conffile_literal_wraps(t, c - t, &value))
				conffile_wrap_add(r, line, last, value);
		} else {
			c++;
		}
	}
}


/* Expand text (of the file names[0]) into cf, then check the result. */
static int
conffile_expand(struct conffile_read *r, const char *text, size_t len,
    const struct stat *st, char **cause)
{
	struct conffile_frame	 top = { NULL, 0, 0 };
	struct conffile		*cf = r->cf;
	int			 nul;

	if (st != NULL) {
		top.dev = st->st_dev;
		top.ino = st->st_ino;
	}
	if ((nul = conffile_nul_line(text, len)) != 0)
		conffile_fail(r, "%s:%d: NUL byte in the text", cf->names[0],
		    nul);
	conffile_newline(r, 0, 1);
	conffile_emit(r, "", 0);
	if (!conffile_failed(r))
		conffile_scan(r, text, len, 0, &top, 0);
	if (!conffile_failed(r)) {
		/* The same scan over the result, which must hold none. */
		r->state = CF_INITIAL;
		r->checking = true;
		conffile_scan(r, cf->text, cf->len, 0, NULL, 0);
	}
	if (!conffile_failed(r))
		conffile_literals(r);
	if (r->nomem) {
		free(r->cause);
		r->cause = NULL;
	}
	*cause = r->cause;
	return (conffile_failed(r) ? -1 : 0);
}

/* Start a read of the text called name into cf. */
static int
conffile_begin(struct conffile_read *r, struct conffile *cf,
    const char *name, const char *incdir, char **cause)
{
	memset(cf, 0, sizeof(*cf));
	memset(r, 0, sizeof(*r));
	r->cf = cf;
	r->incdir = incdir;
	if (conffile_name(r, name) == -1) {
		*cause = NULL;
		return (-1);
	}
	return (0);
}

/* Read and expand the file at path. */
int
conffile_read(struct conffile *cf, const char *path, const char *incdir,
    char **cause)
{
	struct conffile_read	 r;
	struct stat		 st;
	const char		*why;
	char			*text;
	size_t			 len;
	int			 rv;

	if (conffile_begin(&r, cf, path, incdir, cause) == -1)
		return (-1);
	if ((text = conffile_slurp(path, &len, &st, &why)) == NULL) {
		if (asprintf(cause, "%s: cannot read: %s", path, why) == -1)
			*cause = NULL;
		return (-1);
	}
	rv = conffile_expand(&r, text, len, &st, cause);
	free(text);
	return (rv);
}

/* Expand a text named name. */
int
conffile_string(struct conffile *cf, const char *text, const char *name,
    const char *incdir, char **cause)
{
	struct conffile_read	 r;

	if (conffile_begin(&r, cf, name, incdir, cause) == -1)
		return (-1);
	return (conffile_expand(&r, text, strlen(text), NULL, cause));
}

/* Whether libconfig's int value of name at line was wrapped. */
bool
conffile_wrapped(const struct conffile *cf, int line, const char *name,
    int value)
{
	size_t	 i;

	for (i = 0; i < cf->nwraps; i++) {
		if (cf->wraps[i].line == line && cf->wraps[i].value == value &&
		    strcmp(cf->wraps[i].name, name) == 0)
			return (true);
	}
	return (false);
}

/* Index into names of the file that line of the text came from. */
size_t
conffile_index(const struct conffile *cf, int line)
{
	if (line < 1 || (size_t)line > cf->nlines)
		return (0);
	return (cf->lines[line - 1].file);
}

/* The file and line that line of the text came from. */
const char *
conffile_where(const struct conffile *cf, int line, int *fline)
{
	if (line < 1 || (size_t)line > cf->nlines) {
		*fline = line;
		return (cf->nnames > 0 ? cf->names[0] : NULL);
	}
	*fline = cf->lines[line - 1].line;
	return (cf->names[cf->lines[line - 1].file]);
}

/* Free what a read left; cf itself is the caller's. */
void
conffile_free(struct conffile *cf)
{
	size_t	 i;

	for (i = 0; i < cf->nnames; i++)
		free(cf->names[i]);
	free(cf->names);
	for (i = 0; i < cf->nwraps; i++)
		free(cf->wraps[i].name);
	free(cf->wraps);
	free(cf->nuls);
	free(cf->lines);
	free(cf->text);
	memset(cf, 0, sizeof(*cf));
}
