/* The result per recipient of a message (see summary.h). */
#include "smtpsh/summary.h"

#include <stdio.h>
#include <string.h>

#define ADDR_COL_MAX 40
#define RCPT_COL_MAX 48

static bool positive(int code)
{
	return code >= 200 && code < 300;
}

struct summary_count summary_count(const struct smtp_session *s)
{
	const struct client_txn *txn = session_txn(s);
	size_t n = txn->n;
	const struct client_rcpt *r = txn->rcpt;
	struct summary_count c = {.total = n};
	for (size_t i = 0; i < n; i++) {
		if (!positive(r[i].rcpt_code))
			c.refused_rcpt++;
		else if (positive(r[i].final_code))
			c.accepted++;
		else
			c.refused_after++;
	}
	return c;
}

/* "550 5.1.1 text" cut to width (with "..."), or "-" when no reply came. */
static void cell(struct buf *b, int code, const char *text, size_t width, bool pad)
{
	char tmp[CLIENT_RCPT_LINE_MAX + 8];
	if (code)
		snprintf(tmp, sizeof tmp, "%03d %s", code, text);
	else
		snprintf(tmp, sizeof tmp, "-");
	size_t n = strlen(tmp);
	if (width && n > width) {
		memcpy(tmp + width - 3, "...", 4);
		n = width;
	}
	buf_append(b, tmp, n);
	if (pad)
		for (; n < width + 2; n++)
			buf_putc(b, ' ');
}

void summary_show(struct render *r, const struct smtp_session *s)
{
	const struct client_txn *txn = session_txn(s);
	size_t n = txn->n;
	const struct client_rcpt *rc = txn->rcpt;
	if (!n)
		return;
	struct summary_count c = summary_count(s);
	struct buf line;
	buf_init(&line);
	buf_printf(&line, "%zu of %zu recipient%s accepted the message", c.accepted, n,
		   n == 1 ? "" : "s");
	if (c.refused_rcpt)
		buf_printf(&line, "; %zu refused at RCPT", c.refused_rcpt);
	if (c.refused_after)
		buf_printf(&line, "; %zu refused after the message", c.refused_after);
	render_info(r, "%s", line.data);
	size_t aw = strlen("recipient"), rw = strlen("RCPT");
	for (size_t i = 0; i < n; i++) {
		size_t a = strlen(rc[i].addr), t = strlen(rc[i].rcpt_line) + 4;
		aw = a > aw ? a : aw;
		rw = t > rw ? t : rw;
	}
	aw = aw > ADDR_COL_MAX ? ADDR_COL_MAX : aw;
	rw = rw > RCPT_COL_MAX ? RCPT_COL_MAX : rw;
	buf_reset(&line);
	buf_printf(&line, "%-*s  %-*s  %s\n", (int)aw, "recipient", (int)rw, "RCPT",
		   "after the message");
	for (size_t i = 0; i < n; i++) {
		size_t a = strlen(rc[i].addr);
		if (a > aw) {
			buf_append(&line, rc[i].addr, aw - 3);
			buf_puts(&line, "...  ");
		} else {
			buf_printf(&line, "%-*s  ", (int)aw, rc[i].addr);
		}
		cell(&line, rc[i].rcpt_code, rc[i].rcpt_line, rw, true);
		if (positive(rc[i].rcpt_code))
			cell(&line, rc[i].final_code, rc[i].final_line, 0, false);
		else
			buf_puts(&line, "(not a recipient)");
		buf_putc(&line, '\n');
	}
	render_text(r, line.data);
	buf_free(&line);
}
