#include "smtpsh/verbs.h"

#include <string.h>
#include <strings.h>

#include "smtpsh/proto.h"

#define CONNECTED                                                                              \
	(VERB_IN(PHASE_GREETING) | VERB_IN(PHASE_GREETED) | VERB_IN(PHASE_READY) |             \
	 VERB_IN(PHASE_MAIL) | VERB_IN(PHASE_RCPT) | VERB_IN(PHASE_BDAT))
#define AFTER_HELLO (VERB_IN(PHASE_READY) | VERB_IN(PHASE_MAIL) | VERB_IN(PHASE_RCPT))

const struct smtp_verb smtp_verbs[] = {
	{"HELO", "HELO domain", "introduce the client (old form: no extensions)",
	 "The first command after the greeting in the SMTP of 1982: names the client and gets no "
	 "list of extensions back. Use EHLO unless the server refuses it.",
	 "250 ok; 501 bad argument", "RFC 5321 4.1.1.1", "HELO client.example",
	 VERB_IN(PHASE_GREETING) | VERB_IN(PHASE_GREETED) | VERB_IN(PHASE_READY), NULL,
	 VERB_HELO, NULL, VERB_SMTP_ONLY},
	{"EHLO", "EHLO domain", "introduce the client and ask for the server's extensions",
	 "Names the client (its host name, or an address literal like [192.0.2.1]) and asks what "
	 "the server supports: one extension per line of the 250 reply (SIZE, PIPELINING, "
	 "STARTTLS, AUTH...). Send it again after STARTTLS: the extensions may change under TLS. "
	 "\\caps lists what the last EHLO said.",
	 "250 with one extension per line; 501 bad argument; 502 not supported (use HELO); 421 "
	 "closing (too busy)",
	 "RFC 5321 4.1.1.1", "EHLO client.example",
	 VERB_IN(PHASE_GREETING) | VERB_IN(PHASE_GREETED) | VERB_IN(PHASE_READY), NULL,
	 VERB_EHLO, NULL, VERB_SMTP_ONLY},
	{"LHLO", "LHLO domain", "introduce the client to an LMTP server (LMTP's EHLO)",
	 "LMTP (RFC 2033) is SMTP for the last hop into a mailbox store (Dovecot, Cyrus): LHLO "
	 "replaces HELO and EHLO and gets the same 250 list of extensions. After the final \".\" "
	 "of a message an LMTP server answers once per accepted recipient, in RCPT order; smtpsh "
	 "shows each reply beside its recipient (--lmtp, \\connect --lmtp).",
	 "250 with one extension per line; 500 EHLO/HELO in LMTP; 501 bad argument",
	 "RFC 2033 4.1", "LHLO client.example",
	 VERB_IN(PHASE_GREETING) | VERB_IN(PHASE_GREETED) | VERB_IN(PHASE_READY), NULL,
	 VERB_EHLO, NULL, VERB_LMTP_ONLY},
	{"STARTTLS", "STARTTLS", "turn this connection into a TLS connection; EHLO again after",
	 "Asks to encrypt this connection. After 220, smtpsh runs the TLS handshake on the same "
	 "socket and checks the certificate; everything before is forgotten (RFC 3207), so EHLO "
	 "comes next. On port 465 TLS starts with the first byte instead (--tls).",
	 "220 go ahead (smtpsh starts the handshake); 454 TLS not available; 501 syntax",
	 "RFC 3207", "STARTTLS", VERB_IN(PHASE_READY), "STARTTLS",
	 VERB_STARTTLS, NULL, VERB_BOTH},
	{"AUTH", "AUTH mechanism [initial-response]",
	 "log in with a SASL mechanism the server advertised",
	 "Logs in. PLAIN sends base64 of \"\\0user\\0password\" (often right after the mechanism); "
	 "LOGIN answers two 334 challenges (Username:, Password:) with base64 lines; CRAM-MD5 "
	 "answers a challenge with an HMAC. smtpsh shows each challenge decoded and your answers "
	 "as <redacted>. Only under TLS, except on loopback.",
	 "334 challenge (answer in base64, or * to cancel); 235 2.7.0 authenticated; 535 5.7.8 "
	 "bad credentials; 534 5.7.9 app password needed; 530 5.7.0 STARTTLS first; 538 "
	 "encryption required; 454 4.7.0 temporary failure; 504 mechanism unknown; 503 already "
	 "authenticated or no EHLO",
	 "RFC 4954", "AUTH PLAIN AGFsaWNlAHNlY3JldA==", VERB_IN(PHASE_READY), "AUTH",
	 VERB_AUTH, NULL, VERB_BOTH},
	{"MAIL", "MAIL FROM:<address> [SIZE=n] [BODY=8BITMIME]",
	 "start a message: give the envelope sender (<> for bounces)",
	 "Starts a mail transaction with the envelope sender, where bounces go (it need not be the "
	 "From: header). SIZE=n announces the message size so a server can refuse it early; "
	 "BODY=8BITMIME announces 8-bit content. Submission servers (587, 465) want AUTH first and "
	 "may only accept your own address.",
	 "250 2.1.0 ok; 550/553 5.7.1 sender refused (not yours, not logged in); 552 5.3.4 "
	 "SIZE too big; 501 5.1.7 bad address syntax; 503 5.5.1 EHLO first or MAIL given "
	 "twice; 530 5.7.0 authentication required",
	 "RFC 5321 4.1.1.2", "MAIL FROM:<alice@example.org>", VERB_IN(PHASE_READY), NULL,
	 VERB_MAIL, NULL, VERB_BOTH},
	{"RCPT", "RCPT TO:<address>", "add a recipient to the message (repeat for each)",
	 "Adds one envelope recipient; repeat it for each (To, Cc and Bcc alike: the headers are "
	 "not read). A server relays to other domains only for clients it trusts (logged in, or "
	 "on its network): otherwise 554 5.7.1 relay access denied.",
	 "250 2.1.5 ok; 251 will forward; 550 5.1.1 no such user; 554 5.7.1 relay denied; 450/451 "
	 "4.7.1 try later (greylisting); 452 4.5.3 too many recipients; 552 5.2.2 mailbox full; "
	 "503 5.5.1 MAIL first",
	 "RFC 5321 4.1.1.3", "RCPT TO:<bob@example.org>", VERB_IN(PHASE_MAIL) | VERB_IN(PHASE_RCPT),
	 NULL,
	 VERB_RCPT, NULL, VERB_BOTH},
	{"DATA", "DATA",
	 "send the message: headers, empty line, body; end with a line holding only '.'",
	 "After 354, every line is the message: headers (From:, To:, Subject:...), an empty line, "
	 "the body. A line holding only \".\" ends it; a line starting with \".\" gets a second "
	 "one (dot-stuffing, done for you). The reply to the final \".\" says whether the server "
	 "took the message.",
	 "354 go ahead, then after the '.': 250 2.0.0 queued; 552 5.3.4 too big; 554 5.7.1 "
	 "rejected (spam, policy); 451 4.3.0 try later; 503 5.5.1 no valid recipient",
	 "RFC 5321 4.1.1.4", "DATA", VERB_IN(PHASE_RCPT), NULL,
	 VERB_DATA, NULL, VERB_BOTH},
	{"BDAT", "BDAT size [LAST]", "send a chunk of exactly size octets of the message",
	 "CHUNKING's alternative to DATA: the message goes in chunks of an exact byte count, with "
	 "no dot-stuffing; LAST marks the final chunk, whose reply says whether the server took "
	 "the message (in LMTP one reply per accepted recipient, as after DATA's '.'). Typed, "
	 "the next lines are the chunk (each counts its octets plus CRLF) until size octets are "
	 "given; \\bdat counts for you. After a refused chunk no other may follow: RSET.",
	 "250 chunk received (after LAST: message queued); 552 too big; 554 rejected; 503 bad "
	 "sequence (no MAIL/RCPT, or a chunk refused before)",
	 "RFC 3030", "BDAT 86 LAST", VERB_IN(PHASE_RCPT) | VERB_IN(PHASE_BDAT), "CHUNKING",
	 VERB_BDAT, NULL, VERB_BOTH},
	{"RSET", "RSET", "abandon the current message (the connection stays)",
	 "Forgets the sender and recipients given so far; the connection, TLS and login stay. "
	 "Use it to start a second message, or after a refusal.",
	 "250 2.0.0 ok",
	 "RFC 5321 4.1.1.5", "RSET", CONNECTED, NULL,
	 VERB_RSET, NULL, VERB_BOTH},
	{"NOOP", "NOOP", "do nothing; check that the server is still there",
	 "Asks for a 250 and nothing else: shows the connection is alive, and makes a server "
	 "send a reply it has been holding.",
	 "250 2.0.0 ok",
	 "RFC 5321 4.1.1.9", "NOOP", CONNECTED, NULL,
	 VERB_OTHER, NULL, VERB_BOTH},
	{"VRFY", "VRFY user", "ask whether a mailbox exists (often disabled)",
	 "Asks whether a user or mailbox exists. Spammers used it to harvest addresses, so most "
	 "servers answer 252 (will try) or 502 (disabled) whatever the name.",
	 "250/251 yes; 252 cannot verify but will try; 550 no; 502 disabled", "RFC 5321 4.1.1.6",
	 "VRFY bob", CONNECTED, NULL,
	 VERB_OTHER, NULL, VERB_BOTH},
	{"EXPN", "EXPN list", "ask for the members of a mailing list (often disabled)",
	 "Asks for the members of a mailing list; almost always disabled for privacy.",
	 "250 members; 550 no such list; 502 disabled", "RFC 5321 4.1.1.7", "EXPN staff",
	 CONNECTED, NULL,
	 VERB_OTHER, NULL, VERB_BOTH},
	{"HELP", "HELP [topic]", "ask the server for help",
	 "Asks the server (not smtpsh: that is \\help) for its help text.",
	 "211/214 help text; 502 not supported",
	 "RFC 5321 4.1.1.8", "HELP", CONNECTED, NULL,
	 VERB_OTHER, NULL, VERB_BOTH},
	{"XCLIENT", "XCLIENT attribute=value...",
	 "Postfix: act for another client (address, name, HELO, login...)",
	 "Tells Postfix to treat this session as if it came from another client, so its access "
	 "rules, logs and milters see that client: NAME, ADDR, PORT, PROTO (SMTP or ESMTP), HELO, "
	 "LOGIN, DESTADDR, DESTPORT (the attributes the EHLO reply lists); [UNAVAILABLE] for an "
	 "unknown value, xtext-encoded (RFC 3461 4). Only for hosts in "
	 "smtpd_authorized_xclient_hosts. On success the reply IS a new greeting: the session "
	 "starts over, EHLO comes next.",
	 "220 the new greeting (EHLO again); 421 closing; 501 bad attribute or syntax; 503 "
	 "inside a mail transaction; 550 5.7.0 not authorized",
	 "Postfix XCLIENT_README", "XCLIENT ADDR=192.0.2.1 NAME=client.example",
	 VERB_IN(PHASE_GREETED) | VERB_IN(PHASE_READY), "XCLIENT",
	 VERB_XCLIENT, NULL, VERB_SMTP_ONLY},
	{"XFORWARD", "XFORWARD attribute=value...",
	 "Postfix: pass on the original client's details for the next message",
	 "Tells Postfix where the next message really came from (a content filter passing mail "
	 "back): NAME, ADDR, PORT, PROTO, HELO, IDENT, SOURCE (LOCAL or REMOTE), as the EHLO "
	 "reply lists them; used in the Received: header and the logs of that message, not for "
	 "access rules. Only for hosts in smtpd_authorized_xforward_hosts; sent before MAIL.",
	 "250 ok; 501 bad attribute or syntax; 503 inside a mail transaction; 550 5.7.0 not "
	 "authorized",
	 "Postfix XFORWARD_README", "XFORWARD ADDR=192.0.2.1 NAME=client.example PROTO=ESMTP",
	 VERB_IN(PHASE_READY), "XFORWARD",
	 VERB_OTHER, NULL, VERB_SMTP_ONLY},
	{"QUIT", "QUIT", "end the session; the server closes the connection",
	 "Ends the session politely: the server answers 221 and closes the connection. A message "
	 "not finished with \".\" is abandoned.",
	 "221 bye (smtpsh then closes)", "RFC 5321 4.1.1.10", "QUIT", CONNECTED, NULL,
	 VERB_QUIT, NULL, VERB_BOTH},
};

const size_t smtp_verb_count = sizeof smtp_verbs / sizeof smtp_verbs[0];

const struct smtp_verb *verb_find(const char *name, size_t len)
{
	for (size_t i = 0; i < smtp_verb_count; i++)
		if (strlen(smtp_verbs[i].name) == len && strncasecmp(smtp_verbs[i].name, name, len) == 0)
			return &smtp_verbs[i];
	return NULL;
}
