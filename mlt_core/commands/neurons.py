"""Language-specific neurons (LAPE): identify them, show a neuron file, switch them off, compare checkpoints.

  identify  python -m mlt_core neurons identify --model PATH --corpus en=FILE --corpus hi=FILE [--out FILE]
  show      python -m mlt_core neurons show PATH [--model PATH]        (a neuron file or a checkpoint folder)
  ablate    python -m mlt_core neurons ablate --model PATH [--data sample] [--langs en,hi]
  compare   python -m mlt_core neurons compare --model BASE --model TUNED ... [--corpus ...]
Corpus sources: FILE (one sequence per line), templates[:N] (bundled text), nli:sample or
nli:PATH (premises and hypotheses), hf:NAME[@CONFIG]:SPLIT[:COLUMN] (a datasets split).
"""
from __future__ import annotations

import json

from mlt_core.data.langs import split_langs
from mlt_core.errors import MltError


def _settings(p) -> None:
    p.add_argument("--top-rate", type=float, default=0.01, help="share of all neurons kept (lowest LAPE)")
    p.add_argument("--filter-rate", type=float, default=0.95,
                   help="quantile of all activation probabilities a neuron must exceed in some language")
    p.add_argument("--activation-bar-ratio", type=float, default=0.95,
                   help="quantile a kept neuron's probability must exceed to belong to a language")
    p.add_argument("--batch-size", type=int, default=32, help="sequences per forward pass")


def _corpora(p, required: bool) -> None:
    p.add_argument("--corpus", action="append", required=required, metavar="LANG=SOURCE",
                   help="one per language: LANG=FILE, LANG=templates[:N], LANG=nli:sample|PATH, LANG=hf:NAME:SPLIT")
    p.add_argument("--max-lines", type=int, default=None, help="use at most this many sequences per corpus")


def add_arguments(p) -> None:
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    a = sub.add_parser("identify", help="find language-specific neurons with LAPE and save neurons.json")
    a.add_argument("--model", required=True, help="checkpoint folder, name under models/, or Hub id")
    _corpora(a, required=True)
    _settings(a)
    a.add_argument("--out", default=None, help="neuron file to write (default: <checkpoint>/neurons.json)")
    a.add_argument("--overwrite", action="store_true", help="replace an existing neuron file (e.g. a demo's)")
    a.add_argument("--json", action="store_true", help="print the result as JSON instead of a summary")
    s = sub.add_parser("show", help="summarise a neuron file: neurons per language per layer, overlaps")
    s.add_argument("path", help="neuron file, or a checkpoint folder holding neurons.json")
    s.add_argument("--model", default=None, help="check the file fits this checkpoint")
    s.add_argument("--json", action="store_true", help="print the file's object as JSON")
    b = sub.add_parser("ablate", help="accuracy per language with each language's neurons switched off")
    b.add_argument("--model", required=True, help="checkpoint to evaluate")
    b.add_argument("--neurons", default=None, help="neuron file (default: the checkpoint's own, else its base's)")
    b.add_argument("--data", default="sample", help="NLI data: sample, xnli, or a local file")
    b.add_argument("--split", default="test", help="split of the NLI data")
    b.add_argument("--langs", default=None, help="evaluation languages, comma-separated (default: all in the data)")
    b.add_argument("--limit", type=int, default=None, help="examples per language at most")
    b.add_argument("--batch-size", type=int, default=32, help="pairs per forward pass")
    b.add_argument("--json", action="store_true", help="print the matrix as JSON records")
    c = sub.add_parser("compare", help="do tuned models still use the base model's language neurons?")
    c.add_argument("--model", action="append", required=True, help="the base first, then the tuned checkpoints")
    _corpora(c, required=False)
    _settings(c)
    c.add_argument("--json", action="store_true", help="print both tables as JSON records")


def _load_corpora(specs: list[str] | None, max_lines: int | None) -> tuple[dict, dict]:
    from mlt_core.neurons.cached import default_corpora
    from mlt_core.neurons.corpus import load_corpus, parse_spec

    if not specs:
        corpora, sources = default_corpora()
        return ({l: t[:max_lines] for l, t in corpora.items()} if max_lines else corpora), sources
    corpora, sources = {}, {}
    for spec in specs:
        lang, source = parse_spec(spec)
        if lang in corpora:
            raise MltError(f"two corpora for {lang}; give one --corpus per language")
        corpora[lang], sources[lang] = load_corpus(lang, source, max_lines), source
    return corpora, sources


def _settings_of(args) -> dict:
    return {"top_rate": args.top_rate, "filter_rate": args.filter_rate, "activation_bar_ratio": args.activation_bar_ratio}


