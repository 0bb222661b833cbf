#include "smtpsh/tls_ocsp.h"

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include "smtpsh/escape.h"
#include "smtpsh/tls_chain.h"

/* A response is taken as fresh within this many seconds of clock skew (ocsp(1)'s -validity_period
   default is 0; servers' and responders' clocks drift, 5 minutes is what OpenSSL suggests). */
#define OCSP_SKEW_S 300

void tls_ocsp_request(SSL_CTX *ctx, bool on)
{
	/* -1 (TLSEXT_STATUSTYPE_nothing): no status_request extension in the ClientHello. */
	SSL_CTX_set_tlsext_status_type(ctx, on ? TLSEXT_STATUSTYPE_ocsp : -1);
}

static void append_gtime(struct buf *out, const ASN1_GENERALIZEDTIME *t)
{
	if (!t) {
		buf_puts(out, "(none)");
		return;
	}
	BIO *bio = BIO_new(BIO_s_mem());
	if (!bio)
		return;
	ASN1_GENERALIZEDTIME_print(bio, t);
	char *data;
	long len = BIO_get_mem_data(bio, &data);
	escape_append(out, data, len > 0 && len < 64 ? (size_t)len : 0, ESCAPE_DEFAULT);
	BIO_free(bio);
}

/* The responder: its name (RFC 2253) or the SHA-1 of its key (RFC 6960 4.2.1 ResponderID). */
static void append_responder(struct buf *out, const OCSP_BASICRESP *bs)
{
	const ASN1_OCTET_STRING *keyid = NULL;
	const X509_NAME *name = NULL;
	if (!OCSP_resp_get0_id(bs, &keyid, &name)) {
		buf_puts(out, "(unknown)");
	} else if (name) {
		tls_chain_append_name(out, name);
	} else if (keyid) {
		buf_puts(out, "key id ");
		for (int i = 0; i < ASN1_STRING_length(keyid) && i < 64; i++)
			buf_printf(out, "%s%02X", i ? ":" : "", ASN1_STRING_get0_data(keyid)[i]);
	}
}

/* The issuer of leaf: next in the verified path, else among the certificates sent. */
static X509 *find_issuer(SSL *ssl, X509 *leaf)
{
	STACK_OF(X509) *path = SSL_get0_verified_chain(ssl);
	if (path && sk_X509_num(path) > 1 &&
	    X509_check_issued(sk_X509_value(path, 1), leaf) == X509_V_OK)
		return sk_X509_value(path, 1);
	STACK_OF(X509) *sent = SSL_get_peer_cert_chain(ssl);
	for (int i = 0; sent && i < sk_X509_num(sent); i++) {
		X509 *c = sk_X509_value(sent, i);
		if (c != leaf && X509_check_issued(c, leaf) == X509_V_OK)
			return c;
	}
	return NULL;
}

static enum tls_ocsp_result say(struct buf *line, struct buf *detail, enum tls_ocsp_result r,
				const char *text)
{
	if (line)
		buf_printf(line, "OCSP: %s", text);
	if (detail)
		buf_printf(detail, "ocsp:         %s\n", text);
	return r;
}

/* What a response said, for the lines after the verdict; owned by tls_ocsp_check. */
struct facts {
	OCSP_BASICRESP *bs;
	OCSP_CERTID *id;
	ASN1_GENERALIZEDTIME *rev, *thisupd, *nextupd;
};

