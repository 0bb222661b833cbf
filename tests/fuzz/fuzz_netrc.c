/* libFuzzer harness: any ~/.netrc text is parsed without crashing or leaking. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpsh/netrc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const users[] = {NULL, "alice", ""};
	for (size_t i = 0; i < 3; i++) {
		struct netrc_entry e;
		int r = netrc_lookup((const char *)data, size, "mail.example.test", users[i], &e);
		if (r < 0 || r > 1)
			abort();
		if (r == 0 && (e.login || e.password))
			abort();
		if (r == 1 && users[i] && e.login && strcmp(e.login, users[i]) != 0)
			abort();
		netrc_entry_free(&e);
	}
	return 0;
}
