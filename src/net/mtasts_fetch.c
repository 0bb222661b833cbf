/*
 * MTA-STS discovery (RFC 8461 3 and 5): the TXT record says a policy exists and which
 * version (id); the cache keeps a fetched policy until max_age; the fetch is an HTTPS GET
 * with the limits of 3.3.
 */
#include "smtpsh/mtasts.h"

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

static int fetch(struct dns_ctx *dns, const char *domain, const struct mtasts_params *p,
		 struct buf *body, struct buf *err)
{
	struct buf host;
	buf_init(&host);
	buf_printf(&host, "mta-sts.%s", domain);
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
	struct https_result res;
	int r = https_get(&hp, &res, err);
	if (r == 0 && res.status != 200) {
		buf_printf(err, "https://%s%s: HTTP status %ld, not 200", hp.host, hp.path,
			   res.status);
		r = -1;
	} else if (r == 0 && !(strncasecmp(res.content_type, "text/plain", 10) == 0 &&
			       strchr("; \t", res.content_type[10]))) {
		/* 3.3: the policy is served as text/plain */
		buf_printf(err, "https://%s%s: Content-Type \"%.60s\", not text/plain", hp.host,
			   hp.path, res.content_type);
		r = -1;
	}
	if (r == 0) {
		*body = res.body;
		buf_init(&res.body);
	}
	https_result_free(&res);
	buf_free(&host);
	return r;
}

int mtasts_discover(struct dns_ctx *dns, const char *domain, const struct dns_answer *sts_txt,
		    const struct mtasts_params *p, struct mtasts_result *r)
{
	memset(r, 0, sizeof *r);
	buf_init(&r->note);
	time_t now = p->now ? p->now : time(NULL);
	struct buf dir, err, body;
	buf_init(&dir);
	buf_init(&err);
	buf_init(&body);
	read_txt(sts_txt, r);

	bool use_cache = !(p->cache_dir && p->cache_dir[0] == '\0');
	int cached = 0;
	if (use_cache) {
		if (p->cache_dir)
			buf_puts(&dir, p->cache_dir);
		else if (mtasts_cache_dir(&dir) < 0)
			use_cache = false;
	}
	if (use_cache) {
		cached = mtasts_cache_load(dir.data, domain, now, &r->policy, &err);
		if (cached < 0) {
			buf_printf(&r->note, "%scache: %s", r->note.len ? "; " : "", err.data);
			buf_reset(&err);
		}
	}
	if (!mtasts_need_fetch(cached == 1 ? &r->policy : NULL, r->have_txt ? &r->txt : NULL)) {
		r->source = cached == 1 ? MTASTS_SRC_CACHE : MTASTS_SRC_NONE;
		goto out;
	}
	struct mtasts_policy fresh;
	if (fetch(dns, domain, p, &body, &err) < 0 ||
	    mtasts_parse_policy(body.data, body.len, &fresh, &err) < 0) {
		buf_printf(&r->note, "%spolicy fetch failed: %s%s", r->note.len ? "; " : "",
			   err.data, cached == 1 ? "; using the cached policy" : "");
		r->source = cached == 1 ? MTASTS_SRC_CACHE : MTASTS_SRC_NONE;
		goto out;
	}
	mtasts_cached_free(&r->policy);
	r->policy.policy = fresh;
	memcpy(r->policy.id, r->txt.id, sizeof r->txt.id);
	r->policy.fetched = now;
	r->source = MTASTS_SRC_FETCHED;
	buf_reset(&err);
	if (use_cache &&
	    mtasts_cache_store(dir.data, domain, r->txt.id, now, body.data, body.len, &err) < 0)
		buf_printf(&r->note, "%scache: %s", r->note.len ? "; " : "", err.data);
out:
	buf_free(&dir);
	buf_free(&err);
	buf_free(&body);
	return 0;
}
