/* Unit tests of MTA-STS parsing, matching and the cache (src/net/mtasts.c). */
#include "smtpsh/mtasts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"

/* A char array as a pointer, for is_str (which tests its argument against NULL). */
static const char *str(const char *s)
{
	return s;
}

static int txt(const char *s, struct mtasts_txt *t, struct buf *err)
{
	buf_reset(err);
	return mtasts_parse_txt(s, strlen(s), t, err);
}

static void test_txt(void)
{
	struct mtasts_txt t;
	struct buf err;
	buf_init(&err);
	ok(txt("v=STSv1; id=20160831085700Z;", &t, &err) == 0, "RFC 8461's example");
	is_str(str(t.id), "20160831085700Z", "id");
	ok(txt("v=STSv1;id=abc", &t, &err) == 0 && !strcmp(t.id, "abc"), "no blanks, no final ;");
	ok(txt("v=STSv1 ;  id=1 ; ext=foo;", &t, &err) == 0 && !strcmp(t.id, "1"),
	   "blanks around ;, extension ignored");
	ok(txt("v=STSv1; ext=x; id=Z9", &t, &err) == 0 && !strcmp(t.id, "Z9"),
	   "id after extension");
	ok(txt("v=STSv1;", &t, &err) < 0, "no id");
	is_str(err.data, "the _mta-sts record has no id", "why");
	ok(txt("id=1; v=STSv1", &t, &err) < 0, "v= not first");
	ok(txt("v=STSv2; id=1", &t, &err) < 0, "v=STSv2");
	ok(txt("v=STSv10; id=1", &t, &err) < 0, "v=STSv10");
	ok(txt("v=STSv1; id=", &t, &err) < 0, "empty id");
	ok(txt("v=STSv1; id=123456789012345678901234567890123", &t, &err) < 0, "33-char id");
	ok(txt("v=STSv1; id=12345678901234567890123456789012", &t, &err) == 0, "32-char id");
	ok(txt("v=STSv1; id=a-b", &t, &err) < 0, "id with a hyphen");
	ok(txt("v=STSv1; id=1; id=2", &t, &err) < 0, "two ids");
	ok(txt("v=STSv1 id=1", &t, &err) < 0, "no ; between fields");
	ok(mtasts_parse_txt("v=STSv1; id=1\0x", 15, &t, &err) < 0, "NUL byte");
	buf_free(&err);
}

static int policy(const char *s, struct mtasts_policy *p, struct buf *err)
{
	buf_reset(err);
	return mtasts_parse_policy(s, strlen(s), p, err);
}

static void test_policy(void)
{
	struct mtasts_policy p;
	struct buf err;
	buf_init(&err);
	ok(policy("version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\n"
		  "mx: *.example.net\r\nmx: backupmx.example.com\r\nmax_age: 604800\r\n",
		  &p, &err) == 0,
	   "RFC 8461's example (CRLF)");
	ok(p.mode == MTASTS_ENFORCE && p.max_age == 604800 && p.nmx == 3, "mode, max_age, 3 mx");
	is_str(p.mx[1], "*.example.net", "wildcard pattern kept");
	mtasts_policy_free(&p);

	ok(policy("version: STSv1\nmode: testing\nmx: MX.Example.NET\nmax_age:86400", &p, &err) ==
	       0,
	   "LF, no final line end, no blank after ':'");
	is_str(p.mx[0], "mx.example.net", "patterns lower-cased");
	ok(p.mode == MTASTS_TESTING, "testing");
	mtasts_policy_free(&p);

	ok(policy("version: STSv1\nmode: none\nmax_age: 0\n", &p, &err) == 0,
	   "mode none needs no mx");
	mtasts_policy_free(&p);
	ok(policy("version: STSv1\nmode: enforce\nmax_age: 1\n", &p, &err) < 0, "enforce needs mx");
	is_str(err.data, "the policy has no mx lines", "why");
	ok(policy("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557601\n", &p, &err) <
	       0,
	   "max_age over a year");
	ok(policy("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557600\n", &p, &err) ==
	       0,
	   "max_age of exactly 31557600");
	mtasts_policy_free(&p);
	ok(policy("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 99999999999999\n", &p,
		  &err) < 0,
	   "max_age too many digits");
	ok(policy("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -1\n", &p, &err) < 0,
	   "negative max_age");
	ok(policy("mode: enforce\nversion: STSv1\nmx: a.example\nmax_age: 1\n", &p, &err) < 0,
	   "version not first");
	ok(policy("version: STSv1\nmode: Enforce\nmx: a.example\nmax_age: 1\n", &p, &err) < 0,
	   "mode is case-sensitive");
	ok(policy("version: STSv1\nmode: enforce\nmode: none\nmx: a\nmax_age: 1\n", &p, &err) < 0,
	   "two modes");
	ok(policy("version: STSv1\nmode: enforce\nmx: a..b\nmax_age: 1\n", &p, &err) < 0,
	   "empty label in mx");
	ok(policy("version: STSv1\nmode: enforce\nmx: a.*.b\nmax_age: 1\n", &p, &err) < 0,
	   "wildcard not leftmost");
	ok(policy("version: STSv1\nmode: enforce\nmx: a\nmax_age: 1\nfuture: x\n", &p, &err) == 0,
	   "unknown key ignored");
	mtasts_policy_free(&p);
	ok(policy("version: STSv1\nmode: enforce\nmx: a\nmax_age: 1\ngarbage\n", &p, &err) < 0,
	   "line without ':'");
	ok(mtasts_parse_policy("version: STSv1\n\0", 16, &p, &err) < 0, "NUL byte");
	char *big = malloc(MTASTS_POLICY_MAX + 2);
	memset(big, 'x', MTASTS_POLICY_MAX + 1);
	memcpy(big, "version: STSv1\n", 15);
	ok(mtasts_parse_policy(big, MTASTS_POLICY_MAX + 1, &p, &err) < 0, "over 64 KiB");
	free(big);
	struct buf many;
	buf_init(&many);
	buf_puts(&many, "version: STSv1\nmode: enforce\nmax_age: 1\n");
	for (int i = 0; i <= MTASTS_MX_MAX; i++)
		buf_printf(&many, "mx: m%d.example\n", i);
	ok(mtasts_parse_policy(many.data, many.len, &p, &err) < 0, "more mx than kept: error");
	buf_free(&many);
	buf_free(&err);
}

