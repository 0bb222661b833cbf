/* The SMTP client protocol engine, without I/O (see client.h). */
#include "smtpsh/client.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "smtpsh/authline.h"
#include "smtpsh/authview.h"
#include "smtpsh/sasl.h"

/* The kinds that are moments of the conversation rather than verbs: how messages and events
   name them. A verb's kind is named by its row in the verb table (verbs.c). */
static const struct {
	const char *what;   /* in messages: "no reply to the end of DATA" */
	const char *short_; /* in events (what hints match on); NULL: not known */
} moments[] = {
    [VERB_GREETING] = {"the greeting", "greeting"},
    [VERB_AUTH_DATA] = {"AUTH", "AUTH"},
    [VERB_DOT] = {"the end of DATA", "."},
    [VERB_OTHER] = {"the command", NULL},
};

static const char *const phase_names[] = {
    [PHASE_DISCONNECTED] = "disconnected",
    [PHASE_GREETING] = "greeting",
    [PHASE_GREETED] = "greeted",
    [PHASE_READY] = "ready",
    [PHASE_MAIL] = "mail",
    [PHASE_RCPT] = "rcpt",
    [PHASE_BDAT] = "bdat",
    [PHASE_DATA] = "data",
    [PHASE_CLOSED] = "closed",
};

/* ---- replies kept for the caller -------------------------------------------------------- */

void smtp_reply_init(struct smtp_reply *r)
{
	r->code = 0;
	r->nlines = 0;
	buf_init(&r->text);
}

void smtp_reply_free(struct smtp_reply *r)
{
	buf_free(&r->text);
	r->code = 0;
	r->nlines = 0;
}

void smtp_reply_clear(struct smtp_reply *r)
{
	r->code = 0;
	r->nlines = 0;
	buf_reset(&r->text);
}

void smtp_reply_copy(struct smtp_reply *dst, const struct smtp_reply *src)
{
	smtp_reply_clear(dst);
	dst->code = src->code;
	dst->nlines = src->nlines;
	buf_append(&dst->text, src->text.data ? src->text.data : "", src->text.len);
}

/* ---- events ----------------------------------------------------------------------------- */

static void emit(struct smtp_client *c, struct session_event *ev)
{
	if (c->on_event)
		c->on_event(ev, c->arg);
}

__attribute__((format(printf, 3, 4))) static void
notify(struct smtp_client *c, enum session_event_type type, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	struct session_event ev = {.type = type, .text = msg, .len = strlen(msg), .elapsed_ms = -1};
	emit(c, &ev);
}

/* ---- life cycle and the phase ----------------------------------------------------------- */

void client_init(struct smtp_client *c, client_event_fn on_event, client_phase_fn on_phase,
		 void *arg)
{
	memset(c, 0, sizeof *c); /* PHASE_DISCONNECTED */
	caps_init(&c->caps);
	reply_parser_init(&c->parser);
	smtp_reply_init(&c->cur);
	smtp_reply_init(&c->last);
	c->on_event = on_event;
	c->on_phase = on_phase;
	c->arg = arg;
}

/* Forgets the AUTH state of the connection (a new connection, STARTTLS). */
static void auth_forget(struct smtp_client *c)
{
	OPENSSL_cleanse(c->auth_try, sizeof c->auth_try);
	c->auth_mech[0] = '\0';
	c->auth_nresp = 0;
	c->authed = false;
	c->auth_user[0] = '\0';
	c->authed_mech[0] = '\0';
}

void client_free(struct smtp_client *c)
{
	free(c->txn.rcpt);
	c->txn = (struct client_txn){0};
	caps_clear(&c->caps);
	reply_parser_free(&c->parser);
	smtp_reply_free(&c->cur);
	smtp_reply_free(&c->last);
	auth_forget(c);
}

void client_reset(struct smtp_client *c)
{
	reply_parser_reset(&c->parser);
	smtp_reply_clear(&c->cur);
	c->reply_broken = false;
	caps_clear(&c->caps);
	c->pend_head = c->pend_n = 0;
	c->sent_seq = c->done_seq = 0;
	c->in_auth = false;
	c->greeting = 0;
	/* RFC 2033 4.2: the replies to "." are one per recipient, so what follows the "." in
	   a pipelined group could not be told apart from them by count alone: it goes alone. */
	c->dot_alone = c->lmtp;
	c->dots_owed = c->dots_total = 0;
	c->bdat_refused = false;
	c->txn.n = c->txn.dropped = 0;
	c->out_of_step = false;
	c->raw_auth_open = false;
	c->probing = false;
	c->probe_replies = 0;
	auth_forget(c);
}

void client_set_lmtp(struct smtp_client *c, bool lmtp)
{
	c->lmtp = lmtp;
	c->dot_alone = lmtp || c->dot_alone;
}

const struct client_txn *client_txn(const struct smtp_client *c)
{
	return &c->txn;
}

bool client_dot_replies(const struct smtp_client *c, size_t *got, size_t *want)
{
	if (!c->dots_owed)
		return false;
	*want = c->dots_total;
	*got = c->dots_total - c->dots_owed;
	return true;
}

void client_set_phase(struct smtp_client *c, enum smtp_phase to)
{
	enum smtp_phase from = c->phase;
	if (from == to)
		return;
	c->phase = to;
	if (c->on_phase)
		c->on_phase(from, to, c->arg);
}

