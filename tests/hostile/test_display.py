#!/usr/bin/python3
"""What smtpsh shows of hostile bytes: escaped control bytes, replies cut into single bytes,
an overlong typed command."""

import os

from harness import SmtpshTestCase
from smtpshtest import tap_main


class Display(SmtpshTestCase):
    def test_greeting_with_escape_sequences(self):
        srv, r = self.run_case('greeting_escape.smtp', 'NOOP\nQUIT\n')
        self.assert_exit(r, 0)
        self.assert_server_ok(srv, r)
        self.assertNotIn(b'\x1b', r.stdout_bytes + r.stderr_bytes, 'a raw ESC reached the terminal')
        # The exact escaped form (spec: ESC -> \x1b, other controls \xNN, backslash \\,
        # TAB \t, invalid UTF-8 and C1 controls one \xNN per byte). Hex digits in any case.
        want = (r'<- 220 evil\x1b[2J\x1b]0;pwned\x07 host\x01\x7f back\\slash\ttab '
                r'\xc2\x9b31m c1 \xff\xfe bad-utf8 \u{202e}RLO \x1b[31mred').lower()
        self.assertIn(want, [l.lower() for l in self.stdout_lines(r)], r)
        want = r'<- 250 ok \x1b[1;31mbold red\x1b[0m\x08\x08\x08over'.lower()
        self.assertIn(want, [l.lower() for l in self.stdout_lines(r)], r)

    def test_invisible_characters_escaped(self):
        # Issue 12 (10d, 10e): invisible characters (Cf, Zl, Zp, default ignorables) and a
        # combining mark after an escape are shown by number; an accent on a letter is not.
        srv, r = self.run_case('invisible.smtp', 'QUIT\n')
        self.assert_exit(r, 0)
        self.assert_server_ok(srv, r)
        want = ('<- 220 zero\\u{200B}width\\u{2028}sep soft\\u{00AD}hyphen tag\\u{E0041} '
                '\\u{FEFF} \\x01\\u{0301} cafe\u0301')
        self.assertIn(want, self.stdout_lines(r), r)

    def test_reply_split_into_single_bytes(self):
        srv, r = self.run_case('split_bytes.smtp', 'EHLO client.test\nQUIT\n')
        self.assert_exit(r, 0)
        self.assert_server_ok(srv, r)
        replies = [l for l in self.stdout_lines(r) if l.startswith('<-')]
        self.assertEqual(replies, ['<- 220 slow.example ESMTP ready',
                                   '<- 250-slow.example',
                                   '<- 250-PIPELINING',
                                   '<- 250 SIZE 1000',
                                   '<- 221 2.0.0 bye'], r)
        self.assertEqual(self.diag_lines(r), [], r)

    def test_capabilities_with_escape_sequences(self):
        # \caps prints our own view of the EHLO reply: it must be as safe as the reply.
        srv, r = self.run_case('caps_escape.smtp', 'EHLO client.test\n\\caps\nQUIT\n')
        self.assert_exit(r, 0)
        self.assert_server_ok(srv, r)  # \caps was not sent
        self.assertNotIn(b'\x1b', r.stdout_bytes + r.stderr_bytes)
        self.assertIn('SIZE', r.out().split('-> QUIT')[0].split('<- 250 SIZE')[-1],
                      '\\caps printed nothing about the capabilities: %r' % r)

    def test_caps_text_exact(self):
        # Issue 12 (10g): no trailing blanks after a name without parameters; "1 command".
        srv, r = self.run_case('caps_plain.smtp',
                               'EHLO client.test\n\\caps\n\\pipeline\nNOOP\nQUIT\n')
        self.assert_exit(r, 0)
        self.assert_server_ok(srv, r)
        lines = self.stdout_lines(r)
        i = lines.index('   capabilities of 127.0.0.1:')
        self.assertEqual(lines[i + 1:i + 4], ['     PIPELINING',
                                              '     SIZE                 1000',
                                              '     8BITMIME'], r)
        self.assertIn('*  pipelining 1 command in one write (6 bytes)', lines, r)

    def test_command_longer_than_512_octets(self):
        cmd = 'NOOP ' + 'x' * 600
        srv, r = self.run_case('long_command.smtp', cmd + '\nQUIT\n')
        self.assert_exit(r, 0)
        self.assert_diag(r, 'warning', r'512|long')
        self.assert_server_ok(srv, r)  # still sent, verbatim
        self.assert_line(r, '-> ' + cmd)

    def test_command_longer_than_512_octets_from_file(self):
        cmd = 'NOOP ' + 'x' * 600
        path = os.path.join(self.tmp, 'cmds.txt')
        with open(path, 'w') as f:
            f.write(cmd + '\nQUIT\n')
        srv, r = self.run_case('long_command.smtp', '', args=['-f', path])
        self.assert_exit(r, 0)
        self.assert_diag(r, 'warning', r'512|long')
        self.assert_server_ok(srv, r)


if __name__ == '__main__':
    tap_main()
