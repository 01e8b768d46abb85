/*
 * framing.c: turn what a client sent into what it is owed.
 *
 * Payload is never copied through arrays.  On evbuffers, stripped bytes
 * are drained and the rest is relinked from in to out; only the first
 * strip_window() bytes of a message are made contiguous, and only when a
 * rule must read them.  The direct path answers with iovecs into the
 * caller's read buffer.
 */

/* removed */

#include <stdint.h>
#include <string.h>

#include <event2/buffer.h>

#include "framing.h"

/* Set up the framing of a new session. */
void
framing_init(struct framing *f, enum framing_kind kind,
    const struct strip_set *strip, size_t max_line)
{
	f->strip = strip;
	f->kind = kind;
	f->stripping = kind == FRAMING_RAW && strip_count(strip) > 0;
	strip_state_init(&f->state);
	f->max_line = max_line;
	f->scanned = 0;
}

/*
 * Contiguous view of the first bytes of in that the rules may read, at
 * most len; *n is set to how many that is.  NULL only when out of memory.
 */
static const void *
framing_pullup(const struct framing *f, struct evbuffer *in, size_t len,
    size_t *n)
{
	size_t	 want;

	want = strip_window(f->strip);
	if (want > len)
		want = len;
	*n = want;
	if (want == 0)
		return ("");
	return (evbuffer_pullup(in, (ev_ssize_t)want));
}

/*
 * Strip the message at the front of in, len bytes followed by a terminator
 * of term bytes (0 for a last line cut by eof), and move the rest of it and
 * the terminator to out.
 */
static void
framing_line_out(struct framing *f, struct evbuffer *in, struct evbuffer *out,
    size_t len, size_t term)
{
	struct evbuffer_ptr	 ptr;
	const void		*msg;
	size_t			 n, drop = 0;
	char			 c;

	if (strip_count(f->strip) > 0) {
		/* A CR before the LF is terminator, not text for the rules. */
		if (term == 1 && len > 0 &&
		    evbuffer_ptr_set(in, &ptr, len - 1,
		    EVBUFFER_PTR_SET) == 0 &&
		    evbuffer_copyout_from(in, &ptr, &c, 1) == 1 &&
		    c == '\r') {
			len--;
			term++;
		}
		/*
		 * Out of memory for the pullup: echo the line unstripped
		 * rather than lose it; the session goes on.
		 */
		if ((msg = framing_pullup(f, in, len, &n)) != NULL)
			drop = strip_message(f->strip, msg, len);
		evbuffer_drain(in, drop);
	}
	evbuffer_remove_buffer(in, out, len + term - drop);
}

/*
 * Line framing: move every complete line, each stripped on its own.
 * f->scanned remembers how much of a partial line holds no LF, so a long
 * line arriving in many reads is searched once, not once per read.
 */
static enum framing_status
framing_line(struct framing *f, struct evbuffer *in, struct evbuffer *out,
    bool eof)
{
	struct evbuffer_ptr	 ptr, eol;
	size_t			 len, start = 0, total, partial;
	bool			 rules;

	/*
	 * Without rules, lines need no work of their own: complete ones
	 * gather in the first `start` bytes and move in one call.
	 */
	rules = strip_count(f->strip) > 0;
	for (;;) {
		len = evbuffer_get_length(in);
		if (start + f->scanned >= len) {
			f->scanned = len - start;
			break;
		}
		if (evbuffer_ptr_set(in, &ptr, start + f->scanned,
		    EVBUFFER_PTR_SET) != 0)
			break;
		eol = evbuffer_search_eol(in, &ptr, NULL, EVBUFFER_EOL_LF);
		if (eol.pos == -1) {
			f->scanned = len - start;
			break;
		}
		f->scanned = 0;
		total = (size_t)eol.pos + 1 - start;
		if (total > f->max_line) {
			evbuffer_remove_buffer(in, out, start);
			return (FRAMING_LINE_TOO_LONG);
		}
		if (rules)
			framing_line_out(f, in, out, total - 1, 1);
		else
			start += total;
	}
	if (start > 0)
		evbuffer_remove_buffer(in, out, start);

	/*
	 * A partial line of max_line bytes can only end beyond the limit,
	 * since the LF still has to come.  It is refused at eof too, so that
	 * the verdict does not depend on how the input was split.
	 */
	partial = evbuffer_get_length(in);
	if (partial >= f->max_line)
		return (FRAMING_LINE_TOO_LONG);
	if (eof && partial > 0) {
		framing_line_out(f, in, out, partial, 0);
		f->scanned = 0;
	}
	return (FRAMING_OK);
}

