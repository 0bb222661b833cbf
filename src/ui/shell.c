#include "smtpsh/shell.h"

#include "shell_int.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "smtpsh/authline.h"
#include "smtpsh/escape.h"
#include "smtpsh/dns.h"
#include "smtpsh/sasl.h"
#include "smtpsh/step.h"
#include "smtpsh/summary.h"

#define COMMAND_MAX 512	  /* octets with CRLF (RFC 5321 4.5.3.1.4) */
#define TEXT_LINE_MAX 998 /* octets without CRLF (RFC 5322 2.1.1) */

struct shell *shell_new(const struct shell_params *p)
{
	struct shell *sh = calloc(1, sizeof *sh);
	if (!sh)
		return NULL;
	sh->session = p->session;
	sh->render = p->render;
	sh->local = p->local;
	sh->rec = p->rec;
	sh->live = p->live;
	sh->batch = p->batch;
	sh->strict = p->strict;
	sh->mode = p->mode;
	sh->link = p->link;
	sh->allow_plaintext_auth = p->allow_plaintext_auth;
	sh->default_user = p->default_user;
	sh->default_mech = p->default_mech;
	sh->password_command = p->password_command;
	sh->token_command = p->token_command;
	sh->oauth_profile = p->oauth_profile;
	sh->profiles = p->profiles;
	sh->profiles_path = p->profiles_path;
	sh->practice = p->practice;
	sh->resolver = p->resolver;
	sh->trust_anchor = p->trust_anchor;
	sh->start.user = sh->default_user;
	sh->start.mech = sh->default_mech;
	sh->start.password_command = sh->password_command;
	sh->start.oauth_profile = sh->oauth_profile;
	sh->ehlo_given = p->ehlo_given;
	sh->timeout_given = p->timeout_given;
	sh->start.timeout_ms = session_timeout_ms(sh->session);
	const char *cafile = session_cafile(sh->session);
	if ((cafile && !(sh->start.cafile = strdup(cafile))) ||
	    !(sh->start.ehlo = strdup(session_ehlo_name(sh->session)))) {
		free(sh->start.cafile);
		free(sh);
		return NULL;
	}
	sh->status = EXIT_OK;
	return sh;
}

static void pipe_clear(struct shell *sh)
{
	for (size_t i = 0; i < sh->pipe_n; i++) {
		OPENSSL_cleanse(sh->pipe_lines[i], strlen(sh->pipe_lines[i]));
		free(sh->pipe_lines[i]);
		free(sh->pipe_shown[i]);
		sh->pipe_lines[i] = sh->pipe_shown[i] = NULL;
	}
	sh->pipe_n = 0;
	sh->pipe_collecting = false;
}

void shell_free(struct shell *sh)
{
	if (!sh)
		return;
	pipe_clear(sh);
	oauth_forget(sh);
	dns_free(sh->dns);
	free(sh->mx_domain);
	free(sh->start.cafile);
	free(sh->start.ehlo);
	free(sh);
}

void shell_set_options(struct shell *sh, const struct shell_options *o)
{
	sh->explain |= o->explain;
	sh->timing |= o->timing;
	sh->show_raw |= o->show_raw;
	sh->pipeline_auto = o->pipeline;
	sh->step = o->step;
	shell_apply_settings(sh);
}

int shell_status(const struct shell *sh)
{
	return sh->status;
}

bool shell_done(const struct shell *sh)
{
	return sh->done;
}

void shell_end(struct shell *sh, int status)
{
	sh->status = status;
	sh->done = true;
}

void shell_apply_settings(struct shell *sh)
{
	struct render *r = sh->render;
	r->explain = sh->explain;
	r->timing = sh->timing;
	r->show_raw = sh->show_raw;
	r->escape_flags = sh->show_raw ? ESCAPE_SHOW_RAW : ESCAPE_DEFAULT;
	if (sh->rec)
		sh->rec->times = sh->timing;
	if (sh->live)
		sh->live->w.times = sh->timing;
}

static void set_status(struct shell *sh, int status)
{
	if (sh->status == EXIT_OK)
		sh->status = status;
}

