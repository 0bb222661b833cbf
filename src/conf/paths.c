#include "smtpsh/paths.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *home_dir(void)
{
	const char *home = getenv("HOME");
	if (home && home[0] == '/')
		return home;
	struct passwd *pw = getpwuid(getuid());
	return pw && pw->pw_dir && pw->pw_dir[0] == '/' ? pw->pw_dir : NULL;
}

int paths_file(enum paths_kind kind, const char *name, struct buf *out)
{
	static const char *const vars[] = {[PATHS_CONFIG] = "XDG_CONFIG_HOME",
					   [PATHS_STATE] = "XDG_STATE_HOME",
					   [PATHS_CACHE] = "XDG_CACHE_HOME"};
	static const char *const fallbacks[] = {
	    [PATHS_CONFIG] = ".config", [PATHS_STATE] = ".local/state", [PATHS_CACHE] = ".cache"};
	const char *var = vars[kind];
	const char *fallback = fallbacks[kind];
	const char *base = getenv(var);
	buf_reset(out);
	if (base && base[0] == '/')
		return buf_printf(out, "%s/smtpsh/%s", base, name);
	const char *home = home_dir();
	if (!home) {
		errno = ENOENT;
		return -1;
	}
	return buf_printf(out, "%s/%s/smtpsh/%s", home, fallback, name);
}

int paths_make_parents(const char *path)
{
	char *copy = strdup(path);
	if (!copy)
		return -1;
	char *slash = strrchr(copy, '/');
	int r = 0;
	if (slash && slash != copy) {
		*slash = '\0';
		for (char *p = copy + 1; r == 0; p++) {
			if (*p != '/' && *p != '\0')
				continue;
			char c = *p;
			*p = '\0';
			if (mkdir(copy, 0700) < 0 && errno != EEXIST)
				r = -1;
			*p = c;
			if (!c)
				break;
		}
	}
	free(copy);
	return r;
}

int paths_expand_home(const char *path, struct buf *out)
{
	buf_reset(out);
	if (strncmp(path, "~/", 2) == 0) {
		const char *home = home_dir();
		if (!home) {
			errno = ENOENT;
			return -1;
		}
		return buf_printf(out, "%s/%s", home, path + 2);
	}
	return buf_puts(out, path);
}

int paths_read_file(const char *path, size_t max, struct buf *out)
{
	buf_reset(out);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	char chunk[8192];
	ssize_t n;
	while ((n = read(fd, chunk, sizeof chunk)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		if (out->len + (size_t)n > max) {
			close(fd);
			errno = EFBIG;
			return -1;
		}
		if (buf_append(out, chunk, (size_t)n) < 0) {
			close(fd);
			errno = ENOMEM;
			return -1;
		}
	}
	close(fd);
	if (buf_reserve(out, 1) < 0) { /* NUL-terminated even when empty */
		errno = ENOMEM;
		return -1;
	}
	return 0;
}
