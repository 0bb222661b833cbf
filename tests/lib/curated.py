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

from smtpshtest import REPO, TESTS

SCENARIOS = os.path.join(TESTS, "transcripts", "scenarios")
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
    ("10-xclient",             "xclient",    25,  [],        None),
    ("12-raw-bytes",           "plain",      25,  [],        None),
    ("13-bdat",                "plain",      25,  [],        None),
]

# Recorded against the Dovecot LMTP lab on its UNIX socket (make_curated.py), with smtpsh's
# options; replayed against it by tests/lmtp/test_client.py. The header names the socket
# LMTP_SOCKET instead of the lab's.
LMTP_SOCKET = "/run/dovecot/lmtp"
LMTP_CURATED = [
    # name        options
    ("11-lmtp",   ["--lmtp"]),
]


# Recorded against the practice server answering like a provider (smtpsh --serve --like
# PROVIDER, issue 17), replayed against it by tests/practice/test_like.py. In the scenario,
# {USER64}, {PASS64} and {PLAIN} stand for the server's login (random at each start).
PRACTICE_USER = "student"
PRACTICE_CURATED = [
    # name                                  --serve options        std  client options
    ("14-office365-587-starttls-auth-login", ["--like", "office365"], 587, []),
    ("15-aol-465-to-gmail",                 ["--like", "aol", "--tls"], 465, ["--tls"]),
]


def transcript_path(name):
    return os.path.join(LIBRARY, name + ".transcript")


def scenario_path(name):
    return os.path.join(SCENARIOS, name + ".smtp")
