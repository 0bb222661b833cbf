#include "smtpsh/session.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "smtpsh/authline.h"
#include "smtpsh/authview.h"
#include "smtpsh/dotstuff.h"
#include "smtpsh/escape.h"
#include "smtpsh/reply.h"
#include "smtpsh/tls.h"

#define LISTENERS_MAX 4
#define PENDING_MAX 256
#define REPLY_TEXT_MAX (64 * 1024) /* of a reply kept for the caller; every line is shown */
#define READ_CHUNK (16 * 1024)
#define FILE_CHUNK (64 * 1024)
#define SHOWN_LINE_MAX 4096 /* bytes of one \file line shown; the rest is summarised */
#define SHOWN_CMD_MAX 128   /* bytes of a command kept to say which command a reply answers */
#define AUTH_USER_MAX 256

/* What a reply answers: decides its effect on the session. */
enum verb {
	VERB_GREETING,
	VERB_EHLO,
	VERB_HELO,
	VERB_STARTTLS,
	VERB_AUTH,
	VERB_AUTH_DATA,
	VERB_MAIL,
	VERB_RCPT,
	VERB_DATA,
	VERB_DOT,
	VERB_RSET,
	VERB_QUIT,
	VERB_OTHER,
};

static const char *const verb_names[] = {
	[VERB_GREETING] = "the greeting", [VERB_EHLO] = "EHLO",	    [VERB_HELO] = "HELO",
	[VERB_STARTTLS] = "STARTTLS",	  [VERB_AUTH] = "AUTH",	    [VERB_AUTH_DATA] = "AUTH",
	[VERB_MAIL] = "MAIL",		  [VERB_RCPT] = "RCPT",	    [VERB_DATA] = "DATA",
	[VERB_DOT] = "the end of DATA",	  [VERB_RSET] = "RSET",	    [VERB_QUIT] = "QUIT",
	[VERB_OTHER] = "the command",
};

/* Short names for events (what hints match on); NULL: not known. */
static const char *const verb_short[] = {
	[VERB_GREETING] = "greeting", [VERB_EHLO] = "EHLO", [VERB_HELO] = "HELO",
	[VERB_STARTTLS] = "STARTTLS", [VERB_AUTH] = "AUTH", [VERB_AUTH_DATA] = "AUTH",
	[VERB_MAIL] = "MAIL",	      [VERB_RCPT] = "RCPT", [VERB_DATA] = "DATA",
	[VERB_DOT] = ".",	      [VERB_RSET] = "RSET", [VERB_QUIT] = "QUIT",
	[VERB_OTHER] = NULL,
};

static const char *const phase_names[] = {
	[PHASE_DISCONNECTED] = "disconnected",
	[PHASE_GREETING] = "greeting",
	[PHASE_GREETED] = "greeted",
	[PHASE_READY] = "ready",
	[PHASE_MAIL] = "mail",
	[PHASE_RCPT] = "rcpt",
	[PHASE_DATA] = "data",
	[PHASE_CLOSED] = "closed",
};

struct listener {
	session_listener fn;
	session_quiet_query wants_quiet; /* NULL: never gets quiet body lines */
	void *arg;
};

/* A command whose reply is owed. */
struct pending {
	enum verb v;
	long long sent_ms; /* when it was written */
	unsigned pipe_index, pipe_total;
	char shown[SHOWN_CMD_MAX]; /* as shown, secrets masked */
};

struct smtp_session {
	struct session_params p;
	char *cafile;
	char *ehlo_name;
	struct listener listeners[LISTENERS_MAX];
	size_t nlisteners;
	volatile sig_atomic_t *intr;

	struct conn conn;
	SSL_CTX *ctx;
	bool verified;
	bool implicit_tls; /* TLS from the first byte, not upgraded by STARTTLS */
	enum tls_mode mode;
	char *host;
	char port[16];

	enum smtp_phase phase;
	int greeting; /* the greeting's code, 0 before it */
	/* The server refused commands pipelined after the "." that ends a message: on this
	   connection "." goes alone (session_pipeline). */
	bool dot_alone;
	bool pipe_resent; /* the last session_pipeline sent its commands again in lockstep */
	bool in_auth;
	struct smtp_caps caps;

	struct buf in; /* bytes read and not yet parsed: in.data[in_off..in.len) */
	size_t in_off;
	struct reply_parser parser;
	struct smtp_reply cur;  /* the reply being received */
	struct smtp_reply last; /* the last complete reply */

	struct pending pending[PENDING_MAX]; /* commands sent whose replies are owed, oldest first */
	size_t pend_head, pend_n;
	unsigned long long sent_seq, done_seq;
	size_t unsolicited; /* replies nobody asked for since the last command */
	size_t unsol_lines; /* their lines */
	unsigned long long unsol_hidden, unsol_hidden_bytes; /* those lines not shown (past the
								cap), not yet reported */
	bool reply_broken;  /* inside a malformed multi-line reply: lines until its last one */

	unsigned long long bytes_in, bytes_out;

	/* AUTH on this connection: the exchange going on, and its result. */
	char auth_mech[24];     /* mechanism of the exchange going on */
	unsigned auth_nresp;    /* client responses sent in it (an initial response counts) */
	char auth_try[AUTH_USER_MAX];  /* the user it names, when seen */
	bool authed;
	char auth_user[AUTH_USER_MAX];
	char authed_mech[24];

	struct dotstuff ds;
	struct buf out; /* staging for body bytes */
	char err[512];
};

/* ---- events ---------------------------------------------------------------------------- */

/* Before the session waits for the network: the caller's buffered output goes out first. */
static void before_wait(struct smtp_session *s)
{
	if (s->p.before_wait)
		s->p.before_wait(s->p.before_wait_arg);
}

static void emit(struct smtp_session *s, struct session_event *ev)
{
	ev->tls = s->conn.ssl != NULL;
	ev->verified = ev->tls && s->verified;
	ev->host = s->host;
	ev->port = s->port;
	ev->mode = s->mode;
	ev->connected = s->conn.fd >= 0;
	for (size_t i = 0; i < s->nlisteners; i++)
		if (!ev->quiet || s->listeners[i].wants_quiet)
			s->listeners[i].fn(ev, s->listeners[i].arg);
}

__attribute__((format(printf, 4, 0))) static void vnotify(struct smtp_session *s,
							 enum session_event_type type, long ms,
							 const char *fmt, va_list ap)
{
	char msg[1024];
	vsnprintf(msg, sizeof msg, fmt, ap);
	struct session_event ev = {.type = type, .text = msg, .len = strlen(msg), .elapsed_ms = ms};
	emit(s, &ev);
}

__attribute__((format(printf, 3, 4))) static void notify(struct smtp_session *s,
							enum session_event_type type,
							const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vnotify(s, type, -1, fmt, ap);
	va_end(ap);
}

/* An info event that carries a duration (connect time). */
__attribute__((format(printf, 3, 4))) static void notify_timed(struct smtp_session *s, long ms,
							      const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vnotify(s, SEV_INFO, ms, fmt, ap);
	va_end(ap);
}

/* Records a failure: the message becomes session_error() and an error event. */
__attribute__((format(printf, 3, 4))) static enum session_status
fail(struct smtp_session *s, enum session_status st, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->err, sizeof s->err, fmt, ap);
	va_end(ap);
	struct session_event ev = {.type = SEV_ERROR, .text = s->err, .len = strlen(s->err),
				   .elapsed_ms = -1};
	emit(s, &ev);
	return st;
}

