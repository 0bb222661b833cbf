#include "smtpsh/meta.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "smtpsh/auth.h"
#include "smtpsh/bdat.h"
#include "smtpsh/codes.h"
#include "smtpsh/conn.h"
#include "smtpsh/check_cmd.h"
#include "smtpsh/diagram_cmd.h"
#include "smtpsh/escape.h"
#include "smtpsh/paths.h"
#include "smtpsh/profiles.h"
#include "smtpsh/send.h"
#include "smtpsh/tlsctl.h"
#include "smtpsh/practice_cmd.h"
#include "smtpsh/raw_cmd.h"
#include "smtpsh/verbs.h"
#include "shell_int.h"

#define ARGS_MAX 128

static void cmd_reconnect(struct shell *sh, int argc, char **argv);

/*
 * \connect PROFILE: what smtpsh PROFILE takes from it (profile.h), the \connect options over
 * it: the TLS mode (unless --tls/--starttls/--plain was given), its TLS controls under the
 * ones given, --ocsp, the CA file (~/ expanded into cafile) and \auth's user, mechanism,
 * password command and OAuth2 settings (its EHLO name and timeout: cmd_connect). The summary line
 * smtpsh shows at start is shown. false after an error was shown.
 */
static bool connect_profile(struct shell *sh, const struct profile *prof, bool mode_given,
			    enum tls_mode *mode, struct session_link *link, struct buf *cafile)
{
	if (!mode_given)
		*mode = prof->tls;
	/* the controls given to this \connect (and smtpsh's own) win over the profile's */
	struct tls_controls t;
	profile_tls_controls(prof, &t);
	tls_controls_overlay(&t, &link->tls);
	link->tls = t;
	link->ocsp = link->ocsp || prof->ocsp;
	if (prof->cafile && paths_expand_home(prof->cafile, cafile) < 0) {
		shell_error(sh, "\\connect: profile %s: cafile %s: no home directory known",
			    prof->name, prof->cafile);
		return false;
	}
	sh->default_user = prof->user ? prof->user : sh->start.user;
	sh->default_mech = prof->auth;
	sh->password_command = prof->password_command;
	sh->oauth_profile = prof;
	struct buf line;
	buf_init(&line);
	profiles_summary(prof, &line);
	render_info(sh->render, "%s %s: %s", prof->builtin ? "preset" : "profile", prof->name,
		    line.data ? line.data : "");
	buf_free(&line);
	if (prof->note)
		render_info(sh->render, "%s", prof->note);
	return true;
}

static void cmd_connect(struct shell *sh, int argc, char **argv)
{
	const char *host = NULL, *port = NULL;
	enum tls_mode mode = sh->mode;
	struct session_link link = sh->link;
	bool mx = false, mode_given = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--mx") == 0)
			mx = true;
		else if (strcmp(argv[i], "--lmtp") == 0)
			link.lmtp = true;
		else if (strcmp(argv[i], "--smtp") == 0)
			link.lmtp = false;
		else if (strcmp(argv[i], "--tls") == 0)
			mode = TLS_IMPLICIT, mode_given = true;
		else if (strcmp(argv[i], "--starttls") == 0)
			mode = TLS_STARTTLS, mode_given = true;
		else if (strcmp(argv[i], "--plain") == 0)
			mode = TLS_NONE, mode_given = true;
		else if (strcmp(argv[i], "--ocsp") == 0)
			link.ocsp = true;
		else if (strcmp(argv[i], "--sni") == 0 && i + 1 < argc)
			link.sni = argv[++i];
		else if (argv[i][0] == '-' && argv[i][1] == '-' &&
			 tls_control_arity(argv[i] + 2) >= 0) {
			/* the TLS controls of the command line, for this connection */
			const char *name = argv[i] + 2;
			bool valued = tls_control_arity(name) == 1;
			if (valued && i + 1 >= argc) {
				shell_error(sh, "\\connect: %s needs a value", argv[i]);
				return;
			}
			char err[300];
			if (tls_control_set(&link.tls, name, valued ? argv[++i] : NULL, err,
					    sizeof err) < 0) {
				shell_error(sh, "\\connect: %s", err);
				return;
			}
		} else if (argv[i][0] == '-' && argv[i][1] == '-') {
			shell_error(sh, "\\connect: unknown option %s", argv[i]);
			return;
		} else if (!host)
			host = argv[i];
		else if (!port)
			port = argv[i];
		else {
			shell_error(sh, "\\connect: too many arguments");
			return;
		}
	}
	const char *last = session_host(sh->session);
	if (argc == 1 && last && *last) { /* \connect alone: the last target, as \reconnect */
		cmd_reconnect(sh, 1, argv);
		return;
	}
	if (!host) {
		shell_error(sh, "usage: \\connect HOST|PROFILE [PORT] [--tls|--starttls|--plain] "
				"[--lmtp|--smtp] [--ocsp] [--sni NAME] [TLS controls: --tls-min VER, "
				"--cert FILE...], or \\connect --mx DOMAIN [PORT]");
		return;
	}
	/* the rule of the command line (profile_for_argument): a word without a dot or a colon
	   that names a profile or preset connects with it; anything else is a host */
	const struct profile *prof = mx ? NULL : profile_for_argument(sh->profiles, host);
	struct buf cafile;
	buf_init(&cafile);
	if (prof && !connect_profile(sh, prof, mode_given, &mode, &link, &cafile)) {
		buf_free(&cafile);
		return;
	}
	/* the EHLO name and timeout: the profile's unless the command line gave them, else (and
	   for a host) what smtpsh started with */
	const char *ehlo = prof && prof->ehlo && !sh->ehlo_given ? prof->ehlo : sh->start.ehlo;
	int timeout_ms = prof && prof->timeout_ms && !sh->timeout_given ? prof->timeout_ms
									: sh->start.timeout_ms;
	if (session_set_cafile(sh->session, prof ? cafile.data : sh->start.cafile) < 0 ||
	    session_set_hello(sh->session, ehlo, timeout_ms) < 0) {
		shell_error(sh, "\\connect: %s", session_error(sh->session));
		buf_free(&cafile);
		return;
	}
	buf_free(&cafile);
	if (!prof) { /* what smtpsh started with, not the last profile's */
		sh->default_user = sh->start.user;
		sh->default_mech = sh->start.mech;
		sh->password_command = sh->start.password_command;
		sh->oauth_profile = sh->start.oauth_profile;
	} else {
		host = prof->host;
		if (!port)
			port = prof->port;
	}
	if (mx && (link.lmtp || link.proxy)) {
		shell_error(sh, "\\connect --mx: not with --lmtp or --proxy");
		return;
	}
	if (session_set_link(sh->session, &link) < 0) {
		shell_error(sh, "\\connect: %s", session_error(sh->session));
		return;
	}
	if (mx) {
		shell_connect_mx(sh, host, port, mode);
		return;
	}
	shell_connect(sh, host, port, mode);
}

