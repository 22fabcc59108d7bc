#!/usr/bin/env bash
# Services the test suite needs, installed (apt-get, when root and missing) and started on
# 127.0.0.1 by tests/run.sh. Each service writes its address to $EDGEPLATFORM_TEST_SERVICES
# for the test fixtures; under CI=true a fixture fails when its service is absent.
#
# The walking skeleton needs no external service: the control plane embeds its MQTT broker
# and OCI registry, and the end-to-end tests start the server and agents as processes.
# External brokers and registries are added here as the suites grow.

services_start() {
  mkdir -p "$EDGEPLATFORM_TEST_SERVICES"
  require_command dotnet || return 1
}

services_stop() {
  if [[ -d "${EDGEPLATFORM_TEST_SERVICES:-}" ]]; then
    for pidfile in "$EDGEPLATFORM_TEST_SERVICES"/*.pid; do
      [[ -f "$pidfile" ]] && kill "$(cat "$pidfile")" 2>/dev/null
    done
  fi
  return 0
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
