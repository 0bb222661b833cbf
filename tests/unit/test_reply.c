/* Unit tests of the incremental reply parser (src/smtp/reply.c). */
#include "smtpsh/reply.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

/* Room the parser may use above REPLY_LINE_MAX for a CR, the LF marker and the NUL. */
#define CAP_SLACK 16

#define S(lit) lit, sizeof(lit) - 1

/* One push on the whole of data, which must give exactly one line. */
static enum reply_result push1(struct reply_parser *p, const char *data, size_t len,
			       struct reply_line *line, size_t *used)
{
	return reply_parser_push(p, data, len, used, line);
}

/*
 * Feeds in[0..len) cut at the given offsets (increasing) and writes every line the parser
 * gives, one per log line, to log. Checks what push promises about *used along the way and
 * logs "USED" when a promise is broken.
 */
static void feed(struct reply_parser *p, const char *in, size_t len, const size_t *cuts,
		 size_t ncuts, struct buf *log)
{
	size_t from = 0;
	for (size_t c = 0; c <= ncuts; c++) {
		size_t to = c < ncuts ? cuts[c] : len;
		while (from < to) {
			struct reply_line l;
			size_t used = SIZE_MAX;
			enum reply_result r = reply_parser_push(p, in + from, to - from, &used, &l);
			if (used > to - from || (r == REPLY_MORE && used != to - from) ||
			    (r != REPLY_MORE && used == 0)) {
				buf_printf(log, "USED %zu of %zu\n", used, to - from);
				return;
			}
			from += used;
			if (r == REPLY_MORE)
				continue;
			buf_printf(log, "r=%d code=%d last=%d bare=%d err=%d len=%zu:", (int)r,
				   l.code, (int)l.last, (int)l.bare_lf, (int)l.err, l.len);
			buf_append(log, l.text, l.len);
			buf_putc(log, '\n');
		}
	}
}

static void feed_whole(const char *in, size_t len, struct buf *log)
{
	struct reply_parser p;
	reply_parser_init(&p);
	feed(&p, in, len, NULL, 0, log);
	buf_printf(log, "pending=%zu busy=%d\n", reply_parser_pending(&p),
		   (int)reply_parser_busy(&p));
	reply_parser_free(&p);
}

static void feed_cut(const char *in, size_t len, const size_t *cuts, size_t ncuts, struct buf *log)
{
	struct reply_parser p;
	reply_parser_init(&p);
	feed(&p, in, len, cuts, ncuts, log);
	buf_printf(log, "pending=%zu busy=%d\n", reply_parser_pending(&p),
		   (int)reply_parser_busy(&p));
	reply_parser_free(&p);
}

static void test_single_line(void)
{
	struct reply_parser p;
	struct reply_line l;
	size_t used;
	reply_parser_init(&p);

	ok(!reply_parser_busy(&p), "fresh parser is not busy");
	is_int(reply_parser_pending(&p), 0, "fresh parser holds nothing");

	const char in[] = "250 OK\r\n";
	is_int(push1(&p, S(in), &l, &used), REPLY_DONE, "\"250 OK\\r\\n\" is a whole reply");
	is_int(used, 8, "it used every byte");
	is_mem(l.text, l.len, S("250 OK"), "text is the line without CRLF");
	is_int(l.code, 250, "code 250");
	ok(l.last && !l.bare_lf && l.err == REPLY_OK, "last, CRLF, no error");
	ok(!reply_parser_busy(&p), "not busy after the last line");
	is_int(reply_parser_pending(&p), 0, "nothing pending after the last line");

	is_int(push1(&p, S("250\r\n"), &l, &used), REPLY_DONE, "\"250\" alone is a whole reply");
	is_mem(l.text, l.len, S("250"), "text \"250\"");
	ok(l.code == 250 && l.last, "code 250, last");

	is_int(push1(&p, S("354 \r\n"), &l, &used), REPLY_DONE, "\"354 \" with empty text");
	is_int(l.code, 354, "code 354");
	is_int(push1(&p, S("599 x\r\n"), &l, &used), REPLY_DONE, "599 is accepted");
	is_int(push1(&p, S("200 x\r\n"), &l, &used), REPLY_DONE, "200 is accepted");

	/* Two replies in one buffer: push stops after the first line. */
	const char two[] = "221 bye\r\n250 more\r\n";
	is_int(push1(&p, S(two), &l, &used), REPLY_DONE, "first of two replies");
	is_int(used, 9, "stopped after the first line");
	is_int(push1(&p, two + used, sizeof(two) - 1 - used, &l, &used), REPLY_DONE,
	       "second of two replies");
	is_mem(l.text, l.len, S("250 more"), "second text");

	reply_parser_free(&p);
}

