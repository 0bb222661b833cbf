#!/usr/bin/python3
"""smtpsh --check --mx DOMAIN [PORT]: the route's findings (MX, DNSSEC, DANE, MTA-STS) and the
--check battery against every MX host, the real binary against the lab of test_mx.py (Knot
serving signed zones on loopback, the Postfix lab, the MTA-STS policy server). Every
assertion is on the words of the report.

Usage: test_check_mx.py [SMTPSH_BINARY] [TEST_NAME_PATTERN...]
"""

import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import unittest

import test_mx
from test_mx import DOWN, E, mx, setUpModule, tearDownModule  # noqa: F401 (the lab)
from smtpshtest import run_smtpsh, tap_main


def check(domain, *opts, port=None):
    """smtpsh --check --mx DOMAIN PORT (default: the Postfix lab's STARTTLS port)."""
    return mx(domain, port, "--check", *opts, stdin=b"", timeout_s=5)


def port():
    return E.postfix.submission_port


class Route(unittest.TestCase):
    def test_dane_matched_and_each_mx_gets_its_battery(self):
        r = check("dane3.example.net")
        out = r.stdout
        self.assertIn("*  MX of dane3.example.net (secure): 1 host, tried by preference", out)
        self.assertIn("smtpsh --check --mx dane3.example.net port %d" % port(), out)
        self.assertIn("PASS      mx: 1 MX host, tried by preference (RFC 5321 5.1)", out)
        self.assertIn("PASS      mx-dnssec: the MX RRset is signed and validated", out)
        self.assertIn("=== MX 1 of 1 (preference 10)", out)
        self.assertIn("smtpsh --check mx-dane3.example.net (127.0.0.1) port %d (mx)" % port(),
                      out)
        self.assertIn("PASS      dane: 1 secure TLSA record at _%d._tcp.mx-dane3.example.net: "
                      "3 1 1 matched the leaf key" % port(), out)
        self.assertRegex(out, r"\nPASS      greeting: ")
        self.assertIn("INFO      mta-sts: no MTA-STS policy", out)
        # the name TLS checks is the MX host's, not the address connected to (the lab's
        # certificate names localhost and 127.0.0.1)
        self.assertIn("INFO      certificate-name: the certificate does not name "
                      "mx-dane3.example.net (WebPKI); DANE authenticates this host (see dane)",
                      out)
        # DANE-EE authenticates the self-signed certificate (RFC 7672 3.1.1)
        self.assertIn("INFO      certificate-trust: not trusted: self-signed certificate "
                      "(WebPKI); DANE authenticates this host (see dane)", out)
        self.assertIn(r.rc, (0, 1), out + r.stderr)

    def test_dane_mismatch_fails(self):
        r = check("danebad.example.net")
        self.assertIn("FAIL      dane: secure TLSA records at _%d._tcp.mx-bad.example.net, but "
                      "no TLSA record matched" % port(), r.stdout)
        self.assertRegex(r.stdout, r"\nPASS      greeting: ")
        # no DANE to fall back on: the WebPKI findings stay failures
        self.assertIn("FAIL      certificate-trust: not trusted: self-signed certificate\n",
                      r.stdout)
        self.assertEqual(r.rc, 1, r.stdout + r.stderr)

    def test_insecure_zone_dane_not_available(self):
        r = check("insecure.example.net")
        self.assertIn("INFO      mx-dnssec: the MX RRset is not signed (DNSSEC insecure)",
                      r.stdout)
        self.assertIn("INFO      dane: DANE not available: ", r.stdout)
        self.assertRegex(r.stdout, r"\nPASS      greeting: ")

    def test_bogus_fails(self):
        r = check("bogus.example.net")
        self.assertRegex(r.stdout, r"FAIL      mx: MX lookup of bogus\.example\.net: bogus")
        self.assertNotIn("=== MX", r.stdout)
        self.assertEqual(r.rc, 1, r.stdout + r.stderr)

    def test_null_mx_is_information(self):
        r = check("nullmx.example.net")
        self.assertIn('INFO      mx: nullmx.example.net accepts no mail: its MX is the null MX '
                      '"0 ." (RFC 7505); no host to check', r.stdout)
        self.assertNotIn("=== MX", r.stdout)
        self.assertEqual(r.rc, 0, r.stdout + r.stderr)

    def test_implicit_mx_is_information(self):
        r = check("implicit.example.net")
        self.assertIn("INFO      mx: no MX (NODATA): the domain's own address receives its "
                      "mail (implicit MX, RFC 5321 5.1)", r.stdout)
        self.assertIn("smtpsh --check implicit.example.net (127.0.0.1)", r.stdout)

    def test_unreachable_mx_is_undecided_the_next_is_checked(self):
        r = check("fallback.example.net")
        out = r.stdout
        self.assertIn("=== MX 1 of 2 (preference 10)", out)
        self.assertIn("smtpsh --check mx-down.example.net (%s) port %d (mx)" % (DOWN, port()),
                      out)
        first, second = out.split("=== MX 1 of 2", 1)[1].split("=== MX 2 of 2", 1)
        self.assertRegex(first, r"\nUNDECIDED greeting: could not be decided")
        self.assertNotRegex(first, r"\nPASS ")
        self.assertIn("smtpsh --check mx-up.example.net (127.0.0.1) port %d (mx)" % port(),
                      second)
        self.assertRegex(second, r"\nPASS      greeting: ")
        self.assertEqual(r.rc, 1, out + r.stderr)


