#!/usr/bin/python3
"""smtpsh --serve: the practice server alone, with third-party clients. Python's smtplib
and swaks send mail that must arrive intact in the Maildir (byte for byte); several clients
at once; pipelining and STARTTLS injection over raw sockets; the screen shows both sides;
the teacher's control lines on standard input; Ctrl-C stops it cleanly.

Usage: PYTHONPATH=tests/lib /usr/bin/python3 tests/practice/test_serve.py [PATH/TO/smtpsh] [NAME...]
Prints TAP. Needs swaks (with its TLS modules) from scripts/install-test-deps.sh.
"""

import os
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
from smtpshtest import smtpsh_path, tap_main, token, wait_in_maildir
from practicelib import Serve, split_stored

WORK = tempfile.mkdtemp(prefix="smtpsh-serve-test-")
SRV = None

SWAKS = "/usr/bin/swaks"


def setUpModule():
    global SRV
    if not os.access(SWAKS, os.X_OK):
        raise AssertionError("swaks is missing: run scripts/install-test-deps.sh")
    SRV = Serve(os.path.join(WORK, "Maildir"))


def tearDownModule():
    if SRV:
        SRV.stop()
    shutil.rmtree(WORK, ignore_errors=True)


def find_stored(tok, timeout=10.0):
    return wait_in_maildir(SRV.maildir, tok, timeout, SRV.describe)


def conversation(cid):
    """The screen lines of connection CID, without the "[N] " prefix."""
    prefix = "[%d] " % cid
    return [l[len(prefix):] for l in SRV.out.lines if l.startswith(prefix)]


def last_connection(sock):
    """The number [N] of the connection from sock's local port, waited for (other clients, a
    test's earlier ones still closing, may connect after it: not simply the newest)."""
    rx = r"^\[(\d+)\] \*  connection from 127\.0\.0\.1 port %d$" % sock.getsockname()[1]
    return int(re.match(rx, SRV.out.lines[SRV.out.wait(rx)]).group(1))


# A message with the traps: dots, empty lines, long-ish lines, UTF-8, a tab.
def body_lines(tok):
    return ["Subject: third-party client " + tok, "From: <sender@client.test>",
            "To: <rcpt@example.test>", "", "first line", ".one leading dot",
            "..two leading dots", ".", "", "\ttab", "UTF-8: gr\u00fc\u00dfe \u2603",
            "x" * 900, "last line"]


