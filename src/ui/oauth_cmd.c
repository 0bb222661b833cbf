/*
 * OAuth2 in the shell: the access token \auth XOAUTH2 / OAUTHBEARER send, got from the refresh
 * token in the store (src/conf/oauth_store.c) through the provider's token endpoint
 * (src/net/oauth.c), and \oauth status | logout. The access token stays in memory (struct
 * shell), the refresh token on disk; neither is ever shown, recorded or put in a message.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "smtpsh/cred.h"
#include "smtpsh/oauth.h"
#include "smtpsh/oauth_store.h"
#include "smtpsh/oauthd.h"
#include "smtpsh/paths.h"
#include "smtpsh/practice.h"
#include "smtpsh/profile.h"
#include "smtpsh/shell.h"
#include "shell_int.h"

#define STORE_LOCK_MS 10000 /* another smtpsh refreshing takes a few seconds at most */
#define EXPIRY_MARGIN 60    /* refresh a token that has less than this many seconds left */

/* The OAuth2 settings: the profile's, each missing endpoint or scope taken from the preset
   for the same host (a profile of one's own for smtp.office365.com needs only the client
   ID). */
struct oauth_conf {
	const char *name;
	const char *client_id, *tenant, *scope, *token_url, *revoke_url, *secret_command, *cafile,
	    *device_url, *authorize_url;
	/* --practice without a profile: the practice sign-in server (oauthd.h), its tokens kept
	   in a store of their own in the practice folder, never the user's real store */
	bool practice;
	char urls[4][64];
	char store_dir[PATH_MAX];
};

/* The store to use: the practice one, or NULL (the user's, oauth_store.h). */
static const char *store_dir(const struct oauth_conf *c)
{
	return c->store_dir[0] ? c->store_dir : NULL;
}

/* --practice: the endpoints of its sign-in server, the practice CA, the demo account. */
static bool practice_conf(const struct shell *sh, struct oauth_conf *c)
{
	const struct practice *p = sh->practice;
	if (!p || !p->env.oauth_port)
		return false;
	const char *path[4] = {"token", "authorize", "devicecode", "revoke"};
	for (int i = 0; i < 4; i++)
		snprintf(c->urls[i], sizeof c->urls[i], "https://127.0.0.1:%u/%s",
			 p->env.oauth_port, path[i]);
	snprintf(c->store_dir, sizeof c->store_dir, "%s/oauth", p->env.dir);
	c->practice = true;
	c->name = "practice";
	c->client_id = OAUTHD_CLIENT_ID;
	c->scope = OAUTHD_SCOPE;
	c->token_url = c->urls[0];
	c->authorize_url = c->urls[1];
	c->device_url = c->urls[2];
	c->revoke_url = c->urls[3];
	c->cafile = p->env.cafile;
	return true;
}

static const char *pick(const char *own, const char *preset)
{
	return own ? own : preset;
}

static bool get_conf(const struct shell *sh, struct oauth_conf *c)
{
	const struct profile *p = sh->oauth_profile;
	memset(c, 0, sizeof *c);
	if (!p)
		return practice_conf(sh, c);
	const struct profile *pre = NULL;
	size_t n;
	const struct profile *all = profile_presets(&n);
	for (size_t i = 0; i < n && p->host; i++)
		if (all[i].host && strcmp(all[i].host, p->host) == 0)
			pre = &all[i];
	c->name = p->name;
	c->client_id = p->oauth_client_id;
	c->tenant = pick(p->oauth_tenant, pre ? pre->oauth_tenant : NULL);
	c->scope = pick(p->oauth_scope, pre ? pre->oauth_scope : NULL);
	c->token_url = pick(p->oauth_token_url, pre ? pre->oauth_token_url : NULL);
	c->revoke_url = pick(p->oauth_revoke_url, pre ? pre->oauth_revoke_url : NULL);
	c->device_url = pick(p->oauth_device_url, pre ? pre->oauth_device_url : NULL);
	c->authorize_url = pick(p->oauth_authorize_url, pre ? pre->oauth_authorize_url : NULL);
	c->secret_command = p->oauth_client_secret_command;
	c->cafile = p->oauth_cafile;
	return c->client_id && c->token_url;
}

