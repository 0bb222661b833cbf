/*
 * --serve --record DIR (include/smtpsh/serve_record.h): the practice server's events turned
 * into the session events the transcript writer hears from the client, so that a server-side
 * transcript is written by the same code, with the same escaping and the same redaction.
 */
#include "smtpsh/serve_record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smtpsh/event.h"
#include "smtpsh/transcript.h"

struct serve_record {
	struct transcript_writer w;
	char host[64];
	char port[16];
	char peer[96];
	enum tls_mode mode;
};

/* An event of this connection: the writer learns the header's fields from each one. */
static struct session_event base(const struct serve_record *r, enum session_event_type type)
{
	struct session_event ev;
	memset(&ev, 0, sizeof ev);
	ev.type = type;
	ev.elapsed_ms = -1;
	ev.host = r->host;
	ev.port = r->port;
	ev.mode = r->mode;
	ev.connected = true;
	return ev;
}

struct serve_record *serve_record_open(const char *dir, unsigned id, const char *local_addr,
				       unsigned local_port, const char *peer_addr,
				       unsigned peer_port, bool implicit, char *err, size_t errlen)
{
	struct serve_record *r = calloc(1, sizeof *r);
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	transcript_writer_init(&r->w);
	snprintf(r->host, sizeof r->host, "%s", local_addr);
	snprintf(r->port, sizeof r->port, "%u", local_port);
	snprintf(r->peer, sizeof r->peer, "%s %u", peer_addr, peer_port);
	r->mode = implicit ? TLS_IMPLICIT : TLS_NONE;
	r->w.peer = r->peer;
	char date[32], path[4096];
	time_t now = time(NULL);
	struct tm tm;
	strftime(date, sizeof date, "%Y%m%dT%H%M%SZ", gmtime_r(&now, &tm));
	snprintf(path, sizeof path, "%s/%s-%u-%s.transcript", dir, date, id, peer_addr);
	/* the writer learns the connection from an event: one that writes nothing */
	struct session_event ev = base(r, SEV_INFO);
	transcript_event(&ev, &r->w);
	if (transcript_open(&r->w, path) < 0) {
		snprintf(err, errlen, "%s", r->w.err);
		transcript_writer_free(&r->w);
		free(r);
		return NULL;
	}
	return r;
}

const char *serve_record_path(const struct serve_record *r)
{
	return r->w.path ? r->w.path : "";
}

void serve_record_event(struct serve_record *r, const struct smtpd_event *ev)
{
	if (!r)
		return;
	struct session_event se;
	switch (ev->type) {
	case SMTPD_EV_RECEIVED: /* what the client sent: "->" as in its own transcript */
		se = base(r, SEV_SENT);
		se.body = ev->body;
		se.secret = ev->secret; /* the text is already "<redacted>" (smtpd.c) */
		se.redacted = ev->secret ? ev->text : NULL;
		se.redacted_len = ev->secret ? ev->len : 0;
		if (ev->end == SMTPD_END_OCTETS) { /* a BDAT chunk's octets, exact */
			se.chunk = true;
			se.octets = ev->len;
		}
		break;
	case SMTPD_EV_SENT: /* the server's reply: "<-" */
		se = base(r, SEV_RECEIVED);
		se.code = ev->len >= 3 ? atoi(ev->text) : 0;
		se.last = ev->len <= 3 || ev->text[3] != '-';
		break;
	default:
		se = base(r, SEV_INFO);
		break;
	}
	se.text = ev->text;
	se.len = ev->len;
	se.tls = ev->tls;
	se.verified = ev->tls; /* the server's own certificate: "~>" "<~" as on its screen */
	transcript_event(&se, &r->w);
}

void serve_record_note(struct serve_record *r, const char *text)
{
	if (!r)
		return;
	struct session_event se = base(r, SEV_INFO);
	se.text = text;
	se.len = strlen(text);
	transcript_event(&se, &r->w);
}

void serve_record_close(struct serve_record *r, const char *text)
{
	if (!r)
		return;
	if (text) {
		struct session_event se = base(r, SEV_CLOSED);
		se.text = text;
		se.len = strlen(text);
		transcript_event(&se, &r->w);
	}
	transcript_writer_free(&r->w);
	free(r);
}
