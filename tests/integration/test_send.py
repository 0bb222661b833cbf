#!/usr/bin/python3
"""smtpsh's \\send and --send against a real Postfix: a message with two recipients and a
Bcc, a UTF-8 subject and an attachment arrives in every Maildir and parses (Python's email
package) to the same subject and attachment bytes, without a Bcc header; a 50 MB body file
is delivered intact with smtpsh's peak memory under 16 MB (/usr/bin/time -v); an 8-bit body
uses BODY=8BITMIME; an SMTPUTF8 sender; a refused recipient stops the steps and RSETs; the
one-line --send mode and its exit statuses; -f scripts.

Usage: PYTHONPATH=tests/lib /usr/bin/python3 tests/integration/test_send.py
       [PATH/TO/smtpsh] [NAME...]
"""

import email
import email.policy
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True
from lablib import ModuleLab, split_delivered
from smtpshtest import free_port, parse_transcript, run_smtpsh, smtpsh_path, tap_main, token

BIG = 50 * 1024 * 1024
SMALL = 4000  # the SIZE of the lab's small listener
MAX_RSS_KB = 16 * 1024
# AddressSanitizer's shadow memory and quarantine count in the RSS of an ASan build: the
# bound there still proves the 50 MB are streamed, not held.
MAX_RSS_KB_ASAN = 48 * 1024


def sanitized():
    """Is the binary under test built with AddressSanitizer?"""
    with open(smtpsh_path(), "rb") as f:
        return b"__asan_init" in f.read()


LAB = ModuleLab(size_limit=BIG + 20 * 1024 * 1024, small_limit=SMALL)
setUpModule, tearDownModule = LAB.start, LAB.stop


def parse(data):
    """The delivered file as an email.message.EmailMessage (Postfix's 4 headers dropped)."""
    _, rest = split_delivered(data)
    return email.message_from_bytes(rest, policy=email.policy.default)


