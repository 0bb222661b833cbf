#include "smtpsh/practice_settings.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum kind {
	K_BOOL,
	K_NUMBER,
	K_TEXT,
};

struct setting {
	const char *name;
	enum kind kind;
	const char *args;	   /* for the listing */
	const char *teaches;	   /* what it does, one line */
	const char *const *values; /* completion candidates, NULL-terminated */
};

static const char *const on_off[] = {"on", "off", NULL};
static const char *const greylist_values[] = {"on", "off", "60", NULL};
static const char *const drop_values[] = {"connect", "EHLO", "HELO", "STARTTLS", "AUTH",
					  "MAIL",    "RCPT", "DATA", ".",	 "RSET",
					  "NOOP",    "VRFY", "QUIT", "off",	 NULL};
static const char *const reject_values[] = {"off", NULL};
static const char *const size_values[] = {"10240000", "1000", NULL};
static const char *const slow_values[] = {"0", "500", "2000", NULL};
static const char *const timeout_values[] = {"300", "10", NULL};

/* The verbs drop-after accepts ("connect": before the greeting, ".": after the message). */
static const char *const drop_verbs[] = {"CONNECT", "EHLO", "HELO", "STARTTLS", "AUTH",
					 "MAIL",    "RCPT", "DATA", ".",	"RSET",
					 "NOOP",    "VRFY", "HELP", "QUIT",	NULL};

static const struct setting table[] = {
    {"greylist", K_TEXT, "on|off|SECONDS",
     "451 4.7.1 to the first try of each (client, sender, recipient); a retry passes "
     "(after SECONDS)",
     greylist_values},
    {"reject", K_TEXT, "PATTERN...|off",
     "550 5.1.1 to recipients matching a pattern (glob, e.g. nobody@* *@spam.test)", reject_values},
    {"size", K_NUMBER, "OCTETS", "the SIZE limit: 552 5.3.4 to bigger messages", size_values},
    {"require-tls", K_BOOL, "on|off",
     "530 5.7.0 to everything but EHLO/HELO/STARTTLS/NOOP/QUIT "
     "before STARTTLS",
     on_off},
    {"auth-required", K_BOOL, "on|off", "530 5.7.0 to MAIL before a successful AUTH", on_off},
    {"plain-auth", K_BOOL, "on|off",
     "offer AUTH without TLS too (off: AUTH only after STARTTLS, 538 5.7.11 before)", on_off},
    {"slow", K_NUMBER, "MS", "wait MS milliseconds before every reply (the greeting too)",
     slow_values},
    {"drop-after", K_TEXT, "VERB|connect|.|off",
     "close the connection, without a reply, when VERB arrives (\".\": after storing the "
     "message)",
     drop_values},
    {"timeout", K_NUMBER, "SECONDS", "idle time before 421 4.4.2 and a closed connection",
     timeout_values},
};

#define NSETTINGS (sizeof table / sizeof table[0])

void practice_settings_defaults(struct practice_settings *s)
{
	memset(s, 0, sizeof *s);
	s->size = PRACTICE_SIZE_DEFAULT;
	s->timeout = PRACTICE_TIMEOUT_DEFAULT;
}

static const struct setting *find(const char *name)
{
	for (size_t i = 0; i < NSETTINGS; i++)
		if (strcasecmp(table[i].name, name) == 0)
			return &table[i];
	return NULL;
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
	char val[PRACTICE_REJECT_MAX + 16];
	if (strcmp(st->name, "greylist") == 0) {
		if (!s->greylist)
			snprintf(val, sizeof val, "off");
		else if (s->greylist_delay)
			snprintf(val, sizeof val, "on, %us", s->greylist_delay);
		else
			snprintf(val, sizeof val, "on");
	} else if (strcmp(st->name, "reject") == 0) {
		snprintf(val, sizeof val, "%s", s->reject[0] ? s->reject : "off");
	} else if (strcmp(st->name, "size") == 0) {
		snprintf(val, sizeof val, "%lu", s->size);
	} else if (strcmp(st->name, "require-tls") == 0) {
		snprintf(val, sizeof val, "%s", s->require_tls ? "on" : "off");
	} else if (strcmp(st->name, "auth-required") == 0) {
		snprintf(val, sizeof val, "%s", s->auth_required ? "on" : "off");
	} else if (strcmp(st->name, "plain-auth") == 0) {
		snprintf(val, sizeof val, "%s", s->plain_auth ? "on" : "off");
	} else if (strcmp(st->name, "slow") == 0) {
		snprintf(val, sizeof val, s->slow_ms ? "%u ms" : "off", s->slow_ms);
	} else if (strcmp(st->name, "drop-after") == 0) {
		snprintf(val, sizeof val, "%s", s->drop_after[0] ? s->drop_after : "off");
	} else {
		snprintf(val, sizeof val, "%u s", s->timeout);
	}
	buf_printf(out, "%-14s %s", st->name, val);
}

