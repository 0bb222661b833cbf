/*
 * The SVG and HTML renderers. The SVG stands alone: text as <text> (selectable, searchable),
 * a system font stack, no external reference, no script; 15px text on a 1000px-wide drawing
 * stays readable on a projector. The HTML page holds the same SVG, each arrow a link to its
 * transcript line shown beside it, and one small script (allowed by its hash alone) that
 * writes each arrow's box into data- attributes, for tests and tools.
 *
 * Every text comes from the transcript: escaped for display in the model, then here for XML
 * (diagram_xml_escape), so no byte of it can open an element or end the SVG.
 */
#include "smtpsh/diagram.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "smtpsh/escape.h"
#include "diagram_int.h"

/* Layout, in SVG user units (px). */
#define LH 20	     /* a line of text */
#define X_C 250	     /* the client's lifeline; left of it the TLS label and group marks */
#define X_S 950	     /* the server's lifeline */
#define WIRE_COLS 72 /* columns of wire text between the lifelines (15px monospace) */
#define NOTE_COLS 44 /* columns of a side note (14px sans-serif) */
#define NOTE_X (X_S + 24)
#define TOP 96 /* where the first arrow starts */

static const char style[] =
    "text{font-family:ui-monospace,'DejaVu Sans Mono','Liberation Mono',Menlo,Consolas,"
    "monospace;font-size:15px;fill:#1a1a1a}"
    ".title,.actor,.note,.label,.ms,.foot{font-family:system-ui,-apple-system,'Segoe UI',"
    "'DejaVu Sans',Arial,sans-serif}"
    ".title{font-size:18px;font-weight:bold}.actor{font-size:16px;font-weight:bold}"
    ".note{font-size:14px;fill:#3b4a6b}.label{font-size:14px;fill:#1d5e20}"
    ".label.unverified{fill:#8a4b00}.ms{font-size:14px;fill:#666}.foot{font-size:14px}"
    ".local text{fill:#555;font-style:italic}.alert text{fill:#a33}"
    ".content text,.chunk text{fill:#555}.raw text{fill:#8a1c1c}"
    ".life{stroke:#444;stroke-width:2}.wire{stroke:#1a1a1a;stroke-width:1.6;fill:none}"
    ".content .wire{stroke-dasharray:6 4}.raw .wire{stroke:#8a1c1c}"
    ".head{fill:#1a1a1a}.raw .head{fill:#8a1c1c}"
    ".tls-band{fill:#e4f3e2}.tls-band.unverified{fill:#fbe9d4}"
    ".group{fill:none;stroke:#6a5acd;stroke-width:2}.glabel{fill:#6a5acd;font-size:14px;"
    "font-family:system-ui,'DejaVu Sans',sans-serif}"
    ".box{fill:#f2f2f2;stroke:#444;stroke-width:1.5}";

/* Only in a diagram with pipelined groups: their label, and the ground under the texts of the
   slanted arrows, which other arrows of the group cross (the band's colour under TLS). */
static const char style_groups[] =
    "text.group{stroke:none}.ground{fill:#fff}.ground.tls{fill:#e4f3e2}"
    ".ground.tls.unverified{fill:#fbe9d4}";

struct svg {
	struct buf *out;
	int err;
	bool links; /* HTML: each arrow is a link to its transcript line */
};

static void put(struct svg *s, const char *text)
{
	if (!s->err && buf_puts(s->out, text) < 0)
		s->err = -1;
}

__attribute__((format(printf, 2, 3))) static void putf(struct svg *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (!s->err && buf_vprintf(s->out, fmt, ap) < 0)
		s->err = -1;
	va_end(ap);
}

static void esc(struct svg *s, const char *text, size_t len)
{
	if (!s->err && diagram_xml_escape(s->out, text, len) < 0)
		s->err = -1;
}

/* A <text> element at x, y holding text[0..len), escaped. */
static void text_el(struct svg *s, const char *cls, int x, int y, const char *anchor,
		    const char *text, size_t len)
{
	putf(s, "<text x=\"%d\" y=\"%d\"", x, y);
	if (cls)
		putf(s, " class=\"%s\"", cls);
	if (anchor)
		putf(s, " text-anchor=\"%s\"", anchor);
	put(s, ">");
	esc(s, text, len);
	put(s, "</text>\n");
}

