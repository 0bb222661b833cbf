/* OAuth2's pure parts (src/net/oauth.c): the token endpoint's answers, forms, endpoint URLs. */
#include <stdlib.h>
#include <string.h>

#include "smtpsh/oauth.h"
#include "tap.h"

static int parse(const char *body, long status, struct oauth_token *t, struct buf *err)
{
	buf_reset(err);
	return oauth_parse_token(body, strlen(body), status, t, err);
}

static void test_token(void)
{
	struct oauth_token t;
	struct buf err;
	buf_init(&err);
	/* RFC 6749 5.1's example, with Microsoft's extra fields */
	is_int(parse("{\"access_token\":\"2YotnFZFEjr1zCsicMWpAA\",\"token_type\":\"Bearer\","
		     "\"expires_in\":3600,\"refresh_token\":\"tGzv3JOkF0XG5Qx2TlKWIA\","
		     "\"scope\":\"https://outlook.office.com/SMTP.Send\",\"ext_expires_in\":3600}",
		     200, &t, &err),
	       0, "success");
	is_str(t.access_token, "2YotnFZFEjr1zCsicMWpAA", "access_token");
	is_str(t.refresh_token, "tGzv3JOkF0XG5Qx2TlKWIA", "refresh_token");
	is_str(t.scope, "https://outlook.office.com/SMTP.Send", "scope");
	is_int(t.expires_in, 3600, "expires_in");
	oauth_token_free(&t);
	is_int(parse("{\"access_token\":\"a\",\"token_type\":\"bearer\",\"expires_in\":\"99\"}\n",
		     200, &t, &err),
	       0, "token_type case-insensitive, expires_in as a string, trailing newline");
	ok(t.refresh_token == NULL && t.expires_in == 99, "no rotation; 99 s");
	oauth_token_free(&t);
	/* RFC 6749 5.2 */
	is_int(parse("{\"error\":\"invalid_grant\",\"error_description\":\"AADSTS70008: expired\"}",
		     400, &t, &err),
	       1, "an OAuth2 error");
	is_str(t.error, "invalid_grant", "error");
	is_str(t.error_description, "AADSTS70008: expired", "error_description");
	ok(t.access_token == NULL, "no token");
	/* refused */
	is_int(parse("{\"access_token\":\"a\",\"token_type\":\"mac\"}", 200, &t, &err), -1,
	       "not Bearer");
	ok(err.data && strstr(err.data, "Bearer"), "said: %s", err.data);
	is_int(parse("{\"token_type\":\"Bearer\"}", 200, &t, &err), -1, "no access_token");
	is_int(parse("{\"access_token\":\"a\",\"token_type\":\"Bearer\"}", 500, &t, &err), -1,
	       "HTTP 500 without an error");
	is_int(parse("<html>", 502, &t, &err), -1, "not JSON");
	ok(err.data && strstr(err.data, "HTTP 502"), "said: %s", err.data);
	is_int(parse("{\"access_token\":\"a\",\"token_type\":\"Bearer\"} x", 200, &t, &err), -1,
	       "bytes after the object");
	is_int(parse("{\"access_token\":\"a\\u0000b\",\"token_type\":\"Bearer\"}", 200, &t, &err),
	       -1, "a NUL inside a token");
	is_int(parse("{\"a\":[[[[[1]]]]],\"access_token\":\"a\",\"token_type\":\"Bearer\"}", 200,
		     &t, &err),
	       -1, "nesting over 4");
	char *big = malloc(20000);
	strcpy(big, "{\"token_type\":\"Bearer\",\"access_token\":\"");
	memset(big + strlen(big), 'x', 17000);
	strcpy(big + 39 + 17000, "\"}");
	is_int(parse(big, 200, &t, &err), -1, "a token over 16 KiB");
	free(big);
	is_int(oauth_parse_token("{}", OAUTH_BODY_MAX + 1, 200, &t, &err), -1,
	       "a body over the cap");
	buf_free(&err);
}

static void test_form(void)
{
	struct buf f;
	buf_init(&f);
	oauth_form_add(&f, "grant_type", "refresh_token");
	oauth_form_add(&f, "scope", "https://outlook.office.com/SMTP.Send offline_access");
	oauth_form_add(&f, "x", "a&b=c+d~._-\xc3\xa9");
	is_str(f.data,
	       "grant_type=refresh_token&scope=https%3A%2F%2Foutlook.office.com%2FSMTP.Send%20"
	       "offline_access&x=a%26b%3Dc%2Bd~._-%C3%A9",
	       "percent-encoded but for the unreserved octets");
	buf_free(&f);
}

static void test_url(void)
{
	struct oauth_url u;
	struct buf err;
	buf_init(&err);
	ok(oauth_url_parse("https://login.microsoftonline.com/common/oauth2/v2.0/token", &u,
			   &err) == 0 &&
	       !strcmp(u.host, "login.microsoftonline.com") && u.port == 443 &&
	       !strcmp(u.path, "/common/oauth2/v2.0/token"),
	   "Microsoft's token endpoint");
	ok(oauth_url_parse("https://127.0.0.1:8443/t?x=1", &u, &err) == 0 &&
	       !strcmp(u.host, "127.0.0.1") && u.port == 8443 && !strcmp(u.path, "/t?x=1"),
	   "an address, a port, a query");
	ok(oauth_url_parse("https://[::1]:9/", &u, &err) == 0 && !strcmp(u.host, "::1"),
	   "IPv6 without brackets");
	buf_reset(&err);
	is_int(oauth_url_parse("http://idp.example/token", &u, &err), -1, "http refused");
	ok(err.data && strstr(err.data, "https only"), "said: %s", err.data);
	is_int(oauth_url_parse("not a url", &u, &err), -1, "not a URL");
	buf_free(&err);
}

