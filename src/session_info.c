/* What the shell may ask of a session: its state, its peer, its counters (no I/O here). */
#include "smtpsh/session.h"

#include "session_int.h"

int session_greeting_code(const struct smtp_session *s)
{
	return s->c.greeting;
}

int session_fd(const struct smtp_session *s)
{
	return s->conn.fd;
}

bool session_has_buffered(const struct smtp_session *s)
{
	return conn_has_buffered(&s->conn) || s->in_off < s->in.len;
}

enum smtp_phase session_phase(const struct smtp_session *s)
{
	return s->c.phase;
}

const char *session_phase_name(enum smtp_phase p)
{
	return client_phase_name(p);
}

bool session_connected(const struct smtp_session *s)
{
	return s->conn.fd >= 0;
}

bool session_peer_loopback(const struct smtp_session *s)
{
	return s->conn.unix_socket || conn_addr_is_loopback(s->conn.peer_addr);
}

bool session_in_auth(const struct smtp_session *s)
{
	return s->c.in_auth;
}

bool session_reply_pending(const struct smtp_session *s)
{
	return s->c.pend_n > 0;
}

const char *session_host(const struct smtp_session *s)
{
	return s->host;
}

const char *session_port(const struct smtp_session *s)
{
	return s->port;
}

const struct smtp_caps *session_caps(const struct smtp_session *s)
{
	return &s->c.caps;
}

enum tls_mode session_tls_mode(const struct smtp_session *s)
{
	return s->mode;
}

const char *session_peer_addr(const struct smtp_session *s)
{
	return s->conn.peer_addr;
}

unsigned session_peer_port(const struct smtp_session *s)
{
	return s->conn.peer_port;
}

unsigned long long session_bytes_in(const struct smtp_session *s)
{
	return s->bytes_in;
}

unsigned long long session_bytes_out(const struct smtp_session *s)
{
	return s->bytes_out;
}

int session_timeout_ms(const struct smtp_session *s)
{
	return s->p.timeout_ms;
}

const char *session_cafile(const struct smtp_session *s)
{
	return s->cafile;
}

const char *session_ehlo_name(const struct smtp_session *s)
{
	return s->ehlo_name;
}

enum conn_family session_family(const struct smtp_session *s)
{
	return s->p.family;
}

const char *session_auth_user(const struct smtp_session *s)
{
	return s->c.authed ? s->c.auth_user : NULL;
}

const char *session_auth_mech(const struct smtp_session *s)
{
	return s->c.authed ? s->c.authed_mech : NULL;
}

const char *session_error(const struct smtp_session *s)
{
	return s->err;
}

bool session_lmtp(const struct smtp_session *s)
{
	return s->lmtp;
}

const struct client_txn *session_txn(const struct smtp_session *s)
{
	return client_txn(&s->c);
}

const char *session_hello_verb(const struct smtp_session *s)
{
	return s->lmtp ? "LHLO" : "EHLO";
}

unsigned long session_messages(const struct smtp_session *s)
{
	return s->c.messages;
}
