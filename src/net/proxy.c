/* The PROXY protocol header, versions 1 and 2 (see proxy.h). */
#include "smtpsh/proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Spec 2.2: the twelve bytes that open every version 2 header. */
static const unsigned char v2_sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
					 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

int proxy_parse_addr(const char *s, struct proxy_addr *out)
{
	char host[64];
	const char *colon;
	memset(out, 0, sizeof *out);
	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		if (!end || end[1] != ':' || (size_t)(end - s - 1) >= sizeof host)
			return -1;
		memcpy(host, s + 1, (size_t)(end - s - 1));
		host[end - s - 1] = '\0';
		colon = end + 1;
		out->family = AF_INET6;
	} else {
		colon = strrchr(s, ':');
		if (!colon || (size_t)(colon - s) >= sizeof host ||
		    memchr(s, ':', (size_t)(colon - s)))
			return -1;
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
		out->family = AF_INET;
	}
	if (inet_pton(out->family, host, out->addr) != 1)
		return -1;
	char *end;
	const char *p = colon + 1;
	if (*p < '0' || *p > '9')
		return -1;
	unsigned long port = strtoul(p, &end, 10);
	if (*end || port > 65535)
		return -1;
	out->port = (unsigned)port;
	return 0;
}

void proxy_addr_of_socket(int fd, bool peer, struct proxy_addr *out)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	memset(out, 0, sizeof *out);
	int r = peer ? getpeername(fd, (struct sockaddr *)&ss, &len)
		     : getsockname(fd, (struct sockaddr *)&ss, &len);
	if (r < 0)
		return;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
		out->family = AF_INET;
		memcpy(out->addr, &in->sin_addr, 4);
		out->port = ntohs(in->sin_port);
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
		out->family = AF_INET6;
		memcpy(out->addr, &in6->sin6_addr, 16);
		out->port = ntohs(in6->sin6_port);
	}
}

static void put16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

size_t proxy_build(int version, const struct proxy_addr *src, const struct proxy_addr *dst,
		   unsigned char *out)
{
	bool known = src->family && dst->family;
	if (known && src->family != dst->family)
		return 0;
	if (version == 1) {
		if (!known) {
			memcpy(out, "PROXY UNKNOWN\r\n", 15);
			return 15;
		}
		char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
		inet_ntop(src->family, src->addr, a, sizeof a);
		inet_ntop(dst->family, dst->addr, b, sizeof b);
		int n =
		    snprintf((char *)out, PROXY_HEADER_MAX, "PROXY %s %s %s %u %u\r\n",
			     src->family == AF_INET ? "TCP4" : "TCP6", a, b, src->port, dst->port);
		return n > 0 && n < PROXY_HEADER_MAX ? (size_t)n : 0;
	}
	if (version != 2)
		return 0;
	memcpy(out, v2_sig, sizeof v2_sig);
	if (!known) {
		out[12] = 0x20; /* version 2, LOCAL: the receiver keeps the real addresses */
		out[13] = 0x00; /* AF_UNSPEC, UNSPEC */
		put16(out + 14, 0);
		return 16;
	}
	out[12] = 0x21; /* version 2, PROXY */
	size_t alen = src->family == AF_INET ? 4 : 16;
	out[13] = src->family == AF_INET ? 0x11 : 0x21; /* TCP over IPv4 / IPv6 */
	put16(out + 14, (unsigned)(2 * alen + 4));
	unsigned char *p = out + 16;
	memcpy(p, src->addr, alen);
	memcpy(p + alen, dst->addr, alen);
	put16(p + 2 * alen, src->port);
	put16(p + 2 * alen + 2, dst->port);
	return 16 + 2 * alen + 4;
}

static void addr_str(const struct proxy_addr *a, char *out, size_t outlen)
{
	char h[INET6_ADDRSTRLEN] = "?";
	inet_ntop(a->family, a->addr, h, sizeof h);
	snprintf(out, outlen, "%s port %u", h, a->port);
}

void proxy_describe(int version, const struct proxy_addr *src, const struct proxy_addr *dst,
		    size_t len, char *out, size_t outlen)
{
	if (!src->family || !dst->family) {
		snprintf(out, outlen,
			 "PROXY v%d header sent (%zu bytes): %s (the server keeps the real "
			 "addresses)",
			 version, len, version == 1 ? "PROXY UNKNOWN" : "LOCAL, no addresses");
		return;
	}
	char a[80], b[80];
	addr_str(src, a, sizeof a);
	addr_str(dst, b, sizeof b);
	snprintf(out, outlen, "PROXY v%d header sent (%zu bytes%s): PROXY %s from %s to %s",
		 version, len, version == 2 ? ", binary" : "",
		 src->family == AF_INET ? "TCP4" : "TCP6", a, b);
}
