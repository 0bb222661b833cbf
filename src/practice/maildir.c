#include "smtpsh/maildir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

static int make_dir(const char *path, char *err, size_t errlen)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST) {
		struct stat st;
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
			return 0;
		errno = ENOTDIR;
	}
	snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
	return -1;
}

int maildir_create(const char *dir, char *err, size_t errlen)
{
	char path[4096];
	if (make_dir(dir, err, errlen) < 0)
		return -1;
	static const char *const subs[] = {"tmp", "new", "cur"};
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, subs[i]);
		if (make_dir(path, err, errlen) < 0)
			return -1;
	}
	return 0;
}

/* --- writing ------------------------------------------------------------------------------ */

struct message {
	const char *dir;
	FILE *f;
	char name[512];
};

static void host_part(char *out, size_t outlen)
{
	char host[256] = "localhost";
	gethostname(host, sizeof host - 1);
	host[sizeof host - 1] = '\0';
	size_t j = 0;
	/* The Maildir convention: "/" and ":" in the host name are encoded. */
	for (size_t i = 0; host[i] && j + 5 < outlen; i++) {
		if (host[i] == '/')
			j += (size_t)snprintf(out + j, outlen - j, "\\057");
		else if (host[i] == ':')
			j += (size_t)snprintf(out + j, outlen - j, "\\072");
		else
			out[j++] = host[i];
	}
	out[j] = '\0';
}

static void *md_begin(void *arg, const struct smtpd_envelope *env)
{
	static unsigned long deliveries;
	const char *dir = arg;
	struct message *m = calloc(1, sizeof *m);
	if (!m)
		return NULL;
	m->dir = dir;
	struct timeval tv;
	gettimeofday(&tv, NULL);
	char host[200];
	host_part(host, sizeof host);
	snprintf(m->name, sizeof m->name, "%lld.M%06ldP%ldQ%luR%s.%s", (long long)tv.tv_sec,
		 (long)tv.tv_usec, (long)getpid(), ++deliveries, env->id, host);
	char path[4096];
	snprintf(path, sizeof path, "%s/tmp/%s", dir, m->name);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || !(m->f = fdopen(fd, "w"))) {
		if (fd >= 0)
			close(fd);
		free(m);
		return NULL;
	}
	return m;
}

static int md_write(void *handle, const char *data, size_t len)
{
	struct message *m = handle;
	return fwrite(data, 1, len, m->f) == len ? 0 : -1;
}

static void md_abort(void *handle)
{
	struct message *m = handle;
	char path[4096];
	snprintf(path, sizeof path, "%s/tmp/%s", m->dir, m->name);
	if (m->f)
		fclose(m->f);
	unlink(path);
	free(m);
}

static int md_commit(void *handle)
{
	struct message *m = handle;
	char tmp[4096], dst[4096];
	snprintf(tmp, sizeof tmp, "%s/tmp/%s", m->dir, m->name);
	snprintf(dst, sizeof dst, "%s/new/%s", m->dir, m->name);
	int bad = fflush(m->f) != 0 || ferror(m->f) || fsync(fileno(m->f)) != 0;
	bad |= fclose(m->f) != 0;
	m->f = NULL;
	if (bad || rename(tmp, dst) != 0) {
		md_abort(m);
		return -1;
	}
	free(m);
	return 0;
}

void maildir_store(struct smtpd_store *store, const char *dir)
{
	store->begin = md_begin;
	store->write = md_write;
	store->commit = md_commit;
	store->abort = md_abort;
	store->arg = (void *)dir;
}

/* --- reading ------------------------------------------------------------------------------ */

