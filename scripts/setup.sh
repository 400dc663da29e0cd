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
# pip on these machines warns about a configured local index folder that does not exist; hide
# only that line so real errors stay visible
quiet_pip() { .venv/bin/python -m pip "$@" 2> >(grep -v "^WARNING: Location 'file://" >&2); }
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  quiet_pip install -q --upgrade pip >/dev/null
  # torch 2.13.0's CPU wheel is on this machine's disk; naming the version keeps pip from
  # fetching a multi-GB CUDA build. It is optional: the PyTorch adapter's tests need it.
  quiet_pip install -q 'torch==2.13.0' || echo "note: torch not installed; PyTorch tests will be skipped" >&2
  quiet_pip install -q -e '.[dev]'
  echo "$want" > "$stamp"
fi
# The serving benchmark drives every server with wrk (Debian's package); optional elsewhere.
if ! command -v wrk >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null 2>&1 \
      || echo "note: wrk not installed; bench_serving.py falls back to a Python load generator" >&2
  else
    echo "note: wrk not installed; bench_serving.py falls back to a Python load generator" >&2
  fi
fi
# promtool and prometheus (Debian's prometheus package): the alert-rule tests run
# `promtool check/test rules` and one test scrapes `labline serve` with a real Prometheus.
if ! command -v promtool >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && apt-get install -y -qq prometheus) >/dev/null 2>&1 \
      || echo "note: prometheus not installed; the alert-rule tests will be skipped" >&2
  else
    echo "note: prometheus not installed; the alert-rule tests will be skipped" >&2
  fi
fi
# Debian's Chromium and DejaVu fonts: the web UI's browser tests drive them with Playwright
# (Playwright's own browser download cannot work on these machines, and is never used).
if [ ! -x /usr/bin/chromium ] || [ ! -d /usr/share/fonts/truetype/dejavu ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && apt-get install -y -qq chromium fonts-dejavu) >/dev/null 2>&1 \
      || echo "note: chromium not installed; the web UI's browser tests cannot run" >&2
  else
    echo "note: chromium not installed; the web UI's browser tests cannot run" >&2
  fi
fi
# MLServer, the serving benchmark's peer, in a venv of its own (its pins differ from ours);
# only on request (BENCH_PEERS=1 bash scripts/setup.sh), as the tests do not need it.
if [ "${BENCH_PEERS:-0}" = 1 ] && [ ! -x .mlserver-venv/bin/mlserver ]; then
  sklearn_version=$(.venv/bin/python -c 'import sklearn; print(sklearn.__version__)')
  if ! { "$PY" -m venv .mlserver-venv \
      && .mlserver-venv/bin/python -m pip install -q mlserver mlserver-sklearn \
        "scikit-learn==$sklearn_version"; } 2> >(grep -v "^WARNING: Location 'file://" >&2); then
    echo "note: MLServer not installed; bench_serving.py runs without it" >&2
  fi
fi
# MLflow's full package (it ships the web UI that mlflow-skinny lacks), the web UI benchmark's
# reference, in a venv of its own so its server's dependencies stay out of .venv.
if [ "${BENCH_PEERS:-0}" = 1 ] && [ ! -x .venvs/mlflow-ui/bin/mlflow ]; then
  mlflow_version=$(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("mlflow-skinny"))')
  if ! { "$PY" -m venv .venvs/mlflow-ui \
      && { .venvs/mlflow-ui/bin/python -m pip install -q "mlflow==$mlflow_version" 2>/dev/null \
        || .venvs/mlflow-ui/bin/python -m pip install -q mlflow; }; } \
      2> >(grep -v "^WARNING: Location 'file://" >&2); then
    echo "note: the full mlflow package not installed; bench_ui.py runs without its UI" >&2
  fi
fi
# alibi-detect, the drift benchmark's peer (TabularDrift, numpy backend: no TensorFlow or
# PyTorch), in a venv of its own: it pins numpy 1.x. Only on request, like MLServer.
if [ "${BENCH_PEERS:-0}" = 1 ] && [ ! -x .venvs/alibi-detect/bin/python ]; then
  if ! { "$PY" -m venv .venvs/alibi-detect \
      && .venvs/alibi-detect/bin/python -m pip install -q alibi-detect; } \
      2> >(grep -v "^WARNING: Location 'file://" >&2); then
    echo "note: alibi-detect not installed; bench_drift.py runs without it" >&2
  fi
fi
# Aim, a metric-ingest peer of bench_ingest.py, in a venv of its own (it pins its own fastapi,
# sqlalchemy and alembic). Only on request, like MLServer.
if [ "${BENCH_PEERS:-0}" = 1 ] && [ ! -x .venvs/aim/bin/aim ]; then
  if ! { "$PY" -m venv .venvs/aim && .venvs/aim/bin/python -m pip install -q aim; } \
      2> >(grep -v "^WARNING: Location 'file://" >&2); then
    echo "note: Aim not installed; bench_ingest.py runs without it" >&2
  fi
fi
# An mlflow 2.x client (mlflow-skinny<3) in a venv of its own: the MLflow API tests run a 2.x
# client script against labline server with it (the shared venv holds the 3.x client).
if ! .venvs/mlflow2/bin/python -c 'import mlflow, sklearn, pandas' >/dev/null 2>&1; then
  if ! { "$PY" -m venv .venvs/mlflow2 \
      && .venvs/mlflow2/bin/python -m pip install -q 'mlflow-skinny<3' 'setuptools<81' scikit-learn pandas; } \
      2> >(grep -v "^WARNING: Location 'file://" >&2); then
    echo "note: mlflow 2.x client not installed; its MLflow API test will be skipped" >&2
  fi
fi
# Label Studio in a venv of its own (its Django pins differ from ours): the review queue's round
# trip test starts a real Label Studio on 127.0.0.1, imports labline's export, annotates through
# its API and imports the export back. Never committed (.venvs/ is ignored). sentry-sdk 3 refuses
# an option Label Studio 1.23 passes at start-up, hence the pin.
if [ ! -x .venvs/label-studio/bin/label-studio ]; then
  if ! { "$PY" -m venv .venvs/label-studio \
      && .venvs/label-studio/bin/python -m pip install -q label-studio label-studio-sdk 'sentry-sdk<3'; } \
      2> >(grep -v "^WARNING: Location 'file://" >&2); then
    echo "note: Label Studio not installed; its round trip test will be skipped" >&2
  fi
fi
# An empty, migrated Label Studio database the round trip test copies: a fresh one migrates for
# minutes at every start.
if [ -x .venvs/label-studio/bin/python ] && [ ! -f .venvs/label-studio/labline-template/done ]; then
  mkdir -p .venvs/label-studio/labline-template
  if LABEL_STUDIO_BASE_DATA_DIR="$PWD/.venvs/label-studio/labline-template" SENTRY_DSN= \
      .venvs/label-studio/bin/python -c "from label_studio.server import _setup_env, \
_apply_database_migrations; _setup_env(); _apply_database_migrations()" >/dev/null 2>&1; then
    touch .venvs/label-studio/labline-template/done
  else
    echo "note: the Label Studio database template could not be made; the test migrates" >&2
  fi
fi
