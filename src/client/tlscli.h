/*
 * tlscli.h: the client's TLS (tlscli.c): its options, the SSL_CTX they
 * make, a connection's SSL with the checks of the server's certificate,
 * a blocking handshake and the reason of a failure.  Both the interactive
 * client (echocli.c) and the load generator (bench.c, bench_conn.c) use it.
 */
#ifndef ECHOCLI_TLSCLI_H
#define ECHOCLI_TLSCLI_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/types.h>

/* The long options' codes (no short ones), out of getopt's char range. */
#define TLSCLI_OPT_TLS		0x200
#define TLSCLI_OPT_CA		0x201
#define TLSCLI_OPT_CERT		0x202
#define TLSCLI_OPT_KEY		0x203
#define TLSCLI_OPT_INSECURE	0x204
#define TLSCLI_OPT_SERVERNAME	0x205

/* The entries of struct option for the options above. */
#define TLSCLI_LONGOPTS \
	{ "tls",	no_argument,		NULL, TLSCLI_OPT_TLS }, \
	{ "ca",		required_argument,	NULL, TLSCLI_OPT_CA }, \
	{ "cert",	required_argument,	NULL, TLSCLI_OPT_CERT }, \
	{ "key",	required_argument,	NULL, TLSCLI_OPT_KEY }, \
	{ "insecure",	no_argument,		NULL, TLSCLI_OPT_INSECURE }, \
	{ "servername",	required_argument,	NULL, TLSCLI_OPT_SERVERNAME }

/* What the options ask of TLS; on is --tls. */
struct tlscli_opts {
	bool		 on;
	bool		 insecure;
	const char	*ca;
	const char	*cert;
	const char	*key;
	const char	*servername;
};

/* Take option ch (a TLSCLI_OPT_*): 1 if it is one, else 0. */
int		 tlscli_option(struct tlscli_opts *, int ch, const char *arg);
/*
 * Whether the options make sense together (--cert with --key, none of
 * them without --tls): -1 after a message on stderr naming prog.
 */
int		 tlscli_check(const struct tlscli_opts *, const char *prog);
/*
 * The context of every connection of a run: TLS 1.2 at least, the
 * server's certificate verified against --ca or the system's store
 * unless --insecure, the client's certificate with mTLS.  NULL with
 * OpenSSL's reason in cause.
 */
SSL_CTX		*tlscli_ctx_new(const struct tlscli_opts *, char *cause,
		    size_t len);
/*
 * A client SSL on the connected, non-blocking fd: SNI for a name, and
 * the name or address (--servername, else host) that the certificate
 * must carry.  NULL if out of memory.
 */
SSL		*tlscli_ssl_new(SSL_CTX *, const struct tlscli_opts *,
		    const char *host, int fd);
/*
 * Run the handshake of ssl on its non-blocking fd, waiting with poll(2)
 * at most timeout seconds: 0, or -1 with the reason in cause.
 */
int		 tlscli_handshake(SSL *, double timeout, char *cause,
		    size_t len);
/*
 * Why a call on ssl failed, err being SSL_get_error()'s answer: the
 * first reason OpenSSL queued (and why the certificate was refused),
 * else errno's, else the end of the connection.  Empties the queue.
 */
const char	*tlscli_reason(SSL *, int err, char *buf, size_t len);

#endif
