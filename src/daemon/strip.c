/*
 * strip.c: the strip rules of echod.conf(5), as pure functions on bytes.
 *
 * Every rule removes a prefix of what the rules before it left, so a whole
 * set reduces to one number: how many leading bytes to drop.  Nothing here
 * allocates once the set is built; the callers own the bytes.
 */

/* removed */

#include <assert.h>
#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strip.h"
#include "strip_re.h"

enum strip_kind {
	STRIP_BYTES,
	STRIP_PREFIX,
	STRIP_REGEX
};

struct strip_rule {
	enum strip_kind	 kind;
	size_t		 len;	/* bytes: count; prefix: length */
	unsigned char	*prefix;
	struct strip_re	*re;
};

struct strip_set {
	struct strip_rule	*rules;
	size_t			 count;
	size_t			 window;	/* see strip_window() */
	bool			 has_regex;
};

/* Bytes used when a caller passes no buffer for an empty message. */
static const char strip_empty[1];

/* Allocate an empty set. */
struct strip_set *
strip_set_new(void)
{
	return (calloc(1, sizeof(struct strip_set)));
}

/* Append a zeroed rule to the set; NULL when out of memory. */
static struct strip_rule *
strip_append(struct strip_set *set)
{
	struct strip_rule	*rules;

	rules = reallocarray(set->rules, set->count + 1, sizeof(*rules));
	if (rules == NULL)
		return (NULL);
	set->rules = rules;
	memset(&rules[set->count], 0, sizeof(rules[set->count]));
	return (&rules[set->count++]);
}

/* Grow the window by n, saturating: it is only ever a bound. */
static void
strip_widen(struct strip_set *set, size_t n)
{
	if (set->window > SIZE_MAX - n)
		set->window = SIZE_MAX;
	else
		set->window += n;
}

/* Add a `bytes = n` rule; 0 is allowed and removes nothing. */
int
strip_add_bytes(struct strip_set *set, size_t n, const char **cause)
{
	struct strip_rule	*r;

	if (n > STRIP_BYTES_MAX) {
		*cause = "bytes is larger than 16777216";
		return (-1);
	}
	if ((r = strip_append(set)) == NULL) {
		*cause = "out of memory";
		return (-1);
	}
	r->kind = STRIP_BYTES;
	r->len = n;
	strip_widen(set, n);
	return (0);
}

/* Add a `prefix` rule of len arbitrary bytes; an empty one removes nothing. */
int
strip_add_prefix(struct strip_set *set, const void *text, size_t len,
    const char **cause)
{
	struct strip_rule	*r;
	unsigned char		*copy;

	if (len > STRIP_PREFIX_MAX) {
		*cause = "prefix is longer than 1024 bytes";
		return (-1);
	}
	/* One spare byte, so that an empty prefix still gets a pointer. */
	if ((copy = malloc(len + 1)) == NULL) {
		*cause = "out of memory";
		return (-1);
	}
	if (len > 0)
		memcpy(copy, text, len);
	if ((r = strip_append(set)) == NULL) {
		free(copy);
		*cause = "out of memory";
		return (-1);
	}
	r->kind = STRIP_PREFIX;
	r->len = len;
	r->prefix = copy;
	strip_widen(set, len);
	return (0);
}

/* Append c to the translation; false when it would not fit. */
static bool
strip_put(char *out, size_t *n, size_t size, const char *s, size_t len)
{
	if (len >= size - *n)
		return (false);
	memcpy(out + *n, s, len);
	*n += len;
	out[*n] = '\0';
	return (true);
}

/* Append byte c as a literal, escaped if RE2 would take it otherwise. */
static bool
strip_put_literal(char *out, size_t *n, size_t size, unsigned char c)
{
	char	 esc[2] = { '\\', (char)c };

	/* RE2 takes an escaped ASCII punctuation mark as itself. */
	if (c < 0x80 && ispunct(c))
		return (strip_put(out, n, size, esc, 2));
	return (strip_put(out, n, size, esc + 1, 1));
}

/*
 * Translate the bracket expression at *pp (*pp[0] == '[') and step *pp
 * past it.  Inside one a POSIX backslash is an ordinary character, which
 * RE2 reads as an escape; and RE2 knows neither collating elements nor
 * equivalence classes, which in the C locale are the one character they
 * name ([[.-.]], [[=a=]]).  Character classes ([:alpha:]) pass as they
 * are.  An unterminated one is copied for RE2 to refuse.
 */
