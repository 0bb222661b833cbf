#include "smtpsh/codes.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- basic codes (RFC 5321 4.2.2, 4.2.3; RFC 3207, 4954, 7504, 1870, 1846) ------------------ */

static const struct {
	int code;
	const char *meaning;
	const char *spec;
} basic[] = {
	{211, "system status, or system help reply", "RFC 5321 4.2.2"},
	{214, "help message", "RFC 5321 4.2.2"},
	{220, "service ready", "RFC 5321 4.2.2"},
	{221, "service closing the connection", "RFC 5321 4.2.2"},
	{235, "authentication succeeded", "RFC 4954 6"},
	{250, "requested action okay, completed", "RFC 5321 4.2.2"},
	{251, "user not local; will forward", "RFC 5321 4.2.2"},
	{252, "cannot verify the user, but will accept the message and try", "RFC 5321 4.2.2"},
	{334, "server challenge (AUTH): answer with a base64 line, or * to cancel", "RFC 4954 4"},
	{354, "start the message; end it with a line holding only \".\"", "RFC 5321 4.2.2"},
	{421, "service not available, closing the connection", "RFC 5321 4.2.2"},
	{432, "a password transition is needed", "RFC 4954 6"},
	{450, "mailbox unavailable (busy, or blocked for now)", "RFC 5321 4.2.2"},
	{451, "action aborted: local error in processing", "RFC 5321 4.2.2"},
	{452, "insufficient system storage (or too many recipients)", "RFC 5321 4.2.2"},
	{454, "TLS not available, or temporary authentication failure", "RFC 3207 4, RFC 4954 6"},
	{455, "server unable to accommodate the parameters", "RFC 5321 4.2.2"},
	{500, "syntax error, command unrecognised (or line too long)", "RFC 5321 4.2.2"},
	{501, "syntax error in parameters or arguments", "RFC 5321 4.2.2"},
	{502, "command not implemented", "RFC 5321 4.2.2"},
	{503, "bad sequence of commands", "RFC 5321 4.2.2"},
	{504, "command parameter not implemented (an unknown AUTH mechanism...)", "RFC 5321 4.2.2"},
	{521, "this host does not accept mail", "RFC 7504"},
	{530, "authentication required (or STARTTLS required first)", "RFC 4954 6, RFC 3207 4"},
	{534, "authentication mechanism is too weak", "RFC 4954 6"},
	{535, "authentication credentials invalid", "RFC 4954 6"},
	{538, "encryption required for the requested authentication mechanism", "RFC 4954 6"},
	{550, "mailbox unavailable (not found, no access, or refused by policy)", "RFC 5321 4.2.2"},
	{551, "user not local; try another path", "RFC 5321 4.2.2"},
	{552, "exceeded storage allocation (message too big, mailbox full)", "RFC 5321 4.2.2"},
	{553, "mailbox name not allowed (bad address syntax, sender refused)", "RFC 5321 4.2.2"},
	{554, "transaction failed (as a greeting: no SMTP service here)", "RFC 5321 4.2.2"},
	{555, "MAIL FROM/RCPT TO parameters not recognised or not implemented", "RFC 5321 4.2.2"},
	{556, "the domain does not accept mail", "RFC 7504"},
};

static const char *const basic_classes[] = {
	[2] = "success",
	[3] = "intermediate: the server waits for more",
	[4] = "temporary failure: the same command may work later",
	[5] = "permanent failure: do not repeat it unchanged",
};

static const char *const basic_categories[] = {
	[0] = "syntax", [1] = "information", [2] = "connection", [3] = "authentication",
	[4] = "unspecified", [5] = "mail system",
};

static int basic_index(int code)
{
	for (size_t i = 0; i < sizeof basic / sizeof basic[0]; i++)
		if (basic[i].code == code)
			return (int)i;
	return -1;
}

const char *codes_basic(int code)
{
	int i = basic_index(code);
	return i < 0 ? NULL : basic[i].meaning;
}

const char *codes_basic_class(int code)
{
	int d = code / 100;
	return d >= 2 && d <= 5 && code < 600 ? basic_classes[d] : NULL;
}

