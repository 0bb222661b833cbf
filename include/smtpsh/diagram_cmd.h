/*
 * smtpsh --diagram TRANSCRIPT [-o FILE] [--format svg|html|txt] [--width N] [--notes]: reads a
 * transcript, draws its ladder diagram (diagram.h) and writes it to FILE or standard output.
 */
#ifndef SMTPSH_DIAGRAM_CMD_H
#define SMTPSH_DIAGRAM_CMD_H

#include <stdbool.h>

#include "smtpsh/diagram.h"

struct diagram_request {
	const char *transcript;	 /* --diagram FILE */
	const char *output;	 /* -o FILE, or NULL: standard output */
	const char *format;	 /* --format NAME as given, or NULL: from -o's name, else txt */
	enum diagram_format fmt; /* what cli_parse made of format and output */
	int width;		 /* --width N, or 0: the terminal's width, else 80 */
	bool notes;		 /* --notes */
	bool ascii;		 /* --ascii */
	bool explain;		 /* --explain: what each reply code means, beside it */
};

/* The columns of the terminal on fd, or 0 when fd is no terminal. */
int diagram_terminal_width(int fd);

/* Runs the request. Returns the exit status: 0, or EXIT_USAGE (said on stderr) when the
   transcript cannot be read or the diagram cannot be written. */
int diagram_cmd_run(const struct diagram_request *r);

#endif
