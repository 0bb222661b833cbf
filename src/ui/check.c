/*
 * --check: the engine (a probe: one connection with its evidence; jobs run in parallel in
 * processes of their own), the report and its two forms (text grouped by area, JSON). The
 * checks themselves and their registry are in check_probes.c; both share check_int.h.
 */
#include "smtpsh/check.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_int.h"
#include "config.h"
#include "smtpsh/render.h"

enum check_role check_role_for_port(const char *port)
{
	if (port && (strcmp(port, "587") == 0 || strcmp(port, "465") == 0))
		return CHECK_ROLE_SUBMISSION;
	return CHECK_ROLE_MX;
}

const char *check_role_name(enum check_role r)
{
	return r == CHECK_ROLE_SUBMISSION ? "submission" : "mx";
}

const char *check_verdict_name(enum check_verdict v)
{
	static const char *const names[] = {"pass", "warn", "fail", "info", "undecided", "skipped"};
	return names[v];
}

/* ---- a probe: one connection, its events kept as the screen shows them ------------------ */

/* The screen's renderer, but for the session's own --insecure warning: --check goes on
   through any certificate on purpose (the certificate is judged by its own findings), and a
   warning about an option the user did not give would only mislead. */
static void probe_render(const struct session_event *ev, void *arg)
{
	if (ev->type == SEV_WARNING && ev->text && strncmp(ev->text, "--insecure", 10) == 0)
		return;
	render_event(ev, arg);
}

static void probe_listener(const struct session_event *ev, void *arg)
{
	struct probe *p = arg;
	if (ev->type == SEV_RECEIVED) {
		if (ev->verb && strcmp(ev->verb, "greeting") == 0 && ev->last) {
			p->greet_ms = ev->elapsed_ms;
			buf_reset(&p->banner);
			buf_append(&p->banner, ev->text, ev->len > 200 ? 200 : ev->len);
		}
		if (ev->tls && ev->unsolicited)
			p->tls_unsolicited++;
		if (ev->last && p->counting && p->nreplies < PROBE_REPLIES_MAX)
			p->replies[p->nreplies++] = ev->code;
		else if (ev->last && p->counting)
			p->nreplies++;
	} else if (ev->type == SEV_WARNING && ev->text && strncmp(ev->text, "discarded", 9) == 0) {
		p->discarded = true;
	} else if (ev->type == SEV_INFO && ev->text && strncmp(ev->text, "connected", 9) == 0) {
		p->x->report->connected = true; /* a connection was made, whatever follows */
	} else if (ev->type == SEV_CLOSED) {
		p->closed = true;
	}
}

static enum session_status probe_start(struct probe *p, struct check_ctx *x, enum tls_mode mode,
				       bool ocsp, const struct tls_controls *ctl,
				       const struct session_mx *mx);

enum session_status probe_open(struct probe *p, struct check_ctx *x, enum tls_mode mode, bool ocsp)
{
	return probe_start(p, x, mode, ocsp, NULL, NULL);
}

enum session_status probe_open_tls(struct probe *p, struct check_ctx *x, enum tls_mode mode,
				   const struct tls_controls *ctl)
{
	return probe_start(p, x, mode, false, ctl, NULL);
}

enum session_status probe_open_mx(struct probe *p, struct check_ctx *x, const struct session_mx *mx,
				  enum tls_mode mode)
{
	return probe_start(p, x, mode, false, NULL, mx);
}

static enum session_status probe_start(struct probe *p, struct check_ctx *x, enum tls_mode mode,
				       bool ocsp, const struct tls_controls *ctl,
				       const struct session_mx *mx)
{
	memset(p, 0, sizeof *p);
	p->x = x;
	p->greet_ms = -1;
	buf_init(&p->banner);
	p->mem = open_memstream(&p->memdata, &p->memlen);
	if (!p->mem)
		return SESSION_ERR_LOCAL;
	render_init(&p->render, p->mem, p->mem, false);
	struct session_params sp = {
	    .cafile = x->o->cafile,
	    .insecure = true, /* the certificate is judged by its own checks, not a stop */
	    .timeout_ms = x->o->timeout_ms,
	    .family = x->o->family,
	    .ehlo_name = x->o->ehlo_name,
	    .body_echo_max = 20,
	};
	p->s = session_new(&sp);
	if (!p->s)
		return SESSION_ERR_LOCAL;
	session_add_listener(p->s, probe_render, &p->render);
	session_add_listener(p->s, probe_listener, p);
	if (x->o->intr)
		session_set_interrupt(p->s, x->o->intr);
	if (ocsp || ctl || x->o->sni) {
		/* --check --mx: the address is connected to, the MX host is the name TLS checks */
		struct session_link link = {.ocsp = ocsp, .sni = x->o->sni};
		if (ctl)
			link.tls = *ctl;
		if (session_set_link(p->s, &link) < 0) {
			snprintf(p->why, sizeof p->why, "%s", session_error(p->s));
			return SESSION_ERR_LOCAL;
		}
	}
	if (mx)
		return session_connect_mx(p->s, mx, x->o->port, mode);
	return session_connect(p->s, x->o->host, x->o->port, mode);
}

