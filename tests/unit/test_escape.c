/* Unit tests of display escaping (src/util/escape.c). */
#include "smtpsh/escape.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

static void check_flags(const char *in, size_t len, const char *want, int flags, const char *name)
{
	struct buf out;
	buf_init(&out);
	int r = escape_append(&out, in, len, flags);
	is_int(r, 0, "%s: returns 0", name);
	is_str(out.data, want, "%s: escaped form", name);
	bool changed = strlen(want) != len || memcmp(want, in, len) != 0;
	is_int(escape_needed(in, len) != 0, changed, "%s: escape_needed agrees", name);
	buf_free(&out);
}

#define CHECK(in, want, name) check_flags(in, sizeof(in) - 1, want, ESCAPE_DEFAULT, name)

static void test_ascii(void)
{
	CHECK("", "", "empty");
	CHECK("250 mail.example ESMTP ready", "250 mail.example ESMTP ready", "plain ASCII");
	CHECK(" !\"#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}~", " !\"#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}~",
	      "every printable ASCII kind but backslash");
	CHECK("\x1b[2J", "\\x1b[2J", "ESC sequence");
	CHECK("a\x1b]0;title\x07z", "a\\x1b]0;title\\x07z", "OSC title sequence");
	CHECK("back\\slash", "back\\\\slash", "backslash doubled");
	CHECK("\\x1b", "\\\\x1b", "a literal \\x1b stays distinguishable");
	CHECK("a\tb", "a\\tb", "TAB");
	CHECK("a\r\nb", "a\\r\\nb", "CR LF");
	CHECK("\x7f", "\\x7f", "DEL");
	CHECK("a\0b", "a\\x00b", "NUL");
	CHECK("\x01\x08\x0b\x0c\x1f", "\\x01\\x08\\x0b\\x0c\\x1f", "other C0 controls");
	check_flags("a\r\n", 3, "a\\r\\n", ESCAPE_SHOW_RAW, "CR LF with ESCAPE_SHOW_RAW");
}

