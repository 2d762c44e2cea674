"""Tokenizer fertility per language: subwords per word, per 100 characters, unknown rate, split-word share.

Compares any set of tokenizers (checkpoint folders, names under models/, Hub ids when online) on
the bundled sample or local XNLI files (see mlt_core.data.nli.load_nli).
Example: python -m mlt_core fertility --tokenizer models/demo-en xlm-roberta-base --data sample --langs en,hi
"""
from __future__ import annotations

import json

from mlt_core.data.langs import split_langs


def add_arguments(p) -> None:
    p.add_argument("--tokenizer", nargs="+", action="extend", required=True,
                   help="checkpoint/tokenizer folder, name under models/, or Hub id; several allowed")
    p.add_argument("--data", default="sample", help="'sample' (bundled), 'xnli' (Hub), or a local XNLI file/folder")
    p.add_argument("--langs", nargs="+", default=None, help="languages, comma-separated (spaces accepted too), e.g. "
                   "en,hi (default: all in the data)")
    p.add_argument("--split", default="test", help="data split (default test)")
    p.add_argument("--limit", type=int, default=None, help="at most this many pairs per language")
    p.add_argument("--words", choices=["rust", "spaces"], default="rust",
                   help="what a word is (default rust): rust = whitespace chunks with edge punctuation split off "
                        "(Rust et al. 2021); spaces = text.split(' '), the multilingual-faith reference's")
    p.add_argument("--json", action="store_true", help="print JSON records instead of a table")


def run(args) -> int:
    from mlt_core.eval.fertility import fertility_for

    df = fertility_for(args.tokenizer, data=args.data, langs=split_langs(args.langs), split=args.split, limit=args.limit,
                       words=args.words)
    if args.json:
        print(json.dumps(df.assign(words_definition=args.words).to_dict(orient="records"), ensure_ascii=False))
        return 0
    print(f"words: {args.words}")
    print(f"{'tokenizer':<24}{'lang':<6}{'words':>8}{'subwords':>10}{'fertility':>10}{'per100ch':>10}"
          f"{'unk%':>8}{'split%':>8}")
    for r in df.itertuples(index=False):
        print(f"{r.tokenizer[:23]:<24}{r.lang:<6}{r.words:>8}{r.subwords:>10}{r.fertility:>10.3f}"
              f"{r.subwords_per_100_chars:>10.2f}{100 * r.unk_rate:>8.2f}{100 * r.split_share:>8.1f}")
    return 0
