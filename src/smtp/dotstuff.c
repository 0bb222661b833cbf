#include "smtpsh/dotstuff.h"

#include <string.h>

void dotstuff_init(struct dotstuff *d)
{
	d->bol = true;
	d->cr = false;
}

static size_t put_crlf(struct dotstuff *d, char *out)
{
	out[0] = '\r';
	out[1] = '\n';
	d->bol = true;
	return 2;
}

/* Where the run of ordinary bytes (neither CR nor LF) that starts at p ends. */
static size_t plain_run(const char *p, size_t n)
{
	const char *lf = memchr(p, '\n', n);
	size_t run = lf ? (size_t)(lf - p) : n;
	const char *cr = memchr(p, '\r', run);
	return cr ? (size_t)(cr - p) : run;
}

/*
 * A CR is held back until the next byte says whether it starts CRLF; either way it ends the
 * line, so every input byte writes at most 2 bytes, plus 2 for a CR held from the last call.
 * Runs of ordinary bytes are copied whole (memchr finds their end): a 100 MB body costs
 * little more than a copy.
 */
size_t dotstuff_encode(struct dotstuff *d, const char *in, size_t len, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < len;) {
		char ch = in[i];

		if (d->cr) {
			d->cr = false;
			o += put_crlf(d, out + o);
			if (ch == '\n') {
				i++;
				continue; /* CRLF */
			}
		}
		if (ch == '\r') {
			d->cr = true;
			i++;
		} else if (ch == '\n') {
			o += put_crlf(d, out + o);
			i++;
		} else {
			if (d->bol && ch == '.')
				out[o++] = '.';
			size_t run = plain_run(in + i, len - i);
			memcpy(out + o, in + i, run);
			o += run;
			i += run;
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
	dotstuff_init(d);
	return o;
}