class Smtplib(unittest.TestCase):

    def check_stored(self, tok, lines, sender, rcpts, proto):
        path, data = find_stored(tok)
        headers, rest = split_stored(data)
        self.assertEqual(rest, ("\n".join(lines) + "\n").encode("utf-8"),
                         "the body as sent, CRLF -> LF, dots unstuffed")
        self.assertEqual(headers["Return-Path"], ("Return-Path: <%s>" % sender).encode())
        self.assertEqual(headers["Envelope-To"],
                         ("Envelope-To: " + ",\n\t".join(rcpts)).encode())
        self.assertRegex(headers["Received"].decode(),
                         r"^Received: from client\.test \(\[127\.0\.0\.1\]\)\n\tby localhost "
                         r"\(smtpsh practice server\) with %s id [0-9A-F]{10}" % proto)
        self.assertIn("/new/", path)

    def test_plain(self):
        """smtplib in plaintext: the message arrives byte for byte"""
        tok = token()
        lines = body_lines(tok)
        msg = ("\r\n".join(lines) + "\r\n").encode("utf-8")
        with smtplib.SMTP("127.0.0.1", SRV.port, local_hostname="client.test", timeout=10) as s:
            code, _ = s.ehlo()
            self.assertEqual(code, 250)
            self.assertTrue(s.has_extn("pipelining") and s.has_extn("8bitmime") and
                            s.has_extn("enhancedstatuscodes") and s.has_extn("starttls"))
            self.assertEqual(int(s.esmtp_features["size"]), 10240000)
            self.assertFalse(s.has_extn("auth"), "no AUTH before TLS")
            refused = s.sendmail("sender@client.test", ["rcpt@example.test"], msg,
                                 mail_options=["BODY=8BITMIME"])
            self.assertEqual(refused, {})
        self.check_stored(tok, lines, "sender@client.test", ["rcpt@example.test"], "ESMTP")

    def test_starttls_and_each_login(self):
        """smtplib: STARTTLS verified with the printed CA, then PLAIN, LOGIN and CRAM-MD5"""
        for mech in ("PLAIN", "LOGIN", "CRAM-MD5"):
            with self.subTest(mech=mech):
                tok = token()
                lines = body_lines(tok)
                start = len(SRV.out.lines)
                ctx = ssl.create_default_context(cafile=SRV.cafile)
                with smtplib.SMTP("localhost", SRV.port, local_hostname="client.test",
                                  timeout=10) as s:
                    s.starttls(context=ctx)
                    s.ehlo("client.test")
                    self.assertEqual(s.esmtp_features["auth"].split(),
                                     ["PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2",
                                      "OAUTHBEARER"])
                    s.user, s.password = SRV.user, "wrong"
                    with self.assertRaises(smtplib.SMTPAuthenticationError) as cm:
                        s.auth(mech, getattr(s, "auth_" + mech.lower().replace("-", "_")),
                               initial_response_ok=False)
                    self.assertEqual(cm.exception.smtp_code, 535)
                    s.user, s.password = SRV.user, SRV.password
                    code, _ = s.auth(mech, getattr(s, "auth_" + mech.lower().replace("-", "_")),
                                     initial_response_ok=(mech == "PLAIN"))
                    self.assertEqual(code, 235)
                    s.sendmail("sender@client.test", ["a@example.test", "b@example.test"],
                               ("\r\n".join(lines) + "\r\n").encode())
                self.check_stored(tok, lines, "sender@client.test",
                                  ["a@example.test", "b@example.test"], "ESMTPSA")
                # the server's screen lags behind the client: wait for this connection's end
                i = SRV.out.wait(r"^\[\d+\] \*  connection from", start)
                cid = int(re.match(r"^\[(\d+)\]", SRV.out.lines[i]).group(1))
                SRV.out.wait(r"^\[%d\] \*  connection closed" % cid, i)
                shown = "\n".join(conversation(cid))
                self.assertNotIn(SRV.password, shown)
                self.assertIn("%s login as %s succeeded" % (mech, SRV.user), shown)
                self.assertIn("%s login failed: wrong password" % mech, shown)

    def test_concurrent_clients(self):
        """several connections at once: one idle client does not block the others"""
        idle = socket.create_connection(("127.0.0.1", SRV.port), timeout=10)
        self.addCleanup(idle.close)
        self.assertTrue(idle.recv(100).startswith(b"220 "))
        idle.sendall(b"EHLO idle.test\r\nMAIL FROM:<idle@client.test>\r\n")
        toks = [token() for _ in range(4)]
        errors = []

        def send(tok):
            try:
                with smtplib.SMTP("127.0.0.1", SRV.port, timeout=10) as s:
                    s.sendmail("c@client.test", ["r@example.test"],
                               ("Subject: %s\r\n\r\nconcurrent\r\n" % tok).encode())
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=send, args=(t,)) for t in toks]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        self.assertEqual(errors, [])
        for tok in toks:
            find_stored(tok)
        idle.sendall(b"QUIT\r\n")


