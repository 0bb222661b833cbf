/* Unit tests of EHLO capabilities (src/smtp/caps.c). */
#include "smtpsh/caps.h"

#include <stdio.h>
#include <string.h>

#include "tap.h"

static void add(struct smtp_caps *c, const char *line, bool first)
{
	if (caps_add_line(c, line, strlen(line), first) < 0)
		diag("caps_add_line failed on \"%s\"", line);
}

static const char *params_of(const struct smtp_caps *c, const char *name)
{
	const struct smtp_cap *cap = caps_find(c, name);
	return cap ? cap->params : NULL;
}

static void test_basic(void)
{
	struct smtp_caps c;
	caps_init(&c);
	ok(!c.known && c.n == 0 && c.greeting == NULL, "init: empty, not known");
	ok(!caps_has(&c, "SIZE"), "init: nothing found");

	add(&c, "250-mail.example Hello client [127.0.0.1]", true);
	add(&c, "250-PIPELINING", false);
	add(&c, "250-size 10240000", false);
	add(&c, "250-8BITMIME", false);
	add(&c, "250-AUTH PLAIN LOGIN", false);
	add(&c, "250-ENHANCEDSTATUSCODES", false);
	add(&c, "250-X-Custom-Ext  a  b ", false);
	add(&c, "250 STARTTLS", false);

	ok(c.known, "known after a line");
	is_str(c.greeting, "mail.example Hello client [127.0.0.1]", "greeting text");
	is_int(c.n, 7, "seven capabilities");
	ok(caps_has(&c, "PIPELINING"), "PIPELINING");
	ok(caps_has(&c, "starttls"), "lookup is case-insensitive");
	ok(caps_has(&c, "SIZE"), "size advertised in lower case");
	is_str(c.items[1].name, "SIZE", "keyword stored upper-cased");
	is_str(params_of(&c, "SIZE"), "10240000", "SIZE params");
	is_str(params_of(&c, "8BITMIME"), "", "no params: empty string");
	is_str(params_of(&c, "X-CUSTOM-EXT"), "a  b", "params kept, outer blanks trimmed");
	ok(!caps_has(&c, "mail.example"), "the greeting is not a capability");
	ok(!caps_has(&c, "CHUNKING"), "absent keyword");
	ok(!caps_has(&c, "SIZ"), "no prefix match");
	ok(!caps_has(&c, ""), "empty name");

	ok(caps_has_param(&c, "AUTH", "PLAIN"), "AUTH PLAIN");
	ok(caps_has_param(&c, "auth", "login"), "AUTH login, case-insensitive");
	ok(!caps_has_param(&c, "AUTH", "CRAM-MD5"), "no AUTH CRAM-MD5");
	ok(!caps_has_param(&c, "AUTH", "PLAI"), "word match, not prefix");
	ok(!caps_has_param(&c, "AUTH", "PLAIN LOGIN"), "one word at a time");
	ok(!caps_has_param(&c, "AUTH", ""), "empty word");
	ok(!caps_has_param(&c, "XAUTH", "PLAIN"), "absent capability");
	ok(caps_has_param(&c, "X-CUSTOM-EXT", "b"), "word after double blank");

	unsigned long long size = 1;
	is_int(caps_size(&c, &size), 0, "SIZE with a number");
	is_int(size, 10240000, "SIZE value");

	caps_clear(&c);
	ok(!c.known && c.n == 0 && c.greeting == NULL && c.items == NULL, "clear forgets all");
	ok(!caps_has(&c, "PIPELINING"), "nothing after clear");
	add(&c, "250 only.greeting", true);
	ok(c.known && c.n == 0, "EHLO reply of one line: known, no capability");
	is_str(c.greeting, "only.greeting", "one-line greeting");
	caps_clear(&c);
}

static void test_legacy_auth(void)
{
	struct smtp_caps c;
	caps_init(&c);

	add(&c, "250-x", true);
	add(&c, "250-AUTH=LOGIN PLAIN", false);
	ok(caps_has(&c, "AUTH"), "AUTH= alone counts as AUTH");
	ok(caps_has_param(&c, "AUTH", "LOGIN") && caps_has_param(&c, "AUTH", "PLAIN"),
	   "AUTH= mechanisms");
	ok(!caps_has(&c, "AUTH=LOGIN"), "no keyword AUTH=LOGIN");
	caps_clear(&c);

	add(&c, "250-x", true);
	add(&c, "250-AUTH PLAIN LOGIN", false);
	add(&c, "250-AUTH=LOGIN PLAIN", false);
	add(&c, "250 HELP", false);
	is_int(c.n, 2, "AUTH and AUTH=: one entry");
	is_str(params_of(&c, "AUTH"), "PLAIN LOGIN", "AUTH= adds nothing new");
	caps_clear(&c);

	add(&c, "250-x", true);
	add(&c, "250-auth=login", false);
	add(&c, "250-AUTH PLAIN LOGIN", false);
	is_int(c.n, 1, "AUTH= then AUTH: one entry");
	is_str(params_of(&c, "AUTH"), "login PLAIN", "mechanisms of both, without repeats");
	ok(caps_has_param(&c, "AUTH", "LOGIN") && caps_has_param(&c, "AUTH", "plain"),
	   "both mechanisms found");
	caps_clear(&c);

	add(&c, "250-x", true);
	add(&c, "250-SIZE 100", false);
	add(&c, "250 SIZE 200", false);
	is_int(c.n, 1, "repeated keyword: one entry");
	is_str(params_of(&c, "SIZE"), "100", "repeated keyword: the first wins");
	caps_clear(&c);
}

