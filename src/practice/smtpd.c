/*
 * The practice server's SMTP state machine: lines, commands, the envelope and DATA.
 * Reply texts follow Postfix where both implement a case (the differential test compares
 * them); where RFC 5321/4954 name a better code, the RFC wins (docs/teaching.md, "The practice
 * server").
 */
#include "smtpsh/smtpd.h"

#include "smtpd_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/rand.h>

#include "smtpsh/authline.h"
#include "smtpsh/practice_like.h"

static const char *const state_names[] = {
    [SMTPD_S_COMMAND] = "command", [SMTPD_S_AUTH] = "auth",	    [SMTPD_S_DATA] = "data",
    [SMTPD_S_BDAT] = "bdat",	   [SMTPD_S_TLS_WAIT] = "tls-wait", [SMTPD_S_CLOSED] = "closed",
};

const char *smtpd_state_name(enum smtpd_state s)
{
	return state_names[s];
}

/* The one door for state changes. */
static void smtpd_set_state(struct smtpd_conn *c, enum smtpd_state s)
{
	c->state = s;
}

static void emit(struct smtpd_conn *c, enum smtpd_event_type type, const char *text, size_t len,
		 bool body, bool secret)
{
	if (!c->on_event)
		return;
	struct smtpd_event ev = {
	    .type = type,
	    .text = text,
	    .len = len,
	    .tls = c->tls,
	    .body = body,
	    .secret = secret,
	    .end = type == SMTPD_EV_RECEIVED ? c->line_end : SMTPD_END_CRLF,
	};
	c->on_event(c->event_arg, &ev);
}

static bool known_verb(const char *line, size_t len);

/* Reports a command line received; an AUTH with a response (a secret), spelt any way a server
   reads one (authline.h), is reported redacted, whatever this server makes of it. So is a
   line that is no command after an AUTH that did not start an exchange or failed: a client
   that does not read the replies (538 before STARTTLS, 501 not base64) sends its base64 user
   name and password all the same, and they arrive here as "commands". */
static void emit_command(struct smtpd_conn *c, const char *line, size_t len)
{
	char shown[64];
	if (c->sasl_astray && known_verb(line, len))
		c->sasl_astray = false;
	if (authline_redact(line, len, shown, sizeof shown))
		emit(c, SMTPD_EV_RECEIVED, shown, strlen(shown), false, true);
	else if (c->sasl_astray)
		emit(c, SMTPD_EV_RECEIVED, "<redacted>", 10, false, true);
	else
		emit(c, SMTPD_EV_RECEIVED, line, len, false, false);
}

/* Queues one reply line (text without CRLF), reports it, counts 4xx/5xx as errors. */
static void smtpd_say(struct smtpd_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void smtpd_say(struct smtpd_conn *c, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
	buf_append(&c->out, line, len);
	buf_puts(&c->out, "\r\n");
	emit(c, SMTPD_EV_SENT, line, len, false, false);
	if ((line[0] == '4' || line[0] == '5') && strncmp(line, "421", 3) != 0)
		c->errors++;
}

/* Reports a note of the server (not sent to the client). */
static void smtpd_note(struct smtpd_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void smtpd_note(struct smtpd_conn *c, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n > 0)
		emit(c, SMTPD_EV_INFO, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1,
		     false, false);
}

/* The provider the server answers as (--like, \practice like), or NULL. */
static const struct like_provider *like_of(const struct smtpd_conn *c)
{
	return like_find(c->cfg->settings.like);
}

/* Is AUTH offered on this connection now (under TLS, or plain-auth on)? A provider offers it
   only under TLS, whatever plain-auth says. */
static bool smtpd_auth_offered(const struct smtpd_conn *c)
{
	return c->tls || (c->cfg->settings.plain_auth && !like_of(c));
}

/*
 * The mechanisms of the "250-AUTH" line, into out: the practice server's own, or with --like
 * the provider's (practice_like.c), less XOAUTH2 and OAUTHBEARER when no sign-in server issues
 * tokens, so the line never names a mechanism this server cannot carry out (RFC 4954 3).
 * AUTH checks the mechanism against the same list.
 */
static void auth_mechs(const struct smtpd_conn *c, char *out, size_t size)
{
	const struct like_provider *p = like_of(c);
	if (!p) {
		snprintf(out, size, "PLAIN LOGIN CRAM-MD5%s%s",
			 c->client_cert[0] ? " EXTERNAL" : "",
			 c->cfg->oauth ? " XOAUTH2 OAUTHBEARER" : "");
		return;
	}
	size_t len = 0;
	out[0] = '\0';
	for (const char *m = p->auth; *m;) {
		size_t n = strcspn(m, " ");
		bool token = (n == 7 && strncmp(m, "XOAUTH2", n) == 0) ||
			     (n == 11 && strncmp(m, "OAUTHBEARER", n) == 0);
		if ((!token || c->cfg->oauth) && len + n + 2 <= size)
			len += (size_t)snprintf(out + len, size - len, "%s%.*s", len ? " " : "",
						(int)n, m);
		m += n + strspn(m + n, " ");
	}
}

/* Is mech (n bytes) one of the AUTH line's mechanisms (case-insensitive: RFC 4954 4)? */
static bool auth_mech_offered(const struct smtpd_conn *c, const char *mech, size_t n)
{
	char list[128];
	auth_mechs(c, list, sizeof list);
	for (const char *m = list; *m;) {
		size_t k = strcspn(m, " ");
		if (k == n && strncasecmp(m, mech, n) == 0)
			return true;
		m += k + strspn(m + k, " ");
	}
	return false;
}

/*
 * Sends a provider's reply (practice_like.h: lines joined by "\n", "{host}" and "{peer}" in
 * them), or fallback (one line) when the provider has none for s. A reason for the student
 * (never what the client typed) goes in parentheses after the last line's text: the
 * provider's words stay as they are and first, so the code and text are what the real
 * server says.
 */
static void smtpd_say_like(struct smtpd_conn *c, enum like_situation s, const char *fallback,
			   const char *reason)
{
	const char *text = like_reply(like_of(c), s);
	if (!text)
		text = fallback;
	const struct like_provider *p = like_of(c);
	const char *host = p ? p->hostname : c->cfg->hostname;
	while (*text) {
		size_t n = strcspn(text, "\n");
		char line[900];
		size_t len = 0;
		for (size_t i = 0; i < n && len < sizeof line - 1;) {
			const char *sub = strncmp(text + i, "{host}", 6) == 0	? host
					  : strncmp(text + i, "{peer}", 6) == 0 ? c->peer
										: NULL;
			if (sub) {
				int k = snprintf(line + len, sizeof line - len, "%s", sub);
				len += k > 0 ? (size_t)k : 0;
				if (len > sizeof line - 1) /* cut: the table's lines are short */
					len = sizeof line - 1;
				i += 6;
			} else {
				line[len++] = text[i++];
			}
		}
		line[len] = '\0';
		text += n + (text[n] == '\n');
		if (!*text && reason && *reason)
			smtpd_say(c, "%s (%s)", line, reason);
		else
			smtpd_say(c, "%s", line);
	}
}

/* The reply to a command that needs HELO/EHLO first ("LHLO" in LMTP, RFC 2033 4.1): after
   STARTTLS the client must say EHLO again (RFC 3207 4.2), and a practice server says so rather
   than just "send EHLO". */
static const char *need_hello(const struct smtpd_conn *c)
{
	if (c->tls && c->starttls_done && !c->cfg->lmtp)
		return "503 5.5.1 Error: send EHLO again after STARTTLS (RFC 3207 4.2: the session "
		       "starts over under TLS)";
	return c->cfg->lmtp ? "503 5.5.1 Error: send LHLO first"
			    : "503 5.5.1 Error: send HELO/EHLO first";
}

/* --- transaction ----------------------------------------------------------------------- */

static void abort_message(struct smtpd_conn *c)
{
	if (c->msg) {
		c->cfg->store.abort(c->msg);
		c->msg = NULL;
	}
}

static void reset_transaction(struct smtpd_conn *c)
{
	abort_message(c);
	free(c->from);
	c->from = NULL;
	for (size_t i = 0; i < c->nrcpts; i++) {
		free(c->rcpts[i]);
		free(c->rcpt_dsn[i]);
		c->rcpt_dsn[i] = NULL;
		c->rcpt_full[i] = false;
	}
	c->nrcpts = 0;
	c->mail = false;
	c->rcpt_tried = false;
	c->declared_size = 0;
	c->smtputf8 = c->binarymime = false;
	c->ret[0] = c->envid[0] = '\0';
	c->bdat = false;
	c->chunks = 0;
	c->chunk_cr = false;
	c->sendas_refused = false;
}

/* --- life cycle -------------------------------------------------------------------------- */

int smtpd_conn_init(struct smtpd_conn *c, struct smtpd_config *cfg, const char *peer, bool tls,
		    void (*on_event)(void *arg, const struct smtpd_event *ev), void *event_arg)
{
	memset(c, 0, sizeof *c);
	c->cfg = cfg;
	c->tls = tls;
	c->on_event = on_event;
	c->event_arg = event_arg;
	buf_init(&c->in);
	buf_init(&c->out);
	snprintf(c->peer, sizeof c->peer, "%s", peer);
	if (buf_reserve(&c->in, SMTPD_IN_MAX) < 0)
		return -1;
	if (strcasecmp(cfg->settings.drop_after, "CONNECT") == 0) {
		smtpd_note(c, "drop-after connect: closing without a greeting");
		smtpd_set_state(c, SMTPD_S_CLOSED);
		c->drop_pending = true;
		return 0;
	}
	smtpd_set_state(c, SMTPD_S_COMMAND);
	const struct smtpd_script *sc = cfg->script;
	if (sc && sc->n && !sc->steps[0].expect) { /* the recorded greeting */
		for (size_t i = 0; i < sc->steps[0].nreplies; i++)
			smtpd_say(c, "%s", sc->steps[0].replies[i]);
		c->script_pos = 1;
		return 0;
	}
	if (like_of(c)) {
		smtpd_say_like(c, LIKE_GREETING, "220 {host} ESMTP", NULL);
		return 0;
	}
	smtpd_say(c, "220 %s %s smtpsh practice server", cfg->hostname,
		  cfg->lmtp ? "LMTP" : "ESMTP");
	return 0;
}

void smtpd_conn_free(struct smtpd_conn *c)
{
	reset_transaction(c);
	smtpd_auth_end(&c->auth);
	free(c->helo);
	c->helo = NULL;
	buf_free_secret(&c->in); /* may hold an AUTH line */
	buf_free(&c->out);
}

size_t smtpd_room(const struct smtpd_conn *c)
{
	if (c->state == SMTPD_S_CLOSED || c->state == SMTPD_S_TLS_WAIT)
		return 0;
	return c->in.len < SMTPD_IN_MAX ? SMTPD_IN_MAX - c->in.len : 0;
}

size_t smtpd_feed(struct smtpd_conn *c, const char *data, size_t len)
{
	size_t room = smtpd_room(c);
	if (len > room)
		len = room;
	if (len && buf_append(&c->in, data, len) < 0)
		return 0;
	return len;
}

struct buf *smtpd_out(struct smtpd_conn *c)
{
	return &c->out;
}

void smtpd_tls_started(struct smtpd_conn *c)
{
	if (c->injected) { /* the starttls-injection fault: kept for the TLS session */
		c->injected = false;
		smtpd_note(c,
			   "starttls-injection: %zu bytes pipelined after STARTTLS in plaintext "
			   "are read as commands inside TLS",
			   c->in.len);
	} else if (c->in.len) {
		smtpd_note(c, "discarded %zu bytes received before the TLS handshake", c->in.len);
		OPENSSL_cleanse(c->in.data, c->in.len);
		buf_reset(&c->in);
	}
	c->tls = true;
	c->skipping = false;
	/* RFC 3207 4.2: forget everything learnt from the client; EHLO again. */
	free(c->helo);
	c->helo = NULL;
	c->esmtp = false;
	c->authenticated = false;
	c->auth_failed = false;
	c->client_cert[0] = '\0';
	reset_transaction(c);
	smtpd_set_state(c, SMTPD_S_COMMAND);
}

static void close_with(struct smtpd_conn *c, const char *line)
{
	if (c->state == SMTPD_S_CLOSED)
		return;
	abort_message(c);
	smtpd_auth_end(&c->auth);
	smtpd_say(c, "%s", line);
	smtpd_set_state(c, SMTPD_S_CLOSED);
}

void smtpd_tls_client_identity(struct smtpd_conn *c, const char *identity)
{
	snprintf(c->client_cert, sizeof c->client_cert, "%s", identity ? identity : "");
	if (identity)
		smtpd_note(c, "client certificate from the practice CA: %s (AUTH EXTERNAL offered)",
			   identity);
}

void smtpd_timeout(struct smtpd_conn *c)
{
	char line[300];
	snprintf(line, sizeof line, "421 4.4.2 %s Error: timeout exceeded", c->cfg->hostname);
	close_with(c, line);
}

void smtpd_shutdown(struct smtpd_conn *c)
{
	char line[300];
	snprintf(line, sizeof line, "421 4.3.2 %s Service shutting down, closing connection",
		 c->cfg->hostname);
	close_with(c, line);
}

/* --- greylisting ------------------------------------------------------------------------- */

void smtpd_greylist_clear(struct smtpd_greylist *g)
{
	memset(g, 0, sizeof *g);
}

static uint64_t fnv1a(uint64_t h, const char *s)
{
	for (; *s; s++) {
		h ^= (unsigned char)tolower((unsigned char)*s);
		h *= 0x100000001b3ULL;
	}
	h ^= 0xff; /* separator */
	return h * 0x100000001b3ULL;
}

/* 0 when the triplet may pass; otherwise the seconds left (at least 1). */
static long greylist_check(struct smtpd_conn *c, const char *rcpt, time_t now)
{
	struct smtpd_greylist *g = &c->cfg->greylist;
	uint64_t key = fnv1a(fnv1a(fnv1a(0xcbf29ce484222325ULL, c->peer), c->from), rcpt);
	size_t slot = 0;
	bool free_found = false;
	for (size_t i = 0; i < SMTPD_GREYLIST_SLOTS; i++) {
		if (!g->first[i]) {
			if (!free_found)
				slot = i;
			free_found = true;
		} else if (g->key[i] == key) {
			long left =
			    (long)(g->first[i] + (time_t)c->cfg->settings.greylist_delay - now);
			return left > 0 ? left : 0;
		} else if (!free_found && g->first[i] < g->first[slot]) {
			slot = i; /* the oldest triplet makes room */
		}
	}
	g->key[slot] = key;
	g->first[slot] = now > 0 ? now : 1;
	return c->cfg->settings.greylist_delay ? (long)c->cfg->settings.greylist_delay : 1;
}

/* --- addresses ---------------------------------------------------------------------------- */

/* atext, and with SMTPUTF8 also the octets of UTF-8 characters (RFC 6531 3.3, UTF8-non-ascii;
   well-formedness is checked once for the whole address by utf8_valid). */
static bool atext(unsigned char ch, bool utf8)
{
	return isalnum(ch) || strchr("!#$%&'*+-/=?^_`{|}~", ch) || (utf8 && ch >= 0x80);
}

/* Well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing over U+10FFFF. */
static bool utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		unsigned char b = *p;
		size_t n;
		unsigned long cp;
		if (b < 0x80) {
			p++;
			continue;
		} else if (b >= 0xc2 && b <= 0xdf) {
			n = 1;
			cp = b & 0x1f;
		} else if (b >= 0xe0 && b <= 0xef) {
			n = 2;
			cp = b & 0x0f;
		} else if (b >= 0xf0 && b <= 0xf4) {
			n = 3;
			cp = b & 0x07;
		} else {
			return false;
		}
		for (size_t i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i] & 0x3f);
		}
		if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return false;
		p += n + 1;
	}
	return true;
}

