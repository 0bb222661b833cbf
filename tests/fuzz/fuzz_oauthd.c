/* libFuzzer harness: the practice sign-in server's request parser and handler (oauthd.h), fed
   what any local client may send. oauthd_http_parse never reads past the length given and
   finds a request within the bounds or answers a status; a request found is handled by a
   server kept across runs (its tables stay bounded) and the answer is a whole HTTP response;
   a bearer check never crashes. Memory is checked by ASan and LeakSanitizer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpsh/oauthd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct oauthd *server;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!server && !(server = oauthd_new("https://127.0.0.1:1", "student")))
		return 0;
	/* a copy of exactly size octets: ASan sees a read past the end */
	char *copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	struct oauthd_http req;
	int r = oauthd_http_parse(copy, size, &req);
	if (r == 1) {
		if (req.total > size || req.total > OAUTHD_HEAD_MAX + OAUTHD_BODY_MAX ||
		    req.body_len > OAUTHD_BODY_MAX || !memchr(req.target, '\0', sizeof req.target))
			abort();
		struct buf resp, note;
		buf_init(&resp);
		buf_init(&note);
		/* the faults from the input too, so that every path of the handler is reached */
		struct oauthd_faults f = {
		    .expired = size & 1, .scope_wrong = size & 2, .revoked = size & 4};
		oauthd_set_faults(server, &f);
		if (oauthd_handle(server, &req, (time_t)1000000 + (time_t)(size % 5000), &resp,
				  &note) == 0 &&
		    (resp.len < 12 || memcmp(resp.data, "HTTP/1.1 ", 9) != 0))
			abort();
		buf_free(&resp);
		buf_free(&note);
	} else if (r != 0 && (r < 400 || r > 505)) {
		abort();
	}
	oauthd_check_token(server, copy, size, size & 8 ? "student" : NULL, 1000000);
	free(copy);
	return 0;
}
