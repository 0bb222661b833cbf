#include "smtpsh/escape.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "unicode_tables.h"

/* How one unit of input (a byte, or a whole UTF-8 sequence) is shown. */
enum unit_kind {
	UNIT_PASS,    /* as it is */
	UNIT_BYTES,   /* every byte as \xNN */
	UNIT_NAMED,   /* a backslash escape: \\ \t \r \n */
	UNIT_UNICODE, /* \u{XXXX} */
};

struct unit {
	enum unit_kind kind;
	size_t len;  /* input bytes it covers */
	uint32_t cp; /* the code point, for UNIT_UNICODE */
	char name;   /* the letter after the backslash, for UNIT_NAMED */
};

/*
 * Length of the well-formed UTF-8 sequence at s[0..len) (RFC 3629 table: no overlong
 * forms, no surrogates, nothing above U+10FFFF) and its code point; 0 when not well formed.
 */
static size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
	unsigned char c = s[0];
	size_t n;
	unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */

	if (c >= 0xC2 && c <= 0xDF) {
		n = 2;
		*cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		*cp = c & 0x0F;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		*cp = c & 0x07;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else {
		return 0;
	}
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		*cp = (*cp << 6) | (s[i] & 0x3F);
	}
	return n;
}

static int cmp_range(const void *key, const void *elem)
{
	uint32_t cp = *(const uint32_t *)key;
	const struct cp_range *r = elem;
	return cp < r->lo ? -1 : cp > r->hi ? 1 : 0;
}

#define IN_TABLE(cp, t)                                                                            \
	(bsearch(&(cp), (t), sizeof(t) / sizeof((t)[0]), sizeof((t)[0]), cmp_range) != NULL)

/*
 * Characters a terminal shows as nothing, or that change how the rest of the line is laid out:
 * format characters (Cf: the bidi controls that can reorder the line, zero-width spaces and
 * joiners, the soft hyphen, tags), line and paragraph separators (Zl, Zp) and the other
 * default-ignorable code points (variation selectors, fillers). A server could hide text with
 * them or make two different names look alike (UTS #39), so they are shown by number.
 */
static bool is_invisible(uint32_t cp)
{
	return IN_TABLE(cp, invisible_ranges);
}

/* A combining mark (Mn, Mc, Me) draws on the character before it. */
static bool is_combining(uint32_t cp)
{
	return IN_TABLE(cp, combining_ranges);
}

/*
 * after_escape: the unit follows an escape we wrote (or starts the text). A combining mark
 * there would draw on our own "\x1b" or on the text before the escaped line (the marker "<- "),
 * so it is escaped too; after a character of the text itself it passes (an accent on a letter).
 */
static struct unit next_unit(const char *in, size_t len, bool after_escape)
{
	const unsigned char *s = (const unsigned char *)in;
	struct unit u = {UNIT_PASS, 1, 0, 0};

	if (s[0] < 0x80) {
		switch (s[0]) {
		case '\\':
			u.kind = UNIT_NAMED;
			u.name = '\\';
			break;
		case '\t':
			u.kind = UNIT_NAMED;
			u.name = 't';
			break;
		case '\r':
			u.kind = UNIT_NAMED;
			u.name = 'r';
			break;
		case '\n':
			u.kind = UNIT_NAMED;
			u.name = 'n';
			break;
		default:
			if (s[0] < 0x20 || s[0] == 0x7F)
				u.kind = UNIT_BYTES;
		}
		return u;
	}

	uint32_t cp = 0;
	size_t n = utf8_decode(s, len, &cp);
	if (n == 0) {
		/* Only the first byte: what follows is looked at again on its own. */
		u.kind = UNIT_BYTES;
		return u;
	}
	u.len = n;
	if (cp <= 0x9F) {
		u.kind = UNIT_BYTES; /* C1 control */
	} else if (is_invisible(cp) || (after_escape && is_combining(cp))) {
		u.kind = UNIT_UNICODE;
		u.cp = cp;
	}
	return u;
}

static int append_escaped(struct buf *out, const char *in, struct unit u)
{
	static const char hex[] = "0123456789abcdef";

	switch (u.kind) {
	case UNIT_PASS:
		return buf_append(out, in, u.len);
	case UNIT_NAMED: {
		char e[2] = {'\\', u.name};
		return buf_append(out, e, 2);
	}
	case UNIT_UNICODE:
		return buf_printf(out, "\\u{%04X}", (unsigned)u.cp);
	case UNIT_BYTES:
		for (size_t k = 0; k < u.len; k++) {
			unsigned char b = (unsigned char)in[k];
			char e[4] = {'\\', 'x', hex[b >> 4], hex[b & 0x0F]};
			if (buf_append(out, e, 4) < 0)
				return -1;
		}
		return 0;
	}
	return 0;
}

int escape_append(struct buf *out, const char *in, size_t len, int flags)
{
	size_t i = 0, pass = 0; /* in[pass..i) passes through, not copied yet */
	bool after_escape = true;

	/* CR and LF are shown as \r and \n with or without ESCAPE_SHOW_RAW. */
	while (i < len) {
		struct unit u = next_unit(in + i, len - i, after_escape);
		if (u.kind == UNIT_NAMED && u.name == '\\' && (flags & ESCAPE_KEEP_BACKSLASH))
			u.kind = UNIT_PASS;
		after_escape = u.kind != UNIT_PASS;
		if (u.kind != UNIT_PASS) {
			if (i > pass && buf_append(out, in + pass, i - pass) < 0)
				return -1;
			if (append_escaped(out, in + i, u) < 0)
				return -1;
			pass = i + u.len;
		}
		i += u.len;
	}
	if (i > pass && buf_append(out, in + pass, i - pass) < 0)
		return -1;
	/* Even for empty input, out->data is then a string. */
	return buf_append(out, "", 0);
}

int escape_needed(const char *in, size_t len)
{
	size_t i = 0;
	while (i < len) {
		struct unit u = next_unit(in + i, len - i, i == 0);
		if (u.kind != UNIT_PASS)
			return 1;
		i += u.len;
	}
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int escape_parse_typed(const char *text, struct buf *out, const char **bad)
{
	size_t n = strlen(text);
	*bad = NULL;
	if (buf_reserve(out, n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char c = text[i];
		int hi, lo;
		if (c == '\\') {
			char e = i + 1 < n ? text[i + 1] : '\0';
			if (e == '0')
				c = '\0';
			else if (e == 't')
				c = '\t';
			else if (e == 'n')
				c = '\n';
			else if (e == 'r')
				c = '\r';
			else if (e == '\\')
				c = '\\';
			else if (e == 'x' && i + 3 < n && (hi = hexval(text[i + 2])) >= 0 &&
				 (lo = hexval(text[i + 3])) >= 0) {
				c = (char)(hi * 16 + lo);
				i += 2;
			} else {
				*bad = text + i;
				return -1;
			}
			i++;
		}
		out->data[out->len++] = c;
	}
	out->data[out->len] = '\0';
	return 0;
}

int escape_char_columns(uint32_t cp)
{
	if (is_combining(cp))
		return 0;
	/* East Asian Wide and Fullwidth: Hangul Jamo, CJK, Hangul syllables, compatibility
	   ideographs, vertical and fullwidth forms, the emoji blocks, the supplementary planes */
	if ((cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) ||
	    (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
	    (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
	    (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x1F300 && cp <= 0x1F64F) ||
	    (cp >= 0x1F900 && cp <= 0x1F9FF) || (cp >= 0x20000 && cp <= 0x3FFFD))
		return 2;
	return 1;
}
