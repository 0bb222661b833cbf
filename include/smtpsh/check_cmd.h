/*
 * \check in the shell (a row of src/ui/meta.c's table): the --check battery (check.h) against
 * the server of the current (or last) connection, each check on a connection of its own; the
 * shell's own connection is left as it is.
 */
#ifndef SMTPSH_CHECK_CMD_H
#define SMTPSH_CHECK_CMD_H

#include "smtpsh/candidates.h"
#include "smtpsh/shell.h"

/* \check [--role mx|submission] [--check-rcpt ADDRESS] */
void check_cmd(struct shell *sh, int argc, char **argv);
/* Tab after \check: its options. */
void check_cmd_complete(struct candidates *c);

#endif
