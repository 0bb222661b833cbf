/*
 * Unit tests of src/net/conn.c: the loopback test that decides whether AUTH may go out in
 * plaintext, and the non-blocking I/O both the client and the practice server use: accepting
 * a connection, reading and writing plain and TLS without blocking (AGAIN and what to wait
 * for), the end of the peer, and the server's side of a TLS handshake.
 */
#include "tap.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "smtpsh/conn.h"

static void test_loopback(void)
{
	static const struct {
		const char *addr;
		bool loopback;
	} cases[] = {
		{"127.0.0.1", true},	   {"127.255.3.4", true},    {"::1", true},
		{"::ffff:127.0.0.1", true}, {"0:0:0:0:0:0:0:1", true}, {"128.0.0.1", false},
		{"10.0.0.1", false},	   {"192.168.1.1", false},   {"0.0.0.0", false},
		{"::", false},		   {"::2", false},	     {"::ffff:10.0.0.1", false},
		{"2001:db8::1", false},	   {"fe80::1", false},	     {"", false},
		{"localhost", false},	   {"127.0.0.1x", false},    {"::127.0.0.1", false},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		ok(conn_addr_is_loopback(cases[i].addr) == cases[i].loopback, "%s is %sloopback",
		   cases[i].addr, cases[i].loopback ? "" : "not ");
}

/* A non-blocking listener on 127.0.0.1 (any port); its port in *port. */
static int listener(unsigned short *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof sa;
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 4) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		return -1;
	*port = ntohs(sa.sin_port);
	return fd;
}

/* A connected pair: the server's side accepted into c, the client's socket returned
   (blocking, with its local port in *cport). */
static int connected_pair(struct conn *c, unsigned *cport)
{
	unsigned short port;
	int lfd = listener(&port);
	char err[256] = "";
	conn_init(c);
	is_int(conn_accept(c, lfd, err, sizeof err), CONN_IO_AGAIN, "accept: none waiting: AGAIN");
	int cfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (connect(cfd, (struct sockaddr *)&sa, sizeof sa) < 0)
		return -1;
	socklen_t len = sizeof sa;
	getsockname(cfd, (struct sockaddr *)&sa, &len);
	*cport = ntohs(sa.sin_port);
	struct pollfd p = {.fd = lfd, .events = POLLIN};
	poll(&p, 1, 5000);
	is_int(conn_accept(c, lfd, err, sizeof err), 0, "accept: a connection waiting");
	close(lfd);
	return cfd;
}

static void test_plain(void)
{
	struct conn c;
	unsigned cport = 0;
	int cfd = connected_pair(&c, &cport);
	ok(cfd >= 0 && c.fd >= 0 && !c.ssl, "accepted, plaintext");
	ok(strcmp(c.peer_addr, "127.0.0.1") == 0, "the peer's address: %s", c.peer_addr);
	is_int(c.peer_port, cport, "the peer's port");

	char err[256] = "", buf[64];
	is_int(conn_read(&c, buf, sizeof buf, err, sizeof err), CONN_IO_AGAIN,
	       "read with nothing there: AGAIN, no wait");
	is_int(c.want, POLLIN, "wait for POLLIN");
	is_int(conn_write(&c, "220 hi\r\n", 8, err, sizeof err), 8, "write: all of a short line");
	is_int(read(cfd, buf, sizeof buf), 8, "the peer got it");
	is_int(write(cfd, "EHLO x\r\n", 8), 8, "the peer writes");
	struct pollfd p = {.fd = c.fd, .events = POLLIN};
	poll(&p, 1, 5000);
	is_int(conn_read(&c, buf, sizeof buf, err, sizeof err), 8, "read: what the peer wrote");
	is_mem(buf, 8, "EHLO x\r\n", 8, "the bytes");

	/* a peer that does not read: the socket fills up, write says AGAIN and POLLOUT */
	static char big[65536];
	ssize_t n;
	size_t total = 0;
	c.want = POLLIN;
	while ((n = conn_write(&c, big, sizeof big, err, sizeof err)) > 0)
		total += (size_t)n;
	is_int(n, CONN_IO_AGAIN, "a full socket: AGAIN after %zu bytes", total);
	is_int(c.want, POLLOUT, "wait for POLLOUT");

	close(cfd);
	n = 1;
	for (int i = 0; i < 100 && n > 0; i++)
		n = conn_write(&c, big, sizeof big, err, sizeof err);
	is_int(n, CONN_IO_EOF, "write to a peer that closed: EOF, no SIGPIPE (%s)", err);
	conn_close(&c, true);
	is_int(c.fd, -1, "closed");
	is_int(conn_write(&c, "x", 1, err, sizeof err), CONN_IO_ERROR, "write when closed: ERROR");
	ok(strcmp(err, "not connected") == 0, "with a reason: %s", err);
}

