/*
 * DNS for smtpsh: a DNSSEC-validating resolver on libunbound (it validates itself from a trust
 * anchor, it never trusts an upstream resolver's AD bit), asynchronous queries with an fd for
 * poll(), and the pure parsers of the record data that comes back (hostile input: bounded,
 * checked, never trusted to be well formed).
 *
 * Two halves:
 *   - pure (src/net/dnsrr.c, no libunbound): rdata parsers, names, the DANE usability verdict
 *     of RFC 7672; unit-tested and fuzzed;
 *   - the resolver (src/net/dns.c): struct dns_ctx, queries, answers.
 * Nothing here prints: results and one-line error strings, the caller renders them.
 * Functions returning int give 0, or -1 (with a reason where an err buffer is passed).
 */
#ifndef SMTPSH_DNS_H
#define SMTPSH_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtpsh/buf.h"

/* Record types we ask for (IANA numbers). */
enum {
	DNS_T_A = 1,
	DNS_T_CNAME = 5,
	DNS_T_MX = 15,
	DNS_T_TXT = 16,
	DNS_T_AAAA = 28,
	DNS_T_TLSA = 52,
};

/* Bounds on hostile data. A name in wire format is at most 255 octets (RFC 1035 2.3.4); in
   presentation form every octet may become "\DDD", hence 4 * 255 plus the dots. */
#define DNS_NAME_WIRE_MAX 255
#define DNS_NAME_TEXT_MAX 1024
#define DNS_TLSA_DATA_MAX 8192 /* a full certificate (matching type 0) fits */
#define DNS_TXT_MAX 8192       /* one TXT record's strings joined */
#define DNS_RRS_MAX 64	       /* records kept per answer; more is hostile */

/* DNSSEC state of an answer, the four states of RFC 4035 4.3. */
enum dns_sec {
	DNS_SEC_INDETERMINATE, /* no answer to judge (timeout, SERVFAIL before validation) */
	DNS_SEC_INSECURE,      /* provably unsigned (no trust chain: unsigned zone, no DS) */
	DNS_SEC_SECURE,	       /* signatures validated from the trust anchor */
	DNS_SEC_BOGUS,	       /* signed, but validation failed (why_bogus says why) */
};

/* What a query produced. */
enum dns_status {
	DNS_OK,	      /* NOERROR with records of the type asked */
	DNS_NODATA,   /* NOERROR, the name exists but has no record of that type */
	DNS_NXDOMAIN, /* the name does not exist */
	DNS_SERVFAIL, /* SERVFAIL, and every bogus answer (its records are dropped: sec says
			 DNS_SEC_BOGUS and why_bogus why) */
	DNS_REFUSED,  /* another rcode: REFUSED, FORMERR, NOTIMP ... (rcode tells) */
	DNS_TIMEOUT,  /* no answer before the deadline */
	DNS_ERROR,    /* the resolver itself failed (error says why) */
};

/* One record's data, as it came (wire format). */
struct dns_rdata {
	unsigned char *data;
	size_t len;
};

/* One answer: the question, the outcome and the raw records. Owned by the caller; released
   with dns_answer_free(). */
struct dns_answer {
	char *qname;
	int qtype;
	enum dns_status status;
	int rcode; /* the DNS rcode (0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN ...), -1 when none */
	enum dns_sec sec;
	char *why_bogus; /* libunbound's reason when sec is DNS_SEC_BOGUS, else NULL */
	char *canonname; /* the name after CNAMEs when it differs from qname, else NULL */
	char *error;	 /* for DNS_ERROR / DNS_TIMEOUT: one line, else NULL */
	struct dns_rdata *rr;
	size_t n;
	bool truncated; /* more than DNS_RRS_MAX records came; the rest were dropped */
};

void dns_answer_init(struct dns_answer *a);
void dns_answer_free(struct dns_answer *a);

/* "secure", "insecure", "bogus", "indeterminate". */
const char *dns_sec_name(enum dns_sec s);
/* "NOERROR", "NODATA", "NXDOMAIN", "SERVFAIL", "REFUSED", "timeout", "error". */
const char *dns_status_name(enum dns_status s);
/* "A", "MX", "TLSA", ... or "TYPE<n>" into buf (size >= 16). */
const char *dns_type_name(int type, char *buf, size_t size);

