/*
 * The text ladder: the client's lifeline on the left, the server's on the right, every row
 * exactly the width asked for (box-drawing characters, or ASCII). Left of the client's lifeline
 * two columns: the TLS band (shaded) and the bracket of a pipelined group that cannot be drawn
 * as its slanted, crossing arrows (draw_group).
 *
 *   ▒ │══ TLSv1.3 TLS_AES_256_GCM_SHA384 ═══════│
 *   ▒ │── EHLO client.example ────────────────►│
 *   ▒ │◄─ 250-lab.example.test ────────────────│
 *   ▒ │   250 AUTH PLAIN LOGIN                 │
 */
#include "smtpsh/diagram.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpsh/escape.h"
#include "diagram_int.h"

struct glyphs {
	const char *v, *h, *content, *right, *left, *band, *band_h, *top, *mid, *bottom, *more;
	const char *down, *up, *cross; /* a pipelined group's slants, and where two cross */
};

static const struct glyphs box = {"\u2502", "\u2500", "\u2504", "\u25BA", "\u25C4",
				  "\u2592", "\u2550", "\u250C", "\u2502", "\u2514",
				  "\u2026", "\u2572", "\u2571", "\u2573"};
static const struct glyphs ascii = {"|", "-", ".", ">",	  "<",	"#", "=",
				    "+", "|", "+", "...", "\\", "/", "X"};

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

/* The inner part of one row of an arrow: span columns. A command's first row ends in its head
   at the server's lifeline unless head is false (a pipelined group's slant carries it on). */
static void put_piece(struct txt *t, const struct diagram_arrow *a, size_t r, const char *s,
		      size_t len, size_t span, bool head)
{
	size_t w = diagram_text_width(s, len);
	bool to_server =
	    a->kind == DIAGRAM_SEND || a->kind == DIAGRAM_RAW || a->kind == DIAGRAM_CONTENT;
	if (r == 0 && to_server) {
		const char *h = a->kind == DIAGRAM_CONTENT ? t->g->content : t->g->h;
		repeat(t, h, 2);
		puts_(t, " ");
		put(t, s, len);
		puts_(t, " ");
		repeat(t, h, span - 4 - w - (head ? 1 : 0));
		if (head)
			puts_(t, t->g->right);
	} else if (r == 0 && a->kind == DIAGRAM_REPLY) {
		puts_(t, t->g->left);
		puts_(t, t->g->h);
		puts_(t, " ");
		put(t, s, len);
		puts_(t, " ");
		repeat(t, t->g->h, span - 4 - w);
	} else {
		puts_(t, r == 0 ? " " : "   ");
		put(t, s, len);
		repeat(t, " ", span - (r == 0 ? 1 : 3) - w);
	}
}

