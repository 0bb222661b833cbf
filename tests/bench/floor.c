/*
 * floor: the benchmark's minimal SMTP client, the "floor" smtpsh is measured against.
 *
 * It plays the benchmark's conversation (EHLO, STARTTLS, EHLO, AUTH PLAIN, MAIL, RCPT...,
 * DATA, the body, QUIT) with as little work as a client can do, and times it from inside
 * the process: no exec, no dynamic loading, no output but the numbers. What is left is the
 * server's own time (and the network's). It avoids the TLS 1.3 delayed-ACK stall (see
 * --settle) so that a stall it would suffer does not flatter the others.
 *
 * Built by tests/bench/benchlib.py: cc -O2 floor.c -lssl -lcrypto. Not part of smtpsh.
 *
 * Usage: floor [OPTIONS] HOST PORT
 *   --cafile FILE     trust FILE (PEM) and verify the server (host name HOST)
 *   --user U --pass P AUTH PLAIN with an initial response
 *   --from ADDR       MAIL FROM (default alice@example.test); "%d" in it becomes the
 *                     round number (0, 1...)
 *   --rcpt ADDR       RCPT TO (repeat; default bob@example.test)
 *   --ehlo NAME       the EHLO name (default floor)
 *   --body FILE       the message (headers and body): its LF or CRLF lines are sent with
 *                     CRLF, dot-stuffed here
 *   --rounds N        play the conversation N times (default 1)
 *   --pipeline        RFC 2920: MAIL, RCPTs and DATA in one write; the end of the body
 *                     and QUIT in one write
 *   --settle MODE     after the TLS handshake: "read" waits up to ~2 RTT for the session
 *                     tickets and reads them (what smtpsh did), "quickack" sends at once and
 *                     sets TCP_QUICKACK after each write so the tickets are ACKed at once,
 *                     "none" does neither (the stall is then likely)
 * Prints "init MICROSECONDS" (OpenSSL's initialisation, the TLS context and the CA file:
 * what the rounds do not count) and "init-cpu MICROSECONDS" (the CPU time it took), then one
 * line per round: "round MICROSECONDS BYTES_SENT CPU_MICROSECONDS".
 * Exit status: 0 ok, 1 a reply was not the expected one, 2 usage, 3 network/TLS error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#define CHUNK (64 * 1024)
#define MAX_RCPTS 1000

enum settle { SETTLE_READ, SETTLE_QUICKACK, SETTLE_NONE };

struct opts {
	const char *host, *port, *cafile, *user, *pass, *from, *ehlo, *body;
	const char *rcpt[MAX_RCPTS];
	int nrcpt;
	int rounds;
	bool pipeline;
	enum settle settle;
};

struct cx {
	int fd;
	SSL *ssl;
	char in[64 * 1024];
	size_t inlen;
	bool quickack;
};

static SSL_CTX *ctx;

__attribute__((format(printf, 2, 3), noreturn)) static void die(int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("floor: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	ERR_print_errors_fp(stderr);
	va_end(ap);
	exit(status);
}

/* CPU time (user + system) this process used so far, in microseconds. */
static long long cpu_us(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL + ru.ru_utime.tv_usec +
	       ru.ru_stime.tv_usec;
}

static long long now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void wait_fd(int fd, short ev)
{
	struct pollfd p = {.fd = fd, .events = ev};
	if (poll(&p, 1, 30000) <= 0)
		die(3, "timeout");
}

static void quickack(struct cx *c)
{
	if (c->quickack) {
		int one = 1;
		setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
	}
}

static void put(struct cx *c, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t n;
		if (c->ssl) {
			int r = SSL_write(c->ssl, p, (int)len);
			if (r <= 0) {
				int e = SSL_get_error(c->ssl, r);
				if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
					wait_fd(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT);
					continue;
				}
				die(3, "SSL_write failed");
			}
			n = r;
		} else {
			n = send(c->fd, p, len, MSG_NOSIGNAL);
			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR) {
					wait_fd(c->fd, POLLOUT);
					continue;
				}
				die(3, "send: %s", strerror(errno));
			}
		}
		p += n;
		len -= (size_t)n;
	}
	quickack(c);
}

/* Reads more bytes into c->in; false on EAGAIN when !block. */
static bool fill(struct cx *c, bool block)
{
	for (;;) {
		if (c->inlen == sizeof c->in)
			die(3, "reply too long");
		ssize_t n;
		if (c->ssl) {
			int r = SSL_read(c->ssl, c->in + c->inlen, (int)(sizeof c->in - c->inlen));
			if (r <= 0) {
				int e = SSL_get_error(c->ssl, r);
				if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
					if (!block)
						return false;
					wait_fd(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT);
					continue;
				}
				die(3, "SSL_read failed (%d)", e);
			}
			n = r;
		} else {
			n = recv(c->fd, c->in + c->inlen, sizeof c->in - c->inlen, 0);
			if (n == 0)
				die(3, "connection closed");
			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR) {
					if (!block)
						return false;
					wait_fd(c->fd, POLLIN);
					continue;
				}
				die(3, "recv: %s", strerror(errno));
			}
		}
		c->inlen += (size_t)n;
		quickack(c);
		return true;
	}
}

