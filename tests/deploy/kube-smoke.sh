#!/usr/bin/env bash
# The Kubernetes manifests (deploy/kubernetes) for real, under `podman kube play` (podman 4.3; no API server here).
#
#  1. Checks every manifest: valid YAML, every object named, every file listed in kustomization.yaml (or one of the
#     files kept out on purpose: the example Secrets and the demo Job), `kubectl kustomize` renders it when kubectl
#     is installed, and the contract the silo and Kubernetes rely on (pod labels orleans/serviceId+clusterId,
#     downward-API env, the Role's verbs and its binding, grace period > shutdownTimeoutSeconds + preStop, scrape
#     annotations on the management port, no Service on that port, a PDB selecting the silos, non-root with a
#     read-only root, Redis with AOF, every required secretKeyRef present in the example Secrets).
#  2. Derives a kube-play file from the real objects (python3-yaml), changing only what podman cannot do:
#       - the silo Deployment with replicas 1 and Kubernetes__Enabled=false (no API server for the hosting agent);
#         POD_NAMESPACE as a plain value (podman has no namespaces) and POD_IP left out (podman 4.3 has no
#         status.podIP; only the Kubernetes hosting reads it); the http port published on a free loopback port;
#       - the Redis StatefulSet as one Pod named after its Service (so the example Secret's address works as it is,
#         through the DNS of a podman network), its claim template as a podman volume made group-writable for
#         fsGroup (podman ignores fsGroup);
#       - the MQTT broker's Deployment as one Pod named after its Service, its port published on a free loopback port;
#       - the example Secrets as podman secrets in the form podman 4.3 reads for secretKeyRef ({key: base64}).
#     Everything else — image, env, probes' paths and ports, security context, resources — is the Deployment's own.
#  3. Builds the silo image (or reuses rnnstreams-silo:latest when it carries the digest of the same sources), plays
#     the file on a network of its own, waits until the readiness probe's path answers 200 (run inside the
#     container, as the kubelet would, with the silo's own `probe` command), checks the liveness and startup paths,
#     the scrape annotations' port and path, the user and the read-only root, the API key from the Secret (401
#     without, 200 with), steps a sequence of the worked example over HTTP (y1 = 0.41481982679921414,
#     y2 = 0.5405484706371846), streams the worked example through the broker's pod with mosquitto_pub/_sub (the silo
#     reached it by the Service's name: y = 0.41482, 0.54055, 0.58090 on rnn/{sequence}/out), and stops the silo with the pod's grace period: it must exit 0 within
#     shutdownTimeoutSeconds.
#  4. Tears everything down (pods, secrets, volume, network), also on failure or interruption, and at the start
#     removes whatever an interrupted run left.
# Not checked here (podman ignores them): Services, RBAC, the Kubernetes hosting agent, StatefulSet semantics,
# the PodDisruptionBudget, fsGroup, preStop, terminationGracePeriodSeconds as a stop timeout, and probes run by a
# kubelet (podman's own health checks need systemd). deploy/kubernetes/README.md lists them.
#
#   bash tests/deploy/kube-smoke.sh [--keep]      # --keep leaves the pods running and says how to remove them
# Last line: kube-smoke: pods=3 ready=1 stepped=2 y_ok=yes mqtt_y=0.41482,0.54055,0.58090 stop_s=1 seconds=8 (seconds until the verdict; the
# teardown takes a few more). About 12 s in all when the image exists, plus the build when the sources changed.
set -euo pipefail
cd "$(dirname "$0")/../.."

keep=false
case ${1:-} in
  --keep) keep=true ;;
  "") ;;
  *) echo "usage: $0 [--keep]" >&2; exit 2 ;;
esac

started=$SECONDS
network=rnnstreams-kube-smoke
key=change-me # the placeholder API key; deploy/kubernetes/secrets/api-keys.example.yaml holds its SHA-256
python=/usr/bin/python3
work=$(mktemp -d -t rnnstreams-kube.XXXXXX)
trap 'rm -rf "$work"' EXIT # until the pods exist; then finish() below
log() { echo "# kube-smoke: $*"; }

