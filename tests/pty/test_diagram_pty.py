#!/usr/bin/python3
"""\\diagram in the REPL, in a real pseudo-terminal against the practice server: Tab completes
the command (and file names after it), the ladder of the session so far is as wide as the
terminal, and \\diagram FILE writes the file.

Usage: PYTHONPATH=tests/lib /usr/bin/python3 tests/pty/test_diagram_pty.py [PATH/TO/smtpsh]  (TAP)
"""

import os
import re
import shutil
import tempfile
import unittest

import pexpect

from smtpshtest import pty_environ, smtpsh_path, tap_main

HERE = os.path.dirname(os.path.abspath(__file__))
INPUTRC = os.path.join(HERE, "inputrc")
PROMPT = r"127\.0\.0\.1:\d+(?: tls)?(?: auth)? [a-z]+> "


class DiagramInTheRepl(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="smtpsh-diagram-pty-")

    def tearDown(self):
        child = getattr(self, "child", None)
        if child is not None and child.isalive():
            child.terminate(force=True)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def spawn(self, columns):
        env = pty_environ(self.tmp, INPUTRC, COLUMNS=str(columns), LINES="50")
        self.child = pexpect.spawn(smtpsh_path(), ["--practice", "-X"], env=env, cwd=self.tmp,
                                   timeout=15, dimensions=(50, columns), encoding="utf-8")
        self.log = []
        self.child.expect(PROMPT)
        return self.child

    def test_ladder_as_wide_as_the_terminal(self):
        for columns in (100, 64):
            with self.subTest(columns=columns):
                c = self.spawn(columns)
                c.send("EHLO pty.example\r")
                c.expect(r"250 HELP")
                c.expect(PROMPT)
                c.send("\\diag\t")
                c.expect_exact("ram ")
                c.send("\r")
                c.expect(r"\u2502 \* connected to 127\.0\.0\.1 port \d+ +\u2502")
                c.expect(PROMPT)
                rows = [r for r in c.before.replace("\r", "").split("\n") if "\u2502" in r]
                self.assertIn("\u2500\u2500 EHLO pty.example \u2500", "\n".join(rows))
                self.assertIn("\u25c4\u2500 250-localhost Hello pty.example", "\n".join(rows))
                widths = {len(r) for r in rows if r.rstrip().endswith("\u2502")}
                self.assertEqual(max(widths), columns, "as wide as the terminal: %r" % rows)
                c.sendcontrol("d")
                c.expect(pexpect.EOF)

    def test_file_name_completion_and_file(self):
        c = self.spawn(120)
        os.makedirs(os.path.join(self.tmp, "slides"))
        c.send("\\diagram sli\t")
        c.expect_exact("des/")
        c.send("session.svg\r")
        c.expect(r"diagram of \d+ events written to slides/session\.svg")
        c.expect(PROMPT)
        with open(os.path.join(self.tmp, "slides", "session.svg"), encoding="utf-8") as f:
            self.assertIn("220 localhost ESMTP smtpsh practice server", f.read())
        c.sendcontrol("d")
        c.expect(pexpect.EOF)


if __name__ == "__main__":
    tap_main()
