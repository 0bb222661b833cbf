/*
 * The session as an I/O driver: it owns the connection, the waits (bounded by the timeout,
 * cut short by the interrupt flag) and the writes, feeds every byte it reads to the client
 * engine (smtp/client.c) and carries out the engine's actions (close after 221, the TLS
 * handshake after 220 to STARTTLS, a new message after 354). The protocol itself (the phase,
 * the replies owed, what a reply means, secrets) is the engine's. TLS: session_tls.c; message
 * content: session_data.c; pipelined groups: session_pipe.c; queries: session_info.c; how a
 * connection begins: session_connect.c; raw writes and getting back in step: session_raw.c.
 */
#include "smtpsh/session.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_int.h"
#include "smtpsh/escape.h"

#define READ_CHUNK (16 * 1024)

/* ---- events ---------------------------------------------------------------------------- */

void session_before_wait(struct smtp_session *s)
{
	if (s->p.before_wait)
		s->p.before_wait(s->p.before_wait_arg);
}

void session_emit(struct smtp_session *s, struct session_event *ev)
{
	ev->tls = s->conn.ssl != NULL;
	ev->verified = ev->tls && s->verified;
	ev->host = s->host;
	ev->port = s->port;
	ev->mode = s->mode;
	ev->connected = s->conn.fd >= 0;
	ev->lmtp = s->lmtp;
	for (size_t i = 0; i < s->nlisteners; i++)
		if (!ev->quiet || s->listeners[i].wants_quiet)
			s->listeners[i].fn(ev, s->listeners[i].arg);
}

__attribute__((format(printf, 4, 0))) static void
vnotify(struct smtp_session *s, enum session_event_type type, long ms, const char *fmt, va_list ap)
{
	char msg[1024];
	vsnprintf(msg, sizeof msg, fmt, ap);
	struct session_event ev = {.type = type, .text = msg, .len = strlen(msg), .elapsed_ms = ms};
	session_emit(s, &ev);
}

void session_notify(struct smtp_session *s, enum session_event_type type, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vnotify(s, type, -1, fmt, ap);
	va_end(ap);
}

/* An info event that carries a duration (connect time). */
__attribute__((format(printf, 3, 4))) void session_notify_timed(struct smtp_session *s, long ms,
							       const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vnotify(s, SEV_INFO, ms, fmt, ap);
	va_end(ap);
}

enum session_status session_fail(struct smtp_session *s, enum session_status st, const char *fmt,
				 ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->err, sizeof s->err, fmt, ap);
	va_end(ap);
	struct session_event ev = {
	    .type = SEV_ERROR, .text = s->err, .len = strlen(s->err), .elapsed_ms = -1};
	session_emit(s, &ev);
	return st;
}

/* The engine's events: its errors (protocol errors) are the session's last failure too. */
static void on_engine_event(struct session_event *ev, void *arg)
{
	struct smtp_session *s = arg;
	if (ev->type == SEV_ERROR) {
		snprintf(s->err, sizeof s->err, "%.*s", (int)ev->len, ev->text);
		ev->text = s->err;
		ev->len = strlen(s->err);
	}
	session_emit(s, ev);
}

/* ---- life cycle ------------------------------------------------------------------------ */

struct smtp_session *session_new(const struct session_params *params)
{
	struct smtp_session *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->p = *params;
	s->cafile = params->cafile ? strdup(params->cafile) : NULL;
	s->ehlo_name = strdup(params->ehlo_name ? params->ehlo_name : "localhost");
	s->p.cafile = s->cafile;
	s->p.ehlo_name = s->ehlo_name;
	if (s->p.timeout_ms <= 0)
		s->p.timeout_ms = 30000;
	conn_init(&s->conn);
	buf_init(&s->in);
	session_message_init(&s->msg);
	client_init(&s->c, on_engine_event, NULL, s);
	if (!s->ehlo_name || (params->cafile && !s->cafile)) {
		session_free(s);
		return NULL;
	}
	return s;
}

int session_set_hello(struct smtp_session *s, const char *ehlo_name, int timeout_ms)
{
	char *copy = strdup(ehlo_name ? ehlo_name : "localhost");
	if (!copy) {
		snprintf(s->err, sizeof s->err, "out of memory");
		return -1;
	}
	free(s->ehlo_name);
	s->ehlo_name = copy;
	s->p.ehlo_name = copy;
	s->p.timeout_ms = timeout_ms > 0 ? timeout_ms : 30000;
	return 0;
}

