/*
 * MX resolution as an MTA does it (RFC 5321 5.1, RFC 7505, RFC 7672 2.2), in rounds of
 * parallel queries on a struct dns_ctx. Only NXDOMAIN or NODATA for MX means "use the
 * domain's own addresses"; a SERVFAIL, a timeout or a bogus answer stops: falling back to
 * the A record then would let an attacker who blocks the MX answer pick the destination.
 */
#include "smtpsh/mxroute.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int set_error(struct mx_route *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int set_error(struct mx_route *r, const char *fmt, ...)
{
	struct buf b;
	buf_init(&b);
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	free(r->error);
	r->error = b.data ? b.data : strdup("out of memory");
	r->kind = MX_ROUTE_FAIL;
	return -1;
}

const char *mx_route_kind_name(enum mx_route_kind k)
{
	switch (k) {
	case MX_ROUTE_MX:
		return "mx";
	case MX_ROUTE_IMPLICIT:
		return "implicit";
	case MX_ROUTE_NULL:
		return "null MX";
	case MX_ROUTE_FAIL:
		break;
	}
	return "failed";
}

/* "DOMAIN" without a trailing dot (the root "." stays). */
static char *plain_name(const char *in)
{
	size_t n = strlen(in);
	if (n > 1 && in[n - 1] == '.')
		n--;
	return strndup(in, n);
}

int mx_route_start(struct dns_ctx *ctx, const char *domain, const struct mx_route_params *p,
		   struct mx_route *r)
{
	memset(r, 0, sizeof *r);
	dns_answer_init(&r->mx);
	dns_answer_init(&r->sts_txt);
	r->ctx = ctx;
	r->params = *p;
	r->port = p->port ? p->port : 25;
	r->kind = MX_ROUTE_FAIL;
	r->round = 1;
	/* a flag is false only while its query is pending (dns_submit clears it) */
	r->qdone[0] = r->qdone[1] = true;
	r->domain = plain_name(domain);
	if (!r->domain || strlen(r->domain) > DNS_NAME_WIRE_MAX || r->domain[0] == '\0') {
		r->round = 4; /* complete: nothing was asked */
		return set_error(r, r->domain ? "not a domain name" : "out of memory");
	}
	if (dns_submit(ctx, r->domain, DNS_T_MX, &r->mx, &r->qdone[0]) < 0) {
		r->round = 4;
		return set_error(r, "MX lookup of %s: %s", r->domain,
				 r->mx.error ? r->mx.error : "cannot start");
	}
	if (p->mta_sts) {
		struct buf name;
		buf_init(&name);
		if (buf_printf(&name, "_mta-sts.%s", r->domain) == 0)
			dns_submit(ctx, name.data, DNS_T_TXT, &r->sts_txt, &r->qdone[1]);
		buf_free(&name);
	}
	return 0;
}

static void submit_tlsa(struct mx_route *r, const char *host, struct dns_answer *a, bool *done)
{
	struct buf name;
	buf_init(&name);
	if (buf_printf(&name, "_%u._tcp.%s", r->port, host) == 0)
		dns_submit(r->ctx, name.data, DNS_T_TLSA, a, done);
	else
		dns_answer_init(a);
	buf_free(&name);
}

static int add_host(struct mx_route *r, const char *name, unsigned pref)
{
	struct mx_host *h = &r->hosts[r->n];
	memset(h, 0, sizeof *h);
	dns_answer_init(&h->a);
	dns_answer_init(&h->aaaa);
	dns_answer_init(&h->tlsa);
	dns_answer_init(&h->tlsa_canon);
	h->name = strdup(name);
	if (!h->name)
		return -1;
	h->pref = pref;
	for (size_t k = 0; k < 4; k++)
		h->qdone[k] = true;
	r->n++;
	dns_submit(r->ctx, h->name, DNS_T_A, &h->a, &h->qdone[0]);
	dns_submit(r->ctx, h->name, DNS_T_AAAA, &h->aaaa, &h->qdone[1]);
	if (!r->params.skip_tlsa)
		submit_tlsa(r, h->name, &h->tlsa, &h->qdone[2]);
	return 0;
}

static const char *bogus_why(const struct dns_answer *a)
{
	return a->why_bogus ? a->why_bogus : "validation failed";
}

