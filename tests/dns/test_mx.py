#!/usr/bin/python3
"""smtpsh --mx and \\connect --mx, the real binary against a private DNSSEC lab on loopback
(Knot serving signed zones, tests/lib/dnslab.py), the Postfix lab (STARTTLS on its plain
port, a self-signed certificate) and a small implicit-TLS server with a certificate of a
test CA (for DANE-TA). Every assertion is on the words smtpsh shows. Nothing leaves the
machine.

Usage: test_mx.py [SMTPSH_BINARY] [TEST_NAME_PATTERN...]
"""

import hashlib
import http.server
import os
import stat
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

import dnslab
from dnslab import HttpsServer, TlsServer, spki_sha256
from lablib import PostfixLab
from smtpshtest import openssl, run_smtpsh, tap_main

PARENT = "example.net."
# 127.0.0.0/8 is loopback; nothing listens on this address (the first MX that "refuses")
DOWN = "127.0.0.99"


class Env:
    dir = None
    lab = None
    postfix = None
    tls = None
    https = None


E = Env()


def cert_sha256(pem_path):
    with open(pem_path) as f:
        return hashlib.sha256(ssl.PEM_cert_to_DER_cert(f.read())).hexdigest()


STS_CASES = ("sts", "stsbad", "ststesting", "stsredirect", "stsbig", "both")
POLICY = ("version: STSv1\r\nmode: %s\r\nmx: mx-sts1.example.net\r\n"
          "mx: *.sts-pool.example.net\r\nmax_age: 86400\r\n")


def make_ca_and_leaf(d):
    """A test CA, a leaf for the implicit-TLS MX host (chain: leaf + CA) and one for the
    MTA-STS policy hosts."""
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=smtpsh MX lab CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)

    def leaf(name, sans):
        with open(os.path.join(d, name + ".ext"), "w") as f:
            f.write("subjectAltName=%s\nextendedKeyUsage=serverAuth\n"
                    % ",".join("DNS:" + s for s in sans))
        openssl("req", *ec, "-keyout", name + ".key", "-out", name + ".csr", "-subj",
                "/CN=" + sans[0], cwd=d)
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "2", "-out", name + ".pem", "-extfile",
                name + ".ext", cwd=d)
        with open(os.path.join(d, name + "-chain.pem"), "w") as out:
            for part in (name + ".pem", "ca.pem"):
                with open(os.path.join(d, part)) as f:
                    out.write(f.read())
    leaf("mx", ["mx-dane2.example.net", "mx-sts1.example.net"])
    leaf("web", ["mta-sts.%s.example.net" % c for c in STS_CASES])


