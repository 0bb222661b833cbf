/* The loopback test that decides whether AUTH may go out in plaintext. */
#include "tap.h"

#include "smtpsh/conn.h"

int main(void)
{
	static const struct {
		const char *addr;
		bool loopback;
	} cases[] = {
		{"127.0.0.1", true},	   {"127.255.3.4", true},    {"::1", true},
		{"::ffff:127.0.0.1", true}, {"0:0:0:0:0:0:0:1", true}, {"128.0.0.1", false},
		{"10.0.0.1", false},	   {"192.168.1.1", false},   {"0.0.0.0", false},
		{"::", false},		   {"::2", false},	     {"::ffff:10.0.0.1", false},
		{"2001:db8::1", false},	   {"fe80::1", false},	     {"", false},
		{"localhost", false},	   {"127.0.0.1x", false},    {"::127.0.0.1", false},
	};
	size_t n = sizeof cases / sizeof cases[0];
	plan((int)n);
	for (size_t i = 0; i < n; i++)
		ok(conn_addr_is_loopback(cases[i].addr) == cases[i].loopback, "%s is %sloopback",
		   cases[i].addr, cases[i].loopback ? "" : "not ");
	return done_testing();
}
