#!/usr/bin/env bash
# The whole check: install, start PostgreSQL if needed, format + lint, type-check, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if command -v pg_ctlcluster >/dev/null 2>&1 && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
.venv/bin/ruff format --check src tests benchmarks
.venv/bin/ruff check src tests benchmarks
.venv/bin/mypy
# Two workers, one test file each at a time (a file's module fixtures, such as a Ray cluster or a
# Label Studio, start once): most tests wait on a server or a child process, so the two cores stay
# busy. LABLINE_TEST_WORKERS=0 runs everything in one process.
.venv/bin/python -m pytest -n "${LABLINE_TEST_WORKERS:-2}" --dist loadfile --durations=25 "$@"
