#!/usr/bin/python3
"""\\auth and \\send against scripted servers (tests/hostile/server.py) for what the real
Postfix cannot show: XOAUTH2 (the exact initial response; the error challenge decoded and
answered with an empty line), OAUTHBEARER (RFC 7628: GS2 header, host and port; the error
answered with ^A), a bad CRAM-MD5 challenge (cancelled with "*"), SIZE exceeded (nothing sent),
a server without 8BITMIME (the 8-bit body goes base64) or SMTPUTF8 (refused), SIZE= equal
to the octets of the message, and --send refused at the end of DATA (exit 1).

Usage: PYTHONPATH=tests/lib /usr/bin/python3 tests/integration/test_send_scripted.py [NAME...]
"""

import base64
import os
import re
import sys

sys.dont_write_bytecode = True
from harness import SmtpshTestCase
from smtpshtest import auth_plain, make_cert, run_smtpsh, tap_main

USER = "someuser@example.com"
TOKEN = "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"
IR = "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhk" \
     "SFJoZG1semRHRXVZMjl0Q2cBAQ=="
# OAUTHBEARER (RFC 7628 3.1) to 127.0.0.1: the GS2 header, host= and port= (filled in per test)
def oauthbearer_ir(port):
    return base64.b64encode(("n,a=%s,\x01host=127.0.0.1\x01port=%d\x01auth=Bearer %s\x01\x01"
                             % (USER, port, TOKEN)).encode()).decode()


ERROR_JSON = base64.b64encode(b'{"status":"401","schemes":"bearer","scope":'
                              b'"https://mail.google.com/"}').decode()

GREET = "send 220 scripted.test ESMTP\\r\\n\nexpect EHLO .*\n"


def caps(*lines):
    """A script step sending an EHLO reply that lists lines."""
    out = ["250-scripted.test"] + ["250-" + l for l in lines[:-1]] + ["250 " + lines[-1]]
    return "send " + "\\r\\n".join(out) + "\\r\\n\n"


QUIT = "expect QUIT\nsend 221 bye\\r\\n\n"



