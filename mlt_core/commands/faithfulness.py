"""Faithfulness at dataset scale: mean NS/NC/Soft-NS/Soft-NC per model, language and method, with undefined shares.

Every mean comes with `undefined`: the share of the group's examples where 1 - S0 < 1e-4 (the empty
input is at least as sure of the label as the full one). Under --convention mlt (default) those are left
out of the means (n counts the rest); under --convention reference they are scored as
casszhao/multilingual-faith does (S0 - 1e-4). --json gives one object.
Example: python -m mlt_core faithfulness --model models/demo-en --langs en,hi --limit 20 --method ixg attention
"""
from __future__ import annotations

import json
import math

from mlt_core.commands._common import add_models_and_data
from mlt_core.commands.attribute import add_convention_arguments


def add_arguments(p) -> None:
    add_models_and_data(p)
    p.add_argument("--limit", type=int, default=20, help="examples per language (default 20)")
    p.add_argument("--method", nargs="+", default=["attention", "scaled_attention", "input_x_gradient", "deeplift"],
                   help="attribution methods (default: attention scaled_attention input_x_gradient deeplift)")
    p.add_argument("--steps", type=int, default=20, help="integrated-gradients steps (default 20)")
    p.add_argument("--replacement", choices=["pad", "mask", "attention"], default="pad",
                   help="how erased tokens are removed (default: pad token)")
    p.add_argument("--draws", type=int, default=10, help="Bernoulli draws for Soft-NS/NC (default 10)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random floor and the soft draws")
    add_convention_arguments(p)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")


def _clean(v):
    return None if isinstance(v, float) and not math.isfinite(v) else v


def run(args) -> int:
    import pandas as pd

    from mlt_core.attribution.attribute import method_name
    from mlt_core.attribution.faithfulness import faithfulness_dataset, summarise
    from mlt_core.data.nli import load_nli
    from mlt_core.model.checkpoint import load_checkpoint

    methods = [method_name(m) for m in args.method]
    pairs = load_nli(source=args.data, langs=args.langs, split=args.split, limit=args.limit)
    frames = []
    for src in args.model:
        ckpt = load_checkpoint(src)
        per = faithfulness_dataset(ckpt, pairs, methods, steps=args.steps, replacement=args.replacement,
                                   draws=args.draws, seed=args.seed, convention=args.convention, rank_by=args.rank_by)
        frames.append(per.assign(model=ckpt.name))
    table = summarise(pd.concat(frames, ignore_index=True), by=("model", "lang", "method"))
    if args.json:
        print(json.dumps({"convention": args.convention, "rank_by": args.rank_by,
                          "means": [{k: _clean(v) for k, v in r.items()} for r in table.to_dict(orient="records")]},
                         ensure_ascii=False))
        return 0
    print(f"convention: {args.convention}; undefined = share of examples with 1 - S0 < 1e-4")
    print(f"{'model':<20}{'lang':<6}{'method':<26}{'n':>4}{'undef':>7}{'NS':>7}{'NC':>7}{'sNS':>7}{'sNC':>7}")
    fmt = lambda v: "    n/a" if v != v else f"{v:>7.3f}"  # noqa: E731
    for r in table.itertuples(index=False):
        print(f"{r.model[:19]:<20}{r.lang:<6}{r.method[:25]:<26}{r.n:>4}{100 * r.undefined:>6.0f}%"
              + "".join(fmt(v) for v in (r.NS, r.NC, r.soft_NS, r.soft_NC)))
    return 0
