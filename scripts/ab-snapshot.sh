#!/usr/bin/env bash
# Snapshots the current browser build (www/ with its pkg/ and embed bundle) into www/ab/, for
# bench-stream's AB=1: build one variant, snapshot it, build the other, then run the bench;
# "Seedcast (B)" plays and seeds with the snapshot, served by the same server under /ab/.
# www/ab/ is not part of the app (.gitignore); remove it when done.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f www/pkg/seedcast_bg.wasm ] && [ -f www/embed.bundle.js ] || { echo "error: build first (make wasm)" >&2; exit 1; }
rm -rf www/ab
mkdir -p www/ab
cp -r www/pkg www/ab/
cp www/*.html www/*.js www/*.css www/ab/
echo "snapshot in www/ab/ ($(du -sh www/ab | cut -f1))"