/* The lines of a text ("\n" between lines) wrapped at cols: calls fn for each, returns the
   count. prefix goes before the first line, fold (if any) is one more line at the end. */
typedef void (*line_fn)(struct svg *s, void *ctx, size_t index, const char *t, size_t len);

static size_t wrapped(struct svg *s, const char *prefix, const char *text, size_t textlen,
		      const char *fold, size_t cols, line_fn fn, void *ctx)
{
	struct buf line;
	buf_init(&line);
	size_t count = 0;
	const char *p = text ? text : "";
	const char *end = p + textlen;
	/* every line of the text (an empty one too: message content has them), then fold */
	size_t lines = 1;
	for (const char *q = p; (q = memchr(q, '\n', (size_t)(end - q))); q++)
		lines++;
	if (fold)
		lines++;
	for (size_t l = 0; l < lines; l++) {
		bool first = l == 0;
		buf_reset(&line);
		if (first && prefix && buf_puts(&line, prefix) < 0)
			s->err = -1;
		if (fold && l + 1 == lines) {
			if (buf_puts(&line, fold) < 0)
				s->err = -1;
		} else {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
			if (buf_append(&line, p, n) < 0)
				s->err = -1;
			p += n + (nl ? 1 : 0);
		}
		const char *t = line.data ? line.data : "";
		size_t len = line.len;
		do {
			size_t skip, n = len ? diagram_wrap(t, len, cols, &skip) : 0;
			if (fn)
				fn(s, ctx, count, t, n);
			count++;
			t += n + (len ? skip : 0);
			len -= n + (len ? skip : 0);
		} while (len);
		if (s->err)
			break;
	}
	buf_free(&line);
	return count;
}

/* Where each arrow landed: the top of its box, the y of its line, its bottom. An arrow of a
   pipelined group slants: its line runs from y1 at the client to y2 at the server (line is
   then where it leaves its sender); others have y1 == y2 == line. */
struct place {
	int top, line, bottom;
	int y1, y2;
	bool slant;
};

static const char *kind_class(const struct diagram_arrow *a)
{
	switch (a->kind) {
	case DIAGRAM_SEND:
		return "send";
	case DIAGRAM_CONTENT:
		return "content";
	case DIAGRAM_RAW:
		return "raw";
	case DIAGRAM_REPLY:
		return "reply";
	case DIAGRAM_LOCAL:
		return "local";
	case DIAGRAM_ALERT:
		return "alert";
	}
	return "local";
}

static const char *prefix(const struct diagram_arrow *a)
{
	return a->kind == DIAGRAM_RAW	  ? "raw: "
	       : a->kind == DIAGRAM_LOCAL ? "* "
	       : a->kind == DIAGRAM_ALERT ? "! "
					  : "";
}

static void fold_text(const struct diagram_arrow *a, char *out, size_t outlen)
{
	if (a->more)
		snprintf(out, outlen, "\u2026 (%zu more line%s)", a->more, a->more == 1 ? "" : "s");
	else
		out[0] = '\0';
}

struct line_ctx {
	int x, y;
	const char *cls;
	const char *anchor; /* text-anchor, or NULL (start) */
};

static void line_el(struct svg *s, void *ctx, size_t i, const char *t, size_t len)
{
	struct line_ctx *c = ctx;
	text_el(s, c->cls, c->x, c->y + 15 + (int)i * LH, c->anchor, t, len);
}

static size_t arrow_lines(struct svg *s, const struct diagram_arrow *a, line_fn fn, void *ctx)
{
	char fold[80];
	fold_text(a, fold, sizeof fold);
	return wrapped(s, prefix(a), a->text.data, a->text.len, fold[0] ? fold : NULL, WIRE_COLS,
		       fn, ctx);
}

static bool on_wire(const struct diagram_arrow *a)
{
	return a->kind != DIAGRAM_LOCAL && a->kind != DIAGRAM_ALERT;
}

/*
 * Lays the arrows out top to bottom. Without timings evenly: each takes the room of its text.
 * With them (recorded with --timing: "+Nms" on the last line of a reply), to scale: the time a
 * reply took since its command was written is the space above it, TIME_SPAN px for the slowest
 * reply of the session and at most 1 px a millisecond.
 */
