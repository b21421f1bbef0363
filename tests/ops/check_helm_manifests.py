#!/usr/bin/env python3
"""Checks the manifests the tidemark chart renders (tests/ops/check_helm.sh).

    check_helm_manifests.py RENDERED.yaml --binary build/release/tidemark
        --chart helm/tidemark [--dockerfile docker/Dockerfile] --work DIR
        [--expect-secret] [--expect-servicemonitor] [--expect-persistence]
        [--expect-replicas N] [--expect-metrics-port N]
        [--expect-verify [--expect-verify-schedule S] [--expect-push-gateway URL]]

Every document is parsed with PyYAML, then checked:
  - offline Kubernetes validity: apiVersion/kind/metadata.name present, the
    apiVersion known for the kind, names DNS-1123 (Service names DNS-1035),
    label and annotation keys/values well formed and strings, container and
    Service port names, env names, volumes and mounts that resolve, selectors
    that match the pod template labels;
  - what the chart promises: a StatefulSet (Parallel, pod name as instance
    id through the downward API, probes on /healthz and /readyz on the
    metrics port, a restrictive securityContext, the config mounted read-only
    from the ConfigMap, the state volume at state.dir), a headless and a
    metrics Service, a PodDisruptionBudget (maxUnavailable 1), optionally a
    ServiceMonitor and a Secret, an image that is not "latest"; with
    --expect-verify the verify CronJob (schedule, Forbid, no retry,
    `tidemark verify --last-closed-hour --json [--push-gateway URL]` with
    the StatefulSet's config, env, --set arguments, image and security, a
    writable emptyDir at $TMPDIR, pods no Service or PDB selects), and
    without it no CronJob;
  - against the real binary: the ConfigMap's config.json, with the
    container's TIDEMARK_* variables and --set arguments, is accepted by
    `tidemark replay --config ... --input /dev/null` (the same config checks
    as `tidemark run`, which needs a broker), and every TIDEMARK_* variable
    is an option `tidemark --help` lists (or a kafka.* property).

Prints one line per check; exits 1 when any failed.
"""

import argparse
import base64
import json
import os
import re
import subprocess
import sys
import tempfile

import yaml
from checklib import bad, failures, ok



def check(cond, msg, detail=""):
    if cond:
        ok(msg)
    else:
        bad(msg + (f": {detail}" if detail else ""))
    return cond


# ------------------------------------------------ Kubernetes name rules -----

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
IANA_SVC_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")

# The apiVersion each kind the chart may render must use (the stable ones).
API_VERSIONS = {
    "ConfigMap": "v1",
    "Secret": "v1",
    "Service": "v1",
    "StatefulSet": "apps/v1",
    "PodDisruptionBudget": "policy/v1",
    "ServiceMonitor": "monitoring.coreos.com/v1",
    "CronJob": "batch/v1",
}


def is_dns1123_label(s):
    return isinstance(s, str) and len(s) <= 63 and DNS1123_LABEL.match(s) is not None


def is_dns1123_subdomain(s):
    return isinstance(s, str) and len(s) <= 253 and DNS1123_SUBDOMAIN.match(s) is not None


def is_iana_svc_name(s):
    return (isinstance(s, str) and 1 <= len(s) <= 15 and IANA_SVC_NAME.match(s) is not None
            and "--" not in s and re.search(r"[a-z]", s) is not None)


def qualified_key_problem(key):
    if not isinstance(key, str):
        return f"key {key!r} is not a string"
    prefix, _, name = key.rpartition("/")
    if "/" in key and not is_dns1123_subdomain(prefix):
        return f"key {key!r}: prefix {prefix!r} is not a DNS-1123 subdomain"
    if len(name) > 63 or not QUALIFIED_NAME.match(name):
        return f"key {key!r}: name part must be <= 63 characters of [A-Za-z0-9-_.], alphanumeric at both ends"
    return None


def label_problems(where, labels, values_are_labels=True):
    probs = []
    if labels is None:
        return probs
    if not isinstance(labels, dict):
        return [f"{where}: not a map"]
    for k, v in labels.items():
        p = qualified_key_problem(k)
        if p:
            probs.append(f"{where}: {p}")
        if not isinstance(v, str):
            probs.append(f"{where}: {k}: value {v!r} is a {type(v).__name__}, not a string (quote it)")
        elif values_are_labels and (len(v) > 63 or not LABEL_VALUE.match(v)):
            probs.append(f"{where}: {k}: value {v!r} is not a valid label value")
    return probs


