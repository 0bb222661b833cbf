/* The shell's side of a --practice session: the banner, \inbox [N], \practice [NAME VALUE...]. */
#include "smtpsh/practice_cmd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smtpsh/escape.h"
#include "smtpsh/maildir.h"
#include "smtpsh/practice.h"
#include "smtpsh/practice_like.h"
#include "smtpsh/practice_settings.h"
#include "shell_int.h"

#define SHOW_MAX (1024 * 1024) /* octets of one message \inbox N shows */

void practice_banner(const struct practice *p, struct render *r)
{
	render_info(r,
		    "practice server (pid %ld) on %s port %u: a real SMTP server on this "
		    "machine; nothing leaves it",
		    (long)p->pid, p->env.addrs[0], p->env.port);
	render_info(r, "AUTH login: user %s, password %s (offered after STARTTLS; \\auth logs in)",
		    p->env.user, p->env.password);
	render_info(r, "app password %s: also logs in, and alone with \\practice app-password on",
		    p->env.app_password);
	if (p->like)
		render_info(r,
			    "answering like %s: its replies, STARTTLS before MAIL, AUTH only after "
			    "STARTTLS and before MAIL (\\practice like off: the practice server)",
			    p->like);
	render_info(r,
		    "its TLS certificate comes from a CA made just now, trusted by this session "
		    "only: %s",
		    p->env.cafile);
	render_info(r,
		    "Maildir: %s (removed when you leave); \\inbox lists it, \\practice sets "
		    "teaching faults",
		    p->env.maildir);
	if (p->env.oauth_port)
		render_info(r,
			    "OAuth2 offline: \\oauth login signs %s in at the practice sign-in "
			    "server https://127.0.0.1:%u (browser or device code), then \\auth "
			    "XOAUTH2 or \\auth OAUTHBEARER",
			    p->env.user, p->env.oauth_port);
	/* a mechanism the server offers: with --like the provider's first (Office 365 has no
	   PLAIN and refuses it) */
	const struct like_provider *lp = like_find(p->like);
	const char *mech = lp ? lp->auth : "PLAIN";
	render_info(r,
		    "try: EHLO me, STARTTLS, EHLO me, \\auth %.*s, MAIL FROM:<me@example.test>, "
		    "RCPT TO:<you@example.test>, DATA, a few lines, '.', QUIT",
		    (int)strcspn(mech, " "), mech);
}

static bool need_practice(struct shell *sh, const char *cmd)
{
	if (sh->practice)
		return true;
	shell_error(sh, "\\%s works in a practice session only (start smtpsh --practice)", cmd);
	return false;
}

/* Appends s escaped for display, cut to width characters (roughly: bytes). */
static void put_field(struct buf *out, const char *s, size_t width)
{
	size_t n = strlen(s);
	struct buf tmp;
	buf_init(&tmp);
	escape_append(&tmp, s, n, ESCAPE_DEFAULT);
	if (tmp.len > width && width > 3)
		buf_printf(out, "%.*s...", (int)(width - 3), tmp.data);
	else
		buf_printf(out, "%-*s", (int)width, tmp.data ? tmp.data : "");
	buf_free(&tmp);
}

static void list_inbox(struct shell *sh, const struct maildir_entry *e, int n, const char *dir)
{
	struct buf out;
	buf_init(&out);
	buf_printf(&out, "%d message%s in %s%s\n", n, n == 1 ? "" : "s", dir,
		   n ? " (\\inbox N shows one as stored):" : "");
	for (int i = 0; i < n; i++) {
		struct tm tm;
		char when[32];
		localtime_r(&e[i].when, &tm);
		strftime(when, sizeof when, "%H:%M:%S", &tm);
		buf_printf(&out, "%3d  %s  ", i + 1, when);
		put_field(&out, e[i].from[0] ? e[i].from : "<>", 24);
		buf_puts(&out, " -> ");
		put_field(&out, e[i].to, 24);
		buf_printf(&out, " %7lld  ", (long long)e[i].size);
		put_field(&out, e[i].subject[0] ? e[i].subject : "(no subject)", 40);
		while (out.len && out.data[out.len - 1] == ' ')
			out.len--;
		buf_putc(&out, '\n');
	}
	render_text(sh->render, out.data);
	buf_free(&out);
}

