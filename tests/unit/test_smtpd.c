/*
 * Unit tests of the practice server's state machine (src/practice/smtpd.c, smtpd_auth.c)
 * and its settings (src/practice/settings.c): every verb, every misstep's code, pipelining,
 * DATA, STARTTLS, AUTH, the teaching faults and the limits. No sockets: bytes in, replies out.
 */
#include "smtpsh/smtpd.h"

#include "smtpsh/practice_like.h"
#include "smtpsh/practice_script.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "tap.h"

/* --- a store in memory ------------------------------------------------------------------- */

static struct buf stored;  /* the last committed message */
static struct buf writing; /* the message being written */
static int commits, aborts, begins;
static bool fail_begin;

static void *mem_begin(void *arg, const struct smtpd_envelope *env)
{
	(void)arg;
	(void)env;
	if (fail_begin)
		return NULL;
	begins++;
	buf_reset(&writing);
	return &writing;
}

static int mem_write(void *h, const char *d, size_t n)
{
	return buf_append(h, d, n);
}

static int mem_commit(void *h)
{
	buf_reset(&stored);
	buf_append(&stored, ((struct buf *)h)->data, ((struct buf *)h)->len);
	commits++;
	return 0;
}

static void mem_abort(void *h)
{
	(void)h;
	aborts++;
}

/* --- events ------------------------------------------------------------------------------ */

static struct buf events; /* "R text\n", "S text\n", "I text\n" */

static void on_event(void *arg, const struct smtpd_event *ev)
{
	(void)arg;
	buf_putc(&events, ev->type == SMTPD_EV_RECEIVED ? 'R'
			  : ev->type == SMTPD_EV_SENT	? 'S'
							: 'I');
	buf_putc(&events, ' ');
	buf_append(&events, ev->text, ev->len);
	buf_putc(&events, '\n');
}

/* --- driving a connection ---------------------------------------------------------------- */

static struct smtpd_config cfg;
static enum smtpd_action last_action;
static time_t clock_now = 1700000000;
static char out_text[65536];

static void reset_config(void)
{
	memset(&cfg, 0, sizeof cfg);
	cfg.hostname = "localhost";
	cfg.user = "student";
	cfg.password = "s3cret-Pw";
	cfg.tls_available = true;
	practice_settings_defaults(&cfg.settings);
	cfg.store = (struct smtpd_store){mem_begin, mem_write, mem_commit, mem_abort, NULL};
}

/* Takes what the engine queued. */
static const char *take(struct smtpd_conn *c)
{
	struct buf *o = smtpd_out(c);
	size_t n = o->len < sizeof out_text - 1 ? o->len : sizeof out_text - 1;
	memcpy(out_text, o->data ? o->data : "", n);
	out_text[n] = '\0';
	buf_consume(o, o->len);
	return out_text;
}

/* Feeds in (all of it, as room allows) and steps until the engine waits or stops. */
static const char *talk_n(struct smtpd_conn *c, const char *in, size_t len)
{
	size_t off = 0;
	struct buf acc;
	buf_init(&acc);
	last_action = SMTPD_NEED_MORE;
	for (;;) {
		size_t took = smtpd_feed(c, in + off, len - off);
		off += took;
		enum smtpd_action a;
		do {
			a = smtpd_step(c, clock_now);
			if (a != SMTPD_NEED_MORE)
				last_action = a;
		} while (a == SMTPD_REPLY || a == SMTPD_NO_REPLY);
		buf_puts(&acc, take(c));
		if (a != SMTPD_NEED_MORE || off == len || (!took && !smtpd_room(c)))
			break;
	}
	snprintf(out_text, sizeof out_text, "%s", acc.data ? acc.data : "");
	buf_free(&acc);
	return out_text;
}

static const char *talk(struct smtpd_conn *c, const char *in)
{
	return talk_n(c, in, strlen(in));
}

static bool starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* is_str() evaluates its arguments twice: this takes the reply once. */
#define reply_is(expr, want, ...)                                                                  \
	do {                                                                                       \
		const char *r_ = (expr);                                                           \
		is_str(r_, (want), __VA_ARGS__);                                                   \
	} while (0)

/* want, with its CR and LF visible (TAP lines must stay one line). */
static const char *visible(const char *want)
{
	static char out[512];
	size_t j = 0;
	for (size_t i = 0; want[i] && j + 3 < sizeof out; i++) {
		if (want[i] == '\r' || want[i] == '\n') {
			out[j++] = '\\';
			out[j++] = want[i] == '\r' ? 'r' : 'n';
		} else {
			out[j++] = want[i];
		}
	}
	out[j] = '\0';
	return out;
}

/* The reply to in starts with want. */
#define expect(c, in, want)                                                                        \
	do {                                                                                       \
		const char *got_ = talk((c), (in));                                                \
		if (!ok(starts(got_, (want)), "%s -> %s", #in, visible(want)))                     \
			tap_show("got", got_, strlen(got_));                                       \
	} while (0)

static void open_conn(struct smtpd_conn *c, bool tls)
{
	buf_reset(&events);
	smtpd_conn_init(c, &cfg, "127.0.0.1", tls, on_event, NULL);
	take(c);
}

static void ehlo(struct smtpd_conn *c)
{
	talk(c, "EHLO client.test\r\n");
}

static void b64(const char *in, size_t len, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)in, (int)len);
}

/* --- the tests ------------------------------------------------------------------------------ */

static void test_greeting_and_sequence(void)
{
	struct smtpd_conn c;
	reset_config();
	smtpd_conn_init(&c, &cfg, "127.0.0.1", false, NULL, NULL);
	reply_is(take(&c), "220 localhost ESMTP smtpsh practice server\r\n", "greeting");
	is_str(smtpd_state_name(c.state), "command", "state after the greeting");
	expect(&c, "MAIL FROM:<a@b.test>\r\n", "503 5.5.1 Error: send HELO/EHLO first");
	expect(&c, "RCPT TO:<a@b.test>\r\n", "503 5.5.1 Error: need MAIL command");
	expect(&c, "DATA\r\n", "503 5.5.1 Error: need RCPT command");
	expect(&c, "EHLO\r\n", "501 5.5.4 Syntax: EHLO hostname");
	expect(&c, "HELO\r\n", "501 5.5.4 Syntax: HELO hostname");
	expect(&c, "FOO bar\r\n", "500 5.5.2 Error: command not recognized");
	expect(&c, "EXPN staff\r\n", "502 5.5.1 Error: command not implemented");
	expect(&c, "BDAT 3 LAST\r\nxyz", "503 5.5.1 Error: send HELO/EHLO first");
	expect(&c, "\r\n", "500 5.5.2 Error: bad syntax");
	expect(&c, "   \r\n", "500 5.5.2 Error: bad syntax");
	const char nul[] = "NO\0OP\r\n";
	const char *got = talk_n(&c, nul, sizeof nul - 1);
	ok(starts(got, "500 5.5.2 Error: command contains a NUL byte"), "a NUL byte in a command");
	expect(&c, "HELO client.test\r\n", "250 localhost\r\n");
	expect(&c, "NOOP\r\n", "250 2.0.0 Ok");
	expect(&c, "noop with words\r\n", "250 2.0.0 Ok");
	expect(&c, "RSET\r\n", "250 2.0.0 Ok");
	expect(&c, "RSET x\r\n", "501 5.5.4 Syntax: RSET");
	expect(&c, "VRFY\r\n", "501 5.5.4 Syntax: VRFY address");
	expect(&c, "VRFY bob@example.test\r\n", "252 2.0.0 Cannot VRFY user");
	got = talk(&c, "HELP\r\n");
	ok(starts(got, "214-2.0.0") && strstr(got, "\r\n214 2.0.0 See RFC 5321\r\n"),
	   "HELP: a multi-line 214");
	expect(&c, "HELP mail\r\n", "214 2.0.0 MAIL FROM:<address>");
	expect(&c, "HELP AUTH\r\n", "214 2.0.0 AUTH MECHANISM [initial-response]: log in (after "
				    "STARTTLS) (mechanisms here: PLAIN LOGIN CRAM-MD5)\r\n");
	expect(&c, "HELP xyzzy\r\n", "504 5.5.4 HELP topic unknown");
	expect(&c, "QUIT now\r\n", "221 2.0.0 Bye");
	is_int(last_action, SMTPD_CLOSE, "QUIT closes");
	is_int(smtpd_room(&c), 0, "nothing more is read after QUIT");
	smtpd_conn_free(&c);
}

static void test_ehlo(void)
{
	struct smtpd_conn c;
	reset_config();
	open_conn(&c, false);
	reply_is(talk(&c, "EHLO client.test\r\n"),
		 "250-localhost Hello client.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
		 "250-8BITMIME\r\n250-BINARYMIME\r\n250-CHUNKING\r\n250-DSN\r\n"
		 "250-SMTPUTF8\r\n250-ENHANCEDSTATUSCODES\r\n250-STARTTLS\r\n250 HELP\r\n",
		 "EHLO in plaintext: STARTTLS, no AUTH");
	cfg.settings.plain_auth = true;
	cfg.settings.size = 5000;
	reply_is(talk(&c, "ehlo x\r\n"),
		 "250-localhost Hello x\r\n250-PIPELINING\r\n250-SIZE 5000\r\n"
		 "250-8BITMIME\r\n250-BINARYMIME\r\n250-CHUNKING\r\n250-DSN\r\n"
		 "250-SMTPUTF8\r\n250-ENHANCEDSTATUSCODES\r\n250-STARTTLS\r\n"
		 "250-AUTH PLAIN LOGIN CRAM-MD5\r\n250 HELP\r\n",
		 "plain-auth on: AUTH in plaintext; the SIZE setting shows");
	smtpd_conn_free(&c);
	reset_config();
	open_conn(&c, true);
	reply_is(talk(&c, "EHLO client.test\r\n"),
		 "250-localhost Hello client.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
		 "250-8BITMIME\r\n250-BINARYMIME\r\n250-CHUNKING\r\n250-DSN\r\n"
		 "250-SMTPUTF8\r\n250-ENHANCEDSTATUSCODES\r\n250-AUTH PLAIN LOGIN CRAM-MD5\r\n"
		 "250 HELP\r\n",
		 "EHLO under TLS: AUTH, no STARTTLS");
	smtpd_conn_free(&c);
}

