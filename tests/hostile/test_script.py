#!/usr/bin/python3
"""What a script means is decided by the script and the options, not by what the server
happens to answer: a refused DATA leaves the message's lines message content (skipped, never
sent or run); --strict stops at a refusing greeting; a locally refused \\send is a refusal
like the server's; \\connect says QUIT to the server it leaves; --pipeline survives a server
that refuses commands pipelined after the end of DATA (Haraka)."""

import os

from harness import SmtpshTestCase
from smtpshtest import run_smtpsh, tap_main

ENVELOPE = 'EHLO client.test\nMAIL FROM:<a@example.test>\nRCPT TO:<b@example.test>\n'


class RefusedData(SmtpshTestCase):
    def script(self):
        self.trap = os.path.join(self.tmp, 'created-by-the-message.txt')
        return (ENVELOPE + 'DATA\nSubject: a message\n\nRSET\n\\record %s\nQUIT\n'
                '..a stuffed line\n.\nNOOP\nQUIT\n' % self.trap)

    def test_message_lines_are_skipped_not_sent_or_run(self):
        srv, r = self.run_case('data_refused.smtp', self.script())
        self.assert_exit(r, 0)
        self.assert_server_ok(srv, r)  # nothing between DATA and NOOP reached the server
        self.assertEqual(self.sent_lines(srv),
                         [b'EHLO client.test', b'MAIL FROM:<a@example.test>',
                          b'RCPT TO:<b@example.test>', b'DATA', b'NOOP', b'QUIT'])
        self.assertFalse(os.path.exists(self.trap), '\\record ran from the message')
        self.assert_diag(r, 'warning', r'^!  warning: the server did not accept DATA \(554\): '
                                       r'6 lines of message content skipped \(\d+ octets\), '
                                       r'not sent and not run as commands$')
        self.assertNotIn('-> RSET', r.out())
        self.assert_line(r, '<- 250 2.0.0 still here')

    def test_strict_stops_at_the_refused_data(self):
        srv, r = self.run_case('data_refused.smtp', self.script(), args=['--strict'])
        self.assert_exit(r, 1)
        srv.wait()
        self.assertEqual(self.sent_lines(srv)[-1], b'DATA')
        self.assertFalse(os.path.exists(self.trap))

    def test_input_ending_inside_a_skipped_message(self):
        srv, r = self.run_case('data_refused.smtp', ENVELOPE + 'DATA\nSubject: x\n\nQUIT\n')
        self.assert_exit(r, 2)
        self.assert_diag(r, 'warning', r'3 lines of message content skipped')
        self.assert_diag(r, 'error', r'input ended inside the message')
        srv.wait()
        self.assertEqual(self.sent_lines(srv)[-1], b'DATA')

    def test_replay_skips_the_recorded_message_the_same_way(self):
        rec = os.path.join(self.tmp, 'session.smtp')
        srv, r = self.run_case('data_accepted.smtp', ENVELOPE + 'DATA\nSubject: a message\n\n'
                               'RSET\nQUIT\n.\nNOOP\nQUIT\n', args=['--record', rec])
        self.assert_exit(r, 0)
        self.assert_server_ok(srv, r)
        srv2, r2 = self.run_case('data_refused.smtp', '', args=['--replay', rec])
        self.assert_exit(r2, 1)  # DATA: 554 where the recording has 354
        self.assert_server_ok(srv2, r2)
        self.assert_diag(r2, 'warning', r'the server did not accept DATA \(554\): 4 lines of '
                                        r'message content skipped')


class RefusingGreeting(SmtpshTestCase):
    """--strict, --starttls and --send stop at a 4xx/5xx greeting: exit 1, nothing sent."""

    def run_greeting(self, code, args, stdin='EHLO client.test\nNOOP\nQUIT\n'):
        srv, r = self.run_case('greeting_refused.smtp', stdin, args=args,
                               defines={'CODE': str(code)})
        self.assert_server_ok(srv, r)
        self.assertEqual(srv.record(), b'', 'something was sent after a %d greeting' % code)
        self.assert_exit(r, 1)
        return r

    def test_strict_554(self):
        r = self.run_greeting(554, ['--strict'])
        self.assert_diag(r, 'error', r'--strict: the server refused the session \(554\): '
                                     r'stopping, nothing is sent')

    def test_strict_421(self):
        self.run_greeting(421, ['--strict'])

    def test_starttls(self):
        r = self.run_greeting(554, ['--starttls'])
        self.assert_diag(r, 'error', r'refused the session \(554\): stopping before STARTTLS')

    def test_send(self):
        r = self.run_greeting(554, ['--send', '--from', 'a@example.test', '--to',
                                    'b@example.test', '--body', 'hi'], stdin='')
        self.assert_diag(r, 'error', r'refused the session \(554\): the message is not sent')

    def test_without_strict_the_script_goes_on(self):
        srv, r = self.run_case('greeting_refused.smtp', 'NOOP\n', defines={'CODE': '554'},
                               smtpsh_timeout=1)
        self.assert_exit(r, 3)  # the scripted server does not answer it
        srv.wait()
        self.assertEqual(srv.record(), b'NOOP\r\n')


