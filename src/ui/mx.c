/*
 * smtpsh --mx DOMAIN and \connect --mx: where does mail for a domain go, and is the way there
 * safe? The route of RFC 5321 5.1 (net/mxroute.c: MX by preference, the implicit MX, the null
 * MX of RFC 7505, each answer with its DNSSEC state and each host's DANE verdict) is shown as
 * local lines, then its hosts are tried in order as a sending MTA tries them. The policy that
 * applies is said for every try, in the precedence of RFC 8461 section 2: DANE (RFC 7672) when
 * the host's TLSA records are secure and usable, else the domain's MTA-STS policy (RFC 8461,
 * fetched beside the route), else opportunistic TLS (RFC 7435). \dns shows the same lookups
 * and the domain's mail TXT records. Everything from DNS is hostile: names come as
 * presentation text (dns_name_from_wire's \DDD escapes), libunbound's reasons and TXT data are
 * escaped here.
 */
#include "smtpsh/shell.h"

#include "shell_int.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpsh/escape.h"
#include "smtpsh/https.h"
#include "smtpsh/mailrecords.h"
#include "smtpsh/mtasts.h"
#include "smtpsh/mxroute.h"

#define TLSA_SHOWN_HEX 16 /* hex digits of a TLSA record's data on the route's lines */

/* The shell's resolver, made on first use (no DNS is touched by a session without --mx). */
struct dns_ctx *shell_dns(struct shell *sh)
{
	if (sh->dns)
		return sh->dns;
	struct buf err;
	buf_init(&err);
	struct dns_params p = {.resolver = sh->resolver, .trust_anchor = sh->trust_anchor};
	sh->dns = dns_new(&p, &err);
	if (!sh->dns)
		render_error(sh->render, "DNS: %s",
			     err.data ? err.data : "the resolver could not start");
	buf_free(&err);
	return sh->dns;
}

/* text escaped for one line on the screen (into out, reset first) */
static const char *esc(struct buf *out, const char *text)
{
	buf_reset(out);
	if (text)
		escape_append(out, text, strlen(text), ESCAPE_KEEP_BACKSLASH);
	return out->data ? out->data : "";
}

/* The route and the MTA-STS discovery (RFC 8461) run in one poll() loop. */
struct lookup {
	struct mx_route route;
	struct mtasts_discovery sts;
	bool route_running;
	bool sts_started, sts_running;
	struct mail_records *recs; /* \dns: SPF, DMARC, TLS-RPT, MTA-STS records, or NULL */
	bool recs_running;
};

/*
 * Drives the route's queries and the policy fetch until both are complete: poll() on the
 * resolver's fd and the fetch's sockets in slices, so that Ctrl-C (the REPL's interrupt flag)
 * is seen at once; past the deadline what is still pending is answered as a timeout. The
 * fetch starts as soon as the _mta-sts TXT answer is in (round 1), beside the address and
 * TLSA lookups. Returns false when interrupted.
 */
