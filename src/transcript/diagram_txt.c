/*
 * The text ladder: the client's lifeline on the left, the server's on the right, every row
 * exactly the width asked for (box-drawing characters, or ASCII). Left of the client's lifeline
 * two columns: the TLS band (shaded) and the bracket of a pipelined group.
 *
 *   ▒ │══ TLSv1.3 TLS_AES_256_GCM_SHA384 ═══════│
 *   ▒ │── EHLO client.example ────────────────►│
 *   ▒ │◄─ 250-lab.example.test ────────────────│
 *   ▒ │   250 AUTH PLAIN LOGIN                 │
 */
#include "smtpsh/diagram.h"

#include <string.h>

#include "smtpsh/escape.h"
#include "diagram_int.h"

struct glyphs {
	const char *v, *h, *content, *right, *left, *band, *band_h, *top, *mid, *bottom, *more;
};

static const struct glyphs box = {"\u2502", "\u2500", "\u2504", "\u25BA", "\u25C4", "\u2592",
				  "\u2550", "\u250C", "\u2502", "\u2514", "\u2026"};
static const struct glyphs ascii = {"|", "-", ".", ">", "<", "#", "=", "+", "|", "+", "..."};

struct txt {
	const struct glyphs *g;
	struct buf *out;
	size_t width; /* of a row */
	size_t inner; /* columns between the lifelines */
	int err;
};

static void put(struct txt *t, const char *s, size_t len)
{
	if (!t->err && buf_append(t->out, s, len) < 0)
		t->err = -1;
}

static void puts_(struct txt *t, const char *s)
{
	put(t, s, strlen(s));
}

static void repeat(struct txt *t, const char *s, size_t n)
{
	while (n--)
		puts_(t, s);
}

/* Appends s cut to cols columns (an ellipsis at the cut), then pads with blanks to cols. */
static void put_fit_pad(struct txt *t, const char *s, size_t len, size_t cols, bool pad)
{
	size_t w = diagram_text_width(s, len);
	if (w > cols) {
		size_t ew = diagram_text_width(t->g->more, strlen(t->g->more));
		size_t skip, n = cols > ew ? diagram_wrap(s, len, cols - ew, &skip) : 0;
		if (n > len)
			n = len;
		put(t, s, n);
		puts_(t, t->g->more);
		w = diagram_text_width(s, n) + ew;
	} else {
		put(t, s, len);
	}
	if (pad && w < cols)
		repeat(t, " ", cols - w);
}

static void put_fit(struct txt *t, const char *s, size_t len, size_t cols)
{
	put_fit_pad(t, s, len, cols, true);
}

/* One row: band column, group column, lifeline, inner (exactly t->inner columns), lifeline. */
static void row_begin(struct txt *t, bool band, const char *group)
{
	puts_(t, band ? t->g->band : " ");
	puts_(t, group ? group : " ");
	puts_(t, t->g->v);
}

static void row_end(struct txt *t)
{
	puts_(t, t->g->v);
	puts_(t, "\n");
}

/* Where a row stands: its band and group marks. */
struct place {
	bool band;
	const char *group; /* the group column's glyph, or NULL */
};

/* The glyph of the group column for row r of rows of arrow i. */
static const char *group_mark(struct txt *t, const struct diagram *d, size_t i, size_t r,
			      size_t rows)
{
	for (size_t k = 0; k < d->ngroups; k++) {
		const struct diagram_group *g = &d->groups[k];
		if (!g->commands || i < g->first || i > g->last)
			continue;
		if (i == g->first && r == 0)
			return t->g->top;
		if (i == g->last && r + 1 == rows)
			return t->g->bottom;
		return t->g->mid;
	}
	return NULL;
}

static bool in_band(const struct diagram *d, size_t i)
{
	for (size_t k = 0; k < d->nbands; k++)
		if (i >= d->bands[k].first && i <= d->bands[k].last)
			return true;
	return false;
}

/* The label of the arrow's first line: what kind of octets it carries. */
static const char *label(const struct diagram_arrow *a)
{
	switch (a->kind) {
	case DIAGRAM_RAW:
		return "raw: ";
	case DIAGRAM_LOCAL:
		return "* ";
	case DIAGRAM_ALERT:
		return "! ";
	default:
		return "";
	}
}

/* The pieces of an arrow's text, wrapped to cols: calls row() for each; returns the count. */
typedef void (*piece_fn)(struct txt *t, void *ctx, size_t index, const char *s, size_t len);

