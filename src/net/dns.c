/*
 * The resolver: one libunbound context per struct dns_ctx, validating DNSSEC from its own
 * trust anchor (RFC 4033-4035), asynchronous. libunbound runs the queries in a thread of
 * its own (ub_ctx_async(ctx, 1): no forked helper process inside an interactive shell) and
 * signals finished queries on ub_fd(); ub_process() then calls our callback in this thread,
 * so answers are only ever written from the caller's thread.
 *
 * libunbound has no per-query timeout: the deadline is ours (dns_wait), and what is still
 * pending then is cancelled with ub_cancel() and answered as a timeout.
 */
#include "smtpsh/dns.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <unbound.h>

/* One submitted query: where its answer goes. Kept in a list so that a timeout or
   dns_free can cancel it and still answer it. */
struct dns_pending {
	struct dns_ctx *ctx;
	struct dns_answer *ans;
	bool *done;
	int async_id;
	char *name;
	int type;
	struct dns_pending *next, **prevp;
};

struct dns_ctx {
	struct ub_ctx *ub;
	FILE *log; /* /dev/null: libunbound's own messages must not reach the terminal */
	struct dns_pending *pending;
	size_t npending;
};

long long dns_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "ADDR@PORT" as libunbound wants it; a bracketed IPv6 "[::1]:53" is also taken. */
static int forwarder_spec(const char *in, struct buf *out, struct buf *err)
{
	buf_reset(out);
	if (in[0] == '[') {
		const char *close = strchr(in, ']');
		if (!close || (close[1] && close[1] != ':' && close[1] != '@'))
			return buf_printf(err, "bad resolver address \"%s\"", in), -1;
		buf_append(out, in + 1, (size_t)(close - in - 1));
		if (close[1])
			buf_printf(out, "@%s", close + 2);
	} else {
		buf_puts(out, in);
	}
	const char *at = strchr(out->data ? out->data : "", '@');
	if (at) {
		char *end;
		long port = strtol(at + 1, &end, 10);
		if (at[1] == '\0' || *end || port < 1 || port > 65535)
			return buf_printf(err, "bad resolver port in \"%s\"", in), -1;
	}
	return out->len ? 0 : -1;
}

struct dns_ctx *dns_new(const struct dns_params *p, struct buf *err)
{
	struct dns_ctx *ctx = calloc(1, sizeof *ctx);
	if (!ctx) {
		buf_puts(err, "out of memory");
		return NULL;
	}
	ctx->ub = ub_ctx_create();
	if (!ctx->ub) {
		buf_puts(err, "cannot create the DNS resolver (libunbound)");
		free(ctx);
		return NULL;
	}
	/* Below the session nothing prints: libunbound logs errors (a broken trust anchor,
	   validation failures) to stderr unless given another stream. */
	ctx->log = fopen("/dev/null", "we");
	if (ctx->log)
		ub_ctx_debugout(ctx->ub, ctx->log);
	int r = ub_ctx_async(ctx->ub, 1);
	if (r == 0 && p && p->resolver) {
		struct buf fwd;
		buf_init(&fwd);
		if (forwarder_spec(p->resolver, &fwd, err) < 0) {
			buf_free(&fwd);
			dns_free(ctx);
			return NULL;
		}
		r = ub_ctx_set_fwd(ctx->ub, fwd.data);
		if (r != 0)
			buf_printf(err, "resolver %s: %s", p->resolver, ub_strerror(r));
		buf_free(&fwd);
	} else if (r == 0) {
		r = ub_ctx_resolvconf(ctx->ub, NULL);
		if (r != 0)
			buf_printf(err, "cannot read the system's resolvers (/etc/resolv.conf): %s",
				   ub_strerror(r));
	}
	if (r == 0) {
		const char *ta = p && p->trust_anchor ? p->trust_anchor : DNS_DEFAULT_TRUST_ANCHOR;
		/* libunbound reads the file only at the first query, and then says no more than
		   "initialization failure": check here that it can be read at all */
		FILE *f = fopen(ta, "re");
		if (!f) {
			buf_printf(err, "cannot read the DNSSEC trust anchor %s: %s", ta,
				   strerror(errno));
			r = UB_READFILE;
		} else {
			fclose(f);
			r = ub_ctx_add_ta_file(ctx->ub, ta);
			if (r != 0)
				buf_printf(err, "cannot load the DNSSEC trust anchor %s: %s", ta,
					   ub_strerror(r));
		}
	}
	if (r != 0) {
		dns_free(ctx);
		return NULL;
	}
	return ctx;
}

