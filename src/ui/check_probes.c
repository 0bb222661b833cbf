/*
 * The checks of --check: each opens its own connection (probe_open), speaks through the
 * session, and judges by the replies. The registry (defs) says what each group sends; the
 * plan printed before the run is made from it.
 */
#include "smtpsh/check.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/ocsp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "check_int.h"
#include "smtpsh/caps.h"

/* The sender and the outside recipient of the relay and parameter probes: RFC 2606 names,
   which no real mailbox can have. */
#define CHECK_FROM "check@example.org"
#define CHECK_OUTSIDE "check@example.com"

/* TLS for the probes that need no plaintext phase: TLS from the first byte on a 465-like
   port, else STARTTLS when the server offered it, else plaintext. */
static enum tls_mode tx_mode(const struct check_ctx *x)
{
	if (x->o->implicit_tls)
		return TLS_IMPLICIT;
	return x->seen.starttls ? TLS_STARTTLS : TLS_NONE;
}

static enum tls_mode plain_mode(const struct check_ctx *x)
{
	return x->o->implicit_tls ? TLS_IMPLICIT : TLS_NONE;
}

static bool ok2(int code)
{
	return code >= 200 && code <= 299;
}

static void copy_auth(const struct smtp_caps *c, char *out, size_t n)
{
	const struct smtp_cap *a = caps_find(c, "AUTH");
	snprintf(out, n, "%s", a ? a->params : "");
}

/* ---- greeting and EHLO ------------------------------------------------------------------ */

#define SENDS_GREETING "connects, EHLO, QUIT"

/* Is the first word of the EHLO reply a domain or an address literal (RFC 5321 4.1.1.1)? */
static bool ehlo_name_ok(const char *g)
{
	if (!g || !*g)
		return false;
	size_t n = strcspn(g, " ");
	if (g[0] == '[')
		return g[n - 1] == ']';
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)g[i]) && g[i] != '.' && g[i] != '-')
			return false;
	return true;
}

static void run_greeting(struct check_ctx *x, size_t arg)
{
	struct probe p;
	enum session_status st = probe_open(&p, x, plain_mode(x), false);
	int code = p.s ? session_greeting_code(p.s) : 0;
	if (st != SESSION_OK && !code) {
		probe_undecided(&p, "connection", "greeting", SENDS_GREETING, st);
		probe_close(&p);
		return;
	}
	if (code != 220) {
		probe_verdict(&p, "connection", "greeting", SENDS_GREETING, CHECK_FAIL,
			      code ? "greeting %d: the server does not take mail from us"
				   : "malformed greeting",
			      code);
		probe_close(&p);
		return;
	}
	x->seen.greeted = true;
	if (p.greet_ms > 5000)
		probe_verdict(&p, "connection", "greeting", SENDS_GREETING, CHECK_WARN,
			      "220 after %ld ms (slow: clients wait, some give up)", p.greet_ms);
	else
		probe_verdict(&p, "connection", "greeting", SENDS_GREETING, CHECK_PASS,
			      "220 in %ld ms", p.greet_ms);

	struct smtp_reply r;
	smtp_reply_init(&r);
	char line[300];
	snprintf(line, sizeof line, "EHLO %s", x->o->ehlo_name);
	probe_mark(&p);
	st = probe_cmd(&p, line, &r);
	if (st != SESSION_OK) {
		probe_undecided(&p, "smtp", "ehlo", SENDS_GREETING, st);
	} else if (!ok2(r.code)) {
		probe_verdict(&p, "smtp", "ehlo", SENDS_GREETING, CHECK_FAIL, "EHLO refused (%d)",
			      r.code);
	} else {
		const struct smtp_caps *c = session_caps(p.s);
		x->seen.ehlo_ok = true;
		x->seen.starttls = caps_has(c, "STARTTLS");
		copy_auth(c, x->seen.auth_plain, sizeof x->seen.auth_plain);
		struct buf names;
		buf_init(&names);
		for (size_t i = 0; i < c->n; i++)
			buf_printf(&names, "%s%s", i ? " " : "", c->items[i].name);
		if (ehlo_name_ok(c->greeting))
			probe_verdict(&p, "smtp", "ehlo", SENDS_GREETING, CHECK_PASS,
				      "250, %zu capabilities: %s", c->n,
				      names.len ? names.data : "none");
		else
			probe_verdict(&p, "smtp", "ehlo", SENDS_GREETING, CHECK_WARN,
				      "the EHLO reply does not start with a domain (RFC 5321 "
				      "4.1.1.1); capabilities: %s",
				      names.len ? names.data : "none");
		buf_free(&names);
		p.grep = "STARTTLS";
		if (x->o->implicit_tls)
			probe_verdict(&p, "tls", "starttls-offered", SENDS_GREETING, CHECK_INFO,
				      "implicit TLS (RFC 8314): STARTTLS is not needed");
		else if (x->seen.starttls)
			probe_verdict(&p, "tls", "starttls-offered", SENDS_GREETING, CHECK_PASS,
				      "STARTTLS offered");
		else
			probe_verdict(&p, "tls", "starttls-offered", SENDS_GREETING, CHECK_FAIL,
				      "STARTTLS not offered: mail and logins cross the network in "
				      "plaintext");
	}
	smtp_reply_free(&r);
	probe_close(&p);
}

/* ---- TLS: protocol, cipher, certificate, OCSP ------------------------------------------- */

#define SENDS_TLS "EHLO, STARTTLS, a TLS handshake (asking for OCSP stapling), EHLO, QUIT"

/* A finding of the TLS probe: its evidence is the line of the handshake's description that
   holds grep ("protocol:", "verified:"...). */
__attribute__((format(printf, 5, 6))) static void tls_finding(struct probe *p, const char *grep,
							      const char *name,
							      enum check_verdict v, const char *fmt,
							      ...)
{
	p->grep = grep;
	va_list ap;
	va_start(ap, fmt);
	probe_vverdict(p, "tls", name, SENDS_TLS, v, fmt, ap);
	va_end(ap);
}

