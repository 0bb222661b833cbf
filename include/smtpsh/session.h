/*
 * The SMTP session: the one object that owns the connection (socket and TLS state) and the
 * I/O driver of the client engine (client.h), which knows the phase of the conversation, the
 * replies owed and the server's capabilities. All network I/O of smtpsh goes through it; the
 * shell learns TLS facts through session_tls*() and session_describe_tls(), never from the
 * connection itself. It prints nothing: everything that happens is reported as events
 * (event.h) to the listeners (the screen renderer, a transcript writer).
 *
 * Calls that wait (connect, command, data_end...) are bounded by the session timeout and stop
 * early when the interrupt flag given to session_set_interrupt() becomes nonzero. They return
 * a session_status; the message of the last failure is session_error(). A reply from the server
 * that says no (4xx, 5xx) is a reply, not a failure: SESSION_OK, and the code is in the reply.
 */
#ifndef SMTPSH_SESSION_H
#define SMTPSH_SESSION_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "smtpsh/buf.h"
#include "smtpsh/caps.h"
#include "smtpsh/client.h"
#include "smtpsh/dns.h"
#include "smtpsh/event.h"
#include "smtpsh/proto.h"
#include "smtpsh/tlsctl.h"

struct smtp_session;
struct ssl_st; /* OpenSSL's SSL, for session_ssl() */

enum session_status {
	SESSION_OK = 0,
	SESSION_ERR_NET,	 /* cannot connect, connection lost, I/O error */
	SESSION_ERR_TIMEOUT,	 /* no (complete) reply within the timeout */
	SESSION_ERR_TLS,	 /* handshake or certificate failure, STARTTLS impossible */
	SESSION_ERR_PROTO,	 /* the server broke the protocol (malformed reply) */
	SESSION_ERR_INTERRUPTED, /* the interrupt flag was raised while waiting */
	SESSION_ERR_STATE,	 /* not possible now (not connected, not in DATA...) */
	SESSION_ERR_LOCAL,	 /* a local problem: a file cannot be read, memory ran out */
	SESSION_ERR_REFUSED,	 /* connect with TLS_STARTTLS: the greeting was 4xx/5xx */
};

typedef void (*session_listener)(const struct session_event *ev, void *arg);
/* Asked when a body starts: does this listener want its quiet lines now? */
typedef bool (*session_quiet_query)(void *arg);

struct session_params {
	const char *cafile;	 /* trusted CAs for TLS, or NULL for the system store */
	bool insecure;		 /* do not stop on certificate problems (still reported) */
	int timeout_ms;		 /* connect, TLS handshake and reply timeout */
	enum conn_family family; /* -4 / -6 */
	const char *ehlo_name;	 /* name for the automatic EHLO of TLS_STARTTLS */
	size_t body_echo_max;	 /* lines of a \file body shown as events (then a summary) */
	/* session_data_line gathers the lines into writes of up to 64 KiB (sent by the end of
	   DATA, \file, session_flush): for batch mode, where the lines come fast. Off, each
	   line is written at once (the shell: a line typed now and then keeps the server's
	   timeout from running out). */
	bool coalesce_body;
	/* Called before the session waits for the network (a reply, connect, handshake, a body
	   write): the caller flushes its buffered output there. NULL: nothing. */
	void (*before_wait)(void *arg);
	void *before_wait_arg;
	/* Asks for the passphrase of an encrypted --key (tlsctl.h); NULL: such a key fails. */
	tls_passphrase_fn key_passphrase;
	void *key_passphrase_arg;
};

/*
 * How the connections that session_connect() makes from now on begin and speak (the shell's
 * --lmtp, --proxy, --proxy-from, --sni and \connect's options).
 */
struct session_link {
	bool lmtp; /* LMTP (RFC 2033): LHLO, one reply per accepted recipient after "." */
	int proxy; /* 0, or 1 / 2: a PROXY protocol header of that version right after
		      connecting, before the greeting (proxy.h) */
	const char *proxy_from;	 /* "ADDR:PORT" the header names as the client; NULL: the
				    connection's real local address and port */
	const char *sni;	 /* the server name to send and check instead of the host (over
				    a UNIX socket: NULL, none is checked, said when TLS starts) */
	bool ocsp; /* --ocsp: ask for a stapled OCSP response (RFC 6066 8) and check it; a
		      verified "revoked" is a certificate failure (tls_ocsp.h) */
	bool resume; /* --resume: a TLS handshake with the host and port of the last TLS session
			offers that session (a TLS 1.3 ticket, a TLS 1.2 session); the TLS line
			says whether the server resumed it */
	struct tls_controls tls; /* --tls-min, --ciphers, --cert...: a change makes a new TLS
				    context (a client key is loaded, and its passphrase asked,
				    when the link is set) */
};

