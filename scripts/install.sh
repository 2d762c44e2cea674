#!/usr/bin/env bash
# Install everything mlt needs into .venv (idempotent; fast when nothing changed).
#   bash scripts/install.sh          runtime
#   bash scripts/install.sh --dev    runtime + tests (pytest, Playwright client, Chromium, Devanagari font)
set -euo pipefail
cd "$(dirname "$0")/.."
DEV=0; [[ "${1:-}" == "--dev" ]] && DEV=1
PY=${PYTHON:-python3}
[[ -x .venv/bin/python ]] || "$PY" -m venv .venv
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1

stamp=".venv/.install-stamp-$(cat requirements.txt requirements-dev.txt scripts/install.sh | sha1sum | cut -c1-12)-$DEV"
if [[ ! -f "$stamp" ]]; then
  if ! python -c "import torch" 2>/dev/null; then
    if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
      echo "[install] GPU found: torch from requirements.txt (CUDA build)"
    else
      echo "[install] no GPU: CPU torch 2.13.0 first (otherwise pip pulls a multi-GB CUDA build)"
      pip install -q "torch==2.13.0"
    fi
  fi
  pip install -q -r requirements.txt
  [[ $DEV == 1 ]] && pip install -q -r requirements-dev.txt
  touch "$stamp"
fi

if [[ $DEV == 1 ]]; then
  need=()
  [[ -x /usr/bin/chromium ]] || need+=(chromium)
  fc-list 2>/dev/null | grep -qi lohit || need+=(fonts-lohit-deva)
  if (( ${#need[@]} )); then
    if [[ $(id -u) == 0 ]]; then
      echo "[install] apt-get install ${need[*]} (browser tests)"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    else
      echo "[install] browser tests need: sudo apt-get install ${need[*]}" >&2
    fi
  fi
fi
