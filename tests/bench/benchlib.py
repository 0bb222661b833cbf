"""Shared parts of smtpsh's benchmarks (tests/bench/): the lab, the clients, timing,
delivered-message checks and tables.

Run the benchmarks with /usr/bin/python3 (Debian's), as root (the Postfix lab needs it):
tests/bench/run-all, or one of tests/bench/{txn,big,rtt,startup}. They print numbers; they
are not tests and are not part of `meson test`. Every delivered message is checked byte for
byte; a mismatch is printed loudly and makes the exit status 1.
"""

import hashlib
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
# The benchmarks are run by hand (tests/bench/run-all), not by meson, which puts the test
# library on PYTHONPATH for the tests: so they put it there themselves, here only.
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lib"))
from lablib import PostfixLab, split_delivered  # noqa: E402
from smtpshtest import REPO, auth_plain  # noqa: E402
from smtpshtest import smtpsh_path as _tested_smtpsh  # noqa: E402

SENDER_DOMAIN = "example.test"
BIG_LIMIT = 300 * 1000 * 1000  # message_size_limit for the lab: room for 100 MB + headers
MAILBOXES = ("alice", "bob", "carol")


class BenchError(Exception):
    pass


# --- output ----------------------------------------------------------------------------

def say(fmt, *args):
    print(fmt % args if args else fmt, flush=True)


def progress(text):
    """A transient progress line on a terminal (stderr), nothing otherwise."""
    if sys.stderr.isatty():
        sys.stderr.write("\r\033[K" + text)
        sys.stderr.flush()


def progress_done():
    if sys.stderr.isatty():
        sys.stderr.write("\r\033[K")
        sys.stderr.flush()


class Mismatches:
    """Delivered messages that differ from what was sent: reported loudly, counted."""
    items = []

    @classmethod
    def add(cls, what):
        cls.items.append(what)
        sys.stderr.write("\n!!!!! MISMATCH: %s\n" % what)
        sys.stderr.flush()


def table(headers, rows, align=None):
    """A Markdown table (also readable as text)."""
    cols = len(headers)
    align = align or ["l"] + ["r"] * (cols - 1)
    cells = [[str(c) for c in r] for r in rows]
    width = [max([len(headers[i])] + [len(r[i]) for r in cells]) for i in range(cols)]

    def line(vals):
        out = []
        for i, v in enumerate(vals):
            out.append(v.ljust(width[i]) if align[i] == "l" else v.rjust(width[i]))
        return "| " + " | ".join(out) + " |"
    sep = "|" + "|".join(("-" * (width[i] + 1) + ":") if align[i] == "r"
                         else ("-" * (width[i] + 2)) for i in range(cols)) + "|"
    return "\n".join([line(headers), sep] + [line(r) for r in cells])


def fmt_ms(v):
    return "-" if v is None else ("%.1f" % v if v < 100 else "%.0f" % v)


def fmt_ratio(v):
    return "-" if v is None else "%.2f" % v


def median(xs):
    return statistics.median(xs) if xs else None


# --- tools and dependencies --------------------------------------------------------------

_smtpsh_override = None  # set by with_smtpsh() while a comparison builds a command line


def smtpsh_path(check=True):
    """The smtpsh of a command line: the test library's (the binary under test, $SMTPSH or
    build/smtpsh; check as there), or, while with_smtpsh() builds a comparison's, the binary
    it names."""
    return _smtpsh_override or _tested_smtpsh(check=check)