void shell_failed(struct shell *sh, enum session_status st)
{
	switch (st) {
	case SESSION_OK:
		return;
	case SESSION_ERR_NET:
	case SESSION_ERR_TIMEOUT:
		set_status(sh, EXIT_NET);
		sh->done |= sh->batch;
		return;
	case SESSION_ERR_TLS:
		set_status(sh, EXIT_TLS);
		sh->done |= sh->batch;
		return;
	case SESSION_ERR_PROTO:
		/* A protocol error that cost the connection (a reply that did not end) ends a
		   batch as one: nothing more can be sent. */
		if (sh->strict || (sh->batch && !session_connected(sh->session))) {
			set_status(sh, EXIT_PROTO);
			sh->done = true;
		}
		return;
	case SESSION_ERR_INTERRUPTED:
		if (sh->batch) {
			set_status(sh, EXIT_INTERRUPT);
			sh->done = true;
		} else {
			const char *why = session_error(sh->session);
			/* "interrupted while waiting for the reply to ...": said once */
			render_info(
			    sh->render, "%s%s%s",
			    strncmp(why, "interrupted", 11) == 0 ? "" : "interrupted: ", why,
			    session_reply_pending(sh->session)
				? " (the reply will be shown when it comes)"
				: "");
		}
		return;
	case SESSION_ERR_STATE:
		if (sh->batch) {
			set_status(sh, session_connected(sh->session) ? EXIT_USAGE : EXIT_NET);
			sh->done = true;
		}
		return;
	case SESSION_ERR_REFUSED: /* a refusing greeting: a reply, exit status 1 */
		set_status(sh, EXIT_REPLY);
		sh->done |= sh->batch;
		return;
	case SESSION_ERR_LOCAL:
		if (sh->batch) {
			set_status(sh, EXIT_USAGE);
			sh->done = true;
		}
		return;
	}
}

void shell_error(struct shell *sh, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	render_verror(sh->render, fmt, ap);
	va_end(ap);
	shell_failed(sh, SESSION_ERR_LOCAL);
}

void shell_check_reply(struct shell *sh, const struct smtp_reply *rep)
{
	sh->last_code = rep->code;
	if (rep->code >= 400 && sh->strict) {
		render_error(sh->render, "--strict: stopping at reply %d", rep->code);
		set_status(sh, EXIT_REPLY);
		sh->done = true;
	}
}

void shell_refused(struct shell *sh, const char *why)
{
	render_error(sh->render, "%s", why);
	if (sh->strict) {
		render_error(sh->render, "--strict: stopping at a message the server would refuse");
		set_status(sh, EXIT_REPLY);
		sh->done = true;
	}
}

void shell_skip_begin(struct shell *sh, int code)
{
	sh->skip.on = true;
	sh->skip.code = code;
	sh->skip.lines = 0;
	sh->skip.bytes = 0;
}

bool shell_skipping(const struct shell *sh)
{
	return sh->skip.on;
}

/* Says how many lines of a message were skipped, and why; the skip is over. */
static void skip_end(struct shell *sh, const char *where)
{
	char why[64];
	if (sh->skip.code)
		snprintf(why, sizeof why, "the server did not accept DATA (%d)", sh->skip.code);
	else
		snprintf(why, sizeof why, "DATA got no reply");
	render_warning(sh->render,
		       "%s: %lu line%s of message content skipped (%llu octets), not sent and not "
		       "run as commands",
		       why, sh->skip.lines, sh->skip.lines == 1 ? "" : "s", sh->skip.bytes);
	if (where)
		render_error(sh->render, "%s", where);
	sh->skip.on = false;
}

void shell_skip_line(struct shell *sh, const char *line, size_t len)
{
	if (len == 1 && line[0] == '.') {
		skip_end(sh, NULL);
		return;
	}
	sh->skip.lines++;
	sh->skip.bytes += len;
}

static enum session_status say_quit(struct shell *sh);

void shell_connect(struct shell *sh, const char *host, const char *port, enum tls_mode mode)
{
	/* The connection being left gets its QUIT (\disconnect is the abrupt way); how that
	   goes is shown, and does not keep the new connection from being made. */
	say_quit(sh);
	shell_connected(sh, session_connect(sh->session, host, port, mode));
}

