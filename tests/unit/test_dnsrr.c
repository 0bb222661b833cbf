/* Unit tests of the pure DNS parts (src/net/dnsrr.c): rdata parsers, MX order, DANE verdict. */
#include "smtpsh/dns.h"

#include <stdlib.h>
#include <string.h>

#include "tap.h"

/* A char array as a pointer, for is_str (which tests its argument against NULL). */
static const char *str(const char *s)
{
	return s;
}

#define RD(s) (const unsigned char *)(s), sizeof(s) - 1

static void test_names(void)
{
	char out[DNS_NAME_TEXT_MAX + 1];
	size_t off = 0;
	ok(dns_name_from_wire(RD("\x02mx\x07"
				 "example\x03net\x00"),
			      &off, out, sizeof out) == 0,
	   "plain name");
	is_str(str(out), "mx.example.net", "as text, no trailing dot");
	is_int((int)off, 16, "offset past the root label");

	off = 0;
	ok(dns_name_from_wire(RD("\x00"), &off, out, sizeof out) == 0 && strcmp(out, ".") == 0,
	   "the root is \".\"");
	off = 0;
	ok(dns_name_from_wire(RD("\x04_25_\x04_tcp\x00"), &off, out, sizeof out) == 0 &&
	       strcmp(out, "_25_._tcp") == 0,
	   "underscores stay");
	off = 0;
	ok(dns_name_from_wire(RD("\x03"
				 "a.b\x02\x1b[\x00"),
			      &off, out, sizeof out) == 0,
	   "odd bytes");
	is_str(str(out), "a\\046b.\\027\\091", "dot inside a label, ESC and '[' are \\DDD");
	off = 0;
	ok(dns_name_from_wire(RD("\x02mx\xc0\x0c"), &off, out, sizeof out) < 0,
	   "compression pointer refused");
	off = 0;
	ok(dns_name_from_wire(RD("\x02mx\x40"), &off, out, sizeof out) < 0,
	   "reserved label type refused");
	off = 0;
	ok(dns_name_from_wire(RD("\x05mx"), &off, out, sizeof out) < 0, "label past the end");
	off = 0;
	ok(dns_name_from_wire(RD("\x02mx"), &off, out, sizeof out) < 0, "no root label");

	/* 255 octets is the limit: four 63-octet labels (4 * 64) + root = 257 */
	unsigned char big[300];
	size_t n = 0;
	for (int l = 0; l < 4; l++) {
		big[n++] = 63;
		memset(big + n, 'a', 63);
		n += 63;
	}
	big[n++] = 0;
	off = 0;
	ok(dns_name_from_wire(big, n, &off, out, sizeof out) < 0, "name over 255 octets refused");
	/* 3 * 64 + 62 + 1 = 255: accepted */
	n = 0;
	for (int l = 0; l < 3; l++) {
		big[n++] = 63;
		memset(big + n, 'a', 63);
		n += 63;
	}
	big[n++] = 61;
	memset(big + n, 'b', 61);
	n += 61;
	big[n++] = 0;
	off = 0;
	ok(dns_name_from_wire(big, n, &off, out, sizeof out) == 0 && off == 255,
	   "name of exactly 255 octets accepted");
	char small[8];
	off = 0;
	ok(dns_name_from_wire(RD("\x02mx\x07"
				 "example\x00"),
			      &off, small, sizeof small) < 0,
	   "output too small: refused, not cut");
}

