#!/usr/bin/env bash
# Set up everything the test suite needs (Chromium for the browser tests, ./.venv with the pinned
# requirements) and run the whole suite. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
# chromium for the browser tests; libgomp1 (GNU OpenMP) lets the compiled training step use every core
if ! command -v chromium >/dev/null || [ -z "$(ls /usr/lib/*/libgomp.so.1 /usr/lib/libgomp.so.1 2>/dev/null)" ]; then
  # before the venv: installing chromium can upgrade system packages
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium libgomp1 >/dev/null
fi
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e . -r requirements-dev.txt
.venv/bin/ruff check .  # lint first: a failure names file and line before the 10-minute suite
exec .venv/bin/python -m pytest -q "$@"