static void emit_sent(struct smtp_session *s, const char *text, size_t len, bool body)
{
	struct session_event ev = {.type = SEV_SENT, .text = text, .len = len, .body = body,
				   .elapsed_ms = -1};
	emit(s, &ev);
}

/* ---- life cycle ------------------------------------------------------------------------ */

void smtp_reply_init(struct smtp_reply *r)
{
	r->code = 0;
	r->nlines = 0;
	buf_init(&r->text);
}

void smtp_reply_free(struct smtp_reply *r)
{
	buf_free(&r->text);
	r->code = 0;
	r->nlines = 0;
}

static void reply_clear(struct smtp_reply *r)
{
	r->code = 0;
	r->nlines = 0;
	buf_reset(&r->text);
}

static void reply_copy(struct smtp_reply *dst, const struct smtp_reply *src)
{
	reply_clear(dst);
	dst->code = src->code;
	dst->nlines = src->nlines;
	buf_append(&dst->text, src->text.data ? src->text.data : "", src->text.len);
}

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
	caps_init(&s->caps);
	buf_init(&s->in);
	buf_init(&s->out);
	reply_parser_init(&s->parser);
	smtp_reply_init(&s->cur);
	smtp_reply_init(&s->last);
	s->phase = PHASE_DISCONNECTED;
	if (!s->ehlo_name || (params->cafile && !s->cafile)) {
		session_free(s);
		return NULL;
	}
	return s;
}

/* Forgets the AUTH state of the connection (a new connection, STARTTLS). */
static void auth_forget(struct smtp_session *s)
{
	OPENSSL_cleanse(s->auth_try, sizeof s->auth_try);
	s->auth_mech[0] = '\0';
	s->auth_nresp = 0;
	s->authed = false;
	s->auth_user[0] = '\0';
	s->authed_mech[0] = '\0';
}

static void reset_connection_state(struct smtp_session *s)
{
	buf_reset(&s->in);
	s->in_off = 0;
	reply_parser_reset(&s->parser);
	reply_clear(&s->cur);
	s->reply_broken = false;
	caps_clear(&s->caps);
	s->pend_head = s->pend_n = 0;
	s->sent_seq = s->done_seq = 0;
	s->in_auth = false;
	s->greeting = 0;
	s->dot_alone = false;
	s->verified = false;
	s->bytes_in = s->bytes_out = 0;
	buf_reset(&s->out); /* message lines not written yet: the message is abandoned */
	auth_forget(s);
}

void session_free(struct smtp_session *s)
{
	if (!s)
		return;
	conn_close(&s->conn, true);
	if (s->ctx)
		SSL_CTX_free(s->ctx);
	caps_clear(&s->caps);
	buf_free(&s->in);
	buf_free_secret(&s->out);
	reply_parser_free(&s->parser);
	smtp_reply_free(&s->cur);
	smtp_reply_free(&s->last);
	free(s->cafile);
	free(s->ehlo_name);
	free(s->host);
	free(s);
}

int session_add_listener(struct smtp_session *s, session_listener fn, void *arg)
{
	if (s->nlisteners == LISTENERS_MAX)
		return -1;
	s->listeners[s->nlisteners++] = (struct listener){fn, NULL, arg};
	return 0;
}

int session_add_quiet_listener(struct smtp_session *s, session_listener fn,
			       session_quiet_query wants, void *arg)
{
	if (s->nlisteners == LISTENERS_MAX)
		return -1;
	s->listeners[s->nlisteners++] = (struct listener){fn, wants, arg};
	return 0;
}

/* Does a listener want the quiet lines of the body that starts now? */
static bool quiet_wanted(const struct smtp_session *s)
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

/* Ends the connection; reason is reported as the closing event. */
static void close_connection(struct smtp_session *s, bool abrupt, const char *reason)
{
	if (s->conn.fd < 0)
		return;
	conn_close(&s->conn, abrupt);
	reset_connection_state(s);
	s->phase = PHASE_CLOSED;
	struct session_event ev = {.type = SEV_CLOSED, .text = reason, .len = strlen(reason),
				   .elapsed_ms = -1};
	emit(s, &ev);
}

void session_disconnect(struct smtp_session *s, const char *why)
{
	close_connection(s, false, why ? why : "connection closed");
	if (s->phase == PHASE_CLOSED)
		s->phase = PHASE_DISCONNECTED;
}

/* ---- replies --------------------------------------------------------------------------- */

/* Notes that a reply is owed to a command written at sent_ms (shown: as displayed, or NULL). */
static void pend_push(struct smtp_session *s, enum verb v, long long sent_ms, const char *shown,
		      unsigned pipe_index, unsigned pipe_total)
{
	if (s->pend_n == PENDING_MAX) { /* forget the oldest: its reply is long overdue */
		s->pend_head = (s->pend_head + 1) % PENDING_MAX;
		s->pend_n--;
		s->done_seq++;
	}
	struct pending *p = &s->pending[(s->pend_head + s->pend_n) % PENDING_MAX];
	p->v = v;
	p->sent_ms = sent_ms;
	p->pipe_index = pipe_index;
	p->pipe_total = pipe_total;
	snprintf(p->shown, sizeof p->shown, "%s", shown ? shown : "");
	s->pend_n++;
	s->sent_seq++;
}

/* The command the next reply answers, popped; false when no reply is owed. */
static bool pend_pop(struct smtp_session *s, enum verb *v)
{
	if (!s->pend_n)
		return false;
	*v = s->pending[s->pend_head].v;
	s->pend_head = (s->pend_head + 1) % PENDING_MAX;
	s->pend_n--;
	s->done_seq++;
	return true;
}

static const struct pending *pend_head(const struct smtp_session *s)
{
	return s->pend_n ? &s->pending[s->pend_head] : NULL;
}

static enum session_status upgrade_tls(struct smtp_session *s);

/* What a complete reply does to the session. */
static enum session_status apply_reply(struct smtp_session *s, enum verb v, int code)
{
	bool ok = code >= 200 && code < 300;
	switch (v) {
	case VERB_GREETING:
		s->phase = PHASE_GREETED;
		s->greeting = code;
		if (code != 220)
			notify(s, SEV_WARNING, "the server refused the session (%d)", code);
		break;
	case VERB_EHLO:
		if (ok)
			s->phase = PHASE_READY;
		break;
	case VERB_HELO:
		if (ok)
			s->phase = PHASE_READY;
		break;
	case VERB_STARTTLS:
		if (code == 220)
			return upgrade_tls(s);
		break;
	case VERB_AUTH:
	case VERB_AUTH_DATA:
		s->in_auth = code == 334;
		if (code == 235) {
			s->authed = true;
			memcpy(s->auth_user, s->auth_try, sizeof s->auth_user);
			memcpy(s->authed_mech, s->auth_mech, sizeof s->authed_mech);
		}
		if (code != 334)
			OPENSSL_cleanse(s->auth_try, sizeof s->auth_try);
		break;
	case VERB_MAIL:
		if (ok)
			s->phase = PHASE_MAIL;
		break;
	case VERB_RCPT:
		if (ok && (s->phase == PHASE_MAIL || s->phase == PHASE_RCPT))
			s->phase = PHASE_RCPT;
		break;
	case VERB_DATA:
		if (code == 354) {
			s->phase = PHASE_DATA;
			dotstuff_init(&s->ds);
		}
		break;
	case VERB_DOT:
		s->phase = PHASE_READY;
		break;
	case VERB_RSET:
		if (ok && s->phase > PHASE_READY)
			s->phase = PHASE_READY;
		break;
	case VERB_QUIT:
		if (code == 221) {
			close_connection(s, false, "connection closed after QUIT");
			return SESSION_OK;
		}
		break;
	case VERB_OTHER:
		break;
	}
	if (code == 421)
		notify(s, SEV_WARNING, "the server says it is closing the connection (421)");
	return SESSION_OK;
}

