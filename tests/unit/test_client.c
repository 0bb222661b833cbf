/*
 * Unit tests of the SMTP client engine (src/smtp/client.c): every verb in every phase and what
 * each class of reply does, pipelined groups (in order, split across reads, replies that come
 * early), malformed replies, STARTTLS resets, AUTH tracking and redaction, QUIT, 421, a refused
 * greeting and the phase trace. No sockets: server bytes in, actions and events out.
 */
#include "smtpsh/client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

/* --- the engine under test, its events and its phase trace -------------------------------- */

static struct smtp_client c;
static struct buf events; /* "S text\n", "R code text\n", "W text\n", "E text\n", "I text\n" */
static struct buf trace;  /* "old -> new\n" */
static struct session_event last_recv; /* the last SEV_RECEIVED (text not kept) */
static bool last_sent_secret;
static char last_sent_redacted[128];
static char last_sent_login_user[128]; /* ev->login_user of the last SEV_SENT, "" for NULL */

/* An array as a pointer, for is_str (which checks its arguments for NULL). */
static const char *S(const char *s)
{
	return s;
}

static void on_event(struct session_event *ev, void *arg)
{
	(void)arg;
	static const char kinds[] = {
	    [SEV_SENT] = 'S',	 [SEV_RECEIVED] = 'R', [SEV_INFO] = 'I',  [SEV_TLS] = 'T',
	    [SEV_WARNING] = 'W', [SEV_ERROR] = 'E',    [SEV_CLOSED] = 'C'};
	buf_putc(&events, kinds[ev->type]);
	if (ev->type == SEV_RECEIVED) {
		buf_printf(&events, " %d", ev->code);
		last_recv = *ev;
		last_recv.text = NULL;
	}
	if (ev->type == SEV_SENT) {
		last_sent_secret = ev->secret;
		snprintf(last_sent_redacted, sizeof last_sent_redacted, "%s",
			 ev->redacted ? ev->redacted : "");
		snprintf(last_sent_login_user, sizeof last_sent_login_user, "%s",
			 ev->login_user ? ev->login_user : "");
	}
	buf_putc(&events, ' ');
	buf_append(&events, ev->text, ev->len);
	buf_putc(&events, '\n');
}

static void on_phase(enum smtp_phase from, enum smtp_phase to, void *arg)
{
	(void)arg;
	buf_printf(&trace, "%s -> %s\n", client_phase_name(from), client_phase_name(to));
}

static const char *action_name(enum client_action a)
{
	static const char *const names[] = {
	    [CLIENT_NONE] = "none",
	    [CLIENT_REPLY] = "reply",
	    [CLIENT_START_DATA] = "start-data",
	    [CLIENT_UPGRADE_TLS] = "upgrade-tls",
	    [CLIENT_NEW_GREETING] = "new-greeting",
	    [CLIENT_CLOSE] = "close",
	    [CLIENT_PROTO_ERROR] = "proto-error",
	    [CLIENT_ABORT] = "abort",
	};
	return names[a];
}

static void fresh(void)
{
	client_free(&c);
	client_init(&c, on_event, on_phase, NULL);
	buf_reset(&events);
	buf_reset(&trace);
}

static struct buf actions; /* the actions of the last feed, "reply,close" */
static struct client_result last_res;
static long long clock_ms;

/* Feeds server bytes as one read; every action goes to `actions`; returns the last one that
   was not CLIENT_NONE (or CLIENT_NONE). Stops after CLIENT_ABORT or CLIENT_UPGRADE_TLS, as
   the session does; *rest gets the bytes not fed (may be NULL). */
static enum client_action feed_n(const char *data, size_t len, size_t *rest)
{
	buf_reset(&actions);
	enum client_action last = CLIENT_NONE;
	size_t off = 0;
	while (off < len) {
		size_t used = 0;
		struct client_result res;
		enum client_action a =
		    client_recv(&c, data + off, len - off, &used, clock_ms, &res);
		off += used;
		if (a == CLIENT_NONE)
			break;
		last_res = res;
		last = a;
		if (actions.len)
			buf_putc(&actions, ',');
		buf_puts(&actions, action_name(a));
		if (a == CLIENT_ABORT || a == CLIENT_UPGRADE_TLS)
			break;
	}
	if (rest)
		*rest = len - off;
	return last;
}

static enum client_action feed(const char *data)
{
	return feed_n(data, strlen(data), NULL);
}

static struct client_command cmd;

/* Writes a command as the session does (classified with the engine's in_auth). */
static void send_line(const char *line)
{
	client_command(&c, &cmd, line, NULL, client_classify(line, c.in_auth), 0, 0);
	client_expect(&c, &cmd, clock_ms, 0, 0);
}

/* A command and its reply: the action. */
static enum client_action exchange(const char *line, const char *reply)
{
	send_line(line);
	return feed(reply);
}

static bool has_event(const char *text)
{
	return events.data && memmem(events.data, events.len, text, strlen(text));
}

/* Connected and greeted (220). */
static void greeted(void)
{
	fresh();
	client_connected(&c, clock_ms);
	feed("220 mx.example ESMTP\r\n");
}

/* Brings a fresh engine to phase p by a conversation (GREETED, READY, MAIL, RCPT, DATA). */
static void reach(enum smtp_phase p)
{
	greeted();
	if (p >= PHASE_READY)
		exchange("EHLO me", "250-mx\r\n250-PIPELINING\r\n250 STARTTLS\r\n");
	if (p >= PHASE_MAIL)
		exchange("MAIL FROM:<a@x>", "250 ok\r\n");
	if (p >= PHASE_RCPT)
		exchange("RCPT TO:<b@x>", "250 ok\r\n");
	if (p == PHASE_BDAT)
		exchange("BDAT 3", "250 3 octets\r\n");
	if (p >= PHASE_DATA)
		exchange("DATA", "354 go\r\n");
	buf_reset(&events);
	buf_reset(&trace);
}

/* --- the greeting ------------------------------------------------------------------------- */

static void test_greeting(void)
{
	fresh();
	is_int(c.phase, PHASE_DISCONNECTED, "a new engine is disconnected");
	client_connected(&c, 0);
	is_int(c.phase, PHASE_GREETING, "connected: waiting for the greeting");
	is_int((long long)c.pend_n, 1, "the greeting is owed");
	is_int(feed("220 mx.example ESMTP\r\n"), CLIENT_REPLY, "the greeting is a reply");
	is_int(c.phase, PHASE_GREETED, "greeted");
	is_int(c.greeting, 220, "greeting code kept");
	is_str(trace.data, "disconnected -> greeting\ngreeting -> greeted\n", "phase trace");
	is_int(last_recv.unsolicited, false, "the greeting is not unsolicited");
	is_str(last_recv.verb, "greeting", "the greeting's event names it");

	fresh();
	client_connected(&c, 0);
	feed("554 5.7.1 go away\r\n");
	is_int(c.greeting, 554, "a refused greeting is kept");
	is_int(c.phase, PHASE_GREETED, "a refused greeting still ends the greeting phase");
	ok(has_event("W the server refused the session (554)"), "refusal warned");

	fresh();
	client_connected(&c, 0);
	feed("421 busy\r\n");
	ok(has_event("W the server says it is closing the connection (421)"),
	   "421 greeting warned");

	fresh();
	client_connected(&c, 0);
	is_int(feed("22x hi\r\n"), CLIENT_PROTO_ERROR, "a malformed greeting is a protocol error");
	is_int(c.phase, PHASE_GREETED, "the malformed greeting ends the greeting phase");
	is_int(c.greeting, 0, "a malformed greeting has no code");
	is_int(last_res.done, true, "it answered the greeting");
}

/* --- every verb in every phase ------------------------------------------------------------- */

/* The specification, written apart from the engine: what a reply does. */
struct expect {
	enum smtp_phase phase;
	enum client_action action;
	bool in_auth, authed;
};

static struct expect spec(enum client_verb v, enum smtp_phase p, int code, bool last)
{
	bool ok2 = code / 100 == 2;
	struct expect e = {p, CLIENT_REPLY, false, false};
	switch (v) {
	case VERB_EHLO:
	case VERB_HELO:
		if (ok2)
			e.phase = PHASE_READY;
		break;
	case VERB_STARTTLS:
		if (code == 220)
			e.action = CLIENT_UPGRADE_TLS;
		break;
	case VERB_AUTH:
		e.in_auth = code == 334;
		e.authed = code == 235;
		break;
	case VERB_MAIL:
		if (ok2)
			e.phase = PHASE_MAIL;
		break;
	case VERB_RCPT:
		if (ok2 && (p == PHASE_MAIL || p == PHASE_RCPT))
			e.phase = PHASE_RCPT;
		break;
	case VERB_DATA:
		if (code == 354) {
			e.phase = PHASE_DATA;
			e.action = CLIENT_START_DATA;
		}
		break;
	case VERB_BDAT: /* RFC 3030: a chunk moves on, LAST ends the transaction */
		if (ok2 && (p == PHASE_RCPT || p == PHASE_BDAT))
			e.phase = last ? PHASE_READY : PHASE_BDAT;
		break;
	case VERB_RSET:
		if (ok2 && p > PHASE_READY)
			e.phase = PHASE_READY;
		break;
	case VERB_QUIT:
		if (code == 221)
			e.action = CLIENT_CLOSE;
		break;
	case VERB_XCLIENT: /* Postfix: the 220 is a new greeting */
		if (code == 220) {
			e.phase = PHASE_GREETED;
			e.action = CLIENT_NEW_GREETING;
		}
		break;
	default:
		break;
	}
	return e;
}