/* ---- enhanced codes (RFC 3463, RFC 3886, 4468, 4954, 5248, 6710, 7293, 7372, 7505, 8689) ---- */

static const char *const enh_classes[] = {
	[2] = "success",
	[4] = "persistent transient failure",
	[5] = "permanent failure",
};

static const char *const enh_subjects[] = {
	[0] = "other or undefined status",
	[1] = "addressing status",
	[2] = "mailbox status",
	[3] = "mail system status",
	[4] = "network and routing status",
	[5] = "mail delivery protocol status",
	[6] = "message content or media status",
	[7] = "security or policy status",
};

static const struct {
	int subject, detail;
	const char *meaning;
} enh_details[] = {
	{0, 0, "other undefined status"},
	{1, 0, "other address status"},
	{1, 1, "bad destination mailbox address"},
	{1, 2, "bad destination system address"},
	{1, 3, "bad destination mailbox address syntax"},
	{1, 4, "destination mailbox address ambiguous"},
	{1, 5, "destination address valid"},
	{1, 6, "destination mailbox has moved, no forwarding address"},
	{1, 7, "bad sender's mailbox address syntax"},
	{1, 8, "bad sender's system address"},
	{1, 9, "message relayed to non-compliant mailer"},
	{1, 10, "recipient address has null MX"},
	{2, 0, "other or undefined mailbox status"},
	{2, 1, "mailbox disabled, not accepting messages"},
	{2, 2, "mailbox full"},
	{2, 3, "message length exceeds administrative limit"},
	{2, 4, "mailing list expansion problem"},
	{3, 0, "other or undefined mail system status"},
	{3, 1, "mail system full"},
	{3, 2, "system not accepting network messages"},
	{3, 3, "system not capable of selected features"},
	{3, 4, "message too big for system"},
	{3, 5, "system incorrectly configured"},
	{3, 6, "requested priority was changed"},
	{4, 0, "other or undefined network or routing status"},
	{4, 1, "no answer from host"},
	{4, 2, "bad connection"},
	{4, 3, "directory server failure"},
	{4, 4, "unable to route"},
	{4, 5, "mail system congestion"},
	{4, 6, "routing loop detected"},
	{4, 7, "delivery time expired"},
	{5, 0, "other or undefined protocol status"},
	{5, 1, "invalid command"},
	{5, 2, "syntax error"},
	{5, 3, "too many recipients"},
	{5, 4, "invalid command arguments"},
	{5, 5, "wrong protocol version"},
	{5, 6, "authentication exchange line is too long"},
	{6, 0, "other or undefined media error"},
	{6, 1, "media not supported"},
	{6, 2, "conversion required and prohibited"},
	{6, 3, "conversion required but not supported"},
	{6, 4, "conversion with loss performed"},
	{6, 5, "conversion failed"},
	{6, 6, "message content not available"},
	{6, 7, "non-ASCII addresses not permitted for that sender or recipient"},
	{6, 8, "UTF-8 string reply is required, but not permitted by the client"},
	{6, 9, "UTF-8 header message cannot be transferred to one or more recipients"},
	{7, 0, "other or undefined security status"},
	{7, 1, "delivery not authorized, message refused"},
	{7, 2, "mailing list expansion prohibited"},
	{7, 3, "security conversion required but not possible"},
	{7, 4, "security features not supported"},
	{7, 5, "cryptographic failure"},
	{7, 6, "cryptographic algorithm not supported"},
	{7, 7, "message integrity failure"},
	{7, 8, "authentication credentials invalid"},
	{7, 9, "authentication mechanism is too weak"},
	{7, 10, "encryption needed"},
	{7, 11, "encryption required for requested authentication mechanism"},
	{7, 12, "a password transition is needed"},
	{7, 13, "user account disabled"},
	{7, 14, "trust relationship required"},
	{7, 15, "priority level is too low"},
	{7, 16, "message is too big for the specified priority"},
	{7, 17, "mailbox owner has changed"},
	{7, 18, "domain owner has changed"},
	{7, 19, "RRVS test cannot be completed"},
	{7, 20, "no passing DKIM signature found"},
	{7, 21, "no acceptable DKIM signature found"},
	{7, 22, "no valid author-matched DKIM signature found"},
	{7, 23, "SPF validation failed"},
	{7, 24, "SPF validation error"},
	{7, 25, "reverse DNS validation failed"},
	{7, 26, "multiple authentication checks failed"},
	{7, 27, "sender address has null MX"},
	{7, 28, "mail flood detected"},
	{7, 29, "ARC validation failure"},
	{7, 30, "REQUIRETLS support required"},
};

