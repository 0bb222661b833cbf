/*
 * The words of the SMTP conversation that several layers share: where a conversation stands
 * (the phase), how a connection does TLS and which address family it uses. Plain types, no
 * functions and no other header, so that the verb table, the profile parser, the session and the
 * shell agree on them without depending on each other (the profile parser need not see OpenSSL to
 * name a TLS mode).
 */
#ifndef SMTPSH_PROTO_H
#define SMTPSH_PROTO_H

/* Where the client's side of a conversation stands (RFC 5321 3.3 and 4.1.4). */
enum smtp_phase {
	PHASE_DISCONNECTED, /* never connected, or closed by \disconnect */
	PHASE_GREETING,	    /* connected, waiting for the server's greeting */
	PHASE_GREETED,	    /* greeting received (or after STARTTLS): HELO/EHLO next */
	PHASE_READY,	    /* after HELO/EHLO, no transaction */
	PHASE_MAIL,	    /* MAIL accepted */
	PHASE_RCPT,	    /* at least one RCPT accepted */
	PHASE_BDAT,	    /* BDAT chunks accepted, the LAST one not yet (RFC 3030) */
	PHASE_DATA,	    /* after 354: message content until the lone "." */
	PHASE_CLOSED,	    /* the connection ended (QUIT, the server closed, an error) */
};

/* How a connection does TLS. */
enum tls_mode {
	TLS_NONE,     /* plaintext unless the user types STARTTLS */
	TLS_IMPLICIT, /* TLS from the first byte (port 465, RFC 8314) */
	/* EHLO, STARTTLS, handshake, EHLO right after the greeting; never plaintext */
	TLS_STARTTLS,
};

/* Which address family a connection may use (-4 / -6 on the command line). */
enum conn_family {
	CONN_ANY,
	CONN_V4,
	CONN_V6,
};

#endif
