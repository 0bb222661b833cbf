#!/usr/bin/python3
"""smtpsh's TLS controls (issue 20) against a real Postfix configured per listener: TLS 1.2
only and TLS 1.3 only (smtpd_tls_protocols), a restricted cipher list, a server that still
speaks TLS 1.0 (security level 0), two certificates by SNI (tls_server_sni_maps) and the
default one without SNI, relay by client certificate (smtpd_tls_ask_ccert,
relay_clientcerts, permit_tls_clientcerts) with a plain and a passphrase-protected key.
Every failure asserts the words the user sees, and that keys never appear.

Usage: PYTHONPATH=tests/lib /usr/bin/python3 tests/integration/test_tls_controls.py
       [PATH/TO/smtpsh] [NAME...]
Prints TAP. Starts (and always stops) its own Postfix lab in a temp dir, adds the
listeners below to its master.cf and reloads it; needs root and the packages of
scripts/install-test-deps.sh.
"""

import os
import subprocess
import sys
import unittest

sys.dont_write_bytecode = True
from lablib import ModuleLab
from smtpshtest import (free_port, make_cert, openssl, script, tap_main, wait_port)

LAB = ModuleLab()
smtpsh = LAB.smtpsh

KEY_PASS = "Key-pass-4242"
# Postfix's names for the protocols a listener refuses (smtpd_tls_protocols)
ONLY = {
    "1.0": "!SSLv2,!SSLv3,!TLSv1.1,!TLSv1.2,!TLSv1.3",
    "1.2": "!SSLv2,!SSLv3,!TLSv1,!TLSv1.1,!TLSv1.3",
    "1.3": "!SSLv2,!SSLv3,!TLSv1,!TLSv1.1,!TLSv1.2",
}
PORTS = {}
FILES = {}


def postconf(*args):
    subprocess.run(["/usr/sbin/postconf", "-c", LAB.env["POSTFIX_CONFIG"]] + list(args),
                   check=True, stdout=subprocess.DEVNULL)


def add_listener(name, **settings):
    """An implicit-TLS smtpd on a free port with settings as its -o overrides (a value with
    commas is fine in master.cf)."""
    port = free_port()
    service = "%d/inet" % port
    postconf("-M", "%s=%d inet n - n - - smtpd" % (service, port))
    settings = dict({"syslog_name": "postfix-lab/" + name, "smtpd_tls_wrappermode": "yes",
                     "smtpd_sasl_auth_enable": "no"}, **settings)
    for k, v in settings.items():
        postconf("-P", "%s/%s=%s" % (service, k, v))
    PORTS[name] = port


def make_files(d):
    # a client CA and the client certificate it signed; the key also encrypted
    ca, ca_key = make_cert(d, subject="/CN=smtpsh client CA", name="clientca", san=None)
    key = os.path.join(d, "client-key.pem")
    csr = os.path.join(d, "client.csr")
    cert = os.path.join(d, "client.pem")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
            "-subj", "/CN=client.example")
    openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
            "-days", "2", "-out", cert)
    enc = os.path.join(d, "client-enc-key.pem")
    openssl("pkey", "-in", key, "-aes256", "-passout", "pass:" + KEY_PASS, "-out", enc)
    # a certificate of another client, from no CA the server knows
    other, other_key = make_cert(d, subject="/CN=stranger.example", name="stranger", san=None)
    fp = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in", cert],
                        check=True, capture_output=True, text=True).stdout
    with open(os.path.join(d, "relay_clientcerts"), "w") as f:
        f.write("%s client.example\n" % fp.strip().split("=", 1)[1])
    # the second server certificate, by SNI: key first, then the certificate (Postfix)
    sni, sni_key = make_cert(d, subject="/CN=mail.example.net", name="sni",
                             san="DNS:mail.example.net")
    chain = os.path.join(d, "sni-chain.pem")
    with open(chain, "w") as f:
        f.write(open(sni_key).read() + open(sni).read())
    os.chmod(chain, 0o640)
    subprocess.run(["chown", "root:postfix", chain], check=True)
    with open(os.path.join(d, "sni"), "w") as f:
        f.write("mail.example.net %s\n" % chain)
    subprocess.run(["/usr/sbin/postmap", "-c", LAB.env["POSTFIX_CONFIG"], "-F",
                    "hash:" + os.path.join(d, "sni")], check=True)
    # trusted by the client: the lab's certificate and the SNI one
    trust = os.path.join(d, "trust.pem")
    with open(trust, "w") as f:
        f.write(open(LAB.cafile).read() + open(sni).read())
    FILES.update(ca=ca, cert=cert, key=key, enc=enc, other=other, other_key=other_key,
                 trust=trust, sni=sni)


