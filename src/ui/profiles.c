#include "smtpsh/profiles.h"

#include <errno.h>
#include <string.h>

#include "smtpsh/paths.h"

int profiles_load(struct profile_set *set, const char *path, struct buf *err)
{
	struct buf text;
	buf_init(&text);
	buf_reset(err);
	if (paths_read_file(path, PROFILES_FILE_MAX, &text) < 0) {
		int e = errno;
		buf_free(&text);
		if (e == ENOENT)
			return 0;
		buf_printf(err, "%s: %s", path,
			   e == EFBIG	 ? "larger than 1 MiB: not a profiles file"
			   : e == EINVAL ? "not a regular file"
					 : strerror(e));
		return -1;
	}
	unsigned line;
	char msg[512];
	int r = profile_parse(set, text.data, text.len, &line, msg, sizeof msg);
	buf_free(&text);
	if (r < 0)
		buf_printf(err, "%s:%u: %s", path, line, msg);
	return r;
}

static const char *mode_text(enum tls_mode m)
{
	return m == TLS_IMPLICIT ? "implicit TLS" : m == TLS_STARTTLS ? "STARTTLS" : "no TLS";
}

void profiles_summary(const struct profile *p, struct buf *out)
{
	buf_printf(out, "%s port %s, %s", p->host, profile_port(p), mode_text(p->tls));
	if (p->user)
		buf_printf(out, ", user %s", p->user);
	if (p->auth)
		buf_printf(out, ", AUTH %s", p->auth);
	if (p->password_command)
		buf_puts(out, ", password from a command");
}

static void describe(const struct profile *p, struct buf *out)
{
	buf_printf(out, "  %-12s ", p->name);
	profiles_summary(p, out);
	buf_putc(out, '\n');
	if (p->cafile || p->ehlo || p->timeout_ms || p->ocsp) {
		buf_printf(out, "  %-12s", "");
		if (p->cafile)
			buf_printf(out, " cafile %s", p->cafile);
		if (p->ehlo)
			buf_printf(out, " ehlo %s", p->ehlo);
		if (p->timeout_ms)
			buf_printf(out, " timeout %gs", p->timeout_ms / 1000.0);
		if (p->ocsp)
			buf_puts(out, " ocsp");
		buf_putc(out, '\n');
	}
	if (p->note)
		buf_printf(out, "  %-12s %s\n", "", p->note);
}

void profiles_describe(const struct profile_set *set, const char *path, struct buf *out)
{
	size_t n;
	const struct profile *presets = profile_presets(&n);
	buf_puts(out, "Presets (built in):\n");
	for (size_t i = 0; i < n; i++) {
		const struct profile *own = set ? profile_find(set, presets[i].name) : NULL;
		if (own && !own->builtin)
			buf_printf(out, "  %-12s (replaced by your profile of that name)\n",
				   presets[i].name);
		else
			describe(&presets[i], out);
	}
	if (path)
		buf_printf(out, "Your profiles (%s):\n", path);
	else
		buf_puts(out, "Your profiles:\n");
	for (size_t i = 0; set && i < set->n; i++)
		describe(&set->items[i], out);
	if (!set || set->n == 0)
		buf_puts(out, "  (none)\n");
	buf_puts(out, "smtpsh NAME (or smtpsh -p NAME) connects with one of them.");
}
