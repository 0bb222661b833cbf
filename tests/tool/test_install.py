#!/usr/bin/python3
"""meson install into a temporary DESTDIR: the binary, the man page and the
bash and zsh completions land where they belong, the installed binary runs,
and the installed completions complete options and preset names.

Usage: run by meson (tests/tool/meson.build passes the build directory and
the install directories as environment variables). TAP.
"""

import os
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
from smtpshtest import tap_main
from tooltest import project_version

DESTDIR = None


def env(name):
    v = os.environ.get(name)
    if not v:
        raise AssertionError("%s is not set (run this test through meson test)" % name)
    return v


def installed(kind):
    """The installed path of one file: the directory meson was told, under DESTDIR."""
    prefix = env("SMTPSH_PREFIX")
    rel = {
        "bin": os.path.join(env("SMTPSH_BINDIR"), "smtpsh"),
        "man": os.path.join(env("SMTPSH_MANDIR"), "man1", "smtpsh.1"),
        "bash": os.path.join(env("SMTPSH_BASH_COMPLETION_DIR"), "smtpsh"),
        "zsh": os.path.join(env("SMTPSH_ZSH_COMPLETION_DIR"), "_smtpsh"),
    }[kind]
    path = rel if os.path.isabs(rel) else os.path.join(prefix, rel)
    return DESTDIR + path


def setUpModule():
    global DESTDIR
    DESTDIR = tempfile.mkdtemp(prefix="smtpsh-destdir-")
    meson = shutil.which("meson") or "/usr/bin/meson"
    r = subprocess.run([meson, "install", "-C", env("SMTPSH_BUILD_ROOT"), "--no-rebuild",
                        "--destdir", DESTDIR], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True, timeout=120)
    if r.returncode != 0:
        raise AssertionError("meson install failed:\n" + r.stdout)


def tearDownModule():
    if DESTDIR:
        shutil.rmtree(DESTDIR, ignore_errors=True)


def no_config_env(tmp):
    """An environment without the user's rc or profiles files."""
    return dict(os.environ, HOME=tmp, XDG_CONFIG_HOME=os.path.join(tmp, "config"),
                XDG_STATE_HOME=os.path.join(tmp, "state"), NO_COLOR="1")


class Install(unittest.TestCase):

    def test_files_installed(self):
        """binary (executable), man page, bash and zsh completions are installed"""
        for kind in ("bin", "man", "bash", "zsh"):
            path = installed(kind)
            self.assertTrue(os.path.isfile(path), "%s: %s is missing" % (kind, path))
        self.assertTrue(os.stat(installed("bin")).st_mode & stat.S_IXUSR)
        self.assertTrue(installed("bash").startswith(DESTDIR + env("SMTPSH_PREFIX")),
                        "the bash completion goes under the prefix")

    def test_installed_binary_runs(self):
        """the installed binary runs: --version"""
        r = subprocess.run([installed("bin"), "--version"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True, timeout=20)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.splitlines()[0], "smtpsh " + project_version())

    def test_installed_man_page(self):
        """the installed man page is the formatted smtpsh(1)"""
        with open(installed("man"), encoding="utf-8") as f:
            text = f.read()
        self.assertIn(".TH SMTPSH 1", text)
        self.assertIn("smtpsh " + project_version(), text)

    def bash_complete(self, words, tmp):
        """Runs the installed bash completion for the words (the last is completed)."""
        script = ('source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); '
                  '_smtpsh; printf "%s\\n" "${COMPREPLY[@]}"')
        r = subprocess.run(["bash", "--norc", "-c", script, "bash", installed("bash"),
                            installed("bin")] + words, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True, timeout=30,
                           env=no_config_env(tmp))
        self.assertEqual(r.stderr, "")
        return r.stdout.split()

    def test_bash_completion(self):
        """bash: options, --color values, preset names (first argument and after -p)"""
        with tempfile.TemporaryDirectory() as tmp:
            self.assertEqual(self.bash_complete(["--star"], tmp), ["--starttls"])
            self.assertIn("--no-rc", self.bash_complete(["--no"], tmp))
            self.assertEqual(sorted(self.bash_complete(["--color", ""], tmp)),
                             ["always", "auto", "never"])
            self.assertIn("gmail", self.bash_complete(["gm"], tmp))
            self.assertEqual(self.bash_complete(["-p", "off"], tmp), ["office365"])
            self.assertIn("587", self.bash_complete(["gmail", ""], tmp))

    def test_zsh_completion(self):
        """zsh: the completion function parses and is a #compdef for smtpsh"""
        zsh = shutil.which("zsh")
        self.assertTrue(zsh, "zsh is missing: run scripts/install-test-deps.sh")
        r = subprocess.run([zsh, "-n", installed("zsh")], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True, timeout=30)
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        with open(installed("zsh"), encoding="utf-8") as f:
            self.assertEqual(f.readline().strip(), "#compdef smtpsh")


if __name__ == "__main__":
    tap_main()
