/*
 * BDAT by hand (RFC 3030): \bdat counts a chunk's octets for the user; a typed "BDAT n [LAST]"
 * is followed by exactly n octets of typed lines, each counting its octets plus CRLF (the
 * shell decides what a line is: shell_chunk_line). The session writes the chunks.
 */
#ifndef SMTPSH_BDAT_H
#define SMTPSH_BDAT_H

#include <stdbool.h>
#include <stddef.h>

#include "smtpsh/candidates.h"
#include "smtpsh/shell.h"

/* \bdat [--last] TEXT | \bdat --file PATH [--last] (argv[1]: the rest of the line). */
void bdat_cmd(struct shell *sh, int argc, char **argv);
/* Tab after \bdat: --last, --file, file names after --file. */
void bdat_complete(struct candidates *c);

#endif