static void test_multi_line(void)
{
	struct reply_parser p;
	struct reply_line l;
	size_t used, off = 0;
	const char in[] = "250-mail.example Hello\r\n250-SIZE 1000\r\n250-8BITMIME\r\n250 HELP\r\n";
	const char *want[] = {"250-mail.example Hello", "250-SIZE 1000", "250-8BITMIME",
			      "250 HELP"};
	reply_parser_init(&p);

	for (int i = 0; i < 4; i++) {
		enum reply_result r =
		    reply_parser_push(&p, in + off, sizeof(in) - 1 - off, &used, &l);
		is_int(r, i < 3 ? REPLY_LINE : REPLY_DONE, "multi-line: line %d result", i + 1);
		is_mem(l.text, l.len, want[i], strlen(want[i]), "multi-line: line %d text", i + 1);
		ok(l.code == 250 && l.last == (i == 3), "multi-line: line %d code and last", i + 1);
		ok(reply_parser_busy(&p) == (i < 3), "multi-line: busy after line %d", i + 1);
		off += used;
	}
	is_int(off, sizeof(in) - 1, "multi-line: every byte used");
	is_int(p.nlines, 0, "line count back to 0 after the reply");
	reply_parser_free(&p);
}

static void test_line_ends(void)
{
	struct reply_parser p;
	struct reply_line l;
	size_t used;
	reply_parser_init(&p);

	is_int(push1(&p, S("250 ok\n"), &l, &used), REPLY_DONE, "bare LF ends a line");
	ok(l.bare_lf, "bare LF is flagged");
	is_mem(l.text, l.len, S("250 ok"), "bare LF: text");

	is_int(push1(&p, S("250 a\rb\r\n"), &l, &used), REPLY_DONE, "CR inside a line");
	is_mem(l.text, l.len, S("250 a\rb"), "CR not followed by LF stays in the text");
	ok(!l.bare_lf, "CRLF is not bare");

	is_int(push1(&p, S("250 a\r\r\n"), &l, &used), REPLY_DONE, "CR CR LF");
	is_mem(l.text, l.len, S("250 a\r"), "first CR of CR CR LF stays in the text");

	is_int(push1(&p, S("250 a\r"), &l, &used), REPLY_MORE, "line ending in CR: more");
	is_int(reply_parser_pending(&p), 6, "CR held as pending");
	is_int(push1(&p, S("\n"), &l, &used), REPLY_DONE, "LF in the next push");
	is_mem(l.text, l.len, S("250 a"), "CR + LF across pushes is CRLF");
	ok(!l.bare_lf, "CR + LF across pushes is not bare");

	is_int(push1(&p, S("250 a\r"), &l, &used), REPLY_MORE, "line ending in CR");
	is_int(push1(&p, S("x\n"), &l, &used), REPLY_DONE, "then more text and LF");
	is_mem(l.text, l.len, S("250 a\rx"), "the CR was part of the text");
	ok(l.bare_lf, "and the line end was a bare LF");

	is_int(push1(&p, S("250-a\n250 b\r\n"), &l, &used), REPLY_LINE, "bare LF continuation");
	is_int(used, 6, "bare LF: used");
	reply_parser_free(&p);
}

static void check_bad(const char *in, size_t len, enum reply_error err, const char *name)
{
	struct reply_parser p;
	struct reply_line l;
	size_t used;
	reply_parser_init(&p);
	enum reply_result r = reply_parser_push(&p, in, len, &used, &l);
	is_int(r, REPLY_BAD, "malformed %s: REPLY_BAD", name);
	is_int(l.err, err, "malformed %s: error %s", name, reply_error_str(err));
	is_int(l.code, 0, "malformed %s: code 0", name);
	ok(!reply_parser_busy(&p), "malformed %s: parser expects a new reply", name);
	/* The parser goes on with the next reply. */
	r = reply_parser_push(&p, S("250 ok\r\n"), &used, &l);
	ok(r == REPLY_DONE && l.code == 250, "malformed %s: next reply parses", name);
	reply_parser_free(&p);
}

