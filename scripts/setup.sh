#!/usr/bin/env bash
# Installs everything the project needs on a fresh machine of this kind; a no-op when done.
# Used by `make run`, `make test` and `make bench` (and so by CI). Safe to run repeatedly.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

# Rust target for the browser build (fetches the target's std once).
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# Chromium + ChromeDriver from Debian for the browser tests (never a test tool's own download).
# ffmpeg makes the test videos the streaming tests and benchmark play.
if [ "${SEEDCAST_SKIP_BROWSER:-0}" != 1 ] && ! { command -v chromium && command -v ffmpeg; } >/dev/null; then
  say "installing Debian's chromium, chromium-driver and ffmpeg"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium chromium-driver ffmpeg >/dev/null
fi

# npm packages for interop tests (WebTorrent, bittorrent-tracker, create-torrent, ...).
# --ignore-scripts: webtorrent's preinstall hook insists on pnpm and would fail.
if [ ! -d tests/node_modules ] || [ tests/package-lock.json -nt tests/node_modules/.package-lock.json ]; then
  say "installing npm packages in tests/"
  (cd tests && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi
