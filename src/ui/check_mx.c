/*
 * --check --mx DOMAIN [PORT]: every MX host of a domain audited, with the route that leads
 * there. The route (RFC 5321 5.1, with DNSSEC, each host's DANE verdict of RFC 7672 and the
 * domain's MTA-STS policy of RFC 8461) is resolved once, as --mx resolves it, and shown with
 * --mx's own lines (mx_show_route). Findings of the route: the MX answer (null MX, no MX, a
 * failed lookup), the DNSSEC state of the MX RRset, the MTA-STS policy; per host: DANE (a
 * connection under the secure TLSA records says whether they match), whether the MTA-STS
 * policy lists it, then check_run's battery against each of its addresses (A and AAAA, as -4
 * / -6 allow), with the MX host as the name TLS checks; a finding that differs between the
 * addresses is reported per address. A host that cannot be reached is undecided, never a
 * pass.
 */
#include "smtpsh/check.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "check_int.h"
#include "config.h"
#include "shell_int.h"
#include "smtpsh/escape.h"
#include "smtpsh/exit.h"
#include "smtpsh/https.h"
#include "smtpsh/mtasts.h"
#include "smtpsh/mxroute.h"

/* text escaped for one line (into out, reset first) */
static const char *esc(struct buf *out, const char *text)
{
	buf_reset(out);
	if (text)
		escape_append(out, text, strlen(text), ESCAPE_KEEP_BACKSLASH);
	return out->data ? out->data : "";
}

/* The addresses of h that -4 / -6 allow (AAAA first, then A, as the route keeps them), at
   most MX_ADDRS_MAX; returns the count. */
static size_t addresses(const struct mx_host *h, enum conn_family fam,
			const char *out[MX_ADDRS_MAX])
{
	size_t n = 0;
	for (size_t k = 0; k < h->naddrs && n < MX_ADDRS_MAX; k++) {
		int type = h->addrs[k].type;
		if ((fam == CONN_V4 && type != DNS_T_A) || (fam == CONN_V6 && type != DNS_T_AAAA))
			continue;
		out[n++] = h->addrs[k].text;
	}
	return n;
}

static const char *const sends_dns = "DNS queries only (MX, A, AAAA, TLSA, TXT _mta-sts)";
static const char *const sends_dane =
    "EHLO, STARTTLS, EHLO, QUIT (the certificate against the TLSA records)";

/* The findings of the route itself (area "route"); evidence: the route's lines. */
static void route_findings(struct check_ctx *x, const struct mx_route *r,
			   const struct mtasts_result *sts, const struct buf *lines)
{
	struct buf e;
	buf_init(&e);
	const char *domain = esc(&e, r->domain);
	struct check_result *c = NULL;
	switch (r->kind) {
	case MX_ROUTE_MX:
		c = check_add(x, "route", "mx", sends_dns, CHECK_PASS,
			      "%zu MX host%s, tried by preference (RFC 5321 5.1)", r->n,
			      r->n == 1 ? "" : "s");
		break;
	case MX_ROUTE_IMPLICIT:
		c = check_add(x, "route", "mx", sends_dns, CHECK_INFO,
			      "no MX (%s): the domain's own address receives its mail (implicit "
			      "MX, RFC 5321 5.1); an MX record says it on purpose",
			      dns_status_name(r->mx.status));
		break;
	case MX_ROUTE_NULL:
		c = check_add(x, "route", "mx", sends_dns, CHECK_INFO,
			      "%s accepts no mail: its MX is the null MX \"0 .\" (RFC 7505); no "
			      "host to check",
			      domain);
		break;
	case MX_ROUTE_FAIL:
		/* bogus is proof of an error; a timeout or SERVFAIL leaves it open */
		c = check_add(
		    x, "route", "mx", sends_dns,
		    r->mx.sec == DNS_SEC_BOGUS ? CHECK_FAIL : CHECK_UNDECIDED, "%s%s",
		    r->mx.sec == DNS_SEC_BOGUS ? "" : "could not be decided: ", esc(&e, r->error));
		break;
	}
	if (c)
		buf_append(&c->evidence, lines->data, lines->len);
	if (r->kind == MX_ROUTE_FAIL) {
		buf_free(&e);
		return;
	}
	const char *rr = r->kind == MX_ROUTE_MX ? "the MX RRset" : "the answer that there is no MX";
	if (r->mx.sec == DNS_SEC_SECURE)
		check_add(x, "route", "mx-dnssec", sends_dns, CHECK_PASS,
			  "%s is signed and validated (DNSSEC secure)", rr);
	else if (r->mx.sec == DNS_SEC_INSECURE)
		check_add(x, "route", "mx-dnssec", sends_dns, CHECK_INFO,
			  "%s is not signed (DNSSEC insecure): a forged answer could reroute the "
			  "mail (DANE still applies to hosts in signed zones, RFC 7672 2.2.1)",
			  rr);
	else
		check_add(x, "route", "mx-dnssec", sends_dns, CHECK_UNDECIDED,
			  "could not be decided: the DNSSEC state of %s is %s", rr,
			  dns_sec_name(r->mx.sec));
	const char *note = sts->note.data ? sts->note.data : "";
	if (r->kind == MX_ROUTE_NULL) {
		/* nothing to protect */
	} else if (sts->source == MTASTS_SRC_NONE) {
		check_add(x, "route", "mta-sts", sends_dns, CHECK_INFO,
			  "no MTA-STS policy (RFC 8461): %s", esc(&e, note));
	} else {
		const struct mtasts_policy *p = &sts->policy.policy;
		struct check_result *m = check_add(
		    x, "route", "mta-sts", "DNS TXT _mta-sts, HTTPS GET of the policy",
		    p->mode == MTASTS_ENFORCE ? CHECK_PASS : CHECK_INFO,
		    "MTA-STS policy (%s, id %s): mode %s, max_age %lu%s",
		    sts->source == MTASTS_SRC_CACHE ? "cached" : "fetched", esc(&e, sts->policy.id),
		    mtasts_mode_name(p->mode), p->max_age,
		    p->mode == MTASTS_ENFORCE ? "" : " (not enforced: a sending MTA goes on)");
		for (size_t i = 0; m && i < p->nmx; i++)
			buf_printf(&m->evidence, "mx: %s\n", esc(&e, p->mx[i]));
	}
	buf_free(&e);
}

