#!/usr/bin/python3
"""The interop matrix against Exim 4 from Debian's packages, unpacked (not installed: the
machine's Postfix stays) into tests/interop/exim-root by tests/interop/install-deps, run
as a daemon (-bdf: in the foreground) on one loopback port with a private configuration (-C,
servers/exim.conf.in): spool, log and a Maildir in a temporary folder, STARTTLS with the
test certificate, AUTH PLAIN, LOGIN and CRAM-MD5 (under TLS only), SIZE. Debian's binary
looks up its compiled-in user "Debian-exim" before reading any configuration; the test
gives it one with nss_wrapper (libnss-wrapper) instead of adding a user to the machine.

Usage: PYTHONPATH=tests/lib /usr/bin/python3 tests/interop/test_exim.py [PATH/TO/smtpsh] [NAME...]
"""

import os
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
from interoplib import Daemon, HERE, MatrixTests, PKI, require, rmtree, Server, Store
from smtpshtest import free_port, tap_main

WORK = tempfile.mkdtemp(prefix="smtpsh-interop-exim-")
EXIM = os.path.join(HERE, "exim-root", "usr", "sbin", "exim4")
NSS_WRAPPER = "/usr/lib/x86_64-linux-gnu/libnss_wrapper.so"
UID = GID = 65534  # nobody / nogroup: Exim's user and the Maildir's owner


class EximStore(Store):
    """The Maildir, after a queue run (-qff) by the test. The daemon re-executes Exim to
    deliver, and that process does not get nss_wrapper's environment (keep_environment
    did not help: "failed to find uid for user name Debian-exim"), so the daemon only
    queues (queue_only) and the test delivers, synchronously, each time it looks."""

    def files(self):
        self.queue_run()
        return Store.files(self)


class Exim(Server):
    name = "Exim"
    mechs = ("PLAIN", "LOGIN", "CRAM-MD5")
    caps = ("SIZE", "8BITMIME", "PIPELINING", "SMTPUTF8", "AUTH", "CHUNKING")
    size = 100000
    size_code = 552
    user = "alice@example.test"
    password = "Exim-pass-4711"
    prepended = ("Received",)
    line_end = b"\n"

    def __init__(self):
        self.pki = PKI(os.path.join(WORK, "pki"))
        self.home = os.path.join(WORK, "home")
        os.makedirs(self.home)
        for sub in ("spool", "log", "mail"):
            os.makedirs(os.path.join(WORK, sub))
            os.chown(os.path.join(WORK, sub), UID, GID)
        os.chmod(WORK, 0o755)
        env = self.nss_env()
        self.store = EximStore(os.path.join(WORK, "mail"), suffix="", maildir=True)
        self.store.queue_run = lambda: subprocess.run(
            [EXIM, "-C", self.conf, "-qff"], env=env, timeout=30, check=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for attempt in range(3):
            self.port = free_port()
            conf = self.configure()
            try:
                self.daemon = Daemon([EXIM, "-C", conf, "-bdf", "-oX", self.port],
                                     os.path.join(WORK, "exim.out"), self.port, env=env)
                return
            except AssertionError:
                if attempt == 2:
                    raise

    def nss_env(self):
        """Debian-exim for Exim's compiled-in user lookup, through nss_wrapper."""
        passwd, group = os.path.join(WORK, "passwd"), os.path.join(WORK, "group")
        with open("/etc/passwd") as f:
            users = [l for l in f if not l.startswith("Debian-exim:")]
        with open(passwd, "w") as f:
            f.writelines(users + ["Debian-exim:x:%d:%d::/nonexistent:/usr/sbin/nologin\n"
                                  % (UID, GID)])
        with open("/etc/group") as f:
            groups = [l for l in f if not l.startswith("Debian-exim:")]
        with open(group, "w") as f:
            f.writelines(groups + ["Debian-exim:x:%d:\n" % GID])
        return dict(os.environ, LD_PRELOAD=NSS_WRAPPER, NSS_WRAPPER_PASSWD=passwd,
                    NSS_WRAPPER_GROUP=group)

    def configure(self):
        with open(os.path.join(HERE, "servers", "exim.conf.in")) as f:
            text = f.read()
        for k, v in {"WORK": WORK, "EXIM": EXIM, "PORT": self.port, "UID": UID, "GID": GID,
                     "SIZE": self.size, "CERT": self.pki.cert, "KEY": self.pki.key,
                     "USER": self.user, "PASSWORD": self.password}.items():
            text = text.replace("@%s@" % k, str(v))
        conf = self.conf = os.path.join(WORK, "exim.conf")
        with open(conf, "w") as f:
            f.write(text)
        os.chmod(conf, 0o644)
        return conf

    def describe(self):
        logs = ""
        for name in ("mainlog", "paniclog", "rejectlog"):
            try:
                with open(os.path.join(WORK, "log", name), errors="replace") as f:
                    logs += "--- %s ---\n%s\n" % (name, f.read()[-3000:])
            except OSError:
                pass
        return self.daemon.describe() + "\n" + logs


S = None


def setUpModule():
    global S
    require([EXIM, NSS_WRAPPER])
    S = Exim()
    EximMatrix.S = S


def tearDownModule():
    if S:
        S.daemon.stop()
    rmtree(WORK)


class EximMatrix(MatrixTests, unittest.TestCase):
    pass


if __name__ == "__main__":
    tap_main()
