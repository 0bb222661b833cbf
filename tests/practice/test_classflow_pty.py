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



class Wording(Pty):

    def test_exit_and_quit_hint_at_backslash_quit(self):
        """exit is no SMTP: a hint, nothing sent; quit is sent as QUIT when connected, and the
        hint says \\quit leaves; not connected, quit is a hint too"""
        self.practice()
        self.line("exit")
        out = self.expect("greeted> ")
        self.assertIn("*  exit: \\quit leaves smtpsh (Ctrl-D too); exit is no SMTP command, "
                      "nothing was sent", out)
        self.assertNotIn("-> exit", out)
        self.line("quit")
        out = self.expect("smtpsh> ")
        self.assertIn("-> quit", out)
        self.assertIn("<- 221 ", out)
        self.assertIn("*  QUIT ends the SMTP session, not smtpsh: \\quit leaves smtpsh "
                      "(Ctrl-D too)", out)
        self.line("quit")
        out = self.expect("smtpsh> ")
        self.assertIn("*  quit: \\quit leaves smtpsh (Ctrl-D too); not connected, nothing "
                      "was sent", out)
        self.line("\\quit")
        self.p.expect(pexpect.EOF, timeout=15)

    def test_ctrl_c_names_the_command(self):
        """Ctrl-C during a wait names the command waited for, as typed"""
        self.practice()
        self.line("\\practice slow 3000")
        self.expect("greeted> ")
        self.line("XYZZY plugh")
        self.expect("-> XYZZY plugh")
        self.p.send(CTRL_C)
        out = self.expect("> ")
        self.assertIn('*  interrupted while waiting for the reply to "XYZZY plugh"', out)
        self.assertNotIn("interrupted: interrupted", out)
        self.leave()

    def test_idle_timeout_hint_agrees(self):
        """the 421 4.4.2 of an idle timeout gets a hint that says so"""
        self.practice()
        self.line("\\practice timeout 1")
        self.expect(r"<- 421 4\.4\.2 localhost Error: timeout exceeded  \t\[hint: the server "
                    r"waited too long for a command and closed the connection \(idle "
                    r"timeout\)", literal=False, timeout=10)
        self.expect("smtpsh> ")
        self.leave()


class Step(Pty):

    def lesson(self, text):
        path = os.path.join(HOME, "lesson-%s.smtp" % self._testMethodName)
        with open(path, "w") as f:
            f.write(text)
        return path

    def serve(self):
        from practicelib import Serve
        srv = Serve(tempfile.mkdtemp(prefix="maildir-", dir=HOME))
        self.addCleanup(srv.stop)
        return srv

    def test_enter_never_lands_in_the_password(self):
        """--step: the narration shown as --replay shows it; \\auth is a step of its own,
        and an Enter pressed twice never becomes the user name nor skips a step"""
        srv = self.serve()
        path = self.lesson("# Today: logging in.\nEHLO me\nSTARTTLS\nEHLO me\n"
                           "\\auth LOGIN\nQUIT\n")
        self.spawn(["--step", "-f", path, "--cafile", srv.cafile, "127.0.0.1",
                    str(srv.port)])
        self.expect("#  Today: logging in.")
        for cmd in ("EHLO me", "STARTTLS"):
            self.expect("next: %s   [Enter: go on, q: stop] " % cmd)
            self.p.send("\r")
        self.expect("next: EHLO me   [Enter: go on, q: stop] ")
        self.p.send("\r\r")  # once too often: taken neither for a step nor as an answer
        out = self.expect("next: \\auth LOGIN   [Enter: go on, q: stop] ")
        self.assertNotIn("user name for", out)
        self.p.send("\r")
        self.expect("user name for 127.0.0.1: ")
        self.p.send("student\r")
        self.expect("password for student at 127.0.0.1 (not shown): ")
        self.p.send(srv.password + "\r")
        self.expect("<~ 235 ")
        self.expect("next: QUIT ")
        self.p.send("\r")
        self.p.expect(pexpect.EOF, timeout=15)
        self.p.close()
        self.assertEqual(self.p.exitstatus, 0, "".join(self.seen))
        self.assertNotIn("empty password", "".join(self.seen) + self.p.before)

    def test_a_stopped_lesson_says_where(self):
        """a lesson stopped with q says the line number and the line"""
        srv = self.serve()
        path = self.lesson("EHLO me\n# TLS now\nSTARTTLS\nQUIT\n")
        self.spawn(["--step", "-f", path, "--cafile", srv.cafile, "127.0.0.1",
                    str(srv.port)])
        self.expect("next: EHLO me ")
        self.p.send("\r")
        self.expect("#  TLS now")
        self.expect("next: STARTTLS ")
        self.p.send("q\r")
        self.expect("*  stopped (--step) at line 3: STARTTLS (not run, nor what follows)")
        self.p.expect(pexpect.EOF, timeout=15)
        self.p.close()
        self.assertEqual(self.p.exitstatus, 130)


if __name__ == "__main__":
    tap_main()
