#!/usr/bin/python3
"""The Postfix lab's extensions that smtpsh's client will speak (issue 14), shown over raw
sockets, so the client work has a lab it can trust: CHUNKING (BDAT, delivered byte-exact),
XCLIENT (its new greeting) and XFORWARD on XCLIENT_PORT, and the haproxy PROXY header, text v1
and binary v2, on PROXY_PORT. Each proves itself in Postfix's own log (maillog_file): the
client address Postfix believes is the forwarded one.

What Postfix 3.7 answers (checked here):
- EHLO on XCLIENT_PORT lists `XCLIENT NAME ADDR PROTO HELO REVERSE_NAME PORT LOGIN DESTADDR
  DESTPORT` and `XFORWARD NAME ADDR PROTO HELO SOURCE PORT IDENT`; every port lists CHUNKING.
- XCLIENT is answered by a new `220` greeting (no 250): the session starts over, as from the
  forwarded client, which must EHLO again; XCLIENT is no longer offered then. The log says
  `client=NAME[ADDR]` for the message and `disconnect from NAME[ADDR]`.
- XFORWARD is answered `250 2.0.0 Ok` and changes only what is logged and queued:
  `client=unknown[127.0.0.1], orig_client=NAME[ADDR]`.
- After a PROXY header the greeting comes as usual and the log says `connect from
  unknown[ADDR]` with the header's source address; without a header Postfix waits
  (smtpd_upstream_proxy_timeout) and greets no one.
- `BDAT n` gets `250 2.0.0 Ok: n bytes`, `BDAT n LAST` `250 2.0.0 Ok: TOTAL bytes queued as
  ID` (TOTAL: all the chunks); the
  chunks are stored as sent, with CRLF -> LF and no dot-unstuffing.

Usage: PYTHONPATH=tests/lib /usr/bin/python3 tests/integration/test_postfix_extensions.py [NAME...]
Prints TAP. Starts (and always stops) its own Postfix lab; needs root and the packages of
scripts/install-test-deps.sh.
"""

import socket
import struct
import sys
import time
import unittest

sys.dont_write_bytecode = True
from lablib import ModuleLab, split_delivered
from smtpshtest import read_reply, tap_main, token

LAB = ModuleLab()
setUpModule, tearDownModule = LAB.start, LAB.stop


class Raw(unittest.TestCase):

    def connect(self, port, first=b"", greeting=True):
        s = None
        for _ in range(50):  # the lab waits for the other ports; this one may lag a little
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=10)
                break
            except ConnectionRefusedError:
                time.sleep(0.1)
        self.assertIsNotNone(s, "port %d does not accept connections" % port)
        self.addCleanup(s.close)
        if first:
            s.sendall(first)
        f = s.makefile("rb")
        if greeting:
            self.assertEqual(read_reply(f), [b"220 lab.example.test ESMTP smtpsh test lab"])
        return s, f


    def say(self, s, f, line):
        s.sendall(line + b"\r\n")
        return read_reply(f)

    def send_message(self, s, f, tok):
        for cmd, code in ((b"MAIL FROM:<s@client.test>", b"250"),
                          (b"RCPT TO:<alice@example.test>", b"250"), (b"DATA", b"354")):
            self.assertTrue(self.say(s, f, cmd)[0].startswith(code))
        s.sendall(b"Subject: %s\r\n\r\nhello\r\n.\r\n" % tok.encode())
        got = read_reply(f)
        self.assertTrue(got[0].startswith(b"250 2.0.0 Ok: queued as "), got)
        return got[0].split()[-1].decode()


class Chunking(Raw):

    def test_bdat_byte_exact(self):
        """CHUNKING: pipelined BDAT chunks, delivered with CRLF -> LF, nothing unstuffed"""
        s, f = self.connect(LAB.plain_port)
        self.assertIn(b"250 CHUNKING", self.say(s, f, b"EHLO client.test"))
        tok = token()
        one = (b"Subject: %s\r\n\r\n.\r\n..two dots stay two\r\n" % tok.encode()
               + "8-bit: gr\u00fc\u00dfe \u2603\r\nsplit CRLF\r".encode())
        two = b"\nlast line\r\n"
        s.sendall(b"MAIL FROM:<s@client.test>\r\nRCPT TO:<alice@example.test>\r\n"
                  + b"BDAT %d\r\n" % len(one) + one + b"BDAT %d LAST\r\n" % len(two) + two
                  + b"NOOP\r\n")
        got = [read_reply(f)[0] for _ in range(5)]
        self.assertEqual(got[:3], [b"250 2.1.0 Ok", b"250 2.1.5 Ok",
                                   b"250 2.0.0 Ok: %d bytes" % len(one)], got)
        self.assertTrue(got[3].startswith(b"250 2.0.0 Ok: %d bytes queued as "
                                          % (len(one) + len(two))), got)
        self.assertEqual(got[4], b"250 2.0.0 Ok")
        _, data = LAB.wait_for_message("alice", tok)
        _, body = split_delivered(data)
        self.assertEqual(body, (one + two).replace(b"\r\n", b"\n"))


