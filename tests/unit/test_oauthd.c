/* The practice sign-in server's core (src/practice/oauthd.c): the HTTP request parser's bounds,
   the device flow (pending, slow_down, approval, expiry, decline), the code flow with PKCE,
   refresh with rotation, revocation, the token checks of the SMTP side and the three faults,
   with a clock the test moves. Answers are read with the client's own parser (oauth.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpsh/oauth.h"
#include "smtpsh/oauthd.h"
#include "tap.h"

static int parse(const char *s, struct oauthd_http *req)
{
	return oauthd_http_parse(s, strlen(s), req);
}

static void test_http(void)
{
	struct oauthd_http r;
	is_int(parse("GET /device HTTP/1.1\r\nHost: x\r\n", &r), 0, "a head not ended: more");
	is_int(parse("GET /device?user_code=AB HTTP/1.1\r\n\r\nGET /", &r), 1, "a GET");
	is_str(r.target, "/device?user_code=AB", "its target");
	is_int((long long)r.total, 37, "the octets it takes (not the next request's)");
	is_int(parse("POST /token HTTP/1.1\r\nContent-Length: 5\r\n\r\nab", &r), 0,
	       "a body not all there: more");
	is_int(parse("POST /token HTTP/1.1\r\ncontent-length: 2\r\n\r\nab", &r), 1, "a POST");
	ok(r.body_len == 2 && memcmp(r.body, "ab", 2) == 0, "its body");
	is_int(parse("POST /token HTTP/1.1\r\n\r\n", &r), 411, "POST without a length");
	is_int(parse("POST /token HTTP/1.1\r\nContent-Length: 8193\r\n\r\n", &r), 413,
	       "a body over 8 KiB");
	is_int(parse("POST /token HTTP/1.1\r\nContent-Length: -1\r\n\r\n", &r), 400,
	       "a negative length");
	is_int(parse("POST /token HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", &r), 501,
	       "chunked");
	is_int(parse("PUT /token HTTP/1.1\r\n\r\n", &r), 501, "another method");
	is_int(parse("GET /token HTTP/2.0\r\n\r\n", &r), 505, "not HTTP/1.x");
	is_int(parse("GET token HTTP/1.1\r\n\r\n", &r), 400, "a target not starting with /");
	is_int(oauthd_http_parse("GET /\0 HTTP/1.1\r\n\r\n", 19, &r), 400, "a NUL");
	char big[OAUTHD_HEAD_MAX + 10];
	memset(big, 'a', sizeof big);
	memcpy(big, "GET /", 5);
	is_int(oauthd_http_parse(big, sizeof big, &r), 431, "a head over 8 KiB");
}

/* One request through the core: the whole response into resp; its status returned, the body
   (after the blank line) in *body. */
static int call(struct oauthd *o, const char *method, const char *target, const char *form,
		time_t now, struct buf *resp, const char **body)
{
	struct oauthd_http r = {0};
	snprintf(r.method, sizeof r.method, "%s", method);
	snprintf(r.target, sizeof r.target, "%s", target);
	r.body = form;
	r.body_len = form ? strlen(form) : 0;
	struct buf note;
	buf_init(&note);
	if (oauthd_handle(o, &r, now, resp, &note) < 0)
		return -1;
	buf_free(&note);
	const char *b = strstr(resp->data, "\r\n\r\n");
	*body = b ? b + 4 : "";
	return atoi(resp->data + 9);
}

/* The token endpoint's answer, read as the client reads it: 0, 1 (an error), -1. */
static int token(struct oauthd *o, const char *form, time_t now, struct oauth_token *t)
{
	struct buf resp, err;
	buf_init(&resp);
	buf_init(&err);
	const char *body;
	int status = call(o, "POST", "/token", form, now, &resp, &body);
	int r = oauth_parse_token(body, strlen(body), status, t, &err);
	buf_free(&resp);
	buf_free(&err);
	return r;
}

static char *field(const char *json, const char *name)
{
	char key[64];
	snprintf(key, sizeof key, "\"%s\":\"", name);
	const char *p = strstr(json, key);
	if (!p)
		return NULL;
	p += strlen(key);
	return strndup(p, strcspn(p, "\""));
}