static void test_mail_rcpt(void)
{
	struct smtpd_conn c;
	reset_config();
	open_conn(&c, false);
	ehlo(&c);
	expect(&c, "MAIL TO:<a@b.test>\r\n", "501 5.5.4 Syntax: MAIL FROM:<address>");
	expect(&c, "MAIL\r\n", "501 5.5.4 Syntax: MAIL FROM:<address>");
	expect(&c, "MAIL FROM:<a@b.test\r\n", "501 5.5.4 Syntax: MAIL FROM:<address>");
	expect(&c, "MAIL FROM:<a b@b.test>\r\n", "501 5.1.7 Bad sender address syntax");
	expect(&c, "MAIL FROM:<a@>\r\n", "501 5.1.7 Bad sender address syntax");
	expect(&c, "MAIL FROM:<a@b..test>\r\n", "501 5.1.7 Bad sender address syntax");
	expect(&c, "MAIL FROM:<a..b@b.test>\r\n", "501 5.1.7 Bad sender address syntax");
	expect(&c, "MAIL FROM:<gr\xc3\xbc\xc3\x9f@b.test>\r\n",
	       "553 5.6.7 Must declare SMTPUTF8 to send unicode address");
	char longpath[400];
	snprintf(longpath, sizeof longpath, "MAIL FROM:<%0250d@b.test>\r\n", 0);
	expect(&c, longpath, "501 5.1.7 Path too long");
	expect(&c, "MAIL FROM:<a@b.test> SIZE=abc\r\n", "501 5.5.4 Bad message size syntax");
	expect(&c, "MAIL FROM:<a@b.test> SIZE=\r\n", "501 5.5.4 Bad message size syntax");
	expect(&c, "MAIL FROM:<a@b.test> SIZE=10240001\r\n",
	       "552 5.3.4 Message size exceeds fixed limit");
	expect(&c, "MAIL FROM:<a@b.test> BODY=FOO\r\n", "555 5.5.4 Unsupported option: BODY=FOO");
	expect(&c, "MAIL FROM:<a@b.test> FOO=BAR\r\n", "555 5.5.4 Unsupported option: FOO=BAR");
	expect(&c, "MAIL FROM:<a@b.test> SMTPUTF8=yes\r\n",
	       "555 5.5.4 Unsupported option: SMTPUTF8=yes");
	expect(&c, "MAIL FROM:<a@b.test> AUTH=<>\r\n", "555 5.5.4 Unsupported option: AUTH=<>");
	expect(&c, "MAIL FROM:<a@b.test> BODY=8BITMIME SIZE=10240000\r\n", "250 2.1.0 Ok\r\n");
	expect(&c, "MAIL FROM:<c@d.test>\r\n", "503 5.5.1 Error: nested MAIL command");
	expect(&c, "RCPT FROM:<x@y.test>\r\n", "501 5.5.4 Syntax: RCPT TO:<address>");
	expect(&c, "RCPT TO:<>\r\n", "501 5.1.3 Bad recipient address syntax");
	expect(&c, "RCPT TO:<a b@example.test>\r\n", "501 5.1.3 Bad recipient address syntax");
	expect(&c, "RCPT TO:<x@y.test> FOO=1\r\n", "555 5.5.4 Unsupported option: FOO=1");
	expect(&c, "RCPT TO:<postmaster>\r\n", "250 2.1.5 Ok\r\n");
	expect(&c, "RCPT TO:<\"john doe\"@example.test>\r\n", "250 2.1.5 Ok\r\n");
	expect(&c, "RCPT TO:<@relay.test:bob@example.test>\r\n", "250 2.1.5 Ok\r\n");
	expect(&c, "RCPT TO:<x@[127.0.0.1]>\r\n", "250 2.1.5 Ok\r\n");
	expect(&c, "rcpt to:<POSTMASTER>\r\n", "250 2.1.5 Ok (already a recipient");
	expect(&c, "DATA now\r\n", "501 5.5.4 Syntax: DATA");
	expect(&c, "RSET\r\n", "250 2.0.0 Ok");
	expect(&c, "RCPT TO:<a@b.test>\r\n", "503 5.5.1 Error: need MAIL command");
	/* tolerated forms, with a note */
	expect(&c, "MAIL FROM: <a@b.test>\r\n", "250 2.1.0 Ok (note: RFC 5321 wants no blank");
	expect(&c, "RCPT TO:bob@example.test\r\n", "250 2.1.5 Ok (note: RFC 5321 wants <>");
	expect(&c, "RSET\r\n", "250");
	expect(&c, "MAIL FROM:<>\r\n", "250 2.1.0 Ok\r\n");
	for (int i = 0; i < SMTPD_RCPT_MAX; i++) {
		char cmd[64];
		snprintf(cmd, sizeof cmd, "RCPT TO:<r%d@example.test>\r\n", i);
		talk(&c, cmd);
	}
	is_int(c.nrcpts, SMTPD_RCPT_MAX, "100 recipients accepted");
	expect(&c, "RCPT TO:<one-more@example.test>\r\n", "452 4.5.3 Error: too many recipients");
	expect(&c, "RSET\r\n", "250");
	/* a refused recipient, then DATA: no valid recipients */
	cfg.settings.size = 100;
	expect(&c, "MAIL FROM:<a@b.test> SIZE=101\r\n", "552 5.3.4 Message size exceeds fixed");
	expect(&c, "MAIL FROM:<a@b.test> SIZE=100\r\n", "250 2.1.0 Ok");
	snprintf(cfg.settings.reject, sizeof cfg.settings.reject, "nobody@*");
	expect(&c, "RCPT TO:<nobody@example.test>\r\n",
	       "550 5.1.1 <nobody@example.test>: Recipient address rejected: User unknown");
	expect(&c, "DATA\r\n", "554 5.5.1 Error: no valid recipients");
	smtpd_conn_free(&c);
}

