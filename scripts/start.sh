#!/usr/bin/env bash
# One command: install, build the demo checkpoints if missing (CPU, no download), start the app.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
. .venv/bin/activate
python -m mlt_core demo
# LAPE neurons of the demo checkpoints (Language Neurons page, Playground panel); instant when present
python -c "from mlt_core.neuron_cache import ensure_demo_neurons; ensure_demo_neurons()"
exec streamlit run app.py --server.headless true "$@"