static void test_device(void)
{
	struct oauthd *o = oauthd_new("https://127.0.0.1:1", "student");
	struct buf resp, form;
	buf_init(&resp);
	buf_init(&form);
	const char *body;
	time_t now = 1000;
	is_int(call(o, "POST", "/devicecode", "client_id=smtpsh-practice", now, &resp, &body), 200,
	       "device code");
	char *dc = field(body, "device_code"), *uc = field(body, "user_code");
	char *uri = field(body, "verification_uri");
	is_str(uri, "https://127.0.0.1:1/device", "verification_uri");
	ok(dc && strlen(dc) == 43 && uc && strlen(uc) == 9 && uc[4] == '-', "the codes");
	buf_printf(&form,
		   "client_id=smtpsh-practice&device_code=%s&grant_type=urn%%3Aietf%%3Aparams"
		   "%%3Aoauth%%3Agrant-type%%3Adevice_code",
		   dc);
	struct oauth_token t = {0};
	is_int(token(o, form.data, now, &t), 1, "first poll: an error");
	is_str(t.error, "authorization_pending", "authorization_pending");
	oauth_token_free(&t);
	is_int(token(o, form.data, now + 1, &t), 1, "a poll 1 s later");
	is_str(t.error, "slow_down", "slow_down (the interval is 2 s)");
	oauth_token_free(&t);
	is_int(token(o, form.data, now + 3, &t), 1, "3 s later: the interval is now 7 s");
	is_str(t.error, "slow_down", "slow_down again");
	oauth_token_free(&t);
	/* the user types the code in lower case without the dash */
	char typed[64];
	snprintf(typed, sizeof typed, "user_code=%c%c%c%c%s&consent=yes", uc[0] + 32, uc[1] + 32,
		 uc[2] + 32, uc[3] + 32, uc + 5);
	is_int(call(o, "POST", "/device", typed, now + 5, &resp, &body), 200,
	       "accepted at /device");
	is_int(token(o, form.data, now + 20, &t), 0, "the tokens");
	ok(t.access_token && strlen(t.access_token) == 43, "an access token");
	ok(t.refresh_token != NULL, "a refresh token (offline_access by default)");
	is_int(t.expires_in, OAUTHD_ACCESS_LIFETIME, "an hour");
	const char *a = t.access_token;
	is_int(oauthd_check_token(o, a, strlen(a), "student", now + 20), OAUTHD_TOKEN_OK,
	       "SMTP: the token is good for student");
	is_int(oauthd_check_token(o, a, strlen(a), "mallory", now + 20), OAUTHD_TOKEN_OTHER_USER,
	       "not for another user");
	is_int(oauthd_check_token(o, a, strlen(a), "student", now + 20 + 3600),
	       OAUTHD_TOKEN_EXPIRED, "expired after an hour");
	is_int(oauthd_check_token(o, "x", 1, NULL, now), OAUTHD_TOKEN_UNKNOWN, "unknown");

	/* refresh: rotated; the old refresh and access tokens die */
	char *old_access = strdup(a), *old_refresh = strdup(t.refresh_token);
	struct oauth_token again = {0};
	is_int(token(o, form.data, now + 21, &again), 1, "the device code is used once");
	oauth_token_free(&again);
	buf_reset(&form);
	buf_printf(&form, "client_id=smtpsh-practice&grant_type=refresh_token&refresh_token=%s",
		   old_refresh);
	struct oauth_token t2 = {0};
	is_int(token(o, form.data, now + 30, &t2), 0, "refresh");
	ok(t2.refresh_token && strcmp(t2.refresh_token, old_refresh) != 0, "rotated");
	is_int(oauthd_check_token(o, old_access, 43, NULL, now + 30), OAUTHD_TOKEN_UNKNOWN,
	       "the old access token is gone");
	struct oauth_token t3 = {0};
	is_int(token(o, form.data, now + 31, &t3), 1, "the old refresh token is refused");
	is_str(t3.error, "invalid_grant", "invalid_grant");
	oauth_token_free(&t3);

	/* the faults */
	struct oauthd_faults f = {.expired = true};
	oauthd_set_faults(o, &f);
	is_int(oauthd_check_token(o, t2.access_token, 43, "student", now + 31),
	       OAUTHD_TOKEN_EXPIRED, "oauth-expired: the token counts as expired");
	f.expired = false;
	oauthd_set_faults(o, &f);
	is_int(oauthd_check_token(o, t2.access_token, 43, "student", now + 32),
	       OAUTHD_TOKEN_EXPIRED, "and stays so once seen");
	f.revoked = true;
	oauthd_set_faults(o, &f);
	buf_reset(&form);
	buf_printf(&form, "client_id=smtpsh-practice&grant_type=refresh_token&refresh_token=%s",
		   t2.refresh_token);
	is_int(token(o, form.data, now + 40, &t3), 1, "oauth-revoked: refresh refused");
	ok(strstr(t3.error_description, "AADSTS50173") != NULL, "AADSTS50173");
	oauth_token_free(&t3);
	f = (struct oauthd_faults){.scope_wrong = true, .revoked = true};
	oauthd_set_faults(o, &f);
	/* a new sign-in under oauth-scope wrong: the token lacks SMTP.Send */
	call(o, "POST", "/devicecode", "client_id=smtpsh-practice", now + 50, &resp, &body);
	free(dc);
	free(uc);
	dc = field(body, "device_code");
	uc = field(body, "user_code");
	snprintf(typed, sizeof typed, "user_code=%s&consent=yes", uc);
	call(o, "POST", "/device", typed, now + 51, &resp, &body);
	buf_reset(&form);
	buf_printf(&form,
		   "client_id=smtpsh-practice&device_code=%s&grant_type=urn:ietf:params:"
		   "oauth:grant-type:device_code",
		   dc);
	is_int(token(o, form.data, now + 60, &t3), 0, "tokens after oauth-revoked: a new grant");
	is_str(t3.scope, "offline_access", "oauth-scope wrong: SMTP.Send left out");
	is_int(oauthd_check_token(o, t3.access_token, 43, "student", now + 60), OAUTHD_TOKEN_SCOPE,
	       "SMTP: the scope is missing");
	oauth_token_free(&t3);

	/* declined, and expired */
	call(o, "POST", "/devicecode", "client_id=smtpsh-practice", now + 70, &resp, &body);
	free(dc);
	free(uc);
	dc = field(body, "device_code");
	uc = field(body, "user_code");
	snprintf(typed, sizeof typed, "user_code=%s&consent=no", uc);
	call(o, "POST", "/device", typed, now + 71, &resp, &body);
	buf_reset(&form);
	buf_printf(&form,
		   "client_id=smtpsh-practice&device_code=%s&grant_type=urn:ietf:params:"
		   "oauth:grant-type:device_code",
		   dc);
	is_int(token(o, form.data, now + 80, &t3), 1, "declined");
	is_str(t3.error, "access_denied", "access_denied");
	oauth_token_free(&t3);
	call(o, "POST", "/devicecode", "client_id=smtpsh-practice", now + 90, &resp, &body);
	free(dc);
	dc = field(body, "device_code");
	buf_reset(&form);
	buf_printf(&form,
		   "client_id=smtpsh-practice&device_code=%s&grant_type=urn:ietf:params:"
		   "oauth:grant-type:device_code",
		   dc);
	is_int(token(o, form.data, now + 90 + OAUTHD_DEVICE_LIFETIME, &t3), 1, "too late");
	is_str(t3.error, "expired_token", "expired_token");
	oauth_token_free(&t3);
	is_int(token(o, "client_id=other&grant_type=refresh_token", now, &t3), 1, "another client");
	is_str(t3.error, "invalid_client", "invalid_client");
	oauth_token_free(&t3);

	free(old_access);
	free(old_refresh);
	free(dc);
	free(uc);
	free(uri);
	oauth_token_free(&t);
	oauth_token_free(&t2);
	buf_free(&resp);
	buf_free(&form);
	oauthd_free(o);
}

