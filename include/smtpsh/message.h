/*
 * A message composed from \send / --send options (RFC 5322 + MIME), streamed: the header is
 * built in memory, the body and the attachments are read from their files in chunks while
 * the message is sent, never whole. Its exact size is known before it is sent (for SIZE).
 *
 *   message_open()     checks the options, opens the files, scans the body (8-bit? lines?)
 *   message_compose()  builds the header, fixes the encodings and the size
 *   message_read()     the message, CRLF line ends, not dot-stuffed (the session does that)
 *   message_close()
 *
 * The output: Date, From, To, Cc (never Bcc), Subject (RFC 2047 encoded-words when not
 * ASCII), Message-ID (random, RAND_bytes), MIME-Version, the --header lines; a text/plain
 * utf-8 body (7bit, 8bit, or base64 when 8-bit is not allowed or a line is over 998 octets
 * or holds a NUL); with attachments multipart/mixed, each attachment base64 in 76-character
 * lines with a Content-Type from its extension and its file name (RFC 2231 when not ASCII).
 */
#ifndef SMTPSH_MESSAGE_H
#define SMTPSH_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include "smtpsh/buf.h"
#include "smtpsh/dotstuff.h"

struct message_spec {
	const char *from; /* "addr@host" or "Display Name <addr@host>" */
	const char *const *to;
	size_t nto;
	const char *const *cc;
	size_t ncc;
	const char *subject;   /* NULL: no Subject header */
	const char *body;      /* the body text, or NULL */
	const char *body_file; /* a file holding the body, or NULL (not both) */
	const char *const *attach;
	size_t nattach;
	const char *const *headers; /* "Name: value" lines added to the header */
	size_t nheaders;
	time_t date; /* 0: now */
};

/* One piece of the message: bytes in memory or from a file, and what is done to them. */
struct message_part {
	const char *ext;     /* memory outside the message (the --body text), or NULL */
	size_t off, len;     /* else, with file NULL: bytes of the message's own memory */
	FILE *file;          /* a file read while sending, or NULL */
	const char *path;
	unsigned long long in_size;  /* octets of the source */
	unsigned long long out_size; /* octets it becomes */
	bool crlf;   /* normalise line ends to CRLF (the last line ends with CRLF too) */
	bool base64; /* then base64 in 76-character lines */
};

struct message_file {
	FILE *fp;
	const char *path;
	unsigned long long size;
};

struct message {
	struct message_spec spec;
	struct buf mem; /* the header, boundaries and part headers */
	struct message_part *parts;
	size_t nparts;
	struct message_file body;  /* fp NULL without --body-file */
	struct message_file *att;  /* spec.nattach of them */
	bool has_body;
	struct dotstuff scan;	   /* the body's line ends (lines-only mode), and its long lines */
	bool eightbit, nul;	   /* what the body holds */
	/* Set before message_compose: the body may go as it is, "binary" (BINARYMIME with BDAT,
	   RFC 3030 3), when it would otherwise need base64 (a NUL, a line over 998 octets).
	   binary: message_compose decided so (BODY=BINARYMIME is then due). */
	bool allow_binary, binary;
	unsigned long long body_size; /* after CRLF normalisation */
	unsigned long long size;
	/* streaming */
	size_t cur;
	unsigned long long cur_in, cur_out;
	struct dotstuff crlf; /* line ends of the part being streamed */
	unsigned char carry[57];
	size_t ncarry;
	char *raw, *mid;
	struct buf pending;
	size_t pending_off;
};

/* Checks the spec (addresses, header lines, no CR/LF where they do not belong), opens the
   files and scans the body. Returns 0, or -1 with err set (nothing to close then). */
int message_open(struct message *m, const struct message_spec *spec, char *err, size_t errlen);

/* Does the body hold 8-bit octets (so BODY=8BITMIME is needed to send it as it is)? */
bool message_body_8bit(const struct message *m);

/* Is the body binary: a NUL, or a line over 998 octets (so DATA needs base64)? */
bool message_body_binary(const struct message *m);

/* Builds the header and fixes the encodings: an 8-bit body goes as 8bit when allow_8bit
   (the server offers 8BITMIME), else base64. Returns 0, or -1 with err set. */
int message_compose(struct message *m, bool allow_8bit, char *err, size_t errlen);

/* The exact number of octets message_read() will give (CRLF line ends, before dot-stuffing:
   the size RFC 1870 speaks of). */
unsigned long long message_size(const struct message *m);

/* The next bytes of the message into buf (cap > 0): their number, 0 at the end, -1 on a read
   error (err set) or when a file changed size meanwhile. */
ssize_t message_read(struct message *m, char *buf, size_t cap, char *err, size_t errlen);

/* Closes the files and releases everything. */
void message_close(struct message *m);

/* The address inside "Name <addr>" (or the whole trimmed text) into out; -1 when it is empty
   or holds blanks, controls, '<' or '>'. */
int message_address(const char *text, char *out, size_t outlen);

/* Is any octet of s outside ASCII? */
bool message_non_ascii(const char *s);

/* Appends "Name: value" to out as RFC 2047 encoded-words (UTF-8, B) when value needs it
   (not ASCII, control characters, "=?"), else as is; folded so lines stay within 76
   characters where possible; CRLF at the end. -1 when memory ran out. */
int message_header_text(struct buf *out, const char *name, const char *value);

/* The Content-Type for a file name, from its extension (application/octet-stream if unknown). */
const char *message_content_type(const char *path);

#endif
