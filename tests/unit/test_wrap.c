/* Unit tests of fitting screen lines to a narrow terminal (src/util/wrap.c). */
#include "smtpsh/wrap.h"

#include <string.h>

#include "tap.h"

static void check(const char *in, size_t width, size_t hang, const char *want, const char *name)
{
	struct buf out;
	buf_init(&out);
	is_int(wrap_line(&out, in, strlen(in), width, hang), 0, "%s: returns 0", name);
	is_str(out.data ? out.data : "", want, "%s", name);
	/* whatever the input, no line is wider than width (unless a width of 0 or a hang that
	   leaves too little room turned wrapping off) */
	const char *p = out.data ? out.data : "";
	bool fits = true;
	while (width && hang + 10 <= width && *p) {
		size_t n = strcspn(p, "\n");
		if (wrap_columns(p, n) > width)
			fits = false;
		p += n + (p[n] ? 1 : 0);
	}
	ok(fits, "%s: every line fits in %zu columns", name, width);
	buf_free(&out);
}

int main(void)
{
	check("<- 250 ok", 20, 3, "<- 250 ok", "a short line is left alone");
	check("<- 250 the quick brown fox jumps", 20, 3, "<- 250 the quick\n   brown fox jumps",
	      "breaks at the last blank that fits, continuation indented under the text");
	check("<- 250 aaaa bbbb cccc dddd eeee ffff gggg", 16, 3,
	      "<- 250 aaaa bbbb\n   cccc dddd\n   eeee ffff\n   gggg",
	      "several continuation lines");
	check("<- 550 abcdefghijklmnopqrstuvwxyz0123456789", 20, 3,
	      "<- 550\n   abcdefghijklmnopq\n   rstuvwxyz01234567\n   89",
	      "a word wider than the line is cut, filling each line");
	check("<- 550 abcdefghijklmn\\x1bopq", 20, 3, "<- 550\n   abcdefghijklmn\n   \\x1bopq",
	      "an escape \\xNN is never split");
	check("<- 550 abcdefghijklm\\u{200b}z", 20, 3, "<- 550\n   abcdefghijklm\n   \\u{200b}z",
	      "an escape \\u{...} is never split");
	check("<- 550 abcdefghijklmno\\\\z", 20, 3, "<- 550\n   abcdefghijklmno\\\\\n   z",
	      "an escaped backslash \\\\ stays whole");
	check("<- 250 h\xc3\xa9h\xc3\xa9 \xe6\x97\xa5\xe6\x97\xa5\xe6\x97\xa5\xe6\x97\xa5", 16, 3,
	      "<- 250 h\xc3\xa9h\xc3\xa9\n   \xe6\x97\xa5\xe6\x97\xa5\xe6\x97\xa5\xe6\x97\xa5",
	      "UTF-8: an accented letter is one column, a CJK character two");
	is_int((int)wrap_columns("\xe6\x97\xa5", 3), 2, "a wide character takes two columns");
	is_int((int)wrap_columns("e\xcc\x81", 3), 1, "a combining mark takes none");
	is_int((int)wrap_columns("\033[32m250\033[0m", 12), 3, "SGR sequences take none");
	is_int((int)wrap_columns("ab\tc", 4), 9, "a TAB goes to the next multiple of 8");
	check("\033[2m<-\033[0m 250 the quick brown \033[32mfox\033[0m jumps", 20, 3,
	      "\033[2m<-\033[0m 250 the quick\n   brown \033[32mfox\033[0m jumps",
	      "colour sequences are kept whole and take no room");
	check("<- 250 ok the quick brown  \t[hint: try again later]", 20, 3,
	      "<- 250 ok the quick\n   brown\n   [hint: try again\n   later]",
	      "a break at the annotations' TAB drops it");
	check("<- 250 ok  \t[hint: x]", 30, 3, "<- 250 ok  \t[hint: x]",
	      "the TAB stays when the line fits");
	check("   a table row  with its second column", 20, 17,
	      "   a table row  with its second column",
	      "a hang that leaves fewer than 10 columns turns wrapping off");
	check("      indented words that go on", 20, 8, "      indented words\n        that go on",
	      "leading blanks are indentation, kept");
	check("anything at all", 0, 3, "anything at all", "width 0: unchanged (a pipe)");
	return done_testing();
}
