/*
 * dnstool: the DNS, DANE, HTTPS and MTA-STS services of the core library from the command line,
 * for tests/dns/test_dns.py against the DNS lab (tests/lib/dnslab.py). Not installed. Prints
 * one fact per line, network text escaped:
 *
 *   dnstool [--resolver ADDR@PORT] [--trust-anchor FILE] [--timeout MS] COMMAND ...
 *     query NAME TYPE         one answer: status, DNSSEC state, records
 *     mx DOMAIN [PORT]        the MX route with addresses, TLSA and DANE verdicts
 *     records DOMAIN          SPF, DMARC, TLS-RPT and MTA-STS records (\dns's TXT part)
 *     mx-async DOMAIN OTHER   the route driven by our own poll() loop while a query for the
 *                             A record of OTHER runs on the same context
 *     mx-cancel DOMAIN OTHER  the route freed at once, the query for OTHER still answered
 *     dane DOMAIN PORT        route, then a TLS handshake with DANE to the first host
 *     https HOST PORT PATH    a GET through https.c (CA file from $SMTPSH_MTA_STS_CAFILE)
 *     mtasts DOMAIN HTTPSPORT CACHEDIR   MX route + MTA-STS discovery + policy match
 *     mtasts-async DOMAIN HTTPSPORT      the same in one poll() loop: the policy fetch starts
 *                             as soon as the TXT record is in, beside the route's lookups
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "smtpsh/dane.h"
#include "smtpsh/dns.h"
#include "smtpsh/escape.h"
#include "smtpsh/https.h"
#include "smtpsh/mailrecords.h"
#include "smtpsh/mtasts.h"
#include "smtpsh/mxroute.h"

static int timeout_ms = 5000;

/* Network text, escaped, as one token ("-" when NULL). */
static const char *esc(const char *s, size_t len)
{
	static struct buf b[4];
	static int k;
	struct buf *o = &b[k++ % 4];
	buf_reset(o);
	if (!s)
		return "-";
	escape_append(o, s, len, ESCAPE_DEFAULT);
	return o->data ? o->data : "";
}
#define ESC(s) esc((s), (s) ? strlen(s) : 0)

static int parse_type(const char *t)
{
	static const struct {
		const char *name;
		int type;
	} types[] = {{"A", DNS_T_A},	 {"AAAA", DNS_T_AAAA}, {"MX", DNS_T_MX},
		     {"TXT", DNS_T_TXT}, {"TLSA", DNS_T_TLSA}, {"CNAME", DNS_T_CNAME}};
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		if (strcasecmp(t, types[i].name) == 0)
			return types[i].type;
	return atoi(t);
}

static void print_rdata(const char *indent, int type, const struct dns_rdata *rr)
{
	char text[DNS_NAME_TEXT_MAX + 64];
	struct dns_mx mx;
	struct dns_tlsa tlsa;
	struct buf b;
	buf_init(&b);
	switch (type) {
	case DNS_T_A:
	case DNS_T_AAAA:
		if (dns_parse_addr(type, rr->data, rr->len, text, sizeof text) == 0)
			printf("%s%s\n", indent, text);
		else
			printf("%sunreadable\n", indent);
		break;
	case DNS_T_MX:
		if (dns_parse_mx(rr->data, rr->len, &mx) == 0)
			printf("%s%u %s\n", indent, mx.pref, mx.host);
		else
			printf("%sunreadable\n", indent);
		break;
	case DNS_T_TLSA:
		if (dns_parse_tlsa(rr->data, rr->len, &tlsa) == 0) {
			dns_tlsa_format(&tlsa, 0, &b);
			printf("%s%s%s\n", indent, b.data,
			       dns_tlsa_usable(&tlsa) ? "" : " (unusable)");
		} else {
			printf("%sunreadable\n", indent);
		}
		break;
	case DNS_T_TXT:
		if (dns_parse_txt(rr->data, rr->len, &b) == 0)
			printf("%s\"%s\"\n", indent, esc(b.data, b.len));
		else
			printf("%sunreadable\n", indent);
		break;
	default:
		printf("%s%zu bytes\n", indent, rr->len);
	}
	buf_free(&b);
}

static void print_answer(const char *what, const struct dns_answer *a)
{
	char tb[16];
	printf("%s %s %s status=%s sec=%s", what, ESC(a->qname), dns_type_name(a->qtype, tb, 16),
	       dns_status_name(a->status), dns_sec_name(a->sec));
	if (a->canonname)
		printf(" canon=%s", ESC(a->canonname));
	if (a->why_bogus)
		printf(" why_bogus=\"%s\"", ESC(a->why_bogus));
	if (a->error)
		printf(" error=\"%s\"", ESC(a->error));
	printf("\n");
	for (size_t i = 0; i < a->n; i++)
		print_rdata("  rr ", a->qtype, &a->rr[i]);
}

