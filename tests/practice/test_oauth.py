#!/usr/bin/python3
"""OAuth2 offline (issue 18, "Offline, for class"): smtpsh --practice with its built-in sign-in
server (src/practice/oauthd.c), the real binary in batch mode. \\oauth login through the
browser (code + PKCE S256, $BROWSER = tests/lib/fakebrowser.py pressing Accept on the consent
page) and through the device flow (the test plays the user at the verification page), then
\\auth XOAUTH2 and \\auth OAUTHBEARER -> 235; the faults oauth-expired, oauth-scope and
oauth-revoked; the user's own token store untouched; no token on the screen or in the
transcript. The sign-in server itself (HTTP bounds, PKCE, slow_down, a forged client) is
spoken to directly over HTTPS with the practice CA.

Usage: PYTHONPATH=tests/lib /usr/bin/python3 tests/practice/test_oauth.py [PATH/TO/smtpsh] [NAME...]
Prints TAP. Needs only smtpsh and Python (no network).
"""

import base64
import glob
import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

sys.dont_write_bytecode = True
from smtpshtest import tap_main
import smtplib

from practicelib import FINAL_RX, Practice, Serve, strip_note

HERE = os.path.dirname(os.path.abspath(__file__))
BROWSER = os.path.join(HERE, "..", "lib", "fakebrowser.py")
# a token, a code or a PKCE verifier of the sign-in server: 43 base64url characters
SECRET_RX = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])")


