/*
 * The shell's side of smtpsh --practice: the banner shown at start and the local commands
 * \inbox and \practice (rows of src/ui/meta.c's table). They talk to the server through
 * practice.h; the server knows nothing of the shell.
 */
#ifndef SMTPSH_PRACTICE_CMD_H
#define SMTPSH_PRACTICE_CMD_H

#include "smtpsh/candidates.h"
#include "smtpsh/practice.h"
#include "smtpsh/render.h"
#include "smtpsh/shell.h"

/* The lines shown at start: port, login, CA, Maildir, what to try. */
void practice_banner(const struct practice *p, struct render *r);

/* \inbox [N]: lists the Maildir of the practice server, or shows message N as stored. */
void practice_cmd_inbox(struct shell *sh, int argc, char **argv);
/* \practice [NAME VALUE...]: shows the server's settings, or changes them. */
void practice_cmd_practice(struct shell *sh, int argc, char **argv);
/* Tab after \practice: a setting's name, then its values. */
void practice_cmd_complete(struct candidates *c);

#endif
