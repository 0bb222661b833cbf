#include "smtpsh/render.h"

#include <stdarg.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "smtpsh/codes.h"
#include "smtpsh/escape.h"
#include "smtpsh/sasl.h"
#include "smtpsh/wrap.h"

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
	r->wrap = false;
	r->theme = RENDER_THEME_DARK;
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

/* What a colour says; each theme draws it its own way. */
enum role {
	ROLE_FAINT, /* local events ("*"), comments, the received marker, message lines */
	ROLE_NOTE,  /* the bracketed annotations */
	ROLE_SENT,  /* the sent marker */
	ROLE_OK,    /* 2xx */
	ROLE_MORE,  /* 3xx */
	ROLE_TEMP,  /* 4xx, warnings, the line ends of show-raw */
	ROLE_FAIL,  /* 5xx, unverified TLS, a line that is no reply */
	ROLE_TLS,   /* verified TLS */
	ROLE_ERROR,
	ROLE_ALERT,
	ROLE_COUNT
};

/*
 * dark (the default): faint (ESC[2m) for what matters least. light: for light backgrounds and
 * projectors, where faint text and yellow vanish: no faint anywhere, annotations blue,
 * magenta for yellow. mono: no colour, bold for errors only. --color never (or NO_COLOR) has
 * no SGR at all, whatever the theme.
 */
static const char *const palettes[][ROLE_COUNT] = {
    [RENDER_THEME_DARK] = {C_DIM, C_DIM, C_CYAN, C_GREEN, C_BLUE, C_YELLOW, C_RED, C_MAGENTA,
			   C_BOLD C_RED, C_BOLD C_YELLOW},
    [RENDER_THEME_LIGHT] = {"", C_BLUE, C_BLUE, C_GREEN, C_BLUE, C_MAGENTA, C_RED, C_MAGENTA,
			    C_BOLD C_RED, C_BOLD C_MAGENTA},
    [RENDER_THEME_MONO] = {"", "", "", "", "", "", "", "", C_BOLD, C_BOLD},
};

const char *const render_theme_names[] = {"dark", "light", "mono", NULL};

int render_theme_parse(const char *name)
{
	for (int i = 0; render_theme_names[i]; i++)
		if (strcmp(render_theme_names[i], name) == 0)
			return i;
	return -1;
}

/* Starts role's colour (nothing without colour or when the theme has none for it). */
static void sgr_on(const struct render *r, struct buf *b, enum role role)
{
	if (r->color && *palettes[r->theme][role])
		buf_puts(b, palettes[r->theme][role]);
}

static void sgr_off(const struct render *r, struct buf *b, enum role role)
{
	if (r->color && *palettes[r->theme][role])
		buf_puts(b, C_RESET);
}

