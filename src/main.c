/*
 * smtpsh: an interactive shell for SMTP. The command line (cli.c) says what to do; main builds
 * the session and the shell and runs the REPL, a batch, --send, --replay or --serve.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtpsh/check.h"
#include "smtpsh/cli.h"
#include "smtpsh/cred.h"
#include "smtpsh/diagram_cmd.h"
#include "smtpsh/dns.h"
#include "smtpsh/history.h"
#include "smtpsh/meta.h"
#include "smtpsh/paths.h"
#include "smtpsh/practice_cmd.h"
#include "smtpsh/profiles.h"
#include "smtpsh/rcfile.h"
#include "smtpsh/render.h"
#include "smtpsh/repl.h"
#include "smtpsh/send.h"
#include "smtpsh/replay.h"
#include "smtpsh/session.h"
#include "smtpsh/shell.h"
#include "smtpsh/step.h"
#include "smtpsh/transcript.h"

static void list_profiles(const struct profile_set *set)
{
	size_t n;
	const struct profile *presets = profile_presets(&n);
	for (size_t i = 0; i < n; i++)
		if (profile_find(set, presets[i].name)->builtin) /* else listed as the user's */
			puts(presets[i].name);
	for (size_t i = 0; i < set->n; i++)
		puts(set->items[i].name);
}

/* Which profile the command line names, and the host and port to connect to. */
static int pick_target(char **args, int npos, const struct cli_options *cli,
		       const struct profile_set *set, const struct profile **prof,
		       const char **host, const char **port)
{
	*prof = NULL;
	*host = *port = NULL;
	if (cli->profile) {
		*prof = profile_find(set, cli->profile);
		if (!*prof) {
			fprintf(stderr, "smtpsh: no profile or preset named '%s' (smtpsh "
					"--list-profiles lists them)\n",
				cli->profile);
			return -1;
		}
		if (npos > 1) {
			fputs("smtpsh: with --profile, only a PORT may follow\n", stderr);
			return -1;
		}
		*port = npos ? args[0] : NULL;
	} else {
		if (npos > 2) {
			fputs("smtpsh: too many arguments (HOST [PORT])\n", stderr);
			return -1;
		}
		*host = npos ? args[0] : NULL;
		*port = npos > 1 ? args[1] : NULL;
		*prof = *host && !cli->mx ? profile_for_argument(set, *host) : NULL;
	}
	if (*prof) {
		*host = (*prof)->host;
		if (!*port)
			*port = (*prof)->port;
	}
	return 0;
}

/* The first of the values given: command line, profile, environment. */
static const char *first(const char *cli, const char *profile, const char *environment)
{
	return cli ? cli : profile ? profile : environment;
}

/*
 * The TLS controls of the profile (checked when the file was read), then the command line's
 * over them: each control given on the command line wins.
 */
static void tls_controls_of(const struct profile *prof, const struct tls_controls *cli,
			    struct tls_controls *out)
{
	*out = (struct tls_controls){0};
	if (prof)
		profile_tls_controls(prof, out);
	tls_controls_overlay(out, cli);
}

/* What main() sets up before the shell runs; freed in one place. */
struct startup {
	struct profile_set profiles;
	struct buf profiles_path;
	struct buf cafile;
	struct buf trust_anchor; /* the profile's trust-anchor, ~/ expanded */
	struct buf scratch;
	const struct profile *profile; /* the one the command line named, or NULL */
	const char *host;
	const char *port;
	enum tls_mode mode;
	struct session_params params;
	FILE *in;		   /* batch input, or NULL for the REPL */
	struct practice *practice; /* --practice: the server the shell talks to */
};

/* --practice: starts the server (before any Readline state exists) and points the session
   at it. Returns false (said on stderr) when it cannot start. */
static bool start_practice(const struct cli_options *c, struct startup *st)
{
	char err[512];
	st->practice = practice_start(&c->practice_opt, err, sizeof err);
	if (!st->practice) {
		fprintf(stderr, "smtpsh: cannot start the practice server: %s\n", err);
		return false;
	}
	st->host = "127.0.0.1";
	st->port = st->practice->port;
	st->params.cafile = st->practice->env.cafile;
	return true;
}

/* Profiles, target, session parameters, batch input. Returns true when the shell is to run;
   false when main leaves with *status (--list-profiles, or an error said on stderr). */
