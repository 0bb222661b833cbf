#!/usr/bin/python3
"""The interactive shell in a real pty (pexpect): prompt, Tab completion, a reply that arrives
while the user types, Ctrl-C on a half-typed line and while waiting for a reply, Ctrl-D.

Environment: TERM=xterm, INPUTRC=tests/pty/inputrc (no bracketed paste), NO_COLOR=1, HOME
a temporary folder. The scripted server (tests/hostile/server.py) records what smtpsh sent.
Readline echoes only what it inserts: after "EH" and Tab the terminal shows "LO ".
"""

import os
import re
import time

import pexpect

HERE = os.path.dirname(os.path.abspath(__file__))
from harness import SmtpshTestCase
from smtpshtest import pty_environ, tap_main

INPUTRC = os.path.join(HERE, 'inputrc')
TIMEOUT = 5



def prompt_rx(port, phase=None, host='127.0.0.1'):
    """The prompt of src/ui/repl.c: "HOST:PORT[ tls][ auth] PHASE> " (any phase when None)."""
    return (re.escape('%s:%d' % (host, port)) + r'(?: tls)?(?: auth)? ' +
            (re.escape(phase) if phase else r'[a-z]+') + r'> ')


class Repl(SmtpshTestCase):
    def spawn(self, case, args=(), env_extra=None):
        self.srv = self.server(case)
        env = pty_environ(self.tmp, INPUTRC, COLUMNS='200', LINES='40', **(env_extra or {}))
        self.log_path = os.path.join(self.tmp, 'pty.log')
        self.logf = open(self.log_path, 'wb')
        argv = ['--timeout', '5'] + list(args) + ['127.0.0.1', str(self.srv.port)]
        self.child = pexpect.spawn(self.smtpsh, argv, env=env, cwd=self.tmp,
                                   timeout=TIMEOUT, dimensions=(40, 200))
        self.child.logfile_read = self.logf
        return self.child

    def tearDown(self):
        child = getattr(self, 'child', None)
        if child is not None and child.isalive():
            child.terminate(force=True)
        if getattr(self, 'logf', None):
            self.logf.close()
        super().tearDown()

    def raw_transcript(self):
        """Every byte smtpsh wrote to the terminal so far."""
        self.logf.flush()
        with open(self.log_path, 'rb') as f:
            return f.read()

    def transcript(self):
        return self.raw_transcript().decode('utf-8', 'replace')

    def expect(self, rx):
        """child.expect with a useful failure message (what the terminal showed)."""
        try:
            return self.child.expect(rx)
        except (pexpect.TIMEOUT, pexpect.EOF) as e:
            self.fail('waited for /%s/, got %s; terminal so far:\n%r\n--- server log\n%s'
                      % (rx, type(e).__name__, self.transcript()[-3000:],
                         self.srv.log()[-3000:]))

    def expect_exact(self, s):
        try:
            return self.child.expect_exact(s)
        except (pexpect.TIMEOUT, pexpect.EOF) as e:
            self.fail('waited for %r, got %s; terminal so far:\n%r\n--- server log\n%s'
                      % (s, type(e).__name__, self.transcript()[-3000:],
                         self.srv.log()[-3000:]))

    def prompt(self, phase=None):
        return prompt_rx(self.srv.port, phase)

    def ctrl_d_quit(self):
        """Ctrl-D on an empty line: QUIT is sent, the 221 shown, smtpsh exits with 0."""
        self.child.sendcontrol('d')
        self.expect(r'221 2\.0\.0 bye')
        self.expect(pexpect.EOF)
        self.child.close()
        self.assertEqual(self.child.exitstatus, 0,
                         'exit status %r / signal %r\n%r' % (self.child.exitstatus,
                                                             self.child.signalstatus,
                                                             self.transcript()[-2000:]))
        self.assert_server_ok(self.srv)
        self.assertNotRegex(self.transcript(), r'Segmentation|Sanitizer|runtime error')

    # -- tests ------------------------------------------------------------------------

    def test_password_command_asks_on_the_terminal(self):
        # Issue 12 (defect 9): the command runs in its own process group (so a timeout kills
        # all of it) and is the terminal's foreground job meanwhile: it can ask on the terminal.
        cmd = "printf 'passphrase? ' >/dev/tty; read -r p </dev/tty; echo \"$p\""
        self.spawn('pty_auth_command.smtp', ['--password-command', cmd])
        self.expect(self.prompt())
        self.child.sendline('EHLO client.test')
        self.expect(self.prompt())
        self.child.sendline('\\auth PLAIN alice')
        self.expect_exact('passphrase? ')
        self.child.sendline('tty-secret')
        self.expect(r'235 2\.7\.0 ok')
        self.expect(self.prompt())
        self.ctrl_d_quit()

    def test_prompt_shows_host_and_phase(self):
        self.spawn('pty_complete.smtp')
        self.expect(r'220 pty\.example ESMTP')
        self.expect(self.prompt('greeted'))
        self.child.send('EHLO client.test\r')
        self.expect(r'250 SIZE 1000')
        self.expect(self.prompt('ready'))
        self.child.send('MAIL FROM:<a@b.test>\r')
        self.expect(r'250 2\.1\.0 ok')
        self.expect(self.prompt('mail'))
        self.ctrl_d_quit()

    def test_ctrl_d_sends_quit(self):
        self.spawn('pty_quit.smtp')
        self.expect(self.prompt())
        self.ctrl_d_quit()
        self.assertEqual(self.srv.record(), b'QUIT\r\n')

    def test_tab_completes_verbs(self):
        self.spawn('pty_complete.smtp')
        self.expect(self.prompt('greeted'))
        self.child.send('EH')
        self.expect_exact('EH')
        self.child.send('\t')
        self.expect_exact('LO ')
        self.child.send('client.test\r')
        self.expect(r'250 SIZE 1000')
        self.expect(self.prompt('ready'))
        self.child.send('MAIL ')
        self.expect_exact('MAIL ')
        self.child.send('\t')
        self.expect_exact('FROM:<')
        self.child.send('a@b.test>\r')
        self.expect(r'250 2\.1\.0 ok')
        self.expect(self.prompt('mail'))
        self.ctrl_d_quit()
        self.assertEqual(self.srv.record(),
                         b'EHLO client.test\r\nMAIL FROM:<a@b.test>\r\nQUIT\r\n')

    def test_tab_completes_local_commands(self):
        self.spawn('pty_quit.smtp')
        self.expect(self.prompt())
        self.child.send('\\con')
        self.expect_exact('\\con')
        self.child.send('\t')
        self.expect_exact('nect ')
        # Throw the line away (Ctrl-U) and leave: nothing but QUIT reaches the server.
        self.child.sendcontrol('u')
        time.sleep(0.2)
        self.ctrl_d_quit()
        self.assertEqual(self.srv.record(), b'QUIT\r\n')

    def test_unsolicited_reply_redraws_the_line(self):
        self.spawn('pty_unsolicited.smtp')
        self.expect(self.prompt())
        self.child.send('NOOP partial')
        self.expect_exact('NOOP partial')
        # The server sends 421 about 2 s after the greeting, without being asked.
        self.expect(r'421 4\.4\.2 timeout')
        # ... then the prompt and the half-typed line are drawn again, intact.
        self.expect(self.prompt() + r'NOOP partial')
        self.child.send(' line\r')
        self.expect(r'250 2\.0\.0 ok')
        self.expect(self.prompt())
        self.ctrl_d_quit()
        self.assertEqual(self.srv.record(), b'NOOP partial line\r\nQUIT\r\n')

    def test_server_closes_while_the_user_types(self):
        self.spawn('pty_421_close.smtp')
        self.expect(self.prompt('greeted'))
        self.child.send('NOOP partial')
        self.expect_exact('NOOP partial')
        self.expect(r'421 4\.4\.2 idle too long, closing')
        # The shell notices the close: the prompt says so, and the typed text is kept.
        self.expect(r'smtpsh> NOOP partial')
        self.child.send(' line\r')
        self.expect(r'!  error: [^\r\n]*not connected')
        self.expect(r'smtpsh> ')
        self.child.sendcontrol('d')
        self.expect(pexpect.EOF)
        self.child.close()
        self.assertIsNone(self.child.signalstatus, self.transcript())
        self.assert_server_ok(self.srv)
        self.assertEqual(self.srv.record(), b'')

    def test_ctrl_c_clears_the_line(self):
        self.spawn('pty_ctrl_c_line.smtp')
        self.expect(self.prompt())
        self.child.send('MAIL FROM:<oops@example.test>')
        self.expect_exact('oops@example.test>')
        self.child.sendcontrol('c')
        self.expect(self.prompt())
        self.child.send('NOOP\r')
        self.expect(r'250 2\.0\.0 ok')
        self.expect(self.prompt())
        self.ctrl_d_quit()
        self.assertNotIn(b'oops', self.srv.record())

    def test_ctrl_c_while_waiting_for_a_reply(self):
        self.spawn('pty_ctrl_c_wait.smtp')
        self.expect(self.prompt())
        self.child.send('VRFY slow\r')
        self.expect(r'VRFY slow\r?\n')   # echoed/sent; now smtpsh waits for the reply
        time.sleep(0.5)
        self.child.sendcontrol('c')
        self.expect(self.prompt())         # the prompt is back before any reply...
        self.assertTrue(self.child.isalive())
        self.child.send('NOOP\r')        # ... and the session still works
        self.expect(r'250 2\.0\.0 noop ok')
        self.expect(self.prompt())
        self.ctrl_d_quit()
        self.assertIn('252 2.0.0 late answer', self.transcript())

    def test_ctrl_c_during_a_flood_brings_the_prompt_back(self):
        # The server never stops sending: the deadline and the interrupt are checked on
        # every read, not only when the socket is empty; the flood is not printed past the
        # cap of 1000 lines.
        self.spawn('pty_flood.smtp', args=['--timeout', '60'])
        self.expect(self.prompt())
        self.child.send('NOOP\r')
        self.expect(r'250 2\.0\.0 noop ok')
        time.sleep(0.5)
        self.child.sendcontrol('c')
        self.expect(r'interrupted while the server kept sending unasked; connection closed')
        self.expect(r'smtpsh> ')
        self.assertTrue(self.child.isalive())
        self.assertLess(self.transcript().count('250 2.0.0 flood'), 1100)
        self.child.send('\\status\r')  # the shell still answers
        self.expect(r'not connected')
        self.child.sendcontrol('d')
        self.expect(pexpect.EOF)

    def test_ctrl_c_during_a_reply_that_never_ends(self):
        self.spawn('pty_endless_line.smtp', args=['--timeout', '60'])
        self.expect(self.prompt())
        self.child.send('NOOP\r')
        self.expect(r'reply line longer than|too long|64 KiB|longer')
        time.sleep(0.5)
        self.child.sendcontrol('c')
        self.expect(r'interrupted while waiting for the reply to "NOOP"')
        self.expect(r'smtpsh> ')  # the connection was closed: the stream cannot be followed
        self.assertTrue(self.child.isalive())
        self.child.send('\\status\r')  # the shell answers (no endless read behind the prompt)
        self.expect(r'not connected')
        self.assertLess(len(self.raw_transcript()), 64 * 1024)
        self.child.sendcontrol('d')
        self.expect(pexpect.EOF)

    def test_completion_does_not_print_hostile_capabilities_raw(self):
        # AUTH mechanisms come from the server's EHLO reply; listing them for completion
        # must not send its escape sequences (ESC, OSC, or the C1 CSI U+009B) to the terminal.
        self.spawn('pty_hostile_caps.smtp')
        self.expect(self.prompt('greeted'))
        self.child.send('EHLO client.test\r')
        self.expect(r'250 SIZE 1000')
        self.expect(self.prompt('ready'))
        mark = len(self.raw_transcript())
        self.child.send('AUTH ')
        self.expect_exact('AUTH ')
        self.child.send('\t')
        # Only well-formed mechanism names (RFC 4422) are offered: PLAIN is the one here.
        self.expect_exact('PLAIN ')
        self.child.send('\t\t')  # nothing else is listed
        time.sleep(0.3)
        self.child.sendcontrol('u')
        time.sleep(0.2)
        self.ctrl_d_quit()
        shown = self.raw_transcript()[mark:]
        for bad in (b'\x1b[31m', b'\x1b]0;', b'\x07', b'\xc2\x9b'):
            self.assertNotIn(bad, shown, 'raw %r from the server reached the terminal: %r'
                             % (bad, shown))

    def test_auth_secrets_masked_and_kept_out_of_history(self):
        self.spawn('pty_auth_secret.smtp')
        self.expect(self.prompt('greeted'))
        self.child.send('EHLO client.test\r')
        self.expect(r'250 AUTH PLAIN LOGIN')
        self.expect(self.prompt('ready'))
        self.child.send('AUTH PLAIN AHN0dWRlbnQAczNjcjN0')
        self.expect_exact('AUTH PLAIN ' + '*' * len('AHN0dWRlbnQAczNjcjN0'))  # masked while typed
        self.child.send('\r')
        self.expect_exact('AUTH PLAIN <redacted>')
        self.expect(r'535 5\.7\.8')
        self.expect(self.prompt('ready'))
        self.child.send('AUTH LOGIN\r')
        self.expect(r'334 VXNlcm5hbWU6')
        self.expect(self.prompt('ready'))  # "auth" shows in the prompt
        self.child.send('c3R1ZGVudA==\r')
        self.expect(r'334 UGFzc3dvcmQ6')
        self.child.send('czNjcjN0\r')
        self.expect(r'235 2\.7\.0')
        self.expect(self.prompt('ready'))
        self.child.send('NOOP\r')
        self.expect(r'250 2\.0\.0 ok')
        self.expect(self.prompt('ready'))
        # History: NOOP, AUTH LOGIN, EHLO; never a line that holds a secret.
        for want in ('NOOP', 'AUTH LOGIN', 'EHLO client.test'):
            self.child.send('\x1b[A')  # Up
            self.expect_exact(want)
        self.child.sendcontrol('u')
        time.sleep(0.2)
        self.ctrl_d_quit()
        shown = self.transcript()
        for secret in ('AHN0dWRlbnQAczNjcjN0', 'czNjcjN0'):
            self.assertNotIn(secret, shown, 'secret %r on screen' % secret)
        # AUTH LOGIN's user name is no secret: shown once sent, decoded beside it, as \auth
        # shows it (issue 17); the password stays <redacted>
        self.assertIn('-> c3R1ZGVudA==  \t[student]', shown)
        self.assertEqual(shown.count('<redacted>'), 2, shown)

    def history_file(self):
        path = os.path.join(self.tmp, 'history')
        if not os.path.exists(path):
            return ''
        with open(path, 'rb') as f:
            return f.read().decode('utf-8', 'replace')

    def test_auth_spelt_any_way_masked_redacted_and_kept_out_of_history(self):
        # A server splits on any white space: a TAB (typed with C-v TAB, Readline's
        # quoted-insert), a leading blank, double blanks all carry the response.
        secret = 'AHN0dWRlbnQAczNjcjN0'
        self.spawn('pty_auth_spellings.smtp',
                   env_extra={'SMTPSH_HISTFILE': os.path.join(self.tmp, 'history')})
        self.expect(self.prompt('greeted'))
        self.child.send('EHLO client.test\r')
        self.expect(r'250 AUTH PLAIN LOGIN')
        self.expect(self.prompt('ready'))
        for before, after in (('AUTH\x16\tPLAIN', ' '), (' AUTH PLAIN', ' '),
                              ('AUTH  PLAIN', '  ')):
            self.child.send(before + after)
            time.sleep(0.1)
            for c in secret:  # typed key by key: masked from the first character on
                self.child.send(c)
            self.expect_exact('*' * len(secret))
            self.child.send('\r')
            self.expect_exact('AUTH PLAIN <redacted>')
            self.expect(r'535 5\.7\.8')
            self.expect(self.prompt('ready'))
        self.child.send('NOOP\r')
        self.expect(r'250 2\.0\.0 ok')
        self.expect(self.prompt('ready'))
        self.ctrl_d_quit()
        shown = self.transcript()
        for s in (secret, secret[:4]):
            self.assertNotIn(s, shown, 'secret %r on screen' % s)
        hist = self.history_file()
        self.assertIn('NOOP', hist)
        self.assertNotIn(secret[:4], hist, 'secret in the history file: %r' % hist)

    def test_masked_answer_stays_masked_when_the_server_closes(self):
        # Inside AUTH LOGIN the user types the masked answer; meanwhile the server says 421
        # and closes. The half-typed answer must not be redrawn in clear, nor sent as a
        # command, nor enter the history.
        secret = 'c2VjcmV0LXVzZXI='
        self.spawn('pty_auth_421.smtp',
                   env_extra={'SMTPSH_HISTFILE': os.path.join(self.tmp, 'history')})
        self.expect(self.prompt('greeted'))
        self.child.send('EHLO client.test\r')
        self.expect(r'250 AUTH PLAIN LOGIN')
        self.expect(self.prompt('ready'))
        self.child.send('AUTH LOGIN\r')
        self.expect(r'334 VXNlcm5hbWU6')
        self.expect(re.escape('127.0.0.1:%d auth ready> ' % self.srv.port))
        for c in secret[:8]:  # typing when the 421 arrives
            self.child.send(c)
            time.sleep(0.05)
        self.expect_exact('*' * 8)
        self.expect(r'421 4\.4\.2 idle too long, closing')
        self.expect(r'smtpsh> \*{8}')  # redrawn under the new prompt, still masked
        for c in secret[8:]:
            self.child.send(c)
        self.expect_exact('*' * (len(secret) - 8))
        self.child.send('\r')
        self.expect(r'the AUTH exchange ended while its answer was typed: the answer is '
                    r'not sent')
        self.expect(r'smtpsh> ')
        self.child.send('\x1b[A')  # Up: the line before the secret
        self.expect_exact('AUTH LOGIN')
        self.child.sendcontrol('u')
        self.child.sendcontrol('d')
        self.expect(pexpect.EOF)
        self.child.close()
        self.assertIsNone(self.child.signalstatus, self.transcript())
        self.assert_server_ok(self.srv)
        shown = self.transcript()
        for s in (secret, secret[:8], secret[8:]):
            self.assertNotIn(s, shown, 'secret %r on screen' % s)
        hist = self.history_file()
        self.assertIn('AUTH LOGIN', hist)
        self.assertNotIn(secret[:8], hist, 'secret in the history file: %r' % hist)
        self.assertEqual(self.srv.record(), b'EHLO client.test\r\nAUTH LOGIN\r\n')


if __name__ == '__main__':
    tap_main()