static void test_data(void)
{
	struct smtpd_conn c;
	reset_config();
	open_conn(&c, false);
	ehlo(&c);
	commits = aborts = 0;
	expect(&c, "MAIL FROM:<alice@example.test>\r\n", "250");
	expect(&c, "RCPT TO:<bob@example.test>\r\n", "250");
	expect(&c, "DATA\r\n", "354 End data with <CR><LF>.<CR><LF>");
	is_str(smtpd_state_name(c.state), "data", "in DATA after 354");
	const char *got = talk(&c, "Subject: hi\r\n\r\n..dot\r\n.\r\n");
	ok(starts(got, "250 2.0.0 Ok: stored as "), "the final dot: 250");
	char id[16];
	snprintf(id, sizeof id, "%.10s", got + strlen("250 2.0.0 Ok: stored as "));
	is_int(commits, 1, "one message committed");
	char want[1024];
	snprintf(
	    want, sizeof want,
	    "Return-Path: <alice@example.test>\nEnvelope-To: bob@example.test\n"
	    "Received: from client.test ([127.0.0.1])\n\tby localhost (smtpsh practice server) "
	    "with ESMTP id %s\n\tfor <bob@example.test>; Tue, 14 Nov 2023 22:13:20 +0000\n"
	    "Subject: hi\n\n.dot\n",
	    id);
	is_mem(stored.data, stored.len, want, strlen(want),
	       "stored: trace headers, LF line ends, dots unstuffed");
	is_str(smtpd_state_name(c.state), "command", "back to commands");
	expect(&c, "RCPT TO:<x@y.test>\r\n", "503 5.5.1 Error: need MAIL command");

	/* pipelined: the whole transaction in one write, replies in order */
	got = talk(&c, "MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nRCPT TO:<e@f.test>\r\n"
		       "DATA\r\nline one\r\n.\r\nNOOP\r\n");
	ok(starts(got, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 End data") &&
	       strstr(got, "\r\n250 2.0.0 Ok: stored as ") && strstr(got, "\r\n250 2.0.0 Ok\r\n"),
	   "pipelined commands and message: every reply, in order");
	ok(strstr(stored.data, "Envelope-To: c@d.test,\n\te@f.test\n") &&
	       !strstr(stored.data, "\tfor <"),
	   "two recipients: both in Envelope-To, no 'for' clause");

	/* bare LF lines: accepted as line ends, noted; ".\n" does not end the data */
	talk(&c, "MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n");
	got = talk(&c, "one\ntwo\r\n.\nthree\r\n.\r\n");
	ok(starts(got, "250 2.0.0 Ok: stored as ") &&
	       strstr(got, "(note: 2 lines ended with a bare LF instead of CRLF)"),
	   "bare LF noted in the reply");
	ok(strstr(stored.data, "\none\ntwo\n.\nthree\n") != NULL, "'.' after a bare LF is content");
	ok(strstr(events.data, "I a '.' line not between two CRLFs") != NULL,
	   "and a note says why");
	/* a bare CR inside a line is kept */
	talk(&c, "MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n");
	talk(&c, "a\rb\r\n.\r\n");
	ok(strstr(stored.data, "\na\rb\n") != NULL, "a bare CR stays in the stored line");

	/* line length: 998 octets + CRLF is fine, 999 is not */
	char line[1200];
	talk(&c, "MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n");
	memset(line, 'x', 998);
	memcpy(line + 998, "\r\n.\r\n", 6);
	expect(&c, line, "250 2.0.0 Ok");
	int before = commits;
	talk(&c, "MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n");
	memset(line, 'x', 999);
	memcpy(line + 999, "\r\nafter\r\n.\r\n", 13);
	expect(&c, line, "500 5.5.2 Error: line too long: a message line has more than 1000");
	is_int(commits, before, "a message with a long line is not stored");
	expect(&c, "NOOP\r\n", "250 2.0.0 Ok");

	/* the SIZE limit while the message arrives */
	cfg.settings.size = 50;
	talk(&c, "MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n");
	expect(&c, "0123456789012345678901234567890123456789\r\n0123456789\r\n.\r\n",
	       "552 5.3.4 Error: message file too big");
	is_int(commits, before, "a message over the limit is not stored");
	cfg.settings.size = 54;
	talk(&c, "MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n");
	expect(&c, "0123456789012345678901234567890123456789\r\n0123456789\r\n.\r\n",
	       "250 2.0.0 Ok");
	/* the store fails */
	fail_begin = true;
	talk(&c, "MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\n");
	expect(&c, "DATA\r\n", "451 4.3.0 Error: cannot store the message now");
	fail_begin = false;
	smtpd_conn_free(&c);
}

static void test_limits(void)
{
	struct smtpd_conn c;
	reset_config();
	open_conn(&c, false);
	ehlo(&c);
	char line[600];
	memset(line, 'x', 510);
	memcpy(line, "NOOP ", 5);
	memcpy(line + 510, "\r\n", 3);
	expect(&c, line, "250 2.0.0 Ok"); /* 512 octets with CRLF */
	memset(line, 'x', 511);
	memcpy(line, "NOOP ", 5);
	memcpy(line + 511, "\r\n", 3);
	expect(&c, line, "500 5.5.2 Error: line too long");
	expect(&c, "NOOP\r\n", "250 2.0.0 Ok");
	/* a hostile client: a megabyte without a line end, in pieces */
	char chunk[4096];
	memset(chunk, 'A', sizeof chunk);
	size_t most = 0;
	for (int i = 0; i < 256; i++) {
		talk_n(&c, chunk, sizeof chunk);
		if (c.in.len > most)
			most = c.in.len;
	}
	ok(most <= SMTPD_IN_MAX, "memory stays bounded (%zu bytes held at most)", most);
	expect(&c, "\r\n", "500 5.5.2 Error: line too long");
	expect(&c, "NOOP\r\n", "250 2.0.0 Ok");
	/* AUTH lines may be longer (RFC 4954) */
	cfg.settings.plain_auth = true;
	char auth[2100] = "AUTH PLAIN ";
	memset(auth + 11, 'A', 2000);
	memcpy(auth + 2011, "\r\n", 3);
	expect(&c, auth, "535 5.7.8"); /* long, decoded, wrong: but not "too long" */
	/* too many errors */
	c.errors = 0;
	const char *got = "";
	for (int i = 0; i < SMTPD_ERRORS_MAX && last_action != SMTPD_CLOSE; i++)
		got = talk(&c, "FOO\r\n");
	ok(strstr(got, "421 4.7.0 localhost Error: too many errors\r\n") != NULL,
	   "421 after %d errors", SMTPD_ERRORS_MAX);
	is_int(last_action, SMTPD_CLOSE, "and the connection closes");
	smtpd_conn_free(&c);

	open_conn(&c, false);
	smtpd_timeout(&c);
	reply_is(take(&c), "421 4.4.2 localhost Error: timeout exceeded\r\n", "timeout: 421 4.4.2");
	is_int(smtpd_step(&c, clock_now), SMTPD_NEED_MORE, "nothing after the timeout");
	smtpd_conn_free(&c);
	open_conn(&c, false);
	talk(&c,
	     "EHLO x\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nhalf a message\r\n");
	aborts = 0;
	smtpd_shutdown(&c);
	ok(starts(take(&c), "421 4.3.2 localhost Service shutting down"), "shutdown: 421 4.3.2");
	is_int(aborts, 1, "the unfinished message is thrown away");
	smtpd_conn_free(&c);
}

static void test_starttls(void)
{
	struct smtpd_conn c;
	reset_config();
	open_conn(&c, false);
	ehlo(&c);
	expect(&c, "STARTTLS now\r\n", "501 5.5.4 Syntax: STARTTLS");
	const char *got = talk(&c, "STARTTLS\r\nMAIL FROM:<injected@evil.test>\r\n");
	is_str(got, "220 2.0.0 Ready to start TLS\r\n", "STARTTLS: 220, and nothing else");
	is_int(last_action, SMTPD_STARTTLS, "the handshake comes next");
	is_int(smtpd_room(&c), 0, "no plaintext is read while waiting for the handshake");
	ok(strstr(events.data, "I discarded 32 bytes the client pipelined after STARTTLS"),
	   "what was pipelined after STARTTLS is discarded, and said so");
	smtpd_tls_started(&c);
	ok(c.tls && !c.helo, "after the handshake: TLS, and the session starts over");
	/* RFC 3207 4.2: the reply says that EHLO is needed again, not just "send EHLO" */
	expect(&c, "MAIL FROM:<a@b.test>\r\n",
	       "503 5.5.1 Error: send EHLO again after STARTTLS (RFC 3207 4.2");
	ehlo(&c);
	expect(&c, "STARTTLS\r\n", "554 5.5.1 Error: TLS already active");
	expect(&c, "MAIL FROM:<a@b.test>\r\n", "250 2.1.0 Ok");
	talk(&c, "RCPT TO:<c@d.test>\r\nDATA\r\nx\r\n.\r\n");
	ok(strstr(stored.data, "with ESMTPS id ") != NULL, "Received says ESMTPS");
	smtpd_conn_free(&c);

	cfg.tls_available = false;
	open_conn(&c, false);
	ehlo(&c);
	expect(&c, "STARTTLS\r\n", "454 4.7.0 TLS not available");
	smtpd_conn_free(&c);

	reset_config();
	cfg.settings.require_tls = true;
	open_conn(&c, false);
	expect(&c, "EHLO x\r\n", "250-");
	expect(&c, "NOOP\r\n", "250 2.0.0 Ok");
	expect(&c, "HELP\r\n", "214");
	expect(&c, "MAIL FROM:<a@b.test>\r\n", "530 5.7.0 Must issue a STARTTLS command first");
	expect(&c, "RSET\r\n", "530 5.7.0 Must issue a STARTTLS command first");
	expect(&c, "VRFY x\r\n", "530 5.7.0 Must issue a STARTTLS command first");
	expect(&c, "AUTH PLAIN\r\n", "530 5.7.0 Must issue a STARTTLS command first");
	expect(&c, "DATA\r\n", "530 5.7.0 Must issue a STARTTLS command first");
	expect(&c, "FOO\r\n", "500 5.5.2");
	expect(&c, "STARTTLS\r\n", "220");
	smtpd_tls_started(&c);
	ehlo(&c);
	expect(&c, "MAIL FROM:<a@b.test>\r\n", "250 2.1.0 Ok");
	smtpd_conn_free(&c);
}

static void plain_response(const char *authzid, const char *user, const char *pass, char *out)
{
	char raw[256];
	size_t n = (size_t)snprintf(raw, sizeof raw, "%s%c%s%c%s", authzid, 0, user, 0, pass);
	b64(raw, n, out);
}

static void test_auth(void)
{
	struct smtpd_conn c;
	char resp[512], line[600];
	reset_config();
	open_conn(&c, false);
	expect(&c, "AUTH PLAIN\r\n", "538 5.7.11 Encryption required");
	ehlo(&c);
	expect(&c, "AUTH PLAIN\r\n", "538 5.7.11 Encryption required");
	smtpd_conn_free(&c);

	open_conn(&c, true);
	expect(&c, "AUTH PLAIN\r\n", "503 5.5.1 Error: send HELO/EHLO first");
	ehlo(&c);
	expect(&c, "AUTH\r\n", "501 5.5.4 Syntax: AUTH mechanism");
	expect(&c, "AUTH FOO\r\n", "504 5.5.4 Unrecognized authentication type");
	expect(&c, "AUTH PLAIN !!!!\r\n", "501 5.5.2 Cannot decode response");
	plain_response("", "student", "wrong", resp);
	snprintf(line, sizeof line, "AUTH PLAIN %s\r\n", resp);
	expect(&c, line, "535 5.7.8 Authentication credentials invalid (wrong password)\r\n");
	ok(strstr(events.data, "I PLAIN login failed: wrong password"), "the note says why");
	plain_response("", "someone", "s3cret-Pw", resp);
	snprintf(line, sizeof line, "AUTH PLAIN %s\r\n", resp);
	expect(&c, line, "535 5.7.8 Authentication credentials invalid (unknown user name)\r\n");
	ok(strstr(events.data, "I PLAIN login failed: unknown user name"), "unknown user noted");
	plain_response("admin", "student", "s3cret-Pw", resp);
	snprintf(line, sizeof line, "AUTH PLAIN %s\r\n", resp);
	expect(&c, line, "535 5.7.8");
	b64("student\0s3cret-Pw", 17, resp);
	snprintf(line, sizeof line, "AUTH PLAIN %s\r\n", resp);
	expect(&c, line,
	       "535 5.7.8 Authentication credentials invalid (the PLAIN response needs two NUL "
	       "separators"); /* one NUL only: the reply says why, never what came */
	ok(!strstr(out_text, "s3cret") && !strstr(out_text, "student"), "nothing typed echoed");
	/* after a failed AUTH, MAIL is refused until a login succeeds (auth-required is off) */
	expect(&c, "MAIL FROM:<a@b.test>\r\n",
	       "530 5.7.0 Authentication required (the last AUTH failed");
	expect(&c, "RSET\r\n", "250");
	smtpd_conn_free(&c);
	open_conn(&c, true);
	ehlo(&c);
	expect(&c, "MAIL FROM:<a@b.test>\r\n", "250");
	expect(&c, "AUTH PLAIN\r\n", "503 5.5.1 Error: MAIL transaction in progress");
	expect(&c, "RSET\r\n", "250");
	/* PLAIN with a 334 */
	expect(&c, "AUTH PLAIN\r\n", "334 \r\n");
	is_str(smtpd_state_name(c.state), "auth", "inside the AUTH exchange");
	expect(&c, "*\r\n", "501 5.7.0 Authentication aborted");
	expect(&c, "AUTH PLAIN\r\n", "334 ");
	expect(&c, "not base64!\r\n", "501 5.5.2 Cannot decode response");
	expect(&c, "AUTH PLAIN\r\n", "334 ");
	plain_response("student", "student", "s3cret-Pw", resp);
	snprintf(line, sizeof line, "%s\r\n", resp);
	expect(&c, line, "235 2.7.0 Authentication successful");
	ok(c.authenticated, "authenticated");
	expect(&c, "MAIL FROM:<a@b.test>\r\n", "250");
	expect(&c, "RSET\r\n", "250");
	expect(&c, "AUTH LOGIN\r\n", "503 5.5.1 Error: already authenticated");
	ok(!strstr(events.data, "s3cret") && !strstr(events.data, resp) &&
	       strstr(events.data, "R <redacted>\n"),
	   "no AUTH payload in the events");
	talk(&c, "MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nx\r\n.\r\n");
	ok(strstr(stored.data, "with ESMTPSA id ") != NULL, "Received says ESMTPSA");
	smtpd_conn_free(&c);

	/* LOGIN, in two steps and with the user name on the AUTH line */
	open_conn(&c, true);
	ehlo(&c);
	expect(&c, "AUTH LOGIN\r\n", "334 VXNlcm5hbWU6\r\n");
	b64("student", 7, resp);
	snprintf(line, sizeof line, "%s\r\n", resp);
	expect(&c, line, "334 UGFzc3dvcmQ6\r\n");
	b64("s3cret-Pw", 9, resp);
	snprintf(line, sizeof line, "%s\r\n", resp);
	expect(&c, line, "235 2.7.0 Authentication successful");
	smtpd_conn_free(&c);
	open_conn(&c, true);
	ehlo(&c);
	b64("student", 7, resp);
	snprintf(line, sizeof line, "AUTH LOGIN %s\r\n", resp);
	expect(&c, line, "334 UGFzc3dvcmQ6\r\n");
	b64("nope", 4, resp);
	snprintf(line, sizeof line, "%s\r\n", resp);
	expect(&c, line, "535 5.7.8 Authentication credentials invalid");
	smtpd_conn_free(&c);

	/* CRAM-MD5 */
	open_conn(&c, true);
	ehlo(&c);
	expect(&c, "AUTH CRAM-MD5 abc=\r\n", "501 5.5.4 CRAM-MD5 takes no initial response");
	const char *got = talk(&c, "AUTH CRAM-MD5\r\n");
	ok(starts(got, "334 "), "CRAM-MD5: a challenge");
	unsigned char challenge[256];
	char enc[256];
	snprintf(enc, sizeof enc, "%.*s", (int)strcspn(got + 4, "\r"), got + 4);
	int clen = EVP_DecodeBlock(challenge, (unsigned char *)enc, (int)strlen(enc));
	while (clen > 0 && challenge[clen - 1] == '\0')
		clen--;
	ok(clen > 10 && challenge[0] == '<' && challenge[clen - 1] == '>' &&
	       memmem(challenge, (size_t)clen, "@localhost>", 11),
	   "the challenge looks like <digits.time@localhost>");
	unsigned char mac[16];
	unsigned maclen;
	HMAC(EVP_md5(), "s3cret-Pw", 9, challenge, (size_t)clen, mac, &maclen);
	char answer[80];
	int n = snprintf(answer, sizeof answer, "student ");
	for (int i = 0; i < 16; i++)
		n += snprintf(answer + n, sizeof answer - (size_t)n, "%02x", mac[i]);
	b64(answer, strlen(answer), resp);
	snprintf(line, sizeof line, "%s\r\n", resp);
	expect(&c, line, "235 2.7.0 Authentication successful");
	smtpd_conn_free(&c);
	open_conn(&c, true);
	ehlo(&c);
	talk(&c, "AUTH CRAM-MD5\r\n");
	b64("student 00000000000000000000000000000000", 40, resp);
	snprintf(line, sizeof line, "%s\r\n", resp);
	expect(&c, line, "535 5.7.8");
	ok(strstr(events.data, "I CRAM-MD5 login failed: wrong password"),
	   "CRAM-MD5 failure noted");
	smtpd_conn_free(&c);

	/* auth-required */
	cfg.settings.auth_required = true;
	open_conn(&c, true);
	ehlo(&c);
	expect(&c, "MAIL FROM:<a@b.test>\r\n", "530 5.7.0 Authentication required");
	plain_response("", "student", "s3cret-Pw", resp);
	snprintf(line, sizeof line, "AUTH PLAIN %s\r\n", resp);
	expect(&c, line, "235");
	expect(&c, "MAIL FROM:<a@b.test> AUTH=<>\r\n", "250 2.1.0 Ok");
	smtpd_conn_free(&c);
}

static void test_faults(void)
{
	struct smtpd_conn c;
	reset_config();
	/* greylisting: the next try passes */
	cfg.settings.greylist = true;
	open_conn(&c, false);
	ehlo(&c);
	expect(&c, "MAIL FROM:<a@b.test>\r\n", "250");
	expect(&c, "RCPT TO:<c@d.test>\r\n",
	       "451 4.7.1 <c@d.test>: Recipient address rejected: Greylisted");
	expect(&c, "RCPT TO:<c@d.test>\r\n", "250 2.1.5 Ok");
	expect(&c, "RCPT TO:<e@f.test>\r\n", "451 4.7.1");
	expect(&c, "RSET\r\n", "250");
	expect(&c, "MAIL FROM:<other@b.test>\r\n", "250");
	expect(&c, "RCPT TO:<c@d.test>\r\n", "451 4.7.1"); /* another sender: another triplet */
	/* with a delay */
	cfg.settings.greylist_delay = 60;
	smtpd_greylist_clear(&cfg.greylist);
	expect(&c, "RCPT TO:<g@h.test>\r\n",
	       "451 4.7.1 <g@h.test>: Recipient address rejected: "
	       "Greylisted, try again in 60 seconds");
	clock_now += 10;
	expect(&c, "RCPT TO:<g@h.test>\r\n",
	       "451 4.7.1 <g@h.test>: Recipient address rejected: "
	       "Greylisted, try again in 50 seconds");
	clock_now += 51;
	expect(&c, "RCPT TO:<g@h.test>\r\n", "250 2.1.5 Ok");
	smtpd_conn_free(&c);

	/* reject patterns */
	reset_config();
	snprintf(cfg.settings.reject, sizeof cfg.settings.reject, "nobody@* *@SPAM.test");
	open_conn(&c, false);
	ehlo(&c);
	talk(&c, "MAIL FROM:<a@b.test>\r\n");
	expect(&c, "RCPT TO:<nobody@example.test>\r\n", "550 5.1.1 <nobody@example.test>");
	expect(&c, "RCPT TO:<x@spam.test>\r\n", "550 5.1.1 <x@spam.test>");
	expect(&c, "RCPT TO:<x@example.test>\r\n", "250 2.1.5 Ok");
	expect(&c, "VRFY <nobody@example.test>\r\n", "550 5.1.1 <nobody@example.test>");
	expect(&c, "VRFY somebody@example.test\r\n", "252");
	smtpd_conn_free(&c);

	/* drop-after */
	reset_config();
	snprintf(cfg.settings.drop_after, sizeof cfg.settings.drop_after, "MAIL");
	open_conn(&c, false);
	ehlo(&c);
	reply_is(talk(&c, "MAIL FROM:<a@b.test>\r\nNOOP\r\n"), "", "drop-after MAIL: no reply");
	is_int(last_action, SMTPD_DROP, "the connection is dropped");
	smtpd_conn_free(&c);
	snprintf(cfg.settings.drop_after, sizeof cfg.settings.drop_after, ".");
	open_conn(&c, false);
	ehlo(&c);
	commits = 0;
	reply_is(talk(&c, "MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nhello\r\n.\r\n"),
		 "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n",
		 "drop-after .: no reply to the final dot");
	is_int(last_action, SMTPD_DROP, "dropped");
	is_int(commits, 1, "but the message was stored (a client will send it again)");
	smtpd_conn_free(&c);
	snprintf(cfg.settings.drop_after, sizeof cfg.settings.drop_after, "CONNECT");
	smtpd_conn_init(&c, &cfg, "127.0.0.1", false, NULL, NULL);
	reply_is(take(&c), "", "drop-after connect: no greeting");
	is_int(smtpd_step(&c, clock_now), SMTPD_DROP, "dropped at once");
	smtpd_conn_free(&c);

	/* the faults smtpsh --check finds (issue 16) */
	reset_config();
	cfg.settings.vrfy_leak = true;
	open_conn(&c, false);
	ehlo(&c);
	expect(&c, "VRFY postmaster\r\n", "250 2.1.5 <postmaster>");
	expect(&c, "VRFY <Student@example.test>\r\n", "250 2.1.5 <Student@example.test>");
	expect(&c, "VRFY students@example.test\r\n", "550 5.1.1 <students@example.test>");
	smtpd_conn_free(&c);

	reset_config();
	cfg.settings.smuggling = true;
	open_conn(&c, false);
	ehlo(&c);
	commits = 0;
	const char *got = talk(&c, "MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n"
				   "before\n.\nNOOP\r\n");
	ok(strstr(got, "354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 Ok: stored as ") &&
	       strstr(got, ")\r\n250 2.0.0 Ok\r\n"),
	   "smuggling: \\n.\\n ends the data, NOOP is a command");
	is_int(commits, 1, "the message before it was stored");
	smtpd_conn_free(&c);

	reset_config();
	cfg.settings.starttls_injection = true;
	open_conn(&c, false);
	ehlo(&c);
	reply_is(talk(&c, "STARTTLS\r\nNOOP\r\n"), "220 2.0.0 Ready to start TLS\r\n",
		 "starttls-injection: 220 first");
	smtpd_tls_started(&c);
	ok(strstr(events.data, "I starttls-injection: 6 bytes pipelined after STARTTLS") != NULL,
	   "said on the server's screen");
	expect(&c, "", "250 2.0.0 Ok");
	smtpd_conn_free(&c);
}

static void test_settings(void)
{
	struct practice_settings s;
	struct buf msg;
	buf_init(&msg);
	practice_settings_defaults(&s);
	is_int(s.size, 10240000, "default SIZE");
	is_int(s.timeout, 300, "default timeout");
	is_int(practice_settings_set(&s, "greylist", "on", &msg), 0, "greylist on");
	ok(s.greylist && s.greylist_delay == 0, "greylist on: the next try passes");
	buf_reset(&msg);
	is_int(practice_settings_set(&s, "greylist", "30", &msg), 0, "greylist 30");
	ok(s.greylist && s.greylist_delay == 30 && strstr(msg.data, "greylist       on, 30s"),
	   "greylist 30: a delay");
	buf_reset(&msg);
	is_int(practice_settings_set(&s, "greylist", "maybe", &msg), -1, "greylist maybe: refused");
	ok(strstr(msg.data, "bad value for greylist") != NULL, "with a reason");
	buf_reset(&msg);
	is_int(practice_settings_set(&s, "size", "0", &msg), -1, "size 0 refused");
	is_int(practice_settings_set(&s, "size", "1000", &msg), 0, "size 1000");
	is_int(s.size, 1000, "size set");
	is_int(practice_settings_set(&s, "slow", "60001", &msg), -1, "slow over 60000 refused");
	is_int(practice_settings_set(&s, "slow", "250", &msg), 0, "slow 250");
	is_int(s.slow_ms, 250, "slow set");
	is_int(practice_settings_set(&s, "drop-after", "rcpt", &msg), 0, "drop-after rcpt");
	is_str(s.drop_after, "RCPT", "drop-after stores the verb");
	is_int(practice_settings_set(&s, "drop-after", "FOO", &msg), -1, "drop-after FOO refused");
	is_int(practice_settings_set(&s, "require-tls", "on", &msg), 0, "require-tls on");
	is_int(practice_settings_set(&s, "auth-required", "yes", &msg), 0, "auth-required yes");
	is_int(practice_settings_set(&s, "plain-auth", "1", &msg), 0, "plain-auth 1");
	ok(s.require_tls && s.auth_required && s.plain_auth, "booleans set");
	is_int(practice_settings_set(&s, "timeout", "5", &msg), 0, "timeout 5");
	is_int(practice_settings_set(&s, "reject", "a@* b@*", &msg), 0, "reject two patterns");
	ok(practice_settings_rejects(&s, "A@x.test") && practice_settings_rejects(&s, "b@y") &&
	       !practice_settings_rejects(&s, "c@x.test"),
	   "patterns match case-insensitively");
	is_int(practice_settings_set(&s, "reject", "\x1b[2J", &msg), -1, "control bytes refused");
	buf_reset(&msg);
	is_int(practice_settings_set(&s, "colour", "on", &msg), -1, "unknown setting");
	ok(strstr(msg.data, "no setting 'colour'") != NULL, "named in the error");
	buf_reset(&msg);
	is_int(practice_settings_set(&s, "reset", NULL, &msg), 0, "reset");
	ok(!s.greylist && !s.reject[0] && s.size == 10240000 && !s.slow_ms && !s.drop_after[0],
	   "reset restores the defaults");
	buf_reset(&msg);
	practice_settings_describe(&s, &msg);
	ok(strstr(msg.data, "greylist       off") && strstr(msg.data, "timeout        300 s"),
	   "describe lists every setting");
	const char *names[16];
	size_t n = practice_setting_names(names, 16);
	is_int(n, 16, "fifteen settings and reset for completion");
	n = practice_setting_values("drop-after", names, 16);
	ok(n > 5 && strcmp(names[0], "connect") == 0, "values of drop-after for completion");
	buf_free(&msg);
}

/* Relaying: another domain only after AUTH (or with the open-relay fault), as Postfix's
   reject_unauth_destination; its own domains (its name, localhost, .test) always. */
static void test_relay(void)
{
	struct smtpd_conn c;
	char resp[512], line[600];
	reset_config();
	open_conn(&c, true);
	ehlo(&c);
	expect(&c, "MAIL FROM:<a@b.test>\r\n", "250");
	expect(&c, "RCPT TO:<x@example.com>\r\n",
	       "554 5.7.1 <x@example.com>: Relay access denied\r\n");
	expect(&c, "RCPT TO:<x@test>\r\n", "554 5.7.1 <x@test>: Relay access denied");
	expect(&c, "RCPT TO:<x@example.test.com>\r\n", "554 5.7.1");
	expect(&c, "RCPT TO:<x@[192.0.2.1]>\r\n", "554 5.7.1 <x@[192.0.2.1]>: Relay access");
	expect(&c, "RCPT TO:<@example.test:x@example.org>\r\n",
	       "554 5.7.1 <x@example.org>: Relay access denied"); /* the route is ignored */
	expect(&c, "DATA\r\n", "554 5.5.1 Error: no valid recipients");
	/* its own domains */
	expect(&c, "RCPT TO:<bob@example.test>\r\n", "250 2.1.5 Ok\r\n");
	expect(&c, "RCPT TO:<bob@B.TEST>\r\n", "250 2.1.5 Ok\r\n");
	expect(&c, "RCPT TO:<bob@mail.class.test>\r\n", "250 2.1.5 Ok\r\n");
	expect(&c, "RCPT TO:<bob@localhost>\r\n", "250 2.1.5 Ok\r\n");
	expect(&c, "RCPT TO:<bob@[127.0.0.1]>\r\n", "250 2.1.5 Ok\r\n");
	expect(&c, "RCPT TO:<bob@[IPv6:::1]>\r\n", "250 2.1.5 Ok\r\n");
	expect(&c, "RCPT TO:<postmaster>\r\n", "250 2.1.5 Ok\r\n");
	cfg.hostname = "mx.example.net";
	expect(&c, "RCPT TO:<bob@MX.example.net>\r\n", "250 2.1.5 Ok\r\n");
	expect(&c, "RSET\r\n", "250");
	/* the fault: anything goes, as today's open relays */
	cfg.settings.open_relay = true;
	expect(&c, "MAIL FROM:<a@b.test>\r\n", "250");
	expect(&c, "RCPT TO:<x@example.com>\r\n", "250 2.1.5 Ok\r\n");
	cfg.settings.open_relay = false;
	expect(&c, "RCPT TO:<y@example.com>\r\n", "554 5.7.1");
	expect(&c, "RSET\r\n", "250");
	/* a logged-in client may: the message is stored, nothing is relayed */
	plain_response("", "student", "s3cret-Pw", resp);
	snprintf(line, sizeof line, "AUTH PLAIN %s\r\n", resp);
	expect(&c, line, "235 2.7.0");
	expect(&c, "MAIL FROM:<student@localhost>\r\n", "250");
	expect(&c, "RCPT TO:<x@example.com>\r\n", "250 2.1.5 Ok\r\n");
	smtpd_conn_free(&c);
	/* LMTP is the last hop (RFC 2033): no relaying to refuse */
	reset_config();
	cfg.lmtp = true;
	open_conn(&c, false);
	talk(&c, "LHLO client.test\r\n");
	expect(&c, "MAIL FROM:<a@b.test>\r\n", "250");
	expect(&c, "RCPT TO:<x@example.org>\r\n", "250 2.1.5 Ok\r\n");
	smtpd_conn_free(&c);
}

/* The exact words of the listing and of the refusals: one table makes them all. */
static void test_settings_text(void)
{
	struct practice_settings s;
	struct buf msg;
	buf_init(&msg);
	practice_settings_defaults(&s);
	static const char *const set[][2] = {
	    {"greylist", "45"},
	    {"reject", "x@* *@spam.test"},
	    {"size", "2000"},
	    {"require-tls", "on"},
	    {"auth-required", "off"},
	    {"plain-auth", "yes"},
	    {"slow", "off"},
	    {"drop-after", "data"},
	    {"timeout", "10"},
	    {"bdat-miscount", "SHORT"},
	    {"mailbox-full", "full@*"},
	    {"vrfy-leak", "on"},
	    {"smuggling", "on"},
	    {"starttls-injection", "on"},
	    {"old-tls", "on"},
	    {"open-relay", "on"},
	    {"like", "GMAIL"},
	    {"basic-auth", "off"},
	    {"app-password", "on"},
	    {"sendas-denied", "on"},
	};
	for (size_t i = 0; i < sizeof set / sizeof set[0]; i++)
		is_int(practice_settings_set(&s, set[i][0], set[i][1], &msg), 0, "%s %s", set[i][0],
		       set[i][1]);
	buf_reset(&msg);
	practice_settings_describe(&s, &msg);
	static const char *const lines[] = {
	    "greylist       on, 45s", "reject         x@* *@spam.test",
	    "size           2000",    "require-tls    on",
	    "auth-required  off",     "plain-auth     on",
	    "slow           off",     "drop-after     DATA",
	    "timeout        10 s",    "bdat-miscount  short",
	    "mailbox-full   full@*",  "vrfy-leak      on",
	    "smuggling      on",      "starttls-injection on",
	    "old-tls        on",      "open-relay     on",
	    "like           gmail",   "basic-auth     off",
	    "app-password   on",      "sendas-denied  on",
	    "oauth-expired  off",     "oauth-scope    off",
	    "oauth-revoked  off",
	};
	const char *p = msg.data;
	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
		ok(p && strncmp(p, lines[i], strlen(lines[i])) == 0, "listing line %zu: %s", i + 1,
		   lines[i]);
		p = p ? strchr(p, '\n') : NULL;
		p = p ? p + 1 : NULL;
	}
	ok(p && *p == '\0', "one line per setting");
	buf_reset(&msg);
	practice_settings_set(&s, "slow", "250", &msg);
	is_str(
	    msg.data,
	    "slow           250 ms  (wait MS milliseconds before every reply (the greeting too))",
	    "confirmation of slow");
	static const char *const bad[][3] = {
	    {"size", "0", "bad value for size: size OCTETS (1 to 104857600)"},
	    {"slow", "x", "bad value for slow: slow MS (0 to 60000)"},
	    {"timeout", "0", "bad value for timeout: timeout SECONDS (1 to 3600)"},
	    {"reject", "\t",
	     "bad value for reject: reject PATTERN...|off (printable ASCII, under "
	     "256 characters)"},
	    {"greylist", "-1", "bad value for greylist: greylist on|off|SECONDS"},
	    {"drop-after", "EXPN", "bad value for drop-after: drop-after VERB|connect|.|off"},
	    {"plain-auth", "maybe", "bad value for plain-auth: plain-auth on|off"},
	    {"bdat-miscount", "2", "bad value for bdat-miscount: bdat-miscount short|long|off"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		buf_reset(&msg);
		is_int(practice_settings_set(&s, bad[i][0], bad[i][1], &msg), -1, "%s %s refused",
		       bad[i][0], bad[i][1]);
		is_str(msg.data, bad[i][2], "%s: the reason", bad[i][0]);
	}
	is_int(s.size, 2000, "refusals change nothing");
	buf_reset(&msg);
	practice_settings_set(&s, "timeout", NULL, &msg);
	is_str(msg.data,
	       "usage: timeout SECONDS (idle time before 421 4.4.2 and a closed connection)",
	       "usage");
	buf_reset(&msg);
	practice_settings_set(&s, "x", "1", &msg);
	is_str(
	    msg.data,
	    "no setting 'x' (the settings: greylist, reject, size, require-tls, auth-required, "
	    "plain-auth, slow, drop-after, timeout, bdat-miscount, mailbox-full, vrfy-leak, "
	    "smuggling, starttls-injection, old-tls, open-relay, like, basic-auth, app-password, "
	    "sendas-denied, oauth-expired, oauth-scope, oauth-revoked, reset)",
	    "unknown setting: the names");
	buf_free(&msg);
}

/* Builds a script from transcript lines (after the header). */
static void build_script(struct smtpd_script *sc, const char *const *lines)
{
	struct script_builder b = {0};
	struct transcript_entry e;
	char err[200];
	smtpd_script_init(sc);
	transcript_entry_init(&e);
	for (size_t i = 0; lines[i]; i++) {
		if (transcript_parse_line(lines[i], strlen(lines[i]), &e, err, sizeof err) < 0)
			diag("bad test line %s: %s", lines[i], err);
		else
			smtpd_script_add(sc, &b, &e);
	}
	transcript_entry_free(&e);
	smtpd_script_finish(sc);
}

/* Version 2 raw writes: the server reads their octets as lines, so they become steps. */
static void test_script_raw(void)
{
	static const char *const lines[] = {
	    "<- 220 mx.example.test ESMTP recorded",
	    "raw -> MAIL FROM:<a@x>\\nRCPT TO:<b",
	    "raw -> @x>\\r\\n",
	    "-> NOOP",
	    "<- 250 2.1.0 Ok",
	    "<- 250 2.1.5 Ok",
	    "<- 250 2.0.0 Ok",
	    "-> DATA",
	    "<- 354 go ahead",
	    "-> Subject: x",
	    "raw -> \\n.\\nRSET\\nNO",
	    "-> .",
	    "<- 250 2.0.0 queued",
	    "<- 250 2.0.0 reset",
	    "<- 502 5.5.2 what",
	    NULL,
	};
	struct smtpd_script sc;
	build_script(&sc, lines);
	is_int(sc.n, 10, "a step per line the server reads, plus the greeting");
	is_str(sc.steps[1].expect, "MAIL FROM:<a@x>", "a raw line ended by a bare LF");
	is_str(sc.steps[2].expect, "RCPT TO:<b@x>", "a line over two raw writes: one step");
	ok(sc.steps[1].nreplies == 1 && sc.steps[2].nreplies == 1 && sc.steps[3].nreplies == 1,
	   "the replies after them go one per line");
	ok(sc.steps[6].content && !sc.steps[7].content, "inside DATA: content up to the raw dot");
	is_str(sc.steps[8].expect, "RSET", "then commands");
	is_str(sc.steps[9].expect, "NO.", "the unfinished raw line joins the next line");
	ok(sc.steps[7].nreplies == 1 && sc.steps[8].nreplies == 1 && sc.steps[9].nreplies == 1 &&
	       !strncmp(sc.steps[7].replies[0], "250 2.0.0 queued", 16) &&
	       !strncmp(sc.steps[9].replies[0], "502", 3),
	   "the replies recorded after them: one per line, in order");
	smtpd_script_free(&sc);
}

static void test_script(void)
{
	static const char *const lines[] = {
	    "*  connected to localhost (127.0.0.1) port 25",
	    "<- 220 mx.example.test ESMTP recorded",
	    "-> EHLO client.example",
	    "<- 250-mx.example.test",
	    "<- 250 PIPELINING",
	    "p1/3 -> MAIL FROM:<a@example.test>",
	    "p2/3 -> RCPT TO:<b@example.test>",
	    "p3/3 -> DATA",
	    "<- 250 2.1.0 Ok",
	    "<- 550 5.1.1 no such user",
	    "<- 554 5.5.1 Error: no valid recipients",
	    "-> RSET",
	    "<- 250 2.0.0 Ok",
	    "-> MAIL FROM:<a@example.test>",
	    "<- 250 2.1.0 Ok",
	    "-> RCPT TO:<c@example.test>",
	    "<- 250 2.1.5 Ok",
	    "-> DATA",
	    "<- 354 go ahead",
	    "-> Subject: x",
	    "->",
	    "-> ..dot",
	    "-> .",
	    "<- 250 2.0.0 queued as 1234",
	    "-> STARTTLS",
	    "<- 220 2.0.0 Ready to start TLS",
	    "*  TLSv1.3 TLS_AES_256_GCM_SHA384, certificate verified (CN=localhost)",
	    "~> AUTH PLAIN <redacted>",
	    "<~ 235 2.7.0 Authentication successful",
	    "~> QUIT",
	    "<~ 221 2.0.0 Bye",
	    NULL,
	};
	struct smtpd_script sc;
	build_script(&sc, lines);
	is_int(sc.n, 16, "a step per client line, plus the greeting");
	ok(!sc.steps[0].expect && sc.steps[0].nreplies == 1, "step 0: the greeting");
	ok(sc.steps[2].nreplies == 1 && sc.steps[3].nreplies == 1 && sc.steps[4].nreplies == 1,
	   "a pipelined group's replies go one per command");
	ok(sc.steps[9].content && sc.steps[10].content && sc.steps[11].content &&
	       !sc.steps[12].content && sc.steps[12].nreplies == 1,
	   "message lines are content; the '.' gets the reply");
	ok(sc.steps[13].starttls && sc.steps[14].secret, "STARTTLS and a secret are marked");

	struct smtpd_conn c;
	reset_config();
	cfg.script = &sc;
	open_conn(&c, false);
	smtpd_conn_free(&c);
	smtpd_conn_init(&c, &cfg, "127.0.0.1", false, on_event, NULL);
	reply_is(take(&c), "220 mx.example.test ESMTP recorded\r\n", "the recorded greeting");
	reply_is(talk(&c, "EHLO other.name\r\n"), "250-mx.example.test\r\n250 PIPELINING\r\n",
		 "the recorded EHLO reply");
	ok(strstr(events.data, "I the recorded client sent: EHLO client.example") != NULL,
	   "a different line is noted");
	reply_is(talk(&c, "MAIL FROM:<a@example.test>\r\n"), "250 2.1.0 Ok\r\n",
		 "a client that waits gets each reply");
	reply_is(talk(&c, "RCPT TO:<b@example.test>\r\nDATA\r\n"),
		 "550 5.1.1 no such user\r\n554 5.5.1 Error: no valid recipients\r\n",
		 "a client that pipelines gets them too");
	talk(&c, "RSET\r\nMAIL FROM:<a@example.test>\r\nRCPT TO:<c@example.test>\r\n");
	reply_is(talk(&c, "DATA\r\n"), "354 go ahead\r\n", "354");
	reply_is(talk(&c, "Subject: x\r\n\r\n..dot\r\n"), "", "no reply to content");
	reply_is(talk(&c, ".\r\n"), "250 2.0.0 queued as 1234\r\n", "the recorded 250");
	reply_is(talk(&c, "STARTTLS\r\n"), "220 2.0.0 Ready to start TLS\r\n", "220");
	is_int(last_action, SMTPD_STARTTLS, "a handshake follows");
	smtpd_tls_started(&c);
	reply_is(talk(&c, "AUTH PLAIN AHUAcA==\r\n"), "235 2.7.0 Authentication successful\r\n",
		 "AUTH: the recorded answer");
	ok(strstr(events.data, "R <redacted>\n") && !strstr(events.data, "AHUAcA"),
	   "a recorded secret stays hidden");
	reply_is(talk(&c, "QUIT\r\n"), "221 2.0.0 Bye\r\n", "221");
	is_int(last_action, SMTPD_CLOSE, "and the connection closes");
	smtpd_conn_free(&c);

	smtpd_conn_init(&c, &cfg, "127.0.0.1", false, NULL, NULL);
	take(&c);
	for (int i = 0; i < 16 && last_action != SMTPD_CLOSE; i++) {
		talk(&c, "NOOP\r\n");
		if (last_action == SMTPD_STARTTLS)
			smtpd_tls_started(&c);
	}
	ok(last_action == SMTPD_CLOSE || c.state == SMTPD_S_CLOSED,
	   "past the end of the transcript: the connection closes");
	smtpd_conn_free(&c);
	smtpd_script_free(&sc);
	cfg.script = NULL;

	char err[300];
	is_int(smtpd_script_load(&sc, "/nonexistent/x.transcript", err, sizeof err), -1,
	       "a missing file: an error");
	ok(err[0] != '\0', "with a reason: %s", err);
}

/* What the server shows of an AUTH line with a response: redacted however it is spelt (a
   TAB, a leading blank, double blanks: a server splitting on any white space reads each). */
static void test_auth_spellings_redacted(void)
{
	static const char *const lines[] = {"AUTH\tPLAIN AHUAcA==\r\n", " AUTH PLAIN AHUAcA==\r\n",
					    "AUTH  PLAIN  AHUAcA==\r\n",
					    "auth plain\tAHUAcA==\r\n"};
	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
		struct smtpd_conn c;
		open_conn(&c, true);
		ehlo(&c);
		talk(&c, lines[i]);
		ok(!strstr(events.data, "AHUAcA") && strstr(events.data, " <redacted>\n"),
		   "AUTH spelling %zu redacted in the server's events", i);
		smtpd_conn_free(&c);
	}
}

