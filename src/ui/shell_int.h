/*
 * The shell's state, for the files of src/ui/ only: outside them (main.c, cli.c) struct shell
 * is opaque and made with shell_new() from struct shell_params (shell.h).
 */
#ifndef SMTPSH_SHELL_INT_H
#define SMTPSH_SHELL_INT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "smtpsh/proto.h"
#include "smtpsh/render.h"
#include "smtpsh/session.h"
#include "smtpsh/transcript.h"

/* Not shell.h: the shell's own header stays above this one (no circle of includes). */
struct practice;
struct dns_ctx;
struct profile;
struct profile_set;
struct shell_local_commands;

struct shell {
	struct smtp_session *session;
	struct render *render;
	const struct shell_local_commands *local;
	bool batch;           /* stop at network/TLS failures */
	bool strict;          /* also stop at 4xx/5xx replies and protocol errors */
	enum tls_mode mode;   /* default for \connect */
	struct session_link link; /* default for \connect (--lmtp...); strings outlive sh */
	int status;           /* exit status so far */
	bool done;            /* \quit, or a failure that ends a batch */
	volatile sig_atomic_t *interrupted;
	bool reveal_secrets;       /* show AUTH payloads instead of <redacted> (\set) */
	bool allow_plaintext_auth; /* allow AUTH without TLS to a host that is not loopback */
	/* From the profile smtpsh started with, for \auth; NULL when not set. */
	const char *default_user;     /* the user name */
	const char *default_mech;     /* the SASL mechanism */
	const char *password_command; /* a command whose output is the password
					 (--password-command, else the profile's) */
	const char *token_command;    /* --oauth-token-command: prints the XOAUTH2 token */
	/* What smtpsh started with, for \connect HOST after a \connect PROFILE took the
	   profile's: a profile's password command never follows the user to another host. */
	struct {
		const char *user, *mech, *password_command;
		const struct profile *oauth_profile;
		char *cafile; /* the session's CA file at start (malloc'd), or NULL */
		char *ehlo;   /* the session's EHLO name at start (malloc'd) */
		int timeout_ms;
	} start;
	bool ehlo_given, timeout_given; /* on the command line: a profile's does not win */
	/* The user's profiles (for \presets) and the file they came from (may be NULL). */
	const struct profile_set *profiles;
	const char *profiles_path;
	/* \set settings the renderer follows (shell_apply_settings copies them to it). */
	bool explain;  /* --explain: the meaning of every reply code beside it */
	bool timing;   /* --timing: milliseconds beside replies, connect and handshake */
	bool show_raw; /* line ends (CRLF, bare LF) shown */
	bool prompt_compact; /* \set prompt compact: the phase without host and port */
	bool pipeline_auto; /* --pipeline: group MAIL/RCPT/RSET with what follows when offered */
	bool step;          /* --step: wait for Enter (on the terminal) before each command */
	bool step_quit;	    /* q at a --step pause: the line shown was not run */
	bool hint_quit;	    /* "quit" typed at the prompt: after its reply, say \quit leaves */
	struct transcript_writer *rec; /* \record / --record (set by main), or NULL */
	struct diagram_live *live;     /* the session so far, for \diagram (set by main), or NULL */
	/* Commands collected for one pipelined write (\pipeline, or --pipeline). */
	bool pipe_collecting; /* \pipeline was typed: collect until DATA or \end */
	size_t pipe_n;
	char *pipe_lines[SESSION_PIPELINE_MAX];
	char *pipe_shown[SESSION_PIPELINE_MAX];
	struct practice *practice; /* the practice server of --practice, or NULL */
	int last_code;		   /* the code of the last reply checked (0: none yet) */
	/* Octets of a script's typed BDAT chunk that could not be announced: the lines that
	   make them up are skipped, never sent nor run as commands. */
	unsigned long long chunk_skip;
	/* session_messages() when the result per recipient was last shown (summary.h) */
	unsigned long summary_seen;
	/* DNS (--mx, \dns): the resolver's options, and its context once made (shell_dns) */
	const char *resolver;
	const char *trust_anchor;
	struct dns_ctx *dns;
	char *mx_domain; /* the last --mx domain: \dns's default */
	/* OAuth2 (src/ui/oauth_cmd.c): the profile smtpsh started with (NULL: none), and the
	   access token got for it, in memory only (wiped when replaced or freed). */
	const struct profile *oauth_profile;
	char *oauth_access;
	long long oauth_expires; /* time() when oauth_access expires; 0: unknown */
	/* The message of a script whose DATA the server did not accept: its lines up to the
	   lone "." are skipped, never run (shell_skip_begin). */
	struct {
		bool on;
		int code; /* the reply to DATA, 0 when none came */
		unsigned long lines;
		unsigned long long bytes;
	} skip;
};

/* The line as the screen may show it (a secret masked, into out), for messages about it. */
const char *shell_shown_line(const struct shell *sh, const char *line, char *out, size_t outlen);
/* A script (batch) ended early at line lineno, shown (shell_shown_line, taken before it
   ran): says where and why (the exit status so far), for a lesson that stops. */
void shell_script_stopped(struct shell *sh, unsigned long lineno, const char *shown);

/* The connection being left gets its QUIT (before a new one is made). */
void shell_leave_connection(struct shell *sh);
/* After a connect: records st, and --strict stops at a refusing greeting. */
void shell_connected(struct shell *sh, enum session_status st);

/* The shell's resolver, made on first use (src/ui/mx.c); NULL when it could not start (said). */
struct dns_ctx *shell_dns(struct shell *sh);

/* ---- OAuth2 (src/ui/oauth_cmd.c) ---- */

/* Does the profile smtpsh started with say how to get an OAuth2 token (a client ID and a
   token endpoint, its own or its preset's)? Then \auth XOAUTH2/OAUTHBEARER use the store. */
bool oauth_configured(const struct shell *sh);
/*
 * The access token for \auth (*token malloc'd: the caller wipes it): the one in memory while
 * it has more than a minute left, else a new one got with the stored refresh token (a rotated
 * refresh token is stored at once, under the store's lock). false after an error was shown
 * (none stored; the provider refused it: log in again; the endpoint failed).
 */
bool oauth_token_for_auth(struct shell *sh, char **token);
/* Forgets and wipes the access token in memory. */
void oauth_forget(struct shell *sh);
/* \oauth status | logout */
void oauth_cmd(struct shell *sh, int argc, char **argv);

/* mx.c, shared with --check --mx (check_mx.c): the route as local lines (the MX answer, then
   each host with its addresses and DANE verdict); the usable TLSA records of a host whose
   verdict is DANE_APPLIES, parsed (pointing into its answer), at most max. */
struct mx_route;
struct mx_host;
struct dns_tlsa;
void mx_show_route(struct render *rd, const struct mx_route *r);
size_t mx_usable_tlsa(const struct mx_host *h, struct dns_tlsa *out, size_t max);

#endif