/* DANE for one host: a connection under its secure TLSA records decides whether they match.
   Returns true when they did (the finding passed). */
static bool dane_finding(struct check_ctx *x, const struct mx_host *h, const char *addr,
			 enum tls_mode mode)
{
	struct buf e;
	buf_init(&e);
	if (h->dane == DANE_BOGUS || h->dane == DANE_FAILED) {
		/* RFC 7672 2.2: a DANE client does not deliver (bogus) or defers (failed) */
		check_add(x, "route", "dane", sends_dns,
			  h->dane == DANE_BOGUS ? CHECK_FAIL : CHECK_UNDECIDED, "%s%s: %s",
			  h->dane == DANE_BOGUS ? "" : "could not be decided: ",
			  dns_dane_verdict_name(h->dane), esc(&e, h->dane_why));
		buf_free(&e);
		return false;
	}
	if (h->dane != DANE_APPLIES) {
		check_add(x, "route", "dane", sends_dns, CHECK_INFO, "%s: %s",
			  dns_dane_verdict_name(h->dane), esc(&e, h->dane_why));
		buf_free(&e);
		return false;
	}
	struct dns_tlsa t[DNS_RRS_MAX];
	size_t n = mx_usable_tlsa(h, t, DNS_RRS_MAX);
	if (!addr) {
		check_add(x, "route", "dane", sends_dane, CHECK_UNDECIDED,
			  "could not be decided: %s has no address to connect to",
			  esc(&e, h->name));
		buf_free(&e);
		return false;
	}
	struct session_mx mx = {
	    .name = h->name,
	    .addr = addr,
	    .opportunistic = false, /* RFC 7672 2.2: STARTTLS required */
	    .tlsa_base = h->tlsa_base,
	    .tlsa = t,
	    .ntlsa = n,
	};
	struct probe p;
	enum session_status st =
	    probe_open_mx(&p, x, &mx, mode == TLS_IMPLICIT ? TLS_IMPLICIT : TLS_STARTTLS);
	const char *d = p.s ? session_dane(p.s) : NULL;
	/* the probe goes on through any certificate (insecure): session_dane says which record
	   matched ("3 1 1 matched the leaf key") or why none did ("no TLSA record matched") */
	bool matched = st == SESSION_OK && d && strncmp(d, "no ", 3) != 0;
	if (matched)
		probe_verdict(&p, "route", "dane", sends_dane, CHECK_PASS,
			      "%zu secure TLSA record%s at _%s._tcp.%s: %s", n, n == 1 ? "" : "s",
			      x->o->port, esc(&e, h->tlsa_base), d);
	else if (st == SESSION_OK && d)
		probe_verdict(&p, "route", "dane", sends_dane, CHECK_FAIL,
			      "secure TLSA records at _%s._tcp.%s, but %s: a DANE client does not "
			      "deliver (RFC 7672 2.2)",
			      x->o->port, esc(&e, h->tlsa_base), d);
	else if (st == SESSION_ERR_TLS)
		probe_verdict(&p, "route", "dane", sends_dane, CHECK_FAIL,
			      "secure TLSA records, but TLS failed: %s: a DANE client does not "
			      "deliver (RFC 7672 2.2)",
			      esc(&e, session_error(p.s)));
	else
		probe_undecided(&p, "route", "dane", sends_dane, st);
	probe_close(&p);
	buf_free(&e);
	return matched;
}

