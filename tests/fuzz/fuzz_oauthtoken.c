/* libFuzzer harness: a token endpoint's answer (hostile network input, RFC 6749 5.1/5.2), a
   device authorization response (RFC 8628 3.2) and a redirect's query (RFC 6749 4.1.2)
   never crashes, never reads past the length given; a success has a Bearer access token, an
   error a NUL-terminated error code, a refusal nothing left allocated (LeakSanitizer). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtpsh/oauth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	struct oauth_token t;
	struct buf err;
	buf_init(&err);
	int r = oauth_parse_token(copy, size, size % 2 ? 400 : 200, &t, &err);
	if (r == 0 && (!t.access_token || !*t.access_token || !t.token_type ||
		       strcasecmp(t.token_type, "Bearer") != 0 || t.expires_in < 0))
		abort();
	if (r == 1 &&
	    (!t.error[0] || !memchr(t.error, '\0', sizeof t.error) ||
	     !memchr(t.error_description, '\0', sizeof t.error_description) || t.access_token))
		abort();
	if (r == -1 && (!err.len || t.access_token || t.refresh_token))
		abort();
	oauth_token_free(&t);
	/* the device authorization response: a success has https URIs and both codes */
	struct oauth_device d;
	buf_reset(&err);
	r = oauth_parse_device(copy, size, 200, &d, &t, &err);
	if (r == 0 && (!d.device_code || !d.user_code || !d.verification_uri ||
		       strncasecmp(d.verification_uri, "https://", 8) != 0 || d.interval < 0))
		abort();
	oauth_device_free(&d);
	/* a redirect's target (from the loopback listener or pasted): a code only with our state */
	char *target = malloc(size + 1), *code = NULL;
	if (target) {
		memcpy(target, data, size);
		target[size] = '\0';
		buf_reset(&err);
		r = oauth_parse_redirect(target, "0123456789abcdef0123456789abcdef", &code, &t,
					 &err);
		if (r == 0 && (!code || !strstr(target, "0123456789abcdef0123456789abcdef")))
			abort();
		if (r != 0 && code)
			abort();
		free(code);
		free(target);
	}
	buf_free(&err);
	free(copy);
	return 0;
}
