/*
 * strip.c: the strip rules of echod.conf(5), as pure functions on bytes.
 *
 * Every rule removes a prefix of what the rules before it left, so a whole
 * set reduces to one number: how many leading bytes to drop.  Nothing here
 * allocates once the set is built; the callers own the bytes.
 */

/* removed */

#include <assert.h>
#include <limits.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strip.h"

enum strip_kind {
	STRIP_BYTES,
	STRIP_PREFIX,
	STRIP_REGEX
};

struct strip_rule {
	enum strip_kind	 kind;
	size_t		 len;	/* bytes: count; prefix: length */
	unsigned char	*prefix;
	regex_t		 re;
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

/* Skip a bracket expression starting at p[0] == '['; NULL if unterminated. */
static const char *
strip_skip_bracket(const char *p)
{
	char	 delim;

	p++;
	if (*p == '^')
		p++;
	/* A ']' first in the list is an ordinary member. */
	if (*p == ']')
		p++;
	while (*p != '\0' && *p != ']') {
		if (p[0] == '[' && (p[1] == ':' || p[1] == '.' ||
		    p[1] == '=')) {
			delim = p[1];
			p += 2;
			while (*p != '\0' && !(p[0] == delim && p[1] == ']'))
				p++;
			if (*p == '\0')
				return (NULL);
			p += 2;
		} else
			p++;
	}
	return (*p == ']' ? p + 1 : NULL);
}

/*
 * Whether ere keeps its meaning inside "^(" ere ")": its parentheses are
 * balanced (glibc takes an unmatched ')' as an ordinary character) and it
 * has no back-references (the extra group would renumber them).
 */
static bool
strip_wrappable(const char *ere)
{
	const char	*p = ere;
	size_t		 depth = 0;

	while (*p != '\0') {
		switch (*p) {
		case '\\':
			if (p[1] >= '1' && p[1] <= '9')
				return (false);
			if (p[1] == '\0')
				return (false);
			p += 2;
			break;
		case '[':
			if ((p = strip_skip_bracket(p)) == NULL)
				return (false);
			break;
		case '(':
			depth++;
			p++;
			break;
		case ')':
			if (depth == 0)
				return (false);
			depth--;
			p++;
			break;
		default:
			p++;
			break;
		}
	}
	return (depth == 0);
}

/*
 * Compile ere into re so that regexec() only tries offset 0.  The rule
 * only applies when the leftmost match starts at offset 0, which is the
 * same as a match of "^(ere)"; and glibc tries an anchored pattern at the
 * start alone, where an unanchored one is retried at every offset, which
 * costs the square of a long line that does not match.  Patterns whose
 * meaning would change when wrapped keep their own form.
 */
static int
strip_compile(regex_t *re, const char *ere, char *buf, size_t len)
{
	char	*wrapped;
	size_t	 n;
	int	 error;

	/* Validate and report on the pattern exactly as written. */
	if ((error = regcomp(re, ere, REG_EXTENDED)) != 0) {
		regerror(error, re, buf, len);
		return (-1);
	}
	if (!strip_wrappable(ere))
		return (0);
	n = strlen(ere) + sizeof("^()");
	if ((wrapped = malloc(n)) == NULL)
		return (0);
	snprintf(wrapped, n, "^(%s)", ere);
	regfree(re);
	error = regcomp(re, wrapped, REG_EXTENDED);
	if (error != 0)
		error = regcomp(re, ere, REG_EXTENDED);
	free(wrapped);
	if (error != 0) {
		regerror(error, re, buf, len);
		return (-1);
	}
	return (0);
}

/*
 * Whether glibc's regcomp() can be trusted with an ERE; NULL if so, else
 * why not.  Two things blow it up.  It copies a repeated subexpression
 * for each repetition, so nested repetitions and intervals multiply:
 * every atom counts 1, a *, + or ? multiplies the item before it by 4,
 * an interval {m,n} by max(m, n) + 1, a group counts what it holds, and
 * more than STRIP_REGEX_COST_MAX is refused (measured on glibc 2.36:
 * 65536 compiles in a few MiB and milliseconds; (((a+)+)...)+ 16 deep
 * took half a GiB).  And repeating what may match nothing, like (a*)+
 * or a?*, makes its epsilon closures explode under an anchor (^((((((a?)+
 * )+)+)+)+) did not finish in minutes); such a repetition adds nothing
 * to what the pattern matches, so it is refused.  A rough scan, not a
 * parser: regcomp() judges the syntax.
 */
static const char *
strip_regex_check(const char *ere)
{
	struct {
		double	 sum;		/* cost of the group so far */
		bool	 branch;	/* its current branch may be empty */
		bool	 group;		/* one of its branches may be */
	} stack[STRIP_REGEX_MAX + 1];
	const char	*p;
	double		 sum = 0, last = 0, f;
	bool		 item = false;	/* there is an item to repeat */
	bool		 empty = false;	/* ... and it may match nothing */
	bool		 branch = true, before = true, group = false;
	bool		 optional = false;	/* the repetition allows 0 */
	size_t		 depth = 0;
	char		*end;
	long		 m, n;

	for (p = ere; *p != '\0'; p++) {
		f = 0;
		switch (*p) {
		case '[':
			/* A bracket expression is one atom. */
			if ((p = strip_skip_bracket(p)) == NULL)
				return (NULL);
			p--;	/* the loop steps past its ']' */
			goto atom;
		case '\\':
			if (p[1] != '\0')
				p++;
			goto atom;
		case '(':
			if (depth == STRIP_REGEX_MAX)
				return (NULL);
			stack[depth].sum = sum;
			stack[depth].branch = branch;
			stack[depth++].group = group;
			sum = last = 0;
			branch = true;
			group = item = false;
			break;
		case ')':
			if (depth == 0)
				goto atom;	/* glibc: an ordinary ')' */
			empty = group || branch;
			last = sum > 1 ? sum : 1;
			depth--;
			sum = stack[depth].sum + last;
			group = stack[depth].group;
			before = stack[depth].branch;
			branch = before && empty;
			item = true;
			break;
		case '|':
			group = group || branch;
			branch = true;
			item = false;
			break;
		case '^':
		case '$':
			item = false;
			break;
		case '{':
			m = strtol(p + 1, &end, 10);
			n = *end == ',' ? strtol(end + 1, &end, 10) : 0;
			f = (double)(m > n ? m : n) + 1;
			/* An interval {m,} or {0,n} may leave nothing. */
			optional = m == 0;
			while (p[1] != '\0' && p[1] != '}')
				p++;
			if (p[1] == '}')
				p++;
			break;
		case '*':
		case '?':
			f = 4;
			optional = true;
			break;
		case '+':
			f = 4;
			optional = false;
			break;
		default:
		atom:
			last = 1;
			sum += 1;
			item = true;
			empty = false;
			before = branch;
			branch = false;
			break;
		}
		if (f > 0 && item) {
			if (empty)
				return ("a repetition of what may match nothing "
				    "(like (a*)+ or a?*) is not allowed");
			/* The item before is now f times as costly ... */
			sum += last * (f - 1);
			last *= f;
			/* ... and may be empty after * and ?. */
			empty = optional;
			branch = before && empty;
		}
		if (sum > STRIP_REGEX_COST_MAX)
			return ("too costly to compile: repetitions of "
			    "repetitions multiply");
	}
	return (NULL);
}

/*
 * Add a `regex` rule (POSIX ERE).  On error, -1 with regerror()'s text in
 * buf.
 */
int
strip_add_regex(struct strip_set *set, const char *ere, char *buf,
    size_t len)
{
	struct strip_rule	*r;
	regex_t			 re;
	const char		*why;

	if (strlen(ere) > STRIP_REGEX_MAX) {
		snprintf(buf, len, "longer than %d bytes", STRIP_REGEX_MAX);
		return (-1);
	}
	if ((why = strip_regex_check(ere)) != NULL) {
		snprintf(buf, len, "%s", why);
		return (-1);
	}
	if (strip_compile(&re, ere, buf, len) != 0)
		return (-1);
	if ((r = strip_append(set)) == NULL) {
		regfree(&re);
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
		if (set->rules[i].kind == STRIP_REGEX)
			regfree(&set->rules[i].re);
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

/* gcc says __SANITIZE_ADDRESS__, clang 14 only __has_feature. */
#if defined(__SANITIZE_ADDRESS__)
#define STRIP_ASAN	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define STRIP_ASAN	1
#endif
#endif

#ifdef STRIP_ASAN
/*
 * AddressSanitizer's regexec() interceptor checks strlen(string) + 1
 * bytes whatever REG_STARTEND says, and so reports a read past every
 * message that is not NUL-terminated (glibc itself reads only up to
 * rm_eo).  Sanitizer builds match on a terminated copy; others never
 * copy.
 */
static int
strip_regexec(const regex_t *re, const char *msg, regmatch_t *m)
{
	char	*copy;
	int	 r;

	if ((copy = malloc((size_t)m->rm_eo + 1)) == NULL)
		return (REG_ESPACE);
	memcpy(copy, msg, (size_t)m->rm_eo);
	copy[m->rm_eo] = '\0';
	r = regexec(re, copy, 1, m, REG_STARTEND);
	free(copy);
	return (r);
}
#else
/* REG_STARTEND: the message may hold NUL and has no terminator. */
static int
strip_regexec(const regex_t *re, const char *msg, regmatch_t *m)
{
	return (regexec(re, msg, 1, m, REG_STARTEND));
}
#endif

/* Length of the match of a regex rule at the start of msg, or 0. */
static size_t
strip_regex_match(const struct strip_rule *r, const char *msg, size_t len)
{
	regmatch_t	 m;

	/* regoff_t is an int in glibc; no message gets near that. */
	if (len > INT_MAX)
		len = INT_MAX;
	m.rm_so = 0;
	m.rm_eo = (regoff_t)len;
	if (strip_regexec(&r->re, msg, &m) != 0)
		return (0);
	if (m.rm_so != 0 || m.rm_eo < 0)
		return (0);
	return ((size_t)m.rm_eo);
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
