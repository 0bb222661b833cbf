"""Client-side helpers for tests that run smtpsh against tests/hostile/server.py, a
scripted, badly behaved server: ScriptedServer (one case of tests/hostile/cases) and
SmtpshTestCase (a temp dir, the servers of the test, assertions on what smtpsh showed).

Used by tests/hostile, tests/pty and tests/integration/test_send_scripted.py.
Nothing here skips a test: a missing binary or tool is a failure.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

from smtpshtest import TESTS, run_smtpsh, smtpsh_path

SERVER = os.path.join(TESTS, 'hostile', 'server.py')
CASES = os.path.join(TESTS, 'hostile', 'cases')
PYTHON = '/usr/bin/python3'

# What a crash or a sanitizer report looks like on stderr.
CRASH_RX = re.compile(r'Segmentation|AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|'
                      r'runtime error:|core dumped|Aborted|double free|stack smashing')


class ScriptedServer:
    """Runs server.py on one script; use as a context manager.

    script: a file name in tests/hostile/cases/, an absolute path, or (with text=True)
    the script itself. defines: {NAME: VALUE} for ${NAME} in the script.
    """

    def __init__(self, script, workdir, defines=None, text=False, lifetime=20.0):
        self.workdir = workdir
        if text:
            path = os.path.join(workdir, 'script-%d.txt' % id(self))
            with open(path, 'w') as f:
                f.write(script)
            script = path
        elif not os.path.isabs(script):
            script = os.path.join(CASES, script)
        self.script = script
        tag = os.path.basename(script)
        self.record_path = os.path.join(workdir, tag + '.record')
        self.log_path = os.path.join(workdir, tag + '.log')
        for p in (self.record_path, self.log_path):
            if os.path.exists(p):
                os.unlink(p)
        cmd = [PYTHON, SERVER, script, '--record', self.record_path, '--log',
               self.log_path, '--lifetime', str(lifetime)]
        for k, v in (defines or {}).items():
            cmd += ['--define', '%s=%s' % (k, v)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = self.proc.stdout.readline().decode()
        m = re.fullmatch(r'PORT (\d+)\n', line)
        if not m:
            self.proc.kill()
            out, err = self.proc.communicate()
            raise AssertionError('server did not start: %r %r' % (line, err))
        self.port = int(m.group(1))
        self.rc = None

    def wait(self, timeout=25):
        """Waits for the server to finish; returns its exit status (0 = script met)."""
        if self.rc is None:
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc.stdout.close()
            self.proc.stderr.close()
            self.rc = self.proc.returncode
        return self.rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.wait()

    def record(self):
        try:
            with open(self.record_path, 'rb') as f:
                return f.read()
        except FileNotFoundError:
            return b''

    def log(self):
        try:
            with open(self.log_path, errors='replace') as f:
                return f.read()
        except FileNotFoundError:
            return ''

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()
        return False


class SmtpshTestCase(unittest.TestCase):
    """Common set-up (a temp dir) and assertions."""

    maxDiff = None

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='smtpsh-test-')
        self.smtpsh = smtpsh_path()
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.kill()
        if os.environ.get('SMTPSH_TEST_KEEP'):
            sys.stderr.write('kept %s\n' % self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def server(self, script, **kw):
        s = ScriptedServer(script, self.tmp, **kw)
        self.servers.append(s)
        return s

    def assert_server_ok(self, srv, result=None):
        rc = srv.wait()
        self.assertEqual(rc, 0, 'the scripted server was not satisfied (rc=%r)\n'
                         '--- server log\n%s\n--- smtpsh\n%r' % (rc, srv.log()[-6000:], result))

    def assert_no_crash(self, r):
        self.assertFalse(r.timed_out, 'smtpsh hung and was killed: %r' % r)
        self.assertGreaterEqual(r.rc, 0, 'smtpsh died of signal %d: %r' % (-r.rc, r))
        self.assertIsNone(CRASH_RX.search(r.err()), 'crash/sanitizer output: %r' % r)
        self.assertIsNone(CRASH_RX.search(r.out()), 'crash/sanitizer output: %r' % r)

    def diag_lines(self, r, kind=None):
        """stderr lines that are smtpsh diagnostics ("!  error: ..." / "!  warning: ...")."""
        kinds = kind or '(?:error|warning)'
        return [l for l in r.err().splitlines() if re.match(r'!  %s: \S' % kinds, l)]

    def assert_diag(self, r, kind, pattern=None):
        """At least one "!  KIND: ..." line on stderr (matching pattern, case-insensitive);
        every non-empty stderr line must be a diagnostic of the "!  " form."""
        lines = self.diag_lines(r, kind)
        self.assertTrue(lines, 'no "!  %s:" line on stderr: %r' % (kind, r))
        if pattern:
            self.assertTrue(any(re.search(pattern, l, re.I) for l in lines),
                            'no "!  %s:" line matching /%s/: %r' % (kind, pattern, r))
        for l in r.err().splitlines():
            if l.strip():
                self.assertTrue(l.startswith('!  '), 'stray stderr line %r in %r' % (l, r))

    def assert_no_raw_controls(self, data, what='stdout'):
        """Nothing in data that a terminal would act on: no C0 control but LF, no DEL, no C1
        control (U+0080..U+009F), no Unicode bidi control, no invalid UTF-8 (a lone 0x9B is
        CSI to an 8-bit terminal). The server's bytes must have been escaped.
        smtpsh's own separator of annotations ("  TAB[", see smtpshtest.split_notes) is allowed:
        the escaped wire text never holds a TAB."""
        bad = sorted({b for b in data.replace(b'  \t[', b'  [')
                      if (b < 0x20 and b != 0x0a) or b == 0x7f})
        self.assertFalse(bad, 'raw control bytes %r in %s: %r' % (bad, what, data[-2000:]))
        text = data.decode('utf-8', 'surrogateescape')
        bad = sorted({'U+%04X' % ord(c) for c in text
                      if 0x80 <= ord(c) <= 0x9f or 0x202a <= ord(c) <= 0x202e or
                      0x2066 <= ord(c) <= 0x2069 or 0xdc80 <= ord(c) <= 0xdcff})
        self.assertFalse(bad, 'raw C1/bidi controls or invalid UTF-8 (U+DCxx = byte xx) %r '
                         'in %s: %r' % (bad, what, data[-2000:]))

    def sent_lines(self, srv):
        """The client's lines as the server recorded them (CRLF removed)."""
        rec = srv.record()
        return [l for l in rec.split(b'\r\n')][:-1] if rec.endswith(b'\r\n') else \
            rec.split(b'\r\n')

    def run_case(self, case, stdin, args=(), smtpsh_timeout=5, kill_after=15.0, defines=None,
                 host='127.0.0.1'):
        """Starts the scripted server on cases/CASE and runs smtpsh in batch mode against it
        with stdin (str or bytes). Returns (server, result); checks there was no crash."""
        srv = self.server(case, defines=defines)
        if isinstance(stdin, str):
            stdin = stdin.encode()
        argv = ['--timeout', str(smtpsh_timeout)] + list(args) + [host, str(srv.port)]
        r = run_smtpsh(argv, stdin=stdin, timeout=kill_after, home=self.tmp, cwd=self.tmp,
                       hang_ok=True)
        self.assert_no_crash(r)
        self.assert_no_raw_controls(r.stdout_bytes, 'stdout')
        self.assert_no_raw_controls(r.stderr_bytes, 'stderr')
        return srv, r

    def assert_exit(self, r, code):
        self.assertEqual(r.rc, code, 'exit status %r, wanted %r: %r' % (r.rc, code, r))

    def stdout_lines(self, r):
        return r.out().splitlines()

    def assert_line(self, r, line):
        self.assertIn(line, self.stdout_lines(r), 'no stdout line %r: %r' % (line, r))


def max_rss_kb():
    """The memory bound for smtpsh in these tests (SMTPSH_TEST_MAX_RSS_MB, default 50 MB;
    raise it for sanitizer builds, whose shadow memory counts too)."""
    return int(float(os.environ.get('SMTPSH_TEST_MAX_RSS_MB', '50')) * 1024)
