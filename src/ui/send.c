/* \send and smtpsh --send: compose a message from options and send it as visible steps. */
#include "smtpsh/send.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtpsh/auth.h"
#include "smtpsh/message.h"
#include "smtpsh/summary.h"
#include "shell_int.h"

const char *const send_option_names[] = {
	"--from", "--to", "--cc", "--bcc", "--subject", "--body", "--body-file", "--attach",
	"--header", "--chunking", "--notify", "--ret", "--envid",
};

bool send_option_is_flag(const char *name)
{
	return strcmp(name, "chunking") == 0;
}
const size_t send_option_count = sizeof send_option_names / sizeof send_option_names[0];

void send_opts_init(struct send_opts *o)
{
	memset(o, 0, sizeof *o);
}

void send_opts_free(struct send_opts *o)
{
	free(o->to);
	free(o->cc);
	free(o->bcc);
	free(o->attach);
	free(o->headers);
	send_opts_init(o);
}

static int push(const char ***list, size_t *n, const char *v)
{
	const char **p = realloc(*list, (*n + 1) * sizeof *p);
	if (!p)
		return -1;
	p[(*n)++] = v;
	*list = p;
	return 0;
}

int send_opts_add(struct send_opts *o, const char *name, const char *value, char *err,
		  size_t errlen)
{
	const char **one = NULL;
	const char ***many = NULL;
	size_t *count = NULL;
	if (strcmp(name, "from") == 0)
		one = &o->from;
	else if (strcmp(name, "subject") == 0)
		one = &o->subject;
	else if (strcmp(name, "body") == 0)
		one = &o->body;
	else if (strcmp(name, "body-file") == 0)
		one = &o->body_file;
	else if (strcmp(name, "to") == 0)
		many = &o->to, count = &o->nto;
	else if (strcmp(name, "cc") == 0)
		many = &o->cc, count = &o->ncc;
	else if (strcmp(name, "bcc") == 0)
		many = &o->bcc, count = &o->nbcc;
	else if (strcmp(name, "attach") == 0)
		many = &o->attach, count = &o->nattach;
	else if (strcmp(name, "header") == 0)
		many = &o->headers, count = &o->nheaders;
	else if (strcmp(name, "notify") == 0)
		one = &o->notify;
	else if (strcmp(name, "ret") == 0)
		one = &o->ret;
	else if (strcmp(name, "envid") == 0)
		one = &o->envid;
	else if (strcmp(name, "chunking") == 0) {
		if (value) {
			snprintf(err, errlen, "--chunking takes no value");
			return -1;
		}
		o->chunking = true;
		return 0;
	} else {
		snprintf(err, errlen, "unknown option --%s (the options: --from --to --cc --bcc "
				      "--subject --body --body-file --attach --header --chunking "
				      "--notify --ret --envid)",
			 name);
		return -1;
	}
	if (!value) {
		snprintf(err, errlen, "--%s needs a value", name);
		return -1;
	}
	if (one) {
		if (*one) {
			snprintf(err, errlen, "--%s given twice", name);
			return -1;
		}
		*one = value;
		return 0;
	}
	if (push(many, count, value) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* ---- sending ------------------------------------------------------------------------------ */

static bool positive(const struct smtp_reply *r)
{
	return r->code >= 200 && r->code < 300;
}

/* Sends RSET after a refused step, so the session is ready for the next try. */
static void rset(struct shell *sh)
{
	struct smtp_reply r;
	smtp_reply_init(&r);
	enum session_status st = session_command(sh->session, "RSET", NULL, &r);
	shell_failed(sh, st);
	smtp_reply_free(&r);
}

/* One command of the transaction; false when it failed or was refused (reply shown). */
static bool step(struct shell *sh, const char *line, int want, bool *refused)
{
	struct smtp_reply r;
	smtp_reply_init(&r);
	enum session_status st = session_command(sh->session, line, NULL, &r);
	bool ok = st == SESSION_OK && (want ? r.code == want : positive(&r));
	shell_failed(sh, st);
	if (st == SESSION_OK && !ok) {
		*refused = true;
		shell_check_reply(sh, &r);
	}
	smtp_reply_free(&r);
	return ok;
}

#define SEND_BDAT_CHUNK (256 * 1024) /* octets per BDAT chunk of \send --chunking */

static ssize_t read_message(void *arg, char *buf, size_t cap, char *err, size_t errlen)
{
	return message_read(arg, buf, cap, err, errlen);
}

static bool check_state(struct shell *sh)
{
	struct smtp_session *s = sh->session;
	if (!session_connected(s)) {
		render_error(sh->render, "not connected (use \\connect HOST [PORT])");
		shell_failed(sh, SESSION_ERR_STATE);
		return false;
	}
	const char *why = NULL;
	switch (session_phase(s)) {
	case PHASE_GREETING:
	case PHASE_GREETED:
		why = session_lmtp(s) ? "send LHLO first (its reply says whether SIZE, 8BITMIME "
					"and SMTPUTF8 are offered)"
				      : "send EHLO first (its reply says whether SIZE, 8BITMIME "
					"and SMTPUTF8 are offered)";
		break;
	case PHASE_MAIL:
	case PHASE_RCPT:
		why = "a mail transaction is open: RSET first";
		break;
	case PHASE_DATA:
		why = "inside DATA";
		break;
	default:
		break;
	}
	if (!why && session_in_auth(s))
		why = "an AUTH exchange is going on: answer it, or send * to cancel it";
	if (why) {
		shell_error(sh, "%s", why);
		return false;
	}
	return true;
}

/* Checks the addresses; *utf8 when one is not ASCII. */
static bool check_addresses(struct shell *sh, const struct send_opts *o, bool *utf8)
{
	char addr[1024], msg[1200];
	*utf8 = false;
	const char *const *lists[] = {&o->from, o->to, o->cc, o->bcc};
	const size_t counts[] = {o->from ? 1 : 0, o->nto, o->ncc, o->nbcc};
	static const char *const names[] = {"--from", "--to", "--cc", "--bcc"};
	for (size_t l = 0; l < 4; l++)
		for (size_t i = 0; i < counts[l]; i++) {
			if (message_address(lists[l][i], addr, sizeof addr) < 0) {
				snprintf(msg, sizeof msg, "%s '%s': not an address", names[l],
					 lists[l][i]);
				shell_error(sh, "%s", msg);
				return false;
			}
			*utf8 |= message_non_ascii(addr);
		}
	return true;
}

/* ---- DSN (RFC 3461) ------------------------------------------------------------------------ */

/* The DSN parameters, checked and in the form they are sent. */
struct dsn {
	char notify[40]; /* "SUCCESS,FAILURE" */
	char ret[8];
	char envid[101]; /* xtext */
	bool any;
};

/*
 * RFC 3461 4.1: NOTIFY is NEVER alone, or a list of SUCCESS, FAILURE and DELAY; 4.3: RET is
 * FULL or HDRS; 4.4: ENVID is printable US-ASCII, sent as xtext (section 4: octets outside
 * "!".."~", "+" and "=" become "+HH"), at most 100 characters. Any case is taken. false with
 * err set when one is not so.
 */
static bool dsn_check(const struct send_opts *o, struct dsn *d, char *err, size_t errlen)
{
	memset(d, 0, sizeof *d);
	d->any = o->notify || o->ret || o->envid;
	if (o->notify) {
		static const char *const words[] = {"NEVER", "SUCCESS", "FAILURE", "DELAY"};
		unsigned seen = 0;
		const char *p = o->notify;
		for (;;) {
			size_t n = strcspn(p, ","), w;
			for (w = 0; w < 4; w++)
				if (strlen(words[w]) == n && strncasecmp(p, words[w], n) == 0)
					break;
			if (w == 4 || (seen & (1u << w))) {
				snprintf(
				    err, errlen,
				    "--notify '%s': NEVER, or SUCCESS, FAILURE and DELAY joined "
				    "by commas, each once (RFC 3461 4.1)",
				    o->notify);
				return false;
			}
			seen |= 1u << w;
			if (d->notify[0])
				strcat(d->notify, ",");
			strcat(d->notify, words[w]);
			if (!p[n])
				break;
			p += n + 1;
		}
		if ((seen & 1u) && seen != 1u) {
			snprintf(err, errlen, "--notify: NEVER cannot be combined (RFC 3461 4.1)");
			return false;
		}
	}
	if (o->ret) {
		if (strcasecmp(o->ret, "FULL") != 0 && strcasecmp(o->ret, "HDRS") != 0) {
			snprintf(err, errlen, "--ret '%s': FULL or HDRS (RFC 3461 4.3)", o->ret);
			return false;
		}
		snprintf(d->ret, sizeof d->ret, "%s",
			 toupper((unsigned char)o->ret[0]) == 'F' ? "FULL" : "HDRS");
	}
	if (o->envid) {
		size_t k = 0;
		for (const unsigned char *p = (const unsigned char *)o->envid; *p; p++) {
			if (*p < 0x20 || *p > 0x7e) {
				snprintf(err, errlen,
					 "--envid: printable US-ASCII only (RFC 3461 4.4)");
				return false;
			}
			bool plain = *p > 0x20 && *p != '+' && *p != '=';
			if (k + (plain ? 1 : 3) > 100) {
				snprintf(err, errlen,
					 "--envid: at most 100 characters as xtext (RFC 3461 4.4)");
				return false;
			}
			if (plain)
				d->envid[k++] = (char)*p;
			else
				k += (size_t)snprintf(d->envid + k, 4, "+%02X", *p);
		}
		if (!k) {
			snprintf(err, errlen, "--envid needs a value");
			return false;
		}
		d->envid[k] = '\0';
	}
	return true;
}

bool send_run(struct shell *sh, const struct send_opts *o, bool *partly)
{
	if (partly)
		*partly = false;
	if (!check_state(sh))
		return false;
	if (!o->from) {
		shell_error(sh, "\\send needs --from ADDRESS");
		return false;
	}
	if (o->nto + o->ncc + o->nbcc == 0) {
		shell_error(sh, "\\send needs a recipient: --to (or --cc, --bcc) ADDRESS");
		return false;
	}
	bool utf8;
	if (!check_addresses(sh, o, &utf8))
		return false;
	struct dsn dsn;
	char err[1200];
	if (!dsn_check(o, &dsn, err, sizeof err)) {
		shell_error(sh, "\\send: %s", err);
		return false;
	}
	struct smtp_session *s = sh->session;
	const struct smtp_caps *caps = session_caps(s);
	if (dsn.any && !caps_has(caps, "DSN")) {
		shell_refused(sh, "the server does not offer DSN (RFC 3461): --notify, --ret and "
				  "--envid cannot be honoured: not sent");
		return false;
	}
	if (o->chunking && !caps_has(caps, "CHUNKING")) {
		shell_refused(sh,
			      "the server does not offer CHUNKING (RFC 3030): --chunking cannot "
			      "send BDAT: not sent");
		return false;
	}
	/* What this server would refuse is a refusal, as its reply would be (shell_refused):
	   a batch goes on to its next line (its QUIT), unless --strict. */
	if (utf8 && !caps_has(caps, "SMTPUTF8")) {
		shell_refused(sh, "an address is not ASCII and the server does not offer SMTPUTF8 "
				  "(RFC 6531): not sent");
		return false;
	}

	struct message_spec spec = {
		.from = o->from,
		.to = o->to,
		.nto = o->nto,
		.cc = o->cc,
		.ncc = o->ncc,
		.subject = o->subject,
		.body = o->body,
		.body_file = o->body_file,
		.attach = o->attach,
		.nattach = o->nattach,
		.headers = o->headers,
		.nheaders = o->nheaders,
	};
	struct message m;
	if (message_open(&m, &spec, err, sizeof err) < 0) {
		shell_error(sh, "%s", err);
		return false;
	}
	bool eight = message_body_8bit(&m), has8 = caps_has(caps, "8BITMIME");
	/* RFC 3030 3: BINARYMIME (only with BDAT) carries a body as it is, NULs and long lines
	   included, where DATA needs base64. */
	m.allow_binary = o->chunking && caps_has(caps, "BINARYMIME");
	if (eight && !has8 && !(m.allow_binary && message_body_binary(&m)))
		render_warning(sh->render,
			       "the body holds 8-bit octets and the server does not offer "
			       "8BITMIME: it is sent base64-encoded");
	/* RSET after a refusal comes after the summary: an accepted RSET empties the recipient
	   list the summary reads (client_txn). */
	bool accepted = false, refused = false, need_rset = false;
	if (message_compose(&m, has8, err, sizeof err) < 0) {
		shell_error(sh, "%s", err);
		goto out;
	}
	unsigned long long size = message_size(&m), limit = 0;
	bool size_known = caps_size(caps, &limit) == 0;
	if (size_known && limit && size > limit) {
		snprintf(err, sizeof err,
			 "the message is %llu octets and the server takes at most %llu (SIZE): not "
			 "sent",
			 size, limit);
		shell_refused(sh, err);
		goto out;
	}
	size_t nrcpt = o->nto + o->ncc + o->nbcc;
	render_info(sh->render, "message of %llu octets for %zu recipient%s%s", size, nrcpt,
		    nrcpt == 1 ? "" : "s", o->nbcc ? " (Bcc ones get no header)" : "");

	struct buf line;
	buf_init(&line);
	char addr[1024];
	message_address(o->from, addr, sizeof addr);
	buf_printf(&line, "MAIL FROM:<%s>", addr);
	if (caps_has(caps, "SIZE"))
		buf_printf(&line, " SIZE=%llu", size);
	if (m.binary)
		buf_puts(&line, " BODY=BINARYMIME");
	else if (eight && has8)
		buf_puts(&line, " BODY=8BITMIME");
	if (utf8)
		buf_puts(&line, " SMTPUTF8");
	if (dsn.ret[0])
		buf_printf(&line, " RET=%s", dsn.ret);
	if (dsn.envid[0])
		buf_printf(&line, " ENVID=%s", dsn.envid);
	bool ok = line.data && step(sh, line.data, 0, &refused);
	/* A refused RCPT leaves the others: the message goes to those accepted (the summary
	   says which), as any MTA does. */
	size_t taken = 0;
	const char *const *lists[] = {o->to, o->cc, o->bcc};
	const size_t counts[] = {o->nto, o->ncc, o->nbcc};
	for (size_t l = 0; ok && l < 3; l++)
		for (size_t i = 0; ok && i < counts[l]; i++) {
			message_address(lists[l][i], addr, sizeof addr);
			buf_reset(&line);
			buf_printf(&line, "RCPT TO:<%s>", addr);
			if (dsn.notify[0])
				buf_printf(&line, " NOTIFY=%s", dsn.notify);
			bool r_refused = false;
			if (line.data && step(sh, line.data, 0, &r_refused))
				taken++;
			refused |= r_refused;
			ok = line.data && session_connected(s) && !sh->done;
		}
	buf_free(&line);
	if (ok && !taken) {
		render_error(sh->render, "no recipient was accepted: the message is not sent");
		ok = false;
	}
	if (ok && !o->chunking)
		ok = step(sh, "DATA", 354, &refused);
	if (!ok) {
		need_rset = refused;
		goto out;
	}
	struct smtp_reply r;
	smtp_reply_init(&r);
	enum session_status st;
	if (o->chunking) {
		st = session_bdat_stream(s, read_message, &m, "the message", SEND_BDAT_CHUNK,
					 caps_has(caps, "PIPELINING"), &r);
		if (st == SESSION_OK && !positive(&r)) {
			shell_check_reply(sh, &r);
			/* RFC 3030 2: a refused chunk fails the transaction, which stays open until
			   RSET. In LMTP the replies to LAST are the recipients' own (RFC 2033 4.3):
			   after the last one the transaction is over, nothing to reset. */
			need_rset = session_phase(s) != PHASE_READY;
			smtp_reply_free(&r);
			goto out;
		}
		goto ended;
	}
	st = session_data_stream(s, read_message, &m, "the message");
	if (st == SESSION_OK)
		st = session_data_end(s, &r);
ended:
	if (st != SESSION_OK && st != SESSION_ERR_PROTO && session_connected(s) &&
	    session_phase(s) != PHASE_READY)
		session_disconnect(s, "connection closed: the message is abandoned (so that "
				      "nothing half-written is delivered)");
	shell_failed(sh, st);
	if (st == SESSION_OK) {
		accepted = positive(&r);
		if (accepted)
			render_info(sh->render, "message accepted");
		else
			shell_check_reply(sh, &r);
	}
	smtp_reply_free(&r);
out:
	message_close(&m);
	struct summary_count sc = summary_count(s);
	if (sc.total > 1 || sc.refused_rcpt) {
		summary_show(sh->render, s);
		sh->summary_seen = session_messages(s);
	}
	if (need_rset && session_connected(s) && !sh->done)
		rset(sh);
	if (partly)
		*partly = sc.accepted && sc.accepted < sc.total;
	return sc.total && sc.accepted == sc.total;
}

void send_cmd(struct shell *sh, int argc, char **argv)
{
	struct send_opts o;
	send_opts_init(&o);
	char err[512];
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strncmp(a, "--", 2) != 0) {
			snprintf(err, sizeof err, "\\send: unexpected '%s' (it takes --options: \\help "
						  "\\send)",
				 a);
			shell_error(sh, "%s", err);
			send_opts_free(&o);
			return;
		}
		char name[32];
		const char *eq = strchr(a, '=');
		size_t n = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
		snprintf(name, sizeof name, "%.*s", (int)(n < 31 ? n : 31), a + 2);
		const char *value = eq ? eq + 1 : NULL;
		if (!value && !send_option_is_flag(name)) {
			if (i + 1 >= argc) {
				snprintf(err, sizeof err, "\\send: %s needs a value", a);
				shell_error(sh, "%s", err);
				send_opts_free(&o);
				return;
			}
			value = argv[++i];
		}
		if (send_option_is_flag(name) && !eq)
			value = NULL;
		if (send_opts_add(&o, name, value, err, sizeof err) < 0) {
			char msg[600];
			snprintf(msg, sizeof msg, "\\send: %s", err);
			shell_error(sh, "%s", msg);
			send_opts_free(&o);
			return;
		}
	}
	send_run(sh, &o, NULL);
	send_opts_free(&o);
}

