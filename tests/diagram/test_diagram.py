#!/usr/bin/python3
"""smtpsh --diagram with the real binary: the text ladder of every curated transcript fits 80
and 60 columns and holds every command and reply; the SVG is valid XML (xmllint) holding them
arrow by arrow; a hostile transcript renders as text; the command line refuses what does not
apply; the output file is written 0644 and never through a symbolic link.

Usage: PYTHONPATH=tests/lib /usr/bin/python3 tests/diagram/test_diagram.py [PATH/TO/smtpsh]  (TAP)
"""

import base64
import os
import shutil
import stat
import subprocess
import tempfile
import threading
import unittest
import xml.etree.ElementTree as ET

from diagramlib import TRANSCRIPTS, commands_and_replies, find_in_order, squeeze
from smtpshtest import run_smtpsh, tap_main

SVG = "{http://www.w3.org/2000/svg}"

# What a hostile transcript tries: markup, the end of the SVG, quotes, control bytes, a bidi
# override, entities; in every kind of line.
HOSTILE = """smtpsh-transcript 2
tool: <script>alert(1)</script>
host: evil"><svg onload=alert(2)>
port: 25

# </svg><script>alert(3)</script><a href="javascript:x">
*  connected to <b>bold</b> & "quoted" 'single'
<- 220 <script>alert(4)</script> </svg> \\x1b[31m red \\u{202E} &amp; ]]> <!-- x -->
-> EHLO "'><img src=x onerror=alert(5)>
<- 250 <?xml-stylesheet href="http://evil.example/x.css"?>
raw -> \\x00\\x01</text></g></svg>\\r\\n
!  warning: </title><script>alert(6)</script>
-> QUIT
<- 221 bye \ufffe
"""


def diagram(*args):
    return run_smtpsh(["--diagram"] + list(args))


class TextLadder(unittest.TestCase):

    def check_width(self, path, width):
        r = diagram(path, "--width", str(width))
        self.assertEqual(r.rc, 0, r.describe())
        rows = r.stdout.split("\n")
        widest = max(len(row) for row in rows)
        self.assertLessEqual(widest, width, "%s: a row is wider than %d columns:\n%s" % (
            os.path.basename(path), width, max(rows, key=len)))
        self.assertGreater(len(rows), 5)
        # every command and reply line, in order (wrapped rows joined again)
        want = [squeeze(line) for _, lines in commands_and_replies(path) for line in lines]
        missing = find_in_order(squeeze(r.stdout), want)
        self.assertIsNone(missing, "%s at %d columns: %r missing (or out of order)" % (
            os.path.basename(path), width, missing))

    def test_curated_80(self):
        self.assertGreater(len(TRANSCRIPTS), 10)
        for path in TRANSCRIPTS:
            with self.subTest(path=os.path.basename(path)):
                self.check_width(path, 80)

    def test_curated_60(self):
        for path in TRANSCRIPTS:
            with self.subTest(path=os.path.basename(path)):
                self.check_width(path, 60)

    def test_default_width_without_terminal(self):
        r = diagram(TRANSCRIPTS[0])
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(max(len(row) for row in r.stdout.split("\n")), 80)

    def test_tls_band_and_group(self):
        r = diagram(os.path.join(os.path.dirname(TRANSCRIPTS[0]),
                                 "02-starttls-auth-login.transcript"))
        self.assertIn("\u2550\u2550 TLSv1.3 TLS_AES_256_GCM_SHA384 \u2550", r.stdout)
        ehlo2 = [row for row in r.stdout.split("\n") if "EHLO client.example" in row]
        self.assertEqual(len(ehlo2), 2)
        self.assertFalse(ehlo2[0].startswith("\u2592"), "the first EHLO is plaintext")
        self.assertTrue(ehlo2[1].startswith("\u2592"), "the second is in the TLS band")

    def test_ascii(self):
        path = os.path.join(os.path.dirname(TRANSCRIPTS[0]), "02-starttls-auth-login.transcript")
        r = run_smtpsh(["--diagram", path, "--ascii", "--width", "60"])
        self.assertEqual(r.rc, 0, r.describe())
        self.assertTrue(all(b < 0x80 for b in r.stdout_bytes), "ASCII only")
        self.assertLessEqual(max(len(row) for row in r.stdout.split("\n")), 60)
        self.assertIn("# |-- EHLO client.example --", r.stdout)
        self.assertIn("|<- 220 2.0.0 Ready to start TLS --", r.stdout)
        want = [squeeze(line) for _, lines in commands_and_replies(path) for line in lines]
        self.assertIsNone(find_in_order(squeeze(r.stdout.replace("|", "")), want))

    def test_notes(self):
        path = os.path.join(os.path.dirname(TRANSCRIPTS[0]), "02-starttls-auth-login.transcript")
        self.assertNotIn("Everything said before", diagram(path).stdout)
        r = diagram(path, "--notes", "--width", "200")
        self.assertIn("# After 220, the TLS handshake runs on the same connection", r.stdout)
        self.assertNotIn("= 235:", r.stdout)

    def test_explain(self):
        """--explain: what each reply's code means, beside it (txt) or as its note (SVG)"""
        path = os.path.join(os.path.dirname(TRANSCRIPTS[0]), "06-unknown-recipient.transcript")
        r = diagram(path, "--explain", "--width", "200")
        self.assertEqual(r.rc, 0, r.describe())
        rows = r.stdout.split("\n")
        i = [k for k, row in enumerate(rows) if "550 5.1.1 <nobody@example.test>" in row][0]
        self.assertIn("= 550: permanent failure: mailbox unavailable", rows[i + 1])
        self.assertIn("5.1.1 bad destination mailbox address", rows[i + 1])
        r = diagram(path, "--explain", "--format", "svg")
        notes = ["".join("".join(t.itertext()) for t in g.iter(SVG + "text"))
                 for g in ET.fromstring(r.stdout_bytes).iter(SVG + "g")
                 if g.get("class") == "notes"]
        want = squeeze("550: permanent failure: mailbox unavailable (not found, no access, or "
                       "refused by policy); 5.1.1 bad destination mailbox address")
        self.assertIn(want, [squeeze(n) for n in notes])


