#!/usr/bin/python3
"""smtpsh --serve for a lecture hall (issue 17): 200 clients connecting within a second are
all served and all their messages stored byte for byte; --max-per-address and --max-clients
refuse the client beyond them with a 421 that names the limit, and count connections that
end; the limit on open files is raised to its hard value at start, and a --max-clients that
cannot fit in it is refused with the number that can.

Usage: PYTHONPATH=tests/lib /usr/bin/python3 tests/practice/test_hall.py [PATH/TO/smtpsh] [NAME...]
Prints TAP.
"""

import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True
from smtpshtest import smtpsh_environ, smtpsh_path, tap_main
from practicelib import Output, split_stored
import hallclient

WORK = tempfile.mkdtemp(prefix="smtpsh-hall-test-")


def tearDownModule():
    shutil.rmtree(WORK, ignore_errors=True)


def nofile(soft, hard):
    """A preexec_fn: the child's limit on open files."""
    return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


class Server:
    """smtpsh --serve 0 --maildir DIR [extra] (optionally under a limit on open files)."""

    def __init__(self, name, extra=(), preexec_fn=None):
        self.maildir = os.path.join(WORK, name)
        self.args = [smtpsh_path(), "--serve", "0", "--maildir", self.maildir] + list(extra)
        self.p = subprocess.Popen(self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=smtpsh_environ(),
                                  preexec_fn=preexec_fn)
        self.out = Output(self.p.stdout)
        self.err = Output(self.p.stderr)
        try:
            self.out.wait(r"^\*  \[N\] numbers the connections")
        except AssertionError:
            self.p.kill()
            raise AssertionError("--serve did not start\n" + self.describe())
        self.port = int(re.search(r"practice server on \S+ port (\d+)",
                                  self.out.text()).group(1))

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGINT)
        rc = self.p.wait(30)
        self.out.thread.join(5)
        self.err.thread.join(5)
        return rc

    def describe(self):
        return "command: %s\n--- stdout ---\n%s\n--- stderr ---\n%s" % (
            " ".join(self.args), self.out.text()[-6000:], self.err.text()[-3000:])

    def greeting(self, host="127.0.0.1"):
        """A new connection and its first line (it stays open: close it yourself)."""
        s = socket.create_connection((host, self.port), timeout=10)
        f = s.makefile("rb")
        line = f.readline().decode()
        return s, f, line


