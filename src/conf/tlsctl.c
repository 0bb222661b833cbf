/* The TLS controls: one table of names, their values checked, and a failed handshake in words. */
#include "smtpsh/tlsctl.h"

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

const char *const tls_control_flags[] = {
    "--tls-min", "--tls-max", "--ciphers", "--ciphersuites",	     "--groups",
    "--no-sni",	 "--cert",    "--key",	   "--key-password-command", NULL,
};

int tls_control_arity(const char *name)
{
	for (size_t i = 0; tls_control_flags[i]; i++)
		if (strcmp(name, tls_control_flags[i] + 2) == 0)
			return strcmp(name, "no-sni") == 0 ? 0 : 1;
	return -1;
}

static const struct {
	const char *name;
	int version;
} versions[] = {
    {"1.0", TLS1_VERSION},
    {"1.1", TLS1_1_VERSION},
    {"1.2", TLS1_2_VERSION},
    {"1.3", TLS1_3_VERSION},
};
#define VERSIONS (sizeof versions / sizeof versions[0])

const char *tls_version_name(int version)
{
	for (size_t i = 0; i < VERSIONS; i++)
		if (versions[i].version == version)
			return versions[i].name;
	return "?";
}

static int parse_version(const char *v)
{
	/* "TLSv1.2" as OpenSSL and Postfix write it is taken too */
	if (strncmp(v, "TLSv", 4) == 0)
		v += 4;
	if (strcmp(v, "1") == 0)
		v = "1.0";
	for (size_t i = 0; i < VERSIONS; i++)
		if (strcmp(versions[i].name, v) == 0)
			return versions[i].version;
	return 0;
}

/*
 * Does OpenSSL take this list? Asked of a throwaway context, so that a typo is a usage error
 * at once (one line), not a handshake failure later. OpenSSL's setters succeed when at least
 * one name is known (a cipher list) or fail on any unknown name (groups, TLS 1.3 suites).
 */
static bool openssl_takes(const char *what, const char *list)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		return false;
	int ok = 0;
	if (strcmp(what, "ciphers") == 0)
		ok = SSL_CTX_set_cipher_list(ctx, list);
	else if (strcmp(what, "ciphersuites") == 0)
		ok = SSL_CTX_set_ciphersuites(ctx, list);
	else
		ok = SSL_CTX_set1_groups_list(ctx, list);
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return ok == 1;
}

int tls_control_set(struct tls_controls *t, const char *name, const char *value, char *err,
		    size_t errlen)
{
	int arity = tls_control_arity(name);
	if (arity < 0) {
		snprintf(err, errlen, "%s is not a TLS control", name);
		return -1;
	}
	if (arity == 0) {
		t->no_sni = true;
		return 0;
	}
	if (!value || !*value) {
		snprintf(err, errlen, "--%s needs a value", name);
		return -1;
	}
	if (strcmp(name, "tls-min") == 0 || strcmp(name, "tls-max") == 0) {
		int v = parse_version(value);
		if (!v) {
			snprintf(err, errlen, "--%s takes 1.0, 1.1, 1.2 or 1.3, not '%s'", name,
				 value);
			return -1;
		}
		*(name[4] == 'm' && name[5] == 'i' ? &t->min_version : &t->max_version) = v;
		return 0;
	}
	if (strcmp(name, "ciphers") == 0 || strcmp(name, "ciphersuites") == 0 ||
	    strcmp(name, "groups") == 0) {
		if (!openssl_takes(name, value)) {
			snprintf(
			    err, errlen, "--%s: OpenSSL knows no %s in '%s'%s", name,
			    strcmp(name, "groups") == 0 ? "group" : "cipher", value,
			    strcmp(name, "groups") == 0 ? " (e.g. X25519:P-256)"
			    : strcmp(name, "ciphers") == 0
				? " (see openssl ciphers -v 'LIST'; TLS 1.3 suites go in "
				  "--ciphersuites)"
				: " (TLS 1.3 suites, e.g. TLS_AES_128_GCM_SHA256; older ciphers "
				  "go in --ciphers)");
			return -1;
		}
		*(name[0] == 'g'		 ? &t->groups
		  : strcmp(name, "ciphers") == 0 ? &t->ciphers
						 : &t->ciphersuites) = value;
		return 0;
	}
	if (strcmp(name, "cert") == 0)
		t->cert = value;
	else if (strcmp(name, "key") == 0)
		t->key = value;
	else
		t->key_password_command = value;
	return 0;
}

