/* Reading a transcript file line by line, bounded (see transcripts/FORMAT.md). */
#include "smtpsh/transcript.h"

#include <errno.h>
#include <string.h>

/* Reads one line (without its LF or CRLF) into rd->line: 1, 0 at the end, -1 on error. */
static int read_line(struct transcript_reader *rd)
{
	buf_reset(&rd->line);
	int c = EOF;
	bool any = false;
	while ((c = getc(rd->f)) != EOF) {
		any = true;
		if (c == '\n')
			break;
		if (c == '\0') {
			snprintf(rd->err, sizeof rd->err, "line %lu: holds a NUL byte",
				 rd->lineno + 1);
			return -1;
		}
		if (rd->line.len >= TRANSCRIPT_LINE_MAX) {
			snprintf(rd->err, sizeof rd->err, "line %lu: longer than %d bytes",
				 rd->lineno + 1, TRANSCRIPT_LINE_MAX);
			return -1;
		}
		if (buf_putc(&rd->line, (char)c) < 0) {
			snprintf(rd->err, sizeof rd->err, "out of memory");
			return -1;
		}
	}
	if (ferror(rd->f)) {
		snprintf(rd->err, sizeof rd->err, "cannot read: %s", strerror(errno));
		return -1;
	}
	if (!any)
		return 0;
	rd->lineno++;
	if (buf_append(&rd->line, "", 0) < 0) {
		snprintf(rd->err, sizeof rd->err, "out of memory");
		return -1;
	}
	if (rd->line.len && rd->line.data[rd->line.len - 1] == '\r')
		rd->line.data[--rd->line.len] = '\0';
	return 1;
}

int transcript_reader_open(struct transcript_reader *rd, const char *path)
{
	memset(rd, 0, sizeof *rd);
	buf_init(&rd->line);
	rd->f = fopen(path, "r");
	if (!rd->f) {
		snprintf(rd->err, sizeof rd->err, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	char why[200] = "";
	int r = read_line(rd);
	if (r <= 0) {
		if (r == 0)
			snprintf(rd->err, sizeof rd->err, "%s is empty", path);
		goto failed;
	}
	int version = transcript_parse_magic(rd->line.data, rd->line.len, why, sizeof why);
	if (version < 0) {
		snprintf(rd->err, sizeof rd->err, "%s: %s", path, why);
		goto failed;
	}
	rd->header.version = version;
	for (;;) {
		r = read_line(rd);
		if (r < 0)
			goto failed;
		if (r == 0)
			return 0; /* only a header: a transcript with no events */
		int h = transcript_parse_header_line(rd->line.data, rd->line.len, &rd->header, why,
						     sizeof why);
		if (h == 0)
			return 0;
		if (h < 0) {
			snprintf(rd->err, sizeof rd->err, "%s line %lu: %s", path, rd->lineno, why);
			goto failed;
		}
	}
failed:
	transcript_reader_close(rd);
	return -1;
}

int transcript_reader_next(struct transcript_reader *rd, struct transcript_entry *e)
{
	int r = read_line(rd);
	if (r <= 0)
		return r;
	char why[200] = "";
	if (transcript_parse_line(rd->line.data, rd->line.len, e, why, sizeof why) < 0) {
		snprintf(rd->err, sizeof rd->err, "line %lu: %s", rd->lineno, why);
		return -1;
	}
	return 1;
}

void transcript_reader_close(struct transcript_reader *rd)
{
	if (rd->f)
		fclose(rd->f);
	rd->f = NULL;
	buf_free(&rd->line);
}
