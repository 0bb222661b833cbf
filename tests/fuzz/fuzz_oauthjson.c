/* libFuzzer harness: the JSON of the OAuth2 mechanisms' 334 errors (hostile server input,
   RFC 7628 3.2.2) never crashes, never reads past the length given, and leaves each field
   NUL-terminated inside its array; a refusal leaves every field empty. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpsh/sasl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_field(const char *f, size_t size)
{
	if (!memchr(f, '\0', size))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a copy of exactly size octets, so that ASan sees any read past the length */
	char *copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	struct sasl_oauth_error e;
	int r = sasl_oauth_error_parse(copy, size, &e);
	check_field(e.status, sizeof e.status);
	check_field(e.scope, sizeof e.scope);
	check_field(e.schemes, sizeof e.schemes);
	check_field(e.openid, sizeof e.openid);
	if (r == 0 && !e.status[0])
		abort(); /* accepted means a status */
	if (r != 0 && (e.status[0] || e.scope[0] || e.schemes[0] || e.openid[0]))
		abort();
	free(copy);
	return 0;
}