/* libunbound's error text, with the likely cause of the least helpful one. */
static const char *ub_error(int err)
{
	if (err == UB_INITFAIL)
		return "the resolver could not start (is the trust anchor file a zone file of DS "
		       "or DNSKEY records?)";
	return ub_strerror(err);
}

static void answer_fail(struct dns_answer *a, enum dns_status st, const char *why)
{
	a->status = st;
	free(a->error);
	a->error = strdup(why);
}

/* Unlinks p and frees it; the answer is left as it is. */
static void pending_drop(struct dns_pending *p)
{
	*p->prevp = p->next;
	if (p->next)
		p->next->prevp = p->prevp;
	p->ctx->npending--;
	free(p->name);
	free(p);
}

/* Copies what we need out of libunbound's result (hostile data: counts and lengths are
   bounded here, the parsers check the bytes). */
static void fill_answer(struct dns_answer *a, const struct ub_result *res)
{
	a->rcode = res->rcode;
	if (res->secure)
		a->sec = DNS_SEC_SECURE;
	else if (res->bogus)
		a->sec = DNS_SEC_BOGUS;
	else if (res->rcode == 2)
		a->sec = DNS_SEC_INDETERMINATE; /* SERVFAIL: nothing was validated */
	else
		a->sec = DNS_SEC_INSECURE;
	if (res->bogus && res->why_bogus)
		a->why_bogus = strndup(res->why_bogus, 512);
	if (a->sec == DNS_SEC_BOGUS) {
		/* libunbound hands out the records (and the CNAME target) of a bogus answer too.
		   Nobody may use them (an address or TLSA record an attacker forged): like a
		   validating resolver we answer SERVFAIL and keep only why_bogus. */
		a->status = DNS_SERVFAIL;
		a->rcode = 2;
		return;
	}
	if (res->canonname && res->qname && strcasecmp(res->canonname, res->qname) != 0) {
		/* libunbound writes names with a trailing dot; qname is as we asked */
		size_t cl = strnlen(res->canonname, DNS_NAME_TEXT_MAX);
		size_t ql = strlen(res->qname);
		if (!(cl == ql + 1 && res->canonname[ql] == '.' &&
		      strncasecmp(res->canonname, res->qname, ql) == 0))
			a->canonname = strndup(res->canonname, DNS_NAME_TEXT_MAX);
	}
	if (a->canonname) {
		size_t l = strlen(a->canonname);
		if (l > 1 && a->canonname[l - 1] == '.')
			a->canonname[l - 1] = '\0';
	}
	if (res->rcode == 3 || res->nxdomain) {
		a->status = DNS_NXDOMAIN;
	} else if (res->rcode == 2) {
		a->status = DNS_SERVFAIL;
	} else if (res->rcode != 0) {
		a->status = DNS_REFUSED;
	} else if (!res->havedata) {
		a->status = DNS_NODATA;
	} else {
		a->status = DNS_OK;
	}
	if (a->status != DNS_OK || !res->data)
		return;
	size_t n = 0;
	while (res->data[n])
		n++;
	if (n > DNS_RRS_MAX) {
		n = DNS_RRS_MAX;
		a->truncated = true;
	}
	a->rr = calloc(n ? n : 1, sizeof *a->rr);
	if (!a->rr) {
		answer_fail(a, DNS_ERROR, "out of memory");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		size_t len = res->len[i] > 0 ? (size_t)res->len[i] : 0;
		a->rr[a->n].data = malloc(len ? len : 1);
		if (!a->rr[a->n].data) {
			answer_fail(a, DNS_ERROR, "out of memory");
			return;
		}
		memcpy(a->rr[a->n].data, res->data[i], len);
		a->rr[a->n].len = len;
		a->n++;
	}
}

