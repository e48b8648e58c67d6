#!/usr/bin/env bash
# Apple Wallet passes a second on one core: intyg (criterion, `cargo bench --bench passes`) and
# passkit-generator building the same pass, one after the other in one run.
#
# Usage: benches/passkit/run.sh [COUNT]   (COUNT passkit-generator passes, 1000 by default)
# Needs: cargo, node and npm, taskset (util-linux), unzip.
set -euo pipefail
cd "$(dirname "$0")/../.."
count="${1:-1000}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

npm ci --prefix benches/passkit --no-audit --no-fund --silent
cargo build --release --quiet

# The model: a personbevis pass issued by intyg, unzipped.
./target/release/intyg issue --type personbevis --format pkpass \
  --in examples/personbevis.jsonl --out "$work" >/dev/null 2>&1
mkdir "$work/model"
unzip -q "$work/000001.pkpass" -d "$work/model"

echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "# intyg (cargo bench --bench passes), pinned to core 0"
taskset -c 0 cargo bench --quiet --bench passes 2>/dev/null | grep -E '^(cms_sign_manifest|pkpass_build|pkpass_issue)|time:'
echo "# passkit-generator $(node -p 'require("./benches/passkit/node_modules/passkit-generator/package.json").version'), node $(node --version), pinned to core 0"
taskset -c 0 node benches/passkit/build-passes.mjs "$work/model" keys-example "$count"