def perl_has(module):
    return subprocess.run(["perl", "-M" + module, "-e", "1"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0


def missing_deps():
    need = {"swaks": "/usr/bin/swaks", "curl": "/usr/bin/curl", "openssl": "/usr/bin/openssl",
            "time": "/usr/bin/time", "cc": "/usr/bin/cc", "pkg-config": "/usr/bin/pkg-config",
            "strace": "/usr/bin/strace", "perl": "/usr/bin/perl"}
    miss = [name for name, path in need.items() if not os.access(path, os.X_OK)]
    if "perl" not in miss:
        miss += [m for m in ("Net::SSLeay", "IO::Socket::SSL") if not perl_has(m)]
    return miss


def ensure_deps():
    """Installs what the benchmarks need (tests/bench/install-deps) when something is
    missing."""
    miss = missing_deps()
    if not miss:
        return
    say("* missing for the benchmarks: %s; running tests/bench/install-deps", ", ".join(miss))
    r = subprocess.run([os.path.join(HERE, "install-deps")])
    miss = missing_deps()
    if r.returncode != 0 or miss:
        raise BenchError("still missing: %s (run tests/bench/install-deps as root)"
                         % ", ".join(miss))


def tool_version(argv, pattern=None):
    try:
        out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             timeout=20).stdout.decode("utf-8", "replace")
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    if pattern:
        m = re.search(pattern, out)
        return m.group(1) if m else "?"
    return out.strip().split("\n")[0]


def versions():
    smtpsh = tool_version([smtpsh_path(), "--version"], r"^smtpsh (\S+)")
    dpkg = lambda p: tool_version(["dpkg-query", "-W", "-f=${Version}", p])  # noqa: E731
    try:
        commit = subprocess.run(["git", "-C", REPO, "describe", "--always", "--dirty"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                timeout=10).stdout.decode().strip()
    except OSError:
        commit = "?"
    return {
        "smtpsh": "%s (commit %s)" % (smtpsh, commit or "?"),
        "Postfix": dpkg("postfix"),
        "OpenSSL": tool_version(["openssl", "version"], r"^OpenSSL (\S+)"),
        "swaks": tool_version(["swaks", "--version"], r"version (\S+)"),
        "curl": tool_version(["curl", "--version"], r"^curl (\S+)"),
        "Python": platform.python_version(),
    }


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"^model name\s*:\s*(.*)$", f.read(), re.M)
            cpu = m.group(1).strip() if m else "?"
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release()}


def load():
    return os.getloadavg()[0]


def wait_for_low_load(limit=1.5, max_wait=120):
    """Waits (up to max_wait s) until the 1-minute load average is under limit."""
    t0 = time.monotonic()
    while load() > limit and time.monotonic() - t0 < max_wait:
        progress("load %.2f > %.1f: waiting for a quieter machine (%.0f s)"
                 % (load(), limit, time.monotonic() - t0))
        time.sleep(5)
    progress_done()
    return load()


# --- work directory, floor client, message files --------------------------------------------

