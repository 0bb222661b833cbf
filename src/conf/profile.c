#include "smtpsh/profile.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpsh/paths.h"
#include "smtpsh/tlsctl.h"

enum key_kind {
	KEY_WORD,    /* one word: no blanks */
	KEY_TEXT,    /* the rest of the line */
	KEY_PORT,    /* 1..65535 */
	KEY_TLS,     /* none | starttls | tls */
	KEY_TIMEOUT, /* seconds */
	KEY_MECH,    /* a SASL mechanism name */
	KEY_TLSCTL,  /* a TLS control of tlsctl.h, checked by tls_control_set ("no-sni = yes") */
	KEY_YESNO,   /* yes | no, into a bool */
};

struct key {
	const char *name;
	enum key_kind kind;
	size_t offset; /* of the const char * in struct profile (KEY_WORD/TEXT/PORT/MECH), of the
			  bool (KEY_YESNO) */
};

#define FIELD(f) offsetof(struct profile, f)

static const struct key keys[] = {
	{"host", KEY_WORD, FIELD(host)},
	{"port", KEY_PORT, FIELD(port)},
	{"tls", KEY_TLS, 0},
	{"user", KEY_TEXT, FIELD(user)},
	{"auth", KEY_MECH, FIELD(auth)},
	{"password-command", KEY_TEXT, FIELD(password_command)},
	{"cafile", KEY_TEXT, FIELD(cafile)},
	{"ehlo", KEY_WORD, FIELD(ehlo)},
	{"timeout", KEY_TIMEOUT, 0},
	{"ocsp", KEY_YESNO, FIELD(ocsp)},
	{"note", KEY_TEXT, FIELD(note)},
	{"tls-min", KEY_TLSCTL, FIELD(tls_min)},
	{"tls-max", KEY_TLSCTL, FIELD(tls_max)},
	{"ciphers", KEY_TLSCTL, FIELD(ciphers)},
	{"ciphersuites", KEY_TLSCTL, FIELD(ciphersuites)},
	{"groups", KEY_TLSCTL, FIELD(groups)},
	{"no-sni", KEY_TLSCTL, FIELD(no_sni)},
	{"cert", KEY_TLSCTL, FIELD(cert)},
	{"key", KEY_TLSCTL, FIELD(key)},
	{"key-password-command", KEY_TLSCTL, FIELD(key_password_command)},
	{"resolver", KEY_WORD, FIELD(resolver)},
	{"trust-anchor", KEY_TEXT, FIELD(trust_anchor)},
	{"oauth-client-id", KEY_WORD, FIELD(oauth_client_id)},
	{"oauth-tenant", KEY_WORD, FIELD(oauth_tenant)},
	{"oauth-scope", KEY_TEXT, FIELD(oauth_scope)},
	{"oauth-token-url", KEY_WORD, FIELD(oauth_token_url)},
	{"oauth-authorize-url", KEY_WORD, FIELD(oauth_authorize_url)},
	{"oauth-device-url", KEY_WORD, FIELD(oauth_device_url)},
	{"oauth-revoke-url", KEY_WORD, FIELD(oauth_revoke_url)},
	{"oauth-client-secret-command", KEY_TEXT, FIELD(oauth_client_secret_command)},
	{"oauth-cafile", KEY_TEXT, FIELD(oauth_cafile)},
};
#define KEY_COUNT (sizeof keys / sizeof keys[0])
_Static_assert(KEY_COUNT <= 32, "struct parser's seen has a bit per key");

struct parser {
	struct profile_set *set;
	unsigned line;
	unsigned *err_line;
	char *err;
	size_t errlen;
	unsigned seen; /* keys given in the current section (bit per keys[] index) */
};

__attribute__((format(printf, 2, 3))) static int fail(struct parser *ps, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ps->err, ps->errlen, fmt, ap);
	va_end(ap);
	*ps->err_line = ps->line;
	return -1;
}

void profile_set_init(struct profile_set *set)
{
	set->items = NULL;
	set->n = 0;
}

static const char **string_field(struct profile *p, size_t offset)
{
	return (const char **)(void *)((char *)p + offset);
}

void profile_set_free(struct profile_set *set)
{
	for (size_t i = 0; i < set->n; i++) {
		struct profile *p = &set->items[i];
		free((void *)p->name);
		for (size_t k = 0; k < KEY_COUNT; k++)
			if (keys[k].kind != KEY_TLS && keys[k].kind != KEY_TIMEOUT &&
			    keys[k].kind != KEY_YESNO)
				free((void *)*string_field(p, keys[k].offset));
	}
	free(set->items);
	profile_set_init(set);
}

bool profile_name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > PROFILE_NAME_MAX)
		return false;
	static const char allowed[] = "abcdefghijklmnopqrstuvwxyz"
				      "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";
	return strspn(name, allowed) == n;
}

const char *profile_tls_name(enum tls_mode mode)
{
	switch (mode) {
	case TLS_NONE:
		return "none";
	case TLS_IMPLICIT:
		return "tls";
	case TLS_STARTTLS:
		return "starttls";
	}
	return "?";
}

