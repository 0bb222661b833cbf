#!/usr/bin/python3
"""A class flows without friction (issue 17, the client's side), in a real pty (pexpect) with
--practice: AUTH LOGIN's user name shown decoded alike by hand and by \\auth (the password
never, on the screen nor in the transcript), Tab after \\connect offering profiles and
presets, the hints for exit and quit, Ctrl-C naming the command waited for, --step.

Usage: PYTHONPATH=tests/lib /usr/bin/python3 tests/practice/test_classflow_pty.py
       [PATH/TO/smtpsh] [NAME...]
Prints TAP. Needs python3-pexpect (scripts/install-test-deps.sh).
"""

import base64
import os
import re
import shutil
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
from smtpshtest import pty_environ, smtpsh_path, tap_main

try:
    import pexpect
except ImportError:  # a failure, not a skip
    pexpect = None

HOME = tempfile.mkdtemp(prefix="smtpsh-classflow-pty-")
CTRL_C, CTRL_D, TAB = "\x03", "\x04", "\t"


def setUpModule():
    if pexpect is None:
        raise AssertionError("python3-pexpect is missing: run scripts/install-test-deps.sh")
    with open(os.path.join(HOME, "inputrc"), "w") as f:
        f.write("set enable-bracketed-paste off\nset show-all-if-ambiguous on\n"
                "set bell-style none\nset horizontal-scroll-mode off\n")


def tearDownModule():
    shutil.rmtree(HOME, ignore_errors=True)


class Pty(unittest.TestCase):

    def spawn(self, args=("--practice",), home=HOME):
        env = pty_environ(home, os.path.join(HOME, "inputrc"),
                          XDG_CONFIG_HOME=os.path.join(home, "c"),
                          XDG_STATE_HOME=os.path.join(home, "s"))
        p = pexpect.spawn(smtpsh_path(), list(args), env=env, encoding="utf-8",
                          codec_errors="replace", timeout=15, dimensions=(50, 250), cwd=home)
        self.addCleanup(lambda: p.close(force=True) if p.isalive() else None)
        self.p = p
        self.seen = []
        return p

    def expect(self, pattern, literal=True, timeout=15):
        try:
            self.p.expect(re.escape(pattern) if literal else pattern, timeout=timeout)
        except (pexpect.TIMEOUT, pexpect.EOF) as e:
            raise AssertionError("waiting for %r (%s), got:\n%s%s"
                                 % (pattern, type(e).__name__, "".join(self.seen)[-4000:],
                                    self.p.before))
        self.seen.append(self.p.before + self.p.after)
        return self.p.before

    def line(self, text):
        self.p.send(text + "\r")

    def practice(self, args=()):
        self.spawn(["--practice"] + list(args))
        banner = self.expect("greeted> ")
        return re.search(r"AUTH login: user student, password (\S+) ", banner).group(1)

    def tls(self):
        self.line("EHLO me")
        self.expect("ready> ")
        self.line("STARTTLS")
        self.expect("tls greeted> ")
        self.line("EHLO me")
        self.expect("tls ready> ")

    def leave(self):
        self.p.send(CTRL_D)
        self.p.expect(pexpect.EOF, timeout=15)
        self.p.close()
        return self.p.exitstatus


class LoginUser(Pty):

    def test_login_user_shown_alike(self):
        """AUTH LOGIN: the user name line is shown with its decoded name whether typed by
        hand or sent by \\auth; the password never, on the screen nor in the transcript"""
        rec = os.path.join(HOME, "login.transcript")
        password = self.practice(["--record", rec])
        self.tls()
        user64 = base64.b64encode(b"student").decode()
        pass64 = base64.b64encode(password.encode()).decode()
        self.line("AUTH LOGIN")
        self.expect("[Username:]")
        self.line(user64)
        by_hand = self.expect("[Password:]")
        self.line(pass64)
        self.expect("<~ 235 ")
        self.expect("tls ready> ")
        self.line("RSET")  # a new connection for the second login
        self.expect("tls ready> ")
        self.line("\\reconnect")
        self.expect("greeted> ")
        self.tls()
        self.line("\\auth LOGIN")
        self.expect("for student at 127.0.0.1 (not shown): ")
        self.line(password)
        by_auth = self.expect("<~ 235 ")
        self.expect("tls ready> ")
        shown = "~> %s  \t[student]" % user64
        self.assertIn(shown, by_hand)
        self.assertIn(shown, by_auth)
        self.assertEqual(self.leave(), 0)
        screen = "".join(self.seen)
        after_banner = screen.split("greeted> ", 1)[1]
        self.assertNotIn(password, after_banner)
        self.assertNotIn(pass64, after_banner)
        with open(rec) as f:
            text = f.read()
        self.assertNotIn(password, text)
        self.assertNotIn(pass64, text)
        self.assertEqual(len(re.findall(r"(?m)^<~ 334 VXNlcm5hbWU6\n~> <redacted>\n", text)), 2,
                         text)


class Complete(Pty):

    def test_tab_after_connect_offers_profiles_and_presets(self):
        """Tab after \\connect offers the presets and the user's profiles"""
        home = tempfile.mkdtemp(prefix="home-", dir=HOME)
        os.makedirs(os.path.join(home, "c", "smtpsh"))
        with open(os.path.join(home, "c", "smtpsh", "profiles"), "w") as f:
            f.write("[classlab]\nhost = 127.0.0.1\nport = 2525\n")
        self.spawn(["--practice"], home=home)
        self.expect("greeted> ")
        self.p.send("\\connect o" + TAB)
        self.expect(r"office365\s+outlook", literal=False)
        self.p.send("ff" + TAB)
        self.expect("ice365 ")
        self.p.send(CTRL_C)
        self.expect("greeted> ")
        self.p.send("\\connect cla" + TAB)
        self.expect("sslab ")
        self.p.send(CTRL_C)
        self.expect("greeted> ")
        self.assertEqual(self.leave(), 0)


if __name__ == "__main__":
    tap_main()
