/*
 * Where does mail for a domain go? The MX resolution of RFC 5321 5.1 with the DNSSEC state of
 * every step and the DANE verdict per host (RFC 7672), as data for the session to show and
 * to connect with. At most three rounds of parallel queries:
 *   1. MX of the domain and TXT of _mta-sts.DOMAIN (when asked for);
 *   2. A, AAAA and TLSA (_PORT._tcp.HOST) of every MX host (or of the domain itself when it
 *      has no MX);
 *   3. only for hosts reached through a secure CNAME: TLSA at the expanded name (2.2.2).
 * DANE verdicts follow RFC 7672 2.2: a host's TLSA records count when its address records are
 * secure, also when the MX RRset itself is insecure (2.2.1 allows this "MAY": an unsigned
 * domain hosted by a provider with signed MX hosts still gets DANE); mx.sec tells the caller
 * which case it is.
 * The lookups run on a struct dns_ctx, which other queries may share; mx_route_start and
 * mx_route_continue let an event loop drive them (poll dns_fd, dns_process, mx_route_continue
 * until it returns 0), and mx_route_resolve does it all, blocking.
 */
#ifndef SMTPSH_MXROUTE_H
#define SMTPSH_MXROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtpsh/dns.h"

#define MX_ADDRS_MAX 16 /* addresses kept per host (A and AAAA together) */

struct mx_addr {
	int type;      /* DNS_T_A or DNS_T_AAAA */
	char text[46]; /* "127.0.0.2", "::1" */
	enum dns_sec sec;
};

struct mx_host {
	char *name;    /* the exchange as in the MX record, or the domain (implicit MX) */
	unsigned pref; /* MX preference; 0 for the implicit MX */
	char *canon;   /* the name after CNAMEs when the address lookup followed some, else NULL */
	struct dns_answer a, aaaa;
	enum dns_sec addr_sec;		    /* the weakest of the A and AAAA answers */
	struct mx_addr addrs[MX_ADDRS_MAX]; /* AAAA first, then A, as the answers came */
	size_t naddrs;
	/* TLSA at _PORT._tcp.NAME, and at _PORT._tcp.CANON when canon is set and secure */
	struct dns_answer tlsa, tlsa_canon;
	const struct dns_answer *tlsa_used; /* the one the verdict is about */
	const char *tlsa_base;		    /* its base domain: name or canon (RFC 7672 2.2.2) */
	enum dane_verdict dane;
	char *dane_why; /* one line for every verdict but DANE_APPLIES, else NULL */
	bool qdone[4];	/* internal: a, aaaa, tlsa, tlsa_canon answered */
};

enum mx_route_kind {
	MX_ROUTE_MX,	   /* MX records: hosts in the order to try */
	MX_ROUTE_IMPLICIT, /* NXDOMAIN or NODATA for MX: the domain's own addresses (5.1) */
	MX_ROUTE_NULL,	   /* null MX "0 ." (RFC 7505): the domain accepts no mail */
	MX_ROUTE_FAIL,	   /* SERVFAIL, timeout, bogus, resolver error: stop, error says why */
};

struct mx_route_params {
	unsigned port;		 /* SMTP port, also the TLSA name's _PORT (default 25 when 0) */
	bool mta_sts;		 /* also look up TXT _mta-sts.DOMAIN in round 1 */
	bool skip_tlsa;		 /* no TLSA lookups (rounds 2 and 3): dane is DANE_INSECURE */
	uint32_t (*rnd)(void *); /* tie-breaker for equal preferences; NULL: dns_random */
	void *rnd_arg;
};

struct mx_route {
	char *domain;
	unsigned port;
	enum mx_route_kind kind;
	struct dns_answer mx;	   /* the MX answer: its status and DNSSEC state */
	struct dns_answer sts_txt; /* TXT _mta-sts.DOMAIN (status DNS_ERROR when not asked) */
	struct mx_host *hosts;	   /* in the order to try (RFC 5321 5.1) */
	size_t n;
	char *error; /* MX_ROUTE_FAIL: "MX lookup of example.net: SERVFAIL (bogus: ...)" */
	/* internal: the round in progress and the params */
	int round;
	struct mx_route_params params;
	struct dns_ctx *ctx;
	bool qdone[2];
};

/* Starts round 1. -1 when nothing could be submitted (route->kind MX_ROUTE_FAIL, error set,
   the route is complete). route must stay in place (answers are written into it) until it
   is complete or freed. */
int mx_route_start(struct dns_ctx *ctx, const char *domain, const struct mx_route_params *p,
		   struct mx_route *route);
/* Has every query of the current round been answered? */
bool mx_route_ready(const struct mx_route *route);
/* When the round is answered (mx_route_ready): evaluates it and submits the next round.
   Returns 1 while queries are running (also when called before the round is ready), 0 when
   the route is complete. Call it after each dns_process(). */
int mx_route_continue(struct mx_route *route);
/* Start, wait and continue until complete or timeout_ms (for all rounds together: what is
   unanswered then counts as a timeout). Returns 0; the outcome is in route->kind. */
int mx_route_resolve(struct dns_ctx *ctx, const char *domain, const struct mx_route_params *p,
		     int timeout_ms, struct mx_route *route);
/* Releases everything; the route's own queries still pending are cancelled first (other
   queries on the same context go on). */
void mx_route_free(struct mx_route *route);

/* "mx", "implicit", "null MX", "failed". */
const char *mx_route_kind_name(enum mx_route_kind k);

#endif