void session_reset_connection(struct smtp_session *s)
{
	buf_reset(&s->in);
	s->in_off = 0;
	client_reset(&s->c);
	s->verified = false;
	s->bytes_in = s->bytes_out = 0;
	session_message_drop(&s->msg);
	s->chunk = (struct session_chunk){0};
}

void session_free(struct smtp_session *s)
{
	if (!s)
		return;
	conn_close(&s->conn, true);
	if (s->ctx)
		SSL_CTX_free(s->ctx);
	client_free(&s->c);
	buf_free(&s->in);
	session_message_free(&s->msg);
	buf_free(&s->bview.line);
	free(s->cafile);
	free(s->ehlo_name);
	free(s->host);
	free(s->proxy_from);
	free(s->sni);
	session_free_tls_controls(s);
	SSL_SESSION_free(s->resume_sess);
	free(s->resume_host);
	session_mx_clear(s);
	free(s);
}

static int add_listener(struct smtp_session *s, session_listener fn, session_quiet_query wants,
			void *arg)
{
	if (s->nlisteners == SESSION_LISTENERS_MAX)
		return -1;
	s->listeners[s->nlisteners++] = (struct listener){fn, wants, arg};
	return 0;
}

int session_add_listener(struct smtp_session *s, session_listener fn, void *arg)
{
	return add_listener(s, fn, NULL, arg);
}

int session_add_quiet_listener(struct smtp_session *s, session_listener fn,
			       session_quiet_query wants, void *arg)
{
	return add_listener(s, fn, wants, arg);
}

bool session_quiet_wanted(const struct smtp_session *s)
{
	for (size_t i = 0; i < s->nlisteners; i++)
		if (s->listeners[i].wants_quiet && s->listeners[i].wants_quiet(s->listeners[i].arg))
			return true;
	return false;
}

void session_set_interrupt(struct smtp_session *s, volatile sig_atomic_t *flag)
{
	s->intr = flag;
}

void session_close(struct smtp_session *s, bool abrupt, const char *reason)
{
	if (s->conn.fd < 0)
		return;
	conn_close(&s->conn, abrupt);
	session_reset_connection(s);
	client_set_phase(&s->c, PHASE_CLOSED);
	struct session_event ev = {
	    .type = SEV_CLOSED, .text = reason, .len = strlen(reason), .elapsed_ms = -1};
	session_emit(s, &ev);
}

void session_disconnect(struct smtp_session *s, const char *why)
{
	session_close(s, false, why ? why : "connection closed");
	if (s->c.phase == PHASE_CLOSED)
		client_set_phase(&s->c, PHASE_DISCONNECTED);
}

/* ---- reading replies --------------------------------------------------------------------- */

/*
 * Feeds the buffered input to the engine up to the end of at most one reply and carries out
 * what that reply asks. *done is set when a reply completed. SESSION_ERR_PROTO: a malformed
 * reply (the engine reported it).
 */
enum session_status session_carry_out(struct smtp_session *s, enum client_action a)
{
	switch (a) {
	case CLIENT_NONE:
	case CLIENT_REPLY:
		break;
	case CLIENT_START_DATA:
		session_message_start(&s->msg);
		break;
	case CLIENT_UPGRADE_TLS:
		return session_upgrade_tls(s);
	case CLIENT_NEW_GREETING: /* the engine forgot the capabilities and reported it */
		break;
	case CLIENT_CLOSE:
		session_close(s, false, "connection closed after QUIT");
		return SESSION_OK;
	case CLIENT_PROTO_ERROR:
		return SESSION_ERR_PROTO;
	case CLIENT_ABORT:
		session_close(s, true, "connection closed: a reply that did not end");
		return SESSION_ERR_PROTO;
	}
	return SESSION_OK;
}

enum session_status session_feed(struct smtp_session *s, bool *done)
{
	struct client_result res;
	size_t used = 0;
	enum client_action a = client_recv(&s->c, s->in.data + s->in_off, s->in.len - s->in_off,
					   &used, conn_now_ms(), &res);
	s->in_off += used;
	*done = res.done;
	enum session_status st = session_carry_out(s, a);
	if (a == CLIENT_UPGRADE_TLS || a == CLIENT_CLOSE || a == CLIENT_PROTO_ERROR ||
	    a == CLIENT_ABORT)
		return st;
	if (s->in_off == s->in.len) {
		buf_reset(&s->in);
		s->in_off = 0;
	}
	return st;
}

