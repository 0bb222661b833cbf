/* smtpsh's command line: the options, the variables that stand for options, --help. */
#include "smtpsh/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <readline/readline.h>

#include "config.h"
#include "smtpsh/exit.h"
#include "smtpsh/history.h"
#include "smtpsh/practice_like.h"
#include "smtpsh/proxy.h"
#include "smtpsh/render.h"
#include "smtpsh/sasl.h"
#include "smtpsh/step.h"

enum {
	OPT_TLS = 256,
	OPT_STARTTLS,
	OPT_CAFILE,
	OPT_INSECURE,
	OPT_TIMEOUT,
	OPT_EHLO,
	OPT_STRICT,
	OPT_COLOR,
	OPT_THEME,
	OPT_ALLOW_PLAINTEXT_AUTH,
	OPT_LIST_PROFILES,
	OPT_EXPLAIN,
	OPT_TIMING,
	OPT_SHOW_RAW,
	OPT_PIPELINE,
	OPT_STEP,
	OPT_RECORD,
	OPT_REPLAY,
	OPT_REPLAY_USER,
	OPT_REPLAY_SKIP_AUTH,
	OPT_PASSWORD_COMMAND,
	OPT_TOKEN_COMMAND,
	OPT_OAUTH_LOGIN,
	OPT_SEND,
	OPT_SEND_OPTION, /* --from --to ...: recorded by send_opts_add() under their name */
	OPT_AUTH,
	OPT_USER,
	OPT_PRACTICE,
	OPT_SERVE,
	OPT_LISTEN,
	OPT_MAILDIR,
	OPT_SCRIPT,
	OPT_LMTP,
	OPT_MAX_CLIENTS,
	OPT_MAX_PER_ADDRESS,
	OPT_SNI,
	OPT_PROXY,
	OPT_PROXY_FROM,
	OPT_OCSP,
	OPT_RESUME,
	OPT_MX,
	OPT_RESOLVER,
	OPT_TRUST_ANCHOR,
	OPT_DIAGRAM,
	OPT_FORMAT,
	OPT_WIDTH,
	OPT_NOTES,
	OPT_ASCII,
	OPT_CHECK,
	OPT_ROLE,
	OPT_JSON,
	OPT_CHECK_RCPT,
	OPT_LIKE,
	OPT_TLS_PORT,
	OPT_TLS_CONTROL, /* --tls-min --ciphers --cert ...: set by tls_control_set() by name */
	OPT_QUIET,
};

static const char short_options[] = "46f:ho:p:VX";

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
    {"theme", required_argument, NULL, OPT_THEME},
    {"allow-plaintext-auth", no_argument, NULL, OPT_ALLOW_PLAINTEXT_AUTH},
    {"profile", required_argument, NULL, 'p'},
    {"list-profiles", no_argument, NULL, OPT_LIST_PROFILES},
    {"no-rc", no_argument, NULL, 'X'},
    {"explain", no_argument, NULL, OPT_EXPLAIN},
    {"timing", no_argument, NULL, OPT_TIMING},
    {"show-raw", no_argument, NULL, OPT_SHOW_RAW},
    {"pipeline", no_argument, NULL, OPT_PIPELINE},
    {"step", no_argument, NULL, OPT_STEP},
    {"record", required_argument, NULL, OPT_RECORD},
    {"replay", required_argument, NULL, OPT_REPLAY},
    {"replay-user", required_argument, NULL, OPT_REPLAY_USER},
    {"replay-skip-auth", no_argument, NULL, OPT_REPLAY_SKIP_AUTH},
    {"password-command", required_argument, NULL, OPT_PASSWORD_COMMAND},
    {"oauth-token-command", required_argument, NULL, OPT_TOKEN_COMMAND},
    {"oauth-login", required_argument, NULL, OPT_OAUTH_LOGIN},
    {"send", no_argument, NULL, OPT_SEND},
    {"from", required_argument, NULL, OPT_SEND_OPTION},
    {"to", required_argument, NULL, OPT_SEND_OPTION},
    {"cc", required_argument, NULL, OPT_SEND_OPTION},
    {"bcc", required_argument, NULL, OPT_SEND_OPTION},
    {"subject", required_argument, NULL, OPT_SEND_OPTION},
    {"body", required_argument, NULL, OPT_SEND_OPTION},
    {"body-file", required_argument, NULL, OPT_SEND_OPTION},
    {"attach", required_argument, NULL, OPT_SEND_OPTION},
    {"header", required_argument, NULL, OPT_SEND_OPTION},
    {"chunking", no_argument, NULL, OPT_SEND_OPTION},
    {"notify", required_argument, NULL, OPT_SEND_OPTION},
    {"ret", required_argument, NULL, OPT_SEND_OPTION},
    {"envid", required_argument, NULL, OPT_SEND_OPTION},
    {"auth", required_argument, NULL, OPT_AUTH},
    {"user", required_argument, NULL, OPT_USER},
    {"practice", no_argument, NULL, OPT_PRACTICE},
    {"serve", no_argument, NULL, OPT_SERVE},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"maildir", required_argument, NULL, OPT_MAILDIR},
    {"script", required_argument, NULL, OPT_SCRIPT},
    {"lmtp", no_argument, NULL, OPT_LMTP},
    {"like", required_argument, NULL, OPT_LIKE},
    {"tls-port", required_argument, NULL, OPT_TLS_PORT},
    {"max-clients", required_argument, NULL, OPT_MAX_CLIENTS},
    {"max-per-address", required_argument, NULL, OPT_MAX_PER_ADDRESS},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"sni", required_argument, NULL, OPT_SNI},
    {"proxy", required_argument, NULL, OPT_PROXY},
    {"proxy-from", required_argument, NULL, OPT_PROXY_FROM},
    {"ocsp", no_argument, NULL, OPT_OCSP},
    {"resume", no_argument, NULL, OPT_RESUME},
    {"mx", no_argument, NULL, OPT_MX},
    {"resolver", required_argument, NULL, OPT_RESOLVER},
    {"trust-anchor", required_argument, NULL, OPT_TRUST_ANCHOR},
    {"diagram", required_argument, NULL, OPT_DIAGRAM},
    {"output", required_argument, NULL, 'o'},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"width", required_argument, NULL, OPT_WIDTH},
    {"notes", no_argument, NULL, OPT_NOTES},
    {"ascii", no_argument, NULL, OPT_ASCII},
    {"check", no_argument, NULL, OPT_CHECK},
    {"role", required_argument, NULL, OPT_ROLE},
    {"json", no_argument, NULL, OPT_JSON},
    {"check-rcpt", required_argument, NULL, OPT_CHECK_RCPT},
    {"tls-min", required_argument, NULL, OPT_TLS_CONTROL},
    {"tls-max", required_argument, NULL, OPT_TLS_CONTROL},
    {"ciphers", required_argument, NULL, OPT_TLS_CONTROL},
    {"ciphersuites", required_argument, NULL, OPT_TLS_CONTROL},
    {"groups", required_argument, NULL, OPT_TLS_CONTROL},
    {"no-sni", no_argument, NULL, OPT_TLS_CONTROL},
    {"cert", required_argument, NULL, OPT_TLS_CONTROL},
    {"key", required_argument, NULL, OPT_TLS_CONTROL},
    {"key-password-command", required_argument, NULL, OPT_TLS_CONTROL},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