static enum role code_role(int code)
{
	if (code >= 200 && code < 300)
		return ROLE_OK;
	if (code >= 300 && code < 400)
		return ROLE_MORE;
	if (code >= 400 && code < 500)
		return ROLE_TEMP;
	return ROLE_FAIL;
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

/* The columns of the terminal f writes to, asked anew for each line so that a resize
   (SIGWINCH) counts from the next line on; 0 when f is no terminal or wrapping is off. */
static size_t width_of(const struct render *r, FILE *f)
{
	struct winsize ws;
	if (!r->wrap || !isatty(fileno(f)) || ioctl(fileno(f), TIOCGWINSZ, &ws) < 0)
		return 0;
	return ws.ws_col;
}

/*
 * Where the continuation lines of a line of render_text start: under the second column of a
 * table row ("  EHLO      extended hello": after the first run of two blanks, when it sits in
 * the left half), under the text of a "- " item, else two columns in from the line's indent.
 */
static size_t text_hang(const char *s, size_t n, size_t width)
{
	size_t lead = strspn(s, " ");
	if (lead > n)
		lead = n;
	size_t hang = lead + 2;
	if (n >= lead + 2 && s[lead] == '-' && s[lead + 1] == ' ')
		lead += 2;
	for (size_t i = lead; i + 1 < n; i++) {
		if (s[i] == ' ' && s[i + 1] == ' ' && i > lead) {
			size_t j = i;
			while (j < n && s[j] == ' ')
				j++;
			size_t col = wrap_columns(s, j);
			if (col <= width / 2)
				return col;
			break;
		}
	}
	return hang;
}

/*
 * Writes r->line to f: on a terminal, each line wrapped at blanks to its width (wrap_line),
 * the continuation lines indented by 3 under the text after the marker ("-> ", "*  "), or for
 * text (render_text) as text_hang says. A pipe or a file gets the lines as they are.
 */
static void write_lines(struct render *r, FILE *f, bool text)
{
	size_t width = width_of(r, f);
	if (!width) {
		fwrite(r->line.data, 1, r->line.len, f);
		return;
	}
	struct buf out;
	buf_init(&out);
	const char *p = r->line.data, *end = r->line.data + r->line.len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		wrap_line(&out, p, n, width, text ? text_hang(p, n, width) : 3);
		if (nl)
			buf_putc(&out, '\n');
		p += n + (nl ? 1 : 0);
	}
	if (out.len == 0 || !out.data) /* out of memory: the lines as they are */
		fwrite(r->line.data, 1, r->line.len, f);
	else
		fwrite(out.data, 1, out.len, f);
	buf_free(&out);
}

static void flush_lines(struct render *r, FILE *f, bool text)
{
	if (f == r->err)
		fflush(r->out);
	write_lines(r, f, text);
	if (f == r->err || r->flush_each)
		fflush(f);
}

