#!/usr/bin/env bash
# Builds the API reference from the package's types (www/seedcast.d.ts, www/player.d.ts and the
# generated www/pkg/seedcast.d.ts) into www/docs/, which the app serves at /docs/. TypeDoc and
# TypeScript come from tests/node_modules (scripts/setup.sh). Fails if a public class, method
# or function has no doc comment.
set -euo pipefail

cd "$(dirname "$0")/.."
[ -f www/pkg/seedcast.d.ts ] || { echo "error: www/pkg is missing: run scripts/build-wasm.sh first" >&2; exit 1; }
TYPEDOC=tests/node_modules/.bin/typedoc
[ -x "$TYPEDOC" ] || { echo "error: $TYPEDOC is missing: run scripts/setup.sh first" >&2; exit 1; }

rm -rf www/docs
"$TYPEDOC" --options www/npm/typedoc.json
# The app's Content-Security-Policy allows no inline script. TypeDoc's one inline script only
# picks the saved colour theme before its main.js loads (which does the same); drop it.
find www/docs -name '*.html' -exec sed -i 's|<script>document\.documentElement\.dataset\.theme[^<]*</script>||' {} +
if grep -rlq '<script>' www/docs; then
  echo "error: www/docs has inline scripts the app's CSP would refuse" >&2
  exit 1
fi
echo "API reference: www/docs/index.html (served at /docs/)"
