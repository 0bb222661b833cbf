/*
 * What happens in a session, as events: the client engine (smtp/client.c) reports the replies
 * it reads and the commands it tracks, the session (session.c) adds what its I/O does
 * (connected, TLS, closed), and the listeners (the screen renderer, the transcript writer)
 * hear one stream. A plain struct below the session, so that the engine reports through it
 * without seeing the session, and the writer reads it without the session's functions.
 */
#ifndef SMTPSH_EVENT_H
#define SMTPSH_EVENT_H

#include <stdbool.h>
#include <stddef.h>

#include "smtpsh/proto.h"

enum session_event_type {
	SEV_SENT,     /* a line sent (text without CRLF) */
	SEV_RECEIVED, /* a reply line received (text without CRLF, raw bytes: escape it) */
	SEV_INFO,     /* a local event ("connected to ..."), text is ours */
	SEV_TLS,      /* TLS established: text is the summary */
	SEV_WARNING,
	SEV_ERROR,
	SEV_CLOSED, /* the connection ended: text says how */
};

struct session_event {
	enum session_event_type type;
	const char *text; /* not NUL-terminated for SENT/RECEIVED; use len */
	size_t len;
	bool tls;	  /* the channel was encrypted when this happened */
	bool verified;	  /* with tls: the certificate was verified */
	int code;	  /* SEV_RECEIVED: the reply code, or 0 for a malformed line */
	bool last;	  /* SEV_RECEIVED: the last line of its reply */
	bool body;	  /* SEV_SENT: a line of message content (inside DATA) */
	bool bare_lf;	  /* SEV_RECEIVED: the line ended with LF alone */
	bool unsolicited; /* SEV_RECEIVED: no command was waiting for this reply */
	/*
	 * Milliseconds, or -1 when not measured: SEV_RECEIVED since its command was written (the
	 * greeting: since the connection was ready); the SEV_INFO "connected" event: the TCP
	 * connect time; SEV_TLS: the handshake time.
	 */
	long elapsed_ms;
	/* SEV_RECEIVED: the verb of the command this reply answers ("EHLO", "AUTH", "MAIL", "."
	   for the end of DATA, "greeting"), or NULL (unsolicited, or a verb smtpsh does not
	   know). */
	const char *verb;
	/* SEV_RECEIVED: that command as shown (a secret is always masked here), or NULL. */
	const char *command;
	/* SEV_SENT and SEV_RECEIVED of a pipelined group (session_pipeline): the command's
	   position 1..pipe_total; 0 outside a group. */
	unsigned pipe_index, pipe_total;
	/* SEV_SENT: the line holds a secret (an AUTH response); text is what the user chose to see
	   (masked unless \set reveal-secrets), redacted is always the masked form: what may be
	   written to a file. */
	bool secret;
	const char *redacted;
	/* SEV_RECEIVED in LMTP (RFC 2033 4.2): the reply to the end of DATA for one recipient,
	   the rcpt_index-th of rcpt_total accepted: its address as given to RCPT (without <>);
	   NULL else. A transcript records it as rcpt:ADDR (format version 2). */
	const char *rcpt;
	unsigned rcpt_index, rcpt_total;
	/* SEV_SENT body line past the screen's limit (body_echo_max): for a transcript, not the
	   screen. */
	bool quiet;
	/* SEV_SENT: bytes written exactly as given (\raw): no CRLF was added, text may hold CR,
	   LF and NUL (escape it), and the reply cannot be paired with it. With secret, redacted
	   holds redacted_len bytes (it may hold NUL too). */
	bool raw;
	size_t redacted_len;
	size_t octets; /* SEV_SENT raw or chunk: the octets written (text may be redacted) */
	/* SEV_SENT: octets of a BDAT chunk (RFC 3030), sent exactly as given, like raw (the
	   "BDAT n [LAST]" command line is an ordinary SEV_SENT before them). A chunk may be
	   reported in several events (a transcript writes each as a line); chunk_omitted > 0:
	   that many octets of the chunk are not reported (a big chunk), text is empty. */
	bool chunk;
	unsigned long long chunk_omitted;
	/* SEV_SENT body line of a BDAT chunk as the screen shows it (the first body_echo_max
	   lines, CRLF cut): the same octets come as quiet chunk events, exact, which a
	   transcript records instead; a transcript skips this one. */
	bool screen_only;
	/* SEV_SENT: AUTH LOGIN's answer to a 334 that asks for the user name: that name,
	   decoded (raw octets: escape them), for the screen alike whether it was typed by hand
	   or sent by \auth; NULL else. The line stays secret for files (redacted). */
	const char *login_user;
	/* Every event: the connection it belongs to, as session_connect() was asked (host NULL
	   before the first one; the last one's after it ended), and whether it is open. A
	   transcript's header names them: the writer learns them here, not from the session. */
	const char *host;
	const char *port;
	enum tls_mode mode;
	bool connected;
	bool lmtp; /* every event: the session speaks LMTP (a transcript's header says so) */
};

#endif
