/* Unit tests of the DATA body encoder (src/smtp/dotstuff.c). */
#include "smtpsh/dotstuff.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpsh/buf.h"
#include "tap.h"

#define GUARD 16
#define CANARY 0x5A

/*
 * Encodes in[0..len) cut at the given offsets, then finishes, into out. Each call writes
 * into a buffer of exactly its promised size plus a guard; returns false if a call wrote
 * more than it promised or past what it returned.
 */
static bool encode_cut(const char *in, size_t len, const size_t *cuts, size_t ncuts,
		       struct buf *out)
{
	struct dotstuff d;
	size_t from = 0;
	bool fine = true;
	dotstuff_init(&d);
	for (size_t c = 0; c <= ncuts + 1; c++) {
		bool finish = c == ncuts + 1;
		size_t to = c < ncuts ? cuts[c] : len;
		size_t n = finish ? 0 : to - from;
		size_t room = finish ? 2 : DOTSTUFF_MAX_OUT(n);
		unsigned char *o = malloc(room + GUARD);
		if (!o)
			return false;
		memset(o, CANARY, room + GUARD);
		size_t w = finish ? dotstuff_finish(&d, (char *)o)
				  : dotstuff_encode(&d, in + from, n, (char *)o);
		if (w > room)
			fine = false;
		for (size_t g = w; g < room + GUARD; g++)
			if (o[g] != CANARY)
				fine = false;
		buf_append(out, o, w);
		free(o);
		from = to;
	}
	return fine;
}

static void encode_all(const char *in, size_t len, struct buf *out)
{
	encode_cut(in, len, NULL, 0, out);
}

static void check(const char *in, size_t len, const char *want, size_t wlen, const char *name)
{
	struct buf out;
	buf_init(&out);
	encode_all(in, len, &out);
	is_mem(out.data, out.len, want, wlen, "%s", name);
	buf_free(&out);
}

#define CHECK(in, want, name) check(in, sizeof(in) - 1, want, sizeof(want) - 1, name)

static void test_examples(void)
{
	CHECK("", "", "empty body: nothing");
	CHECK("hello\r\nworld\r\n", "hello\r\nworld\r\n", "CRLF lines unchanged");
	CHECK("hello", "hello\r\n", "last line terminated by finish");
	CHECK(".hidden\r\n", "..hidden\r\n", "leading dot doubled");
	CHECK(".\r\n", "..\r\n", "lone dot doubled");
	CHECK(".", "..\r\n", "lone dot without line end");
	CHECK("...", "....\r\n", "only the first dot doubled");
	CHECK("a.b\r\n a.\r\n", "a.b\r\n a.\r\n", "dots inside lines unchanged");
	CHECK("a\nb\n", "a\r\nb\r\n", "bare LF becomes CRLF");
	CHECK("a\rb\r", "a\r\nb\r\n", "bare CR becomes CRLF");
	CHECK("a\r\r\nb", "a\r\n\r\nb\r\n", "CR CR LF: two line ends");
	CHECK("a\n\rb", "a\r\n\r\nb\r\n", "LF CR: two line ends");
	CHECK("\r\n", "\r\n", "one empty line");
	CHECK("\n\n", "\r\n\r\n", "two bare-LF empty lines");
	CHECK("x\n.\n", "x\r\n..\r\n", "smuggling: LF . LF is stuffed and normalised");
	CHECK("x\r.\r", "x\r\n..\r\n", "smuggling: CR . CR is stuffed and normalised");
	CHECK("x\r\n.\r\n", "x\r\n..\r\n", "CRLF . CRLF is stuffed");
	CHECK("\x00.\r\n.", "\x00.\r\n..\r\n", "NUL is just a byte");
}

