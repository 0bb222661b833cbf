#!/usr/bin/python3
"""Profiles, the rc file and the SMTPSH_* environment against a real Postfix
(batch mode): a profile connects with its host, port, TLS mode, CA file and
EHLO name; a STARTTLS profile never goes on in plaintext; the command line
wins over the profile, the profile over the environment; a broken profiles
file stops smtpsh before it connects.

Usage: PYTHONPATH=tests/lib /usr/bin/python3 tests/integration/test_profiles.py
       [PATH/TO/smtpsh] [NAME...]
Prints TAP. Starts (and always stops) its own Postfix lab in a temp dir;
needs root and the packages of scripts/install-test-deps.sh.
"""

import os
import shutil
import socket
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
from lablib import ModuleLab
from smtpshtest import auth_plain, run_smtpsh, tap_main

LAB = ModuleLab()
setUpModule, tearDownModule = LAB.start, LAB.stop


class Profiles(unittest.TestCase):

    def setUp(self):
        self.home = tempfile.mkdtemp(prefix="smtpsh-profiles-")
        self.config = os.path.join(self.home, "config")
        os.makedirs(os.path.join(self.config, "smtpsh"))

    def tearDown(self):
        shutil.rmtree(self.home, ignore_errors=True)

    def write(self, name, text):
        path = os.path.join(self.config, "smtpsh", name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def lab_profile(self, name="lab", port=None, tls="starttls", extra=""):
        return ("[%s]\nhost = 127.0.0.1\nport = %d\ntls = %s\ncafile = %s\n%s"
                % (name, port or LAB.submission_port, tls, LAB.cafile, extra))

    def smtpsh(self, args, stdin="QUIT\n", env=None):
        e = {"XDG_CONFIG_HOME": self.config,
             "XDG_STATE_HOME": os.path.join(self.home, "state")}
        e.update(env or {})
        return run_smtpsh(args, stdin, home=self.home, env=e)

    def assertExit(self, r, code):
        self.assertEqual(r.rc, code, "unexpected exit code\n" + r.describe())

    def test_profile_starttls(self):
        """smtpsh PROFILE: STARTTLS to the profile's host and port, its CA file and
        EHLO name; the note is printed first"""
        self.write("profiles", self.lab_profile(extra="ehlo = profile.example\n"
                                                      "note = the test lab\n"))
        r = self.smtpsh(["lab"])
        self.assertExit(r, 0)
        info = r.info()
        self.assertEqual(info[0], "profile lab: 127.0.0.1 port %d, STARTTLS"
                         % LAB.submission_port)
        self.assertEqual(info[1], "the test lab")
        self.assertEqual(r.sent(), [("->", "EHLO profile.example"), ("->", "STARTTLS"),
                                    ("~>", "EHLO profile.example"), ("~>", "QUIT")])
        self.assertNotIn("profile", r.stderr)

    def test_starttls_profile_never_downgrades(self):
        """a profile with tls = starttls against a server without STARTTLS: exit 4,
        nothing but EHLO is sent in plaintext"""
        self.write("profiles", self.lab_profile(name="plainsrv", port=LAB.plain_port))
        r = self.smtpsh(["plainsrv"], "MAIL FROM:<leak@example.test>\nQUIT\n")
        self.assertExit(r, 4)
        self.assertEqual(r.sent_text(), ["EHLO localhost"])
        self.assertIn("STARTTLS", r.stderr)

    def test_explicit_profile_port_and_tls(self):
        """-p NAME PORT with --tls: the command line replaces port and TLS mode"""
        self.write("profiles", self.lab_profile())
        r = self.smtpsh(["-p", "lab", "--tls", str(LAB.smtps_port)])
        self.assertExit(r, 0)
        self.assertEqual(r.received()[0][0], "<~", "TLS from the first byte\n" + r.describe())
        self.assertEqual(r.sent(), [("~>", "QUIT")])

    def test_precedence_command_line_profile_environment(self):
        """--ehlo beats the profile's ehlo, which beats SMTPSH_EHLO"""
        self.write("profiles", self.lab_profile(extra="ehlo = profile.example\n") +
                   self.lab_profile(name="noehlo"))
        env = {"SMTPSH_EHLO": "env.example"}
        r = self.smtpsh(["--ehlo", "cli.example", "lab"], env=env)
        self.assertExit(r, 0)
        self.assertEqual(r.sent_text()[0], "EHLO cli.example")
        r = self.smtpsh(["lab"], env=env)
        self.assertEqual(r.sent_text()[0], "EHLO profile.example")
        r = self.smtpsh(["noehlo"], env=env)
        self.assertEqual(r.sent_text()[0], "EHLO env.example")

    def test_environment_cafile_and_bad_values(self):
        """SMTPSH_CAFILE is used (--cafile wins); a bad SMTPSH_* value: exit 2"""
        args = ["--starttls", "127.0.0.1", str(LAB.submission_port)]
        r = self.smtpsh(args)
        self.assertExit(r, 4)  # the lab's CA is not in the system store
        r = self.smtpsh(args, env={"SMTPSH_CAFILE": LAB.cafile})
        self.assertExit(r, 0)
        self.assertIn(("~>", "QUIT"), r.sent())
        r = self.smtpsh(["--cafile", "/nonexistent/ca.pem"] + args,
                        env={"SMTPSH_CAFILE": LAB.cafile})
        self.assertNotEqual(r.rc, 0, "--cafile wins over SMTPSH_CAFILE\n" + r.describe())
        for var, value in (("SMTPSH_TIMEOUT", "soon"), ("SMTPSH_EHLO", "two words"),
                           ("SMTPSH_COLOR", "sometimes"), ("SMTPSH_HISTSIZE", "-1")):
            r = self.smtpsh(args, env={var: value})
            self.assertExit(r, 2)
            self.assertIn(var, r.stderr)
            self.assertEqual(r.stdout, "", "nothing happens before the error")

    def test_cafile_with_tilde(self):
        """cafile = ~/... is under the home directory"""
        shutil.copy(LAB.cafile, os.path.join(self.home, "lab-ca.pem"))
        self.write("profiles", "[lab]\nhost = 127.0.0.1\nport = %d\ntls = tls\n"
                               "cafile = ~/lab-ca.pem\n" % LAB.smtps_port)
        r = self.smtpsh(["lab"])
        self.assertExit(r, 0)
        self.assertEqual(r.sent(), [("~>", "QUIT")])

    def test_broken_profiles_file_stops_before_connecting(self):
        """a parse error names file:line and what is wrong; exit 2; no connection"""
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        port = listener.getsockname()[1]
        try:
            path = self.write("profiles", "[lab]\nhost = 127.0.0.1\nport = %d\n"
                              "tls = maybe\n" % port)
            for args in (["lab"], ["127.0.0.1", str(port)]):
                r = self.smtpsh(args)
                self.assertExit(r, 2)
                self.assertEqual(r.stderr.strip(), "smtpsh: %s:4: tls is none, starttls or "
                                                   "tls, not 'maybe'" % path)
                self.assertEqual(r.stdout, "")
            listener.setblocking(False)
            with self.assertRaises(BlockingIOError, msg="smtpsh connected"):
                listener.accept()
        finally:
            listener.close()

    def test_unknown_profile(self):
        """-p with an unknown name: exit 2"""
        r = self.smtpsh(["-p", "nosuchprofile"])
        self.assertExit(r, 2)
        self.assertIn("no profile or preset named 'nosuchprofile'", r.stderr)

    def test_list_profiles(self):
        """--list-profiles: presets, then the user's (one replacing a preset once)"""
        self.write("profiles", self.lab_profile() + self.lab_profile(name="gmail"))
        r = self.smtpsh(["--list-profiles"])
        self.assertExit(r, 0)
        self.assertEqual(r.stdout.split(),
                         ["office365", "outlook", "aol", "yahoo", "icloud", "lab", "gmail"])

    def test_rc_file_in_batch_mode(self):
        """the rc file runs in batch mode too (-X skips it); its errors do not change
        the exit status"""
        self.write("smtpshrc", "\\set reveal-secrets on\nNOOP\n")
        ir = auth_plain(LAB.user, LAB.password)
        stdin = "AUTH PLAIN %s\nQUIT\n" % ir
        args = ["--cafile", LAB.cafile, "--starttls", "127.0.0.1", str(LAB.submission_port)]
        r = self.smtpsh(args, stdin)
        self.assertExit(r, 0)
        self.assertIn(("~>", "AUTH PLAIN " + ir), r.sent())
        self.assertIn("smtpshrc:2: error: only local", r.stderr)
        self.assertNotIn("NOOP", r.sent_text())
        r = self.smtpsh(["-X"] + args, stdin)
        self.assertExit(r, 0)
        self.assertIn(("~>", "AUTH PLAIN <redacted>"), r.sent())
        self.assertNotIn("smtpshrc", r.stderr)


if __name__ == "__main__":
    tap_main()
