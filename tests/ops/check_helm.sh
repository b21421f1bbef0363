#!/usr/bin/env bash
#
# tests/ops/check_helm.sh [CHART_DIR]: checks the Helm chart (default
# helm/tidemark) without Helm.
#
# Debian packages no helm, so the chart is rendered by tests/ops/helmrender,
# a small Go stand-in for `helm template` built on text/template and sprig v3
# (Debian's golang-go and golang-github-masterminds-sprig-dev: the same
# template engine and function library Helm uses; see its main.go for what it
# does and does not do). Then:
#
#   - yamllint --strict of Chart.yaml and values.yaml; gofmt, go vet and
#     go test (the Helm behaviours it reproduces) of the renderer;
#   - renders: defaults (+ partitions; no CronJob), everything on
#     (persistence, ServiceMonitor, a chart-made Secret, extra env and args,
#     a session window, the verify CronJob pushing to a Pushgateway) from a
#     values file, an existing Secret with a long release name, and the
#     verify CronJob with its defaults (command, schedule, config mount,
#     spill emptyDir at TMPDIR, the StatefulSet's env: check_helm_manifests.py); each rendered set is yamllinted (duplicate keys...) and checked
#     by check_helm_manifests.py (Kubernetes validity offline, probes,
#     securityContext, selectors, the config accepted by the real binary
#     with the container's environment);
#   - the checksum annotation follows the config and only the config;
#   - refusals: no partitions, replicaCount > partitions (from --set and from
#     a values file), image tag latest, metrics.port inside config, secret
#     properties without a Secret, an https Pushgateway, verify without a
#     schedule: each must fail with its message.
#
# Builds into build/ops/ (renderer, Go cache, rendered manifests). Needs
# build/release/tidemark (built with the release preset when missing).
# Prints one line per check; exits 1 after all checks when any failed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CHART=helm/tidemark
if [ $# -gt 0 ]; then
    CHART=$(cd "$1" && pwd) || {
        echo "check_helm: no such directory: $1" >&2
        exit 1
    }
fi
cd "$ROOT"
OUT=build/ops
WORK=$OUT/helm
RENDER=$OUT/helmrender
BIN=build/release/tidemark

# shellcheck source=tests/ops/lib.sh
. "$ROOT/tests/ops/lib.sh"

for tool in go gofmt yamllint python3; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found (deploy/install-deps.sh installs it)"
done
python3 -c 'import yaml' 2>/dev/null || die "python3-yaml not found (deploy/install-deps.sh installs it)"
[ -f "$CHART/Chart.yaml" ] || die "no chart at $CHART"

rm -rf "$WORK"
mkdir -p "$WORK"

# ------------------------------------------------------------- binaries -----

if [ ! -x "$BIN" ]; then
    echo "    building $BIN (release preset)"
    cmake --preset release --log-level=WARNING >/dev/null
    cmake --build --preset release >/dev/null
fi

# GOPATH mode over Debian's packaged sources: no module download, no network.
# (sprig's go.mod says .../sprig/v3; GOPATH mode finds it at .../sprig.)
go_env=(env GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS= GOPROXY=off GOENV=off
    GOCACHE="$ROOT/$OUT/gocache" CGO_ENABLED=0)
[ -d /usr/share/gocode/src/github.com/Masterminds/sprig ] ||
    die "sprig sources not found under /usr/share/gocode (Debian package golang-github-masterminds-sprig-dev)"
if ! "${go_env[@]}" go build -trimpath -o "$RENDER" ./tests/ops/helmrender; then
    die "cannot build tests/ops/helmrender"
fi
unformatted=$(gofmt -l tests/ops/helmrender)
if [ -n "$unformatted" ]; then
    bad "not gofmt-formatted: $unformatted (gofmt -w $unformatted)"
elif ! vet=$("${go_env[@]}" go vet ./tests/ops/helmrender 2>&1); then
    bad "go vet tests/ops/helmrender: $vet"
elif ! gotest=$("${go_env[@]}" go test ./tests/ops/helmrender 2>&1); then
    bad "go test tests/ops/helmrender (the Helm behaviours it reproduces): $gotest"
else
    ok "helmrender built ($("${go_env[@]}" go version | awk '{ print $3 }'); gofmt, go vet, go test clean)"
fi

# ------------------------------------------------------------- yamllint -----

if out=$(yamllint --strict "$CHART/Chart.yaml" "$CHART/values.yaml" 2>&1); then
    ok "yamllint --strict Chart.yaml values.yaml"
else
    bad "yamllint: $out"
fi

# Rendered manifests: duplicate keys, bad indentation, truthy strings...
# (layout rules relaxed: comments from templates, long lines of JSON).
RENDERED_LINT='{extends: default, rules: {document-start: disable, line-length: disable,
  comments-indentation: disable, indentation: {spaces: consistent, indent-sequences: whatever}}}'