bool oauth_configured(const struct shell *sh)
{
	struct oauth_conf c;
	if (!get_conf(sh, &c))
		return false;
	if (!c.practice)
		return true;
	/* the practice server takes passwords too: its tokens are \auth's choice only once
	   \oauth login got one */
	struct stat st;
	char path[PATH_MAX + 32];
	snprintf(path, sizeof path, "%s/%s.json", c.store_dir, c.name);
	return sh->oauth_access || lstat(path, &st) == 0;
}

void oauth_forget(struct shell *sh)
{
	if (sh->oauth_access) {
		OPENSSL_cleanse(sh->oauth_access, strlen(sh->oauth_access));
		free(sh->oauth_access);
	}
	sh->oauth_access = NULL;
	sh->oauth_expires = 0;
}

/* url with "{tenant}" replaced (common when no tenant is set), into out. */
static void expand_tenant(const char *url, const char *tenant, struct buf *out)
{
	buf_reset(out);
	const char *t = strstr(url, "{tenant}");
	if (!t) {
		buf_puts(out, url);
		return;
	}
	buf_printf(out, "%.*s%s%s", (int)(t - url), url, tenant ? tenant : "common", t + 8);
}

/* The request's settings; the client secret (from its command) into *secret. */
static bool make_client(struct shell *sh, const struct oauth_conf *c, struct oauth_client *cl,
			struct buf *token_url, struct buf *cafile, char **secret)
{
	memset(cl, 0, sizeof *cl);
	*secret = NULL;
	expand_tenant(c->token_url, c->tenant, token_url);
	if (c->cafile && paths_expand_home(c->cafile, cafile) < 0) {
		shell_error(sh, "OAuth2: oauth-cafile %s: no home directory known", c->cafile);
		return false;
	}
	if (c->secret_command) {
		char err[512] = "";
		if (cred_from_command(c->secret_command, session_timeout_ms(sh->session), secret,
				      err, sizeof err) != CRED_OK) {
			shell_error(sh, "OAuth2: oauth-client-secret-command: %s",
				    err[0] ? err : "failed");
			return false;
		}
	}
	struct oauth_url u;
	struct buf err;
	buf_init(&err);
	if (oauth_url_parse(token_url->data, &u, &err) < 0) {
		shell_error(sh, "OAuth2: oauth-token-url: %s", err.data);
		buf_free(&err);
		return false;
	}
	buf_free(&err);
	/* a name needs the resolver; an address (a provider on loopback in the tests) does not */
	unsigned char addr[16];
	bool literal =
	    inet_pton(AF_INET, u.host, addr) == 1 || inet_pton(AF_INET6, u.host, addr) == 1;
	cl->dns = literal ? NULL : shell_dns(sh);
	if (!literal && !cl->dns)
		return false;
	cl->token_url = token_url->data;
	cl->client_id = c->client_id;
	cl->client_secret = *secret;
	cl->scope = c->scope;
	cl->cafile = c->cafile ? cafile->data : NULL;
	cl->timeout_ms = session_timeout_ms(sh->session);
	return true;
}

