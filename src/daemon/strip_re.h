/*
 * strip_re.h: RE2, the regex engine of the strip rules, behind a C
 * interface of echod's own (strip_re.cc is the only C++ in echod).
 *
 * RE2 matches in time linear in the length of the text, whatever the
 * pattern: it simulates the automaton (a lazily built DFA, or the NFA
 * when the DFA's memory runs out) and never backtracks.  The constant is
 * bounded by the size of the compiled program, which strip_re_new()
 * refuses beyond STRIP_RE_PROG_MAX instructions.
 */
#ifndef ECHOD_STRIP_RE_H
#define ECHOD_STRIP_RE_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Most instructions a compiled pattern may have: with the window of
 * strip.h, what bounds a match's cost (at 2048, patterns of about 1700
 * instructions made RE2 fall back to its NFA and took 110 ms on a hostile
 * 4 KiB).
 */
#define STRIP_RE_PROG_MAX	1024

struct strip_re;		/* immutable once built; opaque */

/*
 * Compile len bytes of pattern in RE2's POSIX syntax (strip.c has turned
 * the ERE into it): leftmost-longest, bytes (Latin-1), `.` matching
 * newline, ^ and $ at the ends of the text only.  NULL with the reason in
 * buf (NUL-terminated, truncated to buflen) when it is invalid or too big;
 * verbatim says the pattern is the one the user wrote, so that the reason
 * may quote it.
 */
struct strip_re	*strip_re_new(const char *, size_t, bool, char *, size_t);
/*
 * Whether the pattern matches at the start of the len bytes at msg (any
 * bytes, NUL included), ending within the first most of them; if so,
 * *end is the length of the longest such match.  `$` matches only at the
 * end of all len bytes.  Safe to call from several threads at once on
 * one object.
 */
bool		 strip_re_match(const struct strip_re *, const void *, size_t,
		    size_t most, size_t *);
/* Free a compiled pattern; NULL is fine. */
void		 strip_re_free(struct strip_re *);

#ifdef __cplusplus
}
#endif

#endif
