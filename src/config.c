/*
 * config.c: echod.conf(5) text -> an immutable, reference-counted struct
 * conf, with every error reported as "FILE:LINE: message".
 *
 * libconfig only parses.  Every key echod knows is described once, in
 * keys[] below (name, where it may appear, type, range, default); a generic
 * walk checks each group against that table and collects the values, and
 * small per-context functions turn them into struct conf and struct
 * listener_conf.  Nothing of libconfig survives: the result owns copies.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <libconfig.h>

#include "config.h"

/* Longest file we read: a configuration is a few kilobytes. */
#define CONF_FILE_MAX		(16 * 1024 * 1024)
/* libconfig 1.5 refuses deeper @include nesting itself. */
#define CONF_INCLUDE_DEPTH	10
/* Longest value quoted back in a message. */
#define CONF_QUOTE_MAX		64
/* Limits of SPEC §3 that are not in config.h. */
#define CONF_COUNT_MAX		1000000
#define CONF_IDLE_MAX		31536000	/* one year */
#define CONF_SHUTDOWN_MAX	3600
#define CONF_DATAGRAM_MAX	65507		/* largest UDP payload */
#define CONF_STRING_ANY		LLONG_MAX

/* Where a key may appear. */
enum conf_ctx {
	CTX_TOP,
	CTX_TIMEOUTS,		/* the global "timeouts" group */
	CTX_LISTENER,
	CTX_LTIMEOUTS,		/* a listener's "timeouts" group */
	CTX_STRIP
};

static const char *const ctx_where[] = {
	"at the top level",
	"in the global \"timeouts\"",
	"in a listener",
	"in a listener's \"timeouts\"",
	"in a strip rule"
};

enum key_type {
	KT_INT,			/* INT or INT64 in [min, max] */
	KT_DURATION,		/* INT, INT64 or FLOAT in [0, max] */
	KT_BOOL,
	KT_CHOICE,		/* one of choices[]; the value is its index */
	KT_STRING,		/* length in [min, max] */
	KT_GROUP,
	KT_LIST			/* a list of groups */
};

#define KF_REQUIRED	0x01
#define KF_TCP		0x02	/* an error on a UDP listener */
#define KF_UDP		0x04	/* an error on a TCP listener */

enum key_id {
	K_LOG_LEVEL,
	K_LOG_CONNECTIONS,
	K_LOG_RATE,
	K_WORKERS,
	K_EVENT_METHOD,
	K_MAX_CONNECTIONS,
	K_MAX_LINE,
	K_MAX_MEMORY,
	K_TIMEOUTS,
	K_LISTENERS,
	K_IDLE,
	K_WRITE,
	K_SHUTDOWN,
	K_L_NAME,
	K_L_PORT,
	K_L_ADDRESS,
	K_L_PROTOCOL,
	K_L_FRAMING,
	K_L_STRIP,
	K_L_TIMEOUTS,
	K_L_MAX_CONNECTIONS,
	K_L_UDP_RATE,
	K_L_UDP_BURST,
	K_L_MAX_DATAGRAM,
	K_LT_IDLE,
	K_LT_WRITE,
	K_S_BYTES,
	K_S_PREFIX,
	K_S_REGEX,
	K_COUNT
};

struct key {
	const char		*name;
	enum conf_ctx		 ctx;
	enum key_type		 type;
	long long		 min;	/* integers; string length */
	long long		 max;	/* and durations */
	double			 def;	/* numbers, bools, choices */
	const char		*sdef;	/* strings */
	const char *const	*choices;
	int			 flags;
};

static const char *const log_levels[] = {
	"debug", "info", "notice", "warning", "error", NULL
};
static const int log_priorities[] = {
	LOG_DEBUG, LOG_INFO, LOG_NOTICE, LOG_WARNING, LOG_ERR
};
static const char *const event_methods[] = {
	"auto", "epoll", "poll", "select", NULL
};
static const char *const protocols[] = { "tcp", "udp", NULL };
static const char *const framings[] = { "raw", "line", NULL };

/*
 * Every key of echod.conf(5).  A name may appear in several contexts with
 * different defaults (a listener's max_connections has none: no own
 * limit; a listener's idle has none: it inherits the global one), so each
 * row is one (name, context) pair.  echod.conf.5 documents this table.
 */
