/* Display-safe rendering of bytes that came from the network (pure, no I/O). */
#ifndef SMTPSH_ESCAPE_H
#define SMTPSH_ESCAPE_H

#include <stddef.h>
#include <stdint.h>

#include "smtpsh/buf.h"

enum escape_flags {
	ESCAPE_DEFAULT = 0,
	/* Show CR and LF as visible symbols "\r" "\n" (they are escaped either way). */
	ESCAPE_SHOW_RAW = 1 << 0,
	/* Let backslashes through: for our own messages, which may quote text escaped already. */
	ESCAPE_KEEP_BACKSLASH = 1 << 1,
};

/*
 * Appends to out a form of in[0..len) that is safe to write to a terminal:
 * printable ASCII and valid, printable UTF-8 pass through; backslash becomes "\\";
 * TAB "\t", CR "\r", LF "\n"; other C0 controls, DEL, C1 controls (U+0080..U+009F)
 * and every byte of invalid, overlong or surrogate UTF-8 become "\xNN" (one per byte);
 * invisible characters (general categories Cf, Zl, Zp and the default-ignorable code
 * points: bidi controls, zero-width spaces and joiners, U+FEFF, the soft hyphen, tags,
 * variation selectors) become "\u{XXXX}", and so does a combining mark at the start of in or
 * right after anything escaped (it would draw on the escape or on what precedes the text).
 * This is the one escaping function for every view: client, transcript annotations, --serve.
 * Returns 0, or -1 when memory ran out.
 */
int escape_append(struct buf *out, const char *in, size_t len, int flags);

/* Nonzero when escape_append would change something in in[0..len). */
int escape_needed(const char *in, size_t len);

/*
 * The escapes a user types for octets (\raw, \b64): "\0" NUL, "\t" "\n" "\r", "\\" a
 * backslash, "\xNN" any octet (two hex digits); other text stays as it is. Appends the
 * octets of in (NUL-terminated) to out. Returns 0; -1 for an unknown or unfinished escape
 * (*bad points at its backslash) or when memory ran out (*bad NULL).
 */
int escape_parse_typed(const char *in, struct buf *out, const char **bad);

/*
 * The columns a terminal gives the code point cp once escape_append let it through: 0 for a
 * combining mark, 2 for an East Asian wide or fullwidth character (the common ranges), else 1.
 */
int escape_char_columns(uint32_t cp);

#endif
