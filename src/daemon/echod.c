/*
 * echod: an RFC 862 echo service for systemd.
 *
 * main() is the life cycle in order: options, configuration, the event
 * loop and its listeners, readiness, the loop, an orderly teardown.
 * Signals are events on the loop; no work is done in a signal handler.
 */
#include <sys/random.h>
#include <sys/time.h>

#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "banner.h"
#include "budget.h"
#include "config.h"
#include "echod.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "session.h"
#include "slot.h"
#include "source.h"
#include "systemd.h"
#include "timer.h"
#include "udp.h"
#include "worker.h"

struct echod	 echod;

static struct {
	const char	*path;
	bool		 verbose;
	int		 stopping_sessions;	/* open when the stop began */
	uint64_t	 released;	/* workers_released(), last tick */
	uint64_t	 closed;	/* workers_closed() at the last tick */
	bool		 trim_again;	/* trim on the next quiet tick too */
	bool		 over;		/* budget_over() at the last tick */
	struct event	*sighup, *sigterm, *sigint;
	struct timer	 tick;		/* once a second: status, budgets */
	struct event	*deadline;	/* end of the graceful stop */
	struct event	*drained;	/* the last connection is gone */
	/* A banner's %i: drawn once, the same over reloads (issue 18). */
	char		 instance[BANNER_INSTANCE_LEN + 1];
} echod_state;

static __attribute__((__noreturn__)) void
usage(FILE *f, int status)
{
	fprintf(f, "usage: echod [-c FILE] [-t] "
	    "[--log-target=auto|journal|stderr] [-v] [-V] [-h]\n"
	    "  -c, --config FILE    configuration file (default %s)\n"
	    "  -t, --check-config   check the configuration and exit\n"
	    "      --log-target T   auto, journal or stderr (default auto)\n"
	    "  -v, --verbose        log at debug level\n"
	    "  -V, --version        print the version and exit\n"
	    "  -h, --help           print this help and exit\n",
	    SYSCONFDIR "/echod.conf");
	exit(status);
}

/*
 * This process's instance id, a banner's %i: 32 bits from getrandom(2),
 * so that two echod on one host (or two pods of one name) tell apart;
 * the clock and the pid if the kernel has no entropy for us yet.
 */
static void
echod_instance(void)
{
	uint32_t	 r;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (uint32_t)time(NULL) ^ ((uint32_t)getpid() << 16);
	banner_instance(r, echod_state.instance);
}

/*
 * Who answers, into conf before anyone sees it: the host's name now (a
 * reload follows a rename) and the process's instance id.
 */
static void
echod_identify(struct conf *conf)
{
	if (gethostname(conf->hostname, sizeof(conf->hostname)) == -1)
		conf->hostname[0] = '\0';
	conf->hostname[sizeof(conf->hostname) - 1] = '\0';
	snprintf(conf->instance, sizeof(conf->instance), "%s",
	    echod_state.instance);
}

/* Load path, or log every error and return NULL. */
static struct conf *
echod_load(const char *path, bool to_stderr, char **first)
{
	struct conf_errors	 errs = { NULL, 0 };
	struct conf		*conf;
	size_t			 i;

	if ((conf = config_load(path, &errs)) != NULL) {
		echod_identify(conf);
		return (conf);
	}
	for (i = 0; i < errs.n; i++) {
		if (to_stderr)
			fprintf(stderr, "%s\n", errs.msgs[i]);
		else
			log_entry(LOG_ERR, NULL, NULL, 0, "%s", errs.msgs[i]);
	}
	if (first != NULL)
		*first = strdup(errs.n > 0 ? errs.msgs[0] : path);
	config_errors_free(&errs);
	return (NULL);
}

/* The STATUS= line: what `systemctl status echod` shows. */
static void
echod_status(char *buf, size_t len)
{
	int	n;

	n = snprintf(buf, len, "%u sessions on %u listeners; %llu accepted, "
	    "%.1f MB echoed", listeners_open(), listeners_count(),
	    (unsigned long long)workers_accepted(),
	    (double)workers_bytes() / 1e6);
	/* UDP: what the reflection guard and the rate limit refused. */
	if (n > 0 && (size_t)n < len && (udp_count() > 0 || udp_dropped() > 0))
		snprintf(buf + n, len - (size_t)n, "; %llu datagrams dropped",
		    (unsigned long long)udp_dropped());
}

