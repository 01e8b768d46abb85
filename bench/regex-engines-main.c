/*
 * regex-engines-main.c: the regex engines issue 12 named, timed on the same
 * hostile 64 KiB lines, to show why echod matches with RE2.
 *
 *	regex-engines [-c SECONDS] [-n BYTES] [PATTERN FILL ...]
 *
 * For each pattern (the list of bench/regex-patterns.h and a few more
 * below, or the PATTERN FILL pairs given) and a line of BYTES (default
 * 65536) made of FILL as bench/regex-cost.c makes it (the extra ones end in a
 * tail of their own), each engine compiles the
 * pattern anchored at the start and matches the line, in a child process
 * of its own that is killed after SECONDS (default 2) of compiling, or
 * of matching, so that a runaway engine is a ">2 s" cell rather than a
 * hung bench:
 *
 *	glibc	  regcomp(REG_EXTENDED) of "^(ERE)", regexec(REG_STARTEND)
 *	TRE	  tre_regcomp(REG_EXTENDED) of "^(ERE)", tre_regnexec()
 *	PCRE2	  pcre2_match(), PCRE2_ANCHORED | PCRE2_DOTALL, match limit
 *		  10^6 and depth limit 10^4 (no JIT: it ignores the depth
 *		  limit); leftmost-first, so its answer may differ
 *	PCRE2-DFA pcre2_dfa_match(), the same options: the longest match
 *	RE2	  the options of echod's strip_re.cc, ANCHOR_START
 *
 * Each cell is compile / match milliseconds (the match the best of three
 * when three fit in the cap, else of the runs that did), or why there is
 * no answer: refused at compile, "limit" (the engine gave up: a wrong
 * answer for a strip rule), a time-out, a crash.  A cell whose answer
 * (bytes matched, or no match) differs from RE2's is marked "!=".  The
 * table is Markdown, for bench/README.md.  A measurement, not a test: it
 * never fails on a number.  bench/regex-engines builds and runs it.
 */

#define _GNU_SOURCE		/* vasprintf() */

#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH	8
#include <pcre2.h>

#include "regex-engines.h"
#include "regex-patterns.h"
#include "strip_re.h"

#define PCRE2_MATCH_LIMIT	1000000
#define PCRE2_DEPTH_LIMIT	10000
#define DFA_WORKSPACE		100000	/* ints; too few is a "limit" */
#define CHILD_MEMORY		(1UL << 30)	/* address space of a child */
#define NOTES_MAX		64

/*
 * Patterns of the issue and of the textbooks, beside regex-patterns.h's:
 * PATTERN, FILL, TAIL, the last bytes of the line.  A tail holding the
 * byte a pattern ends with defeats PCRE2's check for a required byte,
 * which otherwise fails the match before any backtracking; the byte
 * before it stops the match there.
 */
static const char *const extra[] = {
	"(a{1,255}){1,255}",		"a",	"",	/* issue 12 */
	"(.*)(.*)\\2\\1",		"a",	"",	/* issue 12 */
	"(a*)*b",			"a",	"cb",
	"(a|aa)*c",			"a",	"bc",
	"(x+x+)+y",			"x",	"zy",
	"[ab]*a[ab]{20}",		"ab",	"",
	"(a{1,100}){1,10}b",		"a",	"cb",
	"((a{0,9}){0,9}){0,9}c",	"a",	"bc",
	NULL
};

enum engine { E_GLIBC, E_TRE, E_PCRE2, E_DFA, E_RE2, E_COUNT };

static const char *const engine_name[E_COUNT] = {
	"glibc", "TRE", "PCRE2", "PCRE2-DFA", "RE2"
};

/* What became of one engine on one pattern. */
enum cell_state {
	C_DONE,			/* compiled and answered */
	C_REFUSED,		/* refused at compile */
	C_COMPILE_TIMEOUT,
	C_MATCH_TIMEOUT,
	C_CRASH			/* the child died: why says how */
};

/* One cell; the child sends it after compiling and after matching. */
struct cell {
	int		 stage;		/* 1 compiled or refused, 2 matched */
					/* at least once, 3 done */
					/* (once at least), 3 done */
	enum cell_state	 state;
	enum eng_answer	 answer;
	double		 compile_ms;
	double		 match_ms;
	size_t		 end;
	int		 progsize;	/* RE2's instructions */
	char		 why[200];
};