static bool wait_lookup(struct shell *sh, struct lookup *l, const struct mtasts_params *mp,
			long long deadline)
{
	struct dns_ctx *ctx = sh->dns;
	for (;;) {
		if (l->route_running)
			l->route_running = mx_route_continue(&l->route) == 1;
		if (!l->sts_started && (l->route.round > 1 || !l->route_running)) {
			l->sts_started = true;
			l->sts_running = mtasts_discover_start(ctx, l->route.domain,
							       &l->route.sts_txt, mp, &l->sts) == 1;
		}
		if (l->recs_running)
			l->recs_running = !mail_records_ready(l->recs);
		if (!l->route_running && !l->sts_running && !l->recs_running)
			return true;
		if (sh->interrupted && *sh->interrupted)
			return false;
		long long left = deadline - dns_now_ms();
		if (left <= 0) {
			/* the route's queries are answered as timeouts; a fetch still running
			   gets its own timeout (the same --timeout) from https.c */
			dns_cancel_all(ctx, "timeout");
			if (l->recs_running)
				l->recs_running = !mail_records_ready(l->recs);
			if (!l->route_running && l->sts_running)
				l->sts_running = mtasts_discover_step(&l->sts) == 1;
			continue;
		}
		struct pollfd pfd[9];
		size_t n = l->sts_running && l->sts.req ? https_pollfds(l->sts.req, pfd, 8) : 0;
		pfd[n] = (struct pollfd){.fd = dns_fd(ctx), .events = POLLIN};
		int wait = l->sts_running && l->sts.req ? https_timeout_ms(l->sts.req) : 100;
		if (wait > left)
			wait = (int)left;
		int r = poll(pfd, n + 1, wait < 0 ? 100 : wait);
		if (r < 0 && errno != EINTR)
			dns_cancel_all(ctx, "poll failed");
		else if (r > 0 && (pfd[n].revents & POLLIN))
			dns_process(ctx);
		if (l->sts_running)
			l->sts_running = mtasts_discover_step(&l->sts) == 1;
	}
}

/* "127.0.0.11 secure, ::1 secure" */
static void addresses(const struct mx_host *h, struct buf *out)
{
	for (size_t i = 0; i < h->naddrs; i++)
		buf_printf(out, "%s%s %s", i ? ", " : "", h->addrs[i].text,
			   dns_sec_name(h->addrs[i].sec));
	if (!h->naddrs)
		buf_printf(out, "no address (A %s, AAAA %s)", dns_status_name(h->a.status),
			   dns_status_name(h->aaaa.status));
}

size_t mx_usable_tlsa(const struct mx_host *h, struct dns_tlsa *out, size_t max)
{
	size_t n = 0;
	const struct dns_answer *a = h->tlsa_used;
	for (size_t i = 0; a && i < a->n && n < max; i++)
		if (dns_parse_tlsa(a->rr[i].data, a->rr[i].len, &out[n]) == 0 &&
		    dns_tlsa_usable(&out[n]))
			n++;
	return n;
}

void mx_show_route(struct render *rd, const struct mx_route *r)
{
	struct buf e, line;
	buf_init(&e);
	buf_init(&line);
	const char *domain = esc(&e, r->domain);
	if (r->kind == MX_ROUTE_MX)
		render_info(rd, "MX of %s (%s): %zu host%s, tried by preference (RFC 5321 5.1)",
			    domain, dns_sec_name(r->mx.sec), r->n, r->n == 1 ? "" : "s");
	else if (r->kind == MX_ROUTE_IMPLICIT)
		render_info(rd,
			    "no MX for %s (%s, %s): the domain's own address receives its mail "
			    "(implicit MX, RFC 5321 5.1)",
			    domain, dns_status_name(r->mx.status), dns_sec_name(r->mx.sec));
	for (size_t i = 0; i < r->n; i++) {
		const struct mx_host *h = &r->hosts[i];
		buf_reset(&line);
		buf_printf(&line, "  %u %s", h->pref, esc(&e, h->name));
		if (h->canon)
			buf_printf(&line, " (CNAME to %s)", esc(&e, h->canon));
		buf_puts(&line, ": ");
		addresses(h, &line);
		render_info(rd, "%s", line.data);
		buf_reset(&line);
		if (h->dane == DANE_APPLIES) {
			struct dns_tlsa t[DNS_RRS_MAX];
			size_t n = mx_usable_tlsa(h, t, DNS_RRS_MAX);
			buf_printf(&line,
				   "    DANE applies: %zu secure TLSA record%s at _%u._tcp.%s", n,
				   n == 1 ? "" : "s", r->port, esc(&e, h->tlsa_base));
			for (size_t k = 0; k < n && k < 4; k++) {
				buf_puts(&line, k ? ", " : ": ");
				dns_tlsa_format(&t[k], TLSA_SHOWN_HEX, &line);
			}
		} else {
			buf_printf(&line, "    %s: %s", dns_dane_verdict_name(h->dane),
				   esc(&e, h->dane_why));
		}
		render_info(rd, "%s", line.data);
	}
	buf_free(&e);
	buf_free(&line);
}

