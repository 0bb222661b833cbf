/*
 * Unit tests of the certificate view (src/net/tls_chain.c, tls_describe in src/net/tls.c):
 * certificates made here with OpenSSL (a CA, a leaf, hostile and expired ones), a handshake in
 * memory (a BIO pair) for the chain the "server" sends, and \tls save into a temporary folder.
 */
#include "smtpsh/tls_chain.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "smtpsh/tls.h"
#include "tap.h"

struct san {
	int type; /* GEN_DNS or GEN_IPADD */
	const char *data;
	size_t len; /* 0: strlen */
};

/* A certificate for key, signed by issuer_key (NULL: itself), valid from now+from_s until
   now+until_s seconds. */
static X509 *make_cert(EVP_PKEY *key, const char *cn, size_t cnlen, X509 *issuer,
		       EVP_PKEY *issuer_key, long from_s, long until_s, const struct san *sans,
		       size_t nsans, bool ca)
{
	X509 *x = X509_new();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(random() & 0x7fffffff));
	X509_gmtime_adj(X509_getm_notBefore(x), from_s);
	X509_gmtime_adj(X509_getm_notAfter(x), until_s);
	X509_set_pubkey(x, key);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"Test Lab", -1,
				   -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, (int)cnlen,
				   -1, 0);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
	if (ca) {
		X509_EXTENSION *e =
		    X509V3_EXT_conf_nid(NULL, NULL, NID_basic_constraints, "critical,CA:TRUE");
		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
		e = X509V3_EXT_conf_nid(NULL, NULL, NID_key_usage, "critical,keyCertSign,cRLSign");
		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
	}
	if (nsans) {
		GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
		for (size_t i = 0; i < nsans; i++) {
			GENERAL_NAME *gn = GENERAL_NAME_new();
			if (sans[i].type == GEN_IPADD) {
				GENERAL_NAME_set0_value(gn, GEN_IPADD, a2i_IPADDRESS(sans[i].data));
			} else {
				ASN1_IA5STRING *s = ASN1_IA5STRING_new();
				ASN1_STRING_set(
				    s, sans[i].data,
				    (int)(sans[i].len ? sans[i].len : strlen(sans[i].data)));
				GENERAL_NAME_set0_value(gn, GEN_DNS, s);
			}
			sk_GENERAL_NAME_push(gens, gn);
		}
		X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT);
		GENERAL_NAMES_free(gens);
	}
	X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256());
	return x;
}

/* An array as a pointer (is_str tests its arguments for NULL). */
static const char *str(const char *s)
{
	return s;
}

static char *describe(X509 *x)
{
	struct buf out;
	buf_init(&out);
	tls_chain_describe_cert(&out, x, "  ");
	return out.data; /* the caller frees */
}

/* Shows text line by line as TAP comments (a bare line would break the TAP stream). */
static void diag_lines(const char *text)
{
	while (text && *text) {
		size_t n = strcspn(text, "\n");
		diag("%.*s", (int)n, text);
		text += n + (text[n] == '\n');
	}
}

/* No terminal control byte (but the line ends), no line longer than max. */
static bool display_safe(const char *s, size_t max)
{
	size_t line = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '\n') {
			line = 0;
			continue;
		}
		if (*p < 0x20 || *p == 0x7f || ++line > max)
			return false;
	}
	return true;
}

static const char *line_of(const char *text, const char *label)
{
	static char line[4096];
	const char *p = strstr(text, label);
	if (!p)
		return "";
	size_t n = strcspn(p, "\n");
	if (n >= sizeof line)
		n = sizeof line - 1;
	memcpy(line, p, n);
	line[n] = '\0';
	return line;
}

static EVP_PKEY *ca_key, *leaf_key;
static X509 *ca, *leaf;

