#!/usr/bin/env bash
# Real containers on a machine without a Docker engine: installs podman, podman-compose, runc and debootstrap
# (Debian packages) when missing, writes the engine settings a sandboxed host needs, and makes sure the base images
# the Dockerfiles and docker-compose.yml name exist locally:
#   mcr.microsoft.com/dotnet/sdk:10.0, mcr.microsoft.com/dotnet/aspnet:10.0, docker.io/library/redis:7,
#   docker.io/library/eclipse-mosquitto:2
# Each is pulled when a registry answers; when none does (these CI machines reach only the package registries), a
# stand-in is built from a Debian root file system (debootstrap) plus this host's .NET SDK and imported under the
# same name. The Dockerfiles stay exactly what a user with a registry runs; only their FROM images are stood in for.
#   bash tests/deploy/podman-setup.sh            # idempotent; exit 0 when podman can run the images
#   RNN_PODMAN_CACHE=DIR                         # where root file systems are kept (default /var/cache/rnnstreams)
set -euo pipefail

sdk_image=mcr.microsoft.com/dotnet/sdk:10.0
aspnet_image=mcr.microsoft.com/dotnet/aspnet:10.0
redis_image=docker.io/library/redis:7
mosquitto_image=docker.io/library/eclipse-mosquitto:2
cache=${RNN_PODMAN_CACHE:-/var/cache/rnnstreams}
log() { echo "# podman-setup: $*" >&2; }

as_root=""
[ "$(id -u)" -eq 0 ] || as_root="sudo"

missing=()
for tool in podman podman-compose runc debootstrap; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]} (Debian packages)"
  $as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq podman podman-compose runc debootstrap >/dev/null
fi

# The sandbox refuses setrlimit for containers and crun refuses its hybrid cgroups: runc with cgroupfs works.
if ! grep -q 'runtime = "runc"' /etc/containers/containers.conf 2>/dev/null; then
  log "writing /etc/containers/containers.conf (runc, cgroupfs, no default ulimits)"
  $as_root mkdir -p /etc/containers
  $as_root tee /etc/containers/containers.conf >/dev/null <<'EOF'
[containers]
default_ulimits = []
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
EOF
fi

have() { podman image exists "$1"; }
try_pull() { timeout 30 podman pull -q "$1" >/dev/null 2>&1; }

# base_rootfs: a minimal Debian root file system with what .NET needs (ICU, OpenSSL, CA certificates), this host's CA
# certificates (the registries here are reached through a proxy whose authority the host trusts), and the
# non-root user the .NET images define (APP_UID 1654, "app").
base=$cache/rootfs-base
base_rootfs() {
  local root=$base
  if [ ! -f "$root/.complete" ]; then
    log "debootstrap bookworm into $root (about 30 s)"
    $as_root rm -rf "$root"
    $as_root mkdir -p "$cache"
    $as_root debootstrap --variant=minbase --include=ca-certificates,libicu72,libssl3 bookworm "$root" \
      "${RNN_DEBIAN_MIRROR:-http://deb.debian.org/debian}" >/dev/null
    if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
      $as_root cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
    fi
    $as_root chroot "$root" update-ca-certificates >/dev/null
    $as_root chroot "$root" groupadd -g 1654 app
    $as_root chroot "$root" useradd -u 1654 -g 1654 -m -d /home/app -s /usr/sbin/nologin app
    $as_root touch "$root/.complete"
  fi
}

import_image() { # import_image ROOTFS NAME [--change ...]
  local root=$1 name=$2
  shift 2
  $as_root tar -C "$root" --exclude=./.complete -c . | podman import "$@" - "$name" >/dev/null
}

