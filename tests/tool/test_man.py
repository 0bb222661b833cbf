#!/usr/bin/python3
"""The man page smtpsh(1) formats without a single warning (man --warnings, as
lintian checks it) and has the sections a user looks for.

Usage: PYTHONPATH=tests/lib /usr/bin/python3 tests/tool/test_man.py  (TAP; SMTPSH_BUILD_ROOT names
the build directory holding doc/smtpsh.1)
"""

import os
import re
import shutil
import subprocess
import sys
import unittest

sys.dont_write_bytecode = True
from smtpshtest import tap_main
from tooltest import build_file, project_version, read

MAN = shutil.which("man") or "/usr/bin/man"


class ManPage(unittest.TestCase):

    def setUp(self):
        self.page = build_file(os.path.join("doc", "smtpsh.1"))
        self.assertTrue(os.path.isfile(self.page), "%s: not built" % self.page)
        self.assertTrue(os.access(MAN, os.X_OK),
                        "man is missing: run scripts/install-test-deps.sh")

    def format(self, width):
        env = dict(os.environ, MANWIDTH=str(width), LC_ALL="C.UTF-8", MANPAGER="cat",
                   PAGER="cat", MAN_KEEP_FORMATTING="")
        return subprocess.run([MAN, "--warnings", "-l", self.page], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=env, timeout=60,
                              universal_newlines=True)

    def test_no_warnings(self):
        """man --warnings -l smtpsh.1 prints no warning (80 and 60 columns)"""
        for width in (80, 60):
            r = self.format(width)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stderr, "", "warnings at %d columns:\n%s" % (width, r.stderr))
            self.assertIn("smtpsh - an interactive shell for SMTP", r.stdout)

    def test_sections(self):
        """the usual sections are there, in the usual order"""
        text = self.format(80).stdout
        heads = [l for l in text.splitlines() if re.match(r"^[A-Z][A-Z ]+$", l)]
        want = ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "LOCAL COMMANDS",
                "TRANSCRIPT MARKERS", "PROFILES", "ENVIRONMENT", "FILES", "EXIT STATUS",
                "EXAMPLES", "SEE ALSO"]
        self.assertEqual([h for h in heads if h in want], want)

    def test_version_and_facts(self):
        """the version comes from meson.build; markers, exit codes, files and variables"""
        src = read(self.page)
        self.assertIn('"smtpsh %s"' % project_version(), src.splitlines()[3])
        text = self.format(80).stdout
        for word in ("->", "<-", "~>", "<~", "?>", "<?", "smtpshrc", "profiles",
                     ".local/state/smtpsh/history", "~/.netrc", "SMTPSH_TIMEOUT",
                     "SMTPSH_CAFILE", "SMTPSH_EHLO", "SMTPSH_COLOR", "SMTPSH_HISTFILE",
                     "SMTPSH_HISTSIZE", "NO_COLOR", "XDG_CONFIG_HOME", "XDG_STATE_HOME",
                     "office365", "outlook", "gmail", "aol", "yahoo", "icloud",
                     "show-all-if-ambiguous", "$if smtpsh", "130"):
            self.assertIn(word, text)
        for code in ("0", "1", "2", "3", "4", "5", "130"):
            self.assertRegex(text, r"(?m)^       %s\s" % code, "exit status %s" % code)


if __name__ == "__main__":
    tap_main()
