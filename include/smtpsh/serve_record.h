/*
 * smtpsh --serve --record DIR: one server-side transcript per connection (transcripts/
 * FORMAT.md, "Server-side transcripts"), written with the client's own transcript writer
 * (src/transcript/writer.c): "->" what the client sent (as received), "<-" what the server
 * answered, "*" the teacher view's notes, AUTH answers "<redacted>" (the practice server's
 * events never hold them), every message line.
 */
#ifndef SMTPSH_SERVE_RECORD_H
#define SMTPSH_SERVE_RECORD_H

#include <stdbool.h>
#include <stddef.h>

#include "smtpsh/smtpd.h"

struct serve_record;

/*
 * Starts DIR/<date>-<id>-<peer addr>.transcript (mode 0600, never through a link) for the
 * connection id from peer_addr peer_port to local_addr local_port; implicit: TLS from the
 * first byte. Returns the recording, or NULL with a reason in err.
 */
struct serve_record *serve_record_open(const char *dir, unsigned id, const char *local_addr,
				       unsigned local_port, const char *peer_addr,
				       unsigned peer_port, bool implicit, char *err, size_t errlen);

/* An event of the practice server, written as the client's writer writes its own. */
void serve_record_event(struct serve_record *r, const struct smtpd_event *ev);

/* A note of the teacher view ("mistake: ...", "bare LF at the end of this line"). */
void serve_record_note(struct serve_record *r, const char *text);

/* The path written to. */
const char *serve_record_path(const struct serve_record *r);

/* Ends the transcript ("*  text" last when text is not NULL) and frees r (NULL: nothing). */
void serve_record_close(struct serve_record *r, const char *text);

#endif