static void test_mx(void)
{
	struct dns_mx mx;
	ok(dns_parse_mx(RD("\x00\x0a\x03mx1\x07"
			   "example\x03net\x00"),
			&mx) == 0,
	   "MX parses");
	is_int(mx.pref, 10, "preference");
	is_str(str(mx.host), "mx1.example.net", "exchange");
	ok(dns_parse_mx(RD("\x01\x00\x00"), &mx) == 0 && mx.pref == 256 && !strcmp(mx.host, "."),
	   "preference is big-endian; root exchange");
	ok(dns_parse_mx(RD("\x00\x0a\x02mx\x00X"), &mx) < 0, "bytes after the exchange refused");
	ok(dns_parse_mx(RD("\x00\x0a"), &mx) < 0, "no exchange refused");
	ok(dns_parse_mx(NULL, 0, &mx) < 0, "empty refused");

	struct dns_mx null_mx = {.pref = 0, .host = "."};
	ok(dns_mx_is_null(&null_mx, 1), "0 . is the null MX");
	struct dns_mx two[2] = {{.pref = 0, .host = "."}, {.pref = 10, .host = "mx"}};
	ok(!dns_mx_is_null(two, 2), "null MX beside another record is not a null MX");
	struct dns_mx pref5 = {.pref = 5, .host = "."};
	ok(!dns_mx_is_null(&pref5, 1), "5 . is not the null MX of RFC 7505");
}

/* A fixed "random" sequence for the shuffle. */
static uint32_t seq(void *arg)
{
	uint32_t *s = arg;
	return (*s)++;
}

static uint32_t zero(void *arg)
{
	(void)arg;
	return 0;
}

static void test_mx_order(void)
{
	struct dns_mx in[] = {
	    {.pref = 20, .host = "b"},	  {.pref = 10, .host = "a1"}, {.pref = 30, .host = "c"},
	    {.pref = 10, .host = "a2"},	  {.pref = 10, .host = "a3"}, {.pref = 65535, .host = "z"},
	    {.pref = 0, .host = "first"},
	};
	size_t n = sizeof in / sizeof in[0];
	struct dns_mx m[7];
	memcpy(m, in, sizeof in);
	dns_mx_order(m, n, zero, NULL);
	is_str(str(m[0].host), "first", "preference 0 first");
	ok(m[1].pref == 10 && m[2].pref == 10 && m[3].pref == 10, "the three 10s next");
	is_str(str(m[4].host), "b", "then 20");
	is_str(str(m[5].host), "c", "then 30");
	is_str(str(m[6].host), "z", "65535 last");

	/* every permutation of the three 10s must be reachable: count distinct first hosts */
	bool first_seen[3] = {false, false, false};
	for (uint32_t s0 = 0; s0 < 12; s0++) {
		uint32_t s = s0;
		memcpy(m, in, sizeof in);
		dns_mx_order(m, n, seq, &s);
		for (int k = 0; k < 3; k++)
			if (m[1].host[1] == '1' + k)
				first_seen[k] = true;
	}
	ok(first_seen[0] && first_seen[1] && first_seen[2],
	   "equal preferences are shuffled: each can come first");

	memcpy(m, in, sizeof in);
	dns_mx_order(m, n, dns_random, NULL);
	bool sorted = true;
	for (size_t i = 1; i < n; i++)
		sorted = sorted && m[i - 1].pref <= m[i].pref;
	ok(sorted, "with dns_random: still sorted by preference");
	dns_mx_order(m, 0, dns_random, NULL);
	ok(true, "empty list");
}

static void test_tlsa(void)
{
	unsigned char rd[3 + 32];
	rd[0] = 3;
	rd[1] = 1;
	rd[2] = 1;
	for (int i = 0; i < 32; i++)
		rd[3 + i] = (unsigned char)i;
	struct dns_tlsa t;
	ok(dns_parse_tlsa(rd, sizeof rd, &t) == 0, "TLSA parses");
	ok(t.usage == 3 && t.selector == 1 && t.mtype == 1 && t.len == 32, "fields");
	ok(dns_tlsa_usable(&t), "3 1 1 with 32 octets usable");
	struct buf b;
	buf_init(&b);
	dns_tlsa_format(&t, 8, &b);
	is_str(b.data, "3 1 1 00010203...", "formatted, cut");
	buf_reset(&b);
	t.len = 31;
	ok(!dns_tlsa_usable(&t), "SHA-256 of 31 octets unusable");
	t.len = 32;
	t.usage = 1;
	ok(!dns_tlsa_usable(&t), "PKIX-EE(1) unusable for SMTP");
	t.usage = 0;
	ok(!dns_tlsa_usable(&t), "PKIX-TA(0) unusable for SMTP");
	t.usage = 2;
	ok(dns_tlsa_usable(&t), "DANE-TA(2) usable");
	t.selector = 2;
	ok(!dns_tlsa_usable(&t), "unknown selector unusable");
	t.selector = 0;
	t.mtype = 2;
	ok(!dns_tlsa_usable(&t), "SHA-512 with 32 octets unusable");
	t.mtype = 0;
	ok(dns_tlsa_usable(&t), "full data usable");
	t.mtype = 3;
	ok(!dns_tlsa_usable(&t), "unknown matching type unusable");
	ok(dns_parse_tlsa(rd, 3, &t) < 0, "no data refused");
	unsigned char *huge = calloc(1, DNS_TLSA_DATA_MAX + 4);
	ok(dns_parse_tlsa(huge, DNS_TLSA_DATA_MAX + 4, &t) < 0, "data over the cap refused");
	ok(dns_parse_tlsa(huge, DNS_TLSA_DATA_MAX + 3, &t) == 0, "data at the cap accepted");
	free(huge);
	buf_free(&b);
}