/*
 * Once a second: say when the memory budget is reached and when the
 * sessions may read again (at most one entry a second each way), and
 * give free pages back to the system when sessions closed or quiet ones
 * gave their buffers back, or RSS stays where the busiest second left it.
 * malloc_trim(0) walks every arena (glibc 2.36), the worker threads' too.
 */
static void
echod_memory_tick(void)
{
	bool		 over = budget_over();
	uint64_t	 closed = workers_closed();
	uint64_t	 released = workers_released();

	if (over != echod_state.over) {
		echod_state.over = over;
		if (over)
			log_warnx("max_memory reached (%llu bytes held): "
			    "sessions holding bytes stop reading",
			    (unsigned long long)budget_held());
		else
			log_notice("memory back under max_memory (%llu bytes "
			    "held): sessions read again",
			    (unsigned long long)budget_held());
	}
	/*
	 * Once more on the tick after the counts stop moving: a worker may
	 * still have been freeing when the last trim ran.
	 */
	if (closed != echod_state.closed || released != echod_state.released) {
		echod_state.closed = closed;
		echod_state.released = released;
		echod_state.trim_again = true;
		malloc_trim(0);
	} else if (echod_state.trim_again) {
		echod_state.trim_again = false;
		malloc_trim(0);
	}
}

/* Once a second: STATUS=, the log budget's summary, refusal warnings. */
static void
echod_tick(void *arg)
{
	char	status[256];

	(void)arg;
	if (timer_in(echod.timers, &echod_state.tick, 1000000) == -1)
		log_warnx("cannot set the status tick");
	log_conn_tick();
	listeners_tick();
	sessions_tick();
	/* Counters of listeners gone whose last session closed. */
	slots_reap();
	/*
	 * Quiet sessions gave buffers back: return the free pages to the
	 * system, or RSS stays where the busiest second left it.
	 */
	budget_tick();
	echod_memory_tick();
	if (echod.stopping)
		snprintf(status, sizeof(status), "Stopping: %u sessions left",
		    listeners_open());
	else
		echod_status(status, sizeof(status));
	systemd_status(status);
}

/* Apply log_level and log_rate; -v keeps debug. */
static void
echod_log_settings(const struct conf *conf)
{
	log_setlevel(echod_state.verbose ? LOG_DEBUG : conf->log_level);
	log_conn_setrate(conf->log_rate);
}

/* Whether the metrics group differs between a and b. */
static bool
echod_metrics_changed(const struct conf *a, const struct conf *b)
{
	return (a->metrics.enabled != b->metrics.enabled ||
	    a->metrics.sslen != b->metrics.sslen ||
	    memcmp(&a->metrics.ss, &b->metrics.ss, a->metrics.sslen) != 0);
}

/* SIGHUP: reload transactionally (echod(8), SIGNALS). */
static void
echod_reload(evutil_socket_t sig, short what, void *arg)
{
	struct listener_diff	 diff;
	struct log_field	 result = { "ECHOD_RELOAD_RESULT", "rejected" };
	struct conf		*next;
	char			*why = NULL, status[256];

	if (echod.stopping)
		return;
	systemd_reloading();
	if ((next = echod_load(echod_state.path, false, &why)) == NULL ||
	    listeners_apply(echod.base, next, &diff, &why) == -1) {
		log_entry(LOG_ERR, LOG_MSGID_RELOAD, &result, 1,
		    "reload rejected: %s", why != NULL ? why : "out of memory");
		free(why);
		config_unref(next);
		metrics_reloaded(false);
	} else {
		if (next->workers != echod.conf->workers ||
		    strcmp(next->event_method, echod.conf->event_method) != 0)
			log_notice("workers and event_method change at the "
			    "next restart");
		if (echod_metrics_changed(echod.conf, next))
			log_notice("metrics changes at the next restart");
		config_unref(echod.conf);
		echod.conf = next;
		echod_log_settings(next);
		budget_set(next->max_memory);
		metrics_reloaded(true);
		result.value = "ok";
		log_entry(LOG_INFO, LOG_MSGID_RELOAD, &result, 1,
		    "configuration reloaded: %u listeners (%u added, "
		    "%u removed), %u sessions kept", diff.total, diff.added,
		    diff.removed, listeners_open());
	}
	/* Also after a rejection, or systemd waits in "reloading". */
	echod_status(status, sizeof(status));
	systemd_ready(status);
}

