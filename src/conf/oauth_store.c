#include "smtpsh/oauth_store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "smtpsh/paths.h"

struct oauth_store {
	int dirfd;
	int lockfd; /* -1 while the lock is not held */
	char *dir;
};

void oauth_stored_free(struct oauth_stored *t)
{
	free(t->account);
	str_free_secret(t->refresh_token);
	free(t->scope);
	t->account = t->refresh_token = t->scope = NULL;
	t->stored = 0;
}

struct oauth_store *oauth_store_open(const char *dir, struct buf *err)
{
	struct buf path;
	buf_init(&path);
	struct oauth_store *st = NULL;
	int fd = -1;
	if (dir ? buf_puts(&path, dir) < 0 : paths_file(PATHS_STATE, "oauth", &path) < 0) {
		buf_printf(err, "no place for the OAuth2 token store: %s",
			   dir ? "out of memory" : "neither XDG_STATE_HOME nor a home directory");
		goto out;
	}
	/* the parents, then the directory itself, each 0700 when made here */
	if (buf_puts(&path, "/x") < 0 || paths_make_parents(path.data) < 0) {
		path.len -= 2;
		path.data[path.len] = '\0';
		buf_printf(err, "cannot make %s: %s", path.data, strerror(errno));
		goto out;
	}
	path.len -= 2;
	path.data[path.len] = '\0';
	fd = open(path.data, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		buf_printf(err, "refusing the token store %s: %s", path.data,
			   errno == ELOOP || errno == ENOTDIR ? "not a directory (a symbolic link?)"
							      : strerror(errno));
		goto out;
	}
	struct stat sb;
	if (fstat(fd, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
		buf_printf(err, "refusing the token store %s: not a directory", path.data);
		goto out;
	}
	if (sb.st_uid != geteuid()) {
		buf_printf(err, "refusing the token store %s: owned by another user (uid %u)",
			   path.data, (unsigned)sb.st_uid);
		goto out;
	}
	/* Group or others may list or enter it: tokens are nobody else's business. */
	if ((sb.st_mode & 077) && fchmod(fd, 0700) < 0) {
		buf_printf(err, "cannot narrow %s to mode 0700: %s", path.data, strerror(errno));
		goto out;
	}
	st = calloc(1, sizeof *st);
	if (!st || !(st->dir = strdup(path.data))) {
		free(st);
		st = NULL;
		buf_puts(err, "out of memory");
		goto out;
	}
	st->dirfd = fd;
	st->lockfd = -1;
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	buf_free(&path);
	return st;
}

void oauth_store_close(struct oauth_store *st)
{
	if (!st)
		return;
	oauth_store_unlock(st);
	close(st->dirfd);
	free(st->dir);
	free(st);
}

const char *oauth_store_dir(const struct oauth_store *st)
{
	return st->dir;
}

int oauth_store_lock(struct oauth_store *st, int timeout_ms, struct buf *err)
{
	if (st->lockfd >= 0)
		return 0;
	int fd = openat(st->dirfd, ".lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		buf_printf(err, "cannot open %s/.lock: %s", st->dir, strerror(errno));
		return -1;
	}
	/* flock has no timeout: try, and sleep 20 ms between tries */
	for (int waited = 0;; waited += 20) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			break;
		if (errno != EWOULDBLOCK && errno != EINTR) {
			buf_printf(err, "cannot lock %s/.lock: %s", st->dir, strerror(errno));
			close(fd);
			return -1;
		}
		if (waited >= timeout_ms) {
			buf_printf(err,
				   "another smtpsh holds the lock of the token store %s (waited %d "
				   "ms)",
				   st->dir, waited);
			close(fd);
			return -1;
		}
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	st->lockfd = fd;
	return 0;
}

void oauth_store_unlock(struct oauth_store *st)
{
	if (st->lockfd >= 0) {
		flock(st->lockfd, LOCK_UN);
		close(st->lockfd);
		st->lockfd = -1;
	}
}

int oauth_store_file_name(const char *key, struct buf *out)
{
	size_t n = strlen(key);
	buf_reset(out);
	if (n == 0 || n > 200)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)key[i];
		bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			     (c >= '0' && c <= '9') || strchr("@._+-", c);
		if (plain && !(i == 0 && c == '.'))
			buf_putc(out, (char)c);
		else
			buf_printf(out, "%%%02X", c);
	}
	return buf_puts(out, ".json");
}

