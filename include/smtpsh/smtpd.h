/*
 * The practice server's SMTP state machine (RFC 5321 with PIPELINING, SIZE, 8BITMIME,
 * BINARYMIME and CHUNKING, DSN, SMTPUTF8, ENHANCEDSTATUSCODES, STARTTLS, AUTH; or LMTP,
 * RFC 2033, as a mode): bytes from the client in, reply lines out, no I/O.
 * The caller (src/practice/server.c, or a unit test) reads the socket, feeds the bytes with
 * smtpd_feed(), calls smtpd_step() to handle one line at a time, and writes what smtpd_out()
 * holds. A message is handed to the store callbacks as it arrives (never held in memory), so
 * memory stays bounded whatever the client sends: SMTPD_IN_MAX bytes of input at most,
 * SMTPD_RCPT_MAX recipients, lines capped (512 octets for commands, 1000 for message lines,
 * 12288 for AUTH). A BDAT chunk is not a line: its octets are counted, not scanned, so a
 * chunk may hold any octet and what follows it in the same read is the next command.
 */
#ifndef SMTPSH_SMTPD_H
#define SMTPSH_SMTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "smtpsh/buf.h"
#include "smtpsh/practice_settings.h"

struct oauthd_hooks;

#define SMTPD_IN_MAX (16 * 1024) /* input bytes held; feed no more than smtpd_room() */
#define SMTPD_CMD_MAX 512	 /* a command line, CRLF included (RFC 5321 4.5.3.1.4) */
#define SMTPD_TEXT_MAX 1000	 /* a message line, CRLF included (RFC 5321 4.5.3.1.6) */
#define SMTPD_AUTH_MAX 12288	 /* an AUTH line or SASL response (RFC 4954 section 4) */
#define SMTPD_PATH_MAX 256	 /* a path, brackets included (RFC 5321 4.5.3.1.3) */
#define SMTPD_RCPT_MAX 100	 /* recipients of one message (RFC 5321 4.5.3.1.8) */
#define SMTPD_ERRORS_MAX 100	 /* error replies before "421 too many errors" */
#define SMTPD_GREYLIST_SLOTS 512 /* triplets remembered (the oldest is forgotten) */
#define SMTPD_ENVID_MAX 100	 /* an ENVID, xtext-encoded (RFC 3461 4.4) */
#define SMTPD_DSN_MAX 600	 /* a recipient's NOTIFY= and ORCPT= as shown in its header */

/* What the I/O layer does after smtpd_step(). */
enum smtpd_action {
	SMTPD_NEED_MORE, /* no complete line is buffered: read more */
	SMTPD_NO_REPLY,	 /* a line was handled without a reply (message content): step again */
	SMTPD_REPLY,	 /* reply lines were added to the output: send them, then step again */
	SMTPD_STARTTLS,	 /* send the output (the 220), then run the TLS handshake and call
			    smtpd_tls_started(); read nothing in plaintext meanwhile */
	SMTPD_CLOSE,	 /* send the output, then close (after QUIT, a 421) */
	SMTPD_DROP,	 /* close now, without a reply to this line (drop-after fault) */
};

/* One line of the conversation, reported as it happens (for --serve's screen, the log). */
enum smtpd_event_type {
	SMTPD_EV_RECEIVED, /* a line from the client (text without its line end; raw bytes) */
	SMTPD_EV_SENT,	   /* a reply line (without CRLF) */
	SMTPD_EV_INFO,	   /* a note of the server ("message stored as ...") */
};

/* How a RECEIVED line ended (for the teacher view's line-end marks). */
enum smtpd_line_end {
	SMTPD_END_CRLF,	  /* CRLF, as RFC 5321 2.3.8 wants */
	SMTPD_END_LF,	  /* a bare LF */
	SMTPD_END_OCTETS, /* not a line: octets of a BDAT chunk, shown as they came */
};

struct smtpd_event {
	enum smtpd_event_type type;
	const char *text; /* not NUL-terminated: use len */
	size_t len;
	bool tls;    /* the channel was encrypted */
	bool body;   /* RECEIVED: a line of message content */
	bool secret; /* RECEIVED: an AUTH payload, already replaced by "<redacted>" in text */
	enum smtpd_line_end end; /* RECEIVED: how the line ended */
};

/* The envelope of a message being stored. */
struct smtpd_envelope {
	const char *id;	    /* the message's id (also in its Received header) */
	const char *helo;   /* the HELO/EHLO name */
	const char *peer;   /* the client's address */
	const char *from;   /* the reverse path without brackets ("" for <>) */
	char *const *rcpts; /* forward paths without brackets */
	size_t nrcpts;
	bool tls, authenticated, esmtp;
};

