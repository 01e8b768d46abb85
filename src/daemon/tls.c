/*
 * tls.c: a TLS listener's OpenSSL context and what a session reads of a
 * connection's TLS (issue 16).
 *
 * The settings that are not echod.conf(5)'s, after stunnel's and nginx's
 * server contexts: TLS 1.2 at least (TLS 1.0 and 1.1 cannot be enabled),
 * no renegotiation, no compression, session tickets as OpenSSL makes
 * them but no server-side session cache (a client could fill it; a
 * ticket holds its session on the client's side), and record buffers
 * given back while a connection is quiet (SSL_MODE_RELEASE_BUFFERS: of
 * 1000 idle sessions, about 16 KiB of RSS each with it and 25 KiB
 * without; echod.conf(5) TLS says so).  Files come in through conffile.c's
 * safe reading and are parsed from memory, never opened by OpenSSL.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "conffile.h"
#include "log.h"
#include "tls.h"

/* The longest ALPN list a listener offers, in its wire format. */
#define TLS_ALPN_MAX	1024

struct tls_conf {
	SSL_CTX		*ctx;
	bool		 have_cert;		/* the chain's first is in */
	unsigned char	 alpn[TLS_ALPN_MAX];	/* length-prefixed names */
	size_t		 alpnlen;
};

/*
 * *cause: what failed, and OpenSSL's reason for it if its error queue has
 * one (the first error queued, which names the cause; the later ones name
 * the functions it went through).  The queue is left empty.
 */
static void __attribute__((format(printf, 2, 3)))
tls_cause(char **cause, const char *fmt, ...)
{
	va_list		 ap;
	unsigned long	 err = ERR_peek_error();
	const char	*reason = NULL;
	char		*what;

	if (err != 0)
		reason = ERR_reason_error_string(err);
	ERR_clear_error();
	va_start(ap, fmt);
	if (vasprintf(&what, fmt, ap) == -1)
		what = NULL;
	va_end(ap);
	if (what == NULL || reason == NULL) {
		*cause = what;
		return;
	}
	if (asprintf(cause, "%s: %s", what, reason) == -1)
		*cause = NULL;
	free(what);
}

/* A PEM passphrase is never asked for: echod has no one to ask. */
static int
tls_nopass(char *buf, int size, int rwflag, void *arg)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)arg;
	return (0);
}

/* The server picks the first of its ALPN names that the client offers. */
static int
tls_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	struct tls_conf	*t = arg;
	unsigned char	*o;

	(void)ssl;
	if (SSL_select_next_proto(&o, outlen, t->alpn,
	    (unsigned int)t->alpnlen, in, inlen) != OPENSSL_NPN_NEGOTIATED)
		return (SSL_TLSEXT_ERR_ALERT_FATAL);	/* RFC 7301, 3.2 */
	*out = o;
	return (SSL_TLSEXT_ERR_OK);
}