static const struct key keys[K_COUNT] = {
	[K_LOG_LEVEL] = { "log_level", CTX_TOP, KT_CHOICE,
	    .def = 1, .choices = log_levels },
	[K_LOG_CONNECTIONS] = { "log_connections", CTX_TOP, KT_BOOL,
	    .def = 1 },
	[K_LOG_RATE] = { "log_rate", CTX_TOP, KT_INT,
	    1, CONF_COUNT_MAX, .def = 100 },
	[K_WORKERS] = { "workers", CTX_TOP, KT_INT,
	    0, CONF_WORKERS_MAX, .def = 0 },
	[K_EVENT_METHOD] = { "event_method", CTX_TOP, KT_CHOICE,
	    .def = 0, .choices = event_methods },
	[K_MAX_CONNECTIONS] = { "max_connections", CTX_TOP, KT_INT,
	    1, CONF_COUNT_MAX, .def = 10000 },
	[K_MAX_LINE] = { "max_line", CTX_TOP, KT_INT,
	    CONF_MAX_LINE_MIN, CONF_MAX_LINE_MAX, .def = 65536 },
	[K_MAX_MEMORY] = { "max_memory", CTX_TOP, KT_INT,
	    CONF_MAX_MEMORY_MIN, CONF_MAX_MEMORY_MAX,
	    .def = CONF_MAX_MEMORY_DEFAULT },
	[K_TIMEOUTS] = { "timeouts", CTX_TOP, KT_GROUP },
	[K_LISTENERS] = { "listeners", CTX_TOP, KT_LIST,
	    .flags = KF_REQUIRED },

	[K_IDLE] = { "idle", CTX_TIMEOUTS, KT_DURATION,
	    0, CONF_IDLE_MAX, .def = 300 },
	[K_WRITE] = { "write", CTX_TIMEOUTS, KT_DURATION,
	    0, CONF_IDLE_MAX, .def = 30 },
	[K_SHUTDOWN] = { "shutdown", CTX_TIMEOUTS, KT_DURATION,
	    0, CONF_SHUTDOWN_MAX, .def = 5 },

	[K_L_NAME] = { "name", CTX_LISTENER, KT_STRING,
	    0, CONF_STRING_ANY, .flags = KF_REQUIRED },
	[K_L_PORT] = { "port", CTX_LISTENER, KT_INT,
	    1, 65535, .flags = KF_REQUIRED },
	[K_L_ADDRESS] = { "address", CTX_LISTENER, KT_STRING,
	    0, CONF_STRING_ANY, .sdef = "::" },
	[K_L_PROTOCOL] = { "protocol", CTX_LISTENER, KT_CHOICE,
	    .def = CONF_TCP, .choices = protocols },
	[K_L_FRAMING] = { "framing", CTX_LISTENER, KT_CHOICE,
	    .def = FRAMING_RAW, .choices = framings, .flags = KF_TCP },
	[K_L_STRIP] = { "strip", CTX_LISTENER, KT_LIST },
	[K_L_TIMEOUTS] = { "timeouts", CTX_LISTENER, KT_GROUP,
	    .flags = KF_TCP },
	[K_L_MAX_CONNECTIONS] = { "max_connections", CTX_LISTENER, KT_INT,
	    1, CONF_COUNT_MAX, .def = 0, .flags = KF_TCP },
	[K_L_UDP_RATE] = { "udp_rate", CTX_LISTENER, KT_INT,
	    1, CONF_COUNT_MAX, .def = CONF_UDP_RATE_DEFAULT,
	    .flags = KF_UDP },
	[K_L_UDP_BURST] = { "udp_burst", CTX_LISTENER, KT_INT,
	    1, CONF_COUNT_MAX, .def = CONF_UDP_BURST_DEFAULT,
	    .flags = KF_UDP },
	[K_L_MAX_DATAGRAM] = { "max_datagram", CTX_LISTENER, KT_INT,
	    1, CONF_DATAGRAM_MAX, .def = CONF_UDP_DATAGRAM_DEFAULT,
	    .flags = KF_UDP },

	[K_LT_IDLE] = { "idle", CTX_LTIMEOUTS, KT_DURATION,
	    0, CONF_IDLE_MAX },
	[K_LT_WRITE] = { "write", CTX_LTIMEOUTS, KT_DURATION,
	    0, CONF_IDLE_MAX },

	[K_S_BYTES] = { "bytes", CTX_STRIP, KT_INT,
	    1, STRIP_BYTES_MAX },
	[K_S_PREFIX] = { "prefix", CTX_STRIP, KT_STRING,
	    1, STRIP_PREFIX_MAX },
	[K_S_REGEX] = { "regex", CTX_STRIP, KT_STRING,
	    1, CONF_STRING_ANY },
};

/* One key of one group as found in the text. */
struct val {
	config_setting_t	*s;	/* NULL: absent */
	int			 ok;	/* present and valid */
	long long		 i;
	double			 d;
	const char		*str;	/* libconfig's: dies with it */
};

/* One error, kept with its place so the list can be sorted. */
struct perr {
	char			*text;
	const char		*file;	/* NULL: the top-level text */
	int			 line;	/* 0: none */
};

/* An integer literal libconfig 1.5 silently wrapped to int. */
struct overflow {
	char			*file;	/* NULL: the top-level text */
	int			 line;
	char			*name;	/* its setting */
	int			 value;	/* what libconfig made of it */
};

/* State of one load. */
struct parse {
	const char		*name;	/* the path or name as given */
	const char		*incdir;
	struct perr		*errs;
	size_t			 nerrs;
	int			 nomem;
	struct overflow		*ovf;
	size_t			 novf;
	/* Listeners checked so far, for duplicates and overlaps. */
	const char		**lfile;
	int			*lflags;
};

#define LF_NAME_OK	0x01
#define LF_ADDR_OK	0x02
#define LF_PORT_OK	0x04
#define LF_PROTO_OK	0x08
#define LF_ENDPOINT	(LF_ADDR_OK | LF_PORT_OK | LF_PROTO_OK)

/* Record one error at file:line (line 0: none). */
static void __attribute__((format(printf, 4, 5)))
conf_err(struct parse *p, const char *file, int line, const char *fmt, ...)
{
	struct perr	*n;
	va_list		 ap;
	char		*text;

	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) == -1) {
		va_end(ap);
		p->nomem = 1;
		return;
	}
	va_end(ap);
	n = reallocarray(p->errs, p->nerrs + 1, sizeof(*p->errs));
	if (n == NULL) {
		free(text);
		p->nomem = 1;
		return;
	}
	p->errs = n;
	p->errs[p->nerrs].text = text;
	p->errs[p->nerrs].file = file;
	p->errs[p->nerrs].line = line;
	p->nerrs++;
}

/* The file a setting comes from, as messages name it. */
static const char *
conf_file(config_setting_t *s)
{
	/* NULL for the top-level text: config_read_string() names nothing. */
	return (config_setting_source_file(s));
}

#define conf_serr(p, s, ...) \
	conf_err((p), conf_file(s), config_setting_source_line(s), __VA_ARGS__)

