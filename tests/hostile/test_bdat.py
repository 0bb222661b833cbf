#!/usr/bin/python3
"""BDAT by hand and DSN against scripted servers (issue 14): a chunk refused in the middle of a
message (no further chunk, RSET works), a typed BDAT whose line runs past its count (cut, the
next line a command again), input ending inside a chunk (connection closed, exit 2), and
--send's DSN and --chunking options refused by a server that offers neither.

Usage: /usr/bin/python3 tests/hostile/test_bdat.py [NAME...]
"""

import sys

sys.dont_write_bytecode = True
from harness import SmtpshTestCase
from smtpshtest import tap_main

ENVELOPE = 'EHLO client.test\nMAIL FROM:<a@example.test>\nRCPT TO:<b@example.test>\n'


class Bdat(SmtpshTestCase):

    def test_refused_chunk_no_more_chunks_then_rset(self):
        srv, r = self.run_case('bdat_refused.smtp', ENVELOPE +
                               '\\bdat Subject: x\n\\bdat one two\n\\bdat --last x\n'
                               'RSET\nNOOP\nQUIT\n')
        self.assert_server_ok(srv, r)
        self.assertEqual(self.sent_lines(srv),
                         [b'EHLO client.test', b'MAIL FROM:<a@example.test>',
                          b'RCPT TO:<b@example.test>', b'BDAT 12', b'Subject: x',
                          b'BDAT 9', b'one two', b'RSET', b'NOOP', b'QUIT'])
        self.assert_diag(r, 'error', r'\\bdat: not sent: a chunk of this message was refused, '
                                     r'and RFC 3030 allows no more \(RSET starts afresh\)')
        self.assert_line(r, '-> BDAT 12')
        self.assert_line(r, '-> Subject: x')
        self.assertIn('<- 552 5.3.4 that is quite enough', r.out())
        self.assert_line(r, '<- 250 2.0.0 still here')
        self.assert_exit(r, 0)  # a refusal on the server's terms: the script goes on

    def test_refused_chunk_typed_bdat_skips_its_lines(self):
        srv, r = self.run_case('bdat_refused.smtp', ENVELOPE +
                               '\\bdat Subject: x\n\\bdat one two\nBDAT 6 LAST\nRSET\n'
                               'RSET\nNOOP\nQUIT\n')
        self.assert_server_ok(srv, r)  # the typed chunk's "RSET" line was neither sent nor run
        self.assertEqual(self.sent_lines(srv)[-3:], [b'RSET', b'NOOP', b'QUIT'])
        self.assertEqual(self.sent_lines(srv).count(b'RSET'), 1)
        self.assert_diag(r, 'warning', r'the 6 octets of input meant for the chunk are skipped: '
                                       r'not sent, and not run as commands')
        self.assert_exit(r, 0)

    def test_typed_chunk_cut_at_its_count(self):
        srv, r = self.run_case('bdat_chunk.smtp', ENVELOPE +
                               'BDAT 13\nSubject: hi\nBDAT 5 LAST\nhello world\nNOOP\nQUIT\n')
        self.assert_server_ok(srv, r)
        rec = srv.record()
        self.assertIn(b'BDAT 13\r\nSubject: hi\r\nBDAT 5 LAST\r\nhelloNOOP\r\nQUIT\r\n', rec)
        self.assert_diag(r, 'warning', r'the chunk ends inside this line: 5 of its 13 octets '
                                       r'\(with CRLF\) sent, the rest dropped')
        self.assert_line(r, '<- 250 2.0.0 5 octets, queued')
        self.assert_exit(r, 0)

    def test_input_ending_inside_a_chunk(self):
        srv, r = self.run_case('bdat_open.smtp', ENVELOPE + 'BDAT 20 LAST\nx\n')
        self.assert_server_ok(srv, r)
        self.assertTrue(srv.record().endswith(b'BDAT 20 LAST\r\nx\r\n'), srv.record())
        self.assert_diag(r, 'error', r'input ended inside a BDAT chunk: the message is not sent')
        self.assertIn('connection closed: input ended inside a BDAT chunk (17 of its 20 octets '
                      'not sent', r.out())
        self.assert_exit(r, 2)

    def send_args(self, *extra):
        return ['--send', '--from', 'a@example.test', '--to', 'b@example.test',
                '--body', 'x'] + list(extra)

    def test_send_last_chunk_refused_table_then_rset(self):
        srv, r = self.run_case('bdat_last_refused_send.smtp', '',
                               args=self.send_args('--to', 'c@example.test', '--chunking'))
        self.assert_server_ok(srv, r)
        self.assertEqual(self.sent_lines(srv)[-2:], [b'RSET', b'QUIT'])
        out = r.out()
        self.assertIn('*  0 of 2 recipients accepted the message; 2 refused after the message',
                      out)
        for rcpt in ('b', 'c'):
            self.assertRegex(out, r'(?m)^   %s@example\.test +250 2\.1\.5 ok +554 5\.7\.1 '
                                  r'no thanks$' % rcpt)
        # the table comes before the RSET (an accepted RSET empties the recipient list)
        self.assertLess(out.index('recipients accepted the message'), out.index('-> RSET'))
        self.assert_exit(r, 1)

    def test_dsn_refused_without_dsn(self):
        for extra in (['--notify', 'SUCCESS,FAILURE'], ['--ret', 'HDRS'],
                      ['--envid', 'abc']):
            srv, r = self.run_case('no_dsn_no_chunking.smtp', '', args=self.send_args(*extra))
            self.assert_server_ok(srv, r)
            self.assertEqual(self.sent_lines(srv), [b'EHLO localhost', b'QUIT'])
            self.assert_diag(r, 'error', r'the server does not offer DSN \(RFC 3461\): '
                                         r'--notify, --ret and --envid cannot be honoured: '
                                         r'not sent')
            self.assert_exit(r, 1)

    def test_chunking_refused_without_chunking(self):
        srv, r = self.run_case('no_dsn_no_chunking.smtp', '',
                               args=self.send_args('--chunking'))
        self.assert_server_ok(srv, r)
        self.assertEqual(self.sent_lines(srv), [b'EHLO localhost', b'QUIT'])
        self.assert_diag(r, 'error', r'does not offer CHUNKING \(RFC 3030\)')
        self.assert_exit(r, 1)

    def test_dsn_syntax_checked_before_anything_is_sent(self):
        for extra, rx in ((['--notify', 'NEVER,SUCCESS'], r'NEVER cannot be combined'),
                          (['--notify', 'SOMETIMES'], r"--notify 'SOMETIMES': NEVER, or"),
                          (['--ret', 'ALL'], r"--ret 'ALL': FULL or HDRS"),
                          (['--envid', 'caf\u00e9'], r'--envid: printable US-ASCII only'),
                          (['--envid', '+' * 40], r'at most 100 characters as xtext')):
            srv, r = self.run_case('no_dsn_no_chunking.smtp', '', args=self.send_args(*extra))
            self.assert_server_ok(srv, r)
            self.assertEqual(self.sent_lines(srv), [b'EHLO localhost', b'QUIT'])
            self.assert_diag(r, 'error', rx)
            self.assertNotEqual(r.rc, 0)


if __name__ == '__main__':
    tap_main()
