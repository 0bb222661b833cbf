#!/usr/bin/python3
"""The DNS, DANE, HTTPS and MTA-STS services of the core library (through tests/dns/dnstool)
against a private DNSSEC lab on loopback: Knot serving signed zones (tests/lib/dnslab.py), a
TLS server presenting a certificate of a test CA (the "MX host"), and an HTTPS server with a
certificate of the same CA serving MTA-STS policies. PosttlsFinger runs Postfix's
posttls-finger on the same zones (through Debian's unbound as a validating resolver on a
loopback address of its own, seen through a bind-mounted resolv.conf in a private mount
namespace) and expects the same MX order and DANE verdicts. Nothing leaves the machine.

Usage: test_dns.py [TEST_NAME_PATTERN...]   (DNSTOOL=path/to/dnstool)
"""

import hashlib
import http.server
import os
import re
import socket
import ssl
import stat
import subprocess
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
import dnslab
from dnslab import HttpsServer, TlsServer, spki_sha256
from smtpshtest import openssl, run_smtpsh, tap_main

DNSTOOL = os.environ.get("DNSTOOL") or os.path.join(
    os.path.dirname(os.path.dirname(HERE)), "build", "tests", "dns", "dnstool")

PARENT = "example.net."
GOOD_POLICY = ("version: STSv1\r\nmode: enforce\r\nmx: mx-sts1.example.net\r\n"
               "mx: *.sts-pool.example.net\r\nmax_age: 86400\r\n")


def make_certs(d):
    """A test CA, a leaf for the MX hosts (chain: leaf + CA) and one for the policy hosts."""
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=smtpsh DNS lab CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)

    def leaf(name, sans, expired=False):
        with open(os.path.join(d, name + ".ext"), "w") as f:
            f.write("subjectAltName=%s\nextendedKeyUsage=serverAuth\n" %
                    ",".join("DNS:" + s for s in sans))
        openssl("req", *ec, "-keyout", name + ".key", "-out", name + ".csr",
                "-subj", "/CN=" + sans[0], cwd=d)
        if expired:
            # `openssl ca` is the command line's way to give a certificate past dates
            with open(os.path.join(d, "ca.cnf"), "w") as f:
                f.write("[ca]\ndefault_ca=lab\n[lab]\ndatabase=index.txt\n"
                        "new_certs_dir=.\nserial=serial\ndefault_md=sha256\npolicy=any\n"
                        "[any]\ncommonName=supplied\n")
            open(os.path.join(d, "index.txt"), "w").close()
            with open(os.path.join(d, "serial"), "w") as f:
                f.write("1000\n")
            openssl("ca", "-batch", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile",
                    "ca.key", "-in", name + ".csr", "-out", name + ".pem", "-notext",
                    "-startdate", "20200101000000Z", "-enddate", "20200102000000Z",
                    "-extfile", name + ".ext", cwd=d)
        else:
            openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                    "-CAcreateserial", "-days", "2", "-out", name + ".pem", "-extfile",
                    name + ".ext", cwd=d)
        with open(os.path.join(d, name + "-chain.pem"), "w") as out:
            for part in (name + ".pem", "ca.pem"):
                with open(os.path.join(d, part)) as f:
                    out.write(f.read())

    leaf("mx", ["mx-dane3.example.net", "mx-dane2.example.net", "mx-bad.example.net"])
    # expired in 2020 (names both hosts that use it: the expiry tests test only expiry)
    leaf("old", ["mx-old.example.net", "mx-exp3.example.net"], expired=True)
    leaf("web", ["mta-sts." + s + ".example.net"
                 for s in ("sts", "stsbad", "stsredirect", "stsbig", "stsstream", "sts2",
                           "ststype", "sts404")])


