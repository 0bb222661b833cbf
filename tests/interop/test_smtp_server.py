#!/usr/bin/python3
"""The interop matrix against nodemailer's smtp-server (npm, tests/interop/package.json):
STARTTLS with the test CA, AUTH PLAIN, LOGIN, CRAM-MD5 and XOAUTH2 (an onAuth callback that
checks the password, or the bearer token), SIZE; two instances: one that shows 8BITMIME
and SMTPUTF8 and one that hides them (hide8BITMIME), where \\send must fall back to base64.
Messages are checked byte for byte as the server's onData stream wrote them.

Usage: PYTHONPATH=tests/lib /usr/bin/python3 tests/interop/test_smtp_server.py
       [PATH/TO/smtpsh] [NAME...]
"""

import json
import os
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
from interoplib import (Daemon, HERE, MatrixTests, NODE, NODE_MODULES, parse_message, PKI,
                        require_node_modules, rmtree, Server, Store)
from mockidp import MockIdP
from smtpshtest import free_port, run_smtpsh, tap_main, token

WORK = tempfile.mkdtemp(prefix="smtpsh-interop-smtp-server-")
SERVERS = {}


class SmtpServer(Server):
    mechs = ("PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2")
    size = 100000
    size_code = 552
    user = "alice@example.test"
    password = "Node-pass-4711"
    oauth_token = "ya29.interop-token-4711"

    def __init__(self, pki, hide8bit):
        self.name = "smtp-server" + (" (8BITMIME hidden)" if hide8bit else "")
        self.pki = pki
        base = os.path.join(WORK, "hidden" if hide8bit else "shown")
        self.home = os.path.join(base, "home")
        os.makedirs(self.home)
        self.store = Store(os.path.join(base, "store"))
        self.caps = (("PIPELINING", "SIZE", "AUTH") if hide8bit else
                     ("PIPELINING", "8BITMIME", "SMTPUTF8", "SIZE", "AUTH"))
        for _ in range(3):
            self.port = free_port()
            cfg = {"port": self.port, "key": pki.key, "cert": pki.cert, "user": self.user,
                   "password": self.password, "token": self.oauth_token, "size": self.size,
                   "hide8bit": hide8bit, "store": self.store.dir}
            try:
                self.daemon = Daemon([NODE, os.path.join(HERE, "servers", "smtp_server.js"),
                                      json.dumps(cfg)], os.path.join(base, "server.log"),
                                     self.port, env=dict(os.environ, NODE_PATH=NODE_MODULES),
                                     ready_rx=r"ready \d+")
                break
            except AssertionError:
                if _ == 2:
                    raise

    def describe(self):
        return self.daemon.describe()


def setUpModule():
    require_node_modules("smtp-server")
    pki = PKI(os.path.join(WORK, "pki"))
    SERVERS["shown"] = SmtpServer(pki, False)
    SERVERS["hidden"] = SmtpServer(pki, True)
    SmtpServerMatrix.S = SERVERS["shown"]
    Hidden8bit.S = SERVERS["hidden"]


def tearDownModule():
    for s in SERVERS.values():
        s.daemon.stop()
    rmtree(WORK)


def send_8bit(test, S):
    tok = token()
    body = "Gr\u00fc\u00dfe \u2014 " + tok
    r = test.smtpsh(test.tls_args() + [S.host, S.port], test.login() + [
        '\\send --from %s --to %s --subject 8bit --body "%s" --header "X-Token: %s"'
        % (S.sender, S.rcpt, body, tok),
        "QUIT"])
    test.assertOk(r)
    data = S.stored(tok)[0]
    msg = parse_message(data)
    test.assertEqual(msg.get_content().strip(), body)
    mail = [t for t in r.sent_text() if t.startswith("MAIL FROM:")]
    return r, data, msg, mail[0]