/* The graceful stop's time is up: close what is left.  Each worker
 * closes its own; the last session gone ends the main loop. */
static void
echod_deadline(evutil_socket_t fd, short what, void *arg)
{
	workers_close_all("shutdown");
}

/* The last connection of a graceful stop is gone: end the main loop. */
static void
echod_drained(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(echod.base);
}

/*
 * SIGTERM, SIGINT: stop accepting, let open sessions finish for up to
 * timeouts.shutdown, then close them.  A second signal ends it at once.
 */
static void
echod_stop(evutil_socket_t sig, short what, void *arg)
{
	char	status[64];

	if (echod.stopping) {
		echod_deadline(-1, 0, NULL);
		return;
	}
	echod.stopping = true;
	echod_state.stopping_sessions = (int)listeners_open();
	snprintf(status, sizeof(status), "Stopping: %u sessions left",
	    listeners_open());
	systemd_stopping(status);
	listeners_close(echod_state.drained);
	if (listeners_open() == 0)
		return;
	echod_state.deadline = evtimer_new(echod.base, echod_deadline, NULL);
	if (echod_state.deadline == NULL ||
	    evtimer_add(echod_state.deadline, &echod.conf->shutdown) == -1)
		echod_deadline(-1, 0, NULL);
}

/* workers = 0: one per CPU this process may run on (CPUAffinity=). */
static unsigned int
echod_nworkers(const struct conf *conf)
{
	cpu_set_t	set;
	int		n;

	if (conf->workers != 0)
		return (conf->workers);
	if (sched_getaffinity(0, sizeof(set), &set) == -1 ||
	    (n = CPU_COUNT(&set)) < 1)
		return (1);
	return ((unsigned int)n);
}

/* Signals as loop events, and the tick. */
static void
echod_events(void)
{
	echod_state.sighup = evsignal_new(echod.base, SIGHUP, echod_reload,
	    NULL);
	echod_state.sigterm = evsignal_new(echod.base, SIGTERM, echod_stop,
	    NULL);
	echod_state.sigint = evsignal_new(echod.base, SIGINT, echod_stop, NULL);
	echod_state.drained = event_new(echod.base, -1, 0, echod_drained, NULL);
	if (echod_state.drained == NULL || echod_state.sighup == NULL ||
	    echod_state.sigterm == NULL || echod_state.sigint == NULL ||
	    evsignal_add(echod_state.sighup, NULL) == -1 ||
	    evsignal_add(echod_state.sigterm, NULL) == -1 ||
	    evsignal_add(echod_state.sigint, NULL) == -1 ||
	    timer_in(echod.timers, &echod_state.tick, 1000000) == -1)
		fatalx("cannot set up the event loop");
}

/* The start entry (echod(8), JOURNAL ENTRIES) and READY=1. */
static void
echod_ready(void)
{
	char			 list[1024], status[256];
	struct log_field	 f[] = {
		{ "ECHOD_LISTENERS", list },
		{ "ECHOD_INSTANCE", echod_state.instance }
	};

	listeners_describe(list, sizeof(list));
	log_entry(LOG_INFO, LOG_MSGID_START, f, 2,
	    "echod %s serving %u listener%s (%s) with libevent %s (%s), "
	    "%u worker%s, instance %s", PACKAGE_VERSION, listeners_count(),
	    listeners_count() == 1 ? "" : "s", list, event_get_version(),
	    event_base_get_method(echod.base), workers_count(),
	    workers_count() == 1 ? "" : "s", echod_state.instance);
	echod_status(status, sizeof(status));
	systemd_ready(status);
}

/* Free everything, so leak checkers see a clean exit; also after a
 * failed start, so only what was set up is freed. */
static void
echod_teardown(bool stopped)
{
	struct event	**ev[] = { &echod_state.deadline, &echod_state.drained,
	    &echod_state.sigint,
	    &echod_state.sigterm, &echod_state.sighup };
	size_t		  i;

	listeners_close(NULL);
	workers_stop();
	/* The sessions' last refusal warnings, before the stop entry. */
	if (stopped)
		sessions_tick();
	/* After the workers are joined: every close entry is written. */
	if (stopped)
		log_entry(LOG_INFO, LOG_MSGID_STOP, NULL, 0,
		    "echod stopping: %d sessions closed",
		    echod_state.stopping_sessions);
	for (i = 0; i < sizeof(ev) / sizeof(ev[0]); i++)
		if (*ev[i] != NULL) {
			event_free(*ev[i]);
			*ev[i] = NULL;
		}
	metrics_free();
	systemd_free();
	/* After the workers: their sessions gave their counts back. */
	sources_free();
	slots_free_all();
	if (echod.timers != NULL) {
		timer_del(echod.timers, &echod_state.tick);
		timers_free(echod.timers);
	}
	if (echod.base != NULL)
		event_base_free(echod.base);
	config_unref(echod.conf);
	libevent_global_shutdown();
}