/* \reconnect [--resume]: the same host, port, TLS mode and link as the last connection (QUIT
   to the current one first, as \connect does). */
static void cmd_reconnect(struct shell *sh, int argc, char **argv)
{
	bool resume = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--resume") != 0) {
			shell_error(sh, "usage: \\reconnect [--resume]");
			return;
		}
		resume = true;
	}
	const char *last = session_host(sh->session);
	if (!last || !*last) {
		shell_error(sh, "\\reconnect: no connection yet (\\connect HOST first)");
		return;
	}
	char *host = strdup(last);
	char port[sizeof "65535"] = "";
	snprintf(port, sizeof port, "%s", session_port(sh->session));
	if (!host) {
		shell_error(sh, "\\reconnect: out of memory");
		return;
	}
	if (resume)
		session_resume_next(sh->session);
	shell_connect(sh, host, port[0] ? port : NULL, session_tls_mode(sh->session));
	free(host);
}

static void cmd_disconnect(struct shell *sh, int argc, char **argv)
{
	if (!session_connected(sh->session)) {
		render_info(sh->render, "not connected");
		return;
	}
	session_disconnect(sh->session, "connection closed (no QUIT sent)");
}

static void cmd_caps(struct shell *sh, int argc, char **argv)
{
	const struct smtp_caps *c = session_caps(sh->session);
	if (!session_connected(sh->session)) {
		render_info(sh->render, "not connected");
		return;
	}
	if (!c->known) {
		render_info(sh->render, "no capabilities known: send %s%s",
			    session_hello_verb(sh->session),
			    session_tls(sh->session) ? " (those seen before STARTTLS were forgotten)"
						     : "");
		return;
	}
	struct buf out;
	buf_init(&out);
	buf_printf(&out, "capabilities of %s%s:\n", session_host(sh->session),
		   session_tls(sh->session) ? " (under TLS)" : "");
	/* Names in a column, but no trailing blanks after a name without parameters. */
	for (size_t i = 0; i < c->n; i++) {
		if (c->items[i].params[0])
			buf_printf(&out, "  %-20s %s\n", c->items[i].name, c->items[i].params);
		else
			buf_printf(&out, "  %s\n", c->items[i].name);
	}
	if (!c->n)
		buf_puts(&out, "  (none advertised)\n");
	render_text(sh->render, out.data);
	buf_free(&out);
}

/* \tls: the whole picture; \tls save DIR: the chain the server sent as PEM files. */
static void cmd_tls(struct shell *sh, int argc, char **argv)
{
	struct buf out;
	buf_init(&out);
	if (argc >= 2 && strcmp(argv[1], "save") == 0) {
		if (argc != 3) {
			shell_error(sh, "usage: \\tls save DIR");
		} else if (session_tls_save(sh->session, argv[2], &out) >= 0) {
			render_text(sh->render, out.data);
		}
		buf_free(&out);
		return;
	}
	if (argc > 1) {
		shell_error(sh, "usage: \\tls [save DIR]");
		buf_free(&out);
		return;
	}
	session_describe_tls(sh->session, &out);
	render_text(sh->render, out.data);
	buf_free(&out);
}

static void cmd_dns(struct shell *sh, int argc, char **argv)
{
	if (argc > 2) {
		shell_error(sh, "usage: \\dns [DOMAIN]");
		return;
	}
	shell_show_dns(sh, argc > 1 ? argv[1] : NULL);
}

static void cmd_help(struct shell *sh, int argc, char **argv)
{
	meta_help(sh, argc > 1 ? argv[1] : NULL);
}

static void cmd_quit(struct shell *sh, int argc, char **argv)
{
	shell_quit(sh);
}

static void cmd_file(struct shell *sh, int argc, char **argv)
{
	if (argc != 2) {
		shell_error(sh, "usage: \\file PATH (inside DATA)");
		return;
	}
	shell_failed(sh, session_data_file(sh->session, argv[1]));
}

static void cmd_presets(struct shell *sh, int argc, char **argv)
{
	struct buf out;
	buf_init(&out);
	profiles_describe(sh->profiles, sh->profiles_path, &out);
	render_text(sh->render, out.data);
	buf_free(&out);
}

