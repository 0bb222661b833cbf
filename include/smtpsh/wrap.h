/*
 * Fitting screen lines to a narrow terminal (pure, no I/O). The input is a line as the
 * renderer builds it: text escaped already (escape_append), SGR colour sequences ("ESC [ ...
 * m", our own), blanks and the TAB that opens the annotations.
 */
#ifndef SMTPSH_WRAP_H
#define SMTPSH_WRAP_H

#include <stddef.h>

#include "smtpsh/buf.h"

/* Columns s[0..len) takes on a terminal: SGR sequences none, a combining mark none, an East
   Asian wide character two, a TAB up to the next multiple of 8 (counted from column 0). */
size_t wrap_columns(const char *s, size_t len);

/*
 * Appends line[0..len) (no line end) to out as lines of at most width columns, each but the
 * last ended by "\n"; no "\n" is added after the last. Breaks only at blanks (a blank or the
 * TAB where a break falls is dropped); a word wider than the room left on an empty line is cut
 * between two characters, never inside an escape ("\x1b", "\u{200b}", "\\") or a UTF-8
 * sequence, and never inside an SGR sequence. Every continuation line starts with hang blanks
 * (the renderer passes the width of "-> ", so the marker stays alone in its column). A width
 * of 0, or a hang that leaves fewer than 10 columns, appends the line unchanged.
 * Returns 0, or -1 when memory ran out.
 */
int wrap_line(struct buf *out, const char *line, size_t len, size_t width, size_t hang);

#endif
