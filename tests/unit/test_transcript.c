/* Unit tests of the transcript writer, parser and reader (src/transcript/): round trips,
   redaction by construction, and hostile lines. */
#include "smtpsh/transcript.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtpsh/session.h"
#include "tap.h"

/*
 * The session stamps every event with the connection it belongs to; the writer takes the
 * header's peer from there. The events of the round trip belong to this one, open or not.
 */
static bool peer_up;
static void hear(struct session_event *ev, struct transcript_writer *w)
{
	ev->host = "mail.example.test";
	ev->port = "587";
	ev->mode = TLS_STARTTLS;
	ev->connected = peer_up;
	transcript_event(ev, w);
}

static struct session_event sent(const char *text, bool tls)
{
	return (struct session_event){.type = SEV_SENT,
				      .text = text,
				      .len = strlen(text),
				      .tls = tls,
				      .verified = tls,
				      .elapsed_ms = -1};
}

static struct session_event received(const char *text, size_t len, bool tls, long ms)
{
	return (struct session_event){.type = SEV_RECEIVED,
				      .text = text,
				      .len = len,
				      .tls = tls,
				      .verified = tls,
				      .elapsed_ms = ms,
				      .last = true};
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	static char data[65536];
	size_t n = f ? fread(data, 1, sizeof data - 1, f) : 0;
	data[n] = '\0';
	if (f)
		fclose(f);
	return data;
}

