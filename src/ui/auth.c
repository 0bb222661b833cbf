/* \auth, \b64 and \unb64: logging in with help, and base64 for logging in by hand. */
#include "smtpsh/auth.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "smtpsh/cred.h"
#include "smtpsh/escape.h"
#include "smtpsh/practice.h"
#include "smtpsh/sasl.h"
#include "shell_int.h"

#define PASSWORD_ENV "SMTPSH_PASSWORD"
#define TOKEN_ENV "SMTPSH_OAUTH_TOKEN"

/* A failure of a credential source: shown, and recorded like a local error (or Ctrl-C). */
static void cred_failed(struct shell *sh, enum cred_status st, const char *what, const char *err)
{
	if (st == CRED_INTERRUPTED) {
		render_error(sh->render, "%s: %s; nothing sent", what, err);
		shell_failed(sh, sh->batch ? SESSION_ERR_INTERRUPTED : SESSION_ERR_LOCAL);
		return;
	}
	shell_error(sh, "%s: %s", what, err);
}

/* What a terminal question says when there is none. */
static const char *no_tty_hint(bool token)
{
	return token ? "no terminal to ask for the token: give --oauth-token-command CMD or set "
		       "SMTPSH_OAUTH_TOKEN"
		     : "no terminal to ask for the password: give --password-command CMD, set "
		       "SMTPSH_PASSWORD, or add the host to ~/.netrc";
}

struct creds {
	char *user;
	char *secret;
	struct netrc_entry netrc;
	bool netrc_read;
};

static void creds_free(struct creds *c)
{
	str_free_secret(c->user);
	str_free_secret(c->secret);
	netrc_entry_free(&c->netrc);
}

/* Reads ~/.netrc once; false after an error (shown). */
static bool read_netrc(struct shell *sh, struct creds *c, const char *user)
{
	if (c->netrc_read)
		return true;
	c->netrc_read = true;
	char err[512] = "";
	enum cred_status st =
		cred_from_netrc(session_host(sh->session), user, &c->netrc, err, sizeof err);
	if (st == CRED_ERROR) {
		cred_failed(sh, st, "~/.netrc", err);
		return false;
	}
	return true;
}

static bool get_user(struct shell *sh, struct creds *c, const char *given)
{
	if (given) {
		c->user = strdup(given);
		return c->user != NULL;
	}
	if (!read_netrc(sh, c, NULL))
		return false;
	if (c->netrc.login) {
		c->user = strdup(c->netrc.login);
		if (c->user)
			render_info(sh->render, "user %s (from ~/.netrc)", c->user);
		return c->user != NULL;
	}
	char prompt[512], err[512] = "";
	snprintf(prompt, sizeof prompt, "user name for %s: ", session_host(sh->session));
	enum cred_status st = cred_prompt(prompt, false, &c->user, err, sizeof err);
	if (st == CRED_ERROR && strncmp(err, "no terminal", 11) == 0)
		snprintf(err, sizeof err, "no terminal to ask for the user name: give it (\\auth "
					  "MECH USER, --user USER) or add the host to ~/.netrc");
	if (st != CRED_OK) {
		cred_failed(sh, st, "user name", err);
		return false;
	}
	if (!*c->user) {
		shell_error(sh, "no user name given: nothing sent");
		return false;
	}
	return true;
}

/*
 * A lesson script (batch mode) of --practice logs in as the practice login without a
 * question: the shell made that password and printed it, there is nobody to type it, and it
 * opens nothing but the practice server. Only for the practice server's own host and port
 * (after \connect elsewhere it is asked for as anywhere), only for its user.
 */
static bool practice_login(const struct shell *sh, const char *user)
{
	const struct practice *p = sh->practice;
	if (!p || !sh->batch || strcmp(user, p->env.user) != 0)
		return false;
	const char *host = session_host(sh->session), *port = session_port(sh->session);
	return host && port && strcmp(host, p->env.addrs[0]) == 0 && strcmp(port, p->port) == 0;
}

