#!/usr/bin/python3
"""BDAT, DSN, SMTPUTF8 and the result per recipient against a real Postfix (issue 14): a message
sent with --chunking arrives byte-exact (several chunks, pipelined, dots as they are), a message
sent by hand with \\bdat and a typed BDAT too; the DSN options reach the wire as RFC 3461 has
them; a UTF-8 sender is delivered byte-exact; a partial result shows the table of recipients
and makes --send exit 1; a script's message with several recipients gets the same table.

Usage: /usr/bin/python3 tests/integration/test_bdat_dsn.py [NAME...]
Prints TAP. Starts (and always stops) its own Postfix lab.
"""

import hashlib
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True
from lablib import ModuleLab, split_delivered
from smtpshtest import run_smtpsh, smtpsh_path, tap_main, token

BIG = 50 * 1024 * 1024
MAX_RSS_KB = 16 * 1024  # as DATA's streaming (tests/integration/test_send.py)
MAX_RSS_KB_ASAN = 48 * 1024
LAB = ModuleLab(size_limit=BIG + 20 * 1024 * 1024)
setUpModule, tearDownModule = LAB.start, LAB.stop
CHUNK = 256 * 1024  # \send --chunking's chunk size


def body_of(data):
    """The delivered message after its header (Postfix's 4 headers dropped)."""
    _, rest = split_delivered(data)
    return rest.split(b"\n\n", 1)[1]


