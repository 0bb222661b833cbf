#include "smtpsh/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evperr.h>
#include <openssl/pemerr.h>
#include <openssl/proverr.h>
#include <openssl/x509err.h>
#include <openssl/x509v3.h>

#include "smtpsh/escape.h"
#include "smtpsh/tls_chain.h"
#include "smtpsh/tls_resume.h"

/* What the callbacks saw during one handshake; OpenSSL keeps no certificate of a failed
   handshake, and forgets the alert and the version the server chose. */
struct verify_note {
	long err;
	X509 *cert;	    /* the certificate the error is about */
	int alert;	    /* the alert the server sent (its description), -1: none */
	int server_version; /* the version of the ServerHello, 0: none arrived */
	bool sent_cert;	    /* we sent a client certificate (the server asked for one) */
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

/* The alert the server sent (SSL_CB_READ_ALERT: ret is level << 8 | description). */
static void info_cb(const SSL *ssl, int where, int ret)
{
	struct verify_note *note = SSL_get_app_data(ssl);
	if (note && (where & SSL_CB_READ_ALERT) && note->alert < 0)
		note->alert = ret & 0xff;
}

/* The version the server chose (legacy_version of the ServerHello: TLS 1.3's is 1.2 and then
   also acceptable to us, RFC 8446 4.1.3), and whether our Certificate message left. */
static void msg_cb(int write_p, int version, int content_type, const void *buf, size_t len,
		   SSL *ssl, void *arg)
{
	(void)version;
	(void)arg;
	struct verify_note *note = SSL_get_app_data(ssl);
	const unsigned char *p = buf;
	if (!note || content_type != SSL3_RT_HANDSHAKE || len < 1)
		return;
	if (!write_p && p[0] == SSL3_MT_SERVER_HELLO && len >= 6 && !note->server_version)
		note->server_version = p[4] << 8 | p[5];
	/* an empty Certificate message (no certificate) is 4 + 3 (+ 1 in TLS 1.3) bytes */
	if (write_p && p[0] == SSL3_MT_CERTIFICATE && len > 8)
		note->sent_cert = true;
}

/* An SSL's mark "a client certificate was sent", for tls_summary after the handshake. */
static int sent_cert_index(void)
{
	static int idx = -1;
	if (idx < 0)
		idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	return idx;
}

struct passphrase_call {
	const struct tls_options *opt;
	const char *keyfile;
	char err[300];
	bool failed;
};

/* OpenSSL's pem_password_cb around opt->passphrase; the secret is wiped by the caller's
   buffer being OpenSSL's (PEM_read cleanses it). */
static int passphrase_cb(char *buf, int size, int rwflag, void *arg)
{
	(void)rwflag;
	struct passphrase_call *call = arg;
	const struct tls_options *opt = call->opt;
	if (!opt->passphrase) {
		snprintf(call->err, sizeof call->err,
			 "the key %s is encrypted (no passphrase known)", call->keyfile);
		call->failed = true;
		return -1;
	}
	int n =
	    opt->passphrase(call->keyfile, opt->ctl ? opt->ctl->key_password_command : NULL, buf,
			    (size_t)size, call->err, sizeof call->err, opt->passphrase_arg);
	if (n < 0)
		call->failed = true;
	return n < 0 ? -1 : n;
}

/* The client certificate and its key: loaded, the key decrypted, the pair checked. */
static int load_client_cert(SSL_CTX *ctx, const struct tls_options *opt, char *err, size_t errlen)
{
	const struct tls_controls *t = opt->ctl;
	if (SSL_CTX_use_certificate_chain_file(ctx, t->cert) != 1) {
		unsigned long e = ERR_peek_error(); /* the first: the cause (a system error) */
		snprintf(err, errlen, "cannot load the client certificate %s: %s", t->cert,
			 !e		       ? "unreadable"
			 : ERR_SYSTEM_ERROR(e) ? strerror(ERR_GET_REASON(e))
					       : "no PEM certificate in it");
		return -1;
	}
	struct passphrase_call call = {.opt = opt, .keyfile = t->key ? t->key : t->cert};
	SSL_CTX_set_default_passwd_cb(ctx, passphrase_cb);
	SSL_CTX_set_default_passwd_cb_userdata(ctx, &call);
	int ok = SSL_CTX_use_PrivateKey_file(ctx, call.keyfile, SSL_FILETYPE_PEM);
	SSL_CTX_set_default_passwd_cb(ctx, NULL);
	SSL_CTX_set_default_passwd_cb_userdata(ctx, NULL);
	if (ok != 1) {
		/* OpenSSL's queue holds the story (a store, a provider, PKCS#12...): the words
		   come from the errors that tell the cause, not from the last "PEM lib". */
		bool bad_decrypt = false, mismatch = false;
		unsigned long e, sys = 0;
		while ((e = ERR_get_error()) != 0) {
			if (ERR_SYSTEM_ERROR(e) && !sys)
				sys = e;
			int lib = ERR_GET_LIB(e), reason = ERR_GET_REASON(e);
			bad_decrypt |= (lib == ERR_LIB_PROV && reason == PROV_R_BAD_DECRYPT) ||
				       (lib == ERR_LIB_EVP && reason == EVP_R_BAD_DECRYPT) ||
				       (lib == ERR_LIB_PEM && reason == PEM_R_BAD_DECRYPT) ||
				       lib == ERR_LIB_PKCS12;
			mismatch |= lib == ERR_LIB_X509 && reason == X509_R_KEY_VALUES_MISMATCH;
		}
		if (call.failed)
			snprintf(err, errlen, "cannot load the key %s: %s", call.keyfile, call.err);
		else if (mismatch)
			snprintf(err, errlen, "the key %s does not match the certificate %s",
				 call.keyfile, t->cert);
		else if (bad_decrypt)
			snprintf(err, errlen, "cannot load the key %s: wrong passphrase",
				 call.keyfile);
		else if (sys)
			snprintf(err, errlen, "cannot load the key %s: %s", call.keyfile,
				 strerror(ERR_GET_REASON(sys)));
		else if (!t->key)
			snprintf(err, errlen, "%s holds no private key: give it with --key FILE",
				 t->cert);
		else
			snprintf(err, errlen, "cannot load the key %s: no PEM private key in it",
				 call.keyfile);
		return -1;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "the key %s does not match the certificate %s", call.keyfile,
			 t->cert);
		return -1;
	}
	return 0;
}