const char *client_phase_name(enum smtp_phase p)
{
	return (size_t)p < sizeof phase_names / sizeof phase_names[0] ? phase_names[p] : "?";
}

/* The name of the verb-table row of kind v (EHLO before its alias), or NULL for a moment. */
static const char *kind_name(enum client_verb v)
{
	if (v == VERB_GREETING || v == VERB_AUTH_DATA || v == VERB_DOT || v == VERB_OTHER)
		return NULL;
	for (size_t i = 0; i < smtp_verb_count; i++)
		if (smtp_verbs[i].kind == v)
			return smtp_verbs[i].name;
	return NULL;
}

const char *client_verb_what(enum client_verb v)
{
	const char *name = kind_name(v);
	return name ? name : moments[v].what;
}

const char *client_verb_short(enum client_verb v)
{
	const char *name = kind_name(v);
	return name ? name : moments[v].short_;
}

/* ---- the queue of replies owed ---------------------------------------------------------- */

/*
 * The queue is the one account of what is owed: LMTP's count of replies per recipient (to "."
 * or BDAT LAST: dots_owed, one pending entry per accepted recipient) moves with it in
 * pend_push, pend_pop and pend_forget, never beside it.
 */

/* Does p owe one recipient's reply about the message (LMTP: "." or BDAT LAST, RFC 2033 4.2
   and 4.3)? */
static bool pend_per_rcpt(const struct client_pending *p)
{
	return p->rcpt_of > 0;
}

/* The reply owed to p is no longer owed (answered, or forgotten): LMTP's count follows. The
   total is reset only once nothing per recipient is owed, whatever else was answered
   between (a "." owing one reply before the replies of a later message). */
static void pend_unowe(struct smtp_client *c, const struct client_pending *p)
{
	if (pend_per_rcpt(p) && c->dots_owed && --c->dots_owed == 0)
		c->dots_total = 0;
}

/* Notes that a reply is owed to a command written at sent_ms (shown: as displayed, or NULL);
   rcpt_nth of rcpt_of: LMTP's reply of one recipient about the message, else 0 of 0. */
static struct client_pending *pend_push(struct smtp_client *c, enum client_verb v,
					long long sent_ms, const char *shown, unsigned pipe_index,
					unsigned pipe_total, int rcpt, unsigned rcpt_nth,
					unsigned rcpt_of)
{
	if (c->pend_n == CLIENT_PENDING_MAX) { /* forget the oldest: its reply is long overdue */
		pend_unowe(c, &c->pending[c->pend_head]);
		c->pend_head = (c->pend_head + 1) % CLIENT_PENDING_MAX;
		c->pend_n--;
		c->done_seq++;
	}
	struct client_pending *p = &c->pending[(c->pend_head + c->pend_n) % CLIENT_PENDING_MAX];
	p->v = v;
	p->sent_ms = sent_ms;
	p->pipe_index = pipe_index;
	p->pipe_total = pipe_total;
	p->last = false;
	p->rcpt = rcpt;
	p->rcpt_nth = rcpt_nth;
	p->rcpt_of = rcpt_of;
	snprintf(p->shown, sizeof p->shown, "%s", shown ? shown : "");
	c->pend_n++;
	c->sent_seq++;
	if (pend_per_rcpt(p)) {
		c->dots_owed++;
		c->dots_total++;
	}
	return p;
}

/* The command the next reply answers, popped into *p; false when no reply is owed. */
static bool pend_pop(struct smtp_client *c, struct client_pending *p)
{
	if (!c->pend_n)
		return false;
	*p = c->pending[c->pend_head];
	pend_unowe(c, p);
	c->pend_head = (c->pend_head + 1) % CLIENT_PENDING_MAX;
	c->pend_n--;
	c->done_seq++;
	return true;
}

/* Every reply owed is forgotten (counted as done): after a TLS upgrade, or raw bytes. */
static void pend_forget(struct smtp_client *c)
{
	c->done_seq += c->pend_n;
	c->pend_head = c->pend_n = 0;
	c->dots_owed = c->dots_total = 0;
}

const struct client_pending *client_pending_head(const struct smtp_client *c)
{
	return c->pend_n ? &c->pending[c->pend_head] : NULL;
}

void client_connected(struct smtp_client *c, long long now_ms)
{
	client_set_phase(c, PHASE_GREETING);
	pend_push(c, VERB_GREETING, now_ms, NULL, 0, 0, -1, 0, 0);
}

/* ---- the recipients of the transaction ------------------------------------------------- */

/* The address of a RCPT line as given: what is inside <...>, else the word after "TO:". */
static void rcpt_address(const char *line, char *out, size_t outlen)
{
	const char *p = strchr(line, '<'), *e = p ? strchr(p, '>') : NULL;
	if (p && e) {
		p++;
	} else {
		p = strchr(line, ':');
		p = p ? p + 1 : line + strlen(line);
		p += strspn(p, " \t");
		e = p + strcspn(p, " \t");
	}
	size_t n = (size_t)(e - p);
	snprintf(out, outlen, "%.*s", n >= outlen ? (int)outlen - 1 : (int)n, p);
}

