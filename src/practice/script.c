/*
 * smtpsh --serve --script FILE: the server side of a transcript (transcripts/FORMAT.md) as a
 * list of steps for the practice server to play. A pipelined group's replies, recorded after
 * the whole group, are handed back one per command, so that a client which waits for each
 * reply gets it (and one that pipelines gets them all the same).
 */
#include "smtpsh/practice_script.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void smtpd_script_init(struct smtpd_script *s)
{
	memset(s, 0, sizeof *s);
}

static void free_step(struct smtpd_script_step *st)
{
	free(st->expect);
	for (size_t i = 0; i < st->nreplies; i++)
		free(st->replies[i]);
	free(st->replies);
}

void smtpd_script_free(struct smtpd_script *s)
{
	for (size_t i = 0; i < s->n; i++)
		free_step(&s->steps[i]);
	free(s->steps);
	smtpd_script_init(s);
}

static struct smtpd_script_step *new_step(struct smtpd_script *s)
{
	if (s->n == SMTPD_SCRIPT_STEPS_MAX)
		return NULL;
	struct smtpd_script_step *steps = realloc(s->steps, (s->n + 1) * sizeof *steps);
	if (!steps)
		return NULL;
	s->steps = steps;
	memset(&steps[s->n], 0, sizeof steps[s->n]);
	return &steps[s->n++];
}

/* A copy of recorded octets that is safe to send as one reply line: no CR, LF or NUL. */
static char *line_copy(const char *text, size_t len)
{
	char *r = malloc(len + 1);
	if (!r)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		char ch = text[i];
		r[i] = ch == '\r' || ch == '\n' || ch == '\0' ? '?' : ch;
	}
	r[len] = '\0';
	return r;
}

static char *reply_copy(const struct buf *text)
{
	return line_copy(text->data ? text->data : "", text->len);
}

static int last_code(const struct smtpd_script_step *st)
{
	if (!st->nreplies)
		return 0;
	return atoi(st->replies[st->nreplies - 1]);
}

/* One client line (the server's view: a raw write's unfinished line goes before it). */
static int add_sent(struct smtpd_script *s, struct script_builder *b, const char *text, size_t len)
{
	struct smtpd_script_step *st = new_step(s);
	if (!st)
		return -1;
	if (b->has_partial) {
		char line[SMTPD_SCRIPT_PARTIAL_MAX];
		size_t n = b->plen;
		memcpy(line, b->partial, n);
		size_t more = len < sizeof line - n ? len : sizeof line - n;
		memcpy(line + n, text, more);
		b->has_partial = false;
		b->plen = 0;
		st->expect = line_copy(line, n + more);
	} else {
		st->expect = line_copy(text, len);
	}
	return st->expect ? 0 : -1;
}

/* Raw octets (or a chunk's): a step per line they end (at LF, a CR before it dropped); the
   rest is kept for the next sent line. */
static int add_raw(struct smtpd_script *s, struct script_builder *b, const char *data, size_t len)
{
	size_t pos = 0;
	while (pos < len) {
		const char *lf = memchr(data + pos, '\n', len - pos);
		if (!lf)
			break;
		size_t n = (size_t)(lf - data) - pos;
		size_t body = n && data[pos + n - 1] == '\r' ? n - 1 : n;
		if (add_sent(s, b, data + pos, body) < 0)
			return -1;
		struct smtpd_script_step *st = &s->steps[s->n - 1];
		if (b->in_data) {
			bool dot = strcmp(st->expect, ".") == 0;
			st->content = !dot;
			b->in_data = !dot;
		}
		pos += n + 1;
	}
	if (pos < len) {
		size_t n = len - pos;
		size_t room = sizeof b->partial - b->plen;
		memcpy(b->partial + b->plen, data + pos, n < room ? n : room);
		b->plen += n < room ? n : room;
		b->has_partial = true;
	}
	return 0;
}

int smtpd_script_add(struct smtpd_script *s, struct script_builder *b,
		     const struct transcript_entry *e)
{
	if (e->kind == TR_SENT && (e->raw || e->chunk))
		return add_raw(s, b, e->text.data ? e->text.data : "", e->text.len);
	if (e->kind == TR_SENT) {
		if (add_sent(s, b, e->text.data ? e->text.data : "", e->text.len) < 0)
			return -1;
		struct smtpd_script_step *st = &s->steps[s->n - 1];
		st->secret = strstr(st->expect, "<redacted>") != NULL;
		if (b->in_data) {
			bool dot = strcmp(st->expect, ".") == 0;
			st->content = !dot;
			b->in_data = !dot;
		}
		return 0;
	}
	if (e->kind != TR_RECEIVED)
		return 0;
	struct smtpd_script_step *st = s->n ? &s->steps[s->n - 1] : NULL;
	if (!st) { /* the greeting: replies before any sent line */
		st = new_step(s);
		if (!st)
			return -1;
	}
	if (st->nreplies == SMTPD_SCRIPT_REPLIES_MAX)
		return 0; /* a flood: the rest is dropped */
	char **r = realloc(st->replies, (st->nreplies + 1) * sizeof *r);
	if (!r)
		return -1;
	st->replies = r;
	if (!(r[st->nreplies] = reply_copy(&e->text)))
		return -1;
	st->nreplies++;
	if (e->code && e->last) {
		if (e->code == 354 && st->expect && strncasecmp(st->expect, "DATA", 4) == 0)
			b->in_data = true;
		st->starttls =
		    e->code == 220 && st->expect && strcasecmp(st->expect, "STARTTLS") == 0;
	}
	return 0;
}