/* Versions, lists and the client certificate of the controls (checked when parsed: a list
   OpenSSL refuses here is a local error all the same). */
static int apply_controls(SSL_CTX *ctx, const struct tls_options *opt, char *err, size_t errlen)
{
	const struct tls_controls *t = opt->ctl;
	if (t->min_version) {
		SSL_CTX_set_min_proto_version(ctx, t->min_version);
		/* OpenSSL 3's default level 1 refuses TLS 1.0 and 1.1 (their SHA-1 signatures):
		   they need level 0, lowered only when asked, and the TLS line says so. */
		if (t->min_version < TLS1_2_VERSION)
			SSL_CTX_set_security_level(ctx, 0);
	}
	if (t->max_version)
		SSL_CTX_set_max_proto_version(ctx, t->max_version);
	if ((t->ciphers && SSL_CTX_set_cipher_list(ctx, t->ciphers) != 1) ||
	    (t->ciphersuites && SSL_CTX_set_ciphersuites(ctx, t->ciphersuites) != 1) ||
	    (t->groups && SSL_CTX_set1_groups_list(ctx, t->groups) != 1)) {
		snprintf(err, errlen, "OpenSSL refuses --ciphers, --ciphersuites or --groups");
		return -1;
	}
	return t->cert ? load_client_cert(ctx, opt, err, errlen) : 0;
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
			/* the first error is the cause; OpenSSL 3 has no reason string for a
			   system error (errno), which strerror names */
			unsigned long e = ERR_peek_error();
			const char *why = !e		       ? "unreadable"
					  : ERR_SYSTEM_ERROR(e) ? strerror(ERR_GET_REASON(e))
								: ERR_reason_error_string(e);
			snprintf(err, errlen, "cannot load CA file %s: %s", opt->cafile,
				 why ? why : "no PEM certificate in it");
		}
	} else {
		ok = SSL_CTX_set_default_verify_paths(ctx);
		if (!ok)
			snprintf(err, errlen, "cannot load the system CA store");
	}
	if (ok && opt->ctl && apply_controls(ctx, opt, err, errlen) < 0)
		ok = 0;
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

