"""Helpers for the interop matrix (tests/interop): smtpsh against SMTP servers we did not
write, and clients we did not write against smtpsh --serve.

    PKI(dir)                 a test CA, a server certificate for localhost/127.0.0.1/::1
                             signed by it, and an unrelated CA (the "wrong" one)
    Daemon(argv, ready_rx)   a server process in its own session, its output in a log file,
                             started once per module, stopped (SIGTERM, then SIGKILL)
    Store(dir)               the folder a server writes each message to; wait_for(token)
    Server                   what the matrix needs to know of one server (port, login,
                             mechanisms, SIZE, how it stores a message)
    MatrixTests              the tests every server runs (mix into a unittest.TestCase
                             whose module sets SERVER)

Run with /usr/bin/python3 only. A missing tool (node, the npm packages, Exim's unpacked
packages) is a FAILURE with the command that installs it, never a skip.
"""

import email
import email.policy
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

from smtpshtest import (TESTS, auth_plain, b64, exchanges, openssl, run_smtpsh, script,
                        split_prepended, token, wait_port)

HERE = os.path.join(TESTS, "interop")  # servers/, node_modules/, exim-root/

NODE = "/usr/bin/node"
NODE_MODULES = os.path.join(HERE, "node_modules")
INSTALL_HINT = "run scripts/install-test-deps.sh as root (Debian packages and `npm ci` here)"

# the message lines the matrix sends by hand: every dot rule of RFC 5321 4.5.2
DOT_LINES = ["..", ".leading dot", "..two dots", "a . in the middle", " .", ". "]


def require(paths):
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        raise AssertionError("missing %s: %s" % (", ".join(missing), INSTALL_HINT))


def require_node_modules(*packages):
    require([NODE] + [os.path.join(NODE_MODULES, p, "package.json") for p in packages])


class PKI:
    """A CA and a certificate for localhost (DNS:localhost, IP:127.0.0.1, IP:::1) it signed;
    a second CA with the same subject that signed nothing here (the wrong CA)."""

    def __init__(self, directory):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        p = lambda n: os.path.join(directory, n)  # noqa: E731
        self.cafile, self.cakey = p("ca.pem"), p("ca-key.pem")
        self.cert, self.key = p("cert.pem"), p("key.pem")
        self.wrong_cafile = p("wrong-ca.pem")
        for ca, key in ((self.cafile, self.cakey), (self.wrong_cafile, p("wrong-ca-key.pem"))):
            openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-days", "2", "-subj", "/CN=smtpsh interop test CA",
                    "-addext", "basicConstraints=critical,CA:true",
                    "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                    "-keyout", key, "-out", ca)
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-subj", "/CN=localhost", "-keyout", self.key, "-out", p("cert.csr"))
        with open(p("ext.cnf"), "w") as f:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n"
                    "basicConstraints=CA:false\nextendedKeyUsage=serverAuth\n")
        openssl("x509", "-req", "-in", p("cert.csr"), "-CA", self.cafile, "-CAkey", self.cakey,
                "-CAcreateserial", "-days", "2", "-extfile", p("ext.cnf"), "-out", self.cert)
        os.chmod(self.key, 0o644)  # servers that drop privileges (Exim) read it too


class Daemon:
    """A server process in its own session (meson's kill of the test's process group must
    not take it before tearDownModule). Output goes to LOG."""

    def __init__(self, argv, log, port, env=None, cwd=None, ready_rx=None, timeout=60.0):
        self.argv, self.log_path, self.port = [str(a) for a in argv], log, port
        self.logf = open(log, "wb")
        self.p = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=self.logf,
                                  stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                  start_new_session=True)
        try:
            if ready_rx:
                self.wait_log(ready_rx, timeout)
            wait_port(port, timeout, self.p, self.describe)
        except BaseException:
            self.stop()
            raise

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def wait_log(self, rx, timeout=30.0):
        deadline = time.monotonic() + timeout
        while not re.search(rx, self.log()):
            if self.p.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("no /%s/ from the server\n%s" % (rx, self.describe()))
            time.sleep(0.05)

    def describe(self):
        text = self.log()
        return "server: %s\n--- its log (end) ---\n%s" % (" ".join(self.argv), text[-4000:])

    def stop(self):
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait(10)
        # the server's children (Exim's connection processes) may outlive it and write
        # into the temporary folder once it is gone: wait until the group is empty
        # (bounded: a zombie nobody reaps would keep the group alive for ever)
        start = time.monotonic()
        while time.monotonic() - start < 10:
            try:
                os.killpg(self.p.pid, signal.SIGTERM if time.monotonic() - start < 5
                          else signal.SIGKILL)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        self.logf.close()


