#!/usr/bin/env bash
# Refresh the JavaScript the browser tests inject into pages (axe-core for accessibility checks).
# The version is pinned in deploy/dev/js/package.json and its lock file (with the integrity
# hash npm verifies); the result, tests/browser/vendor/, is committed, so running the tests needs
# neither Node nor the network. To upgrade: bump the pin with
#   npm install --prefix deploy/dev/js --save-dev --save-exact axe-core@<version>
# then run this script and commit both the manifest and tests/browser/vendor/.
#   bash deploy/dev/vendor-js.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

JS_DIR=deploy/dev/js
VENDOR=tests/browser/vendor

command -v npm >/dev/null 2>&1 || { echo "npm is needed: apt-get install npm" >&2; exit 1; }
# `npm ci` installs exactly the lock file and fails if the manifest and the lock disagree;
# --ignore-scripts: nothing from the registry runs on this machine.
npm ci --prefix "$JS_DIR" --ignore-scripts --no-audit --no-fund --loglevel=error

pinned=$(node -p "require('./$JS_DIR/package.json').devDependencies['axe-core']")
installed=$(node -p "require('./$JS_DIR/node_modules/axe-core/package.json').version")
if [ "$pinned" != "$installed" ]; then
  echo "axe-core: pinned $pinned but installed $installed" >&2
  exit 1
fi

mkdir -p "$VENDOR"
cp "$JS_DIR/node_modules/axe-core/axe.min.js" "$VENDOR/axe.min.js"
cp "$JS_DIR/node_modules/axe-core/LICENSE" "$VENDOR/axe-core.LICENSE"
echo "$installed" > "$VENDOR/axe-core.VERSION"
(cd "$VENDOR" && sha256sum axe.min.js > axe.min.js.sha256)
echo "Vendored axe-core $installed into $VENDOR/"