/* The end of a malformed reply (already reported): it answers the oldest command. */
static enum session_status end_broken_reply(struct smtp_session *s, bool *done)
{
	enum verb v = VERB_OTHER;
	bool owed = pend_pop(s, &v);
	if (v == VERB_GREETING)
		s->phase = PHASE_GREETED;
	*done = owed;
	return SESSION_ERR_PROTO;
}

/*
 * A reply past REPLY_LINES_MAX lines: no server has a reason to send that, and one that does
 * may never stop (an endless multi-line reply). Its remaining lines are not shown (what was
 * read of them is counted), and the connection is closed as a protocol error: the reply's end,
 * if it ever came, could not be told from what follows, so smtpsh could not get back in step.
 */
static enum session_status too_many_lines(struct smtp_session *s, bool *done)
{
	const char *rest = s->in.data + s->in_off;
	size_t bytes = s->in.len - s->in_off, lines = 0;
	for (const char *p = rest; (p = memchr(p, '\n', (size_t)(rest + bytes - p))); p++)
		lines++;
	char verb[40] = "";
	const struct pending *pd = pend_head(s);
	if (pd)
		snprintf(verb, sizeof verb, " to %s", verb_names[pd->v]);
	*done = pend_head(s) != NULL;
	fail(s, SESSION_ERR_PROTO,
	     "protocol error: the reply%s has more than %d lines; the rest is not shown (%zu more "
	     "lines, %zu bytes already received); connection closed",
	     verb, REPLY_LINES_MAX, lines, bytes);
	close_connection(s, true, "connection closed: a reply that did not end");
	return SESSION_ERR_PROTO;
}

/*
 * Parses buffered input up to the end of at most one reply. *done is set when a reply
 * completed (and its effect was applied). Returns SESSION_ERR_PROTO for a malformed line.
 */
static enum session_status parse_some(struct smtp_session *s, bool *done)
{
	*done = false;
	while (s->in_off < s->in.len) {
		size_t used = 0;
		struct reply_line line;
		enum reply_result r = reply_parser_push(&s->parser, s->in.data + s->in_off,
							s->in.len - s->in_off, &used, &line);
		if (r == REPLY_MORE) {
			s->in_off += used;
			break;
		}
		if (r == REPLY_BAD && line.err == REPLY_ERR_TOO_MANY_LINES) {
			s->in_off += used;
			return too_many_lines(s, done);
		}
		const struct pending *pd = pend_head(s);
		struct session_event ev = {
			.type = SEV_RECEIVED,
			.text = line.text,
			.len = line.len,
			.code = r == REPLY_BAD ? 0 : line.code,
			.last = r != REPLY_LINE,
			.bare_lf = line.bare_lf,
			.unsolicited = pd == NULL,
			.elapsed_ms = pd ? (long)(conn_now_ms() - pd->sent_ms) : -1,
			.verb = pd ? verb_short[pd->v] : NULL,
			.command = pd && pd->shown[0] ? pd->shown : NULL,
			.pipe_index = pd ? pd->pipe_index : 0,
			.pipe_total = pd ? pd->pipe_total : 0,
		};
		size_t shown_len = line.len;
		if (r == REPLY_BAD && line.err == REPLY_ERR_TOO_LONG && shown_len > 256)
			ev.len = 256; /* the first bytes are enough to see what it is */
		/* Lines nobody asked for are shown up to the cap of one reply, then counted: a
		   server that sends them without end must not flood the screen. */
		if (pd || s->unsol_lines++ < REPLY_LINES_MAX) {
			emit(s, &ev);
		} else {
			s->unsol_hidden++;
			s->unsol_hidden_bytes += line.len;
		}
		if (r == REPLY_BAD) {
			s->in_off += used;
			reply_clear(&s->cur);
			if (!s->reply_broken) /* one error per broken reply, however long */
				fail(s, SESSION_ERR_PROTO, "protocol error: %s%s",
				     reply_error_str(line.err),
				     line.err == REPLY_ERR_TOO_LONG ? " (the rest of it is skipped)"
								    : "");
			/* "250-..." says more lines follow: they still answer the same command */
			s->reply_broken = line.err != REPLY_ERR_SYNTAX && line.len >= 4 &&
					  line.text[3] == '-';
			if (s->reply_broken)
				continue;
			return end_broken_reply(s, done);
		}
		if (line.bare_lf)
			notify(s, SEV_WARNING, "reply line ended with a bare LF instead of CRLF");
		if (s->cur.text.len + line.len < REPLY_TEXT_MAX) {
			if (s->cur.nlines)
				buf_putc(&s->cur.text, '\n');
			buf_append(&s->cur.text, line.text, line.len);
		}
		if (pd && pd->v == VERB_EHLO && line.code == 250)
			caps_add_line(&s->caps, line.text, line.len, s->cur.nlines == 0);
		s->cur.nlines++;
		s->cur.code = line.code;
		s->in_off += used;
		if (r == REPLY_DONE && s->reply_broken) {
			s->reply_broken = false;
			reply_clear(&s->cur);
			return end_broken_reply(s, done);
		}
		if (r == REPLY_DONE) {
			struct smtp_reply tmp = s->last;
			s->last = s->cur;
			s->cur = tmp;
			reply_clear(&s->cur);
			*done = true;
			enum verb v;
			if (!pend_pop(s, &v)) { /* unsolicited: shown, no effect */
				if (s->unsolicited++ == 0)
					notify(s, SEV_WARNING,
					       "the server sent a reply no command was waiting for");
				return SESSION_OK;
			}
			return apply_reply(s, v, s->last.code);
		}
	}
	if (s->in_off == s->in.len) {
		buf_reset(&s->in);
		s->in_off = 0;
	}
	return SESSION_OK;
}

static enum session_status on_eof(struct smtp_session *s)
{
	enum session_status st;
	if (reply_parser_busy(&s->parser))
		st = fail(s, SESSION_ERR_NET,
			  "the server closed the connection in the middle of a reply");
	else if (!s->pend_n && s->phase == PHASE_DATA)
		st = fail(s, SESSION_ERR_NET,
			  "the server closed the connection in the middle of the message: it was "
			  "not sent");
	else if (s->pend_n && pend_head(s)->v != VERB_QUIT)
		st = fail(s, SESSION_ERR_NET,
			  "the server closed the connection without replying to %s",
			  verb_names[pend_head(s)->v]);
	else {
		snprintf(s->err, sizeof s->err, "the server closed the connection");
		st = s->pend_n ? SESSION_OK : SESSION_ERR_NET;
		close_connection(s, true, s->err);
		return st;
	}
	close_connection(s, true, "connection closed");
	return st;
}