PIPELINING = os.path.join(os.path.dirname(TRANSCRIPTS[0]), "08-pipelining.transcript")
GROUP_COMMANDS = ["MAIL FROM:<alice@example.test>", "RCPT TO:<bob@example.test>",
                  "RCPT TO:<nobody@example.test>", "RCPT TO:<carol@example.test>", "DATA"]
GROUP_REPLIES = ["250 2.1.0 Ok", "250 2.1.5 Ok", "550 5.1.1 <nobody@example.test>",
                 "250 2.1.5 Ok", "354 End data"]

# The glyphs of the text ladder: lifeline, down slant, up slant, crossing, head, left head.
UNICODE = dict(v="\u2502", down="\u2572", up="\u2571", cross="\u2573", right="\u25ba",
               left="\u25c4")
ASCII = dict(v="|", down="\\", up="/", cross="X", right=">", left="<")


class PipelinedGroup(unittest.TestCase):
    """A pipelined group in the text ladder: the commands leave the client on consecutive
    rows and slant down to the server, landing lower; each reply leaves the server after its
    command landed and slants down to the client; the first replies cross the last commands
    (a crossing cell, and a reply that left before the last command landed)."""

    def group(self, g, *args):
        """The rendered rows, and the rows of the group's commands and replies (in order)."""
        r = diagram(PIPELINING, *args)
        self.assertEqual(r.rc, 0, r.describe())
        rows = r.stdout.split("\n")
        at = []
        for text in GROUP_COMMANDS + GROUP_REPLIES:
            k = next((i for i in range(at[-1] + 1 if at else 0, len(rows))
                      if text in rows[i] and
                      (g["v"] + g["left"] in rows[i]) == (text in GROUP_REPLIES)), None)
            self.assertIsNotNone(k, "%r not found in order:\n%s" % (text, r.stdout))
            at.append(k)
        return r, rows, at[:len(GROUP_COMMANDS)], at[len(GROUP_COMMANDS):]

    def check(self, g, width, *extra):
        r, rows, cmds, replies = self.group(g, "--width", str(width), *extra)
        self.assertLessEqual(max(len(row) for row in rows), width, r.stdout)
        # the commands on consecutive rows, then their replies, each below the one before
        self.assertEqual(cmds, list(range(cmds[0], cmds[0] + len(cmds))), r.stdout)
        self.assertGreater(replies[0], cmds[-1], "the replies after all the commands")
        self.assertEqual(replies, sorted(replies))
        # the slants' strip: from where the first command's line turns down to the server's
        # lifeline (the last column of the row); flight: its columns but the head's
        first = rows[cmds[0]]
        strip = first.index(g["down"])
        life = first.rindex(g["v"])
        flight = life - strip - 1
        self.assertGreaterEqual(flight, 2, r.stdout)
        self.assertEqual(first[strip + 1:life], " " * flight, "only its own slant yet")

        def cell(row, col):
            return rows[row][col]

        for k, c in enumerate(cmds):
            # down to the server, one column a row, its head at the lifeline flight rows lower
            for s in range(flight):
                self.assertIn(cell(c + s, strip + s), (g["down"], g["cross"]),
                              "command %d, row %d of its slant:\n%s" % (k, s, r.stdout))
            self.assertEqual(cell(c + flight, life - 1), g["right"], "command %d lands" % k)
            self.assertEqual(rows[c][:strip].rstrip().endswith("\u2500" if g is UNICODE
                                                                 else "-"), True)
        left_at = []
        for j, a in enumerate(replies):
            # up from the client's side to beside the server's heads: its text on the row
            # where it arrives
            for s in range(flight):
                self.assertIn(cell(a - s, strip + s), (g["up"], g["cross"]),
                              "reply %d, %d rows above its arrival:\n%s" % (j, s, r.stdout))
            left = a - flight + 1  # the row it left the server
            self.assertGreater(left, cmds[j] + flight, "reply %d leaves after its command "
                               "landed:\n%s" % (j, r.stdout))
            left_at.append(left)
        # the crossing: the first reply leaves before the last command has landed, and a
        # cell of the strip shows two slants crossing
        self.assertLess(left_at[0], cmds[-1] + flight, r.stdout)
        crossings = [i for i in range(cmds[0], replies[-1] + 1)
                     if g["cross"] in rows[i][strip:life]]
        self.assertTrue(crossings, r.stdout)
        self.assertTrue(all(cmds[0] < i < replies[-1] for i in crossings))
        # every text of the group still there, in order
        want = [squeeze(t) for t in GROUP_COMMANDS + GROUP_REPLIES]
        text = "\n".join(row[:strip] for row in rows[cmds[0]:replies[-1] + 2])
        if g is ASCII:
            text = text.replace("|", "").replace("-", "")
        self.assertIsNone(find_in_order(squeeze(text), want), r.stdout)
        self.assertIn(squeeze("Recipient address rejected: User unknown in virtual mailbox "
                              "table"), squeeze(text))
        return r

    def test_unicode(self):
        for width in (80, 60):
            with self.subTest(width=width):
                r = self.check(UNICODE, width)
                self.assertNotIn("\u250c", r.stdout, "no bracket for a group drawn slanted")

    def test_narrowest(self):
        """at the narrowest ladder the commands wrap: still within the width, every text in
        order, the slants crossing"""
        for args in ([], ["--ascii"]):
            r = diagram(PIPELINING, "--width", "40", *args)
            self.assertEqual(r.rc, 0, r.describe())
            rows = r.stdout.split("\n")
            self.assertLessEqual(max(len(row) for row in rows), 40, r.stdout)
            g = ASCII if args else UNICODE
            self.assertTrue(any(g["cross"] in row for row in rows), r.stdout)
            strip = min(row.index(g["down"]) for row in rows if g["down"] in row)
            text = "\n".join(row[:strip] for row in rows)
            if args:
                text = text.replace("|", "").replace("-", "")
            want = [squeeze(t) for t in GROUP_COMMANDS + GROUP_REPLIES]
            self.assertIsNone(find_in_order(squeeze(text), want), r.stdout)

    def test_ascii(self):
        for width in (80, 60):
            with self.subTest(width=width):
                r = self.check(ASCII, width, "--ascii")
                self.assertTrue(all(b < 0x80 for b in r.stdout_bytes), "ASCII only")

    def test_explain_after_the_group(self):
        """--explain keeps the slants: what each reply means follows the group, in order"""
        r = self.check(UNICODE, 80, "--explain")
        rows = r.stdout.split("\n")
        last = max(i for i, row in enumerate(rows) if "354 End data" in row)
        below = "\n".join(rows[last + 1:])
        self.assertIsNone(find_in_order(below, ["= 250: success", "2.1.0", "2.1.5",
                                                "= 550: permanent failure", "= 250:",
                                                "= 354: intermediate"]), r.stdout)

    def test_timings_bracketed(self):
        """with --notes, a reply's timing belongs beside it: the group stays one arrow a row,
        bracketed"""
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "timed.transcript")
            with open(PIPELINING, encoding="utf-8") as f:
                text = f.read().replace("<- 250 2.1.0 Ok", "+12ms <- 250 2.1.0 Ok")
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            r = diagram(path, "--notes", "--width", "80")
            self.assertEqual(r.rc, 0, r.describe())
            rows = r.stdout.split("\n")
            top = [i for i, row in enumerate(rows) if row[1:2] == "\u250c"]
            bottom = [i for i, row in enumerate(rows) if row[1:2] == "\u2514"]
            self.assertEqual(len(top), 1, r.stdout)
            self.assertIn("MAIL FROM:<alice@example.test>", rows[top[0]])
            self.assertIn("354 End data", rows[bottom[0]])
            i = [k for k, row in enumerate(rows) if "250 2.1.0 Ok" in row][0]
            self.assertIn("+ 12 ms", rows[i + 1])
            # without --notes, the timing is not drawn: the group slants
            self.assertNotIn("\u250c", diagram(path, "--width", "80").stdout)


