# Shared by the cluster scripts: build, free ports, Redis and silo processes on loopback, cleanup on exit.
# Source it after setting: root (repository), config (Release/Debug), work (a scratch folder).

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

build() {
  dotnet build "$root/silo/RnnStreams.Silo" -c "$config" -nologo -v quiet -clp:NoSummary >/dev/null
  dotnet build "$root/client/RnnStreams.Client" -c "$config" -nologo -v quiet -clp:NoSummary >/dev/null
}

silo_dll() { echo "$root/silo/RnnStreams.Silo/bin/$config/net10.0/RnnStreams.Silo.dll"; }
client_dll() { echo "$root/client/RnnStreams.Client/bin/$config/net10.0/RnnStreams.Client.dll"; }

# free_port VAR: sets VAR to a TCP port on 127.0.0.1 that nothing listens on and no earlier call chose. The ports are
# below the kernel's ephemeral range (ip_local_port_range, 32768–60999 here), so no outgoing connection of another
# process can hold one between this choice and the listener's bind. (It sets VAR rather than printing: a command
# substitution would run it in a subshell, and the ports it chose would be forgotten.)
used_ports=" "
free_port() {
  local port low
  low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  while true; do
    port=$((20000 + RANDOM % (low - 20000)))
    case "$used_ports" in *" $port "*) continue ;; esac
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      used_ports+="$port "
      printf -v "$1" '%s' "$port"
      return
    fi
  done
}

# start_redis: starts redis-server on a free port with its append-only file in $work/redis, sets redis_port and
# redis_pid. AOF with fsync every second, as the README's recipes and the compose and Kubernetes files run it: every
# acknowledged write has reached the kernel before Redis answers, so a restart or a crash of Redis itself loses
# nothing; only a crash of the host can lose the last second, and the silos go down with it then.
# (`--appendfsync always` would fsync before every answer: one disk flush per EveryStep element.)
start_redis() {
  command -v redis-server >/dev/null || { echo "error: redis-server is not installed (apt-get install -y redis-server)" >&2; exit 1; }
  [ -n "${redis_port:-}" ] || free_port redis_port
  mkdir -p "$work/redis"
  redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$work/redis" --save '' --appendonly yes --appendfsync everysec \
    --daemonize no --loglevel warning >>"$work/redis.log" 2>&1 &
  redis_pid=$!
  pids+=($!)
  for _ in $(seq 1 100); do
    # PING answers while the append-only file is still loading (LOADING errors go to stderr): wait for a real read.
    case "$(redis-cli -p "$redis_port" dbsize 2>/dev/null)" in '' | *[!0-9]*) ;; *) return 0 ;; esac
    sleep 0.1
  done
  echo "error: redis-server did not start; log $work/redis.log" >&2
  exit 1
}

# start_mosquitto: starts Debian's mosquitto (MQTT 5 broker) on a free loopback port, anonymous, in memory, with no cap
# on the messages in flight or queued per client; sets mosquitto_port and mosquitto_pid.
start_mosquitto() {
  [ -x /usr/sbin/mosquitto ] || { echo "error: mosquitto is not installed (apt-get install -y mosquitto mosquitto-clients)" >&2; exit 1; }
  [ -n "${mosquitto_port:-}" ] || free_port mosquitto_port
  printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nmax_inflight_messages 0\nmax_queued_messages 1000000\n' "$mosquitto_port" >"$work/mosquitto.conf"
  /usr/sbin/mosquitto -c "$work/mosquitto.conf" >>"$work/mosquitto.log" 2>&1 &
  mosquitto_pid=$!
  pids+=($!)
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$mosquitto_port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "error: mosquitto did not start; log $work/mosquitto.log" >&2
  exit 1
}

# restart_redis [down_s]: stops Redis (SIGTERM: it writes its append-only file and exits), waits down_s seconds
# (default 0) and starts it again on the same port and data directory.
restart_redis() {
  local down=${1:-0}
  kill -TERM "$redis_pid" 2>/dev/null || true
  wait "$redis_pid" 2>/dev/null || true
  sleep "$down"
  start_redis
}