static void test_state(void)
{
	struct dotstuff d;
	char out[16];
	size_t n;
	dotstuff_init(&d);

	n = dotstuff_encode(&d, "a\r", 2, out);
	is_mem(out, n, "a", 1, "trailing CR is held");
	ok(d.cr, "CR pending");
	n = dotstuff_encode(&d, "\n.", 2, out);
	is_mem(out, n, "\r\n..", 4, "CR + LF across calls: one CRLF, then the dot doubled");

	n = dotstuff_encode(&d, "\r", 1, out);
	is_int(n, 0, "lone CR writes nothing yet");
	n = dotstuff_encode(&d, ".", 1, out);
	is_int(n, DOTSTUFF_MAX_OUT(1), "CR then dot: the worst case, DOTSTUFF_MAX_OUT(1)");
	is_mem(out, n, "\r\n..", 4, "CR then dot: CRLF ..");

	n = dotstuff_finish(&d, out);
	is_mem(out, n, "\r\n", 2, "finish terminates the line");
	ok(d.bol && !d.cr, "finish leaves d as after init");
	n = dotstuff_finish(&d, out);
	is_int(n, 0, "finish again: nothing");

	n = dotstuff_encode(&d, "x\r", 2, out);
	n = dotstuff_finish(&d, out);
	is_mem(out, n, "\r\n", 2, "finish with a CR pending: one CRLF");
	n = dotstuff_encode(&d, ".y", 2, out);
	is_mem(out, n, "..y", 3, "after finish, at the beginning of a line");
	dotstuff_finish(&d, out);

	n = dotstuff_encode(&d, "", 0, out);
	is_int(n, 0, "empty input writes nothing");
}

static const char *tricky[] = {
    ".a\r\n.\r\n..\r\n",
    "\r\r\n\n\r.\r.\n.",
    "line one\r\n.line two\rline three\n.\r\n\r\n.",
    "\r\n.\r\n",
    "a\r",
};

/* Every cut in 2 and 3 pieces gives what one call gives. */
static void test_splits(void)
{
	struct buf whole, cut;
	buf_init(&whole);
	buf_init(&cut);
	for (size_t t = 0; t < sizeof(tricky) / sizeof(tricky[0]); t++) {
		const char *in = tricky[t];
		size_t len = strlen(in);
		int bad = 0, overflow = 0;
		buf_reset(&whole);
		encode_all(in, len, &whole);
		for (size_t i = 0; i <= len; i++) {
			for (size_t j = i; j <= len; j++) {
				size_t cuts[2] = {i, j};
				buf_reset(&cut);
				if (!encode_cut(in, len, cuts, 2, &cut))
					overflow++;
				if (cut.len != whole.len || memcmp(cut.data, whole.data, cut.len))
					bad++;
			}
		}
		is_int(bad, 0, "tricky input %zu: every cut gives the same output", t);
		is_int(overflow, 0, "tricky input %zu: no call writes more than promised", t);
	}
	buf_free(&whole);
	buf_free(&cut);
}

static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* Input line ends made LF, with a final LF if the last line had none. */
static void normalise(const char *in, size_t len, struct buf *out)
{
	for (size_t i = 0; i < len; i++) {
		if (in[i] == '\r') {
			buf_putc(out, '\n');
			if (i + 1 < len && in[i + 1] == '\n')
				i++;
		} else {
			buf_putc(out, in[i]);
		}
	}
	if (out->len && out->data[out->len - 1] != '\n')
		buf_putc(out, '\n');
}

/*
 * Checks the wire form: every CR is followed by LF and every LF preceded by CR, every line
 * that starts with a dot starts with two. Writes it un-stuffed with LF line ends to out.
 */
static bool unstuff(const char *s, size_t len, struct buf *out)
{
	bool bol = true;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\r') {
			if (i + 1 >= len || s[i + 1] != '\n')
				return false;
			buf_putc(out, '\n');
			i++;
			bol = true;
			continue;
		}
		if (s[i] == '\n')
			return false;
		if (bol && s[i] == '.') {
			if (i + 1 >= len || s[i + 1] != '.')
				return false;
			i++;
		}
		buf_putc(out, s[i]);
		bol = false;
	}
	return bol; /* ends with CRLF (or is empty) */
}

