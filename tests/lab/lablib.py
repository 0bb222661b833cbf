"""Helpers for smtpsh's integration tests against a private Postfix.

Run with /usr/bin/python3 (Debian's).  Used by tests/integration/*.py:

    lab = PostfixLab()        # temp dir; lab.start() runs postfix-lab.sh
    lab.start()
    ...
    path, data = lab.wait_for_message("alice", token)
    headers, body = split_delivered(data)
    lab.stop()

Also: run_smtpsh() (batch mode, captured output), parse_transcript(), and
tap_main(), a tiny unittest runner that prints TAP for meson.
"""

import atexit
import os
import re
import shutil
import signal
import socket
import shlex
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
LAB_SCRIPT = os.path.join(HERE, "postfix-lab.sh")
REPO = os.path.dirname(os.path.dirname(HERE))

INSTALL_HINT = ("Postfix (with sasl2-bin, libsasl2-modules, openssl) is needed: "
                "run scripts/install-test-deps.sh as root")

# The header lines Postfix's virtual(8) prepends to every delivered message
# (in this order); Received is folded over continuation lines.
PREPENDED = ("Return-Path", "X-Original-To", "Delivered-To", "Received")

_running_labs = []


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
        if self not in _running_labs:
            _running_labs.append(self)
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
        if self in _running_labs:
            _running_labs.remove(self)
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
        out = []
        for sub in ("new", "cur"):
            d = os.path.join(self.maildir(user), sub)
            try:
                out += [os.path.join(d, f) for f in os.listdir(d)]
            except FileNotFoundError:
                pass
        return sorted(out)

    def wait_for_message(self, user, token, timeout=10.0):
        """Wait until a message containing TOKEN (bytes or str) is in
        USER's Maildir; return (path, bytes)."""
        if isinstance(token, str):
            token = token.encode()
        deadline = time.monotonic() + timeout
        while True:
            for path in self.messages(user):
                try:
                    with open(path, "rb") as f:
                        data = f.read()
                except FileNotFoundError:
                    continue
                if token in data:
                    return path, data
            if time.monotonic() > deadline:
                raise AssertionError(
                    "no message with %r reached %s within %.0f s\n%s"
                    % (token, self.maildir(user), timeout, self.log_tail()))
            time.sleep(0.05)

    def find_message(self, user, token):
        """The message with TOKEN in USER's Maildir, or None (no waiting)."""
        if isinstance(token, str):
            token = token.encode()
        for path in self.messages(user):
            with open(path, "rb") as f:
                data = f.read()
            if token in data:
                return path, data
        return None

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


def _stop_all():
    for lab in list(_running_labs):
        try:
            lab.stop()
        except Exception:
            pass


atexit.register(_stop_all)


def split_delivered(data):
    """Split a delivered Maildir file into (prepended header lines, rest).

    Checks that Postfix prepended exactly Return-Path, X-Original-To,
    Delivered-To and a (folded) Received header, and returns the rest of the
    file, which must be the message as sent (LF line ends, dots unstuffed).
    """
    lines = data.split(b"\n")
    got = []
    i = 0
    for name in PREPENDED:
        prefix = name.encode() + b": "
        if i >= len(lines) or not lines[i].startswith(prefix):
            raise AssertionError("delivered file: expected %s header at line %d, "
                                 "got %r" % (name, i + 1, lines[i] if i < len(lines) else None))
        header = [lines[i]]
        i += 1
        while i < len(lines) and lines[i][:1] in (b"\t", b" "):
            header.append(lines[i])
            i += 1
        got.append(b"\n".join(header))
    return got, b"\n".join(lines[i:])


# --- running smtpsh ------------------------------------------------------------

def smtpsh_path():
    """The binary under test: argv[1], $SMTPSH, or build/smtpsh."""
    cand = os.environ.get("SMTPSH") or os.path.join(REPO, "build", "smtpsh")
    return os.path.abspath(cand)


class Result:
    def __init__(self, args, proc, elapsed):
        self.args = args
        self.rc = proc.returncode
        self.stdout_bytes = proc.stdout
        self.stderr_bytes = proc.stderr
        self.stdout = proc.stdout.decode("utf-8", "replace")
        self.stderr = proc.stderr.decode("utf-8", "replace")
        self.elapsed = elapsed
        self.events = parse_transcript(self.stdout)

    def sent(self):
        """Lines sent, as shown: list of (marker, text)."""
        return [(m, t) for m, t in self.events if m in SENT_MARKERS]

    def sent_text(self):
        return [t for m, t in self.events if m in SENT_MARKERS]

    def received(self):
        return [(m, t) for m, t in self.events if m in RECV_MARKERS]

    def info(self):
        """The local '*  ...' lines, without the marker."""
        return [t for m, t in self.events if m == "*"]

    def describe(self, keep=80):
        return ("command: %s\nexit code: %s (%.1f s)\n--- stdout ---\n%s\n"
                "--- stderr ---\n%s" % (" ".join(self.args), self.rc, self.elapsed,
                                       _shorten(self.stdout, keep),
                                       _shorten(self.stderr, keep)))


def _shorten(text, keep):
    lines = text.split("\n")
    if len(lines) <= 2 * keep:
        return text
    return "\n".join(lines[:keep] + ["[... %d lines left out ...]" % (len(lines) - 2 * keep)]
                     + lines[-keep:])


# The variables smtpsh reads for its defaults and files (smtpsh(1), ENVIRONMENT): a test
# must not inherit the tester's, and its HOME must hold the rc, profiles and history files.
SMTPSH_ENVIRONMENT = ("SMTPSH_TIMEOUT", "SMTPSH_CAFILE", "SMTPSH_EHLO", "SMTPSH_COLOR",
                      "SMTPSH_HISTFILE", "SMTPSH_HISTSIZE", "SMTPSH_REPLAY_PASSWORD",
                      "XDG_CONFIG_HOME", "XDG_STATE_HOME")


def clean_environ():
    """os.environ without the variables of SMTPSH_ENVIRONMENT."""
    return {k: v for k, v in os.environ.items() if k not in SMTPSH_ENVIRONMENT}


def run_smtpsh(args, stdin=b"", timeout=30, env=None, home=None):
    """Run smtpsh in batch mode (stdin a pipe) and capture everything."""
    exe = smtpsh_path()
    if not os.access(exe, os.X_OK):
        raise AssertionError("smtpsh binary not found at %s (build it: "
                             "meson setup build && ninja -C build)" % exe)
    if isinstance(stdin, str):
        stdin = stdin.encode("utf-8")
    e = clean_environ()
    e["NO_COLOR"] = "1"
    e["TERM"] = "dumb"
    e["INPUTRC"] = "/dev/null"
    if home:
        e["HOME"] = home
    if env:
        e.update(env)
    # SMTPSH_WRAPPER runs the binary under a tool, e.g. "valgrind --error-exitcode=99 ..."
    wrapper = shlex.split(os.environ.get("SMTPSH_WRAPPER", ""))
    if wrapper:
        timeout *= 10
    argv = wrapper + [exe] + [str(a) for a in args]
    t0 = time.monotonic()
    try:
        p = subprocess.run(argv, input=stdin, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=e, timeout=timeout)
    except subprocess.TimeoutExpired as ex:
        raise AssertionError("smtpsh did not finish within %d s: %s\n"
                             "--- stdout ---\n%s\n--- stderr ---\n%s"
                             % (timeout, " ".join(argv),
                                (ex.stdout or b"").decode("utf-8", "replace"),
                                (ex.stderr or b"").decode("utf-8", "replace")))
    return Result(argv, p, time.monotonic() - t0)


# plaintext, TLS (verified), TLS not verified (--insecure)
SENT_MARKERS = ("->", "~>", "?>")
RECV_MARKERS = ("<-", "<~", "<?")
_EVENT_RX = re.compile(r"^(->|<-|~>|<~|\?>|<\?)(?: (.*))?$")


# smtpsh writes annotations beside a line (decoded 334 challenges, hints,
# --explain, --timing) after two blanks and a TAB: the escaped wire text never
# holds a TAB, so this split is exact.
NOTES_SEP = "  \t"


def split_notes(line):
    """A screen line -> (line without its annotations, [annotation texts])."""
    if NOTES_SEP not in line:
        return line, []
    head, _, tail = line.partition(NOTES_SEP)
    return head, re.findall(r"\[((?:[^\]]|\](?!  \[|$))*)\]", tail)


def parse_transcript(text):
    """stdout -> list of (marker, text). Markers: -> <- (plain), ~> <~ (TLS),
    ?> <? (TLS, certificate not verified) for wire lines, '*' for local info
    lines, '?' for anything else. Annotations (see split_notes) are left out."""
    events = []
    for line in text.split("\n"):
        if line == "":
            continue
        line = split_notes(line)[0]
        m = _EVENT_RX.match(line)
        if m:
            events.append((m.group(1), m.group(2) or ""))
        elif line.startswith("*"):
            events.append(("*", line[1:].lstrip(" ")))
        else:
            events.append(("?", line))
    return events


def exchanges(events):
    """Group wire events into [(sent_marker, sent_text, [(marker, reply)])].
    The greeting is an exchange with sent_text None."""
    out = []
    cur = [None, None, []]
    for m, t in events:
        if m in SENT_MARKERS:
            out.append(cur)
            cur = [m, t, []]
        elif m in RECV_MARKERS:
            cur[2].append((m, t))
    out.append(cur)
    if out and out[0][1] is None and not out[0][2]:
        out = out[1:]
    return [tuple(x) for x in out]


