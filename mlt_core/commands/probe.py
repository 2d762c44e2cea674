"""Probe one premise/hypothesis pair with one or more checkpoints (one forward pass each).

Prints prediction, probabilities, attention entropy per layer and, for two or more models,
layer-by-layer similarity of models 1 and 2. --json gives the full object.
"""
from __future__ import annotations

import json


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
    from ..api import probe

    res = probe(args.model, args.premise, args.hypothesis, max_length=args.max_length,
                assume_xnli_order=args.assume_xnli_order)
    if args.json:
        print(json.dumps(res, ensure_ascii=False))
        return 0
    for m in res["models"]:
        print(f"== {m['name']}: {m['label']}  " + "  ".join(f"{k}={v:.3f}" for k, v in m["probs"].items()))
        for w in m["warnings"]:
            print(f"   ! {w}")
        print(f"   tokens ({len(m['tokens'])}): {' '.join(m['tokens'])}")
        print("   layer  mean entropy (nats)  normalised")
        for l, (raw, norm) in enumerate(zip(m["attention_entropy"], m["attention_entropy_normalized"])):
            print(f"   {l:>5}  {sum(raw) / len(raw):>19.3f}  {sum(norm) / len(norm):>10.3f}")
    if "layer_similarity" in res:
        a, b = res["models"][0]["name"], res["models"][1]["name"]
        print(f"== similarity {a} vs {b}\n   layer  cosine     cka")
        for r in res["layer_similarity"]:
            cka = "  n/a" if r["cka"] is None else f"{r['cka']:.3f}"
            cos = "  n/a" if r["cosine"] is None else f"{r['cosine']:.3f}"
            print(f"   {r['layer']:>5}  {cos:>6}  {cka:>6}")
    return 0
