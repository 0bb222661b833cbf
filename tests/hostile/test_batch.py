#!/usr/bin/python3
"""Batch mode writes in large pieces without changing what anyone sees: message lines typed
in a script are gathered into large writes (and keep their order around \\file); the screen's
lines, buffered when standard output is not a terminal, still appear before smtpsh waits (for
a reply, for more input) and stay in order with standard error."""

import os
import re
import select
import subprocess
import time

from harness import SmtpshTestCase
from smtpshtest import run_smtpsh, smtpsh_environ, tap_main

MAIL = 'MAIL FROM:<a@example.test>\nRCPT TO:<b@example.test>\nDATA\n'


def steps(*lines):
    """A server script from its steps (one per line)."""
    return ''.join(l + '\n' for l in lines)


ACCEPT_MAIL = ('send 220 hi ESMTP\\r\\n', 'expect ^MAIL .*', 'send 250 ok\\r\\n',
               'expect ^RCPT .*', 'send 250 ok\\r\\n', 'expect ^DATA$', 'send 354 go\\r\\n')


class Batch(SmtpshTestCase):
    def env(self):
        return smtpsh_environ(self.tmp)

    def start(self, srv, args=()):
        """smtpsh in batch mode on a pipe we keep open, stdout a pipe (not a terminal)."""
        p = subprocess.Popen([self.smtpsh, '--timeout', '10'] + list(args) +
                             ['127.0.0.1', str(srv.port)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=self.env())
        self.addCleanup(lambda: (p.poll() is None and p.kill(), p.wait()))
        return p

    def read_until(self, p, text, within):
        """What p printed until a line holding text appeared (fails after within seconds)."""
        got = b''
        deadline = time.monotonic() + within
        while text.encode() not in got:
            left = deadline - time.monotonic()
            self.assertGreater(left, 0, 'no %r within %.1f s; got %r' % (text, within, got))
            ready, _, _ = select.select([p.stdout], [], [], left)
            if ready:
                chunk = os.read(p.stdout.fileno(), 65536)
                self.assertTrue(chunk, 'smtpsh ended before %r: %r' % (text, got))
                got += chunk
        return got.decode('utf-8', 'replace')

    def test_shown_before_waiting_for_a_reply(self):
        """the command sent is on standard output while the reply is awaited"""
        srv = self.server(steps('send 220 slow ESMTP\\r\\n', 'expect ^EHLO x$', 'sleep 4000',
                                'send 250 ok\\r\\n', 'expect ^QUIT$', 'send 221 bye\\r\\n',
                                'wait-close'), text=True)
        p = self.start(srv)
        p.stdin.write(b'EHLO x\nQUIT\n')
        p.stdin.close()
        t0 = time.monotonic()
        self.read_until(p, '-> EHLO x', 2.5)
        self.assertLess(time.monotonic() - t0, 3.5, 'shown only once the reply came')
        self.read_until(p, 'connection closed', 10)
        self.assertEqual(p.wait(10), 0)
        self.assert_server_ok(srv)

    def test_shown_before_waiting_for_input(self):
        """the reply is on standard output while smtpsh waits for the next line of its script"""
        srv = self.server(steps('send 220 hi ESMTP\\r\\n', 'expect ^EHLO x$',
                                'send 250 ok\\r\\n', 'expect ^QUIT$', 'send 221 bye\\r\\n',
                                'wait-close'), text=True)
        p = self.start(srv)
        p.stdin.write(b'EHLO x\n')
        p.stdin.flush()
        self.read_until(p, '<- 250 ok', 5)
        p.stdin.write(b'QUIT\n')
        p.stdin.close()
        self.read_until(p, 'connection closed', 10)
        self.assertEqual(p.wait(10), 0)
        self.assert_server_ok(srv)

    def test_message_lines_sent_before_waiting_for_input(self):
        """message lines typed so far reach the server while the script's writer is slow"""
        srv = self.server(steps('send 220 hi ESMTP\\r\\n', 'expect ^DATA$', 'send 354 go\\r\\n',
                                'expect ^first$', 'expect ^second$',
                                'send 421 4.4.2 idle, bye\\r\\n', 'close'), text=True)
        p = self.start(srv)
        p.stdin.write(b'DATA\nfirst\nsecond\n')
        p.stdin.flush()
        # the server's script ends once it has both lines: smtpsh must not hold them while
        # its input stays open
        self.assertEqual(srv.wait(8), 0, srv.log()[-3000:])
        self.assertIsNone(p.poll(), 'smtpsh still waits for its input')
        p.stdin.close()
        p.wait(10)

    def test_stdout_and_stderr_in_order(self):
        """a warning between two message lines stays between them when both streams share a
        pipe"""
        srv = self.server(steps(*ACCEPT_MAIL, 'expect ^before$', 'expect ^x+$',
                                'expect ^after$', 'expect ^\\.$', 'send 250 queued\\r\\n',
                                'expect ^QUIT$', 'send 221 bye\\r\\n', 'wait-close'), text=True)
        p = self.start(srv)
        out, _ = p.communicate((MAIL + 'before\n' + 'x' * 1200 + '\nafter\n.\nQUIT\n').encode(),
                               timeout=15)
        lines = out.decode().splitlines()
        i = lines.index('-> before')
        self.assertTrue(lines[i + 1].startswith('!  warning: this line is 1200 octets'), lines)
        self.assertEqual(lines[i + 2], '-> ' + 'x' * 1200)
        self.assertEqual(lines[i + 3], '-> after')
        self.assertEqual(p.returncode, 0)
        self.assert_server_ok(srv)

    def test_typed_lines_around_a_file_keep_their_order(self):
        """lines typed before \\file go first, those after it follow it, many lines (more
        than one gathered write) arrive intact, dot-stuffed"""
        body = os.path.join(self.tmp, 'part.txt')
        with open(body, 'w') as f:
            f.write('file one\n.file two\n')
        many = ['line %05d %s' % (i, 'y' * (i % 90)) for i in range(2000)]
        many[5] = '.dot'
        many[6] = '..'
        script = (MAIL + 'typed one\n.typed two\n\\file ' + body + '\n' + '\n'.join(many) +
                  '\n.\nQUIT\n')
        want = ['typed one', '..typed two', 'file one', '..file two']
        want += ['.' + l if l.startswith('.') else l for l in many] + ['.']
        srv = self.server(steps(*ACCEPT_MAIL, *['expect %s' % re.escape(l) for l in want],
                                'send 250 queued\\r\\n', 'expect ^QUIT$',
                                'send 221 bye\\r\\n', 'wait-close'), text=True)
        r = run_smtpsh(['--timeout', '10', '127.0.0.1', str(srv.port)], stdin=script.encode(),
                       timeout=20, home=self.tmp, cwd=self.tmp)
        self.assert_no_crash(r)
        self.assertEqual(r.rc, 0, r)
        self.assert_server_ok(srv, r)
        rec = srv.record()
        data = rec[rec.index(b'DATA\r\n') + 6:rec.index(b'QUIT\r\n')]
        self.assertEqual(data, ''.join(l + '\r\n' for l in want).encode())


if __name__ == '__main__':
    tap_main()
