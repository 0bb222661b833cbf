/*
 * The PROXY protocol header (haproxy's proxy-protocol.txt, versions 1 and 2) that a client
 * sends first on a connection to a server behind a proxy (Postfix's
 * smtpd_upstream_proxy_protocol = haproxy), naming the "real" client and server addresses.
 * The builder is pure: addresses in, bytes out (tested byte for byte against the spec);
 * proxy_addr_of_socket() is the one call that asks the kernel. Nothing here is parsed from
 * the network.
 */
#ifndef SMTPSH_PROXY_H
#define SMTPSH_PROXY_H

#include <stdbool.h>
#include <stddef.h>

/* v1: 107 bytes at most (spec 2.1); v2: 16 + 36 for TCP over IPv6 (spec 2.2). */
#define PROXY_HEADER_MAX 108

struct proxy_addr {
	int family; /* AF_INET or AF_INET6; 0: unknown (a UNIX socket...) */
	unsigned char addr[16];
	unsigned port;
};

/* "ADDR:PORT" with a numeric IPv4 address or a bracketed IPv6 one ("[2001:db8::1]:25").
   Returns 0, or -1 when it is not that. */
int proxy_parse_addr(const char *s, struct proxy_addr *out);
/* The local (peer false) or remote (peer true) address of a connected socket; family 0 when
   it is neither IPv4 nor IPv6. */
void proxy_addr_of_socket(int fd, bool peer, struct proxy_addr *out);
/*
 * The header of version 1 or 2 for a connection from src to dst into out (PROXY_HEADER_MAX
 * bytes). Both must be of one family (spec 2.1: "both addresses ... of the same family");
 * when either is unknown (family 0) the header says so: "PROXY UNKNOWN" (v1) or the LOCAL
 * command (v2), and the server uses the real connection's addresses. Returns the header's
 * length, or 0 when the families differ or the version is not 1 or 2.
 */
size_t proxy_build(int version, const struct proxy_addr *src, const struct proxy_addr *dst,
		   unsigned char *out);
/* What a header says, for the screen: "PROXY v2 PROXY TCP4 from 192.0.2.1 port 4242 to
   127.0.0.1 port 25 (28 bytes)". */
void proxy_describe(int version, const struct proxy_addr *src, const struct proxy_addr *dst,
		    size_t len, char *out, size_t outlen);

#endif
