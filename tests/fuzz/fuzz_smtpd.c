/* libFuzzer harness for the practice server's state machine: whatever a client sends, in
   whatever pieces, the server's memory stays bounded and every reply it queues is a well-formed
   reply line ("ddd" then " " or "-", CRLF-terminated, no CR or LF inside). SMTP or LMTP, with
   BDAT chunks of any octets (the count is read, the chunk is not scanned for lines), counted
   right or with the bdat-miscount fault. Every event also goes through the teacher view's
   diagnosis (diagnose.c): its notes stay bounded whatever the lines, and a line reported as a
   secret never shows more than "<redacted>".

   Input: a piece size, two bytes of flags (settings, the mode), then the client's bytes. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpsh/diagnose.h"
#include "smtpsh/oauthd.h"
#include "smtpsh/smtpd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t stored;

static void *begin(void *arg, const struct smtpd_envelope *env)
{
	(void)env;
	return arg;
}

static int write_cb(void *h, const char *d, size_t n)
{
	(void)h;
	(void)d;
	stored += n;
	return 0;
}

static int commit(void *h)
{
	(void)h;
	return 0;
}

static void abort_cb(void *h)
{
	(void)h;
}

static void check_out(struct buf *out)
{
	size_t i = 0;
	while (i < out->len) {
		const char *p = out->data + i;
		const char *nl = memchr(p, '\n', out->len - i);
		if (!nl || nl == p || nl[-1] != '\r')
			abort();
		size_t len = (size_t)(nl - p) - 1;
		if (len < 3 || !isdigit((unsigned char)p[0]) || p[0] < '2' || p[0] > '5' ||
		    !isdigit((unsigned char)p[1]) || !isdigit((unsigned char)p[2]))
			abort();
		if (len > 3 && p[3] != ' ' && p[3] != '-')
			abort();
		if (memchr(p, '\r', len) || len > 1100)
			abort();
		i += len + 2;
	}
	buf_consume(out, out->len);
}

static void check_notes(const struct diag_notes *n)
{
	if (n->n > DIAG_NOTES_MAX)
		abort();
	for (size_t i = 0; i < n->n; i++)
		if (!memchr(n->text[i], '\0', DIAG_NOTE_LEN))
			abort();
}

static void on_event(void *arg, const struct smtpd_event *ev)
{
	struct diag *d = arg;
	struct diag_notes notes = {0};
	if (ev->type == SMTPD_EV_INFO) {
		diag_server_note(d, ev->text, ev->len, &notes);
	} else if (ev->type == SMTPD_EV_SENT) {
		diag_reply(d, ev->text, ev->len);
	} else {
		if (ev->secret && (ev->len > 64 || !memmem(ev->text, ev->len, "<redacted>", 10)))
			abort();
		enum diag_line_end end = ev->end == SMTPD_END_LF       ? DIAG_END_LF
					 : ev->end == SMTPD_END_OCTETS ? DIAG_END_OCTETS
								       : DIAG_END_CRLF;
		diag_line_end(d, ev->text, ev->len, end, &notes);
		if (ev->body)
			diag_message_line(d, ev->text, ev->len);
		else
			diag_command(d, ev->text, ev->len, ev->secret, &notes);
	}
	check_notes(&notes);
}

/* The practice sign-in server's check for XOAUTH2 and OAUTHBEARER (one core for all runs): a
   token it never issued is refused with the JSON error, so the responses' parsing is fuzzed. */
static struct oauthd *oauth_core;

static enum oauthd_verdict oauth_check(void *arg, const char *token, size_t len, const char *user)
{
	(void)arg;
	return oauthd_check_token(oauth_core, token, len, user, 1000);
}

static void oauth_faults(void *arg, const struct oauthd_faults *f)
{
	(void)arg;
	oauthd_set_faults(oauth_core, f);
}

static const struct oauthd_hooks oauth_hooks = {oauth_check, oauth_faults, NULL};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3)
		return 0;
	size_t piece = (size_t)data[0] * 8 + 1;
	uint8_t flags = data[1], flags2 = data[2];
	data += 3;
	size -= 3;
	struct smtpd_config cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.hostname = "localhost";
	cfg.user = "student";
	cfg.password = "pw";
	cfg.tls_available = flags & 1;
	practice_settings_defaults(&cfg.settings);
	cfg.settings.plain_auth = flags & 2;
	cfg.settings.require_tls = flags & 4;
	cfg.settings.greylist = flags & 8;
	cfg.settings.auth_required = flags & 16;
	if (flags & 32)
		cfg.settings.size = 100;
	if (flags & 64)
		strcpy(cfg.settings.reject, "a*@* *.test");
	cfg.lmtp = flags2 & 1;
	if (flags2 & 2)
		strcpy(cfg.settings.bdat_miscount, flags2 & 4 ? "long" : "short");
	if (flags2 & 8)
		strcpy(cfg.settings.mailbox_full, "f*@*");
	cfg.settings.open_relay = flags2 & 16; /* else RCPT outside .test is refused before AUTH */
	/* a provider (--like) and its faults: the replies from practice_like.c's table */
	static const char *const providers[] = {"office365", "gmail", "aol", "icloud"};
	if (flags2 & 32)
		strcpy(cfg.settings.like, providers[flags2 >> 6]);
	cfg.app_password = "app";
	cfg.settings.app_password = flags2 & 64;
	cfg.settings.sendas_denied = flags2 & 128;
	cfg.settings.basic_auth = !(flags2 & 64 && flags & 32);
	cfg.store = (struct smtpd_store){begin, write_cb, commit, abort_cb, &cfg};
	/* with plain-auth on, XOAUTH2 and OAUTHBEARER are offered too (no flag bit is free) */
	if (flags & 2 &&
	    (oauth_core || (oauth_core = oauthd_new("https://127.0.0.1:1", "student"))))
		cfg.oauth = &oauth_hooks;
	struct smtpd_conn c;
	struct diag d;
	diag_init(&d);
	if (smtpd_conn_init(&c, &cfg, "127.0.0.1", flags & 128, on_event, &d) < 0)
		return 0;
	size_t off = 0;
	bool closed = false;
	while (!closed) {
		size_t n = size - off < piece ? size - off : piece;
		off += smtpd_feed(&c, (const char *)data + off, n);
		if (c.in.len > SMTPD_IN_MAX || c.nrcpts > SMTPD_RCPT_MAX)
			abort();
		for (;;) {
			enum smtpd_action a = smtpd_step(&c, 1700000000);
			check_out(smtpd_out(&c));
			if (a == SMTPD_STARTTLS) {
				diag_tls(&d);
				smtpd_tls_started(&c);
			} else if (a == SMTPD_CLOSE || a == SMTPD_DROP) {
				closed = true;
				break;
			} else if (a == SMTPD_NEED_MORE) {
				break;
			}
		}
		if (off == size)
			break;
	}
	smtpd_timeout(&c);
	check_out(smtpd_out(&c));
	struct diag_notes notes = {0};
	diag_end(&d, &notes);
	check_notes(&notes);
	smtpd_conn_free(&c);
	return 0;
}
