#!/usr/bin/python3
"""A typed BDAT chunk in the interactive shell (issue 14): the lines after "BDAT n" are the
chunk's octets; Ctrl-C inside it closes the connection and says so (what was sent of the chunk
cannot be taken back, and the server would read anything more as part of it); the shell goes
on, disconnected. The prompt counts the octets the chunk still takes.

Environment as tests/pty/test_repl.py: TERM=xterm, INPUTRC=tests/pty/inputrc, NO_COLOR=1.
"""

import os
import re

import pexpect

HERE = os.path.dirname(os.path.abspath(__file__))
from harness import SmtpshTestCase
from smtpshtest import clean_environ, tap_main

INPUTRC = os.path.join(HERE, 'inputrc')


class BdatPty(SmtpshTestCase):
    def spawn(self, case):
        self.srv = self.server(case)
        env = clean_environ()
        env.update({'TERM': 'xterm', 'INPUTRC': INPUTRC, 'NO_COLOR': '1', 'HOME': self.tmp,
                    'LC_ALL': 'C.UTF-8', 'COLUMNS': '200', 'LINES': '40'})
        env.pop('SMTPSH_OPTS', None)
        self.log_path = os.path.join(self.tmp, 'pty.log')
        self.logf = open(self.log_path, 'wb')
        self.child = pexpect.spawn(self.smtpsh, ['--timeout', '5', '127.0.0.1',
                                                 str(self.srv.port)],
                                   env=env, cwd=self.tmp, timeout=5, dimensions=(40, 200))
        self.child.logfile_read = self.logf

    def tearDown(self):
        if getattr(self, 'child', None) is not None and self.child.isalive():
            self.child.terminate(force=True)
        if getattr(self, 'logf', None):
            self.logf.close()
        super().tearDown()

    def transcript(self):
        self.logf.flush()
        with open(self.log_path, 'rb') as f:
            return f.read().decode('utf-8', 'replace')

    def expect(self, rx):
        try:
            return self.child.expect(rx)
        except (pexpect.TIMEOUT, pexpect.EOF) as e:
            self.fail('waited for /%s/, got %s; terminal so far:\n%r\n--- server log\n%s'
                      % (rx, type(e).__name__, self.transcript()[-3000:],
                         self.srv.log()[-3000:]))

    def prompt(self, phase):
        return re.escape('127.0.0.1:%d %s> ' % (self.srv.port, phase))

    def test_ctrl_c_inside_a_typed_chunk_closes_the_connection(self):
        self.spawn('pty_bdat_interrupt.smtp')
        self.expect(self.prompt('greeted'))
        for line, phase in (('EHLO client.test', 'ready'), ('MAIL FROM:<a@example.test>', 'mail'),
                            ('RCPT TO:<b@example.test>', 'rcpt')):
            self.child.sendline(line)
            self.expect(self.prompt(phase))
        self.child.sendline('BDAT 100 LAST')
        self.expect(r'type the chunk: 100 octets, each line counts its octets plus CRLF \(2\); '
                    r'Ctrl-C closes the connection')
        self.expect(self.prompt('rcpt chunk[100]'))
        self.child.sendline('part')
        self.expect(r'-> part')
        self.expect(self.prompt('rcpt chunk[94]'))
        self.child.sendintr()
        self.expect(r'connection closed: Ctrl-C inside a BDAT chunk \(94 of its 100 octets '
                    r'not sent; the server would read what follows as the chunk\)')
        self.expect(r'> ')
        self.assertEqual(self.srv.wait(), 0, self.srv.log()[-3000:])  # it saw the close
        self.assertTrue(self.srv.record().endswith(b'BDAT 100 LAST\r\npart\r\n'))
        self.child.sendline('NOOP')
        self.expect(r'not connected')
        self.child.sendcontrol('d')
        self.expect(pexpect.EOF)
        self.assertNotRegex(self.transcript(), r'Segmentation|Sanitizer|runtime error')


if __name__ == '__main__':
    tap_main()
