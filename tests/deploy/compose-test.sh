#!/usr/bin/env bash
# The compose stack for real: builds both images, runs docker-compose.yml with podman-compose (Redis, mosquitto + 3 silos
# with the HTTP API and MQTT), waits until every silo is healthy, streams the worked example through the published MQTT
# port with mosquitto_pub/_sub, drives sequences through the published HTTP ports (from this host)
# and through the Orleans gateway (from the client image) at once, kills one silo container with SIGKILL a third of
# the way through, keeps going, and checks every acknowledged output and every final state against the offline
# kernel (what `predict` computes for the same inputs). Also checks the management port (dashboard, /metrics,
# /openapi without a key, on the host's loopback), the API's key rule through the port mapping, and that the
# client image's demo reaches the held-out tail. Tears everything down, also on failure. Last line:
#   compose: silos=3 healthy=3 sequences=200 steps=40000 lost=0 duplicated=0 mismatched=0 recovered_after_ms=N
#
#   bash tests/deploy/compose-test.sh [--sequences 200] [--steps 200] [--gateway-sequences 100] [--keep]
set -euo pipefail
cd "$(dirname "$0")/../.."

sequences=200
steps=200
gateway_sequences=100
keep=false
while [ $# -gt 0 ]; do
  case $1 in
    --sequences) sequences=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --gateway-sequences) gateway_sequences=$2; shift 2 ;;
    --keep) keep=true; shift ;;
    *) echo "usage: $0 [--sequences N] [--steps N] [--gateway-sequences N] [--keep]" >&2; exit 2 ;;
  esac
done

project=rnnstreams-test
key=change-me # docker-compose.yml's placeholder key (its SHA-256 is configured there)
work=$(mktemp -d -t rnnstreams-compose.XXXXXX)
pids=()
log() { echo "# compose-test: $*"; }
compose() { podman-compose -p "$project" -f docker-compose.yml "$@"; }
container() { echo "${project}_$1_1"; }

cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [ "$status" -ne 0 ]; then
    for s in silo1 silo2 silo3; do
      echo "---- last lines of $s ----" >&2
      podman logs --tail 25 "$(container "$s")" >&2 2>/dev/null || true
    done
  fi
  if [ "$keep" = false ]; then
    compose down -v -t 5 >/dev/null 2>&1 || true
    podman pod rm -f "pod_$project" >/dev/null 2>&1 || true
    podman volume rm -f "${project}_redis-data" >/dev/null 2>&1 || true
    podman image prune -f >/dev/null 2>&1 || true # the build stages
    rm -rf "$work"
  fi
  exit "$status"
}
trap cleanup EXIT INT TERM

for port in 1883 8080 8081 8082 9080 9081 9082 30000 30001 30002; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "error: port $port on this host is taken; docker-compose.yml publishes it" >&2
    exit 1
  fi
done

bash tests/deploy/podman-setup.sh
compose down -v -t 5 >/dev/null 2>&1 || true # a stack left over by an interrupted run

# Build both images as `docker compose build` would, with the host's NuGet cache mounted so the restore layer does
# not download every package again (the Dockerfiles are unchanged by this).
nuget=${NUGET_PACKAGES:-$HOME/.nuget/packages}
mkdir -p "$nuget"
build_image() { # build_image NAME DOCKERFILE
  local started=$SECONDS
  podman build -q --network host -v "$nuget:/root/.nuget/packages" -f "$2" -t "$1:latest" . >"$work/build-$1.log" 2>&1 \
    || { cat "$work/build-$1.log" >&2; echo "error: podman build -f $2 failed" >&2; exit 1; }
  echo "$((SECONDS - started))"
}
silo_build_s=$(build_image rnnstreams-silo silo/Dockerfile)
client_build_s=$(build_image rnnstreams-client client/Dockerfile)
log "images built: silo ${silo_build_s} s, client ${client_build_s} s ($(podman image inspect rnnstreams-silo:latest --format '{{.Size}}' | awk '{printf "%.0f MB", $1/1e6}') / $(podman image inspect rnnstreams-client:latest --format '{{.Size}}' | awk '{printf "%.0f MB", $1/1e6}'))"
user=$(podman image inspect rnnstreams-silo:latest --format '{{.Config.User}}')
[ -n "$user" ] && [ "$user" != "root" ] && [ "$user" != "0" ] || { echo "error: the silo image runs as root ('$user')" >&2; exit 1; }