int send_oneshot(struct shell *sh, const struct send_opts *o, const char *ehlo_name,
		 const char *mech, const char *user)
{
	bool accepted = false, partly = false;
	struct smtp_session *s = sh->session;
	if (!session_connected(s))
		return sh->status != EXIT_OK ? sh->status : EXIT_NET;
	int greeting = session_greeting_code(s);
	if (greeting >= 400) { /* the server takes no mail on this connection (RFC 5321 3.1) */
		render_error(sh->render,
			     "the server refused the session (%d): the message is not sent",
			     greeting);
		session_disconnect(s, "connection closed: the session was refused");
		return EXIT_REPLY;
	}
	if (session_phase(s) == PHASE_GREETED) {
		char line[300];
		snprintf(line, sizeof line, "%s %s", session_hello_verb(s),
			 ehlo_name ? ehlo_name : "localhost");
		bool refused = false;
		if (!step(sh, line, 250, &refused))
			goto quit;
	}
	/*
	 * A password is never sent in plaintext to a server that offers TLS: --send --auth without
	 * --starttls upgrades first (RFC 3207), with a verified certificate like --starttls, and
	 * stops (exit 4) if the upgrade fails. Servers commonly offer AUTH only after STARTTLS.
	 */
	if (mech && session_connected(s) && !session_tls(s) &&
	    caps_has(session_caps(s), "STARTTLS")) {
		render_info(sh->render,
			    "the server offers STARTTLS: using it before AUTH (a password "
			    "is not sent in plaintext when TLS is on offer)");
		char line[300];
		snprintf(line, sizeof line, "%s %s", session_hello_verb(s),
			 ehlo_name ? ehlo_name : "localhost");
		bool refused = false;
		if (!step(sh, "STARTTLS", 220, &refused) || !session_tls(s)) {
			if (refused || (session_connected(s) && !session_tls(s))) {
				render_error(sh->render,
					     "STARTTLS failed: not logging in, nothing more "
					     "is sent in plaintext");
				shell_failed(sh, SESSION_ERR_TLS);
			}
			goto quit;
		}
		if (!step(sh, line, 250, &refused))
			goto quit;
	}
	if (mech && !auth_run(sh, strcasecmp(mech, "auto") == 0 ? NULL : mech, user))
		goto quit;
	accepted = send_run(sh, o, &partly);
quit:
	if (session_connected(s))
		shell_quit(sh);
	if (accepted)
		return EXIT_OK;
	if (partly) /* a partial result is a refusal: the summary said which recipients */
		return EXIT_REPLY;
	return sh->status != EXIT_OK ? sh->status : EXIT_REPLY;
}

void send_complete(struct candidates *c)
{
	if (strcmp(c->prev, "--body-file") == 0 || strcmp(c->prev, "--attach") == 0) {
		c->files = true;
		return;
	}
	if (strcmp(c->prev, "--ret") == 0) {
		candidates_offer_exact(c, "FULL");
		candidates_offer_exact(c, "HDRS");
		return;
	}
	if (strcmp(c->prev, "--notify") == 0) {
		candidates_offer_exact(c, "NEVER");
		candidates_offer_exact(c, "SUCCESS,FAILURE");
		candidates_offer_exact(c, "SUCCESS,FAILURE,DELAY");
		candidates_offer_exact(c, "FAILURE");
		candidates_offer_exact(c, "FAILURE,DELAY");
		return;
	}
	if (strncmp(c->prev, "--", 2) == 0 && !strchr(c->prev, '=') &&
	    !send_option_is_flag(c->prev + 2))
		return; /* the value of the option before */
	if (c->text[0] == '-' || c->text[0] == '\0')
		for (size_t i = 0; i < send_option_count; i++)
			candidates_offer_exact(c, send_option_names[i]);
}
