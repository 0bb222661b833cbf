/*
 * TLS on top of a connected struct conn: one OpenSSL context made on first use (no CA store
 * is loaded for a plaintext session), verification with the system store or a given CA file,
 * SNI and host name checks by OpenSSL, TLS 1.2 at least.
 */
#ifndef SMTPSH_TLS_H
#define SMTPSH_TLS_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "smtpsh/buf.h"
#include "smtpsh/conn.h"
#include "smtpsh/tlsctl.h"

struct tls_options {
	const char *cafile; /* PEM file of trusted CAs instead of the system store, or NULL */
	bool insecure;      /* do not fail on verification errors (they are still reported) */
	const struct tls_controls *ctl; /* versions, ciphers, client certificate; NULL: none */
	tls_passphrase_fn passphrase;	/* NULL: an encrypted key cannot be loaded */
	void *passphrase_arg;
};

/*
 * Makes the client context: the controls applied (a version below 1.2 lowers OpenSSL's
 * security level to 0, which those versions need), the client certificate and key loaded (the
 * passphrase asked through opt->passphrase) and checked against each other. Returns NULL with
 * one line in err on failure ("the key k.pem does not match the certificate c.pem").
 */
SSL_CTX *tls_context_new(const struct tls_options *opt, char *err, size_t errlen);

/*
 * Runs the client handshake on c's socket, verifying the certificate for host (a name or
 * an IP literal; NULL: the chain only, no name is sent or checked) and sending host as SNI
 * unless ctl->no_sni (ctl: the controls of the context, NULL: none, for the words of a
 * failure); whether a failed verification
 * stops it is the context's choice (insecure in tls_context_new). On success c->ssl is set and 0 is
 * returned. On failure returns a CONN_IO_* error with a one-line reason in err, naming the
 * certificate problem
 * ("TLS certificate of HOST not trusted: self-signed certificate ...") or the cause of a
 * failed handshake and what to try (tls_failure_words).
 */
int tls_handshake(struct conn *c, SSL_CTX *ctx, const char *host, const struct tls_controls *ctl,
		  int timeout_ms, volatile sig_atomic_t *intr, char *err, size_t errlen);

/*
 * Called on the new SSL after the name is set and before the handshake starts: how a
 * caller adds what tls_handshake does not know (DANE's TLSA records, dane_apply). Returns 0,
 * or -1 with a one-line reason in err (the handshake is then not tried).
 */
typedef int (*tls_setup_fn)(SSL *ssl, void *arg, char *err, size_t errlen);
/* tls_handshake with setup(ssl, arg) run first (setup may be NULL); ctl as there. */
int tls_handshake_with(struct conn *c, SSL_CTX *ctx, const char *host,
		       const struct tls_controls *ctl, tls_setup_fn setup, void *arg, int timeout_ms,
		       volatile sig_atomic_t *intr, char *err, size_t errlen);

/* One line: "TLSv1.3 TLS_AES_256_GCM_SHA384, certificate verified (CN=localhost)". */
void tls_summary(SSL *ssl, struct buf *out);
/* Several lines for \tls: protocol, cipher, subject, issuer, SANs, validity, verification. */
void tls_describe(SSL *ssl, struct buf *out);
/* Did the peer certificate verify? */
bool tls_verified(SSL *ssl);
/* Was a client certificate sent in the handshake (the server asked for one)? */
bool tls_client_cert_sent(SSL *ssl);

#endif
