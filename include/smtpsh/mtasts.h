/*
 * MTA-STS (RFC 8461): the "_mta-sts" TXT record (3.1), the policy file (3.2), matching an MX
 * host against the policy's patterns (4.1), the policy cache (5) and the fetch (3.3, over
 * src/net/https.c). The record and the policy are hostile input: parsed with bounds, never
 * trusted to be text. Nothing prints; errors are one line in err.
 */
#ifndef SMTPSH_MTASTS_H
#define SMTPSH_MTASTS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "smtpsh/buf.h"

#define MTASTS_POLICY_MAX (64 * 1024) /* the fetch limit (3.3: "64 KiB", a SHOULD) */
#define MTASTS_MX_MAX 64	      /* mx lines kept; more is an error */
#define MTASTS_MAX_AGE_MAX 31557600UL /* 3.2: "up to 31557600" (about a year) */

/* The TXT record, 3.1: "v=STSv1; id=20160831085700Z;". */
struct mtasts_txt {
	char id[33]; /* 1*32(ALPHA / DIGIT) */
};

/*
 * Parses one TXT record (the strings already joined, dns_parse_txt). v=STSv1 must be the first
 * field, id is required; other fields are ignored (3.1: extensions). Returns 0, or -1 with
 * the reason in err (appended).
 */
int mtasts_parse_txt(const char *rec, size_t len, struct mtasts_txt *out, struct buf *err);

enum mtasts_mode {
	MTASTS_NONE,
	MTASTS_TESTING,
	MTASTS_ENFORCE,
};
const char *mtasts_mode_name(enum mtasts_mode m);

struct mtasts_policy {
	enum mtasts_mode mode;
	unsigned long max_age;	 /* seconds, at most MTASTS_MAX_AGE_MAX */
	char *mx[MTASTS_MX_MAX]; /* patterns, lower-cased: "mail.example.net", "*.example.net" */
	size_t nmx;
};

void mtasts_policy_init(struct mtasts_policy *p);
void mtasts_policy_free(struct mtasts_policy *p);

/*
 * Parses a policy body (3.2): "key: value" lines ended by CRLF or LF (the last may lack
 * one), version STSv1 first, mode enforce|testing|none, max_age 0..31557600, one or more mx
 * (not required for mode none). Unknown keys are ignored, a repeated version/mode/max_age is
 * an error. Lines over 1000 bytes, NUL, and more than MTASTS_POLICY_MAX bytes are errors.
 * Returns 0, or -1 with the reason in err (appended).
 */
int mtasts_parse_policy(const char *body, size_t len, struct mtasts_policy *out, struct buf *err);

/* Does the MX host name match one of the policy's mx patterns (4.1)? Case-insensitive, a
   trailing dot ignored; "*.example.net" matches exactly one more label on the left. */
bool mtasts_mx_match(const struct mtasts_policy *p, const char *host);

/* ---- the cache (section 5) ---------------------------------------------------------------- */

/* $XDG_CACHE_HOME/smtpsh/mta-sts (or ~/.cache/smtpsh/mta-sts) into out. */
int mtasts_cache_dir(struct buf *out);

struct mtasts_cached {
	char id[33];	/* the TXT id the policy was fetched under */
	time_t fetched; /* when (seconds since the epoch) */
	struct mtasts_policy policy;
};

/*
 * Loads the cached policy of domain from dir. Returns 1 when one is there and not expired
 * (fetched + max_age > now), 0 when none or expired (an expired file is removed), -1 when the
 * file is unreadable or damaged (err says why; the caller then fetches anew).
 */
int mtasts_cache_load(const char *dir, const char *domain, time_t now, struct mtasts_cached *out,
		      struct buf *err);
void mtasts_cached_free(struct mtasts_cached *c);

/* Stores a policy body fetched under id at time now: the directory is made with mode 0700,
   the file written to a temporary name with mode 0600 and renamed over the old one, so a
   reader never sees half a policy. 0, or -1 with the reason in err. */
int mtasts_cache_store(const char *dir, const char *domain, const char *id, time_t now,
		       const char *body, size_t len, struct buf *err);

/* Section 5: fetch the policy when there is no fresh cached one, or when the TXT record's id
   differs from the cached one. Without a TXT record a fresh cached policy stays in force. */
bool mtasts_need_fetch(const struct mtasts_cached *cached, const struct mtasts_txt *txt);

/* Is the domain usable as a cache file name (letters, digits, "-", "_", "." between labels,
   at most 253 bytes)? Domains from the network are checked before they name a file. */
bool mtasts_domain_ok(const char *domain);

/* ---- discovery and fetch (src/net/mtasts_fetch.c, on https.c) ---------------------------- */

struct dns_ctx;
struct dns_answer;

#define MTASTS_CAFILE_ENV "SMTPSH_MTA_STS_CAFILE"

struct mtasts_params {
	unsigned port;	    /* HTTPS port of mta-sts.DOMAIN, 443 when 0 (tests use others) */
	const char *cafile; /* CAs the fetch trusts; NULL: $SMTPSH_MTA_STS_CAFILE, else the
			       system store */
	int timeout_ms;
	const char *cache_dir; /* NULL: mtasts_cache_dir(); "": no cache at all */
	time_t now;	       /* 0: time(NULL) */
};

enum mtasts_source {
	MTASTS_SRC_NONE,    /* no policy applies (no record, or none could be had) */
	MTASTS_SRC_CACHE,   /* a fresh cached policy with the current id (or no TXT now) */
	MTASTS_SRC_FETCHED, /* fetched now (and cached) */
};

struct mtasts_result {
	enum mtasts_source source;
	bool have_txt; /* exactly one valid v=STSv1 record */
	struct mtasts_txt txt;
	struct mtasts_cached policy; /* valid when source != MTASTS_SRC_NONE */
	struct buf note; /* one line on what happened: "no _mta-sts record", "fetch failed: ...,
			    using the cached policy", "cache: ..." (hostile parts not escaped) */
};

void mtasts_result_free(struct mtasts_result *r);

/* Discovery driven by the caller's event loop (the blocking mtasts_discover runs it). */
struct https_req;
struct mtasts_discovery {
	struct mtasts_result result; /* complete when the last call returned 0 */
	struct https_req *req;	     /* the policy fetch while it runs: poll https_pollfds(req)
					and dns_fd, see https.h */
	/* internal */
	char *domain;
	struct buf dir;
	bool use_cache;
	int cached;
	time_t now;
};
/* Reads the TXT answer and the cache; starts the fetch when one is needed. Returns 1 while
   the fetch runs (call mtasts_discover_step after dns_process or when a pollfd of req is
   ready), 0 when result is complete. */
int mtasts_discover_start(struct dns_ctx *dns, const char *domain, const struct dns_answer *sts_txt,
			  const struct mtasts_params *p, struct mtasts_discovery *d);
int mtasts_discover_step(struct mtasts_discovery *d);
/* Releases d (a fetch still running is cancelled). */
void mtasts_discovery_free(struct mtasts_discovery *d);

/*
 * Section 3 and 5 together: reads the _mta-sts TXT answer (one valid v=STSv1 record or no
 * policy, 3.1), takes the cached policy when its id is current, else fetches
 * https://mta-sts.DOMAIN/.well-known/mta-sts.txt (200 and text/plain required, 3.3), parses
 * and caches it. A failed fetch falls back to a fresh cached policy. Returns 0 (the outcome is
 * in r->source and r->note), -1 only when out of memory.
 */
int mtasts_discover(struct dns_ctx *dns, const char *domain, const struct dns_answer *sts_txt,
		    const struct mtasts_params *p, struct mtasts_result *r);

#endif
