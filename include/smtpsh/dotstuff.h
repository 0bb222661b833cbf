/*
 * DATA body encoding (RFC 5321 section 4.5.2), pure and streaming: any input bytes become
 * CRLF-terminated, dot-stuffed lines. Bare CR and bare LF become CRLF, so the output never
 * holds a CR or LF that is not part of CRLF (SMTP smuggling). The caller sends the final
 * ".\r\n" itself after dotstuff_finish(). dotstuff_init_lines() keeps the line ends and the
 * counters but stuffs no dot: the message composer (message.c) normalises bodies with it.
 */
#ifndef SMTPSH_DOTSTUFF_H
#define SMTPSH_DOTSTUFF_H

#include <stdbool.h>
#include <stddef.h>

/* Most bytes dotstuff_encode can write for n input bytes (finish writes at most 2). */
#define DOTSTUFF_MAX_OUT(n) (2 * (n) + 2)

struct dotstuff {
	bool bol; /* at the beginning of a line */
	bool cr;  /* the last input byte was a CR whose meaning depends on the next byte */
	bool stuff; /* a dot that starts a line is doubled (not with dotstuff_init_lines) */
	/* Counted as the lines are written, so a caller needs no pass of its own over them: */
	size_t col;		       /* octets of the line being written (a stuffed dot too) */
	unsigned long long lines;      /* line ends (CRLF) written since dotstuff_init */
	unsigned long long long_lines; /* of those lines, the ones longer than 998 octets */
};

#define DOTSTUFF_LINE_MAX 998 /* octets of a line without CRLF (RFC 5322 2.1.1) */

/* Starts a body: at the beginning of a line, counters at zero. */
void dotstuff_init(struct dotstuff *d);
/* The same, for CRLF line ends only: dots are left as they are. */
void dotstuff_init_lines(struct dotstuff *d);
/* Encodes in[0..len) into out (room for DOTSTUFF_MAX_OUT(len)); returns bytes written. */
size_t dotstuff_encode(struct dotstuff *d, const char *in, size_t len, char *out);
/* Ends the body: writes CRLF if the last line was not terminated (out needs 2 bytes);
   returns bytes written (0 or 2) and leaves d at the beginning of a line, as after
   dotstuff_init() but for the counters, which go on. */
size_t dotstuff_finish(struct dotstuff *d, char *out);

#endif
