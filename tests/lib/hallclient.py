"""A lecture hall of SMTP clients at once (issue 17), for tests/practice/test_hall.py and
tests/bench/hall: N clients connect in the same moment (asyncio, one thread), each sends
EHLO, MAIL, RCPT, DATA with a small message of its own, QUIT, in lockstep, optionally after
STARTTLS.

    results = hall(port, 500, tls_context=None)   # [Client], in the order started
    [c for c in results if not c.ok]              # who failed, and c.error says why
    body_of(i)                                    # client i's message as the Maildir stores it

Run with /usr/bin/python3 only.
"""

import asyncio
import time

# Each client's message: its number in the Subject, a dot-stuffed line, a lone dot, a long
# line: the Maildir must hold it byte for byte (CRLF -> LF, dots unstuffed).
BODY_LINES = ["Subject: hall client %d", "From: <student%d@hall.test>", "To: <teacher@hall.test>",
              "", "Hello from student %d.", ".a line that starts with a dot", ".",
              "x" * 200, "the end"]


def body_lines(i):
    return [l % i if "%d" in l else l for l in BODY_LINES]


def body_of(i):
    """Client i's message as stored after the server's prepended fields (LF line ends)."""
    return ("\n".join(body_lines(i)) + "\n").encode()


def wire_body(i):
    """Client i's message on the wire: CRLF, dot-stuffed, with the final dot."""
    lines = [("." + l) if l.startswith(".") else l for l in body_lines(i)]
    return ("\r\n".join(lines) + "\r\n.\r\n").encode()


class Client:
    def __init__(self, i):
        self.i = i
        self.ok = False
        self.error = None
        self.refused = None  # the 421 greeting (or other refusal) when there was one
        self.connect_s = None  # from the start to the greeting
        self.total_s = None  # from the start to the 221


class Refused(Exception):
    pass


async def read_reply(reader):
    """One complete reply: (code, [lines])."""
    lines = []
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("the server closed the connection after %r" % lines)
        text = line.decode("utf-8", "replace").rstrip("\r\n")
        lines.append(text)
        if len(text) < 4 or text[3] != "-":
            return int(text[:3]), lines


async def command(reader, writer, line, want):
    writer.write(line.encode() + b"\r\n")
    await writer.drain()
    code, lines = await read_reply(reader)
    if code != want:
        raise ConnectionError("%s: %s" % (line.split(":")[0], " / ".join(lines)))
    return lines


async def one(c, host, port, start, tls_context, timeout, greeted):
    writer = None
    try:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port),
                                                    timeout)
            code, lines = await asyncio.wait_for(read_reply(reader), timeout)
            c.connect_s = time.monotonic() - start
        finally:
            greeted(c)
        if code != 220:
            c.refused = " / ".join(lines)
            raise Refused(c.refused)
        await greeted.all()

        async def conversation():
            await command(reader, writer, "EHLO student%d.hall.test" % c.i, 250)
            if tls_context:
                await command(reader, writer, "STARTTLS", 220)
                await writer.start_tls(tls_context, server_hostname="localhost")
                await command(reader, writer, "EHLO student%d.hall.test" % c.i, 250)
            await command(reader, writer, "MAIL FROM:<student%d@hall.test>" % c.i, 250)
            await command(reader, writer, "RCPT TO:<teacher@hall.test>", 250)
            await command(reader, writer, "DATA", 354)
            writer.write(wire_body(c.i))
            await writer.drain()
            code, lines = await read_reply(reader)
            if code != 250:
                raise ConnectionError("end of data: " + " / ".join(lines))
            await command(reader, writer, "QUIT", 221)
        await asyncio.wait_for(conversation(), timeout)
        c.total_s = time.monotonic() - start
        c.ok = True
    except Refused:
        c.error = "refused: " + c.refused
    except (OSError, ConnectionError, asyncio.TimeoutError, ValueError) as e:
        c.error = "%s: %s" % (type(e).__name__, e)
    finally:
        if writer:
            writer.close()
            try:
                await writer.wait_closed()
            except (OSError, ConnectionError):
                pass


class Greeted:
    """Counts the clients that got their greeting (or failed to); with together, all()
    waits until every one has: the whole hall is connected at once."""

    def __init__(self, n, together):
        self.left = n
        self.together = together
        self.event = asyncio.Event()

    def __call__(self, c):
        self.left -= 1
        if self.left == 0:
            self.event.set()

    async def all(self):
        if self.together:
            await self.event.wait()


async def _hall(host, port, n, tls_context, timeout, spread_s, together):
    clients = [Client(i) for i in range(n)]
    greeted = Greeted(n, together)
    start = time.monotonic()

    async def later(c):
        if spread_s:
            await asyncio.sleep(spread_s * c.i / n)
        await one(c, host, port, start, tls_context, timeout, greeted)
    await asyncio.gather(*(later(c) for c in clients))
    return clients, time.monotonic() - start


def hall(port, n, tls_context=None, host="127.0.0.1", timeout=60.0, spread_s=0.0,
         together=True):
    """N clients, connecting at once (or spread evenly over spread_s seconds). With together
    (the default) each waits after its greeting until all N have theirs, so that all N are
    connected at the same time, as a hall whose students type at their own pace; else each
    goes on at once. Returns ([Client], the wall time in seconds from the first connect to
    the last close)."""
    return asyncio.run(_hall(host, port, n, tls_context, timeout, spread_s, together))
