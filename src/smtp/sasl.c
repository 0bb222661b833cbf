#include "smtpsh/sasl.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

static const char *const mech_names[SASL_MECH_COUNT] = {
    [SASL_PLAIN] = "PLAIN",	[SASL_LOGIN] = "LOGIN",	      [SASL_CRAM_MD5] = "CRAM-MD5",
    [SASL_XOAUTH2] = "XOAUTH2", [SASL_EXTERNAL] = "EXTERNAL",
};

/* ---- base64 ---------------------------------------------------------------------------- */

static size_t b64_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

int sasl_b64_encode(const void *in, size_t len, struct buf *out)
{
	if (len > (size_t)INT_MAX / 4 * 3 - 3)
		return -1;
	size_t n = b64_len(len);
	if (buf_reserve(out, n) < 0)
		return -1;
	/* EVP_EncodeBlock writes the NUL after the n characters: buf_reserve kept room for it. */
	int w = EVP_EncodeBlock((unsigned char *)out->data + out->len, in, (int)len);
	if (w < 0 || (size_t)w != n)
		return -1;
	out->len += n;
	out->data[out->len] = '\0';
	return 0;
}

static bool b64_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

enum sasl_decode sasl_b64_decode(const char *in, size_t len, size_t max, struct buf *out)
{
	size_t pad = 0;
	while (pad < 2 && len > 0 && in[len - 1] == '=') {
		len--;
		pad++;
	}
	for (size_t i = 0; i < len; i++)
		if (!b64_char((unsigned char)in[i]))
			return SASL_DECODE_BAD;
	size_t rem = len % 4;
	if (rem == 1 || (pad && (len + pad) % 4 != 0))
		return SASL_DECODE_BAD;
	size_t n = len / 4 * 3 + (rem ? rem - 1 : 0);
	if (n > max)
		return SASL_DECODE_TOO_LONG;
	if (len - rem > (size_t)INT_MAX - 4)
		return SASL_DECODE_TOO_LONG;
	/* EVP_DecodeBlock counts padding as zero octets: keep '=' away from it, decode the last
	   incomplete quantum apart and take only its real octets. */
	if (buf_reserve(out, n + 3) < 0)
		return SASL_DECODE_NOMEM;
	unsigned char *dst = (unsigned char *)out->data + out->len;
	size_t full = len - rem;
	if (full) {
		int w = EVP_DecodeBlock(dst, (const unsigned char *)in, (int)full);
		if (w < 0 || (size_t)w != full / 4 * 3)
			return SASL_DECODE_BAD;
	}
	if (rem) {
		unsigned char quad[4] = {'=', '=', '=', '='}, tail[4];
		memcpy(quad, in + full, rem);
		if (EVP_DecodeBlock(tail, quad, 4) != 3)
			return SASL_DECODE_BAD;
		memcpy(dst + full / 4 * 3, tail, rem - 1);
		OPENSSL_cleanse(tail, sizeof tail);
	}
	out->len += n;
	out->data[out->len] = '\0';
	return SASL_DECODE_OK;
}

