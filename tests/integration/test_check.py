#!/usr/bin/python3
"""smtpsh --check against a real Postfix on loopback, configured secure and then insecure:
every verdict asserted, with the evidence that proves it, in text and in --json.

Secure: STARTTLS required and AUTH only under TLS on the submission port,
smtpd_forbid_bare_newline = yes, disable_vrfy_command = yes, relaying refused.
Insecure: TLS optional and AUTH offered in plaintext (smtpd_tls_auth_only = no),
smtpd_forbid_bare_newline = no (Postfix 3.7's default: a bare LF ends a line, so "\\n.\\n"
ends the data), VRFY on, and an open relay (permit_mynetworks; the lab's mail to other
domains is discarded, never sent anywhere).

Usage: PYTHONPATH=tests/lib /usr/bin/python3 tests/integration/test_check.py [NAME...]
Prints TAP. Starts (and always stops) its own Postfix lab; needs root and the packages of
scripts/install-test-deps.sh.
"""

import json
import os
import re
import subprocess
import time
import unittest

from lablib import ModuleLab
from smtpshtest import tap_main, wait_gone

LAB = ModuleLab()
setUpModule, tearDownModule = LAB.start, LAB.stop

RCPT = "alice@example.test"

TLS_STRICT = ["%s = >=TLSv1.2" % k for k in ("smtpd_tls_protocols",
                                            "smtpd_tls_mandatory_protocols")] + \
    ["%s = aNULL, eNULL, EXPORT, LOW, RC4, DES, 3DES, MD5" % k
     for k in ("smtpd_tls_exclude_ciphers", "smtpd_tls_mandatory_exclude_ciphers")]
# TLS 1.0 with OpenSSL 3.0 needs security level 0 (the recipe); ALL, unlike DEFAULT,
# also has the anonymous (aNULL) suites
TLS_OLD = ["smtpd_tls_protocols = >=TLSv1", "smtpd_tls_mandatory_protocols = >=TLSv1",
           "smtpd_tls_ciphers = low", "smtpd_tls_mandatory_ciphers = low",
           "tls_low_cipherlist = ALL:@SECLEVEL=0", "smtpd_tls_exclude_ciphers =",
           "smtpd_tls_mandatory_exclude_ciphers ="]

SECURE_MAIN = TLS_STRICT + [
    "smtpd_forbid_bare_newline = yes",
    "smtpd_forbid_bare_newline_exclusions =",  # its default exempts $mynetworks (loopback)
    "disable_vrfy_command = yes",
    "smtpd_relay_restrictions = reject_unauth_destination",
    "default_transport = error:outbound mail disabled in the test lab",
    "relay_transport = error:relaying disabled in the test lab",
]
SECURE_SUBMISSION = ["smtpd_tls_security_level=encrypt", "smtpd_tls_auth_only=yes"]

INSECURE_MAIN = TLS_OLD + [
    "smtpd_forbid_bare_newline = no",
    "disable_vrfy_command = no",
    "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination",
    # an open relay that sends nothing: whatever is relayed is thrown away
    "default_transport = discard:open relay of the test lab",
    "relay_transport = discard:open relay of the test lab",
]
INSECURE_SUBMISSION = ["smtpd_tls_security_level=may", "smtpd_tls_auth_only=no"]