static void arrow_piece(struct txt *t, void *ctx, size_t r, const char *s, size_t len)
{
	struct arrow_ctx *c = ctx;
	row_begin(t, in_band(c->d, c->i), group_mark(t, c->d, c->i, r, c->rows));
	put_piece(t, c->a, r, s, len, t->inner, true);
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

/*
 * A pipelined group (RFC 2920) as the overlapping arrows it is, as the svg draws it: the
 * commands leave the client on consecutive rows, each text on its row, and slant down (a
 * diagonal of down glyphs in a strip of flight + 1 columns before the server's lifeline) to
 * land flight rows lower; a reply leaves the server only after its command landed and slants
 * down to the client, its text on the row where it arrives. Texts stay left of the strip, one
 * to a row, in transcript order; the slants share the strip, and where a reply's crosses a
 * later command's the cell shows the cross: the first replies leave while the last commands
 * are still on their way.
 *
 *   │── MAIL FROM:<a@example.test> ──────────────────╲   │
 *   │── RCPT TO:<b@example.test> ────────────────────╲╲  │
 *   │── DATA ────────────────────────────────────────╲╲╲ │
 *   │                                                 ╲╲►│
 *   │                                                  ╳►│
 *   │                                                 ╱╱►│
 *   │◄─ 250 2.1.0 Ok ────────────────────────────────╱╱╱ │
 *   │◄─ 250 2.1.5 Ok ────────────────────────────────╱╱  │
 *   │◄─ 354 End data with <CR><LF>.<CR><LF> ─────────╱   │
 *
 * A reply leaves from beside the heads' column (a command may land there on its row) and
 * arrives flight - 1 rows lower. The slants are one column a row: a cell where a reply's
 * meets a command's is the cross; where they pass between two cells the pair of rows shows
 * it (the reply's slant left of the command's below, right of it above).
 */
#define FLIGHT_MAX 8 /* rows (and columns) of a slant at most */

struct group_row {
	size_t arrow; /* whose text is on the row, or SIZE_MAX */
	size_t piece; /* which piece of its text (pieces()) */
};

struct collect {
	struct buf text;   /* the pieces, one after another */
	size_t *off, *len; /* of each piece */
	size_t n, cap;
};

static void collect_piece(struct txt *t, void *ctx, size_t index, const char *s, size_t len)
{
	(void)index;
	struct collect *c = ctx;
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 16;
		size_t *off = realloc(c->off, cap * sizeof *off);
		if (off)
			c->off = off;
		size_t *l = off ? realloc(c->len, cap * sizeof *l) : NULL;
		if (l)
			c->len = l;
		if (!off || !l) {
			t->err = -1;
			return;
		}
		c->cap = cap;
	}
	c->off[c->n] = c->text.len;
	c->len[c->n] = len;
	c->n++;
	if (buf_append(&c->text, s, len) < 0)
		t->err = -1;
}

/* What the strip holds in a cell. */
enum { CELL_NONE, CELL_DOWN, CELL_UP, CELL_CROSS, CELL_HEAD };

static void mark(unsigned char *cell, unsigned char what)
{
	*cell = *cell == CELL_NONE || *cell == what ? what : CELL_CROSS;
}

/* Whether group g can be drawn slanted: its commands, then their replies, nothing between,
   at least two commands, and no side rows but above its first arrow (notes, diagnoses and
   timings say something of one arrow: they keep the arrows one by one, bracketed). */
static bool group_slants(const struct diagram *d, const struct diagram_options *o,
			 const struct diagram_group *g, size_t *cmds)
{
	size_t n = 0;
	for (size_t i = g->first; i <= g->last; i++) {
		const struct diagram_arrow *a = &d->arrows[i];
		if (a->group != d->arrows[g->first].group || a->kind == DIAGRAM_LOCAL ||
		    a->kind == DIAGRAM_ALERT)
			return false;
		if (a->kind != DIAGRAM_REPLY) {
			if (i != g->first + n)
				return false;
			n++;
		}
		if (a->diag.len || (o->notes && i != g->first && a->note) ||
		    (o->notes && a->elapsed_ms >= 0))
			return false;
		for (size_t k = 0; k < d->nbands; k++)
			if (d->bands[k].first == i && i != g->first)
				return false;
	}
	*cmds = n;
	return n >= 2;
}

