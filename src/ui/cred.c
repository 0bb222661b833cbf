#include "smtpsh/cred.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#define SECRET_LINE_MAX 8192      /* octets of a password or token line we keep */
#define NETRC_MAX (1024 * 1024) /* a bigger ~/.netrc is not one */

/* The first line of buf[0..len) (without CR LF) as a new string. */
static char *first_line(const char *buf, size_t len)
{
	size_t n = 0;
	while (n < len && buf[n] != '\n')
		n++;
	if (n && buf[n - 1] == '\r')
		n--;
	char *s = malloc(n + 1);
	if (s) {
		memcpy(s, buf, n);
		s[n] = '\0';
	}
	return s;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

enum cred_status cred_from_command(const char *cmd, int timeout_ms, char **out, char *err,
				   size_t errlen)
{
	*out = NULL;
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return CRED_ERROR;
	}
	/*
	 * The command runs in a process group of its own, so that on a timeout the whole of it
	 * (the shell and whatever it started) is killed: a command that hangs must not hang the
	 * shell nor linger. When we are the terminal's foreground job, it becomes the foreground
	 * job while it runs (as a job of an interactive shell does), so it can still ask on the
	 * terminal (a password manager's passphrase) and Ctrl-C reaches it.
	 */
	int tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	bool fg = tty >= 0 && tcgetpgrp(tty) == getpgrp();
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		if (tty >= 0)
			close(tty);
		return CRED_ERROR;
	}
	if (pid == 0) {
		setpgid(0, 0);
		if (fg) { /* also here: the command may read the terminal before the parent runs */
			signal(SIGTTOU, SIG_IGN);
			tcsetpgrp(tty, getpid());
		}
		signal(SIGTTOU, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		if (dup2(p[1], STDOUT_FILENO) < 0)
			_exit(127);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	setpgid(pid, pid); /* also here: no race with the kill below */
	struct sigaction ign = {.sa_handler = SIG_IGN}, old_ttou;
	sigaction(SIGTTOU, &ign, &old_ttou); /* tcsetpgrp from the background */
	if (fg)
		tcsetpgrp(tty, pid);
	/* Only the first line is kept, whole or not at all: a password cut at 8191 octets or at a
	   NUL would be another password, sent without a word. */
	char buf[SECRET_LINE_MAX];
	size_t len = 0;
	bool have_line = false, timed_out = false;
	long long deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 30000);
	for (;;) {
		long long left = deadline - now_ms();
		struct pollfd pfd = {.fd = p[0], .events = POLLIN};
		int pr = left > 0 ? poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left) : 0;
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0) {
			timed_out = true;
			break;
		}
		if (pr < 0)
			break;
		char junk[4096];
		char *dst = len < sizeof buf && !have_line ? buf + len : junk;
		size_t room = dst == junk ? sizeof junk : sizeof buf - len;
		ssize_t n = read(p[0], dst, room);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (dst == buf + len) {
			have_line = memchr(buf + len, '\n', (size_t)n) != NULL;
			len += (size_t)n;
		} else {
			OPENSSL_cleanse(junk, sizeof junk);
		}
	}
	close(p[0]);
	if (timed_out)
		kill(-pid, SIGKILL);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (fg)
		tcsetpgrp(tty, getpgrp());
	sigaction(SIGTTOU, &old_ttou, NULL);
	if (tty >= 0)
		close(tty);
	enum cred_status st = CRED_OK;
	const char *nl = memchr(buf, '\n', len);
	size_t line = nl ? (size_t)(nl - buf) : len;
	if (timed_out) {
		snprintf(err, errlen,
			 "the command did not finish within %d s (--timeout): it was killed, "
			 "nothing sent",
			 (timeout_ms > 0 ? timeout_ms : 30000) / 1000);
		st = CRED_ERROR;
	} else if (WIFSIGNALED(status)) {
		snprintf(err, errlen, "the command was killed by signal %d", WTERMSIG(status));
		st = WTERMSIG(status) == SIGINT ? CRED_INTERRUPTED : CRED_ERROR;
	} else if (WEXITSTATUS(status) != 0) {
		snprintf(err, errlen, "the command failed (exit status %d)", WEXITSTATUS(status));
		st = CRED_ERROR;
	} else if (!nl && len == sizeof buf) {
		snprintf(err, errlen,
			 "the first line the command printed is longer than %d octets: refused, "
			 "not cut",
			 SECRET_LINE_MAX - 1);
		st = CRED_ERROR;
	} else if (memchr(buf, '\0', line)) {
		snprintf(err, errlen,
			 "the first line the command printed holds a NUL octet: "
			 "refused, not cut there");
		st = CRED_ERROR;
	} else if (len == 0 || buf[0] == '\n' || (buf[0] == '\r' && len > 1 && buf[1] == '\n')) {
		snprintf(err, errlen, "the command printed no line (or an empty one)");
		st = CRED_ERROR;
	} else if (!(*out = first_line(buf, len))) {
		snprintf(err, errlen, "out of memory");
		st = CRED_ERROR;
	}
	OPENSSL_cleanse(buf, sizeof buf);
	return st;
}

