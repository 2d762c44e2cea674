"""Causal tools: swap layers, patch activations, diff weights, interpolate, decision lens.

  swap         python -m mlt_core causal swap --model A --model B [--data sample] [--langs en,hi] [--limit N]
  patch        python -m mlt_core causal patch --model M --premise .. --hypothesis .. --source-premise .. --source-hypothesis ..
               python -m mlt_core causal patch --model M [--source-model B] --source-lang en --target-lang hi --limit N
  weights      python -m mlt_core causal weights --model TUNED [--model TUNED2] [--base BASE]
  interpolate  python -m mlt_core causal interpolate --model A --model B [--steps 11] [--data sample] [--langs en,hi]
  lens         python -m mlt_core causal lens --model M [--model M2] --premise .. --hypothesis ..
Every table prints as text; --out FILE.csv writes it, --json prints JSON records, --report FILE.html
writes its chart (offline HTML). Results are cached.
"""
from __future__ import annotations

import sys

from mlt_core.data.langs import split_langs
from mlt_core.errors import MltError


def _data(p, limit: int | None = 100) -> None:
    p.add_argument("--data", default="sample", help="sample (bundled), xnli (Hub), or a JSONL/CSV/TSV file")
    p.add_argument("--split", default="test", help="dataset split (default test)")
    p.add_argument("--langs", default=None, help="comma-separated languages (default: all in the data)")
    p.add_argument("--limit", type=int, default=limit, help=f"examples per language at most (default {limit})")
    p.add_argument("--batch-size", type=int, default=16, help="pairs per forward pass")


def _out(p) -> None:
    p.add_argument("--out", default=None, help="write the table as CSV to this file")
    p.add_argument("--json", action="store_true", help="print JSON records instead of a table")
    p.add_argument("--no-cache", action="store_true", help="recompute and write nothing to the cache")
    p.add_argument("--report", default=None, help="also write the chart and its table as a self-contained HTML file")


def _pair(p, required: bool) -> None:
    p.add_argument("--premise", required=required, help="premise text")
    p.add_argument("--hypothesis", required=required, help="hypothesis text")


def add_arguments(p) -> None:
    sub = p.add_subparsers(dest="action", required=True, metavar="ANALYSIS")
    s = sub.add_parser("swap", help="accuracy per language of A's blocks < l + B's blocks >= l, for every cut l")
    s.add_argument("--model", action="append", required=True, help="model A, then model B (same base)")
    _pair(s, required=False)
    _data(s)
    _out(s)
    q = sub.add_parser("patch", help="patch the pooled token's state at each layer from a source pair or model")
    q.add_argument("--model", required=True, help="the target model")
    q.add_argument("--source-model", default=None, help="take the source's states from this model (same base)")
    _pair(q, required=False)
    q.add_argument("--source-premise", default=None, help="source pair's premise (default: the target's)")
    q.add_argument("--source-hypothesis", default=None, help="source pair's hypothesis (default: the target's)")
    q.add_argument("--source-lang", default=None, help="dataset scale: the source language of parallel pairs")
    q.add_argument("--target-lang", default=None, help="dataset scale: the target language of parallel pairs")
    _data(q)
    _out(q)
    w = sub.add_parser("weights", help="relative weight change per layer x module against the base (no data)")
    w.add_argument("--model", action="append", required=True, help="tuned checkpoint; repeat to compare")
    w.add_argument("--base", default=None, help="the base (default: mlt.json's 'base')")
    w.add_argument("--neurons", action="store_true", help="print the per-neuron FFN change table instead")
    _out(w)
    i = sub.add_parser("interpolate", help="accuracy per language of (1-a) A + a B, and base + (A-base) + (B-base)")
    i.add_argument("--model", action="append", required=True, help="model A, then model B (same base)")
    i.add_argument("--steps", type=int, default=11, help="values of a from 0 to 1 (default 11)")
    i.add_argument("--base", default=None, help="base for the task-arithmetic merge (default: mlt.json's 'base')")
    i.add_argument("--no-merge", action="store_true", help="skip the task-arithmetic merge")
    _data(i)
    _out(i)
    l = sub.add_parser("lens", help="p(label) at every layer for a pair, from linear probes per layer")
    l.add_argument("--model", action="append", required=True, help="checkpoint; repeat to compare")
    _pair(l, required=True)
    _data(l, limit=200)
    _out(l)


def _two(models: list) -> tuple[str, str]:
    if len(models) != 2:
        raise MltError("give exactly two models: --model A --model B")
    return models[0], models[1]


