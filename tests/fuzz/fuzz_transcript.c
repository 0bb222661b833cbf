/* libFuzzer harness: transcript files (the magic line, the header, then event lines) and the
   unescaping of their text, as a hostile file would give them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpsh/transcript.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	char err[200];
	struct transcript_header h;
	memset(&h, 0, sizeof h);
	struct transcript_entry e;
	transcript_entry_init(&e);
	int state = 0; /* 0 magic, 1 header, 2 events */
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		int r;
		if (state == 0) {
			r = transcript_parse_magic(p, len, err, sizeof err);
			state = 1;
		} else if (state == 1) {
			r = transcript_parse_header_line(p, len, &h, err, sizeof err);
			if (r == 0)
				state = 2;
			if (strnlen(h.host, sizeof h.host) == sizeof h.host ||
			    strnlen(h.port, sizeof h.port) == sizeof h.port)
				abort();
		} else {
			r = transcript_parse_line(p, len, &e, err, sizeof err);
			/* CR and LF only in the octets of raw writes and chunks (version 2) */
			if (r == 0 && e.kind == TR_SENT && !e.raw && !e.chunk &&
			    (memchr(e.text.data, '\r', e.text.len) || memchr(e.text.data, '\n', e.text.len)))
				abort();
			if (r == 0 && ((e.raw || e.chunk || e.omitted) && e.kind != TR_SENT))
				abort();
			if (r == 0 && (e.has_rcpt && (e.kind != TR_RECEIVED || !e.rcpt.len)))
				abort();
			if (r == 0 && e.omitted && (!e.chunk || e.text.len))
				abort();
			if (r == 0 && e.kind == TR_RECEIVED && e.code &&
			    (e.code < 200 || e.code > 599))
				abort();
			if (r == 0 && e.pipe_total && (e.pipe_index == 0 || e.pipe_index > e.pipe_total))
				abort();
			if (r == 0 && e.text.len > len)
				abort(); /* unescaping never grows the text */
		}
		p += len + (nl ? 1 : 0);
	}
	/* the whole input as escaped text */
	struct buf b;
	buf_init(&b);
	if (transcript_unescape((const char *)data, size, &b) == 0 && b.len > size)
		abort();
	buf_free(&b);
	transcript_entry_free(&e);
	return 0;
}
