#include "smtpsh/render.h"

#include <stdarg.h>
#include <string.h>

#include "smtpsh/escape.h"

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
	buf_init(&r->line);
}

void render_free(struct render *r)
{
	buf_free(&r->line);
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

static void flush_line(struct render *r, FILE *f)
{
	if (f == r->err)
		fflush(r->out);
	fwrite(r->line.data, 1, r->line.len, f);
	fflush(f);
}

static void local_line(struct render *r, FILE *f, const char *marker, const char *color,
		       const char *prefix, const char *text)
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
	buf_putc(&r->line, '\n');
	flush_line(r, f);
}

void render_event(const struct session_event *ev, void *arg)
{
	struct render *r = arg;
	switch (ev->type) {
	case SEV_INFO:
	case SEV_CLOSED:
		local_line(r, r->out, "*", C_DIM, "", ev->text);
		return;
	case SEV_TLS:
		local_line(r, r->out, "*", ev->verified ? C_MAGENTA : C_RED, "", ev->text);
		return;
	case SEV_WARNING:
		local_line(r, r->err, "!", C_YELLOW, "warning: ", ev->text);
		return;
	case SEV_ERROR:
		local_line(r, r->err, "!", C_BOLD C_RED, "error: ", ev->text);
		return;
	case SEV_SENT:
	case SEV_RECEIVED:
		break;
	}
	bool sent = ev->type == SEV_SENT;
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
			buf_puts(&r->line, code_color(ev->code));
			escape_append(&r->line, ev->text, 3, r->escape_flags);
			buf_puts(&r->line, C_RESET);
			escape_append(&r->line, ev->text + 3, ev->len - 3, r->escape_flags);
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
	if (!sent && ev->bare_lf && (r->escape_flags & ESCAPE_SHOW_RAW))
		buf_puts(&r->line, "\\n");
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

void render_error(struct render *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlocal(r, r->err, "!", C_BOLD C_RED, "error: ", fmt, ap);
	va_end(ap);
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
