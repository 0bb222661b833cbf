/* libFuzzer harness: a line of server text, escaped as the screen shows it, wrapped to a
   narrow width: no line is wider than the width, and only blanks are dropped or added (the
   text, its escapes and the colour sequences are all there, in order). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpsh/escape.h"
#include "smtpsh/wrap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* in without blanks, line ends and TABs */
static void squeeze(const char *in, size_t len, struct buf *out)
{
	for (size_t i = 0; i < len; i++)
		if (in[i] != ' ' && in[i] != '\t' && in[i] != '\n')
			buf_putc(out, in[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3)
		return 0;
	size_t width = 10 + data[0] % 128, hang = data[1] % (width - 9);
	bool color = data[2] & 1;
	struct buf line, out, a, b;
	buf_init(&line);
	buf_init(&out);
	buf_init(&a);
	buf_init(&b);
	/* as render builds it: the marker, the code coloured, the text, an annotation */
	buf_puts(&line, color ? "\033[2m<-\033[0m " : "<- ");
	if (escape_append(&line, (const char *)data + 3, size - 3, ESCAPE_DEFAULT) < 0)
		abort();
	if (data[2] & 2)
		buf_puts(&line, color ? "\033[2m  \t[hint: a note]\033[0m" : "  \t[hint: a note]");
	if (wrap_line(&out, line.data, line.len, width, hang) < 0)
		abort();
	const char *p = out.data ? out.data : "", *end = p + out.len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (wrap_columns(p, n) > width)
			abort();
		if (p != out.data && (n < hang || strspn(p, " ") < hang))
			abort(); /* a continuation line starts with hang blanks */
		p += n + 1;
	}
	squeeze(line.data, line.len, &a);
	squeeze(out.data ? out.data : "", out.len, &b);
	if (a.len != b.len || (a.len && memcmp(a.data, b.data, a.len) != 0))
		abort();
	buf_free(&line);
	buf_free(&out);
	buf_free(&a);
	buf_free(&b);
	return 0;
}