static void test_property(void)
{
	static const char alphabet[] = {'\r', '\n', '.', 'a', ' ', '\0', (char)0xff};
	uint32_t seed = 20240601;
	int invariant = 0, roundtrip = 0, cutdiff = 0, overflow = 0;
	struct buf in, out, cut, back, norm;
	buf_init(&in);
	buf_init(&out);
	buf_init(&cut);
	buf_init(&back);
	buf_init(&norm);

	for (int round = 0; round < 5000; round++) {
		buf_reset(&in);
		size_t len = rnd(&seed) % 64;
		for (size_t i = 0; i < len; i++)
			buf_putc(&in, alphabet[rnd(&seed) % sizeof(alphabet)]);
		const char *data = in.data ? in.data : "";

		buf_reset(&out);
		encode_all(data, len, &out);
		buf_reset(&back);
		if (!unstuff(out.data ? out.data : "", out.len, &back)) {
			if (!invariant++)
				diag("round %d: bare CR/LF or unstuffed dot", round);
			continue;
		}
		buf_reset(&norm);
		normalise(data, len, &norm);
		if (back.len != norm.len || (back.len && memcmp(back.data, norm.data, back.len))) {
			if (!roundtrip++)
				diag("round %d: un-stuffed output differs from the input", round);
		}

		size_t cuts[6], nc = 0, at = 0;
		while (nc < 6) {
			at += rnd(&seed) % (len / 3 + 2);
			if (at > len)
				break;
			cuts[nc++] = at;
		}
		buf_reset(&cut);
		if (!encode_cut(data, len, cuts, nc, &cut))
			overflow++;
		if (cut.len != out.len || (cut.len && memcmp(cut.data, out.data, cut.len)))
			cutdiff++;
	}
	is_int(invariant, 0, "random inputs: CR and LF only in CRLF, leading dots doubled");
	is_int(roundtrip, 0, "random inputs: un-stuffing gives the input with CRLF ends");
	is_int(cutdiff, 0, "random inputs cut at random: same output");
	is_int(overflow, 0, "random inputs: no call writes more than promised");
	buf_free(&in);
	buf_free(&out);
	buf_free(&cut);
	buf_free(&back);
	buf_free(&norm);
}

/* The encoder byte by byte, as the RFC says it: what the fast one must match. */
static void reference(const char *in, size_t len, struct buf *out)
{
	bool bol = true;
	for (size_t i = 0; i < len; i++) {
		if (in[i] == '\r' || in[i] == '\n') {
			buf_puts(out, "\r\n");
			if (in[i] == '\r' && i + 1 < len && in[i + 1] == '\n')
				i++;
			bol = true;
			continue;
		}
		if (bol && in[i] == '.')
			buf_putc(out, '.');
		buf_putc(out, in[i]);
		bol = false;
	}
	if (!bol)
		buf_puts(out, "\r\n");
}

/* Long lines (the runs copied whole), line ends of every kind, cut anywhere. */
static void test_long_runs(void)
{
	uint32_t seed = 77;
	int diff = 0, overflow = 0;
	struct buf in, want, got;
	buf_init(&in);
	buf_init(&want);
	buf_init(&got);
	for (int round = 0; round < 2000; round++) {
		buf_reset(&in);
		size_t len = rnd(&seed) % 3000;
		for (size_t i = 0; i < len; i++) {
			uint32_t r = rnd(&seed) % 200;
			buf_putc(&in, r == 0   ? '\r'
				      : r == 1 ? '\n'
				      : r < 4  ? '.'
					       : (char)('a' + r % 26));
		}
		const char *data = in.data ? in.data : "";
		buf_reset(&want);
		reference(data, len, &want);
		size_t cuts[4], nc = 0, at = 0;
		while (nc < 4 && (at += rnd(&seed) % (len + 1)) <= len)
			cuts[nc++] = at;
		buf_reset(&got);
		if (!encode_cut(data, len, cuts, nc, &got))
			overflow++;
		if (got.len != want.len || (got.len && memcmp(got.data, want.data, got.len))) {
			if (!diff++)
				diag("round %d: differs from the byte-by-byte encoder", round);
		}
	}
	is_int(diff, 0, "long random lines: same output as the byte-by-byte encoder");
	is_int(overflow, 0, "long random lines: no call writes more than promised");
	buf_free(&in);
	buf_free(&want);
	buf_free(&got);
}

