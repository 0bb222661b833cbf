/*
 * The message content of DATA: lines typed one by one, a file or any reader streamed in
 * chunks (never all in memory), CRLF-normalised and dot-stuffed by the encoder of dotstuff.c
 * into the message's output buffer, and the final ".". Per-message state lives in struct
 * session_message, apart from the connection. How many body lines are shown is the caller's
 * choice (body_echo_max); past it, lines reach only the listeners that want them quiet.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "smtpsh/session.h"

#include "session_int.h"

#define SHOWN_LINE_MAX 4096 /* bytes of one streamed line shown; the rest is summarised */
#define FILE_CHUNK SESSION_FILE_CHUNK

void session_message_init(struct session_message *m)
{
	dotstuff_init(&m->ds);
	buf_init(&m->out);
}

void session_message_start(struct session_message *m)
{
	dotstuff_init(&m->ds);
}

void session_message_drop(struct session_message *m)
{
	buf_reset(&m->out); /* message lines not written yet: the message is abandoned */
}

void session_message_free(struct session_message *m)
{
	buf_free_secret(&m->out);
}

/* The lines gathered, then the end of the body (its last line ended), for a pipelined "."
   that follows them in the same write. Returns -1 when memory ran out. */
int session_message_finish(struct session_message *m, struct buf *wire)
{
	char end[2];
	buf_append(wire, m->out.data ? m->out.data : "", m->out.len);
	buf_reset(&m->out);
	return buf_append(wire, end, dotstuff_finish(&m->ds, end));
}

static void emit_sent(struct smtp_session *s, const char *text, size_t len, bool body)
{
	struct session_event ev = {
	    .type = SEV_SENT, .text = text, .len = len, .body = body, .elapsed_ms = -1};
	session_emit(s, &ev);
}

enum session_status session_flush(struct smtp_session *s)
{
	if (!s->msg.out.len || s->conn.fd < 0)
		return SESSION_OK;
	session_before_wait(s);
	enum session_status st = session_send_bytes(s, s->msg.out.data, s->msg.out.len);
	buf_reset(&s->msg.out);
	return st;
}

/* s->msg.out holds the encoded lines of session_data_line not written yet (coalesce_body). */
enum session_status session_data_line(struct smtp_session *s, const char *line, size_t len)
{
	if (s->c.phase != PHASE_DATA || s->conn.fd < 0)
		return session_fail(s, SESSION_ERR_STATE, "not inside DATA");
	if (memchr(line, '\r', len) || memchr(line, '\n', len) || memchr(line, '\0', len))
		return session_fail(s, SESSION_ERR_LOCAL,
				    "a message line cannot contain CR, LF or NUL");
	size_t at = s->msg.out.len;
	if (buf_reserve(&s->msg.out, DOTSTUFF_MAX_OUT(len) + 4) < 0)
		return session_fail(s, SESSION_ERR_LOCAL, "out of memory");
	size_t n = dotstuff_encode(&s->msg.ds, line, len, s->msg.out.data + at);
	n += dotstuff_encode(&s->msg.ds, "\n", 1, s->msg.out.data + at + n);
	s->msg.out.len = at + n;
	emit_sent(s, s->msg.out.data + at, n - 2, true);
	if (s->p.coalesce_body && s->msg.out.len < FILE_CHUNK)
		return SESSION_OK;
	return session_flush(s);
}

/* One line of the body (total bytes without CRLF; text holds its first len bytes). */
static void view_line(struct smtp_session *s, struct body_view *v, const char *text, size_t len,
		      size_t total)
{
	/* Past the screen's limit, lines still go to listeners, marked quiet (transcripts). */
	bool quiet = v->shown >= s->p.body_echo_max;
	if (!quiet)
		v->shown++;
	else if (!v->quiet_wanted)
		return; /* no listener wants it: no event, cheap after the first lines */
	if (total > len) {
		if (text != v->line.data) {
			buf_reset(&v->line);
			buf_append(&v->line, text, len);
		}
		buf_printf(&v->line, " [... %zu more bytes]", total - len);
		text = v->line.data;
		len = v->line.len;
	}
	struct session_event ev = {.type = SEV_SENT,
				   .text = text ? text : "",
				   .len = len,
				   .body = true,
				   .quiet = quiet,
				   .screen_only = v->screen_only,
				   .elapsed_ms = -1};
	session_emit(s, &ev);
	if (text == v->line.data)
		buf_reset(&v->line);
}

/*
 * Encoded bytes (CR only in CRLF, which the encoder writes whole) cut into lines with memchr;
 * a line inside the chunk is shown from the chunk, only one cut by its end is copied.
 */
