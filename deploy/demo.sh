#!/usr/bin/env bash
#
# deploy/demo.sh: the README's main-job command. Sets everything up (the
# same install script as the tests), builds the release preset and runs the
# demo pipeline of deploy/demo/ through `tidemark replay`, printing the
# window results, then the late and dead-letter records.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

deploy/install-deps.sh
cmake --preset release --log-level=WARNING >/dev/null
cmake --build --preset release >/dev/null

out=$(mktemp -d "${TMPDIR:-/tmp}/tidemark-demo.XXXXXX")
trap 'rm -rf "$out"' EXIT
build/release/tidemark replay --config deploy/demo/config.json \
    --input deploy/demo/input.jsonl --output-dir "$out"

for f in output late dlq; do
    printf '\n== %s.jsonl (%s records)\n' "$f" "$(wc -l <"$out/$f.jsonl")"
    cat "$out/$f.jsonl"
done
