/* \auth and --send --auth: the whole AUTH exchange (RFC 4954) with a mechanism of sasl.h. */
#ifndef SMTPSH_AUTH_H
#define SMTPSH_AUTH_H

#include <stdbool.h>

#include "smtpsh/candidates.h"
#include "smtpsh/shell.h"

/*
 * Logs in on the session of sh. mech NULL: the profile's (sh->default_mech), else the best
 * one the EHLO reply advertised (sasl_choose); user NULL: the profile's (sh->default_user),
 * else the login of ~/.netrc for the host, else asked on the terminal.
 * The secret comes from --password-command, SMTPSH_PASSWORD, ~/.netrc or the terminal
 * (--oauth-token-command, SMTPSH_OAUTH_TOKEN or the terminal for XOAUTH2). Every step goes
 * through session_command and is shown, the secrets as <redacted> (unless reveal-secrets).
 * Refuses plaintext off loopback like typed AUTH. Errors are rendered and recorded in the
 * shell's status. Returns true when the server answered 235.
 */
bool auth_run(struct shell *sh, const char *mech, const char *user);

/* The local commands (see meta_commands[]): \auth [MECH] [USER], \b64 TEXT, \unb64 BASE64.
   \b64 understands \0 (NUL) \t \n \r \\ \xNN in TEXT; \unb64 shows the octets escaped. */
void auth_cmd(struct shell *sh, int argc, char **argv);
void auth_cmd_b64(struct shell *sh, int argc, char **argv);
void auth_cmd_unb64(struct shell *sh, int argc, char **argv);

/* Tab after \auth: the mechanisms \auth knows, those advertised when EHLO told. */
void auth_complete(struct candidates *c);

#endif