void shell_leave_connection(struct shell *sh)
{
	say_quit(sh);
}

void shell_connected(struct shell *sh, enum session_status st)
{
	shell_failed(sh, st);
	/* RFC 5321 3.1: after a 554 (or a 4xx) greeting the server takes no mail. --strict stops
	   there, before anything is sent, as it stops at any other refusal. */
	int greeting = session_greeting_code(sh->session);
	if (st == SESSION_OK && greeting >= 400 && sh->strict) {
		render_error(sh->render,
			     "--strict: the server refused the session (%d): stopping, nothing is "
			     "sent",
			     greeting);
		set_status(sh, EXIT_REPLY);
		sh->done = true;
		session_disconnect(sh->session, "connection closed: the session was refused");
	}
}

/* The flags of the local command line names (it starts with a backslash); 0: none. */
static unsigned local_flags(const struct shell *sh, const char *line)
{
	char name[32];
	size_t n = strcspn(line + 1, " \t");
	if (n >= sizeof name)
		return 0;
	memcpy(name, line + 1, n);
	name[n] = '\0';
	return sh->local->flags(name);
}

bool shell_line_is_secret(const struct shell *sh, const char *line)
{
	if (session_in_auth(sh->session))
		return true;
	if (line[0] == '\\' &&
	    (session_phase(sh->session) != PHASE_DATA || (local_flags(sh, line) & LOCAL_ANY_PHASE)))
		return (local_flags(sh, line) & LOCAL_SECRET_ARGS) ||
		       (sh->local->holds_secret && sh->local->holds_secret(sh, line));
	/* AUTH with an initial response: the mechanism is fine to keep, the response is not. */
	return authline_has_secret(line, strlen(line));
}

/* What the screen shows for a command holding a secret. */
static const char *masked(const struct shell *sh, const char *line, char *out, size_t outlen)
{
	if (sh->reveal_secrets)
		return NULL;
	if (session_in_auth(sh->session)) {
		snprintf(out, outlen, "%s", strcmp(line, "*") == 0 ? "*" : "<redacted>");
		return out;
	}
	return authline_redact(line, strlen(line), out, outlen) ? out : NULL;
}

static void refuse_plaintext_auth(struct shell *sh)
{
	render_error(sh->render,
		     "refusing to send AUTH without TLS to %s: the password would cross the network "
		     "readable by anyone (STARTTLS first, or --allow-plaintext-auth)",
		     session_host(sh->session));
	shell_failed(sh, SESSION_ERR_TLS);
}

/* AUTH in plaintext over a network hands the password to anyone on the path. */
bool shell_auth_allowed(struct shell *sh)
{
	if (!session_connected(sh->session) ||
	    sasl_plaintext_allowed(session_tls(sh->session), session_peer_loopback(sh->session),
				   sh->allow_plaintext_auth))
		return true;
	refuse_plaintext_auth(sh);
	return false;
}

/* The same guard for a command line: any AUTH a server would read as one (authline.h). */
static bool auth_allowed(struct shell *sh, const char *line)
{
	const struct smtp_session *s = sh->session;
	if (!session_connected(s) ||
	    !authline_refused_in_clear(line, strlen(line), session_in_auth(s), session_tls(s),
				       session_peer_loopback(s), sh->allow_plaintext_auth))
		return true;
	refuse_plaintext_auth(sh);
	return false;
}

static void warn_length(struct shell *sh, size_t len)
{
	if (len + 2 > COMMAND_MAX)
		render_warning(sh->render,
			       "this command is %zu octets with CRLF; RFC 5321 allows 512 (sent anyway)",
			       len + 2);
}

static void after_reply(struct shell *sh)
{
	if (!sh->batch && session_phase(sh->session) == PHASE_DATA)
		render_info(sh->render, "type the message: headers, an empty line, the body; a line with "
					"only '.' sends it (\\file PATH inserts a file)");
}

