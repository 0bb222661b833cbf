/* A growable byte buffer. Functions returning int give 0, or -1 when memory ran out. */
#ifndef SMTPSH_BUF_H
#define SMTPSH_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data; /* always NUL-terminated when cap > 0 */
	size_t len;
	size_t cap;
};

void buf_init(struct buf *b);
/* Releases the memory; the buffer is empty and usable again. */
void buf_free(struct buf *b);
/* Wipes the bytes (OPENSSL_cleanse) before releasing them: for buffers that held secrets. */
void buf_free_secret(struct buf *b);
/* Wipes a NUL-terminated string that held a secret (a password, a token) and frees it; NULL
   is fine. */
void str_free_secret(char *s);
/* Empties the buffer, keeping its memory. */
void buf_reset(struct buf *b);
int buf_reserve(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *data, size_t len);
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Removes the first n bytes. */
void buf_consume(struct buf *b, size_t n);

#endif
