/*
 * The mock authorization server's core (oauthd.h): HTTP requests in, responses out, no I/O.
 *
 * Endpoints (the shape of Microsoft's identity platform v2, whose errors it quotes):
 *   GET  /authorize?...  RFC 6749 4.1.1 + RFC 7636 4.3: checks the request, shows a consent
 *                        page with Accept and Cancel buttons (a form posted to /authorize)
 *   POST /authorize      the user's answer: 302 to the loopback redirect_uri with code and
 *                        state (RFC 6749 4.1.2), or error=access_denied
 *   POST /devicecode     RFC 8628 3.1-3.2: device_code, user_code, verification_uri...
 *   GET  /device         the page where the user types the code (or ?user_code=...)
 *   POST /device         the user's answer for a user code
 *   POST /token          grant_type authorization_code (PKCE S256 checked), refresh_token
 *                        (rotated), urn:ietf:params:oauth:grant-type:device_code (3.4-3.5:
 *                        authorization_pending, slow_down, expired_token, access_denied)
 *   POST /revoke         RFC 7009: revokes the grant of a refresh or access token; 200 always
 * Every table is fixed-size: the oldest entry gives way, so memory stays bounded whatever a
 * client asks. Values from requests are percent-decoded into bounded buffers and escaped
 * (HTML, JSON by json-c) before they are written back.
 */
#include "smtpsh/oauthd.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#define TOKEN_LEN 43 /* base64url of 32 random octets */
#define SCOPE_MAX 512
#define URI_MAX 512
#define STATE_MAX 512
#define CODE_LIFETIME 300 /* s an authorization code (and a consent page) lives */

struct grant {
	bool used;
	bool revoked;
	time_t created;
	char refresh[TOKEN_LEN + 1];
	char access[TOKEN_LEN + 1];
	time_t access_expires;
	bool access_expired; /* the oauth-expired fault saw it: expired for good */
	char scope[SCOPE_MAX];
	char account[128];
};

enum pending_kind { P_FREE, P_CONSENT, P_CODE, P_DEVICE };
enum device_state { D_WAITING, D_APPROVED, D_DENIED };

/* A sign-in in progress: a consent page shown (P_CONSENT, id = its request id), an
   authorization code issued (P_CODE, id = the code) or a device code (P_DEVICE). */
struct pending {
	enum pending_kind kind;
	time_t created, expires;
	char id[TOKEN_LEN + 1];
	char scope[SCOPE_MAX];
	char redirect_uri[URI_MAX];
	char state[STATE_MAX];
	char challenge[TOKEN_LEN + 1];
	char user_code[10]; /* P_DEVICE: "ABCD-EFGH" */
	enum device_state dstate;
	time_t last_poll;
	long interval;
};

struct oauthd {
	char base[128];
	char account[128];
	struct oauthd_faults faults;
	struct grant grants[OAUTHD_GRANTS];
	struct pending pending[OAUTHD_PENDING];
};

/* ---- HTTP ----------------------------------------------------------------------------- */

static const char *find_crlfcrlf(const char *p, size_t n)
{
	for (size_t i = 0; i + 3 < n; i++)
		if (p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' && p[i + 3] == '\n')
			return p + i;
	return NULL;
}

/* The value of header name in head[0..n) (lines after the first), trimmed, into out. */
static bool header(const char *head, size_t n, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);
	const char *end = head + n;
	const char *line = memchr(head, '\n', n);
	while (line && line + 1 < end) {
		line++;
		const char *eol = memchr(line, '\n', (size_t)(end - line));
		if (!eol)
			eol = end;
		size_t ll = (size_t)(eol - line);
		if (ll > nl && line[nl] == ':' && strncasecmp(line, name, nl) == 0) {
			const char *v = line + nl + 1;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			const char *ve = eol;
			while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			size_t vl = (size_t)(ve - v);
			if (vl >= outlen)
				vl = outlen - 1;
			memcpy(out, v, vl);
			out[vl] = '\0';
			return true;
		}
		line = eol < end ? eol : NULL;
	}
	return false;
}

