#include "smtpsh/message.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#define LINE_MAX_CHARS 76       /* header lines folded, base64 lines */
#define RAW_CHUNK (57 * 512)    /* octets read from a file at a time: whole base64 lines */
#define B64_LINE_IN 57          /* octets per 76-character base64 line */

/* ---- small helpers ----------------------------------------------------------------------- */

__attribute__((format(printf, 3, 4))) static int set_err(char *err, size_t errlen,
							 const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

bool message_non_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return true;
	return false;
}

static bool has_control(const char *s)
{
	for (; *s; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
			return true;
	return false;
}

static unsigned long long b64_out(unsigned long long n)
{
	unsigned long long rem = n % B64_LINE_IN;
	return n / B64_LINE_IN * (LINE_MAX_CHARS + 2) + (rem ? (rem + 2) / 3 * 4 + 2 : 0);
}

/* ---- line ends --------------------------------------------------------------------------- */

/* Notes what a run of octets holds: 8-bit octets, NULs (CR and LF are neither). */
static void note_octets(struct message *m, const unsigned char *p, size_t n)
{
	if (!m->eightbit) { /* an OR of every octet, eight at a time */
		uint64_t any = 0;
		size_t i = 0;
		for (; i + 8 <= n; i += 8) {
			uint64_t w;
			memcpy(&w, p + i, 8);
			any |= w;
		}
		for (; i < n; i++)
			any |= p[i];
		m->eightbit = (any & 0x8080808080808080ULL) != 0;
	}
	if (!m->nul && memchr(p, 0, n))
		m->nul = true;
}

/* ---- base64 in lines --------------------------------------------------------------------- */

static size_t b64_line(const unsigned char *in, size_t n, char *out)
{
	int w = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	out[w] = '\r';
	out[w + 1] = '\n';
	return (size_t)w + 2;
}

static size_t b64_feed(struct message *m, const unsigned char *in, size_t n, char *out)
{
	size_t w = 0;
	if (m->ncarry) {
		size_t take = B64_LINE_IN - m->ncarry < n ? B64_LINE_IN - m->ncarry : n;
		memcpy(m->carry + m->ncarry, in, take);
		m->ncarry += take;
		in += take;
		n -= take;
		if (m->ncarry < B64_LINE_IN)
			return 0;
		w += b64_line(m->carry, B64_LINE_IN, out);
		m->ncarry = 0;
	}
	while (n >= B64_LINE_IN) {
		w += b64_line(in, B64_LINE_IN, out + w);
		in += B64_LINE_IN;
		n -= B64_LINE_IN;
	}
	memcpy(m->carry, in, n);
	m->ncarry = n;
	return w;
}

static size_t b64_finish(struct message *m, char *out)
{
	size_t w = m->ncarry ? b64_line(m->carry, m->ncarry, out) : 0;
	m->ncarry = 0;
	return w;
}

/* ---- header fields ----------------------------------------------------------------------- */

static bool needs_encoding(const char *v)
{
	return message_non_ascii(v) || has_control(v) || strstr(v, "=?") != NULL;
}

/* Appends v as UTF-8 B encoded-words, starting at column *col, folding before a word that
   would pass LINE_MAX_CHARS; never splits a UTF-8 sequence. */
static int put_words(struct buf *out, const char *v, size_t *col)
{
	const size_t overhead = 12; /* "=?UTF-8?B?" "?=" */
	size_t n = strlen(v), i = 0;
	while (i < n) {
		size_t room = *col + overhead + 8 <= LINE_MAX_CHARS ? LINE_MAX_CHARS - *col : 0;
		size_t maxin = room ? (room - overhead) / 4 * 3 : 0;
		size_t take = n - i < maxin ? n - i : maxin;
		if (i + take < n)
			while (take && ((unsigned char)v[i + take] & 0xC0) == 0x80)
				take--;
		if (!take) {
			if (*col <= 1) /* cannot happen with a 76-column line, but never loop */
				take = 1;
			else {
				if (buf_puts(out, "\r\n ") < 0)
					return -1;
				*col = 1;
				continue;
			}
		}
		if (buf_puts(out, "=?UTF-8?B?") < 0)
			return -1;
		char enc[80];
		int w = EVP_EncodeBlock((unsigned char *)enc, (const unsigned char *)v + i,
					(int)take);
		if (buf_append(out, enc, (size_t)w) < 0 || buf_puts(out, "?=") < 0)
			return -1;
		*col += overhead + (size_t)w;
		i += take;
		if (i < n) {
			if (buf_puts(out, "\r\n ") < 0)
				return -1;
			*col = 1;
		}
	}
	return 0;
}

/* Appends ASCII text folded at blanks (CRLF inserted before a blank) where lines would pass
   LINE_MAX_CHARS; a word longer than a line stays whole. */
static int put_folded(struct buf *out, const char *v, size_t col)
{
	size_t n = strlen(v), i = 0;
	while (n - i + col > LINE_MAX_CHARS) {
		size_t lim = LINE_MAX_CHARS - (col < LINE_MAX_CHARS ? col : LINE_MAX_CHARS);
		size_t brk = 0;
		bool text = false;
		for (size_t k = i; k < n && (k <= i + lim || !brk); k++) {
			if ((v[k] == ' ' || v[k] == '\t') && text && k > i)
				brk = k;
			if (v[k] != ' ' && v[k] != '\t')
				text = true;
			if (brk && k > i + lim)
				break;
		}
		if (!brk)
			break;
		if (buf_append(out, v + i, brk - i) < 0 || buf_puts(out, "\r\n") < 0)
			return -1;
		i = brk;
		col = 0;
	}
	return buf_puts(out, v + i);
}

int message_header_text(struct buf *out, const char *name, const char *value)
{
	if (buf_printf(out, "%s:", name) < 0)
		return -1;
	size_t col = strlen(name) + 1;
	if (!*value)
		return buf_puts(out, "\r\n");
	if (buf_putc(out, ' ') < 0)
		return -1;
	col++;
	int r = needs_encoding(value) ? put_words(out, value, &col) : put_folded(out, value, col);
	return r < 0 ? -1 : buf_puts(out, "\r\n");
}

int message_address(const char *text, char *out, size_t outlen)
{
	const char *lt = strrchr(text, '<');
	const char *start = text, *end = text + strlen(text);
	if (lt) {
		const char *gt = strchr(lt, '>');
		if (!gt || gt[1 + strspn(gt + 1, " \t")] != '\0')
			return -1;
		start = lt + 1;
		end = gt;
	}
	while (start < end && (*start == ' ' || *start == '\t'))
		start++;
	while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	size_t n = (size_t)(end - start);
	if (!n || n >= outlen)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)start[i];
		if (c <= 0x20 || c == 0x7f || c == '<' || c == '>')
			return -1;
	}
	memcpy(out, start, n);
	out[n] = '\0';
	return 0;
}

