#!/usr/bin/env bash
# What durability costs: the same load (S sequences × N elements, one element per call, all sequences at once)
# through one silo with in-memory storage, then with Redis storage under Checkpoint(100, 1000) and under EveryStep.
# Prints steps/s of each and the ratios to memory storage, measured in one run.
#
#   tests/cluster/durability-bench.sh [--sequences 1000] [--steps 100] [--no-build]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
config=${CONFIG:-Release}
sequences=1000
steps=100
do_build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --sequences) sequences=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --no-build) do_build=0; shift ;;
    *) echo "usage: $0 [--sequences N] [--steps N] [--no-build]" >&2; exit 2 ;;
  esac
done

work=$(mktemp -d -t rnn-dbench.XXXXXX)
# shellcheck source=lib.sh
source "$root/tests/cluster/lib.sh"
[ "$do_build" = 1 ] && build
dotnet "$(client_dll)" models random --name bench --input 8 --hidden 64 --output 1 --seed 3 --out "$work/model.json" >/dev/null
export RnnStreams__SeedModels__0="$work/model.json" RnnStreams__DefaultModel=bench
start_redis

declare -A rate
run() {
  local label=$1 redis=$2 durability=$3
  local cluster="dbench-$$-$RANDOM"
  export Orleans__ClusterId="$cluster" Orleans__ServiceId="$cluster" RnnStreams__Durability="$durability"
  if [ -n "$redis" ]; then export ConnectionStrings__Redis="$redis"; else unset ConnectionStrings__Redis; fi
  silo_port[1]=""
  start_silo 1
  wait_ready 1
  local out
  out=$(dotnet "$(client_dll)" load --gateway "127.0.0.1:${gateway_port[1]}" --model bench --sequences "$sequences" --steps "$steps")
  rate[$label]=$(sed -n 's/^# steps_per_s=\([0-9]*\).*/\1/p' <<<"$out")
  echo "$label: ${rate[$label]} steps/s ($(tail -n 1 <<<"$out"))"
  kill_silo 1
}

run memory "" "Checkpoint(100, 1000)"
run redis-checkpoint "127.0.0.1:$redis_port" "Checkpoint(100, 1000)"
run redis-everystep "127.0.0.1:$redis_port" "EveryStep"

awk -v m="${rate[memory]}" -v c="${rate[redis-checkpoint]}" -v e="${rate[redis-everystep]}" -v s="$sequences" -v n="$steps" 'BEGIN {
  printf "durability sequences=%d steps=%d memory_steps_per_s=%d redis_checkpoint_steps_per_s=%d redis_everystep_steps_per_s=%d checkpoint_ratio=%.2f everystep_ratio=%.2f\n", s, s*n, m, c, e, c/m, e/m }'
