#!/usr/bin/python3
"""smtpsh --serve's teacher view (issue 17): the real binary, real clients (smtplib, swaks,
curl) and a raw-socket client making each classic mistake of the assignment (missing CRLF,
MAIL before EHLO, AUTH before STARTTLS, no EHLO after TLS, no final "."). Asserts the words on
the teacher's screen: the arrows (-> client, <- server), the line-end marks, the named
mistakes, message lines apart, the summary per connection, --quiet, the counts, and that no
AUTH answer ever shows.

Usage: PYTHONPATH=tests/lib /usr/bin/python3 tests/practice/test_teacher.py [PATH/TO/smtpsh] [NAME...]
Prints TAP.
"""

import base64
import os
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True
from smtpshtest import smtpsh_path, tap_main, token
from practicelib import Serve

WORK = tempfile.mkdtemp(prefix="smtpsh-teacher-test-")
SRV = None


def setUpModule():
    global SRV
    SRV = Serve(os.path.join(WORK, "Maildir"))


def tearDownModule():
    if SRV:
        SRV.stop()
    shutil.rmtree(WORK, ignore_errors=True)


def finished_connection(srv, start):
    """The screen lines (without "[N] ") of the first connection accepted at or after line
    START, once its summary line came."""
    i = srv.out.wait(r"^\[\d+\] \*  connection from", start)
    cid = int(re.match(r"^\[(\d+)\]", srv.out.lines[i]).group(1))
    srv.out.wait(r"^\[%d\] \*  end of " % cid, i)
    prefix = "[%d] " % cid
    return [l[len(prefix):] for l in srv.out.lines if l.startswith(prefix)]


class Raw:
    """The student's raw-socket client: sends lines as given, reads the replies."""

    def __init__(self, port, tls_ctx=None):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.f = self.s.makefile("rb")
        self.reply()

    def reply(self):
        lines = []
        while True:
            l = self.f.readline()
            if not l:
                return lines
            lines.append(l.decode())
            if l[3:4] != b"-":
                return lines

    def send(self, data, wait=True):
        self.s.sendall(data)
        return self.reply() if wait else None

    def starttls(self, cafile):
        self.send(b"STARTTLS\r\n")
        ctx = ssl.create_default_context(cafile=cafile)
        self.f.close()
        self.s = ctx.wrap_socket(self.s, server_hostname="localhost")
        self.f = self.s.makefile("rb")

    def close(self):
        self.f.close()
        self.s.close()


class LineEnds(unittest.TestCase):

    def test_bare_lf_commands(self):
        """commands ended with a bare LF: [LF] beside each, explained once"""
        start = len(SRV.out.lines)
        c = Raw(SRV.port)
        c.send(b"EHLO student\n")
        c.send(b"NOOP\n")
        c.send(b"QUIT\r\n")
        c.close()
        lines = finished_connection(SRV, start)
        self.assertIn("-> EHLO student   [LF]", lines)
        self.assertIn("-> NOOP   [LF]", lines)
        self.assertIn("-> QUIT", lines)
        told = [l for l in lines if l.startswith("*  [LF]: ")]
        self.assertEqual(told, ["*  [LF]: this line ended with a bare LF, not CRLF: every "
                                "line, commands too, ends with CR LF (RFC 5321 2.3.8)"])
        self.assertEqual(lines.index(told[0]), lines.index("-> EHLO student   [LF]") + 1,
                         "explained beside the first line")

    def test_stray_cr(self):
        """a CR inside a command line: [CR]"""
        start = len(SRV.out.lines)
        c = Raw(SRV.port)
        c.send(b"NO\rOP\r\n")
        c.send(b"QUIT\r\n")
        c.close()
        lines = finished_connection(SRV, start)
        self.assertIn("-> NO\\rOP   [CR]", lines)
        self.assertTrue(any(l.startswith("*  [CR]: a CR inside the line") for l in lines), lines)

    def test_last_line_without_crlf(self):
        """the connection closed after a last line without CRLF: shown, [no CRLF]"""
        start = len(SRV.out.lines)
        c = Raw(SRV.port)
        c.send(b"EHLO student\r\n")
        c.send(b"QUIT", wait=False)
        time.sleep(0.3)
        c.close()
        lines = finished_connection(SRV, start)
        i = lines.index("-> QUIT   [no CRLF]")
        self.assertTrue(lines[i + 1].startswith("*  [no CRLF]: the connection closed before "
                                                "this line ended"), lines)
        self.assertRegex(lines[-1], r"^\*  end of .*: 1 command, 0 messages delivered, 0 failed, "
                         r"1 mistake, ")

    def test_message_lines_with_bare_lf(self):
        """message lines are checked too: "| " apart from commands, [LF] beside them"""
        start = len(SRV.out.lines)
        c = Raw(SRV.port)
        c.send(b"EHLO student\r\n")
        c.send(b"MAIL FROM:<s@client.test>\r\n")
        c.send(b"RCPT TO:<r@example.test>\r\n")
        c.send(b"DATA\r\n")
        c.send(b"Subject: lf\nbody\r\n.\r\n")  # CRLF.CRLF alone ends the data
        c.send(b"QUIT\r\n")
        c.close()
        lines = finished_connection(SRV, start)
        self.assertIn("-> | Subject: lf   [LF]", lines)
        self.assertIn("-> | body", lines)
        self.assertIn("-> .", lines)