static void test_every_verb_every_phase(void)
{
	static const struct {
		const char *line;
		enum client_verb v;
	} verbs[] = {
	    {"EHLO me", VERB_EHLO},
	    {"HELO me", VERB_HELO},
	    {"LHLO me", VERB_EHLO},
	    {"STARTTLS", VERB_STARTTLS},
	    {"AUTH LOGIN", VERB_AUTH},
	    {"MAIL FROM:<a@x>", VERB_MAIL},
	    {"RCPT TO:<b@x>", VERB_RCPT},
	    {"DATA", VERB_DATA},
	    {"RSET", VERB_RSET},
	    {"QUIT", VERB_QUIT},
	    {"NOOP", VERB_OTHER},
	    {"VRFY bob", VERB_OTHER},
	    {"EXPN list", VERB_OTHER},
	    {"HELP", VERB_OTHER},
	    {"BDAT 0 LAST", VERB_BDAT},
	    {"BDAT 5", VERB_BDAT},
	    {"XCLIENT ADDR=1.2.3.4", VERB_XCLIENT},
	    {"XFORWARD ADDR=1.2.3.4", VERB_OTHER},
	};
	static const enum smtp_phase phases[] = {PHASE_GREETED, PHASE_READY, PHASE_MAIL, PHASE_RCPT,
						 PHASE_BDAT};
	static const int codes[] = {220, 221, 235, 250, 334, 354, 421, 451, 503, 550};
	int mismatches = 0, checked = 0;
	for (size_t vi = 0; vi < sizeof verbs / sizeof verbs[0]; vi++) {
		is_int(client_classify(verbs[vi].line, false), verbs[vi].v, "%s classified",
		       verbs[vi].line);
		for (size_t pi = 0; pi < sizeof phases / sizeof phases[0]; pi++) {
			for (size_t ci = 0; ci < sizeof codes / sizeof codes[0]; ci++) {
				reach(phases[pi]);
				char reply[64];
				snprintf(reply, sizeof reply, "%d text\r\n", codes[ci]);
				enum client_action a = exchange(verbs[vi].line, reply);
				struct expect e = spec(verbs[vi].v, phases[pi], codes[ci],
						       strstr(verbs[vi].line, "LAST") != NULL);
				checked++;
				bool good =
				    a == e.action && c.phase == e.phase && c.in_auth == e.in_auth &&
				    c.authed == e.authed && c.pend_n == 0 && last_res.done &&
				    last_res.verb == verbs[vi].v && last_res.code == codes[ci];
				bool warned = has_event("W the server says it is closing");
				good = good && warned == (codes[ci] == 421);
				if (!good && mismatches++ < 10)
					diag("%s in %s, reply %d: action %s phase %s in_auth %d "
					     "authed %d",
					     verbs[vi].line, client_phase_name(phases[pi]),
					     codes[ci], action_name(a), client_phase_name(c.phase),
					     c.in_auth, c.authed);
			}
		}
	}
	is_int(mismatches, 0, "%d verb x phase x reply cases as specified", checked);

	/* In DATA only "." is sent: its reply, whatever it says, ends the message. */
	static const int dot_codes[] = {250, 451, 554};
	for (size_t i = 0; i < sizeof dot_codes / sizeof dot_codes[0]; i++) {
		reach(PHASE_DATA);
		client_expect_dot(&c, 0);
		char reply[32];
		snprintf(reply, sizeof reply, "%d x\r\n", dot_codes[i]);
		is_int(feed(reply), CLIENT_REPLY, "reply %d to the end of DATA", dot_codes[i]);
		is_int(c.phase, PHASE_READY, "the end of DATA (%d) leaves DATA", dot_codes[i]);
		is_str(last_recv.verb, ".", "the event names the end of DATA");
		is_str(trace.data, "data -> ready\n", "trace of the end of DATA");
	}
}

/* --- classification, names ------------------------------------------------------------------ */

static void test_classify(void)
{
	is_int(client_classify(" STARTTLS", false), VERB_STARTTLS, "leading blank: still STARTTLS");
	is_int(client_classify("\tstarttls", false), VERB_STARTTLS, "TAB and lower case");
	is_int(client_classify("ehlo x", false), VERB_EHLO, "lower-case ehlo");
	is_int(client_classify("lhlo x", false), VERB_EHLO, "LHLO (RFC 2033) counts as EHLO");
	is_int(client_classify("MAILFROM:<a>", false), VERB_OTHER, "MAILFROM is no MAIL");
	is_int(client_classify("", false), VERB_OTHER, "an empty line");
	is_int(client_classify("QUIT", true), VERB_AUTH_DATA,
	       "inside AUTH every line is a response");
	ok(client_pipelinable("MAIL FROM:<a>") && client_pipelinable("rcpt to:<b>") &&
	       client_pipelinable("RSET"),
	   "MAIL, RCPT, RSET may be followed in a group");
	ok(!client_pipelinable("DATA") && !client_pipelinable("EHLO x") &&
	       !client_pipelinable("AUTH PLAIN x") && !client_pipelinable("QUIT") &&
	       !client_pipelinable("STARTTLS") && !client_pipelinable("NOOP"),
	   "DATA, EHLO, AUTH, QUIT, STARTTLS, NOOP end a group (RFC 2920 3.1)");
	static const char *const names[] = {"disconnected", "greeting", "greeted", "ready", "mail",
					    "rcpt",	    "bdat",	"data",	   "closed"};
	for (int p = PHASE_DISCONNECTED; p <= PHASE_CLOSED; p++)
		is_str(client_phase_name((enum smtp_phase)p), names[p], "phase %d is named", p);
	reach(PHASE_READY);
	exchange("EHLO again", "250 ok\r\n");
	exchange("RSET", "250 ok\r\n");
	is_int((long long)trace.len, 0, "a reply that keeps the phase traces nothing");
	is_str(client_verb_what(VERB_DOT), "the end of DATA", "what the end of DATA is called");
	is_str(client_verb_what(VERB_GREETING), "the greeting", "what the greeting is called");
	ok(client_verb_short(VERB_OTHER) == NULL, "an unknown verb has no short name");
	is_str(client_verb_what(VERB_OTHER), "the command", "what an unknown verb is called");
	static const struct {
		enum client_verb v;
		const char *name;
	} kinds[] = {{VERB_GREETING, "greeting"}, {VERB_EHLO, "EHLO"},
		     {VERB_HELO, "HELO"},	  {VERB_STARTTLS, "STARTTLS"},
		     {VERB_AUTH, "AUTH"},	  {VERB_AUTH_DATA, "AUTH"},
		     {VERB_MAIL, "MAIL"},	  {VERB_RCPT, "RCPT"},
		     {VERB_DATA, "DATA"},	  {VERB_DOT, "."},
		     {VERB_RSET, "RSET"},	  {VERB_QUIT, "QUIT"}};
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		is_str(client_verb_short(kinds[i].v), kinds[i].name,
		       "kind %d is named %s in events", kinds[i].v, kinds[i].name);
	greeted();
	exchange("LHLO me", "250 ok\r\n");
	is_str(last_recv.verb, "EHLO", "a reply to LHLO is named EHLO's");
}

/* --- pipelining --------------------------------------------------------------------------- */

static void send_group(const char *const *lines, size_t n)
{
	struct client_command o[8];
	for (size_t i = 0; i < n; i++)
		client_command(&c, &o[i], lines[i], NULL, client_classify(lines[i], false),
			       (unsigned)(i + 1), (unsigned)n);
	for (size_t i = 0; i < n; i++)
		client_expect(&c, &o[i], clock_ms, (unsigned)(i + 1), (unsigned)n);
}