int oauthd_http_parse(const char *data, size_t len, struct oauthd_http *out)
{
	memset(out, 0, sizeof *out);
	if (memchr(data, '\0', len))
		return 400;
	const char *hend = find_crlfcrlf(data, len < OAUTHD_HEAD_MAX ? len : OAUTHD_HEAD_MAX);
	if (!hend)
		return len >= OAUTHD_HEAD_MAX ? 431 : 0;
	size_t hlen = (size_t)(hend - data) + 4;
	/* the request line: METHOD SP target SP HTTP/1.x (RFC 9112 3) */
	const char *eol = memchr(data, '\r', hlen);
	const char *sp1 = memchr(data, ' ', (size_t)(eol - data));
	if (!sp1 || sp1 == data || (size_t)(sp1 - data) >= sizeof out->method)
		return 400;
	const char *sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1));
	if (!sp2 || sp2 == sp1 + 1)
		return 400;
	if ((size_t)(eol - sp2 - 1) != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0 ||
	    (sp2[8] != '0' && sp2[8] != '1'))
		return 505;
	memcpy(out->method, data, (size_t)(sp1 - data));
	size_t tlen = (size_t)(sp2 - sp1 - 1);
	if (tlen >= sizeof out->target)
		return 414;
	memcpy(out->target, sp1 + 1, tlen);
	for (size_t i = 0; i < tlen; i++)
		if ((unsigned char)out->target[i] <= ' ' || out->target[i] == 0x7f)
			return 400;
	if (out->target[0] != '/')
		return 400;
	bool post = strcmp(out->method, "POST") == 0;
	if (!post && strcmp(out->method, "GET") != 0)
		return 501;
	char v[32];
	if (header(data, hlen, "Transfer-Encoding", v, sizeof v))
		return 501;
	unsigned long long cl = 0;
	if (header(data, hlen, "Content-Length", v, sizeof v)) {
		char *end;
		if (!isdigit((unsigned char)v[0]))
			return 400;
		cl = strtoull(v, &end, 10);
		if (*end)
			return 400;
		if (cl > OAUTHD_BODY_MAX)
			return 413;
	} else if (post) {
		return 411;
	}
	if (len - hlen < cl)
		return 0;
	out->body = cl ? data + hlen : NULL;
	out->body_len = (size_t)cl;
	out->total = hlen + (size_t)cl;
	return 1;
}

/* ---- forms and queries ----------------------------------------------------------------- */

/* The value of name in a form or query p[0..n) (application/x-www-form-urlencoded), decoded
   into out. False when absent, too long, or holding a NUL or a control octet. */
static bool form_get(const char *p, size_t n, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);
	const char *end = p + n;
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *pe = amp ? amp : end;
		if ((size_t)(pe - p) > nl && p[nl] == '=' && memcmp(p, name, nl) == 0) {
			size_t o = 0;
			for (const char *q = p + nl + 1; q < pe; q++) {
				int c = (unsigned char)*q;
				if (c == '+') {
					c = ' ';
				} else if (c == '%') {
					int h = pe - q > 2 ? OPENSSL_hexchar2int((unsigned char)q[1]) : -1;
					int l = pe - q > 2 ? OPENSSL_hexchar2int((unsigned char)q[2]) : -1;
					if (h < 0 || l < 0)
						return false;
					c = h * 16 + l;
					q += 2;
				}
				if (c < 0x20 || c == 0x7f || o + 1 >= outlen)
					return false;
				out[o++] = (char)c;
			}
			out[o] = '\0';
			return true;
		}
		p = amp ? amp + 1 : end;
	}
	return false;
}

/* Appends s percent-encoded but for the unreserved octets (RFC 3986 2.3). */
static void url_encode(struct buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~')
			buf_putc(b, (char)c);
		else
			buf_printf(b, "%%%02X", c);
	}
}

/* Appends s for HTML text or an attribute value. */
static void html_escape(struct buf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<':
			buf_puts(b, "&lt;");
			break;
		case '>':
			buf_puts(b, "&gt;");
			break;
		case '&':
			buf_puts(b, "&amp;");
			break;
		case '"':
			buf_puts(b, "&quot;");
			break;
		case '\'':
			buf_puts(b, "&#39;");
			break;
		default:
			buf_putc(b, *s);
		}
	}
}

/* ---- tokens ----------------------------------------------------------------------------- */

/* 32 random octets, base64url without padding (43 characters). */
static bool random_token(char out[TOKEN_LEN + 1])
{
	unsigned char rnd[32];
	unsigned char enc[48];
	if (RAND_bytes(rnd, sizeof rnd) != 1)
		return false;
	EVP_EncodeBlock(enc, rnd, sizeof rnd);
	OPENSSL_cleanse(rnd, sizeof rnd);
	for (int i = 0; i < TOKEN_LEN; i++)
		out[i] = enc[i] == '+' ? '-' : enc[i] == '/' ? '_' : (char)enc[i];
	out[TOKEN_LEN] = '\0';
	OPENSSL_cleanse(enc, sizeof enc);
	return true;
}

/* A user code as Microsoft shows them: 8 letters without look-alikes, "ABCD-EFGH". */
static bool random_user_code(char out[10])
{
	static const char letters[] = "BCDFGHJKLMNPQRSTVWXZ";
	unsigned char rnd[8];
	if (RAND_bytes(rnd, sizeof rnd) != 1)
		return false;
	for (int i = 0, o = 0; i < 8; i++) {
		if (i == 4)
			out[o++] = '-';
		out[o++] = letters[rnd[i] % (sizeof letters - 1)];
	}
	out[9] = '\0';
	return true;
}

static bool same(const char *a, const char *b)
{
	size_t n = strlen(a);
	return n == strlen(b) && CRYPTO_memcmp(a, b, n) == 0;
}