enum session_status probe_cmd(struct probe *p, const char *line, struct smtp_reply *reply)
{
	return session_command(p->s, line, NULL, reply);
}

enum session_status probe_ehlo(struct probe *p)
{
	if (session_caps(p->s)->known)
		return SESSION_OK;
	char line[300];
	snprintf(line, sizeof line, "%s %s", session_hello_verb(p->s), p->x->o->ehlo_name);
	struct smtp_reply r;
	smtp_reply_init(&r);
	enum session_status st = probe_cmd(p, line, &r);
	if (st == SESSION_OK && (r.code < 200 || r.code > 299)) {
		snprintf(p->why, sizeof p->why, "EHLO refused (%d)", r.code);
		st = SESSION_ERR_STATE;
	}
	smtp_reply_free(&r);
	return st;
}

/* Waits up to ms for what the server sends unasked (shown as it comes). */
void probe_listen(struct probe *p, int ms)
{
	long long end = conn_now_ms() + ms;
	for (;;) {
		long long now = conn_now_ms();
		int fd = session_fd(p->s);
		if (fd < 0 || now >= end)
			return;
		if (!session_has_buffered(p->s)) {
			struct pollfd pfd = {.fd = fd, .events = POLLIN};
			if (poll(&pfd, 1, (int)(end - now)) <= 0)
				return;
		}
		if (session_poll(p->s) != SESSION_OK)
			return;
	}
}

size_t probe_mark(struct probe *p)
{
	if (!p->mem)
		return 0;
	fflush(p->mem);
	p->mark = p->memlen;
	return p->mark;
}

static void evidence_of(struct probe *p, struct buf *out)
{
	if (!p->mem)
		return;
	fflush(p->mem);
	if (p->mark > p->memlen)
		return;
	const char *line = p->memdata + p->mark;
	size_t left = p->memlen - p->mark;
	if (!p->grep) {
		buf_append(out, line, left);
		return;
	}
	while (left) { /* only the lines that hold p->grep (and the connection's first) */
		const char *nl = memchr(line, '\n', left);
		size_t len = nl ? (size_t)(nl - line) + 1 : left;
		if (memmem(line, len, p->grep, strlen(p->grep)))
			buf_append(out, line, len);
		left -= len;
		line += len;
	}
}

struct check_result *check_add(struct check_ctx *x, const char *area, const char *name,
			       const char *sends, enum check_verdict v, const char *fmt, ...)
{
	struct check_report *r = x->report;
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 32;
		struct check_result *n = realloc(r->items, cap * sizeof *n);
		if (!n)
			return NULL;
		r->items = n;
		r->cap = cap;
	}
	struct check_result *c = &r->items[r->n++];
	memset(c, 0, sizeof *c);
	c->area = area;
	c->name = name;
	c->sends = sends;
	c->verdict = v;
	buf_init(&c->evidence);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof c->why, fmt, ap);
	va_end(ap);
	return c;
}

void probe_verdict(struct probe *p, const char *area, const char *name, const char *sends,
		   enum check_verdict v, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	probe_vverdict(p, area, name, sends, v, fmt, ap);
	va_end(ap);
}

void probe_vverdict(struct probe *p, const char *area, const char *name, const char *sends,
		    enum check_verdict v, const char *fmt, va_list ap)
{
	char why[512];
	vsnprintf(why, sizeof why, fmt, ap);
	struct check_result *c = check_add(p->x, area, name, sends, v, "%s", why);
	if (c)
		evidence_of(p, &c->evidence);
}

void probe_undecided(struct probe *p, const char *area, const char *name, const char *sends,
		     enum session_status st)
{
	const char *err = p->why[0] ? p->why : p->s ? session_error(p->s) : "out of memory";
	if (st == SESSION_OK && !p->why[0])
		err = "no usable answer";
	probe_verdict(p, area, name, sends, CHECK_UNDECIDED, "could not be decided: %s", err);
}

