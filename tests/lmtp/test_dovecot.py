#!/usr/bin/python3
"""A real Dovecot LMTP server (tests/lib/dovecotlab.py), driven over raw sockets on loopback
TCP and on its UNIX socket: proof that the lab works, and a record of exactly what Dovecot
2.3.19 answers, for the LMTP client that comes next (issue 14).

What Dovecot answers (checked below):
- greeting `220 lmtp.example.test Dovecot (Debian) ready.`; EHLO and HELO get
  `500 5.5.1 Unknown command` (RFC 2033 4.1: LHLO only)
- LHLO: `250-lmtp.example.test`, `8BITMIME`, `CHUNKING`, `ENHANCEDSTATUSCODES`, `PIPELINING`
  (no SIZE, no DSN, no SMTPUTF8)
- MAIL `250 2.1.0 OK`; RCPT `250 2.1.5 OK`, or for an unknown user `550 5.1.1 <addr> User
  doesn't exist: addr`; DATA `354 OK`
- after the final dot, one reply per accepted recipient in RCPT order (RFC 2033 4.2):
  `250 2.0.0 <addr> SESSION-ID Saved`, or `552 5.2.2 <addr> Quota exceeded (mailbox for user is
  full)` for the recipient whose quota the message exceeds
- BDAT: `250 2.0.0 Added N octets` per chunk; LAST gives the per-recipient replies
- stored: Return-Path, no Delivered-To when the transaction had several recipients, and
  Received (`from client.test ([127.0.0.1])` over TCP, `from client.test` over the socket,
  `by lmtp.example.test with LMTP`), then the message with CRLF -> LF and dots unstuffed (DATA)
  or as sent (BDAT)

Usage: PYTHONPATH=tests/lib /usr/bin/python3 tests/lmtp/test_dovecot.py [NAME...]
Prints TAP. Starts (and always stops) its own Dovecot; needs root and the packages of
scripts/install-test-deps.sh.
"""

import re
import socket
import sys
import unittest

sys.dont_write_bytecode = True
from dovecotlab import DovecotLab
from smtpshtest import read_reply, tap_main, token

LAB = None


def setUpModule():
    global LAB
    LAB = DovecotLab().start()


def tearDownModule():
    if LAB:
        LAB.stop()


GREETING = b"220 lmtp.example.test Dovecot (Debian) ready."
LHLO = [b"250-lmtp.example.test", b"250-8BITMIME", b"250-CHUNKING",
        b"250-ENHANCEDSTATUSCODES", b"250 PIPELINING"]