/* The scope has a word w (scopes are blank-separated, RFC 6749 3.3). */
static bool scope_has(const char *scope, const char *w)
{
	size_t wl = strlen(w);
	for (const char *p = scope; *p;) {
		p += strspn(p, " ");
		size_t l = strcspn(p, " ");
		if (l == wl && strncmp(p, w, l) == 0)
			return true;
		p += l;
	}
	return false;
}

static bool scope_smtp(const char *scope)
{
	return scope_has(scope, OAUTHD_SMTP_SCOPE) || scope_has(scope, "https://mail.google.com/");
}

struct oauthd *oauthd_new(const char *base_url, const char *account)
{
	struct oauthd *o = calloc(1, sizeof *o);
	if (!o)
		return NULL;
	snprintf(o->base, sizeof o->base, "%s", base_url);
	snprintf(o->account, sizeof o->account, "%s", account);
	return o;
}

void oauthd_free(struct oauthd *o)
{
	if (!o)
		return;
	OPENSSL_cleanse(o, sizeof *o);
	free(o);
}

void oauthd_set_faults(struct oauthd *o, const struct oauthd_faults *f)
{
	if (f->revoked && !o->faults.revoked)
		for (size_t i = 0; i < OAUTHD_GRANTS; i++)
			o->grants[i].revoked = true;
	o->faults = *f;
}

/* A free slot, else the oldest one (memory stays bounded). */
static struct pending *pending_slot(struct oauthd *o)
{
	struct pending *oldest = &o->pending[0];
	for (size_t i = 0; i < OAUTHD_PENDING; i++) {
		if (o->pending[i].kind == P_FREE)
			return &o->pending[i];
		if (o->pending[i].created < oldest->created)
			oldest = &o->pending[i];
	}
	return oldest;
}

static struct pending *pending_find(struct oauthd *o, enum pending_kind k, const char *id)
{
	for (size_t i = 0; i < OAUTHD_PENDING; i++)
		if (o->pending[i].kind == k && same(o->pending[i].id, id))
			return &o->pending[i];
	return NULL;
}

static void pending_drop(struct pending *p)
{
	OPENSSL_cleanse(p, sizeof *p);
	p->kind = P_FREE;
}

/* The oauth-scope fault: as if the consent had left the SMTP scope out (the other words stay;
   "openid" when none is left). */
static void strip_smtp_scope(char *scope)
{
	char out[SCOPE_MAX];
	size_t o = 0;
	for (const char *p = scope; *p;) {
		p += strspn(p, " ");
		size_t l = strcspn(p, " ");
		bool smtp =
		    (l == strlen(OAUTHD_SMTP_SCOPE) && strncmp(p, OAUTHD_SMTP_SCOPE, l) == 0) ||
		    (l == 24 && strncmp(p, "https://mail.google.com/", l) == 0);
		if (l && !smtp && o + l + 2 < sizeof out) {
			if (o)
				out[o++] = ' ';
			memcpy(out + o, p, l);
			o += l;
		}
		p += l;
	}
	out[o] = '\0';
	snprintf(scope, SCOPE_MAX, "%s", o ? out : "openid");
}

/* A new grant with fresh tokens, for scope (the oauth-scope fault drops the SMTP scope). */
static struct grant *grant_new(struct oauthd *o, const char *scope, time_t now)
{
	struct grant *g = &o->grants[0];
	for (size_t i = 0; i < OAUTHD_GRANTS; i++) {
		if (!o->grants[i].used) {
			g = &o->grants[i];
			break;
		}
		if (o->grants[i].created < g->created)
			g = &o->grants[i];
	}
	OPENSSL_cleanse(g, sizeof *g);
	if (!random_token(g->refresh) || !random_token(g->access))
		return NULL;
	g->used = true;
	g->created = now;
	snprintf(g->account, sizeof g->account, "%s", o->account);
	snprintf(g->scope, sizeof g->scope, "%s", scope);
	if (o->faults.scope_wrong)
		strip_smtp_scope(g->scope);
	g->access_expires =
	    now + (o->faults.expired ? OAUTHD_SHORT_LIFETIME : OAUTHD_ACCESS_LIFETIME);
	return g;
}

/* ---- responses -------------------------------------------------------------------------- */

static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 302:
		return "Found";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 411:
		return "Length Required";
	case 413:
		return "Content Too Large";
	case 414:
		return "URI Too Long";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Error";
	}
}

static void respond(struct buf *resp, int status, const char *type, const char *body,
		    const char *location)
{
	buf_reset(resp);
	buf_printf(resp,
		   "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		   "Cache-Control: no-store\r\nConnection: close\r\n",
		   status, reason(status), type, strlen(body));
	if (location)
		buf_printf(resp, "Location: %s\r\n", location);
	buf_printf(resp, "\r\n%s", body);
}

void oauthd_refusal(int status, struct buf *resp)
{
	respond(resp, status, "text/plain", "", NULL);
}

static void respond_json(struct buf *resp, int status, struct json_object *obj)
{
	respond(resp, status, "application/json",
		json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
							JSON_C_TO_STRING_NOSLASHESCAPE),
		NULL);
	json_object_put(obj);
}

