/*
 * Unit tests of the PROXY protocol header builder (src/net/proxy.c), byte for byte against
 * haproxy's proxy-protocol.txt: the v1 examples of section 2.1, the v2 layout of section 2.2
 * (signature, version/command, family, length, addresses, ports in network order), the
 * UNKNOWN/LOCAL forms, and --proxy-from's ADDR:PORT syntax.
 */
#include "smtpsh/proxy.h"

#include <string.h>
#include <sys/socket.h>

#include "tap.h"

/* An array as a pointer, for is_str (which checks its arguments for NULL). */
static const char *S(const char *s)
{
	return s;
}

static struct proxy_addr addr(const char *s)
{
	struct proxy_addr a;
	if (proxy_parse_addr(s, &a) < 0)
		memset(&a, 0xff, sizeof a);
	return a;
}

static void test_parse(void)
{
	struct proxy_addr a;
	ok(proxy_parse_addr("192.0.2.1:4242", &a) == 0 && a.family == AF_INET && a.port == 4242 &&
	       a.addr[0] == 192 && a.addr[3] == 1,
	   "IPv4 ADDR:PORT");
	ok(proxy_parse_addr("[2001:db8::1]:25", &a) == 0 && a.family == AF_INET6 && a.port == 25 &&
	       a.addr[0] == 0x20 && a.addr[15] == 1,
	   "[IPv6]:PORT");
	ok(proxy_parse_addr("0.0.0.0:0", &a) == 0 && a.port == 0, "port 0");
	ok(proxy_parse_addr("192.0.2.1:65535", &a) == 0, "port 65535");
	static const char *const bad[] = {"192.0.2.1",	     "192.0.2.1:",
					  "192.0.2.1:65536", "192.0.2.1:-1",
					  "192.0.2.1:2x",    "2001:db8::1:25",
					  "[2001:db8::1]25", "[2001:db8::1",
					  "host.example:25", ":25",
					  "[192.0.2.1]:25",  "192.0.2.256:25"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ok(proxy_parse_addr(bad[i], &a) < 0, "refused: '%s'", bad[i]);
}

static void test_v1(void)
{
	unsigned char out[PROXY_HEADER_MAX];
	/* section 2.1's example */
	struct proxy_addr s = addr("192.168.0.1:56324"), d = addr("192.168.0.11:443");
	size_t n = proxy_build(1, &s, &d, out);
	static const char ex[] = "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n";
	ok(n == strlen(ex) && memcmp(out, ex, n) == 0, "v1 TCP4: the spec's example");
	/* section 2.1's worst cases: 107 bytes for TCP6 */
	s = addr("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
	d = s;
	n = proxy_build(1, &s, &d, out);
	static const char ex6[] = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
				  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
	is_int((long)n, 104, "v1 TCP6 longest: 104 bytes (within the spec's 107)");
	ok(n == strlen(ex6) && memcmp(out, ex6, n) == 0, "v1 TCP6 bytes");
	s = addr("[2001:db8::1]:1"), d = addr("[::1]:25");
	n = proxy_build(1, &s, &d, out);
	static const char ex6b[] = "PROXY TCP6 2001:db8::1 ::1 1 25\r\n";
	ok(n == strlen(ex6b) && memcmp(out, ex6b, n) == 0, "v1 TCP6, compressed forms");
	struct proxy_addr unknown = {0};
	n = proxy_build(1, &unknown, &d, out);
	ok(n == 15 && memcmp(out, "PROXY UNKNOWN\r\n", 15) == 0, "v1 UNKNOWN");
	s = addr("192.0.2.1:1");
	is_int((long)proxy_build(1, &s, &d, out), 0, "v1: families differ: refused");
	is_int((long)proxy_build(3, &s, &s, out), 0, "version 3: refused");
}

static void test_v2(void)
{
	unsigned char out[PROXY_HEADER_MAX];
	static const unsigned char sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
					      0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
	struct proxy_addr s = addr("192.168.0.1:56324"), d = addr("192.168.0.11:443");
	size_t n = proxy_build(2, &s, &d, out);
	static const unsigned char ex4[28] = {
	    0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, /* sig */
	    0x21,		  /* version 2, PROXY */
	    0x11,		  /* AF_INET, STREAM */
	    0x00, 0x0C,		  /* 12 bytes follow */
	    192,  168,	0,    1,  /* source */
	    192,  168,	0,    11, /* destination */
	    0xDC, 0x04,		  /* 56324 */
	    0x01, 0xBB,		  /* 443 */
	};
	ok(n == 28 && memcmp(out, ex4, 28) == 0, "v2 TCP4: 28 bytes as section 2.2 lays out");
	s = addr("[2001:db8::1]:4242"), d = addr("[::1]:25");
	n = proxy_build(2, &s, &d, out);
	ok(n == 52, "v2 TCP6: 16 + 36 bytes");
	ok(memcmp(out, sig, 12) == 0 && out[12] == 0x21 && out[13] == 0x21,
	   "v2 TCP6: sig, PROXY, AF_INET6");
	ok(out[14] == 0 && out[15] == 36, "v2 TCP6: length 36");
	ok(out[16] == 0x20 && out[17] == 0x01 && out[31] == 1 && out[47] == 1,
	   "v2 TCP6: source then destination address");
	ok(out[48] == 0x10 && out[49] == 0x92 && out[50] == 0 && out[51] == 25,
	   "v2 TCP6: ports, network order");
	struct proxy_addr unknown = {0};
	n = proxy_build(2, &unknown, &d, out);
	static const unsigned char local[16] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51,
						0x55, 0x49, 0x54, 0x0A, 0x20, 0x00, 0x00, 0x00};
	ok(n == 16 && memcmp(out, local, 16) == 0, "v2 LOCAL: unknown addresses");
	s = addr("192.0.2.1:1");
	is_int((long)proxy_build(2, &s, &d, out), 0, "v2: families differ: refused");
}

static void test_describe(void)
{
	char text[300];
	struct proxy_addr s = addr("192.0.2.1:4242"), d = addr("127.0.0.1:25");
	proxy_describe(2, &s, &d, 28, text, sizeof text);
	is_str(S(text),
	       "PROXY v2 header sent (28 bytes, binary): PROXY TCP4 from 192.0.2.1 port 4242 to "
	       "127.0.0.1 port 25",
	       "v2 shown decoded");
	struct proxy_addr unknown = {0};
	proxy_describe(1, &unknown, &d, 15, text, sizeof text);
	is_str(S(text),
	       "PROXY v1 header sent (15 bytes): PROXY UNKNOWN (the server keeps the real "
	       "addresses)",
	       "v1 UNKNOWN shown");
}

int main(void)
{
	test_parse();
	test_v1();
	test_v2();
	test_describe();
	return done_testing();
}