const char *codes_enh_class(int cls)
{
	return cls == 2 || cls == 4 || cls == 5 ? enh_classes[cls] : NULL;
}

const char *codes_enh_subject(int subject)
{
	return subject >= 0 && subject <= 7 ? enh_subjects[subject] : NULL;
}

const char *codes_enh_detail(int subject, int detail)
{
	for (size_t i = 0; i < sizeof enh_details / sizeof enh_details[0]; i++)
		if (enh_details[i].subject == subject && enh_details[i].detail == detail)
			return enh_details[i].meaning;
	return NULL;
}

/* ---- hints ----------------------------------------------------------------------------------
 * First match wins: entries with a text come before the general entry of the same code. The
 * texts are the ones the providers send (they are what people paste into a search engine).
 */

#define O365 "Office 365: "
#define GMAIL "Gmail: "
#define YAHOO "Yahoo/AOL: "

const struct code_hint code_hints[] = {
    /* Office 365 / Outlook.com: SMTP AUTH switched off, basic auth gone, MFA */
    {535, "5.7.139", NULL, "SmtpClientAuthentication is disabled",
     O365 "SMTP AUTH is disabled for the whole tenant; an admin turns it on "
	  "(Set-TransportConfig -SmtpClientAuthenticationDisabled $false) or per mailbox, see "
	  "https://aka.ms/smtp_auth_disabled"},
    /* Microsoft's retirement of Basic authentication for SMTP AUTH (end of 2026): the
       password no longer works at all; OAuth2 is the way left */
    {550, "5.7.30", NULL, NULL,
     O365 "Basic authentication (a password) is not accepted for client submission: log in "
	  "with OAuth2 (\\oauth login with a profile holding your app's oauth-client-id, "
	  "then \\auth XOAUTH2; see docs/oauth.md)"},
    {535, "5.7.139", NULL, "basic authentication is disabled",
     O365 "basic authentication (password AUTH) is off for this tenant: log in with OAuth2 "
	  "(\\oauth login, then AUTH XOAUTH2 with the token), or ask the admin"},
    {535, "5.7.139", NULL, "security defaults",
     O365 "the organisation's security defaults (MFA) block password AUTH: use OAuth2 "
	  "(\\oauth login, then XOAUTH2), or the admin must exclude this account"},
    {535, "5.7.139", NULL, "credentials were incorrect",
     O365 "wrong user name or password; the user name is the full address (UPN); with MFA on, "
	  "a password alone is refused"},
    {535, "5.7.139", NULL, NULL,
     O365 "authentication refused by policy (SMTP AUTH disabled for the tenant or the mailbox, "
	  "MFA or conditional access): the reply text says which; OAuth2 (\\oauth login, "
	  "XOAUTH2) or the admin can help"},
    {535, "5.7.3", NULL, NULL,
     O365 "authentication unsuccessful: wrong user name/password, or SMTP AUTH disabled for "
	  "this mailbox (Set-CASMailbox -SmtpClientAuthenticationDisabled $false) or the "
	  "tenant; with MFA use OAuth2 (XOAUTH2)"},
    {530, "5.7.57", NULL, NULL,
     O365 "the client is not authenticated: AUTH (after STARTTLS, on port 587) before MAIL FROM"},
    {550, "5.7.60", NULL, NULL,
     O365 "you may not send as this sender: MAIL FROM and From: must be the mailbox you logged "
	  "in as, or the admin grants Send As"},
    {554, "5.2.0", NULL, "SendAsDenied",
     O365 "SendAsDenied: the From/MAIL FROM address is not the mailbox you logged in as "
	  "(and you have no Send As right): send from your own address"},
    {554, "5.2.252", NULL, "SendAsDenied",
     "Outlook.com: SendAsDenied: you may only send as the account you logged in with"},
    {550, "5.7.64", NULL, NULL,
     O365 "TenantAttribution / relay access denied: the connector does not recognise this "
	  "sender's IP or certificate; log in (AUTH) or fix the inbound connector"},
    {550, "5.7.708", NULL, NULL,
     O365 "traffic from this IP is not accepted (low reputation): send through your own "
	  "provider's submission server"},
    {550, "5.7.501", NULL, NULL,
     O365 "the account is blocked for sending spam: the admin must release it (Restricted "
	  "entities)"},
    {550, "5.7.520", NULL, NULL, "Outlook.com: refused as spam by content filtering"},
    {451, "4.7.500", NULL, NULL,
     O365 "server busy / throttled: wait and try again later, more slowly"},

    /* Gmail */
    {534, "5.7.9", NULL, "InvalidSecondFactor",
     GMAIL "2-Step Verification is on: make an app password (Google Account > Security > App "
	   "passwords) and log in with it, or use OAuth2 (XOAUTH2)"},
    {534, "5.7.14", NULL, NULL,
     GMAIL "Google wants a web login first (\"Less secure apps\" is gone): use an app password "
	   "(needs 2-Step Verification) or OAuth2 (XOAUTH2)"},
    {535, "5.7.8", NULL, "BadCredentials",
     GMAIL "user name and password not accepted: the user is the whole address; Google refuses "
	   "the account password for SMTP: use an app password, or OAuth2 (XOAUTH2)"},
    {530, "5.7.0", NULL, "Authentication Required",
     GMAIL "log in (AUTH, after STARTTLS on 587 or on 465) before MAIL FROM"},
    {550, "5.7.26", NULL, NULL,
     "unauthenticated sender: the sending domain's SPF, DKIM or DMARC checks failed (Gmail "
     "requires SPF or DKIM): send through the domain's own server, or fix its DNS records"},
    {550, "5.7.25", NULL, NULL,
     "the sending IP has no reverse DNS (PTR) record: send through a proper mail server"},
    {550, "5.7.1", NULL, "not authorized to send email directly",
     GMAIL "this IP may not deliver directly (a home or cloud IP): send through your provider's "
	   "submission server (587 with AUTH)"},
    {421, "4.7.0", NULL, "unusual rate",
     GMAIL "too much mail or too many complaints from this IP: slow down and try later"},
    {454, "4.7.0", NULL, "Too many login attempts",
     "too many login attempts: wait a while before trying again"},
    {555, "5.5.2", NULL, NULL,
     "syntax error: write the address in angle brackets, MAIL FROM:<a@example.org>"},

    /* Yahoo / AOL */
    {535, "5.7.0", NULL, "#AUTH005",
     YAHOO "too many bad login attempts; AOL and Yahoo want an app password (Account security > "
	   "Generate app password), not the account password"},
    {535, "5.7.0", NULL, "#MBR",
     YAHOO "the account must be verified in a web browser first (login.yahoo.com / "
	   "login.aol.com)"},
    {421, "4.7.0", NULL, "[TS",
     YAHOO "mail from this IP is deferred (complaints or rate): try later, more slowly"},
    {553, "5.7.1", NULL, "[BL",
     "this IP is on a block list (the bracketed code names it): send through your provider"},
    {553, NULL, NULL, "From address not verified",
     YAHOO "the From address is not one of your account's verified addresses"},

    /* Authentication (RFC 4954, RFC 3207): what every server says */
    {535, "5.7.8", NULL, NULL,
     "bad credentials: check the user name (often the whole address) and the password; "
     "providers with 2-step verification want an app password or OAuth2"},
    {535, NULL, NULL, NULL,
     "authentication failed: check the user name and the password (base64 of each for AUTH "
     "LOGIN); some providers want an app password or OAuth2"},
    {534, NULL, NULL, NULL,
     "the mechanism or password is too weak for this server: an application-specific password "
     "or OAuth2 (XOAUTH2) is required"},
    {530, NULL, NULL, "STARTTLS",
     "TLS first: send STARTTLS, then EHLO again, then AUTH (or connect with --starttls / "
     "--tls)"},
    {530, NULL, NULL, NULL,
     "authentication required: log in with AUTH (after STARTTLS) before MAIL FROM"},
    {538, NULL, NULL, NULL,
     "this mechanism needs an encrypted connection: STARTTLS first, then EHLO and AUTH"},
    {454, "4.7.0", "AUTH", NULL,
     "temporary authentication failure (the server's password check is unavailable, or too "
     "many attempts): wait and try again; the credentials may be fine"},
    {454, NULL, "AUTH", NULL,
     "temporary authentication failure: wait and try again; the credentials may be fine"},
    {454, NULL, "STARTTLS", NULL,
     "the server cannot do TLS now (its certificate or key is broken): try later; do not send "
     "a password without TLS"},
    {504, NULL, "AUTH", NULL,
     "unknown mechanism: use one the server lists on its AUTH line (\\caps)"},
    {503, NULL, "AUTH", "not enabled",
     "this port offers no AUTH: use the submission port (587 with STARTTLS, or 465 with TLS)"},
    {503, NULL, "AUTH", "already authenticated",
     "you are logged in already (RSET does not undo it)"},
    {503, NULL, "AUTH", NULL,
     "AUTH is not possible now: send EHLO first, and STARTTLS if the server wants TLS; a "
     "second AUTH is refused"},
    {501, NULL, "AUTH", NULL,
     "the AUTH answer is not valid base64 (or was cancelled): \\b64 encodes text for you"},
    {432, NULL, NULL, NULL, "a password change is needed: log in through the provider's web page"},

    /* Relaying, senders, recipients, sizes, spam */
    {554, "5.7.1", NULL, "Relay access denied",
     "relay denied: this server does not forward mail to other domains for you: log in first "
     "(AUTH, on 587 or 465) or send only to the domains it serves"},
    {454, "4.7.1", NULL, "Relay access denied",
     "relay denied: log in first (AUTH) or send only to the domains this server serves"},
    {550, "5.7.1", NULL, "relay",
     "relay denied: log in first (AUTH) or send only to the domains this server serves"},
    {554, NULL, NULL, "relay",
     "relay denied: log in first (AUTH) or send only to the domains this server serves"},
    {553, "5.7.1", NULL, "not owned by user",
     "sender not allowed: MAIL FROM must be an address of the account you logged in as"},
    {553, "5.7.1", NULL, "not logged in",
     "sender not allowed without login: AUTH first, then MAIL FROM your own address"},
    {550, "5.7.1", NULL, "spam",
     "refused as spam (unsolicited mail): check the content, the sending IP's reputation and "
     "the domain's SPF/DKIM/DMARC"},
    {550, "5.7.1", NULL, "unsolicited",
     "refused as spam (unsolicited mail): check the content, the sending IP's reputation and "
     "the domain's SPF/DKIM/DMARC"},
    {550, "5.7.1", NULL, "Client host rejected",
     "this server refuses your IP address (policy or block list)"},
    {550, "5.7.1", NULL, NULL,
     "refused by policy: the text says why (relay, spam, sender, IP); log in, or ask the "
     "postmaster"},
    {550, "5.1.1", NULL, NULL, "no such mailbox: check the recipient's address (typo?)"},
    {550, NULL, NULL, "User unknown", "no such mailbox: check the recipient's address (typo?)"},
    {550, NULL, NULL, "does not exist", "no such mailbox: check the recipient's address (typo?)"},
    {552, "5.3.4", NULL, NULL,
     "message too big: EHLO's SIZE line gives the limit; send a smaller message (share big files "
     "by link)"},
    {552, "5.2.3", NULL, NULL,
     "message too big for this server's limit (EHLO's SIZE line): send a smaller message"},
    {552, "5.2.2", NULL, NULL, "the recipient's mailbox is full: try later or tell them otherwise"},
    {452, "4.2.2", NULL, NULL, "the recipient's mailbox is full (for now): try later"},
    {452, "4.5.3", NULL, NULL,
     "too many recipients for one message: send the rest in another transaction"},
    {451, "4.7.1", NULL, "greylist",
     "greylisting: the server wants the same message again in a few minutes (real mail "
     "servers retry by themselves)"},
    {450, "4.7.1", NULL, "greylist",
     "greylisting: the server wants the same message again in a few minutes (real mail "
     "servers retry by themselves)"},
    {501, "5.1.7", NULL, NULL,
     "bad sender address: write MAIL FROM:<a@example.org> with angle brackets, no spaces"},
    {501, "5.1.3", NULL, NULL,
     "bad recipient address: write RCPT TO:<b@example.org> with angle brackets, no spaces"},
    {503, NULL, NULL, "need MAIL", "MAIL FROM first, then RCPT TO, then DATA"},
    {503, NULL, NULL, "need RCPT", "at least one RCPT TO must be accepted before DATA"},
    {503, NULL, NULL, "valid recipients", "no RCPT TO was accepted: DATA needs one"},
    {503, NULL, NULL, "HELO/EHLO", "say EHLO (or HELO) first"},
    {502, NULL, "STARTTLS", NULL, "this server does not offer TLS here: try port 465 (--tls)"},
    {421, NULL, NULL, NULL,
     "the server is closing the connection: connect again later (if it repeats, slow down)"},
};

