#include "smtpsh/dotstuff.h"

#include <string.h>

void dotstuff_init(struct dotstuff *d)
{
	d->bol = true;
	d->cr = false;
	d->stuff = true;
	d->col = 0;
	d->lines = d->long_lines = 0;
}

void dotstuff_init_lines(struct dotstuff *d)
{
	dotstuff_init(d);
	d->stuff = false;
}

static size_t put_crlf(struct dotstuff *d, char *out)
{
	out[0] = '\r';
	out[1] = '\n';
	d->bol = true;
	d->lines++;
	if (d->col > DOTSTUFF_LINE_MAX)
		d->long_lines++;
	d->col = 0;
	return 2;
}

/*
 * A CR is held back until the next byte says whether it starts CRLF; either way it ends the
 * line, so every input byte writes at most 2 bytes, plus 2 for a CR held from the last call.
 * Runs of ordinary bytes are copied whole: memchr finds each LF, and the next CR is looked
 * for once and remembered (a file with LF line ends is scanned for CR once per call), so a
 * 100 MB body costs little more than a copy.
 */
size_t dotstuff_encode(struct dotstuff *d, const char *in, size_t len, char *out)
{
	size_t o = 0;
	const char *p = in, *end = in + len;
	const char *cr = memchr(p, '\r', len); /* the next CR at or after p, or NULL */

	while (p < end) {
		char ch = *p;

		if (d->cr) {
			d->cr = false;
			o += put_crlf(d, out + o);
			if (ch == '\n') {
				p++;
				continue; /* CRLF */
			}
		}
		if (ch == '\r') {
			d->cr = true;
			p++;
			cr = memchr(p, '\r', (size_t)(end - p));
		} else if (ch == '\n') {
			o += put_crlf(d, out + o);
			p++;
		} else {
			if (d->stuff && d->bol && ch == '.') {
				out[o++] = '.';
				d->col++;
			}
			const char *stop = cr ? cr : end;
			const char *lf = memchr(p, '\n', (size_t)(stop - p));
			if (lf)
				stop = lf;
			memcpy(out + o, p, (size_t)(stop - p));
			o += (size_t)(stop - p);
			d->col += (size_t)(stop - p);
			p = stop;
			d->bol = false;
		}
	}
	return o;
}

size_t dotstuff_finish(struct dotstuff *d, char *out)
{
	size_t o = 0;
	if (d->cr || !d->bol)
		o = put_crlf(d, out);
	d->bol = true;
	d->cr = false;
	return o;
}