class Swaks(unittest.TestCase):

    def swaks(self, *args):
        p = subprocess.run([SWAKS, "--server", "127.0.0.1", "--port", str(SRV.port),
                            "--helo", "client.test", "--from", "sender@client.test",
                            "--to", "rcpt@example.test"] + list(args),
                           capture_output=True, timeout=30)
        return p.returncode, p.stdout.decode("utf-8", "replace")

    def test_plain_data_intact(self):
        """swaks --data FILE in plaintext: the message arrives byte for byte"""
        tok = token()
        lines = body_lines(tok)
        path = os.path.join(WORK, "swaks-%s.eml" % tok)
        with open(path, "wb") as f:  # swaks ends the data with its own CRLF
            f.write("\n".join(lines).encode("utf-8"))
        rc, out = self.swaks("--data", path)
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, r"<[-~] +250 2\.0\.0 Ok: stored as [0-9A-F]{10}")
        _, data = find_stored(tok)
        headers, rest = split_stored(data)
        self.assertEqual(rest, ("\n".join(lines) + "\n").encode("utf-8"))

    def test_auth_in_plaintext_when_allowed(self):
        """swaks AUTH LOGIN and CRAM-MD5 without TLS, after 'plain-auth on' on the server"""
        SRV.control("plain-auth on", rx=r"plain-auth\s+on")
        self.addCleanup(SRV.control, "plain-auth off", r"plain-auth\s+off")
        for mech in ("LOGIN", "CRAM-MD5", "PLAIN"):
            with self.subTest(mech=mech):
                tok = token()
                rc, out = self.swaks("--auth", mech, "--auth-user", SRV.user,
                                     "--auth-password", SRV.password,
                                     "--header", "Subject: swaks %s %s" % (mech, tok))
                self.assertEqual(rc, 0, out)
                self.assertIn("235 2.7.0 Authentication successful", out)
                path, data = find_stored(tok)
                self.assertIn(b"with ESMTPA id", data)

    def test_auth_refused_without_tls(self):
        """by default AUTH is not offered in plaintext: swaks fails to log in"""
        rc, out = self.swaks("--auth", "PLAIN", "--auth-user", SRV.user,
                             "--auth-password", SRV.password)
        self.assertNotEqual(rc, 0, out)
        self.assertNotIn("235 ", out)

    def test_starttls_verified(self):
        """swaks --tls with --tls-verify against the printed CA, then AUTH"""
        tok = token()
        rc, out = self.swaks("--tls", "--tls-verify", "--tls-ca-path", SRV.cafile,
                             "--auth", "CRAM-MD5", "--auth-user", SRV.user,
                             "--auth-password", SRV.password,
                             "--header", "Subject: swaks tls " + tok)
        self.assertEqual(rc, 0, out)
        self.assertIn("TLS started", out)
        _, data = find_stored(tok)
        self.assertIn(b"with ESMTPSA id", data)


class RawClient:
    """A hand-written client over a raw socket, as a student's program would be."""

    def connect(self):
        s = socket.create_connection(("127.0.0.1", SRV.port), timeout=10)
        self.addCleanup(s.close)
        f = s.makefile("rb")
        self.assertTrue(f.readline().startswith(b"220 localhost ESMTP"))
        return s, f

    def replies(self, f, n):
        out = []
        while len(out) < n:
            line = f.readline()
            if not line:
                break
            if line[3:4] == b" ":
                out.append(line.rstrip(b"\r\n").decode())
        return out


class Raw(RawClient, unittest.TestCase):

    def test_pipelining(self):
        """a whole transaction in one write (RFC 2920): every reply, in order"""
        s, f = self.connect()
        tok = token()
        s.sendall(("EHLO raw.test\r\nMAIL FROM:<a@client.test>\r\nRCPT TO:<b@example.test>\r\n"
                   "RCPT TO:<c@example.test>\r\nDATA\r\nSubject: %s\r\n\r\n..dot\r\n.\r\n"
                   "NOOP\r\nQUIT\r\n" % tok).encode())
        got = self.replies(f, 8)
        self.assertEqual([r[:3] for r in got],
                         ["250", "250", "250", "250", "354", "250", "250", "221"], got)
        _, data = find_stored(tok)
        self.assertTrue(data.endswith(b"\n\n.dot\n"))

    def test_starttls_injection_discarded(self):
        """commands pipelined after STARTTLS are not run inside TLS (CVE-2011-0411)"""
        s, f = self.connect()
        s.sendall(b"EHLO raw.test\r\n")
        self.replies(f, 1)
        s.sendall(b"STARTTLS\r\nMAIL FROM:<injected@evil.test>\r\n")
        self.assertEqual(self.replies(f, 1), ["220 2.0.0 Ready to start TLS"])
        ctx = ssl.create_default_context(cafile=SRV.cafile)
        t = ctx.wrap_socket(s, server_hostname="localhost")
        tf = t.makefile("rb")
        t.sendall(b"EHLO raw.test\r\nMAIL FROM:<a@client.test>\r\n")
        got = self.replies(tf, 2)
        self.assertEqual(got[1], "250 2.1.0 Ok", "no 503 nested MAIL: the injection was dropped")
        cid = last_connection(t)
        self.assertTrue(any("discarded 32 bytes the client pipelined after STARTTLS" in l
                            for l in conversation(cid)), SRV.describe())
        t.sendall(b"QUIT\r\n")
        self.replies(tf, 1)

    def test_line_limits(self):
        """a command over 512 octets: 500; a message line over 1000: refused at the end"""
        s, f = self.connect()
        s.sendall(b"NOOP " + b"x" * 600 + b"\r\nNOOP\r\n")
        self.assertEqual(self.replies(f, 2)[0][:10], "500 5.5.2 ")
        s.sendall(b"EHLO raw.test\r\nMAIL FROM:<a@client.test>\r\nRCPT TO:<b@example.test>\r\n"
                  b"DATA\r\n" + b"y" * 1200 + b"\r\n.\r\n")
        got = self.replies(f, 5)
        self.assertTrue(got[4].startswith("500 5.5.2 Error: line too long: a message line"),
                        got)

    def test_bare_lf_client(self):
        """a client ending lines with LF only: commands work; the data ends only at CRLF.CRLF"""
        s, f = self.connect()
        tok = token()
        s.sendall(("EHLO lf.test\nMAIL FROM:<a@client.test>\nRCPT TO:<b@example.test>\nDATA\n"
                   "Subject: %s\n\nbody\n.\n" % tok).encode())
        self.assertEqual([r[:3] for r in self.replies(f, 4)], ["250", "250", "250", "354"])
        s.sendall(b"\r\n.\r\n")
        got = self.replies(f, 1)
        self.assertRegex(got[0], r"^250 2\.0\.0 Ok: stored as \S+ \(note: 4 lines ended with "
                                 r"a bare LF instead of CRLF\)$")
        _, data = find_stored(tok)
        self.assertTrue(data.endswith(b"\nbody\n.\n\n"), data)


