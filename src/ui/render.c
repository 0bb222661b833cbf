#include "smtpsh/render.h"

#include <stdarg.h>
#include <string.h>

#include "smtpsh/codes.h"
#include "smtpsh/escape.h"
#include "smtpsh/sasl.h"

#define REPLY_KEEP (8 * 1024) /* bytes of a reply kept for matching hints */

#define C_RESET "\033[0m"
#define C_DIM "\033[2m"
#define C_BOLD "\033[1m"
#define C_RED "\033[31m"
#define C_GREEN "\033[32m"
#define C_YELLOW "\033[33m"
#define C_BLUE "\033[34m"
#define C_MAGENTA "\033[35m"
#define C_CYAN "\033[36m"

void render_init(struct render *r, FILE *out, FILE *err, bool color)
{
	r->out = out;
	r->err = err;
	r->color = color;
	r->escape_flags = ESCAPE_DEFAULT;
	r->before_output = NULL;
	r->hook_arg = NULL;
	r->where = NULL;
	r->flush_each = true;
	r->explain = r->timing = r->show_raw = false;
	buf_init(&r->line);
	buf_init(&r->reply);
}

void render_free(struct render *r)
{
	buf_free(&r->line);
	buf_free(&r->reply);
}

static void before(struct render *r)
{
	if (r->before_output)
		r->before_output(r->hook_arg);
}

static const char *code_color(int code)
{
	if (code >= 200 && code < 300)
		return C_GREEN;
	if (code >= 300 && code < 400)
		return C_BLUE;
	if (code >= 400 && code < 500)
		return C_YELLOW;
	return C_RED;
}

/* Our own messages may quote server bytes: whatever they hold, no control byte passes. */
static void put_sanitized(struct buf *b, const char *s, size_t len)
{
	escape_append(b, s, len, ESCAPE_KEEP_BACKSLASH);
}

void render_flush(void *arg)
{
	struct render *r = arg;
	fflush(r->out);
}

static void flush_line(struct render *r, FILE *f)
{
	if (f == r->err)
		fflush(r->out);
	fwrite(r->line.data, 1, r->line.len, f);
	if (f == r->err || r->flush_each)
		fflush(f);
}

/*
 * Starts an annotation group: "  <TAB>[" the first time, "  [" after another one. The TAB
 * cannot occur in the escaped wire text (escape_append shows a TAB as \t), so whatever
 * reads the screen can split the wire text from the annotations exactly.
 */
static void note_open(struct render *r, struct buf *b)
{
	buf_puts(b, b->len ? "  [" : "  \t[");
	(void)r;
}

static void note_text(struct render *r, struct buf *b, const char *text)
{
	note_open(r, b);
	put_sanitized(b, text, strlen(text));
	buf_putc(b, ']');
}

/* Appends the annotations (already bracketed) to the line, dim on a colour terminal. */
static void put_notes(struct render *r, const struct buf *notes)
{
	if (!notes->len)
		return;
	if (r->color)
		buf_puts(&r->line, C_DIM);
	buf_append(&r->line, notes->data, notes->len);
	if (r->color)
		buf_puts(&r->line, C_RESET);
}

static void local_line_notes(struct render *r, FILE *f, const char *marker, const char *color,
			     const char *prefix, const char *text, const struct buf *notes)
{
	before(r);
	buf_reset(&r->line);
	if (r->color)
		buf_puts(&r->line, color);
	buf_puts(&r->line, marker);
	buf_puts(&r->line, "  ");
	if (r->where && f == r->err) {
		put_sanitized(&r->line, r->where, strlen(r->where));
		buf_puts(&r->line, ": ");
	}
	buf_puts(&r->line, prefix);
	put_sanitized(&r->line, text, strlen(text));
	if (r->color)
		buf_puts(&r->line, C_RESET);
	if (notes)
		put_notes(r, notes);
	buf_putc(&r->line, '\n');
	flush_line(r, f);
}

static void local_line(struct render *r, FILE *f, const char *marker, const char *color,
		       const char *prefix, const char *text)
{
	local_line_notes(r, f, marker, color, prefix, text, NULL);
}

static void note_ms(struct render *r, struct buf *notes, const char *what, long ms)
{
	if (!r->timing || ms < 0)
		return;
	note_open(r, notes);
	buf_printf(notes, "%s%ld ms]", what, ms);
}

/* The annotations of the last line of a reply: which command it answers (pipelining), the
   decoded 334 challenge, the hint, the meaning (--explain), the time (--timing). */