/* Reads what is available into s->in; waits until deadline_ms when wait (-1: no wait). */
static enum session_status read_some(struct smtp_session *s, long long deadline_ms)
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
			return fail(s, SESSION_ERR_LOCAL, "out of memory");
		char err[256] = "";
		ssize_t n = conn_read(&s->conn, s->in.data + s->in.len, READ_CHUNK, err, sizeof err);
		if (n > 0) {
			s->in.len += (size_t)n;
			s->bytes_in += (unsigned long long)n;
			s->in.data[s->in.len] = '\0';
			return SESSION_OK;
		}
		if (n == CONN_IO_EOF)
			return on_eof(s);
		if (n == CONN_IO_ERROR) {
			enum session_status st = fail(s, SESSION_ERR_NET, "%s", err);
			close_connection(s, true, err);
			return st;
		}
		/* CONN_IO_AGAIN */
		if (deadline_ms < 0)
			return SESSION_OK;
		before_wait(s);
		long long left = deadline_ms - conn_now_ms();
		int w = left <= 0 ? CONN_IO_TIMEOUT
				  : conn_wait(&s->conn, (short)s->conn.want, (int)left, s->intr);
		if (w == CONN_IO_TIMEOUT)
			return SESSION_ERR_TIMEOUT;
		if (w == CONN_IO_INTERRUPTED)
			return SESSION_ERR_INTERRUPTED;
	}
}

/* Is the server in the middle of a reply (a line or a multi-line reply begun, bytes read and
   not parsed yet)? */
static bool mid_reply(const struct smtp_session *s)
{
	return reply_parser_busy(&s->parser) || s->reply_broken || s->in_off < s->in.len;
}

/*
 * A wait ended (timeout, Ctrl-C) while the server was still sending: whatever comes next
 * could not be told from the rest of that reply, so the connection is closed rather than
 * left to a stream that may never end.
 */
static void abandon_stream(struct smtp_session *s)
{
	if (s->conn.fd >= 0 && mid_reply(s))
		close_connection(s, true, "connection closed: the server was still sending");
}

