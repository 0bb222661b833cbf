/*
 * The provider presets: profiles that ship with smtpsh. Hosts, ports and TLS modes as each
 * provider documents them for mail clients; the note says what the provider expects for AUTH.
 * A unit test (tests/unit/test_profile.c) pins every value; nothing here touches the network.
 */
#include "smtpsh/profile.h"

/* The Microsoft identity platform's v2 endpoints ({tenant}: common, organizations, consumers
   or the tenant's ID or domain); no revocation endpoint. No client ID ships: each user
   registers an application of their own (docs/oauth.md). */
#define MS_IDP "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/"

static const struct profile presets[] = {
    {
	.name = "office365",
	.host = "smtp.office365.com",
	.port = "587",
	.tls = TLS_STARTTLS,
	.note = "Office 365: SMTP AUTH must be enabled for the tenant and the "
		"mailbox (535 5.7.139 when it is not); Microsoft is retiring basic "
		"auth (password), OAuth2 is \\auth XOAUTH2",
	.oauth_tenant = "organizations",
	.oauth_scope = "https://outlook.office.com/SMTP.Send offline_access",
	.oauth_authorize_url = MS_IDP "authorize",
	.oauth_token_url = MS_IDP "token",
	.oauth_device_url = MS_IDP "devicecode",
	.builtin = true,
    },
    {
	.name = "outlook",
	.host = "smtp-mail.outlook.com",
	.port = "587",
	.tls = TLS_STARTTLS,
	.note = "Outlook.com: Microsoft is retiring basic auth (password) for personal "
		"accounts too; OAuth2 is \\auth XOAUTH2",
	.oauth_tenant = "consumers",
	.oauth_scope = "https://outlook.office.com/SMTP.Send offline_access",
	.oauth_authorize_url = MS_IDP "authorize",
	.oauth_token_url = MS_IDP "token",
	.oauth_device_url = MS_IDP "devicecode",
	.builtin = true,
    },
    {
	.name = "gmail",
	.host = "smtp.gmail.com",
	.port = "587",
	.tls = TLS_STARTTLS,
	.note = "Gmail: an app password (2-Step Verification on), or OAuth2 with \\auth "
		"XOAUTH2; the account password gets 534 5.7.9 (port 465 works too: "
		"smtpsh --tls gmail 465)",
	/* Google: no device flow for the Gmail scope; desktop clients have a secret */
	.oauth_scope = "https://mail.google.com/",
	.oauth_authorize_url = "https://accounts.google.com/o/oauth2/v2/auth",
	.oauth_token_url = "https://oauth2.googleapis.com/token",
	.oauth_revoke_url = "https://oauth2.googleapis.com/revoke",
	.builtin = true,
    },
    {
	.name = "aol",
	.host = "smtp.aol.com",
	.port = "465",
	.tls = TLS_IMPLICIT,
	.note = "AOL: log in with an app password (Account Security, Generate app "
		"password), not the account password",
	.builtin = true,
    },
    {
	.name = "yahoo",
	.host = "smtp.mail.yahoo.com",
	.port = "465",
	.tls = TLS_IMPLICIT,
	.note = "Yahoo: log in with an app password (Account Security, Generate app "
		"password), not the account password",
	.builtin = true,
    },
    {
	.name = "icloud",
	.host = "smtp.mail.me.com",
	.port = "587",
	.tls = TLS_STARTTLS,
	.note = "iCloud: an app-specific password (appleid.apple.com) and the full iCloud "
		"address as the user name",
	.builtin = true,
    },
};

const struct profile *profile_presets(size_t *n)
{
	*n = sizeof presets / sizeof presets[0];
	return presets;
}
