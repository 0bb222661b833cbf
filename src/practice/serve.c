/* smtpsh --serve: the practice server alone in the foreground, showing every conversation. */
#include "smtpsh/practice.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "smtpsh/exit.h"
#include "smtpsh/oauthd.h"
#include "smtpsh/practice_like.h"
#include "smtpsh/practice_script.h"

static volatile sig_atomic_t serve_stop;

static void on_signal(int sig)
{
	(void)sig;
	serve_stop = 1;
}

/* "*  smtpsh practice server on 127.0.0.1 port 2587 and ::1 port 2587 (loopback only): ..." */
static void print_port(const struct practice_env *env, bool implicit, unsigned port, bool lmtp)
{
	printf("*  smtpsh practice server on");
	const char *sep = " ";
	for (size_t i = 0; i < env->nfds; i++)
		if (env->implicit[i] == implicit) {
			printf("%s%s port %u", sep, env->addrs[i], port);
			sep = " and ";
		}
	printf("%s: %s%s\n", env->loopback ? " (loopback only)" : "",
	       implicit ? "implicit TLS from the first byte (port 465 style)"
			: "plaintext, then STARTTLS (port 587 style)",
	       lmtp ? ", speaking LMTP (RFC 2033: LHLO, one reply per recipient)" : "");
}