/* Copy src into dst quoted-printable: \xNN for anything not printable. */
static void
conf_quote(char *dst, size_t dstlen, const char *src)
{
	size_t	 n = 0, i;

	for (i = 0; src[i] != '\0' && n + 8 < dstlen; i++) {
		unsigned char	 c = src[i];

		if (i == CONF_QUOTE_MAX) {
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

/* Sort key of an error's file: the top-level text first. */
static int
conf_err_cmp(const struct perr *a, const struct perr *b)
{
	int	 la, lb;

	if (a->file != b->file) {
		if (a->file == NULL)
			return (-1);
		if (b->file == NULL)
			return (1);
		if (strcmp(a->file, b->file) != 0)
			return (strcmp(a->file, b->file));
	}
	/* An error without a line goes after those with one. */
	la = a->line == 0 ? INT_MAX : a->line;
	lb = b->line == 0 ? INT_MAX : b->line;
	return (la < lb ? -1 : la > lb);
}

/* Hand the collected errors over, sorted, as "FILE:LINE: message". */
static void
conf_err_finish(struct parse *p, struct conf_errors *errs)
{
	struct perr	 t;
	size_t		 i, j;
	char		*m;

	/* Stable insertion sort: later checks may report earlier lines. */
	for (i = 1; i < p->nerrs; i++) {
		t = p->errs[i];
		for (j = i; j > 0 && conf_err_cmp(&p->errs[j - 1], &t) > 0; j--)
			p->errs[j] = p->errs[j - 1];
		p->errs[j] = t;
	}
	if (errs != NULL && (errs->msgs = calloc(p->nerrs + 1,
	    sizeof(*errs->msgs))) == NULL)
		errs = NULL;
	for (i = 0; i < p->nerrs; i++) {
		const char	*file = p->errs[i].file, *dir = "";

		if (file == NULL)
			file = p->name;
		/*
		 * libconfig names an included file as the @include line wrote
		 * it, relative to the including file's directory: name it so
		 * that it can be opened (from "/", under systemd).
		 */
		else if (file[0] != '/' && p->incdir != NULL &&
		    strcmp(p->incdir, ".") != 0)
			dir = p->incdir;
		if (errs == NULL)
			m = NULL;
		else if (p->errs[i].line > 0) {
			if (asprintf(&m, "%s%s%s:%d: %s", dir, *dir ? "/" : "",
			    file, p->errs[i].line, p->errs[i].text) == -1)
				m = NULL;
		} else if (asprintf(&m, "%s%s%s: %s", dir, *dir ? "/" : "",
		    file, p->errs[i].text) == -1)
			m = NULL;
		if (m != NULL)
			errs->msgs[errs->n++] = m;
		free(p->errs[i].text);
	}
	free(p->errs);
	p->errs = NULL;
	p->nerrs = 0;
	if (p->nomem && errs != NULL && (m = strdup("out of memory")) != NULL)
		errs->msgs[errs->n++] = m;
}

/* Read a whole file into a NUL-terminated buffer; errno on failure. */
static char *
conf_read_file(const char *path, size_t *lenp)
{
	struct stat	 st;
	char		*buf = NULL, *n;
	size_t		 len = 0, cap = 0;
	ssize_t		 r;
	int		 fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (NULL);
	if (fstat(fd, &st) == -1)
		goto fail;
	/* fopen() and libconfig happily "read" a directory as empty. */
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		goto fail;
	}
	for (;;) {
		if (cap - len < 4096) {
			if (cap >= CONF_FILE_MAX) {
				errno = EFBIG;
				goto fail;
			}
			cap = cap == 0 ? 8192 : cap * 2;
			if ((n = realloc(buf, cap + 1)) == NULL)
				goto fail;
			buf = n;
		}
		r = read(fd, buf + len, cap - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			goto fail;
		if (r == 0)
			break;
		len += r;
	}
	close(fd);
	buf[len] = '\0';
	*lenp = len;
	return (buf);

fail:
	saved = errno;
	free(buf);
	close(fd);
	errno = saved;
	return (NULL);
}

/* Remember an integer literal that does not fit libconfig 1.5's int. */
static void
conf_overflow_add(struct parse *p, const char *file, int line,
    const char *name, int value)
{
	struct overflow	*n;

	n = reallocarray(p->ovf, p->novf + 1, sizeof(*p->ovf));
	if (n == NULL) {
		p->nomem = 1;
		return;
	}
	p->ovf = n;
	n = &p->ovf[p->novf];
	n->file = file == NULL ? NULL : strdup(file);
	n->name = strdup(name);
	n->line = line;
	n->value = value;
	if ((file != NULL && n->file == NULL) || n->name == NULL) {
		free(n->file);
		free(n->name);
		p->nomem = 1;
		return;
	}
	p->novf++;
}

/* Whether libconfig's INT setting s was wrapped from a bigger literal. */
static int
conf_overflowed(struct parse *p, config_setting_t *s)
{
	const char	*file = conf_file(s), *name = config_setting_name(s);
	int		 line = config_setting_source_line(s);
	size_t		 i;

	if (name == NULL)
		return (0);
	for (i = 0; i < p->novf; i++) {
		if (p->ovf[i].line != line || p->ovf[i].value !=
		    config_setting_get_int(s) ||
		    strcmp(p->ovf[i].name, name) != 0)
			continue;
		if ((file == NULL) != (p->ovf[i].file == NULL))
			continue;
		if (file == NULL || strcmp(file, p->ovf[i].file) == 0)
			return (1);
	}
	return (0);
}

/*
 * Whether the number token tok would not survive libconfig 1.5's int; if
 * so, *value is what libconfig keeps of it (the low 32 bits).
 */
static int
conf_literal_overflows(const char *tok, size_t len, int *value)
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
		return (0);
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
		return (0);	/* a float */
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
static int
conf_namechar(int c)
{
	return (isalnum(c) || c == '-' || c == '_' || c == '*');
}

static void	conf_prescan(struct parse *, const char *, const char *,
		    int);

/* Pre-scan the file an @include line names, as libconfig will find it. */
static void
conf_prescan_include(struct parse *p, const char *name, int depth)
{
	char	*path, *text;
	size_t	 len;

	if (depth >= CONF_INCLUDE_DEPTH)
		return;
	if (p->incdir != NULL && name[0] != '/') {
		if (asprintf(&path, "%s/%s", p->incdir, name) == -1) {
			p->nomem = 1;
			return;
		}
	} else if ((path = strdup(name)) == NULL) {
		p->nomem = 1;
		return;
	}
	/* If it cannot be read, libconfig reports that itself. */
	if ((text = conf_read_file(path, &len)) != NULL) {
		conf_prescan(p, text, name, depth + 1);
		free(text);
	}
	free(path);
}

/*
 * libconfig 1.5 reads a decimal literal with atoi() and a hex one into an
 * int, so "max_connections = 4294967297;" silently becomes 1 (only an L
 * suffix makes an INT64).  Find such literals in the text before libconfig
 * does, skipping strings and comments, and remember the setting each one
 * belongs to (file, line, name) so the validator can reject it.
 */
static void
conf_prescan(struct parse *p, const char *text, const char *file, int depth)
{
	const char	*c = text, *t, *q;
	char		 last[128] = "", *inc;
	int		 line = 1, bol = 1, value;
	size_t		 n;

	while (*c != '\0') {
		if (*c == '\n') {
			line++;
			bol = 1;
			c++;
		} else if (isspace((unsigned char)*c))
			c++;
		else if (bol && strncmp(c, "@include", 8) == 0) {
			t = c + 8;
			while (*t == ' ' || *t == '\t')
				t++;
			if (*t == '"' && (q = strpbrk(t + 1, "\"\n")) != NULL &&
			    *q == '"') {
				if ((inc = strndup(t + 1, q - t - 1)) == NULL)
					p->nomem = 1;
				else {
					conf_prescan_include(p, inc, depth);
					free(inc);
				}
			}
			c += strcspn(c, "\n");
		} else if (*c == '#' || (c[0] == '/' && c[1] == '/')) {
			bol = 0;
			c += strcspn(c, "\n");
		} else if (c[0] == '/' && c[1] == '*') {
			bol = 0;
			for (c += 2; *c != '\0' &&
			    !(c[0] == '*' && c[1] == '/'); c++)
				if (*c == '\n')
					line++;
			if (*c != '\0')
				c += 2;
		} else if (*c == '"') {
			bol = 0;
			for (c++; *c != '\0' && *c != '"'; c++) {
				/* libconfig ends the string at \x00, silently. */
				if (c[0] == '\\' && (c[1] == 'x' || c[1] == 'X') &&
				    c[2] == '0' && c[3] == '0')
					conf_err(p, file, line, "a string must not "
					    "hold a NUL byte (\\x00)");
				if (*c == '\\' && c[1] != '\0')
					c++;
				if (*c == '\n')
					line++;
			}
			if (*c != '\0')
				c++;
		} else if (isalpha((unsigned char)*c) || *c == '*') {
			bol = 0;
			for (t = c; conf_namechar((unsigned char)*c); c++)
				;
			n = c - t < (ptrdiff_t)sizeof(last) ? (size_t)(c - t) :
			    sizeof(last) - 1;
			memcpy(last, t, n);
			last[n] = '\0';
		} else if (isdigit((unsigned char)*c) ||
		    ((*c == '+' || *c == '-' || *c == '.') &&
		    (isdigit((unsigned char)c[1]) || c[1] == '.'))) {
			bol = 0;
			for (t = c; isalnum((unsigned char)*c) || *c == '.' ||
			    *c == '+' || *c == '-'; c++)
				;
			if (last[0] != '\0' &&
			    conf_literal_overflows(t, c - t, &value))
				conf_overflow_add(p, file, line, last, value);
		} else {
			bol = 0;
			c++;
		}
	}
}

/* Check one setting against its key and store it in v. */
static void
conf_value(struct parse *p, const struct key *k, config_setting_t *s,
    struct val *v)
{
	int		 type = config_setting_type(s);
	char		*list = NULL, *n;
	size_t		 i, len;

	v->s = s;
	switch (k->type) {
	case KT_INT:
		if ((type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64) ||
		    (type == CONFIG_TYPE_INT && conf_overflowed(p, s)))
			break;
		v->i = config_setting_get_int64(s);
		if (v->i < k->min || v->i > k->max)
			break;
		v->ok = 1;
		return;
	case KT_DURATION:
		if (type == CONFIG_TYPE_INT && conf_overflowed(p, s))
			break;
		if (type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64) {
			long long	 ll = config_setting_get_int64(s);

			if (ll < 0 || ll > k->max)
				break;
			v->d = ll;
		} else if (type == CONFIG_TYPE_FLOAT) {
			v->d = config_setting_get_float(s);
			if (!isfinite(v->d) || v->d < 0 || v->d > k->max)
				break;
		} else
			break;
		v->ok = 1;
		return;
	case KT_BOOL:
		if (type != CONFIG_TYPE_BOOL)
			break;
		v->i = config_setting_get_bool(s);
		v->ok = 1;
		return;
	case KT_CHOICE:
		if (type != CONFIG_TYPE_STRING)
			break;
		v->str = config_setting_get_string(s);
		for (i = 0; k->choices[i] != NULL; i++) {
			if (strcmp(v->str, k->choices[i]) == 0) {
				v->i = i;
				v->ok = 1;
				return;
			}
		}
		break;
	case KT_STRING:
		if (type != CONFIG_TYPE_STRING) {
			conf_serr(p, s, "\"%s\" must be a string", k->name);
			return;
		}
		v->str = config_setting_get_string(s);
		len = strlen(v->str);
		if ((long long)len >= k->min && (long long)len <= k->max) {
			v->ok = 1;
			return;
		}
		if (k->max == CONF_STRING_ANY)
			conf_serr(p, s, "\"%s\" must not be empty", k->name);
		else
			conf_serr(p, s, "\"%s\" must be a string of %lld to "
			    "%lld bytes", k->name, k->min, k->max);
		return;
	case KT_GROUP:
		if (type != CONFIG_TYPE_GROUP)
			break;
		v->ok = 1;
		return;
	case KT_LIST:
		/* "()" and "[]" are both an empty list to the reader. */
		if (type != CONFIG_TYPE_LIST && !(type == CONFIG_TYPE_ARRAY &&
		    config_setting_length(s) == 0))
			break;
		v->ok = 1;
		return;
	}

	/* Wrong type or out of range: say what is expected. */
	switch (k->type) {
	case KT_INT:
		conf_serr(p, s, "\"%s\" must be an integer from %lld to %lld",
		    k->name, k->min, k->max);
		break;
	case KT_DURATION:
		conf_serr(p, s, "\"%s\" must be a number of seconds from 0 "
		    "to %lld", k->name, k->max);
		break;
	case KT_BOOL:
		conf_serr(p, s, "\"%s\" must be true or false", k->name);
		break;
	case KT_CHOICE:
		for (i = 0; k->choices[i] != NULL; i++) {
			if (asprintf(&n, "%s%s\"%s\"", list == NULL ? "" : list,
			    i == 0 ? "" : ", ", k->choices[i]) == -1) {
				free(list);
				p->nomem = 1;
				return;
			}
			free(list);
			list = n;
		}
		conf_serr(p, s, "\"%s\" must be one of %s", k->name, list);
		free(list);
		break;
	case KT_GROUP:
		conf_serr(p, s, "\"%s\" must be a group ({ ... })", k->name);
		break;
	case KT_LIST:
		conf_serr(p, s, "\"%s\" must be a list of groups (( ... ))",
		    k->name);
		break;
	case KT_STRING:
		break;
	}
}

/* Check every key of group g against the keys of ctx; fill vals. */
static void
conf_walk(struct parse *p, config_setting_t *g, enum conf_ctx ctx,
    struct val *vals)
{
	config_setting_t	*s;
	const char		*name;
	int			 i, n, k, other;

	memset(vals, 0, K_COUNT * sizeof(*vals));
	n = config_setting_length(g);
	for (i = 0; i < n; i++) {
		s = config_setting_get_elem(g, i);
		name = config_setting_name(s);
		other = -1;
		for (k = 0; k < K_COUNT; k++) {
			if (strcmp(keys[k].name, name) != 0)
				continue;
			if (keys[k].ctx == ctx)
				break;
			other = k;
		}
		if (k < K_COUNT)
			conf_value(p, &keys[k], s, &vals[k]);
		else if (other != -1)
			conf_serr(p, s, "\"%s\" is not allowed %s", name,
			    ctx_where[ctx]);
		else
			conf_serr(p, s, "unknown key \"%s\"", name);
	}
}

/* An integer key's value, or its default when absent or invalid. */
static long long
conf_int(const struct val *vals, enum key_id k)
{
	return (vals[k].ok ? vals[k].i : (long long)keys[k].def);
}

/* A duration key's value, or its default when absent or invalid. */
static double
conf_sec(const struct val *vals, enum key_id k)
{
	return (vals[k].ok ? vals[k].d : keys[k].def);
}

/* Seconds to a timeval; a positive duration never rounds to 0 (never). */
static struct timeval
conf_tv(double sec)
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

/* Whether name is 1-64 of A-Z a-z 0-9 _ . - (logs and FileDescriptorName). */
static int
conf_name_valid(const char *name)
{
	size_t	 i;

	for (i = 0; name[i] != '\0'; i++) {
		if (!isalnum((unsigned char)name[i]) && name[i] != '_' &&
		    name[i] != '.' && name[i] != '-')
			return (0);
	}
	return (i >= 1 && i <= CONF_NAME_MAX);
}

/* Fill l->ss from its address and port; 0, or -1 if not a literal. */
static int
conf_sockaddr(struct listener_conf *l, const char *addr)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)&l->ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&l->ss;

	memset(&l->ss, 0, sizeof(l->ss));
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(l->port);
		l->sslen = sizeof(*sin);
		l->wildcard = sin->sin_addr.s_addr == htonl(INADDR_ANY);
	} else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(l->port);
		l->sslen = sizeof(*sin6);
		l->wildcard = IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr);
	} else
		return (-1);
	/* Every literal inet_pton() accepts is shorter than this. */
	snprintf(l->address, sizeof(l->address), "%s", addr);
	return (0);
}