static void test_malformed(void)
{
	struct reply_parser p;
	struct reply_line l;
	size_t used;

	check_bad(S("hello\r\n"), REPLY_ERR_SYNTAX, "non-numeric");
	check_bad(S("150 x\r\n"), REPLY_ERR_SYNTAX, "1xx");
	check_bad(S("650 x\r\n"), REPLY_ERR_SYNTAX, "6xx");
	check_bad(S("050 x\r\n"), REPLY_ERR_SYNTAX, "0xx");
	check_bad(S("25\r\n"), REPLY_ERR_SYNTAX, "2-digit");
	check_bad(S("25 ok\r\n"), REPLY_ERR_SYNTAX, "2-digit with text");
	check_bad(S("2a0 x\r\n"), REPLY_ERR_SYNTAX, "letter in code");
	check_bad(S("25a x\r\n"), REPLY_ERR_SYNTAX, "letter last in code");
	check_bad(S("2500 x\r\n"), REPLY_ERR_SYNTAX, "4-digit");
	check_bad(S("250x\r\n"), REPLY_ERR_SYNTAX, "code then letter");
	check_bad(S("250\tx\r\n"), REPLY_ERR_SYNTAX, "code then TAB");
	check_bad(S(" 250 x\r\n"), REPLY_ERR_SYNTAX, "leading blank");
	check_bad(S("\r\n"), REPLY_ERR_SYNTAX, "empty line");
	check_bad(S("\n"), REPLY_ERR_SYNTAX, "empty bare-LF line");
	check_bad(S("250 a\0b\r\n"), REPLY_ERR_NUL, "NUL in text");
	check_bad(S("\0\r\n"), REPLY_ERR_NUL, "NUL alone");
	check_bad(S("2\0000 x\r\n"), REPLY_ERR_NUL, "NUL in code");

	reply_parser_init(&p);
	is_int(push1(&p, S("250 a\0b\r\n"), &l, &used), REPLY_BAD, "NUL line");
	is_mem(l.text, l.len, S("250 a\0b"), "NUL line: text as received");

	is_int(push1(&p, S("xyz\r\n"), &l, &used), REPLY_BAD, "syntax: BAD");
	is_mem(l.text, l.len, S("xyz"), "syntax: text as received");

	is_int(push1(&p, S("250-a\r\n"), &l, &used), REPLY_LINE, "code change: first line");
	is_int(push1(&p, S("251-b\r\n"), &l, &used), REPLY_BAD, "code change: BAD");
	is_int(l.err, REPLY_ERR_CODE_CHANGED, "code change: error");
	is_mem(l.text, l.len, S("251-b"), "code change: text");
	ok(!reply_parser_busy(&p), "code change: parser reset");
	is_int(push1(&p, S("251 c\r\n"), &l, &used), REPLY_DONE, "after BAD a new reply begins");
	is_int(l.code, 251, "new reply code");

	is_int(push1(&p, S("250-a\r\n"), &l, &used), REPLY_LINE, "code change on last line");
	is_int(push1(&p, S("550 no\r\n"), &l, &used), REPLY_BAD, "550 after 250-: BAD");
	is_int(l.err, REPLY_ERR_CODE_CHANGED, "550 after 250-: code changed");

	is_int(push1(&p, S("250-a\r\n"), &l, &used), REPLY_LINE, "syntax error mid-reply");
	is_int(push1(&p, S("junk\r\n"), &l, &used), REPLY_BAD, "junk mid-reply: BAD");
	ok(!reply_parser_busy(&p), "junk mid-reply: parser reset");
	reply_parser_free(&p);

	for (int e = REPLY_OK; e <= REPLY_ERR_NUL; e++) {
		const char *s = reply_error_str((enum reply_error)e);
		ok(s && *s, "reply_error_str(%d) = \"%s\"", e, s ? s : "(null)");
	}
}