static char *json_str(struct json_object *obj, const char *key)
{
	struct json_object *v;
	if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return strdup(json_object_get_string(v));
}

/* Parses a token file's text: {"account":..., "refresh_token":..., "scope":..., "stored":N}. */
static int parse_file(const char *text, size_t len, struct oauth_stored *out)
{
	struct json_tokener *tok = json_tokener_new_ex(4);
	if (!tok)
		return -1;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	struct json_object *obj = json_tokener_parse_ex(tok, text, (int)len);
	size_t end = obj ? json_tokener_get_parse_end(tok) : 0;
	while (obj && end < len && strchr(" \t\r\n", text[end]) && text[end])
		end++;
	bool ok = obj && end == len && json_object_is_type(obj, json_type_object);
	json_tokener_free(tok);
	if (ok) {
		out->refresh_token = json_str(obj, "refresh_token");
		out->account = json_str(obj, "account");
		out->scope = json_str(obj, "scope");
		struct json_object *v;
		if (json_object_object_get_ex(obj, "stored", &v) &&
		    json_object_is_type(v, json_type_int))
			out->stored = json_object_get_int64(v);
		if (!out->account)
			out->account = strdup("");
		if (!out->scope)
			out->scope = strdup("");
		ok = out->refresh_token && *out->refresh_token && out->account && out->scope;
	}
	json_object_put(obj);
	if (!ok)
		oauth_stored_free(out);
	return ok ? 0 : -1;
}

int oauth_store_load(struct oauth_store *st, const char *key, struct oauth_stored *out,
		     struct buf *err)
{
	memset(out, 0, sizeof *out);
	struct buf name, data;
	buf_init(&name);
	buf_init(&data);
	int r = -1;
	if (oauth_store_file_name(key, &name) < 0) {
		buf_printf(err, "no token file name for an empty or overlong account name");
		goto out;
	}
	/* O_NONBLOCK: a FIFO planted here must not hang the shell; O_NOFOLLOW: nor a link */
	int fd =
	    openat(st->dirfd, name.data, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT)
			r = 0;
		else
			buf_printf(err, "refusing %s/%s: %s", st->dir, name.data,
				   errno == ELOOP ? "a symbolic link" : strerror(errno));
		goto out;
	}
	struct stat sb;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		buf_printf(err, "refusing %s/%s: not a regular file", st->dir, name.data);
	} else if (sb.st_uid != geteuid()) {
		buf_printf(err, "refusing %s/%s: owned by another user", st->dir, name.data);
	} else if (sb.st_mode & 077) {
		buf_printf(
		    err, "refusing %s/%s: group or others may read it (mode %04o): chmod 600 %s/%s",
		    st->dir, name.data, (unsigned)(sb.st_mode & 07777), st->dir, name.data);
	} else if (sb.st_size > OAUTH_STORE_MAX) {
		buf_printf(err, "refusing %s/%s: larger than %d bytes", st->dir, name.data,
			   OAUTH_STORE_MAX);
	} else {
		/* one read of the exact size: no realloc leaves a stale copy of the token */
		if (buf_reserve(&data, (size_t)sb.st_size + 1) < 0) {
			buf_puts(err, "out of memory");
		} else {
			ssize_t n = pread(fd, data.data, (size_t)sb.st_size + 1, 0);
			if (n < 0 || n > sb.st_size) {
				buf_printf(err, "cannot read %s/%s: %s", st->dir, name.data,
					   n < 0 ? strerror(errno) : "it grew while read");
			} else {
				data.len = (size_t)n;
				data.data[n] = '\0';
				if (parse_file(data.data, data.len, out) < 0)
					buf_printf(err, "%s/%s is not an smtpsh token file",
						   st->dir, name.data);
				else
					r = 1;
			}
		}
	}
	close(fd);
