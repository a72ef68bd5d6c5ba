#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what it needs (Debian packages included),
# builds, then lint, format check, type check, and every test with coverage gates.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bash scripts/setup.sh
echo "== lint";       npx eslint .
echo "== format";     npx prettier --check . >/dev/null
echo "prettier: ok"
echo "== typecheck";  npx tsc -p tsconfig.json --noEmit
echo "== tests";      node scripts/run-tests.mjs --coverage
echo "test.sh: finished in $(( $(date +%s) - start ))s"
