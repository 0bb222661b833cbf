/*
 * The practice server's teaching faults and limits, changed at run time with
 * \practice NAME VALUE (from the shell) or NAME VALUE (typed into --serve). Pure: one table
 * of settings drives parsing, the listing and Tab completion.
 */
#ifndef SMTPSH_PRACTICE_SETTINGS_H
#define SMTPSH_PRACTICE_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#include "smtpsh/buf.h"

#define PRACTICE_SIZE_DEFAULT 10240000UL /* the SIZE advertised (as Postfix's default) */
#define PRACTICE_SIZE_MAX (100UL * 1024 * 1024)
#define PRACTICE_SLOW_MAX 60000u      /* ms */
#define PRACTICE_TIMEOUT_DEFAULT 300u /* s, RFC 5321 4.5.3.2.7 */
#define PRACTICE_TIMEOUT_MAX 3600u
#define PRACTICE_REJECT_MAX 256

struct practice_settings {
	bool greylist;			  /* 451 4.7.1 to the first attempt of a triplet */
	unsigned greylist_delay;	  /* seconds before a retry is accepted (0: the next try) */
	char reject[PRACTICE_REJECT_MAX]; /* glob patterns (blank-separated) of refused RCPTs */
	unsigned long size;		  /* SIZE limit in octets */
	bool require_tls;		  /* 530 5.7.0 before STARTTLS */
	bool auth_required;		  /* 530 5.7.0 to MAIL before AUTH */
	bool plain_auth;		  /* offer AUTH without TLS (off: only after STARTTLS) */
	unsigned slow_ms;		  /* delay before every reply */
	char drop_after[12];   /* close without a reply when this verb arrives ("" none) */
	unsigned timeout;      /* idle seconds before 421 4.4.2 */
	char bdat_miscount[8]; /* "short"/"long": read one octet less/more of each BDAT chunk */
	char mailbox_full[PRACTICE_REJECT_MAX]; /* glob patterns of recipients whose mailbox is full
						 */
	/* Faults that smtpsh --check finds (issue 16): */
	bool vrfy_leak;		 /* VRFY says 250 for postmaster and the login, 550 for others */
	bool smuggling;		 /* a "." line ends the data whatever its line ends (bare LF) */
	bool starttls_injection; /* what was pipelined after STARTTLS is run inside TLS */
	bool old_tls;		 /* TLS 1.0 and 1.1 and every suite (anonymous too) accepted */
	bool open_relay;	 /* RCPT to any domain accepted without AUTH (off: 554 5.7.1) */
	/* Provider personalities (issue 17, practice_like.h): */
	char like[12];	    /* "office365", "gmail"...: answer as that provider ("" none) */
	bool basic_auth;    /* a password login is possible (off: refused outright) */
	bool app_password;  /* only the app password logs in, the account password is refused */
	bool sendas_denied; /* MAIL FROM must be the logged-in user's own address */
	/* OAuth2 faults of the practice sign-in server (issue 18, oauthd.h): */
	bool oauth_expired;  /* access tokens expire at once: 334 {"status":"401"...}, 535 */
	char oauth_scope[8]; /* "wrong": tokens issued without the SMTP scope ("" right) */
	bool oauth_revoked;  /* every grant is revoked: a refresh gets invalid_grant */
};

void practice_settings_defaults(struct practice_settings *s);

/*
 * Applies "NAME VALUE" (value may hold several words for reject). Returns 0 and a
 * confirmation in msg ("greylist is on: ..."), or -1 and the reason in msg. "reset" alone
 * (value NULL or "") restores the defaults.
 */
int practice_settings_set(struct practice_settings *s, const char *name, const char *value,
			  struct buf *msg);

/* One line per setting: "greylist      off    451 4.7.1 to the first attempt ...". */
void practice_settings_describe(const struct practice_settings *s, struct buf *out);

/* The setting names (and "reset"), for completion; returns how many were put in out. */
size_t practice_setting_names(const char **out, size_t max);
/* Values worth offering after a setting's name ("on", "off", verbs...). */
size_t practice_setting_values(const char *name, const char **out, size_t max);

/* Does the address match one of the reject patterns (case-insensitive globs)? */
bool practice_settings_rejects(const struct practice_settings *s, const char *addr);
/* Does the address match one of the mailbox-full patterns? */
bool practice_settings_mailbox_full(const struct practice_settings *s, const char *addr);

#endif