/* A display name as a phrase: atoms as they are, a quoted-string when it holds specials,
   encoded-words when it is not ASCII. */
static int put_display_name(struct buf *out, const char *name, size_t len, size_t *col)
{
	char *s = strndup(name, len);
	if (!s)
		return -1;
	int r = 0;
	if (len >= 2 && s[0] == '"' && s[len - 1] == '"' && !needs_encoding(s)) {
		r = buf_puts(out, s); /* already a quoted-string */
		*col += len;
	} else if (needs_encoding(s)) {
		r = put_words(out, s, col);
	} else if (strpbrk(s, "()<>[]:;@\\,.\"")) {
		r = buf_putc(out, '"');
		for (size_t i = 0; r == 0 && s[i]; i++) {
			if (s[i] == '"' || s[i] == '\\')
				r = buf_putc(out, '\\');
			if (r == 0)
				r = buf_putc(out, s[i]);
		}
		if (r == 0)
			r = buf_putc(out, '"');
		*col += len + 2;
	} else {
		r = buf_puts(out, s);
		*col += len;
	}
	free(s);
	return r;
}

/* "Name: a, b" for mailboxes given as "addr" or "Display Name <addr>", folded between them. */
static int put_mailboxes(struct buf *out, const char *name, const char *const *list, size_t n)
{
	if (buf_printf(out, "%s: ", name) < 0)
		return -1;
	size_t col = strlen(name) + 2;
	for (size_t i = 0; i < n; i++) {
		char addr[1024];
		if (message_address(list[i], addr, sizeof addr) < 0)
			return -1;
		const char *lt = strrchr(list[i], '<');
		const char *dn = list[i];
		size_t dlen = lt ? (size_t)(lt - dn) : 0;
		while (dlen && (*dn == ' ' || *dn == '\t')) {
			dn++;
			dlen--;
		}
		while (dlen && (dn[dlen - 1] == ' ' || dn[dlen - 1] == '\t'))
			dlen--;
		size_t need = strlen(addr) + (dlen ? dlen + 3 : 0);
		if (i > 0) {
			if (col + 2 + need > LINE_MAX_CHARS) {
				if (buf_puts(out, ",\r\n ") < 0)
					return -1;
				col = 1;
			} else {
				if (buf_puts(out, ", ") < 0)
					return -1;
				col += 2;
			}
		}
		if (dlen) {
			if (put_display_name(out, dn, dlen, &col) < 0 || buf_putc(out, ' ') < 0)
				return -1;
			col++;
			if (buf_printf(out, "<%s>", addr) < 0)
				return -1;
			col += strlen(addr) + 2;
		} else {
			if (buf_puts(out, addr) < 0)
				return -1;
			col += strlen(addr);
		}
	}
	return buf_puts(out, "\r\n");
}