#define TIME_SPAN 160

/*
 * A pipelined group (RFC 2920) as the overlapping arrows it is: its commands leave the client
 * one after another without waiting (each under its text, at the client's side), and each
 * slants down to the server, where it lands lower (its flight); the server answers a command
 * once it has read it, so reply j leaves the server no earlier than command j landed (its
 * text above, at the server's side) and slants down to the client. The first replies leave
 * while later commands are still on their way: the arrows cross, as the octets do on the
 * wire. Texts never overlap one another: the replies' start below the last command's.
 * Returns false (lay the arrows out one by one) for a group that is not commands then their
 * replies with nothing between (a transcript cut short, an alert in the middle).
 */
#define FLIGHT 60
static bool layout_group(struct svg *s, const struct diagram *d, const struct diagram_group *g,
			 struct place *pl, int y, int *end)
{
	size_t cmds = 0;
	for (size_t i = g->first; i <= g->last; i++) {
		const struct diagram_arrow *a = &d->arrows[i];
		if (a->group != d->arrows[g->first].group || !on_wire(a))
			return false;
		if (a->kind != DIAGRAM_REPLY) {
			if (i != g->first + cmds)
				return false; /* a command after a reply */
			cmds++;
		}
	}
	if (cmds < 2)
		return false;
	/* the flight: as long as the commands take to leave, so that all of them are on the
	   way at once (FLIGHT at least, for a visible slant) */
	int flight = 0;
	for (size_t i = g->first; i < g->first + cmds; i++)
		flight += (int)arrow_lines(s, &d->arrows[i], NULL, NULL) * LH + 12;
	if (flight < FLIGHT)
		flight = FLIGHT;
	/* the commands: stacked at the client, each landing flight px below where it left, and
	   no earlier than the one before it (one write: they arrive in order) */
	int landed = 0;
	for (size_t i = g->first; i < g->first + cmds; i++) {
		int k = (int)arrow_lines(s, &d->arrows[i], NULL, NULL);
		pl[i].slant = true;
		pl[i].top = y;
		pl[i].line = pl[i].y1 = y + k * LH + 6;
		pl[i].y2 = pl[i].y1 + flight;
		if (pl[i].y2 < landed + 8)
			pl[i].y2 = landed + 8;
		landed = pl[i].y2;
		pl[i].bottom = pl[i].y2 + 6;
		y = pl[i].line + 6;
	}
	int texts = y + 6; /* where the replies' texts may begin */
	int bottom = landed + 6;
	size_t j = 0;
	int left = 0; /* where the reply before left the server */
	for (size_t i = g->first + cmds; i <= g->last; i++, j++) {
		int k = (int)arrow_lines(s, &d->arrows[i], NULL, NULL);
		const struct place *c = &pl[g->first + (j < cmds ? j : cmds - 1)];
		int from = c->y2 + 4; /* its command has landed */
		if (from < texts + k * LH + 6)
			from = texts + k * LH + 6;
		if (from < left + k * LH + 12)
			from = left + k * LH + 12;
		pl[i].slant = true;
		pl[i].top = from - k * LH - 6;
		pl[i].line = pl[i].y2 = from;
		pl[i].y1 = from + flight;
		pl[i].bottom = pl[i].y1 + 6;
		left = from;
		texts = from + 6;
		if (pl[i].bottom > bottom)
			bottom = pl[i].bottom;
	}
	*end = bottom + 12;
	return true;
}

static int layout(struct svg *s, const struct diagram *d, struct place *pl)
{
	long slowest = 0;
	for (size_t i = 0; i < d->n; i++)
		if (d->arrows[i].kind == DIAGRAM_REPLY && d->arrows[i].elapsed_ms > slowest)
			slowest = d->arrows[i].elapsed_ms;
	double scale = slowest > TIME_SPAN ? (double)TIME_SPAN / (double)slowest : 1.0;
	int y = TOP;
	for (size_t i = 0; i < d->n; i++) {
		const struct diagram_arrow *a = &d->arrows[i];
		if (a->group && a->kind != DIAGRAM_REPLY) {
			const struct diagram_group *g = &d->groups[a->group - 1];
			if (g->first == i && layout_group(s, d, g, pl, y, &y)) {
				i = g->last;
				continue;
			}
		}
		int k = (int)arrow_lines(s, a, NULL, NULL);
		if (a->kind == DIAGRAM_REPLY && a->elapsed_ms > 0)
			y += (int)((double)a->elapsed_ms * scale + 0.5);
		pl[i].top = y;
		if (on_wire(a)) {
			pl[i].line = y + k * LH + 6;
			pl[i].bottom = pl[i].line + 6;
		} else {
			pl[i].line = y + k * LH;
			pl[i].bottom = y + k * LH + 4;
		}
		pl[i].y1 = pl[i].y2 = pl[i].line;
		y = pl[i].bottom + 12;
	}
	return y;
}