class Mistakes(unittest.TestCase):

    def test_mail_before_ehlo(self):
        start = len(SRV.out.lines)
        c = Raw(SRV.port)
        c.send(b"MAIL FROM:<s@client.test>\r\n")
        c.send(b"QUIT\r\n")
        c.close()
        lines = finished_connection(SRV, start)
        i = lines.index("-> MAIL FROM:<s@client.test>")
        self.assertEqual(lines[i + 1], "*  mistake: MAIL before EHLO: say EHLO (or HELO) first "
                         "(RFC 5321 4.1.4)")
        self.assertTrue(lines[i + 2].startswith("<- 503 "), lines)

    def test_auth_before_starttls_answers_redacted(self):
        """AUTH LOGIN before STARTTLS: named; the client that does not read the 538 sends its
        base64 user and password as "commands": redacted all the same"""
        user, password = "student", "Secret-Pw-4711"
        b64u, b64p = (base64.b64encode(x.encode()) for x in (user, password))
        start = len(SRV.out.lines)
        c = Raw(SRV.port)
        c.send(b"EHLO student\r\n")
        c.send(b"AUTH LOGIN\r\n")
        c.send(b64u + b"\r\n")
        c.send(b64p + b"\r\n")
        c.send(b"QUIT\r\n")
        c.close()
        lines = finished_connection(SRV, start)
        i = lines.index("-> AUTH LOGIN")
        self.assertEqual(lines[i + 1], "*  mistake: AUTH before STARTTLS: this server offers "
                         "AUTH only after STARTTLS (its EHLO reply lists no AUTH yet; RFC 3207, "
                         "RFC 4954 4)")
        self.assertTrue(lines[i + 2].startswith("<- 538 5.7.11"), lines)
        self.assertEqual(lines[i + 3], "-> <redacted>")
        self.assertEqual(lines[i + 5], "-> <redacted>")
        text = SRV.out.text()
        for secret in (password, b64p.decode(), b64u.decode()):
            self.assertNotIn(secret, text)

    def test_no_ehlo_after_starttls(self):
        start = len(SRV.out.lines)
        c = Raw(SRV.port)
        c.send(b"EHLO student\r\n")
        c.starttls(SRV.cafile)
        r = c.send(b"MAIL FROM:<s@client.test>\r\n")
        c.send(b"QUIT\r\n")
        c.close()
        lines = finished_connection(SRV, start)
        i = lines.index("~> MAIL FROM:<s@client.test>")
        self.assertEqual(lines[i + 1], "*  mistake: no EHLO after STARTTLS: the session starts "
                         "over under TLS, so EHLO again after TLS (RFC 3207 4.2) before MAIL")

    def test_forgotten_dot_quit_as_message_line(self):
        """the "." forgotten: QUIT goes into the message, the client waits for 221, the server
        for more lines; the connection ends inside DATA: named, nothing stored"""
        start = len(SRV.out.lines)
        c = Raw(SRV.port)
        c.send(b"EHLO student\r\n")
        c.send(b"MAIL FROM:<s@client.test>\r\n")
        c.send(b"RCPT TO:<r@example.test>\r\n")
        c.send(b"DATA\r\n")
        c.send(b"Subject: no dot\r\n\r\nhello\r\nQUIT\r\n", wait=False)
        time.sleep(0.5)
        c.close()
        lines = finished_connection(SRV, start)
        self.assertIn("-> | QUIT", lines)
        self.assertIn('*  mistake: "QUIT" was sent as a message line: the line "." that ends '
                      'the message was forgotten (RFC 5321 4.1.1.4); nothing stored', lines)
        self.assertRegex(lines[-1], r": 4 commands, 0 messages delivered, 1 failed, 1 mistake, ")

    def test_forgotten_dot_then_timeout(self):
        """the classic: no "." after the message, the client waits for the reply to its QUIT,
        the server for the end of the data, until its timeout: the 421, then the mistake"""
        srv = Serve(os.path.join(WORK, "md-timeout"))
        try:
            srv.control("timeout 1", r"timeout")
            start = len(srv.out.lines)
            c = Raw(srv.port)
            c.send(b"EHLO student\r\n")
            c.send(b"MAIL FROM:<s@client.test>\r\n")
            c.send(b"RCPT TO:<r@example.test>\r\n")
            c.send(b"DATA\r\n")
            reply = c.send(b"Subject: no dot\r\n\r\nhello\r\nQUIT\r\n")
            self.assertTrue(reply[0].startswith("421 4.4.2"), reply)
            c.close()
            lines = finished_connection(srv, start)
        finally:
            srv.stop()
        i = lines.index("-> | QUIT")
        self.assertEqual(lines[i + 1], "*  the client said nothing for 1 s")
        self.assertTrue(lines[i + 2].startswith("<- 421 4.4.2 "), lines)
        self.assertIn('*  mistake: "QUIT" was sent as a message line: the line "." that ends '
                      'the message was forgotten (RFC 5321 4.1.1.4); nothing stored',
                      lines[i + 3:])

    def test_closed_inside_data(self):
        """the connection closed inside DATA: "nothing stored", not a TLS story"""
        start = len(SRV.out.lines)
        c = Raw(SRV.port)
        c.send(b"EHLO student\r\n")
        c.starttls(SRV.cafile)
        c.send(b"EHLO student\r\n")
        c.send(b"MAIL FROM:<s@client.test>\r\n")
        c.send(b"RCPT TO:<r@example.test>\r\n")
        c.send(b"DATA\r\n")
        c.send(b"Subject: cut\r\n\r\nhalf a message\r\n", wait=False)
        time.sleep(0.3)
        c.close()
        lines = finished_connection(SRV, start)
        self.assertIn("*  mistake: the connection ended inside DATA, before the line \".\" "
                      "that ends the message (RFC 5321 4.1.1.4): nothing stored", lines)

    def tls_login_client(self):
        c = Raw(SRV.port)
        c.send(b"EHLO student\r\n")
        c.starttls(SRV.cafile)
        c.send(b"EHLO student\r\n")
        return c

    def test_failed_logins_never_show_answers(self):
        """a failing AUTH LOGIN (bad base64 user: the password then arrives as a command),
        a failing AUTH PLAIN without NULs, a multi-step PLAIN: no answer is ever shown"""
        password = "Pw-%s" % token()
        b64p = base64.b64encode(password.encode())
        start = len(SRV.out.lines)
        c = self.tls_login_client()
        self.assertTrue(c.send(b"AUTH LOGIN\r\n")[0].startswith("334"))
        self.assertTrue(c.send(b"!!not-base64!!\r\n")[0].startswith("501"))
        self.assertTrue(c.send(b64p + b"\r\n")[0].startswith("500"))   # the lost password
        nonul = base64.b64encode(("student" + password).encode())
        self.assertTrue(c.send(b"AUTH PLAIN " + nonul + b"\r\n")[0].startswith("535"))
        self.assertTrue(c.send(b"AUTH PLAIN\r\n")[0].startswith("334"))
        wrong = base64.b64encode(("\0student\0" + password).encode())
        self.assertTrue(c.send(wrong + b"\r\n")[0].startswith("535"))
        c.send(b"QUIT\r\n")
        c.close()
        lines = finished_connection(SRV, start)
        text = SRV.out.text()
        for secret in (password, b64p.decode(), nonul.decode(), wrong.decode(),
                       "!!not-base64!!"):
            self.assertNotIn(secret, text)
        self.assertIn("*  mistake: the AUTH answer is not base64: each answer to a 334 is "
                      "base64 (RFC 4954 4)", lines)
        self.assertIn("*  mistake: AUTH PLAIN without the NUL separators: the answer is base64 "
                      "of authzid NUL user NUL password, the authzid often empty (RFC 4616 2)",
                      lines)
        self.assertEqual(lines.count("~> <redacted>"), 3, lines)
        self.assertIn("~> AUTH PLAIN <redacted>", lines)


