/*
 * The server side of AUTH (RFC 4954) for the practice server: PLAIN (RFC 4616), LOGIN
 * (draft-murchison-sasl-login) and CRAM-MD5 (RFC 2195), against one demo account. Base64 and
 * the CRAM-MD5 digest are sasl.c's (the client's own, OpenSSL underneath), the challenge's
 * randomness OpenSSL's; every buffer that held a secret is wiped. Notes say why a login failed (for
 * the teacher's screen), never what was typed.
 */
#include "smtpd_int.h"

#include "smtpsh/sasl.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

enum mech {
	MECH_NONE,
	MECH_PLAIN,
	MECH_LOGIN,
	MECH_CRAM_MD5,
};

static const char *const mech_names[] = {"", "PLAIN", "LOGIN", "CRAM-MD5"};

/* A response in base64 ("=" alone is the empty response, RFC 4954 4); sasl.c decodes. */
static int b64_decode(const char *in, struct buf *out)
{
	buf_reset(out);
	if (strcmp(in, "=") == 0)
		return buf_reserve(out, 1);
	return sasl_b64_decode(in, strlen(in), SMTPD_AUTH_MAX, out) == SASL_DECODE_OK ? 0 : -1;
}

/* Constant-time comparison of a received secret with the expected one. */
static bool same_secret(const char *got, size_t len, const char *want)
{
	size_t wlen = strlen(want);
	return len == wlen && CRYPTO_memcmp(got, want, len) == 0;
}

void smtpd_auth_reset(struct smtpd_conn *c)
{
	if (c->auth_user) {
		OPENSSL_cleanse(c->auth_user, strlen(c->auth_user));
		free(c->auth_user);
		c->auth_user = NULL;
	}
	OPENSSL_cleanse(c->challenge, sizeof c->challenge);
	c->auth_mech = MECH_NONE;
	c->auth_step = 0;
}

static void succeed(struct smtpd_conn *c)
{
	smtpd_note(c, "%s login as %s succeeded", mech_names[c->auth_mech], c->cfg->user);
	smtpd_auth_reset(c);
	c->authenticated = true;
	smtpd_set_state(c, SMTPD_S_COMMAND);
	smtpd_say(c, "235 2.7.0 Authentication successful");
}

static void fail(struct smtpd_conn *c, const char *why)
{
	smtpd_note(c, "%s login failed: %s", mech_names[c->auth_mech], why);
	smtpd_auth_reset(c);
	smtpd_set_state(c, SMTPD_S_COMMAND);
	smtpd_say(c, "535 5.7.8 Authentication credentials invalid");
}

/* The identity and password of a login; sets why when it fails. */
static bool check_login(struct smtpd_conn *c, const char *user, size_t ulen, const char *pass,
			size_t plen, const char **why)
{
	bool user_ok = same_secret(user, ulen, c->cfg->user);
	bool pass_ok = same_secret(pass, plen, c->cfg->password);
	*why = !user_ok ? "unknown user name" : !pass_ok ? "wrong password" : NULL;
	return user_ok && pass_ok;
}

/* PLAIN: authzid NUL authcid NUL password (RFC 4616 2), split as the client builds it. */
static void plain_response(struct smtpd_conn *c, const struct buf *d)
{
	struct sasl_plain_fields f;
	if (sasl_plain_split(d->data, d->len, &f) < 0 || memchr(f.passwd, '\0', f.passwd_len)) {
		fail(c, "the PLAIN response is not authzid NUL user NUL password");
		return;
	}
	const char *why;
	if (f.authzid_len &&
	    (f.authzid_len != f.authcid_len || memcmp(f.authzid, f.authcid, f.authcid_len) != 0)) {
		fail(c, "the authorization identity differs from the user name");
		return;
	}
	if (check_login(c, f.authcid, f.authcid_len, f.passwd, f.passwd_len, &why))
		succeed(c);
	else
		fail(c, why);
}

static void login_response(struct smtpd_conn *c, const struct buf *d)
{
	if (c->auth_step == 0) {
		c->auth_user = strndup(d->data, d->len);
		if (!c->auth_user) {
			fail(c, "out of memory");
			return;
		}
		c->auth_step = 1;
		smtpd_set_state(c, SMTPD_S_AUTH); /* also after a user name on the AUTH line */
		smtpd_say(c, "334 UGFzc3dvcmQ6"); /* "Password:" */
		return;
	}
	const char *why;
	if (check_login(c, c->auth_user, strlen(c->auth_user), d->data, d->len, &why))
		succeed(c);
	else
		fail(c, why);
}