const size_t code_hint_count = sizeof code_hints / sizeof code_hints[0];

/* ---- parsing --------------------------------------------------------------------------------- */

static size_t digits(const char *s, size_t len, size_t max, int *value)
{
	size_t n = 0;
	int v = 0;
	while (n < len && n <= max && isdigit((unsigned char)s[n]))
		v = v * 10 + (s[n++] - '0');
	if (n == 0 || n > max)
		return 0;
	*value = v;
	return n;
}

size_t codes_parse_enhanced(const char *text, size_t len, struct enh_code *out)
{
	if (len < 5 || (text[0] != '2' && text[0] != '4' && text[0] != '5') || text[1] != '.')
		return 0;
	size_t i = 2;
	int subject, detail;
	size_t n = digits(text + i, len - i, 3, &subject);
	if (!n)
		return 0;
	i += n;
	if (i >= len || text[i] != '.')
		return 0;
	i++;
	n = digits(text + i, len - i, 3, &detail);
	if (!n)
		return 0;
	i += n;
	if (i < len && text[i] != ' ' && text[i] != '\t')
		return 0;
	out->cls = text[0] - '0';
	out->subject = subject;
	out->detail = detail;
	return i;
}

bool codes_parse_reply_line(const char *line, size_t len, int *code, struct enh_code *enh,
			    bool *has_enh)
{
	*has_enh = false;
	if (len < 3 || line[0] < '2' || line[0] > '5' || !isdigit((unsigned char)line[1]) ||
	    !isdigit((unsigned char)line[2]) || (len > 3 && line[3] != ' ' && line[3] != '-'))
		return false;
	*code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (len > 4)
		*has_enh = codes_parse_enhanced(line + 4, len - 4, enh) > 0;
	return true;
}

