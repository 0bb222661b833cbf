#!/usr/bin/python3
"""\\raw against a real Postfix: what Postfix 3.7 does with raw octets inside DATA. With
smtpd_forbid_bare_newline at its default (no, in 3.7), Postfix takes a bare LF as a line end,
so "\\n.\\n" ends the message early and what follows is read as commands: SMTP smuggling,
shown step by step. smtpsh sends the octets as typed, says it is out of step, shows each
reply as it arrives, and gets back in step at the final "." (its reply is the last one).

Usage: PYTHONPATH=tests/lib /usr/bin/python3 tests/integration/test_raw.py [NAME...]
Prints TAP. Starts (and always stops) its own Postfix lab; needs root and the packages of
scripts/install-test-deps.sh.
"""

import unittest

from lablib import ModuleLab
from smtpshtest import script, tap_main, token

LAB = ModuleLab()
setUpModule, tearDownModule = LAB.start, LAB.stop

SENDER = "sender@client.test"


class RawInData(unittest.TestCase):

    def assertExit(self, r, code):
        self.assertEqual(r.rc, code, "unexpected exit code\n" + r.describe())

    def test_bare_lf_dot_ends_the_message_and_smuggles_another(self):
        """\\raw \\n.\\n inside DATA: Postfix ends the message there and reads the rest as a
        second transaction; two messages are stored, each reply shown as it came"""
        tok = token()
        smuggled = ("\\n.\\nMAIL FROM:<%s>\\nRCPT TO:<bob@example.test>\\nDATA\\n"
                    "Subject: smuggled %s\\n\\nsmuggled body\\n" % (SENDER, tok))
        cmds = ["EHLO client.test", "MAIL FROM:<%s>" % SENDER, "RCPT TO:<alice@example.test>",
                "DATA", "Subject: first %s" % tok, "", "first body", "\\raw " + smuggled, ".",
                "QUIT"]
        r = LAB.smtpsh(["127.0.0.1", LAB.plain_port], script(cmds))
        self.assertExit(r, 0)
        out = r.stdout.splitlines()
        self.assertIn("-> \\n.\\nMAIL FROM:<%s>\\nRCPT TO:<bob@example.test>\\nDATA\\n"
                      "Subject: smuggled %s\\n\\nsmuggled body\\n  \t[raw, %d octets]"
                      % (SENDER, tok, len(smuggled.encode().decode("unicode_escape"))), out)
        self.assertIn("out of step", r.stderr)
        i = out.index(next(l for l in out if l.endswith("octets]")))
        after = out[i + 1:]
        # Postfix's replies in order: the first message queued (at "\n.\n"), MAIL, RCPT,
        # DATA of the smuggled one, and the "." that smtpsh sent ends the smuggled message.
        # When they come before smtpsh sends "." (a slow client: valgrind), they are shown
        # before it, unasked; otherwise after it, and the probe sorts them out.
        replies = [l for l in after[:after.index("-> QUIT")] if l.startswith("<- ")]
        self.assertEqual(len(replies), 5, r.describe())
        self.assertRegex(replies[0], r"^<- 250 2\.0\.0 Ok: queued as [0-9A-F]+$", r.describe())
        self.assertEqual(replies[1:4], ["<- 250 2.1.0 Ok", "<- 250 2.1.5 Ok",
                                        "<- 354 End data with <CR><LF>.<CR><LF>"], r.describe())
        self.assertRegex(replies[4], r"^<- 250 2\.0\.0 Ok: queued as [0-9A-F]+$")
        dot = after.index("-> .")
        self.assertLess(dot, after.index(replies[4]), r.describe())
        back = [l for l in after if l.startswith("*  back in step")]
        early = sum(1 for l in after[:dot] if l.startswith("<- "))
        late = 5 - early  # the replies shown after "." (the probe's), its own the last
        self.assertEqual(back, ["*  back in step: the reply (250) answers ."] if late == 1 else
                         ["*  back in step: the last reply (250) answers ., the %d before it "
                          "answered the raw bytes" % (late - 1)], r.describe())
        self.assertIn("<- 221 2.0.0 Bye", after)
        _, first = LAB.wait_for_message("alice", "first " + tok)
        _, second = LAB.wait_for_message("bob", "smuggled " + tok)
        # "first body\r\n" then "\n": an empty line, then the "." that ended it
        self.assertTrue(first.endswith(b"\n\nfirst body\n\n"), first[-200:])
        self.assertNotIn(b"smuggled", first)
        self.assertTrue(second.endswith(b"Subject: smuggled %s\n\nsmuggled body\n"
                                        % tok.encode()), second[-200:])


if __name__ == "__main__":
    tap_main()
