#include "smtpsh/complete.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <readline/readline.h>

#include "smtpsh/candidates.h"
#include "smtpsh/meta.h"
#include "shell_int.h"

#define CANDIDATES_MAX 64

static const struct shell *current;

static const char *const default_mechs[] = {"PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2", "OAUTHBEARER"};

/*
 * XCLIENT's and XFORWARD's attributes as NAME=, from the EHLO reply's list (Postfix
 * XCLIENT_README, XFORWARD_README), or the documented ones before EHLO. Each attribute may be
 * given once per command, so those already on the line are not offered again.
 */
static void forward_attributes(struct candidates *c)
{
	static const char *const xclient[] = {"NAME", "ADDR",  "PORT",	   "PROTO",
					      "HELO", "LOGIN", "DESTADDR", "DESTPORT"};
	static const char *const xforward[] = {"NAME", "ADDR",	"PORT",	 "PROTO",
					       "HELO", "IDENT", "SOURCE"};
	static char attrs[16][24];
	bool is_xclient = strcasecmp(c->first, "XCLIENT") == 0;
	const struct smtp_caps *caps = session_caps(c->sh->session);
	const struct smtp_cap *cap =
	    caps->known ? caps_find(caps, is_xclient ? "XCLIENT" : "XFORWARD") : NULL;
	size_t k = 0;
	if (cap) {
		for (const char *p = cap->params; *p && k < 16;) {
			size_t len = strcspn(p, " ");
			/* attribute names only: nothing else from the server is offered */
			if (len && len < 20 && strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_") >= len)
				snprintf(attrs[k++], sizeof attrs[0], "%.*s=", (int)len, p);
			p += len;
			p += strspn(p, " ");
		}
	} else {
		const char *const *list = is_xclient ? xclient : xforward;
		size_t n = is_xclient ? sizeof xclient / sizeof xclient[0]
				      : sizeof xforward / sizeof xforward[0];
		for (; k < n; k++)
			snprintf(attrs[k], sizeof attrs[0], "%s=", list[k]);
	}
	c->no_space = true;
	for (size_t i = 0; i < k; i++) {
		char needle[32];
		snprintf(needle, sizeof needle, " %.24s", attrs[i]);
		if (!strcasestr(c->line, needle))
			candidates_offer(c, attrs[i]);
	}
}

/* The arguments of an SMTP command typed by hand: MAIL FROM:<, RCPT TO:<, AUTH's mechanism. */
static void smtp_arguments(struct candidates *c)
{
	const struct shell *sh = c->sh;
	if (strcasecmp(c->first, "XCLIENT") == 0 || strcasecmp(c->first, "XFORWARD") == 0) {
		forward_attributes(c);
		return;
	}
	if (c->nwords > 1)
		return;
	if (strcasecmp(c->first, "MAIL") == 0 &&
	    strncasecmp("FROM:<", c->text, strlen(c->text)) == 0) {
		c->no_space = true;
		candidates_offer(c, "FROM:<");
		return;
	}
	if (strcasecmp(c->first, "RCPT") == 0 &&
	    strncasecmp("TO:<", c->text, strlen(c->text)) == 0) {
		c->no_space = true;
		candidates_offer(c, "TO:<");
		return;
	}
	if (strcasecmp(c->first, "AUTH") != 0)
		return;
	const struct smtp_cap *cap =
	    session_caps(sh->session)->known ? caps_find(session_caps(sh->session), "AUTH") : NULL;
	if (cap) {
		static char mechs[16][32];
		const char *p = cap->params;
		for (size_t k = 0; *p && k < 16;) {
			size_t len = strcspn(p, " ");
			/* RFC 4422 mechanism names only: nothing else from the server is shown */
			if (len && len <= 20 &&
			    strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				      "0123456789-_") >= len) {
				snprintf(mechs[k], sizeof mechs[k], "%.*s", (int)len, p);
				candidates_offer(c, mechs[k]);
				k++;
			}
			p += len;
			p += strspn(p, " ");
		}
		return;
	}
	for (size_t i = 0; i < sizeof default_mechs / sizeof default_mechs[0]; i++)
		candidates_offer(c, default_mechs[i]);
}

size_t complete_candidates(const struct shell *sh, const char *line, size_t start,
			   const char *text, const char **out, size_t max, int *no_space,
			   int *files)
{
	struct candidates c;
	candidates_begin(&c, sh, line, start, text, out, max);
	enum smtp_phase ph = session_phase(sh->session);
	if (c.nwords == 0) {
		/* the first word: a local command, or an SMTP verb of the verb table */
		if (text[0] == '\\' || ph == PHASE_DATA || !session_connected(sh->session)) {
			if (text[0] == '\\' || text[0] == '\0')
				meta_candidates(&c);
		} else if (!session_in_auth(sh->session)) {
			candidates_verbs(&c);
		}
	} else if (c.first[0] == '\\') {
		/* the arguments of a local command: its row's completer */
		const struct meta_command *m = meta_find(c.first + 1);
		if (m && m->complete)
			m->complete(&c);
	} else if (ph != PHASE_DATA) {
		smtp_arguments(&c);
	}
	*no_space = c.no_space;
	*files = c.files;
	return c.files ? 0 : c.n;
}

/* Readline's side. */

static char **matches;
static size_t match_index;

static char *generator(const char *text, int state)
{
	(void)text;
	if (!matches || !matches[match_index])
		return NULL;
	return strdup(matches[match_index++]);
}

static void lower_if(char *s, bool lower)
{
	for (; lower && *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

static char **attempt(const char *text, int start, int end)
{
	(void)end;
	rl_attempted_completion_over = 1;
	rl_completion_append_character = ' ';
	const char *cand[CANDIDATES_MAX];
	int no_space, files;
	size_t n = complete_candidates(current, rl_line_buffer, (size_t)start, text, cand,
				       CANDIDATES_MAX, &no_space, &files);
	if (files) {
		rl_attempted_completion_over = 0;
		return rl_completion_matches(text, rl_filename_completion_function);
	}
	if (n == 0)
		return NULL;
	if (no_space)
		rl_completion_append_character = '\0';
	/* Keep the user's case: "eh" completes to "ehlo", "EH" to "EHLO". */
	bool lower = text[0] && islower((unsigned char)text[0]);
	static char *store[CANDIDATES_MAX + 1];
	for (size_t i = 0; i < n; i++) {
		store[i] = strdup(cand[i]);
		if (store[i] && cand[i][0] != '\\' && cand[i][0] != '-')
			lower_if(store[i], lower);
	}
	store[n] = NULL;
	matches = store;
	match_index = 0;
	char **result = rl_completion_matches(text, generator);
	for (size_t i = 0; i < n; i++)
		free(store[i]);
	matches = NULL;
	return result;
}

void complete_install(struct shell *sh)
{
	current = sh;
	rl_attempted_completion_function = attempt;
	rl_completer_word_break_characters = " \t";
	rl_variable_bind("completion-ignore-case", "on");
}