/* Moves the i-th complete reply held by from into to (replies are kept in order). */
static int split_replies(struct smtpd_script_step *from, struct smtpd_script_step *steps,
			 size_t nsteps)
{
	size_t k = 0, start = 0;
	for (size_t i = 0; i < from->nreplies && k < nsteps; i++) {
		int code = atoi(from->replies[i]);
		char sep = strlen(from->replies[i]) > 3 ? from->replies[i][3] : ' ';
		if (code && sep == '-')
			continue;
		size_t n = i + 1 - start;
		struct smtpd_script_step *to = &steps[k++];
		to->replies = malloc(n * sizeof *to->replies);
		if (!to->replies)
			return -1;
		memcpy(to->replies, from->replies + start, n * sizeof *to->replies);
		to->nreplies = n;
		start = i + 1;
	}
	return 0;
}

/* How many complete replies (a line "ddd " or a line without a code) a step holds. */
static size_t complete_replies(const struct smtpd_script_step *st)
{
	size_t n = 0;
	for (size_t i = 0; i < st->nreplies; i++) {
		const char *r = st->replies[i];
		if (!(strlen(r) > 3 && r[3] == '-'))
			n++;
	}
	return n;
}

int smtpd_script_finish(struct smtpd_script *s)
{
	for (size_t i = 0; i < s->n; i++) {
		if (!s->steps[i].expect || s->steps[i].content || s->steps[i].nreplies)
			continue;
		/* steps[i..j) have no reply, steps[j] has one for each of them and its own */
		size_t j = i;
		while (j < s->n && s->steps[j].expect && !s->steps[j].content &&
		       !s->steps[j].nreplies)
			j++;
		if (j == s->n || s->steps[j].content ||
		    complete_replies(&s->steps[j]) != j - i + 1) {
			i = j;
			continue;
		}
		struct smtpd_script_step *last = &s->steps[j];
		char **all = last->replies;
		size_t nall = last->nreplies;
		last->replies = NULL;
		last->nreplies = 0;
		int r = split_replies(&(struct smtpd_script_step){.replies = all, .nreplies = nall},
				      &s->steps[i], j - i + 1);
		free(all); /* the strings now belong to the steps */
		if (r < 0)
			return -1;
		int code = last_code(last);
		if (code == 220 && strcasecmp(last->expect, "STARTTLS") == 0)
			last->starttls = true;
		i = j;
	}
	return 0;
}

int smtpd_script_load(struct smtpd_script *s, const char *path, char *err, size_t errlen)
{
	struct transcript_reader rd;
	smtpd_script_init(s);
	err[0] = '\0';
	if (transcript_reader_open(&rd, path) < 0) {
		snprintf(err, errlen, "%s", rd.err);
		return -1;
	}
	s->implicit_tls = strcmp(rd.header.tls, "implicit") == 0;
	struct transcript_entry e;
	transcript_entry_init(&e);
	struct script_builder b = {0};
	int r, connections = 0;
	while ((r = transcript_reader_next(&rd, &e)) == 1) {
		if (e.kind == TR_INFO && e.text.data &&
		    strncmp(e.text.data, "connected to", 12) == 0 && ++connections > 1)
			break; /* one connection is played */
		if (smtpd_script_add(s, &b, &e) < 0) {
			snprintf(err, errlen, "%s: out of memory or too long (at most %d lines)",
				 path, SMTPD_SCRIPT_STEPS_MAX);
			r = -1;
			break;
		}
	}
	if (r < 0 && !err[0])
		snprintf(err, errlen, "%s", rd.err);
	transcript_entry_free(&e);
	transcript_reader_close(&rd);
	if (r >= 0 && smtpd_script_finish(s) < 0) {
		snprintf(err, errlen, "out of memory");
		r = -1;
	}
	if (r >= 0 && (!s->n || !s->steps[0].nreplies || s->steps[0].expect)) {
		snprintf(err, errlen, "%s: no server greeting in the transcript", path);
		r = -1;
	}
	if (r < 0) {
		smtpd_script_free(s);
		return -1;
	}
	return 0;
}