bool shell_pipeline_start(struct shell *sh)
{
	const struct smtp_caps *caps = session_caps(sh->session);
	const char *why = !session_connected(sh->session) ? "not connected"
			  : session_phase(sh->session) == PHASE_DATA ? "inside DATA"
			  : session_in_auth(sh->session)	    ? "inside an AUTH exchange"
			  : !caps->known ? (session_lmtp(sh->session)
						? "no LHLO reply known yet: send LHLO first"
						: "no EHLO reply known yet: send EHLO first")
			  : !caps_has(caps, "PIPELINING") ? "the server did not offer PIPELINING"
							  : NULL;
	if (why) {
		shell_error(sh, "\\pipeline: %s", why);
		return false;
	}
	sh->pipe_collecting = true;
	render_info(sh->render,
		    "pipelining: type MAIL, RCPT... (RSET too); DATA (or EHLO, QUIT, NOOP...) ends the "
		    "group and sends all in one write; \\end sends it now, \\cancel drops it");
	return true;
}

void shell_pipeline_cancel(struct shell *sh)
{
	size_t n = sh->pipe_n;
	bool was = sh->pipe_collecting || n;
	pipe_clear(sh);
	if (was)
		render_info(sh->render, "pipeline cancelled (%zu command%s not sent)", n,
			    n == 1 ? "" : "s");
}

void shell_pipeline_flush(struct shell *sh)
{
	size_t n = sh->pipe_n;
	sh->pipe_collecting = false;
	if (n == 0) {
		pipe_clear(sh);
		return;
	}
	struct smtp_reply *reps = calloc(n, sizeof *reps);
	if (!reps) {
		shell_error(sh, "out of memory");
		pipe_clear(sh);
		return;
	}
	for (size_t i = 0; i < n; i++)
		smtp_reply_init(&reps[i]);
	enum session_status st =
		session_pipeline(sh->session, (const char *const *)sh->pipe_lines,
				 (const char *const *)sh->pipe_shown, n, reps);
	bool data = session_is_data(sh->pipe_lines[n - 1]);
	pipe_clear(sh);
	shell_failed(sh, st);
	/* After the server refused what was pipelined past a "." (session_pipeline_resent), a
	   message that still did not get its 354 is lost: that is never a silent success. */
	if (session_pipeline_resent(sh->session) && data &&
	    session_phase(sh->session) != PHASE_DATA) {
		render_error(sh->render, "the message after a refused pipelined group was not "
					 "accepted either: it is not sent");
		set_status(sh, EXIT_REPLY);
	}
	if (st == SESSION_OK || st == SESSION_ERR_PROTO) {
		for (size_t i = 0; i < n && !sh->done; i++)
			shell_check_reply(sh, &reps[i]);
		after_reply(sh);
	}
	for (size_t i = 0; i < n; i++)
		smtp_reply_free(&reps[i]);
	free(reps);
}

/* Adds a command to the group; sends the group when the command must end it. */
static void pipe_add(struct shell *sh, const char *line, size_t len)
{
	if (!auth_allowed(sh, line))
		return;
	warn_length(sh, len);
	char shown[96];
	const char *disp = masked(sh, line, shown, sizeof shown);
	char *copy = strdup(line);
	char *scopy = disp ? strdup(disp) : NULL;
	if (!copy || (disp && !scopy)) {
		free(copy);
		free(scopy);
		shell_error(sh, "out of memory");
		return;
	}
	sh->pipe_lines[sh->pipe_n] = copy;
	sh->pipe_shown[sh->pipe_n] = scopy;
	sh->pipe_n++;
	bool opening_dot = sh->pipe_n == 1 && session_phase(sh->session) == PHASE_DATA;
	if ((!session_pipelinable(line) && !opening_dot) || sh->pipe_n == SESSION_PIPELINE_MAX)
		shell_pipeline_flush(sh);
}

/* Does this command go into a pipelined group rather than out at once? */
static bool pipe_takes(struct shell *sh, const char *line)
{
	if (sh->pipe_collecting)
		return true;
	if (!sh->pipeline_auto || session_in_auth(sh->session))
		return false;
	if (sh->pipe_n)
		return true; /* a group is open: this command joins it (and may end it) */
	const struct smtp_caps *caps = session_caps(sh->session);
	return session_connected(sh->session) && caps->known && caps_has(caps, "PIPELINING") &&
	       session_pipelinable(line);
}

