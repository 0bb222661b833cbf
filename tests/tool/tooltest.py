"""Shared bits of the tests of tests/tool: the paths meson gives, the sources they check."""

import os
import re

from smtpshtest import REPO, smtpsh_path


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def build_file(rel):
    """A file meson generated in the build directory (SMTPSH_BUILD_ROOT)."""
    root = os.environ.get("SMTPSH_BUILD_ROOT") or os.path.dirname(smtpsh_path())
    return os.path.join(root, rel)


def long_options():
    """The long option names of src/cli.c's long_options[] table."""
    src = read(os.path.join(REPO, "src", "cli.c"))
    m = re.search(r"long_options\[\]\s*=\s*\{(.*?)\n\};", src, re.S)
    if not m:
        raise AssertionError("src/cli.c: no long_options[] table")
    return set(re.findall(r'^\s*\{"([a-z0-9-]+)",', m.group(1), re.M))


def short_options():
    """The short options of src/cli.c's getopt string (letters, no colons)."""
    src = read(os.path.join(REPO, "src", "cli.c"))
    m = re.search(r'short_options\[\]\s*=\s*"([^"]*)"', src)
    if not m:
        raise AssertionError("src/cli.c: no short_options[] string")
    return set(c for c in m.group(1) if c != ":")


def local_commands():
    """The names of src/ui/meta.c's meta_commands[] table (without backslash)."""
    src = read(os.path.join(REPO, "src", "ui", "meta.c"))
    m = re.search(r"meta_commands\[\]\s*=\s*\{(.*?)\n\};", src, re.S)
    if not m:
        raise AssertionError("src/ui/meta.c: no meta_commands[] table")
    # {"name", ...} or {.name = "name", ...}
    return set(re.findall(r'^\s*\{(?:\.name\s*=\s*)?"([a-z0-9-]+)",', m.group(1), re.M))


def project_version():
    m = re.search(r"version:\s*'([^']+)'", read(os.path.join(REPO, "meson.build")))
    return m.group(1)
