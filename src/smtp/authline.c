#include "smtpsh/authline.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "smtpsh/sasl.h"

#define MECH_SHOWN_MAX 40 /* RFC 4422 3.1 names are at most 20 characters: room for typos */

bool authline_space(char c)
{
	/* Not isspace(): it depends on the locale, and a server's rule does not. */
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* The word that starts at or after line[from]: its offset in *off, its length returned. */
static size_t word(const char *line, size_t len, size_t from, size_t *off)
{
	size_t i = from;
	while (i < len && authline_space(line[i]))
		i++;
	size_t start = i;
	while (i < len && !authline_space(line[i]))
		i++;
	*off = start;
	return i - start;
}

size_t authline_verb(const char *line, size_t len, size_t *off)
{
	return word(line, len, 0, off);
}

bool authline_parse(const char *line, size_t len, struct authline *out)
{
	size_t voff;
	size_t vlen = word(line, len, 0, &voff);
	if (vlen != 4 || strncasecmp(line + voff, "AUTH", 4) != 0)
		return false;
	if (out) {
		out->mech_len = word(line, len, voff + vlen, &out->mech_off);
		out->resp_len = word(line, len, out->mech_off + out->mech_len, &out->resp_off);
		out->has_response = out->resp_len > 0;
	}
	return true;
}

bool authline_has_secret(const char *line, size_t len)
{
	struct authline a;
	return authline_parse(line, len, &a) && a.has_response;
}

bool authline_redact(const char *line, size_t len, char *out, size_t outlen)
{
	struct authline a;
	if (!authline_parse(line, len, &a) || !a.has_response)
		return false;
	if (outlen)
		snprintf(out, outlen, "AUTH %.*s <redacted>",
			 (int)(a.mech_len > MECH_SHOWN_MAX ? MECH_SHOWN_MAX : a.mech_len),
			 line + a.mech_off);
	return true;
}

bool authline_refused_in_clear(const char *line, size_t len, bool in_auth, bool tls,
			       bool peer_loopback, bool allowed_by_user)
{
	return !in_auth && authline_parse(line, len, NULL) &&
	       !sasl_plaintext_allowed(tls, peer_loopback, allowed_by_user);
}

/* The next line of data[0..len) from *pos, as some server may split raw bytes: at LF (Postfix
   takes a bare LF as a line end) or at CR (others do, for a bare CR). Splitting at both finds
   every AUTH any of them would read. False past the end. */
static bool next_line(const char *data, size_t len, size_t *pos, size_t *off, size_t *n)
{
	if (*pos >= len)
		return false;
	size_t end = *pos;
	while (end < len && data[end] != '\n' && data[end] != '\r')
		end++;
	*off = *pos;
	*n = end - *pos;
	*pos = end < len ? end + 1 : len;
	return true;
}

bool authline_raw_has_secret(const char *data, size_t len)
{
	size_t pos = 0, off, n;
	while (next_line(data, len, &pos, &off, &n))
		if (authline_has_secret(data + off, n))
			return true;
	return false;
}

bool authline_raw_refused_in_clear(const char *data, size_t len, bool tls, bool peer_loopback,
				   bool allowed_by_user)
{
	size_t pos = 0, off, n;
	while (next_line(data, len, &pos, &off, &n))
		if (authline_refused_in_clear(data + off, n, false, tls, peer_loopback,
					      allowed_by_user))
			return true;
	return false;
}
