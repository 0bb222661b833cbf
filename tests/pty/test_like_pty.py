#!/usr/bin/python3
"""\\practice like PROVIDER and the provider faults in the REPL, in a real pseudo-terminal
against the practice server (issue 17): Tab completes the setting and the provider's name,
the server then greets and refuses like the provider, \\practice app-password on refuses the
account password with Gmail's 534 5.7.9 and the reason, and the app password shown at start
logs in.

Usage: PYTHONPATH=tests/lib /usr/bin/python3 tests/pty/test_like_pty.py [PATH/TO/smtpsh]  (TAP)
"""

import base64
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


def plain(user, password):
    return base64.b64encode(("\0%s\0%s" % (user, password)).encode()).decode()


class LikeInTheRepl(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="smtpsh-like-pty-")

    def tearDown(self):
        child = getattr(self, "child", None)
        if child is not None and child.isalive():
            child.terminate(force=True)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_practice_like_gmail(self):
        env = pty_environ(self.tmp, INPUTRC, COLUMNS="200", LINES="50")
        c = self.child = pexpect.spawn(smtpsh_path(), ["--practice", "-X"], env=env,
                                       cwd=self.tmp, timeout=15, dimensions=(50, 200),
                                       encoding="utf-8")
        c.expect(r"practice server \(pid \d+\) on 127\.0\.0\.1 port (\d+)")
        port = c.match.group(1)
        c.expect(r"AUTH login: user (\S+), password (\S+) ")
        user, password = c.match.group(1), c.match.group(2)
        c.expect(r"app password (\S+): also logs in")
        app = c.match.group(1)
        c.expect(PROMPT)
        c.send("\\practice li\t")
        c.expect_exact("ke ")
        c.send("gm\t")
        c.expect_exact("ail ")
        c.send("\r")
        c.expect(r"like +gmail")
        c.expect(PROMPT)
        c.send("\\practice app-password on\r")
        c.expect(r"app-password +on")
        c.expect(PROMPT)
        # a new connection: the greeting of the provider
        c.send("\\connect 127.0.0.1 %s\r" % port)
        c.expect(r"<- 220 smtp\.gmail\.com ESMTP practice - gsmtp")
        c.expect(PROMPT)
        c.send("EHLO pty.example\r")
        c.expect(r"250 HELP")
        c.expect(PROMPT)
        c.send("MAIL FROM:<%s@example.test>\r" % user)
        c.expect(r"530 5\.7\.0 Must issue a STARTTLS command first\.")
        c.expect(PROMPT)
        c.send("STARTTLS\r")
        c.expect(PROMPT)
        c.send("EHLO pty.example\r")
        c.expect(r"250 HELP")
        c.expect(PROMPT)
        c.send("AUTH PLAIN %s\r" % plain(user, password))
        c.expect(r"534 5\.7\.9  https://support\.google\.com/mail/\?p=InvalidSecondFactor "
                 r"practice - gsmtp \(the account password was sent; this account logs in "
                 r"with its app password\)")
        c.expect(PROMPT)
        c.send("AUTH PLAIN %s\r" % plain(user, app))
        c.expect(r"235 2\.7\.0 Authentication successful")
        c.expect(PROMPT)
        c.send("MAIL FROM:<%s@example.test>\r" % user)
        c.expect(r"250 2\.1\.0 Ok")
        c.expect(PROMPT)
        c.sendcontrol("d")
        c.expect(pexpect.EOF)


if __name__ == "__main__":
    tap_main()
