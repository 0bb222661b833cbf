"""A delaying TCP forwarder on loopback that counts a client's round trips.

This kernel has no netem, so the round-trip time is made here: every chunk read from one
side is written to the other side `delay` seconds after it arrived (12.5 ms each way = a
25 ms RTT), in order. Both of the forwarder's sockets use TCP_NODELAY and ACK at once
(TCP_QUICKACK), so the forwarder adds no Nagle or delayed-ACK waits of its own.

Round trips are counted causally. A *burst* of the client is what it sends before the
forwarder delivers it anything from the server (the client cannot have reacted to server
bytes it has not got): a TLS Finished and the command written right after it are one burst,
even if they arrive as two chunks. A round trip is a burst the server answers: server bytes
that arrive after bytes of that burst were delivered to the server (the server could only
answer what it had got). So EHLO and its reply is 1; MAIL, 50 RCPT and DATA in one write are
one, however the server splits its replies; the body, "." and QUIT in one burst are one. The
greeting answers nothing, and a last burst the server does not answer (a TLS close_notify
after 221) is not a round trip.
"""

import socket
import threading
import time
import queue

CHUNK = 64 * 1024


def _quick(sock):
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
    except OSError:
        pass


class ConnStats:
    def __init__(self):
        self.turns = 0
        self.c2s_bytes = 0
        self.s2c_bytes = 0
        self.burst = 0                # the client's bursts so far (see the module's comment)
        self.s2c_since_burst = False  # server bytes delivered to the client since its last chunk
        self.delivered_burst = 0      # the latest burst with bytes delivered to the server
        self.answered_burst = 0       # the latest burst the server answered
        self.lock = threading.Lock()
        self.started = time.monotonic()
        self.ended = None


class Forwarder:
    """Listens on 127.0.0.1 (a free port); forwards each connection to target_port."""

    def __init__(self, target_port, delay=0.0125, target_host="127.0.0.1"):
        self.target = (target_host, target_port)
        self.delay = delay
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.conns = []
        self.done = threading.Event()
        self.closed = threading.Condition()
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.done.set()
        try:
            self.lsock.close()
        except OSError:
            pass

    def _accept(self):
        while not self.done.is_set():
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            st = ConnStats()
            self.conns.append(st)
            threading.Thread(target=self._serve, args=(c, st), daemon=True).start()

    def _serve(self, c, st):
        try:
            s = socket.create_connection(self.target, timeout=10)
        except OSError:
            c.close()
            st.ended = time.monotonic()
            with self.closed:
                self.closed.notify_all()
            return
        s.settimeout(None)
        _quick(c)
        _quick(s)
        q_c2s, q_s2c = queue.Queue(), queue.Queue()
        threads = [
            threading.Thread(target=self._read, args=(c, q_c2s, st, True), daemon=True),
            threading.Thread(target=self._read, args=(s, q_s2c, st, False), daemon=True),
            threading.Thread(target=self._write, args=(s, q_c2s, st, True), daemon=True),
            threading.Thread(target=self._write, args=(c, q_s2c, st, False), daemon=True),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        c.close()
        s.close()
        st.ended = time.monotonic()
        with self.closed:
            self.closed.notify_all()

    def _read(self, sock, q, st, from_client):
        while True:
            try:
                data = sock.recv(CHUNK)
            except OSError:
                data = b""
            now = time.monotonic()
            burst = 0
            if data:
                _quick(sock)
                with st.lock:
                    if from_client:
                        st.c2s_bytes += len(data)
                        if st.s2c_since_burst or st.burst == 0:
                            st.burst += 1
                            st.s2c_since_burst = False
                        burst = st.burst
                    else:
                        st.s2c_bytes += len(data)
                        if st.delivered_burst > st.answered_burst:
                            st.turns += 1
                            st.answered_burst = st.delivered_burst
            q.put((now + self.delay, data, burst))
            if not data:
                return

    def _write(self, sock, q, st, to_server):
        while True:
            when, data, burst = q.get()
            wait = when - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            if not data:
                try:
                    sock.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            # noted before the write: the other side may answer before this thread runs again
            with st.lock:
                if to_server:
                    st.delivered_burst = max(st.delivered_burst, burst)
                else:
                    st.s2c_since_burst = True
            try:
                sock.sendall(data)
            except OSError:
                continue  # the other side is gone: drain until the reader says so

    def wait_closed(self, n, timeout=30.0):
        """Waits until n connections have ended; returns their stats."""
        deadline = time.monotonic() + timeout
        with self.closed:
            while True:
                ended = [c for c in self.conns if c.ended is not None]
                if len(ended) >= n or time.monotonic() > deadline:
                    return self.conns[:n]
                self.closed.wait(0.05)
