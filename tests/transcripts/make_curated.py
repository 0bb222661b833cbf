#!/usr/bin/python3
"""Records the curated transcripts of transcripts/ against the Postfix test lab.

    sudo PYTHONPATH=tests/lib /usr/bin/python3 tests/transcripts/make_curated.py \
        [BUILD/smtpsh] [NAME...]

Each scenario (scenarios/NAME.smtp) is a batch script whose "#" lines are the
comments of the transcript. It runs with --record against the lab; then the
lab's ports are replaced by the standard ones (header and "connected" line)
and the comments before the first command move above the connection.
Needs root and Postfix (scripts/install-test-deps.sh), like the tests.
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
    header = ["port: %d" % std_port if l.startswith("port: ") else l for l in header]
    header.insert(1, "# recorded with smtpsh against the Postfix of its test lab (tests/lab);")
    header.insert(2, "# the lab's port is replaced by the standard one; replies are the server's")
    first_sent = next(i for i, l in enumerate(body) if re.match(r"^(p\d+/\d+ )?(->|~>|\?>)", l))
    intro = [l for l in body[:first_sent] if l.startswith("#")]
    rest = [l for l in body[:first_sent] if not l.startswith("#")] + body[first_sent:]
    rest = [re.sub(r"^(\*  connected to .* port )%d$" % lab_port, r"\g<1>%d" % std_port, l)
            for l in rest]
    return "\n".join(header + [""] + intro + [""] + rest)


def main():
    args = sys.argv[1:]
    exe = (os.path.abspath(args.pop(0)) if args and os.sep in args[0]
           else smtpshtest.smtpsh_path())
    os.environ["SMTPSH"] = exe
    names = args or [c[0] for c in curated.CURATED]
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