/*
 * AUTH PLAIN typed without its response got an empty 334 (RFC 4954 4: the server waits for
 * the initial response): what to type now, which a newcomer cannot guess from "334 ".
 */
static void hint_plain_response(struct shell *sh, const char *line, size_t len,
				const struct smtp_reply *rep)
{
	struct authline a;
	if (rep->code != 334 || !authline_parse(line, len, &a) || a.has_response ||
	    a.mech_len != 5 || strncasecmp(line + a.mech_off, "PLAIN", 5) != 0)
		return;
	const char *t = rep->text.data ? rep->text.data + 3 : "";
	if (rep->text.len < 3 || t[strspn(t, " \t")] != '\0')
		return;
	const char *user = sh->default_user ? sh->default_user : "user";
	render_info(sh->render,
		    "hint: the server waits for base64 of \\0%s\\0password: \\b64 "
		    "\\0%s\\0PASSWORD prints it, paste that line (or * cancels; \\auth PLAIN "
		    "does all of it)",
		    user, user);
}

static void run_command(struct shell *sh, const char *line, size_t len)
{
	if (!auth_allowed(sh, line))
		return;
	warn_length(sh, len);
	char shown[96];
	const char *disp = masked(sh, line, shown, sizeof shown);
	struct smtp_reply rep;
	smtp_reply_init(&rep);
	enum session_status st = session_command(sh->session, line, disp, &rep);
	shell_failed(sh, st);
	if (st == SESSION_OK) {
		shell_check_reply(sh, &rep);
		hint_plain_response(sh, line, len, &rep);
		after_reply(sh);
	}
	smtp_reply_free(&rep);
}

/* A "# comment" typed outside DATA: ignored, and kept in the transcript when recording. */
static void comment(struct shell *sh, const char *line)
{
	if (sh->rec && transcript_active(sh->rec)) {
		const char *t = line + 1;
		transcript_comment(sh->rec, *t == ' ' ? t + 1 : t);
	}
}

/*
 * --pipeline in a batch: the "." that ends a message opens a group, so that what follows it
 * (QUIT, or the next MAIL, RCPT... DATA) leaves in the same write (RFC 2920 3.1). While it is
 * held the session is still in PHASE_DATA: run_line then treats lines as commands.
 */
static bool dot_opens_group(struct shell *sh)
{
	const struct smtp_caps *caps = session_caps(sh->session);
	return sh->pipeline_auto && sh->batch && !sh->pipe_collecting && caps->known &&
	       caps_has(caps, "PIPELINING");
}

static bool dot_held(const struct shell *sh)
{
	return sh->pipe_n && session_phase(sh->session) == PHASE_DATA;
}

static void run_data_line(struct shell *sh, const char *line, size_t len)
{
	if (len == 1 && line[0] == '.' && dot_opens_group(sh)) {
		pipe_add(sh, line, len);
		return;
	}
	if (len == 1 && line[0] == '.') {
		struct smtp_reply rep;
		smtp_reply_init(&rep);
		enum session_status st = session_data_end(sh->session, &rep);
		shell_failed(sh, st);
		if (st == SESSION_OK)
			shell_check_reply(sh, &rep);
		smtp_reply_free(&rep);
		return;
	}
	if (line[0] == '\\') {
		if (line[1] == '\\') { /* "\\..." sends a line that starts with one backslash */
			line++;
			len--;
		} else if (sh->local->run(sh, line)) {
			return;
		}
	}
	if (len > TEXT_LINE_MAX)
		render_warning(sh->render,
			       "this line is %zu octets; RFC 5322 allows 998 (sent anyway)", len);
	shell_failed(sh, session_data_line(sh->session, line, len));
}

static void run_line(struct shell *sh, const char *line, size_t len);

/* ---- BDAT typed by hand (RFC 3030) ------------------------------------------------------ */

/* The chunk was written: its reply, checked as any reply is. */
void shell_chunk_reply(struct shell *sh)
{
	struct smtp_reply r;
	smtp_reply_init(&r);
	enum session_status st = session_bdat_end(sh->session, &r);
	shell_failed(sh, st);
	if (st == SESSION_OK)
		shell_check_reply(sh, &r);
	smtp_reply_free(&r);
}