class Extensions(RawClient, unittest.TestCase):
    """CHUNKING, SMTPUTF8 and DSN from a raw socket: the octets that arrive are the octets
    stored (CRLF -> LF being the Maildir's one change)."""

    def stored_body(self, data):
        """The stored message after the server's trace headers (up to Received's end)."""
        i = data.index(b"\nReceived: ")
        j = data.index(b"\n", data.index(b"; ", i)) + 1
        return data[:i + 1], data[j:]

    def test_bdat_pipelined_binary(self):
        """BDAT: pipelined chunks of binary octets, byte-exact in the Maildir"""
        s, f = self.connect()
        tok = token()
        s.sendall(b"EHLO raw.test\r\n")
        ehlo = []
        while True:
            line = f.readline()
            ehlo.append(line)
            if line[3:4] == b" ":
                break
        self.assertIn(b"250-CHUNKING\r\n", ehlo)
        self.assertIn(b"250-BINARYMIME\r\n", ehlo)
        # every octet value, a lone dot line, a CRLF split between two chunks
        one = ("Subject: %s\r\n\r\n.\r\n" % tok).encode() + bytes(range(256)) + b"\r"
        two = b"\n..not unstuffed\r\nend"
        s.sendall(b"MAIL FROM:<a@client.test> BODY=BINARYMIME\r\nRCPT TO:<b@example.test>\r\n"
                  + b"BDAT %d\r\n" % len(one) + one
                  + b"BDAT %d LAST\r\n" % len(two) + two + b"NOOP\r\nDATA\r\n")
        got = self.replies(f, 6)
        self.assertEqual(got[:3], ["250 2.1.0 Ok", "250 2.1.5 Ok",
                                   "250 2.0.0 %d octets received" % len(one)], got)
        self.assertRegex(got[3], r"^250 2\.0\.0 Ok: %d octets received, stored as [0-9A-F]{10} "
                         r"\(%d octets in 2 chunks\)$" % (len(two), len(one) + len(two)))
        self.assertEqual(got[4:], ["250 2.0.0 Ok", "503 5.5.1 Error: need RCPT command"])
        _, data = find_stored(tok)
        _, body = self.stored_body(data)
        self.assertEqual(body, (one + two).replace(b"\r\n", b"\n"))
        self.assertIn(b"\x00\x01", body)

    def test_bdat_refused_chunk_keeps_step(self):
        """a chunk over SIZE is read, then 552; the next command is understood"""
        s, f = self.connect()
        SRV.control("size 100")
        self.addCleanup(SRV.control, "size 10240000")
        s.sendall(b"EHLO raw.test\r\nMAIL FROM:<a@client.test>\r\nRCPT TO:<b@example.test>\r\n"
                  b"BDAT 150 LAST\r\n" + b"NOOP\r\n" * 25 + b"RSET\r\n")
        got = self.replies(f, 5)
        self.assertEqual(got[3:], ["552 5.3.4 Chunk exceeds message size limit",
                                   "250 2.0.0 Ok"], got)

    def test_smtputf8_and_dsn(self):
        """SMTPUTF8 addresses and DSN requests: checked, stored byte-exact in the envelope"""
        s, f = self.connect()
        tok = token()
        sender = "j\u00f6rg@b\u00fccher.test".encode()
        rcpt = "\u7528\u6237@\u4f8b\u5b50.test".encode()
        s.sendall(b"EHLO raw.test\r\n")
        ehlo = self.replies(f, 1)
        self.assertTrue(ehlo)
        s.sendall(b"MAIL FROM:<" + sender + b">\r\nMAIL FROM:<" + sender
                  + b"> SMTPUTF8 RET=SOME\r\nMAIL FROM:<" + sender
                  + b"> SMTPUTF8 RET=HDRS ENVID=" + tok.encode() + b"+2B1\r\n"
                  + b"RCPT TO:<" + rcpt + b"> NOTIFY=NEVER,SUCCESS\r\n"
                  + b"RCPT TO:<" + rcpt + b"> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;x+2By@z.test\r\n"
                  + b"DATA\r\nSubject: " + tok.encode() + b"\r\n\r\n\xc3\xa9t\xc3\xa9\r\n.\r\n")
        got = self.replies(f, 7)
        self.assertEqual(got[:6], ["553 5.6.7 Must declare SMTPUTF8 to send unicode address",
                                   "501 5.5.4 Bad RET parameter syntax", "250 2.1.0 Ok",
                                   "501 5.5.4 Error: Bad NOTIFY parameter syntax",
                                   "250 2.1.5 Ok", "354 End data with <CR><LF>.<CR><LF>"], got)
        self.assertTrue(got[6].startswith("250 2.0.0 Ok: stored as "), got)
        _, data = find_stored(tok)
        head, body = self.stored_body(data)
        self.assertEqual(head, b"Return-Path: <" + sender + b">\nEnvelope-To: " + rcpt + b"\n"
                         b"Envelope-DSN: RET=HDRS ENVID=" + tok.encode() + b"+2B1\n"
                         b"Envelope-DSN-Recipient: <" + rcpt
                         + b"> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;x+2By@z.test\n")
        self.assertIn(b" with UTF8SMTP id ", data)
        self.assertEqual(body, b"Subject: " + tok.encode() + b"\n\n\xc3\xa9t\xc3\xa9\n")