/* The counters: line ends written and lines over 998 octets, as counted on the output. */
static void test_counters(void)
{
	uint32_t seed = 4242;
	int lines_bad = 0, long_bad = 0, long_seen = 0;
	struct buf in, out;
	buf_init(&in);
	buf_init(&out);
	for (int round = 0; round < 400; round++) {
		buf_reset(&in);
		size_t len = rnd(&seed) % 6000;
		for (size_t i = 0; i < len; i++) {
			uint32_t r = rnd(&seed) % 1500;
			buf_putc(&in, r == 0 ? '\r' : r == 1 ? '\n' : r < 5 ? '.' : 'z');
		}
		struct dotstuff d;
		dotstuff_init(&d);
		buf_reset(&out);
		size_t at = 0;
		while (at < len) { /* pieces of random size: the counters go across calls */
			size_t n = 1 + rnd(&seed) % 700;
			n = n > len - at ? len - at : n;
			if (buf_reserve(&out, DOTSTUFF_MAX_OUT(n)) < 0)
				break;
			out.len += dotstuff_encode(&d, in.data + at, n, out.data + out.len);
			at += n;
		}
		if (buf_reserve(&out, 2) == 0)
			out.len += dotstuff_finish(&d, out.data + out.len);
		unsigned long long lines = 0, longs = 0;
		size_t start = 0;
		for (size_t i = 0; i + 1 < out.len; i++) {
			if (out.data[i] == '\r' && out.data[i + 1] == '\n') {
				lines++;
				longs += i - start > DOTSTUFF_LINE_MAX;
				start = i + 2;
			}
		}
		long_seen += longs > 0;
		lines_bad += lines != d.lines;
		long_bad += longs != d.long_lines;
	}
	is_int(lines_bad, 0, "counters: lines is the number of CRLFs written");
	is_int(long_bad, 0, "counters: long_lines is the number of lines over 998 octets");
	ok(long_seen > 10, "counters: the inputs had long lines (%d)", long_seen);
	struct dotstuff d;
	dotstuff_init(&d);
	char o[16];
	size_t n = dotstuff_encode(&d, "ab", 2, o);
	n += dotstuff_finish(&d, o + n);
	ok(d.lines == 1 && d.col == 0, "finish counts the line it ends and keeps the counters");
	dotstuff_init(&d);
	ok(d.lines == 0 && d.long_lines == 0, "init clears the counters");
	buf_free(&in);
	buf_free(&out);
}

/* dotstuff_init_lines: the same line ends and counters, no dot doubled (message.c's bodies). */
static void test_lines_only(void)
{
	struct dotstuff d;
	char out[64];
	dotstuff_init_lines(&d);
	size_t n = dotstuff_encode(&d, ".a\r.b\n..\r", 9, out);
	n += dotstuff_finish(&d, out + n);
	is_mem(out, n, ".a\r\n.b\r\n..\r\n", 12, "lines only: CR, LF -> CRLF, dots as they are");
	ok(d.lines == 3 && d.long_lines == 0, "lines only: the lines are counted");
	dotstuff_init(&d);
	n = dotstuff_encode(&d, ".a", 2, out);
	is_mem(out, n, "..a", 3, "dotstuff_init after it: dots doubled again");
}

int main(void)
{
	test_examples();
	test_state();
	test_splits();
	test_property();
	test_long_runs();
	test_counters();
	test_lines_only();
	return done_testing();
}
