#!/usr/bin/env bash
# The partition test: Redis and 3 silos, each in a network namespace of its own on a bridge this script makes
# (10.77.0.0/24, the host at 10.77.0.1), S sequences streaming continuously from this host through every silo; then
# silo 3 is cut off from the other silos and from Redis for C seconds (nft drop rules inside its namespace; only the
# host, where its clients run, still reaches it), and healed. Blocking a silo's port from outside would cut nothing:
# Orleans reuses the connections the silo opened itself, so the cut is made where every packet passes.
#
#   tests/cluster/partition-test.sh [--sequences 1000] [--cut-seconds 60] [--warmup-seconds 15] [--after-seconds 15]
#                                   [--durability EveryStep|Checkpoint|both] [--no-build] [--keep]
#
# Clients (all on the host): A streams 1/2 of the sequences through the gateways of silos 1 and 2 (the healthy
# side), B 1/4 through silo 3's gateway only, C 1/4 through silo 3's HTTP API only. After the run every acknowledged
# output is checked against the kernel, every final state too, and no two answers for one element may differ. Last
# line (one per durability run):
#   partition: sequences=S answered=N refused=N diverged=0 lost=0 duplicated=0 mismatched=0 unavailable_s=U
#   partition(checkpoint): sequences=S answered=N refused=N diverged=0 lost=0 duplicated=0 mismatched=0 unavailable_s=U rolled_back=N max_rollback=N bad_rollbacks=0
# unavailable_s: the longest any sequence of client A (the healthy side) went without an element applied. Exit code
# non-zero unless the counts are 0. Namespaces, bridge, nft tables and processes are removed on exit, always.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
config=${CONFIG:-Release}
sequences=1000
cut_seconds=60
warmup_seconds=15
after_seconds=15
durability=both
do_build=1
keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --sequences) sequences=$2; shift 2 ;;
    --cut-seconds) cut_seconds=$2; shift 2 ;;
    --warmup-seconds) warmup_seconds=$2; shift 2 ;;
    --after-seconds) after_seconds=$2; shift 2 ;;
    --durability) durability=$2; shift 2 ;;
    --no-build) do_build=0; shift ;;
    --keep) keep=1; shift ;;
    *) echo "usage: $0 [--sequences N] [--cut-seconds S] [--warmup-seconds S] [--after-seconds S] [--durability EveryStep|Checkpoint|both] [--no-build] [--keep]" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "error: the partition test makes network namespaces: run it as root" >&2; exit 1; }
for tool in ip nft redis-server redis-cli curl; do
  command -v "$tool" >/dev/null || { echo "error: $tool is not installed" >&2; exit 1; }
done

# One run at a time on a machine: the subnet and names are fixed.
exec 9>/run/rnnstreams-partition.lock
flock -w 600 9 || { echo "error: another partition test holds /run/rnnstreams-partition.lock" >&2; exit 1; }

subnet=10.77.0
tag=rnp                      # every name this script makes starts with it (interface names are at most 15 bytes)
bridge=${tag}-br
host_ip=$subnet.1
redis_ip=$subnet.10
work=$(mktemp -d -t rnn-partition.XXXXXX)
pids=()
netns() { echo "${tag}-$1"; }                 # r (Redis), s1, s2, s3
ns_ip() { case "$1" in r) echo "$redis_ip" ;; s*) echo "$subnet.1${1#s}" ;; esac; }

cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  # Anything left running inside our namespaces (a silo restarted by hand, say) goes with them.
  for ns in r s1 s2 s3; do
    if ip netns list | grep -qw "$(netns $ns)"; then
      for pid in $(ip netns pids "$(netns $ns)" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    fi
  done
  wait 2>/dev/null || true
  teardown_network
  if [ "$keep" = 0 ] && [ "$status" = 0 ]; then rm -rf "$work"; else echo "# logs kept in $work" >&2; fi
  exit "$status"
}
teardown_network() {
  for ns in r s1 s2 s3; do
    ip netns del "$(netns $ns)" 2>/dev/null || true   # takes its nft table and its end of the veth pair along
    ip link del "${tag}-$ns" 2>/dev/null || true
  done
  ip link del "$bridge" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A run that was killed with -9 left its namespaces: they are ours (same names, and we hold the lock).
teardown_network

setup_network() {
  ip link add "$bridge" type bridge
  ip addr add "$host_ip/24" dev "$bridge"
  ip link set "$bridge" up
  for ns in r s1 s2 s3; do
    local name; name=$(netns $ns)
    ip netns add "$name"
    ip link add "${tag}-$ns" type veth peer name "${tag}-$ns-p"
    ip link set "${tag}-$ns-p" netns "$name"
    ip -n "$name" link set "${tag}-$ns-p" name eth0
    ip -n "$name" addr add "$(ns_ip $ns)/24" dev eth0
    ip -n "$name" link set eth0 up
    ip -n "$name" link set lo up
    ip link set "${tag}-$ns" master "$bridge"
    ip link set "${tag}-$ns" up
  done
}

# cut_off S: inside silo S's namespace every packet to or from the subnet is dropped, except the host's (its clients);
# established connections included (no conntrack exception). heal S removes the table.
cut_off() {
  ip netns exec "$(netns "$1")" nft -f - <<EOF
table inet rnnstreams_partition {
  chain input { type filter hook input priority -10; policy accept; iif "lo" accept; ip saddr $host_ip accept; ip saddr $subnet.0/24 drop; }
  chain output { type filter hook output priority -10; policy accept; oif "lo" accept; ip daddr $host_ip accept; ip daddr $subnet.0/24 drop; }
}
EOF
}
heal() { ip netns exec "$(netns "$1")" nft delete table inet rnnstreams_partition 2>/dev/null || true; }

silo_dll="$root/silo/RnnStreams.Silo/bin/$config/net10.0/RnnStreams.Silo.dll"
client_dll="$root/client/RnnStreams.Client/bin/$config/net10.0/RnnStreams.Client.dll"
if [ "$do_build" = 1 ]; then
  dotnet build "$root/silo/RnnStreams.Silo" -c "$config" -nologo -v quiet -clp:NoSummary >/dev/null
  dotnet build "$root/client/RnnStreams.Client" -c "$config" -nologo -v quiet -clp:NoSummary >/dev/null
fi

api_key=partition-test-key
api_key_hash=$(printf %s "$api_key" | sha256sum | cut -d' ' -f1)
declare -A silo_pid silo_log
start_silo() {
  local s=$1 ip; ip=$(ns_ip "$1")
  silo_log[$s]="$work/silo-$s.$(date +%s%N).log"
  ip netns exec "$(netns "$s")" env DOTNET_gcServer=0 dotnet "$silo_dll" \
    --Orleans:Endpoints:AdvertisedIPAddress "$ip" --urls "http://$ip:8080" --Management:Urls "http://$ip:8081" \
    --Http:Enabled true --Http:ApiKeys:partition "$api_key_hash" --Http:RequestsPerSecond 1000000 --Http:Burst 1000000 \
    >"${silo_log[$s]}" 2>&1 &
  silo_pid[$s]=$!
  pids+=($!)
}
wait_ready() {
  local s=$1
  for _ in $(seq 1 1200); do
    if ! kill -0 "${silo_pid[$s]}" 2>/dev/null; then
      echo "error: silo $s exited during start-up:" >&2; tail -n 30 "${silo_log[$s]}" >&2; exit 1
    fi
    grep -q "ready at version" "${silo_log[$s]}" && return 0
    sleep 0.1
  done
  echo "error: silo $s not ready after 120 s; log ${silo_log[$s]}" >&2
  exit 1
}

# status_of IP: the status (3 Active, 6 Dead) of the newest generation of the silo at IP in the membership table, which
# Redis holds as a hash "{ServiceId}/members/{ClusterId}" of "S{ip}:{port}:{generation}" → JSON entry.
status_of() {
  redis-cli -h "$redis_ip" --raw hgetall "$cluster/members/$cluster" 2>/dev/null \
    | awk -v prefix="S$1:11111:" 'key != "" { if (index(key, prefix) == 1 && match($0, /"Status":[0-9]+/)) print substr(key, length(prefix) + 1), substr($0, RSTART + 9, RLENGTH - 9); key = ""; next } { key = $0 }' \
    | sort -n | tail -n 1 | cut -d' ' -f2
}

# run_once EveryStep|Checkpoint: one whole run; prints its result line last.
run_once() {
  local policy=$1 label=partition load_args=()
  case "$policy" in
    EveryStep) export RnnStreams__Durability=EveryStep ;;
    Checkpoint) export RnnStreams__Durability="Checkpoint(100, 1000)"; load_args+=(--checkpoint-every 100); label="partition(checkpoint)" ;;
  esac
  cluster="part-$$-$RANDOM"
  export ConnectionStrings__Redis="$redis_ip:6379,abortConnect=false" Orleans__ClusterId="$cluster" Orleans__ServiceId="$cluster"
  export RnnStreams__SeedModels__0="$work/model.json" RnnStreams__DefaultModel=parttest
  rm -f "$work/stop" "$work"/progress-*

  setup_network
  ip netns exec "$(netns r)" redis-server --port 6379 --bind "$redis_ip" 127.0.0.1 --save '' --appendonly no --protected-mode no \
    --daemonize no --loglevel warning >"$work/redis-$policy.log" 2>&1 &
  local redis_pid=$!; pids+=($!)
  for _ in $(seq 1 100); do redis-cli -h "$redis_ip" ping >/dev/null 2>&1 && break; sleep 0.1; done
  redis-cli -h "$redis_ip" ping >/dev/null || { echo "error: redis-server did not start in its namespace" >&2; exit 1; }
  for s in s1 s2 s3; do start_silo $s; done
  for s in s1 s2 s3; do wait_ready $s; done
  echo "# $policy: redis $redis_ip, silos $(ns_ip s1) $(ns_ip s2) $(ns_ip s3) on bridge $bridge, durability $RnnStreams__Durability, work $work"

  local a=$((sequences / 2)) b=$((sequences / 4)); local c=$((sequences - a - b))
  local common=(--model parttest --stop-file "$work/stop" --max-stall 600 "${load_args[@]}")
  # Client A's sequences are first touched through the HTTP API of all three silos (element 1 each; the HTTP client
  # spreads sequences over its addresses by their name), so that about a third of them live on silo 3 while A reaches
  # them only through the gateways of silos 1 and 2 afterwards, as behind a load balancer: an activation is placed on
  # the silo its first call enters.
  dotnet "$client_dll" load --http "http://$(ns_ip s1):8080,http://$(ns_ip s2):8080,http://$(ns_ip s3):8080" --api-key "$api_key" \
    --sequences "$a" --steps 1 --prefix "A$$-$policy" --model parttest "${load_args[@]}" >"$work/client-a0-$policy.log" 2>&1 \
    || { echo "error: placing client A's sequences failed:" >&2; tail -n 5 "$work/client-a0-$policy.log" >&2; exit 1; }
  dotnet "$client_dll" load --gateway "$(ns_ip s1):30000,$(ns_ip s2):30000" --sequences "$a" --prefix "A$$-$policy" \
    --response-timeout 3 --connect-timeout 60 --progress "$work/progress-a" "${common[@]}" >"$work/client-a-$policy.log" 2>&1 &
  local client_a=$!; pids+=($!)
  dotnet "$client_dll" load --gateway "$(ns_ip s3):30000" --sequences "$b" --prefix "B$$-$policy" \
    --response-timeout 5 --connect-timeout 60 --progress "$work/progress-b" "${common[@]}" >"$work/client-b-$policy.log" 2>&1 &
  local client_b=$!; pids+=($!)
  dotnet "$client_dll" load --http "http://$(ns_ip s3):8080" --api-key "$api_key" --http-timeout 30 --sequences "$c" --prefix "C$$-$policy" \
    --progress "$work/progress-c" "${common[@]}" >"$work/client-c-$policy.log" 2>&1 &
  local client_c=$!; pids+=($!)

  # Warm up until every client has answers (at most 3 minutes: on a loaded machine starting 250 sequences through one
  # gateway takes a while), then the full warm-up time.
  answered() { [ -s "$work/progress-$1" ] && [ "$(cat "$work/progress-$1")" -gt 0 ]; }
  for _ in $(seq 1 1800); do answered a && answered b && answered c && break; sleep 0.1; done
  sleep "$warmup_seconds"
  local s3_ip; s3_ip=$(ns_ip s3)
  answers() { echo "A=$(cat "$work/progress-a" 2>/dev/null || echo 0) B=$(cat "$work/progress-b" 2>/dev/null || echo 0) C=$(cat "$work/progress-c" 2>/dev/null || echo 0)"; }
  echo "# $policy: silo 3 is $(status_of "$s3_ip" || true) in the table; cutting it off for ${cut_seconds}s; answers so far $(answers)"
  local t0; t0=$(date +%s.%N)
  cut_off s3
  local dead_at="" exited_at="" exit_code=""
  while :; do
    local now; now=$(date +%s.%N)
    if [ -z "$dead_at" ] && [ "$(status_of "$s3_ip" || true)" = 6 ]; then dead_at=$now; fi
    if [ -z "$exited_at" ] && ! kill -0 "${silo_pid[s3]}" 2>/dev/null; then
      exited_at=$now
      exit_code=0; wait "${silo_pid[s3]}" 2>/dev/null || exit_code=$?
    fi
    awk -v n="$now" -v t="$t0" -v c="$cut_seconds" 'BEGIN { exit !(n - t >= c) }' && break
    sleep 0.2
  done
  heal s3
  local healed; healed=$(date +%s.%N)
  secs() { [ -n "$1" ] && awk -v a="$1" -v b="$t0" 'BEGIN { printf "%.1f", a - b }' || echo never; }
  echo "# $policy: answers at the heal $(answers)"
  echo "# $policy: cut-off silo 3 declared dead after $(secs "$dead_at") s, exited after $(secs "$exited_at") s (exit code ${exit_code:-none}); healed at $(secs "$healed") s"
  grep -h "fence" "${silo_log[s3]}" | head -n 3 | sed "s/^/# silo 3: /" || true
  if kill -0 "${silo_pid[s3]}" 2>/dev/null; then
    echo "# $policy: silo 3 still running after the cut; stopping it (SIGTERM) to restart it"
    kill -TERM "${silo_pid[s3]}" 2>/dev/null || true
    for _ in $(seq 1 300); do kill -0 "${silo_pid[s3]}" 2>/dev/null || break; sleep 0.1; done
    kill -9 "${silo_pid[s3]}" 2>/dev/null || true
  fi
  # Back as an orchestrator would start it again: a fresh generation on the same address.
  start_silo s3
  wait_ready s3
  echo "# $policy: silo 3 rejoined $(awk -v a="$(date +%s.%N)" -v b="$healed" 'BEGIN { printf "%.1f", a - b }') s after the heal"
  sleep "$after_seconds"
  echo "# $policy: answers at the stop $(answers)"
  touch "$work/stop"

  local status=0
  for client in "$client_a" "$client_b" "$client_c"; do wait "$client" || status=1; done
  for x in a b c; do
    echo "# client $x:"; grep '^#' "$work/client-$x-$policy.log" | sed 's/^/#   /' || true
    tail -n 1 "$work/client-$x-$policy.log" | sed 's/^/#   /'
  done
  # Sum the three clients' stats; unavailability only from the healthy side (client A).
  local stats
  stats=$(for x in a b c; do grep -h '^# stats:' "$work/client-$x-$policy.log" | sed "s/^# stats:/$x/"; done)
  field() { echo "$stats" | awk -v k="$1" -v who="${2:-abc}" '{ if (index(who, $1)) for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) s += kv[2] } } END { print s + 0 }'; }
  [ "$(echo "$stats" | wc -l)" = 3 ] || { echo "error: a client did not finish with its stats line (logs in $work)" >&2; status=1; }
  local line
  line="$label: sequences=$sequences answered=$(field answered) refused=$(field refused) diverged=$(field diverged) lost=$(field lost) duplicated=$(field duplicated) mismatched=$(field mismatched) unavailable_s=$(awk -v ms="$(field unavailable_ms a)" 'BEGIN { printf "%.1f", ms / 1000 }')"
  if [ "$policy" = Checkpoint ]; then
    largest() { echo "$stats" | awk -v who="$1" '{ if (index(who, $1)) for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "max_rollback" && kv[2] > m) m = kv[2] } } END { print m + 0 }'; }
    # Checkpoint(100, 1000) bounds what a crash takes back to 100 elements (or 1 s of them) while its writes succeed. The
    # healthy side keeps that bound; on the cut-off silo writes fail, and its sequences go on applying (acknowledged,
    # with DurableN behind) until the fence refuses, so they can come back further, but never behind their DurableN.
    echo "# $policy: largest rollback: healthy side (client A) $(largest a), cut-off side (clients B, C) $(largest bc); the policy's k is 100"
    line+=" rolled_back=$(field rolled_back) max_rollback=$(largest abc) bad_rollbacks=$(field bad_rollbacks)"
    [ "$(field bad_rollbacks)" = 0 ] || status=1
  fi
  for k in diverged lost duplicated mismatched; do [ "$(field "$k")" = 0 ] || status=1; done

  for pid in "${silo_pid[s1]}" "${silo_pid[s2]}" "${silo_pid[s3]}" "$redis_pid"; do kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  teardown_network
  result_lines+=("$line")
  return "$status"
}

dotnet "$client_dll" models random --name parttest --input 4 --hidden 32 --output 2 --seed 11 --out "$work/model.json" >/dev/null
result_lines=()
overall=0
case "$durability" in
  EveryStep) run_once EveryStep || overall=1 ;;
  Checkpoint) run_once Checkpoint || overall=1 ;;
  both) run_once EveryStep || overall=1; run_once Checkpoint || overall=1 ;;
  *) echo "error: --durability is EveryStep, Checkpoint or both" >&2; exit 2 ;;
esac
for line in "${result_lines[@]}"; do echo "$line"; done
exit "$overall"