def der(pem_path):
    with open(pem_path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


class PolicyHandler(http.server.BaseHTTPRequestHandler):
    """mta-sts.<case>.example.net/.well-known/mta-sts.txt, by Host header."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        host = (self.headers.get("Host") or "").split(":")[0]
        case = host[len("mta-sts."):].split(".")[0] if host.startswith("mta-sts.") else ""
        if self.path != "/.well-known/mta-sts.txt":
            return self._send(404, b"not found")
        if case in ("sts", "stsbad", "sts2"):
            return self._send(200, GOOD_POLICY.encode())
        if case == "stsredirect":
            self.send_response(301)
            self.send_header("Location", "https://elsewhere.example.net/policy")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if case == "stsbig":  # over 64 KiB, with a Content-Length
            return self._send(200, GOOD_POLICY.encode() + b"x: " + b"y" * 70000 + b"\n")
        if case == "stsstream":  # over 64 KiB, no length: ends when the connection does
            self.protocol_version = "HTTP/1.0"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            try:
                for _ in range(200):
                    self.wfile.write(b"x: " + b"y" * 1000 + b"\n")
            except OSError:
                pass  # the client stopped reading: what the test wants
            return None
        if case == "ststype":  # 3.3: the policy is text/plain
            return self._send(200, GOOD_POLICY.encode(), "text/plainx")
        return self._send(404, b"no such case")

    def _send(self, code, body, ctype="text/plain"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass  # the client stopped reading (the 64 KiB limit): what the test wants


class Env:
    dir = None
    lab = None
    tls = None
    old = None
    https = None


E = Env()


def zone_records(tls_port, old_port):
    d = E.dir
    ee = spki_sha256(os.path.join(d, "mx.pem"))
    old_ee = spki_sha256(os.path.join(d, "old.pem"))
    old_tcp = "_%d._tcp" % old_port
    ta = hashlib.sha256(der(os.path.join(d, "ca.pem"))).hexdigest()
    wrong = hashlib.sha256(b"not the key").hexdigest()
    tcp = "_%d._tcp" % tls_port
    lo = "127.0.0.1"
    recs = [
        # RFC 5321 5.1 ordering: 10 (two, random order), 20, 30
        "ordered MX 20 mx-b", "ordered MX 10 mx-a1", "ordered MX 30 mx-c",
        "ordered MX 10 mx-a2",
        "mx-a1 A 127.0.0.11", "mx-a2 A 127.0.0.12", "mx-b A 127.0.0.13", "mx-c A 127.0.0.14",
        "mx-c AAAA ::1",
        "implicit A 127.0.0.5",
        "nullmx MX 0 .",
        "cname MX 10 alias", "alias CNAME mx-a1",
        # DANE cases, TLSA on the lab TLS server's port
        "dane3 MX 10 mx-dane3", "mx-dane3 A " + lo, "%s.mx-dane3 TLSA 3 1 1 %s" % (tcp, ee),
        "dane2 MX 10 mx-dane2", "mx-dane2 A " + lo, "%s.mx-dane2 TLSA 2 0 1 %s" % (tcp, ta),
        # DANE-TA, but the certificate does not name mx-name (RFC 7672 3.2.2 name checks)
        "danename MX 10 mx-name", "mx-name A " + lo, "%s.mx-name TLSA 2 0 1 %s" % (tcp, ta),
        "danebad MX 10 mx-bad", "mx-bad A " + lo, "%s.mx-bad TLSA 3 1 1 %s" % (tcp, wrong),
        # DANE-EE(3) ignores names and dates (RFC 7672 3.1.1): a host the certificate does
        # not name, and an expired certificate; DANE-TA(2) checks both
        "daneee MX 10 mx-unnamed", "mx-unnamed A " + lo,
        "%s.mx-unnamed TLSA 3 1 1 %s" % (tcp, ee),
        "expee MX 10 mx-exp3", "mx-exp3 A " + lo, "%s.mx-exp3 TLSA 3 1 1 %s" % (old_tcp, old_ee),
        "expta MX 10 mx-old", "mx-old A " + lo, "%s.mx-old TLSA 2 0 1 %s" % (old_tcp, ta),
        "unusable MX 10 mx-unusable", "mx-unusable A " + lo,
        "%s.mx-unusable TLSA 1 1 1 %s" % (tcp, ee),
        # MTA-STS and the records \dns shows
        "sts MX 10 mx-sts1", "mx-sts1 A " + lo,
        '_mta-sts.sts TXT "v=STSv1; id=20261207T01;"', "mta-sts.sts A " + lo,
        'sts TXT "v=spf1 ip4:127.0.0.0/8 -all"', 'sts TXT "unrelated text"',
        '_dmarc.sts TXT "v=DMARC1; p=reject; rua=mailto:dmarc@example.net"',
        '_smtp._tls.sts TXT "v=TLSRPTv1; rua=mailto:tlsrpt@example.net"',
        'split TXT "v=spf1 " "ip4:127.0.0.1" " -all"',
        "stsbad MX 10 mx-elsewhere", "mx-elsewhere A " + lo,
        '_mta-sts.stsbad TXT "v=STSv1; id=1"', "mta-sts.stsbad A " + lo,
        "sts2 MX 10 mx-sts1", '_mta-sts.sts2 TXT "v=STSv1; id=new2"', "mta-sts.sts2 A " + lo,
        "stsredirect MX 10 mx-sts1", '_mta-sts.stsredirect TXT "v=STSv1; id=1"',
        "mta-sts.stsredirect A " + lo,
        "stsbig MX 10 mx-sts1", '_mta-sts.stsbig TXT "v=STSv1; id=1"', "mta-sts.stsbig A " + lo,
        "stsstream MX 10 mx-sts1", '_mta-sts.stsstream TXT "v=STSv1; id=1"',
        "mta-sts.stsstream A " + lo,
        "stsdouble MX 10 mx-sts1", '_mta-sts.stsdouble TXT "v=STSv1; id=1"',
        '_mta-sts.stsdouble TXT "v=STSv1; id=2"',
        "ststype MX 10 mx-sts1", '_mta-sts.ststype TXT "v=STSv1; id=1"', "mta-sts.ststype A " + lo,
        "sts404 MX 10 mx-sts1", '_mta-sts.sts404 TXT "v=STSv1; id=1"', "mta-sts.sts404 A " + lo,
    ]
    child = lambda: ["@ MX 10 mx", "mx A 127.0.0.1",
                     "%s.mx TLSA 3 1 1 %s" % (tcp, ee)]
    children = {"secure": (child(), "ds"), "insecure": (child(), None),
                "bogus": (child(), "bad-ds"),
                # an unsigned domain whose MX is a host with signed TLSA (RFC 7672 2.2.1)
                "hosted": (["@ MX 10 mx-dane3.example.net."], None)}
    return recs, children


def setUpModule():
    dnslab.require_knot()
    E.dir = tempfile.mkdtemp(prefix="smtpsh-dnstest-")
    make_certs(E.dir)
    E.tls = TlsServer(os.path.join(E.dir, "mx-chain.pem"), os.path.join(E.dir, "mx.key"))
    E.old = TlsServer(os.path.join(E.dir, "old-chain.pem"), os.path.join(E.dir, "old.key"))
    E.https = HttpsServer(os.path.join(E.dir, "web-chain.pem"), os.path.join(E.dir, "web.key"),
                          PolicyHandler)
    recs, children = zone_records(E.tls.port, E.old.port)
    E.lab = dnslab.DnsLab(PARENT, recs, children, directory=os.path.join(E.dir, "knot"))
    os.makedirs(E.lab.dir)
    E.lab.start()


def tearDownModule():
    if E.lab:
        E.lab.stop(remove=False)
    for server in (E.tls, E.old):
        if server:
            server.close()
    if E.https:
        E.https.close()
    if E.dir:
        subprocess.run(["rm", "-rf", E.dir])


def tool(*args, timeout_ms=5000, resolver=None, cafile=True, trust_anchor=None,
         stderr=False):
    env = dict(os.environ)
    env.pop(dnslab_ca_env(), None)
    if cafile:
        env[dnslab_ca_env()] = os.path.join(E.dir, "ca.pem")
    cmd = [DNSTOOL, "--resolver", resolver or E.lab.resolver, "--trust-anchor",
           trust_anchor or E.lab.trust_anchor, "--timeout", str(timeout_ms)]
    r = subprocess.run(cmd + [str(a) for a in args], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True, env=env, timeout=60)
    # under ASan/UBSan a leak or undefined behaviour only shows on stderr
    if "Sanitizer" in r.stderr or "runtime error:" in r.stderr:
        raise AssertionError("dnstool %s:\n%s" % (" ".join(map(str, args)), r.stderr[-3000:]))
    return (r.stdout, r.stderr) if stderr else r.stdout


def dnslab_ca_env():
    return "SMTPSH_MTA_STS_CAFILE"


def hosts(out):
    return [l.split()[3] for l in out.splitlines() if l.startswith("host ")]


def line(out, prefix):
    for l in out.splitlines():
        if l.startswith(prefix):
            return l
    return ""


class MxRouting(unittest.TestCase):
    def test_preference_order_and_random_ties(self):
        seen = set()
        for _ in range(16):
            out = tool("mx", "ordered.example.net")
            self.assertIn("kind=mx mx-status=NOERROR mx-sec=secure", out)
            h = hosts(out)
            self.assertEqual(sorted(h[:2]), ["mx-a1.example.net", "mx-a2.example.net"], out)
            self.assertEqual(h[2:], ["mx-b.example.net", "mx-c.example.net"], out)
            seen.add(tuple(h[:2]))
        self.assertEqual(len(seen), 2, "equal preferences must come in random order")

    def test_addresses_with_dnssec_state(self):
        out = tool("mx", "ordered.example.net")
        self.assertIn("host 4 30 mx-c.example.net canon=- addr-sec=secure", out)
        self.assertIn("  addr ::1 secure\n  addr 127.0.0.14 secure", out)

    def test_no_mx_means_the_domain_itself(self):
        out = tool("mx", "implicit.example.net")
        self.assertIn("route implicit.example.net kind=implicit mx-status=NODATA mx-sec=secure",
                      out)
        self.assertIn("host 1 0 implicit.example.net", out)
        self.assertIn("  addr 127.0.0.5 secure", out)

    def test_nxdomain_is_implicit_with_no_address(self):
        out = tool("mx", "missing.example.net")
        self.assertIn("kind=implicit mx-status=NXDOMAIN mx-sec=secure", out)
        self.assertNotIn("  addr ", out)

    def test_null_mx(self):
        out = tool("mx", "nullmx.example.net")
        self.assertIn("route nullmx.example.net kind=null MX", out)
        self.assertEqual(hosts(out), [])

    def test_cname_mx_host(self):
        out = tool("mx", "cname.example.net")
        self.assertIn("host 1 10 alias.example.net canon=mx-a1.example.net addr-sec=secure",
                      out)
        self.assertIn("  addr 127.0.0.11 secure", out)

    def test_event_loop_with_other_queries(self):
        out = tool("mx-async", "ordered.example.net", "mx-b.example.net")
        self.assertEqual(hosts(out)[2:], ["mx-b.example.net", "mx-c.example.net"], out)
        self.assertIn("other mx-b.example.net A status=NOERROR sec=secure\n  rr 127.0.0.13", out)
        self.assertIn("async: complete, pending 0", out)

    def test_freeing_a_route_leaves_other_queries(self):
        out = tool("mx-cancel", "ordered.example.net", "mx-b.example.net")
        self.assertIn("route freed, pending 1", out)
        self.assertIn("other mx-b.example.net A status=NOERROR sec=secure\n  rr 127.0.0.13", out)

    def test_timeout_stops(self):
        # a "resolver" that never answers: the MX lookup times out, and that stops (no
        # fallback to the domain's A record)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        try:
            out = tool("mx", "ordered.example.net", timeout_ms=600,
                       resolver="127.0.0.1@%d" % s.getsockname()[1])
        finally:
            s.close()
        self.assertIn("kind=failed mx-status=timeout", out)
        self.assertIn("error MX lookup of ordered.example.net: timeout", out)
        self.assertEqual(hosts(out), [])


class Resolver(unittest.TestCase):
    def test_missing_trust_anchor(self):
        out, err = tool("query", "ordered.example.net", "MX", stderr=True,
                        trust_anchor=os.path.join(E.dir, "no-such-file"))
        self.assertIn("resolver error cannot read the DNSSEC trust anchor %s: No such file"
                      % os.path.join(E.dir, "no-such-file"), out)

    def test_unusable_trust_anchor_is_one_line_and_silent(self):
        bad = os.path.join(E.dir, "bad.key")
        with open(bad, "w") as f:
            f.write("this is not a zone file\n")
        out, err = tool("query", "ordered.example.net", "MX", stderr=True, trust_anchor=bad)
        self.assertIn('status=error sec=indeterminate error="the resolver could not start '
                      '(is the trust anchor file a zone file of DS or DNSKEY records?)"', out)
        # libunbound's own log lines must not reach the terminal
        self.assertNotIn("libunbound", err)
        self.assertNotIn("error", err)


class Delegations(unittest.TestCase):
    def test_secure_child(self):
        out = tool("mx", "secure.example.net", E.tls.port)
        self.assertIn("kind=mx mx-status=NOERROR mx-sec=secure", out)
        self.assertIn('addr-sec=secure dane="DANE applies"', out)

    def test_insecure_delegation(self):
        out = tool("mx", "insecure.example.net", E.tls.port)
        self.assertIn("kind=mx mx-status=NOERROR mx-sec=insecure", out)
        self.assertIn('addr-sec=insecure dane="DANE not available" '
                      'why="the host\'s address records are insecure"', out)

    def test_insecure_mx_secure_host_gets_dane(self):
        out = tool("mx", "hosted.example.net", E.tls.port)
        self.assertIn("kind=mx mx-status=NOERROR mx-sec=insecure", out)
        self.assertIn('host 1 10 mx-dane3.example.net canon=- addr-sec=secure '
                      'dane="DANE applies"', out)

    def test_bogus_child_stops(self):
        out = tool("mx", "bogus.example.net")
        self.assertIn("kind=failed mx-status=SERVFAIL mx-sec=bogus", out)
        self.assertRegex(line(out, "error "), r"^error MX lookup of bogus\.example\.net: bogus \(.+\)")
        self.assertEqual(hosts(out), [])

    def test_bogus_query_says_why(self):
        out = tool("query", "mx.bogus.example.net", "A")
        self.assertIn("status=SERVFAIL sec=bogus why_bogus=", out)
        self.assertNotIn("  rr ", out)  # the forged address is not handed out


class Dane(unittest.TestCase):
    def test_dane_ee_matches_leaf_key(self):
        out = tool("dane", "dane3.example.net", E.tls.port)
        self.assertIn("  tlsa 3 1 1 ", out)
        self.assertIn("dane verified=1 3 1 1 matched the leaf key", out)

    def test_dane_ta_matches_ca(self):
        out = tool("dane", "dane2.example.net", E.tls.port)
        self.assertIn("dane verified=1 2 0 1 matched the trust anchor certificate at depth 1",
                      out)

    def test_dane_ta_checks_names(self):
        out = tool("dane", "danename.example.net", E.tls.port)
        self.assertIn("dane error handshake failed: hostname mismatch", out)

    def test_dane_ee_ignores_names(self):
        out = tool("dane", "daneee.example.net", E.tls.port)
        self.assertIn("dane verified=1 3 1 1 matched the leaf key", out)

    def test_dane_ee_ignores_expiry(self):
        out = tool("dane", "expee.example.net", E.old.port)
        self.assertIn("dane verified=1 3 1 1 matched the leaf key", out)

    def test_dane_ta_checks_expiry(self):
        out = tool("dane", "expta.example.net", E.old.port)
        self.assertIn("dane error handshake failed: certificate has expired", out)

    def test_mismatch_refused(self):
        out = tool("dane", "danebad.example.net", E.tls.port)
        self.assertIn('dane="DANE applies"', out)
        self.assertIn("dane error handshake failed:", out)
        self.assertNotIn("dane verified=1", out)

    def test_unusable_records(self):
        out = tool("mx", "unusable.example.net", E.tls.port)
        self.assertIn('dane="no usable TLSA records" why="none of the 1 TLSA records at '
                      '_%d._tcp.mx-unusable.example.net is usable for SMTP"' % E.tls.port, out)

    def test_other_port_has_no_tlsa(self):
        out = tool("mx", "dane3.example.net", 25)
        self.assertIn('dane="no TLSA records" why="_25._tcp.mx-dane3.example.net has no '
                      'TLSA records (signed denial)"', out)


class Txt(unittest.TestCase):
    def test_spf_dmarc_tlsrpt(self):
        out = tool("query", "sts.example.net", "TXT")
        self.assertIn("status=NOERROR sec=secure", out)
        self.assertIn('  rr "v=spf1 ip4:127.0.0.0/8 -all"', out)
        self.assertIn('"v=DMARC1; p=reject; rua=mailto:dmarc@example.net"',
                      tool("query", "_dmarc.sts.example.net", "TXT"))
        self.assertIn('"v=TLSRPTv1; rua=mailto:tlsrpt@example.net"',
                      tool("query", "_smtp._tls.sts.example.net", "TXT"))

    def test_mail_records_together(self):
        out = tool("records", "sts.example.net")
        self.assertIn("SPF sts.example.net status=NOERROR sec=secure records=1\n"
                      '  "v=spf1 ip4:127.0.0.0/8 -all"\n', out)  # "unrelated text" left out
        self.assertIn("DMARC _dmarc.sts.example.net status=NOERROR sec=secure records=1\n"
                      '  "v=DMARC1; p=reject; rua=mailto:dmarc@example.net"\n', out)
        self.assertIn("TLS-RPT _smtp._tls.sts.example.net status=NOERROR sec=secure records=1\n"
                      '  "v=TLSRPTv1; rua=mailto:tlsrpt@example.net"\n', out)
        self.assertIn("MTA-STS _mta-sts.sts.example.net status=NOERROR sec=secure records=1\n"
                      '  "v=STSv1; id=20261207T01;"\n', out)
        out = tool("records", "insecure.example.net")
        self.assertIn("SPF insecure.example.net status=NODATA sec=insecure records=0", out)
        self.assertIn("DMARC _dmarc.insecure.example.net status=NXDOMAIN sec=insecure", out)
        out = tool("records", "stsdouble.example.net")
        self.assertIn("MTA-STS _mta-sts.stsdouble.example.net status=NOERROR sec=secure "
                      "records=2", out)

    def test_strings_joined(self):
        self.assertIn('  rr "v=spf1 ip4:127.0.0.1 -all"', tool("query", "split.example.net", "TXT"))


class MtaSts(unittest.TestCase):
    def cache(self, name):
        d = os.path.join(E.dir, "cache-" + name)
        return d

    def test_enforce_policy_fetched_matched_and_cached(self):
        cache = self.cache("good")
        out = tool("mtasts", "sts.example.net", E.https.port, cache)
        self.assertIn("sts-txt _mta-sts.sts.example.net TXT status=NOERROR sec=secure", out)
        self.assertIn('mta-sts source=fetched id=20261207T01 note=""', out)
        self.assertIn("policy mode=enforce max_age=86400", out)
        self.assertIn("  policy-mx *.sts-pool.example.net", out)
        self.assertIn("mx-match mx-sts1.example.net yes", out)
        path = os.path.join(cache, "sts.example.net")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(cache).st_mode), 0o700)
        out = tool("mtasts", "sts.example.net", E.https.port, cache)
        self.assertIn("mta-sts source=cache id=20261207T01", out)

    def test_changed_id_refetches(self):
        cache = self.cache("refresh")
        os.makedirs(cache, mode=0o700)
        with open(os.path.join(cache, "sts2.example.net"), "w") as f:
            f.write("smtpsh-mta-sts-cache 1 old1 %d\n" % int(time.time()))
            f.write("version: STSv1\nmode: testing\nmx: other.example.net\nmax_age: 86400\n")
        out = tool("mtasts", "sts2.example.net", E.https.port, cache)
        self.assertIn("mta-sts source=fetched id=new2", out)
        self.assertIn("policy mode=enforce", out)

    def test_event_loop_fetch_beside_the_route(self):
        # the session's way: one poll() loop, the policy fetch starting as soon as the
        # _mta-sts TXT answer is in, while the MX hosts are still being looked up
        out = tool("mtasts-async", "sts.example.net", E.https.port)
        self.assertIn('mta-sts source=fetched id=20261207T01 note=""', out)
        self.assertIn("mx-match mx-sts1.example.net yes", out)
        self.assertIn('host 1 10 mx-sts1.example.net canon=- addr-sec=secure', out)
        self.assertIn("overlapped=yes", out)
        out = tool("mtasts-async", "stsredirect.example.net", E.https.port)
        self.assertIn("mta-sts source=none", out)
        self.assertIn("redirect (HTTP 301 to https://elsewhere.example.net/policy) refused", out)

    def test_silent_server_times_out(self):
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)  # accepts (in the kernel) and never says a word
        try:
            t0 = time.monotonic()
            out = tool("mtasts", "sts.example.net", silent.getsockname()[1], "",
                       timeout_ms=1500)
            took = time.monotonic() - t0
        finally:
            silent.close()
        self.assertIn("mta-sts source=none", out)
        self.assertRegex(line(out, "mta-sts "), r"policy fetch failed: .*(timed out|timeout)")
        self.assertLess(took, 5)

    def test_unlisted_mx(self):
        out = tool("mtasts", "stsbad.example.net", E.https.port, "")
        self.assertIn("mta-sts source=fetched", out)
        self.assertIn("mx-match mx-elsewhere.example.net no", out)

    def test_redirect_refused(self):
        out = tool("mtasts", "stsredirect.example.net", E.https.port, "")
        self.assertIn("mta-sts source=none", out)
        self.assertIn("redirect (HTTP 301 to https://elsewhere.example.net/policy) refused", out)

    def test_too_big_with_length(self):
        out = tool("mtasts", "stsbig.example.net", E.https.port, "")
        self.assertIn("mta-sts source=none", out)
        self.assertIn("larger than 65536 bytes, transfer aborted", out)

    def test_too_big_streamed(self):
        out = tool("mtasts", "stsstream.example.net", E.https.port, "")
        self.assertIn("mta-sts source=none", out)
        self.assertIn("larger than 65536 bytes, transfer aborted", out)

    def test_not_text_plain(self):
        out = tool("mtasts", "ststype.example.net", E.https.port, "")
        self.assertIn("mta-sts source=none", out)
        self.assertIn('Content-Type "text/plainx", not text/plain', out)

    def test_not_found(self):
        out = tool("mtasts", "sts404.example.net", E.https.port, "")
        self.assertIn("mta-sts source=none", out)
        self.assertIn("/.well-known/mta-sts.txt: HTTP status 404, not 200", out)

    def test_two_records_no_policy(self):
        out = tool("mtasts", "stsdouble.example.net", E.https.port, "")
        self.assertIn('mta-sts source=none id=- note="several v=STSv1 records at _mta-sts: '
                      'no policy (3.1)"', out)

    def test_webpki_verified(self):
        out = tool("mtasts", "sts.example.net", E.https.port, "", cafile=False)
        self.assertIn("mta-sts source=none", out)
        self.assertRegex(line(out, "mta-sts "), r"policy fetch failed: .*(certificate|SSL)")

    def test_https_resolves_through_libunbound(self):
        # the name exists only in the lab's zones: found only through our resolver
        out = tool("https", "mta-sts.sts.example.net", E.https.port, "/.well-known/mta-sts.txt")
        self.assertIn("https status=200 bytes=%d type=text/plain" % len(GOOD_POLICY), out)
        out = tool("https", "mta-sts.nowhere.example.net", E.https.port, "/x")
        self.assertIn("https error no address for mta-sts.nowhere.example.net (NXDOMAIN", out)


def ours(domain, port):
    """smtpsh's verdict for the first MX host of domain, in posttls_verdict's words."""
    out = tool("dane", domain, port)
    if "kind=failed" in out:
        return "lookup failed"
    if "kind=null MX" in out:
        return "null MX"
    m = re.search(r"^dane verified=1 (\d \d \d) matched", out, re.M)
    if m:
        return "DANE match " + m.group(1)
    m = re.search(r"^dane error handshake failed: (.*)$", out, re.M)
    if m:
        return "DANE failed: " + m.group(1).lower()
    if 'dane="no usable TLSA records"' in out:
        return "no usable TLSA"
    if re.search(r'dane="(no TLSA records|DANE not available)"', out):
        return "no DANE"
    return "unknown: " + out


def smtpsh_mx(domain, port, *opts):
    """The real smtpsh --mx DOMAIN PORT (implicit TLS, as posttls-finger -w) through the lab."""
    r = run_smtpsh(["--mx", domain, str(port), "--tls", "--resolver", E.lab.resolver,
                    "--trust-anchor", E.lab.trust_anchor, "--timeout", "3"] + list(opts),
                   b"QUIT\n", home=E.dir)
    return r.stdout + r.stderr


def smtpsh_verdict(domain, port):
    """smtpsh's own verdict (the binary, not dnstool) in posttls_verdict's words."""
    out = smtpsh_mx(domain, port)
    if re.search(r"MX lookup of \S+: .*: stopping", out):
        return "lookup failed"
    if "accepts no mail: its MX is the null MX" in out:
        return "null MX"
    m = re.search(r"DANE verified: (\d \d \d) matched", out)
    if m:
        return "DANE match " + m.group(1)
    m = re.search(r"DANE \(RFC 7672\) refused the server: TLS certificate of \S+ not trusted: "
                  r"([^;]*)", out)
    if m:
        why = m.group(1).lower()
        # the same failure in Postfix's words
        if why.startswith("name mismatch"):
            why = "hostname mismatch"
        elif why.startswith("certificate expired"):
            why = "certificate has expired"
        return "DANE failed: " + why
    if re.search(r"^\*      no usable TLSA records:", out, re.M):
        return "no usable TLSA"
    if re.search(r"policy: opportunistic TLS \(RFC 7435; DANE not available", out):
        return "no DANE"
    return "unknown: " + out


def posttls_verdict(out):
    """posttls-finger's verdict for the first MX host it reached (with -L ...,dane)."""
    if "Destination address lookup failed" in out:
        return "null MX" if "(nullMX)" in out else "lookup failed"
    signed = "DNSSEC-signed TLSA record:" in out
    m = re.search(r"Matched DANE (?:EE|TA) certificate at depth \d+: (\d \d \d) ", out)
    if signed and m and re.search(r"(Verified|Trusted) TLS connection established", out):
        return "DANE match " + m.group(1)
    m = re.search(r"server certificate verification failed for \S+: (?:num=\d+:)?(.*)$", out,
                  re.M)
    if signed and m:
        return "DANE failed: " + m.group(1).lower()
    if "unsupported TLSA certificate usage" in out:
        return "no usable TLSA"
    if not signed and "TLS connection established" in out:
        return "no DANE"
    return "unknown: " + out


class PosttlsFinger(unittest.TestCase):
    """The same zones through Postfix's posttls-finger (libc resolver, AD bit from Debian's
    unbound validating with the lab's trust anchor, in a private mount namespace): the same
    MX order and the same DANE verdicts."""

    resolver = None

    @classmethod
    def setUpClass(cls):
        cls.resolver = dnslab.ValidatingResolver(E.lab).start()
        cls.conf = os.path.join(E.dir, "postfix-conf")
        os.makedirs(cls.conf, exist_ok=True)
        open(os.path.join(cls.conf, "main.cf"), "w").close()

    @classmethod
    def tearDownClass(cls):
        if cls.resolver:
            cls.resolver.stop()

    def finger(self, domain, *opts, port=None):
        r = self.resolver.run_with_resolver(
            ["posttls-finger", "-c", "-w", "-l", "dane", "-L", "routine,certmatch,dane",
             "-o", "dnssec_probe=", "-t", "3", "-T", "3"] + list(opts) +
            ["%s:%d" % (domain, port or E.tls.port)],
            env=dict(os.environ, MAIL_CONFIG=self.conf))
        return r.stdout

    def test_same_mx_order(self):
        out = self.finger("ordered.example.net", "-a", "ipv4")
        theirs = []
        for h in re.findall(r"Failed to establish session to \S+ via (\S+):", out):
            if not theirs or theirs[-1] != h:
                theirs.append(h)
        mine = hosts(tool("mx", "ordered.example.net"))
        # equal preferences are in random order in both: compare the groups
        group = lambda hs: [frozenset(hs[:2])] + hs[2:]
        self.assertEqual(len(theirs), 4, out)
        self.assertEqual(group(theirs), group(mine), out)

    def test_same_dane_verdicts(self):
        cases = {
            "dane3.example.net": "DANE match 3 1 1",
            "dane2.example.net": "DANE match 2 0 1",
            "danebad.example.net": "DANE failed: no matching dane tlsa records",
            "danename.example.net": "DANE failed: hostname mismatch",
            "unusable.example.net": "no usable TLSA",
            "secure.example.net": "DANE match 3 1 1",
            "insecure.example.net": "no DANE",
            "hosted.example.net": "DANE match 3 1 1",
            "bogus.example.net": "lookup failed",
            "nullmx.example.net": "null MX",
            "daneee.example.net": "DANE match 3 1 1",
            "expee.example.net": "DANE match 3 1 1",
            "expta.example.net": "DANE failed: certificate has expired",
        }
        wrong = []
        for domain, want in cases.items():
            port = E.old.port if domain.startswith("exp") else E.tls.port
            out = self.finger(domain, port=port)
            got = (posttls_verdict(out), ours(domain, port))
            if got != (want, want):
                wrong.append("%s: want %r, posttls-finger %r, smtpsh %r\n%s"
                             % (domain, want, got[0], got[1], out))
        self.assertEqual(wrong, [])

    def test_smtpsh_binary_same_mx_order(self):
        # the binary tries the hosts in the order posttls-finger does (none answers)
        out = self.finger("ordered.example.net", "-a", "ipv4")
        theirs = []
        for h in re.findall(r"Failed to establish session to \S+ via (\S+):", out):
            if not theirs or theirs[-1] != h:
                theirs.append(h)
        # -4 as posttls-finger's "-a ipv4": mx-c's ::1 is not tried
        mine = re.findall(r"^\*  trying MX \d of 4: (\S+) ",
                          smtpsh_mx("ordered.example.net", E.tls.port, "-4"), re.M)
        group = lambda hs: [frozenset(hs[:2])] + hs[2:]
        self.assertEqual(len(mine), 4, mine)
        self.assertEqual(group(theirs), group(mine), out)

    def test_smtpsh_binary_same_dane_verdicts(self):
        cases = {
            "dane3.example.net": "DANE match 3 1 1",
            "dane2.example.net": "DANE match 2 0 1",
            "danebad.example.net": "DANE failed: no matching dane tlsa records",
            "danename.example.net": "DANE failed: hostname mismatch",
            "unusable.example.net": "no usable TLSA",
            "secure.example.net": "DANE match 3 1 1",
            "insecure.example.net": "no DANE",
            "hosted.example.net": "DANE match 3 1 1",
            "bogus.example.net": "lookup failed",
            "nullmx.example.net": "null MX",
            "daneee.example.net": "DANE match 3 1 1",
            "expee.example.net": "DANE match 3 1 1",
            "expta.example.net": "DANE failed: certificate has expired",
        }
        wrong = []
        for domain, want in cases.items():
            port = E.old.port if domain.startswith("exp") else E.tls.port
            out = self.finger(domain, port=port)
            got = (posttls_verdict(out), smtpsh_verdict(domain, port))
            if got != (want, want):
                wrong.append("%s: want %r, posttls-finger %r, smtpsh %r\n%s"
                             % (domain, want, got[0], got[1], out))
        self.assertEqual(wrong, [])


if __name__ == "__main__":
    tap_main()
