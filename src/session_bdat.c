/*
 * BDAT (RFC 3030): the message as chunks of an exact octet count. The engine knows what the
 * replies mean (the BDAT phase, LAST, a refused chunk); here the command line and its octets
 * are written, shown as body lines, and the replies waited for, one chunk at a time or several
 * in flight where PIPELINING is offered (RFC 3030 4.2). The server reads exactly the announced
 * octets whatever they are, so a chunk is never cut short: a stream reads a whole chunk before
 * it announces it, and an interrupted chunk ends the connection.
 */
#include <stdlib.h>
#include <string.h>

#include "smtpsh/session.h"

#include "session_int.h"

#define BDAT_WINDOW 8 /* pipelined chunks in flight at most */

bool session_bdat_open(const struct smtp_session *s)
{
	return s->chunk.open;
}

unsigned long long session_bdat_left(const struct smtp_session *s)
{
	return s->chunk.open ? s->chunk.left : 0;
}

bool session_bdat_refused(const struct smtp_session *s)
{
	return s->c.bdat_refused;
}

unsigned long long session_bdat_cap(const struct smtp_session *s)
{
	unsigned long long limit = 0;
	if (caps_size(&s->c.caps, &limit) == 0 && limit)
		return limit;
	return SESSION_BDAT_MAX;
}

void session_bdat_abandon(struct smtp_session *s, const char *why)
{
	if (!s->chunk.open || s->conn.fd < 0)
		return;
	char reason[400];
	snprintf(reason, sizeof reason,
		 "connection closed: %s inside a BDAT chunk (%llu of its %llu octets not sent; "
		 "the server would read what follows as the chunk)",
		 why, s->chunk.left, s->chunk.size);
	session_close(s, true, reason);
}

enum session_status session_bdat_begin(struct smtp_session *s, unsigned long long size, bool last)
{
	if (s->conn.fd < 0)
		return session_fail(s, SESSION_ERR_STATE,
				    "not connected (use \\connect HOST [PORT])");
	if (s->chunk.open)
		return session_fail(s, SESSION_ERR_STATE,
				    "a BDAT chunk is open: %llu more octets of it are owed",
				    s->chunk.left);
	if (s->c.phase == PHASE_DATA)
		return session_fail(s, SESSION_ERR_STATE, "inside DATA: lines are message content");
	if (s->c.in_auth)
		return session_fail(s, SESSION_ERR_STATE,
				    "inside an AUTH exchange: answer the challenge first");
	if (s->c.caps.known && !caps_has(&s->c.caps, "CHUNKING"))
		return session_fail(s, SESSION_ERR_STATE,
				    "the server does not offer CHUNKING (RFC 3030): it would read "
				    "the chunk's octets as commands");
	if (s->c.bdat_refused)
		return session_fail(s, SESSION_ERR_STATE,
				    "a chunk of this message was refused: RFC 3030 allows no more "
				    "(RSET starts afresh)");
	unsigned long long cap = session_bdat_cap(s);
	if (size > cap)
		return session_fail(s, SESSION_ERR_LOCAL,
				    "a chunk of %llu octets is more than the %llu the server takes "
				    "(%s): not sent",
				    size, cap,
				    cap == SESSION_BDAT_MAX ? "100 MB without SIZE" : "SIZE");
	/* What the server sent unasked is shown first, unless replies are owed (pipelined chunks
	   in flight): those answer them, and are read when waited for. */
	enum session_status st = client_pending_head(&s->c) ? SESSION_OK : session_drain(s);
	if (st != SESSION_OK)
		return st;
	if (s->c.phase != PHASE_BDAT) { /* the first chunk of a message: a new view */
		buf_reset(&s->bview.line);
		s->bview.line_len = s->bview.shown = 0;
		/* the screen's view of the octets; transcripts get them exact, as chunk events */
		s->bview.quiet_wanted = false;
		s->bview.screen_only = true;
	}
	char line[64];
	int n = snprintf(line, sizeof line, "BDAT %llu%s", size, last ? " LAST" : "");
	struct client_command o;
	client_command(&s->c, &o, line, NULL, VERB_BDAT, 0, 0);
	memcpy(line + n, "\r\n", 3);
	long long t = conn_now_ms();
	session_before_wait(s);
	st = session_send_bytes(s, line, (size_t)n + 2);
	if (st != SESSION_OK)
		return st;
	client_expect(&s->c, &o, t, 0, 0);
	s->chunk = (struct session_chunk){
	    .open = true, .last = last, .size = size, .left = size, .seq = s->c.sent_seq};
	return SESSION_OK;
}

enum session_status session_bdat_write(struct smtp_session *s, const void *data, size_t len)
{
	if (!s->chunk.open || s->conn.fd < 0)
		return session_fail(s, SESSION_ERR_STATE, "no BDAT chunk is open");
	if (len > s->chunk.left)
		return session_fail(s, SESSION_ERR_LOCAL,
				    "%zu octets do not fit in the chunk: %llu remain", len,
				    s->chunk.left);
	session_emit_chunk(s, data, len, &s->chunk.reported, true);
	session_view_bytes(s, &s->bview, data, len);
	session_before_wait(s);
	enum session_status st = session_send_bytes(s, data, len);
	if (st != SESSION_OK) {
		if (st == SESSION_ERR_INTERRUPTED)
			session_bdat_abandon(s, "interrupted");
		return st;
	}
	s->chunk.left -= len;
	return SESSION_OK;
}

