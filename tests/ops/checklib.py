"""What the Python parts of tests/ops report with (the twin of lib.sh): a
check counts its findings with bad() and goes on, so one run lists them
all; failures() is the count so far."""

import sys

_failures = 0


def ok(msg):
    print(f"    ok: {msg}")


def bad(msg):
    global _failures
    _failures += 1
    print(f"    FAIL: {msg}", file=sys.stderr)


def failures():
    return _failures