static bool prepare(const struct cli *c, struct startup *st, int *status)
{
	const struct cli_options *cli = &c->opt, *envc = &c->env;
	*status = EXIT_USAGE;
	if (paths_file(PATHS_CONFIG, "profiles", &st->profiles_path) == 0 &&
	    profiles_load(&st->profiles, st->profiles_path.data, &st->scratch) < 0) {
		fprintf(stderr, "smtpsh: %s\n", st->scratch.data);
		return false;
	}
	if (cli->list_profiles) {
		list_profiles(&st->profiles);
		*status = EXIT_OK;
		return false;
	}
	if (pick_target(c->args, c->nargs, cli, &st->profiles, &st->profile, &st->host, &st->port) <
	    0) {
		fputs("Try 'smtpsh --help' for more information.\n", stderr);
		return false;
	}
	if (cli->send && !st->host) {
		fputs("smtpsh: --send needs HOST [PORT] (or a profile)\nTry 'smtpsh --help' for "
		      "more information.\n",
		      stderr);
		return false;
	}
	const struct profile *prof = st->profile;
	struct session_params *p = &st->params;
	p->timeout_ms = 30000;
	p->family = cli->family;
	p->insecure = cli->insecure;
	p->body_echo_max = 100;
	p->ehlo_name = first(cli->ehlo, prof ? prof->ehlo : NULL, envc->ehlo);
	if (!p->ehlo_name)
		p->ehlo_name = "localhost";
	if (!cli->timeout_ms && prof && prof->timeout_ms)
		p->timeout_ms = prof->timeout_ms;
	else if (cli->timeout_ms || envc->timeout_ms)
		p->timeout_ms = cli->timeout_ms ? cli->timeout_ms : envc->timeout_ms;
	if (!cli->cafile && prof && prof->cafile) {
		if (paths_expand_home(prof->cafile, &st->cafile) < 0) {
			fprintf(stderr, "smtpsh: profile %s: cafile %s: no home directory known\n",
				prof->name, prof->cafile);
			return false;
		}
		p->cafile = st->cafile.data;
	} else {
		p->cafile = first(cli->cafile, NULL, envc->cafile);
	}
	st->mode = cli->mode_set ? cli->mode : prof ? prof->tls : TLS_NONE;

	if (cli->replay.path) {
		/* the transcript is the input */
	} else if (cli->script) {
		st->in = strcmp(cli->script, "-") == 0 ? stdin : fopen(cli->script, "r");
		if (!st->in) {
			fprintf(stderr, "smtpsh: cannot read %s: %s\n", cli->script,
				strerror(errno));
			return false;
		}
	} else if (!isatty(STDIN_FILENO) && !cli->send) {
		st->in = stdin;
	}
	return true;
}

