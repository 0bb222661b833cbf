/*
 * SASL for SMTP AUTH (RFC 4954), client side, pure: base64 (OpenSSL's), the decoding of 334
 * challenges, and the steps of PLAIN (RFC 4616), LOGIN, CRAM-MD5 (RFC 2195) and XOAUTH2
 * (Google/Microsoft bearer tokens). No I/O: the caller sends the lines and reads the replies.
 *
 * Buffers that get a secret (a response holding a password or a token) are filled with one
 * allocation of the exact size, so no stale copy is left behind by a realloc; the caller wipes
 * them with buf_free_secret().
 */
#ifndef SMTPSH_SASL_H
#define SMTPSH_SASL_H

#include <stdbool.h>
#include <stddef.h>

#include "smtpsh/buf.h"
#include "smtpsh/caps.h"

/* Decoded octets of one challenge we accept; longer ones are refused (a hostile server). */
#define SASL_CHALLENGE_MAX 12288

/* ---- base64 ---------------------------------------------------------------------------- */

/* Appends the base64 form of in[0..len) (RFC 4648, padded, no line breaks) to out.
   Returns 0, or -1 when memory ran out (or len is absurdly large). */
int sasl_b64_encode(const void *in, size_t len, struct buf *out);

enum sasl_decode {
	SASL_DECODE_OK = 0,
	SASL_DECODE_BAD,      /* not base64: a byte outside the alphabet, '=' in the middle... */
	SASL_DECODE_TOO_LONG, /* more than max decoded octets */
	SASL_DECODE_NOMEM,
};

/*
 * Appends the octets that in[0..len) encodes to out (NUL-terminated after them; they may
 * hold NULs themselves). Strict: only A-Z a-z 0-9 + /, then at most two '=' at the end; a
 * missing padding is tolerated, nothing else (no blanks, no line breaks). An empty input
 * decodes to nothing. Inputs that would decode to more than max octets are refused before
 * anything is allocated.
 */
enum sasl_decode sasl_b64_decode(const char *in, size_t len, size_t max, struct buf *out);

/*
 * Decodes a challenge: text/len is the line of a 334 reply as received ("334 VXNlcm5hbWU6";
 * "334" or "334 " alone is an empty challenge). Refuses what is not a single 334 line,
 * invalid base64 and challenges over SASL_CHALLENGE_MAX octets. The decoded octets are raw:
 * escape them before showing them.
 */
enum sasl_decode sasl_challenge_decode(const char *text, size_t len, struct buf *out);

const char *sasl_decode_str(enum sasl_decode r);

/* ---- mechanisms ------------------------------------------------------------------------ */

enum sasl_mech {
	SASL_PLAIN,
	SASL_LOGIN,
	SASL_CRAM_MD5,
	SASL_XOAUTH2,
	SASL_EXTERNAL, /* RFC 4422 appendix A: the TLS client certificate logs in; never chosen
			  by sasl_choose, only named */
	SASL_MECH_COUNT,
};

/* "PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2", "EXTERNAL". */
const char *sasl_mech_name(enum sasl_mech m);
/* The mechanism named name (case-insensitive); -1 for one we do not support. */
int sasl_mech_parse(const char *name, enum sasl_mech *out);
/* Does the mechanism take a bearer token (XOAUTH2) rather than a password? */
bool sasl_mech_takes_token(enum sasl_mech m);
/* Does it need a user and a secret at all? Not EXTERNAL: the credentials are the client
   certificate of the TLS layer (user is then the optional authorization identity). */
bool sasl_mech_needs_secret(enum sasl_mech m);

/* The supported mechanisms the EHLO reply lists after AUTH: a bit (1u << mech) for each. */
unsigned sasl_advertised(const struct smtp_caps *caps);

/*
 * The mechanism \auth uses when none is named: among those advertised (a mask from
 * sasl_advertised), XOAUTH2 when a token source was given; else, when a verified TLS channel
 * protects the password, PLAIN > LOGIN > CRAM-MD5 (PLAIN is the standard one; CRAM-MD5 is
 * obsolete and needs the server to keep plaintext-equivalent passwords); without verified TLS
 * (an unverified certificate, or plaintext on loopback), CRAM-MD5 > PLAIN > LOGIN, because
 * CRAM-MD5 never sends the password itself. Returns 0, or -1 when nothing fits.
 */
int sasl_choose(unsigned advertised, bool tls_verified, bool have_token, enum sasl_mech *out);

