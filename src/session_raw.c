/*
 * Raw writes (\raw, and a command written with its octets, as --replay sends a BDAT chunk) and
 * the way back in step: after raw bytes nobody knows how many replies are owed, so the session
 * waits until the line is quiet and the engine says which replies answered what
 * (client_probe_end).
 */
#include "smtpsh/session.h"

#include <stdio.h>
#include <string.h>

#include "session_int.h"

enum session_status session_resync(struct smtp_session *s)
{
	if (!s->c.out_of_step)
		return SESSION_OK;
	/*
	 * Raw bytes owe an unknown number of replies. The way back is the clock: once the server
	 * has said nothing for a moment (and is not in the middle of a reply), every reply the
	 * raw bytes caused has arrived, and the next one answers the next command. A server that
	 * keeps talking is bounded by the timeout, as an unasked flood is in drain_some.
	 */
	long long deadline = conn_now_ms() + s->p.timeout_ms;
	long long quiet_until = conn_now_ms() + SESSION_QUIET_MS;
	for (;;) {
		while (s->in_off < s->in.len) {
			bool done;
			enum session_status st = session_feed(s, &done);
			if (st == SESSION_ERR_TLS || st == SESSION_ERR_LOCAL || s->conn.fd < 0)
				return st == SESSION_OK ? SESSION_ERR_NET : st;
		}
		client_report_hidden(&s->c);
		if (s->conn.fd < 0)
			return SESSION_ERR_NET;
		long long now = conn_now_ms();
		if (now >= deadline) {
			enum session_status st = session_fail(
			    s, SESSION_ERR_PROTO,
			    "still out of step: the server did not stop sending (or left a reply "
			    "unfinished) for %d s after the raw bytes; connection closed",
			    (s->p.timeout_ms + 999) / 1000);
			session_close(s, true, "connection closed: never back in step");
			return st;
		}
		size_t before = s->in.len;
		enum session_status st =
		    session_read_some(s, client_mid_reply(&s->c) ? deadline : quiet_until);
		if (st == SESSION_ERR_TIMEOUT && !client_mid_reply(&s->c) && now < deadline)
			break; /* quiet */
		if (st == SESSION_ERR_TIMEOUT)
			continue; /* the deadline check above ends it */
		if (st == SESSION_ERR_INTERRUPTED) {
			snprintf(s->err, sizeof s->err,
				 "interrupted while waiting for the server to be quiet after raw "
				 "bytes (still out of step)");
			return st;
		}
		if (st != SESSION_OK)
			return st;
		if (s->in.len != before)
			quiet_until = conn_now_ms() + SESSION_QUIET_MS;
	}
	client_resync(&s->c, SESSION_QUIET_MS);
	return SESSION_OK;
}

/*
 * Out of step, a command was written (client.h: the probe): every reply is shown as it comes;
 * once at least one came and the line has been quiet for SESSION_QUIET_MS, the last one is
 * the command's (the server answers in order), and the engine is back in step.
 */
enum session_status session_wait_probe(struct smtp_session *s, enum client_verb v,
				       struct smtp_reply *reply)
{
	long long deadline = conn_now_ms() + s->p.timeout_ms;
	long long quiet_until = -1;
	for (;;) {
		while (s->in_off < s->in.len) {
			bool done;
			enum session_status st = session_feed(s, &done);
			if (st == SESSION_ERR_TLS || st == SESSION_ERR_LOCAL || s->conn.fd < 0)
				break;
		}
		if (s->conn.fd < 0)
			return v == VERB_QUIT ? SESSION_OK : SESSION_ERR_NET;
		bool mid = client_mid_reply(&s->c);
		enum session_status st = session_read_some(
		    s, s->c.probe_replies && !mid && quiet_until >= 0 ? quiet_until : deadline);
		if (st == SESSION_ERR_TIMEOUT && s->c.probe_replies && !mid &&
		    conn_now_ms() < deadline)
			break; /* quiet after the last reply */
		if (st == SESSION_ERR_TIMEOUT) {
			st = session_fail(s, st,
					  "no reply to %s within %d s (out of step after raw "
					  "bytes)",
					  client_verb_what(v), (s->p.timeout_ms + 999) / 1000);
			session_abandon_stream(s);
			return st;
		}
		if (st == SESSION_ERR_INTERRUPTED) {
			snprintf(
			    s->err, sizeof s->err,
			    "interrupted while waiting for the reply to %s (still out of step)",
			    client_verb_what(v));
			session_abandon_stream(s);
			return st;
		}
		if (st != SESSION_OK)
			return st;
		quiet_until = conn_now_ms() + SESSION_QUIET_MS;
	}
	struct client_result res;
	enum session_status st = session_carry_out(s, client_probe_end(&s->c, &res));
	if (reply)
		smtp_reply_copy(reply, &s->c.last);
	return st;
}

bool session_out_of_step(const struct smtp_session *s)
{
	return s->c.out_of_step;
}

bool session_raw_auth_open(const struct smtp_session *s)
{
	return s->c.raw_auth_open;
}

enum session_status session_raw(struct smtp_session *s, const char *data, size_t len, bool reveal)
{
	if (s->conn.fd < 0)
		return session_fail(s, SESSION_ERR_STATE,
				    "not connected (use \\connect HOST [PORT])");
	if (!len)
		return session_fail(s, SESSION_ERR_LOCAL, "nothing to send");
	enum session_status st = SESSION_OK;
	if (s->c.phase == PHASE_DATA)
		st = session_flush(s); /* the lines typed before go first */
	else
		st = session_drain(s); /* what came unasked is not a reply to these bytes */
	if (st != SESSION_OK)
		return st;
	client_raw(&s->c, data, len, reveal);
	return session_send_bytes(s, data, len);
}
