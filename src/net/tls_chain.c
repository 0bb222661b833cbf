#include "smtpsh/tls_chain.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "smtpsh/escape.h"

/* Appends data[0..len) escaped, cut at max bytes (a certificate's fields are the server's words:
   a 10 000-byte subjectAltName must not flood the screen). */
static void append_bounded(struct buf *out, const char *data, size_t len, size_t max, int flags)
{
	escape_append(out, data, len > max ? max : len, flags);
	if (len > max)
		buf_printf(out, "... (%zu more bytes)", len - max);
}

/* Appends what OpenSSL printed into bio, escaped and bounded; frees bio. */
static void append_bio(struct buf *out, BIO *bio, size_t max, int flags)
{
	char *data;
	long len = BIO_get_mem_data(bio, &data);
	append_bounded(out, data, len > 0 ? (size_t)len : 0, max, flags);
	BIO_free(bio);
}

void tls_chain_append_name(struct buf *out, const X509_NAME *name)
{
	BIO *bio = BIO_new(BIO_s_mem());
	if (!bio)
		return;
	/* RFC 2253 form: OpenSSL writes controls as \\XX and a backslash of the name as \\\\, so
	   its backslashes stay as they are (one escaping, "CN=a\\1B[2J"); escape_append takes what
	   is left (bytes above 0x7f that are no printable UTF-8). */
	X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
	append_bio(out, bio, TLS_CHAIN_FIELD_MAX, ESCAPE_KEEP_BACKSLASH);
}

void tls_chain_append_sans(struct buf *out, X509 *cert)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	int n = names ? sk_GENERAL_NAME_num(names) : 0;
	if (n <= 0) {
		buf_puts(out, "(none)");
		GENERAL_NAMES_free(names);
		return;
	}
	for (int i = 0; i < n && i < TLS_CHAIN_SANS_MAX; i++) {
		BIO *bio = BIO_new(BIO_s_mem());
		if (!bio)
			break;
		if (i)
			buf_puts(out, ", ");
		/* OpenSSL 3 prints a name's bytes outside printable ASCII as '.'; escape_append
		   is there for any library that does not. */
		GENERAL_NAME_print(bio, sk_GENERAL_NAME_value(names, i));
		append_bio(out, bio, TLS_CHAIN_FIELD_MAX, ESCAPE_DEFAULT);
	}
	if (n > TLS_CHAIN_SANS_MAX)
		buf_printf(out, ", ... %d more", n - TLS_CHAIN_SANS_MAX);
	GENERAL_NAMES_free(names);
}

static void append_time(struct buf *out, const ASN1_TIME *t)
{
	BIO *bio = BIO_new(BIO_s_mem());
	if (!bio)
		return;
	ASN1_TIME_print(bio, t);
	append_bio(out, bio, 64, ESCAPE_DEFAULT);
}

void tls_chain_append_validity(struct buf *out, const X509 *cert)
{
	const ASN1_TIME *from = X509_get0_notBefore(cert), *until = X509_get0_notAfter(cert);
	buf_puts(out, "from ");
	append_time(out, from);
	buf_puts(out, " until ");
	append_time(out, until);
	/* ASN1_TIME_diff: from now (NULL) to the time, in days and seconds of the same sign. */
	int day = 0, sec = 0;
	if (ASN1_TIME_diff(&day, &sec, NULL, from) && (day > 0 || sec > 0))
		buf_printf(out, " (not valid yet: %d more day%s)", day, day == 1 ? "" : "s");
	else if (!ASN1_TIME_diff(&day, &sec, NULL, until))
		buf_puts(out, " (unreadable time)");
	else if (day < 0 || sec < 0)
		buf_printf(out, " (expired %d day%s ago)", -day, day == -1 ? "" : "s");
	else
		buf_printf(out, " (%d day%s left)", day, day == 1 ? "" : "s");
}

void tls_chain_append_fingerprint(struct buf *out, const X509 *cert)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (!X509_digest(cert, EVP_sha256(), md, &n)) {
		buf_puts(out, "?");
		return;
	}
	for (unsigned int i = 0; i < n; i++)
		buf_printf(out, "%s%02X", i ? ":" : "", md[i]);
}

void tls_chain_append_key(struct buf *out, X509 *cert)
{
	EVP_PKEY *key = X509_get0_pubkey(cert);
	if (!key) {
		buf_puts(out, "unknown");
		return;
	}
	const char *type = EVP_PKEY_get0_type_name(key);
	buf_printf(out, "%s %d bits", type ? type : OBJ_nid2sn(EVP_PKEY_get_base_id(key)),
		   EVP_PKEY_get_bits(key));
	char group[80];
	size_t glen = 0;
	if (EVP_PKEY_get_group_name(key, group, sizeof group, &glen) && glen)
		buf_printf(out, " (%s)", group);
	ERR_clear_error();
}

static void append_sigalg(struct buf *out, const X509 *cert)
{
	int nid = X509_get_signature_nid(cert);
	buf_puts(out, nid != NID_undef ? OBJ_nid2ln(nid) : "unknown");
}