void cli_usage(FILE *f)
{
	fputs("Usage: smtpsh [OPTION]... [HOST [PORT]]\n"
	      "  or:  smtpsh [OPTION]... PROFILE [PORT]\n"
	      "  or:  smtpsh --practice [OPTION]...\n"
	      "  or:  smtpsh --serve [PORT] [--listen ADDR] [--maildir DIR] [--script FILE]\n"
	      "                      [--record DIR] [--quiet]\n"
	      "  or:  smtpsh --diagram TRANSCRIPT [-o FILE] [--format FORMAT]\n"
	      "  or:  smtpsh --check [--role ROLE] [--json] HOST [PORT]\n"
	      "  or:  smtpsh --check --mx [--json] DOMAIN [PORT]\n"
	      "An interactive shell for SMTP: shows every command sent and every reply.\n"
	      "Without HOST the shell starts disconnected (\\connect HOST [PORT] connects).\n"
	      "A HOST without a dot or colon that names a profile or preset connects with it.\n"
	      "\n"
	      "Connection:\n"
	      "  -4                    use IPv4 only\n"
	      "  -6                    use IPv6 only\n"
	      "      --tls             implicit TLS from the first byte (default port 465)\n"
	      "      --starttls        EHLO, STARTTLS, EHLO again after the greeting\n"
	      "                        (default port 587); never goes on in plaintext\n"
	      "      --cafile FILE     trust the CA certificates in FILE (PEM) instead of\n"
	      "                        the system store\n"
	      "      --insecure        go on despite certificate problems (marked ?> <?)\n"
	      "      --ocsp            ask for the server's stapled OCSP response and check\n"
	      "                        it; a revoked certificate is refused\n"
	      "      --resume          a new connection to the same host and port offers\n"
	      "                        the last TLS session (\\reconnect, \\connect)\n"
	      "      --timeout SECONDS connect, handshake and reply timeout (default 30)\n"
	      "      --ehlo NAME       the name of the automatic EHLO of --starttls\n"
	      "                        (default localhost)\n"
	      "      --allow-plaintext-auth\n"
	      "                        allow AUTH without TLS to a host that is not loopback\n"
	      "                        (a UNIX socket counts as loopback)\n"
	      "      --lmtp            speak LMTP (RFC 2033): LHLO, one reply per recipient\n"
	      "                        after the final \".\" (or BDAT LAST); with --serve or\n"
	      "                        --practice the practice server speaks it\n"
	      "      --sni NAME        send and check the server name NAME instead of HOST\n"
	      "                        (over a UNIX socket, without it no server name is\n"
	      "                        checked, and smtpsh says so)\n"
	      "      --proxy VERSION   send a PROXY protocol header (v1 text, v2 binary)\n"
	      "                        before the greeting\n"
	      "      --proxy-from ADDR:PORT\n"
	      "                        the client the PROXY header names (default: the\n"
	      "                        connection's own local address and port)\n"
	      "  HOST may be a UNIX socket's path: one that starts with / or ./\n"
	      "\n",
	      f);
	fputs("TLS controls (also \\connect flags and profile keys):\n"
	      "      --tls-min VERSION lowest TLS version offered: 1.0, 1.1, 1.2 (default)\n"
	      "                        or 1.3; below 1.2 lowers OpenSSL's security level\n"
	      "                        to 0 (the TLS line says so)\n"
	      "      --tls-max VERSION highest TLS version offered (default 1.3)\n"
	      "      --ciphers LIST    OpenSSL cipher list for TLS 1.2 and below\n"
	      "      --ciphersuites LIST\n"
	      "                        TLS 1.3 cipher suites (TLS_AES_128_GCM_SHA256:...)\n"
	      "      --groups LIST     key exchange groups (X25519:P-256:...)\n"
	      "      --no-sni          send no server name (the name is still checked)\n"
	      "      --cert FILE       client certificate (PEM, may hold its chain and key)\n"
	      "      --key FILE        the client certificate's private key (PEM)\n"
	      "      --key-password-command CMD\n"
	      "                        run CMD with /bin/sh; its first line is the key's\n"
	      "                        passphrase (without it an encrypted key is asked\n"
	      "                        for on the terminal)\n"
	      "\n",
	      f);
	fputs("Where mail for a domain goes (DNS with DNSSEC, DANE):\n"
	      "      --mx              HOST is a mail domain: look up its MX hosts (RFC 5321\n"
	      "                        5.1), show them with their DNSSEC state, connect to\n"
	      "                        the first that answers (PORT, default 25, is also the\n"
	      "                        TLSA port); DANE when the TLSA records are secure,\n"
	      "                        else the domain's MTA-STS policy, else opportunistic\n"
	      "                        STARTTLS\n"
	      "      --resolver ADDR[@PORT]\n"
	      "                        send DNS queries to this resolver (default: the\n"
	      "                        system's); DNSSEC is validated by smtpsh itself\n"
	      "      --trust-anchor FILE\n"
	      "                        the DNSSEC trust anchor (default\n"
	      "                        /usr/share/dns/root.key)\n"
	      "\n",
	      f);
	fputs("Auditing a server (every finding with the exchange that proves it):\n"
	      "      --check           run the checks of docs/check.md against HOST [PORT]\n"
	      "                        (default 25) and print a report grouped by area;\n"
	      "                        exit 0 no failure, 1 a failure or an undecided\n"
	      "                        check, 3 no connection at all; with --mx every MX\n"
	      "                        host of the domain HOST, with the route's DNSSEC,\n"
	      "                        DANE and MTA-STS findings\n"
	      "      --role ROLE       mx or submission (default: from the port, 587 and\n"
	      "                        465 submission, else mx; 465 or --tls: implicit TLS)\n"
	      "      --json            the report as JSON (schema: docs/check.md)\n"
	      "      --check-rcpt ADDRESS\n"
	      "                        the smuggling checks send one message per variant\n"
	      "                        to ADDRESS (a mailbox you own); without it they are\n"
	      "                        skipped\n"
	      "\n",
	      f);
	fputs("Logging in (\\auth in the shell, --auth with --send):\n"
	      "      --password-command CMD\n"
	      "                        run CMD with /bin/sh; the first line it prints is\n"
	      "                        the password\n"
	      "      --oauth-token-command CMD\n"
	      "                        the same for the OAuth2 bearer token of XOAUTH2\n"
	      "                        and OAUTHBEARER\n"
	      "      --oauth-login PROFILE\n"
	      "                        sign in with OAuth2 (\\oauth login: in the browser,\n"
	      "                        else with a code) for PROFILE, store its refresh\n"
	      "                        token, and leave; nothing is connected\n"
	      "  Without them: SMTPSH_PASSWORD / SMTPSH_OAUTH_TOKEN (other processes of the\n"
	      "  same user can read the environment: prefer a command), then ~/.netrc (mode\n"
	      "  600), then a question on the terminal (the password is not echoed).\n"
	      "\n"
	      "Sending one message (connect, EHLO, [AUTH], the message, QUIT):\n"
	      "      --send            send the message the options below describe to HOST\n"
	      "                        (or a profile) and leave; exit status 0 only when\n"
	      "                        the server accepted it for every recipient\n"
	      "      --from ADDRESS    the sender (envelope and From:); 'Name <addr>' works\n"
	      "      --to ADDRESS      a recipient shown in To: (repeat for more)\n"
	      "      --cc ADDRESS      a recipient shown in Cc: (repeatable)\n"
	      "      --bcc ADDRESS     a recipient shown in no header (repeatable)\n"
	      "      --subject TEXT    the subject (RFC 2047 encoded when not ASCII)\n"
	      "      --body TEXT       the body text\n"
	      "      --body-file PATH  the body from a file (streamed; not with --body)\n"
	      "      --attach PATH     attach a file, base64 (repeatable)\n"
	      "      --header 'NAME: VALUE'\n"
	      "                        an extra header line (repeatable)\n"
	      "      --chunking        send the message with BDAT (CHUNKING) instead of\n"
	      "                        DATA; a binary body as it is where BINARYMIME is\n"
	      "                        offered\n"
	      "      --notify WHEN     DSN (RFC 3461): NEVER, or SUCCESS,FAILURE,DELAY\n"
	      "      --ret FULL|HDRS   DSN: what a bounce returns of the message\n"
	      "      --envid ID        DSN: the envelope identifier bounces quote\n"
	      "      --auth MECH       log in first: PLAIN, LOGIN, CRAM-MD5, XOAUTH2,\n"
	      "                        OAUTHBEARER, or auto (the best one the server\n"
	      "                        offers)\n"
	      "      --user USER       the user for --auth (default: the profile's, then\n"
	      "                        ~/.netrc, else asked)\n"
	      "  In the shell, \\send takes the same message options.\n"
	      "\n",
	      f);
	fputs("Profiles and start-up:\n"
	      "  -p, --profile NAME    connect with the profile or preset NAME (office365,\n"
	      "                        outlook, gmail, aol, yahoo, icloud, or your own)\n"
	      "      --list-profiles   print the names of the presets and profiles and exit\n"
	      "  -X, --no-rc           do not run the rc file (~/.config/smtpsh/smtpshrc)\n"
	      "\n"
	      "Batch mode (used when standard input is not a terminal, or with -f):\n"
	      "  -f, --file FILE       read the lines to run from FILE\n"
	      "      --strict          stop at the first 4xx/5xx reply or protocol error\n"
	      "      --pipeline        when the server offers PIPELINING, send MAIL, RCPT...\n"
	      "                        and the command after them (DATA) in one write, and\n"
	      "                        the final \".\" of a message with what follows it\n"
	      "      --step            wait for Enter on the terminal before each command\n"
	      "                        (batch and --replay; for lectures)\n"
	      "\n",
	      f);
	/* in pieces: C99 compilers need not take string literals over 4095 bytes */
	fputs("Practice server (built in; it stores mail and never relays it):\n"
	      "      --practice        start a practice SMTP server on a free loopback port\n"
	      "                        and connect to it: STARTTLS with a CA made at start\n"
	      "                        and trusted by this session, AUTH with a demo login\n"
	      "                        printed at start, a Maildir (\\inbox, \\practice)\n"
	      "      --serve [PORT]    run the practice server alone in the foreground (port\n"
	      "                        2525; 0 picks a free one) and show every conversation,\n"
	      "                        to test your own SMTP client; Ctrl-C stops it\n"
	      "      --listen ADDR     --serve on this IP address instead of 127.0.0.1 and\n"
	      "                        ::1 (a warning when it is not a loopback address);\n"
	      "                        the practice sign-in server listens there too\n"
	      "      --maildir DIR     keep the practice server's mail in DIR (else a\n"
	      "                        temporary folder, removed at the end)\n"
	      "      --script FILE     --serve the server side of a transcript: every client\n"
	      "                        gets its recorded replies (a recorded server, offline)\n"
	      "      --like PROVIDER   --practice or --serve answering like office365,\n"
	      "                        outlook, gmail, aol, yahoo or icloud: their replies,\n"
	      "                        AUTH only after STARTTLS and before MAIL (--serve:\n"
	      "                        port 2587; gmail, aol, yahoo also 2465 implicit TLS)\n"
	      "      --tls             with --serve: PORT speaks implicit TLS (default 2465)\n"
	      "      --tls-port PORT   with --serve: also listen on PORT, implicit TLS\n"
	      "      --max-clients N   serve N clients at once (default 500; more get a 421)\n"
	      "      --max-per-address N\n"
	      "                        of them, at most N from one address (default: the\n"
	      "                        same as --max-clients: a class behind one NAT)\n"
	      "      --quiet           --serve shows only the mistakes it names and a\n"
	      "                        summary line per connection\n"
	      "      --record DIR      with --serve: a transcript of each connection in DIR\n"
	      "\n",
	      f);
	fputs("Transcripts:\n"
	      "      --record FILE     write the session to FILE as it happens (secrets as\n"
	      "                        <redacted>; format: transcripts/FORMAT.md)\n"
	      "      --replay FILE     play the client side of a transcript against HOST\n"
	      "                        [PORT] (or its header's host) and report every reply\n"
	      "                        code that differs; exit 0 if all matched, 1 if not\n"
	      "      --replay-user USER\n"
	      "                        log in as USER where the transcript hides the AUTH\n"
	      "                        secret; the password comes from SMTPSH_REPLAY_PASSWORD\n"
	      "      --replay-skip-auth\n"
	      "                        leave the AUTH exchanges of the transcript out\n"
	      "      --diagram FILE    draw the transcript FILE as a ladder diagram (client\n"
	      "                        left, server right, TLS shaded) and exit\n"
	      "  -o, --output FILE     write the diagram to FILE (mode 0644) instead of\n"
	      "                        standard output\n"
	      "      --format FORMAT   svg, html (the SVG beside the transcript) or txt\n"
	      "                        (default: from -o's extension, else txt)\n"
	      "      --width N         columns of a txt diagram (default: the terminal's,\n"
	      "                        else 80)\n"
	      "      --notes           the transcript's comments and timings as side notes\n"
	      "                        (--explain: what each reply code means)\n"
	      "      --ascii           a txt diagram in ASCII instead of box-drawing\n"
	      "                        characters\n"
	      "\n"
	      "Display:\n"
	      "      --color WHEN      colour the output: auto (default), always, never;\n"
	      "                        NO_COLOR in the environment means never for auto\n"
	      "      --theme THEME     colours for dark (default), light (light terminals,\n"
	      "                        projectors: no faint text) or mono terminals\n"
	      "      --explain         say beside every reply what its code means\n"
	      "      --timing          show milliseconds per reply, connect and handshake\n"
	      "      --show-raw        show the line ends: \\r\\n, or \\n for a bare LF\n"
	      "\n"
	      "  -h, --help            show this help and exit\n"
	      "  -V, --version         show the version and exit\n"
	      "\n"
	      "Markers: -> sent, <- received, ~> <~ under TLS, ?> <? under TLS whose\n"
	      "certificate was not verified (--insecure), * local event, ! warning or\n"
	      "error (on stderr). Beside a reply, in brackets: the decoded text of a 334\n"
	      "challenge, a hint for a known failure, and with --explain / --timing its\n"
	      "meaning and time.\n"
	      "\n"
	      "Environment: SMTPSH_TIMEOUT, SMTPSH_CAFILE, SMTPSH_EHLO, SMTPSH_COLOR (an\n"
	      "option or a profile wins), SMTPSH_HISTFILE, SMTPSH_HISTSIZE, NO_COLOR,\n"
	      "XDG_CONFIG_HOME, XDG_STATE_HOME. Files: ~/.config/smtpsh/smtpshrc,\n"
	      "~/.config/smtpsh/profiles, ~/.local/state/smtpsh/history.\n"
	      "\n"
	      "Exit status: 0 ok; 1 --strict and a 4xx/5xx reply or greeting (--send: the\n"
	      "greeting, the message, EHLO or AUTH refused, or some recipients refused;\n"
	      "--starttls: the greeting);\n"
	      "2 usage or local error;\n"
	      "3 connection failed or lost, or timeout; 4 TLS failure (handshake,\n"
	      "certificate, STARTTLS unavailable when required); 5 --strict and a\n"
	      "malformed reply (or one that cost the connection); 130 interrupted.\n"
	      "With --replay: 0 every reply as recorded,\n"
	      "1 some differed, 2 the transcript cannot be replayed (unreadable, or a\n"
	      "hidden secret).\n"
	      "\n"
	      "Full documentation: man smtpsh\n",
	      f);
}

