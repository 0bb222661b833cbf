#include "smtpsh/dotstuff.h"

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

/*
 * A CR is held back until the next byte says whether it starts CRLF; either way it ends the
 * line, so every input byte writes at most 2 bytes, plus 2 for a CR held from the last call.
 */
size_t dotstuff_encode(struct dotstuff *d, const char *in, size_t len, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char ch = in[i];

		if (d->cr) {
			d->cr = false;
			o += put_crlf(d, out + o);
			if (ch == '\n')
				continue; /* CRLF */
		}
		if (ch == '\r') {
			d->cr = true;
		} else if (ch == '\n') {
			o += put_crlf(d, out + o);
		} else {
			if (d->bol && ch == '.')
				out[o++] = '.';
			out[o++] = ch;
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
