/*
 * The server side of AUTH (RFC 4954) for the practice server: PLAIN (RFC 4616), LOGIN
 * (draft-murchison-sasl-login) and CRAM-MD5 (RFC 2195), against one demo account. Base64 and
 * the CRAM-MD5 digest are sasl.c's (the client's own, OpenSSL underneath), the challenge's
 * randomness OpenSSL's; every buffer that held a secret is wiped. Notes say why a login failed (for
 * the teacher's screen), never what was typed. Each step returns its outcome (reply, note,
 * what comes next) to smtpd.c, which sends it: see smtpd_int.h for why.
 */
#include "smtpd_int.h"

#include "smtpsh/oauthd.h"
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
	MECH_XOAUTH2,	  /* bearer tokens of the practice sign-in server (oauthd.h) */
	MECH_OAUTHBEARER, /* the same, RFC 7628 */
	MECH_COUNT,
};

static const char *const mech_names[] = {"",	     "PLAIN",	"LOGIN",      "CRAM-MD5",
					 "EXTERNAL", "XOAUTH2", "OAUTHBEARER"};

struct smtpd_auth {
	enum mech mech;
	int step;	     /* XOAUTH2, OAUTHBEARER: 1 after the 334 with the JSON error */
	char *user;	     /* LOGIN: the user name received (a secret) */
	char challenge[128]; /* CRAM-MD5 */
	const char *refused; /* XOAUTH2, OAUTHBEARER: why the token was refused (a fixed text) */
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

/* ---- XOAUTH2 and OAUTHBEARER: bearer tokens of the practice sign-in server -------------- */

/* The value of key in a ^A-separated list of key=value fields p[0..n) (XOAUTH2's and
   RFC 7628 3.1's kvpairs), as a pointer into p and its length. */
static bool kv_get(const char *p, size_t n, const char *key, const char **v, size_t *vl)
{
	size_t kl = strlen(key);
	const char *end = p + n;
	while (p < end) {
		const char *sep = memchr(p, '\x01', (size_t)(end - p));
		const char *fe = sep ? sep : end;
		if ((size_t)(fe - p) > kl && p[kl] == '=' && memcmp(p, key, kl) == 0) {
			*v = p + kl + 1;
			*vl = (size_t)(fe - *v);
			return true;
		}
		p = sep ? sep + 1 : end;
	}
	return false;
}

/* Why a token was refused, for the teacher's screen (never the token). */
static const char *verdict_text(enum oauthd_verdict v)
{
	switch (v) {
	case OAUTHD_TOKEN_OK:
		return "accepted";
	case OAUTHD_TOKEN_UNKNOWN:
		return "the sign-in server never issued this access token (or a refresh replaced "
		       "it)";
	case OAUTHD_TOKEN_EXPIRED:
		return "the access token has expired";
	case OAUTHD_TOKEN_REVOKED:
		return "the grant of this access token was revoked";
	case OAUTHD_TOKEN_SCOPE:
		return "the access token lacks the SMTP scope (" OAUTHD_SMTP_SCOPE ")";
	case OAUTHD_TOKEN_OTHER_USER:
		return "the access token was issued for another user";
	}
	return "?";
}

/*
 * The refusal as providers send it: a 334 whose text is base64 of a JSON object (RFC 7628
 * 3.2.2), after which the client answers once (an empty line for XOAUTH2, ^A for
 * OAUTHBEARER) and gets the final 535. XOAUTH2 uses Google's form ("status":"401" for a token
 * that expired or was revoked, "400" otherwise); OAUTHBEARER RFC 7628's status values
 * (invalid_token, insufficient_scope, RFC 6750 3.1).
 */
static void bearer_refuse(struct smtpd_auth *a, enum oauthd_verdict v,
			  struct smtpd_auth_outcome *out)
{
	bool token_dead =
	    v == OAUTHD_TOKEN_UNKNOWN || v == OAUTHD_TOKEN_EXPIRED || v == OAUTHD_TOKEN_REVOKED;
	const char *status = a->mech == MECH_XOAUTH2   ? (token_dead ? "401" : "400")
			     : v == OAUTHD_TOKEN_SCOPE ? "insufficient_scope"
						       : "invalid_token";
	char json[256];
	snprintf(json, sizeof json, "{\"status\":\"%s\",\"schemes\":\"bearer\",\"scope\":\"%s\"}",
		 status, OAUTHD_SMTP_SCOPE);
	struct buf enc;
	buf_init(&enc);
	a->refused = verdict_text(v);
	note(out, "%s: the token is refused (%s): 334 with the JSON error", mech_names[a->mech],
	     a->refused);
	if (sasl_b64_encode(json, strlen(json), &enc) < 0 || !enc.data) {
		reply(out, SMTPD_AUTH_DONE,
		      "454 4.7.0 Temporary authentication failure (out of memory)");
	} else {
		a->step = 1;
		reply(out, SMTPD_AUTH_MORE, "334 %s", enc.data);
	}
	buf_free(&enc);
}

/*
 * XOAUTH2: "user=" user ^A "auth=Bearer " token ^A ^A. OAUTHBEARER (RFC 7628 3.1): the GS2
 * header "n,a=user," (no channel binding: "p=" is refused, "y" accepted), then ^A-separated
 * host=, port= and auth= fields, ^A ^A. The token is checked by the sign-in server that
 * issued it: the user must be the account it was issued for.
 */
static void bearer_response(struct smtpd_auth *a, const struct smtpd_account *acct,
			    const struct buf *d, struct smtpd_auth_outcome *out)
{
	if (a->step == 1) { /* the answer to the JSON error: the exchange ends (RFC 7628 3.2.3) */
		fail(a, a->refused ? a->refused : "the token was refused", out);
		return;
	}
	const char *p = d->data ? d->data : "";
	size_t n = d->len;
	char user[128] = "";
	const char *v;
	size_t vl;
	if (n && memchr(p, '\0', n)) { /* a NUL would cut a name short: "student\0x" */
		fail(a, "the response holds a NUL", out);
		return;
	}
	if (a->mech == MECH_XOAUTH2) {
		if (!kv_get(p, n, "user", &v, &vl) || vl == 0 || vl >= sizeof user) {
			fail(a, "the XOAUTH2 response has no user= field", out);
			return;
		}
		memcpy(user, v, vl);
	} else {
		if (n < 3 || (p[0] != 'n' && p[0] != 'y') || p[1] != ',') {
			fail(a,
			     p[0] == 'p'
				 ? "OAUTHBEARER with channel binding (p=) is not offered"
				 : "the OAUTHBEARER response does not start with a GS2 header "
				   "(n,a=user,)",
			     out);
			return;
		}
		if (!sasl_oauthbearer_user(p, n, user, sizeof user))
			user[0] = '\0';
		const char *h;
		size_t hl;
		if (!kv_get(p, n, "host", &h, &hl) || !kv_get(p, n, "port", &v, &vl) || hl == 0 ||
		    vl == 0 || vl > 5 || strspn(v, "0123456789") < vl) {
			fail(a, "the OAUTHBEARER response lacks host= or port= (RFC 7628 3.1)",
			     out);
			return;
		}
	}
	if (!kv_get(p, n, "auth", &v, &vl) || vl < 8 || strncasecmp(v, "Bearer ", 7) != 0) {
		fail(a, "no auth=Bearer TOKEN field", out);
		return;
	}
	enum oauthd_verdict verdict =
	    acct->oauth->check(acct->oauth->arg, v + 7, vl - 7, user[0] ? user : NULL);
	if (verdict != OAUTHD_TOKEN_OK) {
		bearer_refuse(a, verdict, out);
		return;
	}
	note(out, "%s login as %s succeeded (a token of the practice sign-in server)",
	     mech_names[a->mech], user[0] ? user : acct->user);
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
		case MECH_XOAUTH2:
		case MECH_OAUTHBEARER:
			bearer_response(a, acct, &d, out);
			break;
		case MECH_COUNT:
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
	if (a->mech == MECH_PLAIN || a->mech == MECH_EXTERNAL || a->mech == MECH_XOAUTH2 ||
	    a->mech == MECH_OAUTHBEARER) {
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
	for (int i = MECH_PLAIN; i < MECH_COUNT; i++)
		if (strcasecmp(args, mech_names[i]) == 0)
			m = (enum mech)i;
	/* the token mechanisms exist only where a sign-in server issues the tokens */
	if ((m == MECH_XOAUTH2 || m == MECH_OAUTHBEARER) && !acct->oauth)
		m = MECH_NONE;
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
