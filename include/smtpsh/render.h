/*
 * The screen: turns session events and local messages into marked, escaped, optionally
 * coloured lines. Conversation lines go to out; warnings and errors to err.
 *   ->  sent in plaintext        <-  received in plaintext
 *   ~>  sent under TLS           <~  received under TLS
 *   ?>  sent under unverified TLS (--insecure)   <?  received under unverified TLS
 *   *   local event               !  warning or error
 */
#ifndef SMTPSH_RENDER_H
#define SMTPSH_RENDER_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include "smtpsh/buf.h"
#include "smtpsh/session.h"

/* How colours are drawn (--theme, \set theme): see render.c's palettes. */
enum render_theme {
	RENDER_THEME_DARK,  /* the default: faint text for what matters least */
	RENDER_THEME_LIGHT, /* light backgrounds, projectors: no faint text, no yellow */
	RENDER_THEME_MONO,  /* no colour, bold errors */
};
/* The names, in the enum's order, NULL-terminated. */
extern const char *const render_theme_names[];
/* The theme called name, or -1. */
int render_theme_parse(const char *name);

struct render {
	FILE *out;
	FILE *err;
	bool color;
	enum render_theme theme;
	int escape_flags;
	/* Annotations beside lines (set by the shell from its settings). Whatever the flags, a
	   334 challenge shows its decoded text and a failure the table knows shows its hint. */
	bool explain;  /* what every reply code means (RFC 5321, RFC 3463) */
	bool timing;   /* milliseconds beside replies, the connect and the TLS handshake */
	bool show_raw; /* line ends shown (\r\n, or \n for a bare LF) */
	struct buf reply; /* lines of the reply being shown, for hints (bounded) */
	/* Called before anything is written, so the REPL can take its input line off screen. */
	void (*before_output)(void *arg);
	void *hook_arg;
	/* When set ("file:line"), warnings and errors name it first: for the rc file's lines. */
	const char *where;
	/* Flush out after every line (the default). Off (batch mode writing to a file or a
	   pipe), lines gather in stdio's buffer and go out with render_flush: the caller calls
	   it before waiting (for the network, for input); out is still flushed before anything
	   is written to err, so the two streams stay in order. */
	bool flush_each;
	/* Fit lines to the terminal's width, wrapped at blanks with the continuation lines
	   indented under the text (the shell sets it for an interactive session; batch mode and
	   pipes get every line whole). The width is the terminal's at each line (TIOCGWINSZ). */
	bool wrap;
	struct buf line;
};

void render_init(struct render *r, FILE *out, FILE *err, bool color);
void render_free(struct render *r);
/* The columns lines are fitted to on out (wrap on and out a terminal), else 0. */
size_t render_width(const struct render *r);
/* Writes what out holds (see flush_each); arg is the struct render (a session's before_wait). */
void render_flush(void *arg);

/* A session_listener: pass the struct render as arg. */
void render_event(const struct session_event *ev, void *arg);

void render_info(struct render *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void render_warning(struct render *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void render_error(struct render *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* render_error with a va_list (shell_error). */
void render_verror(struct render *r, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* A "!  " line on err without "warning:" (replay differences). */
void render_alert(struct render *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A comment of a transcript, shown during a replay: "#  text". */
void render_comment(struct render *r, const char *text, size_t len);
/* Plain text for local commands' output (\help, \caps, \tls): each line indented, no marker. */
void render_text(struct render *r, const char *text);

#endif
