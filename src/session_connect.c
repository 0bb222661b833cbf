/*
 * How a connection begins: the link (LMTP, a PROXY header, the name TLS checks), the connect
 * itself, the greeting, implicit TLS, and --starttls's EHLO, STARTTLS, handshake and EHLO again.
 */
#include "smtpsh/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_int.h"
#include "smtpsh/proxy.h"
#include "smtpsh/tls.h"

#include <sys/socket.h>

/* ---- how a connection begins ------------------------------------------------------------ */

int session_set_link(struct smtp_session *s, const struct session_link *l)
{
	struct proxy_addr a;
	if (l->proxy_from && proxy_parse_addr(l->proxy_from, &a) < 0) {
		session_fail(s, SESSION_ERR_LOCAL,
			     "--proxy-from needs ADDR:PORT (192.0.2.1:4242 or [2001:db8::1]:4242), "
			     "not '%s'",
			     l->proxy_from);
		return -1;
	}
	if (session_set_tls_controls(s, &l->tls) < 0)
		return -1;
	char *from = l->proxy_from ? strdup(l->proxy_from) : NULL;
	char *sni = l->sni ? strdup(l->sni) : NULL;
	if ((l->proxy_from && !from) || (l->sni && !sni)) {
		free(from);
		free(sni);
		session_fail(s, SESSION_ERR_LOCAL, "out of memory");
		return -1;
	}
	free(s->proxy_from);
	free(s->sni);
	s->proxy_from = from;
	s->sni = sni;
	s->lmtp = l->lmtp;
	s->proxy = l->proxy;
	s->ocsp = l->ocsp;
	s->resume_wanted = l->resume;
	client_set_lmtp(&s->c, l->lmtp);
	return 0;
}

void session_set_lmtp(struct smtp_session *s, bool lmtp)
{
	s->lmtp = lmtp;
	client_set_lmtp(&s->c, lmtp);
}

/*
 * The PROXY protocol header goes first, before the greeting (the server reads it before it
 * says anything): the client it names is --proxy-from, else the connection's real local
 * address, and the server is the real peer. Shown as a local event, decoded for v2.
 */
static enum session_status send_proxy_header(struct smtp_session *s)
{
	struct proxy_addr src, dst;
	proxy_addr_of_socket(s->conn.fd, true, &dst);
	if (s->proxy_from)
		proxy_parse_addr(s->proxy_from, &src); /* checked by session_set_link */
	else
		proxy_addr_of_socket(s->conn.fd, false, &src);
	unsigned char hdr[PROXY_HEADER_MAX];
	size_t n = proxy_build(s->proxy, &src, &dst, hdr);
	if (!n) {
		enum session_status st = session_fail(
		    s, SESSION_ERR_LOCAL,
		    "--proxy-from %s is IPv%c but the connection is IPv%c: a PROXY header names "
		    "two addresses of one family",
		    s->proxy_from, src.family == AF_INET ? '4' : '6',
		    dst.family == AF_INET ? '4' : '6');
		session_close(s, true, "connection closed: no PROXY header could be built");
		return st;
	}
	char what[300];
	proxy_describe(s->proxy, &src, &dst, n, what, sizeof what);
	session_notify(s, SEV_INFO, "%s", what);
	return session_send_bytes(s, hdr, n);
}

/* TLS_STARTTLS: EHLO, STARTTLS, the handshake and EHLO again, or a failure. */
static enum session_status require_starttls(struct smtp_session *s)
{
	char line[300];
	snprintf(line, sizeof line, "%s %s", session_hello_verb(s), s->p.ehlo_name);
	struct smtp_reply rep;
	smtp_reply_init(&rep);
	enum session_status st = session_send_command(s, line, NULL, VERB_EHLO, &rep);
	if (st == SESSION_OK && rep.code != 250) {
		st = session_fail(s, SESSION_ERR_TLS, "%.4s refused (%d): cannot ask for STARTTLS",
				  line, rep.code);
	} else if (st == SESSION_OK && !caps_has(&s->c.caps, "STARTTLS") && s->mx.opportunistic &&
		   !s->mx.n) {
		/* RFC 7435: an MTA without DANE or an MTA-STS policy delivers in plaintext to a
		   server that offers no STARTTLS; the only case where smtpsh goes on without it */
		session_notify(
		    s, SEV_WARNING,
		    "%s does not offer STARTTLS: opportunistic TLS (RFC 7435) goes on in "
		    "plaintext, as a sending MTA would; nothing protects this session",
		    s->host);
		smtp_reply_free(&rep);
		return SESSION_OK;
	} else if (st == SESSION_OK && !caps_has(&s->c.caps, "STARTTLS"))
		st = session_fail(s, SESSION_ERR_TLS,
				  "the server does not offer STARTTLS: stopping here, nothing more "
				  "is sent in plaintext");
	if (st == SESSION_OK)
		st = session_send_command(s, "STARTTLS", NULL, VERB_STARTTLS, &rep);
	if (st == SESSION_OK && rep.code != 220)
		st =
		    session_fail(s, SESSION_ERR_TLS,
				 "the server refused STARTTLS (%d): stopping here, nothing more is "
				 "sent in plaintext",
				 rep.code);
	if (st == SESSION_OK && !s->conn.ssl)
		st = SESSION_ERR_TLS;
	if (st == SESSION_OK)
		st = session_send_command(s, line, NULL, VERB_EHLO, NULL);
	smtp_reply_free(&rep);
	if (st == SESSION_ERR_TLS && s->conn.fd >= 0)
		session_close(s, true, "connection closed: TLS was required");
	return st;
}