def _load_data(args):
    from mlt_core.data.nli import load_nli

    if args.limit is not None and args.limit < 1:
        raise MltError("--limit must be positive")
    langs = split_langs(args.langs)
    return load_nli(source=args.data, langs=langs, split=args.split, limit=args.limit), langs


def run(args) -> int:
    from mlt_core.commands.evaluate import _bar

    progress, close = _bar()
    try:
        df = _run(args, progress)
    finally:
        close()
    if args.out:
        from mlt_core.export import to_csv

        to_csv(df, args.out)
        print(f"wrote {args.out}", file=sys.stderr)
    if args.report:
        _report(args, df)
    if args.json:
        print(df.to_json(orient="records", force_ascii=False))
    else:
        import pandas as pd

        with pd.option_context("display.max_rows", 500, "display.width", 200, "display.float_format", "{:.4f}".format):
            print(df.to_string(index=False))
    return 0


def _report(args, df) -> None:
    from pathlib import Path

    from mlt_core.charts import causal as C
    from mlt_core.eval.report import Figure, render_html

    if args.action == "swap":
        fn = C.swap_pair_chart if "p_neutral" in df.columns else C.swap_chart
    elif args.action == "patch":
        fn = C.patch_chart if "p_neutral" in df.columns else C.patch_dataset_chart
    else:
        fn = {"weights": C.weights_heatmap, "interpolate": C.interpolation_chart, "lens": C.lens_chart}[args.action]
    if args.action == "weights" and args.neurons:
        fig = Figure("neurons", "FFN neurons changed", "Per FFN neuron: the change of its rows/columns", None, df)
    else:
        fig = Figure(args.action, f"causal {args.action}", fn.__doc__, fn(df), df)
    Path(args.report).write_text(render_html(f"mlt causal {args.action}", {args.action: [fig]}), encoding="utf-8")
    print(f"wrote {args.report}", file=sys.stderr)


def _run(args, progress):
    cache = not args.no_cache
    if args.action == "swap":
        from mlt_core.causal.swap import swap_curve, swap_pair

        a, b = _two(args.model)
        if args.premise or args.hypothesis:
            return swap_pair(a, b, args.premise or "", args.hypothesis or "")
        data, langs = _load_data(args)
        return swap_curve(a, b, data, langs, limit=args.limit, batch_size=args.batch_size, progress=progress,
                          cache=cache)
    if args.action == "patch":
        from mlt_core.causal.patch import patch_dataset, patch_pair

        if args.source_lang or args.target_lang:
            if not (args.source_lang and args.target_lang):
                raise MltError("dataset-scale patching needs both --source-lang and --target-lang")
            data, _ = _load_data(args)
            return patch_dataset(args.model, data, args.source_lang, args.target_lang, source_model=args.source_model,
                                 limit=args.limit, batch_size=args.batch_size, progress=progress, cache=cache)
        if not (args.premise and args.hypothesis):
            raise MltError("give --premise and --hypothesis (and a source pair or --source-model), "
                           "or --source-lang/--target-lang for the dataset-scale mean")
        if not (args.source_premise or args.source_hypothesis or args.source_model):
            raise MltError("the source is the target itself: give --source-premise/--source-hypothesis "
                           "(e.g. its translation) or --source-model")
        return patch_pair(args.model, args.premise, args.hypothesis, args.source_premise, args.source_hypothesis,
                          source_model=args.source_model)
    if args.action == "weights":
        import pandas as pd

        from mlt_core.causal.weights import weight_changes

        frames = [weight_changes(m, args.base, cache=cache)[1 if args.neurons else 0] for m in args.model]
        return pd.concat(frames, ignore_index=True)
    if args.action == "interpolate":
        from mlt_core.causal.interpolate import interpolation_curve

        a, b = _two(args.model)
        data, langs = _load_data(args)
        return interpolation_curve(a, b, data, langs, steps=args.steps, merge=not args.no_merge, base=args.base,
                                   limit=args.limit, batch_size=args.batch_size, progress=progress, cache=cache)
    if args.action == "lens":
        import pandas as pd

        from mlt_core.causal.lens import lens_pair, probes_for
        from mlt_core.model.checkpoint import load_checkpoint

        data, langs = _load_data(args)
        frames = []
        for m in args.model:
            ckpt = load_checkpoint(m)
            probes = probes_for(ckpt, data, langs, limit=args.limit, progress=progress)
            frames.append(lens_pair(ckpt, args.premise, args.hypothesis, probes))
        return pd.concat(frames, ignore_index=True)
    raise MltError(f"unknown analysis {args.action}")