/* An OAuth2 error (RFC 6749 5.2) as Microsoft sends it: its AADSTS text and error_codes. */
static void oauth_error(struct buf *resp, int status, const char *error, int code,
			const char *description)
{
	struct json_object *obj = json_object_new_object();
	char text[512];
	snprintf(text, sizeof text, "AADSTS%d: %s", code, description);
	json_object_object_add(obj, "error", json_object_new_string(error));
	json_object_object_add(obj, "error_description", json_object_new_string(text));
	struct json_object *codes = json_object_new_array();
	json_object_array_add(codes, json_object_new_int(code));
	json_object_object_add(obj, "error_codes", codes);
	respond_json(resp, status, obj);
}

static void page(struct buf *resp, int status, const char *title, const char *html)
{
	struct buf b;
	buf_init(&b);
	buf_puts(&b, "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>");
	html_escape(&b, title);
	buf_printf(&b,
		   "</title></head><body><h1>smtpsh practice sign-in</h1><p><em>A mock of a "
		   "provider's sign-in, on this machine only.</em></p>%s</body></html>\n",
		   html);
	respond(resp, status, "text/html; charset=utf-8", b.data, NULL);
	buf_free(&b);
}

static void error_page(struct buf *resp, int status, const char *text)
{
	struct buf b;
	buf_init(&b);
	buf_puts(&b, "<p>");
	html_escape(&b, text);
	buf_puts(&b, "</p>");
	page(resp, status, "Sign-in error", b.data);
	buf_free(&b);
}

/* The tokens of a grant (RFC 6749 5.1); a refresh token only with offline_access. */
static void token_response(struct oauthd *o, struct buf *resp, const struct grant *g, time_t now)
{
	(void)o;
	struct json_object *obj = json_object_new_object();
	json_object_object_add(obj, "token_type", json_object_new_string("Bearer"));
	json_object_object_add(obj, "scope", json_object_new_string(g->scope));
	json_object_object_add(obj, "expires_in",
			       json_object_new_int64((int64_t)(g->access_expires - now)));
	json_object_object_add(obj, "access_token", json_object_new_string(g->access));
	if (scope_has(g->scope, "offline_access"))
		json_object_object_add(obj, "refresh_token", json_object_new_string(g->refresh));
	respond_json(resp, 200, obj);
	/* json-c's string copies are freed with obj: wiping them is json-c's affair; the ones
	   in resp are the caller's to wipe (buf_free_secret) */
}

/* ---- the authorization code flow -------------------------------------------------------- */

/* Only a loopback redirect (RFC 8252 7.3): the mock never sends a code anywhere else. */
static bool loopback_redirect(const char *uri)
{
	const char *h = NULL;
	if (strncmp(uri, "http://127.0.0.1", 16) == 0)
		h = uri + 16;
	else if (strncmp(uri, "http://localhost", 16) == 0)
		h = uri + 16;
	else if (strncmp(uri, "http://[::1]", 12) == 0)
		h = uri + 12;
	return h && (*h == ':' || *h == '/' || *h == '\0') && !strchr(uri, '#');
}

static void authorize_get(struct oauthd *o, const char *q, time_t now, struct buf *resp,
			  struct buf *note)
{
	size_t n = strlen(q);
	char client[128], rtype[32], redirect[URI_MAX], scope[SCOPE_MAX], state[STATE_MAX],
	    challenge[128], method[16];
	if (!form_get(q, n, "client_id", client, sizeof client) ||
	    strcmp(client, OAUTHD_CLIENT_ID)) {
		error_page(
		    resp, 400,
		    "AADSTS700016: Application with the client_id given was not found in the "
		    "directory (the practice server knows only " OAUTHD_CLIENT_ID ").");
		buf_puts(note, "authorize: unknown client_id");
		return;
	}
	if (!form_get(q, n, "redirect_uri", redirect, sizeof redirect) ||
	    !loopback_redirect(redirect)) {
		error_page(resp, 400,
			   "AADSTS50011: The redirect URI specified in the request does not match "
			   "the redirect URIs configured for the application (a loopback "
			   "http://127.0.0.1:PORT/ only, RFC 8252).");
		buf_puts(note, "authorize: redirect_uri refused (not loopback)");
		return;
	}
	if (!form_get(q, n, "response_type", rtype, sizeof rtype) || strcmp(rtype, "code") != 0 ||
	    !form_get(q, n, "code_challenge", challenge, sizeof challenge) ||
	    strlen(challenge) != TOKEN_LEN ||
	    !form_get(q, n, "code_challenge_method", method, sizeof method) ||
	    strcmp(method, "S256") != 0) {
		error_page(resp, 400,
			   "AADSTS900144: The request must hold response_type=code, a "
			   "code_challenge and code_challenge_method=S256 (PKCE, RFC 7636).");
		buf_puts(note, "authorize: refused (no code_challenge with S256)");
		return;
	}
	if (!form_get(q, n, "scope", scope, sizeof scope))
		snprintf(scope, sizeof scope, "%s", OAUTHD_SCOPE);
	if (!form_get(q, n, "state", state, sizeof state))
		state[0] = '\0';
	struct pending *p = pending_slot(o);
	pending_drop(p);
	if (!random_token(p->id)) {
		error_page(resp, 500, "no random bytes");
		return;
	}
	p->kind = P_CONSENT;
	p->created = now;
	p->expires = now + CODE_LIFETIME;
	snprintf(p->scope, sizeof p->scope, "%s", scope);
	snprintf(p->redirect_uri, sizeof p->redirect_uri, "%s", redirect);
	snprintf(p->state, sizeof p->state, "%s", state);
	snprintf(p->challenge, sizeof p->challenge, "%s", challenge);
	struct buf b;
	buf_init(&b);
	buf_puts(&b, "<p>The application <b>" OAUTHD_CLIENT_ID "</b> asks to act as <b>");
	html_escape(&b, o->account);
	buf_puts(&b, "</b> with the permissions <code>");
	html_escape(&b, scope);
	buf_puts(&b, "</code>.</p><form method=\"post\" action=\"/authorize\">"
		     "<input type=\"hidden\" name=\"request\" value=\"");
	buf_puts(&b, p->id);
	buf_puts(&b, "\"><button name=\"consent\" value=\"yes\">Accept</button> "
		     "<button name=\"consent\" value=\"no\">Cancel</button></form>");
	page(resp, 200, "Permissions requested", b.data);
	buf_free(&b);
	buf_printf(note, "authorize: consent page shown for %s", o->account);
}