static int parse_timeout(const char *s, int *ms)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || *end || !(v > 0) || v > 86400)
		return -1;
	*ms = (int)(v * 1000);
	return *ms > 0 ? 0 : -1;
}

/* --max-clients, --max-per-address: 1 to 1000000 */
static int parse_count(const char *s, unsigned *n)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (end == s || *end || *s == '-' || *s == '+' || errno || v < 1 || v > 1000000)
		return -1;
	*n = (unsigned)v;
	return 0;
}

static bool valid_color(const char *s)
{
	return !strcmp(s, "auto") || !strcmp(s, "always") || !strcmp(s, "never");
}

static bool valid_ehlo(const char *s)
{
	return *s && !strpbrk(s, " \t\r\n");
}

static enum cli_action leave(int *status, int st)
{
	*status = st;
	return CLI_EXIT;
}

/* The options of argv into c->opt: CLI_RUN, or CLI_EXIT with *status (--help, --version, an
   option's value refused). */
static enum cli_action parse_options(struct cli *cli, int argc, char **argv, int *status)
{
	struct cli_options *c = &cli->opt;
	int opt, ms, idx = 0;
	char err[512];
	while ((opt = getopt_long(argc, argv, short_options, long_options, &idx)) != -1) {
		switch (opt) {
		case OPT_PASSWORD_COMMAND:
			c->password_command = optarg;
			break;
		case OPT_TOKEN_COMMAND:
			c->token_command = optarg;
			break;
		case OPT_OAUTH_LOGIN:
			c->oauth_login = optarg;
			c->profile = optarg; /* the profile whose OAuth2 settings sign in */
			break;
		case OPT_SEND:
			c->send = true;
			break;
		case OPT_SEND_OPTION:
			c->send_only = long_options[idx].name;
			if (send_opts_add(c->message, long_options[idx].name, optarg, err,
					  sizeof err) < 0) {
				fprintf(stderr, "smtpsh: %s\n", err);
				return leave(status, EXIT_USAGE);
			}
			break;
		case OPT_AUTH:
			c->auth = optarg;
			c->send_only = "auth";
			break;
		case OPT_USER:
			c->user = optarg;
			c->send_only = "user";
			break;
		case '4':
			c->family = CONN_V4;
			break;
		case '6':
			c->family = CONN_V6;
			break;
		case OPT_TLS:
		case OPT_STARTTLS:
			c->mode = opt == OPT_TLS ? TLS_IMPLICIT : TLS_STARTTLS;
			c->mode_set = true;
			break;
		case OPT_CAFILE:
			c->cafile = optarg;
			break;
		case OPT_INSECURE:
			c->insecure = true;
			break;
		case OPT_TIMEOUT:
			if (parse_timeout(optarg, &ms) < 0) {
				fprintf(stderr,
					"smtpsh: --timeout needs a number of seconds, not '%s'\n",
					optarg);
				return leave(status, EXIT_USAGE);
			}
			c->timeout_ms = ms;
			break;
		case OPT_EHLO:
			if (!valid_ehlo(optarg)) {
				fprintf(stderr, "smtpsh: --ehlo needs a name without blanks\n");
				return leave(status, EXIT_USAGE);
			}
			c->ehlo = optarg;
			break;
		case 'f':
			c->script = optarg;
			break;
		case OPT_ALLOW_PLAINTEXT_AUTH:
			c->allow_plaintext_auth = true;
			break;
		case OPT_STRICT:
			c->strict = true;
			break;
		case OPT_COLOR:
			if (!valid_color(optarg)) {
				fprintf(stderr, "smtpsh: --color takes auto, always or never\n");
				return leave(status, EXIT_USAGE);
			}
			c->color = optarg;
			break;
		case OPT_THEME:
			if (render_theme_parse(optarg) < 0) {
				fprintf(stderr, "smtpsh: --theme takes dark, light or mono\n");
				return leave(status, EXIT_USAGE);
			}
			c->theme = optarg;
			break;
		case 'p':
			c->profile = optarg;
			break;
		case OPT_LIST_PROFILES:
			c->list_profiles = true;
			break;
		case 'X':
			c->no_rc = true;
			break;
		case OPT_EXPLAIN:
			c->explain = true;
			break;
		case OPT_TIMING:
			c->timing = true;
			break;
		case OPT_SHOW_RAW:
			c->show_raw = true;
			break;
		case OPT_PIPELINE:
			c->pipeline = true;
			break;
		case OPT_STEP:
			c->step = true;
			break;
		case OPT_RECORD:
			c->record = optarg;
			break;
		case OPT_REPLAY:
			c->replay.path = optarg;
			break;
		case OPT_REPLAY_USER:
			c->replay.user = optarg;
			break;
		case OPT_REPLAY_SKIP_AUTH:
			c->replay.skip_auth = true;
			break;
		case OPT_PRACTICE:
			c->practice = true;
			break;
		case OPT_SERVE:
			c->practice_opt.serve = true;
			break;
		case OPT_LISTEN:
			c->practice_opt.listen = optarg;
			break;
		case OPT_MAILDIR:
			c->practice_opt.maildir = optarg;
			break;
		case OPT_SCRIPT:
			c->practice_opt.script = optarg;
			break;
		case OPT_LMTP:
			c->lmtp = c->practice_opt.lmtp = true;
			break;
		case OPT_LIKE:
			c->practice_opt.like = optarg;
			break;
		case OPT_TLS_PORT:
			c->practice_opt.tls_port = optarg;
			break;
		case OPT_MAX_CLIENTS:
		case OPT_MAX_PER_ADDRESS:
			if (parse_count(optarg, opt == OPT_MAX_CLIENTS
						    ? &c->practice_opt.max_clients
						    : &c->practice_opt.max_per_address) < 0) {
				fprintf(stderr,
					"smtpsh: --%s needs a number from 1 to 1000000, not '%s'\n",
					opt == OPT_MAX_CLIENTS ? "max-clients" : "max-per-address",
					optarg);
				return leave(status, EXIT_USAGE);
			}
			break;
		case OPT_QUIET:
			c->practice_opt.quiet = true;
			break;
		case OPT_SNI:
			c->sni = optarg;
			break;
		case OPT_OCSP:
			c->ocsp = true;
			break;
		case OPT_RESUME:
			c->resume = true;
			break;
		case OPT_MX:
			c->mx = true;
			break;
		case OPT_CHECK:
			c->check = true;
			break;
		case OPT_ROLE:
			if (strcmp(optarg, "mx") != 0 && strcmp(optarg, "submission") != 0) {
				fprintf(stderr, "smtpsh: --role takes mx or submission, not '%s'\n",
					optarg);
				return leave(status, EXIT_USAGE);
			}
			c->role = optarg;
			break;
		case OPT_JSON:
			c->json = true;
			break;
		case OPT_CHECK_RCPT:
			c->check_rcpt = optarg;
			break;
		case OPT_RESOLVER:
			c->resolver = optarg;
			break;
		case OPT_TRUST_ANCHOR:
			c->trust_anchor = optarg;
			break;
		case OPT_PROXY:
			if (strcmp(optarg, "v1") != 0 && strcmp(optarg, "v2") != 0 &&
			    strcmp(optarg, "1") != 0 && strcmp(optarg, "2") != 0) {
				fprintf(stderr, "smtpsh: --proxy takes v1 or v2, not '%s'\n",
					optarg);
				return leave(status, EXIT_USAGE);
			}
			c->proxy = optarg[strlen(optarg) - 1] - '0';
			break;
		case OPT_PROXY_FROM:
			if (proxy_parse_addr(optarg, &(struct proxy_addr){0}) < 0) {
				fprintf(stderr,
					"smtpsh: --proxy-from needs ADDR:PORT (192.0.2.1:4242 or "
					"[2001:db8::1]:4242), not '%s'\n",
					optarg);
				return leave(status, EXIT_USAGE);
			}
			c->proxy_from = optarg;
			break;
		case OPT_DIAGRAM:
			c->diagram.transcript = optarg;
			break;
		case 'o':
			c->diagram.output = optarg;
			c->diagram_only = "-o";
			break;
		case OPT_FORMAT:
			if (diagram_format_parse(optarg, &c->diagram.fmt) < 0) {
				fprintf(stderr,
					"smtpsh: --format takes svg, html or txt, not '%s'\n",
					optarg);
				return leave(status, EXIT_USAGE);
			}
			c->diagram.format = optarg;
			c->diagram_only = "--format";
			break;
		case OPT_WIDTH: {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (end == optarg || *end || v < DIAGRAM_WIDTH_MIN ||
			    v > DIAGRAM_WIDTH_MAX) {
				fprintf(
				    stderr,
				    "smtpsh: --width takes a number of columns from %d to %d, not "
				    "'%s'\n",
				    DIAGRAM_WIDTH_MIN, DIAGRAM_WIDTH_MAX, optarg);
				return leave(status, EXIT_USAGE);
			}
			c->diagram.width = (int)v;
			c->diagram_only = "--width";
			break;
		}
		case OPT_NOTES:
			c->diagram.notes = true;
			c->diagram_only = "--notes";
			break;
		case OPT_ASCII:
			c->diagram.ascii = true;
			c->diagram_only = "--ascii";
			break;
		case OPT_TLS_CONTROL:
			c->tls_only = long_options[idx].name;
			if (tls_control_set(&c->tls, long_options[idx].name, optarg, err,
					    sizeof err) < 0) {
				fprintf(stderr, "smtpsh: %s\n", err);
				return leave(status, EXIT_USAGE);
			}
			break;
		case 'h':
			cli_usage(stdout);
			return leave(status, EXIT_OK);
		case 'V':
			printf("smtpsh %s\nReadline %s\n%s\n", SMTPSH_VERSION, rl_library_version,
			       OpenSSL_version(OPENSSL_VERSION));
			return leave(status, EXIT_OK);
		default:
			fputs("Try 'smtpsh --help' for more information.\n", stderr);
			return leave(status, EXIT_USAGE);
		}
	}
	return CLI_RUN;
}

