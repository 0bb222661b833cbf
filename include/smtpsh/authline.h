/*
 * "Is this line an AUTH command, and does it carry an initial response (a secret)?" decided in
 * one place, the way a server reads the line. Postfix's smtpd splits a command on any white
 * space (blanks, TABs; leading ones skipped) and compares the verb case-insensitively (RFC 5321
 * 2.4), so "AUTH\tPLAIN <b64>", " AUTH PLAIN <b64>" and "auth  plain  <b64>" all log in. Every
 * part of smtpsh that must hide, guard or follow an AUTH line (session redaction, the shell's
 * plaintext refusal, the REPL's masking while typing, the history, --replay, the practice
 * server's view of what it received) asks these functions, so none can miss a spelling the
 * others catch. Pure: no allocation, no I/O.
 */
#ifndef SMTPSH_AUTHLINE_H
#define SMTPSH_AUTHLINE_H

#include <stdbool.h>
#include <stddef.h>

/* The white space a server splits commands on: blank, TAB, and the rest of C's isspace()
   (Postfix uses ISSPACE); CR and LF never occur inside a line but count as well. */
bool authline_space(char c);

/*
 * The first word of line[0..len) as a server tokenizes it: *off gets where it starts (after
 * leading white space), the return value its length (0 for a blank line).
 */
size_t authline_verb(const char *line, size_t len, size_t *off);

/* An AUTH command split like a server splits it (offsets into the line). */
struct authline {
	size_t mech_off, mech_len; /* the mechanism; mech_len 0 when none is given */
	size_t resp_off, resp_len; /* the initial response (RFC 4954 4): the next word */
	bool has_response;	   /* a word follows the mechanism */
};

/*
 * Is line[0..len) an AUTH command (whatever follows the verb)? Fills *out when out is not
 * NULL. A NUL inside the line counts as an ordinary octet.
 */
bool authline_parse(const char *line, size_t len, struct authline *out);

/* Is line[0..len) an AUTH command with an initial response, that is, with a secret in it? */
bool authline_has_secret(const char *line, size_t len);

/*
 * The display form of an AUTH line that holds a secret: "AUTH <MECH> <redacted>", the
 * mechanism as written (at most 40 octets of it), written to out (NUL-terminated, cut to
 * outlen). Returns true; false (out untouched) when the line holds no secret. Nothing of the
 * response ever reaches out.
 */
bool authline_redact(const char *line, size_t len, char *out, size_t outlen);

/*
 * The guard against a password in clear (sasl_plaintext_allowed): must the command line
 * line[0..len) be refused because it starts an AUTH exchange (with or without an initial
 * response: the answers to the challenges carry the password too) on a connection without
 * TLS to a peer that is not loopback, not allowed by the user? Inside an exchange (in_auth)
 * the line is an answer, and the AUTH line that began it was guarded already.
 */
bool authline_refused_in_clear(const char *line, size_t len, bool in_auth, bool tls,
			       bool peer_loopback, bool allowed_by_user);

/*
 * The same questions for raw bytes (\raw): data[0..len) is split into lines at every LF and
 * every CR (servers differ on a bare CR or LF: the split of any of them is covered; the last
 * line may be unfinished).
 * Does any line carry an AUTH secret? Is any line an AUTH to be refused in clear (the rule of
 * authline_refused_in_clear, outside an exchange: smtpsh cannot know where raw bytes fall)?
 */
bool authline_raw_has_secret(const char *data, size_t len);
bool authline_raw_refused_in_clear(const char *data, size_t len, bool tls, bool peer_loopback,
				   bool allowed_by_user);

#endif
