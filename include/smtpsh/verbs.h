/* The SMTP verbs smtpsh knows: one table for completion and \help (pure data). */
#ifndef SMTPSH_VERBS_H
#define SMTPSH_VERBS_H

#include <stdbool.h>
#include <stddef.h>

/* Phases where a verb makes sense, as bits of 1 << enum smtp_phase. */
#define VERB_IN(p) (1u << (p))

struct smtp_verb {
	const char *name;
	const char *syntax;
	const char *summary;
	const char *details;  /* what it does, a few sentences for \help VERB */
	const char *replies; /* the replies to expect */
	const char *rfc;
	const char *example;
	unsigned phases;        /* VERB_IN(...) bits */
	const char *needs_cap;  /* offered first only when the server advertised this, or NULL */
};

extern const struct smtp_verb smtp_verbs[];
extern const size_t smtp_verb_count;

/* The verb named name (case-insensitive, a prefix of a line up to a blank is fine), or NULL. */
const struct smtp_verb *verb_find(const char *name, size_t len);

#endif