static void test_pending_busy(void)
{
	struct reply_parser p;
	struct reply_line l;
	size_t used;
	reply_parser_init(&p);

	is_int(push1(&p, S("25"), &l, &used), REPLY_MORE, "partial code: more");
	is_int(used, 2, "partial code: used");
	is_int(reply_parser_pending(&p), 2, "partial code: 2 pending");
	ok(reply_parser_busy(&p), "partial line: busy");
	is_int(push1(&p, S("0-a\r\n"), &l, &used), REPLY_LINE, "rest of the line");
	is_mem(l.text, l.len, S("250-a"), "joined text");
	is_int(reply_parser_pending(&p), 0, "line handed out: nothing pending");
	ok(reply_parser_busy(&p), "inside a multi-line reply: busy");
	is_int(push1(&p, S(""), &l, &used), REPLY_MORE, "empty push: more");
	is_int(used, 0, "empty push: nothing used");
	ok(reply_parser_busy(&p), "empty push: still busy");
	is_int(push1(&p, S("250 b\r\n"), &l, &used), REPLY_DONE, "last line");
	ok(!reply_parser_busy(&p), "after the last line: not busy");

	is_int(push1(&p, S("250-a\r\n25"), &l, &used), REPLY_LINE, "line then partial");
	is_int(push1(&p, S("25"), &l, &used), REPLY_MORE, "partial");
	reply_parser_reset(&p);
	ok(!reply_parser_busy(&p) && reply_parser_pending(&p) == 0, "reset forgets all");
	is_int(push1(&p, S("220 ready\r\n"), &l, &used), REPLY_DONE, "after reset: new reply");
	is_mem(l.text, l.len, S("220 ready"), "after reset: text");

	/* The text is the parser's copy: the caller may reuse its input buffer at once. */
	char in[] = "250 copy\r\n";
	is_int(push1(&p, in, sizeof(in) - 1, &l, &used), REPLY_DONE, "copy: line");
	memset(in, 'z', sizeof(in) - 1);
	is_mem(l.text, l.len, S("250 copy"), "text survives a change of the input");
	reply_parser_free(&p);
}

/* Every split of a tricky sample in 2 and 3 pieces, and byte by byte, gives the same lines. */
static void test_splits(void)
{
	static const char in[] = "220 hi\r\n"
				 "250-one\r\n"
				 "250-two\n"
				 "250 three\r\r\n"
				 "250\r\n"
				 "xx\r\n"
				 "354-a\r\n"
				 "355 b\r\n"
				 "250 n\0l\r\n"
				 "221 \rbye\r\n"
				 "250-";
	size_t len = sizeof(in) - 1;
	struct buf whole, cut;
	buf_init(&whole);
	buf_init(&cut);
	feed_whole(in, len, &whole);
	ok(strstr(whole.data, "USED") == NULL, "split sample: push keeps its promises");
	ok(strstr(whole.data, "len=6:220 hi\n") != NULL, "split sample: sanity");

	int bad2 = 0, bad3 = 0;
	for (size_t i = 0; i <= len; i++) {
		buf_reset(&cut);
		feed_cut(in, len, &i, 1, &cut);
		if (cut.len != whole.len || memcmp(cut.data, whole.data, cut.len)) {
			if (!bad2++)
				diag("split at %zu differs:\n%s\nvs\n%s", i, cut.data, whole.data);
		}
		for (size_t j = i; j <= len; j++) {
			size_t cuts[2] = {i, j};
			buf_reset(&cut);
			feed_cut(in, len, cuts, 2, &cut);
			if (cut.len != whole.len || memcmp(cut.data, whole.data, cut.len)) {
				if (!bad3++)
					diag("split at %zu,%zu differs", i, j);
			}
		}
	}
	is_int(bad2, 0, "every split in 2 pieces gives the same lines");
	is_int(bad3, 0, "every split in 3 pieces gives the same lines");

	size_t cuts[sizeof(in)];
	for (size_t i = 0; i < len; i++)
		cuts[i] = i + 1;
	buf_reset(&cut);
	feed_cut(in, len, cuts, len - 1, &cut);
	is_mem(cut.data, cut.len, whole.data, whole.len, "byte by byte gives the same lines");
	buf_free(&whole);
	buf_free(&cut);
}

