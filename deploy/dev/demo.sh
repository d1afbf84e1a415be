#!/usr/bin/env bash
# One command for a fresh machine: install, create the SQLite database, load demo data, serve.
#   bash deploy/dev/demo.sh            (then open the URL it prints)
set -euo pipefail
cd "$(dirname "$0")/../.."
PORT="${PORT:-5000}"
export COOPERATION_DEMO=1
python3 -m venv .venv
.venv/bin/pip install --quiet --upgrade pip >/dev/null
.venv/bin/pip install --quiet -e .
.venv/bin/flask --app cooperation db upgrade
.venv/bin/flask --app cooperation seed-demo
echo
echo "Serving the demo at  http://127.0.0.1:${PORT}/   (Ctrl-C to stop)"
echo "Invitation and other mails are printed in this terminal."
# gunicorn (the production server) with two workers; sessions and limits live in the database.
exec .venv/bin/gunicorn --workers 2 --bind "127.0.0.1:${PORT}" "cooperation:create_app()"