static void test_pipelining(void)
{
	static const char *const group[] = {"MAIL FROM:<a@x>", "RCPT TO:<b@x>", "RCPT TO:<c@x>",
					    "DATA"};
	static const char replies[] = "250 2.1.0 ok\r\n250 2.1.5 ok\r\n550 5.1.1 no\r\n354 go\r\n";

	reach(PHASE_READY);
	send_group(group, 4);
	is_int((long long)c.pend_n, 4, "four replies owed");
	is_int(feed(replies), CLIENT_START_DATA, "the group's last reply starts the message");
	is_str(actions.data, "reply,reply,reply,start-data", "one action per reply, in order");
	is_int(c.phase, PHASE_DATA, "in DATA after the group");
	is_str(trace.data, "ready -> mail\nmail -> rcpt\nrcpt -> data\n", "trace of the group");
	is_int((long long)c.pend_n, 0, "nothing owed");
	is_int(last_recv.pipe_index, 4, "the last reply is the 4th of the group");
	is_int(last_recv.pipe_total, 4, "of 4");
	is_str(last_recv.verb, "DATA", "and answers DATA");

	/* One byte per read: the same result. */
	reach(PHASE_READY);
	send_group(group, 4);
	struct buf acts;
	buf_init(&acts);
	for (size_t i = 0; i < sizeof replies - 1; i++) {
		enum client_action a = feed_n(replies + i, 1, NULL);
		if (a != CLIENT_NONE) {
			if (acts.len)
				buf_putc(&acts, ',');
			buf_puts(&acts, action_name(a));
		}
	}
	is_str(acts.data, "reply,reply,reply,start-data", "byte by byte: the same replies");
	is_int(c.phase, PHASE_DATA, "byte by byte: in DATA");
	buf_free(&acts);

	/* A reply split in the middle of a multi-line reply. */
	reach(PHASE_GREETED);
	send_line("EHLO me");
	is_int(feed("250-mx\r\n250-PIPE"), CLIENT_NONE, "half a reply: nothing yet");
	ok(client_mid_reply(&c), "in the middle of a reply");
	is_int(feed("LINING\r\n250 SIZE 10\r\n"), CLIENT_REPLY, "the rest completes it");
	ok(!client_mid_reply(&c), "no longer in the middle");
	ok(caps_has(&c.caps, "PIPELINING"), "a capability split across reads is whole");
	is_int((long long)c.last.nlines, 3, "three lines in the reply");

	/* One read holding two replies: client_recv stops after the first. */
	reach(PHASE_READY);
	send_line("NOOP");
	send_line("NOOP");
	size_t used = 0;
	struct client_result res;
	const char two[] = "250 a\r\n250 b\r\n";
	is_int(client_recv(&c, two, strlen(two), &used, 0, &res), CLIENT_REPLY, "first reply");
	is_int((long long)used, 7, "only the first reply's bytes used");

	/* Replies that come before any command: unsolicited, shown, no effect. */
	reach(PHASE_READY);
	is_int(feed("250 surprise\r\n"), CLIENT_REPLY, "an early reply is still a reply");
	ok(last_recv.unsolicited, "marked unsolicited");
	ok(last_recv.verb == NULL, "answers no verb");
	ok(has_event("W the server sent a reply no command was waiting for"), "warned once");
	feed("250 again\r\n");
	size_t warnings = 0;
	for (const char *p = events.data; (p = strstr(p, "no command was waiting")); p++)
		warnings++;
	is_int((long long)warnings, 1, "one warning for replies nobody asked for");
	is_int(c.phase, PHASE_READY, "unsolicited replies change nothing");
	/* A reply arrives before its command is expected (the session counts it as unasked,
	   then the command's own reply answers it). */
	send_line("MAIL FROM:<a@x>");
	is_int(c.unsolicited, 0, "a command resets the unsolicited count");
	feed("250 ok\r\n");
	is_int(c.phase, PHASE_MAIL, "the command's own reply applies");

	/* More unasked lines than a reply may hold: shown up to the cap, then counted. */
	reach(PHASE_READY);
	struct buf flood;
	buf_init(&flood);
	for (int i = 0; i < REPLY_LINES_MAX + 5; i++)
		buf_puts(&flood, "250 x\r\n");
	feed_n(flood.data, flood.len, NULL);
	is_int((long long)c.unsol_hidden, 5, "lines past the cap are counted, not shown");
	client_report_hidden(&c);
	ok(has_event("I ... 5 more lines nobody asked for not shown (25 bytes)"), "and reported");
	is_int((long long)c.unsol_hidden, 0, "the count is reset once reported");
	buf_free(&flood);

	/* The ring of owed replies is bounded: the oldest is forgotten. */
	reach(PHASE_READY);
	for (int i = 0; i < CLIENT_PENDING_MAX + 10; i++)
		send_line("NOOP");
	is_int((long long)c.pend_n, CLIENT_PENDING_MAX, "owed replies bounded");
	is_int((long long)(c.sent_seq - c.done_seq), CLIENT_PENDING_MAX, "sequence numbers agree");
}

static void test_resend_after_dot(void)
{
	reach(PHASE_READY);
	int haraka[] = {250, 503, 503, 503};
	ok(client_resend_after_dot(&c, haraka, 4), "accepted, then 503 to all: resend");
	ok(c.dot_alone, "and \".\" goes alone from now on");
	reach(PHASE_READY);
	int mixed[] = {250, 250, 503};
	ok(!client_resend_after_dot(&c, mixed, 3), "one command accepted: no resend");
	int refused[] = {554, 503, 503};
	ok(!client_resend_after_dot(&c, refused, 3), "message refused: no resend");
	int missing[] = {250, 503, 0};
	ok(!client_resend_after_dot(&c, missing, 3), "a reply missing: no resend");
	int other[] = {250, 550, 550};
	ok(!client_resend_after_dot(&c, other, 3), "other refusals than 503: no resend");
	int alone[] = {250};
	ok(!client_resend_after_dot(&c, alone, 1), "\".\" alone: nothing to resend");
	ok(!c.dot_alone, "dot_alone stays off");
}

/* --- malformed replies --------------------------------------------------------------------- */

static void test_malformed(void)
{
	static const struct {
		const char *bytes;
		size_t len;
		const char *error;
	} cases[] = {
	    {"99 short\r\n", 10, "E protocol error: "},
	    {"600 bad\r\n", 9, "E protocol error: "},
	    {"250x no separator\r\n", 19, "E protocol error: "},
	    {"250-a\r\n251 b\r\n", 14, "E protocol error: "},
	    {"250 a\0b\r\n", 9, "E protocol error: "},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		reach(PHASE_READY);
		send_line("NOOP");
		send_line("MAIL FROM:<a@x>");
		enum client_action a = feed_n(cases[i].bytes, cases[i].len, NULL);
		is_int(a, CLIENT_PROTO_ERROR, "malformed case %zu: protocol error", i);
		ok(has_event(cases[i].error), "malformed case %zu reported", i);
		is_int((long long)c.pend_n, 1, "malformed case %zu answered the oldest command", i);
		ok(last_res.done && last_res.verb == VERB_OTHER, "malformed case %zu: NOOP's", i);
		is_int(c.phase, PHASE_READY, "malformed case %zu changes no phase", i);
		feed("250 ok\r\n");
		is_int(c.phase, PHASE_MAIL, "malformed case %zu: back in step after", i);
	}
	reach(PHASE_READY);
	send_line("NOOP");
	feed("250-a\r\n251-b\r\n252-c\r\n250 d\r\n");
	size_t errors = 0;
	for (const char *p = events.data; (p = strstr(p, "E protocol error")); p++)
		errors++;
	is_int((long long)errors, 1, "a broken multi-line reply is reported once");
	is_int((long long)c.pend_n, 0, "and answers one command");

	/* A line without end: the first bytes shown, the rest skipped. */
	reach(PHASE_READY);
	send_line("NOOP");
	char *big = malloc(REPLY_LINE_MAX + 100);
	memset(big, 'x', REPLY_LINE_MAX + 100);
	memcpy(big, "250 ", 4);
	feed_n(big, REPLY_LINE_MAX + 100, NULL);
	ok(has_event("(the rest of it is skipped)"), "an over-long line is reported");
	is_int((long long)last_recv.len, 256, "only its first 256 bytes are shown");
	free(big);

	/* More lines than a reply may have: abort, with what was left counted. */
	reach(PHASE_READY);
	send_line("EHLO me");
	struct buf many;
	buf_init(&many);
	for (int i = 0; i < REPLY_LINES_MAX + 3; i++)
		buf_puts(&many, "250-x\r\n");
	size_t rest = 0;
	is_int(feed_n(many.data, many.len, &rest), CLIENT_ABORT, "a reply past 1000 lines aborts");
	ok(has_event("E protocol error: the reply to EHLO has more than 1000 lines; the rest is "
		     "not shown (2 more lines, 14 bytes already received); connection closed"),
	   "the abort says how much was left");
	ok(last_res.done, "it answered EHLO");
	buf_free(&many);

	/* A bare LF ends a line, with a warning. */
	reach(PHASE_READY);
	send_line("NOOP");
	is_int(feed("250 ok\n"), CLIENT_REPLY, "a bare LF ends the reply");
	ok(last_recv.bare_lf, "marked bare LF");
	ok(has_event("W reply line ended with a bare LF instead of CRLF"), "and warned");

	/* A reply kept for the caller is bounded; its lines all shown. */
	reach(PHASE_READY);
	send_line("HELP");
	struct buf help;
	buf_init(&help);
	for (int i = 0; i < 200; i++) {
		buf_puts(&help, "214-");
		for (int j = 0; j < 500; j++)
			buf_putc(&help, 'h');
		buf_puts(&help, "\r\n");
	}
	buf_puts(&help, "214 end\r\n");
	feed_n(help.data, help.len, NULL);
	ok(c.last.text.len < CLIENT_REPLY_TEXT_MAX, "the kept text is bounded");
	is_int((long long)c.last.nlines, 201, "every line counted");
	buf_free(&help);
}