static char *make_line(size_t text_len, const char *end)
{
	size_t elen = strlen(end);
	char *s = malloc(text_len + elen + 1);
	if (!s)
		return NULL;
	memcpy(s, "250 ", 4);
	memset(s + 4, 'x', text_len - 4);
	memcpy(s + text_len, end, elen + 1);
	return s;
}

static void test_max_length(void)
{
	struct reply_parser p;
	struct reply_line l;
	size_t used;
	char *s;
	reply_parser_init(&p);

	/* Exactly REPLY_LINE_MAX bytes: fine, in one push and byte by byte. */
	s = make_line(REPLY_LINE_MAX, "\r\n");
	is_int(push1(&p, s, REPLY_LINE_MAX + 2, &l, &used), REPLY_DONE, "line of the maximum");
	is_int(l.len, REPLY_LINE_MAX, "maximum: length");
	ok(l.text && memcmp(l.text, s, REPLY_LINE_MAX) == 0, "maximum: text");
	ok(p.line.cap <= REPLY_LINE_MAX + CAP_SLACK, "maximum: memory bounded (cap %zu)",
	   p.line.cap);

	enum reply_result r = REPLY_MORE;
	size_t i, lines = 0;
	for (i = 0; i < REPLY_LINE_MAX + 2; i++) {
		r = reply_parser_push(&p, s + i, 1, &used, &l);
		if (r != REPLY_MORE)
			lines++;
	}
	ok(r == REPLY_DONE && lines == 1 && l.len == REPLY_LINE_MAX && !l.bare_lf,
	   "maximum byte by byte: one line of the maximum");
	free(s);

	/* The maximum, then CR and LF in separate pushes. */
	s = make_line(REPLY_LINE_MAX, "\r\n");
	is_int(push1(&p, s, REPLY_LINE_MAX, &l, &used), REPLY_MORE, "maximum without end");
	is_int(push1(&p, "\r", 1, &l, &used), REPLY_MORE, "then CR: still more");
	is_int(push1(&p, "\n", 1, &l, &used), REPLY_DONE, "then LF: line");
	is_int(l.len, REPLY_LINE_MAX, "maximum + CR + LF: length");
	free(s);

	/* The maximum, a CR, then something else: the CR made it too long. */
	s = make_line(REPLY_LINE_MAX, "\r");
	is_int(push1(&p, s, REPLY_LINE_MAX + 1, &l, &used), REPLY_MORE, "maximum + CR: more");
	is_int(push1(&p, S("y\r\n250 ok\r\n"), &l, &used), REPLY_BAD, "then y: too long");
	is_int(l.err, REPLY_ERR_TOO_LONG, "maximum + CR + y: TOO_LONG");
	is_int(l.len, REPLY_LINE_MAX, "TOO_LONG text holds REPLY_LINE_MAX bytes");
	is_int(used, 3, "the rest of the line with its LF was used");
	is_int(push1(&p, S("250 ok\r\n"), &l, &used), REPLY_DONE, "next line parses");
	free(s);

	/* One byte too many with the line end in the same push. */
	s = make_line(REPLY_LINE_MAX + 1, "\r\n250 ok\r\n");
	is_int(push1(&p, s, REPLY_LINE_MAX + 11, &l, &used), REPLY_BAD, "maximum + 1: BAD");
	is_int(l.err, REPLY_ERR_TOO_LONG, "maximum + 1: TOO_LONG");
	ok(l.len == REPLY_LINE_MAX && memcmp(l.text, s, REPLY_LINE_MAX) == 0,
	   "maximum + 1: text is the first REPLY_LINE_MAX bytes");
	is_int(used, REPLY_LINE_MAX + 3, "maximum + 1: used up to the LF");
	ok(!p.skipping, "maximum + 1: nothing left to skip");
	is_int(push1(&p, s + used, 8, &l, &used), REPLY_DONE, "maximum + 1: next line parses");
	free(s);

	/* One byte too many, byte by byte: reported on the byte after the maximum. */
	s = make_line(REPLY_LINE_MAX + 1, "\n250 ok\r\n");
	size_t bad_at = 0, nbad = 0, done = 0;
	for (i = 0; i < REPLY_LINE_MAX + 10; i++) {
		r = reply_parser_push(&p, s + i, 1, &used, &l);
		if (r == REPLY_BAD) {
			nbad++;
			bad_at = i;
		} else if (r == REPLY_DONE) {
			done++;
		}
	}
	is_int(nbad, 1, "byte by byte: one BAD");
	is_int(bad_at, REPLY_LINE_MAX, "byte by byte: BAD as soon as the cap is hit");
	is_int(done, 1, "byte by byte: the next reply still parses");
	free(s);
	reply_parser_free(&p);
}

