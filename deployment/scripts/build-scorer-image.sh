#!/usr/bin/env bash
# The scorer base image: the agent published self-contained (its `scorer` mode serves the Open
# Inference Protocol v2 over one model), the shared libraries it loads, a non-root user and /tmp,
# written as one platform of an OCI image layout. Nothing is pulled: every file comes from this
# machine, so it builds where there is no internet. Run once per architecture into the same
# --out and the layout's index lists both platforms.
#
#   deployment/scripts/build-scorer-image.sh --arch x64|arm64 --out DIR
#
# Needs the .NET SDK (and, for linux-<arch>, its runtime packs in the NuGet cache or a feed),
# readelf (binutils), and the target's libraries: glibc, libstdc++, libgcc, OpenSSL 3 and ICU.
# On Debian for arm64: dpkg --add-architecture arm64 && apt-get install libc6:arm64
# libstdc++6:arm64 libgcc-s1:arm64 libssl3:arm64 libicu72:arm64.
# EDGECTL names the edgectl to run (default: dotnet run --project cloud/EdgePlatform.Cli --).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
arch="" out=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --arch) arch="${2:-}"; shift 2 ;;
    --out) out="${2:-}"; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "build-scorer-image: unknown argument '$1' (expected --arch x64|arm64 --out DIR)" >&2; exit 2 ;;
  esac
done

case "$arch" in
  x64) rid=linux-x64; platform=linux/amd64; triplet=x86_64-linux-gnu; interpreter=/lib64/ld-linux-x86-64.so.2; debian_arch=amd64 ;;
  arm64) rid=linux-arm64; platform=linux/arm64; triplet=aarch64-linux-gnu; interpreter=/lib/ld-linux-aarch64.so.1; debian_arch=arm64 ;;
  *) echo "build-scorer-image: --arch must be x64 or arm64" >&2; exit 2 ;;
esac
[[ -n "$out" ]] || { echo "build-scorer-image: --out DIR is required" >&2; exit 2; }
command -v readelf >/dev/null || { echo "build-scorer-image: readelf is missing (Debian package binutils)" >&2; exit 1; }

lib_dirs=("/lib/$triplet" "/usr/lib/$triplet")
# Loaded with dlopen, so no NEEDED entry names them: the OpenSSL shim and globalization.
dlopened=(libssl.so.3 libcrypto.so.3 libicuuc.so.72 libicui18n.so.72 libicudata.so.72)
# Native parts of the publish the scorer never loads: LTTng tracing and the debugger's.
unused=(libcoreclrtraceptprovider.so libmscordaccore.so libmscordbi.so createdump)

work="$(mktemp -d "${TMPDIR:-/tmp}/edgeplatform-scorer-image-XXXXXX")"
trap 'rm -rf "$work"' EXIT
publish="$work/publish" rootfs="$work/rootfs"

echo "== publish the agent for $rid (self-contained)" >&2
dotnet publish "$repo/edge/EdgePlatform.Agent" -c Release -r "$rid" --self-contained \
  -p:DebugType=none -o "$publish" -nologo -v:q >&2 || {
  echo "build-scorer-image: publish for $rid failed (see above); where restore failed, it needs the runtime packs Microsoft.NETCore.App.Runtime.$rid and Microsoft.AspNetCore.App.Runtime.$rid (NuGet cache or a reachable feed)" >&2
  exit 1
}
for name in "${unused[@]}"; do rm -f "$publish/$name"; done

install -d -m 0755 "$rootfs/opt/edgeplatform" "$rootfs/etc" "$rootfs/usr/lib/$triplet" "$rootfs/$(dirname "$interpreter")"
cp -a "$publish" "$rootfs/opt/edgeplatform/scorer"
chmod -R u=rwX,go=rX "$rootfs/opt/edgeplatform/scorer"
install -d -m 1777 "$rootfs/tmp"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:scorer:/tmp:/sbin/nologin\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$rootfs/etc/group"
chmod 0644 "$rootfs/etc/passwd" "$rootfs/etc/group"

resolve() {
  local soname="$1" dir
  for dir in "${lib_dirs[@]}"; do
    [[ -e "$dir/$soname" ]] && { echo "$dir/$soname"; return 0; }
  done
  return 1
}

# The closure of NEEDED entries, read with readelf so it works for a foreign architecture too.
echo "== collect the shared libraries for $platform" >&2
declare -A copied=()
queue=("${dlopened[@]}")
while IFS= read -r -d '' elf; do
  readelf -h "$elf" >/dev/null 2>&1 || continue
  while read -r soname; do queue+=("$soname"); done < <(readelf -d "$elf" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
done < <(find "$publish" -type f \( -name '*.so' -o -name EdgePlatform.Agent \) -print0)
missing=()
while [[ ${#queue[@]} -gt 0 ]]; do
  soname="${queue[0]}"; queue=("${queue[@]:1}")
  [[ -n "${copied[$soname]:-}" || -e "$publish/$soname" ]] && continue
  copied[$soname]=1
  if ! path="$(resolve "$soname")"; then
    missing+=("$soname")
    continue
  fi
  cp -L "$path" "$rootfs/usr/lib/$triplet/$soname"
  chmod 0644 "$rootfs/usr/lib/$triplet/$soname"
  while read -r needed; do queue+=("$needed"); done < <(readelf -d "$path" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
done
interpreter_source="$(resolve "$(basename "$interpreter")" || true)"
[[ -n "$interpreter_source" ]] || missing+=("$(basename "$interpreter") (the dynamic loader)")
# The loader names itself as NEEDED of libc; it lives at the path in the executables' PT_INTERP.
rm -f "$rootfs/usr/lib/$triplet/$(basename "$interpreter")"
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "build-scorer-image: these $debian_arch libraries are not on this machine (looked in ${lib_dirs[*]}): ${missing[*]}" >&2
  echo "  on Debian: dpkg --add-architecture $debian_arch && apt-get update && apt-get install libc6:$debian_arch libstdc++6:$debian_arch libgcc-s1:$debian_arch libssl3:$debian_arch libicu72:$debian_arch" >&2
  exit 1
fi
cp -L "$interpreter_source" "$rootfs$interpreter"
chmod 0755 "$rootfs$interpreter"

echo "== write $platform into the image layout $out" >&2
if [[ -n "${EDGECTL:-}" ]]; then
  read -r -a edgectl <<<"$EDGECTL"
else
  edgectl=(dotnet run --project "$repo/cloud/EdgePlatform.Cli" --)
fi
"${edgectl[@]}" image base --rootfs "$rootfs" --platform "$platform" --out "$out"