static void test_round_trip(const char *dir)
{
	char path[512];
	snprintf(path, sizeof path, "%s/t1.transcript", dir);
	struct transcript_writer w;
	transcript_writer_init(&w);
	w.times = true;
	peer_up = false;
	ok(transcript_open(&w, path) == 0, "open for writing");
	ok(access(path, F_OK) == 0 && strlen(slurp(path)) == 0,
	   "no header before the first event when not connected");
	peer_up = true;

	struct session_event ev = {
	    .type = SEV_INFO, .text = "connected to x port 587", .len = 23, .elapsed_ms = 3};
	hear(&ev, &w);
	ev = received("220 mail ESMTP", 14, false, 12);
	hear(&ev, &w);
	ev = sent("EHLO me", false);
	hear(&ev, &w);
	ev = received("250-mail\x1b[31m red", 18, false, 5);
	ev.last = false;
	hear(&ev, &w);
	ev = received("250 trailing space ", 19, false, 5);
	ev.bare_lf = true;
	hear(&ev, &w);
	ev = (struct session_event){
	    .type = SEV_TLS, .text = "TLSv1.3 X", .len = 9, .elapsed_ms = 40};
	hear(&ev, &w);
	/* reveal-secrets on: the screen sees the secret, the file must not */
	ev = sent("AUTH PLAIN AGFsaWNlAHNlY3JldA==", true);
	ev.secret = true;
	ev.redacted = "AUTH PLAIN <redacted>";
	hear(&ev, &w);
	ev = sent("c2VjcmV0", true);
	ev.secret = true;
	ev.redacted = NULL;
	hear(&ev, &w);
	ev = received("334 VXNlcm5hbWU6", 16, true, 1);
	hear(&ev, &w);
	ev = sent("MAIL FROM:<a@b>", true);
	ev.pipe_index = 1;
	ev.pipe_total = 2;
	hear(&ev, &w);
	ev = sent("back\\slash \t tab \xc3\xa4 \xe2\x80\xae bidi \xff", true);
	ev.body = true;
	hear(&ev, &w);
	ev = sent("", true);
	ev.body = true;
	ev.quiet = true;
	hear(&ev, &w);
	ev = (struct session_event){
	    .type = SEV_WARNING, .text = "bad\nthing", .len = 9, .elapsed_ms = -1};
	hear(&ev, &w);
	transcript_comment(&w, "a comment\x07 with a bell");
	transcript_close(&w);
	ok(!w.failed, "no write failure");

	const char *file = slurp(path);
	ok(strncmp(file, "smtpsh-transcript 2\ntool: smtpsh ", 33) == 0, "magic line and tool");
	ok(strstr(file, "\nhost: mail.example.test\nport: 587\ntls: starttls\n\n") != NULL,
	   "peer in the header, empty line after it");
	ok(strstr(file, "secret") == NULL && strstr(file, "AGFsaWNl") == NULL &&
	       strstr(file, "c2VjcmV0") == NULL,
	   "no secret in the file (reveal-secrets was on)");
	ok(strstr(file, "\n~> AUTH PLAIN <redacted>\n~> <redacted>\n") != NULL,
	   "secrets written redacted");
	ok(strstr(file, "\n+5ms <- 250 trailing space\\x20\\n\n") != NULL,
	   "elapsed field, final blank and bare LF escaped");
	ok(strstr(file, "\np1/2 ~> MAIL FROM:<a@b>\n") != NULL, "pipelining field");
	ok(strstr(file, "\n# a comment? with a bell\n") != NULL, "comment, control byte replaced");
	ok(strstr(file, "\n!  warning: bad?thing\n") != NULL, "warning on one line");
	ok(strstr(file, "\n+40ms *  TLSv1.3 X\n") != NULL, "TLS with its handshake time");

	struct transcript_reader rd;
	ok(transcript_reader_open(&rd, path) == 0, "reader opens it");
	is_str(rd.header.host, "mail.example.test", "header host");
	is_str(rd.header.port, "587", "header port");
	is_str(rd.header.tls, "starttls", "header tls");
	ok(!strncmp(rd.header.tool, "smtpsh ", 7) && strlen(rd.header.date) == 20,
	   "header tool and date");
	struct transcript_entry e;
	transcript_entry_init(&e);
	int n = 0;
	bool good = true;
	while (transcript_reader_next(&rd, &e) == 1) {
		n++;
		switch (n) {
		case 1:
			good &= e.kind == TR_INFO && e.elapsed_ms == 3 &&
				!strcmp(e.text.data, "connected to x port 587");
			break;
		case 2:
			good &= e.kind == TR_RECEIVED && !e.tls && e.code == 220 && e.last &&
				e.elapsed_ms == 12 && !strcmp(e.text.data, "220 mail ESMTP");
			break;
		case 3:
			good &= e.kind == TR_SENT && !strcmp(e.text.data, "EHLO me");
			break;
		case 4:
			good &= e.kind == TR_RECEIVED && e.code == 250 && !e.last &&
				e.text.len == 18 &&
				!memcmp(e.text.data, "250-mail\x1b[31m red", 18);
			break;
		case 5:
			good &= e.bare_lf && e.last && !strcmp(e.text.data, "250 trailing space ");
			break;
		case 6:
			good &= e.kind == TR_INFO && e.elapsed_ms == 40;
			break;
		case 7:
			good &= e.kind == TR_SENT && e.tls && e.verified &&
				!strcmp(e.text.data, "AUTH PLAIN <redacted>");
			break;
		case 8:
			good &= !strcmp(e.text.data, "<redacted>");
			break;
		case 9:
			good &= e.code == 334 && e.tls;
			break;
		case 10:
			good &= e.pipe_index == 1 && e.pipe_total == 2;
			break;
		case 11:
			good &= !strcmp(e.text.data,
					"back\\slash \t tab \xc3\xa4 \xe2\x80\xae bidi \xff");
			break;
		case 12:
			good &= e.kind == TR_SENT && e.text.len == 0;
			break;
		case 13:
			good &= e.kind == TR_ALERT && !strcmp(e.text.data, "warning: bad?thing");
			break;
		case 14:
			good &= e.kind == TR_COMMENT;
			break;
		}
		if (!good) {
			diag("entry %d differs: kind %d text \"%s\"", n, (int)e.kind,
			     e.text.data ? e.text.data : "");
			break;
		}
	}
	ok(good && n == 14, "round trip: every event read back as written (%d entries)", n);
	transcript_entry_free(&e);
	transcript_reader_close(&rd);

	/* reopening truncates; closing before any event still writes a header */
	transcript_writer_free(&w);
	transcript_writer_init(&w);
	ok(transcript_open(&w, path) == 0, "reopen");
	transcript_close(&w);
	file = slurp(path);
	ok(!strncmp(file, "smtpsh-transcript 2\n", 20) && !strstr(file, "host:") &&
	       file[strlen(file) - 2] == '\n',
	   "header only, without a peer");
	transcript_writer_free(&w);

	ok(transcript_open(&w, "/nonexistent/dir/x") < 0 && strstr(w.err, "cannot write"),
	   "unwritable path: an error, no crash");
}

