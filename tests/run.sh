#!/usr/bin/env bash
# Every test, with all set-up: installs Debian's redis-server, mosquitto (+ its clients) and chromium if they are missing
# (the Redis- and MQTT-backed tests start their own instances on free loopback ports; the MQTT tests publish and subscribe
# with mosquitto_pub/mosquitto_sub; the live page's test drives chromium headless through Playwright),
# runs `dotnet test RnnStreams.sln -c Release` with any extra arguments, then — when podman can be installed
# (tests/deploy/podman-setup.sh) — the deployment tests (category Deploy: the compose stack, the kube-play smoke and the
# 3-minute soak of tests/cluster/soak.sh) on their own, since they need the machine's cores for three silos.
#   bash tests/run.sh [dotnet test options]
#   RNN_DEPLOY_TESTS=0 bash tests/run.sh    # without the deployment tests
set -uo pipefail
cd "$(dirname "$0")/.."
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
command -v mosquitto_pub >/dev/null 2>&1 || missing+=(mosquitto-clients)
command -v nft >/dev/null 2>&1 || missing+=(nftables)       # the partition test cuts a silo off with nft rules
command -v ip >/dev/null 2>&1 || missing+=(iproute2)        # … inside network namespaces
if [ ${#missing[@]} -gt 0 ]; then
  echo "# installing ${missing[*]} (Debian packages)"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null || exit 1
fi

# The soak test reads each silo's live heap after a full GC through dotnet-gcdump (without it, a noisier reading).
if ! command -v dotnet-gcdump >/dev/null 2>&1 && [ ! -x "$HOME/.dotnet/tools/dotnet-gcdump" ]; then
  echo "# installing dotnet-gcdump (dotnet tool)"
  dotnet tool install -g dotnet-gcdump >/dev/null || echo "# dotnet-gcdump not installed: the soak test reads the heap without a forced GC"
fi

dotnet test RnnStreams.sln -c Release --filter 'Category!=Deploy' "$@"
status=$?

if [ "${RNN_DEPLOY_TESTS:-1}" = "0" ]; then
  echo "# deployment tests not run (RNN_DEPLOY_TESTS=0)"
elif bash tests/deploy/podman-setup.sh; then
  dotnet test tests/RnnStreams.Silo.Tests -c Release --no-build --filter 'Category=Deploy' "$@" || status=1
else
  echo "# container deployment tests not run: podman could not be installed or set up (tests/deploy/podman-setup.sh); the soak test runs without it"
  dotnet test tests/RnnStreams.Silo.Tests -c Release --no-build --filter 'Category=Deploy&FullyQualifiedName~SoakTests' "$@" || status=1
fi
exit "$status"