/* A new, disconnected session; params are copied. NULL when memory ran out. */
struct smtp_session *session_new(const struct session_params *params);
void session_free(struct smtp_session *s);

/* The next connection (only) offers the last TLS session, as session_link's resume does
   (\reconnect --resume). Sessions are kept in memory only, never written anywhere. */
void session_resume_next(struct smtp_session *s);

/* Sets how the next connections begin and speak (strings are copied). 0, or -1 (the message
   in session_error()) when --proxy-from is no ADDR:PORT, the TLS controls do not go together
   or cannot be applied (a client certificate or key that cannot be loaded, a key that does
   not match its certificate), or memory ran out. */
int session_set_link(struct smtp_session *s, const struct session_link *link);
/* The CA file trusted from the next TLS handshake on (NULL: the system store), as
   session_params' cafile (\connect PROFILE: the profile's). 0, or -1 when memory ran out. */
int session_set_cafile(struct smtp_session *s, const char *cafile);
/* The name of the automatic EHLO (NULL: "localhost") and the timeout (<= 0: 30 s) from now
   on, as session_params' ehlo_name and timeout_ms (\connect PROFILE: the profile's). 0, or
   -1 when memory ran out (nothing changed then). */
int session_set_hello(struct smtp_session *s, const char *ehlo_name, int timeout_ms);
/* Speak LMTP (true) or SMTP from the next connection on, the rest of the link unchanged (a
   replay of a transcript whose header says "protocol: lmtp"). */
void session_set_lmtp(struct smtp_session *s, bool lmtp);
/* Does the session speak LMTP (session_set_link)? */
bool session_lmtp(const struct smtp_session *s);
/* The verb of the greeting command smtpsh sends by itself: "LHLO" in LMTP (RFC 2033 4.1),
   else "EHLO". */
const char *session_hello_verb(const struct smtp_session *s);
/* The recipients of the current or last transaction with their replies (client.h): the
   engine's one list, each with its RCPT reply and its reply after the message ("." or BDAT
   LAST; one each in LMTP). The summary table (summary.h) reads it here. */
const struct client_txn *session_txn(const struct smtp_session *s);

/* Adds a listener (at most 4); each gets every event in order, but for quiet body lines. */
int session_add_listener(struct smtp_session *s, session_listener fn, void *arg);
/*
 * Adds a listener that also gets the quiet body lines (past body_echo_max) of a streamed
 * body when wants(arg) says so as the body starts (a transcript that is recording). When no
 * listener wants them, those lines make no events: a 100 MB \file costs no event per line.
 */
int session_add_quiet_listener(struct smtp_session *s, session_listener fn,
			       session_quiet_query wants, void *arg);
void session_set_interrupt(struct smtp_session *s, volatile sig_atomic_t *flag);

/*
 * Connects to host:port (port NULL: 25, 465 or 587 by mode), waits for the greeting, and for
 * TLS_STARTTLS runs EHLO, STARTTLS, the handshake and EHLO again. Any previous connection is
 * closed first. Fails with SESSION_ERR_NET, _TIMEOUT, _TLS, _PROTO or _INTERRUPTED; after a
 * failure the session is disconnected (nothing else was sent in plaintext). A 4xx/5xx greeting
 * is a reply (SESSION_OK, see session_greeting_code), but with TLS_STARTTLS nothing is sent
 * after it: the connection is closed and the result is SESSION_ERR_REFUSED.
 */
enum session_status session_connect(struct smtp_session *s, const char *host, const char *port,
				    enum tls_mode mode);

/*
 * One host of an MX route (RFC 5321 5.1), as the shell's --mx hands it over: the connection
 * goes to an address the validated route gave (no second lookup), while the name TLS sends
 * and checks, and session_host(), is the MX host's. How it is authenticated follows the
 * precedence of RFC 8461 section 2: DANE when the host has secure, usable TLSA records
 * (RFC 7672: STARTTLS is then required and the records decide, not the WebPKI), else the
 * certificate is verified as always (the shell applies MTA-STS, RFC 8461, around it);
 * opportunistic (RFC 7435): a server that does not offer STARTTLS is spoken to in plaintext,
 * and the screen says so.
 */
