#!/usr/bin/python3
"""--record against scripted servers: every line seen is in the file when the server dies
or smtpsh is killed mid-session (flushed per line); secrets stay out of the file even with
\\set reveal-secrets on; a bare LF is visible (--show-raw) and recorded.

Usage: PYTHONPATH=tests/lib /usr/bin/python3 tests/hostile/test_record.py
       (TAP; $SMTPSH is the binary)
"""

import os
import signal
import subprocess
import time

import harness
from smtpshtest import run_smtpsh, split_notes, tap_main

HANGS_AT_RCPT = r'''send 220 hostile.test ESMTP\r\n
expect EHLO client\.test
send 250-hostile.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n
expect MAIL FROM:<a@example\.test>
send 250 2.1.0 Ok\r\n
expect RCPT TO:<b@example\.test>
sleep 20000
'''

COMMANDS = b'EHLO client.test\nMAIL FROM:<a@example.test>\nRCPT TO:<b@example.test>\n' \
           b'DATA\nSubject: x\n\nbody\n.\nQUIT\n'

SEEN = ['*  connected to 127.0.0.1 port %d',
        '<- 220 hostile.test ESMTP',
        '-> EHLO client.test',
        '<- 250-hostile.test',
        '<- 250-PIPELINING',
        '<- 250 8BITMIME',
        '-> MAIL FROM:<a@example.test>',
        '<- 250 2.1.0 Ok',
        '-> RCPT TO:<b@example.test>']


