/*
 * The candidates of one Tab completion: the words before the cursor in, the words that may
 * follow out. complete.c fills the words and asks the right completer: the SMTP verb table
 * for a first word, the completer of a local command's row (meta.h) for its arguments. Pure
 * (no Readline here), so each completer sits beside the command it completes.
 */
#ifndef SMTPSH_CANDIDATES_H
#define SMTPSH_CANDIDATES_H

#include <stdbool.h>
#include <stddef.h>

#include "smtpsh/shell.h"

#define CANDIDATES_WORD_MAX 32

struct candidates {
	/* What is typed (psql's tab-complete matches the words before the cursor). */
	const struct shell *sh;
	const char *line; /* the line up to the word being completed */
	size_t nwords;	  /* words before the word being completed (1: the command alone) */
	char first[CANDIDATES_WORD_MAX]; /* the first word, "\send" or "MAIL" */
	char arg1[CANDIDATES_WORD_MAX];	 /* the second word, "" when nwords < 2 */
	char prev[CANDIDATES_WORD_MAX];	 /* the word just before the one being completed */
	const char *text;		 /* the word being completed, as typed so far */
	/* What may follow: strings that outlive the call (static, or from the session). */
	const char **out;
	size_t max;
	size_t n;
	bool no_space; /* the candidate is not followed by a blank ("FROM:<") */
	bool files;    /* offer file names instead (Readline's own completion) */
};

/* Splits line[0..start) into the words of c (shell and out set by the caller). */
void candidates_begin(struct candidates *c, const struct shell *sh, const char *line, size_t start,
		      const char *text, const char **out, size_t max);

/* Offers s when the word typed so far is a prefix of it, ignoring case (at most max). */
void candidates_offer(struct candidates *c, const char *s);
/* The same, the case as typed ("--to", not "--TO"). */
void candidates_offer_exact(struct candidates *c, const char *s);

/* The SMTP verbs of the verb table that fit the session's phase and capabilities (all
   those that match when none fits). */
void candidates_verbs(struct candidates *c);

#endif