static int put_date(struct buf *out, time_t t)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct tm tm;
	if (!localtime_r(&t, &tm))
		return -1;
	long off = tm.tm_gmtoff / 60;
	char sign = off < 0 ? '-' : '+';
	if (off < 0)
		off = -off;
	return buf_printf(out, "Date: %s, %02d %s %04d %02d:%02d:%02d %c%02ld%02ld\r\n",
			  days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
			  tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, sign, off / 60,
			  off % 60);
}

static int random_hex(char *out, size_t nbytes)
{
	unsigned char r[32];
	if (nbytes > sizeof r || RAND_bytes(r, (int)nbytes) != 1)
		return -1;
	for (size_t i = 0; i < nbytes; i++)
		snprintf(out + 2 * i, 3, "%02x", r[i]);
	return 0;
}

static int put_message_id(struct buf *out, const char *from)
{
	char addr[1024], hex[65];
	if (message_address(from, addr, sizeof addr) < 0 || random_hex(hex, 16) < 0)
		return -1;
	const char *at = strrchr(addr, '@');
	const char *domain = at && at[1] ? at + 1 : "localhost";
	return buf_printf(out, "Message-ID: <%s@%s>\r\n", hex, domain);
}

/* A MIME parameter: name="value" when printable ASCII, RFC 2231 name*=utf-8''%XX...
   otherwise (in continuations name*0*=, name*1*= when long). */
static int put_param(struct buf *out, const char *name, const char *value)
{
	bool plain = true;
	for (const char *p = value; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			plain = false;
	if (plain) {
		if (buf_printf(out, ";\r\n %s=\"", name) < 0)
			return -1;
		for (const char *p = value; *p; p++) {
			if ((*p == '"' || *p == '\\') && buf_putc(out, '\\') < 0)
				return -1;
			if (buf_putc(out, *p) < 0)
				return -1;
		}
		return buf_putc(out, '"');
	}
	struct buf enc;
	buf_init(&enc);
	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		bool keep = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			    (*p >= '0' && *p <= '9') || strchr("!#$&+-.^_`|~", *p);
		if ((keep ? buf_putc(&enc, (char)*p) : buf_printf(&enc, "%%%02X", *p)) < 0) {
			buf_free(&enc);
			return -1;
		}
	}
	int r = 0;
	if (enc.len + strlen(name) + 10 <= LINE_MAX_CHARS) {
		r = buf_printf(out, ";\r\n %s*=utf-8''%s", name, enc.data);
	} else {
		size_t i = 0;
		for (int k = 0; r == 0 && i < enc.len; k++) {
			/* " name*K*=" [utf-8''] value ";" within a line */
			size_t fixed = strlen(name) + 6 + (k >= 10) + (k == 0 ? 7 : 0);
			size_t seg = LINE_MAX_CHARS > fixed + 12 ? LINE_MAX_CHARS - fixed : 12;
			size_t take = enc.len - i < seg ? enc.len - i : seg;
			/* keep %XX together */
			if (i + take < enc.len) {
				if (enc.data[i + take - 1] == '%')
					take -= 1;
				else if (take >= 2 && enc.data[i + take - 2] == '%')
					take -= 2;
			}
			r = buf_printf(out, ";\r\n %s*%d*=%s%.*s", name, k, k == 0 ? "utf-8''" : "",
				       (int)take, enc.data + i);
			i += take;
		}
	}
	buf_free(&enc);
	return r;
}

