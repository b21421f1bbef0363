#!/usr/bin/env bash
#
# tests/ops/check_alerts.sh: static checks of the monitoring and of the
# compose stack, which no container engine runs in CI:
#
#   - promtool: check rules, the rule unit tests (alerts_test.yml), check
#     config of the compose stack's prometheus.yml (its rule file included);
#   - yamllint (strict, config below) on the compose, Prometheus and Grafana
#     YAML; json.load on the Grafana dashboards;
#   - every metric and label the alert rules, their tests and the dashboards
#     use is in deploy/METRICS.md (so a rename cannot silently break them);
#     every alert has severity, summary and description, and a unit test
#     where it fires and one where it stays silent;
#   - the dashboards use the provisioned data source;
#   - the compose file's structure: its services, tidemark built from
#     docker/Dockerfile with the config mounted read-only, distinct instance
#     ids, a state volume at state.dir, the topics of tidemark.json created,
#     Kafka in KRaft mode with transactions possible on one node, Prometheus
#     scraping every tidemark instance on its metrics.port with the rules
#     mounted next to its config, Grafana's provisioning mounted where it
#     reads it;
#   - deploy/compose/tidemark.json is accepted by the built binary (when
#     build/release/tidemark exists).
#
# Prints one line per check; exits 1 after all checks when any failed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PROM_DIR=$ROOT/deploy/prometheus
COMPOSE_DIR=$ROOT/deploy/compose
BIN=$ROOT/build/release/tidemark

# yamllint: the default rules, with room for long PromQL and command lines,
# and no document start marker required (compose and Prometheus files
# usually have none).
YAMLLINT_CONFIG='{extends: default, rules: {line-length: {max: 160}, document-start: disable,
  truthy: {check-keys: false}, comments: {min-spaces-from-content: 1}}}'

# shellcheck source=tests/ops/lib.sh
. "$ROOT/tests/ops/lib.sh"

# Runs a command quietly; on failure prints its output.
check() {
    local what=$1 out
    shift
    if out=$("$@" 2>&1); then
        ok "$what"
    else
        bad "$what"
        printf '%s\n' "$out" | sed 's/^/        /' >&2
    fi
}

for tool in promtool yamllint python3; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "check_alerts: $tool not found (run deploy/install-deps.sh)" >&2
        exit 1
    }
done
python3 -c 'import yaml' 2>/dev/null || {
    echo "check_alerts: python3-yaml not found (run deploy/install-deps.sh)" >&2
    exit 1
}

# ------------------------------------------------------------ promtool -----

check "promtool check rules deploy/prometheus/alerts.yml" \
    promtool check rules "$PROM_DIR/alerts.yml"
check "promtool test rules deploy/prometheus/alerts_test.yml" \
    promtool test rules "$PROM_DIR/alerts_test.yml"
# rule_files in prometheus.yml are relative to it, as in the container,
# where both files are mounted in /etc/prometheus/.
check "promtool check config deploy/prometheus/prometheus.yml" \
    promtool check config "$PROM_DIR/prometheus.yml"

# --------------------------------------------------------- YAML and JSON -----

mapfile -t yaml_files < <(find "$COMPOSE_DIR" "$PROM_DIR" -type f \( -name '*.yml' -o -name '*.yaml' \) | LC_ALL=C sort)
check "yamllint: ${#yaml_files[@]} files in deploy/compose, deploy/prometheus" \
    yamllint --strict -d "$YAMLLINT_CONFIG" "${yaml_files[@]}"