static void test_txt(void)
{
	struct buf b;
	buf_init(&b);
	ok(dns_parse_txt(RD("\x07v=spf1 \x04-all"), &b) == 0, "TXT parses");
	is_str(b.data, "v=spf1 -all", "strings joined without separator");
	ok(dns_parse_txt(RD("\x00"), &b) == 0 && b.len == 0 && b.data && b.data[0] == '\0',
	   "one empty string: empty, NUL-terminated");
	ok(dns_parse_txt(RD("\x05"
			    "abc"),
			 &b) < 0,
	   "string past the end refused");
	ok(dns_parse_txt(NULL, 0, &b) < 0, "no string refused");
	ok(dns_parse_txt(RD("\x03"
			    "a\0b"),
			 &b) == 0 &&
	       b.len == 3,
	   "NUL kept (escaped later)");
	/* 33 strings of 255 = 8415 > DNS_TXT_MAX */
	size_t len = 33 * 256;
	unsigned char *big = malloc(len);
	for (size_t i = 0; i < len; i += 256) {
		big[i] = 255;
		memset(big + i + 1, 'x', 255);
	}
	ok(dns_parse_txt(big, len, &b) < 0, "joined text over the cap refused");
	free(big);
	buf_free(&b);
}

static void test_addr(void)
{
	char out[64];
	ok(dns_parse_addr(DNS_T_A, RD("\x7f\x00\x00\x02"), out, sizeof out) == 0 &&
	       !strcmp(out, "127.0.0.2"),
	   "A");
	ok(dns_parse_addr(DNS_T_AAAA, RD("\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01"), out, sizeof out) ==
		   0 &&
	       !strcmp(out, "::1"),
	   "AAAA");
	ok(dns_parse_addr(DNS_T_A, RD("\x7f\x00\x00"), out, sizeof out) < 0, "short A refused");
	ok(dns_parse_addr(DNS_T_AAAA, RD("\x7f\x00\x00\x01"), out, sizeof out) < 0,
	   "4 octets are no AAAA");
}

/* An answer with one TLSA record of the given usage. */
static void tlsa_answer(struct dns_answer *a, enum dns_status st, enum dns_sec sec, int usage)
{
	dns_answer_init(a);
	a->qname = strdup("_25._tcp.mx.example.net");
	a->qtype = DNS_T_TLSA;
	a->status = st;
	a->sec = sec;
	if (st == DNS_OK) {
		a->rr = calloc(1, sizeof *a->rr);
		a->rr[0].data = calloc(1, 35);
		a->rr[0].data[0] = (unsigned char)usage;
		a->rr[0].data[1] = 1;
		a->rr[0].data[2] = 1;
		a->rr[0].len = 35;
		a->n = 1;
	}
}

