#!/usr/bin/python3
"""A scripted, deliberately badly behaved SMTP server for tests (loopback only).

It listens on 127.0.0.1, serves exactly ONE connection by playing the steps of a script
file, records every byte the client sent, and exits by itself (default after 20 s).

Usage:
  server.py SCRIPT [--port N] [--port-file F] [--record F] [--log F] [--lifetime S]
                   [--define NAME=VALUE ...]

With --port 0 (the default) a free port is picked. The chosen port is printed on stdout as
"PORT <n>" (one line, flushed) and, with --port-file, written to that file (atomically).

Script: one step per line; blank lines and lines starting with '#' are ignored. The first
word is the step, the rest of the line (after ONE space, trailing CR/LF removed, other
whitespace kept) is its argument. ${NAME} in an argument is replaced by a --define value.
Byte arguments understand the escapes \\r \\n \\t \\e (ESC) \\0 \\\\ \\s (space) and \\xNN.

  send BYTES              write BYTES in one write
  hold BYTES              keep BYTES to go out with the next write (so that a greeting and what
                          follows it arrive together, whatever the scheduler does between steps)
  send-bytes-slowly BYTES write BYTES one byte per write, 10 ms apart (TCP_NODELAY is on)
  send-repeat N BYTES     write BYTES N times, in chunks of about 64 KiB
  expect REGEX            read the next line from the client; it must end in CRLF and the
                          text before CRLF must match REGEX entirely (re.fullmatch, latin-1)
  end-of-data BYTES       Haraka's rule (GHSA-rp4q-8m6x-c43c): read the line that ends DATA (it
                          must be "."), wait 200 ms for more, send BYTES (the reply to the
                          message), then answer every command the client pipelined after the
                          "." with "503 5.5.0 Bad sequence of commands - pipelined after end
                          of DATA" and forget it
  expect-bytes BYTES      read exactly len(BYTES) octets from the client, whatever their line
                          ends; they must be BYTES (for raw writes: bare LF, NUL, 8-bit)
  expect-silence MS       the client must send nothing for MS milliseconds
  sleep MS                wait MS milliseconds (what the client sends meanwhile is recorded)
  tls CERTFILE KEYFILE    run a TLS server handshake on the connection (STARTTLS or implicit)
  garbage-handshake       read what the client sends (its ClientHello), answer with bytes that
                          are not TLS, then close
  wait-close              read (and record) until the client closes the connection
  close                   close the connection at once (any later step is an error)

When the script ends, the server waits for the client to close (like wait-close), then exits.
Every step that reads has a 10 s timeout (bounded by the lifetime).

Exit status: 0 script played and every expectation met; 1 an expectation failed (or a read
timed out, or the client closed while a line was expected); 2 bad usage or bad script;
3 lifetime exceeded.

The record (--record) holds the raw application bytes the client sent, in order, decrypted
when under TLS; it is appended to and flushed as bytes arrive. The log (--log, default
stderr) tells what each step did, with timestamps.
"""

import argparse
import os
import re
import select
import socket
import ssl
import sys
import time

STEP_READ_TIMEOUT = 10.0
SLOW_DELAY = 0.010
CHUNK = 64 * 1024


class ScriptError(Exception):
    """The script itself is wrong (exit 2)."""


class Failed(Exception):
    """An expectation was not met (exit 1)."""


class LifetimeOver(Exception):
    """The server ran out of time (exit 3)."""


_ESC = {'r': b'\r', 'n': b'\n', 't': b'\t', 'e': b'\x1b', '0': b'\0', '\\': b'\\',
        's': b' '}


def unescape(text):
    """Turns a script argument into bytes (see the module doc for the escapes)."""
    out = bytearray()
    i = 0
    while i < len(text):
        c = text[i]
        if c != '\\':
            out += c.encode('utf-8')
            i += 1
            continue
        if i + 1 >= len(text):
            raise ScriptError('lone backslash at the end of %r' % text)
        e = text[i + 1]
        if e in _ESC:
            out += _ESC[e]
            i += 2
        elif e == 'x':
            h = text[i + 2:i + 4]
            if len(h) != 2 or not re.fullmatch('[0-9a-fA-F]{2}', h):
                raise ScriptError('bad \\x escape in %r' % text)
            out.append(int(h, 16))
            i += 4
        else:
            raise ScriptError('unknown escape \\%s in %r' % (e, text))
    return bytes(out)