const char *message_content_type(const char *path)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{"txt", "text/plain"},	      {"text", "text/plain"},	  {"html", "text/html"},
		{"htm", "text/html"},	      {"csv", "text/csv"},	  {"ics", "text/calendar"},
		{"pdf", "application/pdf"},   {"zip", "application/zip"}, {"json", "application/json"},
		{"xml", "application/xml"},   {"png", "image/png"},	  {"jpg", "image/jpeg"},
		{"jpeg", "image/jpeg"},	      {"gif", "image/gif"},
		/* .eml would be message/rfc822, which must not be base64-encoded (RFC 2046 5.2.1):
		   sent as plain bytes it could break lines; octet-stream keeps it intact. */
	};
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	const char *dot = strrchr(base, '.');
	if (dot && dot != base)
		for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
			if (strcasecmp(dot + 1, types[i].ext) == 0)
				return types[i].type;
	return "application/octet-stream";
}

/* ---- open / compose ---------------------------------------------------------------------- */

static bool header_name_is(const char *line, const char *name)
{
	size_t n = strlen(name);
	return strncasecmp(line, name, n) == 0 && line[n] == ':';
}

static bool user_header_sets(const struct message_spec *sp, const char *name)
{
	for (size_t i = 0; i < sp->nheaders; i++)
		if (header_name_is(sp->headers[i], name))
			return true;
	return false;
}

static int check_header_line(const char *h, char *err, size_t errlen)
{
	size_t n = strcspn(h, ":");
	if (!h[n] || n == 0)
		return set_err(err, errlen, "--header '%s': give it as 'Name: value'", h);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)h[i] <= 0x20 || (unsigned char)h[i] >= 0x7f)
			return set_err(err, errlen, "--header '%.*s': a header name is printable "
						    "ASCII without blanks",
				       (int)n, h);
	if (strpbrk(h, "\r\n"))
		return set_err(err, errlen, "--header '%.*s': no line breaks in a header", (int)n, h);
	static const char *const ours[] = {"MIME-Version", "Content-Type",
					   "Content-Transfer-Encoding", "Content-Disposition"};
	for (size_t i = 0; i < 4; i++)
		if (header_name_is(h, ours[i]))
			return set_err(err, errlen, "--header %s: smtpsh sets it (MIME structure)",
				       ours[i]);
	if (header_name_is(h, "Bcc"))
		return set_err(err, errlen, "--header Bcc: use --bcc (a Bcc header would show the "
					    "hidden recipients to everyone)");
	return 0;
}

static int open_file(struct message_file *f, const char *path, const char *what, char *err,
		     size_t errlen)
{
	f->path = path;
	f->fp = fopen(path, "rb");
	if (!f->fp)
		return set_err(err, errlen, "%s %s: %s", what, path, strerror(errno));
	struct stat sb;
	if (fstat(fileno(f->fp), &sb) < 0 || !S_ISREG(sb.st_mode)) {
		fclose(f->fp);
		f->fp = NULL;
		return set_err(err, errlen, "%s %s: not a regular file", what, path);
	}
	f->size = (unsigned long long)sb.st_size;
	return 0;
}

/* One piece of the body in the scan: its size with CRLF line ends (written to mid and left
   there), its long lines, its 8-bit octets and NULs. */
