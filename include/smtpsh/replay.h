/*
 * --replay FILE: plays the client side of a transcript (its sent lines, DATA content included)
 * against a server through the session, waits for each reply, and reports every reply whose
 * code differs from the recorded one ("!  replay: line N: expected 250, got 550").
 */
#ifndef SMTPSH_REPLAY_H
#define SMTPSH_REPLAY_H

#include <stdbool.h>

#include "smtpsh/shell.h"

struct replay_options {
	const char *path;
	const char *host;     /* from the command line, or NULL: the transcript's header */
	const char *port;     /* from the command line, or NULL */
	const char *user;     /* --replay-user: log in as this user where the secret is redacted */
	const char *password; /* with user: the password (SMTPSH_REPLAY_PASSWORD) */
	bool skip_auth;	      /* --replay-skip-auth: leave every AUTH exchange out */
};

/*
 * Runs the replay with the shell's session and renderer (sh->step pauses before each command).
 * Returns the exit status: 0 every compared reply matched; 1 some differed (or the server took
 * another path: DATA refused or accepted differently, TLS missing where the recording had it);
 * 2 the transcript cannot be read or needs a secret it hides; 3, 4 as for a session (network,
 * TLS); 130 stopped (Ctrl-C, or q at a --step pause).
 */
int replay_run(struct shell *sh, const struct replay_options *o);

#endif
