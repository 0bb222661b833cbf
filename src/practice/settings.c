#include "smtpsh/practice_settings.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtpsh/practice_like.h"

/*
 * One table drives everything: parsing (practice_settings_set), the listing
 * (practice_settings_describe) and completion (the values). Each row says where its field is
 * (offsetof, as ui/meta.c's settings) and what kind of value it takes; only the kind decides
 * how a value is read and shown.
 */
enum kind {
	K_BOOL,	    /* a bool: on|off (yes|no, 1|0) */
	K_UINT,	    /* an unsigned in [min, max] */
	K_ULONG,    /* an unsigned long in [min, max] */
	K_TEXT,	    /* a char array: printable ASCII that fits, "off" empties it */
	K_CHOICE,   /* a char array: one of choices (its spelling kept), "off" empties it */
	K_GREYLIST, /* on|off or SECONDS: the bool greylist and greylist_delay together */
};

struct setting {
	const char *name;
	enum kind kind;
	size_t offset;		    /* of the field in struct practice_settings */
	size_t size;		    /* of the field (the room of a char array) */
	unsigned long min, max;	    /* K_UINT, K_ULONG */
	bool off_is_zero;	    /* K_UINT: "off" sets 0, and 0 is shown as "off" */
	const char *unit;	    /* K_UINT, K_ULONG: after the value when shown (" ms") */
	const char *args;	    /* for the listing */
	const char *teaches;	    /* what it does, one line */
	const char *const *values;  /* completion candidates, NULL-terminated */
	const char *const *choices; /* K_CHOICE: the values accepted */
};

#define FIELD(f)                                                                                   \
	.offset = offsetof(struct practice_settings, f),                                           \
	.size = sizeof(((struct practice_settings *)0)->f)

static const char *const on_off[] = {"on", "off", NULL};
static const char *const greylist_values[] = {"on", "off", "60", NULL};
static const char *const drop_values[] = {"connect", "EHLO", "HELO", "LHLO", "STARTTLS", "AUTH",
					  "MAIL",    "RCPT", "DATA", "BDAT", ".",	 "RSET",
					  "NOOP",    "VRFY", "QUIT", "off",  NULL};
static const char *const reject_values[] = {"off", NULL};
static const char *const size_values[] = {"10240000", "1000", NULL};
static const char *const slow_values[] = {"0", "500", "2000", NULL};
static const char *const timeout_values[] = {"300", "10", NULL};

/* The verbs drop-after accepts ("connect": before the greeting, ".": after the message). */
static const char *const drop_verbs[] = {"CONNECT", "EHLO", "HELO", "LHLO", "STARTTLS", "AUTH",
					 "MAIL",    "RCPT", "DATA", "BDAT", ".",	"RSET",
					 "NOOP",    "VRFY", "HELP", "QUIT", NULL};
static const char *const miscount_values[] = {"short", "long", "off", NULL};
static const char *const miscount_choices[] = {"short", "long", NULL};
static const char *const full_values[] = {"off", NULL};
static const char *const scope_values[] = {"wrong", "off", NULL};
static const char *const scope_choices[] = {"wrong", NULL};

