#include "smtpsh/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "smtpsh/escape.h"
#include "smtpsh/tls_chain.h"
#include "smtpsh/tls_resume.h"

/* What the verification callback saw first; OpenSSL keeps no certificate of a failed handshake. */
struct verify_note {
	long err;
	X509 *cert; /* the certificate the error is about */
};

static int verify_cb(int ok, X509_STORE_CTX *x)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct verify_note *note = ssl ? SSL_get_app_data(ssl) : NULL;
	if (!ok && note && !note->err) {
		note->err = X509_STORE_CTX_get_error(x);
		X509 *cert = X509_STORE_CTX_get_current_cert(x);
		if (cert && X509_up_ref(cert))
			note->cert = cert;
	}
	return ok; /* OpenSSL's decision stands: fail with SSL_VERIFY_PEER, go on without */
}

SSL_CTX *tls_context_new(const struct tls_options *opt, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		snprintf(err, errlen, "cannot create a TLS context: %s",
			 ERR_reason_error_string(ERR_get_error()));
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_verify(ctx, opt->insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, verify_cb);
	int ok;
	if (opt->cafile) {
		SSL_CTX_set_app_data(ctx, (void *)opt->cafile); /* says "--cafile given" */
		ok = SSL_CTX_load_verify_locations(ctx, opt->cafile, NULL);
		if (!ok) {
			unsigned long e = ERR_get_error();
			snprintf(err, errlen, "cannot load CA file %s: %s", opt->cafile,
				 e ? ERR_reason_error_string(e) : "unreadable");
		}
	} else {
		ok = SSL_CTX_set_default_verify_paths(ctx);
		if (!ok)
			snprintf(err, errlen, "cannot load the system CA store");
	}
	ERR_clear_error();
	if (!ok) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static bool is_ip_literal(const char *host)
{
	unsigned char tmp[sizeof(struct in6_addr)];
	return inet_pton(AF_INET, host, tmp) == 1 || inet_pton(AF_INET6, host, tmp) == 1;
}

/* Appends name (a certificate field, from the network) in a display-safe one-line form. */
static void append_name(struct buf *out, X509_NAME *name)
{
	BIO *bio = BIO_new(BIO_s_mem());
	if (!bio)
		return;
	X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
	char *data;
	long len = BIO_get_mem_data(bio, &data);
	escape_append(out, data, len > 0 ? (size_t)len : 0, ESCAPE_DEFAULT);
	BIO_free(bio);
}

/* Bounded: a name-mismatch message must stay one line of sane length (tls_chain.h). */
static void append_sans(struct buf *out, X509 *cert)
{
	tls_chain_append_sans(out, cert);
}

static void append_time(struct buf *out, const ASN1_TIME *t)
{
	BIO *bio = BIO_new(BIO_s_mem());
	if (!bio)
		return;
	ASN1_TIME_print(bio, t);
	char *data;
	long len = BIO_get_mem_data(bio, &data);
	escape_append(out, data, len > 0 ? (size_t)len : 0, ESCAPE_DEFAULT);
	BIO_free(bio);
}

bool tls_verified(SSL *ssl)
{
	X509 *cert = SSL_get0_peer_certificate(ssl);
	return cert && SSL_get_verify_result(ssl) == X509_V_OK;
}

/* Why verification failed, in words that say what to do about it. */
static void append_verify_problem(struct buf *out, long v, X509 *cert, const char *host,
				  bool have_cafile)
{
	switch (v) {
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
		buf_puts(out, have_cafile ? "self-signed certificate, not one of the --cafile CAs"
					  : "self-signed certificate (trust it with --cafile FILE)");
		break;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
		buf_puts(out, "issued by an unknown CA (");
		if (cert)
			append_name(out, X509_get_issuer_name(cert));
		buf_puts(out, have_cafile ? "; not one of the --cafile CAs)"
					  : "; --cafile FILE trusts a CA)");
		break;
	case X509_V_ERR_CERT_HAS_EXPIRED:
		buf_puts(out, "certificate expired on ");
		if (cert)
			append_time(out, X509_get0_notAfter(cert));
		break;
	case X509_V_ERR_CERT_NOT_YET_VALID:
		buf_puts(out, "certificate not valid before ");
		if (cert)
			append_time(out, X509_get0_notBefore(cert));
		buf_puts(out, " (is the clock right?)");
		break;
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		if (cert && X509_get_ext_by_NID(cert, NID_subject_alt_name, -1) < 0) {
			buf_puts(out, "certificate has no subjectAltName; names in the CN are not "
				      "checked (RFC 6125)");
			break;
		}
		buf_printf(out, "name mismatch: the certificate is not for %s but for ",
			   host ? host : "this host");
		if (cert)
			append_sans(out, cert);
		break;
	case X509_V_ERR_CERT_REVOKED:
		buf_puts(out, "certificate revoked");
		break;
	default:
		buf_puts(out, X509_verify_cert_error_string(v));
		break;
	}
}

static void append_verify(struct buf *out, SSL *ssl)
{
	if (!SSL_get0_peer_certificate(ssl))
		buf_puts(out, "no certificate");
	else if (SSL_get_verify_result(ssl) == X509_V_OK)
		/* With DANE enabled and matched (RFC 7672), the TLSA records decided, not the
		   WebPKI: say so, so that nobody reads it as a CA's word. */
		buf_puts(out, SSL_get0_dane_authority(ssl, NULL, NULL) >= 0
				  ? "certificate verified by DANE"
				  : "certificate verified");
	else {
		buf_puts(out, "certificate NOT verified: ");
		append_verify_problem(out, SSL_get_verify_result(ssl),
				      SSL_get0_peer_certificate(ssl), SSL_get0_peername(ssl),
				      SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)) != NULL);
	}
}

