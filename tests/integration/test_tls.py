#!/usr/bin/python3
"""smtpsh against a real Postfix: STARTTLS (option and typed), implicit TLS,
SASL AUTH by hand, certificate and STARTTLS failures.

Usage: PYTHONPATH=tests/lib /usr/bin/python3 tests/integration/test_tls.py
       [PATH/TO/smtpsh] [NAME...]
Prints TAP. Starts (and always stops) its own Postfix lab in a temp dir;
needs root and the packages of scripts/install-test-deps.sh.
"""

import os
import subprocess
import sys
import unittest

sys.dont_write_bytecode = True
from lablib import ModuleLab, split_delivered
from smtpshtest import (auth_plain, b64, dot_stuff, exchanges, has_ipv6_loopback, script, tap_main,
                        token)

LAB = ModuleLab()
setUpModule, tearDownModule = LAB.start, LAB.stop


smtpsh = LAB.smtpsh


def message(rcpt, tok, what):
    """MAIL..QUIT lines for one message, as typed and as shown (dot-stuffed),
    and the expected delivered body."""
    body = ["Subject: %s %s" % (what, tok), "From: <%s>" % LAB.user,
            "To: <%s>" % rcpt, "", "secret body sent with " + what,
            ".dotted line", "", "end"]
    head = ["MAIL FROM:<%s>" % LAB.user, "RCPT TO:<%s>" % rcpt, "DATA"]
    typed = head + body + [".", "QUIT"]
    shown = head + [dot_stuff(l) for l in body] + [".", "QUIT"]
    return typed, shown, ("\n".join(body) + "\n").encode()


# smtpsh shows AUTH initial responses and the answers inside an AUTH
# exchange as "<redacted>" (docs/reference.md, "What you type").
REDACTED = "<redacted>"


def auth_plain_ir():
    return auth_plain(LAB.user, LAB.password)


def secrets():
    # AUTH LOGIN's user name (b64(LAB.user)) is shown once sent, decoded beside it (issue 17)
    return [LAB.password, auth_plain_ir(), b64(LAB.password)]


