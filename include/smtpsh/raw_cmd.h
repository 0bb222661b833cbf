/*
 * \raw TEXT: bytes sent exactly as typed, with escapes for the octets a line cannot hold (a row
 * of src/ui/meta.c's table). What a server does with a bare LF, a command in two writes, a
 * NUL or an end of data hidden in a message (SMTP smuggling) can only be tested by sending
 * it; the session does the writing and the engine goes out of step (session_raw).
 */
#ifndef SMTPSH_RAW_CMD_H
#define SMTPSH_RAW_CMD_H

#include "smtpsh/candidates.h"
#include "smtpsh/shell.h"

/* \raw TEXT: decodes \r \n \t \0 \xNN \\ in TEXT and writes the octets, nothing added. */
void raw_cmd(struct shell *sh, int argc, char **argv);
/* Do the octets of TEXT hold an AUTH command (with its secret, or one to follow) as a server
   reads them, or go on with the AUTH line an earlier \raw left unfinished? Such a \raw line
   is kept out of the history. A TEXT that does not decode says yes: it is not sent, and may
   be a mistyped one. */
bool raw_cmd_holds_secret(const struct shell *sh, const char *text);
/* Tab after \raw: the SMTP verbs (a raw write usually starts with one). */
void raw_cmd_complete(struct candidates *c);

#endif
