#!/usr/bin/env bash
# What a sequence leaves behind: one silo on Redis (AOF) with the HTTP API, S sequences started over HTTP with a few
# elements each, then left idle until every one is deactivated. Prints the silo's resident set (VmRSS) and managed
# heap (after its last GC) before the load, after it, once all sequences are deactivated and `--linger` seconds later,
# each per sequence, and what Redis holds by kind of key. A benchmark: run it alone.
#
#   tests/cluster/memory-bench.sh [--sequences 20000] [--steps 2] [--linger 120] [--gcdump] [--no-build]
#
# --gcdump takes a heap dump at each reading with dotnet-gcdump (dotnet tool install -g dotnet-gcdump), which runs a
# full blocking GC first: the heap read after it is the live set, and the dump's largest types are printed.
#
# The silo's GC is chosen with the runtime's own variables (DOTNET_gcServer=0, DOTNET_GCConserveMemory=5,
# DOTNET_GCHeapHardLimit=0x...): they are passed through. Last line:
#   memory: sequences=S rss_kb_per_seq=X heap_b_per_seq=X rss_kb_per_seq_idle=X heap_b_per_seq_idle=X rss_growth_idle_pct=X redis_keys_per_seq=X
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
config=${CONFIG:-Release}
sequences=20000
steps=2
linger=120
do_build=1
gcdump=0
while [ $# -gt 0 ]; do
  case "$1" in
    --sequences) sequences=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --linger) linger=$2; shift 2 ;;
    --gcdump) gcdump=1; shift ;;
    --no-build) do_build=0; shift ;;
    *) echo "usage: $0 [--sequences N] [--steps N] [--linger S] [--gcdump] [--no-build]" >&2; exit 2 ;;
  esac
done

work=$(mktemp -d -t rnn-mem.XXXXXX)
# shellcheck source=lib.sh
source "$root/tests/cluster/lib.sh"
[ "$do_build" = 1 ] && build
dotnet "$(client_dll)" models random --name membench --input 4 --hidden 32 --output 2 --seed 7 --out "$work/model.json" >/dev/null

start_redis
cluster="mem-$$-$RANDOM"
# Idle sequences go after 61 s (Orleans collects once a minute, so within about two minutes of their last call).
export ConnectionStrings__Redis="127.0.0.1:$redis_port" Orleans__ClusterId="$cluster" Orleans__ServiceId="$cluster" \
  RnnStreams__SeedModels__0="$work/model.json" RnnStreams__DefaultModel=membench RnnStreams__IdleDeactivation=00:01:01 \
  Http__Enabled=true Http__RequestsPerSecond=1000000 Http__Burst=1000000
start_silo 1
wait_ready 1
echo "# redis :$redis_port, silo ${http_port[1]} (API), work $work, gc: server=${DOTNET_gcServer:-1} conserve=${DOTNET_GCConserveMemory:-0} hard_limit=${DOTNET_GCHeapHardLimit:-none}"

active() { silo_metrics 1 | awk '/^rnn_sequences_active[{ ]/ { print $NF; exit }'; }
declare -A rss heap
measure() {
  if [ "$gcdump" = 1 ]; then
    PATH="$PATH:$HOME/.dotnet/tools" dotnet-gcdump collect -p "${silo_pid[1]}" -o "$work/$1.gcdump" >/dev/null
    PATH="$PATH:$HOME/.dotnet/tools" dotnet-gcdump report "$work/$1.gcdump" | sed -n '1,16p' | sed "s/^/# $1 gcdump: /"
    sleep 2 # the metric of the last collection is read from the next scrape
  fi
  rss[$1]=$(silo_rss_kb 1)
  heap[$1]=$(silo_heap_bytes 1)
  echo "# $1: rss_kb=${rss[$1]} heap_bytes=${heap[$1]} active=$(active) redis_keys=$(redis_keys) activations: $(silo_metrics 1 |
    sed -n 's/^orleans_catalog_activations{.*grain_type="\(sequence\|pubsubrendezvous\|memorystorage\)"} \(.*\)/\1=\2/p' | tr '\n' ' ')"
}
sleep 5
measure baseline

dotnet "$(client_dll)" load --http "http://127.0.0.1:${http_port[1]}" --model membench --sequences "$sequences" --steps "$steps" \
  --concurrency 500 >"$work/client.log" 2>&1 || { tail -n 5 "$work/client.log" >&2; exit 1; }
tail -n 1 "$work/client.log" | sed 's/^/# load: /'
measure loaded

for _ in $(seq 1 600); do
  [ "$(active)" = "0" ] && break
  sleep 1
done
measure deactivated
sleep "$linger"
measure lingered

prefix="$cluster/state"
echo "# redis keys: sequences=$(redis_keys "$prefix/sequence/*") rendezvous=$(redis_keys "$prefix/pubsubrendezvous/*") all=$(redis_keys)"
awk -v s="$sequences" -v r0="${rss[baseline]}" -v r1="${rss[loaded]}" -v r2="${rss[deactivated]}" -v r3="${rss[lingered]}" \
  -v h0="${heap[baseline]}" -v h1="${heap[loaded]}" -v h2="${heap[deactivated]}" -v h3="${heap[lingered]}" -v k="$(redis_keys)" 'BEGIN {
  printf "memory: sequences=%d rss_kb_per_seq=%.2f heap_b_per_seq=%.0f rss_kb_per_seq_idle=%.2f heap_b_per_seq_idle=%.0f rss_growth_idle_pct=%.1f redis_keys_per_seq=%.3f\n",
    s, (r1 - r0) / s, (h1 - h0) / s, (r3 - r0) / s, (h3 - h0) / s, 100 * (r3 - r2) / r2, k / s
}'
