#include "smtpsh/replay.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "smtpsh/authline.h"
#include "smtpsh/authview.h"
#include "smtpsh/escape.h"
#include "smtpsh/step.h"
#include "smtpsh/transcript.h"
#include "shell_int.h"

struct replay {
	struct shell *sh;
	const struct replay_options *o;
	struct transcript_reader rd;
	struct transcript_entry e;
	bool pushed;	      /* e holds an entry read but not used yet */
	bool rec_in_data;     /* the recording is inside DATA (after its 354) */
	bool rec_in_auth;     /* the recording is inside an AUTH exchange (after its 334) */
	char mech[32];	      /* mechanism of the AUTH exchange going on */
	unsigned nresp;	      /* responses sent in it */
	bool skip_exchange;   /* --replay-skip-auth: leaving this AUTH exchange out */
	struct buf challenge; /* the live server's last 334 text (base64) */
	int live_greeting;
	unsigned long compared, differed;
	bool stop;
	/* the live session was out of step (raw octets) when the command went: its recorded
	   reply is the last one before the next sent line (the probe's rule, client.h) */
	bool probe;
};

/* Remembers the live greeting's code (session_connect shows it, but does not return it). */
static void on_event(const struct session_event *ev, void *arg)
{
	struct replay *rp = arg;
	if (ev->type == SEV_RECEIVED && ev->last && ev->verb && strcmp(ev->verb, "greeting") == 0)
		rp->live_greeting = ev->code;
}

static void set_status(struct replay *rp, int status)
{
	if (rp->sh->status == EXIT_OK)
		rp->sh->status = status;
}