class Tls(unittest.TestCase):

    def assertExit(self, r, code):
        self.assertEqual(r.rc, code, "unexpected exit code\n" + r.describe())

    def assertTlsAfter(self, r, n_plain_sent):
        """The first N_PLAIN_SENT sent lines are '->', the rest '~>'; replies
        before the STARTTLS 220 are '<-', after it '<~'."""
        sent = r.sent()
        self.assertTrue(len(sent) > n_plain_sent, r.describe())
        self.assertEqual([m for m, _ in sent],
                         ["->"] * n_plain_sent + ["~>"] * (len(sent) - n_plain_sent),
                         r.describe())
        wire = [(m, t) for m, t in r.events if m in ("->", "<-", "~>", "<~")]
        first_tls = next(i for i, (m, _) in enumerate(wire) if m == "~>")
        for i, (m, t) in enumerate(wire):
            if m == "<-":
                self.assertLess(i, first_tls, "plain reply after TLS: %r\n%s" % (t, r.describe()))
            if m == "<~":
                self.assertGreater(i, first_tls - 1, r.describe())

    def assertNoSecrets(self, r):
        for sec in secrets():
            self.assertNotIn(sec, r.stdout + r.stderr,
                             "a secret is shown\n" + r.describe())

    def assertTlsInfo(self, r):
        info = [t for m, t in r.events if m == "*" and "TLS" in t]
        self.assertTrue(info, "no '*  TLS ...' info line\n" + r.describe())
        self.assertRegex(info[0], r"(?i)verified", r.describe())
        self.assertNotRegex(info[0], r"(?i)not verified|unverified", r.describe())

    def delivered(self, user, tok, expected_rest):
        _, data = LAB.wait_for_message(user, tok)
        headers, rest = split_delivered(data)
        self.assertEqual(headers[0], ("Return-Path: <%s>" % LAB.user).encode())
        self.assertEqual(headers[2], ("Delivered-To: %s@example.test" % user).encode())
        self.assertEqual(rest, expected_rest)

    def test_starttls_option_auth_plain(self):
        """--starttls --cafile: automatic EHLO+STARTTLS, AUTH PLAIN typed, delivery"""
        tok = token()
        off = LAB.log_size()
        typed, shown, rest = message("bob@example.test", tok, "--starttls")
        r = smtpsh(["--starttls", "--cafile", LAB.cafile, "localhost", LAB.submission_port],
                   script(["AUTH PLAIN " + auth_plain_ir()] + typed))
        self.assertExit(r, 0)
        sent = r.sent_text()
        self.assertEqual(sent[:2], ["EHLO localhost", "STARTTLS"], r.describe())
        # an automatic EHLO after the handshake is allowed, nothing else
        after = sent[2:]
        if after and after[0] == "EHLO localhost":
            after = after[1:]
        self.assertEqual(after, ["AUTH PLAIN " + REDACTED] + shown, r.describe())
        self.assertNoSecrets(r)
        self.assertTlsAfter(r, 2)
        self.assertTlsInfo(r)
        ex = exchanges(r.events)
        self.assertEqual(ex[0][2][0][0], "<-")
        self.assertRegex(ex[0][2][0][1], r"^220 ")
        self.assertEqual(ex[1][:2], ("->", "EHLO localhost"))
        ehlo = " ".join(t for _, t in ex[1][2])
        self.assertIn("STARTTLS", ehlo)
        self.assertNotIn("AUTH", ehlo)
        self.assertEqual(ex[2], ("->", "STARTTLS", [("<-", "220 2.0.0 Ready to start TLS")]))
        if ex[3][1] == "EHLO localhost":  # the automatic EHLO after TLS
            self.assertEqual(ex[3][0], "~>")
            self.assertIn(("<~", "250-AUTH PLAIN LOGIN CRAM-MD5"), ex[3][2])
        replies = {t: rep for _, t, rep in ex[3:]}
        self.assertEqual(replies["AUTH PLAIN " + REDACTED],
                         [("<~", "235 2.7.0 Authentication successful")], r.describe())
        self.assertEqual(replies["QUIT"], [("<~", "221 2.0.0 Bye")])
        self.delivered("bob", tok, rest)
        LAB.wait_log(off, r"postfix-lab/submission/smtpd\[\d+\]: \w+: client=\S+, "
                     r"sasl_method=PLAIN, sasl_username=alice@example\.test")

    def test_starttls_typed_auth_login(self):
        """STARTTLS typed by hand (IP 127.0.0.1, IP SAN), EHLO again, AUTH LOGIN"""
        tok = token()
        typed, shown, rest = message("alice@example.test", tok, "typed STARTTLS")
        plain = ["EHLO client.test", "STARTTLS"]
        auth = ["EHLO client.test", "AUTH LOGIN"]
        r = smtpsh(["--cafile", LAB.cafile, "127.0.0.1", LAB.submission_port],
                   script(plain + auth + [b64(LAB.user), b64(LAB.password)] + typed))
        self.assertExit(r, 0)
        # the user name is shown as sent (decoded beside it), the password never
        self.assertEqual(r.sent_text(), plain + auth + [b64(LAB.user), REDACTED] + shown,
                         r.describe())
        self.assertNoSecrets(r)
        self.assertTlsAfter(r, 2)
        self.assertTlsInfo(r)
        ex = exchanges(r.events)
        self.assertEqual(ex[1][1], "EHLO client.test")
        first_ehlo = " ".join(t for _, t in ex[1][2])
        self.assertIn("STARTTLS", first_ehlo)
        self.assertNotIn("AUTH", first_ehlo)  # smtpd_tls_auth_only
        self.assertEqual(ex[2][1:], ("STARTTLS", [("<-", "220 2.0.0 Ready to start TLS")]))
        self.assertEqual(ex[3][0:2], ("~>", "EHLO client.test"))
        second_ehlo = [t for _, t in ex[3][2]]
        self.assertTrue(all(m == "<~" for m, _ in ex[3][2]), r.describe())
        self.assertIn("250-AUTH PLAIN LOGIN CRAM-MD5", second_ehlo)
        self.assertNotIn("STARTTLS", " ".join(second_ehlo))
        self.assertEqual(ex[4][1:], ("AUTH LOGIN", [("<~", "334 VXNlcm5hbWU6")]))
        self.assertEqual(ex[5][2], [("<~", "334 UGFzc3dvcmQ6")])
        self.assertEqual(ex[6][2], [("<~", "235 2.7.0 Authentication successful")])
        self.delivered("alice", tok, rest)

    def test_implicit_tls_auth_plain(self):
        """--tls --cafile on the implicit-TLS port: all '~>'/'<~', AUTH, delivery"""
        tok = token()
        typed, shown, rest = message("carol@example.test", tok, "--tls")
        auth = ["EHLO client.test", "AUTH PLAIN"]
        r = smtpsh(["--tls", "--cafile", LAB.cafile, "127.0.0.1", LAB.smtps_port],
                   script(auth + [auth_plain_ir()] + typed))
        self.assertExit(r, 0)
        self.assertEqual(r.sent_text(), auth + [REDACTED] + shown, r.describe())
        self.assertEqual({m for m, _ in r.sent()}, {"~>"}, r.describe())
        self.assertEqual({m for m, _ in r.received()}, {"<~"}, r.describe())
        self.assertNoSecrets(r)
        self.assertTlsInfo(r)
        ex = exchanges(r.events)
        self.assertEqual(ex[0][2][0][0], "<~", r.describe())
        self.assertRegex(ex[0][2][0][1], r"^220 lab\.example\.test ESMTP")
        self.assertIn(("<~", "250-AUTH PLAIN LOGIN CRAM-MD5"), ex[1][2])
        self.assertEqual(ex[2][2], [("<~", "334 ")], r.describe())
        self.assertEqual(ex[3][2], [("<~", "235 2.7.0 Authentication successful")])
        self.delivered("carol", tok, rest)

    @unittest.skipUnless(has_ipv6_loopback(), "no ::1 on this host")
    def test_ipv6_starttls_ehlo_name(self):
        """-6 ::1 --starttls --ehlo NAME: IP SAN ::1 verified, EHLO uses NAME"""
        off = LAB.log_size()
        r = smtpsh(["-6", "--starttls", "--ehlo", "v6.client.test", "--cafile", LAB.cafile,
                    "::1", LAB.submission_port], script(["NOOP", "QUIT"]))
        self.assertExit(r, 0)
        sent = r.sent()
        self.assertEqual(sent[:2], [("->", "EHLO v6.client.test"), ("->", "STARTTLS")],
                         r.describe())
        rest = [x for x in sent[2:] if x != ("~>", "EHLO v6.client.test")]
        self.assertEqual(rest, [("~>", "NOOP"), ("~>", "QUIT")], r.describe())
        self.assertTlsInfo(r)
        LAB.wait_log(off, r"postfix-lab/submission/smtpd\[\d+\]: connect from \S*\[::1\]")

    def test_connect_command_two_servers(self):
        """no HOST: \\connect --starttls, \\disconnect, \\connect --tls; two deliveries"""
        tok1, tok2 = token(), token()
        typed1, shown1, rest1 = message("bob@example.test", tok1, "connect-starttls")
        typed2, shown2, rest2 = message("carol@example.test", tok2, "connect-tls")
        lines = (["\\connect localhost %d --starttls" % LAB.submission_port,
                  "AUTH PLAIN " + auth_plain_ir()] + typed1[:-1] + ["\\disconnect",
                 "\\connect 127.0.0.1 %d --tls" % LAB.smtps_port, "EHLO client.test",
                 "AUTH PLAIN " + auth_plain_ir()] + typed2)
        r = smtpsh(["--cafile", LAB.cafile], script(lines))
        self.assertExit(r, 0)
        sent = r.sent()
        self.assertEqual(sent[:2], [("->", "EHLO localhost"), ("->", "STARTTLS")], r.describe())
        texts = [t for m, t in sent[2:] if t != "EHLO localhost"]
        self.assertEqual(texts, ["AUTH PLAIN " + REDACTED] + shown1[:-1] + ["EHLO client.test",
                                 "AUTH PLAIN " + REDACTED] + shown2, r.describe())
        self.assertEqual({m for m, _ in sent[2:]}, {"~>"}, r.describe())
        self.assertEqual(len([t for t in r.info() if "TLS" in t]), 2, r.describe())
        self.assertNoSecrets(r)
        self.delivered("bob", tok1, rest1)
        self.delivered("carol", tok2, rest2)

    def test_insecure_skips_verification(self):
        """--tls --insecure (no --cafile): works, every TLS line marked ?> / <?"""
        r = smtpsh(["--tls", "--insecure", "127.0.0.1", LAB.smtps_port],
                   script(["EHLO client.test", "QUIT"]))
        self.assertExit(r, 0)
        self.assertEqual(r.sent(), [("?>", "EHLO client.test"), ("?>", "QUIT")], r.describe())
        rec = r.received()
        self.assertTrue(rec and {m for m, _ in rec} == {"<?"}, r.describe())
        self.assertEqual(rec[-1], ("<?", "221 2.0.0 Bye"))
        tls = [t for t in r.info() if "TLS" in t]
        self.assertTrue(tls, r.describe())
        self.assertRegex(tls[0], r"(?i)not verified", r.describe())
        self.assertIn("!  warning", r.stderr, r.describe())

    def test_starttls_not_offered_exit_4(self):
        """--starttls on the plain port (no STARTTLS offered): exit 4, nothing sent"""
        off = LAB.log_size()
        cmds = ["MAIL FROM:<%s>" % LAB.user, "RCPT TO:<alice@example.test>", "DATA",
                "Subject: must never be sent", "", "x", ".", "QUIT"]
        r = smtpsh(["--starttls", "--cafile", LAB.cafile, "127.0.0.1", LAB.plain_port],
                   script(cmds))
        self.assertExit(r, 4)
        self.assertIn("!  error", r.stderr, r.describe())
        self.assertRegex(r.stderr, r"STARTTLS", r.describe())
        sent = r.sent_text()
        self.assertEqual(sent[:1], ["EHLO localhost"], r.describe())
        self.assertTrue(set(sent) <= {"EHLO localhost", "STARTTLS", "QUIT"}, r.describe())
        # what the server saw on this connection
        m = LAB.wait_session(off, "plain")
        stats = m.group(1)
        self.assertIn("ehlo=1", stats, m.string)
        self.assertNotRegex(stats, r"mail=|rcpt=|data=|auth=|unknown=", m.string)

    def test_tls_without_cafile_exit_4(self):
        """--tls without --cafile against the self-signed cert: exit 4, names the problem"""
        cmds = ["EHLO client.test", "AUTH PLAIN " + auth_plain_ir(), "QUIT"]
        r = smtpsh(["--tls", "127.0.0.1", LAB.smtps_port], script(cmds))
        self.assertExit(r, 4)
        self.assertIn("!  error", r.stderr, r.describe())
        self.assertRegex(r.stderr, r"(?i)self[- ]signed", r.describe())
        self.assertEqual(r.sent(), [], r.describe())

    def test_starttls_without_cafile_exit_4(self):
        """--starttls without --cafile: exit 4, no AUTH ever sent"""
        off = LAB.log_size()
        cmds = ["AUTH PLAIN " + auth_plain_ir(), "MAIL FROM:<%s>" % LAB.user, "QUIT"]
        r = smtpsh(["--starttls", "127.0.0.1", LAB.submission_port], script(cmds))
        self.assertExit(r, 4)
        self.assertRegex(r.stderr, r"(?i)certificate|self[- ]?signed|verif", r.describe())
        self.assertEqual(r.sent_text(), ["EHLO localhost", "STARTTLS"], r.describe())
        # this session's own lines (see wait_session): it sent EHLO and STARTTLS, then
        # nothing the server counted, above all no AUTH
        m = LAB.wait_session(off, "submission")
        self.assertRegex(m.group(1), r"^ehlo=1 starttls=", m.string)
        self.assertNotRegex(m.group(1), r"auth=|mail=", m.string)

    def test_other_ca_exit_4(self):
        """--cafile with an unrelated CA (same CN=localhost): exit 4, not trusted"""
        other = os.path.join(LAB.home, "other-ca.pem")
        if not os.path.exists(other):
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                            "-days", "2", "-subj", "/CN=localhost",
                            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                            "-keyout", os.path.join(LAB.home, "other-key.pem"),
                            "-out", other], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        r = smtpsh(["--tls", "--cafile", other, "localhost", LAB.smtps_port],
                   script(["EHLO client.test", "AUTH PLAIN " + auth_plain_ir(), "QUIT"]))
        self.assertExit(r, 4)
        self.assertIn("!  error", r.stderr, r.describe())
        self.assertRegex(r.stderr, r"(?i)certificate", r.describe())
        self.assertEqual(r.sent(), [], r.describe())


if __name__ == "__main__":
    tap_main()