static void test_one_certificate(void)
{
	char *d = describe(leaf);
	diag_lines(d);
	is_str(line_of(d, "subject:"), "subject:     CN=mail.example,O=Test Lab",
	       "subject (RFC 2253)");
	is_str(line_of(d, "issuer:"), "issuer:      CN=Test CA,O=Test Lab", "issuer");
	ok(strstr(line_of(d, "valid:"), "(90 days left)") != NULL, "days left: %s",
	   line_of(d, "valid:"));
	is_str(line_of(d, "key:"), "key:         EC 256 bits (prime256v1)",
	       "EC key with its curve");
	is_str(line_of(d, "signature:"), "signature:   sha256WithRSAEncryption",
	       "signed by the RSA CA");
	is_str(line_of(d, "names:"), "names:       DNS:mail.example, IP Address:127.0.0.1",
	       "subjectAltNames");
	/* the fingerprint is SHA-256 of the DER form */
	unsigned char *der = NULL;
	int dlen = i2d_X509(leaf, &der);
	unsigned char md[32];
	EVP_Digest(der, (size_t)dlen, md, NULL, EVP_sha256(), NULL);
	OPENSSL_free(der);
	char want[200] = "sha256:      ";
	for (int i = 0; i < 32; i++)
		snprintf(want + strlen(want), sizeof want - strlen(want), "%s%02X", i ? ":" : "",
			 md[i]);
	is_str(line_of(d, "sha256:"), str(want), "SHA-256 fingerprint of the DER");
	free(d);

	d = describe(ca);
	is_str(line_of(d, "key:"), "key:         RSA 2048 bits", "RSA key size");
	is_str(line_of(d, "names:"), "names:       (none)", "no subjectAltName");
	free(d);
}

static void test_validity(void)
{
	X509 *old = make_cert(leaf_key, "old", 3, ca, ca_key, -400L * 86400, -10L * 86400 - 3600,
			      NULL, 0, false);
	char *d = describe(old);
	ok(strstr(line_of(d, "valid:"), "(expired 10 days ago)") != NULL, "expired: %s",
	   line_of(d, "valid:"));
	free(d);
	X509_free(old);
	X509 *early = make_cert(leaf_key, "early", 5, ca, ca_key, 5L * 86400 + 3600, 90L * 86400,
				NULL, 0, false);
	d = describe(early);
	ok(strstr(line_of(d, "valid:"), "(not valid yet: 5 more days)") != NULL,
	   "not yet valid: %s", line_of(d, "valid:"));
	free(d);
	X509_free(early);
}

static void test_hostile(void)
{
	static const char cn[] = "evil\x1b[2J\r\nCN=fake\x07";
	char longname[5000];
	memset(longname, 'a', sizeof longname);
	struct san sans[30] = {
	    {GEN_DNS, "esc\x1b]0;pwned\x07.example", 0},
	    {GEN_DNS, "nul\0byte.example", 16},
	    {GEN_DNS, longname, sizeof longname},
	    {GEN_DNS,
	     "\xe2\x80\xae"
	     "evil.example",
	     0}, /* U+202E, right-to-left override */
	};
	for (size_t i = 4; i < 30; i++)
		sans[i] = (struct san){GEN_DNS, "filler.example", 0};
	X509 *x = make_cert(leaf_key, cn, sizeof cn - 1, ca, ca_key, 0, 86400, sans, 30, false);
	char *d = describe(x);
	diag_lines(d);
	ok(display_safe(d, 2 * TLS_CHAIN_FIELD_MAX * TLS_CHAIN_SANS_MAX),
	   "no control byte reaches the output");
	ok(strlen(d) < 10000, "bounded: %zu bytes for a 5000-byte name and 30 names", strlen(d));
	const char *names = line_of(d, "names:");
	/* OpenSSL 3 prints the bytes outside printable ASCII as '.' */
	ok(strstr(names, "DNS:esc.]0;pwned..example, ") != NULL, "ESC and BEL not passed on");
	ok(strstr(names, "DNS:nul.byte.example, ") != NULL, "NUL in a name shown, not a cut");
	ok(strstr(names, "... (4748 more bytes), ") != NULL, "a long name is cut, with a count");
	ok(strstr(names, ", DNS:...evil.example, ") != NULL, "bidi override not passed on");
	ok(strstr(names, ", ... 10 more") != NULL, "at most %d names, the rest counted",
	   TLS_CHAIN_SANS_MAX);
	const char *subject = line_of(d, "subject:");
	is_str(subject, "subject:     CN=evil\\1B[2J\\0D\\0ACN=fake\\07,O=Test Lab",
	       "subject's controls escaped once, the RFC 2253 way");
	free(d);
	X509_free(x);
}