class Svg(unittest.TestCase):

    def render(self, path, *extra):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "d.svg")
            r = diagram(path, "-o", out, *extra)
            self.assertEqual(r.rc, 0, r.describe())
            self.assertEqual(r.stdout, "")
            lint = subprocess.run(["xmllint", "--noout", out], stderr=subprocess.PIPE,
                                  universal_newlines=True)
            self.assertEqual(lint.returncode, 0, "xmllint: %s" % lint.stderr)
            self.assertEqual(stat.S_IMODE(os.stat(out).st_mode), 0o644)
            return ET.parse(out).getroot()

    def test_curated(self):
        for path in TRANSCRIPTS:
            with self.subTest(path=os.path.basename(path)):
                root = self.render(path)
                self.assertEqual(root.tag, SVG + "svg")
                arrows = [g for g in root.iter(SVG + "g")
                          if "arrow" in g.get("class", "").split()]
                drawn = [(g.get("class").split()[1],
                          squeeze("".join("".join(t.itertext())
                                          for t in g.iter(SVG + "text"))))
                         for g in arrows if g.get("class").split()[1] in ("send", "raw", "reply")]
                want = [(kind, squeeze("".join(lines)))
                        for kind, lines in commands_and_replies(path)]
                self.assertEqual([k for k, _ in drawn], [k for k, _ in want],
                                 "one arrow per command and per reply, in order")
                for (kind, got), (_, text) in zip(drawn, want):
                    if kind == "raw":
                        text = "raw:" + text
                    self.assertIn(text, got)
                # readable when projected: no text smaller than 14px
                style = "".join(s.text for s in root.iter(SVG + "style"))
                sizes = [int(x) for x in __import__("re").findall(r"font-size:(\d+)px", style)]
                self.assertGreaterEqual(min(sizes), 14)
                # standalone: no external reference, no script
                for el in root.iter():
                    self.assertNotEqual(el.tag, SVG + "script")
                    for k, v in el.attrib.items():
                        self.assertFalse(k.endswith("href"), "%s=%s" % (k, v))

    def test_tls_band(self):
        root = self.render(os.path.join(os.path.dirname(TRANSCRIPTS[0]),
                                        "03-implicit-tls-465.transcript"))
        bands = [r for r in root.iter(SVG + "rect") if "tls-band" in r.get("class", "")]
        self.assertEqual(len(bands), 1)
        labels = ["".join(t.itertext()) for t in root.iter(SVG + "text")
                  if "label" in t.get("class", "")]
        self.assertIn("TLS", labels)
        self.assertTrue(any(l.startswith("TLSv1.") for l in labels), labels)
        self.assertTrue(any(l.startswith("TLS_") or "-" in l for l in labels[2:]), labels)

    def test_times_to_scale(self):
        """with timings (--timing), the space above a reply is the time it took"""
        with tempfile.TemporaryDirectory() as tmp:
            gaps = {}
            for timed in (True, False):
                src = os.path.join(tmp, "t.transcript")
                with open(src, "w") as f:
                    f.write("smtpsh-transcript 2\nhost: h\n\n")
                    for cmd, ms in (("EHLO a", 5), ("NOOP", 400), ("QUIT", 40)):
                        f.write("-> %s\n%s<- 250 ok\n" % (cmd, "+%dms " % ms if timed else ""))
                root = self.render(src)
                ys = [int(g.find(SVG + "line").get("y1")) for g in root.iter(SVG + "g")
                      if g.get("class", "").startswith("arrow ")]
                gaps[timed] = [b - a for a, b in zip(ys[0::2], ys[1::2])]
            self.assertEqual(len(set(gaps[False])), 1, "evenly spaced: %r" % gaps[False])
            even = gaps[False][0]
            self.assertEqual([g - even for g in gaps[True]], [2, 160, 16],
                             "5, 400 and 40 ms: the slowest gets 160 px")

    def test_injection(self):
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "evil.transcript")
            with open(src, "wb") as f:
                f.write(HOSTILE.encode("utf-8", "surrogateescape"))
            for fmt in ("svg", "html", "txt"):
                out = os.path.join(tmp, "evil." + fmt)
                r = diagram(src, "-o", out, "--notes")
                self.assertEqual(r.rc, 0, r.describe())
                data = open(out, "rb").read()
                self.assertNotIn(b"\x1b", data)
                self.assertNotIn(b"\x00", data)
                self.assertNotIn(b"\xe2\x80\xae", data, "no bidi override")
                if fmt != "txt":  # no XML character
                    self.assertNotIn(b"\xef\xbf\xbe", data, "no U+FFFE")
            root = self.render(src, "--notes")
            tags = {el.tag[len(SVG):] for el in root.iter()}
            self.assertLessEqual(tags, {"svg", "title", "style", "rect", "text", "line",
                                        "polygon", "g", "path"}, "no element injected")
            text = "".join("".join(t.itertext()) for t in root.iter(SVG + "text"))
            for shown in ("<script>alert(4)</script>", "</svg>", "\\x1b[31m",
                          "\\u{202E}", "&amp;", "]]>", "<!-- x -->",
                          "EHLO \"'><img src=x onerror=alert(5)>",
                          "<?xml-stylesheet href=\"http://evil.example/x.css\"?>",
                          "raw: \\x00\\x01</text></g></svg>\\r\\n",
                          "</title><script>alert(6)</script>", "\\u{FFFE}",
                          "</svg><script>alert(3)</script>", "<b>bold</b> & \"quoted\" 'single'"):
                self.assertIn(shown, text)
            html = open(os.path.join(tmp, "evil.html"), encoding="utf-8").read()
            self.assertEqual(html.count("<script"), 1, "only the page's own script")
            self.assertNotIn("<img", html)
            self.assertNotIn("<b>", html)
            self.assertIn("script-src 'sha256-", html)