/* The MTA-STS policy that applies (RFC 8461), or NULL (none, or mode none). */
static const struct mtasts_policy *sts_policy(const struct lookup *l)
{
	const struct mtasts_result *res = &l->sts.result;
	if (!l->sts_started || res->source == MTASTS_SRC_NONE ||
	    res->policy.policy.mode == MTASTS_NONE)
		return NULL;
	return &res->policy.policy;
}

/* The MTA-STS outcome as local lines: the policy with its source, or why there is none. */
static void show_sts(struct shell *sh, const struct lookup *l)
{
	struct buf e, line;
	buf_init(&e);
	buf_init(&line);
	const struct mtasts_result *res = &l->sts.result;
	const char *note = res->note.data ? res->note.data : "";
	if (!l->sts_started || res->source == MTASTS_SRC_NONE) {
		buf_reset(&e);
		escape_append(&e, note, strlen(note), ESCAPE_DEFAULT);
		render_info(sh->render, "MTA-STS: no policy (%s)", e.data ? e.data : "");
	} else {
		const struct mtasts_policy *p = &res->policy.policy;
		buf_printf(&line, "MTA-STS policy of %s (%s, id %s): mode %s, max_age %lu, mx",
			   esc(&e, l->route.domain),
			   res->source == MTASTS_SRC_CACHE ? "cached" : "fetched", res->policy.id,
			   mtasts_mode_name(p->mode), p->max_age);
		for (size_t i = 0; i < p->nmx; i++)
			buf_printf(&line, "%s%s", i ? ", " : " ", esc(&e, p->mx[i]));
		render_info(sh->render, "%s", line.data);
		if (note[0]) {
			buf_reset(&e);
			escape_append(&e, note, strlen(note), ESCAPE_DEFAULT);
			render_info(sh->render, "MTA-STS: %s", e.data);
		}
	}
	buf_free(&e);
	buf_free(&line);
}

/* A DANE verdict that forbids delivery to this host (RFC 7672 2.2: bogus, or the TLSA
   lookup failed: a DANE client defers rather than go on without). */
static bool dane_forbids(const struct mx_host *h)
{
	return h->dane == DANE_BOGUS || h->dane == DANE_FAILED;
}

/*
 * Tries one address of a host under the policy that applies to it, in the precedence of
 * RFC 8461 section 2: DANE when the host has secure usable TLSA records, else the domain's
 * MTA-STS policy, else opportunistic TLS. Returns the session's status; *next says whether a
 * sending MTA would go on to the next address or host.
 */
