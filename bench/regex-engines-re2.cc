/*
 * regex-engines-re2.cc: RE2 for bench/regex-engines-main.c, set up as echod's
 * src/daemon/strip_re.cc sets it up (but without its cap on the program
 * size, which the bench reports instead).  A file of its own because RE2
 * is C++.
 */

#include <cstdio>
#include <new>

#include <re2/re2.h>

#include "regex-engines.h"

/* strip_re.cc's budget: the program and the caches of its DFAs. */
static const int64_t	re2_eng_max_mem = 32 << 20;

/* The options strip_re.cc gives RE2, so the answers are echod's. */
static RE2::Options
re2_eng_options(void)
{
	RE2::Options	 o;

	o.set_posix_syntax(true);
	o.set_longest_match(true);
	o.set_encoding(RE2::Options::EncodingLatin1);
	o.set_dot_nl(true);
	o.set_one_line(true);
	o.set_never_capture(true);
	o.set_case_sensitive(true);
	o.set_log_errors(false);
	o.set_max_mem(re2_eng_max_mem);
	return (o);
}

/* Compile ere; NULL with RE2's reason. */
void *
re2_eng_compile(const char *ere, int *size, char *why, size_t whylen)
{
	RE2	*re;

	try {
		re = new RE2(ere, re2_eng_options());
	} catch (const std::bad_alloc &) {
		snprintf(why, whylen, "out of memory");
		return (NULL);
	}
	if (!re->ok()) {
		snprintf(why, whylen, "%s", re->error().c_str());
		delete re;
		return (NULL);
	}
	*size = re->ProgramSize();
	return (re);
}

/* The longest match at the start of line. */
enum eng_answer
re2_eng_match(void *arg, const char *line, size_t len, size_t *end,
    char *why, size_t whylen)
{
	RE2			*re = static_cast<RE2 *>(arg);
	re2::StringPiece	 text(line, len), m;

	try {
		if (!re->Match(text, 0, len, RE2::ANCHOR_START, &m, 1))
			return (ENG_NOMATCH);
	} catch (const std::bad_alloc &) {
		snprintf(why, whylen, "out of memory");
		return (ENG_LIMIT);
	}
	*end = m.size();
	return (ENG_MATCH);
}
