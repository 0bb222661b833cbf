/*
 * What reply codes mean, as data (pure, no I/O): the basic codes of RFC 5321 4.2 and its
 * extensions, the enhanced status codes of RFC 3463 and the IANA "SMTP Enhanced Status
 * Codes" registry, and a table of hints for the failures people search for (bad
 * credentials, app passwords, SMTP AUTH disabled at Office 365, relay denied...).
 */
#ifndef SMTPSH_CODES_H
#define SMTPSH_CODES_H

#include <stdbool.h>
#include <stddef.h>

#include "smtpsh/buf.h"

/* An enhanced status code "class.subject.detail" (5.7.1). */
struct enh_code {
	int cls;     /* 2, 4 or 5 */
	int subject; /* 0..999 */
	int detail;  /* 0..999 */
};

/*
 * Parses an enhanced status code at the start of text[0..len): class 2, 4 or 5, a subject and
 * a detail of 1 to 3 digits, then a blank or the end. Returns the bytes it covers (0: none).
 */
size_t codes_parse_enhanced(const char *text, size_t len, struct enh_code *out);

/*
 * Parses a reply line "550-5.1.1 text" / "550 5.1.1 text" / "250 ok": the code, and the
 * enhanced code when the text starts with one (*has_enh). Returns false when the line does not
 * start with a reply code [2-5][0-9][0-9].
 */
bool codes_parse_reply_line(const char *line, size_t len, int *code, struct enh_code *enh,
			    bool *has_enh);

/* The meaning of a basic code in the table ("mailbox unavailable"), or NULL. */
const char *codes_basic(int code);
/* What the first digit of a code says: 2 "success", 3 "intermediate", 4 "temporary failure",
   5 "permanent failure"; NULL for other digits. */
const char *codes_basic_class(int code);

/* Enhanced codes: the class ("permanent failure"), subject ("security or policy status") and
   detail ("delivery not authorized, message refused"); NULL when unknown. */
const char *codes_enh_class(int cls);
const char *codes_enh_subject(int subject);
const char *codes_enh_detail(int subject, int detail);

/*
 * One line to put beside a reply for --explain: "permanent failure: mailbox unavailable;
 * 5.1.1 bad destination mailbox address". enh may be NULL. Appends to out.
 */
void codes_brief(int code, const struct enh_code *enh, struct buf *out);

/*
 * The explanation of one code for \explain: a basic code ("451") or an enhanced code ("5.7.1"),
 * several lines, with the hints known for it. Returns 0, or -1 (nothing appended) when arg is
 * neither.
 */
int codes_explain(const char *arg, struct buf *out);

/*
 * The explanation of a reply's code pair for \explain 550 5.7.1, short enough for a 24-line
 * screen: one heading, what each code adds, then the advice a reply with both codes can get,
 * each piece of advice once; the full lists of each code are codes_explain's. Returns 0, or -1
 * (nothing appended) when the two are not a basic code and an enhanced code of the same class.
 */
int codes_explain_pair(const char *basic_code, const char *enhanced_code, struct buf *out);

/* A hint: what to do about a failure, matched on the reply. */
struct code_hint {
	int code;	  /* the basic code */
	const char *enh;  /* the enhanced code ("5.7.8"), or NULL for any (or none) */
	const char *verb; /* the command the reply answers ("AUTH"), or NULL for any */
	const char *text; /* a piece of the reply text (ASCII, case-insensitive), or NULL */
	const char *hint;
};

extern const struct code_hint code_hints[];
extern const size_t code_hint_count;

/*
 * The first hint of the table whose fields all match a reply: its code, its enhanced code
 * (enh NULL when the reply has none), the verb of the command it answers (NULL: unknown), and
 * its text (all lines, text[0..len), any bytes). NULL when none matches.
 */
const struct code_hint *codes_hint(int code, const struct enh_code *enh, const char *verb,
				   const char *text, size_t len);

#endif
