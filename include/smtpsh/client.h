/*
 * The SMTP client protocol engine: the mirror of the practice server's smtpd.c, without I/O.
 * It knows where the conversation stands (the phase), which replies are owed and to which
 * commands (the pipelining queue, RFC 2920), what a complete reply does (EHLO's 250 records
 * the capabilities, 354 to DATA starts the message, 220 to STARTTLS asks for the handshake,
 * 221 to QUIT ends the connection), which command lines hold a secret (AUTH, RFC 4954) and
 * who logged in, never with what. The caller (session.c, or a unit test) owns the socket,
 * TLS and the clock: it hands the engine the bytes it read (client_recv()) and the commands
 * it writes (client_command(), client_expect()), and carries out the actions it gets back.
 * The model is nghttp2's session_mem_recv with callbacks (CONVENTIONS.md); the one door for
 * the phase is client_set_phase(), as curl's smtp_state() and OpenSMTPD's
 * smtp_client_state(), traced old -> new from a names table.
 *
 * Everything the server sends is hostile: replies go through the bounded reader of reply.c
 * (RFC 5321 4.2: a code, then ' ' or '-'; no NUL; lines and line count capped), a malformed
 * reply is reported once and answers the oldest command, and a reply past REPLY_LINES_MAX
 * lines ends the connection. Events (received lines, warnings, errors) go out through a
 * callback in neutral words: which local command would help is the shell's business.
 */
#ifndef SMTPSH_CLIENT_H
#define SMTPSH_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "smtpsh/buf.h"
#include "smtpsh/caps.h"
#include "smtpsh/event.h"
#include "smtpsh/proto.h"
#include "smtpsh/reply.h"
#include "smtpsh/verbs.h" /* enum client_verb, the verb table */

#define CLIENT_PENDING_MAX 256 /* replies owed at most (the oldest is then forgotten) */
#define CLIENT_REPLY_TEXT_MAX                                                                      \
	(64 * 1024)		 /* of a reply kept for the caller; every line is shown            \
				  */
#define CLIENT_SHOWN_CMD_MAX 128 /* bytes of a command kept to say which one a reply answers */
#define CLIENT_AUTH_USER_MAX 256
#define CLIENT_REDACTED_MAX 96

/* A complete reply as received: its code and its lines joined with "\n" (raw bytes). */
struct smtp_reply {
	int code; /* 0: no reply (a failure) */
	size_t nlines;
	struct buf text;
};

void smtp_reply_init(struct smtp_reply *r);
void smtp_reply_free(struct smtp_reply *r);
void smtp_reply_clear(struct smtp_reply *r);
void smtp_reply_copy(struct smtp_reply *dst, const struct smtp_reply *src);

/*
 * One recipient of the transaction (from MAIL to the reply about the message after its
 * content: the "." or the LAST chunk), in RCPT order: its reply to RCPT and, once accepted,
 * its final reply. In SMTP the one reply after the content is every accepted recipient's
 * final reply; in LMTP each accepted recipient gets a reply of its own, in RCPT order, to the
 * "." (RFC 2033 4.2) and to BDAT ... LAST alike (RFC 2033 4.3 with RFC 3030). Each reply is
 * kept twice, raw bytes (escape them to show): whole (*_text: lines joined with "\n", code
 * included, cut at CLIENT_RCPT_TEXT_MAX) and as the summary table shows it (*_line: the first
 * line after its code, "2.1.5 Ok", cut at CLIENT_RCPT_LINE_MAX). Codes are 0 where no reply
 * came. One list, filled by the engine from the replies it reads (client_rcpt_final() for
 * a caller that holds one); client_txn() (session_txn()) reads it.
 */
#define CLIENT_RCPT_MAX 1000	 /* recipients kept per transaction (RFC 5321 4.5.3.1.8: 100) */
#define CLIENT_RCPT_ADDR_MAX 320 /* a mailbox: 64 octets, "@", a 255-octet domain */
#define CLIENT_RCPT_TEXT_MAX 512
#define CLIENT_RCPT_LINE_MAX 200
struct client_rcpt {
	char addr[CLIENT_RCPT_ADDR_MAX]; /* as given: inside the <> of RCPT TO:<...> */
	int rcpt_code;			 /* 0: no reply (yet) */
	char rcpt_text[CLIENT_RCPT_TEXT_MAX];
	char rcpt_line[CLIENT_RCPT_LINE_MAX];
	bool accepted;	/* RCPT got 2xx: the server owes it a final reply */
	int final_code; /* 0: none (yet) */
	char final_text[CLIENT_RCPT_TEXT_MAX];
	char final_line[CLIENT_RCPT_LINE_MAX];
};