/*
 * Raw framing: let the rules eat the start of the stream, holding bytes a
 * rule still waits on, then move everything as it comes.
 */
static enum framing_status
framing_raw(struct framing *f, struct evbuffer *in, struct evbuffer *out,
    bool eof)
{
	const void		*data;
	enum strip_result	 res;
	size_t			 n, drop;

	if (f->stripping) {
		data = framing_pullup(f, in, evbuffer_get_length(in), &n);
		/* Out of memory for the pullup: try again on the next read. */
		if (data == NULL)
			return (FRAMING_OK);
		res = strip_stream(f->strip, &f->state, data, n, eof, &drop);
		evbuffer_drain(in, drop);
		if (res == STRIP_MORE)
			return (FRAMING_OK);
		f->stripping = false;
	}
	/* Relinks the chains: the echo fast path copies nothing. */
	evbuffer_add_buffer(out, in);
	return (FRAMING_OK);
}

/* Whether framing_direct() may run: a raw stream still being stripped
 * needs the bytes held across reads. */
bool
framing_direct_ok(const struct framing *f)
{
	return (f->kind == FRAMING_LINE || !f->stripping);
}

/*
 * How many leading bytes of the line at data, len bytes before its LF,
 * the rules remove; a CR before the LF is terminator, not text.
 */
static size_t
framing_line_drop(const struct framing *f, const char *data, size_t len)
{
	if (strip_count(f->strip) == 0)
		return (0);
	if (len > 0 && data[len - 1] == '\r')
		len--;
	return (strip_message(f->strip, data, len));
}

/* See framing.h. */
enum framing_status
framing_direct(struct framing *f, const char *data, size_t len,
    struct iovec *iov, size_t *niov, size_t *used)
{
	const char	*lf = NULL, *reply, *end;
	size_t		 pos = 0, n = 0, room = *niov, total, drop;

	if (f->kind == FRAMING_RAW) {
		*niov = *used = 0;
		if (len > 0 && room > 0) {
			iov[0].iov_base = (void *)data;
			iov[0].iov_len = len;
			*niov = 1;
			*used = len;
		}
		return (FRAMING_OK);
	}
	while (pos < len &&
	    (lf = memchr(data + pos, '\n', len - pos)) != NULL) {
		total = (size_t)(lf - data) + 1 - pos;
		if (total > f->max_line) {
			*niov = n;
			*used = pos;
			return (FRAMING_LINE_TOO_LONG);
		}
		drop = framing_line_drop(f, data + pos, total - 1);
		reply = data + pos + drop;
		end = n > 0 ? (const char *)iov[n - 1].iov_base +
		    iov[n - 1].iov_len : NULL;
		if (end == reply)
			iov[n - 1].iov_len += total - drop;
		else if (n == room)
			break;
		else {
			iov[n].iov_base = (void *)reply;
			iov[n++].iov_len = total - drop;
		}
		pos += total;
	}
	*niov = n;
	*used = pos;
	f->scanned = 0;
	if (lf == NULL && pos < len) {
		/* Only an LF beyond max_line could end it (framing_line()). */
		if (len - pos >= f->max_line)
			return (FRAMING_LINE_TOO_LONG);
		f->scanned = len - pos;
	}
	return (FRAMING_OK);
}

/* Move everything that can be answered from in to out. */
enum framing_status
framing_process(struct framing *f, struct evbuffer *in, struct evbuffer *out,
    bool eof)
{
	if (f->kind == FRAMING_LINE)
		return (framing_line(f, in, out, eof));
	return (framing_raw(f, in, out, eof));
}
