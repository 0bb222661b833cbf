"""The base of smtpsh's Python tests: the binary, running it, reading its screen, TAP.

Every Python test imports the modules of tests/lib by their plain names; meson puts this
folder on PYTHONPATH (tests/meson.build, test_env). By hand, do the same:

    PYTHONPATH=tests/lib /usr/bin/python3 tests/hostile/test_display.py build/smtpsh [NAME...]

(only /usr/bin/python3, Debian's, has pexpect and aiosmtpd). The modules of this folder:

    smtpshtest   this one: smtpsh_path(), run_smtpsh() -> Result, parse_transcript(),
                 exchanges(), display(), certificates, ports, Maildirs, tap_main()
    lablib       the private Postfix of tests/lab/postfix-lab.sh (PostfixLab, ModuleLab)
    dnslab       Knot, unbound and an HTTPS policy server (tests/dns)
    dovecotlab   a private Dovecot LMTP server (tests/lmtp)
    harness      the scripted hostile server tests/hostile/server.py, SmtpshTestCase
    practicelib  smtpsh --practice / --serve driven line by line (tests/practice)
    interoplib   the interop matrix (tests/interop)

Top-level modules rather than a package: each test names the one it uses (`from lablib
import ModuleLab`), and the bench scripts and tests/transcripts/make_curated.py use them
the same way. Nothing here skips a test: a missing binary or tool is a failure.
"""

import atexit
import base64
import os
import random
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
TESTS = os.path.join(REPO, "tests")


# --- running smtpsh ------------------------------------------------------------

def smtpsh_path(check=True):
    """The binary under test: $SMTPSH (set by meson, or by tap_main from argv[1]), else
    build/smtpsh of the repo. check: fail (AssertionError) when it is not executable."""
    path = os.path.abspath(os.environ.get("SMTPSH") or os.path.join(REPO, "build", "smtpsh"))
    if check and not os.access(path, os.X_OK):
        raise AssertionError("smtpsh binary not found or not executable: %s (set SMTPSH or "
                             "build it: meson setup build && ninja -C build)" % path)
    return path


