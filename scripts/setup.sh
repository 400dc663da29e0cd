#!/usr/bin/env bash
# Create .venv and install labline with everything its tests and benchmarks use.
# Idempotent and quick when nothing changed (keyed on pyproject.toml).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.labline-installed
want=$(sha256sum pyproject.toml | cut -c1-64)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  # torch 2.13.0's CPU wheel is on this machine's disk; naming the version keeps pip from
  # fetching a multi-GB CUDA build. It is optional: the PyTorch adapter's tests need it.
  .venv/bin/python -m pip install -q 'torch==2.13.0' || echo "note: torch not installed; PyTorch tests will be skipped" >&2
  .venv/bin/python -m pip install -q -e '.[dev]'
  echo "$want" > "$stamp"
fi