static void tls_cert_findings(struct probe *p, SSL *ssl)
{
	struct check_ctx *x = p->x;
	X509 *cert = SSL_get0_peer_certificate(ssl);
	if (!cert) {
		probe_verdict(p, "tls", "certificate", SENDS_TLS, CHECK_FAIL,
			      "the server sent no certificate");
		return;
	}
	if (session_tls_verified(p->s))
		tls_finding(p, "verified:", "certificate-trust", CHECK_PASS,
			    "the chain verifies to a trusted root");
	else
		tls_finding(p, "verified:", "certificate-trust", CHECK_FAIL, "not trusted: %s",
			    X509_verify_cert_error_string(SSL_get_verify_result(ssl)));

	/* the names: OpenSSL's matching (RFC 6125), an IP literal against the IP SANs; the
	   name TLS checks is the MX host's under --check --mx (sni), not the address */
	const char *name = x->o->sni ? x->o->sni : x->o->host;
	int named = X509_check_ip_asc(cert, name, 0);
	if (named < 0)
		named = X509_check_host(cert, name, 0, 0, NULL);
	if (named == 1)
		tls_finding(p, "names:", "certificate-name", CHECK_PASS, "the certificate names %s",
			    name);
	else
		tls_finding(p, "names:", "certificate-name", CHECK_FAIL,
			    "the certificate does not name %s", name);

	int days = 0, secs = 0;
	if (!ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(cert)))
		tls_finding(p, "valid:", "certificate-expiry", CHECK_UNDECIDED,
			    "could not be decided: unreadable notAfter");
	else if (days < 0 || (days == 0 && secs < 0))
		tls_finding(p, "valid:", "certificate-expiry", CHECK_FAIL, "expired %d days ago",
			    -days);
	else if (X509_cmp_current_time(X509_get0_notBefore(cert)) > 0)
		tls_finding(p, "valid:", "certificate-expiry", CHECK_FAIL, "not valid yet");
	else if (days < 14)
		tls_finding(p, "valid:", "certificate-expiry", CHECK_WARN, "expires in %d day%s",
			    days, days == 1 ? "" : "s");
	else
		tls_finding(p, "valid:", "certificate-expiry", CHECK_PASS, "expires in %d day%s",
			    days, days == 1 ? "" : "s");

	EVP_PKEY *key = X509_get0_pubkey(cert);
	int bits = key ? EVP_PKEY_get_bits(key) : 0;
	const char *kind = key ? EVP_PKEY_get0_type_name(key) : NULL;
	bool rsa_like = kind && (strcmp(kind, "RSA") == 0 || strcmp(kind, "DSA") == 0);
	if (!key)
		tls_finding(p, "key:", "certificate-key", CHECK_UNDECIDED,
			    "could not be decided: unreadable key");
	else if ((rsa_like && bits < 2048) || (!rsa_like && bits < 224))
		tls_finding(p, "key:", "certificate-key", CHECK_FAIL, "%s key of %d bits: too weak",
			    kind ? kind : "?", bits);
	else
		tls_finding(p, "key:", "certificate-key", CHECK_PASS, "%s key of %d bits",
			    kind ? kind : "?", bits);

	int md = NID_undef, pk = NID_undef;
	int signid = X509_get_signature_nid(cert);
	OBJ_find_sigid_algs(signid, &md, &pk);
	const char *signame = OBJ_nid2ln(signid);
	if (md == NID_md5 || md == NID_sha1 || md == NID_md4 || md == NID_md2)
		tls_finding(p, "signature:", "certificate-signature", CHECK_FAIL,
			    "signed with %s: a broken hash", signame ? signame : "?");
	else
		tls_finding(p, "signature:", "certificate-signature", CHECK_PASS, "signed with %s",
			    signame ? signame : "?");
}

static void run_tls(struct check_ctx *x, size_t arg)
{
	if (!x->o->implicit_tls && !x->seen.starttls) {
		check_add(x, "tls", "tls", SENDS_TLS, CHECK_SKIPPED,
			  x->seen.ehlo_ok ? "no STARTTLS: nothing to check"
					  : "no EHLO reply: STARTTLS unknown");
		return;
	}
	struct probe p;
	enum session_status st =
	    probe_open(&p, x, x->o->implicit_tls ? TLS_IMPLICIT : TLS_STARTTLS, true);
	SSL *ssl = st == SESSION_OK ? session_ssl(p.s) : NULL;
	if (!ssl) {
		probe_undecided(&p, "tls", "tls-handshake", SENDS_TLS, st);
		probe_close(&p);
		return;
	}
	probe_mark(&p);
	struct buf d;
	buf_init(&d);
	session_describe_tls(p.s, &d);
	render_text(&p.render, d.data);
	buf_free(&d);
	copy_auth(session_caps(p.s), x->seen.auth_tls, sizeof x->seen.auth_tls);
	x->seen.auth_tls_known = session_caps(p.s)->known;

	int version = SSL_version(ssl);
	if (version >= TLS1_3_VERSION)
		tls_finding(&p, "protocol:", "tls13", CHECK_PASS, "TLS 1.3 negotiated");
	else
		tls_finding(&p, "protocol:", "tls13", CHECK_WARN,
			    "TLS 1.3 not negotiated (%s): the server does not support it",
			    SSL_get_version(ssl));

	const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
	int bits = c ? SSL_CIPHER_get_bits(c, NULL) : 0;
	const char *cname = c ? SSL_CIPHER_get_name(c) : "?";
	int kx = c ? SSL_CIPHER_get_kx_nid(c) : NID_undef;
	if (bits < 128 || strstr(cname, "RC4") || strstr(cname, "DES") || strstr(cname, "NULL") ||
	    strstr(cname, "EXP"))
		tls_finding(&p, "cipher:", "cipher", CHECK_FAIL,
			    "the server chose %s (%d bits): weak", cname, bits);
	else if (kx == NID_kx_rsa)
		tls_finding(&p, "cipher:", "cipher", CHECK_WARN,
			    "the server chose %s: RSA key exchange, no forward secrecy", cname);
	else
		tls_finding(&p, "cipher:", "cipher", CHECK_PASS,
			    "the server chose %s (%d bits) from smtpsh's offer", cname, bits);

	tls_cert_findings(&p, ssl);

	const unsigned char *resp = NULL;
	long len = SSL_get_tlsext_status_ocsp_resp(ssl, &resp);
	if (len > 0 && resp)
		tls_finding(&p, "ocsp", "ocsp-stapling", CHECK_PASS,
			    "an OCSP response is stapled (%ld bytes)", len);
	else
		tls_finding(&p, "ocsp", "ocsp-stapling", CHECK_INFO,
			    "no OCSP response stapled (RFC 6066 8)");
	probe_close(&p);
}

/* ---- TLS: what the server accepts beyond smtpsh's own offer ------------------------------ */

#define SENDS_TLSOLD                                                                               \
	"per probe: EHLO, STARTTLS, a handshake offering only TLS 1.0, only TLS 1.1, or only "     \
	"weak cipher suites (NULL, anonymous, EXPORT, LOW, RC4, DES, 3DES) at OpenSSL "            \
	"security level 0 (--tls-min/--tls-max/--ciphers), EHLO, QUIT"

