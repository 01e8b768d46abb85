/*
 * test_config.c: unit tests of config.c, mostly through config_parse().
 */
#include <sys/stat.h>

#include <arpa/inet.h>

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <cmocka.h>

#include "banner.h"
#include "config.h"

#define L1	"listeners = ( { name = \"echo\"; port = 7; } );\n"

/* Parse text that must be valid; fail the test with its errors if not. */
static struct conf *
parse_ok(const char *text)
{
	struct conf_errors	 errs;
	struct conf		*c;
	size_t			 i;

	c = config_parse(text, "t.conf", &errs);
	for (i = 0; i < errs.n; i++)
		print_error("unexpected: %s\n", errs.msgs[i]);
	assert_int_equal(errs.n, 0);
	assert_non_null(c);
	config_errors_free(&errs);
	return (c);
}

/*
 * Parse text that must be invalid and compare every error with the
 * NULL-terminated list of expected messages.
 */
static void
parse_fails(const char *text, const char *const *want)
{
	struct conf_errors	 errs;
	struct conf		*c;
	size_t			 i, n;

	c = config_parse(text, "t.conf", &errs);
	assert_null(c);
	for (n = 0; want[n] != NULL; n++)
		;
	for (i = 0; i < errs.n; i++)
		print_message("# got: %s\n", errs.msgs[i]);
	assert_int_equal(errs.n, n);
	for (i = 0; i < n; i++)
		assert_string_equal(errs.msgs[i], want[i]);
	config_errors_free(&errs);
}

/* Expect exactly one error. */
static void
fails_with(const char *text, const char *msg)
{
	const char	*want[] = { msg, NULL };

	parse_fails(text, want);
}

/* Whether tv is sec seconds and usec microseconds. */
static void
assert_tv(struct timeval tv, long sec, long usec)
{
	assert_int_equal(tv.tv_sec, sec);
	assert_int_equal(tv.tv_usec, usec);
}

/* A file with only a listener gets every default of echod.conf(5). */
static void
test_defaults(void **state)
{
	struct conf			*c = parse_ok(L1);
	const struct listener_conf	*l;

	assert_string_equal(c->path, "t.conf");
	assert_int_equal(c->refcnt, 1);
	assert_int_equal(c->log_level, LOG_INFO);
	assert_true(c->log_connections);
	assert_int_equal(c->log_rate, 100);
	assert_int_equal(c->workers, 0);
	assert_string_equal(c->event_method, "auto");
	assert_int_equal(c->max_connections, 10000);
	assert_int_equal(c->max_line, 65536);
	assert_int_equal(c->max_memory, 256 * 1024 * 1024);
	assert_tv(c->idle, 300, 0);
	assert_tv(c->write, 30, 0);
	assert_tv(c->shutdown, 5, 0);
	assert_int_equal(c->nlisteners, 1);
	l = &c->listeners[0];
	assert_string_equal(l->name, "echo");
	assert_int_equal(l->protocol, CONF_TCP);
	assert_string_equal(l->address, "::");
	assert_int_equal(l->port, 7);
	assert_true(l->wildcard);
	assert_int_equal(l->framing, FRAMING_RAW);
	assert_null(l->strip);
	assert_tv(l->idle, 300, 0);
	assert_tv(l->write, 30, 0);
	assert_int_equal(l->max_connections, 0);
	assert_int_equal(l->line, 1);
	config_unref(c);

	c = parse_ok("listeners = ( { name = \"u\"; port = 7; "
	    "protocol = \"udp\"; } );");
	l = &c->listeners[0];
	assert_int_equal(l->protocol, CONF_UDP);
	assert_int_equal(l->udp_rate, 50);
	assert_int_equal(l->udp_burst, 100);
	assert_int_equal(l->max_datagram, 8192);
	config_unref(c);
}

/* Every key with a non-default value is read back. */
static void
test_every_key(void **state)
{
	static const char *const levels[] = {
	    "debug", "info", "notice", "warning", "error" };
	static const int prio[] = {
	    LOG_DEBUG, LOG_INFO, LOG_NOTICE, LOG_WARNING, LOG_ERR };
	static const char *const methods[] = {
	    "auto", "epoll", "poll", "select" };
	struct conf			*c;
	const struct listener_conf	*l;
	char				 text[512];
	size_t				 i;

	c = parse_ok(
	    "log_level = \"warning\";\n"
	    "log_connections = false;\n"
	    "log_rate = 1000000;\n"
	    "workers = 256;\n"
	    "event_method = \"epoll\";\n"
	    "max_connections = 1;\n"
	    "max_line = 16777216;\n"
	    "max_memory = 1099511627776L;\n"
	    "timeouts = { idle = 0.5; write = 0; shutdown = 3600; };\n"
	    "listeners = (\n"
	    "  { name = \"A-z_0.9\"; port = 65535; address = \"127.0.0.1\";\n"
	    "    protocol = \"tcp\"; framing = \"line\";\n"
	    "    max_connections = 1000000;\n"
	    "    timeouts = { idle = 31536000; write = 1.25; };\n"
	    "    strip = ( { bytes = 2; }, { prefix = \"ab\"; },\n"
	    "      { regex = \"[0-9]+ \"; } ); },\n"
	    "  { name = \"u\"; port = 1; address = \"::1\";\n"
	    "    protocol = \"udp\"; udp_rate = 1; udp_burst = 1000000;\n"
	    "    max_datagram = 65507; }\n"
	    ");\n");
	assert_int_equal(c->log_level, LOG_WARNING);
	assert_false(c->log_connections);
	assert_int_equal(c->log_rate, 1000000);
	assert_int_equal(c->workers, 256);
	assert_string_equal(c->event_method, "epoll");
	assert_int_equal(c->max_connections, 1);
	assert_int_equal(c->max_line, 16777216);
	assert_true(c->max_memory == 1099511627776ull);
	assert_tv(c->idle, 0, 500000);
	assert_tv(c->write, 0, 0);
	assert_tv(c->shutdown, 3600, 0);
	assert_int_equal(c->nlisteners, 2);

	l = &c->listeners[0];
	assert_string_equal(l->name, "A-z_0.9");
	assert_int_equal(l->port, 65535);
	assert_string_equal(l->address, "127.0.0.1");
	assert_false(l->wildcard);
	assert_int_equal(l->protocol, CONF_TCP);
	assert_int_equal(l->framing, FRAMING_LINE);
	assert_int_equal(l->max_connections, 1000000);
	assert_tv(l->idle, 31536000, 0);
	assert_tv(l->write, 1, 250000);
	assert_int_equal(l->line, 11);
	assert_int_equal(strip_count(l->strip), 3);
	assert_true(strip_has_regex(l->strip));
	/* The rules are the ones written, in order: "12" "ab" "345 ". */
	assert_int_equal(strip_message(l->strip, "12ab345 x", 9), 8);

	l = &c->listeners[1];
	assert_string_equal(l->name, "u");
	assert_int_equal(l->protocol, CONF_UDP);
	assert_int_equal(l->port, 1);
	assert_int_equal(l->udp_rate, 1);
	assert_int_equal(l->udp_burst, 1000000);
	assert_int_equal(l->max_datagram, 65507);
	assert_int_equal(l->line, 17);
	config_unref(c);

	for (i = 0; i < 5; i++) {
		snprintf(text, sizeof(text), "log_level = \"%s\";\n" L1,
		    levels[i]);
		c = parse_ok(text);
		assert_int_equal(c->log_level, prio[i]);
		config_unref(c);
	}
	for (i = 0; i < 4; i++) {
		snprintf(text, sizeof(text), "event_method = \"%s\";\n" L1,
		    methods[i]);
		c = parse_ok(text);
		assert_string_equal(c->event_method, methods[i]);
		config_unref(c);
	}
}

