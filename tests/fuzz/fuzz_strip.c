/*
 * fuzz_strip.c: libFuzzer target for the strip rules and both framings.
 *
 * Each input is decoded into a rule set, a framing, max_line, a chunking
 * pattern and a payload.  The payload goes through framing_process() in
 * those chunks, then eof.  After every call the output so far, the bytes
 * still held and the status are compared with a reference model of echod.conf(5)
 * written below (split on LF, "\r\n" or "\n" sent back after the stripped
 * content, a line longer than max_line ends the session after the lines
 * before it; raw: the rules eat the start of the stream once), and every
 * message is also checked against strip_message().  A difference is an
 * abort(): a wrong answer is a crash, and so is a lost or invented byte.
 * `tools/dev fuzz [SECONDS]` runs it under libFuzzer; `make check` replays
 * tests/fuzz/corpus/ through it (replay.c).  A reproducer becomes a corpus
 * file named after its bug.
 *
 * Input format; a short input takes defaults for what is missing:
 *   byte 0	flags: bit 0 line framing (else raw); bits 1-2 how chunks
 *		are added: 0 evbuffer_add, 1 through a second evbuffer
 *		(a chain of its own), 2 evbuffer_add_reference, 3 alternate
 *   byte 1	max_line - 1 (1 to 256)
 *   byte 2	number of rules, modulo 5; then for each rule a kind byte
 *		(modulo 3: bytes, prefix, regex; with raw framing a regex is
 *		taken as a prefix) and a byte n: bytes = n, or n modulo 13
 *		bytes of prefix or regex text follow
 *   next	number of chunk sizes, modulo 9, then that many bytes, each a
 *		size modulo 64 (0: a call with nothing new); they repeat
 *		until the payload is used up; none: one chunk
 *   the rest	the payload
 */

#include <sys/types.h>

#include <regex.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "framing.h"
#include "strip.h"
#include "fuzz.h"

#define FZ_RULES_MAX	4
#define FZ_TEXT_MAX	12
#define FZ_CHUNKS_MAX	8

#define FZ_CHECK(c)	do {						\
	if (!(c))							\
		fz_fail(#c, __LINE__);					\
} while (0)

enum fz_kind {
	FZ_BYTES,
	FZ_PREFIX,
	FZ_REGEX
};

/* One rule as the model sees it: its own copy, its own compiled regex. */
struct fz_rule {
	enum fz_kind	 kind;
	size_t		 n;		/* bytes: count; else length */
	char		 text[FZ_TEXT_MAX + 1];
	regex_t		 re;
};

/* A decoded input. */
struct fz_case {
	bool			 line;
	unsigned int		 add;		/* how chunks go in */
	size_t			 max_line;
	struct fz_rule		 rules[FZ_RULES_MAX];
	size_t			 nrules;
	size_t			 chunks[FZ_CHUNKS_MAX];
	size_t			 nchunks;
	const uint8_t		*payload;
	size_t			 len;
	struct strip_set	*set;
};

/* What the model says the framing owes after the first k bytes. */
struct fz_expect {
	size_t	 out;		/* bytes of model output sent back */
	size_t	 held;		/* bytes still in the input */
	bool	 too_long;	/* line-too-long must be reported */
};

/* Line framing, computed once over the whole payload. */
struct fz_lines {
	uint8_t	*out;		/* what the whole payload is owed */
	size_t	 outlen;
	size_t	*end;		/* end of line i, with terminator */
	size_t	*cum;		/* model output up to line i */
	size_t	 nlines;
	bool	 has_long;	/* a line longer than max_line */
	size_t	 long_start;	/* where it starts */
	size_t	 tailcum;	/* model output with it, at eof */
};

/* Report which invariant broke, then crash so the fuzzer keeps the input. */
static void
fz_fail(const char *what, int line)
{
	fprintf(stderr, "fuzz_strip.c:%d: model mismatch: %s\n", line, what);
	abort();
}

/* Next byte of the input, or def when it is used up. */
static uint8_t
fz_byte(const uint8_t **p, size_t *len, uint8_t def)
{
	uint8_t	 b;

	if (*len == 0)
		return (def);
	b = **p;
	(*p)++;
	(*len)--;
	return (b);
}

/*
 * Whether a pattern is cheap enough to fuzz: two digits in a row allow
 * bounds like {99}{99}, which make the glibc model (not strip.c) slow.
 */