def substitute(text, defines):
    def repl(m):
        name = m.group(1)
        if name not in defines:
            raise ScriptError('undefined ${%s}' % name)
        return defines[name]
    return re.sub(r'\$\{([A-Za-z_][A-Za-z0-9_]*)\}', repl, text)


def parse_script(path, defines):
    """Returns [(lineno, step, arg)] after checking every step and its argument."""
    steps = []
    with open(path, encoding='utf-8') as f:
        for n, raw in enumerate(f, 1):
            line = raw.rstrip('\r\n')
            if not line.strip() or line.lstrip().startswith('#'):
                continue
            step, _, arg = line.partition(' ')
            arg = substitute(arg, defines)
            where = '%s:%d' % (path, n)
            try:
                if step in ('send', 'hold', 'send-bytes-slowly', 'end-of-data',
                            'expect-bytes'):
                    arg = unescape(arg)
                elif step == 'send-repeat':
                    count, _, data = arg.partition(' ')
                    if not count.isdigit() or not data:
                        raise ScriptError('send-repeat wants N BYTES')
                    arg = (int(count), unescape(data))
                elif step == 'expect':
                    arg = re.compile(arg, re.DOTALL)
                elif step in ('sleep', 'expect-silence'):
                    if not arg.isdigit():
                        raise ScriptError('%s wants milliseconds' % step)
                    arg = int(arg) / 1000.0
                elif step == 'tls':
                    parts = arg.split()
                    if len(parts) != 2:
                        raise ScriptError('tls wants CERTFILE KEYFILE')
                    arg = tuple(parts)
                elif step in ('garbage-handshake', 'wait-close', 'close'):
                    if arg:
                        raise ScriptError('%s takes no argument' % step)
                else:
                    raise ScriptError('unknown step %r' % step)
            except (ScriptError, re.error) as e:
                raise ScriptError('%s: %s' % (where, e)) from None
            steps.append((n, step, arg))
    return steps