/* Adds the recipient of a RCPT line written now; its index, or -1 past CLIENT_RCPT_MAX. */
static int txn_add(struct smtp_client *c, const char *line)
{
	struct client_txn *t = &c->txn;
	if (t->n == CLIENT_RCPT_MAX) {
		t->dropped++;
		return -1;
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 8;
		struct client_rcpt *r = realloc(t->rcpt, cap * sizeof *r);
		if (!r) {
			t->dropped++;
			return -1;
		}
		t->rcpt = r;
		t->cap = cap;
	}
	struct client_rcpt *r = &t->rcpt[t->n];
	memset(r, 0, sizeof *r);
	rcpt_address(line, r->addr, sizeof r->addr);
	return (int)t->n++;
}

/* A reply kept with a recipient, cut to fit: text[0..len) into dst[CLIENT_RCPT_TEXT_MAX]. */
static void keep_text(char *dst, const char *text, size_t len)
{
	size_t n = len < CLIENT_RCPT_TEXT_MAX - 1 ? len : CLIENT_RCPT_TEXT_MAX - 1;
	if (n)
		memcpy(dst, text, n);
	dst[n] = '\0';
}

/* The first line of a reply after its code ("250 2.1.5 Ok" -> "2.1.5 Ok"), cut to fit:
   what the summary table shows. */
static void keep_line(char *dst, const char *text, size_t len)
{
	size_t n = 0;
	while (n < len && text[n] != '\n')
		n++;
	size_t skip = n >= 4 ? 4 : n;
	n -= skip;
	snprintf(dst, CLIENT_RCPT_LINE_MAX, "%.*s",
		 (int)(n < CLIENT_RCPT_LINE_MAX ? n : CLIENT_RCPT_LINE_MAX - 1), text + skip);
}

/* A recipient's final reply: code, the whole reply text[0..len) (code included). */
static void rcpt_set_final(struct client_rcpt *r, int code, const char *text, size_t len)
{
	r->final_code = code;
	keep_text(r->final_text, text, len);
	keep_line(r->final_line, text, len);
}

/* A reply about the message (whole: text[0..len), code included) for the accepted recipients
   still without a final reply: all of them, or only the first. False when none was left. */
static bool txn_final(struct smtp_client *c, int code, const char *text, size_t len, bool all)
{
	bool any = false;
	for (size_t i = 0; i < c->txn.n; i++) {
		struct client_rcpt *r = &c->txn.rcpt[i];
		if (!r->accepted || r->final_code)
			continue;
		rcpt_set_final(r, code, text, len);
		any = true;
		if (!all)
			break;
	}
	return any;
}

bool client_rcpt_final(struct smtp_client *c, int code, const char *text, size_t len, bool all)
{
	/* text is the first line after the code: kept whole as the server's line would be */
	char whole[CLIENT_RCPT_TEXT_MAX];
	int n = snprintf(whole, sizeof whole, "%03d %.*s", code,
			 (int)(len < sizeof whole ? len : sizeof whole - 1), text);
	size_t wl = n < 0 ? 0 : (size_t)n < sizeof whole ? (size_t)n : sizeof whole - 1;
	return txn_final(c, code, whole, wl, all);
}

/* What a complete reply (c->last) to p, a RCPT or a command after the message content ("."
   or a BDAT chunk), says about the recipients. */
static void txn_reply(struct smtp_client *c, const struct client_pending *p)
{
	struct client_txn *t = &c->txn;
	const struct smtp_reply *last = &c->last;
	const char *text = last->text.data ? last->text.data : "";
	int code = last->code;
	bool in_txn = p->rcpt >= 0 && (size_t)p->rcpt < t->n;
	if (p->v == VERB_RCPT) {
		if (!in_txn)
			return;
		struct client_rcpt *r = &t->rcpt[p->rcpt];
		r->rcpt_code = code;
		r->accepted = code >= 200 && code < 300;
		keep_text(r->rcpt_text, text, last->text.len);
		keep_line(r->rcpt_line, text, last->text.len);
	} else if (pend_per_rcpt(p)) { /* LMTP: this recipient's own reply */
		if (in_txn)
			rcpt_set_final(&t->rcpt[p->rcpt], code, text, last->text.len);
	} else { /* SMTP: one reply for every accepted recipient still without one */
		txn_final(c, code, text, last->text.len, true);
	}
}

/* A reply about the message after its content came (for p): the recipients learn it, and
   once no other reply about it is owed (LMTP: the last recipient's), the message is
   answered. True when the transaction is over too: no recipient's reply is still owed,
   not even to a later message (a client that did not wait). */
static bool message_reply(struct smtp_client *c, const struct client_pending *p)
{
	txn_reply(c, p);
	if (pend_per_rcpt(p) && p->rcpt_nth < p->rcpt_of)
		return false; /* LMTP: more recipients' replies to come */
	c->messages++;
	return !c->dots_owed;
}

/* ---- commands --------------------------------------------------------------------------- */

enum client_verb client_classify(const char *line, bool in_auth)
{
	if (in_auth)
		return VERB_AUTH_DATA;
	/* The verb as the server reads it (leading blanks, TABs): " STARTTLS" is STARTTLS. */
	size_t off, n = authline_verb(line, strlen(line), &off);
	for (size_t i = 0; i < smtp_verb_count; i++) {
		const struct smtp_verb *r = &smtp_verbs[i];
		if ((strlen(r->name) == n && strncasecmp(line + off, r->name, n) == 0) ||
		    (r->alias && strlen(r->alias) == n &&
		     strncasecmp(line + off, r->alias, n) == 0))
			return r->kind;
	}
	return VERB_OTHER;
}

