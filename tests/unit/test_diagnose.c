/* Unit tests of the teacher view's diagnosis (src/practice/diagnose.c): event sequences of a
   conversation in, the mistakes it names (and the counts) out. */
#include "smtpsh/diagnose.h"

#include <stdio.h>
#include <string.h>

#include "tap.h"

static struct diag_notes notes;

static void cmd(struct diag *d, const char *line)
{
	notes.n = 0;
	diag_command(d, line, strlen(line), strstr(line, "<redacted>") != NULL, &notes);
}

static void reply(struct diag *d, const char *line)
{
	diag_reply(d, line, strlen(line));
}

static void body(struct diag *d, const char *line)
{
	diag_message_line(d, line, strlen(line));
}

static void ehlo(struct diag *d, bool auth)
{
	cmd(d, "EHLO me");
	reply(d, "250-localhost");
	reply(d, "250-STARTTLS");
	if (auth)
		reply(d, "250-AUTH PLAIN LOGIN");
	reply(d, "250 HELP");
}

static void test_mail_before_ehlo(void)
{
	struct diag d;
	diag_init(&d);
	cmd(&d, "MAIL FROM:<a@b>");
	is_int((long long)notes.n, 1, "MAIL before EHLO: named");
	is_str(notes.text[0],
	       "mistake: MAIL before EHLO: say EHLO (or HELO) first (RFC 5321 4.1.4)", "its words");
	cmd(&d, "RCPT TO:<a@b>");
	is_int((long long)notes.n, 0, "once per session");
	ehlo(&d, false);
	cmd(&d, "MAIL FROM:<a@b>");
	is_int((long long)notes.n, 0, "after EHLO: fine");
	is_int((long long)d.mistakes, 1, "one mistake counted");
	is_int((long long)d.commands, 4, "four commands");
}

static void test_starttls(void)
{
	struct diag d;
	diag_init(&d);
	ehlo(&d, false);
	cmd(&d, "AUTH LOGIN");
	is_int((long long)notes.n, 1, "AUTH when only offered after STARTTLS: named");
	ok(strstr(notes.text[0], "AUTH before STARTTLS") != NULL, "as AUTH before STARTTLS");
	cmd(&d, "<redacted>");
	is_int((long long)notes.n, 0, "an AUTH answer is no command");
	is_int((long long)d.commands, 2, "not counted as one");
	cmd(&d, "STARTTLS");
	reply(&d, "220 2.0.0 Ready to start TLS");
	diag_tls(&d);
	cmd(&d, "AUTH PLAIN <redacted>");
	is_int((long long)notes.n, 1, "no EHLO after STARTTLS: named");
	ok(strstr(notes.text[0], "EHLO again after TLS (RFC 3207 4.2) before AUTH") != NULL,
	   "with RFC 3207: %s", notes.text[0]);
	ehlo(&d, true);
	cmd(&d, "AUTH PLAIN <redacted>");
	is_int((long long)notes.n, 0, "AUTH after TLS and EHLO: fine");

	diag_init(&d); /* AUTH offered in plaintext: no mistake */
	ehlo(&d, true);
	cmd(&d, "AUTH LOGIN");
	is_int((long long)notes.n, 0, "AUTH offered before STARTTLS: fine");
}

static void transaction(struct diag *d)
{
	ehlo(d, false);
	cmd(d, "MAIL FROM:<a@b>");
	reply(d, "250 2.1.0 Ok");
	cmd(d, "RCPT TO:<c@d>");
	reply(d, "250 2.1.5 Ok");
	cmd(d, "DATA");
	reply(d, "354 End data with <CR><LF>.<CR><LF>");
	body(d, "Subject: x");
	body(d, "");
	body(d, "hi");
}