/* sqrt(v) for v >= 1 by Newton's method (a few steps suffice for a head's direction; the
   library's sqrt would take libm for one call). */
static double root(double v)
{
	double r = v > 1 ? v : 1;
	for (int i = 0; i < 40; i++)
		r = (r + v / r) / 2;
	return r;
}

/* A line from (x1, y1) to (x2, y2) with its head at the end, pointing along the line. */
static void wire_to(struct svg *s, int x1, int y1, int x2, int y2)
{
	double dx = x2 - x1, dy = y2 - y1, len = root(dx * dx + dy * dy);
	double ux = len > 0 ? dx / len : 1, uy = len > 0 ? dy / len : 0;
	/* the line stops inside the head; the head is 13 px long, 12 px wide */
	double bx = x2 - 13 * ux, by = y2 - 13 * uy;
	putf(s, "<line class=\"wire\" x1=\"%d\" y1=\"%d\" x2=\"%.1f\" y2=\"%.1f\"/>", x1, y1,
	     x2 - 12 * ux, y2 - 12 * uy);
	putf(s, "<polygon class=\"head\" points=\"%d,%d %.1f,%.1f %.1f,%.1f\"/>", x2, y2,
	     bx - 6 * uy, by + 6 * ux, bx + 6 * uy, by - 6 * ux);
}

/* An arrow of a pipelined group: a command's text at the client, where it leaves; a reply's
   at the server, where it leaves (right-aligned); the line slants down to the other side. */
/* The ground under one line of a slanted arrow's text (15px monospace: 9px a column), so that
   the lines of the group's other arrows, drawn before it, pass under the text, not through. */
static void ground_el(struct svg *s, void *ctx, size_t i, const char *t, size_t len)
{
	struct line_ctx *c = ctx;
	int w = 9 * (int)diagram_text_width(t, len) + 6;
	putf(s, "<rect class=\"%s\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/>", c->cls,
	     c->anchor ? c->x - w + 3 : c->x - 3, c->y + 1 + (int)i * LH, w, LH - 1);
}

static void draw_slant(struct svg *s, const struct diagram_arrow *a, const struct place *p)
{
	struct line_ctx c = {.x = X_C + 14, .y = p->top, .anchor = NULL};
	if (a->kind == DIAGRAM_REPLY) {
		c.x = X_S - 14;
		c.anchor = "end";
	}
	/* the ground is the colour of what is under it: the page, or the TLS band */
	c.cls = !a->tls ? "ground" : a->verified ? "ground tls" : "ground tls unverified";
	arrow_lines(s, a, ground_el, &c);
	c.cls = NULL;
	arrow_lines(s, a, line_el, &c);
	if (a->kind == DIAGRAM_REPLY)
		wire_to(s, X_S, p->y2, X_C, p->y1);
	else
		wire_to(s, X_C, p->y1, X_S, p->y2);
}