struct session_mx {
	const char *name;      /* the MX host (or the domain itself for the implicit MX) */
	const char *addr;      /* the address of it to connect to */
	bool opportunistic;    /* no STARTTLS offered: go on in plaintext (false with DANE and
				  MTA-STS enforce: STARTTLS required) */
	const char *tlsa_base; /* DANE: the TLSA base domain (RFC 7672 2.2.2), or NULL */
	const struct dns_tlsa *tlsa; /* DANE: the secure TLSA records (copied) */
	size_t ntlsa;		     /* 0: no DANE */
};

/* session_connect to one MX host (struct session_mx). Same results; DANE's refusal of the
   certificate is SESSION_ERR_TLS with the reason. */
enum session_status session_connect_mx(struct smtp_session *s, const struct session_mx *mx,
				       const char *port, enum tls_mode mode);

/* After a handshake under DANE: which TLSA record matched ("3 1 1 matched the leaf key"), or
   why none did (--insecure went on); NULL when DANE was not used on this connection. */
const char *session_dane(const struct smtp_session *s);

/*
 * Sends one command line (without CRLF; it must hold no CR, LF or NUL) and waits for its
 * complete reply, which goes to *reply when not NULL. Replies already waiting are shown first
 * as unsolicited. Effects: EHLO records capabilities, STARTTLS + 220 upgrades the connection
 * (bytes the server sent after the 220 are discarded with a warning, capabilities forgotten),
 * DATA + 354 enters PHASE_DATA, QUIT + 221 closes, and so on.
 * shown: what listeners get instead of line (a secret masked), or NULL for line itself.
 */
enum session_status session_command(struct smtp_session *s, const char *line, const char *shown,
				    struct smtp_reply *reply);

/*
 * Writes data[0..len) exactly as given (\raw): nothing added (no CRLF), any octet (NUL, bare
 * CR or LF, 8-bit), in one write; inside DATA the bytes go into the message as they are
 * (lines gathered before them are written first). Waits for nothing: the engine goes out of
 * step (client_raw: replies shown as they arrive, paired with nothing), and the next command
 * (session_command, session_pipeline, session_data_end) first waits until the server has been
 * quiet for SESSION_QUIET_MS (bounded by the timeout), then goes back in step. reveal: show an
 * AUTH secret in the bytes on screen (\set reveal-secrets); a transcript gets it redacted
 * whatever reveal says. SESSION_ERR_STATE when not connected. The plaintext-AUTH rule is the
 * caller's (authline_raw_refused_in_clear).
 */
enum session_status session_raw(struct smtp_session *s, const char *data, size_t len, bool reveal);
#define SESSION_QUIET_MS 500
/* Have raw bytes put the session out of step (and no command since brought it back)? */
bool session_out_of_step(const struct smtp_session *s);
/* Did the last raw write end inside an AUTH command line (the next one carries its secret)? */
bool session_raw_auth_open(const struct smtp_session *s);

/*
 * A command followed at once by octets that belong to it, and its reply: "BDAT n [LAST]" and
 * its chunk (RFC 3030 2: exactly n octets follow the CRLF, no reply in between). The command
 * is reported as sent, the octets as chunk events (SEV_SENT with chunk: the first
 * SESSION_CHUNK_SHOWN of them, split after each LF, then one event with chunk_omitted for
 * the rest). Otherwise as session_command.
 */
enum session_status session_command_payload(struct smtp_session *s, const char *line,
					    const char *data, size_t len, struct smtp_reply *reply);
#define SESSION_CHUNK_SHOWN (64 * 1024)

/*
 * PIPELINING (RFC 2920): sends the n command lines in one write, then waits for their n
 * replies, in order; replies[i] (when replies is not NULL) gets the reply to lines[i] (code 0:
 * none came). Every line but the last must be one that session_pipelinable() accepts (MAIL,
 * RCPT, RSET); the last may be any command (DATA, EHLO, QUIT, AUTH... end a group). In
 * PHASE_DATA the group must start with "." (the end of the message: RFC 2920 lets the content
 * be the first command of a group), e.g. ".", "QUIT" or ".", "MAIL...", "RCPT...", "DATA". Needs
 * the PIPELINING capability (SESSION_ERR_STATE otherwise). shown: as for session_command, one per
 * line (the array or an entry may be NULL). Events carry pipe_index and pipe_total. Returns
 * the first failure; after a network, TLS or timeout failure the remaining replies are not
 * waited for.
 */
enum session_status session_pipeline(struct smtp_session *s, const char *const *lines,
				     const char *const *shown, size_t n,
				     struct smtp_reply *replies);