/* A PCRE2 pattern and what matching it needs. */
struct pcre {
	pcre2_code		*code;
	pcre2_match_data	*md;
	pcre2_match_context	*mc;
	int			*ws;
};

static double	 cap_s = 2.0;
static char	*notes[NOTES_MAX];
static int	 nnotes;

/* Compile with glibc's regcomp(); NULL with the reason. */
static void *
glibc_compile(const char *ere, char *why, size_t whylen)
{
	regex_t	*re;
	char	*anchored;
	int	 rc;

	if ((re = ere_prepare(ere, sizeof(*re), &anchored, why,
	    whylen)) == NULL)
		return (NULL);
	rc = regcomp(re, anchored, REG_EXTENDED);
	free(anchored);
	if (rc != 0) {
		regerror(rc, re, why, whylen);
		free(re);
		return (NULL);
	}
	return (re);
}

/* Match with glibc's regexec() on exactly len bytes. */
static enum eng_answer
glibc_match(void *arg, const char *line, size_t len, size_t *end, char *why,
    size_t whylen)
{
	regex_t		*re = arg;
	regmatch_t	 m[1];
	int		 rc;

	m[0].rm_so = 0;
	m[0].rm_eo = len;
	rc = regexec(re, line, 1, m, REG_STARTEND);
	if (rc == REG_NOMATCH)
		return (ENG_NOMATCH);
	if (rc != 0) {
		regerror(rc, re, why, whylen);
		return (rc == REG_ESPACE ? ENG_LIMIT : ENG_ERROR);
	}
	*end = m[0].rm_eo;
	return (ENG_MATCH);
}

/* Compile with pcre2_compile(), anchored, `.` matching newline. */
static void *
pcre_compile(const char *ere, char *why, size_t whylen)
{
	struct pcre	*p;
	PCRE2_SIZE	 off;
	int		 err;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		snprintf(why, whylen, "out of memory");
		return (NULL);
	}
	p->code = pcre2_compile((PCRE2_SPTR)ere, PCRE2_ZERO_TERMINATED,
	    PCRE2_ANCHORED | PCRE2_DOTALL, &err, &off, NULL);
	if (p->code == NULL) {
		pcre2_get_error_message(err, (PCRE2_UCHAR *)why, whylen);
		free(p);
		return (NULL);
	}
	p->md = pcre2_match_data_create(1, NULL);
	p->mc = pcre2_match_context_create(NULL);
	p->ws = calloc(DFA_WORKSPACE, sizeof(*p->ws));
	if (p->md == NULL || p->mc == NULL || p->ws == NULL) {
		snprintf(why, whylen, "out of memory");
		return (NULL);	/* the child exits: no need to free */
	}
	pcre2_set_match_limit(p->mc, PCRE2_MATCH_LIMIT);
	pcre2_set_depth_limit(p->mc, PCRE2_DEPTH_LIMIT);
	return (p);
}

/* What a PCRE2 return code means for the bench. */
static enum eng_answer
pcre_answer(struct pcre *p, int rc, size_t *end, char *why, size_t whylen)
{
	/* rc 0: the ovector had no room for more matches; [0] is set. */
	if (rc >= 0) {
		*end = pcre2_get_ovector_pointer(p->md)[1];
		return (ENG_MATCH);
	}
	if (rc == PCRE2_ERROR_NOMATCH)
		return (ENG_NOMATCH);
	pcre2_get_error_message(rc, (PCRE2_UCHAR *)why, whylen);
	switch (rc) {
	case PCRE2_ERROR_MATCHLIMIT:
	case PCRE2_ERROR_DEPTHLIMIT:
	case PCRE2_ERROR_HEAPLIMIT:
	case PCRE2_ERROR_DFA_WSSIZE:
	case PCRE2_ERROR_NOMEMORY:
		return (ENG_LIMIT);
	default:
		return (ENG_ERROR);
	}
}

