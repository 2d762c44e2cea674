"""Probe latency (all views from one forward) vs a bare HF forward, same model, same run.

    python bench/bench_probe.py [--tokens 64] [--repeat 15]

Model: full-size xlm-roberta-base architecture, random weights. Baseline: plain
AutoModelForSequenceClassification (default sdpa attention) under inference_mode.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from common import full_size_xlmr, pair_of_length, timeit


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--dir", default=str(Path(tempfile.gettempdir()) / "mlt-bench-xlmr-base"))
    args = ap.parse_args()

    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from mlt_core.api import probe
    from mlt_core.model.checkpoint import load_checkpoint

    path = full_size_xlmr(Path(args.dir))
    tok = AutoTokenizer.from_pretrained(path)
    premise, hypothesis = pair_of_length(tok, args.tokens)
    n = len(tok(premise, hypothesis)["input_ids"])

    bare = AutoModelForSequenceClassification.from_pretrained(path).eval()
    enc = tok(premise, hypothesis, return_tensors="pt")

    def bare_forward():
        with torch.inference_mode():
            bare(**enc).logits.softmax(-1)

    ck = load_checkpoint(path)
    t_bare = timeit(bare_forward, args.repeat)
    t_probe = timeit(lambda: probe([ck], premise, hypothesis), args.repeat)
    t_bare2 = timeit(lambda: (bare_forward(), bare_forward()), args.repeat)
    t_probe2 = timeit(lambda: probe([ck, ck], premise, hypothesis), args.repeat)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, {n} tokens, xlm-roberta-base architecture\n")
    print("| what | median ms | ratio vs bare |")
    print("|---|---|---|")
    print(f"| bare HF forward (sdpa) | {t_bare * 1e3:.1f} | 1.00 |")
    print(f"| mlt probe, 1 model: logits+attentions+hidden+FFN, entropy, tokens | {t_probe * 1e3:.1f} | {t_probe / t_bare:.2f} |")
    print(f"| 2 bare forwards | {t_bare2 * 1e3:.1f} | 1.00 |")
    print(f"| mlt probe, 2 models + layer similarity (cosine, CKA) | {t_probe2 * 1e3:.1f} | {t_probe2 / t_bare2:.2f} |")


if __name__ == "__main__":
    main()
