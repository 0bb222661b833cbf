/*
 * OAuth2 for SMTP: what smtpsh says to a provider's token endpoint (RFC 6749) and how it
 * reads the answers. The parsers are pure (json-c, bounded, fuzzed: tests/fuzz/fuzz_oauthjson.c);
 * the requests go over https.c (verified TLS, no redirects, bounded bodies). Nothing prints;
 * tokens never reach an error message.
 */
#ifndef SMTPSH_OAUTH_H
#define SMTPSH_OAUTH_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "smtpsh/buf.h"
#include "smtpsh/dns.h"

/* A token endpoint's answer is small; a larger body is refused. */
#define OAUTH_BODY_MAX 65536

/* What the token endpoint answered (RFC 6749 5.1 success, 5.2 error). Strings are owned:
   oauth_token_free wipes the tokens. */
struct oauth_token {
	char *access_token;  /* secret */
	char *refresh_token; /* secret; NULL when the provider did not send a new one */
	char *scope;	     /* NULL when not said (then: the scope asked for) */
	char *token_type;    /* "Bearer" */
	long expires_in;     /* seconds, 0 when not said */
	/* RFC 6749 5.2: "invalid_grant" (a refresh token revoked or expired), "invalid_client"...
	 */
	char error[64];
	char error_description[256]; /* from the provider: escape it before showing it */
};

void oauth_token_free(struct oauth_token *t);

/*
 * Reads a token endpoint's JSON answer body[0..len) (HTTP status status) into out. Returns 0
 * for a success (an access_token of type Bearer), 1 for an OAuth2 error (out->error set), -1
 * with err for anything else (not JSON, no access_token, not Bearer, a value too long).
 */
int oauth_parse_token(const char *body, size_t len, long status, struct oauth_token *out,
		      struct buf *err);

/*
 * Appends name=value to a form (application/x-www-form-urlencoded, with '&' before all but
 * the first pair), value percent-encoded but for the unreserved octets (RFC 3986 2.3).
 * Returns 0, or -1 when memory ran out. A form holding a secret is wiped by the caller
 * (buf_free_secret); reserve its size first so that no realloc leaves a copy behind.
 */
int oauth_form_add(struct buf *form, const char *name, const char *value);

/* Where an endpoint is: https://HOST[:PORT]/PATH split (the scheme must be https). */
struct oauth_url {
	char host[256];
	unsigned port; /* 443 when not given */
	char path[1024];
};

/* Splits url into out. Returns 0, or -1 with err (not https, no host, too long). */
int oauth_url_parse(const char *url, struct oauth_url *out, struct buf *err);

/* What a request needs besides its grant. */
struct oauth_client {
	const char *token_url;
	const char *client_id;
	const char *client_secret; /* NULL for a public client (Microsoft's native apps) */
	const char *scope;
	const char *cafile;  /* PEM CAs to trust instead of the system store, or NULL */
	struct dns_ctx *dns; /* resolves the endpoint's host (NULL: IP addresses only) */
	int timeout_ms;
};

/*
 * The refresh grant (RFC 6749 6): POSTs grant_type=refresh_token to the token endpoint.
 * Returns 0 with out filled (out->refresh_token set when the provider rotated it: store it),
 * 1 with out->error set when the provider refused (invalid_grant: log in again), -1 with err
 * when the request failed (network, TLS, HTTP status without an OAuth2 error, bad JSON).
 */
int oauth_refresh(const struct oauth_client *c, const char *refresh_token, struct oauth_token *out,
		  struct buf *err);

/* ---- the authorization code grant with PKCE (RFC 6749 4.1, RFC 7636, RFC 8252) ----------- */

/* A PKCE pair (RFC 7636 4.1, 4.2): the verifier, 43 base64url characters of 32 random
   octets, and its S256 challenge (base64url of its SHA-256, no padding). -1 when OpenSSL
   has no random bytes. */
int oauth_pkce(char verifier[44], char challenge[44]);

/* A random state (RFC 6749 10.12): 32 hex digits. -1 when OpenSSL has no random bytes. */
int oauth_state(char out[33]);