int practice_serve(const struct practice_options *o)
{
	struct practice_env env;
	struct smtpd_script script;
	char err[512];
	smtpd_script_init(&script);
	struct stat st;
	/* A missing folder is made (0700: the transcripts are the students' sessions), as
	   --maildir makes its Maildir; its parent must exist, and anything else is refused. */
	if (o->record && mkdir(o->record, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "smtpsh: --serve --record %s: cannot make the folder: %s\n",
			o->record, strerror(errno));
		return EXIT_USAGE;
	}
	if (o->record && (stat(o->record, &st) < 0 || !S_ISDIR(st.st_mode))) {
		fprintf(stderr,
			"smtpsh: --serve --record DIR writes a transcript per connection into the "
			"folder DIR: %s is not a folder\n",
			o->record);
		return EXIT_USAGE;
	}
	if (o->script && smtpd_script_load(&script, o->script, err, sizeof err) < 0) {
		fprintf(stderr, "smtpsh: --script: %s\n", err);
		return EXIT_USAGE;
	}
	if (practice_env_setup(&env, o, err, sizeof err) < 0) {
		fprintf(stderr, "smtpsh: %s\n", err);
		smtpd_script_free(&script);
		return EXIT_USAGE;
	}
	struct sigaction sa = {0};
	sa.sa_handler = on_signal; /* no SA_RESTART: poll() returns, the loop sees the flag */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* Which port speaks what: one line per port. */
	const struct like_provider *like = like_find(o->like);
	if (!o->tls)
		print_port(&env, false, env.port, o->lmtp);
	if (o->tls || env.tls_port)
		print_port(&env, true, o->tls ? env.port : env.tls_port, o->lmtp);
	if (like)
		printf("*  answering like %s (%s): its host name and reply texts, AUTH only after "
		       "STARTTLS and before MAIL\n",
		       like->name, like->hostname);
	if (!env.loopback)
		fprintf(stderr,
			"! warning: listening on %s: anyone who can reach this machine can "
			"talk to this server (it stores mail, it never relays it)\n",
			env.addrs[0]);
	if (env.limits_note[0])
		fprintf(stderr, "! warning: %s\n", env.limits_note);
	printf("*  serving up to %u clients at once", env.max_clients);
	if (env.max_per_address < env.max_clients)
		printf(", %u from one address", env.max_per_address);
	printf(" (--max-clients, --max-per-address)\n");
	if (!o->script)
		printf("*  AUTH login: user %s, password %s (offered after STARTTLS); app password "
		       "%s (the only one accepted with app-password on)\n",
		       env.user, env.password, env.app_password);
	printf("*  CA certificate to trust: %s\n", env.cafile);
	if (!o->tls) {
		printf("*    e.g. smtpsh --cafile %s --starttls%s localhost %u\n", env.cafile,
		       o->lmtp ? " --lmtp" : "", env.port);
		printf(
		    "*    or   openssl s_client -starttls smtp -CAfile %s -connect localhost:%u\n",
		    env.cafile, env.port);
	}
	if (o->tls || env.tls_port)
		printf("*    e.g. smtpsh --cafile %s --tls localhost %u\n", env.cafile,
		       o->tls ? env.port : env.tls_port);
	if (!o->script)
		printf("*  client certificate for AUTH EXTERNAL: %s (--cert)\n", env.clientfile);
	if (!o->script)
		printf("*  Maildir: %s%s\n", env.maildir,
		       o->maildir ? ""
				  : " (removed when the server stops; --maildir DIR keeps "
				    "the mail)");
	if (o->script)
		printf(
		    "*  playing the server side of %s to every client (%zu steps%s): its replies, "
		    "not the practice server's; nothing is stored; Ctrl-C stops the server\n",
		    o->script, script.n, script.implicit_tls ? ", implicit TLS" : "");
	else
		printf("*  mail is stored, never relayed; type 'help' for the teaching faults; "
		       "Ctrl-C stops the server\n");
	if (o->record)
		printf("*  recording each connection to %s/DATE-N-ADDRESS.transcript (the server's "
		       "side: -> what the client sent, <- what the server answered)\n",
		       o->record);

	struct practice_loop loop = {
	    .env = &env,
	    .out = stdout,
	    .show_body = true,
	    .quiet = o->quiet,
	    .record_dir = o->record,
	    .control_in = STDIN_FILENO,
	    .control_out = -1,
	    .stop = &serve_stop,
	};
	practice_loop_config(&loop, o);
	loop.cfg.script = o->script ? &script : NULL;
	/* the sign-in server for XOAUTH2 and OAUTHBEARER (not with --script: its replies are
	   the transcript's) */
	struct oauthd_hooks hooks;
	struct oauthd_server *od = NULL;
	if (!o->script) {
		od = oauthd_server_start(env.oauth_fd, env.oauth_host, env.oauth_port, env.ssl,
					 env.user,
					 o->quiet ? NULL : stdout, /* --quiet: mistakes only */
					 &hooks, err, sizeof err);
		env.oauth_fd = -1;
		if (od) {
			loop.cfg.oauth = &hooks;
			printf(
			    "*  XOAUTH2 and OAUTHBEARER take tokens of the practice sign-in server "
			    "https://%s:%u (client_id %s; device flow: POST /devicecode, "
			    "then open /device; see docs/oauth.md)\n",
			    env.oauth_host, env.oauth_port, OAUTHD_CLIENT_ID);
			printf("*    e.g. curl --cacert %s -d client_id=%s -d 'scope=%s' "
			       "https://%s:%u/devicecode\n",
			       env.cafile, OAUTHD_CLIENT_ID, OAUTHD_SCOPE, env.oauth_host,
			       env.oauth_port);
		} else {
			printf("*  no sign-in server (XOAUTH2 not offered): %s\n", err);
		}
		fflush(stdout);
	}
	/* the legend last: what follows is the conversation */
	printf("*  [N] numbers the connections; -> is what the client sent, <- what the server "
	       "answered (~> <~ under TLS), as on the client's screen; \"| \" marks message "
	       "lines; [LF] [CR] [no CRLF] mark wrong line ends%s\n",
	       o->quiet ? "; --quiet: only the mistakes and a summary per connection" : "");
	fflush(stdout);
	int r = practice_loop_run(&loop);
	oauthd_server_stop(od);
	struct buf stats;
	buf_init(&stats);
	practice_loop_stats(&loop, &stats);
	printf("*  server stopped (%lu message%s stored)\n*  %s\n", loop.cfg.messages,
	       loop.cfg.messages == 1 ? "" : "s", stats.data ? stats.data : "");
	buf_free(&stats);
	fflush(stdout);
	practice_env_cleanup(&env);
	smtpd_script_free(&script);
	return r == 0 ? EXIT_OK : EXIT_NET;
}