class Store:
    """A folder where a server leaves each message as a file NAME.eml (written under another
    name and renamed, so a file that is there is complete)."""

    def __init__(self, directory, suffix=".eml", maildir=False):
        """MAILDIR: DIRECTORY is a Maildir, whose messages are the files of new/ and cur/
        (tmp/ holds those being written)."""
        self.dir = directory
        self.suffix = suffix
        self.maildir = maildir
        os.makedirs(directory, exist_ok=True)

    def files(self):
        out = []
        for root, _, names in os.walk(self.dir):
            if self.maildir and os.path.basename(root) not in ("new", "cur"):
                continue
            out += [os.path.join(root, n) for n in names if n.endswith(self.suffix)]
        return sorted(out)

    def find_all(self, tok):
        if isinstance(tok, str):
            tok = tok.encode()
        found = []
        for path in self.files():
            with open(path, "rb") as f:
                data = f.read()
            if tok in data:
                found.append(data)
        return found

    def wait_for(self, tok, count=1, timeout=10.0):
        """The COUNT messages holding TOK (waits for them); a list of bytes."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.find_all(tok)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError("%d message(s) with %s in %s, expected %d"
                                     % (len(found), tok, self.dir, count))
            time.sleep(0.05)


class Server:
    """What the matrix needs to know about one running server.

    port: the STARTTLS listener; user/password: a login it accepts; mechs: the AUTH
    mechanisms it offers after STARTTLS (the matrix tries each); caps: capability names its
    EHLO must list under TLS; size: its SIZE limit; size_code: its reply to MAIL FROM with a
    SIZE= over it; store: a Store; stored(tok, count): the messages holding TOK as the
    server stored them, each with the server's own fields (the names of `prepended`) taken
    off the front, with CRLF line ends; sender/rcpt: an envelope it accepts; oauth_token:
    the XOAUTH2 bearer token it accepts; pki: a PKI whose CA verifies it (and a wrong CA);
    home: smtpsh's HOME."""

    name = "?"
    host = "localhost"
    port = None
    user = None
    password = None
    oauth_token = None
    mechs = ()
    caps = ()
    size = None
    sender = "sender@client.test"
    rcpt = "rcpt@example.test"
    prepended = ()
    line_end = b"\r\n"
    pki = None
    home = None
    size_code = None

    def stored(self, tok, count=1):
        out = []
        for data in self.store.wait_for(tok, count):
            _, rest = split_prepended(data, self.prepended, self.line_end)
            if self.line_end != b"\r\n":
                rest = rest.replace(self.line_end, b"\r\n")
            out.append(rest)
        return out

    def describe(self):
        return ""


def parse_message(data):
    return email.message_from_bytes(data, policy=email.policy.default)


def no_secret(test, result, *secrets):
    for s in secrets:
        if s:
            test.assertNotIn(s, result.stdout + result.stderr, "a secret reached the screen")