/* A domain (dot-separated labels of letters, digits, hyphens; with SMTPUTF8 also U-labels,
   RFC 6531 3.3) or an address literal. */
static bool valid_domain(const char *d, size_t len, bool utf8)
{
	if (!len)
		return false;
	if (d[0] == '[')
		return len > 2 && d[len - 1] == ']' && !memchr(d + 1, '[', len - 2) &&
		       !memchr(d + 1, ']', len - 2) && !memchr(d, ' ', len);
	size_t label = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)d[i];
		if (ch == '.') {
			if (!label || d[i - 1] == '-')
				return false;
			label = 0;
		} else if (isalnum(ch) || (ch == '-' && label) || (utf8 && ch >= 0x80)) {
			label++;
		} else {
			return false;
		}
	}
	return label && d[len - 1] != '-';
}

/* local-part "@" domain (RFC 5321 4.1.2), or "postmaster" alone when postmaster_ok; with
   utf8, UTF-8 in both parts (RFC 6531 3.3). */
static bool valid_mailbox(const char *a, bool postmaster_ok, bool utf8)
{
	if (postmaster_ok && strcasecmp(a, "postmaster") == 0)
		return true;
	const char *at = strrchr(a, '@');
	if (!at || at == a)
		return false;
	size_t llen = (size_t)(at - a);
	if (a[0] == '"') { /* quoted string */
		if (llen < 2 || a[llen - 1] != '"')
			return false;
		for (size_t i = 1; i + 1 < llen; i++) {
			unsigned char ch = (unsigned char)a[i];
			if (ch == '\\' && i + 2 < llen)
				i++;
			else if (ch < 0x20 || ch == 0x7f || (ch > 0x7f && !utf8) || ch == '"')
				return false;
		}
	} else { /* dot-string */
		for (size_t i = 0; i < llen; i++) {
			unsigned char ch = (unsigned char)a[i];
			if (ch == '.' ? (i == 0 || i + 1 == llen || a[i - 1] == '.')
				      : !atext(ch, utf8))
				return false;
		}
	}
	return valid_domain(at + 1, strlen(at + 1), utf8);
}

static bool has_8bit(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return true;
	return false;
}

enum path_result {
	PATH_OK,
	PATH_SYNTAX, /* not "FROM:"/"TO:" then a path */
	PATH_BAD,    /* the address is malformed */
	PATH_8BIT,   /* non-ASCII without SMTPUTF8 (utf8 false) */
	PATH_LONG,
};

struct path {
	char addr[SMTPD_PATH_MAX + 1]; /* without brackets and source route */
	char *params;		       /* what follows the path, or "" */
	bool spaced;		       /* a blank after the colon (tolerated, noted) */
	bool bare;		       /* no angle brackets (tolerated, noted) */
};

/* Parses "FROM:<path> params" (keyword "FROM:" or "TO:"); args is modified. utf8: UTF-8
   addresses are allowed (SMTPUTF8 was declared, RFC 6531 3.4). */
static enum path_result parse_path(char *args, const char *keyword, struct path *p, bool null_ok,
				   bool postmaster_ok, bool utf8)
{
	size_t klen = strlen(keyword);
	memset(p, 0, sizeof *p);
	if (strncasecmp(args, keyword, klen) != 0)
		return PATH_SYNTAX;
	char *s = args + klen;
	size_t sp = strspn(s, " ");
	p->spaced = sp > 0;
	s += sp;
	char *end;
	if (*s == '<') {
		bool quoted = false;
		for (end = s + 1; *end && (quoted || *end != '>'); end++) {
			if (*end == '\\' && quoted && end[1])
				end++;
			else if (*end == '"')
				quoted = !quoted;
		}
		if (*end != '>')
			return PATH_SYNTAX;
		*end = '\0';
		s++;
		end++;
	} else {
		if (!*s)
			return PATH_SYNTAX;
		p->bare = true;
		end = s + strcspn(s, " ");
		if (*end)
			*end++ = '\0';
	}
	if (*end && *end != ' ')
		return PATH_SYNTAX;
	p->params = end + strspn(end, " ");
	if (strlen(s) + 2 > SMTPD_PATH_MAX)
		return PATH_LONG;
	/* A source route "@a,@b:" is accepted and ignored (RFC 5321 4.1.2, C.). */
	if (s[0] == '@') {
		char *colon = strchr(s, ':');
		if (!colon)
			return PATH_BAD;
		s = colon + 1;
	}
	if (has_8bit(s) && !utf8)
		return PATH_8BIT;
	if (has_8bit(s) && !utf8_valid(s))
		return PATH_BAD;
	if (!*s ? !null_ok : !valid_mailbox(s, postmaster_ok, utf8))
		return PATH_BAD;
	snprintf(p->addr, sizeof p->addr, "%s", s);
	return PATH_OK;
}

static const char *path_notes(const struct path *p)
{
	if (p->spaced && p->bare)
		return " (note: RFC 5321 wants no blank after the colon and <> around the address)";
	if (p->spaced)
		return " (note: RFC 5321 wants no blank after the colon)";
	if (p->bare)
		return " (note: RFC 5321 wants <> around the address)";
	return "";
}

/* --- commands ------------------------------------------------------------------------------ */

/* A printable, bounded copy of client text for our replies and headers. */
static void printable(char *out, size_t outlen, const char *in)
{
	size_t j = 0;
	for (size_t i = 0; in[i] && j + 1 < outlen; i++)
		out[j++] =
		    (unsigned char)in[i] >= 0x21 && (unsigned char)in[i] < 0x7f ? in[i] : '?';
	out[j] = '\0';
}

