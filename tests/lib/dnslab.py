"""A private DNSSEC lab on loopback for smtpsh's DNS tests: Knot (Debian `knot`) serving a
signed test parent zone and signed child zones, started unprivileged in a temp dir.

Run with /usr/bin/python3 (Debian's), tests/lib on PYTHONPATH.  Used by tests/dns/test_dns.py:

    lab = DnsLab(parent="example.net.", records=[...],
                 children={"secure": ([...], "ds"), "insecure": ([...], None),
                           "bogus": ([...], "bad-ds")})
    lab.start()
    lab.resolver        # "127.0.0.1@PORT" for ub_ctx_set_fwd / --resolver
    lab.trust_anchor    # a file with the parent's KSK DNSKEY (the test trust anchor)
    lab.stop()

The parent zone is the trust anchor (libunbound validates everything under it from that
key, like a root); each child is its own signed zone, delegated from the parent with:
  "ds"      the child's real DS in the parent: secure;
  None      no DS: an insecure delegation (RFC 4035 5.2);
  "bad-ds"  a DS whose digest does not match the child's key: bogus.
Knot signs the zones itself (policy ecdsap256sha256). The children's DS records exist only
once Knot has made their keys, so the parent is loaded first without them, then rewritten
with them and reloaded (`knotc -b zone-reload`).

Not under test., invalid. or localhost.: libunbound answers those special-use names itself
(see /work/shared/TESTLAB-NOTES.md). Nothing here touches the machine's DNS configuration.
"""

import hashlib
import http.server
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time

from lablib import LabError
from smtpshtest import running_labs

KNOTD = "/usr/sbin/knotd"
KNOTC = "/usr/sbin/knotc"
KEYMGR = "/usr/sbin/keymgr"
KDIG = "/usr/bin/kdig"
INSTALL_HINT = ("Knot (knot, knot-dnsutils) is needed: run scripts/install-test-deps.sh "
                "as root")


def require_knot():
    missing = [p for p in (KNOTD, KNOTC, KEYMGR, KDIG) if not os.access(p, os.X_OK)]
    if missing:
        raise LabError("missing %s. %s" % (", ".join(missing), INSTALL_HINT))


def free_udp_tcp_port():
    """A port free for both UDP and TCP on 127.0.0.1 (Knot listens on both)."""
    for _ in range(50):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            u.close()
            t.close()
    raise LabError("no free port for the DNS lab")