/* The combinations of --send and its options that cannot work; NULL when all is well. */
static const char *send_conflict(const struct cli_options *c, char *buf, size_t len)
{
	const struct send_opts *m = c->message;
	enum sasl_mech mech;
	if (!c->send && c->send_only) {
		snprintf(buf, len, "--%s works with --send only (in the shell: \\send, \\auth)",
			 c->send_only);
		return buf;
	}
	if (!c->send)
		return NULL;
	if (c->script)
		return "--send and -f exclude each other";
	if (c->replay.path)
		return "--send and --replay exclude each other";
	if (c->list_profiles)
		return "--send and --list-profiles exclude each other";
	if (c->user && !c->auth)
		return "--user needs --auth MECH (or --auth auto)";
	if (!m->from || m->nto + m->ncc + m->nbcc == 0)
		return "--send needs --from ADDRESS and --to ADDRESS (or --cc, --bcc)";
	if (c->auth && strcasecmp(c->auth, "auto") != 0 && sasl_mech_parse(c->auth, &mech) < 0)
		return "--auth takes PLAIN, LOGIN, CRAM-MD5, XOAUTH2, OAUTHBEARER or auto";
	return NULL;
}

/* A variable of the environment; an empty one counts as not set. */
static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

/* The SMTPSH_* variables for options; the command line wins later. Returns 0 or -1. */
static int parse_environment(struct cli_options *e, int *histsize)
{
	e->cafile = env("SMTPSH_CAFILE");
	const char *timeout = env("SMTPSH_TIMEOUT");
	if (timeout && parse_timeout(timeout, &e->timeout_ms) < 0) {
		fprintf(stderr, "smtpsh: SMTPSH_TIMEOUT needs a number of seconds, not '%s'\n",
			timeout);
		return -1;
	}
	e->ehlo = env("SMTPSH_EHLO");
	if (e->ehlo && !valid_ehlo(e->ehlo)) {
		fprintf(stderr, "smtpsh: SMTPSH_EHLO needs a name without blanks\n");
		return -1;
	}
	e->color = env("SMTPSH_COLOR");
	if (e->color && !valid_color(e->color)) {
		fprintf(stderr, "smtpsh: SMTPSH_COLOR takes auto, always or never, not '%s'\n",
			e->color);
		return -1;
	}
	const char *hs = env("SMTPSH_HISTSIZE");
	*histsize = HISTORY_SIZE_DEFAULT;
	if (hs) {
		char *end;
		long v = strtol(hs, &end, 10);
		if (end == hs || *end || v < 0 || v > 1000000) {
			fprintf(
			    stderr,
			    "smtpsh: SMTPSH_HISTSIZE needs a number of lines from 0 to 1000000, "
			    "not '%s'\n",
			    hs);
			return -1;
		}
		*histsize = (int)v;
	}
	return 0;
}