class SmtpServerMatrix(MatrixTests, unittest.TestCase):

    def test_8bit_body_with_8bitmime(self):
        """8BITMIME shown: an 8-bit body goes 8bit with BODY=8BITMIME"""
        r, data, msg, mail = send_8bit(self, self.S)
        self.assertIn(" BODY=8BITMIME", mail)
        self.assertEqual(msg["Content-Transfer-Encoding"], "8bit")
        self.assertIn("Gr\u00fc\u00dfe".encode(), data)


    def test_xoauth2_token_from_the_store(self):
        """--send --auth auto with a profile's OAuth2 settings: the stored refresh token gets
        an access token from the mock provider (HTTPS, its own CA), which smtp-server's
        onAuth callback accepts for XOAUTH2 under STARTTLS; no token on the screen"""
        S = self.S
        home = tempfile.mkdtemp(prefix="oauth-home-", dir=WORK)
        idp = MockIdP(home)
        try:
            idp.fixed_access = S.oauth_token
            rt = idp.grant(S.user)
            store = os.path.join(home, ".local", "state", "smtpsh", "oauth")
            os.makedirs(store, mode=0o700)
            with open(os.path.join(store, "node.json"), "w") as f:
                json.dump({"account": S.user, "scope": "smtp", "stored": 1,
                           "refresh_token": rt}, f)
            os.chmod(os.path.join(store, "node.json"), 0o600)
            conf = os.path.join(home, ".config", "smtpsh")
            os.makedirs(conf)
            with open(os.path.join(conf, "profiles"), "w") as f:
                f.write("[node]\nhost = %s\nport = %s\ntls = starttls\ncafile = %s\n"
                        "user = %s\noauth-client-id = smtpsh-test\noauth-token-url = %s\n"
                        "oauth-cafile = %s\n" % (S.host, S.port, S.pki.cafile, S.user,
                                                  idp.url("/token"), idp.cafile))
            tok = token()
            r = run_smtpsh(["--send", "--auth", "auto", "--from", S.sender, "--to", S.rcpt,
                            "--body", tok, "node"], b"", home=home,
                           env={"SMTPSH_OAUTH_TOKEN": ""})
            self.assertEqual(r.rc, 0, self.describe(r))
            self.assertIn("~> AUTH XOAUTH2 <redacted>", r.out())
            self.assertIn("authenticated as %s (XOAUTH2)" % S.user, r.out())
            self.assertEqual(len(S.stored(tok)), 1)
            for t in idp.issued + [S.oauth_token]:
                self.assertNotIn(t, r.out() + r.err())
        finally:
            idp.stop()


class Hidden8bit(MatrixTests, unittest.TestCase):
    """The same server with 8BITMIME and SMTPUTF8 hidden: EHLO, STARTTLS and the 8-bit rule"""

    # the whole matrix runs against the other instance; here what the hidden caps change
    test_auth_every_mechanism = test_pipeline_two_messages = None
    test_record_then_replay = test_size_refusal = test_dot_lines_and_file = None
    test_size_refusal_after_data = None

    def test_ehlo_and_caps(self):
        MatrixTests.test_ehlo_and_caps(self)
        r = self.smtpsh(self.tls_args() + [self.S.host, self.S.port], ["\\caps", "QUIT"])
        self.assertNotRegex(r.stdout, r"(?m)^\s+(8BITMIME|SMTPUTF8)\b", self.describe(r))

    def test_8bit_body_without_8bitmime(self):
        """8BITMIME hidden: the 8-bit body goes base64 (with a warning), no BODY="""
        r, data, msg, mail = send_8bit(self, self.S)
        self.assertNotIn("BODY=", mail)
        self.assertEqual(msg["Content-Transfer-Encoding"], "base64")
        self.assertNotIn("Gr\u00fc\u00dfe".encode(), data)
        self.assertRegex(r.stdout + r.stderr, r"(?i)8BITMIME")


if __name__ == "__main__":
    tap_main()