class Send(unittest.TestCase):

    def setUp(self):
        self.home = tempfile.mkdtemp(prefix="home-", dir=LAB.dir)

    def path(self, name, data):
        p = os.path.join(self.home, name)
        with open(p, "wb") as f:
            f.write(data)
        return p

    def sub_args(self):
        return ["--starttls", "--cafile", LAB.cafile, "--password-command",
                "echo " + LAB.password]

    def test_two_recipients_bcc_utf8_subject_attachment(self):
        """\\send: To, Cc and Bcc each get it; subject, attachment, no Bcc header"""
        tok = token()
        subject = "Gr\u00fc\u00dfe aus K\u00f6ln \u2014 \u65e5\u672c\u8a9e \U0001F600 " + tok
        att = os.urandom(70000) + b"\r\n.\r\n\x00end"
        att_path = self.path("report \u00e9t\u00e9.pdf", att)
        body = "Hello,\n.a line with a dot\nbye\n"
        cmd = ('\\send --from "Alice Example <alice@example.test>" --to bob@example.test '
               '--cc "Carol <carol@example.test>" --bcc alice@example.test '
               '--subject "%s" --body "%s" --attach "%s" --header "X-Token: %s"'
               % (subject, body.replace("\n", " "), att_path, tok))
        r = run_smtpsh(self.sub_args() + ["localhost", LAB.submission_port],
                       "EHLO client.test\n\\auth PLAIN %s\n%s\nQUIT\n" % (LAB.user, cmd),
                       home=self.home)
        self.assertEqual(r.rc, 0, r.describe())
        sent = r.sent_text()
        mail = [t for t in sent if t.startswith("MAIL FROM:")]
        self.assertEqual(len(mail), 1, r.describe())
        self.assertRegex(mail[0], r"^MAIL FROM:<alice@example\.test> SIZE=\d+$")
        self.assertEqual([t for t in sent if t.startswith("RCPT")],
                         ["RCPT TO:<bob@example.test>", "RCPT TO:<carol@example.test>",
                          "RCPT TO:<alice@example.test>"])
        self.assertIn("message accepted", r.info())
        # SIZE= is the size of the message as delivered (CRLF, dots not stuffed)
        declared = int(mail[0].rsplit("=", 1)[1])
        for user in ("bob", "carol", "alice"):
            _, data = LAB.wait_for_message(user, tok)
            _, rest = split_delivered(data)
            self.assertEqual(len(rest.replace(b"\n", b"\r\n")), declared, user)
            msg = parse(data)
            self.assertEqual(str(msg["Subject"]), subject, user)
            self.assertEqual(msg["From"].addresses[0].addr_spec, "alice@example.test")
            self.assertEqual(msg["From"].addresses[0].display_name, "Alice Example")
            self.assertEqual(str(msg["To"]), "bob@example.test")
            self.assertEqual(msg["Cc"].addresses[0].addr_spec, "carol@example.test")
            self.assertIsNone(msg["Bcc"], user)
            # no Bcc header line anywhere (base64 may hold the letters "Bcc" by chance)
            self.assertIsNone(re.search(rb"(?im)^bcc:", rest), user)
            self.assertNotIn(b"alice@example.test", rest.split(b"\n\n", 1)[0]
                             .replace(b"Alice Example <alice@example.test>", b""), user)
            self.assertRegex(str(msg["Message-ID"]), r"^<[0-9a-f]{32}@example\.test>$")
            self.assertIsNotNone(msg["Date"].datetime)
            self.assertEqual(str(msg["MIME-Version"]), "1.0")
            self.assertEqual(msg.get_content_type(), "multipart/mixed")
            parts = list(msg.iter_attachments())
            self.assertEqual(len(parts), 1)
            self.assertEqual(parts[0].get_filename(), "report \u00e9t\u00e9.pdf")
            self.assertEqual(parts[0].get_content_type(), "application/pdf")
            self.assertEqual(parts[0].get_content(), att)
            text = msg.get_body(("plain",))
            self.assertEqual(text.get_content().strip(), body.replace("\n", " ").strip())
            for line in rest.split(b"\n"):
                self.assertLessEqual(len(line), 78, line)

    def test_big_body_file_streamed(self):
        """\\send --body-file of 50 MB under TLS: delivered intact, peak RSS under 16 MB"""
        tok = token()
        path = os.path.join(self.home, "big.txt")
        h = hashlib.sha256()
        with open(path, "wb") as f:
            line = 0
            written = 0
            while written < BIG:
                chunk = b"".join(b"%s line %08d: the quick brown fox jumps over the lazy dog\n"
                                 % (b"." if (line + k) % 97 == 0 else b"", line + k)
                                 for k in range(1000))
                line += 1000
                f.write(chunk)
                h.update(chunk)
                written += len(chunk)
        want = h.hexdigest()
        script = os.path.join(self.home, "big.smtp")
        with open(script, "w") as f:
            f.write("EHLO client.test\n\\auth PLAIN %s\n"
                    "\\send --from alice@example.test --to bob@example.test "
                    "--subject %s --body-file %s\nQUIT\n" % (LAB.user, tok, path))
        t0 = time.monotonic()
        p = subprocess.run(["/usr/bin/time", "-v", smtpsh_path()] + self.sub_args()
                           + ["-f", script, "localhost", str(LAB.submission_port)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=170,
                           env=dict(os.environ, NO_COLOR="1", HOME=self.home))
        out = p.stdout.decode("utf-8", "replace")
        err = p.stderr.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 0, "exit %d\n%s\n%s" % (p.returncode, out[-3000:], err))
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
        self.assertIsNotNone(m, err)
        rss = int(m.group(1))
        elapsed = time.monotonic() - t0
        bound = MAX_RSS_KB_ASAN if sanitized() else MAX_RSS_KB
        sys.stdout.write("# 50 MB body: peak RSS %d kB (bound %d kB), %.1f s\n"
                         % (rss, bound, elapsed))
        self.assertLess(rss, bound, "peak RSS %d kB (took %.1f s)" % (rss, elapsed))
        events = parse_transcript(out)
        self.assertTrue(any(t.startswith("... ") and "more lines not shown" in t
                            for mk, t in events if mk == "*"), out[-2000:])
        _, data = LAB.wait_for_message("bob", tok, timeout=120)
        msg_bytes = split_delivered(data)[1]
        head, _, body = msg_bytes.partition(b"\n\n")
        self.assertIn(b"Content-Transfer-Encoding: 7bit", head)
        self.assertEqual(len(body), written)
        self.assertEqual(hashlib.sha256(body).hexdigest(), want)
        os.unlink(path)
        for f in LAB.messages("bob"):
            os.unlink(f)

    def test_8bit_body_uses_8bitmime(self):
        """an 8-bit body: BODY=8BITMIME (Postfix offers it), sent as 8bit"""
        tok = token()
        body = "Gr\u00fc\u00dfe \u2603 " + tok
        r = run_smtpsh(["127.0.0.1", LAB.plain_port],
                       "EHLO c\n\\send --from a@client.test --to carol@example.test "
                       "--subject s --body '%s'\nQUIT\n" % body, home=self.home)
        self.assertEqual(r.rc, 0, r.describe())
        mail = [t for t in r.sent_text() if t.startswith("MAIL")]
        self.assertRegex(mail[0], r"^MAIL FROM:<a@client\.test> SIZE=\d+ BODY=8BITMIME$")
        _, data = LAB.wait_for_message("carol", tok)
        msg = parse(data)
        self.assertEqual(msg["Content-Transfer-Encoding"], "8bit")
        self.assertEqual(msg.get_content().rstrip("\n"), body)

    def test_smtputf8_sender(self):
        """a non-ASCII address: SMTPUTF8 on MAIL (Postfix offers it), delivered"""
        tok = token()
        r = run_smtpsh(["127.0.0.1", LAB.plain_port],
                       "EHLO c\n\\send --from j\u00f6rg@b\u00fccher.test --to bob@example.test "
                       "--subject %s --body hi\nQUIT\n" % tok, home=self.home)
        self.assertEqual(r.rc, 0, r.describe())
        mail = [t for t in r.sent_text() if t.startswith("MAIL")]
        self.assertRegex(mail[0], r"^MAIL FROM:<j\u00f6rg@b\u00fccher\.test> SIZE=\d+ SMTPUTF8$")
        _, data = LAB.wait_for_message("bob", tok)
        self.assertIn("From: j\u00f6rg@b\u00fccher.test".encode(), data)

    def test_refused_recipient_the_others_go_on(self):
        """a refused RCPT: the reply shown, the other recipients go on and get the message;
        the summary says who got it (issue 14: results per recipient)"""
        r = run_smtpsh(["127.0.0.1", LAB.plain_port],
                       "EHLO c\n\\send --from a@client.test --to bob@example.test "
                       "--to nobody@example.test --to carol@example.test --body x\nNOOP\nQUIT\n",
                       home=self.home)
        self.assertEqual(r.rc, 0, r.describe())
        sent = r.sent_text()
        self.assertEqual(sent[sent.index("RCPT TO:<nobody@example.test>") + 1],
                         "RCPT TO:<carol@example.test>", r.describe())
        self.assertIn("DATA", sent)
        self.assertNotIn("RSET", sent)
        self.assertIn("NOOP", sent)
        self.assertTrue(any(t.startswith("550 5.1.1 <nobody@example.test>")
                            for _, t in r.received()), r.describe())
        self.assertIn("2 of 3 recipients accepted the message; 1 refused at RCPT", r.stdout)
        self.assertRegex(r.stdout, r"nobody@example\.test +550 5\.1\.1 <nobody@example\.test>")

    def test_every_recipient_refused_stops_and_rsets(self):
        """every RCPT refused: RSET, no DATA; the session goes on"""
        r = run_smtpsh(["127.0.0.1", LAB.plain_port],
                       "EHLO c\n\\send --from a@client.test --to nobody@example.test "
                       "--to nobody2@example.test --body x\nNOOP\nQUIT\n",
                       home=self.home)
        self.assertEqual(r.rc, 0, r.describe())
        sent = r.sent_text()
        self.assertEqual(sent[sent.index("RCPT TO:<nobody2@example.test>") + 1], "RSET",
                         r.describe())
        self.assertNotIn("DATA", sent)
        self.assertIn("NOOP", sent)
        self.assertIn("no recipient was accepted: the message is not sent", r.stderr)

    def test_size_over_the_limit_not_sent(self):
        """Postfix advertises SIZE 4000: a bigger message is refused before MAIL"""
        body = self.path("big-for-small.txt", b"x" * 70 + b"\n" * 1 + (b"y" * 79 + b"\n") * 60)
        r = run_smtpsh(["127.0.0.1", LAB.small_port],
                       "EHLO c\n\\send --from a@client.test --to bob@example.test "
                       "--body-file %s\nQUIT\n" % body, home=self.home)
        self.assertEqual(r.rc, 0, r.describe())  # a refusal: the script goes on to QUIT
        self.assertRegex(r.stderr, r"the message is \d+ octets and the server takes at most "
                                   r"4000 \(SIZE\): not sent")
        self.assertEqual(r.sent_text(), ["EHLO c", "QUIT"], r.describe())

    def test_size_under_the_limit_declared(self):
        """Postfix advertises SIZE 4000: a small message goes with SIZE= on MAIL"""
        tok = token()
        r = run_smtpsh(["127.0.0.1", LAB.small_port],
                       "EHLO c\n\\send --from a@client.test --to bob@example.test "
                       "--subject %s --body hello\nQUIT\n" % tok, home=self.home)
        self.assertEqual(r.rc, 0, r.describe())
        mail = [t for t in r.sent_text() if t.startswith("MAIL")]
        self.assertRegex(mail[0], r"^MAIL FROM:<a@client\.test> SIZE=\d{3}$")
        _, data = LAB.wait_for_message("bob", tok)
        self.assertEqual(len(split_delivered(data)[1].replace(b"\n", b"\r\n")),
                         int(mail[0].rsplit("=", 1)[1]))

    def test_send_needs_ehlo(self):
        """\\send before EHLO: a clear error, nothing sent"""
        r = run_smtpsh(["127.0.0.1", LAB.plain_port],
                       "\\send --from a@client.test --to bob@example.test\n", home=self.home)
        self.assertEqual(r.rc, 2, r.describe())
        self.assertIn("send EHLO first", r.stderr)
        self.assertEqual(r.sent_text(), [])

    def test_send_bad_options(self):
        """\\send with a bad option, a missing value, no recipient: errors, nothing sent"""
        for line, msg in [("\\send --from a@x --to b@x --colour red", "unknown option --colour"),
                          ("\\send --from a@x --to", "--to needs a value"),
                          ("\\send --from a@x", "needs a recipient"),
                          ("\\send --to b@x", "needs --from"),
                          ("\\send --from a@x --to b@x --attach /nonexistent/file",
                           "--attach /nonexistent/file: No such file")]:
            r = run_smtpsh(["127.0.0.1", LAB.plain_port], "EHLO c\n%s\n" % line,
                           home=self.home)
            self.assertEqual(r.rc, 2, r.describe())
            self.assertIn(msg, r.stderr, r.describe())
            self.assertEqual([t for t in r.sent_text() if t != "EHLO c"], [], r.describe())

    # --- the one-line mode -------------------------------------------------------------

    def oneshot(self, args, **kw):
        return run_smtpsh(["--send"] + args, "", home=self.home, **kw)

    def test_oneshot_plain(self):
        """smtpsh --send ... HOST PORT: EHLO, MAIL, RCPT, DATA, message, QUIT; exit 0"""
        tok = token()
        r = self.oneshot(["--from", "a@client.test", "--to", "alice@example.test", "--subject",
                          tok, "--body", "one line\n.two\n", "--ehlo", "client.test",
                          "127.0.0.1", LAB.plain_port])
        self.assertEqual(r.rc, 0, r.describe())
        sent = r.sent_text()
        self.assertEqual(sent[0], "EHLO client.test")
        self.assertEqual(sent[-2:], [".", "QUIT"])
        _, data = LAB.wait_for_message("alice", tok)
        self.assertTrue(split_delivered(data)[1].endswith(b"\n\none line\n.two\n"))

    def test_oneshot_starttls_auth(self):
        """--send --starttls --auth auto --user U: logs in, sends, exit 0"""
        tok = token()
        r = self.oneshot(self.sub_args() + ["--auth", "auto", "--user", LAB.user, "--from",
                                            LAB.user, "--to", "bob@example.test", "--subject",
                                            tok, "localhost", LAB.submission_port])
        self.assertEqual(r.rc, 0, r.describe())
        self.assertIn(("~>", "AUTH PLAIN <redacted>"), r.events)
        LAB.wait_for_message("bob", tok)
        self.assertNotIn(LAB.password, r.stdout + r.stderr)

    def test_oneshot_refused_exit_1(self):
        """--send to an unknown user: 550, RSET, QUIT, exit 1"""
        r = self.oneshot(["--from", "a@client.test", "--to", "nobody@example.test",
                          "127.0.0.1", LAB.plain_port])
        self.assertEqual(r.rc, 1, r.describe())
        self.assertEqual(r.sent_text()[-2:], ["RSET", "QUIT"])

    def test_oneshot_auth_refused_exit_1(self):
        """--send with a wrong password: 535, QUIT, exit 1, nothing sent"""
        r = self.oneshot(["--starttls", "--cafile", LAB.cafile, "--password-command",
                          "echo nope", "--auth", "LOGIN", "--user", LAB.user, "--from",
                          LAB.user, "--to", "bob@example.test", "localhost",
                          LAB.submission_port])
        self.assertEqual(r.rc, 1, r.describe())
        self.assertFalse([t for t in r.sent_text() if t.startswith("MAIL")], r.describe())
        self.assertEqual(r.sent_text()[-1], "QUIT")

    def test_oneshot_auth_without_starttls_option_upgrades(self):
        """--send --auth on the submission port without --starttls: Postfix offers STARTTLS
        (and AUTH only under TLS), so smtpsh asks for it first; an untrusted certificate
        stops there (exit 4), nothing sent in plaintext after EHLO (issue 12, 10c)"""
        r = self.oneshot(["--password-command", "echo x", "--auth", "auto", "--user", "u",
                          "--from", "a@x.test", "--to", "bob@example.test", "127.0.0.1",
                          LAB.submission_port])
        self.assertEqual(r.rc, 4, r.describe())
        self.assertIn("the server offers STARTTLS: using it before AUTH", r.stdout)
        self.assertIn("not trusted", r.stderr)
        self.assertNotIn("-> AUTH", r.stdout)

    def test_oneshot_usage_errors(self):
        """--send usage errors (nothing is connected): exit 2"""
        r = self.oneshot(["--from", "a@x", "--to", "b@x"])
        self.assertEqual(r.rc, 2)
        self.assertIn("--send needs HOST", r.stderr)
        r = run_smtpsh(["--from", "a@x", "127.0.0.1", LAB.plain_port], "", home=self.home)
        self.assertEqual(r.rc, 2)
        self.assertIn("--from works with --send only", r.stderr)
        r = self.oneshot(["--user", "u", "--from", "a@x", "--to", "b@x", "127.0.0.1", "25"])
        self.assertEqual(r.rc, 2)
        self.assertIn("--user needs --auth", r.stderr)
        r = self.oneshot(["--from", "a@x", "--from", "c@x", "--to", "b@x", "127.0.0.1", "25"])
        self.assertEqual(r.rc, 2)
        self.assertIn("--from given twice", r.stderr)
        r = self.oneshot(["--from", "a@x", "127.0.0.1", "25"])
        self.assertEqual(r.rc, 2)
        self.assertIn("--send needs --from ADDRESS and --to ADDRESS", r.stderr)
        r = self.oneshot(["--auth", "GSSAPI", "--from", "a@x", "--to", "b@x", "127.0.0.1", "25"])
        self.assertEqual(r.rc, 2)
        self.assertIn("--auth takes PLAIN, LOGIN, CRAM-MD5, XOAUTH2, OAUTHBEARER or auto", r.stderr)

    def test_oneshot_connection_refused_exit_3(self):
        """--send to a closed port: exit 3"""
        r = self.oneshot(["--from", "a@x.test", "--to", "b@x.test", "127.0.0.1", free_port()])
        self.assertEqual(r.rc, 3, r.describe())

    def test_oneshot_missing_attachment_exit_2(self):
        """--send with an attachment that does not exist: nothing sent but QUIT, exit 2"""
        r = self.oneshot(["--from", "a@client.test", "--to", "bob@example.test", "--attach",
                          "/nonexistent/x.pdf", "127.0.0.1", LAB.plain_port])
        self.assertEqual(r.rc, 2, r.describe())
        self.assertEqual(r.sent_text(), ["EHLO localhost", "QUIT"])

    def test_send_from_script_file(self):
        """\\send in a -f script with --strict"""
        tok = token()
        script = self.path("send.smtp", ("EHLO c\n\\send --from a@client.test --to "
                                         "carol@example.test --subject %s --body hi\nQUIT\n"
                                         % tok).encode())
        r = run_smtpsh(["--strict", "-f", script, "127.0.0.1", LAB.plain_port], "",
                       home=self.home)
        self.assertEqual(r.rc, 0, r.describe())
        LAB.wait_for_message("carol", tok)


if __name__ == "__main__":
    tap_main()
