/* libFuzzer harness: nothing a server sends reaches the terminal as a control byte, an
   invisible character, or a combining mark that could draw on an escape or the line's marker. */
#include <stdint.h>
#include <stdlib.h>

#include "../../src/util/unicode_tables.h"
#include "smtpsh/escape.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int in_ranges(uint32_t cp, const struct cp_range *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (cp >= r[i].lo && cp <= r[i].hi)
			return 1;
	return 0;
}

/* The code point of the UTF-8 sequence at s (escape_append passes only well-formed ones). */
static uint32_t decode(const unsigned char *s, size_t len, size_t *n)
{
	unsigned char c = s[0];
	*n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
	if (*n > len)
		abort();
	uint32_t cp = *n == 1 ? c : *n == 2 ? (c & 0x1Fu) : *n == 3 ? (c & 0x0Fu) : (c & 0x07u);
	for (size_t k = 1; k < *n; k++)
		cp = (cp << 6) | (s[k] & 0x3Fu);
	return cp;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf out;
	buf_init(&out);
	if (escape_append(&out, (const char *)data, size, ESCAPE_DEFAULT) < 0)
		abort();
	const unsigned char *o = (const unsigned char *)out.data;
	int after_escape = 1; /* the start of the text counts as "after an escape" */
	for (size_t i = 0, n; i < out.len; i += n) {
		if (o[i] == '\\') { /* one of our escapes: \\ \t \r \n \xNN \u{X...} */
			n = 2;
			if (i + 1 < out.len && o[i + 1] == 'x')
				n = 4;
			else if (i + 1 < out.len && o[i + 1] == 'u')
				while (i + n <= out.len && o[i + n - 1] != '}')
					n++;
			if (i + n > out.len)
				abort();
			after_escape = 1;
			continue;
		}
		uint32_t cp = decode(o + i, out.len - i, &n);
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
			abort(); /* C0, DEL, C1 (also as UTF-8) */
		if (in_ranges(cp, invisible_ranges,
			      sizeof invisible_ranges / sizeof invisible_ranges[0]))
			abort();
		if (after_escape && in_ranges(cp, combining_ranges,
					      sizeof combining_ranges / sizeof combining_ranges[0]))
			abort(); /* would draw on the line's marker or on an escape */
		after_escape = 0;
	}
	buf_free(&out);
	return 0;
}
