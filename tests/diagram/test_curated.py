#!/usr/bin/python3
"""The diagrams of the curated transcripts: `ninja -C build diagrams` (transcripts/meson.build)
draws one SVG per transcript of transcripts/, each valid XML, and transcripts/diagrams/ holds
the same files (the README links them): none missing, none out of date, none left over.

Usage: PYTHONPATH=tests/lib /usr/bin/python3 tests/diagram/test_curated.py  (TAP; meson builds
the diagrams first and sets SMTPSH_BUILD_ROOT)
"""

import os
import subprocess
import unittest

from diagramlib import TRANSCRIPTS
from smtpshtest import REPO, tap_main

COMMITTED = os.path.join(REPO, "transcripts", "diagrams")


def built_dir():
    root = os.environ.get("SMTPSH_BUILD_ROOT") or os.path.join(REPO, "build")
    return os.path.join(root, "transcripts")


class CuratedDiagrams(unittest.TestCase):

    def test_every_transcript_drawn_and_committed(self):
        names = sorted(os.path.basename(p)[:-len(".transcript")] + ".svg" for p in TRANSCRIPTS)
        self.assertGreater(len(names), 10)
        built = sorted(f for f in os.listdir(built_dir()) if f.endswith(".svg"))
        self.assertEqual(built, names, "transcripts/meson.build draws every transcript "
                         "(a new one must be added to its list)")
        committed = sorted(f for f in os.listdir(COMMITTED) if f.endswith(".svg"))
        self.assertEqual(committed, names, "transcripts/diagrams/ holds one per transcript")
        for name in names:
            with self.subTest(name=name):
                path = os.path.join(built_dir(), name)
                lint = subprocess.run(["xmllint", "--noout", path], stderr=subprocess.PIPE,
                                      universal_newlines=True)
                self.assertEqual(lint.returncode, 0, lint.stderr)
                with open(path, "rb") as a, open(os.path.join(COMMITTED, name), "rb") as b:
                    self.assertTrue(a.read() == b.read(),
                                    "transcripts/diagrams/%s is out of date: ninja -C build "
                                    "diagrams && cp build/transcripts/*.svg "
                                    "transcripts/diagrams/" % name)


if __name__ == "__main__":
    tap_main()