/* Build the strip set of listener l from its "strip" list. */
static void
conf_strip(struct parse *p, config_setting_t *list, struct listener_conf *l,
    int framing_ok)
{
	struct val		 vals[K_COUNT];
	config_setting_t	*g;
	const char		*cause;
	char			 why[256], q[CONF_QUOTE_MAX * 4 + 8];
	int			 i, n, k, found, which = 0;

	n = config_setting_length(list);
	if (n == 0)
		return;
	if ((l->strip = strip_set_new()) == NULL) {
		p->nomem = 1;
		return;
	}
	for (i = 0; i < n; i++) {
		g = config_setting_get_elem(list, i);
		if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
			conf_serr(p, g, "each strip rule must be a group "
			    "({ ... })");
			continue;
		}
		conf_walk(p, g, CTX_STRIP, vals);
		found = 0;
		for (k = K_S_BYTES; k <= K_S_REGEX; k++) {
			if (vals[k].s != NULL) {
				found++;
				which = k;
			}
		}
		if (found != 1) {
			conf_serr(p, g, "a strip rule needs exactly one of "
			    "\"bytes\", \"prefix\" or \"regex\"");
			continue;
		}
		if (!vals[which].ok)
			continue;
		cause = NULL;
		switch (which) {
		case K_S_BYTES:
			if (strip_add_bytes(l->strip, vals[which].i,
			    &cause) == -1)
				conf_serr(p, vals[which].s, "\"bytes\": %s",
				    cause != NULL ? cause : "rejected");
			break;
		case K_S_PREFIX:
			if (strip_add_prefix(l->strip, vals[which].str,
			    strlen(vals[which].str), &cause) == -1)
				conf_serr(p, vals[which].s, "\"prefix\": %s",
				    cause != NULL ? cause : "rejected");
			break;
		case K_S_REGEX:
			/* Raw framing has no message end to anchor a match. */
			if (framing_ok && l->protocol == CONF_TCP &&
			    l->framing == FRAMING_RAW)
				conf_serr(p, vals[which].s, "\"regex\" is not "
				    "allowed with raw framing (use framing = "
				    "\"line\")");
			why[0] = '\0';
			if (strip_add_regex(l->strip, vals[which].str, why,
			    sizeof(why)) == -1) {
				conf_quote(q, sizeof(q), vals[which].str);
				conf_serr(p, vals[which].s, "invalid regex "
				    "\"%s\": %s", q, why[0] != '\0' ? why :
				    "rejected");
			}
			break;
		}
	}
}

