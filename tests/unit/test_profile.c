/* Unit tests of the profiles: the built-in presets (no network) and the parser of the profiles
   file (src/conf/profile.c, src/conf/presets.c). */
#include "smtpsh/profile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

/* What each provider documents for mail clients (see smtpsh(1), PROFILES). */
static const struct {
	const char *name, *host, *port;
	enum tls_mode tls;
	const char *note_word; /* the note must say this */
} documented[] = {
    {"office365", "smtp.office365.com", "587", TLS_STARTTLS, "OAuth2"},
    {"outlook", "smtp-mail.outlook.com", "587", TLS_STARTTLS, "OAuth2"},
    {"gmail", "smtp.gmail.com", "587", TLS_STARTTLS, "app password"},
    {"aol", "smtp.aol.com", "465", TLS_IMPLICIT, "app password"},
    {"yahoo", "smtp.mail.yahoo.com", "465", TLS_IMPLICIT, "app password"},
    {"icloud", "smtp.mail.me.com", "587", TLS_STARTTLS, "app-specific password"},
};
#define NDOC (sizeof documented / sizeof documented[0])

static void test_presets(void)
{
	size_t n;
	const struct profile *all = profile_presets(&n);
	is_int(n, NDOC, "%zu presets", NDOC);
	for (size_t i = 0; i < NDOC; i++) {
		const struct profile *p = profile_find(NULL, documented[i].name);
		if (!ok(p != NULL, "preset %s exists", documented[i].name))
			continue;
		is_str(p->host, documented[i].host, "%s: host", p->name);
		is_str(profile_port(p), documented[i].port, "%s: port", p->name);
		is_int(p->tls, documented[i].tls, "%s: TLS mode %s", p->name,
		       profile_tls_name(documented[i].tls));
		ok(p->tls != TLS_NONE, "%s: never plaintext", p->name);
		ok(p->builtin && p->line == 0, "%s: built in", p->name);
		ok(p->note && strstr(p->note, documented[i].note_word), "%s: note says '%s'",
		   p->name, documented[i].note_word);
		ok(p->note && !strchr(p->note, '\n'), "%s: the note is one line", p->name);
		ok(!p->user && !p->password_command && !p->cafile, "%s: no user, no CA file",
		   p->name);
		ok(profile_for_argument(NULL, documented[i].name) == p,
		   "smtpsh %s means the preset", p->name);
		ok(profile_name_valid(all[i].name), "preset name %s is a valid name", all[i].name);
	}
	ok(strstr(profile_find(NULL, "office365")->note, "SMTP AUTH must be enabled") != NULL,
	   "office365: SMTP AUTH must be enabled");
	ok(strstr(profile_find(NULL, "gmail")->note, "465") != NULL, "gmail: mentions 465");
	ok(profile_find(NULL, "hotmail") == NULL, "no preset hotmail");
	ok(profile_for_argument(NULL, "smtp.gmail.com") == NULL, "a domain name is a host");
	ok(profile_for_argument(NULL, "gmail.") == NULL, "a name with a dot is a host");
	ok(profile_for_argument(NULL, "::1") == NULL, "an IPv6 address is a host");
	ok(profile_for_argument(NULL, "localhost") == NULL, "localhost is a host");
}

static int parse(struct profile_set *set, const char *text, unsigned *line, char *err,
		 size_t errlen)
{
	profile_set_init(set);
	return profile_parse(set, text, strlen(text), line, err, errlen);
}