class OAuthPractice(unittest.TestCase):

    def setUp(self):
        self.home = tempfile.mkdtemp(prefix="smtpsh-oauth-practice-")
        self.addCleanup(shutil.rmtree, self.home, True)
        self.tmp = os.path.join(self.home, "tmp")
        os.mkdir(self.tmp)
        # the user's real token store, with a token of a profile named "practice": never
        # touched by a practice session
        self.real = os.path.join(self.home, "state", "smtpsh", "oauth")
        os.makedirs(self.real, 0o700)
        self.real_token = os.path.join(self.real, "practice.json")
        with open(os.open(self.real_token, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write('{"account":"me@real.example","scope":"x","stored":1,'
                    '"refresh_token":"the-real-one"}')
        self.transcript = os.path.join(self.home, "session.transcript")

    def start(self, browser=True, consent="yes", extra=()):
        env = {"TMPDIR": self.tmp, "XDG_STATE_HOME": os.path.join(self.home, "state"),
               "FAKEBROWSER_LOG": os.path.join(self.home, "browser.log"),
               "FAKEBROWSER_CONSENT": consent, "DISPLAY": "", "WAYLAND_DISPLAY": ""}
        if browser:
            env["BROWSER"] = BROWSER
        else:
            env["BROWSER"] = ""
        sh = Practice(["--record", self.transcript] + list(extra), home=self.home, env=env)
        self.addCleanup(sh.kill)
        m = re.search(r"practice sign-in server https://127\.0\.0\.1:(\d+)", sh.out.text())
        self.assertTrue(m, "the banner names the sign-in server\n" + sh.describe())
        self.idp_port = int(m.group(1))
        return sh

    def ehlo_tls(self, sh):
        sh.command("EHLO client.test")
        sh.command("STARTTLS")
        code, lines = sh.command("EHLO client.test")
        self.assertIn("<~ 250-AUTH PLAIN LOGIN CRAM-MD5 XOAUTH2 OAUTHBEARER", lines)

    def login_browser(self, sh):
        lines = sh.local("\\oauth login", r"logged in as|error", timeout=30)
        self.assertRegex(lines[-1], r"OAuth2 practice: logged in as student; refresh token "
                         r"stored in .*/smtpsh-practice\.[^/]+/oauth$", sh.describe())

    def auth(self, sh, mech, want):
        """\\auth MECH to its last reply (past a 334): the reply lines shown."""
        start = len(sh.out.lines)
        sh.send("\\auth " + mech)
        i = sh.out.wait(r"^(<-|<~|<\?) (?!334)\d{3}( |$)", start, 20)
        self.assertEqual(int(FINAL_RX.match(sh.out.lines[i]).group(2)), want, sh.describe())
        return [strip_note(l) for l in sh.out.lines[start:i + 1] if FINAL_RX.match(l)]

    def stored_refresh_token(self, sh):
        with open(os.path.join(sh.dir, "oauth", "practice.json")) as f:
            return json.load(f)["refresh_token"]

    def https(self, sh, method, path, body=None):
        ctx = ssl.create_default_context(cafile=sh.cafile)
        c = http.client.HTTPSConnection("127.0.0.1", self.idp_port, context=ctx, timeout=10)
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if body is not None \
            else {}
        c.request(method, path, body, headers)
        r = c.getresponse()
        return r.status, r.read().decode(errors="replace"), r

    def no_secret_anywhere(self, sh, tokens):
        """No token on the screen (stdout, stderr) or in the transcript: neither the ones
        named nor anything shaped like one but the PKCE challenge (public by design)."""
        with open(self.transcript, errors="replace") as f:
            rec = f.read()
        texts = {"stdout": sh.out.text(), "stderr": sh.err.text(), "transcript": rec}
        public = set(re.findall(r"code_challenge=([A-Za-z0-9_-]{43})", texts["stdout"]))
        for t in tokens:  # the pattern below would find them
            self.assertRegex(t, SECRET_RX)
        for name, text in texts.items():
            for t in tokens:
                self.assertNotIn(t, text, "a token in the %s" % name)
            found = set(SECRET_RX.findall(text)) - public
            self.assertEqual(found, set(), "something shaped like a token in the %s" % name)

    def finish(self, sh, tokens, failed=False):
        """QUIT (unless a local error ended the batch: exit status 2), then the checks."""
        if not failed:
            sh.command("QUIT")
        self.assertEqual(sh.close(), 2 if failed else 0, sh.describe())
        self.no_secret_anywhere(sh, tokens)
        with open(self.real_token) as f:
            self.assertIn('"refresh_token":"the-real-one"', f.read(), "the real store kept")
        self.assertEqual(sorted(os.listdir(self.real)), ["practice.json"])

    # ---- the flows -------------------------------------------------------------------------

    def test_browser_login_then_xoauth2(self):
        """\\oauth login: consent page, code + PKCE, token stored apart; \\auth XOAUTH2 -> 235"""
        sh = self.start()
        self.login_browser(sh)
        # the browser writes what smtpsh answered it once it has read it: wait for it
        log, page = os.path.join(self.home, "browser.log"), ""
        for _ in range(100):
            if os.path.exists(log):
                with open(log) as f:
                    page = f.read()
                if "\n" in page and page.rstrip().endswith(">"):
                    break
            time.sleep(0.1)
        self.assertTrue(page.startswith("200\n"), "smtpsh's page after the redirect: %r" % page)
        st = os.stat(os.path.join(sh.dir, "oauth", "practice.json"))
        self.assertEqual(st.st_mode & 0o777, 0o600)
        refresh = self.stored_refresh_token(sh)
        self.ehlo_tls(sh)
        lines = self.auth(sh, "", 235)  # \auth alone: the token after \oauth login
        self.assertIn("mechanism XOAUTH2 (a token source was given)", sh.out.text())
        self.assertIn("~> AUTH XOAUTH2 <redacted>", sh.out.text())
        self.finish(sh, [refresh])

    def test_browser_cancel(self):
        """Cancel on the consent page: access_denied, nothing stored"""
        sh = self.start(consent="no")
        sh.send("\\oauth login")
        sh.err.wait(r"declined", timeout=30)
        self.assertIn("the sign-in was declined (access_denied: AADSTS65004: User declined "
                      "to consent to access the app.)", sh.err.text(), sh.describe())
        self.assertFalse(os.path.exists(os.path.join(sh.dir, "oauth", "practice.json")))
        self.finish(sh, [], failed=True)

    def test_device_flow_then_oauthbearer(self):
        """no browser: the device flow; the user enters the code at /device; OAUTHBEARER"""
        sh = self.start(browser=False)
        start = len(sh.out.lines)
        sh.send("\\oauth login")
        i = sh.out.wait(r"to sign in, open (\S+) and enter the code ([A-Z]{4}-[A-Z]{4})", start)
        m = re.search(r"open (\S+) and enter the code (\S+)", sh.out.lines[i])
        self.assertEqual(m.group(1), "https://127.0.0.1:%d/device" % self.idp_port)
        code = m.group(2)
        status, page, _ = self.https(sh, "GET", "/device?user_code=" + code)
        self.assertEqual(status, 200)
        self.assertIn('<input name="user_code" value="%s">' % code, page)
        # typed as people type it: lower case, without the dash
        status, page, _ = self.https(sh, "POST", "/device", urllib.parse.urlencode(
            {"user_code": code.replace("-", "").lower(), "consent": "yes"}))
        self.assertEqual(status, 200, page)
        self.assertIn("You have signed in", page)
        sh.out.wait(r"OAuth2 practice: logged in as student", i, timeout=30)
        # the code is used: entering it again is refused
        status, page, _ = self.https(sh, "POST", "/device", "user_code=%s&consent=yes" % code)
        self.assertEqual(status, 400)
        self.assertIn("AADSTS70019", page)
        refresh = self.stored_refresh_token(sh)
        self.ehlo_tls(sh)
        self.auth(sh, "OAUTHBEARER", 235)
        self.assertIn("~> AUTH OAUTHBEARER <redacted>", sh.out.text())
        self.finish(sh, [refresh])

    def test_device_flow_declined(self):
        """Cancel at /device: the shell says the sign-in was declined (access_denied)"""
        sh = self.start(browser=False)
        start = len(sh.out.lines)
        sh.send("\\oauth login")
        i = sh.out.wait(r"enter the code ([A-Z]{4}-[A-Z]{4})", start)
        code = re.search(r"enter the code (\S+)", sh.out.lines[i]).group(1)
        self.https(sh, "POST", "/device", "user_code=%s&consent=no" % code)
        sh.err.wait(r"the sign-in was declined \(access_denied: AADSTS65004", timeout=30)
        self.finish(sh, [], failed=True)

    # ---- the provider lessons (docs/teaching.md, Provider personalities) ------------------

    def deliver(self, sh, subject):
        """MAIL, RCPT, DATA and a message: stored (the 250 after the dot)"""
        self.assertEqual(sh.command("MAIL FROM:<student@example.test>")[0], 250, sh.describe())
        self.assertEqual(sh.command("RCPT TO:<teacher@example.test>")[0], 250, sh.describe())
        self.assertEqual(sh.command("DATA")[0], 354, sh.describe())
        sh.send("Subject: " + subject)
        sh.send("")
        sh.send("sent with an OAuth2 token")
        code, lines = sh.command(".")
        self.assertEqual(code, 250, sh.describe())
        self.assertRegex(lines[-1], r"stored as [0-9A-F]{10}")

    def test_lesson_office365(self):
        """--like office365: its AUTH line (LOGIN XOAUTH2), PLAIN refused in its words,
        basic-auth off: \auth LOGIN gets 550 5.7.30 and the hint names \oauth login; after
        \oauth login, \auth XOAUTH2 -> 235 and the message is delivered"""
        sh = self.start(extra=["--like", "office365"])
        self.assertIn("<- 220 smtp.office365.com Microsoft ESMTP MAIL Service ready",
                      sh.out.text())
        self.assertIn("try: EHLO me, STARTTLS, EHLO me, \\auth LOGIN, MAIL FROM:",
                      sh.out.text(), "the start names a mechanism Office 365 offers")
        sh.command("EHLO client.test")
        sh.command("STARTTLS")
        code, lines = sh.command("EHLO client.test")
        self.assertIn("<~ 250-AUTH LOGIN XOAUTH2", lines)
        code, lines = sh.command("AUTH PLAIN " + base64.b64encode(
            ("\0%s\0%s" % (sh.user, sh.password)).encode()).decode())
        self.assertEqual(lines[-1], "<~ 504 5.7.4 Unrecognized authentication type "
                         "(smtp.office365.com offers AUTH LOGIN XOAUTH2)")
        sh.local("\\practice basic-auth off", r"basic-auth")
        lines = self.auth(sh, "LOGIN", 550)
        self.assertEqual(lines[-1], "<~ 550 5.7.30 Basic authentication is not supported for "
                         "Client Submission. (password logins are switched off on this server "
                         "(basic-auth off))")
        self.assertRegex(sh.out.text() + sh.err.text(),
                         r"Basic authentication \(a password\) is not accepted for client "
                         r"submission: log in\s+with OAuth2 \(\\oauth login")
        self.login_browser(sh)
        refresh = self.stored_refresh_token(sh)
        self.auth(sh, "XOAUTH2", 235)
        self.assertIn("~> AUTH XOAUTH2 <redacted>", sh.out.text())
        self.deliver(sh, "office365 lesson")
        self.finish(sh, [refresh])

    def test_lesson_gmail(self):
        """--like gmail with app-password on: the account password gets 534 5.7.9; after
        \oauth login, \auth XOAUTH2 -> 235 and the message is delivered"""
        sh = self.start(extra=["--like", "gmail"])
        sh.command("EHLO client.test")
        sh.command("STARTTLS")
        code, lines = sh.command("EHLO client.test")
        self.assertIn("<~ 250-AUTH LOGIN PLAIN XOAUTH2 OAUTHBEARER", lines)
        sh.local("\\practice app-password on", r"app-password")
        lines = self.auth(sh, "PLAIN", 534)
        self.assertIn("<~ 534-5.7.9 Application-specific password required. For more "
                      "information, go to", sh.out.text())
        self.assertEqual(lines[-1], "<~ 534 5.7.9  https://support.google.com/mail/?p=Invalid"
                         "SecondFactor practice - gsmtp (the account password was sent; this "
                         "account logs in with its app password)")
        self.login_browser(sh)
        refresh = self.stored_refresh_token(sh)
        self.auth(sh, "XOAUTH2", 235)
        self.deliver(sh, "gmail lesson")
        self.finish(sh, [refresh])

    # ---- the faults ------------------------------------------------------------------------

    def test_fault_expired(self):
        """oauth-expired on: 334 {"status":"401"...}, then 535; off: a refresh, then 235"""
        sh = self.start()
        self.login_browser(sh)
        tokens = [self.stored_refresh_token(sh)]
        self.ehlo_tls(sh)
        sh.local("\\practice oauth-expired on", r"oauth-expired")
        lines = self.auth(sh, "XOAUTH2", 535)
        j = json.loads(base64.b64decode(lines[0].split()[2]))
        self.assertEqual(j, {"status": "401", "schemes": "bearer",
                             "scope": "https://outlook.office.com/SMTP.Send"})
        self.assertIn("the server refused the token: status 401", sh.out.text())
        self.assertIn("(the access token has expired)", lines[-1], "the 535 says why")
        sh.local("\\practice oauth-expired off", r"oauth-expired")
        self.auth(sh, "XOAUTH2", 235)
        self.assertIn("OAuth2: refreshing the access token at https://127.0.0.1:%d/token"
                      % self.idp_port, sh.out.text())
        self.assertIn("OAuth2: the provider rotated the refresh token: stored", sh.out.text())
        tokens.append(self.stored_refresh_token(sh))
        self.assertNotEqual(tokens[0], tokens[1])
        self.finish(sh, tokens)

    def test_fault_scope(self):
        """oauth-scope wrong: the token lacks SMTP.Send: 334 {"status":"400"...}; OAUTHBEARER
        says insufficient_scope"""
        sh = self.start()
        sh.local("\\practice oauth-scope wrong", r"oauth-scope")
        self.login_browser(sh)
        sh.local("\\oauth status", r"scope")
        self.assertIn("account student; scope offline_access;", sh.out.text())
        self.ehlo_tls(sh)
        lines = self.auth(sh, "XOAUTH2", 535)
        self.assertEqual(json.loads(base64.b64decode(lines[0].split()[2]))["status"], "400")
        lines = self.auth(sh, "OAUTHBEARER", 535)
        self.assertEqual(json.loads(base64.b64decode(lines[0].split()[2]))["status"],
                         "insufficient_scope")
        self.finish(sh, [self.stored_refresh_token(sh)])

    def test_fault_revoked(self):
        """oauth-revoked on: the token fails; the refresh gets invalid_grant: 'log in again'
        (a local error: the batch ends; tests/pty/test_oauth_pty.py logs in again)"""
        sh = self.start()
        self.login_browser(sh)
        tokens = [self.stored_refresh_token(sh)]
        self.ehlo_tls(sh)
        sh.local("\\practice oauth-revoked on", r"oauth-revoked")
        self.auth(sh, "XOAUTH2", 535)
        sh.send("\\auth XOAUTH2")
        sh.err.wait(r"OAuth2: the provider refused the stored refresh token \(invalid_grant: "
                    r"AADSTS50173: The provided grant has expired due to it being revoked.*"
                    r"log in again")
        self.finish(sh, tokens, failed=True)

    def test_logout_revokes(self):
        """\\oauth logout revokes the grant at /revoke and deletes the practice token only"""
        sh = self.start()
        self.login_browser(sh)
        tokens = [self.stored_refresh_token(sh)]
        sh.local("\\oauth logout", r"deleted|no refresh")
        self.assertIn("OAuth2 practice: the grant was revoked at https://127.0.0.1:%d/revoke"
                      % self.idp_port, sh.out.text())
        self.assertFalse(os.path.exists(os.path.join(sh.dir, "oauth", "practice.json")))
        self.finish(sh, tokens)

    # ---- the sign-in server on its own -------------------------------------------------

    def test_server_bounds_and_checks(self):
        """HTTP bounds, PKCE S256 checked, slow_down, unknown client, loopback redirects"""
        sh = self.start()
        form = lambda **kw: urllib.parse.urlencode(kw)
        cid = "smtpsh-practice"
        # device flow: pending, then slow_down when polled faster than the interval
        status, body, _ = self.https(sh, "POST", "/devicecode", form(client_id=cid))
        dev = json.loads(body)
        self.assertEqual(dev["interval"], 2)
        self.assertRegex(dev["user_code"], r"^[A-Z]{4}-[A-Z]{4}$")
        poll = form(client_id=cid, device_code=dev["device_code"],
                    grant_type="urn:ietf:params:oauth:grant-type:device_code")
        status, body, _ = self.https(sh, "POST", "/token", poll)
        self.assertEqual((status, json.loads(body)["error"]), (400, "authorization_pending"))
        status, body, _ = self.https(sh, "POST", "/token", poll)
        self.assertEqual(json.loads(body)["error"], "slow_down")
        # an unknown client
        status, body, _ = self.https(sh, "POST", "/token", form(client_id="evil",
                                                                grant_type="refresh_token"))
        self.assertEqual((status, json.loads(body)["error"]), (400, "invalid_client"))
        # the code flow: a redirect elsewhere than loopback is refused before any consent
        verifier = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
        challenge = base64.urlsafe_b64encode(
            hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
        q = dict(client_id=cid, response_type="code", state="s1", code_challenge=challenge,
                 code_challenge_method="S256", redirect_uri="https://evil.example/")
        status, body, _ = self.https(sh, "GET", "/authorize?" + form(**q))
        self.assertEqual(status, 400)
        self.assertIn("AADSTS50011", body)
        q["redirect_uri"] = "http://127.0.0.1:9/cb"
        q["state"] = "<script>"
        status, body, _ = self.https(sh, "GET", "/authorize?" + form(**q))
        self.assertEqual(status, 200)
        rid = re.search(r'name="request" value="([^"]+)"', body).group(1)
        status, body, r = self.https(sh, "POST", "/authorize", form(request=rid, consent="yes"))
        self.assertEqual(status, 302)
        loc = urllib.parse.urlsplit(r.getheader("Location"))
        self.assertEqual(loc.netloc, "127.0.0.1:9")
        qs = urllib.parse.parse_qs(loc.query)
        self.assertEqual(qs["state"], ["<script>"])
        code = qs["code"][0]
        exchange = dict(client_id=cid, grant_type="authorization_code", code=code,
                        redirect_uri="http://127.0.0.1:9/cb", code_verifier="x" * 43)
        status, body, _ = self.https(sh, "POST", "/token", form(**exchange))
        self.assertEqual(json.loads(body)["error_codes"], [501481], "PKCE checked")
        status, body, _ = self.https(sh, "POST", "/token", form(**exchange))
        self.assertEqual(json.loads(body)["error"], "invalid_grant", "a code is used once")
        # HTTP bounds: a head that never ends, a body too large, no Content-Length
        ctx = ssl.create_default_context(cafile=sh.cafile)
        for req, want in ((b"GET /" + b"a" * 9000, b"431"),
                          (b"POST /token HTTP/1.1\r\nContent-Length: 99999\r\n\r\n", b"413"),
                          (b"POST /token HTTP/1.1\r\n\r\n", b"411"),
                          (b"BREW /pot HTTP/1.1\r\n\r\n", b"501")):
            with socket.create_connection(("127.0.0.1", self.idp_port), 10) as raw:
                with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                    s.sendall(req)
                    self.assertIn(b"HTTP/1.1 " + want, s.recv(200), req[:30])
        # the server still answers
        status, _, _ = self.https(sh, "GET", "/device")
        self.assertEqual(status, 200)
        self.finish(sh, [])


class ServeOAuth(unittest.TestCase):
    """smtpsh --serve: a student's own client gets a token from the sign-in server the
    startup lines name (the device flow, as curl would) and logs in with XOAUTH2."""

    def test_serve_device_token_then_smtplib_xoauth2(self):
        """--serve: a token got by hand (device flow) logs smtplib in with XOAUTH2"""
        tmp = tempfile.mkdtemp(prefix="smtpsh-oauth-serve-")
        self.addCleanup(shutil.rmtree, tmp, True)
        srv = Serve(os.path.join(tmp, "Maildir"))
        self.addCleanup(srv.stop)
        i = srv.out.wait(r"XOAUTH2 and OAUTHBEARER take tokens of the practice sign-in server "
                         r"https://127\.0\.0\.1:(\d+) \(client_id smtpsh-practice")
        port = int(re.search(r"https://127\.0\.0\.1:(\d+)", srv.out.lines[i]).group(1))
        srv.out.wait(r"e\.g\. curl --cacert \S+ -d client_id=smtpsh-practice", i)
        ctx = ssl.create_default_context(cafile=srv.cafile)

        def post(path, **form):
            c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
            c.request("POST", path, urllib.parse.urlencode(form),
                      {"Content-Type": "application/x-www-form-urlencoded"})
            r = c.getresponse()
            return r.status, r.read().decode()

        _, body = post("/devicecode", client_id="smtpsh-practice",
                       scope="https://outlook.office.com/SMTP.Send offline_access")
        dev = json.loads(body)
        status, _ = post("/device", user_code=dev["user_code"], consent="yes")
        self.assertEqual(status, 200)
        status, body = post("/token", client_id="smtpsh-practice",
                            device_code=dev["device_code"],
                            grant_type="urn:ietf:params:oauth:grant-type:device_code")
        tok = json.loads(body)
        self.assertEqual((status, tok["token_type"]), (200, "Bearer"), body)
        access = tok["access_token"]
        # the teacher sees the sign-in server's requests as they come, never a token
        srv.out.wait(r"^\*  sign-in server: POST /token: token: device code redeemed; tokens "
                     r"issued for student, scope https://outlook\.office\.com/SMTP\.Send "
                     r"offline_access$")
        with smtplib.SMTP("localhost", srv.port, local_hostname="client.test", timeout=10) as s:
            s.starttls(context=ctx)
            s.ehlo("client.test")
            self.assertIn("XOAUTH2", s.esmtp_features["auth"].split())
            xo = base64.b64encode(("user=%s\x01auth=Bearer %s\x01\x01"
                                   % (srv.user, access)).encode()).decode()
            code, _ = s.docmd("AUTH", "XOAUTH2 " + xo)
            self.assertEqual(code, 235)
        # another user's name with this token: refused with the JSON error, then 535
        with smtplib.SMTP("localhost", srv.port, local_hostname="client.test", timeout=10) as s:
            s.starttls(context=ctx)
            s.ehlo("client.test")
            xo = base64.b64encode(("user=mallory\x01auth=Bearer %s\x01\x01"
                                   % access).encode()).decode()
            code, text = s.docmd("AUTH", "XOAUTH2 " + xo)
            self.assertEqual(code, 334)
            self.assertEqual(json.loads(base64.b64decode(text))["status"], "400")
            code, text = s.docmd("")
            self.assertEqual(code, 535)
            self.assertIn(b"(the access token was issued for another user)", text)
        # the right name followed by a NUL and more: refused, not cut short at the NUL
        with smtplib.SMTP("localhost", srv.port, local_hostname="client.test", timeout=10) as s:
            s.starttls(context=ctx)
            s.ehlo("client.test")
            xo = base64.b64encode(("user=%s\0x\x01auth=Bearer %s\x01\x01"
                                   % (srv.user, access)).encode()).decode()
            code, _ = s.docmd("AUTH", "XOAUTH2 " + xo)
            self.assertEqual(code, 535)
        srv.out.wait(r"XOAUTH2 login failed: the response holds a NUL")
        srv.out.wait(r"XOAUTH2 login failed: the access token was issued for another user")
        self.assertEqual(srv.stop(), 0)
        self.assertNotIn(access, srv.out.text() + srv.err.text(), "the token on the teacher's "
                         "screen")
        self.assertIn("XOAUTH2 login as student succeeded", srv.out.text())

    def test_serve_listen_addr_signin_there(self):
        """--serve --listen 127.0.0.2: the sign-in server listens there too (not on
        127.0.0.1), its startup lines and verification_uri name it, its certificate covers it"""
        tmp = tempfile.mkdtemp(prefix="smtpsh-oauth-listen-")
        self.addCleanup(shutil.rmtree, tmp, True)
        srv = Serve(os.path.join(tmp, "Maildir"), ["--listen", "127.0.0.2"])
        self.addCleanup(srv.stop)
        i = srv.out.wait(r"XOAUTH2 and OAUTHBEARER take tokens of the practice sign-in server "
                         r"https://127\.0\.0\.2:(\d+) \(client_id smtpsh-practice")
        port = int(re.search(r"https://127\.0\.0\.2:(\d+)", srv.out.lines[i]).group(1))
        srv.out.wait(r"e\.g\. curl --cacert \S+ .* https://127\.0\.0\.2:%d/devicecode$" % port,
                     i)
        # the default context checks the certificate's IP address against 127.0.0.2
        ctx = ssl.create_default_context(cafile=srv.cafile)
        c = http.client.HTTPSConnection("127.0.0.2", port, context=ctx, timeout=10)
        c.request("POST", "/devicecode", "client_id=smtpsh-practice",
                  {"Content-Type": "application/x-www-form-urlencoded"})
        r = c.getresponse()
        dev = json.loads(r.read().decode())
        self.assertEqual(r.status, 200)
        self.assertEqual(dev["verification_uri"], "https://127.0.0.2:%d/device" % port)
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), 5).close()


class SignInHall(unittest.TestCase):
    """smtpsh --serve's sign-in server serves a lecture hall (issue 17): connections side by
    side, so silent ones delay no one; a class's device-code requests all answered; at most
    OAUTHD_CONNS (256) at once, one more closed at once."""

    CONNS = 256  # OAUTHD_CONNS

    def setUp(self):
        tmp = tempfile.mkdtemp(prefix="smtpsh-oauth-hall-")
        self.addCleanup(shutil.rmtree, tmp, True)
        self.srv = Serve(os.path.join(tmp, "Maildir"))
        self.addCleanup(self.srv.stop)
        i = self.srv.out.wait(r"practice sign-in server https://127\.0\.0\.1:(\d+)")
        self.port = int(re.search(r"https://127\.0\.0\.1:(\d+)",
                                  self.srv.out.lines[i]).group(1))
        self.ctx = ssl.create_default_context(cafile=self.srv.cafile)
        self.socks = []
        self.addCleanup(lambda: [s.close() for s in self.socks])

    def devicecode(self, timeout=10):
        c = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx,
                                        timeout=timeout)
        try:
            c.request("POST", "/devicecode", "client_id=smtpsh-practice",
                      {"Content-Type": "application/x-www-form-urlencoded"})
            r = c.getresponse()
            return r.status, json.loads(r.read().decode())
        finally:
            c.close()

    def silent(self, n):
        """n TCP connections that never say a word (not even a TLS hello)."""
        for _ in range(n):
            self.socks.append(socket.create_connection(("127.0.0.1", self.port), 10))

    def test_silent_clients_delay_no_one(self):
        """20 silent TCP connections and a TLS one with no request: a sign-in still answered
        at once; the silent TLS one closed at its own deadline (10 s)"""
        self.silent(20)
        raw = socket.create_connection(("127.0.0.1", self.port), 10)
        mute = self.ctx.wrap_socket(raw, server_hostname="127.0.0.1")  # handshake done
        self.socks.append(mute)
        t0 = time.monotonic()
        status, dev = self.devicecode()
        took = time.monotonic() - t0
        self.assertEqual(status, 200)
        self.assertRegex(dev["user_code"], r"^[A-Z]{4}-[A-Z]{4}$")
        self.assertLess(took, 0.5, "a sign-in waited behind silent connections")
        # the one that said nothing is closed when its 10 s are over, not before
        mute.settimeout(15)
        t0 = time.monotonic()
        try:
            self.assertEqual(mute.recv(100), b"")
        except (ConnectionResetError, ssl.SSLError):
            pass
        self.assertGreater(time.monotonic() - t0, 7)
        self.assertLess(time.monotonic() - t0, 12)

    def test_a_class_asks_for_device_codes_at_once(self):
        """100 device-code requests at the same time: each answered 200 with its own codes,
        and each device code still known (authorization_pending) afterwards"""
        import concurrent.futures
        with concurrent.futures.ThreadPoolExecutor(100) as pool:
            got = list(pool.map(lambda _: self.devicecode(20), range(100)))
        self.assertEqual([s for s, _ in got], [200] * 100)
        self.assertEqual(len({d["user_code"] for _, d in got}), 100)
        # every student's device code still waits for its sign-in (none forgotten)
        for _, dev in got:
            c = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx,
                                            timeout=10)
            c.request("POST", "/token", urllib.parse.urlencode(dict(
                client_id="smtpsh-practice", device_code=dev["device_code"],
                grant_type="urn:ietf:params:oauth:grant-type:device_code")),
                {"Content-Type": "application/x-www-form-urlencoded"})
            r = c.getresponse()
            self.assertEqual(json.loads(r.read().decode())["error"], "authorization_pending")
            c.close()

    def test_connection_limit(self):
        """256 connections at once: one more is closed at once (and the teacher told once);
        when some end, sign-ins are answered again"""
        self.silent(self.CONNS)
        # the server takes them all (in the order they came), then closes the next at once
        extra = socket.create_connection(("127.0.0.1", self.port), 10)
        extra.settimeout(2)
        try:
            self.assertEqual(extra.recv(10), b"", "a connection over the limit was kept")
        except ConnectionResetError:
            pass
        extra.close()
        self.srv.out.wait(r"^\*  sign-in server: 256 connections at once; more are closed "
                          r"until one ends$")
        with self.assertRaises((ConnectionResetError, ssl.SSLError, OSError)):
            self.devicecode()
        for s in self.socks[:10]:
            s.close()
        time.sleep(0.5)
        status, _ = self.devicecode()
        self.assertEqual(status, 200)
        self.assertEqual(self.srv.out.text().count("connections at once; more are closed"), 1)


if __name__ == "__main__":
    tap_main()