/* Under the store's lock: the stored refresh token, refreshed; a rotated one stored. */
static bool refresh(struct shell *sh, const struct oauth_conf *c, struct oauth_store *st)
{
	struct buf err, token_url, cafile;
	buf_init(&err);
	buf_init(&token_url);
	buf_init(&cafile);
	struct oauth_stored stored = {0};
	struct oauth_token tok = {0};
	char *secret = NULL;
	bool ok = false;
	int r = oauth_store_load(st, c->name, &stored, &err);
	if (r < 0) {
		shell_error(sh, "OAuth2: %s", err.data);
		goto out;
	}
	if (r == 0) {
		shell_error(sh,
			    "OAuth2: no refresh token stored for the profile %s (in %s): \\oauth "
			    "login first, or give a token with --oauth-token-command or "
			    "SMTPSH_OAUTH_TOKEN",
			    c->name, oauth_store_dir(st));
		goto out;
	}
	struct oauth_client cl;
	if (!make_client(sh, c, &cl, &token_url, &cafile, &secret))
		goto out;
	render_info(sh->render, "OAuth2: refreshing the access token at %s", token_url.data);
	r = oauth_refresh(&cl, stored.refresh_token, &tok, &err);
	if (r < 0) {
		shell_error(sh, "OAuth2: %s", err.data);
		goto out;
	}
	if (r == 1) {
		/* RFC 6749 5.2: invalid_grant is a refresh token revoked, expired or for another
		   client; the provider's description says which (escaped by the renderer) */
		shell_error(sh, "OAuth2: the provider refused the stored refresh token (%s%s%s)%s",
			    tok.error, tok.error_description[0] ? ": " : "", tok.error_description,
			    strcmp(tok.error, "invalid_grant") == 0
				? ": it was revoked or has expired; log in again to get a new one"
				: "");
		goto out;
	}
	if (tok.refresh_token && strcmp(tok.refresh_token, stored.refresh_token) != 0) {
		/* rotated (Microsoft rotates on every refresh): the old one may be dead already */
		str_free_secret(stored.refresh_token);
		stored.refresh_token = tok.refresh_token;
		tok.refresh_token = NULL;
		if (tok.scope) {
			free(stored.scope);
			stored.scope = strdup(tok.scope);
		}
		stored.stored = (long long)time(NULL);
		if (oauth_store_save(st, c->name, &stored, &err) < 0) {
			shell_error(sh,
				    "OAuth2: the provider rotated the refresh token but it could "
				    "not be stored: %s",
				    err.data);
			goto out;
		}
		render_info(sh->render, "OAuth2: the provider rotated the refresh token: stored");
	}
	oauth_forget(sh);
	sh->oauth_access = tok.access_token;
	tok.access_token = NULL;
	sh->oauth_expires = tok.expires_in ? (long long)time(NULL) + tok.expires_in : 0;
	if (tok.expires_in)
		render_info(sh->render, "OAuth2: new access token for %s (expires in %ld s%s%s)",
			    stored.account[0] ? stored.account : c->name, tok.expires_in,
			    tok.scope ? "; scope " : "", tok.scope ? tok.scope : "");
	else
		render_info(sh->render, "OAuth2: new access token for %s",
			    stored.account[0] ? stored.account : c->name);
	ok = true;
out:
	str_free_secret(secret);
	oauth_token_free(&tok);
	oauth_stored_free(&stored);
	buf_free(&err);
	buf_free(&token_url);
	buf_free(&cafile);
	return ok;
}

bool oauth_token_for_auth(struct shell *sh, char **token)
{
	struct oauth_conf c;
	*token = NULL;
	if (!get_conf(sh, &c))
		return false;
	long long now = (long long)time(NULL);
	if (sh->oauth_access &&
	    (sh->oauth_expires == 0 || sh->oauth_expires - now > EXPIRY_MARGIN)) {
		*token = strdup(sh->oauth_access);
		if (*token)
			render_info(sh->render, "OAuth2: the access token in memory%s",
				    sh->oauth_expires ? "" : " (no expiry known)");
		return *token != NULL;
	}
	struct buf err;
	buf_init(&err);
	struct oauth_store *st = oauth_store_open(store_dir(&c), &err);
	if (!st || oauth_store_lock(st, STORE_LOCK_MS, &err) < 0) {
		shell_error(sh, "OAuth2: %s", err.data);
		oauth_store_close(st);
		buf_free(&err);
		return false;
	}
	buf_free(&err);
	bool ok = refresh(sh, &c, st);
	oauth_store_close(st); /* drops the lock */
	if (ok)
		*token = strdup(sh->oauth_access);
	return ok && *token;
}