static void test_parse_ok(void)
{
	const char *text = "# my profiles\r\n"
			   "; another comment\n"
			   "\n"
			   "[lab]\n"
			   "  host = 127.0.0.1  \n"
			   "port=2587\n"
			   "tls = starttls\n"
			   "user = alice@example.test\n"
			   "auth = CRAM-MD5\n"
			   "password-command = pass show lab/alice | head -n 1\n"
			   "cafile = ~/lab/ca.pem\n"
			   "ehlo = client.example\n"
			   "timeout = 2.5\n"
			   "ocsp = yes\n"
			   "note = the lab = Postfix\n"
			   "resolver = 127.0.0.1@5353\n"
			   "trust-anchor = ~/lab/trust anchor.key\n"
			   "tls-min = 1.0\n"
			   "ciphers = HIGH:!aNULL\n"
			   "cert = /lab/client.pem\n"
			   "key-password-command = pass show lab/key\n"
			   "no-sni = yes\n"
			   "[gmail]\n"
			   "host = smtp.example.test\n"
			   "tls = tls\n"
			   "[plain_one]\n"
			   "host = mx.example.test\n"
			   "tls = none";
	struct profile_set set;
	unsigned line;
	char err[256];
	if (!ok(parse(&set, text, &line, err, sizeof err) == 0, "a good file parses")) {
		diag("line %u: %s", line, err);
		return;
	}
	is_int(set.n, 3, "three profiles");
	const struct profile *lab = profile_find(&set, "lab");
	ok(lab && !lab->builtin, "lab found");
	if (lab) {
		is_int(lab->line, 4, "lab starts at line 4");
		is_str(lab->host, "127.0.0.1", "host, blanks trimmed");
		is_str(lab->port, "2587", "port");
		is_int(lab->tls, TLS_STARTTLS, "tls = starttls is TLS_STARTTLS");
		is_str(lab->user, "alice@example.test", "user");
		is_str(lab->auth, "CRAM-MD5", "auth");
		is_str(lab->password_command, "pass show lab/alice | head -n 1",
		       "password-command: the rest of the line");
		is_str(lab->cafile, "/home/tester/lab/ca.pem", "cafile: ~/ is the home");
		is_str(lab->tls_min, "1.0", "tls-min as written");
		is_str(lab->ciphers, "HIGH:!aNULL", "ciphers as written");
		is_str(lab->cert, "/lab/client.pem", "cert as written");
		is_str(lab->key_password_command, "pass show lab/key", "key-password-command");
		is_str(lab->no_sni, "yes", "no-sni");
		ok(!lab->key && !lab->tls_max, "the TLS controls not given stay NULL");
		is_str(lab->ehlo, "client.example", "ehlo");
		is_int(lab->timeout_ms, 2500, "timeout in ms");
		ok(lab->ocsp, "ocsp = yes");
		is_str(lab->note, "the lab = Postfix", "note keeps a second '='");
		is_str(lab->resolver, "127.0.0.1@5353", "resolver");
		is_str(lab->trust_anchor, "/home/tester/lab/trust anchor.key",
		       "trust-anchor: ~/ is the home");
	}
	const struct profile *g = profile_find(&set, "gmail");
	ok(g && !g->builtin && strcmp(g->host, "smtp.example.test") == 0,
	   "a profile replaces the preset of its name");
	ok(g && g->tls == TLS_IMPLICIT, "tls = tls is implicit TLS");
	ok(g && !g->ocsp, "no ocsp key: not asked");
	ok(g && strcmp(profile_port(g), "465") == 0, "default port of implicit TLS");
	const struct profile *pl = profile_find(&set, "plain_one");
	ok(pl && pl->tls == TLS_NONE, "tls = none");
	ok(pl && strcmp(profile_port(pl), "25") == 0, "default port without TLS");
	ok(profile_find(&set, "aol") && profile_find(&set, "aol")->builtin,
	   "presets still found beside a set");
	ok(profile_for_argument(&set, "lab") == lab, "smtpsh lab means the profile");
	profile_set_free(&set);
	is_int(set.n, 0, "freed set is empty");

	ok(parse(&set, "", &line, err, sizeof err) == 0 && set.n == 0, "an empty file is fine");
	ok(parse(&set, "[x]\nhost=h\ntls=starttls\n", &line, err, sizeof err) == 0 &&
	       set.items[0].tls == TLS_STARTTLS && !set.items[0].port,
	   "starttls without a port");
	ok(set.n && strcmp(profile_port(&set.items[0]), "587") == 0, "default port of STARTTLS");
	profile_set_free(&set);
}

/* text must fail at line want_line with a message holding want. */
static void bad(const char *text, unsigned want_line, const char *want, const char *what)
{
	struct profile_set set;
	unsigned line = 0;
	char err[256] = "";
	int r = parse(&set, text, &line, err, sizeof err);
	ok(r == -1 && line == want_line && strstr(err, want) && set.n == 0 && !set.items,
	   "%s: line %u, '%s'", what, want_line, want);
	if (r != -1 || line != want_line || !strstr(err, want))
		diag("got r=%d line %u: %s", r, line, err);
	profile_set_free(&set);
}

