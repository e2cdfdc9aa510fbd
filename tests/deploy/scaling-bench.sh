#!/usr/bin/env bash
# Scaling across silos, measured: the compose stack with every silo limited to the same CPU share (--cpus 0.5,
# tests/deploy/compose.scaling.yml), 1, 2 and 3 silos in turn, the same offered load each time (the same sequences,
# concurrency and batch size, closed loop) through the HTTP batch endpoint and through the Orleans gateway (StepMany),
# driven from this host by the client's `load --batch`. Prints steps/s per silo count, the scaling efficiency
# (throughput with n silos ÷ n × one silo), the CPU each silo container, Redis and the load generator used, and one
# JSON line. A benchmark: run it alone on the machine.
#   bash tests/deploy/scaling-bench.sh [--sequences 256] [--steps 3200] [--batch 64] [--cpus 0.5]
set -euo pipefail
cd "$(dirname "$0")/../.."

sequences=256
steps=3200
batch=64
cpus=0.5
while [ $# -gt 0 ]; do
  case $1 in
    --sequences) sequences=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --cpus) cpus=$2; shift 2 ;;
    *) echo "usage: $0 [--sequences N] [--steps N] [--batch K] [--cpus C]" >&2; exit 2 ;;
  esac
done

project=rnnstreams-scale
key=change-me
work=$(mktemp -d -t rnnstreams-scale.XXXXXX)
override="$work/cpus.yml"
sed "s/cpus: 0.5/cpus: $cpus/" tests/deploy/compose.scaling.yml >"$override"
compose() { podman-compose -p "$project" -f docker-compose.yml -f "$override" "$@"; }
container() { echo "${project}_$1_1"; }
cleanup() {
  local status=$?
  compose down -v -t 5 >/dev/null 2>&1 || true
  podman volume rm -f "${project}_redis-data" >/dev/null 2>&1 || true
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT INT TERM

bash tests/deploy/podman-setup.sh
nuget=${NUGET_PACKAGES:-$HOME/.nuget/packages}
podman build -q --network host -v "$nuget:/root/.nuget/packages" -f silo/Dockerfile -t rnnstreams-silo:latest . >/dev/null
dotnet build client/RnnStreams.Client -c Release -nologo -v quiet >/dev/null
client=client/RnnStreams.Client/bin/Release/net10.0/RnnStreams.Client.dll

cpu_seconds() { # cpu_seconds CONTAINER: user+system CPU seconds of the container's cgroup so far
  local pid
  pid=$(podman inspect "$1" --format '{{.State.Pid}}')
  awk '{u+=$14; s+=$15} END {printf "%.2f", (u+s)/100}' "/proc/$pid/stat" 2>/dev/null || echo 0
}

# run_load N KIND [warm]: prints "steps_per_s client_cpu_s silo_cpu_s redis_cpu_s elapsed_s" (warm: a quarter of the steps)
run_load() {
  local n=$1 kind=$2 target=() silos=() before=() i run_steps=$steps
  [ "${3:-}" = warm ] && run_steps=$((steps / 4))
  for i in $(seq 1 "$n"); do silos+=("$(container "silo$i")"); done
  if [ "$kind" = http ]; then
    local urls=""
    for i in $(seq 1 "$n"); do urls+="${urls:+,}http://localhost:$((8079 + i))"; done
    target=(--http "$urls" --api-key "$key")
  else
    local gateways=""
    for i in $(seq 1 "$n"); do gateways+="${gateways:+,}localhost:$((29999 + i))"; done
    target=(--gateway "$gateways")
  fi
  for c in "${silos[@]}" "$(container redis)"; do before+=("$(cpu_seconds "$c")"); done
  local started_cpu
  /usr/bin/time -f '%U %S' -o "$work/time" dotnet "$client" load "${target[@]}" --sequences "$sequences" --steps "$run_steps" \
    --batch "$batch" --model demo --prefix "scale-$kind-$n-${3:-run}-$$" >"$work/load.out" 2>&1 \
    || { cat "$work/load.out" >&2; echo "error: load failed" >&2; exit 1; }
  grep -q 'lost=0 duplicated=0 mismatched=0' "$work/load.out" || { cat "$work/load.out" >&2; exit 1; }
  local rate silo_cpu=0 redis_cpu client_cpu j=0
  rate=$(sed -n 's/^# steps_per_s=\([0-9]*\).*/\1/p' "$work/load.out")
  for c in "${silos[@]}"; do silo_cpu=$(awk -v a="$silo_cpu" -v b="$(cpu_seconds "$c")" -v c0="${before[$j]}" 'BEGIN{printf "%.2f", a + b - c0}'); j=$((j + 1)); done
  redis_cpu=$(awk -v b="$(cpu_seconds "$(container redis)")" -v c0="${before[$j]}" 'BEGIN{printf "%.2f", b - c0}')
  client_cpu=$(awk '{printf "%.2f", $1 + $2}' "$work/time")
  local elapsed
  elapsed=$(sed -n 's/.* elapsed_s=\([0-9.]*\).*/\1/p' "$work/load.out")
  echo "$rate $client_cpu $silo_cpu $redis_cpu $elapsed"
}

declare -A rate
printf '%-6s %-8s %12s %10s %14s %14s %14s\n' silos path steps_per_s elapsed_s silo_cpu_share client_cpu_share redis_cpu_share
for n in 1 2 3; do
  services=(redis)
  for i in $(seq 1 "$n"); do services+=("silo$i"); done
  compose up -d "${services[@]}" >"$work/up.log" 2>&1 || { cat "$work/up.log" >&2; exit 1; }
  for _ in $(seq 1 120); do
    ok=0
    for i in $(seq 1 "$n"); do podman healthcheck run "$(container "silo$i")" >/dev/null 2>&1 && ok=$((ok + 1)); done
    [ "$ok" -eq "$n" ] && break
    sleep 2
  done
  [ "$ok" -eq "$n" ] || { echo "error: $n silos did not become healthy" >&2; exit 1; }
  # Warm-up through every silo on both paths (the JIT of a fresh silo limited to a fraction of a core takes a while).
  for kind in http gateway; do run_load "$n" "$kind" warm >/dev/null; done
  for kind in http gateway; do
    read -r r ccpu scpu rcpu el < <(run_load "$n" "$kind")
    rate[$kind,$n]=$r
    printf '%-6s %-8s %12s %10s %14s %14s %14s\n' "$n" "$kind" "$r" "$el" \
      "$(awk -v c="$scpu" -v e="$el" -v n="$n" -v l="$cpus" 'BEGIN{printf "%.2f", c / e / (n * l)}')" \
      "$(awk -v c="$ccpu" -v e="$el" 'BEGIN{printf "%.2f", c / e}')" "$(awk -v c="$rcpu" -v e="$el" 'BEGIN{printf "%.2f", c / e}')"
  done
  compose down -v -t 5 >/dev/null 2>&1
  podman volume rm -f "${project}_redis-data" >/dev/null 2>&1 || true
done
echo "# silo_cpu_share: CPU the silos used ÷ their limit (n × $cpus cores); client and redis: cores used"
json="{\"cpus_per_silo\":$cpus,\"sequences\":$sequences,\"steps\":$steps,\"batch\":$batch"
for kind in http gateway; do
  for n in 1 2 3; do json+=",\"${kind}_steps_per_s_$n\":${rate[$kind,$n]}"; done
  for n in 2 3; do
    json+=",\"${kind}_efficiency_$n\":$(awk -v a="${rate[$kind,$n]}" -v b="${rate[$kind,1]}" -v n="$n" 'BEGIN{printf "%.3f", a / (n * b)}')"
  done
done
echo "$json}"