static bool
fz_pattern_ok(const char *re)
{
	for (; *re != '\0'; re++)
		if (re[0] >= '0' && re[0] <= '9' &&
		    re[1] >= '0' && re[1] <= '9')
			return (false);
	return (true);
}

/*
 * Whether strip.c may refuse a pattern glibc takes, for this reason: a
 * back-reference or GNU escape, RE2's limits on repetitions, a pattern
 * too large, a collating element of more than one character.
 */
static bool
fz_refusal_ok(const char *err)
{
	static const char *const ok[] = {
		"back-reference", "GNU escape", "invalid repetition size",
		"bad repetition operator", "too large",
		"more than one character"
	};
	size_t	 i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strstr(err, ok[i]) != NULL)
			return (true);
	fprintf(stderr, "fuzz_strip.c: refused: %s\n", err);
	return (false);
}

/* Free what fz_decode() built. */
static void
fz_free(struct fz_case *fc)
{
	size_t	 i;

	for (i = 0; i < fc->nrules; i++)
		if (fc->rules[i].kind == FZ_REGEX)
			regfree(&fc->rules[i].re);
	strip_set_free(fc->set);
}

/*
 * Decode one rule into the model and the set.  -1: the input is not worth
 * running (an expensive pattern, or one the model cannot judge); a regex
 * both glibc and strip.c refuse is simply no rule, and one that only
 * strip.c refuses must be refused for a documented reason.
 */
static int
fz_decode_rule(struct fz_case *fc, const uint8_t **p, size_t *len)
{
	struct fz_rule	*r = &fc->rules[fc->nrules];
	const char	*cause;
	char		 err[128];
	size_t		 i;
	int		 rc;

	r->kind = fz_byte(p, len, 0) % 3;
	r->n = fz_byte(p, len, 0);
	if (r->kind == FZ_BYTES) {
		FZ_CHECK(strip_add_bytes(fc->set, r->n, &cause) == 0);
		fc->nrules++;
		return (0);
	}
	r->n %= FZ_TEXT_MAX + 1;
	for (i = 0; i < r->n; i++)
		r->text[i] = (char)fz_byte(p, len, 'a');
	r->text[r->n] = '\0';
	if (r->kind == FZ_REGEX && !fc->line)
		r->kind = FZ_PREFIX;	/* config.c refuses it with raw */
	if (r->kind == FZ_PREFIX) {
		FZ_CHECK(strip_add_prefix(fc->set, r->text, r->n, &cause) ==
		    0);
		fc->nrules++;
		return (0);
	}
	if (!fz_pattern_ok(r->text))
		return (-1);
	rc = strip_add_regex(fc->set, r->text, err, sizeof(err));
	if (regcomp(&r->re, r->text, REG_EXTENDED) != 0) {
		/*
		 * RE2 takes a few patterns glibc refuses (echod.conf(5):
		 * a { that starts no interval, [[:word:]], ^*); the model
		 * cannot judge those, so the input is not worth running.
		 */
		return (rc == 0 ? -1 : 0);
	}
	if (rc == -1) {
		regfree(&r->re);
		/* What echod.conf(5) says it refuses where glibc did not. */
		FZ_CHECK(fz_refusal_ok(err));
		return (-1);
	}
	fc->nrules++;
	return (0);
}

/* Turn the fuzzer's bytes into a case; -1 if it is not worth running. */
static int
fz_decode(struct fz_case *fc, const uint8_t *p, size_t len)
{
	size_t	 i, n, window = 0;
	bool	 regex = false;
	uint8_t	 flags;

	memset(fc, 0, sizeof(*fc));
	if ((fc->set = strip_set_new()) == NULL)
		return (-1);
	flags = fz_byte(&p, &len, 1);
	fc->line = flags & 1;
	fc->add = (flags >> 1) & 3;
	fc->max_line = (size_t)fz_byte(&p, &len, 63) + 1;
	n = fz_byte(&p, &len, 0) % (FZ_RULES_MAX + 1);
	for (i = 0; i < n; i++)
		if (fz_decode_rule(fc, &p, &len) == -1)
			return (-1);
	fc->nchunks = fz_byte(&p, &len, 0) % (FZ_CHUNKS_MAX + 1);
	for (i = 0; i < fc->nchunks; i++)
		fc->chunks[i] = fz_byte(&p, &len, 1) % 64;
	fc->payload = p;
	fc->len = len;

	/* The set's own view of itself must match what was put in. */
	FZ_CHECK(strip_count(fc->set) == fc->nrules);
	for (i = 0; i < fc->nrules; i++) {
		if (fc->rules[i].kind == FZ_REGEX)
			regex = true;
		else
			window += fc->rules[i].n;
	}
	FZ_CHECK(strip_has_regex(fc->set) == regex);
	FZ_CHECK(strip_window(fc->set) == (regex ? SIZE_MAX : window));
	return (0);
}

