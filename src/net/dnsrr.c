/*
 * The pure half of DNS: record data from the network, parsed with bounds checked at every
 * octet. No libunbound here, so the unit tests and fuzzers build from this file alone.
 */
#include "smtpsh/dns.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/rand.h>

void dns_answer_init(struct dns_answer *a)
{
	memset(a, 0, sizeof *a);
	a->rcode = -1;
	a->status = DNS_ERROR;
	a->sec = DNS_SEC_INDETERMINATE;
}

void dns_answer_free(struct dns_answer *a)
{
	free(a->qname);
	free(a->why_bogus);
	free(a->canonname);
	free(a->error);
	for (size_t i = 0; i < a->n; i++)
		free(a->rr[i].data);
	free(a->rr);
	dns_answer_init(a);
}

const char *dns_sec_name(enum dns_sec s)
{
	switch (s) {
	case DNS_SEC_SECURE:
		return "secure";
	case DNS_SEC_INSECURE:
		return "insecure";
	case DNS_SEC_BOGUS:
		return "bogus";
	case DNS_SEC_INDETERMINATE:
		break;
	}
	return "indeterminate";
}

const char *dns_status_name(enum dns_status s)
{
	static const char *const names[] = {
	    [DNS_OK] = "NOERROR",	 [DNS_NODATA] = "NODATA",   [DNS_NXDOMAIN] = "NXDOMAIN",
	    [DNS_SERVFAIL] = "SERVFAIL", [DNS_REFUSED] = "REFUSED", [DNS_TIMEOUT] = "timeout",
	    [DNS_ERROR] = "error",
	};
	return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "error";
}

const char *dns_type_name(int type, char *buf, size_t size)
{
	switch (type) {
	case DNS_T_A:
		return "A";
	case DNS_T_CNAME:
		return "CNAME";
	case DNS_T_MX:
		return "MX";
	case DNS_T_TXT:
		return "TXT";
	case DNS_T_AAAA:
		return "AAAA";
	case DNS_T_TLSA:
		return "TLSA";
	default:
		snprintf(buf, size, "TYPE%d", type);
		return buf;
	}
}

/* Characters a label may show as they are: letters, digits, hyphen, underscore (for
   "_25._tcp" and "_mta-sts"). Everything else becomes \DDD. */
static bool plain_label_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

int dns_name_from_wire(const unsigned char *p, size_t len, size_t *off, char *out, size_t outsz)
{
	size_t i = *off, wire = 0, o = 0;
	if (outsz < 2)
		return -1;
	for (;;) {
		if (i >= len)
			return -1; /* ran off the rdata before the root label */
		unsigned lab = p[i++];
		wire++;
		if (lab == 0)
			break;
		if (lab & 0xC0)
			return -1; /* compression pointer (0xC0) or reserved label type */
		if (lab > len - i)
			return -1;
		wire += lab;
		if (wire > DNS_NAME_WIRE_MAX)
			return -1;
		for (unsigned k = 0; k < lab; k++) {
			unsigned char c = p[i + k];
			if (plain_label_char(c)) {
				if (o + 1 >= outsz)
					return -1;
				out[o++] = (char)c;
			} else {
				if (o + 4 >= outsz)
					return -1;
				snprintf(out + o, 5, "\\%03u", c);
				o += 4;
			}
		}
		i += lab;
		if (o + 1 >= outsz)
			return -1;
		out[o++] = '.';
	}
	if (o == 0)
		out[o++] = '.'; /* the root */
	else
		o--; /* "mx.example.net", no trailing dot */
	out[o] = '\0';
	*off = i;
	return 0;
}

int dns_parse_mx(const unsigned char *rd, size_t len, struct dns_mx *out)
{
	if (!rd || len < 3)
		return -1;
	out->pref = (uint16_t)(rd[0] << 8 | rd[1]);
	size_t off = 2;
	if (dns_name_from_wire(rd, len, &off, out->host, sizeof out->host) < 0)
		return -1;
	return off == len ? 0 : -1; /* nothing may follow the exchange */
}

int dns_parse_tlsa(const unsigned char *rd, size_t len, struct dns_tlsa *out)
{
	if (!rd || len < 4 || len - 3 > DNS_TLSA_DATA_MAX)
		return -1;
	out->usage = rd[0];
	out->selector = rd[1];
	out->mtype = rd[2];
	out->data = rd + 3;
	out->len = len - 3;
	return 0;
}

bool dns_tlsa_usable(const struct dns_tlsa *t)
{
	if (t->usage != 2 && t->usage != 3)
		return false; /* PKIX-TA(0) and PKIX-EE(1) are not for SMTP (RFC 7672 3.1.3) */
	if (t->selector > 1)
		return false;
	switch (t->mtype) {
	case 0:
		return t->len > 0;
	case 1:
		return t->len == 32;
	case 2:
		return t->len == 64;
	default:
		return false;
	}
}

void dns_tlsa_format(const struct dns_tlsa *t, size_t max_hex, struct buf *out)
{
	buf_printf(out, "%u %u %u ", t->usage, t->selector, t->mtype);
	size_t n = t->len;
	bool cut = false;
	if (max_hex && n * 2 > max_hex) {
		n = max_hex / 2;
		cut = true;
	}
	for (size_t i = 0; i < n; i++)
		buf_printf(out, "%02x", t->data[i]);
	if (cut)
		buf_puts(out, "...");
}

int dns_parse_txt(const unsigned char *rd, size_t len, struct buf *out)
{
	buf_reset(out);
	if (!rd || len == 0)
		return -1; /* a TXT record has at least one character-string */
	size_t i = 0;
	while (i < len) {
		size_t n = rd[i++];
		if (n > len - i)
			return -1;
		if (out->len + n > DNS_TXT_MAX)
			return -1;
		if (buf_append(out, rd + i, n) < 0)
			return -1;
		i += n;
	}
	return buf_reserve(out, 1); /* NUL-terminated even when all strings were empty */
}

