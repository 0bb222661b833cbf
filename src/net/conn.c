#include "smtpsh/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "smtpsh/tlsctl.h"

bool conn_addr_is_loopback(const char *addr)
{
	unsigned char a[16];
	if (inet_pton(AF_INET, addr, a) == 1)
		return a[0] == 127;
	if (inet_pton(AF_INET6, addr, a) != 1)
		return false;
	static const unsigned char loop6[16] = {[15] = 1};
	static const unsigned char mapped[12] = {[10] = 0xff, [11] = 0xff};
	return memcmp(a, loop6, 16) == 0 || (memcmp(a, mapped, 12) == 0 && a[12] == 127);
}

void conn_init(struct conn *c)
{
	c->fd = -1;
	c->ssl = NULL;
	c->want = POLLIN;
	c->peer_addr[0] = '\0';
	c->peer_port = 0;
	c->unix_socket = false;
}

long long conn_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int conn_wait(struct conn *c, short events, int timeout_ms, volatile sig_atomic_t *intr)
{
	long long deadline = timeout_ms < 0 ? -1 : conn_now_ms() + timeout_ms;
	for (;;) {
		if (intr && *intr)
			return CONN_IO_INTERRUPTED;
		int wait = -1;
		if (deadline >= 0) {
			long long left = deadline - conn_now_ms();
			if (left <= 0)
				return CONN_IO_TIMEOUT;
			wait = left > 1000000 ? 1000000 : (int)left;
		}
		struct pollfd pfd = {.fd = c->fd, .events = events};
		int r = poll(&pfd, 1, wait);
		if (r > 0)
			return CONN_IO_OK;
		if (r < 0 && errno != EINTR)
			return CONN_IO_OK; /* let the following I/O call report the error */
	}
}

static void describe_addr(const struct sockaddr *sa, char *out, size_t outlen, unsigned *port)
{
	char host[NI_MAXHOST], serv[NI_MAXSERV];
	socklen_t len =
	    sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	if (getnameinfo(sa, len, host, sizeof host, serv, sizeof serv,
			NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(out, outlen, "?");
		*port = 0;
		return;
	}
	snprintf(out, outlen, "%.63s", host);
	*port = (unsigned)atoi(serv);
}

/* One non-blocking connect attempt; 0 on success, else errno-like code or CONN_IO_*. */
static int try_connect(struct conn *c, const struct addrinfo *ai, int timeout_ms,
		       volatile sig_atomic_t *intr, int *sys_err)
{
	int fd =
	    socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
	if (fd < 0) {
		*sys_err = errno;
		return CONN_IO_ERROR;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
		*sys_err = errno;
		close(fd);
		return CONN_IO_ERROR;
	}
	c->fd = fd;
	int r = conn_wait(c, POLLOUT, timeout_ms, intr);
	if (r != CONN_IO_OK) {
		close(fd);
		c->fd = -1;
		return r;
	}
	int soerr = 0;
	socklen_t slen = sizeof soerr;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &slen) < 0)
		soerr = errno;
	if (soerr) {
		*sys_err = soerr;
		close(fd);
		c->fd = -1;
		return CONN_IO_ERROR;
	}
	int one = 1;
	if (ai->ai_family != AF_UNIX)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return 0;
}

bool conn_is_socket_path(const char *host)
{
	return host[0] == '/' || (host[0] == '.' && host[1] == '/');
}

/* A UNIX-domain socket (LMTP mostly listens on one: Dovecot's /run/dovecot/lmtp). */
static int connect_unix(struct conn *c, const char *path, int timeout_ms,
			volatile sig_atomic_t *intr, char *err, size_t errlen)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sun.sun_path) {
		snprintf(err, errlen, "socket path too long (%zu bytes, at most %zu): %.80s...",
			 strlen(path), sizeof sun.sun_path - 1, path);
		return CONN_IO_ERROR;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	struct addrinfo ai = {.ai_family = AF_UNIX,
			      .ai_socktype = SOCK_STREAM,
			      .ai_addr = (struct sockaddr *)&sun,
			      .ai_addrlen = sizeof sun};
	int sys_err = 0;
	int r = try_connect(c, &ai, timeout_ms, intr, &sys_err);
	if (r == 0) {
		snprintf(c->peer_addr, sizeof c->peer_addr, "%s", path);
		c->peer_port = 0;
		c->unix_socket = true;
	} else if (r == CONN_IO_TIMEOUT)
		snprintf(err, errlen, "no answer from socket %s within %d s", path,
			 (timeout_ms + 999) / 1000);
	else if (r == CONN_IO_INTERRUPTED)
		snprintf(err, errlen, "connection to socket %s interrupted", path);
	else
		snprintf(err, errlen, "cannot connect to socket %s: %s", path, strerror(sys_err));
	return r;
}

