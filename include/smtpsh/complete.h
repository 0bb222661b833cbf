/* Tab completion for the REPL; the only file besides repl.c that touches Readline's globals. */
#ifndef SMTPSH_COMPLETE_H
#define SMTPSH_COMPLETE_H

#include <stddef.h>

#include "smtpsh/shell.h"

/* Installs the completion function; sh gives the session state it looks at. */
void complete_install(struct shell *sh);

/*
 * The candidates for the word text, given the words before it on the line (pure, for tests):
 * fills out with up to max strings (static or from the session; do not free), returns how many,
 * sets *no_space when the candidate must not be followed by a blank ("FROM:<"), and *files
 * when file names should be offered instead.
 */
size_t complete_candidates(const struct shell *sh, const char *line, size_t start,
			   const char *text, const char **out, size_t max, int *no_space,
			   int *files);

#endif
