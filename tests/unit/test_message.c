/* Unit tests of src/smtp/message.c: header encoding and folding, addresses, composition of
   whole messages from temporary files (sizes, line ends, base64 parts, MIME structure). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtpsh/message.h"
#include "smtpsh/sasl.h"
#include "tap.h"

static char tmpdir[] = "/tmp/smtpsh-test-message-XXXXXX";

static char *write_file(const char *name, const void *data, size_t len)
{
	char *path = malloc(strlen(tmpdir) + strlen(name) + 2);
	sprintf(path, "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "wb");
	fwrite(data, 1, len, f);
	fclose(f);
	return path;
}

/* Every line of text ends with CRLF and is at most max octets long (without CRLF). */
static bool lines_ok(const char *text, size_t len, size_t max, size_t *longest)
{
	size_t start = 0;
	*longest = 0;
	for (size_t i = 0; i < len; i++) {
		if (text[i] == '\n') {
			if (i == 0 || text[i - 1] != '\r')
				return false;
			size_t l = i - 1 - start;
			if (l > *longest)
				*longest = l;
			start = i + 1;
		} else if (text[i] == '\r' && (i + 1 == len || text[i + 1] != '\n')) {
			return false;
		}
	}
	return start == len && *longest <= max;
}

/* Decodes the encoded-words of an unfolded header value made only of encoded-words. */
static void decode_words(const char *v, struct buf *out)
{
	const char *p = v;
	while ((p = strstr(p, "=?UTF-8?B?"))) {
		p += 10;
		const char *e = strstr(p, "?=");
		sasl_b64_decode(p, (size_t)(e - p), 1000, out);
		p = e + 2;
	}
}

static void test_header_text(void)
{
	struct buf b;
	buf_init(&b);
	message_header_text(&b, "Subject", "hello world");
	is_str(b.data, "Subject: hello world\r\n", "ASCII subject as is");
	buf_reset(&b);
	message_header_text(&b, "Subject", "");
	is_str(b.data, "Subject:\r\n", "empty subject");

	const char *utf = "Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln \xe2\x80\x94 \xf0\x9f\x98\x80 "
			  "ein sehr langer Betreff, der gefaltet werden muss, weil er so lang ist "
			  "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac";
	buf_reset(&b);
	message_header_text(&b, "Subject", utf);
	size_t longest = 0;
	ok(lines_ok(b.data, b.len, 76, &longest), "encoded subject: lines of at most 76 (%zu)",
	   longest);
	ok(strncmp(b.data, "Subject: =?UTF-8?B?", 19) == 0, "encoded-words used");
	struct buf dec;
	buf_init(&dec);
	decode_words(b.data, &dec);
	is_str(dec.data, utf, "the words decode to the subject (no UTF-8 sequence split)");
	/* every word decodes to valid, whole UTF-8 on its own */
	bool whole = true;
	for (const char *p = b.data; (p = strstr(p, "=?UTF-8?B?"));) {
		p += 10;
		const char *e = strstr(p, "?=");
		struct buf w;
		buf_init(&w);
		sasl_b64_decode(p, (size_t)(e - p), 1000, &w);
		if (w.len && ((unsigned char)w.data[0] & 0xC0) == 0x80)
			whole = false;
		buf_free(&w);
		p = e;
	}
	ok(whole, "no word starts inside a UTF-8 sequence");
	buf_free(&dec);

	buf_reset(&b);
	message_header_text(&b, "Subject", "looks =?encoded?= but is not");
	ok(strstr(b.data, "=?UTF-8?B?") != NULL, "'=?' in a subject forces encoding");
	buf_reset(&b);
	message_header_text(&b, "Subject", "a\x1b[31mred");
	ok(strstr(b.data, "\x1b") == NULL, "control characters are encoded");

	const char *long_ascii = "This subject is long enough to need folding because it goes on "
				 "and on and on past the seventy-six column limit of a line";
	buf_reset(&b);
	message_header_text(&b, "Subject", long_ascii);
	{ bool lok = lines_ok(b.data, b.len, 76, &longest);
	ok(lok, "long ASCII subject folded (%zu)", longest); }
	ok(strstr(b.data, "\r\n ") != NULL, "folded at a blank");
	/* unfolding gives back the value */
	struct buf u;
	buf_init(&u);
	for (size_t i = 0; i < b.len; i++)
		if (!(b.data[i] == '\r' && b.data[i + 1] == '\n' && i + 2 < b.len))
			if (!(b.data[i] == '\n' && i > 0 && b.data[i - 1] == '\r' && i + 1 < b.len))
				buf_putc(&u, b.data[i]);
	char want[300];
	snprintf(want, sizeof want, "Subject: %s\r\n", long_ascii);
	const char *wantp = want;
	is_str(u.data, wantp, "unfolding restores the value");
	buf_free(&u);

	char word[200];
	memset(word, 'x', 150);
	word[150] = '\0';
	buf_reset(&b);
	message_header_text(&b, "X-Long", word);
	ok(strstr(b.data, "\r\n ") == NULL, "a word longer than a line stays whole");
	buf_free(&b);
}

