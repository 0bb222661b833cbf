/*
 * What a line of input does, the same for the REPL and batch mode: a local (backslash)
 * command, message content inside DATA, or an SMTP command sent through the session.
 */
#ifndef SMTPSH_SHELL_H
#define SMTPSH_SHELL_H

#include <stdbool.h>
#include <stddef.h>

#include "smtpsh/exit.h"
#include "smtpsh/render.h"
#include "smtpsh/session.h"
#include "smtpsh/transcript.h"
#include "smtpsh/diagram.h"

struct profile;
struct profile_set;

struct practice; /* smtpsh --practice (practice.h) */
struct shell;	 /* opaque outside src/ui/ (its fields: src/ui/shell_int.h) */

/* Where a local command may run, and how its line is taken (the flags of its row). */
enum shell_local_flag {
	/* Inside DATA, and only there (inside DATA the others are message content). */
	LOCAL_IN_DATA = 1u << 0,
	/* While \pipeline collects commands: it sends nothing. */
	LOCAL_IN_PIPELINE = 1u << 1,
	/* The line may hold a secret: kept out of the history, wiped. */
	LOCAL_SECRET_ARGS = 1u << 2,
	/* argv[1] is the rest of the line as typed (no word splitting). */
	LOCAL_RAW_ARGS = 1u << 3,
	/* Inside DATA as well as outside it (\raw: inside DATA its bytes go into the message). */
	LOCAL_ANY_PHASE = 1u << 4,
};

/*
 * The local (backslash) commands as the shell sees them. The shell decides what a line is and
 * hands a local command over; src/ui/meta.c holds the table and the commands, which stand on
 * the shell (they record failures, connect, send a pipeline). shell_new() gets them (main.c
 * passes meta_local_commands), so the shell needs nothing of the table above it.
 */
struct shell_local_commands {
	/* Runs line (it starts with a backslash); false when it names no local command. */
	bool (*run)(struct shell *sh, const char *line);
	/* The flags (enum shell_local_flag) of the command called name (without backslash);
	   0 when it names none. */
	unsigned (*flags)(const char *name);
	/* Does line (it starts with a backslash) hold a secret because of what its arguments
	   say (\raw AUTH PLAIN ...)? Masked while typed, kept out of the history. */
	bool (*holds_secret)(const struct shell *sh, const char *line);
};

/* What the shell is made with (shell_new copies it; what the pointers name is borrowed and
   must outlive the shell). */
struct shell_params {
	struct smtp_session *session;
	struct render *render;
	const struct shell_local_commands *local; /* not NULL */
	struct transcript_writer *rec;		  /* \record / --record, or NULL */
	struct diagram_live *live;		  /* the session so far, for \diagram, or NULL */
	bool batch;				  /* stop at network/TLS failures */
	bool strict;		   /* also stop at 4xx/5xx replies and protocol errors */
	enum tls_mode mode;	   /* default for \connect */
	struct session_link link;  /* default for \connect: --lmtp, --proxy, --sni */
	bool allow_plaintext_auth; /* allow AUTH without TLS to a host that is not loopback */
	/* From the profile smtpsh started with, for \auth; NULL when not set. */
	const char *default_user;     /* the user name */
	const char *default_mech;     /* the SASL mechanism */
	const char *password_command; /* a command whose output is the password
					 (--password-command, else the profile's) */
	const char *token_command;    /* --oauth-token-command: prints the XOAUTH2 token */
	/* The profile smtpsh started with, for OAuth2 (\oauth, the stored token), or NULL. */
	const struct profile *oauth_profile;
	/* The user's profiles (for \presets) and the file they came from (may be NULL). */
	const struct profile_set *profiles;
	const char *profiles_path;
	struct practice *practice; /* the practice server of --practice, or NULL */
	const char *resolver;	   /* --resolver ADDR[@PORT], or NULL: the system's */
	const char *trust_anchor;  /* --trust-anchor FILE, or NULL: the system's root key */
	/* --ehlo, --timeout were given on the command line: they win over a \connect
	   PROFILE's ehlo and timeout, as over smtpsh PROFILE's */
	bool ehlo_given, timeout_given;
};

/* A new shell on params->session; NULL when memory ran out. */
struct shell *shell_new(const struct shell_params *params);
/* Frees the shell and what it holds (collected pipeline commands); NULL is fine. */
void shell_free(struct shell *sh);

/* The settings the command line gives, set after the rc file ran: explain, timing and show-raw
   are turned on over what the rc file's \set said (never off); pipeline (--pipeline) and step
   (--step) hold from now on (the rc file's lines run without them). Applies them
   (shell_apply_settings). */
struct shell_options {
	bool explain, timing, show_raw, pipeline, step;
};
void shell_set_options(struct shell *sh, const struct shell_options *o);

/* The exit status so far, and whether the shell is done (\quit, or a failure that ends a
   batch). */