void tls_summary(SSL *ssl, struct buf *out)
{
	buf_printf(out, "%s %s, ", SSL_get_version(ssl), SSL_get_cipher_name(ssl));
	append_verify(out, ssl);
	X509 *cert = SSL_get0_peer_certificate(ssl);
	if (cert) {
		buf_puts(out, " (");
		append_name(out, X509_get_subject_name(cert));
		buf_puts(out, ")");
	}
	if (SSL_session_reused(ssl))
		buf_puts(out, ", resumed");
}

/* The key exchange group ("X25519", "secp256r1", "ffdhe2048"), or what the peer's ephemeral key
   was when OpenSSL names no group. */
static void append_group(struct buf *out, SSL *ssl)
{
	int nid = SSL_get_negotiated_group(ssl);
	const char *name = nid ? SSL_group_to_name(ssl, nid) : NULL;
	EVP_PKEY *tmp = NULL;
	if (name)
		buf_puts(out, name);
	else if (SSL_get_peer_tmp_key(ssl, &tmp) && tmp)
		buf_printf(out, "%s %d bits", EVP_PKEY_get0_type_name(tmp), EVP_PKEY_get_bits(tmp));
	else
		buf_puts(out, "none (no ephemeral key exchange)");
	EVP_PKEY_free(tmp);
	ERR_clear_error();
}

void tls_describe(SSL *ssl, struct buf *out)
{
	int bits = 0;
	SSL_get_cipher_bits(ssl, &bits);
	buf_printf(out, "protocol:     %s\n", SSL_get_version(ssl));
	buf_printf(out, "cipher:       %s (%d bits)\n", SSL_get_cipher_name(ssl), bits);
	buf_puts(out, "key exchange: ");
	append_group(out, ssl);
	buf_printf(out, "\nsession:      %s\n",
		   SSL_session_reused(ssl) ? "resumed (no full handshake)"
					   : "new (full handshake)");
	/* What we sent: our own words, but a --sni or \connect name is escaped all the same. */
	const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	buf_puts(out, "sni sent:     ");
	if (sni)
		escape_append(out, sni, strlen(sni), ESCAPE_DEFAULT);
	else
		buf_puts(out, "none (an IP address or a UNIX socket without --sni)");
	buf_puts(out, "\nclient cert:  ");
	X509 *mine = SSL_get_certificate(ssl);
	if (mine) {
		tls_chain_append_name(out, X509_get_subject_name(mine));
		buf_puts(out, ", sha256 ");
		tls_chain_append_fingerprint(out, mine);
	} else {
		buf_puts(out, "none sent");
	}
	buf_puts(out, "\n");
	tls_chain_describe(ssl, out);
	buf_puts(out, "verified:     ");
	append_verify(out, ssl);
	long v = SSL_get_verify_result(ssl);
	if (SSL_get0_peer_certificate(ssl) && v != X509_V_OK)
		buf_printf(out, " (OpenSSL: %ld, %s)", v, X509_verify_cert_error_string(v));
}

