/*
 * \send and the one-line --send mode: a message composed from options (message.h) and sent
 * through the session as visible steps: MAIL, RCPT for each recipient, DATA, the message, ".".
 */
#ifndef SMTPSH_SEND_H
#define SMTPSH_SEND_H

#include <stdbool.h>
#include <stddef.h>

#include "smtpsh/candidates.h"
#include "smtpsh/shell.h"

/* The options of \send (and of smtpsh --send); the strings are borrowed. */
struct send_opts {
	const char *from;
	const char *subject;
	const char *body;
	const char *body_file;
	const char **to, **cc, **bcc, **attach, **headers;
	size_t nto, ncc, nbcc, nattach, nheaders;
	bool chunking;	    /* --chunking: BDAT instead of DATA (RFC 3030) */
	const char *notify; /* --notify NEVER | SUCCESS,FAILURE,DELAY (RFC 3461, on each RCPT) */
	const char *ret;    /* --ret FULL | HDRS (RFC 3461, on MAIL) */
	const char *envid;  /* --envid ID (RFC 3461, on MAIL, sent as xtext) */
};

/* The names of the options (without "--"), for --help, completion and the parsers. */
extern const char *const send_option_names[];
extern const size_t send_option_count;
/* Does the option (without "--") take no value (--chunking)? */
bool send_option_is_flag(const char *name);

void send_opts_init(struct send_opts *o);
void send_opts_free(struct send_opts *o);

/* Records option name (without "--": "to", "body-file"...) with value (NULL for a flag:
   "chunking"). Returns 0, or -1 with err set (unknown option, given twice when it may be
   given once, a flag given a value or an option none, out of memory). */
int send_opts_add(struct send_opts *o, const char *name, const char *value, char *err,
		  size_t errlen);

/*
 * Sends the message: needs a connection after EHLO and no open transaction. Checks first
 * (nothing is sent when a check fails): SMTPUTF8 for non-ASCII addresses, SIZE against the
 * composed size, CHUNKING for --chunking, DSN for --notify/--ret/--envid (and their syntax);
 * warns when an 8-bit body meets a server without 8BITMIME (the body then goes base64). A
 * refused RCPT leaves the others to go on; a refused MAIL, DATA, or every RCPT refused, stops
 * with RSET. With --chunking the message goes in BDAT chunks (BODY=BINARYMIME for a binary
 * body where offered), else DATA. A file that fails while it is sent abandons the message
 * (the connection is closed so nothing half-written is delivered). With several recipients, or
 * one refused, the result per recipient is shown (summary.h). Returns true when the server
 * accepted the message for every recipient; *partly (when not NULL) says whether it accepted
 * it for some only.
 */
bool send_run(struct shell *sh, const struct send_opts *o, bool *partly);

/* \send --from A --to B [...]: parses argv (--opt VALUE or --opt=VALUE), then send_run. */
void send_cmd(struct shell *sh, int argc, char **argv);
/* Tab after \send: its options; file names after --body-file and --attach. */
void send_complete(struct candidates *c);

/*
 * smtpsh --send: on a connected shell, EHLO (unless --starttls did it), AUTH when mech is
 * not NULL ("auto" picks one; user may be NULL), the message, QUIT. Returns the exit status:
 * 0 only when the message was accepted for every recipient; 1 when a 4xx/5xx refused it (or
 * EHLO, or AUTH), or refused some recipients (a partial result);
 * else the status of the failure (2 local, 3 network, 4 TLS...).
 */
int send_oneshot(struct shell *sh, const struct send_opts *o, const char *ehlo_name,
		 const char *mech, const char *user);

#endif
