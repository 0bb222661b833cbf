/*
 * Ladder (sequence) diagrams of a transcript (issue 19): the client on the left, the server on
 * the right, one arrow per command and per reply, the TLS part shaded and labelled, pipelined
 * groups as the crossing arrows they are, message content folded. A pure
 * model built from parsed transcript entries (transcript.h: the one parser), and three renderers
 * into a struct buf: a text ladder for terminals and bug reports, a standalone SVG, a
 * self-contained HTML page.
 *
 * A transcript is untrusted (students send them): every text in the model is escaped for the
 * screen already (escape_append: no control byte, no invalid UTF-8), the renderers escape it
 * again for XML, and every size is bounded (DIAGRAM_MAX_*); what was cut is said.
 */
#ifndef SMTPSH_DIAGRAM_H
#define SMTPSH_DIAGRAM_H

#include <stdbool.h>
#include <stddef.h>

#include "smtpsh/buf.h"
#include "smtpsh/transcript.h"

#define DIAGRAM_MAX_ARROWS 2000	      /* arrows (and local events) kept; the rest are counted */
#define DIAGRAM_MAX_REPLY_LINES 40    /* lines of one multi-line reply shown */
#define DIAGRAM_CONTENT_LINES 4	      /* lines of message content shown, then a count */
#define DIAGRAM_MAX_TEXT 300	      /* bytes of one shown line (escaped), then an ellipsis */
#define DIAGRAM_MAX_SOURCE (1u << 20) /* bytes of the transcript kept for the HTML page */
#define DIAGRAM_MAX_NOTE_LINES 40     /* comment lines gathered into one side note */
#define DIAGRAM_WIDTH_MIN 40	      /* the narrowest text ladder */
#define DIAGRAM_WIDTH_MAX 1000

enum diagram_kind {
	DIAGRAM_SEND,	 /* a command, client to server */
	DIAGRAM_CONTENT, /* message content (DATA lines, BDAT chunk octets), folded */
	DIAGRAM_RAW,	 /* octets written as they are (\raw), client to server */
	DIAGRAM_REPLY,	 /* one reply (all its lines), server to client */
	DIAGRAM_LOCAL,	 /* a "*" line: connected, TLS, pipelining, closed */
	DIAGRAM_ALERT,	 /* a "!" line: a warning or an error */
};

struct diagram_arrow {
	enum diagram_kind kind;
	bool tls, verified;   /* SEND/CONTENT/RAW/REPLY: under TLS (verified certificate) */
	unsigned group;	      /* a pipelined group (1, 2...) the arrow belongs to, or 0 */
	long elapsed_ms;      /* the "+Nms" field of the reply (or local event), or -1 */
	unsigned long lineno; /* the transcript line of its first line (HTML links) */
	unsigned long lastno; /* ... and of its last line */
	struct buf text;      /* its lines, each escaped for display, joined by '\n' */
	size_t nlines;	      /* lines in text */
	size_t more;	      /* lines folded away (said as "… (N more lines)") */
	struct buf spare;     /* the first line folded away: shown instead of "… (1 more line)" */
	int code;	      /* REPLY: the code of its last line, 0 when malformed */
	char *note;	      /* comment lines before it (side note), escaped, or NULL */
	/* A server-side transcript: the "*" lines after it (the teacher view's diagnoses of
	   this line, "bare LF at the end of this line"), escaped, '\n' between; drawn as a
	   side note always. At most DIAGRAM_MAX_NOTE_LINES. */
	struct buf diag;
	size_t ndiag;
};

struct diagram_band {
	size_t first, last; /* arrows (indexes) of a run of TLS arrows */
	char label[128];    /* "TLSv1.3 TLS_AES_256_GCM_SHA384", or "TLS" when not said */
	bool verified;	    /* every arrow of it says the certificate was verified */
};

struct diagram_group {
	size_t first, last; /* arrows of a pipelined group: its commands and their replies */
	unsigned commands;
};

struct diagram {
	struct transcript_header header;
	struct diagram_arrow *arrows;
	size_t n, cap;
	size_t dropped; /* events not kept: more than DIAGRAM_MAX_ARROWS */
	size_t cut;	/* shown lines cut at DIAGRAM_MAX_TEXT */
	struct diagram_band *bands;
	size_t nbands;
	struct diagram_group *groups;
	size_t ngroups;
	bool timings;	  /* some entry had a "+Nms" field */
	size_t diagnoses; /* arrows with a diagnosis (diag) */
	/* The transcript's lines as read (escaped for display), for the HTML page; source_lines
	   counts them, source_cut says the end was left out (DIAGRAM_MAX_SOURCE). */
	struct buf source;
	unsigned long source_lines;
	bool source_cut;
	/* building state (diagram_add) */
	bool in_data;	   /* between a 354 to DATA and the "." */
	bool data_pending; /* DATA was sent, its reply not yet come */
	int open;	   /* what the last arrow still takes lines for (diagram.c) */
	unsigned group_no;
	unsigned group_owed;	 /* replies still owed to the current pipelined group */
	struct buf pending_note; /* comment lines waiting for the next arrow */
	size_t note_lines;
	bool note_break; /* an empty comment line came: the next one starts a paragraph */
};

