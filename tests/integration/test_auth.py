#!/usr/bin/python3
"""smtpsh's \\auth against a real Postfix (submission port, STARTTLS): PLAIN, LOGIN,
CRAM-MD5 with the password from --password-command, SMTPSH_PASSWORD and ~/.netrc; the
mechanism picked without one; a wrong password (535, the shell goes on); ~/.netrc refused
when others can read it; \\b64 and \\unb64. The password and its base64 forms appear nowhere
in the output. (The password typed at a prompt is tested in tests/pty/test_auth_pty.py.)

Usage: PYTHONPATH=tests/lib /usr/bin/python3 tests/integration/test_auth.py
       [PATH/TO/smtpsh] [NAME...]
"""

import os
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
from lablib import ModuleLab
from smtpshtest import auth_plain, b64, exchanges, run_smtpsh, tap_main

LAB = ModuleLab()
setUpModule, tearDownModule = LAB.start, LAB.stop


def secret_forms():
    """Every form of the password that must never be shown."""
    user, pw = LAB.user, LAB.password
    forms = [pw, b64(pw), auth_plain(user, pw), b64("%s\0%s" % (user, pw))]
    return forms


class Auth(unittest.TestCase):

    def setUp(self):
        self.home = tempfile.mkdtemp(prefix="home-", dir=LAB.dir)

    def run_auth(self, lines, extra=(), env=None, pw_command=True):
        args = ["--starttls", "--cafile", LAB.cafile]
        if pw_command:
            args += ["--password-command", "printf '%s\\n' " + LAB.password]
        args += list(extra) + ["localhost", LAB.submission_port]
        # MAIL + RCPT make Postfix log the SASL method and user of the session
        tail = ["MAIL FROM:<%s>" % LAB.user, "RCPT TO:<bob@example.test>", "RSET", "QUIT"]
        script = "".join(l + "\n" for l in ["EHLO client.test"] + lines + tail)
        e = {"SMTPSH_PASSWORD": ""}
        e.update(env or {})
        return run_smtpsh(args, script, env=e, home=self.home)

    def assertNoSecret(self, r):
        for form in secret_forms():
            self.assertNotIn(form, r.stdout, r.describe())
            self.assertNotIn(form, r.stderr, r.describe())

    def sent(self, r):
        return r.sent_text()

    def check_log(self, offset, mech):
        LAB.wait_log(offset, r"client=unknown\[127\.0\.0\.1\], sasl_method=%s, "
                             r"sasl_username=%s" % (mech, LAB.user))

    def test_plain(self):
        """\\auth PLAIN USER: one line, shown redacted, 235"""
        off = LAB.log_size()
        r = self.run_auth(["\\auth PLAIN %s" % LAB.user])
        self.assertEqual(r.rc, 0, r.describe())
        self.assertIn(("~>", "AUTH PLAIN <redacted>"), r.events, r.describe())
        self.assertIn(("<~", "235 2.7.0 Authentication successful"), r.events)
        self.assertIn("authenticated as %s (PLAIN)" % LAB.user, r.info())
        self.assertIn("the password from --password-command", r.info())
        self.assertNoSecret(r)
        self.check_log(off, "PLAIN")

    def test_login(self):
        """\\auth LOGIN USER: the user name shown in base64, the password redacted"""
        off = LAB.log_size()
        r = self.run_auth(["\\auth LOGIN %s" % LAB.user])
        self.assertEqual(r.rc, 0, r.describe())
        ex = exchanges(r.events)
        steps = [(s, [t for _, t in rep]) for _, s, rep in ex]
        i = [s for s, _ in steps].index("AUTH LOGIN")
        self.assertEqual(steps[i][1], ["334 VXNlcm5hbWU6"])
        self.assertEqual(steps[i + 1], (b64(LAB.user), ["334 UGFzc3dvcmQ6"]))
        self.assertEqual(steps[i + 2], ("<redacted>", ["235 2.7.0 Authentication successful"]))
        self.assertNoSecret(r)
        self.check_log(off, "LOGIN")

    def test_cram_md5(self):
        """\\auth CRAM-MD5 USER: the challenge answered with the HMAC, redacted"""
        off = LAB.log_size()
        r = self.run_auth(["\\auth cram-md5 %s" % LAB.user])
        self.assertEqual(r.rc, 0, r.describe())
        ex = exchanges(r.events)
        steps = [(s, [t for _, t in rep]) for _, s, rep in ex]
        i = [s for s, _ in steps].index("AUTH CRAM-MD5")
        self.assertRegex(steps[i][1][0], r"^334 [A-Za-z0-9+/]+=*$")
        self.assertEqual(steps[i + 1], ("<redacted>", ["235 2.7.0 Authentication successful"]))
        self.assertNoSecret(r)
        self.check_log(off, "CRAM-MD5")

    def test_no_mechanism_picks_plain_under_tls(self):
        """\\auth USER under verified TLS: PLAIN (the best advertised one)"""
        r = self.run_auth(["\\auth %s" % LAB.user])
        self.assertEqual(r.rc, 0, r.describe())
        self.assertTrue(any(t.startswith("mechanism PLAIN") for t in r.info()), r.describe())
        self.assertIn(("<~", "235 2.7.0 Authentication successful"), r.events)

    def test_insecure_tls_picks_cram_md5(self):
        """\\auth with --insecure (unverified TLS): CRAM-MD5, so the password is not sent"""
        r = run_smtpsh(["--starttls", "--insecure", "--password-command",
                        "echo " + LAB.password, "localhost", LAB.submission_port],
                       "EHLO c\n\\auth %s\nQUIT\n" % LAB.user, home=self.home,
                       env={"SMTPSH_PASSWORD": ""})
        self.assertEqual(r.rc, 0, r.describe())
        self.assertTrue(any(t.startswith("mechanism CRAM-MD5") for t in r.info()), r.describe())
        self.assertIn(("<?", "235 2.7.0 Authentication successful"), r.events, r.describe())
        self.assertNoSecret(r)

    def test_password_from_environment(self):
        """SMTPSH_PASSWORD is used when there is no --password-command"""
        r = self.run_auth(["\\auth LOGIN %s" % LAB.user], pw_command=False,
                          env={"SMTPSH_PASSWORD": LAB.password})
        self.assertEqual(r.rc, 0, r.describe())
        self.assertIn("the password from SMTPSH_PASSWORD", r.info())
        self.assertIn(("<~", "235 2.7.0 Authentication successful"), r.events)
        self.assertNoSecret(r)

    def test_command_wins_over_environment(self):
        """--password-command comes before SMTPSH_PASSWORD"""
        r = self.run_auth(["\\auth PLAIN %s" % LAB.user], env={"SMTPSH_PASSWORD": "wrong"})
        self.assertIn(("<~", "235 2.7.0 Authentication successful"), r.events, r.describe())

    def write_netrc(self, text, mode):
        path = os.path.join(self.home, ".netrc")
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def test_netrc_user_and_password(self):
        """~/.netrc (mode 600) gives the user and the password: \\auth alone logs in"""
        self.write_netrc("machine other.test login x password y\n"
                         "machine localhost\n  login %s\n  password %s\n"
                         % (LAB.user, LAB.password), 0o600)
        off = LAB.log_size()
        r = self.run_auth(["\\auth"], pw_command=False)
        self.assertEqual(r.rc, 0, r.describe())
        self.assertIn("user %s (from ~/.netrc)" % LAB.user, r.info())
        self.assertIn("the password from ~/.netrc (machine entry)", r.info())
        self.assertIn(("<~", "235 2.7.0 Authentication successful"), r.events)
        self.assertNoSecret(r)
        self.check_log(off, "PLAIN")

    def test_netrc_default_entry(self):
        """the default entry of ~/.netrc serves any host"""
        self.write_netrc("machine other.test login x password y\ndefault login %s password %s\n"
                         % (LAB.user, LAB.password), 0o600)
        r = self.run_auth(["\\auth LOGIN"], pw_command=False)
        self.assertEqual(r.rc, 0, r.describe())
        self.assertIn("the password from ~/.netrc (default entry)", r.info())
        self.assertIn(("<~", "235 2.7.0 Authentication successful"), r.events)

    def test_netrc_readable_by_others_refused(self):
        """a ~/.netrc of mode 0644 is refused with a clear error; no AUTH is sent"""
        path = self.write_netrc("machine localhost login %s password %s\n"
                                % (LAB.user, LAB.password), 0o644)
        r = self.run_auth(["\\auth PLAIN"], pw_command=False)
        self.assertEqual(r.rc, 2, r.describe())
        self.assertIn("refusing to use %s: its mode 0644" % path, r.stderr)
        self.assertIn("chmod 600", r.stderr)
        self.assertFalse([t for t in self.sent(r) if t.startswith("AUTH")], r.describe())
        self.assertNoSecret(r)

    def test_wrong_password_535_and_the_shell_goes_on(self):
        """a wrong password: 535 shown, the session stays usable, exit 0 without --strict"""
        r = run_smtpsh(["--starttls", "--cafile", LAB.cafile, "--password-command",
                        "echo Wrong-pass", "localhost", LAB.submission_port],
                       "EHLO c\n\\auth LOGIN %s\nNOOP\nMAIL FROM:<%s>\nRSET\nQUIT\n"
                       % (LAB.user, LAB.user), home=self.home, env={"SMTPSH_PASSWORD": ""})
        self.assertEqual(r.rc, 0, r.describe())
        recv = [t for _, t in r.received()]
        self.assertTrue(any(t.startswith("535 5.7.8 ") for t in recv), r.describe())
        self.assertIn("250 2.0.0 Ok", recv)  # NOOP
        self.assertIn("250 2.1.0 Ok", recv)  # MAIL
        self.assertIn("221 2.0.0 Bye", recv)
        self.assertNotIn("Wrong-pass", r.stdout + r.stderr)
        self.assertNotIn(b64("Wrong-pass"), r.stdout + r.stderr)

    def test_wrong_password_strict_exit_1(self):
        """--strict: a 535 to \\auth ends the batch with exit status 1"""
        r = run_smtpsh(["--strict", "--starttls", "--cafile", LAB.cafile, "--password-command",
                        "echo Wrong-pass", "localhost", LAB.submission_port],
                       "EHLO c\n\\auth PLAIN %s\nNOOP\n" % LAB.user, home=self.home,
                       env={"SMTPSH_PASSWORD": ""})
        self.assertEqual(r.rc, 1, r.describe())
        self.assertNotIn("NOOP", self.sent(r))

    def test_password_command_failure(self):
        """a failing --password-command: a clear error, no AUTH sent"""
        r = run_smtpsh(["--starttls", "--cafile", LAB.cafile, "--password-command", "exit 3",
                        "localhost", LAB.submission_port],
                       "EHLO c\n\\auth PLAIN %s\n" % LAB.user, home=self.home,
                       env={"SMTPSH_PASSWORD": ""})
        self.assertEqual(r.rc, 2, r.describe())
        self.assertIn("--password-command: the command failed (exit status 3)", r.stderr)
        self.assertFalse([t for t in self.sent(r) if t.startswith("AUTH")], r.describe())

    def test_batch_without_terminal_or_source(self):
        """no source and no terminal (batch mode): a clear error naming the sources"""
        r = run_smtpsh(["--starttls", "--cafile", LAB.cafile, "localhost", LAB.submission_port],
                       "EHLO c\n\\auth PLAIN %s\n" % LAB.user, home=self.home,
                       env={"SMTPSH_PASSWORD": ""})
        self.assertEqual(r.rc, 2, r.describe())
        self.assertIn("no terminal to ask for the password", r.stderr)
        self.assertIn("--password-command", r.stderr)

    def test_auth_before_starttls_names_the_problem(self):
        """\\auth before STARTTLS on a port that offers AUTH only under TLS"""
        r = run_smtpsh(["--password-command", "echo x", "localhost", LAB.submission_port],
                       "EHLO c\n\\auth\nQUIT\n", home=self.home)
        self.assertEqual(r.rc, 2, r.describe())
        self.assertIn("does not offer AUTH here (STARTTLS first?)", r.stderr)

    def test_b64_and_unb64(self):
        """\\b64 builds a PLAIN answer (\\0 escapes), \\unb64 shows it escaped"""
        r = run_smtpsh([], "\\b64 \\0alice\\0secret\n\\unb64 AGFsaWNlAHNlY3JldA==\n"
                           "\\unb64 334 VXNlcm5hbWU6\n\\b64 two  words\n\\unb64 n0t*base64\n",
                       home=self.home)
        out = r.stdout.splitlines()
        self.assertIn("   AGFsaWNlAHNlY3JldA==", out, r.describe())
        self.assertIn("   \\x00alice\\x00secret", out, r.describe())
        self.assertIn("   Username:", out, r.describe())
        self.assertIn("   " + b64("two  words"), out, r.describe())
        self.assertIn("\\unb64: not valid base64", r.stderr)

    def test_help_names_the_local_command(self):
        """\\help \\auth explains the local command, \\help auth the SMTP verb"""
        r = run_smtpsh([], "\\help \\auth\n\\help auth\n\\help \\send\n", home=self.home)
        out = r.stdout.splitlines()
        self.assertEqual(out[0], "   \\auth [MECH] [USER]", r.describe())
        self.assertTrue(any(l.startswith("   AUTH \u2014 ") for l in out), r.describe())
        self.assertIn("   \\send --from A --to B [OPTION]...", out)

    def test_typed_auth_plain_with_b64(self):
        """AUTH PLAIN typed with the answer \\b64 made: accepted, shown redacted"""
        r = run_smtpsh(["--starttls", "--cafile", LAB.cafile, "localhost", LAB.submission_port],
                       "EHLO c\nAUTH PLAIN %s\nQUIT\n" % auth_plain(LAB.user, LAB.password),
                       home=self.home)
        self.assertEqual(r.rc, 0, r.describe())
        self.assertIn(("~>", "AUTH PLAIN <redacted>"), r.events)
        self.assertIn(("<~", "235 2.7.0 Authentication successful"), r.events)
        self.assertNoSecret(r)


if __name__ == "__main__":
    tap_main()
