/* libFuzzer harness: the decoder of 334 challenges (hostile server input) and the SASL steps
   that consume them never crash, never read out of bounds, stay bounded, and agree with a
   re-encoding of what they decoded. The PLAIN splitter (a decoded response, hostile client
   input for the practice server) stays inside the bytes it was given. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpsh/sasl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct buf out, again;
	buf_init(&out);
	buf_init(&again);
	enum sasl_decode d = sasl_challenge_decode(text, size, &out);
	if (d == SASL_DECODE_OK) {
		if (out.len > SASL_CHALLENGE_MAX)
			abort();
		/* what decoded re-encodes to base64 that decodes to the same octets */
		if (sasl_b64_encode(out.data, out.len, &again) < 0)
			abort();
		struct buf back;
		buf_init(&back);
		if (sasl_b64_decode(again.data, again.len, SASL_CHALLENGE_MAX, &back) != SASL_DECODE_OK ||
		    back.len != out.len || (out.len && memcmp(back.data, out.data, out.len) != 0))
			abort();
		buf_free(&back);
	} else if (out.len != 0) {
		abort(); /* a refused challenge leaves nothing behind */
	}
	buf_free(&out);
	buf_free(&again);

	/* plain base64 with a small bound */
	buf_init(&out);
	d = sasl_b64_decode(text, size, 64, &out);
	if (d == SASL_DECODE_OK && out.len > 64)
		abort();
	buf_free(&out);

	/* a decoded PLAIN response: three fields, two NULs, nothing outside the input */
	struct sasl_plain_fields f;
	if (sasl_plain_split(text, size, &f) == 0 &&
	    (f.authzid != text || f.authzid_len + f.authcid_len + f.passwd_len + 2 != size ||
	     f.authcid != text + f.authzid_len + 1 || f.passwd != f.authcid + f.authcid_len + 1 ||
	     memchr(f.authzid, '\0', f.authzid_len) || memchr(f.authcid, '\0', f.authcid_len)))
		abort();

	/* every mechanism answers any challenge without trouble */
	for (int m = 0; m < SASL_MECH_COUNT; m++) {
		struct sasl_client c;
		sasl_client_init(&c, (enum sasl_mech)m, "user@example.test", "secret");
		struct buf line, resp;
		buf_init(&line);
		buf_init(&resp);
		bool secret;
		const char *why;
		if (sasl_client_start(&c, &line, &secret, &why) < 0)
			abort();
		for (int i = 0; i < 3; i++) {
			buf_reset(&resp);
			enum sasl_step st = sasl_client_step(&c, text, size, &resp, &secret, &why);
			if (st == SASL_STEP_CANCEL && !why)
				abort();
		}
		buf_free_secret(&line);
		buf_free_secret(&resp);
	}
	return 0;
}
