/*
 * regex-engines.h: what bench/regex-engines-main.c asks of each engine it
 * times.  TRE's headers define regex_t and regcomp() over glibc's, and
 * RE2 is C++, so each of the two lives in its own file behind these
 * functions; glibc and PCRE2 are in regex-engines-main.c.
 */
#ifndef BENCH_REGEX_ENGINES_H
#define BENCH_REGEX_ENGINES_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What a match said. */
enum eng_answer {
	ENG_MATCH,		/* matched *end bytes at the start */
	ENG_NOMATCH,		/* no match at the start */
	ENG_LIMIT,		/* gave up (a limit reached): no answer */
	ENG_ERROR		/* could not match at all: the reason given */
};

/*
 * Compile an ERE, anchored at the start of the text; NULL with the reason
 * in why (NUL-terminated) when the engine refuses it.
 */
void		*tre_eng_compile(const char *, char *, size_t);
/* Match len bytes at line (anchored, leftmost-longest). */
enum eng_answer	 tre_eng_match(void *, const char *, size_t, size_t *, char *,
		    size_t);

/*
 * RE2 with the options of echod's src/daemon/strip_re.cc: POSIX syntax,
 * leftmost-longest, Latin-1, `.` matching newline, one line, the same
 * memory budget.  *size is the compiled program's instruction count.
 */
void		*re2_eng_compile(const char *, int *, char *, size_t);
enum eng_answer	 re2_eng_match(void *, const char *, size_t, size_t *, char *,
		    size_t);

/*
 * "^(ERE)" with every back-reference \N renumbered \N+1, for the POSIX
 * interfaces that cannot be told to anchor; NULL if out of memory or if
 * a \9 would have to become \10.
 */
char		*ere_anchor(const char *);

/*
 * What both POSIX engines' compile wrappers start with: ere anchored into
 * *anchored (the caller frees it) and size bytes for the engine's
 * regex_t, whose layouts differ.  NULL, with the reason in why, if either
 * fails.
 */
void		*ere_prepare(const char *, size_t, char **, char *, size_t);

#ifdef __cplusplus
}
#endif

#endif
