/*
 * The server side of AUTH (RFC 4954) for the practice server: PLAIN (RFC 4616), LOGIN
 * (draft-murchison-sasl-login) and CRAM-MD5 (RFC 2195), against one demo account. Base64 and
 * the CRAM-MD5 digest are sasl.c's (the client's own, OpenSSL underneath), the challenge's
 * randomness OpenSSL's; every buffer that held a secret is wiped. Notes say why a login failed (for
 * the teacher's screen), never what was typed. Each step returns its outcome (reply, note,
 * what comes next) to smtpd.c, which sends it: see smtpd_int.h for why.
 */
#include "smtpd_int.h"

#include "smtpsh/sasl.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

enum mech {
	MECH_NONE,
	MECH_PLAIN,
	MECH_LOGIN,
	MECH_CRAM_MD5,
	MECH_EXTERNAL,
};

static const char *const mech_names[] = {"", "PLAIN", "LOGIN", "CRAM-MD5", "EXTERNAL"};

struct smtpd_auth {
	enum mech mech;
	int step;
	char *user;	     /* LOGIN: the user name received (a secret) */
	char challenge[128]; /* CRAM-MD5 */
};

/* A response in base64 ("=" alone is the empty response, RFC 4954 4); sasl.c decodes. The
   core bounds the line (SMTPD_AUTH_MAX), and base64 never decodes to more than its length. */
static int b64_decode(const char *in, struct buf *out)
{
	buf_reset(out);
	if (strcmp(in, "=") == 0)
		return buf_reserve(out, 1);
	size_t len = strlen(in);
	return sasl_b64_decode(in, len, len, out) == SASL_DECODE_OK ? 0 : -1;
}

/* Constant-time comparison of a received secret with the expected one. */
static bool same_secret(const char *got, size_t len, const char *want)
{
	size_t wlen = strlen(want);
	return len == wlen && CRYPTO_memcmp(got, want, len) == 0;
}

/* Forgets what the exchange learnt, wiping it (the struct itself stays). */
static void wipe(struct smtpd_auth *a)
{
	if (a->user) {
		OPENSSL_cleanse(a->user, strlen(a->user));
		free(a->user);
		a->user = NULL;
	}
	OPENSSL_cleanse(a->challenge, sizeof a->challenge);
	a->mech = MECH_NONE;
	a->step = 0;
}

static void reply(struct smtpd_auth_outcome *out, enum smtpd_auth_next next, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void reply(struct smtpd_auth_outcome *out, enum smtpd_auth_next next, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out->reply, sizeof out->reply, fmt, ap);
	va_end(ap);
	out->next = next;
}

static void note(struct smtpd_auth_outcome *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void note(struct smtpd_auth_outcome *out, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out->note, sizeof out->note, fmt, ap);
	va_end(ap);
}

static void succeed(struct smtpd_auth *a, const struct smtpd_account *acct,
		    struct smtpd_auth_outcome *out)
{
	note(out, "%s login as %s succeeded", mech_names[a->mech], acct->user);
	reply(out, SMTPD_AUTH_OK, "235 2.7.0 Authentication successful");
}

/* A login that failed. It is a practice server: the reply says why (a fixed reason, never
   what was typed), and the core may put a provider's words before it. */
static void fail_as(struct smtpd_auth *a, enum smtpd_auth_failure kind, const char *why,
		    struct smtpd_auth_outcome *out)
{
	note(out, "%s login failed: %s", mech_names[a->mech], why);
	out->failure = kind;
	snprintf(out->why, sizeof out->why, "%s", why);
	if (kind == SMTPD_AUTH_FAIL_APP_PASSWORD) /* Gmail's code (RFC 4954 6: 534) */
		reply(out, SMTPD_AUTH_DONE, "534 5.7.9 Application-specific password required (%s)",
		      why);
	else
		reply(out, SMTPD_AUTH_DONE, "535 5.7.8 Authentication credentials invalid (%s)",
		      why);
}

static void fail(struct smtpd_auth *a, const char *why, struct smtpd_auth_outcome *out)
{
	fail_as(a, SMTPD_AUTH_FAIL_CREDENTIALS, why, out);
}

