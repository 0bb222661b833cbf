/*
 * HTTPS GET on libcurl with everything a policy fetch must not do switched off: redirects
 * (RFC 8461 3.3: "MUST NOT follow HTTP redirects"), proxies from the environment, netrc,
 * other protocols, and curl's own name resolution (the addresses come from our validating
 * resolver through CURLOPT_RESOLVE, so the policy host resolves the way the MX does).
 */
#include "smtpsh/https.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

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

struct sink {
	struct https_result *res;
	size_t max;
	bool too_big;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb;
	if (s->res->body.len + n > s->max) {
		s->too_big = true;
		return 0; /* CURLE_WRITE_ERROR: the transfer stops here */
	}
	if (buf_append(&s->res->body, data, n) < 0)
		return 0;
	return n;
}

/* The resolver's addresses of host as a CURLOPT_RESOLVE entry "host:port:a1,[a6]". */
static int resolve_entry(const struct https_params *p, unsigned port, long long deadline,
			 struct buf *entry, struct buf *err)
{
	struct dns_answer a, aaaa;
	bool da, d6;
	dns_submit(p->dns, p->host, DNS_T_A, &a, &da);
	dns_submit(p->dns, p->host, DNS_T_AAAA, &aaaa, &d6);
	dns_wait(p->dns, deadline);
	buf_printf(entry, "%s:%u:", p->host, port);
	size_t n = 0;
	const struct dns_answer *answers[] = {&aaaa, &a};
	for (size_t k = 0; k < 2; k++) {
		for (size_t i = 0; i < answers[k]->n && n < 8; i++) {
			char text[64];
			int type = k == 0 ? DNS_T_AAAA : DNS_T_A;
			if (dns_parse_addr(type, answers[k]->rr[i].data, answers[k]->rr[i].len,
					   text, sizeof text) < 0)
				continue;
			buf_printf(entry, type == DNS_T_AAAA ? "%s[%s]" : "%s%s", n ? "," : "",
				   text);
			n++;
		}
	}
	if (n == 0) {
		const struct dns_answer *why = a.status != DNS_NODATA ? &a : &aaaa;
		buf_printf(err, "no address for %s (%s%s%s)", p->host, dns_status_name(why->status),
			   why->sec == DNS_SEC_BOGUS ? ", bogus" : "",
			   why->error ? why->error : "");
	}
	dns_answer_free(&a);
	dns_answer_free(&aaaa);
	return n ? 0 : -1;
}

static void global_init(void)
{
	static bool done;
	if (!done) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		done = true;
	}
}

int https_get(const struct https_params *p, struct https_result *out, struct buf *err)
{
	unsigned port = p->port ? p->port : 443;
	long long deadline = dns_now_ms() + p->timeout_ms;
	https_result_init(out);
	struct buf entry, url;
	buf_init(&entry);
	buf_init(&url);
	struct curl_slist *resolve = NULL;
	CURL *curl = NULL;
	int r = -1;
	if (!p->dns || resolve_entry(p, port, deadline, &entry, err) < 0)
		goto out;
	long left = (long)(deadline - dns_now_ms());
	if (left <= 0) {
		buf_printf(err, "https://%s: timeout", p->host);
		goto out;
	}
	global_init();
	curl = curl_easy_init();
	resolve = curl_slist_append(NULL, entry.data);
	if (!curl || !resolve || buf_printf(&url, "https://%s:%u%s", p->host, port, p->path) < 0) {
		buf_puts(err, "out of memory");
		goto out;
	}
	char curl_err[CURL_ERROR_SIZE] = "";
	struct sink sink = {.res = out, .max = p->max_bytes};
	curl_easy_setopt(curl, CURLOPT_URL, url.data);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(curl, CURLOPT_RESOLVE, resolve);
	curl_easy_setopt(curl, CURLOPT_PROXY, ""); /* never a proxy from the environment */
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, left);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(curl, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (p->cafile)
		curl_easy_setopt(curl, CURLOPT_CAINFO, p->cafile);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "smtpsh/" SMTPSH_VERSION);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_err);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
	/* a Content-Length over the limit stops before the body */
	curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)p->max_bytes);
	CURLcode rc = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out->status);
	if (sink.too_big || rc == CURLE_FILESIZE_EXCEEDED) {
		buf_printf(err, "%s: larger than %zu bytes, transfer aborted", url.data,
			   p->max_bytes);
		goto out;
	}
	if (rc != CURLE_OK) {
		buf_printf(err, "%s: %s", url.data,
			   curl_err[0] ? curl_err : curl_easy_strerror(rc));
		goto out;
	}
	if (out->status >= 300 && out->status < 400) {
		char *location = NULL;
		curl_easy_getinfo(curl, CURLINFO_REDIRECT_URL, &location);
		buf_printf(err, "%s: redirect (HTTP %ld%s%.200s) refused", url.data, out->status,
			   location ? " to " : "", location ? location : "");
		goto out;
	}
	char *ctype = NULL;
	curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ctype);
	if (ctype)
		snprintf(out->content_type, sizeof out->content_type, "%s", ctype);
	if (buf_reserve(&out->body, 1) < 0) {
		buf_puts(err, "out of memory");
		goto out;
	}
	r = 0;
out:
	if (r < 0)
		buf_free(&out->body);
	curl_slist_free_all(resolve);
	if (curl)
		curl_easy_cleanup(curl);
	buf_free(&entry);
	buf_free(&url);
	return r;
}
