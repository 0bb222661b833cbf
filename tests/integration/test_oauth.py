#!/usr/bin/python3
"""OAuth2 against a mock identity provider (tests/lib/mockidp.py: HTTPS on loopback with a CA
made here) and a scripted SMTP server: the stored refresh token gets an access token that
\\auth XOAUTH2 / OAUTHBEARER send; the rotated refresh token is stored (0600, in a 0700
directory); an access token with less than a minute left is refreshed, one with more is used
from memory; a revoked refresh token asks to log in again and sends nothing; the command and
the variable win over the store; \\oauth status and logout (revocation, RFC 7009). No token
the provider issued appears on the screen or in the transcript.

Usage: PYTHONPATH=tests/lib /usr/bin/python3 tests/integration/test_oauth.py [NAME...]
"""

import base64
import json
import os
import stat
import sys

sys.dont_write_bytecode = True
from harness import SmtpshTestCase
from mockidp import MockIdP
from smtpshtest import run_smtpsh, tap_main

USER = "alice@example.test"
GREET = "send 220 scripted.test ESMTP\\r\\n\nexpect EHLO .*\n"
CAPS = "send 250-scripted.test\\r\\n250 AUTH XOAUTH2 OAUTHBEARER\\r\\n\n"
QUIT = "expect QUIT\nsend 221 bye\\r\\n\n"


def xoauth2(user, token):
    return base64.b64encode(("user=%s\x01auth=Bearer %s\x01\x01" % (user, token)).encode())


