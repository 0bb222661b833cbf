/*
 * --check: audits a mail server. A table of checks (area, name, what each sends) runs real
 * conversations through the session, each on a connection of its own, and keeps the events of
 * that connection as the screen shows them (the renderer writes them to memory): the evidence
 * of the verdict. A verdict is pass, warn, fail or info; a check whose answer could not be
 * had (no connection, a timeout, a server that hung up in the middle) is "undecided", never a
 * pass. Nothing here prints but check_print_text / check_print_json / check_print_plan.
 */
#ifndef SMTPSH_CHECK_H
#define SMTPSH_CHECK_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "smtpsh/buf.h"
#include "smtpsh/proto.h"

enum check_verdict {
	CHECK_PASS,
	CHECK_WARN,
	CHECK_FAIL,
	CHECK_INFO,
	CHECK_UNDECIDED, /* could not be decided: counts as a failure for the exit status */
	CHECK_SKIPPED,	 /* not run, and why (smuggling without --check-rcpt) */
};

enum check_role {
	CHECK_ROLE_MX,	       /* port 25: receives mail for its domains, no AUTH needed */
	CHECK_ROLE_SUBMISSION, /* 587 / 465: users log in, over TLS only (RFC 8314) */
};

struct check_options {
	const char *host;
	const char *sni;      /* --check --mx: the MX host's name, sent and checked by TLS, while
				 host is the address connected to; NULL: host itself */
	const char *port;     /* NULL: 25 */
	enum check_role role; /* guessed from the port unless role_set */
	bool role_set;	      /* --role */
	bool implicit_tls;    /* port 465 or --tls: TLS from the first byte */
	const char *cafile;   /* trusted CAs, or NULL for the system store */
	int timeout_ms;	      /* per wait; a check that runs into it is undecided */
	enum conn_family family;
	const char *ehlo_name;	/* the name sent with EHLO */
	const char *check_rcpt; /* --check-rcpt: the only mailbox mail is sent to (smuggling) */
	volatile sig_atomic_t *intr;
};

/* One finding: a verdict, one line of why, and the conversation that proves it. */
struct check_result {
	const char *area;  /* "connection", "smtp", "tls", "auth", "relay", "users", "smuggling" */
	const char *name;  /* "greeting", "starttls-offered"... (unique) */
	const char *sends; /* what the check sent, in words */
	enum check_verdict verdict;
	char why[512];
	struct buf evidence; /* the screen's lines (escaped), one per line */
};

struct check_report {
	struct check_result *items;
	size_t n, cap;
	bool connected; /* at least one connection was made (TCP, or the UNIX socket) */
	long elapsed_ms;
};

/* The role of a port when --role is not given: 25 mx; 587 and 465 submission. */
enum check_role check_role_for_port(const char *port);
const char *check_role_name(enum check_role r);
const char *check_verdict_name(enum check_verdict v);

/* What the checks will send, before they start (safety: the user reads it first). */
void check_print_plan(FILE *f, const struct check_options *o);

/* Runs every check against o->host (at most four connections at once). The report is filled in any
   case; free it with check_report_free. */
void check_run(const struct check_options *o, struct check_report *r);
void check_report_free(struct check_report *r);

/* The report grouped by area, with the evidence indented under each finding. */
void check_print_text(FILE *f, const struct check_options *o, const struct check_report *r);
/* The report as one JSON object (schema: docs/check.md). */
void check_print_json(FILE *f, const struct check_options *o, const struct check_report *r);

/* 0 no failure; 1 a failure or an undecided check; 3 no connection could be made at all. */
int check_exit_status(const struct check_report *r);

/* The findings grouped by area and the count line (check_print_text without its header). */
void check_print_findings(FILE *f, const struct check_report *r);
/* Parts of the JSON object: "host", "port"... "summary" (no braces); "checks":[...]. */
void check_print_json_fields(FILE *f, const struct check_options *o, const struct check_report *r);
void check_print_json_checks(FILE *f, const struct check_report *r);
void check_json_string(FILE *f, const char *s); /* a JSON string, every odd byte escaped */

/*
 * --check --mx DOMAIN [PORT]: the MX route of DOMAIN resolved once (mxroute.h, with DNSSEC,
 * DANE and MTA-STS), shown as --mx shows it, findings for the route (area "route"), then the
 * battery of check_run against every MX host (its first address; the MX host is the name
 * TLS checks), each with its DANE and MTA-STS findings. o->host is the domain. Prints the
 * plan and the route to plan (stderr with --json), the report to out. Returns the exit
 * status of --check: 0, 1, or 3 when no MX host could be connected to.
 */
struct dns_params;
int check_mx_run(const struct check_options *o, const struct dns_params *dp, bool json, FILE *plan,
		 FILE *out);

#endif