/*
 * Did the last session_pipeline send its commands again one at a time? A server that
 * refuses every command pipelined after the "." that ends a message with 503 (Haraka) gets
 * them again in lockstep, and the "." alone from then on, on that connection; the replies
 * given are those of the resend.
 */
bool session_pipeline_resent(const struct smtp_session *s);
/* May line be followed by more commands in the same pipelined group (MAIL, RCPT, RSET)? */
bool session_pipelinable(const char *line);
/* Is line a DATA command (the verb as the session classifies it)? */
bool session_is_data(const char *line);
#define SESSION_PIPELINE_MAX 100 /* commands in one group */

/* In PHASE_DATA: sends one line of message content, dot-stuffed (no CR, LF or NUL in it);
   with coalesce_body it may wait in a buffer for the next lines (see session_flush). */
enum session_status session_data_line(struct smtp_session *s, const char *line, size_t len);
/* Writes the message lines session_data_line gathered (coalesce_body), if any. */
enum session_status session_flush(struct smtp_session *s);
/* In PHASE_DATA: streams a file as message content, CRLF-normalised and dot-stuffed. */
enum session_status session_data_file(struct smtp_session *s, const char *path);

/* A source of message content: puts up to cap bytes into buf and returns their number, 0 at
   its end, or -1 on an error (a message in err). */
typedef ssize_t (*session_reader)(void *arg, char *buf, size_t cap, char *err, size_t errlen);

/*
 * In PHASE_DATA: streams what reader gives as message content, CRLF-normalised and
 * dot-stuffed, in chunks (never all in memory); the first body_echo_max lines are shown,
 * then a summary naming label. The way session_data_file() sends a file. A read error gives
 * SESSION_ERR_LOCAL; the message then holds part of the content (still in PHASE_DATA).
 */
enum session_status session_data_stream(struct smtp_session *s, session_reader reader, void *arg,
					const char *label);
/* In PHASE_DATA: sends the final "." and waits for the reply. */
enum session_status session_data_end(struct smtp_session *s, struct smtp_reply *reply);

/*
 * BDAT (RFC 3030): the message in chunks of an exact octet count, no dot-stuffing. A chunk is
 * its command line "BDAT size [LAST]" (session_bdat_begin: written, its reply owed), then
 * exactly size octets (session_bdat_write, in as many pieces as wanted, shown as body lines),
 * then its reply (session_bdat_end). After MAIL and RCPT (the engine's PHASE_RCPT or
 * PHASE_BDAT); the reply to the LAST chunk says whether the message was taken. A chunk is at
 * most the server's SIZE, or SESSION_BDAT_MAX without one. While a chunk is open no command
 * can be sent; a chunk left unfinished (an interrupt) can only be ended by closing the
 * connection (session_bdat_abandon). SESSION_ERR_STATE: not possible now (not connected, no
 * recipient, a chunk refused before: RFC 3030 2 allows no more until RSET).
 */
#define SESSION_BDAT_MAX (100ULL * 1000 * 1000)
enum session_status session_bdat_begin(struct smtp_session *s, unsigned long long size, bool last);
/* Octets of the open chunk; more than remain is refused (SESSION_ERR_LOCAL), nothing sent. */
enum session_status session_bdat_write(struct smtp_session *s, const void *data, size_t len);
/* The chunk is complete: waits for its reply (to *reply when not NULL). */
enum session_status session_bdat_end(struct smtp_session *s, struct smtp_reply *reply);
/* Is a chunk open (its octets owed)? How many octets of it remain (0 when none is open). */
bool session_bdat_open(const struct smtp_session *s);
unsigned long long session_bdat_left(const struct smtp_session *s);
/* Was a chunk of this transaction refused (no more may follow until RSET, RFC 3030 2)? */
bool session_bdat_refused(const struct smtp_session *s);
/* The open chunk cannot be finished: closes the connection, saying why. */
void session_bdat_abandon(struct smtp_session *s, const char *why);
/* The largest chunk this server takes (SIZE when it has one, else SESSION_BDAT_MAX). */
unsigned long long session_bdat_cap(const struct smtp_session *s);

/*
 * Streams what reader gives as a message in BDAT chunks of up to chunk octets (the last one
 * LAST), octets as they are (the reader gives CRLF line ends: no dot-stuffing in BDAT). With
 * pipelined (the server offers PIPELINING, RFC 3030 4.2) several chunks are written before
 * their replies are read; the first refused chunk stops the stream (RFC 3030 2). *reply gets
 * the reply to the LAST chunk, or to the refused one. A read error closes the connection (a
 * chunk cannot be cut short): SESSION_ERR_LOCAL.
 */