class Scripted(SmtpshTestCase):

    def assert_line_starts(self, r, start):
        """A stdout line starts with start (a hint may follow beside a reply)."""
        self.assertTrue(any(l.startswith(start) for l in self.stdout_lines(r)),
                        "no stdout line starting with %r: %r" % (start, r))

    def run_script(self, script, stdin, args=(), env=None):
        srv = self.server(script, text=True)
        argv = ["--timeout", "5"] + list(args) + ["127.0.0.1", str(srv.port)]
        e = {"SMTPSH_PASSWORD": "", "SMTPSH_OAUTH_TOKEN": ""}
        e.update(env or {})
        r = run_smtpsh(argv, stdin=stdin.encode(), timeout=20, env=e, home=self.tmp, cwd=self.tmp)
        self.assert_no_crash(r)
        return srv, r

    def test_xoauth2_initial_response_exact(self):
        """\\auth with a token command picks XOAUTH2 and sends the exact initial response"""
        script = (GREET + caps("AUTH PLAIN LOGIN XOAUTH2", "8BITMIME")
                  + "expect AUTH XOAUTH2 %s\nsend 235 2.7.0 Accepted\\r\\n\n" % re.escape(IR)
                  + QUIT)
        srv, r = self.run_script(script, "EHLO c\n\\auth %s\nQUIT\n" % USER,
                                 ["--oauth-token-command", "printf '%s\\n' " + TOKEN])
        self.assert_exit(r, 0)
        self.assert_server_ok(srv, r)
        self.assert_line(r, "-> AUTH XOAUTH2 <redacted>")
        self.assert_line_starts(r, "<- 235 2.7.0 Accepted")
        self.assertNotIn(TOKEN, r.out() + r.err())
        self.assertNotIn(IR, r.out() + r.err())

    def test_xoauth2_token_from_environment(self):
        """SMTPSH_OAUTH_TOKEN and \\auth XOAUTH2 USER"""
        script = (GREET + caps("AUTH XOAUTH2")
                  + "expect AUTH XOAUTH2 %s\nsend 235 ok\\r\\n\n" % re.escape(IR) + QUIT)
        srv, r = self.run_script(script, "EHLO c\n\\auth xoauth2 %s\nQUIT\n" % USER,
                                 env={"SMTPSH_OAUTH_TOKEN": TOKEN})
        self.assert_exit(r, 0)
        self.assert_server_ok(srv, r)
        self.assertIn("*  the token from SMTPSH_OAUTH_TOKEN", r.out())

    def test_xoauth2_error_challenge(self):
        """a 334 error to XOAUTH2 is answered with an empty line; the 535 is shown"""
        script = (GREET + caps("AUTH XOAUTH2")
                  + "expect AUTH XOAUTH2 %s\n" % re.escape(IR)
                  + "send 334 %s\\r\\n\n" % ERROR_JSON
                  + "expect \nsend 535 5.7.8 Username and Password not accepted\\r\\n\n"
                  + "expect NOOP\nsend 250 ok\\r\\n\n" + QUIT)
        srv, r = self.run_script(script, "EHLO c\n\\auth XOAUTH2 %s\nNOOP\nQUIT\n" % USER,
                                 ["--oauth-token-command", "echo " + TOKEN])
        self.assert_exit(r, 0)
        self.assert_server_ok(srv, r)
        # the 334 with its decoded JSON beside it (the renderer's annotation), then the 535
        self.assert_line(r, "<- 334 %s  \t[%s]" % (ERROR_JSON,
                                                   base64.b64decode(ERROR_JSON).decode()))
        self.assert_line(r, "-> ")
        self.assert_line_starts(r, "<- 535 5.7.8 Username and Password not accepted")
        self.assertIn("refused the token: status 401, scope https://mail.google.com/, "
                      "schemes bearer (", r.out())
        self.assertIn("usual causes:", r.out())

    def test_oauthbearer_exact_and_error(self):
        """OAUTHBEARER: the exact GS2 initial response with host= and port=; the 334 error is
        decoded (status, scope, schemes) and answered with a lone ^A (RFC 7628 3.2.3)"""
        script = (GREET + caps("AUTH XOAUTH2 OAUTHBEARER")
                  + "expect AUTH OAUTHBEARER [A-Za-z0-9+/=]+\n"
                  + "send 334 %s\\r\\n\n" % ERROR_JSON
                  + "expect AQ==\nsend 535 5.7.8 Username and Password not accepted\\r\\n\n"
                  + "expect NOOP\nsend 250 ok\\r\\n\n" + QUIT)
        srv, r = self.run_script(script, "EHLO c\n\\auth OAUTHBEARER %s\nNOOP\nQUIT\n" % USER,
                                 env={"SMTPSH_OAUTH_TOKEN": TOKEN})
        self.assert_exit(r, 0)
        self.assert_server_ok(srv, r)
        self.assertIn(("AUTH OAUTHBEARER %s\r\n" % oauthbearer_ir(srv.port)).encode(),
                      srv.record())
        self.assert_line(r, "-> AUTH OAUTHBEARER <redacted>")
        self.assertIn("the server refused the token: status 401, scope "
                      "https://mail.google.com/, schemes bearer", r.out())
        self.assertIn("a lone ^A (AQ==) asks for the final reply", r.out())
        self.assertNotIn(TOKEN, r.out() + r.err())

    def test_xoauth2_not_chosen_without_token(self):
        """no token source: \\auth picks PLAIN even if XOAUTH2 is offered"""
        plain = auth_plain("u", "pw")
        script = (GREET + caps("AUTH XOAUTH2 PLAIN")
                  + "expect AUTH PLAIN %s\nsend 235 ok\\r\\n\n" % re.escape(plain) + QUIT)
        srv, r = self.run_script(script, "EHLO c\n\\auth u\nQUIT\n",
                                 ["--password-command", "echo pw"])
        self.assert_exit(r, 0)
        self.assert_server_ok(srv, r)

    def test_cram_md5_bad_challenge_cancelled(self):
        """a CRAM-MD5 challenge that is not base64: "*" cancels, the 501 is shown"""
        script = (GREET + caps("AUTH CRAM-MD5") + "expect AUTH CRAM-MD5\n"
                  + "send 334 !!not\\x1b[31mbase64\\r\\n\nexpect \\*\n"
                  + "send 501 5.7.0 cancelled\\r\\n\n" + QUIT)
        srv, r = self.run_script(script, "EHLO c\n\\auth CRAM-MD5 u\nQUIT\n",
                                 ["--password-command", "echo pw"])
        self.assert_exit(r, 0)
        self.assert_server_ok(srv, r)
        self.assert_diag(r, "warning", "cancelling the AUTH exchange: the CRAM-MD5 challenge "
                                       "is not valid base64")
        self.assert_line(r, "-> *")

    def test_login_with_aiosmtpd_style_prompts(self):
        """AUTH LOGIN: answers go by order, whatever the prompts say"""
        script = (GREET + caps("AUTH LOGIN") + "expect AUTH LOGIN\n"
                  + "send 334 VXNlciBOYW1lAA==\\r\\n\nexpect dQ==\n"
                  + "send 334 UGFzc3dvcmQA\\r\\n\nexpect cHc=\nsend 235 ok\\r\\n\n" + QUIT)
        srv, r = self.run_script(script, "EHLO c\n\\auth LOGIN u\nQUIT\n",
                                 ["--password-command", "echo pw"])
        self.assert_exit(r, 0)
        self.assert_server_ok(srv, r)
        self.assert_line(r, "-> dQ==  \t[u]")  # the user name, decoded (issue 17)
        self.assert_line(r, "-> <redacted>")

    def test_size_exceeded_nothing_sent(self):
        """SIZE 1000 and a 2000-octet message: said before sending, no MAIL"""
        body = os.path.join(self.tmp, "body.txt")
        with open(body, "w") as f:
            f.write("x" * 80 + "\n" * 1 + ("y" * 99 + "\n") * 20)
        # refused as the server would refuse it: the batch goes on (its QUIT is sent)
        script = GREET + caps("SIZE 1000", "8BITMIME") + QUIT
        srv, r = self.run_script(script, "EHLO c\n\\send --from a@x.test --to b@x.test "
                                         "--body-file %s\nQUIT\n" % body)
        self.assert_exit(r, 0)
        self.assert_server_ok(srv, r)
        self.assertEqual(srv.record(), b"EHLO c\r\nQUIT\r\n")
        self.assert_diag(r, "error", r"the message is \d+ octets and the server takes at most "
                                     r"1000 \(SIZE\): not sent")

    def data_script(self, caps_text, mail_rx, nlines, final="250 2.0.0 queued"):
        """MAIL, RCPT, DATA accepted; the message must be nlines lines and the dot."""
        return (GREET + caps_text + "expect %s\nsend 250 ok\\r\\n\n" % mail_rx
                + "expect RCPT TO:<b@x\\.test>\nsend 250 ok\\r\\n\n"
                + "expect DATA\nsend 354 go ahead\\r\\n\n"
                + "expect (?!\\.$).*\n" * nlines + "expect \\.\n"
                + "send %s\\r\\n\n" % final + QUIT)

    def message_of(self, srv):
        """The message as the server got it (between 354 and the final dot, unstuffed)."""
        rec = srv.record()
        start = rec.index(b"DATA\r\n") + 6
        end = rec.index(b"\r\n.\r\n", start) + 2
        lines = rec[start:end].split(b"\r\n")
        return b"\r\n".join(l[1:] if l.startswith(b".") else l for l in lines)

    def test_no_8bitmime_body_base64(self):
        """no 8BITMIME: a warning, no BODY=, the UTF-8 body base64; SIZE= is exact"""
        script = self.data_script(caps("SIZE 100000"), r"MAIL FROM:<a@x\.test> SIZE=\d+", 10)
        srv, r = self.run_script(script, "EHLO c\n\\send --from a@x.test --to b@x.test "
                                         "--subject s --body 'gr\u00fc\u00dfe'\nQUIT\n")
        self.assert_exit(r, 0)
        self.assert_server_ok(srv, r)
        self.assert_diag(r, "warning", "does not offer 8BITMIME: it is sent base64-encoded")
        msg = self.message_of(srv)
        self.assertIn(b"Content-Transfer-Encoding: base64\r\n\r\n"
                      + base64.b64encode("gr\u00fc\u00dfe\r\n".encode()) + b"\r\n", msg)
        self.assertTrue(all(b < 0x80 for b in msg), msg)
        declared = int(re.search(rb"SIZE=(\d+)", srv.record()).group(1))
        self.assertEqual(declared, len(msg))
        self.assertIn("*  message accepted", r.out())

    def test_8bitmime_body_param(self):
        """8BITMIME offered: BODY=8BITMIME and the body as 8bit"""
        script = self.data_script(caps("8BITMIME"), r"MAIL FROM:<a@x\.test> BODY=8BITMIME", 9)
        srv, r = self.run_script(script, "EHLO c\n\\send --from a@x.test --to b@x.test "
                                         "--body 'gr\u00fc\u00dfe'\nQUIT\n")
        self.assert_exit(r, 0)
        self.assert_server_ok(srv, r)
        self.assertIn("Content-Transfer-Encoding: 8bit\r\n\r\ngr\u00fc\u00dfe\r\n".encode(),
                      self.message_of(srv))

    def test_no_smtputf8_refused(self):
        """a non-ASCII address and no SMTPUTF8: refused before MAIL"""
        script = GREET + caps("8BITMIME") + QUIT
        srv, r = self.run_script(script, "EHLO c\n\\send --from a@x.test --to "
                                         "j\u00f6rg@x.test\nQUIT\n")
        self.assert_exit(r, 0)
        self.assert_server_ok(srv, r)
        self.assertEqual(srv.record(), b"EHLO c\r\nQUIT\r\n")
        self.assert_diag(r, "error", "does not offer SMTPUTF8")

    def test_local_refusals_are_refusals(self):
        """a locally refused \\send is treated like a server's refusal: the batch goes on to
        its QUIT; with --strict it stops (exit 1); --send exits 1 (refused)"""
        script = GREET + caps("SIZE 100", "8BITMIME") + "expect NOOP\nsend 250 ok\\r\\n\n" + QUIT
        srv, r = self.run_script(script, "EHLO c\n\\send --from a@x.test --to b@x.test "
                                         "--body-file /etc/services\nNOOP\nQUIT\n")
        self.assert_exit(r, 0)
        self.assert_server_ok(srv, r)
        script = GREET + caps("SIZE 100", "8BITMIME")
        srv, r = self.run_script(script, "EHLO c\n\\send --from a@x.test --to b@x.test "
                                         "--body-file /etc/services\nNOOP\nQUIT\n",
                                 ["--strict"])
        self.assert_exit(r, 1)
        self.assert_server_ok(srv, r)
        self.assertEqual(srv.record(), b"EHLO c\r\n")
        srv = self.server(GREET.replace("EHLO .*", "EHLO localhost") + caps("8BITMIME") + QUIT,
                          text=True)
        r = run_smtpsh(["--timeout", "5", "--send", "--from", "a@x.test", "--to",
                        "j\u00f6rg@x.test", "--body", "hi", "127.0.0.1", str(srv.port)], b"",
                       timeout=20, home=self.tmp, cwd=self.tmp)
        self.assert_no_crash(r)
        self.assert_exit(r, 1)
        self.assert_server_ok(srv, r)

    def test_oneshot_refused_at_end_of_data(self):
        """--send refused after the message (554): exit 1, QUIT sent"""
        script = self.data_script(caps("8BITMIME"), r"MAIL FROM:<a@x\.test>", 9,
                                  final="554 5.7.1 rejected as spam")
        srv = self.server(script, text=True)
        r = run_smtpsh(["--timeout", "5", "--send", "--from", "a@x.test", "--to", "b@x.test",
                        "--body", "buy now", "127.0.0.1", str(srv.port)], b"", timeout=20,
                       home=self.tmp, cwd=self.tmp)
        self.assert_no_crash(r)
        self.assert_exit(r, 1)
        self.assert_server_ok(srv, r)

    def test_dot_stuffed_and_size(self):
        """a body of dots: dot-stuffed on the wire, SIZE= counts the unstuffed message"""
        body = os.path.join(self.tmp, "dots.txt")
        with open(body, "wb") as f:
            f.write(b".\n..\n.x\r\nbare\rcr\nend")
        script = self.data_script(caps("SIZE", "8BITMIME"), r"MAIL FROM:<a@x\.test> SIZE=\d+", 14)
        srv, r = self.run_script(script, "EHLO c\n\\send --from a@x.test --to b@x.test "
                                         "--body-file %s\nQUIT\n" % body)
        self.assert_exit(r, 0)
        self.assert_server_ok(srv, r)
        rec = srv.record()
        self.assertIn(b"\r\n\r\n..\r\n...\r\n..x\r\nbare\r\ncr\r\nend\r\n.\r\n", rec)
        declared = int(re.search(rb"SIZE=(\d+)", rec).group(1))
        self.assertEqual(declared, len(self.message_of(srv)))


    # Issue 12 (10c): --send --auth without --starttls to a server offering STARTTLS but no
    # AUTH in plaintext: STARTTLS is used, the password never crosses in plaintext.

    def oneshot_auth(self, script, cert):
        srv = self.server(script, text=True, defines={"CERT": cert[0], "KEY": cert[1]})
        r = run_smtpsh(["--timeout", "5", "--send", "--auth", "PLAIN", "--user", "alice",
                        "--password-command", "echo s3cret", "--cafile", cert[0],
                        "--from", "a@x.test", "--to", "b@x.test", "--body", "hi",
                        "127.0.0.1", str(srv.port)], b"", timeout=20, home=self.tmp,
                       cwd=self.tmp, env={"SMTPSH_PASSWORD": ""})
        self.assert_no_crash(r)
        return srv, r

    def test_send_auth_upgrades_with_starttls(self):
        """--send --auth: the server offers STARTTLS and no AUTH: STARTTLS, then AUTH under TLS"""
        cert = make_cert(self.tmp)
        plain = auth_plain("alice", "s3cret")
        script = (GREET + caps("STARTTLS") + "expect STARTTLS\nsend 220 go ahead\\r\\n\n"
                  "tls ${CERT} ${KEY}\nexpect EHLO .*\n" + caps("AUTH PLAIN", "8BITMIME")
                  + "expect AUTH PLAIN %s\nsend 235 ok\\r\\n\n" % re.escape(plain)
                  + "expect MAIL FROM:<a@x\\.test>.*\nsend 250 ok\\r\\n\n"
                  + "expect RCPT TO:<b@x\\.test>\nsend 250 ok\\r\\n\n"
                  + "expect DATA\nsend 354 go ahead\\r\\n\n"
                  + "expect (?!\\.$).*\n" * 9 + "expect \\.\nsend 250 queued\\r\\n\n" + QUIT)
        srv, r = self.oneshot_auth(script, cert)
        self.assert_exit(r, 0)
        self.assert_server_ok(srv, r)
        self.assertIn("the server offers STARTTLS: using it before AUTH", r.out())
        self.assertIn("~> AUTH PLAIN <redacted>", r.out())
        rec = srv.record()
        self.assertLess(rec.index(b"STARTTLS\r\n"), rec.index(b"AUTH PLAIN"))
        self.assertNotIn("s3cret", r.out() + r.err())

    def test_send_auth_mechanism_not_offered_refused(self):
        """--send --auth PLAIN, AUTH PLAIN not offered even under TLS: refused, nothing sent"""
        cert = make_cert(self.tmp)
        script = (GREET + caps("STARTTLS") + "expect STARTTLS\nsend 220 go ahead\\r\\n\n"
                  "tls ${CERT} ${KEY}\nexpect EHLO .*\n" + caps("AUTH LOGIN", "8BITMIME")
                  + QUIT)
        srv, r = self.oneshot_auth(script, cert)
        self.assertNotEqual(r.rc, 0, r)
        self.assert_server_ok(srv, r)
        self.assert_diag(r, "error", r"the server does not offer PLAIN \(it offers: LOGIN\): "
                                     r"nothing sent")
        self.assertNotIn(b"AUTH", srv.record())

    def test_send_auth_starttls_refused_stops(self):
        """--send --auth: STARTTLS offered but refused (454): exit 4, no AUTH"""
        cert = make_cert(self.tmp)
        script = (GREET + caps("STARTTLS") + "expect STARTTLS\nsend 454 not now\\r\\n\n"
                  + QUIT)
        srv, r = self.oneshot_auth(script, cert)
        self.assert_exit(r, 4)
        self.assert_server_ok(srv, r)
        self.assertNotIn(b"AUTH", srv.record())
        self.assert_diag(r, "error", r"STARTTLS failed: not logging in")

    def test_auth_not_advertised_refused_in_plaintext(self):
        """\\auth PLAIN to a loopback server offering STARTTLS and no AUTH: refused, says why"""
        script = GREET + caps("STARTTLS") + "wait-close\n"
        srv, r = self.run_script(script, "EHLO c\n\\auth PLAIN alice\nQUIT\n",
                                 args=["--password-command", "echo s3cret"])
        self.assert_exit(r, 2)  # a batch stops at a refused local command
        self.assert_server_ok(srv, r)
        self.assert_diag(r, "error", r"the server does not offer PLAIN here \(STARTTLS first\?\): "
                                     r"nothing sent \(type AUTH PLAIN to try it by hand\)")
        self.assertNotIn(b"AUTH", srv.record())

if __name__ == "__main__":
    tap_main()