void probe_close(struct probe *p)
{
	if (p->s) {
		if (session_connected(p->s) && !session_reply_pending(p->s) &&
		    session_phase(p->s) != PHASE_DATA && !session_bdat_open(p->s))
			session_command(p->s, "QUIT", NULL, NULL);
		session_free(p->s);
	}
	render_free(&p->render);
	if (p->mem)
		fclose(p->mem);
	free(p->memdata);
	buf_free(&p->banner);
	memset(p, 0, sizeof *p);
}

/* ---- running jobs in parallel (check_int.h) ------------------------------------------------ */

/*
 * What a child sends back: per finding a header and the evidence's bytes, then the end. The
 * area, name and sends strings are the registry's literals: a forked child has the same image
 * at the same addresses, so the pointers hold in the parent.
 */
struct wire_finding {
	const char *area, *name, *sends;
	int verdict;
	char why[512];
	size_t evidence_len;
};

/* The findings of r in wire form, after the "connected" byte, appended to out. */
static void wire_append(struct buf *out, const struct check_report *r)
{
	unsigned char connected = r->connected;
	buf_append(out, &connected, 1);
	for (size_t i = 0; i < r->n; i++) {
		const struct check_result *c = &r->items[i];
		/* every byte defined, padding too: the struct goes down the pipe whole */
		struct wire_finding w;
		memset(&w, 0, sizeof w);
		w.area = c->area;
		w.name = c->name;
		w.sends = c->sends;
		w.verdict = (int)c->verdict;
		w.evidence_len = c->evidence.len;
		snprintf(w.why, sizeof w.why, "%s", c->why);
		buf_append(out, &w, sizeof w);
		buf_append(out, c->evidence.data, c->evidence.len);
	}
}