struct diagram_options {
	bool notes;	   /* comments and timings as side notes */
	bool explain;	   /* what each reply's code means, as a side note (--explain) */
	bool ascii;	   /* txt: ASCII instead of box-drawing characters */
	int width;	   /* txt: columns (DIAGRAM_WIDTH_MIN..MAX) */
	const char *title; /* html/svg: the page's title (escaped here), or NULL */
};

void diagram_init(struct diagram *d);
void diagram_free(struct diagram *d);

/*
 * Adds one parsed transcript entry (its line number lineno) to the model: a sent line opens an
 * arrow (or adds to message content), received lines gather into their reply, local events
 * and alerts are drawn as they are, comments wait for the next arrow as its note. Returns 0,
 * or -1 when memory ran out.
 */
int diagram_add(struct diagram *d, const struct transcript_entry *e, unsigned long lineno);

/* Keeps one transcript line (as read, without its line end) for the HTML page. Returns 0 or -1. */
int diagram_add_source(struct diagram *d, const char *line, size_t len);

/* Finds the TLS bands and the pipelined groups of the arrows so far (comments after the last
   arrow become its note). Call it before rendering; more diagram_add may follow (the shell's
   diagram grows), then call it again. Returns 0 or -1 (memory). */
int diagram_finish(struct diagram *d);

/*
 * Reads a transcript file into d (initialised by the caller) with transcript_reader; with
 * source, its lines are kept for an HTML page too (of a regular file only). Returns 0, or -1
 * with a message in err.
 */
int diagram_read_file(struct diagram *d, const char *path, bool source, char *err, size_t errlen);

/* The renderers: append the diagram to out. Return 0, or -1 when memory ran out. */
int diagram_render_txt(const struct diagram *d, const struct diagram_options *o, struct buf *out);
int diagram_render_svg(const struct diagram *d, const struct diagram_options *o, struct buf *out);
int diagram_render_html(const struct diagram *d, const struct diagram_options *o, struct buf *out);

enum diagram_format { DIAGRAM_TXT, DIAGRAM_SVG, DIAGRAM_HTML };

/* "txt", "svg", "html": 0, or -1 for another name. */
int diagram_format_parse(const char *name, enum diagram_format *f);
/* The format a file name asks for by its extension (.txt, .svg, .html, .htm): 0, or -1. */
int diagram_format_of_path(const char *path, enum diagram_format *f);
/* The renderer of format f. */
int diagram_render(const struct diagram *d, enum diagram_format f, const struct diagram_options *o,
		   struct buf *out);

/*
 * Writes data to path as a new file of mode 0644: into a temporary file beside it, renamed
 * over path when complete (a reader never sees half a diagram). Refuses a symbolic link and
 * anything but a regular file at path. Returns 0, or -1 with a message in err.
 */
int diagram_save(const char *path, const struct buf *data, char *err, size_t errlen);

/* ---- the session so far (\diagram in the shell) ------------------------------------------- */

/*
 * A diagram that grows with the session: a transcript writer (the same one as --record, so the
 * same redacted events) writes into a stream whose lines are parsed as they come and added to
 * the model. Bounded as any diagram: DIAGRAM_MAX_ARROWS events, message content folded as it
 * arrives, DIAGRAM_MAX_SOURCE bytes of transcript kept for an HTML page.
 */
struct diagram_live {
	struct transcript_writer w;
	struct diagram d;
	struct buf partial; /* the start of a line not ended yet */
	int state;	    /* 0: the first line comes, 1: the header, 2: events */
	unsigned long lineno;
	bool skip_line; /* the line going on is longer than a transcript line may be */
};

/* Starts the diagram of a session. Add diagram_live_event as a listener of the session right
   away. Returns 0, or -1 (memory). */
int diagram_live_init(struct diagram_live *l);
void diagram_live_free(struct diagram_live *l);
/* The session listener; arg is the struct diagram_live. */
void diagram_live_event(const struct session_event *ev, void *arg);
/* Renders the session so far. Returns 0 or -1 (memory). */
int diagram_live_render(struct diagram_live *l, enum diagram_format f,
			const struct diagram_options *o, struct buf *out);

/* Appends what the code of reply a means (codes_brief, as --explain shows it beside a reply);
   nothing for another arrow or a line without a code. Returns 0 or -1. */
int diagram_explain(const struct diagram_arrow *a, struct buf *out);
/* The side note of arrow a: its diagnoses (a server-side transcript's "*" lines, always),
   its comments (o->notes), then what its code means (o->explain), one paragraph each.
   Appends to out; returns 0 or -1. */
int diagram_side_text(const struct diagram_arrow *a, const struct diagram_options *o,
		      struct buf *out);

/* Appends text with & < > " ' as XML character references (and U+FFFE/U+FFFF, which XML
   does not allow, as "\u{FFFE}"). text is display-escaped already. Returns 0 or -1. */
int diagram_xml_escape(struct buf *out, const char *text, size_t len);

/* Is d drawn from a server-side transcript (--serve --record: "perspective: server")? */
bool diagram_server_side(const struct diagram *d);
/* The names of the lanes: "client" and "server", or for a server-side transcript the client's
   address ("ADDR port PORT", from peer) and "smtpsh --serve HOST PORT". Escaped for display;
   written into the buffers given (cut to fit). */
void diagram_lanes(const struct diagram *d, char *client, size_t clen, char *server, size_t slen);

/* Columns text takes on a terminal (UTF-8; East Asian wide characters count 2). */
size_t diagram_text_width(const char *text, size_t len);

#endif