static void reply_notes(struct render *r, const struct session_event *ev, struct buf *notes)
{
	if (ev->pipe_total) {
		note_open(r, notes);
		buf_printf(notes, "reply to %u/%u: ", ev->pipe_index, ev->pipe_total);
		if (ev->command)
			escape_append(notes, ev->command, strlen(ev->command), ESCAPE_DEFAULT);
		buf_putc(notes, ']');
	}
	if (ev->rcpt) { /* LMTP: each accepted recipient's own reply to the "." */
		note_open(r, notes);
		buf_puts(notes, "for <");
		escape_append(notes, ev->rcpt, strlen(ev->rcpt), ESCAPE_DEFAULT);
		buf_printf(notes, ">, %u/%u]", ev->rcpt_index, ev->rcpt_total);
	}
	int code;
	struct enh_code enh;
	bool has_enh;
	if (!codes_parse_reply_line(ev->text, ev->len, &code, &enh, &has_enh))
		return;
	if (code == 334) {
		/* The decoder \auth answers with, so the screen and the exchange agree on what a
		   challenge is and on its limit (SASL_CHALLENGE_MAX, refused before allocating). */
		struct buf dec;
		buf_init(&dec);
		enum sasl_decode d = sasl_challenge_decode(ev->text, ev->len, &dec);
		if (d == SASL_DECODE_OK) {
			note_open(r, notes);
			if (dec.len)
				escape_append(notes, dec.data, dec.len, ESCAPE_DEFAULT);
			else
				buf_puts(notes, "empty challenge");
			buf_putc(notes, ']');
		} else if (d == SASL_DECODE_TOO_LONG) {
			note_open(r, notes);
			buf_printf(notes, "challenge not decoded: over %d octets]", SASL_CHALLENGE_MAX);
		}
		buf_free(&dec);
	}
	const struct code_hint *h = codes_hint(code, has_enh ? &enh : NULL, ev->verb, r->reply.data,
					       r->reply.len);
	if (h) {
		note_open(r, notes);
		buf_puts(notes, "hint: ");
		put_sanitized(notes, h->hint, strlen(h->hint));
		buf_putc(notes, ']');
	}
	if (r->explain) {
		struct buf b;
		buf_init(&b);
		codes_brief(code, has_enh ? &enh : NULL, &b);
		if (b.len)
			note_text(r, notes, b.data);
		buf_free(&b);
	}
	note_ms(r, notes, "", ev->elapsed_ms);
}

/* Keeps the lines of the reply being shown, so its last line can be matched as a whole. */
static void keep_reply_line(struct render *r, const struct session_event *ev)
{
	if (r->reply.len + ev->len + 1 <= REPLY_KEEP) {
		if (r->reply.len)
			buf_putc(&r->reply, '\n');
		buf_append(&r->reply, ev->text, ev->len);
	}
}

