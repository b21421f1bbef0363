#!/usr/bin/env bash
#
# tests/run.sh: the project's test command (README; .ci/run runs it).
#
# Stages, in order; the first failure stops the run with a non-zero exit:
#   deps     deploy/install-deps.sh (apt packages, pinned librdkafka; a no-op
#            when everything is in place)
#   release  configure, build, ctest: preset release (-O2 -g, -Werror)
#   asan     configure, build, ctest: preset asan (ASan + UBSan, leaks fatal)
#   format   clang-format --dry-run -Werror on every .c/.h in service/, tests/
#   ops      every tests/ops/check_*.sh in name order: the static checks of
#            what cannot run here (the image, the Helm chart, the compose
#            stack, the alert rules); each exits non-zero on a finding
#   fuzz     configure, build: preset fuzz (clang, -Werror), then run every
#            tests/fuzz/fuzz_*.c target for TIDEMARK_FUZZ_SECONDS (default 30;
#            0 = replay the seed corpus only), seeded from
#            tests/fuzz/corpus/<target>/ when it exists
#
# Environment:
#   TIDEMARK_STAGES         the stages to run (default: all, in the order above)
#   TIDEMARK_FUZZ_SECONDS   fuzzing time per target (default 30)
#   TIDEMARK_JOBS           build and test parallelism (default: nproc)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

ALL_STAGES="deps release asan format ops fuzz"
STAGES=${TIDEMARK_STAGES:-$ALL_STAGES}
FUZZ_SECONDS=${TIDEMARK_FUZZ_SECONDS:-30}
# tidemark refuses TIDEMARK_* variables that are not its options, and the
# ops stage runs it: these two are read, and kept out of its environment.
unset TIDEMARK_STAGES TIDEMARK_FUZZ_SECONDS
JOBS=${TIDEMARK_JOBS:-$(nproc)}
export CMAKE_BUILD_PARALLEL_LEVEL=$JOBS
export CTEST_PARALLEL_LEVEL=$JOBS

for s in $STAGES; do
    case " $ALL_STAGES " in
    *" $s "*) ;;
    *)
        echo "tests/run.sh: unknown stage '$s' (stages: $ALL_STAGES)" >&2
        exit 2
        ;;
    esac
done

stage=setup
done_stages=()
stage_t0=$SECONDS

finish() {
    local rc=$?
    if [ $rc -eq 0 ]; then
        printf '\ntests/run.sh: PASS (%s) in %ss\n' "${done_stages[*]}" "$SECONDS"
    else
        printf '\ntests/run.sh: FAIL in stage %s (exit %s) after %ss; passed: %s\n' \
            "$stage" "$rc" "$SECONDS" "${done_stages[*]:-none}" >&2
    fi
}
trap finish EXIT

begin() {
    stage=$1
    stage_t0=$SECONDS
    printf '\n==> %s\n' "$1"
}

end() {
    done_stages+=("$stage")
    printf '==> %s: ok (%ss)\n' "$stage" "$((SECONDS - stage_t0))"
}

want() {
    case " $STAGES " in
    *" $1 "*) return 0 ;;
    *) return 1 ;;
    esac
}

# configure + build (+ test) one preset.
preset() {
    local name=$1 test=$2
    cmake --preset "$name" --log-level=WARNING
    cmake --build --preset "$name"
    if [ "$test" = test ]; then
        ctest --preset "$name" --output-on-failure -j "$JOBS"
    fi
}

run_fuzzers() {
    local bindir="$ROOT/build/fuzz"
    local src name bin seeds work log n=0
    shopt -s nullglob
    for src in tests/fuzz/fuzz_*.c; do
        name=$(basename "$src" .c)
        bin="$bindir/fuzz/$name"
        seeds="$ROOT/tests/fuzz/corpus/$name"
        work="$bindir/corpus/$name"
        log="$bindir/logs/$name.log"
        mkdir -p "$work" "$bindir/artifacts" "$bindir/logs"
        # New inputs go to the scratch corpus under build/, never into the
        # seed corpus in the repository; crash files go to build/ too.
        local args=(-timeout=10 -rss_limit_mb=2048 -print_final_stats=1
            "-artifact_prefix=$bindir/artifacts/$name-")
        if [ "$FUZZ_SECONDS" -gt 0 ]; then
            args+=("-max_total_time=$FUZZ_SECONDS")
        else
            args+=(-runs=0)
        fi
        args+=("$work")
        [ -d "$seeds" ] && args+=("$seeds")
        printf '    %-32s ' "$name"
        if ! "$bin" "${args[@]}" >"$log" 2>&1 </dev/null; then
            echo "FAILED"
            tail -n 60 "$log" >&2
            echo "    full log: ${log#"$ROOT"/}; artifacts: build/fuzz/artifacts/" >&2
            return 1
        fi
        printf '%s runs, corpus %s\n' \
            "$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)" \
            "$(find "$work" -type f | wc -l)"
        n=$((n + 1))
    done
    [ $n -gt 0 ] || echo "    no tests/fuzz/fuzz_*.c targets yet"
}

run_ops_checks() {
    local check n=0
    shopt -s nullglob
    for check in tests/ops/check_*.sh; do
        printf '    %s\n' "$check"
        bash "$check"
        n=$((n + 1))
    done
    [ $n -gt 0 ] || echo "    no tests/ops/check_*.sh yet"
}

check_format() {
    local cf
    cf=$(command -v clang-format-14 || command -v clang-format) || {
        echo "clang-format not found (run deploy/install-deps.sh)" >&2
        return 1
    }
    local files=()
    mapfile -t files < <(find service tests -type f \( -name '*.c' -o -name '*.h' \) | LC_ALL=C sort)
    echo "    $($cf --version | head -n 1): ${#files[@]} files"
    local f bad=()
    for f in "${files[@]}"; do
        "$cf" --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
    done
    [ ${#bad[@]} -eq 0 ] && return 0
    printf '    not clang-formatted: %s\n' "${bad[@]}" >&2
    echo "    first difference ($cf ${bad[0]} | diff -u ${bad[0]} -):" >&2
    "$cf" "${bad[0]}" | diff -u "${bad[0]}" - | head -n 40 >&2 || true
    echo "    fix: $cf -i ${bad[*]}" >&2
    return 1
}

if want deps; then
    begin deps
    deploy/install-deps.sh
    end
fi
if want release; then
    begin release
    preset release test
    end
fi
if want asan; then
    begin asan
    preset asan test
    end
fi
if want format; then
    begin format
    check_format
    end
fi
if want ops; then
    begin ops
    run_ops_checks
    end
fi
if want fuzz; then
    begin fuzz
    preset fuzz build
    run_fuzzers
    end
fi
