#!/usr/bin/python3
"""smtpsh --check against the practice server (--serve) in each of its --check faults: every
fault is found, with the exchange that proves it, and found no more once it is off. And the
--json schema of docs/check.md: every field, of its type.

Usage: PYTHONPATH=tests/lib /usr/bin/python3 tests/practice/test_check.py [NAME...]
Prints TAP.
"""

import json
import os
import re
import shutil
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
from smtpshtest import run_smtpsh, tap_main
from practicelib import Serve

WORK = tempfile.mkdtemp(prefix="smtpsh-check-test-")
SRV = None


def setUpModule():
    global SRV
    SRV = Serve(os.path.join(WORK, "Maildir"))


def tearDownModule():
    if SRV:
        SRV.stop()
    shutil.rmtree(WORK, ignore_errors=True)


def check(*extra):
    r = run_smtpsh(["--check", "--json", "--cafile", SRV.cafile] + list(extra) +
                   ["127.0.0.1", SRV.port], home=WORK)
    try:
        report = json.loads(r.stdout)
    except ValueError:
        raise AssertionError("--json is no JSON\n" + r.describe())
    return r, report, {c["name"]: c for c in report["checks"]}


class Faults(unittest.TestCase):

    def fault(self, name, finding, verdict, clean, *extra):
        """With the fault on, finding has verdict; off again, clean."""
        SRV.control("%s on" % name)
        try:
            r, report, checks = check(*extra)
        finally:
            SRV.control("%s off" % name)
        self.assertEqual(checks[finding]["verdict"], verdict,
                         "%s: %s\n%s" % (finding, checks[finding], r.stdout))
        self.assertEqual(r.rc, 1 if verdict == "fail" else r.rc, r.describe())
        r2, report2, checks2 = check(*extra)
        self.assertEqual(checks2[finding]["verdict"], clean,
                         "%s: %s\n%s" % (finding, checks2[finding], r2.stdout))
        return checks[finding], checks2[finding]

    def test_plain_auth(self):
        """plain-auth: 334 to AUTH PLAIN before TLS is a failure, cancelled with '*'"""
        on, off = self.fault("plain-auth", "plaintext-auth", "fail", "pass")
        self.assertEqual(on["evidence"][0], "-> AUTH PLAIN")
        self.assertTrue(on["evidence"][1].startswith("<- 334 "), on)
        self.assertIn("-> *", on["evidence"])
        self.assertTrue(off["evidence"][1].startswith("<- 538 5.7.11"), off)

    def test_plain_auth_offered_on_submission(self):
        """plain-auth on a submission port: AUTH offered before STARTTLS is a warning"""
        on, off = self.fault("plain-auth", "auth-after-starttls", "warn", "pass", "--role",
                             "submission")
        self.assertIn("<- 250-AUTH PLAIN LOGIN CRAM-MD5 XOAUTH2 OAUTHBEARER", on["evidence"])

    def test_vrfy_leak(self):
        """vrfy-leak: VRFY postmaster 250, a made-up user 550: user enumeration"""
        on, off = self.fault("vrfy-leak", "vrfy", "fail", "pass")
        self.assertIn("(250)", on["why"])
        self.assertIn("(550)", on["why"])
        self.assertIn("~> VRFY postmaster", on["evidence"])

    def test_smuggling(self):
        """smuggling: "\\n.\\n" and "\\n.\\r\\n" end the data, the CR variants do not"""
        SRV.control("smuggling on")
        try:
            r, report, checks = check("--check-rcpt", "teacher@example.test")
        finally:
            SRV.control("smuggling off")
        for name in ("smuggling-lf-dot-lf", "smuggling-lf-dot-crlf"):
            self.assertEqual(checks[name]["verdict"], "fail", checks[name])
            self.assertRegex(checks[name]["why"], r"\d replies came where one was due")
            self.assertTrue(any(l.startswith("<~ 250 2.0.0 Ok: stored as")
                                for l in checks[name]["evidence"]), checks[name])
        for name in ("smuggling-cr-dot-cr", "smuggling-crlf-dot-cr", "smuggling-cr-dot-crlf",
                     "smuggling-crlf-nul-dot-crlf"):
            self.assertEqual(checks[name]["verdict"], "pass", checks[name])
        self.assertEqual(r.rc, 1)
        r, report, checks = check("--check-rcpt", "teacher@example.test")
        for name in checks:
            if name.startswith("smuggling-"):
                self.assertEqual(checks[name]["verdict"], "pass", checks[name])

    def test_chunking_exercised(self):
        """with --check-rcpt, CHUNKING is exercised: a one-chunk and a two-chunk message,
        each chunk answered 250 and NOOP after it in step; bdat-miscount short (the server
        reads one octet less) gives one reply more than due: a failure"""
        r, report, checks = check("--check-rcpt", "teacher@example.test")
        ch = checks["chunking"]
        self.assertEqual(ch["verdict"], "pass", ch)
        self.assertRegex(ch["why"], r"^CHUNKING advertised and honoured: BDAT (\d+) LAST got "
                         r"250; BDAT (\d+) got 250, BDAT (\d+) LAST 250; NOOP after each in "
                         r"step$")
        self.assertEqual(ch["evidence"][:4], ["~> MAIL FROM:<teacher@example.test>",
                                              "<~ 250 2.1.0 Ok",
                                              "~> RCPT TO:<teacher@example.test>",
                                              "<~ 250 2.1.5 Ok"])
        self.assertRegex(ch["evidence"][4], r"^~> BDAT \d+ LAST$")
        self.assertIn("~> Subject: smtpsh --check chunking: one chunk (BDAT LAST)",
                      ch["evidence"])
        # the two chunks split the Subject line: BDAT counts octets, not lines
        i = ch["evidence"].index("~> Subject: smtpsh --check chunking:")
        self.assertRegex(ch["evidence"][i - 3], r"^~> BDAT \d+$")
        self.assertRegex(ch["evidence"][i + 1], r"^<~ 250 ")
        self.assertRegex(ch["evidence"][i + 2], r"^~> BDAT \d+ LAST$")
        self.assertEqual(ch["evidence"][i + 3], "~>  two chunks")
        self.assertEqual(sum(1 for l in ch["evidence"] if l == "~> NOOP"), 2, ch)
        self.assertEqual(r.rc, 0, r.describe())
        SRV.control("bdat-miscount short")
        try:
            r, report, checks = check("--check-rcpt", "teacher@example.test")
        finally:
            SRV.control("bdat-miscount off")
        ch = checks["chunking"]
        self.assertEqual(ch["verdict"], "fail", ch)
        self.assertEqual(ch["why"], "3 replies came where 2 were due: the server did not "
                         "read the chunk as exactly its announced octets (RFC 3030 2)")
        self.assertIn("<~ 500 5.5.2 Error: bad syntax", ch["evidence"])
        self.assertEqual(r.rc, 1, r.describe())
        # long: the server waits for an octet more than the chunk has, so no reply comes:
        # undecided, never a pass
        SRV.control("bdat-miscount long")
        try:
            r, report, checks = check("--check-rcpt", "teacher@example.test", "--timeout", "2")
        finally:
            SRV.control("bdat-miscount off")
        ch = checks["chunking"]
        self.assertEqual(ch["verdict"], "undecided", ch)
        self.assertEqual(ch["why"], "could not be decided: no reply to BDAT within 2 s")

    def test_chunking_not_exercised_without_check_rcpt(self):
        """without --check-rcpt no BDAT is sent: CHUNKING is reported, and why it was not
        exercised"""
        r, report, checks = check()
        ch = checks["chunking"]
        self.assertEqual(ch["verdict"], "info", ch)
        self.assertEqual(ch["why"], "CHUNKING advertised; BDAT not exercised (it needs a "
                         "message accepted by the server: give --check-rcpt ADDRESS)")
        self.assertEqual(ch["evidence"], ["<- 250-CHUNKING", "<~ 250-CHUNKING"])
        self.assertNotIn("~> BDAT", r.stdout)

    def test_starttls_injection(self):
        """starttls-injection: the NOOP pipelined after STARTTLS is answered inside TLS"""
        on, off = self.fault("starttls-injection", "starttls-injection", "fail", "pass")
        self.assertIn("-> STARTTLS", on["evidence"])
        self.assertIn("-> NOOP\\r\\n  \t[chunk]", on["evidence"])
        self.assertIn("CVE-2011-0411", on["why"])

    def test_old_tls(self):
        """old-tls: TLS 1.0 and 1.1 accepted (warnings), an anonymous suite too (a failure)"""
        SRV.control("old-tls on")
        try:
            r, report, checks = check()
        finally:
            SRV.control("old-tls off")
        self.assertEqual(checks["tls10"]["verdict"], "warn", checks["tls10"])
        self.assertEqual(checks["tls11"]["verdict"], "warn", checks["tls11"])
        self.assertEqual(checks["weak-ciphers"]["verdict"], "fail", checks["weak-ciphers"])
        self.assertTrue(any(l.startswith("*  TLSv1 ") for l in checks["tls10"]["evidence"]),
                        checks["tls10"])
        r, report, checks = check()
        for name in ("tls10", "tls11", "weak-ciphers"):
            self.assertEqual(checks[name]["verdict"], "pass", checks[name])

    def test_open_relay(self):
        """open-relay: RCPT to example.com without AUTH accepted is a failure; off, Postfix's
        554 5.7.1 Relay access denied passes"""
        on, off = self.fault("open-relay", "open-relay", "fail", "pass")
        self.assertIn("~> RCPT TO:<check@example.com>", on["evidence"])
        self.assertIn("~> RSET", on["evidence"])
        self.assertNotIn("~> DATA", on["evidence"])
        self.assertTrue(any(l.startswith("<~ 554 5.7.1 <check@example.com>: Relay access "
                                         "denied") for l in off["evidence"]), off)

    def test_secure_by_default(self):
        """the default practice server passes: no failure, no warning (its certificate lives
        long enough, it relays for nobody); only smuggling is skipped without --check-rcpt"""
        r, report, checks = check()
        bad = {n: c for n, c in checks.items() if c["verdict"] not in ("pass", "info")}
        self.assertEqual(list(bad), ["smuggling"], "%s\n%s" % (bad, r.stdout))
        self.assertEqual(bad["smuggling"]["verdict"], "skipped")
        self.assertEqual(r.rc, 0, r.describe())

    def test_smuggling_skipped_without_check_rcpt(self):
        """without --check-rcpt no message is sent: smuggling is skipped, and why"""
        r, report, checks = check()
        self.assertEqual(checks["smuggling"]["verdict"], "skipped")
        self.assertIn("--check-rcpt", checks["smuggling"]["why"])
        self.assertFalse(any(n.startswith("smuggling-") for n in checks))


