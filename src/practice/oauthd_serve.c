/*
 * The mock authorization server over HTTPS (oauthd.h): a thread of the practice server's
 * process, so that the SMTP side checks the tokens it issued in memory, with no file and no
 * second process to keep in step. The core (oauthd.c) is touched under one mutex, by this
 * thread (requests) and by the server's loop (token checks, faults).
 *
 * A lecture hall signs in at once (issue 17), so the thread serves its connections side by
 * side in a poll() loop, as src/practice/server.c does for SMTP: each socket non-blocking, each
 * connection's TLS (SSL_accept, SSL_read, SSL_write) resumed where it asked to wait
 * (SSL_ERROR_WANT_READ/WRITE), so a silent client or a stuck browser holds only its own slot.
 * Every connection is bounded: OAUTHD_CONN_MS in all (handshake, request, answer), a request of
 * at most OAUTHD_HEAD_MAX + OAUTHD_BODY_MAX octets, then the answer and close (HTTP/1.1
 * "Connection: close"); at most OAUTHD_CONNS at once, one over that is closed on accept.
 */
#include "smtpsh/oauthd.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>

#define TICK_MS 200 /* the longest poll(), so that deadlines and stop are looked at */

/* Where a connection is: the TLS handshake, reading its request, writing the answer. */
enum conn_state { C_FREE, C_ACCEPT, C_READ, C_WRITE };

struct conn {
	enum conn_state st;
	int fd;
	SSL *ssl;
	short want;	 /* POLLIN or POLLOUT: what TLS waits for */
	long deadline;	 /* ms on the monotonic clock (now_ms) */
	struct buf in;	 /* the request so far (bounded) */
	struct buf resp; /* the answer */
	size_t off;	 /* of resp written */
};

struct oauthd_server {
	struct oauthd *core;
	pthread_mutex_t lock;
	pthread_t thread;
	int fd;
	SSL_CTX *ctx;
	FILE *log;
	volatile int stop; /* set by oauthd_server_stop, read by the thread (under lock) */
	struct conn conns[OAUTHD_CONNS];
	unsigned open;	   /* conns not C_FREE */
	bool full_noted;   /* the limit's log line is written once per time it is reached */
	long accept_again; /* now_ms() from which the listener is polled again (after EMFILE) */
};

int oauthd_listen(const char *addr, unsigned *port, char *err, size_t errlen)
{
	if (!addr)
		addr = "127.0.0.1";
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	if (inet_pton(AF_INET, addr, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		len = sizeof *v4;
	} else if (inet_pton(AF_INET6, addr, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		len = sizeof *v6;
	} else {
		snprintf(err, errlen, "the sign-in server needs a numeric address, not '%s'", addr);
		return -1;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	/* a class's connections may all arrive in the same instant: a backlog to hold them */
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, SOMAXCONN) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		snprintf(err, errlen, "cannot listen on %s for the sign-in server: %s", addr,
			 strerror(errno));
		close(fd);
		return -1;
	}
	*port = ntohs(ss.ss_family == AF_INET ? v4->sin_port : v6->sin6_port);
	return fd;
}

static long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static bool stopping(struct oauthd_server *s)
{
	pthread_mutex_lock(&s->lock);
	bool stop = s->stop;
	pthread_mutex_unlock(&s->lock);
	return stop;
}

static void conn_close(struct oauthd_server *s, struct conn *c)
{
	if (c->ssl) {
		if (c->st == C_WRITE && c->off == c->resp.len)
			SSL_shutdown(c->ssl); /* close_notify, once, not waited for */
		SSL_free(c->ssl);
	}
	close(c->fd);
	buf_free_secret(&c->in); /* a form may hold a code, a verifier or a refresh token */
	buf_free_secret(&c->resp);
	memset(c, 0, sizeof *c);
	c->st = C_FREE;
	c->fd = -1;
	s->open--;
}

/* The answer to the request in c->in (status: 1, parsed into req, or a refusal). */
static void conn_answer(struct oauthd_server *s, struct conn *c, int status,
			const struct oauthd_http *req)
{
	struct buf note;
	buf_init(&note);
	if (status == 1) {
		pthread_mutex_lock(&s->lock);
		oauthd_handle(s->core, req, time(NULL), &c->resp, &note);
		pthread_mutex_unlock(&s->lock);
		if (s->log)
			fprintf(s->log, "*  sign-in server: %s %.*s%s%s\n", req->method,
				(int)strcspn(req->target, "?"), req->target, note.len ? ": " : "",
				note.len ? note.data : "");
	} else {
		oauthd_refusal(status, &c->resp);
		if (s->log)
			fprintf(s->log, "*  sign-in server: a request refused (HTTP %d)\n", status);
	}
	if (s->log)
		fflush(s->log); /* the teacher's screen may be a pipe or a file */
	buf_free(&note);
	buf_free_secret(&c->in);
	c->st = C_WRITE;
	c->off = 0;
}

/* Whether TLS's last result r only asks to wait: then c->want says for what. */
static bool conn_waits(struct conn *c, int r)
{
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		c->want = POLLIN;
		return true;
	case SSL_ERROR_WANT_WRITE:
		c->want = POLLOUT;
		return true;
	default:
		return false;
	}
}

