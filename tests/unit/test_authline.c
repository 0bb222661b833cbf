/* Unit tests of the one AUTH detector (src/smtp/authline.c): a line is an AUTH command, with
   or without a secret, exactly when a server that splits on any white space reads it so. */
#include "smtpsh/authline.h"

#include <stdio.h>
#include <string.h>

#include "tap.h"

static const char *redacted(const char *line)
{
	static char out[96];
	strcpy(out, "(none)");
	authline_redact(line, strlen(line), out, sizeof out);
	return out;
}

static void test_secret_spellings(void)
{
	/* Every spelling Postfix's smtpd_token() reads as AUTH PLAIN <response>. */
	static const char *const lines[] = {
	    "AUTH PLAIN AHUAcA==",  "auth PLAIN AHUAcA==",   "AUTH\tPLAIN AHUAcA==",
	    " AUTH PLAIN AHUAcA==", "AUTH  PLAIN  AHUAcA==", "\tAUTH\tPLAIN\tAHUAcA==",
	    "AUTH PLAIN\tAHUAcA==", "AUTH PLAIN AHUAcA== ",  "AuTh\vPLAIN\fAHUAcA==",
	};
	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
		ok(authline_has_secret(lines[i], strlen(lines[i])), "secret in line %zu", i);
		is_str(redacted(lines[i]), "AUTH PLAIN <redacted>", "redacted form of line %zu", i);
		ok(!strstr(redacted(lines[i]), "AHUAcA"), "response not in the redacted form %zu",
		   i);
	}
	is_str(redacted("auth plain AHUAcA=="), "AUTH plain <redacted>",
	       "the mechanism as written");
	is_str(redacted("AUTH PLAIN ="), "AUTH PLAIN <redacted>", "the empty response counts");
}

static void test_no_secret(void)
{
	static const char *const auth_only[] = {"AUTH", "AUTH LOGIN", " auth\tlogin \t", "AUTH\t",
						"AUTH  "};
	for (size_t i = 0; i < sizeof auth_only / sizeof auth_only[0]; i++) {
		const char *l = auth_only[i];
		ok(authline_parse(l, strlen(l), NULL), "AUTH command %zu", i);
		ok(!authline_has_secret(l, strlen(l)), "no secret in AUTH command %zu", i);
		is_str(redacted(l), "(none)", "nothing redacted in AUTH command %zu", i);
	}
	static const char *const others[] = {"",
					     "AUTHX PLAIN x",
					     "AUT PLAIN x",
					     "MAIL FROM:<a@b> AUTH=<>",
					     "NOOP AUTH PLAIN x",
					     "XAUTH PLAIN x",
					     "\\auth PLAIN u p"};
	for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
		const char *l = others[i];
		ok(!authline_parse(l, strlen(l), NULL), "not AUTH: line %zu", i);
	}
}

static void test_spans(void)
{
	struct authline a;
	const char *l = " \tAUTH  CRAM-MD5\tabc def";
	ok(authline_parse(l, strlen(l), &a), "parsed");
	is_int(a.mech_off, 8, "mechanism offset");
	is_int(a.mech_len, 8, "mechanism length");
	is_int(a.resp_off, 17, "response offset");
	is_int(a.resp_len, 3, "response length: one word");
	ok(a.has_response, "has a response");

	ok(authline_parse("AUTH", 4, &a) && a.mech_len == 0 && !a.has_response, "bare AUTH");
	/* The length bounds the line: what lies after it is not looked at. */
	ok(!authline_has_secret("AUTH PLAIN x", 10), "length respected");
	/* A NUL is an ordinary octet (the caller refuses such lines; the detector does not hide).
	 */
	ok(authline_has_secret("AUTH PLAIN \0x", 13), "NUL is not white space");

	size_t off;
	is_int(authline_verb("  EHLO x", 8, &off), 4, "verb length");
	is_int(off, 2, "verb offset");
	is_int(authline_verb(" \t", 2, &off), 0, "blank line: no verb");
}