static void scan_piece(struct message *m, const char *in, size_t n)
{
	note_octets(m, (const unsigned char *)in, n);
	m->body_size += dotstuff_encode(&m->scan, in, n, m->mid);
}

static int scan_body(struct message *m, char *err, size_t errlen)
{
	dotstuff_init_lines(&m->scan);
	if (m->spec.body) {
		size_t n = strlen(m->spec.body);
		for (size_t off = 0; off < n; off += RAW_CHUNK)
			scan_piece(m, m->spec.body + off, n - off < RAW_CHUNK ? n - off : RAW_CHUNK);
	} else if (m->body.fp) {
		unsigned long long in = 0;
		size_t n;
		while ((n = fread(m->raw, 1, RAW_CHUNK, m->body.fp)) > 0) {
			scan_piece(m, m->raw, n);
			in += n;
		}
		if (ferror(m->body.fp) || fseek(m->body.fp, 0, SEEK_SET) != 0)
			return set_err(err, errlen, "--body-file %s: %s", m->body.path,
				       strerror(errno));
		m->body.size = in;
	}
	m->body_size += dotstuff_finish(&m->scan, m->mid);
	return 0;
}

void message_close(struct message *m)
{
	if (m->body.fp)
		fclose(m->body.fp);
	for (size_t i = 0; m->att && i < m->spec.nattach; i++)
		if (m->att[i].fp)
			fclose(m->att[i].fp);
	free(m->att);
	free(m->parts);
	free(m->raw);
	free(m->mid);
	buf_free(&m->mem);
	buf_free(&m->pending);
	memset(m, 0, sizeof *m);
}

int message_open(struct message *m, const struct message_spec *spec, char *err, size_t errlen)
{
	memset(m, 0, sizeof *m);
	m->spec = *spec;
	buf_init(&m->mem);
	buf_init(&m->pending);
	char addr[1024];
	if (!spec->from || message_address(spec->from, addr, sizeof addr) < 0)
		return set_err(err, errlen, "--from '%s': not an address (addr@domain or 'Name "
					    "<addr@domain>')",
			       spec->from ? spec->from : "");
	for (size_t i = 0; i < spec->nto + spec->ncc; i++) {
		const char *a = i < spec->nto ? spec->to[i] : spec->cc[i - spec->nto];
		if (message_address(a, addr, sizeof addr) < 0)
			return set_err(err, errlen, "%s '%s': not an address",
				       i < spec->nto ? "--to" : "--cc", a);
	}
	if (spec->subject && strpbrk(spec->subject, "\r\n"))
		return set_err(err, errlen, "--subject: no line breaks in a subject");
	if (spec->body && spec->body_file)
		return set_err(err, errlen, "--body and --body-file exclude each other");
	for (size_t i = 0; i < spec->nheaders; i++)
		if (check_header_line(spec->headers[i], err, errlen) < 0)
			return -1;
	m->raw = malloc(RAW_CHUNK);
	m->mid = malloc(DOTSTUFF_MAX_OUT(RAW_CHUNK));
	m->att = calloc(spec->nattach ? spec->nattach : 1, sizeof *m->att);
	m->parts = calloc(2 * spec->nattach + 4, sizeof *m->parts);
	if (!m->raw || !m->mid || !m->att || !m->parts) {
		message_close(m);
		return set_err(err, errlen, "out of memory");
	}
	if (spec->body_file && open_file(&m->body, spec->body_file, "--body-file", err, errlen) < 0) {
		message_close(m);
		return -1;
	}
	for (size_t i = 0; i < spec->nattach; i++)
		if (open_file(&m->att[i], spec->attach[i], "--attach", err, errlen) < 0) {
			message_close(m);
			return -1;
		}
	m->has_body = spec->body || spec->body_file;
	if (scan_body(m, err, errlen) < 0) {
		message_close(m);
		return -1;
	}
	return 0;
}

bool message_body_8bit(const struct message *m)
{
	return m->eightbit;
}

/* Adds the memory written since the last part as a part. */
static void add_mem_part(struct message *m, size_t *mark)
{
	if (m->mem.len == *mark)
		return;
	struct message_part *p = &m->parts[m->nparts++];
	memset(p, 0, sizeof *p);
	p->off = *mark;
	p->len = m->mem.len - *mark;
	p->in_size = p->out_size = p->len;
	*mark = m->mem.len;
}