/* Match with pcre2_match(): backtracking, leftmost-first. */
static enum eng_answer
pcre_match(void *arg, const char *line, size_t len, size_t *end, char *why,
    size_t whylen)
{
	struct pcre	*p = arg;
	int		 rc;

	rc = pcre2_match(p->code, (PCRE2_SPTR)line, len, 0, 0, p->md, p->mc);
	return (pcre_answer(p, rc, end, why, whylen));
}

/* Match with pcre2_dfa_match(): every match at once, longest first. */
static enum eng_answer
dfa_match(void *arg, const char *line, size_t len, size_t *end, char *why,
    size_t whylen)
{
	struct pcre	*p = arg;
	int		 rc;

	rc = pcre2_dfa_match(p->code, (PCRE2_SPTR)line, len, 0, 0, p->md,
	    p->mc, p->ws, DFA_WORKSPACE);
	return (pcre_answer(p, rc, end, why, whylen));
}

/* Send the cell so far to the parent. */
static void
child_send(int fd, const struct cell *c)
{
	/* Smaller than PIPE_BUF: one write, never torn. */
	if (write(fd, c, sizeof(*c)) != (ssize_t)sizeof(*c))
		_exit(1);
}

/* In the child: compile, send, match (best of three), send, exit. */
static void
child_run(enum engine e, const char *ere, const char *line, size_t len,
    int fd)
{
	enum eng_answer	(*match)(void *, const char *, size_t, size_t *,
			    char *, size_t);
	struct cell	 c;
	struct rlimit	 rl;
	void		*re;
	double		 t;
	int		 i;

	/* A compile that eats memory fails rather than swamp the machine. */
	rl.rlim_cur = rl.rlim_max = CHILD_MEMORY;
	setrlimit(RLIMIT_AS, &rl);
	rl.rlim_cur = rl.rlim_max = 0;
	setrlimit(RLIMIT_CORE, &rl);

	memset(&c, 0, sizeof(c));
	c.stage = 1;
	t = now_ms();
	switch (e) {
	case E_GLIBC:
		re = glibc_compile(ere, c.why, sizeof(c.why));
		match = glibc_match;
		break;
	case E_TRE:
		re = tre_eng_compile(ere, c.why, sizeof(c.why));
		match = tre_eng_match;
		break;
	case E_PCRE2:
		re = pcre_compile(ere, c.why, sizeof(c.why));
		match = pcre_match;
		break;
	case E_DFA:
		re = pcre_compile(ere, c.why, sizeof(c.why));
		match = dfa_match;
		break;
	default:
		re = re2_eng_compile(ere, &c.progsize, c.why, sizeof(c.why));
		match = re2_eng_match;
		break;
	}
	c.compile_ms = now_ms() - t;
	c.state = re == NULL ? C_REFUSED : C_DONE;
	child_send(fd, &c);
	if (re == NULL)
		_exit(0);

	/*
	 * Best of three, each run sent: the first one pays for what an engine
	 * builds lazily (RE2's DFA states), the others show what later lines
	 * pay.  Repeat only what leaves room for three runs under the cap.
	 */
	for (i = 0; i < 3; i++) {
		t = now_ms();
		c.answer = match(re, line, len, &c.end, c.why, sizeof(c.why));
		t = now_ms() - t;
		if (i == 0 || t < c.match_ms)
			c.match_ms = t;
		c.stage = 2;
		if (i == 2 || t * 3 >= cap_s * 1e3)
			break;
		child_send(fd, &c);
	}
	c.stage = 3;
	child_send(fd, &c);
	_exit(0);
}

/* Run one engine on one pattern in a child, within the cap. */
static void
run_cell(enum engine e, const char *ere, const char *line, size_t len,
    struct cell *c)
{
	struct pollfd	 pfd;
	struct cell	 got;
	double		 deadline;
	ssize_t		 n;
	pid_t		 pid;
	int		 p[2], status, left, timedout = 0;

	memset(c, 0, sizeof(*c));
	fflush(stdout);
	if (pipe(p) == -1 || (pid = fork()) == -1) {
		perror("regex-engines");
		exit(1);
	}
	if (pid == 0) {
		close(p[0]);
		child_run(e, ere, line, len, p[1]);
	}
	close(p[1]);