/*
 * The session offers what smtpsh trusts (TLS 1.2 and 1.3, OpenSSL's default suites); what the
 * server would also accept is asked with the TLS controls (tlsctl.h): a connection whose
 * STARTTLS handshake offers only the old version or the weak suites. 1 accepted (the TLS line
 * says with what), 0 refused (the session's words for the failure in got), -1 undecided.
 */
static int tls_offer(struct probe *p, struct check_ctx *x, int version, const char *ciphers,
		     char *got, size_t n)
{
	struct tls_controls ctl = {
	    .min_version = version ? version : TLS1_VERSION,
	    .max_version = version ? version : TLS1_2_VERSION,
	    .ciphers = ciphers,
	};
	enum session_status st = probe_open_tls(p, x, TLS_STARTTLS, &ctl);
	if (st == SESSION_OK && session_tls(p->s)) {
		struct buf line;
		buf_init(&line);
		session_tls_summary(p->s, &line);
		snprintf(got, n, "%.*s", (int)strcspn(line.data ? line.data : "", ","),
			 line.data ? line.data : "");
		buf_free(&line);
		return 1;
	}
	if (st == SESSION_ERR_TLS && p->s) {
		snprintf(got, n, "%s", session_error(p->s));
		return 0;
	}
	return -1;
}

static void job_tls_old(struct check_ctx *x, size_t which)
{
	static const struct {
		const char *name;
		int version;
		const char *ciphers;
	} probes[] = {
	    {"tls10", TLS1_VERSION, "DEFAULT:@SECLEVEL=0"},
	    {"tls11", TLS1_1_VERSION, "DEFAULT:@SECLEVEL=0"},
	    {"weak-ciphers", 0, "aNULL:eNULL:EXPORT:LOW:RC4:DES:3DES:MD5:@SECLEVEL=0"},
	};
	const char *name = probes[which].name;
	if (x->o->implicit_tls || !x->seen.starttls) {
		check_add(x, "tls", name, SENDS_TLSOLD, CHECK_SKIPPED,
			  x->o->implicit_tls ? "implicit TLS: not probed yet" : "no STARTTLS");
		return;
	}
	struct probe p;
	char got[256] = "";
	int r = tls_offer(&p, x, probes[which].version, probes[which].ciphers, got, sizeof got);
	if (r < 0)
		probe_undecided(&p, "tls", name, SENDS_TLSOLD, SESSION_OK);
	else if (which == 2 && r)
		probe_verdict(&p, "tls", name, SENDS_TLSOLD, CHECK_FAIL,
			      "a weak cipher suite is accepted: %s", got);
	else if (which == 2)
		probe_verdict(&p, "tls", name, SENDS_TLSOLD, CHECK_PASS,
			      "no weak cipher suite is accepted (%s)", got);
	else if (r)
		probe_verdict(&p, "tls", name, SENDS_TLSOLD, CHECK_WARN,
			      "%s is accepted (%s): deprecated by RFC 8996",
			      which ? "TLS 1.1" : "TLS 1.0", got);
	else
		probe_verdict(&p, "tls", name, SENDS_TLSOLD, CHECK_PASS, "%s is refused (%s)",
			      which ? "TLS 1.1" : "TLS 1.0", got);
	probe_close(&p);
}

/* ---- AUTH ------------------------------------------------------------------------------ */

#define SENDS_AUTH                                                                                 \
	"EHLO, AUTH PLAIN without initial response, then * to cancel at a 334 (no user, no "       \
	"password), QUIT"

static void run_auth(struct check_ctx *x, size_t arg)
{
	bool sub = x->o->role == CHECK_ROLE_SUBMISSION;
	if (x->o->implicit_tls) {
		check_add(x, "auth", "plaintext-auth", SENDS_AUTH, CHECK_INFO,
			  "implicit TLS: there is no plaintext phase to log in");
	} else {
		struct probe p;
		enum session_status st = probe_open(&p, x, TLS_NONE, false);
		size_t ehlo = probe_mark(&p);
		if (st == SESSION_OK)
			st = probe_ehlo(&p);
		probe_mark(&p);
		struct smtp_reply r;
		smtp_reply_init(&r);
		if (st == SESSION_OK)
			st = probe_cmd(&p, "AUTH PLAIN", &r);
		if (st != SESSION_OK) {
			probe_undecided(&p, "auth", "plaintext-auth", SENDS_AUTH, st);
		} else if (r.code == 334) {
			/* RFC 4954 4: "*" cancels the exchange, nothing was given */
			session_command(p.s, "*", NULL, NULL);
			probe_verdict(&p, "auth", "plaintext-auth", SENDS_AUTH, CHECK_FAIL,
				      "334 to AUTH before TLS: the server would take a password "
				      "in plaintext");
		} else {
			probe_verdict(&p, "auth", "plaintext-auth", SENDS_AUTH, CHECK_PASS,
				      "AUTH refused before TLS (%d)", r.code);
		}
		if (st == SESSION_OK && x->seen.starttls) {
			p.mark = ehlo;
			p.grep = "AUTH";
			if (!x->seen.auth_plain[0])
				probe_verdict(&p, "auth", "auth-after-starttls", SENDS_AUTH,
					      CHECK_PASS, "AUTH is not offered before STARTTLS");
			else
				probe_verdict(&p, "auth", "auth-after-starttls", SENDS_AUTH,
					      sub ? CHECK_WARN : CHECK_INFO,
					      "AUTH %s offered before STARTTLS (RFC 8314 3.3: "
					      "only over TLS)",
					      x->seen.auth_plain);
		}
		smtp_reply_free(&r);
		probe_close(&p);
	}
	if (sub && x->seen.auth_tls_known && !x->seen.auth_tls[0])
		check_add(x, "auth", "mechanisms", SENDS_AUTH, CHECK_WARN,
			  "no AUTH under TLS on a submission port (before TLS: %s)",
			  x->seen.auth_plain[0] ? x->seen.auth_plain : "none");
	else
		check_add(x, "auth", "mechanisms", SENDS_AUTH, CHECK_INFO,
			  "before TLS: %s; under TLS: %s",
			  x->seen.auth_plain[0] ? x->seen.auth_plain : "none",
			  !x->seen.auth_tls_known ? "not seen"
			  : x->seen.auth_tls[0]	  ? x->seen.auth_tls
						  : "none");
}

/* ---- STARTTLS command injection (CVE-2011-0411, server side) ---------------------------- */

#define SENDS_INJECT "EHLO, STARTTLS and NOOP in one write, TLS handshake, EHLO, NOOP, QUIT"

