#!/usr/bin/env bash
#
# deploy/demo.sh: the README's main-job command. Sets everything up (the
# same install script as the tests), builds the release preset and runs
# `tidemark demo` (arguments pass through: --seconds, --rate, --partitions),
# which prints window results as they commit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

deploy/install-deps.sh
cmake --preset release --log-level=WARNING >/dev/null
cmake --build --preset release --target tidemark >/dev/null
exec build/release/tidemark demo "$@"