/* \explain [-v|--all] CODE...: a basic code followed by an enhanced code of its class is one
   reply's pair, explained as one (short: it fits a 24-line screen); -v: each code in full. */
static void cmd_explain(struct shell *sh, int argc, char **argv)
{
	bool all = argc > 1 && (strcmp(argv[1], "-v") == 0 || strcmp(argv[1], "--all") == 0);
	int first = all ? 2 : 1;
	if (argc <= first) {
		shell_error(sh, "usage: \\explain [-v|--all] CODE... (a reply code like 451, an "
				"enhanced status code like 5.7.1, or both: 550 5.7.1)");
		return;
	}
	struct buf out;
	buf_init(&out);
	for (int i = first; i < argc; i++) {
		if (out.len)
			buf_putc(&out, '\n');
		if (!all && i + 1 < argc && codes_explain_pair(argv[i], argv[i + 1], &out) == 0) {
			i++;
			continue;
		}
		if (codes_explain(argv[i], &out) < 0) {
			struct buf e;
			buf_init(&e);
			escape_append(&e, argv[i], strlen(argv[i]), ESCAPE_DEFAULT);
			shell_error(
			    sh,
			    "\\explain: %s is neither a reply code (200-599) nor an enhanced "
			    "status code (2.x.x, 4.x.x, 5.x.x)",
			    e.data);
			buf_free(&e);
		}
	}
	if (out.len)
		render_text(sh->render, out.data);
	buf_free(&out);
}

static void cmd_pipeline(struct shell *sh, int argc, char **argv)
{
	if (argc != 1) {
		shell_error(sh, "usage: \\pipeline (then the commands; \\end or DATA sends them)");
		return;
	}
	if (sh->pipe_collecting) {
		render_info(sh->render, "already collecting (%zu command%s): \\end sends them",
			    sh->pipe_n, sh->pipe_n == 1 ? "" : "s");
		return;
	}
	shell_pipeline_start(sh);
}

static void cmd_end(struct shell *sh, int argc, char **argv)
{
	if (!sh->pipe_collecting) {
		shell_error(sh, "\\end: no \\pipeline is collecting commands");
		return;
	}
	if (!sh->pipe_n)
		render_info(sh->render, "nothing collected: pipeline closed");
	shell_pipeline_flush(sh);
}

static void cmd_cancel(struct shell *sh, int argc, char **argv)
{
	if (!sh->pipe_collecting) {
		shell_error(sh, "\\cancel: no \\pipeline is collecting commands");
		return;
	}
	shell_pipeline_cancel(sh);
}

static void cmd_record(struct shell *sh, int argc, char **argv)
{
	struct transcript_writer *w = sh->rec;
	if (!w) {
		render_error(sh->render, "\\record is not available here");
		return;
	}
	if (argc == 1) {
		if (transcript_active(w))
			render_info(sh->render, "recording to %s (%lu lines so far)", w->path, w->lines);
		else
			render_info(sh->render, "not recording (\\record FILE starts)");
		return;
	}
	if (argc != 2) {
		shell_error(sh, "usage: \\record FILE | \\record off");
		return;
	}
	if (strcmp(argv[1], "off") == 0) {
		if (!transcript_active(w)) {
			render_info(sh->render, "not recording");
			return;
		}
		unsigned long n = w->lines;
		char *path = strdup(w->path);
		transcript_close(w);
		if (w->failed)
			render_error(sh->render, "%s", w->err);
		else
			render_info(sh->render, "recording stopped: %lu lines in %s", n,
				    path ? path : "the file");
		free(path);
		return;
	}
	if (transcript_open(w, argv[1]) < 0) {
		shell_error(sh, "\\record: %s", w->err);
		return;
	}
	render_info(sh->render, "recording to %s (secrets are written as <redacted>; \\record off "
				"stops)",
		    w->path);
}