/* The authorization request's URL (RFC 6749 4.1.1, RFC 7636 4.3): authorize_url with
   response_type=code, client_id, redirect_uri, scope, state, code_challenge and
   code_challenge_method=S256 added to its query. Into out (reset first); -1 out of memory. */
int oauth_authorize_request(const char *authorize_url, const char *client_id,
			    const char *redirect_uri, const char *scope, const char *state,
			    const char *challenge, struct buf *out);

/*
 * The redirect's answer (RFC 6749 4.1.2): target is the request target the browser sent to
 * the loopback listener ("/?code=...&state=...") or the whole redirected URL pasted back.
 * Returns 0 with *code (malloc'd) when the state matches; 1 with error set (the provider's
 * "error" and "error_description", e.g. access_denied); -1 with err (no code, the state
 * missing or not ours: a forged redirect is refused).
 */
int oauth_parse_redirect(const char *target, const char *state, char **code,
			 struct oauth_token *error, struct buf *err);

/* The code exchanged for tokens (RFC 6749 4.1.3, with the PKCE verifier). As oauth_refresh. */
int oauth_code_exchange(const struct oauth_client *c, const char *code, const char *redirect_uri,
			const char *verifier, struct oauth_token *out, struct buf *err);

/*
 * The loopback redirect listener (RFC 8252 7.3): a socket on 127.0.0.1 at a port the system
 * picks. Returns the listening fd (its port in *port), or -1 with err.
 */
int oauth_listen(unsigned *port, struct buf *err);

/*
 * Waits up to timeout_ms for the browser's request on the listener fd (stopping early when
 * *stop becomes nonzero: Ctrl-C), reads its request line (at most 8 KiB, 10 s), reads it with
 * oauth_parse_redirect, answers a short page that says how the login went, and closes the
 * connection. A request for another path (a browser's /favicon.ico) is answered 404 and
 * waited past. Returns as oauth_parse_redirect; -1 with err also on timeout or interruption.
 */
int oauth_accept_redirect(int fd, int timeout_ms, volatile const sig_atomic_t *stop,
			  const char *state, char **code, struct oauth_token *error,
			  struct buf *err);

/* ---- the device authorization grant (RFC 8628) ------------------------------------------ */

/* The device authorization response (RFC 8628 3.2). Strings owned; oauth_device_free. */
struct oauth_device {
	char *device_code;		 /* for the polls: never shown */
	char *user_code;		 /* what the user types at verification_uri */
	char *verification_uri;		 /* (Microsoft's v1 said verification_url: taken too) */
	char *verification_uri_complete; /* the URI with the code in it, or NULL */
	long expires_in;		 /* seconds the codes live */
	long interval;			 /* seconds between polls: 5 when not said (3.2) */
};

void oauth_device_free(struct oauth_device *d);

/* Reads a device authorization response: 0, 1 with tok_err->error set (an OAuth2 error), -1
   with err (not JSON, a field missing, a URI that is not https). */
int oauth_parse_device(const char *body, size_t len, long status, struct oauth_device *out,
		       struct oauth_token *tok_err, struct buf *err);

/* Asks device_url for a device code and a user code (RFC 8628 3.1). Returns as
   oauth_parse_device. */
int oauth_device_start(const struct oauth_client *c, const char *device_url,
		       struct oauth_device *out, struct oauth_token *tok_err, struct buf *err);

/*
 * One poll of the token endpoint with the device code (RFC 8628 3.4). Returns as
 * oauth_refresh: 0 with the tokens; 1 with out->error "authorization_pending" (poll again),
 * "slow_down" (add 5 s to the interval, 3.5), "expired_token", "access_denied"...; -1 with err.
 */
int oauth_device_poll(const struct oauth_client *c, const char *device_code,
		      struct oauth_token *out, struct buf *err);

/*
 * Token revocation (RFC 7009): POSTs token=refresh_token&token_type_hint=refresh_token to
 * revoke_url. Returns 0 when the provider answered 200 (RFC 7009 2.2: also for a token it
 * did not know), -1 with err otherwise.
 */
int oauth_revoke(const struct oauth_client *c, const char *revoke_url, const char *refresh_token,
		 struct buf *err);

#endif