class InTheShell(unittest.TestCase):

    def test_check_command(self):
        """\\check in the shell: the battery against the connected server, its report
        indented, the shell's own connection untouched; \\help names it"""
        r = run_smtpsh(["--practice"], "\\check --role submission\nNOOP\n\\help check\n"
                       "QUIT\n", home=WORK)
        out = r.out().splitlines()
        self.assertTrue(any(l.startswith("   *  checking 127.0.0.1 port ") and
                            l.endswith("as submission: at most 4 connections at once; nothing is "
                                       "sent but what follows") for l in out), r.describe())
        self.assertIn("   PASS      plaintext-auth: AUTH refused before TLS (538)", out)
        self.assertIn("   PASS      open-relay: RCPT to example.com refused (554)", out)
        # the shell's connection goes on after the check
        i = out.index("-> NOOP")
        self.assertEqual(out[i + 1], "<- 250 2.0.0 Ok")
        self.assertTrue(any("\\check [--role mx|submission] [--check-rcpt ADDRESS]" in l
                            for l in out), r.stdout)
        self.assertEqual(r.rc, 0, r.describe())

    def test_check_needs_a_server(self):
        r = run_smtpsh([], "\\check\n", home=WORK)
        self.assertIn("\\check: no server yet", r.stderr)


class Schema(unittest.TestCase):

    def test_every_field_of_its_type(self):
        """--json: the fields docs/check.md documents, of their types, and nothing else"""
        r, report, checks = check("--role", "submission")
        self.assertEqual(set(report), {"tool", "version", "schema", "host", "port", "role",
                                       "implicit_tls", "connected", "elapsed_ms", "exit",
                                       "summary", "checks"})
        self.assertEqual(report["tool"], "smtpsh")
        self.assertIsInstance(report["version"], str)
        self.assertEqual(report["schema"], 1)
        self.assertEqual(report["host"], "127.0.0.1")
        self.assertEqual(report["port"], str(SRV.port))
        self.assertEqual(report["role"], "submission")
        self.assertIs(report["implicit_tls"], False)
        self.assertIs(report["connected"], True)
        self.assertIsInstance(report["elapsed_ms"], int)
        self.assertEqual(report["exit"], r.rc)
        verdicts = ["pass", "warn", "fail", "info", "undecided", "skipped"]
        self.assertEqual(list(report["summary"]), verdicts)
        counts = {v: 0 for v in verdicts}
        areas = {"connection", "smtp", "tls", "auth", "relay", "users", "smuggling"}
        for c in report["checks"]:
            self.assertEqual(set(c), {"area", "name", "verdict", "why", "sends", "evidence"})
            self.assertIn(c["area"], areas)
            self.assertIn(c["verdict"], verdicts)
            self.assertTrue(c["why"] and "\n" not in c["why"], c)
            self.assertTrue(c["sends"], c)
            self.assertIsInstance(c["evidence"], list)
            for line in c["evidence"]:
                self.assertIsInstance(line, str)
                self.assertNotIn("\n", line)
            counts[c["verdict"]] += 1
        self.assertEqual(report["summary"], counts)
        self.assertEqual(len(checks), len(report["checks"]), "names are unique")
        # the plan went to standard error, the JSON alone to standard output
        self.assertIn("*  checking 127.0.0.1 port %d as submission" % SRV.port, r.stderr)


if __name__ == "__main__":
    tap_main()