static enum session_status try_host(struct shell *sh, const struct lookup *l,
				    const struct mx_host *h, const char *addr, const char *port,
				    enum tls_mode mode, bool *next)
{
	struct buf e;
	buf_init(&e);
	struct dns_tlsa t[DNS_RRS_MAX];
	size_t n = h->dane == DANE_APPLIES ? mx_usable_tlsa(h, t, DNS_RRS_MAX) : 0;
	const struct mtasts_policy *sts = n ? NULL : sts_policy(l);
	bool enforce = sts && sts->mode == MTASTS_ENFORCE;
	struct session_mx mx = {
	    .name = h->name,
	    .addr = addr,
	    /* RFC 7672 2.2 and RFC 8461 4.2 (enforce): STARTTLS required; RFC 7435: used
	       when offered */
	    .opportunistic = mode == TLS_NONE && !n && !enforce,
	    .tlsa_base = h->tlsa_base,
	    .tlsa = t,
	    .ntlsa = n,
	};
	enum tls_mode m = mode == TLS_NONE ? TLS_STARTTLS : mode;
	if (n)
		render_info(sh->render,
			    "policy: DANE (RFC 7672): the TLSA records decide, STARTTLS "
			    "required%s",
			    sts_policy(l) ? "; the MTA-STS policy does not apply (RFC 8461 2)"
					  : "");
	else if (sts)
		render_info(sh->render,
			    "policy: MTA-STS (RFC 8461, %s; DANE not available: %s): %s is listed, "
			    "the certificate %s",
			    mtasts_mode_name(sts->mode),
			    h->dane == DANE_APPLIES ? "no usable record" : esc(&e, h->dane_why),
			    h->name,
			    enforce ? "must verify, STARTTLS required"
				    : "is checked and failures reported (testing: a sending MTA "
				      "goes on)");
	else
		render_info(sh->render,
			    "policy: opportunistic TLS (RFC 7435; DANE not available: %s): the "
			    "certificate is verified as always",
			    h->dane == DANE_APPLIES ? "no usable record" : esc(&e, h->dane_why));
	enum session_status st = session_connect_mx(sh->session, &mx, port, m);
	*next = st == SESSION_ERR_NET || st == SESSION_ERR_TIMEOUT || st == SESSION_ERR_REFUSED;
	bool untrusted = st == SESSION_ERR_TLS && strstr(session_error(sh->session), "not trusted");
	if (untrusted && enforce)
		render_info(sh->render,
			    "MTA-STS (RFC 8461 4.2, enforce): the certificate of %s must verify: a "
			    "sending MTA does not deliver; --insecure goes on (marked ?> <?)",
			    esc(&e, h->name));
	else if (untrusted && sts)
		render_info(sh->render,
			    "MTA-STS (testing): the certificate failure is reported (TLS-RPT), a "
			    "sending MTA would deliver anyway; --insecure goes on (marked ?> <?)");
	else if (untrusted && !n)
		render_info(sh->render,
			    "opportunistic TLS (RFC 7435): a sending MTA would deliver anyway, "
			    "unauthenticated; --insecure goes on (marked ?> <?)");
	if (st == SESSION_ERR_TLS && n)
		render_info(sh->render,
			    "DANE: a sending MTA does not deliver to %s (RFC 7672 2.2); --insecure "
			    "goes on (marked ?> <?)",
			    esc(&e, h->name));
	buf_free(&e);
	return st;
}

/* MTA-STS (RFC 8461 4.1): may this host be tried under the domain's policy? Says why not
   (enforce), or reports the mismatch and goes on (testing). */
static bool sts_allows(struct shell *sh, const struct lookup *l, const struct mx_host *h)
{
	const struct mtasts_policy *sts = sts_policy(l);
	if (!sts || h->dane == DANE_APPLIES || mtasts_mx_match(sts, h->name))
		return true;
	struct buf e;
	buf_init(&e);
	if (sts->mode == MTASTS_ENFORCE)
		render_error(sh->render,
			     "%s is not listed in the MTA-STS policy (enforce, RFC 8461 4.1): not "
			     "tried",
			     esc(&e, h->name));
	else
		render_warning(
		    sh->render,
		    "%s is not listed in the MTA-STS policy (testing: reported, a sending "
		    "MTA goes on)",
		    esc(&e, h->name));
	buf_free(&e);
	return sts->mode != MTASTS_ENFORCE;
}

