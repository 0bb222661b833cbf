/* The OAuth2 token store (src/conf/oauth_store.c): modes, links, the lock, atomic writes. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "smtpsh/oauth_store.h"
#include "tap.h"

static char tmpdir[] = "/tmp/smtpsh-test-oauth-XXXXXX";

static char *at(const char *rel)
{
	static char path[4][512];
	static int i;
	i = (i + 1) % 4;
	snprintf(path[i], sizeof path[i], "%s/%s", tmpdir, rel);
	return path[i];
}

static unsigned mode_of(const char *path)
{
	struct stat sb;
	return lstat(path, &sb) == 0 ? (unsigned)(sb.st_mode & 07777) : 0;
}

static struct oauth_stored token(const char *account, const char *rt)
{
	struct oauth_stored t = {0};
	t.account = strdup(account);
	t.refresh_token = strdup(rt);
	t.scope = strdup("https://outlook.office.com/SMTP.Send offline_access");
	t.stored = 1765000000;
	return t;
}

static void test_names(void)
{
	struct buf b;
	buf_init(&b);
	ok(oauth_store_file_name("office365", &b) == 0 && !strcmp(b.data, "office365.json"),
	   "a plain name");
	ok(oauth_store_file_name("../x/y z", &b) == 0 && !strcmp(b.data, "%2E.%2Fx%2Fy%20z.json"),
	   "no '/', no leading '.', no blank: %s", b.data);
	ok(oauth_store_file_name("alice@example.com", &b) == 0 &&
	       !strcmp(b.data, "alice@example.com.json"),
	   "an address");
	is_int(oauth_store_file_name("", &b), -1, "empty refused");
	buf_free(&b);
}

static void test_round_trip(void)
{
	struct buf err;
	buf_init(&err);
	struct oauth_store *st = oauth_store_open(at("state/smtpsh/oauth"), &err);
	ok(st != NULL, "store opened: %s", err.data ? err.data : "");
	if (!st)
		return;
	is_int(mode_of(at("state/smtpsh/oauth")), 0700, "directory 0700");
	is_int(mode_of(at("state/smtpsh")), 0700, "its parent 0700");
	struct oauth_stored t = token("alice@example.com", "rt-\"quoted\"\\back\001ctl\xc3\xa9"),
			    got;
	is_int(oauth_store_save(st, "office365", &t, &err), 0, "saved");
	is_int(mode_of(at("state/smtpsh/oauth/office365.json")), 0600, "token file 0600");
	is_int(oauth_store_load(st, "office365", &got, &err), 1, "loaded");
	is_str(got.refresh_token, t.refresh_token, "the token, escapes and all");
	is_str(got.account, "alice@example.com", "the account");
	is_str(got.scope, t.scope, "the scope");
	is_int(got.stored, 1765000000, "when");
	oauth_stored_free(&got);
	/* a rotated token replaces the old one; no temporary file stays behind */
	oauth_stored_free(&t);
	t = token("alice@example.com", "rt-2");
	is_int(oauth_store_save(st, "office365", &t, &err), 0, "saved again");
	is_int(oauth_store_load(st, "office365", &got, &err), 1, "loaded again");
	is_str(got.refresh_token, "rt-2", "the new token");
	oauth_stored_free(&got);
	DIR *d = opendir(at("state/smtpsh/oauth"));
	int others = 0;
	for (struct dirent *e; d && (e = readdir(d));)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    strcmp(e->d_name, "office365.json") && strcmp(e->d_name, ".lock"))
			others++;
	if (d)
		closedir(d);
	is_int(others, 0, "no temporary file left");
	is_int(oauth_store_load(st, "gmail", &got, &err), 0, "none for another account");
	is_int(oauth_store_remove(st, "office365", &err), 1, "removed");
	is_int(oauth_store_remove(st, "office365", &err), 0, "already gone");
	is_int(oauth_store_load(st, "office365", &got, &err), 0, "none after removal");
	oauth_stored_free(&t);
	oauth_store_close(st);
	buf_free(&err);
}