/* MTA-STS for one host (RFC 8461 4.1): is it listed in the domain's policy? */
static void sts_finding(struct check_ctx *x, const struct mx_host *h,
			const struct mtasts_result *sts)
{
	if (sts->source == MTASTS_SRC_NONE || sts->policy.policy.mode == MTASTS_NONE)
		return; /* said once for the route */
	const struct mtasts_policy *p = &sts->policy.policy;
	struct buf e;
	buf_init(&e);
	if (mtasts_mx_match(p, h->name))
		check_add(x, "route", "mta-sts-mx", sends_dns, CHECK_PASS,
			  "%s is listed in the MTA-STS policy (mode %s)", esc(&e, h->name),
			  mtasts_mode_name(p->mode));
	else if (p->mode == MTASTS_ENFORCE)
		check_add(x, "route", "mta-sts-mx", sends_dns, CHECK_FAIL,
			  "%s is not listed in the MTA-STS policy (enforce, RFC 8461 4.1): a "
			  "sending MTA does not deliver to it",
			  esc(&e, h->name));
	else
		check_add(x, "route", "mta-sts-mx", sends_dns, CHECK_WARN,
			  "%s is not listed in the MTA-STS policy (testing: reported, a sending "
			  "MTA goes on)",
			  esc(&e, h->name));
	buf_free(&e);
}

/*
 * Under DANE the TLSA records, not a public CA, authenticate an MX host (RFC 7672 2.2, 3.1.1:
 * DANE-EE ignores the chain, the names and the dates; DANE-TA's match includes the name
 * check): when the host's "dane" passed, the WebPKI findings certificate-trust and
 * certificate-name are information, not failures, for every sending MTA that does DANE.
 */
static void dane_authenticates(struct check_report *r)
{
	for (size_t i = 0; i < r->n; i++) {
		struct check_result *c = &r->items[i];
		if (c->verdict != CHECK_FAIL || strcmp(c->area, "tls") != 0 ||
		    (strcmp(c->name, "certificate-trust") != 0 &&
		     strcmp(c->name, "certificate-name") != 0))
			continue;
		static const char note[] = " (WebPKI); DANE authenticates this host (see dane)";
		size_t len = strlen(c->why);
		if (len + sizeof note > sizeof c->why) /* a long why loses its end, not the note */
			len = sizeof c->why - sizeof note;
		memcpy(c->why + len, note, sizeof note);
		c->verdict = CHECK_INFO;
	}
}

static bool interrupted(const struct check_options *o)
{
	return o->intr && *o->intr;
}

/*
 * The DNS phase: the route (as mx_route_resolve), then for an MX or implicit route the
 * MTA-STS discovery (the _mta-sts TXT came with the route; the policy fetch is HTTPS), within
 * --timeout. Driven here, in slices of at most 100 ms, not by the blocking calls: a resolver
 * that never answers would hold Ctrl-C until the timeout. Returns false when interrupted
 * (what is pending is cancelled by mx_route_free and mtasts_discovery_free).
 */