/* --- STARTTLS ------------------------------------------------------------------------------- */

static void test_starttls(void)
{
	reach(PHASE_READY);
	ok(caps_has(&c.caps, "STARTTLS"), "EHLO recorded STARTTLS");
	send_line("STARTTLS");
	send_line("NOOP"); /* a command pipelined after STARTTLS (a client that should not) */
	size_t rest = 0;
	const char bytes[] = "220 go ahead\r\n250-injected\r\n250 reply\r\n";
	is_int(feed_n(bytes, strlen(bytes), &rest), CLIENT_UPGRADE_TLS, "220 asks for TLS");
	is_int((long long)rest, (long long)strlen("250-injected\r\n250 reply\r\n"),
	       "the bytes after the 220 are not read as replies");
	is_int(c.phase, PHASE_READY, "the phase waits for the handshake");
	/* The caller discards its buffer; the engine forgets its part. */
	is_int((long long)client_tls_reset(&c), 0, "the reader held nothing after the 220");
	ok(!c.caps.known && !caps_has(&c.caps, "STARTTLS"), "capabilities forgotten");
	is_int((long long)c.pend_n, 0, "no reply owed from before TLS");
	is_int((long long)c.sent_seq, (long long)c.done_seq, "sequence numbers in step");
	client_tls_started(&c);
	is_int(c.phase, PHASE_GREETED, "after the handshake: EHLO next");
	is_str(trace.data, "ready -> greeted\n", "trace of the upgrade");

	/* Bytes in the middle of a line when the 220 came: counted by client_tls_reset. */
	reach(PHASE_READY);
	send_line("STARTTLS");
	is_int(feed("220 go\r\n"), CLIENT_UPGRADE_TLS, "220");
	feed("250-inj"); /* no reply is owed: the engine reads it as the start of one */
	is_int((long long)client_tls_reset(&c), 7, "partial line counted as discarded");
	ok(!client_mid_reply(&c), "the reader starts afresh");

	/* AUTH state forgotten. */
	reach(PHASE_READY);
	exchange("AUTH PLAIN AGFsaWNlAHNlY3JldA==", "235 ok\r\n");
	ok(c.authed, "authenticated before STARTTLS");
	exchange("STARTTLS", "220 go\r\n");
	client_tls_reset(&c);
	client_tls_started(&c);
	ok(!c.authed && !c.in_auth && c.auth_user[0] == '\0' && c.authed_mech[0] == '\0',
	   "AUTH state forgotten after TLS (RFC 3207 4.2)");

	/* STARTTLS refused: nothing changes. */
	reach(PHASE_READY);
	is_int(exchange("STARTTLS", "454 not now\r\n"), CLIENT_REPLY, "454: just a reply");
	ok(caps_has(&c.caps, "STARTTLS"), "capabilities kept after a refusal");
	is_int(c.phase, PHASE_READY, "still ready");

	/* EHLO forgets the old capabilities before its reply. */
	reach(PHASE_READY);
	send_line("EHLO again");
	ok(!caps_has(&c.caps, "PIPELINING"), "EHLO clears the capabilities when sent");
	feed("250-mx\r\n250 SIZE 1000\r\n");
	ok(caps_has(&c.caps, "SIZE") && !caps_has(&c.caps, "PIPELINING"), "the new ones recorded");
	reach(PHASE_READY);
	send_line("EHLO again");
	feed("550 no\r\n");
	ok(!c.caps.known, "a refused EHLO leaves none");
}

/* --- AUTH ----------------------------------------------------------------------------------- */

static void test_auth(void)
{
	/* Every spelling authline knows carries a secret: masked, and the user followed. */
	static const char *const spellings[] = {
	    "AUTH PLAIN AGFsaWNlAHNlY3JldA==",	 "auth PLAIN AGFsaWNlAHNlY3JldA==",
	    "AUTH\tPLAIN AGFsaWNlAHNlY3JldA==",	 " AUTH PLAIN AGFsaWNlAHNlY3JldA==",
	    "AUTH  PLAIN  AGFsaWNlAHNlY3JldA==", "\tAUTH\tPLAIN\tAGFsaWNlAHNlY3JldA==",
	    "AUTH PLAIN\tAGFsaWNlAHNlY3JldA==",	 "AuTh\vPLAIN\fAGFsaWNlAHNlY3JldA==",
	};
	for (size_t i = 0; i < sizeof spellings / sizeof spellings[0]; i++) {
		reach(PHASE_READY);
		send_line(spellings[i]);
		ok(last_sent_secret, "spelling %zu: a secret", i);
		is_str(S(last_sent_redacted), "AUTH PLAIN <redacted>", "spelling %zu: masked", i);
		ok(!strstr(c.pending[c.pend_head].shown, "AGFsaW"),
		   "spelling %zu: the owed command is kept masked", i);
		feed("235 2.7.0 ok\r\n");
		is_str(last_recv.command, "AUTH PLAIN <redacted>",
		       "spelling %zu: reply names it masked", i);
		ok(c.authed, "spelling %zu: authenticated", i);
		is_str(S(c.auth_user), "alice", "spelling %zu: user followed", i);
		is_str(S(c.authed_mech), "PLAIN", "spelling %zu: mechanism", i);
	}

	/* LOGIN: the user name in the first response, the password in the second. */
	reach(PHASE_READY);
	send_line("AUTH LOGIN");
	ok(!last_sent_secret, "AUTH LOGIN alone holds no secret");
	feed("334 VXNlcm5hbWU6\r\n");
	ok(c.in_auth, "334: inside the exchange");
	is_int(client_classify("QUIT", c.in_auth), VERB_AUTH_DATA, "the next line is a response");
	send_line("Ym9i"); /* bob */
	ok(last_sent_secret, "the user name response is masked");
	is_str(S(last_sent_redacted), "<redacted>", "as <redacted>");
	is_str(S(c.pending[c.pend_head].shown), "<redacted>", "and kept masked");
	is_str(S(last_sent_login_user), "bob", "the screen gets the user name, decoded");
	feed("334 UGFzc3dvcmQ6\r\n");
	send_line("c2VjcmV0"); /* secret */
	ok(last_sent_secret, "the password response is masked");
	is_str(S(last_sent_login_user), "", "the password is never decoded for the screen");
	is_int(feed("235 2.7.0 ok\r\n"), CLIENT_REPLY, "235");
	ok(!c.in_auth, "the exchange is over");
	is_str(S(c.auth_user), "bob", "LOGIN user followed");
	is_str(S(c.authed_mech), "LOGIN", "LOGIN mechanism");
	ok(!memchr(c.auth_user, 0, 0) && !strstr(c.auth_user, "secret"), "no password kept");

	/* Only an answer to a challenge that asks for the user name is decoded. */
	reach(PHASE_READY);
	exchange("AUTH LOGIN", "334 UGFzc3dvcmQ6\r\n"); /* "Password:" first */
	send_line("c2VjcmV0");
	ok(last_sent_secret && !last_sent_login_user[0], "an answer to Password: stays hidden");
	feed("535 5.7.8 bad\r\n");
	exchange("AUTH LOGIN", "334 \r\n"); /* an empty challenge says nothing */
	send_line("Ym9i");
	ok(last_sent_secret && !last_sent_login_user[0], "an answer to an empty 334 stays hidden");
	feed("535 5.7.8 bad\r\n");

	/* Cancelling is no secret; a refusal forgets the user. */
	reach(PHASE_READY);
	exchange("auth login", "334 VXNlcm5hbWU6\r\n");
	is_str(S(c.auth_mech), "LOGIN", "the mechanism is kept upper-case");
	send_line("*");
	ok(!last_sent_secret, "\"*\" cancels in the clear");
	feed("501 cancelled\r\n");
	ok(!c.in_auth && !c.authed, "cancelled: out of the exchange, not authenticated");
	exchange("AUTH PLAIN AGFsaWNlAHNlY3JldA==", "535 5.7.8 bad\r\n");
	ok(!c.authed && c.auth_try[0] == '\0', "535: not authenticated, the user forgotten");

	/* XOAUTH2 and CRAM-MD5 user names; other mechanisms name none. */
	reach(PHASE_READY);
	/* user=carol\x01auth=Bearer t\x01\x01 */
	exchange("AUTH XOAUTH2 dXNlcj1jYXJvbAFhdXRoPUJlYXJlciB0AQE=", "235 ok\r\n");
	is_str(S(c.auth_user), "carol", "XOAUTH2 user followed");
	reach(PHASE_READY);
	exchange("AUTH CRAM-MD5", "334 PDEyMzQ1QGV4YW1wbGU+\r\n");
	send_line("ZGF2ZSAwMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZg=="); /* dave <hex> */
	feed("235 ok\r\n");
	is_str(S(c.auth_user), "dave", "CRAM-MD5 user followed");
	reach(PHASE_READY);
	exchange("AUTH GSSAPI", "334 \r\n");
	send_line("YWJj");
	ok(last_sent_secret, "any response is masked");
	feed("235 ok\r\n");
	ok(c.authed && strcmp(c.auth_user, "") == 0, "an unknown mechanism: no user name");
	is_str(S(c.authed_mech), "GSSAPI", "but its mechanism");

	/* A new connection forgets everything. */
	client_reset(&c);
	ok(!c.authed && !c.caps.known && c.pend_n == 0 && c.greeting == 0, "reset forgets all");
}