dotnet_env=(--change 'ENV DOTNET_ROOT=/usr/share/dotnet' --change 'ENV APP_UID=1654'
  --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' --change 'ENV SSL_CERT_DIR=/etc/ssl/certs'
  --change 'ENV DOTNET_CLI_TELEMETRY_OPTOUT=1' --change 'ENV DOTNET_NOLOGO=1'
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin')

host_dotnet=$(dirname "$(readlink -f "$(command -v dotnet)")")

# stand_in NAME: a fresh copy of the base root fs in $root; finish IMAGE [--change ...]: import it under IMAGE.
stand_in() {
  base_rootfs
  root="$cache/rootfs-$1"
  $as_root rm -rf "$root" && $as_root cp -a "$base" "$root"
}
finish() {
  local image=$1
  shift
  import_image "$root" "$image" "$@"
  $as_root rm -rf "$root"
}

if ! have "$sdk_image" && ! try_pull "$sdk_image"; then
  log "no registry: building a stand-in for $sdk_image from $host_dotnet"
  stand_in sdk
  $as_root cp -a "$host_dotnet" "$root/usr/share/dotnet"
  $as_root ln -sf /usr/share/dotnet/dotnet "$root/usr/bin/dotnet"
  finish "$sdk_image" "${dotnet_env[@]}" --change 'WORKDIR /'
fi

if ! have "$aspnet_image" && ! try_pull "$aspnet_image"; then
  log "no registry: building a stand-in for $aspnet_image (the runtimes only, no SDK)"
  stand_in aspnet
  $as_root mkdir -p "$root/usr/share/dotnet/shared"
  $as_root cp -a "$host_dotnet/dotnet" "$host_dotnet/host" "$root/usr/share/dotnet/"
  $as_root cp -a "$host_dotnet/shared/Microsoft.NETCore.App" "$host_dotnet/shared/Microsoft.AspNetCore.App" "$root/usr/share/dotnet/shared/"
  $as_root ln -sf /usr/share/dotnet/dotnet "$root/usr/bin/dotnet"
  finish "$aspnet_image" "${dotnet_env[@]}" --change 'ENV ASPNETCORE_HTTP_PORTS=8080' --change 'WORKDIR /app'
fi

if ! have "$redis_image" && ! try_pull "$redis_image"; then
  log "no registry: building a stand-in for $redis_image (Debian's redis-server)"
  stand_in redis
  $as_root chroot "$root" apt-get install -y -qq redis-server >/dev/null 2>&1 \
    || { $as_root chroot "$root" apt-get update -qq >/dev/null && $as_root chroot "$root" apt-get install -y -qq redis-server >/dev/null; }
  $as_root mkdir -p "$root/data"
  # The official image builds Redis with protected mode off (other containers reach it, not loopback); Debian's
  # build has it on, so the stand-in's entry point turns it off.
  printf '%s\n' '#!/bin/sh' 'if [ "$1" = "redis-server" ]; then shift; exec redis-server "$@" --protected-mode no; fi' 'exec "$@"' \
    | $as_root tee "$root/usr/local/bin/docker-entrypoint.sh" >/dev/null
  $as_root chmod +x "$root/usr/local/bin/docker-entrypoint.sh"
  finish "$redis_image" --change 'WORKDIR /data' \
    --change 'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' --change 'CMD ["redis-server"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
fi

if ! have "$mosquitto_image" && ! try_pull "$mosquitto_image"; then
  log "no registry: building a stand-in for $mosquitto_image (Debian's mosquitto)"
  stand_in mosquitto
  $as_root chroot "$root" apt-get install -y -qq mosquitto >/dev/null 2>&1 \
    || { $as_root chroot "$root" apt-get update -qq >/dev/null && $as_root chroot "$root" apt-get install -y -qq mosquitto >/dev/null; }
  # The official image ships this file: every interface, port 1883, anonymous clients.
  printf '%s\n' 'listener 1883' 'allow_anonymous true' | $as_root tee "$root/mosquitto-no-auth.conf" >/dev/null
  finish "$mosquitto_image" --change 'CMD ["/usr/sbin/mosquitto", "-c", "/mosquitto/config/mosquitto.conf"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' --change 'USER mosquitto'
fi

podman image exists "$sdk_image" && podman image exists "$aspnet_image" && podman image exists "$redis_image" && podman image exists "$mosquitto_image"
log "ready: $(podman images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | tr '\n' ' ')"
