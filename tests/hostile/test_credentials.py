#!/usr/bin/python3
"""Where the secret of \\auth comes from, when that source misbehaves (issue 12, defect 9): a
--password-command that hangs, prints a NUL or a line over 8191 octets; a FIFO at ~/.netrc.
Each is refused with a clear one-line error, without waiting forever, and nothing after EHLO
reaches the server (the server offers AUTH on loopback, so only the source can stop it)."""

import os
import subprocess
import time

from harness import SmtpshTestCase
from smtpshtest import tap_main

SCRIPT = 'EHLO client.test\n\\auth PLAIN alice\nQUIT\n'


class Credentials(SmtpshTestCase):
    def refused(self, args, pattern, kill_after=15.0):
        srv, r = self.run_case('auth_no_secret.smtp', SCRIPT, args=args, smtpsh_timeout=2,
                               kill_after=kill_after)
        self.assertFalse(r.timed_out, r)
        self.assert_diag(r, 'error', pattern)
        self.assertNotEqual(r.rc, 0, r)
        srv.wait()
        self.assertEqual(srv.record(), b'EHLO client.test\r\n')
        return r

    def test_password_command_timed_out_and_killed(self):
        marker = os.path.join(self.tmp, 'still-running')
        # a compound command: the shell forks, so killing only /bin/sh would leave sleep
        r = self.refused(['--password-command', 'sleep 20; touch %s; echo pw' % marker],
                         r'--password-command: the command did not finish within 2 s '
                         r'\(--timeout\): it was killed, nothing sent')
        self.assertLess(r.elapsed, 8, r)
        time.sleep(0.5)
        for pattern in ('sleep 20; touch ' + marker, '^sleep 20$'):
            found = subprocess.run(['pgrep', '-f', pattern], stdout=subprocess.PIPE).stdout
            self.assertEqual(found, b'', 'left running: ' + pattern)

    def test_password_command_with_nul_refused(self):
        self.refused(['--password-command', "printf 'pass\\000word\\n'"],
                     r'--password-command: the first line the command printed holds a NUL '
                     r'octet: refused, not cut there')

    def test_password_command_line_too_long_refused(self):
        self.refused(['--password-command', "head -c 8192 /dev/zero | tr '\\000' a; echo"],
                     r'--password-command: the first line the command printed is longer than '
                     r'8191 octets: refused, not cut')

    def test_password_command_longest_line_accepted(self):
        srv, r = self.run_case('auth_no_secret.smtp', SCRIPT, smtpsh_timeout=2, args=[
            '--password-command', "head -c 8191 /dev/zero | tr '\\000' a; echo"])
        srv.wait()
        self.assertIn(b'AUTH PLAIN ', srv.record())

    def test_oauth_token_command_shares_the_rules(self):
        srv, r = self.run_case('auth_no_secret.smtp', 'EHLO client.test\n\\auth XOAUTH2 alice\nQUIT\n',
                               smtpsh_timeout=2,
                               args=['--oauth-token-command', "printf 'tok\\000en\\n'"])
        self.assert_diag(r, 'error', r'--oauth-token-command: the first line the command '
                                     r'printed holds a NUL octet')
        srv.wait()
        self.assertEqual(srv.record(), b'EHLO client.test\r\n')

    def test_fifo_at_netrc_refused_without_blocking(self):
        fifo = os.path.join(self.tmp, '.netrc')  # HOME is self.tmp
        os.mkfifo(fifo, 0o600)
        r = self.refused([], r'refusing to use .*\.netrc: it is not a regular file \(a FIFO\)',
                         kill_after=10)
        self.assertLess(r.elapsed, 8, r)


if __name__ == '__main__':
    tap_main()
