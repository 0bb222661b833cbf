/*
 * The profiles file on disk and how profiles are shown (\presets, the line printed before a
 * profile connects). The format and the presets themselves are in profile.h.
 */
#ifndef SMTPSH_PROFILES_H
#define SMTPSH_PROFILES_H

#include "smtpsh/buf.h"
#include "smtpsh/profile.h"

#define PROFILES_FILE_MAX (1024 * 1024)

/*
 * Reads and parses the profiles file at path into set (empty). A missing file gives an empty
 * set. Returns 0, or -1 with err holding "PATH:LINE: what is wrong" (or why the file cannot
 * be read).
 */
int profiles_load(struct profile_set *set, const char *path, struct buf *err);

/* One line about p: "smtp.gmail.com port 587, STARTTLS" (plus user and mechanism if set). */
void profiles_summary(const struct profile *p, struct buf *out);

/* The presets and the user's profiles (from path), for \presets. */
void profiles_describe(const struct profile_set *set, const char *path, struct buf *out);

#endif
