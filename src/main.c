/* smtpsh: an interactive shell for SMTP. Command line, then the REPL or a batch. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/opensslv.h>
#include <readline/readline.h>

#include "config.h"
#include "smtpsh/render.h"
#include "smtpsh/repl.h"
#include "smtpsh/session.h"
#include "smtpsh/shell.h"

enum {
	OPT_TLS = 256,
	OPT_STARTTLS,
	OPT_CAFILE,
	OPT_INSECURE,
	OPT_TIMEOUT,
	OPT_EHLO,
	OPT_STRICT,
	OPT_COLOR,
	OPT_ALLOW_PLAINTEXT_AUTH,
};

static const struct option long_options[] = {
	{"tls", no_argument, NULL, OPT_TLS},
	{"starttls", no_argument, NULL, OPT_STARTTLS},
	{"cafile", required_argument, NULL, OPT_CAFILE},
	{"insecure", no_argument, NULL, OPT_INSECURE},
	{"timeout", required_argument, NULL, OPT_TIMEOUT},
	{"ehlo", required_argument, NULL, OPT_EHLO},
	{"file", required_argument, NULL, 'f'},
	{"strict", no_argument, NULL, OPT_STRICT},
	{"color", required_argument, NULL, OPT_COLOR},
	{"allow-plaintext-auth", no_argument, NULL, OPT_ALLOW_PLAINTEXT_AUTH},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

static void usage(FILE *f)
{
	fputs("Usage: smtpsh [OPTION]... [HOST [PORT]]\n"
	      "An interactive shell for SMTP: every command sent and every reply received is shown.\n"
	      "Without HOST the shell starts disconnected (\\connect HOST [PORT] connects).\n"
	      "\n"
	      "Connection:\n"
	      "  -4                    use IPv4 only\n"
	      "  -6                    use IPv6 only\n"
	      "      --tls             implicit TLS from the first byte (default port 465)\n"
	      "      --starttls        EHLO, STARTTLS and EHLO again after the greeting (default\n"
	      "                        port 587); never goes on in plaintext\n"
	      "      --cafile FILE     trust the CA certificates in FILE (PEM) instead of the\n"
	      "                        system store\n"
	      "      --insecure        do not stop on certificate problems (shown on every line)\n"
	      "      --timeout SECONDS connect, handshake and reply timeout (default 30)\n"
	      "      --ehlo NAME       the name the automatic EHLO of --starttls gives (default\n"
	      "                        localhost)\n"
	      "      --allow-plaintext-auth\n"
	      "                        allow AUTH without TLS to a host that is not loopback\n"
	      "\n"
	      "Batch mode (used when standard input is not a terminal, or with -f):\n"
	      "  -f, --file FILE       read the lines to run from FILE\n"
	      "      --strict          stop at the first 4xx/5xx reply or protocol error\n"
	      "\n"
	      "Display:\n"
	      "      --color WHEN      colour the output: auto (default), always, never;\n"
	      "                        NO_COLOR in the environment means never for auto\n"
	      "\n"
	      "  -h, --help            show this help and exit\n"
	      "  -V, --version         show the version and exit\n"
	      "\n"
	      "Markers: -> sent, <- received, ~> <~ under TLS, ?> <? under TLS whose certificate\n"
	      "was not verified (--insecure), * local event, ! warning or error (on stderr).\n"
	      "\n"
	      "Exit status: 0 ok; 1 --strict and a 4xx/5xx reply; 2 usage or local error;\n"
	      "3 connection failed or lost, or timeout; 4 TLS failure (handshake, certificate,\n"
	      "STARTTLS unavailable when required); 5 --strict and a malformed reply;\n"
	      "130 interrupted.\n",
	      f);
}

static int parse_timeout(const char *s, int *ms)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || *end || v <= 0 || v > 86400)
		return -1;
	*ms = (int)(v * 1000);
	return 0;
}

int main(int argc, char **argv)
{
	struct session_params params = {
		.timeout_ms = 30000,
		.family = CONN_ANY,
		.ehlo_name = "localhost",
		.body_echo_max = 100,
	};
	enum tls_mode mode = TLS_NONE;
	const char *script = NULL, *color = "auto";
	bool strict = false, allow_plaintext_auth = false;
	int opt;
	while ((opt = getopt_long(argc, argv, "46f:hV", long_options, NULL)) != -1) {
		switch (opt) {
		case '4':
			params.family = CONN_V4;
			break;
		case '6':
			params.family = CONN_V6;
			break;
		case OPT_TLS:
			mode = TLS_IMPLICIT;
			break;
		case OPT_STARTTLS:
			mode = TLS_STARTTLS;
			break;
		case OPT_CAFILE:
			params.cafile = optarg;
			break;
		case OPT_INSECURE:
			params.insecure = true;
			break;
		case OPT_TIMEOUT:
			if (parse_timeout(optarg, &params.timeout_ms) < 0) {
				fprintf(stderr, "smtpsh: --timeout needs a number of seconds, not '%s'\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_EHLO:
			if (!*optarg || strpbrk(optarg, " \t\r\n")) {
				fprintf(stderr, "smtpsh: --ehlo needs a name without blanks\n");
				return EXIT_USAGE;
			}
			params.ehlo_name = optarg;
			break;
		case 'f':
			script = optarg;
			break;
		case OPT_ALLOW_PLAINTEXT_AUTH:
			allow_plaintext_auth = true;
			break;
		case OPT_STRICT:
			strict = true;
			break;
		case OPT_COLOR:
			if (strcmp(optarg, "auto") && strcmp(optarg, "always") && strcmp(optarg, "never")) {
				fprintf(stderr, "smtpsh: --color takes auto, always or never\n");
				return EXIT_USAGE;
			}
			color = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			printf("smtpsh %s\nReadline %s\n%s\n", SMTPSH_VERSION, rl_library_version,
			       OPENSSL_VERSION_TEXT);
			return EXIT_OK;
		default:
			fputs("Try 'smtpsh --help' for more information.\n", stderr);
			return EXIT_USAGE;
		}
	}
	if (argc - optind > 2) {
		fputs("smtpsh: too many arguments (HOST [PORT])\nTry 'smtpsh --help' for more "
		      "information.\n",
		      stderr);
		return EXIT_USAGE;
	}
	const char *host = optind < argc ? argv[optind] : NULL;
	const char *port = optind + 1 < argc ? argv[optind + 1] : NULL;

	FILE *in = NULL;
	if (script) {
		in = strcmp(script, "-") == 0 ? stdin : fopen(script, "r");
		if (!in) {
			fprintf(stderr, "smtpsh: cannot read %s: %s\n", script, strerror(errno));
			return EXIT_USAGE;
		}
	} else if (!isatty(STDIN_FILENO)) {
		in = stdin;
	}

	signal(SIGPIPE, SIG_IGN);
	bool use_color = strcmp(color, "always") == 0 ||
			 (strcmp(color, "auto") == 0 && isatty(STDOUT_FILENO) && !getenv("NO_COLOR") &&
			  !(getenv("TERM") && strcmp(getenv("TERM"), "dumb") == 0));
	struct render render;
	render_init(&render, stdout, stderr, use_color);
	struct smtp_session *session = session_new(&params);
	if (!session) {
		fputs("smtpsh: out of memory\n", stderr);
		return EXIT_USAGE;
	}
	session_add_listener(session, render_event, &render);
	struct shell sh;
	shell_init(&sh, session, &render);
	sh.batch = in != NULL;
	sh.strict = strict;
	sh.mode = mode;
	sh.allow_plaintext_auth = allow_plaintext_auth;

	if (host)
		shell_connect(&sh, host, port, mode);
	int status;
	if (in)
		status = sh.done ? sh.status : batch_run(&sh, in);
	else
		status = repl_run(&sh);
	if (in && in != stdin)
		fclose(in);
	session_free(session);
	render_free(&render);
	return status;
}