static void authorize_post(struct oauthd *o, const char *body, size_t n, time_t now,
			   struct buf *resp, struct buf *note)
{
	char id[TOKEN_LEN + 1], consent[8];
	struct pending *p =
	    form_get(body, n, "request", id, sizeof id) ? pending_find(o, P_CONSENT, id) : NULL;
	if (!p || p->expires <= now) {
		error_page(resp, 400,
			   "This sign-in page has expired or was already used: start the sign-in "
			   "again (\\oauth login).");
		buf_puts(note, "authorize: consent for an unknown or expired request");
		if (p)
			pending_drop(p);
		return;
	}
	bool yes =
	    form_get(body, n, "consent", consent, sizeof consent) && strcmp(consent, "yes") == 0;
	struct buf loc;
	buf_init(&loc);
	buf_printf(&loc, "%s%s", p->redirect_uri, strchr(p->redirect_uri, '?') ? "&" : "?");
	if (yes) {
		/* the request becomes a code (RFC 6749 4.1.2): single use, bound to the client's
		   redirect_uri and PKCE challenge */
		if (!random_token(p->id)) {
			error_page(resp, 500, "no random bytes");
			buf_free(&loc);
			return;
		}
		p->kind = P_CODE;
		p->expires = now + CODE_LIFETIME;
		buf_puts(&loc, "code=");
		buf_puts(&loc, p->id);
		buf_printf(note, "authorize: %s accepted; code sent to the loopback redirect",
			   o->account);
	} else {
		buf_puts(&loc, "error=access_denied&error_description=");
		url_encode(&loc, "AADSTS65004: User declined to consent to access the app.");
		buf_puts(note, "authorize: the user declined (access_denied)");
	}
	if (p->state[0]) {
		buf_puts(&loc, "&state=");
		url_encode(&loc, p->state);
	}
	if (!yes)
		pending_drop(p);
	respond(resp, 302, "text/html; charset=utf-8", "<p>Signed in: back to smtpsh.</p>\n",
		loc.data);
	buf_free_secret(&loc);
}

/* base64url(SHA-256(verifier)) == challenge (RFC 7636 4.6) */
static bool pkce_ok(const char *verifier, const char *challenge)
{
	size_t vl = strlen(verifier);
	if (vl < 43 || vl > 128)
		return false;
	unsigned char md[SHA256_DIGEST_LENGTH], enc[48];
	SHA256((const unsigned char *)verifier, vl, md);
	EVP_EncodeBlock(enc, md, sizeof md);
	char want[TOKEN_LEN + 1];
	for (int i = 0; i < TOKEN_LEN; i++)
		want[i] = enc[i] == '+' ? '-' : enc[i] == '/' ? '_' : (char)enc[i];
	want[TOKEN_LEN] = '\0';
	return same(want, challenge);
}

/* ---- the device flow -------------------------------------------------------------------- */