static void test_code_flow(void)
{
	struct oauthd *o = oauthd_new("https://127.0.0.1:1", "student");
	struct buf resp, url, form;
	buf_init(&resp);
	buf_init(&url);
	buf_init(&form);
	char verifier[44], challenge[44];
	oauth_pkce(verifier, challenge);
	const char *body;
	oauth_authorize_request("/authorize", "smtpsh-practice", "https://evil.example/",
				OAUTHD_SCOPE, "st<a>", challenge, &url);
	is_int(call(o, "GET", url.data, NULL, 0, &resp, &body), 400, "a redirect not on loopback");
	oauth_authorize_request("/authorize", "smtpsh-practice", "http://127.0.0.1:9/",
				OAUTHD_SCOPE, "st<a>", challenge, &url);
	is_int(call(o, "GET", url.data, NULL, 0, &resp, &body), 200, "the consent page");
	ok(strstr(body, "Accept") && !strstr(body, "st<a>"), "Accept, nothing unescaped");
	char *rid = NULL;
	const char *v = strstr(body, "name=\"request\" value=\"");
	if (v)
		rid = strndup(v + 22, 43);
	buf_printf(&form, "request=%s&consent=yes", rid ? rid : "");
	is_int(call(o, "POST", "/authorize", form.data, 1, &resp, &body), 302, "Accept: 302");
	const char *loc = strstr(resp.data, "Location: http://127.0.0.1:9/?code=");
	ok(loc != NULL, "to the loopback redirect with a code");
	char code[44] = "";
	if (loc)
		snprintf(code, sizeof code, "%.43s", loc + 35);
	ok(strstr(resp.data, "&state=st%3Ca%3E\r\n") != NULL, "the state, encoded");
	is_int(call(o, "POST", "/authorize", form.data, 2, &resp, &body), 400,
	       "a consent is used once");
	struct oauth_token t = {0};
	buf_reset(&form);
	buf_printf(&form,
		   "client_id=smtpsh-practice&grant_type=authorization_code&code=%s&redirect_uri="
		   "http%%3A%%2F%%2F127.0.0.1%%3A9%%2F&code_verifier=%s",
		   code, challenge);
	is_int(token(o, form.data, 3, &t), 1, "the challenge as the verifier: refused");
	ok(strstr(t.error_description, "AADSTS501481") != NULL, "PKCE: AADSTS501481");
	oauth_token_free(&t);
	buf_reset(&form);
	buf_printf(&form,
		   "client_id=smtpsh-practice&grant_type=authorization_code&code=%s&redirect_uri="
		   "http%%3A%%2F%%2F127.0.0.1%%3A9%%2F&code_verifier=%s",
		   code, verifier);
	is_int(token(o, form.data, 4, &t), 1, "a code refused once is gone");
	oauth_token_free(&t);
	/* again, the right way */
	is_int(call(o, "GET", url.data, NULL, 10, &resp, &body), 200, "a new consent page");
	v = strstr(body, "name=\"request\" value=\"");
	free(rid);
	rid = v ? strndup(v + 22, 43) : NULL;
	buf_reset(&form);
	buf_printf(&form, "request=%s&consent=yes", rid ? rid : "");
	call(o, "POST", "/authorize", form.data, 11, &resp, &body);
	loc = strstr(resp.data, "?code=");
	if (loc)
		snprintf(code, sizeof code, "%.43s", loc + 6);
	buf_reset(&form);
	buf_printf(&form,
		   "client_id=smtpsh-practice&grant_type=authorization_code&code=%s&redirect_uri="
		   "http%%3A%%2F%%2F127.0.0.1%%3A9%%2F&code_verifier=%s",
		   code, verifier);
	is_int(token(o, form.data, 12, &t), 0, "code + verifier: tokens");
	is_int(oauthd_check_token(o, t.access_token, 43, "student", 12), OAUTHD_TOKEN_OK,
	       "the token is good");
	/* revocation by the refresh token revokes the grant */
	buf_reset(&form);
	buf_printf(&form, "token=%s&token_type_hint=refresh_token", t.refresh_token);
	is_int(call(o, "POST", "/revoke", form.data, 13, &resp, &body), 200, "revoke: 200");
	is_int(oauthd_check_token(o, t.access_token, 43, "student", 14), OAUTHD_TOKEN_REVOKED,
	       "its access token too");
	oauth_token_free(&t);
	is_int(call(o, "GET", "/nothing", NULL, 0, &resp, &body), 404, "404");
	is_int(call(o, "GET", "/token", NULL, 0, &resp, &body), 405, "GET /token: 405");
	free(rid);
	buf_free(&resp);
	buf_free(&url);
	buf_free(&form);
	oauthd_free(o);
}

int main(void)
{
	test_http();
	test_device();
	test_code_flow();
	return done_testing();
}