static void test_addresses(void)
{
	char abuf[256];
	char *a = abuf;
	is_int(message_address("alice@example.test", a, sizeof abuf), 0, "bare address");
	is_str(a, "alice@example.test", "bare address value");
	is_int(message_address("Alice Q <alice@example.test>", a, sizeof abuf), 0, "name <addr>");
	is_str(a, "alice@example.test", "name <addr> value");
	is_int(message_address("  <b@x.test>  ", a, sizeof abuf), 0, "blanks around <addr>");
	is_str(a, "b@x.test", "value");
	is_int(message_address("j\xc3\xb6rg@b\xc3\xbc" "cher.test", a, sizeof abuf), 0, "UTF-8 address");
	ok(message_non_ascii(a), "non-ASCII detected");
	ok(!message_non_ascii("alice@example.test"), "ASCII");
	static const char *const bad[] = {"", "   ", "<>", "a b@x", "Name <a@x", "a@x>",
					  "<a@x> trailing", "a\r\n@x", "a\x7f@x"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		is_int(message_address(bad[i], a, sizeof abuf), -1, "refused address %zu", i);
	is_int(message_address("averyveryverylongaddress@x", a, 10), -1, "too long for out");
}

static void test_types(void)
{
	is_str(message_content_type("x.PDF"), "application/pdf", "pdf, any case");
	is_str(message_content_type("/a/b/c.jpeg"), "image/jpeg", "jpeg");
	is_str(message_content_type("c.jpg"), "image/jpeg", "jpg");
	is_str(message_content_type("notes.txt"), "text/plain", "txt");
	is_str(message_content_type("mail.eml"), "application/octet-stream", "eml kept opaque");
	is_str(message_content_type("noext"), "application/octet-stream", "no extension");
	is_str(message_content_type(".hidden"), "application/octet-stream", "dot file");
	is_str(message_content_type("dir.pdf/file"), "application/octet-stream",
	       "extension of a folder ignored");
	is_str(message_content_type("invite.ics"), "text/calendar", "ics");
}

/* Reads the whole message in pieces of cap octets. */
static ssize_t read_all(struct message *m, struct buf *out, size_t cap)
{
	char *chunk = malloc(cap);
	char err[256];
	ssize_t n;
	size_t total = 0;
	while ((n = message_read(m, chunk, cap, err, sizeof err)) > 0) {
		buf_append(out, chunk, (size_t)n);
		total += (size_t)n;
	}
	free(chunk);
	if (n < 0) {
		diag("read error: %s", err);
		return -1;
	}
	return (ssize_t)total;
}

/* The decoded content of the base64 part whose header mentions name. */
static bool part_bytes(const char *msg, const char *name, struct buf *out)
{
	char key[300];
	snprintf(key, sizeof key, "filename=\"%s\"", name);
	const char *p = strstr(msg, key);
	if (!p)
		return false;
	p = strstr(p, "\r\n\r\n");
	if (!p)
		return false;
	p += 4;
	const char *end = strstr(p, "\r\n--=_smtpsh_");
	struct buf b64;
	buf_init(&b64);
	for (const char *q = p; q < end; q++)
		if (*q != '\r' && *q != '\n')
			buf_putc(&b64, *q);
	bool r = sasl_b64_decode(b64.data ? b64.data : "", b64.len, 1 << 26, out) == SASL_DECODE_OK;
	buf_free(&b64);
	return r;
}

static void test_compose(void)
{
	/* body: LF, CRLF, bare CR, dots, no final line end */
	const char body[] = "line one\n.dot\r\nthree\rfour\n\nlast";
	char *body_path = write_file("body.txt", body, sizeof body - 1);
	size_t sizes[] = {0, 1, 2, 3, 56, 57, 58, 57 * 512 - 1, 57 * 512, 57 * 512 + 1, 100000};
	char *att[11];
	unsigned char *data[11];
	for (size_t i = 0; i < 11; i++) {
		data[i] = malloc(sizes[i] + 1);
		for (size_t k = 0; k < sizes[i]; k++)
			data[i][k] = (unsigned char)(k * 7 + i * 13 + (k >> 8));
		char name[32];
		snprintf(name, sizeof name, "att%zu.bin", i);
		att[i] = write_file(name, data[i], sizes[i]);
	}
	const char *to[] = {"Bob <bob@example.test>", "carol@example.test"};
	const char *cc[] = {"\"Doe, Jane\" <jane@example.test>"};
	const char *hdr[] = {"X-Test: yes", "Date: Mon, 1 Jan 2024 00:00:00 +0000"};
	struct message_spec spec = {
		.from = "Alice <alice@example.test>",
		.to = to,
		.nto = 2,
		.cc = cc,
		.ncc = 1,
		.subject = "Hello",
		.body_file = body_path,
		.attach = (const char *const *)att,
		.nattach = 11,
		.headers = hdr,
		.nheaders = 2,
	};
	struct message m;
	char err[512];
	is_int(message_open(&m, &spec, err, sizeof err), 0, "open");
	ok(!message_body_8bit(&m), "ASCII body is not 8-bit");
	is_int(message_compose(&m, true, err, sizeof err), 0, "compose");
	unsigned long long size = message_size(&m);
	struct buf out;
	buf_init(&out);
	is_int(read_all(&m, &out, 7), (ssize_t)size, "size known beforehand = octets read (7 at a time)");
	size_t longest = 0;
	ok(lines_ok(out.data, out.len, 998, &longest), "CRLF everywhere, lines within 998");
	ok(strstr(out.data, "\r\n\r\nline one\r\n.dot\r\nthree\r\nfour\r\n\r\nlast\r\n\r\n--") !=
		   NULL,
	   "body CRLF-normalised, ends with CRLF, not dot-stuffed here");
	ok(strstr(out.data, "From: Alice <alice@example.test>\r\n") != NULL, "From");
	ok(strstr(out.data, "To: Bob <bob@example.test>, carol@example.test\r\n") != NULL, "To");
	ok(strstr(out.data, "Cc: \"Doe, Jane\" <jane@example.test>\r\n") != NULL,
	   "Cc with a quoted name kept");
	ok(strstr(out.data, "Bcc") == NULL, "no Bcc anywhere");
	ok(strstr(out.data, "Subject: Hello\r\n") != NULL, "Subject");
	ok(strstr(out.data, "Date: Mon, 1 Jan 2024") != NULL, "the user's Date");
	const char *d1 = strstr(out.data, "Date:");
	ok(d1 && !strstr(d1 + 1, "\r\nDate:"), "only one Date");
	ok(strstr(out.data, "X-Test: yes\r\n") != NULL, "extra header");
	ok(strstr(out.data, "MIME-Version: 1.0\r\n") != NULL, "MIME-Version");
	ok(strstr(out.data, "Message-ID: <") && strstr(out.data, "@example.test>\r\n"),
	   "Message-ID at the From domain");
	ok(strstr(out.data, "Content-Type: multipart/mixed;\r\n boundary=\"=_smtpsh_") != NULL,
	   "multipart/mixed");
	ok(strstr(out.data, "Content-Transfer-Encoding: 7bit") != NULL, "7bit text part");
	for (size_t i = 0; i < 11; i++) {
		char name[32];
		snprintf(name, sizeof name, "att%zu.bin", i);
		struct buf got;
		buf_init(&got);
		ok(part_bytes(out.data, name, &got) && got.len == sizes[i] &&
			   (sizes[i] == 0 || memcmp(got.data, data[i], sizes[i]) == 0),
		   "attachment of %zu octets decodes to the file", sizes[i]);
		buf_free(&got);
	}
	/* base64 lines: 76 characters */
	const char *b = strstr(out.data, "filename=\"att10.bin\"");
	b = strstr(b, "\r\n\r\n") + 4;
	ok(strncmp(b + 76, "\r\n", 2) == 0, "base64 lines of 76 characters");
	ok(out.len >= 2 && strcmp(out.data + out.len - 2, "\r\n") == 0, "ends with CRLF");
	const char *close = strstr(out.data, "--\r\n");
	ok(close && close + 4 == out.data + out.len, "closing boundary last");
	message_close(&m);

	/* again with big reads: the same size */
	is_int(message_open(&m, &spec, err, sizeof err), 0, "open again");
	message_compose(&m, true, err, sizeof err);
	struct buf out2;
	buf_init(&out2);
	is_int(read_all(&m, &out2, 1 << 20), (ssize_t)message_size(&m), "big reads: same size");
	message_close(&m);
	buf_free(&out2);

	/* a file that changes after compose: an error, not a wrong message */
	is_int(message_open(&m, &spec, err, sizeof err), 0, "open for the change test");
	message_compose(&m, true, err, sizeof err);
	ok(truncate(att[10], 10) == 0, "truncated");
	buf_reset(&out);
	is_int(read_all(&m, &out, 65536), -1, "a file that shrank is an error");
	message_close(&m);
	buf_free(&out);
	for (size_t i = 0; i < 11; i++) {
		unlink(att[i]);
		free(att[i]);
		free(data[i]);
	}
	unlink(body_path);
	free(body_path);
}

static void test_bodies(void)
{
	const char *to[] = {"b@x.test"};
	struct message_spec spec = {.from = "a@x.test", .to = to, .nto = 1, .body = "gr\xc3\xbc\xc3\x9f"
									     "e\n"};
	struct message m;
	char err[256];
	struct buf out;
	buf_init(&out);
	is_int(message_open(&m, &spec, err, sizeof err), 0, "8-bit body");
	ok(message_body_8bit(&m), "8-bit detected");
	message_compose(&m, true, err, sizeof err);
	read_all(&m, &out, 4096);
	ok(strstr(out.data, "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: "
			    "8bit\r\n\r\ngr\xc3\xbc\xc3\x9f" "e\r\n"),
	   "8bit when allowed");
	is_int(out.len, message_size(&m), "size");
	message_close(&m);

	buf_reset(&out);
	message_open(&m, &spec, err, sizeof err);
	message_compose(&m, false, err, sizeof err);
	read_all(&m, &out, 4096);
	ok(strstr(out.data, "Content-Transfer-Encoding: base64\r\n\r\nZ3LDvMOfZQ0K\r\n"),
	   "base64 of the CRLF text when 8-bit is not allowed");
	ok(strchr(out.data, 0x80 | 0x3c) == NULL && !strstr(out.data, "\xc3"), "all 7-bit");
	is_int(out.len, message_size(&m), "size");
	message_close(&m);

	char *nul = write_file("nul.txt", "a\0b\n", 4);
	struct message_spec s2 = {.from = "a@x.test", .to = to, .nto = 1, .body_file = nul};
	buf_reset(&out);
	message_open(&m, &s2, err, sizeof err);
	message_compose(&m, true, err, sizeof err);
	read_all(&m, &out, 4096);
	ok(strstr(out.data, "base64\r\n\r\nYQBiDQo=\r\n") != NULL, "a NUL in the body: base64");
	message_close(&m);
	unlink(nul);
	free(nul);

	char longline[1200];
	memset(longline, 'y', 1100);
	longline[1100] = '\0';
	struct message_spec s3 = {.from = "a@x.test", .to = to, .nto = 1, .body = longline};
	buf_reset(&out);
	message_open(&m, &s3, err, sizeof err);
	message_compose(&m, true, err, sizeof err);
	read_all(&m, &out, 4096);
	size_t longest = 0;
	ok(strstr(out.data, "Content-Transfer-Encoding: base64") &&
		   lines_ok(out.data, out.len, 998, &longest),
	   "a line over 998 octets: base64, all lines short");
	message_close(&m);

	struct message_spec s4 = {.from = "a@x.test", .to = to, .nto = 1};
	buf_reset(&out);
	message_open(&m, &s4, err, sizeof err);
	message_compose(&m, true, err, sizeof err);
	read_all(&m, &out, 4096);
	ok(out.len > 4 && strcmp(out.data + out.len - 4, "\r\n\r\n") == 0, "no body: header only");
	is_int(out.len, message_size(&m), "size");
	message_close(&m);
	buf_free(&out);
}

/* CR, LF and CRLF each become one CRLF; a text that does not end with a line end gets one. */
static void reference_crlf(const unsigned char *in, size_t n, struct buf *out)
{
	for (size_t i = 0; i < n; i++) {
		if (in[i] == '\r' || in[i] == '\n') {
			buf_append(out, "\r\n", 2);
			if (in[i] == '\r' && i + 1 < n && in[i + 1] == '\n')
				i++;
		} else {
			buf_putc(out, (char)in[i]);
		}
	}
	if (n && in[n - 1] != '\r' && in[n - 1] != '\n')
		buf_append(out, "\r\n", 2);
}

/* Sends data[0..n) as a --body-file: the body as sent (what follows the header's empty line)
   into body, whether it went as base64, whether the size told beforehand was right. */
static bool sent_body(const void *data, size_t n, struct buf *body, bool *b64, bool *size_ok)
{
	const char *to[] = {"b@x.test"};
	char *path = write_file("body.txt", data, n);
	struct message_spec spec = {.from = "a@x.test", .to = to, .nto = 1, .body_file = path};
	struct message m;
	char err[256];
	struct buf out;
	buf_init(&out);
	bool r = message_open(&m, &spec, err, sizeof err) == 0;
	if (r) {
		message_compose(&m, true, err, sizeof err);
		r = read_all(&m, &out, 65536) >= 0;
		*size_ok = r && out.len == message_size(&m);
		message_close(&m);
	} else {
		diag("%s", err);
	}
	unlink(path);
	free(path);
	const char *p = r ? strstr(out.data, "\r\n\r\n") : NULL;
	if (p) {
		*b64 = memmem(out.data, (size_t)(p - out.data), "base64", 6) != NULL;
		buf_append(body, p + 4, out.len - (size_t)(p + 4 - out.data));
	}
	buf_free(&out);
	return p != NULL;
}

/* Line ends of a --body-file over many reads: CRs at the end of a read, long runs, 8-bit. */
static void test_line_ends(void)
{
	const unsigned char alphabet[] = {'a', 'b', '.', ' ', '\r', '\n', 0xc3, 0xbc};
	unsigned seed = 4711;
	size_t sizes[] = {1, 2, 57 * 512 - 1, 57 * 512, 57 * 512 + 1, 200000};
	for (int round = 0; round < 24; round++) {
		size_t n = sizes[round % 6] + (size_t)(round / 6);
		unsigned char *data = malloc(n);
		bool eight = round % 2 == 0;
		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			data[i] = alphabet[(seed >> 16) % (eight ? 8 : 6)];
		}
		if (round % 4 == 1 && n > 57 * 512) /* a CRLF split by the end of the first read */
			data[57 * 512 - 1] = '\r', data[57 * 512] = '\n';
		struct buf want, got;
		buf_init(&want);
		buf_init(&got);
		reference_crlf(data, n, &want);
		bool b64 = true, size_ok = false;
		bool r = sent_body(data, n, &got, &b64, &size_ok);
		ok(r && !b64 && size_ok && got.len == want.len &&
			   memcmp(got.data, want.data, want.len) == 0,
		   "body of %zu random octets (%s): CRLF everywhere, nothing else changed", n,
		   eight ? "8-bit" : "7-bit");
		buf_free(&want);
		buf_free(&got);
		free(data);
	}

	/* 998 octets is the longest line sent as is; 999 octets, even over two reads, is not */
	for (size_t len = 998; len <= 999; len++) {
		size_t n = 57 * 512 - 500 + len + 1;
		char *data = malloc(n);
		memset(data, 'x', n);
		for (size_t i = 79; i < 57 * 512 - 501; i += 80)
			data[i] = '\n';
		data[57 * 512 - 501] = '\n'; /* the long line starts 500 octets before a read ends */
		data[n - 1] = '\n';
		struct buf got;
		buf_init(&got);
		bool b64 = false, size_ok = false;
		sent_body(data, n, &got, &b64, &size_ok);
		ok(b64 == (len == 999) && size_ok, "a line of %zu octets across two reads: %s", len,
		   len == 999 ? "base64" : "sent as is");
		buf_free(&got);
		free(data);
	}
}