/* Where messages go (a Maildir in smtpsh, memory in the unit tests). */
struct smtpd_store {
	/* Starts a message; returns a handle, or NULL (the client gets a 451). */
	void *(*begin)(void *arg, const struct smtpd_envelope *env);
	/* Appends bytes (LF line ends); returns 0 or -1. */
	int (*write)(void *handle, const char *data, size_t len);
	/* Makes the message visible; returns 0 or -1. Frees handle. */
	int (*commit)(void *handle);
	/* Throws the message away. Frees handle. */
	void (*abort)(void *handle);
	void *arg;
};

struct smtpd_greylist {
	uint64_t key[SMTPD_GREYLIST_SLOTS]; /* hash of (client address, sender, recipient) */
	time_t first[SMTPD_GREYLIST_SLOTS]; /* when the triplet was first seen; 0: free slot */
};

/*
 * smtpsh --serve --script FILE: the server side of a transcript, played to each client. Each
 * step is a line the recorded client sent and the reply lines the server gave to it (the
 * first step, with no line, is the greeting). Built by src/practice/script.c.
 */
struct smtpd_script_step {
	char *expect;	/* the client's line as recorded, or NULL for the greeting */
	bool secret;	/* recorded as <redacted>: not compared */
	bool content;	/* a line of message content (no reply) */
	char **replies; /* reply lines, without CRLF */
	size_t nreplies;
	bool starttls; /* the replies end with the 220 to STARTTLS: a handshake follows */
};

struct smtpd_script {
	struct smtpd_script_step *steps;
	size_t n;
	bool implicit_tls; /* the transcript began with TLS (port 465 style) */
};

/* What all connections of one server share: the settings can change at any time. */
struct smtpd_config {
	const char *hostname; /* the name in the greeting and the Received header */
	const char *user;     /* the demo account */
	const char *password;
	const char *app_password; /* also logs in (app-password on: only it), or NULL */
	bool tls_available;	  /* a certificate is loaded: STARTTLS can be offered */
	struct practice_settings settings;
	struct smtpd_greylist greylist;
	struct smtpd_store store;
	unsigned long messages;		   /* stored so far */
	const struct smtpd_script *script; /* --script: play it instead of the state machine */
	/* LMTP (RFC 2033) instead of SMTP: LHLO instead of EHLO/HELO, and after the message one
	   reply per accepted recipient, in RCPT order. Set before the first connection. */
	bool lmtp;
	/* The practice sign-in server (oauthd.h), or NULL: with it, AUTH offers XOAUTH2 and
	   OAUTHBEARER and checks their tokens with it. */
	const struct oauthd_hooks *oauth;
};

/* An AUTH exchange in progress: src/practice/smtpd_auth.c's alone. */
struct smtpd_auth;

enum smtpd_state {
	SMTPD_S_COMMAND,  /* reading commands */
	SMTPD_S_AUTH,	  /* inside an AUTH exchange: the next line is a SASL response */
	SMTPD_S_DATA,	  /* after 354: message content until CRLF.CRLF */
	SMTPD_S_BDAT,	  /* after BDAT n: n octets of a chunk, not lines (RFC 3030) */
	SMTPD_S_TLS_WAIT, /* 220 to STARTTLS sent: waiting for the handshake */
	SMTPD_S_CLOSED,	  /* QUIT, a 421 or a drop: nothing more is read */
};

struct smtpd_conn {
	struct smtpd_config *cfg;
	enum smtpd_state state;
	char peer[64];
	bool tls;
	struct buf in;	   /* bytes received, not yet handled */
	struct buf out;	   /* reply bytes to send */
	bool skipping;	   /* dropping the rest of an overlong line */
	bool drop_pending; /* drop-after connect: the first step drops */
	bool injected;	   /* starttls-injection: what followed STARTTLS is kept for TLS */
	unsigned errors;
	enum smtpd_line_end line_end; /* the line being handled (reported with it) */
	bool sasl_astray; /* an AUTH did not start an exchange (refused, failed): the lines
			     that follow and are no command are the client's SASL answers */
	void (*on_event)(void *arg, const struct smtpd_event *ev);
	void *event_arg;

	/* session */
	char client_cert[256]; /* smtpd_tls_client_identity's, or "" */
	char *helo;
	bool esmtp;
	bool authenticated;
	bool auth_failed;   /* an AUTH failed since the last success: MAIL gets 530 */
	bool starttls_done; /* TLS came by STARTTLS: a command before EHLO is told to EHLO again */

