#!/usr/bin/python3
"""smtpsh --check --mx DOMAIN [PORT]: the route's findings (MX, DNSSEC, DANE, MTA-STS) and the
--check battery against every MX host, the real binary against the lab of test_mx.py (Knot
serving signed zones on loopback, the Postfix lab, the MTA-STS policy server). Every
assertion is on the words of the report.

Usage: test_check_mx.py [SMTPSH_BINARY] [TEST_NAME_PATTERN...]
"""

import json
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


class Usage(unittest.TestCase):
    def test_options_that_do_not_apply_are_refused(self):
        for opt in (["--role", "submission"], ["--sni", "mx.example.net"]):
            r = run_smtpsh(["--check", "--mx"] + opt + ["example.net"])
            self.assertIn("--check --mx checks every MX host as mx under its own name: %s "
                          "does not apply" % opt[0], r.stderr)
            self.assertEqual(r.rc, 2)


if __name__ == "__main__":
    tap_main()