/* Several MB without LF, fed in chunks: one BAD, memory bounded, then back in sync. */
static void test_overlong_stream(void)
{
	struct reply_parser p;
	struct reply_line l;
	size_t used;
	const size_t total = 5 * 1024 * 1024, chunk = 4093;
	char *data = malloc(chunk);
	if (!data) {
		ok(0, "malloc");
		return;
	}
	reply_parser_init(&p);

	memset(data, 'A', chunk);
	memcpy(data, "250-", 4);
	size_t fed = 0, nbad = 0, nother = 0, bad_after = 0, max_cap = 0;
	bool pending_ok = true, used_ok = true;
	while (fed < total) {
		size_t n = total - fed < chunk ? total - fed : chunk;
		size_t off = 0;
		while (off < n) {
			enum reply_result r = reply_parser_push(&p, data + off, n - off, &used, &l);
			if (used == 0 || used > n - off)
				used_ok = false;
			if (r == REPLY_BAD) {
				nbad++;
				bad_after = fed + off + used;
				if (l.err != REPLY_ERR_TOO_LONG || l.len != REPLY_LINE_MAX ||
				    memcmp(l.text, "250-AAAA", 8) != 0)
					diag("unexpected BAD line: err %d len %zu", (int)l.err,
					     l.len);
			} else if (r != REPLY_MORE) {
				nother++;
			}
			if (used == 0)
				break;
			off += used;
			if (p.line.cap > max_cap)
				max_cap = p.line.cap;
			if (reply_parser_pending(&p) > REPLY_LINE_MAX + 1)
				pending_ok = false;
		}
		fed += n;
		if (fed == chunk)
			memset(data, 'A', 4); /* only the first chunk starts with the code */
	}
	ok(used_ok, "overlong: every push used its bytes");
	is_int(nbad, 1, "overlong: reported once");
	is_int(nother, 0, "overlong: no other line");
	ok(bad_after > REPLY_LINE_MAX && bad_after <= REPLY_LINE_MAX + chunk,
	   "overlong: reported as soon as the cap was hit (after %zu bytes)", bad_after);
	ok(max_cap <= REPLY_LINE_MAX + CAP_SLACK, "overlong: memory bounded (cap %zu)", max_cap);
	ok(pending_ok, "overlong: pending bounded");
	ok(p.skipping && reply_parser_busy(&p), "overlong: still skipping, busy");
	is_int(reply_parser_pending(&p), 0, "overlong: nothing pending while skipping");

	const char tail[] = "AAAA\r\n250 ok\r\n";
	is_int(push1(&p, S(tail), &l, &used), REPLY_DONE, "overlong: next reply after the LF");
	is_mem(l.text, l.len, S("250 ok"), "overlong: next reply text");
	ok(!reply_parser_busy(&p), "overlong: back in sync");

	/* The same in one push, LF included. */
	char *big = malloc(total + 10);
	if (big) {
		memset(big, 'B', total);
		memcpy(big, "220 ", 4);
		memcpy(big + total, "\r\n221 x\r\n", 9);
		is_int(push1(&p, big, total + 9, &l, &used), REPLY_BAD,
		       "overlong in one push: BAD");
		is_int(used, total + 2, "overlong in one push: used through the LF");
		ok(p.line.cap <= REPLY_LINE_MAX + CAP_SLACK,
		   "overlong in one push: memory bounded");
		is_int(push1(&p, big + used, 7, &l, &used), REPLY_DONE,
		       "overlong in one push: next reply");
		free(big);
	}

	/* Reset while skipping. */
	memset(data, 'C', chunk);
	memcpy(data, "250 ", 4);
	for (size_t k = 0; k < 20; k++)
		reply_parser_push(&p, data, chunk, &used, &l);
	ok(p.skipping, "skipping a long line");
	reply_parser_reset(&p);
	ok(!p.skipping && !reply_parser_busy(&p), "reset stops skipping");
	is_int(push1(&p, S("220 x\r\n"), &l, &used), REPLY_DONE, "after reset: new reply");

	free(data);
	reply_parser_free(&p);
}