/* A MAIL or RCPT parameter this server does not know (RFC 5321 4.1.1.11: 555). Returns -1. */
static int unsupported_option(struct smtpd_conn *c, const char *param)
{
	char opt[80];
	printable(opt, sizeof opt, param);
	smtpd_say(c, "555 5.5.4 Unsupported option: %s", opt);
	return -1;
}

static enum smtpd_action hello(struct smtpd_conn *c, char *args, const char *verb, bool esmtp)
{
	if (!*args) {
		smtpd_say(c, "501 5.5.4 Syntax: %s hostname", verb);
		return SMTPD_REPLY;
	}
	reset_transaction(c);
	free(c->helo);
	c->helo = strndup(args, 255);
	c->esmtp = esmtp;
	char name[72];
	printable(name, sizeof name, args);
	if (!esmtp) {
		smtpd_say(c, "250 %s", c->cfg->hostname);
		return SMTPD_REPLY;
	}
	if (like_of(c))
		smtpd_say_like(c, LIKE_EHLO, "250-{host}", NULL);
	else
		smtpd_say(c, "250-%s Hello %s", c->cfg->hostname, name);
	smtpd_say(c, "250-PIPELINING");
	smtpd_say(c, "250-SIZE %lu", c->cfg->settings.size);
	smtpd_say(c, "250-8BITMIME");
	smtpd_say(c, "250-BINARYMIME");
	smtpd_say(c, "250-CHUNKING");
	smtpd_say(c, "250-DSN");
	smtpd_say(c, "250-SMTPUTF8");
	smtpd_say(c, "250-ENHANCEDSTATUSCODES");
	if (c->cfg->tls_available && !c->tls)
		smtpd_say(c, "250-STARTTLS");
	if (smtpd_auth_offered(c)) {
		char mechs[128];
		auth_mechs(c, mechs, sizeof mechs);
		smtpd_say(c, "250-AUTH %s", mechs);
	}
	smtpd_say(c, "250 HELP");
	return SMTPD_REPLY;
}

static enum smtpd_action cmd_ehlo(struct smtpd_conn *c, char *args, time_t now)
{
	(void)now;
	return hello(c, args, "EHLO", true);
}

static enum smtpd_action cmd_helo(struct smtpd_conn *c, char *args, time_t now)
{
	(void)now;
	return hello(c, args, "HELO", false);
}

/* LMTP's hello (RFC 2033 4.1): EHLO's reply, extensions included. */
static enum smtpd_action cmd_lhlo(struct smtpd_conn *c, char *args, time_t now)
{
	(void)now;
	return hello(c, args, "LHLO", true);
}

/*
 * xtext (RFC 3461 4): printable ASCII but "+" and "=", which only appear as "+" and two
 * upper-case hex digits. With utf8, an ORCPT of type utf-8 (RFC 6533 3): UTF-8 text and
 * "\x{HEX}" escapes, no controls.
 */
static bool valid_xtext(const char *s, bool utf8)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '+') {
			if (!isxdigit((unsigned char)s[1]) || !isxdigit((unsigned char)s[2]) ||
			    islower((unsigned char)s[1]) || islower((unsigned char)s[2]))
				return false;
			s += 2;
		} else if (ch < 0x21 || ch == 0x7f || ch == '=' || (ch > 0x7f && !utf8)) {
			return false;
		}
	}
	return true;
}

/* ORCPT=addr-type;xtext (RFC 3461 4.2): an atom, ";", an encoded address. */
static bool valid_orcpt(const char *v)
{
	const char *semi = strchr(v, ';');
	if (!semi || semi == v || !semi[1] || strlen(v) > 500)
		return false;
	for (const char *p = v; p < semi; p++)
		if (!atext((unsigned char)*p, false))
			return false;
	bool utf8 = (size_t)(semi - v) == 5 && strncasecmp(v, "utf-8", 5) == 0;
	return valid_xtext(semi + 1, utf8) && (!utf8 || utf8_valid(semi + 1));
}

/* NOTIFY=NEVER, or one or more of SUCCESS, FAILURE, DELAY, comma-separated, each once
   (RFC 3461 4.1). */
static bool valid_notify(const char *v)
{
	if (strcasecmp(v, "NEVER") == 0)
		return true;
	static const char *const words[] = {"SUCCESS", "FAILURE", "DELAY"};
	bool seen[3] = {false, false, false};
	while (*v) {
		size_t n = strcspn(v, ",");
		size_t w = 0;
		while (w < 3 && !(strlen(words[w]) == n && strncasecmp(v, words[w], n) == 0))
			w++;
		if (w == 3 || seen[w])
			return false;
		seen[w] = true;
		v += n;
		if (*v == ',' && !*++v)
			return false;
	}
	return seen[0] || seen[1] || seen[2];
}

/* MAIL parameters (RFC 1870 SIZE, RFC 6152 and RFC 3030 BODY, RFC 4954 AUTH, RFC 6531
   SMTPUTF8, RFC 3461 RET and ENVID). 0 when all are fine; the caller clears what a refused
   MAIL left set. */
static int mail_params(struct smtpd_conn *c, char *params)
{
	for (char *p = strtok(params, " "); p; p = strtok(NULL, " ")) {
		char *eq = strchr(p, '=');
		size_t klen = eq ? (size_t)(eq - p) : strlen(p);
		const char *val = eq ? eq + 1 : NULL;
		if (klen == 4 && strncasecmp(p, "SIZE", 4) == 0) {
			if (!val || !*val || strspn(val, "0123456789") != strlen(val) ||
			    strlen(val) > 18) {
				smtpd_say(c, "501 5.5.4 Bad message size syntax");
				return -1;
			}
			c->declared_size = strtoull(val, NULL, 10);
			if (c->declared_size > c->cfg->settings.size) {
				smtpd_say(c, "552 5.3.4 Message size exceeds fixed limit");
				return -1;
			}
		} else if (klen == 4 && strncasecmp(p, "BODY", 4) == 0 && val &&
			   (strcasecmp(val, "7BIT") == 0 || strcasecmp(val, "8BITMIME") == 0 ||
			    strcasecmp(val, "BINARYMIME") == 0)) {
			c->binarymime = strcasecmp(val, "BINARYMIME") == 0;
		} else if (klen == 8 && strncasecmp(p, "SMTPUTF8", 8) == 0 && !val) {
			c->smtputf8 = true;
		} else if (klen == 3 && strncasecmp(p, "RET", 3) == 0) {
			if (c->ret[0] || !val ||
			    (strcasecmp(val, "FULL") != 0 && strcasecmp(val, "HDRS") != 0)) {
				smtpd_say(c, "501 5.5.4 Bad RET parameter syntax");
				return -1;
			}
			snprintf(c->ret, sizeof c->ret, "%s", val);
			for (char *r = c->ret; *r; r++)
				*r = (char)toupper((unsigned char)*r);
		} else if (klen == 5 && strncasecmp(p, "ENVID", 5) == 0) {
			if (c->envid[0] || !val || !*val || strlen(val) > SMTPD_ENVID_MAX ||
			    !valid_xtext(val, false)) {
				smtpd_say(c, "501 5.5.4 Bad ENVID parameter syntax");
				return -1;
			}
			snprintf(c->envid, sizeof c->envid, "%s", val);
		} else if (klen == 4 && strncasecmp(p, "AUTH", 4) == 0 && val && *val &&
			   smtpd_auth_offered(c)) {
			continue; /* RFC 4954 5: accepted, and not trusted */
		} else {
			return unsupported_option(c, p);
		}
	}
	return 0;
}

#define SENDAS_REASON "sendas-denied on: the sender's local part must be the login name"

/* The sendas-denied fault: a logged-in client sends as someone else. The demo account has
   no domain of its own, so "the user's address" is any address whose local part is the login
   name (student@example.test). */
static bool sendas_denied(const struct smtpd_conn *c, const char *from)
{
	if (!c->cfg->settings.sendas_denied || !c->authenticated)
		return false;
	const char *at = strrchr(from, '@');
	size_t n = at ? (size_t)(at - from) : strlen(from);
	return strlen(c->cfg->user) != n || strncasecmp(from, c->cfg->user, n) != 0;
}

static enum smtpd_action cmd_mail(struct smtpd_conn *c, char *args, time_t now)
{
	(void)now;
	if (!c->helo) {
		smtpd_say(c, "%s", need_hello(c));
		return SMTPD_REPLY;
	}
	if (c->bdat) {
		smtpd_say(c, "503 5.5.1 Error: MAIL after BDAT");
		return SMTPD_REPLY;
	}
	if (c->mail) {
		smtpd_say(c, "503 5.5.1 Error: nested MAIL command");
		return SMTPD_REPLY;
	}
	/* After a failed AUTH the student must not "pass" by sending anyway: MAIL is refused
	   until a login succeeds, whatever auth-required says (a provider always wants one). */
	if ((c->cfg->settings.auth_required || like_of(c) || c->auth_failed) && !c->authenticated) {
		smtpd_say_like(c, LIKE_NEED_AUTH, "530 5.7.0 Authentication required",
			       c->auth_failed ? "the last AUTH failed: log in before MAIL" : NULL);
		return SMTPD_REPLY;
	}
	/* UTF-8 is parsed here and refused below unless the parameters declare SMTPUTF8. */
	struct path p;
	switch (parse_path(args, "FROM:", &p, true, false, true)) {
	case PATH_SYNTAX:
		smtpd_say(c, "501 5.5.4 Syntax: MAIL FROM:<address>");
		return SMTPD_REPLY;
	case PATH_BAD:
	case PATH_8BIT:
		smtpd_say(c, "501 5.1.7 Bad sender address syntax");
		return SMTPD_REPLY;
	case PATH_LONG:
		smtpd_say(c, "501 5.1.7 Path too long");
		return SMTPD_REPLY;
	case PATH_OK:
		break;
	}
	c->declared_size = 0;
	if (mail_params(c, p.params) < 0) {
		reset_transaction(c);
		return SMTPD_REPLY;
	}
	if (has_8bit(p.addr) && !c->smtputf8) { /* Postfix's words (RFC 6531 3.4) */
		reset_transaction(c);
		smtpd_say(c, "553 5.6.7 Must declare SMTPUTF8 to send unicode address");
		return SMTPD_REPLY;
	}
	if (sendas_denied(c, p.addr)) {
		const struct like_provider *lp = like_of(c);
		if (lp && lp->sendas_at_data) {
			c->sendas_refused = true; /* refused after the message, as Exchange does */
		} else {
			smtpd_say_like(c, LIKE_SENDAS_DENIED,
				       "553 5.7.1 Sender address rejected: not owned by the "
				       "logged-in user",
				       SENDAS_REASON);
			return SMTPD_REPLY;
		}
	}
	c->from = strdup(p.addr);
	if (!c->from) {
		reset_transaction(c);
		smtpd_say(c, "451 4.3.0 Error: out of memory");
		return SMTPD_REPLY;
	}
	c->mail = true;
	smtpd_say(c, "250 2.1.0 Ok%s", path_notes(&p));
	return SMTPD_REPLY;
}

