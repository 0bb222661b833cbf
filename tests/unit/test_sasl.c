/* Unit tests of src/smtp/sasl.c: base64, challenges, mechanism steps (RFC test vectors). */
#include <stdlib.h>
#include <string.h>

#include "smtpsh/sasl.h"
#include "tap.h"

static void test_b64_vectors(void)
{
	/* RFC 4648 section 10 */
	static const char *const v[][2] = {
		{"", ""},	  {"f", "Zg=="},	{"fo", "Zm8="},	      {"foo", "Zm9v"},
		{"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		struct buf b;
		buf_init(&b);
		is_int(sasl_b64_encode(v[i][0], strlen(v[i][0]), &b), 0, "encode '%s'", v[i][0]);
		is_mem(b.data ? b.data : "", b.len, v[i][1], strlen(v[i][1]), "encode '%s'",
		       v[i][0]);
		buf_reset(&b);
		is_int(sasl_b64_decode(v[i][1], strlen(v[i][1]), 100, &b), SASL_DECODE_OK,
		       "decode '%s'", v[i][1]);
		is_mem(b.data ? b.data : "", b.len, v[i][0], strlen(v[i][0]), "decode '%s'",
		       v[i][1]);
		buf_free(&b);
	}
}

static void test_b64_binary(void)
{
	unsigned char all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	for (size_t n = 0; n <= 256; n++) {
		struct buf e, d;
		buf_init(&e);
		buf_init(&d);
		int r1 = sasl_b64_encode(all, n, &e);
		int r2 = sasl_b64_decode(e.data, e.len, 256, &d);
		bool same = r1 == 0 && r2 == SASL_DECODE_OK && d.len == n &&
			    (n == 0 || memcmp(d.data, all, n) == 0);
		if (!same || n % 64 == 0 || n < 4)
			ok(same, "round trip of %zu binary octets", n);
		buf_free(&e);
		buf_free(&d);
	}
}

static void test_b64_appends(void)
{
	struct buf b;
	buf_init(&b);
	buf_puts(&b, "x:");
	sasl_b64_encode("hi", 2, &b);
	is_str(b.data, "x:aGk=", "encode appends");
	buf_reset(&b);
	buf_puts(&b, "y:");
	sasl_b64_decode("aGk=", 4, 10, &b);
	is_str(b.data, "y:hi", "decode appends");
	buf_free(&b);
}

static void test_b64_invalid(void)
{
	static const char *const bad[] = {
		"a",	     /* one character of a quantum */
		"aGk",	     /* (valid: missing padding tolerated) -- checked below */
		"aG=k",	     /* '=' in the middle */
		"aGk==",     /* too much padding for the length */
		"aG===",     /* three '=' */
		"====",	     /* only padding */
		"aGk=\n",    /* a line break */
		" aGk=",     /* a blank */
		"aG k=",     /* a blank inside */
		"aGk*",	     /* not in the alphabet */
		"aGk\x80",   /* 8-bit */
		"YQ=",	     /* padding of the wrong length */
		"Zm9v\0Zm9v" /* a NUL (length counted below) */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (i == 1)
			continue;
		size_t len = i == 12 ? 9 : strlen(bad[i]);
		struct buf b;
		buf_init(&b);
		is_int(sasl_b64_decode(bad[i], len, 100, &b), SASL_DECODE_BAD, "refused: bad[%zu]",
		       i);
		is_int(b.len, 0, "nothing appended for bad[%zu]", i);
		buf_free(&b);
	}
	struct buf b;
	buf_init(&b);
	is_int(sasl_b64_decode("aGk", 3, 100, &b), SASL_DECODE_OK, "missing padding tolerated");
	is_str(b.data, "hi", "missing padding: decoded");
	buf_reset(&b);
	is_int(sasl_b64_decode("Zm9vYmFy", 8, 5, &b), SASL_DECODE_TOO_LONG, "over max refused");
	is_int(b.len, 0, "over max: nothing appended");
	is_int(sasl_b64_decode("Zm9vYmE", 7, 5, &b), SASL_DECODE_OK, "exactly max accepted");
	buf_free(&b);
}

static void test_challenge(void)
{
	struct buf b;
	buf_init(&b);
	const char *t = "334 VXNlcm5hbWU6";
	is_int(sasl_challenge_decode(t, strlen(t), &b), SASL_DECODE_OK, "LOGIN prompt");
	is_str(b.data, "Username:", "LOGIN prompt decoded");
	buf_reset(&b);
	t = "334 UGFzc3dvcmQ6  ";
	is_int(sasl_challenge_decode(t, strlen(t), &b), SASL_DECODE_OK, "trailing blanks ok");
	is_str(b.data, "Password:", "Password: decoded");
	buf_free(&b);
	static const char *const empty[] = {"334", "334 ", "334 =", "334   "};
	for (size_t i = 0; i < 4; i++) {
		buf_init(&b);
		is_int(sasl_challenge_decode(empty[i], strlen(empty[i]), &b), SASL_DECODE_OK,
		       "empty challenge '%s'", empty[i]);
		is_int(b.len, 0, "empty challenge '%s' decodes to nothing", empty[i]);
		ok(b.data && b.data[0] == '\0', "empty challenge: a string");
		buf_free(&b);
	}
	static const char *const bad[] = {
		"235 VXNlcm5hbWU6", "334-VXNlcm5hbWU6", "334VXNlcm5hbWU6", "33",
		"334 VXNlcm5hbWU6\n334 VXNl", "334 !!!!", "334 VXNl\rcm5h", "",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		buf_init(&b);
		is_int(sasl_challenge_decode(bad[i], strlen(bad[i]), &b), SASL_DECODE_BAD,
		       "refused challenge %zu", i);
		buf_free(&b);
	}
	/* a hostile, huge challenge is refused before decoding */
	size_t n = 4 + (SASL_CHALLENGE_MAX / 3 + 2) * 4;
	char *big = malloc(n + 1);
	memcpy(big, "334 ", 4);
	memset(big + 4, 'A', n - 4);
	big[n] = '\0';
	buf_init(&b);
	is_int(sasl_challenge_decode(big, n, &b), SASL_DECODE_TOO_LONG, "huge challenge refused");
	is_int(b.cap, 0, "huge challenge: nothing allocated");
	/* the largest accepted */
	size_t m = 4 + SASL_CHALLENGE_MAX / 3 * 4;
	is_int(sasl_challenge_decode(big, m, &b), SASL_DECODE_OK, "challenge of the maximum size");
	is_int(b.len, SASL_CHALLENGE_MAX, "maximum size decoded");
	buf_free(&b);
	free(big);
}

static void test_mechs(void)
{
	enum sasl_mech m;
	is_int(sasl_mech_parse("cram-md5", &m), 0, "parse is case-insensitive");
	is_int(m, SASL_CRAM_MD5, "cram-md5");
	is_int(sasl_mech_parse("DIGEST-MD5", &m), -1, "DIGEST-MD5 not supported");
	is_str(sasl_mech_name(SASL_XOAUTH2), "XOAUTH2", "name");
	ok(sasl_mech_takes_token(SASL_XOAUTH2) && !sasl_mech_takes_token(SASL_PLAIN),
	   "XOAUTH2 takes a token");

	struct smtp_caps caps;
	caps_init(&caps);
	caps_add_line(&caps, "250-mail.example", 17, true);
	caps_add_line(&caps, "250-AUTH LOGIN PLAIN CRAM-MD5 GSSAPI", 36, false);
	caps_add_line(&caps, "250 8BITMIME", 12, false);
	unsigned adv = sasl_advertised(&caps);
	is_int(adv, (1u << SASL_PLAIN) | (1u << SASL_LOGIN) | (1u << SASL_CRAM_MD5),
	       "advertised mechanisms we support");
	ok(sasl_choose(adv, true, false, &m) == 0 && m == SASL_PLAIN, "verified TLS: PLAIN");
	ok(sasl_choose(adv, false, false, &m) == 0 && m == SASL_CRAM_MD5,
	   "no verified TLS: CRAM-MD5");
	ok(sasl_choose(adv, true, true, &m) == 0 && m == SASL_PLAIN,
	   "token given but XOAUTH2 not advertised: PLAIN");
	ok(sasl_choose(1u << SASL_LOGIN, true, false, &m) == 0 && m == SASL_LOGIN, "only LOGIN");
	ok(sasl_choose((1u << SASL_LOGIN) | (1u << SASL_CRAM_MD5), true, false, &m) == 0 &&
		   m == SASL_LOGIN,
	   "verified TLS: LOGIN before CRAM-MD5");
	ok(sasl_choose((1u << SASL_LOGIN) | (1u << SASL_PLAIN), false, false, &m) == 0 &&
		   m == SASL_PLAIN,
	   "no TLS: PLAIN before LOGIN");
	ok(sasl_choose(adv | (1u << SASL_XOAUTH2), true, true, &m) == 0 && m == SASL_XOAUTH2,
	   "token and XOAUTH2: XOAUTH2");
	ok(sasl_choose(adv | (1u << SASL_XOAUTH2), true, false, &m) == 0 && m == SASL_PLAIN,
	   "XOAUTH2 without a token source: PLAIN");
	is_int(sasl_choose(1u << SASL_XOAUTH2, true, false, &m), -1, "nothing fits");
	is_int(sasl_choose(0, true, true, &m), -1, "nothing advertised");
	caps_clear(&caps);
	caps_add_line(&caps, "250-x", 5, true);
	caps_add_line(&caps, "250 AUTH=LOGIN", 14, false);
	is_int(sasl_advertised(&caps), 1u << SASL_LOGIN, "old AUTH=LOGIN form");
	caps_clear(&caps);

	/* the plaintext decision of typed AUTH and \auth */
	ok(sasl_plaintext_allowed(true, false, false), "TLS: allowed");
	ok(sasl_plaintext_allowed(false, true, false), "loopback: allowed");
	ok(sasl_plaintext_allowed(false, false, true), "--allow-plaintext-auth: allowed");
	ok(!sasl_plaintext_allowed(false, false, false), "plaintext to a network host: refused");
}

static void test_plain(void)
{
	struct sasl_client c;
	struct buf line;
	bool secret;
	const char *why;
	buf_init(&line);
	sasl_client_init(&c, SASL_PLAIN, "tim", "tanstaaftanstaaf");
	is_int(sasl_client_start(&c, &line, &secret, &why), 0, "PLAIN start");
	is_str(line.data, "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm", "PLAIN initial response");
	ok(secret, "PLAIN line is secret");
	struct buf r;
	buf_init(&r);
	is_int(sasl_client_step(&c, "334 ", 4, &r, &secret, &why), SASL_STEP_CANCEL,
	       "PLAIN: a challenge after the response cancels");
	ok(why != NULL, "with a reason");
	buf_free_secret(&line);
	buf_free(&r);
}

static void test_login(void)
{
	struct sasl_client c;
	struct buf line, r;
	bool secret;
	const char *why;
	buf_init(&line);
	buf_init(&r);
	sasl_client_init(&c, SASL_LOGIN, "alice@example.test", "Lab-pass-4711");
	is_int(sasl_client_start(&c, &line, &secret, &why), 0, "LOGIN start");
	is_str(line.data, "AUTH LOGIN", "AUTH LOGIN");
	ok(!secret, "AUTH LOGIN is no secret");
	is_int(sasl_client_step(&c, "334 VXNlcm5hbWU6", 16, &r, &secret, &why), SASL_STEP_SEND,
	       "user step");
	is_str(r.data, "YWxpY2VAZXhhbXBsZS50ZXN0", "user name in base64");
	ok(!secret, "the user name is no secret");
	buf_reset(&r);
	is_int(sasl_client_step(&c, "334 UGFzc3dvcmQ6", 16, &r, &secret, &why), SASL_STEP_SEND,
	       "password step");
	is_str(r.data, "TGFiLXBhc3MtNDcxMQ==", "password in base64");
	ok(secret, "the password is a secret");
	buf_reset(&r);
	is_int(sasl_client_step(&c, "334 ", 4, &r, &secret, &why), SASL_STEP_CANCEL,
	       "a third challenge cancels");
	/* aiosmtpd's prompts ("User Name\0") work the same: only the order counts */
	sasl_client_init(&c, SASL_LOGIN, "u", "p");
	buf_reset(&r);
	sasl_client_step(&c, "334 VXNlciBOYW1lAA==", 20, &r, &secret, &why);
	is_str(r.data, "dQ==", "aiosmtpd prompt: user");
	buf_free(&line);
	buf_free_secret(&r);
}

static void test_cram_md5(void)
{
	/* RFC 2195 section 2 */
	struct sasl_client c;
	struct buf line, r;
	bool secret;
	const char *why;
	buf_init(&line);
	buf_init(&r);
	sasl_client_init(&c, SASL_CRAM_MD5, "tim", "tanstaaftanstaaf");
	is_int(sasl_client_start(&c, &line, &secret, &why), 0, "CRAM-MD5 start");
	is_str(line.data, "AUTH CRAM-MD5", "AUTH CRAM-MD5");
	const char *ch = "334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+";
	is_int(sasl_client_step(&c, ch, strlen(ch), &r, &secret, &why), SASL_STEP_SEND,
	       "CRAM-MD5 response");
	is_str(r.data, "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw", "RFC 2195 example");
	ok(secret, "the response is kept secret");
	buf_reset(&r);
	is_int(sasl_client_step(&c, ch, strlen(ch), &r, &secret, &why), SASL_STEP_CANCEL,
	       "a second challenge cancels");

	static const char *const bad[] = {"334 ", "334 !!notbase64!!", "334 PDE4OTYu\x1b"};
	for (size_t i = 0; i < 3; i++) {
		sasl_client_init(&c, SASL_CRAM_MD5, "tim", "x");
		buf_reset(&r);
		is_int(sasl_client_step(&c, bad[i], strlen(bad[i]), &r, &secret, &why),
		       SASL_STEP_CANCEL, "bad CRAM-MD5 challenge %zu cancels", i);
		ok(why && r.len == 0, "bad challenge %zu: a reason, no response (%s)", i,
		   why ? why : "");
	}
	buf_free(&line);
	buf_free_secret(&r);
}

static void test_xoauth2(void)
{
	struct sasl_client c;
	struct buf line, r;
	bool secret;
	const char *why;
	buf_init(&line);
	buf_init(&r);
	/* Google's example (developers.google.com/gmail/imap/xoauth2-protocol) */
	sasl_client_init(&c, SASL_XOAUTH2, "someuser@example.com",
			 "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg");
	is_int(sasl_client_start(&c, &line, &secret, &why), 0, "XOAUTH2 start");
	is_str(line.data,
	       "AUTH XOAUTH2 dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRj"
	       "Mk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==",
	       "XOAUTH2 initial response");
	ok(secret, "the token is a secret");
	const char *err = "334 eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIiwic2NvcGUiOiJodHRwczovL21h"
			  "aWwuZ29vZ2xlLmNvbS8ifQ==";
	is_int(sasl_client_step(&c, err, strlen(err), &r, &secret, &why), SASL_STEP_SEND,
	       "error challenge: answered");
	is_int(r.len, 0, "with an empty line");
	ok(r.data != NULL, "a string");
	ok(c.token_error, "token_error set");
	is_int(sasl_client_step(&c, err, strlen(err), &r, &secret, &why), SASL_STEP_CANCEL,
	       "a second challenge cancels");
	buf_reset(&line);
	sasl_client_init(&c, SASL_XOAUTH2, "a\001b", "t");
	is_int(sasl_client_start(&c, &line, &secret, &why), -1, "0x01 in the user refused");
	ok(why != NULL, "with a reason");
	buf_free_secret(&line);
	buf_free(&r);
}

/* The builders that the client's steps, the replay (authview.c) and the practice server share. */
/* RFC 4422 appendix A: the authorization identity, "=" when empty; no secret, never chosen. */
static void test_external(void)
{
	struct sasl_client c;
	struct buf line, r;
	bool secret = true;
	const char *why;
	enum sasl_mech m;
	ok(sasl_mech_parse("external", &m) == 0 && m == SASL_EXTERNAL, "EXTERNAL parsed");
	ok(!sasl_mech_needs_secret(SASL_EXTERNAL) && sasl_mech_needs_secret(SASL_PLAIN),
	   "EXTERNAL needs no secret");
	buf_init(&line);
	sasl_client_init(&c, SASL_EXTERNAL, NULL, NULL);
	is_int(sasl_client_start(&c, &line, &secret, &why), 0, "EXTERNAL start");
	is_str(line.data, "AUTH EXTERNAL =", "no authorization identity: the empty response");
	ok(!secret, "EXTERNAL holds no secret");
	buf_init(&r);
	is_int(sasl_client_step(&c, "", 0, &r, &secret, &why), SASL_STEP_CANCEL,
	       "a challenge after it cancels");
	buf_free(&r);
	buf_free(&line);
	buf_init(&line);
	sasl_client_init(&c, SASL_EXTERNAL, "student", NULL);
	sasl_client_start(&c, &line, &secret, &why);
	is_str(line.data, "AUTH EXTERNAL c3R1ZGVudA==", "the base64 authorization identity");
	buf_free(&line);
	unsigned all = (1u << SASL_MECH_COUNT) - 1;
	ok(sasl_choose(1u << SASL_EXTERNAL, true, true, &m) < 0, "EXTERNAL alone is never chosen");
	ok(sasl_choose(all, true, false, &m) == 0 && m == SASL_PLAIN,
	   "with everything offered, PLAIN under verified TLS");
}

static void test_responses(void)
{
	struct buf b;
	const char *why = NULL;
	buf_init(&b);
	buf_puts(&b, "AUTH PLAIN ");
	is_int(sasl_plain_response("tim", "tanstaaftanstaaf", &b), 0, "plain response");
	is_str(b.data, "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm", "plain response appends");
	buf_reset(&b);
	is_int(sasl_login_response("alice@example.test", &b), 0, "login response");
	is_str(b.data, "YWxpY2VAZXhhbXBsZS50ZXN0", "login response: the text in base64");
	buf_reset(&b);
	is_int(sasl_xoauth2_response("tim", "tanstaaftanstaaf", &b, &why), 0, "xoauth2 response");
	is_str(b.data, "dXNlcj10aW0BYXV0aD1CZWFyZXIgdGFuc3RhYWZ0YW5zdGFhZgEB",
	       "xoauth2: user=tim ^A auth=Bearer token ^A ^A");
	buf_reset(&b);
	buf_puts(&b, "keep");
	why = NULL;
	is_int(sasl_xoauth2_response("tim\001auth=Bearer x", "t", &b, &why), -1,
	       "xoauth2: 0x01 in the user refused");
	ok(why && strstr(why, "0x01"), "with the reason (%s)", why ? why : "");
	why = NULL;
	is_int(sasl_xoauth2_response("tim", "tok\001\001", &b, &why), -1,
	       "xoauth2: 0x01 in the token refused");
	ok(why && strstr(why, "0x01"), "with the reason");
	is_str(b.data, "keep", "nothing appended when refused");
	buf_free_secret(&b);

	struct sasl_plain_fields f;
	is_int(sasl_plain_split("admin\0tim\0pw", 12, &f), 0,
	       "split authzid NUL authcid NUL passwd");
	is_mem(f.authzid, f.authzid_len, "admin", 5, "authzid");
	is_mem(f.authcid, f.authcid_len, "tim", 3, "authcid");
	is_mem(f.passwd, f.passwd_len, "pw", 2, "passwd");
	is_int(sasl_plain_split("\0tim\0", 5, &f), 0, "empty authzid and password");
	ok(f.authzid_len == 0 && f.passwd_len == 0, "both empty");
	is_mem(f.authcid, f.authcid_len, "tim", 3, "authcid between them");
	is_int(sasl_plain_split("\0a\0b\0c", 6, &f), 0,
	       "a NUL in the password: split at the first two");
	is_mem(f.passwd, f.passwd_len, "b\0c", 3, "the rest is the password");
	is_int(sasl_plain_split("tim\0pw", 6, &f), -1, "one NUL: refused");
	is_int(sasl_plain_split("", 0, &f), -1, "empty: refused");
}

int main(void)
{
	test_b64_vectors();
	test_b64_binary();
	test_b64_appends();
	test_b64_invalid();
	test_challenge();
	test_mechs();
	test_plain();
	test_login();
	test_cram_md5();
	test_xoauth2();
	test_external();
	test_responses();
	return done_testing();
}
