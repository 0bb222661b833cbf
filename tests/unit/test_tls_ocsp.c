/*
 * Unit tests of the check of a stapled OCSP response (src/net/tls_ocsp.c): a CA and a leaf made
 * here, responses signed here (OCSP_basic_sign) with the times and statuses the integration
 * test cannot make with `openssl ocsp` (outdated, about another certificate, an error status,
 * garbage), stapled by an in-memory server (SSL_CTX_set_tlsext_status_cb).
 */
#include "smtpsh/tls_ocsp.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include "tap.h"

static EVP_PKEY *ca_key, *leaf_key;
static X509 *ca, *leaf;

static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
		       bool is_ca)
{
	X509 *x = X509_new();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), is_ca ? 1 : 2);
	X509_gmtime_adj(X509_getm_notBefore(x), -86400);
	X509_gmtime_adj(X509_getm_notAfter(x), 30L * 86400);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(issuer ? issuer : x));
	if (is_ca) {
		X509_EXTENSION *e =
		    X509V3_EXT_conf_nid(NULL, NULL, NID_basic_constraints, "critical,CA:TRUE");
		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
	}
	X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256());
	return x;
}

/* The DER response the server staples (NULL: none). */
static unsigned char *staple;
static int staple_len;

static int staple_cb(SSL *s, void *arg)
{
	if (!staple)
		return SSL_TLSEXT_ERR_NOACK;
	unsigned char *copy = OPENSSL_memdup(staple, (size_t)staple_len);
	SSL_set_tlsext_status_ocsp_resp(s, copy, staple_len);
	return SSL_TLSEXT_ERR_OK;
}

/* A response about cert (issued by ca) with status, valid from now+this_s until now+next_s,
   signed by the CA itself (an authorised signer: RFC 6960 4.2.2.2). */
static void make_staple(X509 *cert, int status, int reason, long this_s, long next_s)
{
	OCSP_BASICRESP *bs = OCSP_BASICRESP_new();
	OCSP_CERTID *id = OCSP_cert_to_id(NULL, cert, ca);
	ASN1_TIME *thisupd = X509_gmtime_adj(NULL, this_s);
	ASN1_TIME *nextupd = X509_gmtime_adj(NULL, next_s);
	ASN1_TIME *rev = status == V_OCSP_CERTSTATUS_REVOKED ? X509_gmtime_adj(NULL, -3600) : NULL;
	OCSP_basic_add1_status(bs, id, status, reason, rev, thisupd, nextupd);
	OCSP_basic_sign(bs, ca, ca_key, EVP_sha256(), NULL, 0);
	OCSP_RESPONSE *resp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs);
	OPENSSL_free(staple);
	staple = NULL;
	staple_len = i2d_OCSP_RESPONSE(resp, &staple);
	OCSP_RESPONSE_free(resp);
	OCSP_BASICRESP_free(bs);
	OCSP_CERTID_free(id);
	ASN1_TIME_free(thisupd);
	ASN1_TIME_free(nextupd);
	ASN1_TIME_free(rev);
}

static void set_staple(const void *der, int len)
{
	OPENSSL_free(staple);
	staple = len > 0 ? OPENSSL_memdup(der, (size_t)len) : NULL;
	staple_len = len;
}

