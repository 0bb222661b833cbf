#!/usr/bin/python3
"""--help, --version, the man page, the completions and docs/reference.md against
what the option parser of src/cli.c accepts and the local commands of
src/ui/meta.c: every accepted option is documented everywhere, and nothing
documented as an option is unknown to the parser.

Usage: PYTHONPATH=tests/lib /usr/bin/python3 tests/tool/test_options.py [PATH/TO/smtpsh]  (TAP)
"""

import os
import re
import subprocess
import sys
import unittest

sys.dont_write_bytecode = True
from smtpshtest import REPO, smtpsh_path, tap_main
from tooltest import (build_file, local_commands, long_options, project_version, read,
                      short_options)


def run(*args):
    env = dict(os.environ, NO_COLOR="1", LC_ALL="C.UTF-8")
    return subprocess.run([smtpsh_path()] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=env, timeout=20,
                          universal_newlines=True)


# An option line of --help: two blanks, then "-X, --long ARG" or "    --long ARG".
HELP_LINE = re.compile(r"^  (?:(-[A-Za-z0-9])(?:, )?)?\s*(--[a-z0-9-]+)?(?:[ =]|$)")


def help_options(text):
    shorts, longs = set(), set()
    for line in text.splitlines():
        if not line.startswith("  -") and not line.startswith("      --"):
            continue
        m = HELP_LINE.match(line)
        if m and m.group(1):
            shorts.add(m.group(1)[1])
        if m and m.group(2):
            longs.add(m.group(2)[2:])
    return shorts, longs


def man_text():
    return read(build_file(os.path.join("doc", "smtpsh.1")))


def man_options_section(text):
    m = re.search(r"^\.SH OPTIONS$(.*?)^\.SH ", text, re.M | re.S)
    if not m:
        raise AssertionError("the man page has no OPTIONS section")
    return m.group(1)


class Options(unittest.TestCase):

    def setUp(self):
        self.longs = long_options()
        self.shorts = short_options()
        r = run("--help")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        self.help = r.stdout

    def test_tables_read(self):
        """the parser's tables are found (the other tests compare against them)"""
        self.assertIn("starttls", self.longs)
        self.assertIn("profile", self.longs)
        self.assertIn("no-rc", self.longs)
        self.assertIn("X", self.shorts)
        self.assertIn("connect", local_commands())
        self.assertIn("presets", local_commands())

    def test_help_lists_every_option(self):
        """--help lists every option the parser accepts, and no other"""
        shorts, longs = help_options(self.help)
        self.assertEqual(longs, self.longs, "long options: --help vs long_options[]")
        self.assertEqual(shorts, self.shorts, "short options: --help vs the getopt string")

    def test_help_gnu_style(self):
        """--help: a Usage line, grouped sections, lines of at most 79 columns"""
        lines = self.help.splitlines()
        self.assertTrue(lines[0].startswith("Usage: smtpsh [OPTION]..."), lines[0])
        for section in ("Connection:", "Profiles and start-up:", "Batch mode",
                        "Display:"):
            self.assertTrue(any(l.startswith(section) for l in lines), section)
        for l in lines:
            self.assertLessEqual(len(l), 79, "too long for a terminal: %r" % l)
        self.assertIn("Exit status", self.help)
        self.assertIn("SMTPSH_HISTFILE", self.help)

    def test_unknown_option(self):
        """an unknown option: exit 2 and a hint, on stderr"""
        r = run("--no-such-option")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stdout, "")
        self.assertIn("Try 'smtpsh --help'", r.stderr)

    def test_version(self):
        """--version: smtpsh's version from meson.build, Readline and OpenSSL in use"""
        r = run("--version")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0], "smtpsh " + project_version())
        self.assertRegex(lines[1], r"^Readline \d+\.\d+")
        self.assertRegex(lines[2], r"^OpenSSL \d+\.\d+\.\d+")
        self.assertEqual(len(lines), 3)

    def test_man_page_documents_every_option(self):
        """the man page's OPTIONS section describes every option, and no other"""
        lines = man_options_section(man_text()).splitlines()
        tags = [lines[i + 1] for i, l in enumerate(lines[:-1]) if l.startswith(".TP")]
        longs, shorts = set(), set()
        for tag in tags:
            tag = re.sub(r"\\f[RBIP]", " ", tag.replace("\\-", "-"))
            longs |= set(re.findall(r"(?<![\w-])--([a-z0-9][a-z0-9-]*)", tag))
            shorts |= set(re.findall(r"(?<![\w-])-([A-Za-z0-9])(?![\w-])", tag))
        self.assertEqual(longs, self.longs, "man page OPTIONS vs long_options[]")
        self.assertEqual(shorts, self.shorts, "man page OPTIONS vs the getopt string")

    def test_man_page_documents_every_local_command(self):
        """the man page's LOCAL COMMANDS section describes every local command"""
        text = man_text()
        m = re.search(r"^\.SH LOCAL COMMANDS$(.*?)^\.SH ", text, re.M | re.S)
        self.assertTrue(m, "no LOCAL COMMANDS section")
        documented = set(re.findall(r"^\.B[IR]? \\e([a-z0-9]+)", m.group(1), re.M))
        self.assertEqual(documented, local_commands(),
                         "man page LOCAL COMMANDS vs meta_commands[]")

    def test_reference_documents_every_option_and_command(self):
        """docs/reference.md (the README's reference) names every option and local command"""
        ref = read(os.path.join(REPO, "docs", "reference.md"))
        for o in self.longs:
            self.assertTrue("`--%s" % o in ref, "--%s not in docs/reference.md" % o)
        for s in self.shorts:
            self.assertRegex(ref, r"`-%s\b" % s, "-%s not in docs/reference.md" % s)
        for c in local_commands():
            self.assertTrue("`\\%s" % c in ref, "\\%s not in docs/reference.md" % c)

    def test_completions_know_every_option(self):
        """the bash and zsh completions offer every long option"""
        bash = read(os.path.join(REPO, "completions", "smtpsh.bash"))
        zsh = read(os.path.join(REPO, "completions", "_smtpsh"))
        for o in self.longs:
            self.assertRegex(bash, r"(?<![\w-])--%s(?![\w-])" % re.escape(o),
                             "bash completion lacks --%s" % o)
            self.assertRegex(zsh, r"(?<![\w-])--%s(?![\w-])" % re.escape(o),
                             "zsh completion lacks --%s" % o)
        for s in self.shorts:
            self.assertRegex(bash, r"(?<![\w-])-%s(?![\w-])" % s, "bash lacks -%s" % s)
            self.assertRegex(zsh, r"(?<![\w-])-%s(?![\w-])" % s, "zsh lacks -%s" % s)


if __name__ == "__main__":
    tap_main()
