#!/usr/bin/python3
"""\\raw in the REPL (a real pty): an AUTH in raw octets is shown redacted and kept out of the
history (Readline's and the file), while other \\raw lines are kept; replies that come while
the prompt waits are shown as they arrive."""

import os

import pexpect
from harness import SmtpshTestCase
from smtpshtest import clean_environ, tap_main

HERE = os.path.dirname(os.path.abspath(__file__))

SECRET = 'AGFsaWNlAHNlY3JldA=='
SCRIPT = ''.join(l + '\n' for l in (
    'send 220 pty.example ESMTP\\r\\n',
    'expect ^AUTH PLAIN %s$' % SECRET,
    'send 235 2.7.0 ok\\r\\n',
    'expect ^AUTH PLAIN %s$' % SECRET,
    'send 235 2.7.0 again\\r\\n',
    'expect-bytes NOOP\\n',
    'send 250 2.0.0 raw noop\\r\\n',
    'expect ^QUIT$',
    'send 221 2.0.0 bye\\r\\n',
    'wait-close'))


class RawRepl(SmtpshTestCase):
    def test_auth_in_raw_redacted_and_not_in_history(self):
        srv = self.server(SCRIPT, text=True)
        hist = os.path.join(self.tmp, 'history')
        env = clean_environ()
        env.update({'TERM': 'xterm', 'INPUTRC': os.path.join(HERE, 'inputrc'), 'NO_COLOR': '1',
                    'HOME': self.tmp, 'LC_ALL': 'C.UTF-8', 'SMTPSH_HISTFILE': hist})
        log = open(os.path.join(self.tmp, 'pty.log'), 'wb')
        self.addCleanup(log.close)
        child = pexpect.spawn(self.smtpsh, ['--timeout', '5', '127.0.0.1', str(srv.port)],
                              env=env, cwd=self.tmp, timeout=5, dimensions=(40, 200))
        self.addCleanup(lambda: child.isalive() and child.terminate(force=True))
        child.logfile_read = log
        child.expect(r'greeted> ')
        child.send('\\ra\t')  # Tab completes the local command...
        child.expect_exact('w ')
        child.send('AU\t')  # ...and a verb after it
        child.expect_exact('TH ')
        child.sendcontrol('u')
        child.send('\\raw AUTH PLAIN %s\\r\\n\r' % SECRET)
        child.expect_exact('-> AUTH PLAIN <redacted>\\r\\n')
        child.expect_exact('<- 235 2.7.0 ok')  # shown as it arrives, at the prompt
        # an AUTH over two raw writes: the second holds the secret, seen as such
        child.send('\\raw AUTH PLAIN \r')
        child.expect_exact('-> AUTH PLAIN   \t[raw, 11 octets]')
        child.send('\\raw %s\\r\\n\r' % SECRET)
        child.expect_exact('-> <redacted>\\r\\n')
        child.expect_exact('<- 235 2.7.0 again')
        child.send('\\raw NOOP\\n\r')
        child.expect_exact('<- 250 2.0.0 raw noop')
        child.send('\x1b[A')  # Up: the \raw NOOP line is in the history
        child.expect_exact('\\raw NOOP\\n')
        child.sendcontrol('u')
        child.sendcontrol('d')  # QUIT
        child.expect_exact('<- 221 2.0.0 bye')
        child.expect(pexpect.EOF)
        self.assert_server_ok(srv)
        log.flush()
        with open(os.path.join(self.tmp, 'pty.log'), 'rb') as f:
            shown = f.read().decode('utf-8', 'replace')
        # what smtpsh showed (not the echo of the typing): never the secret
        said = [l for l in shown.splitlines() if l.startswith(('->', '<-', '!', '*'))]
        self.assertTrue(said)
        self.assertFalse([l for l in said if SECRET in l], said)
        with open(hist, encoding='utf-8') as f:
            lines = f.read().splitlines()
        self.assertIn('\\raw NOOP\\n', lines)
        self.assertFalse([l for l in lines if SECRET in l or 'AUTH' in l], lines)


if __name__ == '__main__':
    tap_main()
