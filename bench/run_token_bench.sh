#!/usr/bin/env bash
# The token and sign-in benchmark matrix behind bench/README.md, one run after the other (about 25 minutes).
#
#   bash bench/run_token_bench.sh [OUT_DIR]
#
# Every run starts its own server on a free 127.0.0.1 port and stops it; every load run lasts a fixed time.
# Results go to OUT_DIR (default: a new temporary directory) as one JSON file per run, and a summary line
# per run to OUT_DIR/summary.txt. Needs: wrk, PostgreSQL on 127.0.0.1:5432 (trust auth), a ClickHouse
# server for the two-worker runs (CANARY_BENCH_CLICKHOUSE, default below), and `npm install` done in
# bench/node_oidc_provider for the comparison.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
py=${PYTHON:-$here/../.venv/bin/python}
out=${1:-$(mktemp -d /tmp/canary-bench-XXXXXX)}
clickhouse=${CANARY_BENCH_CLICKHOUSE:-clickhouse+native://default@127.0.0.1:19000/canary_token_bench}
repeat=${REPEAT:-3}
quiet=${WAIT_QUIET:-0}
mkdir -p "$out"
echo "results in $out"

run() {
    local name=$1
    shift
    echo "== $name: $*"
    "$py" "$@" --wait-quiet "$quiet" --json-out "$out/$name.json" >"$out/$name.log" 2>&1 || {
        echo "   failed, see $out/$name.log"
        return 0
    }
    tail -n 1 "$out/$name.log" | tee -a "$out/summary.txt"
}

te="$here/token_endpoint.py"
run cc-sqlite-1w "$te" --repeat "$repeat"
run cc-sqlite-1w-noevents "$te" --no-events --repeat "$repeat"
run cc-sqlite-1w-es256 "$te" --signing-alg ES256 --repeat "$repeat"
run cc-sqlite-2w-server "$te" --analytics-url "$clickhouse" --workers 2 --repeat "$repeat"
run cc-postgres-1w "$te" --database postgres --analytics-url "$clickhouse" --repeat "$repeat"
run cc-postgres-2w "$te" --database postgres --analytics-url "$clickhouse" --workers 2 --repeat "$repeat"
run cc-postgres-2w-es256 "$te" --database postgres --analytics-url "$clickhouse" --workers 2 \
    --signing-alg ES256 --repeat "$repeat"
run cc-sqlite-1w-opaque "$te" --access-token-format opaque --repeat "$repeat"
run cc-sqlite-2w-server-opaque "$te" --analytics-url "$clickhouse" --workers 2 --access-token-format opaque \
    --repeat "$repeat"
run cc-postgres-2w-opaque "$te" --database postgres --analytics-url "$clickhouse" --workers 2 \
    --access-token-format opaque --repeat "$repeat"
run healthz-1w "$te" --path /healthz --repeat "$repeat"
run node-1w "$te" --target node --repeat "$repeat"
run node-2w "$te" --target node --workers 2 --repeat "$repeat"
run node-1w-opaque "$te" --target node --access-token-format opaque --repeat "$repeat"
run node-2w-opaque "$te" --target node --access-token-format opaque --workers 2 --repeat "$repeat"
run refresh-sqlite-1w "$te" --mode refresh
run refresh-postgres-1w "$te" --mode refresh --database postgres --analytics-url "$clickhouse"
run refresh-postgres-2w "$te" --mode refresh --database postgres --analytics-url "$clickhouse" --workers 2
run breakdown-rs256 "$te" --breakdown
run breakdown-es256 "$te" --breakdown --signing-alg ES256
run signin-sqlite-1w "$here/signin.py"
run signin-postgres-2w "$here/signin.py" --server-workers 2 --database postgres --analytics-url "$clickhouse"
echo "done: $out/summary.txt"
