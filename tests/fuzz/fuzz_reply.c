/* libFuzzer harness: the reply parser fed hostile bytes in hostile pieces. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpsh/reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	/* The first byte chooses how the rest is cut into pushes. */
	size_t piece = (size_t)data[0] + 1;
	data++;
	size--;
	struct reply_parser p;
	reply_parser_init(&p);
	size_t off = 0;
	while (off < size) {
		size_t len = size - off < piece ? size - off : piece;
		while (len > 0) {
			size_t used = 0;
			struct reply_line line;
			enum reply_result r =
				reply_parser_push(&p, (const char *)data + off, len, &used, &line);
			if (used > len)
				abort();
			if (r != REPLY_MORE) {
				if (line.len > REPLY_LINE_MAX)
					abort();
				if (r != REPLY_BAD && (line.code < 200 || line.code > 599))
					abort();
				if (r == REPLY_BAD && line.err == REPLY_OK)
					abort();
				if (line.len && memchr(line.text, '\n', line.len))
					abort();
			} else if (used != len) {
				abort();
			}
			off += used;
			len -= used;
		}
		if (p.line.cap > REPLY_LINE_MAX + 64)
			abort();
	}
	reply_parser_free(&p);
	return 0;
}
