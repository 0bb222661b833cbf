/*
 * A Maildir (tmp/, new/, cur/) for the practice server: messages are written into tmp/ under
 * a unique name (seconds.MmicrosecondsPpidQcountRid.host) and renamed into new/ when
 * complete, so a reader never sees half a message. Lines end in LF, as Postfix's virtual(8)
 * stores them; the file is the message as the client sent it after dot-unstuffing, with
 * Return-Path, Envelope-To and Received prepended.
 */
#ifndef SMTPSH_MAILDIR_H
#define SMTPSH_MAILDIR_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "smtpsh/smtpd.h"

/* Creates dir (when missing) and its tmp/, new/, cur/. 0, or -1 with a reason in err. */
int maildir_create(const char *dir, char *err, size_t errlen);

/* Fills store with callbacks writing into dir (which must outlive the store). */
void maildir_store(struct smtpd_store *store, const char *dir);

/* One message of a Maildir, for \inbox. */
struct maildir_entry {
	char path[4096];
	off_t size;
	time_t when;	   /* from the unique name (or the file's mtime) */
	char from[256];	   /* Return-Path, without <> */
	char to[256];	   /* Envelope-To (several addresses joined by ", ") */
	char subject[256]; /* Subject (unfolded), "" when absent */
};

/*
 * The messages of dir's new/ and cur/ in the order they arrived (by unique name).
 * Returns how many (*out is malloc'ed, free it), or -1 with a reason in err.
 */
int maildir_list(const char *dir, struct maildir_entry **out, char *err, size_t errlen);

#endif
