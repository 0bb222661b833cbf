/*
 * The practice server's mock authorization server (issue 18, "Offline, for class"): what a
 * provider such as Microsoft's identity platform does for SMTP's OAuth2, small enough to read,
 * on loopback only. It speaks the device authorization grant (RFC 8628), the authorization
 * code grant with PKCE S256 (RFC 6749 4.1, RFC 7636) behind a consent page, refresh tokens
 * (RFC 6749 6, rotated on each use as Microsoft does), revocation (RFC 7009); its tokens are
 * random (RAND_bytes) and the SMTP side checks them (oauthd_check_token).
 *
 * The core (src/practice/oauthd.c) is pure: a complete HTTP request in (oauthd_http_parse
 * finds where it ends, bounded, fuzzed by tests/fuzz/fuzz_oauthd.c), the response bytes out,
 * the clock passed in; no I/O, no locks. src/practice/oauthd_serve.c serves it over HTTPS with
 * the practice CA's certificate in a thread of the practice server's process, and locks.
 * Nothing here prints a token; the notes it makes (for the teacher's screen) never hold one.
 */
#ifndef SMTPSH_OAUTHD_H
#define SMTPSH_OAUTHD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "smtpsh/buf.h"

#define OAUTHD_HEAD_MAX 8192 /* request line and headers, the blank line included */
#define OAUTHD_BODY_MAX 8192 /* a form body (Content-Length); more: 413 */
/* A lecture hall (issue 17: up to 500 students) signs in at once: each student's device code
   must outlive the class's others, and each grant the next lesson's sign-ins. */
#define OAUTHD_GRANTS 1024 /* grants remembered (the oldest is forgotten), ~0.8 MB */
#define OAUTHD_PENDING 512 /* sign-ins in progress (codes, device codes), ~0.9 MB */
#define OAUTHD_CLIENT_ID "smtpsh-practice"
/* The scope SMTP needs, as Microsoft names it (Google's https://mail.google.com/ is taken
   too), and the one the practice profile asks for. */
#define OAUTHD_SMTP_SCOPE "https://outlook.office.com/SMTP.Send"
#define OAUTHD_SCOPE OAUTHD_SMTP_SCOPE " offline_access"
#define OAUTHD_ACCESS_LIFETIME 3600 /* s; Microsoft's tokens live 60-90 minutes */
#define OAUTHD_SHORT_LIFETIME 5	    /* s, while the oauth-expired fault is on */
#define OAUTHD_DEVICE_LIFETIME 900  /* s a device code lives (Microsoft's 15 minutes) */
#define OAUTHD_INTERVAL 2	    /* s between device polls (a class does not wait 5) */

/* One HTTP request, as oauthd_http_parse found it (pointers into the caller's bytes). */
struct oauthd_http {
	char method[8];	   /* "GET", "POST" */
	char target[2048]; /* the request target ("/token", "/authorize?..."), NUL-terminated */
	const char *body;  /* Content-Length octets (not NUL-terminated), or NULL */
	size_t body_len;
	size_t total; /* octets the request takes, head and body */
};

/*
 * Looks for one complete request in data[0..len): returns 1 with out filled, 0 when more
 * octets are needed, or an HTTP status to answer and close with: 400 (malformed), 411 (a POST
 * without Content-Length), 413 (body over OAUTHD_BODY_MAX), 414 (target too long), 431 (head
 * over OAUTHD_HEAD_MAX), 501 (chunked, or a method other than GET and POST), 505 (not HTTP/1.x).
 */
int oauthd_http_parse(const char *data, size_t len, struct oauthd_http *out);

/* The answer to a request oauthd_http_parse refused with status (an empty body; the
   connection closes), into resp (reset first). */
void oauthd_refusal(int status, struct buf *resp);

/* The faults of \practice (practice_settings.h's oauth_*). */
struct oauthd_faults {
	bool expired;	  /* tokens live OAUTHD_SHORT_LIFETIME s; those issued count as expired */
	bool scope_wrong; /* tokens are issued without the SMTP scope */
	bool revoked;	  /* turned on: every grant so far is revoked (refresh: invalid_grant) */
};

