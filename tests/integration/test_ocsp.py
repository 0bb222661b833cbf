#!/usr/bin/python3
"""--ocsp against a small Node.js TLS server (tests/integration/ocsp_server.js) that staples
OCSP responses made here by `openssl ocsp` from a CA of the test (index.txt with a good and
a revoked certificate, a responder certificate with id-kp-OCSPSigning): good is shown, a
revoked certificate is refused like an untrusted one (unless --insecure), no staple or a
staple signed by a stranger is a warning, and without --ocsp nothing is asked.

Usage: PYTHONPATH=tests/lib /usr/bin/python3 tests/integration/test_ocsp.py [NAME...]
Prints TAP. Needs node (Debian's nodejs) and openssl.
"""

import os
import shutil
import subprocess
import tempfile
import unittest

from smtpshtest import openssl, run_smtpsh, script, tap_main

HERE = os.path.dirname(os.path.abspath(__file__))
NODE = shutil.which("node") or "/usr/bin/node"
TMP = None
SERVERS = {}  # name -> (process, port, log path)


def serial(d, cert):
    out = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-serial"], cwd=d,
                         check=True, stdout=subprocess.PIPE).stdout.decode()
    return out.strip().split("=", 1)[1]


def make_pki(d):
    def write(name, text):
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
    write("ca.ext", "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n")
    write("leaf.ext", "subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    write("resp.ext", "basicConstraints=CA:FALSE\nextendedKeyUsage=OCSPSigning\n"
          "keyUsage=critical,digitalSignature\n")
    for ca in ("ca", "other-ca"):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca + "-key.pem",
                "-out", ca + ".pem", "-days", "30", "-subj", "/CN=smtpsh OCSP test " + ca,
                "-addext", "basicConstraints=critical,CA:TRUE", cwd=d)

    def issue(name, ca, ext, subject):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + "-key.pem",
                "-out", name + ".csr", "-subj", subject, cwd=d)
        openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey",
                ca + "-key.pem", "-CAcreateserial", "-days", "10", "-extfile", ext,
                "-out", name + ".pem", cwd=d)
    issue("good", "ca", "leaf.ext", "/CN=localhost")
    issue("revoked", "ca", "leaf.ext", "/CN=localhost")
    issue("unlisted", "ca", "leaf.ext", "/CN=localhost")  # not in index.txt: unknown
    issue("responder", "ca", "resp.ext", "/CN=smtpsh test OCSP responder")
    issue("stranger", "other-ca", "resp.ext", "/CN=smtpsh test stranger responder")
    # openssl ca's database: V(alid) and R(evoked, when, why)
    write("index.txt",
          "V\t301231000000Z\t\t%s\tunknown\t/CN=localhost\n"
          "R\t301231000000Z\t261201000000Z,keyCompromise\t%s\tunknown\t/CN=localhost\n"
          % (serial(d, "good.pem"), serial(d, "revoked.pem")))

    def respond(leaf, out, signer="responder"):
        openssl("ocsp", "-issuer", "ca.pem", "-cert", leaf + ".pem", "-no_nonce",
                "-reqout", leaf + "-req.der", cwd=d)
        openssl("ocsp", "-index", "index.txt", "-rsigner", signer + ".pem", "-rkey",
                signer + "-key.pem", "-CA", "ca.pem", "-reqin", leaf + "-req.der",
                "-respout", out, "-ndays", "1", cwd=d)
    respond("good", "good.der")
    respond("revoked", "revoked.der")
    respond("good", "forged.der", signer="stranger")
    respond("unlisted", "unlisted.der")
    for leaf in ("good", "revoked", "unlisted"):  # the chain the server sends: leaf, then its CA
        with open(os.path.join(d, leaf + "-chain.pem"), "w") as f:
            for part in (leaf + ".pem", "ca.pem"):
                with open(os.path.join(d, part)) as p:
                    f.write(p.read())