/* A typed "BDAT n [LAST]": the chunk is announced, the next lines are its octets. */
static void bdat_typed(struct shell *sh, const char *line)
{
	unsigned long long size;
	bool last;
	if (!client_bdat_parse(line, &size, &last)) {
		shell_error(sh,
			    "BDAT SIZE [LAST]: SIZE is the chunk's octet count (\\bdat TEXT counts "
			    "it for you)");
		return;
	}
	/* After a refused chunk the server's own rule forbids more: a refusal on its terms, as a
	   reply would be (a script goes on), not a usage error. */
	enum session_status st = SESSION_ERR_STATE;
	if (session_bdat_refused(sh->session))
		shell_refused(sh,
			      "BDAT not sent: a chunk of this message was refused, and RFC 3030 "
			      "allows no more (RSET starts afresh)");
	else if ((st = session_bdat_begin(sh->session, size, last)) != SESSION_OK)
		shell_failed(sh, st);
	if (st != SESSION_OK) {
		/* What a script means is decided by the script: the lines that were to be the
		   chunk stay chunk content, skipped, never run as commands. */
		if (sh->batch && size && !sh->done) {
			sh->chunk_skip = size;
			render_warning(
			    sh->render,
			    "the %llu octets of input meant for the chunk are skipped: not "
			    "sent, and not run as commands",
			    size);
		}
		return;
	}
	if (size == 0) {
		shell_chunk_reply(sh);
		return;
	}
	if (!sh->batch)
		render_info(
		    sh->render,
		    "type the chunk: %llu octets, each line counts its octets plus CRLF (2); "
		    "Ctrl-C closes the connection",
		    size);
}

void shell_chunk_line(struct shell *sh, const char *line, size_t len)
{
	struct smtp_session *s = sh->session;
	unsigned long long left = session_bdat_left(s);
	char *wire = malloc(len + 2);
	if (!wire) {
		shell_error(sh, "out of memory");
		return;
	}
	memcpy(wire, line, len);
	memcpy(wire + len, "\r\n", 2);
	size_t n = len + 2 <= left ? len + 2 : (size_t)left;
	if (n < len + 2)
		render_warning(sh->render,
			       "the chunk ends inside this line: %zu of its %zu octets (with CRLF) "
			       "sent, the rest dropped",
			       n, len + 2);
	enum session_status st = session_bdat_write(s, wire, n);
	free(wire);
	if (st != SESSION_OK) {
		shell_failed(sh, st);
		return;
	}
	if (session_bdat_left(s) == 0)
		shell_chunk_reply(sh);
}

/* What one line does (shell_execute). */
static void execute_line(struct shell *sh, const char *line, size_t len)
{
	run_line(sh, line, len);
	if (sh->rec && sh->rec->failed && sh->rec->err[0]) {
		render_error(sh->render, "%s", sh->rec->err);
		sh->rec->err[0] = '\0'; /* said once */
	}
}

/* --step: "next: LINE" and a wait for Enter; false when the user stopped (q). In a batch the
   script's reader says where it stopped (shell_script_stopped). */
static bool step_go_on(struct shell *sh, const char *line)
{
	char shown[96];
	const char *disp = masked(sh, line, shown, sizeof shown);
	if (step_wait(disp ? disp : line))
		return true;
	if (!sh->batch)
		render_info(sh->render, "stopped (--step)");
	sh->step_quit = true;
	pipe_clear(sh);
	set_status(sh, EXIT_INTERRUPT);
	sh->done = true;
	return false;
}

/*
 * "exit" and "quit" typed at the prompt: a newcomer wants to leave the shell. "exit" is no
 * SMTP verb: nothing is sent. "quit" is SMTP's QUIT (RFC 5321 4.1.1.10; verbs are case-blind):
 * sent as typed when connected, with the hint after its reply. True when the line was handled
 * here (not sent).
 */
