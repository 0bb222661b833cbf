/* Unit tests of the ladder diagram's model and renderers (src/transcript/diagram*.c): arrows
   from parsed transcript lines, folding, pipelined groups, TLS bands, escaping, bounds, and the
   text ladder's width. */
#include "smtpsh/diagram.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

/* Builds d from transcript event lines (after the header), numbered from 1. */
static void build(struct diagram *d, const char *const *lines)
{
	diagram_init(d);
	for (unsigned long i = 0; lines[i]; i++) {
		struct transcript_entry e;
		transcript_entry_init(&e);
		char err[200] = "";
		if (transcript_parse_line(lines[i], strlen(lines[i]), &e, err, sizeof err) < 0)
			diag("line %lu does not parse: %s", i + 1, err);
		else if (diagram_add(d, &e, i + 1) < 0)
			diag("diagram_add failed at line %lu", i + 1);
		transcript_entry_free(&e);
	}
	if (diagram_finish(d) < 0)
		diag("diagram_finish failed");
}

static const char *const starttls[] = {
    "*  connected to mail.example.test (192.0.2.1) port 587",
    "<- 220 mail.example.test ESMTP",
    "-> EHLO client.example",
    "<- 250-mail.example.test",
    "<- 250-PIPELINING",
    "<- 250 STARTTLS",
    "-> STARTTLS",
    "<- 220 2.0.0 Ready to start TLS",
    "*  TLSv1.3 TLS_AES_256_GCM_SHA384, certificate verified (CN=mail.example.test)",
    "# the client says EHLO again",
    "#",
    "# after the handshake",
    "~> EHLO client.example",
    "<~ 250 AUTH PLAIN",
    "p1/3 ~> MAIL FROM:<a@example.test>",
    "p2/3 ~> RCPT TO:<b@example.test>",
    "p3/3 ~> DATA",
    "<~ 250 2.1.0 Ok",
    "<~ 250 2.1.5 Ok",
    "+12ms <~ 354 go ahead",
    "~> line 1",
    "~> line 2",
    "~>",
    "~> line 4",
    "~> line 5",
    "~> line 6",
    "~> .",
    "<~ 250 2.0.0 queued",
    "*  connection closed",
    "-> NOOP",
    NULL,
};

static void test_model(void)
{
	struct diagram d;
	build(&d, starttls);
	/* connected, 220, EHLO, 250 (3 lines), STARTTLS, 220, TLS line, EHLO, 250, MAIL, RCPT,
	   DATA, 250, 250, 354, content, ".", 250, closed, NOOP */
	is_int((long long)d.n, 20, "one arrow per command, per reply, per local event");
	is_int(d.arrows[1].kind, DIAGRAM_REPLY, "the greeting is a reply");
	is_int(d.arrows[2].kind, DIAGRAM_SEND, "EHLO is a command");
	is_int((long long)d.arrows[3].nlines, 3, "a multi-line reply is one arrow with its lines");
	is_str(d.arrows[3].text.data, "250-mail.example.test\n250-PIPELINING\n250 STARTTLS",
	       "its lines, in order");
	is_int(d.arrows[3].code, 250, "the reply's code");
	is_int((long long)d.arrows[3].lineno, 4, "its first transcript line");
	is_int((long long)d.arrows[3].lastno, 6, "its last transcript line");
	is_int(d.arrows[6].kind, DIAGRAM_LOCAL, "the TLS line is a local event");
	ok(d.arrows[7].tls && d.arrows[7].verified, "EHLO after STARTTLS is under TLS");
	is_str(d.arrows[7].note, "the client says EHLO again\nafter the handshake",
	       "comments become the next arrow's note, an empty one a paragraph break");
	is_int(d.arrows[15].kind, DIAGRAM_CONTENT, "message content is one arrow");
	is_int((long long)d.arrows[15].nlines, DIAGRAM_CONTENT_LINES, "folded to its first lines");
	is_int((long long)d.arrows[15].more, 6 - DIAGRAM_CONTENT_LINES, "and a count of the rest");
	is_str(d.arrows[16].text.data, ".", "the final dot is a command of its own");
	is_int(d.arrows[14].elapsed_ms, 12, "a reply keeps its time");
	ok(d.timings, "the transcript has timings");

	is_int((long long)d.ngroups, 1, "one pipelined group");
	is_int((long long)d.groups[0].first, 9, "it starts at MAIL");
	is_int((long long)d.groups[0].last, 14, "it ends at the last of its 3 replies (354)");
	is_int(d.groups[0].commands, 3, "3 commands");
	is_int((long long)d.arrows[15].group, 0, "the content after 354 is not in the group");

	is_int((long long)d.nbands, 1, "one TLS band");
	is_int((long long)d.bands[0].first, 7, "from the first arrow under TLS");
	is_int((long long)d.bands[0].last, 17, "to the last one");
	is_str(d.bands[0].label, "TLSv1.3 TLS_AES_256_GCM_SHA384", "labelled protocol and cipher");
	ok(d.bands[0].verified, "verified");
	ok(!d.arrows[19].tls, "NOOP after the close is plaintext again");
	diagram_free(&d);
}

