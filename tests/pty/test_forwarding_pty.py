#!/usr/bin/python3
"""Tab completion for issue 14's dialects in a real pty (pexpect): in LMTP (--lmtp) Tab offers
LHLO and neither EHLO nor HELO; XCLIENT's attributes come from the server's list, each once;
after XCLIENT's new greeting the prompt says greeted. The scripted server
(tests/hostile/server.py) checks the completed lines byte for byte.
Readline echoes only what it inserts: after "LH" and Tab the terminal shows "LO ".
"""

import test_repl  # beside this file: the script's own folder is on sys.path
from smtpshtest import tap_main


class Forwarding(test_repl.Repl):
    """test_repl's helpers (spawn, expect, prompt, ctrl_d_quit); its tests run there."""

    def test_lmtp_completion_and_xclient(self):
        self.spawn('pty_lmtp_xclient.smtp', ['--lmtp'])
        self.expect(self.prompt('greeted'))
        self.child.send('EH\t')  # no EHLO in LMTP: nothing to insert
        self.child.send('\x15')  # Ctrl-U: the line is empty again
        self.child.send('LH\t')
        self.expect_exact('LO ')
        self.child.send('client.test\r')
        self.expect(self.prompt('ready'))
        self.child.send('XC\t')
        self.expect_exact('LIENT ')
        self.child.send('A\t')
        self.expect_exact('DDR=')
        self.child.send('192.0.2.1 \t\t')
        self.expect(r'NAME=\s+HELO=|HELO=\s+NAME=')  # ADDR= given: not offered again
        self.child.send('H\t')
        self.expect_exact('ELO=')
        self.child.send('h.test\r')
        self.expect(r'XCLIENT accepted')
        self.expect(self.prompt('greeted'))
        self.ctrl_d_quit()


for _name in dir(test_repl.Repl):
    if _name.startswith('test_'):
        setattr(Forwarding, _name, None)  # not callable: the loader leaves it out

if __name__ == '__main__':
    tap_main()
