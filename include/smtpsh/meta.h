/*
 * The local (backslash) commands: one table drives dispatch, \help and Tab completion.
 */
#ifndef SMTPSH_META_H
#define SMTPSH_META_H

#include <stdbool.h>
#include <stddef.h>

#include "smtpsh/shell.h"

enum meta_complete {
	META_COMPLETE_NONE,
	META_COMPLETE_FILE,    /* file names */
	META_COMPLETE_HELP,    /* SMTP verbs and local commands */
	META_COMPLETE_CONNECT, /* host, then port, then --tls/--starttls/--plain */
	META_COMPLETE_SET,     /* a setting's name, then on/off */
	META_COMPLETE_AUTH,    /* a mechanism (those advertised that \auth knows) */
	META_COMPLETE_SEND,    /* the options of \send, file names after --body-file/--attach */
	META_COMPLETE_PRACTICE, /* a practice server setting's name, then its values */
};

struct meta_command {
	const char *name; /* without the backslash */
	const char *args;
	const char *help;
	void (*run)(struct shell *sh, int argc, char **argv);
	enum meta_complete complete;
	bool in_data; /* a local command inside DATA too (others are message content there) */
	bool secret_args; /* the line may hold a secret: kept out of the history, wiped */
	bool raw_args;    /* argv[1] is the rest of the line as typed (no word splitting) */
};

extern const struct meta_command meta_commands[];
extern const size_t meta_command_count;

/* The command named name (without backslash, exact), or NULL. */
const struct meta_command *meta_find(const char *name);

/* Splits a line after its backslash into words (quotes '...' "..." group), runs the command.
   Returns false when line names no local command. */
bool meta_run(struct shell *sh, const char *line);

/* The table as the shell dispatches it (meta_run, and each command's secret_args). */
extern const struct shell_local_commands meta_local_commands;

/* The names of the \set settings; returns how many were put in out. */
size_t meta_setting_names(const char **out, size_t max);

/* \help [TOPIC] */
void meta_help(struct shell *sh, const char *topic);

#endif