/*
 * The model of one regex rule: the pattern as written, matched anywhere,
 * counts only if the leftmost match starts at the message's first byte
 * (echod.conf(5): "anchored at the start").  glibc's regexec() is the model of
 * the semantics echod.conf(5) promises; strip.c matches with RE2.
 */
static size_t
fz_model_regex(const struct fz_rule *r, const uint8_t *msg, size_t len)
{
	regmatch_t	 m;
	char		*copy;
	int		 rc;

	/*
	 * On a terminated copy: ASan's regexec() interceptor reads up to a
	 * NUL whatever REG_STARTEND says.
	 */
	if ((copy = malloc(len + 1)) == NULL)
		abort();
	memcpy(copy, msg, len);
	copy[len] = '\0';
	/*
	 * echod.conf(5): a regex looks at the first STRIP_REGEX_WINDOW bytes;
	 * past them the message goes on, so `$` cannot match at the cut.
	 */
	m.rm_so = 0;
	m.rm_eo = (regoff_t)(len > STRIP_REGEX_WINDOW ? STRIP_REGEX_WINDOW :
	    len);
	rc = regexec(&r->re, copy, 1, &m, REG_STARTEND |
	    (len > STRIP_REGEX_WINDOW ? REG_NOTEOL : 0));
	free(copy);
	if (rc != 0)
		return (0);
	if (m.rm_so != 0)
		return (0);
	FZ_CHECK(m.rm_eo >= 0 && (size_t)m.rm_eo <= len);
	return ((size_t)m.rm_eo);
}

/*
 * The model of a whole set on a complete message: bytes to remove.
 * Written from echod.conf(5), not from strip.c, so that it can disagree
 * with it: each rule makes a new, shorter copy of what the rules before
 * it left, a prefix is compared a byte at a time, and the answer is how
 * much shorter the last copy is than the message.
 */
static size_t
fz_model_strip(const struct fz_case *fc, const uint8_t *msg, size_t len)
{
	const struct fz_rule	*r;
	uint8_t			*cur, *next;
	size_t			 i, k, n = len, cut;

	if ((cur = malloc(len + 1)) == NULL)
		abort();
	memcpy(cur, msg, len);
	for (i = 0; i < fc->nrules; i++) {
		r = &fc->rules[i];
		cut = 0;
		switch (r->kind) {
		case FZ_BYTES:
			/* "the first n bytes (all of it if it is shorter)" */
			for (k = 0; k < r->n && k < n; k++)
				cut++;
			break;
		case FZ_PREFIX:
			/* "text, if the message starts with it" */
			for (k = 0; k < r->n; k++)
				if (k >= n || cur[k] != (uint8_t)r->text[k])
					break;
			if (k == r->n)
				cut = r->n;
			break;
		case FZ_REGEX:
			cut = fz_model_regex(r, cur, n);
			break;
		}
		FZ_CHECK(cut <= n);
		if ((next = malloc(n - cut + 1)) == NULL)
			abort();
		memcpy(next, cur + cut, n - cut);
		free(cur);
		cur = next;
		n -= cut;
	}
	free(cur);
	return (len - n);
}

/*
 * Strip one message with the model, and check strip_message() agrees when
 * given a copy of exactly len bytes (so a sanitizer sees any overread).
 */
static size_t
fz_strip(const struct fz_case *fc, const uint8_t *msg, size_t len)
{
	uint8_t	*copy;
	size_t	 drop;

	drop = fz_model_strip(fc, len > 0 ? msg : (const uint8_t *)"", len);
	if ((copy = malloc(len > 0 ? len : 1)) == NULL)
		abort();
	memcpy(copy, msg, len);
	FZ_CHECK(strip_message(fc->set, len > 0 ? copy : NULL, len) == drop);
	free(copy);
	return (drop);
}