static bool get_secret(struct shell *sh, struct creds *c, bool token)
{
	const char *cmd = token ? sh->token_command : sh->password_command;
	const char *what = token ? "the token" : "the password";
	char err[512] = "";
	enum cred_status st;
	if (cmd) {
		st = cred_from_command(cmd, session_timeout_ms(sh->session), &c->secret, err,
				       sizeof err);
		if (st != CRED_OK) {
			cred_failed(sh, st, token ? "--oauth-token-command" : "--password-command", err);
			return false;
		}
		render_info(sh->render, "%s from %s", what,
			    token ? "--oauth-token-command" : "--password-command");
		return true;
	}
	const char *env = getenv(token ? TOKEN_ENV : PASSWORD_ENV);
	if (env && *env) {
		c->secret = strdup(env);
		if (c->secret)
			render_info(sh->render, "%s from %s", what, token ? TOKEN_ENV : PASSWORD_ENV);
		return c->secret != NULL;
	}
	/* the profile's OAuth2 settings: the stored refresh token gets an access token (the
	   command and the variable above win over it) */
	if (token && oauth_configured(sh))
		return oauth_token_for_auth(sh, &c->secret);
	if (!token && practice_login(sh, c->user)) {
		c->secret = strdup(sh->practice->env.password);
		if (c->secret)
			render_info(sh->render, "the password of the practice login (--practice made "
						"it)");
		return c->secret != NULL;
	}
	if (!token) {
		/* the netrc entry read for the user name, or one for this user */
		if (c->netrc_read && c->netrc.login && strcmp(c->netrc.login, c->user) != 0) {
			netrc_entry_free(&c->netrc);
			c->netrc_read = false;
		}
		if (!read_netrc(sh, c, c->user))
			return false;
		if (c->netrc.password) {
			c->secret = strdup(c->netrc.password);
			if (c->secret)
				render_info(sh->render, "the password from ~/.netrc (%s)",
					    c->netrc.is_default ? "default entry" : "machine entry");
			return c->secret != NULL;
		}
	}
	char prompt[600];
	snprintf(prompt, sizeof prompt, "%s for %s at %s (not shown): ", token ? "OAuth2 token"
										: "password",
		 c->user, session_host(sh->session));
	st = cred_prompt(prompt, true, &c->secret, err, sizeof err);
	if (st == CRED_ERROR && strncmp(err, "no terminal", 11) == 0)
		snprintf(err, sizeof err, "%s", no_tty_hint(token));
	if (st != CRED_OK) {
		cred_failed(sh, st, what, err);
		return false;
	}
	if (!*c->secret) {
		shell_error(sh, "empty %s: nothing sent", token ? "token" : "password");
		return false;
	}
	return true;
}

/* Sends one step; the shown form masks a secret. */
static enum session_status send_step(struct shell *sh, const char *line, bool secret,
				     const char *masked, struct smtp_reply *rep)
{
	const char *shown = secret && !sh->reveal_secrets ? masked : NULL;
	return session_command(sh->session, line, shown, rep);
}

/* The 334 error of XOAUTH2 or OAUTHBEARER, decoded (RFC 7628 3.2.2: status, scope; Google adds
   schemes), with the usual causes: the server's text is escaped by the renderer. */
static void token_refused(struct shell *sh, const struct sasl_client *c)
{
	const struct sasl_oauth_error *e = &c->error;
	char said[700] = "";
	if (e->status[0])
		snprintf(said, sizeof said, ": status %s%s%s%s%s%s%s", e->status,
			 e->scope[0] ? ", scope " : "", e->scope, e->schemes[0] ? ", schemes " : "",
			 e->schemes, e->openid[0] ? ", openid-configuration " : "", e->openid);
	render_info(sh->render,
		    "the server refused the token%s (the 334 holds its reason; usual causes: the "
		    "token expired or was revoked, it lacks the scope SMTP needs, it was issued "
		    "for another user, or SMTP AUTH is disabled for the mailbox); %s",
		    e->status[0] ? said : " (its 334 is not the JSON error expected)",
		    c->mech == SASL_OAUTHBEARER
			? "a lone ^A (AQ==) asks for the final reply (RFC 7628 3.2.3)"
			: "an empty line asks for the final reply");
}

/* The port for OAUTHBEARER's port= field: the one asked for, else the one connected to. */
static unsigned server_port(const struct smtp_session *s)
{
	const char *p = session_port(s);
	if (p && *p && strspn(p, "0123456789") == strlen(p) && strlen(p) <= 5)
		return (unsigned)strtoul(p, NULL, 10);
	return session_peer_port(s);
}