void session_view_bytes(struct smtp_session *s, struct body_view *v, const char *p, size_t n)
{
	while (n) {
		const char *lf = memchr(p, '\n', n);
		size_t len = lf ? (size_t)(lf - p) : n;
		size_t text = lf && len && p[len - 1] == '\r' ? len - 1 : len; /* CRLF: not shown */
		if (!lf || v->line_len) { /* a line cut by a chunk's end */
			size_t room = SHOWN_LINE_MAX - v->line.len;
			if (room)
				buf_append(&v->line, p, text < room ? text : room);
			v->line_len += text;
			if (!lf)
				break;
			view_line(s, v, v->line.data, v->line.len, v->line_len);
			v->line_len = 0;
		} else {
			view_line(s, v, p, text < SHOWN_LINE_MAX ? text : SHOWN_LINE_MAX, text);
		}
		p = lf + 1;
		n -= len + 1;
	}
}

void session_view_flush(struct smtp_session *s, struct body_view *v)
{
	if (v->line_len)
		view_line(s, v, v->line.data, v->line.len, v->line_len);
	v->line_len = 0;
	buf_reset(&v->line);
}

/*
 * Line ends in p[0..n) as the encoder sees them (CRLF, bare CR and bare LF each end one line);
 * *cr says whether the byte before p was a CR. For the line number of a refused NUL only.
 */
static unsigned long long count_line_ends(const char *p, size_t n, bool *cr)
{
	unsigned long long lines = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\r')
			lines++;
		else if (p[i] == '\n' && !*cr)
			lines++;
		*cr = p[i] == '\r';
	}
	return lines;
}

/*
 * Message content never holds a NUL: a server (or a relay after it) that drops NULs would then
 * see "\r\n\0.\r\n" as the end of the data (SMTP smuggling), and RFC 5321 section 4.5.2 allows
 * NUL in no SMTP text. Typed lines with a NUL are refused and the composer of \send base64-
 * encodes such bodies; a file is refused with the line of its first NUL. A regular file is
 * read once for that before any of it is sent (memchr, so the cost is a read of the file);
 * what cannot be read twice (a pipe) is checked chunk by chunk as it is sent.
 */
static enum session_status refuse_nul(struct smtp_session *s, const char *label,
				      unsigned long long line, bool partly_sent)
{
	return session_fail(
	    s, SESSION_ERR_LOCAL,
	    "cannot send %s: line %llu holds a NUL octet (a server that drops it could "
	    "take what follows for the end of the data); %s",
	    label, line,
	    partly_sent ? "nothing from that line's chunk on was sent" : "nothing of it was sent");
}

/* 0, or the 1-based line of the first NUL in the regular file f (left at its start). */
static int file_nul_line(FILE *f, char *chunk, unsigned long long *line, char *err, size_t errlen)
{
	unsigned long long off = 0, at = 0;
	bool found = false;
	size_t n;
	while (!found && (n = fread(chunk, 1, FILE_CHUNK, f)) > 0) {
		const char *z = memchr(chunk, '\0', n);
		if (z) {
			found = true;
			at = off + (unsigned long long)(z - chunk);
		}
		off += n;
	}
	if (ferror(f) || fseek(f, 0, SEEK_SET) != 0) {
		snprintf(err, errlen, "%s", strerror(errno));
		return -1;
	}
	*line = 0;
	if (!found)
		return 0;
	bool cr = false;
	unsigned long long lines = 0;
	for (off = 0; off < at && (n = fread(chunk, 1, FILE_CHUNK, f)) > 0; off += n)
		lines += count_line_ends(chunk, at - off < n ? (size_t)(at - off) : n, &cr);
	if (ferror(f) || fseek(f, 0, SEEK_SET) != 0) {
		snprintf(err, errlen, "%s", strerror(errno));
		return -1;
	}
	*line = lines + 1;
	return 0;
}

struct file_reader {
	FILE *f;
};

static ssize_t read_file(void *arg, char *buf, size_t cap, char *err, size_t errlen)
{
	struct file_reader *fr = arg;
	size_t n = fread(buf, 1, cap, fr->f);
	if (n == 0 && ferror(fr->f)) {
		snprintf(err, errlen, "%s", strerror(errno));
		return -1;
	}
	return (ssize_t)n;
}

enum session_status session_data_file(struct smtp_session *s, const char *path)
{
	if (s->c.phase != PHASE_DATA || s->conn.fd < 0)
		return session_fail(s, SESSION_ERR_STATE, "\\file works inside DATA only");
	FILE *f = fopen(path, "rb");
	struct stat sb;
	if (!f)
		return session_fail(s, SESSION_ERR_LOCAL, "cannot open %s: %s", path,
				    strerror(errno));
	if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
		fclose(f);
		return session_fail(s, SESSION_ERR_LOCAL, "cannot send %s: it is a directory",
				    path);
	}
	if (S_ISREG(sb.st_mode)) {
		char *chunk = malloc(FILE_CHUNK), err[256] = "";
		unsigned long long line = 0;
		int r = chunk ? file_nul_line(f, chunk, &line, err, sizeof err) : -1;
		free(chunk);
		if (r < 0 || line) {
			fclose(f);
			if (r < 0)
				return session_fail(s, SESSION_ERR_LOCAL, "error reading %s: %s",
						    path, err[0] ? err : "out of memory");
			return refuse_nul(s, path, line, false);
		}
	}
	struct file_reader fr = {f};
	enum session_status fst = session_flush(s); /* typed lines first: not part of the file */
	if (fst != SESSION_OK) {
		fclose(f);
		return fst;
	}
	unsigned long long out0 = s->bytes_out;
	enum session_status st = session_data_stream(s, read_file, &fr, path);
	fclose(f);
	if ((st == SESSION_ERR_LOCAL || st == SESSION_ERR_INTERRUPTED) &&
	    s->c.phase == PHASE_DATA && s->bytes_out != out0)
		session_notify(s, SEV_INFO,
			       "the message holds part of %s: end it with '.' to send it "
			       "anyway, or \\disconnect to abandon it",
			       path);
	return st;
}