/* BDAT (RFC 3030): counted octets, binary-safe, pipelined, never mixed with DATA. */
static void test_bdat(void)
{
	struct smtpd_conn c;
	reset_config();
	open_conn(&c, false);
	ehlo(&c);
	commits = aborts = 0;
	expect(&c, "BDAT 4\r\nabcd", "503 5.5.1 Error: need MAIL command");
	is_str(smtpd_state_name(c.state), "command", "a refused chunk is read all the same");
	talk(&c, "MAIL FROM:<a@b.test>\r\n");
	expect(&c, "BDAT 2\r\nxy", "503 5.5.1 Error: need RCPT command");
	expect(&c, "BDAT 0\r\n", "551 5.7.1 Null BDAT request"); /* before RCPT, as Postfix */
	talk(&c, "MAIL FROM:<a@b.test>\r\n");
	talk(&c, "RCPT TO:<c@d.test>\r\n");
	/* a chunk holding what would be commands, a lone dot, CRLF split across chunks */
	const char *got = talk(&c, "BDAT 22\r\nSubject: x\r\n\r\n.\r\nRSET\r");
	is_str(got, "250 2.0.0 22 octets received\r\n", "a chunk: 250 with its octet count");
	is_str(smtpd_state_name(c.state), "command", "back to commands after the chunk");
	expect(&c, "DATA\r\n", "503 5.5.1 Error: DATA after BDAT");
	expect(&c, "RCPT TO:<e@f.test>\r\n", "503 5.5.1 Error: RCPT after BDAT");
	expect(&c, "MAIL FROM:<e@f.test>\r\n", "503 5.5.1 Error: MAIL after BDAT");
	/* binary octets: NUL, 8-bit, a bare LF, a bare CR; and the chunk arrives in pieces */
	const char bin[] = "BDAT 9 LAST\r\n\n\x00\xff\x80 a\rb\n";
	got = talk_n(&c, bin, 15);
	is_str(got, "", "a partial chunk: no reply yet");
	is_str(smtpd_state_name(c.state), "bdat", "waiting for the rest of the chunk");
	got = talk_n(&c, bin + 15, sizeof bin - 1 - 15);
	ok(starts(got, "250 2.0.0 Ok: 9 octets received, stored as ") &&
	       strstr(got, " (31 octets in 2 chunks)\r\n"),
	   "LAST: stored, with the totals");
	const char want_body[] = "Subject: x\n\n.\nRSET\n\x00\xff\x80 a\rb\n";
	const char *body = stored.data ? strstr(stored.data, "Subject: x") : NULL;
	ok(body && stored.len - (size_t)(body - stored.data) == sizeof want_body - 1 &&
	       memcmp(body, want_body, sizeof want_body - 1) == 0,
	   "stored byte-exact: CRLF (even across chunks) as LF, NUL, 8-bit, bare CR/LF kept");
	ok(strstr(stored.data, "with ESMTP id ") != NULL, "trace headers as for DATA");
	is_int(commits, 1, "one message");

	/* pipelined: commands, chunks and the next commands in one write */
	got = talk(&c, "MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nBDAT 5\r\nhello"
		       "BDAT 7 LAST\r\n world\nNOOP\r\n");
	ok(starts(got, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 5 octets received\r\n"
		       "250 2.0.0 Ok: 7 octets received, stored as ") &&
	       strstr(got, "\r\n250 2.0.0 Ok\r\n"),
	   "pipelined chunks: every reply in order, the NOOP after them too");
	ok(stored.data && strstr(stored.data, "\nhello world\n"), "the two chunks joined");

	/* BDAT 0 LAST ends a message; BDAT 0 alone is refused (as Postfix) */
	talk(&c, "MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nBDAT 3\r\nabc");
	expect(&c, "BDAT 0 LAST\r\n", "250 2.0.0 Ok: 0 octets received, stored as ");
	talk(&c, "MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\n");
	expect(&c, "BDAT 0\r\n", "551 5.7.1 Null BDAT request");
	expect(&c, "RCPT TO:<c@d.test>\r\n", "503 5.5.1 Error: need MAIL command");

	/* over the size limit: the chunk is read and thrown away, then 552, transaction over */
	cfg.settings.size = 10;
	int before = commits;
	talk(&c, "MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nBDAT 6\r\n123456");
	got = talk(&c, "BDAT 6 LAST\r\n7890ab");
	is_str(got, "552 5.3.4 Chunk exceeds message size limit\r\n",
	       "a chunk past SIZE: 552 after its octets were read");
	expect(&c, "NOOP\r\n", "250 2.0.0 Ok");
	is_int(commits, before, "nothing stored");
	expect(&c, "RCPT TO:<c@d.test>\r\n", "503 5.5.1 Error: need MAIL command");
	talk(&c, "MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\n");
	expect(&c, "BDAT 10 LAST\r\n0123456789", "250 2.0.0 Ok: 10 octets received");
	cfg.settings.size = PRACTICE_SIZE_DEFAULT;

	/* BINARYMIME needs BDAT; RSET in the middle throws the chunks away */
	talk(&c, "MAIL FROM:<a@b.test> BODY=BINARYMIME\r\nRCPT TO:<c@d.test>\r\n");
	expect(&c, "DATA\r\n", "503 5.5.1 Error: BODY=BINARYMIME needs BDAT, not DATA");
	before = aborts;
	expect(&c, "BDAT 2\r\n\x01\x02", "250 2.0.0 2 octets received");
	expect(&c, "RSET\r\n", "250 2.0.0 Ok");
	is_int(aborts, before + 1, "RSET aborts the message being chunked");
	talk(&c, "MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\n");
	expect(&c, "DATA\r\n", "354");
	expect(&c, ".\r\n", "250 2.0.0 Ok: stored as");

	/* require-tls: the refused chunk is skipped, the next command is understood */
	cfg.settings.require_tls = true;
	expect(&c, "BDAT 4\r\nQUIT", "530 5.7.0 Must issue a STARTTLS command first");
	expect(&c, "NOOP\r\n", "250 2.0.0 Ok");
	cfg.settings.require_tls = false;
	ok(memmem(events.data, events.len, "R \x01\x02\n", 4) != NULL,
	   "chunk octets reach the server's view");
	smtpd_conn_free(&c);

	/* a count that cannot be read: what follows cannot be told from commands: 521, closed */
	static const char *const bad_counts[] = {"BDAT ten\r\nQUIT\r\n", "BDAT 1 LASTX\r\nQUIT\r\n",
						 "BDAT 1234567890123456789\r\nQUIT\r\n",
						 "BDAT\r\n"};
	for (size_t i = 0; i < sizeof bad_counts / sizeof bad_counts[0]; i++) {
		open_conn(&c, false);
		ehlo(&c);
		cfg.settings.require_tls = i == 3;
		reply_is(talk(&c, bad_counts[i]), "521 5.5.4 Syntax: BDAT count [LAST]\r\n",
			 "%s: 521 and nothing after it", visible(bad_counts[i]));
		is_int(last_action, SMTPD_CLOSE, "the connection closes");
		smtpd_conn_free(&c);
	}
	cfg.settings.require_tls = false;

	/* a chunk bigger than the input buffer streams through it */
	open_conn(&c, false);
	ehlo(&c);
	talk(&c, "MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nBDAT 40000 LAST\r\n");
	static char big[40000];
	memset(big, 'z', sizeof big);
	got = talk_n(&c, big, sizeof big);
	ok(starts(got, "250 2.0.0 Ok: 40000 octets received"), "a 40000-octet chunk");
	smtpd_conn_free(&c);
}

