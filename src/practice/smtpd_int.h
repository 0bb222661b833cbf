/* Inside the practice server's state machine: shared by smtpd.c and smtpd_auth.c only. */
#ifndef SMTPSH_SMTPD_INT_H
#define SMTPSH_SMTPD_INT_H

#include "smtpsh/smtpd.h"

/* Queues one reply line (text without CRLF), reports it, counts 4xx/5xx as errors. */
void smtpd_say(struct smtpd_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reports a note of the server (not sent to the client). */
void smtpd_note(struct smtpd_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The one door for state changes. */
void smtpd_set_state(struct smtpd_conn *c, enum smtpd_state s);
/* Is AUTH offered on this connection now (under TLS, or plain-auth on)? */
bool smtpd_auth_offered(const struct smtpd_conn *c);

/* AUTH command (args after "AUTH ", NUL-terminated, may be modified). */
void smtpd_auth_command(struct smtpd_conn *c, char *args);
/* A line received inside an AUTH exchange. */
void smtpd_auth_response(struct smtpd_conn *c, char *line);
/* Forgets the exchange in progress, wiping what it held. */
void smtpd_auth_reset(struct smtpd_conn *c);

#endif