static void run_injection(struct check_ctx *x, size_t arg)
{
	if (x->o->implicit_tls || !x->seen.starttls) {
		check_add(x, "tls", "starttls-injection", SENDS_INJECT, CHECK_SKIPPED,
			  x->o->implicit_tls ? "implicit TLS: no STARTTLS" : "no STARTTLS");
		return;
	}
	struct probe p;
	enum session_status st = probe_open(&p, x, TLS_NONE, false);
	if (st == SESSION_OK)
		st = probe_ehlo(&p);
	struct smtp_reply r;
	smtp_reply_init(&r);
	probe_mark(&p);
	if (st == SESSION_OK)
		st = session_command_payload(p.s, "STARTTLS", "NOOP\r\n", 6, &r);
	if (st == SESSION_OK && r.code != 220) {
		snprintf(p.why, sizeof p.why, "STARTTLS refused (%d)", r.code);
		st = SESSION_ERR_STATE;
	}
	if (st == SESSION_OK && !session_tls(p.s)) {
		snprintf(p.why, sizeof p.why, "no TLS after 220");
		st = SESSION_ERR_TLS;
	}
	if (st == SESSION_OK) {
		/* a vulnerable server answers the NOOP it buffered in plaintext now, inside TLS */
		probe_listen(&p, 300);
		char line[300];
		snprintf(line, sizeof line, "EHLO %s", x->o->ehlo_name);
		st = probe_cmd(&p, line, NULL);
		if (st == SESSION_OK)
			st = probe_cmd(&p, "NOOP", NULL);
	}
	if (p.tls_unsolicited)
		probe_verdict(&p, "tls", "starttls-injection", SENDS_INJECT, CHECK_FAIL,
			      "the NOOP sent in plaintext with STARTTLS was answered inside TLS "
			      "(CVE-2011-0411: commands can be injected into the TLS session)");
	else if (st != SESSION_OK)
		probe_undecided(&p, "tls", "starttls-injection", SENDS_INJECT, st);
	else if (p.discarded)
		probe_verdict(&p, "tls", "starttls-injection", SENDS_INJECT, CHECK_WARN,
			      "the NOOP was answered in plaintext after 220 to STARTTLS "
			      "(not inside TLS, but the server read past STARTTLS)");
	else
		probe_verdict(&p, "tls", "starttls-injection", SENDS_INJECT, CHECK_PASS,
			      "the NOOP sent with STARTTLS was discarded, not answered inside "
			      "TLS");
	smtp_reply_free(&r);
	probe_close(&p);
}

/* ---- open relay ---------------------------------------------------------------------- */

#define SENDS_RELAY                                                                                \
	"EHLO, [STARTTLS], MAIL FROM:<" CHECK_FROM ">, RCPT TO:<" CHECK_OUTSIDE                    \
	"> without AUTH, RSET (never DATA), QUIT"

static void run_relay(struct check_ctx *x, size_t arg)
{
	struct probe p;
	enum session_status st = probe_open(&p, x, tx_mode(x), false);
	if (st == SESSION_OK)
		st = probe_ehlo(&p);
	probe_mark(&p);
	struct smtp_reply r;
	smtp_reply_init(&r);
	if (st == SESSION_OK)
		st = probe_cmd(&p, "MAIL FROM:<" CHECK_FROM ">", &r);
	if (st != SESSION_OK || (r.code >= 400 && r.code < 500)) {
		if (st == SESSION_OK)
			snprintf(p.why, sizeof p.why, "MAIL refused for now (%d)", r.code);
		probe_undecided(&p, "relay", "open-relay", SENDS_RELAY, st);
	} else if (!ok2(r.code)) {
		probe_verdict(&p, "relay", "open-relay", SENDS_RELAY, CHECK_PASS,
			      "MAIL refused without AUTH (%d): nothing can be relayed", r.code);
	} else {
		st = probe_cmd(&p, "RCPT TO:<" CHECK_OUTSIDE ">", &r);
		int code = r.code;
		if (st == SESSION_OK)
			probe_cmd(&p, "RSET", NULL);
		if (st != SESSION_OK)
			probe_undecided(&p, "relay", "open-relay", SENDS_RELAY, st);
		else if (ok2(code))
			probe_verdict(&p, "relay", "open-relay", SENDS_RELAY, CHECK_FAIL,
				      "RCPT to example.com accepted without AUTH (%d): an open "
				      "relay",
				      code);
		else if (code >= 400 && code < 500)
			probe_verdict(&p, "relay", "open-relay", SENDS_RELAY, CHECK_WARN,
				      "RCPT to example.com refused only for now (%d)", code);
		else
			probe_verdict(&p, "relay", "open-relay", SENDS_RELAY, CHECK_PASS,
				      "RCPT to example.com refused (%d)", code);
	}
	smtp_reply_free(&r);
	probe_close(&p);
}

/* ---- user enumeration ---------------------------------------------------------------- */

#define SENDS_USERS                                                                                \
	"EHLO, [STARTTLS], VRFY of --check-rcpt (else postmaster), VRFY of a made-up user in "     \
	"its domain, EXPN postmaster; with --check-rcpt MAIL, RCPT of both, RSET; QUIT"

