#!/usr/bin/python3
"""A class flows without friction (issue 17, the client's side), in batch mode: \\connect
PROFILE|PRESET and \\connect alone against a loopback practice server (never a provider: a
profile of a preset's name replaces the preset), \\auth with the practice login in a lesson
script, the startup and hint wording.

Usage: PYTHONPATH=tests/lib /usr/bin/python3 tests/practice/test_classflow.py
       [PATH/TO/smtpsh] [NAME...]
Prints TAP. Needs only smtpsh, Python and openssl (no network, no Postfix).
"""

import os
import re
import shutil
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
from smtpshtest import run_smtpsh, tap_main
from practicelib import Serve

HOME = tempfile.mkdtemp(prefix="smtpsh-classflow-test-")


def tearDownModule():
    shutil.rmtree(HOME, ignore_errors=True)


class ClassTest(unittest.TestCase):

    def serve(self):
        maildir = tempfile.mkdtemp(prefix="maildir-", dir=HOME)
        srv = Serve(maildir)
        self.addCleanup(srv.stop)
        return srv

    def home_with_profiles(self, text):
        home = tempfile.mkdtemp(prefix="home-", dir=HOME)
        os.makedirs(os.path.join(home, ".config", "smtpsh"))
        with open(os.path.join(home, ".config", "smtpsh", "profiles"), "w") as f:
            f.write(text)
        return home

    def run_batch(self, args, lines, home=None, env=None):
        r = run_smtpsh(args, stdin="".join(l + "\n" for l in lines), home=home or HOME,
                       env=env)
        self.assertGreaterEqual(r.rc, 0, r.describe())
        return r