class Reconnect(SmtpshTestCase):
    """\\connect while connected says QUIT to the server it leaves (RFC 5321 4.1.1.10);
    \\disconnect stays the abrupt one."""

    OLD = ('send 220 old.example ESMTP\\r\\n\nexpect ^NOOP$\nsend 250 2.0.0 ok\\r\\n\n'
           'expect ^QUIT$\nsend 221 2.0.0 bye\\r\\n\nwait-close\n')
    NEW = ('send 220 new.example ESMTP\\r\\n\nexpect ^NOOP$\nsend 250 2.0.0 new ok\\r\\n\n'
           'expect ^QUIT$\nsend 221 2.0.0 bye\\r\\n\nwait-close\n')

    def run_text(self, script, stdin, args=()):
        """run_case with the server's script as text."""
        srv = self.server(script, text=True)
        r = run_smtpsh(['--timeout', '5'] + list(args) + ['127.0.0.1', str(srv.port)],
                       stdin=stdin.encode(), timeout=15, home=self.tmp, cwd=self.tmp)
        self.assert_no_crash(r)
        return srv, r

    def test_connect_says_quit_to_the_old_server(self):
        new = self.server(self.NEW, text=True)
        srv, r = self.run_text(self.OLD, 'NOOP\n\\connect 127.0.0.1 %d\nNOOP\nQUIT\n' % new.port)
        self.assert_exit(r, 0)
        self.assert_server_ok(srv, r)  # the old server got its QUIT
        self.assert_server_ok(new, r)
        lines = self.stdout_lines(r)
        self.assertLess(lines.index('<- 221 2.0.0 bye'), lines.index('<- 220 new.example ESMTP'))

    def test_disconnect_sends_no_quit(self):
        old = 'send 220 old.example ESMTP\\r\\n\nexpect ^NOOP$\nsend 250 2.0.0 ok\\r\\n\nwait-close\n'
        srv, r = self.run_text(old, 'NOOP\n\\disconnect\n')
        self.assert_exit(r, 0)
        self.assert_server_ok(srv, r)
        self.assertEqual(srv.record(), b'NOOP\r\n')


class HarakaPipelining(SmtpshTestCase):
    """--pipeline against a server that refuses commands pipelined after the end of DATA."""

    TWO = (ENVELOPE +
           'DATA\nSubject: one\n\nfirst\n.\nMAIL FROM:<a@example.test>\n'
           'RCPT TO:<b@example.test>\nDATA\nSubject: two\n\nsecond\n.\nQUIT\n')
    # The second message, its "." alone (nothing pipelined after it: the step would refuse
    # the QUIT and the script's "expect ^QUIT$" fail), then QUIT.
    SECOND = ('expect ^Subject: two$\nexpect ^$\nexpect ^second$\n'
              'end-of-data 250 2.0.0 queued two\\r\\n\nexpect ^QUIT$\n'
              'send 221 2.0.0 bye\\r\\n\nwait-close')

    def run_haraka(self, data2, rest):
        """cases/haraka_pipelining.smtp with the reply to the second DATA and the rest."""
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'cases',
                               'haraka_pipelining.smtp')) as f:
            script = f.read().replace('${DATA2}', data2) + rest + '\n'
        srv = self.server(script, text=True)
        r = run_smtpsh(['--timeout', '5', '--pipeline', '127.0.0.1', str(srv.port)],
                       stdin=self.TWO.encode(), timeout=15, home=self.tmp, cwd=self.tmp)
        self.assert_no_crash(r)
        return srv, r

    def test_both_messages_delivered(self):
        srv, r = self.run_haraka('354 go ahead', self.SECOND)
        self.assert_exit(r, 0)
        self.assert_server_ok(srv, r)  # message two's lines and "." came after the 354
        self.assertRegex(r.out(), r'\n<- 250 2\.0\.0 queued one\b')
        self.assertRegex(r.out(), r'\n<- 250 2\.0\.0 queued two\n')  # "." alone: no group
        self.assert_diag(r, 'warning', r'refused the 3 commands pipelined after the end of '
                                       r'DATA \(503\): sending them again one at a time')
        self.assertEqual(len(self.diag_lines(r, 'error')), 0, r)

    def test_a_message_lost_after_the_refusal_exits_1(self):
        second = ('expect ^QUIT$\nsend 221 2.0.0 bye\\r\\n\nwait-close')
        srv, r = self.run_haraka('554 5.7.1 not now', second)
        self.assert_exit(r, 1)  # even without --strict
        self.assert_server_ok(srv, r)
        self.assert_diag(r, 'error', r'the message after a refused pipelined group was not '
                                     r'accepted either')


if __name__ == '__main__':
    tap_main()