/* Check listener group g into l, against the n listeners before it. */
static void
conf_listener(struct parse *p, config_setting_t *g, struct conf *c, size_t n)
{
	struct listener_conf	*l = &c->listeners[n], *o;
	struct val		 vals[K_COUNT], tvals[K_COUNT];
	const char		*ofile;
	char			 q[CONF_QUOTE_MAX * 4 + 8], where[512];
	int			 k, *flags = &p->lflags[n];
	size_t			 i;

	l->line = config_setting_source_line(g);
	p->lfile[n] = conf_file(g);
	conf_walk(p, g, CTX_LISTENER, vals);

	for (k = K_L_NAME; k <= K_L_MAX_DATAGRAM; k++) {
		if ((keys[k].flags & KF_REQUIRED) && vals[k].s == NULL)
			conf_serr(p, g, "\"%s\" is required", keys[k].name);
	}
	if (vals[K_L_NAME].ok) {
		if (conf_name_valid(vals[K_L_NAME].str)) {
			snprintf(l->name, sizeof(l->name), "%s",
			    vals[K_L_NAME].str);
			*flags |= LF_NAME_OK;
		} else {
			conf_quote(q, sizeof(q), vals[K_L_NAME].str);
			conf_serr(p, vals[K_L_NAME].s, "invalid listener name "
			    "\"%s\": use 1 to %d of A-Z a-z 0-9 _ . -", q,
			    CONF_NAME_MAX);
		}
	}
	if (vals[K_L_PORT].ok)
		*flags |= LF_PORT_OK;
	if (vals[K_L_PROTOCOL].ok || vals[K_L_PROTOCOL].s == NULL)
		*flags |= LF_PROTO_OK;
	l->protocol = conf_int(vals, K_L_PROTOCOL);
	l->port = conf_int(vals, K_L_PORT);
	l->framing = conf_int(vals, K_L_FRAMING);
	l->max_connections = conf_int(vals, K_L_MAX_CONNECTIONS);
	l->udp_rate = conf_int(vals, K_L_UDP_RATE);
	l->udp_burst = conf_int(vals, K_L_UDP_BURST);
	l->max_datagram = conf_int(vals, K_L_MAX_DATAGRAM);

	/* Keys of the other protocol, known only once "protocol" is. */
	if (*flags & LF_PROTO_OK) {
		for (k = K_L_NAME; k <= K_L_MAX_DATAGRAM; k++) {
			if (vals[k].s == NULL)
				continue;
			if (((keys[k].flags & KF_TCP) &&
			    l->protocol != CONF_TCP) ||
			    ((keys[k].flags & KF_UDP) &&
			    l->protocol != CONF_UDP))
				conf_serr(p, vals[k].s, "\"%s\" is not allowed "
				    "on a %s listener", keys[k].name,
				    protocols[l->protocol]);
		}
	}

	if (vals[K_L_ADDRESS].s == NULL || vals[K_L_ADDRESS].ok) {
		const char	*addr = vals[K_L_ADDRESS].s == NULL ?
		    keys[K_L_ADDRESS].sdef : vals[K_L_ADDRESS].str;

		if (conf_sockaddr(l, addr) == 0)
			*flags |= LF_ADDR_OK;
		else {
			conf_quote(q, sizeof(q), addr);
			conf_serr(p, vals[K_L_ADDRESS].s, "invalid address "
			    "\"%s\": not an IPv4 or IPv6 literal", q);
		}
	}

	l->idle = c->idle;
	l->write = c->write;
	if (vals[K_L_TIMEOUTS].ok) {
		conf_walk(p, vals[K_L_TIMEOUTS].s, CTX_LTIMEOUTS, tvals);
		if (tvals[K_LT_IDLE].ok)
			l->idle = conf_tv(tvals[K_LT_IDLE].d);
		if (tvals[K_LT_WRITE].ok)
			l->write = conf_tv(tvals[K_LT_WRITE].d);
	}
	if (vals[K_L_STRIP].ok)
		conf_strip(p, vals[K_L_STRIP].s, l,
		    vals[K_L_FRAMING].s == NULL || vals[K_L_FRAMING].ok);

	for (i = 0; i < n; i++) {
		o = &c->listeners[i];
		ofile = p->lfile[i];
		if (ofile == p->lfile[n] || (ofile != NULL &&
		    p->lfile[n] != NULL && strcmp(ofile, p->lfile[n]) == 0))
			snprintf(where, sizeof(where), "line %d", o->line);
		else
			snprintf(where, sizeof(where), "%s:%d",
			    ofile == NULL ? p->name : ofile, o->line);
		if ((*flags & LF_NAME_OK) && (p->lflags[i] & LF_NAME_OK) &&
		    strcmp(l->name, o->name) == 0)
			conf_serr(p, vals[K_L_NAME].s, "duplicate listener "
			    "name \"%s\" (first on %s)", l->name, where);
		if ((*flags & LF_ENDPOINT) != LF_ENDPOINT ||
		    (p->lflags[i] & LF_ENDPOINT) != LF_ENDPOINT)
			continue;
		/* Same protocol and port is ours to check, not the helper's. */
		if (l->protocol == o->protocol && l->port == o->port &&
		    config_addr_overlap(l, o))
			conf_serr(p, g, "listener \"%s\" overlaps listener "
			    "\"%s\" (%s): both %s port %u on \"%s\" and "
			    "\"%s\"", l->name, o->name, where,
			    protocols[l->protocol], l->port, l->address,
			    o->address);
	}
}

