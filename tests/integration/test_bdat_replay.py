#!/usr/bin/python3
"""A BDAT session recorded and replayed against a real Postfix (issue 14): the octets smtpsh
sends in BDAT chunks (\\bdat, a typed "BDAT n LAST") are recorded as transcript `chunk` lines
(format version 2), and --replay sends each chunk again byte for byte: the message is stored
twice, identical.

Usage: PYTHONPATH=tests/lib /usr/bin/python3 tests/integration/test_bdat_replay.py [NAME...]
Prints TAP. Starts (and always stops) its own Postfix lab; needs root and the packages of
scripts/install-test-deps.sh.
"""

import os
import tempfile
import unittest

from lablib import ModuleLab, split_delivered
from smtpshtest import tap_main, token

LAB = ModuleLab()
setUpModule, tearDownModule = LAB.start, LAB.stop


class BdatRecordReplay(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def test_recorded_chunks_replay_byte_exact(self):
        """\\bdat and a typed BDAT n LAST recorded as chunk lines; the replay stores the same
        message again"""
        tok = token()
        rec = os.path.join(self.tmp.name, "bdat.transcript")
        typed = ["..two dots, no stuffing", "tab\there", "last line"]
        n = sum(len(t.encode()) + 2 for t in typed)
        cmds = ["EHLO client.test", "MAIL FROM:<a@client.test>", "RCPT TO:<carol@example.test>",
                "\\bdat Subject: %s" % tok, "\\bdat", "BDAT %d LAST" % n] + typed + ["QUIT"]
        r = LAB.smtpsh(["--record", rec, "127.0.0.1", LAB.plain_port],
                       ("\n".join(cmds) + "\n").encode())
        self.assertEqual(r.rc, 0, r.describe())
        # the screen as before: the chunk's lines shown as body lines, no chunk notes
        self.assertIn("-> ..two dots, no stuffing", r.stdout.splitlines(), r.describe())
        self.assertNotIn("chunk]", r.stdout)
        with open(rec) as f:
            text = f.read()
        lines = text.splitlines()
        self.assertEqual(lines[0], "smtpsh-transcript 2", text)
        self.assertIn("chunk -> Subject: %s\\r\\n" % tok, lines, text)
        self.assertIn("chunk -> \\r\\n", lines, text)
        self.assertIn("-> BDAT %d LAST" % n, lines, text)
        i = lines.index("-> BDAT %d LAST" % n)
        self.assertEqual(lines[i + 1:i + 4],
                         ["chunk -> ..two dots, no stuffing\\r\\n", "chunk -> tab\\there\\r\\n",
                          "chunk -> last line\\r\\n"], text)
        # no body line of a chunk is recorded as an ordinary sent line
        self.assertNotIn("-> last line", lines, text)
        _, first = LAB.wait_for_message("carol", tok)
        expected = ("Subject: %s\n\n..two dots, no stuffing\ntab\there\nlast line\n"
                    % tok).encode()
        self.assertEqual(split_delivered(first)[1], expected)
        for f in LAB.messages("carol"):
            os.unlink(f)

        r = LAB.smtpsh(["--replay", rec, "127.0.0.1", LAB.plain_port])
        self.assertEqual(r.rc, 0, r.describe())
        self.assertRegex(r.stdout, r"\*  replay: \d+ replies compared, all as recorded")
        _, second = LAB.wait_for_message("carol", tok)
        self.assertEqual(split_delivered(second)[1], expected)
        self.assertEqual(split_delivered(second)[1], split_delivered(first)[1])


if __name__ == "__main__":
    tap_main()
