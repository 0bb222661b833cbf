#!/usr/bin/python3
"""The documentation holds together: the README is a front page that links to the guides in
docs/, every relative link of the Markdown files (README, docs/, transcripts/, the READMEs
under tests/) names a file that exists and, after a '#', a heading of that file (the anchor
GitHub makes of it), and the man page points to the guides.

Usage: PYTHONPATH=tests/lib /usr/bin/python3 tests/tool/test_docs.py  (TAP)
"""

import os
import re
import unittest

from smtpshtest import smtpsh_path, tap_main
from tooltest import REPO, read

GUIDES = ["docs/teaching.md", "docs/debugging.md", "docs/tls.md", "docs/reference.md",
          "docs/SECURITY.md"]

# [text](target) outside code; images too. Targets with a scheme are not ours to check.
LINK = re.compile(r"\[(?:[^\]\\]|\\.)*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```[^\n]*$", re.M | re.S)
CODE_SPAN = re.compile(r"`[^`\n]*`")


def markdown_files():
    files = ["README.md"]
    for d in ("docs", "transcripts"):
        files += [os.path.join(d, f) for f in sorted(os.listdir(os.path.join(REPO, d)))
                  if f.endswith(".md")]
    tests = os.path.join(REPO, "tests")
    for d in sorted(os.listdir(tests)):
        if os.path.isfile(os.path.join(tests, d, "README.md")):
            files.append(os.path.join("tests", d, "README.md"))
    return files


def slug(heading):
    """The anchor GitHub gives a heading: lower case, markup and punctuation dropped, blanks
    turned into hyphens (hyphens and underscores kept)."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    text = text.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path):
    text = FENCE.sub("", read(path))
    seen, result = {}, set()
    for m in re.finditer(r"^#{1,6} +(.*?) *#*$", text, re.M):
        s = slug(m.group(1))
        n = seen.get(s, 0)
        seen[s] = n + 1
        result.add(s if n == 0 else "%s-%d" % (s, n))
    return result


def links(path):
    text = CODE_SPAN.sub("", FENCE.sub("", read(path)))
    return [m.group(1) for m in LINK.finditer(text)]


class Docs(unittest.TestCase):

    def test_slug(self):
        """the anchors are made as GitHub makes them (the link check relies on it)"""
        self.assertEqual(slug("Transcripts: record, replay, teach"),
                         "transcripts-record-replay-teach")
        self.assertEqual(slug("`--serve`: a server for your own client"),
                         "--serve-a-server-for-your-own-client")
        self.assertEqual(slug("Batch mode and `--strict`"), "batch-mode-and---strict")
        self.assertEqual(slug("535, 554, 550 5.7.x: what to look at"),
                         "535-554-550-57x-what-to-look-at")

    def test_links_resolve(self):
        """every relative link names an existing file, and its #anchor a heading there"""
        bad = []
        for f in markdown_files():
            for target in links(os.path.join(REPO, f)):
                if re.match(r"^[a-z][a-z0-9+.-]*:", target):
                    continue  # https:, mailto:
                path, _, anchor = target.partition("#")
                dest = os.path.normpath(os.path.join(REPO, os.path.dirname(f), path)) \
                    if path else os.path.join(REPO, f)
                if not os.path.exists(dest):
                    bad.append("%s: %s: no such file" % (f, target))
                elif anchor and dest.endswith(".md") and anchor not in anchors(dest):
                    bad.append("%s: %s: no such heading" % (f, target))
        self.assertEqual(bad, [], "\n".join(bad))

    def test_readme_is_a_front_page(self):
        """the README: a few hundred lines, both quick-start commands, a link to each guide"""
        readme = read(os.path.join(REPO, "README.md"))
        self.assertLessEqual(len(readme.splitlines()), 300)
        for command, script in (("bash scripts/quickstart", "scripts/quickstart"),
                                ("bash tests/run", "tests/run")):
            self.assertRegex(readme, r"(?m)^    %s$" % re.escape(command))
            self.assertTrue(os.path.isfile(os.path.join(REPO, script)), script)
        for guide in GUIDES:
            self.assertIn("](%s" % guide, readme, "the README does not link %s" % guide)
        self.assertIn("\n## Layout\n", readme)

    def test_quick_start_manual_and_progress(self):
        """after the quick start's build the manual can be read as the README says (the
        page the build makes), and the quick start shows the build's progress"""
        readme = read(os.path.join(REPO, "README.md"))
        self.assertIn("`man ./build/doc/smtpsh.1`", readme)
        script = read(os.path.join(REPO, "scripts", "quickstart"))
        self.assertIn("man ./build/doc/smtpsh.1", script)
        self.assertRegex(script, r"(?m)^\s*ninja -C build$")  # not silenced: [N/M] shown
        self.assertNotRegex(script, r"ninja[^\n]*>\s*/dev/null")
        page = os.path.join(os.path.dirname(smtpsh_path()), "doc", "smtpsh.1")
        self.assertTrue(os.path.isfile(page), page)
        self.assertRegex(read(page), r"(?m)^\.TH SMTPSH 1 ")

    def test_guides_link_each_other(self):
        """each guide links back to the README and to the reference"""
        for guide in GUIDES[:-1]:
            text = read(os.path.join(REPO, guide))
            self.assertIn("](../README.md)", text, guide)
            if guide != "docs/reference.md":
                self.assertIn("](reference.md", text, guide)

    def test_man_page_sees_the_guides(self):
        """the man page's SEE ALSO names the guides"""
        man = read(os.path.join(REPO, "doc", "smtpsh.1.in"))
        m = re.search(r"^\.SH SEE ALSO$(.*)", man, re.M | re.S)
        self.assertTrue(m, "no SEE ALSO section")
        for guide in GUIDES:
            self.assertIn(guide, re.sub(r"\\[&%]", "", m.group(1)), guide)


if __name__ == "__main__":
    tap_main()
