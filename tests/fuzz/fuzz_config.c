/*
 * fuzz_config.c: libFuzzer target for the configuration loader.
 *
 * Each input, cut at its first NUL, is the text of an echod.conf(5) given
 * to config_parse().  A valid result must satisfy what echod.conf(5) promises of
 * every loaded configuration (at least one listener, unique valid names,
 * ports 1-65535, no line framing on UDP, no regex with TCP raw framing,
 * no two listeners on one protocol and port whose addresses overlap,
 * every value in range);
 * an invalid one must come with at least one error, each a single line
 * starting "NAME:" or "NAME:LINE:" for the name given.  Parsing the same
 * text twice must give the same answer.  Any breach is an abort().
 * Inputs with @include are skipped: the fuzzer must not read arbitrary
 * files (/dev/stdin would hang it); tests/conf/ covers includes.
 * `tools/dev fuzz [SECONDS]` runs it under libFuzzer with config.dict;
 * `make check` replays tests/fuzz/corpus/ through it (replay.c).
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"

#if defined(__SANITIZE_ADDRESS__)
#define FZ_ASAN		1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FZ_ASAN		1
#endif
#endif

#ifdef FZ_ASAN
#include <sanitizer/common_interface_defs.h>
#include <sanitizer/lsan_interface.h>

/*
 * libconfig 1.5 leaks each string token it discards on a syntax error,
 * e.g. `"x" listeners = ...` (hyperrealm/libconfig#142, fixed in 1.7.3 by
 * a bison %destructor); its scanner allocates them.  Not echod's to fix;
 * any other leak still fails.
 */
const char *
__lsan_default_suppressions(void)
{
	return ("leak:strbuf_append\nleak:libconfig_yylex\n");
}

/*
 * The suppressions match function names, which the sanitizer knows only
 * through a symbolizer: clang's runtime runs llvm-symbolizer (package
 * llvm-14, which clang does not depend on; found under that name on PATH
 * or at ASAN_SYMBOLIZER_PATH).  Without one they never match and
 * libconfig's leak fails the run as if it were echod's, so refuse to run
 * and say why.  Suppressing by module (libconfig.so) would need no
 * symbols, but would also hide echod's own leaks of libconfig objects,
 * which are allocated inside libconfig too.
 */
__attribute__((constructor)) static void
fz_need_symbolizer(void)
{
	char	name[64] = "";

	/* A return address, as the sanitizer expects: inside the function. */
	__sanitizer_symbolize_pc((void *)((uintptr_t)fz_need_symbolizer + 1),
	    "%f", name, sizeof(name));
	if (strcmp(name, "fz_need_symbolizer") != 0) {
		fprintf(stderr, "fuzz_config: the sanitizer cannot name "
		    "functions (got \"%s\"), so the libconfig leak "
		    "suppressions cannot match: install llvm-14 or set "
		    "ASAN_SYMBOLIZER_PATH to llvm-symbolizer\n", name);
		exit(1);
	}
}
#endif

#define FZ_NAME		"fuzz.conf"

#define FZ_CHECK(c)	do {						\
	if (!(c))							\
		fz_fail(#c, __LINE__);					\
} while (0)

/* Report which invariant broke, then crash so the fuzzer keeps the input. */
static void
fz_fail(const char *what, int line)
{
	fprintf(stderr, "fuzz_config.c:%d: invariant broken: %s\n", line,
	    what);
	abort();
}