static size_t pieces(struct txt *t, const struct diagram_arrow *a, size_t cols, piece_fn fn,
		     void *ctx)
{
	struct buf line;
	buf_init(&line);
	size_t count = 0;
	const char *p = a->text.data ? a->text.data : "";
	const char *end = p + a->text.len;
	size_t lines = a->nlines + (a->more ? 1 : 0);
	for (size_t l = 0; l < lines; l++) {
		buf_reset(&line);
		if (l == 0 && buf_puts(&line, label(a)) < 0)
			t->err = -1;
		if (l < a->nlines) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
			if (buf_append(&line, p, n) < 0)
				t->err = -1;
			p += n + (nl ? 1 : 0);
		} else if (buf_printf(&line, "%s (%zu more line%s)", t->g->more, a->more,
				      a->more == 1 ? "" : "s") < 0) {
			t->err = -1;
		}
		const char *s = line.data ? line.data : "";
		size_t len = line.len;
		do {
			size_t skip, n = len ? diagram_wrap(s, len, cols, &skip) : 0;
			if (fn)
				fn(t, ctx, count, s, n);
			count++;
			s += n + (len ? skip : 0);
			len -= n + (len ? skip : 0);
		} while (len);
	}
	buf_free(&line);
	return count;
}

struct arrow_ctx {
	const struct diagram *d;
	size_t i, rows;
	const struct diagram_arrow *a;
};

static void arrow_piece(struct txt *t, void *ctx, size_t r, const char *s, size_t len)
{
	struct arrow_ctx *c = ctx;
	const struct diagram_arrow *a = c->a;
	row_begin(t, in_band(c->d, c->i), group_mark(t, c->d, c->i, r, c->rows));
	size_t w = diagram_text_width(s, len);
	bool to_server =
	    a->kind == DIAGRAM_SEND || a->kind == DIAGRAM_RAW || a->kind == DIAGRAM_CONTENT;
	if (r == 0 && to_server) {
		const char *h = a->kind == DIAGRAM_CONTENT ? t->g->content : t->g->h;
		repeat(t, h, 2);
		puts_(t, " ");
		put(t, s, len);
		puts_(t, " ");
		repeat(t, h, t->inner - 5 - w);
		puts_(t, t->g->right);
	} else if (r == 0 && a->kind == DIAGRAM_REPLY) {
		puts_(t, t->g->left);
		puts_(t, t->g->h);
		puts_(t, " ");
		put(t, s, len);
		puts_(t, " ");
		repeat(t, t->g->h, t->inner - 4 - w);
	} else {
		puts_(t, r == 0 ? " " : "   ");
		put(t, s, len);
		repeat(t, " ", t->inner - (r == 0 ? 1 : 3) - w);
	}
	row_end(t);
}

/* Rows of side text (notes, timings) beside arrow i: "# text" inside the lifelines. */
static void note_rows(struct txt *t, const struct diagram *d, size_t i, const char *mark,
		      const char *text, bool first_of_group)
{
	const char *s = text;
	size_t len = strlen(text);
	size_t mw = strlen(mark); /* an ASCII mark */
	size_t cols = t->inner - 3 - mw;
	while (len) {
		const char *nl = memchr(s, '\n', len);
		size_t n = nl ? (size_t)(nl - s) : len;
		const char *p = s;
		size_t rest = n;
		do {
			size_t skip, k = rest ? diagram_wrap(p, rest, cols, &skip) : 0;
			row_begin(t, in_band(d, i) && !first_of_group, NULL);
			puts_(t, " ");
			puts_(t, mark);
			puts_(t, " ");
			put(t, p, k);
			repeat(t, " ", t->inner - 2 - mw - diagram_text_width(p, k));
			row_end(t);
			p += k + (rest ? skip : 0);
			rest -= k + (rest ? skip : 0);
		} while (rest);
		s += n + (nl ? 1 : 0);
		len -= n + (nl ? 1 : 0);
	}
}

/* The header values of the file, escaped for display (a hostile header is text too). */
static void put_title(struct txt *t, const struct diagram *d)
{
	struct buf b, e;
	buf_init(&b);
	buf_init(&e);
	const struct transcript_header *h = &d->header;
	int r = buf_puts(&b, "smtpsh transcript");
	if (diagram_server_side(d))
		r |= buf_puts(&b, " (server side)");
	if (h->host[0])
		r |= buf_printf(&b, ": %s%s%s", h->host, h->port[0] ? " port " : "", h->port);
	if (h->tls[0])
		r |= buf_printf(&b, ", tls: %s", h->tls);
	if (h->protocol[0])
		r |= buf_printf(&b, ", %s", h->protocol);
	if (h->date[0])
		r |= buf_printf(&b, ", %s", h->date);
	if (r == 0 && escape_append(&e, b.data, b.len, ESCAPE_KEEP_BACKSLASH) == 0)
		put_fit_pad(t, e.data ? e.data : "", e.len, t->width, false);
	else
		t->err = -1;
	puts_(t, "\n");
	buf_free(&b);
	buf_free(&e);
}