/* An event of a connection to host:port in mode, open or not (as the session stamps it). */
static void event_of(struct transcript_writer *w, enum session_event_type type, const char *text,
		     const char *host, const char *port, enum tls_mode mode, bool connected)
{
	struct session_event ev = {.type = type,
				   .text = text,
				   .len = strlen(text),
				   .elapsed_ms = -1,
				   .host = host,
				   .port = port,
				   .mode = mode,
				   .connected = connected};
	transcript_event(&ev, w);
}

/* The header names the connection the events said, heard before recording started too. */
static void test_header_peer(const char *dir)
{
	char path[512];
	snprintf(path, sizeof path, "%s/peer.transcript", dir);
	struct transcript_writer w;
	transcript_writer_init(&w);
	event_of(&w, SEV_INFO, "connected to a.example port 25", "a.example", "25", TLS_NONE, true);
	ok(transcript_open(&w, path) == 0 &&
	       strstr(slurp(path), "\nhost: a.example\nport: 25\ntls: none\n\n") != NULL,
	   "recording started while connected: the header at once, with the peer heard before");
	event_of(&w, SEV_CLOSED, "connection closed", "a.example", "25", TLS_NONE, false);
	transcript_close(&w);

	ok(transcript_open(&w, path) == 0 && strlen(slurp(path)) == 0,
	   "recording started after the connection ended: no header yet");
	event_of(&w, SEV_INFO, "connected to b.example port 465", "b.example", "465", TLS_IMPLICIT,
		 true);
	transcript_close(&w);
	const char *file = slurp(path);
	ok(strstr(file, "\nhost: b.example\nport: 465\ntls: implicit\n\n*  connected to "
			"b.example port 465\n") != NULL &&
	       strstr(file, "a.example") == NULL,
	   "the header names the connection that follows, not the one before");

	event_of(&w, SEV_CLOSED, "connection closed", "b.example", "465", TLS_IMPLICIT, false);
	ok(transcript_open(&w, path) == 0, "reopen");
	event_of(&w, SEV_ERROR, "cannot connect to c.example", "c.example", "587", TLS_STARTTLS,
		 false);
	transcript_close(&w);
	ok(strstr(slurp(path), "\nhost: c.example\nport: 587\ntls: starttls\n\n!  error: "
			       "cannot connect to c.example\n") != NULL,
	   "a connection that failed: the header names what was tried");

	transcript_writer_free(&w);
}

static int parse(const char *line, struct transcript_entry *e)
{
	char err[200];
	return transcript_parse_line(line, strlen(line), e, err, sizeof err);
}