def setUpModule():
    LAB.start()
    d = os.path.join(LAB.env["POSTFIX_CONFIG"], "tlsctl")
    os.makedirs(d)
    make_files(d)
    add_listener("tls12", smtpd_tls_protocols=ONLY["1.2"],
                 smtpd_tls_mandatory_protocols=ONLY["1.2"])
    add_listener("tls13", smtpd_tls_protocols=ONLY["1.3"],
                 smtpd_tls_mandatory_protocols=ONLY["1.3"])
    add_listener("ciphers", smtpd_tls_protocols=ONLY["1.2"],
                 smtpd_tls_mandatory_protocols=ONLY["1.2"], smtpd_tls_ciphers="high",
                 smtpd_tls_mandatory_ciphers="high",
                 tls_high_cipherlist="ECDHE-RSA-AES256-GCM-SHA384")
    # OpenSSL 3.0 speaks TLS 1.0 only at security level 0 (Postfix: the "low" list)
    add_listener("tls10", smtpd_tls_protocols=ONLY["1.0"],
                 smtpd_tls_mandatory_protocols=ONLY["1.0"], smtpd_tls_ciphers="low",
                 smtpd_tls_mandatory_ciphers="low", tls_low_cipherlist="DEFAULT:@SECLEVEL=0")
    add_listener("sni", tls_server_sni_maps="hash:" + os.path.join(d, "sni"))
    add_listener("ccert", smtpd_tls_ask_ccert="yes",
                 smtpd_tls_CAfile=FILES["ca"], smtpd_tls_fingerprint_digest="sha256",
                 relay_clientcerts="texthash:" + os.path.join(d, "relay_clientcerts"),
                 smtpd_relay_restrictions="permit_tls_clientcerts,reject_unauth_destination")
    # mail relayed to remote.example.org is discarded (the lab never sends anything out)
    postconf("-e", "transport_maps = inline:{ remote.example.org=discard: }")
    subprocess.run(["/usr/sbin/postfix", "-c", LAB.env["POSTFIX_CONFIG"], "reload"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for p in PORTS.values():
        wait_port(p, describe=LAB.log_tail)


def tearDownModule():
    LAB.stop()


def tls_line(r):
    """The '*  TLS...' line of the handshake."""
    lines = [t for t in r.info() if t.startswith("TLSv")]
    return lines[0] if lines else ""


class TlsControls(unittest.TestCase):

    def run_tls(self, name, *opts, lines=("QUIT",), host="127.0.0.1", cafile=None):
        return smtpsh(["--tls", "--cafile", cafile or LAB.cafile] + list(opts) +
                      [host, PORTS[name]], script(list(lines)))

    def assertExit(self, r, code):
        self.assertEqual(r.rc, code, "unexpected exit code\n" + r.describe())

    def assertError(self, r, words):
        """One error line on stderr holding words; nothing sent."""
        errors = [l for l in r.stderr.splitlines() if l.startswith("!  error:")]
        self.assertEqual(len(errors), 1, r.describe())
        self.assertIn(words, errors[0], r.describe())
        self.assertEqual(r.sent(), [], r.describe())

    def assertNoKeys(self, r, *texts):
        for path in (FILES["key"], FILES["enc"]):
            body = open(path).read()
            for line in body.splitlines()[1:-1]:
                for t in (r.stdout, r.stderr) + texts:
                    self.assertNotIn(line, t, "key material shown\n" + r.describe())
        for t in (r.stdout, r.stderr) + texts:
            self.assertNotIn(KEY_PASS, t, r.describe())

    # --- versions -----------------------------------------------------------------------
    def test_tls12_only_server(self):
        """TLS 1.2-only Postfix: found by default; --tls-min 1.3 fails in words"""
        r = self.run_tls("tls12")
        self.assertExit(r, 0)
        self.assertRegex(tls_line(r), r"^TLSv1\.2 \S+, certificate verified \(CN=localhost\)$")
        r = self.run_tls("tls12", "--tls-min", "1.3")
        self.assertExit(r, 4)
        self.assertError(r, "TLS handshake with 127.0.0.1 failed: the server offers no TLS "
                         "version in 1.3..1.3")
        self.assertIn("it may only speak TLS 1.2: try --tls-min 1.2", r.stderr)

    def test_tls13_only_server(self):
        """TLS 1.3-only Postfix: --tls-min 1.3 works; --tls-max 1.2 fails in words"""
        r = self.run_tls("tls13", "--tls-min", "1.3")
        self.assertExit(r, 0)
        self.assertRegex(tls_line(r), r"^TLSv1\.3 TLS_\S+, certificate verified")
        r = self.run_tls("tls13", "--tls-max", "1.2")
        self.assertExit(r, 4)
        self.assertError(r, "the server offers no TLS version in 1.2..1.2 (alert \"protocol "
                         "version\"); it may only speak newer ones: try --tls-max 1.3")

    def test_tls10_server(self):
        """a TLS 1.0 server: refused by default with the words; --tls-min 1.0 reaches it at
        security level 0, and the TLS line says so"""
        r = self.run_tls("tls10")
        self.assertExit(r, 4)
        self.assertError(r, "the server offers no TLS version in 1.2..1.3")
        self.assertIn("try --tls-min 1.0", r.stderr)
        r = self.run_tls("tls10", "--tls-min", "1.0", "--tls-max", "1.0", lines=["EHLO me", "QUIT"])
        self.assertExit(r, 0)
        self.assertRegex(tls_line(r), r"^TLSv1 \S+, certificate verified \(CN=localhost\) "
                         r"\(security level 0: --tls-min 1\.0\)$", r.describe())
        self.assertEqual(r.sent_text(), ["EHLO me", "QUIT"])
        r = self.run_tls("tls10", "--tls-min", "1.0")
        self.assertExit(r, 0)
        self.assertIn("(security level 0: --tls-min 1.0)", tls_line(r))

    def test_connect_flags(self):
        """\\connect takes the controls for one connection; a bad value is one line"""
        r = smtpsh(["--cafile", LAB.cafile],
                   script(["\\connect 127.0.0.1 %d --tls --tls-min 0.9" % PORTS["tls10"]]))
        self.assertExit(r, 2)
        self.assertEqual(r.stderr.strip(), "!  error: \\connect: --tls-min takes 1.0, 1.1, 1.2 or "
                         "1.3, not '0.9'", r.describe())
        lines = ["\\connect 127.0.0.1 %d --tls --tls-min 1.0 --tls-max 1.0" % PORTS["tls10"],
                 "QUIT",
                 "\\connect 127.0.0.1 %d --tls" % PORTS["tls10"]]
        r = smtpsh(["--cafile", LAB.cafile], script(lines))
        self.assertIn("(security level 0: --tls-min 1.0)", tls_line(r), r.describe())
        # the next \connect without flags: the defaults again (TLS 1.2 at least)
        self.assertExit(r, 4)
        self.assertIn("the server offers no TLS version in 1.2..1.3", r.stderr, r.describe())
        r = smtpsh(["--cafile", LAB.cafile],
                   script(["\\connect 127.0.0.1 %d --tls --tls-max 1.2" % PORTS["tls13"]]))
        self.assertExit(r, 4)
        self.assertIn("the server offers no TLS version in 1.2..1.2", r.stderr, r.describe())

    # --- ciphers --------------------------------------------------------------------------
    def test_cipher_list(self):
        """a server with one cipher: --ciphers with it works, without it fails in words"""
        r = self.run_tls("ciphers", "--ciphers", "ECDHE-RSA-AES256-GCM-SHA384")
        self.assertExit(r, 0)
        self.assertRegex(tls_line(r), r"^TLSv1\.2 ECDHE-RSA-AES256-GCM-SHA384, certificate "
                         r"verified")
        r = self.run_tls("ciphers", "--ciphers", "ECDHE-RSA-AES128-GCM-SHA256")
        self.assertExit(r, 4)
        self.assertError(r, "the server sent alert \"handshake failure\": no cipher or group "
                         "in common with --ciphers / --ciphersuites / --groups")

    def test_bad_values_are_usage_errors(self):
        """bad values: exit 2 with one line, before connecting"""
        for opts, words in ((["--tls-min", "1.5"], "--tls-min takes 1.0, 1.1, 1.2 or 1.3"),
                            (["--ciphers", "NOPE"], "--ciphers: OpenSSL knows no cipher"),
                            (["--groups", "P-999"], "--groups: OpenSSL knows no group"),
                            (["--tls-min", "1.3", "--tls-max", "1.2"],
                             "--tls-min 1.3 is above --tls-max 1.2"),
                            (["--key", FILES["key"]], "--key goes with --cert FILE")):
            r = self.run_tls("tls12", *opts)
            self.assertExit(r, 2)
            lines = r.stderr.strip().splitlines()
            self.assertEqual(len(lines), 1, r.describe())
            self.assertTrue(lines[0].startswith("smtpsh: " + words), r.describe())
            self.assertEqual(r.stdout, "")

    def test_unreadable_cafile_named(self):
        """a --cafile that cannot be read: the reason in words (errno), not OpenSSL's silence"""
        r = smtpsh(["--tls", "--cafile", "/nonexistent/ca.pem", "127.0.0.1", PORTS["tls12"]],
                   script(["QUIT"]))
        self.assertExit(r, 4)
        self.assertIn("!  error: cannot load CA file /nonexistent/ca.pem: No such file or "
                      "directory", r.stderr, r.describe())
        r = smtpsh(["--tls", "--cafile", FILES["key"], "127.0.0.1", PORTS["tls12"]],
                   script(["QUIT"]))
        self.assertExit(r, 4)
        self.assertIn("!  error: cannot load CA file %s: " % FILES["key"], r.stderr)
        self.assertNotIn("(null)", r.stderr, r.describe())

    # --- SNI ------------------------------------------------------------------------------
    def test_sni_picks_the_certificate(self):
        """--sni NAME gets (and checks) NAME's certificate; --no-sni and no match get the
        default one"""
        r = self.run_tls("sni", "--sni", "mail.example.net", cafile=FILES["trust"])
        self.assertExit(r, 0)
        self.assertRegex(tls_line(r), r"certificate verified \(CN=mail\.example\.net\)$",
                         r.describe())
        r = self.run_tls("sni", "--no-sni", host="localhost", cafile=FILES["trust"])
        self.assertExit(r, 0)
        self.assertRegex(tls_line(r), r"certificate verified \(CN=localhost\)$", r.describe())
        # without --no-sni, localhost is sent: no entry, the default certificate
        r = self.run_tls("sni", host="localhost", cafile=FILES["trust"])
        self.assertRegex(tls_line(r), r"\(CN=localhost\)$", r.describe())
        # --no-sni to mail.example.net's address: the default certificate, and the name is
        # still checked against it
        r = self.run_tls("sni", "--no-sni", "--sni", "mail.example.net", cafile=FILES["trust"])
        self.assertExit(r, 4)
        self.assertIn("name mismatch: the certificate is not for mail.example.net", r.stderr)

    # --- client certificates --------------------------------------------------------------
    def rcpt_remote(self, *opts):
        return self.run_tls("ccert", *opts,
                            lines=["EHLO me", "MAIL FROM:<a@example.test>",
                                   "RCPT TO:<someone@remote.example.org>", "QUIT"])

    def rcpt_reply(self, r):
        """The reply to the RCPT (the first line received after it)."""
        events = [(m, t) for m, t in r.events if m in ("~>", "<~")]
        for i, (m, t) in enumerate(events):
            if m == "~>" and t.startswith("RCPT TO:"):
                return next((t2 for m2, t2 in events[i + 1:] if m2 == "<~"), "")
        return ""

    def test_relay_by_client_certificate(self):
        """permit_tls_clientcerts: relays for the right --cert/--key only"""
        record = os.path.join(LAB.dir, "ccert.smtpsh")
        r = self.rcpt_remote("--cert", FILES["cert"], "--key", FILES["key"], "--record", record)
        self.assertExit(r, 0)
        self.assertRegex(tls_line(r), r"client certificate sent \(CN=client\.example\)$",
                         r.describe())
        self.assertIn(("~>", "RCPT TO:<someone@remote.example.org>"), r.sent())
        self.assertRegex(self.rcpt_reply(r), r"^250 2\.1\.5 Ok", r.describe())
        transcript = open(record).read()
        self.assertIn("client certificate sent (CN=client.example)", transcript)
        self.assertNoKeys(r, transcript)
        r = self.rcpt_remote()
        self.assertExit(r, 0)
        self.assertNotIn("client certificate", tls_line(r))
        self.assertRegex(self.rcpt_reply(r), r"^554 5\.7\.1 .*Relay access denied", r.describe())
        # a certificate the server does not know: no relay either
        r = self.rcpt_remote("--cert", FILES["other"], "--key", FILES["other_key"])
        self.assertRegex(self.rcpt_reply(r), r"^554 5\.7\.1 .*Relay access denied", r.describe())

    def test_passphrase_protected_key(self):
        """an encrypted key: --key-password-command gives the passphrase; a wrong one, a
        failing command, no terminal: exit 2 in words; keys never shown"""
        r = self.rcpt_remote("--cert", FILES["cert"], "--key", FILES["enc"],
                             "--key-password-command", "echo " + KEY_PASS)
        self.assertExit(r, 0)
        self.assertRegex(self.rcpt_reply(r), r"^250 2\.1\.5 Ok", r.describe())
        self.assertNoKeys(r)
        for cmd, words in (("echo wrong", "cannot load the key %s: wrong passphrase"),
                           ("exit 3", "cannot load the key %s: --key-password-command: "),
                           (None, "cannot load the key %s: the key is encrypted and its "
                            "passphrase could not be asked")):
            opts = ["--cert", FILES["cert"], "--key", FILES["enc"]]
            if cmd:
                opts += ["--key-password-command", cmd]
            r = self.rcpt_remote(*opts)
            self.assertExit(r, 2)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.describe())
            self.assertIn("smtpsh: " + words % FILES["enc"], r.stderr)
            self.assertEqual(r.stdout, "")
            self.assertNoKeys(r)

    def test_tls13_certificate_required_after_the_handshake(self):
        """TLS 1.3: a server that requires a client certificate says so after the handshake
        (RFC 8446 4.4.2.4): the alert in words, with what to try"""
        port = free_port()
        srv = subprocess.Popen(["openssl", "s_server", "-quiet", "-accept", "127.0.0.1:%d" % port,
                                "-cert", LAB.cafile, "-key",
                                os.path.join(LAB.env["POSTFIX_CONFIG"], "key.pem"),
                                "-tls1_3", "-Verify", "1", "-CAfile", FILES["ca"]],
                               stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        try:
            wait_port(port)
            r = smtpsh(["--tls", "--cafile", LAB.cafile, "127.0.0.1", port],
                       script(["EHLO me", "QUIT"]))
        finally:
            srv.kill()
            srv.wait()
        self.assertIn("the server wants a client certificate (alert \"certificate required\"): "
                      "give one with --cert FILE --key FILE", r.stderr, r.describe())

    def test_key_not_matching_certificate(self):
        """a key that is not the certificate's: said before connecting"""
        r = self.rcpt_remote("--cert", FILES["cert"], "--key", FILES["other_key"])
        self.assertExit(r, 2)
        self.assertEqual(r.stderr.strip(), "smtpsh: the key %s does not match the certificate "
                         "%s" % (FILES["other_key"], FILES["cert"]))
        r = self.rcpt_remote("--cert", FILES["cert"])
        self.assertExit(r, 2)
        self.assertEqual(r.stderr.strip(), "smtpsh: %s holds no private key: give it with "
                         "--key FILE" % FILES["cert"])


if __name__ == "__main__":
    tap_main()
