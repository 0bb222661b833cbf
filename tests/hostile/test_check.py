#!/usr/bin/python3
"""--check against servers that misbehave: a check that cannot be decided (no reply within
the timeout, a server that hangs up, no greeting) says so and is never a pass; the exit status
is then 1 (3 only when no connection could be made at all); hostile bytes in the evidence are
escaped, in the text report and in --json."""

import json
import socket
import threading
import time

from harness import SmtpshTestCase
from smtpshtest import free_port, run_smtpsh, tap_main


class CheckUndecided(SmtpshTestCase):

    def check(self, script, json_out=True, timeout=1):
        srv = self.server(script, text=True)
        argv = ['--check', '--timeout', str(timeout)] + (['--json'] if json_out else []) + \
            ['127.0.0.1', str(srv.port)]
        r = run_smtpsh(argv, timeout=30, home=self.tmp, cwd=self.tmp, hang_ok=True)
        self.assert_no_crash(r)
        self.assert_no_raw_controls(r.stdout_bytes, 'stdout')
        self.assert_no_raw_controls(r.stderr_bytes, 'stderr')
        if not json_out:
            return srv, r, None
        try:
            report = json.loads(r.stdout)
        except ValueError:
            self.fail('--json is no JSON: %r' % r)
        return srv, r, {c['name']: c for c in report['checks']}

    def test_no_reply_to_ehlo_is_undecided(self):
        srv, r, checks = self.check('send 220 mx.example ESMTP\\r\\n\nexpect EHLO .*\n'
                                    'sleep 3000\nclose\n')
        self.assertEqual(checks['greeting']['verdict'], 'pass')
        self.assertEqual(checks['ehlo']['verdict'], 'undecided', checks['ehlo'])
        self.assertRegex(checks['ehlo']['why'], r'^could not be decided: no reply to EHLO '
                         r'within 1 s')
        self.assertEqual(checks['ehlo']['evidence'][0], '-> EHLO localhost')
        self.assertNotIn('pass', [c['verdict'] for n, c in checks.items() if n != 'greeting'])
        self.assert_exit(r, 1)

    def test_hang_up_at_ehlo_is_undecided(self):
        srv, r, checks = self.check('send 220 mx.example ESMTP\\r\\n\nexpect EHLO .*\nclose\n')
        self.assertEqual(checks['ehlo']['verdict'], 'undecided', checks['ehlo'])
        self.assertIn('closed', checks['ehlo']['why'])
        # the server served one connection: the other checks cannot connect, and say so
        self.assertNotIn('pass', [c['verdict'] for n, c in checks.items() if n != 'greeting'])
        self.assert_exit(r, 1)

    def test_no_greeting_is_undecided_not_unreachable(self):
        srv, r, checks = self.check('sleep 3000\nclose\n')
        self.assertEqual(list(checks), ['greeting'])
        self.assertEqual(checks['greeting']['verdict'], 'undecided')
        self.assertIn('greeting', checks['greeting']['why'])
        self.assert_exit(r, 1)  # a connection was made: 3 is for none at all

    def test_no_connection_at_all_is_3(self):
        port = free_port()
        r = run_smtpsh(['--check', '--json', '127.0.0.1', str(port)], timeout=30,
                       home=self.tmp, cwd=self.tmp)
        report = json.loads(r.stdout)
        self.assertFalse(report['connected'])
        self.assertEqual(report['exit'], 3)
        self.assertEqual([c['verdict'] for c in report['checks']], ['undecided'])
        self.assert_exit(r, 3)

    def test_hostile_banner_escaped_in_evidence(self):
        script = ('send 220 mx.example \\e[31mred\\x07 \\xff\\r\\n\nexpect EHLO .*\n'
                  'send 250-mx.example\\r\\n250 \\e]0;title\\x07\\r\\n\nwait-close\n')
        srv, r, checks = self.check(script)
        ev = checks['greeting']['evidence']
        self.assertIn('<- 220 mx.example \\x1b[31mred\\x07 \\xff', ev)
        srv, r, _ = self.check(script, json_out=False)
        self.assertIn('          | <- 220 mx.example \\x1b[31mred\\x07 \\xff',
                      r.out().splitlines())