static void flush_line(struct render *r, FILE *f)
{
	flush_lines(r, f, false);
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

/* Appends the annotations (already bracketed) to the line, in the theme's ROLE_NOTE. */
static void put_notes(struct render *r, const struct buf *notes)
{
	if (!notes->len)
		return;
	sgr_on(r, &r->line, ROLE_NOTE);
	buf_append(&r->line, notes->data, notes->len);
	sgr_off(r, &r->line, ROLE_NOTE);
}

static void local_line_notes(struct render *r, FILE *f, const char *marker, enum role color,
			     const char *prefix, const char *text, const struct buf *notes)
{
	before(r);
	buf_reset(&r->line);
	sgr_on(r, &r->line, color);
	buf_puts(&r->line, marker);
	buf_puts(&r->line, "  ");
	if (r->where && f == r->err) {
		put_sanitized(&r->line, r->where, strlen(r->where));
		buf_puts(&r->line, ": ");
	}
	buf_puts(&r->line, prefix);
	put_sanitized(&r->line, text, strlen(text));
	sgr_off(r, &r->line, color);
	if (notes)
		put_notes(r, notes);
	buf_putc(&r->line, '\n');
	flush_line(r, f);
}

static void local_line(struct render *r, FILE *f, const char *marker, enum role color,
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
			buf_printf(notes, "challenge not decoded: over %d octets]",
				   SASL_CHALLENGE_MAX);
		}
		buf_free(&dec);
	}
	const struct code_hint *h =
	    codes_hint(code, has_enh ? &enh : NULL, ev->verb, r->reply.data, r->reply.len);
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
		local_line_notes(r, r->out, "*", ROLE_FAINT, "", ev->text, &notes);
		buf_free(&notes);
		return;
	case SEV_TLS:
		note_ms(r, &notes, "handshake ", ev->elapsed_ms);
		local_line_notes(r, r->out, "*", ev->verified ? ROLE_TLS : ROLE_FAIL, "", ev->text,
				 &notes);
		buf_free(&notes);
		return;
	case SEV_WARNING:
		local_line(r, r->err, "!", ROLE_TEMP, "warning: ", ev->text);
		return;
	case SEV_ERROR:
		local_line(r, r->err, "!", ROLE_ERROR, "error: ", ev->text);
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
	} else if (ev->chunk) {
		note_open(r, &notes);
		if (ev->chunk_omitted)
			buf_printf(&notes, "chunk: %llu more octets not shown]", ev->chunk_omitted);
		else
			buf_puts(&notes, "chunk]");
	}
	const char *marker = !ev->tls	    ? (sent ? "->" : "<-")
			     : ev->verified ? (sent ? "~>" : "<~")
					    : (sent ? "?>" : "<?");
	before(r);
	buf_reset(&r->line);
	if (r->color) {
		enum role mc = ev->tls && !ev->verified ? ROLE_FAIL : sent ? ROLE_SENT : ROLE_FAINT;
		sgr_on(r, &r->line, mc);
		buf_puts(&r->line, marker);
		sgr_off(r, &r->line, mc);
		buf_putc(&r->line, ' ');
		if (!sent && ev->len >= 3 && ev->code) {
			/* Escaped in one piece, exactly as without colour: whether a combining mark
			   after the code is escaped depends on what precedes it, not on where the
			   colour changes. A reply with a code starts with 3 digits, kept as they
			   are. */
			struct buf esc;
			buf_init(&esc);
			escape_append(&esc, ev->text, ev->len, r->escape_flags);
			sgr_on(r, &r->line, code_role(ev->code));
			buf_append(&r->line, esc.data, 3);
			sgr_off(r, &r->line, code_role(ev->code));
			buf_append(&r->line, esc.data + 3, esc.len - 3);
			buf_free(&esc);
		} else if (!sent && !ev->code) {
			sgr_on(r, &r->line, ROLE_FAIL);
			escape_append(&r->line, ev->text, ev->len, r->escape_flags);
			sgr_off(r, &r->line, ROLE_FAIL);
		} else {
			if (ev->body)
				sgr_on(r, &r->line, ROLE_FAINT);
			escape_append(&r->line, ev->text, ev->len, r->escape_flags);
			if (ev->body)
				sgr_off(r, &r->line, ROLE_FAINT);
		}
	} else {
		buf_puts(&r->line, marker);
		buf_putc(&r->line, ' ');
		escape_append(&r->line, ev->text, ev->len, r->escape_flags);
	}
	if (r->show_raw && !(sent && (ev->raw || ev->chunk))) {
		const char *end = !sent && ev->bare_lf ? "\\n" : "\\r\\n";
		sgr_on(r, &r->line, ROLE_TEMP);
		buf_puts(&r->line, end);
		sgr_off(r, &r->line, ROLE_TEMP);
	}
	put_notes(r, &notes);
	buf_free(&notes);
	buf_putc(&r->line, '\n');
	flush_line(r, r->out);
}

__attribute__((format(printf, 6, 0))) static void vlocal(struct render *r, FILE *f,
							 const char *marker, enum role color,
							 const char *prefix, const char *fmt,
							 va_list ap)
{
	char msg[2048];
	vsnprintf(msg, sizeof msg, fmt, ap);
	local_line(r, f, marker, color, prefix, msg);
}

void render_info(struct render *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlocal(r, r->out, "*", ROLE_FAINT, "", fmt, ap);
	va_end(ap);
}

void render_warning(struct render *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlocal(r, r->err, "!", ROLE_TEMP, "warning: ", fmt, ap);
	va_end(ap);
}

void render_verror(struct render *r, const char *fmt, va_list ap)
{
	vlocal(r, r->err, "!", ROLE_ERROR, "error: ", fmt, ap);
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
	vlocal(r, r->err, "!", ROLE_ALERT, "", fmt, ap);
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
		local_line(r, r->out, "#", ROLE_FAINT, "", b.data);
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
	flush_lines(r, r->out, true);
}

size_t render_width(const struct render *r)
{
	return width_of(r, r->out);
}