static void devicecode(struct oauthd *o, const char *body, size_t n, time_t now, struct buf *resp,
		       struct buf *note)
{
	char scope[SCOPE_MAX];
	if (!form_get(body, n, "scope", scope, sizeof scope))
		snprintf(scope, sizeof scope, "%s", OAUTHD_SCOPE);
	struct pending *p = pending_slot(o);
	pending_drop(p);
	if (!random_token(p->id) || !random_user_code(p->user_code)) {
		oauth_error(resp, 500, "server_error", 50000, "No random bytes.");
		return;
	}
	p->kind = P_DEVICE;
	p->created = now;
	p->expires = now + OAUTHD_DEVICE_LIFETIME;
	p->interval = OAUTHD_INTERVAL;
	snprintf(p->scope, sizeof p->scope, "%s", scope);
	char uri[256], complete[300], msg[512];
	snprintf(uri, sizeof uri, "%s/device", o->base);
	snprintf(complete, sizeof complete, "%s?user_code=%s", uri, p->user_code);
	snprintf(msg, sizeof msg,
		 "To sign in, use a web browser to open the page %s and enter the code %s to "
		 "authenticate.",
		 uri, p->user_code);
	struct json_object *obj = json_object_new_object();
	json_object_object_add(obj, "user_code", json_object_new_string(p->user_code));
	json_object_object_add(obj, "device_code", json_object_new_string(p->id));
	json_object_object_add(obj, "verification_uri", json_object_new_string(uri));
	json_object_object_add(obj, "verification_uri_complete", json_object_new_string(complete));
	json_object_object_add(obj, "expires_in", json_object_new_int(OAUTHD_DEVICE_LIFETIME));
	json_object_object_add(obj, "interval", json_object_new_int(OAUTHD_INTERVAL));
	json_object_object_add(obj, "message", json_object_new_string(msg));
	respond_json(resp, 200, obj);
	buf_printf(note, "device code issued: the user code is %s", p->user_code);
}

static struct pending *find_user_code(struct oauthd *o, const char *code)
{
	char norm[10];
	size_t k = 0;
	for (const char *c = code; *c && k < 9; c++) /* typed in lower case, without the dash */
		if (isalpha((unsigned char)*c)) {
			if (k == 4)
				norm[k++] = '-';
			norm[k++] = (char)toupper((unsigned char)*c);
		}
	norm[k] = '\0';
	for (size_t i = 0; i < OAUTHD_PENDING; i++)
		if (o->pending[i].kind == P_DEVICE && strcmp(o->pending[i].user_code, norm) == 0)
			return &o->pending[i];
	return NULL;
}

static void device_get(struct oauthd *o, const char *q, struct buf *resp)
{
	char code[32] = "";
	form_get(q, strlen(q), "user_code", code, sizeof code);
	struct buf b;
	buf_init(&b);
	buf_puts(&b, "<p>Enter the code smtpsh shows to let it send mail as <b>");
	html_escape(&b, o->account);
	buf_puts(&b, "</b> (permission <code>" OAUTHD_SMTP_SCOPE "</code>).</p>"
		     "<form method=\"post\" action=\"/device\"><input name=\"user_code\" value=\"");
	html_escape(&b, code);
	buf_puts(&b, "\"> <button name=\"consent\" value=\"yes\">Accept</button> "
		     "<button name=\"consent\" value=\"no\">Cancel</button></form>");
	page(resp, 200, "Enter code", b.data);
	buf_free(&b);
}

static void device_post(struct oauthd *o, const char *body, size_t n, time_t now, struct buf *resp,
			struct buf *note)
{
	char code[32], consent[8];
	struct pending *p =
	    form_get(body, n, "user_code", code, sizeof code) ? find_user_code(o, code) : NULL;
	if (!p || p->expires <= now || p->dstate != D_WAITING) {
		error_page(resp, 400,
			   "AADSTS70019: That code was not found, has expired or was already used. "
			   "Check the code smtpsh shows, or start the sign-in again.");
		buf_puts(note, "device: a code that is not waiting was entered");
		return;
	}
	bool yes =
	    form_get(body, n, "consent", consent, sizeof consent) && strcmp(consent, "yes") == 0;
	p->dstate = yes ? D_APPROVED : D_DENIED;
	page(resp, 200, yes ? "Signed in" : "Declined",
	     yes ? "<p>You have signed in to smtpsh on your device. You may now close this "
		   "window.</p>"
		 : "<p>You declined: smtpsh is told so.</p>");
	buf_printf(note, "device: code %s %s", p->user_code, yes ? "accepted" : "declined");
}

/* ---- the token endpoint ----------------------------------------------------------------- */