bool client_pipelinable(const char *line)
{
	enum client_verb v = client_classify(line, false);
	return v == VERB_MAIL || v == VERB_RCPT || v == VERB_RSET;
}

/* The masked form of a line that holds a secret; false when it holds none. */
static bool redact(const char *line, bool in_auth, char *out, size_t outlen)
{
	if (in_auth) {
		if (strcmp(line, "*") == 0)
			return false; /* cancelling is no secret */
		snprintf(out, outlen, "<redacted>");
		return true;
	}
	return authline_redact(line, strlen(line), out, outlen);
}

/* Follows an AUTH exchange far enough to know the user name (for \status), never the secret. */
static void auth_track(struct smtp_client *c, enum client_verb v, const char *line)
{
	struct authline a;
	size_t len = strlen(line);
	if (v == VERB_AUTH && authline_parse(line, len, &a)) {
		OPENSSL_cleanse(c->auth_try, sizeof c->auth_try);
		size_t n = a.mech_len;
		snprintf(c->auth_mech, sizeof c->auth_mech, "%.*s", n > 23 ? 23 : (int)n,
			 line + a.mech_off);
		for (char *p = c->auth_mech; *p; p++)
			*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
		c->auth_nresp = 0;
		if (!a.has_response)
			return;
		line += a.resp_off;
		len = a.resp_len;
	} else if (v != VERB_AUTH_DATA || strcmp(line, "*") == 0) {
		return;
	}
	c->auth_nresp++;
	char user[CLIENT_AUTH_USER_MAX];
	if (authview_user(c->auth_mech, c->auth_nresp, line, len, user, sizeof user))
		memcpy(c->auth_try, user, sizeof user);
	OPENSSL_cleanse(user, sizeof user);
}

/*
 * Is line AUTH LOGIN's answer to a 334 that asks for the user name ("Username:", "User
 * Name")? Then user gets the name it carries. RFC 4954 gives LOGIN no texts: only a challenge
 * that says so counts, and only a first answer that is valid base64, never a later one (the
 * password's).
 */
static bool login_user_answer(const struct smtp_client *c, const char *line, char *user, size_t n)
{
	if (strcmp(c->auth_mech, "LOGIN") != 0 || c->auth_nresp != 0 || c->last.code != 334 ||
	    !c->last.text.data)
		return false;
	struct buf ch;
	buf_init(&ch);
	bool asks =
	    sasl_challenge_decode(c->last.text.data, c->last.text.len, &ch) == SASL_DECODE_OK &&
	    ch.len >= 4 && strncasecmp(ch.data, "user", 4) == 0;
	buf_free(&ch);
	return asks && authview_user("LOGIN", 1, line, strlen(line), user, n);
}

bool client_bdat_parse(const char *line, unsigned long long *size, bool *last)
{
	size_t off, n = authline_verb(line, strlen(line), &off);
	if (n != 4 || strncasecmp(line + off, "BDAT", 4) != 0 || line[off + 4] != ' ')
		return false;
	const char *p = line + off + 5;
	unsigned long long v = 0;
	size_t digits = 0;
	for (; *p >= '0' && *p <= '9'; p++, digits++)
		if (digits < 19)
			v = v * 10 + (unsigned long long)(*p - '0');
	if (digits == 0 || digits > 19)
		return false;
	*last = false;
	if (*p == ' ' && strncasecmp(p + 1, "LAST", 4) == 0) {
		*last = true;
		p += 5;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p)
		return false;
	*size = v;
	return true;
}

void client_command(struct smtp_client *c, struct client_command *o, const char *line,
		    const char *shown, enum client_verb v, unsigned pipe_index, unsigned pipe_total)
{
	o->line = line;
	o->v = v;
	o->last = false;
	if (v == VERB_BDAT) {
		unsigned long long size;
		if (!client_bdat_parse(line, &size, &o->last))
			o->last = false;
	}
	o->secret = redact(line, v == VERB_AUTH_DATA, o->redacted, sizeof o->redacted);
	o->shown = shown ? shown : line;
	char user[CLIENT_AUTH_USER_MAX] = "";
	if (v == VERB_AUTH_DATA && login_user_answer(c, line, user, sizeof user))
		o->shown = line; /* the user name: the screen shows it however it was typed */
	if (v == VERB_EHLO)
		caps_clear(&c->caps);
	if (v == VERB_MAIL) { /* a new transaction: its recipients follow */
		c->txn.n = c->txn.dropped = 0;
		c->bdat_refused = false;
	}
	auth_track(c, v, line);
	struct session_event ev = {.type = SEV_SENT,
				   .text = o->shown,
				   .len = strlen(o->shown),
				   .body = v == VERB_DOT,
				   .elapsed_ms = -1,
				   .pipe_index = pipe_index,
				   .pipe_total = pipe_total,
				   .secret = o->secret,
				   .redacted = o->secret ? o->redacted : NULL,
				   .login_user = user[0] ? user : NULL};
	emit(c, &ev);
}

/* A command written while out of step: its reply will be the last one (client_probe_end). */
static void start_probe(struct smtp_client *c)
{
	if (!c->out_of_step || c->probing)
		return;
	c->probing = true;
	c->probe_replies = 0;
}

