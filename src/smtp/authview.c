#include "smtpsh/authview.h"

#include <string.h>
#include <strings.h>

#include "smtpsh/sasl.h"

/* base64 is sasl.c's (OpenSSL's EVP_EncodeBlock/EVP_DecodeBlock, checked strictly): one
   implementation for \b64, \auth and the screen. */
static int decode_at_most(const char *text, size_t len, size_t max, struct buf *out)
{
	while (len && (*text == ' ' || *text == '\t')) {
		text++;
		len--;
	}
	while (len && (text[len - 1] == ' ' || text[len - 1] == '\t'))
		len--;
	if (len % 4)
		return -1; /* padding is required here */
	if (len == 0)
		return buf_append(out, "", 0);
	return sasl_b64_decode(text, len, max ? max : len / 4 * 3, out) == SASL_DECODE_OK ? 0 : -1;
}

int authview_b64_decode(const char *text, size_t len, struct buf *out)
{
	return decode_at_most(text, len, 0, out);
}

int authview_b64_encode(const void *data, size_t len, struct buf *out)
{
	return sasl_b64_encode(data, len, out);
}

static void copy_out(const char *p, size_t n, char *out, size_t outlen)
{
	if (!outlen)
		return;
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}

bool authview_user(const char *mech, unsigned nth, const char *resp, size_t len, char *out,
		   size_t outlen)
{
	enum sasl_mech m;
	if (!mech || nth != 1 || sasl_mech_parse(mech, &m) < 0)
		return false;
	struct buf d;
	buf_init(&d);
	bool found = false;
	if (authview_b64_decode(resp, len, &d) < 0 || !d.data)
		goto out;
	const char *p = d.data;
	size_t n = d.len;
	switch (m) {
	case SASL_PLAIN: {
		struct sasl_plain_fields f;
		if (sasl_plain_split(p, n, &f) == 0) {
			copy_out(f.authcid, f.authcid_len, out, outlen);
			found = f.authcid_len > 0;
		}
		break;
	}
	case SASL_LOGIN:
		copy_out(p, n, out, outlen);
		found = n > 0;
		break;
	case SASL_CRAM_MD5: {
		const char *sp = memchr(p, ' ', n);
		if (sp) {
			copy_out(p, (size_t)(sp - p), out, outlen);
			found = sp > p;
		}
		break;
	}
	case SASL_XOAUTH2:
		/* "user=" user ^A "auth=Bearer " token ^A ^A */
		if (n > 5 && memcmp(p, "user=", 5) == 0) {
			const char *end = memchr(p + 5, '\001', n - 5);
			size_t un = end ? (size_t)(end - p - 5) : n - 5;
			copy_out(p + 5, un, out, outlen);
			found = un > 0;
		}
		break;
	case SASL_EXTERNAL: /* the authorization identity asked for (RFC 4422 A.1) */
		copy_out(p, n, out, outlen);
		found = n > 0;
		break;
	case SASL_MECH_COUNT:
		break;
	}
out:
	buf_free_secret(&d);
	return found;
}

static bool says(const struct buf *b, const char *word)
{
	for (size_t i = 0; b->data && i + strlen(word) <= b->len; i++)
		if (strncasecmp(b->data + i, word, strlen(word)) == 0)
			return true;
	return false;
}

/* The responses themselves are sasl.c's, the client's own: a replay answers exactly as \auth
   does (the same 0x01 check of XOAUTH2, the same wiping). */
int authview_respond(const char *mech, unsigned nth, const char *challenge, size_t clen,
		     const char *user, const char *pass, struct buf *out)
{
	enum sasl_mech m;
	if (sasl_mech_parse(mech, &m) < 0)
		return -1;
	struct buf ch;
	buf_init(&ch);
	const char *why;
	int r = -1;
	/* A challenge from the server: bounded as \auth bounds it (SASL_CHALLENGE_MAX). */
	if (decode_at_most(challenge ? challenge : "", challenge ? clen : 0, SASL_CHALLENGE_MAX,
			   &ch) < 0)
		goto out;
	switch (m) {
	case SASL_PLAIN:
		if (nth == 1)
			r = sasl_plain_response(user, pass, out);
		break;
	case SASL_LOGIN:
		if (nth == 1 || nth == 2) {
			bool want_user = says(&ch, "user")   ? true
					 : says(&ch, "pass") ? false
							     : nth == 1;
			r = sasl_login_response(want_user ? user : pass, out);
		}
		break;
	case SASL_CRAM_MD5:
		if (nth == 1 && ch.len)
			r = sasl_cram_md5_response(user, pass, ch.data, ch.len, out);
		break;
	case SASL_XOAUTH2:
		if (nth == 1)
			r = sasl_xoauth2_response(user, pass, out, &why);
		break;
	case SASL_EXTERNAL: /* an empty challenge: the (empty) authorization identity */
		if (nth == 1)
			r = buf_reserve(out, 0);
		break;
	case SASL_MECH_COUNT:
		break;
	}
out:
	buf_free(&ch);
	return r;
}