static void test_device(void)
{
	struct oauth_device d;
	struct oauth_token e;
	struct buf err;
	buf_init(&err);
	/* RFC 8628 3.2's example */
	const char *ok_body = "{\"device_code\":\"GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS\","
			      "\"user_code\":\"WDJB-MJHT\",\"verification_uri\":"
			      "\"https://example.com/device\",\"verification_uri_complete\":"
			      "\"https://example.com/device?user_code=WDJB-MJHT\","
			      "\"expires_in\":1800,\"interval\":5}";
	is_int(oauth_parse_device(ok_body, strlen(ok_body), 200, &d, &e, &err), 0, "RFC 8628 3.2");
	is_str(d.user_code, "WDJB-MJHT", "user_code");
	is_str(d.verification_uri, "https://example.com/device", "verification_uri");
	is_int(d.expires_in, 1800, "expires_in");
	is_int(d.interval, 5, "interval");
	oauth_device_free(&d);
	const char *v1 = "{\"device_code\":\"d\",\"user_code\":\"u\",\"verification_url\":"
			 "\"https://microsoft.com/devicelogin\",\"expires_in\":\"900\"}";
	is_int(oauth_parse_device(v1, strlen(v1), 200, &d, &e, &err), 0, "verification_url too");
	ok(d.interval == 5 && d.expires_in == 900, "interval 5 when not said (3.2)");
	oauth_device_free(&d);
	const char *js = "{\"device_code\":\"d\",\"user_code\":\"u\",\"verification_uri\":"
			 "\"javascript:alert(1)\"}";
	is_int(oauth_parse_device(js, strlen(js), 200, &d, &e, &err), -1,
	       "a URI that is not https");
	const char *no = "{\"user_code\":\"u\",\"verification_uri\":\"https://x\"}";
	is_int(oauth_parse_device(no, strlen(no), 200, &d, &e, &err), -1, "no device_code");
	const char *er = "{\"error\":\"invalid_client\"}";
	is_int(oauth_parse_device(er, strlen(er), 400, &d, &e, &err), 1, "an OAuth2 error");
	is_str(e.error, "invalid_client", "its code");
	buf_free(&err);
}

static void test_code_flow(void)
{
	char v[44], ch[44], v2[44], ch2[44], st[33];
	ok(oauth_pkce(v, ch) == 0 && strlen(v) == 43 && strlen(ch) == 43, "PKCE: 43 and 43");
	ok(strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == 43,
	   "the verifier is base64url (RFC 7636 4.1)");
	ok(oauth_pkce(v2, ch2) == 0 && strcmp(v, v2) != 0, "a new verifier each time");
	ok(oauth_state(st) == 0 && strlen(st) == 32, "a state of 32 hex digits");
	struct buf u;
	buf_init(&u);
	ok(oauth_authorize_request("https://idp.example/authorize", "cid", "http://127.0.0.1:5000/",
				   "smtp offline_access", "s1", "ch", &u) == 0,
	   "the authorization request");
	is_str(u.data,
	       "https://idp.example/"
	       "authorize?response_type=code&client_id=cid&redirect_uri=http%3A%2F%2F"
	       "127.0.0.1%3A5000%2F&scope=smtp%20offline_access&state=s1&code_challenge=ch&"
	       "code_challenge_method=S256",
	       "all the parameters, encoded");
	oauth_authorize_request("https://idp.example/a?p=1", "c", "r", NULL, "s", "h", &u);
	ok(strstr(u.data, "/a?p=1&response_type=code") != NULL, "an existing query kept");
	buf_free(&u);

	struct buf err;
	buf_init(&err);
	struct oauth_token e;
	char *code;
	is_int(oauth_parse_redirect("/?code=abc%2Bd+e&state=s1", "s1", &code, &e, &err), 0,
	       "a code with our state");
	is_str(code, "abc+d e", "decoded");
	free(code);
	is_int(oauth_parse_redirect("http://127.0.0.1:5000/?state=s1&code=x#frag", "s1", &code, &e,
				    &err),
	       0, "a pasted URL");
	is_str(code, "x", "its code");
	free(code);
	is_int(oauth_parse_redirect("/?code=x&state=s2", "s1", &code, &e, &err), -1,
	       "another state refused");
	is_int(oauth_parse_redirect("/?code=x", "s1", &code, &e, &err), -1, "no state refused");
	is_int(oauth_parse_redirect("/?code=x&state=s", "s1", &code, &e, &err), -1,
	       "a prefix of the state refused");
	is_int(oauth_parse_redirect("/?error=access_denied&error_description=no%20way&state=s1",
				    "s1", &code, &e, &err),
	       1, "the provider's error");
	is_str(e.error, "access_denied", "error");
	is_str(e.error_description, "no way", "error_description");
	is_int(oauth_parse_redirect("/?error=access_denied&state=evil", "s1", &code, &e, &err), -1,
	       "an error with a foreign state refused too");
	is_int(oauth_parse_redirect("/?state=s1&code=a%00b", "s1", &code, &e, &err), -1,
	       "a NUL in the code refused");
	is_int(oauth_parse_redirect("/", "s1", &code, &e, &err), -1, "no query");
	buf_free(&err);
}

int main(void)
{
	test_code_flow();
	test_token();
	test_device();
	test_form();
	test_url();
	return done_testing();
}
