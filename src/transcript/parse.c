/* Parsing transcript lines (pure; see transcripts/FORMAT.md). */
#include "smtpsh/transcript.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

__attribute__((format(printf, 3, 4))) static int bad(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

void transcript_entry_init(struct transcript_entry *e)
{
	memset(e, 0, sizeof *e);
	e->elapsed_ms = -1;
	buf_init(&e->text);
	buf_init(&e->rcpt);
}

void transcript_entry_free(struct transcript_entry *e)
{
	buf_free(&e->text);
	buf_free(&e->rcpt);
}

/* Appends the UTF-8 form of code point cp. */
static int put_utf8(struct buf *out, uint32_t cp)
{
	char b[4];
	size_t n;
	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xC0 | cp >> 6);
		b[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xE0 | cp >> 12);
		b[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		b[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		b[0] = (char)(0xF0 | cp >> 18);
		b[1] = (char)(0x80 | (cp >> 12 & 0x3F));
		b[2] = (char)(0x80 | (cp >> 6 & 0x3F));
		b[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	return buf_append(out, b, n);
}

int transcript_unescape(const char *in, size_t len, struct buf *out)
{
	size_t i = 0, from = 0;
	while (i < len) {
		if (in[i] != '\\') {
			i++;
			continue;
		}
		if (i > from && buf_append(out, in + from, i - from) < 0)
			return -1;
		if (i + 1 >= len)
			return -1;
		char c = in[i + 1];
		int r = 0;
		if (c == '\\')
			r = buf_putc(out, '\\');
		else if (c == 't')
			r = buf_putc(out, '\t');
		else if (c == 'r')
			r = buf_putc(out, '\r');
		else if (c == 'n')
			r = buf_putc(out, '\n');
		else if (c == '0')
			r = buf_putc(out, '\0');
		if (c == '\\' || c == 't' || c == 'r' || c == 'n' || c == '0') {
			i += 2;
		} else if (c == 'x') {
			int hi = i + 2 < len ? OPENSSL_hexchar2int((unsigned char)in[i + 2]) : -1;
			int lo = i + 3 < len ? OPENSSL_hexchar2int((unsigned char)in[i + 3]) : -1;
			if (hi < 0 || lo < 0)
				return -1;
			r = buf_putc(out, (char)(hi << 4 | lo));
			i += 4;
		} else if (c == 'u' && i + 2 < len && in[i + 2] == '{') {
			size_t j = i + 3;
			uint32_t cp = 0;
			int digits = 0;
			while (j < len && OPENSSL_hexchar2int((unsigned char)in[j]) >= 0 &&
			       digits < 6) {
				cp = cp << 4 | (uint32_t)OPENSSL_hexchar2int((unsigned char)in[j]);
				j++;
				digits++;
			}
			if (!digits || j >= len || in[j] != '}' || cp > 0x10FFFF ||
			    (cp >= 0xD800 && cp <= 0xDFFF))
				return -1;
			r = put_utf8(out, cp);
			i = j + 1;
		} else {
			return -1;
		}
		if (r < 0)
			return -1;
		from = i;
	}
	if (i > from && buf_append(out, in + from, i - from) < 0)
		return -1;
	return buf_append(out, "", 0);
}

int transcript_parse_magic(const char *line, size_t len, char *err, size_t errlen)
{
	static const char prefix[] = "smtpsh-transcript ";
	size_t n = sizeof prefix - 1;
	if (len < n || memcmp(line, prefix, n) != 0)
		return bad(err, errlen, "not an smtpsh transcript (the first line is not \"%s\")",
			   TRANSCRIPT_MAGIC);
	/* version 2 adds raw writes, BDAT chunks and LMTP's replies per recipient; every
	   version-1 file is a version-2 file */
	if (len == n + 1 && line[n] >= '1' && line[n] <= '0' + TRANSCRIPT_VERSION)
		return line[n] - '0';
	return bad(err, errlen, "transcript format \"%.*s\" is not one this smtpsh reads (1 to %d)",
		   (int)(len - n > 20 ? 20 : len - n), line + n, TRANSCRIPT_VERSION);
}

static int store(char *dst, size_t cap, const char *v, size_t len, const char *name, char *err,
		 size_t errlen)
{
	if (len >= cap)
		return bad(err, errlen, "header field %s is too long", name);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return bad(err, errlen, "header field %s holds a control character", name);
	memcpy(dst, v, len);
	dst[len] = '\0';
	return 1;
}

int transcript_parse_header_line(const char *line, size_t len, struct transcript_header *h,
				 char *err, size_t errlen)
{
	if (len == 0)
		return 0;
	if (line[0] == '#')
		return 1;
	size_t k = 0;
	while (k < len && (islower((unsigned char)line[k]) || isdigit((unsigned char)line[k]) ||
			   line[k] == '-'))
		k++;
	if (k == 0 || k > 32 || k >= len || line[k] != ':')
		return bad(err, errlen,
			   "a header line is \"name: value\" (or empty to end the header)");
	const char *v = line + k + 1;
	size_t vlen = len - k - 1;
	while (vlen && (*v == ' ' || *v == '\t')) {
		v++;
		vlen--;
	}
	while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;
	if (!h->version)
		h->version = 1;
#define FIELD(name, dst)                                                                           \
	if (k == strlen(name) && memcmp(line, name, k) == 0)                                       \
		return store(dst, sizeof dst, v, vlen, name, err, errlen);
	FIELD("tool", h->tool)
	FIELD("date", h->date)
	FIELD("host", h->host)
	FIELD("port", h->port)
	FIELD("tls", h->tls)
	FIELD("protocol", h->protocol)
	FIELD("peer", h->peer)
#undef FIELD
	if (k == 11 && memcmp(line, "perspective", 11) == 0) {
		/* whose view the events are (the events mean the same either way: -> is the
		   client's, <- the server's); a value this smtpsh does not know is refused,
		   not taken for a client's */
		if (vlen == 6 && memcmp(v, "client", 6) == 0)
			return 1;
		if (vlen == 6 && memcmp(v, "server", 6) == 0)
			return store(h->perspective, sizeof h->perspective, v, vlen, "perspective",
				     err, errlen);
		return bad(err, errlen, "header field perspective is \"client\" or \"server\"");
	}
	return 1; /* a field this version does not know: ignored */
}

/* Parses up to max digits at *p; false when there are none or too many. */
static bool number(const char *line, size_t len, size_t *p, unsigned long max, unsigned long *out)
{
	size_t i = *p;
	unsigned long v = 0;
	while (i < len && isdigit((unsigned char)line[i])) {
		v = v * 10 + (unsigned long)(line[i] - '0');
		if (v > max)
			return false;
		i++;
	}
	if (i == *p)
		return false;
	*p = i;
	*out = v;
	return true;
}

/* Is the field at line[i] the word w: w and a blank (end: ' '), or w and its value (end: ':')? */
static bool word_at(const char *line, size_t len, size_t i, const char *w, char end)
{
	size_t n = strlen(w);
	return i + n < len && memcmp(line + i, w, n) == 0 && line[i + n] == end;
}

/* The optional fields before the marker: "+Nms ", "pI/N ", and in version 2 "raw ", "chunk ",
   "omitted:N ", "rcpt:ADDR " (ADDR escaped as wire text, so it holds no blank). */
static int fields(const char *line, size_t len, size_t *pos, struct transcript_entry *e, char *err,
		  size_t errlen)
{
	size_t i = 0;
	for (;;) {
		unsigned long a, b;
		if (i < len && line[i] == '+') {
			i++;
			if (!number(line, len, &i, 86400000UL, &a) || i + 2 > len ||
			    memcmp(line + i, "ms", 2) != 0 || e->elapsed_ms >= 0)
				return bad(err, errlen, "bad elapsed-time field (\"+123ms \")");
			i += 2;
			e->elapsed_ms = (long)a;
		} else if (i + 1 < len && line[i] == 'p' && isdigit((unsigned char)line[i + 1])) {
			i++;
			if (!number(line, len, &i, TRANSCRIPT_PIPE_MAX, &a) || i >= len ||
			    line[i] != '/' ||
			    (i++, !number(line, len, &i, TRANSCRIPT_PIPE_MAX, &b)) || a == 0 ||
			    a > b || e->pipe_total)
				return bad(err, errlen, "bad pipelining field (\"p2/4 \")");
			e->pipe_index = (unsigned)a;
			e->pipe_total = (unsigned)b;
		} else if (word_at(line, len, i, "raw", ' ') && !e->raw && !e->chunk) {
			e->raw = true;
			i += 3;
		} else if (word_at(line, len, i, "chunk", ' ') && !e->raw && !e->chunk) {
			e->chunk = true;
			i += 5;
		} else if (word_at(line, len, i, "omitted", ':')) {
			unsigned long long v = 0;
			size_t d = i + 8;
			while (d < len && isdigit((unsigned char)line[d]) &&
			       v < 1000000000000000ULL)
				v = v * 10 + (unsigned long long)(line[d++] - '0');
			if (d == i + 8 || v == 0 || e->omitted || d >= len || line[d] != ' ')
				return bad(err, errlen, "bad omitted field (\"omitted:1048576 \")");
			e->omitted = v;
			i = d;
		} else if (word_at(line, len, i, "rcpt", ':')) {
			size_t from = i + 5, d = from;
			while (d < len && line[d] != ' ')
				d++;
			if (d == from || e->has_rcpt || d - from > 2048 ||
			    transcript_unescape(line + from, d - from, &e->rcpt) < 0)
				return bad(err, errlen,
					   "bad recipient field (\"rcpt:bob@example.test \")");
			e->has_rcpt = true;
			i = d;
		} else {
			break;
		}
		if (i >= len || line[i] != ' ')
			return bad(err, errlen, "a field must be followed by a blank");
		i++;
	}
	*pos = i;
	return 0;
}

static void reply_code(struct transcript_entry *e)
{
	const char *t = e->text.data;
	size_t n = e->text.len;
	if (n >= 3 && t[0] >= '2' && t[0] <= '5' && isdigit((unsigned char)t[1]) &&
	    isdigit((unsigned char)t[2]) && (n == 3 || t[3] == ' ' || t[3] == '-')) {
		e->code = (t[0] - '0') * 100 + (t[1] - '0') * 10 + (t[2] - '0');
		e->last = !(n > 3 && t[3] == '-');
	}
}

int transcript_parse_line(const char *line, size_t len, struct transcript_entry *e, char *err,
			  size_t errlen)
{
	buf_reset(&e->text);
	e->kind = TR_BLANK;
	e->tls = e->verified = e->last = e->bare_lf = false;
	e->elapsed_ms = -1;
	e->pipe_index = e->pipe_total = 0;
	e->code = 0;
	e->raw = e->chunk = e->has_rcpt = false;
	e->omitted = 0;
	buf_reset(&e->rcpt);
	if (len > TRANSCRIPT_LINE_MAX)
		return bad(err, errlen, "line too long");
	if (len == 0)
		return 0;
	if (line[0] == '#') {
		e->kind = TR_COMMENT;
		size_t skip = len > 1 && line[1] == ' ' ? 2 : 1;
		return buf_append(&e->text, line + skip, len - skip) < 0
			   ? bad(err, errlen, "no memory")
			   : 0;
	}
	size_t i = 0;
	if (fields(line, len, &i, e, err, errlen) < 0)
		return -1;
	const char *m = line + i;
	size_t rest = len - i;
	bool v2_fields = e->raw || e->chunk || e->omitted || e->has_rcpt;
	if (rest >= 2 && (m[0] == '*' || m[0] == '!') && m[1] == ' ') {
		if (v2_fields)
			return bad(err, errlen,
				   "raw, chunk, omitted and rcpt fields go before -> or <-");
		e->kind = m[0] == '*' ? TR_INFO : TR_ALERT;
		size_t skip = rest >= 3 && m[2] == ' ' ? 3 : 2;
		return buf_append(&e->text, m + skip, rest - skip) < 0
			   ? bad(err, errlen, "no memory")
			   : 0;
	}
	static const struct {
		const char mark[3];
		enum transcript_kind kind;
		bool tls, verified;
	} marks[] = {
	    {"->", TR_SENT, false, false}, {"<-", TR_RECEIVED, false, false},
	    {"~>", TR_SENT, true, true},   {"<~", TR_RECEIVED, true, true},
	    {"?>", TR_SENT, true, false},  {"<?", TR_RECEIVED, true, false},
	};
	size_t k = 0;
	while (k < sizeof marks / sizeof marks[0] && (rest < 2 || memcmp(m, marks[k].mark, 2) != 0))
		k++;
	if (k == sizeof marks / sizeof marks[0] || (rest > 2 && m[2] != ' '))
		return bad(err, errlen, "unknown line (not a comment, not -> <- ~> <~ ?> <? * !)");
	e->kind = marks[k].kind;
	if (e->kind == TR_SENT ? e->has_rcpt : e->raw || e->chunk || e->omitted)
		return bad(err, errlen, "%s",
			   e->has_rcpt ? "a rcpt field goes before a received line"
				       : "raw, chunk and omitted fields go before a sent line");
	if (e->omitted && (!e->chunk || rest > 2))
		return bad(err, errlen, "an omitted field goes with chunk, and no text");
	e->tls = marks[k].tls;
	e->verified = marks[k].verified;
	if (rest > 3 && transcript_unescape(m + 3, rest - 3, &e->text) < 0)
		return bad(err, errlen, "bad backslash escape");
	if (buf_append(&e->text, "", 0) < 0)
		return bad(err, errlen, "no memory");
	if (e->kind == TR_RECEIVED) {
		if (e->text.len && e->text.data[e->text.len - 1] == '\n') {
			e->bare_lf = true; /* written as a final "\n" */
			e->text.data[--e->text.len] = '\0';
		}
		if (memchr(e->text.data, '\n', e->text.len))
			return bad(err, errlen, "a received line cannot hold LF");
		reply_code(e);
	} else if (e->raw || e->chunk) {
		/* octets as written: CR, LF and NUL are what these lines are for */
	} else if (memchr(e->text.data, '\r', e->text.len) ||
		   memchr(e->text.data, '\n', e->text.len) ||
		   memchr(e->text.data, '\0', e->text.len)) {
		return bad(err, errlen, "a sent line cannot hold CR, LF or NUL");
	}
	return 0;
}
