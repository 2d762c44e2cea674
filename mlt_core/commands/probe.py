"""Probe one premise/hypothesis pair with one or more checkpoints (one forward pass each).

Prints the prediction and probabilities, then every registered probe (mlt_core/probes:
REGISTRY; for two or more models, the pair probes on models 1 and 2). --json gives the full object.
"""
from __future__ import annotations

import json

import pandas as pd

from mlt_core.probes import REGISTRY


def add_arguments(p) -> None:
    p.add_argument("--model", action="append", required=True,
                   help="checkpoint folder, name under models/, or Hub id; repeat to compare")
    p.add_argument("--premise", required=True, help="premise text")
    p.add_argument("--hypothesis", required=True, help="hypothesis text")
    p.add_argument("--max-length", type=int, default=None, help="truncate longer pairs to this many tokens")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    p.add_argument("--assume-xnli-order", action="store_true",
                   help="treat generic labels LABEL_0..2 as entailment, neutral, contradiction")


def run(args) -> int:
    from mlt_core.api import probe

    res = probe(args.model, args.premise, args.hypothesis, max_length=args.max_length,
                assume_xnli_order=args.assume_xnli_order)
    if args.json:
        print(json.dumps(res, ensure_ascii=False))
        return 0
    for m in res["models"]:
        print(f"== {m['name']}: {m['label']}  " + "  ".join(f"{k}={v:.3f}" for k, v in m["probs"].items()))
        for w in m["warnings"]:
            print(f"   ! {w}")
        for name, rows in m["probes"].items():
            _table(name, rows)
    names = [m["name"] for m in res["models"][:2]]
    for name, rows in res["pair_probes"].items():
        _table(name, rows, f" ({names[0]} vs {names[1]})")
    for entry in res["registry"]:
        if entry["skipped"] and not (entry["kind"] == "pair" and len(res["models"]) < 2):  # say why a probe did not run
            print(f"-- {entry['name']}: skipped: {entry['skipped']}")
    return 0


def _table(name: str, rows: list, suffix: str = "") -> None:
    """One registered probe's result: its help line, then its table (the entry's summary where it has one)."""
    p = REGISTRY[name]
    df = pd.DataFrame(rows)
    if p.summary is not None:
        df = p.summary(df)
    print(f"-- {name}{suffix}: {p.help}")
    print("   " + df.to_string(index=False, float_format=lambda v: f"{v:.3f}").replace("\n", "\n   "))
