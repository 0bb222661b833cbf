/*
 * Where smtpsh keeps its files, after the XDG Base Directory specification: the rc file and
 * the profiles in $XDG_CONFIG_HOME/smtpsh (default ~/.config/smtpsh), the history in
 * $XDG_STATE_HOME/smtpsh (default ~/.local/state/smtpsh), cached MTA-STS policies in
 * $XDG_CACHE_HOME/smtpsh (default ~/.cache/smtpsh). A relative XDG_* value is ignored,
 * as the specification says. Functions returning int give 0, or -1 (errno set).
 */
#ifndef SMTPSH_PATHS_H
#define SMTPSH_PATHS_H

#include <stddef.h>

#include "smtpsh/buf.h"

enum paths_kind {
	PATHS_CONFIG, /* $XDG_CONFIG_HOME/smtpsh or ~/.config/smtpsh */
	PATHS_STATE,  /* $XDG_STATE_HOME/smtpsh or ~/.local/state/smtpsh */
	PATHS_CACHE,  /* $XDG_CACHE_HOME/smtpsh or ~/.cache/smtpsh (MTA-STS policies) */
};

/* The path of file name in the directory of kind, into out (reset first). -1 (ENOENT) when
   neither the XDG variable nor a home directory is known. */
int paths_file(enum paths_kind kind, const char *name, struct buf *out);

/* Creates the missing directories above the file path, each with mode 0700. */
int paths_make_parents(const char *path);

/* path with a leading "~/" replaced by the home directory, into out (reset first). */
int paths_expand_home(const char *path, struct buf *out);

/* Reads the whole regular file path into out (reset first); -1 with EFBIG when it is larger
   than max bytes, EINVAL when it is not a regular file. */
int paths_read_file(const char *path, size_t max, struct buf *out);

#endif
