/* libFuzzer harness: DNS record data from a hostile zone (MX, TLSA, TXT, A/AAAA, names) and
   the DANE verdict over TLSA records built from it. The first byte picks the parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpsh/dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t fixed(void *arg)
{
	uint32_t *s = arg;
	return *s = *s * 1103515245u + 12345u;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t which = data[0];
	const unsigned char *rd = data + 1;
	size_t len = size - 1;
	/* a copy of exactly len bytes, so that ASan sees any read past the rdata */
	unsigned char *copy = malloc(len ? len : 1);
	if (!copy)
		return 0;
	memcpy(copy, rd, len);
	struct buf b;
	buf_init(&b);
	switch (which % 6) {
	case 0: {
		char out[DNS_NAME_TEXT_MAX + 1];
		size_t off = 0;
		if (dns_name_from_wire(copy, len, &off, out, sizeof out) == 0 &&
		    (off > len || strlen(out) > DNS_NAME_TEXT_MAX))
			abort();
		break;
	}
	case 1: {
		/* a whole MX RRset: records of (len byte, rdata) */
		struct dns_mx mx[DNS_RRS_MAX];
		size_t n = 0, i = 0;
		while (i < len && n < DNS_RRS_MAX) {
			size_t l = copy[i++];
			if (l > len - i)
				break;
			if (dns_parse_mx(copy + i, l, &mx[n]) == 0)
				n++;
			i += l;
		}
		uint32_t seed = 1;
		dns_mx_order(mx, n, fixed, &seed);
		for (size_t k = 1; k < n; k++)
			if (mx[k - 1].pref > mx[k].pref)
				abort();
		dns_mx_is_null(mx, n);
		break;
	}
	case 2: {
		struct dns_tlsa t;
		if (dns_parse_tlsa(copy, len, &t) == 0) {
			dns_tlsa_usable(&t);
			dns_tlsa_format(&t, 64, &b);
			buf_reset(&b);
			dns_tlsa_format(&t, 0, &b);
		}
		break;
	}
	case 3:
		if (dns_parse_txt(copy, len, &b) == 0 && (b.len > DNS_TXT_MAX || b.len > len))
			abort();
		break;
	case 4: {
		char out[64];
		dns_parse_addr(len == 16 ? DNS_T_AAAA : DNS_T_A, copy, len, out, sizeof out);
		break;
	}
	case 5: {
		/* the verdict over an answer whose records are the input, split in halves */
		struct dns_answer a;
		dns_answer_init(&a);
		struct dns_rdata rr[2] = {{copy, len / 2}, {copy + len / 2, len - len / 2}};
		a.rr = rr;
		a.n = 2;
		a.status = DNS_OK;
		a.sec = (enum dns_sec)(len % 4);
		dns_dane_verdict(DNS_SEC_SECURE, &a, &b);
		struct buf txt[2];
		size_t n = dns_txt_matching(&a, "v=STSv1", txt, 2);
		for (size_t k = 0; k < n; k++)
			buf_free(&txt[k]);
		break;
	}
	}
	buf_free(&b);
	free(copy);
	return 0;
}