/* ---- lookups and explanations ---------------------------------------------------------------- */

static bool contains_ci(const char *hay, size_t len, const char *needle)
{
	size_t n = strlen(needle);
	if (n == 0)
		return true;
	for (size_t i = 0; i + n <= len; i++) {
		size_t k = 0;
		while (k < n && tolower((unsigned char)hay[i + k]) == tolower((unsigned char)needle[k]))
			k++;
		if (k == n)
			return true;
	}
	return false;
}

static bool enh_equals(const struct enh_code *enh, const char *s)
{
	struct enh_code want;
	if (!enh || codes_parse_enhanced(s, strlen(s), &want) != strlen(s))
		return false;
	return want.cls == enh->cls && want.subject == enh->subject && want.detail == enh->detail;
}

const struct code_hint *codes_hint(int code, const struct enh_code *enh, const char *verb,
				   const char *text, size_t len)
{
	for (size_t i = 0; i < code_hint_count; i++) {
		const struct code_hint *h = &code_hints[i];
		if (h->code != code)
			continue;
		if (h->enh && !enh_equals(enh, h->enh))
			continue;
		if (h->verb && (!verb || strcmp(h->verb, verb) != 0))
			continue;
		if (h->text && (!text || !contains_ci(text, len, h->text)))
			continue;
		return h;
	}
	return NULL;
}

