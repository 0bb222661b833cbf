#!/usr/bin/python3
"""smtpsh --practice: the real binary against its built-in practice server, in batch mode.
Every verb, STARTTLS verified against the generated CA, each AUTH mechanism typed by hand,
each teaching fault, \\inbox, and the server's process (no orphan, no leftover folder).

Usage: PYTHONPATH=tests/lib /usr/bin/python3 tests/practice/test_practice.py
       [PATH/TO/smtpsh] [NAME...]
Prints TAP. Needs only smtpsh, Python and openssl (no network, no Postfix).
"""

import base64
import hashlib
import hmac
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True
from smtpshtest import b64, maildir_files, pid_alive, run_smtpsh, tap_main, wait_gone
from practicelib import Practice, split_stored

HOME = tempfile.mkdtemp(prefix="smtpsh-practice-test-")


def tearDownModule():
    subprocess.run(["rm", "-rf", HOME])


class PracticeTest(unittest.TestCase):

    def start(self, extra=()):
        sh = Practice(extra, home=HOME)
        self.addCleanup(sh.kill)
        return sh

    def code(self, sh, line, want, text=None):
        code, lines = sh.command(line)
        self.assertEqual(code, want, "%s\n%s" % (line, sh.describe()))
        if text:
            self.assertIn(text, lines[-1], sh.describe())
        return lines

    def ehlo_tls(self, sh):
        self.code(sh, "EHLO client.test", 250)
        self.code(sh, "STARTTLS", 220)
        sh.out.wait(r"^\*  TLSv1\.[23] .*certificate verified")
        return self.code(sh, "EHLO client.test", 250)