/*
 * Takes the connection as far as it goes without waiting: the handshake, then reads until a
 * whole request (or a refusal), then writes the answer. Returns false when it is over (the
 * answer written, the peer gone, a TLS error): the caller closes it.
 */
static bool conn_step(struct oauthd_server *s, struct conn *c)
{
	if (c->st == C_ACCEPT) {
		int r = SSL_accept(c->ssl);
		if (r <= 0)
			return conn_waits(c, r);
		c->st = C_READ;
	}
	while (c->st == C_READ) {
		char chunk[4096];
		int n = SSL_read(c->ssl, chunk, sizeof chunk);
		if (n <= 0)
			return conn_waits(c, n);
		bool full = c->in.len + (size_t)n > OAUTHD_HEAD_MAX + OAUTHD_BODY_MAX ||
			    buf_append(&c->in, chunk, (size_t)n) < 0;
		OPENSSL_cleanse(chunk, sizeof chunk); /* a form may hold a token */
		struct oauthd_http req;
		int status = full ? 413 : oauthd_http_parse(c->in.data, c->in.len, &req);
		if (status != 0)
			conn_answer(s, c, status, &req);
	}
	while (c->off < c->resp.len) {
		int n = SSL_write(c->ssl, c->resp.data + c->off, (int)(c->resp.len - c->off));
		if (n <= 0)
			return conn_waits(c, n);
		c->off += (size_t)n;
	}
	return false;
}

/* Takes every connection waiting on the listening socket, up to OAUTHD_CONNS at once. */
static void accept_all(struct oauthd_server *s, long now)
{
	for (;;) {
		int fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				s->accept_again =
				    now + TICK_MS; /* EMFILE: in a tick, not at once */
			return;
		}
		struct conn *c = NULL;
		for (size_t i = 0; !c && i < OAUTHD_CONNS && s->open < OAUTHD_CONNS; i++)
			if (s->conns[i].st == C_FREE)
				c = &s->conns[i];
		if (!c) {
			/* over the limit: closed at once, so the client knows (a 503 would need
			   the TLS handshake this connection was refused) */
			close(fd);
			if (s->log && !s->full_noted) {
				fprintf(
				    s->log,
				    "*  sign-in server: %u connections at once; more are closed "
				    "until one ends\n",
				    s->open);
				fflush(s->log);
			}
			s->full_noted = true;
			continue;
		}
		if (!(c->ssl = SSL_new(s->ctx))) {
			close(fd); /* out of memory: this one is dropped, the others go on */
			continue;
		}
		s->open++;
		c->fd = fd;
		c->st = C_ACCEPT;
		c->want = POLLIN;
		c->deadline = now + OAUTHD_CONN_MS;
		buf_init(&c->in);
		buf_init(&c->resp);
		SSL_set_fd(c->ssl, fd);
		/* this port is for browsers and smtpsh: no client certificate is asked for */
		SSL_set_verify(c->ssl, SSL_VERIFY_NONE, NULL);
		if (!conn_step(s, c))
			conn_close(s, c);
	}
}

