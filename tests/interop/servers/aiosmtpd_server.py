#!/usr/bin/python3
"""Debian's aiosmtpd on a loopback port, for tests/interop/test_aiosmtpd.py.

Usage: aiosmtpd_server.py CONFIG.json ({port, key, cert, user, password, size, store}).
STARTTLS (required before AUTH), AUTH PLAIN and LOGIN (aiosmtpd's own mechanisms) checked
against one user; every accepted message is written as received (aiosmtpd's
original_content: dots unstuffed, CRLF as sent) to STORE/N.eml. Prints "ready PORT".
"""
import json
import os
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

cfg = json.load(open(sys.argv[1]))
lock = threading.Lock()
count = [0]


class Store:
    async def handle_DATA(self, server, session, envelope):
        with lock:
            count[0] += 1
            n = count[0]
        base = os.path.join(cfg["store"], "%d-%d" % (os.getpid(), n))
        with open(base + ".tmp", "wb") as f:
            f.write(envelope.original_content)
        with open(base + ".json", "w") as f:
            json.dump({"from": envelope.mail_from, "to": envelope.rcpt_tos}, f)
        os.rename(base + ".tmp", base + ".eml")
        return "250 OK stored as %d" % n


def authenticator(server, session, envelope, mechanism, auth_data):
    if (isinstance(auth_data, LoginPassword)
            and auth_data.login == cfg["user"].encode()
            and auth_data.password == cfg["password"].encode()):
        return AuthResult(success=True)
    return AuthResult(success=False, handled=False)


ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(cfg["cert"], cfg["key"])
controller = Controller(Store(), hostname="127.0.0.1", port=cfg["port"],
                        server_hostname="aiosmtpd.example.test", tls_context=ctx,
                        require_starttls=False, auth_require_tls=True,
                        authenticator=authenticator, data_size_limit=cfg["size"])
controller.start()
print("ready %d" % cfg["port"], flush=True)
try:
    threading.Event().wait()
except KeyboardInterrupt:
    pass
finally:
    controller.stop()