static const struct setting table[] = {
    {.name = "greylist",
     .kind = K_GREYLIST,
     .max = 86400,
     .args = "on|off|SECONDS",
     .teaches = "451 4.7.1 to the first try of each (client, sender, recipient); a retry "
		"passes (after SECONDS)",
     .values = greylist_values},
    {.name = "reject",
     .kind = K_TEXT,
     FIELD(reject),
     .args = "PATTERN...|off",
     .teaches = "550 5.1.1 to recipients matching a pattern (glob, e.g. nobody@* *@spam.test)",
     .values = reject_values},
    {.name = "size",
     .kind = K_ULONG,
     FIELD(size),
     .min = 1,
     .max = PRACTICE_SIZE_MAX,
     .unit = "",
     .args = "OCTETS",
     .teaches = "the SIZE limit: 552 5.3.4 to bigger messages",
     .values = size_values},
    {.name = "require-tls",
     .kind = K_BOOL,
     FIELD(require_tls),
     .args = "on|off",
     .teaches = "530 5.7.0 to everything but EHLO/HELO/STARTTLS/NOOP/QUIT before STARTTLS",
     .values = on_off},
    {.name = "auth-required",
     .kind = K_BOOL,
     FIELD(auth_required),
     .args = "on|off",
     .teaches = "530 5.7.0 to MAIL before a successful AUTH",
     .values = on_off},
    {.name = "plain-auth",
     .kind = K_BOOL,
     FIELD(plain_auth),
     .args = "on|off",
     .teaches = "offer AUTH without TLS too (off: AUTH only after STARTTLS, 538 5.7.11 before)",
     .values = on_off},
    {.name = "slow",
     .kind = K_UINT,
     FIELD(slow_ms),
     .min = 0,
     .max = PRACTICE_SLOW_MAX,
     .off_is_zero = true,
     .unit = " ms",
     .args = "MS",
     .teaches = "wait MS milliseconds before every reply (the greeting too)",
     .values = slow_values},
    {.name = "drop-after",
     .kind = K_CHOICE,
     FIELD(drop_after),
     .args = "VERB|connect|.|off",
     .teaches = "close the connection, without a reply, when VERB arrives (\".\": after storing "
		"the message)",
     .values = drop_values,
     .choices = drop_verbs},
    {.name = "timeout",
     .kind = K_UINT,
     FIELD(timeout),
     .min = 1,
     .max = PRACTICE_TIMEOUT_MAX,
     .unit = " s",
     .args = "SECONDS",
     .teaches = "idle time before 421 4.4.2 and a closed connection",
     .values = timeout_values},
    {.name = "bdat-miscount",
     .kind = K_CHOICE,
     FIELD(bdat_miscount),
     .args = "short|long|off",
     .teaches = "read one octet less (short) or more (long) of each BDAT chunk than announced: "
		"the client's next command is glued or cut (RFC 3030 counts octets, not lines)",
     .values = miscount_values,
     .choices = miscount_choices},
    {.name = "mailbox-full",
     .kind = K_TEXT,
     FIELD(mailbox_full),
     .args = "PATTERN...|off",
     .teaches = "452 4.2.2 to matching recipients: at RCPT in SMTP, after the data (that "
		"recipient only) in LMTP",
     .values = full_values},
    {.name = "vrfy-leak",
     .kind = K_BOOL,
     FIELD(vrfy_leak),
     .args = "on|off",
     .teaches = "VRFY tells users apart: 250 for postmaster and the login, 550 5.1.1 for "
		"others (user enumeration; off: 252 to all)",
     .values = on_off},
    {.name = "smuggling",
     .kind = K_BOOL,
     FIELD(smuggling),
     .args = "on|off",
     .teaches = "a '.' line ends the data even between bare LFs (\\n.\\n): what follows is "
		"read as commands (SMTP smuggling, 2023)",
     .values = on_off},
    {.name = "starttls-injection",
     .kind = K_BOOL,
     FIELD(starttls_injection),
     .args = "on|off",
     .teaches = "commands pipelined after STARTTLS in plaintext are run inside TLS "
		"(CVE-2011-0411)",
     .values = on_off},
    {.name = "old-tls",
     .kind = K_BOOL,
     FIELD(old_tls),
     .args = "on|off",
     .teaches = "accept TLS 1.0 and 1.1 and every cipher suite, anonymous ones too "
		"(OpenSSL security level 0; off: TLS 1.2 at least)",
     .values = on_off},
    {.name = "open-relay",
     .kind = K_BOOL,
     FIELD(open_relay),
     .args = "on|off",
     .teaches = "RCPT to any domain accepted without AUTH: an open relay (off: 554 5.7.1 "
		"Relay access denied, as Postfix)",
     .values = on_off},
    {.name = "like",
     .kind = K_CHOICE,
     FIELD(like),
     .args = "PROVIDER|off",
     .teaches = "answer as office365, outlook, gmail, aol, yahoo or icloud: AUTH only after "
		"STARTTLS and before MAIL, the provider's reply texts",
     .values = like_provider_names,
     .choices = like_provider_names},
    {.name = "basic-auth",
     .kind = K_BOOL,
     FIELD(basic_auth),
     .args = "on|off",
     .teaches = "off: every password login is refused (Office 365: 550 5.7.30 Basic "
		"authentication is not supported)",
     .values = on_off},
    {.name = "app-password",
     .kind = K_BOOL,
     FIELD(app_password),
     .args = "on|off",
     .teaches = "the account password is refused (Gmail: 534 5.7.9 Application-specific "
		"password required); the app password shown at start logs in",
     .values = on_off},
    {.name = "sendas-denied",
     .kind = K_BOOL,
     FIELD(sendas_denied),
     .args = "on|off",
     .teaches = "a sender whose local part is not the login name is refused (Office 365: 554 "
		"5.2.0 SendAsDenied after the message)",
     .values = on_off},
    {.name = "oauth-expired",
     .kind = K_BOOL,
     FIELD(oauth_expired),
     .args = "on|off",
     .teaches = "OAuth2 access tokens expire at once: XOAUTH2 gets 334 {\"status\":\"401\"...} "
		"then 535 (off: a refresh gets a good one again)",
     .values = on_off},
    {.name = "oauth-scope",
     .kind = K_CHOICE,
     FIELD(oauth_scope),
     .args = "wrong|off",
     .teaches = "OAuth2 tokens are issued without the SMTP scope: 334 {\"status\":\"400\"...} "
		"then 535",
     .values = scope_values,
     .choices = scope_choices},
    {.name = "oauth-revoked",
     .kind = K_BOOL,
     FIELD(oauth_revoked),
     .args = "on|off",
     .teaches = "OAuth2: every grant so far is revoked (as a password reset does): its "
		"tokens fail and a refresh gets invalid_grant, so log in again",
     .values = on_off},
};