/* ---- pure rdata parsers (src/net/dnsrr.c) ---------------------------------------------- */

/*
 * Reads an uncompressed wire-format name at p[*off..len) into out as presentation text
 * ("mx1.example.net", the root as "."), advancing *off past it. Bytes outside [-0-9A-Za-z_]
 * in a label, and "." or "\" inside one, are written as "\DDD" (RFC 1035 5.1), so the text is
 * printable ASCII and cannot be confused with another name. Compression pointers are refused
 * (RFC 3597 forbids them in the rdata of types after RFC 1035's; libunbound decompresses MX),
 * as are reserved label types, labels over 63 and names over 255 octets.
 */
int dns_name_from_wire(const unsigned char *p, size_t len, size_t *off, char *out, size_t outsz);

struct dns_mx {
	uint16_t pref;
	char host[DNS_NAME_TEXT_MAX + 1]; /* "." for a null MX (RFC 7505) */
};
/* MX rdata (RFC 1035 3.3.9): preference and exchange, nothing after it. */
int dns_parse_mx(const unsigned char *rd, size_t len, struct dns_mx *out);

struct dns_tlsa {
	uint8_t usage;		   /* 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE (RFC 6698 2.1.1) */
	uint8_t selector;	   /* 0 full certificate, 1 SubjectPublicKeyInfo */
	uint8_t mtype;		   /* 0 exact, 1 SHA2-256, 2 SHA2-512 */
	const unsigned char *data; /* points into the rdata */
	size_t len;
};
/* TLSA rdata (RFC 6698 2.1): three octets and at least one octet of data, at most
   DNS_TLSA_DATA_MAX. */
int dns_parse_tlsa(const unsigned char *rd, size_t len, struct dns_tlsa *out);
/* Can a DANE SMTP client use this record (RFC 7672 3.1)? Usages 2 and 3 only, selector 0 or
   1, matching type 0 (non-empty), 1 (32 octets) or 2 (64 octets). */
bool dns_tlsa_usable(const struct dns_tlsa *t);
/* "3 1 1 3b6f...a0" (data in hex, cut to max_hex digits with "..." when longer). */
void dns_tlsa_format(const struct dns_tlsa *t, size_t max_hex, struct buf *out);

/* TXT rdata (RFC 1035 3.3.14): the character-strings joined without separator, as SPF
   (RFC 7208 3.3), DMARC and MTA-STS read them, into out (reset first, NUL-terminated, may hold
   any byte: escape it before display). At most DNS_TXT_MAX bytes. */
int dns_parse_txt(const unsigned char *rd, size_t len, struct buf *out);

/* A (4 octets) or AAAA (16 octets) rdata as text into out (size >= 46). */
int dns_parse_addr(int type, const unsigned char *rd, size_t len, char *out, size_t outsz);

/*
 * Orders MX records as RFC 5321 5.1 says: by preference, lowest first; records of equal
 * preference in random order ("SHOULD ... randomize"). rnd(arg) gives the random numbers
 * (dns_random() for real use, a fixed sequence in tests). Stable otherwise.
 */
void dns_mx_order(struct dns_mx *mx, size_t n, uint32_t (*rnd)(void *), void *arg);
/* Random numbers from OpenSSL's RAND_bytes; arg unused. */
uint32_t dns_random(void *arg);

/* Is this MX set the null MX of RFC 7505 (exactly one record, "0 .")? */
bool dns_mx_is_null(const struct dns_mx *mx, size_t n);

/*
 * Can DANE authenticate a host, given the DNSSEC state of its address records and its TLSA
 * answer (RFC 7672 2.2)? Pure; why gets a one-line reason for every verdict but DANE_APPLIES
 * (appended to, not reset).
 */