static void show_message(struct shell *sh, const struct maildir_entry *e, int index)
{
	FILE *f = fopen(e->path, "rb");
	if (!f) {
		shell_error(sh, "cannot read %s: %s", e->path, strerror(errno));
		return;
	}
	struct buf raw, out;
	buf_init(&raw);
	buf_init(&out);
	char chunk[8192];
	size_t n;
	while (raw.len < SHOW_MAX && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_append(&raw, chunk, n);
	fclose(f);
	bool cut = raw.len > SHOW_MAX || e->size > (off_t)SHOW_MAX;
	if (raw.len > SHOW_MAX)
		raw.len = SHOW_MAX;
	buf_printf(&out, "message %d, %lld octets, as stored in %s\n", index, (long long)e->size,
		   e->path);
	buf_puts(&out, "(lines end in LF; a CR shows as \\r, a TAB as \\t; Return-Path, "
		       "Envelope-To and Received were added by the server)\n");
	for (size_t i = 0; i < raw.len;) {
		const char *p = raw.data + i;
		const char *nl = memchr(p, '\n', raw.len - i);
		size_t len = nl ? (size_t)(nl - p) : raw.len - i;
		buf_puts(&out, "| ");
		escape_append(&out, p, len, ESCAPE_DEFAULT);
		if (!nl)
			buf_puts(&out, "   (no LF at the end)");
		buf_putc(&out, '\n');
		i += len + (nl ? 1 : 0);
	}
	if (cut)
		buf_printf(&out, "(only the first %d octets are shown)\n", SHOW_MAX);
	render_text(sh->render, out.data);
	buf_free(&raw);
	buf_free(&out);
}

void practice_cmd_inbox(struct shell *sh, int argc, char **argv)
{
	if (!need_practice(sh, "inbox"))
		return;
	if (argc > 2) {
		shell_error(sh, "usage: \\inbox [N]");
		return;
	}
	const char *dir = sh->practice->env.maildir;
	struct maildir_entry *e;
	char err[300];
	int n = maildir_list(dir, &e, err, sizeof err);
	if (n < 0) {
		shell_error(sh, "%s", err);
		return;
	}
	if (argc == 1) {
		list_inbox(sh, e, n, dir);
	} else {
		char *end;
		long k = strtol(argv[1], &end, 10);
		if (*end || k < 1 || k > n) {
			if (n)
				shell_error(sh, "\\inbox N: N is a message number, 1 to %d", n);
			else
				shell_error(sh, "the inbox is empty");
		} else {
			show_message(sh, &e[k - 1], (int)k);
		}
	}
	free(e);
}

void practice_cmd_practice(struct shell *sh, int argc, char **argv)
{
	if (!need_practice(sh, "practice"))
		return;
	struct buf line, reply;
	buf_init(&line);
	buf_init(&reply);
	if (argc == 1) {
		buf_puts(&line, "show");
	} else {
		for (int i = 1; i < argc; i++)
			buf_printf(&line, "%s%s", i > 1 ? " " : "", argv[i]);
	}
	int r = line.data ? practice_control(sh->practice, line.data, &reply) : -1;
	if (r == 0 && argc == 1) {
		const struct practice_env *e = &sh->practice->env;
		struct buf out;
		buf_init(&out);
		buf_printf(&out,
			   "practice server pid %ld on %s port %u; AUTH login %s / %s\n"
			   "CA: %s\nMaildir: %s\nserver log: %s\n",
			   (long)sh->practice->pid, e->addrs[0], e->port, e->user, e->password,
			   e->cafile, e->maildir, e->logfile);
		buf_printf(&out,
			   "%s\n\\practice NAME VALUE changes a setting; \\practice reset "
			   "restores them all",
			   reply.data ? reply.data : "");
		render_text(sh->render, out.data);
		buf_free(&out);
	} else if (r == 0) {
		render_info(sh->render, "%s", reply.data ? reply.data : "ok");
	} else {
		shell_error(sh, "\\practice: %s", reply.data ? reply.data : "failed");
	}
	buf_free(&line);
	buf_free(&reply);
}

void practice_cmd_complete(struct candidates *c)
{
	const char *names[32];
	size_t k = 0;
	if (c->nwords == 1)
		k = practice_setting_names(names, 32);
	else if (c->nwords == 2)
		k = practice_setting_values(c->arg1, names, 32);
	for (size_t i = 0; i < k; i++)
		candidates_offer(c, names[i]);
}