static void test_too_many_lines(void)
{
	struct reply_parser p;
	struct reply_line l;
	size_t used, nline = 0, ndone = 0, nbad = 0;
	enum reply_result r;
	reply_parser_init(&p);

	for (int i = 0; i < REPLY_LINES_MAX - 1; i++)
		if (push1(&p, S("250-x\r\n"), &l, &used) == REPLY_LINE)
			nline++;
	r = push1(&p, S("250 end\r\n"), &l, &used);
	ok(nline == REPLY_LINES_MAX - 1 && r == REPLY_DONE, "REPLY_LINES_MAX lines are fine");

	nline = 0;
	for (int i = 0; i < REPLY_LINES_MAX + 1; i++) {
		r = push1(&p, S("250-x\r\n"), &l, &used);
		if (r == REPLY_LINE)
			nline++;
		else if (r == REPLY_DONE)
			ndone++;
		else if (r == REPLY_BAD && l.err == REPLY_ERR_TOO_MANY_LINES)
			nbad++;
	}
	is_int(nline, REPLY_LINES_MAX, "REPLY_LINES_MAX continuation lines");
	is_int(nbad, 1, "the one after them is TOO_MANY_LINES");
	is_int(ndone, 0, "no reply done");
	is_int(push1(&p, S("250 end\r\n"), &l, &used), REPLY_DONE,
	       "after TOO_MANY_LINES a new reply begins");
	reply_parser_free(&p);
}

/* Random inputs with random cuts give the same lines as in one piece (fixed seed). */
static void test_random_splits(void)
{
	static const char *pieces[] = {"250-a\r\n", "250 b\r\n", "\r",	   "\n",   "250",
				       "x",	    "\0",	 "550 no", "251-", "-"};
	uint32_t seed = 12345;
	int bad = 0;
	struct buf in, whole, cut;
	buf_init(&in);
	buf_init(&whole);
	buf_init(&cut);

	for (int round = 0; round < 300; round++) {
		buf_reset(&in);
		seed = seed * 1103515245u + 12345u;
		int n = (int)(seed >> 16) % 40;
		for (int k = 0; k < n; k++) {
			seed = seed * 1103515245u + 12345u;
			unsigned pick = (seed >> 16) % 11;
			if (pick == 10) {
				/* Now and then a line around the length limit. */
				size_t ll = REPLY_LINE_MAX - 2 + (seed >> 8) % 5;
				buf_puts(&in, "250 ");
				for (size_t b = 4; b < ll; b++)
					buf_putc(&in, 'L');
				buf_puts(&in, (seed & 1) ? "\r\n" : "\n");
			} else {
				const char *pc = pieces[pick];
				buf_append(&in, pc, pick == 6 ? 1 : strlen(pc));
			}
		}
		buf_reset(&whole);
		feed_whole(in.data ? in.data : "", in.len, &whole);

		size_t cuts[8], nc = 0, at = 0;
		while (nc < 8 && in.len > 0) {
			seed = seed * 1103515245u + 12345u;
			at += (seed >> 16) % (in.len / 4 + 2);
			if (at > in.len)
				break;
			cuts[nc++] = at;
		}
		buf_reset(&cut);
		feed_cut(in.data ? in.data : "", in.len, cuts, nc, &cut);
		if (whole.len != cut.len || memcmp(whole.data, cut.data, cut.len)) {
			if (!bad++)
				diag("round %d differs", round);
		}
	}
	is_int(bad, 0, "random inputs cut at random give the same lines as whole");
	buf_free(&in);
	buf_free(&whole);
	buf_free(&cut);
}

int main(void)
{
	test_single_line();
	test_multi_line();
	test_line_ends();
	test_malformed();
	test_pending_busy();
	test_splits();
	test_max_length();
	test_overlong_stream();
	test_too_many_lines();
	test_random_splits();
	return done_testing();
}