class Screen(unittest.TestCase):

    def test_both_sides_shown(self):
        """the screen shows [N], the client's lines (->) and the server's (<-), escaped: the
        arrows of the client's own screen (one visual language)"""
        s = socket.create_connection(("127.0.0.1", SRV.port), timeout=10)
        f = s.makefile("rb")
        f.readline()
        s.sendall(b"EHLO esc\x1b[2Jape.test\r\nAUTH PLAIN AHN0dWRlbnQAeA==\r\nQUIT\r\n")
        while not f.readline().startswith(b"221"):
            pass
        cid = last_connection(s)
        s.close()
        SRV.out.wait(r"^\[%d\] \*  end of " % cid)
        lines = conversation(cid)
        self.assertRegex(lines[0], r"^\*  connection from 127\.0\.0\.1 port \d+$")
        self.assertEqual(lines[1], "<- 220 localhost ESMTP smtpsh practice server")
        self.assertEqual(lines[2], "-> EHLO esc\\x1b[2Jape.test")
        self.assertEqual(lines[3], "<- 250-localhost Hello esc?[2Jape.test")
        self.assertIn("-> AUTH PLAIN <redacted>", lines)
        self.assertNotIn("AHN0dWRlbnQAeA", SRV.out.text())
        self.assertIn("<- 221 2.0.0 Bye", lines)
        self.assertEqual(lines[-2], "*  connection closed")
        self.assertRegex(lines[-1], r"^\*  end of 127\.0\.0\.1 port \d+: 3 commands, 0 messages "
                         r"delivered, 0 failed, 1 mistake, \d+\.\d s$")

    def test_invisible_and_combining_bytes_escaped(self):
        """issue 12 (10d, 10e): what a TLS ClientHello sent in plaintext looks like (controls then
        combining marks), zero-width characters: escaped as the client view does"""
        s = socket.create_connection(("127.0.0.1", SRV.port), timeout=10)
        f = s.makefile("rb")
        f.readline()
        s.sendall(b"\x16\x03\x01\xcc\x81\xcc\x88\x02 hello\xe2\x80\x8bworld\xef\xbb\xbf\r\n"
                  b"\xcc\x81NOOP\r\nQUIT\r\n")
        while not f.readline().startswith(b"221"):
            pass
        cid = last_connection(s)
        s.close()
        time.sleep(0.2)
        lines = conversation(cid)
        self.assertIn("-> \\x16\\x03\\x01\\u{0301}\\u{0308}\\x02 hello\\u{200B}world\\u{FEFF}", lines)
        self.assertIn("-> \\u{0301}NOOP", lines)
        self.assertNotIn("\u0301", SRV.out.text())
        self.assertNotIn("\u200b", SRV.out.text())

    def test_control_lines(self):
        """the teacher types settings on standard input: shown, applied, errors on stderr"""
        SRV.control("greylist on", rx=r"^\*  greylist\s+on")
        self.addCleanup(SRV.control, "reset", r"back to their defaults")
        with smtplib.SMTP("127.0.0.1", SRV.port, timeout=10) as s:
            s.ehlo("client.test")
            s.mail("a@client.test")
            code, msg = s.rcpt("b@example.test")
            self.assertEqual((code, msg[:5]), (451, b"4.7.1"))
            self.assertEqual(s.rcpt("b@example.test")[0], 250)
        start = len(SRV.err.lines)
        SRV.p.stdin.write(b"slow forever\n")
        SRV.p.stdin.flush()
        SRV.err.wait(r"^! error: bad value for slow", start)
        SRV.control("show", rx=r"connections?, \d+ messages? stored")