__attribute__((format(printf, 2, 3))) static void stop(struct replay *rp, const char *fmt, ...)
{
	char msg[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	render_alert(rp->sh->render, "replay: %s", msg);
	rp->stop = true;
}

/* The next entry that matters; comments are shown on the way. 1, 0 at the end, -1 error. */
static int next(struct replay *rp)
{
	if (rp->pushed) {
		rp->pushed = false;
		return 1;
	}
	for (;;) {
		int r = transcript_reader_next(&rp->rd, &rp->e);
		if (r < 0) {
			stop(rp, "%s: %s", rp->o->path, rp->rd.err);
			set_status(rp, EXIT_USAGE);
			return -1;
		}
		if (r == 0)
			return 0;
		if (rp->e.kind == TR_COMMENT)
			render_comment(rp->sh->render, rp->e.text.data ? rp->e.text.data : "",
				       rp->e.text.len);
		else if (rp->e.kind != TR_BLANK)
			return 1;
	}
}

/*
 * Reads the recorded reply of the command just replayed: its final code (0 for a malformed
 * reply), -1 when none was recorded (the transcript ends, or goes on with a sent line).
 * *line gets the line number of its last line.
 */
static int recorded_reply(struct replay *rp, unsigned long *line)
{
	bool probe = rp->probe;
	rp->probe = false;
	int found = -1;
	for (;;) {
		int r = next(rp);
		if (r <= 0)
			return found;
		if (rp->e.kind == TR_SENT) {
			rp->pushed = true;
			return found;
		}
		if (rp->e.kind != TR_RECEIVED)
			continue; /* local events of the recording: the replay makes its own */
		if (!rp->e.code || rp->e.last) {
			*line = rp->rd.lineno;
			found = rp->e.code;
			if (!probe) /* in step: the first reply is the command's */
				return found;
		}
	}
}

/* The replies recorded after raw octets: not compared (nothing says which is whose); the live
   ones are shown as they come. */
static void skip_recorded_replies(struct replay *rp)
{
	for (;;) {
		int r = next(rp);
		if (r <= 0)
			return;
		if (rp->e.kind == TR_SENT) {
			rp->pushed = true;
			return;
		}
	}
}

static void compare(struct replay *rp, int expected, unsigned long line, int got, const char *what)
{
	if (expected < 0)
		return;
	rp->compared++;
	if (expected == got)
		return;
	rp->differed++;
	set_status(rp, EXIT_REPLY);
	char g[32], e[32];
	snprintf(g, sizeof g, "%d", got);
	snprintf(e, sizeof e, "%d", expected);
	render_alert(rp->sh->render, "replay: line %lu: expected %s, got %s (%s)", line,
		     expected ? e : "a malformed reply", got ? g : "no reply", what);
}

/*
 * The end of DATA in LMTP (RFC 2033 4.2): one reply per accepted recipient, in RCPT order.
 * Each recorded reply (version 2 records its recipient, "rcpt:ADDR"; version 1 did not, the
 * order alone pairs them) is compared with the live final reply of the recipient in the same
 * place among the accepted ones (session_txn); a recorded one with no live counterpart is
 * "no reply".
 */
static void compare_lmtp_dot(struct replay *rp)
{
	const struct client_txn *t = session_txn(rp->sh->session);
	size_t k = 0; /* the recorded replies to "." so far */
	char addr[CLIENT_RCPT_ADDR_MAX];
	for (;;) {
		int r = next(rp);
		if (r <= 0)
			return;
		if (rp->e.kind == TR_SENT) {
			rp->pushed = true;
			return;
		}
		if (rp->e.kind != TR_RECEIVED)
			continue;
		if (rp->e.code && !rp->e.last)
			continue;
		/* the k-th accepted recipient of the live transaction */
		const struct client_rcpt *live = NULL;
		for (size_t i = 0, seen = 0; t && i < t->n && !live; i++)
			if (t->rcpt[i].accepted && seen++ == k)
				live = &t->rcpt[i];
		k++;
		if (rp->e.has_rcpt)
			snprintf(addr, sizeof addr, "%.*s",
				 rp->e.rcpt.len < sizeof addr ? (int)rp->e.rcpt.len
							      : (int)sizeof addr - 1,
				 rp->e.rcpt.data ? rp->e.rcpt.data : "");
		else
			snprintf(addr, sizeof addr, "%s", live ? live->addr : "?");
		struct buf what;
		buf_init(&what);
		buf_puts(&what, "the end of DATA for <");
		escape_append(&what, addr, strlen(addr), ESCAPE_DEFAULT);
		buf_puts(&what, ">");
		compare(rp, rp->e.code, rp->rd.lineno, live ? live->final_code : 0,
			what.data ? what.data : "the end of DATA");
		buf_free(&what);
	}
}

/* After the live reply to an AUTH step: keep its challenge for the next response. */
static void keep_challenge(struct replay *rp, const struct smtp_reply *rep)
{
	buf_reset(&rp->challenge);
	if (rep->code != 334 || !rep->text.data)
		return;
	const char *last = strrchr(rep->text.data, '\n');
	last = last ? last + 1 : rep->text.data;
	if (strlen(last) > 4)
		buf_puts(&rp->challenge, last + 4);
}

/* Follows the recording's state after a command and its recorded reply. */
static void track(struct replay *rp, const char *line, int recorded)
{
	bool was_auth = rp->rec_in_auth;
	struct authline a;
	bool auth = !was_auth && authline_parse(line, strlen(line), &a);
	rp->rec_in_auth = recorded == 334 && (was_auth || auth);
	if (!was_auth && strncasecmp(line, "DATA", 4) == 0 && (line[4] == '\0' || line[4] == ' '))
		rp->rec_in_data = recorded == 354;
	if (auth) {
		size_t n = a.mech_len;
		snprintf(rp->mech, sizeof rp->mech, "%.*s", n > 31 ? 31 : (int)n,
			 line + a.mech_off);
		rp->nresp = a.has_response ? 1 : 0;
	} else if (was_auth && strcmp(line, "*") != 0) {
		rp->nresp++;
	}
}

static bool is_redacted(const struct replay *rp, const char *line)
{
	if (rp->rec_in_auth)
		return strcmp(line, "<redacted>") == 0;
	struct authline a;
	return authline_parse(line, strlen(line), &a) && a.resp_len == 10 &&
	       memcmp(line + a.resp_off, "<redacted>", 10) == 0;
}

/*
 * The line to send for a recorded command: the recorded text, or, where the recording hides a
 * secret, a response made from --replay-user and the password. NULL when it cannot be made
 * (the replay stops). *secret says that the line holds one.
 */
static char *line_to_send(struct replay *rp, const char *rec, bool *secret)
{
	*secret = false;
	if (!is_redacted(rp, rec))
		return strdup(rec);
	if (!rp->o->user || !rp->o->password) {
		stop(
		    rp,
		    "line %lu: the transcript hides the AUTH secret here (<redacted>): give "
		    "--replay-user USER (and the password in SMTPSH_REPLAY_PASSWORD) to log in, or "
		    "--replay-skip-auth to leave AUTH out",
		    rp->rd.lineno);
		set_status(rp, EXIT_USAGE);
		return NULL;
	}
	const struct smtp_session *s = rp->sh->session;
	if (!session_tls(s) && !session_peer_loopback(s) && !rp->sh->allow_plaintext_auth) {
		stop(rp, "line %lu: refusing to send the password without TLS to %s", rp->rd.lineno,
		     session_host(s));
		set_status(rp, EXIT_TLS);
		return NULL;
	}
	*secret = true;
	struct buf out;
	buf_init(&out);
	int r;
	if (rp->rec_in_auth) {
		r = authview_respond(rp->mech, rp->nresp + 1, rp->challenge.data, rp->challenge.len,
				     rp->o->user, rp->o->password, &out);
	} else {
		struct authline a;
		authline_parse(rec, strlen(rec), &a); /* is_redacted() said it is one */
		char mech[32];
		snprintf(mech, sizeof mech, "%.*s", a.mech_len > 31 ? 31 : (int)a.mech_len,
			 rec + a.mech_off);
		buf_printf(&out, "AUTH %s ", mech);
		r = authview_respond(mech, 1, "", 0, rp->o->user, rp->o->password, &out);
	}
	if (r < 0 || !out.data) {
		buf_free_secret(&out);
		stop(rp,
		     "line %lu: cannot answer AUTH %s for a replay (PLAIN, LOGIN, CRAM-MD5, "
		     "XOAUTH2 and OAUTHBEARER can be)",
		     rp->rd.lineno, rp->mech[0] ? rp->mech : "?");
		set_status(rp, EXIT_USAGE);
		return NULL;
	}
	char *line = strdup(out.data);
	buf_free_secret(&out);
	return line;
}

static void free_secret(char *line, bool secret)
{
	if (line && secret)
		OPENSSL_cleanse(line, strlen(line));
	free(line);
}

/*
 * Never send a message the recording does not have: the server said 354 where it refused.
 * Where it refused a DATA the recording has accepted, the recorded message is skipped up to
 * its "." as a batch script's is (shell_skip_begin).
 */
static void refuse_unrecorded_data(struct replay *rp, int live_code)
{
	struct shell *sh = rp->sh;
	if (rp->rec_in_data && session_phase(sh->session) != PHASE_DATA && !shell_skipping(sh))
		shell_skip_begin(sh, live_code);
	if (rp->rec_in_data || session_phase(sh->session) != PHASE_DATA)
		return;
	stop(rp, "the server accepted DATA where the recording shows a refusal: stopping "
		 "without sending a message");
	session_disconnect(sh->session, "connection closed: the message is abandoned");
	set_status(rp, EXIT_REPLY);
}

/* Octets recorded as a raw write (version 2): sent again exactly. */
static void replay_raw(struct replay *rp)
{
	struct shell *sh = rp->sh;
	unsigned long line = rp->rd.lineno;
	const char *t = rp->e.text.data;
	size_t len = rp->e.text.len;
	if (rp->e.tls && !session_tls(sh->session)) {
		stop(rp,
		     "line %lu was sent under TLS in the recording, but this connection is not "
		     "encrypted: stopping, nothing more is sent",
		     line);
		set_status(rp, EXIT_REPLY);
		return;
	}
	if (memmem(t, len, "<redacted>", 10) || rp->rec_in_auth) {
		/* the recording holds "<redacted>" where a secret was (client_raw's redaction):
		   sent as it stands it would be a wrong answer at best */
		stop(rp,
		     "line %lu: raw octets with an AUTH secret, redacted in the transcript: they "
		     "cannot be replayed",
		     line);
		set_status(rp, EXIT_USAGE);
		return;
	}
	if (authline_raw_refused_in_clear(t, len, session_tls(sh->session),
					  session_peer_loopback(sh->session),
					  sh->allow_plaintext_auth) &&
	    !shell_auth_allowed(sh)) {
		stop(rp, "line %lu: AUTH not sent", line);
		return;
	}
	if (sh->step) {
		struct buf shown;
		buf_init(&shown);
		escape_append(&shown, t, len, ESCAPE_DEFAULT);
		bool go = step_wait(shown.data ? shown.data : "");
		buf_free(&shown);
		if (!go) {
			stop(rp, "stopped at line %lu (--step)", line);
			set_status(rp, EXIT_INTERRUPT);
			return;
		}
	}
	shell_failed(sh, session_raw(sh->session, t, len, false));
	skip_recorded_replies(rp);
}

/* "BDAT n [LAST]" (RFC 3030): is the recorded command one, followed by its chunk's octets? */
static bool is_bdat(const char *rec)
{
	size_t off, n = authline_verb(rec, strlen(rec), &off);
	return n == 4 && strncasecmp(rec + off, "BDAT", 4) == 0;
}

/* The octets of the chunk recorded after a BDAT command (version 2 "chunk" lines), into out.
   0, or -1 when they are not all there (the replay stops). */
static int recorded_chunk(struct replay *rp, unsigned long cmd_line, struct buf *out)
{
	for (;;) {
		int r = next(rp);
		if (r < 0)
			return -1;
		if (r == 0 || rp->e.kind != TR_SENT || !rp->e.chunk) {
			if (r > 0)
				rp->pushed = true;
			return 0;
		}
		if (rp->e.omitted) {
			stop(rp,
			     "line %lu: the transcript holds a summary of the chunk of line %lu, "
			     "not "
			     "its %llu octets: it cannot be replayed",
			     rp->rd.lineno, cmd_line, rp->e.omitted);
			set_status(rp, EXIT_USAGE);
			return -1;
		}
		if (buf_append(out, rp->e.text.data, rp->e.text.len) < 0) {
			stop(rp, "out of memory");
			return -1;
		}
	}
}

/* One command, in lockstep. */
static void replay_command(struct replay *rp, const char *rec)
{
	struct shell *sh = rp->sh;
	unsigned long cmd_line = rp->rd.lineno;
	bool starts_auth = !rp->rec_in_auth && authline_parse(rec, strlen(rec), NULL);
	if (rp->o->skip_auth && (starts_auth || rp->rec_in_auth)) {
		unsigned long line;
		int expected = recorded_reply(rp, &line);
		render_info(sh->render, "replay: line %lu left out (--replay-skip-auth)", cmd_line);
		track(rp, rec, expected);
		return;
	}
	if (rp->rec_in_auth && !session_in_auth(sh->session)) {
		/* the live server ended the exchange already: its other responses are moot */
		unsigned long line;
		int expected = recorded_reply(rp, &line);
		track(rp, rec, expected);
		return;
	}
	if (!rp->rec_in_auth && session_in_auth(sh->session)) {
		render_info(sh->render,
			    "replay: the server still waits for an AUTH answer where the "
			    "recording does not: cancelling it with *");
		struct smtp_reply r;
		smtp_reply_init(&r);
		shell_failed(sh, session_command(sh->session, "*", NULL, &r));
		smtp_reply_free(&r);
		if (sh->done)
			return;
	}
	if (rp->e.tls && !session_tls(sh->session)) {
		stop(rp,
		     "line %lu was sent under TLS in the recording, but this connection is not "
		     "encrypted: stopping, nothing more is sent",
		     cmd_line);
		set_status(rp, EXIT_REPLY);
		return;
	}
	if (starts_auth && !shell_auth_allowed(sh)) { /* an AUTH line in clear too */
		stop(rp, "line %lu: AUTH not sent", cmd_line);
		return;
	}
	bool secret;
	char *line = line_to_send(rp, rec, &secret);
	if (!line)
		return;
	if (sh->step && !step_wait(secret ? rec : line)) {
		free_secret(line, secret);
		stop(rp, "stopped at line %lu (--step)", cmd_line);
		set_status(rp, EXIT_INTERRUPT);
		return;
	}
	struct smtp_reply rep;
	smtp_reply_init(&rep);
	rp->probe = session_out_of_step(sh->session);
	enum session_status st;
	if (is_bdat(rec)) {
		struct buf chunk;
		buf_init(&chunk);
		if (recorded_chunk(rp, cmd_line, &chunk) < 0) {
			buf_free(&chunk);
			free_secret(line, secret);
			smtp_reply_free(&rep);
			return;
		}
		st = session_command_payload(sh->session, line, chunk.data ? chunk.data : "",
					     chunk.len, &rep);
		buf_free(&chunk);
	} else {
		st = session_command(sh->session, line, secret ? rec : NULL, &rep);
	}
	free_secret(line, secret);
	shell_failed(sh, st);
	keep_challenge(rp, &rep);
	unsigned long rline = cmd_line;
	int expected = recorded_reply(rp, &rline);
	compare(rp, expected, rline, st == SESSION_OK || st == SESSION_ERR_PROTO ? rep.code : 0,
		rec);
	track(rp, rec, expected);
	refuse_unrecorded_data(rp, rep.code);
	smtp_reply_free(&rep);
}

/* A pipelined group: the first entry is in rp->e. */
static void replay_group(struct replay *rp)
{
	struct shell *sh = rp->sh;
	unsigned total = rp->e.pipe_total;
	unsigned long first_line = rp->rd.lineno;
	char *lines[TRANSCRIPT_PIPE_MAX];
	size_t n = 0;
	bool bad = false;
	for (;;) {
		if (rp->e.kind != TR_SENT || rp->e.pipe_total != total ||
		    rp->e.pipe_index != n + 1 || is_redacted(rp, rp->e.text.data)) {
			bad = true;
			break;
		}
		lines[n++] = strdup(rp->e.text.data);
		if (n == total)
			break;
		if (next(rp) <= 0) {
			bad = true;
			break;
		}
	}
	if (bad || total > SESSION_PIPELINE_MAX) {
		for (size_t i = 0; i < n; i++)
			free(lines[i]);
		stop(rp,
		     "line %lu: a broken pipelined group (positions 1..%u expected, no secrets)",
		     rp->rd.lineno, total);
		set_status(rp, EXIT_USAGE);
		return;
	}
	if (rp->e.tls && !session_tls(sh->session)) {
		for (size_t i = 0; i < n; i++)
			free(lines[i]);
		stop(rp,
		     "line %lu was sent under TLS in the recording, but this connection is not "
		     "encrypted: stopping, nothing more is sent",
		     first_line);
		set_status(rp, EXIT_REPLY);
		return;
	}
	char what[200];
	snprintf(what, sizeof what, "%zu pipelined commands: %s ... %s", n, lines[0], lines[n - 1]);
	if (sh->step && !step_wait(what)) {
		for (size_t i = 0; i < n; i++)
			free(lines[i]);
		stop(rp, "stopped at line %lu (--step)", first_line);
		set_status(rp, EXIT_INTERRUPT);
		return;
	}
	struct smtp_reply reps[TRANSCRIPT_PIPE_MAX];
	for (size_t i = 0; i < n; i++)
		smtp_reply_init(&reps[i]);
	/* A group may open with the "." that ends a message; if the live server refused DATA
	   there is no message to end, and the recorded reply to "." is moot. */
	bool dot = strcmp(lines[0], ".") == 0;
	size_t skip = dot && session_phase(sh->session) != PHASE_DATA ? 1 : 0;
	const struct smtp_caps *caps = session_caps(sh->session);
	enum session_status st = SESSION_OK;
	if (skip == n) {
		/* nothing to send */
	} else if (caps->known && caps_has(caps, "PIPELINING")) {
		st = session_pipeline(sh->session, (const char *const *)lines + skip, NULL,
				      n - skip, reps + skip);
	} else {
		render_info(sh->render, "replay: the server does not offer PIPELINING: sending the "
					"group one command at a time");
		for (size_t i = skip; i < n && st == SESSION_OK; i++)
			st = dot && i == 0 ? session_data_end(sh->session, &reps[i])
					   : session_command(sh->session, lines[i], NULL, &reps[i]);
	}
	shell_failed(sh, st);
	int last_code = reps[n - 1].code;
	for (size_t i = 0; i < n; i++) {
		unsigned long rline = first_line + i;
		int expected = recorded_reply(rp, &rline);
		if (i < skip)
			expected = -1;
		compare(rp, expected, rline, reps[i].code,
			dot && i == 0 ? "the end of DATA" : lines[i]);
		track(rp, lines[i], expected);
		smtp_reply_free(&reps[i]);
		free(lines[i]);
	}
	refuse_unrecorded_data(rp, last_code);
}

/* A line of message content, or the final ".". */
static void replay_body(struct replay *rp)
{
	struct shell *sh = rp->sh;
	const char *t = rp->e.text.data;
	size_t len = rp->e.text.len;
	bool live = session_phase(sh->session) == PHASE_DATA;
	bool skipped = shell_skipping(sh);
	if (skipped) /* the server refused DATA: the recorded message is skipped, counted */
		shell_skip_line(sh, t, len);
	if (len == 1 && t[0] == '.') {
		rp->rec_in_data = false;
		if (rp->e.pipe_total) { /* sent in one write with what followed it (--pipeline) */
			replay_group(rp);
			return;
		}
		unsigned long cmd_line = rp->rd.lineno, rline = cmd_line;
		if (!live) { /* the server refused DATA: the recorded reply to "." is moot */
			recorded_reply(rp, &rline);
			return;
		}
		struct smtp_reply rep;
		smtp_reply_init(&rep);
		rp->probe = session_out_of_step(sh->session);
		/* LMTP: a reply per recipient, each compared (out of step, the probe's rule:
		   only the last reply is the "."'s) */
		bool per_rcpt = session_lmtp(sh->session) && !rp->probe;
		enum session_status st = session_data_end(sh->session, &rep);
		shell_failed(sh, st);
		if (per_rcpt) {
			compare_lmtp_dot(rp);
		} else {
			int expected = recorded_reply(rp, &rline);
			compare(rp, expected, rline, rep.code, "the end of DATA");
			if (rp->e.kind == TR_RECEIVED && rp->e.has_rcpt &&
			    !session_lmtp(sh->session)) {
				stop(rp,
				     "line %lu: the recording is LMTP (a reply per recipient after "
				     "the end of data): replay it with --lmtp",
				     rline);
				set_status(rp, EXIT_USAGE);
			}
		}
		smtp_reply_free(&rep);
		return;
	}
	if (!live || skipped)
		return;
	if (len > 1 && t[0] == '.') { /* recorded dot-stuffed: the session stuffs it again */
		t++;
		len--;
	}
	shell_failed(sh, session_data_line(sh->session, t, len));
}

static void report(struct replay *rp)
{
	struct shell *sh = rp->sh;
	if (rp->differed)
		render_alert(sh->render, "replay: %lu of %lu replies differed from %s",
			     rp->differed, rp->compared, rp->o->path);
	else if (rp->stop || sh->done)
		/* stopped early (a hidden secret, --step's q...): what was compared matched, the
		   rest was never tried */
		render_info(sh->render,
			    "replay: stopped before the end of %s: the %lu replies compared up to "
			    "there were as recorded, the rest was not replayed",
			    rp->o->path, rp->compared);
	else
		render_info(sh->render, "replay: %lu replies compared, all as recorded in %s",
			    rp->compared, rp->o->path);
}

int replay_run(struct shell *sh, const struct replay_options *o)
{
	struct replay rp = {.sh = sh, .o = o, .live_greeting = -1};
	transcript_entry_init(&rp.e);
	buf_init(&rp.challenge);
	if (transcript_reader_open(&rp.rd, o->path) < 0) {
		render_error(sh->render, "--replay: %s", rp.rd.err);
		transcript_entry_free(&rp.e);
		return EXIT_USAGE;
	}
	const struct transcript_header *h = &rp.rd.header;
	const char *host = o->host ? o->host : h->host[0] ? h->host : NULL;
	const char *port = o->host ? o->port : h->port[0] ? h->port : NULL;
	enum tls_mode mode = strcmp(h->tls, "implicit") == 0 ? TLS_IMPLICIT : TLS_NONE;
	if (strcmp(h->protocol, "lmtp") == 0) /* recorded with --lmtp: replayed with it */
		session_set_lmtp(sh->session, true);
	if (!host) {
		render_error(sh->render,
			     "--replay: %s names no host: give HOST [PORT] on the command "
			     "line",
			     o->path);
		transcript_reader_close(&rp.rd);
		transcript_entry_free(&rp.e);
		return EXIT_USAGE;
	}
	render_info(sh->render, "replaying %s (recorded %s%s%s%s%s) against %s%s%s", o->path,
		    h->date[0] ? h->date : "at an unknown date", h->host[0] ? " with " : "",
		    h->host, h->port[0] ? " port " : "", h->port, host, port ? " port " : "",
		    port ? port : "");
	session_add_listener(sh->session, on_event, &rp);
	if (next(&rp) > 0) /* the comments before the session are shown before connecting */
		rp.pushed = true;
	if (!rp.stop)
		shell_connect(sh, host, port, mode);
	bool started = false;
	while (!rp.stop && !sh->done) {
		int r = next(&rp);
		if (r <= 0)
			break;
		switch (rp.e.kind) {
		case TR_RECEIVED:
			if (!started && rp.e.last) { /* the recorded greeting */
				compare(&rp, rp.e.code, rp.rd.lineno, rp.live_greeting,
					"the greeting");
				started = true;
			}
			break;
		case TR_INFO:
			if (started && strncmp(rp.e.text.data, "connected to ", 13) == 0)
				stop(&rp,
				     "line %lu: the recording connects again; a replay plays one "
				     "connection",
				     rp.rd.lineno);
			break;
		case TR_SENT:
			started = true;
			if (!session_connected(sh->session)) {
				stop(&rp,
				     "line %lu: the connection is closed, the rest is not sent",
				     rp.rd.lineno);
				set_status(&rp, EXIT_REPLY);
			} else if (rp.e.raw) {
				replay_raw(&rp);
			} else if (rp.e.chunk) {
				stop(&rp, "line %lu: a chunk's octets without its BDAT command",
				     rp.rd.lineno);
				set_status(&rp, EXIT_USAGE);
			} else if (rp.rec_in_data) {
				replay_body(&rp);
			} else if (rp.e.pipe_total) {
				replay_group(&rp);
			} else {
				char *rec = strdup(rp.e.text.data);
				if (rec)
					replay_command(&rp, rec);
				free(rec);
			}
			break;
		default:
			break;
		}
	}
	if (session_connected(sh->session)) {
		if (session_phase(sh->session) == PHASE_DATA)
			session_disconnect(sh->session,
					   "end of the replay inside DATA: the message "
					   "is abandoned");
		else
			session_disconnect(sh->session, "end of the replay: connection closed");
	}
	report(&rp);
	transcript_reader_close(&rp.rd);
	transcript_entry_free(&rp.e);
	buf_free(&rp.challenge);
	return sh->status;
}