static void test_parse_errors(void)
{
	bad("host = x\n", 1, "before the first [name]", "key outside a section");
	bad("[a]\nhost = x\nhots = y\n", 3, "unknown key 'hots'", "unknown key");
	bad("[a]\nhost = x\ninsecure = yes\n", 3, "insecure is not allowed",
	    "insecure refused (a footgun)");
	bad("[a]\nhost = x\npassword = hunter2\n", 3, "password-command", "a password is refused");
	bad("[a]\nhost = x\ntls = maybe\n", 3, "none, starttls or tls", "bad tls");
	bad("[a]\nhost = x\nocsp = on\n", 3, "ocsp is yes or no, not 'on'", "bad ocsp");
	bad("[a]\nhost = x\ntls = STARTTLS\n", 3, "none, starttls or tls", "tls is lower case");
	bad("[a]\nhost = x\nport = 0\n", 3, "port is a number", "port 0");
	bad("[a]\nhost = x\nport = 65536\n", 3, "port is a number", "port 65536");
	bad("[a]\nhost = x\nport = smtp\n", 3, "port is a number", "port by name");
	bad("[a]\nhost = x\ntimeout = -1\n", 3, "timeout", "negative timeout");
	bad("[a]\nhost = x\ntimeout = soon\n", 3, "timeout", "timeout not a number");
	bad("[a]\nhost = x\nhost = y\n", 3, "given twice", "a key twice");
	bad("[a]\nhost = x\n[a]\nhost = y\n", 3, "defined twice (first at line 1)",
	    "a profile twice");
	bad("[a]\nport = 25\n[b]\nhost = y\n", 1, "has no host", "no host (next section)");
	bad("[a]\nhost = x\n[b]\nport = 25\n", 3, "has no host", "no host (end of file)");
	bad("[a.b]\nhost = x\n", 1, "dot or colon", "a dot in a name");
	bad("[]\nhost = x\n", 1, "1 to 64", "empty name");
	bad("[a\nhost = x\n", 1, "[NAME]", "unclosed section");
	bad("[a]\nhost x\n", 2, "key = value", "no '='");
	bad("[a]\n= x\n", 2, "key is missing", "no key");
	bad("[a]\nhost =\n", 2, "needs a value", "empty value");
	bad("[a]\nhost = mail example\n", 2, "without blanks", "host with a blank");
	bad("[a]\nhost = x\nehlo = a b\n", 3, "without blanks", "ehlo with a blank");
	bad("[a]\nhost = x\nauth = PLAIN LOGIN\n", 3, "SASL mechanism", "two mechanisms");
	bad("[a]\nhost = x\ntls-min = 0.9\n", 3, "takes 1.0, 1.1, 1.2 or 1.3, not '0.9'",
	    "a TLS version checked as the option is");
	bad("[a]\nhost = x\nciphers = NOPE\n", 3, "OpenSSL knows no cipher", "a cipher list");
	bad("[a]\nhost = x\nno-sni = maybe\n", 3, "no-sni takes yes", "no-sni = yes only");
	bad("[a]\nhost = x\nnote = a\033[2Jb\n", 3, "control character", "an escape in a value");
	struct profile_set set;
	unsigned line;
	char err[128];
	profile_set_init(&set);
	ok(profile_parse(&set, "[a]\nhost = x\0y\n", 13, &line, err, sizeof err) == -1 &&
	       line == 2 && strstr(err, "NUL"),
	   "a NUL byte: line 2");
	profile_set_free(&set);
	char big[200];
	snprintf(big, sizeof big, "[%065d]\nhost=x\n", 0);
	bad(big, 1, "1 to 64", "a name of 65 characters");
}