def subset(small, big):
    return isinstance(small, dict) and isinstance(big, dict) and all(big.get(k) == v for k, v in small.items())


# --------------------------------------------------------------- inputs -----

def load_docs(path):
    with open(path) as f:
        text = f.read()
    return [d for d in yaml.safe_load_all(text) if d is not None]


def help_options(binary):
    """Option names from `tidemark --help` (its OPTION table), and defaults."""
    out = subprocess.run([binary, "--help"], capture_output=True, text=True, check=True).stdout
    opts, defaults, col = [], {}, None
    for line in out.splitlines():
        if line.startswith("OPTION"):
            col = line.index("DEFAULT")
            continue
        if col is None:
            continue
        if not line.strip():
            break
        name = line.split()[0]
        opts.append(name)
        defaults[name] = line[col:].split()[0] if len(line) > col else ""
    if not opts:
        raise SystemExit(f"{binary} --help: no OPTION table")
    return opts, defaults


def dockerfile_uid(path):
    uid = None
    if path and os.path.exists(path):
        with open(path) as f:
            for line in f:
                m = re.match(r"^\s*USER\s+([0-9]+)", line)
                if m:
                    uid = int(m.group(1))
    return uid


# ---------------------------------------------------------------- checks -----

def check_generic(docs):
    """Offline validity of every document, whatever its kind."""
    probs = []
    seen = set()
    for i, d in enumerate(docs):
        where = f"document {i + 1}"
        if not isinstance(d, dict):
            probs.append(f"{where}: not a map")
            continue
        kind, api = d.get("kind"), d.get("apiVersion")
        meta = d.get("metadata") or {}
        name = meta.get("name")
        if not kind or not api or not name:
            probs.append(f"{where}: apiVersion, kind and metadata.name are required (got {api!r}, {kind!r}, {name!r})")
            continue
        where = f"{kind} {name}"
        if kind not in API_VERSIONS:
            probs.append(f"{where}: kind not known to this check (add it to API_VERSIONS)")
        elif api != API_VERSIONS[kind]:
            probs.append(f"{where}: apiVersion {api}, expected {API_VERSIONS[kind]}")
        if (kind, name) in seen:
            probs.append(f"{where}: rendered twice")
        seen.add((kind, name))
        if kind == "Service":
            if not (isinstance(name, str) and len(name) <= 63 and DNS1035_LABEL.match(name)):
                probs.append(f"{where}: a Service name must be a DNS-1035 label (<= 63, a-z0-9-, starting with a letter)")
        elif kind in ("StatefulSet", "CronJob"):
            # A StatefulSet's pods are <name>-<ordinal> and carry the label
            # controller-revision-hash=<name>-<10 chars> (<= 63); a
            # CronJob's Jobs are <name>-<11 chars>.
            if not is_dns1123_label(name) or len(name) > 52:
                probs.append(f"{where}: a {kind} name must be a DNS-1123 label of at most 52 characters")
        elif not is_dns1123_subdomain(name):
            probs.append(f"{where}: name is not a DNS-1123 subdomain")
        ns = meta.get("namespace")
        if ns is not None and not is_dns1123_label(ns):
            probs.append(f"{where}: namespace {ns!r} is not a DNS-1123 label")
        probs += label_problems(f"{where} labels", meta.get("labels"))
        probs += label_problems(f"{where} annotations", meta.get("annotations"), values_are_labels=False)
        if kind == "ConfigMap":
            for k, v in (d.get("data") or {}).items():
                if not isinstance(v, str):
                    probs.append(f"{where}: data.{k} is not a string")
        if kind == "Secret":
            for k, v in (d.get("data") or {}).items():
                try:
                    base64.b64decode(v, validate=True)
                except Exception:
                    probs.append(f"{where}: data.{k} is not base64")
        if kind == "Service":
            names = [p.get("name") for p in (d.get("spec") or {}).get("ports") or []]
            for n in names:
                if not is_dns1123_label(n):
                    probs.append(f"{where}: port name {n!r} is not a DNS-1123 label")
            if len(set(names)) != len(names):
                probs.append(f"{where}: duplicate port names")
        if kind == "StatefulSet":
            probs += check_pod_spec(where, d)
        if kind == "CronJob":
            job = ((d.get("spec") or {}).get("jobTemplate") or {}).get("spec") or {}
            probs += label_problems(f"{where} job labels",
                                    (((d.get("spec") or {}).get("jobTemplate") or {}).get("metadata") or {}).get("labels"))
            probs += check_pod(where, job.get("template") or {}, {})
    check(not probs, f"{len(docs)} documents: offline Kubernetes validity", "; ".join(probs))