/* The unfolded value of header name in the header block hdr (LF line ends), into out. */
static void header_value(const char *hdr, const char *name, char *out, size_t outlen)
{
	size_t nlen = strlen(name);
	out[0] = '\0';
	for (const char *p = hdr; *p;) {
		if (*p == '\n') /* the empty line: end of the header */
			return;
		if (strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
			const char *v = p + nlen + 1;
			size_t j = 0;
			for (;;) {
				v += strspn(v, " \t");
				size_t n = strcspn(v, "\r\n");
				if (j && j + 1 < outlen && n)
					out[j++] = ' ';
				for (size_t i = 0; i < n && j + 1 < outlen; i++)
					out[j++] = v[i];
				v += n;
				v += *v == '\r';
				if (*v != '\n' || (v[1] != ' ' && v[1] != '\t'))
					break;
				v++;
			}
			out[j] = '\0';
			return;
		}
		const char *nl = strchr(p, '\n');
		if (!nl)
			return;
		p = nl + 1;
	}
}

static void strip_brackets(char *s)
{
	size_t n = strlen(s);
	if (n >= 2 && s[0] == '<' && s[n - 1] == '>') {
		memmove(s, s + 1, n - 2);
		s[n - 2] = '\0';
	}
}

static int by_name(const void *a, const void *b)
{
	const struct maildir_entry *x = a, *y = b;
	const char *nx = strrchr(x->path, '/') + 1, *ny = strrchr(y->path, '/') + 1;
	/* seconds, then microseconds, then the name: the order of arrival */
	unsigned long long sx = strtoull(nx, NULL, 10), sy = strtoull(ny, NULL, 10);
	if (sx != sy)
		return sx < sy ? -1 : 1;
	const char *mx = strstr(nx, ".M"), *my = strstr(ny, ".M");
	if (mx && my) {
		unsigned long ux = strtoul(mx + 2, NULL, 10), uy = strtoul(my + 2, NULL, 10);
		if (ux != uy)
			return ux < uy ? -1 : 1;
	}
	return strcmp(nx, ny);
}

static int read_entry(struct maildir_entry *e)
{
	struct stat st;
	if (stat(e->path, &st) != 0 || !S_ISREG(st.st_mode))
		return -1;
	e->size = st.st_size;
	const char *name = strrchr(e->path, '/') + 1;
	e->when = (time_t)strtoll(name, NULL, 10);
	if (!e->when)
		e->when = st.st_mtime;
	FILE *f = fopen(e->path, "r");
	if (!f)
		return -1;
	char hdr[16384];
	size_t n = fread(hdr, 1, sizeof hdr - 1, f);
	fclose(f);
	hdr[n] = '\0';
	header_value(hdr, "Return-Path", e->from, sizeof e->from);
	strip_brackets(e->from);
	header_value(hdr, "Envelope-To", e->to, sizeof e->to);
	if (!e->to[0])
		header_value(hdr, "To", e->to, sizeof e->to);
	header_value(hdr, "Subject", e->subject, sizeof e->subject);
	return 0;
}

int maildir_list(const char *dir, struct maildir_entry **out, char *err, size_t errlen)
{
	*out = NULL;
	struct maildir_entry *list = NULL;
	size_t n = 0, cap = 0;
	static const char *const subs[] = {"new", "cur"};
	for (size_t s = 0; s < 2; s++) {
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", dir, subs[s]);
		DIR *d = opendir(path);
		if (!d) {
			if (errno == ENOENT)
				continue;
			snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
			free(list);
			return -1;
		}
		struct dirent *de;
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			if (n == cap) {
				size_t ncap = cap ? cap * 2 : 16;
				struct maildir_entry *l = realloc(list, ncap * sizeof *l);
				if (!l) {
					closedir(d);
					free(list);
					snprintf(err, errlen, "out of memory");
					return -1;
				}
				list = l;
				cap = ncap;
			}
			memset(&list[n], 0, sizeof list[n]);
			if (strlen(path) + 1 + strlen(de->d_name) >= sizeof list[n].path)
				continue;
			memcpy(list[n].path, path, strlen(path));
			list[n].path[strlen(path)] = '/';
			strcpy(list[n].path + strlen(path) + 1, de->d_name);
			if (read_entry(&list[n]) == 0)
				n++;
		}
		closedir(d);
	}
	if (n)
		qsort(list, n, sizeof *list, by_name);
	*out = list;
	return (int)n;
}