def display(line):
    """How smtpsh shows a wire line (str or bytes, without CRLF): ESC ->
    \\x1b, other control bytes \\xNN, backslash -> \\\\, TAB \\t, invalid
    UTF-8 bytes \\xNN; valid UTF-8 text unchanged."""
    if isinstance(line, str):
        line = line.encode("utf-8")
    out = []
    i = 0
    n = len(line)
    while i < n:
        c = line[i]
        if c == 0x5C:
            out.append("\\\\")
        elif c == 0x09:
            out.append("\\t")
        elif c < 0x20 or c == 0x7F:
            out.append("\\x%02x" % c)
        elif c < 0x80:
            out.append(chr(c))
        else:
            ln = 2 if 0xC2 <= c <= 0xDF else 3 if 0xE0 <= c <= 0xEF else \
                4 if 0xF0 <= c <= 0xF4 else 0
            try:
                if not ln:
                    raise UnicodeDecodeError("utf-8", b"", 0, 1, "lead")
                out.append(line[i:i + ln].decode("utf-8"))
                i += ln
            except UnicodeDecodeError:
                out.append("\\x%02x" % c)
                i += 1
            continue
        i += 1
    return "".join(out)


def dot_stuff(line):
    """A body line as sent on the wire."""
    return "." + line if line.startswith(".") else line


def b64(s):
    import base64
    if isinstance(s, str):
        s = s.encode("utf-8")
    return base64.b64encode(s).decode("ascii")


def token():
    """A fresh string to find one test's message or line by."""
    import uuid
    return "tok-" + uuid.uuid4().hex[:16]


def script(lines):
    """A batch script: the lines, each ended by a newline."""
    return "".join(l + "\n" for l in lines)


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


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def has_ipv6_loopback():
    try:
        with open("/proc/net/if_inet6") as f:
            return any(l.startswith("00000000000000000000000000000001 ") for l in f)
    except OSError:
        return False


# --- TAP output for meson --------------------------------------------------------

class _TapResult(unittest.TestResult):
    def __init__(self, stream):
        super().__init__()
        self.stream = stream
        self.n = 0

    def _emit(self, ok, test, directive="", diag=None):
        self.n += 1
        desc = getattr(test, "_testMethodName", None) or str(test)
        doc = test.shortDescription() if hasattr(test, "shortDescription") else None
        if doc:
            desc += " - " + doc
        desc = desc.replace("#", "\\#")
        self.stream.write("%s %d - %s%s\n" % ("ok" if ok else "not ok", self.n,
                                                desc, directive))
        if diag:
            for line in diag.rstrip("\n").split("\n"):
                self.stream.write("# %s\n" % line)
        self.stream.flush()

    def addSuccess(self, test):
        super().addSuccess(test)
        self._emit(True, test)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._emit(False, test, diag=self._exc_info_to_string(err, test))

    def addError(self, test, err):
        super().addError(test, err)
        self._emit(False, test, diag=self._exc_info_to_string(err, test))

    def addSubTest(self, test, subtest, err):
        # a failing subtest is a failure of its test, reported as such (not a missing line)
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._emit(False, subtest, diag=self._exc_info_to_string(err, test))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._emit(True, test, directive=" # SKIP %s" % reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._emit(True, test, directive=" # TODO expected failure")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._emit(False, test, diag="unexpected success")


def _on_term(signum, frame):
    # once: let the cleanup (stopping Postfix) finish
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt("signal %d" % signum)


def tap_main(module_name="__main__"):
    """Run the tests of a module, print TAP on stdout, exit 0/1.

    Usage: script.py [SMTPSH_BINARY] [TEST_NAME_PATTERN...]"""
    if len(sys.argv) > 1 and not sys.argv[1].startswith("-") and os.sep in sys.argv[1]:
        os.environ["SMTPSH"] = os.path.abspath(sys.argv[1])
        patterns = sys.argv[2:]
    else:
        patterns = sys.argv[1:]
    signal.signal(signal.SIGTERM, _on_term)
    signal.signal(signal.SIGHUP, _on_term)
    signal.signal(signal.SIGINT, _on_term)
    loader = unittest.TestLoader()
    if patterns:
        loader.testNamePatterns = ["*%s*" % p for p in patterns]
    suite = loader.loadTestsFromModule(sys.modules[module_name])
    out = sys.stdout
    out.write("TAP version 13\n")
    out.write("# smtpsh binary: %s\n" % smtpsh_path())
    out.flush()
    result = _TapResult(out)
    try:
        suite.run(result)
    except KeyboardInterrupt as e:
        out.write("not ok %d - interrupted (%s)\n" % (result.n + 1, e))
        result.n += 1
        result.errors.append((None, "interrupted"))
    finally:
        _stop_all()
    out.write("1..%d\n" % result.n)
    out.flush()
    sys.exit(0 if result.wasSuccessful() and result.n > 0 else 1)