static void status_line(struct buf *out, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void status_line(struct buf *out, const char *name, const char *fmt, ...)
{
	buf_printf(out, "%-14s", name);
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(out, fmt, ap);
	va_end(ap);
	buf_putc(out, '\n');
}

static void settings_describe(struct shell *sh, struct buf *out);

static void cmd_status(struct shell *sh, int argc, char **argv)
{
	const struct smtp_session *s = sh->session;
	struct buf out, tmp;
	buf_init(&out);
	buf_init(&tmp);
	if (!session_connected(s)) {
		status_line(&out, "peer:", "not connected%s", session_host(s) ? " (was " : "");
		if (session_host(s)) {
			out.len--;
			if (conn_is_socket_path(session_host(s)))
				buf_printf(&out, "UNIX socket %s)\n", session_host(s));
			else
				buf_printf(&out, "%s port %s)\n", session_host(s),
					   session_port(s));
		}
	} else {
		const char *host = session_host(s), *addr = session_peer_addr(s);
		if (conn_is_socket_path(host))
			status_line(&out, "peer:", "UNIX socket %s%s", addr,
				    session_lmtp(s) ? " (LMTP)" : "");
		else if (strcmp(host, addr) == 0)
			status_line(&out, "peer:", "%s port %u", addr, session_peer_port(s));
		else
			status_line(&out, "peer:", "%s (%s) port %u", host, addr, session_peer_port(s));
		if (session_tls(s)) {
			session_tls_summary(s, &tmp);
			status_line(&out, "TLS:", "%s; %s", tmp.data ? tmp.data : "",
				    session_tls_mode(s) == TLS_IMPLICIT ? "implicit (from the first byte)"
									: "upgraded by STARTTLS");
		} else {
			status_line(&out, "TLS:", "none: plaintext%s",
				    caps_has(session_caps(s), "STARTTLS") ? " (STARTTLS is offered)" : "");
		}
		const char *user = session_auth_user(s);
		if (user) {
			buf_reset(&tmp);
			escape_append(&tmp, user, strlen(user), ESCAPE_DEFAULT);
			status_line(&out, "auth:", "%s (%s)", *user ? tmp.data : "(user not shown)",
				    session_auth_mech(s));
		} else {
			status_line(&out, "auth:", "not authenticated");
		}
		status_line(&out, "phase:", "%s%s", session_phase_name(session_phase(s)),
			    session_in_auth(s) ? " (inside an AUTH exchange)" : "");
		const struct smtp_caps *c = session_caps(s);
		buf_reset(&tmp);
		for (size_t i = 0; c->known && i < c->n; i++)
			buf_printf(&tmp, "%s%s%s%s", i ? ", " : "", c->items[i].name,
				   *c->items[i].params ? " " : "", c->items[i].params);
		status_line(&out, "capabilities:", "%s",
			    !c->known ? (session_lmtp(s) ? "none known (send LHLO)"
							 : "none known (send EHLO)")
			    : c->n    ? tmp.data
				      : "(none advertised)");
		status_line(&out, "bytes:", "%llu received, %llu sent", session_bytes_in(s),
			    session_bytes_out(s));
	}
	if (sh->pipe_collecting || sh->pipe_n)
		status_line(&out, "pipeline:", "%zu command%s collected%s", sh->pipe_n,
			    sh->pipe_n == 1 ? "" : "s",
			    sh->pipe_collecting ? " (\\end sends them)" : "");
	if (sh->rec && transcript_active(sh->rec))
		status_line(&out, "recording:", "%s (%lu lines)", sh->rec->path, sh->rec->lines);
	else
		status_line(&out, "recording:", "off");
	buf_reset(&tmp);
	settings_describe(sh, &tmp);
	status_line(&out, "settings:", "%s", tmp.data);
	out.data[--out.len] = '\0';
	render_text(sh->render, out.data);
	buf_free(&out);
	buf_free(&tmp);
}

/* Settings of \set: a boolean of the shell (on|off), or one of a few choices. */
struct setting {
	const char *name;
	const char *help;
	size_t offset; /* of the bool in struct shell */
	const char *on_notice;
	/* A setting with choices: their names (NULL-terminated), and how to read and change
	   the one chosen (its index). */
	const char *const *choices;
	int (*get)(const struct shell *sh);
	void (*set)(struct shell *sh, int choice);
};

static int theme_get(const struct shell *sh)
{
	return (int)sh->render->theme;
}

static void theme_set(struct shell *sh, int choice)
{
	sh->render->theme = (enum render_theme)choice;
}

static const char *const prompt_choices[] = {"full", "compact", NULL};

static int prompt_get(const struct shell *sh)
{
	return sh->prompt_compact;
}

static void prompt_set(struct shell *sh, int choice)
{
	sh->prompt_compact = choice == 1;
}

static const struct setting settings[] = {
    {.name = "explain",
     .help = "show what every reply code means beside the reply",
     .offset = offsetof(struct shell, explain)},
    {.name = "timing",
     .help = "show milliseconds per reply, connect time and TLS handshake time",
     .offset = offsetof(struct shell, timing)},
    {.name = "show-raw",
     .help = "show line ends (\\r\\n, or \\n for a bare LF) of every line",
     .offset = offsetof(struct shell, show_raw)},
    {.name = "reveal-secrets",
     .help = "show AUTH payloads on screen instead of <redacted>",
     .offset = offsetof(struct shell, reveal_secrets),
     .on_notice = "AUTH payloads (base64 of user names and passwords) are now shown on screen "
		  "(never in a transcript): use throwaway accounts only"},
    {.name = "theme",
     .help = "colours: dark, light (light terminals, projectors: no faint text) or mono",
     .choices = render_theme_names,
     .get = theme_get,
     .set = theme_set},
    {.name = "prompt",
     .help = "full (host:port tls phase>) or compact (phase> only, for narrow screens)",
     .choices = prompt_choices,
     .get = prompt_get,
     .set = prompt_set},
};

static bool *setting_field(struct shell *sh, const struct setting *st)
{
	return (bool *)((char *)sh + st->offset);
}

static const char *setting_value(struct shell *sh, const struct setting *st)
{
	if (st->choices)
		return st->choices[st->get(sh)];
	return *setting_field(sh, st) ? "on" : "off";
}

/* Every setting of \set with its value, "explain off, ..., theme dark, prompt full", for
   \status: from the same table, so that a new setting shows there too. */
static void settings_describe(struct shell *sh, struct buf *out)
{
	for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++)
		buf_printf(out, "%s%s %s", i ? ", " : "", settings[i].name,
			   setting_value(sh, &settings[i]));
}

static int choice_index(const struct setting *st, const char *name)
{
	for (int i = 0; st->choices[i]; i++)
		if (strcmp(st->choices[i], name) == 0)
			return i;
	return -1;
}