/* --- BDAT (RFC 3030) and the recipients of a transaction ----------------------------------- */

static void test_bdat(void)
{
	unsigned long long n = 0;
	bool last = false;
	ok(client_bdat_parse("BDAT 86 LAST", &n, &last) && n == 86 && last, "BDAT 86 LAST parsed");
	ok(client_bdat_parse("  bdat 0 last", &n, &last) && n == 0 && last,
	   "any case, leading blanks, BDAT 0 LAST");
	ok(client_bdat_parse("BDAT 4096", &n, &last) && n == 4096 && !last, "a chunk not LAST");
	ok(!client_bdat_parse("BDAT", &n, &last) && !client_bdat_parse("BDAT x", &n, &last) &&
	       !client_bdat_parse("BDAT 5 FIRST", &n, &last) &&
	       !client_bdat_parse("BDAT -1", &n, &last) &&
	       !client_bdat_parse("BDAT 12345678901234567890", &n, &last) &&
	       !client_bdat_parse("BDATA 5", &n, &last),
	   "malformed BDAT lines refused (no size, junk, 20 digits)");
	is_int(client_classify("bdat 5", false), VERB_BDAT, "BDAT classified");

	/* Chunks move to the BDAT phase, LAST ends the transaction. */
	reach(PHASE_RCPT);
	exchange("BDAT 100", "250 2.0.0 100 octets received\r\n");
	is_int(c.phase, PHASE_BDAT, "a chunk accepted: in the BDAT phase");
	is_str(S(trace.data), "rcpt -> bdat\n", "traced rcpt -> bdat");
	exchange("BDAT 50", "250 2.0.0 50 octets received\r\n");
	is_int(c.phase, PHASE_BDAT, "another chunk: still BDAT");
	exchange("BDAT 10 LAST", "250 2.0.0 Ok: queued as ABC\r\n");
	is_int(c.phase, PHASE_READY, "LAST accepted: the transaction ended");
	is_int(client_txn(&c)->n, 1, "one recipient");
	is_int(c.txn.rcpt[0].final_code, 250, "its final reply is the LAST chunk's");
	is_str(c.txn.rcpt[0].final_line, "2.0.0 Ok: queued as ABC", "with its text");

	/* A refused chunk: no more chunks (RFC 3030 2); RSET makes the session usable. */
	reach(PHASE_RCPT);
	exchange("BDAT 5", "250 ok\r\n");
	exchange("BDAT 99999", "552 5.3.4 message too big\r\n");
	ok(c.bdat_refused, "a refused chunk is remembered");
	is_int(c.phase, PHASE_BDAT, "the phase stays until RSET");
	is_int(c.txn.rcpt[0].final_code, 552, "the refusal is the recipients' final reply");
	exchange("RSET", "250 ok\r\n");
	ok(!c.bdat_refused && c.phase == PHASE_READY, "RSET: ready, chunks allowed again");

	/* A LAST refused as the first chunk. */
	reach(PHASE_RCPT);
	exchange("BDAT 3 LAST", "554 5.7.1 rejected\r\n");
	ok(c.bdat_refused && c.phase == PHASE_RCPT, "LAST refused: the transaction failed");

	/* Pipelined chunks (RFC 3030 4.2): replies answer them in order. */
	reach(PHASE_RCPT);
	send_line("BDAT 10");
	send_line("BDAT 10");
	send_line("BDAT 0 LAST");
	is_int(c.pend_n, 3, "three chunks owed");
	feed("250 a\r\n250 b\r\n");
	is_int(c.phase, PHASE_BDAT, "two replies: still in BDAT");
	feed("250 queued\r\n");
	is_int(c.phase, PHASE_READY, "the LAST one's reply ends it");
}

static void test_recipients(void)
{
	reach(PHASE_READY);
	exchange("MAIL FROM:<a@x>", "250 ok\r\n");
	exchange("RCPT TO:<b@x> NOTIFY=FAILURE", "250 2.1.5 Ok\r\n");
	exchange("RCPT TO:<nobody@x>", "550 5.1.1 <nobody@x>: Recipient address rejected\r\n");
	exchange("rcpt to:<c@x>", "250-2.1.5 fine\r\n250 really\r\n");
	is_int(client_txn(&c)->n, 3, "three recipients remembered");
	is_str(c.txn.rcpt[0].addr, "b@x", "the address without its parameters");
	is_int(c.txn.rcpt[1].rcpt_code, 550, "a refused one keeps its code");
	is_str(c.txn.rcpt[1].rcpt_line, "5.1.1 <nobody@x>: Recipient address rejected",
	       "and its text, enhanced code first");
	is_str(c.txn.rcpt[2].rcpt_line, "2.1.5 fine", "the first line of a multi-line reply");
	exchange("DATA", "354 go\r\n");
	client_expect_dot(&c, clock_ms);
	feed("250 2.0.0 queued\r\n");
	ok(c.txn.rcpt[0].final_code == 250 && c.txn.rcpt[1].final_code == 0 &&
	       c.txn.rcpt[2].final_code == 250,
	   "SMTP: the reply to the end of DATA answers for each accepted recipient");
	/* One per accepted recipient, in order (LMTP, RFC 2033 4.2). */
	for (size_t i = 0; i < client_txn(&c)->n; i++)
		c.txn.rcpt[i].final_code = 0;
	ok(client_rcpt_final(&c, 250, "ok", 2, false) && c.txn.rcpt[0].final_code == 250 &&
	       c.txn.rcpt[2].final_code == 0,
	   "one by one: the first accepted recipient");
	ok(client_rcpt_final(&c, 452, "full", 4, false) && c.txn.rcpt[2].final_code == 452,
	   "then the next accepted one");
	ok(!client_rcpt_final(&c, 250, "x", 1, false), "none left: false");
	exchange("MAIL FROM:<a@x>", "250 ok\r\n");
	is_int(client_txn(&c)->n, 0, "a new MAIL starts a new list");
	client_reset(&c);
	is_int(client_txn(&c)->n, 0, "a new connection forgets them");
}

/* --- QUIT, 421 ------------------------------------------------------------------------------ */

static void test_quit_and_421(void)
{
	static const enum smtp_phase phases[] = {PHASE_GREETED, PHASE_READY, PHASE_MAIL,
						 PHASE_RCPT};
	for (size_t i = 0; i < sizeof phases / sizeof phases[0]; i++) {
		reach(phases[i]);
		is_int(exchange("QUIT", "221 2.0.0 bye\r\n"), CLIENT_CLOSE,
		       "221 to QUIT in %s closes", client_phase_name(phases[i]));
		reach(phases[i]);
		is_int(exchange("quit", "500 what\r\n"), CLIENT_REPLY, "500 to QUIT in %s: a reply",
		       client_phase_name(phases[i]));
		reach(phases[i]);
		exchange("NOOP", "421 4.4.2 timeout\r\n");
		ok(has_event("W the server says it is closing the connection (421)"),
		   "421 in %s warned", client_phase_name(phases[i]));
		is_int(c.phase, phases[i], "421 in %s changes no phase",
		       client_phase_name(phases[i]));
	}
	reach(PHASE_READY);
	is_int(feed("421 shutting down\r\n"), CLIENT_REPLY, "an unasked 421 is a reply");
	ok(has_event("W the server sent a reply no command was waiting for"), "unasked");
	ok(!has_event("closing the connection (421)"), "an unsolicited reply has no effect");
	reach(PHASE_DATA);
	client_expect_dot(&c, 0);
	feed("421 going\r\n");
	ok(has_event("closing the connection (421)"), "421 to the end of DATA warned");
	is_int(c.phase, PHASE_READY, "and the message is over");
}

