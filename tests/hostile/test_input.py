#!/usr/bin/python3
"""What the user sends cannot break the protocol: DATA only ever ends with CRLF.CRLF and never
carries a bare CR or LF (SMTP smuggling); a typed line with CR or NUL inside is refused;
replies nobody asked for are shown with a warning and never taken as the answer to a command."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SmtpshTestCase  # noqa: E402


class Input(SmtpshTestCase):
    def test_data_from_file_cannot_smuggle(self):
        body = os.path.join(self.tmp, 'body.txt')
        with open(body, 'wb') as f:
            f.write(b'a\n.\nb\r.\r\nc\r\n.\r\nd\n..\ne')
        script = ('MAIL FROM:<a@example.test>\nRCPT TO:<b@example.test>\nDATA\n'
                  '\\file %s\n.\nQUIT\n' % body)
        srv, r = self.run_case('data_smuggling.smtp', script)
        self.assert_exit(r, 0)
        self.assert_server_ok(srv, r)
        rec = srv.record()
        data = rec[rec.index(b'DATA\r\n') + 6:rec.index(b'QUIT\r\n')]
        self.assertEqual(data, b'a\r\n..\r\nb\r\n..\r\nc\r\n..\r\nd\r\n...\r\ne\r\n.\r\n')
        # no CR or LF outside CRLF anywhere in what the client sent
        self.assertNotIn(b'\n', rec.replace(b'\r\n', b''))
        self.assertNotIn(b'\r', rec.replace(b'\r\n', b''))

    def test_line_with_cr_is_refused(self):
        srv, r = self.run_case('input_cr.smtp', b'NOOP\rRSET\nNOOP\n')
        self.assert_exit(r, 2)
        self.assert_diag(r, 'error', r'CR')
        self.assert_server_ok(srv, r)
        self.assertEqual(srv.record(), b'')

    def test_line_with_nul_is_refused(self):
        srv, r = self.run_case('input_cr.smtp', b'NO\x00OP\nNOOP\n')
        self.assert_exit(r, 2)
        self.assert_diag(r, 'error', r'NUL')
        self.assert_server_ok(srv, r)
        self.assertEqual(srv.record(), b'')

    def test_flood_of_unsolicited_replies(self):
        srv, r = self.run_case('unsolicited_flood.smtp', 'NOOP\nQUIT\n')
        self.assert_exit(r, 0)
        self.assert_server_ok(srv, r)
        lines = self.stdout_lines(r)
        # The first 1000 lines nobody asked for are shown, the rest counted (a server that
        # sends them without end must not flood the screen: test_flood.py).
        self.assertEqual(sum(1 for l in lines if l == '<- 250 2.0.0 flood'), 1000, r)
        self.assertIn('*  ... 1000 more lines nobody asked for not shown (15000 bytes)', lines)
        self.assertIn('<- 250 2.0.0 real answer', lines)
        self.assert_diag(r, 'warning', r'no command was waiting')
        self.assertEqual(len(self.diag_lines(r, 'warning')), 1, 'one warning, not 2000: %r' % r)

    def test_early_reply_is_not_taken_for_the_next(self):
        srv, r = self.run_case('early_reply.smtp', 'EHLO client.test\nQUIT\n')
        self.assert_exit(r, 0)
        self.assert_server_ok(srv, r)
        lines = self.stdout_lines(r)
        early = lines.index('<- 250 2.0.0 too early')
        ehlo = lines.index('-> EHLO client.test')
        self.assertLess(early, ehlo, 'the early reply must be shown before EHLO is sent: %r' % r)
        self.assertEqual(lines[ehlo + 1], '<- 250 mx.example at your service', r)
        self.assert_diag(r, 'warning', r'no command was waiting')


if __name__ == '__main__':
    unittest.main()
