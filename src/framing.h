/*
 * framing.h: turn what a client sent into what it is owed, on evbuffers.
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
 * Whether from now on every byte is answered as it is, in order: raw
 * framing whose rules are decided.  Then framing_process() would only
 * relink, and the caller may echo straight from its read buffer.
 */
bool	framing_verbatim(const struct framing *);

#endif
