#!/usr/bin/python3
"""AUTH EXTERNAL (RFC 4422 appendix A) with a client certificate, against the practice server
(issue 20): the server asks every client for a certificate, offers EXTERNAL only to one its
CA issued, and logs it in as the certificate's CN; \\auth EXTERNAL [AUTHZID] sends
"AUTH EXTERNAL =" (or the base64 authorization identity), and the TLS line says the client
certificate was sent.

Usage: /usr/bin/python3 tests/practice/test_external.py [NAME...]   (TAP)
"""

import os
import re
import shutil
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
from practicelib import Serve
from smtpshtest import b64, make_cert, run_smtpsh, script, tap_main


class External(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="smtpsh-external-")
        cls.srv = Serve(os.path.join(cls.tmp, "Maildir"))
        text = cls.srv.out.text()
        cls.client = re.search(r"client certificate for AUTH EXTERNAL: (\S+) \(--cert\)",
                               text).group(1)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def run_shell(self, lines, *opts):
        return run_smtpsh(["--starttls", "--cafile", self.srv.cafile] + list(opts) +
                          ["localhost", self.srv.port], script(lines))

    def auth_caps(self, r):
        """The AUTH capability of the EHLO after STARTTLS."""
        caps = [t for m, t in r.received() if m == "<~" and t.startswith("250-AUTH")]
        return caps[-1] if caps else ""

    def test_external_with_the_practice_certificate(self):
        """--cert from the practice CA: EXTERNAL offered, \\auth EXTERNAL logs in"""
        r = self.run_shell(["\\auth EXTERNAL", "MAIL FROM:<student@example.test>", "QUIT"],
                           "--cert", self.client)
        self.assertEqual(r.rc, 0, r.describe())
        tls = [t for t in r.info() if t.startswith("TLSv")]
        self.assertRegex(tls[0], r"client certificate sent \(CN=student,O=smtpsh practice "
                         r"server\)$", r.describe())
        self.assertEqual(self.auth_caps(r), "250-AUTH PLAIN LOGIN CRAM-MD5 EXTERNAL XOAUTH2 OAUTHBEARER")
        self.assertIn(("~>", "AUTH EXTERNAL ="), r.sent(), r.describe())
        self.assertIn(("<~", "235 2.7.0 Authentication successful"), r.received())
        self.assertIn("authenticated by the client certificate (EXTERNAL)", r.info())
        self.srv.out.wait(r"EXTERNAL login as student \(the client certificate\) succeeded")

    def test_external_with_authzid(self):
        """\\auth EXTERNAL AUTHZID: the base64 identity; the certificate's own passes, another
        is refused"""
        r = self.run_shell(["\\auth EXTERNAL student", "QUIT"], "--cert", self.client)
        self.assertIn(("~>", "AUTH EXTERNAL " + b64("student")), r.sent(), r.describe())
        self.assertIn(("<~", "235 2.7.0 Authentication successful"), r.received())
        r = self.run_shell(["\\auth EXTERNAL teacher", "QUIT"], "--cert", self.client)
        self.assertIn(("~>", "AUTH EXTERNAL " + b64("teacher")), r.sent(), r.describe())
        self.assertTrue(any(t.startswith("535 5.7.8") for _, t in r.received()), r.describe())
        self.srv.out.wait(r"EXTERNAL login failed: the authorization identity differs from "
                          r"the certificate's")

    def test_no_external_without_a_certificate(self):
        """without --cert: EXTERNAL not offered, \\auth EXTERNAL says so and sends nothing;
        typed by hand it gets 504"""
        r = self.run_shell(["\\auth EXTERNAL", "QUIT"])
        self.assertEqual(self.auth_caps(r), "250-AUTH PLAIN LOGIN CRAM-MD5 XOAUTH2 OAUTHBEARER", r.describe())
        self.assertIn("the server does not offer EXTERNAL (it offers: PLAIN LOGIN CRAM-MD5 XOAUTH2 OAUTHBEARER): "
                      "nothing sent", r.stderr)
        self.assertFalse(any(t.startswith("AUTH") for t in r.sent_text()), r.describe())
        r = self.run_shell(["AUTH EXTERNAL =", "QUIT"])
        self.assertTrue(any(t.startswith("504 5.5.4") and "EXTERNAL needs a client "
                            "certificate from the practice CA" in t for _, t in r.received()),
                        r.describe())

    def test_certificate_of_another_ca(self):
        """a certificate the practice CA did not issue: the handshake goes on, no EXTERNAL"""
        cert, key = make_cert(self.tmp, subject="/CN=student", name="foreign", san=None)
        r = self.run_shell(["QUIT"], "--cert", cert, "--key", key)
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(self.auth_caps(r), "250-AUTH PLAIN LOGIN CRAM-MD5 XOAUTH2 OAUTHBEARER", r.describe())


if __name__ == "__main__":
    tap_main()