/* Waits until the reply to the command numbered seq has arrived (or failed). */
static enum session_status wait_reply(struct smtp_session *s, unsigned long long seq,
				      enum verb v, struct smtp_reply *reply)
{
	long long deadline = conn_now_ms() + s->p.timeout_ms;
	enum session_status result = SESSION_OK;
	bool closed_by_reply = false; /* 221 to QUIT: the reply closed the connection */
	for (;;) {
		while (s->in_off < s->in.len && s->done_seq < seq) {
			bool done;
			enum session_status st = parse_some(s, &done);
			if (st != SESSION_OK && s->done_seq >= seq)
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
		if (s->done_seq >= seq || closed_by_reply)
			break;
		if (s->conn.fd < 0) {
			if (v == VERB_QUIT)
				return SESSION_OK;
			return SESSION_ERR_NET; /* on_eof or a read error said why */
		}
		enum session_status st = read_some(s, deadline);
		if (st == SESSION_ERR_TIMEOUT) {
			st = fail(s, st, "no reply to %s within %d s%s", verb_names[v],
				  (s->p.timeout_ms + 999) / 1000,
				  mid_reply(s) ? " (the server was still sending it)" : "");
			abandon_stream(s);
			return st;
		}
		if (st == SESSION_ERR_INTERRUPTED) {
			snprintf(s->err, sizeof s->err, "interrupted while waiting for the reply to %s",
				 verb_names[v]);
			abandon_stream(s);
			return st;
		}
		if (st != SESSION_OK)
			return st;
	}
	if (reply)
		reply_copy(reply, result == SESSION_OK ? &s->last : &s->cur);
	return result;
}

/* ---- sending --------------------------------------------------------------------------- */

static enum session_status send_bytes(struct smtp_session *s, const void *data, size_t len)
{
	char err[256] = "";
	int r = conn_write_all(&s->conn, data, len, s->p.timeout_ms, s->intr, err, sizeof err);
	if (r == 0) {
		s->bytes_out += len;
		return SESSION_OK;
	}
	if (r == CONN_IO_INTERRUPTED)
		return fail(s, SESSION_ERR_INTERRUPTED, "%s; the connection is closed", err);
	enum session_status st = fail(s, r == CONN_IO_TIMEOUT ? SESSION_ERR_TIMEOUT : SESSION_ERR_NET,
				      "%s", r == CONN_IO_EOF ? "the server closed the connection" : err);
	close_connection(s, true, s->err);
	return st;
}

static enum verb classify(const char *line, bool in_auth)
{
	if (in_auth)
		return VERB_AUTH_DATA;
	static const struct {
		const char *name;
		enum verb v;
	} table[] = {
		{"EHLO", VERB_EHLO}, {"HELO", VERB_HELO},   {"LHLO", VERB_EHLO},
		{"STARTTLS", VERB_STARTTLS}, {"AUTH", VERB_AUTH}, {"MAIL", VERB_MAIL},
		{"RCPT", VERB_RCPT}, {"DATA", VERB_DATA},   {"RSET", VERB_RSET},
		{"QUIT", VERB_QUIT},
	};
	/* The verb as the server reads it (leading blanks, TABs): " STARTTLS" is STARTTLS. */
	size_t off, n = authline_verb(line, strlen(line), &off);
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
		if (strlen(table[i].name) == n && strncasecmp(line + off, table[i].name, n) == 0)
			return table[i].v;
	return VERB_OTHER;
}

/* Shows what the server sent unasked (before a command, so it is not taken as its reply). */
/* Says how many lines nobody asked for were not shown, if any. */
static void report_hidden(struct smtp_session *s)
{
	if (!s->unsol_hidden)
		return;
	notify(s, SEV_INFO, "... %llu more lines nobody asked for not shown (%llu bytes)",
	       s->unsol_hidden, s->unsol_hidden_bytes);
	s->unsol_hidden = s->unsol_hidden_bytes = 0;
}

static enum session_status drain_some(struct smtp_session *s);

static enum session_status drain_unsolicited(struct smtp_session *s)
{
	enum session_status st = drain_some(s);
	report_hidden(s);
	return st;
}

static enum session_status drain_some(struct smtp_session *s)
{
	/* Bounded like a wait for a reply: a server that sends without end must not hold the
	   shell here (the REPL is not reading the terminal meanwhile). */
	long long deadline = conn_now_ms() + s->p.timeout_ms;
	unsigned reads = 0;
	for (;;) {
		enum session_status st = SESSION_OK;
		while (st == SESSION_OK && s->in_off < s->in.len) {
			bool done;
			st = parse_some(s, &done);
			if (!done)
				break;
		}
		if (s->conn.fd < 0)
			return SESSION_ERR_NET;
		size_t before = s->in.len;
		st = read_some(s, -1);
		if (st != SESSION_OK)
			return st;
		if (s->in.len == before)
			return SESSION_OK;
		/* A Ctrl-C counts here once the server has been sending for more than one read:
		   one pressed at the prompt as a line arrives is the REPL's. */
		bool intr = ++reads > 1 && s->intr && *s->intr;
		if (intr || conn_now_ms() >= deadline) {
			st = intr
				 ? fail(s, SESSION_ERR_INTERRUPTED,
					"interrupted while the server kept sending unasked; "
					"connection closed")
				 : fail(s, SESSION_ERR_PROTO,
					"protocol error: the server kept sending unasked for %d s; "
					"connection closed",
					(s->p.timeout_ms + 999) / 1000);
			close_connection(s, true,
					 "connection closed: the server did not stop sending");
			return st;
		}
	}
}

/* The masked form of a line that holds a secret; false when it holds none. */
static bool redact(const char *line, bool in_auth, char *out, size_t outlen)
{
	if (in_auth) {
		if (strcmp(line, "*") == 0)
			return false; /* cancelling is no secret */
		snprintf(out, outlen, "<redacted>");
		return true;
	}
	return authline_redact(line, strlen(line), out, outlen);
}

/* Follows an AUTH exchange far enough to know the user name (for \status), never the secret. */
static void auth_track(struct smtp_session *s, enum verb v, const char *line)
{
	struct authline a;
	size_t len = strlen(line);
	if (v == VERB_AUTH && authline_parse(line, len, &a)) {
		OPENSSL_cleanse(s->auth_try, sizeof s->auth_try);
		size_t n = a.mech_len;
		snprintf(s->auth_mech, sizeof s->auth_mech, "%.*s", n > 23 ? 23 : (int)n,
			 line + a.mech_off);
		for (char *c = s->auth_mech; *c; c++)
			*c = (char)(*c >= 'a' && *c <= 'z' ? *c - 32 : *c);
		s->auth_nresp = 0;
		if (!a.has_response)
			return;
		line += a.resp_off;
		len = a.resp_len;
	} else if (v != VERB_AUTH_DATA || strcmp(line, "*") == 0) {
		return;
	}
	s->auth_nresp++;
	char user[AUTH_USER_MAX];
	if (authview_user(s->auth_mech, s->auth_nresp, line, len, user, sizeof user))
		memcpy(s->auth_try, user, sizeof user);
	OPENSSL_cleanse(user, sizeof user);
}

/* One command line: its verb, what is shown, and what a transcript may keep. */
struct outgoing {
	const char *line;
	enum verb v;
	const char *shown; /* what listeners see as text */
	bool secret;
	char redacted[96];
};

static void outgoing_init(struct smtp_session *s, struct outgoing *o, const char *line,
			  const char *shown, bool in_auth)
{
	o->line = line;
	o->v = classify(line, in_auth);
	o->secret = redact(line, in_auth, o->redacted, sizeof o->redacted);
	o->shown = shown ? shown : line;
	(void)s;
}

static void emit_command(struct smtp_session *s, const struct outgoing *o, unsigned index,
			 unsigned total)
{
	struct session_event ev = {.type = SEV_SENT,
				   .text = o->shown,
				   .len = strlen(o->shown),
				   .body = o->v == VERB_DOT,
				   .elapsed_ms = -1,
				   .pipe_index = index,
				   .pipe_total = total,
				   .secret = o->secret,
				   .redacted = o->secret ? o->redacted : NULL};
	emit(s, &ev);
}

/*
 * Commands the session refuses to send in its present state, whoever asks (REPL, batch,
 * --replay, a pipelined group). RFC 3207 4.2: "A client MUST NOT attempt to start a TLS
 * session if a TLS session is already active." Sent anyway, a 220 would start a second
 * handshake on the raw socket under the first TLS layer.
 */
static enum session_status check_verb(struct smtp_session *s, enum verb v)
{
	if (v == VERB_STARTTLS && s->conn.ssl)
		return fail(s, SESSION_ERR_STATE,
			    "STARTTLS not sent: this connection is already encrypted with TLS "
			    "(RFC 3207 4.2: no STARTTLS inside TLS)");
	return SESSION_OK;
}

static enum session_status check_line(struct smtp_session *s, const char *line)
{
	size_t len = strlen(line);
	if (len + 2 > READ_CHUNK * 4)
		return fail(s, SESSION_ERR_LOCAL, "command too long (%zu bytes)", len);
	if (strpbrk(line, "\r\n"))
		return fail(s, SESSION_ERR_LOCAL, "a command cannot contain CR or LF");
	return SESSION_OK;
}

static enum session_status send_command(struct smtp_session *s, const char *line,
					const char *shown, enum verb v, struct smtp_reply *reply)
{
	enum session_status st = check_line(s, line);
	if (st != SESSION_OK)
		return st;
	size_t len = strlen(line);
	char *wire = malloc(len + 3);
	if (!wire)
		return fail(s, SESSION_ERR_LOCAL, "out of memory");
	memcpy(wire, line, len);
	memcpy(wire + len, "\r\n", 3);
	if (v == VERB_EHLO)
		caps_clear(&s->caps);
	struct outgoing o;
	outgoing_init(s, &o, line, shown, v == VERB_AUTH_DATA);
	o.v = v;
	auth_track(s, v, line);
	emit_command(s, &o, 0, 0);
	long long t = conn_now_ms();
	st = send_bytes(s, wire, len + 2);
	OPENSSL_cleanse(wire, len + 2);
	free(wire);
	if (st != SESSION_OK)
		return st;
	pend_push(s, v, t, o.secret ? o.redacted : o.shown, 0, 0);
	s->unsolicited = s->unsol_lines = 0;
	return wait_reply(s, s->sent_seq, v, reply);
}

bool session_is_data(const char *line)
{
	return classify(line, false) == VERB_DATA;
}

bool session_pipelinable(const char *line)
{
	enum verb v = classify(line, false);
	return v == VERB_MAIL || v == VERB_RCPT || v == VERB_RSET;
}

/*
 * The server accepted the message and answered 503 to every command pipelined after its "."
 * (Haraka does so on purpose, GHSA-rp4q-8m6x-c43c, although RFC 2920 3.1 allows it). Those
 * commands were not run: they are sent again one at a time, and on this connection the "."
 * goes alone from now on. Not pipelining past the "." with every server would cost each
 * message a round trip on servers that allow it (Postfix, most others); learning it from the
 * refusal costs one resend per connection, and nothing is lost: the replies given to the
 * caller are those of the resend.
 */
static enum session_status resend_after_dot(struct smtp_session *s, const char *const *lines,
					    const char *const *shown, size_t n,
					    const struct outgoing *o, struct smtp_reply *replies)
{
	s->dot_alone = true;
	s->pipe_resent = true;
	notify(s, SEV_WARNING,
	       "the server refused the %zu command%s pipelined after the end of DATA (503): "
	       "sending %s again one at a time; no more pipelining after \".\" on this "
	       "connection",
	       n - 1, n == 2 ? "" : "s", n == 2 ? "it" : "them");
	enum session_status st = SESSION_OK;
	for (size_t i = 1; i < n && st == SESSION_OK; i++)
		st = send_command(s, lines[i], shown ? shown[i] : NULL, o[i].v,
				  replies ? &replies[i] : NULL);
	return st;
}

bool session_pipeline_resent(const struct smtp_session *s)
{
	return s->pipe_resent;
}

enum session_status session_pipeline(struct smtp_session *s, const char *const *lines,
				     const char *const *shown, size_t n,
				     struct smtp_reply *replies)
{
	for (size_t i = 0; replies && i < n; i++)
		reply_clear(&replies[i]);
	if (s->conn.fd < 0)
		return fail(s, SESSION_ERR_STATE, "not connected (use \\connect HOST [PORT])");
	/* RFC 2920 3.1: the message content may be the first "command" of a group. */
	bool dot = s->phase == PHASE_DATA && n && strcmp(lines[0], ".") == 0;
	if (s->phase == PHASE_DATA && !dot)
		return fail(s, SESSION_ERR_STATE, "inside DATA: lines are message content");
	if (s->in_auth)
		return fail(s, SESSION_ERR_STATE, "inside an AUTH exchange: answer the challenge first");
	if (!caps_has(&s->caps, "PIPELINING"))
		return fail(s, SESSION_ERR_STATE, "the server did not offer PIPELINING%s",
			    s->caps.known ? "" : " (no EHLO reply known: send EHLO first)");
	if (n == 0 || n > SESSION_PIPELINE_MAX)
		return fail(s, SESSION_ERR_LOCAL, "a pipelined group holds 1 to %d commands",
			    SESSION_PIPELINE_MAX);
	for (size_t i = 0; i < n; i++) {
		enum session_status st = check_line(s, lines[i]);
		if (st == SESSION_OK && !(dot && i == 0))
			st = check_verb(s, classify(lines[i], false));
		if (st != SESSION_OK)
			return st;
		if (i + 1 < n && !session_pipelinable(lines[i]) && !(dot && i == 0))
			return fail(s, SESSION_ERR_LOCAL,
				    "%.40s can only end a pipelined group (RFC 2920 3.1): only MAIL, "
				    "RCPT and RSET may come before others",
				    lines[i]);
	}
	s->pipe_resent = false;
	enum session_status st = drain_unsolicited(s);
	if (st != SESSION_OK)
		return st;
	if (s->pend_n)
		return fail(s, SESSION_ERR_STATE, "the reply to %s has not arrived yet",
			    verb_names[pend_head(s)->v]);
	if (dot && s->dot_alone && n > 1) { /* this server wants the end of DATA alone */
		st = session_data_end(s, replies ? &replies[0] : NULL);
		if (st != SESSION_OK)
			return st;
		if (n == 2)
			return send_command(s, lines[1], shown ? shown[1] : NULL,
					    classify(lines[1], s->in_auth),
					    replies ? &replies[1] : NULL);
		return session_pipeline(s, lines + 1, shown ? shown + 1 : NULL, n - 1,
					replies ? replies + 1 : NULL);
	}