class Verbs(PracticeTest):

    def test_every_verb_and_misstep(self):
        """each verb and its missteps get the RFC 5321 code (and enhanced code)"""
        sh = self.start()
        cases = [
            ("MAIL FROM:<a@b.test>", 503, "503 5.5.1 Error: send HELO/EHLO first"),
            ("RCPT TO:<a@b.test>", 503, "503 5.5.1 Error: need MAIL command"),
            ("DATA", 503, "503 5.5.1 Error: need RCPT command"),
            ("EHLO", 501, "501 5.5.4 Syntax: EHLO hostname"),
            ("HELO", 501, "501 5.5.4 Syntax: HELO hostname"),
            ("XYZZY", 500, "500 5.5.2 Error: command not recognized"),
            ("EXPN staff", 502, "502 5.5.1 Error: command not implemented"),
            ("HELO client.test", 250, "250 localhost"),
            ("EHLO client.test", 250, "250 HELP"),
            ("NOOP", 250, "250 2.0.0 Ok"),
            ("RSET", 250, "250 2.0.0 Ok"),
            ("RSET now", 501, "501 5.5.4 Syntax: RSET"),
            ("VRFY", 501, "501 5.5.4 Syntax: VRFY address"),
            ("VRFY bob@example.test", 252, "252 2.0.0 Cannot VRFY user"),
            ("HELP", 214, "214 2.0.0 See RFC 5321"),
            ("HELP RCPT", 214, "214 2.0.0 RCPT TO:<address>"),
            ("HELP XYZZY", 504, "504 5.5.4 HELP topic unknown"),
            ("AUTH PLAIN", 538, "538 5.7.11 Encryption required"),
            ("MAIL TO:<a@b.test>", 501, "501 5.5.4 Syntax: MAIL FROM:<address>"),
            ("MAIL FROM:<a b@b.test>", 501, "501 5.1.7 Bad sender address syntax"),
            ("MAIL FROM:<a@b.test> SIZE=x", 501, "501 5.5.4 Bad message size syntax"),
            ("MAIL FROM:<a@b.test> SIZE=99999999", 552,
             "552 5.3.4 Message size exceeds fixed limit"),
            ("MAIL FROM:<a@b.test> BODY=BINARY", 555, "555 5.5.4 Unsupported option"),
            ("MAIL FROM:<a@b.test> RET=NONE", 501, "501 5.5.4 Bad RET parameter syntax"),
            ("MAIL FROM:<gr\u00fc\u00df@b.test>", 553,
             "553 5.6.7 Must declare SMTPUTF8 to send unicode address"),
            ("MAIL FROM:<a@b.test> BODY=8BITMIME SIZE=100", 250, "250 2.1.0 Ok"),
            ("MAIL FROM:<a@b.test>", 503, "503 5.5.1 Error: nested MAIL command"),
            ("RCPT FROM:<a@b.test>", 501, "501 5.5.4 Syntax: RCPT TO:<address>"),
            ("RCPT TO:<>", 501, "501 5.1.3 Bad recipient address syntax"),
            ("RCPT TO:<c@d.test> NOTIFY=SOMETIMES", 501,
             "501 5.5.4 Error: Bad NOTIFY parameter syntax"),
            ("DATA", 503, "503 5.5.1 Error: need RCPT command"),
            ("RCPT TO:<c@d.test>", 250, "250 2.1.5 Ok"),
            ("DATA now", 501, "501 5.5.4 Syntax: DATA"),
            ("STARTTLS now", 501, "501 5.5.4 Syntax: STARTTLS"),
            ("DATA", 354, "354 End data with <CR><LF>.<CR><LF>"),
        ]
        for line, code, text in cases:
            with self.subTest(line=line):
                self.code(sh, line, code, text)
        sh.send("Subject: verbs")
        sh.send("")
        sh.send(".a dot line")
        self.code(sh, ".", 250, "250 2.0.0 Ok: stored as ")
        self.code(sh, "QUIT", 221, "221 2.0.0 Bye")
        self.assertEqual(sh.close(), 0, sh.describe())
        self.assertNotIn("error", sh.err.text())

    def test_ehlo_capabilities(self):
        """EHLO advertises PIPELINING SIZE 8BITMIME BINARYMIME CHUNKING DSN SMTPUTF8
        ENHANCEDSTATUSCODES STARTTLS, AUTH under TLS"""
        sh = self.start()
        plain = [l.split(" ", 1)[1][4:] for l in self.code(sh, "EHLO client.test", 250)]
        self.assertEqual(plain, ["localhost Hello client.test", "PIPELINING", "SIZE 10240000",
                                 "8BITMIME", "BINARYMIME", "CHUNKING", "DSN", "SMTPUTF8",
                                 "ENHANCEDSTATUSCODES", "STARTTLS", "HELP"])
        self.code(sh, "STARTTLS", 220, "220 2.0.0 Ready to start TLS")
        tls = [l.split(" ", 1)[1][4:] for l in self.code(sh, "EHLO client.test", 250)]
        self.assertEqual(tls, ["localhost Hello client.test", "PIPELINING", "SIZE 10240000",
                               "8BITMIME", "BINARYMIME", "CHUNKING", "DSN", "SMTPUTF8",
                               "ENHANCEDSTATUSCODES", "AUTH PLAIN LOGIN CRAM-MD5 XOAUTH2 OAUTHBEARER", "HELP"])
        self.assertTrue(all(l.startswith("<~ ") for l in self.code(sh, "NOOP", 250)))
        # A second STARTTLS never leaves smtpsh (RFC 3207 4.2; the server's 554 for it is
        # in tests/unit/test_smtpd.c): a local refusal, which ends a script.
        start = len(sh.out.lines)
        sh.send("STARTTLS")
        sh.err.wait(r"STARTTLS not sent: .*already encrypted")
        self.assertEqual(sh.close(), 2)
        self.assertFalse([l for l in sh.out.lines[start:] if "STARTTLS" in l and
                          l[:3] in ("-> ", "~> ")], sh.describe())
        self.assertIn("*  the script stopped at line 5: STARTTLS (a command that could not run, "
                      "exit status 2); the lines after it were not run", sh.out.lines[start:])


