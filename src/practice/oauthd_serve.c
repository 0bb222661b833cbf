/*
 * The mock authorization server over HTTPS (oauthd.h): a thread of the practice server's
 * process, so that the SMTP side checks the tokens it issued in memory, with no file and no
 * second process to keep in step. The thread owns its socket and serves one connection at a
 * time; the core (oauthd.c) is touched under one mutex, by this thread (requests) and by the
 * server's loop (token checks, faults). Every connection is bounded: 10 s in all, a request of
 * at most OAUTHD_HEAD_MAX + OAUTHD_BODY_MAX octets, then the answer and close (HTTP/1.1
 * "Connection: close"). A slow client delays the next sign-in by 10 s at most: a class's
 * browsers and shells, not the Internet, are its clients (it listens on 127.0.0.1 only).
 */
#include "smtpsh/oauthd.h"

#include <errno.h>
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

#define CONN_TIME_MS 10000 /* a whole connection: handshake, request, answer */
#define RECV_SLICE_S 1	   /* each blocking read, so that the deadline is looked at */

struct oauthd_server {
	struct oauthd *core;
	pthread_mutex_t lock;
	pthread_t thread;
	int fd;
	SSL_CTX *ctx;
	FILE *log;
	volatile int stop; /* set by oauthd_server_stop, read by the thread (under lock) */
};

int oauthd_listen(unsigned *port, char *err, size_t errlen)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof sa;
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 16) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		snprintf(err, errlen, "cannot listen on 127.0.0.1 for the sign-in server: %s",
			 strerror(errno));
		close(fd);
		return -1;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static bool stopping(struct oauthd_server *s)
{
	pthread_mutex_lock(&s->lock);
	bool stop = s->stop;
	pthread_mutex_unlock(&s->lock);
	return stop;
}

/* One connection: TLS, one request, one answer. */
static void serve_one(struct oauthd_server *s, int cfd)
{
	struct timeval tv = {RECV_SLICE_S, 0};
	setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(cfd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	SSL *ssl = SSL_new(s->ctx);
	if (!ssl)
		return;
	SSL_set_fd(ssl, cfd);
	/* this port is for browsers and smtpsh: no client certificate is asked for */
	SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
	int r;
	while ((r = SSL_accept(ssl)) <= 0) {
		int e = SSL_get_error(ssl, r);
		if ((e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) ||
		    ms_since(&t0) > CONN_TIME_MS || stopping(s)) {
			SSL_free(ssl);
			return;
		}
	}
	struct buf in, resp, note;
	buf_init(&in);
	buf_init(&resp);
	buf_init(&note);
	struct oauthd_http req;
	int status = 0;
	while (status == 0) {
		if (ms_since(&t0) > CONN_TIME_MS || stopping(s))
			goto out;
		char chunk[4096];
		int n = SSL_read(ssl, chunk, sizeof chunk);
		if (n <= 0) {
			int e = SSL_get_error(ssl, n);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
				continue;
			goto out;
		}
		bool full = in.len + (size_t)n > OAUTHD_HEAD_MAX + OAUTHD_BODY_MAX ||
			    buf_append(&in, chunk, (size_t)n) < 0;
		OPENSSL_cleanse(chunk, sizeof chunk); /* a form may hold a token */
		if (full) {
			status = 413;
			break;
		}
		status = oauthd_http_parse(in.data, in.len, &req);
	}
	if (status == 1) {
		pthread_mutex_lock(&s->lock);
		oauthd_handle(s->core, &req, time(NULL), &resp, &note);
		pthread_mutex_unlock(&s->lock);
		if (s->log)
			fprintf(s->log, "*  sign-in server: %s %.*s%s%s\n", req.method,
				(int)strcspn(req.target, "?"), req.target, note.len ? ": " : "",
				note.len ? note.data : "");
	} else {
		oauthd_refusal(status, &resp);
		if (s->log)
			fprintf(s->log, "*  sign-in server: a request refused (HTTP %d)\n", status);
	}
	if (s->log)
		fflush(s->log); /* the teacher's screen may be a pipe or a file */
	for (size_t off = 0; resp.data && off < resp.len && ms_since(&t0) <= CONN_TIME_MS;) {
		int n = SSL_write(ssl, resp.data + off, (int)(resp.len - off));
		if (n <= 0) {
			int e = SSL_get_error(ssl, n);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
				continue;
			break;
		}
		off += (size_t)n;
	}
	SSL_shutdown(ssl);
out:
	SSL_free(ssl);
	buf_free_secret(&in); /* a form may hold a code, a verifier or a refresh token */
	buf_free_secret(&resp);
	buf_free(&note);
}

static void *run(void *arg)
{
	struct oauthd_server *s = arg;
	while (!stopping(s)) {
		struct pollfd p = {.fd = s->fd, .events = POLLIN};
		if (poll(&p, 1, 200) <= 0)
			continue;
		int cfd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
		if (cfd < 0)
			continue;
		serve_one(s, cfd);
		close(cfd);
	}
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

struct oauthd_server *oauthd_server_start(int fd, unsigned port, struct ssl_ctx_st *ctx,
					  const char *account, FILE *log,
					  struct oauthd_hooks *hooks, char *err, size_t errlen)
{
	struct oauthd_server *s = calloc(1, sizeof *s);
	char base[64];
	snprintf(base, sizeof base, "https://127.0.0.1:%u", port);
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