/* Round 1 done: the MX set decides what round 2 asks. */
static int after_mx(struct mx_route *r)
{
	const struct dns_answer *mx = &r->mx;
	if (mx->sec == DNS_SEC_BOGUS)
		return set_error(r, "MX lookup of %s: bogus (%s)", r->domain, bogus_why(mx)), 0;
	if (mx->status == DNS_NXDOMAIN || mx->status == DNS_NODATA) {
		/* RFC 5321 5.1: "an implicit MX RR, with a preference of 0" */
		r->hosts = calloc(1, sizeof *r->hosts);
		if (!r->hosts || add_host(r, r->domain, 0) < 0)
			return set_error(r, "out of memory"), 0;
		r->kind = MX_ROUTE_IMPLICIT;
		return 1;
	}
	if (mx->status != DNS_OK)
		return set_error(r, "MX lookup of %s: %s%s%s", r->domain,
				 dns_status_name(mx->status), mx->error ? ", " : "",
				 mx->error ? mx->error : ""),
		       0;
	struct dns_mx *list = calloc(mx->n ? mx->n : 1, sizeof *list);
	if (!list)
		return set_error(r, "out of memory"), 0;
	size_t n = 0;
	for (size_t i = 0; i < mx->n; i++)
		if (dns_parse_mx(mx->rr[i].data, mx->rr[i].len, &list[n]) == 0)
			n++;
	if (n == 0) {
		free(list);
		return set_error(r, "MX lookup of %s: no MX record could be read", r->domain), 0;
	}
	if (dns_mx_is_null(list, n)) {
		free(list);
		r->kind = MX_ROUTE_NULL;
		return 0;
	}
	dns_mx_order(list, n, r->params.rnd ? r->params.rnd : dns_random, r->params.rnd_arg);
	r->hosts = calloc(n, sizeof *r->hosts);
	if (!r->hosts) {
		free(list);
		return set_error(r, "out of memory"), 0;
	}
	for (size_t i = 0; i < n; i++) {
		/* "." beside real hosts is no host (a null MX MUST stand alone, RFC 7505 3) */
		if (strcmp(list[i].host, ".") == 0)
			continue;
		if (add_host(r, list[i].host, list[i].pref) < 0) {
			free(list);
			return set_error(r, "out of memory"), 0;
		}
	}
	free(list);
	r->kind = MX_ROUTE_MX;
	return 1;
}

static enum dns_sec weakest(enum dns_sec a, enum dns_sec b)
{
	/* bogus < indeterminate < insecure < secure, for "can we rely on these addresses" */
	static const int rank[] = {[DNS_SEC_BOGUS] = 0,
				   [DNS_SEC_INDETERMINATE] = 1,
				   [DNS_SEC_INSECURE] = 2,
				   [DNS_SEC_SECURE] = 3};
	return rank[a] <= rank[b] ? a : b;
}

static void collect_addrs(struct mx_host *h, const struct dns_answer *a)
{
	for (size_t i = 0; i < a->n && h->naddrs < MX_ADDRS_MAX; i++) {
		struct mx_addr *m = &h->addrs[h->naddrs];
		if (dns_parse_addr(a->qtype, a->rr[i].data, a->rr[i].len, m->text,
				   sizeof m->text) == 0) {
			m->type = a->qtype;
			m->sec = a->sec;
			h->naddrs++;
		}
	}
}

/* The DNSSEC state of a host's addresses: of the answers that gave some, or of both
   denials when none did. */
static enum dns_sec addr_state(const struct mx_host *h)
{
	bool a = h->a.status == DNS_OK, aaaa = h->aaaa.status == DNS_OK;
	if (a && !aaaa)
		return weakest(h->a.sec, h->aaaa.status == DNS_NODATA ? h->aaaa.sec : h->a.sec);
	if (aaaa && !a)
		return weakest(h->aaaa.sec, h->a.status == DNS_NODATA ? h->a.sec : h->aaaa.sec);
	return weakest(h->a.sec, h->aaaa.sec);
}