enum session_status session_data_stream(struct smtp_session *s, session_reader reader, void *arg,
					const char *label)
{
	if (s->c.phase != PHASE_DATA || s->conn.fd < 0)
		return session_fail(s, SESSION_ERR_STATE, "not inside DATA");
	enum session_status fst = session_flush(s); /* lines typed before it go first */
	if (fst != SESSION_OK)
		return fst;
	char *chunk = malloc(FILE_CHUNK);
	struct body_view v = {.quiet_wanted = session_quiet_wanted(s)};
	buf_init(&v.line);
	/* The encoder counts the lines; they are looked at only while some are to be shown. */
	unsigned long long lines0 = s->msg.ds.lines, long0 = s->msg.ds.long_lines, bytes = 0;
	bool viewing = true;
	enum session_status st = SESSION_OK;
	if (!chunk || buf_reserve(&s->msg.out, DOTSTUFF_MAX_OUT(FILE_CHUNK)) < 0) {
		st = session_fail(s, SESSION_ERR_LOCAL, "out of memory");
		goto out;
	}
	for (;;) {
		char err[256] = "";
		ssize_t r = reader(arg, chunk, FILE_CHUNK, err, sizeof err);
		if (r < 0) {
			st = session_fail(s, SESSION_ERR_LOCAL, "error reading %s: %s", label, err);
			break;
		}
		size_t n = (size_t)r;
		const char *nul = n ? memchr(chunk, '\0', n) : NULL;
		if (nul) { /* a file that changed since it was checked, or a pipe */
			bool cr = s->msg.ds.cr;
			unsigned long long line =
			    s->msg.ds.lines - lines0 + (s->msg.ds.cr ? 1 : 0) +
			    count_line_ends(chunk, (size_t)(nul - chunk), &cr) + 1;
			st = refuse_nul(s, label, line, bytes > 0);
			break;
		}
		size_t m = n ? dotstuff_encode(&s->msg.ds, chunk, n, s->msg.out.data) : 0;
		if (n == 0)
			m += dotstuff_finish(&s->msg.ds, s->msg.out.data + m);
		bytes += m;
		if (viewing) {
			session_view_bytes(s, &v, s->msg.out.data, m);
			viewing = v.quiet_wanted || v.shown < s->p.body_echo_max;
		}
		session_before_wait(s); /* the shown lines appear before a write that may wait */
		if (m && (st = session_send_bytes(s, s->msg.out.data, m)) != SESSION_OK)
			break;
		if (n == 0)
			break;
		if (s->intr && *s->intr) {
			st = session_fail(s, SESSION_ERR_INTERRUPTED,
					  "interrupted while sending %s", label);
			break;
		}
	}
	if (viewing && v.line_len) /* cannot happen: the encoder ends the body with CRLF */
		view_line(s, &v, v.line.data, v.line.len, v.line_len);
	unsigned long long lines = s->msg.ds.lines - lines0, longs = s->msg.ds.long_lines - long0;
	if (lines > v.shown)
		session_notify(s, SEV_INFO,
			       "... %llu more lines not shown (%llu lines, %llu bytes from %s)",
			       lines - v.shown, lines, bytes, label);
	if (longs)
		session_notify(s, SEV_WARNING,
			       "%llu lines of %s are longer than 998 octets (RFC 5322 limit)",
			       longs, label);
out:
	buf_reset(&s->msg.out);
	free(chunk);
	buf_free(&v.line);
	return st;
}

enum session_status session_data_end(struct smtp_session *s, struct smtp_reply *reply)
{
	if (reply)
		smtp_reply_clear(reply);
	if (s->c.phase != PHASE_DATA || s->conn.fd < 0)
		return session_fail(s, SESSION_ERR_STATE, "not inside DATA");
	char end[8];
	size_t n = dotstuff_finish(&s->msg.ds, end);
	memcpy(end + n, ".\r\n", 3);
	emit_sent(s, ".", 1, true);
	if (buf_append(&s->msg.out, end, n + 3) < 0) /* after the lines gathered: one write */
		return session_fail(s, SESSION_ERR_LOCAL, "out of memory");
	long long t = conn_now_ms();
	enum session_status st = session_flush(s);
	if (st != SESSION_OK)
		return st;
	client_expect_dot(&s->c, t);
	if (s->c.probing) /* raw bytes in the message: the "."'s reply is the last one */
		return session_wait_probe(s, VERB_DOT, reply);
	return session_wait_reply(s, s->c.sent_seq, VERB_DOT, reply);
}
