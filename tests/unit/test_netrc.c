/* Unit tests of src/util/netrc.c. */
#include <string.h>

#include "smtpsh/netrc.h"
#include "tap.h"

static int look(const char *text, const char *host, const char *user, struct netrc_entry *e)
{
	return netrc_lookup(text, strlen(text), host, user, e);
}

static void expect(const char *text, const char *host, const char *user, int want,
		   const char *login, const char *password, const char *what)
{
	struct netrc_entry e;
	int r = look(text, host, user, &e);
	is_int(r, want, "%s: result", what);
	if (want == 1) {
		is_str(e.login, login, "%s: login", what);
		is_str(e.password, password, "%s: password", what);
	}
	netrc_entry_free(&e);
}

int main(void)
{
	const char *f = "machine mail.example.test login alice password s3cret\n"
			"machine other.test\n  login bob\n  password \"two words\"\n"
			"machine mail.example.test login carol password c-pass\n"
			"default login anon password anon-pass\n";
	expect(f, "mail.example.test", NULL, 1, "alice", "s3cret", "first machine entry");
	expect(f, "MAIL.Example.TEST", NULL, 1, "alice", "s3cret", "host without case");
	expect(f, "mail.example.test", "carol", 1, "carol", "c-pass", "entry for the given user");
	expect(f, "other.test", NULL, 1, "bob", "two words", "multi-line entry, quoted password");
	expect(f, "unknown.test", NULL, 1, "anon", "anon-pass", "default entry");
	expect(f, "unknown.test", "zed", 0, NULL, NULL, "default for another user: nothing");
	expect(f, "mail.example.test", "zed", 0, NULL, NULL, "user not listed: nothing");

	struct netrc_entry e;
	is_int(look(f, "unknown.test", NULL, &e), 1, "default found");
	ok(e.is_default, "marked as default");
	netrc_entry_free(&e);
	is_int(look(f, "other.test", NULL, &e), 1, "machine found");
	ok(!e.is_default, "not default");
	netrc_entry_free(&e);

	expect("machine h password only", "h", "anyone", 1, NULL, "only",
	       "entry without login fits any user");
	expect("machine h login u", "h", NULL, 1, "u", NULL, "entry without password");
	expect("", "h", NULL, 0, NULL, NULL, "empty file");
	expect("machine", "h", NULL, 0, NULL, NULL, "machine without name");
	expect("machine h login", "h", NULL, 1, NULL, NULL, "login without value");
	expect("machine h login u password", "h", NULL, 1, "u", NULL, "password without value");
	expect("login u password p machine h login v password q", "h", NULL, 1, "v", "q",
	       "tokens before any machine are ignored");
	expect("machine h account acc login u password p", "h", NULL, 1, "u", "p",
	       "account skipped");
	expect("macdef init\nmachine h login evil password evil\n\nmachine h login u password p",
	       "h", NULL, 1, "u", "p", "macdef skipped up to the empty line");
	expect("machine h login \"a\\\"b\" password \"x\\\\y\"", "h", NULL, 1, "a\"b", "x\\y",
	       "escapes in quotes");
	expect("machine h login u password \"unterminated", "h", NULL, 1, "u", "unterminated",
	       "unterminated quote");
	expect("machine\th\r\nlogin\tu\r\npassword\tp\r\n", "h", NULL, 1, "u", "p",
	       "tabs and CRLF");
	expect("default login d password dp\nmachine h login u password p", "h", NULL, 1, "u", "p",
	       "a machine wins over an earlier default");
	expect("machine h login u password p password q login v", "h", NULL, 1, "u", "p",
	       "the first login/password of an entry count");
	expect("machine hh login u password p", "h", NULL, 0, NULL, NULL, "no prefix match");

	const char nul[] = "machine h login u\0x password p";
	is_int(netrc_lookup(nul, sizeof nul - 1, "h", NULL, &e), 1, "NUL in the text");
	is_str(e.login, "u x", "NUL becomes a blank inside a token");
	netrc_entry_free(&e);
	return done_testing();
}
