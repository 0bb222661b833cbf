/*
 * The result per recipient of a message: each recipient with the reply to its RCPT and the
 * reply about the message after its content (one for all in SMTP, one each in LMTP), from the
 * engine's list (client_rcpt). Shown after \send, --send and a batch's message with several
 * recipients.
 */
#ifndef SMTPSH_SUMMARY_H
#define SMTPSH_SUMMARY_H

#include <stdbool.h>
#include <stddef.h>

#include "smtpsh/render.h"
#include "smtpsh/session.h"

/* How the recipients of the last transaction fared. */
struct summary_count {
	size_t total;
	size_t accepted;      /* RCPT accepted, and the message too */
	size_t refused_rcpt;  /* RCPT refused (or no reply came) */
	size_t refused_after; /* RCPT accepted, the message refused for it (or no reply came) */
};

struct summary_count summary_count(const struct smtp_session *s);

/* Shows the table: a heading with the counts, then one line per recipient (server text is
   escaped by the renderer). Nothing when there are no recipients. */
void summary_show(struct render *r, const struct smtp_session *s);

#endif
