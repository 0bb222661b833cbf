/*
 * The model of a ladder diagram, built from parsed transcript entries (transcript.h: the one
 * parser of the format). Pure but for diagram_read_file. Every text is escaped for display as it
 * enters (escape_append), cut to DIAGRAM_MAX_TEXT bytes, and the number of arrows and of lines
 * per arrow is bounded: a hostile transcript costs bounded memory and says what was cut.
 */
#include "smtpsh/diagram.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "smtpsh/codes.h"
#include "smtpsh/escape.h"
#include "diagram_int.h"

/* What the last arrow still takes lines for (struct diagram.open). */
enum {
	OPEN_NONE,
	OPEN_REPLY,   /* a multi-line reply: "250-" lines until "250 " */
	OPEN_CONTENT, /* message content after 354, until "." */
	OPEN_CHUNK,   /* the octets of a BDAT chunk: "chunk" lines after "BDAT n" */
};

void diagram_init(struct diagram *d)
{
	memset(d, 0, sizeof *d);
	buf_init(&d->source);
	buf_init(&d->pending_note);
}

void diagram_free(struct diagram *d)
{
	for (size_t i = 0; i < d->n; i++) {
		buf_free(&d->arrows[i].text);
		buf_free(&d->arrows[i].spare);
		buf_free(&d->arrows[i].diag);
		free(d->arrows[i].note);
	}
	free(d->arrows);
	free(d->bands);
	free(d->groups);
	buf_free(&d->source);
	buf_free(&d->pending_note);
	memset(d, 0, sizeof *d);
}

/* The length of the longest prefix of s[0..len) that is at most max bytes and does not split a
   UTF-8 sequence (escaped text is valid UTF-8). */
static size_t utf8_cut(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	size_t n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

/* Appends s[0..len) escaped for display (flags as escape_append), cut at DIAGRAM_MAX_TEXT
   bytes with an ellipsis (counted in d->cut). */
static int put_display(struct diagram *d, struct buf *out, const char *s, size_t len, int flags)
{
	struct buf tmp;
	buf_init(&tmp);
	/* an escape makes at most 10 bytes of one: escape no more than can be shown */
	size_t in = len > DIAGRAM_MAX_TEXT * 4 ? DIAGRAM_MAX_TEXT * 4 : len;
	int r = escape_append(&tmp, s, in, flags);
	if (r == 0) {
		size_t n = utf8_cut(tmp.data ? tmp.data : "", tmp.len, DIAGRAM_MAX_TEXT);
		r = buf_append(out, tmp.data ? tmp.data : "", n);
		if (r == 0 && (n < tmp.len || in < len)) {
			d->cut++;
			r = buf_puts(out, "\u2026");
		}
	}
	buf_free(&tmp);
	return r;
}

/* A new arrow of kind for the entry at lineno; NULL when DIAGRAM_MAX_ARROWS are kept already
   (counted) or memory ran out (*oom set). The comment lines waiting become its note. */
static struct diagram_arrow *new_arrow(struct diagram *d, enum diagram_kind kind,
				       const struct transcript_entry *e, unsigned long lineno,
				       bool *oom)
{
	d->open = OPEN_NONE;
	if (d->n >= DIAGRAM_MAX_ARROWS) {
		d->dropped++;
		return NULL;
	}
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 64;
		struct diagram_arrow *a = realloc(d->arrows, cap * sizeof *a);
		if (!a) {
			*oom = true;
			return NULL;
		}
		d->arrows = a;
		d->cap = cap;
	}
	struct diagram_arrow *a = &d->arrows[d->n++];
	memset(a, 0, sizeof *a);
	buf_init(&a->text);
	buf_init(&a->spare);
	buf_init(&a->diag);
	a->kind = kind;
	a->tls = e->tls;
	a->verified = e->verified;
	a->elapsed_ms = e->elapsed_ms;
	a->lineno = a->lastno = lineno;
	if (d->pending_note.len) {
		a->note = strdup(d->pending_note.data);
		if (!a->note)
			*oom = true;
		buf_reset(&d->pending_note);
		d->note_lines = 0;
		d->note_break = false;
	}
	return a;
}