struct client_txn {
	struct client_rcpt *rcpt;
	size_t n, cap;
	size_t dropped; /* RCPTs past CLIENT_RCPT_MAX, not kept */
};

/* A command whose reply is owed. */
struct client_pending {
	enum client_verb v;
	bool last; /* a BDAT chunk marked LAST */
	int rcpt;  /* RCPT, and in LMTP "." or BDAT LAST: the recipient (index into txn.rcpt),
		      else -1 */
	/* In LMTP, one recipient's reply to "." or BDAT LAST: its place among those owed to
	   that command (1-based) and their number; 0 for any other reply. */
	unsigned rcpt_nth, rcpt_of;
	long long sent_ms; /* when it was written */
	unsigned pipe_index, pipe_total;
	char shown[CLIENT_SHOWN_CMD_MAX]; /* as shown, secrets masked */
};

/* What the caller does after client_recv(). */
enum client_action {
	CLIENT_NONE,	     /* every byte given was used, no reply completed: read more */
	CLIENT_REPLY,	     /* a reply completed (or an unsolicited one): look at the result */
	CLIENT_START_DATA,   /* 354 to DATA: message content follows (a new message starts) */
	CLIENT_UPGRADE_TLS,  /* 220 to STARTTLS: discard what else the server sent
				(client_tls_reset), run the handshake, then client_tls_started() */
	CLIENT_NEW_GREETING, /* 220 to XCLIENT: the reply was a new greeting (reported): phase
				greeted, capabilities forgotten, EHLO next */
	CLIENT_CLOSE,	     /* 221 to QUIT: close the connection (the server does too) */
	CLIENT_PROTO_ERROR,  /* a malformed reply ended (already reported): it answered the oldest
				command when one was owed */
	CLIENT_ABORT,	     /* a reply past REPLY_LINES_MAX lines (reported): close the connection
				at once, nothing after it can be read in step */
};

struct client_result {
	enum client_action action;
	bool done; /* a reply ended and took its command off the queue (or was unsolicited) */
	enum client_verb verb; /* the command it answered (VERB_OTHER when unsolicited) */
	int code;
};

/* One command line as the engine sees it: its verb, what is shown, what a file may keep. */
struct client_command {
	const char *line;
	enum client_verb v;
	const char *shown; /* what listeners see as text */
	bool secret;
	char redacted[CLIENT_REDACTED_MAX];
	bool last; /* a BDAT ... LAST */
};

typedef void (*client_event_fn)(struct session_event *ev, void *arg);
typedef void (*client_phase_fn)(enum smtp_phase from, enum smtp_phase to, void *arg);

/* The engine's state; its fields are read by the session (session_int.h) and written only
   by client.c. */
struct smtp_client {
	enum smtp_phase phase;
	int greeting; /* the greeting's code, 0 before it */
	/* The server refused commands pipelined after the "." that ends a message: on this
	   connection "." goes alone (session_pipeline). */
	bool dot_alone;
	bool in_auth; /* after a 334 to AUTH: the next line is a SASL response */
	/* LMTP (RFC 2033): set by client_set_lmtp() for the connections that follow; "." and
	   BDAT ... LAST then owe one reply per accepted recipient (dots_owed of them are still
	   to come). */
	bool lmtp;
	size_t dots_owed, dots_total;
	/* A BDAT chunk was refused: RFC 3030 2 forbids more chunks in this transaction. */
	bool bdat_refused;
	/* The recipients of the transaction going on, or of the last one (kept for a summary
	   until the next MAIL or an accepted RSET). */
	struct client_txn txn;
	unsigned long messages; /* messages answered after their content (all replies in) */
	struct smtp_caps caps;

	struct reply_parser parser;
	struct smtp_reply cur;	/* the reply being received */
	struct smtp_reply last; /* the last complete reply */
	bool reply_broken;	/* inside a malformed multi-line reply: lines until its last one */

	struct client_pending pending[CLIENT_PENDING_MAX]; /* oldest first */
	size_t pend_head, pend_n;
	unsigned long long sent_seq, done_seq;
	size_t unsolicited; /* replies nobody asked for since the last command */
	size_t unsol_lines; /* their lines */
	unsigned long long unsol_hidden, unsol_hidden_bytes; /* those lines not shown (past the
								cap), not yet reported */

