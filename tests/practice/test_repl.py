#!/usr/bin/python3
"""smtpsh --practice in a real pty (pexpect): the README's first command, as a newcomer uses
it. Banner and prompt, STARTTLS verified, AUTH typed (masked), a message, \\inbox, Tab
completion of \\practice, Ctrl-C that reaches the shell and not the server, a 421 shown while
waiting at the prompt, Ctrl-D leaving with no server and no folder left behind.

Usage: PYTHONPATH=tests/lib /usr/bin/python3 tests/practice/test_repl.py [PATH/TO/smtpsh] [NAME...]
Prints TAP. Needs python3-pexpect (scripts/install-test-deps.sh).
"""

import base64
import os
import re
import shutil
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True
from smtpshtest import pid_alive, pty_environ, smtpsh_path, tap_main, wait_gone

try:
    import pexpect
except ImportError:  # a failure, not a skip
    pexpect = None

HOME = tempfile.mkdtemp(prefix="smtpsh-practice-pty-")
CTRL_C, CTRL_D, TAB = "\x03", "\x04", "\t"


def setUpModule():
    if pexpect is None:
        raise AssertionError("python3-pexpect is missing: run scripts/install-test-deps.sh")
    with open(os.path.join(HOME, "inputrc"), "w") as f:
        f.write("set enable-bracketed-paste off\nset show-all-if-ambiguous on\n"
                "set bell-style none\nset horizontal-scroll-mode off\n")


def tearDownModule():
    shutil.rmtree(HOME, ignore_errors=True)


class Repl(unittest.TestCase):

    def spawn(self):
        env = pty_environ(HOME, os.path.join(HOME, "inputrc"),
                          XDG_CONFIG_HOME=os.path.join(HOME, "c"),
                          XDG_STATE_HOME=os.path.join(HOME, "s"))
        p = pexpect.spawn(smtpsh_path(), ["--practice"], env=env, encoding="utf-8",
                          codec_errors="replace", timeout=15, dimensions=(50, 250), cwd=HOME)
        self.addCleanup(lambda: p.close(force=True) if p.isalive() else None)
        self.p = p
        if os.environ.get('PXLOG'):
            p.logfile_read = open(os.environ['PXLOG'], 'w')
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

    def test_first_session(self):
        """the README's first command: a whole session with TLS, AUTH and \\inbox"""
        p = self.spawn()
        banner = self.expect(r"127\.0\.0\.1:(\d+) greeted> ", literal=False)
        port = self.p.match.group(1)
        m = re.search(r"practice server \(pid (\d+)\) on 127\.0\.0\.1 port %s" % port, banner)
        self.assertTrue(m, banner)
        pid = int(m.group(1))
        password = re.search(r"AUTH login: user student, password (\S+) ", banner).group(1)
        folder = os.path.dirname(re.search(r"trusted by this session only: (\S+)",
                                           banner).group(1))
        self.assertIn("<- 220 localhost ESMTP smtpsh practice server", banner)

        self.line("EHLO me")
        self.expect("<- 250 HELP")
        self.expect(":%s ready> " % port)
        self.line("STARTTLS")
        self.expect("certificate verified (CN=localhost")
        self.expect(":%s tls greeted> " % port)
        self.line("EHLO me")
        self.expect("<~ 250-AUTH PLAIN LOGIN CRAM-MD5")
        self.expect("tls ready> ")
        response = base64.b64encode(("\0student\0" + password).encode()).decode()
        self.line("AUTH PLAIN " + response)
        self.expect("~> AUTH PLAIN <redacted>")
        self.expect("<~ 235 2.7.0 Authentication successful")
        self.expect("tls ready> ")
        for cmd, reply in (("MAIL FROM:<me@example.test>", "<~ 250 2.1.0 Ok"),
                           ("RCPT TO:<you@example.test>", "<~ 250 2.1.5 Ok"),
                           ("DATA", "<~ 354 ")):
            self.line(cmd)
            self.expect(reply)
        self.expect("tls data> ")
        for body in ("Subject: my first mail", "", "Hello!", ".a dot"):
            self.line(body)
            self.expect("tls data> ")
        self.line(".")
        self.expect(r"<~ 250 2\.0\.0 Ok: stored as [0-9A-F]{10}", literal=False)
        self.expect("tls ready> ")
        self.line("\\inbox")
        self.expect(r"1 +\d\d:\d\d:\d\d +me@example\.test +-> +you@example\.test +\d+ +my "
                    r"first mail", literal=False)
        self.line("\\inbox 1")
        self.expect("| Subject: my first mail")
        self.expect("| .a dot")
        text = "".join(self.seen)
        self.assertNotIn(response, text.split("AUTH PLAIN ", 1)[1].split("\n", 1)[1])

        # Tab completes \practice, its settings and their values
        self.p.send("\\prac" + TAB)
        self.expect("\\practice ")
        self.p.send("greyl" + TAB)
        self.expect("greylist ")
        self.p.send("o" + TAB)
        self.expect(r"off +on", literal=False)
        self.p.send("n\r")
        self.expect("*  greylist       on")

        # Ctrl-C is for the shell: the server (its own process group) goes on
        self.p.send("NOO")
        self.p.send(CTRL_C)
        self.expect("tls ready> ")
        self.line("NOOP")
        self.expect("<~ 250 2.0.0 Ok")
        self.assertTrue(pid_alive(pid))

        # a 421 arrives while the shell waits at the prompt: shown at once
        self.line("\\practice timeout 1")
        self.expect("*  timeout        1 s")
        self.expect(r"<~ 421 4\.4\.2 localhost Error: timeout exceeded", literal=False,
                    timeout=10)
        self.expect("smtpsh> ")

        p.send(CTRL_D)
        p.expect(pexpect.EOF, timeout=15)
        p.close()
        self.assertEqual(p.exitstatus, 0)
        self.assertTrue(wait_gone(pid, 5), "the practice server outlived the shell")
        deadline = time.monotonic() + 5
        while os.path.exists(folder) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertFalse(os.path.exists(folder), "its folder is left behind")

    def test_auth_command(self):
        """\\auth CRAM-MD5 logs in as the demo user, asking only for the password"""
        p = self.spawn()
        banner = self.expect("greeted> ")
        password = re.search(r"AUTH login: user student, password (\S+) ", banner).group(1)
        self.line("EHLO me")
        self.expect("ready> ")
        self.line("STARTTLS")
        self.expect("tls greeted> ")
        self.line("EHLO me")
        self.expect("tls ready> ")
        self.line("\\auth CRAM-MD5")
        self.expect("for student at 127.0.0.1 (not shown): ")
        self.line(password)
        self.expect("<~ 235 2.7.0 Authentication successful")
        self.assertNotIn(password, "".join(self.seen).split("greeted> ", 1)[1])
        p.send(CTRL_D)
        p.expect(pexpect.EOF, timeout=15)

    def test_ctrl_d_sends_quit(self):
        """Ctrl-D: QUIT, the 221, and the shell leaves"""
        p = self.spawn()
        self.expect("greeted> ")
        p.send(CTRL_D)
        self.expect("<- 221 2.0.0 Bye")
        p.expect(pexpect.EOF, timeout=15)
        p.close()
        self.assertEqual(p.exitstatus, 0)


if __name__ == "__main__":
    tap_main()