class InTheShell(unittest.TestCase):
    """\\diagram [FILE] against the practice server: the session so far, from what a
    recording would hold (the secret redacted, content folded), recording or not."""

    def test_session_so_far(self):
        secret = base64.b64encode(b"\0alice@example.test\0S3cret-Pa55").decode()
        with tempfile.TemporaryDirectory() as tmp:
            svg, page = os.path.join(tmp, "s.svg"), os.path.join(tmp, "s.html")
            # the failed AUTH after the message: after one, the practice server refuses MAIL
            # until a login succeeds
            lines = ["EHLO client.example", "STARTTLS", "EHLO client.example",
                     "MAIL FROM:<a@example.test>",
                     "RCPT TO:<b@example.test>", "DATA", "Subject: drawn", ""]
            lines += ["body line %d" % i for i in range(1, 7)]
            lines += [".", "AUTH PLAIN " + secret, "\\diagram", "\\diagram " + svg, "\\diagram " + page, "QUIT"]
            r = run_smtpsh(["--practice", "-X"], stdin=("\n".join(lines) + "\n").encode(),
                           home=tmp, timeout=60)
            self.assertEqual(r.rc, 0, r.describe())
            ladder = [row for row in r.stdout.split("\n") if "\u2502" in row]
            self.assertGreater(len(ladder), 20, r.stdout)
            self.assertLessEqual(max(len(row) for row in ladder), 80)
            text = "\n".join(ladder)
            for shown in ("\u2500\u2500 EHLO client.example", "\u2500\u2500 STARTTLS",
                          "\u2550\u2550 TLSv1.3 ", "\u2500\u2500 AUTH PLAIN <redacted>",
                          "\u25c4\u2500 535 5.7.8", "\u2504\u2504 Subject: drawn",
                          "(4 more lines)", "\u2500\u2500 . "):
                self.assertIn(shown, text)
            self.assertNotIn(secret, text)
            self.assertNotIn("body line 6", text)
            for path in (svg, page):
                data = open(path, encoding="utf-8").read()
                self.assertNotIn(secret, data)
                self.assertIn("AUTH PLAIN &lt;redacted&gt;", data)
                self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o644)
            lint = subprocess.run(["xmllint", "--noout", svg], stderr=subprocess.PIPE,
                                  universal_newlines=True)
            self.assertEqual(lint.returncode, 0, lint.stderr)
            self.assertIn("diagram of ", r.stdout)
            # a name without a known extension: a local error, exit 2 in batch mode
            r = run_smtpsh(["-X"], stdin=b"\\diagram x.png\n", home=tmp)
            self.assertEqual(r.rc, 2, r.describe())
            self.assertIn("\\diagram: cannot tell the format from the name 'x.png'", r.stderr)