int conn_connect(struct conn *c, const char *host, const char *port, enum conn_family family,
		 int timeout_ms, volatile sig_atomic_t *intr, char *err, size_t errlen)
{
	if (conn_is_socket_path(host))
		return connect_unix(c, host, timeout_ms, intr, err, errlen);
	struct addrinfo hints = {0}, *res = NULL;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_family = family == CONN_V4 ? AF_INET : family == CONN_V6 ? AF_INET6 : AF_UNSPEC;
	hints.ai_flags = AI_ADDRCONFIG;
	int gai = getaddrinfo(host, port, &hints, &res);
	if (gai == EAI_ADDRFAMILY || gai == EAI_NONAME || gai == EAI_NODATA) {
		/* AI_ADDRCONFIG hides ::1 on hosts whose only IPv6 address is loopback. */
		hints.ai_flags = 0;
		gai = getaddrinfo(host, port, &hints, &res);
	}
	if (gai != 0) {
		snprintf(err, errlen, "cannot resolve %s port %s: %s", host, port,
			 gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
		return CONN_IO_ERROR;
	}
	int result = CONN_IO_ERROR, sys_err = 0;
	char addr[64] = "";
	unsigned aport = 0;
	for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		describe_addr(ai->ai_addr, addr, sizeof addr, &aport);
		result = try_connect(c, ai, timeout_ms, intr, &sys_err);
		if (result == 0) {
			snprintf(c->peer_addr, sizeof c->peer_addr, "%s", addr);
			c->peer_port = aport;
			break;
		}
		if (result == CONN_IO_INTERRUPTED)
			break;
	}
	freeaddrinfo(res);
	if (result == CONN_IO_TIMEOUT)
		snprintf(err, errlen, "no answer from %s port %u within %d s", addr, aport,
			 (timeout_ms + 999) / 1000);
	else if (result == CONN_IO_INTERRUPTED)
		snprintf(err, errlen, "connection to %s port %u interrupted", addr, aport);
	else if (result != 0)
		snprintf(err, errlen, "cannot connect to %s port %u: %s", addr[0] ? addr : host,
			 aport, strerror(sys_err));
	return result;
}

int conn_accept(struct conn *c, int listen_fd, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	int fd;
	do
		fd = accept4(listen_fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNABORTED)
			return CONN_IO_AGAIN;
		snprintf(err, errlen, "cannot accept a connection: %s", strerror(errno));
		return CONN_IO_ERROR;
	}
	conn_init(c);
	c->fd = fd;
	describe_addr((const struct sockaddr *)&ss, c->peer_addr, sizeof c->peer_addr,
		      &c->peer_port);
	return 0;
}

/* The reason of the first queued OpenSSL error, short ("sslv3 alert bad certificate"), for
   the practice server's screen; the queue is emptied. */
static const char *ssl_reason(void)
{
	unsigned long e = ERR_get_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;
	ERR_clear_error();
	return r ? r : "connection closed";
}

int conn_tls_accept(struct conn *c, SSL_CTX *ctx, char *err, size_t errlen)
{
	if (!c->ssl) {
		c->ssl = SSL_new(ctx);
		if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
			snprintf(err, errlen, "cannot start TLS (out of memory)");
			return CONN_IO_ERROR;
		}
	}
	ERR_clear_error();
	int r = SSL_accept(c->ssl);
	if (r == 1)
		return CONN_IO_OK;
	int e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		c->want = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
		return CONN_IO_AGAIN;
	}
	snprintf(err, errlen, "TLS handshake failed: %s", ssl_reason());
	return CONN_IO_ERROR;
}

