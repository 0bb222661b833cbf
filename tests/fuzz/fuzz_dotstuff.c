/* libFuzzer harness: whatever the body, the wire never sees a bare CR or LF or an
   unstuffed leading dot (SMTP smuggling), and the encoder's line counters are right. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpsh/dotstuff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t piece = (size_t)data[0] + 1;
	data++;
	size--;
	char *out = malloc(DOTSTUFF_MAX_OUT(size) + 2);
	if (!out)
		return 0;
	struct dotstuff d;
	dotstuff_init(&d);
	size_t n = 0;
	for (size_t off = 0; off < size; off += piece) {
		size_t len = size - off < piece ? size - off : piece;
		n += dotstuff_encode(&d, (const char *)data + off, len, out + n);
	}
	n += dotstuff_finish(&d, out + n);
	unsigned long long lines = 0, longs = 0;
	size_t start = 0;
	for (size_t i = 0; i + 1 < n; i++) {
		if (out[i] == '\r' && out[i + 1] == '\n') {
			lines++;
			longs += i - start > DOTSTUFF_LINE_MAX;
			start = i + 2;
		}
	}
	if (lines != d.lines || longs != d.long_lines) /* the counters match the output */
		abort();
	for (size_t i = 0; i < n; i++) {
		if (out[i] == '\r' && (i + 1 >= n || out[i + 1] != '\n'))
			abort();
		if (out[i] == '\n' && (i == 0 || out[i - 1] != '\r'))
			abort();
		bool bol = i == 0 || out[i - 1] == '\n';
		/* a line that starts with a dot always has a second one (stuffed) */
		if (bol && out[i] == '.' && (i + 1 >= n || out[i + 1] != '.'))
			abort();
	}
	if (n && (n < 2 || out[n - 2] != '\r' || out[n - 1] != '\n'))
		abort();
	free(out);
	return 0;
}