static int accept_any(int ok, X509_STORE_CTX *x)
{
	return 1;
}

/* A handshake in memory: the server sends leaf and CA, the client trusts the CA; with mine,
   the server asks for a client certificate and the client sends mine. */
static void handshake(SSL **client, SSL **server, SSL_CTX **cctx, SSL_CTX **sctx, X509 *mine,
		      EVP_PKEY *mine_key)
{
	*sctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX_use_certificate(*sctx, leaf);
	SSL_CTX_use_PrivateKey(*sctx, leaf_key);
	SSL_CTX_add1_chain_cert(*sctx, ca);
	*cctx = SSL_CTX_new(TLS_client_method());
	X509_STORE_add_cert(SSL_CTX_get_cert_store(*cctx), ca);
	SSL_CTX_set_verify(*cctx, SSL_VERIFY_PEER, NULL);
	if (mine) {
		SSL_CTX_set_verify(*sctx, SSL_VERIFY_PEER, accept_any);
		SSL_CTX_use_certificate(*cctx, mine);
		SSL_CTX_use_PrivateKey(*cctx, mine_key);
	}
	*client = SSL_new(*cctx);
	*server = SSL_new(*sctx);
	SSL_set_tlsext_host_name(*client, "mail.example");
	SSL_set1_host(*client, "mail.example");
	BIO *a, *b;
	BIO_new_bio_pair(&a, 0, &b, 0);
	SSL_set_bio(*client, a, a);
	SSL_set_bio(*server, b, b);
	SSL_set_connect_state(*client);
	SSL_set_accept_state(*server);
	int cr = 0, sr = 0;
	for (int i = 0; i < 50 && (cr != 1 || sr != 1); i++) {
		if (cr != 1)
			cr = SSL_do_handshake(*client);
		if (sr != 1)
			sr = SSL_do_handshake(*server);
	}
	ok(cr == 1 && sr == 1, "in-memory handshake");
}

static void test_chain(SSL *client)
{
	struct buf out;
	buf_init(&out);
	tls_describe(client, &out);
	diag_lines(out.data);
	const char *d = out.data;
	ok(strstr(d, "protocol:     TLSv1.3\n") != NULL, "protocol");
	ok(strstr(d, "key exchange: x25519\n") != NULL, "key exchange group");
	ok(strstr(d, "session:      new (full handshake)\n") != NULL, "not resumed");
	ok(strstr(d, "sni sent:     mail.example\n") != NULL, "the SNI sent");
	ok(strstr(d, "client cert:  none sent\n") != NULL, "no client certificate");
	ok(strstr(d, "chain sent by the server: 2 certificates\n  [0] leaf\n    subject:     "
		     "CN=mail.example,O=Test Lab\n") != NULL,
	   "the leaf first");
	ok(strstr(d, "  [1]\n    subject:     CN=Test CA,O=Test Lab\n") != NULL, "then the CA");
	ok(strstr(d, "verification path:\n  0: CN=mail.example,O=Test Lab\n  1: CN=Test "
		     "CA,O=Test Lab\n") != NULL,
	   "the verified path");
	ok(strstr(d, "verified:     certificate verified") != NULL, "the verdict");
	buf_free(&out);
}

/* The client certificate sent is named with its fingerprint. */
static void test_client_certificate(void)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *mine = make_cert(key, "client.example", 14, ca, ca_key, -60, 86400, NULL, 0, false);
	SSL *client, *server;
	SSL_CTX *cctx, *sctx;
	handshake(&client, &server, &cctx, &sctx, mine, key);
	ok(SSL_get0_peer_certificate(server) != NULL, "the server got the client certificate");
	struct buf out;
	buf_init(&out);
	tls_describe(client, &out);
	struct buf want;
	buf_init(&want);
	buf_puts(&want, "client cert:  CN=client.example,O=Test Lab, sha256 ");
	tls_chain_append_fingerprint(&want, mine);
	is_str(line_of(out.data, "client cert:"), want.data, "the client certificate sent");
	buf_free(&want);
	buf_free(&out);
	SSL_free(client);
	SSL_free(server);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	X509_free(mine);
	EVP_PKEY_free(key);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	static char data[65536];
	size_t n = fread(data, 1, sizeof data - 1, f);
	data[n] = '\0';
	fclose(f);
	return data;
}

