#!/usr/bin/python3
"""The interop matrix against Debian's aiosmtpd (python3-aiosmtpd, /usr/bin/python3):
STARTTLS with the test CA, AUTH PLAIN and LOGIN (aiosmtpd's mechanisms, offered under TLS
only) with a checking authenticator, SIZE (data_size_limit). Messages are checked byte for
byte as aiosmtpd received them (envelope.original_content, written by
servers/aiosmtpd_server.py).

Usage: PYTHONPATH=tests/lib /usr/bin/python3 tests/interop/test_aiosmtpd.py
       [PATH/TO/smtpsh] [NAME...]
"""

import os
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
from interoplib import Daemon, HERE, MatrixTests, PKI, require, rmtree, Server, Store, write_json
from smtpshtest import free_port, run_smtpsh, tap_main

WORK = tempfile.mkdtemp(prefix="smtpsh-interop-aiosmtpd-")
PYTHON = "/usr/bin/python3"


class Aiosmtpd(Server):
    name = "aiosmtpd"
    mechs = ("PLAIN", "LOGIN")
    caps = ("SIZE", "8BITMIME", "SMTPUTF8", "AUTH")
    size = 100000
    size_code = 552
    user = "alice@example.test"
    password = "Aio-pass-4711"

    def __init__(self):
        self.pki = PKI(os.path.join(WORK, "pki"))
        self.home = os.path.join(WORK, "home")
        os.makedirs(self.home)
        self.store = Store(os.path.join(WORK, "store"))
        for attempt in range(3):
            self.port = free_port()
            cfg = os.path.join(WORK, "server.json")
            write_json(cfg, {"port": self.port, "key": self.pki.key, "cert": self.pki.cert,
                             "user": self.user, "password": self.password,
                             "size": self.size, "store": self.store.dir})
            try:
                self.daemon = Daemon([PYTHON, os.path.join(HERE, "servers", "aiosmtpd_server.py"),
                                      cfg], os.path.join(WORK, "server.log"), self.port,
                                     ready_rx=r"ready \d+")
                return
            except AssertionError:
                if attempt == 2:
                    raise

    def describe(self):
        return self.daemon.describe()


S = None


def setUpModule():
    global S
    require([PYTHON])
    import importlib.util
    if importlib.util.find_spec("aiosmtpd") is None:
        raise AssertionError("python3-aiosmtpd is missing: run scripts/install-test-deps.sh")
    S = Aiosmtpd()
    AiosmtpdMatrix.S = S


def tearDownModule():
    if S:
        S.daemon.stop()
    rmtree(WORK)


class AiosmtpdMatrix(MatrixTests, unittest.TestCase):

    def test_auth_only_after_starttls(self):
        """aiosmtpd offers AUTH only under TLS: not in the plaintext EHLO"""
        r = self.smtpsh(self.tls_args() + [S.host, S.port], ["QUIT"])
        self.assertOk(r)
        plain = [t for m, t in r.events if m == "<-"]
        tls = [t for m, t in r.events if m == "<~"]
        self.assertFalse([t for t in plain if "AUTH" in t], self.describe(r))
        self.assertIn("250-AUTH LOGIN PLAIN", tls, self.describe(r))

    def test_check(self):
        """smtpsh --check against Debian's aiosmtpd 1.4.3: every verdict. It takes any
        recipient (open-relay fails), offers no PIPELINING, and ends the data only at
        CRLF.CRLF (every smuggling variant passes: one reply per message)"""
        import json
        r = run_smtpsh(["--check", "--json", "--cafile", S.pki.cafile, "--check-rcpt",
                        S.user, S.host, S.port], home=S.home)
        report = json.loads(r.stdout)
        got = {c["name"]: c["verdict"] for c in report["checks"]}
        want = {
            "greeting": "pass", "ehlo": "pass", "starttls-offered": "pass", "tls13": "pass",
            "cipher": "pass", "certificate-trust": "pass", "certificate-name": "pass",
            "certificate-expiry": "warn",  # the test PKI's certificate lives two days
            "certificate-key": "pass",
            "certificate-signature": "pass", "ocsp-stapling": "info",
            "starttls-injection": "pass", "plaintext-auth": "pass",
            "tls10": "pass", "tls11": "pass", "weak-ciphers": "pass",
            "auth-after-starttls": "pass", "mechanisms": "info", "open-relay": "fail",
            "vrfy": "pass", "expn": "pass", "rcpt": "info", "pipelining": "info", "size": "pass",
            "8bitmime": "pass", "smtputf8": "pass", "chunking": "info", "bare-lf": "info",
            "long-line": "pass",
            "smuggling-lf-dot-lf": "pass", "smuggling-lf-dot-crlf": "pass",
            "smuggling-cr-dot-cr": "pass", "smuggling-crlf-dot-cr": "pass",
            "smuggling-cr-dot-crlf": "pass", "smuggling-crlf-nul-dot-crlf": "pass",
        }
        self.assertEqual({k: v for k, v in got.items() if want.get(k) != v},
                         {k: v for k, v in want.items() if got.get(k) != v}, r.stdout)
        self.assertEqual(r.rc, 1, r.describe())


if __name__ == "__main__":
    tap_main()
