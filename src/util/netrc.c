#include "smtpsh/netrc.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtpsh/buf.h"

struct lexer {
	const char *p, *end;
};

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

/* The next token, malloc'd (quotes removed, escapes applied), in *out; 0 at the end of the
   text, 1 for a token, -1 when memory ran out. */
static int next_token(struct lexer *lx, char **out)
{
	*out = NULL;
	while (lx->p < lx->end && blank(*lx->p))
		lx->p++;
	if (lx->p == lx->end)
		return 0;
	const char *start = lx->p;
	bool quoted = *lx->p == '"';
	if (quoted)
		start = ++lx->p;
	while (lx->p < lx->end) {
		if (quoted && *lx->p == '\\' && lx->p + 1 < lx->end)
			lx->p += 2;
		else if (quoted ? *lx->p == '"' : blank(*lx->p))
			break;
		else
			lx->p++;
	}
	size_t n = (size_t)(lx->p - start);
	char *s = malloc(n + 1);
	if (!s)
		return -1;
	size_t j = 0;
	for (size_t i = 0; i < n; i++) {
		if (quoted && start[i] == '\\' && i + 1 < n)
			i++;
		s[j++] = start[i] == '\0' ? ' ' : start[i];
	}
	s[j] = '\0';
	if (quoted && lx->p < lx->end)
		lx->p++; /* the closing quote */
	*out = s;
	return 1;
}

/* macdef NAME: the definition runs up to an empty line (or the end). */
static void skip_macro(struct lexer *lx)
{
	while (lx->p < lx->end && *lx->p != '\n')
		lx->p++; /* the rest of the macdef line */
	while (lx->p < lx->end) {
		const char *nl = memchr(lx->p, '\n', (size_t)(lx->end - lx->p));
		if (!nl) {
			lx->p = lx->end;
			return;
		}
		lx->p = nl + 1;
		const char *q = lx->p;
		while (q < lx->end && (*q == ' ' || *q == '\t' || *q == '\r'))
			q++;
		if (q == lx->end || *q == '\n')
			return;
	}
}

struct entry {
	enum { E_NONE, E_MACHINE, E_DEFAULT } kind;
	bool host_matches;
	char *login;
	char *password;
};

static void entry_clear(struct entry *e)
{
	free(e->login);
	str_free_secret(e->password);
	memset(e, 0, sizeof *e);
}

static bool entry_fits(const struct entry *e, const char *user)
{
	if (e->kind == E_NONE || (e->kind == E_MACHINE && !e->host_matches))
		return false;
	return !user || !e->login || strcmp(e->login, user) == 0;
}

/* Moves e into out. */
static void take(struct entry *e, struct netrc_entry *out)
{
	out->login = e->login;
	out->password = e->password;
	out->is_default = e->kind == E_DEFAULT;
	e->login = e->password = NULL;
	entry_clear(e);
}

int netrc_lookup(const char *text, size_t len, const char *host, const char *user,
		 struct netrc_entry *out)
{
	memset(out, 0, sizeof *out);
	struct lexer lx = {text, text + len};
	struct entry cur = {0}, dflt = {0};
	int result = 0;
	for (;;) {
		char *tok;
		int r = next_token(&lx, &tok);
		if (r < 0) {
			result = -1;
			break;
		}
		bool new_entry = r == 0 || strcmp(tok, "machine") == 0 || strcmp(tok, "default") == 0;
		if (new_entry) {
			if (entry_fits(&cur, user)) {
				if (cur.kind == E_MACHINE) {
					free(tok);
					take(&cur, out);
					result = 1;
					break;
				}
				if (dflt.kind == E_NONE) {
					dflt = cur;
					memset(&cur, 0, sizeof cur);
				}
			}
			entry_clear(&cur);
			if (r == 0)
				break;
			if (strcmp(tok, "default") == 0) {
				cur.kind = E_DEFAULT;
			} else {
				char *name;
				r = next_token(&lx, &name);
				if (r < 0) {
					free(tok);
					result = -1;
					break;
				}
				cur.kind = E_MACHINE;
				cur.host_matches = r == 1 && strcasecmp(name, host) == 0;
				free(name);
			}
		} else if (strcmp(tok, "login") == 0 || strcmp(tok, "password") == 0) {
			char *val;
			r = next_token(&lx, &val);
			if (r < 0) {
				str_free_secret(tok);
				result = -1;
				break;
			}
			char **field = tok[0] == 'l' ? &cur.login : &cur.password;
			if (r == 1 && cur.kind != E_NONE && !*field)
				*field = val;
			else
				str_free_secret(val);
		} else if (strcmp(tok, "account") == 0) {
			char *val;
			if (next_token(&lx, &val) > 0)
				str_free_secret(val);
		} else if (strcmp(tok, "macdef") == 0) {
			skip_macro(&lx);
		}
		str_free_secret(tok);
	}
	entry_clear(&cur);
	if (result == 0 && dflt.kind != E_NONE) {
		take(&dflt, out);
		result = 1;
	}
	entry_clear(&dflt);
	return result;
}

void netrc_entry_free(struct netrc_entry *e)
{
	free(e->login);
	str_free_secret(e->password);
	memset(e, 0, sizeof *e);
}
