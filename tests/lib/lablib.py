"""The private Postfix of tests/lab/postfix-lab.sh, for the tests that run smtpsh (or
anything else) against a real server on loopback:

    lab = PostfixLab()        # temp dir; lab.start() runs postfix-lab.sh
    lab.start()
    ...
    path, data = lab.wait_for_message("alice", token)
    headers, body = split_delivered(data)
    lab.stop()

or, for a whole test module, LAB = ModuleLab(...) (see there). Running smtpsh, reading its
screen and tap_main() are in smtpshtest.
"""

import os
import re
import shutil
import subprocess
import tempfile
import time

from smtpshtest import (TESTS, find_in_maildir, maildir_files, run_smtpsh, running_labs,
                        split_prepended, wait_in_maildir)

LAB_SCRIPT = os.path.join(TESTS, "lab", "postfix-lab.sh")

INSTALL_HINT = ("Postfix (with sasl2-bin, libsasl2-modules, openssl) is needed: "
                "run scripts/install-test-deps.sh as root")

# The header lines Postfix's virtual(8) prepends to every delivered message
# (in this order); Received is folded over continuation lines.
PREPENDED = ("Return-Path", "X-Original-To", "Delivered-To", "Received")


class LabError(Exception):
    pass


def require_postfix():
    """Raise LabError (so the test FAILS, never skips) when the lab's tools
    are missing."""
    missing = [p for p in ("/usr/sbin/postfix", "/usr/sbin/postconf",
                           "/usr/sbin/saslpasswd2", "/usr/bin/openssl",
                           "/usr/bin/script")
               if not os.access(p, os.X_OK)]
    if missing:
        raise LabError("missing %s. %s" % (", ".join(missing), INSTALL_HINT))
    if os.geteuid() != 0:
        raise LabError("the Postfix test lab must run as root")