/* Adds one line to a: shown while fewer than max lines are, else counted in a->more. */
static int add_line(struct diagram *d, struct diagram_arrow *a, const char *s, size_t len,
		    size_t max, int flags, unsigned long lineno)
{
	a->lastno = lineno;
	if (a->nlines >= max) {
		/* the first one is kept: when it is the last, it takes the place of the fold */
		if (a->more++ == 0 && put_display(d, &a->spare, s, len, flags) < 0)
			return -1;
		return 0;
	}
	if (a->nlines && buf_putc(&a->text, '\n') < 0)
		return -1;
	a->nlines++;
	if (put_display(d, &a->text, s, len, flags) < 0)
		return -1;
	return buf_append(&a->text, "", 0);
}

static struct diagram_arrow *last_arrow(struct diagram *d)
{
	return d->n ? &d->arrows[d->n - 1] : NULL;
}

/* "DATA", as a server reads the command (RFC 5321 4.1.1.4: no argument; blanks tolerated). */
static bool is_data(const char *s, size_t len)
{
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	return len == 4 && strncasecmp(s, "DATA", 4) == 0;
}

/* A pipelined command ("pI/N"): its arrow joins group N of the diagram; after the last one,
   the next N replies belong to the group too (RFC 2920: in the same order). */
static void join_group(struct diagram *d, struct diagram_arrow *a, const struct transcript_entry *e)
{
	if (!e->pipe_total)
		return;
	if (e->pipe_index == 1 || !d->group_no)
		d->group_no++;
	a->group = d->group_no;
	if (e->pipe_index >= e->pipe_total)
		d->group_owed = e->pipe_total;
}

static int add_sent(struct diagram *d, const struct transcript_entry *e, unsigned long lineno)
{
	bool oom = false;
	struct diagram_arrow *a;
	if (e->chunk) {
		/* the octets of one chunk may take several lines: one arrow, folded */
		a = last_arrow(d);
		if (d->open != OPEN_CHUNK || !a) {
			a = new_arrow(d, DIAGRAM_CONTENT, e, lineno, &oom);
			if (!a)
				return oom ? -1 : 0;
		}
		d->open = OPEN_CHUNK;
		if (e->omitted) {
			char said[80];
			snprintf(said, sizeof said, "(%llu more octets, not recorded)", e->omitted);
			return add_line(d, a, said, strlen(said), DIAGRAM_CONTENT_LINES + 1,
					ESCAPE_DEFAULT, lineno);
		}
		return add_line(d, a, e->text.data, e->text.len, DIAGRAM_CONTENT_LINES,
				ESCAPE_DEFAULT, lineno);
	}
	if (d->in_data && !e->raw && !(e->text.len == 1 && e->text.data[0] == '.')) {
		a = last_arrow(d);
		if (d->open != OPEN_CONTENT || !a) {
			a = new_arrow(d, DIAGRAM_CONTENT, e, lineno, &oom);
			if (!a)
				return oom ? -1 : 0;
		}
		d->open = OPEN_CONTENT;
		return add_line(d, a, e->text.data, e->text.len, DIAGRAM_CONTENT_LINES,
				ESCAPE_DEFAULT, lineno);
	}
	if (d->in_data && !e->raw)
		d->in_data = false; /* the "." that ends the content */
	else if (!d->in_data)
		d->data_pending = !e->raw && is_data(e->text.data, e->text.len);
	a = new_arrow(d, e->raw ? DIAGRAM_RAW : DIAGRAM_SEND, e, lineno, &oom);
	if (!a)
		return oom ? -1 : 0;
	join_group(d, a, e);
	return add_line(d, a, e->text.data, e->text.len, 1, ESCAPE_DEFAULT, lineno);
}

