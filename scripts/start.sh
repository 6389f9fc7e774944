#!/usr/bin/env bash
# Set up CF Studio in ./.venv (first run only) and start the dashboard on the built-in MovieLens data.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# the package (editable: the dashboard runs from this folder) with the tested version of every dependency;
# pip runs only when the pins or the package metadata changed since the last start, or the folder moved
STAMP=.venv/.cf-studio-installed
WANT="$(cat requirements.txt constraints.txt pyproject.toml | cksum) $PWD"
if [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e .
  echo "$WANT" > "$STAMP"
fi
exec .venv/bin/cfstudio app "$@"  # address and port: $CF_STUDIO_ADDRESS, $CF_STUDIO_PORT (127.0.0.1:8501)
