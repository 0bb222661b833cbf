"""Helpers for the practice server's tests (tests/practice/*.py).

    sh = Shell(["--practice"])          # smtpsh in batch mode, driven line by line
    sh.wait_greeting()
    code, lines = sh.command("EHLO me")  # sends, waits for the complete reply
    sh.local("\\practice greylist on")   # a local command, waits for its "*" line
    rc = sh.close()

    srv = Serve(maildir)                 # smtpsh --serve 0 --maildir DIR
    ... srv.port, srv.password, srv.cafile ...
    out = srv.stop()                     # Ctrl-C (SIGINT), the whole screen output

Run with /usr/bin/python3 only. Also: split_stored() for the Maildir files.
"""

import os
import re
import signal
import subprocess
import threading
import time

from smtpshtest import smtpsh_environ, smtpsh_path, split_prepended

# the final line of a reply as smtpsh shows it: marker, code, then a blank or nothing
FINAL_RX = re.compile(r"^(<-|<~|<\?) (\d{3})(?: (.*))?$")
REPLY_RX = re.compile(r"^(<-|<~|<\?) (\d{3})([ -]|$)(.*)$")
# smtpsh's annotation beside a reply: two blanks, a TAB, then "[...]" (a decoded 334, a hint)
NOTE_RX = re.compile(r"  \t\[.*\]$")


def strip_note(line):
    """A reply line as shown, without smtpsh's annotation."""
    return NOTE_RX.sub("", line)

# the header lines the practice server prepends: Return-Path, Envelope-To
# (folded when several recipients), Received (folded)
PREPENDED = ("Return-Path", "Envelope-To", "Received")


DATA_RX = re.compile(r"(?i)^DATA(?: |$)")


class Output:
    """Lines of a stream, collected by a thread, waited for by regex."""

    def __init__(self, stream):
        self.lines = []
        self.cond = threading.Condition()
        self.eof = False
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream):
        for raw in iter(stream.readline, b""):
            with self.cond:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def wait(self, rx, start=0, timeout=15.0):
        """Index of the first line at or after START matching RX (a regex)."""
        if isinstance(rx, str):
            rx = re.compile(rx)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i in range(start, len(self.lines)):
                    if rx.search(self.lines[i]):
                        return i
                left = deadline - time.monotonic()
                if left <= 0 or self.eof:
                    raise AssertionError("no line /%s/ within %.0f s; got:\n%s"
                                         % (rx.pattern, timeout,
                                            "\n".join(self.lines[start:][-60:])))
                self.cond.wait(left)

    def text(self):
        with self.cond:
            return "\n".join(self.lines)


class Shell:
    """smtpsh in batch mode (stdin a pipe), driven one line at a time."""

    def __init__(self, args, home=None, env=None):
        self.args = [smtpsh_path()] + [str(a) for a in args]
        self.p = subprocess.Popen(self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=smtpsh_environ(home, env))
        self.out = Output(self.p.stdout)
        self.err = Output(self.p.stderr)
        self.rc = None
        self.info = {}

    def send(self, line):
        self.p.stdin.write(line.encode("utf-8") + b"\n")
        self.p.stdin.flush()

    def command(self, line, timeout=15.0):
        """Send LINE, wait for its complete reply: (code, [reply lines as shown])."""
        start = len(self.out.lines)
        self.send(line)
        i = self.out.wait(FINAL_RX, start, timeout)
        lines = [strip_note(l) for l in self.out.lines[start:i + 1] if REPLY_RX.match(l)]
        code = int(FINAL_RX.match(self.out.lines[i]).group(2))
        if DATA_RX.match(line) and code != 354:
            # In batch mode a script's DATA line opens its message whatever the reply: the
            # lines up to "." would be skipped. The driver ends that empty message at once,
            # so that its next line is a command again.
            errstart = len(self.err.lines)
            self.send(".")
            self.err.wait(r"lines? of message content skipped", errstart, timeout)
        return code, lines

    def local(self, line, rx=r"^\*  ", timeout=15.0):
        """Send a local command, wait for a line matching RX; the lines it printed."""
        start = len(self.out.lines)
        self.send(line)
        i = self.out.wait(rx, start, timeout)
        return self.out.lines[start:i + 1]

    def close(self, timeout=20.0):
        """End of input; wait for the exit status."""
        try:
            self.p.stdin.close()
        except BrokenPipeError:
            pass
        self.rc = self.p.wait(timeout)
        self.out.thread.join(5)
        self.err.thread.join(5)
        return self.rc

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(10)

    def describe(self):
        return "command: %s\n--- stdout ---\n%s\n--- stderr ---\n%s" % (
            " ".join(self.args), self.out.text()[-6000:], self.err.text()[-3000:])


