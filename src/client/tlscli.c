/*
 * tlscli.c: the client's TLS (see tlscli.h), OpenSSL used directly on
 * the client's own non-blocking sockets: the interactive client polls one
 * socket and the bench checks replies as they stream in, so neither has
 * a bufferevent to hand its socket to.
 *
 * Verified by default: the chain against --ca (else the system's store)
 * and the name or address against --servername (else the host operand),
 * as a browser does.  --insecure skips both and says so.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tlscli.h"

static double	tlscli_now(void);
static int	tlscli_is_ip(const char *);
static void	tlscli_cause(const char *, const char *, char *, size_t);

/* Seconds of CLOCK_MONOTONIC. */
static double
tlscli_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

/* Whether name is an IPv4 or IPv6 literal (no SNI for those). */
static int
tlscli_is_ip(const char *name)
{
	struct in6_addr	a;

	return (inet_pton(AF_INET, name, &a) == 1 ||
	    inet_pton(AF_INET6, name, &a) == 1);
}

/* "what: OpenSSL's first reason" into cause; empties the queue. */
static void
tlscli_cause(const char *what, const char *file, char *cause, size_t len)
{
	unsigned long	 e;
	const char	*r;

	e = ERR_peek_error();
	r = e != 0 ? ERR_reason_error_string(e) : NULL;
	snprintf(cause, len, "%s%s%s: %s", what, file != NULL ? " " : "",
	    file != NULL ? file : "", r != NULL ? r : "unknown error");
	ERR_clear_error();
}

/* Take option ch (see tlscli.h). */
int
tlscli_option(struct tlscli_opts *t, int ch, const char *arg)
{
	switch (ch) {
	case TLSCLI_OPT_TLS:
		t->on = true;
		break;
	case TLSCLI_OPT_CA:
		t->ca = arg;
		break;
	case TLSCLI_OPT_CERT:
		t->cert = arg;
		break;
	case TLSCLI_OPT_KEY:
		t->key = arg;
		break;
	case TLSCLI_OPT_INSECURE:
		t->insecure = true;
		break;
	case TLSCLI_OPT_SERVERNAME:
		t->servername = arg;
		break;
	default:
		return (0);
	}
	return (1);
}

/* Whether the options make sense together (see tlscli.h). */
int
tlscli_check(const struct tlscli_opts *t, const char *prog)
{
	if (!t->on && (t->ca != NULL || t->cert != NULL || t->key != NULL ||
	    t->insecure || t->servername != NULL)) {
		fprintf(stderr, "%s: --ca, --cert, --key, --insecure and "
		    "--servername need --tls\n", prog);
		return (-1);
	}
	if ((t->cert == NULL) != (t->key == NULL)) {
		fprintf(stderr, "%s: --cert and --key go together\n", prog);
		return (-1);
	}
	if (t->insecure && t->ca != NULL) {
		fprintf(stderr, "%s: --insecure verifies nothing: --ca has "
		    "no use with it\n", prog);
		return (-1);
	}
	return (0);
}

/* The context of every connection of a run (see tlscli.h). */
SSL_CTX *
tlscli_ctx_new(const struct tlscli_opts *t, char *cause, size_t len)
{
	SSL_CTX	*ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		tlscli_cause("SSL_CTX_new", NULL, cause, len);
		return (NULL);
	}
	/* TLS 1.0 and 1.1 are deprecated (RFC 8996), as in echod. */
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
		tlscli_cause("TLS 1.2", NULL, cause, len);
		goto fail;
	}
	/*
	 * Writes are like send(2)'s: what fits now, the rest later from a
	 * buffer the bench may have moved its unsent bytes to the front of.
	 */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (t->insecure)
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	else {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		if (t->ca != NULL) {
			if (SSL_CTX_load_verify_locations(ctx, t->ca,
			    NULL) != 1) {
				tlscli_cause("--ca", t->ca, cause, len);
				goto fail;
			}
		} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
			tlscli_cause("the system's certificates", NULL, cause,
			    len);
			goto fail;
		}
	}
	if (t->cert != NULL) {
		if (SSL_CTX_use_certificate_chain_file(ctx, t->cert) != 1) {
			tlscli_cause("--cert", t->cert, cause, len);
			goto fail;
		}
		if (SSL_CTX_use_PrivateKey_file(ctx, t->key,
		    SSL_FILETYPE_PEM) != 1) {
			tlscli_cause("--key", t->key, cause, len);
			goto fail;
		}
		if (SSL_CTX_check_private_key(ctx) != 1) {
			tlscli_cause("--key", t->key, cause, len);
			goto fail;
		}
	}
	return (ctx);