void codes_brief(int code, const struct enh_code *enh, struct buf *out)
{
	const char *cls = codes_basic_class(code);
	const char *meaning = codes_basic(code);
	if (cls) {
		size_t n = strcspn(cls, ":");
		buf_printf(out, "%.*s", (int)n, cls);
	}
	if (meaning)
		buf_printf(out, "%s%s", cls ? ": " : "", meaning);
	if (!enh)
		return;
	const char *detail = codes_enh_detail(enh->subject, enh->detail);
	const char *subject = codes_enh_subject(enh->subject);
	buf_printf(out, "; %d.%d.%d %s", enh->cls, enh->subject, enh->detail,
		   detail ? detail : subject ? subject : "(unknown detail)");
}

/* Whether hint h belongs to an explanation of code, of enh, or (both given) of the pair: for
   the pair, the hints a reply with both would get beside it (codes_hint's rule). */
static bool hint_of(const struct code_hint *h, int code, const struct enh_code *enh)
{
	if (code && enh)
		return h->code == code && (!h->enh || enh_equals(enh, h->enh));
	return enh ? h->enh && enh_equals(enh, h->enh) : h->code == code;
}

/* The condition of hint h as the list shows it: its other code, the verb, the text. */
static void hint_condition(const struct code_hint *h, int code, const struct enh_code *enh,
			   struct buf *out)
{
	size_t start = out->len;
	if (!code)
		buf_printf(out, "%d ", h->code);
	else if (h->enh && !enh)
		buf_printf(out, "%s ", h->enh);
	if (h->verb)
		buf_printf(out, "to %s ", h->verb);
	if (h->text)
		buf_printf(out, "\"...%s...\" ", h->text);
	if (out->len == start)
		buf_puts(out, "otherwise ");
	out->len--; /* the last blank */
	out->data[out->len] = '\0';
}

