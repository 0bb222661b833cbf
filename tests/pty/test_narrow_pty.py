#!/usr/bin/python3
"""Narrow terminals and projectors (issue 17), in a real pseudo-terminal: at 60 columns long
replies, hints and annotations wrap at blanks with the marker kept alone in its column and
escapes whole, and \\help, \\set, \\practice fit; a resize (SIGWINCH) counts from the next
line; batch mode through a pipe is unchanged; \\set prompt compact; --theme light and
\\set theme light draw nothing faint (ESC[2m), the startup login included; \\explain 550 5.7.1
fits a 24-line screen and \\explain -v keeps every case.

Usage: PYTHONPATH=tests/lib /usr/bin/python3 tests/pty/test_narrow_pty.py  (TAP; $SMTPSH is
the binary)
"""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

import pexpect

import harness
from smtpshtest import pty_environ, smtpsh_path, tap_main

HERE = os.path.dirname(os.path.abspath(__file__))
INPUTRC = os.path.join(HERE, "inputrc")
TIMEOUT = 15
PROMPT = r"(?:127\.0\.0\.1:\d+(?: tls)?(?: auth)? )?[a-z]+> "

# A reply longer than three lines of 60 columns: words, an escape (ESC sent raw, shown \x1b)
# near where a break falls, and one word longer than the screen.
LONG_TEXT = ("5.7.1 Message rejected as spam by Content Filtering: the sending address is "
             "not allowed to relay through this server \x1b[2J see "
             "https://postmaster.example.net/troubleshooting/policy/rejections/5.7.1-relay-denied"
             " for details")
SHOWN_TEXT = LONG_TEXT.replace("\x1b", "\\x1b")

SESSION = r'''send 220 narrow.test ESMTP\r\n
expect EHLO me
send 250-narrow.test\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES\r\n
expect MAIL FROM:<a@example\.test>
send 550 %s\r\n
expect QUIT
send 221 2.0.0 Bye\r\n
''' % LONG_TEXT.replace("\x1b", "\\e").replace("#", "\\x23")

CSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def screen_lines(text):
    """The lines as a terminal shows them: readline's CSI sequences dropped, and after a CR
    only what follows it (a redrawn prompt)."""
    out = []
    for line in text.split("\n"):
        line = CSI.sub("", line.rstrip("\r"))
        out.append(line.split("\r")[-1])
    return out


def columns(line):
    return len(line)  # the tests' text is ASCII


