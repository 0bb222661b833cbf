/* What the diagram's model and renderers share (src/transcript/diagram*.c). */
#ifndef SMTPSH_DIAGRAM_INT_H
#define SMTPSH_DIAGRAM_INT_H

#include <stddef.h>

/*
 * The next piece of s[0..len) that fits cols columns: its length in bytes, breaking after a
 * blank of its second half when there is one (*skip is then 1: the blank is not shown), else
 * inside the word (never inside a UTF-8 sequence). At least one character.
 */
size_t diagram_wrap(const char *s, size_t len, size_t cols, size_t *skip);

#endif
