/* \check: the --check battery from the shell (check_cmd.h). */
#include "smtpsh/check_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpsh/check.h"
#include "shell_int.h"

void check_cmd(struct shell *sh, int argc, char **argv)
{
	struct smtp_session *s = sh->session;
	const char *usage = "usage: \\check [--role mx|submission] [--check-rcpt ADDRESS]";
	struct check_options o = {
	    .host = session_host(s),
	    .port = session_port(s),
	    .cafile = session_cafile(s),
	    .timeout_ms = session_timeout_ms(s) < 10000 ? session_timeout_ms(s) : 10000,
	    .family = session_family(s),
	    .ehlo_name = session_ehlo_name(s),
	    .intr = sh->interrupted,
	};
	const char *role = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--role") == 0 && i + 1 < argc &&
		    (strcmp(argv[i + 1], "mx") == 0 || strcmp(argv[i + 1], "submission") == 0)) {
			role = argv[++i];
		} else if (strcmp(argv[i], "--check-rcpt") == 0 && i + 1 < argc) {
			o.check_rcpt = argv[++i];
		} else {
			shell_error(sh, "%s", usage);
			return;
		}
	}
	if (!o.host || !*o.host) {
		shell_error(sh, "\\check: no server yet (\\connect HOST [PORT] first; --check HOST "
				"[PORT] from the command line)");
		return;
	}
	if (!o.port || !*o.port)
		o.port = "25";
	o.role = role ? (strcmp(role, "submission") == 0 ? CHECK_ROLE_SUBMISSION : CHECK_ROLE_MX)
		      : check_role_for_port(o.port);
	o.implicit_tls = session_tls_mode(s) == TLS_IMPLICIT;

	/* the plan, then the report, as indented text (the report's own lines are escaped) */
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f) {
		shell_error(sh, "out of memory");
		return;
	}
	check_print_plan(f, &o);
	fclose(f);
	render_text(sh->render, text);
	free(text);
	struct check_report r;
	check_run(&o, &r);
	text = NULL;
	f = open_memstream(&text, &len);
	if (f) {
		check_print_text(f, &o, &r);
		fclose(f);
		render_text(sh->render, text);
		free(text);
	}
	check_report_free(&r);
}

void check_cmd_complete(struct candidates *c)
{
	candidates_offer(c, "--role");
	candidates_offer(c, "--check-rcpt");
	candidates_offer(c, "mx");
	candidates_offer(c, "submission");
}