int tls_controls_check(const struct tls_controls *t, char *err, size_t errlen)
{
	if (t->min_version && t->max_version && t->min_version > t->max_version) {
		snprintf(err, errlen, "--tls-min %s is above --tls-max %s",
			 tls_version_name(t->min_version), tls_version_name(t->max_version));
		return -1;
	}
	if (!t->min_version && t->max_version && t->max_version < TLS1_2_VERSION) {
		snprintf(err, errlen,
			 "--tls-max %s is below the lowest version offered (1.2): add --tls-min %s",
			 tls_version_name(t->max_version), tls_version_name(t->max_version));
		return -1;
	}
	if ((t->key || t->key_password_command) && !t->cert) {
		snprintf(err, errlen, "--%s goes with --cert FILE",
			 t->key ? "key" : "key-password-command");
		return -1;
	}
	return 0;
}

static bool same(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

bool tls_controls_equal(const struct tls_controls *a, const struct tls_controls *b)
{
	return a->min_version == b->min_version && a->max_version == b->max_version &&
	       same(a->ciphers, b->ciphers) && same(a->ciphersuites, b->ciphersuites) &&
	       same(a->groups, b->groups) && same(a->cert, b->cert) && same(a->key, b->key) &&
	       same(a->key_password_command, b->key_password_command) && a->no_sni == b->no_sni;
}

/* Alerts about the client's certificate (RFC 8446 6.2): missing, refused, not trusted. */
static bool client_cert_alert(int alert)
{
	switch (alert) {
	case SSL_AD_BAD_CERTIFICATE:
	case SSL_AD_UNSUPPORTED_CERTIFICATE:
	case SSL_AD_CERTIFICATE_REVOKED:
	case SSL_AD_CERTIFICATE_EXPIRED:
	case SSL_AD_CERTIFICATE_UNKNOWN:
	case SSL_AD_UNKNOWN_CA:
	case SSL_AD_ACCESS_DENIED:
	case TLS13_AD_CERTIFICATE_REQUIRED:
		return true;
	}
	return false;
}

void tls_failure_words(const struct tls_failure *f, const struct tls_controls *t, struct buf *out)
{
	int lo = t->min_version ? t->min_version : TLS1_2_VERSION;
	int hi = t->max_version ? t->max_version : TLS1_3_VERSION;
	const char *lo_s = tls_version_name(lo), *hi_s = tls_version_name(hi);
	const char *alert = f->alert_text ? f->alert_text : "?";
	/* OpenSSL 3.0 names no TLS 1.3 alert: SSL_alert_desc_string_long says "unknown" */
	if (f->alert == TLS13_AD_CERTIFICATE_REQUIRED)
		alert = "certificate required";
	else if (f->alert == TLS13_AD_MISSING_EXTENSION)
		alert = "missing extension";
	bool lists = t->ciphers || t->ciphersuites || t->groups;

	/* The server chose a version we do not offer (its ServerHello says which). */
	if (f->reason == SSL_R_UNSUPPORTED_PROTOCOL ||
	    (f->server_version && (f->server_version < lo || f->server_version > hi) &&
	     f->server_version <= TLS1_3_VERSION)) {
		buf_printf(out, "the server offers no TLS version in %s..%s", lo_s, hi_s);
		if (f->server_version && f->server_version < lo)
			buf_printf(out, "; it may only speak TLS %s: try --tls-min %s",
				   tls_version_name(f->server_version),
				   tls_version_name(f->server_version));
		else if (f->server_version && f->server_version > hi)
			buf_printf(out, "; it chose TLS %s: try --tls-max %s",
				   tls_version_name(f->server_version),
				   tls_version_name(f->server_version));
		else
			buf_puts(out, ": try --tls-min 1.0 (an old server)");
		return;
	}
	if (f->reason == SSL_R_NO_PROTOCOLS_AVAILABLE) {
		buf_printf(out,
			   "no TLS version can be offered in %s..%s (check --tls-min and "
			   "--tls-max)",
			   lo_s, hi_s);
		return;
	}
	if (f->reason == SSL_R_NO_CIPHERS_AVAILABLE) {
		buf_printf(out,
			   "no cipher of ours can be used with TLS %s..%s: --ciphers applies to "
			   "TLS 1.2 and below, --ciphersuites to TLS 1.3",
			   lo_s, hi_s);
		return;
	}
	if (f->reason == SSL_R_NO_SHARED_CIPHER) {
		buf_puts(out, "no cipher in common with the server: try other --ciphers / "
			      "--ciphersuites (or none)");
		return;
	}
	if (f->reason == SSL_R_WRONG_VERSION_NUMBER) {
		buf_puts(out, "wrong version number (the server did not answer with TLS: is this "
			      "the port for --tls, or for --starttls?)");
		return;
	}
	if (f->alert == SSL_AD_PROTOCOL_VERSION) {
		/* The server refused our ClientHello's versions: it speaks only others. */
		buf_printf(out, "the server offers no TLS version in %s..%s (alert \"%s\")", lo_s,
			   hi_s, alert);
		if (hi < TLS1_3_VERSION)
			buf_printf(out, "; it may only speak newer ones: try --tls-max 1.3");
		else if (lo > TLS1_2_VERSION)
			buf_printf(out, "; it may only speak TLS 1.2: try --tls-min 1.2");
		else if (lo > TLS1_VERSION)
			buf_printf(out, "; it may only speak TLS 1.0 or 1.1: try --tls-min 1.0");
		return;
	}
	if (f->alert == SSL_AD_HANDSHAKE_FAILURE || f->alert == SSL_AD_INSUFFICIENT_SECURITY) {
		buf_printf(out, "the server sent alert \"%s\": ", alert);
		if (lists)
			buf_puts(out,
				 "no cipher or group in common with --ciphers / --ciphersuites "
				 "/ --groups (try others, or none)");
		else
			buf_printf(out,
				   "no cipher or group in common in TLS %s..%s (an old server? "
				   "try --tls-min 1.0)",
				   lo_s, hi_s);
		if (!t->cert)
			buf_puts(out,
				 ", or it wants a client certificate (--cert FILE --key FILE)");
		return;
	}
	if (f->alert >= 0 && client_cert_alert(f->alert)) {
		if (t->cert)
			buf_printf(
			    out,
			    "the server refused our client certificate (alert \"%s\"): is it "
			    "from a CA the server trusts, and still valid?",
			    alert);
		else
			buf_printf(out,
				   "the server wants a client certificate (alert \"%s\"): give one "
				   "with --cert FILE --key FILE",
				   alert);
		return;
	}
	if (f->alert >= 0) {
		buf_printf(out, "the server sent alert \"%s\"", alert);
		if (f->alert == SSL_AD_DECODE_ERROR || f->alert == SSL_AD_ILLEGAL_PARAMETER)
			buf_puts(out, " (an old server may choke on TLS 1.3's hello: try --tls-max "
				      "1.2)");
		return;
	}
	if (f->closed) {
		buf_printf(out,
			   "the server closed the connection during the handshake (it may "
			   "accept none of TLS %s..%s or of our ciphers: try --tls-min 1.0, or "
			   "--tls-max 1.2)",
			   lo_s, hi_s);
		return;
	}
	buf_puts(out, f->reason_text ? f->reason_text : "error");
}

void tls_controls_overlay(struct tls_controls *t, const struct tls_controls *over)
{
	if (over->min_version)
		t->min_version = over->min_version;
	if (over->max_version)
		t->max_version = over->max_version;
	const char **dst[] = {&t->ciphers, &t->ciphersuites, &t->groups,
			      &t->cert,	   &t->key,	     &t->key_password_command};
	const char *const src[] = {over->ciphers, over->ciphersuites, over->groups,
				   over->cert,	  over->key,	      over->key_password_command};
	for (size_t i = 0; i < sizeof src / sizeof src[0]; i++)
		if (src[i])
			*dst[i] = src[i];
	t->no_sni = t->no_sni || over->no_sni;
}