	deadline = now_ms() + cap_s * 1e3;
	pfd.fd = p[0];
	pfd.events = POLLIN;
	for (;;) {
		left = deadline - now_ms();
		if (left < 0)
			left = 0;
		n = poll(&pfd, 1, left);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == 0) {
			timedout = 1;
			break;
		}
		n = read(p[0], &got, sizeof(got));
		if (n != (ssize_t)sizeof(got))
			break;		/* the child is gone */
		*c = got;
		if (c->stage == 3 || c->state == C_REFUSED)
			break;
		/* Compiled: the match gets a cap of its own. */
		if (c->stage == 1)
			deadline = now_ms() + cap_s * 1e3;
	}
	if (timedout)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		continue;
	close(p[0]);

	/* Killed during a repetition: the runs before it stand. */
	if (timedout && c->stage < 2)
		c->state = c->stage == 0 ? C_COMPILE_TIMEOUT : C_MATCH_TIMEOUT;
	else if (c->stage == 0 || (c->stage == 1 && c->state == C_DONE)) {
		c->state = C_CRASH;
		if (WIFSIGNALED(status))
			snprintf(c->why, sizeof(c->why), "died of %s",
			    strsignal(WTERMSIG(status)));
		else
			snprintf(c->why, sizeof(c->why), "exited %d",
			    WEXITSTATUS(status));
	}
}