void shell_connect_mx(struct shell *sh, const char *domain, const char *port, enum tls_mode mode)
{
	shell_leave_connection(sh);
	if (!shell_dns(sh)) {
		shell_failed(sh, SESSION_ERR_LOCAL);
		return;
	}
	char *end;
	unsigned long pnum = port ? strtoul(port, &end, 10) : 25;
	if (port && (*end || pnum == 0 || pnum > 65535)) {
		shell_error(sh, "--mx: the port must be a number (1-65535), not '%s'", port);
		return;
	}
	char portbuf[8];
	snprintf(portbuf, sizeof portbuf, "%lu", pnum);
	struct mx_route_params p = {.port = (unsigned)pnum, .mta_sts = true};
	/* the policy fetch's port and CA: for tests (the library reads SMTPSH_MTA_STS_CAFILE) */
	const char *sts_port = getenv("SMTPSH_MTA_STS_PORT");
	struct mtasts_params mp = {
	    .port = sts_port ? (unsigned)strtoul(sts_port, NULL, 10) : 0,
	    .timeout_ms = session_timeout_ms(sh->session),
	};
	struct lookup l = {0};
	struct mx_route *rp = &l.route;
	char *copy = strdup(domain); /* \dns's default from now on */
	if (copy) {
		free(sh->mx_domain);
		sh->mx_domain = copy;
	}
	struct buf e;
	buf_init(&e);
	render_info(sh->render, "looking up the MX and MTA-STS of %s (DNSSEC validated by smtpsh)",
		    esc(&e, domain));
	render_flush(sh->render);
	long long deadline = dns_now_ms() + session_timeout_ms(sh->session);
	l.route_running = mx_route_start(sh->dns, domain, &p, rp) == 0;
	if (!wait_lookup(sh, &l, &mp, deadline)) {
		if (l.sts_started)
			mtasts_discovery_free(&l.sts);
		mx_route_free(rp);
		render_info(sh->render, "interrupted: the lookup of the MX of %s was cancelled",
			    esc(&e, domain));
		if (sh->batch) {
			if (sh->status == EXIT_OK)
				sh->status = EXIT_INTERRUPT;
			sh->done = true;
		}
		buf_free(&e);
		return;
	}
	const struct mx_route *r = rp;
	enum session_status st = SESSION_ERR_NET;
	if (r->kind == MX_ROUTE_FAIL) {
		/* SERVFAIL, a timeout, a bogus answer: not "no MX" (that would send the mail to
		   the domain's address on the word of a failed lookup) */
		render_error(sh->render, "%s: stopping (a sending MTA would defer and try later)",
			     esc(&e, r->error));
	} else if (r->kind == MX_ROUTE_NULL) {
		render_error(sh->render,
			     "%s accepts no mail: its MX is the null MX \"0 .\" (RFC 7505, %s); a "
			     "sending MTA bounces with 556 5.1.10",
			     esc(&e, r->domain), dns_sec_name(r->mx.sec));
		st = SESSION_ERR_REFUSED;
	} else {
		mx_show_route(sh->render, r);
		show_sts(sh, &l);
		st = SESSION_ERR_NET;
		bool next = true, tried = false;
		for (size_t i = 0; i < r->n && next; i++) {
			const struct mx_host *h = &r->hosts[i];
			if (dane_forbids(h)) {
				struct buf why;
				buf_init(&why);
				render_error(sh->render, "%s: %s: %s; not tried (RFC 7672 2.2)",
					     esc(&e, h->name), dns_dane_verdict_name(h->dane),
					     esc(&why, h->dane_why));
				buf_free(&why);
				st = SESSION_ERR_TLS;
				continue;
			}
			if (!sts_allows(sh, &l, h)) {
				st = SESSION_ERR_TLS;
				continue;
			}
			enum conn_family fam = session_family(sh->session);
			for (size_t k = 0; k < h->naddrs && next; k++) {
				int type = h->addrs[k].type;
				if ((fam == CONN_V4 && type != DNS_T_A) ||
				    (fam == CONN_V6 && type != DNS_T_AAAA))
					continue; /* -4 / -6 */
				render_info(sh->render, "trying MX %zu of %zu: %s (%s) port %s",
					    i + 1, r->n, esc(&e, h->name), h->addrs[k].text,
					    portbuf);
				tried = true;
				st = try_host(sh, &l, h, h->addrs[k].text, portbuf, mode, &next);
				if (st == SESSION_OK)
					break;
				if (next)
					render_info(sh->render,
						    "%s did not answer: trying the next",
						    h->addrs[k].text);
			}
			if (st == SESSION_OK)
				break;
		}
		if (st != SESSION_OK && !tried && st == SESSION_ERR_NET)
			render_error(sh->render, "no MX host of %s has an address to connect to",
				     esc(&e, r->domain));
		else if (st != SESSION_OK && !tried)
			render_error(sh->render,
				     "no MX host of %s may be used: DANE or MTA-STS refused each",
				     esc(&e, r->domain));
		else if (st != SESSION_OK && next)
			render_error(sh->render, "no MX host of %s answered", esc(&e, r->domain));
	}
	if (l.sts_started)
		mtasts_discovery_free(&l.sts);
	mx_route_free(rp);
	buf_free(&e);
	shell_connected(sh, st);
}

