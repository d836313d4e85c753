#!/usr/bin/env bash
# scripts/release.sh OUT_DIR: the production tree of scrypath-bot, as the Dockerfile ships it and CI
# can build it on a machine without a container registry. Compiles src/, commands/ and views/ into
# OUT_DIR/dist (tsc, no runtime TypeScript loader), stages what production runs beside it, and
# installs the production dependencies only (no dev, no optional: no tsx, no embedded Postgres, no
# Meilisearch binary, no test tools). Run it from a checkout where `npm ci` was done.
# Set NPM_CI_FLAGS (for example --prefer-offline or --offline) to choose where npm fetches from.
set -euo pipefail

if [[ $# -ne 1 || -z "$1" ]]; then
  echo "usage: scripts/release.sh OUT_DIR" >&2
  exit 2
fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mkdir -p "$1"
OUT="$(cd "$1" && pwd)"
if [[ "$OUT" == "$ROOT" ]]; then
  echo "scripts/release.sh: OUT_DIR must not be the checkout itself" >&2
  exit 2
fi
if [[ -n "$(ls -A "$OUT")" ]]; then
  echo "scripts/release.sh: $OUT is not empty; give a new or empty directory" >&2
  exit 2
fi

cd "$ROOT"
# `npm run build` (tsc -p tsconfig.build.json), straight into the release: the checkout's own dist/
# is left as it was.
npm run --silent build -- --outDir "$OUT/dist"

cp -R bin examples "$OUT/"
cp package.json package-lock.json manifest.yml "$OUT/"

cd "$OUT"
# The release runs compiled JavaScript: its `npm start` is the production bot, and the checkout's
# scripts (tsx, tests, the sandbox) have nothing to run here.
npm pkg delete scripts
npm pkg set scripts.start="node bin/scrypath-bot.js serve"
# shellcheck disable=SC2086 # NPM_CI_FLAGS is a list of flags
npm ci --omit=dev --omit=optional --no-audit --no-fund ${NPM_CI_FLAGS:-}