class OAuth(SmtpshTestCase):

    def setUp(self):
        super().setUp()
        self.idp = MockIdP(self.tmp)
        self.store = os.path.join(self.tmp, ".local", "state", "smtpsh", "oauth")

    def tearDown(self):
        self.idp.stop()
        super().tearDown()

    def write_profile(self, port, **extra):
        conf = os.path.join(self.tmp, ".config", "smtpsh")
        os.makedirs(conf, exist_ok=True)
        keys = {
            "host": "127.0.0.1", "port": str(port), "tls": "none", "user": USER,
            "oauth-client-id": "smtpsh-test", "oauth-tenant": "contoso",
            "oauth-scope": "smtp offline_access",
            "oauth-token-url": self.idp.url("/{tenant}/oauth2/v2.0/token"),
            "oauth-revoke-url": self.idp.url("/revoke"),
            "oauth-device-url": self.idp.url("/{tenant}/device"),
            "oauth-cafile": self.idp.cafile,
        }
        keys.update(extra)
        with open(os.path.join(conf, "profiles"), "w") as f:
            f.write("[mock]\n" + "".join("%s = %s\n" % kv for kv in keys.items()))

    def store_token(self, rt, mode=0o600):
        os.makedirs(self.store, mode=0o700, exist_ok=True)
        path = os.path.join(self.store, "mock.json")
        with open(path, "w") as f:
            json.dump({"account": USER, "scope": "smtp", "stored": 1765000000,
                       "refresh_token": rt}, f)
        os.chmod(path, mode)
        return path

    def stored(self):
        with open(os.path.join(self.store, "mock.json")) as f:
            return json.load(f)

    def run_mock(self, script, stdin, env=None, **profile):
        srv = self.server(script, text=True)
        self.write_profile(srv.port, **profile)
        self.rec = os.path.join(self.tmp, "session.smtpsh")
        e = {"SMTPSH_OAUTH_TOKEN": ""}
        e.update(env or {})
        r = run_smtpsh(["--timeout", "10", "--record", self.rec, "mock"], stdin=stdin.encode(),
                       timeout=40, env=e, home=self.tmp, cwd=self.tmp)
        self.assert_no_crash(r)
        return srv, r

    def assert_no_token_shown(self, r):
        """No token the provider issued on the screen or in the transcript."""
        with open(self.rec, errors="replace") as f:
            transcript = f.read()
        for t in self.idp.issued:
            self.assertNotIn(t, r.out() + r.err(), "a token on the screen")
            self.assertNotIn(t, transcript, "a token in the transcript")
            self.assertNotIn(base64.b64encode(t.encode()).decode()[:16], transcript)
        self.assertIn("AUTH", transcript)

    def refreshes(self):
        return [f for p, f in self.idp.requests if p.endswith("/token")]

    def test_refresh_rotate_and_send(self):
        """the stored refresh token gets an access token; XOAUTH2 sends it; the rotated
        refresh token is stored 0600 in a 0700 directory"""
        rt = self.idp.grant(USER)
        self.store_token(rt)
        script = (GREET + CAPS + "expect AUTH XOAUTH2 [A-Za-z0-9+/=]+\n"
                  + "send 235 2.7.0 Accepted\\r\\n\n" + QUIT)
        srv, r = self.run_mock(script, "EHLO c\n\\auth XOAUTH2\nQUIT\n")
        self.assert_exit(r, 0)
        self.assert_server_ok(srv, r)
        (form,) = self.refreshes()
        self.assertEqual(form["grant_type"], "refresh_token")
        self.assertEqual(form["refresh_token"], rt)
        self.assertEqual(form["client_id"], "smtpsh-test")
        self.assertEqual(form["scope"], "smtp offline_access")
        self.assertEqual(self.idp.requests[0][0], "/contoso/oauth2/v2.0/token",
                         "{tenant} replaced")
        (at,) = self.idp.access
        self.assertIn(b"AUTH XOAUTH2 " + xoauth2(USER, at) + b"\r\n", srv.record())
        new_rt = self.stored()["refresh_token"]
        self.assertNotEqual(new_rt, rt, "the rotated token stored")
        self.assertIn(new_rt, self.idp.refresh)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(self.store, "mock.json")).st_mode),
                         0o600)
        self.assertEqual(stat.S_IMODE(os.stat(self.store).st_mode), 0o700)
        self.assertIn("*  OAuth2: new access token for %s (expires in 3600 s; scope smtp)"
                      % USER, r.out())
        self.assert_line(r, "-> AUTH XOAUTH2 <redacted>")
        self.assert_no_token_shown(r)

    def test_oauthbearer_and_auto(self):
        """\\auth without MECH picks a token mechanism when the profile has OAuth2 settings;
        OAUTHBEARER carries the same access token"""
        self.store_token(self.idp.grant(USER))
        script = (GREET + CAPS + "expect AUTH OAUTHBEARER [A-Za-z0-9+/=]+\n"
                  + "send 235 2.7.0 Accepted\\r\\n\n"
                  + "expect AUTH XOAUTH2 [A-Za-z0-9+/=]+\nsend 235 ok\\r\\n\n" + QUIT)
        srv, r = self.run_mock(script, "EHLO c\n\\auth OAUTHBEARER\n\\auth\nQUIT\n")
        self.assert_exit(r, 0)
        self.assert_server_ok(srv, r)
        (at,) = self.idp.access
        ob = base64.b64encode(("n,a=%s,\x01host=127.0.0.1\x01port=%d\x01auth=Bearer %s\x01\x01"
                               % (USER, srv.port, at)).encode())
        self.assertIn(b"AUTH OAUTHBEARER " + ob + b"\r\n", srv.record())
        self.assertIn("mechanism XOAUTH2 (a token source was given)", r.out())
        self.assertEqual(len(self.refreshes()), 1, "the second \\auth used the token in memory")
        self.assertIn("OAuth2: the access token in memory", r.out())
        self.assert_no_token_shown(r)

    def test_refused_token_forgotten(self):
        """an access token the server refused (334 error) is not reused: the next \\auth
        refreshes"""
        self.store_token(self.idp.grant(USER))
        err = base64.b64encode(b'{"status":"401","schemes":"bearer"}').decode()
        script = (GREET + CAPS + "expect AUTH XOAUTH2 [A-Za-z0-9+/=]+\nsend 334 %s\\r\\n\n" % err
                  + "expect \nsend 535 5.7.8 no\\r\\n\n"
                  + "expect AUTH XOAUTH2 [A-Za-z0-9+/=]+\nsend 235 ok\\r\\n\n" + QUIT)
        srv, r = self.run_mock(script, "EHLO c\n\\auth XOAUTH2\n\\auth XOAUTH2\nQUIT\n")
        self.assert_server_ok(srv, r)
        self.assertEqual(len(self.refreshes()), 2, "refreshed again after the refusal")
        ats = [t for t in self.idp.issued if t.startswith("at-")]
        self.assertIn(xoauth2(USER, ats[1]), srv.record())
        self.assertIn("the server refused the token: status 401, schemes bearer", r.out())

    def test_refresh_before_expiry(self):
        """an access token with less than a minute left is refreshed before it is used"""
        self.idp.expires_in = 30
        self.store_token(self.idp.grant(USER))
        script = (GREET + CAPS
                  + "expect AUTH XOAUTH2 [A-Za-z0-9+/=]+\nsend 235 ok\\r\\n\n" * 2 + QUIT)
        srv, r = self.run_mock(script, "EHLO c\n\\auth XOAUTH2\n\\auth XOAUTH2\nQUIT\n")
        self.assert_exit(r, 0)
        self.assert_server_ok(srv, r)
        self.assertEqual(len(self.refreshes()), 2, "refreshed twice")
        first, second = self.refreshes()
        self.assertEqual(second["refresh_token"], self.idp.issued[2],
                         "the second refresh used the rotated token")
        ats = [t for t in self.idp.issued if t.startswith("at-")]
        rec = srv.record()
        self.assertIn(xoauth2(USER, ats[0]), rec)
        self.assertIn(xoauth2(USER, ats[1]), rec)
        self.assert_no_token_shown(r)

    def test_revoked_asks_to_log_in_again(self):
        """a revoked refresh token: the provider's invalid_grant shown (escaped), 'log in
        again', and no AUTH is sent"""
        rt = self.idp.grant(USER)
        self.idp.refresh.pop(rt)
        self.idp.revoked.add(rt)
        self.store_token(rt)
        srv, r = self.run_mock(GREET + CAPS + "wait-close\n", "EHLO c\n\\auth XOAUTH2\nQUIT\n")
        self.assert_server_ok(srv, r)
        self.assert_exit(r, 2)  # a batch stops at a local error
        self.assertIn("the provider refused the stored refresh token (invalid_grant: "
                      "AADSTS70008: the refresh token was revoked\\x1b[31m): it was revoked "
                      "or has expired; log in again", r.err())
        self.assertNotIn("\x1b", r.out() + r.err())
        self.assertNotIn(b"AUTH", srv.record())
        self.assertEqual(self.stored()["refresh_token"], rt, "the store is left alone")

    def test_command_and_variable_win(self):
        """SMTPSH_OAUTH_TOKEN wins over the store: the provider is not asked"""
        self.store_token(self.idp.grant(USER))
        script = (GREET + CAPS + "expect AUTH XOAUTH2 %s\nsend 235 ok\\r\\n\n"
                  % xoauth2(USER, "from-env").decode().replace("+", "\\+") + QUIT)
        srv, r = self.run_mock(script, "EHLO c\n\\auth XOAUTH2\nQUIT\n",
                               env={"SMTPSH_OAUTH_TOKEN": "from-env"})
        self.assert_exit(r, 0)
        self.assert_server_ok(srv, r)
        self.assertEqual(self.idp.requests, [])

    def test_wide_token_file_refused(self):
        """a token file others may read is refused (chmod 600), nothing sent"""
        self.store_token(self.idp.grant(USER), mode=0o644)
        srv, r = self.run_mock(GREET + CAPS + "wait-close\n", "EHLO c\n\\auth XOAUTH2\nQUIT\n")
        self.assert_server_ok(srv, r)
        self.assert_exit(r, 2)
        self.assertNotIn(b"AUTH", srv.record())
        self.assertIn("group or others may read it (mode 0644): chmod 600", r.err())
        self.assertEqual(self.idp.requests, [])

    def test_status_and_logout(self):
        """\\oauth status: account, scope, when; never a token. \\oauth logout revokes the
        grant (RFC 7009) and deletes the file"""
        rt = self.idp.grant(USER)
        self.store_token(rt)
        srv, r = self.run_mock("send 220 scripted.test ESMTP\\r\\n\n" + QUIT,
                               "\\oauth status\n\\oauth logout\n\\oauth status\nQUIT\n")
        self.assert_exit(r, 0)
        self.assert_server_ok(srv, r)
        self.assertIn("*  OAuth2 mock: account %s; scope smtp; refresh token stored "
                      "2025-12-06 05:46:40 UTC" % USER, r.out())
        self.assertIn("*  OAuth2 mock: no access token in memory", r.out())
        self.assertEqual(self.idp.requests, [("/revoke", {
            "token": rt, "token_type_hint": "refresh_token", "client_id": "smtpsh-test"})])
        self.assertIn("the grant was revoked at " + self.idp.url("/revoke"), r.out())
        self.assertIn("the stored refresh token was deleted", r.out())
        self.assertIn("*  OAuth2 mock: no refresh token stored", r.out())
        self.assertFalse(os.path.exists(os.path.join(self.store, "mock.json")))
        self.assertNotIn(rt, r.out() + r.err())

    def test_device_login(self):
        """\\oauth login: the device flow shows the code and the URL, polls through
        authorization_pending, stores the refresh token (0600) and keeps the access token
        for \\auth"""
        script = (GREET + CAPS + "expect AUTH XOAUTH2 [A-Za-z0-9+/=]+\nsend 235 ok\\r\\n\n"
                  + QUIT)
        srv, r = self.run_mock(script, "\\oauth login\nEHLO c\n\\auth XOAUTH2\n"
                                       "\\oauth status\nQUIT\n")
        self.assert_exit(r, 0)
        self.assert_server_ok(srv, r)
        self.assertIn("*  OAuth2 mock: to sign in, open %s and enter the code WDJB-MJHT "
                      "(within 60 s)" % self.idp.url("/verify"), r.out())
        device, poll1, poll2 = self.idp.requests
        self.assertEqual(device, ("/contoso/device", {"client_id": "smtpsh-test",
                                                      "scope": "smtp offline_access"}))
        self.assertEqual(poll1[1]["grant_type"], "urn:ietf:params:oauth:grant-type:device_code")
        self.assertEqual(poll1[1]["device_code"], poll2[1]["device_code"])
        (at,) = self.idp.access
        self.assertIn(xoauth2(USER, at), srv.record())
        self.assertIn("OAuth2: the access token in memory", r.out())
        self.assertEqual(self.stored()["refresh_token"], list(self.idp.refresh)[0])
        self.assertEqual(self.stored()["account"], USER)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(self.store, "mock.json")).st_mode),
                         0o600)
        self.assertIn("an access token in memory, expires in", r.out())
        self.assert_no_token_shown(r)
        for t in self.idp.issued:  # the device code too
            self.assertNotIn(t, r.out() + r.err())

    def test_oauth_login_option(self):
        """smtpsh --oauth-login PROFILE: signs in (device flow), stores, leaves: exit 0, no
        connection"""
        self.write_profile(1)  # port 1: nothing listens there, nothing may connect
        r = run_smtpsh(["--timeout", "10", "--oauth-login", "mock"], b"", timeout=40,
                       env={"SMTPSH_OAUTH_TOKEN": ""}, home=self.tmp, cwd=self.tmp)
        self.assert_no_crash(r)
        self.assert_exit(r, 0)
        self.assertIn("enter the code WDJB-MJHT", r.out())
        self.assertIn("logged in as %s" % USER, r.out())
        self.assertNotIn("connect", r.out() + r.err())
        self.assertEqual(self.stored()["refresh_token"], list(self.idp.refresh)[0])
        bad = run_smtpsh(["--oauth-login", "mock", "mx.example.test"], b"", home=self.tmp,
                         cwd=self.tmp)
        self.assert_exit(bad, 2)
        self.assertIn("--oauth-login PROFILE signs in and leaves", bad.err())

    def test_device_slow_down(self):
        """slow_down adds 5 s to the interval (RFC 8628 3.5)"""
        self.idp.device_plan = ["slow_down", "ok"]
        srv, r = self.run_mock("send 220 scripted.test ESMTP\\r\\n\n" + QUIT,
                               "\\oauth login\nQUIT\n")
        self.assert_exit(r, 0)
        self.assert_server_ok(srv, r)
        self.assertIn("the provider asks to poll more slowly: every 6 s", r.out())
        self.assertIn("logged in as %s" % USER, r.out())

    def test_device_denied_and_expired(self):
        """access_denied and expired_token end the login with what happened; nothing stored"""
        for step, said in (("access_denied", "the sign-in was declined (access_denied"),
                           ("expired_token", "the code expired before the sign-in: \\oauth "
                                             "login again (expired_token")):
            self.idp.device_plan = ["authorization_pending", step]
            srv, r = self.run_mock("send 220 scripted.test ESMTP\\r\\n\nwait-close\n",
                                   "\\oauth login\nQUIT\n")
            self.assert_server_ok(srv, r)
            self.assert_exit(r, 2)
            self.assertIn(said, r.err())
            self.assertFalse(os.path.exists(os.path.join(self.store, "mock.json")))

    def test_send_auth_auto(self):
        """smtpsh --send --auth auto PROFILE: XOAUTH2 with a token refreshed from the store"""
        self.store_token(self.idp.grant(USER))
        script = (GREET + "send 250-scripted.test\\r\\n250-AUTH XOAUTH2\\r\\n250 8BITMIME\\r\\n\n"
                  + "expect AUTH XOAUTH2 [A-Za-z0-9+/=]+\nsend 235 ok\\r\\n\n"
                  + "expect MAIL FROM:<a@x\\.test>.*\nsend 250 ok\\r\\n\n"
                  + "expect RCPT TO:<b@x\\.test>\nsend 250 ok\\r\\n\n"
                  + "expect DATA\nsend 354 go ahead\\r\\n\n"
                  + "expect (?!\\.$).*\n" * 9 + "expect \\.\nsend 250 queued\\r\\n\n" + QUIT)
        srv = self.server(script, text=True)
        self.write_profile(srv.port)
        r = run_smtpsh(["--timeout", "10", "--send", "--auth", "auto", "--from", "a@x.test",
                        "--to", "b@x.test", "--body", "hi", "mock"], b"", timeout=40,
                       env={"SMTPSH_OAUTH_TOKEN": ""}, home=self.tmp, cwd=self.tmp)
        self.assert_no_crash(r)
        self.assert_exit(r, 0)
        self.assert_server_ok(srv, r)
        (at,) = self.idp.access
        self.assertIn(b"AUTH XOAUTH2 " + xoauth2(USER, at) + b"\r\n", srv.record())
        for t in self.idp.issued:
            self.assertNotIn(t, r.out() + r.err())

    def browser_env(self, **extra):
        self.page = os.path.join(self.tmp, "browser-page.txt")
        e = {"BROWSER": os.path.join(os.path.dirname(__file__), "..", "lib", "fakebrowser.py"),
             "FAKEBROWSER_CA": self.idp.cafile, "FAKEBROWSER_LOG": self.page}
        e.update(extra)
        return e

    def page_text(self):
        with open(self.page) as f:
            return f.read()

    def test_browser_login(self):
        """\\oauth login: the code flow with PKCE S256 and a loopback redirect; $BROWSER plays
        the consent (a /favicon.ico first, answered 404 and waited past); the state is
        checked, the code exchanged with the verifier; the token stored and used"""
        script = (GREET + CAPS + "expect AUTH XOAUTH2 [A-Za-z0-9+/=]+\nsend 235 ok\\r\\n\n"
                  + QUIT)
        srv, r = self.run_mock(script, "\\oauth login\nEHLO c\n\\auth XOAUTH2\nQUIT\n",
                               env=self.browser_env(FAKEBROWSER_FIRST="favicon"),
                               **{"oauth-authorize-url": self.idp.url("/{tenant}/authorize")})
        self.assert_exit(r, 0)
        self.assert_server_ok(srv, r)
        (q,) = self.idp.authorize_requests
        self.assertEqual(q["response_type"], "code")
        self.assertEqual(q["code_challenge_method"], "S256")
        self.assertRegex(q["code_challenge"], r"^[A-Za-z0-9_-]{43}$")
        self.assertRegex(q["redirect_uri"], r"^http://127\.0\.0\.1:\d+/$")
        self.assertRegex(q["state"], r"^[0-9a-f]{32}$")
        self.assertEqual(q["scope"], "smtp offline_access")
        (path, form), = self.idp.requests
        self.assertEqual(path, "/contoso/oauth2/v2.0/token")
        self.assertEqual(form["grant_type"], "authorization_code")
        self.assertEqual(form["redirect_uri"], q["redirect_uri"])
        self.assertRegex(form["code_verifier"], r"^[A-Za-z0-9_-]{43}$")
        self.assertTrue(self.page_text().startswith("200\n"), self.page_text())
        self.assertIn("the login went through", self.page_text())
        self.assertIn("the provider sent a code (state checked)", r.out())
        (at,) = self.idp.access
        self.assertIn(xoauth2(USER, at), srv.record())
        self.assertEqual(self.stored()["refresh_token"], list(self.idp.refresh)[0])
        self.assertNotIn(form["code"], r.out() + r.err())
        self.assertNotIn(form["code_verifier"], r.out() + r.err())
        self.assert_no_token_shown(r)

    def test_browser_forged_state(self):
        """a redirect whose state is not the one sent is refused; nothing is exchanged"""
        srv, r = self.run_mock("send 220 scripted.test ESMTP\\r\\n\nwait-close\n",
                               "\\oauth login\nQUIT\n",
                               env=self.browser_env(FAKEBROWSER_TAMPER="state"),
                               **{"oauth-authorize-url": self.idp.url("/authorize")})
        self.assert_server_ok(srv, r)
        self.assert_exit(r, 2)
        self.assertIn("the redirect's state is not the one sent: refused", r.err())
        self.assertTrue(self.page_text().startswith("400\n"), self.page_text())
        self.assertEqual(self.idp.requests, [], "no code exchanged")
        self.assertFalse(os.path.exists(os.path.join(self.store, "mock.json")))

    def test_browser_declined(self):
        """the provider's access_denied on the redirect ends the login"""
        self.idp.authorize_answer = "access_denied"
        srv, r = self.run_mock("send 220 scripted.test ESMTP\\r\\n\nwait-close\n",
                               "\\oauth login --browser\nQUIT\n", env=self.browser_env(),
                               **{"oauth-authorize-url": self.idp.url("/authorize")})
        self.assert_server_ok(srv, r)
        self.assert_exit(r, 2)
        self.assertIn("the sign-in was declined (access_denied: mock: access_denied)", r.err())
        self.assertEqual(self.idp.requests, [])


if __name__ == "__main__":
    tap_main()
