#include "smtpsh/step.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>

#include "smtpsh/escape.h"

static FILE *tty;

int step_open(char *err, size_t errlen)
{
	if (tty)
		return 0;
	tty = fopen("/dev/tty", "r+");
	if (!tty) {
		snprintf(err, errlen, "--step needs a terminal to read Enter from: /dev/tty: %s",
			 strerror(errno));
		return -1;
	}
	return 0;
}

bool step_wait(const char *what)
{
	if (!tty)
		return true;
	struct buf b;
	buf_init(&b);
	/* a local command as written: \auth, its backslash not doubled */
	escape_append(&b, what, strlen(what), ESCAPE_KEEP_BACKSLASH);
	fflush(stdout);
	/* Enter means "go on" only when pressed after this prompt: one pressed twice before
	   it would skip a step (cred_prompt flushes alike before its questions) */
	tcflush(fileno(tty), TCIFLUSH);
	fprintf(tty, "   next: %s   [Enter: go on, q: stop] ", b.data ? b.data : "");
	fflush(tty);
	buf_free(&b);
	char line[64];
	if (!fgets(line, sizeof line, tty))
		return false;
	return line[0] != 'q' && line[0] != 'Q';
}

void step_close(void)
{
	if (tty)
		fclose(tty);
	tty = NULL;
}