enum session_status session_bdat_stream(struct smtp_session *s, session_reader reader, void *arg,
					const char *label, size_t chunk, bool pipelined,
					struct smtp_reply *reply);

/* Reads and reports what the server sent unasked, without waiting. For the REPL's poll loop. */
enum session_status session_poll(struct smtp_session *s);
/* The socket to poll() for reading, or -1; session_poll() also when has_buffered says so. */
int session_fd(const struct smtp_session *s);
bool session_has_buffered(const struct smtp_session *s);

/* How many messages got their reply after the content (in LMTP: all their replies; a counter
   that only grows, to see whether one ended since it was last read). */
unsigned long session_messages(const struct smtp_session *s);

/* The code of this connection's greeting (0 before it, or when it was malformed). */
int session_greeting_code(const struct smtp_session *s);

/* Closes the connection without QUIT. */
void session_disconnect(struct smtp_session *s, const char *why);

enum smtp_phase session_phase(const struct smtp_session *s);
const char *session_phase_name(enum smtp_phase p);
bool session_connected(const struct smtp_session *s);
bool session_tls(const struct smtp_session *s);
/* Under TLS with a verified certificate (not just --insecure)? */
bool session_tls_verified(const struct smtp_session *s);
/* Under TLS, and a client certificate was sent (the server asked, --cert gave one)? */
bool session_tls_client_cert(const struct smtp_session *s);
/* Is the peer a loopback address (127.0.0.0/8, ::1) or a UNIX-domain socket (this host)? */
bool session_peer_loopback(const struct smtp_session *s);
/* After a 334 reply to AUTH: the next line is a SASL response (a secret), not a command. */
bool session_in_auth(const struct smtp_session *s);
/* Is a reply still owed for a command whose wait was interrupted or timed out? */
bool session_reply_pending(const struct smtp_session *s);
const char *session_host(const struct smtp_session *s);
const char *session_port(const struct smtp_session *s);
const struct smtp_caps *session_caps(const struct smtp_session *s);
/* How the current (or last) connection was asked to do TLS. */
enum tls_mode session_tls_mode(const struct smtp_session *s);
/* The numeric address and port connected to ("" and 0 before any connection). */
const char *session_peer_addr(const struct smtp_session *s);
unsigned session_peer_port(const struct smtp_session *s);
/* SMTP bytes received and sent on this connection (after TLS decryption). */
unsigned long long session_bytes_in(const struct smtp_session *s);
unsigned long long session_bytes_out(const struct smtp_session *s);
/* The --timeout in milliseconds (also the limit of a --password-command). */
int session_timeout_ms(const struct smtp_session *s);
/* The CA file the session trusts (session_params' cafile), or NULL for the system store; the
   name of its automatic EHLO. For \check, which opens connections of its own alike. */
const char *session_cafile(const struct smtp_session *s);
const char *session_ehlo_name(const struct smtp_session *s);
/* -4 / -6 (CONN_V4, CONN_V6), or CONN_ANY. */
enum conn_family session_family(const struct smtp_session *s);
/* After a 235 reply to AUTH on this connection: the mechanism, and the user name when the
   exchange showed it (PLAIN, LOGIN, CRAM-MD5, XOAUTH2; "" otherwise). NULL when not
   authenticated. The password is never kept. */
const char *session_auth_user(const struct smtp_session *s);
const char *session_auth_mech(const struct smtp_session *s);
/* The OpenSSL connection under TLS (borrowed, valid until the connection ends), or NULL when
   plaintext: for --check, which reads facts of the certificate and the cipher from it. */
struct ssl_st *session_ssl(const struct smtp_session *s);
/* One line on the TLS of the connection ("TLSv1.3 TLS_AES_256_GCM_SHA384, certificate
   verified (CN=localhost)"), or nothing when plaintext. */
void session_tls_summary(const struct smtp_session *s, struct buf *out);
/* The message of the last failure. */
const char *session_error(const struct smtp_session *s);
/* Describes the protection of the connection for \tls (several lines). */
void session_describe_tls(const struct smtp_session *s, struct buf *out);
/* \tls save: writes the chain the server sent as PEM files into dir (tls_chain_save), one
   line per file to report. The number of files, or -1 (the message in session_error()). */
int session_tls_save(struct smtp_session *s, const char *dir, struct buf *report);

#endif
