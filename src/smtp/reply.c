/*
 * Incremental SMTP reply parser. Bytes are copied into p->line until an LF ends the line;
 * the line is then checked and handed out from p->line, where it stays (followed by one
 * LF, which a partial line can never hold) until the next call, so that line->text
 * remains valid while the caller shows it.
 */
#include "smtpsh/reply.h"

#include <stdlib.h>
#include <string.h>

/*
 * Most bytes p->line ever holds, its NUL included: a full-length line, a CR that may still
 * turn out to start CRLF (or the LF put after a complete line), and the NUL. The buffer is
 * grown to exactly this and no further, so a hostile line cannot double the memory.
 */
#define LINE_CAP ((size_t)REPLY_LINE_MAX + 2)

void reply_parser_init(struct reply_parser *p)
{
	buf_init(&p->line);
	p->code = 0;
	p->nlines = 0;
	p->skipping = false;
	p->skipped = 0;
}

void reply_parser_free(struct reply_parser *p)
{
	buf_free(&p->line);
	reply_parser_init(p);
}

void reply_parser_reset(struct reply_parser *p)
{
	buf_reset(&p->line);
	p->code = 0;
	p->nlines = 0;
	p->skipping = false;
	p->skipped = 0;
}

/* A complete line handed out by the last push is still in the buffer, followed by LF. */
static bool line_done(const struct reply_parser *p)
{
	return p->line.len > 0 && p->line.data[p->line.len - 1] == '\n';
}

size_t reply_parser_pending(const struct reply_parser *p)
{
	if (p->skipping || line_done(p))
		return 0;
	return p->line.len;
}

bool reply_parser_busy(const struct reply_parser *p)
{
	return p->code != 0 || p->skipping || reply_parser_pending(p) > 0;
}

/* Like buf_reserve, but the capacity never goes beyond LINE_CAP. */
static int line_reserve(struct buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;
	if (need > LINE_CAP)
		return -1;
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 128;
	while (cap < need)
		cap *= 2;
	if (cap > LINE_CAP)
		cap = LINE_CAP;
	char *d = realloc(b->data, cap);
	if (!d)
		return -1;
	b->data = d;
	b->cap = cap;
	return 0;
}

/* The reply is over (last line or malformed line): expect a new one. */
static void reply_end(struct reply_parser *p)
{
	p->code = 0;
	p->nlines = 0;
}

/*
 * Keeps p->line[0..text_len) followed by LF in the buffer until the next push and points
 * line at it. The caller reserved room for text_len + 2 bytes.
 */
static void line_hand_out(struct reply_parser *p, size_t text_len, struct reply_line *line)
{
	p->line.data[text_len] = '\n';
	p->line.data[text_len + 1] = '\0';
	p->line.len = text_len + 1;
	line->text = p->line.data;
	line->len = text_len;
}

static enum reply_result line_bad(struct reply_parser *p, size_t text_len, enum reply_error err,
				  struct reply_line *line)
{
	line_hand_out(p, text_len, line);
	line->code = 0;
	line->last = false;
	line->err = err;
	reply_end(p);
	return REPLY_BAD;
}

/* Checks the complete line p->line[0..text_len) and says what it is. */
static enum reply_result line_check(struct reply_parser *p, size_t text_len,
				    struct reply_line *line)
{
	const char *t = p->line.data;

	if (memchr(t, '\0', text_len))
		return line_bad(p, text_len, REPLY_ERR_NUL, line);
	if (text_len < 3 || t[0] < '2' || t[0] > '5' || t[1] < '0' || t[1] > '9' || t[2] < '0' ||
	    t[2] > '9' || (text_len > 3 && t[3] != ' ' && t[3] != '-'))
		return line_bad(p, text_len, REPLY_ERR_SYNTAX, line);

	int code = (t[0] - '0') * 100 + (t[1] - '0') * 10 + (t[2] - '0');
	bool last = text_len == 3 || t[3] == ' ';

	if (p->code != 0 && code != p->code)
		return line_bad(p, text_len, REPLY_ERR_CODE_CHANGED, line);
	if (p->nlines >= REPLY_LINES_MAX)
		return line_bad(p, text_len, REPLY_ERR_TOO_MANY_LINES, line);

	line_hand_out(p, text_len, line);
	line->code = code;
	line->last = last;
	line->err = REPLY_OK;
	if (last) {
		reply_end(p);
		return REPLY_DONE;
	}
	p->code = code;
	p->nlines++;
	return REPLY_LINE;
}

