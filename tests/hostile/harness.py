"""Client-side helpers for tests that run smtpsh against tests/hostile/server.py.

Shared by tests/hostile/*.py and tests/pty/*.py (they put this folder on sys.path).
Nothing here skips a test: a missing binary or tool is a failure.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'lab'))
from lablib import clean_environ  # noqa: E402,F401 (also for tests/pty)

SERVER = os.path.join(HERE, 'server.py')
CASES = os.path.join(HERE, 'cases')
PYTHON = '/usr/bin/python3'

# What a crash or a sanitizer report looks like on stderr.
CRASH_RX = re.compile(r'Segmentation|AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|'
                      r'runtime error:|core dumped|Aborted|double free|stack smashing')


def smtpsh_path():
    """The binary under test: $SMTPSH (set by meson), else build/smtpsh of the repo."""
    path = os.environ.get('SMTPSH')
    if not path:
        path = os.path.join(HERE, '..', '..', 'build', 'smtpsh')
    path = os.path.abspath(path)
    if not os.access(path, os.X_OK):
        raise AssertionError('smtpsh binary not found or not executable: %s '
                             '(set SMTPSH or build it)' % path)
    return path


def make_cert(directory, subject='/CN=localhost', name='cert',
              san='DNS:localhost,IP:127.0.0.1,IP:::1'):
    """A self-signed certificate for subject (default CN=localhost), SAN localhost, 127.0.0.1
    and ::1 (san=None: no subjectAltName at all). Returns (certfile, keyfile); the certificate is its own CA (use --cafile)."""
    cert = os.path.join(directory, name + '.pem')
    key = os.path.join(directory, name + '-key.pem')
    openssl = shutil.which('openssl') or '/usr/bin/openssl'
    subprocess.run([openssl, 'req', '-x509', '-utf8', '-newkey', 'rsa:2048', '-nodes',
                    '-keyout', key, '-out', cert, '-days', '2', '-subj', subject]
                   + (['-addext', 'subjectAltName=' + san] if san else [])
                   + ['-addext', 'basicConstraints=critical,CA:TRUE'],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return cert, key


def make_expired_cert(directory, name='expired'):
    """A self-signed certificate for CN=localhost whose validity ended yesterday."""
    fresh, key = make_cert(directory, name=name + '-fresh')
    cert = os.path.join(directory, name + '.pem')
    openssl = shutil.which('openssl') or '/usr/bin/openssl'
    subprocess.run([openssl, 'x509', '-in', fresh, '-signkey', key, '-days', '-1',
                    '-out', cert], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)
    return cert, key


def make_ca_signed_cert(directory, name='leaf'):
    """A CA and a certificate for localhost it signed. Returns (ca, cert, key)."""
    ca, ca_key = make_cert(directory, subject='/CN=smtpsh test CA', name=name + '-ca',
                           san='DNS:ca.invalid')
    csr = os.path.join(directory, name + '.csr')
    key = os.path.join(directory, name + '-key.pem')
    cert = os.path.join(directory, name + '.pem')
    ext = os.path.join(directory, name + '.ext')
    with open(ext, 'w') as f:
        f.write('subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n')
    openssl = shutil.which('openssl') or '/usr/bin/openssl'
    subprocess.run([openssl, 'req', '-newkey', 'rsa:2048', '-nodes', '-keyout', key,
                    '-out', csr, '-subj', '/CN=localhost'], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    subprocess.run([openssl, 'x509', '-req', '-in', csr, '-CA', ca, '-CAkey', ca_key,
                    '-CAcreateserial', '-days', '2', '-extfile', ext, '-out', cert],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return ca, cert, key


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


class Result:
    def __init__(self, rc, stdout, stderr, elapsed, maxrss_kb, timed_out):
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.elapsed = elapsed
        self.maxrss_kb = maxrss_kb
        self.timed_out = timed_out

    def out(self):
        return self.stdout.decode('utf-8', 'replace')

    def err(self):
        return self.stderr.decode('utf-8', 'replace')

    def __repr__(self):
        return ('<rc=%r elapsed=%.2fs maxrss=%dkB timed_out=%r\n--- stdout\n%s--- stderr\n%s>'
                % (self.rc, self.elapsed, self.maxrss_kb, self.timed_out,
                   self.out()[-4000:], self.err()[-4000:]))


TIME = '/usr/bin/time'  # GNU time: the max RSS of smtpsh alone (Debian package "time")


def run_smtpsh(args, stdin=b'', timeout=15.0, env=None, workdir=None):
    """Runs smtpsh in batch mode (stdin is a file, not a terminal) and returns a Result.

    The max RSS is measured by GNU time, which forks from a small process: measured from
    Python (wait4), it would include the Python interpreter's RSS at fork time, a floor
    that hides megabytes. Without /usr/bin/time, wait4's figure is used (less sensitive).
    smtpsh (and time) run in their own process group, killed after timeout seconds."""
    e = clean_environ()
    e['NO_COLOR'] = '1'
    e.setdefault('LC_ALL', 'C.UTF-8')
    if workdir:
        e['HOME'] = workdir
    if env:
        e.update(env)
    use_time = os.access(TIME, os.X_OK)
    with tempfile.TemporaryFile() as fout, tempfile.TemporaryFile() as ferr, \
            tempfile.TemporaryFile() as fin, tempfile.NamedTemporaryFile() as ftime:
        fin.write(stdin)
        fin.seek(0)
        argv = [smtpsh_path()] + list(args)
        if use_time:
            argv = [TIME, '-f', 'rss=%M', '-o', ftime.name] + argv
        start = time.monotonic()
        proc = subprocess.Popen(argv, stdin=fin, stdout=fout, stderr=ferr, env=e, cwd=workdir,
                                start_new_session=True)
        killed = []

        def killer():
            killed.append(True)
            try:
                os.killpg(proc.pid, 9)
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
            with open(ftime.name, errors='replace') as f:
                report = f.read()
            m = re.search(r'rss=(\d+)', report)
            if m:
                maxrss = int(m.group(1))
            m = re.search(r'terminated by signal (\d+)', report)
            if m:
                rc = -int(m.group(1))
        elapsed = time.monotonic() - start
        fout.seek(0)
        ferr.seek(0)
        return Result(rc, fout.read(), ferr.read(), elapsed, maxrss, bool(killed))


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
        smtpsh's own separator of annotations ("  TAB[", see lablib.split_notes) is allowed:
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
        r = run_smtpsh(argv, stdin=stdin, timeout=kill_after, workdir=self.tmp)
        self.assert_no_crash(r)
        self.assert_no_raw_controls(r.stdout, 'stdout')
        self.assert_no_raw_controls(r.stderr, 'stderr')
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
