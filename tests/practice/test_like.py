#!/usr/bin/python3
"""smtpsh --serve --like PROVIDER (issue 17): the practice server answers like a provider's
submission server. Python's smtplib, a third-party client, gets each provider's own codes and
texts for each misstep (MAIL before STARTTLS, AUTH before STARTTLS, MAIL before AUTH, a wrong
password, the app-password, basic-auth and sendas-denied faults), with the reason after them;
without --like a failed AUTH makes MAIL answer 530; a command after STARTTLS without EHLO is
told to EHLO again. --serve --tls and --tls-port: implicit TLS with smtplib.SMTP_SSL and with
smtpsh --tls, STARTTLS on the other port at the same time.

Usage: PYTHONPATH=tests/lib /usr/bin/python3 tests/practice/test_like.py [PATH/TO/smtpsh] [NAME...]
Prints TAP.
"""

import base64
import os
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
from smtpshtest import run_smtpsh, tap_main, token, wait_in_maildir
from practicelib import Serve
import curated

WORK = tempfile.mkdtemp(prefix="smtpsh-like-test-")
SRV = None  # --serve 0 --like gmail --tls-port 0: both ports


def setUpModule():
    global SRV
    SRV = Serve(os.path.join(WORK, "Maildir"), ["--like", "gmail", "--tls-port", "0"])


def tearDownModule():
    if SRV:
        SRV.stop()
    shutil.rmtree(WORK, ignore_errors=True)


def app_password(srv):
    return re.search(r"app password (\S+) ", srv.out.text()).group(1)


def tls_port(srv):
    m = re.search(r"practice server on \S+ port (\d+).*: implicit TLS", srv.out.text())
    return int(m.group(1))


