#!/usr/bin/env bash
# Services the test suite needs, installed (apt-get, when root and missing) and started on
# 127.0.0.1 by tests/run.sh. Each service writes its address to $EDGEPLATFORM_TEST_SERVICES
# for the test fixtures; under CI=true a fixture fails when its service is absent.
#
# The control plane embeds its MQTT broker and OCI registry, and the end-to-end tests start
# the server and agents as processes. The scale-out profile's external services start here:
#   - the CNCF distribution registry (Debian docker-registry), announced in services.env as
#     EDGEPLATFORM_TEST_REGISTRY=http://127.0.0.1:<port>
#   - mosquitto 2 (Debian mosquitto), installed here and announced as EDGEPLATFORM_TEST_MOSQUITTO=<binary>;
#     each test fixture runs it with the configuration the control plane writes from its device CA
#   - mosquitto_pub / mosquitto_sub (Debian mosquitto-clients): the stock clients the agent's
#     local broker tests log in with, as a sensor on a plant network would
#   - PostgreSQL 15 (Debian postgresql-15), a throwaway cluster initdb'd into the services
#     directory, announced as EDGEPLATFORM_TEST_POSTGRES=<Npgsql connection string>; dataset
#     SQL sources query it
#   - Azurite (npm azurite), the Azure Storage emulator, blob service only, announced as
#     EDGEPLATFORM_TEST_AZURITE=<Azure Storage connection string>; dataset blob sources read it
#   - promtool (Debian prometheus), installed here and announced as EDGEPLATFORM_TEST_PROMTOOL=<binary>;
#     the metrics tests lint a running server's /metrics with `promtool check metrics`
#   - Node.js and npm (Debian nodejs, npm): the agent's Arrow tests run Apache Arrow's JavaScript
#     library, which their fixture installs with `npm ci` from the lock file beside the test, once
#   - dockerd (Debian docker.io), an engine of the suite's own (data root, exec root, socket, pidfile
#     and bridge under the services directory), announced as EDGEPLATFORM_TEST_DOCKER=unix://<socket>;
#     the container tests pull containerized models into it and run them. Needs root.
#   - the ARFF example datasets of Debian's weka package (/usr/share/doc/weka/examples), which
#     the dataset-format tests parse one by one
#   - Chromium (Debian chromium), installed here and announced as EDGEPLATFORM_TEST_CHROMIUM=<binary>;
#     the console's browser tests drive it headless through Playwright's bundled driver (no
#     browser is downloaded)
#   - qemu-user (Debian qemu-user-static) with the arm64 multiarch libraries the linux-arm64 agent
#     loads (libc6, libstdc++6, libicu72, libssl3, zlib1g :arm64), announced as
#     EDGEPLATFORM_TEST_QEMU_AARCH64=<binary>; the ARM64 release's smoke test runs the agent under it

services_start() {
  mkdir -p "$EDGEPLATFORM_TEST_SERVICES"
  : >"$EDGEPLATFORM_TEST_SERVICES/services.env"
  require_command dotnet || return 1
  registry_start || return 1
  mosquitto_locate || return 1
  require_command mosquitto_pub mosquitto-clients || return 1
  require_command node nodejs || return 1
  require_command npm npm || return 1
  promtool_locate || return 1
  require_package weka || return 1
  chromium_locate || return 1
  qemu_aarch64_locate || return 1
  postgres_start || return 1
  azurite_start || return 1
  docker_start || return 1
}

