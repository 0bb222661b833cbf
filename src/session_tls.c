/*
 * TLS on the session's connection: the handshake (implicit TLS from the first byte, or after
 * 220 to STARTTLS) and what the shell may know of it. The certificate checks are OpenSSL's
 * (net/tls.c); the SSL object stays here, behind session_tls_summary() and
 * session_describe_tls().
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpsh/session.h"

#include "session_int.h"
#include "smtpsh/dane.h"
#include "smtpsh/escape.h"
#include "smtpsh/tls.h"
#include "smtpsh/tls_chain.h"
#include "smtpsh/tls_ocsp.h"
#include "smtpsh/tls_resume.h"

/* ---- TLS --------------------------------------------------------------------------------- */

static enum session_status session_check_ocsp(struct smtp_session *s);

/* tls_resume's sink: the newest session the server gave (for TLS 1.3 a ticket, read with the
   first records after the handshake) replaces the one kept, with the host and port it is for. */
static void keep_session(void *arg, SSL_SESSION *sess)
{
	struct smtp_session *s = arg;
	char *host = s->host ? strdup(s->host) : NULL;
	if (!host) {
		SSL_SESSION_free(sess);
		return;
	}
	SSL_SESSION_free(s->resume_sess);
	free(s->resume_host);
	s->resume_sess = sess;
	s->resume_host = host;
	snprintf(s->resume_port, sizeof s->resume_port, "%s", s->port);
}

void session_resume_next(struct smtp_session *s)
{
	s->resume_once = true;
}

/* Is there a session of this host and port to offer? Only those: a session resumed skips the
   certificate check, so it must never reach another server. */
static bool resumable(const struct smtp_session *s)
{
	return s->resume_sess && s->resume_host && s->host &&
	       strcmp(s->resume_host, s->host) == 0 && strcmp(s->resume_port, s->port) == 0 &&
	       SSL_SESSION_is_resumable(s->resume_sess);
}

/* tls_handshake's setup hook: the MX host's secure TLSA records go to OpenSSL's DANE
   verifier (RFC 7672), which then decides instead of the WebPKI. */
static int dane_setup(SSL *ssl, void *arg, char *err, size_t errlen)
{
	struct smtp_session *s = arg;
	struct buf e;
	buf_init(&e);
	int r = dane_apply(ssl, s->mx.tlsa_base, s->host, s->mx.rr, s->mx.n, &e);
	if (r < 0)
		snprintf(err, errlen, "%s", e.data ? e.data : "DANE could not be set up");
	buf_free(&e);
	s->mx.used = r > 0;
	return r < 0 ? -1 : 0;
}

/* The strings of a tls_controls, to copy and free them in one loop. */
static const size_t control_strings[] = {
    offsetof(struct tls_controls, ciphers), offsetof(struct tls_controls, ciphersuites),
    offsetof(struct tls_controls, groups),  offsetof(struct tls_controls, cert),
    offsetof(struct tls_controls, key),	    offsetof(struct tls_controls, key_password_command),
};
#define CONTROL_STRINGS (sizeof control_strings / sizeof control_strings[0])

static const char **string_at(struct tls_controls *t, size_t i)
{
	return (const char **)(void *)((char *)t + control_strings[i]);
}

void session_free_tls_controls(struct smtp_session *s)
{
	for (size_t i = 0; i < CONTROL_STRINGS; i++)
		free((void *)*string_at(&s->tls, i));
	memset(&s->tls, 0, sizeof s->tls);
}

/* Makes s->ctx from the parameters and the controls, when there is none yet. */
static int make_context(struct smtp_session *s, char *err, size_t errlen)
{
	if (s->ctx)
		return 0;
	struct tls_options opt = {.cafile = s->p.cafile,
				  .insecure = s->p.insecure,
				  .ctl = &s->tls,
				  .passphrase = s->p.key_passphrase,
				  .passphrase_arg = s->p.key_passphrase_arg};
	s->ctx = tls_context_new(&opt, err, errlen);
	struct buf e;
	buf_init(&e);
	/* DANE needs the context's digest tables (once per context); an SSL that gets no
	   TLSA records verifies as before */
	if (s->ctx && dane_ctx_enable(s->ctx, &e) < 0) {
		snprintf(err, errlen, "%s", e.data ? e.data : "cannot enable DANE");
		SSL_CTX_free(s->ctx);
		s->ctx = NULL;
	}
	buf_free(&e);
	if (!s->ctx)
		return -1;
	s->resume = (struct tls_resume){.sink = keep_session, .arg = s};
	tls_resume_attach(s->ctx, &s->resume);
	return 0;
}