int practice_settings_set(struct practice_settings *s, const char *name, const char *value,
			  struct buf *msg)
{
	if (strcasecmp(name, "reset") == 0 && (!value || !*value)) {
		practice_settings_defaults(s);
		buf_puts(msg, "all settings are back to their defaults");
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
	bool b = false;
	unsigned long n = 0;
	int bad = 0;
	if (strcmp(st->name, "greylist") == 0) {
		if (parse_bool(value, &b) == 0) {
			s->greylist = b;
			s->greylist_delay = 0;
		} else if (parse_number(value, 0, 86400, &n) == 0) {
			s->greylist = true;
			s->greylist_delay = (unsigned)n;
		} else {
			bad = 1;
		}
	} else if (strcmp(st->name, "reject") == 0) {
		if (strcasecmp(value, "off") == 0) {
			s->reject[0] = '\0';
		} else if (strlen(value) >= sizeof s->reject) {
			bad = 1;
		} else {
			for (const char *p = value; *p; p++)
				if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
					bad = 1;
			if (!bad)
				snprintf(s->reject, sizeof s->reject, "%s", value);
		}
	} else if (strcmp(st->name, "size") == 0) {
		bad = parse_number(value, 1, PRACTICE_SIZE_MAX, &n);
		if (!bad)
			s->size = n;
	} else if (strcmp(st->name, "slow") == 0) {
		if (strcasecmp(value, "off") == 0)
			n = 0;
		else
			bad = parse_number(value, 0, PRACTICE_SLOW_MAX, &n);
		if (!bad)
			s->slow_ms = (unsigned)n;
	} else if (strcmp(st->name, "timeout") == 0) {
		bad = parse_number(value, 1, PRACTICE_TIMEOUT_MAX, &n);
		if (!bad)
			s->timeout = (unsigned)n;
	} else if (strcmp(st->name, "drop-after") == 0) {
		if (strcasecmp(value, "off") == 0) {
			s->drop_after[0] = '\0';
		} else {
			bad = 1;
			for (size_t i = 0; drop_verbs[i]; i++)
				if (strcasecmp(drop_verbs[i], value) == 0) {
					snprintf(s->drop_after, sizeof s->drop_after, "%s",
						 drop_verbs[i]);
					bad = 0;
				}
		}
	} else { /* the booleans */
		bad = parse_bool(value, &b);
		if (!bad) {
			if (strcmp(st->name, "require-tls") == 0)
				s->require_tls = b;
			else if (strcmp(st->name, "auth-required") == 0)
				s->auth_required = b;
			else
				s->plain_auth = b;
		}
	}
	if (bad) {
		buf_printf(msg, "bad value for %s: %s %s", st->name, st->name, st->args);
		if (strcmp(st->name, "size") == 0)
			buf_printf(msg, " (1 to %lu)", PRACTICE_SIZE_MAX);
		else if (strcmp(st->name, "slow") == 0)
			buf_printf(msg, " (0 to %u)", PRACTICE_SLOW_MAX);
		else if (strcmp(st->name, "timeout") == 0)
			buf_printf(msg, " (1 to %u)", PRACTICE_TIMEOUT_MAX);
		else if (strcmp(st->name, "reject") == 0)
			buf_printf(msg, " (printable ASCII, under %d characters)",
				   PRACTICE_REJECT_MAX);
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

bool practice_settings_rejects(const struct practice_settings *s, const char *addr)
{
	char pat[PRACTICE_REJECT_MAX];
	const char *p = s->reject;
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
