#!/usr/bin/python3
"""smtpsh --lmtp against a real Dovecot LMTP (tests/lab/dovecotlab.py) on loopback TCP and on its
UNIX socket, delivering into Maildirs the test reads; a scripted LMTP server that owes a reply
(the protocol error, with the timeout); and `smtpsh --serve --lmtp` / `--practice --lmtp` for
teaching, spoken to by Python's smtplib.LMTP and by smtpsh itself.

Usage: /usr/bin/python3 tests/lmtp/test_client.py [NAME...]   (prints TAP; needs root and the
packages of scripts/install-test-deps.sh; SMTPSH names the binary)
"""

import os
import re
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
import curated
from dovecotlab import DovecotLab
from smtpshtest import smtpsh_path, tap_main, token

SMTPSH = smtpsh_path()
LAB = None


def setUpModule():
    global LAB
    LAB = DovecotLab().start()


def tearDownModule():
    if LAB:
        LAB.stop()


def run(args, script, timeout=30):
    """smtpsh in batch mode: its exit status, stdout and stderr as text."""
    env = dict(os.environ, HOME=tempfile.gettempdir(), NO_COLOR="1")
    p = subprocess.run([SMTPSH, "-X"] + args, input=script.encode(), capture_output=True,
                       timeout=timeout, env=env)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def transaction(tok, rcpts):
    lines = ["LHLO client.test", "MAIL FROM:<s@client.test>"]
    lines += ["RCPT TO:<%s>" % r for r in rcpts]
    lines += ["DATA", "Subject: " + tok, "", "..dot", "hello", ".", "QUIT"]
    return "".join(l + "\n" for l in lines)


