/*
 * MTA-STS parsers, matching and cache (RFC 8461 3.1, 3.2, 4.1, 5). Pure except for the cache
 * functions, which touch only files under the cache directory they are given.
 */
#include "smtpsh/mtasts.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "smtpsh/paths.h"

#define LINE_MAX_BYTES 1000
#define CACHE_MAGIC "smtpsh-mta-sts-cache 1"

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* --- the TXT record ---------------------------------------------------------------------- */

int mtasts_parse_txt(const char *rec, size_t len, struct mtasts_txt *out, struct buf *err)
{
	/* sts-text-record = sts-version 1*(*WSP ";" *WSP sts-field) [";"]
	   sts-version = %s"v=STSv1"; the fields are name=value, split on ";" */
	memset(out, 0, sizeof *out);
	if (memchr(rec, '\0', len))
		return buf_puts(err, "the _mta-sts record contains a NUL byte"), -1;
	if (len < 7 || memcmp(rec, "v=STSv1", 7) != 0)
		return buf_puts(err, "the _mta-sts record does not start with v=STSv1"), -1;
	size_t i = 7;
	bool have_id = false;
	while (i < len) {
		while (i < len && is_wsp(rec[i]))
			i++;
		if (i == len)
			break;
		if (rec[i] != ';')
			return buf_puts(err, "the _mta-sts record lacks a \";\" between fields"),
			       -1;
		i++;
		while (i < len && is_wsp(rec[i]))
			i++;
		if (i == len)
			break; /* a trailing ";" */
		size_t start = i;
		while (i < len && rec[i] != ';' && !is_wsp(rec[i]))
			i++;
		const char *f = rec + start;
		size_t flen = i - start;
		const char *eq = memchr(f, '=', flen);
		if (!eq || eq == f)
			return buf_puts(err, "a field of the _mta-sts record is not name=value"),
			       -1;
		size_t nlen = (size_t)(eq - f), vlen = flen - nlen - 1;
		if (nlen == 2 && memcmp(f, "id", 2) == 0) {
			if (have_id)
				return buf_puts(err, "the _mta-sts record has two ids"), -1;
			if (vlen < 1 || vlen > 32)
				return buf_puts(err, "the _mta-sts id is not 1 to 32 characters"),
				       -1;
			for (size_t k = 0; k < vlen; k++)
				if (!isalnum((unsigned char)eq[1 + k]))
					return buf_puts(
						   err,
						   "the _mta-sts id is not letters and digits"),
					       -1;
			memcpy(out->id, eq + 1, vlen);
			out->id[vlen] = '\0';
			have_id = true;
		}
	}
	if (!have_id)
		return buf_puts(err, "the _mta-sts record has no id"), -1;
	return 0;
}

/* --- the policy -------------------------------------------------------------------------- */

const char *mtasts_mode_name(enum mtasts_mode m)
{
	switch (m) {
	case MTASTS_ENFORCE:
		return "enforce";
	case MTASTS_TESTING:
		return "testing";
	case MTASTS_NONE:
		break;
	}
	return "none";
}

void mtasts_policy_init(struct mtasts_policy *p)
{
	memset(p, 0, sizeof *p);
}

void mtasts_policy_free(struct mtasts_policy *p)
{
	for (size_t i = 0; i < p->nmx; i++)
		free(p->mx[i]);
	mtasts_policy_init(p);
}

/* An mx pattern (3.2: a domain name, optionally "*." in front): letters, digits, "-", "_",
   dots between non-empty labels. */
static bool pattern_ok(const char *v, size_t n)
{
	if (n >= 2 && v[0] == '*' && v[1] == '.') {
		v += 2;
		n -= 2;
	}
	if (n == 0 || n > 253 || v[0] == '.' || v[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c == '.' ? v[i + 1] == '.' : !(isalnum(c) || c == '-' || c == '_'))
			return false;
	}
	return true;
}