int diagram_render_txt(const struct diagram *d, const struct diagram_options *o, struct buf *out)
{
	struct txt t = {.g = o->ascii ? &ascii : &box, .out = out};
	int width = o->width;
	if (width < DIAGRAM_WIDTH_MIN)
		width = DIAGRAM_WIDTH_MIN;
	if (width > DIAGRAM_WIDTH_MAX)
		width = DIAGRAM_WIDTH_MAX;
	t.width = (size_t)width;
	t.inner = t.width - 4;
	size_t cols = t.inner - 5; /* text on an arrow row */

	put_title(&t, d);
	/* the lanes' names: the client's at its lifeline, the server's ending at its own; each
	   at most half the width (a server-side transcript names them by address) */
	char lane_c[64], lane_s[64];
	diagram_lanes(d, lane_c, sizeof lane_c, lane_s, sizeof lane_s);
	size_t half = t.width / 2 - 2;
	size_t wc = diagram_text_width(lane_c, strlen(lane_c));
	size_t ws = diagram_text_width(lane_s, strlen(lane_s));
	wc = wc > half ? half : wc;
	ws = ws > half ? half : ws;
	puts_(&t, "  ");
	put_fit_pad(&t, lane_c, strlen(lane_c), wc, true);
	repeat(&t, " ", t.width - 2 - wc - ws);
	put_fit_pad(&t, lane_s, strlen(lane_s), ws, true);
	puts_(&t, "\n");
	row_begin(&t, false, NULL);
	repeat(&t, " ", t.inner);
	row_end(&t);

	for (size_t i = 0; i < d->n; i++) {
		const struct diagram_arrow *a = &d->arrows[i];
		for (size_t k = 0; k < d->nbands; k++) {
			const struct diagram_band *b = &d->bands[k];
			if (b->first != i)
				continue;
			if (o->notes && a->note)
				note_rows(&t, d, i, "#", a->note, true);
			struct buf l;
			buf_init(&l);
			if (buf_printf(&l, "%s%s", b->label,
				       b->verified ? "" : " (certificate not verified)") < 0)
				t.err = -1;
			row_begin(&t, true, NULL);
			repeat(&t, t.g->band_h, 2);
			puts_(&t, " ");
			size_t lw = diagram_text_width(l.data ? l.data : "", l.len);
			if (lw > t.inner - 4) {
				put_fit(&t, l.data ? l.data : "", l.len, t.inner - 4);
				lw = t.inner - 4;
			} else {
				put(&t, l.data ? l.data : "", l.len);
			}
			puts_(&t, " ");
			repeat(&t, t.g->band_h, t.inner - 4 - lw);
			row_end(&t);
			buf_free(&l);
		}
		bool noted_above = false;
		for (size_t k = 0; k < d->nbands; k++)
			noted_above = noted_above || d->bands[k].first == i;
		if (o->notes && a->note && !noted_above)
			note_rows(&t, d, i, "#", a->note, false);
		struct arrow_ctx c = {.d = d, .i = i, .a = a};
		bool wide = a->kind == DIAGRAM_LOCAL || a->kind == DIAGRAM_ALERT;
		/* local rows have no arrow: their text takes the whole inner width */
		size_t acols = wide ? t.inner - 3 : cols;
		c.rows = pieces(&t, a, acols, NULL, NULL);
		pieces(&t, a, acols, arrow_piece, &c);
		/* a server-side transcript's diagnoses of this line: under its text */
		if (a->diag.len)
			note_rows(&t, d, i, "  *", a->diag.data, false);
		if (o->explain) {
			struct buf e;
			buf_init(&e);
			if (diagram_explain(a, &e) < 0)
				t.err = -1;
			if (e.len)
				note_rows(&t, d, i, "=", e.data, false);
			buf_free(&e);
		}
		if (o->notes && a->elapsed_ms >= 0) {
			char ms[40];
			snprintf(ms, sizeof ms, "%ld ms", a->elapsed_ms);
			note_rows(&t, d, i, "+", ms, false);
		}
	}
	row_begin(&t, false, NULL);
	repeat(&t, " ", t.inner);
	row_end(&t);
	if (d->dropped || d->cut) {
		struct buf l;
		buf_init(&l);
		if (d->dropped)
			buf_printf(&l, "%s %zu more events not drawn (at most %d)", t.g->more,
				   d->dropped, DIAGRAM_MAX_ARROWS);
		if (d->cut)
			buf_printf(&l, "%s%zu lines cut at %d bytes", l.len ? "; " : "", d->cut,
				   DIAGRAM_MAX_TEXT);
		put_fit_pad(&t, l.data ? l.data : "", l.len, t.width, false);
		puts_(&t, "\n");
		buf_free(&l);
	}
	return t.err;
}