static int add_received(struct diagram *d, const struct transcript_entry *e, unsigned long lineno)
{
	bool oom = false;
	struct diagram_arrow *a = last_arrow(d);
	if (d->open != OPEN_REPLY || !a) {
		a = new_arrow(d, DIAGRAM_REPLY, e, lineno, &oom);
		if (!a)
			return oom ? -1 : 0;
		if (d->group_owed) {
			a->group = d->group_no;
			d->group_owed--;
		}
		if (e->has_rcpt) {
			/* LMTP (RFC 2033 4.2): one reply per recipient after the end of data */
			struct buf who;
			buf_init(&who);
			int r = buf_printf(&who, "for <%.*s>", (int)e->rcpt.len,
					   e->rcpt.data ? e->rcpt.data : "");
			if (r == 0)
				r = add_line(d, a, who.data, who.len, 1, ESCAPE_DEFAULT, lineno);
			buf_free(&who);
			if (r < 0)
				return -1;
		}
	}
	d->open = OPEN_REPLY;
	size_t max = DIAGRAM_MAX_REPLY_LINES + (e->has_rcpt ? 1 : 0);
	if (e->bare_lf) {
		/* the line end the server wrote, made visible as on the screen (--show-raw) */
		struct buf t;
		buf_init(&t);
		int r = buf_append(&t, e->text.data ? e->text.data : "", e->text.len);
		if (r == 0)
			r = buf_putc(&t, '\n');
		if (r == 0)
			r = add_line(d, a, t.data, t.len, max, ESCAPE_DEFAULT, lineno);
		buf_free(&t);
		if (r < 0)
			return -1;
	} else if (add_line(d, a, e->text.data, e->text.len, max, ESCAPE_DEFAULT, lineno) < 0) {
		return -1;
	}
	if (e->code && !e->last)
		return 0; /* "250-": more lines of this reply follow */
	d->open = OPEN_NONE;
	a->code = e->code;
	a->elapsed_ms = e->elapsed_ms;
	if (e->code == 354 && d->data_pending) {
		d->in_data = true;
		d->data_pending = false;
	}
	return 0;
}

bool diagram_server_side(const struct diagram *d)
{
	return strcmp(d->header.perspective, "server") == 0;
}

static bool starts(const struct buf *t, const char *word)
{
	size_t n = strlen(word);
	return t->len >= n && strncmp(t->data, word, n) == 0;
}

/*
 * A "*" line of a server-side transcript that tells about the line before it: the teacher
 * view's diagnosis ("bare LF at the end of this line", "mistake: ..."). Not the events of the
 * connection (connected, the TLS handshake, closed), which are drawn where they happen as in a
 * client's transcript, nor a line before any of the conversation.
 */
static bool diagnosis(const struct diagram *d, const struct transcript_entry *e)
{
	if (!diagram_server_side(d) || !d->n)
		return false;
	const struct diagram_arrow *last = &d->arrows[d->n - 1];
	if (last->kind == DIAGRAM_LOCAL || last->kind == DIAGRAM_ALERT)
		return false;
	const struct buf *t = &e->text;
	return !starts(t, "TLS") && !starts(t, "SSL") && !starts(t, "connect") &&
	       !starts(t, "disconnect") && !starts(t, "closed") && !starts(t, "connection ");
}

/* The diagnosis becomes a line of the side note of the arrow it is about. */
static int add_diagnosis(struct diagram *d, const struct transcript_entry *e)
{
	struct diagram_arrow *a = &d->arrows[d->n - 1];
	if (a->ndiag >= DIAGRAM_MAX_NOTE_LINES)
		return 0;
	if (!a->ndiag++)
		d->diagnoses++;
	if (a->diag.len && buf_putc(&a->diag, '\n') < 0)
		return -1;
	/* smtpsh's own words, the client's bytes in them escaped already */
	if (put_display(d, &a->diag, e->text.data ? e->text.data : "", e->text.len,
			ESCAPE_KEEP_BACKSLASH) < 0)
		return -1;
	return buf_append(&a->diag, "", 0);
}

int diagram_add(struct diagram *d, const struct transcript_entry *e, unsigned long lineno)
{
	bool oom = false;
	struct diagram_arrow *a;
	if (e->elapsed_ms >= 0)
		d->timings = true;
	switch (e->kind) {
	case TR_BLANK:
		return 0;
	case TR_COMMENT:
		/* a comment's lines are prose cut for the file's width: joined into paragraphs
		   again (an empty "#" line ends one), for the renderers to wrap */
		if (!e->text.len) {
			d->note_break = d->pending_note.len > 0;
			return 0;
		}
		if (d->note_lines >= DIAGRAM_MAX_NOTE_LINES)
			return 0;
		d->note_lines++;
		if (d->pending_note.len &&
		    buf_putc(&d->pending_note, d->note_break ? '\n' : ' ') < 0)
			return -1;
		d->note_break = false;
		if (put_display(d, &d->pending_note, e->text.data, e->text.len,
				ESCAPE_KEEP_BACKSLASH) < 0)
			return -1;
		return buf_append(&d->pending_note, "", 0);
	case TR_INFO:
	case TR_ALERT:
		if (e->kind == TR_INFO && diagnosis(d, e))
			return add_diagnosis(d, e);
		a = new_arrow(d, e->kind == TR_INFO ? DIAGRAM_LOCAL : DIAGRAM_ALERT, e, lineno,
			      &oom);
		if (!a)
			return oom ? -1 : 0;
		/* smtpsh's own words, server bytes in them escaped already */
		return add_line(d, a, e->text.data, e->text.len, 1, ESCAPE_KEEP_BACKSLASH, lineno);
	case TR_SENT:
		return add_sent(d, e, lineno);
	case TR_RECEIVED:
		return add_received(d, e, lineno);
	}
	return 0;
}