fail:
	SSL_CTX_free(ctx);
	return (NULL);
}

/* A client SSL on fd (see tlscli.h). */
SSL *
tlscli_ssl_new(SSL_CTX *ctx, const struct tlscli_opts *t, const char *host,
    int fd)
{
	const char	*name;
	SSL		*ssl;
	int		 ok;

	name = t->servername != NULL ? t->servername : host;
	if ((ssl = SSL_new(ctx)) == NULL)
		goto fail;
	if (SSL_set_fd(ssl, fd) != 1)
		goto fail;
	if (tlscli_is_ip(name))
		ok = t->insecure || X509_VERIFY_PARAM_set1_ip_asc(
		    SSL_get0_param(ssl), name) == 1;
	else
		ok = SSL_set_tlsext_host_name(ssl, name) == 1 &&
		    (t->insecure || SSL_set1_host(ssl, name) == 1);
	if (!ok)
		goto fail;
	SSL_set_connect_state(ssl);
	return (ssl);

fail:
	SSL_free(ssl);
	ERR_clear_error();
	return (NULL);
}

/* The handshake of ssl, polled (see tlscli.h). */
int
tlscli_handshake(SSL *ssl, double timeout, char *cause, size_t len)
{
	struct pollfd	pfd;
	double		deadline, left;
	int		r, err;

	deadline = tlscli_now() + timeout;
	pfd.fd = SSL_get_fd(ssl);
	for (;;) {
		ERR_clear_error();
		if ((r = SSL_connect(ssl)) == 1)
			return (0);
		err = SSL_get_error(ssl, r);
		if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
			tlscli_reason(ssl, err, cause, len);
			return (-1);
		}
		pfd.events = err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
		do {
			left = deadline - tlscli_now();
			r = poll(&pfd, 1, left <= 0 ? 0 :
			    (int)(left * 1000.0) + 1);
		} while (r == -1 && errno == EINTR);
		if (r <= 0) {
			snprintf(cause, len, "no handshake within %g s: %s",
			    timeout, strerror(r == 0 ? ETIMEDOUT : errno));
			return (-1);
		}
	}
}

/* Why a call on ssl failed (see tlscli.h). */
const char *
tlscli_reason(SSL *ssl, int err, char *buf, size_t len)
{
	unsigned long	 e;
	const char	*r = NULL;
	long		 v;
	int		 saved = errno;

	if ((e = ERR_peek_error()) != 0)
		r = ERR_reason_error_string(e);
	ERR_clear_error();
	v = SSL_get_verify_result(ssl);
	if ((SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) && v != X509_V_OK)
		snprintf(buf, len, "%s: %s", r != NULL ? r :
		    "certificate verify failed",
		    X509_verify_cert_error_string(v));
	else if (r != NULL)
		snprintf(buf, len, "%s", r);
	else if (err == SSL_ERROR_SYSCALL && saved != 0)
		snprintf(buf, len, "%s", strerror(saved));
	else if (err == SSL_ERROR_ZERO_RETURN)
		snprintf(buf, len, "closed by the server (close_notify)");
	else
		snprintf(buf, len, "connection closed by the server");
	return (buf);
}