enum dane_verdict {
	DANE_APPLIES,  /* secure TLSA with a usable record: authenticate with DANE */
	DANE_UNUSABLE, /* secure TLSA, none usable (3.1): as if there were none */
	DANE_NONE,     /* securely no TLSA records (signed NODATA / NXDOMAIN) */
	DANE_INSECURE, /* not available: the address or TLSA records are not signed */
	DANE_BOGUS,    /* validation failed: a DANE client must not deliver (2.2.3) */
	DANE_FAILED,   /* the TLSA lookup failed (SERVFAIL, timeout): defer, do not downgrade */
};
/* "DANE applies", "no usable TLSA records", "no TLSA records", "DANE not available",
   "bogus", "TLSA lookup failed". */
const char *dns_dane_verdict_name(enum dane_verdict v);
enum dane_verdict dns_dane_verdict(enum dns_sec addr_sec, const struct dns_answer *tlsa,
				   struct buf *why);

/* ---- the resolver (src/net/dns.c) --------------------------------------------------------- */

struct dns_params {
	/* "ADDR" or "ADDR@PORT" of a resolver to forward to (ub_ctx_set_fwd), like dig @server;
	   NULL: the system's resolvers from /etc/resolv.conf. */
	const char *resolver;
	/* A file of DS or DNSKEY records trusted as anchors; NULL: DNS_DEFAULT_TRUST_ANCHOR. */
	const char *trust_anchor;
};
#define DNS_DEFAULT_TRUST_ANCHOR "/usr/share/dns/root.key" /* Debian's dns-root-data */

struct dns_ctx;

/* Makes a resolver context whose asynchronous queries run in a libunbound thread (not a
   forked process). NULL with a one-line reason in err. */
struct dns_ctx *dns_new(const struct dns_params *p, struct buf *err);
void dns_free(struct dns_ctx *ctx);

/*
 * Starts a query; the answer is written to *ans (initialised here) when it arrives, and
 * *done set to true. Both must stay valid until then (or until dns_cancel, dns_cancel_all,
 * dns_wait or dns_free answered it).
 * -1 (with ans->status DNS_ERROR and ans->error) when it could not start.
 */
int dns_submit(struct dns_ctx *ctx, const char *name, int type, struct dns_answer *ans, bool *done);
/* The fd that becomes readable when answers are ready (for the caller's poll()). */
int dns_fd(struct dns_ctx *ctx);
/* Delivers the answers that are ready (after poll() said dns_fd is readable). */
int dns_process(struct dns_ctx *ctx);
/* Queries submitted and not answered yet. */
size_t dns_pending(const struct dns_ctx *ctx);
/*
 * Runs until every pending query is answered or deadline_ms (CLOCK_MONOTONIC milliseconds,
 * see dns_now_ms) passed; queries still pending then are cancelled and answered with
 * DNS_TIMEOUT. Returns 0 when all came in time, 1 after a timeout, -1 on a resolver error
 * (every pending query is then answered DNS_ERROR). Either way nothing is pending after it.
 */
int dns_wait(struct dns_ctx *ctx, long long deadline_ms);
/* Cancels every pending query, answering each with DNS_TIMEOUT and reason. */
void dns_cancel_all(struct dns_ctx *ctx, const char *reason);
/* Cancels the query whose answer goes to ans, if it is still pending (same answer). */
void dns_cancel(struct dns_ctx *ctx, struct dns_answer *ans, const char *reason);
long long dns_now_ms(void);

/* Blocking convenience: one query, run until answered or timeout_ms (also waits for, and
   may time out, other pending queries of ctx). ans is always answered. */
int dns_query(struct dns_ctx *ctx, const char *name, int type, int timeout_ms,
	      struct dns_answer *ans);

/* The TXT records of an answer joined per record (dns_parse_txt) that start with prefix
   (case-insensitive, e.g. "v=spf1"), into out[0..max), returning how many; records that do
   not parse are skipped. The prefix must end the record or be followed by a blank or ";"
   ("v=spf1" matches "v=spf1 -all", not "v=spf10"). Each out[i] is a buf owned by the caller
   (buf_free). */
size_t dns_txt_matching(const struct dns_answer *a, const char *prefix, struct buf *out,
			size_t max);

#endif