#define NSETTINGS (sizeof table / sizeof table[0])

void practice_settings_defaults(struct practice_settings *s)
{
	memset(s, 0, sizeof *s);
	s->size = PRACTICE_SIZE_DEFAULT;
	s->timeout = PRACTICE_TIMEOUT_DEFAULT;
	s->basic_auth = true;
}

static const struct setting *find(const char *name)
{
	for (size_t i = 0; i < NSETTINGS; i++)
		if (strcasecmp(table[i].name, name) == 0)
			return &table[i];
	return NULL;
}

static void *field(struct practice_settings *s, const struct setting *st)
{
	return (char *)s + st->offset;
}

static const void *cfield(const struct practice_settings *s, const struct setting *st)
{
	return (const char *)s + st->offset;
}

static int parse_bool(const char *v, bool *out)
{
	if (strcasecmp(v, "on") == 0 || strcasecmp(v, "yes") == 0 || strcmp(v, "1") == 0)
		*out = true;
	else if (strcasecmp(v, "off") == 0 || strcasecmp(v, "no") == 0 || strcmp(v, "0") == 0)
		*out = false;
	else
		return -1;
	return 0;
}

static int parse_number(const char *v, unsigned long min, unsigned long max, unsigned long *out)
{
	if (!isdigit((unsigned char)v[0]))
		return -1;
	char *end;
	errno = 0;
	unsigned long n = strtoul(v, &end, 10);
	if (errno || *end || n < min || n > max)
		return -1;
	*out = n;
	return 0;
}

static void describe_one(const struct practice_settings *s, const struct setting *st,
			 struct buf *out)
{
	const void *f = cfield(s, st);
	buf_printf(out, "%-14s ", st->name);
	switch (st->kind) {
	case K_BOOL:
		buf_puts(out, *(const bool *)f ? "on" : "off");
		break;
	case K_UINT:
	case K_ULONG: {
		unsigned long n =
		    st->kind == K_UINT ? *(const unsigned *)f : *(const unsigned long *)f;
		if (!n && st->off_is_zero)
			buf_puts(out, "off");
		else
			buf_printf(out, "%lu%s", n, st->unit);
		break;
	}
	case K_TEXT:
	case K_CHOICE:
		buf_puts(out, *(const char *)f ? (const char *)f : "off");
		break;
	case K_GREYLIST:
		if (!s->greylist)
			buf_puts(out, "off");
		else if (s->greylist_delay)
			buf_printf(out, "on, %us", s->greylist_delay);
		else
			buf_puts(out, "on");
		break;
	}
}