/* A handshake in memory asking for a staple; the result and the summary line of the check. */
static enum tls_ocsp_result check(char *line, size_t linelen)
{
	SSL_CTX *sctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX_use_certificate(sctx, leaf);
	SSL_CTX_use_PrivateKey(sctx, leaf_key);
	SSL_CTX_add1_chain_cert(sctx, ca);
	SSL_CTX_set_tlsext_status_cb(sctx, staple_cb);
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	X509_STORE_add_cert(SSL_CTX_get_cert_store(cctx), ca);
	SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);
	tls_ocsp_request(cctx, true);
	SSL *client = SSL_new(cctx), *server = SSL_new(sctx);
	BIO *a, *b;
	BIO_new_bio_pair(&a, 0, &b, 0);
	SSL_set_bio(client, a, a);
	SSL_set_bio(server, b, b);
	SSL_set_connect_state(client);
	SSL_set_accept_state(server);
	int cr = 0, sr = 0;
	for (int i = 0; i < 50 && (cr != 1 || sr != 1); i++) {
		if (cr != 1)
			cr = SSL_do_handshake(client);
		if (sr != 1)
			sr = SSL_do_handshake(server);
	}
	enum tls_ocsp_result r = TLS_OCSP_NOT_ASKED;
	struct buf out;
	buf_init(&out);
	if (cr == 1 && sr == 1)
		r = tls_ocsp_check(client, &out, NULL);
	snprintf(line, linelen, "%s", out.data ? out.data : "(handshake failed)");
	buf_free(&out);
	SSL_free(client);
	SSL_free(server);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	ERR_clear_error();
	return r;
}

/* An array as a pointer (is_str tests its arguments for NULL). */
static const char *str(const char *s)
{
	return s;
}

static bool starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

int main(void)
{
	char line[1024];
	ca_key = EVP_EC_gen("P-256");
	leaf_key = EVP_EC_gen("P-256");
	ca = make_cert(ca_key, "OCSP Test CA", NULL, NULL, true);
	leaf = make_cert(leaf_key, "mail.example", ca, ca_key, false);

	make_staple(leaf, V_OCSP_CERTSTATUS_GOOD, -1, -3600, 86400);
	is_int(check(line, sizeof line), TLS_OCSP_GOOD, "good: %s", line);
	ok(starts(line, "OCSP: good, next update "), "good line");

	make_staple(leaf, V_OCSP_CERTSTATUS_REVOKED, OCSP_REVOKED_STATUS_KEYCOMPROMISE, -3600,
		    86400);
	is_int(check(line, sizeof line), TLS_OCSP_REVOKED, "revoked: %s", line);
	ok(starts(line, "OCSP: REVOKED (keyCompromise) on "), "revoked with its reason");

	make_staple(leaf, V_OCSP_CERTSTATUS_GOOD, -1, -10L * 86400, -9L * 86400);
	is_int(check(line, sizeof line), TLS_OCSP_INVALID, "outdated: %s", line);
	is_str(str(line), "OCSP: response not usable: outdated or not yet valid",
	       "an outdated good is no good");

	make_staple(leaf, V_OCSP_CERTSTATUS_REVOKED, OCSP_REVOKED_STATUS_KEYCOMPROMISE, 3L * 86400,
		    4L * 86400);
	is_int(check(line, sizeof line), TLS_OCSP_INVALID, "from the future: %s", line);

	make_staple(ca, V_OCSP_CERTSTATUS_GOOD, -1, -3600, 86400);
	is_int(check(line, sizeof line), TLS_OCSP_INVALID, "another certificate: %s", line);
	is_str(str(line), "OCSP: response not usable: it says nothing about this certificate",
	       "a response about another certificate");

	OCSP_RESPONSE *later = OCSP_response_create(OCSP_RESPONSE_STATUS_TRYLATER, NULL);
	unsigned char *der = NULL;
	int len = i2d_OCSP_RESPONSE(later, &der);
	set_staple(der, len);
	OPENSSL_free(der);
	OCSP_RESPONSE_free(later);
	is_int(check(line, sizeof line), TLS_OCSP_INVALID, "tryLater: %s", line);
	is_str(str(line), "OCSP: response not trusted: the responder answered trylater",
	       "an error status named");

	set_staple("\x30\x03garbage", 10);
	is_int(check(line, sizeof line), TLS_OCSP_INVALID, "garbage: %s", line);
	is_str(str(line), "OCSP: response not trusted: it cannot be parsed", "garbage refused");

	set_staple(NULL, 0);
	is_int(check(line, sizeof line), TLS_OCSP_NONE, "nothing stapled: %s", line);

	OPENSSL_free(staple);
	X509_free(leaf);
	X509_free(ca);
	EVP_PKEY_free(leaf_key);
	EVP_PKEY_free(ca_key);
	return done_testing();
}
