/*
 * The practice server's process: its private folder (certificates, Maildir), its listening
 * sockets, and the poll() loop serving many connections at once (src/practice/server.c).
 * Used by smtpsh --practice (in a child process) and smtpsh --serve (in the foreground).
 */
#ifndef SMTPSH_PRACTICE_SERVER_H
#define SMTPSH_PRACTICE_SERVER_H

#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include <openssl/ssl.h>

#include "smtpsh/buf.h"
#include "smtpsh/smtpd.h"

#define PRACTICE_LISTEN_MAX 4 /* a port (and --tls-port) on 127.0.0.1 and ::1 */
/*
 * How many clients are served at once (issue 17: a lecture hall that connects within one
 * second). Each connection holds PRACTICE_FDS_PER_CONN descriptors at most: its socket and,
 * during DATA or BDAT, the Maildir file of its message. The server keeps PRACTICE_FDS_OWN
 * for itself: standard input, output and error, the listening sockets, the control channel,
 * the Maildir that \inbox reads, and the socket of a client refused with a 421.
 */
#define PRACTICE_CLIENTS_DEFAULT 500 /* --max-clients and --max-per-address by default */
#define PRACTICE_FDS_PER_CONN 2
#define PRACTICE_FDS_OWN 16
#define PRACTICE_SERVE_PORT "2525"
#define PRACTICE_SERVE_LIKE_PORT "2587" /* --serve --like: port 587 style, unprivileged */
#define PRACTICE_SERVE_TLS_PORT "2465"	/* --serve --tls, --tls-port's default: port 465 style */

struct practice_options {
	bool serve;	     /* --serve (else --practice) */
	const char *port;    /* --serve PORT; NULL: 2525 for --serve, any free one for --practice */
	const char *listen;  /* --listen ADDR, or NULL: loopback only */
	const char *maildir; /* --maildir DIR, or NULL: inside the temporary folder */
	const char *script;  /* --serve --script FILE: play a transcript's server side */
	bool lmtp;	     /* --lmtp: speak LMTP (RFC 2033; smtpd.h's cfg.lmtp) */
	const char *like;    /* --like PROVIDER (practice_like.h), or NULL */
	bool tls;	     /* --serve --tls: PORT speaks implicit TLS (port 465 style) */
	const char *tls_port; /* --serve --tls-port PORT: a second port, implicit TLS */
	unsigned max_clients;	  /* --max-clients N, 0: PRACTICE_CLIENTS_DEFAULT */
	unsigned max_per_address; /* --max-per-address N, 0: the same as max_clients */
	bool quiet;	     /* --serve --quiet: only mistakes and connection summaries */
	const char *record;  /* --serve --record DIR: a transcript per connection there */
};

/* What a running practice server is made of. */
struct practice_env {
	char dir[1024];	       /* the temporary folder (removed at the end) */
	char cafile[PATH_MAX]; /* the CA certificate to trust */
	char certfile[PATH_MAX];
	char clientfile[PATH_MAX]; /* a client certificate and its key (PEM) for --cert: AUTH
				      EXTERNAL (issued by the CA to the demo user) */
	char maildir[PATH_MAX];
	char logfile[PATH_MAX]; /* --practice: the server's log */
	char user[32];
	char password[32];
	char app_password[32]; /* also logs in; with app-password on, only it */
	unsigned port;
	unsigned tls_port; /* --tls-port: the implicit-TLS port, or 0 */
	int fds[PRACTICE_LISTEN_MAX];
	bool implicit[PRACTICE_LISTEN_MAX];  /* fds[i] speaks TLS from the first byte */
	char addrs[PRACTICE_LISTEN_MAX][64]; /* numeric addresses listened on */
	size_t nfds;
	bool loopback; /* every address listened on is a loopback one */
	SSL_CTX *ssl;
	unsigned max_clients;	  /* connections served at once (--max-clients) */
	unsigned max_per_address; /* of them from one client address */
	char limits_note[200];	  /* why the default max_clients was lowered, or "" */
	/* the practice sign-in server (oauthd.h): HTTPS at oauth_port on 127.0.0.1, or on
	   --listen's address with --serve; oauth_host names it in its URLs ("127.0.0.1",
	   "192.0.2.7", "[2001:db8::7]"). The fd is -1 once oauthd_server_start owns it. */
	int oauth_fd;
	unsigned oauth_port;
	char oauth_host[72];
};

