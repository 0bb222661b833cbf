/*
 * Unit tests of the TLS controls (src/conf/tlsctl.c): the one table of names, the values
 * OpenSSL takes or refuses (one line naming the option), what cannot go together, and the
 * words of a failed handshake for each of OpenSSL's reasons and the server's alerts.
 */
#include "smtpsh/tlsctl.h"

#include <string.h>

#include <openssl/ssl.h>

#include "tap.h"

static char err[512];

static bool refused(const char *name, const char *value, const char *words)
{
	struct tls_controls t = {0};
	err[0] = '\0';
	return tls_control_set(&t, name, value, err, sizeof err) < 0 && strstr(err, words) != NULL;
}

static void test_set(void)
{
	struct tls_controls t = {0};
	ok(tls_control_set(&t, "tls-min", "1.0", err, sizeof err) == 0 &&
	       t.min_version == TLS1_VERSION,
	   "--tls-min 1.0");
	ok(tls_control_set(&t, "tls-max", "TLSv1.2", err, sizeof err) == 0 &&
	       t.max_version == TLS1_2_VERSION,
	   "--tls-max TLSv1.2 (Postfix's and OpenSSL's spelling)");
	ok(tls_control_set(&t, "tls-min", "1", err, sizeof err) == 0 &&
	       t.min_version == TLS1_VERSION,
	   "--tls-min 1 is 1.0");
	ok(refused("tls-min", "1.4", "--tls-min takes 1.0, 1.1, 1.2 or 1.3, not '1.4'"),
	   "a version OpenSSL has not: one line");
	ok(refused("tls-max", "SSLv3", "not 'SSLv3'"), "SSLv3 is no choice");
	ok(tls_control_set(&t, "ciphers", "ECDHE-RSA-AES128-GCM-SHA256", err, sizeof err) == 0 &&
	       strcmp(t.ciphers, "ECDHE-RSA-AES128-GCM-SHA256") == 0,
	   "--ciphers: a cipher OpenSSL knows");
	ok(refused("ciphers", "NO-SUCH-CIPHER", "--ciphers: OpenSSL knows no cipher"),
	   "--ciphers: an unknown cipher refused");
	ok(refused("ciphers", "TLS_AES_128_GCM_SHA256", "TLS 1.3 suites go in --ciphersuites"),
	   "--ciphers with a TLS 1.3 suite says where it belongs");
	ok(tls_control_set(&t, "ciphersuites", "TLS_AES_128_GCM_SHA256", err, sizeof err) == 0,
	   "--ciphersuites: a TLS 1.3 suite");
	ok(refused("ciphersuites", "ECDHE-RSA-AES128-SHA", "older ciphers go in --ciphers"),
	   "--ciphersuites with a TLS 1.2 cipher");
	ok(tls_control_set(&t, "groups", "X25519:P-256", err, sizeof err) == 0, "--groups");
	ok(refused("groups", "X25519:P-999", "--groups: OpenSSL knows no group"),
	   "--groups: an unknown group");
	ok(refused("cert", "", "--cert needs a value"), "an empty value");
	ok(tls_control_set(&t, "no-sni", NULL, err, sizeof err) == 0 && t.no_sni, "--no-sni");
	ok(refused("sni", "x", "not a TLS control"), "--sni is the link's, not a control");
	ok(tls_control_arity("cert") == 1 && tls_control_arity("no-sni") == 0 &&
	       tls_control_arity("tls") == -1,
	   "arity: a value, a flag, not a control");
	size_t n = 0;
	for (; tls_control_flags[n]; n++)
		ok(strncmp(tls_control_flags[n], "--", 2) == 0 &&
		       tls_control_arity(tls_control_flags[n] + 2) >= 0,
		   "%s: in the one table", tls_control_flags[n]);
	ok(n == 9, "nine controls");
}

static void test_check(void)
{
	struct tls_controls t = {.min_version = TLS1_3_VERSION, .max_version = TLS1_2_VERSION};
	ok(tls_controls_check(&t, err, sizeof err) < 0 &&
	       strcmp(err, "--tls-min 1.3 is above --tls-max 1.2") == 0,
	   "min above max");
	t = (struct tls_controls){.max_version = TLS1_1_VERSION};
	ok(tls_controls_check(&t, err, sizeof err) < 0 && strstr(err, "add --tls-min 1.1"),
	   "--tls-max below the default lowest says to lower --tls-min");
	t = (struct tls_controls){.key = "k.pem"};
	ok(tls_controls_check(&t, err, sizeof err) < 0 &&
	       strcmp(err, "--key goes with --cert FILE") == 0,
	   "--key without --cert");
	t = (struct tls_controls){.min_version = TLS1_VERSION, .max_version = TLS1_VERSION};
	ok(tls_controls_check(&t, err, sizeof err) == 0, "1.0..1.0 is fine");
	struct tls_controls a = {.ciphers = "HIGH"}, b = {.ciphers = "HIGH"};
	char other[] = "HIGH";
	b.ciphers = other;
	ok(tls_controls_equal(&a, &b), "equal by content");
	b.no_sni = true;
	ok(!tls_controls_equal(&a, &b), "no-sni differs");
}