void render_event(const struct session_event *ev, void *arg)
{
	struct render *r = arg;
	struct buf notes;
	buf_init(&notes);
	switch (ev->type) {
	case SEV_INFO:
	case SEV_CLOSED:
		note_ms(r, &notes, "", ev->elapsed_ms);
		local_line_notes(r, r->out, "*", C_DIM, "", ev->text, &notes);
		buf_free(&notes);
		return;
	case SEV_TLS:
		note_ms(r, &notes, "handshake ", ev->elapsed_ms);
		local_line_notes(r, r->out, "*", ev->verified ? C_MAGENTA : C_RED, "", ev->text,
				 &notes);
		buf_free(&notes);
		return;
	case SEV_WARNING:
		local_line(r, r->err, "!", C_YELLOW, "warning: ", ev->text);
		return;
	case SEV_ERROR:
		local_line(r, r->err, "!", C_BOLD C_RED, "error: ", ev->text);
		return;
	case SEV_SENT:
		if (ev->quiet)
			return; /* past the screen's limit: for transcripts only */
		break;
	case SEV_RECEIVED:
		break;
	}
	bool sent = ev->type == SEV_SENT;
	if (!sent) {
		keep_reply_line(r, ev);
		if (ev->last && ev->code)
			reply_notes(r, ev, &notes);
		if (ev->last || !ev->code)
			buf_reset(&r->reply);
	} else if (ev->pipe_total) {
		note_open(r, &notes);
		buf_printf(&notes, "pipelined %u/%u]", ev->pipe_index, ev->pipe_total);
	} else if (ev->raw) {
		/* the octets as written, nothing added: say so, and how many */
		note_open(r, &notes);
		buf_printf(&notes, "raw, %zu octet%s]", ev->octets, ev->octets == 1 ? "" : "s");
	} else if (ev->login_user) { /* AUTH LOGIN's user name, decoded as the 334 above it */
		note_open(r, &notes);
		escape_append(&notes, ev->login_user, strlen(ev->login_user), ESCAPE_DEFAULT);
		buf_putc(&notes, ']');
	} else if (ev->chunk) {
		note_open(r, &notes);
		if (ev->chunk_omitted)
			buf_printf(&notes, "chunk: %llu more octets not shown]", ev->chunk_omitted);
		else
			buf_puts(&notes, "chunk]");
	}
	const char *marker = !ev->tls ? (sent ? "->" : "<-")
			     : ev->verified ? (sent ? "~>" : "<~")
					    : (sent ? "?>" : "<?");
	before(r);
	buf_reset(&r->line);
	if (r->color) {
		const char *mc = ev->tls && !ev->verified ? C_RED : sent ? C_CYAN : C_DIM;
		buf_puts(&r->line, mc);
		buf_puts(&r->line, marker);
		buf_puts(&r->line, C_RESET " ");
		if (!sent && ev->len >= 3 && ev->code) {
			/* Escaped in one piece, exactly as without colour: whether a combining mark
			   after the code is escaped depends on what precedes it, not on where the
			   colour changes. A reply with a code starts with 3 digits, kept as they are. */
			struct buf esc;
			buf_init(&esc);
			escape_append(&esc, ev->text, ev->len, r->escape_flags);
			buf_puts(&r->line, code_color(ev->code));
			buf_append(&r->line, esc.data, 3);
			buf_puts(&r->line, C_RESET);
			buf_append(&r->line, esc.data + 3, esc.len - 3);
			buf_free(&esc);
		} else if (!sent && !ev->code) {
			buf_puts(&r->line, C_RED);
			escape_append(&r->line, ev->text, ev->len, r->escape_flags);
			buf_puts(&r->line, C_RESET);
		} else {
			if (ev->body)
				buf_puts(&r->line, C_DIM);
			escape_append(&r->line, ev->text, ev->len, r->escape_flags);
			if (ev->body)
				buf_puts(&r->line, C_RESET);
		}
	} else {
		buf_puts(&r->line, marker);
		buf_putc(&r->line, ' ');
		escape_append(&r->line, ev->text, ev->len, r->escape_flags);
	}
	if (r->show_raw && !(sent && (ev->raw || ev->chunk))) {
		const char *end = !sent && ev->bare_lf ? "\\n" : "\\r\\n";
		if (r->color)
			buf_printf(&r->line, C_YELLOW "%s" C_RESET, end);
		else
			buf_puts(&r->line, end);
	}
	put_notes(r, &notes);
	buf_free(&notes);
	buf_putc(&r->line, '\n');
	flush_line(r, r->out);
}

__attribute__((format(printf, 6, 0))) static void vlocal(struct render *r, FILE *f,
							 const char *marker, const char *color,
		   const char *prefix, const char *fmt, va_list ap)
{
	char msg[2048];
	vsnprintf(msg, sizeof msg, fmt, ap);
	local_line(r, f, marker, color, prefix, msg);
}

void render_info(struct render *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlocal(r, r->out, "*", C_DIM, "", fmt, ap);
	va_end(ap);
}

void render_warning(struct render *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlocal(r, r->err, "!", C_YELLOW, "warning: ", fmt, ap);
	va_end(ap);
}

void render_verror(struct render *r, const char *fmt, va_list ap)
{
	vlocal(r, r->err, "!", C_BOLD C_RED, "error: ", fmt, ap);
}

void render_error(struct render *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	render_verror(r, fmt, ap);
	va_end(ap);
}

void render_alert(struct render *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlocal(r, r->err, "!", C_BOLD C_YELLOW, "", fmt, ap);
	va_end(ap);
}

void render_comment(struct render *r, const char *text, size_t len)
{
	struct buf b;
	buf_init(&b);
	escape_append(&b, text, len, ESCAPE_DEFAULT);
	if (!b.len) { /* an empty comment line: no trailing blanks */
		before(r);
		buf_reset(&r->line);
		buf_puts(&r->line, "#\n");
		flush_line(r, r->out);
	} else {
		local_line(r, r->out, "#", C_DIM, "", b.data);
	}
	buf_free(&b);
}

void render_text(struct render *r, const char *text)
{
	before(r);
	buf_reset(&r->line);
	const char *p = text;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		buf_puts(&r->line, "   ");
		put_sanitized(&r->line, p, n);
		buf_putc(&r->line, '\n');
		p += n + (nl ? 1 : 0);
	}
	flush_line(r, r->out);
}