class EveryAddress(unittest.TestCase):
    """An MX host with two addresses (A 127.0.0.1, AAAA ::1), a different server behind
    each on the same port: both are checked; a finding that is the same at both is
    reported once, one that differs once per address."""

    @classmethod
    def setUpClass(cls):
        cls.socks = []
        for _ in range(20):
            v6 = socket.socket(socket.AF_INET6)
            v6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            v6.bind(("::1", 0))
            v4 = socket.socket()
            try:
                v4.bind(("127.0.0.1", v6.getsockname()[1]))
            except OSError:
                v6.close()
                v4.close()
                continue
            break
        else:
            raise AssertionError("no port free on both 127.0.0.1 and ::1")
        cls.port = v6.getsockname()[1]
        cls.seen = {"127.0.0.1": 0, "::1": 0}
        for sock, name, caps in ((v4, "127.0.0.1", b"250-v4.example\r\n250 PIPELINING\r\n"),
                                 (v6, "::1", b"250 v6.example\r\n")):
            sock.listen(16)
            cls.socks.append(sock)
            threading.Thread(target=cls.accept, args=(sock, name, caps), daemon=True).start()

    @classmethod
    def tearDownClass(cls):
        for s in cls.socks:
            s.close()

    @classmethod
    def accept(cls, sock, name, caps):
        while True:
            try:
                c, _ = sock.accept()
            except OSError:
                return
            cls.seen[name] += 1
            threading.Thread(target=cls.serve, args=(c, caps), daemon=True).start()

    @staticmethod
    def serve(conn, caps):
        """greets, EHLO with caps (PIPELINING only at 127.0.0.1), 250 to the rest"""
        try:
            conn.sendall(b"220 lab ESMTP\r\n")
            for line in conn.makefile("rb"):
                verb = line.split(b" ")[0].strip().upper()
                if verb == b"EHLO":
                    conn.sendall(caps)
                elif verb == b"QUIT":
                    conn.sendall(b"221 bye\r\n")
                    break
                else:
                    conn.sendall(b"250 ok\r\n")
        except OSError:
            pass
        finally:
            conn.close()

    def test_both_addresses_checked_differences_per_address(self):
        r = check("twoaddr.example.net", port=self.port)
        out = r.stdout
        self.assertIn("smtpsh --check mx-two.example.net (::1, 127.0.0.1) port %d (mx)"
                      % self.port, out)
        self.assertGreater(self.seen["::1"], 1, out)
        self.assertGreater(self.seen["127.0.0.1"], 1, out)
        # the same at both: once, as it is
        self.assertEqual(len(re.findall(r"\nPASS      greeting: ", out)), 1, out)
        self.assertEqual(len(re.findall(r"\n\w+ +starttls-offered: ", out)), 1, out)
        # different: once per address, which says so
        self.assertIn("\nINFO      pipelining: [::1] PIPELINING not advertised (RFC 2920)", out)
        self.assertIn("\nPASS      pipelining: [127.0.0.1] three commands in one write, three "
                      "replies in order", out)
        self.assertIn("*  checking MX 1 of 1: mx-two.example.net (::1, 127.0.0.1) port %d"
                      % self.port, out)

    def test_json_addresses(self):
        r = check("twoaddr.example.net", "--json", port=self.port)
        doc = json.loads(r.stdout)
        host = doc["hosts"][0]
        self.assertEqual(host["addresses"], ["::1", "127.0.0.1"])
        pipelining = [c for c in host["checks"] if c["name"] == "pipelining"]
        self.assertEqual([(c["verdict"], c["why"][:12]) for c in pipelining],
                         [("info", "[::1] PIPELI"), ("pass", "[127.0.0.1] ")])
        self.assertEqual(sum(1 for c in host["checks"] if c["name"] == "greeting"), 1)

    def test_minus_4_checks_only_the_a_address(self):
        r = check("twoaddr.example.net", "-4", port=self.port)
        self.assertIn("smtpsh --check mx-two.example.net (127.0.0.1) port %d (mx)" % self.port,
                      r.stdout)
        self.assertIn("\nPASS      pipelining: three commands in one write", r.stdout)


