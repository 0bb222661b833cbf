/* libFuzzer harness: the _mta-sts TXT record and the policy file from a hostile domain, and
   matching MX names against whatever patterns got through. The first byte picks which. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpsh/mtasts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *p = (const char *)data + 1;
	size_t len = size - 1;
	char *copy = malloc(len ? len : 1);
	if (!copy)
		return 0;
	memcpy(copy, p, len);
	struct buf err;
	buf_init(&err);
	if (data[0] & 1) {
		struct mtasts_txt t;
		if (mtasts_parse_txt(copy, len, &t, &err) == 0 &&
		    (t.id[0] == '\0' || strlen(t.id) > 32))
			abort();
	} else {
		struct mtasts_policy pol;
		if (mtasts_parse_policy(copy, len, &pol, &err) == 0) {
			if (pol.nmx > MTASTS_MX_MAX || pol.max_age > MTASTS_MAX_AGE_MAX)
				abort();
			static const char *const hosts[] = {
			    "mx.example.net", "a.b.example.net", "example.net", ".", "", "*.x"};
			for (size_t i = 0; i < sizeof hosts / sizeof hosts[0]; i++)
				mtasts_mx_match(&pol, hosts[i]);
			for (size_t i = 0; i < pol.nmx; i++)
				mtasts_mx_match(&pol, pol.mx[i]);
			mtasts_policy_free(&pol);
		} else if (err.len == 0) {
			abort(); /* every refusal says why */
		}
	}
	buf_free(&err);
	free(copy);
	return 0;
}
