#!/usr/bin/python3
"""The server goes away or goes silent: close in the middle of a reply, of the greeting, of DATA
or of the TLS handshake; no answer to a command, no greeting. smtpsh must stop with exit
status 3 (4 for the handshake) and one clear error, within its --timeout, and send nothing
after the failure."""

import os

from harness import SmtpshTestCase
from smtpshtest import run_smtpsh, tap_main

# What a timeout error says ("timed out", "no reply ... within 2 s").
TIMEOUT_RX = r'time|within \d+ ?s\b'


class Connection(SmtpshTestCase):
    def test_close_in_middle_of_reply(self):
        srv, r = self.run_case('close_mid_reply.smtp', 'NOOP\nNOOP\nQUIT\n')
        self.assert_exit(r, 3)
        self.assert_diag(r, 'error')
        self.assert_line(r, '<- 250-first line')
        self.assert_server_ok(srv, r)
        self.assertEqual(srv.record(), b'NOOP\r\n')

    def test_close_in_middle_of_greeting(self):
        srv, r = self.run_case('close_mid_greeting.smtp', 'NOOP\nQUIT\n')
        self.assert_exit(r, 3)
        self.assert_diag(r, 'error')
        self.assert_server_ok(srv, r)
        self.assertEqual(srv.record(), b'')

    def test_close_in_middle_of_data(self):
        body = os.path.join(self.tmp, 'body.txt')
        with open(body, 'w') as f:
            f.write(''.join('line %d %s\n' % (i, 'x' * 70) for i in range(100000)))
        script = ('MAIL FROM:<a@example.test>\nRCPT TO:<b@example.test>\nDATA\n'
                  'Subject: first line\n\\file %s\n.\nQUIT\n' % body)
        srv, r = self.run_case('close_mid_data.smtp', script)
        self.assert_exit(r, 3)
        self.assert_diag(r, 'error', r'closed|reset|write')
        self.assert_server_ok(srv, r)
        self.assertNotIn('-> QUIT', r.out())

    def test_close_in_middle_of_handshake(self):
        srv, r = self.run_case('close_mid_handshake.smtp', 'MAIL FROM:<a@example.test>\n',
                               args=['--starttls'])
        self.assert_exit(r, 4)
        self.assert_diag(r, 'error', r'handshake')
        self.assert_server_ok(srv, r)
        self.assertNotIn(b'MAIL', srv.record())

    def test_no_answer_to_a_command(self):
        srv, r = self.run_case('no_answer.smtp', 'NOOP\nNOOP\nQUIT\n', smtpsh_timeout=2)
        self.assert_exit(r, 3)
        self.assert_diag(r, 'error', TIMEOUT_RX)
        self.assertLess(r.elapsed, 4.0, 'a 2 s timeout took %.1f s' % r.elapsed)
        self.assertGreater(r.elapsed, 1.5, 'gave up before the timeout: %r' % r)
        self.assertEqual(srv.record().count(b'NOOP'), 1, srv.record())

    def test_drip_fed_reply_is_bounded_by_the_timeout(self):
        srv, r = self.run_case('drip_feed.smtp', 'NOOP\nNOOP\nQUIT\n', smtpsh_timeout=2)
        self.assert_exit(r, 3)
        self.assert_diag(r, 'error', TIMEOUT_RX)
        self.assertLess(r.elapsed, 4.0, 'a 2 s timeout took %.1f s' % r.elapsed)
        self.assertEqual(srv.record().count(b'NOOP'), 1, srv.record())

    def test_no_greeting(self):
        srv, r = self.run_case('no_greeting.smtp', 'NOOP\nQUIT\n', smtpsh_timeout=2)
        self.assert_exit(r, 3)
        self.assert_diag(r, 'error', TIMEOUT_RX)
        self.assertLess(r.elapsed, 4.0, 'a 2 s timeout took %.1f s' % r.elapsed)
        self.assertNotIn(b'NOOP', srv.record())

    def test_connect_profile_timeout(self):
        """\\connect PROFILE waits the profile's timeout (1 s) for a greeting that never comes,
        not smtpsh's (SMTPSH_TIMEOUT=6); after it, \\connect HOST waits smtpsh's again"""
        silent = self.server('no_greeting.smtp')
        nice = self.server('send 220 nice ESMTP\\r\\n\nexpect QUIT\nsend 221 bye\\r\\n\n'
                           'wait-close\n', text=True)
        conf = os.path.join(self.tmp, '.config', 'smtpsh')
        os.makedirs(conf)
        with open(os.path.join(conf, 'profiles'), 'w') as f:
            f.write('[silent]\nhost = 127.0.0.1\nport = %d\ntimeout = 1\n'
                    '[nice]\nhost = 127.0.0.1\nport = %d\ntimeout = 1\n'
                    % (silent.port, nice.port))
        r = run_smtpsh([], stdin=b'\\connect silent\nNOOP\n', timeout=15, home=self.tmp,
                       cwd=self.tmp, env={'SMTPSH_TIMEOUT': '6'}, hang_ok=True)
        self.assert_no_crash(r)
        self.assert_exit(r, 3)
        self.assert_diag(r, 'error', r'within 1 s')
        self.assertLess(r.elapsed, 4.0, 'the profile\'s 1 s timeout took %.1f s' % r.elapsed)
        self.assertNotIn(b'NOOP', silent.record())
        silent = self.server('no_greeting.smtp')
        r = run_smtpsh([], stdin=b'\\connect nice\nQUIT\n\\connect 127.0.0.1 %d\nNOOP\n'
                       % silent.port, timeout=15, home=self.tmp, cwd=self.tmp,
                       env={'SMTPSH_TIMEOUT': '2'}, hang_ok=True)
        self.assert_no_crash(r)
        self.assert_exit(r, 3)
        self.assert_line(r, '<- 221 bye')
        self.assert_diag(r, 'error', r'within 2 s')
        self.assertGreater(r.elapsed, 1.5, 'the host kept the profile\'s 1 s: %r' % r)
        self.assert_server_ok(nice, r)

    def test_connection_refused(self):
        # A port nobody listens on: bind one, close it, connect there.
        import socket
        s = socket.socket()
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
        s.close()
        r = run_smtpsh(['--timeout', '3', '127.0.0.1', str(port)], stdin=b'NOOP\n',
                       timeout=15, home=self.tmp, cwd=self.tmp)
        self.assert_no_crash(r)
        self.assert_exit(r, 3)
        self.assert_diag(r, 'error')


if __name__ == '__main__':
    tap_main()
