/*
 * smtpsh --practice/--serve --like PROVIDER (or \practice like PROVIDER): the practice server
 * behaves like a provider's submission server: its host name, its ports (587 STARTTLS, 465
 * implicit TLS), AUTH required before MAIL and offered only after STARTTLS, and the provider's
 * own reply codes and texts for each misstep. Pure data: one table of providers, one table of
 * replies (one row per provider and situation); smtpd.c asks it, nothing here does I/O.
 */
#ifndef SMTPSH_PRACTICE_LIKE_H
#define SMTPSH_PRACTICE_LIKE_H

#include <stdbool.h>
#include <stddef.h>

/* The missteps (and the greeting) whose reply a provider words its own way. */
enum like_situation {
	LIKE_GREETING,	      /* the 220 after the connection ("%s": the host name) */
	LIKE_EHLO,	      /* the first line of the 250 to EHLO ("%s": host, then the peer) */
	LIKE_NEED_TLS,	      /* MAIL (or RCPT, DATA...) before STARTTLS */
	LIKE_AUTH_BEFORE_TLS, /* AUTH before STARTTLS (AUTH is offered only under TLS) */
	LIKE_NEED_AUTH,	      /* MAIL before a successful AUTH */
	LIKE_AUTH_FAILED,     /* a wrong user name or password */
	LIKE_BASIC_AUTH_OFF,  /* basic-auth off: a password login is refused outright */
	LIKE_APP_PASSWORD,    /* app-password on: the account password, not an app password */
	LIKE_SENDAS_DENIED,   /* sendas-denied on: MAIL FROM is not the logged-in user's */
	LIKE_AUTH_MECH,	      /* AUTH with a mechanism the provider does not offer */
	LIKE_SITUATIONS
};

struct like_provider {
	const char *name;     /* "office365" */
	const char *hostname; /* in the greeting and EHLO: "smtp.office365.com" */
	const char *ports;    /* the port style, for the startup lines and docs */
	bool implicit_tls;    /* also 465, implicit TLS (--serve listens on a second port) */
	bool sendas_at_data;  /* sendas-denied is refused after the message, not at MAIL */
	/* The mechanisms of the provider's "250-AUTH" line, in its order, limited to those the
	   practice server implements (smtpd.c also drops XOAUTH2 and OAUTHBEARER when no
	   sign-in server issues tokens); AUTH with any other gets LIKE_AUTH_MECH. */
	const char *auth;
};

/* The provider called name (case-insensitive), or NULL. */
const struct like_provider *like_find(const char *name);
/* The providers' names, NULL-terminated (the choices of the setting "like"). */
extern const char *const like_provider_names[];

/*
 * The provider's reply to a situation: its lines joined by "\n", each "CODE[ -]ENH text" as
 * sent (a multi-line reply is several lines, all but the last with "-"), or NULL when the
 * provider has no text of its own for it (the practice server's reply is used).
 * LIKE_GREETING and LIKE_EHLO hold one "%s" (the host name).
 */
const char *like_reply(const struct like_provider *p, enum like_situation s);

#endif