static const char *const version2[] = {
    "raw -> MAIL FROM:<a@example.test>\\n\\x00",
    "-> BDAT 30 LAST",
    "chunk -> Subject: x\\r\\n",
    "chunk -> \\r\\n",
    "chunk omitted:12 ->",
    "<- 250 2.0.0 Ok",
    "-> DATA",
    "<- 554 no",
    "-> QUIT",
    "rcpt:bob@example.test <- 250 2.0.0 <bob@example.test> Saved",
    "rcpt:carol@example.test <- 452 4.2.2 Mailbox full",
    "<- 220 bare\\n",
    NULL,
};

static void test_version2(void)
{
	struct diagram d;
	build(&d, version2);
	is_int((long long)d.n, 10, "raw, BDAT, chunk, 250, DATA, 554, QUIT, 2 LMTP replies, 220");
	if (d.n < 10) {
		diagram_free(&d);
		return;
	}
	is_int(d.arrows[0].kind, DIAGRAM_RAW, "a raw write is an arrow of its own");
	is_str(d.arrows[0].text.data, "MAIL FROM:<a@example.test>\\n\\x00",
	       "its octets shown escaped");
	is_int(d.arrows[2].kind, DIAGRAM_CONTENT, "a BDAT chunk is a content arrow");
	is_int((long long)d.arrows[2].nlines, 3, "its lines and what was not recorded");
	is_str(d.arrows[2].text.data, "Subject: x\\r\\n\n\\r\\n\n(12 more octets, not recorded)",
	       "chunk octets escaped, omitted octets said");
	is_int(d.arrows[5].kind, DIAGRAM_REPLY, "DATA refused: a reply");
	is_int(d.arrows[6].kind, DIAGRAM_SEND, "QUIT after a refused DATA is a command");
	is_str(d.arrows[7].text.data, "for <bob@example.test>\n250 2.0.0 <bob@example.test> Saved",
	       "an LMTP reply names its recipient");
	is_int((long long)d.arrows[8].nlines, 2, "each recipient's reply is one arrow");
	is_str(d.arrows[9].text.data, "220 bare\\n", "a bare LF shown as on the screen");
	diagram_free(&d);
}

/* A fold of one line would cost a line: the line is shown instead. */
static void test_fold_of_one(void)
{
	const char *const lines[] = {
	    "-> DATA", "<- 354 go", "-> a", "-> b", "-> c", "-> d", "-> e", "-> .", NULL,
	};
	struct diagram d;
	build(&d, lines);
	is_int((long long)d.arrows[2].nlines, DIAGRAM_CONTENT_LINES + 1,
	       "5 lines of content shown");
	is_int((long long)d.arrows[2].more, 0, "none folded");
	is_str(d.arrows[2].text.data, "a\nb\nc\nd\ne", "all of them");
	diagram_free(&d);
}