const char *profile_port(const struct profile *p)
{
	if (p->port)
		return p->port;
	return p->tls == TLS_IMPLICIT ? "465" : p->tls == TLS_STARTTLS ? "587" : "25";
}

static struct profile *current(struct parser *ps)
{
	return ps->set->n ? &ps->set->items[ps->set->n - 1] : NULL;
}

/* The section that just ended must say where to connect. */
static int finish_section(struct parser *ps)
{
	struct profile *p = current(ps);
	if (p && !p->host) {
		ps->line = p->line;
		return fail(ps, "profile [%s] has no host", p->name);
	}
	return 0;
}

static int section(struct parser *ps, const char *s, size_t n)
{
	if (n < 2 || s[n - 1] != ']')
		return fail(ps, "a section header is [NAME]");
	char name[PROFILE_NAME_MAX + 2];
	size_t len = n - 2;
	if (len == 0 || len > PROFILE_NAME_MAX)
		return fail(ps, "a profile name has 1 to %d characters", PROFILE_NAME_MAX);
	memcpy(name, s + 1, len);
	name[len] = '\0';
	if (!profile_name_valid(name))
		return fail(ps,
			    "profile name '%s': use letters, digits, '-' and '_' only (a name "
			    "with a dot or colon would be taken for a host)",
			    name);
	if (finish_section(ps) < 0)
		return -1;
	for (size_t i = 0; i < ps->set->n; i++)
		if (strcmp(ps->set->items[i].name, name) == 0)
			return fail(ps, "profile [%s] is defined twice (first at line %u)", name,
				    ps->set->items[i].line);
	if (ps->set->n >= PROFILE_MAX)
		return fail(ps, "more than %d profiles", PROFILE_MAX);
	struct profile *items = realloc(ps->set->items, (ps->set->n + 1) * sizeof *items);
	if (!items)
		return fail(ps, "out of memory");
	ps->set->items = items;
	struct profile *p = &items[ps->set->n];
	memset(p, 0, sizeof *p);
	p->tls = TLS_NONE;
	p->line = ps->line;
	p->name = strdup(name);
	if (!p->name)
		return fail(ps, "out of memory");
	ps->set->n++;
	ps->seen = 0;
	return 0;
}

static int parse_timeout(const char *v, int *ms)
{
	char *end;
	double d = strtod(v, &end);
	if (end == v || *end || !(d > 0) || d > 86400)
		return -1;
	*ms = (int)(d * 1000);
	return *ms > 0 ? 0 : -1;
}

/* The keys whose value is a file: a leading "~/" is the home directory, for all of them alike
   (a shell would expand it; the file is read without one). */
static bool path_key(const struct key *k)
{
	static const char *const names[] = {"cafile", "trust-anchor", "cert", "key",
					    "oauth-cafile"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(k->name, names[i]) == 0)
			return true;
	return false;
}

static int set_value(struct parser *ps, struct profile *p, const struct key *k, const char *v)
{
	switch (k->kind) {
	case KEY_TLS:
		if (strcmp(v, "none") == 0)
			p->tls = TLS_NONE;
		else if (strcmp(v, "starttls") == 0)
			p->tls = TLS_STARTTLS;
		else if (strcmp(v, "tls") == 0)
			p->tls = TLS_IMPLICIT;
		else
			return fail(ps, "tls is none, starttls or tls, not '%s'", v);
		return 0;
	case KEY_YESNO: {
		bool *flag = (bool *)(void *)((char *)p + k->offset);
		if (strcmp(v, "yes") == 0)
			*flag = true;
		else if (strcmp(v, "no") == 0)
			*flag = false;
		else
			return fail(ps, "%s is yes or no, not '%s'", k->name, v);
		return 0;
	}
	case KEY_TIMEOUT:
		if (parse_timeout(v, &p->timeout_ms) < 0)
			return fail(ps, "timeout is a number of seconds (up to 86400), not '%s'",
				    v);
		return 0;
	case KEY_PORT: {
		size_t n = strlen(v);
		long port = n && n <= 5 && strspn(v, "0123456789") == n ? strtol(v, NULL, 10) : 0;
		if (port < 1 || port > 65535)
			return fail(ps, "port is a number from 1 to 65535, not '%s'", v);
		break;
	}
	case KEY_WORD:
		if (strpbrk(v, " \t"))
			return fail(ps, "%s is one word, without blanks", k->name);
		break;
	case KEY_MECH:
		if (strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") !=
		    strlen(v))
			return fail(ps,
				    "auth is a SASL mechanism name (PLAIN, LOGIN, CRAM-MD5, "
				    "XOAUTH2...), not '%s'",
				    v);
		break;
	case KEY_TLSCTL: {
		struct tls_controls t = {0};
		char err[300];
		if (strcmp(k->name, "no-sni") == 0
			? strcmp(v, "yes") != 0
			: tls_control_set(&t, k->name, v, err, sizeof err) < 0)
			return fail(ps, "%s",
				    strcmp(k->name, "no-sni") == 0 ? "no-sni takes yes" : err);
		break;
	}
	case KEY_TEXT:
		break;
	}
	char *copy;
	if (path_key(k)) {
		struct buf path;
		buf_init(&path);
		if (paths_expand_home(v, &path) < 0) {
			buf_free(&path);
			return fail(ps, "%s %s: no home directory known for ~/", k->name, v);
		}
		copy = strdup(path.data ? path.data : "");
		buf_free(&path);
	} else
		copy = strdup(v);
	if (!copy)
		return fail(ps, "out of memory");
	*string_field(p, k->offset) = copy;
	return 0;
}