struct oauthd;

/* A mock server whose pages name base_url ("https://127.0.0.1:PORT") and whose sign-in is
   for account (the demo user). NULL when memory ran out. */
struct oauthd *oauthd_new(const char *base_url, const char *account);
void oauthd_free(struct oauthd *o);

/* Sets the faults; revoked turning on revokes every grant there is. */
void oauthd_set_faults(struct oauthd *o, const struct oauthd_faults *f);

/*
 * Answers one request: the whole HTTP response (status line, headers, body; the connection
 * closes after it) into resp, reset first. A short note for the teacher's screen into note
 * ("token: device code granted for ..."; never a token). Returns 0, or -1 when memory ran out.
 */
int oauthd_handle(struct oauthd *o, const struct oauthd_http *req, time_t now, struct buf *resp,
		  struct buf *note);

/* What the SMTP side learns of a bearer token. */
enum oauthd_verdict {
	OAUTHD_TOKEN_OK,
	OAUTHD_TOKEN_UNKNOWN,	 /* never issued, or replaced by a newer one of its grant */
	OAUTHD_TOKEN_EXPIRED,	 /* its lifetime is over (or the oauth-expired fault) */
	OAUTHD_TOKEN_REVOKED,	 /* its grant was revoked (logout, the oauth-revoked fault) */
	OAUTHD_TOKEN_SCOPE,	 /* issued without the SMTP scope */
	OAUTHD_TOKEN_OTHER_USER, /* issued for another account than the one logging in */
};

/* Checks an access token token[0..len) presented for user (NULL: not said) at now. */
enum oauthd_verdict oauthd_check_token(struct oauthd *o, const char *token, size_t len,
				       const char *user, time_t now);

/* How the SMTP side reaches the checker (smtpd_config.oauth; oauthd_serve.c fills it in,
   locking around the core). */
struct oauthd_hooks {
	enum oauthd_verdict (*check)(void *arg, const char *token, size_t len, const char *user);
	void (*faults)(void *arg, const struct oauthd_faults *f);
	void *arg;
};

/* ---- serving it (src/practice/oauthd_serve.c) ------------------------------------------- */

/* Listens on addr (a numeric IPv4 or IPv6 address: --serve --listen's, so that a class
   reaches it; NULL: 127.0.0.1) at a port the system picks (before the practice server forks,
   so the shell knows it). Returns the fd (its port in *port), or -1 with err. */
int oauthd_listen(const char *addr, unsigned *port, char *err, size_t errlen);

struct ssl_ctx_st;
struct oauthd_server;

/*
 * A lecture hall signs in at once: up to OAUTHD_CONNS connections are served side by side (a
 * fixed number, not --max-clients: each is one short request and answer, so a class of 500
 * rarely holds more than a few at the same instant, and 256 bound the thread's memory at
 * about 256 x (16 KiB of request + TLS state) whatever --max-clients says); one more is
 * closed on accept. Each has OAUTHD_CONN_MS for its handshake, request and answer.
 */
#define OAUTHD_CONNS 256
#define OAUTHD_CONN_MS 10000

/*
 * Serves the core over HTTPS (ctx: the practice server's certificate) on the listening fd in
 * a thread of its own, OAUTHD_CONNS connections at once, each bounded: a request must arrive
 * within OAUTHD_CONN_MS, at most OAUTHD_HEAD_MAX + OAUTHD_BODY_MAX octets; log (may be NULL)
 * gets one line per request.
 * Its pages and verification_uri name https://HOST:PORT (host as practice_env's oauth_host).
 * Fills hooks for smtpd_config. NULL with err when the thread could not start (fd closed).
 */
struct oauthd_server *oauthd_server_start(int fd, const char *host, unsigned port,
					  struct ssl_ctx_st *ctx, const char *account, FILE *log,
					  struct oauthd_hooks *hooks, char *err, size_t errlen);
/* Stops the thread, closes the socket, frees everything. */
void oauthd_server_stop(struct oauthd_server *s);

#endif
