#include "smtpsh/repl.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <readline/readline.h>

#include "smtpsh/authline.h"
#include "smtpsh/complete.h"
#include "smtpsh/history.h"
#include "shell_int.h"

static struct shell *the_shell;
static volatile sig_atomic_t got_sigint, got_sigwinch;
static bool at_prompt;   /* Readline owns the input line on screen */
static bool line_hidden; /* the input line was taken off screen to print something */
static bool eof_in_data; /* Ctrl-D was pressed once inside DATA */
/* The line being typed is the answer to a challenge: it was begun inside an AUTH exchange.
   It stays a secret until Enter or Ctrl-C, whatever happens to the connection meanwhile
   (a 421 that ends the exchange must not unmask it, nor let it into the history). */
static bool line_secret;
static char prompt[512];

static void on_sigint(int sig)
{
	(void)sig;
	got_sigint = 1;
}

static void on_sigwinch(int sig)
{
	(void)sig;
	got_sigwinch = 1;
}

static void make_prompt(const struct shell *sh)
{
	const struct smtp_session *s = sh->session;
	bool color = sh->render->color;
	const char *on = color ? "\001\033[1m\002" : "", *off = color ? "\001\033[0m\002" : "";
	if (!session_connected(s)) {
		snprintf(prompt, sizeof prompt, "%ssmtpsh%s> ", on, off);
		return;
	}
	const char *host = session_host(s);
	bool v6 = strchr(host, ':') != NULL;
	char pipe[40] = "";
	if (sh->pipe_collecting)
		snprintf(pipe, sizeof pipe, " pipeline[%zu]", sh->pipe_n);
	else if (session_bdat_open(s)) /* the octets a typed chunk still takes */
		snprintf(pipe, sizeof pipe, " chunk[%llu]", session_bdat_left(s));
	if (sh->prompt_compact) { /* a narrow screen: "ready tls> " */
		snprintf(prompt, sizeof prompt, "%s%s%s%s%s%s> ", on,
			 session_phase_name(session_phase(s)), session_tls(s) ? " tls" : "",
			 session_in_auth(s) ? " auth" : "", pipe, off);
		return;
	}
	snprintf(prompt, sizeof prompt, "%s%s%s%s:%s%s%s %s%s%s> ", on, v6 ? "[" : "", host,
		 v6 ? "]" : "", session_port(s), session_tls(s) ? " tls" : "",
		 session_in_auth(s) ? " auth" : "", session_phase_name(session_phase(s)), pipe, off);
}

/* Latches line_secret while the session is inside an AUTH exchange. */
static void note_auth(const struct shell *sh)
{
	if (session_in_auth(sh->session))
		line_secret = true;
}

/* The renderer's hook: takes the input line off screen before output appears. */
static void hide_line(void *arg)
{
	(void)arg;
	if (at_prompt && !line_hidden) {
		rl_clear_visible_line();
		line_hidden = true;
	}
}

static void show_line(void)
{
	note_auth(the_shell);
	make_prompt(the_shell);
	rl_set_prompt(prompt);
	if (line_hidden) {
		rl_on_new_line();
		rl_forced_update_display();
		line_hidden = false;
	}
}

/* Where the secret part of the line being typed starts (rl_end when there is none). */
static int secret_from(const struct shell *sh)
{
	if (sh->reveal_secrets)
		return rl_end;
	note_auth(sh);
	if (line_secret)
		return 0;
	/* AUTH with an initial response, spelt any way a server reads it: from the blank after
	   the mechanism on, so the response is hidden from its first character. */
	struct authline a;
	if (!authline_parse(rl_line_buffer, (size_t)rl_end, &a) || !a.mech_len)
		return rl_end;
	size_t from = a.mech_off + a.mech_len + 1;
	return from < (size_t)rl_end ? (int)from : rl_end;
}

/* Readline's redisplay, with the secret part of the line shown as asterisks. */
static void masked_redisplay(void)
{
	int from = secret_from(the_shell);
	if (from >= rl_end) {
		rl_redisplay();
		return;
	}
	size_t n = (size_t)(rl_end - from);
	char *saved = malloc(n);
	if (!saved) { /* show nothing of the secret rather than the secret */
		int end = rl_end, point = rl_point;
		rl_end = from;
		rl_point = point > from ? from : point;
		rl_redisplay();
		rl_end = end;
		rl_point = point;
		return;
	}
	memcpy(saved, rl_line_buffer + from, n);
	memset(rl_line_buffer + from, '*', n);
	rl_redisplay();
	memcpy(rl_line_buffer + from, saved, n);
	OPENSSL_cleanse(saved, n);
	free(saved);
}