def clean_environ():
    """os.environ without what smtpsh reads for its defaults and files (smtpsh(1),
    ENVIRONMENT): a test must not inherit the tester's, and its HOME must hold the rc,
    profiles and history files. That is every SMTPSH_* variable (the tests' own, SMTPSH,
    SMTPSH_WRAPPER..., are for this library, not for the binary), XDG_CONFIG_HOME and
    XDG_STATE_HOME."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith("SMTPSH_") and k not in ("SMTPSH", "XDG_CONFIG_HOME",
                                                          "XDG_STATE_HOME")}


def smtpsh_environ(home=None, env=None):
    """The environment of an smtpsh under test: the caller's without SMTPSH_ENVIRONMENT,
    with NO_COLOR=1, TERM=dumb, INPUTRC=/dev/null, LC_ALL=C.UTF-8 unless set, HOME=home if
    given, then env on top."""
    e = clean_environ()
    e["NO_COLOR"] = "1"
    e["TERM"] = "dumb"
    e["INPUTRC"] = "/dev/null"
    e.setdefault("LC_ALL", "C.UTF-8")
    if home:
        e["HOME"] = home
    if env:
        e.update(env)
    return e


def pty_environ(home, inputrc, **extra):
    """The environment of an smtpsh in a pseudo-terminal (pexpect): clean_environ() with
    TERM=xterm, INPUTRC=inputrc (at least "set enable-bracketed-paste off": Readline would
    wrap every prompt in ESC[?2004h/l), NO_COLOR=1, LC_ALL=C.UTF-8, HOME=home, then extra."""
    e = clean_environ()
    e.update(TERM="xterm", INPUTRC=inputrc, NO_COLOR="1", LC_ALL="C.UTF-8", HOME=home)
    e.update(extra)
    return e


class Result:
    """What one run of smtpsh left: rc (negative: the signal that ended it), stdout and
    stderr as text (stdout_bytes, stderr_bytes: as written), the wire events of stdout
    (parse_transcript), elapsed seconds, maxrss_kb, timed_out (killed after the timeout)."""

    def __init__(self, args, rc, stdout, stderr, elapsed, maxrss_kb=0, timed_out=False):
        self.args = args
        self.rc = rc
        self.stdout_bytes = stdout
        self.stderr_bytes = stderr
        self.stdout = stdout.decode("utf-8", "replace")
        self.stderr = stderr.decode("utf-8", "replace")
        self.elapsed = elapsed
        self.maxrss_kb = maxrss_kb
        self.timed_out = timed_out
        self.events = parse_transcript(self.stdout)

    def out(self):
        return self.stdout

    def err(self):
        return self.stderr

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

    def __repr__(self):
        return ("<rc=%r elapsed=%.2fs maxrss=%dkB timed_out=%r\n--- stdout\n%s--- stderr\n%s>"
                % (self.rc, self.elapsed, self.maxrss_kb, self.timed_out,
                   self.stdout[-4000:], self.stderr[-4000:]))


def _shorten(text, keep):
    lines = text.split("\n")
    if len(lines) <= 2 * keep:
        return text
    return "\n".join(lines[:keep] + ["[... %d lines left out ...]" % (len(lines) - 2 * keep)]
                     + lines[-keep:])


TIME = "/usr/bin/time"  # GNU time: the max RSS of smtpsh alone (Debian package "time")


def run_smtpsh(args, stdin=b"", timeout=30, env=None, home=None, cwd=None, hang_ok=False):
    """Runs smtpsh in batch mode (stdin a file, not a terminal) and returns a Result.

    The environment is smtpsh_environ(home, env).
    smtpsh (and time) run in their own process group, killed after timeout seconds; then
    this fails (AssertionError) unless hang_ok, when the Result says timed_out.
    SMTPSH_WRAPPER runs the binary under a tool, e.g. "valgrind --error-exitcode=99 ..."
    (the timeout then is ten times longer).

    The max RSS is measured by GNU time, which forks from a small process: measured from
    Python (wait4), it would include the Python interpreter's RSS at fork time, a floor
    that hides megabytes. Without /usr/bin/time, wait4's figure is used (less sensitive)."""
    exe = smtpsh_path()
    if isinstance(stdin, str):
        stdin = stdin.encode("utf-8")
    e = smtpsh_environ(home, env)
    wrapper = shlex.split(os.environ.get("SMTPSH_WRAPPER", ""))
    if wrapper:
        timeout *= 10
    argv = wrapper + [exe] + [str(a) for a in args]
    use_time = os.access(TIME, os.X_OK)
    with tempfile.TemporaryFile() as fout, tempfile.TemporaryFile() as ferr, \
            tempfile.TemporaryFile() as fin, tempfile.NamedTemporaryFile() as ftime:
        fin.write(stdin)
        fin.seek(0)
        full = ([TIME, "-f", "rss=%M", "-o", ftime.name] if use_time else []) + argv
        start = time.monotonic()
        proc = subprocess.Popen(full, stdin=fin, stdout=fout, stderr=ferr, env=e, cwd=cwd,
                                start_new_session=True)
        killed = []

        def killer():
            killed.append(True)
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
        timer = threading.Timer(timeout, killer)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        rc = proc.returncode = os.waitstatus_to_exitcode(status)
        maxrss = usage.ru_maxrss
        if use_time and not killed:
            with open(ftime.name, errors="replace") as f:
                report = f.read()
            m = re.search(r"rss=(\d+)", report)
            if m:
                maxrss = int(m.group(1))
            m = re.search(r"terminated by signal (\d+)", report)
            if m:
                rc = -int(m.group(1))
        elapsed = time.monotonic() - start
        fout.seek(0)
        ferr.seek(0)
        r = Result(argv, rc, fout.read(), ferr.read(), elapsed, maxrss, bool(killed))
    if r.timed_out and not hang_ok:
        raise AssertionError("smtpsh did not finish within %d s: %s\n--- stdout ---\n%s\n"
                             "--- stderr ---\n%s" % (timeout, " ".join(argv), r.stdout,
                                                     r.stderr))
    return r


# --- reading smtpsh's screen ------------------------------------------------------

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
    """base64 of s (str: its UTF-8), as str."""
    if isinstance(s, str):
        s = s.encode("utf-8")
    return base64.b64encode(s).decode("ascii")


def auth_plain(user, password):
    """The initial response of AUTH PLAIN (RFC 4616): base64 of NUL user NUL password."""
    return b64("\0%s\0%s" % (user, password))


def token():
    """A fresh string to find one test's message or line by."""
    return "tok-" + uuid.uuid4().hex[:16]


def script(lines):
    """A batch script: the lines, each ended by a newline."""
    return "".join(l + "\n" for l in lines)


# --- ports, processes, certificates, Maildirs ------------------------------------

_PORTS_GIVEN = set()


def free_port():
    """A TCP port of 127.0.0.1 free right now, for a listener started next.

    Chosen at random below the kernel's ephemeral range (32768-60999 on Debian), never twice
    by one process: a port the kernel hands out for bind(("", 0)) is soon handed out again to
    the next caller once closed, so two labs starting at once (tests run two at a time, and
    a lab adds listeners then reloads) could both be given it, and the second would talk to
    the first's server; client sockets take their local ports from that range too."""
    rnd = random.SystemRandom()
    for _ in range(200):
        port = rnd.randrange(20000, 32768)
        if port in _PORTS_GIVEN:
            continue
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            s.close()
        _PORTS_GIVEN.add(port)
        return port
    raise RuntimeError("no free TCP port in 20000-32767 on 127.0.0.1")


def has_ipv6_loopback():
    try:
        with open("/proc/net/if_inet6") as f:
            return any(l.startswith("00000000000000000000000000000001 ") for l in f)
    except OSError:
        return False


def wait_port(port, timeout=30.0, proc=None, describe=lambda: ""):
    """Waits until something accepts connections on 127.0.0.1:port; fails (AssertionError)
    after timeout seconds, or at once when proc (a Popen) has exited."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            pass
        if proc is not None and proc.poll() is not None:
            raise AssertionError("the server exited (%s) before listening on port %d\n%s"
                                 % (proc.returncode, port, describe()))
        if time.monotonic() > deadline:
            raise AssertionError("nothing listens on port %d after %.0f s\n%s"
                                 % (port, timeout, describe()))
        time.sleep(0.05)


def read_reply(f):
    """One complete SMTP reply from a socket's file object (makefile("rb")): its lines as
    bytes without CRLF. Fails (AssertionError) when the connection closes before the
    reply's last line, or a line does not end in CRLF."""
    out = []
    while True:
        line = f.readline()
        if not line.endswith(b"\r\n"):
            raise AssertionError("connection closed after %r" % (out + [line]))
        out.append(line[:-2])
        if line[3:4] != b"-":
            return out


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is not alive
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False
    return True


def wait_gone(pid, timeout=10.0):
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"


def openssl(*args, cwd=None):
    """Runs the openssl command line tool (in cwd); fails (CalledProcessError) when it
    does."""
    subprocess.run([OPENSSL] + [str(a) for a in args], check=True, cwd=cwd,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_cert(directory, subject="/CN=localhost", name="cert",
              san="DNS:localhost,IP:127.0.0.1,IP:::1"):
    """A self-signed certificate for subject (default CN=localhost), SAN localhost,
    127.0.0.1 and ::1 (san=None: no subjectAltName at all). Returns (certfile, keyfile);
    the certificate is its own CA (use --cafile)."""
    cert = os.path.join(directory, name + ".pem")
    key = os.path.join(directory, name + "-key.pem")
    openssl("req", "-x509", "-utf8", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
            "-out", cert, "-days", "2", "-subj", subject,
            *(["-addext", "subjectAltName=" + san] if san else []),
            "-addext", "basicConstraints=critical,CA:TRUE")
    return cert, key


def make_expired_cert(directory, name="expired"):
    """A self-signed certificate for CN=localhost whose validity ended yesterday."""
    fresh, key = make_cert(directory, name=name + "-fresh")
    cert = os.path.join(directory, name + ".pem")
    openssl("x509", "-in", fresh, "-signkey", key, "-days", "-1", "-out", cert)
    return cert, key


def make_ca_signed_cert(directory, name="leaf"):
    """A CA and a certificate for localhost it signed. Returns (ca, cert, key)."""
    ca, ca_key = make_cert(directory, subject="/CN=smtpsh test CA", name=name + "-ca",
                           san="DNS:ca.invalid")
    csr = os.path.join(directory, name + ".csr")
    key = os.path.join(directory, name + "-key.pem")
    cert = os.path.join(directory, name + ".pem")
    ext = os.path.join(directory, name + ".ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
            "-subj", "/CN=localhost")
    openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
            "-days", "2", "-extfile", ext, "-out", cert)
    return ca, cert, key


def maildir_files(maildir):
    """The messages of a Maildir: the files of new/ and cur/ (tmp/ holds those being
    written), sorted."""
    out = []
    for sub in ("new", "cur"):
        d = os.path.join(maildir, sub)
        if os.path.isdir(d):
            out += [os.path.join(d, f) for f in os.listdir(d)]
    return sorted(out)


def wait_files(maildir, n, timeout=10.0):
    """maildir_files() once there are at least n (or the timeout passed)."""
    deadline = time.monotonic() + timeout
    while True:
        files = maildir_files(maildir)
        if len(files) >= n or time.monotonic() > deadline:
            return files
        time.sleep(0.05)


def find_in_maildir(maildir, tok):
    """(path, bytes) of the first message of a Maildir holding tok (bytes or str), or None.
    A file gone while we look (moved from new/ to cur/) is taken on the next look."""
    if isinstance(tok, str):
        tok = tok.encode()
    for path in maildir_files(maildir):
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            continue
        if tok in data:
            return path, data
    return None


def wait_in_maildir(maildir, tok, timeout=10.0, describe=lambda: ""):
    """find_in_maildir() once the message is there; fails (AssertionError, with describe())
    after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = find_in_maildir(maildir, tok)
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError("no message with %r reached %s within %.0f s\n%s"
                                 % (tok, maildir, timeout, describe()))
        time.sleep(0.05)


def split_prepended(data, names, line_end=b"\r\n", exact=False):
    """DATA as stored -> ([the header fields the server put in front], the rest). NAMES are
    the fields the server adds, in order; each may be folded over continuation lines.
    exact: each must start "Name: " as spelled (else "name:" in any case)."""
    lines = data.split(line_end)
    i = 0
    got = []
    for name in names:
        prefix = name.encode() + (b": " if exact else b":")
        line = lines[i] if i < len(lines) else None
        if line is None or not (line.startswith(prefix) if exact else
                                line.lower().startswith(prefix.lower())):
            raise AssertionError("stored message: expected the server's %s field at line %d, "
                                 "got %r" % (name, i + 1, line))
        field = [lines[i]]
        i += 1
        while i < len(lines) and lines[i][:1] in (b"\t", b" "):
            field.append(lines[i])
            i += 1
        got.append(line_end.join(field))
    return got, line_end.join(lines[i:])


# --- labs to stop whatever happens ------------------------------------------------

# Labs (Postfix, Knot, unbound...) running now: stopped at exit and by tap_main when the
# test is interrupted (meson's timeout sends SIGTERM). A lab adds itself in start() and
# removes itself in stop().
running_labs = []


def stop_all_labs():
    for lab in list(running_labs):
        try:
            lab.stop()
        except Exception:
            pass


atexit.register(stop_all_labs)


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
    out.write("# smtpsh binary: %s\n" % smtpsh_path(check=False))
    out.flush()
    result = _TapResult(out)
    try:
        suite.run(result)
    except KeyboardInterrupt as e:
        out.write("not ok %d - interrupted (%s)\n" % (result.n + 1, e))
        result.n += 1
        result.errors.append((None, "interrupted"))
    finally:
        stop_all_labs()
    out.write("1..%d\n" % result.n)
    out.flush()
    sys.exit(0 if result.wasSuccessful() and result.n > 0 else 1)
