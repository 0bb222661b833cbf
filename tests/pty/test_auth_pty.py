#!/usr/bin/python3
"""Logging in from the REPL in a real pty (pexpect) against the real Postfix lab:
\\auth asks for the password without echo (and for the user name with echo), AUTH LOGIN
typed by hand with the base64 answers masked while typed and shown as <redacted>; the
password and its base64 forms appear nowhere on the terminal, and the secrets never enter
the history (Up recalls the line before them). Ctrl-C at the password question gets the
shell back with the terminal's echo restored.

Usage: PYTHONPATH=tests/lib /usr/bin/python3 tests/pty/test_auth_pty.py [PATH/TO/smtpsh] [NAME...]
"""

import os
import sys
import tempfile
import time
import unittest

import pexpect

sys.dont_write_bytecode = True
from lablib import ModuleLab
from smtpshtest import auth_plain, b64, pty_environ, smtpsh_path, tap_main

LAB = ModuleLab()
TIMEOUT = 10
UP = "\x1b[A"


setUpModule, tearDownModule = LAB.start, LAB.stop


class AuthPty(unittest.TestCase):

    def setUp(self):
        self.home = tempfile.mkdtemp(prefix="pty-", dir=LAB.dir)
        inputrc = os.path.join(self.home, "inputrc")
        with open(inputrc, "w") as f:
            f.write("set enable-bracketed-paste off\nset bell-style none\n"
                    "set horizontal-scroll-mode off\nset editing-mode emacs\n")
        env = pty_environ(self.home, inputrc, SMTPSH_PASSWORD="")
        self.log_path = os.path.join(self.home, "pty.log")
        self.logf = open(self.log_path, "wb")
        self.child = pexpect.spawn(smtpsh_path(), ["--starttls", "--cafile", LAB.cafile,
                                                   "localhost", str(LAB.submission_port)],
                                   env=env, cwd=self.home, timeout=TIMEOUT,
                                   dimensions=(40, 200))
        self.child.logfile_read = self.logf
        self.expect(r"tls ready> ")

    def tearDown(self):
        if self.child.isalive():
            self.child.terminate(force=True)
        self.logf.close()

    def screen(self):
        self.logf.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def expect(self, rx):
        try:
            return self.child.expect(rx)
        except (pexpect.TIMEOUT, pexpect.EOF) as e:
            self.fail("waited for /%s/, got %s; terminal so far:\n%r"
                      % (rx, type(e).__name__, self.screen()[-3000:]))

    def expect_exact(self, s):
        try:
            return self.child.expect_exact(s)
        except (pexpect.TIMEOUT, pexpect.EOF) as e:
            self.fail("waited for %r, got %s; terminal so far:\n%r"
                      % (s, type(e).__name__, self.screen()[-3000:]))

    def quit(self):
        self.child.sendcontrol("d")
        self.expect(r"221 2\.0\.0 Bye")
        self.expect(pexpect.EOF)
        self.child.close()
        self.assertEqual(self.child.exitstatus, 0, self.screen()[-2000:])

    def assertNoSecret(self, extra=()):
        text = self.screen()
        pw, user = LAB.password, LAB.user
        for form in [pw, b64(pw), auth_plain(user, pw)] + list(extra):
            self.assertNotIn(form, text, "%r on the terminal:\n%s" % (form, text[-3000:]))

    def test_auth_prompts_for_the_password_without_echo(self):
        """\\auth LOGIN USER asks for the password (no echo), logs in, keeps it hidden"""
        self.child.send("\\auth LOGIN %s\r" % LAB.user)
        self.expect_exact("password for %s at localhost (not shown): " % LAB.user)
        self.assertFalse(self.child.getecho(), "the terminal echoes while asking")
        self.child.send(LAB.password + "\r")
        self.expect(r"~> YWxpY2VAZXhhbXBsZS50ZXN0")
        self.expect(r"~> <redacted>")
        self.expect(r"235 2\.7\.0 Authentication successful")
        self.expect(r"authenticated as alice@example\.test \(LOGIN\)")
        self.expect(r"tls ready> ")
        # the \auth line is in the history
        self.child.send(UP)
        self.expect_exact("\\auth LOGIN %s" % LAB.user)
        self.child.sendcontrol("c")
        self.expect(r"tls ready> ")
        self.quit()
        self.assertNoSecret()

    def test_auth_asks_the_user_name_with_echo(self):
        """\\auth CRAM-MD5 without user: the name is asked with echo, then the password"""
        self.child.send("\\auth CRAM-MD5\r")
        self.expect_exact("user name for localhost: ")
        self.assertTrue(self.child.getecho(), "the user name is asked without echo")
        self.child.send(LAB.user + "\r")
        self.expect_exact(LAB.user)
        self.expect_exact("(not shown): ")
        self.child.send(LAB.password + "\r")
        self.expect(r"~> AUTH CRAM-MD5")
        self.expect(r"~> <redacted>")
        self.expect(r"235 2\.7\.0 Authentication successful")
        self.expect(r"tls ready> ")
        self.quit()
        self.assertNoSecret()

    def test_ctrl_c_at_the_password_question(self):
        """Ctrl-C at the question: nothing sent, the shell goes on, echo restored"""
        self.child.send("\\auth PLAIN %s\r" % LAB.user)
        self.expect_exact("(not shown): ")
        self.child.send("half-typed")
        self.child.sendcontrol("c")
        self.expect(r"password: interrupted; nothing sent")
        self.expect(r"tls ready> ")
        self.child.send("NOOP\r")
        self.expect(r"250 2\.0\.0 Ok")
        self.expect(r"tls ready> ")
        # the next question (with echo) finds the terminal as it was: echo on
        self.child.send("\\auth PLAIN\r")
        self.expect_exact("user name for localhost: ")
        self.assertTrue(self.child.getecho(), "echo not restored after Ctrl-C")
        self.child.sendcontrol("c")
        self.expect(r"user name: interrupted; nothing sent")
        self.expect(r"tls ready> ")
        self.assertNotIn("~> AUTH", self.screen())
        self.quit()
        self.assertNotIn("half-typed", self.screen())

    def test_auth_login_by_hand(self):
        """AUTH LOGIN typed by hand: answers masked while typed, <redacted>, not in history"""
        user64, pw64 = b64(LAB.user), b64(LAB.password)
        self.child.send("AUTH LOGIN\r")
        self.expect(r"334 VXNlcm5hbWU6")
        self.expect(r"auth ready> ")
        self.child.send(user64)
        self.expect_exact("*" * len(user64))
        self.child.send("\r")
        # the user name is shown once sent, decoded beside it, as \auth shows it (issue 17)
        self.expect_exact("~> %s  \t[%s]" % (user64, LAB.user))
        self.expect(r"334 UGFzc3dvcmQ6")
        self.expect(r"auth ready> ")
        self.child.send(pw64)
        self.expect_exact("*" * len(pw64))
        self.child.send("\r")
        self.expect(r"235 2\.7\.0 Authentication successful")
        self.expect(r"tls ready> ")
        # Up recalls AUTH LOGIN, not the answers after it
        self.child.send(UP)
        self.expect_exact("AUTH LOGIN")
        self.child.send(UP)  # nothing older: the answers are not there
        # (a Ctrl-C right behind an escape sequence is sometimes lost by the REPL: wait)
        time.sleep(0.3)
        self.child.sendcontrol("c")
        self.expect(r"tls ready> ")
        self.quit()
        self.assertNoSecret([pw64])

    def test_auth_plain_by_hand_with_b64(self):
        """\\b64 makes the PLAIN answer; AUTH PLAIN typed with it; neither line in history"""
        ir = auth_plain(LAB.user, LAB.password)
        self.child.send("\\b64 \\0%s\\0%s\r" % (LAB.user, LAB.password))
        self.expect_exact("   " + ir)
        self.expect(r"tls ready> ")
        self.child.send("AUTH PLAIN " + ir)
        self.expect_exact("AUTH PLAIN " + "*" * len(ir))
        self.child.send("\r")
        self.expect(r"~> AUTH PLAIN <redacted>")
        self.expect(r"235 2\.7\.0 Authentication successful")
        self.expect(r"tls ready> ")
        self.child.send("NOOP\r")
        self.expect(r"250 2\.0\.0 Ok")
        self.expect(r"tls ready> ")
        # history: NOOP, then nothing older (neither the AUTH line nor the \b64 line)
        self.child.send(UP)
        self.expect_exact("NOOP")
        self.child.send(UP + UP)
        self.child.send("\r")
        self.expect(r"~> NOOP")
        self.expect(r"tls ready> ")
        self.quit()
        # the \b64 line held the password as typed (the user's explicit request); the
        # AUTH line is masked: its base64 appears only as \b64's output
        self.assertEqual(self.screen().count(ir), 1, self.screen()[-3000:])


if __name__ == "__main__":
    tap_main()
