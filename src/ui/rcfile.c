#include "smtpsh/rcfile.h"
#include "shell_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Runs one line (refused unless it is a local command); false when it failed. With sh->batch
   set, a failure shows in sh->status, which is put back afterwards. */
static bool run_line(struct shell *sh, const char *line, size_t len)
{
	if (line[0] != '\\') {
		render_error(sh->render,
			     "only local (backslash) commands belong in the rc file; SMTP commands "
			     "are never sent from it (line ignored)");
		return false;
	}
	int before = sh->status;
	sh->status = EXIT_OK;
	shell_execute(sh, line, len);
	bool ok = sh->status == EXIT_OK;
	if (!ok)
		sh->done = false; /* a failure is reported, the next line runs; \quit still ends */
	sh->status = before;
	return ok;
}

int rcfile_run(struct shell *sh, const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		render_warning(sh->render, "cannot read the rc file %s: %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
		render_warning(sh->render, "the rc file %s is not a regular file (ignored)", path);
		fclose(f);
		return -1;
	}
	/* Failures are counted, not fatal: a batch must not end at a typo in the rc file. */
	bool batch = sh->batch, strict = sh->strict;
	sh->batch = true;
	sh->strict = false;
	char *line = NULL, where[4200];
	size_t cap = 0;
	ssize_t n;
	unsigned lineno = 0;
	int failed = 0;
	while (!sh->done && (n = getline(&line, &cap, f)) >= 0) {
		lineno++;
		size_t len = (size_t)n;
		if (len && line[len - 1] == '\n')
			line[--len] = '\0';
		if (len && line[len - 1] == '\r')
			line[--len] = '\0';
		size_t lead = strspn(line, " \t");
		if (line[lead] == '\0' || line[lead] == '#')
			continue;
		snprintf(where, sizeof where, "%s:%u", path, lineno);
		sh->render->where = where;
		if (!run_line(sh, line + lead, len - lead))
			failed++;
		sh->render->where = NULL;
	}
	free(line);
	fclose(f);
	sh->batch = batch;
	sh->strict = strict;
	return failed;
}