bool tls_client_cert_sent(SSL *ssl)
{
	return sent_cert_index() >= 0 && SSL_get_ex_data(ssl, sent_cert_index()) != NULL;
}

/* What the TLS controls changed, for the TLS line (and so the transcript): a lowered security
   level, the client certificate sent. */
static void append_controls_note(struct buf *out, SSL *ssl)
{
	X509 *mine = SSL_get_certificate(ssl);
	if (mine && tls_client_cert_sent(ssl)) {
		buf_puts(out, ", client certificate sent (");
		append_name(out, X509_get_subject_name(mine));
		buf_puts(out, ")");
	}
	if (SSL_get_security_level(ssl) == 0)
		buf_printf(out, " (security level 0: --tls-min %s)",
			   tls_version_name((int)SSL_get_min_proto_version(ssl)));
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
	append_controls_note(out, ssl);
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
			    const struct tls_controls *ctl, char *err, size_t errlen)
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
		ERR_clear_error();
		return;
	}
	int why = SSL_get_error(ssl, ret);
	struct tls_failure f = {
	    .reason = e ? ERR_GET_REASON(e) : 0,
	    .alert = note->alert,
	    .server_version = note->server_version,
	    .closed = !e && (why == SSL_ERROR_SYSCALL || why == SSL_ERROR_ZERO_RETURN || ret == 0),
	    .reason_text = e ? ERR_reason_error_string(e) : NULL,
	    .alert_text = note->alert >= 0 ? SSL_alert_desc_string_long(note->alert) : NULL,
	};
	static const struct tls_controls none;
	struct buf msg;
	buf_init(&msg);
	tls_failure_words(&f, ctl ? ctl : &none, &msg);
	snprintf(err, errlen, "TLS handshake with %s failed: %s", host, msg.data ? msg.data : "?");
	buf_free(&msg);
	ERR_clear_error();
}

int tls_handshake(struct conn *c, SSL_CTX *ctx, const char *host, const struct tls_controls *ctl,
		  int timeout_ms, volatile sig_atomic_t *intr, char *err, size_t errlen)
{
	return tls_handshake_with(c, ctx, host, ctl, NULL, NULL, timeout_ms, intr, err, errlen);
}

int tls_handshake_with(struct conn *c, SSL_CTX *ctx, const char *host,
		       const struct tls_controls *ctl, tls_setup_fn setup, void *arg, int timeout_ms,
		       volatile sig_atomic_t *intr, char *err, size_t errlen)
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
	/* RFC 6066 3: SNI holds a DNS name, never an address; --no-sni sends none (which
	   certificate does the server give a client that names no host?). */
	if (host && !is_ip_literal(host) && !(ctl && ctl->no_sni))
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
	struct verify_note note = {.alert = -1};
	SSL_set_app_data(ssl, &note);
	SSL_set_info_callback(ssl, info_cb);
	SSL_set_msg_callback(ssl, msg_cb);
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
			handshake_error(ssl, r, &note, what, ctl, err, errlen);
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
	SSL_set_info_callback(ssl, NULL);
	SSL_set_msg_callback(ssl, NULL);
	X509_free(note.cert);
	if (note.sent_cert && sent_cert_index() >= 0)
		SSL_set_ex_data(ssl, sent_cert_index(), ssl); /* any non-NULL pointer: "sent" */
	if (result != 0) {
		SSL_free(ssl);
		return result;
	}
	c->ssl = ssl;
	return 0;
}
