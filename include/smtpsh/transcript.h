/*
 * Transcripts (transcripts/FORMAT.md): a header, then one line per event with the screen's
 * markers. The writer is a session listener: it writes each event as it happens, flushed per
 * line, and only ever sees and writes the redacted form of a secret. The parser reads the
 * lines back (pure and bounded: a hostile file gives an error, never a crash or unbounded
 * memory); the reader feeds it from a file.
 */
#ifndef SMTPSH_TRANSCRIPT_H
#define SMTPSH_TRANSCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "smtpsh/buf.h"
#include "smtpsh/proto.h"

struct session_event; /* session.h: the writer is a session listener */

#define TRANSCRIPT_MAGIC "smtpsh-transcript 2" /* the first line the writer writes */
#define TRANSCRIPT_VERSION 2		       /* the newest version read (1 is read too) */
#define TRANSCRIPT_LINE_MAX (512 * 1024)       /* bytes in one line of a transcript file */
#define TRANSCRIPT_PIPE_MAX 1000	       /* largest group size a "pI/N" field may give */

/* ---- writing -------------------------------------------------------------------------------- */

struct transcript_writer {
	FILE *f; /* NULL: not recording */
	char *path;
	/* The connection of the last event heard, for the header (events carry it; the writer
	   hears them also when not recording): host NULL before any. */
	char *host;
	char port[16];
	enum tls_mode mode;
	bool lmtp; /* the connection speaks LMTP: the header says "protocol: lmtp" */
	/* A server-side transcript (--serve --record): the client's "ADDR PORT", owned by the
	   caller; the header then says "perspective: server" and "peer: ..." (FORMAT.md).
	   NULL: the client's side, as always. */
	const char *peer;
	bool connected;
	bool times; /* write the elapsed-time field (the shell follows \set timing) */
	bool header_done;
	bool failed; /* a write failed: recording stopped, err says why */
	char err[300];
	unsigned long lines; /* event lines written */
	struct buf line;
};

/* A writer that does not record yet. Add it as a listener of the session right away, so that
   it knows the connection when recording starts (see transcript_open). */
void transcript_writer_init(struct transcript_writer *w);
void transcript_writer_free(struct transcript_writer *w);

/*
 * Starts recording to path (created with mode 0600, or truncated and made 0600); refuses a
 * symbolic link (the message names its target) and anything but a regular file, without
 * blocking on a FIFO. A recording going on is closed first. The header is written at once when
 * the last event heard said the session is connected, otherwise with the first event (so it
 * names the peer of the connection that follows). Returns 0, or -1 with a message in w->err.
 */
int transcript_open(struct transcript_writer *w, const char *path);

/*
 * Starts recording into f, an open stream (the shell's in-memory copy of the session for
 * \diagram: a stream of fopencookie), named name in messages. The writer owns f from now on
 * and closes it in transcript_close. Returns 0, or -1 (memory).
 */
int transcript_open_stream(struct transcript_writer *w, FILE *f, const char *name);

/* Ends the recording (writes the header if nothing else was written) and closes the file. */
void transcript_close(struct transcript_writer *w);

bool transcript_active(const struct transcript_writer *w);

/* Writes "# text" (one line; control bytes are replaced). For comments typed while recording. */
void transcript_comment(struct transcript_writer *w, const char *text);

/* The session listener; arg is the struct transcript_writer. It hears every event, recording
   or not: each one tells which connection it belongs to. */
void transcript_event(const struct session_event *ev, void *arg);
/* For session_add_quiet_listener: a recording transcript wants every body line. */
bool transcript_wants_quiet(void *arg);

/* ---- parsing (pure) -------------------------------------------------------------------------- */

enum transcript_kind {
	TR_BLANK,    /* an empty line */
	TR_COMMENT,  /* "# text": text is what follows "#" and one blank */
	TR_SENT,     /* "-> ", "~> ", "?> " */
	TR_RECEIVED, /* "<- ", "<~ ", "<? " */
	TR_INFO,     /* "*  text" (connected, TLS, closed...) */
	TR_ALERT,    /* "!  text" (a warning or an error) */
};

