#!/usr/bin/env bash
# The main job in one command: build the silo and the client, start the silo (embedded default: in-memory storage,
# the demo model published), stream the demo through it with the client, then stop the silo.
#   bash silo/run-demo.sh [demo options, e.g. --devices 500 --steps 100]
# Ports: RNN_GATEWAY_PORT (default 30000), RNN_SILO_PORT (default 11111), RNN_HTTP_PORT (the HTTP API on
# loopback, default 8080) and RNN_MANAGEMENT_PORT (health, metrics, dashboard on loopback, default 8081).
set -euo pipefail
cd "$(dirname "$0")/.."

gateway_port=${RNN_GATEWAY_PORT:-30000}
silo_port=${RNN_SILO_PORT:-11111}
http_port=${RNN_HTTP_PORT:-8080}
management_port=${RNN_MANAGEMENT_PORT:-8081}
config=Release

echo "# building (dotnet build -c $config) ..."
dotnet build silo/RnnStreams.Silo -c "$config" -nologo -v quiet
dotnet build client/RnnStreams.Client -c "$config" -nologo -v quiet

log=$(mktemp -t rnnstreams-silo.XXXXXX.log)
echo "# starting the silo on gateway port $gateway_port (log: $log)"
dotnet "silo/RnnStreams.Silo/bin/$config/net10.0/RnnStreams.Silo.dll" \
  --Orleans:Endpoints:GatewayPort "$gateway_port" --Orleans:Endpoints:SiloPort "$silo_port" \
  --urls "http://127.0.0.1:$http_port" --Management:Urls "http://127.0.0.1:$management_port" >"$log" 2>&1 &
silo=$!
trap 'kill "$silo" 2>/dev/null || true; wait "$silo" 2>/dev/null || true' EXIT

# Ready when the silo has published (or found) its seed model.
for _ in $(seq 1 120); do
  if ! kill -0 "$silo" 2>/dev/null; then
    echo "error: the silo exited during start-up; its log:" >&2
    cat "$log" >&2
    exit 1
  fi
  if grep -q "Seed model .* ready at version" "$log"; then
    break
  fi
  sleep 0.5
done
grep -q "Seed model .* ready at version" "$log" || { echo "error: the silo did not become ready in 60 s; log: $log" >&2; exit 1; }

dotnet "client/RnnStreams.Client/bin/$config/net10.0/RnnStreams.Client.dll" demo --gateway "localhost:$gateway_port" "$@"