/* ---- \dns ---------------------------------------------------------------------------------- */

#define DNS_TEXT_SHOWN 512 /* bytes of one TXT record shown (DNS_TXT_MAX may be 8 KiB) */

/* "NOERROR secure", "NXDOMAIN insecure", "SERVFAIL bogus (why)" for one answer. */
static void answer_state(const struct dns_answer *a, struct buf *out)
{
	struct buf e;
	buf_init(&e);
	buf_printf(out, "%s %s", dns_status_name(a->status), dns_sec_name(a->sec));
	if (a->why_bogus)
		buf_printf(out, " (%s)", esc(&e, a->why_bogus));
	else if (a->error)
		buf_printf(out, " (%s)", esc(&e, a->error));
	buf_free(&e);
}

/* The domain \dns looks at without an argument: the last --mx domain, else the connected
   host's domain (its name without the first label, "mx1.example.net" -> "example.net"). */
static const char *default_domain(const struct shell *sh)
{
	if (sh->mx_domain)
		return sh->mx_domain;
	const char *host = session_host(sh->session);
	if (!host || host[0] == '/' || strchr(host, ':'))
		return NULL;
	const char *dot = strchr(host, '.');
	return dot && strchr(dot + 1, '.') ? dot + 1 : host;
}

void shell_show_dns(struct shell *sh, const char *domain)
{
	if (!domain)
		domain = default_domain(sh);
	if (!domain) {
		shell_error(sh, "usage: \\dns DOMAIN (no --mx domain or host to default to)");
		return;
	}
	if (!shell_dns(sh)) {
		shell_failed(sh, SESSION_ERR_LOCAL);
		return;
	}
	struct mail_records recs = {0};
	struct lookup l = {.recs = &recs};
	struct mx_route_params p = {.port = 25, .mta_sts = true};
	const char *sts_port = getenv("SMTPSH_MTA_STS_PORT");
	struct mtasts_params mp = {
	    .port = sts_port ? (unsigned)strtoul(sts_port, NULL, 10) : 0,
	    .timeout_ms = session_timeout_ms(sh->session),
	};
	struct buf e, out;
	buf_init(&e);
	buf_init(&out);
	render_info(sh->render, "DNS of %s (DNSSEC validated by smtpsh)", esc(&e, domain));
	render_flush(sh->render);
	long long deadline = dns_now_ms() + session_timeout_ms(sh->session);
	l.route_running = mx_route_start(sh->dns, domain, &p, &l.route) == 0;
	l.recs_running = mail_records_start(sh->dns, domain, &recs) == 0;
	if (!wait_lookup(sh, &l, &mp, deadline)) {
		render_info(sh->render, "interrupted: the DNS lookups of %s were cancelled",
			    esc(&e, domain));
	} else {
		const struct mx_route *r = &l.route;
		buf_printf(&out, "MX       %s: ", esc(&e, r->domain ? r->domain : domain));
		answer_state(&r->mx, &out);
		if (r->kind == MX_ROUTE_NULL)
			buf_puts(&out, ": null MX \"0 .\": accepts no mail (RFC 7505)");
		else if (r->kind == MX_ROUTE_IMPLICIT)
			buf_puts(&out, ": no MX, the domain's own address (implicit MX)");
		else if (r->kind == MX_ROUTE_FAIL)
			buf_puts(&out, ": no route (a sending MTA defers)");
		buf_putc(&out, '\n');
		for (size_t i = 0; i < r->n; i++) {
			const struct mx_host *h = &r->hosts[i];
			buf_printf(&out, "  %u %s%s%s\n", h->pref, esc(&e, h->name),
				   h->canon ? " CNAME " : "", h->canon ? h->canon : "");
			buf_printf(&out, "    A/AAAA  ");
			addresses(h, &out);
			buf_puts(&out, "\n    TLSA    ");
			const struct dns_answer *t = h->tlsa_used ? h->tlsa_used : &h->tlsa;
			buf_printf(&out,
				   "_25._tcp.%s: ", esc(&e, h->tlsa_base ? h->tlsa_base : h->name));
			answer_state(t, &out);
			for (size_t k = 0; k < t->n && k < 8; k++) {
				struct dns_tlsa rec;
				if (dns_parse_tlsa(t->rr[k].data, t->rr[k].len, &rec) == 0) {
					buf_puts(&out, k ? ", " : ": ");
					dns_tlsa_format(&rec, TLSA_SHOWN_HEX, &out);
				}
			}
			buf_printf(&out, "\n    DANE    %s%s%s\n", dns_dane_verdict_name(h->dane),
				   h->dane_why ? ": " : "",
				   h->dane_why ? esc(&e, h->dane_why) : "");
		}
		for (int k = 0; k < MAIL_REC_KINDS; k++) {
			const struct mail_record_kind_info *info = &mail_record_kinds[k];
			buf_printf(&out, "%-8s %s%s: ", info->name, info->prefix,
				   esc(&e, r->domain ? r->domain : domain));
			answer_state(&recs.answer[k], &out);
			if (recs.answer[k].status == DNS_OK && recs.n[k] == 0)
				buf_printf(&out, ", no %s record", info->tag);
			for (size_t i = 0; i < recs.n[k]; i++) {
				const struct buf *t = &recs.text[k][i];
				size_t len = t->len > DNS_TEXT_SHOWN ? DNS_TEXT_SHOWN : t->len;
				buf_puts(&out, "\n  \"");
				escape_append(&out, t->data, len, ESCAPE_DEFAULT);
				buf_printf(&out, "\"%s", len < t->len ? " (cut)" : "");
			}
			if (recs.n[k] > 1)
				buf_printf(&out, "\n  %zu %s records: one is expected", recs.n[k],
					   info->tag);
			buf_putc(&out, '\n');
			if (k == MAIL_REC_MTASTS) {
				const struct mtasts_result *res = &l.sts.result;
				const struct mtasts_policy *pol = &res->policy.policy;
				if (res->source == MTASTS_SRC_NONE) {
					const char *note = res->note.data ? res->note.data : "";
					buf_reset(&e);
					escape_append(&e, note, strlen(note), ESCAPE_DEFAULT);
					buf_printf(&out, "  policy: none (%s)\n",
						   e.data ? e.data : "");
				} else {
					buf_printf(&out, "  policy (%s): mode %s, max_age %lu, mx",
						   res->source == MTASTS_SRC_CACHE ? "cached"
										   : "fetched",
						   mtasts_mode_name(pol->mode), pol->max_age);
					for (size_t i = 0; i < pol->nmx; i++)
						buf_printf(&out, " %s", esc(&e, pol->mx[i]));
					buf_putc(&out, '\n');
				}
			}
		}
		render_text(sh->render, out.data);
	}
	if (l.sts_started)
		mtasts_discovery_free(&l.sts);
	mail_records_free(&recs);
	mx_route_free(&l.route);
	buf_free(&e);
	buf_free(&out);
}
