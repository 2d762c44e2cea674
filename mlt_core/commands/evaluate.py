"""Evaluate checkpoints on NLI data per language: predictions (Parquet) + metrics (JSON), cached.

Runs every --model on every language (streamed batches; cached per checkpoint, data shard and
settings, so asking again is instant and a killed run resumes). Writes into --out:
  predictions.parquet  id, lang, premise, hypothesis, gold, predicted, p_*, confidence, n_tokens, model
  metrics.json         accuracy (+95% bootstrap CI), bias, transfer efficiency, per-label accuracy,
                       confusion, ECE/MCE/Brier, reliability bins per (model, language)
  internals/*.csv      with --internals: attention entropy, CKA (+ noise floor)/cosine, alignment,
                       hidden-state norms, probes per layer, 2-D projection
  report.html          with --report: a self-contained HTML report (opens offline)
"""
from __future__ import annotations

import sys

from mlt_core.data.langs import split_langs
from mlt_core.io import atomic_write_text


def add_arguments(p) -> None:
    p.add_argument("--model", action="append", required=True,
                   help="checkpoint folder, name under models/, or Hub id; repeat to compare")
    p.add_argument("--data", default="sample", help="sample (bundled), xnli (Hub), or a JSONL/CSV/TSV file")
    p.add_argument("--langs", default=None, help="comma-separated languages, e.g. en,hi (default: all in the data)")
    p.add_argument("--split", default="test", help="dataset split (default test)")
    p.add_argument("--limit", type=int, default=None, help="at most N examples per language")
    p.add_argument("--batch-size", type=int, default=32, help="examples per forward pass (default 32)")
    p.add_argument("--max-length", type=int, default=None, help="truncate longer pairs to this many tokens")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--internals", action="store_true",
                   help="also keep attention/hidden-state statistics (in the evaluation's pass) and write per-layer internals")
    p.add_argument("--internals-limit", type=int, default=200, help="examples per language for --internals")
    p.add_argument("--report", action="store_true", help="also write report.html (self-contained)")
    p.add_argument("--no-cache", action="store_true", help="recompute everything and write nothing to the cache")
    p.add_argument("--assume-xnli-order", action="store_true",
                   help="treat generic labels LABEL_0..2 as entailment, neutral, contradiction")


def _bar():
    from tqdm import tqdm

    state = {"bar": None}

    def progress(done: int, total: int, desc: str) -> None:
        if state["bar"] is None:
            state["bar"] = tqdm(total=total, unit="ex", file=sys.stderr, dynamic_ncols=True)
        bar = state["bar"]
        bar.set_description(desc)
        bar.update(done - bar.n)

    def close():
        if state["bar"] is not None:
            state["bar"].close()
            state["bar"] = None

    return progress, close


def run(args) -> int:
    from pathlib import Path

    from mlt_core.data.nli import load_nli
    from mlt_core.errors import MltError
    from mlt_core.eval.evaluate import evaluate, write_outputs
    from mlt_core.model.checkpoint import load_checkpoint

    if args.batch_size < 1 or (args.limit is not None and args.limit < 1):
        raise MltError("--batch-size and --limit must be positive")
    langs = split_langs(args.langs)
    data = load_nli(source=args.data, langs=langs, split=args.split, limit=args.limit)
    loader = (lambda s: load_checkpoint(s, assume_xnli_order=True)) if args.assume_xnli_order else None
    progress, close = _bar()
    try:
        ev = evaluate(args.model, data, langs, batch_size=args.batch_size, max_length=args.max_length,
                      progress=progress, loader=loader, cache=not args.no_cache,
                      internals=args.internals_limit if args.internals else 0)  # one pass keeps both
    finally:
        close()
    settings = {k: getattr(args, k) for k in ("data", "split", "limit", "batch_size", "max_length")}
    paths = write_outputs(ev, args.out, settings)
    for name, msg in ev.refused.items():
        print(f"refused {name}: {msg}", file=sys.stderr)
    for w in ev.warnings:
        print(f"! {w}", file=sys.stderr)
    _print_summary(ev)
    out = Path(args.out)
    extra = {"Inside the models": _internals(ev, data, args, out)} if args.internals else None
    if args.report:
        from mlt_core.eval.report import evaluation_report

        atomic_write_text(out / "report.html", evaluation_report(ev, extra))
        print(f"wrote {out / 'report.html'}")
    print(f"wrote {paths['predictions']} and {paths['metrics']}"
          + ("" if ev.computed else " (all from cache)"))
    return 0


def _print_summary(ev) -> None:
    print(f"{'model':<24} {'lang':<5} {'n':>5}  {'accuracy':>8}  {'95% CI':>15}  {'ECE':>6}  {'Brier':>6}")
    for c in ev.metrics["cells"]:
        print(f"{c['model']:<24} {c['lang']:<5} {c['n']:>5}  {c['accuracy']:>8.3f}  "
              f"[{c['ci_low']:.3f}, {c['ci_high']:.3f}]  {c['ece']:>6.3f}  {c['brier']:>6.3f}")
    for m, i in ev.metrics["models"].items():
        bias = "n/a" if i["bias"] is None else f"{i['bias']:+.3f}"
        te = ", ".join(f"{l} {e:.2f}" for l, e in i["transfer"].items()) or "n/a"
        print(f"{m}: trained on {','.join(i['train_langs']) or '?'}; bias {bias}; transfer efficiency {te}")


def _internals(ev, data, args, out) -> list:
    """Capture internals (one pass per model and language, cached), write CSVs; returns the report's figures."""
    from mlt_core.eval import representations as R
    from mlt_core.eval.report import internals_figures, internals_tables
    from mlt_core.export import to_csv

    progress, close = _bar()
    try:
        stats = R.internals([i["source"] for i in ev.models.values()], data, ev.langs, limit=args.internals_limit,
                            max_length=args.max_length, progress=progress)
    finally:
        close()
    d = out / "internals"
    d.mkdir(parents=True, exist_ok=True)
    t = internals_tables(stats)
    for name, df in t.items():
        to_csv(df, d / f"{name}.csv")  # formula-leading cells escaped
    print(f"wrote {d}/ ({', '.join(f'{n}.csv' for n in t)})")
    return internals_figures(t)