class Dovecot(unittest.TestCase):

    def stored(self, user, tok, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            found = LAB.find_message(user, tok)
            if found:
                return found[1]
            if time.monotonic() > deadline:
                raise AssertionError("no message with %s for %s%s" % (tok, user, LAB.log_tail()))
            time.sleep(0.05)

    def deliver(self, target):
        tok = token()
        rcpts = ["alice@example.test", "nobody@example.test", "full@example.test",
                 "bob@example.test"]
        rc, out, err = run(["--lmtp"] + target, transaction(tok, rcpts))
        self.assertEqual(rc, 0, out + err)
        # one reply per accepted recipient (3 of 4), each shown beside its recipient
        self.assertRegex(out, r"(?m)^<- 550 5\.1\.1 <nobody@example\.test> User doesn't exist")
        self.assertRegex(out, r"(?m)^<- 250 2\.0\.0 <alice@example\.test> \S+ Saved\s+"
                              r"\[for <alice@example\.test>, 1/3\]$")
        self.assertRegex(out, r"(?m)^<- 552 5\.2\.2 <full@example\.test> Quota exceeded "
                              r"\(mailbox for user is full\)\s+\[for <full@example\.test>, 2/3\]")
        self.assertRegex(out, r"(?m)^<- 250 2\.0\.0 <bob@example\.test> \S+ Saved\s+"
                              r"\[for <bob@example\.test>, 3/3\]$")
        # the result per recipient (a batch's message with several): the one refused at RCPT,
        # the one Dovecot refused after DATA, each beside its own reply
        self.assertIn("*  2 of 4 recipients accepted the message; 1 refused at RCPT; 1 refused "
                      "after the message", out)
        self.assertRegex(out, r"(?m)^   nobody@example\.test +550 5\.1\.1 .* +\(not a recipient\)$")
        self.assertRegex(out, r"(?m)^   full@example\.test +250 2\.1\.5 OK +552 5\.2\.2 "
                              r"<full@example\.test> Quota exceeded")
        self.assertRegex(out, r"(?m)^   bob@example\.test +250 2\.1\.5 OK +250 2\.0\.0 "
                              r"<bob@example\.test> \S+ Saved$")
        # QUIT got its own reply: no per-recipient reply was taken for it
        self.assertRegex(out, r"(?m)^-> QUIT\n<- 221 2\.0\.0 Bye")
        self.assertNotIn("protocol error", out + err)
        for user in ("alice", "bob"):
            msg = self.stored(user, tok)
            # the typed line is content as is: smtpsh dot-stuffs it, Dovecot unstuffs it
            self.assertIn(b"Subject: " + tok.encode() + b"\n\n..dot\nhello\n", msg)
        self.assertIsNone(LAB.find_message("full", tok), "refused after DATA: not stored")
        return out

    def test_tcp(self):
        """--lmtp over TCP: three replies after the dot, beside their recipients; Maildirs"""
        out = self.deliver(["127.0.0.1", str(LAB.port)])
        self.assertIn("*  connected to 127.0.0.1 port %d" % LAB.port, out)

    def test_unix_socket(self):
        """--lmtp on Dovecot's UNIX socket: the same conversation, said to be a socket"""
        out = self.deliver([LAB.lmtp_socket])
        self.assertIn("*  connected to UNIX socket %s (LMTP)" % LAB.lmtp_socket, out)

    def test_socket_named_as_a_socket_and_lhlo_as_lhlo(self):
        """on a UNIX socket, \\status, \\tls and the recorded header name the socket, not a
        port (there is none); before LHLO, \\caps and \\status ask for LHLO, not EHLO"""
        rec = os.path.join(LAB.dir, "socket-header.txt")
        script = "\\caps\n\\status\n\\tls\nLHLO client.test\nQUIT\n\\status\n"
        rc, out, err = run(["--lmtp", "--record", rec, LAB.lmtp_socket], script)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("no capabilities known: send LHLO", out)
        self.assertIn("none known (send LHLO)", out)
        self.assertNotIn("send EHLO", out)
        self.assertRegex(out, r"peer:\s+UNIX socket %s \(LMTP\)" % re.escape(LAB.lmtp_socket))
        self.assertIn("plaintext: nothing protects this session to UNIX socket %s\n"
                      % LAB.lmtp_socket, out)
        self.assertRegex(out, r"not connected \(was UNIX socket %s\)" % re.escape(LAB.lmtp_socket))
        self.assertNotRegex(out, r"port 25\b")
        with open(rec) as f:
            header = f.read().split("\n\n")[0]
        self.assertIn("host: %s\ntls: none\nprotocol: lmtp" % LAB.lmtp_socket, header)
        self.assertNotIn("port:", header)

    def test_relative_socket_path(self):
        """./path is a socket path too (relative to the current folder)"""
        rc, out, err = run(["--lmtp", "./" + os.path.relpath(LAB.lmtp_socket)],
                           "LHLO client.test\nQUIT\n")
        self.assertEqual(rc, 0, out + err)
        self.assertIn("<- 250 PIPELINING", out)

    def test_connect_lmtp_in_the_shell(self):
        """\\connect SOCKET --lmtp in a script: LMTP on that connection only"""
        tok = token()
        script = "\\connect %s --lmtp\n" % LAB.lmtp_socket + transaction(tok, ["bob@example.test"])
        rc, out, err = run([], script)
        self.assertEqual(rc, 0, out + err)
        self.assertRegex(out, r"\[for <bob@example\.test>, 1/1\]")
        self.stored("bob", tok)

    def test_send_lmtp(self):
        """--send --lmtp: LHLO by itself, not EHLO; delivered into the Maildir"""
        tok = token()
        rc, out, err = run(["--send", "--lmtp", "--from", "s@client.test", "--to",
                            "bob@example.test", "--subject", tok, "--body", "hi",
                            LAB.lmtp_socket], "")
        self.assertEqual(rc, 0, out + err)
        self.assertRegex(out, r"(?m)^-> LHLO localhost$")
        self.assertNotRegex(out, r"(?m)^-> EHLO")
        self.assertRegex(out, r"\[for <bob@example\.test>, 1/1\]")
        self.stored("bob", tok)

    def test_send_lmtp_chunking(self):
        """--send --lmtp --chunking: BDAT LAST gets one reply per recipient (RFC 2033 4.3) and
        the table shows Dovecot's refusal; a partial result exits 1, with no RSET"""
        tok = token()
        rc, out, err = run(["--send", "--lmtp", "--chunking", "--from", "s@client.test",
                            "--to", "alice@example.test", "--to", "full@example.test",
                            "--subject", tok, "--body", "hi", LAB.lmtp_socket], "")
        self.assertEqual(rc, 1, out + err)
        self.assertRegex(out, r"(?m)^-> BDAT \d+ LAST$")
        self.assertRegex(out, r"(?m)^<- 250 2\.0\.0 <alice@example\.test> \S+ Saved\s+"
                              r"\[for <alice@example\.test>, 1/2\]$")
        self.assertRegex(out, r"(?m)^<- 552 5\.2\.2 <full@example\.test> Quota exceeded "
                              r"\(mailbox for user is full\)\s+\[for <full@example\.test>, 2/2\]")
        self.assertIn("*  1 of 2 recipients accepted the message; 1 refused after the message",
                      out)
        self.assertRegex(out, r"(?m)^   full@example\.test +250 2\.1\.5 OK +552 5\.2\.2 ")
        # the transaction ended with the last recipient's reply: QUIT is answered as QUIT
        self.assertNotRegex(out, r"(?m)^-> RSET")
        self.assertRegex(out, r"(?m)^-> QUIT\n<- 221 2\.0\.0 Bye")
        self.assertNotIn("protocol error", out + err)
        self.assertIn(b"Subject: " + tok.encode(), self.stored("alice", tok))
        self.assertIsNone(LAB.find_message("full", tok), "refused after the message: not stored")

    def test_no_socket(self):
        """a socket path that does not exist: one line, exit 3"""
        rc, out, err = run(["--lmtp", "/nonexistent/lmtp"], "QUIT\n")
        self.assertEqual(rc, 3)
        self.assertIn("cannot connect to socket /nonexistent/lmtp: No such file or directory",
                      out + err)


class Curated(unittest.TestCase):

    def codes(self, text):
        """The commands sent and the reply codes of a transcript, in order."""
        return [l[:l.index("<- ") + 6] if "<- " in l[:300] and not l.startswith("->") else l
                for l in text.split("\n") if l.startswith(("-> ", "<- ", "rcpt:"))]

    def test_curated_lmtp_transcript_is_true(self):
        """transcripts/11-lmtp: recorded again against Dovecot, the same commands and codes"""
        for name, options in curated.LMTP_CURATED:
            out = os.path.join(LAB.dir, name + ".check")
            with open(curated.scenario_path(name)) as f:
                scenario = f.read()
            rc, stdout, err = run(["--record", out] + options + [LAB.lmtp_socket], scenario)
            self.assertEqual(rc, 0, stdout + err)
            with open(out) as f:
                now = f.read()
            with open(curated.transcript_path(name)) as f:
                kept = f.read()
            self.assertEqual(self.codes(now), self.codes(kept), name)
            # one reply per recipient after the ".", each with its recipient (version 2)
            self.assertRegex(kept, r"-> \.\nrcpt:alice@example\.test <- 250 [^\n]*"
                                   r"<alice@example\.test>[^\n]*\n"
                                   r"rcpt:full@example\.test <- 552 5\.2\.2 <full@example\.test>")

    def test_curated_lmtp_transcript_replays(self):
        """--replay of transcripts/11-lmtp against Dovecot: LMTP from its header (protocol:
        lmtp), each recipient's reply to the "." compared (250 for alice, 552 for full), all
        as recorded; without that header line the replay stops at the "." and asks for
        --lmtp, and with --lmtp it plays"""
        for name, options in curated.LMTP_CURATED:
            path = curated.transcript_path(name)
            with open(path) as f:
                text = f.read()
            self.assertIn("\nprotocol: lmtp\n", text.split("\n\n")[0] + "\n")
            rc, out, err = run(["--replay", path, LAB.lmtp_socket], "")
            self.assertEqual(rc, 0, out + err)
            self.assertIn("replay: 10 replies compared, all as recorded", out)
            self.assertNotIn("expected", err)
            bare = os.path.join(LAB.dir, name + ".no-protocol")
            with open(bare, "w") as f:
                f.write(text.replace("protocol: lmtp\n", ""))
            rc, out, err = run(["--replay", bare, LAB.lmtp_socket], "")
            self.assertEqual(rc, 2, out + err)
            self.assertRegex(err, r"replay: line \d+: the recording is LMTP \(a reply per "
                                  r"recipient after the end of data\): replay it with --lmtp")
            rc, out, err = run(["--replay", bare] + options + [LAB.lmtp_socket], "")
            self.assertEqual(rc, 0, out + err)
            self.assertIn("replay: 10 replies compared, all as recorded", out)


class ShortServer(unittest.TestCase):
    """An LMTP server that answers the dot once for two accepted recipients."""

    def test_fewer_replies_is_a_protocol_error(self):
        """1 of 2 replies: a protocol error when the timeout runs out; the connection closed"""
        d = tempfile.mkdtemp(prefix="smtpsh-lm-")
        path = os.path.join(d, "lmtp")
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
        srv.listen(1)
        self.addCleanup(srv.close)
        got = []

        def serve():
            c, _ = srv.accept()
            f = c.makefile("rb")
            c.sendall(b"220 short LMTP\r\n")
            for line in f:
                got.append(line)
                if line.startswith(b"LHLO"):
                    c.sendall(b"250-short\r\n250 PIPELINING\r\n")
                elif line.startswith(b"DATA"):
                    c.sendall(b"354 go\r\n")
                elif line == b".\r\n":
                    c.sendall(b"250 2.0.0 <a@x> Saved\r\n")  # and none for b@x
                elif line.startswith((b"MAIL", b"RCPT")):
                    c.sendall(b"250 ok\r\n")
            c.close()

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        script = "LHLO me\nMAIL FROM:<s@x>\nRCPT TO:<a@x>\nRCPT TO:<b@x>\nDATA\nhi\n.\nNOOP\n"
        rc, out, err = run(["--lmtp", "--strict", "--timeout", "1", path], script)
        self.assertIn("[for <a@x>, 1/2]", out)
        self.assertIn("protocol error: the LMTP server sent 1 of the 2 replies owed to the end "
                      "of DATA (one per accepted recipient, RFC 2033 4.2) and no more within "
                      "1 s; connection closed", out + err)
        self.assertEqual(rc, 5, out + err)
        t.join(5)
        self.assertNotIn(b"NOOP\r\n", got, "nothing sent after the missing reply")


class UnixSocketAuth(unittest.TestCase):

    def test_auth_in_plaintext_over_a_unix_socket_is_local(self):
        """a UNIX socket is this host: plaintext AUTH is not refused there (as on loopback)"""
        d = tempfile.mkdtemp(prefix="smtpsh-lm-")
        path = os.path.join(d, "smtp")
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
        srv.listen(1)
        self.addCleanup(srv.close)
        got = []

        def serve():
            c, _ = srv.accept()
            f = c.makefile("rb")
            c.sendall(b"220 unix ESMTP\r\n")
            for line in f:
                got.append(line)
                if line.startswith(b"EHLO"):
                    c.sendall(b"250-unix\r\n250 AUTH PLAIN\r\n")
                elif line.startswith(b"AUTH"):
                    c.sendall(b"235 2.7.0 ok\r\n")
                elif line.startswith(b"QUIT"):
                    c.sendall(b"221 bye\r\n")
                    break
            c.close()

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        rc, out, err = run(["--strict", path], "EHLO me\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\nQUIT\n")
        t.join(5)
        self.assertEqual(rc, 0, out + err)
        self.assertNotIn("refusing to send AUTH", out + err)
        self.assertIn(b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n", got)
        self.assertNotIn("AGFsaWNlAHNlY3JldA==", out, "the secret is still redacted on screen")


class Practice(unittest.TestCase):

    def serve(self):
        d = tempfile.mkdtemp(prefix="smtpsh-lm-")
        md = os.path.join(d, "md")
        p = subprocess.Popen([SMTPSH, "--serve", "--lmtp", "--maildir", md, "0"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        self.addCleanup(p.wait, 10)
        self.addCleanup(p.terminate)
        first = p.stdout.readline().decode()
        self.assertIn("speaking LMTP", first)
        return int(re.search(r"port (\d+)", first).group(1)), md

    def stored(self, md, tok):
        files = [os.path.join(r, f) for r, _, fs in os.walk(md) for f in fs]
        return [f for f in files if tok.encode() in open(f, "rb").read()]

    def test_serve_lmtp_raw_socket(self):
        """--serve --lmtp: a raw-socket client gets one reply per recipient after the dot"""
        port, md = self.serve()
        tok = token()
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.addCleanup(s.close)
        f = s.makefile("rb")

        def reply():
            out = []
            while True:
                line = f.readline()
                self.assertTrue(line.endswith(b"\r\n"), out)
                out.append(line[:-2])
                if line[3:4] != b"-":
                    return out

        self.assertRegex(reply()[0], rb"^220 .* LMTP ")
        s.sendall(b"EHLO client.test\r\n")
        self.assertRegex(reply()[0], rb"^500 .*LHLO, not EHLO")
        s.sendall(b"LHLO client.test\r\n")
        self.assertEqual(reply()[0][:4], b"250-")
        s.sendall(b"MAIL FROM:<s@client.test>\r\nRCPT TO:<bob@example.org>\r\n"
                  b"RCPT TO:<carol@example.org>\r\nDATA\r\n")
        self.assertEqual([reply()[0][:3] for _ in range(4)], [b"250", b"250", b"250", b"354"])
        s.sendall(b"Subject: %s\r\n\r\nhi\r\n.\r\n" % tok.encode())
        self.assertRegex(reply()[0], rb"^250 2\.0\.0 <bob@example\.org> ")
        self.assertRegex(reply()[0], rb"^250 2\.0\.0 <carol@example\.org> ")
        s.sendall(b"QUIT\r\n")
        self.assertEqual(reply()[0][:4], b"221 ", "two replies after the dot, no third")
        self.assertTrue(self.stored(md, tok))

    def test_serve_lmtp_smtplib(self):
        """--serve --lmtp: Python's smtplib.LMTP (LHLO) delivers to one recipient"""
        port, md = self.serve()
        tok = token()
        # smtplib.LMTP.sendmail reads one reply after the dot: one recipient is what it can do
        with smtplib.LMTP("127.0.0.1", port) as lm:
            self.assertEqual(lm.ehlo("client.test")[0], 250)
            self.assertEqual(lm.sendmail("s@client.test", ["bob@example.org"],
                                         "Subject: %s\r\n\r\nhi\r\n" % tok), {})
        self.assertTrue(self.stored(md, tok))

    def test_practice_lmtp_starttls(self):
        """--practice --lmtp --starttls: the automatic greeting is LHLO, before and after TLS"""
        tok = token()
        script = ("MAIL FROM:<s@example.org>\nRCPT TO:<bob@example.org>\n"
                  "RCPT TO:<carol@example.org>\nDATA\nSubject: %s\n\nhi\n.\nQUIT\n" % tok)
        rc, out, err = run(["--practice", "--lmtp", "--starttls"], script)
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(len(re.findall(r"(?m)^[-~]> LHLO localhost$", out)), 2, out)
        self.assertNotRegex(out, r"(?m)^[-~]> EHLO")
        self.assertRegex(out, r"(?m)^<~ 250 .*\[for <bob@example\.org>, 1/2\]$")
        self.assertRegex(out, r"(?m)^<~ 250 .*\[for <carol@example\.org>, 2/2\]$")


if __name__ == "__main__":
    tap_main()