class LoadOnTheServer(SmtpshTestCase):

    def test_at_most_four_connections_at_once(self):
        """the checks after the greeting run in parallel, never more than four connections
        at once (a slow server keeps each one open long enough to overlap)"""
        lsock = socket.socket()
        lsock.bind(('127.0.0.1', 0))
        lsock.listen(32)
        port = lsock.getsockname()[1]
        state = {'now': 0, 'max': 0, 'total': 0}
        lock = threading.Lock()

        def serve(conn):
            with lock:
                state['now'] += 1
                state['total'] += 1
                state['max'] = max(state['max'], state['now'])
            try:
                conn.sendall(b'220 slow.example ESMTP\r\n')
                f = conn.makefile('rb')
                for line in f:
                    time.sleep(0.05)
                    verb = line.split(b' ')[0].strip().upper()
                    if verb == b'EHLO':
                        conn.sendall(b'250-slow.example\r\n250 PIPELINING\r\n')
                    elif verb == b'QUIT':
                        conn.sendall(b'221 bye\r\n')
                        break
                    else:
                        conn.sendall(b'250 ok\r\n')
            except OSError:
                pass
            finally:
                with lock:
                    state['now'] -= 1
                conn.close()

        def accept():
            while True:
                try:
                    c, _ = lsock.accept()
                except OSError:
                    return
                threading.Thread(target=serve, args=(c,), daemon=True).start()

        threading.Thread(target=accept, daemon=True).start()
        try:
            r = run_smtpsh(['--check', '--json', '--timeout', '3', '127.0.0.1', str(port)],
                           timeout=60, home=self.tmp, cwd=self.tmp)
        finally:
            lsock.close()
        report = json.loads(r.stdout)
        self.assertGreaterEqual(state['total'], 7, state)  # greeting + 6 in parallel
        self.assertLessEqual(state['max'], 4, state)
        self.assertGreater(state['max'], 1, 'no check ran in parallel: %r' % state)
        self.assertTrue(report['connected'])


class BrokenBdat(SmtpshTestCase):
    """CHUNKING advertised by servers that break BDAT. --check opens several connections,
    more than the one-connection scripted server (server.py) serves: a small threaded server
    here, its BDAT handling broken in the way each test names."""

    def serve(self, bdat):
        lsock = socket.socket()
        lsock.bind(('127.0.0.1', 0))
        lsock.listen(16)
        self.addCleanup(lsock.close)

        def one(conn):
            try:
                conn.sendall(b'220 broken.example ESMTP\r\n')
                f = conn.makefile('rb')
                while True:
                    line = f.readline()
                    if not line:
                        break
                    words = line.split()
                    verb = words[0].upper() if words else b''
                    if verb == b'EHLO':
                        conn.sendall(b'250-broken.example\r\n250-PIPELINING\r\n'
                                     b'250 CHUNKING\r\n')
                    elif verb == b'QUIT':
                        conn.sendall(b'221 bye\r\n')
                        break
                    elif verb == b'BDAT':
                        bdat(conn, f, words)
                    else:
                        conn.sendall(b'250 ok\r\n')
            except OSError:
                pass
            finally:
                conn.close()

        def accept():
            while True:
                try:
                    c, _ = lsock.accept()
                except OSError:
                    return
                threading.Thread(target=one, args=(c,), daemon=True).start()

        threading.Thread(target=accept, daemon=True).start()
        return lsock.getsockname()[1]

    def check(self, bdat):
        port = self.serve(bdat)
        r = run_smtpsh(['--check', '--json', '--timeout', '2', '--check-rcpt',
                        'admin@broken.example', '127.0.0.1', str(port)], timeout=60,
                       home=self.tmp, cwd=self.tmp)
        report = json.loads(r.stdout)
        return r, {c['name']: c for c in report['checks']}

    def test_chunk_read_as_lines(self):
        """a server that ignores BDAT's count and reads the chunk as command lines answers
        each of them: more replies than due, a failure with the replies in the evidence"""
        def bdat(conn, f, words):
            conn.sendall(b'250 ok\r\n')  # the chunk's lines follow as "commands"
        r, checks = self.check(bdat)
        ch = checks['chunking']
        self.assertEqual(ch['verdict'], 'fail', ch)
        self.assertRegex(ch['why'], r'^\d+ replies came where 2 were due: the server did not '
                         r'read the chunk as exactly its announced octets')
        self.assertGreater(sum(1 for l in ch['evidence'] if l.startswith('<- 250 ok')), 2, ch)
        self.assert_exit(r, 1)

    def test_middle_chunk_refused(self):
        """a server that takes BDAT LAST but refuses a chunk without LAST: CHUNKING is
        advertised but not honoured, a failure naming the refused chunk"""
        def bdat(conn, f, words):
            n = int(words[1])
            f.read(n)
            if len(words) > 2 and words[2].upper() == b'LAST':
                conn.sendall(b'250 2.0.0 queued\r\n')
            else:
                conn.sendall(b'504 5.5.4 only BDAT LAST here\r\n')
        r, checks = self.check(bdat)
        ch = checks['chunking']
        self.assertEqual(ch['verdict'], 'fail', ch)
        self.assertRegex(ch['why'], r'^CHUNKING advertised, but BDAT \d+ was refused \(504\)$')
        self.assertIn('<- 504 5.5.4 only BDAT LAST here', ch['evidence'])
        self.assert_exit(r, 1)

    def test_no_reply_to_bdat_is_undecided(self):
        """a server that waits for more octets than announced (never answers the chunk):
        undecided, never a pass"""
        def bdat(conn, f, words):
            f.read(int(words[1]) + 1)
            conn.sendall(b'250 late\r\n')
        r, checks = self.check(bdat)
        ch = checks['chunking']
        self.assertEqual(ch['verdict'], 'undecided', ch)
        self.assertIn('could not be decided', ch['why'])
        self.assert_exit(r, 1)


if __name__ == '__main__':
    tap_main()
