/*
 * TLS session resumption on the client side (RFC 8446 2.2 tickets, RFC 5077 / RFC 5246 session
 * IDs): the sessions the server gives are handed to their owner as they come (a TLS 1.3 ticket
 * arrives after the handshake, with the first records read), and the owner says which one the
 * next handshake offers. Sessions live in memory only: never written anywhere.
 */
#ifndef SMTPSH_TLS_RESUME_H
#define SMTPSH_TLS_RESUME_H

#include <openssl/ssl.h>

/* Takes a session the server gave (the callee owns it: SSL_SESSION_free). */
typedef void (*tls_resume_sink)(void *arg, SSL_SESSION *sess);

struct tls_resume {
	tls_resume_sink sink; /* called for each new session of a handshake on the context */
	void *arg;
	SSL_SESSION *offer; /* offered by the next tls_handshake (not owned), or NULL */
};

/* Attaches r (owned by the caller, alive as long as ctx) to ctx and turns on client session
   caching (external store only: OpenSSL keeps no client cache of its own). */
void tls_resume_attach(SSL_CTX *ctx, struct tls_resume *r);
/* For tls_handshake, before SSL_connect: offers r->offer on ssl, if any. */
void tls_resume_apply(SSL_CTX *ctx, SSL *ssl);

#endif