static void cmd_set(struct shell *sh, int argc, char **argv)
{
	if (argc == 1) {
		struct buf out;
		buf_init(&out);
		for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++)
			buf_printf(&out, "%-16s %-7s  %s\n", settings[i].name,
				   setting_value(sh, &settings[i]), settings[i].help);
		render_text(sh->render, out.data);
		buf_free(&out);
		return;
	}
	const struct setting *st = NULL;
	for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++)
		if (strcmp(settings[i].name, argv[1]) == 0)
			st = &settings[i];
	if (st && st->choices) {
		int choice = argc == 3 ? choice_index(st, argv[2]) : -1;
		if (choice < 0) {
			struct buf names;
			buf_init(&names);
			for (int i = 0; st->choices[i]; i++)
				buf_printf(&names, "%s%s", i ? "|" : "", st->choices[i]);
			shell_error(sh, "usage: \\set %s %s", st->name, names.data);
			buf_free(&names);
			return;
		}
		st->set(sh, choice);
		render_info(sh->render, "%s is %s", st->name, st->choices[choice]);
		return;
	}
	bool on = argc == 3 && strcmp(argv[2], "on") == 0;
	if (!st || argc != 3 || (!on && strcmp(argv[2], "off") != 0)) {
		shell_error(sh, "usage: \\set [NAME on|off] (\\set alone lists them)");
		return;
	}
	*setting_field(sh, st) = on;
	shell_apply_settings(sh);
	if (on && st->on_notice)
		render_warning(sh->render, "%s", st->on_notice);
	else
		render_info(sh->render, "%s is %s", st->name, on ? "on" : "off");
}

/* Completers of the commands of this file (the others sit beside their commands). */

/* \record FILE, \file PATH: Readline's file names. */
/* \diagram [FILE]: the session so far, drawn; on the screen as a text ladder the terminal's
   width, or into FILE in the format its extension names. */
static void cmd_diagram(struct shell *sh, int argc, char **argv)
{
	if (!sh->live) {
		render_error(sh->render, "\\diagram is not available here");
		return;
	}
	if (argc > 2) {
		shell_error(sh, "usage: \\diagram [FILE]");
		return;
	}
	enum diagram_format fmt = DIAGRAM_TXT;
	if (argc == 2 && diagram_format_of_path(argv[1], &fmt) < 0) {
		shell_error(sh,
			    "\\diagram: cannot tell the format from the name '%s': end it in "
			    ".svg, .html or .txt",
			    argv[1]);
		return;
	}
	/* on the screen, render_text indents each line by 3: the ladder fits the terminal (or
	   80 columns) with them */
	int width = diagram_terminal_width(1);
	struct diagram_options o = {
	    .notes = true, .width = width ? width - 3 : 77, .title = "smtpsh session"};
	if (o.width < DIAGRAM_WIDTH_MIN || argc == 2)
		o.width = argc == 2 ? 80 : DIAGRAM_WIDTH_MIN;
	struct buf out;
	buf_init(&out);
	char err[600];
	if (diagram_live_render(sh->live, fmt, &o, &out) < 0)
		shell_error(sh, "\\diagram: out of memory");
	else if (argc == 1)
		render_text(sh->render, out.data ? out.data : "");
	else if (diagram_save(argv[1], &out, err, sizeof err) < 0)
		shell_error(sh, "\\diagram: %s", err);
	else
		render_info(sh->render, "diagram of %zu events written to %s", sh->live->d.n,
			    argv[1]);
	buf_free(&out);
}

static void complete_files(struct candidates *c)
{
	c->files = true;
}

/* \connect: host, then port, then --tls/--starttls/--plain. */
static void complete_connect(struct candidates *c)
{
	static const char *const opts[] = {"--tls",  "--starttls", "--plain",
					   "--lmtp", "--smtp",	   "--ocsp", "--mx", "--sni"};
	if (c->nwords >= 2 || c->text[0] == '-') {
		for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
			candidates_offer(c, opts[i]);
		for (size_t i = 0; tls_control_flags[i]; i++)
			candidates_offer(c, tls_control_flags[i]);
	}
	if (c->nwords == 1 && c->text[0] != '-') {
		candidates_offer(c, "localhost");
		/* the profiles and presets (a preset that a profile replaces, once) */
		const struct profile_set *set = c->sh ? c->sh->profiles : NULL;
		size_t n;
		const struct profile *presets = profile_presets(&n);
		for (size_t i = 0; i < n; i++)
			if (!set || profile_find(set, presets[i].name)->builtin)
				candidates_offer_exact(c, presets[i].name);
		for (size_t i = 0; set && i < set->n; i++)
			candidates_offer_exact(c, set->items[i].name);
	}
}

/* \reconnect: --resume. */
static void complete_reconnect(struct candidates *c)
{
	if (c->nwords == 1)
		candidates_offer(c, "--resume");
}

/* \tls: "save", then a folder. */
static void complete_tls(struct candidates *c)
{
	if (c->nwords == 1)
		candidates_offer(c, "save");
	else if (c->nwords == 2)
		c->files = true;
}

/* \set: a setting's name, then on/off or its choices. */
static void complete_set(struct candidates *c)
{
	if (c->nwords == 1)
		for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++)
			candidates_offer(c, settings[i].name);
	if (c->nwords != 2)
		return;
	for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
		if (strcmp(settings[i].name, c->arg1) != 0 || !settings[i].choices)
			continue;
		for (int k = 0; settings[i].choices[k]; k++)
			candidates_offer(c, settings[i].choices[k]);
		return;
	}
	candidates_offer(c, "on");
	candidates_offer(c, "off");
}