static void on_line(char *line)
{
	struct shell *sh = the_shell;
	at_prompt = false;
	if (!line) {
		if (session_phase(sh->session) == PHASE_DATA && !eof_in_data) {
			eof_in_data = true;
			rl_crlf();
			render_warning(sh->render, "inside DATA: end the message with a line holding "
						   "only '.'; Ctrl-D again abandons it and quits");
		} else {
			rl_crlf();
			shell_end_of_input(sh);
		}
	} else {
		eof_in_data = false;
		note_auth(sh);
		bool secret = line_secret || shell_line_is_secret(sh, line);
		if (line_secret && !session_in_auth(sh->session)) {
			/* Typed as the answer to a challenge, but the exchange is over (the server
			   closed, or answered already): sent now it would be a command in clear. */
			if (*line)
				render_warning(sh->render,
					       "the AUTH exchange ended while its answer was typed: "
					       "the answer is not sent");
		} else {
			/* history decides on the state before the line runs */
			if (!secret)
				history_remember(sh, line);
			shell_execute(sh, line, strlen(line));
		}
		if (secret) {
			OPENSSL_cleanse(line, strlen(line));
			OPENSSL_cleanse(rl_line_buffer, strlen(rl_line_buffer));
			rl_free_undo_list();
		}
		free(line);
	}
	got_sigint = 0;
	line_secret = false;
	note_auth(sh);
	if (sh->done) { /* leaving: no new prompt after the last line */
		rl_callback_handler_remove();
		return;
	}
	make_prompt(sh);
	rl_set_prompt(prompt);
	at_prompt = true;
	line_hidden = false;
}

static void on_interrupt(void)
{
	got_sigint = 0;
	/* Inside a typed BDAT chunk the server counts octets: what was sent of the chunk cannot
	   be taken back, nor the rest told apart from commands, so the connection ends. */
	if (session_bdat_open(the_shell->session))
		session_bdat_abandon(the_shell->session, "Ctrl-C");
	/* Ctrl-C at the prompt: forget the typed line, start a fresh one. */
	if (line_secret)
		OPENSSL_cleanse(rl_line_buffer, (size_t)rl_end);
	line_secret = false;
	note_auth(the_shell);
	rl_free_line_state();
	rl_callback_sigcleanup();
	rl_replace_line("", 0);
	rl_point = rl_end = 0;
	printf("^C");
	rl_crlf();
	rl_on_new_line();
	rl_redisplay();
}

int repl_run(struct shell *sh)
{
	the_shell = sh;
	struct sigaction sa = {0};
	sa.sa_handler = on_sigint; /* no SA_RESTART: poll() and waits see EINTR */
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_sigwinch;
	sigaction(SIGWINCH, &sa, NULL);
	sh->interrupted = &got_sigint;
	session_set_interrupt(sh->session, &got_sigint);

	rl_readline_name = "smtpsh";
	rl_catch_signals = 0;
	rl_catch_sigwinch = 0;
	rl_redisplay_function = masked_redisplay;
	complete_install(sh);
	sh->render->before_output = hide_line;
	make_prompt(sh);
	note_auth(sh);
	rl_callback_handler_install(prompt, on_line);
	at_prompt = true;

	while (!sh->done) {
		int fd = session_fd(sh->session);
		if (fd >= 0 && session_has_buffered(sh->session)) {
			shell_failed(sh, session_poll(sh->session));
			show_line();
			continue;
		}
		struct pollfd fds[2] = {{.fd = STDIN_FILENO, .events = POLLIN},
					{.fd = fd, .events = POLLIN}};
		/* SIGINT/SIGWINCH blocked from the check to the wait (ppoll unblocks them while it
		   waits): a Ctrl-C that came while Readline was busy is handled now, not after the
		   next key. */
		sigset_t block, saved;
		sigemptyset(&block);
		sigaddset(&block, SIGINT);
		sigaddset(&block, SIGWINCH);
		sigprocmask(SIG_BLOCK, &block, &saved);
		int r = got_sigint || got_sigwinch ? 0 : ppoll(fds, fd >= 0 ? 2 : 1, NULL, &saved);
		sigprocmask(SIG_SETMASK, &saved, NULL);
		if (got_sigwinch) {
			got_sigwinch = 0;
			rl_resize_terminal();
		}
		if (got_sigint) {
			on_interrupt();
			continue;
		}
		if (r < 0) {
			if (errno == EINTR)
				continue;
			render_error(sh->render, "poll: %s", strerror(errno));
			break;
		}
		if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			rl_callback_read_char();
			continue;
		}
		if (fd >= 0 && fds[1].revents) {
			shell_failed(sh, session_poll(sh->session));
			show_line();
		}
	}
	sh->render->before_output = NULL;
	rl_callback_handler_remove();
	return sh->status;
}

/* Can a line be read from in without waiting? (A regular file: always.) */
static bool input_ready(FILE *in)
{
	struct pollfd p = {.fd = fileno(in), .events = POLLIN};
	return poll(&p, 1, 0) > 0;
}

int batch_run(struct shell *sh, FILE *in)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	for (;;) {
		if (sh->done)
			break;
		if (!input_ready(in)) { /* its writer is slow: show and send what we have */
			shell_failed(sh, session_flush(sh->session));
			render_flush(sh->render);
		}
		if (sh->done || (n = getline(&line, &cap, in)) < 0)
			break;
		size_t len = (size_t)n;
		if (len && line[len - 1] == '\n')
			line[--len] = '\0';
		if (len && line[len - 1] == '\r') /* a script written with CRLF line ends */
			line[--len] = '\0';
		if (session_connected(sh->session))
			shell_failed(sh, session_poll(sh->session));
		if (sh->done)
			break;
		shell_execute(sh, line, len);
	}
	if (!sh->done)
		shell_end_of_input(sh);
	free(line);
	return sh->status;
}
