/*
 * The certificates of a TLS connection as an admin reads them (\tls, \tls save): each
 * certificate the server sent with its subject, issuer, validity, key, signature algorithm,
 * subjectAltNames and SHA-256 fingerprint; the path OpenSSL verified; the chain written as PEM
 * files. Everything a certificate says comes from the network: it is escaped (escape.h) and
 * bounded before it reaches out. The text is OpenSSL's (X509_NAME_print_ex, GENERAL_NAME_print,
 * ASN1_TIME_print), not ours.
 */
#ifndef SMTPSH_TLS_CHAIN_H
#define SMTPSH_TLS_CHAIN_H

#include <stddef.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "smtpsh/buf.h"

/* At most this many bytes of one field (a name, one subjectAltName) are shown, and at most
   TLS_CHAIN_SANS_MAX subjectAltNames; the rest is counted ("... 12 more"). */
#define TLS_CHAIN_FIELD_MAX 256
#define TLS_CHAIN_SANS_MAX 20
/* Certificates of a chain shown or saved (a server may send any number). */
#define TLS_CHAIN_CERTS_MAX 10

/* Appends name (RFC 2253 form) escaped and bounded to TLS_CHAIN_FIELD_MAX. */
void tls_chain_append_name(struct buf *out, const X509_NAME *name);
/* Appends the subjectAltNames of cert ("DNS:a, IP Address:1.2.3.4"), escaped and bounded;
   "(none)" when it has none. */
void tls_chain_append_sans(struct buf *out, X509 *cert);
/* Appends "from T1 until T2 (N days left)", "... (expired N days ago)" or "... (not valid
   for N more days)", compared with the clock now. */
void tls_chain_append_validity(struct buf *out, const X509 *cert);
/* Appends the SHA-256 fingerprint as colon-separated upper-case hex pairs. */
void tls_chain_append_fingerprint(struct buf *out, const X509 *cert);
/* Appends the public key ("RSA 2048 bits", "EC 256 bits (prime256v1)", "ED25519 256 bits"). */
void tls_chain_append_key(struct buf *out, X509 *cert);

/* Several lines (each starting with indent) on one certificate: subject, issuer, validity,
   key, signature algorithm, names, fingerprint. */
void tls_chain_describe_cert(struct buf *out, X509 *cert, const char *indent);

/* The certificates the peer sent (SSL_get_peer_cert_chain), numbered from 0 (the leaf), then
   the verification path (SSL_get0_verified_chain), one subject a line. */
void tls_chain_describe(SSL *ssl, struct buf *out);

/*
 * Writes the chain the peer sent as PEM files into dir (created 0755 when missing, its parent
 * must exist): dir/0-leaf.pem, then dir/1-ca.pem ... (N-root.pem for a self-signed one), each
 * 0644. An existing regular file is replaced; a symbolic link is refused (O_NOFOLLOW), not
 * followed. Appends one line per file written to report. Returns the number of files written,
 * or -1 with a one-line reason in err (files written before the failure stay, and are
 * reported).
 */
int tls_chain_save(SSL *ssl, const char *dir, struct buf *report, char *err, size_t errlen);

#endif