static void token_code(struct oauthd *o, const char *body, size_t n, time_t now, struct buf *resp,
		       struct buf *note)
{
	char code[TOKEN_LEN + 1], redirect[URI_MAX], verifier[160];
	struct pending *p =
	    form_get(body, n, "code", code, sizeof code) ? pending_find(o, P_CODE, code) : NULL;
	if (!p || p->expires <= now) {
		oauth_error(resp, 400, "invalid_grant", 70000,
			    "The provided value for the 'code' parameter is not valid (unknown, "
			    "expired or already redeemed).");
		buf_puts(note, "token: an unknown, used or expired code");
		if (p)
			pending_drop(p);
		return;
	}
	if (!form_get(body, n, "redirect_uri", redirect, sizeof redirect) ||
	    strcmp(redirect, p->redirect_uri) != 0) {
		oauth_error(resp, 400, "invalid_grant", 50148,
			    "The redirect_uri differs from the one in the authorization request.");
		buf_puts(note, "token: the code's redirect_uri does not match");
		pending_drop(p);
		return;
	}
	if (!form_get(body, n, "code_verifier", verifier, sizeof verifier) ||
	    !pkce_ok(verifier, p->challenge)) {
		oauth_error(resp, 400, "invalid_grant", 501481,
			    "The Code_Verifier does not match the code_challenge supplied in the "
			    "authorization request.");
		buf_puts(note, "token: PKCE check failed (code_verifier)");
		OPENSSL_cleanse(verifier, sizeof verifier);
		pending_drop(p);
		return;
	}
	OPENSSL_cleanse(verifier, sizeof verifier);
	struct grant *g = grant_new(o, p->scope, now);
	pending_drop(p); /* a code is used once (RFC 6749 4.1.2) */
	if (!g) {
		oauth_error(resp, 500, "server_error", 50000, "No random bytes.");
		return;
	}
	token_response(o, resp, g, now);
	buf_printf(note, "token: code redeemed (PKCE S256 checked); tokens issued for %s, scope %s",
		   g->account, g->scope);
}

static void token_device(struct oauthd *o, const char *body, size_t n, time_t now, struct buf *resp,
			 struct buf *note)
{
	char code[TOKEN_LEN + 1];
	struct pending *p = form_get(body, n, "device_code", code, sizeof code)
				? pending_find(o, P_DEVICE, code)
				: NULL;
	if (!p) {
		oauth_error(resp, 400, "invalid_grant", 70000,
			    "The provided value for the input parameter 'device_code' is not "
			    "valid.");
		buf_puts(note, "token: an unknown device code");
		return;
	}
	if (p->expires <= now) {
		oauth_error(resp, 400, "expired_token", 70019,
			    "Verification code expired. Have the user retry the sign-in.");
		buf_puts(note, "token: device code expired (expired_token)");
		pending_drop(p);
		return;
	}
	if (p->dstate == D_DENIED) {
		oauth_error(resp, 400, "access_denied", 65004,
			    "User declined to consent to access the app.");
		buf_puts(note, "token: device sign-in declined (access_denied)");
		pending_drop(p);
		return;
	}
	if (p->dstate == D_WAITING) {
		/* RFC 8628 3.5: polling faster than the interval gets slow_down (+5 s) */
		bool fast = p->last_poll && now - p->last_poll < p->interval;
		p->last_poll = now;
		if (fast) {
			p->interval += 5;
			oauth_error(
			    resp, 400, "slow_down", 70016,
			    "OAuth 2.0 device flow error. Polling too fast: wait the interval "
			    "(5 s more) between requests.");
			buf_puts(note, "token: device poll too fast (slow_down)");
		} else {
			oauth_error(
			    resp, 400, "authorization_pending", 70016,
			    "The provided request has not yet been authorized by the user. The "
			    "user must input their code.");
		}
		return;
	}
	struct grant *g = grant_new(o, p->scope, now);
	pending_drop(p);
	if (!g) {
		oauth_error(resp, 500, "server_error", 50000, "No random bytes.");
		return;
	}
	token_response(o, resp, g, now);
	buf_printf(note, "token: device code redeemed; tokens issued for %s, scope %s", g->account,
		   g->scope);
}

static struct grant *grant_by_refresh(struct oauthd *o, const char *t)
{
	for (size_t i = 0; i < OAUTHD_GRANTS; i++)
		if (o->grants[i].used && same(o->grants[i].refresh, t))
			return &o->grants[i];
	return NULL;
}

static void token_refresh(struct oauthd *o, const char *body, size_t n, time_t now,
			  struct buf *resp, struct buf *note)
{
	char t[TOKEN_LEN + 1];
	struct grant *g =
	    form_get(body, n, "refresh_token", t, sizeof t) ? grant_by_refresh(o, t) : NULL;
	OPENSSL_cleanse(t, sizeof t);
	if (!g) {
		oauth_error(resp, 400, "invalid_grant", 9002313,
			    "Invalid request. Request is malformed or invalid (an unknown or "
			    "replaced refresh token).");
		buf_puts(note, "token: refresh with an unknown refresh token (invalid_grant)");
		return;
	}
	if (g->revoked) {
		oauth_error(
		    resp, 400, "invalid_grant", 50173,
		    "The provided grant has expired due to it being revoked, a fresh auth "
		    "token is needed. The user might have changed or reset their password.");
		buf_printf(note,
			   "token: refresh refused: the grant of %s was revoked (invalid_grant)",
			   g->account);
		return;
	}
	/* rotated on each use, as Microsoft does: the old refresh and access tokens die */
	if (!random_token(g->refresh) || !random_token(g->access)) {
		oauth_error(resp, 500, "server_error", 50000, "No random bytes.");
		return;
	}
	if (o->faults.scope_wrong)
		strip_smtp_scope(g->scope);
	g->access_expired = false;
	g->access_expires =
	    now + (o->faults.expired ? OAUTHD_SHORT_LIFETIME : OAUTHD_ACCESS_LIFETIME);
	token_response(o, resp, g, now);
	buf_printf(note, "token: refreshed for %s (refresh token rotated), expires in %lld s",
		   g->account, (long long)(g->access_expires - now));
}