/* Reads one complete reply; returns its code. */
static int reply(struct cx *c)
{
	for (;;) {
		size_t start = 0;
		char *nl;
		while ((nl = memchr(c->in + start, '\n', c->inlen - start))) {
			size_t end = (size_t)(nl - c->in) + 1;
			if (end - start >= 4 && c->in[start + 3] == ' ') {
				int code = atoi(c->in + start);
				memmove(c->in, c->in + end, c->inlen - end);
				c->inlen -= end;
				return code;
			}
			start = end;
		}
		fill(c, true);
	}
}

static void expect(struct cx *c, int want, const char *what)
{
	int got = reply(c);
	if (got != want)
		die(1, "%s: expected %d, got %d", what, want, got);
}

static void cmd(struct cx *c, const char *line, int want)
{
	char buf[1024];
	int n = snprintf(buf, sizeof buf, "%s\r\n", line);
	put(c, buf, (size_t)n);
	expect(c, want, line);
}

static void connect_to(struct cx *c, const struct opts *o)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
	if (getaddrinfo(o->host, o->port, &hints, &res) != 0)
		die(3, "cannot resolve %s", o->host);
	c->fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, res->ai_addr, res->ai_addrlen) < 0)
		die(3, "connect: %s", strerror(errno));
	freeaddrinfo(res);
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
}

static void starttls(struct cx *c, const struct opts *o)
{
	c->ssl = SSL_new(ctx);
	SSL_set_fd(c->ssl, c->fd);
	SSL_set_tlsext_host_name(c->ssl, o->host);
	SSL_set1_host(c->ssl, o->host);
	for (;;) {
		int r = SSL_connect(c->ssl);
		if (r == 1)
			break;
		int e = SSL_get_error(c->ssl, r);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
			die(3, "TLS handshake failed");
		wait_fd(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT);
	}
	if (o->settle == SETTLE_QUICKACK)
		c->quickack = true;
	if (o->settle == SETTLE_READ && SSL_version(c->ssl) == TLS1_3_VERSION) {
		struct tcp_info ti;
		socklen_t len = sizeof ti;
		int ms = 5;
		if (getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0)
			ms = (int)(ti.tcpi_rtt / 500 + 5);
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		if (poll(&p, 1, ms > 100 ? 100 : ms) > 0)
			fill(c, false); /* the tickets: SSL_read handles them */
	}
}

