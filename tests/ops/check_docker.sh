#!/usr/bin/env bash
#
# tests/ops/check_docker.sh [DOCKERFILE]: static checks of the container image
# (default docker/Dockerfile). No container engine runs in CI, so the image is
# never built here; instead every fact the image depends on is compared with
# its source in the repository:
#
#   - every base image is Debian bookworm (debian:bookworm[-slim]);
#   - the stage the binary is copied from runs deploy/install-deps.sh and the
#     cmake commands tests/run.sh runs for the release preset, in that order,
#     and the binary comes from that preset's build tree (CMakePresets.json)
#     or from `cmake --install` of it;
#   - the final stage runs as a fixed non-root uid, has the default state.dir
#     as a VOLUME owned by that uid, EXPOSEs the default metrics.port (both
#     from `tidemark --help` when built, else from deploy/CONFIG.md), and
#     starts `tidemark`;
#   - every package the final stage installs exists in Debian (apt-cache);
#   - when build/release/tidemark exists: every shared library it needs
#     (readelf -d NEEDED, and those of the libraries copied with it) is either
#     copied from the build stage or in a Debian package that the final stage
#     installs (dpkg -S), libc6 being in every Debian image.
#
# Prints one line per check; exits 1 after all checks when any failed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DOCKERFILE=${1:-$ROOT/docker/Dockerfile}
PRESET=release
# In every Debian image (the essential packages depend on it), so the final
# stage need not install it.
BASE_PACKAGES=(libc6)

# shellcheck source=tests/ops/lib.sh
. "$ROOT/tests/ops/lib.sh"

[ -f "$DOCKERFILE" ] || die "no such Dockerfile: $DOCKERFILE"
echo "    checking ${DOCKERFILE#"$ROOT"/}"

# ------------------------------------------------------------- parsing -----

