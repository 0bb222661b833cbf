/*
 * The providers --like knows and their replies: one table of providers, one table of replies
 * (a row per provider and situation). smtpd.c asks like_reply() where it would answer a
 * misstep, and sends the provider's words instead of its own; a situation without a row
 * keeps the practice server's reply.
 *
 * Where the texts come from (each row says which):
 *   [MS]  Microsoft Learn: "Enable or disable SMTP AUTH in Exchange Online", "Fix issues with
 *         printers, scanners and LOB applications that send email using Microsoft 365", the
 *         Exchange Online NDR pages (5.7.57, 5.2.0 SendAsDenied) and the announcement of the
 *         end of Basic authentication for Client Submission (550 5.7.30, 2025/2026).
 *   [G]   Google Workspace Admin Help, "SMTP errors and reference" (support.google.com/a/
 *         answer/3726730), and Gmail's own multi-line replies with their help links.
 *   [Y]   Yahoo (AOL mail runs on the same servers): Yahoo Help "SMTP error codes" and the
 *         replies users report; Yahoo answers the same "(#AUTH005)" words for a wrong
 *         password and for an account password where an app password is needed.
 *   [A]   Apple Support, "iCloud Mail server settings for other email client apps" (port 587,
 *         STARTTLS, app-specific password) and the replies users report.
 *   The greetings and EHLO lines imitate each provider's form; host names are the providers'
 *   submission hosts (the certificate is still the practice CA's, for localhost).
 * "{host}" and "{peer}" stand for the host name and the client's address (no printf formats:
 * the table is data).
 */
#include "smtpsh/practice_like.h"

#include <strings.h>

/*
 * The AUTH lines (after STARTTLS) as the providers send them, and what is left out here
 * because the practice server does not implement it:
 *   office365, outlook  "250-AUTH LOGIN XOAUTH2"                      nothing left out
 *   gmail   "250-AUTH LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN OAUTHBEARER XOAUTH"
 *                                  PLAIN-CLIENTTOKEN and XOAUTH (Google's own, undocumented)
 *   aol, yahoo          "250-AUTH PLAIN LOGIN XOAUTH2 OAUTHBEARER"    nothing left out
 *   icloud  "250-AUTH LOGIN PLAIN ATOKEN ATOKEN2 WETOKEN"  Apple's token mechanisms (private)
 * None offers CRAM-MD5 or EXTERNAL, so --like never does either.
 */
static const struct like_provider providers[] = {
    {"office365", "smtp.office365.com", "587 STARTTLS", false, true, "LOGIN XOAUTH2"},
    {"outlook", "smtp-mail.outlook.com", "587 STARTTLS", false, true, "LOGIN XOAUTH2"},
    {"gmail", "smtp.gmail.com", "587 STARTTLS and 465 implicit TLS", true, false,
     "LOGIN PLAIN XOAUTH2 OAUTHBEARER"},
    {"aol", "smtp.aol.com", "465 implicit TLS (and 587 STARTTLS)", true, false,
     "PLAIN LOGIN XOAUTH2 OAUTHBEARER"},
    {"yahoo", "smtp.mail.yahoo.com", "465 implicit TLS (and 587 STARTTLS)", true, false,
     "PLAIN LOGIN XOAUTH2 OAUTHBEARER"},
    {"icloud", "smtp.mail.me.com", "587 STARTTLS", false, false, "LOGIN PLAIN"},
};

#define NPROVIDERS (sizeof providers / sizeof providers[0])

struct like_row {
	const char *provider;
	enum like_situation situation;
	const char *text;
};

/* Microsoft's words, shared by office365 and outlook (one service, two host names). */
#define MS_GREETING "220 {host} Microsoft ESMTP MAIL Service ready"
#define MS_EHLO "250-{host} Hello [{peer}]"
#define MS_NOT_AUTHENTICATED "530 5.7.57 Client not authenticated to send mail"
#define MS_AUTH_BEFORE_TLS "504 5.7.4 Unrecognized authentication type"
#define MS_AUTH_FAILED "535 5.7.3 Authentication unsuccessful"
#define MS_APP_PASSWORD                                                                            \
	"535 5.7.139 Authentication unsuccessful, the request did not meet the criteria to be "    \
	"authenticated successfully. Contact your administrator."