/*
 * The command that ends the message content (v: "." or BDAT ... LAST) was written: in LMTP
 * one reply per accepted recipient is owed, in the order of the RCPT commands (RFC 2033 4.2:
 * "one reply for each successful RCPT command"; 4.3: the same for BDAT with LAST), each
 * entry naming its recipient; else one reply. The RCPT replies are all in by then: "." only
 * follows DATA's 354, and the session sends BDAT by itself, never in a pipelined group
 * (session_check_verb). False when nothing per recipient is owed (the caller pushes the one
 * entry).
 */
static bool expect_per_rcpt(struct smtp_client *c, enum client_verb v, long long sent_ms,
			    unsigned pipe_index, unsigned pipe_total)
{
	size_t accepted = 0;
	for (size_t i = 0; c->lmtp && i < c->txn.n; i++)
		accepted += c->txn.rcpt[i].accepted;
	if (!accepted) /* SMTP, or an LMTP server that took the content without a recipient */
		return false;
	/* added to what may still be owed to an earlier message (a client that did not wait):
	   pend_push counts each entry in dots_owed */
	unsigned nth = 0;
	for (size_t i = 0; i < c->txn.n; i++) {
		if (!c->txn.rcpt[i].accepted)
			continue;
		struct client_pending *p = pend_push(c, v, sent_ms, c->txn.rcpt[i].addr, pipe_index,
						     pipe_total, (int)i, ++nth, (unsigned)accepted);
		p->last = v == VERB_BDAT;
	}
	return true;
}

void client_expect(struct smtp_client *c, const struct client_command *o, long long sent_ms,
		   unsigned pipe_index, unsigned pipe_total)
{
	c->unsolicited = c->unsol_lines = 0;
	if (!(o->v == VERB_BDAT && o->last &&
	      expect_per_rcpt(c, o->v, sent_ms, pipe_index, pipe_total))) {
		int rcpt = o->v == VERB_RCPT ? txn_add(c, o->line) : -1;
		pend_push(c, o->v, sent_ms, o->secret ? o->redacted : o->shown, pipe_index,
			  pipe_total, rcpt, 0, 0)
		    ->last = o->last;
	}
	start_probe(c);
}

void client_expect_dot(struct smtp_client *c, long long sent_ms)
{
	if (!expect_per_rcpt(c, VERB_DOT, sent_ms, 0, 0))
		pend_push(c, VERB_DOT, sent_ms, ".", 0, 0, -1, 0, 0);
	start_probe(c);
}

bool client_resend_after_dot(struct smtp_client *c, const int *codes, size_t n)
{
	if (n < 2 || codes[0] < 200 || codes[0] >= 300)
		return false;
	for (size_t i = 1; i < n; i++)
		if (codes[i] != 503)
			return false;
	c->dot_alone = true;
	return true;
}

/* ---- replies ---------------------------------------------------------------------------- */

/* What a complete reply (c->last) to the command p does to the state. */
static enum client_action apply_reply(struct smtp_client *c, const struct client_pending *p,
				      int code)
{
	enum client_verb v = p->v;
	bool ok = code >= 200 && code < 300;
	enum client_action act = CLIENT_REPLY;
	switch (v) {
	case VERB_GREETING:
		client_set_phase(c, PHASE_GREETED);
		c->greeting = code;
		if (code != 220)
			notify(c, SEV_WARNING, "the server refused the session (%d)", code);
		break;
	case VERB_EHLO:
	case VERB_HELO:
		if (ok)
			client_set_phase(c, PHASE_READY);
		break;
	case VERB_STARTTLS:
		if (code == 220)
			return CLIENT_UPGRADE_TLS;
		break;
	case VERB_AUTH:
	case VERB_AUTH_DATA:
		c->in_auth = code == 334;
		if (code == 235) {
			c->authed = true;
			memcpy(c->auth_user, c->auth_try, sizeof c->auth_user);
			memcpy(c->authed_mech, c->auth_mech, sizeof c->authed_mech);
		}
		if (code != 334)
			OPENSSL_cleanse(c->auth_try, sizeof c->auth_try);
		break;
	case VERB_MAIL:
		if (ok)
			client_set_phase(c, PHASE_MAIL);
		break;
	case VERB_RCPT:
		txn_reply(c, p);
		if (ok && (c->phase == PHASE_MAIL || c->phase == PHASE_RCPT))
			client_set_phase(c, PHASE_RCPT);
		break;
	case VERB_DATA:
		if (code == 354) {
			client_set_phase(c, PHASE_DATA);
			act = CLIENT_START_DATA;
		}
		break;
	case VERB_BDAT:
		if (pend_per_rcpt(p)) {
			/* LMTP: a recipient's reply to LAST is about the message for that
			   recipient alone (RFC 2033 4.3); after the last one the transaction is
			   over, whatever each said. */
			if (message_reply(c, p) &&
			    (c->phase == PHASE_RCPT || c->phase == PHASE_BDAT))
				client_set_phase(c, PHASE_READY);
		} else if (!ok) {
			/* RFC 3030 2: a refused chunk fails the transaction, no chunk may follow it
			   (the server discards the rest); RSET starts afresh. The phase stays until
			   then. */
			c->bdat_refused = true;
			message_reply(c, p);
		} else if (p->last) {
			if (message_reply(c, p) &&
			    (c->phase == PHASE_RCPT || c->phase == PHASE_BDAT))
				client_set_phase(c, PHASE_READY);
		} else if (c->phase == PHASE_RCPT) {
			client_set_phase(c, PHASE_BDAT);
		}
		break;
	case VERB_DOT:
		if (message_reply(c, p))
			client_set_phase(c, PHASE_READY);
		break;
	case VERB_RSET:
		if (ok) {
			c->txn.n = c->txn.dropped = 0;
			c->bdat_refused = false;
		}
		if (ok && c->phase > PHASE_READY)
			client_set_phase(c, PHASE_READY);
		break;
	case VERB_XCLIENT:
		if (code != 220)
			break;
		/* Postfix XCLIENT_README: the 220 reply IS the new greeting of a session that
		   starts over as the client the attributes name: what EHLO said and who logged in
		   no longer hold (LOGIN= is the server's to decide). */
		caps_clear(&c->caps);
		c->greeting = code;
		c->in_auth = false;
		auth_forget(c);
		c->txn.n = c->txn.dropped = 0;
		c->bdat_refused = false;
		client_set_phase(c, PHASE_GREETED);
		notify(c, SEV_INFO,
		       "XCLIENT accepted: that reply is the new greeting; the extensions are "
		       "forgotten, %s comes next",
		       c->lmtp ? "LHLO" : "EHLO");
		return CLIENT_NEW_GREETING;
	case VERB_QUIT:
		if (code == 221)
			return CLIENT_CLOSE;
		break;
	case VERB_OTHER:
		break;
	}
	if (code == 421)
		notify(c, SEV_WARNING, "the server says it is closing the connection (421)");
	return act;
}

