/*
 * smtpsh's command line: the options (getopt_long), the SMTPSH_* variables that stand for
 * options, the checks of what goes together, and the usage text of --help. Nothing runs here:
 * main() gets the options in a struct and what to do with them.
 */
#ifndef SMTPSH_CLI_H
#define SMTPSH_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "smtpsh/diagram_cmd.h"
#include "smtpsh/practice.h"
#include "smtpsh/proto.h"
#include "smtpsh/replay.h"
#include "smtpsh/send.h"
#include "smtpsh/tlsctl.h"

/* What the command line (or the environment) asked for; NULL / false / 0: not given. */
struct cli_options {
	const char *cafile;
	const char *ehlo;
	const char *color;
	const char *theme; /* --theme: a name render_theme_parse knows */
	int timeout_ms; /* --timeout / SMTPSH_TIMEOUT, in milliseconds */
	const char *profile;
	const char *script;
	enum tls_mode mode;
	bool mode_set;
	bool insecure;
	bool strict;
	bool allow_plaintext_auth;
	bool no_rc;
	bool list_profiles;
	enum conn_family family;
	bool lmtp;		  /* --lmtp */
	int proxy;		  /* --proxy v1|v2: 1 or 2 */
	const char *proxy_from;	  /* --proxy-from ADDR:PORT */
	const char *sni;	  /* --sni NAME */
	bool ocsp;		  /* --ocsp */
	bool resume;		  /* --resume */
	bool mx;		  /* --mx: HOST is a mail domain, connect to its MX */
	const char *resolver;	  /* --resolver ADDR[@PORT] */
	const char *trust_anchor; /* --trust-anchor FILE */
	struct tls_controls tls;  /* --tls-min, --ciphers, --cert... (tlsctl.h) */
	bool explain, timing, show_raw, pipeline, step;
	const char *record;
	struct replay_options replay;
	const char *password_command;
	const char *token_command;
	const char *oauth_login; /* --oauth-login PROFILE: sign in (\oauth login) and leave */
	bool send;			      /* --send: one message, then leave */
	const char *send_only;		      /* the name of an option given that needs --send */
	const char *auth;		      /* --auth MECH|auto */
	const char *user;		      /* --user */
	struct send_opts *message;	      /* --from, --to... */
	bool practice;			      /* --practice */
	struct practice_options practice_opt; /* --serve, --listen, --maildir */
	struct diagram_request diagram;	      /* --diagram FILE, -o, --format, --width, --notes */
	const char *diagram_only;	      /* the name of an option given that needs --diagram */
	bool check;			      /* --check: audit HOST [PORT] */
	const char *role;		      /* --role mx|submission */
	bool json;			      /* --json: the --check report as JSON */
	const char *check_rcpt;		      /* --check-rcpt ADDRESS */
};

struct cli {
	struct cli_options opt; /* the command line */
	struct cli_options env; /* SMTPSH_CAFILE, SMTPSH_TIMEOUT, SMTPSH_EHLO, SMTPSH_COLOR */
	int histsize;		/* SMTPSH_HISTSIZE, else the default */
	char **args;		/* the operands: HOST [PORT], PROFILE [PORT], or --serve's PORT */
	int nargs;
	struct send_opts message; /* what --from, --to... describe (opt.message points here) */
};

/* What main() does after cli_parse. */
enum cli_action {
	CLI_RUN,     /* connect (or not), then the shell, a batch, --send or --replay */
	CLI_SERVE,   /* --serve: the practice server alone, opt.practice_opt says how */
	CLI_DIAGRAM, /* --diagram: draw a transcript, opt.diagram says how */
	CLI_EXIT,    /* leave with the exit status given: --help, --version, or a usage error
			(already said on stderr) */
};

void cli_init(struct cli *c);
void cli_free(struct cli *c);

/*
 * Parses argv and the environment into c and checks what must go together; says what is
 * wrong on stderr. On CLI_EXIT, *status is the exit status (0 after --help and --version,
 * EXIT_USAGE else). --step opens the terminal here (step_open): without one it cannot work.
 */
enum cli_action cli_parse(struct cli *c, int argc, char **argv, int *status);

/* The text of --help. */
void cli_usage(FILE *f);

#endif