def check_pod_spec(where, sts):
    """A StatefulSet: its selector, then its pod template."""
    spec = sts.get("spec") or {}
    tmpl = spec.get("template") or {}
    labels = (tmpl.get("metadata") or {}).get("labels") or {}
    probs = []
    sel = (spec.get("selector") or {}).get("matchLabels")
    if not sel or not subset(sel, labels):
        probs.append(f"{where}: selector.matchLabels {sel} does not match the pod template labels {labels}")
    claims = {(c.get("metadata") or {}).get("name"): c for c in spec.get("volumeClaimTemplates") or []}
    return probs + check_pod(where, tmpl, claims)


def check_pod(where, tmpl, claims):
    """A pod template (of a StatefulSet or a CronJob's Jobs): labels,
    volumes (claims: the StatefulSet's volumeClaimTemplates by name),
    containers, ports, env, mounts, probes."""
    probs = []
    pod = tmpl.get("spec") or {}
    labels = (tmpl.get("metadata") or {}).get("labels") or {}
    probs += label_problems(f"{where} pod labels", labels)
    probs += label_problems(f"{where} pod annotations", (tmpl.get("metadata") or {}).get("annotations"),
                            values_are_labels=False)
    volumes = {}
    for v in pod.get("volumes") or []:
        sources = [k for k in v if k != "name"]
        if len(sources) != 1:
            probs.append(f"{where}: volume {v.get('name')!r} has {len(sources)} sources (one expected)")
        elif v[sources[0]] is None:
            probs.append(f"{where}: volume {v.get('name')!r}: {sources[0]} is null (use {{}})")
        volumes[v.get("name")] = v
    volumes.update(claims)
    for n in volumes:
        if not is_dns1123_label(n):
            probs.append(f"{where}: volume name {n!r} is not a DNS-1123 label")
    containers = pod.get("containers") or []
    if not containers:
        probs.append(f"{where}: no containers")
    for c in containers + (pod.get("initContainers") or []):
        cw = f"{where} container {c.get('name')!r}"
        if not is_dns1123_label(c.get("name")):
            probs.append(f"{cw}: name is not a DNS-1123 label")
        port_names = []
        for p in c.get("ports") or []:
            n = p.get("name")
            if not is_iana_svc_name(n):
                probs.append(f"{cw}: port name {n!r} must be named, <= 15 characters of a-z0-9- with a letter")
            port_names.append(n)
            cp = p.get("containerPort")
            if not isinstance(cp, int) or not 1 <= cp <= 65535:
                probs.append(f"{cw}: containerPort {cp!r} is not 1..65535")
        if len(set(port_names)) != len(port_names):
            probs.append(f"{cw}: duplicate port names")
        env_names = []
        for e in c.get("env") or []:
            n = e.get("name")
            if not isinstance(n, str) or not ENV_NAME.match(n):
                probs.append(f"{cw}: env name {n!r} is invalid")
            env_names.append(n)
            if ("value" in e) == ("valueFrom" in e):
                probs.append(f"{cw}: env {n}: exactly one of value and valueFrom")
            if "value" in e and not isinstance(e["value"], str):
                probs.append(f"{cw}: env {n}: value {e['value']!r} is not a string (quote it)")
            elif re.fullmatch(r"-?[0-9.]+e[+-][0-9]+", str(e.get("value", ""))):
                probs.append(f"{cw}: env {n}: value {e['value']!r} is a number in exponent notation "
                             "(a float64 from a values file printed with %v)")
        dups = {n for n in env_names if env_names.count(n) > 1}
        if dups:
            probs.append(f"{cw}: duplicate env {sorted(dups)}")
        for a in c.get("args") or []:
            if not isinstance(a, str):
                probs.append(f"{cw}: arg {a!r} is not a string")
        paths = []
        for m in c.get("volumeMounts") or []:
            if m.get("name") not in volumes:
                probs.append(f"{cw}: volumeMount {m.get('name')!r} names no volume")
            paths.append(m.get("mountPath"))
        if len(set(paths)) != len(paths):
            probs.append(f"{cw}: duplicate mountPath")
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            pr = c.get(probe)
            if not pr:
                continue
            handlers = [k for k in ("httpGet", "tcpSocket", "exec", "grpc") if k in pr]
            if len(handlers) != 1:
                probs.append(f"{cw}: {probe} has {len(handlers)} handlers")
            port = (pr.get("httpGet") or pr.get("tcpSocket") or {}).get("port")
            if isinstance(port, str) and port not in port_names:
                probs.append(f"{cw}: {probe} port {port!r} is not a container port name")
    return probs


