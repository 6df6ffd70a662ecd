#!/usr/bin/env bash
# Builds the npm package `seedcast` into target/npm/seedcast-<version>.tgz and prints its path.
#   scripts/pack-npm.sh          (after scripts/build-wasm.sh; `make npm` runs both)
# The package is the browser module as the app serves it (www/), plus its manifest and README
# from www/npm/, at the version of crate/Cargo.toml. No build step rewrites the modules: a
# bundler or a plain static server uses the same files (wasm found relative to seedcast.js).
set -euo pipefail

cd "$(dirname "$0")/.."
[ -f www/pkg/seedcast_bg.wasm ] || { echo "error: www/pkg is missing: run scripts/build-wasm.sh first" >&2; exit 1; }

VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' crate/Cargo.toml | head -1)
OUT=target/npm
STAGE=$OUT/seedcast
rm -rf "$STAGE"
mkdir -p "$STAGE/pkg"

# The client and what it imports; the player element and what it imports; the worker.
MODULES=(seedcast.js seedcast.d.ts health.js stream-host.js sw.js player.js player.d.ts chain.js creator-ui.js)
for f in "${MODULES[@]}"; do cp "www/$f" "$STAGE/"; done
cp www/pkg/seedcast.js www/pkg/seedcast.d.ts www/pkg/seedcast_bg.wasm www/pkg/seedcast_bg.wasm.d.ts "$STAGE/pkg/"
cp -r www/pkg/snippets "$STAGE/pkg/"
cp www/npm/README.md "$STAGE/README.md"
sed "s/\"version\": \"[^\"]*\"/\"version\": \"$VERSION\"/" www/npm/package.json > "$STAGE/package.json"

# Every relative import of a shipped module must be shipped too.
missing=$(cd "$STAGE" && grep -ho "from '\./[^']*'" ./*.js | sed "s/from '\.\/\(.*\)'/\1/" | sort -u | while read -r m; do [ -e "$m" ] || echo "$m"; done)
[ -z "$missing" ] || { echo "error: the package imports files it does not ship: $missing" >&2; exit 1; }

(cd "$OUT" && npm pack ./seedcast --silent --pack-destination . > /dev/null)
echo "$PWD/$OUT/seedcast-$VERSION.tgz"
