/*
 * test_banner.c: a listener's banner: every escape rendered, the values
 * cut to their bounds, banner_max() never exceeded, a short buffer filled
 * as snprintf(3) would, and every wrong template refused with its reason.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "banner.h"

static const struct banner_vars test_vars = {
	"host1", "echo", "0badcafe", "192.0.2.7", 40001
};

/* Render text with v; the result, NUL-terminated, in a static buffer. */
static const char *
render(const char *text, const struct banner_vars *v)
{
	static char	 out[8192];
	struct banner	*b;
	char		 why[256];
	size_t		 n;

	b = banner_compile(text, why, sizeof(why));
	if (b == NULL)
		print_error("refused: %s\n", why);
	assert_non_null(b);
	n = banner_render(b, v, out, sizeof(out) - 1);
	assert_true(n <= banner_max(b));
	assert_true(n < sizeof(out));
	out[n] = '\0';
	banner_free(b);
	return (out);
}

/* Compile text, which must be refused with why. */
static void
refused(const char *text, const char *want)
{
	char	 why[256];

	assert_null(banner_compile(text, why, sizeof(why)));
	assert_string_equal(why, want);
}

/* Every escape, and text around them, as written. */
static void
test_escapes(void **state)
{
	(void)state;
	assert_string_equal(render("echod %h %n\n", &test_vars),
	    "echod host1 echo\n");
	assert_string_equal(render("%i", &test_vars), "0badcafe");
	assert_string_equal(render("you are %a port %p", &test_vars),
	    "you are 192.0.2.7 port 40001");
	assert_string_equal(render("100%% %%h", &test_vars), "100% %h");
	assert_string_equal(render("%h%n%i%a%p", &test_vars),
	    "host1echo0badcafe192.0.2.740001");
	assert_string_equal(render("plain", &test_vars), "plain");
}

/* Absent values render as nothing; port 0 as 0. */
static void
test_null_values(void **state)
{
	struct banner_vars	 v = { NULL, NULL, NULL, NULL, 0 };

	(void)state;
	assert_string_equal(render("[%h][%n][%i][%a][%p]", &v),
	    "[][][][][0]");
}

/* Values past their bounds are cut, so banner_max() holds. */
static void
test_bounds(void **state)
{
	struct banner_vars	 v = test_vars;
	char			 big[300];
	const char		*out;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	v.host = v.listener = v.instance = v.addr = big;
	out = render("%h", &v);
	assert_int_equal(strlen(out), BANNER_HOST_MAX);
	out = render("%n", &v);
	assert_int_equal(strlen(out), BANNER_NAME_MAX);
	out = render("%i", &v);
	assert_int_equal(strlen(out), BANNER_INSTANCE_LEN);
	out = render("%a", &v);
	assert_int_equal(strlen(out), BANNER_ADDR_MAX);
	v.port = 65535;
	out = render("%h%n%i%a%p%%", &v);
	assert_int_equal(strlen(out), 64 + 64 + 8 + 45 + 5 + 1);
}

/* banner_max() of a template: its literal bytes plus each escape's most. */
static void
test_max(void **state)
{
	struct banner	*b;
	char		 why[64];

	(void)state;
	b = banner_compile("ab%h%p%%\n", why, sizeof(why));
	assert_non_null(b);
	assert_int_equal(banner_max(b), 2 + 64 + 5 + 1 + 1);
	assert_string_equal(banner_text(b), "ab%h%p%%\n");
	banner_free(b);
	banner_free(NULL);
}

/* A short buffer holds the beginning; the whole length is returned. */
static void
test_short_buffer(void **state)
{
	struct banner	*b;
	char		 buf[8], why[64];

	(void)state;
	b = banner_compile("echod %h says hi", why, sizeof(why));
	assert_non_null(b);
	memset(buf, '#', sizeof(buf));
	assert_int_equal(banner_render(b, &test_vars, buf, 5), 19);
	assert_memory_equal(buf, "echod###", 8);
	assert_int_equal(banner_render(b, &test_vars, NULL, 0), 19);
	banner_free(b);
}

/* Every wrong template, with what the configuration error says. */
static void
test_refused(void **state)
{
	char	 long_text[BANNER_TEMPLATE_MAX + 2];

	(void)state;
	refused("%x", "unknown escape \"%x\" (use %h %n %i %a %p or %%)");
	refused("echod %H\n", "unknown escape \"%H\" (use %h %n %i %a %p "
	    "or %%)");
	refused("a %\n", "unknown escape \"%\" followed by byte 0x0a (use "
	    "%h %n %i %a %p or %%)");
	refused("a % b", "unknown escape \"%\" followed by byte 0x20 (use "
	    "%h %n %i %a %p or %%)");
	refused("50%", "a lone \"%\" at the end (write \"%%\" for a percent "
	    "sign)");
	refused("", "must be 1 to 1024 bytes");
	memset(long_text, 'a', sizeof(long_text) - 1);
	long_text[sizeof(long_text) - 1] = '\0';
	refused(long_text, "must be 1 to 1024 bytes");
	long_text[BANNER_TEMPLATE_MAX] = '\0';
	assert_string_equal(render(long_text, &test_vars), long_text);
}

/* The instance id: 8 lower-case hex digits, leading zeros kept. */
static void
test_instance(void **state)
{
	char	 id[BANNER_INSTANCE_LEN + 1];

	(void)state;
	banner_instance(0x0badcafe, id);
	assert_string_equal(id, "0badcafe");
	banner_instance(0, id);
	assert_string_equal(id, "00000000");
	banner_instance(UINT32_MAX, id);
	assert_string_equal(id, "ffffffff");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_null_values),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_max),
		cmocka_unit_test(test_short_buffer),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_instance),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