/* The bdat-miscount fault: what a wrong count does to the stream. */
static void test_bdat_miscount(void)
{
	struct smtpd_conn c;
	reset_config();
	snprintf(cfg.settings.bdat_miscount, sizeof cfg.settings.bdat_miscount, "short");
	open_conn(&c, false);
	ehlo(&c);
	talk(&c, "MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\n");
	const char *got = talk(&c, "BDAT 5\r\nhelloBDAT 1 LAST\r\nx");
	ok(starts(got, "250 2.0.0 4 octets received\r\n500 5.5.2 Error: command not recognized"),
	   "short: 4 of 5 octets read, the 'o' glued to the next command");
	ok(strstr(events.data, "I bdat-miscount short: reading 4 octets, not 5") != NULL,
	   "a note says what the server did");
	smtpd_conn_free(&c);
	snprintf(cfg.settings.bdat_miscount, sizeof cfg.settings.bdat_miscount, "long");
	open_conn(&c, false);
	ehlo(&c);
	talk(&c, "MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\n");
	got = talk(&c, "BDAT 5\r\nhelloBDAT 1 LAST\r\nx");
	ok(starts(got, "250 2.0.0 6 octets received\r\n500 5.5.2 Error: command not recognized"),
	   "long: 6 octets read, the 'B' of the next BDAT swallowed");
	got = talk(&c, "RSET\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nBDAT 2 LAST\r\nhi");
	ok(!strstr(got, "stored as"), "long: a LAST chunk waits for an octet that never comes");
	is_str(smtpd_state_name(c.state), "bdat", "... the server is still reading");
	smtpd_conn_free(&c);
}

