#!/usr/bin/python3
"""The interop matrix against Postfix: the private lab of tests/lab (lablib.ModuleLab), its
submission port (STARTTLS required, Cyrus SASL: PLAIN, LOGIN, CRAM-MD5), SIZE 100000.
Messages are checked byte for byte in the virtual(8) Maildir: after the four fields Postfix
prepends, the message as sent with LF line ends (see TESTLAB-NOTES.md).

Usage: PYTHONPATH=tests/lib /usr/bin/python3 tests/interop/test_postfix.py
       [PATH/TO/smtpsh] [NAME...]
"""

import os
import sys
import unittest

sys.dont_write_bytecode = True
from interoplib import MatrixTests, PKI, Server, Store
from lablib import ModuleLab, PREPENDED
from smtpshtest import tap_main

LAB = ModuleLab(size_limit=100000)


class Postfix(Server):
    name = "Postfix"
    mechs = ("PLAIN", "LOGIN", "CRAM-MD5")
    caps = ("PIPELINING", "SIZE", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "AUTH",
            "CHUNKING")
    size = 100000
    size_code = 552
    prepended = PREPENDED
    line_end = b"\n"
    rcpt = "alice@example.test"

    def __init__(self):
        self.port = LAB.submission_port
        self.user, self.password = LAB.user, LAB.password
        self.home = LAB.home
        # the lab's own certificate is self-signed: it is its own CA
        self.pki = PKI(os.path.join(LAB.dir, "interop-pki"))
        self.pki.cafile = LAB.cafile
        self.store = Store(LAB.maildir("alice"), suffix="", maildir=True)

    def describe(self):
        return LAB.log_tail()


def setUpModule():
    LAB.start()
    PostfixMatrix.S = Postfix()


def tearDownModule():
    LAB.stop()


class PostfixMatrix(MatrixTests, unittest.TestCase):
    pass


if __name__ == "__main__":
    tap_main()
