"""Attribute one premise/hypothesis pair to its tokens (attention, scaled attention, input x gradient, IG, DeepLift).

Scores are per token: the attribution summed over the embedding dimension, signed (positive =
evidence for the target label, by default the predicted one). --faithfulness adds NS/NC/Soft-NS/
Soft-NC per method with a random floor (Zhao & Aletras 2024), under --convention mlt (default: undefined
where 1 - S0 < 1e-4) or reference (multilingual-faith's code). --json gives one object.
Example: python -m mlt_core attribute --model models/demo-en --premise "..." --hypothesis "..." --method ig
"""
from __future__ import annotations

import json
import math


def add_arguments(p) -> None:
    p.add_argument("--model", required=True, help="checkpoint folder, name under models/, or Hub id")
    p.add_argument("--premise", required=True, help="premise text")
    p.add_argument("--hypothesis", required=True, help="hypothesis text")
    p.add_argument("--method", default="integrated_gradients",
                   help="attention | scaled_attention | scaled_attention_per_head | input_x_gradient (ixg) | "
                        "integrated_gradients (ig) | deeplift (dl) | all  (default: ig)")
    p.add_argument("--target", default=None, help="label to explain (entailment/neutral/contradiction); default: predicted")
    p.add_argument("--steps", type=int, default=50, help="integrated-gradients steps (default 50)")
    p.add_argument("--internal-batch-size", type=int, default=None, help="IG steps per forward (default: rows x tokens <= 1600)")
    p.add_argument("--baseline", choices=["zero", "pad"], default="zero",
                   help="IG/DeepLIFT baseline: non-special word embeddings zero (default), or the pad embedding "
                        "(the zero vector too in XLM-R: padding_idx)")
    p.add_argument("--max-length", type=int, default=None, help="truncate longer pairs to this many tokens")
    p.add_argument("--faithfulness", action="store_true", help="also score NS/NC/Soft-NS/Soft-NC per method")
    p.add_argument("--replacement", choices=["pad", "mask", "attention"], default="pad",
                   help="how erased tokens are removed for --faithfulness (default: pad token)")
    p.add_argument("--draws", type=int, default=10, help="Bernoulli draws for Soft-NS/NC (default 10)")
    add_convention_arguments(p)
    p.add_argument("--seed", type=int, default=0, help="seed of the random floor and the soft draws")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")


def add_convention_arguments(p) -> None:
    from mlt_core.attribution.faithfulness import CONVENTIONS, DEFAULT_CONVENTION

    p.add_argument("--convention", choices=list(CONVENTIONS), default=DEFAULT_CONVENTION,
                   help=f"NS/NC where 1 - S0 < 1e-4 (default {DEFAULT_CONVENTION}): "
                        + "; ".join(f"{k}: {v}" for k, v in CONVENTIONS.items()))
    p.add_argument("--rank-by", choices=["signed", "abs"], default="signed",
                   help="rank tokens by signed score or |score| for the rationales, hard and soft (default signed; "
                        "the reference convention ranks input_x_gradient by |score| in any case)")


def _clean(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def run(args) -> int:
    from mlt_core.attribution.attribute import METHODS, attribute_all, method_name, prepare
    from mlt_core.attribution.faithfulness import faithfulness
    from mlt_core.data.labels import LABELS
    from mlt_core.model.checkpoint import load_checkpoint

    methods = list(METHODS) if args.method.strip().lower() == "all" else [method_name(args.method)]
    settings = dict(steps=args.steps, baseline=args.baseline,
                    internal_batch_size=args.internal_batch_size)
    ckpt = load_checkpoint(args.model)
    if args.faithfulness:
        res = faithfulness(ckpt, args.premise, args.hypothesis, methods, args.target, max_length=args.max_length,
                           replacement=args.replacement, draws=args.draws, seed=args.seed,
                           convention=args.convention, rank_by=args.rank_by, **settings)
        p, long, errors = res["prepared"], res["scores"], res["errors"]
    else:
        p = prepare(ckpt, args.premise, args.hypothesis, args.target, max_length=args.max_length)
        long, errors = attribute_all(p, methods, **settings)
    if len(methods) == 1 and methods[0] in errors:
        from mlt_core.errors import MltError

        raise MltError(errors[methods[0]])
    out = {"model": ckpt.name, "premise": args.premise, "hypothesis": args.hypothesis,
           "predicted": LABELS[p.predicted], "target": LABELS[p.target], "probs": dict(zip(LABELS, map(float, p.probs))),
           "truncated": p.truncated, "warnings": p.warnings,
           "score": "sum over the embedding dimension; signed (positive = evidence for the target)",
           "tokens": p.tokens, "segments": p.segments,
           "methods": {m: g.sort_values("position")["score"].tolist() for m, g in long.groupby("method", sort=False)},
           "errors": errors}
    if args.faithfulness:
        out["convention"] = args.convention
        out["faithfulness"] = [{k: _clean(v) for k, v in r.items()} for r in res["summary"].to_dict(orient="records")]
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
        return 0
    print(f"== {ckpt.name}: predicted {out['predicted']}, explaining {out['target']}  "
          + "  ".join(f"{k}={v:.3f}" for k, v in out["probs"].items()))
    for w in p.warnings:
        print(f"   ! {w}")
    names = list(out["methods"])
    print("   " + f"{'token':<16}{'segment':<11}" + "".join(f"{m[:16]:>18}" for m in names))
    for i, (t, s) in enumerate(zip(p.tokens, p.segments)):
        print("   " + f"{t[:15]:<16}{s:<11}" + "".join(f"{out['methods'][m][i]:>18.4f}" for m in names))
    for m, why in errors.items():
        print(f"   {m}: n/a - {why}")
    if args.faithfulness:
        print(f"   convention: {args.convention}")
        print("   method                    NS      NC  Soft-NS  Soft-NC")
        for r in out["faithfulness"]:
            vals = [r.get(k) for k in ("NS", "NC", "soft_NS", "soft_NC")]
            print(f"   {r['method']:<22}" + "".join("     n/a" if v is None else f"{v:>8.3f}" for v in vals))
    return 0