# Each provider's words: the code and the start of the reply's text (smtplib joins the lines
# of a reply with "\n" and strips their codes).
EXPECT = {
    "office365": {
        "auth": ["LOGIN", "XOAUTH2"],
        "unknown_mech": (504, "5.7.4 Unrecognized authentication type"
                               " (smtp.office365.com offers AUTH LOGIN XOAUTH2)"),
        "greeting": (220, "smtp.office365.com Microsoft ESMTP MAIL Service ready"),
        "mail_before_tls": (530, "5.7.57 Client not authenticated to send mail"),
        "auth_before_tls": (504, "5.7.4 Unrecognized authentication type"),
        "mail_before_auth": (530, "5.7.57 Client not authenticated to send mail"),
        "wrong_password": (535, "5.7.3 Authentication unsuccessful (wrong password)"),
        "app_password": (535, "5.7.139 Authentication unsuccessful, the request did not meet"),
        "basic_auth_off": (550, "5.7.30 Basic authentication is not supported for Client "
                                "Submission."),
    },
    "outlook": {
        "auth": ["LOGIN", "XOAUTH2"],
        "unknown_mech": (504, "5.7.4 Unrecognized authentication type"
                               " (smtp-mail.outlook.com offers AUTH LOGIN XOAUTH2)"),
        "greeting": (220, "smtp-mail.outlook.com Microsoft ESMTP MAIL Service ready"),
        "mail_before_tls": (530, "5.7.57 Client not authenticated to send mail"),
        "auth_before_tls": (504, "5.7.4 Unrecognized authentication type"),
        "mail_before_auth": (530, "5.7.57 Client not authenticated to send mail"),
        "wrong_password": (535, "5.7.3 Authentication unsuccessful (wrong password)"),
        "app_password": (535, "5.7.139 Authentication unsuccessful, the request did not meet"),
        "basic_auth_off": (535, "5.7.139 Authentication unsuccessful, basic authentication is "
                                "disabled."),
    },
    "gmail": {
        "auth": ["LOGIN", "PLAIN", "XOAUTH2", "OAUTHBEARER"],
        "unknown_mech": (504, "5.7.4 Unrecognized Authentication Type practice - gsmtp"
                               " (smtp.gmail.com offers AUTH LOGIN PLAIN XOAUTH2 OAUTHBEARER)"),
        "greeting": (220, "smtp.gmail.com ESMTP practice - gsmtp"),
        "mail_before_tls": (530, "5.7.0 Must issue a STARTTLS command first."),
        "auth_before_tls": (530, "5.7.0 Must issue a STARTTLS command first."),
        "mail_before_auth": (530, "5.7.0 Authentication Required. For more information"),
        "wrong_password": (535, "5.7.8 Username and Password not accepted."),
        "app_password": (534, "5.7.9 Application-specific password required."),
        "basic_auth_off": (534, "5.7.14 Please log in with your web browser"),
    },
    "aol": {
        "auth": ["PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER"],
        "unknown_mech": (504, "5.5.4 Unrecognized authentication type"
                               " (smtp.aol.com offers AUTH PLAIN LOGIN XOAUTH2 OAUTHBEARER)"),
        "greeting": (220, "smtp.aol.com ESMTP ready"),
        "mail_before_tls": (530, "5.7.0 Must issue a STARTTLS command first"),
        "auth_before_tls": (538, "5.7.11 Encryption required"),
        "mail_before_auth": (530, "5.7.1 Authentication required"),
        "wrong_password": (535, "5.7.0 (#AUTH005) Too many bad auth attempts. (wrong password)"),
        "app_password": (535, "5.7.0 (#AUTH005) Too many bad auth attempts. (the account "
                              "password was sent"),
        "basic_auth_off": (535, "5.7.0 (#AUTH005) Too many bad auth attempts."),
    },
    "yahoo": {
        "auth": ["PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER"],
        "unknown_mech": (504, "5.5.4 Unrecognized authentication type"
                               " (smtp.mail.yahoo.com offers AUTH PLAIN LOGIN XOAUTH2 "
                               "OAUTHBEARER)"),
        "greeting": (220, "smtp.mail.yahoo.com ESMTP ready"),
        "mail_before_tls": (530, "5.7.0 Must issue a STARTTLS command first"),
        "auth_before_tls": (538, "5.7.11 Encryption required"),
        "mail_before_auth": (530, "5.7.1 Authentication required"),
        "wrong_password": (535, "5.7.0 (#AUTH005) Too many bad auth attempts. (wrong password)"),
        "app_password": (535, "5.7.0 (#AUTH005) Too many bad auth attempts."),
        "basic_auth_off": (535, "5.7.0 (#AUTH005) Too many bad auth attempts."),
    },
    "icloud": {
        "auth": ["LOGIN", "PLAIN"],
        "unknown_mech": (504, "5.5.4 Unrecognized authentication type"
                               " (smtp.mail.me.com offers AUTH LOGIN PLAIN)"),
        "greeting": (220, "smtp.mail.me.com ESMTP"),
        "mail_before_tls": (530, "5.7.0 Must issue a STARTTLS command first"),
        "auth_before_tls": (538, "5.7.11 Encryption required"),
        "mail_before_auth": (530, "5.7.0 Authentication required"),
        "wrong_password": (535, "5.7.8 Authentication failed (wrong password)"),
        "app_password": (535, "5.7.8 Authentication failed"),
        "basic_auth_off": (535, "5.7.8 Authentication failed"),
    },
}


def plain(user, password):
    return base64.b64encode(("\0%s\0%s" % (user, password)).encode()).decode()


def b64(text):
    return base64.b64encode(text.encode()).decode()


def login(s, mechs, user, password):
    """AUTH with the first of PLAIN or LOGIN the provider offers (Office 365 has no PLAIN):
    the final reply"""
    if "PLAIN" in mechs:
        return s.docmd("AUTH", "PLAIN " + plain(user, password))
    code, text = s.docmd("AUTH", "LOGIN " + b64(user))
    if code != 334:
        return code, text
    return s.docmd(b64(password))