	/* AUTH on this connection: the exchange going on, and its result. */
	char auth_mech[24];  /* mechanism of the exchange going on */
	unsigned auth_nresp; /* client responses sent in it (an initial response counts) */
	char auth_try[CLIENT_AUTH_USER_MAX]; /* the user it names, when seen */
	bool authed;
	char auth_user[CLIENT_AUTH_USER_MAX];
	char authed_mech[24];

	/* Raw bytes were written (client_raw): replies can no longer be paired with commands.
	   They are shown as they arrive, unpaired, until client_resync(). */
	bool out_of_step;
	/* The last raw write ended inside an AUTH command line: the next write continues it
	   (its first line is that command's secret, redacted whole). */
	bool raw_auth_open;
	/* Out of step, a command was written (client_expect): the last reply before the line
	   goes quiet answers it (client_probe_end); probe_replies counts the replies since. */
	bool probing;
	size_t probe_replies;

	client_event_fn on_event;
	client_phase_fn on_phase;
	void *arg;
};

/* A new engine in PHASE_DISCONNECTED; events and phase changes go to the callbacks (either
   may be NULL) with arg. client_free() releases what it holds (not c itself). */
void client_init(struct smtp_client *c, client_event_fn on_event, client_phase_fn on_phase,
		 void *arg);
void client_free(struct smtp_client *c);
/* Forgets everything of the connection (a new one, or the end of one); the phase stays. */
void client_reset(struct smtp_client *c);

/* Speak LMTP (RFC 2033) from now on (kept by client_reset): one reply per accepted recipient
   after the "." (which goes alone, never pipelined with what follows) and after BDAT LAST. */
void client_set_lmtp(struct smtp_client *c, bool lmtp);

/*
 * The recipients of the current (or last) transaction, in RCPT order: the list starts anew
 * with each MAIL, and after a RSET accepted. The final replies are there once the reply (in
 * LMTP: the replies) to the "." or to BDAT ... LAST arrived, or a chunk was refused. For the
 * per-recipient summary.
 */
const struct client_txn *client_txn(const struct smtp_client *c);
/*
 * In LMTP, while the replies to the "." (or to BDAT ... LAST) are owed: how many came (*got)
 * of how many (*want). False when no such reply is owed. A server that stops short of want is
 * breaking RFC 2033 4.2 (4.3 for BDAT); the caller says so when its wait runs out.
 */
bool client_dot_replies(const struct smtp_client *c, size_t *got, size_t *want);

/* THE one way to change the phase: traces from -> to through on_phase when they differ. */
void client_set_phase(struct smtp_client *c, enum smtp_phase to);
/* The phase's name for traces and \status ("greeting", "ready", "data"...). */
const char *client_phase_name(enum smtp_phase p);

/* A connection is up: the greeting is owed (as a reply to "the greeting", since now_ms). */
void client_connected(struct smtp_client *c, long long now_ms);

/* The kind of a command line as the server reads it (leading blanks, any case; LHLO is EHLO).
   in_auth: the line answers a challenge (VERB_AUTH_DATA whatever it says). */
enum client_verb client_classify(const char *line, bool in_auth);
/* "EHLO", "the greeting", "the end of DATA", "the command": for messages. */
const char *client_verb_what(enum client_verb v);
/* What events name the verb ("EHLO", "greeting", "."), or NULL when smtpsh does not know it. */
const char *client_verb_short(enum client_verb v);
/* May line be followed by more commands in one pipelined group (RFC 2920 3.1: MAIL, RCPT,
   RSET)? */
bool client_pipelinable(const char *line);

/*
 * Prepares a command line about to be written: classifies it (as v unless v is VERB_OTHER
 * and the line says otherwise: see client_classify), masks a secret (an AUTH initial
 * response, any SASL response but "*"), follows the AUTH exchange far enough to know the user
 * name, forgets the capabilities before an EHLO, and reports it as a SEV_SENT event
 * (pipe_index/pipe_total: its place in a pipelined group, 0 outside one). shown: what
 * listeners see instead of line, or NULL.
 */
void client_command(struct smtp_client *c, struct client_command *o, const char *line,
		    const char *shown, enum client_verb v, unsigned pipe_index,
		    unsigned pipe_total);
/* The command o was written at sent_ms: its reply is owed now. */
void client_expect(struct smtp_client *c, const struct client_command *o, long long sent_ms,
		   unsigned pipe_index, unsigned pipe_total);
/* The "." that ends the message content was written at sent_ms (its SEV_SENT is the caller's:
   a body line). */
void client_expect_dot(struct smtp_client *c, long long sent_ms);