/* --- events --------------------------------------------------------------------------------- */

static void test_events(void)
{
	reach(PHASE_READY);
	clock_ms = 1000;
	send_line("MAIL FROM:<a@x>");
	ok(has_event("S MAIL FROM:<a@x>"), "a command is reported as sent");
	clock_ms = 1042;
	feed("250-one\r\n250 two\r\n");
	ok(has_event("R 250 250-one\nR 250 250 two\n"), "each line received, in order");
	is_int(last_recv.elapsed_ms, 42, "the reply's time since its command");
	ok(last_recv.last, "the last line marked last");
	is_str(last_recv.command, "MAIL FROM:<a@x>", "the command it answers");
	is_str(c.last.text.data, "250-one\n250 two", "the reply kept, lines joined");
	is_int(c.last.code, 250, "its code");
	clock_ms = 0;

	struct client_command o;
	reach(PHASE_READY);
	client_command(&c, &o, "AUTH PLAIN AGFsaWNlAHNlY3JldA==", "AUTH PLAIN ****", VERB_AUTH, 0,
		       0);
	ok(has_event("S AUTH PLAIN ****\n"), "shown: the caller's form");
	ok(!has_event("AGFsaW"), "the secret is not in the event's text when shown masks it");
}

/* --- LMTP (RFC 2033) ------------------------------------------------------------------------ */

/* An LMTP conversation up to DATA's 354 with rcpts (a refused one's reply starts with 5). */
static void lmtp_to_data(const char *const *rcpts, const char *const *replies, size_t n)
{
	fresh();
	client_set_lmtp(&c, true);
	client_reset(&c);
	client_connected(&c, clock_ms);
	feed("220 lmtp.example LMTP\r\n");
	exchange("LHLO me", "250-lmtp.example\r\n250 PIPELINING\r\n");
	exchange("MAIL FROM:<a@x>", "250 ok\r\n");
	for (size_t i = 0; i < n; i++)
		exchange(rcpts[i], replies[i]);
	exchange("DATA", "354 go\r\n");
	buf_reset(&events);
	buf_reset(&trace);
}

static void test_lmtp(void)
{
	static const char *const rcpts[] = {"RCPT TO:<bob@x>", "RCPT TO:<nobody@x>",
					    "RCPT TO:<carol@x> NOTIFY=NEVER"};
	static const char *const replies[] = {"250 2.1.5 ok\r\n", "550 5.1.1 unknown\r\n",
					      "250 2.1.5 ok\r\n"};
	lmtp_to_data(rcpts, replies, 3);
	ok(c.dot_alone, "LMTP: the \".\" goes alone (never pipelined with what follows)");
	const struct client_txn *t = client_txn(&c);
	is_int((long)t->n, 3, "three recipients in the transaction");
	is_str(t->rcpt[0].addr, "bob@x", "the address as given, without <>");
	is_str(t->rcpt[2].addr, "carol@x", "parameters after the address are not part of it");
	ok(t->rcpt[0].accepted && !t->rcpt[1].accepted && t->rcpt[2].accepted,
	   "accepted: the 250s, not the 550");
	is_int(t->rcpt[1].rcpt_code, 550, "the refused one's RCPT reply kept");
	is_str(t->rcpt[1].rcpt_text, "550 5.1.1 unknown", "and its text");

	client_expect_dot(&c, clock_ms);
	is_int((long)c.pend_n, 2, "the \".\" owes one reply per accepted recipient (2, not 3)");
	size_t got = 9, want = 9;
	ok(client_dot_replies(&c, &got, &want) && got == 0 && want == 2, "0 of 2 replies so far");
	is_int(feed("250 2.0.0 <bob@x> delivered\r\n"), CLIENT_REPLY,
	       "the first recipient's reply");
	is_int(c.phase, PHASE_DATA, "still waiting for the second: the phase stays");
	is_str(last_recv.rcpt, "bob@x", "the event names its recipient");
	ok(last_recv.rcpt_index == 1 && last_recv.rcpt_total == 2, "1 of 2");
	ok(client_dot_replies(&c, &got, &want) && got == 1 && want == 2, "1 of 2 replies so far");
	is_int(feed("552 5.2.2 <carol@x> over quota\r\n"), CLIENT_REPLY, "the second one's");
	is_str(last_recv.rcpt, "carol@x", "the event names the second recipient");
	ok(last_recv.rcpt_index == 2 && last_recv.rcpt_total == 2, "2 of 2");
	is_int(c.phase, PHASE_READY, "all replies came: the transaction is over");
	is_str(trace.data, "data -> ready\n", "one phase change, after the last reply");
	ok(!client_dot_replies(&c, &got, &want), "no reply to \".\" owed any more");
	is_int(t->rcpt[0].final_code, 250, "bob's final reply kept");
	is_str(t->rcpt[2].final_text, "552 5.2.2 <carol@x> over quota", "carol's final reply kept");
	is_int(t->rcpt[1].final_code, 0, "the refused recipient has no final reply");
	is_int((long)c.pend_n, 0, "nothing owed");

	/* Several replies in one read: each is one reply, each answers its recipient. */
	lmtp_to_data(rcpts, replies, 3);
	client_expect_dot(&c, clock_ms);
	feed("250 a\r\n250 b\r\n");
	is_str(actions.data, "reply,reply", "two replies from one read");
	is_int(c.phase, PHASE_READY, "both consumed");

	/* A short LMTP server: one reply, then a NOOP's reply would be taken for carol's. */
	lmtp_to_data(rcpts, replies, 3);
	client_expect_dot(&c, clock_ms);
	feed("250 a\r\n");
	ok(client_dot_replies(&c, &got, &want) && got == 1 && want == 2,
	   "a server that stops after one: the caller sees 1 of 2 (its timeout says so)");

	/* An accepted RSET empties the list (a new MAIL does too, below). */
	lmtp_to_data(rcpts, replies, 3);
	client_expect_dot(&c, clock_ms);
	feed("250 a\r\n250 b\r\n");
	is_int((long)client_txn(&c)->n, 3, "after the transaction its recipients stay readable");
	exchange("RSET", "250 ok\r\n");
	is_int((long)client_txn(&c)->n, 0, "RSET accepted: no recipients");

	/* SMTP: the one reply to "." is every accepted recipient's final reply. */
	reach(PHASE_RCPT);
	exchange("RCPT TO:<c@x>", "451 later\r\n");
	exchange("DATA", "354 go\r\n");
	client_expect_dot(&c, clock_ms);
	is_int((long)c.pend_n, 1, "SMTP: one reply owed to \".\"");
	feed("250 queued\r\n");
	t = client_txn(&c);
	ok(t->n == 2 && t->rcpt[0].final_code == 250 && t->rcpt[1].final_code == 0,
	   "SMTP: the accepted recipient's final reply is the one reply");
	ok(last_recv.rcpt == NULL, "SMTP: the reply names no recipient");
	exchange("MAIL FROM:<a@x>", "250 ok\r\n");
	is_int((long)client_txn(&c)->n, 0, "a new MAIL: a new list");
}

/* BDAT ... LAST in LMTP: one reply per accepted recipient, as after "." (RFC 2033 4.3 with
   RFC 3030), into the same recipient list. */