static void cmd_status(struct shell *sh, const struct oauth_conf *c)
{
	struct buf err;
	buf_init(&err);
	struct oauth_store *st = oauth_store_open(store_dir(c), &err);
	if (!st) {
		shell_error(sh, "OAuth2: %s", err.data);
		buf_free(&err);
		return;
	}
	struct oauth_stored t;
	int r = oauth_store_load(st, c->name, &t, &err);
	if (r < 0) {
		shell_error(sh, "OAuth2: %s", err.data);
	} else if (r == 0) {
		render_info(sh->render, "OAuth2 %s: no refresh token stored (in %s)", c->name,
			    oauth_store_dir(st));
	} else {
		char when[64] = "?";
		time_t s = (time_t)t.stored;
		struct tm tm;
		if (t.stored && gmtime_r(&s, &tm))
			strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
		render_info(sh->render, "OAuth2 %s: account %s; scope %s; refresh token stored %s",
			    c->name, t.account[0] ? t.account : "(not known)",
			    t.scope[0] ? t.scope : "(as asked)", when);
		oauth_stored_free(&t);
	}
	long long now = (long long)time(NULL);
	if (!sh->oauth_access)
		render_info(sh->render, "OAuth2 %s: no access token in memory", c->name);
	else if (!sh->oauth_expires)
		render_info(sh->render, "OAuth2 %s: an access token in memory (no expiry known)",
			    c->name);
	else if (sh->oauth_expires > now)
		render_info(sh->render, "OAuth2 %s: an access token in memory, expires in %lld s",
			    c->name, sh->oauth_expires - now);
	else
		render_info(sh->render, "OAuth2 %s: the access token in memory has expired",
			    c->name);
	oauth_store_close(st);
	buf_free(&err);
}

static void cmd_logout(struct shell *sh, const struct oauth_conf *c)
{
	struct buf err;
	buf_init(&err);
	oauth_forget(sh);
	struct oauth_store *st = oauth_store_open(store_dir(c), &err);
	if (!st || oauth_store_lock(st, STORE_LOCK_MS, &err) < 0) {
		shell_error(sh, "OAuth2: %s", err.data);
		oauth_store_close(st);
		buf_free(&err);
		return;
	}
	struct oauth_stored t;
	int r = oauth_store_load(st, c->name, &t, &err);
	if (r == 1 && c->revoke_url) {
		/* RFC 7009: where the provider offers it, the grant itself is revoked */
		struct buf url, cafile;
		buf_init(&url);
		buf_init(&cafile);
		struct oauth_client cl;
		char *secret = NULL;
		struct buf rerr;
		buf_init(&rerr);
		struct buf revoke;
		buf_init(&revoke);
		expand_tenant(c->revoke_url, c->tenant, &revoke);
		if (make_client(sh, c, &cl, &url, &cafile, &secret)) {
			if (oauth_revoke(&cl, revoke.data, t.refresh_token, &rerr) == 0)
				render_info(sh->render, "OAuth2 %s: the grant was revoked at %s",
					    c->name, revoke.data);
			else
				render_warning(sh->render,
					       "OAuth2 %s: revocation failed (%s): the token is "
					       "deleted here all the same",
					       c->name, rerr.data);
		}
		str_free_secret(secret);
		buf_free(&rerr);
		buf_free(&revoke);
		buf_free(&url);
		buf_free(&cafile);
	} else if (r == 1) {
		render_info(sh->render,
			    "OAuth2 %s: the provider offers no revocation endpoint: the grant "
			    "stays valid until it expires or is revoked in the account's settings",
			    c->name);
	}
	if (r == 1)
		oauth_stored_free(&t);
	buf_reset(&err);
	r = oauth_store_remove(st, c->name, &err);
	if (r < 0)
		shell_error(sh, "OAuth2: %s", err.data);
	else
		render_info(sh->render, "OAuth2 %s: %s", c->name,
			    r ? "the stored refresh token was deleted"
			      : "no refresh token was stored");
	oauth_store_close(st);
	buf_free(&err);
}

/* Sleeps ms in steps of 100 ms; false when Ctrl-C came. What the screen holds goes out
   first: in batch mode lines wait in stdio's buffer, and the user needs the code now. */
