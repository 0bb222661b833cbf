#!/usr/bin/python3
"""Malformed replies: overlong lines (memory must stay bounded), non-numeric replies, a code
that changes inside a multi-line reply, NUL bytes, too many lines. Without --strict smtpsh
reports one "!  error:" line and goes on with the next command (checked by the server's
script); with --strict it stops with exit status 5 and sends nothing more."""


from harness import max_rss_kb, SmtpshTestCase
from smtpshtest import tap_main

STDOUT_MAX = 1024 * 1024  # smtpsh must not echo megabytes of one line
OVERHEAD_MAX_KB = 8 * 1024  # more memory than a small session may use on a hostile line


class Malformed(SmtpshTestCase):
    def baseline_rss(self):
        """Max RSS of smtpsh in a small, well-behaved session (kB)."""
        srv, r = self.run_case('baseline.smtp', 'NOOP\nQUIT\n')
        self.assert_exit(r, 0)
        self.assert_server_ok(srv, r)
        return r.maxrss_kb

    def assert_bounded(self, r, seconds):
        self.assertLess(r.elapsed, seconds, 'too slow: %r' % r)
        self.assertLess(r.maxrss_kb, max_rss_kb(),
                        'max RSS %d kB over the limit of %d kB' % (r.maxrss_kb, max_rss_kb()))
        # Relative to a small session, so that it also holds for sanitizer builds: reading
        # any amount of a hostile line may cost a few buffers of 64 KiB, not megabytes.
        base = self.baseline_rss()
        self.assertLess(r.maxrss_kb - base, OVERHEAD_MAX_KB,
                        'max RSS %d kB, %d kB more than a small session'
                        % (r.maxrss_kb, r.maxrss_kb - base))
        self.assertLess(len(r.stdout_bytes), STDOUT_MAX, 'stdout of %d bytes' % len(r.stdout_bytes))
        self.assertLessEqual(len(r.err().splitlines()), 4,
                             'a flood of diagnostics instead of one line: %r' % r)

    def test_overlong_line_then_normal_reply(self):
        srv, r = self.run_case('overlong_then_ok.smtp', 'NOOP\nNOOP\nQUIT\n')
        self.assert_exit(r, 0)
        self.assert_diag(r, 'error')
        self.assert_bounded(r, 10)
        self.assert_server_ok(srv, r)  # the second NOOP was sent
        self.assert_line(r, '<- 250 2.0.0 fine again')

    def test_overlong_line_then_close(self):
        srv, r = self.run_case('overlong_then_close.smtp', 'NOOP\nNOOP\nQUIT\n')
        self.assert_exit(r, 3)
        self.assert_diag(r, 'error')
        self.assert_bounded(r, 10)

    def test_overlong_greeting_never_ends(self):
        srv, r = self.run_case('overlong_greeting.smtp', 'NOOP\nQUIT\n', smtpsh_timeout=3)
        self.assertIn(r.rc, (3, 5), 'exit status %r: %r' % (r.rc, r))
        self.assert_diag(r, 'error')
        self.assert_bounded(r, 8)

    def test_non_numeric_reply(self):
        srv, r = self.run_case('non_numeric.smtp', 'NOOP\nNOOP\nQUIT\n')
        self.assert_exit(r, 0)
        self.assert_diag(r, 'error')
        self.assert_server_ok(srv, r)
        self.assert_line(r, '<- 250 2.0.0 ok')

    def test_non_numeric_reply_strict(self):
        srv, r = self.run_case('non_numeric_strict.smtp', 'NOOP\nNOOP\nQUIT\n',
                               args=['--strict'])
        self.assert_exit(r, 5)
        self.assert_diag(r, 'error')
        srv.wait()
        self.assertEqual(srv.record().count(b'NOOP'), 1,
                         'smtpsh went on after a protocol error with --strict: %r'
                         % srv.record())

    def test_code_changes_in_multiline_reply(self):
        srv, r = self.run_case('code_change.smtp', 'EHLO client.test\nNOOP\nQUIT\n')
        self.assert_exit(r, 0)
        self.assert_diag(r, 'error')
        self.assert_server_ok(srv, r)
        self.assert_line(r, '<- 250 2.0.0 ok')

    def test_code_changes_strict(self):
        srv, r = self.run_case('code_change_strict.smtp', 'EHLO client.test\nNOOP\nQUIT\n',
                               args=['--strict'])
        self.assert_exit(r, 5)
        self.assert_diag(r, 'error')
        srv.wait()
        self.assertNotIn(b'NOOP', srv.record())

    def test_nul_in_reply(self):
        srv, r = self.run_case('nul_in_reply.smtp', 'NOOP\nNOOP\nQUIT\n')
        self.assert_exit(r, 0)
        self.assert_diag(r, 'error')
        self.assertNotIn(b'\0', r.stdout_bytes + r.stderr_bytes)
        self.assert_server_ok(srv, r)

    def test_too_many_lines(self):
        srv, r = self.run_case('too_many_lines.smtp', 'NOOP\nQUIT\n', smtpsh_timeout=3)
        # Past the 1000-line cap the rest is not shown and the connection is closed as a
        # protocol error: nothing tells where such a reply ends (test_flood.py: one that
        # never does).
        self.assert_exit(r, 5)
        self.assert_diag(r, 'error', r'more than 1000 lines; the rest is not shown')
        self.assertLess(r.elapsed, 10, r)
        self.assertLess(r.maxrss_kb, max_rss_kb())
        self.assertEqual(len(self.diag_lines(r, 'error')), 1, r)
        lines = self.stdout_lines(r)
        self.assertEqual(sum(1 for l in lines if l == '<- 250-and another line'), 1000, r)
        self.assertNotIn('<- 250 end', lines)
        srv.wait()
        self.assertEqual(srv.record(), b'NOOP\r\n')

if __name__ == '__main__':
    tap_main()
