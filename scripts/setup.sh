#!/usr/bin/env bash
# One-time set-up on a fresh machine: Debian packages, npm dependencies, the build
# (TypeScript to dist/ and the AF_VSOCK addon). Afterwards ./bin/cocoon works.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
npm ci --no-fund --no-audit --loglevel=error
npm run --silent build
node scripts/build-addon.mjs
echo "setup: done; try ./bin/cocoon --help"