/* The message: the file's lines as CRLF lines, dot-stuffed, in writes of about CHUNK. */
static size_t send_body(struct cx *c, const char *path)
{
	static char in[CHUNK], out[2 * CHUNK + 4];
	size_t o = 0, total = 0;
	bool bol = true;
	FILE *f = fopen(path, "rb");
	if (!f)
		die(2, "cannot open %s", path);
	size_t n;
	while ((n = fread(in, 1, sizeof in, f)) > 0) {
		const char *p = in, *end = in + n;
		while (p < end) {
			if (bol && *p == '.')
				out[o++] = '.';
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t run = nl ? (size_t)(nl - p) : (size_t)(end - p);
			if (run && p[run - 1] == '\r')
				run--; /* CRLF in the file */
			memcpy(out + o, p, run);
			o += run;
			if (nl) {
				out[o++] = '\r';
				out[o++] = '\n';
				p = nl + 1;
				bol = true;
			} else {
				p = end;
				bol = false;
			}
		}
		if (o >= CHUNK) {
			put(c, out, o);
			total += o;
			o = 0;
		}
	}
	fclose(f);
	if (!bol) {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	put(c, out, o);
	return total + o;
}

static long long round_once(const struct opts *o, int round, size_t *sent)
{
	char line[1200], from[300], ehlo[300];
	struct cx c = {.fd = -1};
	long long t0 = now_us();
	connect_to(&c, o);
	expect(&c, 220, "greeting");
	snprintf(ehlo, sizeof ehlo, "EHLO %s", o->ehlo);
	cmd(&c, ehlo, 250);
	cmd(&c, "STARTTLS", 220);
	starttls(&c, o);
	cmd(&c, ehlo, 250);
	if (o->user) {
		size_t ul = strlen(o->user), pl = strlen(o->pass);
		unsigned char raw[600], b64[900];
		if (ul + pl + 2 > sizeof raw)
			die(2, "user or password too long");
		raw[0] = 0;
		memcpy(raw + 1, o->user, ul);
		raw[1 + ul] = 0;
		memcpy(raw + 2 + ul, o->pass, pl);
		EVP_EncodeBlock(b64, raw, (int)(ul + pl + 2));
		snprintf(line, sizeof line, "AUTH PLAIN %s", b64);
		cmd(&c, line, 235);
	}
	const char *pct = strstr(o->from, "%d");
	if (pct)
		snprintf(from, sizeof from, "%.*s%d%s", (int)(pct - o->from), o->from, round,
			 pct + 2);
	else
		snprintf(from, sizeof from, "%s", o->from);
	if (o->pipeline) {
		static char group[MAX_RCPTS * 80 + 200];
		size_t g = (size_t)snprintf(group, sizeof group, "MAIL FROM:<%s>\r\n", from);
		for (int i = 0; i < o->nrcpt; i++)
			g += (size_t)snprintf(group + g, sizeof group - g, "RCPT TO:<%s>\r\n",
					      o->rcpt[i]);
		g += (size_t)snprintf(group + g, sizeof group - g, "DATA\r\n");
		put(&c, group, g);
		expect(&c, 250, "MAIL");
		for (int i = 0; i < o->nrcpt; i++)
			expect(&c, 250, "RCPT");
		expect(&c, 354, "DATA");
	} else {
		snprintf(line, sizeof line, "MAIL FROM:<%s>", from);
		cmd(&c, line, 250);
		for (int i = 0; i < o->nrcpt; i++) {
			snprintf(line, sizeof line, "RCPT TO:<%s>", o->rcpt[i]);
			cmd(&c, line, 250);
		}
		cmd(&c, "DATA", 354);
	}
	*sent = send_body(&c, o->body);
	if (o->pipeline) {
		put(&c, ".\r\nQUIT\r\n", 9);
		expect(&c, 250, "end of data");
		expect(&c, 221, "QUIT");
	} else {
		put(&c, ".\r\n", 3);
		expect(&c, 250, "end of data");
		cmd(&c, "QUIT", 221);
	}
	SSL_shutdown(c.ssl);
	SSL_free(c.ssl);
	close(c.fd);
	return now_us() - t0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"cafile", 1, 0, 'c'}, {"user", 1, 0, 'u'},	  {"pass", 1, 0, 'p'},
	    {"from", 1, 0, 'f'},   {"rcpt", 1, 0, 'r'},	  {"ehlo", 1, 0, 'e'},
	    {"body", 1, 0, 'b'},   {"rounds", 1, 0, 'R'}, {"pipeline", 0, 0, 'P'},
	    {"settle", 1, 0, 'S'}, {0, 0, 0, 0},
	};
	struct opts o = {.from = "alice@example.test", .ehlo = "floor", .rounds = 1};
	int opt;
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case 'c':
			o.cafile = optarg;
			break;
		case 'u':
			o.user = optarg;
			break;
		case 'p':
			o.pass = optarg;
			break;
		case 'f':
			o.from = optarg;
			break;
		case 'r':
			if (o.nrcpt == MAX_RCPTS)
				die(2, "too many recipients");
			o.rcpt[o.nrcpt++] = optarg;
			break;
		case 'e':
			o.ehlo = optarg;
			break;
		case 'b':
			o.body = optarg;
			break;
		case 'R':
			o.rounds = atoi(optarg);
			break;
		case 'P':
			o.pipeline = true;
			break;
		case 'S':
			o.settle = !strcmp(optarg, "read")	 ? SETTLE_READ
				   : !strcmp(optarg, "quickack") ? SETTLE_QUICKACK
				   : !strcmp(optarg, "none")
				       ? SETTLE_NONE
				       : (die(2, "bad --settle"), SETTLE_NONE);
			break;
		default:
			die(2, "usage: floor [OPTIONS] HOST PORT (see floor.c)");
		}
	}
	if (argc - optind != 2 || !o.body || (o.user && !o.pass))
		die(2, "usage: floor [OPTIONS] HOST PORT (see floor.c)");
	o.host = argv[optind];
	o.port = argv[optind + 1];
	if (!o.nrcpt)
		o.rcpt[o.nrcpt++] = "bob@example.test";
	long long t0 = now_us(), c0 = cpu_us();
	OPENSSL_init_ssl(OPENSSL_INIT_LOAD_CONFIG, NULL);
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		die(3, "SSL_CTX_new");
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (o.cafile) {
		if (!SSL_CTX_load_verify_locations(ctx, o.cafile, NULL))
			die(3, "cannot load %s", o.cafile);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	printf("init %lld\n", now_us() - t0); /* OpenSSL's start: not in the rounds' times */
	printf("init-cpu %lld\n", cpu_us() - c0);
	for (int r = 0; r < o.rounds; r++) {
		size_t sent = 0;
		long long c = cpu_us();
		long long us = round_once(&o, r, &sent);
		printf("round %lld %zu %lld\n", us, sent, cpu_us() - c);
		fflush(stdout);
	}
	SSL_CTX_free(ctx);
	return 0;
}