class NarrowTerminal(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="smtpsh-narrow-pty-")
        self.servers = []
        self.child = None

    def tearDown(self):
        if self.child is not None and self.child.isalive():
            self.child.terminate(force=True)
        for s in self.servers:
            s.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def spawn(self, args, rows=24, cols=60, **env):
        e = pty_environ(self.tmp, INPUTRC, **env)
        self.child = pexpect.spawn(smtpsh_path(), ["-X"] + args, env=e, cwd=self.tmp,
                                   timeout=TIMEOUT, dimensions=(rows, cols), encoding="utf-8")
        return self.child

    def server(self):
        s = harness.ScriptedServer(SESSION, self.tmp, text=True, lifetime=30)
        self.servers.append(s)
        return s

    def run_command(self, line):
        """Sends line, returns the screen lines up to the next prompt (the echo dropped)."""
        c = self.child
        c.sendline(line)
        c.expect(r"\r\n" + PROMPT)
        return screen_lines(c.before)[1:]

    def assert_fits(self, lines, width, what):
        wide = [l for l in lines if columns(l) > width]
        self.assertEqual(wide, [], "%s: lines wider than %d columns" % (what, width))

    def test_long_reply_wraps_at_blanks_marker_visible(self):
        """a 550 with a long text at 60 columns: every line fits, the continuation lines are
        indented 3 under the text, no word is split but the one longer than the screen, the
        escape \\x1b[2J is whole; the same reply through a pipe is one line"""
        s = self.server()
        c = self.spawn(["127.0.0.1", str(s.port)])
        c.expect(PROMPT)
        self.run_command("EHLO me")
        lines = self.run_command("MAIL FROM:<a@example.test>")
        start = next(i for i, l in enumerate(lines) if l.startswith("<- 550 "))
        block = [lines[start]]
        for l in lines[start + 1:]:
            if not l.startswith("   "):
                break
            block.append(l)
        self.assertGreater(len(block), 3, "the reply wrapped: %r" % lines)
        self.assert_fits(lines, 60, "the reply and its hint")
        for l in block[1:]:
            self.assertRegex(l, r"^   \S", "continuation indented 3 under the text: %r" % block)
        # joined again at the breaks, the lines are the reply and its annotations
        joined = " ".join([block[0][3:]] + [l[3:] for l in block[1:]])
        words = joined.replace("\t", " ").split()
        shown = SHOWN_TEXT.split()
        long_word = max(shown, key=len)
        self.assertGreater(len(long_word), 57)
        self.assertIn("\\x1b[2J", words, "the escape is never split: %r" % block)
        for w in shown:
            if w != long_word:
                self.assertIn(w, words, "a word split across lines: %r in %r" % (w, block))
        self.assertIn(long_word, "".join(l[3:] for l in block),
                      "the long word cut between characters only")
        self.assertTrue(any(l.startswith("   [hint: ") or "[hint:" in l for l in block),
                        "the hint is in the block: %r" % block)
        c.sendline("\\quit")
        c.expect(pexpect.EOF)

    def test_pipe_is_not_wrapped(self):
        """batch mode writing to a pipe: the same long reply is one line, as before"""
        s = self.server()
        env = pty_environ(self.tmp, INPUTRC, COLUMNS="60")
        r = subprocess.run([smtpsh_path(), "-X", "127.0.0.1", str(s.port)],
                           input=b"EHLO me\nMAIL FROM:<a@example.test>\nQUIT\n",
                           capture_output=True, env=env, timeout=TIMEOUT)
        out = r.stdout.decode()
        self.assertRegex(out, r"\n<- 550 " + re.escape(SHOWN_TEXT) + r"  \t\[hint: [^\n]*\]\n")

    def test_resize_counts_from_the_next_line(self):
        """SIGWINCH: after the window shrinks to 44 columns, \\help fits 44"""
        c = self.spawn(["--practice"], cols=100)
        c.expect(PROMPT)
        lines = self.run_command("\\help")
        self.assertTrue(any(columns(l) > 60 for l in lines), "100 columns: wide lines")
        c.setwinsize(24, 44)
        lines = self.run_command("\\help")
        self.assert_fits(lines, 44, "\\help after the resize")
        c.sendline("\\quit")
        c.expect(pexpect.EOF)

    def test_help_set_practice_fit_60_and_compact_prompt(self):
        """\\help, \\set, \\practice, \\explain -v, \\check's report and the startup lines fit
        60 columns;
        \\set prompt compact leaves the phase alone"""
        c = self.spawn(["--practice"])
        c.expect(PROMPT)
        self.assert_fits(screen_lines(c.before), 60, "the startup lines")
        for cmd in ("\\help", "\\set", "\\practice", "\\explain -v 550 5.7.1", "EHLO me",
                    "\\status", "\\caps", "\\check"):
            lines = self.run_command(cmd)
            self.assertGreater(len(lines), 1, cmd)
            self.assert_fits(lines, 60, cmd)
        # \help under 100 columns: each local command with its help below it
        lines = self.run_command("\\help")
        i = lines.index("     \\quit ")  if "     \\quit " in lines else \
            next(i for i, l in enumerate(lines) if l.strip() == "\\quit")
        self.assertRegex(lines[i + 1], r"^ {9}send QUIT")
        c.sendline("\\set prompt compact")
        c.expect(r"\*  prompt is compact\r\n(?:\x1b\[[0-9;?]*[A-Za-z]|\r)*ready> $")
        c.sendline("\\set prompt full")
        c.expect(r"127\.0\.0\.1:\d+ ready> $")
        c.sendline("\\quit")
        c.expect(pexpect.EOF)

    def test_explain_pair_fits_24_lines(self):
        """\\explain 550 5.7.1 at 80x24: at most 20 lines, each piece of advice once;
        \\explain -v 550 5.7.1 has every case of both codes"""
        c = self.spawn([], cols=80)
        c.expect(PROMPT)
        lines = self.run_command("\\explain 550 5.7.1")
        self.assertLessEqual(len(lines), 20, "\n".join(lines))
        self.assert_fits(lines, 80, "\\explain 550 5.7.1")
        text = "\n".join(lines)
        self.assertEqual(text.count("permanent failure"), 1, text)
        self.assertEqual(text.count("refused as spam"), 1, text)
        self.assertIn("\\explain -v 550 5.7.1", text)
        full = "\n".join(self.run_command("\\explain -v 550 5.7.1"))
        for case in ("5.7.30", "5.7.60", "5.7.520", "5.1.1", "553", "554",
                     "Relay access denied", "not owned by user"):
            self.assertIn(case, full)
        c.sendline("\\quit")
        c.expect(pexpect.EOF)


