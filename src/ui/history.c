#include "smtpsh/history.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <readline/history.h>

#include "smtpsh/paths.h"
#include "shell_int.h"

static char *hist_path; /* NULL: nothing is saved */
static int hist_size;
static bool hist_file_exists;
static struct render *hist_render;

/* Narrows the mode of an existing history file to 0600; false when it must not be used. */
static bool check_file(const char *path, struct render *r)
{
	struct stat st;
	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return true;
		render_warning(r, "history file %s: %s (history not saved)", path, strerror(errno));
		return false;
	}
	if (S_ISLNK(st.st_mode) && stat(path, &st) < 0) {
		render_warning(r, "history file %s: a dangling link (history not saved)", path);
		return false;
	}
	if (!S_ISREG(st.st_mode)) {
		render_warning(r, "history file %s is not a regular file (history not saved)",
			       path);
		return false;
	}
	hist_file_exists = true;
	if (st.st_mode & 077) {
		if (chmod(path, 0600) < 0) {
			render_warning(
			    r,
			    "history file %s is readable by others and its mode cannot be "
			    "changed: %s (history not saved)",
			    path, strerror(errno));
			return false;
		}
		render_warning(r,
			       "history file %s was readable by others (mode %03o): mode set "
			       "to 600",
			       path, (unsigned)(st.st_mode & 0777));
	}
	return true;
}

void history_open(const char *path, int size, bool make_dirs, struct render *r)
{
	using_history();
	hist_size = size;
	hist_render = r;
	stifle_history(size);
	if (!path || !*path || size == 0)
		return;
	if (make_dirs && paths_make_parents(path) < 0) {
		render_warning(r, "cannot create the directory of %s: %s (history not saved)", path,
			       strerror(errno));
		return;
	}
	if (!check_file(path, r))
		return;
	hist_path = strdup(path);
	if (hist_file_exists) {
		int e = read_history(hist_path);
		if (e && e != ENOENT)
			render_warning(r, "cannot read history file %s: %s", hist_path,
				       strerror(e));
	}
}

/* The name of a local command ("auth" for "\auth x"), into out. */
static void local_name(const char *line, char *out, size_t len)
{
	size_t n = strcspn(line + 1, " \t");
	snprintf(out, len, "%.*s", (int)(n < len ? n : len - 1), line + 1);
}

/* Local commands whose arguments may be a secret: the text \b64 encodes (a password, typed
   by hand), what \unb64 decodes, a password command given to \auth. */
static bool local_may_hold_secret(const char *line)
{
	char name[16];
	local_name(line, name, sizeof name);
	if (strcmp(name, "b64") == 0 || strcmp(name, "unb64") == 0)
		return true;
	if (strcmp(name, "auth") != 0)
		return false;
	/* \auth [MECH] [USER] is fine to keep; anything more (an option, a password) is not. */
	const char *p = line + 1 + strlen(name);
	int words = 0;
	while (*p) {
		p += strspn(p, " \t");
		if (!*p)
			break;
		if (*p == '-' || *p == '"' || *p == '\'' || ++words > 2)
			return true;
		p += strcspn(p, " \t");
	}
	return false;
}

bool history_keeps(const struct shell *sh, const char *line)
{
	if (hist_size == 0 || !*line || line[0] == ' ' || line[0] == '\t')
		return false;
	if (session_phase(sh->session) == PHASE_DATA || session_bdat_open(sh->session) ||
	    shell_line_is_secret(sh, line))
		return false;
	if (line[0] == '\\' && local_may_hold_secret(line))
		return false;
	HIST_ENTRY *last =
	    history_length > 0 ? history_get(history_base + history_length - 1) : NULL;
	return !(last && strcmp(last->line, line) == 0);
}

void history_remember(const struct shell *sh, const char *line)
{
	if (!history_keeps(sh, line))
		return;
	add_history(line);
	if (!hist_path)
		return;
	int e = hist_file_exists ? append_history(1, hist_path) : write_history(hist_path);
	if (e) {
		render_warning(hist_render,
			       "cannot write history file %s: %s (history no longer "
			       "saved)",
			       hist_path, strerror(e));
		free(hist_path);
		hist_path = NULL;
		return;
	}
	hist_file_exists = true;
}

void history_close(void)
{
	if (hist_path) {
		history_truncate_file(hist_path, hist_size);
		chmod(hist_path, 0600);
	}
	free(hist_path);
	hist_path = NULL;
}
