/* BDAT by hand: \bdat and a typed "BDAT n [LAST]" (see bdat.h). */
#include "smtpsh/bdat.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "shell_int.h"

/* Sends the file at path as one chunk of its size, read in pieces (never whole). */
static void send_file_chunk(struct shell *sh, const char *path, bool last)
{
	FILE *f = fopen(path, "rb");
	struct stat sb;
	if (!f) {
		shell_error(sh, "\\bdat: cannot open %s: %s", path, strerror(errno));
		return;
	}
	if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
		fclose(f);
		shell_error(sh, "\\bdat: %s is not a regular file (its size must be known)", path);
		return;
	}
	unsigned long long size = (unsigned long long)sb.st_size;
	render_info(sh->render, "%s: %llu octets, sent as they are", path, size);
	if (session_bdat_refused(sh->session)) {
		fclose(f);
		shell_refused(sh, "\\bdat: not sent: a chunk of this message was refused, and RFC "
				  "3030 allows no more (RSET starts afresh)");
		return;
	}
	enum session_status st = session_bdat_begin(sh->session, size, last);
	if (st != SESSION_OK) {
		fclose(f);
		shell_failed(sh, st);
		return;
	}
	char *buf = malloc(64 * 1024);
	while (st == SESSION_OK && buf && session_bdat_left(sh->session)) {
		unsigned long long left = session_bdat_left(sh->session);
		size_t n = fread(buf, 1, left < 64 * 1024 ? (size_t)left : 64 * 1024, f);
		if (n == 0) { /* the file shrank (or failed) after its size was announced */
			session_bdat_abandon(sh->session,
					     ferror(f) ? "a read error" : "the file shrank");
			st = SESSION_ERR_LOCAL;
			render_error(sh->render,
				     "\\bdat: %s could not be read to its announced size", path);
			break;
		}
		st = session_bdat_write(sh->session, buf, n);
	}
	free(buf);
	fclose(f);
	if (st == SESSION_OK && !session_bdat_left(sh->session) && session_bdat_open(sh->session))
		shell_chunk_reply(sh);
	else
		shell_failed(sh, st == SESSION_OK ? SESSION_ERR_LOCAL : st);
}

/* The option word at *p ("--last", "--file"), advancing past it and its blanks. */
static bool take(const char **p, const char *opt)
{
	size_t n = strlen(opt);
	if (strncmp(*p, opt, n) != 0 || ((*p)[n] && (*p)[n] != ' ' && (*p)[n] != '\t'))
		return false;
	*p += n;
	*p += strspn(*p, " \t");
	return true;
}

void bdat_cmd(struct shell *sh, int argc, char **argv)
{
	const char *p = argc > 1 ? argv[1] : "";
	bool last = false, file = false;
	for (;;) {
		if (take(&p, "--last"))
			last = true;
		else if (!file && take(&p, "--file"))
			file = true;
		else
			break;
	}
	if (file) {
		/* the path, then maybe --last */
		size_t n = strlen(p);
		while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n >= 6 && strncmp(p + n - 6, "--last", 6) == 0 &&
		    (n == 6 || p[n - 7] == ' ' || p[n - 7] == '\t')) {
			last = true;
			n -= 6;
			while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
				n--;
		}
		char *path = n ? strndup(p, n) : NULL;
		if (!path) {
			shell_error(sh, "usage: \\bdat --file PATH [--last]");
			return;
		}
		send_file_chunk(sh, path, last);
		free(path);
		return;
	}
	/* TEXT is one line: its octets plus CRLF (\bdat alone: an empty line, the one between
	   header and body); \bdat --last alone is "BDAT 0 LAST", the end of the message. */
	size_t len = strlen(p);
	size_t size = len || !last ? len + 2 : 0;
	if (session_bdat_refused(sh->session)) {
		shell_refused(sh, "\\bdat: not sent: a chunk of this message was refused, and RFC "
				  "3030 allows no more (RSET starts afresh)");
		return;
	}
	enum session_status st = session_bdat_begin(sh->session, size, last);
	if (st != SESSION_OK) {
		shell_failed(sh, st);
		return;
	}
	if (size)
		shell_chunk_line(sh, p, len);
	else
		shell_chunk_reply(sh);
}

void bdat_complete(struct candidates *c)
{
	if (strcmp(c->prev, "--file") == 0) {
		c->files = true;
		return;
	}
	if (c->text[0] == '-' || c->text[0] == '\0') {
		candidates_offer_exact(c, "--last");
		candidates_offer_exact(c, "--file");
	}
}