# The Dockerfile as one line per instruction: "<stage>\t<INSTRUCTION>\t<args>",
# continuation lines joined, comments dropped, stage 0 = the first FROM.
parse_dockerfile() {
    awk '
        function emit(s,    word) {
            gsub(/\t/, " ", s)
            sub(/^[ ]+/, "", s)
            sub(/[ ]+$/, "", s)
            if (s == "") return
            word = toupper(s)
            sub(/[ ].*/, "", word)
            if (word == "FROM") stage++
            rest = s
            if (!sub(/^[^ ]+[ ]+/, "", rest)) rest = ""
            printf "%d\t%s\t%s\n", stage, word, rest
        }
        BEGIN { stage = -1; buf = "" }
        {
            line = $0
            sub(/\r$/, "", line)
            if (line ~ /^[ \t]*#/ || line ~ /^[ \t]*$/) next
            if (line ~ /\\[ \t]*$/) {
                sub(/\\[ \t]*$/, "", line)
                buf = buf line " "
                next
            }
            emit(buf line)
            buf = ""
        }
        END { emit(buf) }
    ' "$1"
}

STAGES=()  # instruction lines, by index
INSTR=()
ARGS=()
while IFS=$'\t' read -r st ins args; do
    STAGES+=("$st")
    INSTR+=("$ins")
    ARGS+=("$args")
done < <(parse_dockerfile "$DOCKERFILE")

n_instr=${#INSTR[@]}
[ "$n_instr" -gt 0 ] || die "${DOCKERFILE}: no instructions"

# Stage names and images, from the FROM lines.
STAGE_NAME=()
STAGE_IMAGE=()
for ((i = 0; i < n_instr; i++)); do
    [ "${INSTR[i]}" = FROM ] || continue
    read -r -a words <<<"${ARGS[i]}"
    image="" name=""
    for ((w = 0; w < ${#words[@]}; w++)); do
        case "${words[w]}" in
        --*) ;;
        [Aa][Ss]) name=${words[w + 1]:-} && break ;;
        *) [ -n "$image" ] || image=${words[w]} ;;
        esac
    done
    STAGE_IMAGE+=("$image")
    STAGE_NAME+=("$name")
done
n_stages=${#STAGE_IMAGE[@]}
[ "$n_stages" -gt 0 ] || die "${DOCKERFILE}: no FROM instruction"
final=$((n_stages - 1))

# The args of every instruction $2 of stage $1, one per line.
stage_args() {
    local i
    for ((i = 0; i < n_instr; i++)); do
        if [ "${STAGES[i]}" = "$1" ] && [ "${INSTR[i]}" = "$2" ]; then
            printf '%s\n' "${ARGS[i]}"
        fi
    done
}

# The stage index a COPY --from value names (a stage name or index), or "".
stage_index() {
    local s
    for ((s = 0; s < n_stages; s++)); do
        if [ "$1" = "${STAGE_NAME[s]}" ] || [ "$1" = "$s" ]; then
            echo "$s"
            return
        fi
    done
}

# The final stage's COPY --from instructions as
# "<instruction index>\t<from>\t<source>\t<dest>", one line per source
# (exec form ["a", "b"] and shell form both read).
final_copies() {
    local i from words w srcs dest
    for ((i = 0; i < n_instr; i++)); do
        if [ "${STAGES[i]}" != "$final" ] || [ "${INSTR[i]}" != COPY ]; then continue; fi
        read -r -a words <<<"$(sed -E 's/[][",]/ /g' <<<"${ARGS[i]}")"
        from=""
        srcs=()
        for w in "${words[@]}"; do
            case "$w" in
            --from=*) from=${w#--from=} ;;
            --*) ;;
            *) srcs+=("$w") ;;
            esac
        done
        if [ -z "$from" ] || [ ${#srcs[@]} -lt 2 ]; then continue; fi
        dest=${srcs[-1]}
        unset 'srcs[-1]'
        for w in "${srcs[@]}"; do
            printf '%s\t%s\t%s\t%s\n' "$i" "$from" "$w" "$dest"
        done
    done
}

# Does a RUN of the final stage after instruction $1 run ldconfig?
ldconfig_after() {
    local i
    for ((i = $1 + 1; i < n_instr; i++)); do
        if [ "${STAGES[i]}" != "$final" ] || [ "${INSTR[i]}" != RUN ]; then continue; fi
        grep -qE '(^|[ ;&|])(/sbin/)?ldconfig([ ;&|]|$)' <<<"${ARGS[i]}" && return 0
    done
    return 1
}

# Where a copied file lands: the destination itself, or inside it when it is
# a directory (ends with /) or there are several sources.
copy_target() {
    local src=$1 dest=$2
    case "$dest" in
    */) echo "$dest$(basename "$src")" ;;
    *) echo "$dest" ;;
    esac
}

# The preset's build directory (binaryDir in CMakePresets.json, following
# inherits), where its binary is.
BIN_DIR=$(python3 - "$ROOT/CMakePresets.json" "$PRESET" <<'EOF'
import json, sys
presets = json.load(open(sys.argv[1]))
name = sys.argv[2]
by_name = {p["name"]: p for p in presets.get("configurePresets", [])}
if name not in by_name:
    sys.exit(f"CMakePresets.json: no configure preset {name!r}")
if not any(b.get("name") == name and b.get("configurePreset") == name
           for b in presets.get("buildPresets", [])):
    sys.exit(f"CMakePresets.json: no build preset {name!r} for configure preset {name!r}")
p = by_name[name]
while "binaryDir" not in p and p.get("inherits"):
    parent = p["inherits"]
    p = by_name[parent if isinstance(parent, str) else parent[0]]
d = p.get("binaryDir", "")
d = d.replace("${sourceDir}/", "").replace("${sourceDir}", "").replace("${presetName}", name)
print(d)
EOF
) || die "cannot read the $PRESET preset's build directory from CMakePresets.json"
BIN="$ROOT/$BIN_DIR/tidemark"