class Tls(PracticeTest):

    def test_starttls_verified(self):
        """STARTTLS is verified against the generated CA (no --insecure), by smtpsh and Python"""
        sh = self.start()
        self.ehlo_tls(sh)
        sh.local("\\tls", rx=r"verif")
        text = "\n".join(sh.out.lines)
        self.assertRegex(text, r"\*  TLSv1\.3 \S+, certificate verified \(CN=localhost")
        self.assertNotIn("?>", text)
        self.assertNotIn("<?", text)
        # Python's ssl, with only the generated CA: the name and both address SANs verify
        for host in ("localhost", "127.0.0.1"):
            ctx = ssl.create_default_context(cafile=sh.cafile)
            with socket.create_connection(("127.0.0.1", sh.port), timeout=10) as s:
                f = s.makefile("rb")
                self.assertTrue(f.readline().startswith(b"220 "))
                s.sendall(b"EHLO py.test\r\nSTARTTLS\r\n")
                while not f.readline().startswith(b"250 "):
                    pass
                self.assertEqual(f.readline(), b"220 2.0.0 Ready to start TLS\r\n")
                with ctx.wrap_socket(s, server_hostname=host) as t:
                    cert = t.getpeercert()
                    t.sendall(b"QUIT\r\n")
                    self.assertTrue(t.recv(100).startswith(b"221 "))
            sans = sorted(v for _, v in cert["subjectAltName"])
            self.assertEqual(sans, sorted(["localhost", "127.0.0.1", "0:0:0:0:0:0:0:1"]))
            life = (ssl.cert_time_to_seconds(cert["notAfter"]) -
                    ssl.cert_time_to_seconds(cert["notBefore"]))
            # made anew each run, yet long enough that --check's certificate-expiry (a
            # warning under 14 days) passes
            self.assertGreater(life, 14 * 86400, "long enough for --check")
            self.assertLessEqual(life, 91 * 86400, "no longer than a public CA's")
        # the system store does not know this CA: an ordinary client refuses it
        ctx = ssl.create_default_context()
        with socket.create_connection(("127.0.0.1", sh.port), timeout=10) as s:
            f = s.makefile("rb")
            f.readline()
            s.sendall(b"EHLO py.test\r\nSTARTTLS\r\n")
            while not f.readline().startswith(b"220 2.0.0"):
                pass
            with self.assertRaises(ssl.SSLCertVerificationError):
                ctx.wrap_socket(s, server_hostname="localhost")
        # openssl agrees: the server certificate chains to the CA
        certfile = os.path.join(sh.dir, "server-cert.pem")
        p = subprocess.run(["openssl", "verify", "-CAfile", sh.cafile, certfile],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        p = subprocess.run(["openssl", "x509", "-in", sh.cafile, "-noout", "-text"],
                           capture_output=True, text=True)
        self.assertIn("CA:TRUE", p.stdout)
        self.assertIn("Certificate Sign", p.stdout)
        self.assertFalse(any(f.endswith(("key.pem", ".key")) for f in os.listdir(sh.dir)),
                         "no private key is written to disk")
        self.code(sh, "QUIT", 221)
        sh.close()

    def test_starttls_option(self):
        """smtpsh --practice --starttls: the handshake right away, verified"""
        sh = self.start(["--starttls"])
        sh.out.wait(r"^<~ 250 HELP")
        self.assertRegex(sh.out.text(), r"certificate verified")
        self.code(sh, "MAIL FROM:<a@b.test>", 250)
        sh.close()


class Auth(PracticeTest):

    def login_ok(self, sh):
        text = sh.out.text() + sh.err.text()
        self.assertEqual(text.count(sh.password), 1, "the password shows in the banner "
                         "only; never in the conversation\n" + sh.describe())

    def test_plain(self):
        """AUTH PLAIN with an initial response typed by hand; then 503 already authenticated"""
        sh = self.start()
        self.ehlo_tls(sh)
        self.code(sh, "AUTH PLAIN " + b64("\0student\0wrong"), 535,
                  "535 5.7.8 Authentication credentials invalid")
        self.code(sh, "AUTH PLAIN !!!!", 501, "501 5.5.2 Cannot decode response")
        self.code(sh, "AUTH PLAIN " + b64("\0%s\0%s" % (sh.user, sh.password)), 235,
                  "235 2.7.0 Authentication successful")
        self.code(sh, "AUTH LOGIN", 503, "503 5.5.1 Error: already authenticated")
        self.code(sh, "MAIL FROM:<%s@example.test>" % sh.user, 250)
        self.assertIn("~> AUTH PLAIN <redacted>", sh.out.lines)
        sh.close()
        self.login_ok(sh)

    def test_plain_challenge_and_cancel(self):
        """AUTH PLAIN with a 334, '*' cancels (501 5.7.0), then succeeds"""
        sh = self.start()
        self.ehlo_tls(sh)
        self.code(sh, "AUTH PLAIN", 334, "334")
        self.code(sh, "*", 501, "501 5.7.0 Authentication aborted")
        self.code(sh, "AUTH PLAIN", 334)
        self.code(sh, b64("%s\0%s\0%s" % (sh.user, sh.user, sh.password)), 235)
        sh.close()
        self.login_ok(sh)

    def test_login(self):
        """AUTH LOGIN: Username: then Password:"""
        sh = self.start()
        self.ehlo_tls(sh)
        lines = self.code(sh, "AUTH LOGIN", 334)
        self.assertEqual(base64.b64decode(lines[-1].split()[-1]), b"Username:")
        lines = self.code(sh, b64(sh.user), 334)
        self.assertEqual(base64.b64decode(lines[-1].split()[-1]), b"Password:")
        self.code(sh, b64(sh.password), 235)
        sh.close()
        self.login_ok(sh)

    def test_cram_md5(self):
        """AUTH CRAM-MD5: the HMAC-MD5 of the challenge computed here"""
        sh = self.start()
        self.ehlo_tls(sh)
        for password, code in (("not-it", 535), (sh.password, 235)):
            lines = self.code(sh, "AUTH CRAM-MD5", 334)
            challenge = base64.b64decode(lines[-1].split()[-1])
            self.assertRegex(challenge.decode(), r"^<\d+\.\d+@localhost>$")
            digest = hmac.new(password.encode(), challenge, hashlib.md5).hexdigest()
            self.code(sh, b64("%s %s" % (sh.user, digest)), code)
        sh.close()
        self.login_ok(sh)

    def test_auth_required_and_plain_auth(self):
        """auth-required: 530 5.7.0 before AUTH; plain-auth: AUTH offered without TLS"""
        sh = self.start()
        sh.local("\\practice auth-required on")
        sh.local("\\practice plain-auth on")
        lines = self.code(sh, "EHLO client.test", 250)
        self.assertIn("<- 250-AUTH PLAIN LOGIN CRAM-MD5 XOAUTH2 OAUTHBEARER", lines)
        self.code(sh, "MAIL FROM:<a@b.test>", 530, "530 5.7.0 Authentication required")
        self.code(sh, "AUTH PLAIN " + b64("\0%s\0%s" % (sh.user, sh.password)), 235)
        self.code(sh, "MAIL FROM:<a@b.test>", 250)
        sh.close()


class Faults(PracticeTest):

    def test_greylist(self):
        """greylist on: 451 4.7.1 first, accepted on the retry; greylist 2: after 2 seconds"""
        sh = self.start()
        sh.local("\\practice greylist on")
        self.code(sh, "EHLO client.test", 250)
        self.code(sh, "MAIL FROM:<a@b.test>", 250)
        self.code(sh, "RCPT TO:<c@d.test>", 451,
                  "451 4.7.1 <c@d.test>: Recipient address rejected: Greylisted")
        self.code(sh, "RCPT TO:<c@d.test>", 250)
        sh.local("\\practice greylist 2")
        self.code(sh, "RCPT TO:<e@f.test>", 451, "try again in 2 seconds")
        self.code(sh, "RCPT TO:<e@f.test>", 451)
        time.sleep(2.2)
        self.code(sh, "RCPT TO:<e@f.test>", 250)
        sh.close()

    def test_reject(self):
        """reject PATTERN: 550 5.1.1 for matching recipients (and VRFY)"""
        sh = self.start()
        sh.local("\\practice reject nobody@* *@spam.test")
        self.code(sh, "EHLO client.test", 250)
        self.code(sh, "VRFY nobody@example.test", 550, "550 5.1.1")
        self.code(sh, "MAIL FROM:<a@b.test>", 250)
        self.code(sh, "RCPT TO:<nobody@example.test>", 550,
                  "550 5.1.1 <nobody@example.test>: Recipient address rejected: User unknown")
        self.code(sh, "RCPT TO:<Eve@SPAM.test>", 550, "550 5.1.1")
        self.code(sh, "DATA", 554, "554 5.5.1 Error: no valid recipients")
        self.code(sh, "RCPT TO:<alice@example.test>", 250)
        sh.local("\\practice reject off")
        self.code(sh, "RCPT TO:<nobody@example.test>", 250)
        sh.close()

    def test_size(self):
        """size N: SIZE N advertised, 552 5.3.4 on MAIL SIZE= and on a bigger message"""
        sh = self.start()
        sh.local("\\practice size 200")
        self.assertIn("<- 250-SIZE 200", self.code(sh, "EHLO client.test", 250))
        self.code(sh, "MAIL FROM:<a@b.test> SIZE=201", 552,
                  "552 5.3.4 Message size exceeds fixed limit")
        self.code(sh, "MAIL FROM:<a@b.test> SIZE=200", 250)
        self.code(sh, "RCPT TO:<c@d.test>", 250)
        self.code(sh, "DATA", 354)
        for i in range(10):
            sh.send("line %02d of a message a little too big for 200 octets" % i)
        self.code(sh, ".", 552, "552 5.3.4 Error: message file too big")
        self.assertEqual(maildir_files(sh.maildir), [])
        sh.close()

    def test_require_tls(self):
        """require-tls: 530 5.7.0 Must issue a STARTTLS command first, until STARTTLS"""
        sh = self.start()
        sh.local("\\practice require-tls on")
        self.code(sh, "EHLO client.test", 250)
        self.code(sh, "NOOP", 250)
        for line in ("MAIL FROM:<a@b.test>", "RSET", "VRFY x", "AUTH PLAIN"):
            self.code(sh, line, 530, "530 5.7.0 Must issue a STARTTLS command first")
        self.code(sh, "STARTTLS", 220)
        self.code(sh, "EHLO client.test", 250)
        self.code(sh, "MAIL FROM:<a@b.test>", 250)
        sh.close()

    def test_slow(self):
        """slow MS: every reply waits"""
        sh = self.start()
        self.code(sh, "EHLO client.test", 250)
        sh.local("\\practice slow 400")
        t0 = time.monotonic()
        self.code(sh, "NOOP", 250)
        self.code(sh, "NOOP", 250)
        self.assertGreaterEqual(time.monotonic() - t0, 0.8)
        sh.local("\\practice slow 0")
        t0 = time.monotonic()
        self.code(sh, "NOOP", 250)
        self.assertLess(time.monotonic() - t0, 0.35)
        sh.close()

    def test_drop_after(self):
        """drop-after RCPT: the connection closes without a reply (exit 3)"""
        sh = self.start()
        sh.local("\\practice drop-after RCPT")
        self.code(sh, "EHLO client.test", 250)
        self.code(sh, "MAIL FROM:<a@b.test>", 250)
        sh.send("RCPT TO:<c@d.test>")
        sh.err.wait(r"closed the connection without replying to RCPT")
        sh.send("NOOP")
        self.assertEqual(sh.close(), 3, sh.describe())

    def test_drop_after_dot(self):
        """drop-after .: the message is stored, but no 250 comes back"""
        # batch mode ends at the lost connection and removes its own Maildir: keep one
        md = os.path.join(tempfile.mkdtemp(prefix="smtpsh-md-", dir=HOME), "mail")
        sh = self.start(["--maildir", md])
        sh.local("\\practice drop-after .")
        self.code(sh, "EHLO client.test", 250)
        self.code(sh, "MAIL FROM:<a@b.test>", 250)
        self.code(sh, "RCPT TO:<c@d.test>", 250)
        self.code(sh, "DATA", 354)
        sh.send("Subject: lost reply")
        sh.send(".")
        sh.err.wait(r"closed the connection without replying")
        self.assertEqual(len(maildir_files(md)), 1, sh.describe())
        sh.close()

    def test_timeout(self):
        """timeout S: 421 4.4.2 after S idle seconds, shown as it arrives"""
        sh = self.start()
        sh.local("\\practice timeout 1")
        self.code(sh, "EHLO client.test", 250)
        time.sleep(1.6)
        sh.send("# batch mode shows what came unasked before it reads the next line")
        sh.out.wait(r"^<- 421 4\.4\.2 localhost Error: timeout exceeded(  \t\[|$)", timeout=5)
        sh.out.wait(r"^\*  the server closed the connection")
        sh.close()

    def test_settings_shown_and_errors(self):
        """\\practice lists the settings; a bad one is an error (exit 2 in batch)"""
        sh = self.start()
        sh.local("\\practice greylist on")
        sh.local("\\practice slow 5")
        lines = sh.local("\\practice", rx=r"\\practice NAME VALUE")
        text = "\n".join(lines)
        self.assertRegex(text, r"greylist\s+on\b")
        self.assertRegex(text, r"slow\s+5 ms")
        self.assertRegex(text, r"reject\s+off")
        self.assertIn("AUTH login %s / %s" % (sh.user, sh.password), text)
        sh.local("\\practice reset")
        sh.local("\\practice", rx=r"greylist\s+off")
        sh.send("\\practice slow lots")
        sh.err.wait(r"\\practice: bad value for slow")
        self.assertEqual(sh.close(), 2)

    def test_local_commands_need_practice(self):
        """\\inbox and \\practice outside --practice: an error"""
        r = run_smtpsh([], "\\inbox\n", home=HOME)
        self.assertEqual(r.rc, 2)
        self.assertIn("works in a practice session only", r.stderr)


class Inbox(PracticeTest):

    def test_inbox_shows_exactly_what_data_produced(self):
        """\\inbox lists (from, to, subject, size); \\inbox N shows the file escaped"""
        sh = self.start()
        lines = sh.local("\\inbox", rx=r"messages? in ")
        self.assertRegex(lines[-1], r"0 messages in ")
        self.ehlo_tls(sh)
        self.code(sh, "AUTH PLAIN " + b64("\0%s\0%s" % (sh.user, sh.password)), 235)
        self.code(sh, "MAIL FROM:<me@example.test>", 250)
        self.code(sh, "RCPT TO:<you@example.test>", 250)
        self.code(sh, "DATA", 354)
        body = ["Subject: Hello inbox", "From: Me <me@example.test>", "",
                ".leading dot", "..two dots", "tab\there", "esc\x1b[31mred",
                "gr\u00fc\u00dfe \u2603", "\\\\back slash typed twice"]
        for l in body:
            sh.send(l)
        reply = self.code(sh, ".", 250)[-1]
        msg_id = re.search(r"stored as ([0-9A-F]{10})", reply).group(1)
        lines = sh.local("\\inbox", rx=r"Hello inbox")
        self.assertRegex(lines[-1], r"^\s+1\s+\d\d:\d\d:\d\d\s+me@example\.test\s+->\s+"
                                    r"you@example\.test\s+\d+\s+Hello inbox$")
        lines = sh.local("\\inbox 1", rx=r"\| \\\\back slash")
        shown = [l[5:] for l in lines if l.startswith("   | ")]
        self.assertEqual(shown[0], "Return-Path: <me@example.test>")
        self.assertEqual(shown[1], "Envelope-To: you@example.test")
        self.assertEqual(shown[2], "Received: from client.test ([127.0.0.1])")
        self.assertEqual(shown[3], "\\tby localhost (smtpsh practice server) with ESMTPSA id "
                         + msg_id)
        self.assertRegex(shown[4], r"^\\tfor <you@example\.test>; \w{3}, \d+ \w{3} \d{4} ")
        self.assertEqual(shown[5:], ["Subject: Hello inbox", "From: Me <me@example.test>", "",
                                     ".leading dot", "..two dots", "tab\\there",
                                     "esc\\x1b[31mred", "gr\u00fc\u00dfe \u2603",
                                     "\\\\back slash typed twice"])
        files = maildir_files(sh.maildir)
        self.assertEqual(len(files), 1)
        self.assertIn("/new/", files[0])
        self.assertIn("R" + msg_id + ".", os.path.basename(files[0]))
        with open(files[0], "rb") as f:
            headers, rest = split_stored(f.read())
        self.assertEqual(rest, ("\n".join(body[:-1] + ["\\back slash typed twice"])
                                + "\n").encode())
        self.assertEqual(os.listdir(os.path.join(sh.maildir, "tmp")), [])
        sh.send("\\inbox 2")
        sh.err.wait(r"N is a message number, 1 to 1")
        sh.close()


class Process(PracticeTest):

    def test_no_orphan_no_leftover(self):
        """the server ends with the shell and removes its folder"""
        sh = self.start()
        self.assertTrue(pid_alive(sh.pid))
        self.assertTrue(os.path.isdir(sh.dir))
        self.code(sh, "QUIT", 221)
        self.assertEqual(sh.close(), 0)
        self.assertTrue(wait_gone(sh.pid, 5), "the server outlived the shell")
        self.assertFalse(os.path.exists(sh.dir), "the temporary folder is left behind")

    def test_killed_shell(self):
        """kill -9 of the shell: the server still goes (PR_SET_PDEATHSIG), folder removed"""
        sh = self.start()
        sh.p.send_signal(signal.SIGKILL)
        sh.p.wait(10)
        self.assertTrue(wait_gone(sh.pid, 5), "the server outlived a killed shell")
        deadline = time.monotonic() + 5
        while os.path.exists(sh.dir) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertFalse(os.path.exists(sh.dir))

    def test_server_not_in_terminal_group(self):
        """the server is in its own process group: Ctrl-C at the terminal does not reach it"""
        sh = self.start()
        self.assertNotEqual(os.getpgid(sh.pid), os.getpgid(sh.p.pid))
        with open("/proc/%d/stat" % sh.pid) as f:
            ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        self.assertEqual(ppid, sh.p.pid, "the server is the shell's child")
        sh.close()

    def test_maildir_option_kept(self):
        """--practice --maildir DIR: mail stored there, DIR kept after the end"""
        d = tempfile.mkdtemp(prefix="smtpsh-md-", dir=HOME)
        md = os.path.join(d, "mail")
        sh = self.start(["--maildir", md])
        self.assertEqual(sh.maildir, md)
        self.code(sh, "EHLO client.test", 250)
        self.code(sh, "MAIL FROM:<a@b.test>", 250)
        self.code(sh, "RCPT TO:<c@d.test>", 250)
        self.code(sh, "DATA", 354)
        sh.send("Subject: kept")
        self.code(sh, ".", 250)
        sh.close()
        self.assertTrue(wait_gone(sh.pid, 5))
        self.assertEqual(len(maildir_files(md)), 1)
        self.assertFalse(os.path.exists(sh.dir))

    def test_usage_errors(self):
        """--practice with HOST, --cafile or --tls; --listen without --serve: usage errors"""
        for args in (["--practice", "localhost"], ["--practice", "--tls"],
                     ["--practice", "--cafile", "/etc/hosts"], ["--listen", "127.0.0.1"],
                     ["--maildir", "/tmp/x"], ["--serve", "1", "2"],
                     ["--serve", "--practice"], ["--serve", "99999"],
                     ["--serve", "0", "--listen", "not-an-address"]):
            r = run_smtpsh(args, "", home=HOME)
            self.assertEqual(r.rc, 2, r.describe())
            self.assertIn("smtpsh: ", r.stderr)

    def test_help_lists_options(self):
        """--help documents --practice, --serve, --listen, --maildir"""
        r = run_smtpsh(["--help"], "", home=HOME)
        for opt in ("--practice", "--serve [PORT]", "--listen ADDR", "--maildir DIR"):
            self.assertIn(opt, r.stdout)


if __name__ == "__main__":
    tap_main()