class MatrixTests:
    """The interop matrix, for one server: mix into a unittest.TestCase and set S (a
    Server) in the module's setUpModule. Every test runs the real binary in batch mode."""

    S = None

    # --- helpers -------------------------------------------------------------
    def smtpsh(self, args, lines, **kw):
        return run_smtpsh(args, script(lines), home=self.S.home, **kw)

    def tls_args(self, password=None, cafile=None):
        S = self.S
        return ["--starttls", "--cafile", cafile or S.pki.cafile, "--ehlo", "client.test",
                "--password-command", "echo " + (password or S.password or "unused")]

    def login(self):
        """The lines that log in with the first mechanism the server offers (if any)."""
        return ["\\auth %s %s" % (self.S.mechs[0], self.S.user)] if self.S.mechs else []

    def describe(self, r):
        return r.describe() + "\n" + self.S.describe()

    def assertOk(self, r):
        self.assertEqual(r.rc, 0, self.describe(r))

    def codes_after(self, r, prefix):
        """The final reply codes of the commands sent starting with PREFIX."""
        out = []
        for _, sent, replies in exchanges(r.events):
            if sent is not None and sent.startswith(prefix) and replies:
                out.append(int(replies[-1][1][:3]))
        return out

    # --- the matrix ----------------------------------------------------------
    def test_ehlo_and_caps(self):
        """EHLO and \\caps, in plaintext and under TLS: \\caps lists what EHLO said"""
        r = self.smtpsh(self.tls_args() + [self.S.host, self.S.port],
                        ["EHLO client.test", "\\caps", "QUIT"])
        self.assertOk(r)
        self.assertIn("TLS", r.stdout)
        ehlo = [t for m, t in r.events if m == "<~" and t.startswith("250")]
        self.assertTrue(ehlo, self.describe(r))
        start = r.stdout.index("capabilities of")
        shown = r.stdout[start:].split("\n")
        names = set()
        for line in shown[1:]:
            m = re.match(r"^\s+(\S+)", line)
            if not m or line.startswith(("~>", "<~", "*")):
                break
            names.add(m.group(1).upper())
        for cap in self.S.caps:
            self.assertIn(cap, names, self.describe(r))
        if self.S.size:
            self.assertRegex(r.stdout, r"(?m)^\s+SIZE\s+%d\s*$" % self.S.size)
        if self.S.mechs:
            m = re.search(r"(?m)^\s+AUTH\s+(.*)$", r.stdout)
            self.assertTrue(m, self.describe(r))
            self.assertEqual(set(m.group(1).split()), set(self.S.mechs), self.describe(r))

    def test_starttls_verified(self):
        """STARTTLS with the test CA: the certificate is verified, every line after is ~>"""
        r = self.smtpsh(self.tls_args() + [self.S.host, self.S.port],
                        ["NOOP", "QUIT"])
        self.assertOk(r)
        self.assertTrue(any(re.search(r"TLSv1\.[23] .*certificate verified", t)
                            for t in r.info()), self.describe(r))
        sent = r.sent()
        self.assertEqual(sent[:2], [("->", "EHLO client.test"), ("->", "STARTTLS")])
        self.assertTrue(all(m == "~>" for m, _ in sent[2:]), self.describe(r))
        self.assertEqual([t for _, t in sent[2:]], ["EHLO client.test", "NOOP", "QUIT"])

    def test_starttls_wrong_ca(self):
        """STARTTLS with an unrelated CA: exit 4, the certificate named, nothing more sent"""
        r = self.smtpsh(self.tls_args(cafile=self.S.pki.wrong_cafile)
                        + [self.S.host, self.S.port], ["NOOP", "QUIT"])
        self.assertEqual(r.rc, 4, self.describe(r))
        self.assertRegex(r.stderr, r"(?i)certificate", self.describe(r))
        self.assertEqual(r.sent_text(), ["EHLO client.test", "STARTTLS"], self.describe(r))

    def auth_result(self, r):
        """The reply code that ends the first AUTH exchange (after any 334 steps), or None."""
        started = False
        for m, t in r.events:
            if m in ("->", "~>", "?>") and t.upper().startswith("AUTH "):
                started = True
            elif started and m in ("<-", "<~", "<?") and re.match(r"^\d{3}( |$)", t):
                if not t.startswith("334"):
                    return int(t[:3])
        return None

    def test_auth_every_mechanism(self):
        """every AUTH mechanism the server offers: 235 with the password, refused without;
        the secrets never on screen"""
        if not self.S.mechs:
            self.fail("the server offers no AUTH mechanism (%s)" % self.S.name)
        # no subTest: lablib's TAP runner does not print a failing subtest
        for mech in self.S.mechs:
            for right in (True, False):
                what = "%s with the %s secret: " % (mech, "right" if right else "wrong")
                secret = self.S.password if right else "Wrong-pass-0815"
                args = self.tls_args(password=secret)
                if mech == "XOAUTH2":
                    secret = self.S.oauth_token if right else "wrong-token-0815"
                    args += ["--oauth-token-command", "echo " + secret]
                r = self.smtpsh(args + [self.S.host, self.S.port],
                                ["\\auth %s %s" % (mech, self.S.user), "NOOP", "QUIT"])
                self.assertOk(r)
                code = self.auth_result(r)
                if right:
                    self.assertEqual(code, 235, what + self.describe(r))
                    self.assertIn("authenticated as %s (%s)" % (self.S.user, mech),
                                  r.info(), what + self.describe(r))
                else:
                    # RFC 4954: 535 (XOAUTH2: after the 334 error, answered empty)
                    self.assertIsNotNone(code, what + self.describe(r))
                    self.assertEqual(code // 100, 5, what + self.describe(r))
                # the session goes on: NOOP answered
                self.assertEqual(self.codes_after(r, "NOOP"), [250], what + self.describe(r))
                no_secret(self, r, secret)

    def test_typed_auth_redacted(self):
        """AUTH typed by hand (PLAIN with an initial response, LOGIN step by step): 235, and
        neither the screen nor the --record transcript shows the base64 or the password"""
        S = self.S
        forms = []
        if "PLAIN" in S.mechs:
            forms.append(("PLAIN", ["AUTH PLAIN " + auth_plain(S.user, S.password)],
                          [auth_plain(S.user, S.password)]))
        if "LOGIN" in S.mechs:
            forms.append(("LOGIN", ["AUTH LOGIN", b64(S.user), b64(S.password)],
                          [b64(S.password)]))
        self.assertTrue(forms, "the server offers neither PLAIN nor LOGIN")
        for mech, lines, secrets in forms:
            rec = os.path.join(tempfile.mkdtemp(dir=S.home), "auth.smtpsh")
            r = self.smtpsh(self.tls_args() + ["--record", rec, S.host, S.port],
                            lines + ["NOOP", "QUIT"])
            self.assertOk(r)
            self.assertEqual(self.auth_result(r), 235, mech + ": " + self.describe(r))
            self.assertIn("<redacted>", r.stdout, mech)
            with open(rec, encoding="utf-8") as f:
                transcript = f.read()
            for secret in secrets + [S.password]:
                self.assertNotIn(secret, r.stdout + r.stderr, mech + ": on screen")
                self.assertNotIn(secret, transcript, mech + ": in the transcript")

    def test_send_attachments_utf8_subject(self):
        """\\send: a UTF-8 subject, a binary and a UTF-8-named attachment arrive intact"""
        S = self.S
        tok = token()
        subject = "Gr\u00fc\u00dfe aus K\u00f6ln \u2014 \u65e5\u672c\u8a9e \U0001F600 " + tok
        d = tempfile.mkdtemp(dir=S.home)
        att1 = os.urandom(30000) + b"\r\n.\r\n\x00end"
        att2 = "caf\u00e9 cr\u00e8me\n.line with a dot\n".encode() * 50
        p1 = os.path.join(d, "report.pdf")
        p2 = os.path.join(d, "\u00fcbersicht \u00e9t\u00e9.txt")
        with open(p1, "wb") as f:
            f.write(att1)
        with open(p2, "wb") as f:
            f.write(att2)
        cmd = ('\\send --from "Alice <%s>" --to %s --subject "%s" --body "Hello %s" '
               '--attach "%s" --attach "%s"' % (S.sender, S.rcpt, subject, tok, p1, p2))
        r = self.smtpsh(self.tls_args() + [S.host, S.port], self.login() + [cmd, "QUIT"])
        self.assertOk(r)
        self.assertIn("message accepted", r.info(), self.describe(r))
        mail = [t for t in r.sent_text() if t.startswith("MAIL FROM:")]
        data = S.stored(tok)[0]
        if S.size:
            self.assertRegex(mail[0], r" SIZE=%d( |$)" % len(data),
                             "SIZE= is the size of the message as stored")
        msg = parse_message(data)
        self.assertEqual(str(msg["Subject"]), subject)
        self.assertEqual(msg.get_content_type(), "multipart/mixed")
        parts = list(msg.iter_attachments())
        self.assertEqual([p.get_filename() for p in parts],
                         ["report.pdf", "\u00fcbersicht \u00e9t\u00e9.txt"])
        self.assertEqual(parts[0].get_content(), att1)
        self.assertEqual(parts[1].get_payload(decode=True), att2)
        self.assertEqual(msg.get_body(("plain",)).get_content().strip(), "Hello " + tok)
        for line in data.split(b"\r\n"):
            self.assertLessEqual(len(line), 78, line)

    def test_dot_lines_and_file(self):
        """typed DATA with every dot rule, then \\file (bare LF, CRLF, dots, UTF-8): the
        server stores exactly the lines, unstuffed"""
        S = self.S
        tok = token()
        d = tempfile.mkdtemp(dir=S.home)
        path = os.path.join(d, "part.txt")
        # the file: LF and CRLF line ends mixed, dot lines, a lone ".", UTF-8, no final EOL
        with open(path, "wb") as f:
            f.write(b"file line 1\n.\n..\r\n.file dot\r\nGr\xc3\xbc\xc3\x9fe\n\nlast")
        typed = ["Subject: dots " + tok, "From: <%s>" % S.sender, ""] + DOT_LINES
        lines = (self.login() + ["MAIL FROM:<%s>" % S.sender, "RCPT TO:<%s>" % S.rcpt, "DATA"]
                 + typed + ["\\file " + path, "after the file", ".", "QUIT"])
        r = self.smtpsh(self.tls_args() + [S.host, S.port], lines)
        self.assertOk(r)
        self.assertEqual(self.codes_after(r, "."), [250], self.describe(r))
        shown = r.sent_text()
        self.assertIn("...two dots", shown)  # dot-stuffed on the wire, shown as sent
        expected = ("\r\n".join(typed).encode() + b"\r\n"
                    + b"file line 1\r\n.\r\n..\r\n.file dot\r\nGr\xc3\xbc\xc3\x9fe\r\n\r\nlast\r\n"
                    + b"after the file\r\n")
        self.assertEqual(S.stored(tok)[0], expected)

    def pipelined_messages(self, toks):
        out = self.login()
        for tok in toks:
            out += ["MAIL FROM:<%s>" % self.S.sender, "RCPT TO:<%s>" % self.S.rcpt, "DATA",
                    "Subject: pipelined " + tok, "", "body " + tok, ".line", "."]
        return out + ["QUIT"]

    def test_pipeline_two_messages(self):
        """--pipeline with two messages: both delivered once, exit 0"""
        toks = [token(), token()]
        r = self.smtpsh(["--pipeline"] + self.tls_args() + [self.S.host, self.S.port],
                        self.pipelined_messages(toks))
        for tok in toks:
            try:
                got = self.S.stored(tok)
            except AssertionError as e:
                raise AssertionError("%s\n%s" % (e, self.describe(r)))
            self.assertEqual(got, [("Subject: pipelined %s\r\n\r\nbody %s\r\n.line\r\n"
                                    % (tok, tok)).encode()])
            self.assertEqual(len(self.S.store.find_all(tok)), 1, "delivered twice")
        self.assertOk(r)

    def test_size_refusal(self):
        """SIZE: MAIL FROM with SIZE= over the limit is refused by the server (552 or 5xx);
        \\send of a message over the limit is refused before MAIL"""
        S = self.S
        big = S.size + 1
        r = self.smtpsh(self.tls_args() + [S.host, S.port], self.login() + [
            "MAIL FROM:<%s> SIZE=%d" % (S.sender, big), "RSET", "QUIT"])
        self.assertOk(r)
        codes = self.codes_after(r, "MAIL FROM")
        self.assertEqual(len(codes), 1, self.describe(r))
        self.assertEqual(codes[0] // 100, 5, self.describe(r))
        self.assertEqual(codes[0], S.size_code, self.describe(r))
        # the \send: a body bigger than SIZE, refused locally
        d = tempfile.mkdtemp(dir=S.home)
        body = os.path.join(d, "big.txt")
        with open(body, "wb") as f:
            f.write((b"z" * 70 + b"\n") * (S.size // 71 + 10))
        r = self.smtpsh(self.tls_args() + [S.host, S.port], self.login() + [
            "\\send --from %s --to %s --subject big --body-file %s" % (S.sender, S.rcpt, body),
            "NOOP", "QUIT"])
        self.assertFalse([t for t in r.sent_text() if t.startswith("MAIL")], self.describe(r))
        self.assertRegex(r.stdout + r.stderr, r"server takes at most %d \(SIZE\)" % S.size)

    def test_size_refusal_after_data(self):
        """a message over SIZE sent without SIZE= (typed DATA and \\file): the server refuses
        it after the "." (5xx), nothing is stored, and the session goes on"""
        S = self.S
        tok = token()
        d = tempfile.mkdtemp(dir=S.home)
        big = os.path.join(d, "big.txt")
        with open(big, "wb") as f:
            f.write((b"z" * 70 + b"\n") * (S.size // 71 + 10))
        r = self.smtpsh(self.tls_args() + [S.host, S.port], self.login() + [
            "MAIL FROM:<%s>" % S.sender, "RCPT TO:<%s>" % S.rcpt, "DATA",
            "Subject: too big " + tok, "", "\\file " + big, ".", "NOOP", "QUIT"])
        self.assertOk(r)
        codes = self.codes_after(r, ".")
        self.assertEqual(len(codes), 1, self.describe(r))
        self.assertEqual(codes[0] // 100, 5, self.describe(r))
        self.assertEqual(self.codes_after(r, "NOOP"), [250], self.describe(r))
        time.sleep(0.5)
        self.assertEqual(S.store.find_all(tok), [], "a refused message was stored")

    def test_record_then_replay(self):
        """--record a session (STARTTLS, AUTH, a message), then --replay it against the same
        server: every reply code as recorded, the message delivered twice, no secret in the
        transcript"""
        S = self.S
        tok = token()
        rec = os.path.join(tempfile.mkdtemp(dir=S.home), "session.smtpsh")
        lines = self.login() + ["MAIL FROM:<%s>" % S.sender, "RCPT TO:<%s>" % S.rcpt, "DATA",
                                "Subject: replay " + tok, "", "..dots", ".", "QUIT"]
        r = self.smtpsh(self.tls_args() + ["--record", rec, S.host, S.port], lines)
        self.assertOk(r)
        with open(rec, encoding="utf-8") as f:
            text = f.read()
        self.assertNotIn(S.password, text)
        self.assertEqual(os.stat(rec).st_mode & 0o777, 0o600)
        self.assertEqual(len(S.stored(tok)), 1)
        args = ["--cafile", S.pki.cafile, "--replay", rec]
        env = None
        if S.mechs:
            args += ["--replay-user", S.user]
            env = {"SMTPSH_REPLAY_PASSWORD": S.password}
        r = run_smtpsh(args + [S.host, S.port], b"", home=S.home, env=env)
        self.assertOk(r)
        self.assertRegex(r.stdout, r"replay: \d+ replies compared, all as recorded")
        msgs = S.stored(tok, 2)
        self.assertEqual(len(msgs), 2)
        self.assertEqual(msgs[0], msgs[1])
        self.assertEqual(msgs[0], ("Subject: replay %s\r\n\r\n..dots\r\n" % tok).encode())
        no_secret(self, r, S.password)


def rmtree(path):
    if not os.environ.get("SMTPSH_KEEP_INTEROP"):
        shutil.rmtree(path, ignore_errors=True)


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f)