int diagram_add_source(struct diagram *d, const char *line, size_t len)
{
	if (d->source_cut)
		return 0;
	if (d->source.len + len + 1 > DIAGRAM_MAX_SOURCE) {
		d->source_cut = true;
		return 0;
	}
	d->source_lines++;
	if (d->source.len && buf_putc(&d->source, '\n') < 0)
		return -1;
	/* as written, but a hostile file's control bytes made visible */
	if (put_display(d, &d->source, line, len, ESCAPE_KEEP_BACKSLASH) < 0)
		return -1;
	return buf_append(&d->source, "", 0);
}

static bool on_wire(const struct diagram_arrow *a)
{
	return a->kind == DIAGRAM_SEND || a->kind == DIAGRAM_CONTENT || a->kind == DIAGRAM_RAW ||
	       a->kind == DIAGRAM_REPLY;
}

/* The protocol and cipher of the TLS line ("*  TLSv1.3 TLS_AES_256_GCM_SHA384, certificate
   verified (CN=localhost)"): its first two words, or "TLS" when the line says otherwise. */
static void tls_label(const struct diagram_arrow *a, char *out, size_t outlen)
{
	snprintf(out, outlen, "TLS");
	if (!a || strncmp(a->text.data, "TLS", 3) != 0)
		return;
	const char *s = a->text.data;
	size_t n = strcspn(s, " ,");
	if (s[n] == ' ')
		n += 1 + strcspn(s + n + 1, " ,");
	snprintf(out, outlen, "%.*s", (int)(n < outlen ? n : outlen - 1), s);
}

int diagram_finish(struct diagram *d)
{
	if (d->pending_note.len && d->n && !d->arrows[d->n - 1].note) {
		/* comments after the last event: its note */
		d->arrows[d->n - 1].note = strdup(d->pending_note.data);
		if (!d->arrows[d->n - 1].note)
			return -1;
	}
	buf_reset(&d->pending_note);
	/* a fold of one line costs a line too: show the line */
	for (size_t i = 0; i < d->n; i++) {
		struct diagram_arrow *a = &d->arrows[i];
		if (a->more != 1)
			continue;
		if (buf_putc(&a->text, '\n') < 0 ||
		    buf_append(&a->text, a->spare.data, a->spare.len) < 0 ||
		    buf_append(&a->text, "", 0) < 0)
			return -1;
		a->nlines++;
		a->more = 0;
		buf_free(&a->spare);
	}
	free(d->bands);
	free(d->groups);
	d->bands = NULL;
	d->groups = NULL;
	d->nbands = d->ngroups = 0;
	/* TLS bands: runs of arrows under TLS (local events inside a run belong to it) */
	const struct diagram_arrow *said = NULL; /* the last TLS line seen */
	for (size_t i = 0; i < d->n; i++) {
		const struct diagram_arrow *a = &d->arrows[i];
		if (a->kind == DIAGRAM_LOCAL && strncmp(a->text.data, "TLS", 3) == 0)
			said = a;
		if (!on_wire(a))
			continue;
		struct diagram_band *b = d->nbands ? &d->bands[d->nbands - 1] : NULL;
		bool extends = b && a->tls;
		if (extends) {
			/* the run goes on when no plaintext arrow came between */
			for (size_t j = b->last + 1; j < i; j++)
				if (on_wire(&d->arrows[j]))
					extends = false;
		}
		if (extends) {
			b->last = i;
			b->verified = b->verified && a->verified;
		} else if (a->tls) {
			struct diagram_band *nb = realloc(d->bands, (d->nbands + 1) * sizeof *nb);
			if (!nb)
				return -1;
			d->bands = nb;
			b = &d->bands[d->nbands++];
			b->first = b->last = i;
			b->verified = a->verified;
			tls_label(said, b->label, sizeof b->label);
		}
	}
	/* pipelined groups: group numbers go up one by one (join_group) */
	if (d->group_no) {
		d->groups = calloc(d->group_no, sizeof *d->groups);
		if (!d->groups)
			return -1;
		for (size_t i = 0; i < d->n; i++) {
			const struct diagram_arrow *a = &d->arrows[i];
			if (!a->group)
				continue;
			struct diagram_group *g = &d->groups[a->group - 1];
			if (!g->commands && a->kind != DIAGRAM_REPLY)
				g->first = i;
			if (a->kind != DIAGRAM_REPLY)
				g->commands++;
			g->last = i;
		}
		d->ngroups = d->group_no;
	}
	return 0;
}

