/*
 * Profiles: named connection settings (host, port, TLS mode, CA file, EHLO name) plus what
 * \auth needs (user, mechanism, password command). The built-in provider presets are profiles
 * that ship with smtpsh; users add their own in the profiles file, an INI-like text:
 *
 *     # comment (also ; comment)
 *     [lab]
 *     host = 127.0.0.1
 *     port = 2587
 *     tls = starttls              none | starttls | tls
 *     user = alice@example.test
 *     auth = PLAIN
 *     password-command = pass show lab/alice
 *     cafile = ~/lab/ca.pem
 *     ehlo = client.example
 *     timeout = 10
 *     note = the Postfix of the test lab
 *     resolver = 127.0.0.1@5353  for \connect --mx and \dns
 *     trust-anchor = ~/lab/trust-anchor.key
 *     oauth-client-id = 00000000-0000-0000-0000-000000000000   your app registration
 *     oauth-tenant = organizations                  {tenant} in the URLs (Microsoft)
 *     oauth-scope = https://outlook.office.com/SMTP.Send offline_access
 *     oauth-token-url = https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token
 *     oauth-authorize-url = ...   oauth-device-url = ...   oauth-revoke-url = ...
 *     oauth-client-secret-command = pass show google/client-secret
 *     oauth-cafile = ~/lab/idp-ca.pem               CAs for the endpoints (tests)
 *
 * Pure: parsing works on a string; nothing here reads files or prints. A leading ~/ in the keys
 * naming a file (cafile, trust-anchor, cert, key, oauth-cafile) is made the home directory
 * when parsed, so these fields hold usable paths. smtpsh(1) documents the format and the
 * precedence rules.
 */
#ifndef SMTPSH_PROFILE_H
#define SMTPSH_PROFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "smtpsh/proto.h"

#define PROFILE_NAME_MAX 64
#define PROFILE_MAX 1000 /* profiles in one file */

struct profile {
	const char *name;
	const char *host;
	const char *port;             /* NULL: the default port of the TLS mode */
	enum tls_mode tls;            /* never weakened by anything but the command line */
	const char *user;             /* \auth's default user name, or NULL */
	const char *auth;             /* \auth's default mechanism, or NULL */
	const char *password_command; /* \auth: a command whose output is the password, or NULL */
	const char *cafile;           /* NULL: the system store (a leading ~/ is the home) */
	const char *ehlo;             /* the automatic EHLO's name, or NULL */
	const char *note;             /* one line shown before connecting, or NULL */
	const char *resolver;	      /* --resolver ADDR[@PORT] for --mx and \dns, or NULL */
	const char *trust_anchor;     /* --trust-anchor FILE (a leading ~/ is the home), or NULL */
	/* TLS controls (tlsctl.h) as written, checked by tls_control_set when read; or NULL */
	const char *tls_min, *tls_max, *ciphers, *ciphersuites, *groups, *no_sni, *cert, *key,
	    *key_password_command;
	/* OAuth2 (RFC 6749): the user's own app registration and the provider's endpoints; a
	   "{tenant}" in a URL stands for oauth_tenant ("common" when not set). NULL: not set. */
	const char *oauth_client_id;
	const char *oauth_tenant;
	const char *oauth_scope;
	const char *oauth_token_url;
	const char *oauth_authorize_url;
	const char *oauth_device_url;
	const char *oauth_revoke_url;
	const char *oauth_client_secret_command; /* Google's desktop clients have a secret */
	const char *oauth_cafile;     /* PEM CAs for the endpoints instead of the system store */
	int timeout_ms;               /* 0: not set */
	bool ocsp;		      /* ocsp = yes: as --ocsp */
	bool builtin;                 /* a preset that ships with smtpsh */
	unsigned line;                /* the line of its [name] in the file (0 for presets) */
};

/* The profiles of one file; the strings belong to the set. */
struct profile_set {
	struct profile *items;
	size_t n;
};

void profile_set_init(struct profile_set *set);
void profile_set_free(struct profile_set *set);

/*
 * Parses the text of a profiles file (len bytes, NUL bytes refused) into set, which must be
 * empty. Returns 0, or -1 with *err_line the line (1-based) and err what is wrong there; set
 * is then empty again. A profile may have the name of a preset: it replaces the preset.
 */
int profile_parse(struct profile_set *set, const char *text, size_t len, unsigned *err_line,
		  char *err, size_t errlen);

/* The built-in presets (office365, outlook, gmail, aol, yahoo, icloud); *n gets how many. */
const struct profile *profile_presets(size_t *n);

/* The profile called name: the user's (set may be NULL) first, then the presets; or NULL. */
const struct profile *profile_find(const struct profile_set *set, const char *name);

/*
 * What a HOST argument means: an argument holding a dot or a colon (a domain name, an IPv4 or
 * IPv6 address) is always a host; otherwise the profile or preset of that name when there is
 * one; otherwise NULL (a host such as localhost).
 */
const struct profile *profile_for_argument(const struct profile_set *set, const char *arg);

/* Is name a valid profile name: 1 to PROFILE_NAME_MAX of A-Z a-z 0-9 - _ ? */
bool profile_name_valid(const char *name);

struct tls_controls;
/* The TLS controls of p (checked when the file was read) into out, zeroed first; the strings
   point into p. For smtpsh PROFILE and \connect PROFILE alike. */
void profile_tls_controls(const struct profile *p, struct tls_controls *out);

/* "none", "starttls" or "tls". */
const char *profile_tls_name(enum tls_mode mode);

/* The profile's port, or the default of its TLS mode ("25", "465", "587"). */
const char *profile_port(const struct profile *p);

#endif