static void test_hostile(void)
{
	/* control bytes, markup and a bidi override from the network: escaped in the model */
	const char *const lines[] = {
	    "<- 220 <script>alert(\"x\")</script> \\x1b[2J \\u{202E} &amp; '</svg>",
	    "# </svg><script>evil()</script>",
	    "*  connected \x01 here",
	    "-> NOOP",
	    NULL,
	};
	struct diagram d;
	build(&d, lines);
	ok(!memchr(d.arrows[0].text.data, 0x1b, d.arrows[0].text.len), "no ESC byte in the model");
	ok(strstr(d.arrows[0].text.data, "\\x1b[2J") != NULL, "ESC shown as \\x1b");
	ok(strstr(d.arrows[0].text.data, "\\u{202E}") != NULL, "the bidi override shown escaped");
	ok(!strchr(d.arrows[1].text.data, '\x01'), "a control byte of a local line escaped");
	struct diagram_options o = {.width = 80, .notes = true};
	struct buf out;
	buf_init(&out);
	ok(diagram_render_svg(&d, &o, &out) == 0, "the SVG renders");
	ok(!strstr(out.data, "<script"), "no script element in the SVG");
	ok(strstr(out.data, "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;") != NULL,
	   "markup shown as text");
	ok(strstr(out.data, "&#39;&lt;/svg&gt;") != NULL, "a quote and </svg> escaped");
	is_int((long long)(strstr(out.data, "</svg>") - out.data),
	       (long long)(strrchr(out.data, '<') - out.data), "one </svg>: the end");
	buf_reset(&out);
	ok(diagram_render_html(&d, &o, &out) == 0, "the HTML page renders");
	const char *script = strstr(out.data, "<script>");
	ok(script && !strstr(script + 1, "<script"), "one script element: the page's own");
	ok(strstr(out.data, "&lt;/svg&gt;&lt;script&gt;evil()") != NULL,
	   "the comment in the transcript beside it is text");
	buf_free(&out);
	diagram_free(&d);
}

static void test_bounds(void)
{
	struct diagram d;
	diagram_init(&d);
	struct transcript_entry e;
	transcript_entry_init(&e);
	transcript_parse_line("-> NOOP", 7, &e, NULL, 0);
	for (unsigned long i = 0; i < DIAGRAM_MAX_ARROWS + 100; i++)
		diagram_add(&d, &e, i + 1);
	transcript_entry_free(&e);
	/* a reply line of 5000 bytes */
	static char big[5004];
	memcpy(big, "<- ", 3);
	memset(big + 3, 'x', 5000);
	big[5003] = '\0';
	struct diagram d2;
	diagram_init(&d2);
	transcript_entry_init(&e);
	transcript_parse_line(big, strlen(big), &e, NULL, 0);
	diagram_add(&d2, &e, 1);
	transcript_entry_free(&e);
	diagram_finish(&d);
	diagram_finish(&d2);
	is_int((long long)d.n, DIAGRAM_MAX_ARROWS, "at most DIAGRAM_MAX_ARROWS arrows");
	is_int((long long)d.dropped, 100, "the rest counted");
	struct buf out;
	buf_init(&out);
	struct diagram_options o = {.width = 60};
	diagram_render_txt(&d, &o, &out);
	ok(strstr(out.data, "100 more events not drawn") != NULL, "the txt ladder says so");
	buf_free(&out);
	ok(d2.arrows[0].text.len <= DIAGRAM_MAX_TEXT + 3, "a long line is cut");
	is_int((long long)d2.cut, 1, "and counted");
	diagram_free(&d);
	diagram_free(&d2);
}

/* Every row of the text ladder is at most width columns. */
static void test_txt_width(void)
{
	struct diagram d;
	build(&d, starttls);
	for (int width = 40; width <= 120; width += 20) {
		struct diagram_options o = {.width = width, .notes = true};
		struct buf out;
		buf_init(&out);
		diagram_render_txt(&d, &o, &out);
		size_t widest = 0, rows = 0;
		for (char *p = out.data, *nl; (nl = strchr(p, '\n')); p = nl + 1, rows++) {
			size_t w = diagram_text_width(p, (size_t)(nl - p));
			widest = w > widest ? w : widest;
		}
		is_int((long long)widest, width, "width %d: the widest row fits exactly", width);
		ok(strstr(out.data, "TLSv1.3 TLS_AES_256_GCM_SHA384") != NULL,
		   "width %d: the TLS band is labelled", width);
		buf_free(&out);
	}
	diagram_free(&d);
}

