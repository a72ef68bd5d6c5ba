#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what it needs (Debian packages included),
# builds, then lint, format check, type check, and every test with coverage gates.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
# The tests read upstream samples (evidence, OPA cases) from ../shared beside the clone, as CI
# lays it out, or from $COCOON_SHARED_DIR; without them hundreds of tests would fail one by one.
shared="${COCOON_SHARED_DIR:-$(cd .. && pwd)/shared}"
if [ ! -d "$shared/evidence" ] || [ ! -d "$shared/opa-cases" ]; then
  echo "test.sh: upstream samples not found in $shared (need evidence/ and opa-cases/)." >&2
  echo "  Clone next to the shared/ folder, or set COCOON_SHARED_DIR=/path/to/shared." >&2
  exit 2
fi
bash scripts/setup.sh
echo "== lint";       npx eslint .
echo "== format";     npx prettier --check . >/dev/null
echo "prettier: ok"
echo "== typecheck";  npx tsc -p tsconfig.json --noEmit
echo "== tests";      node scripts/run-tests.mjs --coverage
echo "test.sh: finished in $(( $(date +%s) - start ))s"