/* \oauth: its subcommands, then login's ways. */
static void complete_oauth(struct candidates *c)
{
	static const char *const subs[] = {"login", "status", "logout"};
	static const char *const ways[] = {"--browser", "--device", "--paste"};
	if (c->nwords == 1)
		for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
			candidates_offer(c, subs[i]);
	if (c->nwords == 2 && strcmp(c->arg1, "login") == 0)
		for (size_t i = 0; i < sizeof ways / sizeof ways[0]; i++)
			candidates_offer(c, ways[i]);
}

/* \help: the SMTP verbs and the local commands. */
static void complete_help(struct candidates *c)
{
	candidates_verbs(c);
	meta_candidates(c);
}

const struct meta_command meta_commands[] = {
    {.name = "connect",
     .run = cmd_connect,
     .args = "[HOST|PROFILE [PORT]] [--tls|--starttls|--plain] [--lmtp|--smtp] [--ocsp] [--mx] "
	     "[--sni NAME] [--tls-min VER] [--tls-max VER] [--ciphers LIST] "
	     "[--ciphersuites LIST] [--groups LIST] [--no-sni] [--cert FILE] [--key FILE] "
	     "[--key-password-command CMD]",
     .help = "connect to an SMTP (or --lmtp: LMTP) server; HOST may be a UNIX socket path "
	     "(/... or ./...) (says QUIT to the current one first); --mx: HOST is a mail "
	     "domain, connect to its MX hosts (DNSSEC, DANE, MTA-STS); the TLS controls are "
	     "smtpsh's options of the same names, for this connection; a word without a dot "
	     "or colon that names a profile or preset (\\presets) connects with it, as smtpsh "
	     "NAME does; alone: the last target again (\\reconnect)",
     .complete = complete_connect},
    {.name = "reconnect",
     .run = cmd_reconnect,
     .args = "[--resume]",
     .help = "connect again to the same host and port with the same options (QUIT to the "
	     "current connection first); --resume offers the last TLS session",
     .complete = complete_reconnect},
    {.name = "dns",
     .run = cmd_dns,
     .args = "[DOMAIN]",
     .help = "what DNS says about mail for DOMAIN (default: the --mx domain or the host's): "
	     "MX, addresses, TLSA, MTA-STS, TLS-RPT, SPF, DMARC, each with its DNSSEC state",
     .flags = LOCAL_IN_PIPELINE},
    {.name = "check",
     .run = check_cmd,
     .args = "[--role mx|submission] [--check-rcpt ADDRESS]",
     .help = "audit the server of the connection as --check does: every check on a "
	     "connection of its own, a report with the evidence of each finding (docs/check.md)",
     .complete = check_cmd_complete,
     .flags = LOCAL_IN_PIPELINE},
    {.name = "disconnect",
     .run = cmd_disconnect,
     .args = "",
     .help = "close the connection without QUIT"},
    {.name = "caps",
     .run = cmd_caps,
     .args = "",
     .help = "list the capabilities of the last EHLO reply",
     .flags = LOCAL_IN_PIPELINE},
    {.name = "tls",
     .run = cmd_tls,
     .args = "[save DIR]",
     .help = "show what protects the connection: protocol, cipher, key exchange, resumption, "
	     "the whole certificate chain and its verification; save DIR writes the chain as "
	     "PEM files (DIR/0-leaf.pem ...)",
     .complete = complete_tls,
     .flags = LOCAL_IN_PIPELINE},
    {.name = "file",
     .run = cmd_file,
     .args = "PATH",
     .help = "inside DATA: send a file as message lines (CRLF, dot-stuffing done)",
     .complete = complete_files,
     .flags = LOCAL_IN_DATA},
    {.name = "raw",
     .run = raw_cmd,
     .args = "TEXT",
     .help = "send TEXT exactly, nothing added (no CRLF): escapes \\r \\n \\t \\0 \\xNN "
	     "\\\\ (\\raw MAIL FROM:<a@x>\\n is a bare LF); inside DATA the bytes go into "
	     "the message; replies are shown unpaired until the next command's reply",
     .complete = raw_cmd_complete,
     .flags = LOCAL_RAW_ARGS | LOCAL_ANY_PHASE,
     .holds_secret = raw_cmd_holds_secret},
    {.name = "presets",
     .run = cmd_presets,
     .args = "",
     .help = "list the provider presets and your profiles (smtpsh NAME connects)"},
    {.name = "status",
     .run = cmd_status,
     .args = "",
     .help = "the session: peer, TLS, authenticated user, phase, capabilities, bytes",
     .flags = LOCAL_IN_PIPELINE},
    {.name = "explain",
     .run = cmd_explain,
     .args = "[-v] CODE...",
     .help = "what a reply code (451) or enhanced status code (5.7.1) means; 550 5.7.1: "
	     "the pair as one (-v: each in full, every known case)",
     .flags = LOCAL_IN_PIPELINE},
    {.name = "pipeline",
     .run = cmd_pipeline,
     .args = "",
     .help = "collect MAIL, RCPT... and send them in one write (PIPELINING)"},
    {.name = "end",
     .run = cmd_end,
     .args = "",
     .help = "send the commands \\pipeline collected",
     .flags = LOCAL_IN_PIPELINE},
    {.name = "cancel",
     .run = cmd_cancel,
     .args = "",
     .help = "drop the commands \\pipeline collected",
     .flags = LOCAL_IN_PIPELINE},
    {.name = "record",
     .run = cmd_record,
     .args = "FILE|off",
     .help = "write the session to a transcript file (secrets redacted)",
     .complete = complete_files},
    {.name = "diagram",
     .run = cmd_diagram,
     .args = "[FILE]",
     .help = "draw the session so far as a ladder diagram: on the screen, or into FILE (.svg, "
	     ".html or .txt)",
     .complete = complete_files,
     .flags = LOCAL_IN_PIPELINE},
    {.name = "set",
     .run = cmd_set,
     .args = "[NAME on|off|CHOICE]",
     .help = "list the settings, or change one (\\set theme light, \\set prompt compact)",
     .complete = complete_set,
     .flags = LOCAL_IN_PIPELINE},
    {.name = "auth",
     .run = auth_cmd,
     .args = "[MECH] [USER]",
     .help = "log in: the whole AUTH exchange (PLAIN, LOGIN, CRAM-MD5, XOAUTH2, OAUTHBEARER), "
	     "every step "
	     "shown; the password from --password-command, SMTPSH_PASSWORD, ~/.netrc or a "
	     "prompt without echo; \\auth EXTERNAL [AUTHZID] logs in with the --cert client "
	     "certificate (RFC 4422)",
     .complete = auth_complete},
    {.name = "oauth",
     .run = oauth_cmd,
     .args = "login [--browser|--device|--paste] | status | logout",
     .help = "OAuth2 of the profile (--practice: of its sign-in server): login (in the "
	     "browser: code + PKCE, loopback redirect; "
	     "--paste over ssh; --device: a code to enter at the provider, RFC 8628; the "
	     "refresh token stored), status (account, scope, when stored, the "
	     "access token's expiry; never a token), logout (revoke where offered, delete the "
	     "stored token)",
     .complete = complete_oauth},
    {.name = "b64",
     .run = auth_cmd_b64,
     .args = "TEXT",
     .help = "show TEXT in base64; \\0 is a NUL octet (\\b64 \\0user\\0password is "
	     "a PLAIN answer), also \\t \\n \\r \\\\ \\xNN",
     .flags = LOCAL_SECRET_ARGS | LOCAL_RAW_ARGS},
    {.name = "unb64",
     .run = auth_cmd_unb64,
     .args = "BASE64",
     .help = "decode base64 (a 334 challenge, an AUTH answer); the octets shown escaped",
     .flags = LOCAL_SECRET_ARGS | LOCAL_RAW_ARGS},
    {.name = "send",
     .run = send_cmd,
     .args = "--from A --to B [OPTION]...",
     .help = "compose and send a message as visible steps (MAIL, RCPT, DATA, '.'); options "
	     "--to --cc --bcc (repeatable) --subject S --body TEXT --body-file PATH "
	     "--attach PATH (repeatable) --header 'Name: value' (repeatable)",
     .complete = send_complete},
    {.name = "bdat",
     .run = bdat_cmd,
     .args = "[--last] TEXT | --file PATH [--last]",
     .help = "send a BDAT chunk (CHUNKING, RFC 3030) with its octet count computed: TEXT "
	     "plus CRLF, or a file's octets as they are; --last ends the message",
     .complete = bdat_complete,
     .flags = LOCAL_RAW_ARGS},
    {.name = "inbox",
     .run = practice_cmd_inbox,
     .args = "[N]",
     .help = "practice server: list the messages received, or show message N as stored"},
    {.name = "practice",
     .run = practice_cmd_practice,
     .args = "[NAME VALUE]",
     .help = "practice server: show its settings, or set a teaching fault (greylist, reject, "
	     "...)",
     .complete = practice_cmd_complete},
    {.name = "help",
     .run = cmd_help,
     .args = "[VERB|\\COMMAND]",
     .help = "list commands, or explain one",
     .complete = complete_help,
     .flags = LOCAL_IN_PIPELINE},
    {.name = "quit", .run = cmd_quit, .args = "", .help = "send QUIT (when connected) and leave"},
};