/* Renders d as a txt ladder of width columns into out; returns how many rows between the
   lifelines are not exactly width columns wide. */
static int txt_rows(const struct diagram *d, int width, bool notes, bool ascii, struct buf *out)
{
	struct diagram_options o = {.width = width, .notes = notes, .ascii = ascii};
	buf_reset(out);
	if (diagram_render_txt(d, &o, out) < 0)
		return -1;
	int bad = 0;
	const char *v = ascii ? "|" : "\u2502";
	for (char *p = out->data, *nl; (nl = strchr(p, '\n')); p = nl + 1) {
		size_t w = diagram_text_width(p, (size_t)(nl - p));
		if (nl - p >= 3 && !strncmp(nl - strlen(v), v, strlen(v)) && w != (size_t)width)
			bad++;
	}
	return bad;
}

/* The row (0-based) holding s after row from, or -1; *line gets its start. */
static int row_of(const char *text, const char *s, int from, const char **line)
{
	int r = 0;
	for (const char *p = text, *nl; (nl = strchr(p, '\n')); p = nl + 1, r++) {
		if (r <= from)
			continue;
		const char *f = strstr(p, s);
		if (f && f < nl) {
			*line = p;
			return r;
		}
	}
	return -1;
}

/* A pipelined group in the txt ladder: slanted inside a TLS band (every row of it shaded),
   bracketed when a timing inside it is drawn (--notes), cut short, and a big one within the
   width with its slants at most FLIGHT_MAX (8) columns. */