static bool resolve(struct dns_ctx *dns, const struct check_options *o,
		    const struct mx_route_params *rp, const struct mtasts_params *mp,
		    struct mx_route *route, struct mtasts_discovery *disc)
{
	long long deadline = dns_now_ms() + o->timeout_ms;
	bool route_running = mx_route_start(dns, o->host, rp, route) == 0;
	bool sts_started = false, sts_running = false;
	for (;;) {
		if (route_running)
			route_running = mx_route_continue(route) == 1;
		if (!route_running && !sts_started) {
			sts_started = true;
			if (route->kind == MX_ROUTE_MX || route->kind == MX_ROUTE_IMPLICIT)
				sts_running = mtasts_discover_start(dns, route->domain,
								    &route->sts_txt, mp, disc) == 1;
		}
		if (!route_running && !sts_running)
			return true;
		if (interrupted(o))
			return false;
		long long left = deadline - dns_now_ms();
		if (left <= 0 && route_running) {
			/* what is unanswered counts as a timeout (mx_route_resolve's rule); the
			   policy fetch keeps its own timeout (https.c) */
			dns_cancel_all(dns, "no answer before the timeout");
			continue;
		}
		struct pollfd pfd[9];
		size_t n = sts_running && disc->req ? https_pollfds(disc->req, pfd, 8) : 0;
		pfd[n] = (struct pollfd){.fd = dns_fd(dns), .events = POLLIN};
		int wait = 100;
		if (sts_running && disc->req && https_timeout_ms(disc->req) >= 0 &&
		    https_timeout_ms(disc->req) < wait)
			wait = https_timeout_ms(disc->req);
		if (route_running && left < wait)
			wait = left > 0 ? (int)left : 0;
		int r = poll(pfd, n + 1, wait);
		if (r < 0 && errno != EINTR)
			dns_cancel_all(dns, "poll failed");
		else if (r > 0 && (pfd[n].revents & POLLIN))
			dns_process(dns);
		if (sts_running)
			sts_running = mtasts_discover_step(disc) == 1;
	}
}

struct host_run {
	struct check_options o;
	struct check_report r;
	const char *addrs[MX_ADDRS_MAX]; /* the addresses checked */
	size_t naddrs;
	char shown[MX_ADDRS_MAX * 48]; /* them, ", " between: the host the report names */
};

static void copy_finding(struct check_ctx *x, const struct check_result *c, const char *addr)
{
	struct check_result *d =
	    addr ? check_add(x, c->area, c->name, c->sends, c->verdict, "[%s] %s", addr, c->why)
		 : check_add(x, c->area, c->name, c->sends, c->verdict, "%s", c->why);
	if (d)
		buf_append(&d->evidence, c->evidence.data, c->evidence.len);
}

static const struct check_result *find(const struct check_report *r, const char *area,
				       const char *name)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->items[i].area, area) == 0 && strcmp(r->items[i].name, name) == 0)
			return &r->items[i];
	return NULL;
}

/*
 * The findings of every address of one host, as the host's (x): a finding with the same
 * verdict at every address once (with the first address's reason and evidence); one that
 * differs, or that some address did not reach, once per address that made it, its reason
 * starting "[ADDR] ". In the order they first came.
 */
static void merge_addresses(struct check_ctx *x, const struct check_report *per,
			    const char *const *addrs, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		for (size_t i = 0; i < per[k].n; i++) {
			const struct check_result *c = &per[k].items[i];
			bool earlier = false; /* handled with an address before this one */
			for (size_t j = 0; j < k && !earlier; j++)
				earlier = find(&per[j], c->area, c->name) != NULL;
			if (earlier)
				continue;
			bool same = true;
			for (size_t j = k + 1; j < n && same; j++) {
				const struct check_result *o = find(&per[j], c->area, c->name);
				same = o && o->verdict == c->verdict;
			}
			if (same && k == 0) {
				copy_finding(x, c, NULL);
				continue;
			}
			for (size_t j = k; j < n; j++) {
				const struct check_result *o = find(&per[j], c->area, c->name);
				if (o)
					copy_finding(x, o, addrs[j]);
			}
		}
	}
}

static void print_json(FILE *out, const struct check_options *o, const struct mx_route *route,
		       const struct check_report *rr, const struct host_run *hosts, int status,
		       long elapsed_ms)
{
	fputs("{\"tool\":\"smtpsh\",\"version\":", out);
	check_json_string(out, SMTPSH_VERSION);
	fputs(",\"schema\":1,\"mx\":true,\"domain\":", out);
	check_json_string(out, o->host);
	fputs(",\"port\":", out);
	check_json_string(out, o->port);
	fputs(",\"route\":", out);
	check_json_string(out, mx_route_kind_name(route->kind));
	fputs(",\"dnssec\":", out);
	check_json_string(out, dns_sec_name(route->mx.sec));
	fprintf(out, ",\"elapsed_ms\":%ld,\"exit\":%d,", elapsed_ms, status);
	check_print_json_checks(out, rr);
	fputs(",\"hosts\":[", out);
	for (size_t i = 0; i < route->n; i++) {
		const struct mx_host *h = &route->hosts[i];
		fprintf(out, "%s{\"pref\":%u,\"mx\":", i ? "," : "", h->pref);
		check_json_string(out, h->name);
		fputs(",\"dane\":", out);
		check_json_string(out, dns_dane_verdict_name(h->dane));
		fputs(",\"addresses\":[", out);
		for (size_t k = 0; k < hosts[i].naddrs; k++) {
			if (k)
				fputc(',', out);
			check_json_string(out, hosts[i].addrs[k]);
		}
		fputs("],", out);
		check_print_json_fields(out, &hosts[i].o, &hosts[i].r);
		fputc('}', out);
	}
	fputs("]}\n", out);
}