	struct outgoing *o = calloc(n, sizeof *o);
	struct buf wire;
	buf_init(&wire);
	if (!o) {
		return fail(s, SESSION_ERR_LOCAL, "out of memory");
	}
	if (dot) { /* the lines gathered, the end of the body (its last line ended), then "." */
		char end[2];
		buf_append(&wire, s->out.data ? s->out.data : "", s->out.len);
		buf_reset(&s->out);
		buf_append(&wire, end, dotstuff_finish(&s->ds, end));
	}
	for (size_t i = 0; i < n; i++) {
		outgoing_init(s, &o[i], lines[i], shown ? shown[i] : NULL, false);
		if (dot && i == 0)
			o[i].v = VERB_DOT;
		buf_puts(&wire, lines[i]);
		buf_puts(&wire, "\r\n");
	}
	if (!wire.data) {
		free(o);
		return fail(s, SESSION_ERR_LOCAL, "out of memory");
	}
	notify(s, SEV_INFO, "pipelining %zu command%s in one write (%zu byte%s)", n,
	       n == 1 ? "" : "s", wire.len, wire.len == 1 ? "" : "s");
	for (size_t i = 0; i < n; i++) {
		if (o[i].v == VERB_EHLO)
			caps_clear(&s->caps);
		auth_track(s, o[i].v, lines[i]);
		emit_command(s, &o[i], (unsigned)(i + 1), (unsigned)n);
	}
	long long t = conn_now_ms();
	st = send_bytes(s, wire.data, wire.len);
	buf_free_secret(&wire);
	if (st == SESSION_OK) {
		unsigned long long first = s->sent_seq + 1;
		for (size_t i = 0; i < n; i++)
			pend_push(s, o[i].v, t, o[i].secret ? o[i].redacted : o[i].shown,
				  (unsigned)(i + 1), (unsigned)n);
		s->unsolicited = s->unsol_lines = 0;
		bool dot_ok = false; /* the message was accepted... */
		size_t refused = 0;  /* ...and these commands after it got 503 */
		for (size_t i = 0; i < n; i++) {
			enum session_status r = wait_reply(s, first + i, o[i].v,
							   replies ? &replies[i] : NULL);
			if (r != SESSION_OK && st == SESSION_OK)
				st = r;
			if (r != SESSION_OK && r != SESSION_ERR_PROTO)
				break;
			int code = r == SESSION_OK ? s->last.code : 0;
			if (dot && i == 0)
				dot_ok = code >= 200 && code < 300;
			else if (dot && code == 503)
				refused++;
		}
		if (st == SESSION_OK && dot_ok && n > 1 && refused == n - 1 && s->conn.fd >= 0)
			st = resend_after_dot(s, lines, shown, n, o, replies);
	}
	free(o);
	return st;
}

enum session_status session_command(struct smtp_session *s, const char *line, const char *shown,
				    struct smtp_reply *reply)
{
	if (reply)
		reply_clear(reply);
	if (s->conn.fd < 0)
		return fail(s, SESSION_ERR_STATE, "not connected (use \\connect HOST [PORT])");
	if (s->phase == PHASE_DATA)
		return fail(s, SESSION_ERR_STATE, "inside DATA: lines are message content");
	enum session_status st = drain_unsolicited(s);
	if (st != SESSION_OK)
		return st;
	enum verb v = classify(line, s->in_auth);
	st = check_verb(s, v);
	if (st != SESSION_OK)
		return st;
	if (s->pend_n)
		notify(s, SEV_WARNING,
		       "the reply to %s has not arrived yet: the next reply shown answers it first",
		       verb_names[pend_head(s)->v]);
	return send_command(s, line, shown, v, reply);
}

/* ---- TLS --------------------------------------------------------------------------------- */

static enum session_status handshake(struct smtp_session *s)
{
	char err[512] = "";
	if (!s->ctx) {
		struct tls_options opt = {.cafile = s->p.cafile, .insecure = s->p.insecure};
		s->ctx = tls_context_new(&opt, err, sizeof err);
		if (!s->ctx) {
			enum session_status st = fail(s, SESSION_ERR_TLS, "%s", err);
			close_connection(s, true, "TLS could not be set up");
			return st;
		}
	}
	before_wait(s);
	long long t0 = conn_now_ms();
	int r = tls_handshake(&s->conn, s->ctx, s->host, s->p.timeout_ms, s->intr,
			      err, sizeof err);
	long took = (long)(conn_now_ms() - t0);
	if (r != 0) {
		enum session_status st = fail(s, r == CONN_IO_INTERRUPTED ? SESSION_ERR_INTERRUPTED
									 : SESSION_ERR_TLS,
					      "%s", err);
		close_connection(s, true, "connection closed: no TLS");
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
	struct session_event ev = {.type = SEV_TLS, .text = sum.data ? sum.data : "",
				   .len = sum.len, .elapsed_ms = took};
	emit(s, &ev);
	buf_free(&sum);
	if (!s->verified)
		notify(s, SEV_WARNING,
		       "--insecure: the server's identity is NOT verified; anyone on the path can "
		       "read and change this session");
	return SESSION_OK;
}

/* After 220 to STARTTLS: nothing the server sent before our handshake may count (RFC 3207). */
static enum session_status upgrade_tls(struct smtp_session *s)
{
	size_t buffered = s->in.len - s->in_off;
	struct buf shown;
	buf_init(&shown);
	escape_append(&shown, s->in.data + s->in_off, buffered > 80 ? 80 : buffered,
		      ESCAPE_DEFAULT);
	buffered += reply_parser_pending(&s->parser);
	ssize_t later = conn_drain_plain(&s->conn);
	if (later > 0)
		buffered += (size_t)later;
	if (buffered)
		notify(s, SEV_WARNING,
		       "discarded %zu bytes the server sent after 220 and before the TLS handshake "
		       "(response injection?)%s%s%s",
		       buffered, shown.len ? ": \"" : "", shown.len ? shown.data : "",
		       shown.len ? "\"" : "");
	buf_free(&shown);
	buf_reset(&s->in);
	s->in_off = 0;
	reply_parser_reset(&s->parser);
	s->reply_broken = false;
	caps_clear(&s->caps);
	s->pend_head = s->pend_n = 0;
	s->done_seq = s->sent_seq;
	enum session_status st = handshake(s);
	if (st != SESSION_OK)
		return st;
	s->phase = PHASE_GREETED;
	s->in_auth = false;
	auth_forget(s); /* RFC 3207 4.2: the client forgets what it learnt before TLS */
	return SESSION_OK;
}

/* ---- connecting -------------------------------------------------------------------------- */

enum session_status session_connect(struct smtp_session *s, const char *host, const char *port,
				    enum tls_mode mode)
{
	if (s->conn.fd >= 0)
		session_disconnect(s, "connection closed (new connection)");
	reset_connection_state(s);
	free(s->host);
	s->host = strdup(host);
	if (!s->host)
		return fail(s, SESSION_ERR_LOCAL, "out of memory");
	if (!port)
		port = mode == TLS_IMPLICIT ? "465" : mode == TLS_STARTTLS ? "587" : "25";
	snprintf(s->port, sizeof s->port, "%s", port);
	s->mode = mode;
	char err[512] = "";
	before_wait(s);
	long long t0 = conn_now_ms();
	int r = conn_connect(&s->conn, host, port, s->p.family, s->p.timeout_ms, s->intr, err,
			     sizeof err);
	long took = (long)(conn_now_ms() - t0);
	if (r != 0) {
		s->phase = PHASE_DISCONNECTED;
		return fail(s, r == CONN_IO_INTERRUPTED ? SESSION_ERR_INTERRUPTED
			    : r == CONN_IO_TIMEOUT	 ? SESSION_ERR_TIMEOUT
							 : SESSION_ERR_NET,
			    "%s", err);
	}
	if (strcmp(host, s->conn.peer_addr) == 0)
		notify_timed(s, took, "connected to %s port %u", s->conn.peer_addr,
			     s->conn.peer_port);
	else
		notify_timed(s, took, "connected to %s (%s) port %u", host, s->conn.peer_addr,
			     s->conn.peer_port);
	s->phase = PHASE_GREETING;
	enum session_status st;
	s->implicit_tls = mode == TLS_IMPLICIT;
	if (mode == TLS_IMPLICIT && (st = handshake(s)) != SESSION_OK)
		goto failed;
	pend_push(s, VERB_GREETING, conn_now_ms(), NULL, 0, 0);
	st = wait_reply(s, s->sent_seq, VERB_GREETING, NULL);
	if (st != SESSION_OK || mode != TLS_STARTTLS)
		goto done;
	if (s->greeting >= 400) { /* no EHLO, no STARTTLS to a server that refused us */
		st = fail(s, SESSION_ERR_REFUSED,
			  "the server refused the session (%d): stopping before STARTTLS, nothing "
			  "is sent",
			  s->greeting);
		close_connection(s, true, "connection closed: the session was refused");
		goto failed;
	}

