/* libFuzzer harness: nothing a server sends reaches the terminal as a control byte. */
#include <stdint.h>
#include <stdlib.h>

#include "smtpsh/escape.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf out;
	buf_init(&out);
	if (escape_append(&out, (const char *)data, size, ESCAPE_DEFAULT) < 0)
		abort();
	for (size_t i = 0; i < out.len; i++) {
		unsigned char c = (unsigned char)out.data[i];
		if (c < 0x20 || c == 0x7f)
			abort();
		/* C1 controls encoded in UTF-8 (C2 80..C2 9F) */
		if (c == 0xc2 && i + 1 < out.len && (unsigned char)out.data[i + 1] >= 0x80 &&
		    (unsigned char)out.data[i + 1] <= 0x9f)
			abort();
	}
	buf_free(&out);
	return 0;
}
