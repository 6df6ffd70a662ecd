#!/usr/bin/env bash
# Builds the browser package: www/pkg/seedcast.js + seedcast_bg.wasm + seedcast.d.ts.
#   scripts/build-wasm.sh            release build (what the app and the tests use)
#   PROFILE=debug scripts/build-wasm.sh
# Needs the wasm32 target and wasm-bindgen-cli of exactly the version pinned in
# crate/Cargo.toml; both are installed on first use. wasm-opt is deliberately not run:
# Debian's binaryen produces modules that fail to instantiate in Chromium.
set -euo pipefail

cd "$(dirname "$0")/.."

# Settings live in wasm-pack.toml (one `key = "value"` per line).
setting() {
  local value
  value=$(sed -n "s/^$1 *= *\"\(.*\)\"/\1/p" wasm-pack.toml | head -1)
  [ -n "$value" ] || { echo "error: wasm-pack.toml has no '$1'" >&2; exit 1; }
  printf '%s' "$value"
}
WASM_BINDGEN_VERSION=$(setting version)
OUT_DIR=$(setting out_dir)
OUT_NAME=$(setting out_name)
JS_TARGET=$(setting target)
PROFILE=${PROFILE:-$(setting profile)}
if [ "$(setting enabled)" != false ]; then
  echo "error: wasm-opt is not supported (see the [wasm-opt] note in wasm-pack.toml)" >&2
  exit 1
fi
if ! grep -q "^wasm-bindgen = \"=$WASM_BINDGEN_VERSION\"" crate/Cargo.toml; then
  echo "error: crate/Cargo.toml must pin wasm-bindgen = \"=$WASM_BINDGEN_VERSION\" (wasm-pack.toml)" >&2
  exit 1
fi

rustup target add wasm32-unknown-unknown >/dev/null 2>&1 || true
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
  echo "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 5 minutes)..." >&2
  # No --locked: a pinned dependency of its lock file is missing from the registry mirror.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi

profile_flag=()
[ "$PROFILE" = release ] && profile_flag=(--release)
cargo build -p seedcast --lib --target wasm32-unknown-unknown "${profile_flag[@]}"

target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
wasm-bindgen --target "$JS_TARGET" --out-dir "$OUT_DIR" --out-name "$OUT_NAME" \
  "$target_dir/wasm32-unknown-unknown/$PROFILE/seedcast.wasm"
ls -l "$OUT_DIR"

# wasm-bindgen puts the crate's JS snippets under snippets/seedcast-<hash>/; give them a fixed
# path so pages can preload them (embed.html) instead of discovering them one level late.
hashed=("$OUT_DIR"/snippets/seedcast-*)
if [ "${#hashed[@]}" -ne 1 ] || [ ! -d "${hashed[0]}" ]; then
  echo "error: expected exactly one $OUT_DIR/snippets/seedcast-<hash> directory" >&2
  exit 1
fi
rm -rf "$OUT_DIR/snippets/seedcast"
mv "${hashed[0]}" "$OUT_DIR/snippets/seedcast"
# Only the import statements: the wasm's own import names keep the hash (the keys of its imports object).
sed -i "/^import /s#snippets/$(basename "${hashed[0]}")/#snippets/seedcast/#" "$OUT_DIR/$OUT_NAME.js"
if grep -q '^import .*snippets/seedcast-' "$OUT_DIR/$OUT_NAME.js"; then
  echo "error: $OUT_NAME.js still imports from the hashed snippets directory" >&2
  exit 1
fi

# The embed page's bundle includes the glue just generated.
node scripts/build-embed.mjs
