/*
 * The practice server's loop: one process, poll() over the listening sockets, the control
 * channel and every connection (plain or TLS, non-blocking). Each connection's SMTP is the
 * state machine of smtpd.c; this file only moves bytes (through net/conn.c, the client's own
 * non-blocking plain/TLS I/O), applies the "slow" delay and the idle timeout, runs the TLS
 * handshake after STARTTLS, and prints what happens.
 * Memory per connection is bounded: the engine takes at most SMTPD_IN_MAX bytes of input,
 * and no input is read while replies wait to be sent (a client that never reads stalls only
 * itself, and is dropped after the timeout).
 * A lecture hall connects at once (issue 17): up to env->max_clients connections (500 by
 * default), env->max_per_address of them from one address; a client beyond either limit gets
 * a 421 that names it. The counts are kept as connections come and go (a hash of the client
 * addresses), so that accepting stays O(1) however many are connected.
 */
#include "smtpsh/practice_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "smtpsh/authline.h"
#include "smtpsh/conn.h"
#include "smtpsh/diagnose.h"
#include "smtpsh/escape.h"
#include "smtpsh/maildir.h"
#include "smtpsh/practice_like.h"
#include "smtpsh/practice_settings.h"
#include "smtpsh/serve_record.h"
#include "smtpsh/oauthd.h"

#define BODY_SHOWN_MAX 20 /* message lines printed per message; then a summary */
#define READ_CHUNK 4096
#define CONTROL_MAX 4096

enum after {
	AFTER_NOTHING,
	AFTER_TLS,   /* the output is the 220 to STARTTLS: handshake next */
	AFTER_CLOSE, /* close once the output is sent */
};

/* How many connections one client address holds (a bucket's chain). */
struct addr_count {
	struct addr_count *next;
	unsigned n;
	char addr[sizeof((struct conn *)0)->peer_addr];
};

/* The connections counted: in all and per address. */
struct hall {
	size_t conns;
	struct addr_count **buckets;
	size_t nbuckets;	       /* a power of two */
	long long accept_paused_until; /* out of descriptors: the listeners wait until then */
	bool accept_failing;	       /* ... and the teacher was told (once until it works) */
};

struct pconn {
	struct pconn *next;
	struct addr_count *from; /* its address's count */
	struct practice_loop *loop;
	unsigned id;
	struct conn conn; /* the socket, and TLS once started */
	bool handshaking;
	short want; /* what the TLS layer waits for (POLLIN/POLLOUT), 0 when nothing */
	bool eof;   /* the client closed its side */
	bool dead;  /* closed: to be freed */
	enum after after;
	long long hold_until; /* the slow setting: output waits until then */
	long long idle_since; /* the last input read or output completed */
	struct smtpd_conn eng;
	/* the teacher view */
	struct diag diag;
	long long started; /* the first event (the greeting), 0 before */
	unsigned long body_shown, body_hidden;
	unsigned long long body_octets; /* of the message being shown, CRLF counted */
	struct serve_record *rec;	/* --record DIR: this connection's transcript, or NULL */
};

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- printing ----------------------------------------------------------------------------- */

/* Every line of the server's view goes through escape_append, as the client's view does;
   mark (a line-end mark of diagnose.h, or "") goes after it, apart. Printed even --quiet. */
static void emit_line(struct practice_loop *l, unsigned id, const char *marker, const char *text,
		      size_t len, const char *mark)
{
	struct buf b;
	buf_init(&b);
	if (id)
		buf_printf(&b, "[%u] ", id);
	buf_puts(&b, marker);
	buf_puts(&b, marker[0] == '*' ? "  " : " ");
	escape_append(&b, text, len, ESCAPE_DEFAULT);
	if (mark && *mark)
		buf_printf(&b, "   %s", mark);
	buf_putc(&b, '\n');
	if (b.data) {
		fwrite(b.data, 1, b.len, l->out);
		fflush(l->out);
	}
	buf_free(&b);
}

/* A line of the conversation: --quiet leaves it out. */
static void print_line(struct practice_loop *l, unsigned id, const char *marker, const char *text,
		       size_t len)
{
	if (!l->quiet)
		emit_line(l, id, marker, text, len, NULL);
}