static enum session_status on_eof(struct smtp_session *s)
{
	enum session_status st;
	/* Out of step, replies came after the command and then the end: the last of them was
	   the command's (the server answered in order, then closed), as when the line goes
	   quiet. */
	if (s->c.probing && s->c.probe_replies && !client_mid_reply(&s->c)) {
		struct client_result res;
		client_probe_end(&s->c, &res);
	}
	const struct client_pending *pd = client_pending_head(&s->c);
	if (reply_parser_busy(&s->c.parser))
		st = session_fail(s, SESSION_ERR_NET,
				  "the server closed the connection in the middle of a reply");
	else if (!pd && s->c.phase == PHASE_DATA)
		st = session_fail(s, SESSION_ERR_NET,
				  "the server closed the connection in the middle of the message: "
				  "it was not sent");
	else if (pd && pd->v != VERB_QUIT)
		st = session_fail(s, SESSION_ERR_NET,
				  "the server closed the connection without replying to %s",
				  client_verb_what(pd->v));
	else {
		snprintf(s->err, sizeof s->err, "the server closed the connection");
		st = pd ? SESSION_OK : SESSION_ERR_NET;
		session_close(s, true, s->err);
		return st;
	}
	session_close(s, true, "connection closed");
	return st;
}

/* Reads what is available into s->in; waits until deadline_ms (-1: no wait). */
enum session_status session_read_some(struct smtp_session *s, long long deadline_ms)
{
	for (;;) {
		/*
		 * Checked before every read, not only when the socket is empty: a server that
		 * never stops sending (an endless reply, a line without end) must not keep us
		 * reading past the deadline or past a Ctrl-C.
		 */
		if (deadline_ms >= 0 && s->intr && *s->intr)
			return SESSION_ERR_INTERRUPTED;
		if (deadline_ms >= 0 && conn_now_ms() >= deadline_ms)
			return SESSION_ERR_TIMEOUT;
		if (buf_reserve(&s->in, READ_CHUNK) < 0)
			return session_fail(s, SESSION_ERR_LOCAL, "out of memory");
		char err[256] = "";
		ssize_t n =
		    conn_read(&s->conn, s->in.data + s->in.len, READ_CHUNK, err, sizeof err);
		if (n > 0) {
			s->in.len += (size_t)n;
			s->bytes_in += (unsigned long long)n;
			s->in.data[s->in.len] = '\0';
			return SESSION_OK;
		}
		if (n == CONN_IO_EOF)
			return on_eof(s);
		if (n == CONN_IO_ERROR) {
			enum session_status st = session_fail(s, SESSION_ERR_NET, "%s", err);
			session_close(s, true, err);
			return st;
		}
		/* CONN_IO_AGAIN */
		if (deadline_ms < 0)
			return SESSION_OK;
		session_before_wait(s);
		long long left = deadline_ms - conn_now_ms();
		int w = left <= 0 ? CONN_IO_TIMEOUT
				  : conn_wait(&s->conn, (short)s->conn.want, (int)left, s->intr);
		if (w == CONN_IO_TIMEOUT)
			return SESSION_ERR_TIMEOUT;
		if (w == CONN_IO_INTERRUPTED)
			return SESSION_ERR_INTERRUPTED;
	}
}

/* Is the server in the middle of a reply (begun, or bytes read and not parsed yet)? */
static bool mid_reply(const struct smtp_session *s)
{
	return client_mid_reply(&s->c) || s->in_off < s->in.len;
}

/*
 * A wait ended (timeout, Ctrl-C) while the server was still sending: whatever comes next
 * could not be told from the rest of that reply, so the connection is closed rather than
 * left to a stream that may never end.
 */
void session_abandon_stream(struct smtp_session *s)
{
	if (s->conn.fd >= 0 && mid_reply(s))
		session_close(s, true, "connection closed: the server was still sending");
}

