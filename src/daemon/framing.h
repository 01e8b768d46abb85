/*
 * framing.h: turn what a client sent into what it is owed.
 *
 * "raw" is a byte stream whose first bytes go through the strip rules once;
 * "line" is a sequence of LF-terminated messages, each stripped on its own.
 * Payload moves from the input to the output evbuffer by relinking chains
 * (evbuffer_remove_buffer, evbuffer_add_buffer) and by draining; it is
 * never copied except when a rule must see bytes that span chains.  No
 * sockets here, so the unit tests can feed any chunking of any input.
 */
#ifndef ECHOD_FRAMING_H
#define ECHOD_FRAMING_H

#include <stdbool.h>
#include <stddef.h>

#include "strip.h"

struct evbuffer;
struct iovec;

enum framing_kind {
	FRAMING_RAW,
	FRAMING_LINE
};

enum framing_status {
	FRAMING_OK,		/* everything answerable was moved */
	FRAMING_LINE_TOO_LONG	/* a line exceeds max_line: close the session */
};

/* Per-session framing state; plain data, embedded in struct session. */
struct framing {
	const struct strip_set	*strip;
	enum framing_kind	 kind;
	bool			 stripping;	/* raw: rules still undecided */
	struct strip_state	 state;		/* raw: progress of the rules */
	size_t			 max_line;	/* line: longest, with terminator */
	size_t			 scanned;	/* line: bytes known to hold no LF */
};

void	framing_init(struct framing *, enum framing_kind,
	    const struct strip_set *, size_t max_line);

/*
 * Move everything that can be answered from in to out: whole lines (line),
 * or the stream once the rules are decided (raw).  With eof set, the input
 * has ended: a last unterminated line, or bytes a rule was waiting on, are
 * stripped and moved too.  On FRAMING_LINE_TOO_LONG every complete line
 * before the long one has been moved, and the rest is left in.
 */
enum framing_status
	framing_process(struct framing *, struct evbuffer *in,
	    struct evbuffer *out, bool eof);

/*
 * The direct path: framing straight from a read buffer, for a session
 * that holds at most a short partial line (which the caller puts in
 * front of the new bytes at data), when framing_direct_ok() says the
 * framing allows it (line framing, or raw once its rules are decided).
 *
 * framing_direct() answers what it can of the len bytes at data: the
 * replies, in order, as at most *niov iovecs pointing into data (a line's
 * stripped prefix is left out; replies that touch share an iovec), with
 * *niov set to how many it used and *used to how many bytes they answer.
 * It stops early when the iovecs run out: the caller sends the replies
 * and calls again on data + *used, until nothing is left or *used is 0.
 * What is left then is a partial line: the caller keeps it as the input
 * of framing_process(), which knows that it holds no LF.  On
 * FRAMING_LINE_TOO_LONG, the replies before the long line are given.
 */
bool	framing_direct_ok(const struct framing *);
enum framing_status
	framing_direct(struct framing *, const char *data, size_t len,
	    struct iovec *iov, size_t *niov, size_t *used);

#endif
