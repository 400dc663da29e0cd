#!/usr/bin/env bash
# The main job: install, then run labline's end-to-end example in a scratch store.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export LABLINE_HOME=${LABLINE_HOME:-$PWD/.labline}
.venv/bin/python examples/quickstart.py