/*
 * Lists the hints of the table for a basic code (code), an enhanced code (enh) or the pair,
 * under heading. Hints that give the same advice are one item, their conditions joined by
 * "or": the advice is said once.
 */
static void explain_hints(int code, const struct enh_code *enh, const char *heading,
			  struct buf *out)
{
	bool any = false;
	/* For a pair, the hints up to the first without a condition: codes_hint takes the first
	   that matches, so those after it are never shown beside such a reply. */
	size_t count = code_hint_count;
	for (size_t i = 0; code && enh && i < count; i++)
		if (hint_of(&code_hints[i], code, enh) && !code_hints[i].verb && !code_hints[i].text)
			count = i + 1;
	/* the cases with a condition first, "otherwise" last */
	for (size_t n = 0; n < 2 * count; n++) {
		size_t i = n % count, pass = n / count;
		const struct code_hint *h = &code_hints[i];
		if (!hint_of(h, code, enh))
			continue;
		bool otherwise = !h->verb && !h->text && code && (enh || !h->enh);
		if (otherwise != (pass == 1))
			continue;
		bool said = false; /* an earlier item gave this advice already */
		for (size_t k = 0; k < i && !said; k++)
			said = hint_of(&code_hints[k], code, enh) &&
			       strcmp(code_hints[k].hint, h->hint) == 0;
		if (said)
			continue;
		buf_printf(out, "\n%s  - ", any ? "" : heading);
		any = true;
		hint_condition(h, code, enh, out);
		for (size_t k = i + 1; k < count; k++) {
			if (!hint_of(&code_hints[k], code, enh) ||
			    strcmp(code_hints[k].hint, h->hint) != 0)
				continue;
			buf_puts(out, " or ");
			hint_condition(&code_hints[k], code, enh, out);
		}
		buf_printf(out, " -> %s", h->hint);
	}
}