/* The open chunk's octets are all written: it closes, its reply is owed (its seq). */
static enum session_status chunk_close(struct smtp_session *s, unsigned long long *seq)
{
	if (!s->chunk.open || s->conn.fd < 0)
		return session_fail(s, SESSION_ERR_STATE, "no BDAT chunk is open");
	if (s->chunk.left)
		return session_fail(s, SESSION_ERR_STATE,
				    "the chunk is not complete: %llu more octets are owed",
				    s->chunk.left);
	session_view_flush(s, &s->bview); /* a chunk need not end a line */
	session_emit_chunk_omitted(s, s->chunk.size - s->chunk.reported, true);
	*seq = s->chunk.seq;
	s->chunk.open = false;
	return SESSION_OK;
}

enum session_status session_bdat_end(struct smtp_session *s, struct smtp_reply *reply)
{
	if (reply)
		smtp_reply_clear(reply);
	unsigned long long seq;
	enum session_status st = chunk_close(s, &seq);
	if (st != SESSION_OK)
		return st;
	return session_wait_reply(s, seq, VERB_BDAT, reply);
}

/* Fills buf with up to cap octets from reader (several reads when it gives less); *eof when
   it ended. -1 on a read error (reported). */
static ssize_t fill(struct smtp_session *s, session_reader reader, void *arg, const char *label,
		    char *buf, size_t cap, bool *eof)
{
	size_t n = 0;
	*eof = false;
	while (n < cap) {
		char err[256] = "";
		ssize_t r = reader(arg, buf + n, cap - n, err, sizeof err);
		if (r < 0) {
			session_fail(s, SESSION_ERR_LOCAL, "error reading %s: %s", label, err);
			return -1;
		}
		if (r == 0) {
			*eof = true;
			break;
		}
		n += (size_t)r;
	}
	return (ssize_t)n;
}

enum session_status session_bdat_stream(struct smtp_session *s, session_reader reader, void *arg,
					const char *label, size_t chunk, bool pipelined,
					struct smtp_reply *reply)
{
	if (reply)
		smtp_reply_clear(reply);
	if (chunk == 0 || chunk > session_bdat_cap(s))
		chunk = (size_t)(session_bdat_cap(s) < SESSION_FILE_CHUNK ? session_bdat_cap(s)
									  : SESSION_FILE_CHUNK);
	char *buf = malloc(chunk + 1);
	if (!buf)
		return session_fail(s, SESSION_ERR_LOCAL, "out of memory");
	unsigned long long seqs[BDAT_WINDOW];
	size_t inflight = 0, head = 0, window = pipelined ? BDAT_WINDOW : 1;
	unsigned long long lines = 0, bytes = 0, chunks = 0;
	enum session_status st = SESSION_OK;
	bool have_carry = false, done = false, got_reply = false;
	struct smtp_reply r;
	smtp_reply_init(&r);
	while (!done || inflight) {
		/* Replies owed: the oldest when the window is full, or all at the end. */
		if (inflight && (inflight == window || done)) {
			st = session_wait_reply(s, seqs[head], VERB_BDAT, &r);
			head = (head + 1) % BDAT_WINDOW;
			inflight--;
			if (st != SESSION_OK)
				break;
			if (!got_reply && (r.code < 200 || r.code >= 300 || (done && !inflight))) {
				got_reply = true; /* the refused chunk's reply, or the LAST one's */
				if (reply)
					smtp_reply_copy(reply, &r);
			}
			if (s->c.bdat_refused)
				done = true; /* RFC 3030 2: no more chunks; the replies owed come */
			continue;
		}
		if (done)
			continue;
		if (s->intr && *s->intr) {
			st = session_fail(s, SESSION_ERR_INTERRUPTED,
					  "interrupted while sending %s", label);
			break;
		}
		/* A whole chunk is read before it is announced: a read error never cuts one. */
		size_t off = have_carry ? 1 : 0;
		bool eof = false;
		ssize_t n = fill(s, reader, arg, label, buf + off, chunk - off, &eof);
		if (n < 0) {
			st = SESSION_ERR_LOCAL;
			break;
		}
		size_t len = (size_t)n + off;
		if (!eof) { /* is there more? one octet ahead says whether this chunk is LAST */
			ssize_t m = fill(s, reader, arg, label, buf + len, 1, &eof);
			if (m < 0) {
				st = SESSION_ERR_LOCAL;
				break;
			}
		}
		have_carry = !eof;
		for (const char *p = buf; (p = memchr(p, '\n', (size_t)(buf + len - p))); p++)
			lines++;
		if ((st = session_bdat_begin(s, len, eof)) != SESSION_OK ||
		    (st = session_bdat_write(s, buf, len)) != SESSION_OK ||
		    (st = chunk_close(s, &seqs[(head + inflight) % BDAT_WINDOW])) != SESSION_OK)
			break;
		inflight++;
		bytes += len;
		chunks++;
		if (have_carry)
			buf[0] = buf[len];
		done = eof;
	}
	if (st == SESSION_OK && lines > s->bview.shown)
		session_notify(
		    s, SEV_INFO,
		    "... %llu more lines not shown (%llu lines, %llu octets in %llu chunk%s "
		    "from %s)",
		    lines - s->bview.shown, lines, bytes, chunks, chunks == 1 ? "" : "s", label);
	smtp_reply_free(&r);
	free(buf);
	return st;
}
