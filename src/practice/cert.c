/*
 * The practice server's certificates, made at start with OpenSSL: a throw-away CA (its key
 * is never written anywhere and is freed once it signed) and a server certificate for
 * localhost, 127.0.0.1 and ::1 (and the --listen address), valid for one day. The CA goes
 * to a file the client trusts explicitly (smtpsh --cafile, swaks --tls-ca-path, ...).
 */
#include "smtpsh/practice_server.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#define VALIDITY_SECONDS (24L * 3600)
#define BACKDATE_SECONDS (5L * 60) /* tolerate a client clock a little behind */

static EVP_PKEY *new_key(void)
{
	EVP_PKEY *key = NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL);
	if (ctx && EVP_PKEY_keygen_init(ctx) > 0 &&
	    EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx, NID_X9_62_prime256v1) > 0)
		EVP_PKEY_keygen(ctx, &key);
	EVP_PKEY_CTX_free(ctx);
	return key;
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (!ext)
		return -1;
	int ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

static int set_name(X509_NAME *name, const char *cn)
{
	return X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
					  (const unsigned char *)"smtpsh practice server", -1, -1,
					  0) &&
		       X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
						  (const unsigned char *)cn, -1, -1, 0)
		   ? 0
		   : -1;
}

/* A certificate for key, named cn, signed by issuer_key (self-signed when issuer is NULL). */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
		       const char *const *exts)
{
	X509 *cert = X509_new();
	BIGNUM *bn = BN_new();
	if (!cert || !bn || !X509_set_version(cert, 2) || !BN_rand(bn, 64, 0, 0) ||
	    !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) ||
	    !X509_gmtime_adj(X509_getm_notBefore(cert), -BACKDATE_SECONDS) ||
	    !X509_gmtime_adj(X509_getm_notAfter(cert), VALIDITY_SECONDS) ||
	    !X509_set_pubkey(cert, key) || set_name(X509_get_subject_name(cert), cn) < 0 ||
	    !X509_set_issuer_name(cert, X509_get_subject_name(issuer ? issuer : cert)))
		goto fail;
	for (size_t i = 0; exts[i]; i += 2)
		if (add_ext(cert, issuer ? issuer : cert, OBJ_sn2nid(exts[i]), exts[i + 1]) < 0)
			goto fail;
	if (!X509_sign(cert, issuer_key, EVP_sha256()))
		goto fail;
	BN_free(bn);
	return cert;
fail:
	BN_free(bn);
	X509_free(cert);
	return NULL;
}

static int write_pem(const char *path, X509 *cert)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	int ok = PEM_write_X509(f, cert);
	return fclose(f) == 0 && ok ? 0 : -1;
}

static void openssl_error(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_get_error();
	snprintf(err, errlen, "%s: %s", what, e ? ERR_reason_error_string(e) : "failed");
	ERR_clear_error();
}

SSL_CTX *practice_tls_context(const char *cafile, const char *certfile, const char *extra_ip,
			      char *err, size_t errlen)
{
	SSL_CTX *ctx = NULL;
	X509 *ca = NULL, *cert = NULL;
	EVP_PKEY *ca_key = new_key(), *key = new_key();
	unsigned char rnd[4];
	char ca_cn[64], san[160];
	if (!ca_key || !key || RAND_bytes(rnd, sizeof rnd) != 1) {
		openssl_error(err, errlen, "cannot make a key");
		goto out;
	}
	/* A new name each run: a client never confuses two runs' CAs. */
	snprintf(ca_cn, sizeof ca_cn, "smtpsh practice CA %02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
		 rnd[3]);
	snprintf(san, sizeof san, "DNS:localhost,IP:127.0.0.1,IP:::1%s%s", extra_ip ? ",IP:" : "",
		 extra_ip ? extra_ip : "");
	const char *const ca_exts[] = {"basicConstraints",
				       "critical,CA:TRUE,pathlen:0",
				       "keyUsage",
				       "critical,keyCertSign,cRLSign",
				       "subjectKeyIdentifier",
				       "hash",
				       NULL};
	const char *const srv_exts[] = {"basicConstraints",
					"critical,CA:FALSE",
					"keyUsage",
					"critical,digitalSignature",
					"extendedKeyUsage",
					"serverAuth",
					"subjectAltName",
					san,
					"subjectKeyIdentifier",
					"hash",
					"authorityKeyIdentifier",
					"keyid:always",
					NULL};
	ca = make_cert(ca_key, ca_cn, NULL, ca_key, ca_exts);
	cert = ca ? make_cert(key, "localhost", ca, ca_key, srv_exts) : NULL;
	if (!cert) {
		openssl_error(err, errlen, "cannot make the certificates");
		goto out;
	}
	if (write_pem(cafile, ca) < 0 || write_pem(certfile, cert) < 0) {
		snprintf(err, errlen, "cannot write %s", cafile);
		goto out;
	}
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
	    SSL_CTX_use_certificate(ctx, cert) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		openssl_error(err, errlen, "cannot set up the TLS server");
		SSL_CTX_free(ctx);
		ctx = NULL;
		goto out;
	}
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
out:
	X509_free(ca);
	X509_free(cert);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(key);
	return ctx;
}
