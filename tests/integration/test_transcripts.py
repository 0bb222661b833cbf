#!/usr/bin/python3
"""Transcripts against a real Postfix: every curated transcript of transcripts/
replays with the same reply codes; a changed code is found and named; hidden
secrets stop a replay or are supplied; a recorded session replays as it was.

Usage: PYTHONPATH=tests/lib /usr/bin/python3 tests/integration/test_transcripts.py
       [PATH/TO/smtpsh] [NAME...]
Prints TAP. Starts (and always stops) its own Postfix lab in a temp dir, with
the small-limit listener for 07-message-too-big; needs root and the packages of
scripts/install-test-deps.sh.
"""

import os
import re
import sys
import unittest

sys.dont_write_bytecode = True
from lablib import ModuleLab, split_delivered
from smtpshtest import split_notes, tap_main, token
import curated

LAB = ModuleLab(small_limit=curated.SMALL_LIMIT)
setUpModule, tearDownModule = LAB.start, LAB.stop


smtpsh = LAB.smtpsh


def tmpfile(name, text=None):
    path = os.path.join(LAB.home, name)
    if text is not None:
        with open(path, "w") as f:
            f.write(text)
    return path


def replay(path, listener, password=None, extra=(), user=curated.REPLAY_USER):
    """smtpsh --replay PATH against the lab's LISTENER."""
    args = ["--replay", path, "--cafile", LAB.cafile] + list(extra)
    env = {}
    if password:
        args += ["--replay-user", user]
        env["SMTPSH_REPLAY_PASSWORD"] = (LAB.password if password == "good"
                                         else curated.WRONG_PASSWORD)
    return smtpsh(args + ["localhost", LAB.port(listener)], env=env)


def read(path):
    with open(path) as f:
        return f.read()


class Library(unittest.TestCase):
    """transcripts/: each one replays against Postfix with every code as recorded."""

    def assertExit(self, r, code):
        self.assertEqual(r.rc, code, "unexpected exit code\n" + r.describe())


def _make_library_test(name, listener, std, options, password):
    def test(self):
        path = curated.transcript_path(name)
        text = read(path)
        # a curated transcript: header with the standard port, comments, no secret
        self.assertRegex(text, r"\Asmtpsh-transcript [12]\n", name)
        self.assertIn("\nport: %d\n" % std, text)
        self.assertIn("\n# ", text, "a curated transcript explains itself")
        for secret in (LAB.password, "TGFiLXBhc3MtNDcxMQ==",
                       "AGFsaWNlQGV4YW1wbGUudGVzdABMYWItcGFzcy00NzEx",
                       "YWxpY2VAZXhhbXBsZS50ZXN0"):
            self.assertNotIn(secret, text, "%s holds a secret" % name)
        r = replay(path, listener, password)
        self.assertExit(r, 0)
        self.assertRegex(r.stdout, r"\*  replay: \d+ replies compared, all as recorded")
        self.assertNotIn("!  replay", r.stderr, r.describe())
        # the comments are shown, for a class
        first = next(l for l in text.split("\n\n", 1)[1].split("\n") if l.startswith("# "))
        self.assertIn("#  " + first[2:], r.stdout)
    test.__doc__ = "replay transcripts/%s.transcript against Postfix: codes as recorded" % name
    return test


for _entry in curated.CURATED:
    setattr(Library, "test_" + _entry[0].replace("-", "_"), _make_library_test(*_entry))