class Lmtp(unittest.TestCase):

    def connect(self, unix):
        if unix:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(10)
            s.connect(LAB.lmtp_socket)
        else:
            s = socket.create_connection(("127.0.0.1", LAB.port), timeout=10)
        self.addCleanup(s.close)
        f = s.makefile("rb")
        self.assertEqual(read_reply(f), [GREETING])
        return s, f

    def replies(self, f, n):
        return [read_reply(f) for _ in range(n)]

    def stored(self, user, tok, timeout=5.0):
        return LAB.wait_for_message(user, tok, timeout)[1]

    def split(self, data):
        """Dovecot's trace headers (Return-Path, Delivered-To if any, a folded Received),
        then the message."""
        m = re.match(rb"Return-Path: <([^>]*)>\n(?:Delivered-To: ([^\n]*)\n)?"
                     rb"Received: from ([^\n]*)\n(?:\t[^\n]*\n)+", data)
        self.assertIsNotNone(m, data[:300])
        return m, data[m.end():]

    def transaction(self, unix):
        """LHLO, MAIL, two RCPT, DATA in one write; two replies after the dot."""
        s, f = self.connect(unix)
        tok = token()
        s.sendall(b"LHLO client.test\r\nMAIL FROM:<s@client.test>\r\n"
                  b"RCPT TO:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
        got = self.replies(f, 5)
        self.assertEqual(got, [LHLO, [b"250 2.1.0 OK"], [b"250 2.1.5 OK"], [b"250 2.1.5 OK"],
                               [b"354 OK"]])
        body = ["Subject: " + tok, "", "..leading dot", "gr\u00fc\u00dfe", "last"]
        s.sendall(("\r\n".join(body) + "\r\n.\r\n").encode())
        after = self.replies(f, 2)
        self.assertRegex(after[0][0], rb"^250 2\.0\.0 <alice@example\.test> \S+ Saved$")
        self.assertRegex(after[1][0], rb"^250 2\.0\.0 <bob@example\.test> \S+ Saved$")
        s.sendall(b"QUIT\r\n")
        self.assertEqual(read_reply(f), [b"221 2.0.0 Bye"])
        for user in ("alice", "bob"):
            m, msg = self.split(self.stored(user, tok))
            self.assertEqual(m.group(1), b"s@client.test")
            self.assertIsNone(m.group(2), "two recipients: no Delivered-To")
            self.assertEqual(m.group(3), b"client.test" if unix else b"client.test ([127.0.0.1])")
            self.assertIn(b"\tby lmtp.example.test with LMTP\n", m.group(0))
            self.assertEqual(msg, ("\n".join(body).replace("..", ".", 1) + "\n").encode())

    def test_tcp(self):
        """TCP: LHLO, MAIL, two RCPT, DATA; one reply per recipient after the dot"""
        self.transaction(unix=False)

    def test_unix_socket(self):
        """the UNIX socket: the same conversation"""
        self.transaction(unix=True)

    def test_per_recipient_failure(self):
        """an unknown user is refused at RCPT; a full mailbox only after the data, alone"""
        s, f = self.connect(unix=True)
        tok = token()
        s.sendall(b"LHLO client.test\r\nMAIL FROM:<s@client.test>\r\n"
                  b"RCPT TO:<alice@example.test>\r\nRCPT TO:<nobody@example.test>\r\n"
                  b"RCPT TO:<full@example.test>\r\nDATA\r\n")
        got = self.replies(f, 6)
        self.assertEqual(got[3], [b"550 5.1.1 <nobody@example.test> User doesn't exist: "
                                  b"nobody@example.test"])
        self.assertEqual(got[4], [b"250 2.1.5 OK"], "a full mailbox is accepted at RCPT")
        s.sendall(b"Subject: %s\r\n\r\nhello\r\n.\r\n" % tok.encode())
        after = self.replies(f, 2)
        self.assertRegex(after[0][0], rb"^250 2\.0\.0 <alice@example\.test> \S+ Saved$")
        self.assertEqual(after[1], [b"552 5.2.2 <full@example.test> Quota exceeded (mailbox "
                                    b"for user is full)"])
        s.sendall(b"NOOP\r\n")
        self.assertEqual(read_reply(f), [b"250 2.0.0 OK"], "two replies, no third")
        m, _ = self.split(self.stored("alice", tok))
        self.assertIsNone(m.group(2), "two recipients accepted at RCPT: no Delivered-To")
        self.assertIsNone(LAB.find_message("full", tok))

    def test_ehlo_refused_and_bdat(self):
        """EHLO and HELO are unknown to LMTP; BDAT chunks, per-recipient replies after LAST"""
        s, f = self.connect(unix=False)
        s.sendall(b"EHLO client.test\r\nHELO client.test\r\n")
        self.assertEqual(self.replies(f, 2), [[b"500 5.5.1 Unknown command"]] * 2)
        tok = token()
        one = b"Subject: %s\r\n\r\n.\r\n" % tok.encode()
        two = b"..two dots\r\n"
        s.sendall(b"LHLO client.test\r\nMAIL FROM:<s@client.test>\r\n"
                  b"RCPT TO:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\n"
                  + b"BDAT %d\r\n" % len(one) + one + b"BDAT %d LAST\r\n" % len(two) + two)
        got = self.replies(f, 7)
        self.assertEqual(got[4], [b"250 2.0.0 Added %d octets" % len(one)])
        self.assertRegex(got[5][0], rb"^250 2\.0\.0 <alice@example\.test> \S+ Saved$")
        self.assertRegex(got[6][0], rb"^250 2\.0\.0 <bob@example\.test> \S+ Saved$")
        _, msg = self.split(self.stored("bob", tok))
        self.assertEqual(msg, (one + two).replace(b"\r\n", b"\n"), "BDAT: nothing unstuffed")


if __name__ == "__main__":
    tap_main()