static void test_parse(void)
{
	struct transcript_entry e;
	transcript_entry_init(&e);
	ok(parse("", &e) == 0 && e.kind == TR_BLANK, "blank line");
	ok(parse("#", &e) == 0 && e.kind == TR_COMMENT && e.text.len == 0, "bare #");
	ok(parse("->", &e) == 0 && e.kind == TR_SENT && e.text.len == 0, "empty sent line");
	ok(parse("-> ", &e) == 0 && e.kind == TR_SENT && e.text.len == 0,
	   "empty sent line with its blank");
	ok(parse("<- 250", &e) == 0 && e.code == 250 && e.last, "bare code");
	ok(parse("<- 2500 x", &e) == 0 && e.code == 0, "four digits: not a reply code");
	ok(parse("<- hello", &e) == 0 && e.code == 0, "a malformed reply recorded as such");
	ok(parse("*  connected", &e) == 0 && e.kind == TR_INFO && !strcmp(e.text.data, "connected"),
	   "info");
	ok(parse("+7ms p2/3 -> RCPT TO:<x>", &e) == 0 && e.elapsed_ms == 7 && e.pipe_index == 2 &&
	       e.pipe_total == 3,
	   "both fields");
	ok(parse("<- 250 \\u{202E}x", &e) == 0 && !strcmp(e.text.data, "250 \xe2\x80\xaex"),
	   "\\u{} escape back to UTF-8");
	ok(parse("-> a\\x00b", &e) < 0, "NUL in a sent line");
	ok(parse("-> a\\r", &e) < 0, "CR in a sent line");
	ok(parse("<- 250 a\\nb", &e) < 0, "LF inside a received line");
	ok(parse("<- 250 \\q", &e) < 0, "unknown escape");
	ok(parse("<- 250 \\x4", &e) < 0 && parse("<- 250 \\", &e) < 0, "cut escapes");
	ok(parse("<- 250 \\u{D800}", &e) < 0 && parse("<- 250 \\u{110000}", &e) < 0 &&
	       parse("<- 250 \\u{}", &e) < 0 && parse("<- 250 \\u{41", &e) < 0 &&
	       parse("<- 250 \\u{1234567}", &e) < 0,
	   "bad \\u{} escapes");
	ok(parse("=> x", &e) < 0 && parse("->x", &e) < 0 && parse("* ", &e) == 0 &&
	       parse("hello", &e) < 0,
	   "unknown markers");
	ok(parse("+ms -> x", &e) < 0 && parse("+5 -> x", &e) < 0 &&
	       parse("+5ms+6ms -> x", &e) < 0 && parse("+99999999999ms -> x", &e) < 0,
	   "bad time fields");
	ok(parse("p0/2 -> x", &e) < 0 && parse("p3/2 -> x", &e) < 0 &&
	       parse("p1/2000 -> x", &e) < 0 && parse("p1 -> x", &e) < 0 &&
	       parse("p1/2 p1/2 -> x", &e) < 0,
	   "bad pipelining fields");
	transcript_entry_free(&e);

	struct transcript_header h = {0};
	char err[200];
	ok(transcript_parse_magic("smtpsh-transcript 1", 19, err, sizeof err) == 1, "magic");
	ok(transcript_parse_magic("smtpsh-transcript 2", 19, err, sizeof err) == 2,
	   "version 2 (raw writes, BDAT chunks, LMTP replies) is read");
	ok(transcript_parse_magic("smtpsh-transcript 3", 19, err, sizeof err) < 0 &&
	       strstr(err, "not one this smtpsh reads"),
	   "a newer version is refused by name");
	ok(transcript_parse_magic("From: x", 7, err, sizeof err) < 0, "not a transcript");
	ok(transcript_parse_header_line("host: a.example", 15, &h, err, sizeof err) == 1 &&
	       !strcmp(h.host, "a.example"),
	   "header field");
	ok(transcript_parse_header_line("protocol: lmtp", 14, &h, err, sizeof err) == 1 &&
	       !strcmp(h.protocol, "lmtp"),
	   "version 2: the protocol field (LMTP)");
	ok(!h.perspective[0] &&
	       transcript_parse_header_line("perspective: client", 19, &h, err, sizeof err) == 1 &&
	       !h.perspective[0],
	   "perspective: client is a client's transcript, as without the field");
	ok(transcript_parse_header_line("perspective: server", 19, &h, err, sizeof err) == 1 &&
	       !strcmp(h.perspective, "server") &&
	       transcript_parse_header_line("peer: 127.0.0.1 54321", 21, &h, err, sizeof err) ==
		   1 &&
	       !strcmp(h.peer, "127.0.0.1 54321"),
	   "a server-side transcript (--serve --record): perspective and peer");
	ok(transcript_parse_header_line("perspective: relay", 18, &h, err, sizeof err) < 0 &&
	       strstr(err, "\"client\" or \"server\""),
	   "an unknown perspective is refused, not taken for a client's");
	ok(transcript_parse_header_line("x-future: 1", 11, &h, err, sizeof err) == 1,
	   "unknown field ignored");
	ok(transcript_parse_header_line("# note", 6, &h, err, sizeof err) == 1, "header comment");
	ok(transcript_parse_header_line("", 0, &h, err, sizeof err) == 0, "end of header");
	ok(transcript_parse_header_line("no colon", 8, &h, err, sizeof err) < 0 &&
	       transcript_parse_header_line(":x", 2, &h, err, sizeof err) < 0 &&
	       transcript_parse_header_line("Host: x", 7, &h, err, sizeof err) < 0,
	   "malformed header lines");
	char big[400];
	memset(big, 'a', sizeof big);
	memcpy(big, "host: ", 6);
	ok(transcript_parse_header_line(big, sizeof big, &h, err, sizeof err) < 0,
	   "over-long field");
	ok(transcript_parse_header_line("port: 2\x1b", 8, &h, err, sizeof err) < 0,
	   "control byte in a field");
}

static void write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	fwrite(data, 1, len, f);
	fclose(f);
}

