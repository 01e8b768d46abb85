/*
 * log.h: echod's log, with OpenBSD's names and meanings.
 *
 * log_warn() appends strerror(errno), log_warnx() does not; fatal() and
 * fatalx() are for start-up only.  Every call preserves errno.  One backend
 * is chosen at start: the journal (sd_journal_sendv, with structured fields)
 * or stderr (one human-readable line per entry, "LEVEL: message").
 *
 * The entries operators search for (echod(8)) carry a fixed MESSAGE_ID and
 * ECHOD_* fields; they are written with log_entry().
 */
#ifndef ECHOD_LOG_H
#define ECHOD_LOG_H

#include <sys/uio.h>

#include <stdbool.h>
#include <stddef.h>
#include <syslog.h>

/* MESSAGE_IDs, generated once with systemd-id128 new; see echod(8). */
#define LOG_MSGID_START		"8aab93cfcd724f88a042d2da10895b1e"
#define LOG_MSGID_OPEN		"17dcf542730a4280a838d0bf8058ad76"
#define LOG_MSGID_CLOSE		"1dba6f322c4c4e4593f130d6ea1e91be"
#define LOG_MSGID_RELOAD	"4db64566bcc74b669f5417dc33f93fce"
#define LOG_MSGID_STOP		"dc5c56d168fe441ebc54e25da3821cb8"
#define LOG_MSGID_SUPPRESSED	"e6b2d7284c0f4f3c90c701b468cbe23e"
#define LOG_MSGID_LIMIT		"3f3e4aba00b54854ad778f16c7bd76dc"
#define LOG_MSGID_UDP_DROPS	"a51d3dbc1f3246a38e60d2220db74e65"
#define LOG_MSGID_PROXY		"0885e83887ab4cfb807af2a138fd74ab"
#define LOG_MSGID_TLS		"cd4d8b64a5e449fd901faa2285a3e8ec"

#define LOG_PAYLOAD_MAX		64	/* bytes of payload shown at debug */

enum log_target {
	LOG_TARGET_AUTO,
	LOG_TARGET_JOURNAL,
	LOG_TARGET_STDERR
};

struct log_field {
	const char	*name;		/* e.g. "ECHOD_LISTENER" */
	const char	*value;
};

/* Where entries go; a test seam replaces the backend. */
typedef void	(*log_sink_fn)(int prio, const struct iovec *, size_t, void *);

int		 log_target_parse(const char *, enum log_target *);
/* Choose the backend; auto means the journal when stderr is connected to
 * it ($JOURNAL_STREAM names stderr's device and inode). */
void		 log_init(enum log_target, int level);
bool		 log_is_journal(void);
void		 log_setlevel(int);
int		 log_getlevel(void);
/* "debug", "info", ... to a syslog priority, or -1. */
int		 log_level_parse(const char *);
const char	*log_level_name(int);
/* Replace the backend (tests); NULL restores the chosen one. */
void		 log_set_sink(log_sink_fn, void *);

void		 log_warn(const char *, ...)
		    __attribute__((__format__(printf, 1, 2)));
void		 log_warnx(const char *, ...)
		    __attribute__((__format__(printf, 1, 2)));
void		 log_notice(const char *, ...)
		    __attribute__((__format__(printf, 1, 2)));
void		 log_info(const char *, ...)
		    __attribute__((__format__(printf, 1, 2)));
void		 log_debug(const char *, ...)
		    __attribute__((__format__(printf, 1, 2)));
/*
 * Exit statuses (echod(8)).  The unit does not restart after
 * EXIT_CONFIG (RestartPreventExitStatus=1): only fixing the file helps.
 */
#define EXIT_CONFIG	1	/* bad configuration or arguments */
#define EXIT_NOSERVE	2	/* could not start serving */

void		 fatal(const char *, ...)
		    __attribute__((__format__(printf, 1, 2), __noreturn__));
void		 fatalx(const char *, ...)
		    __attribute__((__format__(printf, 1, 2), __noreturn__));

/* One entry with a MESSAGE_ID (may be NULL) and extra fields. */
void		 log_entry(int prio, const char *msgid,
		    const struct log_field *, size_t, const char *, ...)
		    __attribute__((__format__(printf, 5, 6)));

/*
 * The per-connection budget (log_rate, echod.conf(5)).  Ask before writing an
 * open or close entry; past the budget the entry is counted instead, and
 * log_conn_tick(), called once a second, writes one summary for them.
 */
void		 log_conn_setrate(unsigned int);
bool		 log_conn_permit(bool opened);
void		 log_conn_tick(void);

/* Escape client bytes for a debug entry: printable ASCII kept, the rest
 * as \xNN, at most LOG_PAYLOAD_MAX input bytes.  Returns dst. */
char		*log_escape(char *dst, size_t dstlen, const void *, size_t);

/* Route libevent's own messages into this log. */
void		 log_libevent(void);

#endif