/* The end of a malformed reply (already reported): it answers the oldest command. */
static enum client_action end_broken_reply(struct smtp_client *c, struct client_result *res)
{
	struct client_pending p = {.v = VERB_OTHER, .rcpt = -1};
	bool owed = !c->out_of_step && pend_pop(c, &p);
	if (c->probing)
		c->probe_replies++;
	if (p.v == VERB_GREETING)
		client_set_phase(c, PHASE_GREETED);
	/* the last recipient's reply, broken, still ends the transaction (once none is owed) */
	if (pend_per_rcpt(&p) && p.rcpt_nth == p.rcpt_of && !c->dots_owed)
		client_set_phase(c, PHASE_READY);
	res->done = owed;
	res->verb = p.v;
	return res->action = CLIENT_PROTO_ERROR;
}

__attribute__((format(printf, 2, 3))) static void fail(struct smtp_client *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	struct session_event ev = {
	    .type = SEV_ERROR, .text = msg, .len = strlen(msg), .elapsed_ms = -1};
	emit(c, &ev);
}

/*
 * A reply past REPLY_LINES_MAX lines: no server has a reason to send that, and one that does
 * may never stop (an endless multi-line reply). Its remaining lines are not shown (what was
 * read of them is counted), and the connection is to be closed as a protocol error: the
 * reply's end, if it ever came, could not be told from what follows, so the client could not
 * get back in step.
 */
static enum client_action too_many_lines(struct smtp_client *c, const char *rest, size_t bytes,
					 struct client_result *res)
{
	size_t lines = 0;
	for (const char *p = rest; (p = memchr(p, '\n', (size_t)(rest + bytes - p))); p++)
		lines++;
	char verb[40] = "";
	const struct client_pending *pd = client_pending_head(c);
	if (pd)
		snprintf(verb, sizeof verb, " to %s", client_verb_what(pd->v));
	res->done = pd != NULL;
	fail(c,
	     "protocol error: the reply%s has more than %d lines; the rest is not shown (%zu more "
	     "lines, %zu bytes already received); connection closed",
	     verb, REPLY_LINES_MAX, lines, bytes);
	return res->action = CLIENT_ABORT;
}