/* Durations: integers, decimals, INT64 literals; tiny ones are not 0. */
/* protocol = "stamp": a UDP listener that reflects, stateless by default. */
static void
test_stamp(void **state)
{
	struct conf			*c;
	const struct listener_conf	*l;

	(void)state;
	c = parse_ok("listeners = (\n"
	    "  { name = \"s\"; port = 862; protocol = \"stamp\"; },\n"
	    "  { name = \"f\"; port = 863; protocol = \"stamp\";\n"
	    "    stamp_mode = \"stateful\"; udp_rate = 7; },\n"
	    "  { name = \"u\"; port = 864; protocol = \"udp\"; }\n"
	    ");\n");
	l = &c->listeners[0];
	assert_int_equal(l->protocol, CONF_UDP);
	assert_true(l->stamp);
	assert_false(l->stamp_stateful);
	assert_int_equal(l->udp_rate, 50);
	l = &c->listeners[1];
	assert_true(l->stamp);
	assert_true(l->stamp_stateful);
	assert_int_equal(l->udp_rate, 7);
	l = &c->listeners[2];
	assert_int_equal(l->protocol, CONF_UDP);
	assert_false(l->stamp);
	config_unref(c);
}

static void
test_durations(void **state)
{
	struct conf	*c;

	c = parse_ok("timeouts = { idle = .25; write = 1e2; "
	    "shutdown = 7L; };\n" L1);
	assert_tv(c->idle, 0, 250000);
	assert_tv(c->write, 100, 0);
	assert_tv(c->shutdown, 7, 0);
	config_unref(c);

	/* 0.0000001 s must not round to 0, which means "never". */
	c = parse_ok("timeouts = { idle = 0.0000001; write = 2.9999999; };\n"
	    L1);
	assert_tv(c->idle, 0, 1);
	assert_tv(c->write, 3, 0);
	config_unref(c);
}

/* A listener's timeouts override the global ones one by one. */
static void
test_timeout_inheritance(void **state)
{
	struct conf	*c;

	c = parse_ok("timeouts = { idle = 10; write = 20; };\n"
	    "listeners = (\n"
	    "  { name = \"a\"; port = 1; },\n"
	    "  { name = \"b\"; port = 2; timeouts = { idle = 1.5; }; },\n"
	    "  { name = \"c\"; port = 3; timeouts = { write = 0; }; },\n"
	    "  { name = \"d\"; port = 4; timeouts = { }; }\n"
	    ");\n");
	assert_tv(config_listener(c, "a")->idle, 10, 0);
	assert_tv(config_listener(c, "a")->write, 20, 0);
	assert_tv(config_listener(c, "b")->idle, 1, 500000);
	assert_tv(config_listener(c, "b")->write, 20, 0);
	assert_tv(config_listener(c, "c")->idle, 10, 0);
	assert_tv(config_listener(c, "c")->write, 0, 0);
	assert_tv(config_listener(c, "d")->idle, 10, 0);
	assert_tv(config_listener(c, "d")->write, 20, 0);
	config_unref(c);
}

/*
 * timeouts.handshake: 10 s unless said, inherited and overridden as the
 * others; a plain listener has no TLS.  (A tls group needs real
 * certificates: tests/integration/test_tls.py makes them.)
 */
static void
test_handshake_timeout(void **state)
{
	const char	*missing[] = {
		"t.conf:1: \"key\" is required in \"tls\"",
		"t.conf:1: certificate \"no/such.pem\": No such file or "
		    "directory",
		NULL
	};
	struct conf	*c;

	c = parse_ok(L1);
	assert_tv(c->handshake, 10, 0);
	assert_tv(c->listeners[0].handshake, 10, 0);
	assert_null(c->listeners[0].tls);
	config_unref(c);
	c = parse_ok("timeouts = { handshake = 4; };\n"
	    "listeners = (\n"
	    "  { name = \"a\"; port = 1; },\n"
	    "  { name = \"b\"; port = 2; timeouts = { handshake = 0.25; }; }\n"
	    ");\n");
	assert_tv(config_listener(c, "a")->handshake, 4, 0);
	assert_tv(config_listener(c, "b")->handshake, 0, 250000);
	config_unref(c);
	fails_with("listeners = ( { name = \"u\"; port = 7; "
	    "protocol = \"udp\"; tls = { certificate = \"c\"; "
	    "key = \"k\"; }; } );",
	    "t.conf:1: \"tls\" is not allowed on a udp listener");
	parse_fails("listeners = ( { name = \"t\"; port = 7; "
	    "tls = { certificate = \"no/such.pem\"; }; } );", missing);
}

