/*
 * OCSP stapling (RFC 6066 section 8, RFC 6960): the status of the server's certificate that
 * the server sends in its handshake when asked (--ocsp). The response is checked as OpenSSL's
 * ocsp(1) does: its signature by a responder the CA authorised, chained to the trusted store
 * (OCSP_basic_verify), the status of exactly this certificate (OCSP_resp_find_status), and its
 * freshness (OCSP_check_validity). Pure: results and words, nothing printed.
 */
#ifndef SMTPSH_TLS_OCSP_H
#define SMTPSH_TLS_OCSP_H

#include <stdbool.h>

#include <openssl/ssl.h>

#include "smtpsh/buf.h"

enum tls_ocsp_result {
	TLS_OCSP_NOT_ASKED = 0, /* --ocsp was not given */
	TLS_OCSP_NONE,		/* asked, the server stapled nothing (a warning, not a failure) */
	TLS_OCSP_INVALID,	/* a response that cannot be trusted or used (bad signature, stale,
				   not about this certificate, an error status): a warning */
	TLS_OCSP_GOOD,
	TLS_OCSP_REVOKED, /* a verified response says revoked: a verification failure */
	TLS_OCSP_UNKNOWN, /* the responder does not know the certificate */
};

/* Asks for a stapled response in the handshakes of ctx from now on (or no longer). */
void tls_ocsp_request(SSL_CTX *ctx, bool on);

/*
 * After the handshake: checks what the server stapled. Appends to line a one-line summary
 * ("OCSP: good, produced ..., next update ...", "OCSP: REVOKED (keyCompromise) on ...",
 * "OCSP: no response stapled", "OCSP: response not trusted: ...") and to detail the lines
 * \tls shows (status, reason, producedAt, thisUpdate, nextUpdate, responder, verification).
 * Either may be NULL. Text from the response is escaped.
 */
enum tls_ocsp_result tls_ocsp_check(SSL *ssl, struct buf *line, struct buf *detail);

#endif