/* SMTPUTF8 (RFC 6531): UTF-8 addresses only when declared; stored byte-exact. */
static void test_smtputf8(void)
{
	struct smtpd_conn c;
	reset_config();
	open_conn(&c, false);
	ehlo(&c);
	expect(&c,
	       "MAIL FROM:<j\xc3\xb6rg@b\xc3\xbc"
	       "cher.test>\r\n",
	       "553 5.6.7 Must declare SMTPUTF8 to send unicode address");
	expect(&c, "MAIL FROM:<a@b.test>\r\n", "250 2.1.0 Ok");
	expect(&c, "RCPT TO:<\xc3\xa9t\xc3\xa9@x.test>\r\n",
	       "553 5.6.7 Must declare SMTPUTF8 to send unicode address");
	expect(&c, "RSET\r\n", "250");
	expect(&c, "MAIL FROM:<a\xff@b.test> SMTPUTF8\r\n", "501 5.1.7 Bad sender address syntax");
	expect(&c, "MAIL FROM:<a\xc0\xaf@b.test> SMTPUTF8\r\n",
	       "501 5.1.7 Bad sender address syntax");
	expect(&c,
	       "MAIL FROM:<j\xc3\xb6rg@b\xc3\xbc"
	       "cher.test> SMTPUTF8\r\n",
	       "250 2.1.0 Ok");
	expect(&c, "RCPT TO:<\xc3\xa9t\xc3\xa9@x.test>\r\n", "250 2.1.5 Ok");
	expect(&c, "RCPT TO:<\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.test>\r\n",
	       "250 2.1.5 Ok");
	talk(&c, "DATA\r\n");
	expect(&c, "Subject: \xc3\xbc\r\n\r\nhi\r\n.\r\n", "250 2.0.0 Ok: stored as");
	ok(stored.data &&
	       starts(stored.data, "Return-Path: <j\xc3\xb6rg@b\xc3\xbc"
				   "cher.test>\n"
				   "Envelope-To: \xc3\xa9t\xc3\xa9@x.test,\n\t"
				   "\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.test\n"),
	   "UTF-8 addresses stored byte-exact");
	ok(strstr(stored.data, " with UTF8SMTP id ") != NULL, "Received: with UTF8SMTP (RFC 6531)");
	expect(&c, "MAIL FROM:<a@b.test>\r\n", "250");
	expect(&c, "RCPT TO:<\xc3\xa9@x.test>\r\n", "553 5.6.7");
	smtpd_conn_free(&c);
}