/* See tls.h. */
struct tls_conf *
tls_conf_new(const char *name, enum tls_version min, char **cause)
{
	struct tls_conf	*t;
	static const unsigned char sid[] = "echod";

	(void)name;
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		*cause = NULL;
		return (NULL);
	}
	if ((t->ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		tls_cause(cause, "cannot make a TLS context");
		free(t);
		return (NULL);
	}
	if (!SSL_CTX_set_min_proto_version(t->ctx, min == TLS_V13 ?
	    TLS1_3_VERSION : TLS1_2_VERSION)) {
		tls_cause(cause, "cannot set the lowest TLS version");
		tls_conf_free(t);
		return (NULL);
	}
	/*
	 * A client that closes without a close_notify has ended, not failed:
	 * OpenSSL 3 would call it an error that libevent 2.1 cannot tell from
	 * others (an echo has no truncation to fear).  Renegotiation: OpenSSL
	 * 3 refuses a client's unless SSL_OP_ALLOW_CLIENT_RENEGOTIATION, which
	 * stays off; SSL_OP_NO_RENEGOTIATION says so whatever the version's
	 * default, and that echod never asks for one itself.  The client
	 * gets a no_renegotiation alert, never a second handshake's work
	 * (test_tls.py test_renegotiation_refused).
	 */
	SSL_CTX_set_options(t->ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(t->ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_session_cache_mode(t->ctx, SSL_SESS_CACHE_OFF);
	/* Resumption with client certificates needs one (SSL_CTX_new(3)). */
	SSL_CTX_set_session_id_context(t->ctx, sid, sizeof(sid) - 1);
	SSL_CTX_set_dh_auto(t->ctx, 1);
	return (t);
}

/* See tls.h. */
void
tls_conf_free(struct tls_conf *t)
{
	if (t == NULL)
		return;
	SSL_CTX_free(t->ctx);
	free(t);
}

/*
 * A "%d/" file as the main process $MAINPID sees it: systemd 252 (and
 * later, systemd/systemd#35227) gives an ExecReload= process the
 * $CREDENTIALS_DIRECTORY of the unit but, in a unit with a mount
 * namespace as echod's, not the directory itself, so that `echod -t`
 * before the SIGHUP would fail on every "%d/" file.  The main process has
 * it, and a process of the same user may look through its root (proc(5),
 * /proc/PID/root) at the very copies that it reads at the reload.  NULL
 * when no $MAINPID is set (only systemd's control processes have one) or
 * it is this process.
 */
static char *
tls_mainroot(const char *full)
{
	const char	*mainpid = getenv("MAINPID");
	char		*end, *via;
	long		 pid;

	if (mainpid == NULL)
		return (NULL);
	errno = 0;
	pid = strtol(mainpid, &end, 10);
	if (errno != 0 || end == mainpid || *end != '\0' || pid <= 0 ||
	    pid == (long)getpid())
		return (NULL);
	if (asprintf(&via, "/proc/%ld/root%s", pid, full) == -1)
		return (NULL);
	return (via);
}

/* See tls.h. */
int
tls_file(const char *path, char **buf, size_t *len, char **cause)
{
	const char	*dir, *why, *viawhy, *name = path;
	char		*full = NULL, *via;

	if (strncmp(path, "%d/", 3) == 0) {
		dir = getenv("CREDENTIALS_DIRECTORY");
		if (dir == NULL || *dir == '\0') {
			if (asprintf(cause, "\"%%d\" needs "
			    "$CREDENTIALS_DIRECTORY (systemd's "
			    "LoadCredential=), which is not set") == -1)
				*cause = NULL;
			return (-1);
		}
		if (asprintf(&full, "%s/%s", dir, path + 3) == -1) {
			*cause = NULL;
			return (-1);
		}
		name = full;
	}
	*buf = conffile_load(name, len, &why);
	if (*buf == NULL && full != NULL && (via = tls_mainroot(full)) !=
	    NULL) {
		/* If the main process has none either, the first reason. */
		*buf = conffile_load(via, len, &viawhy);
		free(via);
	}
	if (*buf == NULL) {
		if (asprintf(cause, "%s", why) == -1)
			*cause = NULL;
		free(full);
		return (-1);
	}
	free(full);
	return (0);
}

/* See tls.h. */
void
tls_file_free(char *buf, size_t len)
{
	if (buf == NULL)
		return;
	OPENSSL_cleanse(buf, len);
	free(buf);
}

/* t, as "YYYY-MM-DD HH:MM:SS UTC". */
static void
tls_time(const ASN1_TIME *t, char *buf, size_t len)
{
	struct tm	 tm;

	if (!ASN1_TIME_to_tm(t, &tm) ||
	    strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, len, "an unreadable date");
}

/* See tls.h. */
int
tls_chain(struct tls_conf *t, const char *pem, size_t len, char *warn,
    size_t warnlen, char **cause)
{
	BIO		*bio;
	X509		*x;
	unsigned long	 err;
	char		 when[64];
	int		 n = 0;

	warn[0] = '\0';
	ERR_clear_error();
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL) {
		tls_cause(cause, "out of memory");
		return (-1);
	}
	if ((x = PEM_read_bio_X509_AUX(bio, NULL, tls_nopass, NULL)) == NULL) {
		tls_cause(cause, "no PEM certificate in it");
		BIO_free(bio);
		return (-1);
	}
	if (SSL_CTX_use_certificate(t->ctx, x) != 1) {
		tls_cause(cause, "the certificate is refused");
		X509_free(x);
		BIO_free(bio);
		return (-1);
	}
	if (X509_cmp_current_time(X509_get0_notAfter(x)) < 0) {
		tls_time(X509_get0_notAfter(x), when, sizeof(when));
		snprintf(warn, warnlen, "the certificate expired on %s", when);
	} else if (X509_cmp_current_time(X509_get0_notBefore(x)) > 0) {
		tls_time(X509_get0_notBefore(x), when, sizeof(when));
		snprintf(warn, warnlen, "the certificate is not valid before "
		    "%s", when);
	}
	X509_free(x);
	/* The intermediates, up to the end of the file. */
	while ((x = PEM_read_bio_X509(bio, NULL, tls_nopass, NULL)) != NULL) {
		n++;
		if (SSL_CTX_add0_chain_cert(t->ctx, x) != 1) {
			tls_cause(cause, "certificate %d of the chain is "
			    "refused", n + 1);
			X509_free(x);
			BIO_free(bio);
			return (-1);
		}
	}
	err = ERR_peek_last_error();
	BIO_free(bio);
	if (ERR_GET_LIB(err) == ERR_LIB_PEM &&
	    ERR_GET_REASON(err) == PEM_R_NO_START_LINE)
		ERR_clear_error();
	else if (err != 0) {
		tls_cause(cause, "certificate %d of the chain is not valid PEM",
		    n + 2);
		return (-1);
	}
	t->have_cert = true;
	return (0);
}

/* See tls.h. */
int
tls_key(struct tls_conf *t, const char *pem, size_t len, char **cause)
{
	BIO		*bio;
	EVP_PKEY	*key;
	int		 r = -1;

	ERR_clear_error();
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL) {
		tls_cause(cause, "out of memory");
		return (-1);
	}
	key = PEM_read_bio_PrivateKey(bio, NULL, tls_nopass, NULL);
	BIO_free(bio);
	if (key == NULL) {
		tls_cause(cause, "no PEM private key in it (an encrypted key "
		    "cannot be used)");
		return (-1);
	}
	/* SSL_CTX_check_private_key(3), before the key replaces nothing. */
	if (t->have_cert && X509_check_private_key(
	    SSL_CTX_get0_certificate(t->ctx), key) != 1)
		tls_cause(cause, "it does not match the certificate");
	else if (SSL_CTX_use_PrivateKey(t->ctx, key) != 1 ||
	    (t->have_cert && SSL_CTX_check_private_key(t->ctx) != 1))
		tls_cause(cause, "the key is refused");
	else
		r = 0;
	EVP_PKEY_free(key);
	return (r);
}

