#!/usr/bin/env bash
# The MQTT figures of `bench`: Debian's mosquitto and one silo process (the embedded default: in-memory storage, the
# silo's default durability and output settings) consuming it, and `bench --mqtt` in a third process: elements
# published → outputs received through the silo, against the broker's own publish → subscribe floor in the same run.
#
#   tests/cluster/mqtt-bench.sh [--sequences 1000] [--seconds 5] [--rounds 3] [--no-build]
#
# Last lines: the table and one JSON line ({"mqtt_steps_per_s":…,"mqtt_floor_per_s":…,"mqtt_over_floor":…}).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
config=${CONFIG:-Release}
bench_args=()
do_build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --sequences | --seconds | --rounds | --hidden | --input) bench_args+=("$1" "$2"); shift 2 ;;
    --no-build) do_build=0; shift ;;
    *) echo "usage: $0 [--sequences N] [--seconds S] [--rounds R] [--hidden H] [--input D] [--no-build]" >&2; exit 2 ;;
  esac
done

work=$(mktemp -d -t rnn-mqtt-bench.XXXXXX)
# shellcheck source=lib.sh
source "$root/tests/cluster/lib.sh"
[ "$do_build" = 1 ] && build

start_mosquitto
unset ConnectionStrings__Redis
start_silo 1 --Mqtt:Enabled true --Mqtt:Host 127.0.0.1 --Mqtt:Port "$mosquitto_port"
wait_ready 1
echo "# mosquitto :$mosquitto_port, one silo (gateway ${gateway_port[1]}), work $work"
dotnet "$(client_dll)" bench --mqtt "127.0.0.1:$mosquitto_port" --gateway "127.0.0.1:${gateway_port[1]}" "${bench_args[@]}"