static void test_reader_hostile(const char *dir)
{
	char path[512];
	snprintf(path, sizeof path, "%s/bad.transcript", dir);
	struct transcript_reader rd;
	write_file(path, "", 0);
	ok(transcript_reader_open(&rd, path) < 0 && strstr(rd.err, "empty"), "empty file");
	write_file(path, "hello\n", 6);
	ok(transcript_reader_open(&rd, path) < 0 && strstr(rd.err, "not an smtpsh transcript"),
	   "not a transcript");
	write_file(path, "smtpsh-transcript 1\r\nhost: x\r\n\r\n-> EHLO x\r\n", 43);
	struct transcript_entry e;
	transcript_entry_init(&e);
	ok(transcript_reader_open(&rd, path) == 0 && transcript_reader_next(&rd, &e) == 1 &&
	       !strcmp(e.text.data, "EHLO x") && transcript_reader_next(&rd, &e) == 0,
	   "CRLF line ends tolerated");
	transcript_reader_close(&rd);
	write_file(path, "smtpsh-transcript 1\n\n-> a\0b\n", 28);
	ok(transcript_reader_open(&rd, path) == 0 && transcript_reader_next(&rd, &e) < 0 &&
	       strstr(rd.err, "line 3: holds a NUL"),
	   "NUL byte: error naming the line");
	transcript_reader_close(&rd);
	size_t big = TRANSCRIPT_LINE_MAX + 100;
	char *data = malloc(big + 30);
	memcpy(data, "smtpsh-transcript 1\n\n-> ", 24);
	memset(data + 24, 'x', big);
	write_file(path, data, big + 24);
	free(data);
	ok(transcript_reader_open(&rd, path) == 0 && transcript_reader_next(&rd, &e) < 0 &&
	       strstr(rd.err, "longer than"),
	   "over-long line: error, bounded");
	ok(rd.line.cap <= 2 * (size_t)TRANSCRIPT_LINE_MAX + 64, "memory stays bounded");
	transcript_reader_close(&rd);
	write_file(path, "smtpsh-transcript 1\nhost: x", 27);
	ok(transcript_reader_open(&rd, path) == 0 && transcript_reader_next(&rd, &e) == 0,
	   "header without its empty line, no events");
	transcript_reader_close(&rd);
	transcript_entry_free(&e);
}

/* --- version 2: raw writes, BDAT chunks, LMTP replies per recipient ------------------------- */

