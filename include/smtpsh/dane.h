/*
 * DANE for SMTP (RFC 7672) on OpenSSL's DANE API: the secure TLSA records of an MX host are
 * given to an SSL before the handshake; OpenSSL's verifier then matches the chain against
 * them (DANE-EE(3): the leaf's certificate or key, names and expiry ignored; DANE-TA(2): a
 * trust anchor in the chain, with the name checks of RFC 7672 section 3.2.2 against the
 * reference identifiers). After the handshake dane_match() says which record matched, as data.
 * No printing; errors as one line in err.
 */
#ifndef SMTPSH_DANE_H
#define SMTPSH_DANE_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "smtpsh/buf.h"
#include "smtpsh/dns.h"

/* Enables DANE on a context (SSL_CTX_dane_enable; once per context, before any SSL of it
   uses dane_apply). 0, or -1 with the reason in err. */
int dane_ctx_enable(SSL_CTX *ctx, struct buf *err);

/*
 * Sets up DANE on ssl for one MX host: tlsa_base is the TLSA base domain (the MX host, or
 * its CNAME expansion, RFC 7672 2.2.2), also used as SNI; mx_host, when it differs, is added
 * as a second reference identifier (section 3.2.2). Adds the usable records among rrs[0..n)
 * (dns_tlsa_usable) and sets DANE_FLAG_NO_DANE_EE_NAMECHECKS (section 3.1.1: DANE-EE ignores
 * names; OpenSSL itself ignores the validity dates of a DANE-EE match, DANE-TA checks both). The
 * caller's verify mode must be SSL_VERIFY_PEER for a mismatch to stop the handshake. Returns how
 * many records were added (0: none usable, DANE was not enabled), or -1 with the reason in err.
 */
int dane_apply(SSL *ssl, const char *tlsa_base, const char *mx_host, const struct dns_tlsa *rrs,
	       size_t n, struct buf *err);

/*
 * After the handshake: which TLSA record authenticated the peer. Returns 1 and writes e.g.
 * "3 1 1 matched the leaf key" or "2 0 1 matched the trust anchor certificate at depth 1"
 * into out (appended); 0 when DANE was enabled but nothing matched (out gets the verify
 * error); -1 when DANE was not enabled on ssl.
 */
int dane_match(SSL *ssl, struct buf *out);

/* The SHA-256 of a certificate's SubjectPublicKeyInfo (a "3 1 1" record's data) into
   out[32]. 0, or -1. For tests and for \tls to show what a matching record would be. */
int dane_spki_sha256(X509 *cert, unsigned char out[32]);

#endif
