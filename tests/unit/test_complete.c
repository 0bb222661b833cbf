/*
 * Unit tests of Tab completion (src/ui/complete.c and the completers of the local commands'
 * table, src/ui/meta.c): what each word before the cursor offers, without Readline and
 * without a connection. The pty tests (tests/pty) check the same through a real terminal.
 */
#include "smtpsh/complete.h"

#include <stdio.h>
#include <string.h>

#include "smtpsh/meta.h"
#include "smtpsh/render.h"
#include "smtpsh/session.h"
#include "smtpsh/shell.h"

#include "tap.h"

static struct shell *sh;

/* The candidates for line with the cursor at its end, joined with blanks; "<files>" when
   file names are offered, a trailing "<no space>" when no blank follows the candidate. */
static const char *cands(const char *line)
{
	static char joined[4096];
	const char *out[64];
	int no_space, files;
	size_t len = strlen(line), start = len;
	while (start > 0 && line[start - 1] != ' ' && line[start - 1] != '\t')
		start--;
	size_t n = complete_candidates(sh, line, start, line + start, out, 64, &no_space, &files);
	joined[0] = '\0';
	for (size_t i = 0; i < n; i++)
		snprintf(joined + strlen(joined), sizeof joined - strlen(joined), "%s%s",
			 i ? " " : "", out[i]);
	if (files)
		snprintf(joined + strlen(joined), sizeof joined - strlen(joined), "<files>");
	if (no_space)
		snprintf(joined + strlen(joined), sizeof joined - strlen(joined), "<no space>");
	return joined;
}

int main(void)
{
	struct session_params params = {.timeout_ms = 1000, .ehlo_name = "localhost"};
	struct smtp_session *s = session_new(&params);
	struct render r;
	FILE *devnull = fopen("/dev/null", "w");
	render_init(&r, devnull, devnull, false);
	struct shell_params sp = {.session = s, .render = &r, .local = &meta_local_commands};
	sh = shell_new(&sp);
	if (!sh)
		return 1;

	/* the first word, disconnected: the local commands outside DATA */
	is_str(cands("\\c"), "\\connect \\check \\caps \\cancel",
	       "\\c: the local commands it starts");
	is_str(cands("\\check --"), "--role --check-rcpt", "\\check: its options");
	is_str(cands("\\e"), "\\explain \\end", "\\e");
	ok(strstr(cands(""), "\\quit") && !strstr(cands(""), "\\file"),
	   "an empty line offers the local commands, not \\file (inside DATA only)");
	is_str(cands("EH"), "", "disconnected: no SMTP verb is offered");

	/* each local command's own completer */
	is_str(cands("\\connect "), "localhost", "\\connect: a host");
	is_str(cands("\\connect --s"), "--starttls --smtp --sni", "\\connect: an option");
	is_str(cands("\\connect h "),
	       "--tls --starttls --plain --lmtp --smtp --ocsp --mx --sni --tls-min --tls-max "
	       "--ciphers --ciphersuites --groups --no-sni --cert --key --key-password-command",
	       "\\connect HOST: the options, the TLS controls among them");
	is_str(cands("\\connect h --tls-m"), "--tls-min --tls-max",
	       "\\connect: the TLS controls complete");
	is_str(cands("\\connect h 25 --p"), "--plain", "\\connect HOST PORT: an option");
	is_str(cands("\\reconnect "), "--resume", "\\reconnect: --resume");
	is_str(cands("\\tls "), "save", "\\tls: save");
	is_str(cands("\\tls s"), "save", "\\tls s");
	is_str(cands("\\tls save x "), "", "\\tls save DIR: nothing more");
	is_str(cands("\\set "), "explain timing show-raw reveal-secrets theme prompt",
	       "\\set: the settings");
	is_str(cands("\\set t"), "timing theme", "\\set t");
	is_str(cands("\\set theme "), "dark light mono", "\\set theme: its choices");
	is_str(cands("\\set prompt c"), "compact", "\\set prompt: its choices");
	is_str(cands("\\set timing "), "on off", "\\set NAME: on or off");
	is_str(cands("\\set timing on "), "", "\\set NAME VALUE: nothing more");
	is_str(cands("\\oauth "), "login status logout", "\\oauth: its subcommands");
	is_str(cands("\\oauth login "), "--browser --device --paste", "\\oauth login: the ways");
	is_str(cands("\\auth "), "PLAIN LOGIN CRAM-MD5 XOAUTH2 OAUTHBEARER",
	       "\\auth: the mechanisms it knows");
	is_str(cands("\\auth cr"), "CRAM-MD5", "\\auth: any case");
	is_str(cands("\\auth PLAIN "), "", "\\auth MECH: no user offered");
	is_str(cands("\\send "),
	       "--from --to --cc --bcc --subject --body --body-file --attach --header "
	       "--chunking --notify --ret --envid",
	       "\\send: its options");
	is_str(cands("\\send --chunking --r"), "--ret",
	       "\\send: after the flag --chunking, options");
	is_str(cands("\\send --ret "), "FULL HDRS", "\\send --ret: FULL or HDRS");
	is_str(cands("\\send --notify N"), "NEVER", "\\send --notify: its values");
	is_str(cands("\\bdat "), "--last --file", "\\bdat: its options");
	is_str(cands("\\send --b"), "--bcc --body --body-file", "\\send --b");
	is_str(cands("\\send --to "), "", "\\send --to: the value is the user's");
	is_str(cands("\\send --to=a@b.test --s"), "--subject", "\\send after --opt=VALUE");
	is_str(cands("\\send --attach "), "<files>", "\\send --attach: file names");
	is_str(cands("\\send --body-file x"), "<files>", "\\send --body-file: file names");
	is_str(cands("\\record "), "<files>", "\\record: file names");
	is_str(cands("\\file "), "<files>", "\\file: file names");
	is_str(cands("\\status "), "", "\\status: nothing");
	is_str(cands("\\nosuch "), "", "an unknown command: nothing");
	ok(strstr(cands("\\practice "), "greylist") != NULL, "\\practice: its settings (%s)",
	   cands("\\practice "));
	ok(strstr(cands("\\practice greylist "), "on") != NULL,
	   "\\practice NAME: the setting's values (%s)", cands("\\practice greylist "));
	is_str(cands("\\help EH"), "EHLO", "\\help: the SMTP verbs");
	is_str(cands("\\help \\pi"), "\\pipeline", "\\help: the local commands");
	is_str(cands("\\help AU"), "AUTH", "\\help AU");

	/* SMTP commands typed by hand */
	is_str(cands("MAIL "), "FROM:<<no space>", "MAIL: FROM:<, no blank after it");
	is_str(cands("rcpt t"), "TO:<<no space>", "rcpt t: TO:<");
	is_str(cands("AUTH "), "PLAIN LOGIN CRAM-MD5 XOAUTH2 OAUTHBEARER",
	       "AUTH: the usual mechanisms");
	is_str(cands("MAIL FROM:<a@b> "), "", "MAIL FROM:<...>: nothing more");

	/* what the shell asks of the table: the flags of a row */
	ok(shell_line_is_secret(sh, "\\b64 \\0user\\0secret"), "\\b64's line is a secret");
	ok(!shell_line_is_secret(sh, "\\status"), "\\status's line is not");
	ok(shell_line_is_secret(sh, "AUTH PLAIN dXNlcg=="), "an AUTH initial response is");

	shell_free(sh);
	session_free(s);
	render_free(&r);
	fclose(devnull);
	return done_testing();
}