/* Round 2 done: addresses, and for CNAME'd hosts a TLSA lookup at the expanded name. */
static int after_hosts(struct mx_route *r)
{
	int more = 0;
	for (size_t i = 0; i < r->n; i++) {
		struct mx_host *h = &r->hosts[i];
		collect_addrs(h, &h->aaaa);
		collect_addrs(h, &h->a);
		h->addr_sec = addr_state(h);
		const char *canon = h->a.canonname ? h->a.canonname : h->aaaa.canonname;
		if (canon)
			h->canon = strdup(canon);
		/* RFC 7672 2.2.2: a secure CNAME chain makes the expanded name the first TLSA
		   base domain */
		if (!r->params.skip_tlsa && h->canon && h->addr_sec == DNS_SEC_SECURE) {
			submit_tlsa(r, h->canon, &h->tlsa_canon, &h->qdone[3]);
			more = 1;
		}
	}
	return more;
}

static void judge_dane(struct mx_route *r)
{
	for (size_t i = 0; i < r->n; i++) {
		struct mx_host *h = &r->hosts[i];
		struct buf why;
		buf_init(&why);
		h->tlsa_used = &h->tlsa;
		h->tlsa_base = h->name;
		if (r->params.skip_tlsa) {
			h->dane = DANE_INSECURE;
			buf_puts(&why, "TLSA records not looked up");
		} else if (h->canon && h->addr_sec == DNS_SEC_SECURE) {
			h->dane = dns_dane_verdict(h->addr_sec, &h->tlsa_canon, &why);
			if (h->dane == DANE_NONE) {
				/* nothing at the expanded name: the original name's records */
				buf_reset(&why);
				h->dane = dns_dane_verdict(h->addr_sec, &h->tlsa, &why);
			} else {
				h->tlsa_used = &h->tlsa_canon;
				h->tlsa_base = h->canon;
			}
		} else {
			h->dane = dns_dane_verdict(h->addr_sec, &h->tlsa, &why);
		}
		h->dane_why = h->dane == DANE_APPLIES ? NULL : why.data;
		if (h->dane == DANE_APPLIES)
			buf_free(&why);
	}
}

bool mx_route_ready(const struct mx_route *r)
{
	if (!r->qdone[0] || !r->qdone[1])
		return false;
	for (size_t i = 0; i < r->n; i++)
		for (size_t k = 0; k < 4; k++)
			if (!r->hosts[i].qdone[k])
				return false;
	return true;
}

int mx_route_continue(struct mx_route *r)
{
	if (!mx_route_ready(r))
		return r->round < 4 ? 1 : 0;
	switch (r->round) {
	case 1:
		r->round = 2;
		if (after_mx(r))
			return 1;
		break;
	case 2:
		r->round = 3;
		if (after_hosts(r))
			return 1;
		judge_dane(r);
		break;
	case 3:
		judge_dane(r);
		break;
	default:
		return 0;
	}
	r->round = 4;
	return 0;
}

int mx_route_resolve(struct dns_ctx *ctx, const char *domain, const struct mx_route_params *p,
		     int timeout_ms, struct mx_route *r)
{
	long long deadline = dns_now_ms() + timeout_ms;
	if (mx_route_start(ctx, domain, p, r) < 0)
		return 0;
	do {
		dns_wait(ctx, deadline);
	} while (mx_route_continue(r) == 1);
	return 0;
}

static void host_free(struct mx_host *h)
{
	free(h->name);
	free(h->canon);
	free(h->dane_why);
	dns_answer_free(&h->a);
	dns_answer_free(&h->aaaa);
	dns_answer_free(&h->tlsa);
	dns_answer_free(&h->tlsa_canon);
}

void mx_route_free(struct mx_route *r)
{
	if (r->ctx && r->round < 4) {
		/* only this route's queries: others may share the context */
		dns_cancel(r->ctx, &r->mx, "cancelled");
		dns_cancel(r->ctx, &r->sts_txt, "cancelled");
		for (size_t i = 0; i < r->n; i++) {
			struct dns_answer *as[] = {&r->hosts[i].a, &r->hosts[i].aaaa,
						   &r->hosts[i].tlsa, &r->hosts[i].tlsa_canon};
			for (size_t k = 0; k < 4; k++)
				dns_cancel(r->ctx, as[k], "cancelled");
		}
	}
	for (size_t i = 0; i < r->n; i++)
		host_free(&r->hosts[i]);
	free(r->hosts);
	free(r->domain);
	free(r->error);
	dns_answer_free(&r->mx);
	dns_answer_free(&r->sts_txt);
	memset(r, 0, sizeof *r);
}