class Providers(unittest.TestCase):

    def setUp(self):
        SRV.control("reset", r"back to their defaults")

    def assertReply(self, got, want, what):
        code, text = got
        text = text.decode("utf-8", "replace")
        self.assertEqual((code, text[:len(want[1])] if code == want[0] else text),
                         want, "%s: %d %s" % (what, code, text))

    def test_each_provider(self):
        """smtplib gets each provider's code and text for each misstep"""
        ctx = ssl.create_default_context(cafile=SRV.cafile)
        app = app_password(SRV)
        for provider, want in EXPECT.items():
            with self.subTest(provider=provider):
                SRV.control("like " + provider, r"like +%s" % provider)
                s = smtplib.SMTP(local_hostname="client.test", timeout=10)
                self.assertReply(s.connect("localhost", SRV.port), want["greeting"],
                                 "greeting")
                s._host = "localhost"  # connect() alone leaves the name STARTTLS checks
                s.ehlo()
                self.assertFalse(s.has_extn("auth"), "no AUTH before STARTTLS")
                self.assertReply(s.docmd("MAIL", "FROM:<student@example.test>"),
                                 want["mail_before_tls"], "MAIL before STARTTLS")
                self.assertReply(s.docmd("AUTH", "PLAIN " + plain(SRV.user, SRV.password)),
                                 want["auth_before_tls"], "AUTH before STARTTLS")
                s.starttls(context=ctx)
                # RFC 3207 4.2: the reply says EHLO is needed again
                code, text = s.docmd("MAIL", "FROM:<student@example.test>")
                self.assertEqual((code, text.decode()),
                                 (503, "5.5.1 Error: send EHLO again after STARTTLS (RFC "
                                       "3207 4.2: the session starts over under TLS)"))
                s.ehlo()
                # the provider's own AUTH line, less what the practice server cannot do
                mechs = s.esmtp_features["auth"].split()
                self.assertEqual(mechs, want["auth"])
                # a mechanism the provider does not offer: its refusal, and what it offers
                for mech in ("CRAM-MD5",) + (() if "PLAIN" in mechs else ("PLAIN",)):
                    got = s.docmd("AUTH", mech + " " + plain(SRV.user, SRV.password))
                    self.assertEqual((got[0], got[1].decode()), want["unknown_mech"], mech)
                self.assertReply(s.docmd("MAIL", "FROM:<student@example.test>"),
                                 want["mail_before_auth"], "MAIL before AUTH")
                got = login(s, mechs, SRV.user, "wrong-" + SRV.password)
                self.assertReply(got, want["wrong_password"], "wrong password")
                self.assertTrue(got[1].decode().endswith("(wrong password)"),
                                "the reason after the provider's words: %r" % got[1])
                self.assertNotIn(SRV.password, got[1].decode(), "nothing typed is echoed")
                SRV.control("app-password on", r"app-password +on")
                self.assertReply(login(s, mechs, SRV.user, SRV.password),
                                 want["app_password"], "app-password on, account password")
                SRV.control("basic-auth off", r"basic-auth +off")
                self.assertReply(login(s, mechs, SRV.user, app),
                                 want["basic_auth_off"], "basic-auth off")
                SRV.control("basic-auth on", r"basic-auth +on")
                code, _ = login(s, mechs, SRV.user, app)
                self.assertEqual(code, 235, "the app password logs in")
                code, _ = s.docmd("MAIL", "FROM:<student@example.test>")
                self.assertEqual(code, 250)
                s.quit()
                SRV.control("reset", r"back to their defaults")

    def test_sendas_denied(self):
        """sendas-denied: Office 365 refuses after the message (554 5.2.0 SendAsDenied),
        gmail at MAIL (553 5.7.1); the user's own address passes"""
        ctx = ssl.create_default_context(cafile=SRV.cafile)
        for provider, step, code, text in (
                ("office365", "data", 554,
                 "5.2.0 STOREDRV.Submission.Exception:SendAsDeniedException."
                 "MapiExceptionSendAsDenied;"),
                ("gmail", "mail", 553, "5.7.1 Sender address rejected: not owned by the "
                                       "logged-in user (sendas-denied on")):
            with self.subTest(provider=provider):
                SRV.control("like " + provider, r"like +%s" % provider)
                SRV.control("sendas-denied on", r"sendas-denied +on")
                with smtplib.SMTP("localhost", SRV.port, local_hostname="client.test",
                                  timeout=10) as s:
                    s.starttls(context=ctx)
                    s.login(SRV.user, SRV.password)
                    with self.assertRaises((smtplib.SMTPDataError,
                                            smtplib.SMTPSenderRefused)) as cm:
                        s.sendmail("boss@example.test", ["x@example.test"],
                                   b"Subject: as someone else\r\n\r\nhi\r\n")
                    self.assertEqual(cm.exception.smtp_code, code)
                    self.assertTrue(cm.exception.smtp_error.decode().startswith(text),
                                    cm.exception.smtp_error)
                    if step == "data":
                        self.assertIsInstance(cm.exception, smtplib.SMTPDataError)
                    tok = token()
                    s.sendmail("student@example.test", ["x@example.test"],
                               ("Subject: %s\r\n\r\nmine\r\n" % tok).encode())
                    wait_in_maildir(SRV.maildir, tok, 10, SRV.describe)
                SRV.control("reset", r"back to their defaults")


