/*
 * MTA-STS discovery (RFC 8461 3 and 5): the TXT record says a policy exists and which
 * version (id); the cache keeps a fetched policy until max_age; the fetch is an HTTPS GET
 * with the limits of 3.3.
 */
#include "smtpsh/mtasts.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtpsh/dns.h"
#include "smtpsh/https.h"

void mtasts_result_free(struct mtasts_result *r)
{
	mtasts_cached_free(&r->policy);
	buf_free(&r->note);
	memset(r, 0, sizeof *r);
}

/* 3.1: the records that begin with v=STSv1; exactly one must remain and parse. */
static void read_txt(const struct dns_answer *a, struct mtasts_result *r)
{
	if (!a || a->status != DNS_OK) {
		buf_printf(&r->note, "no _mta-sts record (%s)",
			   a ? dns_status_name(a->status) : "not looked up");
		return;
	}
	struct buf recs[2];
	size_t n = dns_txt_matching(a, "v=STSv1", recs, 2);
	if (n != 1) {
		buf_puts(&r->note, n ? "several v=STSv1 records at _mta-sts: no policy (3.1)"
				     : "no v=STSv1 record at _mta-sts");
	} else if (mtasts_parse_txt(recs[0].data, recs[0].len, &r->txt, &r->note) == 0) {
		r->have_txt = true;
	}
	for (size_t i = 0; i < n; i++)
		buf_free(&recs[i]);
}

/* Starts the policy fetch of 3.3: https://mta-sts.DOMAIN/.well-known/mta-sts.txt. */
static struct https_req *fetch_start(struct dns_ctx *dns, const char *domain,
				     const struct mtasts_params *p)
{
	struct buf host;
	buf_init(&host);
	if (buf_printf(&host, "mta-sts.%s", domain) < 0)
		return NULL;
	const char *cafile = p->cafile ? p->cafile : getenv(MTASTS_CAFILE_ENV);
	struct https_params hp = {
	    .host = host.data,
	    .port = p->port,
	    .path = "/.well-known/mta-sts.txt",
	    .cafile = cafile && cafile[0] ? cafile : NULL,
	    .max_bytes = MTASTS_POLICY_MAX,
	    .timeout_ms = p->timeout_ms,
	    .dns = dns,
	};
	struct https_req *req = https_start(&hp);
	buf_free(&host);
	return req;
}

/* The fetched response as a policy body: 200 and text/plain (3.3). */
static int fetch_finish(struct https_req *req, const char *domain, struct buf *body,
			struct buf *err)
{
	struct https_result res;
	const char *path = "/.well-known/mta-sts.txt";
	int r = https_finish(req, &res, err);
	if (r == 0 && res.status != 200) {
		buf_printf(err, "https://mta-sts.%s%s: HTTP status %ld, not 200", domain, path,
			   res.status);
		r = -1;
	} else if (r == 0 && !(strncasecmp(res.content_type, "text/plain", 10) == 0 &&
			       strchr("; \t", res.content_type[10]))) {
		/* 3.3: the policy is served as text/plain */
		buf_printf(err, "https://mta-sts.%s%s: Content-Type \"%.60s\", not text/plain",
			   domain, path, res.content_type);
		r = -1;
	}
	if (r == 0) {
		*body = res.body;
		buf_init(&res.body);
	}
	https_result_free(&res);
	return r;
}