/* Addresses become the right sockaddr, with the port. */
static void
test_addresses(void **state)
{
	struct conf			*c;
	const struct listener_conf	*l;
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;
	char				 ep[128];

	c = parse_ok("listeners = (\n"
	    "  { name = \"v4\"; port = 7007; address = \"127.0.0.1\"; },\n"
	    "  { name = \"v6\"; port = 7; address = \"::1\"; },\n"
	    "  { name = \"any\"; port = 8; },\n"
	    "  { name = \"any4\"; port = 9; address = \"0.0.0.0\"; "
	    "protocol = \"udp\"; },\n"
	    "  { name = \"v6b\"; port = 10; address = \"2001:DB8::1\"; }\n"
	    ");\n");

	l = config_listener(c, "v4");
	assert_non_null(l);
	sin = (const struct sockaddr_in *)&l->ss;
	assert_int_equal(l->sslen, sizeof(struct sockaddr_in));
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(sin->sin_port, htons(7007));
	assert_int_equal(sin->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
	assert_false(l->wildcard);
	config_listener_endpoint(l, ep, sizeof(ep));
	assert_string_equal(ep, "tcp 127.0.0.1:7007");

	l = config_listener(c, "v6");
	sin6 = (const struct sockaddr_in6 *)&l->ss;
	assert_int_equal(l->sslen, sizeof(struct sockaddr_in6));
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_int_equal(sin6->sin6_port, htons(7));
	assert_true(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));
	assert_false(l->wildcard);
	config_listener_endpoint(l, ep, sizeof(ep));
	assert_string_equal(ep, "tcp [::1]:7");

	l = config_listener(c, "any");
	sin6 = (const struct sockaddr_in6 *)&l->ss;
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_true(IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr));
	assert_true(l->wildcard);
	config_listener_endpoint(l, ep, sizeof(ep));
	assert_string_equal(ep, "tcp [::]:8");

	l = config_listener(c, "any4");
	sin = (const struct sockaddr_in *)&l->ss;
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(sin->sin_addr.s_addr, htonl(INADDR_ANY));
	assert_true(l->wildcard);
	config_listener_endpoint(l, ep, sizeof(ep));
	assert_string_equal(ep, "udp 0.0.0.0:9");

	/* As written in the file, canonical in the endpoint. */
	l = config_listener(c, "v6b");
	assert_string_equal(l->address, "2001:DB8::1");
	config_listener_endpoint(l, ep, sizeof(ep));
	assert_string_equal(ep, "tcp [2001:db8::1]:10");

	assert_null(config_listener(c, "nope"));
	config_unref(c);
}

/* The overlap rule on its own: "::" covers all, 0.0.0.0 all of IPv4. */
static void
test_addr_overlap(void **state)
{
	static const struct {
		const char	*a, *b;
		bool		 overlap;
	} cases[] = {
		{ "::", "::", true },
		{ "::", "127.0.0.1", true },
		{ "::", "::1", true },
		{ "0.0.0.0", "10.0.0.1", true },
		{ "0.0.0.0", "::", true },
		{ "0.0.0.0", "::1", false },
		{ "0.0.0.0", "::ffff:10.0.0.1", true },
		{ "127.0.0.1", "127.0.0.1", true },
		{ "127.0.0.1", "127.0.0.2", false },
		{ "127.0.0.1", "::1", false },
		{ "::1", "0:0::1", true },
		{ "::1", "::2", false },
		{ "192.0.2.1", "::ffff:192.0.2.1", true },
	};
	struct conf	*c;
	char		 text[256];
	size_t		 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* Different ports, so the file itself is valid. */
		snprintf(text, sizeof(text), "listeners = ("
		    "{ name = \"a\"; port = 1; address = \"%s\"; },"
		    "{ name = \"b\"; port = 2; address = \"%s\"; } );",
		    cases[i].a, cases[i].b);
		c = parse_ok(text);
		print_message("# %s vs %s\n", cases[i].a, cases[i].b);
		assert_int_equal(config_addr_overlap(&c->listeners[0],
		    &c->listeners[1]), cases[i].overlap);
		assert_int_equal(config_addr_overlap(&c->listeners[1],
		    &c->listeners[0]), cases[i].overlap);
		config_unref(c);
	}
}

