#!/usr/bin/env bash
# Every test, with all set-up: installs Debian's redis-server if it is missing (the Redis-backed tests start their own
# instances on free loopback ports), then runs `dotnet test RnnStreams.sln -c Release` with any extra arguments.
#   bash tests/run.sh [dotnet test options]
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v redis-server >/dev/null 2>&1; then
  echo "# installing redis-server (Debian package)"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq redis-server >/dev/null
fi
exec dotnet test RnnStreams.sln -c Release "$@"