/* The number of a note below the table, the same text the same number. */
static int
note(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static int
note(const char *fmt, ...)
{
	va_list	 ap;
	char	*s;
	int	 i;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		abort();
	va_end(ap);
	for (i = 0; i < nnotes; i++) {
		if (strcmp(notes[i], s) == 0) {
			free(s);
			return (i + 1);
		}
	}
	if (nnotes == NOTES_MAX) {
		free(s);
		return (0);
	}
	notes[nnotes++] = s;
	return (nnotes);
}

/* Milliseconds, with the digits that mean something. */
static void
fmt_ms(char *buf, size_t len, double ms)
{
	if (ms < 10)
		snprintf(buf, len, "%.3f", ms);
	else if (ms < 1000)
		snprintf(buf, len, "%.1f", ms);
	else
		snprintf(buf, len, "%.0f", ms);
}

/* What an answer was, in words. */
static void
fmt_answer(char *buf, size_t len, const struct cell *c)
{
	if (c->answer == ENG_MATCH)
		snprintf(buf, len, "%zu byte%s", c->end,
		    c->end == 1 ? "" : "s");
	else
		snprintf(buf, len, "no match");
}

/* One cell of the table into buf; ref is RE2's cell. */
static void
fmt_cell(char *buf, size_t len, enum engine e, const struct cell *c,
    const struct cell *ref)
{
	char	 cms[32], mms[32], mine[32], theirs[32];
	int	 agree;

	fmt_ms(cms, sizeof(cms), c->compile_ms);
	fmt_ms(mms, sizeof(mms), c->match_ms);
	switch (c->state) {
	case C_REFUSED:
		snprintf(buf, len, "refused [%d]",
		    note("%s: %s", engine_name[e], c->why));
		return;
	case C_COMPILE_TIMEOUT:
		snprintf(buf, len, "compile >%g s", cap_s);
		return;
	case C_MATCH_TIMEOUT:
		snprintf(buf, len, "%s / >%g s", cms, cap_s);
		return;
	case C_CRASH:
		snprintf(buf, len, "crash [%d]",
		    note("%s: %s", engine_name[e], c->why));
		return;
	case C_DONE:
		break;
	}
	if (c->answer == ENG_LIMIT || c->answer == ENG_ERROR) {
		snprintf(buf, len, "%s / %s [%d]", cms,
		    c->answer == ENG_LIMIT ? "limit" : "error",
		    note("%s: %s", engine_name[e], c->why));
		return;
	}
	if (e == E_RE2) {
		if (c->progsize > STRIP_RE_PROG_MAX)
			snprintf(buf, len, "%s / %s [%d]", cms, mms,
			    note("RE2: more than %d instructions (%s), which "
			    "echod refuses", STRIP_RE_PROG_MAX,
			    "strip_re.h"));
		else
			snprintf(buf, len, "%s / %s", cms, mms);
		return;
	}
	agree = ref->state != C_DONE || ref->answer > ENG_NOMATCH ||
	    (c->answer == ref->answer &&
	    (c->answer == ENG_NOMATCH || c->end == ref->end));
	if (agree) {
		snprintf(buf, len, "%s / %s", cms, mms);
		return;
	}
	fmt_answer(mine, sizeof(mine), c);
	fmt_answer(theirs, sizeof(theirs), ref);
	snprintf(buf, len, "%s / %s != [%d]", cms, mms,
	    note("%s answered %s where RE2 answered %s", engine_name[e],
	    mine, theirs));
}

/* The pattern as a Markdown code span in a table cell. */
static void
print_pattern(const char *ere)
{
	putchar('`');
	for (; *ere != '\0'; ere++) {
		if (*ere == '|')
			putchar('\\');
		putchar(*ere);
	}
	putchar('`');
}

/* Time every engine on one pattern and print its row. */
static void
measure(const char *ere, const char *fill, const char *tail, char *line,
    size_t len)
{
	struct cell	 c[E_COUNT];
	char		 buf[128];
	size_t		 n;
	int		 e;

	fill_line(line, len, fill, 1);
	n = strlen(tail);
	if (n <= len)
		memcpy(line + len - n, tail, n);
	/* RE2 first: the others are checked against its answer. */
	run_cell(E_RE2, ere, line, len, &c[E_RE2]);
	for (e = 0; e < E_RE2; e++)
		run_cell(e, ere, line, len, &c[e]);

	printf("| ");
	print_pattern(ere);
	n = strlen(fill);
	if (n > 3)
		printf(" | %c..%c", fill[0], fill[n - 1]);
	else
		printf(" | %s", fill);
	if (*tail != '\0')
		printf(", ends %s", tail);
	for (e = 0; e < E_COUNT; e++) {
		fmt_cell(buf, sizeof(buf), e, &c[e], &c[E_RE2]);
		printf(" | %s", buf);
	}
	if (c[E_RE2].state == C_DONE && c[E_RE2].answer <= ENG_NOMATCH) {
		fmt_answer(buf, sizeof(buf), &c[E_RE2]);
		printf(" | %s |\n", buf);
	} else
		printf(" | - |\n");
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: regex-engines [-c SECONDS] [-n BYTES] "
	    "[PATTERN FILL ...]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	size_t		 len = 65536;
	char		*line;
	double		 t0;
	int		 ch, i, e;

	while ((ch = getopt(argc, argv, "c:n:")) != -1) {
		switch (ch) {
		case 'c':
			cap_s = strtod(optarg, NULL);
			if (cap_s <= 0)
				usage();
			break;
		case 'n':
			len = strtoul(optarg, NULL, 10);
			if (len == 0)
				usage();
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc % 2 != 0)
		usage();
	if ((line = malloc(len + 1)) == NULL)
		abort();
	line[len] = '\0';	/* the POSIX interfaces want a string */

	t0 = now_ms();
	printf("Line of %zu bytes; compile / match ms; cap %g s each.\n\n",
	    len, cap_s);
	printf("| pattern | line");
	for (e = 0; e < E_COUNT; e++)
		printf(" | %s", engine_name[e]);
	printf(" | RE2's answer |\n|---|---");
	for (e = 0; e < E_COUNT; e++)
		printf("|--:");
	printf("|--:|\n");
	if (argc > 0) {
		for (i = 0; i < argc; i += 2)
			measure(argv[i], argv[i + 1], "", line, len);
	} else {
		for (i = 0; regex_builtin[i] != NULL; i += 2)
			measure(regex_builtin[i], regex_builtin[i + 1], "",
			    line, len);
		for (i = 0; extra[i] != NULL; i += 3)
			measure(extra[i], extra[i + 1], extra[i + 2], line,
			    len);
	}
	printf("\n");
	for (i = 0; i < nnotes; i++)
		printf("[%d] %s\n", i + 1, notes[i]);
	printf("\n%.0f s in all.\n", (now_ms() - t0) / 1e3);
	free(line);
	return (0);
}