static int policy_line(struct mtasts_policy *p, const char *line, size_t n, unsigned *seen,
		       struct buf *err)
{
	const char *colon = memchr(line, ':', n);
	if (!colon)
		return buf_puts(err, "a policy line is not \"key: value\""), -1;
	size_t klen = (size_t)(colon - line);
	const char *v = colon + 1;
	size_t vlen = n - klen - 1;
	while (vlen && is_wsp(*v))
		v++, vlen--;
	while (vlen && is_wsp(v[vlen - 1]))
		vlen--; /* trailing blanks are not part of a value */
#define KEY(s) (klen == sizeof(s) - 1 && memcmp(line, s, klen) == 0)
	if (KEY("version")) {
		if (*seen & 1)
			return buf_puts(err, "the policy has two version lines"), -1;
		*seen |= 1;
		if (!(vlen == 5 && memcmp(v, "STSv1", 5) == 0))
			return buf_puts(err, "the policy version is not STSv1"), -1;
	} else if (KEY("mode")) {
		if (*seen & 2)
			return buf_puts(err, "the policy has two mode lines"), -1;
		*seen |= 2;
		if (vlen == 7 && memcmp(v, "enforce", 7) == 0)
			p->mode = MTASTS_ENFORCE;
		else if (vlen == 7 && memcmp(v, "testing", 7) == 0)
			p->mode = MTASTS_TESTING;
		else if (vlen == 4 && memcmp(v, "none", 4) == 0)
			p->mode = MTASTS_NONE;
		else
			return buf_puts(err, "the policy mode is not enforce, testing or none"), -1;
	} else if (KEY("max_age")) {
		if (*seen & 4)
			return buf_puts(err, "the policy has two max_age lines"), -1;
		*seen |= 4;
		/* 1*10DIGIT, at most 31557600 */
		if (vlen == 0 || vlen > 10)
			return buf_puts(err, "the policy max_age is not a number of seconds"), -1;
		unsigned long a = 0;
		for (size_t i = 0; i < vlen; i++) {
			if (v[i] < '0' || v[i] > '9')
				return buf_puts(err,
						"the policy max_age is not a number of seconds"),
				       -1;
			a = a * 10 + (unsigned long)(v[i] - '0');
		}
		if (a > MTASTS_MAX_AGE_MAX)
			return buf_printf(err, "the policy max_age %lu is over %lu", a,
					  MTASTS_MAX_AGE_MAX),
			       -1;
		p->max_age = a;
	} else if (KEY("mx")) {
		if (!pattern_ok(v, vlen))
			return buf_puts(err, "a policy mx pattern is not a host name"), -1;
		if (p->nmx == MTASTS_MX_MAX)
			return buf_printf(err, "the policy has more than %d mx lines",
					  MTASTS_MX_MAX),
			       -1;
		char *m = strndup(v, vlen);
		if (!m)
			return buf_puts(err, "out of memory"), -1;
		for (char *c = m; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		p->mx[p->nmx++] = m;
	}
#undef KEY
	/* other keys: extensions, ignored (3.2) */
	return 0;
}

int mtasts_parse_policy(const char *body, size_t len, struct mtasts_policy *out, struct buf *err)
{
	mtasts_policy_init(out);
	if (len > MTASTS_POLICY_MAX)
		return buf_printf(err, "the policy is over %d bytes", MTASTS_POLICY_MAX), -1;
	if (memchr(body, '\0', len))
		return buf_puts(err, "the policy contains a NUL byte"), -1;
	unsigned seen = 0;
	size_t i = 0, lineno = 0;
	while (i < len) {
		const char *nl = memchr(body + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - (body + i)) : len - i;
		size_t next = i + n + (nl ? 1 : 0);
		if (n && body[i + n - 1] == '\r')
			n--;
		lineno++;
		if (n > LINE_MAX_BYTES) {
			buf_printf(err, "policy line %zu is over %d bytes", lineno, LINE_MAX_BYTES);
			goto fail;
		}
		if (lineno == 1 && !(n >= 8 && memcmp(body + i, "version:", 8) == 0)) {
			buf_puts(err, "the policy does not start with \"version: STSv1\"");
			goto fail;
		}
		if (n && policy_line(out, body + i, n, &seen, err) < 0)
			goto fail;
		i = next;
	}
	if ((seen & 7) != 7) {
		buf_printf(err, "the policy lacks %s",
			   !(seen & 1)	 ? "a version line"
			   : !(seen & 2) ? "a mode line"
					 : "a max_age line");
		goto fail;
	}
	if (out->nmx == 0 && out->mode != MTASTS_NONE) {
		buf_puts(err, "the policy has no mx lines");
		goto fail;
	}
	return 0;
fail:
	mtasts_policy_free(out);
	return -1;
}

bool mtasts_mx_match(const struct mtasts_policy *p, const char *host)
{
	size_t hlen = strlen(host);
	if (hlen && host[hlen - 1] == '.')
		hlen--;
	for (size_t i = 0; i < p->nmx; i++) {
		const char *pat = p->mx[i];
		if (pat[0] == '*' && pat[1] == '.') {
			/* 4.1: the wildcard is one whole label ("*.example.com" matches
			   "mx.example.com", not "a.b.example.com" nor "example.com") */
			const char *dot = memchr(host, '.', hlen);
			if (!dot || dot == host)
				continue;
			size_t rest = hlen - (size_t)(dot - host);
			if (rest == strlen(pat + 1) && strncasecmp(dot, pat + 1, rest) == 0)
				return true;
		} else if (strlen(pat) == hlen && strncasecmp(host, pat, hlen) == 0) {
			return true;
		}
	}
	return false;
}

/* --- the cache --------------------------------------------------------------------------- */

int mtasts_cache_dir(struct buf *out)
{
	return paths_file(PATHS_CACHE, "mta-sts", out);
}

bool mtasts_domain_ok(const char *d)
{
	size_t n = strlen(d);
	if (n == 0 || n > 253 || d[0] == '.' || d[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)d[i];
		if (c == '.' ? d[i + 1] == '.' : !(isalnum(c) || c == '-' || c == '_'))
			return false;
	}
	return true;
}

/* dir/domain, lower-cased; -1 when the domain cannot name a file. */
static int cache_file(const char *dir, const char *domain, struct buf *path, struct buf *err)
{
	if (!mtasts_domain_ok(domain))
		return buf_puts(err, "not a domain name for the MTA-STS cache"), -1;
	buf_reset(path);
	if (buf_printf(path, "%s/", dir) < 0)
		return buf_puts(err, "out of memory"), -1;
	for (const char *c = domain; *c; c++)
		if (buf_putc(path, (char)tolower((unsigned char)*c)) < 0)
			return buf_puts(err, "out of memory"), -1;
	return 0;
}

void mtasts_cached_free(struct mtasts_cached *c)
{
	mtasts_policy_free(&c->policy);
	memset(c, 0, sizeof *c);
}

int mtasts_cache_load(const char *dir, const char *domain, time_t now, struct mtasts_cached *out,
		      struct buf *err)
{
	memset(out, 0, sizeof *out);
	struct buf path, data;
	buf_init(&path);
	buf_init(&data);
	int r = -1;
	if (cache_file(dir, domain, &path, err) < 0)
		goto out;
	if (paths_read_file(path.data, MTASTS_POLICY_MAX + 128, &data) < 0) {
		if (errno == ENOENT)
			r = 0;
		else
			buf_printf(err, "cannot read %s: %s", path.data, strerror(errno));
		goto out;
	}
	/* "smtpsh-mta-sts-cache 1 ID FETCHED\n" then the policy as it was fetched */
	const char *nl = memchr(data.data, '\n', data.len);
	char id[33];
	long long fetched;
	int used = 0;
	if (!nl || nl - data.data > 100 ||
	    sscanf(data.data, CACHE_MAGIC " %32[A-Za-z0-9] %lld%n", id, &fetched, &used) != 2 ||
	    data.data + used != nl) {
		buf_printf(err, "%s is not an MTA-STS cache file", path.data);
		goto out;
	}
	size_t off = (size_t)(nl + 1 - data.data);
	if (mtasts_parse_policy(data.data + off, data.len - off, &out->policy, err) < 0)
		goto out;
	memcpy(out->id, id, sizeof id);
	out->fetched = (time_t)fetched;
	if (now >= out->fetched + (time_t)out->policy.max_age) {
		/* 5: an expired policy is no policy */
		unlink(path.data);
		mtasts_cached_free(out);
		r = 0;
		goto out;
	}
	r = 1;
out:
	buf_free(&path);
	buf_free(&data);
	return r;
}

int mtasts_cache_store(const char *dir, const char *domain, const char *id, time_t now,
		       const char *body, size_t len, struct buf *err)
{
	struct buf path, tmp;
	buf_init(&path);
	buf_init(&tmp);
	int r = -1, fd = -1;
	if (cache_file(dir, domain, &path, err) < 0)
		goto out;
	if (paths_make_parents(path.data) < 0) {
		buf_printf(err, "cannot make %s: %s", dir, strerror(errno));
		goto out;
	}
	buf_printf(&tmp, "%s.XXXXXX", path.data);
	fd = mkstemp(tmp.data); /* mode 0600 */
	if (fd < 0) {
		buf_printf(err, "cannot write to %s: %s", dir, strerror(errno));
		goto out;
	}
	FILE *f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		unlink(tmp.data);
		buf_printf(err, "cannot write %s: %s", tmp.data, strerror(errno));
		goto out;
	}
	fprintf(f, CACHE_MAGIC " %s %lld\n", id, (long long)now);
	fwrite(body, 1, len, f);
	bool ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
	if (fclose(f) != 0 || !ok) {
		unlink(tmp.data);
		buf_printf(err, "cannot write %s: %s", tmp.data, strerror(errno));
		goto out;
	}
	if (rename(tmp.data, path.data) < 0) {
		unlink(tmp.data);
		buf_printf(err, "cannot rename %s: %s", tmp.data, strerror(errno));
		goto out;
	}
	r = 0;
out:
	buf_free(&path);
	buf_free(&tmp);
	return r;
}

bool mtasts_need_fetch(const struct mtasts_cached *cached, const struct mtasts_txt *txt)
{
	if (!cached || cached->id[0] == '\0')
		return txt != NULL;
	if (!txt)
		return false;
	return strcmp(cached->id, txt->id) != 0;
}