class Theme(unittest.TestCase):
    """Which SGR codes each theme writes (colour forced on: the tests' NO_COLOR is set)."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="smtpsh-theme-pty-")
        self.child = None

    def tearDown(self):
        if self.child is not None and self.child.isalive():
            self.child.terminate(force=True)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def session(self, args, commands=()):
        """--practice with args; the whole screen (startup, EHLO, a 5xx, a warning)."""
        env = pty_environ(self.tmp, INPUTRC)
        c = self.child = pexpect.spawn(smtpsh_path(), ["-X", "--practice"] + args, env=env,
                                       cwd=self.tmp, timeout=TIMEOUT, dimensions=(24, 200),
                                       encoding="utf-8")
        prompt = r"(?:ready|greeted)(?:\x1b\[0m)?> "  # the prompt is bold in colour
        c.expect(prompt)
        seen = c.before
        for cmd in list(commands) + ["EHLO me", "RCPT TO:<x@example.test>", "\\explain 550",
                                     "\\set explain on", "NOOP"]:
            c.sendline(cmd)
            c.expect(prompt)
            seen += c.before
        c.sendline("\\quit")
        c.expect(pexpect.EOF)
        return seen + c.before

    def test_dark_default_uses_faint(self):
        """the default theme uses faint text (ESC[2m) for local lines and annotations"""
        out = self.session(["--color", "always"])
        self.assertIn("\x1b[2m*  AUTH login: user", out)
        self.assertIn("\x1b[2m", out)

    def test_light_has_no_faint(self):
        """--theme light: no ESC[2m anywhere, the login line plain, annotations blue"""
        out = self.session(["--color", "always", "--theme", "light"])
        self.assertNotIn("\x1b[2m", out)
        self.assertNotIn("\x1b[33m", out, "no yellow on white")
        self.assertRegex(out, r"\n\*  AUTH login: user \S+, password \S+")
        self.assertIn("\x1b[34m  \t[", out, "annotations in blue")
        self.assertIn("\x1b[31m503\x1b[0m 5.5.1", out, "a 5xx code in red")

    def test_set_theme_light_and_mono(self):
        """\\set theme light in the session: nothing faint from then on; mono: no colour"""
        out = self.session(["--color", "always"], ["\\set theme light"])
        after = out[out.index("theme is light"):]
        self.assertNotIn("\x1b[2m", after)
        out = self.session(["--color", "always", "--theme", "mono"])
        self.assertNotIn("\x1b[2m", out)
        self.assertIsNone(re.search(r"\x1b\[3[0-9]m", out), "mono: no colour")

    def test_status_shows_theme_and_prompt(self):
        """\\status names the theme (--theme, \\set theme) and the prompt style (\\set
        prompt) with the other settings; batch mode, no server needed"""
        env = pty_environ(self.tmp, INPUTRC)
        r = subprocess.run([smtpsh_path(), "-X", "--theme", "mono"],
                           input=b"\\status\n\\set theme light\n\\set prompt compact\n"
                                 b"\\status\n",
                           capture_output=True, env=env, cwd=self.tmp, timeout=TIMEOUT)
        out = r.stdout.decode()
        settings = re.findall(r"^ *settings: +(.*)$", out, re.M)
        self.assertEqual(settings, [
            "explain off, timing off, show-raw off, reveal-secrets off, theme mono, "
            "prompt full",
            "explain off, timing off, show-raw off, reveal-secrets off, theme light, "
            "prompt compact"], out)

    def test_no_color_wins(self):
        """NO_COLOR (the tests' environment) with --theme light: no SGR at all"""
        out = self.session(["--theme", "light"])
        self.assertIsNone(re.search(r"\x1b\[[0-9;]*m", out), repr(out[:300]))


if __name__ == "__main__":
    tap_main()
