#!/usr/bin/python3
"""TLS against a hostile server: STARTTLS response injection (bytes after the 220 must be
discarded with a warning, the next reply must be the real one), garbage instead of a
handshake, STARTTLS not offered or refused with --starttls (exit 4, nothing more sent in
plaintext), an untrusted certificate; and one working implicit-TLS session as the control."""

import re
import subprocess

from harness import SmtpshTestCase
from smtpshtest import make_ca_signed_cert, make_cert, make_expired_cert, tap_main

SECRET_CMD = 'MAIL FROM:<secret@example.test>'


class Tls(SmtpshTestCase):
    def setUp(self):
        super().setUp()
        self.cert, self.key = make_cert(self.tmp)
        self.defines = {'CERT': self.cert, 'KEY': self.key}

    def reply_after(self, r, sent):
        """The first reply line (any marker) shown after the stdout line `sent`."""
        lines = self.stdout_lines(r)
        self.assertIn(sent, lines, r)
        for l in lines[lines.index(sent) + 1:]:
            if l.startswith('<- ') or l.startswith('<~ '):
                return l
        self.fail('no reply after %r: %r' % (sent, r))

    def assert_no_injected_reply(self, r):
        for l in self.stdout_lines(r):
            if re.match(r'<[-~] 250[ -]injected', l):
                self.fail('the injected reply was shown as a reply: %r' % r)

    def test_starttls_response_injection_typed(self):
        srv, r = self.run_case('starttls_injection.smtp',
                               'EHLO client.test\nSTARTTLS\nNOOP\nQUIT\n',
                               args=['--cafile', self.cert], defines=self.defines)
        self.assert_exit(r, 0)
        self.assert_diag(r, 'warning')
        self.assert_server_ok(srv, r)
        self.assertEqual(self.reply_after(r, '~> NOOP'), '<~ 250 2.0.0 the real reply')
        self.assert_line(r, '<- 220 2.0.0 go ahead')
        self.assert_no_injected_reply(r)

    def test_starttls_response_injection_auto(self):
        srv, r = self.run_case('starttls_injection_auto.smtp', 'NOOP\nQUIT\n',
                               args=['--starttls', '--cafile', self.cert],
                               defines=self.defines)
        self.assert_exit(r, 0)
        self.assert_diag(r, 'warning')
        self.assert_server_ok(srv, r)
        self.assertEqual(self.reply_after(r, '~> EHLO localhost'), '<~ 250-hostile under tls')
        self.assertEqual(self.reply_after(r, '~> NOOP'), '<~ 250 2.0.0 the real reply')
        self.assert_no_injected_reply(r)

    def test_garbage_instead_of_starttls_handshake(self):
        srv, r = self.run_case('starttls_garbage.smtp', SECRET_CMD + '\nQUIT\n',
                               args=['--starttls', '--cafile', self.cert])
        self.assert_exit(r, 4)
        self.assert_diag(r, 'error')
        srv.wait()
        self.assertNotIn(b'MAIL', srv.record())

    def test_garbage_instead_of_implicit_tls_handshake(self):
        srv, r = self.run_case('implicit_tls_garbage.smtp', SECRET_CMD + '\nQUIT\n',
                               args=['--tls', '--cafile', self.cert])
        self.assert_exit(r, 4)
        self.assert_diag(r, 'error')
        srv.wait()
        self.assertNotIn(b'MAIL', srv.record())

    def test_starttls_not_offered(self):
        srv, r = self.run_case('starttls_not_offered.smtp', SECRET_CMD + '\nQUIT\n',
                               args=['--starttls', '--cafile', self.cert])
        self.assert_exit(r, 4)
        self.assert_diag(r, 'error')
        self.assert_server_ok(srv, r)
        sent = set(srv.record().split(b'\r\n')) - {b''}
        self.assertTrue(sent <= {b'EHLO localhost', b'QUIT'},
                        'sent in plaintext after STARTTLS was not offered: %r' % sent)

    def test_starttls_refused(self):
        srv, r = self.run_case('starttls_refused.smtp', SECRET_CMD + '\nQUIT\n',
                               args=['--starttls', '--cafile', self.cert])
        self.assert_exit(r, 4)
        self.assert_diag(r, 'error')
        self.assert_server_ok(srv, r)
        sent = set(srv.record().split(b'\r\n')) - {b''}
        self.assertTrue(sent <= {b'EHLO localhost', b'STARTTLS', b'QUIT'},
                        'sent in plaintext after STARTTLS was refused: %r' % sent)

    def test_untrusted_certificate(self):
        # No --cafile: the self-signed certificate is not in the system store.
        srv, r = self.run_case('tls_untrusted.smtp', SECRET_CMD + '\nQUIT\n',
                               args=['--tls'], defines=self.defines)
        self.assert_exit(r, 4)
        self.assert_diag(r, 'error', r'certif|verif')
        self.assertNotIn('220 secret', r.out())
        srv.wait()
        self.assertNotIn(b'MAIL', srv.record())

    def test_certificate_subject_with_escape_sequences(self):
        # The certificate's names are server data too: shown, never passed raw.
        cert, key = make_cert(self.tmp, name='evil',
                              subject='/CN=localhost\x1b[31mevil\x07\u009b31m\u202e/O=\x1b]0;title\x07')
        defines = {'CERT': cert, 'KEY': key}
        srv, r = self.run_case('tls_ok.smtp', 'NOOP\nQUIT\n', args=['--tls', '--cafile', cert],
                               defines=defines)
        self.assert_exit(r, 0)
        self.assert_server_ok(srv, r)
        self.assertNotIn(b'\x1b', r.stdout_bytes + r.stderr_bytes)
        srv, r = self.run_case('tls_untrusted.smtp', 'NOOP\nQUIT\n', args=['--tls'],
                               defines=defines)
        self.assert_exit(r, 4)
        self.assert_diag(r, 'error', r'certif|verif')
        self.assertNotIn(b'\x1b', r.stdout_bytes + r.stderr_bytes)

    def assert_refused_certificate(self, defines, args, host, pattern):
        srv, r = self.run_case('tls_untrusted.smtp', SECRET_CMD + '\nQUIT\n',
                               args=['--tls'] + args, defines=defines, host=host)
        self.assert_exit(r, 4)
        self.assert_diag(r, 'error', pattern)
        self.assertNotIn('220 secret', r.out())
        srv.wait()
        self.assertNotIn(b'MAIL', srv.record())

    def test_certificate_name_mismatch(self):
        # Trusted, but made for another name: the error names the names it has.
        cert, key = make_cert(self.tmp, name='other', subject='/CN=other.example',
                              san='DNS:other.example')
        self.assert_refused_certificate({'CERT': cert, 'KEY': key}, ['--cafile', cert],
                                        '127.0.0.1', r'name mismatch.*other\.example')

    def test_certificate_with_cn_only(self):
        # Issue 12 (10f): trusted, CN=localhost, but no subjectAltName: OpenSSL's fallback to
        # the CN is off (RFC 6125 6.4.4), and the reason says so.
        cert, key = make_cert(self.tmp, name='cnonly', subject='/CN=localhost', san=None)
        self.assertNotIn(b'Subject Alternative Name', subprocess.run(
            ['openssl', 'x509', '-noout', '-text', '-in', cert], check=True,
            stdout=subprocess.PIPE).stdout)
        self.assert_refused_certificate(
            {'CERT': cert, 'KEY': key}, ['--cafile', cert], 'localhost',
            r'certificate has no subjectAltName; names in the CN are not checked \(RFC 6125\)')

    def test_certificate_expired(self):
        cert, key = make_expired_cert(self.tmp)
        self.assert_refused_certificate({'CERT': cert, 'KEY': key}, ['--cafile', cert],
                                        'localhost', r'expired on')

    def test_certificate_from_unknown_ca(self):
        ca, cert, key = make_ca_signed_cert(self.tmp)
        other_ca, _ = make_cert(self.tmp, name='unrelated-ca', subject='/CN=unrelated CA')
        self.assert_refused_certificate({'CERT': cert, 'KEY': key}, ['--cafile', other_ca],
                                        'localhost', r'unknown CA.*smtpsh test CA')
        # ... and the same certificate is fine once its CA is trusted.
        srv, r = self.run_case('tls_ok.smtp', 'NOOP\nQUIT\n', args=['--tls', '--cafile', ca],
                               defines={'CERT': cert, 'KEY': key}, host='localhost')
        self.assert_exit(r, 0)

    def test_insecure_says_so_on_every_line(self):
        srv, r = self.run_case('tls_ok.smtp', 'NOOP\nQUIT\n', args=['--tls', '--insecure'],
                               defines=self.defines)
        self.assert_exit(r, 0)
        self.assert_diag(r, 'warning', r'NOT verified')
        convo = [l for l in self.stdout_lines(r) if l[:2] in ('->', '<-', '~>', '<~', '?>', '<?')]
        self.assertTrue(convo, r)
        for l in convo:
            self.assertTrue(l.startswith('?> ') or l.startswith('<? '), (l, r))

    def test_implicit_tls_works(self):
        srv, r = self.run_case('tls_ok.smtp', 'NOOP\nQUIT\n',
                               args=['--tls', '--cafile', self.cert], defines=self.defines)
        self.assert_exit(r, 0)
        self.assert_server_ok(srv, r)
        self.assert_line(r, '<~ 220 secret ESMTP')
        self.assert_line(r, '~> NOOP')
        self.assert_line(r, '<~ 250 2.0.0 ok under tls')
        self.assertTrue(any(l.startswith('*  ') and 'TLS' in l for l in self.stdout_lines(r)),
                        'no "*  TLS ..." line: %r' % r)
        self.assertEqual(self.diag_lines(r, 'warning'), [], r)

    def test_starttls_inside_tls_is_refused_locally(self):
        # RFC 3207 4.2: no STARTTLS on a TLS connection. Sent, a 220 would start a second
        # handshake on the raw socket under the first TLS layer (and leak the first one).
        for typed in ('STARTTLS', ' starttls'):
            srv, r = self.run_case('starttls_inside_tls.smtp', 'NOOP\n%s\nQUIT\n' % typed,
                                   args=['--tls', '--cafile', self.cert], defines=self.defines)
            self.assert_server_ok(srv, r)
            self.assertEqual(srv.record(), b'NOOP\r\n', r)
            self.assert_diag(r, 'error', r'STARTTLS not sent: .*already encrypted.*RFC 3207')
            self.assertFalse(any('STARTTLS' in l.upper() for l in self.stdout_lines(r)
                                 if l[:3] in ('~> ', '-> ')), r)
            self.assert_exit(r, 2)  # a local refusal ends a script, as "inside DATA" does


if __name__ == '__main__':
    tap_main()
