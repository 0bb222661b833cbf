/*
 * HTTPS GET on libcurl with everything a policy fetch must not do switched off: redirects
 * (RFC 8461 3.3: "MUST NOT follow HTTP redirects"), proxies from the environment, netrc,
 * other protocols, and curl's own name resolution (the addresses come from our validating
 * resolver through CURLOPT_RESOLVE, so the policy host resolves the way the MX does).
 *
 * A request is a small state machine so that an event loop can run it beside the REPL:
 * RESOLVING (A and AAAA on the dns context) -> TRANSFER (a curl multi handle, driven with
 * curl_multi_perform; its sockets come from curl_multi_fdset) -> DONE. https_get runs one
 * to the end.
 */
#include "smtpsh/https.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <sys/select.h>

#include <curl/curl.h>

#include "config.h"

void https_result_init(struct https_result *r)
{
	memset(r, 0, sizeof *r);
	buf_init(&r->body);
}

void https_result_free(struct https_result *r)
{
	buf_free(&r->body);
	https_result_init(r);
}

enum req_state {
	REQ_RESOLVING,
	REQ_TRANSFER,
	REQ_DONE,
};

struct https_req {
	enum req_state state;
	struct dns_ctx *dns;
	char *host, *path, *cafile;
	unsigned port;
	size_t max_bytes;
	long long deadline;
	struct dns_answer a, aaaa;
	bool a_done, aaaa_done;
	CURLM *multi;
	CURL *easy;
	struct curl_slist *resolve;
	struct curl_slist *headers;
	const char *form; /* borrowed from the params: the caller keeps it until https_finish */
	bool accept_json;
	bool literal; /* host is an IP address: no lookup */
	struct buf url;
	char curl_err[CURL_ERROR_SIZE];
	bool too_big;
	struct https_result res;
	struct buf err; /* set when the request failed */
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct https_req *r = arg;
	size_t n = size * nmemb;
	if (r->res.body.len + n > r->max_bytes) {
		r->too_big = true;
		return 0; /* CURLE_WRITE_ERROR: the transfer stops here */
	}
	if (buf_append(&r->res.body, data, n) < 0)
		return 0;
	return n;
}

static void global_init(void)
{
	static bool done;
	if (!done) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		done = true;
	}
}

static void fail(struct https_req *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct https_req *r, const char *fmt, ...)
{
	if (r->err.len == 0) {
		va_list ap;
		va_start(ap, fmt);
		buf_vprintf(&r->err, fmt, ap);
		va_end(ap);
	}
	r->state = REQ_DONE;
}

struct https_req *https_start(const struct https_params *p)
{
	struct https_req *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	buf_init(&r->url);
	buf_init(&r->err);
	https_result_init(&r->res);
	dns_answer_init(&r->a);
	dns_answer_init(&r->aaaa);
	r->a_done = r->aaaa_done = true;
	r->dns = p->dns;
	r->port = p->port ? p->port : 443;
	r->max_bytes = p->max_bytes;
	r->deadline = dns_now_ms() + p->timeout_ms;
	r->host = strdup(p->host);
	r->path = strdup(p->path);
	r->cafile = p->cafile ? strdup(p->cafile) : NULL;
	r->state = REQ_RESOLVING;
	r->form = p->form;
	r->accept_json = p->accept_json;
	if (!r->host || !r->path || (p->cafile && !r->cafile)) {
		fail(r, "out of memory");
		return r;
	}
	/* An address needs no lookup (and libunbound would look it up as a name). */
	unsigned char addr[16];
	if (inet_pton(AF_INET, r->host, addr) == 1 || inet_pton(AF_INET6, r->host, addr) == 1) {
		r->literal = true;
		return r;
	}
	if (!r->dns) {
		fail(r, "https://%s: no resolver", r->host);
		return r;
	}
	dns_submit(r->dns, r->host, DNS_T_A, &r->a, &r->a_done);
	dns_submit(r->dns, r->host, DNS_T_AAAA, &r->aaaa, &r->aaaa_done);
	return r;
}

