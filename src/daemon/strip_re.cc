/*
 * strip_re.cc: RE2 behind the C interface of strip_re.h.
 *
 * Nothing here throws out of the interface: RE2 reports syntax errors
 * in its status, and an allocation failure (std::bad_alloc) becomes an
 * error at compile time and no match at match time.
 */

#include <cstdio>
#include <new>
#include <string>

#include <re2/re2.h>

#include "strip_re.h"

/*
 * RE2's memory budget for one pattern: the compiled program (two thirds)
 * and the caches of its DFAs, filled lazily and shared by the workers.
 * When a DFA fills its cache too often, RE2 falls back to the NFA: still
 * linear, so the budget bounds memory, never correctness.  Measured with
 * bench/regex on 64 KiB lines: at 1 MiB, (a{1,30}){1,30}b fell back to
 * the NFA and took 13 ms (6 us at 8 MiB); at 32 MiB (a|b)*a(a|b){20}
 * took 1.9 ms (38 ms at 8 MiB).
 */
static const int64_t	strip_re_max_mem = 32 << 20;

struct strip_re {
	RE2	*re;
};

/* The options that make RE2 read a POSIX ERE the way strip.c promises. */
static RE2::Options
strip_re_options(void)
{
	RE2::Options	 o;

	o.set_posix_syntax(true);	/* egrep syntax; no Perl classes */
	o.set_longest_match(true);	/* POSIX leftmost-longest */
	o.set_encoding(RE2::Options::EncodingLatin1);	/* bytes */
	o.set_dot_nl(true);		/* glibc's `.` matches newline */
	o.set_one_line(true);		/* ^ and $ only at the ends */
	o.set_never_capture(true);	/* only the whole match is used */
	o.set_case_sensitive(true);
	o.set_log_errors(false);	/* errors go back to the caller */
	o.set_max_mem(strip_re_max_mem);
	return (o);
}

/* Whether RE2 may quote this part of the pattern in a one-line message. */
static bool
strip_re_printable(const std::string &s)
{
	for (unsigned char c : s)
		if (c < 0x20 || c > 0x7e)
			return (false);
	return (true);
}

/*
 * Why RE2 refused a pattern, into buf.  RE2 quotes the part at fault: only
 * when it is what the user wrote (not strip.c's translation) and holds no
 * byte that would break the FILE:LINE message (a newline, say).
 */
static void
strip_re_error(const RE2 *re, bool verbatim, char *buf, size_t buflen)
{
	const std::string	&arg = re->error_arg();
	const char		*what;
	bool			 quote;

	quote = verbatim && !arg.empty() && strip_re_printable(arg);
	switch (re->error_code()) {
	case RE2::ErrorPatternTooLarge:
		snprintf(buf, buflen, "too large: it compiles to more than %d "
		    "instructions", STRIP_RE_PROG_MAX);
		return;
	case RE2::ErrorRepeatSize:
		snprintf(buf, buflen, "invalid repetition size%s%s (a count is "
		    "at most 1000, and so are nested counts multiplied)",
		    quote ? ": " : "", quote ? arg.c_str() : "");
		return;
	default:
		break;
	}
	/* RE2's text is "what: arg"; keep what. */
	const std::string	&e = re->error();
	what = e.c_str();
	snprintf(buf, buflen, "%.*s%s%s", (int)e.find(": "), what,
	    quote ? ": " : "", quote ? arg.c_str() : "");
}

/* Compile a pattern; NULL with the reason in buf. */
struct strip_re *
strip_re_new(const char *pattern, size_t len, bool verbatim, char *buf,
    size_t buflen)
{
	struct strip_re	*sr = NULL;
	int		 size;

	try {
		sr = new struct strip_re;
		sr->re = new RE2(re2::StringPiece(pattern, len),
		    strip_re_options());
	} catch (const std::bad_alloc &) {
		delete sr;
		snprintf(buf, buflen, "out of memory");
		return (NULL);
	}
	if (!sr->re->ok()) {
		strip_re_error(sr->re, verbatim, buf, buflen);
		strip_re_free(sr);
		return (NULL);
	}
	/* The bound on the cost of a match: see strip_re.h. */
	if ((size = sr->re->ProgramSize()) > STRIP_RE_PROG_MAX) {
		snprintf(buf, buflen, "too large: it compiles to %d "
		    "instructions, more than %d", size, STRIP_RE_PROG_MAX);
		strip_re_free(sr);
		return (NULL);
	}
	return (sr);
}

/* The longest match at the start of msg, if any. */
bool
strip_re_match(const struct strip_re *sr, const void *msg, size_t len,
    size_t most, size_t *end)
{
	re2::StringPiece	 text(static_cast<const char *>(msg), len), m;

	/* RE2 searches text[0, endpos) with the rest as context for `$`. */
	try {
		if (!sr->re->Match(text, 0, len < most ? len : most,
		    RE2::ANCHOR_START, &m, 1))
			return (false);
	} catch (const std::bad_alloc &) {
		return (false);
	}
	*end = m.size();
	return (true);
}

/* Free a compiled pattern. */
void
strip_re_free(struct strip_re *sr)
{
	if (sr == NULL)
		return;
	delete sr->re;
	delete sr;
}
