/* libFuzzer harness: a hostile transcript drawn as a ladder diagram (diagram.h): parsed line by
   line, added to the model, rendered as txt, SVG and HTML. Every output must be free of control
   bytes, the text ladder no wider than asked, the SVG one element with no script in it, the
   HTML page with its one script only. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpsh/diagram.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* No byte below 0x20 but LF (a terminal escape, a NUL, bad XML). */
static void check_clean(const struct buf *b)
{
	for (size_t i = 0; i < b->len; i++)
		if ((unsigned char)b->data[i] < 0x20 && b->data[i] != '\n')
			abort();
}

static size_t count(const char *s, const char *what)
{
	size_t n = 0;
	for (const char *p = s; (p = strstr(p, what)); p += strlen(what))
		n++;
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int width = DIAGRAM_WIDTH_MIN + data[0] % 120;
	const char *p = (const char *)data + 1, *end = (const char *)data + size;
	struct diagram d;
	diagram_init(&d);
	char err[200];
	unsigned long lineno = 0;
	int state = 0; /* 0 magic, 1 header, 2 events */
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		lineno++;
		diagram_add_source(&d, p, len);
		if (state == 0) {
			transcript_parse_magic(p, len, err, sizeof err);
			state = 1;
		} else if (state == 1) {
			if (transcript_parse_header_line(p, len, &d.header, err, sizeof err) == 0)
				state = 2;
		} else {
			struct transcript_entry e;
			transcript_entry_init(&e);
			if (transcript_parse_line(p, len, &e, err, sizeof err) == 0)
				diagram_add(&d, &e, lineno);
			transcript_entry_free(&e);
		}
		p += len + (nl ? 1 : 0);
	}
	if (diagram_finish(&d) < 0)
		abort();
	/* the first byte also picks --notes, --explain and --ascii (each changes the txt layout:
	   side notes, explanations after a pipelined group, ASCII strokes) */
	struct diagram_options o = {.width = width,
				    .notes = data[0] & 1,
				    .explain = data[0] & 2,
				    .ascii = data[0] & 4,
				    .title = "fuzz"};
	struct buf out;
	buf_init(&out);
	if (diagram_render_txt(&d, &o, &out) < 0)
		abort();
	check_clean(&out);
	for (const char *r = out.data, *e2; r && (e2 = strchr(r, '\n')); r = e2 + 1)
		if (diagram_text_width(r, (size_t)(e2 - r)) > (size_t)width)
			abort();
	buf_reset(&out);
	if (diagram_render_svg(&d, &o, &out) < 0)
		abort();
	check_clean(&out);
	if (count(out.data, "<svg") != 1 || count(out.data, "</svg>") != 1 ||
	    strstr(out.data, "<script"))
		abort();
	buf_reset(&out);
	if (diagram_render_html(&d, &o, &out) < 0)
		abort();
	check_clean(&out);
	if (count(out.data, "<script") != 1 || count(out.data, "</svg>") != 1 ||
	    count(out.data, "</pre>") != 1)
		abort();
	buf_free(&out);
	diagram_free(&d);
	return 0;
}