/* Model line framing over the whole payload, remembering each line end. */
static void
fz_lines_model(const struct fz_case *fc, struct fz_lines *ln)
{
	const uint8_t	*p = fc->payload, *lf;
	size_t		 s = 0, total, mlen, drop;

	memset(ln, 0, sizeof(*ln));
	ln->out = malloc(fc->len + 1);
	ln->end = calloc(fc->len + 1, sizeof(*ln->end));
	ln->cum = calloc(fc->len + 1, sizeof(*ln->cum));
	if (ln->out == NULL || ln->end == NULL || ln->cum == NULL)
		abort();
	while (s < fc->len) {
		lf = memchr(p + s, '\n', fc->len - s);
		if (lf == NULL)
			break;
		total = (size_t)(lf - p) + 1 - s;
		if (total > fc->max_line) {
			ln->has_long = true;
			ln->long_start = s;
			return;
		}
		/* The message is the line without "\n" or "\r\n". */
		mlen = total - 1;
		if (mlen > 0 && p[s + mlen - 1] == '\r')
			mlen--;
		drop = fz_strip(fc, p + s, mlen);
		/* Stripped content, then the terminator unchanged. */
		memcpy(ln->out + ln->outlen, p + s + drop, total - drop);
		ln->outlen += total - drop;
		ln->end[ln->nlines] = s + total;
		ln->cum[ln->nlines] = ln->outlen;
		ln->nlines++;
		s += total;
	}
	/* A last line without LF: at max_line bytes it cannot end in time. */
	if (fc->len - s >= fc->max_line) {
		ln->has_long = true;
		ln->long_start = s;
		return;
	}
	if (fc->len > s) {
		drop = fz_strip(fc, p + s, fc->len - s);
		memcpy(ln->out + ln->outlen, p + s + drop, fc->len - s - drop);
		ln->outlen += fc->len - s - drop;
	}
	ln->tailcum = ln->outlen;
}

/* What line framing owes after k bytes of the payload (eof: all of it). */
static void
fz_lines_expect(const struct fz_case *fc, const struct fz_lines *ln,
    size_t k, bool eof, size_t *line, struct fz_expect *e)
{
	/* Lines end in order; *line walks forward as k grows. */
	while (*line < ln->nlines && ln->end[*line] <= k)
		(*line)++;
	e->out = *line > 0 ? ln->cum[*line - 1] : 0;
	e->held = k - (*line > 0 ? ln->end[*line - 1] : 0);
	/*
	 * The first max_line bytes of a long line hold no LF, so it is known
	 * to be too long as soon as they have arrived, and not before.
	 */
	e->too_long = ln->has_long && k >= ln->long_start + fc->max_line;
	if (eof && !ln->has_long) {
		e->out = ln->tailcum;
		e->held = 0;
	}
}

/*
 * What raw framing owes after k bytes: the rules decide on the start of
 * the stream, waiting while a `bytes` rule lacks bytes or what arrived is
 * a proper beginning of a prefix; then everything after them is echoed.
 */
static void
fz_raw_expect(const struct fz_case *fc, size_t k, bool eof,
    struct fz_expect *e)
{
	const struct fz_rule	*r;
	const uint8_t		*p = fc->payload;
	size_t			 i, off = 0, rest, cmp;

	e->too_long = false;
	for (i = 0; i < fc->nrules; i++) {
		r = &fc->rules[i];
		rest = k - off;
		if (r->kind == FZ_BYTES) {
			if (rest < r->n && !eof) {
				/* What it counted so far is already gone. */
				e->out = 0;
				e->held = 0;
				return;
			}
			off += r->n < rest ? r->n : rest;
			continue;
		}
		cmp = r->n < rest ? r->n : rest;
		if (memcmp(p + off, r->text, cmp) != 0)
			continue;
		if (rest >= r->n)
			off += r->n;
		else if (!eof) {
			e->out = 0;
			e->held = rest;
			return;
		}
	}
	e->out = k - off;
	e->held = 0;
}

/*
 * What the framing owes after k bytes, and *want, the model output it is a
 * beginning of: the line model's, or for raw the payload from the first
 * byte the rules left.
 */
static void
fz_expect(const struct fz_case *fc, const struct fz_lines *ln, size_t k,
    bool eof, size_t *line, struct fz_expect *e, const uint8_t **want)
{
	if (fc->line) {
		fz_lines_expect(fc, ln, k, eof, line, e);
		*want = ln->out;
	} else {
		fz_raw_expect(fc, k, eof, e);
		*want = fc->payload + (k - e->out);
	}
}