/* The provider policies on a login whose user name and secret were right: basic-auth off
   refuses every password, app-password on the account password (not the app password). */
static enum smtpd_auth_failure policy(const struct smtpd_account *acct, bool app_password,
				      const char **why)
{
	if (!acct->basic_auth) {
		*why = "password logins are switched off on this server (basic-auth off)";
		return SMTPD_AUTH_FAIL_BASIC_AUTH;
	}
	if (acct->app_password_only && !app_password) {
		*why = "the account password was sent; this account logs in with its app password";
		return SMTPD_AUTH_FAIL_APP_PASSWORD;
	}
	return SMTPD_AUTH_FAIL_NONE;
}

/* The identity and password (the account's or the app password) of a login; sets why and
   returns the failure when it fails. */
static enum smtpd_auth_failure check_login(const struct smtpd_account *acct, const char *user,
					   size_t ulen, const char *pass, size_t plen,
					   const char **why)
{
	bool user_ok = same_secret(user, ulen, acct->user);
	bool app = acct->app_password && same_secret(pass, plen, acct->app_password);
	bool pass_ok = app || same_secret(pass, plen, acct->password);
	*why = !user_ok ? "unknown user name" : !pass_ok ? "wrong password" : NULL;
	if (*why)
		return SMTPD_AUTH_FAIL_CREDENTIALS;
	return policy(acct, app, why);
}

/* PLAIN: authzid NUL authcid NUL password (RFC 4616 2), split as the client builds it. */
static void plain_response(struct smtpd_auth *a, const struct smtpd_account *acct,
			   const struct buf *d, struct smtpd_auth_outcome *out)
{
	struct sasl_plain_fields f;
	if (sasl_plain_split(d->data, d->len, &f) < 0 || memchr(f.passwd, '\0', f.passwd_len)) {
		fail(a,
		     "the PLAIN response needs two NUL separators: authzid NUL user NUL password "
		     "(RFC 4616 2)",
		     out);
		return;
	}
	const char *why;
	if (f.authzid_len &&
	    (f.authzid_len != f.authcid_len || memcmp(f.authzid, f.authcid, f.authcid_len) != 0)) {
		fail(a, "the authorization identity differs from the user name", out);
		return;
	}
	enum smtpd_auth_failure kind =
	    check_login(acct, f.authcid, f.authcid_len, f.passwd, f.passwd_len, &why);
	if (kind == SMTPD_AUTH_FAIL_NONE)
		succeed(a, acct, out);
	else
		fail_as(a, kind, why, out);
}

static void login_response(struct smtpd_auth *a, const struct smtpd_account *acct,
			   const struct buf *d, struct smtpd_auth_outcome *out)
{
	if (a->step == 0) {
		a->user = strndup(d->data, d->len);
		if (!a->user) {
			fail(a, "out of memory", out);
			return;
		}
		a->step = 1;
		/* "auth" also after a user name on the AUTH line */
		reply(out, SMTPD_AUTH_MORE, "334 UGFzc3dvcmQ6"); /* "Password:" */
		return;
	}
	const char *why;
	enum smtpd_auth_failure kind =
	    check_login(acct, a->user, strlen(a->user), d->data, d->len, &why);
	if (kind == SMTPD_AUTH_FAIL_NONE)
		succeed(a, acct, out);
	else
		fail_as(a, kind, why, out);
}

