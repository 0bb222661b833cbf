/* libFuzzer harness: EHLO capability lines from a hostile server. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpsh/caps.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_caps c;
	caps_init(&c);
	const char *p = (const char *)data, *end = p + size;
	bool first = true;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		caps_add_line(&c, p, len, first);
		first = false;
		p += len + (nl ? 1 : 0);
	}
	if (c.n > CAPS_MAX)
		abort();
	for (size_t i = 0; i < c.n; i++) {
		if (!c.items[i].name || !c.items[i].params)
			abort();
		caps_find(&c, c.items[i].name);
		caps_has_param(&c, c.items[i].name, "PLAIN");
	}
	unsigned long long size_limit;
	caps_size(&c, &size_limit);
	caps_clear(&c);
	return 0;
}