class PostfixLab:
    """One private Postfix instance (see tests/lab/postfix-lab.sh)."""

    def __init__(self, directory=None, small_limit=None, size_limit=None):
        """small_limit: also start SMALL_PORT, a plain listener that refuses
        messages over that many bytes (see postfix-lab.sh). size_limit: the
        message_size_limit (SIZE) of the other listeners (default Postfix's)."""
        self._own_dir = directory is None
        self.small_limit = small_limit
        self.size_limit = size_limit
        self.dir = directory or tempfile.mkdtemp(prefix="smtpsh-lab-")
        self.env = {}
        self.running = False

    # --- lifecycle ---------------------------------------------------------
    def start(self, attempts=3):
        try:
            require_postfix()
        except LabError:
            self.stop()
            raise
        last = ""
        # registered first: an interrupt during start still stops master
        if self not in running_labs:
            running_labs.append(self)
        for _ in range(attempts):
            env = dict(os.environ)
            for k in ("PLAIN_PORT", "SUBMISSION_PORT", "SMTPS_PORT", "SMALL_PORT",
                      "XCLIENT_PORT", "PROXY_PORT", "LAB_SMALL_LIMIT", "MESSAGE_SIZE_LIMIT"):
                env.pop(k, None)
            if self.small_limit:
                env["LAB_SMALL_LIMIT"] = str(self.small_limit)
            if self.size_limit is not None:
                env["MESSAGE_SIZE_LIMIT"] = str(int(self.size_limit))
            p = subprocess.run(["/bin/bash", LAB_SCRIPT, "start", self.dir],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=env, timeout=120)
            if p.returncode == 0:
                self.env = parse_env(os.path.join(self.dir, "env"))
                self.running = True
                return self
            last = (p.stdout + p.stderr).decode("utf-8", "replace")
            if "is not installed" in last:
                break
            # a port race with another lab: stop what may run, retry
            self._run_stop()
            time.sleep(0.2)
        self.stop()
        raise LabError("cannot start the Postfix lab in %s:\n%s" % (self.dir, last))

    def _run_stop(self, action="stop"):
        if not os.path.exists(os.path.join(self.dir, "etc", "main.cf")):
            return
        # In its own session: meson kills the test's process group 0.5 s
        # after SIGTERM, the stop must go on regardless.
        subprocess.run(["/bin/bash", LAB_SCRIPT, action, self.dir],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=60, start_new_session=True)

    def stop(self, remove=True):
        """Stop master (wait for it); remove the temp dir we made unless
        SMTPSH_KEEP_LAB is set."""
        remove = remove and self._own_dir and not os.environ.get("SMTPSH_KEEP_LAB")
        self._run_stop("destroy" if remove else "stop")
        self.running = False
        if self in running_labs:
            running_labs.remove(self)
        if remove:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- facts -------------------------------------------------------------
    def port(self, name):
        return int(self.env[name.upper() + "_PORT"])

    @property
    def plain_port(self):
        return self.port("plain")

    @property
    def submission_port(self):
        return self.port("submission")

    @property
    def smtps_port(self):
        return self.port("smtps")

    @property
    def small_port(self):
        return self.port("small")

    @property
    def xclient_port(self):
        """plain SMTP where loopback may send XCLIENT and XFORWARD"""
        return self.port("xclient")

    @property
    def proxy_port(self):
        """plain SMTP behind a haproxy PROXY header (v1 or v2)"""
        return self.port("proxy")

    @property
    def cafile(self):
        return self.env["CAFILE"]

    @property
    def user(self):
        return self.env["SASL_USER"]

    @property
    def password(self):
        return self.env["SASL_PASS"]

    @property
    def ipv6(self):
        return self.env.get("IPV6") == "1"

    @property
    def log_path(self):
        return self.env["POSTFIX_LOG"]

    def maildir(self, user):
        return os.path.join(self.env["MAILDIR_BASE"], user)

    # --- delivered mail ----------------------------------------------------
    def messages(self, user):
        """All delivered files of USER's Maildir (new/ and cur/)."""
        return maildir_files(self.maildir(user))

    def wait_for_message(self, user, token, timeout=10.0):
        """Wait until a message containing TOKEN (bytes or str) is in
        USER's Maildir; return (path, bytes)."""
        return wait_in_maildir(self.maildir(user), token, timeout, self.log_tail)

    def find_message(self, user, token):
        """The message with TOKEN in USER's Maildir, or None (no waiting)."""
        return find_in_maildir(self.maildir(user), token)

    # --- log -----------------------------------------------------------------
    def log_size(self):
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def log_since(self, offset):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def wait_log(self, offset, pattern, timeout=10.0):
        """Wait for a log line matching PATTERN (regex) after OFFSET; return
        the match."""
        rx = re.compile(pattern, re.M)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.log_since(offset))
            if m:
                return m
            if time.monotonic() > deadline:
                raise AssertionError("no log line /%s/ within %.0f s:\n%s"
                                     % (pattern, timeout, self.log_since(offset)))
            time.sleep(0.05)

    def wait_session(self, offset, service, timeout=10.0):
        """The first session of SERVICE (plain, submission...) that connected after OFFSET
        and said something, once it is over: the re.Match of its "disconnect from NAME[ADDR]
        STATS" line (group 1: the statistics, "ehlo=1 starttls=0/1 commands=1/2"), whose
        .string holds all the session's lines.

        Postfix logs no client port, so a session is told apart by its smtpd process: the
        lines of that PID from its "connect from" to its "disconnect from" (one process
        serves its sessions one after another, so a reused PID cannot mix two). A previous
        test's session still being logged after OFFSET connected before it and is not taken;
        nor are the lab's readiness probes, which connect and close without a command
        ("commands=0/0") and may be logged late. A plain search for the next "disconnect
        from" after OFFSET takes either."""
        connect = re.compile(r"^.*postfix-lab/%s/smtpd\[(\d+)\]: connect from .*$"
                             % re.escape(service), re.M)
        deadline = time.monotonic() + timeout
        while True:
            text = self.log_since(offset)
            for c in connect.finditer(text):
                rx = re.compile(r"^.*postfix-lab/%s/smtpd\[%s\]: .*$"
                                % (re.escape(service), c.group(1)), re.M)
                lines = []
                for m in rx.finditer(text, c.start()):
                    lines.append(m.group(0))
                    if "]: disconnect from " in m.group(0):
                        break
                d = re.search(r"^.*\]: disconnect from \S+ (.*)$", "\n".join(lines), re.M)
                if d is None:
                    break  # this session is not over yet: wait for it
                if d.group(1) != "commands=0/0":
                    return d
            if time.monotonic() > deadline:
                raise AssertionError("no whole %s session in the log within %.0f s:\n%s"
                                     % (service, timeout, text))
            time.sleep(0.05)

    def log_tail(self, n=30):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
            return "postfix log (last %d lines):\n" % n + "\n".join(lines[-n:])
        except OSError:
            return "(no postfix log)"


def parse_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"^([A-Z0-9_]+)='(.*)'$", line.rstrip("\n"))
            if m:
                env[m.group(1)] = m.group(2)
    return env




def split_delivered(data):
    """Split a delivered Maildir file into (prepended header lines, rest).

    Checks that Postfix prepended exactly Return-Path, X-Original-To,
    Delivered-To and a (folded) Received header, and returns the rest of the
    file, which must be the message as sent (LF line ends, dots unstuffed).
    """
    return split_prepended(data, PREPENDED, b"\n", exact=True)


class ModuleLab:
    """The Postfix lab of one test module, with a HOME folder for smtpsh inside it:

        LAB = ModuleLab(small_limit=4000)
        setUpModule, tearDownModule = LAB.start, LAB.stop

    Until start() it is empty; after it, every attribute is the running PostfixLab's
    (LAB.port("submission"), LAB.cafile, LAB.dir...)."""

    def __init__(self, **kwargs):
        self._kwargs = kwargs
        self._lab = None

    def start(self):
        lab = PostfixLab(**self._kwargs)
        lab.start()
        self._lab = lab
        os.makedirs(self.home, exist_ok=True)

    def stop(self):
        if self._lab:
            self._lab.stop()

    @property
    def home(self):
        return os.path.join(self.dir, "home")

    def smtpsh(self, args, stdin=b"", **kwargs):
        """run_smtpsh with HOME in the lab (no profile or rc file of the machine's user)."""
        return run_smtpsh(args, stdin, home=self.home, **kwargs)

    def __getattr__(self, name):
        lab = self.__dict__.get("_lab")
        if lab is None:
            raise AttributeError("%s: the lab is not started (setUpModule)" % name)
        return getattr(lab, name)
