#!/usr/bin/env bash
#
# install-deps.sh: everything a fresh Debian bookworm needs to build and test
# tidemark, then the pinned librdkafka build that the service links against.
#
#   1. apt packages (only the missing ones; `apt-get update` only if some are
#      missing; as root, or through sudo).
#   2. librdkafka 2.15.1 from the npm package @confluentinc/kafka-javascript
#      (its deps/librdkafka/ folder), fetched with `npm pack`, patched with
#      tests/broker/patches/*.patch (sorted), built into $TIDEMARK_DEPS_DIR
#      (default: <repo>/.deps):
#          <deps>/dl/                      the npm tarball (checksum-pinned)
#          <deps>/src/librdkafka-2.15.1/   the patched source tree
#          <deps>/librdkafka/              install prefix (lib/, include/,
#                                          lib/pkgconfig/rdkafka.pc)
#      Only the C library is built (src/: no C++ wrapper, no examples):
#      about 30 s on two cores. It includes the mock cluster the test broker
#      runs, which is why the patches apply here.
#      A stamp in the prefix records version, tarball checksum, prefix,
#      configure flags and the patches' checksums; when it matches, nothing
#      is rebuilt. Anything else (a changed, added or removed patch) rebuilds
#      from a fresh untar.
#
# Idempotent and non-interactive (CI=true, no stdin, docker build).
#
# Usage: deploy/install-deps.sh [--no-apt | --apt-only]
# Environment:
#   TIDEMARK_DEPS_DIR   where .deps lives (relative paths: to the repo root)
#   TIDEMARK_JOBS       parallel make jobs (default: nproc)
set -euo pipefail

RDKAFKA_VERSION=2.15.1
RDKAFKA_VERSION_HEX=0x020f01ff
NPM_SPEC=@confluentinc/kafka-javascript@1.10.1
NPM_TGZ=confluentinc-kafka-javascript-1.10.1.tgz
NPM_TGZ_SHA256=ada7d703bb1d3237e2292bfabf438d663b6160c9f1ac2a2406b5dc4257c81b66

# Explicit feature flags, so that a missing -dev package fails configure
# instead of silently producing a different library. No curl (OIDC only, not
# used), no --install-deps (it would download sources), no mklove module
# downloads.
RDKAFKA_CONFIGURE_FLAGS=(
    --no-download
    --no-cache
    --enable-ssl
    --enable-gssapi
    --enable-zlib
    --enable-zstd
    --enable-lz4-ext
    --disable-curl
)

APT_PACKAGES=(
    build-essential ca-certificates cmake ninja-build pkg-config git patch python3
    clang libclang-rt-14-dev clang-format
    liblmdb-dev lmdb-utils libcjson-dev libcriterion-dev libmicrohttpd-dev
    zlib1g-dev libssl-dev libzstd-dev liblz4-dev libsasl2-dev
    # the ops checks (tests/ops/): promtool, YAML and JSON Schema checks, and
    # Go with sprig to render the Helm chart (no helm package in Debian)
    prometheus yamllint python3-yaml python3-jsonschema golang-go
    golang-github-masterminds-sprig-dev
)

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

log() { printf 'install-deps: %s\n' "$*"; }
die() {
    printf 'install-deps: error: %s\n' "$*" >&2
    exit 1
}

do_apt=1
do_rdkafka=1
for arg in "$@"; do
    case "$arg" in
    --no-apt) do_apt=0 ;;
    --apt-only) do_rdkafka=0 ;;
    -h | --help)
        sed -n '3,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    *) die "unknown argument: $arg" ;;
    esac
done

# ---------------------------------------------------------------- apt -----

is_installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