static int cmd_query(struct dns_ctx *ctx, const char *name, const char *type)
{
	struct dns_answer a;
	dns_query(ctx, name, parse_type(type), timeout_ms, &a);
	print_answer("answer", &a);
	dns_answer_free(&a);
	return 0;
}

static void print_route(const struct mx_route *r)
{
	printf("route %s kind=%s mx-status=%s mx-sec=%s\n", ESC(r->domain),
	       mx_route_kind_name(r->kind), dns_status_name(r->mx.status), dns_sec_name(r->mx.sec));
	if (r->error)
		printf("error %s\n", ESC(r->error));
	for (size_t i = 0; i < r->n; i++) {
		const struct mx_host *h = &r->hosts[i];
		printf("host %zu %u %s canon=%s addr-sec=%s dane=\"%s\"", i + 1, h->pref,
		       ESC(h->name), ESC(h->canon), dns_sec_name(h->addr_sec),
		       dns_dane_verdict_name(h->dane));
		if (h->dane_why)
			printf(" why=\"%s\"", ESC(h->dane_why));
		printf("\n");
		for (size_t k = 0; k < h->naddrs; k++)
			printf("  addr %s %s\n", h->addrs[k].text, dns_sec_name(h->addrs[k].sec));
		if (h->tlsa_used && h->tlsa_used->status == DNS_OK) {
			printf("  tlsa-name %s sec=%s\n", ESC(h->tlsa_used->qname),
			       dns_sec_name(h->tlsa_used->sec));
			for (size_t k = 0; k < h->tlsa_used->n; k++)
				print_rdata("  tlsa ", DNS_T_TLSA, &h->tlsa_used->rr[k]);
		}
	}
}

static int resolve_route(struct dns_ctx *ctx, const char *domain, unsigned port, bool sts,
			 struct mx_route *r)
{
	struct mx_route_params p = {.port = port, .mta_sts = sts};
	long long t0 = dns_now_ms();
	mx_route_resolve(ctx, domain, &p, timeout_ms, r);
	fprintf(stderr, "route took %lld ms\n", dns_now_ms() - t0);
	return 0;
}

/* The route and an unrelated query on one context, driven as an event loop would. */
static int cmd_mx_async(struct dns_ctx *ctx, const char *domain, const char *other, bool cancel)
{
	struct dns_answer a;
	bool a_done;
	dns_submit(ctx, other, DNS_T_A, &a, &a_done);
	struct mx_route r;
	struct mx_route_params p = {.port = 25};
	int running = mx_route_start(ctx, domain, &p, &r) == 0;
	if (cancel) {
		mx_route_free(&r);
		running = 0;
		printf("route freed, pending %zu\n", dns_pending(ctx));
	}
	long long deadline = dns_now_ms() + timeout_ms;
	int loops = 0;
	while ((running || !a_done) && dns_now_ms() < deadline) {
		struct pollfd pfd = {.fd = dns_fd(ctx), .events = POLLIN};
		if (poll(&pfd, 1, 100) > 0)
			dns_process(ctx);
		if (running)
			running = mx_route_continue(&r);
		loops++;
	}
	if (running || !a_done) {
		printf("async: not complete\n");
		return 1;
	}
	if (!cancel) {
		print_route(&r);
		mx_route_free(&r);
	}
	print_answer("other", &a);
	dns_answer_free(&a);
	printf("async: complete, pending %zu\n", dns_pending(ctx));
	return 0;
}

static int cmd_records(struct dns_ctx *ctx, const char *domain)
{
	struct mail_records r;
	if (mail_records_lookup(ctx, domain, timeout_ms, &r) < 0) {
		printf("records error not a domain name\n");
		return 1;
	}
	for (int k = 0; k < MAIL_REC_KINDS; k++) {
		const struct dns_answer *a = &r.answer[k];
		printf("%s %s status=%s sec=%s records=%zu\n", mail_record_kinds[k].name,
		       ESC(a->qname), dns_status_name(a->status), dns_sec_name(a->sec), r.n[k]);
		for (size_t i = 0; i < r.n[k]; i++)
			printf("  \"%s\"\n", esc(r.text[k][i].data, r.text[k][i].len));
	}
	mail_records_free(&r);
	return 0;
}

