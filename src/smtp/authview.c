#include "smtpsh/authview.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

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
	if (!mech || nth != 1)
		return false;
	struct buf d;
	buf_init(&d);
	bool found = false;
	if (authview_b64_decode(resp, len, &d) < 0 || !d.data)
		goto out;
	const char *p = d.data;
	size_t n = d.len;
	if (strcasecmp(mech, "PLAIN") == 0) {
		/* authzid NUL authcid NUL passwd */
		const char *a = memchr(p, '\0', n);
		const char *b = a ? memchr(a + 1, '\0', n - (size_t)(a + 1 - p)) : NULL;
		if (b) {
			copy_out(a + 1, (size_t)(b - a - 1), out, outlen);
			found = b > a + 1;
		}
	} else if (strcasecmp(mech, "LOGIN") == 0) {
		copy_out(p, n, out, outlen);
		found = n > 0;
	} else if (strcasecmp(mech, "CRAM-MD5") == 0) {
		const char *sp = memchr(p, ' ', n);
		if (sp) {
			copy_out(p, (size_t)(sp - p), out, outlen);
			found = sp > p;
		}
	} else if (strcasecmp(mech, "XOAUTH2") == 0) {
		/* "user=" user ^A "auth=Bearer " token ^A ^A */
		if (n > 5 && memcmp(p, "user=", 5) == 0) {
			const char *end = memchr(p + 5, '\001', n - 5);
			size_t un = end ? (size_t)(end - p - 5) : n - 5;
			copy_out(p + 5, un, out, outlen);
			found = un > 0;
		}
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

int authview_respond(const char *mech, unsigned nth, const char *challenge, size_t clen,
		     const char *user, const char *pass, struct buf *out)
{
	struct buf plain, ch;
	buf_init(&plain);
	buf_init(&ch);
	int r = -1;
	/* A challenge from the server: bounded as \auth bounds it (SASL_CHALLENGE_MAX). */
	if (decode_at_most(challenge ? challenge : "", challenge ? clen : 0, SASL_CHALLENGE_MAX,
			   &ch) < 0)
		goto out;
	/* One allocation up front: no copy of the password left behind by a realloc. */
	if (buf_reserve(&plain, strlen(user) + strlen(pass) + 80) < 0)
		goto out;
	if (strcasecmp(mech, "PLAIN") == 0 && nth == 1) {
		buf_putc(&plain, '\0');
		buf_puts(&plain, user);
		buf_putc(&plain, '\0');
		buf_puts(&plain, pass);
	} else if (strcasecmp(mech, "LOGIN") == 0 && (nth == 1 || nth == 2)) {
		bool want_user = says(&ch, "user") ? true : says(&ch, "pass") ? false : nth == 1;
		buf_puts(&plain, want_user ? user : pass);
	} else if (strcasecmp(mech, "CRAM-MD5") == 0 && nth == 1 && ch.len) {
		r = sasl_cram_md5_response(user, pass, ch.data, ch.len, out);
		goto out;
	} else if (strcasecmp(mech, "XOAUTH2") == 0 && nth == 1) {
		buf_printf(&plain, "user=%s\001auth=Bearer %s\001\001", user, pass);
	} else {
		goto out;
	}
	r = authview_b64_encode(plain.data ? plain.data : "", plain.len, out);
out:
	buf_free_secret(&plain);
	buf_free(&ch);
	return r;
}
