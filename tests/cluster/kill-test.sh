#!/usr/bin/env bash
# The kill test: Redis and 3 silo processes on this machine, S sequences × N elements streamed through the client
# with retries, `kill -9` of one silo a third of the way through and of a second one two thirds through or at 85 % (each
# restarted at once), then every acknowledged output and every final state checked against the offline kernel.
#
#   tests/cluster/kill-test.sh [--durability EveryStep|Checkpoint] [--sequences 1000] [--steps 200] [--every 50] [--mqtt] [--no-build]
#
# With --mqtt a mosquitto broker runs beside Redis, the silos consume it (Mqtt:Enabled), and the client publishes every
# element on rnn/{sequence}/in and waits for its output on rnn/{sequence}/out (starts and snapshots go through the
# gateway); an element whose output does not come within 90 s counts as lost.
#
# Last line: sequences=S steps=N lost=0 duplicated=0 mismatched=0 recovered_after_ms=T; exit code non-zero unless the
# three counts are 0. With Checkpoint(k, 0) a killed sequence must come back at exactly its last checkpoint (a
# multiple of k at or after its last acknowledged checkpoint) and replay to the same outputs.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
config=${CONFIG:-Release}
durability=EveryStep
sequences=1000
steps=200
every=50
mqtt=0
do_build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --durability) durability=$2; shift 2 ;;
    --sequences) sequences=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --every) every=$2; shift 2 ;;
    --mqtt) mqtt=1; shift ;;
    --no-build) do_build=0; shift ;;
    *) echo "usage: $0 [--durability EveryStep|Checkpoint] [--sequences N] [--steps N] [--every K] [--mqtt] [--no-build]" >&2; exit 2 ;;
  esac
done

work=$(mktemp -d -t rnn-kill.XXXXXX)
# shellcheck source=lib.sh
source "$root/tests/cluster/lib.sh"
[ "$do_build" = 1 ] && build

start_redis
cluster="kill-$$-$RANDOM"
export ConnectionStrings__Redis="127.0.0.1:$redis_port" Orleans__ClusterId="$cluster" Orleans__ServiceId="$cluster"
export RnnStreams__SeedModels__0="$work/model.json" RnnStreams__DefaultModel=killtest
load_args=()
case "$durability" in
  EveryStep) export RnnStreams__Durability=EveryStep ;;
  Checkpoint) export RnnStreams__Durability="Checkpoint($every, 0)"; load_args+=(--checkpoint-every "$every") ;;
  *) echo "error: --durability is EveryStep or Checkpoint" >&2; exit 2 ;;
esac
if [ "$mqtt" = 1 ]; then
  start_mosquitto
  export Mqtt__Enabled=true Mqtt__Host=127.0.0.1 Mqtt__Port="$mosquitto_port"
  load_args+=(--mqtt "127.0.0.1:$mosquitto_port")
fi
dotnet "$(client_dll)" models random --name killtest --input 4 --hidden 32 --output 2 --seed 7 --out "$work/model.json" >/dev/null

for i in 1 2 3; do start_silo "$i"; done
for i in 1 2 3; do wait_ready "$i"; done
echo "# redis :$redis_port, silos ${gateway_port[1]} ${gateway_port[2]} ${gateway_port[3]}, durability $RnnStreams__Durability$([ "$mqtt" = 1 ] && echo ", MQTT broker :$mosquitto_port"), work $work"

total=$((sequences * steps))
dotnet "$(client_dll)" load --redis "127.0.0.1:$redis_port" --model killtest --sequences "$sequences" --steps "$steps" \
  --progress "$work/progress" --response-timeout 5 --connect-timeout 60 "${load_args[@]}" >"$work/client.log" 2>&1 &
client=$!
pids+=($client)

progress() { cat "$work/progress" 2>/dev/null || echo 0; }
wait_progress() {
  local target=$1
  while kill -0 "$client" 2>/dev/null && [ "$(progress)" -lt "$target" ]; do sleep 0.1; done
}

ready() { grep -q "ready at version" "${silo_log[$1]}"; }

# Silo 1 dies at a third and is restarted at once; silo 2 dies at two thirds once silo 1 is back — or at 85 % if
# silo 1 is still starting then (a restart joins a cluster that still lists its dead self and can take 20 s while the
# load runs on), so that the second kill always lands while elements flow.
wait_progress $((total / 3))
if kill -0 "$client" 2>/dev/null; then
  kill_silo 1
  echo "# kill -9 silo 1 at $(progress)/$total acknowledged steps"
  start_silo 1
  wait_progress $((total * 2 / 3))
  while kill -0 "$client" 2>/dev/null && ! ready 1 && [ "$(progress)" -lt $((total * 85 / 100)) ]; do sleep 0.1; done
  if ready 1; then echo "# silo 1 restarted at $(progress)/$total"; fi
  if kill -0 "$client" 2>/dev/null; then
    kill_silo 2
    echo "# kill -9 silo 2 at $(progress)/$total acknowledged steps"
    start_silo 2
  fi
  # A silo that starts while another has just died can fail to join (it cannot reach the dead one yet) and exit:
  # it is started again, as an orchestrator would, while the load goes on.
  for victim in 1 2; do
    for attempt in 1 2 3; do
      while kill -0 "${silo_pid[$victim]}" 2>/dev/null && ! ready "$victim" && kill -0 "$client" 2>/dev/null; do sleep 0.1; done
      if ready "$victim" || ! kill -0 "$client" 2>/dev/null; then break; fi
      echo "# silo $victim exited while joining (attempt $attempt, log ${silo_log[$victim]}); starting it again"
      start_silo "$victim"
    done
  done
fi

status=0
wait "$client" || status=$?
grep '^#' "$work/client.log" || true
tail -n 1 "$work/client.log"
if [ "$status" -ne 0 ]; then
  echo "# client exit code $status; log: $work/client.log" >&2
fi
exit "$status"
