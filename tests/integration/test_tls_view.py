#!/usr/bin/python3
"""\\tls against a real Postfix that sends a chain (leaf + intermediate, signed by a root
the test makes): every certificate the server sent, the verification path up to the root,
the verdict; \\tls save DIR writes the chain as PEM files and never follows a symlink.
Resumption (\\reconnect --resume, --resume): against Postfix (TLS 1.3 tickets, implicit TLS
and STARTTLS) and a Node.js server (tests/integration/ocsp_server.js) limited to TLS 1.2, or
without tickets (a full handshake each time).

Usage: PYTHONPATH=tests/lib /usr/bin/python3 tests/integration/test_tls_view.py [NAME...]
Prints TAP. Starts (and always stops) its own Postfix lab in a temp dir; needs root and the
packages of scripts/install-test-deps.sh.
"""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

from lablib import PostfixLab
from smtpshtest import openssl, run_smtpsh, script, tap_main

LAB = None
CERTS = None  # folder of root.pem, inter.pem, leaf.pem
NODE_SERVERS = {}  # name -> (process, port)
HERE = os.path.dirname(os.path.abspath(__file__))


def make_chain(d):
    """root (self-signed) -> intermediate -> leaf for localhost / 127.0.0.1."""
    with open(os.path.join(d, "ca.ext"), "w") as f:
        f.write("basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n")
    with open(os.path.join(d, "leaf.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "root-key.pem",
            "-out", "root.pem", "-days", "30", "-subj", "/O=smtpsh test/CN=smtpsh test root",
            "-addext", "basicConstraints=critical,CA:TRUE", cwd=d)
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "inter-key.pem", "-out", "inter.csr",
            "-subj", "/O=smtpsh test/CN=smtpsh test intermediate", cwd=d)
    openssl("x509", "-req", "-in", "inter.csr", "-CA", "root.pem", "-CAkey", "root-key.pem",
            "-CAcreateserial", "-days", "20", "-extfile", "ca.ext", "-out", "inter.pem", cwd=d)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "leaf-key.pem",
            "-out", "leaf.csr", "-subj", "/CN=localhost", cwd=d)
    openssl("x509", "-req", "-in", "leaf.csr", "-CA", "inter.pem", "-CAkey", "inter-key.pem",
            "-CAcreateserial", "-days", "10", "-extfile", "leaf.ext", "-out", "leaf.pem", cwd=d)


def setUpModule():
    global LAB, CERTS
    top = tempfile.mkdtemp(prefix="smtpsh-tlsview-")
    os.chmod(top, 0o755)  # Postfix's daemons (postfix, nobody) must reach the lab below it
    CERTS = os.path.join(top, "certs")
    os.makedirs(CERTS)
    make_chain(CERTS)
    # postfix-lab.sh keeps a certificate already in etc/: Postfix sends the whole file
    etc = os.path.join(top, "lab", "etc")
    os.makedirs(etc)
    with open(os.path.join(etc, "cert.pem"), "w") as f:
        for name in ("leaf.pem", "inter.pem"):
            with open(os.path.join(CERTS, name)) as c:
                f.write(c.read())
    shutil.copy(os.path.join(CERTS, "leaf-key.pem"), os.path.join(etc, "key.pem"))
    LAB = PostfixLab(directory=os.path.join(top, "lab"))
    LAB.top = top
    LAB.start()
    with open(os.path.join(CERTS, "chain.pem"), "w") as f:
        for name in ("leaf.pem", "inter.pem"):
            with open(os.path.join(CERTS, name)) as c:
                f.write(c.read())
    start_node("tls12", {"SMTP_TLS_MAX": "TLSv1.2"})
    start_node("noticket12", {"SMTP_TLS_MAX": "TLSv1.2", "SMTP_NO_TICKETS": "1"})