const size_t meta_command_count = sizeof meta_commands / sizeof meta_commands[0];

const struct meta_command *meta_find(const char *name)
{
	for (size_t i = 0; i < meta_command_count; i++)
		if (strcmp(meta_commands[i].name, name) == 0)
			return &meta_commands[i];
	return NULL;
}

/* Splits s in place into words; quotes group, a backslash before a quote or blank escapes it. */
static int split_words(char *s, char **argv, int max)
{
	int argc = 0;
	char *w = s;
	while (*s) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s)
			break;
		if (argc == max)
			return -1;
		argv[argc++] = w;
		char quote = 0;
		while (*s && (quote || (*s != ' ' && *s != '\t'))) {
			if (quote && *s == quote) {
				quote = 0;
				s++;
			} else if (!quote && (*s == '"' || *s == '\'')) {
				quote = *s++;
			} else {
				*w++ = *s++;
			}
		}
		if (*s)
			s++;
		*w++ = '\0';
	}
	return argc;
}

bool meta_run(struct shell *sh, const char *line)
{
	char *copy = strdup(line + 1);
	if (!copy)
		return true;
	char *argv[ARGS_MAX];
	int argc;
	char name[32];
	size_t n = strcspn(line + 1, " \t");
	const struct meta_command *cmd = NULL;
	if (n < sizeof name) {
		memcpy(name, line + 1, n);
		name[n] = '\0';
		cmd = meta_find(name);
	}
	if (cmd && (cmd->flags & LOCAL_RAW_ARGS)) {
		/* the rest of the line as typed, after the blanks that follow the name */
		const char *rest = line + 1 + n;
		rest += strspn(rest, " \t");
		argv[0] = copy;
		copy[n] = '\0';
		argv[1] = (char *)rest;
		argc = *rest ? 2 : 1;
	} else {
		argc = split_words(copy, argv, ARGS_MAX);
		cmd = argc > 0 ? meta_find(argv[0]) : NULL;
	}
	if (argc < 0) {
		shell_error(sh, "too many words (at most %d)", ARGS_MAX);
		free(copy);
		return true;
	}
	bool in_data = session_phase(sh->session) == PHASE_DATA;
	bool data_only = cmd && (cmd->flags & LOCAL_IN_DATA);
	bool anywhere = cmd && (cmd->flags & LOCAL_ANY_PHASE);
	if (!cmd || (in_data && !data_only && !anywhere)) {
		free(copy);
		return false;
	}
	if (!in_data && data_only && !session_connected(sh->session)) {
		/* the connection ended under the message: a network failure, not a usage error */
		render_error(sh->render, "\\%s: not connected any more (the message was not sent)",
			     cmd->name);
		shell_failed(sh, SESSION_ERR_STATE);
	} else if (!in_data && data_only) {
		shell_error(sh, "\\%s works inside DATA only (after a 354 reply)", cmd->name);
	} else {
		cmd->run(sh, argc, argv);
	}
	if (cmd->flags & LOCAL_SECRET_ARGS)
		OPENSSL_cleanse(copy, strlen(line + 1));
	free(copy);
	return true;
}

