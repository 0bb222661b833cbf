/*
 * libFuzzer harness: the AUTH detector (src/smtp/authline.c) against an independent
 * server-style tokenizer written here, the way Postfix's smtpd_token() reads a command:
 * leading white space skipped, words split on any white space (isspace() in the C locale),
 * the verb compared without case. Every line such a server reads as AUTH must be detected
 * (and guarded in clear off loopback); every AUTH with a third word (the initial response)
 * must be a secret, and its redacted form must hold nothing but the mechanism.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtpsh/authline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define WORDS_MAX 3

struct word {
	const char *p;
	size_t n;
};

/* Splits like a server: up to WORDS_MAX words; returns how many there are (capped). */
static size_t server_words(const char *s, size_t len, struct word *w)
{
	size_t nw = 0, i = 0;
	while (nw < WORDS_MAX) {
		while (i < len && isspace((unsigned char)s[i]))
			i++;
		if (i == len)
			break;
		size_t start = i;
		while (i < len && !isspace((unsigned char)s[i]))
			i++;
		w[nw].p = s + start;
		w[nw].n = i - start;
		nw++;
	}
	return nw;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *line = (const char *)data;
	struct word w[WORDS_MAX];
	size_t nw = server_words(line, size, w);
	int server_auth = nw >= 1 && w[0].n == 4 && strncasecmp(w[0].p, "AUTH", 4) == 0;
	int server_secret = server_auth && nw >= 3;

	struct authline a;
	int auth = authline_parse(line, size, &a);
	if (auth != server_auth)
		abort(); /* a server's AUTH missed, or something else taken for one */
	if (authline_has_secret(line, size) != server_secret)
		abort();
	if (authline_refused_in_clear(line, size, 0, 0, 0, 0) != server_auth)
		abort(); /* the plaintext guard must see every AUTH */
	if (auth) {
		if ((nw >= 2) != (a.mech_len > 0) ||
		    (nw >= 2 && (a.mech_off != (size_t)(w[1].p - line) || a.mech_len != w[1].n)))
			abort();
		if (server_secret &&
		    (a.resp_off != (size_t)(w[2].p - line) || a.resp_len != w[2].n))
			abort();
	}

	char out[96];
	memset(out, 'x', sizeof out);
	int redacted = authline_redact(line, size, out, sizeof out);
	if (redacted != server_secret)
		abort();
	if (redacted) {
		/* Exactly "AUTH " mech[:40] " <redacted>": no octet of the response. */
		size_t m = w[1].n > 40 ? 40 : w[1].n;
		char want[96];
		int n = snprintf(want, sizeof want, "AUTH %.*s <redacted>", (int)m, w[1].p);
		/* A NUL inside the mechanism ends both strings at the same place. */
		if (n < 0 || strcmp(out, want) != 0)
			abort();
		if (memchr(out, '\0', sizeof out) == NULL)
			abort();
	}
	return 0;
}