int shell_status(const struct shell *sh);
bool shell_done(const struct shell *sh);
/* Ends the shell before it ran with status (a local failure of the start, as --record's). */
void shell_end(struct shell *sh, int status);

/* Copies the settings (explain, timing, show-raw) to the renderer and the transcript writer. */
void shell_apply_settings(struct shell *sh);

/* \pipeline: starts collecting commands; false (with an error shown) when not possible. */
bool shell_pipeline_start(struct shell *sh);
/* Sends the collected commands in one write and shows their replies (\end). */
void shell_pipeline_flush(struct shell *sh);
/* Drops the collected commands (\cancel). */
void shell_pipeline_cancel(struct shell *sh);

/* Runs one line of input (len bytes; it may hold a NUL, which is refused). */
void shell_execute(struct shell *sh, const char *line, size_t len);

/* Ctrl-D / end of input: QUIT when connected and not in DATA, then done. */
void shell_end_of_input(struct shell *sh);

/* Sends QUIT if connected (outside DATA) and waits for the 221; then done. */
void shell_quit(struct shell *sh);

/* Connects as \connect and the command line do (a connection already open gets QUIT first);
   updates the status on failure. */
void shell_connect(struct shell *sh, const char *host, const char *port, enum tls_mode mode);

/*
 * --mx / \connect --mx: looks up where mail for domain goes (RFC 5321 5.1: MX by preference,
 * the implicit MX, the null MX of RFC 7505) with the DNSSEC state of each answer, shows the
 * route, then connects to its hosts in order until one answers, with DANE (RFC 7672) where
 * the TLSA records are secure, else under the domain's MTA-STS policy (RFC 8461, fetched
 * beside the route; enforce skips unlisted hosts), else opportunistic STARTTLS (RFC 7435)
 * verified as always.
 * port NULL: 25 (also the TLSA name's _25._tcp). The lookups are bounded by the timeout and
 * stop at Ctrl-C. A null MX is a refusal (exit status 1, EXIT_REPLY, in a batch); a failed
 * lookup a network failure (3); hosts refused by DANE or MTA-STS a TLS failure (4).
 */
void shell_connect_mx(struct shell *sh, const char *domain, const char *port, enum tls_mode mode);

/*
 * \dns [DOMAIN]: what DNS says about mail for domain (NULL: the last --mx domain, else the
 * connected host's domain): the MX route with each host's addresses, TLSA records at
 * _25._tcp.HOST and DANE verdict, the MTA-STS record and policy, TLS-RPT, SPF and DMARC;
 * every answer with its DNSSEC state, every record escaped and bounded.
 */
void shell_show_dns(struct shell *sh, const char *domain);

/* Records a session failure: sets the exit status, ends a batch when it must. */
void shell_failed(struct shell *sh, enum session_status st);

/* A local error (a usage error, a refusal decided here, out of memory): says it as
   render_error does, then records it as shell_failed(SESSION_ERR_LOCAL) does (a batch stops
   with exit status 2; the REPL goes on). */
void shell_error(struct shell *sh, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Is the line a secret (an answer inside an AUTH exchange, an AUTH initial response, a
   local command whose arguments may be secrets such as \b64)? Such lines stay out of the
   history and are wiped. */
bool shell_line_is_secret(const struct shell *sh, const char *line);

/* May AUTH be sent now (sasl_plaintext_allowed)? If not, says why and records a failure. */
bool shell_auth_allowed(struct shell *sh);

/* Records a reply to a command: with --strict a 4xx/5xx stops the batch (exit status 1). */
void shell_check_reply(struct shell *sh, const struct smtp_reply *rep);

/* A refusal decided before sending, on the server's own terms (a message over its SIZE, a
   non-ASCII address without SMTPUTF8): said, then treated as a 5xx reply would be (--strict
   stops the batch with exit status 1; otherwise it goes on). */
void shell_refused(struct shell *sh, const char *why);

/* Inside a BDAT chunk (session_bdat_open): line's octets plus CRLF go into it, cut where
   the chunk ends; the chunk complete, its reply is awaited and checked. */
void shell_chunk_line(struct shell *sh, const char *line, size_t len);
/* The open chunk is complete: its reply, checked as any reply is (shell_check_reply). */
void shell_chunk_reply(struct shell *sh);

/*
 * What a script means is decided by the script, not by the server's reply: after its DATA
 * line, everything up to the lone "." is message content, even when the server refused DATA.
 * A batch script and --replay call shell_skip_begin when their DATA got no 354 (code: the
 * reply, 0 when none came); the lines that follow go to shell_skip_line, which counts them
 * (nothing is sent or run) and at the "." says how many were skipped and why.
 */
void shell_skip_begin(struct shell *sh, int code);
bool shell_skipping(const struct shell *sh);
void shell_skip_line(struct shell *sh, const char *line, size_t len);

#endif
