"""A mock OAuth2 identity provider for the tests: HTTPS on 127.0.0.1 (a certificate made by
the test, its own CA), in a thread of the test process. It speaks the parts of RFC 6749,
RFC 8628 and RFC 7009 smtpsh uses: the device flow (device_plan says what each poll gets:
authorization_pending, slow_down, access_denied, expired_token, ok), the refresh grant (refresh tokens rotate on every use, as Microsoft's
do; a revoked or unknown one gets 400 invalid_grant) and revocation. Every token it issues is
recorded, so that a test can search smtpsh's screen, transcripts and history for them.

    idp = MockIdP(tmpdir, client_id="smtpsh-test")
    rt = idp.grant("alice@example.test")     # a refresh token, as a login would leave one
    ... idp.url("/token") ... idp.cafile ...
    idp.requests  # [(path, {form})]
    idp.issued    # every token handed out
    idp.stop()
"""

import base64
import hashlib
import json
import secrets
import ssl
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from smtpshtest import make_cert


class MockIdP:

    def __init__(self, directory, client_id="smtpsh-test", expires_in=3600, scope="smtp"):
        self.client_id = client_id
        self.expires_in = expires_in
        self.scope = scope
        self.refresh = {}      # refresh token -> account
        self.access = {}       # access token -> account
        self.revoked = set()
        self.issued = []
        self.requests = []
        # the device flow: what each poll of a device code gets, in order ("ok": the tokens)
        self.device_plan = ["authorization_pending", "ok"]
        self.device = {}       # device code -> account
        self.device_interval = 1
        # the code flow: what /authorize answers ("ok": a code; else that error) and the
        # codes given out: code -> (challenge, redirect_uri, account)
        self.authorize_answer = "ok"
        self.codes = {}
        self.authorize_requests = []
        self.lock = threading.Lock()
        self.cafile, key = make_cert(directory, subject="/CN=mock idp", name="idp",
                                     san="IP:127.0.0.1")
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def reply(self, status, obj):
                body = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                q = dict(urllib.parse.parse_qsl(url.query))
                with idp.lock:
                    idp.authorize_requests.append(q)
                    location = idp.authorize(url.path, q)
                if not location:
                    self.reply(400, {"error": "invalid_request"})
                    return
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                form = dict(urllib.parse.parse_qsl(self.rfile.read(n).decode(),
                                                   keep_blank_values=True))
                with idp.lock:
                    idp.requests.append((self.path, form))
                    status, obj = idp.handle(self.path, form)
                self.reply(status, obj)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cafile, key)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return "https://127.0.0.1:%d%s" % (self.port, path)

    def new_token(self, kind):
        t = "%s-%s" % (kind, secrets.token_urlsafe(24))
        self.issued.append(t)
        return t

    def grant(self, account):
        """A refresh token for account, as a finished login leaves it."""
        with self.lock:
            rt = self.new_token("rt")
            self.refresh[rt] = account
            return rt

    def handle(self, path, form):
        if path.endswith("/token"):
            if form.get("client_id") != self.client_id:
                return 401, {"error": "invalid_client",
                             "error_description": "unknown client"}
            if form.get("grant_type") == "urn:ietf:params:oauth:grant-type:device_code":
                dc = form.get("device_code", "")
                if dc not in self.device:
                    return 400, {"error": "invalid_grant"}
                step = self.device_plan.pop(0) if self.device_plan else "expired_token"
                if step != "ok":
                    return 400, {"error": step, "error_description": "mock: " + step}
                return 200, self.tokens(self.device.pop(dc))
            if form.get("grant_type") == "authorization_code":
                code = form.get("code", "")
                if code not in self.codes:
                    return 400, {"error": "invalid_grant", "error_description": "unknown code"}
                challenge, redirect_uri, account = self.codes.pop(code)
                verifier = form.get("code_verifier", "")
                s256 = base64.urlsafe_b64encode(
                    hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
                if s256 != challenge:  # RFC 7636 4.6
                    return 400, {"error": "invalid_grant",
                                 "error_description": "PKCE verification failed"}
                if form.get("redirect_uri") != redirect_uri:
                    return 400, {"error": "invalid_grant",
                                 "error_description": "redirect_uri mismatch"}
                return 200, self.tokens(account)
            if form.get("grant_type") != "refresh_token":
                return 400, {"error": "unsupported_grant_type"}
            rt = form.get("refresh_token", "")
            if rt in self.revoked or rt not in self.refresh:
                return 400, {"error": "invalid_grant",
                             "error_description": "AADSTS70008: the refresh token was "
                                                  "revoked\x1b[31m"}
            account = self.refresh.pop(rt)
            self.revoked.add(rt)  # rotation: the old one is dead
            return 200, self.tokens(account)
        if path.endswith("/device"):
            if form.get("client_id") != self.client_id:
                return 400, {"error": "invalid_client"}
            dc = self.new_token("dc")
            self.device[dc] = self.device_account
            return 200, {"device_code": dc, "user_code": "WDJB-MJHT",
                         "verification_uri": self.url("/verify"), "expires_in": 60,
                         "interval": self.device_interval}
        if path.endswith("/revoke"):
            rt = form.get("token", "")
            self.refresh.pop(rt, None)
            self.revoked.add(rt)
            return 200, {}
        return 404, {"error": "not_found"}

    device_account = "alice@example.test"

    def authorize(self, path, q):
        """The Location of /authorize's redirect, or None for a bad request."""
        if (not path.endswith("/authorize") or q.get("client_id") != self.client_id
                or q.get("response_type") != "code"
                or q.get("code_challenge_method") != "S256"
                or not q.get("redirect_uri", "").startswith("http://127.0.0.1:")):
            return None
        back = {"state": q.get("state", "")}
        if self.authorize_answer == "ok":
            code = self.new_token("code")
            self.codes[code] = (q.get("code_challenge"), q["redirect_uri"],
                                self.device_account)
            back["code"] = code
        else:
            back["error"] = self.authorize_answer
            back["error_description"] = "mock: " + self.authorize_answer
        return q["redirect_uri"] + "?" + urllib.parse.urlencode(back)

    fixed_access = None  # an access token to hand out instead of a random one (interop)

    def tokens(self, account):
        at, rt = self.fixed_access or self.new_token("at"), self.new_token("rt")
        self.access[at] = account
        self.refresh[rt] = account
        return {"token_type": "Bearer", "access_token": at, "refresh_token": rt,
                "expires_in": self.expires_in, "scope": self.scope}

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