static int connect_to(const char *addr, unsigned port)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	socklen_t sl;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		sl = sizeof *s4;
	} else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		sl = sizeof *s6;
	} else {
		return -1;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int cmd_dane(struct dns_ctx *ctx, const char *domain, unsigned port)
{
	struct mx_route r;
	resolve_route(ctx, domain, port, false, &r);
	print_route(&r);
	int rc = 1;
	if (r.n == 0 || r.hosts[0].naddrs == 0) {
		printf("dane no host to try\n");
		goto out;
	}
	const struct mx_host *h = &r.hosts[0];
	if (h->dane != DANE_APPLIES) {
		printf("dane not applied: %s\n", dns_dane_verdict_name(h->dane));
		goto out;
	}
	struct dns_tlsa rrs[DNS_RRS_MAX];
	size_t n = 0;
	for (size_t i = 0; i < h->tlsa_used->n; i++)
		if (dns_parse_tlsa(h->tlsa_used->rr[i].data, h->tlsa_used->rr[i].len, &rrs[n]) == 0)
			n++;
	struct buf err, match;
	buf_init(&err);
	buf_init(&match);
	SSL_CTX *sctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_min_proto_version(sctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(sctx, SSL_VERIFY_PEER, NULL);
	SSL *ssl = NULL;
	int fd = -1;
	if (dane_ctx_enable(sctx, &err) < 0)
		goto fail;
	ssl = SSL_new(sctx);
	int added = dane_apply(ssl, h->tlsa_base, h->name, rrs, n, &err);
	if (added <= 0)
		goto fail;
	printf("dane records added %d base=%s\n", added, ESC(h->tlsa_base));
	fd = connect_to(h->addrs[0].text, port);
	if (fd < 0) {
		buf_printf(&err, "cannot connect to %s port %u", h->addrs[0].text, port);
		goto fail;
	}
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) != 1) {
		long v = SSL_get_verify_result(ssl);
		buf_printf(&err, "handshake failed: %s", X509_verify_cert_error_string(v));
		dane_match(ssl, &match);
		printf("dane-match %s\n", match.data ? match.data : "-");
		goto fail;
	}
	int m = dane_match(ssl, &match);
	printf("dane verified=%d %s\n", m, match.data);
	rc = m == 1 ? 0 : 1;
	goto done;
fail:
	printf("dane error %s\n", err.data ? err.data : "?");
done:
	if (ssl)
		SSL_free(ssl);
	SSL_CTX_free(sctx);
	if (fd >= 0)
		close(fd);
	buf_free(&err);
	buf_free(&match);
out:
	mx_route_free(&r);
	return rc;
}

static int cmd_https(struct dns_ctx *ctx, const char *host, unsigned port, const char *path)
{
	struct https_params p = {
	    .host = host,
	    .port = port,
	    .path = path,
	    .cafile = getenv(MTASTS_CAFILE_ENV),
	    .max_bytes = MTASTS_POLICY_MAX,
	    .timeout_ms = timeout_ms,
	    .dns = ctx,
	};
	struct https_result res;
	struct buf err;
	buf_init(&err);
	int r = https_get(&p, &res, &err);
	if (r < 0)
		printf("https error %s\n", ESC(err.data));
	else
		printf("https status=%ld bytes=%zu type=%s\n", res.status, res.body.len,
		       ESC(res.content_type));
	https_result_free(&res);
	buf_free(&err);
	return r < 0 ? 1 : 0;
}

static void print_policy(const struct mtasts_result *res, const struct mx_route *r)
{
	static const char *const src[] = {"none", "cache", "fetched"};
	printf("mta-sts source=%s id=%s note=\"%s\"\n", src[res->source],
	       res->have_txt ? res->txt.id : "-", res->note.data ? ESC(res->note.data) : "");
	if (res->source == MTASTS_SRC_NONE)
		return;
	const struct mtasts_policy *pol = &res->policy.policy;
	printf("policy mode=%s max_age=%lu\n", mtasts_mode_name(pol->mode), pol->max_age);
	for (size_t i = 0; i < pol->nmx; i++)
		printf("  policy-mx %s\n", ESC(pol->mx[i]));
	for (size_t i = 0; i < r->n; i++)
		printf("mx-match %s %s\n", ESC(r->hosts[i].name),
		       mtasts_mx_match(pol, r->hosts[i].name) ? "yes" : "no");
}

static int cmd_mtasts(struct dns_ctx *ctx, const char *domain, unsigned port, const char *cache)
{
	struct mx_route r;
	resolve_route(ctx, domain, 25, true, &r);
	print_route(&r);
	print_answer("sts-txt", &r.sts_txt);
	struct mtasts_params p = {.port = port, .timeout_ms = timeout_ms, .cache_dir = cache};
	struct mtasts_result res;
	mtasts_discover(ctx, r.domain ? r.domain : domain, &r.sts_txt, &p, &res);
	print_policy(&res, &r);
	mtasts_result_free(&res);
	mx_route_free(&r);
	return 0;
}

