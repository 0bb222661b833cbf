/*
 * --step: before each command of a batch or a replay, wait until the user presses Enter on the
 * terminal (/dev/tty, so it works while the commands come from a file), at a lecture's pace.
 */
#ifndef SMTPSH_STEP_H
#define SMTPSH_STEP_H

#include <stdbool.h>
#include <stddef.h>

/* Opens the terminal. Returns 0, or -1 with a message in err (no controlling terminal). */
int step_open(char *err, size_t errlen);

/* Shows "next: what" on the terminal and waits for a line: true for Enter, false when the user
   typed q (or the terminal is gone). Without step_open, returns true at once. */
bool step_wait(const char *what);

void step_close(void);

#endif