static void run_users(struct check_ctx *x, size_t arg)
{
	struct probe p;
	enum session_status st = probe_open(&p, x, tx_mode(x), false);
	if (st == SESSION_OK)
		st = probe_ehlo(&p);
	struct smtp_reply r;
	smtp_reply_init(&r);
	int known = 0, unknown = 0, expn = 0;
	probe_mark(&p);
	/* a mailbox that exists (--check-rcpt's, else postmaster, which every server has:
	   RFC 5321 4.5.1) against a made-up one in the same domain */
	const char *rcpt = x->o->check_rcpt;
	const char *at = rcpt ? strrchr(rcpt, '@') : NULL;
	char line[600];
	snprintf(line, sizeof line, "VRFY %s", rcpt ? rcpt : "postmaster");
	if (st == SESSION_OK && (st = probe_cmd(&p, line, &r)) == SESSION_OK)
		known = r.code;
	snprintf(line, sizeof line, "VRFY smtpsh-no-such-user-%08lx%s",
		 (unsigned long)(conn_now_ms() & 0xffffffff), at ? at : "");
	if (st == SESSION_OK && (st = probe_cmd(&p, line, &r)) == SESSION_OK)
		unknown = r.code;
	/* 550, 551, 553: no such mailbox (RFC 5321 4.2.2); 554 and 5.7.x are policy */
	bool told = unknown == 550 || unknown == 551 || unknown == 553;
	if (st != SESSION_OK)
		probe_undecided(&p, "users", "vrfy", SENDS_USERS, st);
	else if (ok2(known) && told)
		probe_verdict(&p, "users", "vrfy", SENDS_USERS, CHECK_FAIL,
			      "VRFY tells an existing user (%d) from an unknown one (%d): user "
			      "enumeration",
			      known, unknown);
	else if (known == 250 || known == 251)
		probe_verdict(&p, "users", "vrfy", SENDS_USERS, CHECK_WARN,
			      "VRFY confirms users (%d), an unknown one got %d", known, unknown);
	else
		probe_verdict(&p, "users", "vrfy", SENDS_USERS, CHECK_PASS,
			      "VRFY does not tell users apart (%d, %d)", known, unknown);
	probe_mark(&p);
	if (st == SESSION_OK && (st = probe_cmd(&p, "EXPN postmaster", &r)) == SESSION_OK)
		expn = r.code;
	if (st != SESSION_OK)
		probe_undecided(&p, "users", "expn", SENDS_USERS, st);
	else if (ok2(expn))
		probe_verdict(&p, "users", "expn", SENDS_USERS, CHECK_WARN,
			      "EXPN expands addresses (%d)", expn);
	else
		probe_verdict(&p, "users", "expn", SENDS_USERS, CHECK_PASS,
			      "EXPN expands nothing (%d)", expn);
	/* RCPT: with --check-rcpt, that mailbox against a made-up one of its domain (then
	   RSET: no DATA). Most servers tell them apart here, and should (a 550 at RCPT spares
	   bounces to forged senders): information, not a fault */
	if (st == SESSION_OK && rcpt && at) {
		probe_mark(&p);
		int mail = 0, yes = 0, no = 0;
		snprintf(line, sizeof line, "MAIL FROM:<%s>", rcpt);
		if ((st = probe_cmd(&p, line, &r)) == SESSION_OK)
			mail = r.code;
		snprintf(line, sizeof line, "RCPT TO:<%s>", rcpt);
		if (st == SESSION_OK && ok2(mail) && (st = probe_cmd(&p, line, &r)) == SESSION_OK)
			yes = r.code;
		snprintf(line, sizeof line, "RCPT TO:<smtpsh-no-such-user-%08lx%s>",
			 (unsigned long)(conn_now_ms() & 0xffffffff), at);
		if (st == SESSION_OK && ok2(mail) && (st = probe_cmd(&p, line, &r)) == SESSION_OK)
			no = r.code;
		if (st == SESSION_OK)
			probe_cmd(&p, "RSET", NULL);
		if (st != SESSION_OK)
			probe_undecided(&p, "users", "rcpt", SENDS_USERS, st);
		else if (!ok2(mail))
			probe_verdict(&p, "users", "rcpt", SENDS_USERS, CHECK_SKIPPED,
				      "MAIL refused (%d): RCPT cannot be tried", mail);
		else
			probe_verdict(&p, "users", "rcpt", SENDS_USERS, CHECK_INFO,
				      "RCPT %s the existing user (%d) from a made-up one (%d)%s",
				      ok2(yes) != ok2(no) ? "tells" : "does not tell", yes, no,
				      ok2(yes) != ok2(no) ? " (usual recipient validation)" : "");
	}
	smtp_reply_free(&r);
	probe_close(&p);
}

/* ---- the protocol: PIPELINING, SIZE, 8BITMIME, SMTPUTF8, bare LF, long lines ------------ */

#define SENDS_PROTO                                                                                \
	"EHLO, [STARTTLS], RSET RSET NOOP in one write, MAIL FROM with SIZE= over the limit, "     \
	"MAIL FROM with BODY=8BITMIME and SMTPUTF8 (each followed by RSET), QUIT"

/* MAIL with a parameter, then RSET; the MAIL reply's code (0: failure, *st says). */
static int mail_with(struct probe *p, const char *param, enum session_status *st)
{
	struct smtp_reply r;
	smtp_reply_init(&r);
	char line[300];
	snprintf(line, sizeof line, "MAIL FROM:<%s>%s%s", CHECK_FROM, *param ? " " : "", param);
	int code = 0;
	*st = probe_cmd(p, line, &r);
	if (*st == SESSION_OK) {
		code = r.code;
		*st = probe_cmd(p, "RSET", NULL);
	}
	smtp_reply_free(&r);
	return code;
}

static void judge_param(struct probe *p, const char *name, const char *cap, const char *param,
			int base)
{
	enum session_status st;
	bool has = caps_has(session_caps(p->s), cap);
	probe_mark(p);
	int code = mail_with(p, param, &st);
	if (st != SESSION_OK)
		probe_undecided(p, "smtp", name, SENDS_PROTO, st);
	else if (!ok2(base))
		probe_verdict(p, "smtp", name, SENDS_PROTO, CHECK_SKIPPED,
			      "MAIL is refused without AUTH (%d): %s cannot be tried", base, cap);
	else if (has && !ok2(code))
		probe_verdict(p, "smtp", name, SENDS_PROTO, CHECK_FAIL,
			      "%s is advertised but MAIL with %s is refused (%d)", cap, param,
			      code);
	else if (!has && ok2(code))
		probe_verdict(p, "smtp", name, SENDS_PROTO, CHECK_WARN,
			      "%s is not advertised but MAIL with %s is accepted (%d)", cap, param,
			      code);
	else
		probe_verdict(p, "smtp", name, SENDS_PROTO, has ? CHECK_PASS : CHECK_INFO,
			      "%s %s, MAIL with %s %s (%d)", cap,
			      has ? "advertised" : "not advertised", param,
			      ok2(code) ? "accepted" : "refused", code);
}

