/* EHLO capabilities (RFC 5321 section 4.1.1.1), pure. */
#ifndef SMTPSH_CAPS_H
#define SMTPSH_CAPS_H

#include <stdbool.h>
#include <stddef.h>

#define CAPS_MAX 256 /* keywords kept from one EHLO reply; more are ignored */

struct smtp_cap {
	char *name;   /* keyword, upper-cased ("AUTH", "SIZE", "8BITMIME") */
	char *params; /* what follows the keyword and its separating blanks, or "" */
};

struct smtp_caps {
	bool known;            /* an EHLO reply was parsed since the last clear */
	char *greeting;        /* text of the first line ("mail.example Hello x"), or NULL */
	struct smtp_cap *items;
	size_t n;
};

void caps_init(struct smtp_caps *c);
/* Forgets everything (before a new EHLO, after STARTTLS). */
void caps_clear(struct smtp_caps *c);

/*
 * Adds one line of a 250 reply to EHLO. text/len is the whole reply line as received
 * ("250-SIZE 1000", "250 STARTTLS"); first says it is the reply's first line, which names
 * the server and is not a capability. The old "AUTH=LOGIN PLAIN" form counts as AUTH.
 * Sets known. Returns 0, or -1 when memory ran out. Malformed lines are skipped.
 */
int caps_add_line(struct smtp_caps *c, const char *text, size_t len, bool first);

/* The capability named name (case-insensitive), or NULL. */
const struct smtp_cap *caps_find(const struct smtp_caps *c, const char *name);
bool caps_has(const struct smtp_caps *c, const char *name);
/* True when capability name lists word among its blank-separated params (case-insensitive):
   caps_has_param(c, "AUTH", "PLAIN"). */
bool caps_has_param(const struct smtp_caps *c, const char *name, const char *word);
/* The SIZE limit in octets: 0 when SIZE is advertised with a number (stored in *out),
   -1 when absent or without a number (RFC 1870: "SIZE" alone or "SIZE 0" means no limit,
   then *out is 0 and the return 0). */
int caps_size(const struct smtp_caps *c, unsigned long long *out);

#endif