/* DSN (RFC 3461): parameters checked as Postfix does, kept with the message. */
static void test_dsn(void)
{
	struct smtpd_conn c;
	reset_config();
	open_conn(&c, false);
	ehlo(&c);
	expect(&c, "MAIL FROM:<a@b.test> RET=SOME\r\n", "501 5.5.4 Bad RET parameter syntax");
	expect(&c, "MAIL FROM:<a@b.test> RET=FULL RET=HDRS\r\n",
	       "501 5.5.4 Bad RET parameter syntax");
	expect(&c, "MAIL FROM:<a@b.test> ENVID=\r\n", "501 5.5.4 Bad ENVID parameter syntax");
	expect(&c, "MAIL FROM:<a@b.test> ENVID=a=b\r\n", "501 5.5.4 Bad ENVID parameter syntax");
	expect(&c, "MAIL FROM:<a@b.test> ENVID=a+zz\r\n", "501 5.5.4 Bad ENVID parameter syntax");
	char longid[200];
	snprintf(longid, sizeof longid, "MAIL FROM:<a@b.test> ENVID=%0101d\r\n", 0);
	expect(&c, longid, "501 5.5.4 Bad ENVID parameter syntax");
	expect(&c, "MAIL FROM:<a@b.test> ret=hdrs ENVID=QQ+2B314\r\n", "250 2.1.0 Ok");
	static const char *const bad_notify[] = {
	    "NOTIFY=",
	    "NOTIFY=NEVER,SUCCESS",
	    "NOTIFY=SUCCESS,SUCCESS",
	    "NOTIFY=SOMETIMES",
	    "NOTIFY=SUCCESS,",
	    "NOTIFY=,DELAY",
	    "NOTIFY=DELAY NOTIFY=FAILURE",
	};
	for (size_t i = 0; i < sizeof bad_notify / sizeof bad_notify[0]; i++) {
		char cmd[128];
		snprintf(cmd, sizeof cmd, "RCPT TO:<x@y.test> %s\r\n", bad_notify[i]);
		const char *got = talk(&c, cmd);
		ok(starts(got, "501 5.5.4 Error: Bad NOTIFY parameter syntax"), "%s refused",
		   bad_notify[i]);
	}
	static const char *const bad_orcpt[] = {
	    "ORCPT=rfc822",
	    "ORCPT=;x@y.test",
	    "ORCPT=rfc822;",
	    "ORCPT=rfc822;a=b",
	    "ORCPT=rfc822;x@y.test ORCPT=rfc822;x@y.test",
	    "ORCPT=rfc822;\xc3\xa9@y.test",
	};
	for (size_t i = 0; i < sizeof bad_orcpt / sizeof bad_orcpt[0]; i++) {
		char cmd[128];
		snprintf(cmd, sizeof cmd, "RCPT TO:<x@y.test> %s\r\n", bad_orcpt[i]);
		const char *got = talk(&c, cmd);
		ok(starts(got, "501 5.5.4 Error: Bad ORCPT parameter syntax"), "%s refused",
		   bad_orcpt[i]);
	}
	expect(&c, "RCPT TO:<x@y.test> NOTIFY=success,DELAY ORCPT=rfc822;X+2By@y.test\r\n",
	       "250 2.1.5 Ok\r\n");
	expect(&c, "RCPT TO:<z@y.test> NOTIFY=NEVER\r\n", "250 2.1.5 Ok\r\n");
	expect(&c, "RCPT TO:<w@y.test>\r\n", "250 2.1.5 Ok\r\n");
	talk(&c, "DATA\r\n");
	expect(&c, "hi\r\n.\r\n", "250 2.0.0 Ok: stored as");
	ok(stored.data &&
	       strstr(stored.data,
		      "\nEnvelope-DSN: RET=HDRS ENVID=QQ+2B314\n"
		      "Envelope-DSN-Recipient: <x@y.test> NOTIFY=SUCCESS,DELAY "
		      "ORCPT=rfc822;X+2By@y.test\n"
		      "Envelope-DSN-Recipient: <z@y.test> NOTIFY=NEVER\nReceived: ") != NULL,
	   "the DSN requests kept in the stored message's envelope headers");
	expect(&c, "MAIL FROM:<a@b.test>\r\nRCPT TO:<x@y.test>\r\nDATA\r\n", "250");
	expect(&c, "hi\r\n.\r\n", "250 2.0.0 Ok: stored as");
	ok(stored.data && !strstr(stored.data, "Envelope-DSN"),
	   "no DSN requests: no such headers (the last transaction's are forgotten)");
	smtpd_conn_free(&c);
}

