/* Unit tests of the AUTH display and replay helpers (src/smtp/authview.c). */
#include "smtpsh/authview.h"

#include <stdio.h>
#include <string.h>

#include "tap.h"

static bool decodes(const char *in, const char *want, size_t wlen)
{
	struct buf b;
	buf_init(&b);
	bool good = authview_b64_decode(in, strlen(in), &b) == 0 && b.len == wlen &&
		    (wlen == 0 || memcmp(b.data, want, wlen) == 0);
	buf_free(&b);
	return good;
}

static bool refuses(const char *in)
{
	struct buf b;
	buf_init(&b);
	buf_puts(&b, "keep");
	bool good = authview_b64_decode(in, strlen(in), &b) < 0 && b.len == 4;
	buf_free(&b);
	return good;
}

static void test_b64(void)
{
	ok(decodes("VXNlcm5hbWU6", "Username:", 9), "Username:");
	ok(decodes("UGFzc3dvcmQ6", "Password:", 9), "Password:");
	ok(decodes("VXNlciBOYW1lAA==", "User Name\0", 10), "aiosmtpd's prompt with a NUL");
	ok(decodes("", "", 0), "empty challenge");
	ok(decodes("  YQ==  ", "a", 1), "blanks around, two pad bytes");
	ok(decodes("YWI=", "ab", 2), "one pad byte");
	ok(refuses("YQ"), "missing padding");
	ok(refuses("Y*==") && refuses("YQ=a") && refuses("=YQ=") && refuses("YQ==YQ=="),
	   "bad characters or misplaced '='");
	ok(refuses("not base64 at all"), "words");
	ok(refuses("PDEyODk2LjE2OTc2MzAxNDFAbWFpbD4\r"), "CR inside");

	struct buf b;
	buf_init(&b);
	authview_b64_encode("\0alice\0secret", 13, &b);
	is_str(b.data, "AGFsaWNlAHNlY3JldA==", "encode PLAIN blob");
	buf_reset(&b);
	authview_b64_encode("", 0, &b);
	is_str(b.data, "", "encode nothing");
	buf_free(&b);
}

static void test_user(void)
{
	char u[64];
	ok(authview_user("PLAIN", 1, "AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=", 36, u, sizeof u) &&
		   !strcmp(u, "alice@example.test"),
	   "PLAIN: authcid");
	ok(authview_user("plain", 1, "YWRtaW4AYWxpY2UAc2VjcmV0", 24, u, sizeof u) &&
		   !strcmp(u, "alice"),
	   "PLAIN with an authzid: the authcid (lower-case mechanism)");
	ok(!authview_user("PLAIN", 1, "YWxpY2U=", 8, u, sizeof u), "PLAIN without NULs: none");
	ok(authview_user("LOGIN", 1, "YWxpY2U=", 8, u, sizeof u) && !strcmp(u, "alice"),
	   "LOGIN response 1");
	ok(!authview_user("LOGIN", 2, "c2VjcmV0", 8, u, sizeof u), "LOGIN response 2 is the password");
	ok(authview_user("CRAM-MD5", 1,
			 "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw", 48, u, sizeof u) &&
		   !strcmp(u, "tim"),
	   "CRAM-MD5 (RFC 2195 example)");
	ok(authview_user("XOAUTH2", 1, "dXNlcj1ib2JAZXhhbXBsZS5vcmcBYXV0aD1CZWFyZXIgdG9rZW4BAQ==",
			 56, u, sizeof u) &&
		   !strcmp(u, "bob@example.org"),
	   "XOAUTH2");
	/* RFC 7628 4.1: the user from the GS2 header */
	const char *ob =
	    "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1"
	    "dGg9QmVhcmVyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB";
	ok(authview_user("OAUTHBEARER", 1, ob, strlen(ob), u, sizeof u) &&
	       !strcmp(u, "user@example.com"),
	   "OAUTHBEARER");
	ok(!authview_user("GSSAPI", 1, "YWxpY2U=", 8, u, sizeof u), "unknown mechanism");
	ok(!authview_user("LOGIN", 1, "!!!", 3, u, sizeof u), "not base64");
	char small[4];
	ok(authview_user("LOGIN", 1, "YWxpY2U=", 8, small, sizeof small) && !strcmp(small, "ali"),
	   "cut to the buffer");
}

static bool responds(const char *mech, unsigned nth, const char *ch, const char *want)
{
	struct buf b;
	buf_init(&b);
	bool good = authview_respond(mech, nth, ch, strlen(ch), "tim", "tanstaaftanstaaf", &b) == 0 &&
		    b.data && strcmp(b.data, want) == 0;
	if (!good)
		diag("%s %u: got %s, want %s", mech, nth, b.data ? b.data : "(none)", want);
	buf_free(&b);
	return good;
}

static void test_respond(void)
{
	/* RFC 2195's example: user tim, password tanstaaftanstaaf */
	ok(responds("CRAM-MD5", 1, "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+",
		    "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"),
	   "CRAM-MD5 = RFC 2195");
	ok(responds("PLAIN", 1, "", "AHRpbQB0YW5zdGFhZnRhbnN0YWFm"), "PLAIN");
	ok(responds("LOGIN", 1, "VXNlcm5hbWU6", "dGlt"), "LOGIN Username:");
	ok(responds("LOGIN", 2, "UGFzc3dvcmQ6", "dGFuc3RhYWZ0YW5zdGFhZg=="), "LOGIN Password:");
	ok(responds("LOGIN", 1, "", "dGlt"), "LOGIN initial response: the user");
	ok(responds("LOGIN", 2, "VXNlciBOYW1lAA==", "dGlt"),
	   "LOGIN answers what is asked, not the position");
	ok(responds("XOAUTH2", 1, "", "dXNlcj10aW0BYXV0aD1CZWFyZXIgdGFuc3RhYWZ0YW5zdGFhZgEB"),
	   "XOAUTH2");
	struct buf b;
	buf_init(&b);
	ok(authview_respond("CRAM-MD5", 1, "", 0, "u", "p", &b) < 0, "CRAM-MD5 needs a challenge");
	ok(authview_respond("NTLM", 1, "", 0, "u", "p", &b) < 0, "unsupported mechanism");
	ok(authview_respond("PLAIN", 2, "", 0, "u", "p", &b) < 0, "PLAIN has one response");
	ok(authview_respond("LOGIN", 1, "%%", 2, "u", "p", &b) < 0, "undecodable challenge");
	/* A replay builds XOAUTH2 as \auth does: a 0x01 would end the user or token field early
	   and let the server read another one. */
	ok(authview_respond("XOAUTH2", 1, "", 0, "u\001auth=Bearer x", "p", &b) < 0,
	   "XOAUTH2: a user with 0x01 refused");
	ok(authview_respond("XOAUTH2", 1, "", 0, "u", "tok\001\001", &b) < 0,
	   "XOAUTH2: a token with 0x01 refused");
	ok(b.len == 0, "nothing appended on failure");
	buf_free(&b);
}

int main(void)
{
	test_b64();
	test_user();
	test_respond();
	return done_testing();
}