def _progress(label: str):
    import sys

    def step(done: int, total: int) -> None:
        print(f"\r{label}: {done}/{total}", end="" if done < total else "\n", file=sys.stderr, flush=True)
    return step


def run(args) -> int:
    return {"identify": _identify, "show": _show, "ablate": _ablate, "compare": _compare}[args.action](args)


def _identify(args) -> int:
    from pathlib import Path

    from mlt_core.model.checkpoint import load_checkpoint
    from mlt_core.neurons.cached import identify_checkpoint
    from mlt_core.neurons.lape import summary

    if args.out and Path(args.out).suffix != ".json" and not Path(args.out).is_dir():
        raise MltError(f"--out {args.out} should be a .json file or a folder")
    corpora, sources = _load_corpora(args.corpus, args.max_lines)
    from mlt_core.neurons.corpus import check_corpora

    check_corpora(corpora)  # refuse before loading the model
    ckpt = load_checkpoint(args.model)
    target = Path(args.out) if args.out else Path(ckpt.source) / "neurons.json"
    target = target / "neurons.json" if target.is_dir() else target
    if target.is_file() and not args.overwrite:  # e.g. the demo's 4-language neuron file
        raise MltError(f"{target} already exists; pass --out NEW.json, or --overwrite to replace it")
    res = identify_checkpoint(ckpt, corpora, sources, _settings_of(args), out=args.out,
                              batch_size=args.batch_size, progress=_progress("counting"))
    print(json.dumps(res, ensure_ascii=False) if args.json else summary(res) + f"\nsaved {res['path']}")
    return 0


def _show(args) -> int:
    from mlt_core.neurons.lape import load_neurons, summary

    model = None
    if args.model:
        from mlt_core.model.checkpoint import load_checkpoint

        model = load_checkpoint(args.model)
    obj = load_neurons(args.path, model)
    print(json.dumps(obj, ensure_ascii=False) if args.json else summary(obj))
    return 0


def _ablate(args) -> int:
    from mlt_core.data.nli import load_nli
    from mlt_core.model.checkpoint import load_checkpoint
    from mlt_core.neurons.cached import ablation_cached, neuron_file_for
    from mlt_core.neurons.lape import load_neurons

    ckpt = load_checkpoint(args.model)
    path, where = (args.neurons, args.neurons) if args.neurons else neuron_file_for(ckpt.source)
    if path is None:
        raise MltError(where)
    obj = load_neurons(path, ckpt)
    langs = split_langs(args.langs)
    data = load_nli(args.data, langs=langs, split=args.split, limit=args.limit)
    df = ablation_cached(ckpt, data, obj["neurons"], args.batch_size, _progress("ablating"))
    if args.json:
        print(df.to_json(orient="records"))
        return 0
    print(f"{ckpt.name}: accuracy with each language's neurons switched off ({where})")
    cols = list(dict.fromkeys(df.eval_lang))
    acc = df.set_index(["ablated", "eval_lang"])["accuracy"]
    print("off / eval".ljust(12) + "".join(f"{c:>8}" for c in cols))
    for row in dict.fromkeys(df.ablated):
        print(f"{row:<12}" + "".join(f"{acc[(row, c)]:>8.3f}" for c in cols))
    return 0


def _compare(args) -> int:
    from mlt_core.model.checkpoint import load_checkpoint
    from mlt_core.neurons.cached import compare_checkpoints, unique_names

    if len(args.model) < 2:
        raise MltError("compare needs the base and at least one tuned checkpoint (--model twice or more)")
    corpora, _ = _load_corpora(args.corpus, args.max_lines)
    ckpts = [load_checkpoint(m) for m in args.model]
    probs, overlap = compare_checkpoints(ckpts, corpora, 0, _settings_of(args), args.batch_size, _progress("counting"))
    if args.json:
        print(json.dumps({"probs": probs.to_dict("records"), "overlap": overlap.to_dict("records")}))
        return 0
    names = unique_names([c.name for c in ckpts])
    same = probs[probs.set_lang == probs.text_lang].pivot(index="checkpoint", columns="set_lang", values="prob")
    print(f"activation probability of {ckpts[0].name}'s L neurons on L text")
    print(same.loc[names].to_string(float_format=lambda v: f"{v:.3f}"))
    print(f"Jaccard overlap of each checkpoint's own neurons with {ckpts[0].name}'s")
    jac = overlap.pivot(index="checkpoint", columns="lang", values="jaccard")
    print(jac.loc[names].to_string(float_format=lambda v: f"{v:.3f}"))
    return 0
