#!/usr/bin/python3
"""smtpsh against a real Postfix: plain SMTP delivery, \\file bodies, --strict,
connection failures, IPv4/IPv6.

Usage: PYTHONPATH=tests/lib /usr/bin/python3 tests/integration/test_delivery.py
       [PATH/TO/smtpsh] [NAME...]
Prints TAP. Starts (and always stops) its own Postfix lab in a temp dir;
needs root and the packages of scripts/install-test-deps.sh.
"""

import os
import sys
import unittest

sys.dont_write_bytecode = True
from lablib import ModuleLab, split_delivered
from smtpshtest import (display, dot_stuff, exchanges, free_port, has_ipv6_loopback, run_smtpsh,
                        script, tap_main, token)

LAB = ModuleLab()
setUpModule, tearDownModule = LAB.start, LAB.stop


smtpsh = LAB.smtpsh


LONG_LINE = "long:" + "".join("%03d-abcdefgh" % i for i in range(75))  # 905 chars

SENDER = "sender@client.test"


class PlainDelivery(unittest.TestCase):

    def assertExit(self, r, code):
        self.assertEqual(r.rc, code, "unexpected exit code\n" + r.describe())

    def check_prepended(self, headers, rcpt, helo="client.test", addr="127.0.0.1"):
        self.assertEqual(headers[0], ("Return-Path: <%s>" % SENDER).encode())
        self.assertEqual(headers[1], ("X-Original-To: %s" % rcpt).encode())
        self.assertEqual(headers[2], ("Delivered-To: %s" % rcpt).encode())
        self.assertTrue(headers[3].startswith(
            ("Received: from %s (unknown [%s])\n\tby lab.example.test (Postfix)"
             % (helo, addr)).encode()), headers[3])

    def check_wire(self, r, expected_sent):
        """The sent lines shown (marker ->) equal EXPECTED_SENT, every
        command got a complete reply, body lines none."""
        self.assertEqual([m for m, _ in r.sent()], ["->"] * len(r.sent()), r.describe())
        self.assertEqual(r.sent_text(), expected_sent, r.describe())
        self.assertFalse([e for e in r.events if e[0] in ("~>", "<~", "?>", "<?")],
                         r.describe())

    def test_plain_message_byte_for_byte(self):
        """EHLO..QUIT on the plain port: dots, empty line, UTF-8, 900-char line"""
        tok = token()
        body = [
            "Subject: smtpsh plain delivery " + tok,
            "From: <%s>" % SENDER,
            "To: <alice@example.test>",
            "Message-ID: <%s@client.test>" % tok,
            "",
            "first body line",
            ".leading dot",
            "..two leading dots",
            "..",
            "",
            "# a hash line is content inside DATA",
            "UTF-8: gr\u00fc\u00dfe, na\u00efve, \u65e5\u672c\u8a9e, \u2603 \u20ac",
            LONG_LINE,
            "\ttab-indented line",
            "back\\slash in the middle",
            "\\file is not a command here",
            "trailing spaces   ",
            "last line",
        ]
        # typed: a line starting with "\\" is sent with one backslash
        typed = ["\\" + l if l.startswith("\\") else l for l in body]
        cmds = ["EHLO client.test", "MAIL FROM:<%s>" % SENDER,
                "RCPT TO:<alice@example.test>", "DATA"]
        r = smtpsh(["127.0.0.1", LAB.plain_port], script(cmds + typed + [".", "QUIT"]))
        self.assertExit(r, 0)
        shown_body = [display(dot_stuff(l)) for l in body]
        self.check_wire(r, cmds + shown_body + [".", "QUIT"])
        # the dot-stuffed lines as sent
        self.assertIn(("->", "..leading dot"), r.events)
        self.assertIn(("->", "...two leading dots"), r.events)
        self.assertIn(("->", "..."), r.events)
        self.assertIn(("->", "\\ttab-indented line"), r.events)
        self.assertIn(("->", "back\\\\slash in the middle"), r.events)
        self.assertIn(("->", "\\\\file is not a command here"), r.events)

        ex = exchanges(r.events)
        # greeting
        self.assertEqual(ex[0][0], None, r.describe())
        self.assertEqual(ex[0][2], [("<-", "220 lab.example.test ESMTP smtpsh test lab")])
        replies = {text: rep for _, text, rep in ex[1:]}
        ehlo = replies["EHLO client.test"]
        self.assertEqual(ehlo[0], ("<-", "250-lab.example.test"), r.describe())
        self.assertTrue(all(t.startswith("250-") for _, t in ehlo[:-1]), ehlo)
        self.assertTrue(ehlo[-1][1].startswith("250 "), ehlo)
        self.assertIn(("<-", "250-PIPELINING"), ehlo)
        self.assertNotIn("STARTTLS", " ".join(t for _, t in ehlo))
        self.assertEqual(replies["MAIL FROM:<%s>" % SENDER], [("<-", "250 2.1.0 Ok")])
        self.assertEqual(replies["RCPT TO:<alice@example.test>"], [("<-", "250 2.1.5 Ok")])
        self.assertEqual(replies["DATA"], [("<-", "354 End data with <CR><LF>.<CR><LF>")])
        for l in shown_body:
            self.assertEqual(replies[l], [], "a body line got a reply: %r" % l)
        self.assertEqual(len(replies["."]), 1)
        self.assertRegex(replies["."][0][1], r"^250 2\.0\.0 Ok: queued as [0-9A-F]+$")
        self.assertEqual(replies["QUIT"], [("<-", "221 2.0.0 Bye")])
        self.assertNotIn("error", r.stderr)

        _, data = LAB.wait_for_message("alice", tok)
        headers, rest = split_delivered(data)
        self.check_prepended(headers, "alice@example.test")
        self.assertEqual(rest, ("\n".join(body) + "\n").encode("utf-8"))

    def test_file_body_tricky(self):
        """\\file inside DATA: bare LF, CRLF, bare CR, dot lines, no final newline"""
        tok = token()
        content = (b"X-File: yes\n"
                   b"\n"
                   b"lf line\n"
                   b"crlf line\r\n"
                   b"bare cr\r.after bare cr\n"
                   b".\n"
                   b"..\n"
                   b".dot\r\n"
                   b"\r\n"
                   b"utf-8 \xc3\xa4\xc3\xb6\xc3\xbc \xe2\x82\xac\n"
                   b"last line without newline")
        lines = ["X-File: yes", "", "lf line", "crlf line", "bare cr",
                 ".after bare cr", ".", "..", ".dot", "",
                 "utf-8 \u00e4\u00f6\u00fc \u20ac", "last line without newline"]
        path = os.path.join(LAB.home, "body-tricky.txt")
        with open(path, "wb") as f:
            f.write(content)
        cmds = ["EHLO client.test", "MAIL FROM:<%s>" % SENDER,
                "RCPT TO:<bob@example.test>", "DATA"]
        head = ["Subject: smtpsh file body " + tok]
        tail = ["typed after the file"]
        r = smtpsh(["127.0.0.1", LAB.plain_port],
                   script(cmds + head + ["\\file " + path] + tail + [".", "QUIT"]))
        self.assertExit(r, 0)
        self.check_wire(r, cmds + [display(dot_stuff(l)) for l in head + lines + tail]
                        + [".", "QUIT"])
        self.assertIn(("->", ".."), r.events)  # the file's lone "."
        _, data = LAB.wait_for_message("bob", tok)
        headers, rest = split_delivered(data)
        self.check_prepended(headers, "bob@example.test")
        self.assertEqual(rest, ("\n".join(head + lines + tail) + "\n").encode("utf-8"))

    def test_file_body_large(self):
        """\\file with ~200 KB of mixed line ends streams intact"""
        tok = token()
        ends = [b"\n", b"\r\n", b"\r"]
        parts = []
        lines = []
        for i in range(3000):
            text = ("%s%05d %s" % ("." if i % 7 == 0 else "", i, "x" * (i % 97)))
            lines.append(text)
            parts.append(text.encode() + ends[i % 3])
        path = os.path.join(LAB.home, "body-large.txt")
        with open(path, "wb") as f:
            f.write(b"".join(parts))
        cmds = ["EHLO client.test", "MAIL FROM:<%s>" % SENDER,
                "RCPT TO:<carol@example.test>", "DATA"]
        head = ["Subject: smtpsh large file " + tok, ""]
        r = smtpsh(["127.0.0.1", LAB.plain_port],
                   script(cmds + head + ["\\file " + path, ".", "QUIT"]))
        self.assertExit(r, 0)
        # smtpsh shows the first lines of a big file, then a summary line
        # "*  ... N more lines not shown (3000 lines, ...)"
        sent = r.sent_text()
        n_shown = len(sent) - len(cmds) - len(head) - 2
        self.assertGreater(n_shown, 0, r.describe())
        self.check_wire(r, cmds + [display(dot_stuff(l)) for l in head + lines[:n_shown]]
                        + [".", "QUIT"])
        if n_shown < len(lines):
            summary = [t for t in r.info() if "not shown" in t]
            self.assertEqual(len(summary), 1, r.describe())
            self.assertRegex(summary[0], r"\b%d more lines not shown \(%d lines\b"
                             % (len(lines) - n_shown, len(lines)))
        _, data = LAB.wait_for_message("carol", tok)
        headers, rest = split_delivered(data)
        self.check_prepended(headers, "carol@example.test")
        self.assertEqual(rest, ("\n".join(head + lines) + "\n").encode())

    def test_file_long_lines_past_the_screen(self):
        """\\file: lines over 998 octets are counted past the lines shown too; the summary
        counts every line"""
        tok = token()
        lines = ["Subject: long lines " + tok, ""]
        lines += ["l%03d" % i if i not in (150, 280) else "L" * 1200 for i in range(300)]
        lines.append("." + "d" * 998)  # 999 octets with the stuffed dot: over the limit too
        path = os.path.join(LAB.home, "long-lines.txt")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        r = smtpsh(["127.0.0.1", LAB.plain_port],
                   script(["EHLO client.test", "MAIL FROM:<%s>" % SENDER,
                           "RCPT TO:<carol@example.test>", "DATA", "\\file " + path, ".",
                           "QUIT"]))
        self.assertExit(r, 0)
        self.assertIn("3 lines of %s are longer than 998 octets" % path, r.stderr)
        summary = [t for t in r.info() if "not shown" in t]
        self.assertEqual(len(summary), 1, r.describe())
        self.assertRegex(summary[0], r"\(%d lines, %d bytes from " % (
            len(lines), sum(len(l) + 2 + l.startswith(".") for l in lines)))
        _, data = LAB.wait_for_message("carol", tok)
        self.assertEqual(split_delivered(data)[1], ("\n".join(lines) + "\n").encode())

    def test_pipeline_end_of_data_opens_group(self):
        """--pipeline: "." leaves with what follows it (the next MAIL..DATA, then QUIT), RFC
        2920; bodies without a final line end; both messages intact"""
        toks = [token(), token()]
        paths = []
        for i, tok in enumerate(toks):
            path = os.path.join(LAB.home, "pipe-body-%d.txt" % i)
            with open(path, "wb") as f:  # no final line end, a lone dot inside
                f.write(b"Subject: pipelined %s\n\nfirst\n.\n.last line" % tok.encode())
            paths.append(path)
        msg = ["MAIL FROM:<%s>" % SENDER, "RCPT TO:<carol@example.test>", "DATA"]
        r = smtpsh(["--pipeline", "127.0.0.1", LAB.plain_port],
                   script(["EHLO client.test"] + msg + ["\\file " + paths[0], "."] + msg
                          + ["\\file " + paths[1], ".", "QUIT"]))
        self.assertExit(r, 0)
        groups = [t for t in r.info() if t.startswith("pipelining ")]
        self.assertEqual(groups, ["pipelining 3 commands in one write (68 bytes)",
                                  "pipelining 4 commands in one write (71 bytes)",
                                  "pipelining 2 commands in one write (9 bytes)"],
                         r.describe())
        self.assertIn(".  \t[pipelined 1/4]", r.stdout)
        self.assertRegex(r.stdout, r"\n<- 250 2\.0\.0 Ok: queued as \w+  \t\[reply to 1/4: \.\]\n")
        self.assertRegex(r.stdout, r"\n<- 354 .*  \t\[reply to 4/4: DATA\]\n")
        self.assertRegex(r.stdout, r"\n-> \.  \t\[pipelined 1/2\]\n-> QUIT  \t\[pipelined 2/2\]\n")
        self.assertRegex(r.stdout, r"\n<- 221 .*  \t\[reply to 2/2: QUIT\]\n")
        for tok in toks:
            _, data = LAB.wait_for_message("carol", tok)
            self.assertEqual(split_delivered(data)[1],
                             b"Subject: pipelined %s\n\nfirst\n.\n.last line\n" % tok.encode())

    def test_pipeline_input_ends_after_dot(self):
        """--pipeline: input that ends right after "." still sends the message"""
        tok = token()
        r = smtpsh(["--pipeline", "127.0.0.1", LAB.plain_port],
                   script(["EHLO client.test", "MAIL FROM:<%s>" % SENDER,
                           "RCPT TO:<carol@example.test>", "DATA", "Subject: " + tok, "",
                           "body", "."]))
        self.assertExit(r, 0)
        self.assertRegex(r.stdout, r"\n-> \.  \t\[pipelined 1/1\]\n<- 250 2\.0\.0 Ok")
        self.assertIn("end of input: connection closed without QUIT", r.stdout)
        _, data = LAB.wait_for_message("carol", tok)
        self.assertEqual(split_delivered(data)[1], ("Subject: %s\n\nbody\n" % tok).encode())

    def test_rejections_shown_without_strict(self):
        """without --strict: 554 relay denied / 550 unknown user shown, exit 0"""
        tok = token()
        cmds = ["EHLO client.test", "MAIL FROM:<%s>" % SENDER,
                "RCPT TO:<x@elsewhere.invalid>",
                "RCPT TO:<nobody@example.test>",
                "RCPT TO:<carol@example.test>",
                "DATA", "Subject: after rejections " + tok, "", "body", ".", "QUIT"]
        r = smtpsh(["127.0.0.1", LAB.plain_port], script(cmds))
        self.assertExit(r, 0)
        self.check_wire(r, cmds)
        replies = {text: rep for _, text, rep in exchanges(r.events)[1:]}
        self.assertEqual(replies["RCPT TO:<x@elsewhere.invalid>"],
                         [("<-", "554 5.7.1 <x@elsewhere.invalid>: Relay access denied")])
        self.assertEqual(replies["RCPT TO:<nobody@example.test>"],
                         [("<-", "550 5.1.1 <nobody@example.test>: Recipient address "
                           "rejected: User unknown in virtual mailbox table")])
        self.assertEqual(replies["RCPT TO:<carol@example.test>"], [("<-", "250 2.1.5 Ok")])
        LAB.wait_for_message("carol", tok)

    def _strict_stops(self, bad_rcpt, code):
        tok = token()
        before = ["EHLO client.test", "MAIL FROM:<%s>" % SENDER, "RCPT TO:<%s>" % bad_rcpt]
        after = ["RCPT TO:<carol@example.test>", "DATA",
                 "Subject: must not be sent " + tok, "", "body", ".", "QUIT"]
        r = smtpsh(["--strict", "127.0.0.1", LAB.plain_port], script(before + after))
        self.assertExit(r, 1)
        sent = r.sent_text()
        # nothing after the rejected command (a polite QUIT is tolerated)
        if sent and sent[-1] == "QUIT":
            sent = sent[:-1]
        self.assertEqual(sent, before, r.describe())
        replies = {text: rep for _, text, rep in exchanges(r.events)[1:]}
        self.assertTrue(replies["RCPT TO:<%s>" % bad_rcpt][-1][1].startswith(code + " "),
                        r.describe())
        self.assertIsNone(LAB.find_message("carol", tok))

    def test_strict_relay_denied_exit_1(self):
        """--strict: RCPT to elsewhere.invalid -> 554, stop, exit 1"""
        self._strict_stops("x@elsewhere.invalid", "554")

    def test_strict_unknown_user_exit_1(self):
        """--strict: unknown user in example.test -> 550, stop, exit 1"""
        self._strict_stops("nobody@example.test", "550")

    def test_strict_clean_session_from_file(self):
        """--strict -f FILE with only 2xx/3xx replies -> exit 0, delivered"""
        tok = token()
        cmds = ["# a comment line, not sent", "", "EHLO client.test",
                "MAIL FROM:<%s>" % SENDER, "RCPT TO:<bob@example.test>", "DATA",
                "Subject: strict ok " + tok, "", "strict body", ".", "QUIT"]
        path = os.path.join(LAB.home, "strict-ok.smtp")
        with open(path, "w") as f:
            f.write(script(cmds))
        r = run_smtpsh(["--strict", "-f", path, "127.0.0.1", LAB.plain_port], b"",
                       home=LAB.home)
        self.assertExit(r, 0)
        self.check_wire(r, cmds[2:])
        _, data = LAB.wait_for_message("bob", tok)
        self.assertEqual(split_delivered(data)[1],
                         ("Subject: strict ok %s\n\nstrict body\n" % tok).encode())

    def test_crlf_script_file(self):
        """-f FILE with CRLF line ends: no stray CR reaches the server"""
        tok = token()
        body = ["Subject: crlf script " + tok, "", "line one", ".dot line", "", "end"]
        cmds = ["EHLO client.test", "MAIL FROM:<%s>" % SENDER,
                "RCPT TO:<alice@example.test>", "DATA"] + body + [".", "QUIT"]
        path = os.path.join(LAB.home, "crlf.smtp")
        with open(path, "wb") as f:
            f.write("".join(l + "\r\n" for l in cmds).encode())
        r = run_smtpsh(["--strict", "-f", path, "127.0.0.1", LAB.plain_port], b"",
                       home=LAB.home)
        self.assertExit(r, 0)
        self.check_wire(r, [dot_stuff(l) if i >= 4 and l != "." else l
                            for i, l in enumerate(cmds)])
        self.assertNotIn("\\x0d", r.stdout, r.describe())
        _, data = LAB.wait_for_message("alice", tok)
        self.assertEqual(split_delivered(data)[1], ("\n".join(body) + "\n").encode())

    def test_eof_inside_data_not_delivered(self):
        """input ending inside DATA: exit 2, the partial message is NOT delivered"""
        tok = token()
        off = LAB.log_size()
        cmds = ["EHLO client.test", "MAIL FROM:<%s>" % SENDER,
                "RCPT TO:<bob@example.test>", "DATA",
                "Subject: truncated " + tok, "", "no final dot"]
        r = smtpsh(["127.0.0.1", LAB.plain_port], script(cmds))
        self.assertExit(r, 2)
        self.assertIn("!  error", r.stderr, r.describe())
        self.assertNotIn(".", r.sent_text(), r.describe())
        LAB.wait_log(off, r"postfix-lab/plain/smtpd\[\d+\]: disconnect from ")
        self.assertRegex(LAB.log_since(off), r"lost connection after DATA")
        self.assertIsNone(LAB.find_message("bob", tok))

    def test_connect_closed_port_exit_3(self):
        """connection refused -> exit 3 with an error on stderr, quickly"""
        port = free_port()
        r = smtpsh(["--timeout", "5", "127.0.0.1", port], script(["EHLO x", "QUIT"]))
        self.assertExit(r, 3)
        self.assertIn("!  error", r.stderr, r.describe())
        self.assertEqual(r.sent(), [], r.describe())
        self.assertLess(r.elapsed, 5, r.describe())

    def test_force_ipv4(self):
        """-4 localhost connects over IPv4"""
        tok = token()
        off = LAB.log_size()
        cmds = ["EHLO client.test", "MAIL FROM:<%s>" % SENDER,
                "RCPT TO:<alice@example.test>", "DATA", "Subject: v4 " + tok, "",
                "over IPv4", ".", "QUIT"]
        r = smtpsh(["-4", "localhost", LAB.plain_port], script(cmds))
        self.assertExit(r, 0)
        self.check_wire(r, cmds)
        LAB.wait_log(off, r"postfix-lab/plain/smtpd\[\d+\]: connect from \S*\[127\.0\.0\.1\]")
        _, data = LAB.wait_for_message("alice", tok)
        self.check_prepended(split_delivered(data)[0], "alice@example.test")

    @unittest.skipUnless(has_ipv6_loopback(), "no ::1 on this host")
    def test_ipv6_loopback_delivery(self):
        """-6 ::1 plain delivery"""
        tok = token()
        off = LAB.log_size()
        cmds = ["EHLO client.test", "MAIL FROM:<%s>" % SENDER,
                "RCPT TO:<bob@example.test>", "DATA", "Subject: v6 " + tok, "",
                "over IPv6", ".", "QUIT"]
        r = smtpsh(["-6", "::1", LAB.plain_port], script(cmds))
        self.assertExit(r, 0)
        self.check_wire(r, cmds)
        LAB.wait_log(off, r"postfix-lab/plain/smtpd\[\d+\]: connect from \S*\[::1\]")
        _, data = LAB.wait_for_message("bob", tok)
        headers, rest = split_delivered(data)
        self.check_prepended(headers, "bob@example.test", addr="IPv6:::1")
        self.assertEqual(rest, ("Subject: v6 %s\n\nover IPv6\n" % tok).encode())


if __name__ == "__main__":
    tap_main()