/* Could not start serving: say why, here and in `systemctl status`. */
static int
echod_fail(char *cause)
{
	log_entry(LOG_ERR, NULL, NULL, 0, "%s", cause != NULL ? cause :
	    "out of memory");
	systemd_status(cause != NULL ? cause : "out of memory");
	free(cause);
	echod_teardown(false);
	return (EXIT_NOSERVE);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config",		required_argument,	NULL, 'c' },
		{ "check-config",	no_argument,		NULL, 't' },
		{ "log-target",		required_argument,	NULL, 'L' },
		{ "verbose",		no_argument,		NULL, 'v' },
		{ "version",		no_argument,		NULL, 'V' },
		{ "help",		no_argument,		NULL, 'h' },
		{ NULL,			0,			NULL, 0 }
	};
	enum log_target		 target = LOG_TARGET_AUTO;
	struct listener_diff	 diff;
	bool			 check = false;
	unsigned int		 nworkers;
	char			*cause;
	int			 ch;

	echod_state.path = SYSCONFDIR "/echod.conf";
	echod_instance();
	timer_init(&echod_state.tick, echod_tick, NULL);
	while ((ch = getopt_long(argc, argv, "c:tvVh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			echod_state.path = optarg;
			break;
		case 't':
			check = true;
			break;
		case 'L':
			if (log_target_parse(optarg, &target) == -1) {
				fprintf(stderr, "echod: unknown log target "
				    "\"%s\"\n", optarg);
				usage(stderr, EXIT_CONFIG);
			}
			break;
		case 'v':
			echod_state.verbose = true;
			break;
		case 'V':
			printf("echod %s (libevent %s)\n", PACKAGE_VERSION,
			    event_get_version());
			return (0);
		case 'h':
			usage(stdout, 0);
		default:
			usage(stderr, EXIT_CONFIG);
		}
	}
	if (optind != argc)
		usage(stderr, EXIT_CONFIG);

	if (check) {
		if ((echod.conf = echod_load(echod_state.path, true,
		    NULL)) == NULL)
			return (EXIT_CONFIG);
		printf("echod: %s: configuration is valid\n", echod_state.path);
		config_unref(echod.conf);
		return (0);
	}

	log_init(target, echod_state.verbose ? LOG_DEBUG : LOG_INFO);
	log_libevent();
	if ((echod.conf = echod_load(echod_state.path, false, NULL)) == NULL)
		return (EXIT_CONFIG);
	echod_log_settings(echod.conf);

	/* libevent writes with writev(): a reset client must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	/*
	 * Locks only where threads share a base: a single loop would pay a
	 * lock on every event operation for nothing.  (workers changes only
	 * at a restart.)
	 */
	nworkers = echod_nworkers(echod.conf);
	if (nworkers > 1 && evthread_use_pthreads() == -1)
		fatalx("cannot enable libevent's thread support");
	if ((echod.base = worker_base_new(echod.conf)) == NULL) {
		if (asprintf(&cause, "no event backend \"%s\"",
		    echod.conf->event_method) == -1)
			cause = NULL;
		return (echod_fail(cause));
	}
	if ((echod.timers = timers_new(echod.base)) == NULL)
		return (echod_fail(strdup("cannot set up timers")));
	if (sources_init() == -1)
		return (echod_fail(strdup("cannot set up the per-source "
		    "limits")));
	if (workers_start(echod.base, echod.timers, nworkers, echod.conf,
	    &cause) == -1 ||
	    listeners_apply(echod.base, echod.conf, &diff, &cause) == -1 ||
	    metrics_start(echod.base, echod.conf, &cause) == -1)
		return (echod_fail(cause));
	echod_events();
	if (systemd_watchdog(echod.timers) == -1)
		log_warnx("cannot arm the watchdog");
	echod_ready();

	event_base_dispatch(echod.base);
	echod_teardown(true);
	return (0);
}
