/* Unit tests of the code tables and hints (src/smtp/codes.c). */
#include "smtpsh/codes.h"

#include <stdio.h>
#include <string.h>

#include "tap.h"

static void test_parse(void)
{
	struct enh_code e = {0};
	is_int(codes_parse_enhanced("5.7.1 text", 10, &e), 5, "5.7.1 parsed");
	ok(e.cls == 5 && e.subject == 7 && e.detail == 1, "5.7.1 fields");
	is_int(codes_parse_enhanced("4.7.139", 7, &e), 7, "three-digit detail, no text");
	ok(e.cls == 4 && e.detail == 139, "4.7.139 fields");
	is_int(codes_parse_enhanced("2.0.0\tx", 7, &e), 5, "tab after the code");
	is_int(codes_parse_enhanced("3.1.1 x", 7, &e), 0, "class 3 does not exist");
	is_int(codes_parse_enhanced("5.7.1x", 6, &e), 0, "letter after the code");
	is_int(codes_parse_enhanced("5.7.", 4, &e), 0, "no detail");
	is_int(codes_parse_enhanced("5..1 x", 6, &e), 0, "no subject");
	is_int(codes_parse_enhanced("5.1234.1", 8, &e), 0, "four-digit subject");
	is_int(codes_parse_enhanced("5.7.1", 3, &e), 0, "length respected");

	int code = 0;
	bool has = true;
	ok(codes_parse_reply_line("550-5.1.1 <x>: no", 17, &code, &e, &has) && code == 550 && has &&
		   e.subject == 1 && e.detail == 1,
	   "continuation line with an enhanced code");
	ok(codes_parse_reply_line("250 ok", 6, &code, &e, &has) && code == 250 && !has,
	   "no enhanced code");
	ok(codes_parse_reply_line("354", 3, &code, &e, &has) && code == 354 && !has,
	   "a bare code");
	ok(!codes_parse_reply_line("150 x", 5, &code, &e, &has), "1xx is not a reply here");
	ok(!codes_parse_reply_line("25", 2, &code, &e, &has), "too short");
	ok(!codes_parse_reply_line("2500 x", 6, &code, &e, &has), "four digits");
}

static void test_tables(void)
{
	is_str(codes_basic(535), "authentication credentials invalid", "535 meaning");
	ok(codes_basic(599) == NULL, "599 not in the table");
	ok(strncmp(codes_basic_class(451), "temporary", 9) == 0, "4xx temporary");
	ok(strncmp(codes_basic_class(550), "permanent", 9) == 0, "5xx permanent");
	ok(codes_basic_class(150) == NULL && codes_basic_class(650) == NULL, "no class for 1xx, 6xx");
	is_str(codes_enh_class(5), "permanent failure", "class 5");
	ok(codes_enh_class(3) == NULL, "no class 3");
	is_str(codes_enh_subject(7), "security or policy status", "subject 7");
	is_str(codes_enh_detail(1, 1), "bad destination mailbox address", "X.1.1");
	is_str(codes_enh_detail(7, 8), "authentication credentials invalid", "X.7.8");
	is_str(codes_enh_detail(7, 26), "multiple authentication checks failed", "X.7.26");
	ok(codes_enh_detail(7, 139) == NULL, "X.7.139 is Microsoft's, not IANA's");

	/* every basic code of the hint table is a real code; every enh parses */
	bool good = true;
	for (size_t i = 0; i < code_hint_count; i++) {
		const struct code_hint *h = &code_hints[i];
		struct enh_code e;
		if (h->code < 200 || h->code > 599 || !h->hint || !*h->hint)
			good = false;
		if (h->enh && codes_parse_enhanced(h->enh, strlen(h->enh), &e) != strlen(h->enh))
			good = false;
		if (h->enh && e.cls != h->code / 100)
			good = false;
		if (!good) {
			diag("bad hint entry %zu (%d %s)", i, h->code, h->enh ? h->enh : "-");
			break;
		}
	}
	ok(good, "hint table entries are well formed (%zu entries)", code_hint_count);

	/* no entry is shadowed by an earlier, more general one */
	bool shadow = false;
	for (size_t i = 0; i < code_hint_count && !shadow; i++)
		for (size_t j = 0; j < i; j++) {
			const struct code_hint *a = &code_hints[j], *b = &code_hints[i];
			if (a->code == b->code && (!a->enh || (b->enh && !strcmp(a->enh, b->enh))) &&
			    (!a->verb || (b->verb && !strcmp(a->verb, b->verb))) &&
			    (!a->text || (b->text && strstr(b->text, a->text)))) {
				diag("entry %zu (%d %s %s) is shadowed by entry %zu", i, b->code,
				     b->enh ? b->enh : "-", b->text ? b->text : "-", j);
				shadow = true;
				break;
			}
		}
	ok(!shadow, "no hint is hidden behind an earlier one");
}