static int explain_basic(int code, struct buf *out)
{
	const char *cls = codes_basic_class(code);
	if (!cls)
		return -1;
	int second = code / 10 % 10;
	buf_printf(out, "%d: %s\n", code, cls);
	buf_printf(out, "  %dxx: %s; x%dx: %s\n", code / 100, code / 100 == 2   ? "positive completion"
							  : code / 100 == 3 ? "positive intermediate"
							  : code / 100 == 4 ? "transient negative completion"
									    : "permanent negative completion",
		   second, second <= 5 ? basic_categories[second] : "unassigned category");
	int i = basic_index(code);
	if (i >= 0)
		buf_printf(out, "  %s (%s)", basic[i].meaning, basic[i].spec);
	else
		buf_puts(out, "  not a code of RFC 5321 or its extensions: read the text of the reply");
	explain_hints(code, NULL, "known cases:\n", out);
	return 0;
}

static int explain_enhanced(const struct enh_code *e, struct buf *out)
{
	const char *cls = codes_enh_class(e->cls);
	const char *subject = codes_enh_subject(e->subject);
	const char *detail = codes_enh_detail(e->subject, e->detail);
	buf_printf(out, "%d.%d.%d: %s", e->cls, e->subject, e->detail,
		   detail ? detail : "a detail the IANA registry does not list (the server's own)");
	buf_printf(out, "\n  class %d: %s\n  subject %d: %s\n  (RFC 3463 and the IANA registry of "
			"SMTP enhanced status codes)",
		   e->cls, cls, e->subject, subject ? subject : "not assigned");
	explain_hints(0, e, "known cases:\n", out);
	return 0;
}

int codes_explain(const char *arg, struct buf *out)
{
	size_t len = strlen(arg);
	struct enh_code e;
	if (codes_parse_enhanced(arg, len, &e) == len && len)
		return explain_enhanced(&e, out);
	int code;
	if (len == 3 && codes_parse_reply_line(arg, len, &code, &e, &(bool){false}))
		return explain_basic(code, out);
	return -1;
}

int codes_explain_pair(const char *basic_arg, const char *enh_arg, struct buf *out)
{
	int code;
	struct enh_code e;
	size_t blen = strlen(basic_arg), elen = strlen(enh_arg);
	if (blen != 3 || !codes_parse_reply_line(basic_arg, blen, &code, &e, &(bool){false}) ||
	    !elen || codes_parse_enhanced(enh_arg, elen, &e) != elen || e.cls != code / 100)
		return -1;
	const char *meaning = codes_basic(code);
	const char *subject = codes_enh_subject(e.subject);
	const char *detail = codes_enh_detail(e.subject, e.detail);
	/* One heading for both: the class once (the two say the same), then what each adds;
	   the references are the long form's. */
	buf_printf(out, "%d %d.%d.%d: %s\n", code, e.cls, e.subject, e.detail,
		   codes_basic_class(code));
	buf_printf(out, "  %d: %s\n", code,
		   meaning ? meaning : "not a code of RFC 5321 or its extensions");
	buf_printf(out, "  %d.%d.%d: %s (%s)", e.cls, e.subject, e.detail,
		   detail ? detail : "a detail the IANA registry does not list (the server's own)",
		   subject ? subject : "subject not assigned");
	size_t before = out->len;
	explain_hints(code, &e, "what to do, by the text of the reply:\n", out);
	if (out->len == before)
		buf_puts(out, "\n  the text of the reply says why");
	buf_printf(out, "\n(every case of %d and of %d.%d.%d: \\explain -v %d %d.%d.%d)", code,
		   e.cls, e.subject, e.detail, code, e.cls, e.subject, e.detail);
	return 0;
}