class MtaSts(unittest.TestCase):
    def test_enforce_listed_passes(self):
        r = check("sts.example.net")
        self.assertIn("PASS      mta-sts: MTA-STS policy (fetched, id 20261207T01): mode "
                      "enforce", r.stdout)
        self.assertIn("PASS      mta-sts-mx: mx-sts1.example.net is listed in the MTA-STS "
                      "policy (mode enforce)", r.stdout)

    def test_enforce_unlisted_fails(self):
        r = check("stsbad.example.net")
        self.assertIn("FAIL      mta-sts-mx: mx-elsewhere.example.net is not listed in the "
                      "MTA-STS policy (enforce, RFC 8461 4.1)", r.stdout)
        self.assertEqual(r.rc, 1, r.stdout + r.stderr)

    def test_testing_unlisted_warns(self):
        r = check("ststesting.example.net")
        self.assertIn("WARN      mta-sts-mx: mx-elsewhere.example.net is not listed in the "
                      "MTA-STS policy (testing", r.stdout)


class Json(unittest.TestCase):
    def test_json_route_and_hosts(self):
        r = check("fallback.example.net", "--json")
        doc = json.loads(r.stdout)
        self.assertTrue(doc["mx"])
        self.assertEqual(doc["domain"], "fallback.example.net")
        self.assertEqual(doc["port"], str(port()))
        self.assertEqual(doc["route"], "mx")
        self.assertEqual(doc["dnssec"], "secure")
        self.assertEqual(doc["exit"], r.rc)
        route = {c["name"]: c["verdict"] for c in doc["checks"]}
        self.assertEqual(route["mx"], "pass")
        self.assertEqual(route["mx-dnssec"], "pass")
        self.assertEqual([(h["mx"], h["host"], h["name"], h["pref"]) for h in doc["hosts"]],
                         [("mx-down.example.net", DOWN, "mx-down.example.net", 10),
                          ("mx-up.example.net", "127.0.0.1", "mx-up.example.net", 20)])
        down, up = ({c["name"]: c["verdict"] for c in h["checks"]} for h in doc["hosts"])
        self.assertEqual(down["greeting"], "undecided")
        self.assertFalse(doc["hosts"][0]["connected"])
        self.assertEqual(up["greeting"], "pass")
        self.assertTrue(doc["hosts"][1]["connected"])
        self.assertIn("MX of fallback.example.net (secure)", r.stderr)  # the route: not stdout


class Interrupt(unittest.TestCase):
    def test_ctrl_c_in_the_dns_phase_stops_at_once(self):
        """Ctrl-C while the route's lookups wait on a resolver that never answers: smtpsh
        stops at once (not at --timeout), says so, and exits 130"""
        silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        silent.bind(("127.0.0.1", 0))
        try:
            p = subprocess.Popen(
                [os.environ["SMTPSH"], "--check", "--mx", "fallback.example.net",
                 "--resolver", "127.0.0.1@%d" % silent.getsockname()[1], "--trust-anchor",
                 E.lab.trust_anchor, "--timeout", "30"],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            time.sleep(1)
            self.assertIsNone(p.poll(), "still waiting for the resolver")
            t0 = time.monotonic()
            p.send_signal(signal.SIGINT)
            out, err = p.communicate(timeout=20)
            took = time.monotonic() - t0
        finally:
            silent.close()
        self.assertLess(took, 1.0, "stopped %.1f s after Ctrl-C" % took)
        self.assertEqual(p.returncode, 130, err)
        self.assertEqual(err.decode(), "smtpsh: interrupted: the DNS lookups of "
                         "fallback.example.net were cancelled; nothing was checked\n")
        self.assertNotIn(b"=== MX", out)


class Usage(unittest.TestCase):
    def test_options_that_do_not_apply_are_refused(self):
        for opt in (["--role", "submission"], ["--sni", "mx.example.net"]):
            r = run_smtpsh(["--check", "--mx"] + opt + ["example.net"])
            self.assertIn("--check --mx checks every MX host as mx under its own name: %s "
                          "does not apply" % opt[0], r.stderr)
            self.assertEqual(r.rc, 2)


if __name__ == "__main__":
    tap_main()
