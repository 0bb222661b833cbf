#include "smtpsh/complete.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <readline/readline.h>

#include "smtpsh/meta.h"
#include "smtpsh/sasl.h"
#include "smtpsh/send.h"
#include "smtpsh/practice_settings.h"
#include "smtpsh/verbs.h"

#define CANDIDATES_MAX 64

static const struct shell *current;

static const char *const default_mechs[] = {"PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2"};

static bool prefix_ci(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
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
	return true;
}

static size_t add(const char **out, size_t n, size_t max, const char *s)
{
	if (n < max)
		out[n++] = s;
	return n;
}

static size_t verbs(const struct shell *sh, const char *text, const char **out, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < smtp_verb_count; i++)
		if (prefix_ci(smtp_verbs[i].name, text) && verb_fits(sh, &smtp_verbs[i]))
			n = add(out, n, max, smtp_verbs[i].name);
	if (n == 0) /* nothing fits the phase: offer what matches anyway */
		for (size_t i = 0; i < smtp_verb_count; i++)
			if (prefix_ci(smtp_verbs[i].name, text))
				n = add(out, n, max, smtp_verbs[i].name);
	return n;
}

static size_t metas(const struct shell *sh, const char *text, const char **out, size_t max)
{
	static char names[64][24];
	bool in_data = session_phase(sh->session) == PHASE_DATA;
	size_t n = 0;
	for (size_t i = 0; i < meta_command_count && i < 64; i++) {
		const struct meta_command *m = &meta_commands[i];
		if (in_data != m->in_data)
			continue;
		snprintf(names[i], sizeof names[i], "\\%s", m->name);
		if (strncmp(names[i], text, strlen(text)) == 0)
			n = add(out, n, max, names[i]);
	}
	return n;
}

size_t complete_candidates(const struct shell *sh, const char *line, size_t start,
			   const char *text, const char **out, size_t max, int *no_space,
			   int *files)
{
	*no_space = 0;
	*files = 0;
	/* The words before the one being completed. */
	char first[32] = "", prev[32] = "";
	size_t nwords = 0;
	for (size_t i = 0; i < start;) {
		while (i < start && (line[i] == ' ' || line[i] == '\t'))
			i++;
		if (i >= start)
			break;
		size_t j = i;
		while (j < start && line[j] != ' ' && line[j] != '\t')
			j++;
		if (nwords == 0)
			snprintf(first, sizeof first, "%.*s", (int)(j - i), line + i);
		snprintf(prev, sizeof prev, "%.*s", (int)(j - i < 31 ? j - i : 31), line + i);
		nwords++;
		i = j;
	}
	enum smtp_phase ph = session_phase(sh->session);
	if (nwords == 0) {
		if (text[0] == '\\' || ph == PHASE_DATA || !session_connected(sh->session))
			return text[0] == '\\' || text[0] == '\0' ? metas(sh, text, out, max) : 0;
		if (session_in_auth(sh->session))
			return 0;
		return verbs(sh, text, out, max);
	}
	if (first[0] == '\\') {
		const struct meta_command *m = meta_find(first + 1);
		if (!m)
			return 0;
		switch (m->complete) {
		case META_COMPLETE_FILE:
			*files = 1;
			return 0;
		case META_COMPLETE_HELP: {
			size_t n = verbs(sh, text, out, max);
			return n + metas(sh, text, out + n, max - n);
		}
		case META_COMPLETE_CONNECT: {
			static const char *const opts[] = {"--tls", "--starttls", "--plain"};
			size_t n = 0;
			if (nwords >= 2 || text[0] == '-')
				for (size_t i = 0; i < 3; i++)
					if (prefix_ci(opts[i], text))
						n = add(out, n, max, opts[i]);
			if (nwords == 1 && text[0] != '-' && prefix_ci("localhost", text))
				n = add(out, n, max, "localhost");
			return n;
		}
		case META_COMPLETE_SET: {
			const char *names[32];
			size_t k = nwords == 1 ? meta_setting_names(names, 32) : 0, n = 0;
			if (nwords == 2) {
				names[0] = "on";
				names[1] = "off";
				k = 2;
			}
			for (size_t i = 0; i < k; i++)
				if (prefix_ci(names[i], text))
					n = add(out, n, max, names[i]);
			return n;
		}
		case META_COMPLETE_AUTH: {
			if (nwords != 1)
				return 0;
			unsigned adv = sasl_advertised(session_caps(sh->session));
			size_t n = 0;
			for (int i = 0; i < SASL_MECH_COUNT; i++) {
				const char *name = sasl_mech_name((enum sasl_mech)i);
				if ((!adv || (adv & (1u << i))) && prefix_ci(name, text))
					n = add(out, n, max, name);
			}
			return n;
		}
		case META_COMPLETE_SEND: {
			if (strcmp(prev, "--body-file") == 0 || strcmp(prev, "--attach") == 0) {
				*files = 1;
				return 0;
			}
			size_t n = 0;
			if (strncmp(prev, "--", 2) == 0 && !strchr(prev, '='))
				return 0; /* the value of the option before */
			if (text[0] == '-' || text[0] == '\0')
				for (size_t i = 0; i < send_option_count; i++)
					if (strncmp(send_option_names[i], text, strlen(text)) == 0)
						n = add(out, n, max, send_option_names[i]);
			return n;
		}
		case META_COMPLETE_PRACTICE: {
			const char *names[32];
			size_t k = 0, n = 0;
			if (nwords == 1) {
				k = practice_setting_names(names, 32);
			} else if (nwords == 2) {
				char setting[32] = "";
				size_t i = strcspn(line, " \t");
				i += strspn(line + i, " \t");
				snprintf(setting, sizeof setting, "%.*s", (int)strcspn(line + i, " \t"),
					 line + i);
				k = practice_setting_values(setting, names, 32);
			}
			for (size_t i = 0; i < k; i++)
				if (prefix_ci(names[i], text))
					n = add(out, n, max, names[i]);
			return n;
		}
		case META_COMPLETE_NONE:
			return 0;
		}
		return 0;
	}
	if (ph == PHASE_DATA || nwords > 1)
		return 0;
	if (strcasecmp(first, "MAIL") == 0 && prefix_ci("FROM:<", text)) {
		*no_space = 1;
		return add(out, 0, max, "FROM:<");
	}
	if (strcasecmp(first, "RCPT") == 0 && prefix_ci("TO:<", text)) {
		*no_space = 1;
		return add(out, 0, max, "TO:<");
	}
	if (strcasecmp(first, "AUTH") == 0) {
		size_t n = 0;
		const struct smtp_cap *cap = session_caps(sh->session)->known
						     ? caps_find(session_caps(sh->session), "AUTH")
						     : NULL;
		if (cap) {
			static char mechs[16][32];
			const char *p = cap->params;
			for (size_t k = 0; *p && k < 16;) {
				size_t len = strcspn(p, " ");
				/* RFC 4422 mechanism names only: nothing else from the server is shown */
				if (len && len <= 20 && strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
								  "0123456789-_") >= len) {
					snprintf(mechs[k], sizeof mechs[k], "%.*s", (int)len, p);
					if (prefix_ci(mechs[k], text))
						n = add(out, n, max, mechs[k]);
					k++;
				}
				p += len;
				p += strspn(p, " ");
			}
			return n;
		}
		for (size_t i = 0; i < 4; i++)
			if (prefix_ci(default_mechs[i], text))
				n = add(out, n, max, default_mechs[i]);
		return n;
	}
	return 0;
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
