#!/usr/bin/python3
"""Differential test: the practice server must not teach wrong SMTP.

The same session scripts run through smtpsh against the real Postfix of tests/lab and
against smtpsh --practice; every reply code must be the same, and the enhanced status code
too where both servers give one. Where the practice server deliberately differs (it follows
the RFC where Postfix is lenient, or it stores everything), the difference is listed in
DIFFERENCES below, checked here so the list stays true, and documented in docs/teaching.md.

Usage: PYTHONPATH=tests/lib /usr/bin/python3 tests/practice/test_differential.py
       [PATH/TO/smtpsh] [NAME...]
Prints TAP. Starts (and always stops) its own Postfix lab; needs root and the packages of
scripts/install-test-deps.sh.
"""

import base64
import hashlib
import hmac
import os
import re
import shutil
import socket
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
from lablib import ModuleLab
from smtpshtest import b64, tap_main
from practicelib import Practice, Serve, Shell, strip_note

LAB = ModuleLab()
HOME = tempfile.mkdtemp(prefix="smtpsh-diff-test-")
ENHANCED_RX = re.compile(r"^\S+ \d{3}[ -]([245]\.\d{1,3}\.\d{1,3})(?: |$)")


setUpModule = LAB.start


def tearDownModule():
    LAB.stop()
    shutil.rmtree(HOME, ignore_errors=True)
    shutil.rmtree(HOME, ignore_errors=True)


class Target:
    """Where a script runs: a Postfix port (with smtpsh as the client) or --practice."""

    def __init__(self, name, practice=False, port=None):
        self.name, self.practice, self.port = name, practice, port

    def open(self):
        if self.practice:
            sh = Practice(home=HOME)
            self.user, self.password = sh.user, sh.password
            return sh
        self.user, self.password = LAB.user, LAB.password
        sh = Shell(["--cafile", LAB.cafile, "127.0.0.1", self.port], home=HOME)
        sh.out.wait(r"^<- 220 ")
        return sh

    def substitute(self, step, last_reply):
        u, p = self.user, self.password

        def cram(password):
            challenge = base64.b64decode(strip_note(last_reply).split()[-1])
            return b64("%s %s" % (u, hmac.new(password.encode(), challenge,
                                                hashlib.md5).hexdigest()))

        table = {
            "{PLAIN}": lambda: b64("\0%s\0%s" % (u, p)),
            "{PLAIN-WRONG}": lambda: b64("\0%s\0%s" % (u, p + "-wrong")),
            "{LOGIN-USER}": lambda: b64(u),
            "{LOGIN-PASS}": lambda: b64(p),
            "{LOGIN-WRONG}": lambda: b64(p + "-wrong"),
            "{CRAM}": lambda: cram(p),
            "{CRAM-WRONG}": lambda: cram(p + "-wrong"),
        }
        for key, fn in table.items():
            if key in step:
                step = step.replace(key, fn())
        return step

    def run(self, steps):
        """[(step, code, enhanced code or None, reply line as shown)]"""
        sh = self.open()
        results = []
        in_data = False
        last = ""
        try:
            for step in steps:
                if step.startswith("\\practice"):
                    if self.practice:
                        sh.local(step)
                    continue
                line = self.substitute(step, last)
                if in_data and step != ".":
                    sh.send(line)
                    continue
                code, lines = sh.command(line)
                last = lines[-1]
                in_data = code == 354
                m = ENHANCED_RX.match(last)
                results.append((step, code, m.group(1) if m else None, last))
        except AssertionError as e:
            raise AssertionError("%s: %s\n%s" % (self.name, e, sh.describe()))
        finally:
            sh.close()
            sh.kill()
        return results


def postfix_plain():
    return Target("postfix plain port", port=LAB.plain_port)


def postfix_submission():
    return Target("postfix submission port", port=LAB.submission_port)


def practice():
    return Target("smtpsh --practice", practice=True)