class BdatDsn(unittest.TestCase):

    def setUp(self):
        self.home = tempfile.mkdtemp(prefix="home-", dir=LAB.dir)

    def path(self, name, data):
        p = os.path.join(self.home, name)
        with open(p, "wb") as f:
            f.write(data)
        return p

    def send(self, *args, stdin=""):
        return run_smtpsh(["--send", "--from", "a@client.test"] + list(args)
                          + ["127.0.0.1", LAB.plain_port], stdin, home=self.home)

    def test_chunking_delivered_byte_exact_in_pipelined_chunks(self):
        tok = token()
        lines = [b"line %06d of %s" % (i, tok.encode()) for i in range(30000)]
        lines[10] = b"."
        lines[11] = b"..two dots, kept: BDAT does no dot-stuffing"
        lines[12] = b". a dot and a blank"
        body = b"\n".join(lines) + b"\n"
        self.assertGreater(len(body), 2 * CHUNK)
        r = self.send("--to", "bob@example.test", "--subject", tok, "--body-file",
                      self.path("body.txt", body), "--chunking")
        self.assertEqual(r.rc, 0, r.describe())
        sent = r.sent_text()
        self.assertNotIn("DATA", sent)
        bdat = [t for t in sent if t.startswith("BDAT ")]
        size = int(re.search(r"SIZE=(\d+)", sent[0] if sent[0].startswith("MAIL") else
                             [t for t in sent if t.startswith("MAIL")][0]).group(1))
        self.assertEqual(bdat, ["BDAT %d" % CHUNK] * (size // CHUNK) +
                         ["BDAT %d LAST" % (size % CHUNK)], r.describe())
        # PIPELINING: the second chunk goes before the first one's reply is read
        ev = r.events
        first = ev.index(("->", bdat[0]))
        second = ev.index(("->", bdat[1]), first + 1)
        replies = [i for i, (m, _) in enumerate(ev) if m == "<-" and i > first]
        self.assertLess(second, replies[0], r.describe())
        self.assertIn("message accepted", r.info())
        _, data = LAB.wait_for_message("bob", tok)
        self.assertEqual(body_of(data), body)

    def test_big_body_streamed_in_chunks_memory_flat(self):
        """--chunking with a 50 MB body file: delivered intact, peak RSS as for DATA"""
        tok = token()
        path = os.path.join(self.home, "big.txt")
        h = hashlib.sha256()
        written = 0
        with open(path, "wb") as f:
            line = 0
            while written < BIG:
                chunk = b"".join(b"%s line %08d: the quick brown fox jumps over the lazy dog\n"
                                 % (b"." if (line + k) % 97 == 0 else b"", line + k)
                                 for k in range(1000))
                line += 1000
                f.write(chunk)
                h.update(chunk)
                written += len(chunk)
        with open(smtpsh_path(), "rb") as f:
            asan = b"__asan_init" in f.read()
        t0 = time.monotonic()
        p = subprocess.run(["/usr/bin/time", "-v", smtpsh_path(), "--send", "--from",
                            "a@client.test", "--to", "bob@example.test", "--subject", tok,
                            "--body-file", path, "--chunking", "127.0.0.1",
                            str(LAB.plain_port)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=170,
                           env=dict(os.environ, NO_COLOR="1", HOME=self.home))
        out = p.stdout.decode("utf-8", "replace")
        err = p.stderr.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 0, "exit %d\n%s\n%s" % (p.returncode, out[-3000:], err))
        rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", err).group(1))
        bound = MAX_RSS_KB_ASAN if asan else MAX_RSS_KB
        sys.stdout.write("# 50 MB in BDAT chunks: peak RSS %d kB (bound %d kB), %.1f s\n"
                         % (rss, bound, time.monotonic() - t0))
        self.assertLess(rss, bound)
        self.assertRegex(out, r"\.\.\. \d+ more lines not shown \(\d+ lines, \d+ octets in "
                              r"\d+ chunks from the message\)")
        _, data = LAB.wait_for_message("bob", tok, timeout=120)
        body = body_of(data)
        self.assertEqual(len(body), written)
        self.assertEqual(hashlib.sha256(body).hexdigest(), h.hexdigest())
        os.unlink(path)
        for f in LAB.messages("bob"):
            os.unlink(f)

    def test_bdat_by_hand_byte_exact(self):
        tok = token()
        tail = self.path("tail.txt", b"from a file\r\n.\r\n...three dots\r\n")
        script = ("EHLO c\nMAIL FROM:<a@client.test>\nRCPT TO:<carol@example.test>\n"
                  "\\bdat Subject: %s\n\\bdat\nBDAT 13\n..dots stay\n\\bdat --file %s --last\n"
                  "QUIT\n" % (tok, tail))
        r = run_smtpsh(["127.0.0.1", LAB.plain_port], script, home=self.home)
        self.assertEqual(r.rc, 0, r.describe())
        sent = r.sent_text()
        n = len("Subject: %s\r\n" % tok)
        self.assertIn("BDAT %d" % n, sent)
        self.assertIn("BDAT 2", sent)
        self.assertIn("BDAT 31 LAST", sent)
        self.assertIn("%s: 31 octets, sent as they are" % tail, r.info())
        self.assertRegex(r.stdout, r"<- 250 2\.0\.0 Ok: \d+ bytes queued as")
        _, data = LAB.wait_for_message("carol", tok)
        _, rest = split_delivered(data)
        self.assertEqual(rest, b"Subject: %s\n\n..dots stay\nfrom a file\n.\n...three dots\n"
                         % tok.encode())

    def test_dsn_parameters_on_the_wire(self):
        tok = token()
        r = self.send("--to", "bob@example.test", "--subject", tok, "--body", "x",
                      "--notify", "failure,delay", "--ret", "hdrs", "--envid", "t+1=2 x")
        self.assertEqual(r.rc, 0, r.describe())
        sent = r.sent_text()
        self.assertIn("RET=HDRS ENVID=t+2B1+3D2+20x", [t for t in sent if t.startswith("MAIL")]
                      [0])
        self.assertIn("RCPT TO:<bob@example.test> NOTIFY=FAILURE,DELAY", sent)
        LAB.wait_for_message("bob", tok)

    def test_partial_result_table_and_exit_status(self):
        tok = token()
        r = self.send("--to", "bob@example.test", "--to", "nobody@example.test",
                      "--cc", "carol@example.test", "--subject", tok, "--body", "x")
        self.assertEqual(r.rc, 1, r.describe())  # not every recipient got it
        self.assertIn("2 of 3 recipients accepted the message; 1 refused at RCPT", r.info())
        out = r.stdout.splitlines()
        head = [l for l in out if re.match(r"^   recipient +RCPT +after the message$", l)]
        self.assertEqual(len(head), 1, r.describe())
        self.assertTrue(any(re.match(r"^   bob@example\.test +250 2\.1\.5 Ok +250 2\.0\.0 Ok: "
                                     r"queued as \w+$", l) for l in out), r.describe())
        self.assertTrue(any(re.match(r"^   nobody@example\.test +550 5\.1\.1 <nobody@example"
                                     r"\.test>: Recipient.*\(not a recipient\)$", l)
                            for l in out), r.describe())
        LAB.wait_for_message("bob", tok)
        LAB.wait_for_message("carol", tok)

    def test_all_accepted_exit_0_with_table(self):
        tok = token()
        r = self.send("--to", "bob@example.test", "--to", "carol@example.test", "--subject",
                      tok, "--body", "x")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertIn("2 of 2 recipients accepted the message", r.info())

    def test_batch_message_with_several_recipients_gets_the_table(self):
        tok = token()
        script = ("EHLO c\nMAIL FROM:<a@client.test>\nRCPT TO:<bob@example.test>\n"
                  "RCPT TO:<nobody@example.test>\nRCPT TO:<carol@example.test>\nDATA\n"
                  "Subject: %s\n\nhi\n.\nQUIT\n" % tok)
        r = run_smtpsh(["127.0.0.1", LAB.plain_port], script, home=self.home)
        self.assertEqual(r.rc, 0, r.describe())
        self.assertIn("2 of 3 recipients accepted the message; 1 refused at RCPT", r.info())
        i = r.stdout.index("recipients accepted the message")
        self.assertLess(r.stdout.index("<- 250 2.0.0 Ok: queued as"), i)
        self.assertLess(i, r.stdout.index("-> QUIT"))

    def test_smtputf8_sender_byte_exact_and_utf8_recipient_in_the_table(self):
        tok = token()
        r = run_smtpsh(["--send", "--from", "j\u00f6rg@b\u00fccher.test", "--to",
                        "bob@example.test", "--to", "zo\u00eb@example.test", "--subject", tok,
                        "--body", "x", "--chunking", "127.0.0.1", LAB.plain_port],
                       home=self.home)
        self.assertEqual(r.rc, 1, r.describe())  # zoë has no mailbox
        mail = [t for t in r.sent_text() if t.startswith("MAIL")][0]
        self.assertRegex(mail, r"^MAIL FROM:<j\u00f6rg@b\u00fccher\.test> SIZE=\d+ SMTPUTF8$")
        self.assertIn("RCPT TO:<zo\u00eb@example.test>", r.sent_text())
        self.assertTrue(any(re.match(r"^   zo\u00eb@example\.test +550 5\.1\.1 ", l)
                            for l in r.stdout.splitlines()), r.describe())
        _, data = LAB.wait_for_message("bob", tok)
        self.assertTrue(data.startswith("Return-Path: <j\u00f6rg@b\u00fccher.test>\n"
                                        .encode()), data[:200])
        self.assertIn("From: j\u00f6rg@b\u00fccher.test\n".encode(), data)


if __name__ == "__main__":
    tap_main()
