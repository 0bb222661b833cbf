/*
 * Inside the practice server's state machine: what smtpd.c (the core: lines, commands, the
 * envelope, DATA) uses of smtpd_auth.c (the server side of SASL, RFC 4954).
 *
 * The layering: smtpd_auth.c is the floor and smtpd.c stands on it; nothing calls or includes
 * back up. The auth part knows the exchange (struct smtpd_auth, opaque to the core, which
 * holds a pointer to it) and the account (struct smtpd_account, below), never the connection
 * nor smtpd.h: it does not send a reply, note anything or change the state itself.
 * It returns what should happen (one reply line, an optional note, and whether the exchange
 * goes on, ended or logged the client in), and the core carries that out through its own
 * doors (smtpd_say, which counts errors and reports every line; the one function that changes
 * the state). The checks that need the connection (TLS, HELO, a transaction in progress) are
 * the core's too. So each function of the auth part is a pure step of the exchange, like
 * sasl.c for the client, and a change to how replies are counted or traced stays in one file.
 * Callbacks from the auth part into the core (say, note, set-state through function pointers)
 * were the other choice; they would only hide the same cycle.
 */
#ifndef SMTPSH_SMTPD_INT_H
#define SMTPSH_SMTPD_INT_H

#include <stdbool.h>

/* Nothing of smtpd.h: the auth part sees the exchange and the account, not the connection. */
struct smtpd_auth; /* the exchange in progress (smtpd_auth.c's own) */
struct oauthd_hooks;

/* The demo account (from struct smtpd_config). */
struct smtpd_account {
	const char *hostname; /* in the CRAM-MD5 challenge */
	const char *user;
	const char *password;
	const char *app_password; /* also logs in, or NULL */
	bool app_password_only;	  /* app-password on: the account password is refused */
	bool basic_auth;	  /* off: every password login is refused */
	/* the identity (CN, else e-mail) of the client certificate the practice CA issued and
	   the handshake verified, or "": AUTH EXTERNAL logs in as it (RFC 4422 appendix A) */
	const char *cert_identity;
	/* the practice sign-in server's token check (oauthd.h), or NULL: XOAUTH2 and
	   OAUTHBEARER are offered only with it */
	const struct oauthd_hooks *oauth;
};

/* What the core does after a step of an AUTH exchange. */
enum smtpd_auth_next {
	SMTPD_AUTH_MORE, /* the reply is a 334 challenge: the next line is a response ("auth") */
	SMTPD_AUTH_DONE, /* the exchange is over (or never began) without a login ("command") */
	SMTPD_AUTH_OK,	 /* the client is logged in ("command", 235 in reply) */
};

/* Why a login failed (the core words a provider's reply for it, practice_like.h). */
enum smtpd_auth_failure {
	SMTPD_AUTH_FAIL_NONE,	      /* no login failed (it succeeded, goes on, or never began) */
	SMTPD_AUTH_FAIL_CREDENTIALS,  /* unknown user, wrong password, a malformed response */
	SMTPD_AUTH_FAIL_APP_PASSWORD, /* the account password where an app password is needed */
	SMTPD_AUTH_FAIL_BASIC_AUTH,   /* basic-auth off: no password login at all */
	SMTPD_AUTH_FAIL_SYNTAX,	      /* not base64 (the reply says so already) */
};

struct smtpd_auth_outcome {
	enum smtpd_auth_next next;
	char reply[512]; /* the reply line to send, without CRLF */
	char note[512];	 /* a note for the teacher's screen (why a login failed), or "" */
	enum smtpd_auth_failure failure;
	char why[160]; /* the reason, for the student too: never what the client typed */
};

/*
 * The AUTH command: args is what follows "AUTH " ("mechanism [initial-response]"),
 * NUL-terminated, and may be modified. The caller has checked that AUTH is offered, that
 * HELO/EHLO came first, that no login and no transaction are in progress. *a is NULL before
 * (no exchange); afterwards it holds the exchange exactly when the outcome is MORE.
 */
void smtpd_auth_start(struct smtpd_auth **a, const struct smtpd_account *acct, char *args,
		      struct smtpd_auth_outcome *out);
/* A line received inside the exchange (a base64 response, or "*" to cancel it); *a is
   freed (NULL) unless the outcome is MORE. */
void smtpd_auth_continue(struct smtpd_auth **a, const struct smtpd_account *acct, const char *line,
			 struct smtpd_auth_outcome *out);
/* Ends the exchange in progress (if any), wiping what it held; *a becomes NULL. */
void smtpd_auth_end(struct smtpd_auth **a);

#endif
