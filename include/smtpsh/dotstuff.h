/*
 * DATA body encoding (RFC 5321 section 4.5.2), pure and streaming: any input bytes become
 * CRLF-terminated, dot-stuffed lines. Bare CR and bare LF become CRLF, so the output never
 * holds a CR or LF that is not part of CRLF (SMTP smuggling). The caller sends the final
 * ".\r\n" itself after dotstuff_finish().
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
};

void dotstuff_init(struct dotstuff *d);
/* Encodes in[0..len) into out (room for DOTSTUFF_MAX_OUT(len)); returns bytes written. */
size_t dotstuff_encode(struct dotstuff *d, const char *in, size_t len, char *out);
/* Ends the body: writes CRLF if the last line was not terminated (out needs 2 bytes);
   returns bytes written (0 or 2) and leaves d as after dotstuff_init(). */
size_t dotstuff_finish(struct dotstuff *d, char *out);

#endif