int mtasts_discover_start(struct dns_ctx *dns, const char *domain, const struct dns_answer *sts_txt,
			  const struct mtasts_params *p, struct mtasts_discovery *d)
{
	memset(d, 0, sizeof *d);
	struct mtasts_result *r = &d->result;
	buf_init(&r->note);
	buf_init(&d->dir);
	d->now = p->now ? p->now : time(NULL);
	d->domain = strdup(domain);
	if (!d->domain) {
		buf_puts(&r->note, "out of memory");
		return 0;
	}
	struct buf err;
	buf_init(&err);
	read_txt(sts_txt, r);
	d->use_cache = !(p->cache_dir && p->cache_dir[0] == '\0');
	if (d->use_cache) {
		if (p->cache_dir)
			buf_puts(&d->dir, p->cache_dir);
		else if (mtasts_cache_dir(&d->dir) < 0)
			d->use_cache = false;
	}
	if (d->use_cache) {
		d->cached = mtasts_cache_load(d->dir.data, domain, d->now, &r->policy, &err);
		if (d->cached < 0)
			buf_printf(&r->note, "%scache: %s", r->note.len ? "; " : "", err.data);
	}
	buf_free(&err);
	if (!mtasts_need_fetch(d->cached == 1 ? &r->policy : NULL, r->have_txt ? &r->txt : NULL)) {
		r->source = d->cached == 1 ? MTASTS_SRC_CACHE : MTASTS_SRC_NONE;
		return 0;
	}
	d->req = fetch_start(dns, domain, p);
	if (!d->req) {
		buf_printf(&r->note, "%spolicy fetch failed: out of memory",
			   r->note.len ? "; " : "");
		r->source = d->cached == 1 ? MTASTS_SRC_CACHE : MTASTS_SRC_NONE;
		return 0;
	}
	return 1;
}

/* The fetch is done: parse, take and cache the policy, or fall back to the cached one. */
static void discover_finish(struct mtasts_discovery *d)
{
	struct mtasts_result *r = &d->result;
	struct buf err, body;
	buf_init(&err);
	buf_init(&body);
	struct https_req *req = d->req;
	d->req = NULL;
	struct mtasts_policy fresh;
	if (fetch_finish(req, d->domain, &body, &err) < 0 ||
	    mtasts_parse_policy(body.data, body.len, &fresh, &err) < 0) {
		buf_printf(&r->note, "%spolicy fetch failed: %s%s", r->note.len ? "; " : "",
			   err.data, d->cached == 1 ? "; using the cached policy" : "");
		r->source = d->cached == 1 ? MTASTS_SRC_CACHE : MTASTS_SRC_NONE;
		goto out;
	}
	mtasts_cached_free(&r->policy);
	r->policy.policy = fresh;
	memcpy(r->policy.id, r->txt.id, sizeof r->txt.id);
	r->policy.fetched = d->now;
	r->source = MTASTS_SRC_FETCHED;
	buf_reset(&err);
	if (d->use_cache && mtasts_cache_store(d->dir.data, d->domain, r->txt.id, d->now, body.data,
					       body.len, &err) < 0)
		buf_printf(&r->note, "%scache: %s", r->note.len ? "; " : "", err.data);
out:
	buf_free(&err);
	buf_free(&body);
}

int mtasts_discover_step(struct mtasts_discovery *d)
{
	if (!d->req)
		return 0;
	if (https_step(d->req) == 1)
		return 1;
	discover_finish(d);
	return 0;
}

void mtasts_discovery_free(struct mtasts_discovery *d)
{
	if (d->req) {
		struct https_result res;
		struct buf err;
		buf_init(&err);
		https_finish(d->req, &res, &err); /* cancels it */
		https_result_free(&res);
		buf_free(&err);
	}
	mtasts_result_free(&d->result);
	buf_free(&d->dir);
	free(d->domain);
	memset(d, 0, sizeof *d);
}

int mtasts_discover(struct dns_ctx *dns, const char *domain, const struct dns_answer *sts_txt,
		    const struct mtasts_params *p, struct mtasts_result *r)
{
	struct mtasts_discovery d;
	if (mtasts_discover_start(dns, domain, sts_txt, p, &d) == 1) {
		while (mtasts_discover_step(&d) == 1) {
			struct pollfd pfd[9];
			size_t n = https_pollfds(d.req, pfd, 8);
			pfd[n].fd = dns_fd(dns);
			pfd[n].events = POLLIN;
			pfd[n].revents = 0;
			if (poll(pfd, n + 1, https_timeout_ms(d.req)) > 0 &&
			    (pfd[n].revents & POLLIN))
				dns_process(dns);
		}
	}
	*r = d.result;
	memset(&d.result, 0, sizeof d.result);
	mtasts_discovery_free(&d);
	return 0;
}
