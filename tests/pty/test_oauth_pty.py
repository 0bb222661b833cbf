#!/usr/bin/python3
"""\\oauth login --paste in a real pty (pexpect), as over ssh: smtpsh prints the sign-in
address; the test plays the browser on "another machine" (it GETs the address from the mock
provider, tests/lib/mockidp.py, and does not follow the redirect to 127.0.0.1); the redirected
address is pasted at smtpsh's question without echo. The state is checked, the code
exchanged, the refresh token stored; neither the code nor any token reaches the terminal or
the history file.

Usage: PYTHONPATH=tests/lib /usr/bin/python3 tests/pty/test_oauth_pty.py [PATH/TO/smtpsh] [NAME...]
"""

import glob
import http.client
import json
import os
import re
import shutil
import ssl
import sys
import tempfile
import unittest
import urllib.parse

import pexpect

sys.dont_write_bytecode = True
from harness import ScriptedServer
from mockidp import MockIdP
from smtpshtest import pty_environ, smtpsh_path, tap_main

TIMEOUT = 15
HERE = os.path.dirname(os.path.abspath(__file__))
# a token, a code or a PKCE verifier of the practice sign-in server: 43 base64url characters
SECRET_RX = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])")


class OAuthPty(unittest.TestCase):

    def setUp(self):
        self.home = tempfile.mkdtemp(prefix="smtpsh-pty-oauth-")
        self.idp = MockIdP(self.home)
        self.srv = ScriptedServer("send 220 scripted.test ESMTP\\r\\n\nexpect QUIT\n"
                                  "send 221 bye\\r\\n\n", self.home,
                                  text=True, lifetime=60)
        conf = os.path.join(self.home, ".config", "smtpsh")
        os.makedirs(conf)
        with open(os.path.join(conf, "profiles"), "w") as f:
            f.write("[mock]\nhost = 127.0.0.1\nport = %d\ntls = none\nuser = alice@example.test\n"
                    "oauth-client-id = smtpsh-test\noauth-scope = smtp offline_access\n"
                    "oauth-token-url = %s\noauth-authorize-url = %s\noauth-cafile = %s\n"
                    % (self.srv.port, self.idp.url("/token"), self.idp.url("/authorize"),
                       self.idp.cafile))
        inputrc = os.path.join(self.home, "inputrc")
        with open(inputrc, "w") as f:
            f.write("set enable-bracketed-paste off\nset bell-style none\n"
                    "set horizontal-scroll-mode off\n")
        env = pty_environ(self.home, inputrc, SMTPSH_OAUTH_TOKEN="")
        self.log_path = os.path.join(self.home, "pty.log")
        self.logf = open(self.log_path, "wb")
        self.child = pexpect.spawn(smtpsh_path(), ["mock"], env=env, cwd=self.home,
                                   timeout=TIMEOUT, dimensions=(40, 2000))
        self.child.logfile_read = self.logf

    def tearDown(self):
        if self.child.isalive():
            self.child.terminate(force=True)
        self.logf.close()
        self.srv.kill()
        self.idp.stop()
        shutil.rmtree(self.home, ignore_errors=True)

    def screen(self):
        self.logf.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def expect(self, rx):
        try:
            return self.child.expect(rx)
        except (pexpect.TIMEOUT, pexpect.EOF) as e:
            self.fail("waited for /%s/, got %s; terminal so far:\n%r"
                      % (rx, type(e).__name__, self.screen()[-3000:]))

    def browse_elsewhere(self, url):
        """The browser on another machine: sign in, and read the address it is sent to."""
        u = urllib.parse.urlsplit(url)
        ctx = ssl.create_default_context(cafile=self.idp.cafile)
        conn = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=10)
        conn.request("GET", u.path + "?" + u.query)
        resp = conn.getresponse()
        self.assertEqual(resp.status, 302)
        return resp.getheader("Location")

    def test_paste_back(self):
        self.expect(r"127\.0\.0\.1:\d+ greeted> ")
        self.child.sendline("\\oauth login --paste")
        self.expect(r"open this address in a browser and sign in: (https://\S+)")
        url = self.child.match.group(1).decode()
        location = self.browse_elsewhere(url)
        self.expect(r"the address the browser was sent to: ")
        self.child.sendline(location)
        self.expect(r"logged in as alice@example\.test; refresh token stored")
        self.expect(r"127\.0\.0\.1:\d+ greeted> ")
        self.child.sendline("\\oauth status")
        self.expect(r"an access token in memory, expires in \d+ s")
        self.child.sendcontrol("d")
        self.child.expect(pexpect.EOF)
        self.child.close()
        code = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)["code"][0]
        screen = self.screen()
        hist_path = os.path.join(self.home, ".local", "state", "smtpsh", "history")
        with open(hist_path, errors="replace") as f:
            history = f.read()
        self.assertIn("\\oauth status", history, "the history file was written")
        secrets = [code] + self.idp.issued
        for s in secrets:
            self.assertNotIn(s, screen, "a code or token on the terminal")
            self.assertNotIn(s, history, "a code or token in the history")
        (path, form), = self.idp.requests
        self.assertEqual(form["grant_type"], "authorization_code")
        self.assertEqual(form["code"], code)