/* Check the "listeners" list into c->listeners. */
static void
conf_listeners(struct parse *p, config_setting_t *list, struct conf *c)
{
	config_setting_t	*g;
	size_t			 i, n;

	n = config_setting_length(list);
	if (n == 0) {
		conf_serr(p, list, "\"listeners\" must not be empty");
		return;
	}
	c->listeners = calloc(n, sizeof(*c->listeners));
	p->lfile = calloc(n, sizeof(*p->lfile));
	p->lflags = calloc(n, sizeof(*p->lflags));
	if (c->listeners == NULL || p->lfile == NULL || p->lflags == NULL) {
		p->nomem = 1;
		return;
	}
	for (i = 0; i < n; i++) {
		g = config_setting_get_elem(list, i);
		c->nlisteners++;
		if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
			conf_serr(p, g, "each listener must be a group "
			    "({ ... })");
			continue;
		}
		conf_listener(p, g, c, i);
	}
}

/* Check the whole parsed tree into c. */
static void
conf_top(struct parse *p, config_t *cfg, struct conf *c)
{
	struct val	 vals[K_COUNT], tvals[K_COUNT];

	conf_walk(p, config_root_setting(cfg), CTX_TOP, vals);

	c->log_level = log_priorities[conf_int(vals, K_LOG_LEVEL)];
	c->log_connections = conf_int(vals, K_LOG_CONNECTIONS);
	c->log_rate = conf_int(vals, K_LOG_RATE);
	c->workers = conf_int(vals, K_WORKERS);
	snprintf(c->event_method, sizeof(c->event_method), "%s",
	    event_methods[conf_int(vals, K_EVENT_METHOD)]);
	c->max_connections = conf_int(vals, K_MAX_CONNECTIONS);
	c->max_line = conf_int(vals, K_MAX_LINE);
	c->max_memory = conf_int(vals, K_MAX_MEMORY);

	/* Defaults first, so an absent or broken group still has them. */
	memset(tvals, 0, sizeof(tvals));
	if (vals[K_TIMEOUTS].ok)
		conf_walk(p, vals[K_TIMEOUTS].s, CTX_TIMEOUTS, tvals);
	c->idle = conf_tv(conf_sec(tvals, K_IDLE));
	c->write = conf_tv(conf_sec(tvals, K_WRITE));
	c->shutdown = conf_tv(conf_sec(tvals, K_SHUTDOWN));

	if (vals[K_LISTENERS].s == NULL)
		conf_err(p, NULL, 0, "\"listeners\" is required");
	else if (vals[K_LISTENERS].ok)
		conf_listeners(p, vals[K_LISTENERS].s, c);
}