/* A throwaway certificate for the server's side. */
static SSL_CTX *server_ctx(void)
{
	EVP_PKEY *key = NULL;
	EVP_PKEY_CTX *kctx = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL); /* as practice/cert.c */
	if (kctx && EVP_PKEY_keygen_init(kctx) > 0 &&
	    EVP_PKEY_CTX_set_ec_paramgen_curve_nid(kctx, NID_X9_62_prime256v1) > 0)
		EVP_PKEY_keygen(kctx, &key);
	EVP_PKEY_CTX_free(kctx);
	X509 *x = X509_new();
	if (!key || !x)
		return NULL;
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"localhost", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_sign(x, key, EVP_sha256());
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx || SSL_CTX_use_certificate(ctx, x) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1)
		return NULL;
	X509_free(x);
	EVP_PKEY_free(key);
	return ctx;
}

/* Runs both sides of the handshake until both are done (or one fails); the server's
   result. The client (ssl on cfd, non-blocking) does not verify. */
static int handshake(struct conn *c, SSL_CTX *sctx, SSL *cl, char *err, size_t errlen)
{
	int s = CONN_IO_AGAIN, k = 0;
	bool wants = true;
	for (int i = 0; i < 1000 && (s == CONN_IO_AGAIN || k != 1); i++) {
		if (k != 1)
			k = SSL_connect(cl);
		if (s == CONN_IO_AGAIN)
			s = conn_tls_accept(c, sctx, err, errlen);
		if (s == CONN_IO_ERROR)
			break;
		if (s == CONN_IO_AGAIN && c->want != POLLIN && c->want != POLLOUT)
			wants = false;
		poll(NULL, 0, 1);
	}
	ok(wants, "handshake: every AGAIN says what to wait for");
	return s;
}

static void test_tls(void)
{
	SSL_CTX *sctx = server_ctx();
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	ok(sctx && cctx, "TLS contexts");
	struct conn c;
	unsigned cport;
	int cfd = connected_pair(&c, &cport);
	struct timeval tv = {.tv_sec = 0, .tv_usec = 1000};
	setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv); /* the client side never stalls */
	SSL *cl = SSL_new(cctx);
	SSL_set_fd(cl, cfd);
	char err[256] = "", buf[64];
	is_int(handshake(&c, sctx, cl, err, sizeof err), CONN_IO_OK, "server handshake done (%s)",
	       err);
	ok(c.ssl != NULL, "TLS is on");
	is_int(conn_write(&c, "250 ok\r\n", 8, err, sizeof err), 8, "TLS write");
	int r = 0;
	for (int i = 0; i < 1000 && r <= 0; i++)
		r = SSL_read(cl, buf, sizeof buf);
	is_mem(buf, r > 0 ? (size_t)r : 0, "250 ok\r\n", 8, "the client decrypts it");
	is_int(SSL_write(cl, "QUIT\r\n", 6), 6, "the client writes");
	ssize_t n = CONN_IO_AGAIN;
	for (int i = 0; i < 1000 && n == CONN_IO_AGAIN; i++) {
		struct pollfd p = {.fd = c.fd, .events = (short)c.want};
		poll(&p, 1, 10);
		n = conn_read(&c, buf, sizeof buf, err, sizeof err);
	}
	is_int(n, 6, "TLS read");
	is_mem(buf, 6, "QUIT\r\n", 6, "the bytes");
	SSL_shutdown(cl);
	n = CONN_IO_AGAIN;
	for (int i = 0; i < 1000 && n == CONN_IO_AGAIN; i++) {
		struct pollfd p = {.fd = c.fd, .events = (short)c.want};
		poll(&p, 1, 10);
		n = conn_read(&c, buf, sizeof buf, err, sizeof err);
	}
	is_int(n, CONN_IO_EOF, "the client's close_notify: EOF");
	conn_close(&c, false);
	SSL_free(cl);
	close(cfd);

	/* a client that speaks plaintext where TLS is expected */
	cfd = connected_pair(&c, &cport);
	is_int(write(cfd, "EHLO x\r\n", 8), 8, "the peer sends a command, not a ClientHello");
	int s = CONN_IO_AGAIN;
	for (int i = 0; i < 1000 && s == CONN_IO_AGAIN; i++) {
		s = conn_tls_accept(&c, sctx, err, sizeof err);
		poll(NULL, 0, 1);
	}
	is_int(s, CONN_IO_ERROR, "handshake refused");
	ok(strncmp(err, "TLS handshake failed: ", 22) == 0, "the reason: %s", err);
	conn_close(&c, true);
	close(cfd);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
}

int main(void)
{
	test_loopback();
	test_plain();
	test_tls();
	return done_testing();
}