static void test_match(void)
{
	struct mtasts_policy p;
	struct buf err;
	buf_init(&err);
	policy("version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\n"
	       "max_age: 1\n",
	       &p, &err);
	ok(mtasts_mx_match(&p, "mail.example.com"), "exact");
	ok(mtasts_mx_match(&p, "MAIL.example.COM."), "case and trailing dot");
	ok(!mtasts_mx_match(&p, "xmail.example.com"), "no suffix match");
	ok(mtasts_mx_match(&p, "mx1.example.net"), "wildcard: one label");
	ok(!mtasts_mx_match(&p, "a.b.example.net"), "wildcard: not two labels (4.1)");
	ok(!mtasts_mx_match(&p, "example.net"), "wildcard: not the bare domain");
	ok(!mtasts_mx_match(&p, ".example.net"), "wildcard: not an empty label");
	ok(!mtasts_mx_match(&p, "mx1.example.net.evil"), "no prefix match");
	mtasts_policy_free(&p);
	buf_free(&err);
}

static void test_cache(void)
{
	char dir[] = "/tmp/smtpsh-mtasts-XXXXXX";
	if (!mkdtemp(dir)) {
		ok(false, "mkdtemp");
		return;
	}
	char sub[64];
	snprintf(sub, sizeof sub, "%s/smtpsh/mta-sts", dir);
	struct buf err, path;
	buf_init(&err);
	buf_init(&path);
	const char *body = "version: STSv1\nmode: enforce\nmx: mx.example.net\nmax_age: 100\n";
	ok(mtasts_cache_store(sub, "Example.NET", "id1", 1000, body, strlen(body), &err) == 0,
	   "store");
	struct stat st;
	ok(stat(sub, &st) == 0 && (st.st_mode & 0777) == 0700, "directory 0700");
	buf_printf(&path, "%s/example.net", sub);
	ok(stat(path.data, &st) == 0 && (st.st_mode & 0777) == 0600, "file 0600, lower-cased name");

	struct mtasts_cached c;
	ok(mtasts_cache_load(sub, "example.net", 1050, &c, &err) == 1, "fresh at +50 s");
	is_str(str(c.id), "id1", "id kept");
	ok(c.fetched == 1000 && c.policy.mode == MTASTS_ENFORCE && c.policy.nmx == 1, "policy");
	struct mtasts_txt same = {.id = "id1"}, other = {.id = "id2"};
	ok(!mtasts_need_fetch(&c, &same), "same id: no fetch");
	ok(mtasts_need_fetch(&c, &other), "new id: fetch (section 5)");
	ok(!mtasts_need_fetch(&c, NULL), "TXT gone: the cached policy stays");
	ok(mtasts_need_fetch(NULL, &same), "nothing cached: fetch");
	ok(!mtasts_need_fetch(NULL, NULL), "no record, nothing cached: no policy");
	mtasts_cached_free(&c);

	ok(mtasts_cache_load(sub, "example.net", 1100, &c, &err) == 0, "expired at max_age");
	ok(stat(path.data, &st) < 0, "expired file removed");
	ok(mtasts_cache_load(sub, "nothing.example", 0, &c, &err) == 0, "absent: 0");

	FILE *f = fopen(path.data, "w");
	fputs("garbage\n", f);
	fclose(f);
	buf_reset(&err);
	ok(mtasts_cache_load(sub, "example.net", 0, &c, &err) < 0, "damaged file: -1");
	ok(strstr(err.data, "is not an MTA-STS cache file") != NULL, "says so");
	unlink(path.data);

	buf_reset(&err);
	ok(mtasts_cache_store(sub, "../evil", "id", 0, body, strlen(body), &err) < 0,
	   "a domain with a slash cannot name a file");
	ok(!mtasts_domain_ok(".."), "\"..\" refused");
	ok(!mtasts_domain_ok("a/b"), "slash refused");
	ok(!mtasts_domain_ok(""), "empty refused");
	ok(mtasts_domain_ok("mx-1.example_x.net"), "hyphen, underscore, digits ok");

	rmdir(sub);
	snprintf(sub, sizeof sub, "%s/smtpsh", dir);
	rmdir(sub);
	rmdir(dir);
	buf_free(&err);
	buf_free(&path);
}

static void test_cache_dir(void)
{
	struct buf b;
	buf_init(&b);
	setenv("XDG_CACHE_HOME", "/x/cache", 1);
	ok(mtasts_cache_dir(&b) == 0, "cache dir");
	is_str(b.data, "/x/cache/smtpsh/mta-sts", "from XDG_CACHE_HOME");
	setenv("XDG_CACHE_HOME", "relative", 1);
	setenv("HOME", "/home/u", 1);
	mtasts_cache_dir(&b);
	is_str(b.data, "/home/u/.cache/smtpsh/mta-sts", "relative XDG ignored: ~/.cache");
	buf_free(&b);
}

int main(void)
{
	test_txt();
	test_policy();
	test_match();
	test_cache();
	test_cache_dir();
	return done_testing();
}