static void test_utf8(void)
{
	CHECK("caf\xc3\xa9", "caf\xc3\xa9", "e acute passes through");
	CHECK("\xe6\x97\xa5\xe6\x9c\xac", "\xe6\x97\xa5\xe6\x9c\xac", "Japanese passes through");
	CHECK("\xf0\x9f\x98\x80!", "\xf0\x9f\x98\x80!", "emoji passes through");
	CHECK("\xc2\xa0", "\xc2\xa0", "U+00A0, just above C1, passes");
	CHECK("\xed\x9f\xbf", "\xed\x9f\xbf", "U+D7FF, just below the surrogates, passes");
	CHECK("\xee\x80\x80", "\xee\x80\x80", "U+E000, just above the surrogates, passes");
	CHECK("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf", "U+10FFFF passes");
	CHECK("\xe2\x81\xb0", "\xe2\x81\xb0", "U+2070, after the bidi isolates, passes");

	CHECK("\xc2\x9b"
	      "31m",
	      "\\xc2\\x9b31m", "C1 CSI in UTF-8");
	CHECK("\xc2\x80\xc2\x9f", "\\xc2\\x80\\xc2\\x9f", "first and last C1");
	CHECK("\x9b"
	      "31m",
	      "\\x9b31m", "raw C1 byte (invalid UTF-8)");

	CHECK("abc\xe2\x80\xae"
	      "cba",
	      "abc\\u{202E}cba", "RIGHT-TO-LEFT OVERRIDE");
	CHECK("\xe2\x80\xaa\xe2\x80\xab\xe2\x80\xac\xe2\x80\xad",
	      "\\u{202A}\\u{202B}\\u{202C}\\u{202D}", "other bidi embeddings");
	CHECK("\xe2\x81\xa6\xe2\x81\xa7\xe2\x81\xa8\xe2\x81\xa9",
	      "\\u{2066}\\u{2067}\\u{2068}\\u{2069}", "bidi isolates");
	CHECK("\xe2\x80\x8e\xe2\x80\x8f\xd8\x9c", "\\u{200E}\\u{200F}\\u{061C}", "bidi marks");

	CHECK("a\xe2\x80\x8b"
	      "b\xe2\x80\x8c\xe2\x80\x8d",
	      "a\\u{200B}b\\u{200C}\\u{200D}", "zero-width space, non-joiner, joiner");
	CHECK("\xe2\x81\xa0\xe2\x81\xa4", "\\u{2060}\\u{2064}", "word joiner, invisible plus");
	CHECK("\xef\xbb\xbf"
	      "250",
	      "\\u{FEFF}250", "byte order mark / zero-width no-break space");
	CHECK("a\xe2\x80\xa8"
	      "b\xe2\x80\xa9",
	      "a\\u{2028}b\\u{2029}", "line and paragraph separators (Zl, Zp)");
	CHECK("\xe1\xa0\x8e", "\\u{180E}", "Mongolian vowel separator");
	CHECK("\xef\xbf\xb9\xef\xbf\xbb", "\\u{FFF9}\\u{FFFB}", "interlinear annotation");
	CHECK("soft\xc2\xadhyphen", "soft\\u{00AD}hyphen", "soft hyphen");
	CHECK("\xf3\xa0\x80\x81\xf3\xa0\x81\xbf", "\\u{E0001}\\u{E007F}", "tag characters");
	CHECK("a\xef\xb8\x8f", "a\\u{FE0F}", "variation selector 16");
	CHECK("a\xf3\xa0\x84\x80", "a\\u{E0100}", "variation selector 17");
	CHECK("\xe1\x85\x9f\xe3\x85\xa4", "\\u{115F}\\u{3164}",
	      "Hangul fillers (default ignorable)");
	CHECK("\xe2\x81\xa5", "\\u{2065}", "U+2065, unassigned but default ignorable");

	/* Combining marks draw on what precedes them: on a letter they pass; at the start (the
	   marker "<- " before it on screen) or after an escape they are escaped too. */
	CHECK("e\xcc\x81", "e\xcc\x81", "e + combining acute passes");
	CHECK("\xcc\x81"
	      "250",
	      "\\u{0301}250", "combining mark at the start");
	CHECK("\x16\x03\x01\xcc\x81\xcc\x82", "\\x16\\x03\\x01\\u{0301}\\u{0302}",
	      "combining marks after a control (TLS ClientHello bytes)");
	CHECK("\\\xe2\x83\x9d", "\\\\\\u{20DD}", "enclosing mark after a backslash");
	CHECK("a\xe2\x80\x8b\xcc\x81", "a\\u{200B}\\u{0301}",
	      "combining mark after a zero-width space");
	CHECK("\xe0\xa4\x95\xe0\xa4\xbf", "\xe0\xa4\x95\xe0\xa4\xbf",
	      "Devanagari KI (spacing mark) passes");

	CHECK("\xc0\xaf", "\\xc0\\xaf", "overlong slash (C0 AF)");
	CHECK("\xc1\xbf", "\\xc1\\xbf", "overlong C1 BF");
	CHECK("\xe0\x80\xaf", "\\xe0\\x80\\xaf", "overlong 3-byte");
	CHECK("\xf0\x80\x80\xaf", "\\xf0\\x80\\x80\\xaf", "overlong 4-byte");
	CHECK("\xe0\x9f\xbf", "\\xe0\\x9f\\xbf", "overlong U+07FF in 3 bytes");
	CHECK("\xf0\x8f\xbf\xbf", "\\xf0\\x8f\\xbf\\xbf", "overlong U+FFFF in 4 bytes");
	CHECK("\xe0\xa0\x80", "\xe0\xa0\x80", "U+0800, the first 3-byte code point, passes");
	CHECK("\xed\xa0\x80", "\\xed\\xa0\\x80", "high surrogate");
	CHECK("\xed\xbf\xbf", "\\xed\\xbf\\xbf", "low surrogate");
	CHECK("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80", "above U+10FFFF");
	CHECK("\xf5\x80\x80\x80", "\\xf5\\x80\\x80\\x80", "F5 lead byte");
	CHECK("\xff\xfe", "\\xff\\xfe", "FF and FE");
	CHECK("\x80", "\\x80", "lone continuation byte");
	CHECK("a\xe6\x97", "a\\xe6\\x97", "truncated 3-byte sequence at the end");
	CHECK("\xf0\x9f\x98", "\\xf0\\x9f\\x98", "truncated 4-byte sequence at the end");
	CHECK("\xc3", "\\xc3", "lone lead byte at the end");
	CHECK("\xe6\x97x\xc3\xa9", "\\xe6\\x97x\xc3\xa9", "truncated then ASCII then valid");
	CHECK("\xc3\xc3\xa9", "\\xc3\xc3\xa9", "lead byte then a valid sequence");
}

static void test_buffer(void)
{
	struct buf out;
	buf_init(&out);
	buf_puts(&out, "<- ");
	escape_append(&out, "250 \x1b", 5, ESCAPE_DEFAULT);
	is_str(out.data, "<- 250 \\x1b", "appends after what the buffer holds");
	buf_free(&out);

	buf_init(&out);
	is_int(escape_append(&out, "", 0, ESCAPE_DEFAULT), 0, "empty input");
	ok(out.data && out.data[0] == '\0' && out.len == 0, "empty input: empty string");
	buf_free(&out);

	const char in[] = "ab\x1b"
			  "cd";
	ok(escape_needed(in, 2) == 0 && escape_needed(in, 3) != 0, "escape_needed honours len");
	ok(escape_needed("\xe6\x97\xa5", 2) != 0, "cut in a sequence by len: needed");
}