enum session_status session_wait_reply(struct smtp_session *s, unsigned long long seq,
				       enum client_verb v, struct smtp_reply *reply)
{
	long long deadline = conn_now_ms() + s->p.timeout_ms;
	enum session_status result = SESSION_OK;
	bool closed_by_reply = false; /* 221 to QUIT: the reply closed the connection */
	for (;;) {
		while (s->in_off < s->in.len && s->c.done_seq < seq) {
			bool done;
			enum session_status st = session_feed(s, &done);
			if (st != SESSION_OK && s->c.done_seq >= seq)
				result = st; /* our own reply was the broken one */
			if (st == SESSION_ERR_TLS || st == SESSION_ERR_LOCAL)
				return st;
			if (st == SESSION_ERR_PROTO && s->conn.fd < 0)
				return st; /* a reply that did not end closed the connection */
			if (done && s->conn.fd < 0 && v == VERB_QUIT && st == SESSION_OK) {
				closed_by_reply = true; /* closing reset the sequence numbers */
				break;
			}
		}
		if (s->c.done_seq >= seq || closed_by_reply)
			break;
		if (s->conn.fd < 0) {
			if (v == VERB_QUIT)
				return SESSION_OK;
			return SESSION_ERR_NET; /* on_eof or a read error said why */
		}
		enum session_status st = session_read_some(s, deadline);
		size_t got, want;
		if (st == SESSION_ERR_TIMEOUT && (v == VERB_DOT || v == VERB_BDAT) &&
		    client_dot_replies(&s->c, &got, &want) && got) {
			/* RFC 2033 4.2 (4.3 for BDAT LAST): one reply per accepted recipient. A
			   later reply could not be told from the next command's: the connection
			   goes. */
			st = session_fail(
			    s, SESSION_ERR_PROTO,
			    "protocol error: the LMTP server sent %zu of the %zu replies "
			    "owed to %s (one per accepted recipient, RFC 2033 %s) and no more "
			    "within %d s; connection closed",
			    got, want, v == VERB_DOT ? "the end of DATA" : "BDAT LAST",
			    v == VERB_DOT ? "4.2" : "4.3", (s->p.timeout_ms + 999) / 1000);
			session_close(s, true, "connection closed: replies missing");
			return st;
		}
		if (st == SESSION_ERR_TIMEOUT) {
			st = session_fail(s, st, "no reply to %s within %d s%s",
					  client_verb_what(v), (s->p.timeout_ms + 999) / 1000,
					  mid_reply(s) ? " (the server was still sending it)" : "");
			session_abandon_stream(s);
			return st;
		}
		if (st == SESSION_ERR_INTERRUPTED) {
			/* the command as the screen showed it (secrets masked), so that a
			   Ctrl-C says which of several typed commands it gave up on */
			const struct client_pending *pd = client_pending_head(&s->c);
			struct buf what;
			buf_init(&what);
			if (pd && pd->shown[0]) {
				buf_putc(&what, '"');
				escape_append(&what, pd->shown, strlen(pd->shown), ESCAPE_DEFAULT);
				buf_putc(&what, '"');
			}
			snprintf(s->err, sizeof s->err,
				 "interrupted while waiting for the reply to %s",
				 what.len ? what.data : client_verb_what(v));
			buf_free(&what);
			session_abandon_stream(s);
			return st;
		}
		if (st != SESSION_OK)
			return st;
	}
	if (reply)
		smtp_reply_copy(reply, result == SESSION_OK ? &s->c.last : &s->c.cur);
	return result;
}

/* Shows what the server sent unasked (before a command, so it is not taken as its reply). */
enum session_status session_drain_some(struct smtp_session *s)
{
	/* Bounded like a wait for a reply: a server that sends without end must not hold the
	   shell here (the REPL is not reading the terminal meanwhile). */
	long long deadline = conn_now_ms() + s->p.timeout_ms;
	unsigned reads = 0;
	for (;;) {
		enum session_status st = SESSION_OK;
		while (st == SESSION_OK && s->in_off < s->in.len) {
			bool done;
			st = session_feed(s, &done);
			if (!done)
				break;
		}
		if (s->conn.fd < 0)
			return SESSION_ERR_NET;
		size_t before = s->in.len;
		st = session_read_some(s, -1);
		if (st != SESSION_OK)
			return st;
		if (s->in.len == before)
			return SESSION_OK;
		/* A Ctrl-C counts here once the server has been sending for more than one read:
		   one pressed at the prompt as a line arrives is the REPL's. */
		bool intr = ++reads > 1 && s->intr && *s->intr;
		if (intr || conn_now_ms() >= deadline) {
			st =
			    intr
				? session_fail(s, SESSION_ERR_INTERRUPTED,
					       "interrupted while the server kept sending unasked; "
					       "connection closed")
				: session_fail(
				      s, SESSION_ERR_PROTO,
				      "protocol error: the server kept sending unasked for "
				      "%d s; connection closed",
				      (s->p.timeout_ms + 999) / 1000);
			session_close(s, true,
				      "connection closed: the server did not stop sending");
			return st;
		}
	}
}

