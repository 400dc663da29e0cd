#!/usr/bin/env bash
# The main job: install, then run labline's end-to-end demo (its own store in ./.labline-demo).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/labline demo "$@"