static void print_note(struct practice_loop *l, unsigned id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void print_note(struct practice_loop *l, unsigned id, const char *fmt, ...)
{
	char text[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	print_line(l, id, "*", text, strlen(text));
}

/* The diagnosis' notes (mistakes, line-end explanations): shown even --quiet, recorded. */
static void print_diag(struct pconn *c, const struct diag_notes *n)
{
	for (size_t i = 0; i < n->n; i++) {
		emit_line(c->loop, c->id, "*", n->text[i], strlen(n->text[i]), NULL);
		serve_record_note(c->rec, n->text[i]);
	}
}

/* A line-end mark of diagnose.c in a transcript's words (a note after the line). */
static void record_mark(struct pconn *c, const char *mark)
{
	if (!c->rec || !*mark)
		return;
	if (strstr(mark, "[CR]"))
		serve_record_note(c->rec, "a CR inside this line");
	if (strstr(mark, "[LF]"))
		serve_record_note(c->rec, "bare LF at the end of this line");
	if (strstr(mark, "[no CRLF]"))
		serve_record_note(c->rec, "no line end: the connection closed before it");
}

/* --record DIR: the connection's transcript starts with its first event (the greeting). */
static void record_start(struct pconn *c, bool tls)
{
	struct practice_loop *l = c->loop;
	if (!l->record_dir)
		return;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	char addr[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	if (getsockname(c->conn.fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
			inet_ntop(AF_INET6, &a->sin6_addr, addr, sizeof addr);
			port = ntohs(a->sin6_port);
		} else if (ss.ss_family == AF_INET) {
			struct sockaddr_in *a = (struct sockaddr_in *)&ss;
			inet_ntop(AF_INET, &a->sin_addr, addr, sizeof addr);
			port = ntohs(a->sin_port);
		}
	}
	char err[400];
	c->rec = serve_record_open(l->record_dir, c->id, addr, port, c->conn.peer_addr,
				   c->conn.peer_port, tls, err, sizeof err);
	if (!c->rec)
		fprintf(stderr, "! error: --record: %s\n", err);
}

/* The summary of a message's lines past the first BODY_SHOWN_MAX. */
static void flush_hidden(struct pconn *c)
{
	if (c->body_hidden)
		print_note(c->loop, c->id, "... %lu more message line%s, %llu octets in all",
			   c->body_hidden, c->body_hidden == 1 ? "" : "s", c->body_octets);
	c->body_hidden = 0;
	c->body_shown = 0;
	c->body_octets = 0;
}

static enum diag_line_end line_end(enum smtpd_line_end e)
{
	return e == SMTPD_END_LF       ? DIAG_END_LF
	       : e == SMTPD_END_OCTETS ? DIAG_END_OCTETS
				       : DIAG_END_CRLF;
}

/*
 * The engine's events, in the one visual language of smtpsh: "->" is what the client sent
 * (the server received), "<-" what the server answered, "~" under TLS; message lines are
 * marked "| " apart from commands, and every line's end is checked (diagnose.c).
 */
static void on_event(void *arg, const struct smtpd_event *ev)
{
	struct pconn *c = arg;
	struct practice_loop *l = c->loop;
	struct diag_notes notes = {0};
	if (!c->started) {
		c->started = now_ms();
		l->counts.clients++;
		record_start(c, ev->tls);
	}
	serve_record_event(c->rec, ev);
	if (ev->type == SMTPD_EV_INFO) {
		print_line(l, c->id, "*", ev->text, ev->len);
		diag_server_note(&c->diag, ev->text, ev->len, &notes);
		print_diag(c, &notes);
		return;
	}
	if (ev->type == SMTPD_EV_SENT) {
		diag_reply(&c->diag, ev->text, ev->len);
		print_line(l, c->id, ev->tls ? "<~" : "<-", ev->text, ev->len);
		return;
	}
	const char *marker = ev->tls ? "~>" : "->";
	const char *mark = diag_line_end(&c->diag, ev->text, ev->len, line_end(ev->end), &notes);
	record_mark(c, mark);
	if (ev->body) {
		diag_message_line(&c->diag, ev->text, ev->len);
		c->body_octets += ev->len + (ev->end == SMTPD_END_OCTETS ? 0 : 2);
		if (!l->show_body || c->body_shown >= BODY_SHOWN_MAX) {
			c->body_hidden++;
		} else {
			c->body_shown++;
			if (!l->quiet) {
				struct buf b;
				buf_init(&b);
				buf_puts(&b, "| ");
				buf_append(&b, ev->text, ev->len);
				emit_line(l, c->id, marker, b.data ? b.data : "", b.len, mark);
				buf_free(&b);
			}
		}
		print_diag(c, &notes);
		return;
	}
	flush_hidden(c);
	diag_command(&c->diag, ev->text, ev->len, ev->secret, &notes);
	if (!l->quiet)
		emit_line(l, c->id, marker, ev->text, ev->len, mark);
	print_diag(c, &notes);
}

/* The connection closed with an unfinished line in the engine's input: shown with its mark
   (never an AUTH answer: redacted, as the engine would have). */
static void show_unended(struct pconn *c)
{
	const struct smtpd_conn *e = &c->eng;
	if (!e->in.len || e->skipping || e->state == SMTPD_S_CLOSED || e->state == SMTPD_S_BDAT)
		return;
	struct practice_loop *l = c->loop;
	struct diag_notes notes = {0};
	const char *mark = diag_line_end(&c->diag, e->in.data, e->in.len, DIAG_END_NONE, &notes);
	const char *marker = e->tls ? "~>" : "->";
	char shown[64];
	struct buf b;
	buf_init(&b);
	struct smtpd_event ev = {.type = SMTPD_EV_RECEIVED, .tls = e->tls, .end = SMTPD_END_CRLF};
	if (e->state == SMTPD_S_AUTH || e->sasl_astray) {
		ev.text = "<redacted>";
		ev.secret = true;
	} else if (e->state == SMTPD_S_DATA) {
		diag_message_line(&c->diag, e->in.data, e->in.len);
		ev.text = e->in.data;
		ev.len = e->in.len;
		ev.body = true;
	} else if (authline_redact(e->in.data, e->in.len, shown, sizeof shown)) {
		ev.text = shown;
		ev.secret = true;
	} else {
		ev.text = e->in.data;
		ev.len = e->in.len;
	}
	if (!ev.len)
		ev.len = strlen(ev.text);
	if (ev.body)
		buf_puts(&b, "| ");
	buf_append(&b, ev.text, ev.len);
	emit_line(l, c->id, marker, b.data ? b.data : "", b.len, mark);
	buf_free(&b);
	serve_record_event(c->rec, &ev);
	record_mark(c, mark);
	print_diag(c, &notes);
}

/* The connection's last lines: what the diagnosis found at the end, and a summary. */
static void conn_summary(struct pconn *c)
{
	struct practice_loop *l = c->loop;
	struct diag_notes notes = {0};
	diag_end(&c->diag, &notes);
	print_diag(c, &notes);
	const struct diag *d = &c->diag;
	long long ms = c->started ? now_ms() - c->started : 0;
	char text[400];
	snprintf(text, sizeof text,
		 "end of %s port %u: %lu command%s, %lu message%s delivered, %lu failed, %lu "
		 "mistake%s, %lld.%lld s",
		 c->conn.peer_addr, c->conn.peer_port, d->commands, d->commands == 1 ? "" : "s",
		 d->delivered, d->delivered == 1 ? "" : "s", d->failed, d->mistakes,
		 d->mistakes == 1 ? "" : "s", ms / 1000, ms % 1000 / 100);
	emit_line(l, c->id, "*", text, strlen(text), NULL);
	serve_record_note(c->rec, text);
	struct practice_counts *t = &l->counts;
	t->ended++;
	if (d->delivered)
		t->clients_delivered++;
	else
		t->clients_failed++;
	t->delivered += d->delivered;
	t->failed += d->failed;
	t->mistakes += d->mistakes;
}

void practice_loop_config(struct practice_loop *l, const struct practice_options *o)
{
	const struct like_provider *like = o->like ? like_find(o->like) : NULL;
	l->cfg.hostname = "localhost";
	l->cfg.user = l->env->user;
	l->cfg.password = l->env->password;
	l->cfg.app_password = l->env->app_password;
	l->cfg.tls_available = true;
	l->cfg.lmtp = o->lmtp;
	practice_settings_defaults(&l->cfg.settings);
	if (like) /* --like: checked by the command line */
		snprintf(l->cfg.settings.like, sizeof l->cfg.settings.like, "%s", like->name);
	maildir_store(&l->cfg.store, l->env->maildir);
}

void practice_loop_stats(const struct practice_loop *l, struct buf *out)
{
	const struct practice_counts *t = &l->counts;
	unsigned long live = t->clients - t->ended;
	buf_printf(out,
		   "%lu client%s seen: %lu delivered a message, %lu ended without one; %lu "
		   "message%s delivered, %lu failed; %lu mistake%s named",
		   t->clients, t->clients == 1 ? "" : "s", t->clients_delivered,
		   t->clients_failed, t->delivered, t->delivered == 1 ? "" : "s", t->failed,
		   t->mistakes, t->mistakes == 1 ? "" : "s");
	if (live)
		buf_printf(out, " (%lu still connected: counted when they end)", live);
}

/* --- connections --------------------------------------------------------------------------- */

static void conn_kill(struct pconn *c, const char *why)
{
	if (c->dead)
		return;
	flush_hidden(c);
	if (why)
		print_note(c->loop, c->id, "%s", why);
	if (why)
		serve_record_note(c->rec, why);
	if (c->started)
		conn_summary(c);
	serve_record_close(c->rec, NULL);
	c->rec = NULL;
	/* a close_notify (best effort) once TLS carried a conversation that ended */
	conn_close(&c->conn, c->handshaking || c->after == AFTER_NOTHING);
	smtpd_conn_free(&c->eng);
	c->dead = true;
}

static void do_handshake(struct pconn *c)
{
	char err[300];
	int r = conn_tls_accept(&c->conn, c->loop->env->ssl, err, sizeof err);
	if (r == CONN_IO_OK) {
		c->handshaking = false;
		c->want = 0;
		print_note(c->loop, c->id, "TLS established: %s %s", SSL_get_version(c->conn.ssl),
			   SSL_get_cipher_name(c->conn.ssl));
		if (c->rec) {
			char tls[200];
			snprintf(tls, sizeof tls, "TLS established: %s %s",
				 SSL_get_version(c->conn.ssl), SSL_get_cipher_name(c->conn.ssl));
			serve_record_note(c->rec, tls);
		}
		diag_tls(&c->diag);
		smtpd_tls_started(&c->eng);
		char id[128];
		if (practice_client_identity(c->conn.ssl, id, sizeof id))
			smtpd_tls_client_identity(&c->eng, id);
	} else if (r == CONN_IO_AGAIN) {
		c->want = (short)c->conn.want;
	} else {
		conn_kill(c, err);
	}
}

static void start_tls(struct pconn *c)
{
	c->after = AFTER_NOTHING;
	c->handshaking = true;
	/* the old-tls fault: this connection's SSL takes what a server of 2010 took (TLS 1.0,
	   anonymous suites); the shared context stays as it is for the others */
	if (c->loop->cfg.settings.old_tls && !c->conn.ssl) {
		SSL *ssl = SSL_new(c->loop->env->ssl);
		if (ssl && SSL_set_fd(ssl, c->conn.fd) == 1) {
			SSL_set_security_level(ssl, 0);
			SSL_set_min_proto_version(ssl, TLS1_VERSION);
			SSL_set_cipher_list(ssl, "ALL:@SECLEVEL=0");
			c->conn.ssl = ssl;
		} else {
			SSL_free(ssl);
		}
	}
	do_handshake(c);
}

/* Sends what the engine queued; false when the connection died. */
static bool write_some(struct pconn *c, long long now)
{
	struct buf *out = smtpd_out(&c->eng);
	while (out->len) {
		char err[300];
		ssize_t n = conn_write(&c->conn, out->data, out->len > 65536 ? 65536 : out->len,
				       err, sizeof err);
		if (n == CONN_IO_AGAIN) {
			c->want = (short)c->conn.want;
			return true;
		}
		if (n < 0) {
			conn_kill(c, c->conn.ssl ? "the client went away (TLS write failed)"
						 : "the client went away (write failed)");
			return false;
		}
		buf_consume(out, (size_t)n);
		c->idle_since = now;
	}
	c->want = 0;
	return true;
}

/* Reads what the client sent, as much as the engine takes. */
static void read_some(struct pconn *c, long long now)
{
	char chunk[READ_CHUNK];
	for (int rounds = 0; rounds < 8 && !c->dead && !c->eof && !c->handshaking; rounds++) {
		size_t room = smtpd_room(&c->eng);
		if (!room)
			return;
		if (room > sizeof chunk)
			room = sizeof chunk;
		char err[300];
		ssize_t n = conn_read(&c->conn, chunk, room, err, sizeof err);
		if (n == CONN_IO_AGAIN) {
			if (c->conn.want == POLLOUT) /* TLS must write first */
				c->want = POLLOUT;
			return;
		}
		if (n == CONN_IO_ERROR && c->conn.ssl) {
			conn_kill(c, err);
			return;
		}
		if (n < 0) { /* the end, or a socket error: what was read still counts */
			c->eof = true;
			return;
		}
		smtpd_feed(&c->eng, chunk, (size_t)n);
		c->idle_since = now;
		if (!conn_has_buffered(&c->conn) && (size_t)n < room)
			return;
	}
}

/* Moves a connection on as far as it can go without waiting. */
static void progress(struct pconn *c, long long now)
{
	const struct practice_settings *set = &c->loop->cfg.settings;
	while (!c->dead) {
		if (c->handshaking) {
			do_handshake(c);
			if (c->handshaking || c->dead)
				return;
			continue;
		}
		if (smtpd_out(&c->eng)->len) {
			if (now < c->hold_until)
				return;
			if (!write_some(c, now) || smtpd_out(&c->eng)->len)
				return;
		}
		if (c->after == AFTER_TLS) {
			start_tls(c);
			continue;
		}
		if (c->after == AFTER_CLOSE) {
			conn_kill(c, "connection closed");
			return;
		}
		enum smtpd_action a = smtpd_step(&c->eng, time(NULL));
		switch (a) {
		case SMTPD_NEED_MORE:
			if (c->eof) {
				show_unended(c);
				conn_kill(c, "the client closed the connection");
			}
			return;
		case SMTPD_NO_REPLY:
			continue;
		case SMTPD_REPLY:
		case SMTPD_STARTTLS:
		case SMTPD_CLOSE:
			c->hold_until = set->slow_ms ? now + set->slow_ms : 0;
			if (a != SMTPD_REPLY)
				c->after = a == SMTPD_STARTTLS ? AFTER_TLS : AFTER_CLOSE;
			continue;
		case SMTPD_DROP:
			conn_kill(c, "connection dropped (drop-after)");
			return;
		}
	}
}

static void check_timeout(struct pconn *c, long long now)
{
	long long limit = (long long)c->loop->cfg.settings.timeout * 1000;
	if (c->dead || now - c->idle_since < limit)
		return;
	if (c->handshaking || smtpd_out(&c->eng)->len || c->after != AFTER_NOTHING) {
		conn_kill(c, "timeout: the client stopped reading or answering");
		return;
	}
	print_note(c->loop, c->id, "the client said nothing for %u s",
		   c->loop->cfg.settings.timeout);
	smtpd_timeout(&c->eng);
	c->after = AFTER_CLOSE;
	c->hold_until = 0;
	c->idle_since = now;
}

static size_t count_conns(struct pconn *list)
{
	size_t n = 0;
	for (; list; list = list->next)
		n++;
	return n;
}

/* FNV-1a of a client address: the bucket of its count. */
static size_t addr_bucket(const struct hall *h, const char *addr)
{
	unsigned long long x = 14695981039346656037ULL;
	for (const unsigned char *p = (const unsigned char *)addr; *p; p++)
		x = (x ^ *p) * 1099511628211ULL;
	return (size_t)x & (h->nbuckets - 1);
}

static struct addr_count *addr_find(const struct hall *h, const char *addr)
{
	for (struct addr_count *a = h->buckets[addr_bucket(h, addr)]; a; a = a->next)
		if (strcmp(a->addr, addr) == 0)
			return a;
	return NULL;
}

/* One more connection from addr; NULL when out of memory. */
static struct addr_count *addr_take(struct hall *h, const char *addr)
{
	struct addr_count *a = addr_find(h, addr);
	if (!a) {
		a = calloc(1, sizeof *a);
		if (!a)
			return NULL;
		snprintf(a->addr, sizeof a->addr, "%s", addr);
		size_t b = addr_bucket(h, addr);
		a->next = h->buckets[b];
		h->buckets[b] = a;
	}
	a->n++;
	h->conns++;
	return a;
}

/* One connection fewer from a's address: its count goes when it reaches none. */
static void addr_release(struct hall *h, struct addr_count *a)
{
	h->conns--;
	if (--a->n)
		return;
	for (struct addr_count **pp = &h->buckets[addr_bucket(h, a->addr)]; *pp;
	     pp = &(*pp)->next) {
		if (*pp == a) {
			*pp = a->next;
			free(a);
			return;
		}
	}
}

/* A client beyond a limit: a 421 that names the limit (RFC 5321 3.8: 421 may come instead
   of the greeting), best effort, and a note for the teacher. */
static void refuse(struct practice_loop *l, struct conn *conn, bool per_address)
{
	char line[400], err[300];
	unsigned limit = per_address ? l->env->max_per_address : l->env->max_clients;
	int n = per_address
		    ? snprintf(line, sizeof line,
			       "421 4.7.0 %s Error: too many connections from %s: at most %u at "
			       "once from one address (--max-per-address)\r\n",
			       l->cfg.hostname, conn->peer_addr, limit)
		    : snprintf(line, sizeof line,
			       "421 4.7.0 %s Error: too many connections: at most %u at once "
			       "(--max-clients)\r\n",
			       l->cfg.hostname, limit);
	if (n > 0 && (size_t)n < sizeof line)
		conn_write(conn, line, (size_t)n, err, sizeof err);
	conn_close(conn, true);
	print_note(l, 0, "refused a connection from %s port %u: %u already%s (%s)", conn->peer_addr,
		   conn->peer_port, limit, per_address ? " from that address" : "",
		   per_address ? "--max-per-address" : "--max-clients");
}

/* Accepts one waiting connection: 1 when one was taken (served or refused), 0 when none
   waits, -1 when accepting failed (out of descriptors: the listeners pause for a second). */
static int accept_one(struct practice_loop *l, struct hall *h, int lfd, struct pconn **list,
		      unsigned *next_id, long long now)
{
	struct conn conn;
	char err[300];
	int r = conn_accept(&conn, lfd, err, sizeof err);
	if (r == CONN_IO_AGAIN)
		return 0;
	if (r != 0) {
		/* EMFILE or ENFILE leave the connection queued and the listener readable: wait
		   for connections to end rather than spin */
		if (!h->accept_failing)
			print_note(l, 0, "%s", err);
		h->accept_failing = true;
		h->accept_paused_until = now + 1000;
		return -1;
	}
	h->accept_failing = false;
	if (h->conns >= l->env->max_clients) {
		refuse(l, &conn, false);
		return 1;
	}
	struct addr_count *from = addr_find(h, conn.peer_addr);
	if (from && from->n >= l->env->max_per_address) {
		refuse(l, &conn, true);
		return 1;
	}
	struct pconn *c = calloc(1, sizeof *c);
	if (!c || !(c->from = addr_take(h, conn.peer_addr))) {
		free(c);
		conn_close(&conn, true);
		return 1;
	}
	c->loop = l;
	c->conn = conn;
	c->id = ++*next_id;
	c->idle_since = now;
	print_note(l, c->id, "connection from %s port %u", conn.peer_addr, conn.peer_port);
	bool implicit = (l->cfg.script && l->cfg.script->implicit_tls) ||
			practice_env_implicit_tls(l->env, lfd);
	if (smtpd_conn_init(&c->eng, &l->cfg, conn.peer_addr, implicit, on_event, c) < 0) {
		addr_release(h, c->from);
		conn_close(&c->conn, true);
		free(c);
		return 1;
	}
	if (implicit) /* TLS from the first byte: the greeting waits for the handshake */
		start_tls(c);
	c->hold_until = l->cfg.settings.slow_ms ? now + l->cfg.settings.slow_ms : 0;
	c->next = *list;
	*list = c;
	return 1;
}

/* --- control channel -------------------------------------------------------------------------- */

struct control {
	struct buf in;
	bool closed;
};

static void control_reply(struct practice_loop *l, bool ok, const char *text)
{
	if (l->control_out < 0) {
		/* --serve: the teacher typed it; show the answer on the screen */
		for (const char *p = text; *p;) {
			size_t n = strcspn(p, "\n");
			if (ok)
				emit_line(l, 0, "*", p, n, NULL);
			else
				fprintf(stderr, "! error: %.*s\n", (int)n, p);
			p += n + (p[n] == '\n');
		}
		return;
	}
	struct buf b;
	buf_init(&b);
	const char *p = text;
	/* all lines but the last one are "- text"; the last one is "ok text"/"error text" */
	const char *last = strrchr(text, '\n');
	while (last && p <= last) {
		size_t n = strcspn(p, "\n");
		if (p + n >= last + 1)
			break;
		buf_printf(&b, "- %.*s\n", (int)n, p);
		p += n + 1;
	}
	buf_printf(&b, "%s%s%s\n", ok ? "ok" : "error", *p ? " " : "", p);
	for (size_t off = 0; b.data && off < b.len;) {
		ssize_t n = write(l->control_out, b.data + off, b.len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	buf_free(&b);
}

static void control_line(struct practice_loop *l, char *line, struct pconn *list)
{
	struct buf msg;
	buf_init(&msg);
	char *name = line + strspn(line, " \t");
	char *value = name + strcspn(name, " \t");
	if (*value) {
		*value++ = '\0';
		value += strspn(value, " \t");
	}
	for (size_t n = strlen(value); n && (value[n - 1] == ' ' || value[n - 1] == '\t'); n--)
		value[n - 1] = '\0';
	if (!*name) {
		buf_free(&msg);
		return;
	}
	if (strcasecmp(name, "show") == 0) {
		practice_settings_describe(&l->cfg.settings, &msg);
		buf_printf(&msg, "%zu connection%s, %lu message%s stored", count_conns(list),
			   count_conns(list) == 1 ? "" : "s", l->cfg.messages,
			   l->cfg.messages == 1 ? "" : "s");
		control_reply(l, true, msg.data);
	} else if (strcasecmp(name, "help") == 0) {
		buf_puts(&msg,
			 "type NAME VALUE to change a setting, show to list them, reset for the "
			 "defaults:\n");
		practice_settings_describe(&l->cfg.settings, &msg);
		buf_puts(&msg, "stats counts the clients, messages and mistakes so far (Ctrl-C "
			       "stops the server)");
		control_reply(l, true, msg.data);
	} else if (strcasecmp(name, "stats") == 0) {
		practice_loop_stats(l, &msg);
		control_reply(l, true, msg.data);
	} else if (strcasecmp(name, "quit") == 0) {
		*l->stop = 1;
		control_reply(l, true, "stopping");
	} else {
		bool was_greylist = l->cfg.settings.greylist;
		unsigned was_delay = l->cfg.settings.greylist_delay;
		int r = practice_settings_set(&l->cfg.settings, name, value, &msg);
		if (r == 0 && (was_greylist != l->cfg.settings.greylist ||
			       was_delay != l->cfg.settings.greylist_delay))
			smtpd_greylist_clear(&l->cfg.greylist);
		if (r == 0 && l->cfg.oauth) /* the sign-in server's faults (oauthd.h) */
			l->cfg.oauth->faults(
			    l->cfg.oauth->arg,
			    &(struct oauthd_faults){.expired = l->cfg.settings.oauth_expired,
						    .scope_wrong =
							l->cfg.settings.oauth_scope[0] != '\0',
						    .revoked = l->cfg.settings.oauth_revoked});
		control_reply(l, r == 0, msg.data ? msg.data : "");
	}
	buf_free(&msg);
}

static void control_read(struct practice_loop *l, struct control *ctl, struct pconn *list)
{
	char chunk[1024];
	ssize_t n = read(l->control_in, chunk, sizeof chunk);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		ctl->closed = true;
		if (l->control_out >= 0) /* the shell has gone: so does its server */
			*l->stop = 1;
		return;
	}
	buf_append(&ctl->in, chunk, (size_t)n);
	char *nl;
	while (ctl->in.len && (nl = memchr(ctl->in.data, '\n', ctl->in.len))) {
		*nl = '\0';
		if (nl > ctl->in.data && nl[-1] == '\r')
			nl[-1] = '\0';
		control_line(l, ctl->in.data, list);
		buf_consume(&ctl->in, (size_t)(nl - ctl->in.data) + 1);
	}
	if (ctl->in.len > CONTROL_MAX) {
		buf_reset(&ctl->in);
		control_reply(l, false, "control line too long");
	}
}

/* --- the loop -----------------------------------------------------------------------------------
 */

static void reap(struct hall *h, struct pconn **list)
{
	for (struct pconn **pp = list; *pp;) {
		if ((*pp)->dead) {
			struct pconn *d = *pp;
			*pp = d->next;
			addr_release(h, d->from);
			free(d);
		} else {
			pp = &(*pp)->next;
		}
	}
}

static void shutdown_all(struct hall *h, struct pconn **list)
{
	long long now = now_ms();
	for (struct pconn *c = *list; c; c = c->next) {
		if (c->dead || c->handshaking)
			continue;
		smtpd_shutdown(&c->eng);
		c->hold_until = 0;
		write_some(c, now); /* best effort: a client that does not read gets nothing */
		conn_kill(c, "connection closed: the server stops");
	}
	for (struct pconn *c = *list; c; c = c->next)
		conn_kill(c, NULL);
	reap(h, list);
}

int practice_loop_run(struct practice_loop *l)
{
	struct pconn *list = NULL;
	unsigned next_id = 0;
	struct control ctl = {.closed = l->control_in < 0};
	buf_init(&ctl.in);
	int status = 0;
	/* one bucket per connection allowed, up to 64 Ki: chains stay short */
	struct hall hall = {.nbuckets = 16};
	while (hall.nbuckets < l->env->max_clients && hall.nbuckets < 65536)
		hall.nbuckets *= 2;
	hall.buckets = calloc(hall.nbuckets, sizeof *hall.buckets);
	size_t nmax = PRACTICE_LISTEN_MAX + 1 + (size_t)l->env->max_clients;
	struct pollfd *fds = calloc(nmax, sizeof *fds);
	struct pconn **owner = calloc(nmax, sizeof *owner);
	if (!fds || !owner || !hall.buckets) {
		free(fds);
		free(owner);
		free(hall.buckets);
		return -1;
	}
	while (!*l->stop) {
		long long now = now_ms();
		for (struct pconn *c = list; c; c = c->next) {
			progress(c, now);
			check_timeout(c, now);
			progress(c, now);
		}
		reap(&hall, &list);

		size_t n = 0;
		int timeout = 1000;
		if (hall.accept_paused_until && now >= hall.accept_paused_until)
			hall.accept_paused_until = 0;
		/* paused: the listeners are polled for nothing (their places stay the same) */
		short accept_ev = hall.accept_paused_until ? 0 : POLLIN;
		for (size_t i = 0; i < l->env->nfds; i++) {
			fds[n] = (struct pollfd){.fd = l->env->fds[i], .events = accept_ev};
			owner[n++] = NULL;
		}
		size_t control_at = n;
		if (!ctl.closed) {
			fds[n] = (struct pollfd){.fd = l->control_in, .events = POLLIN};
			owner[n++] = NULL;
		}
		for (struct pconn *c = list; c; c = c->next) {
			short ev = c->want;
			bool out_waiting = smtpd_out(&c->eng)->len > 0;
			if (out_waiting && now < c->hold_until) {
				long long wait = c->hold_until - now;
				if (wait < timeout)
					timeout = (int)wait;
			} else if (out_waiting && !c->conn.ssl) {
				ev |= POLLOUT;
			}
			if (!c->handshaking && !c->eof && smtpd_room(&c->eng)) {
				if (conn_has_buffered(&c->conn))
					timeout = 0;
				ev |= POLLIN;
			}
			if (c->conn.ssl && out_waiting && now >= c->hold_until && !c->want)
				ev |= POLLOUT;
			fds[n] = (struct pollfd){.fd = c->conn.fd, .events = ev};
			owner[n++] = c;
		}
		int r = poll(fds, n, timeout);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			status = -1;
			break;
		}
		now = now_ms();
		for (size_t i = 0; i < n; i++) {
			if (owner[i]) {
				struct pconn *c = owner[i];
				bool ready = fds[i].revents || conn_has_buffered(&c->conn);
				if (ready && !c->dead) {
					c->want = 0; /* what TLS waited for came: try again */
					read_some(c, now);
					if (!c->dead)
						progress(c, now);
				}
			} else if (i == control_at && !ctl.closed) {
				if (fds[i].revents)
					control_read(l, &ctl, list);
			} else if (i < l->env->nfds && (fds[i].revents & POLLIN)) {
				/* all that wait, at once: a hall connects in the same second */
				for (int k = 0; k < 256; k++)
					if (accept_one(l, &hall, fds[i].fd, &list, &next_id, now) <=
					    0)
						break;
			}
		}
	}
	shutdown_all(&hall, &list);
	buf_free(&ctl.in);
	free(fds);
	free(owner);
	free(hall.buckets);
	return status;
}
