#include "smtpsh/oauth.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "smtpsh/https.h"

void oauth_token_free(struct oauth_token *t)
{
	str_free_secret(t->access_token);
	str_free_secret(t->refresh_token);
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

/*
 * The start every endpoint's answer shares (RFC 6749 5.2, RFC 8628 3.5): a JSON object with
 * an "error" member is the provider's error, whatever the HTTP status (1, with it in
 * tok_err); without one, only 200 is an answer (0); anything else is -1 with a line in err.
 * what names the endpoint in those lines ("token", "device").
 */
static int answer_head(struct json_object *obj, long status, const char *what,
		       struct oauth_token *tok_err, struct buf *err)
{
	if (!obj) {
		buf_printf(err, "the %s endpoint's answer (HTTP %ld) is not a JSON object", what,
			   status);
		return -1;
	}
	member_fixed(obj, "error", tok_err->error, sizeof tok_err->error);
	if (tok_err->error[0]) {
		member_fixed(obj, "error_description", tok_err->error_description,
			     sizeof tok_err->error_description);
		return 1;
	}
	if (status != 200) {
		buf_printf(err, "the %s endpoint answered HTTP %ld without an OAuth2 error", what,
			   status);
		return -1;
	}
	return 0;
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
	struct json_object *obj = parse_object(body, len);
	int r = answer_head(obj, status, "token", out, err);
	if (r != 0)
		goto out;
	r = -1;
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

/*
 * POSTs form (application/x-www-form-urlencoded) to the endpoint url over verified HTTPS
 * (the one libcurl path, bounded to OAUTH_BODY_MAX) and gives its answer in res; what names
 * the endpoint in err ("token endpoint: ..."). The caller frees res, wiping a body that held
 * tokens.
 */
static int post(const struct oauth_client *c, const char *url, const char *form, const char *what,
		struct https_result *res, struct buf *err)
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
	struct buf herr;
	buf_init(&herr);
	int r = https_get(&p, res, &herr);
	if (r < 0)
		buf_printf(err, "%s endpoint: %s", what, herr.data ? herr.data : "failed");
	buf_free(&herr);
	return r;
}

/* Frees an answer whose body held tokens or codes: wiped first. */
static void answer_free(struct https_result *res)
{
	if (res->body.data)
		OPENSSL_cleanse(res->body.data, res->body.cap);
	https_result_free(res);
}

/* POSTs form to the token endpoint and reads the answer (oauth_refresh's contract). */
static int token_request(const struct oauth_client *c, const char *form, struct oauth_token *out,
			 struct buf *err)
{
	memset(out, 0, sizeof *out);
	struct https_result res;
	if (post(c, c->token_url, form, "token", &res, err) < 0)
		return -1;
	int r = oauth_parse_token(res.body.data ? res.body.data : "", res.body.len, res.status,
				  out, err);
	answer_free(&res); /* the body held the tokens */
	return r;
}

/* ---- the device authorization grant (RFC 8628) ------------------------------------------ */

void oauth_device_free(struct oauth_device *d)
{
	str_free_secret(d->device_code);
	free(d->user_code);
	free(d->verification_uri);
	free(d->verification_uri_complete);
	memset(d, 0, sizeof *d);
}

int oauth_parse_device(const char *body, size_t len, long status, struct oauth_device *out,
		       struct oauth_token *tok_err, struct buf *err)
{
	memset(out, 0, sizeof *out);
	memset(tok_err, 0, sizeof *tok_err);
	struct json_object *obj = parse_object(body, len);
	int r = answer_head(obj, status, "device", tok_err, err);
	if (r != 0)
		goto out;
	r = -1;
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

int oauth_revoke(const struct oauth_client *c, const char *revoke_url, const char *refresh_token,
		 struct buf *err)
{
	struct buf form;
	buf_init(&form);
	size_t need = 96 + 3 * (strlen(refresh_token) + strlen(c->client_id) +
				(c->client_secret ? strlen(c->client_secret) : 0));
	int r = -1;
	struct https_result res;
	if (buf_reserve(&form, need) < 0 || oauth_form_add(&form, "token", refresh_token) < 0 ||
	    oauth_form_add(&form, "token_type_hint", "refresh_token") < 0 ||
	    oauth_form_add(&form, "client_id", c->client_id) < 0 ||
	    (c->client_secret && oauth_form_add(&form, "client_secret", c->client_secret) < 0)) {
		buf_puts(err, "out of memory");
	} else if (post(c, revoke_url, form.data, "revocation", &res, err) == 0) {
		if (res.status == 200)
			r = 0;
		else
			buf_printf(err, "the revocation endpoint answered HTTP %ld", res.status);
		answer_free(&res);
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
	int r = -1;
	if (oauth_form_add(&form, "client_id", c->client_id) < 0 ||
	    (c->scope && *c->scope && oauth_form_add(&form, "scope", c->scope) < 0)) {
		buf_puts(err, "out of memory");
		goto out;
	}
	struct https_result res;
	if (post(c, device_url, form.data, "device", &res, err) < 0)
		goto out;
	r = oauth_parse_device(res.body.data ? res.body.data : "", res.body.len, res.status, out,
			       tok_err, err);
	answer_free(&res);
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

/* ---- the authorization code grant with PKCE ---------------------------------------------- */

/* base64url without padding (RFC 4648 5, RFC 7636 Appendix A) of in[0..n) into out. */
static void b64url(const unsigned char *in, int n, char *out)
{
	unsigned char tmp[64];
	int w = EVP_EncodeBlock(tmp, in, n);
	int o = 0;
	for (int i = 0; i < w && tmp[i] != '='; i++)
		out[o++] = tmp[i] == '+' ? '-' : tmp[i] == '/' ? '_' : (char)tmp[i];
	out[o] = '\0';
	OPENSSL_cleanse(tmp, sizeof tmp);
}

int oauth_pkce(char verifier[44], char challenge[44])
{
	unsigned char rnd[32], md[32];
	unsigned int mdlen = 0;
	if (RAND_bytes(rnd, sizeof rnd) != 1)
		return -1;
	b64url(rnd, 32, verifier); /* 43 characters of [A-Za-z0-9-_] (RFC 7636 4.1) */
	OPENSSL_cleanse(rnd, sizeof rnd);
	if (!EVP_Digest(verifier, 43, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
		return -1;
	b64url(md, 32, challenge);
	return 0;
}

int oauth_state(char out[33])
{
	unsigned char rnd[16];
	if (RAND_bytes(rnd, sizeof rnd) != 1)
		return -1;
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", rnd[i]);
	return 0;
}

int oauth_authorize_request(const char *authorize_url, const char *client_id,
			    const char *redirect_uri, const char *scope, const char *state,
			    const char *challenge, struct buf *out)
{
	struct buf q;
	buf_init(&q);
	int r = 0;
	if (oauth_form_add(&q, "response_type", "code") < 0 ||
	    oauth_form_add(&q, "client_id", client_id) < 0 ||
	    oauth_form_add(&q, "redirect_uri", redirect_uri) < 0 ||
	    (scope && *scope && oauth_form_add(&q, "scope", scope) < 0) ||
	    oauth_form_add(&q, "state", state) < 0 ||
	    oauth_form_add(&q, "code_challenge", challenge) < 0 ||
	    oauth_form_add(&q, "code_challenge_method", "S256") < 0)
		r = -1;
	buf_reset(out);
	if (r == 0)
		r = buf_printf(out, "%s%c%s", authorize_url, strchr(authorize_url, '?') ? '&' : '?',
			       q.data);
	buf_free(&q);
	return r < 0 ? -1 : 0;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
				      : -1;
}

/* The value of name in the query q[0..n) (a=b&c=d), percent- and '+'-decoded, malloc'd; NULL
   when absent (or when it decodes to a NUL). */
static char *query_param(const char *q, size_t n, const char *name)
{
	size_t nl = strlen(name);
	const char *p = q, *end = q + n;
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *e = amp ? amp : end;
		if ((size_t)(e - p) > nl && memcmp(p, name, nl) == 0 && p[nl] == '=') {
			const char *v = p + nl + 1;
			char *out = malloc((size_t)(e - v) + 1);
			if (!out)
				return NULL;
			size_t o = 0;
			for (; v < e; v++) {
				if (*v == '%' && e - v >= 3 && hexval(v[1]) >= 0 &&
				    hexval(v[2]) >= 0) {
					out[o++] = (char)(hexval(v[1]) * 16 + hexval(v[2]));
					v += 2;
				} else {
					out[o++] = *v == '+' ? ' ' : *v;
				}
			}
			out[o] = '\0';
			if (strlen(out) != o) {
				free(out);
				return NULL;
			}
			return out;
		}
		p = e + 1;
	}
	return NULL;
}

int oauth_parse_redirect(const char *target, const char *state, char **code,
			 struct oauth_token *error, struct buf *err)
{
	*code = NULL;
	memset(error, 0, sizeof *error);
	const char *q = strchr(target, '?');
	if (!q) {
		buf_puts(err, "the redirect has no query: no code");
		return -1;
	}
	q++;
	size_t n = strcspn(q, "# \r\n");
	char *got_state = query_param(q, n, "state");
	int r = -1;
	/* RFC 6749 10.12: a redirect without our state is someone else's (CSRF): refused,
	   error or not */
	if (!got_state || strlen(got_state) != strlen(state) ||
	    CRYPTO_memcmp(got_state, state, strlen(state)) != 0) {
		buf_puts(err, got_state ? "the redirect's state is not the one sent: refused (a "
					  "forged or stale redirect)"
					: "the redirect has no state: refused");
		goto out;
	}
	char *e = query_param(q, n, "error");
	if (e) {
		snprintf(error->error, sizeof error->error, "%s", e);
		free(e);
		char *d = query_param(q, n, "error_description");
		if (d) {
			snprintf(error->error_description, sizeof error->error_description, "%s",
				 d);
			free(d);
		}
		r = 1;
		goto out;
	}
	*code = query_param(q, n, "code");
	if (!*code || !**code || strlen(*code) > 8192) {
		str_free_secret(*code);
		*code = NULL;
		buf_puts(err, "the redirect has no code");
		goto out;
	}
	r = 0;
out:
	free(got_state);
	return r;
}

int oauth_code_exchange(const struct oauth_client *c, const char *code, const char *redirect_uri,
			const char *verifier, struct oauth_token *out, struct buf *err)
{
	struct buf form;
	buf_init(&form);
	size_t need =
	    192 + 3 * (strlen(code) + strlen(redirect_uri) + strlen(verifier) +
		       strlen(c->client_id) + (c->client_secret ? strlen(c->client_secret) : 0));
	int r = -1;
	if (buf_reserve(&form, need) < 0 ||
	    oauth_form_add(&form, "grant_type", "authorization_code") < 0 ||
	    oauth_form_add(&form, "code", code) < 0 ||
	    oauth_form_add(&form, "redirect_uri", redirect_uri) < 0 ||
	    oauth_form_add(&form, "code_verifier", verifier) < 0 ||
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

int oauth_listen(unsigned *port, struct buf *err)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
	sa.sin_addr.s_addr =
	    htonl(INADDR_LOOPBACK); /* RFC 8252 8.3: the loopback IP, not "localhost" */
	socklen_t len = sizeof sa;
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 4) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		buf_printf(err, "cannot listen on 127.0.0.1 for the redirect: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void answer(int c, int status, const char *title, const char *text)
{
	char body[1024], head[256];
	struct buf esc;
	buf_init(&esc);
	/* the provider's words go into HTML: escaped */
	for (const char *p = text; *p; p++)
		if (*p == '<')
			buf_puts(&esc, "&lt;");
		else if (*p == '>')
			buf_puts(&esc, "&gt;");
		else if (*p == '&')
			buf_puts(&esc, "&amp;");
		else if (*p == '"')
			buf_puts(&esc, "&quot;");
		else
			buf_putc(&esc, *p);
	int bn = snprintf(body, sizeof body,
			  "<!doctype html><meta charset=utf-8><title>smtpsh: %s</title>"
			  "<p>smtpsh: %s</p>\n",
			  title, esc.data ? esc.data : "");
	buf_free(&esc);
	if (bn < 0 || (size_t)bn >= sizeof body)
		bn = (int)strlen(body);
	int hn =
	    snprintf(head, sizeof head,
		     "HTTP/1.1 %d %s\r\nContent-Type: text/html; charset=utf-8\r\n"
		     "Content-Length: %d\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n",
		     status,
		     status == 200   ? "OK"
		     : status == 404 ? "Not Found"
				     : "Bad Request",
		     bn);
	/* best effort: the browser's page is a courtesy, the login does not depend on it */
	if (write(c, head, (size_t)hn) == hn && write(c, body, (size_t)bn) == bn)
		shutdown(c, SHUT_WR);
}

int oauth_accept_redirect(int fd, int timeout_ms, volatile const sig_atomic_t *stop,
			  const char *state, char **code, struct oauth_token *error,
			  struct buf *err)
{
	*code = NULL;
	memset(error, 0, sizeof *error);
	long long deadline = now_ms() + timeout_ms;
	for (;;) {
		long long left = deadline - now_ms();
		if (left <= 0) {
			buf_printf(err, "no redirect came within %d s", timeout_ms / 1000);
			return -1;
		}
		if (stop && *stop) {
			buf_puts(err, "interrupted");
			return -1;
		}
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int n = poll(&p, 1, left > 200 ? 200 : (int)left);
		if (n < 0 && errno != EINTR) {
			buf_printf(err, "poll: %s", strerror(errno));
			return -1;
		}
		if (n <= 0)
			continue;
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		/* the request line, read within 10 s, at most 8 KiB */
		char req[8193];
		size_t got = 0;
		long long rdl = now_ms() + 10000;
		while (got < sizeof req - 1 && !memchr(req, '\n', got)) {
			struct pollfd cp = {.fd = c, .events = POLLIN};
			long long l = rdl - now_ms();
			if (l <= 0 || poll(&cp, 1, (int)l) <= 0)
				break;
			ssize_t r = read(c, req + got, sizeof req - 1 - got);
			if (r <= 0)
				break;
			got += (size_t)r;
		}
		req[got] = '\0';
		char *nl = memchr(req, '\n', got);
		if (!nl || strncmp(req, "GET ", 4) != 0) {
			answer(c, 400, "bad request", "not a redirect");
			close(c);
			continue;
		}
		*nl = '\0';
		char *target = req + 4, *sp = strchr(target, ' ');
		if (sp)
			*sp = '\0';
		if (target[0] != '/' || target[1] != '?') {
			answer(c, 404, "not found", "not the redirect");
			close(c);
			continue; /* /favicon.ico and the like */
		}
		int r = oauth_parse_redirect(target, state, code, error, err);
		if (r == 0)
			answer(c, 200, "logged in",
			       "the login went through; you can close this window and go back to "
			       "smtpsh.");
		else if (r == 1)
			answer(c, 200, "login refused", error->error);
		else
			answer(c, 400, "refused", err->data ? err->data : "");
		OPENSSL_cleanse(req, sizeof req);
		close(c);
		return r;
	}
}