class Swaks(unittest.TestCase):

    def test_office365_with_swaks(self):
        """swaks on the STARTTLS port: Office 365's 535 5.7.3 for a wrong password, with
        the reason; with the right one, the message is stored"""
        SRV.control("like office365", r"like +office365")
        self.addCleanup(SRV.control, "reset", r"back to their defaults")
        base = ["/usr/bin/swaks", "--server", "localhost", "--port", str(SRV.port),
                "--helo", "client.test", "--from", "student@example.test",
                "--to", "teacher@example.test", "--tls", "--tls-verify", "--tls-ca-path",
                SRV.cafile, "--auth", "LOGIN", "--auth-user", SRV.user]
        p = subprocess.run(base + ["--auth-password", "not-" + SRV.password],
                           capture_output=True, timeout=30)
        out = p.stdout.decode("utf-8", "replace")
        self.assertNotEqual(p.returncode, 0, out)
        self.assertIn("<~* 535 5.7.3 Authentication unsuccessful (wrong password)", out)
        tok = token()
        p = subprocess.run(base + ["--auth-password", SRV.password, "--header",
                                   "Subject: " + tok], capture_output=True, timeout=30)
        out = p.stdout.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 0, out)
        self.assertIn("<-  220 smtp.office365.com Microsoft ESMTP MAIL Service ready", out)
        wait_in_maildir(SRV.maildir, tok, 10, SRV.describe)


class WithoutLike(unittest.TestCase):

    def test_failed_auth_then_mail(self):
        """no --like: after a failed AUTH, MAIL gets 530 5.7.0 until an AUTH succeeds
        (auth-required is off); the failed login says why"""
        SRV.control("like off", r"like +off")
        ctx = ssl.create_default_context(cafile=SRV.cafile)
        with smtplib.SMTP("localhost", SRV.port, local_hostname="client.test", timeout=10) as s:
            s.starttls(context=ctx)
            s.ehlo()
            code, text = s.docmd("MAIL", "FROM:<s@client.test>")
            self.assertEqual(code, 250, "auth-required off: MAIL passes before any AUTH")
            s.rset()
            code, text = s.docmd("AUTH", "PLAIN " + plain("nobody", SRV.password))
            self.assertEqual((code, text.decode()),
                             (535, "5.7.8 Authentication credentials invalid (unknown user "
                                   "name)"))
            code, text = s.docmd("AUTH", "PLAIN " + base64.b64encode(
                ("%s\0%s" % (SRV.user, SRV.password)).encode()).decode())
            self.assertEqual(code, 535)
            self.assertIn("needs two NUL separators", text.decode())
            self.assertNotIn(SRV.password, text.decode())
            code, text = s.docmd("MAIL", "FROM:<s@client.test>")
            self.assertEqual((code, text.decode()),
                             (530, "5.7.0 Authentication required (the last AUTH failed: log "
                                   "in before MAIL)"))
            s.login(SRV.user, SRV.password)
            code, _ = s.docmd("MAIL", "FROM:<s@client.test>")
            self.assertEqual(code, 250, "after a successful AUTH, MAIL passes")