/* Draws group g slanted (above); false when it cannot be (group_slants), nothing drawn. */
static bool draw_group(struct txt *t, const struct diagram *d, const struct diagram_options *o,
		       const struct diagram_group *g)
{
	size_t cmds;
	if (!group_slants(d, o, g, &cmds))
		return false;
	size_t n = g->last - g->first + 1;
	size_t fmax = t->inner / 8 < FLIGHT_MAX ? t->inner / 8 : FLIGHT_MAX;
	size_t span = t->inner - fmax - 1; /* the texts' columns, at the widest flight */
	struct collect c = {.n = 0};
	buf_init(&c.text);
	size_t *first = calloc(n + 1, sizeof *first); /* each arrow's first piece */
	size_t *row = calloc(n, sizeof *row);	      /* each arrow's first row */
	struct group_row *rows = NULL;
	unsigned char *cells = NULL;
	if (!first || !row)
		goto oom;
	for (size_t k = 0; k < n; k++) {
		first[k] = c.n;
		pieces(t, &d->arrows[g->first + k], span - 5, collect_piece, &c);
	}
	first[n] = c.n;
	if (t->err)
		goto out;
	/* the flight: as many rows as the commands take to leave, so that all of them are on
	   their way at once (as in the svg), within the strip's room; 2 at least for a slant */
	size_t flight = first[cmds];
	flight = flight < 2 ? 2 : flight > fmax ? fmax : flight;
	size_t next = 0, landed = 0;
	for (size_t k = 0; k < cmds; k++) {
		row[k] = next;
		next += first[k + 1] - first[k];
		landed = row[k] + flight; /* its head's row */
	}
	for (size_t k = cmds; k < n; k++) {
		size_t j = k - cmds;
		size_t cmd = j < cmds ? j : cmds - 1;
		/* it leaves the row after its command landed (from beside the head's column)
		   and arrives flight - 1 rows lower; its text below the texts before it */
		size_t at = row[cmd] + 2 * flight;
		if (at < next)
			at = next;
		row[k] = at;
		next = at + first[k + 1] - first[k];
	}
	size_t nrows = next > landed + 1 ? next : landed + 1;
	size_t strip = flight + 1;
	rows = calloc(nrows, sizeof *rows);
	cells = calloc(nrows * strip, 1);
	if (!rows || !cells)
		goto oom;
	for (size_t r = 0; r < nrows; r++)
		rows[r].arrow = SIZE_MAX;
	for (size_t k = 0; k < n; k++) {
		for (size_t p = first[k]; p < first[k + 1]; p++) {
			rows[row[k] + p - first[k]].arrow = k;
			rows[row[k] + p - first[k]].piece = p;
		}
		if (k < cmds) {
			for (size_t s = 0; s < flight; s++)
				mark(&cells[(row[k] + s) * strip + s], CELL_DOWN);
			mark(&cells[(row[k] + flight) * strip + flight], CELL_HEAD);
		} else {
			for (size_t s = 0; s < flight; s++)
				mark(&cells[(row[k] - s) * strip + s], CELL_UP);
		}
	}
	size_t last = 0; /* the arrow of the last text row: its band */
	for (size_t r = 0; r < nrows; r++) {
		size_t k = rows[r].arrow;
		if (k != SIZE_MAX)
			last = k;
		row_begin(t, in_band(d, g->first + last), NULL);
		if (k == SIZE_MAX) {
			repeat(t, " ", t->inner - strip);
		} else {
			size_t p = rows[r].piece;
			put_piece(t, &d->arrows[g->first + k], p - first[k], c.text.data + c.off[p],
				  c.len[p], t->inner - strip, false);
		}
		const char *const glyph[] = {" ", t->g->down, t->g->up, t->g->cross, t->g->right};
		for (size_t s = 0; s < strip; s++)
			puts_(t, glyph[cells[r * strip + s]]);
		row_end(t);
	}
	/* what each reply's code means: after the group (each explanation names its code) */
	if (o->explain) {
		for (size_t k = cmds; k < n; k++) {
			struct buf e;
			buf_init(&e);
			if (diagram_explain(&d->arrows[g->first + k], &e) < 0)
				t->err = -1;
			if (e.len)
				note_rows(t, d, g->first + k, "=", e.data, false);
			buf_free(&e);
		}
	}
	goto out;
oom:
	t->err = -1;
out:
	free(first);
	free(row);
	free(rows);
	free(cells);
	free(c.off);
	free(c.len);
	buf_free(&c.text);
	return true;
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
		if (a->group && a->kind != DIAGRAM_REPLY && a->group <= d->ngroups) {
			const struct diagram_group *g = &d->groups[a->group - 1];
			if (g->first == i && g->commands && draw_group(&t, d, o, g)) {
				i = g->last;
				continue;
			}
		}
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
