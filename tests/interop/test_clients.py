#!/usr/bin/python3
"""The reverse of the matrix: clients we did not write against `smtpsh --serve`. Python's
smtplib, swaks, curl (smtp:// --ssl-reqd), msmtp and nodemailer's client (npm) each log in
over STARTTLS, verifying the certificate against the CA --serve prints, and deliver a
message with dot lines and UTF-8; the Maildir file must be that message byte for byte
(after the three fields the practice server prepends, LF line ends, dots unstuffed), and
the server's screen must show the AUTH without the password.

Usage: PYTHONPATH=tests/lib /usr/bin/python3 tests/interop/test_clients.py
       [PATH/TO/smtpsh] [NAME...]
"""

import json
import os
import re
import shutil
import smtplib
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
from interoplib import NODE, NODE_MODULES, require, require_node_modules
from smtpshtest import maildir_files, tap_main, token
from practicelib import Serve, split_stored

WORK = tempfile.mkdtemp(prefix="smtpsh-interop-clients-")
SRV = None
SWAKS, CURL, MSMTP = "/usr/bin/swaks", "/usr/bin/curl", "/usr/bin/msmtp"
SENDER, RCPT = "sender@client.test", "rcpt@example.test"


def setUpModule():
    global SRV
    require([SWAKS, CURL, MSMTP])
    require_node_modules("nodemailer")
    SRV = Serve(os.path.join(WORK, "Maildir"))


def tearDownModule():
    if SRV:
        SRV.stop()
    shutil.rmtree(WORK, ignore_errors=True)


def message_lines(tok, client):
    return ["Subject: %s via %s" % (tok, client), "From: <%s>" % SENDER, "To: <%s>" % RCPT,
            "", "first line", ".one leading dot", "..two leading dots", ".", "",
            "UTF-8: gr\u00fc\u00dfe \u2603", "last line"]


def write_message(tok, client, end=b"\r\n"):
    path = os.path.join(WORK, "%s-%s.eml" % (client, tok))
    with open(path, "wb") as f:
        f.write(end.join(l.encode() for l in message_lines(tok, client)) + end)
    return path


class Clients(unittest.TestCase):

    def check(self, tok, client, out=""):
        deadline = time.monotonic() + 10
        while True:
            found = []
            for path in maildir_files(SRV.maildir):
                with open(path, "rb") as f:
                    data = f.read()
                if tok.encode() in data:
                    found.append(data)
            if found or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(len(found), 1, "%s: not stored once\n%s\n%s"
                         % (client, out, SRV.out.text()[-3000:]))
        headers, rest = split_stored(found[0])
        self.assertEqual(rest, ("\n".join(message_lines(tok, client)) + "\n").encode())
        self.assertEqual(headers["Return-Path"], ("Return-Path: <%s>" % SENDER).encode())
        # ESMTPSA: STARTTLS and AUTH (RFC 3848)
        self.assertRegex(headers["Received"].decode(), r"with ESMTPSA id")
        # the banner prints the demo login; the conversations must not show the password
        screen = "\n".join(l for l in SRV.out.lines if l.startswith("["))
        self.assertNotIn(SRV.password, screen)
        # this client's conversation: verified TLS, then the login, before the message
        cid = re.search(r"^\[(\d+)\] ~> \| Subject: %s via" % tok, screen, re.M).group(1)
        conv = [l for l in screen.split("\n") if l.startswith("[%s] " % cid)]
        text = "\n".join(conv)
        self.assertRegex(text, r"TLS established: TLSv1\.[23]")
        self.assertRegex(text, r"\*  \S+ login as %s succeeded" % re.escape(SRV.user))
        self.assertNotRegex(text, r"\] -> (?i:auth|mail)", "AUTH or MAIL before STARTTLS")

    def run_client(self, argv, **kw):
        p = subprocess.run(argv, capture_output=True, timeout=60, **kw)
        out = (p.stdout + p.stderr).decode("utf-8", "replace")
        self.assertEqual(p.returncode, 0, "%s\n%s\n%s" % (" ".join(argv), out,
                                                          SRV.out.text()[-3000:]))
        return out

    def test_smtplib(self):
        """Python's smtplib: STARTTLS verified with the printed CA, AUTH, the message"""
        tok = token()
        ctx = ssl.create_default_context(cafile=SRV.cafile)
        with smtplib.SMTP("localhost", SRV.port, local_hostname="client.test",
                          timeout=10) as s:
            s.starttls(context=ctx)
            s.login(SRV.user, SRV.password)
            with open(write_message(tok, "smtplib"), "rb") as f:
                self.assertEqual(s.sendmail(SENDER, [RCPT], f.read()), {})
        self.check(tok, "smtplib")

    def test_swaks(self):
        """swaks --tls --tls-verify --tls-ca-path CA --auth LOGIN"""
        tok = token()
        path = write_message(tok, "swaks", b"\n")
        with open(path, "rb") as f:  # swaks ends the data with its own CRLF
            data = f.read()
        with open(path, "wb") as f:
            f.write(data[:-1])
        out = self.run_client([SWAKS, "--server", "localhost", "--port", str(SRV.port),
                               "--helo", "client.test", "--from", SENDER, "--to", RCPT,
                               "--tls", "--tls-verify", "--tls-ca-path", SRV.cafile,
                               "--auth", "LOGIN", "--auth-user", SRV.user,
                               "--auth-password", SRV.password, "--data", path])
        self.assertIn("TLS started", out)
        self.check(tok, "swaks", out)

    def test_curl(self):
        """curl smtp:// --ssl-reqd --cacert CA (STARTTLS), AUTH"""
        tok = token()
        path = write_message(tok, "curl")
        out = self.run_client([CURL, "-sS", "--ssl-reqd", "--cacert", SRV.cafile,
                               "smtp://localhost:%d/client.test" % SRV.port,
                               "--user", "%s:%s" % (SRV.user, SRV.password),
                               "--mail-from", SENDER, "--mail-rcpt", RCPT,
                               "--upload-file", path])
        self.check(tok, "curl", out)

    def test_msmtp(self):
        """msmtp: tls on, tls_starttls on, tls_trust_file CA, auth on"""
        tok = token()
        conf = os.path.join(WORK, "msmtprc")
        with open(conf, "w") as f:
            f.write("account default\nhost localhost\nport %d\ndomain client.test\n"
                    "tls on\ntls_starttls on\ntls_trust_file %s\nauth on\nuser %s\n"
                    "password %s\nfrom %s\nset_date_header off\nset_msgid_header off\n"
                    % (SRV.port, SRV.cafile, SRV.user, SRV.password, SENDER))
        os.chmod(conf, 0o600)
        with open(write_message(tok, "msmtp", b"\n"), "rb") as f:
            out = self.run_client([MSMTP, "-C", conf, "-f", SENDER, RCPT], stdin=f)
        self.check(tok, "msmtp", out)

    def test_nodemailer(self):
        """nodemailer's client: requireTLS, the CA, AUTH, a raw message"""
        tok = token()
        cfg = {"port": SRV.port, "ca": SRV.cafile, "user": SRV.user,
               "password": SRV.password, "from": SENDER, "to": RCPT,
               "raw": write_message(tok, "nodemailer")}
        out = self.run_client([NODE, os.path.join(HERE, "servers", "nodemailer_send.js"),
                               json.dumps(cfg)], env=dict(os.environ, NODE_PATH=NODE_MODULES))
        self.assertRegex(out, r"sent 250 ")
        self.check(tok, "nodemailer", out)


if __name__ == "__main__":
    tap_main()
