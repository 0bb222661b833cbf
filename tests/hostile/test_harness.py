#!/usr/bin/python3
"""Checks tests/hostile/server.py itself with a tiny Python client (no smtpsh needed).

If the harness is wrong, every hostile test is worthless; this keeps it honest.
"""

import os
import shutil
import socket
import subprocess
import ssl
import tempfile
import time
import unittest

import harness
import server
from smtpshtest import make_cert, tap_main


def connect(port):
    s = socket.create_connection(('127.0.0.1', port), timeout=5)
    return s


def read_until(s, marker, limit=10 * 1024 * 1024):
    data = b''
    while marker not in data:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
        if len(data) > limit:
            break
    return data


class Unescape(unittest.TestCase):
    def test_escapes(self):
        self.assertEqual(server.unescape(r'a\r\n\t\e\0\\\s\x41\xff'),
                         b'a\r\n\t\x1b\0\\ A\xff')

    def test_bad_escapes(self):
        for bad in ('\\', r'\q', r'\x4', r'\xzz'):
            with self.assertRaises(server.ScriptError):
                server.unescape(bad)


class Harness(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='smtpsh-harness-')

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def srv(self, text, **kw):
        return harness.ScriptedServer(text, self.tmp, text=True, **kw)

    def test_send_expect_record(self):
        with self.srv('send 220 hi \\e[31m\\r\\n\n'
                      'expect EHLO (\\S+)\n'
                      'send-bytes-slowly 250 ok\\r\\n\n'
                      'expect QUIT\n'
                      'send 221 bye\\r\\n\n'
                      'wait-close\n') as srv:
            s = connect(srv.port)
            self.assertEqual(read_until(s, b'\r\n'), b'220 hi \x1b[31m\r\n')
            s.sendall(b'EHLO me\r\n')
            got = b''
            reads = 0
            while not got.endswith(b'\r\n'):
                got += s.recv(100)
                reads += 1
            self.assertEqual(got, b'250 ok\r\n')
            self.assertGreater(reads, 3, 'send-bytes-slowly came in one piece')
            s.sendall(b'QUIT\r\n')
            self.assertEqual(read_until(s, b'\r\n'), b'221 bye\r\n')
            s.close()
            self.assertEqual(srv.wait(), 0, srv.log())
            self.assertEqual(srv.record(), b'EHLO me\r\nQUIT\r\n')

    def test_end_of_data_refuses_what_is_pipelined_after_the_dot(self):
        # Haraka's rule: the message gets its reply, every command after the "." a 503.
        with self.srv('send 220 hi\\r\\n\n'
                      'end-of-data 250 queued\\r\\n\n'
                      'expect NOOP\n'
                      'send 250 ok\\r\\n\n'
                      'end-of-data 250 queued again\\r\\n\n'
                      'wait-close\n') as srv:
            s = connect(srv.port)
            read_until(s, b'\r\n')
            s.sendall(b'.\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n')
            want = (b'250 queued\r\n' + server.Server.PIPELINED_AFTER_DATA * 2)
            self.assertEqual(read_until(s, want), want)
            s.sendall(b'NOOP\r\n')  # the refused commands are forgotten: NOOP is next
            self.assertEqual(read_until(s, b'\r\n'), b'250 ok\r\n')
            s.sendall(b'.\r\n')  # alone: no 503
            self.assertEqual(read_until(s, b'again\r\n'), b'250 queued again\r\n')
            s.close()
            self.assertEqual(srv.wait(), 0, srv.log())

    def test_expect_mismatch_fails(self):
        with self.srv('send 220 hi\\r\\n\nexpect NOOP\n') as srv:
            s = connect(srv.port)
            read_until(s, b'\r\n')
            s.sendall(b'RSET\r\n')
            self.assertEqual(srv.wait(), 1)
            self.assertIn('FAILED', srv.log())
            s.close()

    def test_expect_wants_crlf(self):
        with self.srv('expect NOOP\n') as srv:
            s = connect(srv.port)
            s.sendall(b'NOOP\n')
            self.assertEqual(srv.wait(), 1)
            self.assertIn('CRLF', srv.log())
            s.close()

    def test_expect_silence(self):
        with self.srv('expect-silence 300\nexpect-silence 2000\n') as srv:
            s = connect(srv.port)
            time.sleep(0.6)
            s.sendall(b'X\r\n')
            self.assertEqual(srv.wait(), 1)
            s.close()

    def test_send_repeat_and_close(self):
        with self.srv('send 220 \nsend-repeat 1000000 AB\nclose\n') as srv:
            s = connect(srv.port)
            data = read_until(s, b'never')
            s.close()
            self.assertEqual(len(data), 4 + 2000000)
            self.assertTrue(data.startswith(b'220 ABAB'))
            self.assertEqual(srv.wait(), 0, srv.log())

    def test_client_gone_is_not_fatal(self):
        with self.srv('send-repeat 5000000 A\nsend 250 more\\r\\n\n') as srv:
            s = connect(srv.port)
            s.recv(10)
            s.close()
            self.assertEqual(srv.wait(), 0, srv.log())

    def test_sleep_records(self):
        with self.srv('sleep 500\nexpect NOOP\nsend 250 ok\\r\\n\n') as srv:
            s = connect(srv.port)
            s.sendall(b'NOOP\r\n')
            self.assertEqual(read_until(s, b'\r\n'), b'250 ok\r\n')
            s.close()
            self.assertEqual(srv.wait(), 0, srv.log())

    def test_lifetime(self):
        with self.srv('expect NOOP\n', lifetime=1.0) as srv:
            start = time.monotonic()
            s = connect(srv.port)
            rc = srv.wait()
            self.assertIn(rc, (1, 3))
            self.assertLess(time.monotonic() - start, 5)
            s.close()
        with self.srv('send x\n', lifetime=1.0) as srv:
            self.assertEqual(srv.wait(), 3)  # nobody connected

    def test_script_error_exit_2(self):
        path = os.path.join(self.tmp, 'bad.txt')
        with open(path, 'w') as f:
            f.write('frobnicate now\n')
        p = subprocess.run([harness.PYTHON, harness.SERVER, path], capture_output=True,
                           timeout=10)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b'unknown step', p.stderr)

    def test_define(self):
        with self.srv('send ${GREETING}\\r\\n\n', defines={'GREETING': '220 defined'}) as srv:
            s = connect(srv.port)
            self.assertEqual(read_until(s, b'\r\n'), b'220 defined\r\n')
            s.close()
            self.assertEqual(srv.wait(), 0, srv.log())

    def test_starttls_injection_and_tls(self):
        cert, key = make_cert(self.tmp)
        with self.srv('send 220 hi\\r\\n\n'
                      'expect STARTTLS\n'
                      'send 220 go\\r\\n250 injected\\r\\n\n'
                      'tls ${CERT} ${KEY}\n'
                      'expect NOOP\n'
                      'send 250 real\\r\\n\n'
                      'wait-close\n', defines={'CERT': cert, 'KEY': key}) as srv:
            s = connect(srv.port)
            read_until(s, b'\r\n')
            s.sendall(b'STARTTLS\r\n')
            got = read_until(s, b'injected\r\n')
            self.assertEqual(got, b'220 go\r\n250 injected\r\n')  # one write
            ctx = ssl.create_default_context(cafile=cert)
            t = ctx.wrap_socket(s, server_hostname='localhost')
            t.sendall(b'NOOP\r\n')
            self.assertEqual(read_until(t, b'\r\n'), b'250 real\r\n')
            t.close()
            self.assertEqual(srv.wait(), 0, srv.log())
            self.assertEqual(srv.record(), b'STARTTLS\r\nNOOP\r\n')

    def test_garbage_handshake(self):
        with self.srv('garbage-handshake\n') as srv:
            s = connect(srv.port)
            ctx = ssl.create_default_context()
            with self.assertRaises((ssl.SSLError, OSError)):
                ctx.wrap_socket(s, server_hostname='localhost')
            s.close()
            self.assertEqual(srv.wait(), 0, srv.log())

if __name__ == '__main__':
    tap_main()