int check_mx_run(const struct check_options *o, const struct dns_params *dp, bool json, FILE *plan,
		 FILE *out)
{
	long long t0 = conn_now_ms();
	struct buf e, err;
	buf_init(&e);
	buf_init(&err);
	fprintf(plan,
		"*  checking every MX host of %s port %s as mx: the route first (DNS, DNSSEC "
		"validated by smtpsh; DANE; MTA-STS), then the checks below against each host\n",
		esc(&e, o->host), o->port);
	struct check_options each = *o;
	each.host = "each MX host";
	check_print_plan(plan, &each);
	struct dns_ctx *dns = dns_new(dp, &err);
	if (!dns) {
		fprintf(stderr, "smtpsh: DNS: %s\n",
			err.data ? err.data : "the resolver could not start");
		buf_free(&e);
		buf_free(&err);
		return 3;
	}
	unsigned pnum = (unsigned)strtoul(o->port, NULL, 10);
	struct mx_route_params rp = {.port = pnum, .mta_sts = true};
	struct mx_route route;
	/* the policy fetch's port: for tests, as --mx (the library reads SMTPSH_MTA_STS_CAFILE) */
	const char *sts_port = getenv("SMTPSH_MTA_STS_PORT");
	struct mtasts_params mp = {
	    .port = sts_port ? (unsigned)strtoul(sts_port, NULL, 10) : 0,
	    .timeout_ms = o->timeout_ms,
	};
	struct mtasts_discovery disc;
	memset(&disc, 0, sizeof disc);
	if (!resolve(dns, o, &rp, &mp, &route, &disc)) {
		fprintf(stderr,
			"smtpsh: interrupted: the DNS lookups of %s were cancelled; nothing was "
			"checked\n",
			esc(&e, o->host));
		mtasts_discovery_free(&disc);
		mx_route_free(&route);
		dns_free(dns);
		buf_free(&e);
		buf_free(&err);
		return EXIT_INTERRUPT;
	}
	struct mtasts_result sts = disc.result;
	memset(&disc.result, 0, sizeof disc.result);
	mtasts_discovery_free(&disc);
	/* the route as --mx shows it: on the plan's stream, and as the evidence of "mx" */
	struct buf lines;
	buf_init(&lines);
	char *memdata = NULL;
	size_t memlen = 0;
	FILE *mem = open_memstream(&memdata, &memlen);
	if (mem) {
		struct render rd;
		render_init(&rd, mem, mem, false);
		if (route.kind == MX_ROUTE_FAIL)
			render_error(&rd, "%s", esc(&e, route.error));
		else if (route.kind == MX_ROUTE_NULL)
			render_info(&rd, "MX of %s (%s): the null MX \"0 .\" (RFC 7505)",
				    esc(&e, route.domain), dns_sec_name(route.mx.sec));
		else
			mx_show_route(&rd, &route);
		render_free(&rd);
		fclose(mem);
		buf_append(&lines, memdata, memlen);
		free(memdata);
	}
	fwrite(lines.data, 1, lines.len, plan);
	fflush(plan);

	struct check_report rr = {0};
	struct check_ctx rx = {.o = o, .report = &rr};
	route_findings(&rx, &route, &sts, &lines);
	rr.elapsed_ms = (long)(conn_now_ms() - t0); /* the lookups */
	struct host_run *hosts = calloc(route.n ? route.n : 1, sizeof *hosts);
	bool connected = false;
	for (size_t i = 0; hosts && i < route.n && !(o->intr && *o->intr); i++) {
		const struct mx_host *h = &route.hosts[i];
		struct host_run *hr = &hosts[i];
		hr->naddrs = addresses(h, o->family, hr->addrs);
		for (size_t k = 0; k < hr->naddrs; k++) {
			size_t used = strlen(hr->shown);
			snprintf(hr->shown + used, sizeof hr->shown - used, "%s%s", k ? ", " : "",
				 hr->addrs[k]);
		}
		hr->o = *o;
		hr->o.host = hr->naddrs ? hr->shown : h->name;
		hr->o.sni = h->name;
		hr->o.role = CHECK_ROLE_MX;
		if (!json) {
			fprintf(plan, "*  checking MX %zu of %zu: %s (%s) port %s\n", i + 1,
				route.n, esc(&e, h->name), hr->naddrs ? hr->shown : "no address",
				o->port);
			fflush(plan);
		}
		long long h0 = conn_now_ms();
		struct check_ctx hx = {.o = &hr->o, .report = &hr->r};
		sts_finding(&hx, h, &sts);
		if (hr->naddrs) {
			/* every address, one after the other (each battery keeps to
			   CHECK_PARALLEL_MAX connections): a sending MTA tries them all (RFC 5321
			   5.1), so one that behaves otherwise matters */
			struct check_report per[MX_ADDRS_MAX];
			size_t done = 0;
			for (size_t k = 0; k < hr->naddrs && !(o->intr && *o->intr); k++, done++) {
				struct check_options ao = hr->o;
				ao.host = hr->addrs[k];
				struct check_ctx ax = {.o = &ao, .report = &per[k]};
				memset(&per[k], 0, sizeof per[k]);
				bool dane =
				    dane_finding(&ax, h, hr->addrs[k],
						 o->implicit_tls ? TLS_IMPLICIT : TLS_STARTTLS);
				struct check_report battery;
				check_run(&ao, &battery);
				for (size_t j = 0; j < battery.n; j++) /* after DANE's finding */
					copy_finding(&ax, &battery.items[j], NULL);
				if (dane)
					dane_authenticates(&per[k]);
				hr->r.connected = hr->r.connected || battery.connected;
				check_report_free(&battery);
			}
			merge_addresses(&hx, per, hr->addrs, done);
			for (size_t k = 0; k < done; k++)
				check_report_free(&per[k]);
		} else {
			dane_finding(&hx, h, NULL, o->implicit_tls ? TLS_IMPLICIT : TLS_STARTTLS);
			check_add(&hx, "connection", "connect", "", CHECK_UNDECIDED,
				  "could not be decided: %s has no address to connect to (A %s, "
				  "AAAA %s)",
				  esc(&e, h->name), dns_status_name(h->a.status),
				  dns_status_name(h->aaaa.status));
		}
		hr->r.elapsed_ms = (long)(conn_now_ms() - h0);
		connected = connected || hr->r.connected;
	}
	long elapsed = (long)(conn_now_ms() - t0);
	/* exit: as --check's, over the route and every host; 3 when there were hosts to check
	   and none could be connected to */
	int status = check_exit_status(
	    &(struct check_report){.items = rr.items, .n = rr.n, .connected = true});
	for (size_t i = 0; hosts && i < route.n; i++)
		if (check_exit_status(&(struct check_report){
			.items = hosts[i].r.items, .n = hosts[i].r.n, .connected = true}) == 1)
			status = 1;
	if (route.n && !connected)
		status = 3;
	if (json) {
		print_json(out, o, &route, &rr, hosts, status, elapsed);
	} else {
		fprintf(out, "smtpsh --check --mx %s port %s\n", esc(&e, o->host), o->port);
		check_print_findings(out, &rr);
		for (size_t i = 0; hosts && i < route.n; i++) {
			fprintf(out, "\n=== MX %zu of %zu (preference %u)\n", i + 1, route.n,
				route.hosts[i].pref);
			check_print_text(out, &hosts[i].o, &hosts[i].r);
		}
		fprintf(out, "\n%zu MX host%s checked in %ld ms\n", route.n,
			route.n == 1 ? "" : "s", elapsed);
		if (route.n && !connected)
			fprintf(out, "no connection could be made to any MX host of %s\n",
				esc(&e, o->host));
	}
	for (size_t i = 0; hosts && i < route.n; i++)
		check_report_free(&hosts[i].r);
	free(hosts);
	check_report_free(&rr);
	buf_free(&lines);
	mtasts_result_free(&sts);
	mx_route_free(&route);
	dns_free(dns);
	buf_free(&e);
	buf_free(&err);
	return status;
}
