/*
 * DANE (RFC 7672) with OpenSSL's own implementation (SSL_dane_enable, SSL_dane_tlsa_add):
 * matching, chain building from a DANE-TA and the name checks are OpenSSL's, not ours.
 */
#include "smtpsh/dane.h"

#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

static void ssl_error(struct buf *err, const char *what)
{
	unsigned long e = ERR_get_error();
	char msg[256];
	ERR_error_string_n(e, msg, sizeof msg);
	ERR_clear_error();
	buf_printf(err, "%s: %s", what, e ? msg : "failed");
}

int dane_ctx_enable(SSL_CTX *ctx, struct buf *err)
{
	if (SSL_CTX_dane_enable(ctx) <= 0) {
		ssl_error(err, "cannot enable DANE");
		return -1;
	}
	return 0;
}

int dane_apply(SSL *ssl, const char *tlsa_base, const char *mx_host, const struct dns_tlsa *rrs,
	       size_t n, struct buf *err)
{
	size_t usable = 0;
	for (size_t i = 0; i < n; i++)
		if (dns_tlsa_usable(&rrs[i]))
			usable++;
	if (usable == 0)
		return 0; /* section 3.1: no usable record, no DANE (the caller decides what then)
			   */
	/* the base domain is the SNI name and the first reference identifier */
	if (SSL_dane_enable(ssl, tlsa_base) <= 0) {
		ssl_error(err, "cannot enable DANE on the connection");
		return -1;
	}
	/* 3.2.3: DANE-TA name checks accept a wildcard only as the whole left-most label */
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (mx_host && strcasecmp(mx_host, tlsa_base) != 0 && SSL_add1_host(ssl, mx_host) != 1) {
		ssl_error(err, "cannot add the MX host name as a reference identifier");
		return -1;
	}
	SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
	int added = 0;
	for (size_t i = 0; i < n; i++) {
		if (!dns_tlsa_usable(&rrs[i]))
			continue;
		int r = SSL_dane_tlsa_add(ssl, rrs[i].usage, rrs[i].selector, rrs[i].mtype,
					  rrs[i].data, rrs[i].len);
		if (r < 0) {
			ssl_error(err, "cannot add a TLSA record");
			return -1;
		}
		if (r > 0)
			added++;
		/* r == 0: OpenSSL found the record unusable (e.g. a malformed full
		   certificate); RFC 7672 3.1 says to skip it */
	}
	ERR_clear_error();
	return added;
}

int dane_match(SSL *ssl, struct buf *out)
{
	uint8_t usage, selector, mtype;
	const unsigned char *data;
	size_t dlen;
	EVP_PKEY *mspki = NULL;
	if (SSL_get0_dane(ssl) == NULL)
		return -1;
	int depth = SSL_get0_dane_tlsa(ssl, &usage, &selector, &mtype, &data, &dlen);
	if (depth < 0) {
		long v = SSL_get_verify_result(ssl);
		buf_printf(out, "no TLSA record matched (%s)", X509_verify_cert_error_string(v));
		return 0;
	}
	SSL_get0_dane_authority(ssl, NULL, &mspki);
	buf_printf(out, "%u %u %u matched ", usage, selector, mtype);
	if (usage == 3)
		buf_puts(out, selector == 1 ? "the leaf key" : "the leaf certificate");
	else if (mspki)
		buf_printf(out, "the trust anchor key (not in the chain), depth %d", depth);
	else
		buf_printf(out, "the trust anchor %s at depth %d",
			   selector == 1 ? "key" : "certificate", depth);
	return 1;
}

int dane_spki_sha256(X509 *cert, unsigned char out[32])
{
	unsigned char *der = NULL;
	int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
	if (len <= 0)
		return -1;
	unsigned int mdlen = 0;
	int ok = EVP_Digest(der, (size_t)len, out, &mdlen, EVP_sha256(), NULL);
	OPENSSL_free(der);
	return ok == 1 && mdlen == 32 ? 0 : -1;
}