/* Add one chunk to in, the way the input asks. */
static void
fz_add(const struct fz_case *fc, struct evbuffer *in, const uint8_t *p,
    size_t n, size_t idx)
{
	struct evbuffer	*tmp;
	unsigned int	 how = fc->add == 3 ? idx % 3 : fc->add;

	switch (how) {
	case 0:
		FZ_CHECK(evbuffer_add(in, p, n) == 0);
		break;
	case 1:
		if ((tmp = evbuffer_new()) == NULL)
			abort();
		FZ_CHECK(evbuffer_add(tmp, p, n) == 0);
		FZ_CHECK(evbuffer_add_buffer(in, tmp) == 0);
		evbuffer_free(tmp);
		break;
	default:
		FZ_CHECK(evbuffer_add_reference(in, p, n, NULL, NULL) == 0);
		break;
	}
}

/*
 * Take what the framing moved to out and compare it, and the status and
 * the bytes held, with what the model owes.
 */
static void
fz_compare(struct evbuffer *in, struct evbuffer *out, uint8_t *got,
    size_t *gotlen, const uint8_t *want, enum framing_status st,
    const struct fz_expect *e)
{
	size_t	 n;

	n = evbuffer_get_length(out);
	FZ_CHECK(*gotlen + n == e->out);
	FZ_CHECK(evbuffer_remove(out, got + *gotlen, n) == (int)n);
	FZ_CHECK(memcmp(got + *gotlen, want + *gotlen, n) == 0);
	*gotlen += n;
	FZ_CHECK((st == FRAMING_LINE_TOO_LONG) == e->too_long);
	/* After line-too-long the rest stays where it was. */
	if (!e->too_long)
		FZ_CHECK(evbuffer_get_length(in) == e->held);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_case		 fc;
	struct fz_lines		 ln;
	struct fz_expect	 e;
	struct framing		 f;
	struct evbuffer		*in, *out;
	enum framing_status	 st = FRAMING_OK;
	const uint8_t		*want = NULL;
	uint8_t			*got;
	size_t			 i, k = 0, n, idx, line = 0, gotlen = 0;
	size_t			 sum = 0;

	if (fz_decode(&fc, data, size) == -1) {
		fz_free(&fc);
		return (0);
	}
	memset(&ln, 0, sizeof(ln));
	if (fc.line)
		fz_lines_model(&fc, &ln);
	if ((got = malloc(fc.len + 1)) == NULL ||
	    (in = evbuffer_new()) == NULL || (out = evbuffer_new()) == NULL)
		abort();
	framing_init(&f, fc.line ? FRAMING_LINE : FRAMING_RAW, fc.set,
	    fc.max_line);

	/*
	 * Every listed size is used at least once, so calls with nothing new
	 * happen too; sizes that are all 0 end with the rest in one chunk.
	 */
	for (i = 0; i < fc.nchunks; i++)
		sum += fc.chunks[i];
	for (idx = 0; k < fc.len || idx < fc.nchunks; idx++) {
		if (fc.nchunks == 0 || (sum == 0 && idx >= fc.nchunks))
			n = fc.len - k;
		else
			n = fc.chunks[idx % fc.nchunks];
		if (n > fc.len - k)
			n = fc.len - k;
		fz_add(&fc, in, fc.payload + k, n, idx);
		k += n;
		st = framing_process(&f, in, out, false);
		fz_expect(&fc, &ln, k, false, &line, &e, &want);
		fz_compare(in, out, got, &gotlen, want, st, &e);
		if (st == FRAMING_LINE_TOO_LONG)
			break;
	}
	if (st != FRAMING_LINE_TOO_LONG) {
		st = framing_process(&f, in, out, true);
		fz_expect(&fc, &ln, k, true, &line, &e, &want);
		fz_compare(in, out, got, &gotlen, want, st, &e);
		/* Nothing is owed twice: a second eof moves nothing. */
		if (st == FRAMING_OK) {
			st = framing_process(&f, in, out, true);
			fz_compare(in, out, got, &gotlen, want, st, &e);
		}
	}

	evbuffer_free(in);
	evbuffer_free(out);
	free(got);
	free(ln.out);
	free(ln.end);
	free(ln.cum);
	fz_free(&fc);
	return (0);
}
