/* \raw: bytes sent exactly as typed (raw_cmd.h). */
#include "smtpsh/raw_cmd.h"

#include "smtpsh/authline.h"
#include "smtpsh/escape.h"
#include "shell_int.h"

void raw_cmd(struct shell *sh, int argc, char **argv)
{
	if (argc != 2) {
		shell_error(sh, "usage: \\raw TEXT (sent as is, no CRLF added; escapes \\r \\n \\t "
				"\\0 \\xNN \\\\)");
		return;
	}
	if (!session_connected(sh->session)) {
		render_error(sh->render, "\\raw: not connected (use \\connect HOST [PORT])");
		shell_failed(sh, SESSION_ERR_STATE);
		return;
	}
	struct buf raw;
	buf_init(&raw);
	const char *bad = NULL;
	if (escape_parse_typed(argv[1], &raw, &bad) < 0) {
		if (bad)
			shell_error(sh,
				    "\\raw: unknown escape %.4s (use \\r \\n \\t \\0 \\xNN \\\\; "
				    "nothing was sent)",
				    bad);
		else
			shell_error(sh, "out of memory");
		buf_free_secret(&raw);
		return;
	}
	/* The one AUTH detector, line by line as a server splits the bytes: an AUTH in clear
	   to a host that is not loopback carries a password readable on the path. */
	if (authline_raw_refused_in_clear(raw.data, raw.len, session_tls(sh->session),
					  session_peer_loopback(sh->session),
					  sh->allow_plaintext_auth) &&
	    !shell_auth_allowed(sh)) {
		buf_free_secret(&raw);
		return;
	}
	shell_failed(sh, session_raw(sh->session, raw.data, raw.len, sh->reveal_secrets));
	buf_free_secret(&raw);
}

bool raw_cmd_holds_secret(const struct shell *sh, const char *text)
{
	if (session_raw_auth_open(sh->session))
		return true;
	struct buf b;
	buf_init(&b);
	const char *bad;
	/* any line that is an AUTH: the refusal rule with nothing allowed answers exactly that */
	bool secret =
	    escape_parse_typed(text, &b, &bad) < 0 ||
	    authline_raw_refused_in_clear(b.data ? b.data : "", b.len, false, false, false);
	buf_free_secret(&b);
	return secret;
}

void raw_cmd_complete(struct candidates *c)
{
	if (c->nwords == 1)
		candidates_verbs(c);
}
