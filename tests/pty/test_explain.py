#!/usr/bin/python3
"""The REPL in a pty (pexpect): --explain beside replies, the decoded 334 challenges and the
AUTH hints, \\explain, \\help MAIL, \\set explain/timing, \\status, \\pipeline, and --step.

Usage: PYTHONPATH=tests/lib /usr/bin/python3 tests/pty/test_explain.py
       (TAP; $SMTPSH is the binary)
"""

import os
import shutil
import tempfile
import unittest

import pexpect

import harness
from smtpshtest import pty_environ, smtpsh_path, tap_main

TIMEOUT = 10

SESSION = r'''send 220 pty.test ESMTP\r\n
expect EHLO me
send 250-pty.test\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n250 AUTH LOGIN\r\n
expect AUTH LOGIN
send 334 VXNlcm5hbWU6\r\n
expect YWxpY2U=
send 334 UGFzc3dvcmQ6\r\n
expect d3Jvbmc=
send 535 5.7.8 Error: authentication failed: authentication failure\r\n
expect MAIL FROM:<a@example\.test>
send 550 5.7.60 SMTP; Client does not have permissions to send as this sender\r\n
expect NOOP
send 250 2.0.0 Ok\r\n
expect MAIL FROM:<b@example\.test>
expect RCPT TO:<c@example\.test>
expect DATA
send 250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n451 4.3.0 Try again later\r\n
expect QUIT
send 221 2.0.0 Bye\r\n
'''