/* The rc file, the history, the profile's note, the connection, then the REPL or the batch. */
static int run(const struct cli *c, struct startup *st)
{
	const struct cli_options *cli = &c->opt, *envc = &c->env;
	signal(SIGPIPE, SIG_IGN);
	const char *color = first(cli->color, NULL, envc->color);
	color = color ? color : "auto";
	bool use_color = strcmp(color, "always") == 0 ||
			 (strcmp(color, "auto") == 0 && isatty(STDOUT_FILENO) && !getenv("NO_COLOR") &&
			  !(getenv("TERM") && strcmp(getenv("TERM"), "dumb") == 0));
	struct render render;
	render_init(&render, stdout, stderr, use_color);
	bool batch = st->in != NULL || cli->replay.path || cli->send;
	if (batch) {
		/* Lines come fast: message lines go out in large writes, the screen's lines in
		   stdio's buffer when it is not a terminal (flushed before every wait). */
		st->params.coalesce_body = true;
		render.flush_each = isatty(STDOUT_FILENO);
		st->params.before_wait = render_flush;
		st->params.before_wait_arg = &render;
	}
	if (cli->theme)
		render.theme = (enum render_theme)render_theme_parse(cli->theme);
	render.wrap = !batch; /* a terminal's width: the REPL's lines only (render.h) */
	st->params.key_passphrase = cred_key_passphrase;
	st->params.key_passphrase_arg = &st->params.timeout_ms;
	struct smtp_session *session = session_new(&st->params);
	if (!session) {
		fputs("smtpsh: out of memory\n", stderr);
		render_free(&render);
		return EXIT_USAGE;
	}
	session_add_listener(session, render_event, &render);
	struct transcript_writer rec;
	transcript_writer_init(&rec);
	session_add_quiet_listener(session, transcript_event, transcript_wants_quiet, &rec);
	/* \diagram: the session so far, drawn from the events a recording would hold */
	struct diagram_live live;
	bool have_live = diagram_live_init(&live) == 0;
	if (have_live)
		session_add_listener(session, diagram_live_event, &live);
	const struct profile *prof = st->profile;
	struct shell_params sp = {
	    .session = session,
	    .render = &render,
	    .local = &meta_local_commands,
	    .rec = &rec,
	    .live = have_live ? &live : NULL,
	    .batch = batch,
	    .strict = cli->strict,
	    .mode = cli->mode,
	    .allow_plaintext_auth = cli->allow_plaintext_auth,
	    .profiles = &st->profiles,
	    .link = {.lmtp = cli->lmtp,
		     .proxy = cli->proxy,
		     .proxy_from = cli->proxy_from,
		     .sni = cli->sni,
		     .ocsp = cli->ocsp || (prof && prof->ocsp),
		     .resume = cli->resume},
	    .profiles_path = st->profiles_path.len ? st->profiles_path.data : NULL,
	    .practice = st->practice,
	    .token_command = cli->token_command,
	    .resolver = first(cli->resolver, prof ? prof->resolver : NULL, NULL),
	    .trust_anchor = cli->trust_anchor,
	    .ehlo_given = cli->ehlo != NULL,
	    .timeout_given = cli->timeout_ms != 0,
	};
	if (!cli->trust_anchor && prof && prof->trust_anchor) {
		if (paths_expand_home(prof->trust_anchor, &st->trust_anchor) < 0) {
			fprintf(stderr,
				"smtpsh: profile %s: trust-anchor %s: no home directory known\n",
				prof->name, prof->trust_anchor);
			session_free(session);
			render_free(&render);
			transcript_writer_free(&rec);
			return EXIT_USAGE;
		}
		sp.trust_anchor = st->trust_anchor.data;
	}
	if (st->practice) /* \auth asks only for the password */
		sp.default_user = st->practice->env.user;
	if (prof) {
		sp.default_user = prof->user;
		sp.default_mech = prof->auth;
		sp.password_command = prof->password_command;
		sp.oauth_profile = prof;
	}
	if (cli->password_command)
		sp.password_command = cli->password_command;
	tls_controls_of(prof, &cli->tls, &sp.link.tls);
	/* --proxy-from was checked by cli.c; a client key is loaded here (its passphrase
	   asked), and a wrong one ends smtpsh before it connects */
	if (session_set_link(session, &sp.link) < 0) {
		fprintf(stderr, "smtpsh: %s\n", session_error(session));
		transcript_writer_free(&rec);
		diagram_live_free(&live);
		session_free(session);
		render_free(&render);
		return EXIT_USAGE;
	}
	struct shell *sh = shell_new(&sp);
	if (!sh) {
		fputs("smtpsh: out of memory\n", stderr);
		transcript_writer_free(&rec);
		diagram_live_free(&live);
		session_free(session);
		render_free(&render);
		return EXIT_USAGE;
	}

	/* --send does what its options say: no rc file, no history */
	if (!cli->no_rc && !cli->send && paths_file(PATHS_CONFIG, "smtpshrc", &st->scratch) == 0)
		rcfile_run(sh, st->scratch.data);
	/* the command line turns settings on over the rc file */
	struct shell_options so = {
	    .explain = cli->explain,
	    .timing = cli->timing,
	    .show_raw = cli->show_raw,
	    .pipeline = cli->pipeline,
	    .step = cli->step,
	};
	shell_set_options(sh, &so);
	if (cli->record && !shell_done(sh) && transcript_open(&rec, cli->record) < 0) {
		fprintf(stderr, "smtpsh: --record: %s\n", rec.err);
		shell_end(sh, EXIT_USAGE);
	}
	if (!st->in && !cli->replay.path && !cli->send && !cli->oauth_login && !shell_done(sh)) {
		const char *hist = getenv("SMTPSH_HISTFILE");
		bool own = hist != NULL;
		if (!own && paths_file(PATHS_STATE, "history", &st->scratch) == 0)
			hist = st->scratch.data;
		history_open(hist, c->histsize, !own, &render);
	}
	if (prof && !shell_done(sh)) {
		buf_reset(&st->scratch);
		profiles_summary(prof, &st->scratch);
		render_info(&render, "%s %s: %s", prof->builtin ? "preset" : "profile", prof->name,
			    st->scratch.data);
		if (prof->note)
			render_info(&render, "%s", prof->note);
	}
	if (st->practice && !shell_done(sh))
		practice_banner(st->practice, &render);
	int status;
	if (cli->replay.path && !shell_done(sh)) {
		struct replay_options r = cli->replay;
		r.host = st->host;
		r.port = st->port;
		status = replay_run(sh, &r);
	} else if (cli->oauth_login && !shell_done(sh)) {
		/* sign in and leave: the profile's OAuth2 settings, no connection */
		static const char login[] = "\\oauth login";
		shell_execute(sh, login, sizeof login - 1);
		status = shell_status(sh);
	} else if (cli->send && !shell_done(sh)) {
		shell_connect(sh, st->host, st->port, st->mode);
		status = send_oneshot(sh, cli->message, st->params.ehlo_name, cli->auth, cli->user);
	} else {
		if (st->host && cli->mx && !shell_done(sh))
			shell_connect_mx(sh, st->host, st->port, st->mode);
		else if (st->host && !shell_done(sh))
			shell_connect(sh, st->host, st->port, st->mode);
		if (shell_done(sh))
			status = shell_status(sh);
		else
			status = st->in ? batch_run(sh, st->in) : repl_run(sh);
	}
	history_close();
	transcript_close(&rec);
	if (rec.failed) {
		if (rec.err[0])
			fprintf(stderr, "smtpsh: %s\n", rec.err);
		if (status == EXIT_OK)
			status = EXIT_USAGE;
	}
	shell_free(sh);
	transcript_writer_free(&rec);
	diagram_live_free(&live);
	session_free(session);
	render_free(&render);
	return status;
}