#define MS_SENDAS                                                                                  \
	"554 5.2.0 "                                                                               \
	"STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; "          \
	"Failed to process message due to a permanent exception with message Cannot submit "       \
	"message."
/* Yahoo's words, shared by aol and yahoo. */
#define Y_GREETING "220 {host} ESMTP ready"
#define Y_EHLO "250-{host} Hello {peer} [{peer}]"
#define Y_AUTH005 "535 5.7.0 (#AUTH005) Too many bad auth attempts."
#define Y_NEED_AUTH "530 5.7.1 Authentication required"

static const struct like_row rows[] = {
    {"office365", LIKE_GREETING, MS_GREETING},		     /* [MS] */
    {"office365", LIKE_EHLO, MS_EHLO},			     /* [MS] */
    {"office365", LIKE_NEED_TLS, MS_NOT_AUTHENTICATED},	     /* [MS] */
    {"office365", LIKE_AUTH_BEFORE_TLS, MS_AUTH_BEFORE_TLS}, /* [MS] */
    {"office365", LIKE_NEED_AUTH, MS_NOT_AUTHENTICATED},     /* [MS] */
    {"office365", LIKE_AUTH_FAILED, MS_AUTH_FAILED},	     /* [MS] */
    {"office365", LIKE_BASIC_AUTH_OFF,			     /* [MS], 2025 announcement */
     "550 5.7.30 Basic authentication is not supported for Client Submission."},
    {"office365", LIKE_APP_PASSWORD, MS_APP_PASSWORD}, /* [MS] MFA, security defaults */
    {"office365", LIKE_SENDAS_DENIED, MS_SENDAS},      /* [MS] NDR 5.2.0 */
    {"office365", LIKE_AUTH_MECH, MS_AUTH_BEFORE_TLS}, /* [MS] the same 504 for both */

    {"outlook", LIKE_GREETING, MS_GREETING},		   /* [MS] */
    {"outlook", LIKE_EHLO, MS_EHLO},			   /* [MS] */
    {"outlook", LIKE_NEED_TLS, MS_NOT_AUTHENTICATED},	   /* [MS] */
    {"outlook", LIKE_AUTH_BEFORE_TLS, MS_AUTH_BEFORE_TLS}, /* [MS] */
    {"outlook", LIKE_NEED_AUTH, MS_NOT_AUTHENTICATED},	   /* [MS] */
    {"outlook", LIKE_AUTH_FAILED, MS_AUTH_FAILED},	   /* [MS] */
    {"outlook", LIKE_BASIC_AUTH_OFF,			   /* [MS] Outlook.com, 2024 */
     "535 5.7.139 Authentication unsuccessful, basic authentication is disabled."},
    {"outlook", LIKE_APP_PASSWORD, MS_APP_PASSWORD}, /* [MS] */
    {"outlook", LIKE_SENDAS_DENIED, MS_SENDAS},	     /* [MS] */
    {"outlook", LIKE_AUTH_MECH, MS_AUTH_BEFORE_TLS}, /* [MS] */

    {"gmail", LIKE_GREETING, "220 {host} ESMTP practice - gsmtp"},		       /* [G] */
    {"gmail", LIKE_EHLO, "250-{host} at your service, [{peer}]"},		       /* [G] */
    {"gmail", LIKE_NEED_TLS, "530 5.7.0 Must issue a STARTTLS command first."},	       /* [G] */
    {"gmail", LIKE_AUTH_BEFORE_TLS, "530 5.7.0 Must issue a STARTTLS command first."}, /* [G] */
    {"gmail", LIKE_NEED_AUTH,							       /* [G] */
     "530-5.7.0 Authentication Required. For more information, go to\n"
     "530 5.7.0  https://support.google.com/mail/?p=WantAuthError practice - gsmtp"},
    {"gmail", LIKE_AUTH_FAILED, /* [G] */
     "535-5.7.8 Username and Password not accepted. For more information, go to\n"
     "535 5.7.8  https://support.google.com/mail/?p=BadCredentials practice - gsmtp"},
    {"gmail", LIKE_BASIC_AUTH_OFF, /* [G] sign-in with a password alone is blocked */
     "534-5.7.14 Please log in with your web browser and then try again. For more\n"
     "534 5.7.14  information, go to https://support.google.com/mail/answer/78754 practice - "
     "gsmtp"},
    {"gmail", LIKE_APP_PASSWORD, /* [G] */
     "534-5.7.9 Application-specific password required. For more information, go to\n"
     "534 5.7.9  https://support.google.com/mail/?p=InvalidSecondFactor practice - gsmtp"},
    {"gmail", LIKE_AUTH_MECH, /* [G] */
     "504 5.7.4 Unrecognized Authentication Type practice - gsmtp"},
    /* Gmail does not refuse another sender: it rewrites From to the account's address, so
       sendas-denied keeps the practice server's Postfix-like refusal. */

    {"aol", LIKE_GREETING, Y_GREETING},	       /* [Y] */
    {"aol", LIKE_EHLO, Y_EHLO},		       /* [Y] */
    {"aol", LIKE_NEED_AUTH, Y_NEED_AUTH},      /* [Y] */
    {"aol", LIKE_AUTH_FAILED, Y_AUTH005},      /* [Y] */
    {"aol", LIKE_BASIC_AUTH_OFF, Y_AUTH005},   /* [Y] */
    {"aol", LIKE_APP_PASSWORD, Y_AUTH005},     /* [Y] */
    {"yahoo", LIKE_GREETING, Y_GREETING},      /* [Y] */
    {"yahoo", LIKE_EHLO, Y_EHLO},	       /* [Y] */
    {"yahoo", LIKE_NEED_AUTH, Y_NEED_AUTH},    /* [Y] */
    {"yahoo", LIKE_AUTH_FAILED, Y_AUTH005},    /* [Y] */
    {"yahoo", LIKE_BASIC_AUTH_OFF, Y_AUTH005}, /* [Y] */
    {"yahoo", LIKE_APP_PASSWORD, Y_AUTH005},   /* [Y] */

    {"icloud", LIKE_GREETING, "220 {host} ESMTP"},			/* [A] */
    {"icloud", LIKE_EHLO, "250-{host} Hello [{peer}]"},			/* [A] */
    {"icloud", LIKE_NEED_AUTH, "530 5.7.0 Authentication required"},	/* [A] */
    {"icloud", LIKE_AUTH_FAILED, "535 5.7.8 Authentication failed"},	/* [A] */
    {"icloud", LIKE_BASIC_AUTH_OFF, "535 5.7.8 Authentication failed"}, /* [A] */
    {"icloud", LIKE_APP_PASSWORD, "535 5.7.8 Authentication failed"},	/* [A] */
    /* Yahoo, AOL and iCloud: no reported text for an unknown mechanism; the practice
       server's 504 5.5.4 (RFC 4954 6) answers. */
};

#define NROWS (sizeof rows / sizeof rows[0])

const struct like_provider *like_find(const char *name)
{
	for (size_t i = 0; name && i < NPROVIDERS; i++)
		if (strcasecmp(providers[i].name, name) == 0)
			return &providers[i];
	return NULL;
}

/* The settings table's K_CHOICE wants a NULL-terminated list; the unit test checks that it
   names exactly the providers above. */
const char *const like_provider_names[] = {"office365", "outlook", "gmail", "aol",
					   "yahoo",	"icloud",  NULL};

const char *like_reply(const struct like_provider *p, enum like_situation s)
{
	for (size_t i = 0; p && i < NROWS; i++)
		if (rows[i].situation == s && strcasecmp(rows[i].provider, p->name) == 0)
			return rows[i].text;
	return NULL;
}
