/*
 * The few HTTPS fetches smtpsh makes (the MTA-STS policy now, OAuth2 endpoints later), on
 * libcurl: GET only, no redirects (a 3xx is an error that names it), a size cap that aborts
 * the transfer as soon as the body passes it, a timeout, WebPKI verification always on (a CA
 * file may replace the system store), and the host name resolved through smtpsh's own
 * libunbound context (CURLOPT_RESOLVE), never through a second resolver. The body is hostile
 * input. Nothing prints.
 */
#ifndef SMTPSH_HTTPS_H
#define SMTPSH_HTTPS_H

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
	struct dns_ctx *dns; /* resolves host (A and AAAA in parallel) */
};

struct https_result {
	long status;		/* the HTTP status, 0 when no response came */
	struct buf body;	/* NUL-terminated; may hold any byte */
	char content_type[128]; /* the Content-Type header's value (hostile: escape it), or "" */
};

/* Initialises / releases a result. */
void https_result_init(struct https_result *r);
void https_result_free(struct https_result *r);

/*
 * GET https://host[:port]path. Blocking: it waits for the address lookup (dns_wait, which
 * also waits for other queries pending on p->dns) and the transfer, within timeout_ms. Returns 0
 * when a final response came (any status but 3xx: the caller judges it), or -1 with one line in
 * err: the address lookup failed, the connection or TLS verification failed, "redirect (HTTP 301 to
 * URL) refused", "larger than N bytes", timeout.
 */
int https_get(const struct https_params *p, struct https_result *out, struct buf *err);

#endif