static void child_report(int fd, const struct check_report *r)
{
	struct buf out;
	buf_init(&out);
	wire_append(&out, r);
	for (size_t off = 0; off < out.len;) {
		ssize_t k = write(fd, out.data + off, out.len - off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		off += (size_t)k;
	}
	buf_free(&out);
}

/* Adds what a child sent (in) to the report; a child that died early sent less: what is
   missing is said as an undecided finding. */
static void parent_collect(struct check_ctx *x, const struct buf *in, int status)
{
	size_t off = 0;
	if (in->len >= 1) {
		if (in->data[0])
			x->report->connected = true;
		off = 1;
	}
	while (off + sizeof(struct wire_finding) <= in->len) {
		struct wire_finding w;
		memcpy(&w, in->data + off, sizeof w);
		off += sizeof w;
		if (w.evidence_len > in->len - off)
			break;
		w.why[sizeof w.why - 1] = '\0';
		struct check_result *c = check_add(x, w.area, w.name, w.sends,
						   (enum check_verdict)w.verdict, "%s", w.why);
		if (c)
			buf_append(&c->evidence, in->data + off, w.evidence_len);
		off += w.evidence_len;
	}
	if (off != in->len || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		check_add(x, "connection", "check-process", "", CHECK_UNDECIDED,
			  "could not be decided: a check's process ended abnormally (status %d)",
			  status);
}

struct running {
	pid_t pid;
	int fd;
	struct buf in;
	size_t job;
	bool done;
	int status;
};

void check_run_parallel(struct check_ctx *x, const struct check_job *jobs, size_t n)
{
	struct running *r = calloc(n ? n : 1, sizeof *r);
	if (!r) {
		for (size_t i = 0; i < n; i++)
			jobs[i].run(x, jobs[i].arg);
		return;
	}
	size_t next = 0, active = 0, collected = 0;
	fflush(NULL); /* nothing buffered may be written twice */
	while (collected < n) {
		while (active < CHECK_PARALLEL_MAX && next < n && !(x->o->intr && *x->o->intr)) {
			struct running *j = &r[next];
			j->job = next++;
			buf_init(&j->in);
			int p[2];
			if (pipe(p) < 0 || (j->pid = fork()) < 0) {
				/* no process: the job runs here, its findings kept for its turn */
				struct check_report own = {0};
				struct check_ctx sub = *x;
				sub.report = &own;
				jobs[j->job].run(&sub, jobs[j->job].arg);
				if (own.n)
					wire_append(&j->in, &own);
				check_report_free(&own);
				j->fd = -1;
				j->pid = -1;
				j->done = true;
				collected++;
				continue;
			}
			if (j->pid == 0) {
				/* the shell's stdin is not the check's: its file offset is shared,
				   and an exit that syncs stdio (valgrind's freeres) would move it */
				int null = open("/dev/null", O_RDONLY);
				if (null >= 0)
					dup2(null, 0);
				close(p[0]);
				struct check_report own = {0};
				struct check_ctx sub = *x;
				sub.report = &own;
				jobs[j->job].run(&sub, jobs[j->job].arg);
				child_report(p[1], &own);
				_exit(0);
			}
			close(p[1]);
			j->fd = p[0];
			active++;
		}
		if (!active) {
			if (next < n) /* interrupted: the jobs not started are not run */
				collected = n;
			break;
		}
		struct pollfd pfd[CHECK_PARALLEL_MAX];
		size_t which[CHECK_PARALLEL_MAX], np = 0;
		for (size_t i = 0; i < next; i++)
			if (r[i].fd >= 0 && !r[i].done && np < CHECK_PARALLEL_MAX) {
				pfd[np] = (struct pollfd){.fd = r[i].fd, .events = POLLIN};
				which[np++] = i;
			}
		if (poll(pfd, np, -1) < 0 && errno != EINTR)
			break;
		for (size_t k = 0; k < np; k++) {
			if (!(pfd[k].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			struct running *j = &r[which[k]];
			char chunk[16384];
			ssize_t got = read(j->fd, chunk, sizeof chunk);
			if (got < 0 && errno == EINTR)
				continue;
			if (got > 0) {
				buf_append(&j->in, chunk, (size_t)got);
				continue;
			}
			close(j->fd);
			j->fd = -1;
			while (waitpid(j->pid, &j->status, 0) < 0 && errno == EINTR)
				;
			j->done = true;
			active--;
			collected++;
		}
	}
	for (size_t i = 0; i < next; i++) {
		if (r[i].fd >= 0) { /* only after a failed poll */
			close(r[i].fd);
			waitpid(r[i].pid, &r[i].status, 0);
		}
		if (r[i].done || r[i].pid > 0)
			parent_collect(x, &r[i].in, r[i].pid < 0 ? 0 : r[i].status);
		buf_free(&r[i].in);
	}
	free(r);
}

/* ---- the run and the report -------------------------------------------------------------- */

void check_run(const struct check_options *o, struct check_report *r)
{
	memset(r, 0, sizeof *r);
	struct check_ctx x = {.o = o, .report = r};
	long long t0 = conn_now_ms();
	check_probes_run(&x);
	r->elapsed_ms = (long)(conn_now_ms() - t0);
}

void check_report_free(struct check_report *r)
{
	for (size_t i = 0; i < r->n; i++)
		buf_free(&r->items[i].evidence);
	free(r->items);
	memset(r, 0, sizeof *r);
}

int check_exit_status(const struct check_report *r)
{
	if (!r->connected)
		return 3;
	for (size_t i = 0; i < r->n; i++)
		if (r->items[i].verdict == CHECK_FAIL || r->items[i].verdict == CHECK_UNDECIDED)
			return 1;
	return 0;
}

void check_print_plan(FILE *f, const struct check_options *o)
{
	fprintf(f,
		"*  checking %s port %s as %s%s: at most %d connections at once; nothing is sent "
		"but what follows\n",
		o->host, o->port ? o->port : "25", check_role_name(o->role),
		o->implicit_tls ? " (implicit TLS)" : "", CHECK_PARALLEL_MAX);
	size_t n;
	const struct check_def *defs = check_defs(&n);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "*    %-10s %s: %s\n", defs[i].area, defs[i].names, defs[i].sends);
	if (o->check_rcpt)
		fprintf(f,
			"*  messages go to %s only (one per smuggling variant, two in BDAT chunks "
			"when CHUNKING is offered, each marked in the Subject)\n",
			o->check_rcpt);
	else
		fputs("*  no message is sent (the smuggling and CHUNKING checks need --check-rcpt "
		      "ADDRESS)\n",
		      f);
	fflush(f);
}

static const char *const areas[] = {"route", "connection", "smtp",  "tls",
				    "auth",  "relay",	   "users", "smuggling"};

static const char *verdict_tag(enum check_verdict v)
{
	static const char *const tags[] = {"PASS", "WARN", "FAIL", "INFO", "UNDECIDED", "SKIPPED"};
	return tags[v];
}

void check_print_text(FILE *f, const struct check_options *o, const struct check_report *r)
{
	if (o->sni)
		fprintf(f, "smtpsh --check %s (%s) port %s (%s)\n", o->sni, o->host,
			o->port ? o->port : "25", check_role_name(o->role));
	else
		fprintf(f, "smtpsh --check %s port %s (%s)\n", o->host, o->port ? o->port : "25",
			check_role_name(o->role));
	check_print_findings(f, r);
	if (!r->connected)
		fprintf(f, "no connection could be made to %s\n", o->host);
}

void check_print_findings(FILE *f, const struct check_report *r)
{
	for (size_t a = 0; a < sizeof areas / sizeof *areas; a++) {
		bool header = false;
		for (size_t i = 0; i < r->n; i++) {
			const struct check_result *c = &r->items[i];
			if (strcmp(c->area, areas[a]) != 0)
				continue;
			if (!header) {
				fprintf(f, "\n== %s\n", areas[a]);
				header = true;
			}
			fprintf(f, "%-9s %s: %s\n", verdict_tag(c->verdict), c->name, c->why);
			const char *line = c->evidence.data;
			size_t left = c->evidence.len;
			while (left) {
				const char *nl = memchr(line, '\n', left);
				size_t len = nl ? (size_t)(nl - line) : left;
				fprintf(f, "          | %.*s\n", (int)len, line);
				if (!nl)
					break;
				left -= len + 1;
				line = nl + 1;
			}
		}
	}
	size_t count[CHECK_SKIPPED + 1] = {0};
	for (size_t i = 0; i < r->n; i++)
		count[r->items[i].verdict]++;
	fprintf(f,
		"\n%zu pass, %zu warn, %zu fail, %zu info, %zu undecided, %zu skipped in %ld ms\n",
		count[CHECK_PASS], count[CHECK_WARN], count[CHECK_FAIL], count[CHECK_INFO],
		count[CHECK_UNDECIDED], count[CHECK_SKIPPED], r->elapsed_ms);
}

/* A JSON string: quotes, backslash and every byte outside printable ASCII escaped (the
   evidence is escaped for the screen already; this keeps the JSON valid whatever came). */
static void json_str(FILE *f, const char *s, size_t len)
{
	fputc('"', f);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void json_cstr(FILE *f, const char *s)
{
	if (s)
		json_str(f, s, strlen(s));
	else
		fputs("null", f);
}

void check_print_json(FILE *f, const struct check_options *o, const struct check_report *r)
{
	fputs("{\"tool\":\"smtpsh\",\"version\":", f);
	json_cstr(f, SMTPSH_VERSION);
	fputs(",\"schema\":1,", f);
	check_print_json_fields(f, o, r);
	fputs("}\n", f);
}

void check_json_string(FILE *f, const char *s)
{
	json_cstr(f, s);
}

void check_print_json_fields(FILE *f, const struct check_options *o, const struct check_report *r)
{
	fputs("\"host\":", f);
	json_cstr(f, o->host);
	if (o->sni) {
		fputs(",\"name\":", f);
		json_cstr(f, o->sni);
	}
	fputs(",\"port\":", f);
	json_cstr(f, o->port ? o->port : "25");
	fputs(",\"role\":", f);
	json_cstr(f, check_role_name(o->role));
	fprintf(f, ",\"implicit_tls\":%s,\"connected\":%s,\"elapsed_ms\":%ld,\"exit\":%d",
		o->implicit_tls ? "true" : "false", r->connected ? "true" : "false", r->elapsed_ms,
		check_exit_status(r));
	size_t count[CHECK_SKIPPED + 1] = {0};
	for (size_t i = 0; i < r->n; i++)
		count[r->items[i].verdict]++;
	fputs(",\"summary\":{", f);
	for (int v = CHECK_PASS; v <= CHECK_SKIPPED; v++)
		fprintf(f, "%s\"%s\":%zu", v ? "," : "", check_verdict_name(v), count[v]);
	fputs("},", f);
	check_print_json_checks(f, r);
}

void check_print_json_checks(FILE *f, const struct check_report *r)
{
	fputs("\"checks\":[", f);
	for (size_t i = 0; i < r->n; i++) {
		const struct check_result *c = &r->items[i];
		fputs(i ? ",{" : "{", f);
		fputs("\"area\":", f);
		json_cstr(f, c->area);
		fputs(",\"name\":", f);
		json_cstr(f, c->name);
		fputs(",\"verdict\":", f);
		json_cstr(f, check_verdict_name(c->verdict));
		fputs(",\"why\":", f);
		json_cstr(f, c->why);
		fputs(",\"sends\":", f);
		json_cstr(f, c->sends);
		fputs(",\"evidence\":[", f);
		const char *line = c->evidence.data;
		size_t left = c->evidence.len;
		bool firstl = true;
		while (left) {
			const char *nl = memchr(line, '\n', left);
			size_t len = nl ? (size_t)(nl - line) : left;
			if (!firstl)
				fputc(',', f);
			json_str(f, line, len);
			firstl = false;
			if (!nl)
				break;
			left -= len + 1;
			line = nl + 1;
		}
		fputs("]}", f);
	}
	fputc(']', f);
}
