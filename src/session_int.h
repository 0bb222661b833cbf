/*
 * What the files of the session share (session.c: connection, waits, commands; session_pipe.c:
 * pipelined groups; session_tls.c: the handshake; session_data.c: the message content;
 * session_info.c: queries), as smtpd_int.h does for the practice server. Not a public
 * header: the shell knows session.h only. Include it after "smtpsh/session.h", not from here: a .c and its header are one node
 * of the include graph (tests/tool/test_layers.py), and this file must not lead back to it.
 */
#ifndef SMTPSH_SESSION_INT_H
#define SMTPSH_SESSION_INT_H

#include <stdarg.h>

#include "smtpsh/client.h"
#include "smtpsh/conn.h"
#include "smtpsh/dotstuff.h"
#include "smtpsh/tls_resume.h"

#define SESSION_LISTENERS_MAX 4
#define SESSION_FILE_CHUNK (64 * 1024)

struct listener {
	session_listener fn;
	session_quiet_query wants_quiet; /* NULL: never gets quiet body lines */
	void *arg;
};

/*
 * One message being sent (curl's per-transfer struct SMTP beside the connection's smtp_conn):
 * the dot-stuffing encoder and the bytes encoded but not written yet. Started by the 354 to
 * DATA; what is left of it goes with the connection.
 */
struct session_message {
	struct dotstuff ds;
	struct buf out; /* staging for body bytes (coalesce_body gathers lines here) */
};

/*
 * The BDAT chunk being written (RFC 3030): its command line is sent, its octets go until
 * left is 0; then its reply is waited for (or, pipelined, later). The server reads exactly
 * size octets after the command, whatever they are: a chunk cut short cannot be resumed, so
 * a connection whose chunk was abandoned is closed.
 */
struct session_chunk {
	bool open;
	bool last;
	unsigned long long size, left;
	unsigned long long seq;	     /* the engine's sent_seq of its command */
	unsigned long long reported; /* octets reported as chunk events (session_emit_chunk) */
};

/* Shows the lines of encoded body bytes, the first body_echo_max of them in full (the body of
   DATA, the octets of a BDAT chunk). */
struct body_view {
	struct buf line; /* the start of a line cut by the end of a chunk (up to SHOWN_LINE_MAX) */
	size_t line_len; /* its whole length so far */
	size_t shown;
	bool quiet_wanted; /* a listener wants the lines past the screen's limit */
	bool screen_only;  /* lines for the screen only (event.h): a BDAT chunk's */
};
/* Shows the lines of p[0..n); a line cut by the end stays for the next call. */
void session_view_bytes(struct smtp_session *s, struct body_view *v, const char *p, size_t n);
/* Shows the line left cut by the end of the bytes, if any (a chunk need not end a line). */
void session_view_flush(struct smtp_session *s, struct body_view *v);

struct smtp_session {
	struct session_params p;
	char *cafile;
	char *ehlo_name;
	struct listener listeners[SESSION_LISTENERS_MAX];
	size_t nlisteners;
	volatile sig_atomic_t *intr;

	struct conn conn;
	SSL_CTX *ctx;
	bool verified;
	bool implicit_tls; /* TLS from the first byte, not upgraded by STARTTLS */
	enum tls_mode mode;
	char *host;
	char port[16];

	bool lmtp; /* session_set_link */
	int proxy;
	char *proxy_from;
	char *sni;
	bool ocsp;	      /* session_link's: ask for a stapled OCSP response */
	char ocsp_view[2048]; /* what \tls shows of this connection's OCSP response ("": none) */
	/* Resumption (session_tls.c): the last session the server gave, with whom; whether
	   handshakes offer it (session_link's resume) or the next one does (resume_once). */
	struct tls_resume resume;
	SSL_SESSION *resume_sess;
	char *resume_host;
	char resume_port[16];
	bool resume_wanted, resume_once;

	/* session_connect_mx: the MX host's DANE records and whether plaintext may follow when
	   STARTTLS is not offered (RFC 7435); cleared by session_connect */
	struct {
		bool on; /* a route host: the fields below hold */
		bool opportunistic;
		char *tlsa_base;
		struct dns_tlsa *rr; /* data copied into each record's own allocation */
		size_t n;
		char result[256]; /* after the handshake: what matched, or why nothing did */
		bool used;	  /* DANE was enabled on this connection's SSL */
	} mx;
	struct tls_controls tls; /* session_set_link's, the strings owned (session_tls.c) */

	struct smtp_client c; /* the protocol: phase, replies owed, caps, AUTH */
	bool pipe_resent;     /* the last session_pipeline sent its commands again in lockstep */

	struct buf in; /* bytes read and not yet parsed: in.data[in_off..in.len) */
	size_t in_off;

	unsigned long long bytes_in, bytes_out;

	struct session_message msg;
	struct session_chunk chunk;
	struct body_view bview; /* the octets of the chunks of one message, as shown */
	char err[512];
};

