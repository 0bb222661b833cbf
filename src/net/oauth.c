#include "smtpsh/oauth.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <openssl/crypto.h>

#include "smtpsh/https.h"

static void free_secret_str(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

void oauth_token_free(struct oauth_token *t)
{
	free_secret_str(t->access_token);
	free_secret_str(t->refresh_token);
	free(t->scope);
	free(t->token_type);
	memset(t, 0, sizeof *t);
}

/* A string member (NULL when absent or not a string); -1 when it is longer than max. */
static int member(struct json_object *obj, const char *key, size_t max, char **out)
{
	struct json_object *v;
	*out = NULL;
	if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
		return 0;
	const char *s = json_object_get_string(v);
	size_t n = (size_t)json_object_get_string_len(v);
	if (n > max || strlen(s) != n) /* a NUL inside would cut the value: refused too */
		return -1;
	*out = strdup(s);
	return *out ? 0 : -1;
}

static void member_fixed(struct json_object *obj, const char *key, char *dst, size_t size)
{
	struct json_object *v;
	dst[0] = '\0';
	if (json_object_object_get_ex(obj, key, &v) && json_object_is_type(v, json_type_string))
		snprintf(dst, size, "%s", json_object_get_string(v));
}

int oauth_parse_token(const char *body, size_t len, long status, struct oauth_token *out,
		      struct buf *err)
{
	memset(out, 0, sizeof *out);
	if (len > OAUTH_BODY_MAX) {
		buf_printf(err, "the token endpoint's answer is larger than %d bytes",
			   OAUTH_BODY_MAX);
		return -1;
	}
	/* A flat object (depth 4 leaves room for what providers add), nothing after it. */
	struct json_tokener *tok = json_tokener_new_ex(4);
	if (!tok) {
		buf_puts(err, "out of memory");
		return -1;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	struct json_object *obj = json_tokener_parse_ex(tok, body, (int)len);
	size_t end = obj ? json_tokener_get_parse_end(tok) : 0;
	while (obj && end < len && body[end] && strchr(" \t\r\n", body[end]))
		end++;
	bool whole = obj && end == len && json_object_is_type(obj, json_type_object);
	json_tokener_free(tok);
	int r = -1;
	if (!whole) {
		buf_printf(err, "the token endpoint's answer (HTTP %ld) is not a JSON object",
			   status);
		goto out;
	}
	member_fixed(obj, "error", out->error, sizeof out->error);
	if (out->error[0]) {
		/* RFC 6749 5.2: an error, whatever the status (400, 401) */
		member_fixed(obj, "error_description", out->error_description,
			     sizeof out->error_description);
		r = 1;
		goto out;
	}
	if (status != 200) {
		buf_printf(err, "the token endpoint answered HTTP %ld without an OAuth2 error",
			   status);
		goto out;
	}
	/* Tokens are at most a few KiB (Microsoft's JWTs ~2-4 KiB); 16 KiB is plenty. */
	if (member(obj, "access_token", 16384, &out->access_token) < 0 ||
	    member(obj, "refresh_token", 16384, &out->refresh_token) < 0 ||
	    member(obj, "scope", 4096, &out->scope) < 0 ||
	    member(obj, "token_type", 64, &out->token_type) < 0) {
		buf_puts(err,
			 "the token endpoint's answer has a value that is too long or not text");
		goto out;
	}
	if (!out->access_token || !*out->access_token) {
		buf_puts(err, "the token endpoint's answer has no access_token");
		goto out;
	}
	/* RFC 6749 7.1: SMTP's mechanisms carry a Bearer token (RFC 6750) and nothing else */
	if (!out->token_type || strcasecmp(out->token_type, "Bearer") != 0) {
		buf_printf(err, "the token endpoint's token is not of type Bearer");
		goto out;
	}
	struct json_object *v;
	if (json_object_object_get_ex(obj, "expires_in", &v)) {
		/* a number, or (some providers) a string of digits */
		long long e = json_object_is_type(v, json_type_int) ? json_object_get_int64(v)
			      : json_object_is_type(v, json_type_string)
				  ? strtoll(json_object_get_string(v), NULL, 10)
				  : 0;
		out->expires_in = e > 0 && e < 10L * 365 * 86400 ? (long)e : 0;
	}
	r = 0;
out:
	json_object_put(obj);
	if (r != 0) {
		char e[64], d[256];
		memcpy(e, out->error, sizeof e);
		memcpy(d, out->error_description, sizeof d);
		oauth_token_free(out);
		memcpy(out->error, e, sizeof e);
		memcpy(out->error_description, d, sizeof d);
	}
	return r;
}

int oauth_form_add(struct buf *form, const char *name, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	if (form->len && buf_putc(form, '&') < 0)
		return -1;
	if (buf_puts(form, name) < 0 || buf_putc(form, '=') < 0)
		return -1;
	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		unsigned char c = *p;
		bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
				  (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
				  c == '~';
		char enc[3] = {'%', hex[c >> 4], hex[c & 15]};
		if (unreserved ? buf_putc(form, (char)c) < 0 : buf_append(form, enc, 3) < 0)
			return -1;
	}
	return 0;
}

int oauth_url_parse(const char *url, struct oauth_url *out, struct buf *err)
{
	memset(out, 0, sizeof *out);
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL;
	int r = -1;
	if (!u) {
		buf_puts(err, "out of memory");
		return -1;
	}
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		buf_printf(err, "not a URL: %.200s", url);
		goto out;
	}
	if (strcasecmp(scheme, "https") != 0) {
		buf_printf(err, "%.200s: OAuth2 endpoints are reached over https only", url);
		goto out;
	}
	curl_url_get(u, CURLUPART_PORT, &port, 0);
	curl_url_get(u, CURLUPART_PATH, &path, 0);
	curl_url_get(u, CURLUPART_QUERY, &query, 0);
	size_t hn = strlen(host);
	const char *h = host;
	if (hn >= 2 && host[0] == '[' && host[hn - 1] == ']') { /* an IPv6 address */
		h = host + 1;
		hn -= 2;
	}
	int pl = snprintf(out->path, sizeof out->path, "%s%s%s", path && *path ? path : "/",
			  query ? "?" : "", query ? query : "");
	if (hn == 0 || hn >= sizeof out->host || pl < 0 || (size_t)pl >= sizeof out->path) {
		buf_printf(err, "%.200s: the host or path is too long", url);
		goto out;
	}
	memcpy(out->host, h, hn);
	out->host[hn] = '\0';
	out->port = port ? (unsigned)strtoul(port, NULL, 10) : 443;
	r = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_free(query);
	curl_url_cleanup(u);
	return r;
}

/* POSTs form to the token endpoint and reads the answer (oauth_refresh's contract). */
static int token_request(const struct oauth_client *c, const char *form, struct oauth_token *out,
			 struct buf *err)
{
	memset(out, 0, sizeof *out);
	struct oauth_url u;
	if (oauth_url_parse(c->token_url, &u, err) < 0)
		return -1;
	struct https_params p = {
	    .host = u.host,
	    .port = u.port,
	    .path = u.path,
	    .cafile = c->cafile,
	    .max_bytes = OAUTH_BODY_MAX,
	    .timeout_ms = c->timeout_ms > 0 ? c->timeout_ms : 30000,
	    .dns = c->dns,
	    .form = form,
	    .accept_json = true,
	};
	struct https_result res;
	struct buf herr;
	buf_init(&herr);
	int r = https_get(&p, &res, &herr);
	if (r < 0) {
		buf_printf(err, "token endpoint: %s", herr.data ? herr.data : "failed");
		buf_free(&herr);
		return -1;
	}
	buf_free(&herr);
	r = oauth_parse_token(res.body.data ? res.body.data : "", res.body.len, res.status, out,
			      err);
	/* the body held the tokens: wipe it */
	if (res.body.data)
		OPENSSL_cleanse(res.body.data, res.body.cap);
	https_result_free(&res);
	return r;
}

/* ---- the device authorization grant (RFC 8628) ------------------------------------------ */

void oauth_device_free(struct oauth_device *d)
{
	free_secret_str(d->device_code);
	free(d->user_code);
	free(d->verification_uri);
	free(d->verification_uri_complete);
	memset(d, 0, sizeof *d);
}

static long member_long(struct json_object *obj, const char *key, long dflt, long max)
{
	struct json_object *v;
	if (!json_object_object_get_ex(obj, key, &v))
		return dflt;
	long long e = json_object_is_type(v, json_type_int) ? json_object_get_int64(v)
		      : json_object_is_type(v, json_type_string)
			  ? strtoll(json_object_get_string(v), NULL, 10)
			  : -1;
	return e >= 0 && e <= max ? (long)e : dflt;
}

/* Parses body as one flat JSON object (depth 4, strict, nothing after it); NULL if not. */
static struct json_object *parse_object(const char *body, size_t len)
{
	if (len > OAUTH_BODY_MAX)
		return NULL;
	struct json_tokener *tok = json_tokener_new_ex(4);
	if (!tok)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	struct json_object *obj = json_tokener_parse_ex(tok, body, (int)len);
	size_t end = obj ? json_tokener_get_parse_end(tok) : 0;
	while (obj && end < len && body[end] && strchr(" \t\r\n", body[end]))
		end++;
	json_tokener_free(tok);
	if (obj && (end != len || !json_object_is_type(obj, json_type_object))) {
		json_object_put(obj);
		obj = NULL;
	}
	return obj;
}

int oauth_parse_device(const char *body, size_t len, long status, struct oauth_device *out,
		       struct oauth_token *tok_err, struct buf *err)
{
	memset(out, 0, sizeof *out);
	memset(tok_err, 0, sizeof *tok_err);
	struct json_object *obj = parse_object(body, len);
	int r = -1;
	if (!obj) {
		buf_printf(err, "the device endpoint's answer (HTTP %ld) is not a JSON object",
			   status);
		return -1;
	}
	member_fixed(obj, "error", tok_err->error, sizeof tok_err->error);
	if (tok_err->error[0]) {
		member_fixed(obj, "error_description", tok_err->error_description,
			     sizeof tok_err->error_description);
		r = 1;
		goto out;
	}
	if (status != 200) {
		buf_printf(err, "the device endpoint answered HTTP %ld without an OAuth2 error",
			   status);
		goto out;
	}
	if (member(obj, "device_code", 4096, &out->device_code) < 0 ||
	    member(obj, "user_code", 64, &out->user_code) < 0 ||
	    member(obj, "verification_uri", 1024, &out->verification_uri) < 0 ||
	    member(obj, "verification_uri_complete", 1024, &out->verification_uri_complete) < 0) {
		buf_puts(err, "the device endpoint's answer has a value that is too long");
		goto out;
	}
	if (!out->verification_uri &&
	    member(obj, "verification_url", 1024, &out->verification_uri) < 0) {
		buf_puts(err, "the device endpoint's answer has a value that is too long");
		goto out;
	}
	if (!out->device_code || !*out->device_code || !out->user_code || !*out->user_code ||
	    !out->verification_uri) {
		buf_puts(err, "the device endpoint's answer lacks device_code, user_code or "
			      "verification_uri");
		goto out;
	}
	/* the user is sent there: https only, never a javascript: or file: URI */
	if (strncasecmp(out->verification_uri, "https://", 8) != 0 ||
	    (out->verification_uri_complete &&
	     strncasecmp(out->verification_uri_complete, "https://", 8) != 0)) {
		buf_puts(err, "the device endpoint's verification URI is not https");
		goto out;
	}
	out->expires_in = member_long(obj, "expires_in", 900, 86400);
	out->interval = member_long(obj, "interval", 5, 3600);
	r = 0;
out:
	json_object_put(obj);
	if (r != 0)
		oauth_device_free(out);
	return r;
}

/* POSTs form to url; the answer's status into *status (the body is dropped). */
static int post(const struct oauth_client *c, const char *url, const char *form, long *status,
		struct buf *err)
{
	struct oauth_url u;
	if (oauth_url_parse(url, &u, err) < 0)
		return -1;
	struct https_params p = {
	    .host = u.host,
	    .port = u.port,
	    .path = u.path,
	    .cafile = c->cafile,
	    .max_bytes = OAUTH_BODY_MAX,
	    .timeout_ms = c->timeout_ms > 0 ? c->timeout_ms : 30000,
	    .dns = c->dns,
	    .form = form,
	    .accept_json = true,
	};
	struct https_result res;
	int r = https_get(&p, &res, err);
	*status = res.status;
	https_result_free(&res);
	return r;
}

int oauth_revoke(const struct oauth_client *c, const char *revoke_url, const char *refresh_token,
		 struct buf *err)
{
	struct buf form;
	buf_init(&form);
	size_t need = 96 + 3 * (strlen(refresh_token) + strlen(c->client_id) +
				(c->client_secret ? strlen(c->client_secret) : 0));
	int r = -1;
	long status = 0;
	if (buf_reserve(&form, need) < 0 || oauth_form_add(&form, "token", refresh_token) < 0 ||
	    oauth_form_add(&form, "token_type_hint", "refresh_token") < 0 ||
	    oauth_form_add(&form, "client_id", c->client_id) < 0 ||
	    (c->client_secret && oauth_form_add(&form, "client_secret", c->client_secret) < 0)) {
		buf_puts(err, "out of memory");
	} else if (post(c, revoke_url, form.data, &status, err) == 0) {
		if (status == 200)
			r = 0;
		else
			buf_printf(err, "the revocation endpoint answered HTTP %ld", status);
	}
	buf_free_secret(&form);
	return r;
}

int oauth_device_start(const struct oauth_client *c, const char *device_url,
		       struct oauth_device *out, struct oauth_token *tok_err, struct buf *err)
{
	memset(out, 0, sizeof *out);
	memset(tok_err, 0, sizeof *tok_err);
	struct buf form;
	buf_init(&form);
	struct oauth_url u;
	int r = -1;
	if (oauth_form_add(&form, "client_id", c->client_id) < 0 ||
	    (c->scope && *c->scope && oauth_form_add(&form, "scope", c->scope) < 0)) {
		buf_puts(err, "out of memory");
		goto out;
	}
	if (oauth_url_parse(device_url, &u, err) < 0)
		goto out;
	struct https_params p = {
	    .host = u.host,
	    .port = u.port,
	    .path = u.path,
	    .cafile = c->cafile,
	    .max_bytes = OAUTH_BODY_MAX,
	    .timeout_ms = c->timeout_ms > 0 ? c->timeout_ms : 30000,
	    .dns = c->dns,
	    .form = form.data,
	    .accept_json = true,
	};
	struct https_result res;
	struct buf herr;
	buf_init(&herr);
	if (https_get(&p, &res, &herr) < 0) {
		buf_printf(err, "device endpoint: %s", herr.data ? herr.data : "failed");
		buf_free(&herr);
		goto out;
	}
	buf_free(&herr);
	r = oauth_parse_device(res.body.data ? res.body.data : "", res.body.len, res.status, out,
			       tok_err, err);
	if (res.body.data)
		OPENSSL_cleanse(res.body.data, res.body.cap);
	https_result_free(&res);
out:
	buf_free(&form);
	return r;
}

int oauth_device_poll(const struct oauth_client *c, const char *device_code,
		      struct oauth_token *out, struct buf *err)
{
	struct buf form;
	buf_init(&form);
	size_t need = 160 + 3 * (strlen(device_code) + strlen(c->client_id) +
				 (c->client_secret ? strlen(c->client_secret) : 0));
	int r = -1;
	if (buf_reserve(&form, need) < 0 ||
	    oauth_form_add(&form, "grant_type", "urn:ietf:params:oauth:grant-type:device_code") <
		0 ||
	    oauth_form_add(&form, "device_code", device_code) < 0 ||
	    oauth_form_add(&form, "client_id", c->client_id) < 0 ||
	    (c->client_secret && oauth_form_add(&form, "client_secret", c->client_secret) < 0)) {
		buf_puts(err, "out of memory");
		memset(out, 0, sizeof *out);
	} else {
		r = token_request(c, form.data, out, err);
	}
	buf_free_secret(&form);
	return r;
}

int oauth_refresh(const struct oauth_client *c, const char *refresh_token, struct oauth_token *out,
		  struct buf *err)
{
	struct buf form;
	buf_init(&form);
	/* one allocation of the worst size: the form holds the refresh token */
	size_t need = 128 + 3 * (strlen(refresh_token) + strlen(c->client_id) +
				 (c->client_secret ? strlen(c->client_secret) : 0) +
				 (c->scope ? strlen(c->scope) : 0));
	int r = -1;
	if (buf_reserve(&form, need) < 0 ||
	    oauth_form_add(&form, "grant_type", "refresh_token") < 0 ||
	    oauth_form_add(&form, "refresh_token", refresh_token) < 0 ||
	    oauth_form_add(&form, "client_id", c->client_id) < 0 ||
	    (c->client_secret && oauth_form_add(&form, "client_secret", c->client_secret) < 0) ||
	    (c->scope && *c->scope && oauth_form_add(&form, "scope", c->scope) < 0)) {
		buf_puts(err, "out of memory");
		memset(out, 0, sizeof *out);
	} else {
		r = token_request(c, form.data, out, err);
	}
	buf_free_secret(&form);
	return r;
}