int session_set_tls_controls(struct smtp_session *s, const struct tls_controls *t)
{
	char err[512];
	/* said by the caller (smtpsh: ..., \\connect: ...), not as an event of a connection */
	if (tls_controls_check(t, err, sizeof err) < 0) {
		snprintf(s->err, sizeof s->err, "%s", err);
		return -1;
	}
	if (tls_controls_equal(&s->tls, t))
		return 0;
	struct tls_controls copy = *t;
	bool nomem = false;
	for (size_t i = 0; i < CONTROL_STRINGS; i++) {
		const char **p = string_at(&copy, i);
		if (*p && !(*p = strdup(*p)))
			nomem = true;
	}
	session_free_tls_controls(s);
	s->tls = copy;
	if (s->ctx) { /* a connection's SSL keeps its own reference */
		SSL_CTX_free(s->ctx);
		s->ctx = NULL;
	}
	if (nomem) {
		session_free_tls_controls(s);
		snprintf(s->err, sizeof s->err, "out of memory");
		return -1;
	}
	static const struct tls_controls none;
	if (!tls_controls_equal(&s->tls, &none) && make_context(s, err, sizeof err) < 0) {
		session_free_tls_controls(s);
		snprintf(s->err, sizeof s->err, "%s", err);
		return -1;
	}
	return 0;
}

int session_set_cafile(struct smtp_session *s, const char *cafile)
{
	const char *now = s->cafile;
	if ((!now && !cafile) || (now && cafile && strcmp(now, cafile) == 0))
		return 0;
	char *copy = NULL;
	if (cafile && !(copy = strdup(cafile))) {
		snprintf(s->err, sizeof s->err, "out of memory");
		return -1;
	}
	free(s->cafile);
	s->cafile = copy;
	s->p.cafile = copy;
	if (s->ctx) { /* the CAs are the context's: the next handshake makes a new one */
		SSL_CTX_free(s->ctx);
		s->ctx = NULL;
	}
	return 0;
}

