/* smtpsh --diagram: a transcript drawn as a ladder diagram (diagram_cmd.h). */
#include "smtpsh/diagram_cmd.h"

#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "smtpsh/exit.h"

int diagram_terminal_width(int fd)
{
	struct winsize ws;
	if (!isatty(fd) || ioctl(fd, TIOCGWINSZ, &ws) < 0 || ws.ws_col == 0)
		return 0;
	return ws.ws_col;
}

int diagram_cmd_run(const struct diagram_request *r)
{
	struct diagram d;
	diagram_init(&d);
	char err[600] = "";
	int status = EXIT_USAGE;
	struct buf out;
	buf_init(&out);
	struct diagram_options o = {.notes = r->notes,
				    .explain = r->explain,
				    .ascii = r->ascii,
				    .width = r->width,
				    .title = r->transcript};
	if (!o.width)
		o.width = r->output ? 0 : diagram_terminal_width(STDOUT_FILENO);
	if (!o.width)
		o.width = 80;
	if (diagram_read_file(&d, r->transcript, r->fmt == DIAGRAM_HTML, err, sizeof err) < 0) {
		fprintf(stderr, "smtpsh: --diagram: %s\n", err);
		goto done;
	}
	if (diagram_render(&d, r->fmt, &o, &out) < 0) {
		fprintf(stderr, "smtpsh: --diagram: out of memory\n");
		goto done;
	}
	if (r->output) {
		if (diagram_save(r->output, &out, err, sizeof err) < 0) {
			fprintf(stderr, "smtpsh: --diagram: %s\n", err);
			goto done;
		}
	} else if (fwrite(out.data ? out.data : "", 1, out.len, stdout) != out.len ||
		   fflush(stdout) != 0) {
		perror("smtpsh: --diagram: standard output");
		goto done;
	}
	status = EXIT_OK;
done:
	buf_free(&out);
	diagram_free(&d);
	return status;
}