/*
 * Makes the temporary folder, the certificates, the Maildir and the demo password, and
 * binds the listening sockets. Returns 0, or -1 with a reason in err (everything undone).
 * First the limits (--max-clients, --max-per-address) are checked against the limit on open
 * files, whose soft value is raised to the hard one (RLIMIT_NOFILE): a --max-clients that
 * cannot fit is refused (err says how many can be served); the default is lowered to what
 * fits, and limits_note says so.
 */
int practice_env_setup(struct practice_env *e, const struct practice_options *o, char *err,
		       size_t errlen);
/* Does the listening socket fd speak implicit TLS (--tls, --tls-port)? */
bool practice_env_implicit_tls(const struct practice_env *e, int fd);
/* Closes the sockets, frees the TLS context, removes the temporary folder (never --maildir). */
void practice_env_cleanup(struct practice_env *e);
/* Removes the temporary folder only (what practice_env_cleanup does last). */
void practice_env_remove_dir(const struct practice_env *e);

/* Makes the CA (to cafile), the server certificate (to certfile) for localhost, 127.0.0.1,
   ::1 and extra_ip (or NULL), and a client certificate for client_cn with its key (to
   clientfile, mode 0600); returns the server's TLS context, which asks every client for a
   certificate (never requires one), or NULL with err. */
SSL_CTX *practice_tls_context(const char *cafile, const char *certfile, const char *clientfile,
			      const char *client_cn, const char *extra_ip, char *err,
			      size_t errlen);
/* The identity (CN) of the client certificate the handshake of ssl verified against the
   practice CA, into out; false when there is none (or it is not the CA's). */
bool practice_client_identity(SSL *ssl, char *out, size_t outlen);

/* What the teacher view counted since the server started. */
struct practice_counts {
	unsigned long clients;		 /* connections seen */
	unsigned long ended;		 /* ... of which ended */
	unsigned long clients_delivered; /* ended having delivered a message */
	unsigned long clients_failed;	 /* ended without one */
	unsigned long delivered, failed; /* messages */
	unsigned long mistakes;		 /* mistakes named (diagnose.h) */
};

struct practice_loop {
	struct practice_env *env;
	struct smtpd_config cfg;
	FILE *out;	/* where conversations and notes are printed */
	bool show_body; /* print message lines too (the first 20 of each message) */
	bool quiet;	/* --serve --quiet: only the mistakes and the connection summaries */
	const char *record_dir; /* --serve --record DIR (serve_record.h), or NULL */
	struct practice_counts counts;
	int control_in;	 /* control lines come from here (-1: none) */
	int control_out; /* replies go here (-1: printed to out as "*" lines) */
	volatile sig_atomic_t *stop;
};

/*
 * The server's side of l->cfg that --practice and --serve share, from l->env and the options:
 * the host name, the demo login, TLS, LMTP, the teaching faults at their defaults with o->like's
 * provider (by its own name), and the Maildir as the store.
 */
void practice_loop_config(struct practice_loop *l, const struct practice_options *o);

/*
 * Serves connections until *stop is set (or the control channel ends, when control_out is
 * a socket). Control lines: "show", "help", "reset", "stats", "NAME VALUE...", "quit".
 * Replies to control_out are lines "- text" and a last line "ok [text]" or "error text".
 * Returns 0, or -1 when poll() failed.
 */
int practice_loop_run(struct practice_loop *l);

/* The counts as one line (for the "stats" control line and the end of --serve). */
void practice_loop_stats(const struct practice_loop *l, struct buf *out);

#endif