enum session_status session_drain(struct smtp_session *s)
{
	enum session_status st = session_drain_some(s);
	client_report_hidden(&s->c);
	return st;
}

enum session_status session_poll(struct smtp_session *s)
{
	if (s->conn.fd < 0)
		return SESSION_OK;
	enum session_status st = session_drain(s);
	return st == SESSION_ERR_NET && s->conn.fd < 0 ? SESSION_OK : st;
}

/* ---- sending ----------------------------------------------------------------------------- */

enum session_status session_send_bytes(struct smtp_session *s, const void *data, size_t len)
{
	char err[256] = "";
	int r = conn_write_all(&s->conn, data, len, s->p.timeout_ms, s->intr, err, sizeof err);
	if (r == 0) {
		s->bytes_out += len;
		return SESSION_OK;
	}
	if (r == CONN_IO_INTERRUPTED)
		return session_fail(s, SESSION_ERR_INTERRUPTED, "%s; the connection is closed",
				    err);
	enum session_status st =
	    session_fail(s, r == CONN_IO_TIMEOUT ? SESSION_ERR_TIMEOUT : SESSION_ERR_NET, "%s",
			 r == CONN_IO_EOF ? "the server closed the connection" : err);
	session_close(s, true, s->err);
	return st;
}

/*
 * Commands the session refuses to send in its present state, whoever asks (REPL, batch,
 * --replay, a pipelined group). RFC 3207 4.2: "A client MUST NOT attempt to start a TLS
 * session if a TLS session is already active." Sent anyway, a 220 would start a second
 * handshake on the raw socket under the first TLS layer.
 */
enum session_status session_check_verb(struct smtp_session *s, enum client_verb v)
{
	/* RFC 3030 2: the chunk's octets follow the command at once, with no reply between;
	   as a command line waiting for its reply, it would wait for ever (session_bdat_*). */
	if (v == VERB_BDAT)
		return session_fail(
		    s, SESSION_ERR_STATE,
		    "BDAT is followed by its chunk's octets: it cannot go as a plain "
		    "command (\\bdat, or BDAT typed in the shell, sends chunks)");
	if (v == VERB_STARTTLS && s->conn.ssl)
		return session_fail(s, SESSION_ERR_STATE,
				    "STARTTLS not sent: this connection is already encrypted with "
				    "TLS (RFC 3207 4.2: no STARTTLS inside TLS)");
	return SESSION_OK;
}

enum session_status session_check_line(struct smtp_session *s, const char *line)
{
	size_t len = strlen(line);
	if (len + 2 > READ_CHUNK * 4)
		return session_fail(s, SESSION_ERR_LOCAL, "command too long (%zu bytes)", len);
	if (strpbrk(line, "\r\n"))
		return session_fail(s, SESSION_ERR_LOCAL, "a command cannot contain CR or LF");
	return SESSION_OK;
}

enum session_status session_send_command(struct smtp_session *s, const char *line,
					 const char *shown, enum client_verb v,
					 struct smtp_reply *reply)
{
	enum session_status st = session_check_line(s, line);
	if (st != SESSION_OK)
		return st;
	size_t len = strlen(line);
	char *wire = malloc(len + 3);
	if (!wire)
		return session_fail(s, SESSION_ERR_LOCAL, "out of memory");
	memcpy(wire, line, len);
	memcpy(wire + len, "\r\n", 3);
	struct client_command o;
	client_command(&s->c, &o, line, shown, v, 0, 0);
	long long t = conn_now_ms();
	st = session_send_bytes(s, wire, len + 2);
	OPENSSL_cleanse(wire, len + 2);
	free(wire);
	if (st != SESSION_OK)
		return st;
	client_expect(&s->c, &o, t, 0, 0);
	if (s->c.probing)
		return session_wait_probe(s, v, reply);
	return session_wait_reply(s, s->c.sent_seq, v, reply);
}