class Hall(unittest.TestCase):

    def test_200_clients_within_a_second(self):
        """200 clients connect within one second and stay (default limits): none refused,
        all 200 messages stored byte for byte"""
        srv = Server("md-200")
        self.addCleanup(srv.stop)
        clients, wall = hallclient.hall(srv.port, 200, spread_s=1.0)
        failed = ["%d: %s" % (c.i, c.error) for c in clients if not c.ok]
        self.assertEqual(failed, [], "%d of 200 failed\n%s" % (len(failed), srv.describe()))
        self.assertIn("*  serving up to 500 clients at once (--max-clients, "
                      "--max-per-address)", srv.out.lines[:12])
        new = os.path.join(srv.maildir, "new")
        deadline = time.monotonic() + 20
        while len(os.listdir(new)) < 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        names = os.listdir(new)
        self.assertEqual(len(names), 200)
        bodies = set()
        for name in names:
            with open(os.path.join(new, name), "rb") as f:
                bodies.add(split_stored(f.read())[1])
        self.assertEqual(bodies, {hallclient.body_of(i) for i in range(200)},
                         "each client's message, once, byte for byte")
        self.assertNotIn("refused a connection", srv.out.text())

    def test_burst_of_300(self):
        """300 clients connect in the same instant: the listening queue holds them all (a
        short backlog drops connections the kernel cannot queue); all served"""
        srv = Server("md-burst")
        self.addCleanup(srv.stop)
        clients, wall = hallclient.hall(srv.port, 300, timeout=30)
        failed = ["%d: %s" % (c.i, c.error) for c in clients if not c.ok]
        self.assertEqual(failed, [], "%d of 300 failed" % len(failed))
        self.assertLess(max(c.connect_s for c in clients), 10,
                        "every greeting at once, not after the kernel's SYN retries")

    def test_max_per_address(self):
        """--max-per-address 3: the 4th connection from 127.0.0.1 gets a 421 naming the
        limit, ::1 still gets in, and a connection that ends makes room"""
        srv = Server("md-per-address", ["--max-per-address", "3"])
        self.addCleanup(srv.stop)
        self.assertIn("*  serving up to 500 clients at once, 3 from one address "
                      "(--max-clients, --max-per-address)", srv.out.lines[:12])
        held = []
        for _ in range(3):
            s, f, line = srv.greeting()
            held.append(s)
            self.assertRegex(line, r"^220 ")
        self.addCleanup(lambda: [s.close() for s in held])
        s, f, line = srv.greeting()
        self.assertEqual(line, "421 4.7.0 localhost Error: too many connections from "
                         "127.0.0.1: at most 3 at once from one address "
                         "(--max-per-address)\r\n")
        self.assertEqual(f.readline(), b"", "and the connection is closed")
        s.close()
        srv.out.wait(r"^\*  refused a connection from 127\.0\.0\.1 port \d+: 3 already from "
                     r"that address \(--max-per-address\)$")
        with open("/proc/net/if_inet6") as f6:
            has_v6 = any(l.startswith("00000000000000000000000000000001 ") for l in f6)
        if has_v6:  # another address: its own count
            s, f, line = srv.greeting("::1")
            self.assertRegex(line, r"^220 ")
            s.close()
        # one of the three leaves: its place is free again
        start = len(srv.out.lines)
        held.pop().close()
        srv.out.wait(r"^\[\d+\] \*  the client closed the connection", start)
        s, f, line = srv.greeting()
        held.append(s)
        self.assertRegex(line, r"^220 ")

    def test_max_clients(self):
        """--max-clients 4: the 5th connection (from any address) gets a 421 naming it"""
        srv = Server("md-max-clients", ["--max-clients", "4"])
        self.addCleanup(srv.stop)
        self.assertIn("*  serving up to 4 clients at once (--max-clients, "
                      "--max-per-address)", srv.out.lines[:12])
        held = []
        self.addCleanup(lambda: [s.close() for s in held])
        for _ in range(4):
            s, f, line = srv.greeting()
            held.append(s)
            self.assertRegex(line, r"^220 ")
        s, f, line = srv.greeting()
        s.close()
        self.assertEqual(line, "421 4.7.0 localhost Error: too many connections: at most 4 "
                         "at once (--max-clients)\r\n")
        srv.out.wait(r"^\*  refused a connection from 127\.0\.0\.1 port \d+: 4 already "
                     r"\(--max-clients\)$")

    def test_max_clients_beyond_the_open_files_limit(self):
        """under a limit of 64 open files: --max-clients 100 is refused with the number that
        fits (24: 2 per client, 16 for the server); the default is lowered to it, with a
        warning, and the 25th client gets the 421"""
        p = subprocess.run([smtpsh_path(), "--serve", "0", "--max-clients", "100"],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=30,
                           env=smtpsh_environ(), preexec_fn=nofile(64, 64))
        self.assertEqual(p.returncode, 2, p)
        self.assertEqual(p.stdout, b"")
        self.assertEqual(p.stderr.decode(),
                         "smtpsh: --max-clients 100 does not fit in the limit on open files "
                         "(64): 2 descriptors per client and 16 for the server serve at most "
                         "24 (raise the hard limit: ulimit -Hn, or prlimit --nofile)\n")
        srv = Server("md-nofile", preexec_fn=nofile(64, 64))
        self.addCleanup(srv.stop)
        self.assertIn("! warning: the limit on open files (64) serves at most 24 clients at "
                      "once, not 500 (--max-clients)", srv.err.lines)
        self.assertIn("*  serving up to 24 clients at once (--max-clients, "
                      "--max-per-address)", srv.out.lines[:12])
        clients, _ = hallclient.hall(srv.port, 24)
        self.assertEqual([c.error for c in clients if not c.ok], [])
        held = []
        self.addCleanup(lambda: [s.close() for s in held])
        for _ in range(24):
            s, f, line = srv.greeting()
            held.append(s)
            self.assertRegex(line, r"^220 ")
        s, f, line = srv.greeting()
        s.close()
        self.assertRegex(line, r"^421 4\.7\.0 .*at most 24 at once \(--max-clients\)")

    def test_soft_limit_raised_to_hard(self):
        """a soft limit of 64 under a hard one of 4096: raised at start, so 500 fit (and
        --max-clients 2000 too: (4096 - 16) / 2 = 2040)"""
        srv = Server("md-raised", ["--max-clients", "2000"], preexec_fn=nofile(64, 4096))
        self.addCleanup(srv.stop)
        self.assertEqual(srv.err.text(), "")
        self.assertIn("*  serving up to 2000 clients at once (--max-clients, "
                      "--max-per-address)", srv.out.lines[:12])
        with open("/proc/%d/limits" % srv.p.pid) as f:
            self.assertRegex(f.read(), r"Max open files +4096 +4096 ")
        clients, _ = hallclient.hall(srv.port, 100)
        self.assertEqual([c.error for c in clients if not c.ok], [])

    def test_out_of_descriptors_waits(self):
        """the limit on open files lowered under a running server (prlimit): accepting
        fails with EMFILE; the server says so once, does not spin on the listener, and
        serves the waiting clients once others leave"""
        srv = Server("md-emfile")
        self.addCleanup(srv.stop)
        subprocess.run(["prlimit", "--pid", str(srv.p.pid), "--nofile=16:16"], check=True)
        room = 16 - len(os.listdir("/proc/%d/fd" % srv.p.pid))
        self.assertGreater(room, 2)
        held = []
        self.addCleanup(lambda: [s.close() for s in held])
        for _ in range(room):  # what fits is served...
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=15)
            held.append(s)
            self.assertRegex(s.recv(100), rb"^220 ")
        # ... one more waits in the listening queue, without a greeting
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=15)
        held.append(s)
        s.settimeout(1.5)
        self.assertRaises(socket.timeout, s.recv, 100)
        srv.out.wait(r"^\*  cannot accept a connection: Too many open files$")
        with open("/proc/%d/stat" % srv.p.pid) as f:
            cpu0 = sum(int(x) for x in f.read().rsplit(")", 1)[1].split()[11:13])
        time.sleep(2)
        with open("/proc/%d/stat" % srv.p.pid) as f:
            cpu1 = sum(int(x) for x in f.read().rsplit(")", 1)[1].split()[11:13])
        self.assertLess((cpu1 - cpu0) / os.sysconf("SC_CLK_TCK"), 0.5, "no busy loop")
        self.assertEqual(srv.out.text().count("cannot accept a connection"), 1)
        waiting = held.pop()
        for s in held[:3]:
            s.close()
        waiting.settimeout(10)
        self.assertRegex(waiting.recv(100), rb"^220 ", "served once others left")
        held.append(waiting)

    def test_options_refused_where_they_do_not_apply(self):
        """--max-clients and --max-per-address: numbers from 1, only with --serve or
        --practice"""
        for args, msg in (
                (["--max-clients", "0", "--serve"],
                 "smtpsh: --max-clients needs a number from 1 to 1000000, not '0'\n"),
                (["--max-per-address", "x", "--serve"],
                 "smtpsh: --max-per-address needs a number from 1 to 1000000, not 'x'\n"),
                (["--max-clients", "-5", "--serve"],
                 "smtpsh: --max-clients needs a number from 1 to 1000000, not '-5'\n"),
                (["--max-clients", "10", "localhost"],
                 "smtpsh: --max-clients goes with --serve or --practice\n"),
                (["--max-per-address", "10", "localhost"],
                 "smtpsh: --max-per-address goes with --serve or --practice\n")):
            with self.subTest(args=args):
                p = subprocess.run([smtpsh_path()] + args, stdin=subprocess.DEVNULL,
                                   capture_output=True, timeout=30, env=smtpsh_environ())
                self.assertEqual((p.returncode, p.stderr.decode()), (2, msg))


if __name__ == "__main__":
    tap_main()