static bool exchange(struct shell *sh, enum sasl_mech mech, const char *user, const char *secret)
{
	struct sasl_client c;
	sasl_client_init(&c, mech, user, secret);
	/* OAUTHBEARER names the server it logs in to (RFC 7628 3.1: host, port) */
	sasl_client_set_server(&c, session_host(sh->session), server_port(sh->session));
	struct buf line;
	buf_init(&line);
	bool is_secret;
	const char *why;
	if (sasl_client_start(&c, &line, &is_secret, &why) < 0) {
		buf_free_secret(&line);
		shell_error(sh, "%s: nothing sent", why);
		return false;
	}
	char masked[64];
	snprintf(masked, sizeof masked, "AUTH %s <redacted>", sasl_mech_name(mech));
	struct smtp_reply rep;
	smtp_reply_init(&rep);
	enum session_status st = send_step(sh, line.data, is_secret, masked, &rep);
	buf_free_secret(&line);
	while (st == SESSION_OK && rep.code == 334) {
		struct buf resp;
		buf_init(&resp);
		enum sasl_step step =
			sasl_client_step(&c, rep.text.data, rep.text.len, &resp, &is_secret, &why);
		if (step != SASL_STEP_SEND) {
			buf_free_secret(&resp);
			render_warning(sh->render, "cancelling the AUTH exchange: %s",
				       step == SASL_STEP_NOMEM ? "out of memory" : why);
			st = session_command(sh->session, "*", NULL, &rep);
			if (st == SESSION_OK && rep.code == 334)
				render_warning(sh->render, "the server still asks: answer it by hand "
							   "(or send * again)");
			break;
		}
		if (c.token_error) {
			token_refused(sh, &c);
			/* an access token the server refused is not used again: the next \auth
			   gets a new one from the stored refresh token */
			oauth_forget(sh);
		}
		st = send_step(sh, resp.data, is_secret, "<redacted>", &rep);
		buf_free_secret(&resp);
	}
	shell_failed(sh, st);
	bool ok = st == SESSION_OK && rep.code == 235;
	if (ok && !user)
		render_info(sh->render, "authenticated by the client certificate (%s)",
			    sasl_mech_name(mech));
	else if (ok)
		render_info(sh->render, "authenticated as %s (%s)", user, sasl_mech_name(mech));
	else if (st == SESSION_OK)
		shell_check_reply(sh, &rep);
	smtp_reply_free(&rep);
	return ok;
}

static bool pick_mech(struct shell *sh, const char *name, enum sasl_mech *mech)
{
	const struct smtp_caps *caps = session_caps(sh->session);
	unsigned adv = caps->known ? sasl_advertised(caps) : 0;
	if (name) {
		if (sasl_mech_parse(name, mech) < 0) {
			shell_error(sh,
				    "\\auth does not know the mechanism %s (it knows PLAIN, LOGIN, "
				    "CRAM-MD5, XOAUTH2, OAUTHBEARER and EXTERNAL; type AUTH %s to "
				    "try it by hand)",
				    name, name);
			return false;
		}
		/* A password is never sent for a mechanism the server did not offer here: before
		   STARTTLS servers hide AUTH, and the password would then cross in plaintext for
		   nothing. Typed by hand (AUTH MECH), it is still possible to try. */
		if (caps->known && !(adv & (1u << *mech))) {
			const struct smtp_cap *a = caps_find(caps, "AUTH");
			shell_error(
			    sh,
			    "the server does not offer %s %s%s%s: nothing sent (type AUTH %s "
			    "to try it by hand)",
			    sasl_mech_name(*mech), a ? "(it offers: " : "here", a ? a->params : "",
			    a ? ")"
			    : caps_has(caps, "STARTTLS") && !session_tls(sh->session)
				? " (STARTTLS first?)"
				: "",
			    sasl_mech_name(*mech));
			return false;
		}
		return true;
	}
	if (!caps->known) {
		shell_error(sh,
			    "no capabilities known: send %s first, or name the "
			    "mechanism (\\auth MECH [USER])",
			    session_hello_verb(sh->session));
		return false;
	}
	bool have_token =
	    sh->token_command || (getenv(TOKEN_ENV) && *getenv(TOKEN_ENV)) || oauth_configured(sh);
	bool verified = session_tls_verified(sh->session);
	if (sasl_choose(adv, verified, have_token, mech) < 0) {
		const struct smtp_cap *a = caps_find(caps, "AUTH");
		shell_error(sh, "%s%s%s", a ? "no mechanism smtpsh supports among: " : "",
			    a ? a->params : "the server does not offer AUTH here (STARTTLS first?)",
			    a && (adv & (1u << SASL_XOAUTH2 | 1u << SASL_OAUTHBEARER))
				? " (XOAUTH2 and OAUTHBEARER need a token: "
				  "--oauth-token-command or "
				  "SMTPSH_OAUTH_TOKEN)"
				: "");
		return false;
	}
	render_info(sh->render, "mechanism %s (%s)", sasl_mech_name(*mech),
		    sasl_mech_takes_token(*mech) ? "a token source was given"
		    : verified			 ? "the best advertised one under verified TLS"
			       : "the best advertised one without verified TLS: the "
				 "password itself is not sent when CRAM-MD5 is possible");
	return true;
}

