/* libFuzzer harness: whatever certificate a server sends (DER, as on the wire), the lines \tls
   shows of it (tls_chain_describe_cert) hold no control byte but their line ends, and stay
   bounded (each field cut at TLS_CHAIN_FIELD_MAX, at most TLS_CHAIN_SANS_MAX names). */
#include <stdint.h>
#include <stdlib.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "smtpsh/tls_chain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Seven lines; the longest is the names': TLS_CHAIN_SANS_MAX names of at most
   TLS_CHAIN_FIELD_MAX bytes, each escaped (up to 10 bytes per byte: "\u{XXXXX}") with a
   "... (N more bytes)" note and a separator. */
#define VIEW_MAX (8 * 1024 + TLS_CHAIN_SANS_MAX * (10 * TLS_CHAIN_FIELD_MAX + 64))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unsigned char *p = data;
	X509 *cert = d2i_X509(NULL, &p, (long)size);
	if (!cert) {
		ERR_clear_error();
		return 0;
	}
	struct buf out;
	buf_init(&out);
	tls_chain_describe_cert(&out, cert, "  ");
	for (size_t i = 0; i < out.len; i++) {
		unsigned char c = (unsigned char)out.data[i];
		if ((c < 0x20 && c != '\n') || c == 0x7f)
			abort();
	}
	if (out.len > VIEW_MAX)
		abort();
	buf_free(&out);
	X509_free(cert);
	ERR_clear_error();
	return 0;
}
