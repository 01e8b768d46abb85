/*
 * regex-patterns.h: the hostile strip-rule regexes and the fills of
 * their lines, shared by bench/regex-cost.c (echod's matcher) and
 * bench/regex-engines-main.c (the engines it was chosen among), so that both
 * measure the same list.
 *
 * Pairs of PATTERN, FILL, ended by NULL: FILL "a" repeats one byte, "ab"
 * draws each byte from those given (fill_line(), below, makes the lines
 * of both benches, so that with one seed they time the very same line).
 */
#ifndef BENCH_REGEX_PATTERNS_H
#define BENCH_REGEX_PATTERNS_H

#include <stddef.h>
#include <string.h>
#include <time.h>

/* Monotonic milliseconds. */
static inline double
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec * 1e3 + ts.tv_nsec / 1e6);
}

/* Fill the line from the bytes of fill, drawn with seed s. */
static inline void
fill_line(char *line, size_t len, const char *fill, unsigned int s)
{
	size_t		 i, n = strlen(fill);

	for (i = 0; i < len; i++) {
		s = s * 1103515245u + 12345u;
		line[i] = fill[n > 1 ? (s >> 16) % n : 0];
	}
}

/* The worst accepted patterns found by hand, the tests and the fuzzer. */
static const char *const regex_builtin[] = {
	"(a{1,20}){1,20}b",		"a",
	"((a{1,10}){1,10}){1,10}b",	"a",
	"(.*)(.*)x",			"a",
	"(a|aa)*b",			"a",
	"(a*)*b",			"a",
	"(((((((((a)+)+)+)+)+)+)+)+)+b", "a",
	"((((((a?)+)+)+)+)+)b",		"a",
	"[[:alpha:]]*x",		"a",
	"([[:alpha:]]+[[:alnum:]]*)*x",	"a",
	"(.?){300}x",			"a",
	"a{1,1000}b",			"a",
	"[ab]{0,1000}[ab]{0,1000}c",	"ab",
	"(.*a){20}x",			"ab",
	"([ab]*a){500}c",		"ab",
	"(a|b)*a(a|b){20}",		"ab",
	"[ab]*a[ab]{10}",		"ab",
	"[ab]*a[ab]{100}",		"ab",
	"[ab]*a[ab]{1000}",		"ab",
	"[ab]*a[ab]{1000}[ab]{1000}",	"ab",
	"[ab]*a[ab]{500}[ab]{490}",	"ab",
	"[ab]*a[ab]{990}",		"ab",
	"[a-z]*a[a-z]{1000}",		"abcdefghijklmnopqrstuvwxyz",
	"(.*a){100}x",			"ab",
	NULL
};

#endif
