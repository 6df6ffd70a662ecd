# Seedcast — the two commands that matter:
#   make run    set up, build and serve the web app + tracker on http://127.0.0.1:8000
#   make test   set up and run every test (what CI runs)
# Others: make npm (the npm package), make docs (the API reference), make bench, make bench-swarm, make bench-browser, make bench-start, make bench-stream, make bench-memory, make bench-signal, make bench-native, make fuzz,
# make check-wasm, make deploy-tipjar.

CARGO ?= cargo
LISTEN ?= 127.0.0.1:8000
WASM_TARGET := wasm32-unknown-unknown
TARGET_DIR := $(shell $(CARGO) metadata --format-version 1 --no-deps 2>/dev/null | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')

.PHONY: setup wasm docs npm run test test-rust test-node check-wasm bench bench-swarm bench-browser bench-start bench-stream bench-memory bench-signal bench-native fuzz \
  deploy-tipjar

setup:
	@bash scripts/setup.sh

# The browser package: www/pkg/seedcast.js + seedcast_bg.wasm + seedcast.d.ts, and the embed
# page's one-file bundle www/embed.bundle.js (scripts/build-embed.mjs; after editing www/*.js
# without rebuilding the wasm: node scripts/build-embed.mjs).
# Installs wasm-bindgen-cli (pinned, ~5 minutes) the first time.
wasm: setup
	bash scripts/build-wasm.sh

# The API reference, generated from the types into www/docs/ (served at /docs/).
docs: setup wasm
	bash scripts/build-docs.sh

# The npm package: target/npm/seedcast-<version>.tgz (see www/npm/README.md).
npm: setup wasm
	bash scripts/pack-npm.sh

run: setup wasm docs
	$(CARGO) run --release -p seedcast-signal --bin seedcast-signal -- --listen $(LISTEN) --www www

test: setup test-rust check-wasm wasm docs test-node

test-rust:
	$(CARGO) test --workspace --exclude seedcast-wasm-bench

# The library must build for the browser from day one.
check-wasm:
	$(CARGO) build -p seedcast --lib --target $(WASM_TARGET)

# Interop and end-to-end tests against real npm tooling (create-torrent, parse-torrent,
# WebTorrent) and in headless Chromium. They run the debug binaries built here and www/pkg.
test-node:
	$(CARGO) build -p seedcast -p seedcast-signal --bins
	SEEDCAST_BIN=$(TARGET_DIR)/debug/seedcast SEEDCAST_SIGNAL_BIN=$(TARGET_DIR)/debug/seedcast-signal \
	  node --test --test-concurrency=1 tests/

bench: setup
	$(CARGO) bench -p seedcast --bench engine
	$(CARGO) bench -p seedcast --bench wire
	$(CARGO) build -p seedcast-wasm-bench --release --target $(WASM_TARGET)
	node scripts/bench-wasm-sha1.mjs $(TARGET_DIR)/$(WASM_TARGET)/release/seedcast_wasm_bench.wasm

# The browser benches run the release seedcast-signal, as `make run` serves the app: it relays
# both clients' signaling and serves Seedcast's page, bundle and wasm (WebTorrent's page comes
# from the benches' own Node server).
# One upload-limited seeder and several upload-limited leechers: in the session simulator
# (virtual clock, seconds; SEEDS=3), then in Chromium, Seedcast vs WebTorrent (sequential and
# rarest-first) in the same run (~5 minutes; MIB=24 LEECHERS=4 SEED_RATE LEECH_RATE REPS=2).
# Time until all are done vs the fluid bound T*.
bench-swarm: wasm
	$(CARGO) bench -p seedcast --bench swarm
	$(CARGO) build --release -p seedcast-signal
	SEEDCAST_SIGNAL_BIN=$(TARGET_DIR)/release/seedcast-signal node tests/browser/bench-swarm.mjs

# Seedcast vs WebTorrent vs the raw data channel between two pages of one Chromium: both stores,
# seeder unlimited / 2 MB/s / 500 kB/s, cold and warm clocks, ratios (~8 minutes; REPS=2 MIB=64 RATES STORES;
# BREAKDOWN=1 prints CPU per MiB by process). tests/browser/bench-file-read.mjs: what reading a File costs, by read size.
bench-browser: wasm
	$(CARGO) build --release -p seedcast-signal
	SEEDCAST_SIGNAL_BIN=$(TARGET_DIR)/release/seedcast-signal node tests/browser/bench.mjs

# How fast a magnet link starts (first peer, metadata, first piece, done), Seedcast vs WebTorrent,
# with a client made ahead and one made at add() (~2 min; REPS=5 MIB=4).
bench-start: wasm
	$(CARGO) build --release -p seedcast-signal
	SEEDCAST_SIGNAL_BIN=$(TARGET_DIR)/release/seedcast-signal node tests/browser/bench-start.mjs

# Streaming a 60 s 720p MP4: Seedcast's player vs WebTorrent's service-worker server vs plain
# HTTP, both stores, seeder unlimited / 2 MB/s / 500 kB/s; cold and warm first frame, seek, viewer
# RSS (~12 min; REPS=3 LIMITS STORES).
bench-stream: wasm
	$(CARGO) build --release -p seedcast-signal
	SEEDCAST_SIGNAL_BIN=$(TARGET_DIR)/release/seedcast-signal node tests/browser/bench-stream.mjs

# Page memory while streaming a ~1 GiB video (generated once into /tmp by ffmpeg) with
# seedcast's player vs playing it from plain HTTP (~3 min). MODE=download measures a page
# that only downloads; FORCE_GC=1 collects garbage every 250 ms (diagnostic).
bench-memory: wasm
	$(CARGO) build --release -p seedcast-signal
	SEEDCAST_SIGNAL_BIN=$(TARGET_DIR)/release/seedcast-signal node tests/browser/bench-memory.mjs

# The native peer beside the browser: browser → browser, native → browser and browser → native in one run,
# MB/s and CPU per MiB (browser process tree + native process); MIB=64 REPS=3 by default (~3 minutes).
MIB ?= 64
bench-native: wasm
	$(CARGO) build --release -p seedcast --bin seedcast
	$(CARGO) build --release -p seedcast-signal
	SEEDCAST_BIN=$(TARGET_DIR)/release/seedcast SEEDCAST_SIGNAL_BIN=$(TARGET_DIR)/release/seedcast-signal \
	  node tests/browser/bench-native.mjs $(MIB)

# seedcast-signal vs bittorrent-tracker under the same load (2-3 minutes; tune with PEERS=...,
# STEADY_RATE=..., BURST_RATE=...; see signaling/README.md).
bench-signal: setup
	bash tests/signaling/bench.sh

# Needs the nightly toolchain; installs cargo-fuzz on first use. FUZZ_SECONDS per target.
FUZZ_SECONDS ?= 60
fuzz:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz
	cd crate/fuzz && for t in bencode metainfo creator wire tip channel tracker_proto session_tracker webseed_headers; do \
	  $(CARGO) +nightly fuzz run $$t -- -max_total_time=$(FUZZ_SECONDS) || exit 1; done
	cd signaling/fuzz && for t in ws_frames tracker_request; do mkdir -p corpus/$$t && \
	  $(CARGO) +nightly fuzz run $$t corpus/$$t seeds/$$t -- -max_total_time=$(FUZZ_SECONDS) || exit 1; done

# Deploys the checked-in TipJar (crate/contracts/TipJar.json) to a real chain and prints its address last:
#   make deploy-tipjar RPC=https://rpc.bittorrentchain.io KEY_FILE=deployer.key [CHAIN_ID=199] [DRY_RUN=1]
# KEY_FILE holds a 0x-prefixed 32-byte hex private key. CHAIN_ID (default 199, BTTC mainnet; Donau is 1029) must match
# the RPC's. DRY_RUN=1 prints the estimated cost and sends nothing. The artifact is checked against a fresh compile
# first.
CHAIN_ID ?= 199
deploy-tipjar: setup
	@test -n "$(RPC)" -a -n "$(KEY_FILE)" || \
	  { echo "usage: make deploy-tipjar RPC=URL KEY_FILE=FILE [CHAIN_ID=199] [DRY_RUN=1]" >&2; exit 2; }
	node scripts/compile-tipjar.mjs --check
	node scripts/deploy-tipjar.mjs --rpc '$(RPC)' --key-file '$(KEY_FILE)' --chain-id '$(CHAIN_ID)' $(if $(DRY_RUN),--dry-run)
