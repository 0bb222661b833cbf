/* Writing transcripts as the session goes (see transcripts/FORMAT.md). */
#include "smtpsh/transcript.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "smtpsh/conn.h"
#include "smtpsh/escape.h"
#include "smtpsh/session.h"

void transcript_writer_init(struct transcript_writer *w)
{
	memset(w, 0, sizeof *w);
	buf_init(&w->line);
}

void transcript_writer_free(struct transcript_writer *w)
{
	transcript_close(w);
	free(w->host);
	w->host = NULL;
	buf_free(&w->line);
}

bool transcript_active(const struct transcript_writer *w)
{
	return w->f != NULL;
}

bool transcript_wants_quiet(void *arg)
{
	return transcript_active(arg);
}

/* Writes w->line and flushes; on failure stops recording. */
static void put_line(struct transcript_writer *w)
{
	if (!w->f)
		return;
	buf_putc(&w->line, '\n');
	if (fwrite(w->line.data, 1, w->line.len, w->f) != w->line.len || fflush(w->f) != 0) {
		snprintf(w->err, sizeof w->err,
			 "cannot write the transcript %s: %s; recording stopped", w->path,
			 strerror(errno));
		w->failed = true;
		fclose(w->f);
		w->f = NULL;
	}
	buf_reset(&w->line);
}

/* Our own text (messages, header values): control bytes become '?'. */
static void put_plain(struct buf *b, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf_putc(b, (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i]);
}

static void header(struct transcript_writer *w)
{
	if (w->header_done || !w->f)
		return;
	w->header_done = true;
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
	buf_reset(&w->line);
	buf_printf(&w->line, "%s\ntool: smtpsh %s\ndate: %s", TRANSCRIPT_MAGIC, SMTPSH_VERSION,
		   date);
	if (w->host) {
		static const char *const modes[] = {
		    [TLS_NONE] = "none", [TLS_IMPLICIT] = "implicit", [TLS_STARTTLS] = "starttls"};
		buf_puts(&w->line, "\nhost: ");
		put_plain(&w->line, w->host, strlen(w->host));
		/* A UNIX socket has no port: its path is the host (FORMAT.md). */
		if (!conn_is_socket_path(w->host))
			buf_printf(&w->line, "\nport: %s", w->port);
		buf_printf(&w->line, "\ntls: %s", modes[w->mode]);
		if (w->lmtp) /* version 2: a replay speaks LMTP too (FORMAT.md) */
			buf_puts(&w->line, "\nprotocol: lmtp");
		if (w->peer) { /* written by the server: host and port are its own */
			buf_puts(&w->line, "\nperspective: server\npeer: ");
			put_plain(&w->line, w->peer, strlen(w->peer));
		}
	}
	buf_putc(&w->line, '\n'); /* the empty line that ends the header */
	put_line(w);
}

int transcript_open(struct transcript_writer *w, const char *path)
{
	transcript_close(w);
	w->failed = false;
	w->err[0] = '\0';
	/*
	 * A transcript holds the whole conversation: it is written only to a regular file that
	 * ends up 0600, whatever mode an existing file had. Not through a symbolic link (another
	 * user's link in a shared folder would redirect it): the user names the target instead.
	 * O_NONBLOCK so that a FIFO does not block the open; O_TRUNC only once the file is known
	 * to be a regular file.
	 */
	int fd =
	    open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK, 0600);
	if (fd < 0) {
		int e = errno;
		char target[PATH_MAX];
		ssize_t n = e == ELOOP ? readlink(path, target, sizeof target - 1) : -1;
		if (n >= 0) {
			target[n] = '\0';
			snprintf(
			    w->err, sizeof w->err,
			    "cannot write %s: it is a symbolic link (to %.160s); give the file it "
			    "points to if that is where the transcript should go",
			    path, target);
		} else {
			snprintf(w->err, sizeof w->err, "cannot write %s: %s", path,
				 e == ENXIO ? "not a regular file" : strerror(e)); /* a FIFO */
		}
		return -1;
	}
	struct stat sb;
	const char *why = NULL;
	if (fstat(fd, &sb) < 0)
		why = strerror(errno);
	else if (!S_ISREG(sb.st_mode))
		why = "not a regular file";
	else if ((sb.st_mode & 07777) != 0600 && fchmod(fd, 0600) < 0)
		why = "cannot make it private (mode 0600)";
	else if (ftruncate(fd, 0) < 0)
		why = strerror(errno);
	else {
		int fl = fcntl(fd, F_GETFL);
		if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
			why = strerror(errno);
	}
	FILE *f = why ? NULL : fdopen(fd, "w");
	if (!f) {
		snprintf(w->err, sizeof w->err, "cannot write %s: %s", path,
			 why ? why : strerror(errno));
		close(fd);
		return -1;
	}
	w->path = strdup(path);
	w->f = f;
	w->header_done = false;
	w->lines = 0;
	if (w->connected)
		header(w);
	return 0;
}

int transcript_open_stream(struct transcript_writer *w, FILE *f, const char *name)
{
	transcript_close(w);
	w->failed = false;
	w->err[0] = '\0';
	w->path = strdup(name);
	if (!w->path)
		return -1;
	w->f = f;
	w->header_done = false;
	w->lines = 0;
	if (w->connected)
		header(w);
	return 0;
}

