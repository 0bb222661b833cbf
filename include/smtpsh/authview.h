/*
 * Reading an AUTH exchange (RFC 4954) for the screen, and answering one for a replay: the
 * decoded text of a 334 challenge, the user name inside a client response, and the responses
 * of PLAIN, LOGIN, CRAM-MD5 and XOAUTH2. Pure; base64 and HMAC come from OpenSSL. Every buffer
 * that held a decoded response (it may hold a password) is wiped before it is freed.
 */
#ifndef SMTPSH_AUTHVIEW_H
#define SMTPSH_AUTHVIEW_H

#include <stdbool.h>
#include <stddef.h>

#include "smtpsh/buf.h"

/*
 * Decodes the base64 text[0..len) (blanks around it are ignored; padding is required) and
 * appends the bytes to out. Returns 0, or -1 (nothing appended) when text is not base64.
 */
int authview_b64_decode(const char *text, size_t len, struct buf *out);

/* Appends the base64 form of data[0..len) to out. Returns 0, or -1 when memory ran out. */
int authview_b64_encode(const void *data, size_t len, struct buf *out);

/*
 * The user name carried by the nth (1 = first, an initial response counts) client response of
 * an AUTH exchange with mechanism mech, resp being that response as sent (base64): PLAIN and
 * XOAUTH2 and CRAM-MD5 name the user in response 1, LOGIN sends it as response 1. Writes the
 * name (raw bytes, NUL-terminated, cut to fit) and returns true; false when that response
 * names no user. The password next to it is never copied out.
 */
bool authview_user(const char *mech, unsigned nth, const char *resp, size_t len, char *out,
		   size_t outlen);

/*
 * Computes the nth client response (base64, appended to out) of mech for user and pass, the
 * server's challenge being the base64 text of its 334 reply (challenge may be empty: for an
 * initial response). LOGIN answers a challenge that decodes to "Username:" or "Password:",
 * otherwise by position (1 user, 2 password); CRAM-MD5 needs the challenge (RFC 2195);
 * XOAUTH2 takes pass as the bearer token. Returns 0, or -1 for another mechanism or a missing
 * or undecodable challenge (or one over SASL_CHALLENGE_MAX octets, as \auth refuses it).
 */
int authview_respond(const char *mech, unsigned nth, const char *challenge, size_t clen,
		     const char *user, const char *pass, struct buf *out);

#endif