/* Whether a listener name is what echod.conf(5) allows: 1-64 of [A-Za-z0-9_.-]. */
static bool
fz_name_ok(const char *name)
{
	size_t	 n = strlen(name);

	return (n >= 1 && n <= CONF_NAME_MAX &&
	    strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789_.-") == n);
}

/* Check what every valid configuration promises. */
static void
fz_check_conf(const struct conf *c)
{
	const struct listener_conf	*a, *b;
	char				 ep[128];
	size_t				 i, j;

	FZ_CHECK(c->nlisteners >= 1 && c->listeners != NULL);
	FZ_CHECK(strcmp(c->path, FZ_NAME) == 0);
	FZ_CHECK(c->workers <= CONF_WORKERS_MAX);
	FZ_CHECK(c->max_line >= CONF_MAX_LINE_MIN &&
	    c->max_line <= CONF_MAX_LINE_MAX);
	FZ_CHECK(c->idle.tv_sec >= 0 && c->write.tv_sec >= 0 &&
	    c->shutdown.tv_sec >= 0);
	for (i = 0; i < c->nlisteners; i++) {
		a = &c->listeners[i];
		FZ_CHECK(fz_name_ok(a->name));
		FZ_CHECK(a->port >= 1);
		FZ_CHECK(a->protocol == CONF_TCP || a->protocol == CONF_UDP);
		FZ_CHECK(a->protocol == CONF_TCP || a->framing == FRAMING_RAW);
		/* A datagram is a whole message: regex is fine on UDP. */
		FZ_CHECK(a->protocol == CONF_UDP ||
		    a->framing == FRAMING_LINE || !strip_has_regex(a->strip));
		FZ_CHECK(a->idle.tv_sec >= 0 && a->write.tv_sec >= 0);
		FZ_CHECK(a->sslen > 0 && a->sslen <= sizeof(a->ss));
		FZ_CHECK(a->ss.ss_family == AF_INET ||
		    a->ss.ss_family == AF_INET6);
		FZ_CHECK(memchr(a->address, '\0', sizeof(a->address)) != NULL);
		FZ_CHECK(config_listener(c, a->name) == a);
		config_listener_endpoint(a, ep, sizeof(ep));
		FZ_CHECK(memchr(ep, '\0', sizeof(ep)) != NULL);
		for (j = 0; j < i; j++) {
			b = &c->listeners[j];
			FZ_CHECK(strcmp(a->name, b->name) != 0);
			FZ_CHECK(a->protocol != b->protocol ||
			    a->port != b->port || !config_addr_overlap(a, b));
		}
	}
}

/* Check that every error is one line and names the file as given. */
static void
fz_check_errors(const struct conf_errors *errs)
{
	const char	*m;
	size_t		 i, n = strlen(FZ_NAME);

	FZ_CHECK(errs->n >= 1 && errs->msgs != NULL);
	for (i = 0; i < errs->n; i++) {
		m = errs->msgs[i];
		FZ_CHECK(m != NULL);
		FZ_CHECK(strncmp(m, FZ_NAME ":", n + 1) == 0);
		FZ_CHECK(strchr(m, '\n') == NULL);
		/* "NAME: message" or "NAME:LINE: message", LINE from 1. */
		m += n + 1;
		if (*m != ' ') {
			FZ_CHECK(*m >= '1' && *m <= '9');
			m += strspn(m, "0123456789");
			FZ_CHECK(m[0] == ':' && m[1] == ' ');
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf_errors	 errs, again;
	struct conf		*c, *c2;
	char			*text;
	size_t			 i;

	if ((text = malloc(size + 1)) == NULL)
		return (0);
	memcpy(text, data, size);
	text[size] = '\0';
	if (strstr(text, "@include") != NULL) {
		free(text);
		return (0);
	}

	c = config_parse(text, FZ_NAME, &errs);
	if (c != NULL) {
		FZ_CHECK(errs.n == 0);
		fz_check_conf(c);
	} else
		fz_check_errors(&errs);

	/* Nothing may depend on state left by the first parse. */
	c2 = config_parse(text, FZ_NAME, &again);
	FZ_CHECK((c == NULL) == (c2 == NULL));
	FZ_CHECK(errs.n == again.n);
	for (i = 0; i < errs.n; i++)
		FZ_CHECK(strcmp(errs.msgs[i], again.msgs[i]) == 0);
	if (c != NULL)
		FZ_CHECK(c->nlisteners == c2->nlisteners);

	/* A reference taken and dropped leaves the object alive. */
	if (c != NULL) {
		FZ_CHECK(config_ref(c) == c);
		config_unref(c);
		FZ_CHECK(c->nlisteners >= 1);
	}
	config_unref(c);
	config_unref(c2);
	config_errors_free(&errs);
	config_errors_free(&again);
	free(text);
	return (0);
}