static void test_oauth(void)
{
	const struct profile *o = profile_find(NULL, "office365"),
			     *l = profile_find(NULL, "outlook"), *g = profile_find(NULL, "gmail");
	is_str(o->oauth_token_url, "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token",
	       "office365: Microsoft identity platform v2 token endpoint");
	is_str(o->oauth_authorize_url,
	       "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize",
	       "office365: authorize endpoint");
	is_str(o->oauth_device_url,
	       "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/devicecode",
	       "office365: device endpoint");
	is_str(o->oauth_tenant, "organizations", "office365: work or school accounts");
	is_str(o->oauth_scope, "https://outlook.office.com/SMTP.Send offline_access",
	       "office365: SMTP.Send and a refresh token");
	is_str(l->oauth_tenant, "consumers", "outlook: personal accounts");
	is_str(l->oauth_scope, o->oauth_scope, "outlook: the same scope");
	is_str(g->oauth_scope, "https://mail.google.com/", "gmail: the Gmail scope");
	is_str(g->oauth_token_url, "https://oauth2.googleapis.com/token", "gmail: token endpoint");
	ok(g->oauth_device_url == NULL, "gmail: no device flow for the Gmail scope");
	is_str(g->oauth_revoke_url, "https://oauth2.googleapis.com/revoke", "gmail: revocation");
	size_t n;
	const struct profile *all = profile_presets(&n);
	for (size_t i = 0; i < n; i++)
		ok(all[i].oauth_client_id == NULL, "%s: no client ID ships", all[i].name);

	const char *text = "[mock]\n"
			   "host = 127.0.0.1\n"
			   "oauth-client-id = smtpsh-test\n"
			   "oauth-tenant = contoso.example\n"
			   "oauth-scope = smtp offline_access\n"
			   "oauth-token-url = https://127.0.0.1:8443/{tenant}/token\n"
			   "oauth-authorize-url = https://127.0.0.1:8443/authorize\n"
			   "oauth-device-url = https://127.0.0.1:8443/device\n"
			   "oauth-revoke-url = https://127.0.0.1:8443/revoke\n"
			   "oauth-client-secret-command = pass show idp/secret\n"
			   "oauth-cafile = ~/lab/idp ca.pem\n";
	struct profile_set set;
	unsigned line;
	char err[256];
	if (!ok(parse(&set, text, &line, err, sizeof err) == 0, "OAuth2 keys parse")) {
		diag("line %u: %s", line, err);
		return;
	}
	const struct profile *m = profile_find(&set, "mock");
	is_str(m->oauth_client_id, "smtpsh-test", "oauth-client-id");
	is_str(m->oauth_tenant, "contoso.example", "oauth-tenant");
	is_str(m->oauth_scope, "smtp offline_access", "oauth-scope: the rest of the line");
	is_str(m->oauth_token_url, "https://127.0.0.1:8443/{tenant}/token", "oauth-token-url");
	is_str(m->oauth_authorize_url, "https://127.0.0.1:8443/authorize", "oauth-authorize-url");
	is_str(m->oauth_device_url, "https://127.0.0.1:8443/device", "oauth-device-url");
	is_str(m->oauth_revoke_url, "https://127.0.0.1:8443/revoke", "oauth-revoke-url");
	is_str(m->oauth_client_secret_command, "pass show idp/secret",
	       "oauth-client-secret-command");
	is_str(m->oauth_cafile, "/home/tester/lab/idp ca.pem", "oauth-cafile: ~/ is the home");
	profile_set_free(&set);
}

/* Every key naming a file takes a leading ~/ as the home directory, the same way (cert and key
   were once read as written, a file called "~" in the working directory). Only "~/": "~user/",
   a "~" elsewhere and the other keys stay as written. */
static void test_home_paths(void)
{
	const char *text = "[c]\n"
			   "host = mx.example\n"
			   "cert = ~/certs/me.pem\n"
			   "key = ~/certs/me.key\n"
			   "cafile = ~other/ca.pem\n"
			   "trust-anchor = /etc/~/ta.key\n"
			   "oauth-cafile = ~/idp.pem\n"
			   "password-command = cat ~/pw\n"
			   "note = ~/not a path\n";
	struct profile_set set;
	unsigned line = 0;
	char err[200] = "";
	ok(parse(&set, text, &line, err, sizeof err) == 0, "home paths parse (%s)", err);
	const struct profile *c = profile_find(&set, "c");
	ok(c != NULL, "profile c");
	if (c) {
		is_str(c->cert, "/home/tester/certs/me.pem", "cert: ~/ is the home");
		is_str(c->key, "/home/tester/certs/me.key", "key: ~/ is the home");
		is_str(c->cafile, "~other/ca.pem", "~user/ is left alone");
		is_str(c->trust_anchor, "/etc/~/ta.key", "a ~ inside a path is left alone");
		is_str(c->oauth_cafile, "/home/tester/idp.pem", "oauth-cafile: ~/ is the home");
		is_str(c->password_command, "cat ~/pw", "a command is not a path");
		is_str(c->note, "~/not a path", "a note is not a path");
	}
	profile_set_free(&set);
}

int main(void)
{
	/* a known home for the ~/ of path keys (the parser reads $HOME) */
	setenv("HOME", "/home/tester", 1);
	test_presets();
	test_parse_ok();
	test_parse_errors();
	test_oauth();
	test_home_paths();
	return done_testing();
}