static void test_filenames(void)
{
	const char *to[] = {"b@x.test"};
	char *p1 = write_file("Gr\xc3\xbc\xc3\x9f" "e.txt", "x", 1);
	char longname[200] = "";
	for (int i = 0; i < 20; i++)
		strcat(longname, "\xc3\xa9t\xc3\xa9");
	strcat(longname, ".pdf");
	char *p2 = write_file(longname, "y", 1);
	char *p3 = write_file("quote\"d.txt", "z", 1);
	const char *att[] = {p1, p2, p3};
	struct message_spec spec = {.from = "a@x.test", .to = to, .nto = 1, .attach = att,
				    .nattach = 3};
	struct message m;
	char err[256];
	struct buf out;
	buf_init(&out);
	is_int(message_open(&m, &spec, err, sizeof err), 0, "open with UTF-8 file names");
	message_compose(&m, true, err, sizeof err);
	read_all(&m, &out, 4096);
	ok(strstr(out.data, "filename*=utf-8''Gr%C3%BC%C3%9Fe.txt") != NULL, "RFC 2231 file name");
	ok(strstr(out.data, "name*=utf-8''Gr%C3%BC%C3%9Fe.txt") != NULL, "and Content-Type name");
	ok(strstr(out.data, "filename*0*=utf-8''%C3%A9t%C3%A9") != NULL &&
		   strstr(out.data, "filename*1*=") != NULL,
	   "a long one in continuations");
	ok(strstr(out.data, "filename=\"quote\\\"d.txt\"") != NULL, "quote escaped");
	ok(strstr(out.data, "Content-Type: application/pdf") != NULL, "type of the long one");
	ok(strstr(out.data, "Content-Type: multipart/mixed") != NULL &&
		   !strstr(out.data, "charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n\r\n--"),
	   "no text part without a body");
	size_t longest = 0;
	{ bool lok = lines_ok(out.data, out.len, 78, &longest);
	ok(lok, "header lines short (%zu)", longest); }
	message_close(&m);
	buf_free(&out);
	unlink(p1);
	unlink(p2);
	unlink(p3);
	free(p1);
	free(p2);
	free(p3);
}

