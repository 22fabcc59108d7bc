#!/usr/bin/env bash
# Builds a release of the edge agent for the device architectures (docs/agent-install.md):
#
#   deployment/scripts/build-release.sh [--version V] [--arch x64|arm64]... [--out DIR] [--no-scorer-image]
#
# Into DIR (default artifacts/release/<version>) it writes, per architecture (both unless --arch
# names some):
#   edgeplatform-agent-<version>-linux-<arch>.tar.gz   the agent published self-contained (no .NET
#       on the device), its systemd unit, an agent.env sample and its build measurement, all under
#       one folder edgeplatform-agent-<version>-linux-<arch>/
# and for the whole release:
#   agent-builds.json   the build measurement of each architecture (edgectl attestation measure),
#       the file an operator drops into the control plane's Attestation:AllowedAgentBuildsDirectory
#   edgeplatform-scorer-<version>.oci.tar   the scorer image for every architecture, one OCI image
#       layout with an index over the platforms (deployment/scripts/build-scorer-image.sh), when
#       that script is present and --no-scorer-image is not given
#   SHA256SUMS          sha256sum's list of every file above
#
# The version defaults to <Version> of Directory.Build.props. Builds go to DIR/.build, away from
# the source tree's bin/ and obj/, so a release never picks up a developer's build and leaves it
# alone. The measurement comes from edgectl: EDGECTL names a command that runs it (for example
# "dotnet exec cloud/EdgePlatform.Cli/bin/Debug/net10.0/edgectl.dll"); without it edgectl is
# built into DIR/.build first.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
version=""
out=""
scorer_image=1
archs=()

usage() {
  sed -n '2,4p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --version) version="${2:?--version needs a value}"; shift 2 ;;
    --arch)
      case "${2:-}" in
        x64|arm64) archs+=("$2") ;;
        *) echo "--arch takes x64 or arm64, not '${2:-}'" >&2; exit 2 ;;
      esac
      shift 2 ;;
    --out) out="${2:?--out needs a directory}"; shift 2 ;;
    --no-scorer-image) scorer_image=0; shift ;;
    -h|--help) usage ;;
    *) echo "unknown argument '$1'" >&2; usage ;;
  esac
done

if [[ -z "$version" ]]; then
  version="$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' "$repo/Directory.Build.props" | head -1)"
  [[ -n "$version" ]] || { echo "no <Version> in Directory.Build.props; pass --version" >&2; exit 1; }
fi
[[ ${#archs[@]} -gt 0 ]] || archs=(x64 arm64)
out="${out:-$repo/artifacts/release/$version}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
build="$out/.build"
mkdir -p "$build"

# Archives carry the commit's time, not the build's, so a rebuild of the same commit differs only
# where the compiler's output does.
epoch="${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct 2>/dev/null || date +%s)}"

edgectl() {
  if [[ -z "${EDGECTL:-}" ]]; then
    echo "== building edgectl (for the build measurements)" >&2
    dotnet build "$repo/cloud/EdgePlatform.Cli" -c Release --artifacts-path "$build/edgectl" -nologo -v:q >&2
    EDGECTL="dotnet exec $(find "$build/edgectl/bin/EdgePlatform.Cli" -name edgectl.dll | head -1)"
  fi
  # EDGECTL is a command line with its own words.
  # shellcheck disable=SC2086
  $EDGECTL "$@"
}

measurements=()
files=()
for arch in "${archs[@]}"; do
  rid="linux-$arch"
  name="edgeplatform-agent-$version-$rid"
  stage="$build/stage/$name"
  echo "== $name" >&2
  rm -rf "$stage"
  mkdir -p "$stage"

  # Self-contained: a device needs no .NET of its own, and the runtime is part of what attestation
  # measures. Symbols stay, so a stack trace from the field names its lines; XML docs do not.
  dotnet publish "$repo/edge/EdgePlatform.Agent" -c Release -r "$rid" --self-contained \
    -p:PublishDocumentationFiles=false -p:Version="$version" \
    --artifacts-path "$build/publish-$rid" -o "$stage/EdgePlatform.Agent" -nologo -v:q -warnaserror >&2

  measurement="$(edgectl attestation measure "$stage/EdgePlatform.Agent" | tail -1)"
  [[ "$measurement" == sha256:* ]] || { echo "edgectl attestation measure printed '$measurement'" >&2; exit 1; }
  measurements+=("$rid $measurement")

  cp "$repo/deployment/systemd/edgeplatform-agent.service" "$stage/"
  cp "$repo/deployment/config/agent.env.example" "$stage/"
  printf '%s  %s\n' "$measurement" "$rid" >"$stage/agent-build.txt"

  # Sorted entries, fixed times and owners, gzip without a name or time: the archive depends on
  # its contents only. The modes stay: the app host must remain executable, and it is measured.
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" \
    -C "$build/stage" -cf - "$name" | gzip -n -9 >"$out/$name.tar.gz"
  files+=("$name.tar.gz")
  echo "   $(du -sh "$stage/EdgePlatform.Agent" | cut -f1) published, $(du -h "$out/$name.tar.gz" | cut -f1) packed, build $measurement" >&2
done

# What the control plane allows (Attestation:AllowedAgentBuildsDirectory): every build of this release.
{
  printf '{\n  "version": "%s",\n  "builds": [\n' "$version"
  for i in "${!measurements[@]}"; do
    read -r rid measurement <<<"${measurements[$i]}"
    separator=","
    [[ $i -eq $((${#measurements[@]} - 1)) ]] && separator=""
    printf '    { "runtime": "%s", "agentBuild": "%s" }%s\n' "$rid" "$measurement" "$separator"
  done
  printf '  ]\n}\n'
} >"$out/agent-builds.json"
files+=("agent-builds.json")

if [[ $scorer_image -eq 1 ]]; then
  scorer_script="$repo/deployment/scripts/build-scorer-image.sh"
  if [[ -f "$scorer_script" ]]; then
    layout="$build/scorer-image"
    rm -rf "$layout"
    for arch in "${archs[@]}"; do
      echo "== scorer image, linux-$arch" >&2
      bash "$scorer_script" --arch "$arch" --out "$layout" >&2
    done
    tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" \
      -C "$layout" -cf "$out/edgeplatform-scorer-$version.oci.tar" .
    files+=("edgeplatform-scorer-$version.oci.tar")
  else
    echo "== scorer image skipped: $scorer_script is not in this tree" >&2
  fi
fi

(cd "$out" && sha256sum "${files[@]}" >SHA256SUMS)
echo "release $version in $out:" >&2
(cd "$out" && ls -l "${files[@]}" SHA256SUMS) >&2