static void add_body_part(struct message *m, bool b64, bool binary)
{
	struct message_part *p = &m->parts[m->nparts++];
	memset(p, 0, sizeof *p);
	p->ext = m->spec.body;
	p->len = m->spec.body ? strlen(m->spec.body) : 0;
	p->file = m->body.fp;
	p->path = m->body.path;
	p->in_size = m->spec.body ? p->len : m->body.size;
	p->crlf = !binary; /* binary octets go as they are: their "line ends" are data */
	p->base64 = b64;
	p->out_size = binary ? p->in_size : b64 ? b64_out(m->body_size) : m->body_size;
}

bool message_body_binary(const struct message *m)
{
	return m->nul || m->scan.long_lines;
}

int message_compose(struct message *m, bool allow_8bit, char *err, size_t errlen)
{
	const struct message_spec *sp = &m->spec;
	struct buf *h = &m->mem;
	buf_reset(h);
	m->nparts = 0;
	m->binary = m->allow_binary && message_body_binary(m);
	bool b64 = !m->binary && (m->nul || m->scan.long_lines || (m->eightbit && !allow_8bit));
	const char *cte = m->binary ? "binary" : b64 ? "base64" : m->eightbit ? "8bit" : "7bit";
	char boundary[64] = "=_smtpsh_", hex[49];
	if (random_hex(hex, 12) < 0)
		return set_err(err, errlen, "no random numbers (RAND_bytes)");
	strcat(boundary, hex);
	int r = 0;
	if (!user_header_sets(sp, "Date"))
		r |= put_date(h, sp->date ? sp->date : time(NULL));
	if (!user_header_sets(sp, "From"))
		r |= put_mailboxes(h, "From", &sp->from, 1);
	if (sp->nto && !user_header_sets(sp, "To"))
		r |= put_mailboxes(h, "To", sp->to, sp->nto);
	if (sp->ncc && !user_header_sets(sp, "Cc"))
		r |= put_mailboxes(h, "Cc", sp->cc, sp->ncc);
	if (sp->subject && !user_header_sets(sp, "Subject"))
		r |= message_header_text(h, "Subject", sp->subject);
	if (!user_header_sets(sp, "Message-ID"))
		r |= put_message_id(h, sp->from);
	r |= buf_puts(h, "MIME-Version: 1.0\r\n");
	for (size_t i = 0; i < sp->nheaders; i++) {
		char name[256];
		size_t n = strcspn(sp->headers[i], ":");
		snprintf(name, sizeof name, "%.*s", (int)(n < 255 ? n : 255), sp->headers[i]);
		const char *v = sp->headers[i] + n + 1;
		v += strspn(v, " \t");
		r |= message_header_text(h, name, v);
	}
	size_t mark = 0;
	if (!sp->nattach) {
		r |= buf_printf(h, "Content-Type: text/plain; charset=utf-8\r\n"
				   "Content-Transfer-Encoding: %s\r\n\r\n",
				cte);
		add_mem_part(m, &mark);
		if (m->has_body)
			add_body_part(m, b64, m->binary);
	} else {
		r |= buf_printf(h, "Content-Type: multipart/mixed;\r\n boundary=\"%s\"\r\n\r\n"
				   "This is a multi-part message in MIME format.\r\n",
				boundary);
		if (m->has_body) {
			r |= buf_printf(h, "\r\n--%s\r\nContent-Type: text/plain; charset=utf-8\r\n"
					   "Content-Transfer-Encoding: %s\r\n\r\n",
					boundary, cte);
			add_mem_part(m, &mark);
			add_body_part(m, b64, m->binary);
		}
		for (size_t i = 0; i < sp->nattach; i++) {
			const char *base = strrchr(m->att[i].path, '/');
			base = base && base[1] ? base + 1 : m->att[i].path;
			r |= buf_printf(h, "\r\n--%s\r\nContent-Type: %s", boundary,
					message_content_type(base));
			r |= put_param(h, "name", base);
			r |= buf_puts(h, "\r\nContent-Transfer-Encoding: base64\r\n"
					 "Content-Disposition: attachment");
			r |= put_param(h, "filename", base);
			r |= buf_puts(h, "\r\n\r\n");
			add_mem_part(m, &mark);
			struct message_part *p = &m->parts[m->nparts++];
			memset(p, 0, sizeof *p);
			p->file = m->att[i].fp;
			p->path = m->att[i].path;
			p->in_size = m->att[i].size;
			p->base64 = true;
			p->out_size = b64_out(p->in_size);
		}
		r |= buf_printf(h, "\r\n--%s--\r\n", boundary);
		add_mem_part(m, &mark);
	}
	if (r)
		return set_err(err, errlen, "out of memory (or a bad address) composing the header");
	m->size = 0;
	for (size_t i = 0; i < m->nparts; i++)
		m->size += m->parts[i].out_size;
	m->cur = 0;
	m->cur_in = m->cur_out = 0;
	m->ncarry = 0;
	dotstuff_init_lines(&m->crlf);
	buf_reset(&m->pending);
	m->pending_off = 0;
	if (buf_reserve(&m->pending, 3 * RAW_CHUNK + 4096) < 0)
		return set_err(err, errlen, "out of memory");
	return 0;
}

