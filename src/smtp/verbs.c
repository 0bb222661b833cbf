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
	 VERB_HELO, NULL},
	{"EHLO", "EHLO domain", "introduce the client and ask for the server's extensions",
	 "Names the client (its host name, or an address literal like [192.0.2.1]) and asks what "
	 "the server supports: one extension per line of the 250 reply (SIZE, PIPELINING, "
	 "STARTTLS, AUTH...). Send it again after STARTTLS: the extensions may change under TLS. "
	 "\\caps lists what the last EHLO said.",
	 "250 with one extension per line; 501 bad argument; 502 not supported (use HELO); 421 "
	 "closing (too busy)",
	 "RFC 5321 4.1.1.1", "EHLO client.example",
	 VERB_IN(PHASE_GREETING) | VERB_IN(PHASE_GREETED) | VERB_IN(PHASE_READY), NULL,
	 VERB_EHLO, "LHLO"},
	{"STARTTLS", "STARTTLS", "turn this connection into a TLS connection; EHLO again after",
	 "Asks to encrypt this connection. After 220, smtpsh runs the TLS handshake on the same "
	 "socket and checks the certificate; everything before is forgotten (RFC 3207), so EHLO "
	 "comes next. On port 465 TLS starts with the first byte instead (--tls).",
	 "220 go ahead (smtpsh starts the handshake); 454 TLS not available; 501 syntax",
	 "RFC 3207", "STARTTLS", VERB_IN(PHASE_READY), "STARTTLS",
	 VERB_STARTTLS, NULL},
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
	 VERB_AUTH, NULL},
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
	 VERB_MAIL, NULL},
	{"RCPT", "RCPT TO:<address>", "add a recipient to the message (repeat for each)",
	 "Adds one envelope recipient; repeat it for each (To, Cc and Bcc alike: the headers are "
	 "not read). A server relays to other domains only for clients it trusts (logged in, or "
	 "on its network): otherwise 554 5.7.1 relay access denied.",
	 "250 2.1.5 ok; 251 will forward; 550 5.1.1 no such user; 554 5.7.1 relay denied; 450/451 "
	 "4.7.1 try later (greylisting); 452 4.5.3 too many recipients; 552 5.2.2 mailbox full; "
	 "503 5.5.1 MAIL first",
	 "RFC 5321 4.1.1.3", "RCPT TO:<bob@example.org>", VERB_IN(PHASE_MAIL) | VERB_IN(PHASE_RCPT),
	 NULL,
	 VERB_RCPT, NULL},
	{"DATA", "DATA",
	 "send the message: headers, empty line, body; end with a line holding only '.'",
	 "After 354, every line is the message: headers (From:, To:, Subject:...), an empty line, "
	 "the body. A line holding only \".\" ends it; a line starting with \".\" gets a second "
	 "one (dot-stuffing, done for you). The reply to the final \".\" says whether the server "
	 "took the message.",
	 "354 go ahead, then after the '.': 250 2.0.0 queued; 552 5.3.4 too big; 554 5.7.1 "
	 "rejected (spam, policy); 451 4.3.0 try later; 503 5.5.1 no valid recipient",
	 "RFC 5321 4.1.1.4", "DATA", VERB_IN(PHASE_RCPT), NULL,
	 VERB_DATA, NULL},
	{"BDAT", "BDAT size [LAST]", "send a chunk of exactly size octets of the message",
	 "CHUNKING's alternative to DATA: the message goes in chunks of an exact byte count, with "
	 "no dot-stuffing; LAST marks the final chunk, whose reply says whether the server took "
	 "the message. Typed, the next lines are the chunk (each counts its octets plus CRLF) "
	 "until size octets are given; \\bdat counts for you. After a refused chunk no other "
	 "may follow: RSET.",
	 "250 chunk received (after LAST: message queued); 552 too big; 554 rejected; 503 bad "
	 "sequence (no MAIL/RCPT, or a chunk refused before)",
	 "RFC 3030", "BDAT 86 LAST", VERB_IN(PHASE_RCPT) | VERB_IN(PHASE_BDAT), "CHUNKING",
	 VERB_BDAT, NULL},
	{"RSET", "RSET", "abandon the current message (the connection stays)",
	 "Forgets the sender and recipients given so far; the connection, TLS and login stay. "
	 "Use it to start a second message, or after a refusal.",
	 "250 2.0.0 ok",
	 "RFC 5321 4.1.1.5", "RSET", CONNECTED, NULL,
	 VERB_RSET, NULL},
	{"NOOP", "NOOP", "do nothing; check that the server is still there",
	 "Asks for a 250 and nothing else: shows the connection is alive, and makes a server "
	 "send a reply it has been holding.",
	 "250 2.0.0 ok",
	 "RFC 5321 4.1.1.9", "NOOP", CONNECTED, NULL,
	 VERB_OTHER, NULL},
	{"VRFY", "VRFY user", "ask whether a mailbox exists (often disabled)",
	 "Asks whether a user or mailbox exists. Spammers used it to harvest addresses, so most "
	 "servers answer 252 (will try) or 502 (disabled) whatever the name.",
	 "250/251 yes; 252 cannot verify but will try; 550 no; 502 disabled", "RFC 5321 4.1.1.6",
	 "VRFY bob", CONNECTED, NULL,
	 VERB_OTHER, NULL},
	{"EXPN", "EXPN list", "ask for the members of a mailing list (often disabled)",
	 "Asks for the members of a mailing list; almost always disabled for privacy.",
	 "250 members; 550 no such list; 502 disabled", "RFC 5321 4.1.1.7", "EXPN staff",
	 CONNECTED, NULL,
	 VERB_OTHER, NULL},
	{"HELP", "HELP [topic]", "ask the server for help",
	 "Asks the server (not smtpsh: that is \\help) for its help text.",
	 "211/214 help text; 502 not supported",
	 "RFC 5321 4.1.1.8", "HELP", CONNECTED, NULL,
	 VERB_OTHER, NULL},
	{"QUIT", "QUIT", "end the session; the server closes the connection",
	 "Ends the session politely: the server answers 221 and closes the connection. A message "
	 "not finished with \".\" is abandoned.",
	 "221 bye (smtpsh then closes)", "RFC 5321 4.1.1.10", "QUIT", CONNECTED, NULL,
	 VERB_QUIT, NULL},
};

const size_t smtp_verb_count = sizeof smtp_verbs / sizeof smtp_verbs[0];

const struct smtp_verb *verb_find(const char *name, size_t len)
{
	for (size_t i = 0; i < smtp_verb_count; i++)
		if (strlen(smtp_verbs[i].name) == len && strncasecmp(smtp_verbs[i].name, name, len) == 0)
			return &smtp_verbs[i];
	return NULL;
}