static void draw_arrow(struct svg *s, const struct diagram *d, size_t i, const struct place *p)
{
	const struct diagram_arrow *a = &d->arrows[i];
	if (s->links)
		putf(s, "<a href=\"#l%lu\">", a->lineno);
	putf(s, "<g class=\"arrow %s%s\" id=\"a%zu\" data-line=\"%lu\" data-tls=\"%d\"",
	     kind_class(a), p->slant ? " slant" : "", i + 1, a->lineno, a->tls ? 1 : 0);
	if (a->group)
		putf(s, " data-group=\"%u\"", a->group);
	if (a->kind == DIAGRAM_REPLY)
		putf(s, " data-code=\"%d\"", a->code);
	if (a->elapsed_ms >= 0)
		putf(s, " data-ms=\"%ld\"", a->elapsed_ms);
	put(s, ">");
	if (a->lastno != a->lineno)
		putf(s, "<title>transcript lines %lu-%lu</title>\n", a->lineno, a->lastno);
	else
		putf(s, "<title>transcript line %lu</title>\n", a->lineno);
	if (p->slant) {
		draw_slant(s, a, p);
		put(s, "</g>");
		if (s->links)
			put(s, "</a>");
		put(s, "\n");
		return;
	}
	struct line_ctx c = {.x = X_C + 14, .y = p->top};
	arrow_lines(s, a, line_el, &c);
	int ly = p->line;
	if (a->kind == DIAGRAM_REPLY) {
		putf(s, "<line class=\"wire\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>", X_S, ly,
		     X_C + 12, ly);
		putf(s, "<polygon class=\"head\" points=\"%d,%d %d,%d %d,%d\"/>", X_C, ly, X_C + 13,
		     ly - 6, X_C + 13, ly + 6);
	} else if (on_wire(a)) {
		putf(s, "<line class=\"wire\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>", X_C, ly,
		     X_S - 12, ly);
		putf(s, "<polygon class=\"head\" points=\"%d,%d %d,%d %d,%d\"/>", X_S, ly, X_S - 13,
		     ly - 6, X_S - 13, ly + 6);
	}
	put(s, "</g>");
	if (s->links)
		put(s, "</a>");
	put(s, "\n");
}

struct note_ctx {
	int y;
};

static void note_el(struct svg *s, void *ctx, size_t i, const char *t, size_t len)
{
	struct note_ctx *c = ctx;
	text_el(s, "note", NOTE_X, c->y + 15 + (int)i * LH, NULL, t, len);
}

/* The TLS bands, under the arrows: shaded from the first TLS arrow to the last, labelled in
   the left margin with the protocol and cipher of the handshake. */
static void draw_bands(struct svg *s, const struct diagram *d, const struct place *pl)
{
	for (size_t k = 0; k < d->nbands; k++) {
		const struct diagram_band *b = &d->bands[k];
		int top = pl[b->first].top - 6, bottom = pl[b->last].bottom + 6;
		const char *un = b->verified ? "" : " unverified";
		putf(s,
		     "<rect class=\"tls-band%s\" id=\"tls%zu\" x=\"16\" y=\"%d\" width=\"%d\" "
		     "height=\"%d\" rx=\"6\" data-first=\"a%zu\" data-last=\"a%zu\"/>\n",
		     un, k + 1, top, X_S + 16 - 16, bottom - top, b->first + 1, b->last + 1);
		putf(s, "<text class=\"label%s\" x=\"28\" y=\"%d\" font-weight=\"bold\">", un,
		     top + 22);
		put(s, b->verified ? "TLS" : "TLS, certificate not verified");
		put(s, "</text>\n");
		/* "TLSv1.3" and the cipher on lines of their own: the margin is narrow */
		const char *l = b->label;
		size_t n = strcspn(l, " ");
		text_el(s, un[0] ? "label unverified" : "label", 28, top + 22 + LH, NULL, l, n);
		if (l[n])
			text_el(s, un[0] ? "label unverified" : "label", 28, top + 22 + 2 * LH,
				NULL, l + n + 1, strlen(l + n + 1));
	}
}

/* Pipelined groups (RFC 2920): their arrows slant and cross (layout_group); a label left of
   the client's lifeline says what they are. A group that could not be laid out so gets a
   bracket around its commands and their replies. */
static void draw_groups(struct svg *s, const struct diagram *d, const struct place *pl)
{
	for (size_t k = 0; k < d->ngroups; k++) {
		const struct diagram_group *g = &d->groups[k];
		if (!g->commands)
			continue;
		int top = pl[g->first].top, bottom = pl[g->last].bottom;
		if (pl[g->first].slant) {
			putf(s,
			     "<text class=\"group glabel\" id=\"group%zu\" x=\"%d\" y=\"%d\" "
			     "text-anchor=\"end\" data-commands=\"%u\">pipelined: %u in one "
			     "write</text>\n",
			     k + 1, X_C - 24, top + 15, g->commands, g->commands);
			continue;
		}
		putf(s,
		     "<path class=\"group\" id=\"group%zu\" d=\"M %d %d h -10 V %d h 10\" "
		     "data-commands=\"%u\"/>\n",
		     k + 1, X_C - 8, top, bottom, g->commands);
		putf(s,
		     "<text class=\"glabel\" x=\"%d\" y=\"%d\" text-anchor=\"end\">pipelined: %u "
		     "in one write</text>\n",
		     X_C - 24, top + 15, g->commands);
	}
}