mapfile -t dashboards < <(find "$COMPOSE_DIR/grafana/dashboards" -type f -name '*.json' | LC_ALL=C sort)
if [ ${#dashboards[@]} -eq 0 ]; then
    bad "no Grafana dashboard in deploy/compose/grafana/dashboards/"
fi
for d in "${dashboards[@]}"; do
    check "json.load ${d#"$ROOT"/}" python3 -c '
import json, sys
try:
    json.load(open(sys.argv[1]))
except ValueError as e:
    sys.exit(f"{sys.argv[1]}: {e}")' "$d"
done

# ------------------------------------------------ tidemark.json, binary -----

if [ -x "$BIN" ]; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    check "deploy/compose/tidemark.json accepted by ${BIN#"$ROOT"/} (replay of no records)" \
        "$BIN" replay --config "$COMPOSE_DIR/tidemark.json" --input /dev/null --output-dir "$tmp/out"
else
    echo "    skipped: deploy/compose/tidemark.json against the binary (${BIN#"$ROOT"/} not built)"
fi

# ------------------------------- metric names, alert tests, compose stack -----

if ! PYTHONPATH="$ROOT/tests/ops" python3 - "$ROOT" <<'EOF'; then
import json
import os
import re
import sys

import yaml
from checklib import bad, failures, ok

root = sys.argv[1]
prom_dir = os.path.join(root, "deploy/prometheus")
compose_dir = os.path.join(root, "deploy/compose")


def load_yaml(path):
    with open(path) as f:
        return yaml.safe_load(f)


def rel(path):
    return os.path.relpath(path, root)


# ---- deploy/METRICS.md: the metrics, their types and labels

metrics = {}  # name -> (type, {labels})
config_defaults = {}  # CONFIG.md option table: key -> default
with open(os.path.join(root, "deploy/METRICS.md")) as f:
    for line in f:
        m = re.match(r"\|\s*`(tidemark_[a-z0-9_]+)`\s*\|\s*(\w+)\s*\|([^|]*)\|", line)
        if m:
            metrics[m[1]] = (m[2], set(re.findall(r"`([a-z_]+)`", m[3])))
with open(os.path.join(root, "deploy/CONFIG.md")) as f:
    for line in f:
        m = re.match(r"\|\s*`([a-z_.]+)`\s*\|[^|]*\|\s*`([^`]*)`\s*\|", line)
        if m:
            config_defaults.setdefault(m[1], m[2])
if not metrics:
    bad("no metrics found in deploy/METRICS.md (its table format changed?)")
    sys.exit(1)

# Labels a query may name besides the metrics': Prometheus's own.
KNOWN_LABELS = {"job", "instance", "le", "__name__"}.union(*(l for _, l in metrics.values()))
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"}


def unknown_metrics(text):
    """The tidemark_* names in text that deploy/METRICS.md does not list.
    Label values are left out: job="tidemark_verify" names a job."""
    unknown = set()
    text = re.sub(r'(=~|!~|!=|=)\s*"[^"]*"', r'\1""', text)
    for name in set(re.findall(r"\btidemark_[a-z0-9_]+", text)):
        if name in metrics:
            continue
        base = next((name[: -len(s)] for s in HISTOGRAM_SUFFIXES if name.endswith(s)), None)
        if base in metrics and metrics[base][0] == "histogram":
            continue
        unknown.add(name)
    return unknown


def unknown_labels(expr):
    """Label names in by/on/without/ignoring clauses and selectors that no
    metric of deploy/METRICS.md has."""
    names = set()
    for group in re.findall(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", expr):
        names.update(n.strip() for n in group.split(",") if n.strip())
    for selector in re.findall(r"\{([^{}]*)\}", expr):
        names.update(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", selector))
    return names - KNOWN_LABELS - PROMQL_WORDS


def check_names(what, texts, exprs):
    missing = set()
    for t in texts:
        missing |= unknown_metrics(t)
    labels = set()
    for e in exprs:
        labels |= unknown_labels(e)
    if missing:
        bad(f"{what}: metrics not in deploy/METRICS.md: {', '.join(sorted(missing))}")
    if labels:
        bad(f"{what}: labels of no metric in deploy/METRICS.md: {', '.join(sorted(labels))}")
    if not missing and not labels:
        ok(f"{what}: every metric and label is in deploy/METRICS.md")


# ---- alert rules and their tests

rules = [r for g in load_yaml(os.path.join(prom_dir, "alerts.yml"))["groups"] for r in g["rules"]]
alerts = [r for r in rules if "alert" in r]
check_names("alerts.yml",
            [r["expr"] for r in rules] + [a for r in alerts for a in r.get("annotations", {}).values()],
            [r["expr"] for r in rules])

incomplete = []
for r in alerts:
    if r.get("labels", {}).get("severity") not in ("critical", "warning", "info"):
        incomplete.append(f"{r['alert']} (severity)")
    for a in ("summary", "description"):
        if not r.get("annotations", {}).get(a):
            incomplete.append(f"{r['alert']} ({a})")
if incomplete:
    bad(f"alerts.yml: alerts without a severity label (critical, warning, info) or annotation: {', '.join(incomplete)}")
else:
    ok(f"alerts.yml: {len(alerts)} alerts, each with severity, summary and description")

tests = load_yaml(os.path.join(prom_dir, "alerts_test.yml"))
series = [s["series"] for t in tests.get("tests", []) for s in t.get("input_series", [])]
check_names("alerts_test.yml input series", series, series)
fires, silent = set(), set()
for t in tests.get("tests", []):
    for case in t.get("alert_rule_test", []):
        (fires if case.get("exp_alerts") else silent).add(case["alertname"])
untested = [f"{r['alert']} ({'fires' if r['alert'] not in fires else 'silent'})"
            for r in alerts for kind in ("fires", "silent")
            if r["alert"] not in (fires if kind == "fires" else silent)]
if untested:
    bad(f"alerts_test.yml: no test where these alerts fire / stay silent: {', '.join(untested)}")
else:
    ok("alerts_test.yml: every alert has a test where it fires and one where it stays silent")

# ---- Grafana: data source, dashboards

grafana_dir = os.path.join(compose_dir, "grafana")
ds_uids = set()
for dirpath, _, files in os.walk(os.path.join(grafana_dir, "provisioning", "datasources")):
    for fn in files:
        for ds in load_yaml(os.path.join(dirpath, fn)).get("datasources", []):
            ds_uids.add(ds.get("uid"))
provider_paths = set()
for dirpath, _, files in os.walk(os.path.join(grafana_dir, "provisioning", "dashboards")):
    for fn in files:
        for p in load_yaml(os.path.join(dirpath, fn)).get("providers", []):
            provider_paths.add(p.get("options", {}).get("path"))


def walk_panels(panels):
    for p in panels:
        yield p
        yield from walk_panels(p.get("panels", []))


dash_dir = os.path.join(grafana_dir, "dashboards")
for fn in sorted(os.listdir(dash_dir)):
    if not fn.endswith(".json"):
        continue
    path = os.path.join(dash_dir, fn)
    with open(path) as f:
        dash = json.load(f)
    panels = list(walk_panels(dash.get("panels", [])))
    exprs = [t.get("expr", "") for p in panels for t in p.get("targets", [])]
    variables = dash.get("templating", {}).get("list", [])
    var_queries = [json.dumps(v.get("query", "")) + " " + v.get("definition", "") for v in variables]
    check_names(rel(path), exprs + var_queries, exprs)
    ids = [p.get("id") for p in panels]
    wrong_ds = sorted({str((x.get("datasource") or {}).get("uid"))
                       for x in panels + [t for p in panels for t in p.get("targets", [])] + variables
                       if x.get("datasource") and (x["datasource"].get("uid") not in ds_uids)})
    if len(ids) != len(set(ids)):
        bad(f"{rel(path)}: panel ids are not unique")
    elif wrong_ds:
        bad(f"{rel(path)}: data source uids {', '.join(wrong_ds)} are not provisioned ({', '.join(map(str, ds_uids))})")
    elif not exprs:
        bad(f"{rel(path)}: no queries")
    else:
        ok(f"{rel(path)}: {len(panels)} panels, {len(exprs)} queries on the provisioned data source")

# ---- the compose stack

compose_path = os.path.join(compose_dir, "docker-compose.yml")
compose = load_yaml(compose_path)
services = compose.get("services", {})
pipeline_path = os.path.join(compose_dir, "tidemark.json")
with open(pipeline_path) as f:
    pipeline = json.load(f)


def pipeline_get(key):
    """An option of tidemark.json, nested or dotted."""
    node = pipeline
    for i, part in enumerate(key.split(".")):
        if not isinstance(node, dict):
            return None
        dotted = ".".join(key.split(".")[i:])
        if dotted in node:
            return node[dotted]
        node = node.get(part)
    return node


def compose_path_of(p):
    return os.path.normpath(os.path.join(compose_dir, p))


def mounts(svc):
    """Bind mounts (short syntax) as (host path, container path, read only)."""
    out = []
    for v in svc.get("volumes", []):
        if isinstance(v, str):
            parts = v.split(":")
            if parts[0].startswith((".", "/")) and len(parts) >= 2:
                out.append((compose_path_of(parts[0]), parts[1], len(parts) > 2 and "ro" in parts[2].split(",")))
        elif isinstance(v, dict) and v.get("type") == "bind":
            out.append((compose_path_of(v["source"]), v["target"], bool(v.get("read_only"))))
    return out


def named_volumes(svc):
    out = []
    for v in svc.get("volumes", []):
        if isinstance(v, str) and not v.startswith((".", "/")) and ":" in v:
            out.append(v.split(":")[1])
        elif isinstance(v, dict) and v.get("type") == "volume":
            out.append(v["target"])
    return out


def as_list(cmd):
    return cmd if isinstance(cmd, list) else (cmd or "").split()


def effective(svc, key):
    """An option's value in a service: --set, else TIDEMARK_* environment,
    else tidemark.json, else the CONFIG.md default (CONFIG.md precedence)."""
    cmd = as_list(svc.get("command"))
    overrides = [cmd[i + 1].split("=", 1)[1] for i in range(len(cmd) - 1)
                 if cmd[i] == "--set" and cmd[i + 1].startswith(key + "=")]
    if overrides:
        return overrides[-1]
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) for e in env if "=" in e)
    var = "TIDEMARK_" + key.upper().replace(".", "_")
    if env.get(var) not in (None, ""):
        return str(env[var])
    v = pipeline_get(key)
    return str(v) if v is not None else config_defaults.get(key)


problems = []

# Every bind-mounted host path exists.
for name, svc in services.items():
    for host, _, _ in mounts(svc):
        if not os.path.exists(host):
            problems.append(f"{name}: mounts {rel(host)}, which does not exist")

for required in ("kafka", "topics", "producer", "prometheus", "grafana"):
    if required not in services:
        problems.append(f"no service {required}")

# tidemark: built from docker/Dockerfile at the repository root.
dockerfile = os.path.join(root, "docker/Dockerfile")
tidemarks = {}
for name, svc in services.items():
    build = svc.get("build")
    if build is None:
        continue
    if isinstance(build, str):
        build = {"context": build}
    context = compose_path_of(build.get("context", "."))
    df = os.path.normpath(os.path.join(context, build.get("dockerfile", "Dockerfile")))
    if df == dockerfile:
        if context != root:
            problems.append(f"{name}: build context {rel(context)}, not the repository root (docker/Dockerfile copies the whole checkout)")
        tidemarks[name] = svc
if len(tidemarks) < 2:
    problems.append(f"tidemark services built from docker/Dockerfile: {sorted(tidemarks) or 'none'}, expected two replicas")

instance_ids = {}
for name, svc in tidemarks.items():
    cmd = as_list(svc.get("command"))
    if not cmd or cmd[0] != "run":
        problems.append(f"{name}: command {cmd} does not start with run")
        continue
    config = cmd[cmd.index("--config") + 1] if "--config" in cmd[:-1] else None
    if "--instance-id" in cmd[:-1]:
        instance_ids.setdefault(cmd[cmd.index("--instance-id") + 1], []).append(name)
    else:
        problems.append(f"{name}: no --instance-id (the default, the host name, is not stable across re-creation)")
    if not any(h == pipeline_path and c == config and ro for h, c, ro in mounts(svc)):
        problems.append(f"{name}: deploy/compose/tidemark.json is not mounted read-only at --config {config}")
    state_dir = effective(svc, "state.dir")
    if state_dir not in named_volumes(svc):
        problems.append(f"{name}: no named volume at state.dir {state_dir}")
shared_ids = {i: n for i, n in instance_ids.items() if len(n) > 1}
if shared_ids:
    problems.append(f"instance ids shared by several services (they would fence each other): {shared_ids}")

# Kafka: KRaft, and transactions on one broker.
kafka = services.get("kafka", {})
env = kafka.get("environment") or {}
if not str(kafka.get("image", "")).startswith("apache/kafka:"):
    problems.append(f"kafka: image {kafka.get('image')}, expected apache/kafka")
if set(str(env.get("KAFKA_PROCESS_ROLES", "")).split(",")) != {"broker", "controller"}:
    problems.append("kafka: KAFKA_PROCESS_ROLES is not broker,controller (KRaft, one node)")
for var in ("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
            "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"):
    if str(env.get(var)) != "1":
        problems.append(f"kafka: {var} is {env.get(var)}, must be 1 on one broker (transactions, offsets)")
bootstrap = str(pipeline_get("kafka.bootstrap.servers") or "")
if not bootstrap or any(s.split(":")[0] not in services and s.split(":")[0] != kafka.get("hostname")
                        for s in bootstrap.split(",")):
    problems.append(f"tidemark.json: kafka.bootstrap.servers {bootstrap!r} is not the kafka service")

# Topics: every topic of tidemark.json created, outputs with at least the
# input's partitions.
app = pipeline_get("application_id")
wanted = {"input": list(pipeline_get("input.topics") or []),
          "output": [pipeline_get("output.topic")],
          "late": [pipeline_get("output.late_topic") or f"{app}-late"],
          "dlq": [pipeline_get("output.dlq_topic") or f"{app}-dlq"]}
topics_cmd = services.get("topics", {}).get("command") or ""
script = "\n".join(topics_cmd) if isinstance(topics_cmd, list) else str(topics_cmd)
created = {}
for line in script.replace("\\\n", " ").splitlines():
    if "--create" in line:
        t = re.search(r"--topic[ =](\S+)", line)
        p = re.search(r"--partitions[ =](\d+)", line)
        if t:
            created[t[1]] = int(p[1]) if p else None
for kind, topics in wanted.items():
    for t in topics:
        if t not in created:
            problems.append(f"topics: does not create the {kind} topic {t} of tidemark.json")
inputs = [created.get(t) for t in wanted["input"] if created.get(t)]
for kind in ("output", "late", "dlq"):
    for t in wanted[kind]:
        if inputs and created.get(t) and created[t] < max(inputs):
            problems.append(f"topics: {kind} topic {t} has {created[t]} partitions, fewer than the input's {max(inputs)}")

# Prometheus: scrapes every tidemark instance on its metrics.port, with the
# compose file's prometheus.yml and rule files mounted where it reads them.
prom_cfg_path = os.path.join(prom_dir, "prometheus.yml")
prom_cfg = load_yaml(prom_cfg_path)
prom = services.get("prometheus", {})
prom_mounts = {h: c for h, c, _ in mounts(prom)}
cfg_in_container = prom_mounts.get(prom_cfg_path)
if cfg_in_container != "/etc/prometheus/prometheus.yml":
    problems.append("prometheus: deploy/prometheus/prometheus.yml is not mounted at /etc/prometheus/prometheus.yml")
else:
    for rf in prom_cfg.get("rule_files", []):
        host = os.path.join(prom_dir, rf)
        if prom_mounts.get(host) != os.path.join(os.path.dirname(cfg_in_container), rf):
            problems.append(f"prometheus: rule file {rf} is not mounted next to prometheus.yml")
targets = {t for sc in prom_cfg.get("scrape_configs", []) for st in sc.get("static_configs", [])
           for t in st.get("targets", [])}
for name, svc in tidemarks.items():
    host = svc.get("hostname", name)
    port = effective(svc, "metrics.port")
    if f"{host}:{port}" not in targets and f"{name}:{port}" not in targets:
        problems.append(f"prometheus.yml: does not scrape {name} at {host}:{port} (its metrics.port)")
for t in sorted(targets):
    host, _, port = t.partition(":")
    owners = [n for n, svc in tidemarks.items() if host in (n, svc.get("hostname"))]
    if owners and port != effective(tidemarks[owners[0]], "metrics.port"):
        problems.append(f"prometheus.yml: scrapes {t}, but the metrics.port of {owners[0]} is {effective(tidemarks[owners[0]], 'metrics.port')}")

# Grafana: provisioning where Grafana reads it, dashboards where the
# provider looks.
graf = services.get("grafana", {})
graf_mounts = {h: c for h, c, _ in mounts(graf)}
if graf_mounts.get(os.path.join(grafana_dir, "provisioning")) != "/etc/grafana/provisioning":
    problems.append("grafana: deploy/compose/grafana/provisioning is not mounted at /etc/grafana/provisioning")
if graf_mounts.get(dash_dir) not in provider_paths:
    problems.append(f"grafana: deploy/compose/grafana/dashboards is mounted at {graf_mounts.get(dash_dir)}, "
                    f"not at a provider's path ({', '.join(map(str, provider_paths))})")

if problems:
    for p in problems:
        bad(f"docker-compose.yml: {p}")
else:
    ok(f"docker-compose.yml: services {', '.join(services)}; tidemark from docker/Dockerfile as "
       f"{', '.join(sorted(tidemarks))}; topics {', '.join(sorted(created))}; "
       f"scraped on metrics.port {', '.join(sorted({effective(s, 'metrics.port') for s in tidemarks.values()}))}")

sys.exit(1 if failures() else 0)
EOF
    failures=$((failures + 1))
fi

if [ $failures -gt 0 ]; then
    echo "check_alerts: problems found (above)" >&2
    exit 1
fi
echo "    check_alerts: ok"