install_apt() {
    local missing=() p
    for p in "${APT_PACKAGES[@]}"; do
        is_installed "$p" || missing+=("$p")
    done
    # Node from another source (e.g. NodeSource) bundles npm and conflicts
    # with Debian's npm package: judge node/npm by their commands.
    command -v node >/dev/null 2>&1 || missing+=(nodejs)
    command -v npm >/dev/null 2>&1 || missing+=(npm)

    if [ ${#missing[@]} -eq 0 ]; then
        log "apt packages: all present"
        return
    fi
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || die "not root and no sudo: install ${missing[*]}"
        sudo=(sudo -n)
        [ -t 0 ] && sudo=(sudo) # a developer may type a password
    fi
    log "apt packages: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
}

# ----------------------------------------------------------- librdkafka -----

sha256() { sha256sum "$1" | cut -d' ' -f1; }

# The stamp key: everything that, when changed, must trigger a rebuild.
stamp_key() {
    printf 'librdkafka %s\n' "$RDKAFKA_VERSION"
    printf 'npm %s sha256 %s\n' "$NPM_SPEC" "$NPM_TGZ_SHA256"
    printf 'prefix %s\n' "$PREFIX"
    printf 'configure %s\n' "${RDKAFKA_CONFIGURE_FLAGS[*]}"
    local p
    for p in "${PATCHES[@]}"; do
        printf 'patch %s %s\n' "$(basename "$p")" "$(sha256 "$p")"
    done
}

fetch_tarball() {
    local tgz="$DEPS_DIR/dl/$NPM_TGZ"
    if [ -f "$tgz" ] && [ "$(sha256 "$tgz")" = "$NPM_TGZ_SHA256" ]; then
        return
    fi
    command -v npm >/dev/null 2>&1 || die "npm not found (run without --no-apt)"
    log "fetching $NPM_SPEC with npm pack"
    mkdir -p "$DEPS_DIR/dl"
    local tmp
    tmp=$(mktemp -d "$DEPS_DIR/dl/npm.XXXXXX")
    local out
    if ! out=$(cd "$tmp" && npm_config_update_notifier=false npm_config_fund=false \
        npm_config_audit=false npm pack --silent "$NPM_SPEC" 2>&1 </dev/null); then
        printf '%s\n' "$out" >&2
        rm -rf "$tmp"
        die "npm pack $NPM_SPEC failed"
    fi
    [ -f "$tmp/$NPM_TGZ" ] || {
        printf '%s\n' "$out" >&2
        rm -rf "$tmp"
        die "npm pack did not produce $NPM_TGZ"
    }
    local got
    got=$(sha256 "$tmp/$NPM_TGZ")
    if [ "$got" != "$NPM_TGZ_SHA256" ]; then
        rm -rf "$tmp"
        die "$NPM_TGZ: sha256 $got, expected $NPM_TGZ_SHA256"
    fi
    mv -f "$tmp/$NPM_TGZ" "$tgz"
    rm -rf "$tmp"
}

verify_rdkafka() {
    local tmp rc=0
    tmp=$(mktemp -d)
    cat >"$tmp/v.c" <<EOF
#include <librdkafka/rdkafka.h>
#include <stdio.h>
int main(void)
{
    printf("%s\n", rd_kafka_version_str());
    return rd_kafka_version() == $RDKAFKA_VERSION_HEX && RD_KAFKA_VERSION == $RDKAFKA_VERSION_HEX ? 0 : 1;
}
EOF
    local got
    if ! cc -o "$tmp/v" "$tmp/v.c" -I"$PREFIX/include" -L"$PREFIX/lib" \
        -Wl,-rpath,"$PREFIX/lib" -lrdkafka ||
        ! got=$("$tmp/v"); then
        rc=1
    fi
    rm -rf "$tmp"
    [ $rc -eq 0 ] || die "installed librdkafka is not $RDKAFKA_VERSION (${got:-no output})"
    log "librdkafka $got verified"
}

build_rdkafka() {
    local src="$DEPS_DIR/src/librdkafka-$RDKAFKA_VERSION"
    local jobs=${TIDEMARK_JOBS:-$(nproc)}
    local logf="$DEPS_DIR/src/librdkafka-build.log"
    local t0=$SECONDS

    fetch_tarball

    log "unpacking librdkafka $RDKAFKA_VERSION into ${src#"$ROOT"/}"
    rm -rf "$src" "$PREFIX" "$DEPS_DIR/src/package"
    mkdir -p "$DEPS_DIR/src"
    tar -xzf "$DEPS_DIR/dl/$NPM_TGZ" --no-same-owner -C "$DEPS_DIR/src" package/deps/librdkafka
    mv "$DEPS_DIR/src/package/deps/librdkafka" "$src"
    rm -rf "$DEPS_DIR/src/package"

    local p
    for p in "${PATCHES[@]}"; do
        log "applying ${p#"$ROOT"/}"
        (cd "$src" && patch -p1 --forward --batch --quiet -i "$p") ||
            die "patch ${p#"$ROOT"/} does not apply to librdkafka $RDKAFKA_VERSION"
    done

    log "building librdkafka (configure ${RDKAFKA_CONFIGURE_FLAGS[*]}; make -j$jobs; log: ${logf#"$ROOT"/})"
    if ! (
        cd "$src"
        ./configure --prefix="$PREFIX" "${RDKAFKA_CONFIGURE_FLAGS[@]}" &&
            make -C src -j"$jobs" &&
            make -C src install
    ) >"$logf" 2>&1 </dev/null; then
        tail -n 40 "$logf" >&2
        die "librdkafka build failed (full log: $logf)"
    fi
    verify_rdkafka
    stamp_key >"$STAMP"
    log "librdkafka $RDKAFKA_VERSION built in $((SECONDS - t0))s into ${PREFIX#"$ROOT"/}"
}

install_rdkafka() {
    DEPS_DIR=${TIDEMARK_DEPS_DIR:-.deps}
    case "$DEPS_DIR" in
    /*) ;;
    *) DEPS_DIR="$ROOT/$DEPS_DIR" ;;
    esac
    mkdir -p "$DEPS_DIR"
    DEPS_DIR=$(cd "$DEPS_DIR" && pwd)
    PREFIX="$DEPS_DIR/librdkafka"
    STAMP="$PREFIX/.tidemark-stamp"

    # One build at a time per deps dir (parallel CI jobs, two terminals).
    exec 9>"$DEPS_DIR/.lock"
    flock 9

    PATCHES=()
    if [ -d "$ROOT/tests/broker/patches" ]; then
        local p
        while IFS= read -r p; do
            PATCHES+=("$p")
        done < <(find "$ROOT/tests/broker/patches" -maxdepth 1 -type f -name '*.patch' | LC_ALL=C sort)
    fi

    if [ -f "$STAMP" ] && [ -f "$PREFIX/lib/librdkafka.so.1" ] &&
        [ "$(cat "$STAMP")" = "$(stamp_key)" ] &&
        grep -q "define RD_KAFKA_VERSION *$RDKAFKA_VERSION_HEX" "$PREFIX/include/librdkafka/rdkafka.h"; then
        log "librdkafka $RDKAFKA_VERSION up to date (${#PATCHES[@]} patches) in ${PREFIX#"$ROOT"/}"
        return
    fi
    if [ -f "$STAMP" ]; then
        log "librdkafka build is stale (version, flags or patches changed): rebuilding"
    fi
    build_rdkafka
}

if [ $do_apt -eq 1 ]; then install_apt; fi
if [ $do_rdkafka -eq 1 ]; then install_rdkafka; fi
log "done"
