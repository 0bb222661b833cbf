/* A diagram's format by name or file name, and writing it to a file (see diagram.h). */
#include "smtpsh/diagram.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

int diagram_format_parse(const char *name, enum diagram_format *f)
{
	if (strcmp(name, "txt") == 0)
		*f = DIAGRAM_TXT;
	else if (strcmp(name, "svg") == 0)
		*f = DIAGRAM_SVG;
	else if (strcmp(name, "html") == 0)
		*f = DIAGRAM_HTML;
	else
		return -1;
	return 0;
}

int diagram_format_of_path(const char *path, enum diagram_format *f)
{
	const char *slash = strrchr(path, '/');
	const char *dot = strrchr(slash ? slash + 1 : path, '.');
	if (!dot)
		return -1;
	if (strcasecmp(dot, ".htm") == 0) {
		*f = DIAGRAM_HTML;
		return 0;
	}
	char ext[8];
	size_t n = strlen(dot + 1);
	if (n == 0 || n >= sizeof ext)
		return -1;
	for (size_t i = 0; i <= n; i++)
		ext[i] =
		    (char)(dot[1 + i] >= 'A' && dot[1 + i] <= 'Z' ? dot[1 + i] + 32 : dot[1 + i]);
	return diagram_format_parse(ext, f);
}

int diagram_render(const struct diagram *d, enum diagram_format f, const struct diagram_options *o,
		   struct buf *out)
{
	switch (f) {
	case DIAGRAM_SVG:
		return diagram_render_svg(d, o, out);
	case DIAGRAM_HTML:
		return diagram_render_html(d, o, out);
	case DIAGRAM_TXT:
		break;
	}
	return diagram_render_txt(d, o, out);
}

int diagram_save(const char *path, const struct buf *data, char *err, size_t errlen)
{
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (S_ISLNK(st.st_mode)) {
			snprintf(err, errlen, "%s is a symbolic link: not written", path);
			return -1;
		}
		if (!S_ISREG(st.st_mode)) {
			snprintf(err, errlen, "%s is not a regular file: not written", path);
			return -1;
		}
	} else if (errno != ENOENT) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	size_t n = strlen(path);
	char *tmp = malloc(n + sizeof ".XXXXXX");
	if (!tmp) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memcpy(tmp, path, n);
	memcpy(tmp + n, ".XXXXXX", sizeof ".XXXXXX");
	int fd = mkstemp(tmp);
	if (fd < 0) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		free(tmp);
		return -1;
	}
	/* mkstemp makes 0600; a diagram is for sharing (the transcript it shows has no secret) */
	bool ok = fchmod(fd, 0644) == 0;
	for (size_t off = 0; ok && off < data->len;) {
		ssize_t w = write(fd, data->data + off, data->len - off);
		if (w < 0 && errno == EINTR)
			continue;
		ok = w > 0;
		if (ok)
			off += (size_t)w;
	}
	int saved = errno;
	if (close(fd) < 0 && ok) {
		ok = false;
		saved = errno;
	}
	if (ok && rename(tmp, path) < 0) {
		ok = false;
		saved = errno;
	}
	if (!ok) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(saved));
		unlink(tmp);
	}
	free(tmp);
	return ok ? 0 : -1;
}