static void run_protocol(struct check_ctx *x, size_t arg)
{
	struct probe p;
	enum session_status st = probe_open(&p, x, tx_mode(x), false);
	if (st == SESSION_OK)
		st = probe_ehlo(&p);
	if (st != SESSION_OK) {
		probe_undecided(&p, "smtp", "pipelining", SENDS_PROTO, st);
		probe_close(&p);
		return;
	}
	const struct smtp_caps *c = session_caps(p.s);
	size_t ehlo = p.mark;
	probe_mark(&p);
	if (!caps_has(c, "PIPELINING")) {
		p.mark = ehlo;
		probe_verdict(&p, "smtp", "pipelining", SENDS_PROTO, CHECK_INFO,
			      "PIPELINING not advertised (RFC 2920)");
	} else {
		const char *lines[] = {"RSET", "RSET", "NOOP"};
		struct smtp_reply rep[3];
		for (int i = 0; i < 3; i++)
			smtp_reply_init(&rep[i]);
		st = session_pipeline(p.s, lines, NULL, 3, rep);
		if (st != SESSION_OK)
			probe_undecided(&p, "smtp", "pipelining", SENDS_PROTO, st);
		else if (ok2(rep[0].code) && ok2(rep[1].code) && ok2(rep[2].code))
			probe_verdict(&p, "smtp", "pipelining", SENDS_PROTO, CHECK_PASS,
				      "three commands in one write, three replies in order");
		else
			probe_verdict(&p, "smtp", "pipelining", SENDS_PROTO, CHECK_FAIL,
				      "PIPELINING advertised, but the replies to a pipelined "
				      "group were %d %d %d",
				      rep[0].code, rep[1].code, rep[2].code);
		for (int i = 0; i < 3; i++)
			smtp_reply_free(&rep[i]);
		if (st != SESSION_OK) {
			probe_close(&p);
			return;
		}
	}

	probe_mark(&p);
	int base = mail_with(&p, "", &st);
	if (st != SESSION_OK) {
		probe_undecided(&p, "smtp", "size", SENDS_PROTO, st);
		probe_close(&p);
		return;
	}
	unsigned long long limit = 0;
	if (caps_size(c, &limit) < 0 || limit == 0) {
		probe_verdict(&p, "smtp", "size", SENDS_PROTO, CHECK_INFO,
			      "no SIZE limit advertised (RFC 1870)");
	} else if (!ok2(base)) {
		probe_verdict(&p, "smtp", "size", SENDS_PROTO, CHECK_SKIPPED,
			      "MAIL is refused without AUTH (%d): SIZE cannot be tried", base);
	} else {
		char param[64];
		snprintf(param, sizeof param, "SIZE=%llu", limit + 1);
		int code = mail_with(&p, param, &st);
		if (st != SESSION_OK)
			probe_undecided(&p, "smtp", "size", SENDS_PROTO, st);
		else if (ok2(code))
			probe_verdict(&p, "smtp", "size", SENDS_PROTO, CHECK_FAIL,
				      "SIZE %llu advertised, but MAIL with %s accepted (%d)", limit,
				      param, code);
		else if (code >= 500)
			probe_verdict(&p, "smtp", "size", SENDS_PROTO, CHECK_PASS,
				      "MAIL with %s over the advertised %llu refused (%d)", param,
				      limit, code);
		else
			probe_verdict(&p, "smtp", "size", SENDS_PROTO, CHECK_WARN,
				      "MAIL with %s over the advertised %llu refused only for "
				      "now (%d)",
				      param, limit, code);
	}
	if (st == SESSION_OK)
		judge_param(&p, "8bitmime", "8BITMIME", "BODY=8BITMIME", base);
	if (session_connected(p.s))
		judge_param(&p, "smtputf8", "SMTPUTF8", "SMTPUTF8", base);
	probe_close(&p);
}

/* ---- CHUNKING: BDAT exercised (RFC 3030) ------------------------------------------------ */

#define SENDS_CHUNKING                                                                             \
	"EHLO, [STARTTLS]; with --check-rcpt and CHUNKING only: two messages to that address, "    \
	"one as BDAT n LAST, one as BDAT n then BDAT m LAST, each followed by NOOP; QUIT"

/*
 * One message to --check-rcpt in BDAT chunks (1 or 2), then NOOP. Every chunk is owed one
 * reply and NOOP one (RFC 3030 2: a chunk is exactly its octets, no reply in between); a
 * server that counts the octets otherwise than announced answers some of them as a command
 * (more replies than were due) or waits for octets that never come (no reply). Returns the
 * verdict, with what happened in why.
 */
static enum check_verdict chunked_message(struct probe *p, int chunks, enum session_status *st,
					  char *why, size_t whylen)
{
	const char *rcpt = p->x->o->check_rcpt;
	struct smtp_reply r;
	smtp_reply_init(&r);
	char line[600];
	enum check_verdict v = CHECK_PASS;
	snprintf(line, sizeof line, "MAIL FROM:<%s>", rcpt);
	if ((*st = probe_cmd(p, line, &r)) == SESSION_OK && !ok2(r.code)) {
		snprintf(p->why, sizeof p->why, "MAIL refused (%d)", r.code);
		*st = SESSION_ERR_STATE;
	}
	snprintf(line, sizeof line, "RCPT TO:<%s>", rcpt);
	if (*st == SESSION_OK && (*st = probe_cmd(p, line, &r)) == SESSION_OK && !ok2(r.code)) {
		snprintf(p->why, sizeof p->why, "RCPT refused (%d)", r.code);
		*st = SESSION_ERR_STATE;
	}
	struct buf msg;
	buf_init(&msg);
	buf_printf(&msg,
		   "From: <%s>\r\nTo: <%s>\r\nSubject: smtpsh --check chunking: %s\r\n\r\n"
		   "This message tests that the server reads BDAT chunks by their octet count.\r\n",
		   rcpt, rcpt, chunks == 1 ? "one chunk (BDAT LAST)" : "two chunks");
	/* the two-chunk message splits inside a line: octets, not lines (RFC 3030 2) */
	size_t cut = chunks == 1 ? msg.len : msg.len / 2;
	int codes[2] = {0, 0};
	p->counting = true;
	p->nreplies = 0;
	for (int i = 0; i < chunks && *st == SESSION_OK; i++) {
		size_t off = i ? cut : 0, len = i ? msg.len - cut : cut;
		bool last = i == chunks - 1;
		*st = session_bdat_begin(p->s, len, last);
		if (*st == SESSION_OK)
			*st = session_bdat_write(p->s, msg.data + off, len);
		if (*st == SESSION_OK)
			*st = session_bdat_end(p->s, &r);
		if (*st == SESSION_OK)
			codes[i] = r.code;
		if (*st == SESSION_OK && !ok2(r.code)) {
			v = CHECK_FAIL;
			snprintf(why, whylen,
				 "CHUNKING advertised, but BDAT %zu%s was refused (%d)", len,
				 last ? " LAST" : "", r.code);
			break;
		}
	}
	size_t due = (size_t)chunks + 1;
	if (*st == SESSION_OK && v == CHECK_PASS) {
		*st = probe_cmd(p, "NOOP", &r);
		/* replies the server owes nobody come after NOOP's: wait for them a little */
		if (*st == SESSION_OK)
			probe_listen(p, 300);
	}
	p->counting = false;
	if (v == CHECK_PASS && (*st == SESSION_OK || p->closed) && p->nreplies > due) {
		v = CHECK_FAIL;
		snprintf(why, whylen,
			 "%zu replies came where %zu were due: the server did not read the chunk "
			 "as exactly its announced octets (RFC 3030 2)",
			 p->nreplies, due);
		*st = SESSION_OK;
	} else if (v == CHECK_PASS && *st == SESSION_OK && !ok2(r.code)) {
		v = CHECK_FAIL;
		snprintf(why, whylen,
			 "NOOP after the message got %d: the server is out of step after BDAT",
			 r.code);
	} else if (v == CHECK_PASS && *st == SESSION_OK) {
		if (chunks == 1)
			snprintf(why, whylen, "BDAT %zu LAST got %d", msg.len, codes[0]);
		else
			snprintf(why, whylen, "BDAT %zu got %d, BDAT %zu LAST %d", cut, codes[0],
				 msg.len - cut, codes[1]);
	}
	buf_free(&msg);
	smtp_reply_free(&r);
	return v;
}