	char line[300];
	snprintf(line, sizeof line, "EHLO %s", s->p.ehlo_name);
	struct smtp_reply rep;
	smtp_reply_init(&rep);
	st = send_command(s, line, NULL, VERB_EHLO, &rep);
	if (st == SESSION_OK && rep.code != 250)
		st = fail(s, SESSION_ERR_TLS, "EHLO refused (%d): cannot ask for STARTTLS", rep.code);
	else if (st == SESSION_OK && !caps_has(&s->caps, "STARTTLS"))
		st = fail(s, SESSION_ERR_TLS,
			  "the server does not offer STARTTLS: stopping here, nothing more is sent "
			  "in plaintext");
	if (st == SESSION_OK)
		st = send_command(s, "STARTTLS", NULL, VERB_STARTTLS, &rep);
	if (st == SESSION_OK && rep.code != 220)
		st = fail(s, SESSION_ERR_TLS,
			  "the server refused STARTTLS (%d): stopping here, nothing more is sent in "
			  "plaintext",
			  rep.code);
	if (st == SESSION_OK && !s->conn.ssl)
		st = SESSION_ERR_TLS;
	if (st == SESSION_OK)
		st = send_command(s, line, NULL, VERB_EHLO, NULL);
	smtp_reply_free(&rep);
	if (st == SESSION_ERR_TLS && s->conn.fd >= 0)
		close_connection(s, true, "connection closed: TLS was required");
done:
	if (st == SESSION_OK)
		return st;
failed:
	if (s->conn.fd >= 0 && st != SESSION_ERR_PROTO && st != SESSION_ERR_TIMEOUT &&
	    st != SESSION_ERR_INTERRUPTED)
		close_connection(s, true, s->err);
	if (st == SESSION_ERR_TIMEOUT || st == SESSION_ERR_INTERRUPTED)
		close_connection(s, true, "connection abandoned");
	if (s->phase == PHASE_CLOSED)
		s->phase = PHASE_DISCONNECTED;
	return st;
}

/* ---- DATA -------------------------------------------------------------------------------- */

enum session_status session_flush(struct smtp_session *s)
{
	if (!s->out.len || s->conn.fd < 0)
		return SESSION_OK;
	before_wait(s);
	enum session_status st = send_bytes(s, s->out.data, s->out.len);
	buf_reset(&s->out);
	return st;
}

/* s->out holds the encoded lines of session_data_line not written yet (coalesce_body). */
enum session_status session_data_line(struct smtp_session *s, const char *line, size_t len)
{
	if (s->phase != PHASE_DATA || s->conn.fd < 0)
		return fail(s, SESSION_ERR_STATE, "not inside DATA");
	if (memchr(line, '\r', len) || memchr(line, '\n', len) || memchr(line, '\0', len))
		return fail(s, SESSION_ERR_LOCAL, "a message line cannot contain CR, LF or NUL");
	size_t at = s->out.len;
	if (buf_reserve(&s->out, DOTSTUFF_MAX_OUT(len) + 4) < 0)
		return fail(s, SESSION_ERR_LOCAL, "out of memory");
	size_t n = dotstuff_encode(&s->ds, line, len, s->out.data + at);
	n += dotstuff_encode(&s->ds, "\n", 1, s->out.data + at + n);
	s->out.len = at + n;
	emit_sent(s, s->out.data + at, n - 2, true);
	if (s->p.coalesce_body && s->out.len < FILE_CHUNK)
		return SESSION_OK;
	return session_flush(s);
}

/* Shows the lines of encoded body bytes, the first `max` of them in full. */
struct body_view {
	struct buf line; /* the start of a line cut by the end of a chunk (up to SHOWN_LINE_MAX) */
	size_t line_len; /* its whole length so far */
	size_t shown;
	bool quiet_wanted; /* a listener wants the lines past the screen's limit */
};

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
				   .elapsed_ms = -1};
	emit(s, &ev);
	if (text == v->line.data)
		buf_reset(&v->line);
}

/*
 * Encoded bytes (CR only in CRLF, which the encoder writes whole) cut into lines with memchr;
 * a line inside the chunk is shown from the chunk, only one cut by its end is copied.
 */