/* Free what a struct conf owns, and it. */
static void
conf_free(struct conf *c)
{
	size_t	 i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nlisteners; i++)
		strip_set_free(c->listeners[i].strip);
	free(c->listeners);
	free(c->path);
	free(c);
}

/*
 * libconfig could not parse: report its error.  For an @include it says
 * only "cannot open include file"; name the file and say why, so the
 * admin knows what to fix.
 */
static void
conf_err_read(struct parse *p, config_t *cfg, const char *text)
{
	const char	*file = config_error_file(cfg), *l, *q;
	char		*own = NULL, *path = NULL, *name = NULL;
	int		 line = config_error_line(cfg), i, saved;
	size_t		 len;

	if (strcmp(config_error_text(cfg), "cannot open include file") != 0)
		goto plain;
	/* The text of the file holding the @include line. */
	if (file != NULL) {
		if (asprintf(&path, "%s/%s", p->incdir != NULL ? p->incdir :
		    ".", file) == -1 ||
		    (own = conf_read_file(path, &len)) == NULL)
			goto plain;
		text = own;
		free(path);
		path = NULL;
	}
	for (l = text, i = 1; i < line && (l = strchr(l, '\n')) != NULL; i++)
		l++;
	if (l == NULL || (l = strstr(l, "@include")) == NULL ||
	    (l = strchr(l, '"')) == NULL || (q = strchr(l + 1, '"')) == NULL ||
	    (name = strndup(l + 1, (size_t)(q - l - 1))) == NULL)
		goto plain;
	if (name[0] == '/')
		conf_err(p, file, line, "cannot open include file \"%s\": "
		    "libconfig 1.5 reads @include paths relative to the "
		    "including file's directory, write it relative", name);
	else if (asprintf(&path, "%s/%s", p->incdir != NULL ? p->incdir :
	    ".", name) != -1) {
		saved = access(path, R_OK) == 0 ? 0 : errno;
		conf_err(p, file, line, "cannot open include file %s: %s",
		    path, saved != 0 ? strerror(saved) : "unreadable");
	} else
		goto plain;
	free(name);
	free(path);
	free(own);
	return;
plain:
	conf_err(p, file, line, "%s", config_error_text(cfg));
	free(name);
	free(path);
	free(own);
}

/*
 * Parse text (named name in messages; includes relative to incdir) and
 * validate all of it.  A fresh config_t each time: libconfig 1.5 wipes the
 * object it reads into even when parsing fails.
 */
static struct conf *
conf_parse(const char *text, const char *name, const char *incdir,
    struct conf_errors *errs)
{
	struct parse	 p;
	struct conf	*c = NULL;
	config_t	 cfg;
	size_t		 i;

	memset(&p, 0, sizeof(p));
	p.name = name == NULL ? "<string>" : name;
	p.incdir = incdir;

	config_init(&cfg);
	if (incdir != NULL)
		config_set_include_dir(&cfg, incdir);
	if (!config_read_string(&cfg, text)) {
		conf_err_read(&p, &cfg, text);
		goto done;
	}
	conf_prescan(&p, text, NULL, 0);
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->path = strdup(p.name)) == NULL) {
		p.nomem = 1;
		goto done;
	}
	atomic_init(&c->refcnt, 1);
	conf_top(&p, &cfg, c);