class Script(unittest.TestCase):
    """--serve --script FILE: a recorded server played back to any client."""

    TRANSCRIPTS = os.path.join(HERE, "..", "..", "transcripts")

    def serve(self, path):
        srv = Serve(os.path.join(WORK, "md-script"), ["--script", path],
                    stdin=subprocess.DEVNULL)
        self.addCleanup(srv.stop)
        return srv

    def test_replay_every_curated_transcript(self):
        """smtpsh --replay of each curated transcript against its own --script: all as recorded"""
        names = sorted(f for f in os.listdir(self.TRANSCRIPTS) if f.endswith(".transcript"))
        self.assertGreaterEqual(len(names), 5)
        for name in names:
            with self.subTest(transcript=name):
                path = os.path.join(self.TRANSCRIPTS, name)
                srv = self.serve(path)
                self.assertIn("playing the server side of " + path, srv.out.text())
                env = dict(os.environ, NO_COLOR="1", SMTPSH_REPLAY_PASSWORD="any")
                p = subprocess.run([srv.args[0], "--cafile", srv.cafile, "--replay", path,
                                    "--replay-user", "any", "127.0.0.1", str(srv.port)],
                                   capture_output=True, text=True, timeout=60, env=env,
                                   stdin=subprocess.DEVNULL)
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr + srv.describe())
                self.assertRegex(p.stdout, r"replay: \d+ replies compared, all as recorded")
                self.assertEqual(srv.stop(), 0)

    def test_third_party_client_on_implicit_tls(self):
        """smtplib.SMTP_SSL against an implicit-TLS transcript: TLS first, recorded replies"""
        path = os.path.join(self.TRANSCRIPTS, "03-implicit-tls-465.transcript")
        srv = self.serve(path)
        ctx = ssl.create_default_context(cafile=srv.cafile)
        s = smtplib.SMTP_SSL("localhost", srv.port, context=ctx, timeout=10)
        code, msg = s.ehlo("client.example")
        self.assertEqual(code, 250)
        self.assertTrue(msg.startswith(b"lab.example.test"), msg)
        s.close()  # the recording goes on with AUTH, not QUIT
        self.assertIn("TLS established", srv.out.text())

    def test_other_message_gets_the_recorded_reply(self):
        """issue 17: a client whose message has other lines than the recording (more, fewer,
        different) still gets the recorded reply to its "." (the message compared as a whole,
        the difference noted); it used to get nothing and time out"""
        path = os.path.join(self.TRANSCRIPTS, "01-plain-delivery.transcript")
        for body, sent, first in (("Subject: other\r\n\r\none line only\r\n", 3, 1),
                                  ("".join("line %d\r\n" % i for i in range(12)), 12, 1)):
            with self.subTest(lines=sent):
                srv = self.serve(path)
                with smtplib.SMTP("127.0.0.1", srv.port, local_hostname="client.example",
                                  timeout=10) as s:
                    s.ehlo("client.example")
                    self.assertEqual(s.mail("alice@example.test")[0], 250)
                    self.assertEqual(s.rcpt("bob@example.test")[0], 250)
                    code, msg = s.data(body.encode())
                    self.assertEqual((code, msg), (250, b"2.0.0 Ok: queued as 8D57DA74C32"))
                    self.assertEqual(s.docmd("QUIT")[0], 221)
                srv.out.wait(r"^\[1\] \*  end of ")
                self.assertIn("[1] *  the message differs from the recording (%d lines sent, 8 "
                              "recorded; the first difference at line %d): the recorded reply "
                              "to its \".\" is given all the same" % (sent, first),
                              srv.out.lines)
                self.assertEqual(srv.stop(), 0)

    def test_bad_script(self):
        """a missing transcript, or --script without --serve: exit 2"""
        p = subprocess.run([smtpsh_path(), "--serve", "0",
                            "--script", os.path.join(WORK, "none.transcript")],
                           capture_output=True, text=True, timeout=20)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--script: ", p.stderr)
        p = subprocess.run([smtpsh_path(), "--script", "x"],
                           capture_output=True, text=True, timeout=20)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--script goes with --serve", p.stderr)