# Sessions whose every reply code must agree.
PLAIN_SCRIPT = [
    "\\practice reject nobody@*",  # the practice server's stand-in for an unknown user
    "EHLO client.test",
    "NOOP",
    "NOOP with words",
    "RSET",
    "RSET x",
    "VRFY",
    "VRFY alice@example.test",
    "VRFY nobody@example.test",
    "XYZZY",
    "EHLO",
    "HELO",
    "RCPT TO:<alice@example.test>",
    "DATA",
    "MAIL TO:<x@client.test>",
    "MAIL",
    "MAIL FROM:<a b@client.test>",
    "MAIL FROM:<s@client.test> SIZE=abc",
    "MAIL FROM:<s@client.test> SIZE=",
    "MAIL FROM:<s@client.test> BODY=FOO",
    "MAIL FROM:<s@client.test> FOO=BAR",
    "MAIL FROM:<s@client.test> RET=SOME",
    "MAIL FROM:<s@client.test> ENVID=a+zz",
    "MAIL FROM:<j\u00f6rg@client.test> SMTPUTF8 RET=HDRS ENVID=QQ+2B1",
    "RCPT TO:<alice@example.test> NOTIFY=SOMETIMES",
    "RCPT TO:<alice@example.test> NOTIFY=NEVER,DELAY",
    "RCPT TO:<alice@example.test> ORCPT=rfc822",
    "RCPT TO:<alice@example.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;alice@example.test",
    "RSET",
    "MAIL FROM:<s@client.test> BODY=8BITMIME SIZE=1000",
    "MAIL FROM:<t@client.test>",
    "RCPT FROM:<x@client.test>",
    "RCPT TO:<>",
    "RCPT TO:<a b@example.test>",
    "RCPT TO:<alice@example.test> FOO=1",
    "RCPT TO:<nobody@example.test>",
    "DATA x",
    "RCPT TO:<alice@example.test>",
    "RCPT TO:<postmaster>",
    "RCPT TO: <bob@example.test>",
    "RCPT TO:carol@example.test",
    "DATA",
    "Subject: differential test",
    "",
    ".leading dot",
    ".",
    "MAIL FROM:<s@client.test>",
    "RCPT TO:<nobody@example.test>",
    "DATA",
    "RSET",
    "HELO client.test",
    "MAIL FROM:<>",
    "RCPT TO:<carol@example.test>",
    "RSET",
    "MAIL FROM:<@relay.client.test:s@client.test>",
    "RSET",
    # last: after a refused SIZE=, Postfix keeps refusing MAIL on this connection
    "MAIL FROM:<s@client.test> SIZE=999999999",
    "QUIT",
]

SUBMISSION_SCRIPT = [
    "\\practice require-tls on",
    "EHLO client.test",
    "MAIL FROM:<s@client.test>",
    "RCPT TO:<alice@example.test>",
    "DATA",
    "RSET",
    "VRFY alice@example.test",
    "AUTH PLAIN",
    "NOOP",
    "HELO client.test",
    "EHLO client.test",
    "STARTTLS",
    "EHLO client.test",
    # AUTH inside a transaction (before any failed AUTH: after one, the practice server
    # refuses MAIL until a login succeeds, a documented difference)
    "MAIL FROM:<s@client.test>",
    "AUTH PLAIN {PLAIN}",
    "RSET",
    "AUTH",
    "AUTH PLAIN {PLAIN-WRONG}",
    "AUTH PLAIN",
    "*",
    "AUTH LOGIN",
    "{LOGIN-USER}",
    "{LOGIN-WRONG}",
    "AUTH CRAM-MD5",
    "{CRAM-WRONG}",
    "AUTH CRAM-MD5",
    "{CRAM}",
    "AUTH LOGIN",
    # (no second STARTTLS: smtpsh refuses it under TLS and never sends it, RFC 3207 4.2)
    "MAIL FROM:<s@client.test>",
    "RCPT TO:<alice@example.test>",
    "DATA",
    "Subject: differential test under TLS",
    "",
    "body",
    ".",
    "QUIT",
]

AUTH_SCRIPTS = [
    ["EHLO client.test", "STARTTLS", "EHLO client.test", "AUTH PLAIN {PLAIN}", "QUIT"],
    ["EHLO client.test", "STARTTLS", "EHLO client.test", "AUTH PLAIN", "{PLAIN}", "QUIT"],
    ["EHLO client.test", "STARTTLS", "EHLO client.test", "AUTH LOGIN", "{LOGIN-USER}",
     "{LOGIN-PASS}", "QUIT"],
]