int dns_parse_addr(int type, const unsigned char *rd, size_t len, char *out, size_t outsz)
{
	if (type == DNS_T_A && len == 4)
		return inet_ntop(AF_INET, rd, out, (socklen_t)outsz) ? 0 : -1;
	if (type == DNS_T_AAAA && len == 16)
		return inet_ntop(AF_INET6, rd, out, (socklen_t)outsz) ? 0 : -1;
	return -1;
}

uint32_t dns_random(void *arg)
{
	(void)arg;
	uint32_t r = 0;
	if (RAND_bytes((unsigned char *)&r, sizeof r) != 1)
		r = 0; /* no randomness: the given order stays, still a valid MX order */
	return r;
}

void dns_mx_order(struct dns_mx *mx, size_t n, uint32_t (*rnd)(void *), void *arg)
{
	/* Insertion sort: stable, and n is at most DNS_RRS_MAX. */
	for (size_t i = 1; i < n; i++) {
		struct dns_mx tmp = mx[i];
		size_t j = i;
		while (j > 0 && mx[j - 1].pref > tmp.pref) {
			mx[j] = mx[j - 1];
			j--;
		}
		mx[j] = tmp;
	}
	/* Fisher-Yates inside each run of equal preference. */
	for (size_t start = 0; start < n;) {
		size_t end = start + 1;
		while (end < n && mx[end].pref == mx[start].pref)
			end++;
		for (size_t k = end - start; k > 1; k--) {
			size_t r = start + rnd(arg) % k;
			size_t last = start + k - 1;
			if (r != last) {
				struct dns_mx tmp = mx[r];
				mx[r] = mx[last];
				mx[last] = tmp;
			}
		}
		start = end;
	}
}

bool dns_mx_is_null(const struct dns_mx *mx, size_t n)
{
	return n == 1 && mx[0].pref == 0 && strcmp(mx[0].host, ".") == 0;
}

size_t dns_txt_matching(const struct dns_answer *a, const char *prefix, struct buf *out, size_t max)
{
	size_t found = 0, plen = strlen(prefix);
	if (a->status != DNS_OK)
		return 0;
	for (size_t i = 0; i < a->n && found < max; i++) {
		buf_init(&out[found]);
		if (dns_parse_txt(a->rr[i].data, a->rr[i].len, &out[found]) < 0 ||
		    out[found].len < plen || strncasecmp(out[found].data, prefix, plen) != 0 ||
		    !(out[found].len == plen || strchr(" \t;", out[found].data[plen]))) {
			buf_free(&out[found]);
			continue;
		}
		found++;
	}
	return found;
}

const char *dns_dane_verdict_name(enum dane_verdict v)
{
	switch (v) {
	case DANE_APPLIES:
		return "DANE applies";
	case DANE_UNUSABLE:
		return "no usable TLSA records";
	case DANE_NONE:
		return "no TLSA records";
	case DANE_INSECURE:
		return "DANE not available";
	case DANE_BOGUS:
		return "bogus";
	case DANE_FAILED:
		break;
	}
	return "TLSA lookup failed";
}

enum dane_verdict dns_dane_verdict(enum dns_sec addr_sec, const struct dns_answer *tlsa,
				   struct buf *why)
{
	const char *q = tlsa->qname ? tlsa->qname : "the TLSA name";
	/* 2.2.2: TLSA records count only when the host's address records are secure; an
	   attacker who can forge the address can also lead us to any TLSA name. */
	if (addr_sec == DNS_SEC_BOGUS) {
		buf_puts(why, "the host's address records are bogus");
		return DANE_BOGUS;
	}
	if (addr_sec != DNS_SEC_SECURE) {
		buf_printf(why, "the host's address records are %s", dns_sec_name(addr_sec));
		return DANE_INSECURE;
	}
	if (tlsa->sec == DNS_SEC_BOGUS) {
		buf_printf(why, "TLSA %s is bogus%s%s", q, tlsa->why_bogus ? ": " : "",
			   tlsa->why_bogus ? tlsa->why_bogus : "");
		return DANE_BOGUS;
	}
	switch (tlsa->status) {
	case DNS_OK:
		break;
	case DNS_NODATA:
	case DNS_NXDOMAIN:
		if (tlsa->sec == DNS_SEC_SECURE) {
			buf_printf(why, "%s has no TLSA records (signed denial)", q);
			return DANE_NONE;
		}
		buf_printf(why, "no TLSA records at %s, and the denial is %s", q,
			   dns_sec_name(tlsa->sec));
		return DANE_INSECURE;
	default:
		buf_printf(why, "TLSA lookup of %s: %s%s%s", q, dns_status_name(tlsa->status),
			   tlsa->error ? ", " : "", tlsa->error ? tlsa->error : "");
		return DANE_FAILED;
	}
	if (tlsa->sec != DNS_SEC_SECURE) {
		buf_printf(why, "the TLSA records at %s are %s (not signed)", q,
			   dns_sec_name(tlsa->sec));
		return DANE_INSECURE;
	}
	for (size_t i = 0; i < tlsa->n; i++) {
		struct dns_tlsa t;
		if (dns_parse_tlsa(tlsa->rr[i].data, tlsa->rr[i].len, &t) == 0 &&
		    dns_tlsa_usable(&t))
			return DANE_APPLIES;
	}
	buf_printf(why, "none of the %zu TLSA records at %s is usable for SMTP", tlsa->n, q);
	return DANE_UNUSABLE;
}