class Clients(unittest.TestCase):
    """Clients that do it right: no mistake named, one message delivered."""

    def check_clean(self, lines):
        self.assertFalse([l for l in lines if "mistake:" in l or "[LF]" in l], lines)
        self.assertRegex(lines[-1], r"^\*  end of 127\.0\.0\.1 port \d+: \d+ commands, 1 message "
                         r"delivered, 0 failed, 0 mistakes, \d+\.\d s$")

    def test_smtplib_message_lines(self):
        """smtplib: message lines marked "| ", the first 20 shown, then how many more"""
        start = len(SRV.out.lines)
        body = "".join("line %02d\r\n" % i for i in range(30))
        msg = "Subject: thirty\r\n\r\n" + body
        with smtplib.SMTP("127.0.0.1", SRV.port, local_hostname="client.test", timeout=10) as s:
            s.sendmail("s@client.test", ["r@example.test"], msg.encode())
        lines = finished_connection(SRV, start)
        self.check_clean(lines)
        self.assertIn("-> | Subject: thirty", lines)
        self.assertIn("-> | line 17", lines)
        self.assertNotIn("-> | line 18", lines)
        octets = len(msg.encode())
        self.assertIn("*  ... 12 more message lines, %d octets in all" % octets, lines)
        self.assertLess(lines.index("*  ... 12 more message lines, %d octets in all" % octets),
                        lines.index("-> ."))

    def test_swaks(self):
        start = len(SRV.out.lines)
        r = subprocess.run(["/usr/bin/swaks", "--server", "127.0.0.1", "--port", str(SRV.port),
                            "--from", "s@client.test", "--to", "r@example.test",
                            "--helo", "client.test"], capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.check_clean(finished_connection(SRV, start))

    def test_curl(self):
        start = len(SRV.out.lines)
        path = os.path.join(WORK, "curl.eml")
        with open(path, "wb") as f:
            f.write(b"Subject: from curl\r\n\r\nhello\r\n")
        r = subprocess.run(["/usr/bin/curl", "-sS", "smtp://127.0.0.1:%d" % SRV.port,
                            "--mail-from", "s@client.test", "--mail-rcpt", "r@example.test",
                            "--upload-file", path], capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        lines = finished_connection(SRV, start)
        self.check_clean(lines)
        self.assertIn("-> | Subject: from curl", lines)


class Quiet(unittest.TestCase):

    def test_quiet_summaries_mistakes_and_counts(self):
        """--quiet: only the mistakes and the summaries; "stats" and Ctrl-C count the
        clients seen, delivered and failed"""
        srv = Serve(os.path.join(WORK, "md-quiet"), extra=["--quiet"])
        try:
            start = len(srv.out.lines)
            with smtplib.SMTP("127.0.0.1", srv.port, timeout=10) as s:
                s.sendmail("s@client.test", ["r@example.test"], b"Subject: q\r\n\r\nhi\r\n")
            srv.out.wait(r"^\[1\] \*  end of ", start)
            c = Raw(srv.port)
            c.send(b"EHLO x\n")
            c.send(b"QUIT\r\n")
            c.close()
            srv.out.wait(r"^\[2\] \*  end of ", start)
            srv.control("stats", r"clients seen")
            shown = srv.out.lines[start:]
            self.assertFalse([l for l in shown if re.match(r"^\[\d+\] (->|<-|~>|<~) ", l)],
                             shown)
            self.assertRegex(shown[0], r"^\[1\] \*  end of 127\.0\.0\.1 port \d+: 5 commands, "
                             r"1 message delivered, 0 failed, 0 mistakes")
            self.assertTrue(shown[1].startswith("[2] *  [LF]: "), shown)
            self.assertRegex(shown[2], r"^\[2\] \*  end of .*: 2 commands, 0 messages "
                             r"delivered, 0 failed, 1 mistake, ")
            self.assertEqual(shown[3], "*  2 clients seen: 1 delivered a message, 1 ended "
                             "without one; 1 message delivered, 0 failed; 1 mistake named")
        finally:
            self.assertEqual(srv.stop(), 0)
        self.assertEqual(srv.out.lines[-1], "*  2 clients seen: 1 delivered a message, 1 ended "
                         "without one; 1 message delivered, 0 failed; 1 mistake named")


class Record(unittest.TestCase):
    """--serve --record DIR: a server-side transcript per connection (transcripts/FORMAT.md,
    "Server-side transcripts"); --replay and --serve --script both read it."""

    def test_record_replay_and_script(self):
        rec = os.path.join(WORK, "rec")
        os.mkdir(rec)
        srv = Serve(os.path.join(WORK, "md-rec"), extra=["--record", rec])
        try:
            password = "Pw-%s" % token()
            b64p = base64.b64encode(password.encode())
            start = len(srv.out.lines)
            c = Raw(srv.port)
            c.send(b"EHLO student\n")
            c.send(b"AUTH LOGIN\r\n")
            c.send(b64p + b"\r\n")
            c.send(b"QUIT\r\n")
            c.close()
            finished_connection(srv, start)
            start = len(srv.out.lines)
            tok = token()
            with smtplib.SMTP("127.0.0.1", srv.port, local_hostname="client.test",
                              timeout=10) as s:
                s.sendmail("s@client.test", ["r@example.test"],
                           ("Subject: %s\r\n\r\n.dot\r\nbody\r\n" % tok).encode())
            finished_connection(srv, start)
        finally:
            self.assertEqual(srv.stop(), 0)
        names = sorted(os.listdir(rec))
        self.assertEqual(len(names), 2, names)
        for i, name in enumerate(names):
            self.assertRegex(name, r"^\d{8}T\d{6}Z-%d-127\.0\.0\.1\.transcript$" % (i + 1))
            self.assertEqual(os.stat(os.path.join(rec, name)).st_mode & 0o777, 0o600)
        with open(os.path.join(rec, names[0])) as f:
            first = f.read()
        head, body = first.split("\n\n", 1)
        self.assertRegex(head, r"^smtpsh-transcript 2\ntool: smtpsh \S+\ndate: \S+\nhost: "
                         r"127\.0\.0\.1\nport: %d\ntls: none\nperspective: server\npeer: "
                         r"127\.0\.0\.1 \d+$" % srv.port)
        self.assertTrue(body.startswith("<- 220 localhost ESMTP smtpsh practice server\n"
                                        "-> EHLO student\n*  bare LF at the end of this line\n"),
                        body)
        self.assertIn("-> AUTH LOGIN\n*  mistake: AUTH before STARTTLS", body)
        self.assertIn("<- 538 5.7.11 ", body)
        self.assertIn("\n-> <redacted>\n<- 500 ", body)
        self.assertNotIn(password, first)
        self.assertNotIn(b64p.decode(), first)
        self.assertRegex(body, r"\*  end of 127\.0\.0\.1 port \d+: 3 commands, 0 messages "
                         r"delivered, 0 failed, 2 mistakes, \d+\.\d s\n$")
        second = os.path.join(rec, names[1])
        with open(second) as f:
            text = f.read()
        self.assertIn("-> Subject: %s\n->\n-> ..dot\n-> body\n-> .\n" % tok, text,
                      "every message line, as received (dot-stuffed)")

        # --diagram draws what --serve --record wrote (issue 19): the lanes are the peer and
        # the server, the teacher view's diagnoses are notes beside their line
        p = subprocess.run([smtpsh_path(), "--diagram", os.path.join(rec, names[0]),
                            "--format", "txt", "--width", "80"], capture_output=True,
                           text=True, timeout=30, stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("smtpsh --serve 127.0.0.1 %d" % srv.port, p.stdout)
        self.assertRegex(p.stdout, r"127\.0\.0\.1 port \d+ +smtpsh --serve")
        self.assertRegex(p.stdout, r"EHLO student .*\n.*\* bare LF at the end of this line")
        self.assertNotIn(password, p.stdout)
        self.assertTrue(all(len(l) <= 80 for l in p.stdout.splitlines()))

        # --replay: the client's side of a server-side transcript is its "->" lines
        srv2 = Serve(os.path.join(WORK, "md-rec2"), stdin=subprocess.DEVNULL)
        try:
            p = subprocess.run([smtpsh_path(), "--replay", second, "127.0.0.1",
                                str(srv2.port)], capture_output=True, text=True, timeout=60,
                               stdin=subprocess.DEVNULL, env=dict(os.environ, NO_COLOR="1"))
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertRegex(p.stdout, r"replay: \d+ replies compared, all as recorded")
        finally:
            srv2.stop()
        # --serve --script: its "<-" lines are the server to play
        srv3 = Serve(os.path.join(WORK, "md-rec3"), ["--script", second],
                     stdin=subprocess.DEVNULL)
        try:
            with smtplib.SMTP("127.0.0.1", srv3.port, local_hostname="client.test",
                              timeout=10) as s:
                s.ehlo("client.test")
                self.assertEqual(s.mail("s@client.test")[0], 250)
                self.assertEqual(s.rcpt("r@example.test")[0], 250)
                code, msg = s.data(("Subject: %s\r\n\r\n.dot\r\nbody\r\n" % tok).encode())
                self.assertEqual(code, 250)
                self.assertRegex(msg.decode(), r"^2\.0\.0 Ok: stored as \w+$")
        finally:
            srv3.stop()

    def test_record_folder(self):
        """A missing folder is made (mode 0700, as the transcripts are the students'
        sessions); a missing parent or a file is refused with the reason."""
        made = os.path.join(WORK, "made-by-serve")
        srv = Serve(os.path.join(WORK, "md-made"), extra=["--record", made],
                    stdin=subprocess.DEVNULL)
        try:
            self.assertEqual(os.stat(made).st_mode & 0o777, 0o700)
        finally:
            srv.stop()
        p = subprocess.run([smtpsh_path(), "--serve", "0", "--record",
                            os.path.join(WORK, "no-such-parent", "rec")], capture_output=True,
                           text=True, timeout=20, stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, 2)
        self.assertIn("cannot make the folder: No such file or directory", p.stderr)
        afile = os.path.join(WORK, "a-file")
        with open(afile, "w") as f:
            f.write("x\n")
        p = subprocess.run([smtpsh_path(), "--serve", "0", "--record", afile],
                           capture_output=True, text=True, timeout=20,
                           stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--serve --record DIR writes a transcript per connection into the folder "
                      "DIR: %s is not a folder" % afile, p.stderr)


class Options(unittest.TestCase):
    """issue 17: an option that does not apply to --serve is refused by name, never silently
    ignored. Every option of --help (tests/tool checks --help against the parser) is tried."""

    # what goes with --serve (and --help, --version, which leave at once)
    APPLY = {"--serve", "--listen", "--maildir", "--script", "--lmtp", "--quiet", "--record",
             "--like", "--tls", "--tls-port", "--max-clients", "--max-per-address",
             "--help", "--version"}

    def values(self):
        f = os.path.join(WORK, "file.txt")
        with open(f, "w") as fh:
            fh.write("x\n")
        return {"--cafile": f, "--timeout": "5", "--ehlo": "client.test", "--file": f,
                "--color": "never", "--theme": "light", "--profile": "office365", "--record": f + ".rec",
                "--replay": f, "--replay-user": "u", "--password-command": "true",
                "--oauth-token-command": "true", "--oauth-login": "office365",
                "--from": "a@b.test", "--to": "c@d.test", "--cc": "c@d.test",
                "--bcc": "c@d.test", "--subject": "s", "--body": "b", "--body-file": f,
                "--attach": f, "--header": "X-A: b", "--notify": "NEVER", "--ret": "FULL",
                "--envid": "x", "--auth": "PLAIN", "--user": "u", "--sni": "localhost",
                "--proxy": "v1", "--proxy-from": "192.0.2.1:25", "--resolver": "127.0.0.1",
                "--trust-anchor": f, "--diagram": f, "--output": f + ".svg", "--format": "txt",
                "--width": "80", "--role": "mx", "--check-rcpt": "a@b.test",
                "--tls-min": "1.2", "--tls-max": "1.3", "--ciphers": "HIGH",
                "--ciphersuites": "TLS_AES_128_GCM_SHA256", "--groups": "X25519",
                "--cert": f, "--key": f, "--key-password-command": "true"}

    def test_every_option_that_does_not_apply_is_refused(self):
        help_text = subprocess.run([smtpsh_path(), "--help"], capture_output=True,
                                   text=True).stdout
        names = sorted(set(re.findall(r"^ +(?:-\w, )?(--[a-z0-9-]+)", help_text, re.M)))
        self.assertGreater(len(names), 60, names)
        values = self.values()
        tried = 0
        for name in names:
            if name in self.APPLY:
                continue
            with self.subTest(option=name):
                argv = [smtpsh_path(), "--serve", "0", name] + (
                    [values[name]] if name in values else [])
                env = dict(os.environ, SMTPSH_REPLAY_PASSWORD="x")
                p = subprocess.run(argv, capture_output=True, text=True, timeout=20, env=env,
                                   stdin=subprocess.DEVNULL)
                self.assertEqual(p.returncode, 2, "%s: %s%s" % (name, p.stdout, p.stderr))
                self.assertNotIn("practice server on", p.stdout)
                short = {"--file": "-f", "--output": "-o"}
                self.assertIn(short.get(name, name), p.stderr)
                tried += 1
        self.assertGreater(tried, 50)

    def test_refusal_words(self):
        p = subprocess.run([smtpsh_path(), "--serve", "0", "--timeout", "5"],
                           capture_output=True, text=True, timeout=20,
                           stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, 2)
        self.assertEqual(p.stderr.split("\n")[0], "smtpsh: --serve runs a server and shows its "
                         "own view: --timeout does not apply to it (type 'timeout N' on its "
                         "standard input)")
        p = subprocess.run([smtpsh_path(), "--quiet"], capture_output=True, text=True,
                           timeout=20, stdin=subprocess.DEVNULL)
        self.assertEqual((p.returncode, p.stderr), (2, "smtpsh: --quiet goes with --serve\n"))


if __name__ == "__main__":
    tap_main()