# Where the practice server deliberately differs: (name, script, the step, Postfix's code,
# the practice server's code, why). The table of docs/teaching.md says the same.
DIFFERENCES = [
    ("MAIL before HELO/EHLO", ["MAIL FROM:<s@client.test>"], 0, 250, 503,
     "RFC 5321 4.1.4: a client MUST say HELO/EHLO first (Postfix: smtpd_helo_required=no)"),
    ("HELP", ["EHLO client.test", "HELP"], 1, 500, 214,
     "RFC 5321 4.1.1.8: HELP; Postfix does not implement it"),
    ("EXPN", ["EHLO client.test", "EXPN staff"], 1, 500, 502,
     "RFC 5321 4.2.4: a known but unimplemented command is 502, not 500"),
    ("RCPT to another .test domain", ["EHLO client.test", "MAIL FROM:<s@client.test>",
                                      "RCPT TO:<x@elsewhere.test>"], 2, 554, 250,
     "the practice server takes every .test domain (RFC 2606) as its own"),
    ("ENVID with a bare '='", ["EHLO client.test", "MAIL FROM:<s@client.test> ENVID=a=b"], 1,
     250, 501, "RFC 3461 4: '=' is not an xchar (it is written +3D)"),
    ("UTF-8 address without SMTPUTF8", ["EHLO client.test", "MAIL FROM:<j\u00f6rg@client.test>"],
     1, 250, 553, "RFC 6531 3.4: SMTPUTF8 must be declared (Postfix: strict_smtputf8 = no)"),
    ("command over 512 octets", ["EHLO client.test", "NOOP " + "x" * 600], 1, 250, 500,
     "RFC 5321 4.5.3.1.4: 512 octets (Postfix accepts up to 2048)"),
]

DIFFERENCES_TLS = [
    ("unknown AUTH mechanism", ["EHLO client.test", "STARTTLS", "EHLO client.test",
                                "AUTH FOO"], 3, 535, 504,
     "RFC 4954 4: 504 5.5.4 for an unsupported mechanism"),
    ("AUTH response not base64", ["EHLO client.test", "STARTTLS", "EHLO client.test",
                                  "AUTH PLAIN !!!!"], 3, 535, 501,
     "RFC 4954 4: 501 5.5.2 when the response cannot be decoded"),
    ("AUTH right after STARTTLS", ["EHLO client.test", "STARTTLS", "AUTH PLAIN {PLAIN}"],
     2, 235, 503, "RFC 3207 4.2: after TLS the client must EHLO again"),
    ("MAIL after a failed AUTH", ["EHLO client.test", "STARTTLS", "EHLO client.test",
                                  "AUTH PLAIN {PLAIN-WRONG}", "MAIL FROM:<s@client.test>"],
     4, 250, 530, "a failed login must not go unnoticed: 530 5.7.0 until an AUTH succeeds"),
    ("RCPT to another domain after AUTH", ["EHLO client.test", "STARTTLS", "EHLO client.test",
                                           "AUTH PLAIN {PLAIN}", "MAIL FROM:<s@client.test>",
                                           "RCPT TO:<x@example.com>"], 5, 554, 250,
     "a logged-in client may relay, as with Postfix's default smtpd_relay_restrictions "
     "(permit_sasl_authenticated; the lab has reject_unauth_destination alone); the "
     "practice server stores it"),
]


def table(a, b):
    rows = []
    for (step, c1, e1, l1), (_, c2, e2, l2) in zip(a, b):
        mark = "  " if c1 == c2 and (e1 is None or e2 is None or e1 == e2) else "!!"
        rows.append("%s %-44.44s | %-38.38s | %s" % (mark, step, l1, l2))
    return "\n".join(rows)


