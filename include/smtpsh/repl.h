/* The interactive loop (Readline's callback interface + poll()) and batch mode. */
#ifndef SMTPSH_REPL_H
#define SMTPSH_REPL_H

#include <stdio.h>

#include "smtpsh/shell.h"

/* Runs the interactive shell on the terminal until \quit or Ctrl-D; returns the exit status. */
int repl_run(struct shell *sh);

/* Runs the lines of in through the same shell; returns the exit status. */
int batch_run(struct shell *sh, FILE *in);

#endif