# ------------------------------------------------------------- renders -----

# render NAME FILE [helmrender args...]: renders into $WORK/FILE, returns the
# renderer's status, its stderr in $WORK/FILE.err.
render() {
    local file=$1
    shift
    "$RENDER" "$@" >"$WORK/$file" 2>"$WORK/$file.err"
}

# check_render FILE DESCRIPTION [check_helm_manifests.py options...]
check_render() {
    local file=$1 what=$2
    shift 2
    echo "    -- $what"
    local out
    if out=$(yamllint -d "$RENDERED_LINT" "$WORK/$file" 2>&1); then
        ok "yamllint of the rendered manifests"
    else
        bad "yamllint $WORK/$file: $out"
    fi
    python3 tests/ops/check_helm_manifests.py "$WORK/$file" --binary "$BIN" --chart "$CHART" \
        --dockerfile docker/Dockerfile --work "$WORK/${file%.yaml}" "$@" ||
        failures=$((failures + 1))
}

# 1. Defaults, with the one required value (from --set: an int64).
if render default.yaml tidemark "$CHART" -n streaming --set partitions=3; then
    check_render default.yaml "defaults, --set partitions=3" --expect-replicas 1
    # NOTES.txt renders too (helmrender --notes prints it after the manifests).
    if render notes.txt tidemark "$CHART" -n streaming --set partitions=3 --notes &&
        sed -n '/^NOTES:$/,$p' "$WORK/notes.txt" | grep -q 'statefulset/tidemark$'; then
        ok "NOTES.txt renders"
    else
        bad "NOTES.txt did not render (see $WORK/notes.txt and $WORK/notes.txt.err)"
    fi
else
    bad "defaults with --set partitions=3 do not render: $(cat "$WORK/default.yaml.err")"
fi

# 2. Everything on, from a values file (numbers are float64 there).
cat >"$WORK/full-values.yaml" <<'EOF'
partitions: 6
replicaCount: 3
config:
  application_id: clicks-sessions
  input:
    topics: [clicks-web, clicks-app]
    event_id: /id
  window:
    type: session
    size_ms: null
    gap_ms: 30000
  dedup:
    enabled: true
  commit_interval_ms: 200
kafka:
  properties:
    bootstrap.servers: kafka-0.kafka:9093,kafka-1.kafka:9093
    security.protocol: SASL_SSL
    sasl.mechanisms: SCRAM-SHA-512
    linger.ms: 10
    message.max.bytes: 2000000
    enable.ssl.certificate.verification: true
  secretProperties:
    sasl.username: username
    sasl.password: password
secret:
  create: true
  data:
    username: tidemark
    password: "s3cret, with: yaml; specials"
extraEnv:
  - name: TIDEMARK_LOG_LEVEL
    value: debug
  - name: TZ
    value: UTC
extraArgs: ["--set", "watermark.idle_timeout_ms=60000"]
persistence:
  enabled: true
  size: 5Gi
  storageClass: fast-ssd
  annotations:
    backup.example.com/skip: "true"
serviceMonitor:
  enabled: true
  labels:
    release: prometheus
podAnnotations:
  team: streaming
verify:
  enabled: true
  schedule: "5 * * * *"
  pushGateway: http://pushgateway.monitoring:9091
  spillSizeLimit: 4Gi
EOF
if render full.yaml orders-eu "$CHART" -n streaming -f "$WORK/full-values.yaml"; then
    check_render full.yaml "persistence, ServiceMonitor, chart-made Secret, extra env and args, verify CronJob pushing (values file)" \
        --expect-replicas 3 --expect-persistence --expect-servicemonitor --expect-secret \
        --expect-verify --expect-verify-schedule "5 * * * *" --expect-push-gateway http://pushgateway.monitoring:9091
else
    bad "the full values do not render: $(cat "$WORK/full.yaml.err")"
fi

# 3. An existing Secret, one pod per partition, the longest release name Helm
# accepts (53): "<release>-tidemark" must be cut for the StatefulSet, and
# "<...>-verify" for the CronJob.
long=orders-per-merchant-europe-west-production-blue-green
if render existing.yaml "$long" "$CHART" -n streaming --set partitions=12,replicaCount=12 \
    --set kafka.existingSecret=kafka-credentials \
    --set 'kafka.secretProperties.sasl\.username=user,kafka.secretProperties.sasl\.password=pass' \
    --set persistence.enabled=true --set persistence.storageClass=- --set verify.enabled=true; then
    check_render existing.yaml "existing Secret, 12 pods, a ${#long}-character release name (the verify CronJob's cut to 52)" \
        --expect-replicas 12 --expect-persistence --expect-verify
