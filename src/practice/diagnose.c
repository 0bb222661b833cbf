/*
 * The --serve teacher view's diagnosis (include/smtpsh/diagnose.h): a small state machine
 * that follows the conversation from the outside, as a teacher reading it would, and names
 * the mistakes of the classic raw-socket client assignment where they happen.
 */
#include "smtpsh/diagnose.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void diag_init(struct diag *d)
{
	memset(d, 0, sizeof *d);
}

static void add(struct diag *d, struct diag_notes *out, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void add(struct diag *d, struct diag_notes *out, const char *fmt, ...)
{
	d->mistakes++;
	if (!out || out->n == DIAG_NOTES_MAX)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out->text[out->n++], DIAG_NOTE_LEN, fmt, ap);
	va_end(ap);
}

/* Is the first word of line (len octets) verb? */
static bool verb_is(const char *line, size_t len, const char *verb)
{
	size_t n = strlen(verb);
	return len >= n && strncasecmp(line, verb, n) == 0 && (len == n || line[n] == ' ');
}

void diag_tls(struct diag *d)
{
	d->tls = true;
	d->greeted = false;
	d->need_ehlo = true;
	d->told_greeting = false;
	d->starttls_offered = d->auth_offered = false;
	d->data_pending = d->in_data = d->end_pending = false;
}

/* Verbs that need a greeting first (RFC 5321 4.1.4; RFC 3207 4.2 after TLS). */
static const char *const after_greeting[] = {"MAIL", "RCPT", "DATA", "BDAT", "AUTH", "STARTTLS"};

void diag_command(struct diag *d, const char *line, size_t len, bool secret, struct diag_notes *out)
{
	if (secret && !verb_is(line, len, "AUTH"))
		return; /* an AUTH answer: no command */
	if (d->in_data && len == 1 && line[0] == '.') {
		diag_message_line(d, line, len);
		return;
	}
	d->commands++;
	if (verb_is(line, len, "EHLO") || verb_is(line, len, "HELO") ||
	    verb_is(line, len, "LHLO")) {
		d->greeted = true;
		d->need_ehlo = false;
		d->starttls_offered = d->auth_offered = false;
		return;
	}
	const char *verb = NULL;
	for (size_t i = 0; i < sizeof after_greeting / sizeof *after_greeting && !verb; i++)
		if (verb_is(line, len, after_greeting[i]))
			verb = after_greeting[i];
	if (verb && d->need_ehlo && !d->told_no_ehlo) {
		d->told_no_ehlo = true;
		add(d, out,
		    "mistake: no EHLO after STARTTLS: the session starts over under TLS, so EHLO "
		    "again after TLS (RFC 3207 4.2) before %s",
		    verb);
	} else if (verb && !d->greeted && !d->need_ehlo && !d->told_greeting) {
		d->told_greeting = true;
		add(d, out, "mistake: %s before EHLO: say EHLO (or HELO) first (RFC 5321 4.1.4)",
		    verb);
	} else if (verb && !strcmp(verb, "AUTH") && d->greeted && !d->tls && !d->auth_offered &&
		   d->starttls_offered) {
		add(d, out,
		    "mistake: AUTH before STARTTLS: this server offers AUTH only after "
		    "STARTTLS (its EHLO reply lists no AUTH yet; RFC 3207, RFC 4954 4)");
	}
	if (verb && !strcmp(verb, "DATA"))
		d->data_pending = true;
	if (verb && !strcmp(verb, "BDAT")) {
		/* BDAT n LAST: its reply says whether the message was stored (RFC 3030 2) */
		const char *last = len >= 5 ? line + len - 5 : NULL;
		if (last && strncasecmp(last, " LAST", 5) == 0)
			d->end_pending = true;
	}
}

void diag_message_line(struct diag *d, const char *line, size_t len)
{
	if (len == 1 && line[0] == '.') { /* the end of the data */
		d->in_data = false;
		d->end_pending = true;
		return;
	}
	d->last_len = len < sizeof d->last_line ? len : sizeof d->last_line - 1;
	memcpy(d->last_line, line, d->last_len);
	d->last_line[d->last_len] = '\0';
}

