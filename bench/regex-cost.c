/*
 * regex-cost.c: what a strip-rule regex costs on a hostile 64 KiB line.
 *
 *	regex [-n BYTES] [PATTERN FILL ...]
 *
 * For each pattern (a built-in list of the worst ones found, issue 12,
 * or the PATTERN FILL pairs given), compiles it with strip_add_regex()
 * and times strip_message() on a line of BYTES (default 65536) made of
 * FILL: "a" repeats one byte, "ab" draws each byte from those given.
 * Prints compile time, the match times and how many bytes the rule
 * removed, and whether the match stayed under the 10 ms target: the
 * worst of five lines, each new (another seed) to a freshly compiled
 * rule, and of 50 new lines to one rule, as a hostile client sends them
 * (its cache of states fills and starts again); RE2 keeps the DFA
 * states it built for a line, so the same line again costs far less,
 * shown as the best of three repeats of the last one, "warm".  A measurement, not a test: it never fails on a
 * number.  bench/regex builds and runs it.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "strip.h"

#include "regex-patterns.h"

#define TARGET_MS	10.0

/* Measure one pattern; 1 if it missed the target. */
static int
measure(const char *ere, const char *fill, char *line, size_t len)
{
	struct strip_set	*set;
	char			 why[256];
	double			 t0, t1, worst = 0, warm = 0, many = 0, t;
	size_t			 drop = 0;
	int			 i, k;

	for (k = 0; k < 5; k++) {
		if ((set = strip_set_new()) == NULL)
			abort();
		fill_line(line, len, fill, (unsigned int)k + 1);
		t0 = now_ms();
		if (strip_add_regex(set, ere, why, sizeof(why)) == -1) {
			printf("%-32s %-3s %9s %10s %8s  refused: %s\n", ere,
			    fill, "-", "-", "-", why);
			strip_set_free(set);
			return (0);
		}
		t1 = now_ms();
		t = now_ms();
		drop = strip_message(set, line, len);
		t = now_ms() - t;
		if (t > worst)
			worst = t;
		if (k < 4) {
			strip_set_free(set);
			continue;
		}
		/* The same line again: the states are built. */
		for (i = 0; i < 3; i++) {
			t = now_ms();
			(void)strip_message(set, line, len);
			t = now_ms() - t;
			if (i == 0 || t < warm)
				warm = t;
		}
		strip_set_free(set);
	}
	/* Many new lines to one rule, as one session's client sends them:
	 * RE2's cache of states fills and starts again. */
	if ((set = strip_set_new()) == NULL ||
	    strip_add_regex(set, ere, why, sizeof(why)) == -1)
		abort();
	for (k = 0; k < 50; k++) {
		fill_line(line, len, fill, (unsigned int)k + 100);
		t = now_ms();
		(void)strip_message(set, line, len);
		t = now_ms() - t;
		if (t > many)
			many = t;
	}
	strip_set_free(set);
	if (many > worst)
		worst = many;
	printf("%-32s %-3s %9.3f %10.3f %8.3f  %zu removed%s\n", ere, fill,
	    t1 - t0, worst, warm, drop, worst < TARGET_MS ? "" :
	    "  OVER TARGET");
	return (worst >= TARGET_MS);
}

int
main(int argc, char **argv)
{
	size_t		 len = 65536;
	char		*line;
	int		 i, over = 0, n = 0;

	if (argc > 2 && strcmp(argv[1], "-n") == 0) {
		len = strtoul(argv[2], NULL, 10);
		argc -= 2;
		argv += 2;
	}
	if ((line = malloc(len)) == NULL)
		abort();
	printf("%-32s %-3s %9s %10s %8s  (lines of %zu bytes, target %.0f ms)"
	    "\n", "pattern", "on", "compile", "match ms", "warm", len,
	    TARGET_MS);
	if (argc > 2) {
		for (i = 1; i + 1 < argc; i += 2, n++)
			over += measure(argv[i], argv[i + 1], line, len);
	} else {
		for (i = 0; regex_builtin[i] != NULL; i += 2, n++)
			over += measure(regex_builtin[i], regex_builtin[i + 1],
			    line, len);
	}
	printf("%d of %d patterns over the %.0f ms target\n", over, n,
	    TARGET_MS);
	free(line);
	return (0);
}