/* CRAM-MD5: "user SP hex(HMAC-MD5(password, challenge))" (RFC 2195). */
static void cram_response(struct smtpd_auth *a, const struct smtpd_account *acct,
			  const struct buf *d, struct smtpd_auth_outcome *out)
{
	const char *sp = d->len ? memrchr(d->data, ' ', d->len) : NULL;
	if (!sp || d->len - (size_t)(sp + 1 - d->data) != 32) {
		fail(a, "the CRAM-MD5 response is not 'user SP 32 hex digits'", out);
		return;
	}
	/* The expected answer, made as a client makes it (sasl.c): "user hex", base64. */
	struct buf want, plain;
	buf_init(&want);
	buf_init(&plain);
	if (sasl_cram_md5_response(acct->user, acct->password, a->challenge, strlen(a->challenge),
				   &want) < 0 ||
	    sasl_b64_decode(want.data, want.len, want.len, &plain) != SASL_DECODE_OK ||
	    plain.len != strlen(acct->user) + 33) {
		buf_free_secret(&want);
		buf_free_secret(&plain);
		fail(a, "HMAC-MD5 is not available", out);
		return;
	}
	char got[33];
	for (unsigned i = 0; i < 32; i++) /* RFC 2195 says lower case; accept both */
		got[i] = (char)tolower((unsigned char)sp[1 + i]);
	got[32] = '\0';
	size_t ulen = (size_t)(sp - d->data);
	const char *why = same_secret(d->data, ulen, acct->user) ? NULL : "unknown user name";
	if (!why && CRYPTO_memcmp(got, plain.data + plain.len - 32, 32) != 0)
		why = "wrong password (the digest does not match)";
	buf_free_secret(&want);
	buf_free_secret(&plain);
	OPENSSL_cleanse(got, sizeof got);
	/* the digest is made with the account password: app-password on refuses it */
	enum smtpd_auth_failure kind =
	    why ? SMTPD_AUTH_FAIL_CREDENTIALS : policy(acct, false, &why);
	if (kind != SMTPD_AUTH_FAIL_NONE)
		fail_as(a, kind, why, out);
	else
		succeed(a, acct, out);
}

/*
 * EXTERNAL (RFC 4422 appendix A): the credentials are the client certificate the TLS layer
 * verified; the message is the authorization identity, empty to act as the certificate's own.
 */
static void external_response(struct smtpd_auth *a, const struct smtpd_account *acct,
			      const struct buf *d, struct smtpd_auth_outcome *out)
{
	const char *id = acct->cert_identity ? acct->cert_identity : "";
	if (!*id) {
		fail(a, "no client certificate from the practice CA was presented", out);
		return;
	}
	if (d->len && (d->len != strlen(id) || memcmp(d->data, id, d->len) != 0)) {
		fail(a, "the authorization identity differs from the certificate's", out);
		return;
	}
	note(out, "EXTERNAL login as %s (the client certificate) succeeded", id);
	reply(out, SMTPD_AUTH_OK, "235 2.7.0 Authentication successful");
}

/* A base64 response (from the AUTH line or a continuation line). */
static void respond(struct smtpd_auth *a, const struct smtpd_account *acct, const char *b64,
		    struct smtpd_auth_outcome *out)
{
	struct buf d;
	buf_init(&d);
	if (b64_decode(b64, &d) < 0) {
		note(out, "%s: the response is not valid base64", mech_names[a->mech]);
		out->failure = SMTPD_AUTH_FAIL_SYNTAX;
		snprintf(out->why, sizeof out->why, "the response is not valid base64");
		reply(out, SMTPD_AUTH_DONE, "501 5.5.2 Cannot decode response (not base64)");
	} else {
		switch (a->mech) {
		case MECH_PLAIN:
			plain_response(a, acct, &d, out);
			break;
		case MECH_LOGIN:
			login_response(a, acct, &d, out);
			break;
		case MECH_CRAM_MD5:
			cram_response(a, acct, &d, out);
			break;
		case MECH_EXTERNAL:
			external_response(a, acct, &d, out);
			break;
		case MECH_NONE: /* not reached: an exchange has its mechanism from the start */
			fail(a, "no mechanism", out);
			break;
		}
	}
	buf_free_secret(&d);
}