class CommandLine(unittest.TestCase):

    def test_refused(self):
        t = TRANSCRIPTS[0]
        for args, said in [
                (["--diagram", t, "localhost"], "a HOST does not go with it"),
                (["--diagram", t, "--record", "x"], "--record does not go with it"),
                (["--diagram", t, "--send"], "--send does not go with it"),
                (["--diagram", t, "--tls"], "--tls or --starttls does not go with it"),
                (["--diagram", t, "--timeout", "5"], "--timeout does not go with it"),
                (["--diagram", t, "--cafile", "ca.pem"], "--cafile does not go with it"),
                (["--diagram", t, "--from", "a@example.test"], "--from does not go with it"),
                (["--diagram", t, "-6"], "-4 or -6 does not go with it"),
                (["--diagram", t, "--mx"], "--mx does not go with it"),
                (["--diagram", t, "--resolver", "127.0.0.1"], "--resolver does not go with it"),
                (["--diagram", t, "--ocsp"], "--ocsp does not go with it"),
                (["--diagram", t, "--resume"], "--resume does not go with it"),
                (["--diagram", t, "--check"], "--check does not go with it"),
                (["--diagram", t, "--tls-min", "1.3"],
                 "a TLS control (--tls-min, --ciphers, --cert...) does not go with it"),
                (["-o", "x.svg", "localhost"], "-o goes with --diagram TRANSCRIPT"),
                (["--notes"], "--notes goes with --diagram TRANSCRIPT"),
                (["--diagram", t, "--format", "png"], "--format takes svg, html or txt"),
                (["--diagram", t, "-o", "x.png"], "cannot tell the format from the name"),
                (["--diagram", t, "--format", "svg", "--width", "90"],
                 "--width goes with the txt format"),
                (["--diagram", t, "--width", "10"], "--width takes a number of columns"),
                (["--diagram", t, "--ascii", "-o", "x.svg"], "--ascii goes with the txt format"),
                (["--ascii"], "--ascii goes with --diagram TRANSCRIPT"),
                (["--diagram", "/nonexistent/x.transcript"], "cannot read"),
        ]:
            with self.subTest(args=args):
                r = run_smtpsh(args)
                self.assertEqual(r.rc, 2, r.describe())
                self.assertIn(said, r.stderr)
                self.assertEqual(r.stdout, "")

    # what goes with --diagram (and --help, --version, which leave at once)
    APPLY = {"--diagram", "--output", "--format", "--width", "--notes", "--ascii", "--explain",
             "--no-rc", "--help", "--version"}

    def test_every_option_that_does_not_apply_is_refused(self):
        """--diagram draws and connects nowhere: every other option of --help is refused by
        name, never silently ignored (the table in src/cli.c must grow with each option)"""
        import re
        t = TRANSCRIPTS[0]
        work = tempfile.mkdtemp(prefix="smtpsh-diagram-opts-")
        self.addCleanup(shutil.rmtree, work, True)
        f = os.path.join(work, "file.txt")
        with open(f, "w") as fh:
            fh.write("x\n")
        values = {"--cafile": f, "--timeout": "5", "--ehlo": "client.test", "--file": f,
                  "--color": "never", "--theme": "light", "--profile": "office365",
                  "--record": os.path.join(work, "rec"), "--replay": f, "--replay-user": "u",
                  "--password-command": "true", "--oauth-token-command": "true",
                  "--oauth-login": "office365", "--from": "a@b.test", "--to": "c@d.test",
                  "--cc": "c@d.test", "--bcc": "c@d.test", "--subject": "s", "--body": "b",
                  "--body-file": f, "--attach": f, "--header": "X-A: b", "--notify": "NEVER",
                  "--ret": "FULL", "--envid": "x", "--auth": "PLAIN", "--user": "u",
                  "--sni": "localhost", "--proxy": "v1", "--proxy-from": "192.0.2.1:25",
                  "--resolver": "127.0.0.1", "--trust-anchor": f, "--role": "mx",
                  "--check-rcpt": "a@b.test", "--tls-min": "1.2", "--tls-max": "1.3",
                  "--ciphers": "HIGH", "--ciphersuites": "TLS_AES_128_GCM_SHA256",
                  "--groups": "X25519", "--cert": f, "--key": f,
                  "--key-password-command": "true", "--listen": "127.0.0.1",
                  "--maildir": os.path.join(work, "md"), "--script": f, "--like": "gmail",
                  "--tls-port": "2465", "--max-clients": "5", "--max-per-address": "5"}
        help_text = run_smtpsh(["--help"]).stdout
        names = sorted(set(re.findall(r"^ +(?:-\w, )?(--[a-z0-9-]+)", help_text, re.M)))
        self.assertGreater(len(names), 60, names)
        tried = 0
        for name in names:
            if name in self.APPLY:
                continue
            with self.subTest(option=name):
                r = run_smtpsh(["--diagram", t, "-o", os.path.join(work, "x.txt"), name] +
                               ([values[name]] if name in values else []))
                self.assertEqual(r.rc, 2, "%s: %s" % (name, r.describe()))
                self.assertFalse(os.path.exists(os.path.join(work, "x.txt")), name)
                self.assertRegex(r.stderr, r"does not go with it|goes with|takes")
                tried += 1
        self.assertGreater(tried, 50)

    def test_not_a_transcript(self):
        with tempfile.NamedTemporaryFile("w", suffix=".transcript") as f:
            f.write("hello\n")
            f.flush()
            r = diagram(f.name)
            self.assertEqual(r.rc, 2, r.describe())
            self.assertIn("smtpsh: --diagram:", r.stderr)

    def test_output_file(self):
        with tempfile.TemporaryDirectory() as tmp:
            target = os.path.join(tmp, "target")
            with open(target, "w") as f:
                f.write("keep me\n")
            link = os.path.join(tmp, "d.svg")
            os.symlink(target, link)
            r = diagram(TRANSCRIPTS[0], "-o", link)
            self.assertEqual(r.rc, 2, r.describe())
            self.assertIn("is a symbolic link", r.stderr)
            self.assertEqual(open(target).read(), "keep me\n")
            os.unlink(link)
            os.mkdir(os.path.join(tmp, "dir.svg"))
            r = diagram(TRANSCRIPTS[0], "-o", os.path.join(tmp, "dir.svg"))
            self.assertEqual(r.rc, 2, r.describe())
            self.assertIn("not a regular file", r.stderr)
            # an existing file is replaced whole, with mode 0644
            out = os.path.join(tmp, "d.txt")
            with open(out, "w") as f:
                f.write("x" * 100000)
            os.chmod(out, 0o600)
            r = diagram(TRANSCRIPTS[0], "-o", out, "--width", "70")
            self.assertEqual(r.rc, 0, r.describe())
            self.assertEqual(stat.S_IMODE(os.stat(out).st_mode), 0o644)
            text = open(out, encoding="utf-8").read()
            self.assertTrue(text.startswith("smtpsh transcript"), text[:100])
            self.assertEqual(max(len(row) for row in text.split("\n")), 70)
            self.assertEqual(sorted(os.listdir(tmp)), ["d.txt", "dir.svg", "target"],
                             "no temporary file left")

    def test_fifo_read_once(self):
        """a transcript from a FIFO: read once, the HTML page says the text is not shown
        (a second reading for the page would block for ever)"""
        with tempfile.TemporaryDirectory() as tmp:
            fifo = os.path.join(tmp, "t.fifo")
            os.mkfifo(fifo)
            feeder = threading.Thread(target=lambda: open(fifo, "wb").write(
                open(TRANSCRIPTS[0], "rb").read()))
            feeder.start()
            r = run_smtpsh(["--diagram", fifo, "--format", "html"], timeout=20)
            feeder.join(5)
            self.assertEqual(r.rc, 0, r.describe())
            self.assertIn("(the transcript is not shown: not a regular file)", r.stdout)
            self.assertIn("EHLO client.example", r.stdout)

    def test_format_option_to_stdout(self):
        r = diagram(TRANSCRIPTS[0], "--format", "svg")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertTrue(r.stdout.startswith("<?xml"))
        ET.fromstring(r.stdout_bytes)


