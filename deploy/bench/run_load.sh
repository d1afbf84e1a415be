#!/usr/bin/env bash
# Load test (not part of the test suite): 200 users of 50 States for 5 minutes against nginx +
# two gunicorn instances + PostgreSQL on this machine: encrypted threads (read, post, mark read,
# download attachments) and browsing, with a tenant-isolation check inside (locustfile.py).
#   bash deploy/bench/run_load.sh [DURATION (default 5m)] [USERS (default 200)]
# Needs root or the postgres system user (as tests/pg_server.py) and nginx. Prints locust's
# summary (latency percentiles, failures) and writes deploy/bench/results/ (CSV + HTML).
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION="${1:-5m}"
USERS="${2:-200}"
# locust only for the benchmark: never a test or runtime dependency.
.venv/bin/python -c "import locust" 2>/dev/null || .venv/bin/pip install --quiet locust==2.47.0
WORK="$(mktemp -d /tmp/coop-load-XXXXXX)"
OUT="deploy/bench/results"
mkdir -p "$OUT"
.venv/bin/python deploy/bench/serve_stack.py "$WORK" > "$WORK/stack.log" 2>&1 &
STACK=$!
trap 'kill -TERM $STACK 2>/dev/null; wait $STACK 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 180); do
  grep -q '^READY ' "$WORK/stack.log" && break
  kill -0 $STACK 2>/dev/null || { cat "$WORK/stack.log"; exit 1; }
  sleep 1
done
URL="$(grep '^READY ' "$WORK/stack.log" | cut -d' ' -f2)"
echo "Stack ready at $URL; running $USERS users for $DURATION"
COOP_ACCOUNTS="$WORK/accounts.json" COOP_CERT="$WORK/nginx/cert.pem" \
  .venv/bin/locust -f deploy/bench/locustfile.py --headless --host "$URL" \
    -u "$USERS" -r 4 -t "$DURATION" --stop-timeout 10 \
    --csv "$OUT/load" --html "$OUT/load.html" --only-summary 2>&1 | tee "$OUT/summary.txt"
