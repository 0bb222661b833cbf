/*
 * The practice server's loop: one process, poll() over the listening sockets, the control
 * channel and every connection (plain or TLS, non-blocking). Each connection's SMTP is the
 * state machine of smtpd.c; this file only moves bytes (through net/conn.c, the client's own
 * non-blocking plain/TLS I/O), applies the "slow" delay and the idle timeout, runs the TLS
 * handshake after STARTTLS, and prints what happens.
 * Memory per connection is bounded: the engine takes at most SMTPD_IN_MAX bytes of input,
 * and no input is read while replies wait to be sent (a client that never reads stalls only
 * itself, and is dropped after the timeout).
 */
#include "smtpsh/practice_server.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "smtpsh/conn.h"
#include "smtpsh/escape.h"
#include "smtpsh/oauthd.h"

#define BODY_SHOWN_MAX 100 /* message lines printed per message */
#define READ_CHUNK 4096
#define CONTROL_MAX 4096

enum after {
	AFTER_NOTHING,
	AFTER_TLS,   /* the output is the 220 to STARTTLS: handshake next */
	AFTER_CLOSE, /* close once the output is sent */
};

struct pconn {
	struct pconn *next;
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
	unsigned long body_shown, body_hidden;
};

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- printing ----------------------------------------------------------------------------- */

/* Every line of the server's view goes through escape_append, as the client's view does. */
static void print_line(struct practice_loop *l, unsigned id, const char *marker, const char *text,
		       size_t len)
{
	struct buf b;
	buf_init(&b);
	if (id)
		buf_printf(&b, "[%u] ", id);
	buf_puts(&b, marker);
	buf_puts(&b, marker[0] == '*' ? "  " : " ");
	escape_append(&b, text, len, ESCAPE_DEFAULT);
	buf_putc(&b, '\n');
	if (b.data) {
		fwrite(b.data, 1, b.len, l->out);
		fflush(l->out);
	}
	buf_free(&b);
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

static void flush_hidden(struct pconn *c)
{
	if (c->body_hidden)
		print_note(c->loop, c->id, "(%lu more message lines not shown)", c->body_hidden);
	c->body_hidden = 0;
	c->body_shown = 0;
}

/* The engine's events: the server's side is "->" (sent) and "<-" (received), "~" under TLS. */
static void on_event(void *arg, const struct smtpd_event *ev)
{
	struct pconn *c = arg;
	struct practice_loop *l = c->loop;
	if (ev->type == SMTPD_EV_INFO) {
		print_line(l, c->id, "*", ev->text, ev->len);
		return;
	}
	if (ev->type == SMTPD_EV_RECEIVED && ev->body) {
		if (!l->show_body || c->body_shown >= BODY_SHOWN_MAX) {
			c->body_hidden++;
			return;
		}
		c->body_shown++;
	} else if (ev->type == SMTPD_EV_RECEIVED) {
		flush_hidden(c);
	}
	const char *marker =
	    ev->type == SMTPD_EV_SENT ? (ev->tls ? "~>" : "->") : (ev->tls ? "<~" : "<-");
	print_line(l, c->id, marker, ev->text, ev->len);
}

/* --- connections --------------------------------------------------------------------------- */

static void conn_kill(struct pconn *c, const char *why)
{
	if (c->dead)
		return;
	flush_hidden(c);
	if (why)
		print_note(c->loop, c->id, "%s", why);
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
			if (c->eof)
				conn_kill(c, "the client closed the connection");
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

static void accept_one(struct practice_loop *l, int lfd, struct pconn **list, unsigned *next_id,
		       long long now)
{
	struct conn conn;
	char err[300];
	if (conn_accept(&conn, lfd, err, sizeof err) != 0)
		return;
	if (count_conns(*list) >= PRACTICE_CONN_MAX) {
		char line[300];
		int n = snprintf(line, sizeof line, "421 4.7.0 %s Error: too many connections\r\n",
				 l->cfg.hostname);
		conn_write(&conn, line, (size_t)n, err, sizeof err); /* best effort */
		conn_close(&conn, true);
		print_note(l, 0, "refused a connection from %s port %u: %d already", conn.peer_addr,
			   conn.peer_port, PRACTICE_CONN_MAX);
		return;
	}
	struct pconn *c = calloc(1, sizeof *c);
	if (!c) {
		conn_close(&conn, true);
		return;
	}
	c->loop = l;
	c->conn = conn;
	c->id = ++*next_id;
	c->idle_since = now;
	print_note(l, c->id, "connection from %s port %u", conn.peer_addr, conn.peer_port);
	bool implicit = (l->cfg.script && l->cfg.script->implicit_tls) ||
			practice_env_implicit_tls(l->env, lfd);
	if (smtpd_conn_init(&c->eng, &l->cfg, conn.peer_addr, implicit, on_event, c) < 0) {
		conn_close(&c->conn, true);
		free(c);
		return;
	}
	if (implicit) /* TLS from the first byte: the greeting waits for the handshake */
		start_tls(c);
	c->hold_until = l->cfg.settings.slow_ms ? now + l->cfg.settings.slow_ms : 0;
	c->next = *list;
	*list = c;
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
				print_line(l, 0, "*", p, n);
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
		buf_puts(&msg, "(Ctrl-C stops the server)");
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

static void reap(struct pconn **list)
{
	for (struct pconn **pp = list; *pp;) {
		if ((*pp)->dead) {
			struct pconn *d = *pp;
			*pp = d->next;
			free(d);
		} else {
			pp = &(*pp)->next;
		}
	}
}

static void shutdown_all(struct pconn **list)
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
	reap(list);
}

int practice_loop_run(struct practice_loop *l)
{
	struct pconn *list = NULL;
	unsigned next_id = 0;
	struct control ctl = {.closed = l->control_in < 0};
	buf_init(&ctl.in);
	int status = 0;
	struct pollfd *fds = calloc(PRACTICE_LISTEN_MAX + 1 + PRACTICE_CONN_MAX, sizeof *fds);
	struct pconn **owner = calloc(PRACTICE_LISTEN_MAX + 1 + PRACTICE_CONN_MAX, sizeof *owner);
	if (!fds || !owner) {
		free(fds);
		free(owner);
		return -1;
	}
	while (!*l->stop) {
		long long now = now_ms();
		for (struct pconn *c = list; c; c = c->next) {
			progress(c, now);
			check_timeout(c, now);
			progress(c, now);
		}
		reap(&list);

		size_t n = 0;
		int timeout = 1000;
		for (size_t i = 0; i < l->env->nfds; i++) {
			fds[n] = (struct pollfd){.fd = l->env->fds[i], .events = POLLIN};
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
				accept_one(l, fds[i].fd, &list, &next_id, now);
			}
		}
	}
	shutdown_all(&list);
	buf_free(&ctl.in);
	free(fds);
	free(owner);
	return status;
}