static void test_lmtp_bdat(void)
{
	static const char *const rcpts[] = {"RCPT TO:<bob@x>", "RCPT TO:<nobody@x>",
					    "RCPT TO:<carol@x>"};
	static const char *const replies[] = {"250 2.1.5 ok\r\n", "550 5.1.1 unknown\r\n",
					      "250 2.1.5 ok\r\n"};
	fresh();
	client_set_lmtp(&c, true);
	client_reset(&c);
	client_connected(&c, clock_ms);
	feed("220 lmtp.example LMTP\r\n");
	exchange("LHLO me", "250-lmtp.example\r\n250 CHUNKING\r\n");
	exchange("MAIL FROM:<a@x>", "250 ok\r\n");
	for (size_t i = 0; i < 3; i++)
		exchange(rcpts[i], replies[i]);
	exchange("BDAT 10", "250 2.0.0 10 octets received\r\n");
	is_int(c.pend_n, 0, "LMTP: a chunk that is not LAST gets one reply");
	is_int(c.phase, PHASE_BDAT, "in the BDAT phase");
	unsigned long messages = c.messages;
	send_line("BDAT 5 LAST");
	is_int((long)c.pend_n, 2,
	       "LMTP: BDAT LAST owes one reply per accepted recipient (2, not 3)");
	size_t got = 9, want = 9;
	ok(client_dot_replies(&c, &got, &want) && got == 0 && want == 2, "0 of 2 replies so far");
	feed("250 2.0.0 <bob@x> delivered\r\n");
	is_int(c.phase, PHASE_BDAT, "still waiting for the second: the phase stays");
	is_str(last_recv.rcpt, "bob@x", "the event names its recipient");
	ok(last_recv.rcpt_index == 1 && last_recv.rcpt_total == 2, "1 of 2");
	is_int((long)c.messages, (long)messages, "the message is not answered yet");
	feed("552 5.2.2 <carol@x> over quota\r\n");
	is_str(last_recv.rcpt, "carol@x", "the second reply names the second recipient");
	is_int(c.phase, PHASE_READY, "all replies came: the transaction is over");
	ok(!c.bdat_refused, "a recipient's refusal after LAST is no refused chunk");
	is_int((long)c.messages, (long)messages + 1, "the message answered once, after both");
	const struct client_txn *t = client_txn(&c);
	ok(t->rcpt[0].final_code == 250 && t->rcpt[1].final_code == 0 &&
	       t->rcpt[2].final_code == 552,
	   "each accepted recipient has its own final reply, the refused one none");
	is_str(t->rcpt[2].final_text, "552 5.2.2 <carol@x> over quota", "kept whole");
	is_str(t->rcpt[2].final_line, "5.2.2 <carol@x> over quota", "and as the table shows it");
	is_int((long)c.pend_n, 0, "nothing owed");

	/* SMTP: the one reply to LAST is every accepted recipient's (the same list). */
	reach(PHASE_RCPT);
	exchange("RCPT TO:<c@x>", "250 ok\r\n");
	send_line("BDAT 3 LAST");
	is_int((long)c.pend_n, 1, "SMTP: one reply owed to BDAT LAST");
	feed("250 2.0.0 queued\r\n");
	t = client_txn(&c);
	ok(t->n == 2 && t->rcpt[0].final_code == 250 && t->rcpt[1].final_code == 250 &&
	       strcmp(t->rcpt[1].final_line, "2.0.0 queued") == 0,
	   "SMTP: both recipients' final reply is the one reply");
}

/* --- XCLIENT (Postfix): a new greeting ------------------------------------------------------ */

static void test_xclient(void)
{
	reach(PHASE_READY);
	exchange("EHLO me",
		 "250-mx\r\n250-XCLIENT NAME ADDR PORT PROTO HELO LOGIN\r\n250 PIPELINING\r\n");
	ok(caps_has(&c.caps, "XCLIENT"), "XCLIENT advertised");
	buf_reset(&trace);
	is_int(exchange("XCLIENT ADDR=192.0.2.1 NAME=spike.example", "220 mx.example ESMTP\r\n"),
	       CLIENT_NEW_GREETING, "220 to XCLIENT: a new greeting");
	is_int(c.phase, PHASE_GREETED, "phase back to greeted");
	is_str(trace.data, "ready -> greeted\n", "traced");
	ok(!c.caps.known && !caps_has(&c.caps, "XCLIENT"), "the capabilities are forgotten");
	ok(has_event("I XCLIENT accepted"), "said as a local event");
	ok(has_event("EHLO comes next"), "naming the hello verb of SMTP");
	is_int(exchange("EHLO spike.example", "250-mx\r\n250 PIPELINING\r\n"), CLIENT_REPLY,
	       "EHLO after the new greeting");
	is_int(c.phase, PHASE_READY, "ready again");
	is_int(exchange("XCLIENT ADDR=192.0.2.1", "550 5.7.0 not authorized\r\n"), CLIENT_REPLY,
	       "a refused XCLIENT is a reply");
	is_int(c.phase, PHASE_READY, "and changes nothing");
	ok(caps_has(&c.caps, "PIPELINING"), "the capabilities stay");

	/* LMTP (Postfix's lmtp client can XCLIENT too): the new greeting asks for LHLO. */
	greeted();
	client_set_lmtp(&c, true);
	exchange("LHLO me", "250-mx\r\n250 XCLIENT ADDR\r\n");
	buf_reset(&events);
	is_int(exchange("XCLIENT ADDR=192.0.2.1", "220 mx.example LMTP\r\n"), CLIENT_NEW_GREETING,
	       "LMTP: a new greeting too");
	ok(has_event("LHLO comes next") && !has_event("EHLO"), "naming LHLO, not EHLO");
	client_set_lmtp(&c, false);
}

/* --- raw bytes: out of step, and back ------------------------------------------------------ */

/* Raw bytes as the session writes them (reveal: \set reveal-secrets). */
static void raw(const char *data, bool reveal)
{
	client_raw(&c, data, strlen(data), reveal);
}

/* The probe ends (the caller saw the line quiet): its action. */
static enum client_action probe_end(void)
{
	struct client_result res;
	return client_probe_end(&c, &res);
}

static void test_raw(void)
{
	reach(PHASE_READY);
	raw("MAIL FROM:<a@x>\nRCPT TO:<b@x>\n", false);
	ok(has_event("S MAIL FROM:<a@x>\nRCPT TO:<b@x>\n\n"), "raw bytes reported as sent, as is");
	ok(c.out_of_step, "raw bytes: out of step");
	ok(has_event("W out of step: smtpsh cannot tell how many replies raw bytes owe"),
	   "said so, once");
	ok(has_event("NOOP is a harmless one"), "with the way back");
	buf_reset(&events);
	raw("DATA\r\n", false);
	ok(!has_event("W out of step"), "a second raw write does not say it again");

	/* replies as they come: shown, paired with nothing, no effect */
	is_int(feed("250 ok one\r\n"), CLIENT_REPLY, "a reply out of step is a reply");
	ok(last_recv.unsolicited && !last_recv.verb && !last_recv.command,
	   "paired with no command");
	ok(!has_event("no command was waiting"), "not called unasked: raw bytes may owe it");
	feed("354 go\r\n");
	is_int(c.phase, PHASE_READY, "a 354 out of step does not start a message");
	is_int(c.pend_n, 0, "nothing owed");

	/* the way back: a command written, its reply is the last before the line is quiet */
	send_line("NOOP");
	ok(c.probing, "a command out of step starts the probe");
	is_int(probe_end(), CLIENT_NONE, "no reply yet: the probe cannot end");
	feed("250 ok two\r\n");
	ok(last_recv.unsolicited && !last_recv.command, "a late reply to the raw bytes: unpaired");
	is_int(c.pend_n, 1, "the command's reply still owed");
	feed("250 2.0.0 noop\r\n");
	ok(!last_recv.command, "even the last one is not paired as it arrives");
	is_int(probe_end(), CLIENT_REPLY, "quiet: the probe ends");
	ok(!c.out_of_step && !c.probing, "back in step");
	is_int(c.pend_n, 0, "the command answered");
	ok(has_event("I back in step: the last reply (250) answers NOOP, the 1 before it answered "
		     "the raw bytes"),
	   "said which reply answered what");
	exchange("RSET", "250 reset\r\n");
	is_str(last_recv.command, "RSET", "then replies are paired again");

	/* the probe carries out what its reply does */
	reach(PHASE_READY);
	raw("MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\n", false);
	feed("250 a\r\n250 b\r\n");
	send_line("DATA");
	feed("354 go\r\n");
	is_int(probe_end(), CLIENT_START_DATA,
	       "354 as the probe's reply to DATA starts the message");
	is_int(c.phase, PHASE_DATA, "in DATA");

	/* raw bytes inside DATA: the message content; the "." probes */
	raw("\n.\nRSET\n", false);
	ok(last_sent_secret == false && c.out_of_step, "raw inside DATA: out of step too");
	client_expect_dot(&c, 0);
	feed("250 queued as A\r\n250 reset\r\n");
	is_int(c.phase, PHASE_DATA, "replies to smuggled commands change nothing");
	feed("502 5.5.2 Error: command not recognized\r\n");
	is_int(probe_end(), CLIENT_REPLY, "the reply to the end of data");
	is_int(c.phase, PHASE_READY, "the message is over");
	ok(has_event("the last reply (502) answers ., the 2 before it answered the raw bytes"),
	   "the smuggled replies named as the raw bytes'");

	/* replies owed when raw bytes go: forgotten, said */
	reach(PHASE_READY);
	send_line("NOOP");
	raw("RSET\r\n", false);
	ok(has_event("W 1 reply owed to earlier commands can no longer be told"),
	   "a reply owed is forgotten, with a warning");
	is_int(c.pend_n, 0, "the queue is empty");

	/* a pipelined group gets back by the quiet line alone */
	reach(PHASE_READY);
	raw("NOOP\r\n", false);
	client_resync(&c, 500);
	ok(!c.out_of_step, "resync: back in step");
	ok(has_event("I back in step: the server was quiet for 500 ms"), "said so");

	/* a malformed reply out of step answers nothing */
	reach(PHASE_READY);
	raw("X\r\n", false);
	send_line("NOOP");
	is_int(feed("hello\r\n"), CLIENT_PROTO_ERROR, "malformed: a protocol error");
	is_int(c.pend_n, 1, "it did not take the command's place");

	/* the connection's end forgets it all */
	reach(PHASE_READY);
	raw("X", false);
	client_reset(&c);
	ok(!c.out_of_step && !c.probing, "a new connection is in step");
}