out:
	if (data.data)
		OPENSSL_cleanse(data.data, data.cap);
	buf_free(&data);
	buf_free(&name);
	return r;
}

/* A JSON string, escaped by hand into out (json-c's printbuf would keep an unwiped copy). */
static void put_json_string(struct buf *out, const char *s)
{
	buf_putc(out, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			buf_printf(out, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			buf_printf(out, "\\u%04x", c);
		else
			buf_putc(out, (char)c);
	}
	buf_putc(out, '"');
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int oauth_store_save(struct oauth_store *st, const char *key, const struct oauth_stored *t,
		     struct buf *err)
{
	struct buf name, text;
	buf_init(&name);
	buf_init(&text);
	int r = -1, fd = -1;
	char tmp[40] = "";
	if (oauth_store_file_name(key, &name) < 0) {
		buf_printf(err, "no token file name for an empty or overlong account name");
		goto out;
	}
	if (!t->refresh_token || !*t->refresh_token) {
		buf_puts(err, "no refresh token to store");
		goto out;
	}
	/* room for the worst escaping (6 octets an octet) up front: one allocation, wiped */
	size_t need = 96 + 6 * (strlen(t->refresh_token) + strlen(t->account ? t->account : "") +
				strlen(t->scope ? t->scope : ""));
	if (buf_reserve(&text, need) < 0) {
		buf_puts(err, "out of memory");
		goto out;
	}
	buf_puts(&text, "{\"account\":");
	put_json_string(&text, t->account ? t->account : "");
	buf_puts(&text, ",\"scope\":");
	put_json_string(&text, t->scope ? t->scope : "");
	buf_printf(&text, ",\"stored\":%lld,\"refresh_token\":", t->stored);
	put_json_string(&text, t->refresh_token);
	buf_puts(&text, "}\n");
	unsigned char rnd[8];
	if (RAND_bytes(rnd, sizeof rnd) != 1) {
		buf_puts(err, "no random bytes for a temporary file name");
		goto out;
	}
	snprintf(tmp, sizeof tmp, ".tmp-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
		 rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	fd = openat(st->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		buf_printf(err, "cannot create a file in %s: %s", st->dir, strerror(errno));
		tmp[0] = '\0';
		goto out;
	}
	if (write_all(fd, text.data, text.len) < 0 || fsync(fd) < 0) {
		buf_printf(err, "cannot write %s/%s: %s", st->dir, tmp, strerror(errno));
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		buf_printf(err, "cannot write %s/%s: %s", st->dir, tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	/* rename replaces a link planted at the name (the link itself, not its target) */
	if (renameat(st->dirfd, tmp, st->dirfd, name.data) < 0) {
		buf_printf(err, "cannot rename %s/%s to %s: %s", st->dir, tmp, name.data,
			   strerror(errno));
		goto out;
	}
	tmp[0] = '\0';
	fsync(st->dirfd); /* the rename itself survives a crash */
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	if (tmp[0])
		unlinkat(st->dirfd, tmp, 0);
	if (text.data)
		OPENSSL_cleanse(text.data, text.cap);
	buf_free(&text);
	buf_free(&name);
	return r;
}

int oauth_store_remove(struct oauth_store *st, const char *key, struct buf *err)
{
	struct buf name;
	buf_init(&name);
	int r = -1;
	if (oauth_store_file_name(key, &name) < 0) {
		buf_printf(err, "no token file name for an empty or overlong account name");
	} else if (unlinkat(st->dirfd, name.data, 0) == 0) {
		fsync(st->dirfd);
		r = 1;
	} else if (errno == ENOENT) {
		r = 0;
	} else {
		buf_printf(err, "cannot delete %s/%s: %s", st->dir, name.data, strerror(errno));
	}
	buf_free(&name);
	return r;
}