static void test_data(void)
{
	struct diag d;
	diag_init(&d);
	transaction(&d);
	cmd(&d, ".");
	reply(&d, "250 2.0.0 Ok: stored as X");
	notes.n = 0;
	diag_end(&d, &notes);
	is_int((long long)d.delivered, 1, "a message delivered");
	is_int((long long)d.failed, 0, "none failed");
	is_int((long long)notes.n, 0, "no mistake");

	diag_init(&d);
	transaction(&d);
	body(&d, "QUIT");
	reply(&d, "421 4.4.2 localhost Error: timeout exceeded");
	notes.n = 0;
	diag_end(&d, &notes);
	is_int((long long)notes.n, 1, "a forgotten '.': named at the end");
	is_str(notes.text[0],
	       "mistake: \"QUIT\" was sent as a message line: the line \".\" that ends the message "
	       "was forgotten (RFC 5321 4.1.1.4); nothing stored",
	       "QUIT as a message line");
	is_int((long long)d.failed, 1, "the message failed");

	diag_init(&d);
	transaction(&d);
	notes.n = 0;
	diag_end(&d, &notes);
	ok(notes.n == 1 && strstr(notes.text[0], "ended inside DATA") &&
	       strstr(notes.text[0], "nothing stored"),
	   "closed inside DATA: nothing stored");

	diag_init(&d);
	transaction(&d);
	cmd(&d, ".");
	reply(&d, "552 5.3.4 Error: message too big");
	is_int((long long)d.failed, 1, "refused after the data: failed");

	diag_init(&d);
	ehlo(&d, false);
	cmd(&d, "BDAT 5 LAST");
	reply(&d, "250 2.0.0 Ok: 5 octets received, stored as Y");
	is_int((long long)d.delivered, 1, "BDAT LAST: delivered");
}

static const char *end_mark(struct diag *d, const char *line, enum diag_line_end end)
{
	return diag_line_end(d, line, strlen(line), end, &notes);
}

static void test_line_ends(void)
{
	struct diag d;
	diag_init(&d);
	notes.n = 0;
	const char *m = end_mark(&d, "EHLO me", DIAG_END_CRLF);
	is_str(m, "", "CRLF: no mark");
	m = end_mark(&d, "EHLO me", DIAG_END_LF);
	is_str(m, "[LF]", "bare LF: [LF]");
	is_int((long long)notes.n, 1, "explained");
	notes.n = 0;
	m = end_mark(&d, "NOOP", DIAG_END_LF);
	is_str(m, "[LF]", "again [LF]");
	is_int((long long)notes.n, 0, "explained once");
	m = end_mark(&d, "NO\rOP", DIAG_END_LF);
	is_str(m, "[CR] [LF]", "both");
	m = end_mark(&d, "QUIT", DIAG_END_NONE);
	is_str(m, "[no CRLF]", "at the close");
	m = end_mark(&d, "a\rb", DIAG_END_OCTETS);
	is_str(m, "", "a chunk: no mark");
	is_int((long long)d.mistakes, 3, "LF, CR and the last line: three mistakes");
}

static void test_auth_notes(void)
{
	struct diag d;
	diag_init(&d);
	const char *n1 = "LOGIN: the response is not valid base64";
	notes.n = 0;
	diag_server_note(&d, n1, strlen(n1), &notes);
	ok(notes.n == 1 && strstr(notes.text[0], "not base64"), "not base64: named");
	const char *n2 =
	    "PLAIN login failed: the PLAIN response is not authzid NUL user NUL password";
	notes.n = 0;
	diag_server_note(&d, n2, strlen(n2), &notes);
	ok(notes.n == 1 && strstr(notes.text[0], "without the NUL separators"), "no NULs: named");
	const char *n3 = "PLAIN login failed: wrong password";
	notes.n = 0;
	diag_server_note(&d, n3, strlen(n3), &notes);
	is_int((long long)notes.n, 0, "a wrong password is no protocol mistake");
}

int main(void)
{
	test_mail_before_ehlo();
	test_starttls();
	test_data();
	test_line_ends();
	test_auth_notes();
	return done_testing();
}