class Record(harness.SmtpshTestCase):

    def start(self, script, args=(), stdin=COMMANDS):
        """A scripted server and smtpsh --record against it, running in the background."""
        srv = self.server(script, text=True, lifetime=30)
        rec = os.path.join(self.tmp, 'session.transcript')
        env = dict(os.environ, NO_COLOR='1')
        fin = open(os.path.join(self.tmp, 'stdin'), 'w+b')
        fin.write(stdin)
        fin.seek(0)
        proc = subprocess.Popen([self.smtpsh, '--timeout', '25', '--record', rec] + list(args)
                                + ['127.0.0.1', str(srv.port)], stdin=fin,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        fin.close()
        return srv, proc, rec

    def wait_for_line(self, path, line, proc, timeout=10.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                with open(path) as f:
                    if line in f.read().split('\n'):
                        return
            except FileNotFoundError:
                pass
            if proc.poll() is not None:
                break
            time.sleep(0.02)
        out, err = proc.communicate(timeout=5) if proc.poll() is not None else (b'', b'')
        self.fail('%r never reached %s (smtpsh rc=%r)\n%s\n%s' % (line, path, proc.poll(),
                                                                  out.decode(), err.decode()))

    def read(self, path):
        with open(path) as f:
            return f.read().split('\n')

    def assert_seen(self, lines, port):
        want = [l % port if '%d' in l else l for l in SEEN]
        body = lines[lines.index('') + 1:]
        self.assertEqual(body[:len(want)], want, '\n'.join(lines))
        self.assertEqual(lines[0], 'smtpsh-transcript 2')
        self.assertIn('host: 127.0.0.1', lines)
        self.assertIn('port: %d' % port, lines)

    def test_server_dies_mid_session(self):
        """the server is killed while smtpsh waits for a reply: every line seen is in the file,
        and the end of the connection too"""
        srv, proc, rec = self.start(HANGS_AT_RCPT)
        self.wait_for_line(rec, '-> RCPT TO:<b@example.test>', proc)
        srv.kill()
        out, err = proc.communicate(timeout=20)
        self.assertEqual(proc.returncode, 3, err.decode())
        lines = self.read(rec)
        self.assert_seen(lines, srv.port)
        self.assertIn('!  error: the server closed the connection without replying to RCPT',
                      lines)
        self.assertIn('*  connection closed', lines)
        self.assertEqual(lines[-1], '', 'the file ends with a complete line')
        # the screen and the file agree on every line
        for l in lines[lines.index('') + 1:]:
            if l.startswith(('->', '<-', '*')):
                self.assertIn(l, out.decode().split('\n'))

    def test_smtpsh_killed_mid_session(self):
        """smtpsh itself is killed (SIGKILL): the file already holds every line seen, and it
        still reads back (a replay of the cut transcript works)"""
        srv, proc, rec = self.start(HANGS_AT_RCPT)
        self.wait_for_line(rec, '-> RCPT TO:<b@example.test>', proc)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
        srv.kill()
        lines = self.read(rec)
        self.assert_seen(lines, srv.port)
        self.assertEqual(lines[-2:], ['-> RCPT TO:<b@example.test>', ''])
        # replay the cut transcript against a server that behaves the same
        again = self.server(HANGS_AT_RCPT.replace('sleep 20000', 'send 250 2.1.5 Ok\\r\\n'),
                            text=True)
        r = run_smtpsh(['--replay', rec, '127.0.0.1', str(again.port)], timeout=15,
                       home=self.tmp, cwd=self.tmp)
        self.assert_no_crash(r)
        self.assert_exit(r, 0)
        # greeting, EHLO, MAIL: the reply to RCPT was never recorded, so it is not compared
        self.assertIn('replay: 3 replies compared, all as recorded', r.out())
        self.assert_server_ok(again, r)

    def test_secrets_never_in_the_file(self):
        """\\set reveal-secrets on shows AUTH payloads on screen; the file has <redacted>"""
        script = r'''send 220 hostile.test ESMTP\r\n
expect EHLO client\.test
send 250-hostile.test\r\n250 AUTH PLAIN LOGIN\r\n
expect AUTH PLAIN AGFsaWNlAHNlY3JldA==
send 535 5.7.8 Error: authentication failed\r\n
expect AUTH LOGIN
send 334 VXNlcm5hbWU6\r\n
expect YWxpY2U=
send 334 UGFzc3dvcmQ6\r\n
expect c2VjcmV0
send 235 2.7.0 Authentication successful\r\n
expect QUIT
send 221 bye\r\n
'''
        stdin = (b'EHLO client.test\n\\set reveal-secrets on\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\n'
                 b'AUTH LOGIN\nYWxpY2U=\nc2VjcmV0\n\\status\nQUIT\n')
        srv, proc, rec = self.start(script, stdin=stdin)
        out, err = proc.communicate(timeout=20)
        self.assertEqual(proc.returncode, 0, err.decode())
        self.assert_server_ok(srv)
        text = '\n'.join(self.read(rec))
        for secret in ('AGFsaWNlAHNlY3JldA==', 'YWxpY2U=', 'c2VjcmV0', 'secret'):
            self.assertNotIn(secret, text)
        self.assertIn('\n-> AUTH PLAIN <redacted>\n', text)
        self.assertIn('\n-> AUTH LOGIN\n<- 334 VXNlcm5hbWU6\n-> <redacted>\n'
                      '<- 334 UGFzc3dvcmQ6\n-> <redacted>\n<- 235 ', text)
        screen = out.decode().split('\n')
        self.assertIn('-> AUTH PLAIN AGFsaWNlAHNlY3JldA==', screen, 'revealed on screen')
        # the 334 challenges decoded, and the 535 explained, beside the replies (not in the file)
        notes = {split_notes(l)[0]: split_notes(l)[1] for l in screen}
        self.assertEqual(notes['<- 334 VXNlcm5hbWU6'], ['Username:'])
        self.assertEqual(notes['<- 334 UGFzc3dvcmQ6'], ['Password:'])
        self.assertTrue(notes['<- 535 5.7.8 Error: authentication failed'][0]
                        .startswith('hint: bad credentials'))
        self.assertNotIn('Username:', text)
        # \status knows the user (from the LOGIN exchange), never the password
        self.assertIn('   auth:         alice (LOGIN)', screen)

    def test_bare_lf_visible_and_recorded(self):
        """--show-raw: line ends shown (\\r\\n, \\n for a bare LF); the file keeps the bare LF"""
        script = r'''send 220 hostile.test ESMTP\r\n
expect EHLO client\.test
send 250-hostile.test\n250-PIPELINING \r\n250 8BITMIME\r\n
expect QUIT
send 221 bye\r\n
'''
        srv, proc, rec = self.start(script, args=['--show-raw'], stdin=b'EHLO client.test\nQUIT\n')
        out, err = proc.communicate(timeout=20)
        self.assertEqual(proc.returncode, 0, err.decode())
        screen = out.decode().split('\n')
        self.assertIn('<- 250-hostile.test\\n', screen)
        self.assertIn('<- 250-PIPELINING \\r\\n', screen)
        self.assertIn('-> EHLO client.test\\r\\n', screen)
        lines = self.read(rec)
        self.assertIn('<- 250-hostile.test\\n', lines)
        self.assertIn('<- 250-PIPELINING\\x20', lines)
        self.assertIn('<- 250 8BITMIME', lines)


    # Issue 12 (defect 9): the transcript file itself.

    def test_existing_file_made_private(self):
        rec = os.path.join(self.tmp, 'old.transcript')
        with open(rec, 'w') as f:
            f.write('an old session\n' * 100)
        os.chmod(rec, 0o644)
        srv, r = self.run_case('baseline.smtp', 'NOOP\nQUIT\n', args=['--record', rec])
        self.assert_exit(r, 0)
        self.assertEqual(os.stat(rec).st_mode & 0o7777, 0o600)
        with open(rec) as f:
            text = f.read()
        self.assertNotIn('an old session', text)
        self.assertIn('NOOP', text)

    def test_symlink_refused_naming_its_target(self):
        target = os.path.join(self.tmp, 'target.txt')
        with open(target, 'w') as f:
            f.write('keep me\n')
        os.chmod(target, 0o644)
        link = os.path.join(self.tmp, 'link.transcript')
        os.symlink(target, link)
        dangling = os.path.join(self.tmp, 'dangling.transcript')
        os.symlink(os.path.join(self.tmp, 'nowhere'), dangling)
        for path, points_to in ((link, target), (dangling, os.path.join(self.tmp, 'nowhere'))):
            srv, r = self.run_case('baseline.smtp', 'NOOP\nQUIT\n', args=['--record', path])
            self.assert_exit(r, 2)
            self.assertIn('smtpsh: --record: cannot write %s: it is a symbolic link (to %s); '
                          'give the file it points to' % (path, points_to), r.err())
            srv.kill()
        self.assertFalse(os.path.exists(os.path.join(self.tmp, 'nowhere')))
        with open(target) as f:
            self.assertEqual(f.read(), 'keep me\n')
        self.assertEqual(os.stat(target).st_mode & 0o7777, 0o644)
        # named directly, the target is written (and made private)
        srv, r = self.run_case('baseline.smtp', 'NOOP\nQUIT\n', args=['--record', target])
        self.assert_exit(r, 0)
        self.assertEqual(os.stat(target).st_mode & 0o7777, 0o600)

    def test_record_command_same_rules(self):
        target = os.path.join(self.tmp, 'target.txt')
        with open(target, 'w') as f:
            f.write('keep me\n')
        link = os.path.join(self.tmp, 'link.transcript')
        os.symlink(target, link)
        old = os.path.join(self.tmp, 'old.transcript')
        with open(old, 'w') as f:
            f.write('an old session\n')
        os.chmod(old, 0o664)
        srv, r = self.run_case('baseline.smtp',
                               '\\record %s\n\\record %s\nNOOP\nQUIT\n' % (link, old))
        self.assert_exit(r, 2)  # the script stops at the refused \record
        self.assert_diag(r, 'error', r'\\record: cannot write .*link\.transcript: it is a '
                                     r'symbolic link \(to .*target\.txt\)')
        with open(target) as f:
            self.assertEqual(f.read(), 'keep me\n')
        srv.kill()
        srv, r = self.run_case('baseline.smtp', '\\record %s\nNOOP\nQUIT\n' % old)
        self.assert_exit(r, 0)
        self.assertEqual(os.stat(old).st_mode & 0o7777, 0o600)

    def test_fifo_refused_without_blocking(self):
        fifo = os.path.join(self.tmp, 'fifo')
        os.mkfifo(fifo)
        srv, r = self.run_case('baseline.smtp', 'NOOP\nQUIT\n', args=['--record', fifo],
                               kill_after=5)
        self.assert_exit(r, 2)
        self.assertIn('cannot write %s: not a regular file' % fifo, r.err())
        srv.kill()

if __name__ == '__main__':
    tap_main()