SERVER_SIDE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data",
                           "server-side.transcript")
DIAGNOSES = {
    "HELO student.example":
        "* mistake: HELO, not EHLO: the server cannot list its extensions (RFC 5321 4.1.1.1)",
    "MAIL FROM: <student@example.test>":
        "* mistake: a blank after \"FROM:\" (RFC 5321 4.1.2 allows none)",
    "RCPT TO:<teacher@example.test>": "* bare LF at the end of this line",
}


class ServerSide(unittest.TestCase):
    """A server-side transcript (--serve --record: "perspective: server", "peer:"): the lanes
    named by the client's address and the server's, the teacher view's "*" diagnoses drawn
    as side notes of the line they are about, in svg, html and txt."""

    def test_svg(self):
        r = diagram(SERVER_SIDE, "--format", "svg")
        self.assertEqual(r.rc, 0, r.describe())
        root = ET.fromstring(r.stdout_bytes)
        texts = lambda el: "".join("".join(t.itertext()) for t in el.iter(SVG + "text"))
        actors = [t.text for t in root.iter(SVG + "text") if t.get("class") == "actor"]
        self.assertEqual(actors, ["127.0.0.1 port 54321", "smtpsh --serve 127.0.0.1 2525"])
        title = [t.text for t in root.iter(SVG + "text") if t.get("class") == "title"][0]
        self.assertEqual(title, "SMTP session at smtpsh --serve 127.0.0.1 2525 from 127.0.0.1 "
                         "port 54321, 2026-12-07T14:00:00Z")
        arrows = [g for g in root.iter(SVG + "g") if "arrow" in (g.get("class") or "")]
        notes = {g.get("data-line"): squeeze(texts(g)) for g in root.iter(SVG + "g")
                 if g.get("class") == "notes"}
        # each diagnosis beside its line, and nowhere between the lifelines
        for command, said in DIAGNOSES.items():
            a = [g for g in arrows if squeeze(texts(g)) == squeeze(command)]
            self.assertEqual(len(a), 1, command)
            self.assertEqual(notes.get(a[0].get("data-line")), squeeze(said), notes)
        self.assertEqual(len(notes), 3, notes)
        self.assertFalse(any("mistake" in texts(g) or "bare LF" in texts(g) for g in arrows))
        # the connection's events stay where they happen; TLS is shaded as in a client's
        local = [texts(g) for g in arrows if "local" in g.get("class")]
        self.assertEqual(local, ["* connection from 127.0.0.1 port 54321",
                                 "* TLSv1.3 TLS_AES_256_GCM_SHA384", "* connection closed"])
        bands = [e for e in root.iter(SVG + "rect") if "tls-band" in (e.get("class") or "")]
        self.assertEqual(len(bands), 1)
        # the client's words are text, escaped
        self.assertIn('Subject: <b>hello</b> & "goodbye"', texts(root))
        lint = subprocess.run(["xmllint", "--noout", "-"], input=r.stdout_bytes,
                              stderr=subprocess.PIPE)
        self.assertEqual(lint.returncode, 0, lint.stderr)

    def test_txt(self):
        for width in (80, 60):
            with self.subTest(width=width):
                r = diagram(SERVER_SIDE, "--width", str(width))
                self.assertEqual(r.rc, 0, r.describe())
                rows = r.stdout.split("\n")
                self.assertLessEqual(max(len(row) for row in rows), width, r.stdout)
                self.assertTrue(rows[0].startswith("smtpsh transcript (server side): "
                                                   "127.0.0.1 port 2525"), rows[0])
                self.assertTrue(rows[1].startswith("  127.0.0.1 port 54321 "), rows[1])
                self.assertIn("smtpsh --serve 127.0.0.1", rows[1])
                # the diagnosis right under its line, before the reply
                i = [k for k, row in enumerate(rows) if "HELO student.example" in row][0]
                self.assertEqual(rows[i + 1][2:8], "\u2502   * ", rows[i + 1])
                self.assertIn("mistake: HELO, not EHLO", rows[i + 1])
                j = [k for k, row in enumerate(rows) if "250 localhost" in row][0]
                self.assertGreater(j, i + 1)
                self.assertTrue(all("* " in rows[k] for k in range(i + 1, j)), rows[i:j])
                i = [k for k, row in enumerate(rows) if "RCPT TO:<teacher" in row][0]
                self.assertIn("   * bare LF at the end of this line", rows[i + 1])
                self.assertIn("\u2502 * connection from 127.0.0.1 port 54321", r.stdout)
                want = [squeeze(line) for _, lines in commands_and_replies(SERVER_SIDE)
                        for line in lines]
                self.assertIsNone(find_in_order(squeeze(r.stdout), want))

    def test_client_transcript_lanes_unchanged(self):
        r = diagram(TRANSCRIPTS[0], "--width", "80")
        self.assertEqual(r.stdout.split("\n")[1], "  client" + " " * 66 + "server")

    def test_unknown_perspective_refused(self):
        path = os.path.join(tempfile.mkdtemp(prefix="smtpsh-persp-"), "x.transcript")
        with open(path, "w") as f:
            f.write("smtpsh-transcript 2\nperspective: relay\n\n-> NOOP\n<- 250 ok\n")
        r = diagram(path, "--width", "80")
        self.assertEqual(r.rc, 2, r.describe())
        self.assertIn('perspective is "client" or "server"', r.stderr)
        shutil.rmtree(os.path.dirname(path), ignore_errors=True)


if __name__ == "__main__":
    tap_main()
