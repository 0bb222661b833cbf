#!/usr/bin/python3
"""A server that never stops sending: an endless multi-line reply, a reply line without end,
replies nobody asked for without end. The reply timeout must hold although bytes keep
arriving, the flood must not be printed (the output stays small), and the message must say
what happened. The scripted server sends for as long as smtpsh reads (at most its lifetime)."""


from harness import SmtpshTestCase
from smtpshtest import tap_main

OUTPUT_MAX = 200 * 1024  # 1000 reply lines of this flood and a few lines of our own


class Flood(SmtpshTestCase):
    def run_flood(self, case, stdin='NOOP\nQUIT\n', quiet_after=True):
        srv, r = self.run_case(case, stdin, smtpsh_timeout=2, kill_after=30)
        self.assertLess(r.elapsed, 6.0, 'a 2 s timeout took %.1f s: %r' % (r.elapsed, r))
        self.assertLess(len(r.stdout_bytes) + len(r.stderr_bytes), OUTPUT_MAX,
                        'the flood was printed: %d bytes of output' % len(r.stdout_bytes))
        if quiet_after:
            self.assertNotIn(b'QUIT', srv.record(), 'a command was sent into the flood')
        return srv, r

    def test_endless_multiline_reply_is_cut_at_1000_lines(self):
        srv, r = self.run_flood('endless_reply.smtp')
        self.assert_exit(r, 5)
        self.assert_diag(r, 'error', r'more than 1000 lines; the rest is not shown '
                                     r'\(\d+ more lines, \d+ bytes already received\); '
                                     r'connection closed')
        lines = self.stdout_lines(r)
        self.assertEqual(sum(1 for l in lines if l.startswith('<- 250-flood')), 1000, r)
        self.assertEqual(len(self.diag_lines(r)), 1, r)

    def test_endless_line_is_bounded_by_the_timeout(self):
        srv, r = self.run_flood('endless_line.smtp')
        self.assert_exit(r, 3)
        self.assert_diag(r, 'error', r'no reply to the command within 2 s \(the server was '
                                     r'still sending it\)')

    def test_endless_unsolicited_replies_are_bounded_by_the_timeout(self):
        # Replies that keep coming are taken for the replies to NOOP and QUIT (nothing tells
        # them apart); what matters is that smtpsh stops and prints a bounded part of it.
        srv, r = self.run_flood('endless_unsolicited.smtp', quiet_after=False)
        self.assertRegex(r.out(), r'\n\*  \.\.\. \d+ more lines nobody asked for not shown '
                                  r'\(\d+ bytes\)\n')


if __name__ == '__main__':
    tap_main()