static void test_long_mechanism(void)
{
	char line[200], out[96];
	memcpy(line, "AUTH ", 5);
	memset(line + 5, 'M', 60);
	strcpy(line + 65, " secret");
	ok(authline_redact(line, strlen(line), out, sizeof out), "long mechanism redacted");
	is_int(strlen(out), strlen("AUTH  <redacted>") + 40, "mechanism cut to 40");
	ok(!strstr(out, "secret"), "no response");
	ok(authline_redact(line, strlen(line), out, 8) && strlen(out) == 7, "cut to outlen");
}

/* The plaintext guard: every spelling of AUTH is refused in clear to a peer off loopback. */
static void test_guard(void)
{
	static const char *const spellings[] = {
	    "AUTH PLAIN AHUAcA==",   "AUTH\tPLAIN AHUAcA==", " AUTH PLAIN AHUAcA==",
	    "AUTH  PLAIN  AHUAcA==", "auth login",	     "\tAUTH"};
	for (size_t i = 0; i < sizeof spellings / sizeof spellings[0]; i++) {
		const char *l = spellings[i];
		size_t n = strlen(l);
		ok(authline_refused_in_clear(l, n, false, false, false, false),
		   "refused in clear off loopback: %zu", i);
		ok(!authline_refused_in_clear(l, n, false, true, false, false), "TLS: sent %zu", i);
		ok(!authline_refused_in_clear(l, n, false, false, true, false),
		   "loopback: sent %zu", i);
		ok(!authline_refused_in_clear(l, n, false, false, false, true),
		   "--allow-plaintext-auth: sent %zu", i);
	}
	ok(!authline_refused_in_clear("NOOP", 4, false, false, false, false), "NOOP is no AUTH");
	ok(!authline_refused_in_clear("AUTH x", 6, true, false, false, false),
	   "an answer inside the exchange: guarded at its AUTH line");
}

/* Raw octets (\raw): split into lines as a server splits them. */
static void test_raw(void)
{
	static const char one[] = "EHLO x\r\nAUTH PLAIN AGFsaWNl\r\nNOOP\r\n";
	ok(authline_raw_has_secret(one, sizeof one - 1), "a secret on the second line");
	static const char lf[] = "EHLO x\n auth\tplain AGFsaWNl\n";
	ok(authline_raw_has_secret(lf, sizeof lf - 1), "bare LF line ends, any spelling");
	static const char last[] = "NOOP\r\nAUTH LOGIN dXNlcg==";
	ok(authline_raw_has_secret(last, sizeof last - 1), "an unfinished last line");
	static const char nul[] = "\0AUTH PLAIN x\r\n";
	ok(!authline_raw_has_secret(nul, sizeof nul - 1), "a NUL before AUTH: not the verb AUTH");
	static const char none[] = "MAIL FROM:<auth@x>\r\nAUTH LOGIN\r\n";
	ok(!authline_raw_has_secret(none, sizeof none - 1), "AUTH without a response: no secret");
	ok(authline_raw_refused_in_clear(none, sizeof none - 1, false, false, false),
	   "but refused in clear to a host that is not loopback");
	ok(!authline_raw_refused_in_clear(none, sizeof none - 1, true, false, false) &&
	       !authline_raw_refused_in_clear(none, sizeof none - 1, false, true, false) &&
	       !authline_raw_refused_in_clear(none, sizeof none - 1, false, false, true),
	   "allowed under TLS, to loopback, or when the user allows it");
	static const char cr[] = "NOOP\rAUTH PLAIN x\r\n";
	ok(authline_raw_refused_in_clear(cr, sizeof cr - 1, false, false, false) &&
	       authline_raw_has_secret(cr, sizeof cr - 1),
	   "after a bare CR (a line end to some servers)");
	ok(!authline_raw_refused_in_clear("", 0, false, false, false), "nothing: nothing refused");
}

int main(void)
{
	test_raw();
	test_guard();
	test_secret_spellings();
	test_no_secret();
	test_spans();
	test_long_mechanism();
	return done_testing();
}