static void test_refusals(void)
{
	const char *to[] = {"b@x.test"};
	const char *badto[] = {"not an address"};
	struct message m;
	char err[256];
	struct {
		struct message_spec spec;
		const char *what;
	} cases[] = {
		{{.from = "a b", .to = to, .nto = 1}, "bad --from"},
		{{.to = to, .nto = 1}, "no --from"},
		{{.from = "a@x", .to = badto, .nto = 1}, "bad --to"},
		{{.from = "a@x", .to = to, .nto = 1, .subject = "a\r\nBcc: evil@x"}, "CRLF in subject"},
		{{.from = "a@x", .to = to, .nto = 1, .body = "x", .body_file = "/etc/hostname"},
		 "--body and --body-file"},
		{{.from = "a@x", .to = to, .nto = 1, .body_file = "/nonexistent/x"}, "missing file"},
		{{.from = "a@x", .to = to, .nto = 1, .body_file = "/tmp"}, "a folder as body"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		err[0] = '\0';
		is_int(message_open(&m, &cases[i].spec, err, sizeof err), -1, "refused: %s",
		       cases[i].what);
		ok(err[0] != '\0', "with a message: %s", err);
	}
	static const char *const badh[] = {"no colon", ": empty name", "Bcc: x@y",
					   "Content-Type: text/html", "MIME-Version: 2",
					   "Bad Name: x", "X-A: b\r\nX-B: c"};
	static const char *const badh_names[] = {"no colon", "empty name", "Bcc", "Content-Type",
						 "MIME-Version", "blank in the name", "CRLF inside"};
	for (size_t i = 0; i < sizeof badh / sizeof badh[0]; i++) {
		const char *h[] = {badh[i]};
		struct message_spec s = {.from = "a@x", .to = to, .nto = 1, .headers = h,
					 .nheaders = 1};
		err[0] = '\0';
		is_int(message_open(&m, &s, err, sizeof err), -1, "refused header: %s", badh_names[i]);
		ok(err[0] != '\0', "with a message: %s", err);
	}
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	test_header_text();
	test_addresses();
	test_types();
	test_compose();
	test_bodies();
	test_line_ends();
	test_filenames();
	test_refusals();
	rmdir(tmpdir);
	return done_testing();
}
