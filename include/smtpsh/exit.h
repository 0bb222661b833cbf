/*
 * The exit statuses of smtpsh (documented in docs/reference.md, the man page and --help): the
 * shell's, --send's, --replay's and --serve's. Plain constants, so the practice server can
 * return them without knowing the shell.
 */
#ifndef SMTPSH_EXIT_H
#define SMTPSH_EXIT_H

enum exit_status {
	EXIT_OK = 0,
	EXIT_REPLY = 1, /* --strict: a 4xx/5xx reply */
	EXIT_USAGE = 2, /* bad usage or a local error */
	EXIT_NET = 3,	/* connection failed or lost, timeout */
	EXIT_TLS = 4,	/* TLS failure, STARTTLS impossible when required */
	EXIT_PROTO = 5, /* --strict: the server broke the protocol */
	EXIT_INTERRUPT = 130,
};

#endif