# dockerd on a socket of its own, beside any engine the machine runs: its own data and exec roots,
# and its own bridge (edgeplatform0) instead of docker0, with no iptables rules, so the two never
# touch each other's networks. Ports published on 127.0.0.1 go through docker-proxy. Containers
# are named by the tests that start them and removed by them; services_stop stops the engine.
docker_start() {
  local dir="$EDGEPLATFORM_TEST_SERVICES/docker" bridge=edgeplatform0 pid i
  if [[ $(id -u) -ne 0 ]]; then
    echo "not root: no dockerd of the suite's own; the container tests fail under CI=true" >&2
    return 0
  fi
  PATH="$PATH:/usr/sbin" require_command dockerd docker.io || return 1
  require_command docker docker.io || return 1
  PATH="$PATH:/usr/sbin" require_command ip iproute2 || return 1
  mkdir -p "$dir"
  if ! ip link show "$bridge" >/dev/null 2>&1; then
    { ip link add "$bridge" type bridge && ip addr add 10.231.17.1/24 dev "$bridge" && ip link set "$bridge" up; } || {
      echo "could not create the bridge $bridge for dockerd" >&2
      return 1
    }
    echo "$bridge" >"$dir/bridge"
  fi
  PATH="$PATH:/usr/sbin" dockerd --data-root "$dir/data" --exec-root "$dir/exec" -H "unix://$dir/docker.sock" \
    --pidfile "$dir/docker.pid" --bridge "$bridge" --iptables=false --ip-masq=false >"$dir/dockerd.log" 2>&1 &
  pid=$!
  echo "$pid" >"$EDGEPLATFORM_TEST_SERVICES/dockerd.pid"
  for i in $(seq 1 150); do
    if DOCKER_HOST="unix://$dir/docker.sock" docker version >/dev/null 2>&1; then
      echo "EDGEPLATFORM_TEST_DOCKER=unix://$dir/docker.sock" >>"$EDGEPLATFORM_TEST_SERVICES/services.env"
      export EDGEPLATFORM_TEST_DOCKER="unix://$dir/docker.sock"
      echo "dockerd on unix://$dir/docker.sock (log $dir/dockerd.log)" >&2
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  echo "dockerd did not answer on unix://$dir/docker.sock; see $dir/dockerd.log" >&2
  return 1
}

# Stops the suite's dockerd and waits for it (it unmounts its containers' layers on the way out),
# then removes its bridge and data root.
docker_stop() {
  local dir="$EDGEPLATFORM_TEST_SERVICES/docker" pid i
  [[ -f "$EDGEPLATFORM_TEST_SERVICES/dockerd.pid" ]] || return 0
  pid="$(cat "$EDGEPLATFORM_TEST_SERVICES/dockerd.pid")"
  kill "$pid" 2>/dev/null
  for i in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  rm -f "$EDGEPLATFORM_TEST_SERVICES/dockerd.pid"
  if [[ -f "$dir/bridge" ]]; then
    ip link delete "$(cat "$dir/bridge")" 2>/dev/null
    rm -f "$dir/bridge"
  fi
  kill -0 "$pid" 2>/dev/null || rm -rf "$dir/data" "$dir/exec"
}

