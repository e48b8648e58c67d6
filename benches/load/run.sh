#!/usr/bin/env bash
# Load benchmark of POST /api/v1/certificates on 127.0.0.1: maximum creates a second (wrk), and
# latency at a fixed 2,000 creates a second (hey). Usage: benches/load/run.sh sqlite|postgres
# INTYG_BINARY runs another build of intyg (a peer, such as an earlier commit).
# The PostgreSQL run uses INTYG_TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test).
set -euo pipefail
cd "$(dirname "$0")/../.."
backend=${1:?usage: benches/load/run.sh sqlite|postgres}
binary=${INTYG_BINARY:-target/release/intyg}
port=18090
work=$(mktemp -d)
export INTYG_DATA_DIR=$work INTYG_LOG=warn
case $backend in
  sqlite) export INTYG_DATABASE="sqlite://$work/intyg.db" ;;
  postgres)
    base=${INTYG_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
    schema=load_$(date +%s)
    psql "$base" -qc "CREATE SCHEMA $schema"
    export INTYG_DATABASE="$base?options=-c%20search_path%3D$schema" ;;
  *) echo "unknown backend $backend" >&2; exit 2 ;;
esac

INTYG_API_KEY=$($binary clients add load --types personbevis 2>/dev/null)
export INTYG_API_KEY
$binary serve --listen 127.0.0.1:$port 2>"$work/serve.log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 50); do curl -sf http://127.0.0.1:$port/health >/dev/null && break; sleep 0.1; done

echo "== $backend: maximum rate, wrk 2 threads, 32 connections, 20 s"
wrk -t2 -c32 -d20s --latency -s benches/load/create.lua http://127.0.0.1:$port/api/v1/certificates

echo "== $backend: maximum rate with an Idempotency-Key on every request, wrk as above"
wrk -t2 -c32 -d20s --latency -s benches/load/create-idempotent.lua http://127.0.0.1:$port/api/v1/certificates

echo "== $backend: fixed 2,000 creates a second, hey 40 workers x 50/s, 20 s"
body=$(sed -n 's/^wrk.body = \[\[\(.*\)\]\]$/\1/p' benches/load/create.lua)
hey -z 20s -c 40 -q 50 -m POST -T application/json -H "Authorization: Bearer $INTYG_API_KEY" \
  -d "$body" http://127.0.0.1:$port/api/v1/certificates | sed -n '/Summary/,/Status code/p'