def reconfigure(main, submission):
    """postconf the lab, then stop and start its master (a reload would let an old smtpd
    take the next connection)."""
    etc = os.path.join(LAB.dir, "etc")
    subprocess.run(["postconf", "-c", etc, "-e"] + main, check=True)
    port = str(LAB.submission_port)
    subprocess.run(["postconf", "-c", etc, "-P"] +
                   ["%s/inet/%s" % (port, s) for s in submission], check=True)
    pidfile = os.path.join(LAB.dir, "spool", "pid", "master.pid")
    pid = int(open(pidfile).read().strip())
    subprocess.run(["postfix", "-c", etc, "stop"], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    wait_gone(pid)
    subprocess.run(["postfix", "-c", etc, "start"], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    import socket
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", LAB.submission_port), 1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("Postfix did not come back")


def verdicts(report):
    return {c["name"]: c["verdict"] for c in report["checks"]}


def by_name(report, name):
    return next(c for c in report["checks"] if c["name"] == name)


class CheckPostfix(unittest.TestCase):

    def check(self, *extra):
        args = ["--check", "--role", "submission", "--cafile", LAB.cafile, "--json",
                "--check-rcpt", RCPT] + list(extra) + ["127.0.0.1", LAB.submission_port]
        r = LAB.smtpsh(args)
        try:
            report = json.loads(r.stdout)
        except ValueError:
            self.fail("--json is no JSON\n" + r.describe())
        return r, report

    def test_secure_all_pass(self):
        """Postfix configured secure: every check passes or is information; exit 0"""
        reconfigure(SECURE_MAIN, SECURE_SUBMISSION)
        r, report = self.check()
        v = verdicts(report)
        # Postfix 3.7 takes a bare LF in a command even with smtpd_forbid_bare_newline =
        # yes (it refuses it in the data: the smuggling checks)
        info = {"ocsp-stapling", "mechanisms", "bare-lf", "rcpt"}
        for name, verdict in v.items():
            self.assertEqual(verdict, "info" if name in info else "pass",
                             "%s: %s\n%s" % (name, by_name(report, name)["why"], r.stdout))
        for name in ("greeting", "ehlo", "starttls-offered", "tls13", "cipher",
                     "certificate-trust", "certificate-name", "certificate-expiry",
                     "certificate-key", "certificate-signature", "starttls-injection",
                     "tls10", "tls11", "weak-ciphers",
                     "plaintext-auth", "auth-after-starttls", "open-relay", "vrfy", "expn",
                     "pipelining", "size", "8bitmime", "smtputf8", "bare-lf", "long-line",
                     "smuggling-lf-dot-lf", "smuggling-lf-dot-crlf", "smuggling-cr-dot-cr",
                     "smuggling-crlf-dot-cr", "smuggling-cr-dot-crlf",
                     "smuggling-crlf-nul-dot-crlf"):
            self.assertIn(name, v)
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(report["exit"], 0)
        self.assertTrue(report["connected"])
        # the evidence is the conversation as the screen shows it
        relay = by_name(report, "open-relay")
        self.assertIn("~> RCPT TO:<check@example.com>", relay["evidence"])
        self.assertTrue(any(l.startswith("<~ 554 5.7.1") for l in relay["evidence"]), relay)
        self.assertIn("~> RSET", relay["evidence"])
        self.assertFalse(any("DATA" in l for l in relay["evidence"]))
        auth = by_name(report, "plaintext-auth")
        self.assertEqual(auth["evidence"][:1], ["-> AUTH PLAIN"])
        self.assertTrue(auth["evidence"][1].startswith("<- 530 5.7.0"), auth)
        vrfy = by_name(report, "vrfy")
        self.assertTrue(any(l.startswith("~> VRFY " + RCPT) for l in vrfy["evidence"]))
        rcpt = by_name(report, "rcpt")
        self.assertEqual(rcpt["why"], "RCPT tells the existing user (250) from a made-up one "
                         "(550) (usual recipient validation)")
        self.assertEqual(rcpt["evidence"][-2:], ["~> RSET", "<~ 250 2.0.0 Ok"])
        bare = by_name(report, "bare-lf")
        self.assertIn("~> NOOP\\n  \t[raw, 5 octets]", bare["evidence"])
        chunking = by_name(report, "chunking")
        self.assertRegex(chunking["why"], r"^CHUNKING advertised and honoured: BDAT \d+ LAST "
                         r"got 250; BDAT \d+ got 250, BDAT \d+ LAST 250; NOOP after each")
        self.assertTrue(any(re.match(r"<~ 250 2\.0\.0 Ok: \d+ bytes queued as ", l)
                            for l in chunking["evidence"]), chunking)
        self.assertEqual(sum(1 for l in chunking["evidence"] if l == "~> NOOP"), 2, chunking)
        smug = by_name(report, "smuggling-lf-dot-crlf")
        self.assertIn("stayed in the message", smug["why"])
        self.assertEqual(sum(1 for l in smug["evidence"] if l.startswith("<~ 250 2.0.0 Ok")),
                         1, smug)
        smug = by_name(report, "smuggling-lf-dot-lf")
        self.assertTrue(any("Subject: smtpsh --check smuggling variant 1" in l
                            for l in smug["evidence"]), smug)

    def test_insecure_every_fault_found(self):
        """Postfix configured insecure: open relay, plaintext AUTH, VRFY enumeration, bare
        LF and the LF smuggling variants are failures, with the replies that prove them"""
        reconfigure(INSECURE_MAIN, INSECURE_SUBMISSION)
        r, report = self.check()
        v = verdicts(report)
        expect = {
            "open-relay": "fail",
            "tls10": "warn",
            "tls11": "warn",
            "weak-ciphers": "fail",
            "plaintext-auth": "fail",
            "auth-after-starttls": "warn",
            "vrfy": "fail",
            "bare-lf": "info",
            "smuggling-lf-dot-lf": "fail",
            "smuggling-lf-dot-crlf": "fail",
            # Postfix never takes a bare CR for a line end
            "smuggling-cr-dot-cr": "pass",
            "smuggling-crlf-dot-cr": "pass",
            "smuggling-cr-dot-crlf": "pass",
            "smuggling-crlf-nul-dot-crlf": "pass",
            "starttls-injection": "pass",
            "greeting": "pass",
            "certificate-trust": "pass",
        }
        for name, verdict in expect.items():
            self.assertEqual(v.get(name), verdict, "%s\n%s" % (name, r.stdout))
        self.assertEqual(r.rc, 1, r.describe())
        old = by_name(report, "tls10")
        self.assertIn("<- 220 2.0.0 Ready to start TLS", old["evidence"])
        self.assertTrue(any(l.startswith("*  TLSv1 ") and "security level 0" in l
                            for l in old["evidence"]), old)
        weak = by_name(report, "weak-ciphers")
        self.assertRegex(weak["why"], r"^a weak cipher suite is accepted: TLSv1\.[0-2] \S+")
        relay = by_name(report, "open-relay")
        self.assertIn("open relay", relay["why"])
        self.assertTrue(any(l.startswith("<~ 250 2.1.5") for l in relay["evidence"]), relay)
        auth = by_name(report, "plaintext-auth")
        self.assertEqual(auth["evidence"][0], "-> AUTH PLAIN", auth)
        self.assertTrue(auth["evidence"][1].startswith("<- 334 "), auth)
        self.assertIn("-> *", auth["evidence"])  # cancelled, no credential sent
        vrfy = by_name(report, "vrfy")
        self.assertIn("(252)", vrfy["why"])
        self.assertIn("(550)", vrfy["why"])
        smug = by_name(report, "smuggling-lf-dot-lf")
        self.assertRegex(smug["why"], r"\d replies came where one was due")
        self.assertTrue(any(l.startswith("<~ 250 2.0.0 Ok: queued as")
                            for l in smug["evidence"]), smug)

    def test_text_report_grouped_by_area(self):
        """the text report: the plan first, areas in order, each finding with its lines"""
        reconfigure(SECURE_MAIN, SECURE_SUBMISSION)
        r = LAB.smtpsh(["--check", "--cafile", LAB.cafile, "127.0.0.1", LAB.submission_port])
        out = r.stdout.splitlines()
        self.assertTrue(out[0].startswith("*  checking 127.0.0.1 port %d as mx"
                                          % LAB.submission_port), r.stdout)
        self.assertIn("*  no message is sent (the smuggling and CHUNKING checks need "
                      "--check-rcpt ADDRESS)", out)
        heads = [l for l in out if l.startswith("== ")]
        self.assertEqual(heads, ["== connection", "== smtp", "== tls", "== auth", "== relay",
                                 "== users", "== smuggling"])
        self.assertIn("SKIPPED   smuggling: needs a message accepted by the server: give "
                      "--check-rcpt ADDRESS (a mailbox you own)", out)
        i = out.index(next(l for l in out if l.startswith("PASS      open-relay:")))
        self.assertEqual(out[i + 1], "          | ~> MAIL FROM:<check@example.org>")
        self.assertEqual(r.rc, 0, r.describe())


if __name__ == "__main__":
    tap_main()