class Replay(unittest.TestCase):

    def assertExit(self, r, code):
        self.assertEqual(r.rc, code, "unexpected exit code\n" + r.describe())

    def test_changed_code_is_reported(self):
        """a deliberately changed reply code: exit 1, '!  replay: line N: expected X, got Y'"""
        lines = read(curated.transcript_path("06-unknown-recipient")).split("\n")
        n = lines.index("<- 250 2.1.5 Ok")  # bob's RCPT
        lines[n] = "<- 550 2.1.5 Ok"
        path = tmpfile("changed.transcript", "\n".join(lines))
        r = replay(path, "plain")
        self.assertExit(r, 1)
        self.assertIn("!  replay: line %d: expected 550, got 250 (RCPT TO:<bob@example.test>)"
                      % (n + 1), r.stderr)
        self.assertEqual(len(re.findall(r"!  replay: line", r.stderr)), 1, r.describe())
        self.assertIn("!  replay: 1 of ", r.stderr)
        # the rest was played on: the message went out, QUIT was said
        self.assertIn("-> QUIT", r.stdout)

    def test_changed_greeting_and_dot(self):
        """a changed greeting and end-of-DATA code are found too, each with its line"""
        lines = read(curated.transcript_path("01-plain-delivery")).split("\n")
        g = next(i for i, l in enumerate(lines) if l.startswith("<- 220 "))
        d = next(i for i, l in enumerate(lines) if l.startswith("<- 250 2.0.0 Ok: queued"))
        lines[g] = "<- 421 busy"
        lines[d] = "<- 451 4.3.0 later"
        r = replay(tmpfile("changed2.transcript", "\n".join(lines)), "plain")
        self.assertExit(r, 1)
        self.assertIn("line %d: expected 421, got 220 (the greeting)" % (g + 1), r.stderr)
        self.assertIn("line %d: expected 451, got 250 (the end of DATA)" % (d + 1), r.stderr)

    def test_redacted_secret_stops_clearly(self):
        """a hidden AUTH secret without --replay-user: stop there, exit 2, nothing after"""
        r = replay(curated.transcript_path("02-starttls-auth-login"), "submission")
        self.assertExit(r, 2)
        self.assertIn("the transcript hides the AUTH secret here (<redacted>): give "
                      "--replay-user USER", r.stderr)
        self.assertNotIn("MAIL FROM", r.stdout, r.describe())

    def test_skip_auth(self):
        """--replay-skip-auth leaves the AUTH exchange out and goes on"""
        r = replay(curated.transcript_path("02-starttls-auth-login"), "submission",
                   extra=["--replay-skip-auth"])
        self.assertExit(r, 0)
        self.assertIn("left out (--replay-skip-auth)", r.stdout)
        self.assertNotIn("~> AUTH", r.stdout)
        self.assertIn("~> MAIL FROM:<alice@example.test>", r.stdout)

    def test_wrong_password_differs(self):
        """the login transcript replayed with a wrong password: 535 where 235 was"""
        r = replay(curated.transcript_path("02-starttls-auth-login"), "submission", "wrong")
        self.assertExit(r, 1)
        self.assertRegex(r.stderr, r"expected 235, got 535 \(<redacted>\)")
        self.assertNotIn(curated.WRONG_PASSWORD, r.stdout + r.stderr)

    def test_no_password_on_screen(self):
        """replaying a login: the password and its base64 never reach the screen"""
        r = replay(curated.transcript_path("03-implicit-tls-465"), "smtps", "good")
        self.assertExit(r, 0)
        self.assertIn("~> AUTH PLAIN <redacted>", r.stdout)
        for secret in (LAB.password, "AGFsaWNlQGV4YW1wbGUudGVzdABMYWItcGFzcy00NzEx"):
            self.assertNotIn(secret, r.stdout + r.stderr)

    def test_tls_missing_stops(self):
        """lines recorded under TLS are never sent in plaintext (STARTTLS refused)"""
        text = read(curated.transcript_path("02-starttls-auth-login"))
        # the plain port offers no STARTTLS: 502, and the next line was sent under TLS
        r = replay(tmpfile("tls.transcript", text), "plain", "good")
        self.assertExit(r, 1)
        self.assertIn("was sent under TLS in the recording, but this connection is not "
                      "encrypted", r.stderr)
        self.assertNotIn("~>", r.stdout)
        self.assertNotIn("-> AUTH", r.stdout)

    def test_header_host_and_explicit_host(self):
        """no HOST on the command line and none in the header: exit 2 with a reason"""
        text = read(curated.transcript_path("05-relay-denied")).replace("host: localhost\n", "")
        path = tmpfile("nohost.transcript", text)
        r = smtpsh(["--replay", path])
        self.assertExit(r, 2)
        self.assertIn("names no host", r.stderr)

    def test_not_a_transcript(self):
        """a file that is not a transcript: exit 2, the reason named"""
        r = smtpsh(["--replay", tmpfile("x.transcript", "EHLO me\nQUIT\n"), "localhost",
                    LAB.plain_port])
        self.assertExit(r, 2)
        self.assertIn("not an smtpsh transcript", r.stderr)