class Differential(unittest.TestCase):

    def compare(self, postfix_target, script):
        a = postfix_target.run(script)
        b = practice().run(script)
        self.assertEqual(len(a), len(b), table(a, b))
        for (step, c1, e1, l1), (_, c2, e2, l2) in zip(a, b):
            self.assertEqual(c1, c2, "reply codes differ at %r\n%s" % (step, table(a, b)))
            if e1 and e2:
                self.assertEqual(e1, e2, "enhanced codes differ at %r\n%s"
                                 % (step, table(a, b)))
        return a, b

    def test_plain_session(self):
        """plain SMTP: every verb and misstep, same codes as Postfix's plain port"""
        a, b = self.compare(postfix_plain(), PLAIN_SCRIPT)
        self.assertGreaterEqual(len(a), 45)
        both = sum(1 for x, y in zip(a, b) if x[2] and y[2])
        self.assertGreaterEqual(both, 35, "most replies carry an enhanced code on both")

    def test_submission_session(self):
        """STARTTLS required, AUTH failures and refusals: same codes as Postfix's submission"""
        a, b = self.compare(postfix_submission(), SUBMISSION_SCRIPT)
        ehlo_tls = [x for x in a if x[0] == "EHLO client.test"]
        self.assertTrue(ehlo_tls)

    def test_each_auth_mechanism(self):
        """successful PLAIN (initial response and 334), LOGIN and CRAM-MD5, as Postfix"""
        for script in AUTH_SCRIPTS:
            with self.subTest(script=script[3]):
                a, b = self.compare(postfix_submission(), script)
                self.assertIn(235, [x[1] for x in a])

    def test_relay_denied(self):
        """RCPT to another domain without AUTH: refused in Postfix's very words"""
        script = ["EHLO client.test", "MAIL FROM:<s@client.test>", "RCPT TO:<x@example.com>",
                  "QUIT"]
        a, b = self.compare(postfix_plain(), script)
        # the reply as shown, after the "<- " mark
        self.assertEqual(strip_note(a[2][3])[3:],
                         "554 5.7.1 <x@example.com>: Relay access denied", table(a, b))
        self.assertEqual(strip_note(b[2][3])[3:], strip_note(a[2][3])[3:], table(a, b))

    def test_documented_differences(self):
        """each documented difference is real (so the list of docs/teaching.md stays true)"""
        for cases, target in ((DIFFERENCES, postfix_plain), (DIFFERENCES_TLS,
                                                             postfix_submission)):
            for name, script, index, want_postfix, want_practice, why in cases:
                with self.subTest(name=name):
                    a = target().run(script + ["QUIT"])
                    b = practice().run(script + ["QUIT"])
                    self.assertEqual((a[index][1], b[index][1]),
                                     (want_postfix, want_practice),
                                     "%s (%s)\n%s" % (name, why, table(a, b)))


# BDAT in raw bytes (smtpsh's client does not send BDAT yet): each step is written, then one
# reply is read from each server; the codes must agree. Octets of refused chunks are read by
# both (or the chunk's "QUIT" would end the session); a count that cannot be read ends it.
BDAT_STEPS = [
    b"EHLO client.test\r\n",
    b"BDAT 4\r\nQUIT",
    b"RSET\r\n",
    b"MAIL FROM:<s@client.test>\r\n",
    b"BDAT 0\r\n",
    b"RSET\r\n",
    b"MAIL FROM:<s@client.test>\r\n",
    b"RCPT TO:<alice@example.test>\r\n",
    b"BDAT 11\r\nSubject: x\r",
    b"DATA\r\n",
    b"RCPT TO:<bob@example.test>\r\n",
    b"MAIL FROM:<t@client.test>\r\n",
    b"BDAT 7 LAST\r\n\nQUIT\r\n",
    b"NOOP\r\n",
    b"MAIL FROM:<s@client.test>\r\n",
    b"RCPT TO:<alice@example.test>\r\n",
    b"BDAT 1 LASTING\r\nX",
]


def raw_codes(port, steps):
    """The reply code (and enhanced code) to each step, over one raw connection."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    f = s.makefile("rb")
    out = []
    try:
        f.readline()
        for step in steps:
            s.sendall(step)
            line = f.readline()
            while line[3:4] == b"-":
                line = f.readline()
            m = ENHANCED_RX.match("x " + line.decode("utf-8", "replace"))
            out.append((step[:24], line[:3].decode(), m.group(1) if m else None,
                        line.rstrip(b"\r\n").decode("utf-8", "replace")))
    finally:
        s.close()
    return out


class DifferentialBdat(unittest.TestCase):

    def test_bdat_codes(self):
        """BDAT over raw sockets: the same codes as Postfix, refused chunks read by both"""
        srv = Serve(os.path.join(HOME, "bdat-Maildir"))
        self.addCleanup(srv.stop)
        a = raw_codes(LAB.plain_port, BDAT_STEPS)
        b = raw_codes(srv.port, BDAT_STEPS)
        rows = "\n".join("%r | %s | %s" % (x[0], x[3], y[3]) for x, y in zip(a, b))
        self.assertEqual([x[1:3] for x in a], [y[1:3] for y in b], rows)
        self.assertEqual(a[-1][1], "521", rows)


if __name__ == "__main__":
    tap_main()
