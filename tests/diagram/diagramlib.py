"""What the diagram tests share: the curated transcripts, an oracle of what a diagram must show
(the commands and replies of a transcript, read independently of smtpsh's parser), and
normalising a text ladder for comparison."""

import glob
import os
import re

from smtpshtest import REPO

TRANSCRIPTS = sorted(glob.glob(os.path.join(REPO, "transcripts", "*.transcript")))

# The optional fields before a marker (transcripts/FORMAT.md), then the marker.
LINE = re.compile(r"^((?:\+\d+ms |p\d+/\d+ |raw |chunk |omitted:\d+ |rcpt:\S+ )*)"
                  r"(->|<-|~>|<~|\?>|<\?)(?: (.*))?$")
BOX = re.compile("[\u2500-\u259f\u25ba\u25c4\\s]")


def events(path):
    """The transcript's wire lines after the header: list of (kind, fields, text), kind
    'sent' or 'received'; text as written in the file (escaped as on the screen)."""
    out = []
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    i = lines.index("")  # the empty line that ends the header
    for line in lines[i + 1:]:
        m = LINE.match(line)
        if m:
            kind = "sent" if m.group(2) in ("->", "~>", "?>") else "received"
            out.append((kind, m.group(1), m.group(3) or ""))
    return out


def commands_and_replies(path):
    """What the diagram must hold: a list of arrows, each ('send'|'raw'|'reply', [lines]).
    Message content (after a 354 to DATA, up to '.') and BDAT chunk octets are left out:
    a diagram folds them."""
    arrows = []
    in_data = data_pending = open_reply = False
    for kind, fields, text in events(path):
        if kind == "sent":
            open_reply = False
            if "chunk" in fields:
                continue
            if in_data and "raw" not in fields:
                if text != ".":
                    continue
                in_data = False
            elif not in_data:
                data_pending = "raw" not in fields and text.strip().upper() == "DATA"
            arrows.append(("raw" if "raw" in fields else "send", [text]))
            continue
        if not open_reply:
            arrows.append(("reply", []))
        arrows[-1][1].append(text)
        more = re.match(r"^\d{3}-", text) is not None
        open_reply = more
        if not more and text.startswith("354") and data_pending:
            in_data, data_pending = True, False
    return arrows


def squeeze(text):
    """Text without blanks and without the ladder's drawing characters."""
    return BOX.sub("", text)


def find_in_order(haystack, needles):
    """The first needle not found in haystack after the previous one, or None."""
    pos = 0
    for n in needles:
        k = haystack.find(n, pos)
        if k < 0:
            return n
        pos = k + len(n)
    return None
