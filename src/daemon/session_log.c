/*
 * session_log.c: what the journal says of a session: the fields of its
 * entries (the client, the balancer that named it, its TLS), its open
 * entry, and the counts behind the warnings of sessions_tick().  The
 * lowest of the session rooms: it calls none of them (session_int.h).
 */
#include <sys/socket.h>

#include <netinet/in.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <event2/bufferevent_ssl.h>

#include "addr.h"
#include "log.h"
#include "session_int.h"
#include "tls.h"

/*
 * What the sessions of every loop refused over a per-source limit, or
 * closed for their PROXY header or their TLS, since the last
 * sessions_tick(): each kind makes one warning a second at most, naming
 * the last one.  Only these rare paths take the lock.
 */
struct session_tally {
	pthread_mutex_t	 lock;
	unsigned int	 n;
	char		 last[256];
};
static struct session_tally session_tallies[SESSION_TALLIES] = {
	[SESSION_TALLY_REFUSED] = { .lock = PTHREAD_MUTEX_INITIALIZER },
	[SESSION_TALLY_PROXY] = { .lock = PTHREAD_MUTEX_INITIALIZER },
	[SESSION_TALLY_TLS] = { .lock = PTHREAD_MUTEX_INITIALIZER }
};

/* "a:p" or "[a]:p" of sa into buf, and its address and port apart. */
static void
session_endpoint(const struct sockaddr *sa, char *addr, size_t addrlen,
    char *port, size_t portlen, char *buf, size_t len)
{
	uint16_t	 p;

	addr_format(sa, addr, addrlen, &p);
	snprintf(port, portlen, "%u", p);
	snprintf(buf, len, strchr(addr, ':') != NULL ? "[%s]:%u" : "%s:%u",
	    addr, p);
}

/*
 * The fields every entry about a session carries (echod(8)): the client,
 * and when a PROXY header named it, the balancer that connected.
 */
size_t
session_fields(const struct session *s, struct log_field *f,
    struct session_names *nm)
{
	char	 balancer[INET6_ADDRSTRLEN + 8];

	session_endpoint(&s->peer.sa, nm->addr, sizeof(nm->addr), nm->port,
	    sizeof(nm->port), nm->remote, sizeof(nm->remote));
	snprintf(nm->id, sizeof(nm->id), "%" PRIu64, s->id);
	f[0] = (struct log_field){ "ECHOD_SESSION", nm->id };
	f[1] = (struct log_field){ "ECHOD_LISTENER", s->lc->name };
	f[2] = (struct log_field){ "ECHOD_REMOTE_ADDR", nm->addr };
	f[3] = (struct log_field){ "ECHOD_REMOTE_PORT", nm->port };
	nm->via[0] = '\0';
	if (!s->proxied)
		return (4);
	session_endpoint(&s->proxy.sa, nm->paddr, sizeof(nm->paddr),
	    nm->pport, sizeof(nm->pport), balancer, sizeof(balancer));
	snprintf(nm->via, sizeof(nm->via), " via %s", balancer);
	f[4] = (struct log_field){ "ECHOD_PROXY_ADDR", nm->paddr };
	f[5] = (struct log_field){ "ECHOD_PROXY_PORT", nm->pport };
	return (6);
}

/* The fields an entry has of a session's TLS, and its message's words. */
size_t
session_fields_tls(struct session *s, struct log_field *f,
    struct session_tls_names *tn)
{
	struct ssl_st	*ssl;
	const char	*v, *c;
	size_t		 n = 0;

	tn->text[0] = '\0';
	if (s->bev == NULL || (ssl = bufferevent_openssl_get_ssl(s->bev)) ==
	    NULL || !tls_established(ssl))
		return (0);
	v = tls_version_name(ssl);
	c = tls_cipher_name(ssl);
	tls_client_subject(ssl, tn->client, sizeof(tn->client));
	f[n++] = (struct log_field){ "ECHOD_TLS_VERSION", v };
	f[n++] = (struct log_field){ "ECHOD_TLS_CIPHER", c };
	if (tn->client[0] != '\0')
		f[n++] = (struct log_field){ "ECHOD_TLS_CLIENT", tn->client };
	snprintf(tn->text, sizeof(tn->text), ", %s %s%s%s", v, c,
	    tn->client[0] != '\0' ? ", client " : "", tn->client);
	return (n);
}

/* The open entry: the session is served from now on. */
void
session_opened(struct session *s)
{
	struct log_field	 f[9];
	struct session_names	 nm;
	struct session_tls_names tn;
	size_t			 n;

	if (!s->conf->log_connections || !log_conn_permit(true))
		return;
	n = session_fields(s, f, &nm);
	tn.text[0] = '\0';
	if (s->tls)
		n += session_fields_tls(s, f + n, &tn);
	log_entry(LOG_INFO, LOG_MSGID_OPEN, f, n,
	    "connection from %s%s on %s%s", nm.remote, nm.via, s->lc->name,
	    tn.text);
}

/* Count one of kind, with what the warning says of the last one. */
void
session_tally(enum session_tally_kind kind, const char *fmt, ...)
{
	struct session_tally	*t = &session_tallies[kind];
	va_list			 ap;

	pthread_mutex_lock(&t->lock);
	t->n++;
	va_start(ap, fmt);
	vsnprintf(t->last, sizeof(t->last), fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&t->lock);
}

/* What kind counted since the last call, and its last words into last. */
unsigned int
session_tally_take(enum session_tally_kind kind, char *last, size_t len)
{
	struct session_tally	*t = &session_tallies[kind];
	unsigned int		 n;

	pthread_mutex_lock(&t->lock);
	n = t->n;
	t->n = 0;
	snprintf(last, len, "%s", t->last);
	pthread_mutex_unlock(&t->lock);
	return (n);
}

/* Count one of kind for s, naming its client, its listener and why. */
void
session_tally_from(const struct session *s, enum session_tally_kind kind,
    const char *why)
{
	char	 addr[INET6_ADDRSTRLEN], port[8], from[INET6_ADDRSTRLEN + 8];

	session_endpoint(&s->peer.sa, addr, sizeof(addr), port, sizeof(port),
	    from, sizeof(from));
	session_tally(kind, "from %s on %s: %s", from, s->lc->name, why);
}
