"""Word alignment per layer: cosine of translated lexicon words' states vs random word pairs, per language pair.

On the bundled parallel sample (written from a bilingual lexicon, so translations are known) or local
XNLI-format files; see mlt_core.eval.word_alignment. Hidden-state norms per layer come with
`evaluate --internals` (internals/norms.csv).
Example: python -m mlt_core align --model models/demo-en --model models/demo-hi --langs en,hi,fr
"""
from __future__ import annotations

import json

from mlt_core.commands._common import add_models_and_data


def add_arguments(p) -> None:
    add_models_and_data(p, "sample (bundled, default) or a local XNLI-format file/folder")
    p.add_argument("--per-word", type=int, default=3, help="premises per lexicon word (default 3)")
    p.add_argument("--json", action="store_true", help="print JSON records instead of a table")


def run(args) -> int:
    import pandas as pd

    from mlt_core.data.nli import load_nli
    from mlt_core.errors import MltError
    from mlt_core.eval.word_alignment import word_alignment
    from mlt_core.model.checkpoint import load_checkpoint

    pairs = load_nli(source=args.data, langs=args.langs, split=args.split)
    df = pd.concat([word_alignment(load_checkpoint(m), pairs, args.langs, args.per_word) for m in args.model],
                   ignore_index=True)
    if df.empty:
        raise MltError("no lexicon word was found in two languages of the same pair ids; use the bundled sample "
                       "(--data sample) and at least two of its languages (en hi fr es)")
    if args.json:
        print(json.dumps(df.to_dict(orient="records"), ensure_ascii=False))
        return 0
    print(f"{'model':<20}{'pair':<8}{'layer':>6}{'matched':>9}{'random':>9}{'gap':>8}{'words':>7}")
    for r in df.itertuples(index=False):
        print(f"{r.model[:19]:<20}{r.pair:<8}{r.layer:>6}{r.matched:>9.3f}{r.random:>9.3f}{r.gap:>8.3f}{r.words:>7}")
    return 0