bool auth_run(struct shell *sh, const char *mech_name, const char *user)
{
	struct smtp_session *s = sh->session;
	if (!session_connected(s)) {
		render_error(sh->render, "not connected (use \\connect HOST [PORT])");
		shell_failed(sh, SESSION_ERR_STATE);
		return false;
	}
	if (session_in_auth(s)) {
		shell_error(sh, "an AUTH exchange is going on: answer it, or send * to "
				"cancel it");
		return false;
	}
	if (session_phase(s) == PHASE_MAIL || session_phase(s) == PHASE_RCPT) {
		shell_error(sh, "AUTH is not allowed inside a mail transaction (RSET first)");
		return false;
	}
	if (!shell_auth_allowed(sh))
		return false;
	/* the profile's user and mechanism when none is given */
	if (!mech_name)
		mech_name = sh->default_mech;
	if (!user)
		user = sh->default_user;
	enum sasl_mech mech;
	if (!pick_mech(sh, mech_name, &mech))
		return false;
	if (!sasl_mech_needs_secret(mech)) {
		/* EXTERNAL: the client certificate is the credential; user is the optional
		   authorization identity */
		if (!session_tls(s) || !session_tls_client_cert(s))
			render_warning(sh->render,
				       "EXTERNAL logs in with the TLS client certificate, and none "
				       "was sent on this connection (--cert FILE --key FILE)");
		return exchange(sh, mech, user, NULL);
	}
	bool token = sasl_mech_takes_token(mech);
	struct creds c = {0};
	bool ok = get_user(sh, &c, user) && get_secret(sh, &c, token) &&
		  exchange(sh, mech, c.user, c.secret);
	creds_free(&c);
	return ok;
}

void auth_cmd(struct shell *sh, int argc, char **argv)
{
	const char *mech = NULL, *user = NULL;
	enum sasl_mech m;
	if (argc > 3) {
		shell_error(sh, "usage: \\auth [MECH] [USER]");
		return;
	}
	if (argc == 3) {
		mech = argv[1];
		user = argv[2];
	} else if (argc == 2) {
		/* one word: a mechanism when it names one (ours or advertised), else the user */
		if (sasl_mech_parse(argv[1], &m) == 0 ||
		    caps_has_param(session_caps(sh->session), "AUTH", argv[1]))
			mech = argv[1];
		else
			user = argv[1];
	}
	auth_run(sh, mech, user);
}

/* ---- \b64 and \unb64 ------------------------------------------------------------------- */

void auth_cmd_b64(struct shell *sh, int argc, char **argv)
{
	if (argc != 2) {
		shell_error(sh, "usage: \\b64 TEXT (\\0 is a NUL octet, also \\t \\n \\r "
				"\\\\ \\xNN)");
		return;
	}
	struct buf raw, enc;
	buf_init(&raw);
	buf_init(&enc);
	const char *bad = NULL;
	if (escape_parse_typed(argv[1], &raw, &bad) < 0) {
		if (bad)
			shell_error(sh,
				    "\\b64: unknown escape %.2s (use \\0 \\t \\n \\r \\\\ "
				    "\\xNN)",
				    bad);
		else
			shell_error(sh, "out of memory");
	} else if (buf_reserve(&enc, (raw.len + 2) / 3 * 4) < 0 ||
		   sasl_b64_encode(raw.data, raw.len, &enc) < 0) {
		shell_error(sh, "out of memory");
	} else if (enc.len == 0) {
		render_info(sh->render, "empty text: nothing to encode");
	} else {
		render_text(sh->render, enc.data);
	}
	buf_free_secret(&raw);
	buf_free_secret(&enc);
}

void auth_cmd_unb64(struct shell *sh, int argc, char **argv)
{
	if (argc != 2) {
		shell_error(sh, "usage: \\unb64 BASE64");
		return;
	}
	const char *in = argv[1];
	size_t len = strlen(in);
	while (len && (in[len - 1] == ' ' || in[len - 1] == '\t'))
		len--;
	if (len >= 4 && strncmp(in, "334 ", 4) == 0) { /* a whole challenge line pasted */
		in += 4;
		len -= 4;
	}
	struct buf raw, shown;
	buf_init(&raw);
	buf_init(&shown);
	enum sasl_decode d = sasl_b64_decode(in, len, 1024 * 1024, &raw);
	if (d != SASL_DECODE_OK) {
		shell_error(sh, "\\unb64: %s", sasl_decode_str(d));
	} else if (escape_append(&shown, raw.data ? raw.data : "", raw.len, ESCAPE_DEFAULT) < 0) {
		shell_error(sh, "out of memory");
	} else if (shown.len == 0) {
		render_info(sh->render, "it decodes to nothing (empty)");
	} else {
		render_text(sh->render, shown.data);
	}
	buf_free_secret(&raw);
	buf_free_secret(&shown);
}

void auth_complete(struct candidates *c)
{
	if (c->nwords != 1)
		return;
	/* what the server advertised; before EHLO the usual ones (EXTERNAL only when offered:
	   it needs a client certificate the server accepts) */
	unsigned adv = sasl_advertised(session_caps(c->sh->session));
	for (int i = 0; i < SASL_MECH_COUNT; i++)
		if (adv ? (adv & (1u << i)) != 0 : i != SASL_EXTERNAL)
			candidates_offer(c, sasl_mech_name((enum sasl_mech)i));
}