struct transcript_entry {
	enum transcript_kind kind;
	bool tls;			 /* SENT/RECEIVED: under TLS (~ or ?) */
	bool verified;			 /* with tls: the certificate was verified (~) */
	long elapsed_ms;		 /* the "+Nms" field, or -1 */
	unsigned pipe_index, pipe_total; /* the "pI/N" field of a pipelined command, or 0 */
	struct buf text; /* SENT/RECEIVED: the bytes (unescaped); others: the text as written */
	int code;	 /* RECEIVED: the reply code, 0 when the line is not a well-formed reply */
	bool last;	 /* RECEIVED with a code: the last line of its reply ("250 " not "250-") */
	bool bare_lf;	 /* RECEIVED: the server ended this line with LF alone */
	/* Version 2. SENT: "raw": text is octets written as they are (\raw: no CRLF added;
	   CR, LF and NUL allowed). "chunk": octets of a BDAT chunk, as raw; omitted > 0
	   ("omitted:N"): N octets of the chunk were not recorded (text empty). */
	bool raw, chunk;
	unsigned long long omitted;
	/* Version 2. RECEIVED: "rcpt:ADDR": the recipient this reply is for (LMTP's replies
	   after the end of data, RFC 2033 4.2), unescaped; has_rcpt false when absent. */
	bool has_rcpt;
	struct buf rcpt;
};

struct transcript_header {
	int version;
	char tool[128];
	char date[64];
	char host[256];
	char port[16];
	char tls[16];	   /* "none", "starttls", "implicit", or "" */
	char protocol[16]; /* version 2: "lmtp", or "" (SMTP) */
	/* A server-side transcript (--serve --record): "perspective: server"; host and port
	   are then where the server listened, peer ("ADDR PORT") the client. "" for a
	   client's transcript (the field absent, or "client"). */
	char perspective[16];
	char peer[128];
};

void transcript_entry_init(struct transcript_entry *e);
void transcript_entry_free(struct transcript_entry *e);

/* Checks the first line (without its line end). Returns the version (1 or 2), or -1 with a
   reason in err. */
int transcript_parse_magic(const char *line, size_t len, char *err, size_t errlen);

/*
 * Parses one header line (after the first, without its line end). Returns 1 for a field
 * ("name: value"; known ones are stored in h, unknown ones ignored) or a "#" comment, 0 for the
 * empty line that ends the header, -1 for a malformed line (reason in err).
 */
int transcript_parse_header_line(const char *line, size_t len, struct transcript_header *h,
				 char *err, size_t errlen);

/* Parses one line after the header (without its line end) into e. Returns 0, or -1 with a
   reason in err. */
int transcript_parse_line(const char *line, size_t len, struct transcript_entry *e, char *err,
			  size_t errlen);

/*
 * Undoes the escaping of the screen (escape_append): "\\" "\t" "\r" "\n" "\xNN" "\u{X...}"
 * back to bytes, appended to out; also "\0" (NUL, as typed to \raw). Returns 0, or -1 for a
 * malformed escape.
 */
int transcript_unescape(const char *in, size_t len, struct buf *out);

/* ---- reading a file ----------------------------------------------------------------------------
 */

struct transcript_reader {
	FILE *f;
	unsigned long lineno; /* of the line last read */
	struct transcript_header header;
	struct buf line;
	char err[400];
};

/* Opens path and reads its header. Returns 0, or -1 with a message in rd->err. */
int transcript_reader_open(struct transcript_reader *rd, const char *path);
/* Reads the next line into e: 1, 0 at the end of the file, -1 on error (rd->err names the line). */
int transcript_reader_next(struct transcript_reader *rd, struct transcript_entry *e);
void transcript_reader_close(struct transcript_reader *rd);

#endif
