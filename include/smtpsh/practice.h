/*
 * smtpsh --practice and --serve: the practice server seen from the shell.
 *   --practice: practice_start() runs the server in a child process (before any Readline
 *   state exists) on a free loopback port; the shell connects to it and trusts its CA; \inbox
 *   and \practice talk to it (those commands and the banner are the shell's, practice_cmd.h);
 *   practice_stop() ends it (it also ends by itself when the shell goes away: the control
 *   channel closes, and PR_SET_PDEATHSIG covers a killed shell).
 *   --serve: practice_serve() runs the server in the foreground until Ctrl-C.
 */
#ifndef SMTPSH_PRACTICE_H
#define SMTPSH_PRACTICE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "smtpsh/buf.h"
#include "smtpsh/practice_server.h"

struct practice {
	struct practice_env env;
	pid_t pid;	  /* the server's process */
	int control;	  /* our end of the control channel, -1 once closed */
	char port[8];	  /* the port, as text, for session_connect */
	const char *like; /* --like PROVIDER at start, or NULL */
};

/*
 * Starts the practice server in a child process. Returns it, or NULL with a reason in err.
 * Call before Readline is initialised and before files are opened that the child must not
 * hold; stdout and stderr are flushed first.
 */
struct practice *practice_start(const struct practice_options *o, char *err, size_t errlen);

/*
 * Sends one control line ("show", "greylist on"...) and reads the answer into reply (its
 * lines joined by "\n"). Returns 0 when the server said ok, 1 when it said error, -1 when
 * it cannot be reached (reply says why).
 */
int practice_control(struct practice *p, const char *line, struct buf *reply);

/* Ends the server (it says 421 to its clients), waits for it, removes its folder. */
void practice_stop(struct practice *p);

/* smtpsh --serve: runs until Ctrl-C (or "quit" typed); returns the exit status (exit.h). */
int practice_serve(const struct practice_options *o);

#endif