const char *diag_line_end(struct diag *d, const char *line, size_t len, enum diag_line_end end,
			  struct diag_notes *out)
{
	if (end == DIAG_END_OCTETS)
		return "";
	if (end == DIAG_END_NONE) {
		add(d, out,
		    "[no CRLF]: the connection closed before this line ended: the server never "
		    "took it as a line (RFC 5321 2.3.8: every line ends with CRLF)");
		return "[no CRLF]";
	}
	bool cr = memchr(line, '\r', len) != NULL;
	if (cr && !d->told_cr) {
		d->told_cr = true;
		add(d, out,
		    "[CR]: a CR inside the line, not followed by LF: CR goes only before LF "
		    "(RFC 5321 2.3.8)");
	}
	if (end == DIAG_END_LF && !d->told_lf) {
		d->told_lf = true;
		add(d, out,
		    "[LF]: this line ended with a bare LF, not CRLF: every line, commands too, "
		    "ends with CR LF (RFC 5321 2.3.8)");
	}
	if (end == DIAG_END_LF)
		return cr ? "[CR] [LF]" : "[LF]";
	return cr ? "[CR]" : "";
}

/* Does the capability line (after "250-" or "250 ") name kw? */
static bool capability(const char *line, size_t len, const char *kw)
{
	size_t n = strlen(kw);
	if (len < 4 + n || strncmp(line, "250", 3) != 0)
		return false;
	return strncasecmp(line + 4, kw, n) == 0 && (len == 4 + n || line[4 + n] == ' ');
}

void diag_reply(struct diag *d, const char *line, size_t len)
{
	if (capability(line, len, "STARTTLS"))
		d->starttls_offered = true;
	if (capability(line, len, "AUTH"))
		d->auth_offered = true;
	bool final = len == 3 || (len > 3 && line[3] == ' ');
	if (!final || len < 3)
		return;
	int code = atoi(line);
	if (d->data_pending) {
		d->data_pending = false;
		d->in_data = code == 354;
		d->last_len = 0;
		d->last_line[0] = '\0';
		return;
	}
	if (d->in_data)
		return; /* a 421 inside the data: diag_end tells */
	if (d->end_pending) {
		d->end_pending = false;
		if (code >= 200 && code < 300)
			d->delivered++;
		else
			d->failed++;
	}
}

void diag_server_note(struct diag *d, const char *text, size_t len, struct diag_notes *out)
{
	char t[300];
	size_t n = len < sizeof t ? len : sizeof t - 1;
	memcpy(t, text, n);
	t[n] = '\0';
	if (strstr(t, "not valid base64") || strstr(t, "not base64"))
		add(d, out,
		    "mistake: the AUTH answer is not base64: each answer to a 334 is base64 "
		    "(RFC 4954 4)");
	else if (strstr(t, "PLAIN") && strstr(t, "NUL") && !d->told_auth_plain) {
		d->told_auth_plain = true;
		add(d, out,
		    "mistake: AUTH PLAIN without the NUL separators: the answer is base64 of "
		    "authzid NUL user NUL password, the authzid often empty (RFC 4616 2)");
	}
}

/* Does a message line look like a command the client meant for the server? */
static bool looks_like_command(const char *line, size_t len)
{
	static const char *const verbs[] = {"QUIT", "RSET", "MAIL FROM", "RCPT TO",
					    "DATA", "EHLO", "HELO",	 "NOOP"};
	for (size_t i = 0; i < sizeof verbs / sizeof *verbs; i++) {
		size_t n = strlen(verbs[i]);
		if (len >= n && strncasecmp(line, verbs[i], n) == 0 &&
		    (len == n || line[n] == ' ' || line[n] == ':'))
			return true;
	}
	return false;
}

void diag_end(struct diag *d, struct diag_notes *out)
{
	if (!d->in_data)
		return;
	d->in_data = false;
	d->failed++;
	if (d->last_len && looks_like_command(d->last_line, d->last_len))
		add(d, out,
		    "mistake: \"%s\" was sent as a message line: the line \".\" that ends the "
		    "message was forgotten (RFC 5321 4.1.1.4); nothing stored",
		    d->last_line);
	else
		add(d, out,
		    "mistake: the connection ended inside DATA, before the line \".\" that ends "
		    "the message (RFC 5321 4.1.1.4): nothing stored");
}