class RecordReplay(unittest.TestCase):

    def assertExit(self, r, code):
        self.assertEqual(r.rc, code, "unexpected exit code\n" + r.describe())

    def test_record_then_replay_same_message(self):
        """record a session (--timing, --pipeline, a 300-line \\file), replay it: every
        code as recorded, and the replayed message arrives byte for byte"""
        tok = token()
        body = ["line %03d%s" % (i, " ." if i % 5 else "") for i in range(300)]
        body[7] = ".starts with a dot"
        path = tmpfile("body.txt", "\n".join(body) + "\n")
        cmds = ["EHLO client.test", "MAIL FROM:<alice@example.test>",
                "RCPT TO:<nobody@example.test>", "RCPT TO:<bob@example.test>", "DATA",
                "Subject: record " + tok, "", "\\file " + path, ".", "QUIT"]
        rec = tmpfile("rec.transcript")
        r = smtpsh(["--record", rec, "--timing", "--pipeline", "127.0.0.1", LAB.plain_port],
                   "\n".join(cmds) + "\n")
        self.assertExit(r, 0)
        text = read(rec)
        self.assertRegex(text, r"\n\+\d+ms <- 250 2\.1\.0 Ok\n", "elapsed times recorded")
        self.assertIn("\np1/4 -> MAIL FROM:<alice@example.test>\n", text)
        self.assertIn("\n-> line 299 .\n", text, "lines past the screen's limit are recorded")
        self.assertIn("\n-> ..starts with a dot\n", text)
        # RFC 2920: the end of the message and QUIT leave in one write
        self.assertIn("\np1/2 -> .\np2/2 -> QUIT\n", text)
        _, first = LAB.wait_for_message("bob", tok)
        os.unlink(_)
        r = smtpsh(["--replay", rec, "--explain"])  # host and port from the header
        self.assertExit(r, 0)
        self.assertRegex(r.stdout, r"replay: 8 replies compared, all as recorded")
        self.assertIn("[reply to 2/4: RCPT TO:<nobody@example.test>]", r.stdout)
        _, second = LAB.wait_for_message("bob", tok)
        self.assertEqual(split_delivered(second)[1], split_delivered(first)[1])

    def test_record_file_lines_across_chunks(self):
        """\\file read in 64 KiB chunks: every line is recorded whole, also those cut by a
        chunk's end, a line over 4096 bytes is summarised and the lines after it are intact;
        the message arrives byte for byte"""
        tok = token()
        lines = ["Subject: chunks " + tok, ""]
        i = 0
        while sum(len(l) + 1 for l in lines) < 3 * 65536:
            n = (i * 37) % 151
            lines.append((".dot %05d-" % i if i % 11 == 0 else "line %05d-" % i) + "x" * n)
            if i == 500:
                lines.append("long " + "y" * 6000)
            i += 1
        path = tmpfile("chunks.txt", "\n".join(lines) + "\n")
        rec = tmpfile("chunks.transcript")
        r = smtpsh(["--record", rec, "127.0.0.1", LAB.plain_port],
                   "EHLO client.test\nMAIL FROM:<alice@example.test>\n"
                   "RCPT TO:<bob@example.test>\nDATA\n\\file %s\n.\nQUIT\n" % path)
        self.assertEqual(r.rc, 0, r.describe())
        sent = [l[3:] for l in read(rec).split("\n") if l.startswith("-> ") or l == "->"]
        body = sent[sent.index("DATA") + 1:sent.index(".")]
        want = []
        for l in lines:
            l = "." + l if l.startswith(".") else l
            if len(l) > 4096:
                l = l[:4096] + " [... %d more bytes]" % (len(l) - 4096)
            want.append(l)
        self.assertEqual(len(body), len(want))
        self.assertEqual(body, want)
        _, data = LAB.wait_for_message("bob", tok)
        self.assertEqual(split_delivered(data)[1], ("\n".join(lines) + "\n").encode())

    def test_screen_annotations(self):
        """annotations sit beside the wire text, after two blanks and a TAB"""
        r = smtpsh(["--explain", "127.0.0.1", LAB.plain_port],
                   "EHLO x\nMAIL FROM:<a@example.test>\nRCPT TO:<x@elsewhere.invalid>\nQUIT\n")
        self.assertExit(r, 0)
        line = next(l for l in r.stdout.split("\n") if l.startswith("<- 554 "))
        text, notes = split_notes(line)
        self.assertEqual(text, "<- 554 5.7.1 <x@elsewhere.invalid>: Relay access denied")
        self.assertTrue(notes[0].startswith("hint: relay denied"), notes)
        self.assertEqual(notes[1], "permanent failure: transaction failed (as a greeting: no "
                         "SMTP service here); 5.7.1 delivery not authorized, message refused")


if __name__ == "__main__":
    tap_main()