class Connect(ClassTest):

    def lab(self, srv, name="office365", user=True):
        return self.home_with_profiles(
            "[%s]\nhost = 127.0.0.1\nport = %d\ntls = starttls\ncafile = %s\n%s"
            % (name, srv.port, srv.cafile, "user = %s\n" % srv.user if user else ""))

    def test_connect_profile_named_like_a_preset(self):
        """\\connect NAME connects with the profile (here one that replaces the office365
        preset), its port, TLS mode, CA file and user: 235 with the password only"""
        srv = self.serve()
        home = self.lab(srv)
        r = self.run_batch([], ["\\connect office365", "\\auth PLAIN", "QUIT"], home=home,
                           env={"SMTPSH_PASSWORD": srv.password})
        out = r.out()
        self.assertIn("*  profile office365: 127.0.0.1 port %d, STARTTLS" % srv.port, out,
                      r.describe())
        self.assertRegex(out, r"\*  TLSv1\.[23] .*certificate verified", r.describe())
        self.assertRegex(out, r"(?m)^<~ 235 ", r.describe())
        self.assertNotIn("office365.com", out + r.err())
        self.assertEqual(r.rc, 0, r.describe())

    def test_connect_profile_tls_controls(self):
        """\\connect PROFILE takes the profile's TLS controls (tls-max = 1.2), and a control
        given to \\connect wins over it (--tls-max 1.3)"""
        srv = self.serve()
        home = self.home_with_profiles(
            "[lab]\nhost = 127.0.0.1\nport = %d\ntls = starttls\ncafile = %s\n"
            "tls-max = 1.2\n" % (srv.port, srv.cafile))
        r = self.run_batch([], ["\\connect lab", "QUIT", "\\connect lab --tls-max 1.3",
                                "QUIT"], home=home)
        tls = re.findall(r"(?m)^\*  (TLSv1\.[23]) .*certificate verified", r.out())
        self.assertEqual(tls, ["TLSv1.2", "TLSv1.3"], r.describe())

    def test_connect_profile_with_port_and_mode(self):
        """\\connect PROFILE PORT --plain: the port and the mode given win over the profile's"""
        srv = self.serve()
        home = self.home_with_profiles("[lab]\nhost = 127.0.0.1\nport = 1\ntls = tls\n")
        r = self.run_batch([], ["\\connect lab %d --plain" % srv.port, "EHLO me", "QUIT"],
                           home=home)
        self.assertRegex(r.out(), r"(?m)^<- 220 ", r.describe())
        self.assertRegex(r.out(), r"(?m)^<- 250 ", r.describe())
        self.assertEqual(r.rc, 0, r.describe())

    def test_host_after_profile_forgets_its_login(self):
        """after \\connect PROFILE, \\connect HOST does not take the profile's user (nor its
        password command) to the other host"""
        srv = self.serve()
        home = self.home_with_profiles(
            "[lab]\nhost = 127.0.0.1\nport = %d\ncafile = %s\ntls = starttls\nuser = %s\n"
            "password-command = echo %s\n" % (srv.port, srv.cafile, srv.user, srv.password))
        r = self.run_batch(["--cafile", srv.cafile], ["\\connect lab", "QUIT",
                                "\\connect 127.0.0.1 %d --starttls" % srv.port,
                                "\\auth PLAIN", "QUIT"], home=home)
        self.assertIn("no terminal to ask for the user name", r.err(), r.describe())
        self.assertNotRegex(r.out(), r"(?m)^<~ 235 ", r.describe())

    def test_connect_profile_ehlo_name(self):
        """\\connect PROFILE greets with the profile's ehlo (STARTTLS's automatic EHLO, and
        the server's "Hello NAME"); a later \\connect HOST goes back to what smtpsh started
        with (--ehlo's name here), and --ehlo wins over the profile's"""
        srv = self.serve()
        home = self.home_with_profiles(
            "[lab]\nhost = 127.0.0.1\nport = %d\ntls = starttls\ncafile = %s\n"
            "ehlo = client.example\n" % (srv.port, srv.cafile))
        r = self.run_batch(["--cafile", srv.cafile],
                           ["\\connect lab", "QUIT",
                            "\\connect 127.0.0.1 %d --starttls" % srv.port, "QUIT"], home=home)
        self.assertEqual(re.findall(r"(?m)^[-~]> EHLO (\S+)$", r.out()),
                         ["client.example", "client.example", "localhost", "localhost"],
                         r.describe())
        self.assertRegex(r.out(), r"(?m)^<~ 250-\S+ Hello client\.example", r.describe())
        r = self.run_batch(["--ehlo", "given.example"], ["\\connect lab", "QUIT"], home=home)
        self.assertEqual(re.findall(r"(?m)^[-~]> EHLO (\S+)$", r.out()),
                         ["given.example", "given.example"], r.describe())

    def test_connect_alone_reconnects(self):
        """\\connect alone connects again to the last target (as \\reconnect)"""
        srv = self.serve()
        r = self.run_batch(["127.0.0.1", srv.port], ["QUIT", "\\connect", "EHLO again",
                                                      "QUIT"])
        self.assertEqual(len(re.findall(r"(?m)^<- 220 ", r.out())), 2, r.describe())
        self.assertRegex(r.out(), r"(?m)^-> EHLO again", r.describe())
        self.assertEqual(r.rc, 0, r.describe())

    def test_connect_alone_before_any_connection(self):
        """\\connect alone with no connection yet: the usage, naming PROFILE"""
        r = self.run_batch([], ["\\connect"])
        self.assertIn("usage: \\connect HOST|PROFILE [PORT]", r.err(), r.describe())

    def test_reconnect_practice(self):
        """\\reconnect and \\connect alone reach the --practice server again"""
        r = self.run_batch(["--practice"], ["QUIT", "\\reconnect", "QUIT", "\\connect",
                                             "EHLO again", "QUIT"])
        self.assertEqual(len(re.findall(r"(?m)^<- 220 ", r.out())), 3, r.describe())
        self.assertRegex(r.out(), r"(?m)^<- 250", r.describe())
        self.assertEqual(r.rc, 0, r.describe())



class LessonScript(ClassTest):

    def test_auth_with_the_practice_login(self):
        """a lesson script's \\auth, \\auth PLAIN and \\auth LOGIN log in with the practice
        login without asking (the shell made the password): 235 each time"""
        for auth in ("\\auth LOGIN", "\\auth PLAIN", "\\auth"):
            r = self.run_batch(["--practice"], ["EHLO x", "STARTTLS", "EHLO x", auth, "QUIT"])
            self.assertRegex(r.out(), r"(?m)^<~ 235 ", auth + "\n" + r.describe())
            self.assertIn("the password of the practice login", r.out(), r.describe())
            self.assertNotIn("no terminal", r.err(), r.describe())
            self.assertEqual(r.rc, 0, r.describe())
            password = re.search(r"AUTH login: user \S+, password (\S+) ", r.out()).group(1)
            self.assertEqual(r.out().count(password), 1, r.describe())  # the banner only

    def test_auth_elsewhere_still_asks(self):
        """the practice password is for the practice server only: \\auth after \\connect to
        another server asks (and in batch mode says there is no terminal)"""
        srv = self.serve()
        home = self.home_with_profiles("[lab]\nhost = 127.0.0.1\nport = %d\ntls = starttls\n"
                                       "cafile = %s\n" % (srv.port, srv.cafile))
        r = self.run_batch(["--practice"], ["\\connect lab", "\\auth PLAIN student", "QUIT"],
                           home=home)
        self.assertRegex(r.out(), r"\*  TLSv1\.[23] .*certificate verified", r.describe())
        self.assertIn("no terminal to ask for the password", r.err(), r.describe())
        self.assertNotRegex(r.out(), r"(?m)^<~ 235 ", r.describe())