/*
 * May AUTH be sent now? Not in plaintext to a peer that is not loopback, unless the user
 * allowed it (--allow-plaintext-auth): the password would cross the network readable by all.
 */
bool sasl_plaintext_allowed(bool tls, bool peer_loopback, bool allowed_by_user);

/*
 * The CRAM-MD5 response (RFC 2195) to a decoded challenge: base64 of user, a blank and the
 * lower-case hex HMAC-MD5 of the challenge keyed with secret, appended to out with one
 * allocation of the exact size (the intermediate buffers are wiped). Returns 0, or -1 when
 * memory ran out or OpenSSL has no MD5 (FIPS mode).
 */
int sasl_cram_md5_response(const char *user, const char *secret, const void *challenge, size_t len,
			   struct buf *out);

/* ---- responses: the one place that builds and splits them -------------------------------- */
/* Used by the client's steps below, by the replay (authview_respond), by the screen
   (authview_user) and by the practice server (smtpd_auth.c): one encoding of each mechanism. */

/*
 * PLAIN's response (RFC 4616): base64 of an empty authzid, NUL, user, NUL, secret, appended to
 * out with one allocation of the exact size (the plaintext is wiped). Returns 0, or -1 when
 * memory ran out.
 */
int sasl_plain_response(const char *user, const char *secret, struct buf *out);

/*
 * XOAUTH2's response: base64 of "user=" user ^A "auth=Bearer " token ^A ^A, appended to out
 * like sasl_plain_response. A user or token with a 0x01 byte would end its field early (the
 * server would read another user or token), so it is refused: -1 with *why set, nothing
 * appended; -1 with *why "out of memory" when memory ran out.
 */
int sasl_xoauth2_response(const char *user, const char *token, struct buf *out, const char **why);

/* LOGIN's answer to one prompt: base64 of text (the user name or the password), appended to
   out like sasl_plain_response. Returns 0, or -1 when memory ran out. */
int sasl_login_response(const char *text, struct buf *out);

/* The three fields of a decoded PLAIN response, pointing into it (not NUL-terminated). */
struct sasl_plain_fields {
	const char *authzid, *authcid, *passwd;
	size_t authzid_len, authcid_len, passwd_len;
};

/*
 * Splits a decoded PLAIN response p[0..n) at its first two NULs: authzid NUL authcid NUL
 * passwd (RFC 4616 section 2). Returns 0, or -1 when it has fewer than two NULs. A passwd
 * holding a NUL itself is left to the caller (a server refuses it; the screen does not care).
 */
int sasl_plain_split(const char *p, size_t n, struct sasl_plain_fields *out);

/* ---- the client's steps ------------------------------------------------------------------ */

/* One exchange. user and secret (password or token) are borrowed, never copied. */
struct sasl_client {
	enum sasl_mech mech;
	const char *user;
	const char *secret;
	int step;	  /* 334 challenges answered so far */
	bool token_error; /* XOAUTH2: the server answered the token with an error challenge */
};

void sasl_client_init(struct sasl_client *c, enum sasl_mech mech, const char *user,
		      const char *secret);

/*
 * The AUTH command to send ("AUTH PLAIN <initial response>", "AUTH LOGIN"...), appended to
 * line. *secret tells whether the line holds a secret (show "AUTH MECH <redacted>").
 * Returns 0, -1 when memory ran out or the user/secret cannot be encoded (a user or token
 * with a 0x01 byte for XOAUTH2); then why says what.
 */
int sasl_client_start(struct sasl_client *c, struct buf *line, bool *secret, const char **why);

enum sasl_step {
	SASL_STEP_SEND,	  /* send resp (it may be empty: a line with only CRLF) */
	SASL_STEP_CANCEL, /* send "*" to cancel the exchange (RFC 4954); why says what went wrong */
	SASL_STEP_NOMEM,
};

/*
 * The answer to a 334 reply: text/len is its line as received. PLAIN and XOAUTH2 have sent
 * everything in the initial response; LOGIN answers the user name then the password;
 * CRAM-MD5 answers "user HMAC-MD5-hex" (RFC 2195). An XOAUTH2 334 carries the server's error
 * (JSON): the answer is an empty line, after which the server sends its final 5xx; token_error
 * is then set. *secret tells whether resp holds a secret.
 */
enum sasl_step sasl_client_step(struct sasl_client *c, const char *text, size_t len,
				struct buf *resp, bool *secret, const char **why);

#endif
