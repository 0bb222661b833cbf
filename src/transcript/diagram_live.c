/*
 * The diagram of the session so far (\diagram): the transcript writer, the one that --record
 * uses, writes into a stream of ours (fopencookie); each line it writes is parsed back with the
 * transcript parser and added to the model. So the shell's diagram is drawn from exactly what a
 * recording would hold (secrets redacted by construction), and from nothing else.
 */
#include "smtpsh/diagram.h"

#include <string.h>

static void feed_line(struct diagram_live *l, const char *line, size_t len)
{
	char err[200];
	l->lineno++;
	diagram_add_source(&l->d, line, len);
	if (l->state == 0) {
		l->d.header.version = transcript_parse_magic(line, len, err, sizeof err);
		l->state = 1;
		return;
	}
	if (l->state == 1) {
		if (transcript_parse_header_line(line, len, &l->d.header, err, sizeof err) == 0)
			l->state = 2;
		return;
	}
	struct transcript_entry e;
	transcript_entry_init(&e);
	if (transcript_parse_line(line, len, &e, err, sizeof err) == 0)
		diagram_add(&l->d, &e, l->lineno);
	transcript_entry_free(&e);
}

/* The writer writes whole lines and flushes each; a line may still come in pieces. */
static ssize_t live_write(void *cookie, const char *data, size_t size)
{
	struct diagram_live *l = cookie;
	const char *p = data, *end = data + size;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (!l->skip_line) {
			if (l->partial.len + n > TRANSCRIPT_LINE_MAX) {
				l->skip_line =
				    true; /* the writer never writes one: not ours to draw */
				buf_reset(&l->partial);
			} else if (buf_append(&l->partial, p, n) < 0) {
				l->skip_line = true;
			}
		}
		if (nl) {
			if (!l->skip_line)
				feed_line(l, l->partial.data ? l->partial.data : "",
					  l->partial.len);
			buf_reset(&l->partial);
			l->skip_line = false;
		}
		p += n + (nl ? 1 : 0);
	}
	return (ssize_t)size;
}

int diagram_live_init(struct diagram_live *l)
{
	memset(l, 0, sizeof *l);
	diagram_init(&l->d);
	buf_init(&l->partial);
	transcript_writer_init(&l->w);
	FILE *f = fopencookie(l, "w", (cookie_io_functions_t){.write = live_write});
	if (!f)
		return -1;
	if (transcript_open_stream(&l->w, f, "the session's diagram") < 0) {
		fclose(f);
		return -1;
	}
	return 0;
}

void diagram_live_free(struct diagram_live *l)
{
	transcript_writer_free(&l->w);
	diagram_free(&l->d);
	buf_free(&l->partial);
}

void diagram_live_event(const struct session_event *ev, void *arg)
{
	struct diagram_live *l = arg;
	transcript_event(ev, &l->w);
}

int diagram_live_render(struct diagram_live *l, enum diagram_format f,
			const struct diagram_options *o, struct buf *out)
{
	if (diagram_finish(&l->d) < 0)
		return -1;
	return diagram_render(&l->d, f, o, out);
}