class Wording(ClassTest):

    def test_startup_suggests_auth_command(self):
        """the banner's "try:" line suggests \\auth PLAIN, not a raw AUTH PLAIN"""
        r = self.run_batch(["--practice"], ["QUIT"])
        line = [l for l in r.out().splitlines() if l.startswith("*  try: ")]
        self.assertEqual(len(line), 1, r.describe())
        self.assertIn(", \\auth PLAIN, ", line[0])
        self.assertNotIn(" AUTH PLAIN", line[0])

    def test_empty_334_after_raw_auth_plain_hints(self):
        """a raw AUTH PLAIN answered by an empty 334 gets the hint (\\b64 \\0user\\0password,
        or \\auth PLAIN); AUTH LOGIN's 334 does not"""
        r = self.run_batch(["--practice"], ["EHLO x", "STARTTLS", "EHLO x", "AUTH PLAIN", "*",
                                            "AUTH LOGIN", "*", "QUIT"])
        lines = r.out().splitlines()
        i = lines.index("~> AUTH PLAIN")
        self.assertRegex(lines[i + 1], r"^<~ 334 ?(  \t.*)?$", r.describe())
        self.assertEqual(lines[i + 2],
                         "*  hint: the server waits for base64 of \\0student\\0password: "
                         "\\b64 \\0student\\0PASSWORD prints it, paste that line (or * "
                         "cancels; \\auth PLAIN does all of it)", r.describe())
        self.assertEqual(r.out().count("*  hint: the server waits"), 1, r.describe())


    def test_greylist_hint_agrees_with_the_reply(self):
        """the greylisting hint says what the reply says (come back after the time it gives,
        with the same MAIL FROM and RCPT TO), not "a few minutes" """
        r = self.run_batch(["--practice"], ["\\practice greylist on", "EHLO x",
                                            "MAIL FROM:<a@example.test>",
                                            "RCPT TO:<b@example.test>", "QUIT"])
        line = [l for l in r.out().splitlines() if l.startswith("<- 451 4.7.1 ")]
        self.assertEqual(len(line), 1, r.describe())
        self.assertRegex(line[0], r"try again in \d+ seconds?  \t\[hint: greylisting: a first "
                         r"try is refused for a while; send the same MAIL FROM and RCPT TO "
                         r"again after the time the reply gives")
        self.assertNotIn("minutes", line[0])

    def test_script_stop_says_where_and_why(self):
        """a script that stops says its line number, the line (a secret masked) and why"""
        r = self.run_batch(["--practice", "--strict"],
                           ["EHLO x", "", "AUTH PLAIN AHN0dWRlbnQAd3Jvbmc=", "QUIT"])
        self.assertIn("*  the script stopped at line 3: AUTH PLAIN <redacted> (--strict: the "
                      "server refused, exit status 1); the lines after it were not run",
                      r.out(), r.describe())
        self.assertNotIn("AHN0dWRlbnQAd3Jvbmc=", r.out() + r.err())
        self.assertEqual(r.rc, 1)

    def test_replay_stopped_at_a_secret_is_not_all_as_recorded(self):
        """a replay that stops at a hidden AUTH secret does not say "all as recorded" """
        srv = self.serve()
        path = os.path.join(HOME, "secret.transcript")
        with open(path, "w") as f:
            f.write("smtpsh-transcript 2\nhost: 127.0.0.1\n\n<- 220 x ESMTP\n-> EHLO me\n"
                    "<- 250 x\n-> AUTH PLAIN <redacted>\n<- 235 ok\n-> QUIT\n<- 221 bye\n")
        r = self.run_batch(["--replay", path, "127.0.0.1", srv.port], [])
        self.assertIn("the transcript hides the AUTH secret", r.out() + r.err(), r.describe())
        self.assertNotIn("all as recorded", r.out(), r.describe())
        self.assertIn("replay: stopped before the end of %s: the 2 replies compared up to "
                      "there were as recorded, the rest was not replayed" % path, r.out(),
                      r.describe())


if __name__ == "__main__":
    tap_main()
