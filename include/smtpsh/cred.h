/*
 * Where \auth and --send --auth get a user name, a password or an OAuth2 token: a command
 * (--password-command, --oauth-token-command), ~/.netrc, or a question on the terminal
 * (/dev/tty, without echo for secrets). The environment (SMTPSH_PASSWORD, SMTPSH_OAUTH_TOKEN)
 * is read by the caller with getenv(). Strings returned here that may hold a secret are
 * released with str_free_secret() (buf.h), which wipes them.
 */
#ifndef SMTPSH_CRED_H
#define SMTPSH_CRED_H

#include <stdbool.h>
#include <stddef.h>

#include "smtpsh/buf.h" /* str_free_secret, for what these functions return */
#include "smtpsh/netrc.h"

enum cred_status {
	CRED_OK,
	CRED_NONE,        /* this source has nothing (no ~/.netrc, no entry for the host) */
	CRED_ERROR,       /* the source failed; err says why */
	CRED_INTERRUPTED, /* Ctrl-C at the question (the terminal is restored) */
};

/* Runs cmd with /bin/sh -c (standard input and error inherited); *out gets the first line of
   its standard output. CRED_ERROR when it fails (exit status not 0), prints no line, a first
   line over 8191 octets or holding a NUL (refused, never cut), or has not ended within
   timeout_ms (it is then killed with SIGKILL). */
enum cred_status cred_from_command(const char *cmd, int timeout_ms, char **out, char *err,
				   size_t errlen);

/* Looks host (and user, when not NULL) up in $HOME/.netrc. CRED_NONE: no file, or no entry;
   CRED_ERROR: not a regular file (a FIFO is refused without blocking); the file is not private
   (group or others may access it, or another user owns it): refused, as ftp(1) and msmtp do; or it
   cannot be read. */
enum cred_status cred_from_netrc(const char *host, const char *user, struct netrc_entry *out,
				 char *err, size_t errlen);

/* Asks prompt on the terminal and reads one line (echo off when secret; restored afterwards
   and on Ctrl-C). CRED_ERROR when there is no terminal (batch mode without one). */
enum cred_status cred_prompt(const char *prompt, bool secret, char **out, char *err,
			     size_t errlen);

/*
 * The passphrase of an encrypted client key (a tls_passphrase_fn, tlsctl.h): the first line of
 * command (run as cred_from_command, within *(int *)arg milliseconds), or without a command
 * asked on the terminal without echo. Never from the AUTH password's sources (the variables,
 * ~/.netrc, --password-command): a key is not a mailbox. Returns the length written to buf, or
 * -1 with one line in err.
 */
int cred_key_passphrase(const char *keyfile, const char *command, char *buf, size_t size, char *err,
			size_t errlen, void *arg);

#endif