class ImplicitTls(unittest.TestCase):

    def test_both_ports_at_once(self):
        """--like gmail --tls-port: STARTTLS on one port, implicit TLS on the other, the
        startup lines say which is which; SMTP_SSL delivers on the implicit one"""
        text = SRV.out.text()
        self.assertRegex(text, r"port %d \(loopback only\): plaintext, then STARTTLS \(port "
                               r"587 style\)" % SRV.port)
        self.assertRegex(text, r"port %d \(loopback only\): implicit TLS from the first byte "
                               r"\(port 465 style\)" % tls_port(SRV))
        self.assertIn("answering like gmail (smtp.gmail.com)", text)
        ctx = ssl.create_default_context(cafile=SRV.cafile)
        tok = token()
        with smtplib.SMTP_SSL("localhost", tls_port(SRV), local_hostname="client.test",
                              context=ctx, timeout=10) as s:
            s.ehlo()
            self.assertFalse(s.has_extn("starttls"), "no STARTTLS under TLS")
            self.assertIn("LOGIN", s.esmtp_features["auth"])
            s.login(SRV.user, SRV.password)
            s.sendmail("student@example.test", ["x@example.test"],
                       ("Subject: %s\r\n\r\nover 465\r\n" % tok).encode())
        wait_in_maildir(SRV.maildir, tok, 10, SRV.describe)

    def test_serve_tls_with_smtpsh(self):
        """--serve --tls: the one port speaks TLS from the first byte; smtpsh --tls verifies
        it with the printed CA and logs in"""
        srv = Serve(os.path.join(WORK, "Maildir-tls"), ["--tls"])
        try:
            self.assertIn("implicit TLS from the first byte", srv.out.text())
            self.assertNotIn("then STARTTLS", srv.out.text())
            # a plaintext client gets no greeting: the server waits for a TLS ClientHello
            with socket.create_connection(("127.0.0.1", srv.port), timeout=2) as sock:
                sock.settimeout(1.0)
                with self.assertRaises(socket.timeout):
                    sock.recv(100)
            r = run_smtpsh(["--tls", "--cafile", srv.cafile, "localhost", str(srv.port)],
                           stdin=("EHLO client.test\nAUTH PLAIN %s\nQUIT\n"
                                  % plain(srv.user, srv.password)).encode(),
                           timeout=30)
            self.assertEqual(r.rc, 0, r.describe())
            self.assertIn("<~ 220 localhost ESMTP smtpsh practice server", r.out())
            self.assertIn("<~ 235 2.7.0 Authentication successful", r.out())
        finally:
            srv.stop()

    def test_like_usage_errors(self):
        """unknown provider, --tls-port or --like without --serve, --like with --lmtp, --tls
        with --tls-port: refused"""
        for args, msg in ((["--serve", "0", "--like", "hotmail"], "--like hotmail: not a "
                                                                   "provider I know"),
                          (["--tls-port", "0", "localhost"], "--tls-port goes with --serve"),
                          (["--like", "gmail", "localhost"], "--like goes with --practice or "
                                                             "--serve"),
                          (["--serve", "0", "--like", "gmail", "--lmtp"], "not with --lmtp"),
                          (["--serve", "0", "--tls", "--tls-port", "0"], "no --tls-port")):
            with self.subTest(args=args):
                r = run_smtpsh(args, timeout=10)
                self.assertEqual(r.rc, 2, r.describe())
                self.assertIn(msg, r.err())


class Lessons(unittest.TestCase):

    def test_lesson_transcripts_replay(self):
        """the assignment's two paths (transcripts/14-office365-..., 15-aol-465-to-gmail)
        replay against --serve --like PROVIDER with every code as recorded"""
        for name, serve_options, std, options in curated.PRACTICE_CURATED:
            with self.subTest(name=name):
                path = curated.transcript_path(name)
                with open(path) as f:
                    text = f.read()
                self.assertIn("\nport: %d\n" % std, text)
                self.assertIn("\n# ", text, "a curated transcript explains itself")
                srv = Serve(os.path.join(WORK, "Maildir-" + name), serve_options)
                try:
                    self.assertNotIn(srv.password, text)
                    r = run_smtpsh(["--replay", path, "--replay-user", srv.user,
                                    "--cafile", srv.cafile] + options
                                   + ["localhost", str(srv.port)],
                                   env={"SMTPSH_REPLAY_PASSWORD": srv.password}, timeout=30)
                    self.assertEqual(r.rc, 0, r.describe())
                    self.assertRegex(r.out(), r"\*  replay: \d+ replies compared, all as "
                                              r"recorded")
                    self.assertNotIn("!  replay", r.err(), r.describe())
                finally:
                    srv.stop()


if __name__ == "__main__":
    tap_main()
