/*
 * PIPELINING (RFC 2920): a group of commands in one write, their replies read in order. Which
 * commands may come before others, and what a refusal after "." means, are the engine's rules
 * (client_pipelinable, client_resend_after_dot); here they are written and waited for.
 */
#include <stdlib.h>
#include <string.h>

#include "smtpsh/session.h"

#include "session_int.h"

/*
 * The server accepted the message and answered 503 to every command pipelined after its "."
 * (Haraka does so on purpose, GHSA-rp4q-8m6x-c43c, although RFC 2920 3.1 allows it): the
 * engine decides so (client_resend_after_dot). Those commands were not run: they are sent
 * again one at a time, and on this connection the "." goes alone from now on. Not pipelining past
 * the "." with every server would cost each message a round trip on servers that allow it (Postfix,
 * most others); learning it from the refusal costs one resend per connection, and nothing is lost:
 * the replies given to the caller are those of the resend.
 */
static enum session_status resend_after_dot(struct smtp_session *s, const char *const *lines,
					    const char *const *shown, size_t n,
					    const struct client_command *o,
					    struct smtp_reply *replies)
{
	s->pipe_resent = true;
	session_notify(
	    s, SEV_WARNING,
	    "the server refused the %zu command%s pipelined after the end of DATA (503): "
	    "sending %s again one at a time; no more pipelining after \".\" on this "
	    "connection",
	    n - 1, n == 2 ? "" : "s", n == 2 ? "it" : "them");
	enum session_status st = SESSION_OK;
	for (size_t i = 1; i < n && st == SESSION_OK; i++)
		st = session_send_command(s, lines[i], shown ? shown[i] : NULL, o[i].v,
					  replies ? &replies[i] : NULL);
	return st;
}

bool session_pipeline_resent(const struct smtp_session *s)
{
	return s->pipe_resent;
}

enum session_status session_pipeline(struct smtp_session *s, const char *const *lines,
				     const char *const *shown, size_t n, struct smtp_reply *replies)
{
	for (size_t i = 0; replies && i < n; i++)
		smtp_reply_clear(&replies[i]);
	if (s->conn.fd < 0)
		return session_fail(s, SESSION_ERR_STATE,
				    "not connected (use \\connect HOST [PORT])");
	/* RFC 2920 3.1: the message content may be the first "command" of a group. */
	bool dot = s->c.phase == PHASE_DATA && n && strcmp(lines[0], ".") == 0;
	if (s->c.phase == PHASE_DATA && !dot)
		return session_fail(s, SESSION_ERR_STATE, "inside DATA: lines are message content");
	if (s->c.in_auth)
		return session_fail(s, SESSION_ERR_STATE,
				    "inside an AUTH exchange: answer the challenge first");
	if (!caps_has(&s->c.caps, "PIPELINING"))
		return session_fail(s, SESSION_ERR_STATE, "the server did not offer PIPELINING%s",
				    s->c.caps.known ? ""
				    : s->lmtp	    ? " (no LHLO reply known: send LHLO first)"
						    : " (no EHLO reply known: send EHLO first)");
	if (n == 0 || n > SESSION_PIPELINE_MAX)
		return session_fail(s, SESSION_ERR_LOCAL,
				    "a pipelined group holds 1 to %d commands",
				    SESSION_PIPELINE_MAX);
	for (size_t i = 0; i < n; i++) {
		enum session_status st = session_check_line(s, lines[i]);
		if (st == SESSION_OK && !(dot && i == 0))
			st = session_check_verb(s, client_classify(lines[i], false));
		if (st != SESSION_OK)
			return st;
		if (i + 1 < n && !session_pipelinable(lines[i]) && !(dot && i == 0))
			return session_fail(
			    s, SESSION_ERR_LOCAL,
			    "%.40s can only end a pipelined group (RFC 2920 3.1): only MAIL, "
			    "RCPT and RSET may come before others",
			    lines[i]);
	}
	s->pipe_resent = false;
	enum session_status st = session_drain(s);
	if (st == SESSION_OK)
		st = session_resync(s);
	if (st != SESSION_OK)
		return st;
	if (s->c.pend_n)
		return session_fail(s, SESSION_ERR_STATE, "the reply to %s has not arrived yet",
				    client_verb_what(client_pending_head(&s->c)->v));
	if (dot && s->c.dot_alone && n > 1) { /* this server wants the end of DATA alone */
		st = session_data_end(s, replies ? &replies[0] : NULL);
		if (st != SESSION_OK)
			return st;
		if (n == 2)
			return session_send_command(s, lines[1], shown ? shown[1] : NULL,
						    client_classify(lines[1], s->c.in_auth),
						    replies ? &replies[1] : NULL);
		return session_pipeline(s, lines + 1, shown ? shown + 1 : NULL, n - 1,
					replies ? replies + 1 : NULL);
	}

	struct client_command *o = calloc(n, sizeof *o);
	int *codes = calloc(n, sizeof *codes);
	struct buf wire;
	buf_init(&wire);
	if (!o || !codes) {
		free(o);
		free(codes);
		return session_fail(s, SESSION_ERR_LOCAL, "out of memory");
	}
	/* the lines gathered, the end of the body (its last line ended), then "." */
	if (dot)
		session_message_finish(&s->msg, &wire);
	for (size_t i = 0; i < n; i++) {
		buf_puts(&wire, lines[i]);
		buf_puts(&wire, "\r\n");
	}
	if (!wire.data) {
		free(o);
		free(codes);
		return session_fail(s, SESSION_ERR_LOCAL, "out of memory");
	}
	session_notify(s, SEV_INFO, "pipelining %zu command%s in one write (%zu byte%s)", n,
		       n == 1 ? "" : "s", wire.len, wire.len == 1 ? "" : "s");
	for (size_t i = 0; i < n; i++)
		client_command(&s->c, &o[i], lines[i], shown ? shown[i] : NULL,
			       dot && i == 0 ? VERB_DOT : client_classify(lines[i], false),
			       (unsigned)(i + 1), (unsigned)n);
	long long t = conn_now_ms();
	st = session_send_bytes(s, wire.data, wire.len);
	buf_free_secret(&wire);
	if (st == SESSION_OK) {
		unsigned long long first = s->c.sent_seq + 1;
		for (size_t i = 0; i < n; i++)
			client_expect(&s->c, &o[i], t, (unsigned)(i + 1), (unsigned)n);
		for (size_t i = 0; i < n; i++) {
			enum session_status r =
			    session_wait_reply(s, first + i, o[i].v, replies ? &replies[i] : NULL);
			if (r != SESSION_OK && st == SESSION_OK)
				st = r;
			if (r != SESSION_OK && r != SESSION_ERR_PROTO)
				break;
			codes[i] = r == SESSION_OK ? s->c.last.code : 0;
		}
		if (st == SESSION_OK && dot && s->conn.fd >= 0 &&
		    client_resend_after_dot(&s->c, codes, n))
			st = resend_after_dot(s, lines, shown, n, o, replies);
	}
	free(codes);
	free(o);
	return st;
}
