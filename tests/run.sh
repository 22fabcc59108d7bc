#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs and starts what the tests need on
# 127.0.0.1, builds with warnings as errors, runs every test project, stops what it started,
# and ends with one line of totals:  Tests: N passed, N failed, N skipped
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
results="$(mktemp -d "${TMPDIR:-/tmp}/edgeplatform-tests-XXXXXX")"
export EDGEPLATFORM_TEST_SERVICES="$results/services"
# What tests keep for people to look at (the console's screenshots), kept with the results.
export EDGEPLATFORM_TEST_ARTIFACTS="$results/artifacts"

# shellcheck source=deployment/scripts/test-services.sh
source "$repo/deployment/scripts/test-services.sh"
trap 'services_stop' EXIT

services_start || { echo "could not start the services the tests need" >&2; echo "Tests: 0 passed, 1 failed, 0 skipped"; exit 1; }

echo "== build"
if ! dotnet build EdgePlatform.sln -c Debug -warnaserror -nologo -v:q; then
  echo "build failed" >&2
  echo "Tests: 0 passed, 1 failed, 0 skipped"
  exit 1
fi

# The scorer base image the container tests containerize models onto: published and written
# once for the suite (a minute or two), from this machine's files only.
echo "== scorer base image (linux/amd64)"
scorer_base="$EDGEPLATFORM_TEST_SERVICES/scorer-base"
if EDGECTL="dotnet $repo/cloud/EdgePlatform.Cli/bin/Debug/net10.0/edgectl.dll" \
  deployment/scripts/build-scorer-image.sh --arch x64 --out "$scorer_base" >"$EDGEPLATFORM_TEST_SERVICES/scorer-base.log" 2>&1; then
  echo "EDGEPLATFORM_TEST_SCORER_BASE=$scorer_base" >>"$EDGEPLATFORM_TEST_SERVICES/services.env"
  export EDGEPLATFORM_TEST_SCORER_BASE="$scorer_base"
else
  echo "the scorer base image did not build (see $EDGEPLATFORM_TEST_SERVICES/scorer-base.log); the container tests fail" >&2
fi

echo "== test"
dotnet test EdgePlatform.sln -c Debug --no-build --nologo \
  --logger "trx" --logger "console;verbosity=normal" \
  --results-directory "$results/trx" "$@"
test_exit=$?

# The end-to-end suites that run on a control plane of their own fixture, again in the
# scale-out profile: PostgreSQL, Azurite and mosquitto instead of the embedded parts
# (tests/EdgePlatform.EndToEnd.Tests/ServerProfile.cs). EDGEPLATFORM_TEST_PROFILES=embedded skips it.
# The tests that tamper with a blob in the server's data directory run in the embedded pass only:
# in this profile the blobs are in the Azurite container.
if [[ "${EDGEPLATFORM_TEST_PROFILES:-embedded,scale-out}" == *scale-out* ]]; then
  echo "== test: end-to-end suites in the scale-out profile"
  scale_out_suites="WalkingSkeletonTests DeviceAttestationTests ExperimentTests ImportedModelTests SweepTaskTests FleetRolloutTests FleetQualityGateTests"
  filter=$(printf 'FullyQualifiedName~EdgePlatform.EndToEnd.Tests.%s|' $scale_out_suites)
  EDGEPLATFORM_TEST_PROFILE=scale-out dotnet test tests/EdgePlatform.EndToEnd.Tests -c Debug --no-build --nologo \
    --filter "(${filter%|})&FullyQualifiedName!~Tampered" \
    --logger "trx;LogFileName=end-to-end-scale-out.trx" --logger "console;verbosity=normal" \
    --results-directory "$results/trx" || test_exit=1
fi

passed=0; failed=0; skipped=0
shopt -s nullglob
trx_files=("$results"/trx/*.trx)
for trx in "${trx_files[@]}"; do
  counters="$(grep -o '<Counters [^>]*>' "$trx" | head -1)"
  value() { sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p" <<<"$counters"; }
  total=$(value total); executed=$(value executed); p=$(value passed); f=$(value failed); e=$(value error)
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0} + ${e:-0}))
  skipped=$((skipped + ${total:-0} - ${executed:-0}))
done

# A test host that crashed writes no report: count the project as a failure.
projects=$(find tests -name '*.Tests.csproj' | wc -l)
if (( ${#trx_files[@]} < projects )); then
  echo "only ${#trx_files[@]} of $projects test projects reported results" >&2
  failed=$((failed + projects - ${#trx_files[@]}))
fi
if (( test_exit != 0 && failed == 0 )); then
  failed=1
fi

# Name what failed, and why, where the last lines of the log are all that is read.
if (( failed > 0 )) && command -v python3 >/dev/null; then
  python3 "$repo/tests/failed-tests.py" "${trx_files[@]}"
fi

echo "reports and artifacts (console screenshots) kept in $results"
echo "Tests: $passed passed, $failed failed, $skipped skipped"
(( failed == 0 ))