enum session_status session_handshake(struct smtp_session *s)
{
	char err[512] = "";
	if (!s->ctx) {
		if (make_context(s, err, sizeof err) < 0) {
			enum session_status st = session_fail(s, SESSION_ERR_TLS, "%s", err);
			session_close(s, true, "TLS could not be set up");
			return st;
		}
	}
	bool resume = s->resume_wanted || s->resume_once;
	s->resume_once = false;
	s->resume.offer = resume && resumable(s) ? s->resume_sess : NULL;
	bool offered = s->resume.offer != NULL;
	tls_ocsp_request(s->ctx, s->ocsp);
	s->ocsp_view[0] = '\0';
	session_before_wait(s);
	long long t0 = conn_now_ms();
	/* --sni NAME is sent and checked instead of the host (a server reached by its address);
	   over a UNIX socket there is no host name to check but the one --sni gives. */
	const char *name = s->sni ? s->sni : s->conn.unix_socket ? NULL : s->host;
	s->mx.used = false;
	int r = tls_handshake_with(&s->conn, s->ctx, name, &s->tls, s->mx.n ? dane_setup : NULL, s,
				   s->p.timeout_ms, s->intr, err, sizeof err);
	long took = (long)(conn_now_ms() - t0);
	s->resume.offer = NULL;
	if (r != 0) {
		enum session_status st = session_fail(
		    s, r == CONN_IO_INTERRUPTED ? SESSION_ERR_INTERRUPTED : SESSION_ERR_TLS, "%s%s",
		    s->mx.used ? "DANE (RFC 7672) refused the server: " : "", err);
		session_close(s, true, "connection closed: no TLS");
		return st;
	}
	/*
	 * TLS 1.3 servers send session tickets right after the handshake. If our next command
	 * leaves before they arrive and our kernel delays its ACK of them (delayed ACK), a server
	 * that uses Nagle (Postfix) holds its reply until that ACK: a 40 ms stall. Waiting for the
	 * tickets would cost a round trip; instead the kernel ACKs at once (conn.c renews this
	 * after every write and every read of records without data), and our next command can
	 * leave with our Finished message.
	 */
	conn_quickack(&s->conn);
	if (s->ocsp && SSL_session_reused(s->conn.ssl))
		snprintf(s->ocsp_view, sizeof s->ocsp_view,
			 "ocsp:         not checked: the session was resumed (no certificate was "
			 "sent; the first handshake checked it)\n");
	else if (s->ocsp && session_check_ocsp(s) != SESSION_OK)
		return SESSION_ERR_TLS;
	s->verified = tls_verified(s->conn.ssl);
	struct buf sum;
	buf_init(&sum);
	tls_summary(s->conn.ssl, &sum); /* says "resumed" when the server resumed */
	if (resume && !offered)
		buf_puts(&sum, ", not resumed (no earlier TLS session with this host and port)");
	else if (offered && !SSL_session_reused(s->conn.ssl))
		buf_puts(&sum, ", not resumed (the server did a full handshake)");
	if (s->mx.used) {
		struct buf m;
		buf_init(&m);
		int matched = dane_match(s->conn.ssl, &m);
		snprintf(s->mx.result, sizeof s->mx.result, "%s", m.data ? m.data : "");
		buf_printf(&sum, matched == 1 ? ", DANE verified: %s" : ", DANE NOT verified: %s",
			   s->mx.result);
		buf_free(&m);
	}
	struct session_event ev = {
	    .type = SEV_TLS, .text = sum.data ? sum.data : "", .len = sum.len, .elapsed_ms = took};
	session_emit(s, &ev);
	buf_free(&sum);
	if (s->conn.unix_socket && !s->sni)
		session_notify(
		    s, SEV_WARNING,
		    "TLS over a UNIX socket: the certificate's chain was checked, but no "
		    "server name was (give one with --sni NAME)");
	else if (s->conn.unix_socket)
		session_notify(s, SEV_INFO, "TLS over a UNIX socket: server name checked: %s",
			       s->sni);
	if (!s->verified)
		session_notify(
		    s, SEV_WARNING,
		    "--insecure: the server's identity is NOT verified; anyone on the path can "
		    "read and change this session");
	return SESSION_OK;
}

/*
 * --ocsp: what the server stapled. A verified "revoked" becomes OpenSSL's own verification
 * result (X509_V_ERR_CERT_REVOKED), so the TLS line, the markers and \tls all say it from one
 * place; without --insecure the connection is closed as for any untrusted certificate. No
 * response, or one that cannot be trusted, is a warning: stapling is the server's choice.
 */
static enum session_status session_check_ocsp(struct smtp_session *s)
{
	struct buf line, detail;
	buf_init(&line);
	buf_init(&detail);
	enum tls_ocsp_result r = tls_ocsp_check(s->conn.ssl, &line, &detail);
	snprintf(s->ocsp_view, sizeof s->ocsp_view, "%s", detail.data ? detail.data : "");
	const char *text = line.data ? line.data : "OCSP: ?";
	enum session_status st = SESSION_OK;
	if (r == TLS_OCSP_REVOKED) {
		SSL_set_verify_result(s->conn.ssl, X509_V_ERR_CERT_REVOKED);
		if (!s->p.insecure) {
			st = session_fail(
			    s, SESSION_ERR_TLS,
			    "TLS certificate of %s not trusted: certificate revoked (%s)", s->host,
			    text);
			session_close(s, true, "connection closed: certificate revoked");
		} else {
			session_notify(s, SEV_WARNING, "%s; going on (--insecure)", text);
		}
	} else if (r == TLS_OCSP_GOOD) {
		session_notify(s, SEV_INFO, "%s", text);
	} else {
		session_notify(s, SEV_WARNING, "%s (--ocsp)", text);
	}
	buf_free(&line);
	buf_free(&detail);
	return st;
}

/* After 220 to STARTTLS: nothing the server sent before our handshake may count (RFC 3207):
   what was buffered is discarded and reported (response injection), the engine forgets the
   plaintext part. */