enum cred_status cred_from_netrc(const char *host, const char *user, struct netrc_entry *out,
				 char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	const char *home = getenv("HOME");
	if (!home || !*home)
		return CRED_NONE;
	char path[4096];
	snprintf(path, sizeof path, "%s/.netrc", home);
	/* O_NONBLOCK: a FIFO (or a device) at ~/.netrc must not block the open; fstat() below
	   then refuses anything but a regular file before a byte is read. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			return CRED_NONE;
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return CRED_ERROR;
	}
	struct stat sb;
	enum cred_status st = CRED_ERROR;
	char *text = NULL;
	size_t len = 0;
	if (fstat(fd, &sb) < 0) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
	} else if (!S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "refusing to use %s: it is not a regular file (%s)", path,
			 S_ISFIFO(sb.st_mode)	? "a FIFO"
			 : S_ISCHR(sb.st_mode)	? "a character device"
			 : S_ISSOCK(sb.st_mode) ? "a socket"
						: "a device");
	} else if (sb.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(err, errlen,
			 "refusing to use %s: its mode %04o lets other users read or change it "
			 "(chmod 600 %s)",
			 path, (unsigned)(sb.st_mode & 07777), path);
	} else if (sb.st_uid != geteuid()) {
		snprintf(err, errlen, "refusing to use %s: it belongs to another user (uid %u)", path,
			 (unsigned)sb.st_uid);
	} else if (sb.st_size > NETRC_MAX) {
		snprintf(err, errlen, "%s is too big to be a netrc file", path);
	} else if (!(text = malloc((size_t)sb.st_size + 1))) {
		snprintf(err, errlen, "out of memory");
	} else {
		for (;;) {
			ssize_t n = read(fd, text + len, (size_t)sb.st_size - len);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			len += (size_t)n;
		}
		int r = netrc_lookup(text, len, host, user, out);
		st = r > 0 ? CRED_OK : r == 0 ? CRED_NONE : CRED_ERROR;
		if (r < 0)
			snprintf(err, errlen, "out of memory");
	}
	if (text) {
		OPENSSL_cleanse(text, len);
		free(text);
	}
	close(fd);
	return st;
}

static volatile sig_atomic_t prompt_interrupted;

static void on_prompt_signal(int sig)
{
	(void)sig;
	prompt_interrupted = 1;
}

enum cred_status cred_prompt(const char *prompt, bool secret, char **out, char *err,
			     size_t errlen)
{
	*out = NULL;
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "no terminal to ask on (%s)", strerror(errno));
		return CRED_ERROR;
	}
	fflush(NULL);
	/* An answer is what is typed after the question: keys pressed before it (--step's
	   Enter pressed twice, a line typed ahead) are thrown away, never taken as the answer.
	   A secret question flushes them too (TCSAFLUSH below). */
	tcflush(fd, TCIFLUSH);
	struct termios saved, quiet;
	bool restore = false;
	if (secret && tcgetattr(fd, &saved) == 0) {
		quiet = saved;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
		quiet.c_lflag |= ICANON;
		restore = tcsetattr(fd, TCSAFLUSH, &quiet) == 0;
	}
	/* Ctrl-C must not leave the terminal without echo: catch it while we ask. */
	struct sigaction sa = {0}, old_int, old_term, old_hup;
	sa.sa_handler = on_prompt_signal; /* no SA_RESTART: read() returns EINTR */
	prompt_interrupted = 0;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGHUP, &sa, &old_hup);

	enum cred_status st = CRED_OK;
	if (write(fd, prompt, strlen(prompt)) < 0) {
		snprintf(err, errlen, "cannot write to the terminal: %s", strerror(errno));
		st = CRED_ERROR;
	}
	char buf[SECRET_LINE_MAX];
	size_t len = 0;
	bool overflow = false;
	char c = 0;
	while (st == CRED_OK) {
		ssize_t n = read(fd, &c, 1);
		if (prompt_interrupted) {
			st = CRED_INTERRUPTED;
			snprintf(err, errlen, "interrupted");
			break;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "cannot read the terminal: %s", strerror(errno));
			st = CRED_ERROR;
			break;
		}
		if (n == 0) {
			snprintf(err, errlen, "end of input at the question");
			st = CRED_INTERRUPTED;
			break;
		}
		if (c == '\n')
			break;
		if (len < sizeof buf - 1)
			buf[len++] = c;
		else
			overflow = true;
	}
	if (restore)
		tcsetattr(fd, TCSAFLUSH, &saved);
	if (secret || st != CRED_OK) {
		ssize_t w = write(fd, "\n", 1);
		(void)w;
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGHUP, &old_hup, NULL);
	close(fd);
	prompt_interrupted = 0;
	if (st == CRED_OK && overflow) {
		snprintf(err, errlen, "the line is longer than %d octets", SECRET_LINE_MAX - 1);
		st = CRED_ERROR;
	}
	if (st == CRED_OK && !(*out = first_line(buf, len))) {
		snprintf(err, errlen, "out of memory");
		st = CRED_ERROR;
	}
	OPENSSL_cleanse(buf, sizeof buf);
	OPENSSL_cleanse(&c, sizeof c);
	return st;
}

int cred_key_passphrase(const char *keyfile, const char *command, char *buf, size_t size, char *err,
			size_t errlen, void *arg)
{
	int timeout_ms = arg ? *(const int *)arg : 30000;
	char *secret = NULL, why[300];
	enum cred_status st;
	if (command) {
		st = cred_from_command(command, timeout_ms, &secret, why, sizeof why);
		if (st != CRED_OK) {
			snprintf(err, errlen, "--key-password-command: %s", why);
			return -1;
		}
	} else {
		char prompt[PATH_MAX + 40];
		snprintf(prompt, sizeof prompt, "Passphrase for %s: ", keyfile);
		st = cred_prompt(prompt, true, &secret, why, sizeof why);
		if (st != CRED_OK) {
			snprintf(err, errlen,
				 "the key is encrypted and its passphrase could not be asked: %s "
				 "(--key-password-command CMD gives it)",
				 why);
			return -1;
		}
	}
	size_t n = strlen(secret);
	if (n >= size) {
		str_free_secret(secret);
		snprintf(err, errlen, "the passphrase is longer than %zu octets", size - 1);
		return -1;
	}
	memcpy(buf, secret, n + 1);
	str_free_secret(secret);
	return (int)n;
}