/* Each kind of error, with its exact line. */
static void
test_errors(void **state)
{
	static const struct {
		const char	*text;
		const char	*msg;
	} cases[] = {
		{ "listeners = (\n{ name = \"a\"; port = ; }\n);",
		  "t.conf:2: syntax error" },
		{ "\n\nwokers = 2;\n" L1,
		  "t.conf:3: unknown key \"wokers\"" },
		{ "listeners = (\n{ name = \"a\"; port = 1;\n"
		  "adress = \"::1\"; }\n);",
		  "t.conf:3: unknown key \"adress\"" },
		{ "port = 7;\n" L1,
		  "t.conf:1: \"port\" is not allowed at the top level" },
		{ "listeners = (\n{ name = \"a\"; port = 1;\n"
		  "timeouts = { shutdown = 1; }; }\n);",
		  "t.conf:3: \"shutdown\" is not allowed in a listener's "
		  "\"timeouts\"" },
		{ "timeouts = { port = 7; };\n" L1,
		  "t.conf:1: \"port\" is not allowed in the global "
		  "\"timeouts\"" },
		{ L1 "workers = 257;",
		  "t.conf:2: \"workers\" must be an integer from 0 to 256" },
		{ L1 "workers = -1;",
		  "t.conf:2: \"workers\" must be an integer from 0 to 256" },
		{ L1 "workers = 2.0;",
		  "t.conf:2: \"workers\" must be an integer from 0 to 256" },
		{ L1 "workers = \"2\";",
		  "t.conf:2: \"workers\" must be an integer from 0 to 256" },
		{ L1 "log_rate = 0;",
		  "t.conf:2: \"log_rate\" must be an integer from 1 to "
		  "1000000" },
		{ L1 "max_connections = 1000001;",
		  "t.conf:2: \"max_connections\" must be an integer from 1 "
		  "to 1000000" },
		{ L1 "max_line = 63;",
		  "t.conf:2: \"max_line\" must be an integer from 64 to "
		  "16777216" },
		{ L1 "max_memory = 1048575;",
		  "t.conf:2: \"max_memory\" must be an integer from 1048576 "
		  "to 1099511627776" },
		{ L1 "max_memory = 1099511627777L;",
		  "t.conf:2: \"max_memory\" must be an integer from 1048576 "
		  "to 1099511627776" },
		{ L1 "max_memory = 4294967296;",
		  "t.conf:2: \"max_memory\" must be an integer from 1048576 "
		  "to 1099511627776" },
		{ L1 "max_memory = 64.5;",
		  "t.conf:2: \"max_memory\" must be an integer from 1048576 "
		  "to 1099511627776" },
		{ L1 "log_connections = 1;",
		  "t.conf:2: \"log_connections\" must be true or false" },
		{ L1 "log_level = \"verbose\";",
		  "t.conf:2: \"log_level\" must be one of \"debug\", "
		  "\"info\", \"notice\", \"warning\", \"error\"" },
		{ L1 "event_method = \"kqueue\";",
		  "t.conf:2: \"event_method\" must be one of \"auto\", "
		  "\"epoll\", \"poll\", \"select\"" },
		{ L1 "timeouts = 5;",
		  "t.conf:2: \"timeouts\" must be a group ({ ... })" },
		{ L1 "timeouts = { idle = -1; };",
		  "t.conf:2: \"idle\" must be a number of seconds from 0 to "
		  "31536000" },
		{ L1 "timeouts = { write = 31536000.5; };",
		  "t.conf:2: \"write\" must be a number of seconds from 0 to "
		  "31536000" },
		{ L1 "timeouts = { shutdown = 3601; };",
		  "t.conf:2: \"shutdown\" must be a number of seconds from 0 "
		  "to 3600" },
		{ L1 "timeouts = { idle = \"5\"; };",
		  "t.conf:2: \"idle\" must be a number of seconds from 0 to "
		  "31536000" },
		{ L1 "timeouts = { idle = 1e999; };",
		  "t.conf:2: \"idle\" must be a number of seconds from 0 to "
		  "31536000" },
		{ "log_level = \"info\";\n",
		  "t.conf: \"listeners\" is required" },
		{ "", "t.conf: \"listeners\" is required" },
		{ "\nlisteners = ();",
		  "t.conf:2: \"listeners\" must not be empty" },
		{ "listeners = [];",
		  "t.conf:1: \"listeners\" must not be empty" },
		{ "listeners = { name = \"a\"; port = 1; };",
		  "t.conf:1: \"listeners\" must be a list of groups "
		  "(( ... ))" },
		{ "listeners = (\n\"a\",\n{ name = \"b\"; port = 1; }\n);",
		  "t.conf:2: each listener must be a group ({ ... })" },
		{ "listeners = (\n{ port = 1; }\n);",
		  "t.conf:2: \"name\" is required" },
		{ "listeners = (\n{ name = \"a\"; }\n);",
		  "t.conf:2: \"port\" is required" },
		{ "listeners = (\n{ name = \"a\";\nport = 0; }\n);",
		  "t.conf:3: \"port\" must be an integer from 1 to 65535" },
		{ "listeners = (\n{ name = \"a\";\nport = 65536; }\n);",
		  "t.conf:3: \"port\" must be an integer from 1 to 65535" },
		{ "listeners = (\n{ name = \"a b\"; port = 1; }\n);",
		  "t.conf:2: invalid listener name \"a b\": use 1 to 64 of "
		  "A-Z a-z 0-9 _ . -" },
		{ "listeners = (\n{ name = \"\"; port = 1; }\n);",
		  "t.conf:2: invalid listener name \"\": use 1 to 64 of "
		  "A-Z a-z 0-9 _ . -" },
		{ "listeners = (\n{ name = 5; port = 1; }\n);",
		  "t.conf:2: \"name\" must be a string" },
		{ "listeners = (\n{ name = \"a\"; port = 1;\n"
		  "address = \"localhost\"; }\n);",
		  "t.conf:3: invalid address \"localhost\": not an IPv4 or "
		  "IPv6 literal" },
		{ "listeners = (\n{ name = \"a\"; port = 1;\n"
		  "address = \"1.2.3.4.5\"; }\n);",
		  "t.conf:3: invalid address \"1.2.3.4.5\": not an IPv4 or "
		  "IPv6 literal" },
		{ "listeners = (\n{ name = \"a\"; port = 1;\n"
		  "protocol = \"sctp\"; }\n);",
		  "t.conf:3: \"protocol\" must be one of \"tcp\", \"udp\", "
		  "\"stamp\"" },
		{ "listeners = (\n{ name = \"a\"; port = 1; "
		  "protocol = \"stamp\";\nmax_datagram = 43; }\n);",
		  "t.conf:3: \"max_datagram\" must be at least 44 on a stamp "
		  "listener (a STAMP test packet's length)" },
		{ "listeners = (\n{ name = \"a\"; port = 1;\n"
		  "framing = \"lines\"; }\n);",
		  "t.conf:3: \"framing\" must be one of \"raw\", \"line\"" },
		{ "listeners = (\n{ name = \"a\"; port = 1; "
		  "protocol = \"udp\";\nframing = \"line\"; }\n);",
		  "t.conf:3: \"framing\" is not allowed on a udp listener" },
		{ "listeners = (\n{ name = \"a\"; port = 1;\n"
		  "udp_rate = 5; }\n);",
		  "t.conf:3: \"udp_rate\" is not allowed on a tcp listener" },
		/* Keys that mean nothing for datagrams (found in review). */
		{ "listeners = (\n{ name = \"a\"; port = 1; "
		  "protocol = \"udp\";\nmax_connections = 5; }\n);",
		  "t.conf:3: \"max_connections\" is not allowed on a udp "
		  "listener" },
		{ "listeners = (\n{ name = \"a\"; port = 1; "
		  "protocol = \"udp\";\ntimeouts = { idle = 3; }; }\n);",
		  "t.conf:3: \"timeouts\" is not allowed on a udp listener" },
		/* libconfig would end the string at the NUL, silently. */
		{ "listeners = (\n{ name = \"a\"; port = 1; strip = (\n"
		  "{ prefix = \"ab\\x00cd\"; } ); }\n);",
		  "t.conf:3: a string must not hold a NUL byte (\\x00)" },
		{ "listeners = (\n{ name = \"a\"; port = 1; "
		  "protocol = \"udp\";\nmax_datagram = 65508; }\n);",
		  "t.conf:3: \"max_datagram\" must be an integer from 1 to "
		  "65507" },
		{ "listeners = (\n{ name = \"a\"; port = 1;\n"
		  "max_connections = 0; }\n);",
		  "t.conf:3: \"max_connections\" must be an integer from 1 "
		  "to 1000000" },
		{ "listeners = (\n{ name = \"a\"; port = 1;\n"
		  "strip = { bytes = 1; }; }\n);",
		  "t.conf:3: \"strip\" must be a list of groups (( ... ))" },
		{ "listeners = (\n{ name = \"a\"; port = 1;\n"
		  "strip = ( 1 ); }\n);",
		  "t.conf:3: each strip rule must be a group ({ ... })" },
		{ "listeners = (\n{ name = \"a\"; port = 1; strip = (\n"
		  "{ } ); }\n);",
		  "t.conf:3: a strip rule needs exactly one of \"bytes\", "
		  "\"prefix\" or \"regex\"" },
		{ "listeners = (\n{ name = \"a\"; port = 1; strip = (\n"
		  "{ bytes = 1; prefix = \"x\"; } ); }\n);",
		  "t.conf:3: a strip rule needs exactly one of \"bytes\", "
		  "\"prefix\" or \"regex\"" },
		{ "listeners = (\n{ name = \"a\"; port = 1; strip = (\n"
		  "{ bytes = 0; } ); }\n);",
		  "t.conf:3: \"bytes\" must be an integer from 1 to "
		  "16777216" },
		{ "listeners = (\n{ name = \"a\"; port = 1; strip = (\n"
		  "{ bytes = 16777217; } ); }\n);",
		  "t.conf:3: \"bytes\" must be an integer from 1 to "
		  "16777216" },
		{ "listeners = (\n{ name = \"a\"; port = 1; strip = (\n"
		  "{ prefix = \"\"; } ); }\n);",
		  "t.conf:3: \"prefix\" must be a string of 1 to 1024 "
		  "bytes" },
		{ "listeners = (\n{ name = \"a\"; port = 1; strip = (\n"
		  "{ regex = \"^x\"; } ); }\n);",
		  "t.conf:3: \"regex\" is not allowed with raw framing "
		  "(use framing = \"line\")" },
		{ "listeners = (\n{ name = \"a\"; port = 1; framing = \"line\";"
		  "\nstrip = ( { regex = \"(a\"; } ); }\n);",
		  "t.conf:3: invalid regex \"(a\": missing ): (a" },
		{ "listeners = (\n{ name = \"a\"; port = 1; strip = (\n"
		  "{ bytes = 1; gap = 1; } ); }\n);",
		  "t.conf:3: unknown key \"gap\"" },
		{ "listeners = (\n{ name = \"e\"; port = 1; },\n"
		  "{ name = \"e\"; port = 2; }\n);",
		  "t.conf:3: duplicate listener name \"e\" (first on line 2)" },
		{ "listeners = (\n{ name = \"a\"; port = 7; },\n\n"
		  "{ name = \"b\"; port = 7; address = \"127.0.0.1\"; }\n);",
		  "t.conf:4: listener \"b\" overlaps listener \"a\" (line 2): "
		  "both tcp port 7 on \"127.0.0.1\" and \"::\"" },
		{ "listeners = (\n"
		  "{ name = \"a\"; port = 7; protocol = \"udp\"; "
		  "address = \"0.0.0.0\"; },\n"
		  "{ name = \"b\"; port = 7; protocol = \"udp\"; "
		  "address = \"10.0.0.1\"; }\n);",
		  "t.conf:3: listener \"b\" overlaps listener \"a\" (line 2): "
		  "both udp port 7 on \"10.0.0.1\" and \"0.0.0.0\"" },
		{ L1 "workers = 1;\nworkers = 2;",
		  "t.conf:3: duplicate setting name" },
	};
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("# case %zu: %s\n", i, cases[i].msg);
		fails_with(cases[i].text, cases[i].msg);
	}
}

