#!/usr/bin/env bash
# One element per HTTP request under wrk, against the same host's floor: a silo process (embedded default: in-memory
# storage, the silo's default durability and outputs, Http:Floor on, the rate limit lifted) serving the `demo` model;
# wrk alternates POST /v1/floor/{id}/elements (every middleware, no grain call) and POST /v1/sequences/{id}/elements
# (a Step) for --rounds rounds on --connections connections, over HTTP/1.1.
#
#   tests/cluster/http-wrk.sh [--connections 32] [--seconds 10] [--rounds 3] [--sequences 1000] [--threads 1]
#                             [--outputs Always|WhenWatched|Never] [--no-build]
#
# Last line: {"wrk_floor_per_s":…,"wrk_steps_per_s":…,"wrk_steps_over_floor":…} (medians over the rounds); the script
# fails when any request was not answered 200.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
config=${CONFIG:-Release}
connections=32 seconds=10 rounds=3 sequences=1000 threads=1 outputs="" do_build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --connections) connections=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --sequences) sequences=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --outputs) outputs=$2; shift 2 ;;
    --no-build) do_build=0; shift ;;
    *) echo "usage: $0 [--connections N] [--seconds S] [--rounds R] [--sequences N] [--threads T] [--outputs Always|WhenWatched|Never] [--no-build]" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { echo "error: wrk is not installed (apt-get install -y wrk)" >&2; exit 1; }

work=$(mktemp -d -t rnn-http-wrk.XXXXXX)
# shellcheck source=lib.sh
source "$root/tests/cluster/lib.sh"
[ "$do_build" = 1 ] && build

unset ConnectionStrings__Redis
silo_args=(--Http:Enabled true --Http:Floor true --Http:RequestsPerSecond 1000000000 --Http:Burst 1000000000)
[ -n "$outputs" ] && silo_args+=(--RnnStreams:PublishOutputs "$outputs")
start_silo 1 "${silo_args[@]}"
wait_ready 1
url="http://127.0.0.1:${http_port[1]}"
echo "# one silo ($url), outputs ${outputs:-default}, $connections connections, $threads wrk thread(s), work $work"

# Start the sequences wrk steps, r{round}w{thread}-{k} on the demo model: one curl on one kept-alive connection.
starts="$work/starts.curl"
: >"$starts"
for r in $(seq 1 "$rounds"); do
  for t in $(seq 1 "$threads"); do
    for k in $(seq 0 $((sequences - 1))); do
      [ -s "$starts" ] && echo next
      printf 'url = "%s/v1/sequences/r%sw%s-%s/start"\nheader = "content-type: application/json"\ndata = "{\\"model\\":\\"demo\\"}"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n' "$url" "$r" "$t" "$k"
    done
  done
done >>"$starts"
started=$(curl -sS -K "$starts" | grep -c '^200$' || true)
[ "$started" = $((sequences * threads * rounds)) ] || { echo "error: started $started of $((sequences * threads * rounds)) sequences" >&2; exit 1; }

# run KIND ROUND: one wrk run; prints its requests/s; fails on any answer other than 200.
run() {
  local out
  out=$(wrk -t "$threads" -c "$connections" -d "${seconds}s" -s "$root/tests/cluster/http-wrk.lua" "$url" -- "$1" "$sequences" "${2:-1}" 2>&1)
  echo "$out" >>"$work/wrk.log"
  if grep -q 'Non-2xx\|Socket errors' <<<"$out"; then
    echo "error: wrk saw failed requests ($1):" >&2
    echo "$out" >&2
    exit 1
  fi
  awk '/^Requests\/sec:/ { print $2 }' <<<"$out"
}

floors=() steps=()
run floor >/dev/null # warm-up: JIT, connections
for r in $(seq 1 "$rounds"); do
  floors+=("$(run floor)")
  steps+=("$(run elements "$r")")
  echo "# round $r: floor ${floors[-1]} req/s, steps ${steps[-1]} steps/s"
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
floor=$(median "${floors[@]}") step=$(median "${steps[@]}")
printf '{"wrk_floor_per_s":%s,"wrk_steps_per_s":%s,"wrk_steps_over_floor":%s,"connections":%s,"threads":%s,"seconds":%s,"rounds":%s,"outputs":"%s"}\n' \
  "$floor" "$step" "$(awk -v a="$step" -v b="$floor" 'BEGIN { printf "%.3f", a / b }')" "$connections" "$threads" "$seconds" "$rounds" "${outputs:-default}"