static bool leave_word(struct shell *sh, const char *line)
{
	if (sh->batch || session_in_auth(sh->session) ||
	    (strcmp(line, "exit") != 0 && strcmp(line, "quit") != 0))
		return false;
	if (line[0] == 'q' && session_connected(sh->session)) {
		sh->hint_quit = true;
		return false;
	}
	render_info(sh->render, "%s: \\quit leaves smtpsh (Ctrl-D too)%s", line,
		    line[0] == 'e' ? "; exit is no SMTP command, nothing was sent"
				   : "; not connected, nothing was sent");
	return true;
}

static void run_line(struct shell *sh, const char *line, size_t len)
{
	if (memchr(line, '\0', len)) {
		shell_error(sh, "a line with a NUL byte cannot be sent: ignored");
		return;
	}
	if (strpbrk(line, "\r\n")) {
		shell_error(sh, "a line with a CR or LF inside cannot be sent: ignored");
		return;
	}
	if (sh->skip.on) {
		shell_skip_line(sh, line, len);
		return;
	}
	if (session_phase(sh->session) == PHASE_DATA && !dot_held(sh)) {
		run_data_line(sh, line, len);
		return;
	}
	if (sh->chunk_skip) { /* a script's chunk that was not announced */
		unsigned long long n = len + 2;
		sh->chunk_skip -= n < sh->chunk_skip ? n : sh->chunk_skip;
		return;
	}
	/* a typed BDAT's octets: every line, whatever it says */
	if (session_bdat_open(sh->session)) {
		shell_chunk_line(sh, line, len);
		return;
	}
	if (line[0] == '\\') {
		if (sh->pipe_collecting && !(local_flags(sh, line) & LOCAL_IN_PIPELINE)) {
			shell_error(sh,
				    "finish the pipeline first: \\end sends the %zu "
				    "command%s collected, \\cancel drops them",
				    sh->pipe_n, sh->pipe_n == 1 ? "" : "s");
			return;
		}
		if (sh->pipe_n && !sh->pipe_collecting)
			shell_pipeline_flush(sh); /* --pipeline: what was grouped goes first */
		/* a lesson's \auth is a step of its own: its password question comes after
		   this Enter, never in its place */
		if (sh->step && sh->batch && !step_go_on(sh, line))
			return;
		if (!sh->local->run(sh, line)) {
			shell_error(sh, "unknown local command %.*s (\\help lists them)",
				    (int)strcspn(line, " "), line);
		}
		return;
	}
	if (!session_in_auth(sh->session) && (len == 0 || line[0] == '#')) {
		if (len)
			comment(sh, line);
		if (len && sh->step && sh->batch) { /* a lesson's narration, as --replay shows it */
			const char *t = line[1] == ' ' ? line + 2 : line + 1;
			render_comment(sh->render, t, strlen(t));
		}
		return;
	}
	if (leave_word(sh, line))
		return;
	if (sh->step && !step_go_on(sh, line))
		return;
	sh->last_code = 0;
	if (!session_in_auth(sh->session) && client_classify(line, false) == VERB_BDAT) {
		if (sh->pipe_n) /* --pipeline: what was grouped goes first */
			shell_pipeline_flush(sh);
		bdat_typed(sh, line);
		return;
	}
	bool data = !session_in_auth(sh->session) && session_is_data(line);
	if (pipe_takes(sh, line))
		pipe_add(sh, line, len);
	else
		run_command(sh, line, len);
	if (sh->hint_quit) {
		sh->hint_quit = false;
		render_info(sh->render, "QUIT ends the SMTP session, not smtpsh: \\quit leaves "
					"smtpsh (Ctrl-D too)");
	}
	/* A script's DATA that got no 354: its message is skipped up to the "." (shell.h). */
	if (data && sh->batch && !sh->done && !sh->pipe_n &&
	    session_phase(sh->session) != PHASE_DATA)
		shell_skip_begin(sh, sh->last_code);
}

/*
 * A script's message with several recipients ended (its "." or LAST chunk got a reply): the
 * result per recipient, as after \send. Typed by hand, each reply was just seen on screen.
 */
