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

# A TCP port on 127.0.0.1 that nothing listens on and no earlier call returned.
used_ports=" "
free_port() {
  local port
  while true; do
    port=$((20000 + RANDOM % 20000))
    case "$used_ports" in *" $port "*) continue ;; esac
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      used_ports+="$port "
      echo "$port"
      return
    fi
  done
}

# start_redis: starts redis-server on a free port (no persistence of its own), sets redis_port.
start_redis() {
  command -v redis-server >/dev/null || { echo "error: redis-server is not installed (apt-get install -y redis-server)" >&2; exit 1; }
  redis_port=$(free_port)
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no --loglevel warning >"$work/redis.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do
    redis-cli -p "$redis_port" ping >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "error: redis-server did not start" >&2
  exit 1
}

# start_silo I: starts silo I (ports silo_port[I], gateway_port[I]) in the background; its pid in silo_pid[I].
declare -A silo_pid silo_port gateway_port management_port silo_log
start_silo() {
  local i=$1
  [ -n "${silo_port[$i]:-}" ] || { silo_port[$i]=$(free_port); gateway_port[$i]=$(free_port); management_port[$i]=$(free_port); }
  silo_log[$i]="$work/silo$i.$(date +%s%N).log"
  : >"${silo_log[$i]}"
  dotnet "$(silo_dll)" --Orleans:Endpoints:SiloPort "${silo_port[$i]}" --Orleans:Endpoints:GatewayPort "${gateway_port[$i]}" \
    --Orleans:Endpoints:AdvertisedIPAddress 127.0.0.1 --Management:Urls "http://127.0.0.1:${management_port[$i]}" >"${silo_log[$i]}" 2>&1 &
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