/* The transcript options: they go together, and --step needs a terminal. Returns false
   (said on stderr) when they cannot work. */
static bool check_transcript_options(struct cli_options *c)
{
	struct replay_options *r = &c->replay;
	if (r->path && c->script) {
		fputs("smtpsh: --replay and -f cannot go together\n", stderr);
		return false;
	}
	if ((r->user || r->skip_auth) && !r->path) {
		fputs("smtpsh: --replay-user and --replay-skip-auth go with --replay FILE\n",
		      stderr);
		return false;
	}
	if (r->user) {
		r->password = getenv("SMTPSH_REPLAY_PASSWORD");
		if (!r->password) {
			fputs(
			    "smtpsh: --replay-user needs the password in SMTPSH_REPLAY_PASSWORD\n",
			    stderr);
			return false;
		}
	}
	if (!r->path && !c->script && isatty(STDIN_FILENO) && (c->step || c->pipeline)) {
		fprintf(stderr,
			"smtpsh: %s works with -f FILE, a piped script or --replay; in the "
			"shell, use \\pipeline\n",
			c->step ? "--step" : "--pipeline");
		return false;
	}
	struct stat a, b;
	if (c->record && r->path && stat(c->record, &a) == 0 && stat(r->path, &b) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
		fputs("smtpsh: --record would overwrite the transcript --replay reads\n", stderr);
		return false;
	}
	char err[200];
	if (c->step && step_open(err, sizeof err) < 0) {
		fprintf(stderr, "smtpsh: %s\n", err);
		return false;
	}
	return true;
}

