#include "smtpsh/verbs.h"

#include <string.h>
#include <strings.h>

#include "smtpsh/session.h"

#define CONNECTED                                                                              \
	(VERB_IN(PHASE_GREETING) | VERB_IN(PHASE_GREETED) | VERB_IN(PHASE_READY) |             \
	 VERB_IN(PHASE_MAIL) | VERB_IN(PHASE_RCPT))
#define AFTER_HELLO (VERB_IN(PHASE_READY) | VERB_IN(PHASE_MAIL) | VERB_IN(PHASE_RCPT))

const struct smtp_verb smtp_verbs[] = {
	{"HELO", "HELO domain", "introduce the client (old form: no extensions)",
	 "250 ok; 501 bad argument", "RFC 5321 4.1.1.1", "HELO client.example",
	 VERB_IN(PHASE_GREETING) | VERB_IN(PHASE_GREETED) | VERB_IN(PHASE_READY), NULL},
	{"EHLO", "EHLO domain", "introduce the client and ask for the server's extensions",
	 "250 with one extension per line; 501 bad argument; 502 not supported (use HELO)",
	 "RFC 5321 4.1.1.1", "EHLO client.example",
	 VERB_IN(PHASE_GREETING) | VERB_IN(PHASE_GREETED) | VERB_IN(PHASE_READY), NULL},
	{"STARTTLS", "STARTTLS", "turn this connection into a TLS connection; EHLO again after",
	 "220 go ahead (smtpsh starts the handshake); 454 TLS not available; 501 syntax",
	 "RFC 3207", "STARTTLS", VERB_IN(PHASE_READY), "STARTTLS"},
	{"AUTH", "AUTH mechanism [initial-response]",
	 "log in with a SASL mechanism the server advertised",
	 "334 challenge (answer in base64, or * to cancel); 235 authenticated; 535 bad "
	 "credentials; 530 encryption required first; 504 mechanism unknown",
	 "RFC 4954", "AUTH PLAIN AGFsaWNlAHNlY3JldA==", VERB_IN(PHASE_READY), "AUTH"},
	{"MAIL", "MAIL FROM:<address> [SIZE=n] [BODY=8BITMIME]",
	 "start a message: give the envelope sender (<> for bounces)",
	 "250 ok; 550/553 sender refused; 503 EHLO first; 530 authentication required",
	 "RFC 5321 4.1.1.2", "MAIL FROM:<alice@example.org>", VERB_IN(PHASE_READY), NULL},
	{"RCPT", "RCPT TO:<address>", "add a recipient to the message (repeat for each)",
	 "250/251 ok; 550 no such user; 554/454 relay denied; 452 too many recipients; 503 "
	 "MAIL first",
	 "RFC 5321 4.1.1.3", "RCPT TO:<bob@example.org>", VERB_IN(PHASE_MAIL) | VERB_IN(PHASE_RCPT),
	 NULL},
	{"DATA", "DATA",
	 "send the message: headers, empty line, body; end with a line holding only '.'",
	 "354 go ahead, then after the '.': 250 queued; 554 rejected; 552 too big; 503 no "
	 "valid recipient",
	 "RFC 5321 4.1.1.4", "DATA", VERB_IN(PHASE_RCPT), NULL},
	{"BDAT", "BDAT size [LAST]", "send a chunk of exactly size octets of the message",
	 "250 chunk received; 503 bad sequence", "RFC 3030", "BDAT 86 LAST", VERB_IN(PHASE_RCPT),
	 "CHUNKING"},
	{"RSET", "RSET", "abandon the current message (the connection stays)", "250 ok",
	 "RFC 5321 4.1.1.5", "RSET", CONNECTED, NULL},
	{"NOOP", "NOOP", "do nothing; check that the server is still there", "250 ok",
	 "RFC 5321 4.1.1.9", "NOOP", CONNECTED, NULL},
	{"VRFY", "VRFY user", "ask whether a mailbox exists (often disabled)",
	 "250/251 yes; 252 cannot verify but will try; 550 no; 502 disabled", "RFC 5321 4.1.1.6",
	 "VRFY bob", CONNECTED, NULL},
	{"EXPN", "EXPN list", "ask for the members of a mailing list (often disabled)",
	 "250 members; 550 no such list; 502 disabled", "RFC 5321 4.1.1.7", "EXPN staff",
	 CONNECTED, NULL},
	{"HELP", "HELP [topic]", "ask the server for help", "211/214 help text; 502 not supported",
	 "RFC 5321 4.1.1.8", "HELP", CONNECTED, NULL},
	{"QUIT", "QUIT", "end the session; the server closes the connection",
	 "221 bye (smtpsh then closes)", "RFC 5321 4.1.1.10", "QUIT", CONNECTED, NULL},
};

const size_t smtp_verb_count = sizeof smtp_verbs / sizeof smtp_verbs[0];

const struct smtp_verb *verb_find(const char *name, size_t len)
{
	for (size_t i = 0; i < smtp_verb_count; i++)
		if (strlen(smtp_verbs[i].name) == len && strncasecmp(smtp_verbs[i].name, name, len) == 0)
			return &smtp_verbs[i];
	return NULL;
}