/* What does not overlap is accepted: other protocol, port, address. */
static void
test_no_overlap(void **state)
{
	struct conf	*c;

	c = parse_ok("listeners = (\n"
	    "{ name = \"a\"; port = 7; },\n"
	    "{ name = \"b\"; port = 7; protocol = \"udp\"; },\n"
	    "{ name = \"c\"; port = 8; address = \"127.0.0.1\"; },\n"
	    "{ name = \"d\"; port = 8; address = \"127.0.0.2\"; },\n"
	    "{ name = \"e\"; port = 8; address = \"::1\"; },\n"
	    "{ name = \"f\"; port = 9; address = \"0.0.0.0\"; },\n"
	    "{ name = \"g\"; port = 9; address = \"::1\"; }\n"
	    ");\n");
	assert_int_equal(c->nlisteners, 7);
	config_unref(c);
}

/* One file, many errors: all reported, sorted by line. */
static void
test_many_errors(void **state)
{
	static const char *const want[] = {
		"t.conf:1: unknown key \"wokers\"",
		"t.conf:2: \"log_level\" must be one of \"debug\", \"info\", "
		    "\"notice\", \"warning\", \"error\"",
		"t.conf:4: \"idle\" must be a number of seconds from 0 to "
		    "31536000",
		"t.conf:7: \"port\" is required",
		"t.conf:8: unknown key \"prot\"",
		"t.conf:9: \"port\" must be an integer from 1 to 65535",
		"t.conf:10: duplicate listener name \"a\" (first on line 6)",
		"t.conf:11: \"framing\" is not allowed on a udp listener",
		"t.conf:12: listener \"d\" overlaps listener \"a\" (line 6): "
		    "both tcp port 7 on \"::1\" and \"::\"",
		NULL
	};

	parse_fails(
	    "wokers = 1;\n"					/* 1 */
	    "log_level = \"loud\";\n"				/* 2 */
	    "timeouts = {\n"					/* 3 */
	    "  idle = -5; };\n"					/* 4 */
	    "listeners = (\n"					/* 5 */
	    "  { name = \"a\"; port = 7; },\n"			/* 6 */
	    "  { name = \"b\";\n"				/* 7 */
	    "    prot = 7; },\n"				/* 8 */
	    "  { name = \"c\"; port = 99999; },\n"		/* 9 */
	    "  { name = \"a\"; port = 8; },\n"			/* 10 */
	    "  { name = \"u\"; port = 9; protocol = \"udp\"; framing = "
	    "\"raw\"; },\n"					/* 11 */
	    "  { name = \"d\"; port = 7; address = \"::1\"; }\n" /* 12 */
	    ");\n", want);
}

/* libconfig 1.5 wraps big integer literals to int; they are rejected. */
static void
test_big_integers(void **state)
{
	static const char *const want[] = {
		"t.conf:1: \"max_connections\" must be an integer from 1 to "
		    "1000000",
		"t.conf:2: \"workers\" must be an integer from 0 to 256",
		"t.conf:3: \"log_rate\" must be an integer from 1 to 1000000",
		"t.conf:4: \"idle\" must be a number of seconds from 0 to "
		    "31536000",
		"t.conf:5: \"write\" must be a number of seconds from 0 to "
		    "31536000",
		"t.conf:6: \"port\" must be an integer from 1 to 65535",
		NULL
	};

	parse_fails(
	    "max_connections = 3000000000;\n"
	    "workers = 4294967296;\n"		/* reads as 0 */
	    "log_rate = 4294967297;\n"		/* reads as 1 */
	    "timeouts = { idle = 0x100000001;\n"	/* reads as 1 */
	    "  write = 99999999999999999999; };\n"	/* reads as -1 */
	    "listeners = ( { name = \"a\"; port = 4294967303; } );\n",
	    want);					/* port 7 */
}

/* A wrapped literal is pinned to its key: neighbours stay valid. */
static void
test_big_integer_neighbours(void **state)
{
	struct conf	*c;

	/* Strings and comments holding big numbers are not literals. */
	c = parse_ok("# max_connections = 4294967297;\n"
	    "/* workers = 99999999999; */\n"
	    "listeners = ( { name = \"n4294967297\"; port = 1; "
	    "strip = ( { prefix = \"4294967297\"; } ); max_connections = 1; "
	    "} );\n"
	    "max_connections = 1000000; // 4294967297\n");
	assert_int_equal(c->max_connections, 1000000);
	assert_int_equal(c->listeners[0].max_connections, 1);
	config_unref(c);

	/* Same line, same key: only the wrapped one (4294967303 is 7). */
	fails_with("listeners = ( { name = \"a\"; port = 4294967303; }, "
	    "{ name = \"b\"; port = 8; } );",
	    "t.conf:1: \"port\" must be an integer from 1 to 65535");
	fails_with("listeners = ( { name = \"a\"; port = 1; "
	    "max_connections = 4294967297; } );",
	    "t.conf:1: \"max_connections\" must be an integer from 1 to "
	    "1000000");
}