/* Reads value into the setting's field; -1 (nothing changed) when it is not valid. */
static int parse_one(struct practice_settings *s, const struct setting *st, const char *value)
{
	void *f = field(s, st);
	bool b = false;
	unsigned long n = 0;
	switch (st->kind) {
	case K_BOOL:
		if (parse_bool(value, &b) < 0)
			return -1;
		*(bool *)f = b;
		return 0;
	case K_UINT:
	case K_ULONG:
		if (st->off_is_zero && strcasecmp(value, "off") == 0)
			n = 0;
		else if (parse_number(value, st->min, st->max, &n) < 0)
			return -1;
		if (st->kind == K_UINT)
			*(unsigned *)f = (unsigned)n;
		else
			*(unsigned long *)f = n;
		return 0;
	case K_TEXT:
		if (strcasecmp(value, "off") == 0) {
			*(char *)f = '\0';
			return 0;
		}
		if (strlen(value) >= st->size)
			return -1;
		for (const char *p = value; *p; p++)
			if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
				return -1;
		snprintf(f, st->size, "%s", value);
		return 0;
	case K_CHOICE:
		if (strcasecmp(value, "off") == 0) {
			*(char *)f = '\0';
			return 0;
		}
		for (size_t i = 0; st->choices[i]; i++)
			if (strcasecmp(st->choices[i], value) == 0) {
				snprintf(f, st->size, "%s", st->choices[i]);
				return 0;
			}
		return -1;
	case K_GREYLIST:
		if (parse_bool(value, &b) == 0) {
			s->greylist = b;
			s->greylist_delay = 0;
		} else if (parse_number(value, 0, st->max, &n) == 0) {
			s->greylist = true;
			s->greylist_delay = (unsigned)n;
		} else {
			return -1;
		}
		return 0;
	}
	return -1;
}

int practice_settings_set(struct practice_settings *s, const char *name, const char *value,
			  struct buf *msg)
{
	if (strcasecmp(name, "reset") == 0 && (!value || !*value)) {
		/* the provider is who the server is (--like), not a fault: it stays */
		char like[sizeof s->like];
		memcpy(like, s->like, sizeof like);
		practice_settings_defaults(s);
		memcpy(s->like, like, sizeof like);
		buf_puts(msg, "all settings are back to their defaults");
		if (*like)
			buf_printf(msg, " (like %s stays: 'like off' ends it)", like);
		return 0;
	}
	const struct setting *st = find(name);
	if (!st) {
		buf_printf(msg, "no setting '%.40s' (the settings: ", name);
		for (size_t i = 0; i < NSETTINGS; i++)
			buf_printf(msg, "%s%s", i ? ", " : "", table[i].name);
		buf_puts(msg, ", reset)");
		return -1;
	}
	if (!value || !*value) {
		buf_printf(msg, "usage: %s %s (%s)", st->name, st->args, st->teaches);
		return -1;
	}
	if (parse_one(s, st, value) < 0) {
		buf_printf(msg, "bad value for %s: %s %s", st->name, st->name, st->args);
		if (st->kind == K_UINT || st->kind == K_ULONG)
			buf_printf(msg, " (%lu to %lu)", st->min, st->max);
		else if (st->kind == K_TEXT)
			buf_printf(msg, " (printable ASCII, under %zu characters)", st->size);
		return -1;
	}
	describe_one(s, st, msg);
	buf_printf(msg, "  (%s)", st->teaches);
	return 0;
}

void practice_settings_describe(const struct practice_settings *s, struct buf *out)
{
	for (size_t i = 0; i < NSETTINGS; i++) {
		size_t start = out->len;
		describe_one(s, &table[i], out);
		size_t w = out->len - start;
		buf_printf(out, "%*s %s\n", w < 28 ? (int)(28 - w) : 0, "", table[i].teaches);
	}
}

size_t practice_setting_names(const char **out, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < NSETTINGS && n < max; i++)
		out[n++] = table[i].name;
	if (n < max)
		out[n++] = "reset";
	return n;
}

size_t practice_setting_values(const char *name, const char **out, size_t max)
{
	const struct setting *st = find(name);
	size_t n = 0;
	for (size_t i = 0; st && st->values[i] && n < max; i++)
		out[n++] = st->values[i];
	return n;
}

/* Does addr match one of the blank- or comma-separated globs in patterns? */
static bool matches(const char *patterns, const char *addr)
{
	char pat[PRACTICE_REJECT_MAX];
	const char *p = patterns;
	while (*p) {
		p += strspn(p, " ,\t");
		size_t n = strcspn(p, " ,\t");
		if (!n)
			break;
		snprintf(pat, sizeof pat, "%.*s", (int)n, p);
		if (fnmatch(pat, addr, FNM_CASEFOLD) == 0)
			return true;
		p += n;
	}
	return false;
}

bool practice_settings_rejects(const struct practice_settings *s, const char *addr)
{
	return matches(s->reject, addr);
}

bool practice_settings_mailbox_full(const struct practice_settings *s, const char *addr)
{
	return matches(s->mailbox_full, addr);
}
