#!/usr/bin/python3
"""BDAT, BINARYMIME and DSN through the practice server (issue 14), offline: a binary body
(a NUL, a line over 998 octets) sent with --chunking goes as it is with BODY=BINARYMIME and is
stored byte-exact; a message typed with \\bdat and a typed BDAT is stored byte-exact; the DSN
options arrive as the server records them; \\practice bdat-miscount shows a server that counts
the chunk wrong (one octet of each chunk left over, read as a command).

Usage: /usr/bin/python3 tests/practice/test_bdat.py [NAME...]   (TAP)
"""

import os
import re
import shutil
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
from practicelib import Serve
from smtpshtest import run_smtpsh, tap_main, token, wait_files


def stored_message(data):
    """A stored file without the lines the server prepends (Return-Path, Envelope-*,
    Received and its continuation lines)."""
    lines = data.split(b"\n")
    i = 0
    while i < len(lines) and (re.match(rb"^(Return-Path|Envelope-[\w-]+|Received): ", lines[i])
                              or lines[i][:1] == b"\t"):
        i += 1
    return b"\n".join(lines[i:])


class PracticeBdat(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="smtpsh-bdat-")
        self.maildir = os.path.join(self.tmp, "Maildir")
        self.srv = Serve(self.maildir)

    def tearDown(self):
        self.srv.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def stored(self, n=1):
        files = wait_files(self.maildir, n)
        self.assertEqual(len(files), n, self.srv.describe())
        with open(files[-1], "rb") as f:
            return f.read()

    def test_binary_body_with_binarymime_stored_byte_exact(self):
        tok = token()
        body = (b"bin\x00ary " + tok.encode() + b"\r\n\xff\xfe 8-bit\r\n" + b"x" * 1500 +
                b"\r\n.\r\n..two dots\r\nno end of line")
        path = os.path.join(self.tmp, "body.bin")
        with open(path, "wb") as f:
            f.write(body)
        r = run_smtpsh(["--send", "--from", "a@client.test", "--to", "b@example.test",
                        "--subject", tok, "--body-file", path, "--chunking", "127.0.0.1",
                        self.srv.port], home=self.tmp)
        self.assertEqual(r.rc, 0, r.describe())
        mail = [t for t in r.sent_text() if t.startswith("MAIL")][0]
        self.assertRegex(mail, r"^MAIL FROM:<a@client\.test> SIZE=\d+ BODY=BINARYMIME$")
        self.assertNotIn("DATA", r.sent_text())
        self.assertNotIn("base64", r.stdout)
        msg = stored_message(self.stored())
        head, stored_body = msg.split(b"\n\n", 1)
        self.assertIn(b"Content-Transfer-Encoding: binary", head)
        self.assertEqual(stored_body, body.replace(b"\r\n", b"\n"))

    def test_without_chunking_the_binary_body_goes_base64(self):
        path = os.path.join(self.tmp, "body.bin")
        with open(path, "wb") as f:
            f.write(b"a\x00b\r\n")
        r = run_smtpsh(["--send", "--from", "a@client.test", "--to", "b@example.test",
                        "--body-file", path, "127.0.0.1", self.srv.port], home=self.tmp)
        self.assertEqual(r.rc, 0, r.describe())
        mail = [t for t in r.sent_text() if t.startswith("MAIL")][0]
        self.assertNotIn("BINARYMIME", mail)
        self.assertIn(b"Content-Transfer-Encoding: base64", self.stored())

    def test_bdat_by_hand_stored_byte_exact(self):
        tok = token()
        script = ("EHLO c\nMAIL FROM:<a@client.test>\nRCPT TO:<b@example.test>\n"
                  "\\bdat Subject: %s\n\\bdat\nBDAT 9 LAST\n.a line\nQUIT\n" % tok)
        r = run_smtpsh(["127.0.0.1", self.srv.port], script, home=self.tmp)
        self.assertEqual(r.rc, 0, r.describe())
        self.assertIn("BDAT %d" % len("Subject: %s\r\n" % tok), r.sent_text())
        self.assertRegex(r.stdout, r"<- 250 2\.0\.0 Ok: 9 octets received, stored as \w+ "
                                   r"\(\d+ octets in 3 chunks\)")
        self.assertEqual(stored_message(self.stored()),
                         b"Subject: %s\n\n.a line\n" % tok.encode())

    def test_dsn_recorded_by_the_server(self):
        tok = token()
        r = run_smtpsh(["--send", "--from", "a@client.test", "--to", "b@example.test",
                        "--to", "c@example.test", "--subject", tok, "--body", "x",
                        "--notify", "NEVER", "--ret", "FULL", "--envid", "QQ" + tok,
                        "127.0.0.1", self.srv.port], home=self.tmp)
        self.assertEqual(r.rc, 0, r.describe())
        data = self.stored()
        self.assertIn(("Envelope-DSN: RET=FULL ENVID=QQ%s" % tok).encode(), data)
        self.assertIn(b"Envelope-DSN-Recipient: <b@example.test> NOTIFY=NEVER", data)
        self.assertIn("2 of 2 recipients accepted the message", r.stdout)

    def test_bdat_miscount_shows_the_replies_out_of_step(self):
        self.srv.control("bdat-miscount short", rx=r"bdat-miscount\s+short")
        script = ("EHLO c\nMAIL FROM:<a@client.test>\nRCPT TO:<b@example.test>\n"
                  "\\bdat Subject: x\n\\bdat --last hello\nNOOP\nQUIT\n")
        r = run_smtpsh(["127.0.0.1", self.srv.port], script, home=self.tmp)
        # the server read 11 of the 12 octets announced: the LF left over is read as a
        # command (500), before or after the next BDAT as the timing goes; one octet of each
        # later chunk goes the same way, so its replies no longer answer what they follow
        out = r.stdout
        self.assertIn("-> BDAT 12\n-> Subject: x\n<- 250 2.0.0 11 octets received\n", out,
                      r.describe())
        self.assertIn("<- 500 5.5.2 Error: bad syntax", out[out.index("11 octets received"):])
        self.assertRegex(out, r"<- 250 2\.0\.0 Ok: 6 octets received, stored as \w+ "
                              r"\(17 octets in 2 chunks\)")


if __name__ == "__main__":
    tap_main()