static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
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

/* Reverses escape_append; false when s is not something it could have written. */
static bool unescape(const char *s, size_t len, struct buf *out)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return false; /* a control byte reached the output */
		if (c != '\\') {
			buf_putc(out, (char)c);
			continue;
		}
		if (++i >= len)
			return false;
		switch (s[i]) {
		case '\\':
			buf_putc(out, '\\');
			break;
		case 't':
			buf_putc(out, '\t');
			break;
		case 'r':
			buf_putc(out, '\r');
			break;
		case 'n':
			buf_putc(out, '\n');
			break;
		case 'x':
			if (i + 2 >= len || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0)
				return false;
			buf_putc(out, (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2])));
			i += 2;
			break;
		case 'u': {
			unsigned cp = 0;
			if (i + 1 >= len || s[++i] != '{')
				return false;
			while (++i < len && s[i] != '}') {
				if (hexval(s[i]) < 0)
					return false;
				cp = cp * 16 + (unsigned)hexval(s[i]);
			}
			if (i >= len || cp < 0xA0 || cp > 0x10FFFF ||
			    (cp >= 0xD800 && cp <= 0xDFFF))
				return false;
			if (cp < 0x800) {
				buf_putc(out, (char)(0xC0 | (cp >> 6)));
			} else if (cp < 0x10000) {
				buf_putc(out, (char)(0xE0 | (cp >> 12)));
				buf_putc(out, (char)(0x80 | ((cp >> 6) & 0x3F)));
			} else {
				buf_putc(out, (char)(0xF0 | (cp >> 18)));
				buf_putc(out, (char)(0x80 | ((cp >> 12) & 0x3F)));
				buf_putc(out, (char)(0x80 | ((cp >> 6) & 0x3F)));
			}
			buf_putc(out, (char)(0x80 | (cp & 0x3F)));
			break;
		}
		default:
			return false;
		}
	}
	return true;
}

/* Random bytes biased towards UTF-8 edge cases: the escaped form decodes back (fixed seed). */
static void test_property(void)
{
	static const unsigned char pool[] = {'a',  '\\', 'x',  '{',  0x00, 0x1b, '\t', '\r', '\n',
					     0x7f, 0x80, 0x9b, 0xa0, 0xbf, 0xc0, 0xc2, 0xc3, 0xe2,
					     0xe0, 0xed, 0xf0, 0xf4, 0xf5, 0xff, 0x81, 0xae, 0xa6,
					     0xcc, 0x8b, 0xf3, 0xad, 0xbb, 0xef};
	uint32_t seed = 777;
	int bad_round = 0, bad_needed = 0, bad_again = 0;
	struct buf in, out, back, again, doubled;
	buf_init(&in);
	buf_init(&out);
	buf_init(&back);
	buf_init(&again);
	buf_init(&doubled);
	for (int round = 0; round < 20000; round++) {
		buf_reset(&in);
		size_t len = rnd(&seed) % 12;
		for (size_t i = 0; i < len; i++)
			buf_putc(&in, (char)pool[rnd(&seed) % sizeof(pool)]);
		const char *data = in.data ? in.data : "";
		buf_reset(&out);
		buf_reset(&back);
		escape_append(&out, data, len, ESCAPE_DEFAULT);
		if (!unescape(out.data, out.len, &back) || back.len != len ||
		    (len && memcmp(back.data, data, len))) {
			if (!bad_round++)
				tap_show("escaped form does not decode back, input", data, len);
		}
		bool changed = out.len != len || (len && memcmp(out.data, data, len));
		if ((escape_needed(data, len) != 0) != changed)
			bad_needed++;

		/* Escaping the escaped form again only doubles its backslashes: it holds
		   nothing else that needs escaping (no invalid UTF-8, C1 or bidi). */
		buf_reset(&again);
		buf_reset(&doubled);
		escape_append(&again, out.data, out.len, ESCAPE_DEFAULT);
		for (size_t i = 0; i < out.len; i++) {
			if (out.data[i] == '\\')
				buf_putc(&doubled, '\\');
			buf_putc(&doubled, out.data[i]);
		}
		if (again.len != doubled.len ||
		    (again.len && memcmp(again.data, doubled.data, again.len)))
			bad_again++;
	}
	is_int(bad_round, 0, "random input: escaped form has no control byte and decodes back");
	is_int(bad_needed, 0, "random input: escape_needed says whether anything changed");
	is_int(bad_again, 0, "random input: the escaped form is display-safe");
	buf_free(&again);
	buf_free(&doubled);
	buf_free(&in);
	buf_free(&out);
	buf_free(&back);
}

int main(void)
{
	test_ascii();
	test_utf8();
	test_buffer();
	test_property();
	return done_testing();
}