class PracticeOAuthPty(unittest.TestCase):
    """smtpsh --practice in a pty: \\oauth login (the practice sign-in server; $BROWSER
    presses Accept), \\auth XOAUTH2; the oauth-revoked fault: the token refused, the refresh
    refused with "log in again", a new login, 235. No token or code on the terminal or in the
    history file."""

    def setUp(self):
        self.home = tempfile.mkdtemp(prefix="smtpsh-pty-oauth-practice-")
        self.tmp = os.path.join(self.home, "tmp")
        os.mkdir(self.tmp)
        inputrc = os.path.join(self.home, "inputrc")
        with open(inputrc, "w") as f:
            f.write("set enable-bracketed-paste off\nset bell-style none\n"
                    "set horizontal-scroll-mode off\n")
        env = pty_environ(self.home, inputrc, SMTPSH_OAUTH_TOKEN="", TMPDIR=self.tmp,
                          BROWSER=os.path.join(HERE, "..", "lib", "fakebrowser.py"),
                          FAKEBROWSER_LOG=os.path.join(self.home, "browser.log"),
                          DISPLAY="", WAYLAND_DISPLAY="")
        self.log_path = os.path.join(self.home, "pty.log")
        self.logf = open(self.log_path, "wb")
        self.child = pexpect.spawn(smtpsh_path(), ["--practice"], env=env, cwd=self.home,
                                   timeout=TIMEOUT, dimensions=(40, 2000))
        self.child.logfile_read = self.logf

    screen = OAuthPty.screen
    expect = OAuthPty.expect

    def tearDown(self):
        if self.child.isalive():
            self.child.terminate(force=True)
        self.logf.close()
        shutil.rmtree(self.home, ignore_errors=True)

    def refresh_token(self):
        path, = glob.glob(os.path.join(self.tmp, "smtpsh-practice.*", "oauth", "practice.json"))
        with open(path) as f:
            return json.load(f)["refresh_token"]

    def run_line(self, line, rx):
        self.child.sendline(line)
        self.expect(rx)

    def test_login_revoked_login_again(self):
        self.expect(r"greeted> ")
        tokens = []
        self.run_line("\\oauth login", r"OAuth2 practice: logged in as student")
        tokens.append(self.refresh_token())
        self.run_line("EHLO me", r"250 HELP")
        self.run_line("STARTTLS", r"certificate verified")
        self.run_line("EHLO me", r"250-AUTH PLAIN LOGIN CRAM-MD5 XOAUTH2 OAUTHBEARER")
        self.run_line("\\practice oauth-revoked on", r"oauth-revoked +on")
        self.run_line("\\auth XOAUTH2", r"<~ 535 ")
        self.run_line("\\auth XOAUTH2", r"invalid_grant: AADSTS50173.*log in again")
        self.run_line("\\oauth login", r"OAuth2 practice: logged in as student")
        tokens.append(self.refresh_token())
        self.run_line("\\auth XOAUTH2", r"<~ 235 2\.7\.0 Authentication successful")
        self.run_line("QUIT", r"connection closed after QUIT")
        self.expect(r"smtpsh> ")
        self.child.sendcontrol("d")
        self.child.expect(pexpect.EOF)
        self.child.close()
        screen = self.screen()
        with open(os.path.join(self.home, ".local", "state", "smtpsh", "history"),
                  errors="replace") as f:
            history = f.read()
        self.assertIn("\\practice oauth-revoked on", history, "the history file was written")
        public = set(re.findall(r"code_challenge=([A-Za-z0-9_-]{43})", screen))
        for name, text in (("terminal", screen), ("history", history)):
            for t in tokens:
                self.assertRegex(t, SECRET_RX)
                self.assertNotIn(t, text, "a refresh token in the %s" % name)
            self.assertEqual(set(SECRET_RX.findall(text)) - public, set(),
                             "something shaped like a token or a code in the %s" % name)


if __name__ == "__main__":
    tap_main()
