/* smtpsh --practice: the practice server in a child process, and the shell's side of it. */
#include "smtpsh/practice.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "smtpsh/oauthd.h"

#define CONTROL_TIMEOUT_MS 5000
#define STOP_WAIT_MS 3000

static volatile sig_atomic_t child_stop;

static void on_term(int sig)
{
	(void)sig;
	child_stop = 1;
}

static bool kept(int fd, const int *keep, size_t nkeep)
{
	for (size_t i = 0; i < nkeep; i++)
		if (keep[i] == fd)
			return true;
	return false;
}

/* The child: no terminal, no Readline, no inherited descriptors but its own. */
static void child_main(struct practice_env *env, int control, pid_t parent,
		       const struct practice_options *o)
{
	setpgid(0, 0); /* Ctrl-C at the terminal is for the shell, not for us */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent) /* the shell died before prctl */
		_exit(0);
	struct sigaction sa = {0};
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTSTP, SIG_IGN);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	int log = open(env->logfile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (null >= 0)
		dup2(null, STDIN_FILENO);
	dup2(log >= 0 ? log : null, STDOUT_FILENO);
	dup2(log >= 0 ? log : null, STDERR_FILENO);
	int keep[PRACTICE_LISTEN_MAX + 2];
	size_t nkeep = 0;
	for (size_t i = 0; i < env->nfds; i++)
		keep[nkeep++] = env->fds[i];
	keep[nkeep++] = control;
	keep[nkeep++] = env->oauth_fd;
	for (int fd = 3; fd < 1024; fd++)
		if (!kept(fd, keep, nkeep))
			close(fd);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("*  practice server pid %ld on %s port %u\n", (long)getpid(), env->addrs[0],
	       env->port);
	struct practice_loop loop = {
	    .env = env,
	    .out = stdout,
	    .show_body = true,
	    .control_in = control,
	    .control_out = control,
	    .stop = &child_stop,
	};
	practice_loop_config(&loop, o);
	/* the sign-in server for XOAUTH2 and OAUTHBEARER, a thread of this process */
	struct oauthd_hooks hooks;
	char oerr[256];
	struct oauthd_server *od =
	    oauthd_server_start(env->oauth_fd, env->oauth_host, env->oauth_port, env->ssl,
				env->user, stdout, &hooks, oerr, sizeof oerr);
	env->oauth_fd = -1;
	if (od)
		loop.cfg.oauth = &hooks;
	else
		printf("*  no sign-in server (XOAUTH2 not offered): %s\n", oerr);
	int r = practice_loop_run(&loop);
	oauthd_server_stop(od);
	printf("*  practice server stops\n");
	fflush(stdout);
	practice_env_cleanup(env); /* the folder goes with the server that used it */
	_exit(r == 0 ? 0 : 1);	   /* a forked child: no atexit handlers of the shell */
}

struct practice *practice_start(const struct practice_options *o, char *err, size_t errlen)
{
	struct practice *p = calloc(1, sizeof *p);
	if (!p) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->control = -1;
	if (practice_env_setup(&p->env, o, err, errlen) < 0) {
		free(p);
		return NULL;
	}
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		practice_env_cleanup(&p->env);
		free(p);
		return NULL;
	}
	fflush(stdout);
	fflush(stderr);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		practice_env_cleanup(&p->env);
		free(p);
		return NULL;
	}
	if (pid == 0) {
		close(sv[0]);
		child_main(&p->env, sv[1], parent, o);
	}
	close(sv[1]);
	p->pid = pid;
	p->control = sv[0];
	snprintf(p->port, sizeof p->port, "%u", p->env.port);
	p->like = o->like;
	/* The child serves; the shell keeps only the paths and the login. */
	for (size_t i = 0; i < p->env.nfds; i++)
		close(p->env.fds[i]);
	p->env.nfds = 0;
	if (p->env.oauth_fd >= 0)
		close(p->env.oauth_fd);
	p->env.oauth_fd = -1;
	SSL_CTX_free(p->env.ssl);
	p->env.ssl = NULL;
	return p;
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

int practice_control(struct practice *p, const char *line, struct buf *reply)
{
	buf_reset(reply);
	if (p->control < 0) {
		buf_puts(reply, "the practice server is not running");
		return -1;
	}
	struct buf req;
	buf_init(&req);
	buf_printf(&req, "%s\n", line);
	int w = req.data ? write_all(p->control, req.data, req.len) : -1;
	buf_free(&req);
	if (w < 0) {
		buf_puts(reply, "the practice server is not running (it exited)");
		return -1;
	}
	struct buf in;
	buf_init(&in);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int result = -1;
	for (;;) {
		char *nl;
		while (in.len && (nl = memchr(in.data, '\n', in.len))) {
			*nl = '\0';
			const char *l = in.data;
			if (strncmp(l, "- ", 2) == 0) {
				buf_printf(reply, "%s%s", reply->len ? "\n" : "", l + 2);
			} else if (strncmp(l, "ok", 2) == 0 || strncmp(l, "error", 5) == 0) {
				result = l[0] == 'o' ? 0 : 1;
				const char *text = l + (result ? 5 : 2);
				text += *text == ' ';
				if (*text)
					buf_printf(reply, "%s%s", reply->len ? "\n" : "", text);
				buf_free(&in);
				return result;
			}
			buf_consume(&in, (size_t)(nl - in.data) + 1);
		}
		struct timespec t;
		clock_gettime(CLOCK_MONOTONIC, &t);
		long left = CONTROL_TIMEOUT_MS -
			    ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
		struct pollfd pfd = {.fd = p->control, .events = POLLIN};
		int r = left > 0 ? poll(&pfd, 1, (int)left) : 0;
		if (r < 0 && errno == EINTR)
			continue;
		char chunk[1024];
		ssize_t n = r > 0 ? read(p->control, chunk, sizeof chunk) : -1;
		if (n <= 0) {
			buf_reset(reply);
			buf_puts(reply, r == 0 ? "the practice server does not answer"
					       : "the practice server is not running (it exited)");
			break;
		}
		buf_append(&in, chunk, (size_t)n);
	}
	buf_free(&in);
	return result;
}

void practice_stop(struct practice *p)
{
	if (!p)
		return;
	if (p->control >= 0) {
		close(p->control); /* the server sees the end of its control channel and stops */
		p->control = -1;
	}
	if (p->pid > 0) {
		int waited = 0, status;
		while (waitpid(p->pid, &status, WNOHANG) == 0) {
			if (waited == STOP_WAIT_MS)
				kill(p->pid, SIGTERM);
			if (waited == STOP_WAIT_MS + 1000)
				kill(p->pid, SIGKILL);
			struct timespec ts = {0, 10 * 1000000};
			nanosleep(&ts, NULL);
			waited += 10;
		}
		p->pid = 0;
	}
	practice_env_cleanup(&p->env); /* in case the server could not remove it itself */
	free(p);
}