static void verdict(enum dns_sec addr, enum dns_status st, enum dns_sec sec, int usage,
		    enum dane_verdict want, const char *why, const char *name)
{
	struct dns_answer a;
	struct buf b;
	buf_init(&b);
	tlsa_answer(&a, st, sec, usage);
	enum dane_verdict v = dns_dane_verdict(addr, &a, &b);
	if (!is_int(v, want, "%s", name))
		diag("got %s", dns_dane_verdict_name(v));
	if (why)
		is_str(b.data, why, "%s: why", name);
	else
		ok(b.len == 0, "%s: no reason", name);
	dns_answer_free(&a);
	buf_free(&b);
}

static void test_verdict(void)
{
	verdict(DNS_SEC_SECURE, DNS_OK, DNS_SEC_SECURE, 3, DANE_APPLIES, NULL, "secure 3 1 1");
	verdict(DNS_SEC_SECURE, DNS_OK, DNS_SEC_SECURE, 1, DANE_UNUSABLE,
		"none of the 1 TLSA records at _25._tcp.mx.example.net is usable for SMTP",
		"secure but only PKIX-EE");
	verdict(DNS_SEC_SECURE, DNS_NODATA, DNS_SEC_SECURE, 0, DANE_NONE,
		"_25._tcp.mx.example.net has no TLSA records (signed denial)", "signed NODATA");
	verdict(DNS_SEC_SECURE, DNS_OK, DNS_SEC_INSECURE, 3, DANE_INSECURE,
		"the TLSA records at _25._tcp.mx.example.net are insecure (not signed)",
		"unsigned TLSA");
	verdict(DNS_SEC_INSECURE, DNS_OK, DNS_SEC_SECURE, 3, DANE_INSECURE,
		"the host's address records are insecure", "unsigned address records (2.2.2)");
	verdict(DNS_SEC_BOGUS, DNS_OK, DNS_SEC_SECURE, 3, DANE_BOGUS,
		"the host's address records are bogus", "bogus address records");
	verdict(DNS_SEC_SECURE, DNS_SERVFAIL, DNS_SEC_BOGUS, 3, DANE_BOGUS,
		"TLSA _25._tcp.mx.example.net is bogus", "bogus TLSA");
	verdict(DNS_SEC_SECURE, DNS_SERVFAIL, DNS_SEC_INDETERMINATE, 3, DANE_FAILED,
		"TLSA lookup of _25._tcp.mx.example.net: SERVFAIL", "SERVFAIL");
	verdict(DNS_SEC_SECURE, DNS_TIMEOUT, DNS_SEC_INDETERMINATE, 3, DANE_FAILED,
		"TLSA lookup of _25._tcp.mx.example.net: timeout", "timeout: no downgrade");
	verdict(DNS_SEC_SECURE, DNS_NXDOMAIN, DNS_SEC_INSECURE, 3, DANE_INSECURE,
		"no TLSA records at _25._tcp.mx.example.net, and the denial is insecure",
		"unsigned NXDOMAIN");
}

static void test_txt_matching(void)
{
	struct dns_answer a;
	dns_answer_init(&a);
	a.status = DNS_OK;
	const char *recs[] = {"\x0bv=spf1 -all", "\x07v=spf10", "\x0bV=SPF1 +all", "\x06v=spf1",
			      "\x05hello"};
	a.n = 5;
	a.rr = calloc(a.n, sizeof *a.rr);
	for (size_t i = 0; i < a.n; i++) {
		a.rr[i].len = strlen(recs[i]);
		a.rr[i].data = (unsigned char *)strdup(recs[i]);
	}
	struct buf out[4];
	size_t n = dns_txt_matching(&a, "v=spf1", out, 4);
	is_int((int)n, 3, "three SPF records (v=spf10 is not one)");
	if (n == 3) {
		is_str(out[0].data, "v=spf1 -all", "first");
		is_str(out[1].data, "V=SPF1 +all", "case-insensitive");
		is_str(out[2].data, "v=spf1", "prefix alone");
	}
	for (size_t i = 0; i < n; i++)
		buf_free(&out[i]);
	dns_answer_free(&a);
}

int main(void)
{
	test_names();
	test_mx();
	test_mx_order();
	test_tlsa();
	test_txt();
	test_addr();
	test_verdict();
	test_txt_matching();
	return done_testing();
}
