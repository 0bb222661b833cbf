/* libFuzzer harness for the SMTP client engine (src/smtp/client.c): random server bytes in
   random pieces, between random commands (pipelined or not, AUTH exchanges, STARTTLS and its
   reset, the end of DATA). Invariants: no crash or leak, the phase is always one of enum
   smtp_phase and changes only through client_set_phase (the trace agrees with it), the owed
   replies stay within CLIENT_PENDING_MAX and match the sequence numbers, a kept reply stays
   within CLIENT_REPLY_TEXT_MAX, every received event has a valid code; in LMTP (the first
   byte's low bit) the replies owed to "." and BDAT LAST never outnumber the replies owed; the
   recipients stay within CLIENT_RCPT_MAX, their texts within their arrays, and an event's
   recipient index within its total; after raw bytes (client_raw) nothing is owed (not even
   LMTP's replies to "." or BDAT LAST) and no reply is paired with a command until the engine
   is back in step (client_probe_end, client_resync), and a raw write with a secret has a
   redacted form.

   Input: a series of steps; each step is one byte (what to do) then its data: for "server
   bytes", a length byte and that many bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpsh/client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static enum smtp_phase traced;
static const struct smtp_client *engine;

static void on_event(struct session_event *ev, void *arg)
{
	(void)arg;
	if (ev->type == SEV_RECEIVED && ev->code != 0 && (ev->code < 200 || ev->code > 599))
		abort();
	if (ev->len && !ev->text)
		abort();
	if (ev->rcpt && (ev->rcpt_index < 1 || ev->rcpt_index > ev->rcpt_total))
		abort();
	if (ev->type == SEV_RECEIVED && engine && engine->out_of_step && ev->command)
		abort(); /* out of step: never paired */
	if (ev->type == SEV_SENT && ev->raw && ev->secret && !ev->redacted)
		abort();
}

static void on_phase(enum smtp_phase from, enum smtp_phase to, void *arg)
{
	(void)arg;
	if (from != traced || from == to || to > PHASE_CLOSED)
		abort();
	traced = to;
}

static const char *const commands[] = {
    "EHLO me",
    "HELO me",
    "LHLO me",
    "STARTTLS",
    "AUTH LOGIN",
    "AUTH PLAIN AGFsaWNlAHNlY3JldA==",
    "Ym9i",
    "*",
    "MAIL FROM:<a@x>",
    "RCPT TO:<b@x>",
    "DATA",
    "RSET",
    "QUIT",
    "NOOP",
    " auth\tplain x",
    "XCLIENT ADDR=1.2.3.4",
    "XFORWARD ADDR=1.2.3.4",
    "RCPT TO:<c@y> NOTIFY=NEVER",
    "RCPT TO:no-brackets",
    "BDAT 5",
    "BDAT 0 LAST",
    "RCPT TO:<c@x> NOTIFY=NEVER",
};