class Practice(Shell):
    """smtpsh --practice: reads the banner (pid, port, login, CA, Maildir) and the greeting."""

    def __init__(self, extra=(), home=None, env=None):
        super().__init__(["--practice"] + list(extra), home, env)
        try:
            self.out.wait(r"^(<-|<~) 220 ")
        except AssertionError:
            self.kill()
            raise AssertionError("no greeting from --practice\n" + self.describe())
        text = self.out.text()
        m = re.search(r"practice server \(pid (\d+)\) on 127\.0\.0\.1 port (\d+)", text)
        self.pid, self.port = int(m.group(1)), int(m.group(2))
        m = re.search(r"AUTH login: user (\S+), password (\S+) ", text)
        self.user, self.password = m.group(1), m.group(2)
        self.cafile = re.search(r"trusted by this session only: (\S+)", text).group(1)
        self.maildir = re.search(r"Maildir: (\S+)", text).group(1)
        self.dir = os.path.dirname(self.cafile)


class Serve:
    """smtpsh --serve 0 --maildir DIR in the background; its screen output collected."""

    def __init__(self, maildir, extra=(), stdin=subprocess.PIPE):
        self.args = [smtpsh_path(), "--serve", "0", "--maildir", maildir] + list(extra)
        self.p = subprocess.Popen(self.args, stdin=stdin, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=smtpsh_environ())
        self.out = Output(self.p.stdout)
        self.err = Output(self.p.stderr)
        self.maildir = maildir
        try:
            self.out.wait(r"^\*  \[N\] numbers the connections")
        except AssertionError:
            self.p.kill()
            raise AssertionError("--serve did not start\n" + self.describe())
        text = self.out.text()
        self.port = int(re.search(r"practice server on \S+ port (\d+)", text).group(1))
        m = re.search(r"AUTH login: user (\S+), password (\S+) ", text)
        self.user, self.password = (m.group(1), m.group(2)) if m else (None, None)  # --script
        self.cafile = re.search(r"CA certificate to trust: (\S+)", text).group(1)

    def control(self, line, rx=r"^\*  ", timeout=10.0):
        """Type a control line on the server's standard input."""
        start = len(self.out.lines)
        self.p.stdin.write(line.encode() + b"\n")
        self.p.stdin.flush()
        self.out.wait(rx, start, timeout)

    def stop(self, timeout=15.0):
        """Ctrl-C; returns the exit status."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGINT)
        rc = self.p.wait(timeout)
        self.out.thread.join(5)
        self.err.thread.join(5)
        return rc

    def describe(self):
        return "command: %s\n--- stdout ---\n%s\n--- stderr ---\n%s" % (
            " ".join(self.args), self.out.text()[-6000:], self.err.text()[-3000:])


def split_stored(data):
    """A stored file -> ({header name: folded value lines}, rest): checks that the
    server prepended exactly Return-Path, Envelope-To and Received, in that order."""
    got, rest = split_prepended(data, PREPENDED, b"\n", exact=True)
    return dict(zip(PREPENDED, got)), rest