void session_emit_chunk(struct smtp_session *s, const char *data, size_t len,
			unsigned long long *reported, bool quiet)
{
	size_t room = *reported < SESSION_CHUNK_SHOWN ? SESSION_CHUNK_SHOWN - *reported : 0;
	size_t shown = len < room ? len : room;
	for (size_t pos = 0; pos < shown;) {
		const char *lf = memchr(data + pos, '\n', shown - pos);
		size_t end = lf ? (size_t)(lf - data) + 1 : shown;
		struct session_event ev = {.type = SEV_SENT,
					   .text = data + pos,
					   .len = end - pos,
					   .elapsed_ms = -1,
					   .chunk = true,
					   .quiet = quiet,
					   .octets = end - pos};
		session_emit(s, &ev);
		pos = end;
	}
	*reported += shown;
}

void session_emit_chunk_omitted(struct smtp_session *s, unsigned long long n, bool quiet)
{
	if (!n)
		return;
	struct session_event ev = {.type = SEV_SENT,
				   .text = "",
				   .elapsed_ms = -1,
				   .chunk = true,
				   .quiet = quiet,
				   .chunk_omitted = n};
	session_emit(s, &ev);
}

enum session_status session_command_payload(struct smtp_session *s, const char *line,
					    const char *data, size_t len, struct smtp_reply *reply)
{
	if (reply)
		smtp_reply_clear(reply);
	if (s->conn.fd < 0)
		return session_fail(s, SESSION_ERR_STATE,
				    "not connected (use \\connect HOST [PORT])");
	if (s->c.phase == PHASE_DATA)
		return session_fail(s, SESSION_ERR_STATE, "inside DATA: lines are message content");
	enum session_status st = session_drain(s);
	if (st == SESSION_OK)
		st = session_check_line(s, line);
	if (st != SESSION_OK)
		return st;
	enum client_verb v = client_classify(line, s->c.in_auth);
	struct client_command o;
	client_command(&s->c, &o, line, NULL, v, 0, 0);
	unsigned long long reported = 0;
	session_emit_chunk(s, data, len, &reported, false);
	session_emit_chunk_omitted(s, len - reported, false);
	size_t n = strlen(line);
	char *wire = malloc(n + 2 + len);
	if (!wire)
		return session_fail(s, SESSION_ERR_LOCAL, "out of memory");
	memcpy(wire, line, n);
	memcpy(wire + n, "\r\n", 2);
	if (len)
		memcpy(wire + n + 2, data, len);
	long long t = conn_now_ms();
	st = session_send_bytes(s, wire, n + 2 + len);
	free(wire);
	if (st != SESSION_OK)
		return st;
	client_expect(&s->c, &o, t, 0, 0);
	if (s->c.probing)
		return session_wait_probe(s, v, reply);
	return session_wait_reply(s, s->c.sent_seq, v, reply);
}

bool session_is_data(const char *line)
{
	return client_classify(line, false) == VERB_DATA;
}

bool session_pipelinable(const char *line)
{
	return client_pipelinable(line);
}

enum session_status session_command(struct smtp_session *s, const char *line, const char *shown,
				    struct smtp_reply *reply)
{
	if (reply)
		smtp_reply_clear(reply);
	if (s->conn.fd < 0)
		return session_fail(s, SESSION_ERR_STATE,
				    "not connected (use \\connect HOST [PORT])");
	if (s->c.phase == PHASE_DATA)
		return session_fail(s, SESSION_ERR_STATE, "inside DATA: lines are message content");
	if (s->chunk.open)
		return session_fail(s, SESSION_ERR_STATE,
				    "inside a BDAT chunk: %llu more octets of it are owed",
				    s->chunk.left);
	enum session_status st = session_drain(s);
	if (st != SESSION_OK)
		return st;
	enum client_verb v = client_classify(line, s->c.in_auth);
	st = session_check_verb(s, v);
	if (st != SESSION_OK)
		return st;
	const struct client_pending *pd = client_pending_head(&s->c);
	if (pd)
		session_notify(
		    s, SEV_WARNING,
		    "the reply to %s has not arrived yet: the next reply shown answers it "
		    "first",
		    client_verb_what(pd->v));
	return session_send_command(s, line, shown, v, reply);
}