void conn_close(struct conn *c, bool abrupt)
{
	if (c->ssl) {
		if (!abrupt)
			SSL_shutdown(c->ssl); /* non-blocking: sends close_notify if it can */
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->want = POLLIN;
}

static void ssl_error_text(SSL *ssl, char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_get_error();
	char msg[256];
	int reason = e ? ERR_GET_REASON(e) : 0;
	if (e && ssl && !SSL_is_server(ssl) && ERR_GET_LIB(e) == ERR_LIB_SSL &&
	    reason >= SSL_AD_REASON_OFFSET && reason < SSL_AD_REASON_OFFSET + 256) {
		/* An alert from the server after our handshake ended: TLS 1.3 checks the client's
		   certificate then (RFC 8446 4.4.2.4, "certificate required"). In words. */
		int alert = reason - SSL_AD_REASON_OFFSET;
		struct tls_failure f = {.alert = alert,
					.alert_text = SSL_alert_desc_string_long(alert)};
		struct tls_controls t = {.cert = SSL_get_certificate(ssl) ? "given" : NULL};
		struct buf words;
		buf_init(&words);
		tls_failure_words(&f, &t, &words);
		snprintf(msg, sizeof msg, "%s", words.data ? words.data : "?");
		buf_free(&words);
	} else if (e)
		ERR_error_string_n(e, msg, sizeof msg);
	else
		snprintf(msg, sizeof msg, "%s",
			 errno ? strerror(errno) : "unexpected end of stream");
	snprintf(err, errlen, "%s: %s", what, msg);
	ERR_clear_error();
}

ssize_t conn_read(struct conn *c, void *buf, size_t len, char *err, size_t errlen)
{
	if (c->fd < 0)
		return CONN_IO_EOF;
	if (!c->ssl) {
		for (;;) {
			ssize_t n = recv(c->fd, buf, len, 0);
			if (n > 0)
				return n;
			if (n == 0)
				return CONN_IO_EOF;
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				c->want = POLLIN;
				return CONN_IO_AGAIN;
			}
			if (errno == ECONNRESET) {
				snprintf(err, errlen, "connection reset by the server");
				return CONN_IO_ERROR;
			}
			snprintf(err, errlen, "read error: %s", strerror(errno));
			return CONN_IO_ERROR;
		}
	}
	ERR_clear_error();
	errno = 0;
	int n = SSL_read(c->ssl, buf, len > 1 << 30 ? 1 << 30 : (int)len);
	if (n > 0)
		return n;
	switch (SSL_get_error(c->ssl, n)) {
	case SSL_ERROR_WANT_READ:
		/* Records that hold no data (TLS 1.3 session tickets) may just have been read:
		   ACK them now, a server using Nagle may hold our reply until it sees that ACK. */
		conn_quickack(c);
		c->want = POLLIN;
		return CONN_IO_AGAIN;
	case SSL_ERROR_WANT_WRITE:
		c->want = POLLOUT;
		return CONN_IO_AGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return CONN_IO_EOF;
	case SSL_ERROR_SYSCALL:
		if (errno == 0 && ERR_peek_error() == 0)
			return CONN_IO_EOF; /* closed without close_notify */
		ssl_error_text(c->ssl, err, errlen, "TLS read error");
		return CONN_IO_ERROR;
	default:
		if (ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
			ERR_clear_error();
			return CONN_IO_EOF;
		}
		ssl_error_text(c->ssl, err, errlen, "TLS read error");
		return CONN_IO_ERROR;
	}
}

bool conn_has_buffered(const struct conn *c)
{
	return c->ssl && SSL_pending(c->ssl) > 0;
}

ssize_t conn_write(struct conn *c, const void *buf, size_t len, char *err, size_t errlen)
{
	if (c->fd < 0) {
		snprintf(err, errlen, "not connected");
		return CONN_IO_ERROR;
	}
	if (!c->ssl) {
		for (;;) {
			ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
			if (n >= 0)
				return n;
			int e = errno;
			if (e == EINTR)
				continue;
			if (e == EAGAIN || e == EWOULDBLOCK) {
				c->want = POLLOUT;
				return CONN_IO_AGAIN;
			}
			snprintf(err, errlen, "write error: %s", strerror(e));
			return e == EPIPE || e == ECONNRESET ? CONN_IO_EOF : CONN_IO_ERROR;
		}
	}
	ERR_clear_error();
	errno = 0;
	int r = SSL_write(c->ssl, buf, len > 1 << 30 ? 1 << 30 : (int)len);
	if (r > 0)
		return r;
	int e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		c->want = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
		return CONN_IO_AGAIN;
	}
	ssl_error_text(c->ssl, err, errlen, "TLS write error");
	return CONN_IO_ERROR;
}

int conn_write_all(struct conn *c, const void *data, size_t len, int timeout_ms,
		   volatile sig_atomic_t *intr, char *err, size_t errlen)
{
	const char *p = data;
	long long deadline = conn_now_ms() + timeout_ms;
	while (len > 0) {
		ssize_t n = conn_write(c, p, len, err, errlen);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			if (!len) /* the reply to what we wrote: ACK what comes at once */
				conn_quickack(c);
			continue;
		}
		if (n != CONN_IO_AGAIN)
			return (int)n;
		long long left = deadline - conn_now_ms();
		if (left <= 0) {
			snprintf(err, errlen, "the server accepts no data: write timed out");
			return CONN_IO_TIMEOUT;
		}
		int r = conn_wait(c, (short)c->want, (int)left, intr);
		if (r == CONN_IO_INTERRUPTED) {
			snprintf(err, errlen, "write interrupted");
			return r;
		}
	}
	return 0;
}

void conn_quickack(struct conn *c)
{
	int one = 1;
	if (c->fd >= 0)
		setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
}

ssize_t conn_drain_plain(struct conn *c)
{
	char tmp[4096];
	ssize_t total = 0;
	for (;;) {
		ssize_t n = recv(c->fd, tmp, sizeof tmp, MSG_DONTWAIT);
		if (n > 0) {
			total += n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		return total;
	}
}