# redis_keys [PATTERN]: how many keys Redis holds (matching PATTERN, e.g. '*/state/sequence/*').
redis_keys() {
  if [ $# -eq 0 ]; then
    redis-cli -p "$redis_port" dbsize
  else
    redis-cli -p "$redis_port" --scan --pattern "$1" | wc -l
  fi
}

# start_silo I: starts silo I (ports silo_port[I], gateway_port[I], management_port[I], and http_port[I] for the
# HTTP API when Http__Enabled=true) in the background; its pid in silo_pid[I]. Extra arguments go to the silo.
declare -A silo_pid silo_port gateway_port management_port http_port silo_log
start_silo() {
  local i=$1
  shift
  [ -n "${silo_port[$i]:-}" ] || { free_port "silo_port[$i]"; free_port "gateway_port[$i]"; free_port "management_port[$i]"; free_port "http_port[$i]"; }
  silo_log[$i]="$work/silo$i.$(date +%s%N).log"
  : >"${silo_log[$i]}"
  dotnet "$(silo_dll)" --Orleans:Endpoints:SiloPort "${silo_port[$i]}" --Orleans:Endpoints:GatewayPort "${gateway_port[$i]}" \
    --Orleans:Endpoints:AdvertisedIPAddress 127.0.0.1 --Management:Urls "http://127.0.0.1:${management_port[$i]}" \
    --urls "http://127.0.0.1:${http_port[$i]}" "$@" >"${silo_log[$i]}" 2>&1 &
  silo_pid[$i]=$!
  pids+=($!)
}

# wait_ready I: until silo I has its seed model (it has joined the cluster and can serve grains).
wait_ready() {
  local i=$1
  for _ in $(seq 1 1200); do
    if ! kill -0 "${silo_pid[$i]}" 2>/dev/null; then
      echo "error: silo $i exited during start-up:" >&2
      tail -n 30 "${silo_log[$i]}" >&2
      exit 1
    fi
    grep -q "ready at version" "${silo_log[$i]}" && return 0
    sleep 0.1
  done
  echo "error: silo $i not ready after 120 s; log ${silo_log[$i]}" >&2
  exit 1
}

kill_silo() {
  kill -9 "${silo_pid[$1]}" 2>/dev/null || true
  wait "${silo_pid[$1]}" 2>/dev/null || true
}

# stop_silo_gracefully I [timeout_s]: SIGTERM, as an orchestrator stops a silo, and waits for the process to exit
# (default 60 s, then kill -9). Sets graceful_s to the seconds it took; returns 1 if it had to be killed.
stop_silo_gracefully() {
  local i=$1 timeout=${2:-60} start=$SECONDS
  kill -TERM "${silo_pid[$i]}" 2>/dev/null || true
  while kill -0 "${silo_pid[$i]}" 2>/dev/null; do
    if [ $((SECONDS - start)) -ge "$timeout" ]; then
      echo "# silo $i did not stop within ${timeout} s of SIGTERM; kill -9" >&2
      kill_silo "$i"
      graceful_s=$((SECONDS - start))
      return 1
    fi
    sleep 0.2
  done
  wait "${silo_pid[$i]}" 2>/dev/null || true
  graceful_s=$((SECONDS - start))
}

# silo_metrics I: silo I's Prometheus page (management port).
silo_metrics() { curl -fsS --max-time 5 "http://127.0.0.1:${management_port[$1]}/metrics"; }

# silo_rss_kb I: silo I's resident set (VmRSS, KiB).
silo_rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/${silo_pid[$1]}/status" 2>/dev/null || echo 0; }

# silo_heap_bytes I: silo I's managed heap after its last GC (System.Runtime's dotnet.gc.last_collection.heap.size,
# summed over the generations, LOH and POH), from /metrics.
silo_heap_bytes() {
  silo_metrics "$1" 2>/dev/null | awk '/^dotnet_gc_last_collection_heap_size_bytes[{ ]/ { sum += $NF } END { printf "%.0f\n", sum }'
}

# gcdump: dotnet-gcdump's path when it is installed (dotnet tool install -g dotnet-gcdump), else empty.
gcdump_tool() { command -v dotnet-gcdump 2>/dev/null || { [ -x "$HOME/.dotnet/tools/dotnet-gcdump" ] && echo "$HOME/.dotnet/tools/dotnet-gcdump"; } || true; }

# silo_live_heap_bytes I: silo I's live managed heap: a heap dump with dotnet-gcdump runs a full blocking GC first, and
# the heap after that GC is read from /metrics. Empty when dotnet-gcdump is not installed.
silo_live_heap_bytes() {
  local tool dump
  tool=$(gcdump_tool)
  [ -n "$tool" ] || return 0
  dump="$work/silo$1.$$.$RANDOM.gcdump"
  "$tool" collect -p "${silo_pid[$1]}" -o "$dump" >/dev/null 2>&1 || return 0
  rm -f "$dump"
  sleep 1.5 # the next scrape carries the induced collection
  silo_heap_bytes "$1"
}