/* RCPT parameters: RFC 3461 NOTIFY and ORCPT, each once. Fills dsn ("NOTIFY=... ORCPT=...",
   as the stored message shows it); 0 when all are fine. */
static int rcpt_params(struct smtpd_conn *c, char *params, char *dsn, size_t dsnlen)
{
	bool notify = false, orcpt = false;
	dsn[0] = '\0';
	for (char *p = strtok(params, " "); p; p = strtok(NULL, " ")) {
		size_t used = strlen(dsn);
		if (strncasecmp(p, "NOTIFY=", 7) == 0) {
			if (notify || !valid_notify(p + 7)) {
				smtpd_say(c, "501 5.5.4 Error: Bad NOTIFY parameter syntax");
				return -1;
			}
			notify = true;
			snprintf(dsn + used, dsnlen - used, "%sNOTIFY=%s", used ? " " : "", p + 7);
			for (char *u = dsn + used; *u; u++)
				*u = (char)toupper((unsigned char)*u);
		} else if (strncasecmp(p, "ORCPT=", 6) == 0) {
			if (orcpt || !valid_orcpt(p + 6)) {
				smtpd_say(c, "501 5.5.4 Error: Bad ORCPT parameter syntax");
				return -1;
			}
			orcpt = true;
			snprintf(dsn + used, dsnlen - used, "%sORCPT=%s", used ? " " : "", p + 6);
		} else {
			return unsupported_option(c, p);
		}
	}
	return 0;
}

/*
 * Is the recipient's domain one this server takes mail for (Postfix's mydestination)? Its
 * own name, localhost, a loopback address literal (where it listens), and every name under
 * .test, the top-level domain reserved for testing (RFC 2606 2, RFC 6761 6.2): the class's
 * examples (example.test, b.test...) can never be a real outside domain. "postmaster" alone
 * is always local (RFC 5321 4.1.1.3). Other names, example.com too, are another domain.
 */
static bool own_domain(const struct smtpd_conn *c, const char *addr)
{
	const char *at = strrchr(addr, '@');
	if (!at)
		return true; /* <postmaster> */
	const char *d = at + 1;
	size_t len = strlen(d);
	if (strcasecmp(d, c->cfg->hostname) == 0 || strcasecmp(d, "localhost") == 0)
		return true;
	if (strncmp(d, "[127.", 5) == 0 || strcasecmp(d, "[IPv6:::1]") == 0)
		return true;
	return len > 5 && strcasecmp(d + len - 5, ".test") == 0;
}

static enum smtpd_action cmd_rcpt(struct smtpd_conn *c, char *args, time_t now)
{
	if (!c->mail) {
		smtpd_say(c, "503 5.5.1 Error: need MAIL command");
		return SMTPD_REPLY;
	}
	if (c->bdat) {
		smtpd_say(c, "503 5.5.1 Error: RCPT after BDAT");
		return SMTPD_REPLY;
	}
	struct path p;
	switch (parse_path(args, "TO:", &p, false, true, c->smtputf8)) {
	case PATH_SYNTAX:
		smtpd_say(c, "501 5.5.4 Syntax: RCPT TO:<address>");
		return SMTPD_REPLY;
	case PATH_BAD:
		smtpd_say(c, "501 5.1.3 Bad recipient address syntax");
		return SMTPD_REPLY;
	case PATH_8BIT:
		smtpd_say(c, "553 5.6.7 Must declare SMTPUTF8 to send unicode address");
		return SMTPD_REPLY;
	case PATH_LONG:
		smtpd_say(c, "501 5.1.3 Path too long");
		return SMTPD_REPLY;
	case PATH_OK:
		break;
	}
	char dsn[SMTPD_DSN_MAX];
	if (rcpt_params(c, p.params, dsn, sizeof dsn) < 0)
		return SMTPD_REPLY;
	c->rcpt_tried = true;
	if (c->nrcpts == SMTPD_RCPT_MAX) {
		smtpd_say(c, "452 4.5.3 Error: too many recipients");
		return SMTPD_REPLY;
	}
	const struct practice_settings *set = &c->cfg->settings;
	/* Postfix's reject_unauth_destination (smtpd_relay_restrictions), in its words: another
	   domain only for a client that logged in (RFC 5321 3.6.2: relaying is by agreement,
	   RFC 4954 for the login). Even then the message is stored, never relayed. An LMTP
	   server is the last hop (RFC 2033 1): it takes every recipient it knows. */
	if (!c->cfg->lmtp && !c->authenticated && !set->open_relay && !own_domain(c, p.addr)) {
		smtpd_say(c, "554 5.7.1 <%s>: Relay access denied", p.addr);
		return SMTPD_REPLY;
	}
	if (practice_settings_rejects(set, p.addr)) {
		smtpd_say(c,
			  "550 5.1.1 <%s>: Recipient address rejected: User unknown "
			  "(matches the reject setting)",
			  p.addr);
		return SMTPD_REPLY;
	}
	/* SMTP has one reply for the message, so a full mailbox is refused here; LMTP says it
	   after the data, for that recipient alone (RFC 2033 4.2): see begin_message. */
	if (!c->cfg->lmtp && practice_settings_mailbox_full(set, p.addr)) {
		smtpd_say(c,
			  "452 4.2.2 <%s>: Recipient address rejected: Mailbox full (matches the "
			  "mailbox-full setting)",
			  p.addr);
		return SMTPD_REPLY;
	}
	if (set->greylist) {
		long left = greylist_check(c, p.addr, now);
		if (left) {
			smtpd_say(c,
				  "451 4.7.1 <%s>: Recipient address rejected: Greylisted, try "
				  "again in %ld second%s",
				  p.addr, left, left == 1 ? "" : "s");
			return SMTPD_REPLY;
		}
	}
	for (size_t i = 0; i < c->nrcpts; i++)
		if (strcasecmp(c->rcpts[i], p.addr) == 0) {
			smtpd_say(c, "250 2.1.5 Ok (already a recipient: stored once)");
			return SMTPD_REPLY;
		}
	c->rcpts[c->nrcpts] = strdup(p.addr);
	c->rcpt_dsn[c->nrcpts] = dsn[0] ? strdup(dsn) : NULL;
	if (!c->rcpts[c->nrcpts] || (dsn[0] && !c->rcpt_dsn[c->nrcpts])) {
		free(c->rcpts[c->nrcpts]);
		free(c->rcpt_dsn[c->nrcpts]);
		c->rcpt_dsn[c->nrcpts] = NULL;
		smtpd_say(c, "451 4.3.0 Error: out of memory");
		return SMTPD_REPLY;
	}
	c->nrcpts++;
	smtpd_say(c, "250 2.1.5 Ok%s", path_notes(&p));
	return SMTPD_REPLY;
}

