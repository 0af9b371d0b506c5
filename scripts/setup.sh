#!/usr/bin/env bash
# Gets a checkout ready to run: Debian packages, node_modules, the compiled Lua.
#   scripts/setup.sh [runtime|test|bench]   (npm start: runtime; npm test: test)
# In test mode a failed build does not stop here: it is recorded in build/BUILD_FAILED and
# scripts/test-all.mjs reports it as a failed layer, so `npm test` still ends with its
# "N passed, N failed" line.
set -euo pipefail

mode="${1:-test}"
case "$mode" in
  runtime|test|bench) ;;
  *) echo "usage: $0 [runtime|test|bench]" >&2; exit 2 ;;
esac
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bash scripts/install-deps.sh "$mode"

# npm ci writes node_modules/.package-lock.json: older than package-lock.json means stale.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi

rm -f build/BUILD_FAILED
if ! npm run --silent build; then
  if [ "$mode" = test ]; then
    mkdir -p build
    echo "npm run build failed" >build/BUILD_FAILED
    echo "setup: the build failed; the tests run anyway and count it as a failure" >&2
    exit 0
  fi
  echo "setup: the build failed" >&2
  exit 1
fi