static void on_result(void *arg, int err, struct ub_result *res)
{
	struct dns_pending *p = arg;
	struct dns_answer *a = p->ans;
	if (err == UB_INITFAIL)
		answer_fail(a, DNS_ERROR,
			    "the resolver could not start (is the trust anchor file "
			    "a zone file of DS or DNSKEY records?)");
	else if (err != 0)
		answer_fail(a, DNS_ERROR, ub_strerror(err));
	else if (!res)
		answer_fail(a, DNS_ERROR, "no result from the resolver");
	else
		fill_answer(a, res);
	if (res)
		ub_resolve_free(res);
	*p->done = true;
	pending_drop(p);
}

int dns_submit(struct dns_ctx *ctx, const char *name, int type, struct dns_answer *ans, bool *done)
{
	dns_answer_init(ans);
	*done = false;
	ans->qname = strdup(name);
	ans->qtype = type;
	struct dns_pending *p = calloc(1, sizeof *p);
	if (!ans->qname || !p || !(p->name = strdup(name))) {
		free(p);
		answer_fail(ans, DNS_ERROR, "out of memory");
		*done = true;
		return -1;
	}
	p->ctx = ctx;
	p->ans = ans;
	p->done = done;
	p->type = type;
	p->next = ctx->pending;
	if (p->next)
		p->next->prevp = &p->next;
	p->prevp = &ctx->pending;
	ctx->pending = p;
	ctx->npending++;
	int r = ub_resolve_async(ctx->ub, name, type, 1 /* IN */, p, on_result, &p->async_id);
	if (r != 0) {
		answer_fail(ans, DNS_ERROR, ub_error(r));
		*done = true;
		pending_drop(p);
		return -1;
	}
	return 0;
}

int dns_fd(struct dns_ctx *ctx)
{
	return ub_fd(ctx->ub);
}

int dns_process(struct dns_ctx *ctx)
{
	return ub_process(ctx->ub) == 0 ? 0 : -1;
}

size_t dns_pending(const struct dns_ctx *ctx)
{
	return ctx->npending;
}

static void cancel_all(struct dns_ctx *ctx, enum dns_status st, const char *reason)
{
	while (ctx->pending) {
		struct dns_pending *p = ctx->pending;
		ub_cancel(ctx->ub, p->async_id);
		answer_fail(p->ans, st, reason);
		*p->done = true;
		pending_drop(p);
	}
}

void dns_cancel_all(struct dns_ctx *ctx, const char *reason)
{
	cancel_all(ctx, DNS_TIMEOUT, reason);
}

void dns_cancel(struct dns_ctx *ctx, struct dns_answer *ans, const char *reason)
{
	for (struct dns_pending *p = ctx->pending; p; p = p->next) {
		if (p->ans == ans) {
			ub_cancel(ctx->ub, p->async_id);
			answer_fail(p->ans, DNS_TIMEOUT, reason);
			*p->done = true;
			pending_drop(p);
			return;
		}
	}
}

int dns_wait(struct dns_ctx *ctx, long long deadline_ms)
{
	int fd = ub_fd(ctx->ub);
	while (ctx->npending > 0) {
		long long left = deadline_ms - dns_now_ms();
		if (left <= 0) {
			dns_cancel_all(ctx, "no answer before the timeout");
			return 1;
		}
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int r = poll(&pfd, 1, left > 1000000 ? 1000000 : (int)left);
		if ((r < 0 && errno != EINTR) || (r > 0 && ub_process(ctx->ub) != 0)) {
			cancel_all(ctx, DNS_ERROR, "the resolver failed");
			return -1;
		}
	}
	return 0;
}

int dns_query(struct dns_ctx *ctx, const char *name, int type, int timeout_ms,
	      struct dns_answer *ans)
{
	bool done;
	if (dns_submit(ctx, name, type, ans, &done) < 0)
		return -1;
	return dns_wait(ctx, dns_now_ms() + timeout_ms) < 0 ? -1 : 0;
}

void dns_free(struct dns_ctx *ctx)
{
	if (!ctx)
		return;
	if (ctx->ub)
		dns_cancel_all(ctx, "resolver closed");
	if (ctx->ub)
		ub_ctx_delete(ctx->ub);
	if (ctx->log)
		fclose(ctx->log);
	free(ctx);
}