class Xclient(Raw):

    def test_xclient_new_greeting_and_log(self):
        """XCLIENT: a new 220 greeting; Postfix logs the forwarded client"""
        s, f = self.connect(LAB.xclient_port)
        ehlo = self.say(s, f, b"EHLO proxy.test")
        self.assertIn(b"250-XCLIENT NAME ADDR PROTO HELO REVERSE_NAME PORT LOGIN DESTADDR "
                      b"DESTPORT", ehlo)
        self.assertIn(b"250-XFORWARD NAME ADDR PROTO HELO SOURCE PORT IDENT", ehlo)
        offset = LAB.log_size()
        got = self.say(s, f, b"XCLIENT NAME=client.example ADDR=192.0.2.7 PORT=4711 "
                             b"HELO=helo.example PROTO=ESMTP")
        self.assertEqual(got, [b"220 lab.example.test ESMTP smtpsh test lab"],
                         "XCLIENT is answered by a new greeting")
        ehlo = self.say(s, f, b"EHLO x.test")
        self.assertFalse([l for l in ehlo if b"XCLIENT" in l],
                         "the forwarded client may not XCLIENT again")
        tok = token()
        qid = self.send_message(s, f, tok)
        self.assertEqual(self.say(s, f, b"QUIT"), [b"221 2.0.0 Bye"])
        LAB.wait_log(offset, r"xclient/smtpd\[\d+\]: %s: client=client\.example\[192\.0\.2\.7\]$"
                     % qid)
        LAB.wait_log(offset, r"disconnect from client\.example\[192\.0\.2\.7\]")
        _, data = LAB.wait_for_message("alice", tok)
        headers, _ = split_delivered(data)
        self.assertTrue(headers[3].startswith(
            b"Received: from x.test (client.example [192.0.2.7])"), headers[3])

    def test_xforward_logged(self):
        """XFORWARD: 250, and the log gives the original client beside the real one"""
        s, f = self.connect(LAB.xclient_port)
        self.say(s, f, b"EHLO proxy.test")
        offset = LAB.log_size()
        self.assertEqual(self.say(s, f, b"XFORWARD NAME=fwd.example ADDR=198.51.100.4 "
                                        b"PROTO=ESMTP HELO=fwdhelo.example"),
                         [b"250 2.0.0 Ok"])
        qid = self.send_message(s, f, token())
        LAB.wait_log(offset, r"%s: client=unknown\[127\.0\.0\.1\], "
                             r"orig_client=fwd\.example\[198\.51\.100\.4\]" % qid)

    def test_xclient_refused_on_plain_port(self):
        """XCLIENT where loopback is not authorized: not offered, refused"""
        s, f = self.connect(LAB.plain_port)
        self.assertFalse([l for l in self.say(s, f, b"EHLO proxy.test") if b"XCLIENT" in l])
        got = self.say(s, f, b"XCLIENT ADDR=192.0.2.7")
        self.assertTrue(got[0].startswith(b"550 5.7.0 Error: insufficient authorization"),
                        got)


class Proxy(Raw):

    def check(self, header, addr):
        offset = LAB.log_size()
        s, f = self.connect(LAB.proxy_port, header)
        self.assertIn(b"250 CHUNKING", self.say(s, f, b"EHLO client.test"))
        self.assertEqual(self.say(s, f, b"QUIT"), [b"221 2.0.0 Bye"])
        LAB.wait_log(offset, r"proxy/smtpd\[\d+\]: connect from unknown\[%s\]$"
                     % addr.replace(".", r"\."))

    def test_proxy_v1(self):
        """PROXY v1 (text): Postfix logs the header's source address"""
        self.check(b"PROXY TCP4 203.0.113.5 127.0.0.1 5555 %d\r\n" % LAB.proxy_port,
                   "203.0.113.5")

    def test_proxy_v2(self):
        """PROXY v2 (binary, PROXY command, TCP over IPv4): the same"""
        addrs = (socket.inet_aton("203.0.113.6") + socket.inet_aton("127.0.0.1")
                 + struct.pack("!HH", 6666, LAB.proxy_port))
        header = (b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11])
                  + struct.pack("!H", len(addrs)) + addrs)
        self.check(header, "203.0.113.6")

    def test_no_header_no_greeting(self):
        """without a PROXY header Postfix greets no one"""
        s, _ = self.connect(LAB.proxy_port, greeting=False)
        s.settimeout(1.0)
        with self.assertRaises(socket.timeout):
            s.recv(100)


if __name__ == "__main__":
    tap_main()