static const char *hint_for(const char *reply, const char *verb)
{
	/* the code and enhanced code come from the last line, like the renderer does */
	const char *last = strrchr(reply, '\n');
	last = last ? last + 1 : reply;
	int code;
	struct enh_code e;
	bool has;
	if (!codes_parse_reply_line(last, strlen(last), &code, &e, &has))
		return NULL;
	const struct code_hint *h = codes_hint(code, has ? &e : NULL, verb, reply, strlen(reply));
	return h ? h->hint : NULL;
}

static bool hint_has(const char *reply, const char *verb, const char *word)
{
	const char *h = hint_for(reply, verb);
	if (!h || !strstr(h, word)) {
		diag("reply \"%s\": hint \"%s\" lacks \"%s\"", reply, h ? h : "(none)", word);
		return false;
	}
	return true;
}

static void test_hints(void)
{
	/* the AUTH failures of issue 4 */
	ok(hint_has("535 5.7.8 Error: authentication failed: authentication failure", "AUTH",
		    "bad credentials"),
	   "535 5.7.8: bad credentials");
	ok(hint_has("534-5.7.9 Application-specific password required. Learn more at\n"
		    "534 5.7.9  https://support.google.com/mail/?p=InvalidSecondFactor",
		    "AUTH", "app password"),
	   "534 5.7.9 (Gmail, text on the first line): app password");
	ok(hint_has("534 5.7.9 Please use an application-specific password", "AUTH",
		    "application-specific password"),
	   "534 5.7.9 elsewhere: application-specific password");
	ok(hint_has("530 5.7.0 Must issue a STARTTLS command first", "AUTH", "STARTTLS"),
	   "530 5.7.0: STARTTLS first");
	ok(hint_has("535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is "
		    "disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled",
		    "AUTH", "whole tenant"),
	   "535 5.7.139 tenant-wide");
	ok(hint_has("535 5.7.139 Authentication unsuccessful, basic authentication is disabled.",
		    "AUTH", "OAuth2"),
	   "535 5.7.139 basic auth disabled: OAuth2");
	ok(hint_has("535 5.7.139 Authentication unsuccessful, basic authentication is disabled.",
		    "AUTH", "\\oauth login"),
	   "535 5.7.139 basic auth disabled: \\oauth login");
	ok(hint_has("535 5.7.139 Authentication unsuccessful, the request did not meet the "
		    "criteria to be authenticated successfully",
		    "AUTH", "\\oauth login"),
	   "535 5.7.139 by policy: \\oauth login");
	ok(hint_has("550 5.7.30 Basic authentication is not supported for Client Submission.",
		    "AUTH", "\\oauth login"),
	   "550 5.7.30 (Basic auth retired): \\oauth login");
	ok(hint_has("535 5.7.3 Authentication unsuccessful [SN4PR0601CA0005.namprd06.prod]",
		    "AUTH", "Set-CASMailbox"),
	   "535 5.7.3 (Office 365): per mailbox");
	ok(hint_has("454 4.7.0 Temporary authentication failure", "AUTH", "temporary"),
	   "454 4.7.0 to AUTH: temporary");
	ok(hint_has("454 4.7.0 TLS not available due to local problem", "STARTTLS", "TLS"),
	   "454 to STARTTLS is about TLS, not AUTH");
	/* providers */
	ok(hint_has("554 5.2.0 STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionS"
		    "endAsDenied; Failed to process message",
		    "DATA", "SendAsDenied"),
	   "Office 365 SendAsDenied");
	ok(hint_has("550 5.7.60 SMTP; Client does not have permissions to send as this sender",
		    "MAIL", "Send As"),
	   "5.7.60 send as");
	ok(hint_has("530-5.7.0 Authentication Required. Learn more at\n530 5.7.0  "
		    "https://support.google.com/mail/?p=WantAuthError",
		    "MAIL", "Gmail"),
	   "Gmail authentication required");
	ok(hint_has("534-5.7.14 <https://accounts.google.com/signin/continue?x> Please log in via "
		    "your web browser and\n534 5.7.14 then try again.",
		    "AUTH", "Less secure"),
	   "Gmail 5.7.14 web login / less secure apps");
	ok(hint_has("550-5.7.26 This mail has been blocked because the sender is\n550 5.7.26 "
		    "unauthenticated.",
		    "DATA", "DMARC"),
	   "Gmail 5.7.26 DMARC/SPF");
	ok(hint_has("550-5.7.1 [192.0.2.1] Our system has detected that this message is\n"
		    "550 5.7.1 likely unsolicited mail.",
		    "DATA", "unsolicited"),
	   "Gmail 550 5.7.1 spam");
	ok(hint_has("535 5.7.0 (#AUTH005) Too many bad auth attempts.", "AUTH", "app password"),
	   "Yahoo/AOL AUTH005");
	ok(hint_has("554 5.7.1 <x@elsewhere.invalid>: Relay access denied", "RCPT", "relay"),
	   "Postfix relay denied");
	ok(hint_has("550 5.1.1 <nobody@example.test>: Recipient address rejected: User unknown in "
		    "virtual mailbox table",
		    "RCPT", "no such mailbox"),
	   "unknown user");
	ok(hint_has("552 5.3.4 Message size exceeds fixed limit", NULL, "too big"), "too big");
	ok(hint_has("451 4.7.1 Please try again later (Greylisted)", "RCPT", "greylisting"),
	   "greylisting");
	ok(hint_for("250 2.1.0 Ok", "MAIL") == NULL, "no hint for a success");
	ok(hint_for("550 5.9.9 something new", "RCPT") == NULL, "no hint for an unknown failure");
	ok(hint_for("454 4.7.0 anything", NULL) == NULL, "454 to an unknown verb: no guess");
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

static void test_explain(void)
{
	struct buf b;
	buf_init(&b);
	ok(codes_explain("451", &b) == 0 && strstr(b.data, "temporary failure") &&
		   strstr(b.data, "local error in processing") && strstr(b.data, "RFC 5321"),
	   "\\explain 451");
	buf_reset(&b);
	ok(codes_explain("5.7.1", &b) == 0 && strstr(b.data, "permanent failure") &&
		   strstr(b.data, "security or policy status") &&
		   strstr(b.data, "delivery not authorized") && strstr(b.data, "known cases"),
	   "\\explain 5.7.1 with its known cases");
	buf_reset(&b);
	ok(codes_explain("535", &b) == 0 && strstr(b.data, "5.7.139"),
	   "\\explain 535 lists the Office 365 cases");
	buf_reset(&b);
	ok(codes_explain("599", &b) == 0 && strstr(b.data, "not a code of RFC 5321"),
	   "\\explain 599: a valid but unassigned code");
	buf_reset(&b);
	ok(codes_explain("5.7.999", &b) == 0 && strstr(b.data, "does not list"),
	   "\\explain 5.7.999");
	buf_reset(&b);
	ok(codes_explain("hello", &b) < 0 && b.len == 0, "not a code");
	ok(codes_explain("45", &b) < 0 && codes_explain("4511", &b) < 0 &&
		   codes_explain("651", &b) < 0 && codes_explain("5.7.1x", &b) < 0 &&
		   codes_explain("", &b) < 0,
	   "other non-codes");

	/* the pair of one reply, as one explanation: each piece of advice once */
	buf_reset(&b);
	ok(codes_explain_pair("550", "5.7.1", &b) == 0, "\\explain 550 5.7.1: a pair");
	ok(strncmp(b.data, "550 5.7.1: permanent failure", 28) == 0,
	   "the pair: one heading with the class once");
	is_int(count(b.data, "permanent failure"), 1, "the pair: the class said once");
	is_int(count(b.data, "refused as spam"), 1, "the pair: the spam advice once");
	is_int(count(b.data, "no such mailbox"), 0,
	       "the pair: no advice such a reply never gets (550's 'User unknown' comes after "
	       "5.7.1's 'otherwise' in the table)");
	ok(strstr(b.data, "\"...relay...\" -> relay denied") != NULL, "the pair: the relay case");
	ok(strstr(b.data, "5.7.60") == NULL && strstr(b.data, "553") == NULL,
	   "the pair: no case of another enhanced code or another basic code");
	const char *otherwise = strstr(b.data, "otherwise -> refused by policy");
	ok(otherwise && !strstr(otherwise, "\n  - "), "the pair: 'otherwise' comes last");
	ok(strstr(b.data, "\\explain -v 550 5.7.1") != NULL, "the pair names the long form");
	buf_reset(&b);
	ok(codes_explain_pair("535", "5.7.8", &b) == 0 && count(b.data, "otherwise") == 1 &&
		   strstr(b.data, "otherwise -> bad credentials") &&
		   strstr(b.data, "BadCredentials"),
	   "535 5.7.8: one 'otherwise', the one codes_hint gives");
	buf_reset(&b);
	ok(codes_explain_pair("250", "5.7.1", &b) < 0 && codes_explain_pair("550", "551", &b) < 0 &&
	       codes_explain_pair("5.7.1", "550", &b) < 0 && b.len == 0,
	   "not a pair: another class, two basic codes, the wrong order");
	/* the long form keeps every case, and says each piece of advice once */
	buf_reset(&b);
	codes_explain("550", &b);
	is_int(count(b.data, "no such mailbox"), 1, "\\explain 550: the mailbox advice once");
	ok(strstr(b.data, "5.1.1 or \"...User unknown...\" or \"...does not exist...\" -> no such "
			  "mailbox") != NULL,
	   "\\explain 550: the conditions of one advice joined");
	bool every = true;
	for (size_t i = 0; i < code_hint_count; i++)
		if (code_hints[i].code == 550 && !strstr(b.data, code_hints[i].hint))
			every = false;
	ok(every, "\\explain 550: every piece of advice for 550 is there");

	buf_reset(&b);
	struct enh_code e = {5, 1, 1};
	codes_brief(550, &e, &b);
	is_str(b.data, "permanent failure: mailbox unavailable (not found, no access, or refused by "
		       "policy); 5.1.1 bad destination mailbox address",
	       "brief 550 5.1.1");
	buf_reset(&b);
	codes_brief(250, NULL, &b);
	is_str(b.data, "success: requested action okay, completed", "brief 250");
	buf_reset(&b);
	e = (struct enh_code){4, 9, 9};
	codes_brief(499, &e, &b);
	is_str(b.data, "temporary failure; 4.9.9 (unknown detail)", "brief of unknown codes");
	buf_free(&b);
}

int main(void)
{
	test_parse();
	test_tables();
	test_hints();
	test_explain();
	return done_testing();
}
