/*
 * The --serve teacher view's diagnosis: the classic mistakes of a hand-written SMTP client,
 * named beside the line where they happen. Pure: fed with what the practice server's events
 * say (the client's lines, the server's replies and notes, the TLS handshake, the end of the
 * connection), never with I/O; src/practice/server.c prints what it returns. Secrets never
 * come here: AUTH answers arrive already redacted, and the server's notes say only why a
 * login failed.
 */
#ifndef SMTPSH_DIAGNOSE_H
#define SMTPSH_DIAGNOSE_H

#include <stdbool.h>
#include <stddef.h>

#define DIAG_NOTES_MAX 3
#define DIAG_NOTE_LEN 240

/* What a step found: notes to print beside the line, each a whole sentence. */
struct diag_notes {
	char text[DIAG_NOTES_MAX][DIAG_NOTE_LEN];
	size_t n;
};

/* How a line from the client ended (the practice server's smtpd_line_end, and its close). */
enum diag_line_end {
	DIAG_END_CRLF,	 /* as it should */
	DIAG_END_LF,	 /* a bare LF */
	DIAG_END_NONE,	 /* the connection closed before the line ended */
	DIAG_END_OCTETS, /* not a line (a BDAT chunk's octets) */
};

/* One connection's diagnosis. */
struct diag {
	bool greeted;	       /* EHLO/HELO/LHLO in this session */
	bool need_ehlo;	       /* TLS started, no EHLO since (RFC 3207 4.2) */
	bool tls;	       /* the session is under TLS */
	bool starttls_offered; /* the last EHLO reply listed STARTTLS ... */
	bool auth_offered;     /* ... and AUTH */
	bool data_pending;     /* DATA sent, its reply not yet seen */
	bool in_data;	       /* after 354: message lines until the "." */
	bool end_pending;      /* "." or BDAT LAST sent: the next final reply says stored or not */
	bool told_lf, told_cr, told_greeting, told_no_ehlo, told_auth_plain;
	char last_line[48]; /* the last message line (a forgotten "."), cut */
	size_t last_len;
	unsigned long commands;	 /* command lines (not message lines, not SASL answers) */
	unsigned long delivered; /* messages the server took (2xx after the data) */
	unsigned long failed;	 /* messages refused after the data, or cut off inside it */
	unsigned long mistakes;	 /* mistakes named */
};

void diag_init(struct diag *d);

/* The TLS handshake completed: the session starts over (RFC 3207 4.2). */
void diag_tls(struct diag *d);

/* A command line of the client (an AUTH answer as "<redacted>"; secret says it is one). */
void diag_command(struct diag *d, const char *line, size_t len, bool secret,
		  struct diag_notes *out);

/* A line of message content (between 354 and "."). */
void diag_message_line(struct diag *d, const char *line, size_t len);

/* How a line of the client ended: [LF], [CR] (a CR inside it), [no CRLF]. The explanation
   comes once per connection (and counts as one mistake); the mark is returned every time,
   "" when the line is fine. */
const char *diag_line_end(struct diag *d, const char *line, size_t len, enum diag_line_end end,
			  struct diag_notes *out);

/* A reply line of the server (without CRLF). */
void diag_reply(struct diag *d, const char *line, size_t len);

/* A note of the server ("PLAIN login failed: ...", "... not valid base64"). */
void diag_server_note(struct diag *d, const char *text, size_t len, struct diag_notes *out);

/* The connection ended (closed by either side, or timed out). */
void diag_end(struct diag *d, struct diag_notes *out);

#endif
