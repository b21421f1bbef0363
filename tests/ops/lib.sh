# shellcheck shell=bash
# tests/ops/lib.sh: what every tests/ops/check_*.sh reports with; sourced,
# never run (the ops stage runs check_*.sh only). A check counts its
# findings with `bad` and goes on, so that one run lists them all; `die`
# stops at once when the check itself cannot go on.

failures=0
ok() { printf '    ok: %s\n' "$*"; }
bad() {
    printf '    FAIL: %s\n' "$*" >&2
    failures=$((failures + 1))
}
die() {
    printf '%s: %s\n' "$(basename "$0" .sh)" "$*" >&2
    exit 1
}