bash tests/deploy/podman-setup.sh
if ! "$python" -c 'import yaml' 2>/dev/null; then
  log "installing python3-yaml (Debian package)"
  as_root=""
  [ "$(id -u)" -eq 0 ] || as_root="sudo"
  $as_root apt-get update -qq && DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq python3-yaml >/dev/null
fi

# ---- 1 + 2: check the manifests, derive the kube-play file -----------------------------------------------------
"$python" - deploy/kubernetes "$work" <<'PY'
import base64, copy, glob, json, os, shlex, sys
import yaml

kdir, out = sys.argv[1], sys.argv[2]
problems = []


def load(path):
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d is not None]
    for d in docs:
        if os.path.basename(path) != "kustomization.yaml" and not (
                isinstance(d, dict) and d.get("apiVersion") and d.get("kind") and (d.get("metadata") or {}).get("name")):
            problems.append(f"{path}: a document without apiVersion, kind or metadata.name")
    return docs


files = sorted(glob.glob(os.path.join(kdir, "**", "*.yaml"), recursive=True))
parsed = {}
for path in files:
    try:
        parsed[os.path.relpath(path, kdir)] = load(path)
    except yaml.YAMLError as e:
        problems.append(f"{path}: not valid YAML: {e}")
if problems:
    sys.exit("manifest check failed:\n  " + "\n  ".join(problems))

kustomization = parsed["kustomization.yaml"][0]
namespace = kustomization["namespace"]
listed = kustomization["resources"]
problems += [f"kustomization.yaml lists {r}, which is not there" for r in listed if r not in parsed]
kept_out = [p for p in parsed if p not in listed and p != "kustomization.yaml" and not p.startswith("secrets/") and p != "demo-job.yaml"]
problems += [f"{p} is not listed in kustomization.yaml" for p in kept_out]
resources = [d for r in listed if r in parsed for d in parsed[r]]
secrets = {d["metadata"]["name"]: d for p, docs in parsed.items() if p.startswith("secrets/") for d in docs if d["kind"] == "Secret"}


def one(kind):
    found = [d for d in resources if d["kind"] == kind]
    if len(found) != 1:
        sys.exit(f"manifest check failed: expected one {kind} in kustomization.yaml's resources, found {len(found)}")
    return found[0]


def matches(selector, labels):
    return all(labels.get(k) == v for k, v in selector.items())


statefulset = one("StatefulSet")
# The silo is the Deployment whose pods carry the Orleans labels; every other Deployment is a broker (mqtt.yaml).
deployments = [d for d in resources if d["kind"] == "Deployment"]
silos = [d for d in deployments if "orleans/serviceId" in d["spec"]["template"]["metadata"].get("labels", {})]
if len(silos) != 1:
    sys.exit(f"manifest check failed: expected one Deployment whose pods carry the orleans/serviceId label, found {len(silos)}")
deployment = silos[0]
brokers = [d for d in deployments if d is not deployment]
if len(brokers) != 1:
    sys.exit(f"manifest check failed: expected the MQTT broker's Deployment beside the silo's, found {len(brokers)}")
broker = brokers[0]
template = deployment["spec"]["template"]
labels, annotations, spec = template["metadata"]["labels"], template["metadata"].get("annotations", {}), template["spec"]
if len(spec["containers"]) != 1:
    sys.exit("manifest check failed: the silo pod template should have one container")
container = spec["containers"][0]
ports = {p["name"]: p["containerPort"] for p in container["ports"]}
env = {e["name"]: e for e in container["env"]}
redis_template = statefulset["spec"]["template"]

# The contract, on the real objects.
problems += [f"the silo pod template has no {l} label (the Kubernetes hosting selects pods by it)"
             for l in ("orleans/serviceId", "orleans/clusterId") if l not in labels]