/* "label:   text", the text wrapped at blanks to lines of about 88 columns. */
static void field(struct buf *out, const char *label, const char *text)
{
	enum { INDENT = 10, WIDTH = 88 };
	buf_printf(out, "%-*s", INDENT, label);
	size_t col = INDENT;
	while (*text) {
		size_t w = strcspn(text, " ");
		if (col > INDENT && col + 1 + w > WIDTH) {
			buf_printf(out, "\n%*s", INDENT, "");
			col = INDENT;
		} else if (col > INDENT) {
			buf_putc(out, ' ');
			col++;
		}
		buf_append(out, text, w);
		col += w;
		text += w;
		text += strspn(text, " ");
	}
	buf_putc(out, '\n');
}

void meta_help(struct shell *sh, const char *topic)
{
	struct buf out;
	buf_init(&out);
	bool local = topic && topic[0] == '\\';
	if (local)
		topic++;
	const struct meta_command *m = topic ? meta_find(topic) : NULL;
	/* "\auth" is the local command, "auth" the SMTP verb */
	const struct smtp_verb *v = topic && !(local && m) ? verb_find(topic, strlen(topic)) : NULL;
	if (v) {
		buf_printf(&out, "%s — %s\n", v->name, v->summary);
		field(&out, "syntax:", v->syntax);
		field(&out, "what:", v->details);
		field(&out, "replies:", v->replies);
		field(&out, "spec:", v->rfc);
		field(&out, "example:", v->example);
		out.data[--out.len] = '\0';
	} else if (m) {
		buf_printf(&out, "\\%s %s\n%s", m->name, m->args, m->help);
	} else if (topic) {
		render_error(sh->render, "no help for %s (\\help lists the topics)", topic);
		buf_free(&out);
		return;
	} else {
		buf_puts(&out, "SMTP commands (sent to the server as typed):\n");
		for (size_t i = 0; i < smtp_verb_count; i++)
			buf_printf(&out, "  %-9s %s\n", smtp_verbs[i].name, smtp_verbs[i].summary);
		buf_puts(&out, "Local commands (never sent):\n");
		/* A terminal narrower than the two columns need: each command on a line of its
		   own and its help below it (the renderer wraps both); a pipe gets the columns. */
		size_t width = render_width(sh->render);
		bool stacked = width && width < 100;
		for (size_t i = 0; i < meta_command_count; i++) {
			char name[64];
			snprintf(name, sizeof name, "\\%s %s", meta_commands[i].name,
				 meta_commands[i].args);
			if (stacked)
				buf_printf(&out, "  \\%s %s\n      %s\n", meta_commands[i].name,
					   meta_commands[i].args, meta_commands[i].help);
			else
				buf_printf(&out, "  %-44s %s\n", name, meta_commands[i].help);
		}
		buf_puts(&out, "Tab completes; \\help VERB explains one; inside DATA a line with only "
			       "'.' ends the message.");
	}
	render_text(sh->render, out.data);
	buf_free(&out);
}

static unsigned meta_flags(const char *name)
{
	const struct meta_command *m = meta_find(name);
	return m ? m->flags : 0;
}

static bool meta_holds_secret(const struct shell *sh, const char *line)
{
	size_t n = strcspn(line + 1, " \t");
	char name[32];
	if (n >= sizeof name)
		return false;
	memcpy(name, line + 1, n);
	name[n] = '\0';
	const struct meta_command *m = meta_find(name);
	const char *args = line + 1 + n;
	return m && m->holds_secret && m->holds_secret(sh, args + strspn(args, " \t"));
}

const struct shell_local_commands meta_local_commands = {
    .run = meta_run,
    .flags = meta_flags,
    .holds_secret = meta_holds_secret,
};

void meta_candidates(struct candidates *c)
{
	/* "\name" for each row: the candidates must outlive the call */
	static char names[sizeof meta_commands / sizeof meta_commands[0]][24];
	bool in_data = session_phase(c->sh->session) == PHASE_DATA;
	for (size_t i = 0; i < meta_command_count; i++) {
		const struct meta_command *m = &meta_commands[i];
		if (in_data != !!(m->flags & LOCAL_IN_DATA) && !(m->flags & LOCAL_ANY_PHASE))
			continue;
		snprintf(names[i], sizeof names[i], "\\%s", m->name);
		candidates_offer_exact(c, names[i]);
	}
}
