/* libFuzzer harness: the profiles file (user input read at start). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpsh/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct profile_set set;
	profile_set_init(&set);
	unsigned line;
	char err[256];
	int r = profile_parse(&set, (const char *)data, size, &line, err, sizeof err);
	if (r < 0 && (set.n || set.items || line == 0 || !memchr(err, '\0', sizeof err)))
		abort();
	for (size_t i = 0; r == 0 && i < set.n; i++) {
		const struct profile *p = &set.items[i];
		if (!p->name || !p->host || !profile_name_valid(p->name) || p->builtin ||
		    profile_find(&set, p->name) != p || strpbrk(p->host, " \t\r\n"))
			abort();
		profile_port(p);
		profile_for_argument(&set, p->name);
	}
	profile_set_free(&set);
	return 0;
}