static bool nap(struct shell *sh, long ms)
{
	render_flush(sh->render);
	for (long slept = 0; slept < ms; slept += 100) {
		if (sh->interrupted && *sh->interrupted)
			return false;
		struct timespec ts = {0, 100 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return !(sh->interrupted && *sh->interrupted);
}

/* The tokens of a finished login: the refresh token stored (under the lock), the access
   token kept in memory. */
static bool keep_tokens(struct shell *sh, const struct oauth_conf *c, struct oauth_token *tok)
{
	oauth_forget(sh);
	sh->oauth_access = tok->access_token;
	tok->access_token = NULL;
	sh->oauth_expires = tok->expires_in ? (long long)time(NULL) + tok->expires_in : 0;
	if (!tok->refresh_token) {
		render_warning(
		    sh->render,
		    "OAuth2 %s: the provider sent no refresh token (is offline_access in "
		    "the scope?): the access token serves this session only",
		    c->name);
		return true;
	}
	struct buf err;
	buf_init(&err);
	struct oauth_stored t = {
	    .account = (char *)(sh->default_user ? sh->default_user : ""),
	    .refresh_token = tok->refresh_token,
	    .scope = (char *)(tok->scope ? tok->scope
			      : c->scope ? c->scope
					 : ""),
	    .stored = (long long)time(NULL),
	};
	struct oauth_store *st = oauth_store_open(store_dir(c), &err);
	bool ok = st && oauth_store_lock(st, STORE_LOCK_MS, &err) == 0 &&
		  oauth_store_save(st, c->name, &t, &err) == 0;
	if (ok)
		render_info(sh->render, "OAuth2 %s: logged in%s%s; refresh token stored in %s",
			    c->name, t.account[0] ? " as " : "", t.account, oauth_store_dir(st));
	else
		shell_error(sh,
			    "OAuth2 %s: logged in, but the refresh token could not be stored: %s",
			    c->name, err.data);
	oauth_store_close(st);
	buf_free(&err);
	return ok;
}

/* The device authorization grant (RFC 8628): show the code, poll until the user said yes. */
static void login_device(struct shell *sh, const struct oauth_conf *c)
{
	struct buf err, token_url, cafile, device_url;
	buf_init(&err);
	buf_init(&token_url);
	buf_init(&cafile);
	buf_init(&device_url);
	struct oauth_device dev = {0};
	struct oauth_token tok = {0};
	char *secret = NULL;
	struct oauth_client cl;
	if (!make_client(sh, c, &cl, &token_url, &cafile, &secret))
		goto out;
	expand_tenant(c->device_url, c->tenant, &device_url);
	int r = oauth_device_start(&cl, device_url.data, &dev, &tok, &err);
	if (r != 0) {
		if (r == 1)
			shell_error(sh, "OAuth2 %s: the device endpoint refused: %s%s%s", c->name,
				    tok.error, tok.error_description[0] ? ": " : "",
				    tok.error_description);
		else
			shell_error(sh, "OAuth2 %s: %s", c->name, err.data);
		goto out;
	}
	render_info(sh->render,
		    "OAuth2 %s: to sign in, open %s and enter the code %s (within %ld s)", c->name,
		    dev.verification_uri, dev.user_code, dev.expires_in);
	if (dev.verification_uri_complete)
		render_info(sh->render, "OAuth2 %s: or open %s", c->name,
			    dev.verification_uri_complete);
	long interval = dev.interval;
	long long deadline = (long long)time(NULL) + dev.expires_in;
	for (;;) {
		if (!nap(sh, interval * 1000)) {
			shell_error(sh, "OAuth2 %s: login interrupted", c->name);
			goto out;
		}
		if ((long long)time(NULL) >= deadline) {
			shell_error(sh,
				    "OAuth2 %s: the code expired before the sign-in: \\oauth login "
				    "again",
				    c->name);
			goto out;
		}
		oauth_token_free(&tok);
		buf_reset(&err);
		r = oauth_device_poll(&cl, dev.device_code, &tok, &err);
		if (r == 0)
			break;
		if (r < 0) {
			shell_error(sh, "OAuth2 %s: %s", c->name, err.data);
			goto out;
		}
		/* RFC 8628 3.5 */
		if (strcmp(tok.error, "authorization_pending") == 0)
			continue;
		if (strcmp(tok.error, "slow_down") == 0) {
			interval += 5;
			render_info(sh->render,
				    "OAuth2 %s: the provider asks to poll more slowly: "
				    "every %ld s",
				    c->name, interval);
			continue;
		}
		const char *what = strcmp(tok.error, "access_denied") == 0
				       ? "the sign-in was declined"
				   : strcmp(tok.error, "expired_token") == 0
				       ? "the code expired before the sign-in: \\oauth login again"
				       : "the provider refused the login";
		shell_error(sh, "OAuth2 %s: %s (%s%s%s)", c->name, what, tok.error,
			    tok.error_description[0] ? ": " : "", tok.error_description);
		goto out;
	}
	keep_tokens(sh, c, &tok);
out:
	str_free_secret(secret);
	oauth_token_free(&tok);
	oauth_device_free(&dev);
	buf_free(&err);
	buf_free(&token_url);
	buf_free(&cafile);
	buf_free(&device_url);
}

#define REDIRECT_WAIT_MS (5 * 60 * 1000) /* time to sign in at the provider */

/* The browser to open: the first entry of $BROWSER (a ':'-separated list, the convention),
   else xdg-open when there is a display; NULL: none (the URL is only printed). Into out. */
static const char *pick_browser(char *out, size_t size)
{
	const char *b = getenv("BROWSER");
	if (b && *b) {
		snprintf(out, size, "%.*s", (int)strcspn(b, ":"), b);
		return out[0] ? out : NULL;
	}
	if ((getenv("DISPLAY") && *getenv("DISPLAY")) ||
	    (getenv("WAYLAND_DISPLAY") && *getenv("WAYLAND_DISPLAY"))) {
		snprintf(out, size, "xdg-open");
		return out;
	}
	return NULL;
}

/* Starts browser url (no shell: the URL is one argument), detached (a grandchild, so no
   zombie is left), its output discarded. */
static bool open_browser(const char *browser, const char *url)
{
	fflush(NULL); /* nothing buffered may be written twice (a child's exit may flush) */
	pid_t pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0) {
		/* /dev/null for both children, before anything else: stdin's file offset is
		   shared with the shell, and a child's exit that syncs stdio (valgrind runs glibc's
		   freeres at _exit) would move it back under the shell's script */
		int null = open("/dev/null", O_RDWR);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
		}
		if (fork() == 0) {
			setsid();
			execlp(browser, browser, url, (char *)NULL);
			_exit(127);
		}
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	return true;
}

/*
 * The authorization code grant with PKCE (RFC 7636) and a one-shot loopback redirect
 * (RFC 8252): the sign-in page opens in the browser, which the provider sends back to
 * http://127.0.0.1:PORT/ with the code; the state is checked; paste: the redirected URL is
 * pasted back instead (the browser runs on another machine: ssh).
 */
static void login_browser(struct shell *sh, const struct oauth_conf *c, bool paste)
{
	struct buf err, token_url, cafile, authz, url, redirect;
	buf_init(&err);
	buf_init(&token_url);
	buf_init(&cafile);
	buf_init(&authz);
	buf_init(&url);
	buf_init(&redirect);
	struct oauth_token tok = {0};
	char *secret = NULL, *code = NULL, *pasted = NULL;
	char verifier[44] = "", challenge[44], state[33], browser[256];
	int fd = -1;
	unsigned port = 0;
	struct oauth_client cl;
	if (!make_client(sh, c, &cl, &token_url, &cafile, &secret))
		goto out;
	if (oauth_pkce(verifier, challenge) < 0 || oauth_state(state) < 0) {
		shell_error(sh, "OAuth2 %s: no random bytes from OpenSSL", c->name);
		goto out;
	}
	fd = oauth_listen(&port, &err);
	if (fd < 0) {
		shell_error(sh, "OAuth2 %s: %s", c->name, err.data);
		goto out;
	}
	buf_printf(&redirect, "http://127.0.0.1:%u/", port);
	expand_tenant(c->authorize_url, c->tenant, &authz);
	if (oauth_authorize_request(authz.data, c->client_id, redirect.data, c->scope, state,
				    challenge, &url) < 0) {
		shell_error(sh, "out of memory");
		goto out;
	}
	const char *b = paste ? NULL : pick_browser(browser, sizeof browser);
	if (b && open_browser(b, url.data))
		render_info(sh->render, "OAuth2 %s: signing in with %s; if no page opens, open: %s",
			    c->name, b, url.data);
	else
		render_info(sh->render, "OAuth2 %s: open this address in a browser and sign in: %s",
			    c->name, url.data);
	int r;
	render_flush(sh->render); /* the address is needed now, also in batch mode */
	if (paste) {
		char perr[256] = "";
		render_info(sh->render,
			    "OAuth2 %s: the browser is then sent to %s..., which fails on another "
			    "machine: copy that address from its address bar",
			    c->name, redirect.data);
		if (cred_prompt("the address the browser was sent to: ", true, &pasted, perr,
				sizeof perr) != CRED_OK) {
			shell_error(sh, "OAuth2 %s: %s", c->name,
				    perr[0] ? perr : "nothing pasted");
			goto out;
		}
		r = oauth_parse_redirect(pasted, state, &code, &tok, &err);
	} else {
		r = oauth_accept_redirect(fd, REDIRECT_WAIT_MS, sh->interrupted, state, &code, &tok,
					  &err);
	}
	if (r == 1) {
		shell_error(sh, "OAuth2 %s: %s (%s%s%s)", c->name,
			    strcmp(tok.error, "access_denied") == 0
				? "the sign-in was declined"
				: "the provider refused the login",
			    tok.error, tok.error_description[0] ? ": " : "", tok.error_description);
		goto out;
	}
	if (r < 0) {
		shell_error(sh, "OAuth2 %s: %s", c->name, err.data);
		goto out;
	}
	render_info(sh->render,
		    "OAuth2 %s: the provider sent a code (state checked); exchanging "
		    "it at %s",
		    c->name, token_url.data);
	buf_reset(&err);
	r = oauth_code_exchange(&cl, code, redirect.data, verifier, &tok, &err);
	if (r != 0) {
		if (r == 1)
			shell_error(sh, "OAuth2 %s: the token endpoint refused the code (%s%s%s)",
				    c->name, tok.error, tok.error_description[0] ? ": " : "",
				    tok.error_description);
		else
			shell_error(sh, "OAuth2 %s: %s", c->name, err.data);
		goto out;
	}
	keep_tokens(sh, c, &tok);
out:
	if (fd >= 0)
		close(fd);
	OPENSSL_cleanse(verifier, sizeof verifier);
	str_free_secret(secret);
	str_free_secret(code);
	str_free_secret(pasted);
	oauth_token_free(&tok);
	buf_free(&err);
	buf_free(&token_url);
	buf_free(&cafile);
	buf_free(&authz);
	buf_free(&url);
	buf_free(&redirect);
}

/* \oauth login [--browser|--device|--paste]: the code flow when the profile has an
   authorize endpoint and a browser can be opened (or --browser), else the device flow where
   offered, else the code flow with the address printed. */
static void cmd_login(struct shell *sh, const struct oauth_conf *c, const char *how)
{
	char browser[256];
	bool device =
	    how ? strcmp(how, "--device") == 0
		: c->device_url && (!c->authorize_url || !pick_browser(browser, sizeof browser));
	if (device) {
		if (!c->device_url) {
			shell_error(sh,
				    "OAuth2 %s: no oauth-device-url (Google does not offer the "
				    "device flow for the Gmail scope)",
				    c->name);
			return;
		}
		login_device(sh, c);
		return;
	}
	if (!c->authorize_url) {
		shell_error(sh, "OAuth2 %s: no oauth-authorize-url", c->name);
		return;
	}
	login_browser(sh, c, how && strcmp(how, "--paste") == 0);
}

void oauth_cmd(struct shell *sh, int argc, char **argv)
{
	struct oauth_conf c;
	bool login = argc >= 2 && strcmp(argv[1], "login") == 0;
	const char *how = login && argc == 3 ? argv[2] : NULL;
	if ((argc != 2 && !(login && argc == 3)) ||
	    (!login && strcmp(argv[1], "status") != 0 && strcmp(argv[1], "logout") != 0) ||
	    (how && strcmp(how, "--browser") != 0 && strcmp(how, "--device") != 0 &&
	     strcmp(how, "--paste") != 0)) {
		shell_error(sh, "usage: \\oauth login [--browser|--device|--paste] | status | "
				"logout");
		return;
	}
	if (!get_conf(sh, &c)) {
		shell_error(
		    sh, "OAuth2: %s",
		    sh->oauth_profile
			? "the profile has no oauth-client-id (your own app registration; see "
			  "docs/oauth.md) or no oauth-token-url"
			: "start smtpsh with a profile that has OAuth2 settings (smtpsh "
			  "PROFILE)");
		return;
	}
	if (strcmp(argv[1], "status") == 0)
		cmd_status(sh, &c);
	else if (login)
		cmd_login(sh, &c, how);
	else
		cmd_logout(sh, &c);
}