static int
strip_bracket(const char **pp, char *out, size_t *n, size_t size,
    char *buf, size_t len)
{
	const char	*p = *pp + 1, *e;
	char		 delim;

	if (!strip_put(out, n, size, "[", 1))
		goto toolong;
	if (*p == '^') {
		if (!strip_put(out, n, size, "^", 1))
			goto toolong;
		p++;
	}
	/* A ']' first in the list is an ordinary member. */
	if (*p == ']') {
		if (!strip_put(out, n, size, "\\]", 2))
			goto toolong;
		p++;
	}
	while (*p != '\0' && *p != ']') {
		if (p[0] == '[' && p[1] == ':') {
			if ((e = strstr(p + 2, ":]")) == NULL)
				e = p + strlen(p) - 2;
			if (!strip_put(out, n, size, p, (size_t)(e + 2 - p)))
				goto toolong;
			p = e + 2;
		} else if (p[0] == '[' && (p[1] == '.' || p[1] == '=')) {
			delim = p[1];
			e = p + 2;
			while (*e != '\0' && !(e[0] == delim && e[1] == ']'))
				e++;
			if (*e == '\0') {
				snprintf(buf, len, "unterminated [%c in a "
				    "bracket expression", delim);
				return (-1);
			}
			if (e != p + 3) {
				snprintf(buf, len, "%s [%c%.*s%c] names more "
				    "than one character (not supported)",
				    delim == '.' ? "collating element" :
				    "equivalence class", delim,
				    (int)(e - p - 2), p + 2, delim);
				return (-1);
			}
			if (!strip_put_literal(out, n, size,
			    (unsigned char)p[2]))
				goto toolong;
			p = e + 2;
		} else if (*p == '\\' || *p == '[') {
			if (!strip_put_literal(out, n, size, (unsigned char)*p))
				goto toolong;
			p++;
		} else {
			if (!strip_put(out, n, size, p, 1))
				goto toolong;
			p++;
		}
	}
	if (*p == ']') {
		if (!strip_put(out, n, size, "]", 1))
			goto toolong;
		p++;
	}
	*pp = p;
	return (0);
toolong:
	snprintf(buf, len, "longer than %d bytes", STRIP_REGEX_MAX);
	return (-1);
}

/*
 * Translate a POSIX ERE, as glibc's regcomp() read it in the C locale,
 * into the syntax RE2 reads with posix_syntax, keeping its meaning; or
 * refuse, with the reason in buf, what RE2 cannot match in linear time
 * or would read differently.  Outside brackets: a back-reference \1..\9
 * is refused (no automaton matches one: it is what made glibc take
 * seconds); so are GNU's \w \W \s \S \b \B \< \> \` \', which RE2 reads
 * as errors or as literals; any other escaped letter or digit is the
 * letter itself, as in glibc (RE2 would take \n as a newline); an
 * unmatched ')' is an ordinary character, as in glibc; {,n} means
 * {0,n}, as in glibc; and `.` matches any byte but NUL, as in glibc.
 */
static int
strip_translate(const char *ere, char *out, size_t size, char *buf,
    size_t len)
{
	const char	*p = ere;
	size_t		 n = 0, depth = 0;
	unsigned char	 c;

	out[0] = '\0';
	while (*p != '\0') {
		switch (*p) {
		case '\\':
			c = (unsigned char)p[1];
			if (c == '\0') {
				/* RE2 refuses it as glibc did. */
				if (!strip_put(out, &n, size, p, 1))
					goto toolong;
				p++;
				break;
			}
			if (c >= '1' && c <= '9') {
				snprintf(buf, len, "back-reference \\%c is not "
				    "supported", c);
				return (-1);
			}
			if (strchr("wWsSbB<>`'", c) != NULL) {
				snprintf(buf, len, "GNU escape \\%c is not "
				    "supported", c);
				return (-1);
			}
			if (!strip_put_literal(out, &n, size, c))
				goto toolong;
			p += 2;
			break;
		case '[':
			if (strip_bracket(&p, out, &n, size, buf, len) == -1)
				return (-1);
			break;
		case '(':
			depth++;
			if (!strip_put(out, &n, size, p++, 1))
				goto toolong;
			break;
		case ')':
			if (depth == 0) {
				if (!strip_put(out, &n, size, "\\)", 2))
					goto toolong;
			} else {
				depth--;
				if (!strip_put(out, &n, size, ")", 1))
					goto toolong;
			}
			p++;
			break;
		case '.':
			/* glibc's `.` (RE_DOT_NOT_NULL) matches any byte but NUL. */
			if (!strip_put(out, &n, size, "[^\\x00]", 7))
				goto toolong;
			p++;
			break;
		case '{':
			if (!strip_put(out, &n, size,
			    p[1] == ',' ? "{0" : "{", p[1] == ',' ? 2 : 1))
				goto toolong;
			p++;
			break;
		default:
			if (!strip_put(out, &n, size, p++, 1))
				goto toolong;
			break;
		}
	}
	return (0);
toolong:
	snprintf(buf, len, "longer than %d bytes", STRIP_REGEX_MAX);
	return (-1);
}

/*
 * Add a `regex` rule (POSIX ERE, see echod.conf(5) for what differs from
 * glibc's).  On error, -1 with the reason in buf.
 */
