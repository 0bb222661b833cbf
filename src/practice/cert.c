/*
 * The practice server's certificates, made at start with OpenSSL: a throw-away CA (its key
 * is never written anywhere and is freed once it signed) and a server certificate for
 * localhost, 127.0.0.1 and ::1 (and the --listen address), valid for one day. The CA goes
 * to a file the client trusts explicitly (smtpsh --cafile, swaks --tls-ca-path, ...). The CA
 * also issues a client certificate to the demo user (its key written beside it, for smtpsh
 * --cert): every client is asked for a certificate, none has to send one, and one the CA
 * issued offers AUTH EXTERNAL (RFC 4422 appendix A).
 */
#include "smtpsh/practice_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

/* Made anew for every run, yet valid long enough that smtpsh --check's certificate-expiry
   passes (it warns under 14 days left): a practice server that fails a check it was not
   asked to fail would teach the wrong thing. */
#define VALIDITY_SECONDS (90L * 24 * 3600)
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

/* The client's certificate and key in one PEM file only its owner may read. */
static int write_client(const char *path, X509 *cert, EVP_PKEY *key)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	int ok = PEM_write_X509(f, cert) && PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	return fclose(f) == 0 && ok ? 0 : -1;
}

/* Every certificate is let through the handshake: one from another CA only goes without
   EXTERNAL (practice_client_identity reads the verdict), as a real server that merely asks. */
static int accept_any(int ok, X509_STORE_CTX *x)
{
	(void)ok;
	(void)x;
	return 1;
}

bool practice_client_identity(SSL *ssl, char *out, size_t outlen)
{
	X509 *peer = SSL_get0_peer_certificate(ssl);
	if (!peer || SSL_get_verify_result(ssl) != X509_V_OK || outlen == 0)
		return false;
	int n = X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, out,
					  (int)outlen);
	if (n <= 0)
		return false;
	for (int i = 0; i < n; i++) /* shown on the screen: printable ASCII only */
		if (out[i] < 0x21 || out[i] > 0x7e)
			return false;
	return true;
}

static void openssl_error(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_get_error();
	snprintf(err, errlen, "%s: %s", what, e ? ERR_reason_error_string(e) : "failed");
	ERR_clear_error();
}

SSL_CTX *practice_tls_context(const char *cafile, const char *certfile, const char *clientfile,
			      const char *client_cn, const char *extra_ip, char *err, size_t errlen)
{
	SSL_CTX *ctx = NULL;
	X509 *ca = NULL, *cert = NULL, *client = NULL;
	EVP_PKEY *ca_key = new_key(), *key = new_key(), *client_key = new_key();
	unsigned char rnd[4];
	char ca_cn[64], san[160];
	if (!ca_key || !key || !client_key || RAND_bytes(rnd, sizeof rnd) != 1) {
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
	const char *const client_exts[] = {
	    "basicConstraints",		 "critical,CA:FALSE", "keyUsage",
	    "critical,digitalSignature", "extendedKeyUsage",  "clientAuth",
	    "authorityKeyIdentifier",	 "keyid:always",      NULL};
	ca = make_cert(ca_key, ca_cn, NULL, ca_key, ca_exts);
	cert = ca ? make_cert(key, "localhost", ca, ca_key, srv_exts) : NULL;
	client = cert ? make_cert(client_key, client_cn, ca, ca_key, client_exts) : NULL;
	if (!client) {
		openssl_error(err, errlen, "cannot make the certificates");
		goto out;
	}
	if (write_pem(cafile, ca) < 0 || write_pem(certfile, cert) < 0 ||
	    write_client(clientfile, client, client_key) < 0) {
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
	/* Ask for a client certificate from this CA (SSL_VERIFY_PEER without
	   FAIL_IF_NO_PEER_CERT: asked, never required). */
	if (X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca) != 1 ||
	    SSL_CTX_add_client_CA(ctx, ca) != 1) {
		openssl_error(err, errlen, "cannot set up the TLS server");
		SSL_CTX_free(ctx);
		ctx = NULL;
		goto out;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, accept_any);
	/* A server that asks for client certificates must name its sessions' context, or
	   OpenSSL refuses to resume them ("session id context uninitialized"). */
	static const unsigned char sid_ctx[] = "smtpsh practice server";
	SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1);
out:
	X509_free(ca);
	X509_free(cert);
	X509_free(client);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(key);
	EVP_PKEY_free(client_key);
	return ctx;
}