enum client_action client_recv(struct smtp_client *c, const char *data, size_t len,
			       size_t *used_out, long long now_ms, struct client_result *res)
{
	*res = (struct client_result){.action = CLIENT_NONE, .verb = VERB_OTHER};
	size_t off = 0;
	while (off < len) {
		size_t used = 0;
		struct reply_line line;
		enum reply_result r =
		    reply_parser_push(&c->parser, data + off, len - off, &used, &line);
		off += used;
		*used_out = off;
		if (r == REPLY_MORE)
			break;
		if (r == REPLY_BAD && line.err == REPLY_ERR_TOO_MANY_LINES)
			return too_many_lines(c, data + off, len - off, res);
		/* Out of step, no reply is paired as it arrives: even with a command written
		   (probing), which one answers it is known only once the line is quiet. */
		const struct client_pending *pd = c->out_of_step ? NULL : client_pending_head(c);
		struct session_event ev = {
		    .type = SEV_RECEIVED,
		    .text = line.text,
		    .len = line.len,
		    .code = r == REPLY_BAD ? 0 : line.code,
		    .last = r != REPLY_LINE,
		    .bare_lf = line.bare_lf,
		    .unsolicited = pd == NULL,
		    .elapsed_ms = pd ? (long)(now_ms - pd->sent_ms) : -1,
		    .verb = pd ? client_verb_short(pd->v) : NULL,
		    .command = pd && pd->shown[0] ? pd->shown : NULL,
		    .pipe_index = pd ? pd->pipe_index : 0,
		    .pipe_total = pd ? pd->pipe_total : 0,
		};
		if (pd && pend_per_rcpt(pd)) {
			ev.rcpt = pd->shown;
			ev.rcpt_index = pd->rcpt_nth;
			ev.rcpt_total = pd->rcpt_of;
		}
		if (r == REPLY_BAD && line.err == REPLY_ERR_TOO_LONG && ev.len > 256)
			ev.len = 256; /* the first bytes are enough to see what it is */
		/* Lines nobody asked for are shown up to the cap of one reply, then counted: a
		   server that sends them without end must not flood the screen. */
		if (pd || c->unsol_lines++ < REPLY_LINES_MAX) {
			emit(c, &ev);
		} else {
			c->unsol_hidden++;
			c->unsol_hidden_bytes += line.len;
		}
		if (r == REPLY_BAD) {
			smtp_reply_clear(&c->cur);
			if (!c->reply_broken) /* one error per broken reply, however long */
				fail(c, "protocol error: %s%s", reply_error_str(line.err),
				     line.err == REPLY_ERR_TOO_LONG ? " (the rest of it is skipped)"
								    : "");
			/* "250-..." says more lines follow: they still answer the same command */
			c->reply_broken =
			    line.err != REPLY_ERR_SYNTAX && line.len >= 4 && line.text[3] == '-';
			if (c->reply_broken)
				continue;
			return end_broken_reply(c, res);
		}
		if (line.bare_lf)
			notify(c, SEV_WARNING, "reply line ended with a bare LF instead of CRLF");
		if (c->cur.text.len + line.len < CLIENT_REPLY_TEXT_MAX) {
			if (c->cur.nlines)
				buf_putc(&c->cur.text, '\n');
			buf_append(&c->cur.text, line.text, line.len);
		}
		if (pd && pd->v == VERB_EHLO && line.code == 250)
			caps_add_line(&c->caps, line.text, line.len, c->cur.nlines == 0);
		c->cur.nlines++;
		c->cur.code = line.code;
		if (r == REPLY_DONE && c->reply_broken) {
			c->reply_broken = false;
			smtp_reply_clear(&c->cur);
			return end_broken_reply(c, res);
		}
		if (r == REPLY_DONE) {
			struct smtp_reply tmp = c->last;
			c->last = c->cur;
			c->cur = tmp;
			smtp_reply_clear(&c->cur);
			res->done = true;
			res->code = c->last.code;
			struct client_pending p;
			if (c->out_of_step) { /* shown unpaired; a probe counts it */
				/* a 334 after raw bytes asks for a SASL response: what comes next
				   is a secret (client_raw, client_classify's in_auth) */
				c->in_auth = res->code == 334;
				if (c->probing)
					c->probe_replies++;
				if (res->code == 421)
					notify(
					    c, SEV_WARNING,
					    "the server says it is closing the connection (421)");
				return res->action = CLIENT_REPLY;
			}
			if (!pend_pop(c, &p)) { /* unsolicited: shown, no effect */
				if (c->unsolicited++ == 0)
					notify(
					    c, SEV_WARNING,
					    "the server sent a reply no command was waiting for");
				return res->action = CLIENT_REPLY;
			}
			res->verb = p.v;
			return res->action = apply_reply(c, &p, res->code);
		}
	}
	*used_out = off;
	return CLIENT_NONE;
}

bool client_mid_reply(const struct smtp_client *c)
{
	return reply_parser_busy(&c->parser) || c->reply_broken;
}

void client_report_hidden(struct smtp_client *c)
{
	if (!c->unsol_hidden)
		return;
	notify(c, SEV_INFO, "... %llu more lines nobody asked for not shown (%llu bytes)",
	       c->unsol_hidden, c->unsol_hidden_bytes);
	c->unsol_hidden = c->unsol_hidden_bytes = 0;
}

/* ---- raw bytes -------------------------------------------------------------------------- */

/*
 * The display form of raw bytes: each line (up to and with its LF) that is an AUTH command
 * with a response becomes its redacted form plus the line end; the first line when an
 * earlier raw write left an AUTH line open becomes "<redacted>". True when something was
 * redacted. Also notes whether these bytes leave an AUTH line open.
 */
static bool raw_redact(struct smtp_client *c, const char *data, size_t len, struct buf *out)
{
	bool secret = false;
	size_t pos = 0;
	bool open = c->raw_auth_open;
	c->raw_auth_open = false;
	while (pos < len) {
		/* a line ends at LF or CR (authline_raw_has_secret's split) */
		size_t body = 0;
		while (pos + body < len && data[pos + body] != '\n' && data[pos + body] != '\r')
			body++;
		bool lf = pos + body < len;
		size_t end = lf ? pos + body + 1 : len; /* with its line end */
		size_t n = end - pos;
		char red[CLIENT_REDACTED_MAX];
		if (open) {
			/* the continuation of an AUTH line begun by an earlier write: all of it is
			   the response (or part of it) */
			buf_puts(out, body ? "<redacted>" : "");
			buf_append(out, data + pos + body, n - body);
			secret = secret || body > 0;
			open = false;
		} else if (authline_redact(data + pos, body, red, sizeof red)) {
			buf_puts(out, red);
			buf_append(out, data + pos + body, n - body);
			secret = true;
		} else {
			buf_append(out, data + pos, n);
		}
		if (!lf) /* an unfinished last line: an AUTH that the next write goes on? */
			c->raw_auth_open = authline_parse(data + pos, body, NULL);
		pos = end;
	}
	return secret;
}