class Lifecycle(unittest.TestCase):

    def test_ctrl_c_and_listen(self):
        """Ctrl-C: 421 to clients, clean exit 0; --listen: loopback silent, others warned"""
        md = os.path.join(WORK, "md-ctrl-c")
        srv = Serve(md, ["--listen", "127.0.0.1"], stdin=subprocess.DEVNULL)
        self.assertEqual(srv.err.text(), "")
        self.assertIn("(loopback only)", srv.out.text())
        self.assertNotIn("::1", srv.out.lines[0], "--listen replaces the default addresses")
        c = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        f = c.makefile("rb")
        f.readline()
        self.assertEqual(srv.stop(), 0, srv.describe())
        self.assertRegex(f.readline().decode(), r"^421 4\.3\.2 localhost Service shutting down")
        self.assertIn("*  server stopped (0 messages stored)", srv.out.lines)
        self.assertTrue(os.path.isdir(os.path.join(md, "new")), "--maildir is kept")
        self.assertFalse(os.path.exists(os.path.dirname(srv.cafile)), "its folder is removed")
        c.close()
        # a non-loopback address: a warning (stopped at once)
        srv = Serve(os.path.join(WORK, "md-any"), ["--listen", "0.0.0.0"],
                    stdin=subprocess.DEVNULL)
        self.assertEqual(srv.stop(), 0)
        self.assertIn("! warning: listening on 0.0.0.0: anyone who can reach this machine",
                      srv.err.text())
        self.assertNotIn("(loopback only)", srv.out.text())

    def test_default_listens_on_both_loopbacks(self):
        """without --listen: 127.0.0.1, and ::1 when the machine has it, on the same port"""
        self.assertIn("on 127.0.0.1 port %d" % SRV.port, SRV.out.lines[0])
        with open("/proc/net/if_inet6") as f:
            has_v6 = any(l.startswith("00000000000000000000000000000001 ") for l in f)
        if has_v6:
            self.assertIn("and ::1 port %d" % SRV.port, SRV.out.lines[0])
            with socket.create_connection(("::1", SRV.port), timeout=10) as s:
                self.assertTrue(s.recv(100).startswith(b"220 "))


if __name__ == "__main__":
    tap_main()
