/*
 * What check.c (the engine and the report) and check_probes.c (the checks) share. Not a
 * public header. Include it after "smtpsh/check.h".
 */
#ifndef SMTPSH_CHECK_INT_H
#define SMTPSH_CHECK_INT_H

#include <poll.h>
#include <stdarg.h>
#include <stdio.h>

#include "smtpsh/client.h"
#include "smtpsh/conn.h"
#include "smtpsh/render.h"
#include "smtpsh/session.h"

/* What the first plaintext (or implicit TLS) EHLO showed, for the checks that follow. */
struct check_seen {
	bool greeted; /* 220: the other checks may run */
	bool ehlo_ok;
	bool starttls;
	char auth_plain[256]; /* AUTH mechanisms offered before TLS ("" none) */
	char auth_tls[256];   /* ... and under TLS */
	bool auth_tls_known;
};

struct check_ctx {
	const struct check_options *o;
	struct check_report *report;
	struct check_seen seen;
};

/* One entry of the registry: what a group of checks is and what it sends. */
struct check_def {
	const char *area;
	const char *names; /* the findings it makes (their JSON names) */
	const char *sends;
	void (*run)(struct check_ctx *x, size_t arg); /* one job: arg 0..jobs-1 */
	size_t jobs;
	bool first; /* runs alone, before the others: they need what it learns */
};
const struct check_def *check_defs(size_t *n);
void check_probes_run(struct check_ctx *x);

/* One piece of work that needs only what x->seen holds: a check group, or one smuggling
   variant (arg). */
struct check_job {
	void (*run)(struct check_ctx *x, size_t arg);
	size_t arg;
};
#define CHECK_PARALLEL_MAX 4 /* connections at once (the limit) */
/*
 * Runs the jobs, at most CHECK_PARALLEL_MAX at once, each in a child process of its own (a
 * fork: the sessions share nothing, and a crash costs one job). A child sends its findings
 * back through a pipe; they are added to the report in the order of the jobs, whatever the
 * order they finish in. A job that cannot be forked runs here.
 */
void check_run_parallel(struct check_ctx *x, const struct check_job *jobs, size_t n);

#define PROBE_REPLIES_MAX 16

/* One connection of a check: the session, the renderer writing its events to memory (the
   evidence), and what the listener noticed. */
struct probe {
	struct check_ctx *x;
	struct smtp_session *s;
	struct render render;
	FILE *mem;
	char *memdata;
	size_t memlen;
	long greet_ms;
	struct buf banner;
	int tls_unsolicited; /* replies received under TLS that no command asked for */
	bool discarded;	     /* the session discarded bytes sent after 220 to STARTTLS */
	bool closed;
	bool counting; /* count complete replies into replies[] */
	int replies[PROBE_REPLIES_MAX];
	size_t nreplies;
	char why[256];	  /* why the probe could not go on, when the session does not say */
	size_t mark;	  /* the evidence of the next finding starts here (probe_mark) */
	const char *grep; /* non-NULL: the evidence is only the lines that hold this */
};

/* Connects (TLS mode as given) with a fresh session whose events become the evidence.
   ocsp: ask for a stapled OCSP response. */
enum session_status probe_open(struct probe *p, struct check_ctx *x, enum tls_mode mode, bool ocsp);
/* probe_open with the TLS controls (tlsctl.h) given: versions and ciphers offered. */
enum session_status probe_open_tls(struct probe *p, struct check_ctx *x, enum tls_mode mode,
				   const struct tls_controls *ctl);
/* probe_open to one MX host (session_connect_mx: its address, its name, DANE's TLSA). */
enum session_status probe_open_mx(struct probe *p, struct check_ctx *x, const struct session_mx *mx,
				  enum tls_mode mode);
enum session_status probe_cmd(struct probe *p, const char *line, struct smtp_reply *reply);
/* EHLO unless the session knows the capabilities already; a refusal is SESSION_ERR_STATE
   with p->why set. */
enum session_status probe_ehlo(struct probe *p);
/* The evidence of the findings that follow starts now (the conversation before it belongs
   to other findings); returns the position, which a check may put back in p->mark. */
size_t probe_mark(struct probe *p);
/* Shows what the server sends unasked within ms. */
void probe_listen(struct probe *p, int ms);
/* QUIT (when possible), then everything of the probe is freed. */
void probe_close(struct probe *p);
/* Adds a finding with the probe's conversation since the mark as its evidence. */
__attribute__((format(printf, 6, 7))) void probe_verdict(struct probe *p, const char *area,
							 const char *name, const char *sends,
							 enum check_verdict v, const char *fmt,
							 ...);
__attribute__((format(printf, 6, 0))) void probe_vverdict(struct probe *p, const char *area,
							  const char *name, const char *sends,
							  enum check_verdict v, const char *fmt,
							  va_list ap);
/* The finding could not be decided: the session's error (or p->why) says why. */
void probe_undecided(struct probe *p, const char *area, const char *name, const char *sends,
		     enum session_status st);
/* A finding without a connection of its own (derived from what others saw). */
__attribute__((format(printf, 6, 7))) struct check_result *
check_add(struct check_ctx *x, const char *area, const char *name, const char *sends,
	  enum check_verdict v, const char *fmt, ...);

#endif