/* See tls.h. */
int
tls_client_ca(struct tls_conf *t, const char *pem, size_t len,
    enum tls_client need, char **cause)
{
	STACK_OF(X509_NAME)	*names;
	X509_STORE		*store = SSL_CTX_get_cert_store(t->ctx);
	X509_NAME		*name;
	BIO			*bio;
	X509			*x;
	unsigned long		 err;
	int			 n = 0, mode;

	ERR_clear_error();
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL ||
	    (names = sk_X509_NAME_new_null()) == NULL) {
		BIO_free(bio);
		tls_cause(cause, "out of memory");
		return (-1);
	}
	while ((x = PEM_read_bio_X509(bio, NULL, tls_nopass, NULL)) != NULL) {
		n++;
		name = X509_NAME_dup(X509_get_subject_name(x));
		if (X509_STORE_add_cert(store, x) != 1 || name == NULL ||
		    sk_X509_NAME_push(names, name) == 0) {
			tls_cause(cause, "certificate %d is refused", n);
			X509_NAME_free(name);
			X509_free(x);
			goto fail;
		}
		X509_free(x);
	}
	err = ERR_peek_last_error();
	if (n > 0 && ERR_GET_LIB(err) == ERR_LIB_PEM &&
	    ERR_GET_REASON(err) == PEM_R_NO_START_LINE)
		ERR_clear_error();
	else {
		tls_cause(cause, n == 0 ? "no PEM certificate in it" :
		    "certificate %d is not valid PEM", n + 1);
		goto fail;
	}
	BIO_free(bio);
	/* The CAs a client is told its certificate must come from. */
	SSL_CTX_set_client_CA_list(t->ctx, names);
	mode = SSL_VERIFY_PEER;
	if (need == TLS_CLIENT_REQUIRED)
		mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
	SSL_CTX_set_verify(t->ctx, mode, NULL);
	return (0);
