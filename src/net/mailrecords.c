/* The mail policy TXT records of a domain (SPF, DMARC, TLS-RPT, MTA-STS), looked up together. */
#include "smtpsh/mailrecords.h"

#include <string.h>

const struct mail_record_kind_info mail_record_kinds[MAIL_REC_KINDS] = {
    [MAIL_REC_SPF] = {"SPF", "", "v=spf1", "RFC 7208"},
    [MAIL_REC_DMARC] = {"DMARC", "_dmarc.", "v=DMARC1", "RFC 7489"},
    [MAIL_REC_TLSRPT] = {"TLS-RPT", "_smtp._tls.", "v=TLSRPTv1", "RFC 8460"},
    [MAIL_REC_MTASTS] = {"MTA-STS", "_mta-sts.", "v=STSv1", "RFC 8461"},
};

int mail_records_start(struct dns_ctx *ctx, const char *domain, struct mail_records *r)
{
	memset(r, 0, sizeof *r);
	r->ctx = ctx;
	for (int k = 0; k < MAIL_REC_KINDS; k++) {
		dns_answer_init(&r->answer[k]);
		r->done[k] = true;
	}
	size_t dlen = strlen(domain);
	if (dlen && domain[dlen - 1] == '.')
		dlen--;
	if (dlen == 0 || dlen + strlen("_smtp._tls.") > DNS_NAME_WIRE_MAX)
		return -1;
	for (int k = 0; k < MAIL_REC_KINDS; k++) {
		struct buf name;
		buf_init(&name);
		if (buf_printf(&name, "%s%.*s", mail_record_kinds[k].prefix, (int)dlen, domain) ==
		    0)
			dns_submit(ctx, name.data, DNS_T_TXT, &r->answer[k], &r->done[k]);
		buf_free(&name);
	}
	return 0;
}

bool mail_records_ready(struct mail_records *r)
{
	for (int k = 0; k < MAIL_REC_KINDS; k++)
		if (!r->done[k])
			return false;
	if (!r->picked) {
		for (int k = 0; k < MAIL_REC_KINDS; k++)
			r->n[k] = dns_txt_matching(&r->answer[k], mail_record_kinds[k].tag,
						   r->text[k], MAIL_RECORDS_MAX);
		r->picked = true;
	}
	return true;
}

int mail_records_lookup(struct dns_ctx *ctx, const char *domain, int timeout_ms,
			struct mail_records *r)
{
	if (mail_records_start(ctx, domain, r) < 0)
		return -1;
	dns_wait(ctx, dns_now_ms() + timeout_ms);
	mail_records_ready(r);
	return 0;
}

void mail_records_free(struct mail_records *r)
{
	for (int k = 0; k < MAIL_REC_KINDS; k++) {
		if (r->ctx && !r->done[k])
			dns_cancel(r->ctx, &r->answer[k], "cancelled");
		dns_answer_free(&r->answer[k]);
		for (size_t i = 0; i < r->n[k]; i++)
			buf_free(&r->text[k][i]);
	}
	memset(r, 0, sizeof *r);
}