static void handshake_error(SSL *ssl, int ret, const struct verify_note *note, const char *host,
			    char *err, size_t errlen)
{
	unsigned long e = ERR_peek_error();
	if (note->err) {
		struct buf msg;
		buf_init(&msg);
		append_verify_problem(&msg, note->err, note->cert, host,
				      SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)) != NULL);
		if (note->cert) {
			buf_puts(&msg, "; certificate ");
			append_name(&msg, X509_get_subject_name(note->cert));
		}
		snprintf(err, errlen, "TLS certificate of %s not trusted: %s", host,
			 msg.data ? msg.data : "?");
		buf_free(&msg);
	} else if (e) {
		const char *reason = ERR_reason_error_string(e);
		snprintf(err, errlen, "TLS handshake with %s failed: %s%s", host,
			 reason ? reason : "error",
			 ERR_GET_REASON(e) == SSL_R_WRONG_VERSION_NUMBER
				 ? " (the server did not answer with TLS)"
				 : "");
	} else if (SSL_get_error(ssl, ret) == SSL_ERROR_SYSCALL || ret == 0) {
		snprintf(err, errlen, "TLS handshake with %s failed: the server closed the connection",
			 host);
	} else {
		snprintf(err, errlen, "TLS handshake with %s failed", host);
	}
	ERR_clear_error();
}

int tls_handshake(struct conn *c, SSL_CTX *ctx, const char *host, int timeout_ms,
		  volatile sig_atomic_t *intr, char *err, size_t errlen)
{
	return tls_handshake_with(c, ctx, host, NULL, NULL, timeout_ms, intr, err, errlen);
}

int tls_handshake_with(struct conn *c, SSL_CTX *ctx, const char *host, tls_setup_fn setup,
		       void *arg, int timeout_ms, volatile sig_atomic_t *intr, char *err,
		       size_t errlen)
{
	SSL *ssl = SSL_new(ctx);
	if (!ssl || !SSL_set_fd(ssl, c->fd)) {
		snprintf(err, errlen, "cannot set up TLS");
		SSL_free(ssl);
		return CONN_IO_ERROR;
	}
	/* host NULL (TLS over a UNIX socket without --sni): no SNI, and no name to check; the
	   chain is still verified. */
	const char *what = host ? host : "the server";
	if (host && !is_ip_literal(host))
		SSL_set_tlsext_host_name(ssl, host);
	/* Checked by OpenSSL during verification; IP literals are recognised by SSL_set1_host.
	   Only the subjectAltName counts: OpenSSL would fall back to the subject's CN when a
	   certificate has no DNS name, which RFC 6125 section 6.4.4 deprecates and browsers and
	   the CA/Browser Forum no longer accept. */
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
	if (host)
		SSL_set1_host(ssl, host);
	tls_resume_apply(ctx, ssl); /* the session to resume, if the caller offers one */
	if (setup && setup(ssl, arg, err, errlen) < 0) {
		SSL_free(ssl);
		return CONN_IO_ERROR;
	}
	SSL_set_connect_state(ssl);
	struct verify_note note = {0};
	SSL_set_app_data(ssl, &note);
	int result = 0;
	long long deadline = conn_now_ms() + timeout_ms;
	for (;;) {
		ERR_clear_error();
		errno = 0;
		int r = SSL_connect(ssl);
		if (r == 1)
			break;
		int e = SSL_get_error(ssl, r);
		short want;
		if (e == SSL_ERROR_WANT_READ)
			want = POLLIN;
		else if (e == SSL_ERROR_WANT_WRITE)
			want = POLLOUT;
		else {
			handshake_error(ssl, r, &note, what, err, errlen);
			result = CONN_IO_ERROR;
			break;
		}
		long long left = deadline - conn_now_ms();
		int w = left <= 0 ? CONN_IO_TIMEOUT : conn_wait(c, want, (int)left, intr);
		if (w != CONN_IO_OK) {
			snprintf(err, errlen, "TLS handshake with %s %s", what,
				 w == CONN_IO_TIMEOUT ? "timed out" : "interrupted");
			result = w;
			break;
		}
	}
	SSL_set_app_data(ssl, NULL);
	X509_free(note.cert);
	if (result != 0) {
		SSL_free(ssl);
		return result;
	}
	c->ssl = ssl;
	return 0;
}
