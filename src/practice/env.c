/* Setting up a practice server: temporary folder, certificates, Maildir, password, sockets. */
#include "smtpsh/practice_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "smtpsh/maildir.h"
#include "smtpsh/oauthd.h"

#define DEMO_USER "student"
#define PASSWORD_LEN 12
/* Connections the kernel completes before they are accepted: a hall of 500 connecting in the
   same second must not overflow it (a dropped SYN is retried only after a second or more).
   Linux silently caps it at net.core.somaxconn (4096 since 5.4). */
#define LISTEN_BACKLOG 4096

/* Letters and digits that cannot be misread (no 0/O, 1/l/I). */
static const char password_chars[] = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/* An app password looks like Google's and Yahoo's: 16 lower-case letters. */
#define APP_PASSWORD_LEN 16
static const char app_password_chars[] = "abcdefghijklmnopqrstuvwxyz";

static int make_password(char *out, size_t outlen, size_t want, const char *chars)
{
	size_t nchars = strlen(chars), n = 0;
	unsigned limit = 256 - 256 % (unsigned)nchars; /* no modulo bias */
	while (n < want && n + 1 < outlen) {
		unsigned char rnd[16];
		if (RAND_bytes(rnd, sizeof rnd) != 1)
			return -1;
		for (size_t i = 0; i < sizeof rnd && n < want && n + 1 < outlen; i++)
			if (rnd[i] < limit)
				out[n++] = chars[rnd[i] % nchars];
		OPENSSL_cleanse(rnd, sizeof rnd);
	}
	out[n] = '\0';
	return 0;
}

static bool is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
	return ss->ss_family == AF_INET6 &&
	       IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

static bool is_wildcard(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

static int parse_addr(const char *text, unsigned port, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof *ss);
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		*len = sizeof *v4;
		return 0;
	}
	if (inet_pton(AF_INET6, text, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		*len = sizeof *v6;
		return 0;
	}
	return -1;
}

