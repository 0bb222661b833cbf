/*
 * smtpsh --serve --script FILE: a transcript's server side turned into the steps the practice
 * server plays (struct smtpd_script in smtpd.h). Building is pure (entries in, steps out);
 * smtpd_script_load() reads a file with the transcript reader.
 */
#ifndef SMTPSH_PRACTICE_SCRIPT_H
#define SMTPSH_PRACTICE_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>

#include "smtpsh/smtpd.h"
#include "smtpsh/transcript.h"

#define SMTPD_SCRIPT_STEPS_MAX 100000 /* client lines in one script */
#define SMTPD_SCRIPT_REPLIES_MAX 1000 /* reply lines after one client line */

#define SMTPD_SCRIPT_PARTIAL_MAX 1024 /* of a raw line left unfinished, kept to compare */

struct script_builder {
	bool in_data; /* after a 354 to DATA: sent lines are message content until "." */
	/* Version 2 raw writes (and BDAT chunks) are octets, not lines: the server reads them
	   as lines split at LF, so each becomes as many steps as it ends lines; an unfinished
	   last line waits here for what the next write adds (only its first octets are kept:
	   they are compared, never sent). */
	char partial[SMTPD_SCRIPT_PARTIAL_MAX];
	size_t plen;
	bool has_partial;
};

void smtpd_script_init(struct smtpd_script *s);
void smtpd_script_free(struct smtpd_script *s);

/* Adds one transcript entry (sent and received lines count; comments and local events do
   not). Returns 0, or -1 when memory ran out or the script is too long. */
int smtpd_script_add(struct smtpd_script *s, struct script_builder *b,
		     const struct transcript_entry *e);

/* After the last entry: a pipelined group's replies go one per command. 0, or -1 (memory). */
int smtpd_script_finish(struct smtpd_script *s);

/* Reads the first connection of a transcript file. Returns 0, or -1 with a reason in err. */
int smtpd_script_load(struct smtpd_script *s, const char *path, char *err, size_t errlen);

#endif