/* The resolver's addresses as a CURLOPT_RESOLVE entry "host:port:[a6],a4". */
static int resolve_entry(struct https_req *r, struct buf *entry)
{
	buf_printf(entry, "%s:%u:", r->host, r->port);
	size_t n = 0;
	const struct dns_answer *answers[] = {&r->aaaa, &r->a};
	for (size_t k = 0; k < 2; k++) {
		for (size_t i = 0; i < answers[k]->n && n < 8; i++) {
			char text[64];
			int type = answers[k]->qtype;
			if (dns_parse_addr(type, answers[k]->rr[i].data, answers[k]->rr[i].len,
					   text, sizeof text) < 0)
				continue;
			buf_printf(entry, type == DNS_T_AAAA ? "%s[%s]" : "%s%s", n ? "," : "",
				   text);
			n++;
		}
	}
	if (n == 0) {
		const struct dns_answer *why = r->a.status != DNS_NODATA ? &r->a : &r->aaaa;
		fail(r, "no address for %s (%s%s%s%s)", r->host, dns_status_name(why->status),
		     why->sec == DNS_SEC_BOGUS ? ", bogus" : "", why->error ? ", " : "",
		     why->error ? why->error : "");
		return -1;
	}
	return 0;
}

static void start_transfer(struct https_req *r)
{
	struct buf entry;
	buf_init(&entry);
	if (!r->literal && resolve_entry(r, &entry) < 0) {
		buf_free(&entry);
		return;
	}
	long left = (long)(r->deadline - dns_now_ms());
	if (left <= 0) {
		buf_free(&entry);
		fail(r, "https://%s: timeout", r->host);
		return;
	}
	global_init();
	r->multi = curl_multi_init();
	r->easy = curl_easy_init();
	r->resolve = r->literal ? NULL : curl_slist_append(NULL, entry.data);
	buf_free(&entry);
	bool v6 = strchr(r->host, ':') != NULL;
	if (!r->multi || !r->easy || (!r->literal && !r->resolve) ||
	    buf_printf(&r->url, "https://%s%s%s:%u%s", v6 ? "[" : "", r->host, v6 ? "]" : "",
		       r->port, r->path) < 0) {
		fail(r, "out of memory");
		return;
	}
	CURL *c = r->easy;
	curl_easy_setopt(c, CURLOPT_URL, r->url.data);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	if (r->resolve)
		curl_easy_setopt(c, CURLOPT_RESOLVE, r->resolve);
	if (r->form) {
		/* CURLOPT_POSTFIELDS sends from the caller's memory: no copy of a secret */
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->form);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(r->form));
	}
	if (r->accept_json) {
		r->headers = curl_slist_append(NULL, "Accept: application/json");
		if (r->headers)
			curl_easy_setopt(c, CURLOPT_HTTPHEADER, r->headers);
	}
	curl_easy_setopt(c, CURLOPT_PROXY, ""); /* never a proxy from the environment */
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, left);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (r->cafile)
		curl_easy_setopt(c, CURLOPT_CAINFO, r->cafile);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "smtpsh/" SMTPSH_VERSION);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->curl_err);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	/* a Content-Length over the limit stops before the body */
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)r->max_bytes);
	if (curl_multi_add_handle(r->multi, c) != CURLM_OK) {
		fail(r, "cannot start the transfer");
		return;
	}
	r->state = REQ_TRANSFER;
}

/* The transfer ended with rc: judge it as https_get documents. */
static void transfer_done(struct https_req *r, CURLcode rc)
{
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->res.status);
	r->state = REQ_DONE;
	if (r->too_big || rc == CURLE_FILESIZE_EXCEEDED) {
		fail(r, "%s: larger than %zu bytes, transfer aborted", r->url.data, r->max_bytes);
		return;
	}
	if (rc != CURLE_OK) {
		fail(r, "%s: %s", r->url.data,
		     r->curl_err[0] ? r->curl_err : curl_easy_strerror(rc));
		return;
	}
	if (r->res.status >= 300 && r->res.status < 400) {
		char *location = NULL;
		curl_easy_getinfo(r->easy, CURLINFO_REDIRECT_URL, &location);
		fail(r, "%s: redirect (HTTP %ld%s%.200s) refused", r->url.data, r->res.status,
		     location ? " to " : "", location ? location : "");
		return;
	}
	char *ctype = NULL;
	curl_easy_getinfo(r->easy, CURLINFO_CONTENT_TYPE, &ctype);
	if (ctype)
		snprintf(r->res.content_type, sizeof r->res.content_type, "%s", ctype);
	if (buf_reserve(&r->res.body, 1) < 0)
		fail(r, "out of memory");
}