enum session_status session_upgrade_tls(struct smtp_session *s)
{
	size_t buffered = s->in.len - s->in_off;
	struct buf shown;
	buf_init(&shown);
	escape_append(&shown, s->in.data + s->in_off, buffered > 80 ? 80 : buffered,
		      ESCAPE_DEFAULT);
	buffered += client_tls_reset(&s->c);
	ssize_t later = conn_drain_plain(&s->conn);
	if (later > 0)
		buffered += (size_t)later;
	if (buffered)
		session_notify(
		    s, SEV_WARNING,
		    "discarded %zu bytes the server sent after 220 and before the TLS handshake "
		    "(response injection?)%s%s%s",
		    buffered, shown.len ? ": \"" : "", shown.len ? shown.data : "",
		    shown.len ? "\"" : "");
	buf_free(&shown);
	buf_reset(&s->in);
	s->in_off = 0;
	enum session_status st = session_handshake(s);
	if (st != SESSION_OK)
		return st;
	client_tls_started(&s->c); /* RFC 3207 4.2: the client forgets what it learnt before TLS */
	return SESSION_OK;
}

const char *session_dane(const struct smtp_session *s)
{
	return s->conn.ssl && s->mx.used ? s->mx.result : NULL;
}

bool session_tls(const struct smtp_session *s)
{
	return s->conn.ssl != NULL;
}

struct ssl_st *session_ssl(const struct smtp_session *s)
{
	return s->conn.ssl;
}

bool session_tls_verified(const struct smtp_session *s)
{
	return s->conn.ssl != NULL && s->verified;
}

bool session_tls_client_cert(const struct smtp_session *s)
{
	return s->conn.ssl != NULL && tls_client_cert_sent(s->conn.ssl);
}

void session_tls_summary(const struct smtp_session *s, struct buf *out)
{
	if (s->conn.ssl)
		tls_summary(s->conn.ssl, out);
}

void session_describe_tls(const struct smtp_session *s, struct buf *out)
{
	if (s->conn.fd < 0) {
		buf_puts(out, "not connected");
		return;
	}
	if (!s->conn.ssl) {
		buf_printf(out, "plaintext: nothing protects this session to %s%s%s%s%s",
			   s->conn.unix_socket ? "UNIX socket " : "", s->conn.peer_addr,
			   s->conn.unix_socket ? "" : " port ", s->conn.unix_socket ? "" : s->port,
			   caps_has(&s->c.caps, "STARTTLS") ? " (the server offers STARTTLS)" : "");
		return;
	}
	if (s->conn.unix_socket)
		buf_printf(out, "TLS (%s) over UNIX socket %s\n",
			   s->implicit_tls ? "implicit, from the first byte"
					   : "upgraded by STARTTLS",
			   s->conn.peer_addr);
	else
		buf_printf(out, "TLS (%s) to %s (%s) port %s\n",
			   s->implicit_tls ? "implicit, from the first byte"
					   : "upgraded by STARTTLS",
			   s->host, s->conn.peer_addr, s->port);
	tls_describe(s->conn.ssl, out);
	if (s->mx.used)
		buf_printf(out, "\ndane:         %s (TLSA records of _%s._tcp.%s, RFC 7672)",
			   s->mx.result, s->port, s->mx.tlsa_base);
	buf_puts(out, "\n");
	if (s->ocsp_view[0]) {
		buf_puts(out, s->ocsp_view);
		if (out->len && out->data[out->len - 1] == '\n')
			out->data[--out->len] = '\0';
	} else {
		buf_puts(out, "ocsp:         not asked for (--ocsp, \\connect ... --ocsp)");
	}
}

int session_tls_save(struct smtp_session *s, const char *dir, struct buf *report)
{
	if (!s->conn.ssl) {
		session_fail(s, SESSION_ERR_STATE,
			     "not under TLS: there is no certificate to save");
		return -1;
	}
	char err[512];
	int n = tls_chain_save(s->conn.ssl, dir, report, err, sizeof err);
	if (n < 0)
		session_fail(s, SESSION_ERR_LOCAL, "\\tls save: %s", err);
	return n;
}