# podman-compose 1.0 (Debian 12) has no `config`: a dry run parses the file and resolves every service the same way.
compose --dry-run up -d >"$work/dry-run.log" 2>&1 && grep -q -- '--name=.*silo3_1' "$work/dry-run.log" \
  || { cat "$work/dry-run.log" >&2; echo "error: podman-compose cannot parse docker-compose.yml" >&2; exit 1; }

log "starting Redis, mosquitto and 3 silos"
compose up -d redis mosquitto silo1 silo2 silo3 >"$work/up.log" 2>&1 || { cat "$work/up.log" >&2; exit 1; }

# Podman runs healthchecks from systemd timers, which this machine lacks: run each silo's healthcheck (the probe
# of /ready that docker-compose.yml declares) ourselves.
healthy_count() {
  local n=0
  for s in silo1 silo2 silo3; do
    podman healthcheck run "$(container "$s")" >/dev/null 2>&1 && n=$((n + 1))
  done
  echo "$n"
}
wait_healthy() { # wait_healthy SECONDS
  local deadline=$((SECONDS + $1))
  while [ "$SECONDS" -lt "$deadline" ]; do
    [ "$(healthy_count)" -eq 3 ] && return 0
    sleep 2
  done
  return 1
}
started=$SECONDS
wait_healthy 240 || { echo "error: not every silo became healthy in 240 s (healthy: $(healthy_count))" >&2; exit 1; }
log "3 silos healthy after $((SECONDS - started)) s"