int https_step(struct https_req *r)
{
	if (r->state == REQ_DONE)
		return 0;
	if (dns_now_ms() >= r->deadline) {
		if (r->state == REQ_RESOLVING) {
			dns_cancel(r->dns, &r->a, "no answer before the timeout");
			dns_cancel(r->dns, &r->aaaa, "no answer before the timeout");
		}
		fail(r, "https://%s:%u%s: timeout", r->host, r->port, r->path);
		return 0;
	}
	if (r->state == REQ_RESOLVING) {
		if (!r->a_done || !r->aaaa_done)
			return 1;
		start_transfer(r);
		if (r->state != REQ_TRANSFER)
			return 0;
	}
	int running = 0;
	if (curl_multi_perform(r->multi, &running) != CURLM_OK) {
		fail(r, "%s: transfer failed", r->url.data);
		return 0;
	}
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(r->multi, &left)))
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == r->easy)
			transfer_done(r, msg->data.result);
	if (r->state == REQ_TRANSFER && running == 0)
		fail(r, "%s: the transfer ended without a result", r->url.data);
	return r->state == REQ_DONE ? 0 : 1;
}

size_t https_pollfds(struct https_req *r, struct pollfd *out, size_t max)
{
	if (r->state != REQ_TRANSFER)
		return 0;
	fd_set rd, wr, ex;
	FD_ZERO(&rd);
	FD_ZERO(&wr);
	FD_ZERO(&ex);
	int maxfd = -1;
	if (curl_multi_fdset(r->multi, &rd, &wr, &ex, &maxfd) != CURLM_OK)
		return 0;
	size_t n = 0;
	for (int fd = 0; fd <= maxfd && n < max; fd++) {
		short ev =
		    (short)((FD_ISSET(fd, &rd) ? POLLIN : 0) | (FD_ISSET(fd, &wr) ? POLLOUT : 0));
		if (ev || FD_ISSET(fd, &ex)) {
			out[n].fd = fd;
			out[n].events = ev;
			out[n].revents = 0;
			n++;
		}
	}
	return n;
}

int https_timeout_ms(struct https_req *r)
{
	long long left = r->deadline - dns_now_ms();
	if (r->state == REQ_DONE || left <= 0)
		return 0;
	long t = -1;
	if (r->state == REQ_TRANSFER)
		curl_multi_timeout(r->multi, &t);
	/* curl without a timer (-1) or while resolving: wake up at least every 100 ms */
	if (t < 0 || t > 100)
		t = 100;
	return (int)(t < left ? t : left);
}

int https_finish(struct https_req *r, struct https_result *out, struct buf *err)
{
	int rc = 0;
	https_result_init(out);
	if (r->state != REQ_DONE)
		fail(r, "https://%s:%u%s: cancelled", r->host ? r->host : "?", r->port,
		     r->path ? r->path : "");
	if (r->err.len) {
		buf_append(err, r->err.data, r->err.len);
		rc = -1;
		buf_free(&r->res.body);
	}
	*out = r->res;
	if (r->dns) {
		dns_cancel(r->dns, &r->a, "cancelled");
		dns_cancel(r->dns, &r->aaaa, "cancelled");
	}
	dns_answer_free(&r->a);
	dns_answer_free(&r->aaaa);
	if (r->multi && r->easy)
		curl_multi_remove_handle(r->multi, r->easy);
	if (r->easy)
		curl_easy_cleanup(r->easy);
	if (r->multi)
		curl_multi_cleanup(r->multi);
	curl_slist_free_all(r->resolve);
	curl_slist_free_all(r->headers);
	buf_free(&r->url);
	buf_free(&r->err);
	free(r->host);
	free(r->path);
	free(r->cafile);
	free(r);
	return rc;
}

int https_get(const struct https_params *p, struct https_result *out, struct buf *err)
{
	struct https_req *r = https_start(p);
	if (!r) {
		https_result_init(out);
		buf_puts(err, "out of memory");
		return -1;
	}
	while (https_step(r) == 1) {
		struct pollfd pfd[9];
		size_t n = https_pollfds(r, pfd, 8);
		pfd[n].fd = p->dns ? dns_fd(p->dns) : -1; /* poll() skips a negative fd */
		pfd[n].events = POLLIN;
		pfd[n].revents = 0;
		if (poll(pfd, n + 1, https_timeout_ms(r)) < 0 && errno != EINTR)
			break;
		if (pfd[n].revents & POLLIN)
			dns_process(p->dns);
	}
	return https_finish(r, out, err);
}
