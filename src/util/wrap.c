#include "smtpsh/wrap.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "smtpsh/escape.h"

/* One unit that is never split: an SGR sequence, an escape, one character, a blank. */
struct piece {
	size_t len;
	size_t cols; /* for a TAB: 0 here, the column decides */
	bool blank;
	bool tab;
};

static size_t utf8_len(unsigned char c)
{
	return c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
}

static struct piece next_piece(const char *s, size_t len)
{
	struct piece p = {.len = 1, .cols = 1};
	unsigned char c = (unsigned char)s[0];
	if (c == '\033') { /* CSI: ESC [ parameters, then a final byte 0x40..0x7E */
		p.cols = 0;
		if (len > 1 && s[1] == '[') {
			size_t i = 2;
			while (i < len &&
			       ((unsigned char)s[i] < 0x40 || (unsigned char)s[i] > 0x7E))
				i++;
			p.len = i < len ? i + 1 : len;
		}
		return p;
	}
	if (c == ' ' || c == '\t') {
		p.blank = true;
		p.tab = c == '\t';
		p.cols = p.tab ? 0 : 1;
		return p;
	}
	if (c == '\\' && len > 1) { /* what escape_append writes: \xNN, \u{X...}, \c */
		if (s[1] == 'x' && len >= 4)
			p.len = 4;
		else if (s[1] == 'u' && len > 2 && s[2] == '{') {
			const char *end = memchr(s + 3, '}', len - 3);
			p.len = end ? (size_t)(end - s) + 1 : 2;
		} else
			p.len = 2;
		p.cols = p.len;
		return p;
	}
	size_t n = utf8_len(c);
	if (n > len)
		n = len;
	uint32_t cp = n == 1 ? c : (uint32_t)(c & (0x7F >> n));
	for (size_t k = 1; k < n; k++)
		cp = cp << 6 | ((unsigned char)s[k] & 0x3F);
	p.len = n;
	p.cols = n == 1 ? 1 : (size_t)escape_char_columns(cp);
	return p;
}

static size_t piece_cols(const struct piece *p, size_t col)
{
	return p->tab ? 8 - col % 8 : p->cols;
}

size_t wrap_columns(const char *s, size_t len)
{
	size_t col = 0;
	for (size_t i = 0; i < len;) {
		struct piece p = next_piece(s + i, len - i);
		col += piece_cols(&p, col);
		i += p.len;
	}
	return col;
}

/* The columns of the word at s (up to the next blank) and its length in bytes. */
static size_t word_at(const char *s, size_t len, size_t *bytes)
{
	size_t i = 0, cols = 0;
	while (i < len) {
		struct piece p = next_piece(s + i, len - i);
		if (p.blank)
			break;
		cols += p.cols;
		i += p.len;
	}
	*bytes = i;
	return cols;
}

static int newline(struct buf *out, size_t hang, size_t *col)
{
	*col = hang;
	if (buf_putc(out, '\n') < 0)
		return -1;
	for (size_t k = 0; k < hang; k++)
		if (buf_putc(out, ' ') < 0)
			return -1;
	return 0;
}

int wrap_line(struct buf *out, const char *line, size_t len, size_t width, size_t hang)
{
	if (width == 0 || hang + 10 > width || wrap_columns(line, len) <= width)
		return buf_append(out, line, len);
	size_t col = 0, i = 0;
	bool content = false; /* the current output line has text after its indentation */
	while (i < len) {
		/* the blanks before the next word: kept if the word fits after them */
		size_t b = i, bcol = col;
		while (b < len) {
			struct piece p = next_piece(line + b, len - b);
			if (!p.blank)
				break;
			bcol += piece_cols(&p, bcol);
			b += p.len;
		}
		size_t wbytes, wcols = word_at(line + b, len - b, &wbytes);
		if (bcol + wcols <= width) {
			if (buf_append(out, line + i, b - i + wbytes) < 0)
				return -1;
			col = bcol + wcols;
			content = content || wcols > 0;
			i = b + wbytes;
			continue;
		}
		if (content) { /* the word goes to a line of its own, the blanks before it dropped
				*/
			if (newline(out, hang, &col) < 0)
				return -1;
			content = false;
		} else if (col < bcol && bcol < width) {
			/* blanks at the start of the line are indentation, kept */
			if (buf_append(out, line + i, b - i) < 0)
				return -1;
			col = bcol;
		}
		i = b;
		/* on its own line and still too wide: cut between pieces, filling each line */
		size_t end = b + wbytes;
		while (i < end) {
			struct piece p = next_piece(line + i, end - i);
			if (p.cols && col + p.cols > width && (content || col > hang)) {
				if (newline(out, hang, &col) < 0)
					return -1;
				content = false;
			}
			if (buf_append(out, line + i, p.len) < 0)
				return -1;
			col += p.cols;
			content = content || p.cols > 0;
			i += p.len;
		}
	}
	return 0;
}