static void rfc5322_date(time_t now, char *out, size_t outlen)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct tm tm;
	gmtime_r(&now, &tm);
	snprintf(out, outlen, "%s, %d %s %d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
		 months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* The protocol in the Received header's "with" clause (RFC 3848, RFC 6531 7.2): ESMTP or LMTP,
   UTF8SMTP or UTF8LMTP when SMTPUTF8 was declared, then S for TLS and A for a login. */
static void with_protocol(const struct smtpd_conn *c, char *out, size_t outlen)
{
	if (!c->esmtp) {
		snprintf(out, outlen, "SMTP");
		return;
	}
	const char *base = c->cfg->lmtp ? (c->smtputf8 ? "UTF8LMTP" : "LMTP")
					: (c->smtputf8 ? "UTF8SMTP" : "ESMTP");
	snprintf(out, outlen, "%s%s%s", base, c->tls ? "S" : "", c->authenticated ? "A" : "");
}

/*
 * Return-Path, Envelope-To (the recipients that get the message), the DSN requests when the
 * client made some (Envelope-DSN: RET and ENVID of MAIL; Envelope-DSN-Recipient: NOTIFY and
 * ORCPT of a RCPT; RFC 3461 asks a server to keep them with the message, and a teacher sees
 * them here), and Received. LF line ends (docs/teaching.md: "What is stored").
 */
static int write_trace_headers(struct smtpd_conn *c, time_t now)
{
	struct buf h;
	buf_init(&h);
	char helo[72], date[64], proto[16];
	printable(helo, sizeof helo, c->helo);
	rfc5322_date(now, date, sizeof date);
	with_protocol(c, proto, sizeof proto);
	buf_printf(&h, "Return-Path: <%s>\n", c->from);
	buf_puts(&h, "Envelope-To: ");
	size_t shown = 0;
	const char *only = NULL;
	for (size_t i = 0; i < c->nrcpts; i++)
		if (!c->rcpt_full[i]) {
			buf_printf(&h, "%s%s", shown++ ? ",\n\t" : "", c->rcpts[i]);
			only = c->rcpts[i];
		}
	buf_putc(&h, '\n');
	if (c->ret[0] || c->envid[0])
		buf_printf(&h, "Envelope-DSN:%s%s%s%s\n", c->ret[0] ? " RET=" : "", c->ret,
			   c->envid[0] ? " ENVID=" : "", c->envid);
	for (size_t i = 0; i < c->nrcpts; i++)
		if (!c->rcpt_full[i] && c->rcpt_dsn[i])
			buf_printf(&h, "Envelope-DSN-Recipient: <%s> %s\n", c->rcpts[i],
				   c->rcpt_dsn[i]);
	buf_printf(&h, "Received: from %s ([%s])\n\tby %s (smtpsh practice server) with %s id %s",
		   helo, c->peer, c->cfg->hostname, proto, c->msg_id);
	if (shown == 1)
		buf_printf(&h, "\n\tfor <%s>", only);
	buf_printf(&h, "; %s\n", date);
	int r = h.data ? c->cfg->store.write(c->msg, h.data, h.len) : -1;
	buf_free(&h);
	return r;
}

/*
 * Opens the store for a message (DATA, or the first BDAT chunk) and writes its trace headers.
 * In LMTP the mailbox-full fault picks its recipients now: they get their 452 after the data.
 * Returns 0, or -1 when the store failed (the caller says 451).
 */
static int begin_message(struct smtpd_conn *c, time_t now)
{
	unsigned char rnd[5];
	if (RAND_bytes(rnd, sizeof rnd) != 1)
		memset(rnd, 0, sizeof rnd);
	snprintf(c->msg_id, sizeof c->msg_id, "%02X%02X%02X%02X%02X", rnd[0], rnd[1], rnd[2],
		 rnd[3], rnd[4]);
	for (size_t i = 0; i < c->nrcpts; i++)
		c->rcpt_full[i] =
		    c->cfg->lmtp && practice_settings_mailbox_full(&c->cfg->settings, c->rcpts[i]);
	struct smtpd_envelope env = {
	    .id = c->msg_id,
	    .helo = c->helo,
	    .peer = c->peer,
	    .from = c->from,
	    .rcpts = c->rcpts,
	    .nrcpts = c->nrcpts,
	    .tls = c->tls,
	    .authenticated = c->authenticated,
	    .esmtp = c->esmtp,
	};
	c->msg = c->cfg->store.begin(c->cfg->store.arg, &env);
	if (!c->msg || write_trace_headers(c, now) < 0) {
		abort_message(c);
		return -1;
	}
	c->msg_size = 0;
	c->msg_too_big = c->msg_line_too_long = c->msg_write_failed = false;
	c->prev_crlf = true;
	c->bare_lf_lines = 0;
	c->body_lines = 0;
	return 0;
}

/* DATA or BDAT with no recipient: RFC 2033 4.2 wants 503 in LMTP; SMTP says 554 after a
   refused RCPT, as Postfix does. */
static void no_recipients(struct smtpd_conn *c)
{
	if (c->mail && c->rcpt_tried)
		smtpd_say(c, "%s 5.5.1 Error: no valid recipients", c->cfg->lmtp ? "503" : "554");
	else
		smtpd_say(c, "503 5.5.1 Error: need RCPT command");
}

static enum smtpd_action cmd_data(struct smtpd_conn *c, char *args, time_t now)
{
	if (c->bdat) { /* RFC 3030 2: BDAT and DATA do not mix in one transaction */
		smtpd_say(c, "503 5.5.1 Error: DATA after BDAT");
		return SMTPD_REPLY;
	}
	if (!c->nrcpts) { /* before the syntax, as Postfix does */
		no_recipients(c);
		return SMTPD_REPLY;
	}
	if (*args) {
		smtpd_say(c, "501 5.5.4 Syntax: DATA");
		return SMTPD_REPLY;
	}
	if (c->binarymime) { /* RFC 3030 3: a binary body cannot be dot-stuffed lines */
		smtpd_say(c, "503 5.5.1 Error: BODY=BINARYMIME needs BDAT, not DATA (RFC 3030 3)");
		return SMTPD_REPLY;
	}
	if (begin_message(c, now) < 0) {
		smtpd_say(c, "451 4.3.0 Error: cannot store the message now");
		return SMTPD_REPLY;
	}
	smtpd_set_state(c, SMTPD_S_DATA);
	smtpd_say(c, "354 End data with <CR><LF>.<CR><LF>");
	return SMTPD_REPLY;
}

/* Parses "count [LAST]" (RFC 3030 2: count is 1*DIGIT). -1 when it is not that. */
static int parse_bdat(const char *args, unsigned long long *count, bool *last)
{
	size_t digits = strspn(args, "0123456789");
	if (!digits || digits > 18)
		return -1;
	const char *rest = args + digits;
	*last = false;
	if (*rest) {
		if (*rest != ' ')
			return -1;
		rest += strspn(rest, " ");
		if (strcasecmp(rest, "LAST") != 0)
			return -1;
		*last = true;
	}
	*count = strtoull(args, NULL, 10);
	return 0;
}

/* A BDAT with a valid count is refused: its octets are still read, or they would be taken
   for commands (RFC 3030 2); the reply goes out once they are. resets: the transaction
   ends (RFC 3030 4.2: after a refused chunk the client sends no more). */
static enum smtpd_action refuse_chunk(struct smtpd_conn *c, unsigned long long count, bool resets,
				      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static enum smtpd_action refuse_chunk(struct smtpd_conn *c, unsigned long long count, bool resets,
				      const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->chunk_refusal, sizeof c->chunk_refusal, fmt, ap);
	va_end(ap);
	c->chunk_refusal_resets = resets;
	c->chunk_refusal_each = false;
	c->chunk_left = c->chunk_octets = count;
	c->chunk_last = false;
	if (count)
		smtpd_note(c,
			   "reading the %llu octets of the refused chunk, and throwing them away",
			   count);
	smtpd_set_state(c, SMTPD_S_BDAT); /* the step that has read them replies */
	return SMTPD_NO_REPLY;
}

/* A BDAT without a count we can read: the octets that follow cannot be told from commands
   (running them would let message content act as commands), so the connection ends, with
   Postfix's words. */
static enum smtpd_action bdat_bad_syntax(struct smtpd_conn *c)
{
	smtpd_note(c, "a BDAT without a readable count: what follows may be message octets, not "
		      "commands; closing");
	abort_message(c);
	smtpd_say(c, "521 5.5.4 Syntax: BDAT count [LAST]");
	smtpd_set_state(c, SMTPD_S_CLOSED);
	return SMTPD_CLOSE;
}

static enum smtpd_action cmd_bdat(struct smtpd_conn *c, char *args, time_t now)
{
	unsigned long long count;
	bool last;
	if (parse_bdat(args, &count, &last) < 0)
		return bdat_bad_syntax(c);
	if (!count && !last) /* an empty chunk that is not the last: Postfix's words and order */
		return refuse_chunk(c, 0, true, "551 5.7.1 Null BDAT request");
	if (!c->helo)
		return refuse_chunk(c, count, false, "%s", need_hello(c));
	if (!c->mail)
		return refuse_chunk(c, count, false, "503 5.5.1 Error: need MAIL command");
	if (!c->nrcpts) {
		bool lmtp = c->cfg->lmtp;
		return c->rcpt_tried
			   ? refuse_chunk(c, count, false, "%s 5.5.1 Error: no valid recipients",
					  lmtp ? "503" : "554")
			   : refuse_chunk(c, count, false, "503 5.5.1 Error: need RCPT command");
	}
	unsigned long long limit = c->cfg->settings.size;
	const char *refusal = NULL;
	if (count > limit || (c->bdat && c->msg_size + count > limit))
		refusal = "552 5.3.4 Chunk exceeds message size limit";
	else if (!c->bdat && begin_message(c, now) < 0)
		refusal = "451 4.3.0 Error: cannot store the message now";
	if (refusal) {
		enum smtpd_action a = refuse_chunk(c, count, true, "%s", refusal);
		/* There are recipients: a LAST chunk refused in LMTP is the message refused for
		   each of them, one reply per recipient as after DATA's "." (RFC 2033 4.3, 4.2). */
		c->chunk_refusal_each = c->cfg->lmtp && last;
		return a;
	}
	c->bdat = true;
	c->chunk_refusal[0] = '\0';
	c->chunk_octets = count;
	/* The teaching fault: this server counts wrong, as a broken one would. */
	const char *miscount = c->cfg->settings.bdat_miscount;
	if (strcmp(miscount, "short") == 0 && count) {
		c->chunk_octets = count - 1;
		smtpd_note(c,
			   "bdat-miscount short: reading %llu octets, not %llu: the last one is "
			   "left to start the next command",
			   c->chunk_octets, count);
	} else if (strcmp(miscount, "long") == 0) {
		c->chunk_octets = count + 1;
		smtpd_note(c,
			   "bdat-miscount long: reading %llu octets, not %llu: the first octet "
			   "of the next command goes into the message (or the server waits for it)",
			   c->chunk_octets, count);
	}
	c->chunk_left = c->chunk_octets;
	c->chunk_last = last;
	smtpd_set_state(c, SMTPD_S_BDAT);
	return SMTPD_NO_REPLY;
}

/* vrfy-leak: the users the server admits to, postmaster (RFC 5321 4.5.1) and the login,
   with or without a domain. */
static bool vrfy_known(const struct smtpd_conn *c, const char *addr)
{
	size_t local = strcspn(addr, "@");
	const char *user = c->cfg->user ? c->cfg->user : "";
	return (local == 10 && strncasecmp(addr, "postmaster", 10) == 0) ||
	       (*user && local == strlen(user) && strncasecmp(addr, user, local) == 0);
}

static enum smtpd_action cmd_vrfy(struct smtpd_conn *c, char *args, time_t now)
{
	(void)now;
	if (!*args) {
		smtpd_say(c, "501 5.5.4 Syntax: VRFY address");
		return SMTPD_REPLY;
	}
	char addr[SMTPD_PATH_MAX];
	size_t len = strlen(args);
	if (args[0] == '<' && len > 1 && args[len - 1] == '>')
		snprintf(addr, sizeof addr, "%.*s", (int)(len - 2), args + 1);
	else
		snprintf(addr, sizeof addr, "%s", args);
	char shown[SMTPD_PATH_MAX];
	printable(shown, sizeof shown, addr);
	if (practice_settings_rejects(&c->cfg->settings, addr))
		smtpd_say(c,
			  "550 5.1.1 <%s>: Recipient address rejected: User unknown "
			  "(matches the reject setting)",
			  shown);
	else if (c->cfg->settings.vrfy_leak && vrfy_known(c, addr))
		smtpd_say(c, "250 2.1.5 <%s> (vrfy-leak: this user exists)", shown);
	else if (c->cfg->settings.vrfy_leak)
		smtpd_say(c, "550 5.1.1 <%s>: User unknown (vrfy-leak: telling users apart)",
			  shown);
	else
		smtpd_say(c, "252 2.0.0 Cannot VRFY user, but will accept message and attempt "
			     "delivery");
	return SMTPD_REPLY;
}

static enum smtpd_action cmd_rset(struct smtpd_conn *c, char *args, time_t now)
{
	(void)now;
	if (*args) {
		smtpd_say(c, "501 5.5.4 Syntax: RSET");
		return SMTPD_REPLY;
	}
	reset_transaction(c);
	smtpd_say(c, "250 2.0.0 Ok");
	return SMTPD_REPLY;
}

static enum smtpd_action cmd_noop(struct smtpd_conn *c, char *args, time_t now)
{
	(void)args;
	(void)now;
	smtpd_say(c, "250 2.0.0 Ok");
	return SMTPD_REPLY;
}

static enum smtpd_action cmd_quit(struct smtpd_conn *c, char *args, time_t now)
{
	(void)args;
	(void)now;
	smtpd_say(c, "221 2.0.0 Bye");
	reset_transaction(c);
	smtpd_set_state(c, SMTPD_S_CLOSED);
	return SMTPD_CLOSE;
}

static enum smtpd_action cmd_starttls(struct smtpd_conn *c, char *args, time_t now)
{
	(void)now;
	if (*args) {
		smtpd_say(c, "501 5.5.4 Syntax: STARTTLS");
	} else if (c->tls) {
		smtpd_say(c, "554 5.5.1 Error: TLS already active");
	} else if (!c->cfg->tls_available) {
		smtpd_say(c, "454 4.7.0 TLS not available due to local problem");
	} else {
		smtpd_say(c, "220 2.0.0 Ready to start TLS");
		c->starttls_done = true;
		smtpd_set_state(c, SMTPD_S_TLS_WAIT);
		return SMTPD_STARTTLS;
	}
	return SMTPD_REPLY;
}

/* The demo account, as the auth part sees it. */
static struct smtpd_account account(const struct smtpd_conn *c)
{
	return (struct smtpd_account){
	    .hostname = c->cfg->hostname,
	    .user = c->cfg->user,
	    .password = c->cfg->password,
	    .app_password = c->cfg->app_password,
	    .app_password_only = c->cfg->settings.app_password,
	    .basic_auth = c->cfg->settings.basic_auth,
	    .cert_identity = c->client_cert,
	    .oauth = c->cfg->oauth,
	};
}

/* Carries out what a step of an AUTH exchange decided (smtpd_auth.c decides, this sends). */
static enum smtpd_action auth_apply(struct smtpd_conn *c, const struct smtpd_auth_outcome *o)
{
	if (o->note[0])
		smtpd_note(c, "%s", o->note);
	if (o->next == SMTPD_AUTH_OK) {
		c->authenticated = true;
		c->auth_failed = false;
	}
	smtpd_set_state(c, o->next == SMTPD_AUTH_MORE ? SMTPD_S_AUTH : SMTPD_S_COMMAND);
	/* A login that failed: MAIL is refused until one succeeds; a provider says it in its
	   own words, with the reason after them. */
	static const enum like_situation situation[] = {
	    [SMTPD_AUTH_FAIL_CREDENTIALS] = LIKE_AUTH_FAILED,
	    [SMTPD_AUTH_FAIL_APP_PASSWORD] = LIKE_APP_PASSWORD,
	    [SMTPD_AUTH_FAIL_BASIC_AUTH] = LIKE_BASIC_AUTH_OFF,
	};
	if (o->failure != SMTPD_AUTH_FAIL_NONE)
		c->auth_failed = true;
	if (o->failure != SMTPD_AUTH_FAIL_NONE && o->failure != SMTPD_AUTH_FAIL_SYNTAX &&
	    like_reply(like_of(c), situation[o->failure]))
		smtpd_say_like(c, situation[o->failure], "", o->why);
	else
		smtpd_say(c, "%s", o->reply);
	return SMTPD_REPLY;
}

static enum smtpd_action cmd_auth(struct smtpd_conn *c, char *args, time_t now)
{
	(void)now;
	if (!smtpd_auth_offered(c)) {
		smtpd_say_like(c, LIKE_AUTH_BEFORE_TLS,
			       "538 5.7.11 Encryption required for requested authentication "
			       "mechanism (STARTTLS first)",
			       like_of(c) ? "AUTH is offered only after STARTTLS" : NULL);
		return SMTPD_REPLY;
	}
	if (!c->helo) {
		smtpd_say(c, "%s", need_hello(c));
		return SMTPD_REPLY;
	}
	if (c->authenticated) {
		smtpd_say(c, "503 5.5.1 Error: already authenticated");
		return SMTPD_REPLY;
	}
	if (c->mail) {
		smtpd_say(c, "503 5.5.1 Error: MAIL transaction in progress");
		return SMTPD_REPLY;
	}
	/* A provider refuses a mechanism it does not offer (Office 365 has no PLAIN) in its own
	   words, and the student learns which it does offer. The practice server's own list is
	   checked by smtpd_auth_start, which knows why (e.g. EXTERNAL without a certificate). */
	size_t n = strcspn(args, " ");
	if (like_of(c) && n && !auth_mech_offered(c, args, n)) {
		char mechs[128], why[160];
		auth_mechs(c, mechs, sizeof mechs);
		snprintf(why, sizeof why, "%s offers AUTH %s", like_of(c)->hostname, mechs);
		smtpd_say_like(c, LIKE_AUTH_MECH, "504 5.5.4 Unrecognized authentication type",
			       why);
		return SMTPD_REPLY;
	}
	struct smtpd_auth_outcome o;
	struct smtpd_account acct = account(c);
	smtpd_auth_start(&c->auth, &acct, args, &o);
	return auth_apply(c, &o);
}

static enum smtpd_action cmd_help(struct smtpd_conn *c, char *args, time_t now);

enum cmd_flags {
	CMD_PRE_TLS = 1,   /* allowed before STARTTLS when require-tls is on */
	CMD_SMTP_ONLY = 2, /* EHLO, HELO: not in LMTP (RFC 2033 4.1) */
	CMD_LMTP_ONLY = 4, /* LHLO: unknown to SMTP */
	CMD_CHUNK = 8,	   /* octets follow (BDAT): a refusal must still read them */
};

/*
 * The verbs, in the order HELP lists them: one table for dispatch, require-tls, drop-after,
 * HELP and HELP VERB. A verb without a handler is known to SMTP but not implemented here:
 * 502 (RFC 5321 4.2.4), not the 500 of an unknown one; HELP does not list it.
 */
static const struct command {
	const char *verb;
	unsigned flags;
	enum smtpd_action (*run)(struct smtpd_conn *c, char *args, time_t now);
	const char *help; /* the answer to HELP VERB */
} commands[] = {
    {"EHLO", CMD_PRE_TLS | CMD_SMTP_ONLY, cmd_ehlo,
     "EHLO domain: say hello and get the extensions"},
    {"HELO", CMD_PRE_TLS | CMD_SMTP_ONLY, cmd_helo, "HELO domain: say hello (no extensions)"},
    {"LHLO", CMD_PRE_TLS | CMD_LMTP_ONLY, cmd_lhlo,
     "LHLO domain: say hello to an LMTP server and get the extensions (RFC 2033)"},
    {"STARTTLS", CMD_PRE_TLS, cmd_starttls, "STARTTLS: switch to TLS, then EHLO again"},
    {"AUTH", 0, cmd_auth, "AUTH MECHANISM [initial-response]: log in (after STARTTLS)"},
    {"MAIL", 0, cmd_mail,
     "MAIL FROM:<address> [SIZE=octets] [BODY=7BIT|8BITMIME|BINARYMIME] [SMTPUTF8] "
     "[RET=FULL|HDRS] [ENVID=id]: start a message"},
    {"RCPT", 0, cmd_rcpt,
     "RCPT TO:<address> [NOTIFY=NEVER|SUCCESS,FAILURE,DELAY] [ORCPT=rfc822;address]: add a "
     "recipient"},
    {"DATA", 0, cmd_data, "DATA: send the message, end with a line holding only '.'"},
    {"BDAT", CMD_CHUNK, cmd_bdat,
     "BDAT octets [LAST]: then exactly that many octets of the message (RFC 3030)"},
    {"RSET", 0, cmd_rset, "RSET: abandon the message"},
    {"NOOP", CMD_PRE_TLS, cmd_noop, "NOOP: do nothing"},
    {"VRFY", 0, cmd_vrfy, "VRFY address: ask about a mailbox (252: cannot say)"},
    {"HELP", CMD_PRE_TLS, cmd_help, "HELP [command]: this help"},
    {"QUIT", CMD_PRE_TLS, cmd_quit, "QUIT: say goodbye"},
    {"EXPN", 0, NULL, NULL},
    {"TURN", 0, NULL, NULL},
    {"ETRN", 0, NULL, NULL},
    {"ATRN", 0, NULL, NULL},
    {"SEND", 0, NULL, NULL},
    {"SOML", 0, NULL, NULL},
    {"SAML", 0, NULL, NULL},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

/* Is the first word of line a verb of the table (whatever the mode)? */
static bool known_verb(const char *line, size_t len)
{
	size_t vlen = 0;
	while (vlen < len && line[vlen] != ' ')
		vlen++;
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strlen(commands[i].verb) == vlen &&
		    strncasecmp(commands[i].verb, line, vlen) == 0)
			return true;
	return false;
}

/* A verb of the other protocol (EHLO in LMTP, LHLO in SMTP). */
static bool wrong_mode(const struct smtpd_conn *c, const struct command *cmd)
{
	return cmd->flags & (c->cfg->lmtp ? CMD_SMTP_ONLY : CMD_LMTP_ONLY);
}

static enum smtpd_action cmd_help(struct smtpd_conn *c, char *args, time_t now)
{
	(void)now;
	if (*args) {
		for (size_t i = 0; i < NCOMMANDS; i++)
			if (commands[i].run && !wrong_mode(c, &commands[i]) &&
			    strcasecmp(commands[i].verb, args) == 0) {
				if (commands[i].run == cmd_auth) {
					/* the mechanisms of this server's AUTH line (--like's too) */
					char mechs[128];
					auth_mechs(c, mechs, sizeof mechs);
					smtpd_say(c, "214 2.0.0 %s (mechanisms here: %s)",
						  commands[i].help, mechs);
				} else {
					smtpd_say(c, "214 2.0.0 %s", commands[i].help);
				}
				return SMTPD_REPLY;
			}
		smtpd_say(c, "504 5.5.4 HELP topic unknown (HELP alone lists the commands)");
		return SMTPD_REPLY;
	}
	char list[256] = "";
	size_t n = 0;
	for (size_t i = 0; i < NCOMMANDS && n < sizeof list; i++)
		if (commands[i].run && !wrong_mode(c, &commands[i]))
			n += (size_t)snprintf(list + n, sizeof list - n, " %s", commands[i].verb);
	smtpd_say(c, "214-2.0.0 smtpsh practice server; commands:");
	smtpd_say(c, "214-2.0.0  %s", list);
	smtpd_say(c, "214-2.0.0 HELP command explains one. Mail is stored here, never relayed.");
	smtpd_say(c, "214 2.0.0 See RFC 5321");
	return SMTPD_REPLY;
}

static enum smtpd_action command(struct smtpd_conn *c, char *line, size_t len, time_t now)
{
	if (memchr(line, '\0', len)) {
		smtpd_say(c, "500 5.5.2 Error: command contains a NUL byte");
		return SMTPD_REPLY;
	}
	size_t vlen = strcspn(line, " ");
	char *args = line + vlen;
	args += strspn(args, " ");
	for (size_t n = strlen(args); n && args[n - 1] == ' '; n--) /* trailing blanks */
		args[n - 1] = '\0';
	if (!vlen) {
		smtpd_say(c, "500 5.5.2 Error: bad syntax");
		return SMTPD_REPLY;
	}
	const struct command *cmd = NULL;
	for (size_t i = 0; i < NCOMMANDS && !cmd; i++)
		if (strlen(commands[i].verb) == vlen &&
		    strncasecmp(commands[i].verb, line, vlen) == 0)
			cmd = &commands[i];
	if (cmd && wrong_mode(c, cmd) && c->cfg->lmtp) {
		smtpd_say(c, "500 5.5.1 Error: this is an LMTP server: LHLO, not %s (RFC 2033 4.1)",
			  cmd->verb);
		return SMTPD_REPLY;
	}
	if (!cmd || wrong_mode(c, cmd)) {
		smtpd_say(c, "500 5.5.2 Error: command not recognized");
		return SMTPD_REPLY;
	}
	if (!cmd->run) {
		smtpd_say(c, "502 5.5.1 Error: command not implemented");
		return SMTPD_REPLY;
	}
	const char *verb = cmd->verb;
	if (c->cfg->settings.drop_after[0] && strcasecmp(c->cfg->settings.drop_after, verb) == 0) {
		smtpd_note(c, "drop-after %s: closing the connection without a reply", verb);
		abort_message(c);
		smtpd_set_state(c, SMTPD_S_CLOSED);
		return SMTPD_DROP;
	}
	/* A provider wants TLS before anything but the greeting verbs (its own words); AUTH
	   before it is cmd_auth's case (not offered). */
	if ((c->cfg->settings.require_tls || (like_of(c) && strcmp(verb, "AUTH") != 0)) &&
	    !c->tls && !(cmd->flags & CMD_PRE_TLS)) {
		unsigned long long count;
		bool last;
		if (cmd->flags & CMD_CHUNK)
			return parse_bdat(args, &count, &last) < 0
				   ? bdat_bad_syntax(c)
				   : refuse_chunk(c, count, false,
						  "530 5.7.0 Must issue a STARTTLS command first");
		smtpd_say_like(c, LIKE_NEED_TLS, "530 5.7.0 Must issue a STARTTLS command first",
			       NULL);
		return SMTPD_REPLY;
	}
	return cmd->run(c, args, now);
}

/* --- DATA ---------------------------------------------------------------------------------- */

static void data_write(struct smtpd_conn *c, const char *p, size_t n)
{
	if (c->msg_too_big || c->msg_line_too_long || c->msg_write_failed)
		return;
	if (c->cfg->store.write(c->msg, p, n) < 0)
		c->msg_write_failed = true;
}

/*
 * The end of a message (the final dot, or BDAT LAST): stores it, or says why not. fail is the
 * reply when the message cannot be stored, or NULL; the success reply says "Ok: " before,
 * "stored as ID" and after ("before" and "after" may be empty). SMTP has one reply; LMTP one per
 * accepted recipient in RCPT order (RFC 2033 4.2): a failure of the message for each, or
 * that recipient's own result (the mailbox-full fault), so one mailbox can refuse alone.
 */
static enum smtpd_action finish_message(struct smtpd_conn *c, const char *fail, const char *before,
					const char *after)
{
	smtpd_set_state(c, SMTPD_S_COMMAND);
	void *msg = c->msg;
	c->msg = NULL;
	const char *id = c->msg_id;
	char failure[512];
	size_t delivered = 0;
	for (size_t i = 0; i < c->nrcpts; i++)
		delivered += !c->rcpt_full[i];
	if (fail || !delivered) {
		c->cfg->store.abort(msg);
	} else if (c->cfg->store.commit(msg) < 0) {
		fail = "451 4.3.0 Error: cannot write the message";
	} else {
		c->cfg->messages++;
		smtpd_note(c, "message stored as %s (%llu octets, %lu lines)", id, c->msg_size,
			   c->body_lines);
		if (strcasecmp(c->cfg->settings.drop_after, ".") == 0) {
			smtpd_note(c,
				   "drop-after .: the message is stored; closing without a reply");
			reset_transaction(c);
			smtpd_set_state(c, SMTPD_S_CLOSED);
			return SMTPD_DROP;
		}
	}
	if (fail)
		snprintf(failure, sizeof failure, "%s", fail);
	char ok[400];
	snprintf(ok, sizeof ok, "%sstored as %s%s", before, id, after);
	if (!c->cfg->lmtp) {
		if (fail)
			smtpd_say(c, "%s", failure);
		else
			smtpd_say(c, "250 2.0.0 Ok: %s", ok);
	}
	for (size_t i = 0; c->cfg->lmtp && i < c->nrcpts; i++) {
		if (fail)
			smtpd_say(c, "%s", failure);
		else if (c->rcpt_full[i])
			smtpd_say(c,
				  "452 4.2.2 <%s>: Mailbox full (matches the mailbox-full "
				  "setting); the other recipients have the message",
				  c->rcpts[i]);
		else
			smtpd_say(c, "250 2.0.0 <%s> Ok: %s", c->rcpts[i], ok);
	}
	reset_transaction(c);
	return SMTPD_REPLY;
}

/* The sendas-denied refusal of a provider that refuses after the message (Exchange), into
   out; NULL when this message is not refused so. */
static const char *sendas_failure(const struct smtpd_conn *c, char *out, size_t outlen)
{
	const char *text = c->sendas_refused ? like_reply(like_of(c), LIKE_SENDAS_DENIED) : NULL;
	if (!text)
		return NULL;
	snprintf(out, outlen, "%s (%s)", text, SENDAS_REASON);
	return out;
}

static enum smtpd_action end_of_data(struct smtpd_conn *c)
{
	char fail[512];
	if (c->msg_line_too_long)
		snprintf(fail, sizeof fail,
			 "500 5.5.2 Error: line too long: a message line has more than %d octets "
			 "with CRLF (RFC 5321 4.5.3.1.6); nothing was stored",
			 SMTPD_TEXT_MAX);
	else if (c->msg_too_big)
		snprintf(fail, sizeof fail, "552 5.3.4 Error: message file too big");
	else if (c->msg_write_failed)
		snprintf(fail, sizeof fail, "451 4.3.0 Error: cannot write the message");
	else if (!sendas_failure(c, fail, sizeof fail))
		fail[0] = '\0';
	char note[200] = "";
	if (c->bare_lf_lines)
		snprintf(note, sizeof note,
			 " (note: %lu line%s ended with a bare LF instead of CRLF)",
			 c->bare_lf_lines, c->bare_lf_lines == 1 ? "" : "s");
	return finish_message(c, fail[0] ? fail : NULL, "", note);
}

/* --- BDAT ---------------------------------------------------------------------------------- */

static enum smtpd_action after_errors(struct smtpd_conn *c, enum smtpd_action a);

/*
 * Octets of a chunk into the store: exactly as sent (NUL, bare CR, bare LF, 8-bit), but CRLF
 * becomes LF as in every Maildir message (and in Postfix's queue); a CRLF may be split
 * between two reads or two chunks, so a CR at the end waits for the next octet.
 */
static void chunk_write(struct smtpd_conn *c, const char *p, size_t n)
{
	size_t start = 0;
	if (c->chunk_cr && n) {
		c->chunk_cr = false;
		if (p[0] == '\n') {
			data_write(c, "\n", 1);
			start = 1;
		} else {
			data_write(c, "\r", 1);
		}
	}
	for (size_t i = start; i < n; i++) {
		if (p[i] != '\r')
			continue;
		if (i + 1 == n) {
			data_write(c, p + start, i - start);
			c->chunk_cr = true;
			return;
		}
		if (p[i + 1] == '\n') {
			data_write(c, p + start, i - start);
			data_write(c, "\n", 1);
			start = i + 2;
			i++;
		}
	}
	data_write(c, p + start, n - start);
}

/* Shows the octets of a chunk on the server's screen, a line (up to an LF) at a time. */
static void chunk_show(struct smtpd_conn *c, const char *p, size_t n)
{
	c->line_end = SMTPD_END_OCTETS;
	while (n) {
		const char *nl = memchr(p, '\n', n);
		size_t len = nl ? (size_t)(nl - p) + 1 : n;
		emit(c, SMTPD_EV_RECEIVED, p, len, true, false);
		c->body_lines += nl != NULL;
		p += len;
		n -= len;
	}
}

/* A chunk has been read: its reply (RFC 3030 2: one per BDAT). */
static enum smtpd_action end_of_chunk(struct smtpd_conn *c)
{
	smtpd_set_state(c, SMTPD_S_COMMAND);
	if (c->chunk_refusal[0]) {
		size_t n = c->chunk_refusal_each && c->nrcpts ? c->nrcpts : 1;
		for (size_t i = 0; i < n; i++)
			smtpd_say(c, "%s", c->chunk_refusal);
		c->chunk_refusal[0] = '\0';
		if (c->chunk_refusal_resets)
			reset_transaction(c);
		return SMTPD_REPLY;
	}
	c->chunks++;
	if (c->msg_write_failed) {
		abort_message(c);
		reset_transaction(c);
		smtpd_say(c, "451 4.3.0 Error: cannot write the message");
		return SMTPD_REPLY;
	}
	if (!c->chunk_last) {
		smtpd_say(c, "250 2.0.0 %llu octets received", c->chunk_octets);
		return SMTPD_REPLY;
	}
	if (c->chunk_cr) { /* a CR at the very end is content */
		c->chunk_cr = false;
		data_write(c, "\r", 1);
	}
	char before[64], after[100], fail[512];
	snprintf(before, sizeof before, "%llu octets received, ", c->chunk_octets);
	snprintf(after, sizeof after, " (%llu octets in %lu chunk%s)", c->msg_size, c->chunks,
		 c->chunks == 1 ? "" : "s");
	return finish_message(c, sendas_failure(c, fail, sizeof fail), before, after);
}

/* Takes what has arrived of the current chunk: counted octets, never scanned for lines. */
static enum smtpd_action chunk_step(struct smtpd_conn *c)
{
	if (c->chunk_left) {
		if (!c->in.len)
			return SMTPD_NEED_MORE;
		size_t n = c->in.len < c->chunk_left ? c->in.len : (size_t)c->chunk_left;
		if (!c->chunk_refusal[0]) {
			chunk_show(c, c->in.data, n);
			chunk_write(c, c->in.data, n);
			c->msg_size += n;
		}
		c->chunk_left -= n;
		buf_consume(&c->in, n);
		if (c->chunk_left)
			return SMTPD_NO_REPLY;
	}
	return after_errors(c, end_of_chunk(c));
}

static enum smtpd_action data_line(struct smtpd_conn *c, const char *line, size_t len, bool crlf)
{
	if (len == 1 && line[0] == '.') {
		/* the smuggling fault: the end of data the way a vulnerable server sees it,
		   a "." line between any line ends */
		if ((crlf && c->prev_crlf) || c->cfg->settings.smuggling) {
			emit(c, SMTPD_EV_RECEIVED, line, len, false, false);
			return end_of_data(c);
		}
		/* RFC 5321 4.1.1.4: only CRLF.CRLF ends the data (SMTP smuggling, 2023). */
		smtpd_note(c, "a '.' line not between two CRLFs does not end the message: kept as "
			      "content (the end is <CR><LF>.<CR><LF>)");
	}
	emit(c, SMTPD_EV_RECEIVED, line, len, true, false);
	c->body_lines++;
	if (!crlf)
		c->bare_lf_lines++;
	c->prev_crlf = crlf;
	if (len > 1 && line[0] == '.') { /* dot-unstuffing (RFC 5321 4.5.2) */
		line++;
		len--;
	}
	c->msg_size += len + 2;
	if (c->msg_size > c->cfg->settings.size && !c->msg_too_big) {
		c->msg_too_big = true;
		smtpd_note(c,
			   "message over the SIZE limit of %lu octets: the rest is read and "
			   "thrown away",
			   c->cfg->settings.size);
	}
	data_write(c, line, len);
	data_write(c, "\n", 1);
	return SMTPD_NO_REPLY;
}

/* --- --script: a recorded server ---------------------------------------------------------------
 */

/* A line of the client's message after a recorded 354: compared with the recording's line at
   the same place; the "." ends it wherever the recording's lines are (RFC 5321 4.1.1.4). Returns
   false for the ".", which the caller plays as the recorded step after the message. */
static bool script_message_line(struct smtpd_conn *c, const char *line, size_t len)
{
	const struct smtpd_script *sc = c->cfg->script;
	if (len == 1 && line[0] == '.') {
		unsigned long missing = 0;
		while (c->script_pos < sc->n && sc->steps[c->script_pos].content) {
			c->script_pos++;
			missing++;
		}
		if (missing && !c->script_first_diff)
			c->script_first_diff = c->script_lines + 1;
		if (c->script_first_diff)
			smtpd_note(
			    c,
			    "the message differs from the recording (%lu line%s sent, %lu "
			    "recorded; the first difference at line %lu): the recorded reply "
			    "to its \".\" is given all the same",
			    c->script_lines, c->script_lines == 1 ? "" : "s", c->script_recorded,
			    c->script_first_diff);
		c->script_data = false;
		return false;
	}
	emit(c, SMTPD_EV_RECEIVED, line, len, true, false);
	c->script_lines++;
	const struct smtpd_script_step *st =
	    c->script_pos < sc->n && sc->steps[c->script_pos].content ? &sc->steps[c->script_pos]
								      : NULL;
	if (st)
		c->script_pos++;
	if (!c->script_first_diff && (!st || (!st->secret && (strlen(st->expect) != len ||
							      memcmp(st->expect, line, len) != 0))))
		c->script_first_diff = c->script_lines;
	return true;
}

static enum smtpd_action script_line(struct smtpd_conn *c, const char *line, size_t len)
{
	const struct smtpd_script *sc = c->cfg->script;
	if (c->script_data && script_message_line(c, line, len))
		return SMTPD_NO_REPLY;
	if (c->script_pos >= sc->n) {
		emit_command(c, line, len);
		char end[300];
		snprintf(end, sizeof end, "421 4.7.0 %s Error: the transcript ends here",
			 c->cfg->hostname);
		close_with(c, end);
		return SMTPD_CLOSE;
	}
	const struct smtpd_script_step *st = &sc->steps[c->script_pos++];
	if (st->secret)
		emit(c, SMTPD_EV_RECEIVED, "<redacted>", 10, st->content, true);
	else if (!st->content)
		emit_command(c, line, len);
	else
		emit(c, SMTPD_EV_RECEIVED, line, len, true, false);
	if (!st->secret && st->expect &&
	    (strlen(st->expect) != len || strncasecmp(st->expect, line, len) != 0))
		smtpd_note(c, "the recorded client sent: %.200s",
			   st->expect); /* escaped when shown */
	if (!st->nreplies)
		return SMTPD_NO_REPLY;
	for (size_t i = 0; i < st->nreplies; i++)
		smtpd_say(c, "%s", st->replies[i]);
	if (st->starttls) {
		smtpd_set_state(c, SMTPD_S_TLS_WAIT);
		return SMTPD_STARTTLS;
	}
	const char *last = st->replies[st->nreplies - 1];
	if (strncmp(last, "354", 3) == 0) { /* the message follows: compared as a whole */
		c->script_data = true;
		c->script_lines = c->script_first_diff = 0;
		c->script_recorded = 0;
		for (size_t i = c->script_pos; i < sc->n && sc->steps[i].content; i++)
			c->script_recorded++;
	}
	if (strncmp(last, "221", 3) == 0 || strncmp(last, "421", 3) == 0) {
		smtpd_set_state(c, SMTPD_S_CLOSED);
		return SMTPD_CLOSE;
	}
	return SMTPD_REPLY;
}

/* --- lines ----------------------------------------------------------------------------------- */

static size_t line_limit(const struct smtpd_conn *c)
{
	if (c->cfg->script)
		return SMTPD_AUTH_MAX;
	if (c->state == SMTPD_S_DATA)
		return SMTPD_TEXT_MAX;
	if (c->state == SMTPD_S_AUTH || authline_parse(c->in.data, c->in.len, NULL))
		return SMTPD_AUTH_MAX;
	return SMTPD_CMD_MAX;
}

/* A line over the limit ended (its bytes were thrown away). */
static enum smtpd_action too_long(struct smtpd_conn *c, bool crlf)
{
	if (c->state == SMTPD_S_DATA) {
		if (!c->msg_line_too_long)
			smtpd_note(c,
				   "a message line is over %d octets: the message will be refused",
				   SMTPD_TEXT_MAX);
		c->msg_line_too_long = true;
		c->prev_crlf = crlf;
		c->body_lines++;
		return SMTPD_NO_REPLY;
	}
	if (c->state == SMTPD_S_AUTH) {
		smtpd_auth_end(&c->auth);
		smtpd_set_state(c, SMTPD_S_COMMAND);
		smtpd_say(c, "500 5.5.6 Error: authentication line too long");
		return SMTPD_REPLY;
	}
	smtpd_say(c, "500 5.5.2 Error: line too long (a command is at most %d octets with CRLF)",
		  SMTPD_CMD_MAX);
	return SMTPD_REPLY;
}

static enum smtpd_action after_errors(struct smtpd_conn *c, enum smtpd_action a)
{
	if (c->errors >= SMTPD_ERRORS_MAX && c->state != SMTPD_S_CLOSED) {
		char line[300];
		snprintf(line, sizeof line, "421 4.7.0 %s Error: too many errors",
			 c->cfg->hostname);
		close_with(c, line);
		return SMTPD_CLOSE;
	}
	return a;
}

static void consume(struct smtpd_conn *c, size_t n)
{
	OPENSSL_cleanse(c->in.data, n); /* the line may have been an AUTH secret */
	buf_consume(&c->in, n);
}

enum smtpd_action smtpd_step(struct smtpd_conn *c, time_t now)
{
	if (c->drop_pending) { /* drop-after connect */
		c->drop_pending = false;
		return SMTPD_DROP;
	}
	if (c->state == SMTPD_S_CLOSED || c->state == SMTPD_S_TLS_WAIT)
		return SMTPD_NEED_MORE;
	if (c->state == SMTPD_S_BDAT)
		return chunk_step(c);
	char *data = c->in.data;
	char *nl = c->in.len ? memchr(data, '\n', c->in.len) : NULL;
	size_t limit = line_limit(c);
	if (c->skipping) {
		if (!nl) {
			consume(c, c->in.len);
			return SMTPD_NEED_MORE;
		}
		size_t n = (size_t)(nl - data) + 1;
		bool crlf = n >= 2 && data[n - 2] == '\r';
		consume(c, n);
		c->skipping = false;
		return after_errors(c, too_long(c, crlf));
	}
	if (!nl) {
		if (c->in.len >= limit) {
			consume(c, c->in.len);
			c->skipping = true;
		}
		return SMTPD_NEED_MORE;
	}
	size_t total = (size_t)(nl - data) + 1;
	bool crlf = total >= 2 && data[total - 2] == '\r';
	size_t len = total - (crlf ? 2 : 1);
	if (len + 2 > limit) {
		consume(c, total);
		return after_errors(c, too_long(c, crlf));
	}
	data[len] = '\0';
	c->line_end = crlf ? SMTPD_END_CRLF : SMTPD_END_LF;
	enum smtpd_action a;
	if (c->cfg->script) {
		a = script_line(c, data, len);
		if (a == SMTPD_STARTTLS) {
			consume(c, c->in.len); /* nothing pipelined after STARTTLS counts */
			return a;
		}
	} else if (c->state == SMTPD_S_DATA) {
		a = data_line(c, data, len, crlf);
	} else if (c->state == SMTPD_S_AUTH) {
		bool star = strcmp(data, "*") == 0;
		emit(c, SMTPD_EV_RECEIVED, star ? "*" : "<redacted>", star ? 1 : 10, false, !star);
		struct smtpd_auth_outcome o;
		struct smtpd_account acct = account(c);
		smtpd_auth_continue(&c->auth, &acct, data, &o);
		a = auth_apply(c, &o);
		c->sasl_astray = c->state != SMTPD_S_AUTH && !c->authenticated;
	} else {
		bool is_auth =
		    len >= 4 && strncasecmp(data, "AUTH", 4) == 0 && (len == 4 || data[4] == ' ');
		emit_command(c, data, len);
		a = command(c, data, len, now);
		if (is_auth)
			c->sasl_astray = c->state != SMTPD_S_AUTH && !c->authenticated;
		if (a == SMTPD_STARTTLS) {
			/* RFC 3207 4.2 / CVE-2011-0411: nothing sent before the handshake may
			   count as a command inside TLS (unless the starttls-injection fault
			   shows what happens when it does: kept, and run after the handshake) */
			if (c->cfg->settings.starttls_injection) {
				consume(c, total);
				c->injected = c->in.len > 0;
				return a;
			}
			if (c->in.len > total)
				smtpd_note(
				    c,
				    "discarded %zu bytes the client pipelined after STARTTLS "
				    "(RFC 3207: wait for the 220 first)",
				    c->in.len - total);
			consume(c, c->in.len);
			return a;
		}
	}
	consume(c, total);
	if (a == SMTPD_DROP || a == SMTPD_CLOSE)
		return a;
	return after_errors(c, a);
}
