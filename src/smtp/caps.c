#include "smtpsh/caps.h"

#include <stdlib.h>
#include <string.h>

void caps_init(struct smtp_caps *c)
{
	c->known = false;
	c->greeting = NULL;
	c->items = NULL;
	c->n = 0;
}

void caps_clear(struct smtp_caps *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->items[i].name);
		free(c->items[i].params);
	}
	free(c->items);
	free(c->greeting);
	caps_init(c);
}

/* ASCII only, whatever the locale says. */
static char ascii_upper(char ch)
{
	return ch >= 'a' && ch <= 'z' ? (char)(ch - 'a' + 'A') : ch;
}

static bool ascii_alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* Case-insensitive (ASCII) comparison of a[0..alen) with b[0..blen). */
static bool same_word(const char *a, size_t alen, const char *b, size_t blen)
{
	if (alen != blen)
		return false;
	for (size_t i = 0; i < alen; i++)
		if (ascii_upper(a[i]) != ascii_upper(b[i]))
			return false;
	return true;
}

/* Whether the blank-separated list s holds word[0..wlen) (case-insensitive). */
static bool list_has(const char *s, const char *word, size_t wlen)
{
	while (*s) {
		while (is_blank(*s))
			s++;
		size_t n = 0;
		while (s[n] && !is_blank(s[n]))
			n++;
		if (n && same_word(s, n, word, wlen))
			return true;
		s += n;
	}
	return false;
}

static char *dup_mem(const char *s, size_t len)
{
	char *d = malloc(len + 1);
	if (!d)
		return NULL;
	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

/* Appends to cap->params the words of params[0..len) it does not list yet. */
static int params_merge(struct smtp_cap *cap, const char *params, size_t len)
{
	size_t i = 0;
	while (i < len) {
		while (i < len && is_blank(params[i]))
			i++;
		size_t n = 0;
		while (i + n < len && !is_blank(params[i + n]))
			n++;
		if (n && !list_has(cap->params, params + i, n)) {
			size_t old = strlen(cap->params);
			size_t sep = old ? 1 : 0;
			char *p = realloc(cap->params, old + sep + n + 1);
			if (!p)
				return -1;
			if (sep)
				p[old] = ' ';
			memcpy(p + old + sep, params + i, n);
			p[old + sep + n] = '\0';
			cap->params = p;
		}
		i += n;
	}
	return 0;
}

static int cap_add(struct smtp_caps *c, const char *name, size_t nlen, const char *params,
		   size_t plen)
{
	if (c->n >= CAPS_MAX)
		return 0;
	/* The array holds 8, 16, 32... items: full when n is 0 or such a power of two. */
	if (c->n == 0 || (c->n >= 8 && (c->n & (c->n - 1)) == 0)) {
		size_t cap = c->n ? 2 * c->n : 8;
		struct smtp_cap *items = realloc(c->items, cap * sizeof(*items));
		if (!items)
			return -1;
		c->items = items;
	}
	char *n = dup_mem(name, nlen);
	char *p = dup_mem(params, plen);
	if (!n || !p) {
		free(n);
		free(p);
		return -1;
	}
	for (size_t i = 0; i < nlen; i++)
		n[i] = ascii_upper(n[i]);
	c->items[c->n].name = n;
	c->items[c->n].params = p;
	c->n++;
	return 0;
}

int caps_add_line(struct smtp_caps *c, const char *text, size_t len, bool first)
{
	c->known = true;
	/* "250-" or "250 " or "250" alone, as the reply parser accepts them. */
	if (len < 3 || text[0] < '2' || text[0] > '5' || text[1] < '0' || text[1] > '9' ||
	    text[2] < '0' || text[2] > '9' || (len > 3 && text[3] != ' ' && text[3] != '-'))
		return 0;
	const char *s = len > 3 ? text + 4 : text + 3;
	size_t n = len > 3 ? len - 4 : 0;

	while (n > 0 && (is_blank(s[n - 1]) || s[n - 1] == '\r'))
		n--;
	if (first) {
		char *g = dup_mem(s, n);
		if (!g)
			return -1;
		free(c->greeting);
		c->greeting = g;
		return 0;
	}
	while (n > 0 && is_blank(*s)) {
		s++;
		n--;
	}

	/* ehlo-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") */
	size_t klen = 0;
	while (klen < n && (ascii_alnum(s[klen]) || (klen > 0 && s[klen] == '-')))
		klen++;
	if (klen == 0)
		return 0;
	bool legacy_auth = klen < n && s[klen] == '=' && same_word(s, klen, "AUTH", 4);
	if (klen < n && !is_blank(s[klen]) && !legacy_auth)
		return 0;

	const char *params = s + klen + (klen < n ? 1 : 0);
	size_t plen = n - klen - (klen < n ? 1 : 0);
	while (plen > 0 && is_blank(*params)) {
		params++;
		plen--;
	}

	for (size_t i = 0; i < c->n; i++) {
		if (!same_word(c->items[i].name, strlen(c->items[i].name), s, klen))
			continue;
		/* AUTH in both forms: one entry listing every mechanism; others: first wins. */
		if (same_word(s, klen, "AUTH", 4))
			return params_merge(&c->items[i], params, plen);
		return 0;
	}
	return cap_add(c, s, klen, params, plen);
}

const struct smtp_cap *caps_find(const struct smtp_caps *c, const char *name)
{
	size_t nlen = strlen(name);
	for (size_t i = 0; i < c->n; i++)
		if (same_word(c->items[i].name, strlen(c->items[i].name), name, nlen))
			return &c->items[i];
	return NULL;
}

bool caps_has(const struct smtp_caps *c, const char *name)
{
	return caps_find(c, name) != NULL;
}

bool caps_has_param(const struct smtp_caps *c, const char *name, const char *word)
{
	const struct smtp_cap *cap = caps_find(c, name);
	size_t wlen = strlen(word);
	return cap && wlen > 0 && list_has(cap->params, word, wlen);
}

int caps_size(const struct smtp_caps *c, unsigned long long *out)
{
	const struct smtp_cap *cap = caps_find(c, "SIZE");
	unsigned long long v = 0;

	*out = 0;
	if (!cap)
		return -1;
	const char *s = cap->params;
	if (*s == '\0')
		return 0; /* "SIZE" alone: no fixed limit */
	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned digit = (unsigned)(*s - '0');
		if (v > (~0ULL - digit) / 10)
			return -1;
		v = v * 10 + digit;
	}
	if (*s != '\0' && !is_blank(*s))
		return -1;
	*out = v;
	return 0;
}