# The management port: no key, host loopback only; the API through the port mapping needs the key.
status() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
expect() { # expect WHAT ACTUAL WANTED
  [ "$2" = "$3" ] || { echo "error: $1: HTTP $2, expected $3" >&2; exit 1; }
}
expect "management /dashboard/" "$(status http://127.0.0.1:9080/dashboard/)" 200
expect "management /metrics" "$(status http://127.0.0.1:9081/metrics)" 200
expect "management /openapi/v1.json" "$(status http://127.0.0.1:9082/openapi/v1.json)" 200
expect "management /v1/models (not served there)" "$(status http://127.0.0.1:9080/v1/models)" 404
expect "API without a key" "$(status http://localhost:8080/v1/models)" 401
expect "API with the key" "$(status -H "X-Api-Key: $key" http://localhost:8081/v1/models)" 200
expect "API /healthz without a key" "$(status http://localhost:8082/healthz)" 200
metrics=$(curl -s http://127.0.0.1:9080/metrics)
grep -q '^orleans_' <<<"$metrics" && grep -q '^kestrel_' <<<"$metrics" \
  || { echo "$metrics" | head -n 20 >&2; echo "error: /metrics holds no Orleans or Kestrel series" >&2; exit 1; }
log "management port and API keys as documented"

# MQTT through the published broker port, with nothing of ours on this side: the worked example on a sequence started
# over HTTP (the stack's MQTT default model is demo), its outputs read back from rnn/{sequence}/out.
mq="compose-mqtt-$$"
expect "start $mq over HTTP" "$(status -X POST -H "X-Api-Key: $key" -H 'Content-Type: application/json' -d '{"model":"worked-example"}' "http://localhost:8080/v1/sequences/$mq/start")" 200
mosquitto_sub -V 5 -q 1 -h 127.0.0.1 -p 1883 -t "rnn/$mq/out" -C 3 -W 60 >"$work/mqtt.out" 2>&1 &
sub=$!
sleep 1
for n in 1 2 3; do mosquitto_pub -V 5 -q 1 -h 127.0.0.1 -p 1883 -t "rnn/$mq/in" -m "{\"n\": $n, \"x\": [$n]}"; done
wait "$sub" || { cat "$work/mqtt.out" >&2; echo "error: no outputs on rnn/$mq/out" >&2; exit 1; }
ys=$(sed -n 's/.*"y":\[\([^]]*\)\].*/\1/p' "$work/mqtt.out" | awk '{ printf "%s%.5f", (NR > 1 ? "," : ""), $1 }')
[ "$ys" = "0.41482,0.54055,0.58090" ] || { cat "$work/mqtt.out" >&2; echo "error: the worked example over MQTT gave y=$ys" >&2; exit 1; }
log "MQTT: the worked example through the broker's published port gave y=$ys"

dotnet build client/RnnStreams.Client -c Release -nologo -v quiet >"$work/client-build.log" 2>&1 || { cat "$work/client-build.log" >&2; exit 1; }
client=client/RnnStreams.Client/bin/Release/net10.0/RnnStreams.Client.dll

log "load: $sequences sequences × $steps elements over HTTP (3 published ports) and $gateway_sequences × $steps through the gateway (client image)"
dotnet "$client" load --http http://localhost:8080,http://localhost:8081,http://localhost:8082 --api-key "$key" \
  --sequences "$sequences" --steps "$steps" --model demo --prefix "compose-http-$$" --progress "$work/http.progress" \
  >"$work/http.out" 2>&1 &
http_pid=$!
pids+=("$http_pid")
compose run --rm --no-deps client load --sequences "$gateway_sequences" --steps "$steps" --model demo \
  --prefix "compose-gw-$$" --connect-timeout 120 >"$work/gateway.out" 2>&1 &
gateway_pid=$!
pids+=("$gateway_pid")

total=$((sequences * steps))
acked() { cat "$work/http.progress" 2>/dev/null || echo 0; }
while [ "$(acked)" -lt $((total / 3)) ]; do
  kill -0 "$http_pid" 2>/dev/null || break
  sleep 0.2
done
victim=$(container silo2)
log "kill -9 $victim at $(acked) acknowledged HTTP elements"
podman kill -s KILL "$victim" >/dev/null
sleep 3
if [ "$(podman inspect "$victim" --format '{{.State.Running}}')" != "true" ]; then
  log "restarting $victim (as its restart policy would)"
  podman start "$victim" >/dev/null
fi

http_status=0
wait "$http_pid" || http_status=$?
gateway_status=0
wait "$gateway_pid" || gateway_status=$?
pids=()
tail -n 3 "$work/http.out"
gateway_line=$(grep -E '^sequences=' "$work/gateway.out" | tail -n 1 || true)
log "gateway (client image): ${gateway_line:-no summary}"
[ "$gateway_status" -eq 0 ] && [ -n "$gateway_line" ] || { cat "$work/gateway.out" >&2; echo "error: the gateway load failed" >&2; exit 1; }
line=$(grep -E '^sequences=' "$work/http.out" | tail -n 1 || true)
[ -n "$line" ] || { cat "$work/http.out" >&2; echo "error: the HTTP load printed no summary" >&2; exit 1; }

wait_healthy 180 || true
healthy=$(healthy_count)

log "the client image's demo (16 devices, the whole CO2 series)"
compose run --rm --no-deps client demo --devices 16 --show 1 --connect-timeout 120 >"$work/demo.out" 2>&1 \
  || { cat "$work/demo.out" >&2; echo "error: the demo failed" >&2; exit 1; }
grep '^# forecast:' "$work/demo.out" || { cat "$work/demo.out" >&2; echo "error: the demo printed no forecast score" >&2; exit 1; }

echo "compose: silos=3 healthy=$healthy $line"
[ "$http_status" -eq 0 ] && [ "$healthy" -eq 3 ]