/*
 * Raw bytes (\raw) data[0..len) were written exactly as given: reports them as a SEV_SENT
 * event with raw set, each line that holds an AUTH secret (authline.h; also the rest of an
 * AUTH line that an earlier raw write left unfinished) redacted in the event's redacted form,
 * and in its text too unless reveal. smtpsh cannot know how the server splits them into
 * commands, so it cannot count the replies they owe: the engine goes out of step (says so
 * once, with the way back). Replies owed to earlier commands are forgotten (said too): every
 * reply from now on is shown as it arrives and paired with no command (unsolicited), and has
 * no effect on the phase, until client_resync(). Inside DATA the bytes are message content
 * (an end of data hidden in them is what smuggling tests try), the same rule holds.
 */
void client_raw(struct smtp_client *c, const char *data, size_t len, bool reveal);
/*
 * The ways back in step. A server answers in order, so once a command is written after raw
 * bytes, its reply is the LAST one the server sends: every reply the raw bytes still owe
 * comes before it. client_expect() while out of step starts such a probe (probing); the
 * replies that arrive are shown unpaired as before; when the line has been quiet for a moment
 * after at least one of them (the caller's clock), client_probe_end() takes the last complete
 * reply as the command's, carries out what it does (the action, as client_recv would), says
 * so, and the engine is back in step. NOOP is the harmless command to do it with.
 * client_resync() is the other way, for a pipelined group (several replies owed, so "the last
 * one" would not do): the line has been quiet for quiet_ms before anything is written, so
 * every reply the raw bytes caused has arrived. Both say so (SEV_INFO); nothing when in step.
 */
enum client_action client_probe_end(struct smtp_client *c, struct client_result *res);
void client_resync(struct smtp_client *c, long quiet_ms);

/*
 * Reads server bytes data[0..len) up to the end of at most one reply, reporting each line
 * (SEV_RECEIVED) as it completes; *used gets the bytes consumed (the rest is for the next
 * call). now_ms measures how long the reply took. The result says what the caller does.
 * CLIENT_ABORT counts data[*used..len) as lines nobody will read, so pass all that is
 * buffered.
 */
enum client_action client_recv(struct smtp_client *c, const char *data, size_t len, size_t *used,
			       long long now_ms, struct client_result *res);

/*
 * Parses a BDAT command line as the server reads it ("BDAT 86 LAST", any case): the chunk
 * size (RFC 3030 2: 1*DIGIT, at most 19 digits here) and whether it is the LAST chunk.
 * False when line is no well-formed BDAT command.
 */
bool client_bdat_parse(const char *line, unsigned long long *size, bool *last);

/*
 * A reply about the message after its content (code, its first line's text after the code
 * text[0..len)) for the recipients of client_txn(): all the accepted ones without a final
 * reply when all (SMTP), else the next accepted one without a final reply (LMTP, one reply
 * each, in RCPT order). Returns false when no recipient was left to answer. The engine fills
 * the list itself from the replies it reads, through the same setter; this is for a caller
 * that holds a reply the engine did not read.
 */
bool client_rcpt_final(struct smtp_client *c, int code, const char *text, size_t len, bool all);

/* Is the server in the middle of a reply (a line or a multi-line reply begun)? Bytes the
   caller has not fed yet count too: the caller knows them. */
bool client_mid_reply(const struct smtp_client *c);
/* The command the next reply answers, or NULL when none is owed. */
const struct client_pending *client_pending_head(const struct smtp_client *c);
/* Says how many lines nobody asked for were not shown (SEV_INFO), if any. */
void client_report_hidden(struct smtp_client *c);

/*
 * After CLIENT_UPGRADE_TLS: forgets what was read in plaintext (RFC 3207 4.2: the client
 * discards what it knew, and bytes after the 220 are no reply of the TLS session) and returns
 * how many bytes the reply reader held of it. The caller discards its own buffer, runs the
 * handshake, and on success calls client_tls_started().
 */
size_t client_tls_reset(struct smtp_client *c);
/* The handshake after STARTTLS succeeded: EHLO comes next, the AUTH state is forgotten. */
void client_tls_started(struct smtp_client *c);

/*
 * The Haraka decision (RFC 2920 3.1 allows commands after the "." in one group; Haraka
 * answers 503 to all of them, GHSA-rp4q-8m6x-c43c): given the codes of a group that began with
 * "." (codes[0] its reply, 0 for none), are the others to be sent again one at a time? When
 * so, "." goes alone from now on (dot_alone).
 */
bool client_resend_after_dot(struct smtp_client *c, const int *codes, size_t n);

#endif