/* The words for a failure, as one string. */
static struct buf out;

static const char *words(struct tls_failure f, struct tls_controls t)
{
	buf_free(&out);
	buf_init(&out);
	tls_failure_words(&f, &t, &out);
	return out.data ? out.data : "";
}

static void test_words(void)
{
	struct tls_controls none = {0};
	struct tls_failure f = {
	    .alert = -1, .reason = SSL_R_UNSUPPORTED_PROTOCOL, .server_version = TLS1_VERSION};
	is_str(words(f, none),
	       "the server offers no TLS version in 1.2..1.3; it may only speak TLS 1.0: try "
	       "--tls-min 1.0",
	       "the server chose TLS 1.0");
	f = (struct tls_failure){
	    .alert = -1, .reason = SSL_R_UNSUPPORTED_PROTOCOL, .server_version = TLS1_2_VERSION};
	is_str(words(f, (struct tls_controls){.min_version = TLS1_3_VERSION}),
	       "the server offers no TLS version in 1.3..1.3; it may only speak TLS 1.2: try "
	       "--tls-min 1.2",
	       "--tls-min 1.3 and a TLS 1.2 server");
	f = (struct tls_failure){.alert = SSL_AD_PROTOCOL_VERSION,
				 .alert_text = "protocol version",
				 .reason = SSL_R_TLSV1_ALERT_PROTOCOL_VERSION};
	is_str(words(f, none),
	       "the server offers no TLS version in 1.2..1.3 (alert \"protocol version\"); it may "
	       "only speak TLS 1.0 or 1.1: try --tls-min 1.0",
	       "alert protocol_version: an old server");
	is_str(words(f, (struct tls_controls){.max_version = TLS1_2_VERSION}),
	       "the server offers no TLS version in 1.2..1.2 (alert \"protocol version\"); it may "
	       "only speak newer ones: try --tls-max 1.3",
	       "alert protocol_version with --tls-max 1.2: a TLS 1.3-only server");
	f = (struct tls_failure){.alert = SSL_AD_HANDSHAKE_FAILURE,
				 .alert_text = "handshake failure"};
	is_str(words(f, (struct tls_controls){.ciphers = "AES128-SHA"}),
	       "the server sent alert \"handshake failure\": no cipher or group in common with "
	       "--ciphers / --ciphersuites / --groups (try others, or none), or it wants a client "
	       "certificate (--cert FILE --key FILE)",
	       "handshake_failure with --ciphers");
	is_str(words(f, (struct tls_controls){.ciphers = "AES128-SHA", .cert = "c.pem"}),
	       "the server sent alert \"handshake failure\": no cipher or group in common with "
	       "--ciphers / --ciphersuites / --groups (try others, or none)",
	       "with a client certificate, the certificate is not suspected");
	f = (struct tls_failure){.alert = TLS13_AD_CERTIFICATE_REQUIRED,
				 .alert_text = "certificate required"};
	is_str(words(f, none),
	       "the server wants a client certificate (alert \"certificate required\"): give one "
	       "with --cert FILE --key FILE",
	       "certificate_required");
	f = (struct tls_failure){.alert = TLS13_AD_CERTIFICATE_REQUIRED, .alert_text = "unknown"};
	ok(strstr(words(f, none), "(alert \"certificate required\")") != NULL,
	   "TLS 1.3's alert named where OpenSSL 3.0 says \"unknown\"");
	f = (struct tls_failure){.alert = SSL_AD_UNKNOWN_CA, .alert_text = "unknown CA"};
	ok(strstr(words(f, (struct tls_controls){.cert = "c.pem"}),
		  "the server refused our client certificate (alert \"unknown CA\")") != NULL,
	   "unknown_ca with a client certificate");
	f = (struct tls_failure){.alert = -1, .reason = SSL_R_NO_CIPHERS_AVAILABLE};
	ok(strstr(words(f, none), "--ciphers applies to TLS 1.2 and below") != NULL,
	   "no ciphers available");
	f = (struct tls_failure){.alert = -1, .reason = SSL_R_NO_PROTOCOLS_AVAILABLE};
	ok(strstr(words(f, none), "no TLS version can be offered") != NULL,
	   "no protocols available");
	f = (struct tls_failure){.alert = -1, .reason = SSL_R_WRONG_VERSION_NUMBER};
	ok(strstr(words(f, none), "the server did not answer with TLS") != NULL,
	   "wrong version number: not TLS");
	f = (struct tls_failure){.alert = -1, .closed = true};
	ok(strstr(words(f, none), "the server closed the connection during the handshake") != NULL,
	   "closed mid-handshake");
	f = (struct tls_failure){.alert = SSL_AD_DECODE_ERROR, .alert_text = "decode error"};
	ok(strstr(words(f, none), "alert \"decode error\" (an old server may choke") != NULL,
	   "another alert, named");
	f = (struct tls_failure){.alert = -1, .reason = 12345, .reason_text = "strange"};
	is_str(words(f, none), "strange", "anything else in OpenSSL's words");
	buf_free(&out);
}

int main(void)
{
	test_set();
	test_check();
	test_words();
	return done_testing();
}