def start_node(name, env):
    p = subprocess.Popen([shutil.which("node") or "/usr/bin/node",
                          os.path.join(HERE, "ocsp_server.js"),
                          os.path.join(CERTS, "leaf-key.pem"), os.path.join(CERTS, "chain.pem"),
                          "-", os.path.join(LAB.top, name + ".log")],
                         env=dict(os.environ, **env), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    line = p.stdout.readline().decode()
    if not line.startswith("PORT "):
        p.kill()
        raise RuntimeError("ocsp_server.js did not start: %r %r" % (line, p.stderr.read()))
    NODE_SERVERS[name] = (p, int(line.split()[1]))


def tearDownModule():
    for p, _ in NODE_SERVERS.values():
        p.kill()
        p.wait()
    if LAB:
        LAB.stop()
        if not os.environ.get("SMTPSH_KEEP_LAB"):
            shutil.rmtree(LAB.top, ignore_errors=True)


def fingerprint(pem):
    out = subprocess.run(["openssl", "x509", "-in", pem, "-noout", "-fingerprint", "-sha256"],
                         check=True, stdout=subprocess.PIPE).stdout.decode()
    return out.strip().split("=", 1)[1]


def der(pem_path):
    return subprocess.run(["openssl", "x509", "-in", pem_path, "-outform", "DER"],
                          check=True, stdout=subprocess.PIPE).stdout


def smtpsh(args, lines):
    home = os.path.join(LAB.top, "home")
    os.makedirs(home, exist_ok=True)
    return run_smtpsh(args, script(lines), home=home)


def shown_text(r):
    """The lines of local text (indented by three spaces on screen) without the indent."""
    return "".join(l[3:] + "\n" for l in r.stdout.splitlines() if l.startswith("   "))


class TlsView(unittest.TestCase):

    def run_tls(self, host="127.0.0.1", lines=("\\tls", "QUIT")):
        r = smtpsh(["--tls", "--cafile", os.path.join(CERTS, "root.pem"), host,
                    LAB.port("smtps")], list(lines))
        self.assertEqual(r.rc, 0, r.describe())
        return r

    def test_whole_chain(self):
        """\\tls: both certificates sent, their fields, the path to the root, the verdict"""
        r = self.run_tls()
        out = shown_text(r)
        self.assertRegex(out, r"protocol: +TLSv1\.[23]\n", r.describe())
        self.assertRegex(out, r"key exchange: +\S+", r.describe())
        self.assertIn("session:      new (full handshake)\n", out)
        self.assertIn("sni sent:     none (an IP address", out)
        self.assertIn("client cert:  none sent\n", out)
        self.assertIn("chain sent by the server: 2 certificates\n", out)
        self.assertIn("  [0] leaf\n    subject:     CN=localhost\n"
                      "    issuer:      CN=smtpsh test intermediate,O=smtpsh test\n", out)
        self.assertRegex(out, r"valid: +from .* until .* \((9|10) days left\)")
        self.assertIn("    key:         RSA 2048 bits\n    signature:   ecdsa-with-SHA256\n"
                      "    names:       DNS:localhost, IP Address:127.0.0.1, "
                      "IP Address:0:0:0:0:0:0:0:1\n", out)
        self.assertIn("    sha256:      %s\n" % fingerprint(os.path.join(CERTS, "leaf.pem")),
                      out)
        self.assertIn("  [1]\n    subject:     CN=smtpsh test intermediate,O=smtpsh test\n"
                      "    issuer:      CN=smtpsh test root,O=smtpsh test\n", out)
        self.assertIn("    key:         EC 256 bits (prime256v1)\n"
                      "    signature:   sha256WithRSAEncryption\n    names:       (none)\n", out)
        self.assertIn("    sha256:      %s\n" % fingerprint(os.path.join(CERTS, "inter.pem")),
                      out)
        self.assertIn("verification path:\n  0: CN=localhost\n"
                      "  1: CN=smtpsh test intermediate,O=smtpsh test\n"
                      "  2: CN=smtpsh test root,O=smtpsh test\n", out)
        self.assertIn("verified:     certificate verified\n", out)

    def test_sni_sent(self):
        """a host name is sent as SNI and shown"""
        r = self.run_tls(host="localhost")
        self.assertIn("sni sent:     localhost\n", shown_text(r), r.describe())

    def test_insecure_verdict_in_words(self):
        """--insecure without the root: the verdict names OpenSSL's error"""
        r = smtpsh(["--tls", "--insecure", "127.0.0.1", LAB.port("smtps")], ["\\tls", "QUIT"])
        self.assertEqual(r.rc, 0, r.describe())
        self.assertIn("chain sent by the server: 2 certificates\n", r.stdout)
        self.assertRegex(r.stdout, r"verified: +certificate NOT verified: .*\(OpenSSL: 20, "
                         r"unable to get local issuer certificate\)\n", r.describe())

    def test_save(self):
        """\\tls save DIR: creates DIR, writes 0-leaf.pem and 1-ca.pem as sent, says so"""
        d = os.path.join(LAB.top, "saved")
        r = self.run_tls(lines=["\\tls save " + d, "QUIT"])
        self.assertIn("wrote %s/0-leaf.pem (CN=localhost)\n" % d, r.stdout, r.describe())
        self.assertIn("wrote %s/1-ca.pem (CN=smtpsh test intermediate,O=smtpsh test)\n" % d,
                      r.stdout, r.describe())
        self.assertEqual(os.stat(d).st_mode & 0o777, 0o755)
        for saved, orig in (("0-leaf.pem", "leaf.pem"), ("1-ca.pem", "inter.pem")):
            path = os.path.join(d, saved)
            self.assertEqual(os.stat(path).st_mode & 0o777, 0o644)
            self.assertEqual(der(path), der(os.path.join(CERTS, orig)), saved)
        self.assertEqual(sorted(os.listdir(d)), ["0-leaf.pem", "1-ca.pem"])

    def test_save_refuses_symlink(self):
        """\\tls save into a folder where 0-leaf.pem is a symlink: refused, target untouched"""
        d = os.path.join(LAB.top, "trap")
        os.makedirs(d, exist_ok=True)
        victim = os.path.join(LAB.top, "victim")
        with open(victim, "w") as f:
            f.write("keep me\n")
        link = os.path.join(d, "0-leaf.pem")
        if not os.path.lexists(link):
            os.symlink(victim, link)
        r = self.run_tls(lines=["\\tls save " + d, "QUIT"])
        self.assertIn("\\tls save: cannot write %s: it is a symbolic link (not followed)" % link,
                      r.stdout + r.stderr, r.describe())
        with open(victim) as f:
            self.assertEqual(f.read(), "keep me\n")

    def test_save_plaintext(self):
        """\\tls save without TLS: says there is nothing to save"""
        r = smtpsh(["127.0.0.1", LAB.port("plain")], ["\\tls save /nonexistent/x", "QUIT"])
        self.assertIn("not under TLS: there is no certificate to save", r.stdout + r.stderr,
                      r.describe())
        self.assertFalse(os.path.exists("/nonexistent/x"))


class Resumption(unittest.TestCase):

    def tls_lines(self, r):
        return [t for t in r.info() if re.match(r"TLSv1\.[0-3] ", t)]

    def run_twice(self, args, port, reconnect="\\reconnect --resume", first=(), again=()):
        lines = list(first) + ["EHLO client.test", reconnect] + list(again) + ["\\tls", "QUIT"]
        r = smtpsh(["--cafile", os.path.join(CERTS, "root.pem")] + args +
                   ["localhost", str(port)], lines)
        self.assertEqual(r.rc, 0, r.describe())
        tls = self.tls_lines(r)
        self.assertEqual(len(tls), 2, r.describe())
        return r, tls

    def test_postfix_tls13_implicit(self):
        """Postfix, implicit TLS 1.3: the ticket of the first connection is resumed"""
        r, tls = self.run_twice(["--tls"], LAB.port("smtps"))
        self.assertRegex(tls[0], r"^TLSv1\.3 \S+, certificate verified \(CN=localhost\)$")
        self.assertRegex(tls[1], r"^TLSv1\.3 \S+, certificate verified \(CN=localhost\), "
                         r"resumed$", r.describe())
        out = shown_text(r)
        self.assertIn("session:      resumed (no full handshake)\n", out)
        self.assertIn("chain of the first handshake (the session was resumed: nothing was "
                      "sent again): ", out)
        self.assertIn("verified:     certificate verified", out)
        self.assertEqual(r.sent()[-1], ("~>", "QUIT"), r.describe())

    def test_postfix_starttls_with_option(self):
        """Postfix, STARTTLS, --resume: a plain \\reconnect offers the session"""
        r, tls = self.run_twice(["--starttls", "--resume"], LAB.port("submission"),
                                reconnect="\\reconnect")
        self.assertRegex(tls[0], r", not resumed \(no earlier TLS session with this host and "
                         r"port\)$", r.describe())
        self.assertRegex(tls[1], r", resumed$", r.describe())

    def test_no_resume_without_asking(self):
        """\\reconnect alone: a full handshake, nothing said about resumption"""
        r, tls = self.run_twice(["--tls"], LAB.port("smtps"), reconnect="\\reconnect")
        self.assertNotIn("resumed", tls[1], r.describe())
        self.assertIn("session:      new (full handshake)\n", shown_text(r))

    def test_tls12_session_resumed(self):
        """a TLS 1.2 server: its session (ticket) is resumed"""
        r, tls = self.run_twice(["--tls"], NODE_SERVERS["tls12"][1])
        self.assertRegex(tls[0], r"^TLSv1\.2 ", r.describe())
        self.assertRegex(tls[1], r"^TLSv1\.2 .*, resumed$", r.describe())

    def test_server_that_does_not_resume(self):
        """a server without tickets or cache: "not resumed (the server did a full handshake)\""""
        r, tls = self.run_twice(["--tls"], NODE_SERVERS["noticket12"][1])
        self.assertRegex(tls[1], r"^TLSv1\.2 .*certificate verified \(CN=localhost\), not "
                         r"resumed \(the server did a full handshake\)$", r.describe())
        self.assertIn("session:      new (full handshake)\n", shown_text(r))
        self.assertIn("chain sent by the server: 2 certificates\n", shown_text(r))

    def test_practice_server(self):
        """the practice server (STARTTLS typed): \\reconnect --resume resumes its ticket"""
        r = smtpsh(["--practice"], ["EHLO a", "STARTTLS", "EHLO a", "\\reconnect --resume",
                                    "EHLO b", "STARTTLS", "QUIT"])
        self.assertEqual(r.rc, 0, r.describe())
        tls = self.tls_lines(r)
        self.assertEqual(len(tls), 2, r.describe())
        self.assertNotIn("resumed", tls[0])
        self.assertRegex(tls[1], r"certificate verified \(CN=localhost,O=smtpsh practice "
                         r"server\), resumed$", r.describe())
        self.assertEqual(r.sent()[-1], ("~>", "QUIT"), r.describe())

    def test_transcript_records_resumed(self):
        """--record: the TLS line of the resumed connection says so in the transcript"""
        rec = os.path.join(LAB.top, "resumed.transcript")
        r = smtpsh(["--tls", "--cafile", os.path.join(CERTS, "root.pem"), "--record", rec,
                    "localhost", str(LAB.port("smtps"))],
                   ["EHLO a", "\\reconnect --resume", "QUIT"])
        self.assertEqual(r.rc, 0, r.describe())
        with open(rec) as f:
            tls = [l for l in f.read().splitlines() if l.startswith("*  TLSv1.")]
        self.assertEqual(len(tls), 2, tls)
        self.assertNotIn("resumed", tls[0])
        self.assertTrue(tls[1].endswith(", resumed"), tls)

    def test_reconnect_usage(self):
        """\\reconnect before any connection, and with an unknown flag: one-line errors"""
        r = smtpsh([], ["\\reconnect"])
        self.assertEqual(r.stderr, "!  error: \\reconnect: no connection yet (\\connect HOST "
                         "first)\n", r.describe())
        r = smtpsh([], ["\\reconnect --bogus"])
        self.assertEqual(r.stderr, "!  error: usage: \\reconnect [--resume]\n", r.describe())


if __name__ == "__main__":
    tap_main()
