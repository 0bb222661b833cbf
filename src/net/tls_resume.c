#include "smtpsh/tls_resume.h"

/* The ex_data slot of SSL_CTX that holds the struct tls_resume (smtpsh is single-threaded). */
static int resume_index = -1;

static struct tls_resume *resume_of(SSL_CTX *ctx)
{
	return resume_index >= 0 ? SSL_CTX_get_ex_data(ctx, resume_index) : NULL;
}

/* OpenSSL's new-session callback: returning 1 keeps the reference it gives us. */
static int on_new_session(SSL *ssl, SSL_SESSION *sess)
{
	struct tls_resume *r = resume_of(SSL_get_SSL_CTX(ssl));
	if (!r || !r->sink)
		return 0;
	r->sink(r->arg, sess);
	return 1;
}

void tls_resume_attach(SSL_CTX *ctx, struct tls_resume *r)
{
	if (resume_index < 0)
		resume_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	if (resume_index < 0)
		return;
	SSL_CTX_set_ex_data(ctx, resume_index, r);
	SSL_CTX_set_session_cache_mode(ctx,
				       SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, on_new_session);
}

void tls_resume_apply(SSL_CTX *ctx, SSL *ssl)
{
	struct tls_resume *r = resume_of(ctx);
	if (r && r->offer)
		SSL_set_session(ssl, r->offer);
}