/* --like PROVIDER (a known one), --serve --tls, --tls-port: CLI_RUN, or CLI_EXIT with *status.
   A provider with a 465 port makes --serve listen on --tls-port too (2465 unless given). */
static enum cli_action like_options(struct cli_options *c, int *status)
{
	struct practice_options *o = &c->practice_opt;
	const struct like_provider *p = NULL;
	if (o->like && !(p = like_find(o->like))) {
		fprintf(stderr,
			"smtpsh: --like %s: not a provider I know (office365, outlook, "
			"gmail, aol, yahoo, icloud)\n",
			o->like);
		return leave(status, EXIT_USAGE);
	}
	if (p && o->lmtp) {
		fputs("smtpsh: --like answers as a provider's submission server (SMTP): not with "
		      "--lmtp\n",
		      stderr);
		return leave(status, EXIT_USAGE);
	}
	if (o->serve && c->mode_set)
		o->tls = c->mode == TLS_IMPLICIT;
	if (o->tls && o->tls_port) {
		fputs("smtpsh: --serve --tls makes PORT implicit TLS already: no --tls-port\n",
		      stderr);
		return leave(status, EXIT_USAGE);
	}
	if (p && o->serve && p->implicit_tls && !o->tls && !o->tls_port)
		o->tls_port = PRACTICE_SERVE_TLS_PORT;
	return CLI_RUN;
}

/* --serve is a server: what a client connection, a session or the shell uses does not apply
   to it, and is refused by name rather than silently ignored. CLI_RUN, or CLI_EXIT. */