/* The verdict on a parsed response, in words appended to why. */
static enum tls_ocsp_result judge(SSL *ssl, OCSP_RESPONSE *resp, struct facts *f, struct buf *why)
{
	int rs = OCSP_response_status(resp);
	if (rs != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
		buf_printf(why, "response not trusted: the responder answered %s",
			   OCSP_response_status_str(rs));
		return TLS_OCSP_INVALID;
	}
	f->bs = OCSP_response_get1_basic(resp);
	if (!f->bs) {
		buf_puts(why, "response not trusted: no basic response in it");
		return TLS_OCSP_INVALID;
	}
	/* The signer must chain to the trusted store and be the CA or a responder it authorised
	   (id-kp-OCSPSigning, RFC 6960 4.2.2.2); the certificates the server sent may complete
	   the signer's chain. */
	X509_STORE *store = SSL_CTX_get_cert_store(SSL_get_SSL_CTX(ssl));
	if (OCSP_basic_verify(f->bs, SSL_get_peer_cert_chain(ssl), store, 0) <= 0) {
		unsigned long e = ERR_peek_last_error();
		const char *reason = e ? ERR_reason_error_string(e) : NULL;
		buf_printf(why, "response not trusted: its signature does not verify (%s)",
			   reason ? reason : "unknown signer");
		return TLS_OCSP_INVALID;
	}
	X509 *leaf = SSL_get0_peer_certificate(ssl);
	X509 *issuer = leaf ? find_issuer(ssl, leaf) : NULL;
	if (!issuer) {
		buf_puts(why, "response not usable: the issuer of the certificate is unknown");
		return TLS_OCSP_INVALID;
	}
	int status = -1, reason = -1;
	f->id = OCSP_cert_to_id(NULL, leaf, issuer);
	if (!f->id || !OCSP_resp_find_status(f->bs, f->id, &status, &reason, &f->rev, &f->thisupd,
					     &f->nextupd)) {
		buf_puts(why, "response not usable: it says nothing about this certificate");
		return TLS_OCSP_INVALID;
	}
	if (!OCSP_check_validity(f->thisupd, f->nextupd, OCSP_SKEW_S, -1)) {
		buf_puts(why, "response not usable: outdated or not yet valid");
		return TLS_OCSP_INVALID;
	}
	if (status == V_OCSP_CERTSTATUS_GOOD) {
		buf_puts(why, "good");
		return TLS_OCSP_GOOD;
	}
	if (status == V_OCSP_CERTSTATUS_REVOKED) {
		buf_printf(why, "REVOKED (%s) on ",
			   reason >= 0 ? OCSP_crl_reason_str(reason) : "no reason given");
		append_gtime(why, f->rev);
		return TLS_OCSP_REVOKED;
	}
	buf_puts(why, "unknown (the responder does not know this certificate)");
	return TLS_OCSP_UNKNOWN;
}

enum tls_ocsp_result tls_ocsp_check(SSL *ssl, struct buf *line, struct buf *detail)
{
	const unsigned char *der = NULL;
	long len = SSL_get_tlsext_status_ocsp_resp(ssl, &der);
	if (len <= 0 || !der)
		return say(line, detail, TLS_OCSP_NONE,
			   "no response stapled (the server does not staple, or had none)");
	OCSP_RESPONSE *resp = d2i_OCSP_RESPONSE(NULL, &der, len);
	if (!resp) {
		ERR_clear_error();
		return say(line, detail, TLS_OCSP_INVALID,
			   "response not trusted: it cannot be parsed");
	}
	struct facts f = {0};
	struct buf why;
	buf_init(&why);
	enum tls_ocsp_result r = judge(ssl, resp, &f, &why);
	const char *text = why.data ? why.data : "?";
	if (line) {
		buf_printf(line, "OCSP: %s", text);
		if (r == TLS_OCSP_GOOD || r == TLS_OCSP_UNKNOWN) {
			buf_puts(line, ", next update ");
			append_gtime(line, f.nextupd);
		}
	}
	if (detail) {
		buf_printf(detail, "ocsp:         %s\n", text);
		if (f.bs) {
			buf_puts(detail, "  produced:    ");
			append_gtime(detail, OCSP_resp_get0_produced_at(f.bs));
			buf_puts(detail, "\n  responder:   ");
			append_responder(detail, f.bs);
			buf_puts(detail, "\n");
		}
		if (f.thisupd) {
			buf_puts(detail, "  this update: ");
			append_gtime(detail, f.thisupd);
			buf_puts(detail, "\n  next update: ");
			append_gtime(detail, f.nextupd);
			buf_puts(detail, "\n");
		}
	}
	buf_free(&why);
	OCSP_CERTID_free(f.id);
	OCSP_BASICRESP_free(f.bs);
	OCSP_RESPONSE_free(resp);
	ERR_clear_error();
	return r;
}
