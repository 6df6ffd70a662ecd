#!/usr/bin/env bash
# Builds the browser package: www/pkg/seedcast.js + seedcast_bg.wasm + seedcast.d.ts.
#   scripts/build-wasm.sh            release build (what the app and the tests use)
#   PROFILE=debug scripts/build-wasm.sh
# Needs the wasm32 target and wasm-bindgen-cli of exactly the version pinned in
# crate/Cargo.toml; both are installed on first use. wasm-opt is deliberately not run:
# Debian's binaryen produces modules that fail to instantiate in Chromium.
set -euo pipefail

cd "$(dirname "$0")/.."
WASM_BINDGEN_VERSION=0.2.130
PROFILE=${PROFILE:-release}

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
wasm-bindgen --target web --out-dir www/pkg --out-name seedcast \
  "$target_dir/wasm32-unknown-unknown/$PROFILE/seedcast.wasm"
ls -l www/pkg