enum sasl_decode sasl_challenge_decode(const char *text, size_t len, struct buf *out)
{
	if (len < 3 || memcmp(text, "334", 3) != 0 || memchr(text, '\n', len) ||
	    memchr(text, '\r', len) || memchr(text, '\0', len))
		return SASL_DECODE_BAD;
	const char *p = text + 3;
	size_t n = len - 3;
	if (n && *p != ' ')
		return SASL_DECODE_BAD; /* "334-": a multi-line reply is no challenge */
	while (n && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (n == 1 && *p == '=')
		n = 0; /* "=" stands for an empty string (RFC 4954 section 4) */
	if (n > b64_len(SASL_CHALLENGE_MAX))
		return SASL_DECODE_TOO_LONG;
	if (!n) {
		if (buf_reserve(out, 0) < 0)
			return SASL_DECODE_NOMEM;
		return SASL_DECODE_OK;
	}
	return sasl_b64_decode(p, n, SASL_CHALLENGE_MAX, out);
}

const char *sasl_decode_str(enum sasl_decode r)
{
	switch (r) {
	case SASL_DECODE_OK:
		return "ok";
	case SASL_DECODE_BAD:
		return "not valid base64";
	case SASL_DECODE_TOO_LONG:
		return "too long";
	case SASL_DECODE_NOMEM:
		return "out of memory";
	}
	return "?";
}

/* ---- mechanisms ------------------------------------------------------------------------ */

const char *sasl_mech_name(enum sasl_mech m)
{
	return m < SASL_MECH_COUNT ? mech_names[m] : "?";
}

int sasl_mech_parse(const char *name, enum sasl_mech *out)
{
	for (int i = 0; i < SASL_MECH_COUNT; i++)
		if (strcasecmp(name, mech_names[i]) == 0) {
			*out = (enum sasl_mech)i;
			return 0;
		}
	return -1;
}

bool sasl_mech_takes_token(enum sasl_mech m)
{
	return m == SASL_XOAUTH2;
}

bool sasl_mech_needs_secret(enum sasl_mech m)
{
	return m != SASL_EXTERNAL;
}

unsigned sasl_advertised(const struct smtp_caps *caps)
{
	unsigned mask = 0;
	for (int i = 0; i < SASL_MECH_COUNT; i++)
		if (caps_has_param(caps, "AUTH", mech_names[i]))
			mask |= 1u << i;
	return mask;
}

int sasl_choose(unsigned advertised, bool tls_verified, bool have_token, enum sasl_mech *out)
{
	static const enum sasl_mech protected[] = {SASL_PLAIN, SASL_LOGIN, SASL_CRAM_MD5};
	static const enum sasl_mech exposed[] = {SASL_CRAM_MD5, SASL_PLAIN, SASL_LOGIN};
	if (have_token && (advertised & (1u << SASL_XOAUTH2))) {
		*out = SASL_XOAUTH2;
		return 0;
	}
	const enum sasl_mech *order = tls_verified ? protected : exposed;
	for (size_t i = 0; i < 3; i++)
		if (advertised & (1u << order[i])) {
			*out = order[i];
			return 0;
		}
	return -1;
}

bool sasl_plaintext_allowed(bool tls, bool peer_loopback, bool allowed_by_user)
{
	return tls || peer_loopback || allowed_by_user;
}

/* ---- the client's steps ------------------------------------------------------------------ */

void sasl_client_init(struct sasl_client *c, enum sasl_mech mech, const char *user,
		      const char *secret)
{
	c->mech = mech;
	c->user = user ? user : "";
	c->secret = secret ? secret : "";
	c->step = 0;
	c->token_error = false;
}

/* Appends prefix and the base64 of the n octets of parts (concatenated) to out, with one
   allocation of the final size; the plaintext is wiped. */
static int encode_parts(struct buf *out, const char *prefix, const char *const *parts,
			const size_t *lens, size_t nparts)
{
	size_t total = 0;
	for (size_t i = 0; i < nparts; i++) {
		if (lens[i] > (size_t)INT_MAX / 2 - total)
			return -1;
		total += lens[i];
	}
	if (buf_reserve(out, strlen(prefix) + b64_len(total)) < 0)
		return -1;
	char *plain = malloc(total ? total : 1);
	if (!plain)
		return -1;
	size_t off = 0;
	for (size_t i = 0; i < nparts; i++) {
		memcpy(plain + off, parts[i], lens[i]);
		off += lens[i];
	}
	buf_puts(out, prefix);
	int r = sasl_b64_encode(plain, total, out);
	OPENSSL_cleanse(plain, total);
	free(plain);
	return r;
}

/* ---- responses --------------------------------------------------------------------------- */

/* Each builder takes the prefix (the client's "AUTH MECH ") so that the whole line gets one
   allocation of its final size. */
static int plain_encode(const char *prefix, const char *user, const char *secret, struct buf *out)
{
	/* authzid (empty) NUL authcid NUL passwd (RFC 4616) */
	const char *parts[] = {"", user, "", secret};
	size_t lens[] = {1, strlen(user), 1, strlen(secret)};
	return encode_parts(out, prefix, parts, lens, 4);
}

static int xoauth2_encode(const char *prefix, const char *user, const char *token, struct buf *out,
			  const char **why)
{
	if (strchr(user, '\001') || strchr(token, '\001')) {
		*why = "a user name or token with a 0x01 byte cannot be sent with XOAUTH2";
		return -1;
	}
	const char *parts[] = {"user=", user, "\001auth=Bearer ", token, "\001\001"};
	size_t lens[] = {5, strlen(user), 13, strlen(token), 2};
	if (encode_parts(out, prefix, parts, lens, 5) < 0) {
		*why = "out of memory";
		return -1;
	}
	return 0;
}

int sasl_plain_response(const char *user, const char *secret, struct buf *out)
{
	return plain_encode("", user, secret, out);
}

int sasl_xoauth2_response(const char *user, const char *token, struct buf *out, const char **why)
{
	return xoauth2_encode("", user, token, out, why);
}

int sasl_login_response(const char *text, struct buf *out)
{
	const char *parts[] = {text};
	size_t lens[] = {strlen(text)};
	return encode_parts(out, "", parts, lens, 1);
}

int sasl_plain_split(const char *p, size_t n, struct sasl_plain_fields *out)
{
	const char *nul1 = memchr(p, '\0', n);
	const char *nul2 = nul1 ? memchr(nul1 + 1, '\0', n - (size_t)(nul1 + 1 - p)) : NULL;
	if (!nul2)
		return -1;
	out->authzid = p;
	out->authzid_len = (size_t)(nul1 - p);
	out->authcid = nul1 + 1;
	out->authcid_len = (size_t)(nul2 - nul1 - 1);
	out->passwd = nul2 + 1;
	out->passwd_len = n - (size_t)(nul2 + 1 - p);
	return 0;
}

int sasl_client_start(struct sasl_client *c, struct buf *line, bool *secret, const char **why)
{
	*why = NULL;
	*secret = false;
	switch (c->mech) {
	case SASL_PLAIN:
		*secret = true;
		if (plain_encode("AUTH PLAIN ", c->user, c->secret, line) < 0) {
			*why = "out of memory";
			return -1;
		}
		return 0;
	case SASL_XOAUTH2: {
		int r = xoauth2_encode("AUTH XOAUTH2 ", c->user, c->secret, line, why);
		*secret = r == 0;
		return r;
	}
	case SASL_LOGIN:
	case SASL_CRAM_MD5:
		if (buf_printf(line, "AUTH %s", mech_names[c->mech]) < 0) {
			*why = "out of memory";
			return -1;
		}
		return 0;
	case SASL_EXTERNAL:
		/* RFC 4422 appendix A: the message is the authorization identity, empty to act
		   as the identity the certificate gives; "=" is the empty initial response
		   (RFC 4954 4). No secret: the proof is the TLS handshake. */
		if (buf_puts(line, "AUTH EXTERNAL ") < 0 ||
		    (c->user && *c->user ? sasl_b64_encode(c->user, strlen(c->user), line)
					 : buf_puts(line, "=")) < 0) {
			*why = "out of memory";
			return -1;
		}
		return 0;
	case SASL_MECH_COUNT:
		break;
	}
	*why = "unknown mechanism";
	return -1;
}

int sasl_cram_md5_response(const char *user, const char *secret, const void *challenge, size_t len,
			   struct buf *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t klen = strlen(secret);
	if (klen > INT_MAX || !HMAC(EVP_md5(), secret, (int)klen, challenge, len, md, &mdlen) ||
	    mdlen != 16)
		return -1;
	char hex[33];
	static const char digits[] = "0123456789abcdef";
	for (unsigned i = 0; i < 16; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[32] = '\0';
	const char *parts[] = {user, " ", hex};
	size_t lens[] = {strlen(user), 1, 32};
	int r = encode_parts(out, "", parts, lens, 3);
	OPENSSL_cleanse(md, sizeof md);
	OPENSSL_cleanse(hex, sizeof hex);
	return r;
}

/* RFC 2195: base64("user " hex(HMAC-MD5(key = password, challenge))). */
static enum sasl_step cram_md5(struct sasl_client *c, const char *text, size_t len,
			       struct buf *resp, const char **why)
{
	struct buf chal;
	buf_init(&chal);
	enum sasl_decode d = sasl_challenge_decode(text, len, &chal);
	if (d != SASL_DECODE_OK || chal.len == 0) {
		buf_free(&chal);
		*why = d == SASL_DECODE_NOMEM ? "out of memory"
		       : d == SASL_DECODE_OK  ? "the CRAM-MD5 challenge is empty"
		       : d == SASL_DECODE_BAD ? "the CRAM-MD5 challenge is not valid base64"
					      : "the CRAM-MD5 challenge is too long";
		return d == SASL_DECODE_NOMEM ? SASL_STEP_NOMEM : SASL_STEP_CANCEL;
	}
	int r = sasl_cram_md5_response(c->user, c->secret, chal.data, chal.len, resp);
	buf_free(&chal);
	if (r < 0) {
		*why = "out of memory, or no HMAC-MD5 in this OpenSSL (FIPS mode?)";
		return SASL_STEP_CANCEL;
	}
	return SASL_STEP_SEND;
}

enum sasl_step sasl_client_step(struct sasl_client *c, const char *text, size_t len,
				struct buf *resp, bool *secret, const char **why)
{
	*why = NULL;
	*secret = false;
	int step = c->step++;
	switch (c->mech) {
	case SASL_PLAIN:
		*why = "the server asks for more after the whole PLAIN response";
		return SASL_STEP_CANCEL;
	case SASL_LOGIN:
		if (step > 1) {
			*why = "the server asks for more after the user name and the password";
			return SASL_STEP_CANCEL;
		}
		*secret = step == 1;
		if (sasl_login_response(step == 0 ? c->user : c->secret, resp) < 0) {
			*why = "out of memory";
			return SASL_STEP_NOMEM;
		}
		return SASL_STEP_SEND;
	case SASL_CRAM_MD5:
		if (step > 0) {
			*why = "the server asks for more after the CRAM-MD5 response";
			return SASL_STEP_CANCEL;
		}
		*secret = true;
		return cram_md5(c, text, len, resp, why);
	case SASL_XOAUTH2:
		if (step > 0) {
			*why = "the server asks for more after the XOAUTH2 error";
			return SASL_STEP_CANCEL;
		}
		/* The challenge is the error (JSON); an empty answer gets the final reply. */
		c->token_error = true;
		if (buf_reserve(resp, 0) < 0)
			return SASL_STEP_NOMEM;
		return SASL_STEP_SEND;
	case SASL_EXTERNAL:
		*why = "the server asks for more after the EXTERNAL initial response";
		return SASL_STEP_CANCEL;
	case SASL_MECH_COUNT:
		break;
	}
	*why = "unknown mechanism";
	return SASL_STEP_CANCEL;
}