def by_kind(docs, kind):
    return [d for d in docs if d.get("kind") == kind]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("rendered")
    ap.add_argument("--binary", required=True)
    ap.add_argument("--chart", required=True)
    ap.add_argument("--dockerfile")
    ap.add_argument("--work", required=True)
    ap.add_argument("--expect-secret", action="store_true")
    ap.add_argument("--expect-servicemonitor", action="store_true")
    ap.add_argument("--expect-persistence", action="store_true")
    ap.add_argument("--expect-replicas", type=int)
    ap.add_argument("--expect-verify", action="store_true",
                    help="the verify CronJob is rendered (verify.enabled)")
    ap.add_argument("--expect-verify-schedule", default="20 * * * *")
    ap.add_argument("--expect-push-gateway", default="",
                    help="the verify CronJob's --push-gateway URL (default: none)")
    ap.add_argument("--expect-metrics-port", type=int,
                    help="default: the default of metrics.port in `tidemark --help`")
    a = ap.parse_args()

    docs = load_docs(a.rendered)
    options, defaults = help_options(a.binary)
    with open(os.path.join(a.chart, "Chart.yaml")) as f:
        chart = yaml.safe_load(f)

    check_generic(docs)

    kinds = sorted(d.get("kind") for d in docs)
    want = {"ConfigMap": 1, "Service": 2, "StatefulSet": 1, "PodDisruptionBudget": 1,
            "ServiceMonitor": 1 if a.expect_servicemonitor else 0,
            "Secret": 1 if a.expect_secret else 0,
            "CronJob": 1 if a.expect_verify else 0}
    got = {k: kinds.count(k) for k in want}
    if not check(got == want and len(kinds) == sum(want.values()), f"kinds: {', '.join(kinds)}",
                 f"expected {want}"):
        return
    sts = by_kind(docs, "StatefulSet")[0]
    cm = by_kind(docs, "ConfigMap")[0]
    spec = sts["spec"]
    tmpl = spec["template"]
    pod = tmpl["spec"]
    pod_labels = tmpl["metadata"].get("labels") or {}
    sel = spec["selector"]["matchLabels"]
    containers = pod["containers"]
    check(len(containers) == 1, "one container")
    c = containers[0]
    env = {e["name"]: e for e in c.get("env") or []}
    args = c.get("args") or []
    sts_name = sts["metadata"]["name"]

    # ---- StatefulSet shape
    check(spec.get("podManagementPolicy") == "Parallel", "StatefulSet podManagementPolicy Parallel",
          f"got {spec.get('podManagementPolicy')!r}")
    if a.expect_replicas is not None:
        check(spec.get("replicas") == a.expect_replicas, f"replicas {a.expect_replicas}",
              f"got {spec.get('replicas')!r}")
    services = {s["metadata"]["name"]: s for s in by_kind(docs, "Service")}
    headless = [s for s in services.values() if s["spec"].get("clusterIP") == "None"]
    metrics_svcs = [s for s in services.values() if s["spec"].get("clusterIP") != "None"]
    check(len(headless) == 1 and spec.get("serviceName") == headless[0]["metadata"]["name"],
          f"serviceName {spec.get('serviceName')!r} is the headless Service")

    # ---- instance id = pod name (downward API)
    pn = None
    if "--instance-id" in args and args.index("--instance-id") + 1 < len(args):
        m = re.fullmatch(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", args[args.index("--instance-id") + 1])
        pn = m.group(1) if m else None
    fr = (((env.get(pn) or {}).get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath")
    check(args[:1] == ["run"] and pn is not None and fr == "metadata.name",
          f"`tidemark run --instance-id $({pn})`, {pn} = metadata.name (downward API)",
          f"args {args}, env {env.get(pn)}")

    # ---- the config: from the ConfigMap, mounted read-only
    cfg_path = args[args.index("--config") + 1] if "--config" in args[:-1] else None
    mounts = {m["name"]: m for m in c.get("volumeMounts") or []}
    volumes = {v["name"]: v for v in pod.get("volumes") or []}
    cfg_mount = next((m for m in mounts.values() if cfg_path and cfg_path.startswith(m["mountPath"].rstrip("/") + "/")), None)
    cfg_vol = volumes.get(cfg_mount["name"]) if cfg_mount else None
    cfg_key = cfg_path[len(cfg_mount["mountPath"].rstrip("/")) + 1:] if cfg_mount else None
    cm_ref = ((cfg_vol or {}).get("configMap") or {}).get("name")
    config_text = (cm.get("data") or {}).get(cfg_key)
    check(cfg_mount is not None and cfg_mount.get("readOnly") is True and cm_ref == cm["metadata"]["name"]
          and config_text is not None,
          f"--config {cfg_path}: key {cfg_key} of ConfigMap {cm_ref}, mounted read-only",
          f"mount {cfg_mount}, volume {cfg_vol}, ConfigMap keys {sorted(cm.get('data') or {})}")
    if config_text is None:
        return
    try:
        config = json.loads(config_text)
    except ValueError as e:
        bad(f"config.json is not JSON: {e}")
        return

    metrics_port = (config.get("metrics") or {}).get("port")
    state_dir = (config.get("state") or {}).get("dir")

    # ---- config accepted by the binary, with the container's environment
    secrets = {s["metadata"]["name"]: s for s in by_kind(docs, "Secret")}
    run_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"}
    env_probs = []
    opt_vars = {"TIDEMARK_" + re.sub(r"[.+]", "_", o).upper(): o for o in options if o != "kafka.*"}
    for n, e in env.items():
        if n.startswith("TIDEMARK_") and n not in opt_vars and not re.fullmatch(r"TIDEMARK_KAFKA_[A-Z0-9_]+", n):
            env_probs.append(f"{n} is no option of `tidemark --help` and no TIDEMARK_KAFKA_* property")
        if n in ("TIDEMARK_METRICS_PORT", "TIDEMARK_STATE_DIR"):
            env_probs.append(f"{n} overrides what the chart mounts and probes")
        if "value" in e:
            run_env[n] = e["value"]
            continue
        ref = (e.get("valueFrom") or {}).get("secretKeyRef")
        if ref:
            s = secrets.get(ref.get("name"))
            if a.expect_secret:
                if s is None or ref.get("key") not in (s.get("data") or {}):
                    env_probs.append(f"{n}: secretKeyRef {ref} is not in the rendered Secret")
                    continue
                run_env[n] = base64.b64decode(s["data"][ref["key"]]).decode()
            else:
                run_env[n] = "from-secret"  # an existing Secret: its value is unknown here
    check(not env_probs, f"env: {', '.join(sorted(env))} are valid (TIDEMARK_* from `tidemark --help`)",
          "; ".join(env_probs))
    tid = {k: v for k, v in run_env.items() if k.startswith("TIDEMARK_")}
    # `--set` overrides among the extra arguments, checked the same way.
    sets = []
    for i, arg in enumerate(args):
        if arg == "--set" and i + 1 < len(args):
            sets += ["--set", args[i + 1]]
        elif arg.startswith("--set="):
            sets.append(arg)
    os.makedirs(a.work, exist_ok=True)
    cfg_file = os.path.join(a.work, "config.json")
    with open(cfg_file, "w") as f:
        f.write(config_text)
    with tempfile.TemporaryDirectory(dir=a.work) as out:
        cmd = [a.binary, "replay", "--config", cfg_file, "--input", "/dev/null", "--output-dir", out] + sets
        r = subprocess.run(cmd, env=run_env, capture_output=True, text=True)
    check(r.returncode == 0,
          f"`tidemark replay` accepts the ConfigMap's config.json with {len(tid)} TIDEMARK_* variable(s)"
          f"{' and ' + ' '.join(sets) if sets else ''}",
          f"exit {r.returncode}: {r.stderr.strip()}")
    for key in ("metrics.port", "state.dir"):
        if any(s.split("=", 1)[0].removeprefix("--set=") == key for s in sets):
            bad(f"extraArgs override {key}, which the chart mounts and probes")

    # ---- probes on the metrics port
    ports = {p["name"]: p for p in c.get("ports") or []}
    mp = ports.get("metrics")
    want_port = a.expect_metrics_port or int(defaults["metrics.port"])
    check(mp is not None and mp.get("containerPort") == metrics_port == want_port,
          f"container port \"metrics\" is {want_port}, the config's metrics.port",
          f"config metrics.port {metrics_port!r}, ports {c.get('ports')}")
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        hg = (c.get(probe) or {}).get("httpGet") or {}
        port = hg.get("port")
        resolved = ports.get(port, {}).get("containerPort") if isinstance(port, str) else port
        check(hg.get("path") == path and resolved == metrics_port,
              f"{probe}: GET {path} on the metrics port ({port} -> {resolved})", f"got {c.get(probe)}")

    # ---- security
    psc = pod.get("securityContext") or {}
    csc = c.get("securityContext") or {}
    image_uid = dockerfile_uid(a.dockerfile) or 10001
    eff = lambda k: csc.get(k, psc.get(k))  # noqa: E731 (container overrides pod)
    seccomp = (csc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type")
    caps = csc.get("capabilities") or {}
    sec_probs = []
    if eff("runAsNonRoot") is not True:
        sec_probs.append("runAsNonRoot is not true")
    if eff("runAsUser") != image_uid:
        sec_probs.append(f"runAsUser {eff('runAsUser')!r}, the image runs as {image_uid}")
    if not isinstance(psc.get("fsGroup"), int):
        sec_probs.append("no pod fsGroup (the state volume would not be writable)")
    if csc.get("readOnlyRootFilesystem") is not True:
        sec_probs.append("readOnlyRootFilesystem is not true")
    if csc.get("allowPrivilegeEscalation") is not False:
        sec_probs.append("allowPrivilegeEscalation is not false")
    if csc.get("privileged") is True:
        sec_probs.append("privileged")
    if "ALL" not in (caps.get("drop") or []) or caps.get("add"):
        sec_probs.append(f"capabilities {caps}: drop ALL, add none")
    if seccomp != "RuntimeDefault":
        sec_probs.append(f"seccompProfile {seccomp!r}, expected RuntimeDefault")
    if pod.get("automountServiceAccountToken") is not False:
        sec_probs.append("a service account token is mounted")
    if pod.get("hostNetwork") or pod.get("hostPID") or pod.get("hostIPC"):
        sec_probs.append("host namespaces")
    check(not sec_probs, f"securityContext: non-root uid {image_uid}, fsGroup, read-only root, "
          "no privilege escalation, no capabilities, seccomp RuntimeDefault, no API token", "; ".join(sec_probs))
    # Kubernetes injects <SERVICE>_PORT... for every Service of the
    # namespace; a Service named tidemark* would inject TIDEMARK_*
    # variables, which tidemark refuses as unknown options.
    check(pod.get("enableServiceLinks") is False, "enableServiceLinks: false (no TIDEMARK_*_PORT variables from Services)")

    # ---- image
    image = c.get("image") or ""
    digest = "@sha256:" in image
    tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] and not digest else None
    check(digest or (tag and tag != "latest"), f"image {image} is pinned (a tag other than latest, or a digest)")
    version = subprocess.run([a.binary, "--version"], capture_output=True, text=True).stdout.split()
    check(str(chart.get("appVersion")) == (version[-1] if version else None),
          f"Chart.yaml appVersion {chart.get('appVersion')!r} is `tidemark --version` ({' '.join(version)})")

    # ---- state volume at state.dir
    sm = next((m for m in mounts.values() if m["mountPath"].rstrip("/") == (state_dir or "").rstrip("/")), None)
    check(sm is not None and not sm.get("readOnly"), f"the state volume is mounted writable at state.dir {state_dir}")
    if sm is not None:
        claims = {t["metadata"]["name"]: t for t in spec.get("volumeClaimTemplates") or []}
        if a.expect_persistence:
            claim = claims.get(sm["name"])
            req = (((claim or {}).get("spec") or {}).get("resources") or {}).get("requests") or {}
            check(claim is not None and sm["name"] not in volumes and isinstance(req.get("storage"), str)
                  and "ReadWriteOnce" in claim["spec"].get("accessModes", []),
                  f"persistence: volumeClaimTemplate {sm['name']!r} ({req.get('storage')}, "
                  f"storageClassName {claim['spec'].get('storageClassName') if claim else None!r})")
        else:
            check("emptyDir" in (volumes.get(sm["name"]) or {}) and not claims,
                  f"no persistence: {sm['name']!r} is an emptyDir")

    # ---- a grace period that fits a final commit
    kcfg = config.get("kafka") or {}
    txn = env.get("TIDEMARK_KAFKA_TRANSACTION_TIMEOUT_MS", {}).get("value") or kcfg.get("transaction.timeout.ms") \
        or (kcfg.get("transaction") or {}).get("timeout.ms")
    ci = config.get("commit_interval_ms") or 100
    txn_s = int(txn) / 1000 if txn else max(60, 10 * ci / 1000)
    grace = pod.get("terminationGracePeriodSeconds")
    check(isinstance(grace, int) and grace >= txn_s + 30,
          f"terminationGracePeriodSeconds {grace} >= transaction timeout {txn_s:g} s + 30 s (final commit on SIGTERM)")

    # ---- checksum annotation
    ann = tmpl["metadata"].get("annotations") or {}
    check(re.fullmatch(r"[0-9a-f]{64}", str(ann.get("checksum/config", ""))) is not None,
          "pod annotation checksum/config (a config change rolls the pods)")
    if a.expect_secret:
        check(re.fullmatch(r"[0-9a-f]{64}", str(ann.get("checksum/secret", ""))) is not None,
              "pod annotation checksum/secret")

    # ---- Services and PDB select exactly this StatefulSet's pods
    for s in services.values():
        ssel = s["spec"].get("selector")
        check(ssel == sel and subset(ssel, pod_labels),
              f"Service {s['metadata']['name']} selects the StatefulSet's pods", f"selector {ssel}, pods {sel}")
    if len(metrics_svcs) == 1:
        ms = metrics_svcs[0]
        sp = next((p for p in ms["spec"].get("ports") or [] if p.get("name") == "metrics"), None)
        check(sp is not None and sp.get("port") == metrics_port and sp.get("targetPort") in ("metrics", metrics_port),
              f"Service {ms['metadata']['name']}: port \"metrics\" {metrics_port} -> the container's metrics port",
              f"ports {ms['spec'].get('ports')}")
    else:
        bad(f"expected one non-headless (metrics) Service, got {len(metrics_svcs)}")
    pdb = by_kind(docs, "PodDisruptionBudget")[0]
    psel = (pdb["spec"].get("selector") or {}).get("matchLabels")
    check(pdb["spec"].get("maxUnavailable") == 1 and "minAvailable" not in pdb["spec"]
          and psel == sel and subset(psel, pod_labels),
          "PodDisruptionBudget: maxUnavailable 1 over the StatefulSet's pods", f"spec {pdb['spec']}")

    # ---- ServiceMonitor
    if a.expect_servicemonitor and len(metrics_svcs) == 1:
        sm_doc = by_kind(docs, "ServiceMonitor")[0]
        msel = sm_doc["spec"].get("selector", {}).get("matchLabels") or {}
        ms = metrics_svcs[0]
        eps = sm_doc["spec"].get("endpoints") or []
        svc_ports = [p.get("name") for p in ms["spec"].get("ports") or []]
        nss = (sm_doc["spec"].get("namespaceSelector") or {}).get("matchNames") or []
        check(msel and subset(msel, ms["metadata"].get("labels")) and
              not any(subset(msel, h["metadata"].get("labels")) for h in headless),
              f"ServiceMonitor selects the metrics Service {ms['metadata']['name']} only", f"selector {msel}")
        check(eps and all(e.get("port") in svc_ports and e.get("path", "/metrics") == "/metrics" for e in eps),
              "ServiceMonitor endpoints scrape /metrics on the Service's \"metrics\" port", f"endpoints {eps}")
        check(ms["metadata"].get("namespace") in nss, f"ServiceMonitor namespaceSelector {nss} holds the Service's namespace")

    # ---- Secret
    if a.expect_secret:
        s = next(iter(secrets.values()))
        refs = [((e.get("valueFrom") or {}).get("secretKeyRef") or {}).get("name") for e in env.values()]
        check(s["metadata"]["name"] in refs, f"Secret {s['metadata']['name']} is referenced by secretKeyRef")

    # ---- the verify CronJob
    if a.expect_verify:
        check_verify(a, by_kind(docs, "CronJob")[0], sts, cm, cfg_file, list(services.values()) + [pdb])


def check_verify(a, cj, sts, cm, cfg_file, selectors):
    """The verify CronJob: schedule and policies, `tidemark verify
    --last-closed-hour --json [--push-gateway URL]` with the StatefulSet's
    config, environment, --set arguments, image and securityContext, a
    writable emptyDir at $TMPDIR, and pods no Service or PDB selects."""
    name = cj["metadata"]["name"]
    spec = cj["spec"]
    job = spec["jobTemplate"]["spec"]
    tmpl = job["template"]
    pod = tmpl["spec"]
    sts_pod = sts["spec"]["template"]["spec"]
    check(spec.get("schedule") == a.expect_verify_schedule and spec.get("concurrencyPolicy") == "Forbid"
          and job.get("backoffLimit") == 0 and pod.get("restartPolicy") == "Never"
          and all(isinstance(spec.get(k), int) for k in ("successfulJobsHistoryLimit", "failedJobsHistoryLimit")),
          f"CronJob {name}: schedule {spec.get('schedule')!r}, concurrencyPolicy Forbid, backoffLimit 0, "
          "restartPolicy Never, history limits",
          f"spec {dict((k, v) for k, v in spec.items() if k != 'jobTemplate')}, backoffLimit "
          f"{job.get('backoffLimit')!r}, restartPolicy {pod.get('restartPolicy')!r}")
    containers = pod.get("containers") or []
    if not check(len(containers) == 1, "CronJob: one container"):
        return
    c = containers[0]
    sts_c = sts_pod["containers"][0]
    args = c.get("args") or []
    want = ["verify", "--config", None, "--last-closed-hour", "--json"]
    if a.expect_push_gateway:
        want += ["--push-gateway", a.expect_push_gateway]
    sts_args = sts_c.get("args") or []
    sets = sts_args[sts_args.index("--instance-id") + 2:] if "--instance-id" in sts_args else []
    ok_args = (len(args) == len(want) + len(sets) and all(w is None or w == g for w, g in zip(want, args))
               and args[len(want):] == sets and "--from" not in args and "--to" not in args)
    check(ok_args, f"CronJob runs `tidemark {' '.join(args)}` (the StatefulSet's --set arguments after)",
          f"expected {want} + {sets}")

    # The config: the StatefulSet's ConfigMap, mounted read-only.
    mounts = {m["name"]: m for m in c.get("volumeMounts") or []}
    volumes = {v["name"]: v for v in pod.get("volumes") or []}
    cfg_path = args[2] if len(args) > 2 else ""
    cfg_mount = next((m for m in mounts.values() if cfg_path.startswith(m["mountPath"].rstrip("/") + "/")), None)
    cm_ref = ((volumes.get(cfg_mount["name"]) if cfg_mount else {}) or {}).get("configMap", {}).get("name")
    sts_cfg = sts_c["args"][sts_c["args"].index("--config") + 1]
    check(cfg_mount is not None and cfg_mount.get("readOnly") is True and cm_ref == cm["metadata"]["name"]
          and cfg_path == sts_cfg,
          f"CronJob --config {cfg_path}: the StatefulSet's, from ConfigMap {cm_ref}, mounted read-only",
          f"mount {cfg_mount}, ConfigMap {cm_ref}")

    # The spill directory: $TMPDIR, a writable emptyDir.
    env = {e["name"]: e for e in c.get("env") or []}
    tmpdir = (env.get("TMPDIR") or {}).get("value")
    spill = next((m for m in mounts.values() if m["mountPath"].rstrip("/") == (tmpdir or "").rstrip("/")), None)
    check(tmpdir and spill is not None and not spill.get("readOnly") and "emptyDir" in volumes.get(spill["name"], {}),
          f"CronJob spills under TMPDIR={tmpdir}, a writable emptyDir", f"mounts {c.get('volumeMounts')}")

    # The StatefulSet's environment (without its POD_NAME), image and
    # security; the same arguments parsed by the binary.
    sts_env = [e for e in sts_c.get("env") or [] if e["name"] != "POD_NAME"]
    check([e for e in c.get("env") or [] if e["name"] != "TMPDIR"] == sts_env,
          f"CronJob env is the StatefulSet's ({len(sts_env)} variables) and TMPDIR")
    check(c.get("image") == sts_c.get("image") and c.get("securityContext") == sts_c.get("securityContext")
          and pod.get("securityContext") == sts_pod.get("securityContext")
          and pod.get("automountServiceAccountToken") is False and pod.get("enableServiceLinks") is False,
          "CronJob: the StatefulSet's image, securityContexts, no API token, no Service links")
    labels = tmpl["metadata"].get("labels") or {}
    selecting = [s["metadata"]["name"] for s in selectors
                 if subset(s["spec"].get("selector", {}).get("matchLabels", s["spec"].get("selector")) or {"-": "-"}, labels)]
    check(not selecting, "no Service or PodDisruptionBudget selects the verify pods", f"selected by {selecting}")
    # The binary parses the Job's arguments (with --from, which conflicts
    # with --last-closed-hour: exit 2 before any broker is asked).
    cmd = [a.binary] + [cfg_file if x == cfg_path else x for x in args] + ["--from", "0"]
    r = subprocess.run(cmd, capture_output=True, text=True, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    check(r.returncode == 2 and "--last-closed-hour chooses the range" in r.stderr,
          "`tidemark verify` parses the CronJob's arguments", f"exit {r.returncode}: {r.stderr.strip()}")


if __name__ == "__main__":
    main()
    if failures():
        print(f"check_helm_manifests: {failures()} problem(s)", file=sys.stderr)
        sys.exit(1)