class Repl(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='smtpsh-pty-')
        self.inputrc = os.path.join(self.tmp, 'inputrc')
        with open(self.inputrc, 'w') as f:
            f.write('set enable-bracketed-paste off\n')
        self.servers = []
        self.child = None

    def tearDown(self):
        if self.child and self.child.isalive():
            self.child.terminate(force=True)
        for s in self.servers:
            s.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def spawn(self, args):
        env = pty_environ(self.tmp, self.inputrc)
        # wide enough that no line is wrapped (the REPL fits lines to the terminal's width):
        # these tests match whole lines with their annotations
        self.child = pexpect.spawn(smtpsh_path(), args, env=env, encoding='utf-8',
                                   timeout=TIMEOUT, dimensions=(50, 1000), cwd=self.tmp)
        return self.child

    def server(self, script):
        s = harness.ScriptedServer(script, self.tmp, text=True, lifetime=30)
        self.servers.append(s)
        return s

    def expect_line(self, regex):
        """The next output line matching regex (a whole line; its CR LF is left for the next
        expectation, whose line starts after it). pexpect compiles with DOTALL: use [^\r\n]*,
        not .*"""
        self.child.expect(r'\n' + regex + r'(?=\r\n)')
        return self.child.match

    def test_explain_and_help_offline(self):
        """\\explain 451, \\explain 5.7.1, \\explain of a non-code, \\help MAIL (no server)"""
        c = self.spawn([])
        c.expect('smtpsh> ')
        c.sendline('\\explain 451')
        self.expect_line(r'   451: temporary failure: the same command may work later')
        self.expect_line(r'     4xx: transient negative completion; x5x: mail system')
        self.expect_line(r'     action aborted: local error in processing \(RFC 5321 4\.2\.2\)')
        c.expect('smtpsh> ')
        c.sendline('\\explain 5.7.1')
        self.expect_line(r'   5\.7\.1: delivery not authorized, message refused')
        self.expect_line(r'     class 5: permanent failure')
        self.expect_line(r'     subject 7: security or policy status')
        c.expect(r'Relay access denied')
        c.expect('smtpsh> ')
        c.sendline('\\explain 699')
        c.expect(r'!  error: \\explain: 699 is neither a reply code')
        c.expect('smtpsh> ')
        c.sendline('\\help MAIL')
        self.expect_line(r'   MAIL — start a message: give the envelope sender \(<> for bounces\)')
        self.expect_line(r'   syntax:   MAIL FROM:<address> \[SIZE=n\] \[BODY=8BITMIME\]')
        self.expect_line(r'   what:     Starts a mail transaction with the envelope sender[^\r\n]*')
        c.expect(r'   replies:  250 2\.1\.0 ok;')
        c.expect(r'   spec:     RFC 5321 4\.1\.1\.2\r\n')
        c.expect(r'   example:  MAIL FROM:<alice@example\.org>\r\n')
        c.expect('smtpsh> ')
        c.sendline('\\help')
        c.expect(r'\\explain \[-v\] CODE\.\.\. +what a reply code')
        c.expect(r'\\pipeline +collect MAIL')
        c.expect('smtpsh> ')
        c.sendline('\\quit')
        c.expect(pexpect.EOF)
        c.close()
        self.assertEqual(c.exitstatus, 0)

    def test_explain_session(self):
        """--explain: meanings beside replies; 334 decoded and the 535/5.7.60 hints always;
        \\set explain off, \\set timing on, \\status, \\pipeline with replies per command"""
        srv = self.server(SESSION)
        c = self.spawn(['--explain', '127.0.0.1', str(srv.port)])
        self.expect_line(r'<- 220 pty\.test ESMTP  \t\[success: service ready\]')
        c.expect('ready|greeted')
        c.expect('> ')
        c.sendline('EHLO me')
        self.expect_line(r'<- 250 AUTH LOGIN  \t\[success: requested action okay, completed\]')
        c.expect('> ')
        c.sendline('AUTH LOGIN')
        self.expect_line(r'<- 334 VXNlcm5hbWU6  \t\[Username:\]  \[intermediate: server '
                         r'challenge \(AUTH\)[^\r\n]*\]')
        c.expect(' auth ready> ')
        c.send('YWxpY2U=')
        c.expect(r'\*{8}')  # the answer is masked while typed
        c.send('\r')
        self.expect_line(r'-> <redacted>')
        self.expect_line(r'<- 334 UGFzc3dvcmQ6  \t\[Password:\][^\r\n]*')
        c.expect(' auth ready> ')
        c.sendline('d3Jvbmc=')
        self.expect_line(r'<- 535 5\.7\.8 Error: authentication failed: authentication failure'
                         r'  \t\[hint: bad credentials: check the user name[^\r\n]*\]  \[permanent '
                         r'failure: authentication credentials invalid; 5\.7\.8 authentication '
                         r'credentials invalid\]')
        c.expect('ready> ')
        c.sendline('\\set explain off')
        c.expect(r'\*  explain is off')
        c.expect('ready> ')
        c.sendline('MAIL FROM:<a@example.test>')
        m = self.expect_line(r'<- 550 5\.7\.60 SMTP; Client does not have permissions to send '
                             r'as this sender  \t([^\r\n]*)')
        self.assertTrue(m.group(1).startswith('[hint: Office 365: you may not send as this'),
                        m.group(1))
        self.assertNotIn('permanent failure', m.group(1), 'explain is off')
        c.expect('ready> ')
        c.sendline('\\set timing on')
        c.expect(r'\*  timing is on')
        c.expect('ready> ')
        c.sendline('NOOP')
        self.expect_line(r'<- 250 2\.0\.0 Ok  \t\[\d+ ms\]')
        c.expect('ready> ')
        c.sendline('\\status')
        self.expect_line(r'   peer:         127\.0\.0\.1 port %d' % srv.port)
        self.expect_line(r'   TLS:          none: plaintext')
        self.expect_line(r'   auth:         not authenticated')
        self.expect_line(r'   phase:        ready')
        self.expect_line(r'   capabilities: PIPELINING, ENHANCEDSTATUSCODES, AUTH LOGIN')
        self.expect_line(r'   bytes:        \d+ received, \d+ sent')
        c.expect(r'settings:     explain off, timing on, show-raw off, reveal-secrets off')
        c.expect('ready> ')
        c.sendline('\\pipeline')
        c.expect(r'\*  pipelining: type MAIL')
        c.expect(r'ready pipeline\[0\]> ')
        c.sendline('MAIL FROM:<b@example.test>')
        c.expect(r'ready pipeline\[1\]> ')
        c.sendline('\\caps')
        c.expect(r'PIPELINING')
        c.expect(r'ready pipeline\[1\]> ')
        c.sendline('\\disconnect')
        c.expect(r'!  error: finish the pipeline first')
        c.expect(r'ready pipeline\[1\]> ')
        c.sendline('RCPT TO:<c@example.test>')
        c.expect(r'ready pipeline\[2\]> ')
        c.sendline('DATA')
        self.expect_line(r'\*  pipelining 3 commands in one write \(\d+ bytes\)')
        self.expect_line(r'-> MAIL FROM:<b@example\.test>  \t\[pipelined 1/3\]')
        self.expect_line(r'-> RCPT TO:<c@example\.test>  \t\[pipelined 2/3\]')
        self.expect_line(r'-> DATA  \t\[pipelined 3/3\]')
        self.expect_line(r'<- 250 2\.1\.0 Ok  \t\[reply to 1/3: MAIL FROM:<b@example\.test>\]  '
                         r'\[\d+ ms\]')
        self.expect_line(r'<- 250 2\.1\.5 Ok  \t\[reply to 2/3: RCPT TO:<c@example\.test>\]  '
                         r'\[\d+ ms\]')
        self.expect_line(r'<- 451 4\.3\.0 Try again later  \t\[reply to 3/3: DATA\]  \[\d+ ms\]')
        c.expect(r'rcpt> ')
        c.sendline('\\quit')
        self.expect_line(r'<- 221 2\.0\.0 Bye  \t\[\d+ ms\]')
        c.expect(pexpect.EOF)
        c.close()
        self.assertEqual(c.exitstatus, 0)
        self.assertEqual(srv.wait(), 0, srv.log())

    def test_step_replay(self):
        """--replay --step: the comments, then 'next: ...' and a wait for Enter; q stops (130)"""
        script = r'''send 220 pty.test ESMTP\r\n
expect EHLO me
send 250 pty.test\r\n
expect NOOP
send 250 2.0.0 Ok\r\n
'''
        srv = self.server(script)
        path = os.path.join(self.tmp, 'lesson.transcript')
        with open(path, 'w') as f:
            f.write('smtpsh-transcript 1\nhost: 127.0.0.1\n\n# Today: EHLO.\n'
                    '<- 220 x ESMTP\n# First the client says hello.\n-> EHLO me\n'
                    '<- 250 x\n-> NOOP\n<- 250 ok\n-> QUIT\n<- 221 bye\n')
        c = self.spawn(['--replay', path, '--step', '127.0.0.1', str(srv.port)])
        self.expect_line(r'#  Today: EHLO\.')
        c.expect(r'<- 220 pty\.test ESMTP')
        self.expect_line(r'#  First the client says hello\.')
        c.expect(r'next: EHLO me   \[Enter: go on, q: stop\] ')
        self.assertNotIn('-> EHLO', c.before)
        c.sendline('')
        self.expect_line(r'-> EHLO me')
        c.expect(r'next: NOOP ')
        c.sendline('')
        self.expect_line(r'<- 250 2\.0\.0 Ok')
        c.expect(r'next: QUIT ')
        c.sendline('q')
        c.expect(r'replay: stopped at line \d+ \(--step\)')
        c.expect(pexpect.EOF)
        c.close()
        self.assertEqual(c.exitstatus, 130)

    def test_step_batch(self):
        """-f SCRIPT --step: waits before each command, not before comments; q stops (130)"""
        srv = self.server(r'''send 220 pty.test ESMTP\r\n
expect EHLO me
send 250 pty.test\r\n
''')
        path = os.path.join(self.tmp, 'lesson.smtp')
        with open(path, 'w') as f:
            f.write('# a comment, no pause\nEHLO me\nQUIT\n')
        c = self.spawn(['--step', '-f', path, '127.0.0.1', str(srv.port)])
        c.expect(r'<- 220 pty\.test ESMTP')
        c.expect(r'next: EHLO me   \[Enter: go on, q: stop\] ')
        c.sendline('')
        self.expect_line(r'<- 250 pty\.test')
        c.expect(r'next: QUIT ')
        c.sendline('q')
        c.expect(r'\*  stopped \(--step\)')
        c.expect(pexpect.EOF)
        c.close()
        self.assertEqual(c.exitstatus, 130)


if __name__ == '__main__':
    tap_main()
