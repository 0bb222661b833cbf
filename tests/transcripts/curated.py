"""The curated transcripts of transcripts/: how each is recorded and replayed.

Shared by make_curated.py (records them against the Postfix test lab) and
tests/integration/test_transcripts.py (replays them against it).

Each entry: name (transcripts/NAME.transcript, scenarios/NAME.smtp), the lab
listener it talks to, the standard port the transcript's header names instead
of the lab's, extra smtpsh options, and the password a replay logs in with
where the transcript hides it ("good": the lab's, "wrong": a wrong one, None:
the transcript has no secret).
"""

import os

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SCENARIOS = os.path.join(HERE, "scenarios")
LIBRARY = os.path.join(REPO, "transcripts")

SMALL_LIMIT = 4000  # message_size_limit of the lab's SMALL_PORT (07-message-too-big)
REPLAY_USER = "alice@example.test"
WRONG_PASSWORD = "wrong-password"

CURATED = [
    # name                     listener      std  options    replay password
    ("01-plain-delivery",      "plain",      25,  [],        None),
    ("02-starttls-auth-login", "submission", 587, [],        "good"),
    ("03-implicit-tls-465",    "smtps",      465, ["--tls"], "good"),
    ("04-auth-failure",        "submission", 587, [],        "wrong"),
    ("05-relay-denied",        "plain",      25,  [],        None),
    ("06-unknown-recipient",   "plain",      25,  [],        None),
    ("07-message-too-big",     "small",      25,  [],        None),
    ("08-pipelining",          "plain",      25,  [],        None),
    ("09-rset-second-message", "plain",      25,  [],        None),
    ("10-raw-bytes",           "plain",      25,  [],        None),
]


def transcript_path(name):
    return os.path.join(LIBRARY, name + ".transcript")


def scenario_path(name):
    return os.path.join(SCENARIOS, name + ".smtp")
