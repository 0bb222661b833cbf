#!/usr/bin/python3
"""Records the curated transcripts of transcripts/ against the Postfix test lab.

    sudo PYTHONPATH=tests/lib /usr/bin/python3 tests/transcripts/make_curated.py \
        [BUILD/smtpsh] [NAME...]

Each scenario (scenarios/NAME.smtp) is a batch script whose "#" lines are the
comments of the transcript. It runs with --record against the lab; then the
lab's ports are replaced by the standard ones (header and "connected" line)
and the comments before the first command move above the connection.
Needs root and Postfix (scripts/install-test-deps.sh), like the tests. The LMTP ones
(curated.LMTP_CURATED) are recorded against the Dovecot LMTP lab (tests/lab/dovecotlab.py)
on its UNIX socket, whose path the header names as /run/dovecot/lmtp.
"""

import os
import re
import sys

import curated
import lablib
import smtpshtest


def tidy(raw, std_port, lab_port):
    lines = raw.split("\n")
    end = lines.index("")
    header, body = lines[:end], lines[end + 1:]
    header = ["port: %d" % std_port if l.startswith("port: ") and std_port else l
              for l in header]
    header.insert(1, "# recorded with smtpsh against the %s of its test lab (tests/lab);"
                  % ("Postfix" if std_port else "Dovecot LMTP"))
    header.insert(2, "# the lab's %s is replaced by the standard one; replies are the server's"
                  % ("port" if std_port else "socket path"))
    first_sent = next(i for i, l in enumerate(body) if re.match(r"^(p\d+/\d+ )?(->|~>|\?>)", l))
    intro = [l for l in body[:first_sent] if l.startswith("#")]
    rest = [l for l in body[:first_sent] if not l.startswith("#")] + body[first_sent:]
    if std_port:
        rest = [re.sub(r"^(\*  connected to .* port )%d$" % lab_port, r"\g<1>%d" % std_port, l)
                for l in rest]
    return "\n".join(header + [""] + intro + [""] + rest)


def record_lmtp(names):
    """The LMTP transcripts, against Dovecot's UNIX socket (the path made standard)."""
    from dovecotlab import DovecotLab
    todo = [c for c in curated.LMTP_CURATED if c[0] in names]
    if not todo:
        return
    with DovecotLab() as lab:
        for name, options in todo:
            out = os.path.join(lab.dir, name + ".raw")
            r = lablib.run_smtpsh(["-f", curated.scenario_path(name), "--record", out]
                                  + options + [lab.lmtp_socket])
            if r.rc != 0:
                sys.exit("%s: smtpsh failed\n%s" % (name, r.describe()))
            with open(out) as f:
                text = tidy(f.read(), 0, 0).replace(lab.lmtp_socket, curated.LMTP_SOCKET)
            with open(curated.transcript_path(name), "w") as f:
                f.write(text)
            print("wrote", curated.transcript_path(name))


def record_practice(names):
    """The --like lessons, against smtpsh --serve --like PROVIDER (no root needed)."""
    import base64
    import tempfile
    from practicelib import Serve
    for name, serve_options, std, options in curated.PRACTICE_CURATED:
        if name not in names:
            continue
        work = tempfile.mkdtemp(prefix="smtpsh-curated-")
        srv = Serve(os.path.join(work, "Maildir"), serve_options)
        try:
            b64 = lambda s: base64.b64encode(s.encode()).decode()
            with open(curated.scenario_path(name)) as f:
                script = (f.read().replace("{USER64}", b64(srv.user))
                          .replace("{PASS64}", b64(srv.password))
                          .replace("{PLAIN}", b64("\0%s\0%s" % (srv.user, srv.password))))
            path = os.path.join(work, name + ".smtp")
            with open(path, "w") as f:
                f.write(script)
            out = os.path.join(work, name + ".raw")
            r = smtpshtest.run_smtpsh(["-f", path, "--record", out, "--cafile", srv.cafile]
                                      + options + ["localhost", str(srv.port)])
            if r.rc not in (0, 1):  # 1: the lesson's misstep is a refused command
                sys.exit("%s: smtpsh failed\n%s" % (name, r.describe()))
            with open(out) as f:
                text = tidy(f.read(), std, srv.port)
            text = text.replace("# recorded with smtpsh against the Postfix of its test lab "
                                "(tests/lab);",
                                "# recorded with smtpsh against smtpsh --serve %s;"
                                % " ".join(serve_options))
            text = text.replace("# the lab's port is replaced", "# the server's port is replaced")
            with open(curated.transcript_path(name), "w") as f:
                f.write(text)
            print("wrote", curated.transcript_path(name))
        finally:
            srv.stop()


def main():
    args = sys.argv[1:]
    exe = (os.path.abspath(args.pop(0)) if args and os.sep in args[0]
           else smtpshtest.smtpsh_path())
    os.environ["SMTPSH"] = exe
    names = args or [c[0] for c in curated.CURATED + curated.LMTP_CURATED
                     + curated.PRACTICE_CURATED]
    record_lmtp(names)
    record_practice(names)
    if not [c for c in curated.CURATED if c[0] in names]:
        return
    lab = lablib.PostfixLab(small_limit=curated.SMALL_LIMIT)
    lab.start()
    try:
        for name, listener, std, options, _ in curated.CURATED:
            if name not in names:
                continue
            out = os.path.join(lab.dir, name + ".raw")
            port = lab.port(listener)
            r = smtpshtest.run_smtpsh(["-f", curated.scenario_path(name), "--record", out,
                                       "--cafile", lab.cafile] + options + ["localhost", port])
            if r.rc != 0:
                sys.exit("%s: smtpsh failed\n%s" % (name, r.describe()))
            with open(out) as f:
                text = tidy(f.read(), std, port)
            with open(curated.transcript_path(name), "w") as f:
                f.write(text)
            print("wrote", curated.transcript_path(name))
    finally:
        lab.stop()


if __name__ == "__main__":
    main()
