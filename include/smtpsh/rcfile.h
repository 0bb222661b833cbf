/*
 * The rc file ($XDG_CONFIG_HOME/smtpsh/smtpshrc): local commands run at start, like psql's
 * .psqlrc. Only local (backslash) commands belong there: an SMTP command is refused, never
 * sent. Empty lines and lines starting with # are ignored. Problems name the file and line
 * (file:line: ...) and do not stop smtpsh; the following lines still run.
 */
#ifndef SMTPSH_RCFILE_H
#define SMTPSH_RCFILE_H

#include "smtpsh/shell.h"

/* Runs the lines of the rc file at path through sh. A missing file is no error. Returns the
   number of lines that failed (0 when all went well), or -1 when the file cannot be read. */
int rcfile_run(struct shell *sh, const char *path);

#endif