static void draw_title(struct svg *s, const struct diagram *d, const struct diagram_options *o)
{
	const struct transcript_header *h = &d->header;
	struct buf t;
	buf_init(&t);
	int r = buf_puts(&t, "SMTP session");
	if (h->protocol[0])
		r |= buf_printf(&t, " (%s)", h->protocol);
	if (diagram_server_side(d)) {
		/* a server-side transcript: the server's view of one client */
		char lane_c[64], lane_s[64];
		diagram_lanes(d, lane_c, sizeof lane_c, lane_s, sizeof lane_s);
		r |= buf_printf(&t, " at %s from %s", lane_s, lane_c);
	} else if (h->host[0])
		r |= buf_printf(&t, " with %s%s%s", h->host, h->port[0] ? " port " : "", h->port);
	if (h->date[0])
		r |= buf_printf(&t, ", %s", h->date);
	if (r < 0)
		s->err = -1;
	/* header values as written in the file: make them displayable first */
	struct buf e;
	buf_init(&e);
	if (!s->err && escape_append(&e, t.data ? t.data : "", t.len, ESCAPE_KEEP_BACKSLASH) < 0)
		s->err = -1;
	size_t skip, n = e.len ? diagram_wrap(e.data, e.len, 100, &skip) : 0;
	text_el(s, "title", 16, 28, NULL, e.data ? e.data : "", n);
	buf_free(&e);
	buf_free(&t);
	(void)o;
}