unsigned long long message_size(const struct message *m)
{
	return m->size;
}

/* ---- streaming --------------------------------------------------------------------------- */

/* Produces the next piece of part p into pending; *done at its end. */
static int produce(struct message *m, struct message_part *p, bool *done, char *err,
		   size_t errlen)
{
	*done = false;
	char *out = m->pending.data;
	size_t w = 0;
	const unsigned char *in;
	size_t n;
	if (p->file) {
		n = fread(m->raw, 1, RAW_CHUNK, p->file);
		if (n == 0 && ferror(p->file))
			return set_err(err, errlen, "error reading %s: %s", p->path, strerror(errno));
		in = (const unsigned char *)m->raw;
	} else {
		const char *base = p->ext ? p->ext : m->mem.data;
		size_t off = (p->ext ? 0 : p->off) + (size_t)m->cur_in;
		n = p->len - (size_t)m->cur_in < RAW_CHUNK ? p->len - (size_t)m->cur_in : RAW_CHUNK;
		in = (const unsigned char *)base + off;
	}
	m->cur_in += n;
	bool end = n == 0 || (p->file ? feof(p->file) != 0 : m->cur_in >= p->len);
	if (p->crlf) {
		size_t k = dotstuff_encode(&m->crlf, (const char *)in, n, m->mid);
		if (end)
			k += dotstuff_finish(&m->crlf, m->mid + k);
		in = (const unsigned char *)m->mid;
		n = k;
	}
	if (p->base64) {
		w = b64_feed(m, in, n, out);
		if (end)
			w += b64_finish(m, out + w);
	} else {
		memcpy(out, in, n);
		w = n;
	}
	m->pending.len = w;
	m->pending_off = 0;
	m->cur_out += w;
	if (end) {
		*done = true;
		if (m->cur_in != p->in_size || m->cur_out != p->out_size)
			return set_err(err, errlen, "%s changed while it was being sent",
				       p->path ? p->path : "the message");
	}
	return 0;
}

ssize_t message_read(struct message *m, char *buf, size_t cap, char *err, size_t errlen)
{
	size_t got = 0;
	while (got < cap) {
		if (m->pending_off < m->pending.len) {
			size_t k = m->pending.len - m->pending_off;
			if (k > cap - got)
				k = cap - got;
			memcpy(buf + got, m->pending.data + m->pending_off, k);
			m->pending_off += k;
			got += k;
			continue;
		}
		if (m->cur >= m->nparts)
			break;
		bool done;
		if (produce(m, &m->parts[m->cur], &done, err, errlen) < 0)
			return -1;
		if (done) {
			m->cur++;
			m->cur_in = m->cur_out = 0;
			m->ncarry = 0;
			dotstuff_init_lines(&m->crlf);
		}
	}
	return (ssize_t)got;
}