static void *run(void *arg)
{
	struct oauthd_server *s = arg;
	struct pollfd *p = calloc(OAUTHD_CONNS + 1, sizeof *p);
	struct conn **polled = calloc(OAUTHD_CONNS + 1, sizeof *polled);
	if (!p || !polled) {
		free(p);
		free(polled);
		return NULL;
	}
	for (size_t i = 0; i < OAUTHD_CONNS; i++) {
		s->conns[i].st = C_FREE;
		s->conns[i].fd = -1;
	}
	int fl = fcntl(s->fd, F_GETFL);
	if (fl >= 0)
		fcntl(s->fd, F_SETFL, fl | O_NONBLOCK);
	while (!stopping(s)) {
		long now = now_ms();
		/* only the open connections are polled: poll() refuses more fds than the limit on
		   open files (EINVAL), which a teacher may have lowered; the listener is left out
		   for a tick after accept failed (EMFILE), so that no loop spins on it */
		nfds_t n = 0;
		if (now >= s->accept_again) {
			p[n] = (struct pollfd){.fd = s->fd, .events = POLLIN};
			polled[n++] = NULL;
		}
		for (size_t i = 0; i < OAUTHD_CONNS; i++) {
			struct conn *c = &s->conns[i];
			if (c->st != C_FREE && now > c->deadline)
				conn_close(s, c); /* too slow: its slot goes to the next one */
			if (c->st == C_FREE)
				continue;
			p[n] = (struct pollfd){.fd = c->fd, .events = c->want};
			polled[n++] = c;
		}
		if (s->open < OAUTHD_CONNS)
			s->full_noted = false;
		int r = poll(p, n, TICK_MS);
		if (r < 0 && errno != EINTR)
			poll(NULL, 0, TICK_MS); /* out of memory, say: wait, do not spin */
		if (r <= 0)
			continue;
		now = now_ms();
		for (nfds_t k = 0; k < n; k++) {
			struct conn *c = polled[k];
			if (!p[k].revents)
				continue;
			if (!c)
				accept_all(s, now);
			else if (!conn_step(s, c))
				conn_close(s, c);
		}
	}
	for (size_t i = 0; i < OAUTHD_CONNS; i++)
		if (s->conns[i].st != C_FREE)
			conn_close(s, &s->conns[i]);
	free(p);
	free(polled);
	return NULL;
}

static enum oauthd_verdict hook_check(void *arg, const char *token, size_t len, const char *user)
{
	struct oauthd_server *s = arg;
	pthread_mutex_lock(&s->lock);
	enum oauthd_verdict v = oauthd_check_token(s->core, token, len, user, time(NULL));
	pthread_mutex_unlock(&s->lock);
	return v;
}

static void hook_faults(void *arg, const struct oauthd_faults *f)
{
	struct oauthd_server *s = arg;
	pthread_mutex_lock(&s->lock);
	oauthd_set_faults(s->core, f);
	pthread_mutex_unlock(&s->lock);
}

struct oauthd_server *oauthd_server_start(int fd, const char *host, unsigned port,
					  struct ssl_ctx_st *ctx, const char *account, FILE *log,
					  struct oauthd_hooks *hooks, char *err, size_t errlen)
{
	struct oauthd_server *s = calloc(1, sizeof *s);
	char base[128];
	snprintf(base, sizeof base, "https://%s:%u", host ? host : "127.0.0.1", port);
	if (!s || !(s->core = oauthd_new(base, account))) {
		snprintf(err, errlen, "out of memory");
		free(s);
		close(fd);
		return NULL;
	}
	s->fd = fd;
	s->ctx = ctx;
	s->log = log;
	SSL_CTX_up_ref(ctx);
	pthread_mutex_init(&s->lock, NULL);
	int e = pthread_create(&s->thread, NULL, run, s);
	if (e) {
		snprintf(err, errlen, "cannot start the sign-in server's thread: %s", strerror(e));
		pthread_mutex_destroy(&s->lock);
		SSL_CTX_free(ctx);
		oauthd_free(s->core);
		free(s);
		close(fd);
		return NULL;
	}
	hooks->check = hook_check;
	hooks->faults = hook_faults;
	hooks->arg = s;
	return s;
}

void oauthd_server_stop(struct oauthd_server *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = 1;
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	close(s->fd);
	pthread_mutex_destroy(&s->lock);
	SSL_CTX_free(s->ctx);
	oauthd_free(s->core);
	free(s);
}