/* The whole <svg> element. */
static void draw_svg(struct svg *s, const struct diagram *d, const struct diagram_options *o)
{
	struct place *pl = calloc(d->n ? d->n : 1, sizeof *pl);
	if (!pl) {
		s->err = -1;
		return;
	}
	int bottom = layout(s, d, pl);
	/* side notes: beside their arrow, pushed down when the one before is still there */
	bool side = o->notes || o->explain || d->diagnoses;
	char lane_c[64], lane_s[64];
	diagram_lanes(d, lane_c, sizeof lane_c, lane_s, sizeof lane_s);
	/* an actor's box fits its name (16px bold: about 10px a column) */
	int box_c = 10 * (int)diagram_text_width(lane_c, strlen(lane_c)) + 24;
	int box_s = 10 * (int)diagram_text_width(lane_s, strlen(lane_s)) + 24;
	box_c = box_c < 120 ? 120 : box_c;
	box_s = box_s < 120 ? 120 : box_s;
	int width = side ? NOTE_X + NOTE_COLS * 8 + 16 : X_S + 70;
	if (width < X_S + box_s / 2 + 8)
		width = X_S + box_s / 2 + 8;
	int notes_end = 0;
	struct buf note;
	buf_init(&note);
	for (size_t i = 0; side && i < d->n; i++) {
		buf_reset(&note);
		if (diagram_side_text(&d->arrows[i], o, &note) < 0)
			s->err = -1;
		if (!note.len)
			continue;
		int y = pl[i].top > notes_end ? pl[i].top : notes_end;
		size_t k = wrapped(s, NULL, note.data, note.len, NULL, NOTE_COLS, NULL, NULL);
		notes_end = y + (int)k * LH + 10;
	}
	int foot = (d->dropped ? 1 : 0) + (d->cut ? 1 : 0);
	int height = (bottom > notes_end ? bottom : notes_end) + 16 + foot * LH;
	putf(s,
	     "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" viewBox=\"0 0 %d %d\" "
	     "width=\"%d\" height=\"%d\" xml:space=\"preserve\" role=\"img\">\n",
	     width, height, width, height);
	put(s, "<title>");
	const struct transcript_header *h = &d->header;
	struct buf t;
	buf_init(&t);
	if (escape_append(&t, h->host, strlen(h->host), ESCAPE_KEEP_BACKSLASH) < 0)
		s->err = -1;
	put(s, "Ladder diagram of an SMTP session");
	if (t.len) {
		put(s, " with ");
		esc(s, t.data, t.len);
	}
	buf_free(&t);
	put(s, "</title>\n<style>");
	put(s, style);
	if (d->ngroups)
		put(s, style_groups);
	put(s, "</style>\n");
	putf(s, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n", width,
	     height);
	draw_title(s, d, o);
	draw_bands(s, d, pl);
	int life_end = bottom - 4;
	int left_c = X_C - box_c / 2 < 8 ? 8 : X_C - box_c / 2;
	int mid_c = left_c + box_c / 2;
	putf(s,
	     "<rect class=\"box\" x=\"%d\" y=\"44\" width=\"%d\" height=\"30\" rx=\"4\"/>"
	     "<text class=\"actor\" x=\"%d\" y=\"65\" "
	     "text-anchor=\"middle\">",
	     left_c, box_c, mid_c);
	esc(s, lane_c, strlen(lane_c));
	putf(s,
	     "</text>\n<rect class=\"box\" x=\"%d\" y=\"44\" width=\"%d\" height=\"30\" "
	     "rx=\"4\"/><text class=\"actor\" x=\"%d\" y=\"65\" "
	     "text-anchor=\"middle\">",
	     X_S - box_s / 2, box_s, X_S);
	esc(s, lane_s, strlen(lane_s));
	put(s, "</text>\n");
	putf(s,
	     "<line class=\"life\" x1=\"%d\" y1=\"74\" x2=\"%d\" y2=\"%d\"/>"
	     "<line class=\"life\" x1=\"%d\" y1=\"74\" x2=\"%d\" y2=\"%d\"/>\n",
	     X_C, X_C, life_end, X_S, X_S, life_end);
	draw_groups(s, d, pl);
	notes_end = 0;
	for (size_t i = 0; i < d->n && !s->err; i++) {
		const struct diagram_arrow *a = &d->arrows[i];
		draw_arrow(s, d, i, &pl[i]);
		if (o->notes && a->elapsed_ms >= 0)
			putf(s,
			     "<text class=\"ms\" x=\"%d\" y=\"%d\" text-anchor=\"end\">%ld "
			     "ms</text>\n",
			     X_C - 8, on_wire(a) ? pl[i].line + 5 : pl[i].top + 15, a->elapsed_ms);
		buf_reset(&note);
		if (side && diagram_side_text(a, o, &note) < 0)
			s->err = -1;
		if (note.len) {
			struct note_ctx c = {.y = pl[i].top > notes_end ? pl[i].top : notes_end};
			putf(s, "<g class=\"notes\" data-line=\"%lu\">", a->lineno);
			size_t k =
			    wrapped(s, NULL, note.data, note.len, NULL, NOTE_COLS, note_el, &c);
			put(s, "</g>\n");
			notes_end = c.y + (int)k * LH + 10;
		}
	}
	buf_free(&note);
	int y = (bottom > notes_end ? bottom : notes_end) + 4;
	if (d->dropped)
		putf(s,
		     "<text class=\"foot\" x=\"16\" y=\"%d\">\u2026 %zu more events not drawn "
		     "(at most %d)</text>\n",
		     y += LH, d->dropped, DIAGRAM_MAX_ARROWS);
	if (d->cut)
		putf(s,
		     "<text class=\"foot\" x=\"16\" y=\"%d\">%zu lines cut at %d "
		     "bytes</text>\n",
		     y += LH, d->cut, DIAGRAM_MAX_TEXT);
	put(s, "</svg>\n");
	free(pl);
}

