/*
 * The local (backslash) commands: one table drives dispatch, \help and Tab completion, as
 * redis-cli's helpEntries do. Each row names its handler, its help and its completer, and
 * says by flags where it may run; no second list of command names exists anywhere.
 */
#ifndef SMTPSH_META_H
#define SMTPSH_META_H

#include <stdbool.h>
#include <stddef.h>

#include "smtpsh/candidates.h"
#include "smtpsh/shell.h"

struct meta_command {
	const char *name; /* without the backslash */
	void (*run)(struct shell *sh, int argc, char **argv);
	const char *args;
	const char *help;
	/* Offers what may follow the words typed (c->nwords >= 1, the command among them);
	   NULL: nothing to offer. */
	void (*complete)(struct candidates *c);
	unsigned flags; /* enum shell_local_flag: LOCAL_IN_DATA, LOCAL_SECRET_ARGS... */
	/* Do these arguments (the rest of the line after the name and its blanks) hold a
	   secret? NULL: only LOCAL_SECRET_ARGS says so. */
	bool (*holds_secret)(const struct shell *sh, const char *args);
};

extern const struct meta_command meta_commands[];
extern const size_t meta_command_count;

/* The command named name (without backslash, exact), or NULL. */
const struct meta_command *meta_find(const char *name);

/* Splits a line after its backslash into words (quotes '...' "..." group), runs the command.
   Returns false when line names no local command. */
bool meta_run(struct shell *sh, const char *line);

/* The table as the shell dispatches it (meta_run, and each command's flags). */
extern const struct shell_local_commands meta_local_commands;

/* Offers the local commands whose name (with its backslash) starts with c->text: those that
   work inside DATA when the session is in DATA, the others outside it. */
void meta_candidates(struct candidates *c);

/* \help [TOPIC] */
void meta_help(struct shell *sh, const char *topic);

#endif
