#!/usr/bin/env bash
# Load benchmark of complete OpenID4VCI pre-authorized flows (create, token, nonce, credential)
# on 127.0.0.1 with SQLite: maximum flows a second, then credential endpoint latency at a fixed
# 1,000 flows a second. Usage: benches/load/flows.sh
# INTYG_BINARY runs another build of intyg (a peer, such as an earlier commit) with the same driver.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --quiet --bin intyg
cargo bench --quiet --no-run --bench oid4vci_flows
driver=$(ls -t target/release/deps/oid4vci_flows-* | grep -v '\.d$' | head -1)
binary=${INTYG_BINARY:-target/release/intyg}
port=18091
work=$(mktemp -d)
export INTYG_DATA_DIR=$work INTYG_LOG=warn INTYG_DATABASE="sqlite://$work/intyg.db"

FLOWS_API_KEY=$($binary clients add load --types personbevis 2>/dev/null)
export FLOWS_API_KEY FLOWS_URL=http://127.0.0.1:$port
$binary serve --listen 127.0.0.1:$port 2>"$work/serve.log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 50); do curl -sf http://127.0.0.1:$port/health >/dev/null && break; sleep 0.1; done

echo "== maximum rate, 32 concurrent flows, 20 s"
FLOWS_SECONDS=20 FLOWS_WORKERS=32 "$driver"

echo "== fixed 1,000 flows a second, 64 workers, 20 s"
FLOWS_SECONDS=20 FLOWS_WORKERS=64 FLOWS_RATE=1000 "$driver"
