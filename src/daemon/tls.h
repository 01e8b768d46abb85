/*
 * tls.h: the TLS of a listener (issue 16): its OpenSSL context, built
 * with the configuration and owned by it, and what a session asks of a
 * connection's TLS for its entries.
 *
 * A listener's struct tls_conf belongs to the struct conf it was built
 * with, which is immutable and reference-counted: a session holds its
 * conf, so it keeps the context it was accepted with across reloads, and
 * the context goes when the last session of that conf does.  confbuild.c
 * builds it one key at a time, so that each problem is reported at the
 * line of its key; every function that can fail returns -1 or NULL with
 * an allocated *cause (NULL: out of memory) that ends with OpenSSL's
 * reason.  Only tls.c includes OpenSSL's headers.
 */
#ifndef ECHOD_TLS_H
#define ECHOD_TLS_H

#include <stdbool.h>
#include <stddef.h>

struct ssl_st;
struct tls_conf;

/* min_version: the choices of echod.conf(5); TLS 1.0 and 1.1 are none. */
enum tls_version {
	TLS_V12,
	TLS_V13
};

/* client_certificate: the choices of echod.conf(5). */
enum tls_client {
	TLS_CLIENT_OPTIONAL,
	TLS_CLIENT_REQUIRED
};

/* A context for the listener name, with echod's fixed settings. */
struct tls_conf	*tls_conf_new(const char *name, enum tls_version,
		    char **cause);
void		 tls_conf_free(struct tls_conf *);
/*
 * Read the file at path as conffile.c reads a configuration (regular
 * files only, without blocking, at most CONFFILE_MAX bytes), "%d/" at the
 * start standing for $CREDENTIALS_DIRECTORY (as the main process $MAINPID
 * sees it, for systemd's ExecReload=, which is not given the directory
 * itself).  The caller frees *buf with
 * tls_file_free(), which wipes it first (it may hold a private key).
 */
int		 tls_file(const char *path, char **buf, size_t *len,
		    char **cause);
void		 tls_file_free(char *buf, size_t len);
/*
 * The PEM certificate chain, the server's first; warn (len bytes, "" if
 * none) says if the server's certificate is expired or not yet valid.
 */
int		 tls_chain(struct tls_conf *, const char *pem, size_t len,
		    char *warn, size_t warnlen, char **cause);
/* The PEM private key, which must match the chain's first certificate. */
int		 tls_key(struct tls_conf *, const char *pem, size_t len,
		    char **cause);
/* The PEM bundle of CAs that client certificates are checked against. */
int		 tls_client_ca(struct tls_conf *, const char *pem, size_t len,
		    enum tls_client, char **cause);
/* OpenSSL cipher lists: TLS 1.2's (ciphers) and TLS 1.3's (suites). */
int		 tls_ciphers(struct tls_conf *, const char *, char **cause);
int		 tls_ciphersuites(struct tls_conf *, const char *,
		    char **cause);
/* Add one ALPN protocol name that the listener accepts. */
int		 tls_alpn(struct tls_conf *, const char *, char **cause);

/*
 * A connection's TLS on socket fd, accepting, through a socket BIO that
 * never closes fd: NULL when out of memory.
 */
struct ssl_st	*tls_ssl_socket(const struct tls_conf *, int fd);
/* Whether its handshake is done. */
bool		 tls_established(const struct ssl_st *);
/* Send a close_notify; what cannot be sent is only forgotten. */
void		 tls_close_notify(struct ssl_st *);
/*
 * Before the SSL is freed: a close_notify, if notify and the handshake
 * is done and none was sent yet; then OpenSSL's queue of errors emptied.
 */
void		 tls_last_notify(struct ssl_st *, bool notify);
/*
 * What an entry says of a connection's TLS once its handshake is done:
 * the version, the cipher, and the client certificate's subject in one
 * line ("" without one), escaped as log_escape() does.
 */
const char	*tls_version_name(const struct ssl_st *);
const char	*tls_cipher_name(const struct ssl_st *);
void		 tls_client_subject(struct ssl_st *, char *buf, size_t len);
/*
 * OpenSSL's reason for error err (bufferevent_get_openssl_error()), NULL
 * for a number that is no OpenSSL error (libevent queues SSL_get_error()'s
 * result with them).
 */
const char	*tls_reason(unsigned long err);

#endif
