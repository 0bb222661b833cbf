/*
 * The OAuth2 token store: one refresh token per account, in $XDG_STATE_HOME/smtpsh/oauth/
 * (default ~/.local/state/smtpsh/oauth/). The access token never comes here: it lives in
 * memory and is got again from the refresh token when it expires.
 *
 * The rules (docs/SECURITY.md): the directory is 0700 and ours (a wider mode is narrowed, a
 * symbolic link or another user's directory refused); every file is opened with O_NOFOLLOW
 * relative to the directory, so a link planted in it is refused, never followed; a token file
 * that group or others may read is refused (like ~/.netrc); a file is written as a temporary
 * file (0600, O_EXCL) fsynced and renamed into place, so a reader sees the old token or the
 * new one, never half of one; and the store's lock (flock on its ".lock" file) is held by the
 * caller from reading the refresh token through the refresh to saving the rotated one, so two
 * shells refreshing at once never lose a rotated token. Nothing prints.
 */
#ifndef SMTPSH_OAUTH_STORE_H
#define SMTPSH_OAUTH_STORE_H

#include "smtpsh/buf.h"

/* What is kept for one account. Strings are owned (oauth_stored_free wipes the token). */
struct oauth_stored {
	char *account;	     /* whom the token is for (the user, as the provider names it) */
	char *refresh_token; /* the secret */
	char *scope;	     /* the scopes granted ("" when the provider did not say) */
	long long stored;    /* when it was written (seconds since the epoch) */
};

void oauth_stored_free(struct oauth_stored *t);

/* A token file larger than this is not ours: refused. */
#define OAUTH_STORE_MAX 65536

struct oauth_store;

/*
 * Opens the store's directory (created with its parents, mode 0700, when missing): dir, or
 * when NULL the default above. NULL with one line in err: no home directory, a symbolic link
 * or not a directory, owned by another user, cannot be created.
 */
struct oauth_store *oauth_store_open(const char *dir, struct buf *err);
void oauth_store_close(struct oauth_store *st);
/* The directory's path (for messages). */
const char *oauth_store_dir(const struct oauth_store *st);

/*
 * Takes the store's exclusive lock, waiting at most timeout_ms for another smtpsh to drop it.
 * Returns 0, or -1 with err ("another smtpsh holds the token store's lock").
 * oauth_store_unlock drops it (also done by oauth_store_close).
 */
int oauth_store_lock(struct oauth_store *st, int timeout_ms, struct buf *err);
void oauth_store_unlock(struct oauth_store *st);

/*
 * The file name of key's token: key with every octet outside [A-Za-z0-9@._+-] (and a leading
 * '.') written %XX, then ".json"; -1 for an empty key or one over 200 octets.
 */
int oauth_store_file_name(const char *key, struct buf *out);

/*
 * Reads key's token into out. Returns 1, 0 when there is none, or -1 with err: a link, not a
 * regular file, another user's file, readable by group or others ("chmod 600 PATH"), too
 * large, not a token file (not JSON, no refresh_token).
 */
int oauth_store_load(struct oauth_store *st, const char *key, struct oauth_stored *out,
		     struct buf *err);

/* Writes key's token atomically (temporary file, fsync, rename, fsync of the directory).
   Returns 0, or -1 with err (nothing replaced). */
int oauth_store_save(struct oauth_store *st, const char *key, const struct oauth_stored *t,
		     struct buf *err);

/* Deletes key's token. Returns 1 when it was there, 0 when not, -1 with err. */
int oauth_store_remove(struct oauth_store *st, const char *key, struct buf *err);

#endif