class PolicyHandler(http.server.BaseHTTPRequestHandler):
    """mta-sts.<case>.example.net/.well-known/mta-sts.txt, by Host header."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        host = (self.headers.get("Host") or "").split(":")[0]
        case = host[len("mta-sts."):].split(".")[0] if host.startswith("mta-sts.") else ""
        if case in ("sts", "stsbad", "both"):
            return self._send(200, (POLICY % "enforce").encode())
        if case == "ststesting":
            return self._send(200, (POLICY % "testing").encode())
        if case == "stsredirect":
            self.send_response(301)
            self.send_header("Location", "https://elsewhere.example.net/policy")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if case == "stsbig":
            return self._send(200, (POLICY % "enforce").encode() + b"x: " + b"y" * 70000 +
                              b"\n")
        return self._send(404, b"no such case")

    def _send(self, code, body):
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass  # the client stopped reading (the 64 KiB limit)


def zone_records():
    # DANE needs STARTTLS: the lab's submission port offers it (its plain port does not)
    tcp = "_%d._tcp" % E.postfix.submission_port
    ee = spki_sha256(E.postfix.cafile)  # the lab's self-signed certificate
    wrong = hashlib.sha256(b"not the key").hexdigest()
    ta = cert_sha256(os.path.join(E.dir, "ca.pem"))
    lo = "127.0.0.1"
    recs = [
        # RFC 5321 5.1: the first MX does not answer, the second does
        "fallback MX 10 mx-down", "fallback MX 20 mx-up",
        "mx-down A " + DOWN, "mx-up A " + lo,
        "implicit A " + lo,
        "nullmx MX 0 .",
        "cname MX 10 alias", "alias CNAME mx-up",
        # DANE-EE(3) against the Postfix lab's certificate (names and dates ignored)
        "dane3 MX 10 mx-dane3", "mx-dane3 A " + lo, "%s.mx-dane3 TLSA 3 1 1 %s" % (tcp, ee),
        "danebad MX 10 mx-bad", "mx-bad A " + lo, "%s.mx-bad TLSA 3 1 1 %s" % (tcp, wrong),
        # DANE-TA(2) against the implicit-TLS server's CA
        "dane2 MX 10 mx-dane2", "mx-dane2 A " + lo,
        "_%d._tcp.mx-dane2 TLSA 2 0 1 %s" % (E.tls.port, ta),
        # MTA-STS (RFC 8461): the policy lists mx-sts1 and *.sts-pool
        "sts MX 10 mx-sts1", "mx-sts1 A " + lo,
        "stsbad MX 10 mx-elsewhere", "mx-elsewhere A " + lo,
        "ststesting MX 10 mx-elsewhere",
        "stsredirect MX 10 mx-sts1", "stsbig MX 10 mx-sts1",
        # DANE and MTA-STS both: DANE takes precedence (RFC 8461 2)
        "both MX 10 mx-dane3",
        # one MX host, two addresses (--check --mx checks each: test_check_mx.py)
        "twoaddr MX 10 mx-two", "mx-two A " + lo, "mx-two AAAA ::1",
        # the records \dns shows; one SPF record carries a terminal escape (ESC [ 3 1 m)
        'sts TXT "v=spf1 ip4:127.0.0.0/8 -all"', 'sts TXT "unrelated text"',
        '_dmarc.sts TXT "v=DMARC1; p=reject; rua=mailto:dmarc@example.net"',
        '_smtp._tls.sts TXT "v=TLSRPTv1; rua=mailto:tlsrpt@example.net"',
        'fallback TXT "v=spf1 \\027[31mred -all"',
    ]
    for case in STS_CASES:
        recs += ['_mta-sts.%s TXT "v=STSv1; id=20261207T01;"' % case,
                 "mta-sts.%s A %s" % (case, lo)]
    child = lambda: ["@ MX 10 mx", "mx A " + lo, "%s.mx TLSA 3 1 1 %s" % (tcp, ee)]
    children = {"insecure": (child(), None), "bogus": (child(), "bad-ds")}
    return recs, children


def setUpModule():
    dnslab.require_knot()
    E.dir = tempfile.mkdtemp(prefix="smtpsh-mxtest-")
    make_ca_and_leaf(E.dir)
    E.tls = TlsServer(os.path.join(E.dir, "mx-chain.pem"), os.path.join(E.dir, "mx.key"),
                      b"220 mx-dane2.example.net ESMTP lab\r\n", answer=True)
    E.https = HttpsServer(os.path.join(E.dir, "web-chain.pem"), os.path.join(E.dir, "web.key"),
                          PolicyHandler)
    E.postfix = PostfixLab()
    E.postfix.start()
    recs, children = zone_records()
    E.lab = dnslab.DnsLab(PARENT, recs, children, directory=os.path.join(E.dir, "knot"))
    os.makedirs(E.lab.dir)
    E.lab.start()
    os.makedirs(os.path.join(E.dir, "home"))


def tearDownModule():
    if E.lab:
        E.lab.stop(remove=False)
    if E.postfix:
        E.postfix.stop()
    if E.tls:
        E.tls.close()
    if E.https:
        E.https.close()
    if E.dir:
        subprocess.run(["rm", "-rf", E.dir])


def mx(domain, port=None, *opts, stdin=b"QUIT\n", timeout_s=5, cache=None):
    """smtpsh --mx DOMAIN PORT through the lab's resolver and trust anchor (batch mode); the
    MTA-STS policy fetch trusts the lab CA and goes to the lab's HTTPS port, its cache in
    cache (default: a new folder)."""
    args = ["--mx", domain, str(port or E.postfix.submission_port), "--resolver", E.lab.resolver,
            "--trust-anchor", E.lab.trust_anchor, "--timeout", str(timeout_s)] + list(opts)
    env = {"SMTPSH_MTA_STS_CAFILE": os.path.join(E.dir, "ca.pem"),
           "SMTPSH_MTA_STS_PORT": str(E.https.port),
           "XDG_CACHE_HOME": cache or tempfile.mkdtemp(dir=E.dir)}
    r = run_smtpsh(args, stdin, home=os.path.join(E.dir, "home"), env=env)
    if "Sanitizer" in r.stderr or "runtime error:" in r.stderr:
        raise AssertionError(r.stderr[-3000:])
    return r


class Route(unittest.TestCase):
    def test_fallback_when_the_first_mx_refuses(self):
        r = mx("fallback.example.net", None, "--insecure")
        out = r.stdout
        self.assertIn("*  MX of fallback.example.net (secure): 2 hosts, tried by preference "
                      "(RFC 5321 5.1)", out)
        self.assertIn("*    10 mx-down.example.net: %s secure" % DOWN, out)
        self.assertIn("*    20 mx-up.example.net: 127.0.0.1 secure", out)
        self.assertIn("*  trying MX 1 of 2: mx-down.example.net (%s) port %d"
                      % (DOWN, E.postfix.submission_port), out)
        self.assertIn("*  %s did not answer: trying the next" % DOWN, out)
        self.assertIn("*  trying MX 2 of 2: mx-up.example.net (127.0.0.1) port %d"
                      % E.postfix.submission_port, out)
        self.assertIn("connected to mx-up.example.net (127.0.0.1) port %d"
                      % E.postfix.submission_port, out)
        # opportunistic STARTTLS, not verified (--insecure): marked ?>
        self.assertIn("-> STARTTLS", out)
        self.assertIn("?> QUIT", out)
        self.assertIn("--insecure: the server's identity is NOT verified", r.stdout + r.stderr)
        self.assertEqual(r.rc, 0, out)

    def test_implicit_mx(self):
        out = mx("implicit.example.net", None, "--insecure").stdout
        self.assertIn("*  no MX for implicit.example.net (NODATA, secure): the domain's own "
                      "address receives its mail (implicit MX, RFC 5321 5.1)", out)
        self.assertIn("*    0 implicit.example.net: 127.0.0.1 secure", out)
        self.assertIn("connected to implicit.example.net (127.0.0.1)", out)

    def test_null_mx_stops(self):
        r = mx("nullmx.example.net")
        self.assertIn('nullmx.example.net accepts no mail: its MX is the null MX "0 ." '
                      "(RFC 7505, secure)", r.stdout + r.stderr)
        self.assertNotIn("trying MX", r.stdout)
        self.assertEqual(r.rc, 1)

    def test_cname(self):
        out = mx("cname.example.net", None, "--insecure").stdout
        self.assertIn("*    10 alias.example.net (CNAME to mx-up.example.net): 127.0.0.1 "
                      "secure", out)
        self.assertIn("connected to alias.example.net (127.0.0.1)", out)

    def test_bogus_stops(self):
        r = mx("bogus.example.net")
        both = r.stdout + r.stderr
        self.assertRegex(both, r"MX lookup of bogus\.example\.net: bogus \(.+\): stopping "
                         r"\(a sending MTA would defer and try later\)")
        self.assertNotIn("trying MX", both)
        self.assertEqual(r.rc, 3)

    def test_timeout_stops(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))  # a "resolver" that never answers
        try:
            args = ["--mx", "fallback.example.net", "--resolver",
                    "127.0.0.1@%d" % s.getsockname()[1], "--trust-anchor",
                    E.lab.trust_anchor, "--timeout", "1"]
            r = run_smtpsh(args, b"QUIT\n", home=os.path.join(E.dir, "home"))
        finally:
            s.close()
        both = r.stdout + r.stderr
        self.assertIn("MX lookup of fallback.example.net: timeout", both)
        self.assertIn("stopping (a sending MTA would defer and try later)", both)
        self.assertNotIn("no MX for", both)  # a timeout is not "no MX"
        self.assertLess(r.elapsed, 5)
        self.assertEqual(r.rc, 3)

    def test_opportunistic_unverified_is_refused_and_explained(self):
        r = mx("fallback.example.net")
        both = r.stdout + r.stderr
        self.assertIn("policy: opportunistic TLS (RFC 7435; DANE not available: "
                      "_%d._tcp.mx-up.example.net has no TLSA records (signed denial)): the "
                      "certificate is verified as always" % E.postfix.submission_port, both)
        self.assertIn("TLS certificate of mx-up.example.net not trusted", both)
        self.assertIn("opportunistic TLS (RFC 7435): a sending MTA would deliver anyway, "
                      "unauthenticated; --insecure goes on (marked ?> <?)", both)
        self.assertEqual(r.rc, 4)

    def test_plaintext_only_when_starttls_is_not_offered(self):
        r = mx("fallback.example.net", E.postfix.plain_port)
        both = r.stdout + r.stderr
        self.assertIn("mx-up.example.net does not offer STARTTLS: opportunistic TLS (RFC 7435) "
                      "goes on in plaintext, as a sending MTA would; nothing protects this "
                      "session", both)
        self.assertIn("-> QUIT", r.stdout)
        self.assertNotIn("-> STARTTLS", r.stdout)
        self.assertEqual(r.rc, 0, both)

    def test_connect_mx_in_the_shell(self):
        script = ("\\connect --mx implicit.example.net %d\nQUIT\n" % E.postfix.submission_port)
        args = ["--resolver", E.lab.resolver, "--trust-anchor", E.lab.trust_anchor,
                "--timeout", "5", "--insecure"]
        r = run_smtpsh(args, script.encode(), home=os.path.join(E.dir, "home"))
        self.assertIn("connected to implicit.example.net (127.0.0.1) port %d"
                      % E.postfix.submission_port, r.stdout)
        self.assertEqual(r.rc, 0, r.stdout + r.stderr)


class Dane(unittest.TestCase):
    def test_dane_ee_matches_the_postfix_certificate(self):
        r = mx("dane3.example.net")
        out = r.stdout
        self.assertIn("*      DANE applies: 1 secure TLSA record at _%d._tcp.mx-dane3.example.net: "
                      "3 1 1 " % E.postfix.submission_port, out)
        self.assertIn("policy: DANE (RFC 7672): the TLSA records decide, STARTTLS required", out)
        self.assertRegex(out, r"\*  TLSv1\.3 \S+, certificate verified by DANE \(CN=localhost\), DANE "
                         r"verified: 3 1 1 matched the leaf key")
        self.assertIn("~> QUIT", out)
        self.assertEqual(r.rc, 0, out + r.stderr)

    def test_tls_shows_the_matching_record(self):
        r = mx("dane3.example.net", None, stdin=b"\\tls\nQUIT\n")
        self.assertIn("dane:         3 1 1 matched the leaf key (TLSA records of _%d._tcp."
                      "mx-dane3.example.net, RFC 7672)" % E.postfix.submission_port, r.stdout)

    def test_dane_ta_matches_the_ca(self):
        r = mx("dane2.example.net", E.tls.port, "--tls")
        self.assertIn("DANE verified: 2 0 1 matched the trust anchor certificate at depth 1",
                      r.stdout)
        self.assertIn("~> QUIT", r.stdout)

    def test_mismatch_refused_then_insecure_goes_on(self):
        r = mx("danebad.example.net")
        both = r.stdout + r.stderr
        self.assertIn("DANE (RFC 7672) refused the server: TLS certificate of "
                      "mx-bad.example.net not trusted", both)
        self.assertIn("DANE: a sending MTA does not deliver to mx-bad.example.net (RFC 7672 "
                      "2.2); --insecure goes on (marked ?> <?)", both)
        self.assertNotIn("QUIT", r.stdout)
        self.assertEqual(r.rc, 4)
        r = mx("danebad.example.net", None, "--insecure")
        self.assertIn("DANE NOT verified: no TLSA record matched", r.stdout)
        self.assertIn("?> QUIT", r.stdout)

    def test_insecure_delegation_is_webpki(self):
        r = mx("insecure.example.net", None, "--insecure")
        self.assertIn("*  MX of insecure.example.net (insecure)", r.stdout)
        self.assertIn("policy: opportunistic TLS (RFC 7435; DANE not available: the host's "
                      "address records are insecure)", r.stdout)
        self.assertNotIn("DANE verified", r.stdout)


class MtaSts(unittest.TestCase):
    def ca(self):
        return os.path.join(E.dir, "ca.pem")

    def test_enforce_matching_mx_fetched_then_cached(self):
        cache = tempfile.mkdtemp(dir=E.dir)
        r = mx("sts.example.net", E.tls.port, "--tls", "--cafile", self.ca(), cache=cache)
        out = r.stdout
        self.assertIn("*  MTA-STS policy of sts.example.net (fetched, id 20261207T01): mode "
                      "enforce, max_age 86400, mx mx-sts1.example.net, *.sts-pool.example.net",
                      out)
        self.assertIn("*  policy: MTA-STS (RFC 8461, enforce; DANE not available: _%d._tcp."
                      "mx-sts1.example.net has no TLSA records (signed denial)): "
                      "mx-sts1.example.net is listed, the certificate must verify, STARTTLS "
                      "required" % E.tls.port, out)
        self.assertIn("~> QUIT", out)
        self.assertEqual(r.rc, 0, out + r.stderr)
        path = os.path.join(cache, "smtpsh", "mta-sts", "sts.example.net")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        r = mx("sts.example.net", E.tls.port, "--tls", "--cafile", self.ca(), cache=cache)
        self.assertIn("*  MTA-STS policy of sts.example.net (cached, id 20261207T01)", r.stdout)

    def test_enforce_unlisted_mx_not_tried(self):
        r = mx("stsbad.example.net")
        both = r.stdout + r.stderr
        self.assertIn("mx-elsewhere.example.net is not listed in the MTA-STS policy (enforce, "
                      "RFC 8461 4.1): not tried", both)
        self.assertNotIn("trying MX", both)
        self.assertEqual(r.rc, 4)

    def test_enforce_certificate_must_verify(self):
        # the Postfix lab's certificate names localhost, not mx-sts1.example.net
        r = mx("sts.example.net")
        both = r.stdout + r.stderr
        self.assertIn("TLS certificate of mx-sts1.example.net not trusted", both)
        self.assertIn("MTA-STS (RFC 8461 4.2, enforce): the certificate of mx-sts1.example.net "
                      "must verify: a sending MTA does not deliver; --insecure goes on "
                      "(marked ?> <?)", both)
        self.assertEqual(r.rc, 4)

    def test_testing_mode_reports_and_goes_on(self):
        r = mx("ststesting.example.net", None, "--insecure")
        both = r.stdout + r.stderr
        self.assertIn("mode testing", both)
        self.assertIn("mx-elsewhere.example.net is not listed in the MTA-STS policy (testing: "
                      "reported, a sending MTA goes on)", both)
        self.assertIn("?> QUIT", r.stdout)

    def test_redirect_is_no_policy(self):
        r = mx("stsredirect.example.net", None, "--insecure")
        self.assertRegex(r.stdout, r"\*  MTA-STS: no policy \(policy fetch failed: https://"
                         r"mta-sts\.stsredirect\.example\.net:\d+/\.well-known/mta-sts\.txt: "
                         r"redirect \(HTTP 301 to https://elsewhere\.example\.net/policy\) "
                         r"refused\)")
        self.assertIn("policy: opportunistic TLS (RFC 7435", r.stdout)

    def test_over_64_kib_is_no_policy(self):
        r = mx("stsbig.example.net", None, "--insecure")
        self.assertIn("larger than 65536 bytes, transfer aborted", r.stdout)
        self.assertIn("policy: opportunistic TLS (RFC 7435", r.stdout)

    def test_a_failed_fetch_keeps_the_cached_policy(self):
        # policy downgrade: whoever blocks the fetch (here: a redirect) does not turn an
        # enforced policy off while a cached one is fresh (RFC 8461 5)
        cache = tempfile.mkdtemp(dir=E.dir)
        d = os.path.join(cache, "smtpsh", "mta-sts")
        os.makedirs(d, mode=0o700)
        with open(os.path.join(d, "stsredirect.example.net"), "w") as f:
            f.write("smtpsh-mta-sts-cache 1 old1 %d\n" % int(time.time()))
            f.write(POLICY.replace("\r\n", "\n") % "enforce")
        r = mx("stsredirect.example.net", cache=cache)
        both = r.stdout + r.stderr
        self.assertIn("*  MTA-STS policy of stsredirect.example.net (cached, id old1): mode "
                      "enforce", both)
        self.assertIn("using the cached policy", both)
        self.assertIn("MTA-STS (RFC 8461 4.2, enforce): the certificate of mx-sts1.example.net "
                      "must verify", both)
        self.assertEqual(r.rc, 4)

    def test_dane_takes_precedence(self):
        r = mx("both.example.net")
        out = r.stdout
        self.assertIn("*  MTA-STS policy of both.example.net (fetched", out)
        self.assertIn("policy: DANE (RFC 7672): the TLSA records decide, STARTTLS required; "
                      "the MTA-STS policy does not apply (RFC 8461 2)", out)
        self.assertIn("DANE verified: 3 1 1 matched the leaf key", out)
        self.assertEqual(r.rc, 0, out + r.stderr)


class DnsCommand(unittest.TestCase):
    def test_everything_about_a_domain(self):
        r = mx("sts.example.net", E.tls.port, "--tls", "--cafile",
               os.path.join(E.dir, "ca.pem"), stdin=b"\\dns\nQUIT\n")
        out = r.stdout
        self.assertIn("*  DNS of sts.example.net (DNSSEC validated by smtpsh)\n"
                      "   MX       sts.example.net: NOERROR secure\n"
                      "     10 mx-sts1.example.net\n"
                      "       A/AAAA  127.0.0.1 secure\n"
                      "       TLSA    _25._tcp.mx-sts1.example.net: NXDOMAIN secure\n", out)
        self.assertIn('   SPF      sts.example.net: NOERROR secure\n'
                      '     "v=spf1 ip4:127.0.0.0/8 -all"\n', out)
        self.assertIn('   DMARC    _dmarc.sts.example.net: NOERROR secure\n'
                      '     "v=DMARC1; p=reject; rua=mailto:dmarc@example.net"\n', out)
        self.assertIn('   TLS-RPT  _smtp._tls.sts.example.net: NOERROR secure\n'
                      '     "v=TLSRPTv1; rua=mailto:tlsrpt@example.net"\n', out)
        self.assertIn('   MTA-STS  _mta-sts.sts.example.net: NOERROR secure\n'
                      '     "v=STSv1; id=20261207T01;"\n'
                      '     policy (cached): mode enforce, max_age 86400, mx '
                      'mx-sts1.example.net *.sts-pool.example.net\n', out)
        self.assertNotIn("unrelated text", out)

    def test_dane_bogus_and_null(self):
        r = mx("dane3.example.net", None, stdin=b"\\dns bogus.example.net\n"
               b"\\dns nullmx.example.net\n\\dns insecure.example.net\nQUIT\n")
        out = r.stdout
        self.assertRegex(out, r"   MX       bogus\.example\.net: SERVFAIL bogus \(validation "
                         r"failure .*\): no route \(a sending MTA defers\)")
        self.assertIn('   MX       nullmx.example.net: NOERROR secure: null MX "0 .": accepts '
                      "no mail (RFC 7505)", out)
        self.assertIn("   MX       insecure.example.net: NOERROR insecure\n", out)
        self.assertIn("       DANE    DANE not available: the host's address records are "
                      "insecure", out)
        self.assertIn("~> QUIT", out)  # the session went on

    def test_default_domain_and_hostile_text(self):
        r = mx("fallback.example.net", None, "--insecure", stdin=b"\\dns\nQUIT\n")
        out = r.stdout
        self.assertIn("*  DNS of fallback.example.net", out)
        self.assertNotIn("\x1b", out)
        self.assertRegex(out, r'     "v=spf1 \\(x1[bB]|e|033)\[31mred -all"')


class Profile(unittest.TestCase):
    def test_profile_keys_resolver_and_trust_anchor(self):
        home = tempfile.mkdtemp(dir=E.dir)
        os.makedirs(os.path.join(home, ".config", "smtpsh"))
        with open(os.path.join(home, ".config", "smtpsh", "profiles"), "w") as f:
            f.write("[lab]\nhost = 127.0.0.1\nport = %d\ntls = starttls\nresolver = %s\n"
                    "trust-anchor = ~/ta.key\n" % (E.postfix.submission_port, E.lab.resolver))
        subprocess.run(["cp", E.lab.trust_anchor, os.path.join(home, "ta.key")], check=True)
        r = run_smtpsh(["-p", "lab", "--insecure", "--timeout", "5"],
                       b"\\dns sts.example.net\nQUIT\n", home=home)
        # the lab's names exist only behind the profile's resolver, and validate as secure
        # only from the profile's trust anchor
        self.assertIn("   MX       sts.example.net: NOERROR secure\n", r.stdout)


class Repl(unittest.TestCase):
    """The lookups in the REPL (a real pty): Ctrl-C cancels them at once."""

    def test_ctrl_c_cancels_the_lookup(self):
        import pexpect
        from smtpshtest import pty_environ, smtpsh_path
        silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        silent.bind(("127.0.0.1", 0))  # a resolver that never answers
        inputrc = os.path.join(E.dir, "inputrc")
        with open(inputrc, "w") as f:
            f.write("set enable-bracketed-paste off\n")
        env = pty_environ(os.path.join(E.dir, "home"), inputrc)
        child = pexpect.spawn(smtpsh_path(), ["--resolver", "127.0.0.1@%d"
                                              % silent.getsockname()[1], "--trust-anchor",
                                              E.lab.trust_anchor, "--timeout", "30"],
                              env=env, timeout=5, dimensions=(40, 200))
        try:
            child.expect("smtpsh> ")
            child.send("\\connect --mx fallback.example.net\r")
            child.expect("looking up the MX and MTA-STS of fallback.example.net")
            time.sleep(0.5)
            t0 = time.monotonic()
            child.sendcontrol("c")
            child.expect("interrupted: the lookup of the MX of fallback.example.net was "
                         "cancelled")
            child.expect("smtpsh> ")
            self.assertLess(time.monotonic() - t0, 3)  # not the 30 s of --timeout
            child.send("\\quit\r")
            child.expect(pexpect.EOF)
        finally:
            silent.close()
            if child.isalive():
                child.terminate(force=True)


if __name__ == "__main__":
    tap_main()