static void test_malformed(void)
{
	struct smtp_caps c;
	caps_init(&c);

	add(&c, "250-x", true);
	add(&c, "250-", false);
	add(&c, "250", false);
	add(&c, "250-   ", false);
	add(&c, "250--DASH", false);
	add(&c, "250-SIZE=5", false);
	add(&c, "250-K\x1b[2J", false);
	add(&c, "250-\xc3\xa9T\xc3\xa9", false);
	add(&c, "25", false);
	add(&c, "abc-DEF", false);
	add(&c, "250xGHI", false);
	is_int(c.n, 0, "malformed lines are skipped");
	ok(c.known, "known all the same");

	add(&c, "250-  LEADING  ", false);
	add(&c, "250-TAB\tp1\tp2", false);
	add(&c, "250-CR\r", false);
	is_str(params_of(&c, "LEADING"), "", "leading blanks skipped");
	is_str(params_of(&c, "TAB"), "p1\tp2", "TAB separates the keyword");
	ok(caps_has_param(&c, "TAB", "p2"), "TAB separates params");
	is_str(params_of(&c, "CR"), "", "stray CR trimmed");
	caps_clear(&c);

	/* Not NUL-terminated: len is what counts. */
	const char line[] = "250-CHUNKINGXYZ";
	ok(caps_add_line(&c, line, 12, false) == 0 && caps_has(&c, "CHUNKING") &&
	       !caps_has(&c, "CHUNKINGXYZ"),
	   "len bounds the line");
	caps_clear(&c);
}

static void test_max(void)
{
	struct smtp_caps c;
	char line[64];
	int fail = 0;
	caps_init(&c);

	add(&c, "250-x", true);
	for (int i = 0; i < CAPS_MAX + 50; i++) {
		snprintf(line, sizeof(line), "250-X%d p%d", i, i);
		if (caps_add_line(&c, line, strlen(line), false) < 0)
			fail++;
	}
	is_int(fail, 0, "more than CAPS_MAX lines: no error");
	is_int(c.n, CAPS_MAX, "CAPS_MAX kept");
	ok(caps_has(&c, "X0") && caps_has(&c, "X255") && !caps_has(&c, "X256"),
	   "the first CAPS_MAX are kept");
	ok(caps_has_param(&c, "x200", "P200"), "params of a late one");
	caps_clear(&c);
}

static void test_size(void)
{
	struct smtp_caps c;
	unsigned long long v;
	static const struct {
		const char *line;
		int ret;
		unsigned long long val;
	} cases[] = {
	    {"250 SIZE", 0, 0},
	    {"250 SIZE 0", 0, 0},
	    {"250 SIZE 35882577", 0, 35882577},
	    {"250 SIZE 18446744073709551615", 0, 18446744073709551615ULL},
	    {"250 SIZE 18446744073709551616", -1, 0},
	    {"250 SIZE 99999999999999999999999", -1, 0},
	    {"250 SIZE abc", -1, 0},
	    {"250 SIZE 12abc", -1, 0},
	    {"250 SIZE -5", -1, 0},
	    {"250 SIZE 100 extra", 0, 100},
	    {"250 PIPELINING", -1, 0},
	};
	caps_init(&c);
	v = 7;
	is_int(caps_size(&c, &v), -1, "SIZE unknown: -1");
	is_int(v, 0, "SIZE unknown: *out 0");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		caps_clear(&c);
		add(&c, "250-x", true);
		add(&c, cases[i].line, false);
		v = 7;
		int r = caps_size(&c, &v);
		ok(r == cases[i].ret && v == cases[i].val, "caps_size on \"%s\": %d, %llu",
		   cases[i].line, r, v);
	}
	caps_clear(&c);
}

int main(void)
{
	test_basic();
	test_legacy_auth();
	test_malformed();
	test_max();
	test_size();
	return done_testing();
}