else
    bad "the existing-Secret values do not render: $(cat "$WORK/existing.yaml.err")"
fi

# 4. The verify CronJob with its defaults (figures in the Job's log only).
if render verify.yaml tidemark "$CHART" -n streaming --set partitions=3 --set verify.enabled=true; then
    check_render verify.yaml "defaults, verify.enabled=true (no Pushgateway)" --expect-replicas 1 --expect-verify
else
    bad "verify.enabled=true does not render: $(cat "$WORK/verify.yaml.err")"
fi

# ------------------------------------------------------------- checksum -----

echo "    -- checksum/config"
checksum() {
    python3 - "$1" <<'EOF'
import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d.get("kind") == "StatefulSet":
        print(d["spec"]["template"]["metadata"]["annotations"]["checksum/config"])
EOF
}
if render sum-a.yaml tidemark "$CHART" --set partitions=3 &&
    render sum-b.yaml tidemark "$CHART" --set partitions=3 --set config.window.size_ms=30000 &&
    render sum-c.yaml tidemark "$CHART" --set partitions=3 --set podAnnotations.team=streaming; then
    a=$(checksum "$WORK/sum-a.yaml") b=$(checksum "$WORK/sum-b.yaml") c=$(checksum "$WORK/sum-c.yaml")
    if [ -n "$a" ] && [ "$a" != "$b" ] && [ "$a" = "$c" ]; then
        ok "a config change changes checksum/config (rolls the pods); a pod annotation does not"
    else
        bad "checksum/config: base $a, config changed $b (must differ), annotation added $c (must equal)"
    fi
else
    bad "checksum renders failed: $(cat "$WORK"/sum-*.err)"
fi

# ------------------------------------------------------------- refusals -----

echo "    -- refusals"
# refuse DESCRIPTION EXPECTED-MESSAGE [helmrender args...]
refuse() {
    local what=$1 msg=$2 n=$((++refusals))
    shift 2
    if render "refuse-$n.yaml" tidemark "$CHART" "$@"; then
        bad "$what: rendered, expected a failure with '$msg'"
    elif ! grep -qF -- "$msg" "$WORK/refuse-$n.yaml.err"; then
        bad "$what: failed without '$msg': $(cat "$WORK/refuse-$n.yaml.err")"
    elif [ -s "$WORK/refuse-$n.yaml" ]; then
        bad "$what: failed but printed manifests"
    else
        ok "$what: $(sed 's/^Error: execution error at ([^)]*): //' "$WORK/refuse-$n.yaml.err" | cut -c1-110)"
    fi
}
refusals=0
refuse "no partitions" "partitions is required"
refuse "partitions=null" "partitions is required" --set partitions=null
refuse "replicaCount > partitions (--set)" "replicaCount (4) exceeds partitions (3)" \
    --set partitions=3,replicaCount=4
printf 'partitions: 2\nreplicaCount: 3\n' >"$WORK/too-many.yaml"
refuse "replicaCount > partitions (values file)" "replicaCount (3) exceeds partitions (2)" \
    -f "$WORK/too-many.yaml"
refuse "partitions not a number" "partitions must be a non-negative integer" --set partitions=twelve
refuse "image tag latest" '"latest" is refused' --set partitions=3 --set image.tag=latest
refuse "metrics.port inside config" "do not set metrics.port in config" \
    --set partitions=3 --set config.metrics.port=9000
refuse "secret properties without a Secret" "kafka.secretProperties needs a Secret" \
    --set partitions=3 --set 'kafka.secretProperties.sasl\.password=password'
refuse "verify.pushGateway over https" "a plain http://HOST[:PORT][/PATH] URL" \
    --set partitions=3 --set verify.enabled=true --set verify.pushGateway=https://pushgateway:9091
refuse "verify without a schedule" "verify.schedule is required" \
    --set partitions=3 --set verify.enabled=true --set verify.schedule=
refuse "a property name with an underscore" "cannot be passed as a TIDEMARK_KAFKA_* variable" \
    --set partitions=3 --set 'kafka.properties.ssl_engine\.id=x'

if [ $failures -gt 0 ]; then
    printf 'check_helm: %d problem(s) in %s (rendered manifests in %s)\n' "$failures" "$CHART" "$WORK" >&2
    exit 1
fi
echo "    check_helm: $CHART ok (rendered with tests/ops/helmrender, a stand-in for helm template)"