/* The exchange after the mechanism was chosen: an initial response, or the first 334. */
static void begin(struct smtpd_auth *a, const struct smtpd_account *acct, const char *resp,
		  struct smtpd_auth_outcome *out)
{
	if (*resp) {
		if (a->mech == MECH_CRAM_MD5) {
			reply(out, SMTPD_AUTH_DONE, "501 5.5.4 CRAM-MD5 takes no initial response");
			return;
		}
		respond(a, acct, resp, out);
		return;
	}
	if (a->mech == MECH_PLAIN || a->mech == MECH_EXTERNAL) {
		reply(out, SMTPD_AUTH_MORE, "334 ");
	} else if (a->mech == MECH_LOGIN) {
		reply(out, SMTPD_AUTH_MORE, "334 VXNlcm5hbWU6"); /* "Username:" */
	} else {
		unsigned char rnd[8];
		unsigned long long r = 0;
		if (RAND_bytes(rnd, sizeof rnd) == 1)
			memcpy(&r, rnd, sizeof r);
		snprintf(a->challenge, sizeof a->challenge, "<%llu.%ld@%s>", r % 10000000000ULL,
			 (long)time(NULL), acct->hostname);
		struct buf enc;
		buf_init(&enc);
		if (sasl_b64_encode(a->challenge, strlen(a->challenge), &enc) < 0 || !enc.data)
			reply(out, SMTPD_AUTH_DONE,
			      "454 4.7.0 Temporary authentication failure (out of memory)");
		else
			reply(out, SMTPD_AUTH_MORE, "334 %s", enc.data);
		buf_free(&enc);
	}
}

void smtpd_auth_start(struct smtpd_auth **ap, const struct smtpd_account *acct, char *args,
		      struct smtpd_auth_outcome *out)
{
	out->note[0] = out->why[0] = '\0';
	out->failure = SMTPD_AUTH_FAIL_NONE;
	smtpd_auth_end(ap);
	char *resp = args + strcspn(args, " ");
	if (*resp) {
		*resp++ = '\0';
		resp += strspn(resp, " ");
	}
	if (!*args || strchr(resp, ' ')) {
		reply(out, SMTPD_AUTH_DONE, "501 5.5.4 Syntax: AUTH mechanism [initial-response]");
		return;
	}
	enum mech m = MECH_NONE;
	for (int i = MECH_PLAIN; i <= MECH_EXTERNAL; i++)
		if (strcasecmp(args, mech_names[i]) == 0)
			m = (enum mech)i;
	/* EXTERNAL exists only for a client with a certificate of the practice CA (offered in
	   EHLO just then) */
	if (m == MECH_NONE ||
	    (m == MECH_EXTERNAL && !(acct->cert_identity && *acct->cert_identity))) {
		reply(out, SMTPD_AUTH_DONE,
		      "504 5.5.4 Unrecognized authentication type (PLAIN, LOGIN or CRAM-MD5%s)",
		      m == MECH_EXTERNAL ? "; EXTERNAL needs a client certificate from the "
					   "practice CA"
					 : "");
		return;
	}
	*ap = calloc(1, sizeof **ap);
	if (!*ap) {
		reply(out, SMTPD_AUTH_DONE,
		      "454 4.7.0 Temporary authentication failure (out of memory)");
		return;
	}
	(*ap)->mech = m;
	begin(*ap, acct, resp, out);
	if (out->next != SMTPD_AUTH_MORE)
		smtpd_auth_end(ap);
}

void smtpd_auth_continue(struct smtpd_auth **ap, const struct smtpd_account *acct, const char *line,
			 struct smtpd_auth_outcome *out)
{
	out->note[0] = out->why[0] = '\0';
	out->failure = SMTPD_AUTH_FAIL_NONE;
	struct smtpd_auth *a = *ap;
	if (!a) { /* the core only calls this inside an exchange */
		reply(out, SMTPD_AUTH_DONE, "503 5.5.1 Error: no authentication in progress");
		return;
	}
	if (strcmp(line, "*") == 0) {
		note(out, "%s login cancelled by the client", mech_names[a->mech]);
		reply(out, SMTPD_AUTH_DONE, "501 5.7.0 Authentication aborted");
	} else {
		respond(a, acct, line, out);
	}
	if (out->next != SMTPD_AUTH_MORE)
		smtpd_auth_end(ap);
}

void smtpd_auth_end(struct smtpd_auth **ap)
{
	if (!*ap)
		return;
	wipe(*ap);
	free(*ap);
	*ap = NULL;
}