/* Keeps the lines of the file (the HTML page shows them beside the diagram, with ids the
   arrows link to); a line is read as transcript_reader reads it (LF or CRLF). A second reading:
   only of a regular file (a FIFO would block, and give nothing twice); otherwise the page says
   the transcript is not shown. */
static int read_source(struct diagram *d, const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		d->source_cut = true;
		return 0;
	}
	FILE *f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	struct buf line;
	buf_init(&line);
	int c, r = 0;
	bool any = false;
	while (r == 0 && !d->source_cut) {
		c = getc(f);
		if (c == EOF || c == '\n') {
			if (c == EOF && !any)
				break;
			size_t n = line.len;
			if (n && line.data[n - 1] == '\r')
				n--;
			r = diagram_add_source(d, line.data ? line.data : "", n);
			buf_reset(&line);
			any = false;
			if (c == EOF)
				break;
			continue;
		}
		any = true;
		if (line.len < DIAGRAM_MAX_TEXT * 4)
			r = buf_putc(&line, (char)c);
	}
	buf_free(&line);
	fclose(f);
	if (r < 0)
		snprintf(err, errlen, "out of memory");
	return r;
}

int diagram_read_file(struct diagram *d, const char *path, bool source, char *err, size_t errlen)
{
	err[0] = '\0';
	struct transcript_reader rd;
	if (transcript_reader_open(&rd, path) < 0) {
		snprintf(err, errlen, "%s", rd.err);
		return -1;
	}
	d->header = rd.header;
	struct transcript_entry e;
	transcript_entry_init(&e);
	int r;
	while ((r = transcript_reader_next(&rd, &e)) > 0) {
		if (diagram_add(d, &e, rd.lineno) < 0) {
			snprintf(err, errlen, "out of memory");
			r = -1;
			break;
		}
		transcript_entry_free(&e);
		transcript_entry_init(&e);
	}
	if (r < 0 && !err[0])
		snprintf(err, errlen, "%s: %s", path, rd.err);
	transcript_entry_free(&e);
	transcript_reader_close(&rd);
	if (r < 0)
		return -1;
	if (diagram_finish(d) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return source ? read_source(d, path, err, errlen) : 0;
}

int diagram_explain(const struct diagram_arrow *a, struct buf *out)
{
	if (a->kind != DIAGRAM_REPLY || !a->code || !a->text.len)
		return 0;
	/* the last line: a multi-line reply's enhanced code is on each, LMTP's first line is
	   the recipient */
	const char *last = strrchr(a->text.data, '\n');
	last = last ? last + 1 : a->text.data;
	int code;
	struct enh_code enh;
	bool has_enh = false;
	if (!codes_parse_reply_line(last, strlen(last), &code, &enh, &has_enh))
		return 0;
	if (buf_printf(out, "%d: ", code) < 0)
		return -1;
	codes_brief(code, has_enh ? &enh : NULL, out);
	return buf_append(out, "", 0);
}

int diagram_side_text(const struct diagram_arrow *a, const struct diagram_options *o,
		      struct buf *out)
{
	size_t start = out->len;
	/* the diagnoses, each line marked as the transcript marks it */
	const char *p = a->diag.len ? a->diag.data : NULL;
	for (const char *end = p ? p + a->diag.len : NULL; p && p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if ((out->len > start && buf_putc(out, '\n') < 0) || buf_puts(out, "* ") < 0 ||
		    buf_append(out, p, n) < 0)
			return -1;
		p += n + 1;
	}
	if (o->notes && a->note && out->len > start && buf_putc(out, '\n') < 0)
		return -1;
	if (o->notes && a->note && buf_puts(out, a->note) < 0)
		return -1;
	if (o->explain) {
		struct buf e;
		buf_init(&e);
		int r = diagram_explain(a, &e);
		if (r == 0 && e.len && out->len > start)
			r = buf_putc(out, '\n');
		if (r == 0 && e.len)
			r = buf_append(out, e.data, e.len);
		buf_free(&e);
		if (r < 0)
			return -1;
	}
	return buf_append(out, "", 0);
}

/* text escaped for display into out[0..outlen), cut at a character boundary. */
static void lane_name(const char *text, char *out, size_t outlen)
{
	struct buf e;
	buf_init(&e);
	if (escape_append(&e, text, strlen(text), ESCAPE_KEEP_BACKSLASH) < 0 || !e.data) {
		snprintf(out, outlen, "?");
	} else {
		size_t n = utf8_cut(e.data, e.len, outlen - 1);
		memcpy(out, e.data, n);
		out[n] = '\0';
	}
	buf_free(&e);
}

void diagram_lanes(const struct diagram *d, char *client, size_t clen, char *server, size_t slen)
{
	const struct transcript_header *h = &d->header;
	if (!diagram_server_side(d)) {
		snprintf(client, clen, "client");
		snprintf(server, slen, "server");
		return;
	}
	char t[400];
	/* "peer: ADDR PORT": an IPv6 address has no blank, so the last blank parts them */
	const char *blank = strrchr(h->peer, ' ');
	if (!h->peer[0])
		snprintf(t, sizeof t, "client");
	else if (blank)
		snprintf(t, sizeof t, "%.*s port %s", (int)(blank - h->peer), h->peer, blank + 1);
	else
		snprintf(t, sizeof t, "%s", h->peer);
	lane_name(t, client, clen);
	snprintf(t, sizeof t, "smtpsh --serve%s%s%s%s", h->host[0] ? " " : "", h->host,
		 h->port[0] ? " " : "", h->port);
	lane_name(t, server, slen);
}

int diagram_xml_escape(struct buf *out, const char *text, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		const char *rep = NULL;
		unsigned char c = (unsigned char)text[i];
		switch (c) {
		case '&':
			rep = "&amp;";
			break;
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '"':
			rep = "&quot;";
			break;
		case '\'':
			rep = "&#39;";
			break;
		default:
			break;
		}
		/* U+FFFE and U+FFFF are no XML characters (XML 1.0, 2.2) */
		if (c == 0xEF && i + 2 < len && (unsigned char)text[i + 1] == 0xBF &&
		    ((unsigned char)text[i + 2] & 0xFE) == 0xBE) {
			if (buf_printf(out, "\\u{%s}",
				       (unsigned char)text[i + 2] == 0xBE ? "FFFE" : "FFFF") < 0)
				return -1;
			i += 2;
			continue;
		}
		/* escaped text holds no control byte; a caller's mistake must not make bad XML */
		if (c < 0x20 && c != '\n' && c != '\t') {
			if (buf_printf(out, "\\x%02X", c) < 0)
				return -1;
			continue;
		}
		if (rep ? buf_puts(out, rep) < 0 : buf_putc(out, (char)c) < 0)
			return -1;
	}
	return buf_append(out, "", 0);
}

