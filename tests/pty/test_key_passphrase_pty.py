#!/usr/bin/python3
"""The passphrase of an encrypted client key (--cert/--key, issue 20) asked on the terminal in
a real pty (pexpect): without echo, before the shell starts; the right one gets the shell,
a wrong one says so in one line (exit 2); the passphrase never appears on the terminal.

Usage: PYTHONPATH=tests/lib /usr/bin/python3 tests/pty/test_key_passphrase_pty.py
       [PATH/TO/smtpsh] [NAME...]
"""

import os
import shutil
import sys
import tempfile
import unittest

import pexpect

sys.dont_write_bytecode = True
from smtpshtest import make_cert, openssl, pty_environ, smtpsh_path, tap_main

PASS = "Pty-key-pass-77"


class KeyPassphrase(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.home = tempfile.mkdtemp(prefix="pty-key-")
        cls.cert, key = make_cert(cls.home, subject="/CN=client.example", name="client",
                                  san=None)
        cls.key = os.path.join(cls.home, "client-enc-key.pem")
        openssl("pkey", "-in", key, "-aes256", "-passout", "pass:" + PASS, "-out", cls.key)
        cls.inputrc = os.path.join(cls.home, "inputrc")
        with open(cls.inputrc, "w") as f:
            f.write("set enable-bracketed-paste off\nset bell-style none\n")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.home, ignore_errors=True)

    def spawn(self):
        self.child = pexpect.spawn(smtpsh_path(), ["-X", "--cert", self.cert, "--key", self.key],
                                   env=pty_environ(self.home, self.inputrc), cwd=self.home,
                                   timeout=10, dimensions=(40, 200), encoding="utf-8",
                                   codec_errors="replace")
        self.screen = []
        self.child.logfile_read = self

    def write(self, s):  # the pexpect log: what the terminal showed
        self.screen.append(s)

    def flush(self):
        pass

    def shown(self):
        return "".join(self.screen)

    def tearDown(self):
        if self.child.isalive():
            self.child.terminate(force=True)

    def test_asked_without_echo(self):
        """the right passphrase, typed without echo: the shell starts"""
        self.spawn()
        self.child.expect_exact("Passphrase for %s: " % self.key)
        self.child.sendline(PASS)
        self.child.expect(r"smtpsh> ")
        self.child.sendline("\\quit")
        self.child.expect(pexpect.EOF)
        self.child.close()
        self.assertEqual(self.child.exitstatus, 0, self.shown())
        self.assertNotIn(PASS, self.shown())

    def test_wrong_passphrase(self):
        """a wrong passphrase: one line, exit 2, nothing echoed"""
        self.spawn()
        self.child.expect_exact("Passphrase for %s: " % self.key)
        self.child.sendline("not-" + PASS)
        self.child.expect_exact("smtpsh: cannot load the key %s: wrong passphrase" % self.key)
        self.child.expect(pexpect.EOF)
        self.child.close()
        self.assertEqual(self.child.exitstatus, 2, self.shown())
        self.assertNotIn(PASS, self.shown())


if __name__ == "__main__":
    tap_main()