problems += [f"the silo has no downward-API env {n}" for n in ("POD_NAME", "POD_NAMESPACE", "POD_IP")
             if "fieldRef" not in (env.get(n, {}).get("valueFrom") or {})]
role, binding = one("Role"), one("RoleBinding")
verbs = {v for rule in role["rules"] if "pods" in rule["resources"] for v in rule["verbs"]}
if verbs != {"get", "list", "watch", "patch"}:
    problems.append(f"the Role grants {sorted(verbs)} on pods; the Kubernetes hosting uses get, list, watch, patch")
account = spec.get("serviceAccountName")
if binding["roleRef"]["name"] != role["metadata"]["name"] or [s["name"] for s in binding["subjects"]] != [account]:
    problems.append("the RoleBinding does not bind the Role to the silo's service account")
if account not in [d["metadata"]["name"] for d in resources if d["kind"] == "ServiceAccount"]:
    problems.append(f"no ServiceAccount {account}")
grace = spec["terminationGracePeriodSeconds"]
shutdown = int(env["shutdownTimeoutSeconds"]["value"])
pre_stop = (container.get("lifecycle") or {}).get("preStop", {}).get("exec", {}).get("command", [])
pause = int(pre_stop[1]) if pre_stop[:1] == ["sleep"] else 0
if grace <= shutdown + pause:
    problems.append(f"terminationGracePeriodSeconds {grace} must exceed shutdownTimeoutSeconds {shutdown} + preStop {pause}")
if annotations.get("prometheus.io/scrape") != "true" or int(annotations.get("prometheus.io/port", 0)) != ports.get("management"):
    problems.append("the pod template's prometheus.io annotations do not point at the management port")
for svc in resources:
    if svc["kind"] == "Service" and matches(svc["spec"].get("selector", {}), labels):
        problems += [f"Service {svc['metadata']['name']} exposes the management port" for p in svc["spec"]["ports"]
                     if p.get("targetPort") in ("management", ports.get("management"))]
if not matches(one("PodDisruptionBudget")["spec"]["selector"]["matchLabels"], labels):
    problems.append("the PodDisruptionBudget does not select the silo pods")
if not (spec.get("securityContext", {}).get("runAsNonRoot") and container.get("securityContext", {}).get("readOnlyRootFilesystem")):
    problems.append("the silo must run as non-root with a read-only root file system")
mqtt_fronts = [d for d in resources if d["kind"] == "Service" and matches(d["spec"].get("selector", {}), broker["spec"]["template"]["metadata"]["labels"])]
if len(mqtt_fronts) != 1:
    problems.append("expected one Service in front of the MQTT broker")
elif env.get("Mqtt__Host", {}).get("value") != mqtt_fronts[0]["metadata"]["name"]:
    problems.append(f"the silo's Mqtt__Host is {env.get('Mqtt__Host', {}).get('value')!r}, not the broker's Service {mqtt_fronts[0]['metadata']['name']!r}")
if env.get("Mqtt__Enabled", {}).get("value") != "true":
    problems.append("the silo does not consume the broker (Mqtt__Enabled)")
redis_args = redis_template["spec"]["containers"][0].get("args", [])
if "--appendonly" not in redis_args or redis_args[redis_args.index("--appendonly") + 1] != "yes":
    problems.append("Redis runs without --appendonly yes")
for e in container["env"]:
    ref = (e.get("valueFrom") or {}).get("secretKeyRef")
    if ref and not ref.get("optional"):
        s = secrets.get(ref["name"], {})
        if ref["key"] not in {**s.get("data", {}), **s.get("stringData", {})}:
            problems.append(f"env {e['name']}: no example Secret {ref['name']} with key {ref['key']}")
if problems:
    sys.exit("manifest check failed:\n  " + "\n  ".join(problems))