/* LMTP (RFC 2033): LHLO, and one reply per recipient after the data. */
static void test_lmtp(void)
{
	struct smtpd_conn c;
	reset_config();
	cfg.lmtp = true;
	smtpd_conn_init(&c, &cfg, "127.0.0.1", false, on_event, NULL);
	reply_is(take(&c), "220 localhost LMTP smtpsh practice server\r\n", "LMTP greeting");
	expect(&c, "EHLO x.test\r\n",
	       "500 5.5.1 Error: this is an LMTP server: LHLO, not EHLO (RFC 2033 4.1)");
	expect(&c, "HELO x.test\r\n", "500 5.5.1 Error: this is an LMTP server: LHLO, not HELO");
	expect(&c, "MAIL FROM:<a@b.test>\r\n", "503 5.5.1 Error: send LHLO first");
	expect(&c, "LHLO\r\n", "501 5.5.4 Syntax: LHLO hostname");
	const char *got = talk(&c, "LHLO client.test\r\n");
	ok(starts(got, "250-localhost Hello client.test\r\n250-PIPELINING\r\n") &&
	       strstr(got, "250-CHUNKING\r\n") && strstr(got, "\r\n250 HELP\r\n"),
	   "LHLO: the extensions");
	got = talk(&c, "HELP\r\n");
	ok(strstr(got, " LHLO ") && !strstr(got, "EHLO"), "HELP lists LHLO, not EHLO");
	/* three recipients, one refused at RCPT: two replies after the dot, in RCPT order */
	snprintf(cfg.settings.reject, sizeof cfg.settings.reject, "nobody@*");
	snprintf(cfg.settings.mailbox_full, sizeof cfg.settings.mailbox_full, "full@*");
	got = talk(&c, "MAIL FROM:<a@b.test>\r\nRCPT TO:<one@x.test>\r\n"
		       "RCPT TO:<nobody@x.test>\r\nRCPT TO:<full@x.test>\r\n"
		       "RCPT TO:<two@x.test>\r\nDATA\r\n");
	ok(starts(got, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 <nobody@x.test>") &&
	       strstr(got, "\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 "),
	   "mailbox-full in LMTP: accepted at RCPT");
	int before = commits;
	got = talk(&c, "Subject: hi\r\n\r\nbody\r\n.\r\n");
	ok(starts(got, "250 2.0.0 <one@x.test> Ok: stored as ") &&
	       strstr(got, "\r\n452 4.2.2 <full@x.test>: Mailbox full (matches the mailbox-full "
			   "setting); the other recipients have the message\r\n"
			   "250 2.0.0 <two@x.test> Ok: stored as "),
	   "after the dot: one reply per accepted recipient, the full mailbox alone refused");
	size_t lines = 0;
	for (const char *p = got; (p = strstr(p, "\r\n")); p += 2)
		lines++;
	is_int(lines, 3, "exactly three replies for three accepted recipients");
	is_int(commits, before + 1, "the message is stored once");
	ok(stored.data && strstr(stored.data, "Envelope-To: one@x.test,\n\ttwo@x.test\n") &&
	       strstr(stored.data, " with LMTP id "),
	   "stored for the recipients that got it; Received says LMTP");
	/* BDAT LAST in LMTP: the same per-recipient replies */
	got = talk(&c, "MAIL FROM:<a@b.test>\r\nRCPT TO:<one@x.test>\r\nRCPT TO:<two@x.test>\r\n"
		       "BDAT 4 LAST\r\nhi\r\n");
	ok(strstr(got, "\r\n250 2.0.0 <one@x.test> Ok: 4 octets received, stored as ") &&
	       strstr(got, "\r\n250 2.0.0 <two@x.test> Ok: 4 octets received, stored as "),
	   "BDAT LAST: one reply per recipient");
	/* a failure of the message: the same reply for every recipient */
	cfg.settings.size = 10;
	talk(&c, "MAIL FROM:<a@b.test>\r\nRCPT TO:<one@x.test>\r\nRCPT TO:<two@x.test>\r\n"
		 "DATA\r\n");
	got = talk(&c, "0123456789abcdef\r\n.\r\n");
	is_str(got,
	       "552 5.3.4 Error: message file too big\r\n552 5.3.4 Error: message file too big\r\n",
	       "a message too big: one 552 per recipient");
	/* a LAST chunk refused: one reply per recipient too (RFC 2033 4.3) */
	talk(&c, "MAIL FROM:<a@b.test>\r\nRCPT TO:<one@x.test>\r\nRCPT TO:<two@x.test>\r\n");
	got = talk(&c, "BDAT 16 LAST\r\n0123456789abcdef");
	is_str(got,
	       "552 5.3.4 Chunk exceeds message size limit\r\n"
	       "552 5.3.4 Chunk exceeds message size limit\r\n",
	       "a LAST chunk too big: one 552 per recipient");
	got = talk(&c, "MAIL FROM:<a@b.test>\r\nRCPT TO:<one@x.test>\r\nRCPT TO:<two@x.test>\r\n"
		       "BDAT 16\r\n0123456789abcdef");
	ok(strstr(got, "\r\n250 2.1.5 Ok\r\n552 5.3.4 Chunk exceeds message size limit\r\n") &&
	       !strstr(strstr(got, "552 "), "\r\n552"),
	   "a chunk that is not LAST: one reply, whatever the recipients");
	talk(&c, "RSET\r\n");
	cfg.settings.size = PRACTICE_SIZE_DEFAULT;
	/* only full mailboxes: nothing stored */
	before = commits;
	talk(&c, "MAIL FROM:<a@b.test>\r\nRCPT TO:<full@x.test>\r\nDATA\r\n");
	expect(&c, "x\r\n.\r\n", "452 4.2.2 <full@x.test>: Mailbox full");
	is_int(commits, before, "no recipient got it: nothing stored");
	/* RFC 2033 4.2: DATA without a valid recipient is a 503 */
	talk(&c, "MAIL FROM:<a@b.test>\r\nRCPT TO:<nobody@x.test>\r\n");
	expect(&c, "DATA\r\n", "503 5.5.1 Error: no valid recipients");
	smtpd_conn_free(&c);
	/* in SMTP, mailbox-full refuses at RCPT, and LHLO is unknown */
	cfg.lmtp = false;
	open_conn(&c, false);
	expect(&c, "LHLO x.test\r\n", "500 5.5.2 Error: command not recognized");
	ehlo(&c);
	talk(&c, "MAIL FROM:<a@b.test>\r\n");
	expect(&c, "RCPT TO:<full@x.test>\r\n",
	       "452 4.2.2 <full@x.test>: Recipient address rejected: Mailbox full");
	smtpd_conn_free(&c);
}

/* Logs in with PLAIN as user with pass; returns the reply. */
static const char *login_plain(struct smtpd_conn *c, const char *user, const char *pass)
{
	char resp[512], line[600];
	plain_response("", user, pass, resp);
	snprintf(line, sizeof line, "AUTH PLAIN %s\r\n", resp);
	return talk(c, line);
}

/* Logs in with LOGIN (the user name as the initial response, RFC 4954 4) as user with pass;
   returns the last reply. */
static const char *login_login(struct smtpd_conn *c, const char *user, const char *pass)
{
	char enc[400], line[420];
	b64(user, strlen(user), enc);
	snprintf(line, sizeof line, "AUTH LOGIN %s\r\n", enc);
	talk(c, line);
	b64(pass, strlen(pass), enc);
	snprintf(line, sizeof line, "%s\r\n", enc);
	return talk(c, line);
}

/* --like PROVIDER and the provider faults (issue 17): the provider's words for each misstep,
   the reason after them, the app password, basic-auth off, sendas-denied. */
static void test_like(void)
{
	struct practice_settings ps;
	struct buf m;
	buf_init(&m);
	practice_settings_defaults(&ps);
	is_int(practice_settings_set(&ps, "like", "Office365", &m), 0, "like office365");
	ps.app_password = true;
	buf_reset(&m);
	practice_settings_set(&ps, "reset", NULL, &m);
	is_str(m.data,
	       "all settings are back to their defaults (like office365 stays: 'like off' ends it)",
	       "reset keeps the provider");
	ok(!ps.app_password && ps.basic_auth && strcmp(ps.like, "office365") == 0,
	   "the faults are reset, the provider stays");
	buf_reset(&m);
	is_int(practice_settings_set(&ps, "like", "hotmail", &m), -1, "an unknown provider");
	buf_free(&m);

	for (size_t i = 0; like_provider_names[i]; i++)
		ok(like_find(like_provider_names[i]) != NULL, "provider %s in the table",
		   like_provider_names[i]);
	ok(!like_find("hotmail") && !like_find(NULL), "an unknown provider is NULL");

	struct smtpd_conn c;
	reset_config();
	cfg.app_password = "abcdefghijklmnop";
	snprintf(cfg.settings.like, sizeof cfg.settings.like, "office365");
	cfg.settings.plain_auth = true; /* a provider offers AUTH under TLS only, whatever this */
	open_conn(&c, false);
	ok(strstr(events.data, "S 220 smtp.office365.com Microsoft ESMTP MAIL Service ready\n"),
	   "office365: its greeting");
	const char *got = talk(&c, "EHLO client.test\r\n");
	ok(starts(got, "250-smtp.office365.com Hello [127.0.0.1]") && !strstr(got, "AUTH") &&
	       strstr(got, "STARTTLS"),
	   "office365: its EHLO, STARTTLS and no AUTH before TLS");
	expect(&c, "AUTH LOGIN\r\n", "504 5.7.4 Unrecognized authentication type");
	expect(&c, "MAIL FROM:<student@example.test>\r\n",
	       "530 5.7.57 Client not authenticated to send mail\r\n");
	expect(&c, "STARTTLS\r\n", "220");
	smtpd_tls_started(&c);
	got = talk(&c, "EHLO client.test\r\n");
	ok(strstr(got, "\r\n250-AUTH LOGIN\r\n") != NULL,
	   "office365: its AUTH line, less XOAUTH2 without a sign-in server");
	expect(&c, "HELP auth\r\n",
	       "214 2.0.0 AUTH MECHANISM [initial-response]: log in (after STARTTLS) (mechanisms "
	       "here: LOGIN)\r\n");
	expect(&c, "AUTH PLAIN\r\n",
	       "504 5.7.4 Unrecognized authentication type (smtp.office365.com offers AUTH "
	       "LOGIN)\r\n");
	expect(&c, "AUTH XOAUTH2 x\r\n", "504 5.7.4 Unrecognized authentication type");
	expect(&c, "MAIL FROM:<student@example.test>\r\n",
	       "530 5.7.57 Client not authenticated to send mail\r\n");
	got = login_login(&c, "student", "nope");
	is_str(got, "535 5.7.3 Authentication unsuccessful (wrong password)\r\n",
	       "office365: its words for a wrong password, the reason after them");
	cfg.settings.basic_auth = false;
	got = login_login(&c, "student", "s3cret-Pw");
	is_str(got,
	       "550 5.7.30 Basic authentication is not supported for Client Submission. (password "
	       "logins are switched off on this server (basic-auth off))\r\n",
	       "basic-auth off: 550 5.7.30");
	cfg.settings.basic_auth = true;
	cfg.settings.app_password = true;
	got = login_login(&c, "student", "s3cret-Pw");
	ok(starts(got, "535 5.7.139 Authentication "
		       "unsuccessful, the request did not meet"),
	   "app-password on: the account password is refused");
	ok(strstr(out_text, "(the account password was sent; this account logs in with its app "
			    "password)\r\n") != NULL,
	   "... and the reply says why");
	ok(!strstr(events.data, "s3cret-Pw") && !strstr(events.data, "abcdefghijklmnop"),
	   "no password in the events");
	expect(&c, "MAIL FROM:<student@example.test>\r\n", "530 5.7.57");
	got = login_login(&c, "student", "abcdefghijklmnop");
	is_str(got, "235 2.7.0 Authentication successful\r\n", "the app password logs in");
	cfg.settings.sendas_denied = true;
	talk(&c, "MAIL FROM:<boss@example.test>\r\nRCPT TO:<x@example.test>\r\nDATA\r\n");
	got = talk(&c, "Subject: x\r\n\r\nhi\r\n.\r\n");
	ok(starts(got, "554 5.2.0 STOREDRV.Submission.Exception:SendAsDeniedException."
		       "MapiExceptionSendAsDenied; ") &&
	       strstr(got, "(sendas-denied on: the sender's local part must be the login name)"),
	   "office365 sendas-denied: 554 5.2.0 after the message");
	talk(&c, "MAIL FROM:<boss@example.test>\r\nRCPT TO:<x@example.test>\r\n");
	expect(&c, "BDAT 3 LAST\r\nhi\n", "554 5.2.0 STOREDRV.Submission.Exception");
	int before = commits;
	talk(&c, "MAIL FROM:<Student@example.test>\r\nRCPT TO:<x@example.test>\r\nDATA\r\n");
	expect(&c, "x\r\n.\r\n", "250 2.0.0 Ok");
	is_int(commits, before + 1, "the user's own address is stored");
	smtpd_conn_free(&c);

	/* gmail: multi-line replies, sendas refused at MAIL (Postfix's way, Gmail has none) */
	reset_config();
	cfg.app_password = "abcdefghijklmnop";
	snprintf(cfg.settings.like, sizeof cfg.settings.like, "gmail");
	open_conn(&c, false);
	ok(strstr(events.data, "S 220 smtp.gmail.com ESMTP practice - gsmtp\n"),
	   "gmail: its greeting");
	ehlo(&c);
	expect(&c, "MAIL FROM:<a@b.test>\r\n", "530 5.7.0 Must issue a STARTTLS command first.");
	expect(&c, "AUTH PLAIN\r\n", "530 5.7.0 Must issue a STARTTLS command first.");
	expect(&c, "STARTTLS\r\n", "220");
	smtpd_tls_started(&c);
	ehlo(&c);
	got = login_plain(&c, "nobody", "x");
	is_str(got,
	       "535-5.7.8 Username and Password not accepted. For more information, go to\r\n"
	       "535 5.7.8  https://support.google.com/mail/?p=BadCredentials practice - gsmtp "
	       "(unknown user name)\r\n",
	       "gmail: two lines, the reason after the last");
	cfg.settings.app_password = true;
	got = login_plain(&c, "student", "s3cret-Pw");
	ok(starts(got, "534-5.7.9 Application-specific password required."),
	   "gmail app-password: 534 5.7.9");
	expect(&c, "MAIL FROM:<a@b.test>\r\n", "530-5.7.0 Authentication Required.");
	expect(&c, "AUTH PLAIN\r\n", "334");
	expect(&c, "not base64!\r\n", "501 5.5.2 Cannot decode response (not base64)");
	got = login_plain(&c, "student", "abcdefghijklmnop");
	is_str(got, "235 2.7.0 Authentication successful\r\n", "gmail: the app password");
	cfg.settings.sendas_denied = true;
	expect(&c, "MAIL FROM:<boss@b.test>\r\n",
	       "553 5.7.1 Sender address rejected: not owned by the logged-in user (sendas-denied");
	expect(&c, "MAIL FROM:<student@b.test>\r\n", "250");
	smtpd_conn_free(&c);

	/* without --like: the app-password fault in the practice server's own words */
	reset_config();
	cfg.app_password = "abcdefghijklmnop";
	cfg.settings.app_password = true;
	open_conn(&c, true);
	ehlo(&c);
	got = login_plain(&c, "student", "s3cret-Pw");
	is_str(got,
	       "534 5.7.9 Application-specific password required (the account password was sent; "
	       "this account logs in with its app password)\r\n",
	       "app-password on without --like");
	smtpd_conn_free(&c);
}

int main(void)
{
	buf_init(&stored);
	buf_init(&writing);
	buf_init(&events);
	test_greeting_and_sequence();
	test_ehlo();
	test_mail_rcpt();
	test_data();
	test_limits();
	test_starttls();
	test_auth();
	test_faults();
	test_settings();
	test_settings_text();
	test_relay();
	test_script();
	test_script_raw();
	test_auth_spellings_redacted();
	test_bdat();
	test_bdat_miscount();
	test_smtputf8();
	test_dsn();
	test_lmtp();
	test_like();
	buf_free(&stored);
	buf_free(&writing);
	buf_free(&events);
	return done_testing();
}
