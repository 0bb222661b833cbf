/*
 * Incremental SMTP reply parser (RFC 5321 section 4.2), pure: bytes in, lines out.
 * Feed whatever the network gave with reply_parser_push(); it stops after every complete
 * line so the caller can show it at once. Memory is bounded by REPLY_LINE_MAX.
 */
#ifndef SMTPSH_REPLY_H
#define SMTPSH_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "smtpsh/buf.h"

#define REPLY_LINE_MAX (64 * 1024) /* bytes in one line, CR LF excluded */
#define REPLY_LINES_MAX 1000       /* lines in one multi-line reply */

enum reply_result {
	REPLY_MORE, /* every byte given was used; no complete line yet */
	REPLY_LINE, /* *line is a continuation line ("250-...") of a reply still going on */
	REPLY_DONE, /* *line is the last line of a reply ("250 ...", or "250" alone) */
	REPLY_BAD,  /* *line is malformed, line->err says why; the parser expects a new reply */
};

enum reply_error {
	REPLY_OK = 0,
	REPLY_ERR_SYNTAX,         /* not 3 digits [2-5][0-9][0-9] then ' ', '-' or the end */
	REPLY_ERR_CODE_CHANGED,   /* a line of a multi-line reply with another code */
	REPLY_ERR_TOO_LONG,       /* no LF within REPLY_LINE_MAX bytes: text is those bytes; the
				     rest of that line is discarded (up to and with its LF) */
	REPLY_ERR_TOO_MANY_LINES, /* more than REPLY_LINES_MAX lines in one reply */
	REPLY_ERR_NUL,            /* a NUL byte in the line */
};

struct reply_line {
	const char *text; /* the line as received, without its line end; valid until the next
			     push/reset/free; may contain any byte (escape before display) */
	size_t len;
	int code;    /* 200..599 for a well-formed line; for a malformed one, 0 */
	bool last;   /* true for REPLY_DONE */
	bool bare_lf; /* the line ended in LF without CR before it (tolerated, reported) */
	enum reply_error err;
};

struct reply_parser {
	struct buf line;     /* bytes of the line being read */
	int code;            /* code of the reply being read, 0 between replies */
	size_t nlines;       /* lines of the reply being read so far */
	bool skipping;       /* discarding the rest of an overlong line */
	size_t skipped;      /* bytes discarded so far while skipping */
};

void reply_parser_init(struct reply_parser *p);
void reply_parser_free(struct reply_parser *p);
/* Forgets any partial line and multi-line state (after STARTTLS, on a new connection). */
void reply_parser_reset(struct reply_parser *p);
/* Bytes held of a line not yet complete (0 between lines). */
size_t reply_parser_pending(const struct reply_parser *p);
/* True while inside a multi-line reply or a partial line. */
bool reply_parser_busy(const struct reply_parser *p);

/*
 * Consumes bytes from data[0..len) up to and including the end of the first complete line,
 * sets *used to how many it consumed, and says what it found. Call again with the rest.
 * Accepts CRLF and (flagged in bare_lf) LF alone as line ends.
 */
enum reply_result reply_parser_push(struct reply_parser *p, const char *data, size_t len,
				    size_t *used, struct reply_line *line);

/* A short English phrase for err ("reply line does not start with a 3-digit code"...). */
const char *reply_error_str(enum reply_error err);

#endif