fail:
	sk_X509_NAME_pop_free(names, X509_NAME_free);
	BIO_free(bio);
	return (-1);
}

/* See tls.h. */
int
tls_ciphers(struct tls_conf *t, const char *list, char **cause)
{
	ERR_clear_error();
	if (SSL_CTX_set_cipher_list(t->ctx, list) != 1) {
		tls_cause(cause, "not a cipher list OpenSSL knows");
		return (-1);
	}
	return (0);
}

/* See tls.h. */
int
tls_ciphersuites(struct tls_conf *t, const char *list, char **cause)
{
	ERR_clear_error();
	if (SSL_CTX_set_ciphersuites(t->ctx, list) != 1) {
		tls_cause(cause, "not a list of TLS 1.3 cipher suites OpenSSL "
		    "knows");
		return (-1);
	}
	return (0);
}

/* See tls.h. */
int
tls_alpn(struct tls_conf *t, const char *name, char **cause)
{
	size_t	 len = strlen(name);

	*cause = NULL;
	if (len == 0 || len > 255) {
		if (asprintf(cause, "an ALPN protocol name is 1 to 255 "
		    "bytes") == -1)
			*cause = NULL;
		return (-1);
	}
	if (t->alpnlen + 1 + len > sizeof(t->alpn)) {
		if (asprintf(cause, "the ALPN names take more than %d bytes",
		    TLS_ALPN_MAX) == -1)
			*cause = NULL;
		return (-1);
	}
	if (t->alpnlen == 0)
		SSL_CTX_set_alpn_select_cb(t->ctx, tls_alpn_select, t);
	t->alpn[t->alpnlen++] = (unsigned char)len;
	memcpy(t->alpn + t->alpnlen, name, len);
	t->alpnlen += len;
	return (0);
}

/* See tls.h. */
SSL *
tls_ssl_socket(const struct tls_conf *t, int fd)
{
	SSL	*ssl;
	BIO	*bio;

	if ((ssl = SSL_new(t->ctx)) == NULL)
		return (NULL);
	if ((bio = BIO_new_socket(fd, BIO_NOCLOSE)) == NULL) {
		SSL_free(ssl);
		return (NULL);
	}
	SSL_set_bio(ssl, bio, bio);
	return (ssl);
}

/* See tls.h. */
bool
tls_established(const SSL *ssl)
{
	return (SSL_is_init_finished(ssl));
}

/* See tls.h. */
void
tls_close_notify(SSL *ssl)
{
	if (SSL_shutdown(ssl) < 0)
		ERR_clear_error();
}

/* See tls.h. */
void
tls_last_notify(SSL *ssl, bool notify)
{
	if (notify && SSL_is_init_finished(ssl) &&
	    !(SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN))
		(void)SSL_shutdown(ssl);
	ERR_clear_error();
}

/* See tls.h. */
const char *
tls_version_name(const SSL *ssl)
{
	return (SSL_get_version(ssl));
}

/* See tls.h. */
const char *
tls_cipher_name(const SSL *ssl)
{
	return (SSL_CIPHER_get_name(SSL_get_current_cipher(ssl)));
}

/* See tls.h. */
void
tls_client_subject(SSL *ssl, char *buf, size_t len)
{
	X509	*x;
	BIO	*bio;
	char	*p;
	long	 n;

	buf[0] = '\0';
	if ((x = SSL_get0_peer_certificate(ssl)) == NULL ||
	    (bio = BIO_new(BIO_s_mem())) == NULL)
		return;
	/* RFC 2253's one line, non-ASCII as UTF-8, escaped below. */
	if (X509_NAME_print_ex(bio, X509_get_subject_name(x), 0,
	    XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0 &&
	    (n = BIO_get_mem_data(bio, &p)) > 0)
		log_escape(buf, len, p, (size_t)n);
	BIO_free(bio);
}

/* See tls.h. */
const char *
tls_reason(unsigned long err)
{
	return (err != 0 ? ERR_reason_error_string(err) : NULL);
}
