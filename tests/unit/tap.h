/*
 * A tiny TAP producer for the unit tests (https://testanything.org): one program, one TU.
 * plan(n) or nothing (the plan is then printed by done_testing()); ok(), is_int(), is_str(),
 * is_mem() print one test line each and return whether it passed; done_testing() returns
 * main's exit status.
 */
#ifndef SMTPSH_TAP_H
#define SMTPSH_TAP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int tap_run;
static int tap_failed;
static bool tap_planned;

static inline void plan(int n)
{
	printf("1..%d\n", n);
	tap_planned = true;
}

static inline void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void diag(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("# ", stdout);
	vprintf(fmt, ap);
	fputc('\n', stdout);
	va_end(ap);
}

__attribute__((format(printf, 4, 0))) static inline bool tap_vok(bool pass, const char *file,
								 int line, const char *fmt, va_list ap)
{
	tap_run++;
	if (!pass)
		tap_failed++;
	printf("%s %d - ", pass ? "ok" : "not ok", tap_run);
	vprintf(fmt, ap);
	fputc('\n', stdout);
	if (!pass)
		printf("#   failed at %s line %d\n", file, line);
	fflush(stdout);
	return pass;
}

static inline bool tap_ok(bool pass, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static inline bool tap_ok(bool pass, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	bool r = tap_vok(pass, file, line, fmt, ap);
	va_end(ap);
	return r;
}

/* Shows bytes readably in a diagnostic: C string escapes, \xNN for the rest. */
static inline void tap_show(const char *label, const void *p, size_t len)
{
	const unsigned char *s = p;
	printf("#   %s: ", label);
	if (!p) {
		fputs("(null)\n", stdout);
		return;
	}
	fputc('"', stdout);
	for (size_t i = 0; i < len && i < 300; i++) {
		if (s[i] == '\\' || s[i] == '"')
			printf("\\%c", s[i]);
		else if (s[i] == '\r')
			fputs("\\r", stdout);
		else if (s[i] == '\n')
			fputs("\\n", stdout);
		else if (s[i] >= 0x20 && s[i] < 0x7F)
			fputc(s[i], stdout);
		else
			printf("\\x%02x", s[i]);
	}
	fputs(len > 300 ? "\"... (" : "\" (", stdout);
	printf("%zu bytes)\n", len);
}

static inline bool tap_is_int(long long got, long long want, const char *file, int line,
			      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static inline bool tap_is_int(long long got, long long want, const char *file, int line,
			      const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	bool r = tap_vok(got == want, file, line, fmt, ap);
	va_end(ap);
	if (!r)
		printf("#   got: %lld\n#   expected: %lld\n", got, want);
	return r;
}

static inline bool tap_is_mem(const char *file, int line, const void *got, size_t glen,
			      const void *want, size_t wlen, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
static inline bool tap_is_mem(const char *file, int line, const void *got, size_t glen,
			      const void *want, size_t wlen, const char *fmt, ...)
{
	bool pass = got && want && glen == wlen && (wlen == 0 || memcmp(got, want, wlen) == 0);
	if (!got && !want)
		pass = true;
	va_list ap;
	va_start(ap, fmt);
	bool r = tap_vok(pass, file, line, fmt, ap);
	va_end(ap);
	if (!r) {
		tap_show("got", got, glen);
		tap_show("expected", want, wlen);
	}
	return r;
}

#define ok(cond, ...) tap_ok((cond) ? true : false, __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, ...)                                                                     \
	tap_is_int((long long)(got), (long long)(want), __FILE__, __LINE__, __VA_ARGS__)
/* NULL equals only NULL. */
#define is_str(got, want, ...)                                                                     \
	tap_is_mem(__FILE__, __LINE__, (got), (got) ? strlen(got) : 0, (want),                     \
		   (want) ? strlen(want) : 0, __VA_ARGS__)
/* is_mem(got, glen, want, wlen, fmt, ...); want and wlen may come from one macro. */
#define is_mem(got, glen, ...) tap_is_mem(__FILE__, __LINE__, (got), (glen), __VA_ARGS__)

static inline int done_testing(void)
{
	if (!tap_planned)
		printf("1..%d\n", tap_run);
	if (tap_failed)
		printf("# %d of %d tests failed\n", tap_failed, tap_run);
	return tap_failed ? 1 : 0;
}

#endif