static int assignment(struct parser *ps, const char *s, size_t n)
{
	const char *eq = memchr(s, '=', n);
	if (!eq)
		return fail(ps, "expected 'key = value', '[name]' or a comment");
	size_t klen = (size_t)(eq - s);
	while (klen && (s[klen - 1] == ' ' || s[klen - 1] == '\t'))
		klen--;
	const char *v = eq + 1, *end = s + n;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	char key[32], value[4096];
	if (klen == 0)
		return fail(ps, "a key is missing before '='");
	if (klen >= sizeof key)
		return fail(ps, "unknown key '%.*s'", 31, s);
	memcpy(key, s, klen);
	key[klen] = '\0';
	if ((size_t)(end - v) >= sizeof value)
		return fail(ps, "the value of %s is longer than %zu bytes", key, sizeof value - 1);
	memcpy(value, v, (size_t)(end - v));
	value[end - v] = '\0';

	if (strcmp(key, "insecure") == 0)
		return fail(ps, "insecure is not allowed in a profile: turn certificate checks off "
				"on the command line (--insecure), each time you mean it");
	if (strcmp(key, "password") == 0 || strcmp(key, "pass") == 0)
		return fail(ps, "a password does not belong in the profiles file: use "
				"password-command (or ~/.netrc)");
	size_t k = 0;
	while (k < KEY_COUNT && strcmp(keys[k].name, key) != 0)
		k++;
	if (k == KEY_COUNT) {
		/* the known keys, from the one table (it grows with each feature) */
		char known[1024];
		size_t used = 0;
		for (size_t i = 0; i < KEY_COUNT && used < sizeof known; i++) {
			int w = snprintf(known + used, sizeof known - used, "%s%s", i ? ", " : "",
					 keys[i].name);
			if (w < 0)
				break;
			used += (size_t)w;
		}
		return fail(ps, "unknown key '%s' (known: %s)", key, known);
	}
	struct profile *p = current(ps);
	if (!p)
		return fail(ps, "%s before the first [name] line", key);
	if (ps->seen & (1u << k))
		return fail(ps, "%s is given twice in [%s]", key, p->name);
	ps->seen |= 1u << k;
	if (!value[0])
		return fail(ps, "%s needs a value", key);
	return set_value(ps, p, &keys[k], value);
}

static int parse_line(struct parser *ps, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 && s[i] != '\t')
			return fail(ps, "a control character (0x%02x)", (unsigned char)s[i]);
	while (n && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n == 0 || s[0] == '#' || s[0] == ';')
		return 0;
	if (s[0] == '[')
		return section(ps, s, n);
	return assignment(ps, s, n);
}

int profile_parse(struct profile_set *set, const char *text, size_t len, unsigned *err_line,
		  char *err, size_t errlen)
{
	struct parser ps = {.set = set, .err_line = err_line, .err = err, .errlen = errlen};
	*err_line = 0;
	if (errlen)
		err[0] = '\0';
	const char *p = text, *end = text + len;
	int r = 0;
	while (p < end && r == 0) {
		ps.line++;
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		const char *next = p + n + (nl ? 1 : 0);
		if (n && p[n - 1] == '\r')
			n--;
		if (memchr(p, '\0', n))
			r = fail(&ps, "a NUL byte");
		else
			r = parse_line(&ps, p, n);
		p = next;
	}
	if (r == 0)
		r = finish_section(&ps);
	if (r < 0)
		profile_set_free(set);
	return r;
}

const struct profile *profile_find(const struct profile_set *set, const char *name)
{
	for (size_t i = 0; set && i < set->n; i++)
		if (strcmp(set->items[i].name, name) == 0)
			return &set->items[i];
	size_t n;
	const struct profile *presets = profile_presets(&n);
	for (size_t i = 0; i < n; i++)
		if (strcmp(presets[i].name, name) == 0)
			return &presets[i];
	return NULL;
}

const struct profile *profile_for_argument(const struct profile_set *set, const char *arg)
{
	if (strpbrk(arg, ".:"))
		return NULL;
	return profile_find(set, arg);
}

void profile_tls_controls(const struct profile *p, struct tls_controls *out)
{
	*out = (struct tls_controls){0};
	const char *v[] = {p->tls_min, p->tls_max, p->ciphers, p->ciphersuites,
			   p->groups,  p->cert,	   p->key,     p->key_password_command};
	const char *names[] = {"tls-min", "tls-max", "ciphers", "ciphersuites",
			       "groups",  "cert",    "key",	"key-password-command"};
	char err[300];
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
		if (v[i]) /* checked by profile_parse: cannot fail here */
			tls_control_set(out, names[i], v[i], err, sizeof err);
	out->no_sni = p->no_sni != NULL;
}
