#!/usr/bin/env bash
# demo/web/install.sh DEST: the demo web service, ready to run in DEST
# (server.js, public/, and its one npm dependency, pg, as package-lock.json
# pins it; npm ci, no audit, no funding messages, bounded in time). Used by
# make demo-web (test/demo-web.sh) and the browser suite (test/e2e/75_web_browser.sh).
set -euo pipefail
src=$(cd "$(dirname "$0")" && pwd)
dest=${1:?usage: demo/web/install.sh DEST}
command -v node >/dev/null && command -v npm >/dev/null || {
	echo "demo-web: node and npm are needed (test/deps.sh installs them)" >&2
	exit 1
}
mkdir -p "$dest"
cp -r "$src/server.js" "$src/package.json" "$src/package-lock.json" "$src/public" "$dest/"
(cd "$dest" && timeout 300 npm ci --omit=dev --no-audit --no-fund --loglevel=error >"$dest/npm.log" 2>&1) || {
	sed 's/^/demo-web: npm: /' "$dest/npm.log" >&2
	exit 1
}