class DnsLab:
    def __init__(self, parent, records, children=None, directory=None):
        """parent: the parent zone ("example.net."); records: zone-file lines for it
        (relative names are under the parent); children: {label: (lines, delegation)} with
        delegation "ds", None or "bad-ds" (see the module's docstring)."""
        self.parent = parent if parent.endswith(".") else parent + "."
        self.records = list(records)
        self.children = dict(children or {})
        self._own_dir = directory is None
        self.dir = directory or tempfile.mkdtemp(prefix="smtpsh-dnslab-")
        self.port = None
        self.running = False
        self.trust_anchor = os.path.join(self.dir, "trust-anchor.key")

    @property
    def resolver(self):
        return "127.0.0.1@%d" % self.port

    @property
    def conf(self):
        return os.path.join(self.dir, "knot.conf")

    def child_name(self, label):
        return "%s.%s" % (label, self.parent)

    # --- zone files ----------------------------------------------------------------------
    def _soa(self, origin, serial):
        return ["$ORIGIN %s" % origin, "$TTL 300",
                "@ SOA ns.%s hostmaster.%s %d 3600 600 86400 300" % (self.parent, self.parent,
                                                                     serial),
                "@ NS ns.%s" % self.parent]

    def _write_parent(self, serial, ds_lines):
        lines = self._soa(self.parent, serial) + ["ns A 127.0.0.1"] + self.records
        for label in self.children:
            lines.append("%s NS ns.%s" % (label, self.parent))
        lines += ds_lines
        self._write_zone(self.parent, lines)

    def _write_zone(self, origin, lines):
        path = os.path.join(self.dir, "zones", origin + "zone")
        with open(path + ".tmp", "w") as f:
            f.write("\n".join(lines) + "\n")
        os.replace(path + ".tmp", path)

    def _write_conf(self):
        d = self.dir
        zones = [self.parent] + [self.child_name(c) for c in self.children]
        conf = """server:
    rundir: {d}/run
    listen: 127.0.0.1@{port}
log:
  - target: {d}/knot.log
    any: info
database:
    storage: {d}/db
keystore:
  - id: lab
    config: {d}/keys
policy:
  - id: lab
    algorithm: ecdsap256sha256
    keystore: lab
    ksk-lifetime: 0
    zsk-lifetime: 0
control:
    listen: {d}/run/knot.sock
template:
  - id: default
    storage: {d}/zones
    file: "%s.zone"
    dnssec-signing: on
    dnssec-policy: lab
    zonefile-sync: -1
    journal-content: none
zone:
""".format(d=d, port=self.port)
        conf += "".join("  - domain: %s\n" % z for z in zones)
        with open(self.conf, "w") as f:
            f.write(conf)

    # --- lifecycle -----------------------------------------------------------------------
    def _run(self, *args, check=True):
        r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True, timeout=30)
        if check and r.returncode != 0:
            raise LabError("%s failed (%d): %s\n%s" % (
                " ".join(args), r.returncode, r.stdout.strip(), self.log_tail()))
        return r.stdout

    def log_tail(self, n=20):
        try:
            with open(os.path.join(self.dir, "knot.log")) as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def _ds_of(self, zone):
        """The child's DS (SHA-256 digest), once Knot made its KSK."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            out = self._run(KEYMGR, "-c", self.conf, zone, "ds", check=False)
            for line in out.splitlines():
                f = line.split()
                if len(f) == 6 and f[1] == "DS" and f[4] == "2":
                    return f
            time.sleep(0.05)
        raise LabError("no DS for %s\n%s" % (zone, self.log_tail()))

    def _dnskey_ksk(self):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            out = self._run(KDIG, "@127.0.0.1", "-p", str(self.port), "+norec", "+tcp",
                            self.parent, "DNSKEY", check=False)
            keys = [l for l in out.splitlines()
                    if not l.startswith(";") and "DNSKEY" in l and "\tDNSKEY\t257 " in l]
            if keys:
                return keys
            time.sleep(0.05)
        raise LabError("no KSK for %s\n%s" % (self.parent, self.log_tail()))

    def start(self, attempts=3):
        """Starts Knot; a port taken between choosing and binding it means another try."""
        require_knot()
        for attempt in range(attempts):
            try:
                return self._start()
            except LabError:
                self.stop(remove=False)
                for sub in ("run", "db", "keys", "zones"):
                    shutil.rmtree(os.path.join(self.dir, sub), ignore_errors=True)
                if attempt == attempts - 1:
                    raise
        return self

    def _start(self):
        for sub in ("run", "db", "keys", "zones"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        self.port = free_udp_tcp_port()
        self._write_conf()
        self._write_parent(1, [])
        for label, (lines, _) in self.children.items():
            origin = self.child_name(label)
            self._write_zone(origin, self._soa(origin, 1) + list(lines))
        self._run(KNOTD, "-c", self.conf, "-d")
        self.running = True
        if self not in running_labs:
            running_labs.append(self)
        ds_lines = []
        for label, (_, how) in self.children.items():
            if how is None:
                continue
            f = self._ds_of(self.child_name(label))
            digest = f[5]
            if how == "bad-ds":
                # one hex digit changed: the DS names the child's key tag and algorithm but
                # matches no key, so the chain of trust breaks (bogus, RFC 4035 5.2)
                digest = digest[:-1] + ("0" if digest[-1] != "0" else "1")
            ds_lines.append("%s DS %s %s %s %s" % (label, f[2], f[3], f[4], digest))
        if ds_lines:
            self._write_parent(2, ds_lines)
            self._run(KNOTC, "-c", self.conf, "-b", "-t", "20", "zone-reload", self.parent)
            self._wait_serial(2)
        with open(self.trust_anchor, "w") as f:
            f.write("\n".join(self._dnskey_ksk()) + "\n")
        return self

    def _wait_serial(self, serial):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            out = self._run(KDIG, "@127.0.0.1", "-p", str(self.port), "+norec", "+short",
                            self.parent, "SOA", check=False).split()
            if len(out) >= 3 and out[2].isdigit() and int(out[2]) >= serial:
                return
            time.sleep(0.05)
        raise LabError("%s not reloaded\n%s" % (self.parent, self.log_tail()))

    def stop(self, remove=True):
        if self.running:
            self._run(KNOTC, "-c", self.conf, "-t", "10", "stop", check=False)
            pidfile = os.path.join(self.dir, "run", "knot.pid")
            deadline = time.monotonic() + 10
            while os.path.exists(pidfile) and time.monotonic() < deadline:
                time.sleep(0.05)
            self.running = False
        if self in running_labs:
            running_labs.remove(self)
        if remove and self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)


UNBOUND = "/usr/sbin/unbound"


class ValidatingResolver:
    """Debian's unbound as a validating recursive resolver on ADDRESS port 53, for programs
    that use the libc resolver (posttls-finger): the lab's trust anchor, a stub zone per lab
    zone pointing at Knot. It sets the AD bit on what it validated. Programs see it only
    through a resolv.conf bind-mounted in a private mount namespace (run_with_resolver):
    the machine's own DNS configuration is never touched.

    ADDRESS is a loopback address of its own (the whole 127/8 is loopback), so that two test
    runs at the same time do not meet on port 53."""

    def __init__(self, lab, address=None):
        self.lab = lab
        self.address = address or "127.53.%d.%d" % ((os.getpid() >> 8) % 250 + 1,
                                                     os.getpid() % 250 + 1)
        self.dir = os.path.join(lab.dir, "unbound")
        self.proc = None
        self.resolv_conf = os.path.join(self.dir, "resolv.conf")

    def start(self):
        if not os.access(UNBOUND, os.X_OK):
            raise LabError("missing %s. %s" % (UNBOUND, INSTALL_HINT))
        os.makedirs(self.dir, exist_ok=True)
        zones = [self.lab.parent] + [self.lab.child_name(c) for c in self.lab.children]
        conf = """server:
    interface: {addr}
    port: 53
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "{d}"
    pidfile: "{d}/unbound.pid"
    logfile: "{d}/unbound.log"
    use-syslog: no
    verbosity: 1
    do-not-query-localhost: no
    access-control: 127.0.0.0/8 allow
    trust-anchor-file: "{ta}"
    module-config: "validator iterator"
    val-log-level: 2