static void token(struct oauthd *o, const char *body, size_t n, time_t now, struct buf *resp,
		  struct buf *note)
{
	char client[128], type[96];
	if (!form_get(body, n, "client_id", client, sizeof client) ||
	    strcmp(client, OAUTHD_CLIENT_ID) != 0) {
		oauth_error(resp, 400, "invalid_client", 700016,
			    "Application not found in the directory (the practice server knows "
			    "only " OAUTHD_CLIENT_ID ").");
		buf_puts(note, "token: unknown client_id (invalid_client)");
		return;
	}
	if (!form_get(body, n, "grant_type", type, sizeof type)) {
		oauth_error(resp, 400, "invalid_request", 900144,
			    "The request body must contain the following parameter: 'grant_type'.");
		return;
	}
	if (strcmp(type, "authorization_code") == 0)
		token_code(o, body, n, now, resp, note);
	else if (strcmp(type, "refresh_token") == 0)
		token_refresh(o, body, n, now, resp, note);
	else if (strcmp(type, "urn:ietf:params:oauth:grant-type:device_code") == 0)
		token_device(o, body, n, now, resp, note);
	else
		oauth_error(resp, 400, "unsupported_grant_type", 70003,
			    "The app requested an unsupported grant type.");
}

/* RFC 7009: the grant of the token (refresh or access) is revoked; 200 whatever it was. */
static void revoke(struct oauthd *o, const char *body, size_t n, struct buf *resp, struct buf *note)
{
	char t[TOKEN_LEN + 1];
	if (form_get(body, n, "token", t, sizeof t))
		for (size_t i = 0; i < OAUTHD_GRANTS; i++) {
			struct grant *g = &o->grants[i];
			if (g->used && (same(g->refresh, t) || same(g->access, t))) {
				g->revoked = true;
				buf_printf(note, "revoke: the grant of %s is revoked", g->account);
			}
		}
	OPENSSL_cleanse(t, sizeof t);
	respond(resp, 200, "text/plain", "", NULL);
}

int oauthd_handle(struct oauthd *o, const struct oauthd_http *req, time_t now, struct buf *resp,
		  struct buf *note)
{
	buf_reset(resp);
	buf_reset(note);
	const char *t = req->target;
	size_t pl = strcspn(t, "?");
	const char *q = t[pl] ? t + pl + 1 : "";
	const char *body = req->body ? req->body : "";
	size_t n = req->body_len;
	bool post = strcmp(req->method, "POST") == 0;
#define PATH_IS(p) (pl == strlen(p) && strncmp(t, p, pl) == 0)
	if (PATH_IS("/authorize") && !post)
		authorize_get(o, q, now, resp, note);
	else if (PATH_IS("/authorize"))
		authorize_post(o, body, n, now, resp, note);
	else if (PATH_IS("/devicecode") && post)
		devicecode(o, body, n, now, resp, note);
	else if (PATH_IS("/device") && !post)
		device_get(o, q, resp);
	else if (PATH_IS("/device"))
		device_post(o, body, n, now, resp, note);
	else if (PATH_IS("/token") && post)
		token(o, body, n, now, resp, note);
	else if (PATH_IS("/revoke") && post)
		revoke(o, body, n, resp, note);
	else if (PATH_IS("/devicecode") || PATH_IS("/token") || PATH_IS("/revoke"))
		respond(resp, 405, "text/plain", "POST only\n", NULL);
	else
		error_page(resp, 404, "No such page.");
#undef PATH_IS
	return resp->data ? 0 : -1;
}

enum oauthd_verdict oauthd_check_token(struct oauthd *o, const char *token, size_t len,
				       const char *user, time_t now)
{
	if (len != TOKEN_LEN)
		return OAUTHD_TOKEN_UNKNOWN;
	for (size_t i = 0; i < OAUTHD_GRANTS; i++) {
		struct grant *g = &o->grants[i];
		if (!g->used || CRYPTO_memcmp(g->access, token, TOKEN_LEN) != 0)
			continue;
		if (g->revoked)
			return OAUTHD_TOKEN_REVOKED;
		if (o->faults.expired)
			g->access_expired =
			    true; /* for good: turning the fault off needs a refresh */
		if (g->access_expired || g->access_expires <= now)
			return OAUTHD_TOKEN_EXPIRED;
		if (!scope_smtp(g->scope))
			return OAUTHD_TOKEN_SCOPE;
		if (user && strcmp(user, g->account) != 0)
			return OAUTHD_TOKEN_OTHER_USER;
		return OAUTHD_TOKEN_OK;
	}
	return OAUTHD_TOKEN_UNKNOWN;
}