static void check(const struct smtp_client *c)
{
	if (c->phase > PHASE_CLOSED || c->phase != traced)
		abort();
	if (c->pend_n > CLIENT_PENDING_MAX || c->sent_seq - c->done_seq != c->pend_n)
		abort();
	if (c->last.text.len > CLIENT_REPLY_TEXT_MAX || c->cur.text.len > CLIENT_REPLY_TEXT_MAX)
		abort();
	if (c->dots_owed > c->pend_n || c->dots_owed > c->dots_total || c->txn.n > CLIENT_RCPT_MAX)
		abort();
	for (size_t k = 0; k < c->txn.n; k++)
		if (strnlen(c->txn.rcpt[k].addr, CLIENT_RCPT_ADDR_MAX) == CLIENT_RCPT_ADDR_MAX ||
		    strnlen(c->txn.rcpt[k].rcpt_text, CLIENT_RCPT_TEXT_MAX) ==
			CLIENT_RCPT_TEXT_MAX ||
		    strnlen(c->txn.rcpt[k].final_text, CLIENT_RCPT_TEXT_MAX) ==
			CLIENT_RCPT_TEXT_MAX ||
		    strnlen(c->txn.rcpt[k].rcpt_line, CLIENT_RCPT_LINE_MAX) ==
			CLIENT_RCPT_LINE_MAX ||
		    strnlen(c->txn.rcpt[k].final_line, CLIENT_RCPT_LINE_MAX) ==
			CLIENT_RCPT_LINE_MAX)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_client c;
	client_init(&c, on_event, on_phase, NULL);
	engine = &c;
	traced = PHASE_DISCONNECTED;
	size_t i = 0;
	if (size)
		client_set_lmtp(&c, data[i++] & 1);
	client_connected(&c, 0);
	while (i < size) {
		uint8_t op = data[i++];
		switch (op % 10) {
		case 0:
		case 1:
		case 2: { /* server bytes, fed until used or an action that stops the reader */
			size_t n = i < size ? data[i++] : 0;
			if (n > size - i)
				n = size - i;
			size_t off = 0;
			while (off < n) {
				size_t used = 0;
				struct client_result res;
				enum client_action a = client_recv(&c, (const char *)data + i + off,
								   n - off, &used, 0, &res);
				if (used > n - off)
					abort();
				off += used;
				check(&c);
				if (a == CLIENT_NONE)
					break;
				if (a == CLIENT_UPGRADE_TLS) {
					client_tls_reset(&c);
					client_tls_started(&c);
					break; /* the session discards the rest */
				}
				if (a == CLIENT_ABORT || a == CLIENT_CLOSE) {
					client_reset(&c);
					client_set_phase(&c, PHASE_CLOSED);
					client_connected(&c, 0);
					break;
				}
			}
			i += n;
			break;
		}
		case 3:
		case 4:
		case 5: { /* one command, classified as the session does */
			const char *line =
			    commands[(op >> 3) % (sizeof commands / sizeof commands[0])];
			if (c.phase == PHASE_DATA) {
				client_expect_dot(&c, 0);
				break;
			}
			struct client_command o;
			enum client_verb v = client_classify(line, c.in_auth);
			client_command(&c, &o, line, NULL, v, 0, 0);
			client_expect(&c, &o, 0, 0, 0);
			break;
		}
		case 6: { /* a pipelined group of up to 8 */
			unsigned n = 1 + (op >> 3) % 8;
			struct client_command o[8];
			for (unsigned k = 0; k < n; k++) {
				const char *line = commands[(op + k * 7u) %
							    (sizeof commands / sizeof commands[0])];
				client_command(&c, &o[k], line, NULL, client_classify(line, false),
					       k + 1, n);
			}
			for (unsigned k = 0; k < n; k++)
				client_expect(&c, &o[k], 0, k + 1, n);
			break;
		}
		case 7: { /* the Haraka decision on random codes; then a random command line
			     (BDAT sizes, RCPT addresses as the engine parses them) */
			int codes[4];
			for (int k = 0; k < 4; k++)
				codes[k] = i + (size_t)k < size ? 200 + data[i + (size_t)k] * 2 : 0;
			(void)client_resend_after_dot(&c, codes, 1 + (op >> 3) % 4);
			char line[48];
			size_t n = 0;
			while (i < size && n < sizeof line - 1 && data[i] && data[i] != '\n')
				line[n++] = (char)data[i++];
			line[n] = '\0';
			unsigned long long sz;
			bool last;
			if (client_bdat_parse(line, &sz, &last) && sz > 9999999999999999999ULL)
				abort(); /* at most 19 digits */
			if (c.phase != PHASE_DATA) {
				struct client_command o;
				client_command(&c, &o, line, NULL, client_classify(line, c.in_auth),
					       0, 0);
				client_expect(&c, &o, 0, 0, 0);
			}
			break;
		}
		case 8: { /* raw bytes (\raw): a length byte and the bytes */
			size_t n = i < size ? data[i++] : 0;
			if (n > size - i)
				n = size - i;
			client_raw(&c, (const char *)data + i, n, (op >> 4) & 1);
			if (!c.out_of_step || c.pend_n || c.dots_owed)
				abort();
			i += n;
			break;
		}
		case 9: { /* the line went quiet: the probe ends, or a resync */
			struct client_result res;
			enum client_action a = (op >> 4) & 1
						   ? client_probe_end(&c, &res)
						   : (client_resync(&c, 500), CLIENT_NONE);
			if (!c.out_of_step && c.probing)
				abort();
			if (a == CLIENT_UPGRADE_TLS) {
				client_tls_reset(&c);
				client_tls_started(&c);
			} else if (a == CLIENT_CLOSE) {
				client_reset(&c);
				client_set_phase(&c, PHASE_CLOSED);
				client_connected(&c, 0);
			}
			break;
		}
		}
		check(&c);
	}
	client_free(&c);
	return 0;
}