/* Make a temporary directory; the test removes what it creates. */
static void
mkdtemp_in(char *dir, size_t len)
{
	const char	*tmp = getenv("TMPDIR");

	snprintf(dir, len, "%s/test_config.XXXXXX", tmp != NULL ? tmp :
	    "/tmp");
	assert_non_null(mkdtemp(dir));
}

/* Write text to dir/name. */
static void
write_file(const char *dir, const char *name, const char *text, size_t len)
{
	char	 path[PATH_MAX * 2];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* Remove dir/name. */
static void
remove_file(const char *dir, const char *name)
{
	char	 path[PATH_MAX * 2];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(unlink(path), 0);
}

/* Unreadable files say why, with the path as given. */
static void
test_load_unreadable(void **state)
{
	struct conf_errors	 errs;
	char			 dir[PATH_MAX], path[PATH_MAX + 16];
	char			 want[PATH_MAX * 2];

	mkdtemp_in(dir, sizeof(dir));

	snprintf(path, sizeof(path), "%s/missing.conf", dir);
	assert_null(config_load(path, &errs));
	assert_int_equal(errs.n, 1);
	snprintf(want, sizeof(want), "%s: cannot read: %s", path,
	    strerror(ENOENT));
	assert_string_equal(errs.msgs[0], want);
	config_errors_free(&errs);
	assert_int_equal(errs.n, 0);

	/* A directory is not an empty configuration. */
	assert_null(config_load(dir, &errs));
	assert_int_equal(errs.n, 1);
	snprintf(want, sizeof(want), "%s: cannot read: %s", dir,
	    strerror(EISDIR));
	assert_string_equal(errs.msgs[0], want);
	config_errors_free(&errs);

	/* libconfig would stop at the NUL and miss the rest. */
	write_file(dir, "nul.conf", L1 "\n\0workers = 1000;\n",
	    sizeof(L1 "\n\0workers = 1000;\n") - 1);
	snprintf(path, sizeof(path), "%s/nul.conf", dir);
	assert_null(config_load(path, &errs));
	assert_int_equal(errs.n, 1);
	snprintf(want, sizeof(want), "%s:3: NUL byte in the text", path);
	assert_string_equal(errs.msgs[0], want);
	config_errors_free(&errs);
	remove_file(dir, "nul.conf");

	/* Root reads everything: only meaningful for other users. */
	if (geteuid() != 0) {
		write_file(dir, "secret.conf", L1, strlen(L1));
		snprintf(path, sizeof(path), "%s/secret.conf", dir);
		assert_int_equal(chmod(path, 0), 0);
		assert_null(config_load(path, &errs));
		assert_int_equal(errs.n, 1);
		snprintf(want, sizeof(want), "%s: cannot read: %s", path,
		    strerror(EACCES));
		assert_string_equal(errs.msgs[0], want);
		config_errors_free(&errs);
		remove_file(dir, "secret.conf");
	}
	assert_int_equal(rmdir(dir), 0);
}

/* @include is relative to the file's directory, whatever the cwd. */
static void
test_load_include(void **state)
{
	struct conf_errors	 errs;
	struct conf		*c;
	char			 dir[PATH_MAX], path[PATH_MAX + 16];
	char			 cwd[PATH_MAX], want[PATH_MAX * 3];

	mkdtemp_in(dir, sizeof(dir));
	write_file(dir, "main.conf", "workers = 3;\n@include \"part.inc\"\n",
	    strlen("workers = 3;\n@include \"part.inc\"\n"));
	write_file(dir, "part.inc", "\nlisteners = ( { name = \"inc\"; "
	    "port = 7007; address = \"127.0.0.1\"; } );\n",
	    strlen("\nlisteners = ( { name = \"inc\"; "
	    "port = 7007; address = \"127.0.0.1\"; } );\n"));
	snprintf(path, sizeof(path), "%s/main.conf", dir);

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir("/"), 0);
	c = config_load(path, &errs);
	assert_int_equal(chdir(cwd), 0);
	assert_non_null(c);
	assert_int_equal(errs.n, 0);
	assert_string_equal(c->path, path);
	assert_int_equal(c->workers, 3);
	assert_int_equal(c->nlisteners, 1);
	assert_string_equal(c->listeners[0].name, "inc");
	assert_int_equal(c->listeners[0].line, 2);
	config_unref(c);

	/* Errors in the included file are reported against it. */
	write_file(dir, "part.inc", "listeners = (\n"
	    "{ name = \"a\"; port = 7; workers = 4294967297; } );\n",
	    strlen("listeners = (\n"
	    "{ name = \"a\"; port = 7; workers = 4294967297; } );\n"));
	assert_null(config_load(path, &errs));
	assert_int_equal(errs.n, 1);
	/* Named with its directory, so it can be opened from anywhere. */
	snprintf(want, sizeof(want), "%s/part.inc:2: \"workers\" is not "
	    "allowed in a listener", dir);
	assert_string_equal(errs.msgs[0], want);
	config_errors_free(&errs);

	write_file(dir, "part.inc", "listeners = (\n"
	    "{ name = \"a\"; port = 4294967297; } );\n",
	    strlen("listeners = (\n"
	    "{ name = \"a\"; port = 4294967297; } );\n"));
	assert_null(config_load(path, &errs));
	assert_int_equal(errs.n, 1);
	snprintf(want, sizeof(want), "%s/part.inc:2: \"port\" must be an "
	    "integer from 1 to 65535", dir);
	assert_string_equal(errs.msgs[0], want);
	config_errors_free(&errs);

	remove_file(dir, "part.inc");
	assert_null(config_load(path, &errs));
	assert_int_equal(errs.n, 1);
	/* libconfig says only that; echod names the file and says why. */
	snprintf(want, sizeof(want), "%s:2: cannot open include file "
	    "%s/part.inc: No such file or directory", path, dir);
	assert_string_equal(errs.msgs[0], want);
	config_errors_free(&errs);

	remove_file(dir, "main.conf");
	assert_int_equal(rmdir(dir), 0);
}

/*
 * An @include is found where libconfig's scanner finds one, and only
 * there: not in a block comment, not in a string (even one that spans
 * lines), not after text on its line; errors after an include keep the
 * including file's line numbers.
 */
