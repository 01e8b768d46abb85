/*
 * session_script.c: what a test instrument's keys make a session do
 * (echod.conf(5), TESTING; issue 18): speak first (banner).
 *
 * It sits between the TLS path and session.c: the rooms above call it
 * where a session starts to echo, and it calls only session.c and
 * session_log.c (session_int.h).
 */
#include <sys/socket.h>

#include <netinet/in.h>

#include <stdbool.h>
#include <stddef.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "addr.h"
#include "banner.h"
#include "session_int.h"

/*
 * The banner, rendered for this session (its client the real one, after
 * a PROXY header), at the head of its output: never framed, so no strip
 * rule touches it, and counted as sent.  A plain session sends it at
 * once; what the socket does not take waits as any reply.  Returns -1
 * when s is gone.
 */
static int
session_script_banner(struct session *s)
{
	const struct banner	*b = s->lc->banner;
	struct banner_vars	 v;
	struct evbuffer		*out;
	struct evbuffer_iovec	 vec;
	char			 addr[INET6_ADDRSTRLEN];
	size_t			 max = banner_max(b);

	addr_format(&s->peer.sa, addr, sizeof(addr), &v.port);
	v.host = s->conf->hostname;
	v.listener = s->lc->name;
	v.instance = s->conf->instance;
	v.addr = addr;
	if (s->bev == NULL && session_buffers(s) == -1)
		goto oom;
	out = bufferevent_get_output(s->bev);
	if (max == 0)
		return (0);
	if (evbuffer_reserve_space(out, (ev_ssize_t)max, &vec, 1) != 1)
		goto oom;
	vec.iov_len = banner_render(b, &v, vec.iov_base, vec.iov_len);
	if (evbuffer_commit_space(out, &vec, 1) == -1)
		goto oom;
	session_count(s, vec.iov_len);
	return (session_flush(s));
oom:
	session_oom(s);
	return (-1);
}

/*
 * The session starts to echo, its PROXY header and its handshake done:
 * what comes before any reply.  Returns -1 when s is gone.
 */
int
session_script_begin(struct session *s)
{
	if (s->lc->banner != NULL && session_script_banner(s) == -1)
		return (-1);
	return (0);
}