static enum cli_action serve_refusals(struct cli *cli, int *status)
{
	struct cli_options *c = &cli->opt;
	if (!c->practice_opt.serve)
		return CLI_RUN;
	char send_opt[64];
	snprintf(send_opt, sizeof send_opt, "--%s", c->send_only ? c->send_only : "");
	char tls_opt[64];
	snprintf(tls_opt, sizeof tls_opt, "--%s", c->tls_only ? c->tls_only : "");
	const struct {
		bool given;
		const char *name;
		const char *instead; /* what does it on --serve, or NULL */
	} client_only[] = {
	    {cli->nargs > 1, "a HOST", "--serve takes only a PORT"},
	    {c->practice, "--practice", NULL},
	    {c->profile && !c->oauth_login, "--profile", NULL},
	    {c->list_profiles, "--list-profiles", NULL},
	    {c->no_rc, "--no-rc", NULL},
	    {c->script, "-f", NULL},
	    {c->replay.path, "--replay", NULL},
	    {c->replay.user, "--replay-user", NULL},
	    {c->replay.skip_auth, "--replay-skip-auth", NULL},
	    {c->send, "--send", NULL},
	    {c->send_only, send_opt, NULL},
	    {c->step, "--step", NULL},
	    {c->pipeline, "--pipeline", NULL},
	    {c->strict, "--strict", NULL},
	    {c->mode_set && c->mode != TLS_IMPLICIT, "--starttls", NULL},
	    {c->family != CONN_ANY, "-4 or -6", "--listen ADDR picks the address"},
	    {c->cafile, "--cafile", NULL},
	    {c->insecure, "--insecure", NULL},
	    {c->timeout_ms, "--timeout", "type 'timeout N' on its standard input"},
	    {c->ehlo, "--ehlo", NULL},
	    {c->allow_plaintext_auth, "--allow-plaintext-auth",
	     "type 'plain-auth on' on its standard input"},
	    {c->password_command, "--password-command", NULL},
	    {c->token_command, "--oauth-token-command", NULL},
	    {c->oauth_login, "--oauth-login", NULL},
	    {c->proxy, "--proxy", NULL},
	    {c->proxy_from, "--proxy-from", NULL},
	    {c->sni, "--sni", NULL},
	    {c->ocsp, "--ocsp", NULL},
	    {c->resume, "--resume", NULL},
	    {c->mx, "--mx", NULL},
	    {c->resolver, "--resolver", NULL},
	    {c->trust_anchor, "--trust-anchor", NULL},
	    {c->tls_only, tls_opt, NULL},
	    {c->check, "--check", NULL},
	    {c->role, "--role", NULL},
	    {c->json, "--json", NULL},
	    {c->check_rcpt, "--check-rcpt", NULL},
	    {c->explain, "--explain", NULL},
	    {c->timing, "--timing", NULL},
	    {c->show_raw, "--show-raw", NULL},
	    {c->color, "--color", NULL},
	    {c->theme, "--theme", NULL},
	};
	for (size_t i = 0; i < sizeof client_only / sizeof *client_only; i++) {
		if (!client_only[i].given)
			continue;
		fprintf(stderr,
			"smtpsh: --serve runs a server and shows its own view: %s does not apply "
			"to it%s%s%s\nTry 'smtpsh --help' for more information.\n",
			client_only[i].name, client_only[i].instead ? " (" : "",
			client_only[i].instead ? client_only[i].instead : "",
			client_only[i].instead ? ")" : "");
		return leave(status, EXIT_USAGE);
	}
	return CLI_RUN;
}

/* --serve runs the practice server alone (CLI_SERVE); --practice and its options are
   checked (CLI_RUN, or CLI_EXIT with *status). */
static enum cli_action practice_options(struct cli *cli, int *status)
{
	struct cli_options *c = &cli->opt;
	struct practice_options *o = &c->practice_opt;
	if (o->serve) {
		o->port = cli->nargs ? cli->args[0] : NULL;
		o->record = c->record; /* a folder: a transcript per connection */
		if (like_options(c, status) != CLI_RUN)
			return CLI_EXIT;
		return CLI_SERVE;
	}
	if (o->tls_port) {
		fputs("smtpsh: --tls-port goes with --serve\n", stderr);
		return leave(status, EXIT_USAGE);
	}
	if (o->like && !c->practice) {
		fputs("smtpsh: --like goes with --practice or --serve\n", stderr);
		return leave(status, EXIT_USAGE);
	}
	if (o->like && like_options(c, status) != CLI_RUN)
		return CLI_EXIT;
	if (o->listen || o->script || o->quiet || (o->maildir && !c->practice)) {
		fprintf(stderr, "smtpsh: %s goes with %s\n",
			o->listen   ? "--listen"
			: o->script ? "--script"
			: o->quiet  ? "--quiet"
				    : "--maildir",
			o->maildir && !o->listen && !o->script && !o->quiet
			    ? "--serve or --practice"
			    : "--serve");
		return leave(status, EXIT_USAGE);
	}
	if ((o->max_clients || o->max_per_address) && !c->practice) {
		fprintf(stderr, "smtpsh: %s goes with --serve or --practice\n",
			o->max_clients ? "--max-clients" : "--max-per-address");
		return leave(status, EXIT_USAGE);
	}
	if (c->practice && (cli->nargs || c->cafile || c->profile || c->replay.path || c->send ||
			    (c->mode_set && c->mode == TLS_IMPLICIT))) {
		fputs("smtpsh: --practice connects to its own server and trusts its own CA: no "
		      "HOST, profile, --cafile, --replay, --send or --tls (use STARTTLS or "
		      "--starttls; \\send in the shell)\n",
		      stderr);
		return leave(status, EXIT_USAGE);
	}
	return CLI_RUN;
}

/* --diagram draws a transcript and leaves: nothing of a session goes with it. CLI_DIAGRAM, or
   CLI_EXIT with *status. */