done:
	if (c != NULL && (p.nomem || p.nerrs > 0)) {
		conf_free(c);
		c = NULL;
	}
	/* Messages are formatted before libconfig's file names go away. */
	conf_err_finish(&p, c == NULL ? errs : NULL);
	config_destroy(&cfg);
	for (i = 0; i < p.novf; i++) {
		free(p.ovf[i].file);
		free(p.ovf[i].name);
	}
	free(p.ovf);
	free(p.lfile);
	free(p.lflags);
	return (c);
}

/* Report one error that has no parse behind it (the file is unreadable). */
static void
conf_errors_one(struct conf_errors *errs, const char *fmt, ...)
{
	va_list	 ap;
	char	*m;

	if (errs == NULL || (errs->msgs = calloc(2, sizeof(*errs->msgs))) ==
	    NULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(&m, fmt, ap) == -1)
		m = strdup("out of memory");
	va_end(ap);
	if (m != NULL)
		errs->msgs[errs->n++] = m;
}

/* Read, parse and validate the file at path. */
struct conf *
config_load(const char *path, struct conf_errors *errs)
{
	struct conf	*c;
	const char	*nul, *lf;
	char		*text, *dir, *slash;
	size_t		 len;
	int		 line;

	if (errs != NULL)
		memset(errs, 0, sizeof(*errs));
	if ((text = conf_read_file(path, &len)) == NULL) {
		conf_errors_one(errs, "%s: cannot read: %s", path,
		    strerror(errno));
		return (NULL);
	}
	/* libconfig would silently stop reading at a NUL byte. */
	if ((nul = memchr(text, '\0', len)) != NULL) {
		for (line = 1, lf = text; (lf = memchr(lf, '\n', nul - lf)) !=
		    NULL; lf++)
			line++;
		conf_errors_one(errs, "%s:%d: NUL byte in the text", path,
		    line);
		free(text);
		return (NULL);
	}
	/* @include is relative to the file, not to the cwd ("/" in a unit). */
	if ((dir = strdup(path)) == NULL) {
		free(text);
		conf_errors_one(errs, "%s: out of memory", path);
		return (NULL);
	}
	if ((slash = strrchr(dir, '/')) == NULL)
		snprintf(dir, strlen(dir) + 1, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	c = conf_parse(text, path, dir, errs);
	free(dir);
	free(text);
	return (c);
}

/* The same from a string, for the unit tests and the fuzzer. */
struct conf *
config_parse(const char *text, const char *name, struct conf_errors *errs)
{
	if (errs != NULL)
		memset(errs, 0, sizeof(*errs));
	return (conf_parse(text, name, NULL, errs));
}

/*
 * A configuration of one listener, lc (its strip rules are not taken),
 * with the global settings of base: what serves a passed socket that no
 * listener claims.  Sessions hold it like any other.  NULL without
 * memory.
 */
struct conf *
config_fallback(const struct conf *base, const struct listener_conf *lc)
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
	c->listeners[0] = *lc;
	c->listeners[0].strip = NULL;
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
		conf_free(c);
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
	const struct sockaddr_in	*sin = (const void *)&l->ss;
	const struct sockaddr_in6	*sin6 = (const void *)&l->ss;
	char				 a[INET6_ADDRSTRLEN];
	const char			*proto;

	proto = l->protocol == CONF_UDP ? "udp" : "tcp";
	if (l->ss.ss_family == AF_INET6 &&
	    inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a)) != NULL)
		snprintf(buf, len, "%s [%s]:%u", proto, a, l->port);
	else if (l->ss.ss_family == AF_INET &&
	    inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a)) != NULL)
		snprintf(buf, len, "%s %s:%u", proto, a, l->port);
	else
		snprintf(buf, len, "%s %s:%u", proto, l->address, l->port);
}

/* The IPv4 address an AF_INET or v4-mapped AF_INET6 sockaddr holds. */
static int
conf_addr_v4(const struct sockaddr_storage *ss, struct in_addr *in)
{
	const struct sockaddr_in	*sin = (const void *)ss;
	const struct sockaddr_in6	*sin6 = (const void *)ss;

	if (ss->ss_family == AF_INET) {
		*in = sin->sin_addr;
		return (1);
	}
	if (ss->ss_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		memcpy(&in->s_addr, &sin6->sin6_addr.s6_addr[12], 4);
		return (1);
	}
	return (0);
}

/*
 * Only the addresses: whether both have the same protocol and port is the
 * caller's business.  "::" covers everything (echod binds it dual-stack),
 * "0.0.0.0" every IPv4 address; a v4-mapped IPv6 address is its IPv4 one.
 */
bool
config_addr_overlap(const struct listener_conf *a,
    const struct listener_conf *b)
{
	const struct sockaddr_in6	*a6 = (const void *)&a->ss;
	const struct sockaddr_in6	*b6 = (const void *)&b->ss;
	struct in_addr			 a4, b4;
	int				 isa4, isb4;

	if ((a->ss.ss_family == AF_INET6 &&
	    IN6_IS_ADDR_UNSPECIFIED(&a6->sin6_addr)) ||
	    (b->ss.ss_family == AF_INET6 &&
	    IN6_IS_ADDR_UNSPECIFIED(&b6->sin6_addr)))
		return (true);
	isa4 = conf_addr_v4(&a->ss, &a4);
	isb4 = conf_addr_v4(&b->ss, &b4);
	if (isa4 && isb4)
		return (a4.s_addr == htonl(INADDR_ANY) ||
		    b4.s_addr == htonl(INADDR_ANY) || a4.s_addr == b4.s_addr);
	if (isa4 || isb4)
		return (false);
	return (a->ss.ss_family == AF_INET6 && b->ss.ss_family == AF_INET6 &&
	    IN6_ARE_ADDR_EQUAL(&a6->sin6_addr, &b6->sin6_addr));
}