static void test_raw_secrets(void)
{
	reach(PHASE_READY);
	raw("EHLO x\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nNOOP\n", false);
	ok(!has_event("AGFsaW"), "an AUTH secret in raw bytes is not shown");
	ok(has_event("S EHLO x\r\nAUTH PLAIN <redacted>\r\nNOOP\n"),
	   "the rest is shown as is, the AUTH line redacted");
	ok(last_sent_secret, "the event holds a secret");
	is_str(S(last_sent_redacted), "EHLO x\r\nAUTH PLAIN <redacted>\r\nNOOP\n",
	       "its redacted form: what a file may keep");

	reach(PHASE_READY);
	raw("auth\tplain AGFsaWNl", false);
	ok(has_event("S AUTH plain <redacted>\n"), "spelt as a server reads it, unfinished");
	raw("AHNlY3JldA==\r\nNOOP\r\n", false);
	ok(!has_event("AHNlY3J"), "the rest of that AUTH line in the next write is redacted");
	ok(has_event("S <redacted>\r\nNOOP\r\n"), "only that line");
	raw("NOOP\r\n", false);
	ok(!last_sent_secret, "the line ended: the next write is no secret");

	reach(PHASE_READY);
	raw("AUTH LOGIN\r\n", false);
	ok(!last_sent_secret, "AUTH LOGIN alone holds no secret");
	feed("334 VXNlcm5hbWU6\r\n");
	raw("YWxpY2U=\r\n", false);
	ok(last_sent_secret && !has_event("YWxpY2U"),
	   "after a 334 out of step: an answer, redacted");
	feed("334 UGFzc3dvcmQ6\r\n");
	raw("*\r\n", false);
	ok(!last_sent_secret, "\"*\" cancels: no secret");
	feed("501 cancelled\r\n");
	raw("NOOP\r\n", false);
	ok(!last_sent_secret, "after the exchange: no secret");

	reach(PHASE_READY);
	buf_reset(&events);
	raw("AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n", true);
	ok(has_event("S AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"), "revealed on screen when asked");
	is_str(S(last_sent_redacted), "AUTH PLAIN <redacted>\r\n",
	       "the file's form still redacted");
}

/* \raw in LMTP: out of step and LMTP's replies per recipient share the one queue of owed
   replies. */
static void test_raw_lmtp(void)
{
	static const char *const rcpts[] = {"RCPT TO:<bob@x>", "RCPT TO:<carol@x>"};
	static const char *const replies[] = {"250 2.1.5 ok\r\n", "250 2.1.5 ok\r\n"};
	size_t got = 0, want = 0;

	/* raw bytes while recipients' replies to "." are owed: all of them forgotten */
	lmtp_to_data(rcpts, replies, 2);
	client_expect_dot(&c, clock_ms);
	feed("250 2.0.0 <bob@x> saved\r\n");
	ok(client_dot_replies(&c, &got, &want) && got == 1 && want == 2, "1 of 2 so far");
	raw("NOOP\r\n", false);
	ok(has_event("W 1 reply owed to earlier commands can no longer be told"),
	   "carol's reply owed is forgotten, said");
	ok(!client_dot_replies(&c, &got, &want), "no reply to \".\" owed any more");
	is_int((long)c.pend_n, 0, "the queue is empty");
	feed("250 2.0.0 <carol@x> saved\r\n");
	ok(last_recv.rcpt == NULL && !last_recv.command, "her late reply: unpaired, no recipient");

	/* raw bytes inside LMTP's DATA, then the "." that owes two replies: the probe's last
	   reply ends them */
	lmtp_to_data(rcpts, replies, 2);
	raw("\n.\n", false);
	ok(c.out_of_step, "raw inside DATA: out of step");
	client_expect_dot(&c, clock_ms);
	ok(c.probing, "the \".\" probes");
	is_int((long)c.pend_n, 2, "it owes one reply per accepted recipient");
	ok(client_dot_replies(&c, &got, &want) && got == 0 && want == 2, "0 of 2");
	feed("250 2.0.0 <bob@x> early\r\n250 2.0.0 <carol@x> early\r\n");
	feed("250 2.0.0 <bob@x> saved\r\n250 2.0.0 <carol@x> saved\r\n");
	ok(last_recv.rcpt == NULL && !last_recv.command,
	   "out of step: never paired as they arrive");
	buf_reset(&trace);
	is_int(probe_end(), CLIENT_REPLY, "quiet: the probe ends");
	ok(!c.out_of_step && !c.probing, "back in step");
	is_int((long)c.pend_n, 0, "nothing owed");
	ok(!client_dot_replies(&c, &got, &want), "no reply to \".\" owed");
	is_int(c.phase, PHASE_READY, "the transaction is over");
	is_str(trace.data, "data -> ready\n", "one phase change");
	ok(has_event("I back in step: the last reply (250) answers \".\" (2 recipients, the last "
		     "carol@x), the 3 before it answered the raw bytes"),
	   "said which reply ended what");
	is_int(client_txn(&c)->rcpt[1].final_code, 250, "the last recipient's final reply kept");
	exchange("NOOP", "250 ok\r\n");
	is_str(last_recv.command, "NOOP", "then replies are paired again");
}

/* \raw in LMTP before BDAT LAST: its replies per recipient are ended by the probe as those of
   "." are (one account of what is owed, whichever command ends the message). */
static void test_raw_lmtp_bdat(void)
{
	size_t got = 0, want = 0;
	fresh();
	client_set_lmtp(&c, true);
	client_reset(&c);
	client_connected(&c, clock_ms);
	feed("220 lmtp.example LMTP\r\n");
	exchange("LHLO me", "250-lmtp.example\r\n250 CHUNKING\r\n");
	exchange("MAIL FROM:<a@x>", "250 ok\r\n");
	exchange("RCPT TO:<bob@x>", "250 2.1.5 ok\r\n");
	exchange("RCPT TO:<carol@x>", "250 2.1.5 ok\r\n");
	exchange("BDAT 4", "250 2.0.0 4 octets\r\n");
	raw("NOOP\r\n", false);
	ok(c.out_of_step, "raw bytes between chunks: out of step");
	send_line("BDAT 0 LAST");
	ok(c.probing, "BDAT LAST probes");
	is_int((long)c.pend_n, 2, "it owes one reply per accepted recipient");
	ok(client_dot_replies(&c, &got, &want) && got == 0 && want == 2, "0 of 2");
	feed("250 2.0.0 ok\r\n250 2.0.0 <bob@x> saved\r\n250 2.0.0 <carol@x> saved\r\n");
	buf_reset(&trace);
	unsigned long messages = c.messages;
	is_int(probe_end(), CLIENT_REPLY, "quiet: the probe ends");
	ok(!c.out_of_step && !c.probing, "back in step");
	is_int((long)c.pend_n, 0, "nothing owed: bob's entry ended with carol's");
	ok(!client_dot_replies(&c, &got, &want), "no reply per recipient owed");
	is_int(c.phase, PHASE_READY, "the transaction is over");
	is_str(trace.data, "bdat -> ready\n", "one phase change");
	is_int((long)c.messages, (long)messages + 1, "the message answered once");
	ok(has_event("I back in step: the last reply (250) answers BDAT LAST (2 recipients, the "
		     "last carol@x), the 2 before it answered the raw bytes"),
	   "said which reply ended what");
	is_int(client_txn(&c)->rcpt[1].final_code, 250, "the last recipient's final reply kept");
	exchange("NOOP", "250 ok\r\n");
	is_str(last_recv.command, "NOOP", "then replies are paired again");
}

int main(void)
{
	buf_init(&events);
	buf_init(&trace);
	buf_init(&actions);
	client_init(&c, on_event, on_phase, NULL);
	test_greeting();
	test_every_verb_every_phase();
	test_classify();
	test_pipelining();
	test_resend_after_dot();
	test_malformed();
	test_starttls();
	test_auth();
	test_quit_and_421();
	test_bdat();
	test_recipients();
	test_events();
	test_lmtp();
	test_lmtp_bdat();
	test_xclient();
	test_raw();
	test_raw_secrets();
	test_raw_lmtp();
	test_raw_lmtp_bdat();
	client_free(&c);
	buf_free(&events);
	buf_free(&trace);
	buf_free(&actions);
	return done_testing();
}