static void test_version2(const char *dir)
{
	char path[512];
	snprintf(path, sizeof path, "%s/v2.transcript", dir);
	struct transcript_writer w;
	transcript_writer_init(&w);
	peer_up = true;
	ok(transcript_open(&w, path) == 0, "v2: open");
	static const char rawbytes[] = "MAIL FROM:<a@x>\nRCPT TO:<b@x>\r\n\0\xe9 caf\xc3\xa9 ";
	struct session_event ev = sent(rawbytes, false);
	ev.len = sizeof rawbytes - 1;
	ev.raw = true;
	ev.octets = ev.len;
	hear(&ev, &w);
	/* a raw write with an AUTH in it: its redacted form (it may hold NUL) goes to the file */
	static const char red[] = "AUTH PLAIN <redacted>\r\n\0";
	ev = sent("AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n\0", false);
	ev.len = 34;
	ev.raw = true;
	ev.secret = true;
	ev.redacted = red;
	ev.redacted_len = sizeof red - 1;
	hear(&ev, &w);
	ev = sent("BDAT 12 LAST", true);
	hear(&ev, &w);
	ev = sent("Subject: x\r\n", true);
	ev.chunk = true;
	hear(&ev, &w);
	ev = sent("", true);
	ev.chunk = true;
	ev.chunk_omitted = 1048576;
	hear(&ev, &w);
	ev = received("250 2.1.5 Ok", 12, true, -1);
	ev.rcpt = "b o\nb@example.test";
	hear(&ev, &w);
	transcript_close(&w);
	const char *file = slurp(path);
	ok(strstr(file,
		  "\nraw -> MAIL FROM:<a@x>\\nRCPT TO:<b@x>\\r\\n\\x00\\xe9 caf\xc3\xa9\\x20\n"),
	   "raw write: one line, CR LF NUL and bad UTF-8 escaped, UTF-8 text kept");
	ok(strstr(file, "\nraw -> AUTH PLAIN <redacted>\\r\\n\\x00\n") && !strstr(file, "AGFsaW"),
	   "raw write with a secret: the redacted form, all of it");
	ok(strstr(file, "\n~> BDAT 12 LAST\nchunk ~> Subject: x\\r\\n\nchunk omitted:1048576 ~>\n"),
	   "BDAT: the command, the chunk's octets, a summary of what was not recorded");
	ok(strstr(file, "\nrcpt:b\\x20o\\nb@example.test <~ 250 2.1.5 Ok\n"),
	   "LMTP: the reply with its recipient, escaped without blanks");
	transcript_writer_free(&w);

	/* read back */
	struct transcript_reader rd;
	ok(transcript_reader_open(&rd, path) == 0 && rd.header.version == 2, "v2: read back");
	struct transcript_entry e;
	transcript_entry_init(&e);
	ok(transcript_reader_next(&rd, &e) == 1 && e.kind == TR_SENT && e.raw &&
	       e.text.len == sizeof rawbytes - 1 && !memcmp(e.text.data, rawbytes, e.text.len),
	   "raw write: the exact octets back");
	ok(transcript_reader_next(&rd, &e) == 1 && e.raw && e.text.len == sizeof red - 1,
	   "redacted raw write back");
	ok(transcript_reader_next(&rd, &e) == 1 && !e.raw && !e.chunk &&
	       !strcmp(e.text.data, "BDAT 12 LAST"),
	   "the BDAT command is a sent line");
	ok(transcript_reader_next(&rd, &e) == 1 && e.chunk && e.tls &&
	       !strcmp(e.text.data, "Subject: x\r\n"),
	   "chunk octets back");
	ok(transcript_reader_next(&rd, &e) == 1 && e.chunk && e.omitted == 1048576 && !e.text.len,
	   "omitted octets back");
	ok(transcript_reader_next(&rd, &e) == 1 && e.kind == TR_RECEIVED && e.has_rcpt &&
	       !strcmp(e.rcpt.data, "b o\nb@example.test") && e.code == 250,
	   "recipient of an LMTP reply back");
	ok(transcript_reader_next(&rd, &e) == 0, "end");
	transcript_reader_close(&rd);

	/* the parser's rules */
	ok(parse("raw -> a\\0b\\r\\n", &e) == 0 && e.raw && e.text.len == 5 && e.text.data[1] == 0,
	   "\\0 is a NUL in a raw line");
	ok(parse("-> a\\0b", &e) < 0, "but not in an ordinary sent line");
	ok(parse("+5ms p1/2 raw -> x", &e) == 0 && e.raw && e.pipe_total == 2, "with other fields");
	ok(parse("raw <- 250 x", &e) < 0 && parse("chunk <- 250", &e) < 0 &&
	       parse("omitted:5 chunk <- 250", &e) < 0,
	   "raw and chunk go with sent lines only");
	ok(parse("rcpt:a@b -> x", &e) < 0, "rcpt goes with received lines only");
	ok(parse("raw *  x", &e) < 0 && parse("rcpt:a !  x", &e) < 0, "nor with local lines");
	ok(parse("raw raw -> x", &e) < 0 && parse("raw chunk -> x", &e) < 0 &&
	       parse("rcpt:a rcpt:b <- 250", &e) < 0,
	   "each field once");
	ok(parse("omitted:5 -> x", &e) < 0 && parse("chunk omitted:5 -> x", &e) < 0 &&
	       parse("chunk omitted:0 ->", &e) < 0 && parse("chunk omitted: ->", &e) < 0 &&
	       parse("chunk omitted:99999999999999999999 ->", &e) < 0,
	   "omitted: with chunk, no text, a count");
	ok(parse("chunk omitted:7 ->", &e) == 0 && e.omitted == 7, "omitted");
	ok(parse("rcpt: <- 250", &e) < 0 && parse("rcpt:a\\q <- 250", &e) < 0,
	   "bad recipient fields");
	ok(parse("rawx -> a", &e) < 0 && parse("raw-> a", &e) < 0, "raw is a word");
	transcript_entry_free(&e);
}

int main(void)
{
	char dir[] = "/tmp/smtpsh-test-transcript-XXXXXX";
	if (!mkdtemp(dir)) {
		diag("mkdtemp failed");
		return 1;
	}
	test_round_trip(dir);
	test_header_peer(dir);
	test_parse();
	test_reader_hostile(dir);
	test_version2(dir);
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	return done_testing();
}
