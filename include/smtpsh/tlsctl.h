/*
 * The TLS controls an admin debugs with (issue 20): the protocol versions offered, the cipher
 * lists, the key exchange groups, SNI, a client certificate. One table of names serves the
 * command line (--tls-min...), \connect's flags and the profile keys, so they cannot drift.
 * Parsing and the words for a failed handshake are pure: no connection is needed to test them.
 */
#ifndef SMTPSH_TLSCTL_H
#define SMTPSH_TLSCTL_H

#include <stdbool.h>
#include <stddef.h>

#include "smtpsh/buf.h"

/* What the user asked for; 0 / NULL / false: OpenSSL's choice (TLS 1.2 at least). The strings
   are not copied by tls_control_set: they belong to the caller (argv, a profile set). */
struct tls_controls {
	int min_version;	  /* TLS1_VERSION..TLS1_3_VERSION (OpenSSL's numbers); 0: TLS 1.2 */
	int max_version;	  /* 0: the highest OpenSSL speaks */
	const char *ciphers;	  /* TLS 1.2 and below (SSL_CTX_set_cipher_list) */
	const char *ciphersuites; /* TLS 1.3 (SSL_CTX_set_ciphersuites) */
	const char *groups;	  /* key exchange groups (SSL_CTX_set1_groups_list) */
	const char *cert;	  /* client certificate (PEM, may hold the chain) */
	const char *key;	  /* its private key (PEM); NULL: in cert's file */
	const char *key_password_command; /* prints the key's passphrase */
	bool no_sni;			  /* send no server name (the name is still checked) */
};

/*
 * Asks for the passphrase of an encrypted client key (keyfile; command: --key-password-command,
 * or NULL to ask on the terminal): writes it NUL-terminated to buf and returns its length, or
 * returns -1 with one line in err.
 */
typedef int (*tls_passphrase_fn)(const char *keyfile, const char *command, char *buf, size_t size,
				 char *err, size_t errlen, void *arg);

/* The options: "--tls-min", "--tls-max", "--ciphers", "--ciphersuites", "--groups",
   "--no-sni", "--cert", "--key", "--key-password-command"; NULL-terminated. Without the "--"
   (name + 2) each is the name of a control: a profile key, what tls_control_set takes. */
extern const char *const tls_control_flags[];

/* 1: name takes a value; 0: a flag (no-sni); -1: not a TLS control. */
int tls_control_arity(const char *name);

/*
 * Sets the control called name (see tls_control_flags) to value (NULL for a flag). A bad value
 * (a version that is not 1.0, 1.1, 1.2 or 1.3, a cipher list or group list OpenSSL does not
 * take) returns -1 with one line in err naming the control.
 */
int tls_control_set(struct tls_controls *t, const char *name, const char *value, char *err,
		    size_t errlen);

/* What cannot go together (--tls-min above --tls-max, --key without --cert...): -1 with one
   line in err, else 0. */
int tls_controls_check(const struct tls_controls *t, char *err, size_t errlen);

/* Lays over on top of t: each control over sets (a version, a string, no-sni) wins; the
   strings are not copied (the command line's over a profile's, in smtpsh and \connect). */
void tls_controls_overlay(struct tls_controls *t, const struct tls_controls *over);

/* Same controls (strings compared by content)? */
bool tls_controls_equal(const struct tls_controls *a, const struct tls_controls *b);

/* "1.0".."1.3" for an OpenSSL version number, "?" else. */
const char *tls_version_name(int version);

/*
 * Why a handshake failed, in words, with what to try. What is known of the failure:
 * reason: ERR_GET_REASON of OpenSSL's first error (0: none); alert: the alert the server sent
 * (its description byte, -1: none); server_version: the version of the ServerHello (0: none
 * arrived); closed: the server closed the connection. Appends one line (no newline) to out.
 */
struct tls_failure {
	int reason;
	int alert;
	int server_version;
	bool closed;
	const char *reason_text; /* OpenSSL's words for reason, or NULL */
	const char *alert_text;	 /* SSL_alert_desc_string_long of alert, or NULL */
};
void tls_failure_words(const struct tls_failure *f, const struct tls_controls *t, struct buf *out);

#endif