class Server:
    def __init__(self, args):
        self.args = args
        self.deadline = time.monotonic() + args.lifetime
        self.start = time.monotonic()
        self.log_file = open(args.log, 'a', buffering=1) if args.log else sys.stderr
        self.record = open(args.record, 'ab', buffering=0) if args.record else None
        self.sock = None      # the connected socket (ssl.SSLSocket once under TLS)
        self.raw = None       # the plain TCP socket under it
        self.inbuf = b''      # client bytes read but not yet consumed by expect
        self.held = b''       # bytes of 'hold' steps, written with the next write
        self.eof = False
        self.closed = False
        self.tls = False

    # -- logging and timing -------------------------------------------------------------

    def log(self, fmt, *a):
        msg = fmt % a if a else fmt
        self.log_file.write('server %7.3f %s\n' % (time.monotonic() - self.start, msg))
        self.log_file.flush()

    def remaining(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise LifetimeOver('lifetime of %.1f s exceeded' % self.args.lifetime)
        return left

    # -- reading ------------------------------------------------------------------------

    def _recv_some(self, timeout):
        """Reads what is available within timeout (seconds); records it. Returns the bytes,
        b'' on EOF, None on timeout."""
        if self.eof:
            return b''
        end = time.monotonic() + timeout
        while True:
            if self.tls and self.sock.pending():
                ready = True
            else:
                wait = min(end - time.monotonic(), self.remaining())
                if wait <= 0:
                    return None
                ready = bool(select.select([self.sock], [], [], wait)[0])
            if not ready:
                if time.monotonic() >= end:
                    return None
                continue
            try:
                data = self.sock.recv(CHUNK)
            except ssl.SSLWantReadError:
                continue
            except (ConnectionResetError, BrokenPipeError) as e:
                self.log('recv: %s (taken as EOF)', e)
                data = b''
            except ssl.SSLError as e:
                self.log('recv: TLS error %s (taken as EOF)', e)
                data = b''
            if not data:
                self.eof = True
                self.log('client closed the connection')
                return b''
            if self.record:
                self.record.write(data)
            self.log('recv %d bytes%s: %r', len(data), ' (tls)' if self.tls else '',
                     data[:200])
            return data

    def read_line(self, timeout):
        end = time.monotonic() + timeout
        while b'\n' not in self.inbuf:
            left = end - time.monotonic()
            if left <= 0:
                raise Failed('timeout waiting for a line from the client (have %r)' %
                             self.inbuf[:200])
            data = self._recv_some(left)
            if data is None:
                continue
            if data == b'':
                raise Failed('client closed while a line was expected (have %r)' %
                             self.inbuf[:200])
            self.inbuf += data
        line, _, self.inbuf = self.inbuf.partition(b'\n')
        return line + b'\n'

    # -- writing ------------------------------------------------------------------------

    def write(self, data):
        data, self.held = self.held + data, b''
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError) as e:
            self.log('send failed (%s): the client is gone', e)
            return False

    # -- steps --------------------------------------------------------------------------

    def step_hold(self, data):
        self.log('hold %r for the next write', data[:200])
        self.held += data

    def step_send(self, data):
        self.log('send %r', data[:200])
        self.write(data)

    def step_send_bytes_slowly(self, data):
        self.log('send slowly (%d writes) %r', len(data), data[:200])
        for i in range(len(data)):
            self.remaining()
            if not self.write(data[i:i + 1]):
                return
            time.sleep(SLOW_DELAY)

    def step_send_repeat(self, arg):
        count, data = arg
        total = count * len(data)
        self.log('send %d x %r (%d bytes)', count, data[:50], total)
        per_chunk = max(1, CHUNK // len(data))
        sent = 0
        left = count
        while left > 0:
            self.remaining()
            n = min(per_chunk, left)
            if not self.write(data * n):
                self.log('stopped after %d of %d bytes', sent, total)
                return
            sent += n * len(data)
            left -= n
        self.log('sent %d bytes', sent)

    def step_expect_bytes(self, want):
        end = time.monotonic() + min(STEP_READ_TIMEOUT, self.remaining())
        while len(self.inbuf) < len(want):
            left = end - time.monotonic()
            if left <= 0:
                raise Failed('timeout waiting for %r (have %r)' % (want, self.inbuf[:200]))
            data = self._recv_some(left)
            if data is None:
                continue
            if data == b'':
                raise Failed('client closed while %r was expected (have %r)' %
                             (want, self.inbuf[:200]))
            self.inbuf += data
        got, self.inbuf = self.inbuf[:len(want)], self.inbuf[len(want):]
        if got != want:
            raise Failed('expected the bytes %r, got %r' % (want, got))
        self.log('got the bytes %r', got)

    def step_expect(self, rx):
        line = self.read_line(min(STEP_READ_TIMEOUT, self.remaining()))
        if not line.endswith(b'\r\n'):
            raise Failed('client line does not end in CRLF: %r' % line)
        text = line[:-2].decode('latin-1')
        if not rx.fullmatch(text):
            raise Failed('expected /%s/, client sent %r' % (rx.pattern, line))
        self.log('expect /%s/ ok: %r', rx.pattern, line[:200])

    PIPELINED_AFTER_DATA = b'503 5.5.0 Bad sequence of commands - pipelined after end of DATA\r\n'

    def step_end_of_data(self, reply):
        line = self.read_line(min(STEP_READ_TIMEOUT, self.remaining()))
        if line != b'.\r\n':
            raise Failed('expected the "." that ends DATA, client sent %r' % line)
        end = time.monotonic() + 0.2  # what came in the same write is here by then
        while True:
            left = end - time.monotonic()
            if left <= 0:
                break
            data = self._recv_some(left)
            if data:
                self.inbuf += data
            elif data == b'':
                break
        self.log('end of DATA: reply %r, %d bytes pipelined after it', reply, len(self.inbuf))
        self.write(reply)
        while b'\n' in self.inbuf:
            cmd, _, self.inbuf = self.inbuf.partition(b'\n')
            self.log('pipelined after end of DATA, refused: %r', cmd[:200])
            self.write(self.PIPELINED_AFTER_DATA)

    def step_expect_silence(self, seconds):
        if self.inbuf:
            raise Failed('client had already sent %r' % self.inbuf[:200])
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                break
            data = self._recv_some(left)
            if data is None:
                break
            if data:
                raise Failed('client sent %r during a silence' % data[:200])
            break  # EOF: silence, sure
        self.log('silence of %.3f s ok', seconds)

    def step_sleep(self, seconds):
        self.log('sleep %.3f s', seconds)
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            self.remaining()
            if self.eof:
                time.sleep(min(left, self.remaining()))
                continue
            data = self._recv_some(left)
            if data:
                self.inbuf += data

    def step_tls(self, arg):
        cert, key = arg
        if self.inbuf:
            self.log('WARNING: %d client bytes were pending before TLS: %r',
                     len(self.inbuf), self.inbuf[:200])
            self.inbuf = b''
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.raw.settimeout(min(STEP_READ_TIMEOUT, self.remaining()))
        try:
            self.sock = ctx.wrap_socket(self.raw, server_side=True)
        except (ssl.SSLError, OSError) as e:
            raise Failed('TLS handshake failed: %s' % e) from None
        self.tls = True
        self.log('TLS established: %s %s', self.sock.version(), self.sock.cipher()[0])

    def step_garbage_handshake(self, _arg):
        data = self._recv_some(min(STEP_READ_TIMEOUT, self.remaining()))
        self.log('garbage-handshake: client sent %d bytes first',
                 len(data) if data else 0)
        self.write(b'HTTP/1.0 400 this is not TLS\r\n\r\nnot a handshake at all\r\n')
        time.sleep(0.2)
        self.step_close(None)

    def step_wait_close(self, _arg):
        self.log('waiting for the client to close')
        while not self.eof:
            data = self._recv_some(self.remaining())
            if data:
                self.inbuf += data
        self.log('client closed; unread: %r', self.inbuf[:200])

    def step_close(self, _arg):
        self.log('close')
        try:
            if self.tls:
                self.sock.settimeout(0.5)
                try:
                    self.sock.unwrap()
                except (ssl.SSLError, OSError):
                    pass
            self.raw.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.raw.close()
        self.closed = True

    # -- main -------------------------------------------------------------------------

    def serve(self, steps, listener):
        listener.settimeout(self.remaining())
        try:
            conn, peer = listener.accept()
        except socket.timeout:
            raise LifetimeOver('no client connected') from None
        listener.close()
        self.log('connection from %s:%d', peer[0], peer[1])
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = self.raw = conn
        # Reads wait in select() first; the socket timeout bounds writes (a client that
        # stops reading) and the TLS handshake.
        for n, step, arg in steps:
            if self.closed:
                raise ScriptError('line %d: step %s after close' % (n, step))
            self.log('step line %d: %s', n, step)
            self.sock.settimeout(min(STEP_READ_TIMEOUT, self.remaining()))
            getattr(self, 'step_' + step.replace('-', '_'))(arg)
        if not self.closed:
            self.step_wait_close(None)
            self.step_close(None)
        self.log('script done')


def main(argv=None):
    ap = argparse.ArgumentParser(description='scripted hostile SMTP server (one connection)')
    ap.add_argument('script')
    ap.add_argument('--port', type=int, default=0)
    ap.add_argument('--port-file')
    ap.add_argument('--record')
    ap.add_argument('--log')
    ap.add_argument('--lifetime', type=float, default=20.0)
    ap.add_argument('--define', action='append', default=[], metavar='NAME=VALUE')
    args = ap.parse_args(argv)

    defines = {}
    for d in args.define:
        name, eq, value = d.partition('=')
        if not eq:
            ap.error('--define wants NAME=VALUE')
        defines[name] = value
    try:
        steps = parse_script(args.script, defines)
    except (ScriptError, OSError) as e:
        print('server.py: %s' % e, file=sys.stderr)
        return 2

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(('127.0.0.1', args.port))
    listener.listen(1)
    port = listener.getsockname()[1]
    if args.port_file:
        tmp = args.port_file + '.tmp'
        with open(tmp, 'w') as f:
            f.write('%d\n' % port)
        os.rename(tmp, args.port_file)
    print('PORT %d' % port, flush=True)

    srv = Server(args)
    try:
        srv.serve(steps, listener)
    except Failed as e:
        srv.log('FAILED: %s', e)
        return 1
    except ScriptError as e:
        srv.log('SCRIPT ERROR: %s', e)
        return 2
    except LifetimeOver as e:
        srv.log('LIFETIME: %s', e)
        return 3
    return 0


if __name__ == '__main__':
    sys.exit(main())
