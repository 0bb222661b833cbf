/*
 * TCP connections and the byte-level I/O on them, plain or TLS. Every wait is bounded by a
 * timeout and can be cut short by an interrupt flag (set from a SIGINT handler). Nothing here
 * prints: failures come back as -1 with a one-line message in the caller's buffer.
 */
#ifndef SMTPSH_CONN_H
#define SMTPSH_CONN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#include "smtpsh/proto.h" /* enum conn_family */

enum conn_io {
	CONN_IO_OK = 0,
	CONN_IO_EOF = -1,	  /* the peer closed the connection */
	CONN_IO_ERROR = -2,	  /* a socket or TLS error: message in err */
	CONN_IO_TIMEOUT = -3,	  /* the timeout ran out */
	CONN_IO_INTERRUPTED = -4, /* the interrupt flag was raised */
	CONN_IO_AGAIN = -5,	  /* nothing to read now (conn_read only) */
};

struct conn {
	int fd;		     /* -1 when closed */
	SSL *ssl;	     /* NULL while plaintext */
	int want;	     /* poll events the last AGAIN waits for (POLLIN, or POLLOUT for TLS) */
	char peer_addr[112]; /* numeric address connected to, or a UNIX socket's path */
	bool unix_socket;    /* a UNIX-domain socket (peer_port 0) */
	unsigned peer_port;
};

void conn_init(struct conn *c);

/* Is addr (numeric IPv4 or IPv6) a loopback address: 127.0.0.0/8, ::1, ::ffff:127.x.y.z? */
bool conn_addr_is_loopback(const char *addr);

/* Does host name a UNIX-domain socket (it starts with "/" or "./")? */
bool conn_is_socket_path(const char *host);
/*
 * A host that conn_is_socket_path() accepts is a UNIX-domain socket (port ignored): connected
 * the same way, bounded by timeout_ms. Otherwise: resolves host (getaddrinfo, family as asked) and
 * connects to the first address that answers within timeout_ms (each attempt), non-blocking.
 * Returns 0, or a CONN_IO_* error with a message in err ("connection refused by 127.0.0.1 port 25",
 * "no address for host x").
 */
int conn_connect(struct conn *c, const char *host, const char *port, enum conn_family family,
		 int timeout_ms, volatile sig_atomic_t *intr, char *err, size_t errlen);

/*
 * The server's side: accepts one connection waiting on listen_fd (a non-blocking listening
 * socket) into c, non-blocking itself, with the peer's numeric address and port in
 * peer_addr/peer_port. Returns 0, CONN_IO_AGAIN when none is waiting, or CONN_IO_ERROR with
 * a message in err (out of descriptors...).
 */
int conn_accept(struct conn *c, int listen_fd, char *err, size_t errlen);

/*
 * The server's side of a TLS handshake, non-blocking (after the 220 to STARTTLS, or at once on
 * an implicit-TLS port): the first call makes the TLS state from ctx; call again when the
 * socket is ready for c->want. Returns CONN_IO_OK once the handshake is done, CONN_IO_AGAIN,
 * or CONN_IO_ERROR with "TLS handshake failed: reason" (or "cannot start TLS ...") in err.
 */
int conn_tls_accept(struct conn *c, SSL_CTX *ctx, char *err, size_t errlen);

/* Closes the socket and frees the TLS state (without a TLS close_notify when abrupt). */
void conn_close(struct conn *c, bool abrupt);

/* Reads what is available now into buf: >0 bytes, or CONN_IO_EOF/ERROR/AGAIN. Never blocks. */
ssize_t conn_read(struct conn *c, void *buf, size_t len, char *err, size_t errlen);

/* True when bytes are already decrypted and waiting in the TLS layer (poll would not see them). */
bool conn_has_buffered(const struct conn *c);

/* Waits until the socket is ready for events (POLLIN/POLLOUT) or timeout_ms passes
   (negative: forever). Returns CONN_IO_OK, CONN_IO_TIMEOUT or CONN_IO_INTERRUPTED. */
int conn_wait(struct conn *c, short events, int timeout_ms, volatile sig_atomic_t *intr);

/*
 * Writes what the socket takes now of buf[0..len): >0 bytes written, or CONN_IO_AGAIN (then
 * c->want says what to wait for: TLS may need to read first), CONN_IO_EOF (the peer has gone)
 * or CONN_IO_ERROR, both with a message in err. Never blocks. Under TLS a write that returned
 * AGAIN must be retried with the same bytes (OpenSSL's rule for SSL_write).
 */
ssize_t conn_write(struct conn *c, const void *buf, size_t len, char *err, size_t errlen);

/* Writes all of buf, waiting as needed up to timeout_ms in all. Returns 0 or a CONN_IO_* error. */
int conn_write_all(struct conn *c, const void *buf, size_t len, int timeout_ms,
		   volatile sig_atomic_t *intr, char *err, size_t errlen);

/*
 * Asks the kernel to ACK at once (TCP_QUICKACK): what is pending now, and what arrives next,
 * instead of delaying the ACK. The kernel drops the mode by itself, so conn_write_all renews
 * it after every write and conn_read after a TLS read that found no data (session tickets): a
 * server using Nagle then never waits ~40 ms for our ACK before sending its reply.
 */
void conn_quickack(struct conn *c);

/* Reads and discards whatever plaintext bytes are waiting on the socket right now (before a
   STARTTLS handshake); returns how many, or -1 on error. */
ssize_t conn_drain_plain(struct conn *c);

/* Monotonic milliseconds, for deadlines. */
long long conn_now_ms(void);

#endif
