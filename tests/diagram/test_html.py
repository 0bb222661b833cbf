#!/usr/bin/python3
"""smtpsh --diagram -o page.html, rendered by headless Chromium (Debian's chromium; as root it
needs --no-sandbox): the page's own script writes each arrow's getBoundingClientRect() into
data- attributes, --dump-dom hands the DOM back, and the test checks what a reader sees: one
arrow per event of the diagram, top to bottom in transcript order, each a link to its
transcript line shown beside it, and the TLS band covering exactly the arrows under TLS.

Usage: PYTHONPATH=tests/lib /usr/bin/python3 tests/diagram/test_html.py [PATH/TO/smtpsh]  (TAP)
"""

import html.parser
import os
import shutil
import subprocess
import tempfile
import unittest

from diagramlib import TRANSCRIPTS, commands_and_replies, squeeze
from smtpshtest import run_smtpsh, tap_main

LIBRARY = os.path.dirname(TRANSCRIPTS[0])


class Dom(html.parser.HTMLParser):
    """The elements of a dumped page that the test reads: arrows (with the link around
    them), TLS bands, transcript lines (id -> text), the text inside each arrow."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.arrows, self.bands, self.lines, self.scripts = [], [], {}, 0
        self.groups = []
        self.notes = {}  # side note text -> the data-line of its arrow
        self._note = None
        self._title = False
        self.root = {}
        self._href = None
        self._arrow = None
        self._depth = 0
        self._line = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "html":
            self.root = a
        if tag == "script":
            self.scripts += 1
        if tag == "title":
            self._title = True
        if tag == "a":
            self._href = a.get("href")
        cls = (a.get("class") or "").split()
        if tag == "g" and "arrow" in cls:
            self._arrow = dict(a, href=self._href, text="", kind=cls[1])
            self.arrows.append(self._arrow)
            self._depth = 0
        elif tag == "g" and self._arrow is not None:
            self._depth += 1
        if "group" in cls:
            self.groups.append(a)
        if tag == "rect" and "tls-band" in cls:
            self.bands.append(a)
        if tag == "g" and "notes" in cls:
            self._note = [a.get("data-line"), ""]
        if tag == "span" and "ln" in cls and a.get("id"):
            self._line = a["id"]
            self.lines[self._line] = ""

    def handle_endtag(self, tag):
        if tag == "title":
            self._title = False
        if tag == "g" and self._note is not None and self._arrow is None:
            self.notes[" ".join(self._note[1].split())] = self._note[0]
            self._note = None
        if tag == "g" and self._arrow is not None:
            if self._depth == 0:
                self._arrow = None
            else:
                self._depth -= 1
        if tag == "a":
            self._href = None
        if tag == "pre":
            self._line = None

    def handle_data(self, data):
        if self._note is not None:
            self._note[1] += data + " "
        if self._arrow is not None and not self._title:
            self._arrow["text"] += data
        if self._line is not None:
            self.lines[self._line] += data


def rect(el):
    return tuple(float(el["data-" + k]) for k in ("top", "bottom", "left", "right"))


class HtmlInChromium(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.chromium = shutil.which("chromium")
        if not cls.chromium:
            raise AssertionError("chromium not found (Debian package chromium: "
                                 "scripts/install-test-deps.sh)")
        cls.tmp = tempfile.mkdtemp(prefix="smtpsh-html-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def render(self, transcript):
        page = os.path.join(self.tmp, os.path.basename(transcript) + ".html")
        r = run_smtpsh(["--diagram", transcript, "-o", page])
        self.assertEqual(r.rc, 0, r.describe())
        with open(page, encoding="utf-8") as f:
            source = f.read()
        self.assertNotIn("http://", source.replace('xmlns="http://www.w3.org/2000/svg"', ""),
                         "a self-contained page: nothing to fetch")
        p = subprocess.run(
            [self.chromium, "--headless", "--no-sandbox", "--disable-gpu",
             "--user-data-dir=" + os.path.join(self.tmp, "profile"),
             "--window-size=1600,1200", "--dump-dom", "file://" + page],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120,
            universal_newlines=True)
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        dom = Dom()
        dom.feed(p.stdout)
        return dom

    def check_page(self, transcript):
        dom = self.render(transcript)
        self.assertEqual(dom.scripts, 1)
        measured = int(dom.root.get("data-measured", "-1"))
        self.assertEqual(measured, len(dom.arrows) + len(dom.bands) + len(dom.groups),
                         "the page's script measured every arrow, band and group")
        # the arrows: as many as the transcript has commands and replies (plus local events)
        wire = [a for a in dom.arrows if a["kind"] in ("send", "raw", "reply")]
        want = commands_and_replies(transcript)
        self.assertEqual(len(wire), len(want))
        for a, (kind, lines) in zip(wire, want):
            self.assertEqual(a["kind"], kind)
            self.assertIn(squeeze("".join(lines)), squeeze(a["text"]))
        # top to bottom in transcript order, none overlapping the next but the arrows of one
        # pipelined group, which cross (test_pipelined_arrows_overlap); a group ends above
        # what follows it
        rects = [rect(a) for a in dom.arrows]
        lines = [int(a["data-line"]) for a in dom.arrows]
        self.assertEqual(lines, sorted(lines))
        for k, ((t0, b0, _, _), (t1, b1, _, _)) in enumerate(zip(rects, rects[1:])):
            self.assertLess(t0, t1)
            g0, g1 = dom.arrows[k].get("data-group"), dom.arrows[k + 1].get("data-group")
            if g0 is None or g0 != g1:
                self.assertLessEqual(max(r[1] for r in rects[:k + 1]), t1)
        for a, (top, bottom, left, right) in zip(dom.arrows, rects):
            self.assertGreater(bottom - top, 10, "drawn: %r" % a)
            self.assertGreater(right - left, 50)
        # each arrow links to its line of the transcript beside it
        for a, (_, lines) in zip(wire, want):
            self.assertEqual(a["href"], "#l" + a["data-line"])
            self.assertIn(squeeze(lines[0]), squeeze(dom.lines[a["href"][1:]]))
        return dom, rects

    def test_every_curated_transcript(self):
        for path in TRANSCRIPTS:
            with self.subTest(path=os.path.basename(path)):
                self.check_page(path)

    def test_tls_band_extent(self):
        for name in ("02-starttls-auth-login", "03-implicit-tls-465", "01-plain-delivery"):
            with self.subTest(name=name):
                dom, rects = self.check_page(os.path.join(LIBRARY, name + ".transcript"))
                tls = [r for a, r in zip(dom.arrows, rects) if a["data-tls"] == "1"]
                plain = [r for a, r in zip(dom.arrows, rects)
                         if a["data-tls"] == "0" and a["kind"] in ("send", "reply", "raw",
                                                                   "content")]
                if name == "01-plain-delivery":
                    self.assertEqual(dom.bands, [])
                    self.assertEqual(tls, [])
                    continue
                self.assertEqual(len(dom.bands), 1)
                top, bottom, left, right = rect(dom.bands[0])
                self.assertGreater(len(tls), 5)
                # covers every arrow under TLS...
                self.assertLessEqual(top, min(r[0] for r in tls))
                self.assertGreaterEqual(bottom, max(r[1] for r in tls))
                for r in tls:
                    self.assertLessEqual(left, r[2])
                    self.assertGreaterEqual(right, r[3])
                # ...and exactly those: no plaintext arrow reaches into it
                for r in plain:
                    self.assertTrue(r[1] <= top or r[0] >= bottom,
                                    "a plaintext arrow %r inside the band %r" % (r, (top, bottom)))
                # the first TLS arrow starts right below the band's top, the last ends at its bottom
                self.assertLess(min(r[0] for r in tls) - top, 20)
                self.assertLess(bottom - max(r[1] for r in tls), 20)

    def test_pipelined_arrows_overlap(self):
        """a pipelined group: its commands leave the client one after another, each slanting
        down to the server; each reply leaves the server after its command landed and slants
        down to the client; the first replies leave while later commands are on their way
        (the arrows cross); the texts of the group do not overlap one another"""
        dom, rects = self.check_page(os.path.join(LIBRARY, "08-pipelining.transcript"))
        group = [(a, r) for a, r in zip(dom.arrows, rects) if a.get("data-group") == "1"]
        cmds = [(a, r) for a, r in group if a["kind"] == "send"]
        replies = [(a, r) for a, r in group if a["kind"] == "reply"]
        self.assertEqual([squeeze(a["text"]) for a, _ in cmds],
                         [squeeze(t) for t in ("MAIL FROM:<alice@example.test>",
                                               "RCPT TO:<bob@example.test>",
                                               "RCPT TO:<nobody@example.test>",
                                               "RCPT TO:<carol@example.test>", "DATA")])
        self.assertEqual([a["data-code"] for a, _ in replies],
                         ["250", "250", "550", "250", "354"])
        self.assertEqual(len(dom.groups), 1)
        self.assertEqual(dom.groups[0]["data-commands"], "5")
        self.assertIn("slant", dom.arrows[rects.index(cmds[0][1])]["class"])

        def wire(a):
            return float(a["data-wire-top"]), float(a["data-wire-bottom"])

        for a, _ in group:
            top, bottom = wire(a)
            self.assertGreater(bottom - top, 50, "a slanted line: %r" % a)
        # the commands leave one after another, and are all on the way at once: the last
        # leaves before the first lands
        leave = [wire(a)[0] for a, _ in cmds]
        land = [wire(a)[1] for a, _ in cmds]
        self.assertEqual(leave, sorted(leave))
        self.assertEqual(land, sorted(land))
        self.assertLess(leave[-1], land[0])
        # each reply leaves the server after its command landed, in order
        rleave = [wire(a)[0] for a, _ in replies]
        self.assertEqual(rleave, sorted(rleave))
        for (c, _), (r, _) in zip(cmds, replies):
            self.assertGreaterEqual(wire(r)[0], wire(c)[1])
        # the first reply leaves while the last command is still on its way: they cross
        self.assertLess(rleave[0], land[-1])
        # a command's text at the client's side, a reply's at the server's
        server_x = max(r[3] for _, r in replies)
        for a, r in replies:
            self.assertLess(abs(r[3] - server_x), 20, "a reply reaches the server: %r" % a)

    def test_server_side(self):
        """a server-side transcript (--serve --record): the page draws it like any other
        (every arrow, in order, linked to its line), the lanes named by address, and each
        diagnosis a side note beside its line"""
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data",
                            "server-side.transcript")
        dom, rects = self.check_page(path)
        self.assertIn("* bare LF at the end of this line", dom.notes)
        line = [a for a in dom.arrows if "RCPT TO:<teacher" in a["text"]][0]["data-line"]
        self.assertEqual(dom.notes["* bare LF at the end of this line"], line)

    def test_hostile_page(self):
        evil = os.path.join(self.tmp, "evil.transcript")
        with open(evil, "w", encoding="utf-8") as f:
            f.write("smtpsh-transcript 2\nhost: <img src=x onerror=alert(1)>\n\n"
                    "# </pre><script>document.title='pwned'</script>\n"
                    "<- 220 </svg><script>document.body.setAttribute('data-pwned','1')"
                    "</script>\n-> EHLO \"><svg onload=alert(2)>\n<- 250 ok\n")
        dom = self.render(evil)
        self.assertEqual(dom.scripts, 1, "no script injected")
        self.assertEqual(len(dom.arrows), 3)
        self.assertIn("</svg><script>document.body", dom.arrows[0]["text"])
        self.assertIn("# </pre><script>document.title='pwned'</script>", dom.lines["l4"])


if __name__ == "__main__":
    tap_main()
