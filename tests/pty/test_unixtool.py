#!/usr/bin/python3
"""smtpsh in a real pty (pexpect) as a Unix tool: the history file (kept across
sessions, mode 0600, no secrets), the rc file and -X, a profile connecting to
the Postfix of the test lab, file-name completion after \\file.

Usage: PYTHONPATH=tests/lib /usr/bin/python3 tests/pty/test_unixtool.py [PATH/TO/smtpsh] [NAME...]
Prints TAP. Starts (and always stops) its own Postfix lab in a temp dir;
needs root, python3-pexpect and the packages of scripts/install-test-deps.sh.
"""

import os
import re
import shutil
import stat
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
from lablib import PostfixLab
from smtpshtest import b64, pty_environ, smtpsh_path, tap_main

try:
    import pexpect
except ImportError:  # a failure, not a skip
    pexpect = None

LAB = None
CTRL_D = "\x04"
CTRL_P = "\x10"  # previous-history (Up)


def setUpModule():
    global LAB
    if pexpect is None:
        raise AssertionError("python3-pexpect is missing: run scripts/install-test-deps.sh")
    lab = PostfixLab()
    lab.start()
    LAB = lab


def tearDownModule():
    if LAB:
        LAB.stop()


class Home:
    """A throw-away home: config, state and an inputrc of its own."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="smtpsh-pty-")
        os.chmod(self.dir, 0o755)
        self.config = os.path.join(self.dir, "config")
        self.state = os.path.join(self.dir, "state")
        self.inputrc = os.path.join(self.dir, "inputrc")
        with open(self.inputrc, "w") as f:
            f.write("set enable-bracketed-paste off\nset bell-style none\n")

    def env(self, **extra):
        return pty_environ(self.dir, self.inputrc, XDG_CONFIG_HOME=self.config,
                           XDG_STATE_HOME=self.state, **extra)

    def write_config(self, name, text):
        d = os.path.join(self.config, "smtpsh")
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    @property
    def histfile(self):
        return os.path.join(self.state, "smtpsh", "history")

    def history(self, path=None):
        with open(path or self.histfile, encoding="utf-8") as f:
            return f.read().splitlines()

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class Shell:
    """One smtpsh in a pty."""

    def __init__(self, home, args=(), env=None, timeout=15):
        self.p = pexpect.spawn(smtpsh_path(), list(args), env=env or home.env(),
                               encoding="utf-8", codec_errors="replace", timeout=timeout,
                               dimensions=(50, 250), cwd=home.dir)
        self.log = []

    def expect(self, pattern, literal=True):
        try:
            self.p.expect(re.escape(pattern) if literal else pattern)
        except (pexpect.TIMEOUT, pexpect.EOF) as e:
            raise AssertionError("waiting for %r, got:\n%s\n(%s)"
                                 % (pattern, self.seen(), type(e).__name__))
        self.log.append(self.p.before + self.p.after)
        return self.p.before

    def seen(self):
        return "".join(self.log) + (self.p.before or "")

    def prompt(self, name="smtpsh"):
        return self.expect(name + "> ")

    def line(self, text):
        self.p.send(text + "\r")

    def finish(self):
        """Ctrl-D (QUIT when connected) and wait for the end; returns the exit status."""
        self.p.send(CTRL_D)
        try:
            self.p.expect(pexpect.EOF, timeout=15)
        except pexpect.TIMEOUT:
            self.p.close(force=True)
            raise AssertionError("smtpsh did not leave after Ctrl-D:\n" + self.seen())
        self.log.append(self.p.before)
        self.p.close()
        return self.p.exitstatus

    def kill(self):
        if self.p.isalive():
            self.p.close(force=True)


class UnixTool(unittest.TestCase):

    def setUp(self):
        self.home = Home()
        self.shells = []

    def tearDown(self):
        for s in self.shells:
            s.kill()
        self.home.remove()

    def shell(self, *args, **kw):
        s = Shell(self.home, args, **kw)
        self.shells.append(s)
        return s

    def assertMode(self, path, mode):
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), mode,
                         "%s: mode %o" % (path, stat.S_IMODE(os.stat(path).st_mode)))

    # --- history -----------------------------------------------------------------

    def test_history_kept_across_sessions(self):
        """history: kept lines are there at the next start; secrets, ignorespace and
        repeats are not; file 0600 in directories 0700"""
        s = self.shell()
        s.prompt()
        for line, answer in [
                ("\\help VRFY", "VRFY"),
                (" \\help NOOP", "NOOP"),                      # ignorespace
                ("AUTH PLAIN AGFsaWNlAHNlY3JldC1wdw==", "not connected"),
                ("\\b64 secret-pw", "c2VjcmV0LXB3"),
                ("\\auth plain alice --password-command secret-pw", "usage: \\auth"),
                ("\\auth plain alice", "not connected"),
                ("\\help RSET", "RSET"),
                ("\\help RSET", "RSET")]:                      # a repeat
            s.line(line)
            s.expect(answer)
            s.prompt()
        self.assertEqual(s.finish(), 0)
        self.assertMode(os.path.dirname(self.home.histfile), 0o700)
        self.assertMode(self.home.state, 0o700)
        self.assertMode(self.home.histfile, 0o600)
        self.assertEqual(self.home.history(),
                         ["\\help VRFY", "\\auth plain alice", "\\help RSET"])
        with open(self.home.histfile, encoding="utf-8") as f:
            self.assertNotIn("secret", f.read())

        s = self.shell()
        s.prompt()
        s.p.send(CTRL_P * 3 + "\r")  # three times Up: the first line of the last session
        s.expect("VRFY — ")
        s.prompt()
        self.assertEqual(s.finish(), 0)
        self.assertEqual(self.home.history()[-1], "\\help VRFY", "the recalled line is kept")

    def test_history_file_mode_narrowed_and_size(self):
        """SMTPSH_HISTFILE: an existing file readable by others is set to 0600 (with a
        warning) and read; SMTPSH_HISTSIZE limits the lines kept"""
        path = os.path.join(self.home.dir, "my-history")
        with open(path, "w") as f:
            f.write("\\help EXPN\n")
        os.chmod(path, 0o644)
        env = self.home.env(SMTPSH_HISTFILE=path, SMTPSH_HISTSIZE="3")
        s = self.shell(env=env)
        s.expect("was readable by others (mode 644): mode set to 600")
        s.prompt()
        self.assertMode(path, 0o600)
        s.p.send(CTRL_P + "\r")
        s.expect("EXPN — ")
        s.prompt()
        for verb in ("HELO", "MAIL", "RCPT", "DATA"):
            s.line("\\help " + verb)
            s.expect(verb + " — ")
            s.prompt()
        self.assertEqual(s.finish(), 0)
        self.assertMode(path, 0o600)
        self.assertEqual(self.home.history(path),
                         ["\\help MAIL", "\\help RCPT", "\\help DATA"])
        self.assertFalse(os.path.exists(self.home.histfile), "the default file is not used")

    def test_auth_exchange_not_in_history(self):
        """history: the answers of an AUTH LOGIN exchange are never saved"""
        s = self.shell("--cafile", LAB.cafile, "--starttls", "127.0.0.1",
                       str(LAB.submission_port))
        s.prompt("127.0.0.1:%d tls ready" % LAB.submission_port)
        s.line("AUTH LOGIN")
        s.expect("<~ 334 ")
        s.prompt("auth ready")
        s.line(b64(LAB.user))
        s.expect("<~ 334 ")
        s.line(b64(LAB.password))
        s.expect("<~ 235 ")
        s.prompt("tls ready")
        s.line("QUIT")
        s.expect("<~ 221 ")
        s.prompt()
        self.assertEqual(s.finish(), 0)
        history = "\n".join(self.home.history())
        self.assertIn("AUTH LOGIN", history)
        self.assertIn("QUIT", history)
        for secret in (b64(LAB.user), b64(LAB.password), LAB.password):
            self.assertNotIn(secret, history)

    # --- rc file -----------------------------------------------------------------

    RC = ("# smtpsh rc file of the test\n"
          "\\set reveal-secrets on\n"
          "EHLO from-the-rc-file\n"
          "\\no-such-command\n")

    def test_rc_file_applied(self):
        """rc file: its local commands run at start; an SMTP command is refused and
        never sent; problems name file:line"""
        rc = self.home.write_config("smtpshrc", self.RC)
        s = self.shell("127.0.0.1", str(LAB.plain_port))
        s.expect("%s:2: warning: AUTH payloads" % rc)
        s.expect("%s:3: error: only local (backslash) commands" % rc)
        s.expect("%s:4: error: unknown local command \\no-such-command" % rc)
        s.expect("<- 220 ")
        s.prompt("127.0.0.1:%d greeted" % LAB.plain_port)
        s.line("\\set")
        s.expect("reveal-secrets   on")
        s.prompt("greeted")
        self.assertEqual(s.finish(), 0)
        self.assertNotIn("from-the-rc-file", "\n".join(
            l for l in s.seen().splitlines() if l.startswith("->")))

    def test_no_rc_skips_it(self):
        """-X: the rc file is not run"""
        self.home.write_config("smtpshrc", self.RC)
        s = self.shell("-X")
        s.prompt()
        s.line("\\set")
        s.expect("reveal-secrets   off")
        s.prompt()
        self.assertEqual(s.finish(), 0)
        self.assertNotIn("smtpshrc", s.seen())

    # --- profiles ------------------------------------------------------------------

    def test_profile_connects_to_the_lab(self):
        """smtpsh PROFILE: host, port, STARTTLS and CA file from the profiles file;
        \\presets lists it beside the presets"""
        self.home.write_config("profiles", (
            "[lab]\n"
            "host = 127.0.0.1\n"
            "port = %d\n"
            "tls = starttls\n"
            "cafile = %s\n"
            "user = %s\n"
            "auth = PLAIN\n"
            "ehlo = pty.example\n"
            "note = the Postfix of the test lab\n") % (LAB.submission_port, LAB.cafile,
                                                        LAB.user))
        s = self.shell("lab")
        s.expect("*  profile lab: 127.0.0.1 port %d, STARTTLS, user %s, AUTH PLAIN"
                 % (LAB.submission_port, LAB.user))
        s.expect("*  the Postfix of the test lab")
        s.expect("-> EHLO pty.example")
        s.expect("-> STARTTLS")
        s.expect("~> EHLO pty.example")
        s.prompt("127.0.0.1:%d tls ready" % LAB.submission_port)
        s.line("\\presets")
        s.expect("gmail        smtp.gmail.com port 587, STARTTLS")
        s.expect("Your profiles (%s/smtpsh/profiles):" % self.home.config)
        s.expect("lab          127.0.0.1 port %d, STARTTLS" % LAB.submission_port)
        s.prompt("tls ready")
        self.assertEqual(s.finish(), 0)
        self.assertIn("<~ 221 ", s.seen())

    # --- completion ------------------------------------------------------------------

    def test_file_name_completion_after_file(self):
        """Tab after \\file completes file names (inside DATA)"""
        d = os.path.join(self.home.dir, "files")
        os.makedirs(d)
        with open(os.path.join(d, "unique-message.txt"), "w") as f:
            f.write("Subject: completed\n\nsent by \\file\n")
        s = self.shell("127.0.0.1", str(LAB.plain_port))
        s.prompt("greeted")
        for line, reply in (("EHLO pty.example", "<- 250 "),
                            ("MAIL FROM:<pty@example.test>", "<- 250 "),
                            ("RCPT TO:<alice@example.test>", "<- 250 "),
                            ("DATA", "<- 354 ")):
            s.line(line)
            s.expect(reply)
        s.prompt("data")
        s.p.send("\\file files/uni\t")
        s.expect("que-message.txt")
        s.p.send("\r")
        s.expect("-> sent by \\\\file")
        s.line(".")
        s.expect("<- 250 ")
        s.prompt("ready")
        self.assertEqual(s.finish(), 0)


if __name__ == "__main__":
    tap_main()