/* A listening socket on text:port; returns the fd (and the port bound), or -1 with errno. */
static int listen_on(const char *text, unsigned *port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	if (parse_addr(text, *port, &ss, &len) < 0) {
		errno = EINVAL;
		return -1;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (ss.ss_family == AF_INET6 && strcmp(text, "::1") == 0)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
		*port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
						      : ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

static void close_listeners(struct practice_env *e)
{
	for (size_t i = 0; i < e->nfds; i++)
		close(e->fds[i]);
	e->nfds = 0;
	if (e->oauth_fd >= 0)
		close(e->oauth_fd);
	e->oauth_fd = -1;
}

/* Listens on port_text (on 127.0.0.1 and ::1 for --serve, or --listen's address), adding
   the sockets after those already made; implicit: TLS from the first byte on them. The port
   bound goes to *bound. */
static int bind_port(struct practice_env *e, const struct practice_options *o,
		     const char *port_text, bool implicit, unsigned *bound, char *err,
		     size_t errlen)
{
	char *end;
	unsigned long want = strtoul(port_text, &end, 10);
	if (!*port_text || *end || want > 65535) {
		snprintf(err, errlen, "bad port '%s' (0 to 65535; 0 picks a free one)", port_text);
		return -1;
	}
	const char *addrs[2] = {o->listen ? o->listen : "127.0.0.1", NULL};
	if (!o->listen && o->serve)
		addrs[1] = "::1";
	struct sockaddr_storage ss;
	socklen_t len;
	if (parse_addr(addrs[0], 0, &ss, &len) < 0) {
		snprintf(err, errlen, "--listen needs a numeric IPv4 or IPv6 address, not '%s'",
			 addrs[0]);
		return -1;
	}
	e->loopback = is_loopback(&ss);
	size_t first = e->nfds;
	for (int attempt = 0; attempt < 20; attempt++) {
		unsigned port = (unsigned)want;
		int fd = listen_on(addrs[0], &port);
		if (fd < 0) {
			snprintf(err, errlen, "cannot listen on %s port %lu: %s", addrs[0], want,
				 strerror(errno));
			return -1;
		}
		e->fds[first] = fd;
		e->implicit[first] = implicit;
		snprintf(e->addrs[first], sizeof e->addrs[first], "%s", addrs[0]);
		e->nfds = first + 1;
		*bound = port;
		if (!addrs[1])
			return 0;
		fd = listen_on(addrs[1], &port);
		if (fd >= 0) {
			e->fds[first + 1] = fd;
			e->implicit[first + 1] = implicit;
			snprintf(e->addrs[first + 1], sizeof e->addrs[first + 1], "%s", addrs[1]);
			e->nfds = first + 2;
			return 0;
		}
		if (errno != EADDRINUSE || want != 0)
			return 0;     /* no ::1 on this machine, or its port is taken: IPv4 only */
		close(e->fds[first]); /* the free IPv4 port is taken on ::1: pick another */
		e->nfds = first;
	}
	snprintf(err, errlen, "cannot find a port free on both 127.0.0.1 and ::1");
	return -1;
}

/* The listening ports: PORT (STARTTLS, or implicit TLS with --tls), and --tls-port (implicit
   TLS) when given. Unprivileged defaults: 2525, 2587 with --like, 2465 with --tls. */
static int bind_all(struct practice_env *e, const struct practice_options *o, char *err,
		    size_t errlen)
{
	const char *port_text = o->port	    ? o->port
				: !o->serve ? "0"
				: o->tls    ? PRACTICE_SERVE_TLS_PORT
				: o->like   ? PRACTICE_SERVE_LIKE_PORT
					    : PRACTICE_SERVE_PORT;
	if (bind_port(e, o, port_text, o->tls, &e->port, err, errlen) < 0)
		return -1;
	if (o->tls_port && bind_port(e, o, o->tls_port, true, &e->tls_port, err, errlen) < 0) {
		close_listeners(e);
		return -1;
	}
	return 0;
}

bool practice_env_implicit_tls(const struct practice_env *e, int fd)
{
	for (size_t i = 0; i < e->nfds; i++)
		if (e->fds[i] == fd)
			return e->implicit[i];
	return false;
}

/*
 * A lecture hall connects at once (issue 17), and each connection holds up to
 * PRACTICE_FDS_PER_CONN descriptors: the soft limit on open files (often 1024, for select()'s
 * sake; this server polls) is raised to the hard one, and what it then allows is the ceiling.
 */
static int set_limits(struct practice_env *e, const struct practice_options *o, char *err,
		      size_t errlen)
{
	struct rlimit rl;
	unsigned long long files = 1024; /* when the limit cannot be read: the common default */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		if (rl.rlim_cur != rl.rlim_max) {
			struct rlimit raised = {rl.rlim_max, rl.rlim_max};
			if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
				rl.rlim_cur = rl.rlim_max;
		}
		files = rl.rlim_cur == RLIM_INFINITY ? ~0ULL : (unsigned long long)rl.rlim_cur;
	}
	/* --serve --record keeps each connection's transcript open too */
	unsigned per = PRACTICE_FDS_PER_CONN + (o->record ? 1 : 0);
	unsigned long long fit = files > PRACTICE_FDS_OWN ? (files - PRACTICE_FDS_OWN) / per : 0;
	if (fit > 1000000)
		fit = 1000000; /* --max-clients' own ceiling (cli.c) */
	e->max_clients = o->max_clients ? o->max_clients : PRACTICE_CLIENTS_DEFAULT;
	if (e->max_clients > fit) {
		if (o->max_clients || fit == 0) {
			snprintf(err, errlen,
				 "--max-clients %u does not fit in the limit on open files (%llu): "
				 "%u descriptors per client and %u for the server serve at most "
				 "%llu (raise the hard limit: ulimit -Hn, or prlimit --nofile)",
				 e->max_clients, files, per, PRACTICE_FDS_OWN,
				 fit);
			return -1;
		}
		snprintf(e->limits_note, sizeof e->limits_note,
			 "the limit on open files (%llu) serves at most %llu clients at once, not "
			 "%u (--max-clients)",
			 files, fit, e->max_clients);
		e->max_clients = (unsigned)fit;
	}
	e->max_per_address = o->max_per_address ? o->max_per_address : e->max_clients;
	if (e->max_per_address > e->max_clients)
		e->max_per_address = e->max_clients;
	return 0;
}

int practice_env_setup(struct practice_env *e, const struct practice_options *o, char *err,
		       size_t errlen)
{
	memset(e, 0, sizeof *e);
	if (set_limits(e, o, err, errlen) < 0)
		return -1;
	e->oauth_fd = -1;
	const char *tmp = getenv("TMPDIR");
	if (!tmp || !*tmp || strlen(tmp) > 900)
		tmp = "/tmp";
	snprintf(e->dir, sizeof e->dir, "%s/smtpsh-%s.XXXXXX", tmp,
		 o->serve ? "serve" : "practice");
	if (!mkdtemp(e->dir)) {
		snprintf(err, errlen, "cannot make a temporary folder in %s: %s", tmp,
			 strerror(errno));
		e->dir[0] = '\0';
		return -1;
	}
	snprintf(e->cafile, sizeof e->cafile, "%s/ca.pem", e->dir);
	snprintf(e->certfile, sizeof e->certfile, "%s/server-cert.pem", e->dir);
	snprintf(e->clientfile, sizeof e->clientfile, "%s/client.pem", e->dir);
	snprintf(e->logfile, sizeof e->logfile, "%s/server.log", e->dir);
	if (o->maildir) {
		char cwd[PATH_MAX] = "";
		if (o->maildir[0] != '/' && !getcwd(cwd, sizeof cwd)) {
			snprintf(err, errlen, "cannot find the current folder: %s",
				 strerror(errno));
			goto fail;
		}
		size_t clen = strlen(cwd), mlen = strlen(o->maildir);
		if (clen + 1 + mlen >= sizeof e->maildir) {
			snprintf(err, errlen, "the --maildir path is too long");
			goto fail;
		}
		memcpy(e->maildir, cwd, clen);
		if (clen)
			e->maildir[clen++] = '/';
		memcpy(e->maildir + clen, o->maildir, mlen + 1);
	} else {
		snprintf(e->maildir, sizeof e->maildir, "%s/Maildir", e->dir);
	}
	if (maildir_create(e->maildir, err, errlen) < 0)
		goto fail;
	snprintf(e->user, sizeof e->user, "%s", DEMO_USER);
	if (make_password(e->password, sizeof e->password, PASSWORD_LEN, password_chars) < 0 ||
	    make_password(e->app_password, sizeof e->app_password, APP_PASSWORD_LEN,
			  app_password_chars) < 0) {
		snprintf(err, errlen, "cannot draw a random password");
		goto fail;
	}
	if (bind_all(e, o, err, errlen) < 0)
		goto fail;
	/* the sign-in server listens where the SMTP side does (--serve --listen), so that a
	   class reaches both; its URLs name that address (127.0.0.1 for a wildcard, which names
	   no one address), and the certificate covers it as the SMTP side's name */
	struct sockaddr_storage ss;
	socklen_t len;
	const char *extra = NULL;
	bool wildcard = false;
	if (o->listen && parse_addr(o->listen, 0, &ss, &len) == 0) {
		wildcard = is_wildcard(&ss);
		if (!wildcard && strcmp(o->listen, "127.0.0.1") != 0 &&
		    strcmp(o->listen, "::1") != 0)
			extra = o->listen;
	}
	e->oauth_fd = oauthd_listen(o->listen, &e->oauth_port, err, errlen);
	if (e->oauth_fd < 0)
		goto fail;
	const char *host = o->listen && !wildcard ? o->listen : "127.0.0.1";
	bool v6 = strchr(host, ':') != NULL; /* a URL's IPv6 address is bracketed (RFC 3986) */
	snprintf(e->oauth_host, sizeof e->oauth_host, "%s%s%s", v6 ? "[" : "", host,
		 v6 ? "]" : "");
	e->ssl = practice_tls_context(e->cafile, e->certfile, e->clientfile, e->user, extra, err,
				      errlen);
	if (!e->ssl)
		goto fail;
	return 0;
fail:
	practice_env_cleanup(e);
	return -1;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

void practice_env_remove_dir(const struct practice_env *e)
{
	if (e->dir[0])
		nftw(e->dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

void practice_env_cleanup(struct practice_env *e)
{
	close_listeners(e);
	SSL_CTX_free(e->ssl);
	e->ssl = NULL;
	OPENSSL_cleanse(e->password, sizeof e->password);
	OPENSSL_cleanse(e->app_password, sizeof e->app_password);
	practice_env_remove_dir(e);
	e->dir[0] = '\0';
}