def start_server(name, leaf, response):
    log = os.path.join(TMP, name + ".log")
    open(log, "w").close()
    p = subprocess.Popen([NODE, os.path.join(HERE, "ocsp_server.js"),
                          os.path.join(TMP, leaf + "-key.pem"),
                          os.path.join(TMP, leaf + "-chain.pem"),
                          os.path.join(TMP, response) if response != "-" else "-", log],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = p.stdout.readline().decode()
    if not line.startswith("PORT "):
        p.kill()
        raise RuntimeError("ocsp_server.js did not start: %r %r" % (line, p.stderr.read()))
    SERVERS[name] = (p, int(line.split()[1]), log)


def setUpModule():
    global TMP
    TMP = tempfile.mkdtemp(prefix="smtpsh-ocsp-")
    make_pki(TMP)
    start_server("good", "good", "good.der")
    start_server("revoked", "revoked", "revoked.der")
    start_server("none", "good", "-")
    start_server("forged", "good", "forged.der")
    start_server("unknown", "unlisted", "unlisted.der")


def tearDownModule():
    for p, _, _ in SERVERS.values():
        p.kill()
        p.wait()
    if TMP and not os.environ.get("SMTPSH_KEEP_LAB"):
        shutil.rmtree(TMP, ignore_errors=True)


def smtpsh(name, extra, lines=("\\tls", "QUIT")):
    _, port, _ = SERVERS[name]
    home = os.path.join(TMP, "home")
    os.makedirs(home, exist_ok=True)
    return run_smtpsh(["--tls", "--cafile", os.path.join(TMP, "ca.pem")] + extra +
                      ["localhost", str(port)], script(list(lines)), home=home)


def asked(name):
    with open(SERVERS[name][2]) as f:
        return f.read().count("status_request")


class Ocsp(unittest.TestCase):

    def test_good(self):
        """a good staple: one info line, \\tls shows status, times and responder"""
        before = asked("good")
        r = smtpsh("good", ["--ocsp"])
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(asked("good"), before + 1, "status_request not sent")
        info = [t for t in r.info() if t.startswith("OCSP")]
        self.assertEqual(len(info), 1, r.describe())
        self.assertRegex(info[0], r"^OCSP: good, next update \w{3} +\d+ [\d:]+ \d{4} GMT$")
        self.assertIn("   ocsp:         good\n", r.stdout)
        self.assertRegex(r.stdout, r"\n     produced:    \w{3} +\d+ [\d:]+ \d{4} GMT\n"
                         r"     responder:   CN=smtpsh test OCSP responder\n"
                         r"     this update: .* GMT\n     next update: .* GMT\n")
        self.assertEqual(r.sent()[-1], ("~>", "QUIT"), r.describe())

    def test_revoked_refused(self):
        """a revoked certificate: refused like an untrusted one, nothing sent, exit 4"""
        r = smtpsh("revoked", ["--ocsp"])
        self.assertEqual(r.rc, 4, r.describe())
        self.assertIn("TLS certificate of localhost not trusted: certificate revoked (OCSP: "
                      "REVOKED (keyCompromise) on Dec  1 00:00:00 2026 GMT)", r.stderr,
                      r.describe())
        self.assertEqual(r.sent(), [], r.describe())

    def test_revoked_insecure_goes_on_unverified(self):
        """--insecure: a warning, the TLS line says revoked, the lines are marked ?>"""
        r = smtpsh("revoked", ["--ocsp", "--insecure"])
        self.assertEqual(r.rc, 0, r.describe())
        self.assertIn("OCSP: REVOKED (keyCompromise) on Dec  1 00:00:00 2026 GMT; going on "
                      "(--insecure)", r.stderr, r.describe())
        tls = [t for t in r.info() if t.startswith("TLS")]
        self.assertRegex(tls[0], r"certificate NOT verified: certificate revoked")
        self.assertEqual(r.sent(), [("?>", "QUIT")], r.describe())
        self.assertIn("   ocsp:         REVOKED (keyCompromise)", r.stdout)

    def test_no_staple_is_a_warning(self):
        """asked, nothing stapled: a warning, the session goes on"""
        r = smtpsh("none", ["--ocsp"])
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(asked("none"), 1)
        self.assertIn("OCSP: no response stapled (the server does not staple, or had none) "
                      "(--ocsp)", r.stderr, r.describe())
        self.assertEqual(r.sent()[-1], ("~>", "QUIT"), r.describe())

    def test_stranger_signature_is_a_warning(self):
        """a staple signed by a responder of another CA: not trusted, a warning"""
        r = smtpsh("forged", ["--ocsp"])
        self.assertEqual(r.rc, 0, r.describe())
        self.assertRegex(r.stderr, r"OCSP: response not trusted: its signature does not "
                         r"verify \(.+\) \(--ocsp\)")
        self.assertEqual(r.sent()[-1], ("~>", "QUIT"), r.describe())

    def test_unknown_is_a_warning(self):
        """the responder does not know the certificate: a warning, the session goes on"""
        r = smtpsh("unknown", ["--ocsp"])
        self.assertEqual(r.rc, 0, r.describe())
        self.assertRegex(r.stderr, r"OCSP: unknown \(the responder does not know this "
                         r"certificate\), next update .* GMT \(--ocsp\)")
        self.assertEqual(r.sent()[-1], ("~>", "QUIT"), r.describe())

    def test_not_asked_without_option(self):
        """without --ocsp no status_request is sent and nothing is said about OCSP"""
        before = asked("revoked")
        r = smtpsh("revoked", [])
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(asked("revoked"), before)
        self.assertNotIn("OCSP:", r.stdout + r.stderr)
        self.assertIn("   ocsp:         not asked for (--ocsp, \\connect ... --ocsp)\n", r.stdout)

    def test_profile_key(self):
        """a profile with ocsp = yes asks as --ocsp does"""
        _, port, _ = SERVERS["revoked"]
        home = os.path.join(TMP, "profile-home")
        os.makedirs(os.path.join(home, "config", "smtpsh"), exist_ok=True)
        with open(os.path.join(home, "config", "smtpsh", "profiles"), "w") as f:
            f.write("[stapler]\nhost = localhost\nport = %d\ntls = tls\ncafile = %s\n"
                    "ocsp = yes\n" % (port, os.path.join(TMP, "ca.pem")))
        r = run_smtpsh(["stapler"], script(["QUIT"]), home=home,
                       env={"XDG_CONFIG_HOME": os.path.join(home, "config")})
        self.assertEqual(r.rc, 4, r.describe())
        self.assertIn("TLS certificate of localhost not trusted: certificate revoked",
                      r.stderr, r.describe())

    def test_connect_flag(self):
        """\\connect HOST PORT --tls --ocsp asks for this connection"""
        _, port, _ = SERVERS["revoked"]
        home = os.path.join(TMP, "home")
        os.makedirs(home, exist_ok=True)
        r = run_smtpsh(["--cafile", os.path.join(TMP, "ca.pem")],
                       script(["\\connect localhost %d --tls --ocsp" % port]), home=home)
        self.assertIn("TLS certificate of localhost not trusted: certificate revoked",
                      r.stderr, r.describe())


if __name__ == "__main__":
    tap_main()