int
strip_add_regex(struct strip_set *set, const char *ere, char *buf,
    size_t len)
{
	struct strip_rule	*r;
	struct strip_re		*re;
	/* Each byte of the ERE becomes at most seven (`.`). */
	char			 out[7 * STRIP_REGEX_MAX + 1];

	if (strlen(ere) > STRIP_REGEX_MAX) {
		snprintf(buf, len, "longer than %d bytes", STRIP_REGEX_MAX);
		return (-1);
	}
	if (strip_translate(ere, out, sizeof(out), buf, len) == -1)
		return (-1);
	if ((re = strip_re_new(out, strlen(out), strcmp(out, ere) == 0, buf,
	    len)) == NULL)
		return (-1);
	if ((r = strip_append(set)) == NULL) {
		strip_re_free(re);
		snprintf(buf, len, "out of memory");
		return (-1);
	}
	r->kind = STRIP_REGEX;
	r->re = re;
	set->has_regex = true;
	set->window = SIZE_MAX;
	return (0);
}

/* Free a set and its rules; NULL is fine. */
void
strip_set_free(struct strip_set *set)
{
	size_t	 i;

	if (set == NULL)
		return;
	for (i = 0; i < set->count; i++) {
		free(set->rules[i].prefix);
		strip_re_free(set->rules[i].re);
	}
	free(set->rules);
	free(set);
}

/* Number of rules in the set. */
size_t
strip_count(const struct strip_set *set)
{
	return (set == NULL ? 0 : set->count);
}

/* Whether a rule of the set is a regular expression. */
bool
strip_has_regex(const struct strip_set *set)
{
	return (set != NULL && set->has_regex);
}

/* How many leading bytes the rules may need to see contiguously. */
size_t
strip_window(const struct strip_set *set)
{
	return (set == NULL ? 0 : set->window);
}

/*
 * Length of the match of a regex rule at the start of msg, or 0; within
 * the first STRIP_REGEX_WINDOW bytes, where a `$` matches only if the
 * message ends there.
 */
static size_t
strip_regex_match(const struct strip_rule *r, const char *msg, size_t len)
{
	size_t	 end;

	if (!strip_re_match(r->re, msg, len, STRIP_REGEX_WINDOW, &end))
		return (0);
	return (end);
}

/* Leading bytes of a complete message that the rules remove. */
size_t
strip_message(const struct strip_set *set, const void *msg, size_t len)
{
	const struct strip_rule	*r;
	const char		*p = msg;
	size_t			 i, off = 0, rest;

	if (p == NULL)
		p = strip_empty;
	for (i = 0; i < strip_count(set); i++) {
		r = &set->rules[i];
		rest = len - off;
		switch (r->kind) {
		case STRIP_BYTES:
			off += r->len < rest ? r->len : rest;
			break;
		case STRIP_PREFIX:
			if (rest >= r->len &&
			    memcmp(p + off, r->prefix, r->len) == 0)
				off += r->len;
			break;
		case STRIP_REGEX:
			off += strip_regex_match(r, p + off, rest);
			break;
		}
	}
	return (off);
}

/* Start applying a set to a new stream. */
void
strip_state_init(struct strip_state *st)
{
	st->rule = 0;
	st->done = 0;
}

/*
 * Apply the rules to the start of a stream arriving in pieces.  A `bytes`
 * rule counts what it removed in st->done; a `prefix` rule keeps no state:
 * while what arrived matches, the caller holds it and passes it again.
 * A regex rule cannot be decided before the end of a stream and config.c
 * refuses it with raw framing; here it is a programming error, caught by
 * assert(), and skipped as a no-op in a build with NDEBUG.
 */
enum strip_result
strip_stream(const struct strip_set *set, struct strip_state *st,
    const void *data, size_t len, bool eof, size_t *drop)
{
	const struct strip_rule	*r;
	const unsigned char	*p = data;
	size_t			 pos = 0, avail, take, cmp;

	if (p == NULL)
		p = (const unsigned char *)strip_empty;
	for (; st->rule < strip_count(set); st->rule++, st->done = 0) {
		r = &set->rules[st->rule];
		avail = len - pos;
		switch (r->kind) {
		case STRIP_BYTES:
			take = r->len - st->done;
			if (take > avail)
				take = avail;
			pos += take;
			st->done += take;
			/* At eof a short stream is simply removed whole. */
			if (st->done < r->len && !eof) {
				*drop = pos;
				return (STRIP_MORE);
			}
			break;
		case STRIP_PREFIX:
			cmp = r->len < avail ? r->len : avail;
			if (memcmp(p + pos, r->prefix, cmp) != 0)
				break;		/* a byte differs */
			if (avail >= r->len) {
				pos += r->len;
				break;
			}
			/* A match so far, but short: wait unless it ended. */
			if (!eof) {
				*drop = pos;
				return (STRIP_MORE);
			}
			break;
		case STRIP_REGEX:
			assert(!"regex rule in a stream");
			break;
		}
	}
	*drop = pos;
	return (STRIP_DONE);
}
