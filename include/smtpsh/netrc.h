/*
 * ~/.netrc lookup (the format of ftp(1), followed by curl and msmtp), pure: the caller reads
 * the file (and checks its permissions), this parses its text.
 */
#ifndef SMTPSH_NETRC_H
#define SMTPSH_NETRC_H

#include <stdbool.h>
#include <stddef.h>

struct netrc_entry {
	char *login;    /* NULL when the entry has none */
	char *password; /* NULL when the entry has none; a secret */
	bool is_default; /* found through "default", not "machine HOST" */
};

/*
 * Looks up host in text[0..len): the first "machine HOST" entry (host compared without case)
 * whose login is user when user is not NULL (an entry without login fits any user); if none,
 * the first "default" entry on the same terms. Tokens are separated by blanks and line ends;
 * a token may be quoted "..." with backslash escapes (as curl reads it). Keywords: machine,
 * default, login, password, account (skipped), macdef (skipped up to an empty line).
 * Returns 1 and fills *out (release it with netrc_entry_free), 0 when nothing fits, -1 when
 * memory ran out.
 */
int netrc_lookup(const char *text, size_t len, const char *host, const char *user,
		 struct netrc_entry *out);

/* Wipes the password, releases both strings. */
void netrc_entry_free(struct netrc_entry *e);

#endif
