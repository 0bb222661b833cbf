#!/usr/bin/python3
"""What the user sends cannot break the protocol: DATA only ever ends with CRLF.CRLF and never
carries a bare CR or LF (SMTP smuggling); a typed line with CR or NUL inside is refused;
replies nobody asked for are shown with a warning and never taken as the answer to a command."""

import base64
import os
import threading

from harness import SmtpshTestCase
from smtpshtest import tap_main


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

    def test_data_file_with_nul_refused(self):
        # Issue 12 (defect 8): a NUL in a \\file is refused with its line, before any of the
        # file is sent ("\\r\\n\\0.\\r\\n" would end the data early at a NUL-dropping server).
        body = os.path.join(self.tmp, 'nul.txt')
        with open(body, 'wb') as f:
            f.write(b'hello\r\n' + b'x' * 200000 + b'\r\n\x00.\r\nMAIL FROM:<evil@example.test>\r\n')
        script = ('MAIL FROM:<a@example.test>\nRCPT TO:<b@example.test>\nDATA\n'
                  '\\file %s\n.\nQUIT\n' % body)
        srv, r = self.run_case('data_nul.smtp', script)
        self.assert_exit(r, 2)
        self.assert_diag(r, 'error', r'cannot send .*nul\.txt: line 3 holds a NUL octet .*; '
                                     r'nothing of it was sent')
        srv.wait()
        rec = srv.record()
        self.assertTrue(rec.endswith(b'DATA\r\n'), rec[-200:])
        self.assertNotIn(b'hello', rec)
        self.assertNotIn(b'\x00', rec)

    def test_data_from_pipe_with_nul_stops_there(self):
        # A pipe cannot be read twice: it is checked chunk by chunk, and the chunk with the NUL
        # and everything after it stay unsent; the error says so.
        fifo = os.path.join(self.tmp, 'fifo')
        os.mkfifo(fifo)

        def writer():
            with open(fifo, 'wb') as f:
                f.write(b'line\n' * 20000)  # 100000 octets: more than a chunk
                f.write(b'tail\r\n\x00.\r\nMAIL FROM:<evil@example.test>\r\n')
        t = threading.Thread(target=writer, daemon=True)
        t.start()
        script = ('MAIL FROM:<a@example.test>\nRCPT TO:<b@example.test>\nDATA\n'
                  '\\file %s\n.\nQUIT\n' % fifo)
        srv, r = self.run_case('data_nul.smtp', script)
        t.join(5)
        self.assert_exit(r, 2)
        self.assert_diag(r, 'error', r'line 20002 holds a NUL octet .*; nothing from that '
                                     r"line's chunk on was sent")
        srv.wait()
        rec = srv.record()
        self.assertNotIn(b'\x00', rec)
        self.assertNotIn(b'evil', rec)
        self.assertNotIn(b'tail', rec)

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

    def test_auth_spelt_any_way_is_redacted(self):
        # A server splits on any white space: each of these logs in with the response, so
        # each must be shown and recorded as AUTH PLAIN <redacted> (and sent as typed).
        secret = 'AHN0dWRlbnQAczNjcjN0'
        typed = ['AUTH\tPLAIN ' + secret, ' AUTH PLAIN ' + secret,
                 'AUTH  PLAIN  ' + secret, 'auth\tplain\t' + secret]
        rec = os.path.join(self.tmp, 'auth.transcript')
        srv, r = self.run_case('auth_spellings.smtp',
                               'EHLO client.test\n' + '\n'.join(typed) + '\nQUIT\n',
                               args=['--record', rec])
        self.assert_server_ok(srv, r)
        self.assert_exit(r, 0)
        sent = [l for l in self.stdout_lines(r) if l.startswith('-> ')]
        self.assertEqual(sent, ['-> EHLO client.test'] + ['-> AUTH PLAIN <redacted>'] * 3 +
                         ['-> AUTH plain <redacted>', '-> QUIT'], r)
        with open(rec, 'rb') as f:
            recorded = f.read()
        for where, data in (('stdout', r.stdout_bytes), ('stderr', r.stderr_bytes), ('transcript', recorded)):
            # the base64 response, and the password it encodes
            for s in (secret.encode(), b's3cr3t'):
                self.assertNotIn(s, data, '%s holds the secret: %r' % (where, data))
        self.assertEqual(recorded.count(b'<redacted>'), 4, recorded)
        # what went on the wire is what was typed
        self.assertEqual(self.sent_lines(srv)[1:5], [t.encode() for t in typed])


    def test_challenge_decoded_up_to_the_limit(self):
        # Issue 12 (10h): a 334 challenge is decoded (and shown) up to 12288 octets, the
        # limit \\auth answers with (SASL_CHALLENGE_MAX); one octet more is not decoded.
        at, over = b'x' * 12288, b'y' * 12289
        srv, r = self.run_case('challenge_limit.smtp',
                               'AUTH LOGIN\n*\nAUTH LOGIN\n*\nQUIT\n',
                               defines={'AT': base64.b64encode(at).decode(),
                                        'OVER': base64.b64encode(over).decode()})
        self.assert_exit(r, 0)
        self.assert_server_ok(srv, r)
        lines = [l for l in self.stdout_lines(r) if l.startswith('<- 334 ')]
        self.assertEqual(len(lines), 2, r)
        self.assertTrue(lines[0].endswith('  \t[' + 'x' * 12288 + ']'), lines[0][-60:])
        self.assertTrue(lines[1].endswith('  \t[challenge not decoded: over 12288 octets]'),
                        lines[1][-60:])
        self.assertNotIn('yyyy', r.out())

if __name__ == '__main__':
    tap_main()