static void
test_load_include_where_libconfig_finds_it(void **state)
{
	const char		*main_text =
	    "/* @include \"nonexistent.inc\"\n"
	    "@include \"nonexistent.inc\" */\n"
	    "@include \"part.inc\"\n"
	    "log_level = \"x\n"
	    "@include \";\n"
	    "workers = 999;\n";
	struct conf_errors	 errs;
	char			 dir[PATH_MAX], path[PATH_MAX + 16];
	char			 want[PATH_MAX * 3];

	mkdtemp_in(dir, sizeof(dir));
	write_file(dir, "main.conf", main_text, strlen(main_text));
	write_file(dir, "part.inc", "listeners = ( { name = \"a\"; "
	    "port = 7; } );\nmax_line = 1;\n",
	    strlen("listeners = ( { name = \"a\"; port = 7; } );\n"
	    "max_line = 1;\n"));
	snprintf(path, sizeof(path), "%s/main.conf", dir);
	assert_null(config_load(path, &errs));
	/* No include failed: the three errors are the values'. */
	assert_int_equal(errs.n, 3);
	snprintf(want, sizeof(want), "%s:4: \"log_level\" must be one of",
	    path);
	assert_memory_equal(errs.msgs[0], want, strlen(want));
	snprintf(want, sizeof(want), "%s:6: \"workers\" must be", path);
	assert_memory_equal(errs.msgs[1], want, strlen(want));
	snprintf(want, sizeof(want), "%s/part.inc:2: \"max_line\" must be",
	    dir);
	assert_memory_equal(errs.msgs[2], want, strlen(want));
	config_errors_free(&errs);

	remove_file(dir, "part.inc");
	remove_file(dir, "main.conf");
	assert_int_equal(rmdir(dir), 0);
}

/*
 * reuse_port: false unless asked, a boolean on TCP and UDP listeners, and
 * no licence for two listeners of one file to overlap.
 */
static void
test_reuse_port(void **state)
{
	struct conf	*c = parse_ok(L1);

	assert_false(c->listeners[0].reuse_port);
	config_unref(c);

	c = parse_ok("listeners = (\n"
	    "{ name = \"t\"; port = 7; reuse_port = true; },\n"
	    "{ name = \"u\"; port = 7; protocol = \"udp\"; "
	    "reuse_port = true; },\n"
	    "{ name = \"f\"; port = 8; reuse_port = false; }\n"
	    ");\n");
	assert_true(c->listeners[0].reuse_port);
	assert_int_equal(c->listeners[1].protocol, CONF_UDP);
	assert_true(c->listeners[1].reuse_port);
	assert_false(c->listeners[2].reuse_port);
	config_unref(c);

	fails_with("listeners = (\n"
	    "{ name = \"a\"; port = 7; reuse_port = \"yes\"; }\n);",
	    "t.conf:2: \"reuse_port\" must be true or false");
	fails_with("listeners = (\n"
	    "{ name = \"a\"; port = 7; reuse_port = 1; }\n);",
	    "t.conf:2: \"reuse_port\" must be true or false");
	fails_with("reuse_port = true;\n" L1,
	    "t.conf:1: \"reuse_port\" is not allowed at the top level");
	fails_with("listeners = (\n"
	    "{ name = \"a\"; port = 7; reuse_port = true; },\n"
	    "{ name = \"b\"; port = 7; reuse_port = true; }\n);",
	    "t.conf:3: listener \"b\" overlaps listener \"a\" (line 2): "
	    "both tcp port 7 on \"::\" and \"::\"");
}

/* References: the last unref frees (valgrind sees a leak otherwise). */
static void
test_refcount(void **state)
{
	struct conf	*c = parse_ok(
	    "listeners = ( { name = \"s\"; port = 1; framing = \"line\";"
	    " strip = ( { bytes = 2; }, { regex = \"a+\"; } ); } );");

	assert_int_equal(c->refcnt, 1);
	assert_ptr_equal(config_ref(c), c);
	assert_ptr_equal(config_ref(c), c);
	assert_int_equal(c->refcnt, 3);
	config_unref(c);
	config_unref(c);
	assert_int_equal(c->refcnt, 1);
	assert_string_equal(c->listeners[0].name, "s");
	config_unref(c);
	config_unref(NULL);
}

/* The "metrics" group: off when absent, its defaults, its errors. */
static void
test_metrics(void **state)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;
	struct conf			*c;

	c = parse_ok(L1);
	assert_false(c->metrics.enabled);
	assert_true(config_metrics_socket(c, "metrics"));
	assert_false(config_metrics_socket(c, "echo"));
	config_unref(c);

	c = parse_ok("metrics = { };\n" L1);
	assert_true(c->metrics.enabled);
	assert_string_equal(c->metrics.address, "127.0.0.1");
	assert_int_equal(c->metrics.port, 9862);
	sin = (const struct sockaddr_in *)&c->metrics.ss;
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(ntohs(sin->sin_port), 9862);
	assert_int_equal(ntohl(sin->sin_addr.s_addr), INADDR_LOOPBACK);
	assert_int_equal(c->metrics.sslen, sizeof(*sin));
	config_unref(c);

	c = parse_ok("metrics = { address = \"::1\"; port = 1; };\n" L1);
	sin6 = (const struct sockaddr_in6 *)&c->metrics.ss;
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(sin6->sin6_port), 1);
	assert_true(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));
	assert_int_equal(c->metrics.sslen, sizeof(*sin6));
	config_unref(c);

	/* A listener named "metrics" keeps a socket of that name. */
	c = parse_ok("listeners = ( { name = \"metrics\"; port = 7; } );");
	assert_false(config_metrics_socket(c, "metrics"));
	config_unref(c);

	fails_with("metrics = { port = 65536; };\n" L1,
	    "t.conf:1: \"port\" must be an integer from 1 to 65535");
	fails_with("metrics = { port = 0; };\n" L1,
	    "t.conf:1: \"port\" must be an integer from 1 to 65535");
	fails_with("metrics = { address = \"localhost\"; };\n" L1,
	    "t.conf:1: invalid metrics address \"localhost\": not an IPv4 "
	    "or IPv6 literal");
	fails_with("metrics = {\nmax_connections = 1; };\n" L1,
	    "t.conf:2: \"max_connections\" is not allowed in \"metrics\"");
	fails_with("listeners = ( { name = \"a\"; port = 1;\n"
	    "metrics = { }; } );",
	    "t.conf:2: \"metrics\" is not allowed in a listener");
	fails_with("metrics = 1;\n" L1,
	    "t.conf:1: \"metrics\" must be a group ({ ... })");
}

/* errs may be NULL (the fuzzer), and is reset before use. */
static void
test_errs_handling(void **state)
{
	struct conf_errors	 errs;

	assert_null(config_parse("workers = 1000;", "x", NULL));
	assert_null(config_load("/nonexistent/echod.conf", NULL));

	memset(&errs, 0xa5, sizeof(errs));	/* garbage: must be reset */
	assert_null(config_parse("workers = 1000;", NULL, &errs));
	assert_int_equal(errs.n, 2);
	assert_string_equal(errs.msgs[0], "<string>:1: \"workers\" must be "
	    "an integer from 0 to 256");
	assert_string_equal(errs.msgs[1], "<string>: \"listeners\" is "
	    "required");
	config_errors_free(&errs);
	config_errors_free(&errs);
	config_errors_free(NULL);
}

