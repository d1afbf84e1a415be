#!/usr/bin/env bash
# One command for a fresh machine: install everything (Debian's Chromium, PostgreSQL, nginx and
# wapiti, the Python packages) and run the whole test suite, browser and ops tests included.
#   bash deploy/dev/test.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/../.."

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
# tests/ops: nginx in front of the gunicorn instances, and the wapiti scanner.
command -v nginx >/dev/null 2>&1 || need_apt+=(nginx)
command -v wapiti >/dev/null 2>&1 || need_apt+=(wapiti)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "Missing system packages: ${need_apt[*]}. Install them with: sudo apt-get install ${need_apt[*]}" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

python3 -m venv .venv
.venv/bin/pip install --quiet --upgrade pip >/dev/null
.venv/bin/pip install --quiet -e ".[test]"
exec .venv/bin/python -m pytest -n 2 --dist loadgroup "$@"