static void batch_summary(struct shell *sh)
{
	unsigned long m = session_messages(sh->session);
	if (m == sh->summary_seen)
		return;
	sh->summary_seen = m;
	if (sh->batch && summary_count(sh->session).total > 1)
		summary_show(sh->render, sh->session);
}

void shell_script_stopped(struct shell *sh, unsigned long lineno, const char *shown)
{
	static const struct {
		int status;
		const char *why;
	} whys[] = {
	    {EXIT_REPLY, "--strict: the server refused"},
	    {EXIT_USAGE, "a command that could not run"},
	    {EXIT_NET, "the connection failed or ended"},
	    {EXIT_TLS, "TLS failed"},
	    {EXIT_PROTO, "--strict: the server broke the protocol"},
	    {EXIT_INTERRUPT, "stopped by you"},
	};
	const char *why = "stopped";
	for (size_t i = 0; i < sizeof whys / sizeof whys[0]; i++)
		if (whys[i].status == sh->status)
			why = whys[i].why;
	struct buf b;
	buf_init(&b);
	escape_append(&b, shown, strlen(shown), ESCAPE_KEEP_BACKSLASH);
	if (sh->step_quit)
		render_info(sh->render,
			    "stopped (--step) at line %lu: %s (not run, nor what follows)", lineno,
			    b.data ? b.data : "");
	else
		render_info(sh->render,
			    "the script stopped at line %lu: %s (%s, exit status %d); the lines "
			    "after it were not run",
			    lineno, b.data ? b.data : "", why, sh->status);
	buf_free(&b);
}

const char *shell_shown_line(const struct shell *sh, const char *line, char *out, size_t outlen)
{
	const char *m = masked(sh, line, out, outlen);
	return m ? m : line;
}

void shell_execute(struct shell *sh, const char *line, size_t len)
{
	execute_line(sh, line, len);
	batch_summary(sh);
}

/*
 * Ends the connection as RFC 5321 4.1.1.10 asks: QUIT, and its reply awaited (within the
 * timeout; Ctrl-C cuts it short), then closed. Inside DATA a QUIT would be message content:
 * the message is abandoned by closing. Returns the status of the QUIT.
 */
static enum session_status say_quit(struct shell *sh)
{
	enum session_status st = SESSION_OK;
	if (session_connected(sh->session) && session_phase(sh->session) != PHASE_DATA) {
		struct smtp_reply rep;
		smtp_reply_init(&rep);
		st = session_command(sh->session, "QUIT", NULL, &rep);
		smtp_reply_free(&rep);
		if (session_connected(sh->session))
			session_disconnect(sh->session, "connection closed");
	} else if (session_connected(sh->session)) {
		session_disconnect(sh->session, "connection closed inside DATA: the message is "
						"abandoned");
	}
	return st;
}

void shell_quit(struct shell *sh)
{
	enum session_status st = say_quit(sh);
	if (st != SESSION_OK && st != SESSION_ERR_INTERRUPTED)
		shell_failed(sh, st);
	sh->done = true;
}

void shell_end_of_input(struct shell *sh)
{
	if (sh->pipe_n && sh->batch && !sh->done)
		shell_pipeline_flush(sh); /* the script's last group */
	else if (sh->pipe_n || sh->pipe_collecting)
		shell_pipeline_cancel(sh);
	if (sh->batch) {
		if (sh->skip.on) {
			skip_end(sh, "input ended inside the message (no line with only '.')");
			set_status(sh, EXIT_USAGE);
		}
		if (session_bdat_open(sh->session)) {
			render_error(sh->render,
				     "input ended inside a BDAT chunk: the message is not "
				     "sent");
			set_status(sh, EXIT_USAGE);
			session_bdat_abandon(sh->session, "input ended");
		}
		if (session_phase(sh->session) == PHASE_DATA) {
			render_error(sh->render,
				     "input ended inside DATA (no line with only '.'): the message "
				     "is not sent");
			set_status(sh, EXIT_USAGE);
			session_disconnect(sh->session, "connection closed: message abandoned");
		} else if (session_connected(sh->session)) {
			session_disconnect(sh->session, "end of input: connection closed without QUIT");
		}
		sh->done = true;
		return;
	}
	shell_quit(sh);
}