/* "*" and a line end: cancelling an AUTH exchange (RFC 4954 4) is no secret. */
static bool is_cancel(const char *data, size_t len)
{
	if (!len || data[0] != '*')
		return false;
	for (size_t i = 1; i < len; i++)
		if (data[i] != '\r' && data[i] != '\n')
			return false;
	return true;
}

void client_raw(struct smtp_client *c, const char *data, size_t len, bool reveal)
{
	struct buf red;
	buf_init(&red);
	bool was_open = c->raw_auth_open;
	bool secret;
	if (c->in_auth && !is_cancel(data, len)) {
		/* a 334 came while out of step: these bytes answer it (a SASL response) */
		buf_puts(&red, "<redacted>");
		secret = true;
		c->raw_auth_open = false;
	} else {
		secret = raw_redact(c, data, len, &red);
	}
	if (was_open && !memchr(data, '\n', len) && !memchr(data, '\r', len))
		c->raw_auth_open = true; /* still inside that AUTH line */
	struct session_event ev = {.type = SEV_SENT,
				   .text = secret && !reveal ? red.data : data,
				   .len = secret && !reveal ? red.len : len,
				   .body = c->phase == PHASE_DATA && !c->pend_n,
				   .elapsed_ms = -1,
				   .raw = true,
				   .octets = len,
				   .secret = secret,
				   .redacted = secret ? red.data : NULL,
				   .redacted_len = secret ? red.len : 0};
	emit(c, &ev);
	buf_free(&red);
	if (c->pend_n) {
		notify(c, SEV_WARNING,
		       "%zu repl%s owed to earlier commands can no longer be told from the replies "
		       "to the raw bytes",
		       c->pend_n, c->pend_n == 1 ? "y" : "ies");
		pend_forget(c);
	}
	if (!c->out_of_step)
		notify(c, SEV_WARNING,
		       "out of step: smtpsh cannot tell how many replies raw bytes owe, so replies "
		       "are shown as they arrive, paired with no command; the next command gets "
		       "back in step (its reply is the last one before the server goes quiet: NOOP "
		       "is a harmless one)");
	c->out_of_step = true;
	c->unsolicited = c->unsol_lines = 0;
}

enum client_action client_probe_end(struct smtp_client *c, struct client_result *res)
{
	*res = (struct client_result){.action = CLIENT_NONE, .verb = VERB_OTHER};
	const struct client_pending *pd = client_pending_head(c);
	if (!c->probing || !c->probe_replies || !pd)
		return CLIENT_NONE;
	char what[CLIENT_SHOWN_CMD_MAX + CLIENT_RCPT_ADDR_MAX + 48];
	snprintf(what, sizeof what, "%s", pd->shown[0] ? pd->shown : client_verb_what(pd->v));
	struct client_pending p;
	pend_pop(c, &p);
	if (pend_per_rcpt(&p)) {
		/* A "." or BDAT LAST in LMTP owes one reply per recipient: the replies to the raw
		   bytes and those of the recipients cannot be told apart, so the last reply ends
		   them all (the others were shown unpaired) and is kept as the last
		   recipient's. */
		size_t n = 1;
		const struct client_pending *next;
		while (p.rcpt_nth < p.rcpt_of && (next = client_pending_head(c)) &&
		       pend_per_rcpt(next)) {
			pend_pop(c, &p);
			n++;
		}
		snprintf(what, sizeof what, "%s (%zu recipient%s, the last %s)",
			 p.v == VERB_DOT ? "\".\"" : "BDAT LAST", n, n == 1 ? "" : "s",
			 p.rcpt >= 0 && (size_t)p.rcpt < c->txn.n ? c->txn.rcpt[p.rcpt].addr
								  : "not kept");
	}
	c->out_of_step = c->probing = c->raw_auth_open = false;
	if (c->probe_replies > 1)
		notify(
		    c, SEV_INFO,
		    "back in step: the last reply (%d) answers %s, the %zu before it answered the "
		    "raw bytes",
		    c->last.code, what, c->probe_replies - 1);
	else
		notify(c, SEV_INFO, "back in step: the reply (%d) answers %s", c->last.code, what);
	c->probe_replies = 0;
	res->done = true;
	res->verb = p.v;
	res->code = c->last.code;
	return res->action = apply_reply(c, &p, res->code);
}

void client_resync(struct smtp_client *c, long quiet_ms)
{
	if (!c->out_of_step)
		return;
	c->out_of_step = c->probing = false;
	c->raw_auth_open = false;
	notify(c, SEV_INFO,
	       "back in step: the server was quiet for %ld ms, so the next reply answers the next "
	       "command",
	       quiet_ms);
}

/* ---- STARTTLS --------------------------------------------------------------------------- */

size_t client_tls_reset(struct smtp_client *c)
{
	size_t held = reply_parser_pending(&c->parser);
	reply_parser_reset(&c->parser);
	c->reply_broken = false;
	caps_clear(&c->caps);
	pend_forget(c);
	return held;
}

void client_tls_started(struct smtp_client *c)
{
	client_set_phase(c, PHASE_GREETED);
	c->in_auth = false;
	auth_forget(c); /* RFC 3207 4.2: the client forgets what it learnt before TLS */
}