# A configuration key's default: from the built binary's --help, else from
# deploy/CONFIG.md (the same table).
config_default() {
    local key=$1 v=""
    if [ -x "$BIN" ]; then
        # A fixed-width table: the DEFAULT column starts where its header does.
        v=$("$BIN" --help 2>/dev/null | awk -v k="$key" '
            $1 == "OPTION" && (c = index($0, "DEFAULT")) { col = c; next }
            col && $1 == k { split(substr($0, col), f, /[ ]+/); print f[1]; exit }') || true
    fi
    if [ -z "$v" ]; then
        v=$(sed -nE "s/^\| \`$key\` \|[^|]*\| \`([^\`]*)\` \|.*/\1/p" "$ROOT/deploy/CONFIG.md" | head -n 1)
    fi
    [ -n "$v" ] || die "cannot find the default of $key (tidemark --help, deploy/CONFIG.md)"
    echo "$v"
}
if [ -x "$BIN" ]; then defaults_from="${BIN#"$ROOT"/} --help"; else defaults_from=deploy/CONFIG.md; fi
STATE_DIR=$(config_default state.dir)
METRICS_PORT=$(config_default metrics.port)

# --------------------------------------------------------- base images -----

check_base_images() {
    local s image all_ok=1
    [ "$n_stages" -ge 2 ] || bad "one stage only: the image must be multi-stage (build, then a slim runtime)"
    for ((s = 0; s < n_stages; s++)); do
        image=${STAGE_IMAGE[s]}
        if [ -n "$(stage_index "$image")" ] && [ "$(stage_index "$image")" -lt "$s" ]; then
            continue # FROM an earlier stage
        fi
        if ! [[ "$image" =~ ^debian:bookworm(-[0-9]{8})?(-slim)?(@sha256:[0-9a-f]{64})?$ ]]; then
            bad "stage $s: FROM $image: base images must be Debian bookworm (debian:bookworm or debian:bookworm-slim, no registry host)"
            all_ok=0
        fi
    done
    [ $all_ok -eq 0 ] || ok "base images: ${STAGE_IMAGE[*]}"
}

# ------------------------------------------------------- build commands -----

# The commands tests/run.sh runs for the deps stage and for a preset, with
# the preset name filled in.
run_sh_commands() {
    local run_sh="$ROOT/tests/run.sh"
    sed -n '/^if want deps; then/,/^fi/p' "$run_sh" | grep -oE '(^|[[:space:]])deploy/install-deps\.sh' |
        head -n 1 | tr -d '[:space:]'
    echo
    # shellcheck disable=SC2016 # $name is tests/run.sh's text, not ours
    sed -n '/^preset() {/,/^}/p' "$run_sh" | grep -E '^[[:space:]]*cmake ' |
        sed -E 's/^[[:space:]]+//; s/"\$name"/'"$PRESET"'/g; s/\$name/'"$PRESET"'/g'
}

check_build_stage() {
    local build=$1 cmds=() c text pos last=-1 all_ok=1
    mapfile -t cmds < <(run_sh_commands)
    if [ ${#cmds[@]} -lt 3 ] || [ "${cmds[0]}" != deploy/install-deps.sh ]; then
        bad "cannot read the deps and preset commands from tests/run.sh (got: ${cmds[*]})"
        return
    fi
    # Every RUN of the build stage, as one line, whitespace squeezed.
    text=$(stage_args "$build" RUN | tr '\n' ';' | tr -s ' ')
    for c in "${cmds[@]}"; do
        pos=$(awk -v t="$text" -v c="$c" 'BEGIN {
                # c as a whole command: followed by the end, a space or ; & |
                s = t; off = 0
                while ((i = index(s, c)) > 0) {
                    nxt = substr(s, i + length(c), 1)
                    if (nxt == "" || nxt ~ /[ ;&|]/) { print off + i; exit }
                    off += i; s = substr(s, i + 1)
                }
                print 0 }')
        if [ "$pos" -eq 0 ]; then
            bad "build stage ${STAGE_NAME[build]:-$build}: does not run '$c' (as tests/run.sh does)"
            all_ok=0
        elif [ "$pos" -le "$last" ]; then
            bad "build stage ${STAGE_NAME[build]:-$build}: '$c' runs before the command tests/run.sh runs before it"
            all_ok=0
        else
            last=$pos
        fi
    done
    local listed
    listed=$(printf "'%s', " "${cmds[@]}")
    [ $all_ok -eq 0 ] || ok "build stage ${STAGE_NAME[build]:-$build} runs, in order: ${listed%, }"
}

# The binary copied into the final stage must come from the preset's build
# tree, or from `cmake --install <build tree> --prefix P` (as P/bin/tidemark).
check_binary_source() {
    local build=$1 src=$2 workdir prefix
    workdir=$(stage_args "$build" WORKDIR | tail -n 1)
    prefix=$(stage_args "$build" RUN | grep -oE "cmake --install $BIN_DIR --prefix [^ ;&|]+" |
        tail -n 1 | awk '{ print $NF }') || true
    if [ "$src" = "${workdir%/}/$BIN_DIR/tidemark" ] || [ "$src" = "$BIN_DIR/tidemark" ]; then
        ok "binary copied from the $PRESET build tree ($src)"
    elif [ -n "$prefix" ] && [ "$src" = "${prefix%/}/bin/tidemark" ]; then
        ok "binary copied from 'cmake --install $BIN_DIR --prefix $prefix' ($src)"
    else
        bad "the binary is copied from $src: neither ${workdir%/}/$BIN_DIR/tidemark nor <prefix>/bin/tidemark of a 'cmake --install $BIN_DIR --prefix <prefix>'"
    fi
}

# ------------------------------------------------------------ final stage --

check_user() {
    local user uid
    user=$(stage_args "$final" USER | tail -n 1)
    uid=${user%%:*}
    if [ -z "$user" ]; then
        bad "final stage has no USER: it would run as root"
    elif [ "$uid" = root ] || [[ "$uid" =~ ^0+$ ]]; then
        bad "final stage runs as root (USER $user)"
    elif ! [[ "$uid" =~ ^[0-9]+$ ]]; then
        bad "final stage USER $user: use a fixed numeric uid (Kubernetes runAsNonRoot cannot verify a name)"
    else
        ok "runs as uid $uid (USER $user)"
    fi
    RUN_UID=$uid
}

check_volume() {
    local vols owner_names owners found=0
    vols=$(stage_args "$final" VOLUME | sed -E 's/[][",]/ /g' | xargs)
    for v in $vols; do
        [ "${v%/}" = "${STATE_DIR%/}" ] && found=1
    done
    if [ $found -eq 0 ]; then
        bad "final stage: no VOLUME $STATE_DIR (the default state.dir, from $defaults_from; VOLUMEs: ${vols:-none})"
        return
    fi
    # Owned by the uid it runs as: chown or install -o, by uid or by the name
    # a useradd of this stage gives that uid.
    if ! [[ "$RUN_UID" =~ ^[0-9]+$ ]] || [[ "$RUN_UID" =~ ^0+$ ]]; then
        return # no owner to check against; check_user reported why
    fi
    owner_names=$(stage_args "$final" RUN | grep -oE "useradd[^;&|]*(--uid|-u) +${RUN_UID}[^;&|]*" |
        awk '{ print $NF }') || true
    owners="$RUN_UID${owner_names:+|$owner_names}"
    if stage_args "$final" RUN | grep -F -- "$STATE_DIR" |
        grep -qE "(chown( -R)? +($owners)(:[^ ]*)? [^;&|]*|install [^;&|]*-o +($owners) [^;&|]*)$STATE_DIR"; then
        ok "VOLUME $STATE_DIR (default state.dir), owned by uid $RUN_UID"
    else
        bad "final stage: $STATE_DIR is a VOLUME but no RUN gives it to uid $RUN_UID (chown, or install -d -o): the service could not write its state"
    fi
}

check_expose() {
    local ports found=0 p
    ports=$(stage_args "$final" EXPOSE)
    for p in $ports; do
        [ "${p%/tcp}" = "$METRICS_PORT" ] && found=1
    done
    if [ $found -eq 1 ]; then
        ok "EXPOSE $METRICS_PORT (default metrics.port)"
    else
        bad "final stage: EXPOSE ${ports:-nothing}, not $METRICS_PORT (the default metrics.port, from $defaults_from)"
    fi
}

check_entrypoint() {
    local ep cmd
    ep=$(stage_args "$final" ENTRYPOINT | tail -n 1)
    cmd=$(stage_args "$final" CMD | tail -n 1)
    if ! [[ "$ep" =~ ^\[\ *\"([^\"]*/)?tidemark\"\ *\]$ ]]; then
        bad "final stage: ENTRYPOINT ${ep:-none}: expected the exec form [\"tidemark\"] (signals reach tidemark, which commits on SIGTERM)"
    elif ! [[ "$cmd" =~ ^\[\ *\"run\" ]]; then
        bad "final stage: CMD ${cmd:-none}: expected [\"run\", \"--config\", ...]"
    else
        ok "ENTRYPOINT $ep, CMD $cmd"
    fi
}

# The packages the final stage installs with apt-get/apt install.
final_packages() {
    stage_args "$final" RUN | awk '{
        n = split($0, w, /[ ]+/)
        for (i = 1; i <= n; i++) {
            if ((w[i] == "apt-get" || w[i] == "apt") && w[i + 1] == "install") {
                for (j = i + 2; j <= n; j++) {
                    if (w[j] ~ /^(&&|\|\||;|\|)$/ || w[j] ~ /;$/) break
                    if (w[j] !~ /^-/) print w[j]
                }
            }
        }
    }' | sed -E 's/[=:].*//' | sort -u
}

check_packages() {
    local p missing=()
    PACKAGES=()
    mapfile -t PACKAGES < <(final_packages)
    if [ ${#PACKAGES[@]} -eq 0 ]; then
        bad "final stage installs no packages (apt-get install): the runtime libraries are missing"
        return
    fi
    for p in "${PACKAGES[@]}"; do
        apt-cache show --no-all-versions "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        bad "final stage installs packages that do not exist in Debian $(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release) (apt-cache show): ${missing[*]}"
    else
        ok "runtime packages exist in Debian: ${PACKAGES[*]}"
    fi
}

# ----------------------------------------------------- shared libraries -----

# The Debian package that holds a library path, trying the /usr-merged
# spelling too (ldd may say /lib/... where dpkg knows /usr/lib/...).
package_of() {
    local path=$1 alt out
    for alt in "$path" "/usr$path" "${path#/usr}"; do
        out=$(dpkg -S "$alt" 2>/dev/null | grep -v '^diversion' | head -n 1) || true
        if [ -n "$out" ]; then
            echo "${out%%:*}"
            return
        fi
    done
}

# Is file $1 (a soname) copied into the final stage from stage $2? Prints the
# COPY's instruction index and where the file lands.
copied_lib() {
    local soname=$1 build=$2 i from src dest
    while IFS=$'\t' read -r i from src dest; do
        [ "$(stage_index "$from")" = "$build" ] || continue
        # shellcheck disable=SC2053 # the source may be a glob
        if [[ $soname == $(basename "$src") ]]; then
            printf '%s\t%s\n' "$i" "$(copy_target "$soname" "$dest")"
            return
        fi
    done < <(final_copies)
}

check_libraries() {
    local build=$1
    if [ ! -x "$BIN" ]; then
        echo "    skipped: shared libraries (${BIN#"$ROOT"/} not built)"
        return
    fi
    # soname -> path, as the loader resolves them for the built binary.
    local -A where=()
    local line soname path
    while IFS= read -r line; do
        if [[ "$line" =~ ^[[:space:]]*([^[:space:]]+)\ =\>\ ([^[:space:]]+) ]]; then
            where[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
        elif [[ "$line" =~ ^[[:space:]]*(/[^[:space:]]+) ]]; then
            where[$(basename "${BASH_REMATCH[1]}")]=${BASH_REMATCH[1]}
        fi
    done < <(ldd "$BIN")

    local queue=("$BIN") seen=" " file pkg copy dest dir all_ok=1 via=()
    local installed=" ${PACKAGES[*]} ${BASE_PACKAGES[*]} "
    while [ ${#queue[@]} -gt 0 ]; do
        file=${queue[0]}
        queue=("${queue[@]:1}")
        while IFS= read -r soname; do
            case "$seen" in *" $soname "*) continue ;; esac
            seen+="$soname "
            path=${where[$soname]:-}
            copy=$(copied_lib "$soname" "$build")
            if [ -n "$copy" ]; then
                dest=${copy#*$'\t'}
                dir=$(dirname "$dest")
                case "$dir" in
                /lib | /usr/lib | /lib/*-linux-gnu | /usr/lib/*-linux-gnu) ;;
                *)
                    if ! ldconfig_after "${copy%%$'\t'*}"; then
                        bad "$soname is copied to $dir, outside the loader's default directories: run ldconfig in the final stage (after the copy) so that its cache knows it"
                        all_ok=0
                    fi
                    ;;
                esac
                via+=("$soname (copied to $dest)")
                # What the copy needs, the final stage needs too.
                [ -n "$path" ] && queue+=("$path")
                continue
            fi
            if [ -z "$path" ]; then
                bad "$soname (needed by $(basename "$file")): not found on this machine and not copied from the build stage"
                all_ok=0
                continue
            fi
            pkg=$(package_of "$path")
            if [ -z "$pkg" ]; then
                bad "$soname (needed by $(basename "$file")) is $path, in no Debian package: copy it from the build stage"
                all_ok=0
            elif [[ "$installed" != *" $pkg "* ]]; then
                bad "$soname (needed by $(basename "$file")) is in the Debian package $pkg, which the final stage does not install"
                all_ok=0
            else
                via+=("$soname ($pkg)")
            fi
        done < <(readelf -d "$file" | sed -nE 's/.*\(NEEDED\).*\[(.*)\]/\1/p')
    done
    [ $all_ok -eq 0 ] || ok "shared libraries of ${BIN#"$ROOT"/}: ${via[*]}"
}

# ------------------------------------------------------------------ main -----

check_base_images

build=""
bin_src=""
bin_dest=""
while IFS=$'\t' read -r _ from src dest; do
    if [ "$(basename "$src")" = tidemark ]; then
        build=$(stage_index "$from")
        bin_src=$src
        bin_dest=$(copy_target tidemark "$dest")
    fi
done < <(final_copies)

if [ -z "$build" ] || [ "$build" -ge "$final" ]; then
    bad "the final stage copies no tidemark binary from an earlier stage (COPY --from=<build stage> .../tidemark ...)"
else
    check_build_stage "$build"
    check_binary_source "$build" "$bin_src"
    case "$(dirname "$bin_dest")" in
    /usr/local/bin | /usr/bin | /bin) ;;
    *) bad "the binary is copied to $bin_dest, not on the default PATH: ENTRYPOINT [\"tidemark\"] would not find it" ;;
    esac
fi

check_user
check_volume
check_expose
check_entrypoint
check_packages
[ -z "$build" ] || check_libraries "$build"

if [ $failures -gt 0 ]; then
    printf 'check_docker: %d problem(s) in %s\n' "$failures" "${DOCKERFILE#"$ROOT"/}" >&2
    exit 1
fi
echo "    check_docker: ${DOCKERFILE#"$ROOT"/} ok"
