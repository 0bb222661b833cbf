/*
 * The SMTP verbs smtpsh knows: one table, one row per verb, for completion, \help and the
 * client engine (client.c classifies a command line by the row whose name or alias it starts
 * with, and the row's kind decides what its reply does). Pure data.
 */
#ifndef SMTPSH_VERBS_H
#define SMTPSH_VERBS_H

#include <stdbool.h>
#include <stddef.h>

/* What a reply answers: decides its effect in the client engine (client.c). The SMTP verbs
   that change the state have a kind of their own (their rows in smtp_verbs[] name it); the
   others are moments of the conversation. */
enum client_verb {
	VERB_GREETING,
	VERB_EHLO, /* EHLO, and LHLO (RFC 2033) */
	VERB_HELO,
	VERB_STARTTLS,
	VERB_AUTH,
	VERB_AUTH_DATA, /* a line answering a 334 challenge */
	VERB_MAIL,
	VERB_RCPT,
	VERB_DATA,
	VERB_BDAT, /* a chunk of the message (RFC 3030); the LAST one ends it */
	VERB_DOT,  /* the "." that ends the message content */
	VERB_RSET,
	VERB_QUIT,
	VERB_XCLIENT, /* Postfix XCLIENT: its 220 reply is a new greeting */
	VERB_OTHER,   /* a verb without effect on the state (NOOP, VRFY...), or one not known */
};

/* Which protocol a verb belongs to (RFC 2033 4.1: LMTP has LHLO and neither HELO nor EHLO). */
enum verb_dialect {
	VERB_BOTH,
	VERB_SMTP_ONLY,
	VERB_LMTP_ONLY,
};

/* Phases where a verb makes sense, as bits of 1 << enum smtp_phase. */
#define VERB_IN(p) (1u << (p))

struct smtp_verb {
	const char *name;
	const char *syntax;
	const char *summary;
	const char *details; /* what it does, a few sentences for \help VERB */
	const char *replies; /* the replies to expect */
	const char *rfc;
	const char *example;
	unsigned phases;	   /* VERB_IN(...) bits */
	const char *needs_cap;	   /* offered first only when the server advertised this, or NULL */
	enum client_verb kind;	   /* what its reply does (client.c) */
	const char *alias;	   /* another name the server reads the same way, or NULL; not
				      completed, not in \help */
	enum verb_dialect dialect; /* offered by completion in SMTP, in LMTP, or both */
};

extern const struct smtp_verb smtp_verbs[];
extern const size_t smtp_verb_count;

/* The verb named name (case-insensitive, a prefix of a line up to a blank is fine), or NULL. */
const struct smtp_verb *verb_find(const char *name, size_t len);

#endif