/* Route and policy in one event loop, as the session will run them. */
static int cmd_mtasts_async(struct dns_ctx *ctx, const char *domain, unsigned port)
{
	struct mx_route r;
	struct mx_route_params rp = {.port = 25, .mta_sts = true};
	struct mtasts_params mp = {.port = port, .timeout_ms = timeout_ms, .cache_dir = ""};
	struct mtasts_discovery d;
	bool d_started = false, route_running = mx_route_start(ctx, domain, &rp, &r) == 0;
	bool fetch_running = false, overlapped = false;
	long long deadline = dns_now_ms() + timeout_ms;
	while ((route_running || fetch_running) && dns_now_ms() < deadline) {
		struct pollfd pfd[9];
		size_t n = fetch_running ? https_pollfds(d.req, pfd, 8) : 0;
		pfd[n].fd = dns_fd(ctx);
		pfd[n].events = POLLIN;
		pfd[n].revents = 0;
		int wait = fetch_running ? https_timeout_ms(d.req) : 100;
		if (poll(pfd, n + 1, wait) > 0 && (pfd[n].revents & POLLIN))
			dns_process(ctx);
		if (route_running)
			route_running = mx_route_continue(&r);
		/* the TXT answer is in once round 1 is over: fetch beside rounds 2 and 3 */
		if (!d_started && (r.round > 1 || !route_running)) {
			d_started = true;
			fetch_running = mtasts_discover_start(ctx, r.domain, &r.sts_txt, &mp, &d);
		} else if (fetch_running) {
			fetch_running = mtasts_discover_step(&d);
		}
		if (fetch_running && route_running)
			overlapped = true;
	}
	if (route_running || fetch_running || !d_started) {
		printf("async: not complete\n");
		if (d_started)
			mtasts_discovery_free(&d);
		mx_route_free(&r);
		return 1;
	}
	print_route(&r);
	print_policy(&d.result, &r);
	printf("overlapped=%s\n", overlapped ? "yes" : "no");
	mtasts_discovery_free(&d);
	mx_route_free(&r);
	return 0;
}

int main(int argc, char **argv)
{
	struct dns_params p = {0};
	int i = 1;
	for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		if (strcmp(argv[i], "--resolver") == 0)
			p.resolver = argv[i + 1];
		else if (strcmp(argv[i], "--trust-anchor") == 0)
			p.trust_anchor = argv[i + 1];
		else if (strcmp(argv[i], "--timeout") == 0)
			timeout_ms = atoi(argv[i + 1]);
		else
			break;
	}
	if (i >= argc) {
		fprintf(stderr, "usage: dnstool [options] query|mx|dane|https|mtasts ...\n");
		return 2;
	}
	struct buf err;
	buf_init(&err);
	struct dns_ctx *ctx = dns_new(&p, &err);
	if (!ctx) {
		printf("resolver error %s\n", err.data);
		buf_free(&err);
		return 1;
	}
	int rc = 2;
	const char *cmd = argv[i];
	int left = argc - i - 1;
	char **a = argv + i + 1;
	if (strcmp(cmd, "query") == 0 && left == 2)
		rc = cmd_query(ctx, a[0], a[1]);
	else if (strcmp(cmd, "mx") == 0 && (left == 1 || left == 2)) {
		struct mx_route r;
		resolve_route(ctx, a[0], left == 2 ? (unsigned)atoi(a[1]) : 25, false, &r);
		print_route(&r);
		mx_route_free(&r);
		rc = 0;
	} else if (strcmp(cmd, "records") == 0 && left == 1)
		rc = cmd_records(ctx, a[0]);
	else if (strcmp(cmd, "mx-async") == 0 && left == 2)
		rc = cmd_mx_async(ctx, a[0], a[1], false);
	else if (strcmp(cmd, "mx-cancel") == 0 && left == 2)
		rc = cmd_mx_async(ctx, a[0], a[1], true);
	else if (strcmp(cmd, "dane") == 0 && left == 2)
		rc = cmd_dane(ctx, a[0], (unsigned)atoi(a[1]));
	else if (strcmp(cmd, "https") == 0 && left == 3)
		rc = cmd_https(ctx, a[0], (unsigned)atoi(a[1]), a[2]);
	else if (strcmp(cmd, "mtasts-async") == 0 && left == 2)
		rc = cmd_mtasts_async(ctx, a[0], (unsigned)atoi(a[1]));
	else if (strcmp(cmd, "mtasts") == 0 && left == 3)
		rc = cmd_mtasts(ctx, a[0], (unsigned)atoi(a[1]), a[2]);
	else
		fprintf(stderr, "dnstool: bad command or arguments\n");
	dns_free(ctx);
	buf_free(&err);
	return rc;
}