# The kube-play file: the real objects, with only what podman 4.3 cannot do replaced (see the script's header).
silo = copy.deepcopy(deployment)
silo["spec"]["replicas"] = 1
c = silo["spec"]["template"]["spec"]["containers"][0]
play_env = []
for e in c["env"]:
    field = ((e.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath")
    if e["name"] == "Kubernetes__Enabled":
        e = {"name": e["name"], "value": "false"}
    elif field == "metadata.namespace":
        e = {"name": e["name"], "value": namespace}
    elif field == "status.podIP":
        continue
    play_env.append(e)
c["env"] = play_env
for p in c["ports"]:
    if p["name"] == "http":
        p["hostPort"], p["hostIP"] = 0, "127.0.0.1"  # the script picks a free port

fronts = [d for d in resources if d["kind"] == "Service" and d["spec"].get("clusterIP") != "None"
          and matches(d["spec"].get("selector", {}), redis_template["metadata"]["labels"])]
if len(fronts) != 1:
    sys.exit("manifest check failed: expected one Service (not headless) in front of the Redis StatefulSet")
redis_name = fronts[0]["metadata"]["name"]
redis_spec = copy.deepcopy(redis_template["spec"])
redis = {"apiVersion": "v1", "kind": "Pod",
         "metadata": {**copy.deepcopy(redis_template["metadata"]), "name": redis_name}, "spec": redis_spec}
fs_group = redis_spec.get("securityContext", {}).get("fsGroup", "")
volumes = []
for claim in statefulset["spec"].get("volumeClaimTemplates", []):
    claim_name = f"{claim['metadata']['name']}-{statefulset['metadata']['name']}-0"  # as the StatefulSet names it
    redis_spec.setdefault("volumes", []).append({"name": claim["metadata"]["name"], "persistentVolumeClaim": {"claimName": claim_name}})
    volumes.append(f"{claim_name}:{fs_group}")

# The broker's Deployment as one Pod named after its Service (its DNS name is what Mqtt__Host says), its port
# published on a free loopback port so that this host's mosquitto_pub/_sub reach it.
mqtt_name = mqtt_fronts[0]["metadata"]["name"]
mqtt_spec = copy.deepcopy(broker["spec"]["template"]["spec"])
mqtt = {"apiVersion": "v1", "kind": "Pod",
        "metadata": {**copy.deepcopy(broker["spec"]["template"]["metadata"]), "name": mqtt_name}, "spec": mqtt_spec}
for p in mqtt_spec["containers"][0]["ports"]:
    p["hostPort"], p["hostIP"] = 1, "127.0.0.1"  # the script picks a free port

with open(os.path.join(out, "kube.yaml"), "w") as f:
    f.write("# Generated by tests/deploy/kube-smoke.sh from deploy/kubernetes; do not edit.\n")
    yaml.safe_dump_all([redis, mqtt, silo], f, sort_keys=False)
for name, s in secrets.items():
    data = dict(s.get("data", {}))
    data.update({k: base64.b64encode(str(v).encode()).decode() for k, v in s.get("stringData", {}).items()})
    with open(os.path.join(out, f"secret-{name}.json"), "w") as f:
        json.dump(data, f)

pod = f"{deployment['metadata']['name']}-pod-0"  # podman's name for a Deployment's first pod
plan = {
    "SILO_IMAGE": container["image"], "SILO_POD": pod, "SILO_CTR": f"{pod}-{container['name']}",
    "REDIS_POD": redis_name, "REDIS_CTR": f"{redis_name}-{redis_spec['containers'][0]['name']}",
    "MQTT_POD": mqtt_name, "MQTT_CTR": f"{mqtt_name}-{mqtt_spec['containers'][0]['name']}",
    "SECRETS": " ".join(secrets), "VOLUMES": " ".join(volumes),
    "RUN_AS_USER": spec["securityContext"]["runAsUser"], "GRACE": grace, "SHUTDOWN_TIMEOUT": shutdown,
    "SCRAPE_PORT": annotations["prometheus.io/port"], "SCRAPE_PATH": annotations.get("prometheus.io/path", "/metrics"),
    "OBJECTS": len(resources), "FILES": len(files),
}
for kind, prefix in (("readinessProbe", "READY"), ("livenessProbe", "LIVE"), ("startupProbe", "STARTUP")):
    p = container[kind]
    port = p["httpGet"]["port"]
    plan.update({f"{prefix}_PATH": p["httpGet"]["path"], f"{prefix}_PORT": ports.get(port, port),
                 f"{prefix}_PERIOD": p.get("periodSeconds", 10),
                 f"{prefix}_BUDGET": p.get("initialDelaySeconds", 0) + p.get("periodSeconds", 10) * p.get("failureThreshold", 3)})
with open(os.path.join(out, "plan.sh"), "w") as f:
    f.writelines(f"{k}={shlex.quote(str(v))}\n" for k, v in plan.items())
PY
# shellcheck source=/dev/null
. "$work/plan.sh"
log "manifests: $FILES files valid, $OBJECTS objects in kustomization.yaml, contract checks passed"

if command -v kubectl >/dev/null 2>&1; then
  timeout 60 kubectl kustomize deploy/kubernetes >"$work/rendered.yaml" 2>"$work/kustomize.log" \
    || { cat "$work/kustomize.log" >&2; echo "error: kubectl kustomize deploy/kubernetes failed" >&2; exit 1; }
  rendered=$(grep -c '^kind:' "$work/rendered.yaml")
  [ "$rendered" -eq "$OBJECTS" ] || { echo "error: kustomize renders $rendered objects, the files hold $OBJECTS" >&2; exit 1; }
  log "kubectl kustomize renders $rendered objects"
fi

# ---- teardown: always, and first of all for what an interrupted run left ----------------------------------------
teardown() {
  podman stop -t 10 "$SILO_CTR" >/dev/null 2>&1 || true # before Redis goes, so its shutdown is not left waiting
  if [ -f "$work/kube.yaml" ]; then
    podman kube down "$work/kube.yaml" >/dev/null 2>&1 || true
  fi
  podman pod rm -f "$SILO_POD" "$REDIS_POD" "$MQTT_POD" >/dev/null 2>&1 || true
  for s in $SECRETS; do podman secret rm "$s" >/dev/null 2>&1 || true; done
  for v in $VOLUMES; do podman volume rm -f "${v%%:*}" >/dev/null 2>&1 || true; done
  podman network rm -f "$network" >/dev/null 2>&1 || true
}
finish() {
  local status=$?
  trap - EXIT INT TERM
  exec >&8 2>&9 # a signal's trap may run inside a redirected function (probe > file): back to the real outputs
  if [ "$status" -ne 0 ]; then
    for c in "$SILO_CTR" "$REDIS_CTR" "$MQTT_CTR"; do
      echo "---- last lines of $c ----" >&2
      podman logs --tail 30 "$c" >&2 2>/dev/null || true
    done
  fi
  if [ "$keep" = true ]; then
    log "--keep: left running; remove with: podman kube down $work/kube.yaml; podman secret rm $SECRETS; podman volume rm ${VOLUMES%%:*}; podman network rm $network"
  else
    teardown
    rm -rf "$work"
  fi
  exit "$status"
}
teardown
exec 8>&1 9>&2
trap finish EXIT
trap 'exit 130' INT TERM

# Free ports on the host's loopback for the silo's http port and the broker's (after the teardown: a left-over run
# may hold one).
free_port() { # free_port FIRST LAST
  local port
  for port in $(seq "$1" "$2"); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  return 1
}
http_host_port=$(free_port 18480 18499) || { echo "error: no free loopback port in 18480-18499" >&2; exit 1; }
mqtt_host_port=$(free_port 18500 18519) || { echo "error: no free loopback port in 18500-18519" >&2; exit 1; }
sed -i -e "s/^\( *hostPort:\) 0\$/\1 $http_host_port/" -e "s/^\( *hostPort:\) 1\$/\1 $mqtt_host_port/" "$work/kube.yaml"
grep -q "hostPort: $http_host_port\$" "$work/kube.yaml" || { echo "error: the http port is not published in the kube-play file" >&2; exit 1; }
grep -q "hostPort: $mqtt_host_port\$" "$work/kube.yaml" || { echo "error: the broker's port is not published in the kube-play file" >&2; exit 1; }

# ---- 3: the image, then the pods ---------------------------------------------------------------------------------
# The silo image's sources (what silo/Dockerfile copies), as one digest: an image labelled with the same digest is
# reused, anything else is rebuilt (podman's layer cache makes an unchanged rebuild quick, but another work tree's
# build under the same tag is not up to date for this one).
sources=$(git ls-files -co --exclude-standard -- global.json Directory.Build.props Directory.Packages.props .editorconfig src silo \
  | grep -v -E '(^|/)(bin|obj)/' | LC_ALL=C sort -u | while read -r f; do if [ -f "$f" ]; then sha256sum "$f"; fi; done | sha256sum | cut -c1-16)
image_sources=$(podman image inspect "$SILO_IMAGE" --format '{{index .Config.Labels "rnnstreams.sources"}}' 2>/dev/null || true)
if [ "$image_sources" = "$sources" ]; then
  log "reusing $SILO_IMAGE (sources $sources)"
else
  log "building $SILO_IMAGE (sources $sources)"
  build_started=$SECONDS
  nuget=${NUGET_PACKAGES:-$HOME/.nuget/packages}
  mkdir -p "$nuget"
  podman build -q --network host -v "$nuget:/root/.nuget/packages" --label "rnnstreams.sources=$sources" \
    -f silo/Dockerfile -t "$SILO_IMAGE" . >"$work/build.log" 2>&1 \
    || { cat "$work/build.log" >&2; echo "error: podman build -f silo/Dockerfile failed" >&2; exit 1; }
  log "built in $((SECONDS - build_started)) s"
fi
# Pin the image by its ID: another build retagging it meanwhile does not change what is played.
image_id=$(podman image inspect "$SILO_IMAGE" --format '{{.Id}}')
sed -i "s|image: $SILO_IMAGE\$|image: $image_id|" "$work/kube.yaml"
grep -q "image: $image_id" "$work/kube.yaml" || { echo "error: the silo image is not in the kube-play file" >&2; exit 1; }

podman network create "$network" >/dev/null 8>&- 9>&-
for s in $SECRETS; do podman secret create "$s" "$work/secret-$s.json" >/dev/null; done
for v in $VOLUMES; do
  name=${v%%:*} group=${v##*:}
  podman volume create "$name" >/dev/null
  if [ -n "$group" ]; then # fsGroup, which podman ignores: the volume's group and its setgid bit
    podman run --rm --user 0 --network none -v "$name:/volume" --entrypoint /bin/sh docker.io/library/redis:7 \
      -c "chgrp $group /volume && chmod 2775 /volume" >/dev/null
  fi
done
# fds 8 and 9 (the script's own outputs) are closed for it: conmon and aardvark-dns, which it starts, would keep
# them open, and a caller reading this script's output through a pipe would wait for them.
podman kube play --network "$network" "$work/kube.yaml" >"$work/play.log" 2>&1 8>&- 9>&- \
  || { cat "$work/play.log" >&2; echo "error: podman kube play failed" >&2; exit 1; }
pods=$(podman pod ps --format '{{.Name}}' | grep -c -x -E "$SILO_POD|$REDIS_POD|$MQTT_POD" || true)
log "played: $pods pods ($SILO_POD, $REDIS_POD, $MQTT_POD) on network $network, http on 127.0.0.1:$http_host_port, MQTT on 127.0.0.1:$mqtt_host_port"

# Probes as the kubelet runs them, from inside the pod: the silo's own probe command (the image has no curl).
probe() { podman exec "$SILO_CTR" dotnet RnnStreams.Silo.dll probe "http://127.0.0.1:$1$2"; }
ready_started=$SECONDS
ready=0
while [ $((SECONDS - ready_started)) -lt "$STARTUP_BUDGET" ]; do
  if probe "$READY_PORT" "$READY_PATH" >"$work/ready.out" 2>&1; then
    ready=1
    break
  fi
  sleep 1 # the kubelet would wait periodSeconds ($READY_PERIOD s); polling faster only finds readiness sooner
done
[ "$ready" -eq 1 ] || { cat "$work/ready.out" >&2; echo "error: $READY_PATH on port $READY_PORT did not answer 200 within the startup budget of $STARTUP_BUDGET s" >&2; exit 1; }
grep -q '"redis":{"status":"Healthy"' "$work/ready.out" || { cat "$work/ready.out" >&2; echo "error: the silo is ready without a healthy Redis check" >&2; exit 1; }
# Connected to the broker through its Service's name (the check says so once the first connect is done).
mqtt_started=$SECONDS
until grep -q '"mqtt":{"status":"Healthy"' "$work/ready.out"; do
  [ $((SECONDS - mqtt_started)) -lt 30 ] || { cat "$work/ready.out" >&2; echo "error: the silo did not connect to the broker's Service within 30 s" >&2; exit 1; }
  sleep 1
  probe "$READY_PORT" "$READY_PATH" >"$work/ready.out" 2>&1 || true
done
log "ready after $((SECONDS - ready_started)) s: $(cut -c1-160 "$work/ready.out")"
probe "$LIVE_PORT" "$LIVE_PATH" >/dev/null || { echo "error: the liveness path $LIVE_PATH on $LIVE_PORT does not answer 200" >&2; exit 1; }
probe "$STARTUP_PORT" "$STARTUP_PATH" >/dev/null || { echo "error: the startup path $STARTUP_PATH on $STARTUP_PORT does not answer 200" >&2; exit 1; }
probe "$SCRAPE_PORT" "$SCRAPE_PATH" >"$work/metrics.out" || { echo "error: the scrape target :$SCRAPE_PORT$SCRAPE_PATH does not answer 200" >&2; exit 1; }
grep -q '^orleans_' "$work/metrics.out" || { head -n 5 "$work/metrics.out" >&2; echo "error: $SCRAPE_PATH holds no Orleans series" >&2; exit 1; }
user=$(podman inspect "$SILO_CTR" --format '{{.Config.User}}')
read_only=$(podman inspect "$SILO_CTR" --format '{{.HostConfig.ReadonlyRootfs}}')
[ "${user%%:*}" = "$RUN_AS_USER" ] && [ "$read_only" = true ] \
  || { echo "error: the silo runs as '$user' with read-only root '$read_only'; the manifest says $RUN_AS_USER, true" >&2; exit 1; }
log "liveness $LIVE_PATH, startup $STARTUP_PATH and scrape :$SCRAPE_PORT$SCRAPE_PATH answer; user $user, read-only root"

# ---- the HTTP API through the published port: the key from the Secret, a sequence of the worked example ---------
api=http://127.0.0.1:$http_host_port/v1
status() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
[ "$(status "$api/models")" = 401 ] || { echo "error: the API answers without a key" >&2; exit 1; }
[ "$(status -H "X-Api-Key: $key" "$api/models")" = 200 ] || { echo "error: the API refuses the key whose digest the Secret holds" >&2; exit 1; }
call() { # call PATH BODY
  curl -s -f -H "X-Api-Key: $key" -H 'content-type: application/json' -X POST "$api/sequences/$sequence/$1" -d "$2"
}
sequence=kube-smoke-$$-$RANDOM
call start '{"model":"worked-example"}' >"$work/start.out" || { echo "error: starting a sequence failed" >&2; exit 1; }
call elements '{"n":1,"x":[1]}' >"$work/y1.out" || { echo "error: element 1 failed" >&2; exit 1; }
call elements '{"n":2,"x":[2]}' >"$work/y2.out" || { echo "error: element 2 failed" >&2; exit 1; }
stepped=0
y_ok=no
for pair in "1 0.41481982679921414" "2 0.5405484706371846"; do
  set -- $pair
  if "$python" -c 'import json, sys; a = json.load(open(sys.argv[1])); sys.exit(not (a["n"] == int(sys.argv[2]) and abs(a["y"][0] - float(sys.argv[3])) <= 1e-12))' \
    "$work/y$1.out" "$1" "$2"; then
    stepped=$((stepped + 1))
  else
    echo "error: element $1: $(cat "$work/y$1.out"), expected y = $2" >&2
  fi
done
[ "$stepped" -eq 2 ] && y_ok=yes
log "sequence $sequence: $(cat "$work/y1.out") $(cat "$work/y2.out")"
curl -s -o /dev/null -H "X-Api-Key: $key" -X DELETE "$api/sequences/$sequence" || true

# ---- MQTT through the broker's pod, with nothing of ours on this side: the worked example on a sequence started over
# HTTP (the silo's MQTT default model is demo), its outputs read back from rnn/{sequence}/out.
mq=kube-mqtt-$$-$RANDOM
call_mq() { curl -s -f -H "X-Api-Key: $key" -H 'content-type: application/json' -X POST "$api/sequences/$mq/start" -d '{"model":"worked-example"}'; }
call_mq >/dev/null || { echo "error: starting the MQTT sequence over HTTP failed" >&2; exit 1; }
mosquitto_sub -V 5 -q 1 -h 127.0.0.1 -p "$mqtt_host_port" -t "rnn/$mq/out" -C 3 -W 60 >"$work/mqtt.out" 2>&1 &
mqtt_sub=$!
sleep 1 # the subscription is in place before the first publish (mosquitto_sub has no ready signal)
for n in 1 2 3; do mosquitto_pub -V 5 -q 1 -h 127.0.0.1 -p "$mqtt_host_port" -t "rnn/$mq/in" -m "{\"n\": $n, \"x\": [$n]}"; done
wait "$mqtt_sub" || { cat "$work/mqtt.out" >&2; echo "error: no outputs on rnn/$mq/out" >&2; exit 1; }
mqtt_ys=$(sed -n 's/.*"y":\[\([^]]*\)\].*/\1/p' "$work/mqtt.out" | awk '{ printf "%s%.5f", (NR > 1 ? "," : ""), $1 }')
[ "$mqtt_ys" = "0.41482,0.54055,0.58090" ] || { cat "$work/mqtt.out" >&2; echo "error: the worked example over MQTT gave y=$mqtt_ys" >&2; exit 1; }
log "MQTT: the worked example through the broker's pod gave y=$mqtt_ys"

# ---- graceful termination with the pod's grace period (podman itself would give 10 s) -----------------------------
stop_started=$SECONDS
podman stop -t "$GRACE" "$SILO_CTR" >"$work/stop.log" 2>&1 || { cat "$work/stop.log" >&2; exit 1; }
stop_s=$((SECONDS - stop_started))
exit_code=$(podman inspect "$SILO_CTR" --format '{{.State.ExitCode}}')
[ "$exit_code" = 0 ] && [ "$stop_s" -lt "$SHUTDOWN_TIMEOUT" ] \
  || { echo "error: the silo stopped with exit code $exit_code after $stop_s s (shutdownTimeoutSeconds $SHUTDOWN_TIMEOUT, grace $GRACE)" >&2; exit 1; }
log "silo stopped gracefully in $stop_s s (exit 0)"

echo "kube-smoke: pods=$pods ready=$ready stepped=$stepped y_ok=$y_ok mqtt_y=$mqtt_ys stop_s=$stop_s seconds=$((SECONDS - started))"
[ "$pods" -eq 3 ] && [ "$ready" -eq 1 ] && [ "$y_ok" = yes ]