static void test_refusals(void)
{
	struct buf err;
	buf_init(&err);
	struct oauth_stored t = token("bob", "rt-bob"), got;
	/* a directory with a wide mode is narrowed */
	mkdir(at("wide"), 0755);
	struct oauth_store *st = oauth_store_open(at("wide"), &err);
	ok(st && mode_of(at("wide")) == 0700, "a 0755 directory narrowed to 0700");
	oauth_store_close(st);
	/* a symbolic link as the directory is refused */
	symlink(at("wide"), at("linkdir"));
	buf_reset(&err);
	ok(oauth_store_open(at("linkdir"), &err) == NULL && strstr(err.data, "symbolic link"),
	   "a link as the directory refused: %s", err.data ? err.data : "");

	buf_reset(&err);
	st = oauth_store_open(at("store"), &err);
	if (!st) {
		ok(0, "store: %s", err.data);
		return;
	}
	/* a link planted at the token's name: never read through */
	int fd = open(at("secret-elsewhere"), O_WRONLY | O_CREAT, 0600);
	write(fd, "{\"refresh_token\":\"planted\"}", 27);
	close(fd);
	symlink(at("secret-elsewhere"), at("store/planted.json"));
	buf_reset(&err);
	is_int(oauth_store_load(st, "planted", &got, &err), -1, "a link is not followed on read");
	ok(err.data && strstr(err.data, "symbolic link"), "said: %s", err.data ? err.data : "");
	/* ... and replaced, not written through, on save */
	is_int(oauth_store_save(st, "planted", &t, &err), 0, "save over the link");
	struct stat sb;
	ok(lstat(at("store/planted.json"), &sb) == 0 && S_ISREG(sb.st_mode),
	   "the link replaced by a file");
	char buf[64] = "";
	fd = open(at("secret-elsewhere"), O_RDONLY);
	read(fd, buf, sizeof buf - 1);
	close(fd);
	ok(strstr(buf, "planted") && !strstr(buf, "rt-bob"), "the link's target untouched");
	/* a token file readable by others is refused, with the fix */
	is_int(oauth_store_save(st, "bob", &t, &err), 0, "saved");
	chmod(at("store/bob.json"), 0644);
	buf_reset(&err);
	is_int(oauth_store_load(st, "bob", &got, &err), -1, "a 0644 token file refused");
	ok(err.data && strstr(err.data, "chmod 600"), "said: %s", err.data ? err.data : "");
	/* a FIFO does not hang */
	mkfifo(at("store/fifo.json"), 0600);
	buf_reset(&err);
	is_int(oauth_store_load(st, "fifo", &got, &err), -1, "a FIFO refused at once");
	/* not a token file */
	fd = open(at("store/junk.json"), O_WRONLY | O_CREAT, 0600);
	write(fd, "{\"refresh_token\":\"x\"} trailing", 30);
	close(fd);
	buf_reset(&err);
	is_int(oauth_store_load(st, "junk", &got, &err), -1, "trailing bytes refused");
	fd = open(at("store/norefresh.json"), O_WRONLY | O_CREAT, 0600);
	write(fd, "{\"account\":\"x\"}", 15);
	close(fd);
	is_int(oauth_store_load(st, "norefresh", &got, &err), -1, "no refresh_token refused");
	oauth_stored_free(&t);
	oauth_store_close(st);
	buf_free(&err);
}

/* Two shells: the second waits for the first's lock, then times out with a clear error. */
static void test_lock(void)
{
	struct buf err;
	buf_init(&err);
	struct oauth_store *a = oauth_store_open(at("lock"), &err);
	struct oauth_store *b = oauth_store_open(at("lock"), &err);
	if (!a || !b) {
		ok(0, "stores: %s", err.data);
		return;
	}
	int pipefd[2];
	pipe(pipefd);
	pid_t pid = fork();
	if (pid == 0) {
		/* the other shell: holds the lock 300 ms */
		struct buf e;
		buf_init(&e);
		if (oauth_store_lock(a, 1000, &e) == 0) {
			write(pipefd[1], "L", 1);
			usleep(300 * 1000);
		}
		_exit(0);
	}
	char c;
	read(pipefd[0], &c, 1);
	buf_reset(&err);
	is_int(oauth_store_lock(b, 100, &err), -1, "held elsewhere: no lock within 100 ms");
	ok(err.data && strstr(err.data, "another smtpsh holds the lock"), "said: %s",
	   err.data ? err.data : "");
	is_int(oauth_store_lock(b, 3000, &err), 0, "got once the other dropped it");
	oauth_store_unlock(b);
	is_int(oauth_store_lock(b, 0, &err), 0, "free again");
	int status;
	waitpid(pid, &status, 0);
	oauth_store_close(a);
	oauth_store_close(b);
	buf_free(&err);
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	umask(022);
	test_names();
	test_round_trip();
	test_refusals();
	test_lock();
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		diag("could not remove %s", tmpdir);
	return done_testing();
}
