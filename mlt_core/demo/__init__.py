"""The demo checkpoints (demo-base, demo-en, demo-hi, demo-en-hi): the realistic set (e5.py, the default) or the toy set (tiny.py).

`build_demo()` builds the realistic set from multilingual-e5-small (see e5.py); `build_demo(tiny=True)` the toy
set from bundled text alone (`quick=True`: the toy at test size). `is_toy` and `e5_source` read which set a
checkpoint belongs to, and where the realistic base came from, from mlt.json.
"""
from __future__ import annotations

from pathlib import Path

from mlt_core.demo.e5 import build as _build_e5
from mlt_core.demo.tiny import build as _build_tiny


def is_toy(meta: dict | None) -> bool:
    """mlt.json of a toy demo checkpoint (not the realistic e5 set)."""
    return (meta or {}).get("demo_size") in ("full", "quick")


def e5_source(rows: list[dict]) -> str:
    """How the realistic demo's base was obtained, from the checkpoints' mlt.json rows (list_checkpoints)."""
    base = next((r["meta"] for r in rows if r["name"] == "demo-base"), {})
    return base.get("weights_note", "weights as in its mlt.json")


def build_demo(out_dir: str | Path | None = None, *, quick: bool = False, force: bool = False,
               seed: int = 0, log=print, tiny: bool = False, **real) -> dict:
    """Build demo-base and the fine-tuned demo checkpoints into `out_dir` (default models/); {name: path}.

    The realistic set unless `tiny` (or `quick`, the toy at test size); `real` goes to e5.build.
    """
    if not (tiny or quick):
        return _build_e5(out_dir, force=force, seed=seed, log=log, **real)
    return _build_tiny(out_dir, quick=quick, force=force, seed=seed, log=log)