static enum cli_action diagram_options(struct cli *cli, int *status)
{
	struct cli_options *c = &cli->opt;
	struct diagram_request *d = &c->diagram;
	if (!d->transcript) {
		if (!c->diagram_only)
			return CLI_RUN;
		fprintf(stderr, "smtpsh: %s goes with --diagram TRANSCRIPT\n", c->diagram_only);
		return leave(status, EXIT_USAGE);
	}
	/* what a connection, a session or the shell uses: refused, not silently ignored */
	char send_opt[64];
	snprintf(send_opt, sizeof send_opt, "--%s", c->send_only ? c->send_only : "");
	const struct {
		bool given;
		const char *name;
	} session_only[] = {
	    {cli->nargs > 0, "a HOST"},
	    {c->profile, "--profile"},
	    {c->script, "-f"},
	    {c->record, "--record"},
	    {c->replay.path || c->replay.user || c->replay.skip_auth, "--replay"},
	    {c->send, "--send"},
	    {c->send_only, send_opt},
	    {c->practice, "--practice"},
	    {c->practice_opt.serve || c->practice_opt.listen || c->practice_opt.maildir ||
		 c->practice_opt.script || c->practice_opt.like || c->practice_opt.tls_port ||
		 c->practice_opt.max_clients || c->practice_opt.max_per_address ||
		 c->practice_opt.quiet,
	     "--serve"},
	    {c->list_profiles, "--list-profiles"},
	    {c->step, "--step"},
	    {c->pipeline, "--pipeline"},
	    {c->strict, "--strict"},
	    {c->mode_set, "--tls or --starttls"},
	    {c->family != CONN_ANY, "-4 or -6"},
	    {c->cafile, "--cafile"},
	    {c->insecure, "--insecure"},
	    {c->timeout_ms, "--timeout"},
	    {c->ehlo, "--ehlo"},
	    {c->allow_plaintext_auth, "--allow-plaintext-auth"},
	    {c->password_command, "--password-command"},
	    {c->proxy || c->proxy_from, "--proxy"},
	    {c->lmtp, "--lmtp"},
	    {c->sni, "--sni"},
	    {c->ocsp, "--ocsp"},
	    {c->resume, "--resume"},
	    {c->mx, "--mx"},
	    {c->resolver, "--resolver"},
	    {c->trust_anchor, "--trust-anchor"},
	    {!tls_controls_equal(&c->tls, &(struct tls_controls){0}),
	     "a TLS control (--tls-min, --ciphers, --cert...)"},
	    {c->token_command, "--oauth-token-command"},
	    {c->check || c->role || c->json || c->check_rcpt, "--check"},
	    {c->timing, "--timing (the transcript's own timings are drawn)"},
	    {c->show_raw, "--show-raw"},
	    {c->color, "--color"},
	    {c->theme, "--theme"},
	};
	for (size_t i = 0; i < sizeof session_only / sizeof *session_only; i++) {
		if (!session_only[i].given)
			continue;
		fprintf(stderr,
			"smtpsh: --diagram draws a transcript and connects nowhere: %s does not go "
			"with it\n",
			session_only[i].name);
		return leave(status, EXIT_USAGE);
	}
	d->explain = c->explain; /* what each reply code means, as a side note */
	if (!d->format && d->output && diagram_format_of_path(d->output, &d->fmt) < 0) {
		fprintf(stderr,
			"smtpsh: cannot tell the format from the name '%s': end it in .svg, .html "
			"or .txt, or give --format svg|html|txt\n",
			d->output);
		return leave(status, EXIT_USAGE);
	}
	if ((d->width || d->ascii) && d->fmt != DIAGRAM_TXT) {
		fprintf(stderr, "smtpsh: %s goes with the txt format (an SVG or HTML diagram %s)\n",
			d->width ? "--width" : "--ascii", d->width ? "scales" : "is drawn");
		return leave(status, EXIT_USAGE);
	}
	return CLI_DIAGRAM;
}

void cli_init(struct cli *c)
{
	memset(c, 0, sizeof *c);
	send_opts_init(&c->message);
	c->opt.family = CONN_ANY;
	c->opt.mode = TLS_NONE;
	c->opt.message = &c->message;
}

void cli_free(struct cli *c)
{
	send_opts_free(&c->message);
}

enum cli_action cli_parse(struct cli *c, int argc, char **argv, int *status)
{
	enum cli_action a = parse_options(c, argc, argv, status);
	if (a != CLI_RUN)
		return a;
	c->args = argv + optind;
	c->nargs = argc - optind;
	char err[512];
	a = diagram_options(c, status);
	if (a != CLI_RUN)
		return a;
	a = serve_refusals(c, status);
	if (a != CLI_RUN)
		return a;
	const char *conflict = send_conflict(&c->opt, err, sizeof err);
	if (conflict) {
		fprintf(stderr, "smtpsh: %s\nTry 'smtpsh --help' for more information.\n",
			conflict);
		return leave(status, EXIT_USAGE);
	}
	if (parse_environment(&c->env, &c->histsize) < 0 || !check_transcript_options(&c->opt))
		return leave(status, EXIT_USAGE);
	if (tls_controls_check(&c->opt.tls, err, sizeof err) < 0) {
		fprintf(stderr, "smtpsh: %s\n", err);
		return leave(status, EXIT_USAGE);
	}
	if (c->opt.mx && (c->nargs < 1 || c->nargs > 2 || c->opt.profile || c->opt.practice ||
			  c->opt.replay.path || c->opt.send || c->opt.lmtp || c->opt.proxy)) {
		fputs("smtpsh: --mx takes DOMAIN [PORT] (not with a profile, --practice, "
		      "--replay, --send, --lmtp or --proxy)\nTry 'smtpsh --help' for more "
		      "information.\n",
		      stderr);
		return leave(status, EXIT_USAGE);
	}
	if ((c->opt.role || c->opt.json || c->opt.check_rcpt) && !c->opt.check) {
		fputs("smtpsh: --role, --json and --check-rcpt go with --check\n", stderr);
		return leave(status, EXIT_USAGE);
	}
	if (c->opt.check && (c->nargs < 1 || c->nargs > 2 || c->opt.profile || c->opt.practice ||
			     c->opt.replay.path || c->opt.send || c->opt.lmtp || c->opt.proxy ||
			     c->opt.script || c->opt.record)) {
		fputs("smtpsh: --check takes HOST [PORT] (not with a profile, --practice, "
		      "--replay, --send, --lmtp, --proxy, -f or --record)\nTry 'smtpsh --help' "
		      "for more information.\n",
		      stderr);
		return leave(status, EXIT_USAGE);
	}
	/* --check --mx: each MX host is checked as an MX (role mx) under its own name */
	if (c->opt.check && c->opt.mx && (c->opt.role || c->opt.sni)) {
		fprintf(stderr,
			"smtpsh: --check --mx checks every MX host as mx under its own name: %s "
			"does not apply\nTry 'smtpsh --help' for more information.\n",
			c->opt.role ? "--role" : "--sni");
		return leave(status, EXIT_USAGE);
	}
	if (c->opt.proxy_from && !c->opt.proxy) {
		fputs("smtpsh: --proxy-from goes with --proxy v1|v2\n", stderr);
		return leave(status, EXIT_USAGE);
	}
	if (c->opt.oauth_login && (c->nargs > 0 || c->opt.send || c->opt.replay.path ||
				   c->opt.script || c->opt.practice || c->opt.mx)) {
		fputs("smtpsh: --oauth-login PROFILE signs in and leaves: no HOST, --send, "
		      "--replay, -f, --practice or --mx with it\nTry 'smtpsh --help' for more "
		      "information.\n",
		      stderr);
		return leave(status, EXIT_USAGE);
	}
	return practice_options(c, status);
}
