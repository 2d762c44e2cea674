#!/usr/bin/env bash
# One command: install, build the demo checkpoints if missing (CPU, no download), start the app.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
. .venv/bin/activate
python -m mlt_core demo
exec streamlit run app.py --server.headless true "$@"
