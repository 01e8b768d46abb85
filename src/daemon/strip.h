/*
 * strip.h: the strip rules of echod.conf(5), as pure functions on bytes.
 *
 * A strip set is an ordered list of rules, each removing a prefix of the
 * message left by the rules before it.  Since every rule only ever removes
 * bytes from the front, the result of a whole set is one number: how many
 * leading bytes of the message to drop.  No libevent, no sockets, no
 * allocation on the hot path: the callers (framing.c, udp.c) own the bytes.
 */
#ifndef ECHOD_STRIP_H
#define ECHOD_STRIP_H

#include <stdbool.h>
#include <stddef.h>

/* Largest `bytes = N` and longest `prefix` a rule may name. */
#define STRIP_BYTES_MAX		(16u * 1024 * 1024)
#define STRIP_PREFIX_MAX	1024
/*
 * A regex is at most this long, and compiles to at most STRIP_RE_PROG_MAX
 * instructions (strip_re.h): what bounds the cost of a match per byte.
 */
#define STRIP_REGEX_MAX		1024
/*
 * A regex looks at no more than the first STRIP_REGEX_WINDOW bytes of
 * what is left of a message, so it removes at most that many, as a
 * prefix does.  With the program size, this bounds a match: an automaton
 * meets each byte once, but a hostile line can make RE2 build a new DFA
 * state, of up to a program's size, at every byte, so the cost is the
 * window times the program.  bench/regex, lines new to the rule as a
 * client would send them: [ab]*a[ab]{990} took 34 ms at 4096 bytes, 8 ms
 * at this window (on a machine busy with other work); the same line
 * again costs 0.03 ms, the states being built.
 */
#define STRIP_REGEX_WINDOW	1024

struct strip_set;		/* immutable once built; opaque */

/* Progress of a strip set through the start of a byte stream (raw framing). */
struct strip_state {
	size_t	rule;		/* index of the rule being applied */
	size_t	done;		/* bytes already removed by a `bytes` rule */
};

enum strip_result {
	STRIP_DONE,		/* every rule decided: echo the rest */
	STRIP_MORE		/* hold what is left; a rule needs more input */
};

/* Building, done once by config.c.  Each add returns 0, or -1 with *cause
 * set to a static or allocated-into-buf explanation. */
struct strip_set	*strip_set_new(void);
int			 strip_add_bytes(struct strip_set *, size_t, const char **);
int			 strip_add_prefix(struct strip_set *, const void *, size_t,
			    const char **);
int			 strip_add_regex(struct strip_set *, const char *, char *,
			    size_t);
void			 strip_set_free(struct strip_set *);

/* Number of rules; a NULL set has none. */
size_t			 strip_count(const struct strip_set *);
/* Whether any rule is a regular expression (not allowed with raw framing). */
bool			 strip_has_regex(const struct strip_set *);
/*
 * How many leading bytes of a message the rules may need to look at
 * contiguously: the sum of every `bytes` count and `prefix` length, or
 * SIZE_MAX when a regex is present.  0 for an empty set.
 */
size_t			 strip_window(const struct strip_set *);

/*
 * Apply every rule to a complete message of len bytes (a line without its
 * terminator, a datagram, the rest of a raw stream at its end).  msg must
 * hold min(len, strip_window(set)) contiguous bytes.  Returns how many
 * leading bytes to remove, at most len.
 */
size_t			 strip_message(const struct strip_set *, const void *,
			    size_t);

void			 strip_state_init(struct strip_state *);
/*
 * Raw framing: apply the rules once to the beginning of a stream that
 * arrives in pieces.  data/len are the bytes held since the last call
 * (after the caller removed the previous *drop), at most strip_window()
 * of them.  eof says no more input will come; then the result is always
 * STRIP_DONE.  On return the caller removes *drop leading bytes; on
 * STRIP_MORE it holds the rest and calls again when more arrive.
 */
enum strip_result	 strip_stream(const struct strip_set *,
			    struct strip_state *, const void *, size_t, bool,
			    size_t *);

#endif