void tls_chain_describe_cert(struct buf *out, X509 *cert, const char *indent)
{
	buf_printf(out, "%ssubject:     ", indent);
	tls_chain_append_name(out, X509_get_subject_name(cert));
	buf_printf(out, "\n%sissuer:      ", indent);
	tls_chain_append_name(out, X509_get_issuer_name(cert));
	buf_printf(out, "\n%svalid:       ", indent);
	tls_chain_append_validity(out, cert);
	buf_printf(out, "\n%skey:         ", indent);
	tls_chain_append_key(out, cert);
	buf_printf(out, "\n%ssignature:   ", indent);
	append_sigalg(out, cert);
	buf_printf(out, "\n%snames:       ", indent);
	tls_chain_append_sans(out, cert);
	buf_printf(out, "\n%ssha256:      ", indent);
	tls_chain_append_fingerprint(out, cert);
	buf_puts(out, "\n");
}

void tls_chain_describe(SSL *ssl, struct buf *out)
{
	STACK_OF(X509) *sent = SSL_get_peer_cert_chain(ssl);
	int n = sent ? sk_X509_num(sent) : 0;
	/* A resumed session sends no certificate: OpenSSL keeps the first handshake's. */
	bool resumed = SSL_session_reused(ssl);
	buf_printf(out, "%s: %d certificate%s\n",
		   resumed ? "chain of the first handshake (the session was resumed: nothing "
			     "was sent again)"
			   : "chain sent by the server",
		   n, n == 1 ? "" : "s");
	for (int i = 0; i < n && i < TLS_CHAIN_CERTS_MAX; i++) {
		buf_printf(out, "  [%d]%s\n", i, i == 0 ? " leaf" : "");
		tls_chain_describe_cert(out, sk_X509_value(sent, i), "    ");
	}
	if (n > TLS_CHAIN_CERTS_MAX)
		buf_printf(out, "  ... %d more not shown\n", n - TLS_CHAIN_CERTS_MAX);
	/* The path OpenSSL built from the leaf to a trust anchor: it may differ from what was
	   sent (a cross-signed intermediate, an anchor taken from the store). */
	STACK_OF(X509) *path = SSL_get0_verified_chain(ssl);
	int m = path ? sk_X509_num(path) : 0;
	buf_puts(out, "verification path:");
	if (!m)
		buf_puts(out, resumed ? " (none: the session was resumed, nothing was verified "
					"again)"
				      : " (none)");
	buf_puts(out, "\n");
	for (int i = 0; i < m && i < TLS_CHAIN_CERTS_MAX; i++) {
		buf_printf(out, "  %d: ", i);
		tls_chain_append_name(out, X509_get_subject_name(sk_X509_value(path, i)));
		buf_puts(out, "\n");
	}
}

/* Writes all of data to fd. */
static int write_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t w = write(fd, data, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		data += w;
		len -= (size_t)w;
	}
	return 0;
}

static int save_one(const char *path, X509 *cert, char *err, size_t errlen)
{
	BIO *bio = BIO_new(BIO_s_mem());
	if (!bio || !PEM_write_bio_X509(bio, cert)) {
		BIO_free(bio);
		snprintf(err, errlen, "cannot encode a certificate as PEM");
		return -1;
	}
	char *pem;
	long len = BIO_get_mem_data(bio, &pem);
	/* O_NOFOLLOW: a symbolic link planted in DIR must not redirect the write elsewhere. */
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(err, errlen, "cannot write %s: %s", path,
			 errno == ELOOP ? "it is a symbolic link (not followed)" : strerror(errno));
		BIO_free(bio);
		return -1;
	}
	int r = fchmod(fd, 0644) == 0 && write_all(fd, pem, len > 0 ? (size_t)len : 0) == 0;
	int saved = errno;
	r = close(fd) == 0 && r;
	BIO_free(bio);
	if (!r) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(saved));
		return -1;
	}
	return 0;
}

int tls_chain_save(SSL *ssl, const char *dir, struct buf *report, char *err, size_t errlen)
{
	STACK_OF(X509) *sent = SSL_get_peer_cert_chain(ssl);
	int n = sent ? sk_X509_num(sent) : 0;
	if (n <= 0) {
		snprintf(err, errlen, "the server sent no certificate");
		return -1;
	}
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	struct stat st;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s is not a directory", dir);
		return -1;
	}
	int written = 0;
	for (int i = 0; i < n && i < TLS_CHAIN_CERTS_MAX; i++) {
		X509 *cert = sk_X509_value(sent, i);
		const char *kind = i == 0					? "leaf"
				   : X509_check_issued(cert, cert) == X509_V_OK ? "root"
										: "ca";
		char path[4096];
		int pl = snprintf(path, sizeof path, "%s/%d-%s.pem", dir, i, kind);
		if (pl < 0 || (size_t)pl >= sizeof path) {
			snprintf(err, errlen, "directory name too long");
			return -1;
		}
		if (save_one(path, cert, err, errlen) != 0)
			return -1;
		written++;
		buf_printf(report, "wrote %s (", path);
		tls_chain_append_name(report, X509_get_subject_name(cert));
		buf_puts(report, ")\n");
	}
	ERR_clear_error();
	return written;
}