static void run_chunking(struct check_ctx *x, size_t arg)
{
	struct probe p;
	enum session_status st = probe_open(&p, x, tx_mode(x), false);
	if (st == SESSION_OK)
		st = probe_ehlo(&p);
	if (st != SESSION_OK) {
		probe_undecided(&p, "smtp", "chunking", SENDS_CHUNKING, st);
		probe_close(&p);
		return;
	}
	bool has = caps_has(session_caps(p.s), "CHUNKING");
	if (!has || !x->o->check_rcpt) {
		p.grep = "CHUNKING";
		probe_verdict(&p, "smtp", "chunking", SENDS_CHUNKING, CHECK_INFO,
			      "CHUNKING %s; BDAT not exercised (%s)",
			      has ? "advertised" : "not advertised",
			      has ? "it needs a message accepted by the server: give --check-rcpt "
				    "ADDRESS"
				  : "RFC 3030");
		probe_close(&p);
		return;
	}
	probe_mark(&p);
	char one[256] = "", two[256] = "";
	enum check_verdict v = chunked_message(&p, 1, &st, one, sizeof one);
	if (st == SESSION_OK && v == CHECK_PASS)
		v = chunked_message(&p, 2, &st, two, sizeof two);
	if (st != SESSION_OK)
		probe_undecided(&p, "smtp", "chunking", SENDS_CHUNKING, st);
	else if (v != CHECK_PASS)
		probe_verdict(&p, "smtp", "chunking", SENDS_CHUNKING, v, "%s", two[0] ? two : one);
	else
		probe_verdict(&p, "smtp", "chunking", SENDS_CHUNKING, CHECK_PASS,
			      "CHUNKING advertised and honoured: %s; %s; NOOP after each in step",
			      one, two);
	probe_close(&p);
}

#define SENDS_BARELF "EHLO, [STARTTLS], \"NOOP\" ended by a bare LF, NOOP, QUIT"

static void run_bare_lf(struct check_ctx *x, size_t arg)
{
	struct probe p;
	enum session_status st = probe_open(&p, x, tx_mode(x), false);
	if (st == SESSION_OK)
		st = probe_ehlo(&p);
	probe_mark(&p);
	if (st == SESSION_OK) {
		p.counting = true;
		st = session_raw(p.s, "NOOP\n", 5, false);
	}
	if (st == SESSION_OK)
		probe_listen(&p, 1000);
	p.counting = false;
	size_t n = p.nreplies;
	int first = n ? p.replies[0] : 0;
	if (st != SESSION_OK)
		probe_undecided(&p, "smtp", "bare-lf", SENDS_BARELF, st);
	else if (n && ok2(first))
		/* RFC 5321 2.3.8 wants CRLF, but many servers take a bare LF in a command
		   and are safe; the danger is a bare LF ending the data, which only the
		   smuggling checks (a real message) can show */
		probe_verdict(&p, "smtp", "bare-lf", SENDS_BARELF, CHECK_INFO,
			      "a command ended by a bare LF was answered %d (tolerated in "
			      "commands; whether it ends the data, the smuggling checks tell)",
			      first);
	else if (n)
		probe_verdict(&p, "smtp", "bare-lf", SENDS_BARELF, CHECK_PASS,
			      "a command ended by a bare LF was refused (%d)", first);
	else if (p.closed || !session_connected(p.s))
		probe_verdict(&p, "smtp", "bare-lf", SENDS_BARELF, CHECK_PASS,
			      "the server hung up on a bare LF");
	else {
		/* no answer in a second: the server waits for CRLF; NOOP ends the line */
		struct smtp_reply r;
		smtp_reply_init(&r);
		st = probe_cmd(&p, "NOOP", &r);
		if (st == SESSION_OK || p.closed)
			probe_verdict(&p, "smtp", "bare-lf", SENDS_BARELF, CHECK_PASS,
				      "a bare LF does not end a command (the server waited for "
				      "CRLF)");
		else
			probe_undecided(&p, "smtp", "bare-lf", SENDS_BARELF, st);
		smtp_reply_free(&r);
	}
	probe_close(&p);
}

#define SENDS_LONG "EHLO, [STARTTLS], NOOP with 1100 octets of argument, NOOP, QUIT"

static void run_long_line(struct check_ctx *x, size_t arg)
{
	struct probe p;
	enum session_status st = probe_open(&p, x, tx_mode(x), false);
	if (st == SESSION_OK)
		st = probe_ehlo(&p);
	char line[1200];
	memcpy(line, "NOOP ", 5);
	memset(line + 5, 'x', 1100);
	line[1105] = '\0';
	probe_mark(&p);
	struct smtp_reply r;
	smtp_reply_init(&r);
	if (st == SESSION_OK)
		st = probe_cmd(&p, line, &r);
	int code = r.code;
	if (st == SESSION_OK)
		st = probe_cmd(&p, "NOOP", &r);
	if (st == SESSION_OK)
		probe_verdict(&p, "smtp", "long-line", SENDS_LONG, CHECK_PASS,
			      "a 1105-octet command line got %d and the session went on (RFC "
			      "5321 4.5.3.1.4 allows 512; longer may be refused)",
			      code);
	else if (p.closed && code)
		probe_verdict(&p, "smtp", "long-line", SENDS_LONG, CHECK_WARN,
			      "the server closed the connection after a 1105-octet command "
			      "line (%d)",
			      code);
	else
		probe_undecided(&p, "smtp", "long-line", SENDS_LONG, st);
	smtp_reply_free(&r);
	probe_close(&p);
}

/* ---- SMTP smuggling (end-of-data variants) ---------------------------------------------- */

#define SENDS_SMUGGLE                                                                              \
	"with --check-rcpt only: per variant one message to that address (MAIL, RCPT, DATA), "     \
	"its body holding the variant then NOOP, then CRLF.CRLF, QUIT"

static const struct {
	const char *name;
	const char *bytes;
	size_t len;
	const char *shown;
} variants[] = {
    {"smuggling-lf-dot-lf", "\n.\n", 3, "\\n.\\n"},
    {"smuggling-lf-dot-crlf", "\n.\r\n", 4, "\\n.\\r\\n"},
    {"smuggling-cr-dot-cr", "\r.\r", 3, "\\r.\\r"},
    {"smuggling-crlf-dot-cr", "\r\n.\r", 4, "\\r\\n.\\r"},
    {"smuggling-cr-dot-crlf", "\r.\r\n", 4, "\\r.\\r\\n"},
    {"smuggling-crlf-nul-dot-crlf", "\r\n\0.\r\n", 6, "\\r\\n\\0.\\r\\n"},
};

