#!/usr/bin/python3
"""\\raw against a scripted server that records every byte: the octets go out exactly as typed
(bare LF, NUL, 8-bit, a command split over two writes, two commands in one write, inside
DATA), shown escaped; replies to them are shown as they arrive, paired with nothing, until the
next command's reply (the last before the line is quiet) brings smtpsh back in step; an AUTH
in raw octets is redacted on screen and in the transcript."""

import os

from harness import SmtpshTestCase
from smtpshtest import run_smtpsh, tap_main

OUT_OF_STEP = 'out of step: smtpsh cannot tell how many replies raw bytes owe'


def steps(*lines):
    return ''.join(l + '\n' for l in lines)


class Raw(SmtpshTestCase):
    def run_script(self, script, stdin, args=()):
        srv = self.server(script, text=True)
        r = run_smtpsh(['--timeout', '5'] + list(args) + ['127.0.0.1', str(srv.port)],
                       stdin=stdin.encode() if isinstance(stdin, str) else stdin,
                       timeout=20, home=self.tmp, cwd=self.tmp, hang_ok=True)
        self.assert_no_crash(r)
        self.assert_no_raw_controls(r.stdout_bytes, 'stdout')
        self.assert_no_raw_controls(r.stderr_bytes, 'stderr')
        return srv, r

    def test_exact_octets_and_the_way_back_in_step(self):
        """bare LFs, a NUL and an 8-bit octet go out as typed, nothing added; the replies that
        come late are shown unpaired, NOOP's is the last and brings smtpsh back in step"""
        srv, r = self.run_script(steps(
            'send 220 hostile.test ESMTP\\r\\n',
            'expect-bytes MAIL FROM:<a@x>\\nRCPT TO:<b@x>\\n\\0\\xe9\\r\\n',
            'sleep 800',  # longer than the quiet moment: the replies come late
            'send 250 2.1.0 ok one\\r\\n250 2.1.5 ok two\\r\\n',
            'sleep 200',
            'send 250 2.0.0 noop ok\\r\\n',
            'expect ^NOOP$',
            'expect ^QUIT$',
            'send 221 bye\\r\\n',
            'wait-close'),
            '\\raw MAIL FROM:<a@x>\\nRCPT TO:<b@x>\\n\\0\\xe9\\r\\n\nNOOP\nQUIT\n')
        self.assert_server_ok(srv, r)
        self.assert_exit(r, 0)
        self.assertEqual(srv.record(), b'MAIL FROM:<a@x>\nRCPT TO:<b@x>\n\x00\xe9\r\n'
                         b'NOOP\r\nQUIT\r\n')
        self.assert_line(r, '-> MAIL FROM:<a@x>\\nRCPT TO:<b@x>\\n\\x00\\xe9\\r\\n  \t'
                         '[raw, 34 octets]')
        self.assert_diag(r, 'warning', OUT_OF_STEP)
        self.assertNotIn('no command was waiting', r.err())
        out = self.stdout_lines(r)
        i = out.index('-> NOOP')
        self.assertEqual(out[i + 1:i + 5], [
            '<- 250 2.1.0 ok one', '<- 250 2.1.5 ok two', '<- 250 2.0.0 noop ok',
            '*  back in step: the last reply (250) answers NOOP, the 2 before it answered '
            'the raw bytes'])

    def test_split_command_and_two_in_one_write(self):
        """a command split over two writes arrives as one line; two commands in one write"""
        srv, r = self.run_script(steps(
            'send 220 hostile.test ESMTP\\r\\n',
            'expect ^MAIL FROM:<a@example.org>$',
            'expect ^RSET$',
            'expect ^NOOP$',
            'expect ^QUIT$',
            # all the replies at once, after QUIT: only their order tells which is which
            'send 250 2.1.0 ok\\r\\n250 2.0.0 reset\\r\\n250 2.0.0 noop\\r\\n221 bye\\r\\n',
            'wait-close'),
            '\\raw MAIL FROM:<a@ex\n\\raw ample.org>\\r\\n\n\\raw RSET\\r\\nNOOP\\r\\n\nQUIT\n')
        self.assert_server_ok(srv, r)
        self.assertEqual(srv.record(), b'MAIL FROM:<a@example.org>\r\nRSET\r\nNOOP\r\n'
                         b'QUIT\r\n')
        out = self.stdout_lines(r)
        self.assertIn('-> MAIL FROM:<a@ex  \t[raw, 15 octets]', out)
        self.assertIn('-> ample.org>\\r\\n  \t[raw, 12 octets]', out)
        i = out.index('-> QUIT')
        self.assertEqual(out[i + 1:i + 6], [
            '<- 250 2.1.0 ok', '<- 250 2.0.0 reset', '<- 250 2.0.0 noop', '<- 221 bye',
            '*  back in step: the last reply (221) answers QUIT, the 3 before it answered '
            'the raw bytes'])

    def test_inside_data(self):
        """inside DATA the octets go into the message as they are; the "." answers last"""
        srv, r = self.run_script(steps(
            'send 220 hostile.test ESMTP\\r\\n',
            'expect ^MAIL FROM:<a@x>$', 'send 250 ok\\r\\n',
            'expect ^RCPT TO:<b@x>$', 'send 250 ok\\r\\n',
            'expect ^DATA$', 'send 354 go\\r\\n',
            'expect ^Subject: x$',
            'expect-bytes \\n.\\nRSET\\n',
            'expect ^\\.$',
            # as a server that takes the bare-LF dot as the end of data, and RSET as a
            # command, answers (all at once: only their order tells which is which)
            'send 250 2.0.0 queued as SMUGGLED\\r\\n250 2.0.0 reset\\r\\n'
            '502 5.5.2 Error: command not recognized\\r\\n',
            'expect ^QUIT$', 'send 221 bye\\r\\n', 'wait-close'),
            'MAIL FROM:<a@x>\nRCPT TO:<b@x>\nDATA\nSubject: x\n\\raw \\n.\\nRSET\\n\n.\nQUIT\n')
        self.assert_server_ok(srv, r)
        self.assertEqual(srv.record().split(b'DATA\r\n', 1)[1],
                         b'Subject: x\r\n\n.\nRSET\n.\r\nQUIT\r\n')
        out = self.stdout_lines(r)
        self.assertIn('-> \\n.\\nRSET\\n  \t[raw, 8 octets]', out)
        i = out.index('-> .')
        self.assertEqual(out[i + 1:i + 5], [
            '<- 250 2.0.0 queued as SMUGGLED', '<- 250 2.0.0 reset',
            '<- 502 5.5.2 Error: command not recognized',
            '*  back in step: the last reply (502) answers ., the 2 before it answered the '
            'raw bytes'])

    def test_auth_redacted_and_recorded_redacted(self):
        """an AUTH in raw octets: redacted on screen and in the transcript, sent as typed"""
        secret = 'AGFsaWNlAHNlY3JldA=='
        rec = os.path.join(self.tmp, 'raw.txt')
        srv, r = self.run_script(steps(
            'send 220 hostile.test ESMTP\\r\\n',
            'expect ^EHLO x$',
            'expect ^AUTH PLAIN %s$' % secret,
            'send 250 hi\\r\\n235 2.7.0 ok\\r\\n',
            'expect ^QUIT$', 'send 221 bye\\r\\n', 'wait-close'),
            '\\raw EHLO x\\r\\nAUTH PLAIN %s\\r\\n\nQUIT\n' % secret, ['--record', rec])
        self.assert_server_ok(srv, r)
        self.assertIn(('AUTH PLAIN %s\r\n' % secret).encode(), srv.record())
        self.assertNotIn(secret, r.out() + r.err())
        self.assert_line(r, '-> EHLO x\\r\\nAUTH PLAIN <redacted>\\r\\n  \t[raw, 41 octets]')
        with open(rec, encoding='utf-8') as f:
            text = f.read()
        self.assertNotIn(secret, text)
        self.assertIn('raw -> EHLO x\\r\\nAUTH PLAIN <redacted>\\r\\n\n', text)

    def test_server_closes_after_the_last_reply(self):
        """replies, then the server closes: the last reply still answers the command"""
        srv, r = self.run_script(steps(
            'send 220 hostile.test ESMTP\\r\\n',
            'expect-bytes X\\r\\n',
            'expect ^NOOP$',
            'send 500 5.5.2 what\\r\\n421 4.7.0 bye now\\r\\n',
            'close'),
            '\\raw X\\r\\n\nNOOP\n')
        self.assert_server_ok(srv, r)
        out = self.stdout_lines(r)
        self.assertIn('*  back in step: the last reply (421) answers NOOP, the 1 before it '
                      'answered the raw bytes', out)
        self.assertNotIn('without replying', r.err())

    def test_record_then_replay_sends_the_same_octets(self):
        """--record writes the raw octets escaped (version 2); --replay sends them again
        byte for byte, and compares the reply of the command that got back in step"""
        script = steps(
            'send 220 hostile.test ESMTP\\r\\n',
            'expect-bytes EHLO x\\nMAIL FROM:<a@x>\\r\\n\\0\\xff caf\\xc3\\xa9\\r\\n',
            'send 250 hi\\r\\n250 2.1.0 ok\\r\\n500 5.5.2 what\\r\\n',
            'expect ^NOOP$', 'send 250 2.0.0 ok\\r\\n',
            'expect ^QUIT$', 'send 221 bye\\r\\n', 'wait-close')
        rec = os.path.join(self.tmp, 'raw.transcript')
        srv, r = self.run_script(script, '\\raw EHLO x\\nMAIL FROM:<a@x>\\r\\n\\0\\xff caf\xe9\\r\\n\n'
                                 'NOOP\nQUIT\n', ['--record', rec])
        self.assert_server_ok(srv, r)
        first = srv.record()
        with open(rec, encoding='utf-8') as f:
            text = f.read()
        self.assertTrue(text.startswith('smtpsh-transcript 2\n'), text)
        self.assertIn('\nraw -> EHLO x\\nMAIL FROM:<a@x>\\r\\n\\x00\\xff caf\xe9\\r\\n\n', text)
        srv2 = self.server(script, text=True)
        r = run_smtpsh(['--timeout', '5', '--replay', rec, '127.0.0.1', str(srv2.port)],
                       timeout=20, home=self.tmp, cwd=self.tmp, hang_ok=True)
        self.assert_no_crash(r)
        self.assert_server_ok(srv2, r)
        self.assertEqual(srv2.record(), first)
        self.assert_exit(r, 0)
        self.assertIn('replay: 3 replies compared, all as recorded', r.out())

    def test_replay_bdat_chunk_and_lmtp_replies(self):
        """a version-2 transcript with a BDAT chunk and LMTP replies per recipient: the
        chunk's octets follow their command in one write, exactly; the replies are read"""
        path = os.path.join(self.tmp, 'v2.transcript')
        with open(path, 'w', encoding='utf-8') as f:
            f.write('smtpsh-transcript 2\nhost: 127.0.0.1\nport: 25\ntls: none\n\n'
                    '<- 220 lmtp.test\n-> MAIL FROM:<a@x>\n<- 250 ok\n'
                    '-> RCPT TO:<b@x>\n<- 250 ok\n-> RCPT TO:<c@x>\n<- 250 ok\n'
                    '-> BDAT 14 LAST\nchunk -> Subject: x\\r\\n\nchunk -> \\r\\nb\\0\n'
                    'rcpt:b@x <- 250 2.0.0 <b@x> saved\nrcpt:c@x <- 452 4.2.2 <c@x> full\n'
                    '-> QUIT\n<- 221 bye\n')
        srv = self.server(steps(
            'send 220 lmtp.test\\r\\n',
            'expect ^MAIL FROM:<a@x>$', 'send 250 ok\\r\\n',
            'expect ^RCPT TO:<b@x>$', 'send 250 ok\\r\\n',
            'expect ^RCPT TO:<c@x>$', 'send 250 ok\\r\\n',
            'expect-bytes BDAT 14 LAST\\r\\nSubject: x\\r\\n\\r\\nb\\0',
            'send 250 2.0.0 <b@x> saved\\r\\n',
            'expect ^QUIT$', 'send 221 bye\\r\\n', 'wait-close'), text=True)
        r = run_smtpsh(['--timeout', '5', '--replay', path, '127.0.0.1', str(srv.port)],
                       timeout=20, home=self.tmp, cwd=self.tmp, hang_ok=True)
        self.assert_no_crash(r)
        self.assert_server_ok(srv, r)
        self.assert_exit(r, 0)
        self.assertIn('-> Subject: x\\r\\n  \t[chunk]', r.out())
        self.assertIn('-> \\r\\n  \t[chunk]\n-> b\\x00  \t[chunk]\n', r.out())

    def test_replay_stops_at_a_redacted_raw_write(self):
        """raw octets recorded redacted cannot be replayed: the replay says so, sends nothing"""
        path = os.path.join(self.tmp, 'red.transcript')
        with open(path, 'w', encoding='utf-8') as f:
            f.write('smtpsh-transcript 2\nhost: 127.0.0.1\n\n<- 220 x\n'
                    'raw -> AUTH PLAIN <redacted>\\r\\n\n<- 235 ok\n')
        srv = self.server(steps('send 220 x\\r\\n', 'wait-close'), text=True)
        r = run_smtpsh(['--timeout', '5', '--replay', path, '127.0.0.1', str(srv.port)],
                       timeout=20, home=self.tmp, cwd=self.tmp, hang_ok=True)
        self.assert_no_crash(r)
        self.assert_server_ok(srv, r)
        self.assertEqual(srv.record(), b'')
        self.assertIn('raw octets with an AUTH secret, redacted in the transcript', r.err())
        self.assert_exit(r, 2)

    def test_refusals(self):
        """a bad escape stops a script before anything is sent; so does a raw write while
        disconnected; both say why"""
        srv, r = self.run_script(steps('send 220 hostile.test ESMTP\\r\\n', 'wait-close'),
                                 '\\raw NOOP\\r\\n\\q\nQUIT\n')
        self.assert_server_ok(srv, r)
        self.assertEqual(srv.record(), b'')
        self.assert_exit(r, 2)
        self.assert_diag(r, 'error', r'\\raw: unknown escape \\q')
        r = run_smtpsh([], stdin=b'\\raw NOOP\\r\\n\n', timeout=10, home=self.tmp, cwd=self.tmp, hang_ok=True)
        self.assert_no_crash(r)
        self.assert_diag(r, 'error', r'\\raw: not connected')
        self.assertNotEqual(r.rc, 0)


if __name__ == '__main__':
    tap_main()