/* A listener with no instrument key misbehaves in no way. */
static void
test_instrument_defaults(void **state)
{
	struct conf			*c = parse_ok(L1);
	const struct listener_conf	*l = &c->listeners[0];

	assert_int_equal(l->delay_usec, 0);
	assert_int_equal(l->jitter_usec, 0);
	assert_int_equal(l->rate.read, 0);
	assert_int_equal(l->rate.write, 0);
	assert_int_equal(l->listener_rate.read, 0);
	assert_int_equal(l->listener_rate.write, 0);
	assert_null(l->banner);
	assert_int_equal(l->close_after.kind, CONF_CLOSE_NONE);
	assert_int_equal(l->refuse, CONF_HANGUP_OFF);
	assert_string_equal(c->hostname, "");
	assert_string_equal(c->instance, "");
	config_unref(c);
}

/* Every instrument key is read back in its unit. */
static void
test_instrument_keys(void **state)
{
	struct conf			*c;
	const struct listener_conf	*l;

	c = parse_ok("listeners = (\n"
	    "{ name = \"a\"; port = 7; framing = \"line\"; delay = 0.05;\n"
	    "  jitter = 0.0000004; rate = { read = \"1M\"; write = \"256k\"; };\n"
	    "  listener_rate = { read = 1000; write = \"2g\"; };\n"
	    "  banner = \"%h %n\\n\"; refuse = \"reset\";\n"
	    "  close_after = { messages = 3; how = \"reset\";\n"
	    "    when = \"before-reply\"; }; },\n"
	    "{ name = \"b\"; port = 8; delay = 60; close_after = {\n"
	    "  seconds = 1.5; }; rate = { write = \"3K\"; }; refuse = \"fin\"; },\n"
	    "{ name = \"c\"; port = 9; close_after = { bytes = 1099511627776L; };\n"
	    "  listener_rate = { read = \"1024G\"; }; },\n"
	    "{ name = \"u\"; port = 9; protocol = \"udp\"; delay = 0.25;\n"
	    "  jitter = 0.125; }\n"
	    ");\n");
	l = &c->listeners[0];
	assert_int_equal(l->delay_usec, 50000);
	/* Below a microsecond still delays: never rounded to none. */
	assert_int_equal(l->jitter_usec, 1);
	assert_int_equal(l->rate.read, 1048576);
	assert_int_equal(l->rate.write, 262144);
	assert_int_equal(l->listener_rate.read, 1000);
	assert_int_equal(l->listener_rate.write, 2147483648ull);
	assert_non_null(l->banner);
	assert_string_equal(banner_text(l->banner), "%h %n\n");
	assert_int_equal(banner_max(l->banner), 64 + 1 + 64 + 1);
	assert_int_equal(l->refuse, CONF_HANGUP_RESET);
	assert_int_equal(l->close_after.kind, CONF_CLOSE_MESSAGES);
	assert_int_equal(l->close_after.count, 3);
	assert_int_equal(l->close_after.how, CONF_HANGUP_RESET);
	assert_true(l->close_after.before_reply);

	l = &c->listeners[1];
	assert_int_equal(l->delay_usec, 60000000);
	assert_int_equal(l->rate.read, 0);
	assert_int_equal(l->rate.write, 3072);
	assert_int_equal(l->refuse, CONF_HANGUP_FIN);
	assert_int_equal(l->close_after.kind, CONF_CLOSE_SECONDS);
	assert_tv(l->close_after.after, 1, 500000);
	/* The defaults: a FIN, after the reply. */
	assert_int_equal(l->close_after.how, CONF_HANGUP_FIN);
	assert_false(l->close_after.before_reply);

	l = &c->listeners[2];
	assert_int_equal(l->close_after.kind, CONF_CLOSE_BYTES);
	assert_int_equal(l->close_after.count, 1ull << 40);
	assert_int_equal(l->listener_rate.read, 1ull << 40);
	assert_int_equal(l->listener_rate.write, 0);

	l = &c->listeners[3];
	assert_int_equal(l->delay_usec, 250000);
	assert_int_equal(l->jitter_usec, 125000);
	config_unref(c);
}

/* What is wrong with an instrument key, one error each. */
static void
test_instrument_errors(void **state)
{
	fails_with("listeners = ( { name = \"a\"; port = 7; delay = 30;\n"
	    "jitter = 31; } );", "t.conf:2: \"delay\" plus \"jitter\" must "
	    "be at most 60 seconds");
	fails_with("listeners = ( { name = \"a\"; port = 7;\n"
	    "rate = { read = \"1m5\"; }; } );", "t.conf:2: \"read\" must be a "
	    "number of bytes from 1 to 1099511627776, or a string of digits "
	    "and k, M or G (powers of 1024) such as \"256k\"");
	fails_with("listeners = ( { name = \"a\"; port = 7;\n"
	    "listener_rate = { }; } );", "t.conf:2: \"listener_rate\" needs "
	    "\"read\" or \"write\"");
	fails_with("listeners = ( { name = \"a\"; port = 7;\n"
	    "banner = \"%q\"; } );", "t.conf:2: invalid banner \"%q\": "
	    "unknown escape \"%q\" (use %h %n %i %a %p or %%)");
	fails_with("listeners = ( { name = \"a\"; port = 7;\n"
	    "close_after = { how = \"fin\"; }; } );", "t.conf:2: "
	    "\"close_after\" needs exactly one of \"bytes\", \"messages\" or "
	    "\"seconds\"");
	fails_with("listeners = ( { name = \"a\"; port = 7;\n"
	    "close_after = { messages = 1; }; } );", "t.conf:2: \"messages\" "
	    "needs framing = \"line\" (a raw read is not a message: use "
	    "\"bytes\")");
	fails_with("listeners = ( { name = \"a\"; port = 7;\n"
	    "protocol = \"udp\"; refuse = \"fin\"; } );", "t.conf:2: "
	    "\"refuse\" is not allowed on a udp listener");
	fails_with("listeners = ( { name = \"a\"; port = 7;\n"
	    "protocol = \"stamp\"; delay = 1; } );", "t.conf:2: \"delay\" is "
	    "not allowed on a stamp listener (its timestamps would count the "
	    "delay as the reflector's own time)");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_instrument_defaults),
		cmocka_unit_test(test_instrument_keys),
		cmocka_unit_test(test_instrument_errors),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_stamp),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_timeout_inheritance),
		cmocka_unit_test(test_handshake_timeout),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_addr_overlap),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_no_overlap),
		cmocka_unit_test(test_many_errors),
		cmocka_unit_test(test_big_integers),
		cmocka_unit_test(test_big_integer_neighbours),
		cmocka_unit_test(test_load_unreadable),
		cmocka_unit_test(test_load_include),
		cmocka_unit_test(test_load_include_where_libconfig_finds_it),
		cmocka_unit_test(test_reuse_port),
		cmocka_unit_test(test_refcount),
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_errs_handling),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