static volatile sig_atomic_t check_interrupted;

static void on_check_interrupt(int sig)
{
	(void)sig;
	check_interrupted = 1;
}

/* --check: the plan, the checks, the report (text or --json); no shell. */
static int run_check(const struct cli *c, const struct startup *st)
{
	const struct cli_options *cli = &c->opt;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_check_interrupt);
	struct check_options o = {
	    .host = st->host,
	    .port = st->port ? st->port : "25",
	    .cafile = st->params.cafile,
	    /* a check that waits this long is undecided: shorter than the shell's 30 s */
	    .timeout_ms = cli->timeout_ms     ? cli->timeout_ms
			  : c->env.timeout_ms ? c->env.timeout_ms
					      : 10000,
	    .family = cli->family,
	    .ehlo_name = st->params.ehlo_name,
	    .check_rcpt = cli->check_rcpt,
	    .intr = &check_interrupted,
	};
	o.role = cli->role ? (strcmp(cli->role, "submission") == 0 ? CHECK_ROLE_SUBMISSION
								   : CHECK_ROLE_MX)
			   : check_role_for_port(o.port);
	o.implicit_tls = st->mode == TLS_IMPLICIT || (!cli->mode_set && strcmp(o.port, "465") == 0);
	if (cli->mx) {
		/* the DNS settings as --mx takes them (the profile's are refused with --check) */
		struct dns_params dp = {.resolver = cli->resolver,
					.trust_anchor = cli->trust_anchor};
		int st_mx = check_mx_run(&o, &dp, cli->json, cli->json ? stderr : stdout, stdout);
		return check_interrupted ? EXIT_INTERRUPT : st_mx;
	}
	check_print_plan(cli->json ? stderr : stdout, &o);
	struct check_report r;
	check_run(&o, &r);
	if (cli->json)
		check_print_json(stdout, &o, &r);
	else
		check_print_text(stdout, &o, &r);
	int status = check_interrupted ? EXIT_INTERRUPT : check_exit_status(&r);
	check_report_free(&r);
	return status;
}

/* Profiles, target and session (prepare), the practice server, then the shell (run). */
static int start(const struct cli *c)
{
	struct startup st = {0};
	profile_set_init(&st.profiles);
	buf_init(&st.profiles_path);
	buf_init(&st.cafile);
	buf_init(&st.trust_anchor);
	buf_init(&st.scratch);
	int status;
	if (prepare(c, &st, &status)) {
		if (c->opt.check)
			status = run_check(c, &st);
		else if (!c->opt.practice || start_practice(&c->opt, &st))
			status = run(c, &st);
		else
			status = EXIT_USAGE;
	}
	practice_stop(st.practice);
	if (st.in && st.in != stdin)
		fclose(st.in);
	profile_set_free(&st.profiles);
	buf_free(&st.profiles_path);
	buf_free(&st.cafile);
	buf_free(&st.trust_anchor);
	buf_free(&st.scratch);
	return status;
}

int main(int argc, char **argv)
{
	struct cli cli;
	cli_init(&cli);
	int status = EXIT_USAGE;
	switch (cli_parse(&cli, argc, argv, &status)) {
	case CLI_EXIT:
		break;
	case CLI_SERVE:
		status = practice_serve(&cli.opt.practice_opt);
		break;
	case CLI_DIAGRAM:
		status = diagram_cmd_run(&cli.opt.diagram);
		break;
	case CLI_RUN:
		status = start(&cli);
		break;
	}
	cli_free(&cli);
	step_close();
	return status;
}
