#!/usr/bin/env bash
# Refresh README's screenshots (docs/screenshots/) from the browser tests on the realistic demo.
# The only way docs/screenshots/ is written: a plain test run keeps its screenshots in .e2e-artifacts/.
# Extra arguments go to pytest, e.g. `bash scripts/screenshots.sh -k playground`.
set -euo pipefail
cd "$(dirname "$0")/.."
MLT_SCREENSHOTS=docs/screenshots exec bash scripts/test.sh tests/e2e "$@"
