/*
 * The few HTTPS fetches smtpsh makes (the MTA-STS policy, OAuth2 endpoints), on libcurl: GET,
 * or a POST of a form (OAuth2, RFC 6749 4.1.3), no redirects (a 3xx is an error that names it), a
 * size cap that aborts the transfer as soon as the body passes it, a timeout, WebPKI verification
 * always on (a CA file may replace the system store), and the host name resolved through smtpsh's
 * own libunbound context (CURLOPT_RESOLVE), never through a second resolver. The body is hostile
 * input. Nothing prints.
 */
#ifndef SMTPSH_HTTPS_H
#define SMTPSH_HTTPS_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>

#include "smtpsh/buf.h"
#include "smtpsh/dns.h"

struct https_params {
	const char *host;    /* the name in the URL: SNI, certificate check, Host: header */
	unsigned port;	     /* 443 when 0 (tests use other ports) */
	const char *path;    /* "/.well-known/mta-sts.txt" */
	const char *cafile;  /* PEM CAs to trust instead of the system store, or NULL */
	size_t max_bytes;    /* body limit: the transfer is aborted past it */
	int timeout_ms;	     /* for the address lookup and the transfer together */
	struct dns_ctx *dns; /* resolves host (A and AAAA in parallel); may be NULL when host is
				an IP address (an OAuth2 provider on loopback in the tests) */
	/* A POST of an application/x-www-form-urlencoded body instead of a GET, when not NULL
	   (borrowed; it may hold a secret: libcurl sends it from this memory, no copy). */
	const char *form;
	bool accept_json; /* send "Accept: application/json" */
};

struct https_result {
	long status;		/* the HTTP status, 0 when no response came */
	struct buf body;	/* NUL-terminated; may hold any byte */
	char content_type[128]; /* the Content-Type header's value (hostile: escape it), or "" */
};

/* Initialises / releases a result. */
void https_result_init(struct https_result *r);
void https_result_free(struct https_result *r);

/* ---- one request, driven by the caller's event loop ------------------------------------ */

struct https_req;

/* Starts a GET: the A and AAAA lookups of host go out on p->dns at once (strings are
   copied). NULL only when out of memory; other failures show in https_finish. */
struct https_req *https_start(const struct https_params *p);
/*
 * Moves the request on: call it after dns_process() on p->dns, when one of its pollfds is
 * ready, or when https_timeout_ms() passed. Returns 1 while it runs, 0 when it is done (then
 * call https_finish). Never blocks.
 */
int https_step(struct https_req *r);
/* The sockets of the transfer to poll(), into out[0..max) (none while resolving: poll
   dns_fd then). */
size_t https_pollfds(struct https_req *r, struct pollfd *out, size_t max);
/* How long the caller's poll() may wait before the next https_step (ms, at most 100). */
int https_timeout_ms(struct https_req *r);
/* The outcome as https_get returns it; frees r (a request not done yet is cancelled: its
   queries too). */
int https_finish(struct https_req *r, struct https_result *out, struct buf *err);

/* ---- blocking ----------------------------------------------------------------------------- */

/*
 * GET https://host[:port]path: https_start, https_step until done, https_finish. Blocks up
 * to timeout_ms (processing every answer that comes in on p->dns meanwhile). Returns 0
 * when a final response came (any status but 3xx: the caller judges it), or -1 with one line in
 * err: the address lookup failed, the connection or TLS verification failed, "redirect (HTTP 301 to
 * URL) refused", "larger than N bytes", timeout.
 */
int https_get(const struct https_params *p, struct https_result *out, struct buf *err);

#endif