/* East Asian Wide and Fullwidth ranges (the common ones): two columns on a terminal. */
static bool is_wide(uint32_t cp)
{
	return (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) ||
	       (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
	       (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
	       (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x1F300 && cp <= 0x1F64F) ||
	       (cp >= 0x1F900 && cp <= 0x1F9FF) || (cp >= 0x20000 && cp <= 0x3FFFD);
}

size_t diagram_text_width(const char *text, size_t len)
{
	size_t w = 0;
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)text[i];
		size_t n = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
		if (i + n > len)
			n = len - i;
		uint32_t cp = n == 1 ? c : (uint32_t)(c & (0x7F >> n));
		for (size_t k = 1; k < n; k++)
			cp = cp << 6 | ((unsigned char)text[i + k] & 0x3F);
		w += is_wide(cp) ? 2 : 1;
		i += n;
	}
	return w;
}

size_t diagram_wrap(const char *s, size_t len, size_t cols, size_t *skip)
{
	size_t w = 0, blank = 0, i = 0;
	*skip = 0;
	if (cols == 0)
		cols = 1;
	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		size_t n = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
		if (i + n > len)
			n = len - i;
		size_t cw = diagram_text_width(s + i, n);
		if (w + cw > cols) {
			/* break after the last blank of the second half, else inside the word */
			if (blank && blank * 2 >= i) {
				*skip = 1;
				return blank;
			}
			return i ? i : n;
		}
		if (c == ' ')
			blank = i;
		w += cw;
		i += n;
	}
	return len;
}