static void view_bytes(struct smtp_session *s, struct body_view *v, const char *p, size_t n)
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
	return fail(s, SESSION_ERR_LOCAL,
		    "cannot send %s: line %llu holds a NUL octet (a server that drops it could "
		    "take what follows for the end of the data); %s",
		    label, line,
		    partly_sent ? "nothing from that line's chunk on was sent"
				: "nothing of it was sent");
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
	if (s->phase != PHASE_DATA || s->conn.fd < 0)
		return fail(s, SESSION_ERR_STATE, "\\file works inside DATA only");
	FILE *f = fopen(path, "rb");
	struct stat sb;
	if (!f)
		return fail(s, SESSION_ERR_LOCAL, "cannot open %s: %s", path, strerror(errno));
	if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
		fclose(f);
		return fail(s, SESSION_ERR_LOCAL, "cannot send %s: it is a directory", path);
	}
	if (S_ISREG(sb.st_mode)) {
		char *chunk = malloc(FILE_CHUNK), err[256] = "";
		unsigned long long line = 0;
		int r = chunk ? file_nul_line(f, chunk, &line, err, sizeof err) : -1;
		free(chunk);
		if (r < 0 || line) {
			fclose(f);
			if (r < 0)
				return fail(s, SESSION_ERR_LOCAL, "error reading %s: %s", path,
					    err[0] ? err : "out of memory");
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
	if ((st == SESSION_ERR_LOCAL || st == SESSION_ERR_INTERRUPTED) && s->phase == PHASE_DATA &&
	    s->bytes_out != out0)
		notify(s, SEV_INFO, "the message holds part of %s: end it with '.' to send it "
				    "anyway, or \\disconnect to abandon it",
		       path);
	return st;
}

enum session_status session_data_stream(struct smtp_session *s, session_reader reader,
					void *arg, const char *label)
{
	if (s->phase != PHASE_DATA || s->conn.fd < 0)
		return fail(s, SESSION_ERR_STATE, "not inside DATA");
	enum session_status fst = session_flush(s); /* lines typed before it go first */
	if (fst != SESSION_OK)
		return fst;
	char *chunk = malloc(FILE_CHUNK);
	struct body_view v = {.quiet_wanted = quiet_wanted(s)};
	buf_init(&v.line);
	/* The encoder counts the lines; they are looked at only while some are to be shown. */
	unsigned long long lines0 = s->ds.lines, long0 = s->ds.long_lines, bytes = 0;
	bool viewing = true;
	enum session_status st = SESSION_OK;
	if (!chunk || buf_reserve(&s->out, DOTSTUFF_MAX_OUT(FILE_CHUNK)) < 0) {
		st = fail(s, SESSION_ERR_LOCAL, "out of memory");
		goto out;
	}
	for (;;) {
		char err[256] = "";
		ssize_t r = reader(arg, chunk, FILE_CHUNK, err, sizeof err);
		if (r < 0) {
			st = fail(s, SESSION_ERR_LOCAL, "error reading %s: %s", label, err);
			break;
		}
		size_t n = (size_t)r;
		const char *nul = n ? memchr(chunk, '\0', n) : NULL;
		if (nul) { /* a file that changed since it was checked, or a pipe */
			bool cr = s->ds.cr;
			unsigned long long line =
			    s->ds.lines - lines0 + (s->ds.cr ? 1 : 0) +
			    count_line_ends(chunk, (size_t)(nul - chunk), &cr) + 1;
			st = refuse_nul(s, label, line, bytes > 0);
			break;
		}
		size_t m = n ? dotstuff_encode(&s->ds, chunk, n, s->out.data) : 0;
		if (n == 0)
			m += dotstuff_finish(&s->ds, s->out.data + m);
		bytes += m;
		if (viewing) {
			view_bytes(s, &v, s->out.data, m);
			viewing = v.quiet_wanted || v.shown < s->p.body_echo_max;
		}
		before_wait(s); /* the shown lines appear before a write that may wait */
		if (m && (st = send_bytes(s, s->out.data, m)) != SESSION_OK)
			break;
		if (n == 0)
			break;
		if (s->intr && *s->intr) {
			st = fail(s, SESSION_ERR_INTERRUPTED, "interrupted while sending %s", label);
			break;
		}
	}
	if (viewing && v.line_len) /* cannot happen: the encoder ends the body with CRLF */
		view_line(s, &v, v.line.data, v.line.len, v.line_len);
	unsigned long long lines = s->ds.lines - lines0, longs = s->ds.long_lines - long0;
	if (lines > v.shown)
		notify(s, SEV_INFO,
		       "... %llu more lines not shown (%llu lines, %llu bytes from %s)",
		       lines - v.shown, lines, bytes, label);
	if (longs)
		notify(s, SEV_WARNING,
		       "%llu lines of %s are longer than 998 octets (RFC 5322 limit)", longs,
		       label);
out:
	buf_reset(&s->out);
	free(chunk);
	buf_free(&v.line);
	return st;
}

enum session_status session_data_end(struct smtp_session *s, struct smtp_reply *reply)
{
	if (reply)
		reply_clear(reply);
	if (s->phase != PHASE_DATA || s->conn.fd < 0)
		return fail(s, SESSION_ERR_STATE, "not inside DATA");
	char end[8];
	size_t n = dotstuff_finish(&s->ds, end);
	memcpy(end + n, ".\r\n", 3);
	emit_sent(s, ".", 1, true);
	if (buf_append(&s->out, end, n + 3) < 0) /* after the lines gathered: one write */
		return fail(s, SESSION_ERR_LOCAL, "out of memory");
	long long t = conn_now_ms();
	enum session_status st = session_flush(s);
	if (st != SESSION_OK)
		return st;
	pend_push(s, VERB_DOT, t, ".", 0, 0);
	return wait_reply(s, s->sent_seq, VERB_DOT, reply);
}

/* ---- polling and queries ------------------------------------------------------------------ */

enum session_status session_poll(struct smtp_session *s)
{
	if (s->conn.fd < 0)
		return SESSION_OK;
	enum session_status st = drain_unsolicited(s);
	return st == SESSION_ERR_NET && s->conn.fd < 0 ? SESSION_OK : st;
}

int session_greeting_code(const struct smtp_session *s)
{
	return s->greeting;
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
	return s->phase;
}

const char *session_phase_name(enum smtp_phase p)
{
	return phase_names[p];
}

bool session_connected(const struct smtp_session *s)
{
	return s->conn.fd >= 0;
}

bool session_tls(const struct smtp_session *s)
{
	return s->conn.ssl != NULL;
}

bool session_tls_verified(const struct smtp_session *s)
{
	return s->conn.ssl != NULL && s->verified;
}

bool session_peer_loopback(const struct smtp_session *s)
{
	return conn_addr_is_loopback(s->conn.peer_addr);
}

bool session_in_auth(const struct smtp_session *s)
{
	return s->in_auth;
}

bool session_reply_pending(const struct smtp_session *s)
{
	return s->pend_n > 0;
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
	return &s->caps;
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

const char *session_auth_user(const struct smtp_session *s)
{
	return s->authed ? s->auth_user : NULL;
}

const char *session_auth_mech(const struct smtp_session *s)
{
	return s->authed ? s->authed_mech : NULL;
}

void session_tls_summary(const struct smtp_session *s, struct buf *out)
{
	if (s->conn.ssl)
		tls_summary(s->conn.ssl, out);
}

const char *session_error(const struct smtp_session *s)
{
	return s->err;
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
			   caps_has(&s->caps, "STARTTLS") ? " (the server offers STARTTLS)" : "");
		return;
	}
	buf_printf(out, "TLS (%s) to %s (%s) port %s\n",
		   s->implicit_tls ? "implicit, from the first byte" : "upgraded by STARTTLS", s->host,
		   s->conn.peer_addr, s->port);
	tls_describe(s->conn.ssl, out);
}