/* CRAM-MD5: "user SP hex(HMAC-MD5(password, challenge))" (RFC 2195). */
static void cram_response(struct smtpd_conn *c, const struct buf *d)
{
	const char *sp = d->len ? memrchr(d->data, ' ', d->len) : NULL;
	if (!sp || d->len - (size_t)(sp + 1 - d->data) != 32) {
		fail(c, "the CRAM-MD5 response is not 'user SP 32 hex digits'");
		return;
	}
	/* The expected answer, made as a client makes it (sasl.c): "user hex", base64. */
	struct buf want, plain;
	buf_init(&want);
	buf_init(&plain);
	if (sasl_cram_md5_response(c->cfg->user, c->cfg->password, c->challenge,
				   strlen(c->challenge), &want) < 0 ||
	    sasl_b64_decode(want.data, want.len, SMTPD_AUTH_MAX, &plain) != SASL_DECODE_OK ||
	    plain.len != strlen(c->cfg->user) + 33) {
		buf_free_secret(&want);
		buf_free_secret(&plain);
		fail(c, "HMAC-MD5 is not available");
		return;
	}
	char got[33];
	for (unsigned i = 0; i < 32; i++) /* RFC 2195 says lower case; accept both */
		got[i] = (char)tolower((unsigned char)sp[1 + i]);
	got[32] = '\0';
	size_t ulen = (size_t)(sp - d->data);
	const char *why = same_secret(d->data, ulen, c->cfg->user) ? NULL : "unknown user name";
	if (!why && CRYPTO_memcmp(got, plain.data + plain.len - 32, 32) != 0)
		why = "wrong password (the digest does not match)";
	buf_free_secret(&want);
	buf_free_secret(&plain);
	OPENSSL_cleanse(got, sizeof got);
	if (why)
		fail(c, why);
	else
		succeed(c);
}

static void dispatch(struct smtpd_conn *c, const struct buf *d)
{
	switch (c->auth_mech) {
	case MECH_PLAIN:
		plain_response(c, d);
		return;
	case MECH_LOGIN:
		login_response(c, d);
		return;
	case MECH_CRAM_MD5:
		cram_response(c, d);
		return;
	}
}

/* A base64 response (from the AUTH line or a continuation line). */
static void respond(struct smtpd_conn *c, const char *b64)
{
	struct buf d;
	buf_init(&d);
	if (b64_decode(b64, &d) < 0) {
		smtpd_note(c, "%s: the response is not valid base64", mech_names[c->auth_mech]);
		smtpd_auth_reset(c);
		smtpd_set_state(c, SMTPD_S_COMMAND);
		smtpd_say(c, "501 5.5.2 Cannot decode response (not base64)");
	} else {
		dispatch(c, &d);
	}
	buf_free_secret(&d);
}

void smtpd_auth_command(struct smtpd_conn *c, char *args)
{
	if (!smtpd_auth_offered(c)) {
		smtpd_say(c, "538 5.7.11 Encryption required for requested authentication "
			     "mechanism (STARTTLS first)");
		return;
	}
	if (!c->helo) {
		smtpd_say(c, "503 5.5.1 Error: send HELO/EHLO first");
		return;
	}
	if (c->authenticated) {
		smtpd_say(c, "503 5.5.1 Error: already authenticated");
		return;
	}
	if (c->mail) {
		smtpd_say(c, "503 5.5.1 Error: MAIL transaction in progress");
		return;
	}
	char *resp = args + strcspn(args, " ");
	if (*resp) {
		*resp++ = '\0';
		resp += strspn(resp, " ");
	}
	if (!*args || strchr(resp, ' ')) {
		smtpd_say(c, "501 5.5.4 Syntax: AUTH mechanism [initial-response]");
		return;
	}
	enum mech m = MECH_NONE;
	for (int i = MECH_PLAIN; i <= MECH_CRAM_MD5; i++)
		if (strcasecmp(args, mech_names[i]) == 0)
			m = (enum mech)i;
	if (m == MECH_NONE) {
		smtpd_say(c,
			  "504 5.5.4 Unrecognized authentication type (PLAIN, LOGIN or CRAM-MD5)");
		return;
	}
	c->auth_mech = m;
	c->auth_step = 0;
	if (*resp) {
		if (m == MECH_CRAM_MD5) {
			smtpd_auth_reset(c);
			smtpd_say(c, "501 5.5.4 CRAM-MD5 takes no initial response");
			return;
		}
		respond(c, resp);
		return;
	}
	smtpd_set_state(c, SMTPD_S_AUTH);
	if (m == MECH_PLAIN) {
		smtpd_say(c, "334 ");
	} else if (m == MECH_LOGIN) {
		smtpd_say(c, "334 VXNlcm5hbWU6"); /* "Username:" */
	} else {
		unsigned char rnd[8];
		unsigned long long r = 0;
		if (RAND_bytes(rnd, sizeof rnd) == 1)
			memcpy(&r, rnd, sizeof r);
		snprintf(c->challenge, sizeof c->challenge, "<%llu.%ld@%s>", r % 10000000000ULL,
			 (long)time(NULL), c->cfg->hostname);
		struct buf enc;
		buf_init(&enc);
		if (sasl_b64_encode(c->challenge, strlen(c->challenge), &enc) < 0 || !enc.data) {
			smtpd_auth_reset(c);
			smtpd_set_state(c, SMTPD_S_COMMAND);
			smtpd_say(c, "454 4.7.0 Temporary authentication failure (out of memory)");
		} else {
			smtpd_say(c, "334 %s", enc.data);
		}
		buf_free(&enc);
	}
}

void smtpd_auth_response(struct smtpd_conn *c, char *line)
{
	if (strcmp(line, "*") == 0) {
		smtpd_note(c, "%s login cancelled by the client", mech_names[c->auth_mech]);
		smtpd_auth_reset(c);
		smtpd_set_state(c, SMTPD_S_COMMAND);
		smtpd_say(c, "501 5.7.0 Authentication aborted");
		return;
	}
	respond(c, line);
}