	/* transaction */
	bool mail;
	char *from;
	char *rcpts[SMTPD_RCPT_MAX];
	size_t nrcpts;
	bool rcpt_tried; /* some RCPT was refused: DATA then says "no valid recipients" */
	unsigned long long declared_size;
	bool smtputf8;			 /* MAIL ... SMTPUTF8 (RFC 6531 3.4) */
	bool binarymime;		 /* MAIL ... BODY=BINARYMIME: BDAT only (RFC 3030 3) */
	char ret[5];			 /* MAIL ... RET=FULL|HDRS (RFC 3461 4.3), or "" */
	char envid[SMTPD_ENVID_MAX + 1]; /* MAIL ... ENVID=xtext (RFC 3461 4.4), or "" */
	char *rcpt_dsn[SMTPD_RCPT_MAX];	 /* "NOTIFY=... ORCPT=..." of each recipient, or NULL */
	bool rcpt_full[SMTPD_RCPT_MAX];	 /* LMTP: the mailbox-full fault fails it after the data */

	/* DATA */
	void *msg; /* store handle */
	char msg_id[16];
	unsigned long long msg_size; /* octets so far, CRLF line ends counted */
	bool msg_too_big, msg_line_too_long, msg_write_failed;
	bool prev_crlf; /* the previous line ended with CRLF (for the end-of-data dot) */
	unsigned long bare_lf_lines;
	unsigned long body_lines;

	/* BDAT (RFC 3030) */
	bool bdat;			 /* this transaction sends chunks: DATA is refused */
	unsigned long long chunk_left;	 /* octets of the current chunk still to read */
	unsigned long long chunk_octets; /* octets the current chunk takes (as the server counts) */
	bool chunk_last;		 /* the current chunk is the LAST */
	bool chunk_cr;		   /* the octets so far end with a CR (CRLF may span chunks) */
	unsigned long chunks;	   /* chunks of this message so far */
	char chunk_refusal[256];   /* the reply after a refused chunk is read, or "" */
	bool chunk_refusal_resets; /* ... and it ends the transaction */
	bool chunk_refusal_each;   /* ... once per recipient (LMTP, a LAST chunk: RFC 2033 4.3) */
	bool sendas_refused;	   /* sendas-denied: the message is refused after its data */

	struct smtpd_auth *auth; /* the AUTH exchange in progress, or NULL */

	size_t script_pos; /* --script: the next step */
	/* --script, after a recorded 354: the message is compared as a whole, so that a client
	   whose message has other lines still gets the recorded reply to its "." */
	bool script_data;
	unsigned long script_recorded;	 /* the recording's message lines */
	unsigned long script_lines;	 /* the client's so far */
	unsigned long script_first_diff; /* the first line that differs (from 1), 0: none yet */
};

/*
 * Prepares a connection from peer (an address for the Received header and the greylist)
 * and queues the greeting. tls says the connection is encrypted from the start.
 * on_event (may be NULL) hears every line. Returns 0, or -1 when memory ran out.
 */
int smtpd_conn_init(struct smtpd_conn *c, struct smtpd_config *cfg, const char *peer, bool tls,
		    void (*on_event)(void *arg, const struct smtpd_event *ev), void *event_arg);
/* Frees everything (an unfinished message is aborted). */
void smtpd_conn_free(struct smtpd_conn *c);

/* How many more bytes smtpd_feed() takes now. */
size_t smtpd_room(const struct smtpd_conn *c);
/* Adds bytes from the client (at most smtpd_room()); returns how many were taken. */
size_t smtpd_feed(struct smtpd_conn *c, const char *data, size_t len);

/*
 * Handles at most one complete line of the input; now is the wall clock (the greylist and
 * the Received header use it). Replies are appended to smtpd_out().
 */
enum smtpd_action smtpd_step(struct smtpd_conn *c, time_t now);

/* The handshake after STARTTLS succeeded: the session starts over (RFC 3207 section 4.2);
   any input buffered before it is discarded (it was sent in plaintext). */
void smtpd_tls_started(struct smtpd_conn *c);

/* After the handshake: the identity (CN, else e-mail) of the client certificate the practice
   CA issued and the handshake verified, or NULL for none. EHLO then offers AUTH EXTERNAL,
   which logs in as it. */
void smtpd_tls_client_identity(struct smtpd_conn *c, const char *identity);

/* The client said nothing for too long: queues a 421 and closes. */
void smtpd_timeout(struct smtpd_conn *c);
/* The server shuts down: queues a 421 and closes. */
void smtpd_shutdown(struct smtpd_conn *c);

/* The output not yet sent; the caller removes what it sent with buf_consume(). */
struct buf *smtpd_out(struct smtpd_conn *c);

/* The state's name ("command", "auth", "data", "tls-wait", "closed"). */
const char *smtpd_state_name(enum smtpd_state s);

/* Forgets every greylisted triplet. */
void smtpd_greylist_clear(struct smtpd_greylist *g);

#endif
