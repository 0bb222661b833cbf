/*
 * The history of typed lines, kept across sessions in a file (Readline's history library).
 * The file is created with mode 0600 (its directories 0700); a wider mode is narrowed when
 * the file is opened. Each kept line is appended at once, so a crash loses nothing; the file
 * is cut to the size limit at the end. Lines never kept: empty ones, those starting with a
 * space (like bash's ignorespace), a repeat of the previous line, message content (DATA),
 * AUTH initial responses and every line typed inside an AUTH exchange, and local commands
 * whose arguments may hold a secret (\b64, \unb64, \auth with more than MECH USER).
 */
#ifndef SMTPSH_HISTORY_H
#define SMTPSH_HISTORY_H

#include <stdbool.h>

#include "smtpsh/render.h"
#include "smtpsh/shell.h"

#define HISTORY_SIZE_DEFAULT 1000

/*
 * Starts the history: at most size lines (0: no history at all), loaded from and saved to
 * path (NULL: kept in memory only). make_dirs: create the missing directories above path
 * (for the default location, not for a path the user named). Problems are reported as
 * warnings through r; the shell works without a history file then.
 */
void history_open(const char *path, int size, bool make_dirs, struct render *r);

/* Should this typed line be kept? Looks at the shell's state before the line runs. */
bool history_keeps(const struct shell *sh, const char *line);

/* Adds line to the history and the file when history_keeps() says so. Call before running it. */
void history_remember(const struct shell *sh, const char *line);

/* Cuts the file to the size limit and forgets the path. */
void history_close(void);

#endif
