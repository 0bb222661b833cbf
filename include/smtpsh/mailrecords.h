/*
 * The TXT records that say how a domain handles mail, for \dns: SPF (RFC 7208, at the
 * domain), DMARC (RFC 7489, at _dmarc.DOMAIN), SMTP TLS reporting (RFC 8460, at
 * _smtp._tls.DOMAIN) and MTA-STS (RFC 8461, at _mta-sts.DOMAIN). One table names them; the
 * lookups go out in parallel on a struct dns_ctx, each answer with its DNSSEC state, and the
 * records of each kind are picked out by their version tag. Nothing prints: a 550 5.7.26 can
 * then be shown next to the records that caused it.
 */
#ifndef SMTPSH_MAILRECORDS_H
#define SMTPSH_MAILRECORDS_H

#include <stdbool.h>
#include <stddef.h>

#include "smtpsh/dns.h"

enum mail_record_kind {
	MAIL_REC_SPF,
	MAIL_REC_DMARC,
	MAIL_REC_TLSRPT,
	MAIL_REC_MTASTS,
	MAIL_REC_KINDS,
};

struct mail_record_kind_info {
	const char *name;   /* "SPF", "DMARC", "TLS-RPT", "MTA-STS" */
	const char *prefix; /* "", "_dmarc.", "_smtp._tls.", "_mta-sts." */
	const char *tag;    /* "v=spf1", "v=DMARC1", "v=TLSRPTv1", "v=STSv1" */
	const char *rfc;    /* "RFC 7208" ... */
};
/* The table, indexed by enum mail_record_kind. */
extern const struct mail_record_kind_info mail_record_kinds[MAIL_REC_KINDS];

#define MAIL_RECORDS_MAX 4 /* records of one kind kept (one is right; more is shown) */

struct mail_records {
	struct dns_answer answer[MAIL_REC_KINDS];	   /* status, DNSSEC state, raw records */
	struct buf text[MAIL_REC_KINDS][MAIL_RECORDS_MAX]; /* the records with the kind's tag */
	size_t n[MAIL_REC_KINDS];
	/* internal */
	struct dns_ctx *ctx;
	bool done[MAIL_REC_KINDS];
	bool picked;
};

/* Sends the four TXT queries for domain. -1 when the name is too long for the prefixes. */
int mail_records_start(struct dns_ctx *ctx, const char *domain, struct mail_records *r);
/* Once every answer is in, picks the tagged records (text, n) and returns true. */
bool mail_records_ready(struct mail_records *r);
/* Start, wait until answered or timeout_ms, pick. */
int mail_records_lookup(struct dns_ctx *ctx, const char *domain, int timeout_ms,
			struct mail_records *r);
/* Releases everything; its queries still pending are cancelled. */
void mail_records_free(struct mail_records *r);

#endif
