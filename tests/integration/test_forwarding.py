#!/usr/bin/python3
"""smtpsh speaking Postfix's XCLIENT and XFORWARD and sending PROXY headers (issue 14), against
the Postfix lab (tests/lab: XCLIENT_PORT with smtpd_authorized_xclient_hosts and
smtpd_authorized_xforward_hosts, PROXY_PORT with smtpd_upstream_proxy_protocol = haproxy; the
raw-socket facts are in test_postfix_extensions.py). Each proves itself in Postfix's log: the
client Postfix believes in is the forwarded one.

Usage: /usr/bin/python3 tests/integration/test_forwarding.py [SMTPSH] [NAME...]   (TAP)
"""

import re
import sys
import unittest

sys.dont_write_bytecode = True
from lablib import ModuleLab
from smtpshtest import script, tap_main, token

LAB = ModuleLab()
setUpModule, tearDownModule = LAB.start, LAB.stop


def message(tok):
    return ["MAIL FROM:<s@client.test>", "RCPT TO:<alice@example.test>", "DATA",
            "Subject: " + tok, "", "hello", "."]


class Xclient(unittest.TestCase):

    def test_xclient_new_greeting(self):
        """XCLIENT's 220 is a new greeting: phase greeted, extensions forgotten, EHLO again"""
        offset = LAB.log_size()
        tok = token()
        r = LAB.smtpsh(["--strict", "127.0.0.1", LAB.xclient_port], script(
            ["EHLO proxy.test", "XCLIENT NAME=client.example ADDR=192.0.2.7 PORT=4711",
             "\\caps", "\\status", "EHLO x.test"] + message(tok) + ["QUIT"]))
        self.assertEqual(r.rc, 0, r.describe())
        out = r.stdout
        self.assertIn("<- 220 lab.example.test ESMTP smtpsh test lab\n*  XCLIENT accepted: "
                      "that reply is the new greeting; the extensions are forgotten, EHLO "
                      "comes next", out)
        # \caps between XCLIENT and the next EHLO: nothing known
        after = out.split("XCLIENT accepted", 1)[1]
        self.assertIn("*  no capabilities known: send EHLO", after)
        self.assertRegex(after, r"phase:\s+greeted")
        self.assertNotIn("the server sent a reply no command was waiting for", out)
        qid = re.search(r"queued as ([0-9A-Z]+)", out).group(1)
        LAB.wait_log(offset, r"xclient/smtpd\[\d+\]: %s: client=client\.example\[192\.0\.2\.7\]$"
                     % qid)
        LAB.wait_for_message("alice", tok)

    def test_xclient_refused(self):
        """XCLIENT where it is not authorized: a 550 reply, nothing forgotten"""
        r = LAB.smtpsh(["127.0.0.1", LAB.plain_port], script(
            ["EHLO proxy.test", "XCLIENT ADDR=192.0.2.7", "\\status", "QUIT"]))
        self.assertEqual(r.rc, 0, r.describe())
        self.assertRegex(r.stdout, r"(?m)^<- 5\d\d ")
        self.assertNotIn("XCLIENT accepted", r.stdout)
        self.assertRegex(r.stdout, r"phase:\s+ready")

    def test_xforward(self):
        """XFORWARD: 250; Postfix logs the original client beside the real one"""
        offset = LAB.log_size()
        tok = token()
        r = LAB.smtpsh(["--strict", "127.0.0.1", LAB.xclient_port], script(
            ["EHLO proxy.test", "XFORWARD NAME=orig.example ADDR=198.51.100.9 PROTO=ESMTP"]
            + message(tok) + ["QUIT"]))
        self.assertEqual(r.rc, 0, r.describe())
        self.assertRegex(r.stdout, r"(?m)^-> XFORWARD NAME=orig\.example ADDR=198\.51\.100\.9 "
                                   r"PROTO=ESMTP\n<- 250 2\.0\.0 Ok$")
        qid = re.search(r"queued as ([0-9A-Z]+)", r.stdout).group(1)
        LAB.wait_log(offset, r"%s: client=unknown\[127\.0\.0\.1\], "
                             r"orig_client=orig\.example\[198\.51\.100\.9\]" % qid)


class Proxy(unittest.TestCase):

    def check(self, version, source, shown):
        offset = LAB.log_size()
        args = ["--strict", "--proxy", version]
        if source:
            args += ["--proxy-from", source]
        r = LAB.smtpsh(args + ["127.0.0.1", LAB.proxy_port], script(["EHLO me", "QUIT"]))
        self.assertEqual(r.rc, 0, r.describe())
        lines = r.stdout.split("\n")
        i = next(i for i, l in enumerate(lines) if l.startswith("*  PROXY "))
        self.assertRegex(lines[i], shown)
        self.assertTrue(lines[i - 1].startswith("*  connected to 127.0.0.1"), lines[i - 1])
        self.assertTrue(lines[i + 1].startswith("<- 220 "), "the header before the greeting")
        return offset

    def test_v1(self):
        """--proxy v1 --proxy-from: Postfix logs the header's client"""
        offset = self.check("v1", "203.0.113.5:5555",
                            r"^\*  PROXY v1 header sent \(\d+ bytes\): PROXY TCP4 from "
                            r"203\.0\.113\.5 port 5555 to 127\.0\.0\.1 port %d$" % LAB.proxy_port)
        LAB.wait_log(offset, r"proxy/smtpd\[\d+\]: connect from unknown\[203\.0\.113\.5\]$")

    def test_v2(self):
        """--proxy v2: the binary header, shown decoded; Postfix logs its client"""
        offset = self.check("v2", "198.51.100.20:6666",
                            r"^\*  PROXY v2 header sent \(28 bytes, binary\): PROXY TCP4 from "
                            r"198\.51\.100\.20 port 6666 to 127\.0\.0\.1 port %d$"
                            % LAB.proxy_port)
        LAB.wait_log(offset, r"proxy/smtpd\[\d+\]: connect from unknown\[198\.51\.100\.20\]$")

    def test_v2_default_source(self):
        """--proxy v2 without --proxy-from: the connection's own local address"""
        offset = self.check("v2", None, r"PROXY TCP4 from 127\.0\.0\.1 port \d+ to 127\.0\.0\.1")
        LAB.wait_log(offset, r"proxy/smtpd\[\d+\]: connect from localhost\[127\.0\.0\.1\]$|"
                             r"proxy/smtpd\[\d+\]: connect from unknown\[127\.0\.0\.1\]$")

    def test_family_mismatch(self):
        """an IPv6 --proxy-from on an IPv4 connection: said, nothing sent"""
        r = LAB.smtpsh(["--proxy", "v1", "--proxy-from", "[2001:db8::1]:1", "127.0.0.1",
                        LAB.proxy_port], script(["EHLO me"]))
        self.assertNotEqual(r.rc, 0)
        self.assertIn("--proxy-from [2001:db8::1]:1 is IPv6 but the connection is IPv4",
                      r.stdout + r.stderr)

    def test_bad_options(self):
        """--proxy v3, --proxy-from nonsense, --proxy-from alone: usage errors"""
        for args, msg in ((["--proxy", "v3"], "--proxy takes v1 or v2"),
                          (["--proxy", "v1", "--proxy-from", "host:25"], "ADDR:PORT"),
                          (["--proxy-from", "192.0.2.1:1"], "--proxy-from goes with --proxy")):
            r = LAB.smtpsh(args + ["127.0.0.1", LAB.proxy_port], b"")
            self.assertEqual(r.rc, 2, r.describe())
            self.assertIn(msg, r.stderr)


if __name__ == "__main__":
    tap_main()