class Workdir:
    def __init__(self, path=None):
        self.own = path is None
        self.path = path or tempfile.mkdtemp(prefix="smtpsh-bench-")
        os.makedirs(self.path, exist_ok=True)
        os.chmod(self.path, 0o755)

    def file(self, name):
        return os.path.join(self.path, name)

    def write(self, name, data, mode=0o644):
        p = self.file(name)
        with open(p, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
        os.chmod(p, mode)
        return p

    def remove(self):
        if self.own and not os.environ.get("SMTPSH_KEEP_BENCH"):
            shutil.rmtree(self.path, ignore_errors=True)


def build_floor(work, static=False):
    """Compiles tests/bench/floor.c with OpenSSL; returns the binary's path. static: linked
    with nothing shared (libc.a, libssl.a, libcrypto.a), the cheapest start a process can
    have; None if this machine cannot link it."""
    out = work.file("floor-static" if static else "floor")
    pc = ["pkg-config", "--cflags", "--libs"] + (["--static"] if static else []) + ["openssl"]
    flags = subprocess.run(pc, stdout=subprocess.PIPE, check=True).stdout.decode().split()
    r = subprocess.run(["cc", "-O2", "-Wall"] + (["-static"] if static else []) +
                       ["-o", out, os.path.join(HERE, "floor.c")] + flags,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        if static:
            say("! the static floor cannot be linked here (its row stays empty):\n%s",
                r.stdout.decode("utf-8", "replace")[-2000:])
            return None
        raise BenchError("cannot build floor.c:\n" + r.stdout.decode("utf-8", "replace"))
    return out


ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def body_bytes(size, seed=b"smtpsh-bench"):
    """About size bytes of 76-character lines (plus LF): pseudo-random base64 letters;
    every 7th line starts with a dot, every 97th is a lone dot; the last line is ordinary
    (a final lone dot would end the message for clients that take it as the terminator)."""
    pool = bytes(ALPHABET[b % 64] for b in hashlib.shake_256(seed).digest(1 << 16))
    plen = len(pool) - 80
    lines = []
    total = i = pos = 0
    while total < size - 77:
        if i % 97 == 96:
            line = b"."
        else:
            line = pool[pos:pos + 76]
            if i % 7 == 3:
                line = b"." + line[1:]
            pos = (pos + 77 + i % 5) % plen
        lines.append(line)
        total += len(line) + 1
        i += 1
    lines.append(pool[:76])
    return b"\n".join(lines) + b"\n"


class Message:
    """The message of a benchmark, in files: `path` (a Subject header, an empty line, then
    body_bytes(size)), `path.swaks` (the same without its last line end: swaks ends the data
    it is given with one of its own) and `body` (only the body, for smtpsh --send, which
    writes its own header). bytes, sha256 and length of each, to check deliveries."""

    def __init__(self, work, name, size, subject):
        self.subject = subject
        body = body_bytes(size)
        data = b"Subject: " + subject.encode() + b"\n\n" + body
        self.path = work.write(name, data)
        self.swaks = work.write(name + ".swaks", data[:-1])
        self.body = work.write(name + ".body", body)
        self.sha256, self.length = hashlib.sha256(data).hexdigest(), len(data)
        self.body_sha256, self.body_length = hashlib.sha256(body).hexdigest(), len(body)
        self.data = data if size <= 1 << 20 else None  # small ones are compared in full
        self.body_data = body if size <= 1 << 20 else None

    def remove(self):
        for p in (self.path, self.swaks, self.body):
            try:
                os.unlink(p)
            except OSError:
                pass


# --- running clients -----------------------------------------------------------------------

class Run:
    def __init__(self, rc, wall_ms, cpu_ms, maxrss_kb=None, timed_out=False):
        self.rc = rc
        self.wall_ms = wall_ms
        self.cpu_ms = cpu_ms  # user + system, the process and what it waited for
        self.maxrss_kb = maxrss_kb
        self.timed_out = timed_out


def spawn(argv, stdin=None, out=None, timeout=120, env=None, rss=False):
    """Runs argv (posix_spawn, no shell) with stdin from the file stdin (or /dev/null) and
    stdout+stderr to the file out (or /dev/null); measures its wall time from spawn to
    exit. With rss, runs it under /usr/bin/time for the peak RSS (its own fork makes that
    exact: a posix_spawned child would report this big Python process's RSS)."""
    timefile = None
    if rss:
        timefile = (out or "/tmp/smtpsh-bench") + ".time"
        argv = ["/usr/bin/time", "-f", "%M", "-o", timefile] + list(argv)
    fin = os.open(stdin or "/dev/null", os.O_RDONLY)
    fout = os.open(out or "/dev/null", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    actions = [(os.POSIX_SPAWN_DUP2, fin, 0), (os.POSIX_SPAWN_DUP2, fout, 1),
               (os.POSIX_SPAWN_DUP2, fout, 2)]
    e = dict(os.environ if env is None else env)
    timed_out = []
    t0 = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, e, file_actions=actions)

    def kill():
        timed_out.append(True)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    watchdog = threading.Timer(timeout, kill)
    watchdog.start()
    try:
        _, status, ru = os.wait4(pid, 0)
    finally:
        watchdog.cancel()
    wall = (time.perf_counter() - t0) * 1000
    os.close(fin)
    os.close(fout)
    rc = os.waitstatus_to_exitcode(status)
    maxrss = None
    if timefile:
        try:
            with open(timefile) as f:
                nums = re.findall(r"^(\d+)$", f.read(), re.M)
            maxrss = int(nums[-1]) if nums else None
        finally:
            try:
                os.unlink(timefile)
            except OSError:
                pass
    return Run(rc, wall, (ru.ru_utime + ru.ru_stime) * 1000, maxrss, bool(timed_out))


def clean_env():
    """The environment for clients: no smtpsh settings or files of the tester."""
    e = {k: v for k, v in os.environ.items()
         if not k.startswith("SMTPSH_") and k not in ("XDG_CONFIG_HOME", "XDG_STATE_HOME")}
    e["NO_COLOR"] = "1"
    e["TERM"] = "dumb"
    e["HOME"] = tempfile.gettempdir()
    e["LC_ALL"] = "C"
    return e


# --- the lab and delivered mail --------------------------------------------------------------

class Lab:
    """The Postfix lab of the test suite, with room for 100 MB messages."""

    def __init__(self):
        self.lab = PostfixLab(size_limit=BIG_LIMIT)

    def start(self):
        self.lab.start()
        self.env = self.lab.env
        self.port = self.lab.submission_port
        self.cafile = self.lab.cafile
        self.user = self.lab.user
        self.password = self.lab.password
        return self

    def stop(self):
        self.lab.stop()

    def maildir_new(self, box):
        return os.path.join(self.lab.maildir(box), "new")

    def take_message(self, box, sender, timeout=60.0):
        """Waits for the message whose Return-Path is <sender> in box's Maildir; returns its
        bytes and removes the file (keeps the Maildir small)."""
        want = ("Return-Path: <%s>\n" % sender).encode()
        d = self.maildir_new(box)
        deadline = time.monotonic() + timeout
        while True:
            try:
                names = os.listdir(d)
            except FileNotFoundError:
                names = []
            for n in names:
                p = os.path.join(d, n)
                try:
                    with open(p, "rb") as f:
                        head = f.read(len(want))
                        if head != want:
                            continue
                        data = head + f.read()
                except FileNotFoundError:
                    continue
                os.unlink(p)
                return data
            if time.monotonic() > deadline:
                return None
            time.sleep(0.002)

    def check(self, box, sender, expected=None, sha256=None, length=None, what="",
              body_only=None):
        """Checks the message from sender delivered to box: its content after Postfix's 4
        prepended headers must equal expected (bytes), or have this sha256 and length. With
        body_only (a Subject), the header is smtpsh --send's: it must hold that Subject, and
        only what follows it is compared. Reports a mismatch loudly; returns True when it
        matched."""
        data = self.take_message(box, sender)
        if data is None:
            Mismatches.add("%s: no message from <%s> reached %s's Maildir" % (what, sender, box))
            return False
        try:
            _, rest = split_delivered(data)
        except AssertionError as e:
            Mismatches.add("%s: delivered file not as expected: %s" % (what, e))
            return False
        if body_only is not None:
            head, sep, rest = rest.partition(b"\n\n")
            want = b"\nSubject: " + body_only.encode() + b"\n"
            if not sep or want not in b"\n" + head + b"\n":
                Mismatches.add("%s: the header of the delivered message lacks Subject: %s"
                               % (what, body_only))
                return False
        if expected is not None:
            if rest != expected:
                Mismatches.add("%s: delivered message differs from what was sent (%d bytes "
                               "instead of %d; first difference at byte %d)"
                               % (what, len(rest), len(expected), first_diff(rest, expected)))
                return False
            return True
        got = hashlib.sha256(rest).hexdigest()
        if got != sha256 or len(rest) != length:
            Mismatches.add("%s: delivered message differs from what was sent (%d bytes, "
                           "sha256 %s..., instead of %d bytes, %s...)"
                           % (what, len(rest), got[:12], length, sha256[:12]))
            return False
        return True

    def clear_mail(self):
        for box in MAILBOXES:
            for sub in ("new", "cur", "tmp"):
                d = os.path.join(self.lab.maildir(box), sub)
                for n in os.listdir(d) if os.path.isdir(d) else []:
                    try:
                        os.unlink(os.path.join(d, n))
                    except OSError:
                        pass


def first_diff(a, b):
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def sender(client, bench, n):
    """A unique envelope sender: it names the message in the Maildir (Return-Path)."""
    safe = re.sub(r"[^a-z0-9]+", "-", client.lower()).strip("-")
    return "%s-%s-%d-%s@%s" % (bench, safe, n, os.urandom(3).hex(), SENDER_DOMAIN)


# --- how each client plays the conversation ------------------------------------------------------

def crlf_stuffed(data):
    """A message as it goes on the wire: CRLF line ends, leading dots doubled."""
    out = []
    for line in data.split(b"\n")[:-1] if data.endswith(b"\n") else data.split(b"\n"):
        out.append((b"." + line if line.startswith(b".") else line) + b"\r\n")
    return b"".join(out)


class Conversation:
    """What one run sends: envelope, recipients, the message (a Message)."""

    def __init__(self, lab, mail_from, rcpts, message, ehlo="bench"):
        self.lab = lab
        self.mail_from = mail_from
        self.rcpts = rcpts
        self.message = message
        self.msg = message.path
        self.ehlo = ehlo

    def expect(self, lab, box, what, sender=None, send_mode=False):
        """Checks this conversation's delivery to box (see Lab.check)."""
        m = self.message
        snd = sender or self.mail_from
        if send_mode:
            if m.body_data is not None:
                return lab.check(box, snd, expected=m.body_data, what=what,
                                 body_only=m.subject)
            return lab.check(box, snd, sha256=m.body_sha256, length=m.body_length, what=what,
                             body_only=m.subject)
        if m.data is not None:
            return lab.check(box, snd, expected=m.data, what=what)
        return lab.check(box, snd, sha256=m.sha256, length=m.length, what=what)


class Job:
    """One run of a client: its command line and what it must have delivered."""

    def __init__(self, argv, conv, stdin=None, env=None, floor=False, send_mode=False,
                 senders=None, boxes=("bob",)):
        self.argv = argv
        self.conv = conv
        self.stdin = stdin
        self.env = env
        self.floor = floor
        self.send_mode = send_mode
        self.senders = senders or [conv.mail_from]
        self.boxes = boxes

    def check(self, lab, what):
        ok = True
        for snd in self.senders:
            for box in self.boxes:
                ok = self.conv.expect(lab, box, "%s (%s)" % (what, box), sender=snd,
                                      send_mode=self.send_mode) and ok
        return ok


def smtpsh_script(work, name, conv, starttls_typed=True):
    """The batch script smtpsh runs: typed EHLO/STARTTLS/EHLO (or none with --starttls),
    AUTH PLAIN with its initial response, the envelope, DATA, \\file, "." and QUIT."""
    lines = []
    if starttls_typed:
        lines += ["EHLO " + conv.ehlo, "STARTTLS", "EHLO " + conv.ehlo]
    lines += ["AUTH PLAIN " + auth_plain(conv.lab.user, conv.lab.password),
              "MAIL FROM:<%s>" % conv.mail_from]
    lines += ["RCPT TO:<%s>" % r for r in conv.rcpts]
    lines += ["DATA", "\\file " + conv.msg, ".", "QUIT"]
    return work.write(name, "".join(l + "\n" for l in lines), 0o600)


def smtpsh_argv(conv, script, starttls_opt=False, pipeline=False, port=None, timing=False):
    argv = [smtpsh_path(), "--cafile", conv.lab.cafile, "--timeout", "60"]
    if timing:
        argv.append("--timing")
    if starttls_opt:
        argv += ["--starttls", "--ehlo", conv.ehlo]
    if pipeline:
        argv.append("--pipeline")
    return argv + ["-f", script, "localhost", str(port or conv.lab.port)]


def curl_argv(conv, port=None):
    argv = ["/usr/bin/curl", "-sS", "--ssl-reqd", "--cacert", conv.lab.cafile,
            "--login-options", "AUTH=PLAIN",
            "--user", "%s:%s" % (conv.lab.user, conv.lab.password),
            "--mail-from", conv.mail_from]
    for r in conv.rcpts:
        argv += ["--mail-rcpt", r]
    return argv + ["--crlf", "--upload-file", conv.msg,
                   "smtp://localhost:%s/%s" % (port or conv.lab.port, conv.ehlo)]


def swaks_argv(conv, pipeline=False, port=None):
    argv = ["/usr/bin/swaks", "--silent", "2", "--tls", "--tls-verify",
            "--tls-ca-path", conv.lab.cafile, "--server", "localhost",
            "--port", str(port or conv.lab.port), "--ehlo", conv.ehlo,
            "--auth", "PLAIN", "--auth-user", conv.lab.user,
            "--auth-password", conv.lab.password, "--from", conv.mail_from,
            "--to", ",".join(conv.rcpts), "--data", "@" + conv.message.swaks]
    if pipeline:
        argv.append("--pipeline")
    return argv


def s_client_input(work, name, conv):
    """What openssl s_client gets on stdin: the whole conversation after its own EHLO and
    STARTTLS, CRLF, the message dot-stuffed (s_client sends it as it is, at once)."""
    with open(conv.msg, "rb") as f:
        msg = f.read()
    head = "EHLO %s\r\nAUTH PLAIN %s\r\nMAIL FROM:<%s>\r\n" % (
        conv.ehlo, auth_plain(conv.lab.user, conv.lab.password), conv.mail_from)
    head += "".join("RCPT TO:<%s>\r\n" % r for r in conv.rcpts) + "DATA\r\n"
    return work.write(name, head.encode() + crlf_stuffed(msg) + b".\r\nQUIT\r\n", 0o600)


def smtpsh_send_argv(conv, port=None, timing=False):
    """smtpsh's one-line mode: --send composes the header (Date, From, To, Subject...) and
    streams --body-file; the password comes from SMTPSH_PASSWORD (see send_env)."""
    argv = [smtpsh_path(), "--cafile", conv.lab.cafile, "--timeout", "60"]
    if timing:
        argv.append("--timing")
    argv += ["--starttls", "--ehlo", conv.ehlo, "--auth", "PLAIN", "--user", conv.lab.user,
             "--send",
            "--from", conv.mail_from, "--subject", conv.message.subject,
            "--body-file", conv.message.body]
    for r in conv.rcpts:
        argv += ["--to", r]
    return argv + ["localhost", str(port or conv.lab.port)]


def send_env(ctx):
    e = dict(ctx.env)
    e["SMTPSH_PASSWORD"] = ctx.lab.password
    return e


def s_client_argv(conv, port=None):
    return ["/usr/bin/openssl", "s_client", "-quiet", "-starttls", "smtp", "-name", conv.ehlo,
            "-connect", "localhost:%s" % (port or conv.lab.port), "-CAfile", conv.lab.cafile,
            "-verify_return_error", "-verify_hostname", "localhost"]


def floor_argv(floor, conv, rounds=1, pipeline=False, port=None):
    """conv.mail_from may hold %d: the round number."""
    argv = [floor, "--cafile", conv.lab.cafile, "--user", conv.lab.user,
            "--pass", conv.lab.password, "--from", conv.mail_from, "--ehlo", conv.ehlo,
            "--body", conv.msg, "--rounds", str(rounds), "--settle", "quickack"]
    for r in conv.rcpts:
        argv += ["--rcpt", r]
    if pipeline:
        argv.append("--pipeline")
    return argv + ["localhost", str(port or conv.lab.port)]


def floor_rounds(out_path):
    """The floor's output: [(microseconds, body bytes sent, CPU microseconds)] per round."""
    res = []
    with open(out_path) as f:
        for line in f:
            m = re.match(r"^round (\d+) (\d+) (\d+)$", line.strip())
            if m:
                res.append((int(m.group(1)), int(m.group(2)), int(m.group(3))))
    return res


def shell_quote(arg):
    import shlex
    return shlex.quote(arg)


def slowest_step(out_path):
    """From smtpsh --timing output: (milliseconds, what) of its slowest step: a reply (since
    its command was written), the TCP connect or the TLS handshake."""
    best = (-1, "")
    cmd = "the greeting"
    try:
        with open(out_path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return None
    for line in text.split("\n"):
        head = line.split("  \t", 1)[0]
        if line[:3] in ("-> ", "~> "):
            cmd = head[3:43]
        m = re.search(r"\[(handshake )?(\d+) ms\]", line)
        if not m:
            continue
        ms = int(m.group(2))
        what = ("the TLS handshake" if m.group(1) else "the connect" if "connected" in head
                else "the reply to " + cmd)
        if ms > best[0]:
            best = (ms, what)
    return best if best[0] >= 0 else None


def tail(path, n=15):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").rstrip("\n").split("\n")
    except OSError:
        return "(no output)"
    return "\n".join("    " + l for l in lines[-n:])


def floor_init_us(out_path, what="init"):
    """The floor's OpenSSL start: wall ("init") or CPU ("init-cpu") microseconds."""
    with open(out_path) as f:
        m = re.search(r"^%s (\d+)$" % what, f.read(), re.M)
    return int(m.group(1)) if m else None


# --- comparing two smtpsh binaries (run-all --baseline) ------------------------------------------

OLD, NEW = "old", "new"
WITHIN = 0.05  # the tolerance of issue 13: each median within 5% of the old binary's


def binary_tag(name):
    """"smtpsh --send [old]" -> ("smtpsh --send", "old"); (name, None) for other rows."""
    m = re.match(r"^(.*) \[(old|new)\]$", name)
    return (m.group(1), m.group(2)) if m else (name, None)


def with_smtpsh(path, make):
    """make(r) -> Job, with smtpsh_path() returning path while make builds the command line
    (every benchmark builds smtpsh's argv through smtpsh_path())."""
    def wrapped(r):
        global _smtpsh_override
        saved, _smtpsh_override = _smtpsh_override, path
        try:
            return make(r)
        finally:
            _smtpsh_override = saved
    return wrapped


class Paired(list):
    """A comparison's rows: [(name [old], make), (name [new], make), ...], the smtpsh rows of
    a benchmark, each twice."""


def paired(rows, baseline):
    """Keeps the smtpsh rows of [(name, make)] (the other clients are not compared) and runs
    each with the old binary (baseline) and the current one (smtpsh_path())."""
    new = smtpsh_path()
    out = Paired()
    for name, make in rows:
        if name.startswith("smtpsh"):
            out.append(("%s [%s]" % (name, OLD), with_smtpsh(baseline, make)))
            out.append(("%s [%s]" % (name, NEW), with_smtpsh(new, make)))
    return out


def turn(rows, r, rotate=True):
    """The order of round r. A comparison's pairs run next to each other, old then new in
    even rounds and new then old in odd ones (ABBA: whatever favours the first or the second
    of two runs, such as caches warmed by the one before, hits both binaries alike). Other
    runs rotate (A B C, B C A...) or keep their order."""
    if isinstance(rows, Paired):
        if r % 2 == 0:
            return list(rows)
        return [x for i in range(0, len(rows), 2) for x in (rows[i + 1], rows[i])]
    if rotate:
        k = r % len(rows)
        return rows[k:] + rows[:k]
    return list(rows)


def quartiles(xs):
    """(q1, q3) of xs (the exclusive method of statistics.quantiles; xs itself when short)."""
    s = sorted(xs)
    if len(s) < 4:
        return s[0], s[-1]
    q = statistics.quantiles(s, n=4)
    return q[0], q[2]


def ratio_interval(old, new, draws=2000, seed=13):
    """A 95% bootstrap interval of median(new) / median(old): both samples resampled with
    replacement, the 2.5th and 97.5th percentiles of the ratios. When it holds 1.00, the
    difference of the medians is within what this run's noise produces."""
    import random
    if len(old) < 3 or len(new) < 3:
        return None
    rnd = random.Random(seed)
    ratios = sorted(statistics.median(rnd.choices(new, k=len(new))) /
                    statistics.median(rnd.choices(old, k=len(old))) for _ in range(draws))
    return ratios[int(draws * 0.025)], ratios[int(draws * 0.975) - 1]


def paired_interval(old, new):
    """The runs of a round's pair, old[i] and new[i], ran next to each other: the ratios
    new[i] / old[i] cancel what changed between rounds (load drift). Returns (median of the
    ratios, (lo, hi)): a distribution-free 95% interval of that median (order statistics of
    the binomial sign test: lo is the k-th smallest ratio, hi the k-th largest), or None
    when the runs cannot be paired (a failed run: different counts) or are too few (under 6
    pairs no such interval reaches 95%)."""
    import math
    n = len(old)
    if n != len(new) or n < 6:
        return None
    ratios = sorted(b / a for a, b in zip(old, new))
    # the largest k with P(Binomial(n, 1/2) < k) <= 2.5%: [r_k, r_(n+1-k)] holds the median
    # with a probability of at least 95%
    k, below = 0, 0.0
    while below + math.comb(n, k) / 2 ** n <= 0.025:
        below += math.comb(n, k) / 2 ** n
        k += 1
    return statistics.median(ratios), (ratios[k - 1], ratios[n - k])


def verdict(ratio):
    """The words of issue 13's criterion for new/old."""
    if abs(ratio - 1) <= WITHIN:
        return "within 5%"
    pct = abs(ratio - 1) * 100
    return "**slower by %.0f%%**" % pct if ratio > 1 else "faster by %.0f%%" % pct


def judged(ci):
    """What the 95% interval of new/old allows to say about issue 13's 5%."""
    if ci is None:
        return "too few runs"
    lo, hi = ci
    if lo >= 1 - WITHIN and hi <= 1 + WITHIN:
        return "within 5%"
    if lo > 1 + WITHIN:
        return "**slower by over 5%**"
    if hi < 1 - WITHIN:
        return "faster by over 5%"
    if lo > 1:
        return "slower; 5%: undecided"
    if hi < 1:
        return "faster; 5%: undecided"
    return "noise; 5%: undecided"


def compare_table(title, samples):
    """A comparison's table: samples is [(row, {"old": [ms], "new": [ms]}, other)] where
    other is an optional (what, old value, new value) shown beside (round trips, peak RSS).
    Per row: runs, both medians, new/old and its verdict, the median of the rounds' ratios
    with its 95% interval (see paired_interval; when the runs cannot be paired, a bootstrap
    interval of new/old, marked "(b)"), what that interval allows to say about 5%, and each
    binary's spread (interquartile range and min-max)."""
    rows = []
    for row, v, other in samples:
        o, n = v.get(OLD) or [], v.get(NEW) or []
        if not o or not n:
            rows.append([row, "%d/%d" % (len(o), len(n))] + ["-"] * 9)
            continue
        mo, mn = median(o), median(n)
        ratio = mn / mo
        pair = paired_interval(o, n)
        ci = pair[1] if pair else ratio_interval(o, n)

        def spread(xs):
            q1, q3 = quartiles(xs)
            return "%s-%s (%s-%s)" % (fmt_ms(q1), fmt_ms(q3), fmt_ms(min(xs)), fmt_ms(max(xs)))
        rows.append([row, "%d/%d" % (len(o), len(n)), fmt_ms(mo), fmt_ms(mn), "%.3f" % ratio,
                     verdict(ratio), "%.3f" % pair[0] if pair else "-",
                     ("%.3f-%.3f" % ci + ("" if pair else " (b)")) if ci else "-", judged(ci),
                     spread(o), spread(n)]
                    + (["%s: %s / %s" % other] if other else []))
    heads = ["row", "runs old/new", "old median ms", "new median ms", "new/old", "verdict",
             "paired new/old", "95% interval", "the 95% says", "old IQR (min-max) ms",
             "new IQR (min-max) ms"]
    if any(s[2] for s in samples):
        heads.append("also (old / new)")
        rows = [r + [""] * (len(heads) - len(r)) for r in rows]
    return "\n".join(["### %s" % title, "", table(heads, rows), ""])


def compare_samples(names, values, other=None):
    """Groups a benchmark's results by row: names are "row [old]"/"row [new]", values maps
    each to its list of ms; other(name) -> (what, value) or None. Returns compare_table's
    samples, in the order of names."""
    out, seen = [], {}
    for name in names:
        row, tag = binary_tag(name)
        if tag is None:
            continue
        if row not in seen:
            seen[row] = ({}, {})
            out.append(row)
        seen[row][0][tag] = values.get(name) or []
        if other:
            o = other(name)
            if o:
                seen[row][1][tag] = o
    res = []
    for row in out:
        v, oth = seen[row]
        extra = None
        if OLD in oth and NEW in oth:
            extra = (oth[OLD][0], oth[OLD][1], oth[NEW][1])
        res.append((row, v, extra))
    return res


# --- running one benchmark or all --------------------------------------------------------------

class Context:
    """What the benchmarks share in one run: the lab, a work directory, the floor client."""

    def __init__(self, lab, work, floor, floor_static=None):
        self.lab = lab
        self.work = work
        self.floor = floor
        self.floor_static = floor_static
        self.env = clean_env()


def load_bench(name):
    """Imports tests/bench/NAME (a script without .py) as a module."""
    import importlib.machinery
    import importlib.util
    loader = importlib.machinery.SourceFileLoader("bench_" + name, os.path.join(HERE, name))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def setup(need_lab=True):
    if os.geteuid() != 0:
        raise BenchError("the benchmarks run the Postfix lab: run them as root")
    ensure_deps()
    if not os.access(smtpsh_path(check=False), os.X_OK):
        raise BenchError("smtpsh not found at %s: build it (meson setup build && ninja -C "
                         "build) or set SMTPSH" % smtpsh_path(check=False))
    work = Workdir()
    lab = None
    try:
        floor = build_floor(work)
        floor_static = build_floor(work, static=True)
        if need_lab:
            lab = Lab().start()
    except BaseException:
        if lab:
            lab.stop()
        work.remove()
        raise
    return Context(lab, work, floor, floor_static)


def teardown(ctx):
    if ctx.lab:
        ctx.lab.stop()
    ctx.work.remove()


def main_single(mod, argv):
    """tests/bench/NAME [--rounds N]: one benchmark on its own (its own lab)."""
    import argparse
    ap = argparse.ArgumentParser(description=mod.__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, help="rounds per client (default: %s)"
                    % getattr(mod, "ROUNDS", "?"))
    args = ap.parse_args(argv)
    try:
        ctx = setup(need_lab=getattr(mod, "NEEDS_LAB", True))
    except BenchError as e:
        sys.stderr.write("bench: %s\n" % e)
        return 2
    try:
        res = mod.run(ctx, args.rounds)
        print(mod.report(res))
    except BenchError as e:
        sys.stderr.write("bench: %s\n" % e)
        return 2
    finally:
        teardown(ctx)
    if Mismatches.items:
        sys.stderr.write("\n!!!!! %d delivered message(s) did not match what was sent\n"
                         % len(Mismatches.items))
        return 1
    return 0