/* session_connect's work: connects to addr, while host is the name shown and checked. */
static enum session_status connect_to(struct smtp_session *s, const char *host, const char *addr,
				      const char *port, enum tls_mode mode);

enum session_status session_connect(struct smtp_session *s, const char *host, const char *port,
				    enum tls_mode mode)
{
	session_mx_clear(s);
	return connect_to(s, host, host, port, mode);
}

enum session_status session_connect_mx(struct smtp_session *s, const struct session_mx *mx,
				       const char *port, enum tls_mode mode)
{
	session_mx_clear(s);
	s->mx.on = true;
	s->mx.opportunistic = mx->opportunistic;
	if (mx->ntlsa) {
		s->mx.tlsa_base = strdup(mx->tlsa_base ? mx->tlsa_base : mx->name);
		s->mx.rr = calloc(mx->ntlsa, sizeof *s->mx.rr);
		if (!s->mx.tlsa_base || !s->mx.rr) {
			session_mx_clear(s);
			return session_fail(s, SESSION_ERR_LOCAL, "out of memory");
		}
		for (size_t i = 0; i < mx->ntlsa; i++) {
			unsigned char *d = malloc(mx->tlsa[i].len ? mx->tlsa[i].len : 1);
			if (!d) {
				session_mx_clear(s);
				return session_fail(s, SESSION_ERR_LOCAL, "out of memory");
			}
			memcpy(d, mx->tlsa[i].data, mx->tlsa[i].len);
			s->mx.rr[i] = mx->tlsa[i];
			s->mx.rr[i].data = d;
			s->mx.n++;
		}
	}
	return connect_to(s, mx->name, mx->addr, port, mode);
}

void session_mx_clear(struct smtp_session *s)
{
	for (size_t i = 0; i < s->mx.n; i++)
		free((void *)s->mx.rr[i].data);
	free(s->mx.rr);
	free(s->mx.tlsa_base);
	memset(&s->mx, 0, sizeof s->mx);
}

static enum session_status connect_to(struct smtp_session *s, const char *host, const char *addr,
				      const char *port, enum tls_mode mode)
{
	if (s->conn.fd >= 0)
		session_disconnect(s, "connection closed (new connection)");
	session_reset_connection(s);
	free(s->host);
	s->host = strdup(host);
	if (!s->host)
		return session_fail(s, SESSION_ERR_LOCAL, "out of memory");
	if (!port)
		port = mode == TLS_IMPLICIT ? "465" : mode == TLS_STARTTLS ? "587" : "25";
	snprintf(s->port, sizeof s->port, "%s", port);
	s->mode = mode;
	char err[512] = "";
	session_before_wait(s);
	long long t0 = conn_now_ms();
	s->mx.used = false;
	s->mx.result[0] = '\0';
	int r = conn_connect(&s->conn, addr, port, s->p.family, s->p.timeout_ms, s->intr, err,
			     sizeof err);
	long took = (long)(conn_now_ms() - t0);
	if (r != 0) {
		client_set_phase(&s->c, PHASE_DISCONNECTED);
		return session_fail(s,
				    r == CONN_IO_INTERRUPTED ? SESSION_ERR_INTERRUPTED
				    : r == CONN_IO_TIMEOUT   ? SESSION_ERR_TIMEOUT
							     : SESSION_ERR_NET,
				    "%s", err);
	}
	if (s->conn.unix_socket)
		session_notify_timed(s, took, "connected to UNIX socket %s%s", s->conn.peer_addr,
				     s->lmtp ? " (LMTP)" : "");
	else if (strcmp(host, s->conn.peer_addr) == 0)
		session_notify_timed(s, took, "connected to %s port %u", s->conn.peer_addr,
				     s->conn.peer_port);
	else
		session_notify_timed(s, took, "connected to %s (%s) port %u", host,
				     s->conn.peer_addr, s->conn.peer_port);
	client_set_phase(&s->c, PHASE_GREETING);
	enum session_status st = s->proxy ? send_proxy_header(s) : SESSION_OK;
	s->implicit_tls = mode == TLS_IMPLICIT;
	if (st == SESSION_OK && mode == TLS_IMPLICIT)
		st = session_handshake(s);
	if (st == SESSION_OK) {
		client_connected(&s->c, conn_now_ms());
		st = session_wait_reply(s, s->c.sent_seq, VERB_GREETING, NULL);
		if (st == SESSION_OK && mode == TLS_STARTTLS && s->c.greeting >= 400) {
			/* no EHLO, no STARTTLS to a server that refused us */
			st = session_fail(s, SESSION_ERR_REFUSED,
					  "the server refused the session (%d): stopping before "
					  "STARTTLS, nothing is sent",
					  s->c.greeting);
			session_close(s, true, "connection closed: the session was refused");
		} else if (st == SESSION_OK && mode == TLS_STARTTLS) {
			st = require_starttls(s);
		}
	}
	if (st == SESSION_OK)
		return st;
	if (s->conn.fd >= 0 && st != SESSION_ERR_PROTO && st != SESSION_ERR_TIMEOUT &&
	    st != SESSION_ERR_INTERRUPTED)
		session_close(s, true, s->err);
	if (st == SESSION_ERR_TIMEOUT || st == SESSION_ERR_INTERRUPTED)
		session_close(s, true, "connection abandoned");
	if (s->c.phase == PHASE_CLOSED)
		client_set_phase(&s->c, PHASE_DISCONNECTED);
	return st;
}
