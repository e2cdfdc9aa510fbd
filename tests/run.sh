#!/usr/bin/env bash
# Every test, with all set-up: installs Debian's redis-server and chromium if they are missing (the Redis-backed tests
# start their own instances on free loopback ports; the live page's test drives chromium headless through Playwright),
# then runs `dotnet test RnnStreams.sln -c Release` with any extra arguments.
#   bash tests/run.sh [dotnet test options]
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  echo "# installing ${missing[*]} (Debian packages)"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi
exec dotnet test RnnStreams.sln -c Release "$@"
