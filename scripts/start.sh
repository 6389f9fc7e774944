#!/usr/bin/env bash
# Set up CF Studio in ./.venv (first run only) and start the dashboard on the built-in MovieLens data.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
exec .venv/bin/python -m streamlit run app.py --server.address "${CF_STUDIO_ADDRESS:-127.0.0.1}" \
  --server.port "${CF_STUDIO_PORT:-8501}" "$@"