static void test_save(SSL *client)
{
	char tmpl[] = "/tmp/smtpsh-tls-chain-XXXXXX";
	char *tmp = mkdtemp(tmpl);
	char dir[256], path[300], err[512] = "";
	snprintf(dir, sizeof dir, "%s/chain", tmp);
	struct buf report;
	buf_init(&report);
	int n = tls_chain_save(client, dir, &report, err, sizeof err);
	is_int(n, 2, "two files written (%s)", err);
	struct stat st;
	ok(stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0755,
	   "the folder was created 0755");
	snprintf(path, sizeof path, "%s/0-leaf.pem", dir);
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644, "0-leaf.pem is 0644");
	BIO *bio = BIO_new_file(path, "r");
	X509 *back = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	ok(back && X509_cmp(back, leaf) == 0, "0-leaf.pem holds the leaf");
	X509_free(back);
	snprintf(path, sizeof path, "%s/1-root.pem", dir);
	bio = BIO_new_file(path, "r");
	back = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	ok(back && X509_cmp(back, ca) == 0, "1-root.pem holds the self-signed CA");
	X509_free(back);
	char want[600];
	snprintf(want, sizeof want,
		 "wrote %s/0-leaf.pem (CN=mail.example,O=Test Lab)\nwrote %s/1-root.pem (CN=Test "
		 "CA,O=Test Lab)\n",
		 dir, dir);
	is_str(report.data, str(want), "says what it wrote");

	/* a symbolic link in the folder is not followed */
	char victim[300];
	snprintf(victim, sizeof victim, "%s/victim", tmp);
	FILE *f = fopen(victim, "w");
	fputs("keep me\n", f);
	fclose(f);
	snprintf(path, sizeof path, "%s/1-root.pem", dir);
	unlink(path);
	ok(symlink(victim, path) == 0, "a symlink planted as 1-root.pem");
	buf_reset(&report);
	n = tls_chain_save(client, dir, &report, err, sizeof err);
	is_int(n, -1, "refused");
	char wanterr[400];
	snprintf(wanterr, sizeof wanterr, "cannot write %s: it is a symbolic link (not followed)",
		 path);
	is_str(str(err), str(wanterr), "the reason names the link");
	is_str(slurp(victim), "keep me\n", "the link's target is untouched");
	snprintf(want, sizeof want, "wrote %s/0-leaf.pem (CN=mail.example,O=Test Lab)\n", dir);
	is_str(report.data, str(want), "what was written before is reported");

	/* a file where the folder should be */
	n = tls_chain_save(client, victim, &report, err, sizeof err);
	is_int(n, -1, "a file is no folder");
	snprintf(wanterr, sizeof wanterr, "%s is not a directory", victim);
	is_str(str(err), str(wanterr), "says so");

	unlink(path);
	unlink(victim);
	snprintf(path, sizeof path, "%s/0-leaf.pem", dir);
	unlink(path);
	rmdir(dir);
	rmdir(tmp);
	buf_free(&report);
}

int main(void)
{
	srandom((unsigned)getpid());
	ca_key = EVP_RSA_gen(2048);
	leaf_key = EVP_EC_gen("P-256");
	ca = make_cert(ca_key, "Test CA", 7, NULL, NULL, -86400, 365L * 86400, NULL, 0, true);
	struct san sans[] = {{GEN_DNS, "mail.example", 0}, {GEN_IPADD, "127.0.0.1", 0}};
	leaf = make_cert(leaf_key, "mail.example", 12, ca, ca_key, -86400, 90L * 86400 + 3600, sans,
			 2, false);
	test_one_certificate();
	test_validity();
	test_hostile();
	SSL *client, *server;
	SSL_CTX *cctx, *sctx;
	handshake(&client, &server, &cctx, &sctx, NULL, NULL);
	test_chain(client);
	test_save(client);
	SSL_free(client);
	SSL_free(server);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	test_client_certificate();
	X509_free(leaf);
	X509_free(ca);
	EVP_PKEY_free(leaf_key);
	EVP_PKEY_free(ca_key);
	return done_testing();
}
