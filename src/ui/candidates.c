#include "smtpsh/candidates.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "smtpsh/verbs.h"
#include "shell_int.h"

/* The word of line[i..j) into out, cut to its size. */
static void word(char *out, const char *line, size_t i, size_t j)
{
	snprintf(out, CANDIDATES_WORD_MAX, "%.*s",
		 (int)(j - i < CANDIDATES_WORD_MAX - 1 ? j - i : CANDIDATES_WORD_MAX - 1),
		 line + i);
}

void candidates_begin(struct candidates *c, const struct shell *sh, const char *line, size_t start,
		      const char *text, const char **out, size_t max)
{
	memset(c, 0, sizeof *c);
	c->sh = sh;
	c->line = line;
	c->text = text;
	c->out = out;
	c->max = max;
	for (size_t i = 0; i < start;) {
		while (i < start && (line[i] == ' ' || line[i] == '\t'))
			i++;
		if (i >= start)
			break;
		size_t j = i;
		while (j < start && line[j] != ' ' && line[j] != '\t')
			j++;
		if (c->nwords == 0)
			word(c->first, line, i, j);
		else if (c->nwords == 1)
			word(c->arg1, line, i, j);
		word(c->prev, line, i, j);
		c->nwords++;
		i = j;
	}
}

static void add(struct candidates *c, const char *s)
{
	if (c->n < c->max)
		c->out[c->n++] = s;
}

void candidates_offer(struct candidates *c, const char *s)
{
	if (strncasecmp(s, c->text, strlen(c->text)) == 0)
		add(c, s);
}

void candidates_offer_exact(struct candidates *c, const char *s)
{
	if (strncmp(s, c->text, strlen(c->text)) == 0)
		add(c, s);
}

/* Would this verb make sense now? */
static bool verb_fits(const struct shell *sh, const struct smtp_verb *v)
{
	enum smtp_phase ph = session_phase(sh->session);
	const struct smtp_caps *caps = session_caps(sh->session);
	if (!(v->phases & VERB_IN(ph)))
		return false;
	if (strcmp(v->name, "STARTTLS") == 0 && session_tls(sh->session))
		return false;
	if (v->needs_cap && caps->known && !caps_has(caps, v->needs_cap))
		return false;
	if (v->dialect == (session_lmtp(sh->session) ? VERB_SMTP_ONLY : VERB_LMTP_ONLY))
		return false;
	return true;
}

void candidates_verbs(struct candidates *c)
{
	size_t n0 = c->n;
	for (size_t i = 0; i < smtp_verb_count; i++)
		if (verb_fits(c->sh, &smtp_verbs[i]))
			candidates_offer(c, smtp_verbs[i].name);
	if (c->n == n0) /* nothing fits the phase: offer what matches anyway */
		for (size_t i = 0; i < smtp_verb_count; i++)
			candidates_offer(c, smtp_verbs[i].name);
}