/*
 * Reports octets of a BDAT chunk as chunk events (event.h): split after each LF, while the
 * chunk's *reported octets stay under SESSION_CHUNK_SHOWN; session_emit_chunk_omitted then
 * counts the rest, once the chunk is whole. quiet: for transcripts only (the screen shows the
 * chunk as body lines).
 */
void session_emit_chunk(struct smtp_session *s, const char *data, size_t len,
			unsigned long long *reported, bool quiet);
void session_emit_chunk_omitted(struct smtp_session *s, unsigned long long n, bool quiet);

/* Reports an event to the listeners (the session fills in the channel and the peer). */
void session_emit(struct smtp_session *s, struct session_event *ev);
/* A local event (SEV_INFO, SEV_WARNING...) with a printf message. */
__attribute__((format(printf, 3, 4))) void
session_notify(struct smtp_session *s, enum session_event_type type, const char *fmt, ...);
/* Records a failure: the message becomes session_error() and an error event; returns st. */
__attribute__((format(printf, 3, 4))) enum session_status
session_fail(struct smtp_session *s, enum session_status st, const char *fmt, ...);
/* Calls the caller's before_wait hook: its buffered output goes out before the session waits. */
void session_before_wait(struct smtp_session *s);
/* Writes bytes (bounded by the timeout); a failure closes the connection. */
enum session_status session_send_bytes(struct smtp_session *s, const void *data, size_t len);
/* Waits for the reply to the command numbered seq (the engine's sent_seq when it was sent). */
enum session_status session_wait_reply(struct smtp_session *s, unsigned long long seq,
				       enum client_verb v, struct smtp_reply *reply);
/* Ends the connection; reason is reported as the closing event. */
void session_close(struct smtp_session *s, bool abrupt, const char *reason);
/* Shows what the server sent unasked (before a command, so it is not taken as its reply). */
enum session_status session_drain(struct smtp_session *s);
/* After raw bytes: waits until the server has been quiet for SESSION_QUIET_MS, showing what
   arrives, then the engine is back in step. SESSION_OK at once when in step. */
enum session_status session_resync(struct smtp_session *s);
/* Out of step, a command was written: waits for its reply, the last before the line is quiet
   (client_probe_end). */
enum session_status session_wait_probe(struct smtp_session *s, enum client_verb v,
				       struct smtp_reply *reply);
/* Refusals of a line or a verb in the present state (a failure reported), or SESSION_OK. */
enum session_status session_check_line(struct smtp_session *s, const char *line);
enum session_status session_check_verb(struct smtp_session *s, enum client_verb v);
/* Writes one command line of verb v and waits for its reply. */
enum session_status session_send_command(struct smtp_session *s, const char *line,
					 const char *shown, enum client_verb v,
					 struct smtp_reply *reply);

/* session.c's reading, shared by the session's files: what the engine's action asks for,
   feeding the bytes read to the engine (*done: a reply completed), a read (waiting until
   deadline_ms; -1: no wait), dropping a message whose connection ended, a drain of what the
   server sent unasked, and the state of a new or closed connection. */
enum session_status session_carry_out(struct smtp_session *s, enum client_action a);
enum session_status session_feed(struct smtp_session *s, bool *done);
enum session_status session_read_some(struct smtp_session *s, long long deadline_ms);
void session_abandon_stream(struct smtp_session *s);
enum session_status session_drain_some(struct smtp_session *s);
void session_reset_connection(struct smtp_session *s);
/* An info event that carries a duration (the connect time). */
__attribute__((format(printf, 3, 4))) void session_notify_timed(struct smtp_session *s, long ms,
								const char *fmt, ...);

/* session_tls.c: the handshake on the connection (implicit, or after STARTTLS's 220). */
/* Forgets the MX host's DANE records (session_connect_mx's). */
void session_mx_clear(struct smtp_session *s);
enum session_status session_handshake(struct smtp_session *s);
enum session_status session_upgrade_tls(struct smtp_session *s);
/* Takes a copy of the TLS controls; a change drops the TLS context, and controls beyond the
   defaults make the new one at once (their errors, a wrong passphrase, are said now, not at
   the handshake). 0, or -1 with the message in session_error(). */
int session_set_tls_controls(struct smtp_session *s, const struct tls_controls *t);
/* Frees the strings of the session's controls. */
void session_free_tls_controls(struct smtp_session *s);

/* Does a listener want the quiet lines of the body that starts now? */
bool session_quiet_wanted(const struct smtp_session *s);

/* session_data.c: the message of the connection. */
void session_message_init(struct session_message *m);
void session_message_start(struct session_message *m); /* after 354: a new message */
void session_message_drop(struct session_message *m);  /* the connection ended */
void session_message_free(struct session_message *m);
/* The lines gathered and the end of the body (not the "."), appended to wire; -1: no memory. */
int session_message_finish(struct session_message *m, struct buf *wire);

#endif