int diagram_render_svg(const struct diagram *d, const struct diagram_options *o, struct buf *out)
{
	struct svg s = {.out = out};
	put(&s, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	draw_svg(&s, d, o);
	return s.err;
}

/* Writes each arrow's box (and the TLS bands' and groups') into data- attributes once the
   page is laid out, and the extent of an arrow's line (data-wire-top/bottom: where a slanted
   one leaves and lands): what a test or a tool reads from the rendered page. */
static const char measure_script[] =
    "(function(){var els=document.querySelectorAll('svg .arrow, svg .tls-band, svg .group');"
    "for(var i=0;i<els.length;i++){var r=els[i].getBoundingClientRect();"
    "els[i].setAttribute('data-top',r.top.toFixed(1));"
    "els[i].setAttribute('data-bottom',r.bottom.toFixed(1));"
    "els[i].setAttribute('data-left',r.left.toFixed(1));"
    "els[i].setAttribute('data-right',r.right.toFixed(1));"
    "var w=els[i].querySelector('.wire');if(w){r=w.getBoundingClientRect();"
    "els[i].setAttribute('data-wire-top',r.top.toFixed(1));"
    "els[i].setAttribute('data-wire-bottom',r.bottom.toFixed(1));}}"
    "document.documentElement.setAttribute('data-measured',String(els.length));})();";

static const char page_style[] =
    "body{margin:0;font-family:system-ui,-apple-system,'Segoe UI','DejaVu Sans',Arial,"
    "sans-serif;background:#fafafa;color:#1a1a1a}"
    "h1{font-size:20px;margin:12px 16px}"
    "main{display:flex;align-items:flex-start;gap:16px;padding:0 16px 16px}"
    ".diagram{flex:0 0 auto;background:#fff;border:1px solid #ddd}"
    ".diagram svg{display:block}.diagram a:hover text{fill:#0645ad}"
    "pre.transcript{flex:1 1 auto;margin:0;padding:8px;background:#fff;border:1px solid "
    "#ddd;font:14px/1.45 ui-monospace,'DejaVu Sans Mono',Menlo,Consolas,monospace;"
    "overflow:auto;max-height:calc(100vh - 80px);position:sticky;top:8px}"
    ".ln{display:block;white-space:pre}.ln:target{background:#fff3b0}"
    ".no{display:inline-block;min-width:3.5em;color:#888;user-select:none}";

/* The 'sha256-...' source of the Content-Security-Policy for the page's one script. */
static int script_hash(char *out, size_t outlen)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
	if (!EVP_Digest(measure_script, strlen(measure_script), md, &mdlen, EVP_sha256(), NULL))
		return -1;
	EVP_EncodeBlock(b64, md, (int)mdlen);
	snprintf(out, outlen, "sha256-%s", (const char *)b64);
	return 0;
}

int diagram_render_html(const struct diagram *d, const struct diagram_options *o, struct buf *out)
{
	struct svg s = {.out = out, .links = true};
	char hash[128];
	if (script_hash(hash, sizeof hash) < 0)
		return -1;
	struct buf t;
	buf_init(&t);
	if (escape_append(&t, o->title ? o->title : "SMTP session",
			  strlen(o->title ? o->title : "SMTP session"), ESCAPE_KEEP_BACKSLASH) < 0)
		s.err = -1;
	/* no network: nothing may load, the one script runs by its hash */
	putf(&s,
	     "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	     "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	     "style-src 'unsafe-inline'; script-src '%s'\">\n"
	     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
	     hash);
	put(&s, "Ladder diagram: ");
	esc(&s, t.data ? t.data : "", t.len);
	put(&s, "</title>\n<style>");
	put(&s, page_style);
	put(&s, "</style>\n</head>\n<body>\n<h1>");
	esc(&s, t.data ? t.data : "", t.len);
	put(&s, "</h1>\n<main>\n<div class=\"diagram\">\n");
	draw_svg(&s, d, o);
	put(&s, "</div>\n<pre class=\"transcript\">");
	const char *p = d->source.data ? d->source.data : "";
	const char *end = p + d->source.len;
	for (unsigned long no = 1; no <= d->source_lines && !s.err; no++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		putf(&s, "<span class=\"ln\" id=\"l%lu\"><span class=\"no\">%lu</span>", no, no);
		esc(&s, p, n);
		put(&s, "</span>");
		p += n + (nl ? 1 : 0);
	}
	if (d->source_cut && d->source_lines)
		putf(&s,
		     "<span class=\"ln\">\u2026 (the rest of the transcript is not shown: "
		     "more than %u bytes)</span>",
		     DIAGRAM_MAX_SOURCE);
	else if (d->source_cut)
		put(&s, "<span class=\"ln\">(the transcript is not shown: not a regular "
			"file)</span>");
	put(&s, "</pre>\n</main>\n<script>");
	put(&s, measure_script);
	put(&s, "</script>\n</body>\n</html>\n");
	buf_free(&t);
	return s.err;
}