# A PostgreSQL cluster of its own on a free loopback port, owned by the postgres user when the
# script runs as root (initdb refuses root). Trust authentication on loopback: a test cluster.
# Its directory is one of its own under /tmp: the services directory sits in the test run's
# private (0700) directory, which the postgres user cannot enter. services_stop removes it.
postgres_start() {
  local bin="/usr/lib/postgresql/15/bin" dir port run_as=()
  if [[ ! -x "$bin/initdb" ]]; then
    require_command /usr/lib/postgresql/15/bin/initdb postgresql-15 || return 1
  fi
  if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres || return 1
    run_as=(runuser -u postgres --)
  fi
  dir="$(mktemp -d /tmp/edgeplatform-postgres-XXXXXX)" || return 1
  echo "$dir" >"$EDGEPLATFORM_TEST_SERVICES/postgres.dir"
  [[ ${#run_as[@]} -gt 0 ]] && chown postgres "$dir"
  "${run_as[@]}" "$bin/initdb" -D "$dir/data" -U edgeplatform --auth=trust -E UTF8 >"$EDGEPLATFORM_TEST_SERVICES/postgres-init.log" 2>&1 || {
    echo "initdb failed; see $EDGEPLATFORM_TEST_SERVICES/postgres-init.log" >&2
    return 1
  }
  port="$(free_port)"
  "${run_as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir" start >/dev/null || {
    echo "PostgreSQL did not start; see $dir/postgres.log" >&2
    return 1
  }
  head -1 "$dir/data/postmaster.pid" >"$EDGEPLATFORM_TEST_SERVICES/postgres.pid"
  echo "EDGEPLATFORM_TEST_POSTGRES=Host=127.0.0.1;Port=$port;Username=edgeplatform;Database=postgres" >>"$EDGEPLATFORM_TEST_SERVICES/services.env"
  export EDGEPLATFORM_TEST_POSTGRES="Host=127.0.0.1;Port=$port;Username=edgeplatform;Database=postgres"
  echo "PostgreSQL on 127.0.0.1:$port (log $dir/postgres.log)" >&2
}

# Azurite's blob service on a free loopback port, installed from npm when missing.
azurite_start() {
  local dir="$EDGEPLATFORM_TEST_SERVICES/azurite" port attempt
  # The emulator's well-known development account; not a secret.
  local key="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
  if ! command -v azurite-blob >/dev/null 2>&1; then
    require_command npm || return 1
    echo "installing azurite" >&2
    npm install -g azurite >/dev/null 2>&1 || { echo "npm install -g azurite failed" >&2; return 1; }
  fi
  mkdir -p "$dir"
  for attempt in 1 2 3 4 5; do
    port="$(free_port)"
    azurite-blob --blobHost 127.0.0.1 --blobPort "$port" --location "$dir" --silent --skipApiVersionCheck >>"$dir/azurite.log" 2>&1 &
    echo $! >"$EDGEPLATFORM_TEST_SERVICES/azurite.pid"
    if wait_for_port "$port" "$(cat "$EDGEPLATFORM_TEST_SERVICES/azurite.pid")"; then
      local connection="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$key;BlobEndpoint=http://127.0.0.1:$port/devstoreaccount1;"
      echo "EDGEPLATFORM_TEST_AZURITE=$connection" >>"$EDGEPLATFORM_TEST_SERVICES/services.env"
      export EDGEPLATFORM_TEST_AZURITE="$connection"
      echo "Azurite blob service on 127.0.0.1:$port (log $dir/azurite.log)" >&2
      return 0
    fi
    kill "$(cat "$EDGEPLATFORM_TEST_SERVICES/azurite.pid")" 2>/dev/null
    rm -f "$EDGEPLATFORM_TEST_SERVICES/azurite.pid"
    echo "Azurite did not listen on 127.0.0.1:$port (attempt $attempt); see $dir/azurite.log" >&2
  done
  return 1
}

# Waits up to 20 s for something to listen on a loopback port, giving up early when the process has exited.
wait_for_port() {
  local port="$1" pid="$2" i
  for i in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.2
  done
  return 1
}

# mosquitto is started per test fixture (its configuration comes from the control plane under
# test); here it is only installed and located. Debian puts the broker in /usr/sbin.
mosquitto_locate() {
  local binary
  PATH="$PATH:/usr/sbin" require_command mosquitto || return 1
  binary="$(PATH="$PATH:/usr/sbin" command -v mosquitto)"
  echo "EDGEPLATFORM_TEST_MOSQUITTO=$binary" >>"$EDGEPLATFORM_TEST_SERVICES/services.env"
  export EDGEPLATFORM_TEST_MOSQUITTO="$binary"
}

# promtool only reads what it is given; here it is installed and located.
promtool_locate() {
  local binary
  require_command promtool prometheus || return 1
  binary="$(command -v promtool)"
  echo "EDGEPLATFORM_TEST_PROMTOOL=$binary" >>"$EDGEPLATFORM_TEST_SERVICES/services.env"
  export EDGEPLATFORM_TEST_PROMTOOL="$binary"
}

# Chromium is started by each browser test with a fresh profile; here it is only installed and located.
chromium_locate() {
  local binary
  require_command chromium || return 1
  binary="$(command -v chromium)"
  echo "EDGEPLATFORM_TEST_CHROMIUM=$binary" >>"$EDGEPLATFORM_TEST_SERVICES/services.env"
  export EDGEPLATFORM_TEST_CHROMIUM="$binary"
}

# The emulator runs the ARM64 agent as a user-mode process (no binfmt registration needed: the
# test names the emulator); the agent's loader /lib/ld-linux-aarch64.so.1 and its libraries under
# /usr/lib/aarch64-linux-gnu come from Debian's arm64 packages, which need the architecture added.
qemu_aarch64_locate() {
  local binary package missing=()
  require_command qemu-aarch64-static qemu-user-static || return 1
  for package in libc6:arm64 libstdc++6:arm64 libicu72:arm64 libssl3:arm64 zlib1g:arm64; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
  done
  if [[ ${#missing[@]} -gt 0 ]]; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
      echo "installing ${missing[*]}" >&2
      (dpkg --add-architecture arm64 && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") >/dev/null || return 1
    else
      echo "missing Debian packages ${missing[*]} (after dpkg --add-architecture arm64)" >&2
      return 1
    fi
  fi
  [[ -e /lib/ld-linux-aarch64.so.1 ]] || { echo "no /lib/ld-linux-aarch64.so.1 although libc6:arm64 is installed" >&2; return 1; }
  binary="$(command -v qemu-aarch64-static)"
  echo "EDGEPLATFORM_TEST_QEMU_AARCH64=$binary" >>"$EDGEPLATFORM_TEST_SERVICES/services.env"
  export EDGEPLATFORM_TEST_QEMU_AARCH64="$binary"
}

services_stop() {
  if [[ -d "${EDGEPLATFORM_TEST_SERVICES:-}" ]]; then
    docker_stop
    for pidfile in "$EDGEPLATFORM_TEST_SERVICES"/*.pid; do
      [[ -f "$pidfile" ]] && kill "$(cat "$pidfile")" 2>/dev/null
      rm -f "$pidfile"
    done
    if [[ -f "$EDGEPLATFORM_TEST_SERVICES/postgres.dir" ]]; then
      sleep 1
      rm -rf "$(cat "$EDGEPLATFORM_TEST_SERVICES/postgres.dir")"
      rm -f "$EDGEPLATFORM_TEST_SERVICES/postgres.dir"
    fi
  fi
  return 0
}

# The distribution registry with filesystem storage, deletes enabled and no auth, on a free
# loopback port. Exports EDGEPLATFORM_TEST_REGISTRY for the test processes started after it.
registry_start() {
  require_command docker-registry || return 1
  require_command curl || return 1
  local dir="$EDGEPLATFORM_TEST_SERVICES" attempt port
  mkdir -p "$dir/registry-data"
  for attempt in 1 2 3 4 5; do
    port="$(free_port)"
    cat >"$dir/registry.yml" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $dir/registry-data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
YAML
    docker-registry serve "$dir/registry.yml" >>"$dir/registry.log" 2>&1 &
    echo $! >"$dir/registry.pid"
    if wait_for_http "http://127.0.0.1:$port/v2/" "$(cat "$dir/registry.pid")"; then
      echo "EDGEPLATFORM_TEST_REGISTRY=http://127.0.0.1:$port" >>"$dir/services.env"
      export EDGEPLATFORM_TEST_REGISTRY="http://127.0.0.1:$port"
      echo "docker-registry on 127.0.0.1:$port (log $dir/registry.log)" >&2
      return 0
    fi
    # Most likely the port was taken between choosing and binding it: try another.
    kill "$(cat "$dir/registry.pid")" 2>/dev/null
    rm -f "$dir/registry.pid"
    echo "docker-registry did not answer on 127.0.0.1:$port (attempt $attempt); see $dir/registry.log" >&2
  done
  return 1
}

# A loopback port nothing listens on: random in the ephemeral-free range, probed by connecting.
free_port() {
  local port
  while true; do
    port=$((20000 + RANDOM % 30000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
}

# Waits up to 20 s for a URL to answer 200, giving up early when the process has exited.
wait_for_http() {
  local url="$1" pid="$2" i
  for i in $(seq 1 100); do
    curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.2
  done
  return 1
}

# Installs the Debian package that provides a command when it is missing and we are root.
require_command() {
  local command="$1" package="${2:-$1}"
  command -v "$command" >/dev/null 2>&1 && return 0
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "installing $package" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package") >/dev/null || return 1
    command -v "$command" >/dev/null 2>&1 && return 0
  fi
  echo "missing '$command' (Debian package $package)" >&2
  return 1
}

# Installs a Debian package that provides data rather than a command (dpkg -s tells whether it
# is installed) when it is missing and we are root.
require_package() {
  local package="$1"
  dpkg -s "$package" >/dev/null 2>&1 && return 0
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "installing $package" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package") >/dev/null || return 1
    dpkg -s "$package" >/dev/null 2>&1 && return 0
  fi
  echo "missing Debian package $package" >&2
  return 1
}