remote-control:
    control-enable: no
""".format(addr=self.address, d=self.dir, ta=self.lab.trust_anchor)
        for z in zones:
            conf += 'stub-zone:\n    name: "%s"\n    stub-addr: 127.0.0.1@%d\n' % (z,
                                                                            self.lab.port)
        path = os.path.join(self.dir, "unbound.conf")
        with open(path, "w") as f:
            f.write(conf)
        with open(self.resolv_conf, "w") as f:
            # trust-ad: glibc passes the AD bit on only when told to (glibc 2.31+)
            f.write("nameserver %s\noptions edns0 trust-ad\n" % self.address)
        self.proc = subprocess.Popen([UNBOUND, "-d", "-c", path], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        if self not in running_labs:
            running_labs.append(self)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise LabError("unbound exited: %s" % self.proc.stderr.read().decode(
                    errors="replace"))
            r = subprocess.run([KDIG, "@" + self.address, "+short", self.lab.parent, "SOA"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               universal_newlines=True)
            if r.stdout.strip():
                return self
            time.sleep(0.1)
        raise LabError("unbound on %s does not answer" % self.address)

    def run_with_resolver(self, argv, env=None, timeout=60):
        """argv in a private mount namespace whose /etc/resolv.conf is ours."""
        script = 'mount --bind "$1" /etc/resolv.conf && shift && exec "$@"'
        return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                               script, "sh", self.resolv_conf] + list(argv),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, env=env, timeout=timeout)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc and self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None
        if self in running_labs:
            running_labs.remove(self)


# ---- servers and digests the DNS tests put behind their zones ----------------------------

def spki_sha256(pem_path):
    """The SHA-256 of a certificate's SubjectPublicKeyInfo: the data of a "3 1 1" TLSA."""
    pub = subprocess.run(["openssl", "x509", "-pubkey", "-noout", "-in", pem_path],
                         check=True, stdout=subprocess.PIPE).stdout
    spki = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub,
                          check=True, stdout=subprocess.PIPE).stdout
    return hashlib.sha256(spki).hexdigest()


class TlsServer:
    """An implicit-TLS "MX host" with the chain it was given: says banner; with answer
    (a test that goes on talking), 250 to every line and 221 to QUIT, else it hangs up."""

    def __init__(self, chain, key, banner=b"220 mx.example.net ESMTP lab\r\n", answer=False):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(chain, key)
        self.banner, self.answer = banner, answer
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            try:
                if self.answer:
                    conn.settimeout(10)
                with self.ctx.wrap_socket(conn, server_side=True) as s:
                    s.sendall(self.banner)
                    for line in s.makefile("rb") if self.answer else ():
                        if line.upper().startswith(b"QUIT"):
                            s.sendall(b"221 2.0.0 bye\r\n")
                            break
                        s.sendall(b"250 ok\r\n")
            except (OSError, ssl.SSLError):
                pass  # the client refused our certificate: expected in some tests
            finally:
                conn.close()

    def close(self):
        self.sock.close()


class HttpsServer:
    """An HTTPS server on a free loopback port with the chain it was given, answering with
    handler (an http.server.BaseHTTPRequestHandler class: the MTA-STS policies of a test)."""

    def __init__(self, chain, key, handler):
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(chain, key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