void transcript_close(struct transcript_writer *w)
{
	if (w->f) {
		header(w);
		if (w->f && fclose(w->f) != 0 && !w->failed) {
			snprintf(w->err, sizeof w->err, "cannot write the transcript %s: %s",
				 w->path, strerror(errno));
			w->failed = true;
		}
		w->f = NULL;
	}
	free(w->path);
	w->path = NULL;
}

void transcript_comment(struct transcript_writer *w, const char *text)
{
	if (!w->f)
		return;
	header(w);
	buf_reset(&w->line);
	buf_puts(&w->line, *text ? "# " : "#");
	put_plain(&w->line, text, strlen(text));
	put_line(w);
}

/* Wire text, escaped like the screen; a final blank as \x20 so no editor can eat it. */
static void put_wire(struct buf *b, const char *text, size_t len)
{
	size_t keep = len && (text[len - 1] == ' ') ? len - 1 : len;
	escape_append(b, text, keep, ESCAPE_DEFAULT);
	if (keep < len)
		buf_puts(b, "\\x20");
}

/* A field's value: wire escaping, and no blank (it ends the field). */
static void put_field(struct buf *b, const char *text, size_t len)
{
	struct buf esc;
	buf_init(&esc);
	escape_append(&esc, text, len, ESCAPE_DEFAULT);
	for (size_t i = 0; i < esc.len; i++)
		if (esc.data[i] == ' ')
			buf_puts(b, "\\x20");
		else
			buf_putc(b, esc.data[i]);
	buf_free(&esc);
}

/* Keeps the connection an event belongs to: the peer of the header to come. */
static void hear_connection(struct transcript_writer *w, const struct session_event *ev)
{
	if (!ev->host) {
		free(w->host);
		w->host = NULL;
	} else if (!w->host || strcmp(w->host, ev->host) != 0) {
		free(w->host);
		w->host = strdup(ev->host); /* out of memory: a header without the peer */
	}
	snprintf(w->port, sizeof w->port, "%s", ev->port ? ev->port : "");
	w->mode = ev->mode;
	w->lmtp = ev->lmtp;
	w->connected = ev->connected;
}

void transcript_event(const struct session_event *ev, void *arg)
{
	struct transcript_writer *w = arg;
	hear_connection(w, ev);
	if (!w->f || ev->screen_only)
		return; /* a BDAT chunk is recorded from its chunk events */
	header(w);
	buf_reset(&w->line);
	if (w->times && ev->elapsed_ms >= 0 &&
	    ((ev->type == SEV_RECEIVED && ev->last) || ev->type == SEV_INFO || ev->type == SEV_TLS))
		buf_printf(&w->line, "+%ldms ", ev->elapsed_ms);
	switch (ev->type) {
	case SEV_SENT: {
		if (ev->pipe_total)
			buf_printf(&w->line, "p%u/%u ", ev->pipe_index, ev->pipe_total);
		/* version 2: octets as written (\raw, a BDAT chunk); escaped like any wire text,
		   so a CR, LF or NUL in them stays on this one line as \r \n \x00 */
		if (ev->raw)
			buf_puts(&w->line, "raw ");
		else if (ev->chunk)
			buf_puts(&w->line, "chunk ");
		if (ev->chunk && ev->chunk_omitted)
			buf_printf(&w->line, "omitted:%llu ", ev->chunk_omitted);
		buf_puts(&w->line, !ev->tls ? "->" : ev->verified ? "~>" : "?>");
		/* By construction: a secret is written only in its redacted form. */
		const char *t =
		    ev->secret ? (ev->redacted ? ev->redacted : "<redacted>") : ev->text;
		size_t n = ev->secret ? (ev->redacted_len ? ev->redacted_len : strlen(t)) : ev->len;
		if (ev->chunk && ev->chunk_omitted)
			n = 0;
		if (n) {
			buf_putc(&w->line, ' ');
			put_wire(&w->line, t, n);
		}
		break;
	}
	case SEV_RECEIVED:
		if (ev->rcpt && *ev->rcpt) { /* version 2: LMTP's reply for one recipient */
			buf_puts(&w->line, "rcpt:");
			put_field(&w->line, ev->rcpt, strlen(ev->rcpt));
			buf_putc(&w->line, ' ');
		}
		buf_puts(&w->line, !ev->tls ? "<-" : ev->verified ? "<~" : "<?");
		if (ev->len || ev->bare_lf)
			buf_putc(&w->line, ' ');
		put_wire(&w->line, ev->text, ev->len);
		if (ev->bare_lf)
			buf_puts(&w->line, "\\n");
		break;
	case SEV_INFO:
	case SEV_TLS:
	case SEV_CLOSED:
		buf_puts(&w->line, "*  ");
		put_plain(&w->line, ev->text, ev->len);
		break;
	case SEV_WARNING:
		buf_puts(&w->line, "!  warning: ");
		put_plain(&w->line, ev->text, ev->len);
		break;
	case SEV_ERROR:
		buf_puts(&w->line, "!  error: ");
		put_plain(&w->line, ev->text, ev->len);
		break;
	}
	w->lines++;
	put_line(w);
}