static void test_txt_group(void)
{
	struct diagram d;
	build(&d, starttls);
	struct buf out;
	buf_init(&out);
	for (int width = 40; width <= 120; width += 20) {
		is_int(txt_rows(&d, width, false, false, &out), 0,
		       "width %d: every row fits exactly", width);
		is_int(txt_rows(&d, width, false, true, &out), 0, "width %d: in ASCII too", width);
	}
	txt_rows(&d, 80, false, false, &out);
	const char *line;
	int mail = row_of(out.data, "MAIL FROM:<a@example.test>", -1, &line);
	int last = row_of(out.data, "354 go ahead", mail, &line);
	ok(mail > 0 && last > mail, "the group's first and last texts, in order");
	int shaded = 0, slants = 0;
	for (int r = mail; r <= last && row_of(out.data, "", r - 1, &line) == r; r++) {
		shaded += !strncmp(line, "\u2592 ", 4);
		slants +=
		    strstr(line, "\u2572") != NULL && strstr(line, "\u2572") < strchr(line, '\n');
	}
	is_int(shaded, last - mail + 1, "every row of the group in the TLS band");
	ok(slants >= 3, "the commands slant");
	ok(!strstr(out.data, "\u250c"), "no bracket");
	ok(strstr(out.data, "\u2573") != NULL, "a reply crosses a command");
	txt_rows(&d, 80, true, false, &out);
	ok(strstr(out.data, "\u2592\u250c\u2502\u2500\u2500 MAIL FROM:<a@example.test>") != NULL,
	   "with --notes the timing inside it keeps the bracket");
	ok(strstr(out.data, "+ 12 ms") != NULL, "and the timing beside its reply");
	diagram_free(&d);

	static const char *const cut[] = {"p1/3 -> MAIL FROM:<a@example.test>",
					  "p2/3 -> RCPT TO:<b@example.test>", "p3/3 -> DATA",
					  "<- 250 2.1.0 Ok", NULL};
	build(&d, cut);
	is_int(txt_rows(&d, 60, false, false, &out), 0, "a group cut short fits");
	int heads = 0;
	for (const char *p = out.data; (p = strstr(p, "\u25BA\u2502")); p++)
		heads++;
	is_int(heads, 3, "its three commands land");
	ok(strstr(out.data, "\u25C4\u2500 250 2.1.0 Ok") != NULL, "its one reply arrives");
	diagram_free(&d);

	/* 60 RCPTs and their replies */
	enum { N = 60 };
	static char lines[2 * N + 2][64];
	const char *big[2 * N + 3];
	snprintf(lines[0], sizeof lines[0], "p1/%d -> MAIL FROM:<a@example.test>", N + 1);
	for (int k = 0; k < N; k++)
		snprintf(lines[k + 1], sizeof lines[k + 1], "p%d/%d -> RCPT TO:<r%d@example.test>",
			 k + 2, N + 1, k);
	for (int k = 0; k <= N; k++)
		snprintf(lines[N + 1 + k], sizeof lines[N + 1 + k], "<- 250 2.1.5 Ok %d", k);
	for (int k = 0; k < 2 * N + 2; k++)
		big[k] = lines[k];
	big[2 * N + 2] = NULL;
	build(&d, big);
	for (int width = 40; width <= 80; width += 20)
		is_int(txt_rows(&d, width, false, false, &out), 0, "width %d: a group of %d fits",
		       width, N + 1);
	int r = -1, inorder = 1;
	for (int k = 0; k < N; k++) {
		char want[40];
		snprintf(want, sizeof want, "RCPT TO:<r%d@example.test>", k);
		int at = row_of(out.data, want, r, &line);
		inorder &= at == r + 1 || (k == 0 && at > 0);
		r = at;
	}
	ok(inorder, "its commands on consecutive rows, in order");
	int first = row_of(out.data, "MAIL FROM", -1, &line);
	const char *down = first >= 0 ? strstr(line, "\u2572") : NULL;
	const char *end = first >= 0 ? strchr(line, '\n') : NULL;
	ok(down && end && (size_t)(end - down) - strlen("\u2572") - strlen("\u2502") <= 8,
	   "its slants at most 8 columns wide");
	for (int k = 0, at = r; k <= N; k++) {
		char want[40];
		snprintf(want, sizeof want, "250 2.1.5 Ok %d ", k);
		int got = row_of(out.data, want, at, &line);
		inorder &= got > at;
		at = got;
	}
	ok(inorder, "its replies after the commands, in order");
	diagram_free(&d);
	buf_free(&out);
}

static void test_xml_escape(void)
{
	struct buf out;
	buf_init(&out);
	const char in[] = "<a href='x'>&\"\xEF\xBF\xBE\xEF\xBF\xBF";
	diagram_xml_escape(&out, in, sizeof in - 1);
	is_str(out.data, "&lt;a href=&#39;x&#39;&gt;&amp;&quot;\\u{FFFE}\\u{FFFF}",
	       "markup characters and XML's non-characters escaped");
	buf_free(&out);
	is_int((long long)diagram_text_width("a\xE4\xB8\xAD"
					     "b",
					     5),
	       4, "a wide character takes two columns");
}

static void test_formats(void)
{
	enum diagram_format f = DIAGRAM_TXT;
	ok(diagram_format_of_path("x.svg", &f) == 0 && f == DIAGRAM_SVG, ".svg");
	ok(diagram_format_of_path("dir.v/x.HTML", &f) == 0 && f == DIAGRAM_HTML, ".HTML");
	ok(diagram_format_of_path("x.htm", &f) == 0 && f == DIAGRAM_HTML, ".htm");
	ok(diagram_format_of_path("x.txt", &f) == 0 && f == DIAGRAM_TXT, ".txt");
	ok(diagram_format_of_path("dir.svg/x", &f) < 0, "no extension");
	ok(diagram_format_of_path("x.png", &f) < 0, "an unknown one");
}

int main(void)
{
	test_model();
	test_version2();
	test_fold_of_one();
	test_hostile();
	test_bounds();
	test_txt_width();
	test_txt_group();
	test_xml_escape();
	test_formats();
	return done_testing();
}