static void run_smuggle_one(struct check_ctx *x, size_t i)
{
	const char *name = variants[i].name;
	struct probe p;
	enum session_status st = probe_open(&p, x, tx_mode(x), false);
	if (st == SESSION_OK)
		st = probe_ehlo(&p);
	probe_mark(&p);
	struct smtp_reply r;
	smtp_reply_init(&r);
	char line[600];
	snprintf(line, sizeof line, "MAIL FROM:<%s>", x->o->check_rcpt);
	if (st == SESSION_OK && (st = probe_cmd(&p, line, &r)) == SESSION_OK && !ok2(r.code)) {
		snprintf(p.why, sizeof p.why, "MAIL refused (%d)", r.code);
		st = SESSION_ERR_STATE;
	}
	snprintf(line, sizeof line, "RCPT TO:<%s>", x->o->check_rcpt);
	if (st == SESSION_OK && (st = probe_cmd(&p, line, &r)) == SESSION_OK && !ok2(r.code)) {
		snprintf(p.why, sizeof p.why, "RCPT refused (%d)", r.code);
		st = SESSION_ERR_STATE;
	}
	if (st == SESSION_OK && (st = probe_cmd(&p, "DATA", &r)) == SESSION_OK && r.code != 354) {
		snprintf(p.why, sizeof p.why, "DATA refused (%d)", r.code);
		st = SESSION_ERR_STATE;
	}
	if (st == SESSION_OK) {
		struct buf body;
		buf_init(&body);
		buf_printf(&body,
			   "From: <%s>\r\nTo: <%s>\r\nSubject: smtpsh --check smuggling variant "
			   "%zu: %s\r\n\r\nThis message tests whether the server ends the data at "
			   "%s (it must not).\r\nbefore",
			   x->o->check_rcpt, x->o->check_rcpt, i + 1, variants[i].shown,
			   variants[i].shown);
		buf_append(&body, variants[i].bytes, variants[i].len);
		buf_puts(&body, "NOOP\r\nafter\r\n");
		p.counting = true;
		st = session_raw(p.s, body.data, body.len, false);
		buf_free(&body);
	}
	if (st == SESSION_OK)
		st = session_data_end(p.s, &r);
	p.counting = false;
	int endcode = r.code;
	if (p.nreplies > 1)
		probe_verdict(&p, "smuggling", name, SENDS_SMUGGLE, CHECK_FAIL,
			      "%s ended the data: %zu replies came where one was due (SMTP "
			      "smuggling)",
			      variants[i].shown, p.nreplies);
	else if (st == SESSION_OK && ok2(endcode))
		probe_verdict(&p, "smuggling", name, SENDS_SMUGGLE, CHECK_PASS,
			      "%s stayed in the message; only CRLF.CRLF ended it (%d)",
			      variants[i].shown, endcode);
	else if ((st == SESSION_OK && endcode >= 500) || (p.nreplies == 1 && p.replies[0] >= 500))
		probe_verdict(&p, "smuggling", name, SENDS_SMUGGLE, CHECK_PASS,
			      "the message with %s was refused (%d)", variants[i].shown,
			      endcode ? endcode : p.replies[0]);
	else
		probe_undecided(&p, "smuggling", name, SENDS_SMUGGLE, st);
	smtp_reply_free(&r);
	probe_close(&p);
}

static void run_smuggling(struct check_ctx *x)
{
	if (!x->o->check_rcpt) {
		check_add(x, "smuggling", "smuggling", SENDS_SMUGGLE, CHECK_SKIPPED,
			  "needs a message accepted by the server: give --check-rcpt ADDRESS (a "
			  "mailbox you own)");
		return;
	}
	for (size_t i = 0; i < sizeof variants / sizeof *variants; i++)
		run_smuggle_one(x, i);
}

/* ---- the registry --------------------------------------------------------------------- */

static void job_smuggle(struct check_ctx *x, size_t arg)
{
	if (x->o->check_rcpt)
		run_smuggle_one(x, arg);
	else
		run_smuggling(x);
}

#define NVARIANTS (sizeof variants / sizeof *variants)

/* In order: the plan lists them so, the report keeps their findings so. The "first" ones run
   alone, one after the other (the greeting's EHLO says whether STARTTLS is offered, the TLS
   probe which AUTH mechanisms come under TLS); the others are independent, run in parallel. */
static const struct check_def defs[] = {
    {"connection", "greeting ehlo starttls-offered", SENDS_GREETING, run_greeting, 1, true},
    {"tls",
     "tls13 cipher certificate-trust certificate-name certificate-expiry certificate-key "
     "certificate-signature ocsp-stapling",
     SENDS_TLS, run_tls, 1, true},
    {"tls", "tls10 tls11 weak-ciphers", SENDS_TLSOLD, job_tls_old, 3, false},
    {"auth", "plaintext-auth auth-after-starttls mechanisms", SENDS_AUTH, run_auth, 1, false},
    {"tls", "starttls-injection", SENDS_INJECT, run_injection, 1, false},
    {"relay", "open-relay", SENDS_RELAY, run_relay, 1, false},
    {"users", "vrfy expn", SENDS_USERS, run_users, 1, false},
    {"smtp", "pipelining size 8bitmime smtputf8", SENDS_PROTO, run_protocol, 1, false},
    {"smtp", "chunking", SENDS_CHUNKING, run_chunking, 1, false},
    {"smtp", "bare-lf", SENDS_BARELF, run_bare_lf, 1, false},
    {"smtp", "long-line", SENDS_LONG, run_long_line, 1, false},
    {"smuggling", "smuggling-*", SENDS_SMUGGLE, job_smuggle, NVARIANTS, false},
};

const struct check_def *check_defs(size_t *n)
{
	*n = sizeof defs / sizeof *defs;
	return defs;
}

void check_probes_run(struct check_ctx *x)
{
	struct check_job jobs[32];
	size_t n = 0;
	for (size_t d = 0; d < sizeof defs / sizeof *defs; d++) {
		if (x->o->intr && *x->o->intr)
			return;
		if (defs[d].first) {
			defs[d].run(x, 0);
			/* a server that does not greet with 220 gets no more connections:
			   nothing more can be decided */
			if (!x->seen.greeted)
				return;
			continue;
		}
		/* the smuggling variants are one job each, only with --check-rcpt */
		size_t count = defs[d].run == job_smuggle && !x->o->check_rcpt ? 1 : defs[d].jobs;
		for (size_t i = 0; i < count && n < sizeof jobs / sizeof *jobs; i++)
			jobs[n++] = (struct check_job){defs[d].run, i};
	}
	check_run_parallel(x, jobs, n);
}
