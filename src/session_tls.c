/*
 * TLS on the session's connection: the handshake (implicit TLS from the first byte, or after
 * 220 to STARTTLS) and what the shell may know of it. The certificate checks are OpenSSL's
 * (net/tls.c); the SSL object stays here, behind session_tls_summary() and
 * session_describe_tls().
 */
#include <stdio.h>

#include "smtpsh/session.h"

#include "session_int.h"
#include "smtpsh/dane.h"
#include "smtpsh/escape.h"
#include "smtpsh/tls.h"

/* ---- TLS --------------------------------------------------------------------------------- */

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

enum session_status session_handshake(struct smtp_session *s)
{
	char err[512] = "";
	if (!s->ctx) {
		struct tls_options opt = {.cafile = s->p.cafile, .insecure = s->p.insecure};
		s->ctx = tls_context_new(&opt, err, sizeof err);
		struct buf e;
		buf_init(&e);
		/* DANE needs the context's digest tables (once per context); an SSL that gets no
		   TLSA records verifies as before */
		if (s->ctx && dane_ctx_enable(s->ctx, &e) < 0) {
			snprintf(err, sizeof err, "%s", e.data ? e.data : "cannot enable DANE");
			SSL_CTX_free(s->ctx);
			s->ctx = NULL;
		}
		buf_free(&e);
		if (!s->ctx) {
			enum session_status st = session_fail(s, SESSION_ERR_TLS, "%s", err);
			session_close(s, true, "TLS could not be set up");
			return st;
		}
	}
	session_before_wait(s);
	long long t0 = conn_now_ms();
	/* Over a UNIX socket there is no host name to check but the one --sni gives. */
	const char *name = s->conn.unix_socket ? s->sni : s->host;
	s->mx.used = false;
	int r = tls_handshake_with(&s->conn, s->ctx, name, s->mx.n ? dane_setup : NULL, s,
				   s->p.timeout_ms, s->intr, err, sizeof err);
	long took = (long)(conn_now_ms() - t0);
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
	s->verified = tls_verified(s->conn.ssl);
	struct buf sum;
	buf_init(&sum);
	tls_summary(s->conn.ssl, &sum);
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

bool session_tls_verified(const struct smtp_session *s)
{
	return s->conn.ssl != NULL && s->verified;
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
		buf_printf(out, "plaintext: nothing protects this session to %s port %s%s",
			   s->conn.peer_addr, s->port,
			   caps_has(&s->c.caps, "STARTTLS") ? " (the server offers STARTTLS)" : "");
		return;
	}
	buf_printf(out, "TLS (%s) to %s (%s) port %s\n",
		   s->implicit_tls ? "implicit, from the first byte" : "upgraded by STARTTLS",
		   s->host, s->conn.peer_addr, s->port);
	tls_describe(s->conn.ssl, out);
	if (s->mx.used)
		buf_printf(out, "\nDANE:      %s (TLSA records of _%s._tcp.%s, RFC 7672)",
			   s->mx.result, s->port, s->mx.tlsa_base);
}