/*
 * The line is longer than REPLY_LINE_MAX: makes p->line hold its first REPLY_LINE_MAX bytes,
 * taking what it lacks of them from more, with room for the LF and NUL of line_hand_out().
 * Returns 0, or -1 when memory ran out.
 */
static int hold_first_bytes(struct reply_parser *p, const char *more)
{
	size_t held = p->line.len; /* at most REPLY_LINE_MAX + 1 */
	if (line_reserve(&p->line, REPLY_LINE_MAX + 1 - held) < 0)
		return -1;
	if (held < REPLY_LINE_MAX)
		buf_append(&p->line, more, REPLY_LINE_MAX - held);
	return 0;
}

/*
 * Memory ran out while holding a line. reply.h has no error code for it; the line cannot be
 * kept, which is what TOO_LONG tells the caller, so it is reported as such with an empty
 * text, and the rest of the line is skipped.
 */
static enum reply_result line_no_memory(struct reply_parser *p, bool skip, struct reply_line *line)
{
	buf_reset(&p->line);
	p->skipping = skip;
	p->skipped = 0;
	line->text = "";
	line->len = 0;
	line->code = 0;
	line->last = false;
	line->err = REPLY_ERR_TOO_LONG;
	reply_end(p);
	return REPLY_BAD;
}

enum reply_result reply_parser_push(struct reply_parser *p, const char *data, size_t len,
				    size_t *used, struct reply_line *line)
{
	size_t i = 0;

	memset(line, 0, sizeof(*line));
	if (line_done(p) || p->skipping)
		buf_reset(&p->line);

	while (i < len) {
		const char *start = data + i;
		size_t avail = len - i;
		const char *lf = memchr(start, '\n', avail);
		size_t seg = lf ? (size_t)(lf - start) : avail; /* bytes before the LF */

		if (p->skipping) {
			if (!lf) {
				p->skipped += avail;
				i = len;
				break;
			}
			p->skipping = false;
			p->skipped = 0;
			i += seg + 1;
			continue;
		}

		size_t held = p->line.len;
		size_t total = held + seg; /* line bytes known so far, a final CR included */

		if (lf) {
			*used = i + seg + 1;
			bool cr = total > 0 &&
				  (seg > 0 ? start[seg - 1] : p->line.data[held - 1]) == '\r';
			size_t text_len = total - (cr ? 1 : 0);
			if (text_len > REPLY_LINE_MAX) {
				if (hold_first_bytes(p, start) < 0)
					return line_no_memory(p, false, line);
				return line_bad(p, REPLY_LINE_MAX, REPLY_ERR_TOO_LONG, line);
			}
			/* Room for the text, then its LF and the NUL (a final CR is replaced). */
			if (line_reserve(&p->line, text_len + 1 - held) < 0)
				return line_no_memory(p, false, line);
			buf_append(&p->line, start, seg);
			line->bare_lf = !cr;
			return line_check(p, text_len, line);
		}

		/* No line end yet: a final CR may still be the start of CRLF. */
		bool cr_end = seg > 0 && start[seg - 1] == '\r';
		if (total > REPLY_LINE_MAX + 1 || (total == REPLY_LINE_MAX + 1 && !cr_end)) {
			*used = len;
			if (hold_first_bytes(p, start) < 0)
				return line_no_memory(p, true, line);
			/* The rest of the line, up to and with its LF, is discarded. */
			p->skipping = true;
			p->skipped = total - REPLY_LINE_MAX;
			return line_bad(p, REPLY_LINE_MAX, REPLY_ERR_TOO_LONG, line);
		}
		if (line_reserve(&p->line, seg) < 0) {
			*used = len;
			return line_no_memory(p, true, line);
		}
		buf_append(&p->line, start, seg);
		i = len;
	}
	*used = i;
	return REPLY_MORE;
}

const char *reply_error_str(enum reply_error err)
{
	switch (err) {
	case REPLY_OK:
		return "no error";
	case REPLY_ERR_SYNTAX:
		return "reply line does not start with a 3-digit code (2xx to 5xx) and ' ' or '-'";
	case REPLY_ERR_CODE_CHANGED:
		return "reply code changed in the middle of a multi-line reply";
	case REPLY_ERR_TOO_LONG:
		return "reply line too long (no line end within 65536 bytes)";
	case REPLY_ERR_TOO_MANY_LINES:
		return "too many lines in one reply (more than 1000)";
	case REPLY_ERR_NUL:
		return "NUL byte in reply line";
	}
	return "unknown reply error";
}
