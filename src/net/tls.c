#include "smtpsh/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "smtpsh/escape.h"

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
	SSL_CTX_set_verify(ctx, opt->insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
	int ok;
	if (opt->cafile) {
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

static void append_sans(struct buf *out, X509 *cert)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	if (!names) {
		buf_puts(out, "(none)");
		return;
	}
	BIO *bio = BIO_new(BIO_s_mem());
	for (int i = 0; bio && i < sk_GENERAL_NAME_num(names); i++) {
		if (i)
			BIO_puts(bio, ", ");
		GENERAL_NAME_print(bio, sk_GENERAL_NAME_value(names, i));
	}
	if (bio) {
		char *data;
		long len = BIO_get_mem_data(bio, &data);
		escape_append(out, data, len > 0 ? (size_t)len : 0, ESCAPE_DEFAULT);
		BIO_free(bio);
	}
	GENERAL_NAMES_free(names);
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

static void append_verify(struct buf *out, SSL *ssl)
{
	long v = SSL_get_verify_result(ssl);
	if (!SSL_get0_peer_certificate(ssl))
		buf_puts(out, "no certificate");
	else if (v == X509_V_OK)
		buf_puts(out, "certificate verified");
	else
		buf_printf(out, "certificate NOT verified: %s", X509_verify_cert_error_string(v));
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
}

void tls_describe(SSL *ssl, struct buf *out)
{
	int bits = 0;
	SSL_get_cipher_bits(ssl, &bits);
	buf_printf(out, "protocol:  %s\n", SSL_get_version(ssl));
	buf_printf(out, "cipher:    %s (%d bits)\n", SSL_get_cipher_name(ssl), bits);
	X509 *cert = SSL_get0_peer_certificate(ssl);
	if (cert) {
		buf_puts(out, "subject:   ");
		append_name(out, X509_get_subject_name(cert));
		buf_puts(out, "\nissuer:    ");
		append_name(out, X509_get_issuer_name(cert));
		buf_puts(out, "\nnames:     ");
		append_sans(out, cert);
		buf_puts(out, "\nvalid:     from ");
		append_time(out, X509_get0_notBefore(cert));
		buf_puts(out, " until ");
		append_time(out, X509_get0_notAfter(cert));
		buf_puts(out, "\n");
	}
	buf_puts(out, "verified:  ");
	append_verify(out, ssl);
}

static void handshake_error(SSL *ssl, int ret, const char *host, char *err, size_t errlen)
{
	long v = SSL_get_verify_result(ssl);
	X509 *cert = SSL_get0_peer_certificate(ssl);
	unsigned long e = ERR_peek_error();
	if (cert && v != X509_V_OK) {
		struct buf subj;
		buf_init(&subj);
		append_name(&subj, X509_get_subject_name(cert));
		snprintf(err, errlen, "TLS certificate of %s not trusted: %s (certificate %s)", host,
			 X509_verify_cert_error_string(v), subj.data ? subj.data : "?");
		buf_free(&subj);
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

int tls_handshake(struct conn *c, SSL_CTX *ctx, const char *host, bool insecure, int timeout_ms,
		  volatile sig_atomic_t *intr, char *err, size_t errlen)
{
	(void)insecure; /* the context's verify mode already says it */
	SSL *ssl = SSL_new(ctx);
	if (!ssl || !SSL_set_fd(ssl, c->fd)) {
		snprintf(err, errlen, "cannot set up TLS");
		SSL_free(ssl);
		return CONN_IO_ERROR;
	}
	if (!is_ip_literal(host))
		SSL_set_tlsext_host_name(ssl, host);
	/* Checked by OpenSSL during verification; IP literals are recognised by SSL_set1_host. */
	SSL_set1_host(ssl, host);
	SSL_set_connect_state(ssl);
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
			handshake_error(ssl, r, host, err, errlen);
			SSL_free(ssl);
			return CONN_IO_ERROR;
		}
		long long left = deadline - conn_now_ms();
		int w = left <= 0 ? CONN_IO_TIMEOUT : conn_wait(c, want, (int)left, intr);
		if (w != CONN_IO_OK) {
			snprintf(err, errlen, "TLS handshake with %s %s", host,
				 w == CONN_IO_TIMEOUT ? "timed out" : "interrupted");
			SSL_free(ssl);
			return w;
		}
	}
	c->ssl = ssl;
	return 0;
}
